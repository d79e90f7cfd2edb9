"""LiveRaster with 10^6 spikes in a real JupyterLab: the kernel keeps them all, the browser draws at most
``max_points`` with WebGL, and the figure still answers a zoom (PanZoom) and a redraw of one interval."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from _jupyter_lab import JupyterLab, wait_kernel_idle

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

CELLS = [
    """import numpy as np
from modelkit.widgets import LiveRaster

rng = np.random.default_rng(0)
raster = LiveRaster(window=0.0, max_points=100_000, max_rate=10)   # window 0: the whole run
for k in range(100):   # 100 blocks of 10^4 spikes: 10^6 in all, two populations
    t = np.sort(rng.uniform(10.0 * k, 10.0 * (k + 1), 10_000))
    raster.push("exc" if k % 2 else "inh", rng.integers(0, 4000, 10_000), t)
raster""",
    """import time
deadline = time.monotonic() + 60
while raster.n_received < 1_000_000 and time.monotonic() < deadline:
    time.sleep(0.1)
print("received", raster.n_received, "shown", raster.n_shown)""",
    """raster.show(200.0, 300.0)   # one interval in full""",
]


def _count(page, attr: str) -> int:
    return int(page.locator(".mk-live-raster .mk-count").get_attribute(attr) or 0)


def _x_ticks(page) -> list[str]:
    return page.locator(".mk-live-raster .bqplot.figure g.axis").first.locator("g.tick text").all_inner_texts()


def test_a_million_spikes_stay_interactive(page, jupyter_lab: JupyterLab, artifacts: Path) -> None:
    folder = jupyter_lab.root / "scale"
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / "million.ipynb")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(jupyter_lab.lab_url("scale/million.ipynb"))
    wait_kernel_idle(page)
    page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Escape")
    for _ in CELLS[:2]:
        page.keyboard.press("Shift+Enter")
    expect(page.locator(".jp-NotebookPanel .jp-Cell").nth(1)).to_contain_text("received 1000000", timeout=120_000)
    raster = page.locator(".mk-live-raster")
    expect(raster.locator(".mk-count")).to_have_attribute("data-received", "1000000", timeout=60_000)
    shown = _count(page, "data-shown")
    assert 50_000 <= shown <= 100_000  # thinned to max_points, never the million
    figure = raster.locator(".bqplot.figure")
    expect(figure.locator("canvas")).to_have_count(1, timeout=60_000)  # ScatterGL above gl_threshold
    expect(figure.locator("path.dot")).to_have_count(0)
    raster.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "widgets_million.png"), clip=raster.bounding_box())

    # zoom with the mouse wheel over the plot: the x axis answers with new ticks
    before = _x_ticks(page)
    box = figure.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    deadline = time.monotonic() + 30
    while _x_ticks(page) == before and time.monotonic() < deadline:
        page.mouse.wheel(0, -400)
        time.sleep(0.3)
    assert _x_ticks(page) != before, "the figure did not answer a zoom"

    # one interval drawn in full: every spike of [200, 300) ms (1/10 of them), within max_points
    page.keyboard.press("Shift+Enter")
    deadline = time.monotonic() + 60
    while not (95_000 <= _count(page, "data-shown") <= 100_000) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 95_000 <= _count(page, "data-shown") <= 100_000
