"""The widgets in a real JupyterLab: a cluster run watched live, stopped from the panel; the builder's preview.

One notebook: cell 1 starts a local ipyparallel cluster and shows a RunPanel with a LiveRaster for a
network that would run for 1000 s of simulated time; cell 2 shows a BuilderPanel; cell 3 stops the
cluster. The test presses the buttons as a user would. Screenshots: ``test-artifacts/browser/widgets_*.png``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from _jupyter_lab import JupyterLab, wait_kernel_idle

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

CELLS = [
    """import os
from modelkit.cluster import start_cluster, stop_cluster
from modelkit.datasets import balanced_network
from modelkit.widgets import BuilderPanel, LiveRaster, RunPanel

rc = start_cluster(1, profile_dir=os.path.abspath("ipp-profile"))
cfg = balanced_network("net", n_exc=160, n_inh=40, tstop=1_000_000.0)
raster = LiveRaster(max_rate=4, window=200.0)
panel = RunPanel(cfg, cluster=rc, views=[raster], output_dir=os.path.abspath("out"), overwrite=True)
display(panel, raster)""",
    """builder = BuilderPanel("v1", seed=0)
builder""",
    """stop_cluster(rc)
print("cluster stopped")""",
]


def _notebook(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = folder / "live.ipynb"
    nbformat.write(nb, path)
    return path


def _button(scope, label: str):
    return scope.locator("button.widget-button", has_text=re.compile(rf"^\s*{label}\s*$"))


def _shot(page, locator, path: Path) -> None:
    """Screenshot of one widget; a live plot never holds still, so clip the page instead of waiting on it."""
    locator.evaluate("el => el.scrollIntoView({block: 'center'})")
    box = locator.bounding_box()
    page.screenshot(path=str(path), clip=box)


def _received(page) -> int:
    attr = page.locator(".mk-live-raster .mk-count").get_attribute("data-received")
    return int(attr or 0)


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_live_raster_run_stop_and_builder(page, jupyter_lab: JupyterLab, artifacts: Path) -> None:
    _notebook(jupyter_lab.root / "widgets")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(jupyter_lab.lab_url("widgets/live.ipynb"))
    wait_kernel_idle(page)

    # run cell 1 (cluster, panel, raster) and cell 2 (builder), one Shift+Enter each
    page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    panel = page.locator(".mk-run-panel")
    expect(panel).to_be_visible(timeout=120_000)
    page.keyboard.press("Shift+Enter")
    status = panel.locator(".mk-status")
    expect(status).to_have_attribute("data-status", "idle")
    expect(page.locator(".mk-live-raster .bqplot.figure")).to_have_count(1)

    # Run: the raster's point count grows while the run is in progress
    _button(panel, "Run").click()
    _wait(lambda: _received(page) > 0, 120, "the first spikes in the raster")
    first = _received(page)
    _wait(lambda: _received(page) > first, 60, "the raster to grow")
    expect(status).to_have_attribute("data-status", "running")
    raster = page.locator(".mk-live-raster")
    _shot(page, raster, artifacts / "widgets_raster_running.png")
    # the last 200 ms only: few enough spikes to draw as points, with WebGL (the page has it)
    expect(raster.locator(".mk-count")).to_have_attribute("data-renderer", "webgl", timeout=30_000)
    expect(raster.locator(".bqplot.figure canvas").first).to_be_attached(timeout=30_000)
    shown = int(raster.locator(".mk-count").get_attribute("data-shown") or 0)
    assert 0 < shown < _received(page)

    # Stop: the panel ends "stopped", says why, keeps the spikes
    _button(panel, "Stop").click()
    expect(status).to_have_attribute("data-status", "stopped", timeout=60_000)
    expect(panel.locator(".mk-run-error")).to_contain_text("stopped on request")
    expect(status.locator("xpath=..")).to_contain_text("(kept)")
    expect(_button(panel, "Run")).to_be_enabled()
    expect(_button(panel, "Stop")).to_be_disabled()
    time.sleep(0.5)  # the raster's last redraw after the end of the run
    final = _received(page)
    assert final >= first
    m = re.search(r"(\d+) spikes received", status.locator("xpath=..").inner_text())
    assert m and int(m.group(1)) == final  # the panel and the raster agree on what arrived
    _shot(page, panel, artifacts / "widgets_panel_stopped.png")

    # BuilderPanel: add a population, the preview and the code update
    builder = page.locator(".mk-builder-panel")
    expect(builder).to_be_visible(timeout=120_000)
    total = builder.locator(".mk-builder-preview .mk-total")
    expect(total).to_have_attribute("data-total", "0")
    _button(builder, "Add population").click()
    expect(total).to_have_attribute("data-total", "100", timeout=30_000)
    expect(builder.locator(".mk-builder-code")).to_contain_text("net.add_nodes(N=100, pop_name='exc'")
    expect(builder.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    _shot(page, builder, artifacts / "widgets_builder.png")

    # cell 3 stops the cluster (the notebook's own cleanup)
    page.keyboard.press("Escape")
    page.locator(".jp-NotebookPanel .jp-Cell").nth(2).click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    expect(page.locator(".jp-NotebookPanel .jp-Cell").nth(2)).to_contain_text("cluster stopped", timeout=60_000)
