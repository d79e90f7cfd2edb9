"""Stop always works, in a real JupyterLab: from the panel while a cell waits, and from the Run monitor.

Each notebook shows a RunPanel over a real NEST run (a child process of the kernel) and runs
``panel.start(); panel.wait()``: the cell blocks, as tutorial 04 teaches.  The test presses Stop (the
panel's button, then the Run monitor's) while the cell waits and checks that the run ends within one
block of the click, that the stopped run's files hold its spikes, and that the same panel runs again to
the end.  Screenshots: ``test-artifacts/browser/stop_*.png``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import h5py
import nbformat
import numpy as np
import pytest
from _jupyter_lab import JupyterLab, checkout_lab, wait_kernel_idle

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

TSTOP = 60_000.0  # ms: 60 blocks of 1000 ms, tens of seconds of wall time here
BLOCK = 1000.0  # ms

SETUP = f"""import json, os
from modelkit.datasets import balanced_network
from modelkit.widgets import RunPanel
cfg = balanced_network("net", n_exc=800, n_inh=200, tstop={TSTOP})
panel = RunPanel(cfg, output_dir=os.path.abspath("out"), overwrite=True)
panel"""
WAIT = """panel.start()
panel.wait(timeout=600)"""
#: the engine's last block as the kernel's stream saw it: ms, the engine's clock at its end, one block's wall (s)
ENGINE_END = """s = panel.run.stream; t, _, arrival = s._progress; t0, a0 = s._first_block
print("ENGINE_END", json.dumps({'t': t, 'sent': arrival - s.latencies[-1],
                                'block_wall': (arrival - a0) / max(1.0, (t - t0) / 1000.0)}))"""


@pytest.fixture(scope="module")
def stop_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """A server with this checkout's modelkit in its kernels and, when built, this checkout's extension."""
    yield from checkout_lab(tmp_path_factory, "stop")


def _notebook(folder: Path, name: str, cells: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / name)


def _button(scope, label: str):
    return scope.locator("button.widget-button", has_text=re.compile(rf"^\s*{label}\s*$"))


def _shown_ms(status_line: str, state: str) -> float:
    m = re.search(rf"{state}\s+([0-9.e+]+) / ", status_line)
    assert m, status_line
    return float(m.group(1))


def _open_and_run(page, lab: JupyterLab, path: str, n_cells: int):
    """Open the notebook and Shift+Enter through its cells (the later ones queue behind the waiting one)."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(lab.lab_url(path))
    wait_kernel_idle(page)
    page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    panel = page.locator(".mk-run-panel")
    expect(panel).to_be_visible(timeout=120_000)
    for _ in range(n_cells - 1):
        page.keyboard.press("Shift+Enter")
    return panel


