"""LiveTraces in a real JupyterLab: a run's membrane traces stream into the page (lines, units, counts).

Screenshot: ``test-artifacts/browser/live_traces.png``.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from _jupyter_lab import JupyterLab, wait_kernel_idle

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

CELLS = [
    """from modelkit.cluster import run_local
from modelkit.datasets import balanced_network
from modelkit.widgets import LiveTraces

cfg = balanced_network("net", n_exc=400, n_inh=100, tstop=3000.0)
traces = LiveTraces(cells=3, max_points=600)
run = run_local(cfg, output_dir="out")
traces.attach(run)
traces""",
    """run.wait(300)
(key, (ids, t, v)), = run.traces.items()
print("frames", len(t))""",
]


def test_live_traces_stream_into_the_page(page, jupyter_lab: JupyterLab, artifacts: Path) -> None:
    folder = jupyter_lab.root / "traces"
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / "traces.ipynb")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(jupyter_lab.lab_url("traces/traces.ipynb"))
    wait_kernel_idle(page)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    view = page.locator(".mk-live-traces")
    expect(view.locator(".bqplot.figure")).to_have_count(1, timeout=90_000)
    lines = view.locator(".bqplot.figure path.line")
    expect(lines).to_have_count(3, timeout=90_000)  # one line per chosen cell
    expect(view.locator(".mk-live-traces-legend .mk-legend-item")).to_have_count(3)
    expect(view.locator(".axis text", has_text="V_m (mV)")).to_have_count(1)
    expect(view.locator(".axis text", has_text="time (ms)")).to_have_count(1)
    # while it runs, the count grows; at the end it is every frame the run recorded
    out = page.locator(".jp-OutputArea-output", has_text="frames ")
    expect(out).to_be_visible(timeout=120_000)
    frames = int(out.inner_text().split()[-1])
    count = view.locator(".mk-count")
    deadline = time.monotonic() + 30
    while int(count.get_attribute("data-received") or 0) != frames:
        assert time.monotonic() < deadline, "the page did not show every frame"
        time.sleep(0.2)
    shown = int(count.get_attribute("data-shown") or 0)
    assert 0 < shown <= 600  # a bounded envelope went to the browser, not every sample
    d = lines.first.get_attribute("d") or ""
    assert d.count("L") + 1 <= 600 and d.startswith("M")
    view.scroll_into_view_if_needed()
    view.screenshot(path=str(artifacts / "live_traces.png"))
