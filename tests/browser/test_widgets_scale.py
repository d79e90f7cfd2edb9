"""LiveRaster with 10^6 spikes in a real JupyterLab: the kernel keeps them all, the page gets one image of
counts per pixel (equal to a reference binning of the spikes), and a zoom in the page is re-binned."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from _jupyter_lab import JupyterLab, open_notebook, write_notebook
from _live_probe import page_image, reference_rgb

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

MAKE = """import numpy as np
rng = np.random.default_rng(0)
blocks = []
for k in range(100):   # 100 blocks of 10^4 spikes: 10^6 in all, two populations
    t = np.sort(rng.uniform(10.0 * k, 10.0 * (k + 1), 10_000))
    blocks.append(("exc" if k % 2 else "inh", rng.integers(0, 4000, 10_000), t))
"""
CELLS = [
    MAKE + """from modelkit.widgets import LiveRaster
raster = LiveRaster(sizes={"inh": 4000, "exc": 4000})
for b in blocks:
    raster.push(*b)
raster""",
    """import time
deadline = time.monotonic() + 60
while raster.n_received < 1_000_000 and time.monotonic() < deadline:
    time.sleep(0.1)
print("received", raster.n_received, "renderer", raster.renderer)""",
    """asked = globals().get("asked", 0) + 1
print("view", asked, raster.view["t_range"], raster.view["row_range"], raster.view["shape"])""",
]


def _count(page, attr: str) -> int:
    return int(page.locator(".mk-live-raster .mk-count").get_attribute(attr) or 0)


def _x_ticks(page) -> list[str]:
    return page.locator(".mk-live-raster .bqplot.figure g.axis").first.locator("g.tick text").all_inner_texts()


def _view(page, asked: int) -> dict:
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(2)
    expect(cell).to_contain_text(f"view {asked} (", timeout=30_000)
    text = cell.locator(".jp-OutputArea-output").inner_text()
    t, r, s = text.split(f"view {asked} ")[1].split(") (")
    parse = lambda x: tuple(float(v) for v in x.strip("() \n").split(","))  # noqa: E731
    return {"t_range": parse(t), "row_range": parse(r), "shape": tuple(int(v) for v in parse(s))}


def _view_at_width(page, plot_width: float) -> dict:
    """The kernel's view once it is binned at the page's width.

    The page reports its width over the widget's comm, and the kernel reads that message only between cells,
    then redraws on its feed thread: a cell run right after may still print the view at the default width.
    So the cell is run again until the view has caught up (30 s at most).
    """
    page.keyboard.press("Shift+Enter")
    asked, view = 1, _view(page, 1)
    deadline = time.monotonic() + 30
    while abs(view["shape"][1] - plot_width) > 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        asked += 1
        page.locator(".jp-NotebookPanel .jp-Cell").nth(2).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        view = _view(page, asked)
    return view


def test_a_million_spikes_are_one_image_of_pixels(page, jupyter_lab: JupyterLab, artifacts: Path) -> None:
    write_notebook(jupyter_lab.root / "scale" / "million.ipynb", CELLS)
    open_notebook(page, jupyter_lab, "scale/million.ipynb")
    for _ in CELLS[:2]:
        page.keyboard.press("Shift+Enter")
    expect(page.locator(".jp-NotebookPanel .jp-Cell").nth(1)).to_contain_text("received 1000000 renderer image",
                                                                              timeout=120_000)
    raster = page.locator(".mk-live-raster")
    expect(raster.locator(".mk-count")).to_have_attribute("data-received", "1000000", timeout=60_000)
    expect(raster.locator(".mk-count")).to_have_attribute("data-renderer", "image", timeout=60_000)
    assert _count(page, "data-shown") == 1_000_000  # every spike is in the image, none thinned away
    figure = raster.locator(".bqplot.figure")
    expect(figure.locator("image")).to_have_count(1, timeout=60_000)
    expect(figure.locator("path.dot")).to_have_count(0)
    legend = raster.locator(".mk-live-raster-legend")
    expect(legend).to_contain_text("inh")
    expect(legend).to_contain_text("exc")
    raster.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "widgets_million.png"), clip=raster.bounding_box())

    # the image the page shows equals a reference binning of the same spikes on the raster's grid
    plot_width = figure.bounding_box()["width"] - 60 - 16  # the figure's margins
    view = _view_at_width(page, plot_width)
    assert abs(view["shape"][1] - plot_width) <= 2  # binned to the plot's pixels on this page
    ns: dict = {}
    exec(MAKE, ns)
    spikes = {p: (np.concatenate([i for q, i, _ in ns["blocks"] if q == p]),
                  np.concatenate([t for q, _, t in ns["blocks"] if q == p])) for p in ("inh", "exc")}
    want = reference_rgb(["inh", "exc"], spikes, {"inh": 0, "exc": 4000}, view)
    deadline = time.monotonic() + 20
    while (got := page_image(page)).shape != want.shape and time.monotonic() < deadline:
        time.sleep(0.2)  # the redraw at the page's width is on its way
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)

    # zoom with the mouse wheel over the plot: the x axis answers, and the view is re-binned in the kernel
    before = _x_ticks(page)
    box = figure.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    deadline = time.monotonic() + 30
    while _x_ticks(page) == before and time.monotonic() < deadline:
        page.mouse.wheel(0, -400)
        time.sleep(0.3)
    assert _x_ticks(page) != before, "the figure did not answer a zoom"
    deadline = time.monotonic() + 30
    while _count(page, "data-shown") == 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 0 < _count(page, "data-shown") < 1_000_000, "the zoomed view was not re-binned"
    expect(raster.locator(".mk-live-raster-follow")).to_be_enabled()
    page.screenshot(path=str(artifacts / "widgets_million_zoomed.png"), clip=raster.bounding_box())
    raster.locator(".mk-live-raster-follow").click()
    expect(raster.locator(".mk-count")).to_have_attribute("data-shown", "1000000", timeout=30_000)