def _wait_running_past(status, ms: float, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = status.locator("xpath=..").inner_text()  # one read: the state and the time shown together
        m = re.search(r"running\s+([0-9.e+]+) / ", line)
        if m and float(m.group(1)) >= ms:
            return line
        time.sleep(0.1)
    raise AssertionError(f"the run never passed {ms:g} ms: {status.locator('xpath=..').inner_text()}")


def _spike_times(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return np.concatenate([np.asarray(g["timestamps"]) for g in f["spikes"].values()])


def test_stop_from_the_panel_while_a_cell_waits(page, stop_lab: JupyterLab, artifacts: Path) -> None:
    folder = stop_lab.root / "panel"
    _notebook(folder, "stop.ipynb", [SETUP, WAIT, ENGINE_END])
    panel = _open_and_run(page, stop_lab, "panel/stop.ipynb", 3)
    status = panel.locator(".mk-status")
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    before = _wait_running_past(status, 2 * BLOCK)
    expect(cells.nth(1).locator(".jp-InputPrompt")).to_have_text("[*]:")  # the cell is blocked in wait()
    panel.evaluate("el => el.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(artifacts / "stop_panel_running.png"))

    t_click = time.time()
    _button(panel, "Stop").click()
    expect(status).to_have_attribute("data-status", "stopped", timeout=60_000)
    shown_after = time.time() - t_click
    line = status.locator("xpath=..").inner_text()
    t_stop = _shown_ms(line, "stopped")
    assert _shown_ms(before, "running") <= t_stop < TSTOP, (before, line)
    expect(panel.locator(".mk-run-error")).to_contain_text("stopped")
    # the waiting cell returned 'stopped'; the queued cell ran after it
    expect(cells.nth(1).locator(".jp-OutputArea-output")).to_contain_text("'stopped'", timeout=30_000)
    expect(cells.nth(2).locator(".jp-OutputArea-output")).to_contain_text("ENGINE_END", timeout=30_000)
    end = json.loads(cells.nth(2).locator(".jp-OutputArea-output").inner_text().split("ENGINE_END", 1)[1])
    assert end["t"] == t_stop
    # the engine ended its last block within one block of the click (plus the stop message's way)
    assert t_click - end["block_wall"] <= end["sent"] <= t_click + 2 * end["block_wall"] + 1.5, (t_click, end)
    assert shown_after < 30, shown_after
    page.screenshot(path=str(artifacts / "stop_panel_stopped.png"))

    # the stopped run's files hold the spikes up to the stop (simulate keeps them in <output>.stopped)
    stopped = folder / "out.stopped" / "spikes.h5"
    assert stopped.is_file(), sorted(p.name for p in folder.iterdir())
    times = _spike_times(stopped)
    assert len(times) > 0 and times.max() <= t_stop and times.max() > t_stop - BLOCK

    # the same panel runs again, to the end
    _button(panel, "Run").click()
    expect(status).to_have_attribute("data-status", "running", timeout=120_000)
    expect(status).to_have_attribute("data-status", "done", timeout=300_000)
    expect(status.locator("xpath=..")).to_contain_text(f"{TSTOP:g} / {TSTOP:g} ms")
    assert (folder / "out" / "spikes.h5").is_file()
    page.screenshot(path=str(artifacts / "stop_panel_run_again_done.png"))


def test_stop_from_the_run_monitor(page, stop_lab: JupyterLab, artifacts: Path) -> None:
    folder = stop_lab.root / "monitor"
    _notebook(folder, "monitor.ipynb", [SETUP, WAIT])
    panel = _open_and_run(page, stop_lab, "monitor/monitor.ipynb", 2)
    status = panel.locator(".mk-status")
    page.evaluate("window.jupyterapp.commands.execute('modelkit:show-runs')")
    monitor = page.locator("#modelkit-run-monitor")
    expect(monitor).to_be_visible()
    run = monitor.locator("li.jp-mk-run[data-status='running']")
    expect(run).to_have_count(1, timeout=180_000)
    expect(run.locator(".jp-mk-run-name")).to_contain_text("(local)")
    run_id = run.get_attribute("data-run-id")
    run = monitor.locator(f"li.jp-mk-run[data-run-id='{run_id}']")
    _wait_running_past(status, 2 * BLOCK)
    stop = run.locator("button.jp-mk-run-stop")
    expect(stop).to_have_text("Stop")
    monitor.screenshot(path=str(artifacts / "stop_monitor_running.png"))

    t_click = time.time()
    stop.click()
    done = run
    expect(done).to_have_attribute("data-status", "stopped", timeout=60_000)
    expect(done.locator(".jp-mk-run-progress")).to_contain_text("stopped at")
    expect(done.locator("button.jp-mk-run-stop")).to_have_count(0)  # nothing left to stop
    expect(status).to_have_attribute("data-status", "stopped", timeout=30_000)
    assert time.time() - t_click < 30
    t_stop = _shown_ms(status.locator("xpath=..").inner_text(), "stopped")
    assert t_stop < TSTOP
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    expect(cells.nth(1).locator(".jp-OutputArea-output")).to_contain_text("'stopped'", timeout=30_000)
    monitor.screenshot(path=str(artifacts / "stop_monitor_stopped.png"))
    (rec,) = [r for r in stop_lab.api("modelkit/runs")["runs"] if r["run_id"] == run_id]
    assert rec["status"] == "stopped" and rec["kind"] == "local" and rec["stop_requested"] is not None
