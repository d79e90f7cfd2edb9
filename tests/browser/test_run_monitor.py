"""The Run monitor sidebar in a real JupyterLab: start time, live duration, Stop, Open output, Open notebook, Clear.

A notebook (in a folder with a long name, so its paths are shortened in the sidebar) runs a short
simulation to the end, then a long ``modelkit.simulate`` in its kernel (the cell blocks), then, queued
behind it, a ``run_local`` in the background.  The test watches the long run's duration advance, stops it
from the monitor (the kernel's cell reports ``stopped`` and reads the spikes kept in ``out.stopped``),
opens its output in the SONATA viewer and its notebook, then clears the finished runs while the
background run stays; the Python that the Stop and Clear buttons name in their titles, run in new cells of
the notebook, stops that one too and clears it.  Screenshots: ``test-artifacts/browser/monitor_*.png``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _jupyter_lab import JupyterLab, checkout_lab, open_notebook, write_notebook

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LONG = 3_600_000.0  # ms: only the Stop ends it within the test (100,000 ms take a few seconds here)
#: long enough that the sidebar shortens the paths under it (it keeps 40 characters)
FOLDER = "a_rather_long_folder_for_the_run_monitor/experiment_2026_12_05"
#: what a button's title says before its Python equivalent (extension/src/format.ts)
IN_PYTHON = "In Python, in a kernel of this server: "

SHORT = """import json, os, h5py
import modelkit
from modelkit.datasets import balanced_network
from modelkit.errors import RunStoppedError
short = modelkit.simulate(balanced_network("short_net", n_exc=80, n_inh=20, tstop=200.0),
                          output_dir=os.path.abspath("short_out"), progress=False)
print("SHORT", sum(short.n_spikes.values()))"""
RUN = f"""cfg = balanced_network("net", n_exc=400, n_inh=100, tstop={LONG})
try:
    modelkit.simulate(cfg, output_dir=os.path.abspath("out"), progress=False)
    report = {{"status": "done"}}
except RunStoppedError as e:  # the Run monitor's Stop: the run ends after its block, its files in out.stopped
    with h5py.File("out.stopped/spikes.h5") as f:
        times = [t for g in f["spikes"].values() for t in g["timestamps"][:]]
        report = {{"status": "stopped", "error": str(e), "n_spikes": len(times), "t_max": float(max(times)),
                  "stop_time": float(f["spikes"].attrs["stop_time"])}}
print("REPORT", json.dumps(report))"""
BACKGROUND = f"""from modelkit.cluster import run_local
bg = run_local(balanced_network("bg_net", n_exc=20, n_inh=5, tstop={LONG}), output_dir=os.path.abspath("bg_out"))
print("BG", bg.run_id)"""


@pytest.fixture(scope="module")
def monitor_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """A server with this checkout's modelkit (server extension and kernels) and, when built, its lab extension."""
    yield from checkout_lab(tmp_path_factory, "monitor")


def _code(button) -> str:
    """The Python equivalent a Run monitor button names in its title."""
    title = button.get_attribute("title")
    assert IN_PYTHON in title, title
    return title.split(IN_PYTHON, 1)[1]


def _run_in_new_cell(page, code: str):
    """Append a code cell to the current notebook, run it, and return its output area."""
    n = page.evaluate("""code => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        const cells = nb.model.sharedModel;
        cells.insertCell(cells.cells.length, {cell_type: 'code', source: code});
        nb.activeCellIndex = nb.widgets.length - 1;
        void window.jupyterapp.commands.execute('notebook:run-cell');
        return nb.widgets.length;
    }""", code)
    return page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(n - 1).locator(".jp-OutputArea-output")


def _seconds(duration) -> float:
    return float(duration.get_attribute("data-seconds"))


def _report(cell) -> dict:
    out = cell.locator(".jp-OutputArea-output").filter(has_text="REPORT")
    expect(out).to_have_count(1, timeout=60_000)
    return json.loads(out.inner_text().split("REPORT", 1)[1])


def test_run_monitor_times_stop_open_and_clear(page, monitor_lab: JupyterLab, artifacts: Path) -> None:
    nb_path = f"{FOLDER}/long.ipynb"
    folder = monitor_lab.root / FOLDER
    write_notebook(monitor_lab.root / nb_path, [SHORT, RUN, BACKGROUND])
    open_notebook(page, monitor_lab, nb_path, width=1600, height=1000)
    for _ in range(3):  # the later cells queue behind the running one
        page.keyboard.press("Shift+Enter")
    page.evaluate("window.jupyterapp.commands.execute('modelkit:show-runs')")
    monitor = page.locator("#modelkit-run-monitor")
    expect(monitor).to_be_visible()

    # the short run is done, the long one runs: its start time, a duration that advances, its notebook
    expect(monitor.locator("li.jp-mk-run[data-status='done']")).to_have_count(1, timeout=180_000)
    long_run = monitor.locator("li.jp-mk-run[data-status='running']")
    expect(long_run).to_have_count(1, timeout=180_000)
    rid = long_run.get_attribute("data-run-id")
    long_run = monitor.locator(f"li.jp-mk-run[data-run-id='{rid}']")
    expect(long_run.locator(".jp-mk-run-progress")).to_contain_text(f"/ {LONG:.0f} ms", timeout=60_000)
    (rec,) = [r for r in monitor_lab.api("modelkit/runs")["runs"] if r["run_id"] == rid]
    assert rec["notebook"] == nb_path and rec["output_dir"] == f"{FOLDER}/out"
    started = long_run.locator(".jp-mk-run-started")
    expect(started).to_have_text(time.strftime("%H:%M:%S", time.localtime(rec["started"])))
    expect(started).to_have_attribute("title", re.compile(r"^started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
    expect(long_run.locator(".jp-mk-run-state")).to_have_text("running")
    duration = long_run.locator(".jp-mk-run-duration")
    first = _seconds(duration)
    time.sleep(2.5)
    second = _seconds(duration)
    assert 1.5 <= second - first <= 6, (first, second)  # ticks every second between polls
    assert abs(second - (time.time() - rec["started"])) < 3, (second, rec)
    # long paths: shortened in the middle to the sidebar's width, the whole path on hover
    for cls, full in (("output", f"{FOLDER}/out"), ("notebook", nb_path),
                      ("config", f"{FOLDER}/net/config.simulation.json")):
        shown = long_run.locator(f".jp-mk-run-{cls}-path" if cls != "config" else ".jp-mk-run-config")
        expect(shown).to_have_attribute("title", full)
        text = shown.inner_text()
        head, tail = text.split("…")
        assert full.startswith(head) and full.endswith(tail) and len(head) >= 8 and len(text) < len(full), text
        row = long_run.locator(f".jp-mk-run-{cls}")
        assert row.evaluate("e => e.scrollWidth <= e.clientWidth"), f"{cls}: {text!r} is cut at the end"
    expect(long_run.locator("button.jp-mk-run-open-output")).to_have_count(0)  # nothing published yet
    monitor.screenshot(path=str(artifacts / "monitor_1_running.png"))

    # Stop: the run ends after its block; the kernel's cell says stopped and finds the spikes kept
    t_click = time.time()
    long_run.locator("button.jp-mk-run-stop").click()
    expect(long_run).to_have_attribute("data-status", "stopped", timeout=60_000)
    shown_after = time.time() - t_click
    assert shown_after < 60
    expect(long_run.locator(".jp-mk-run-state")).to_have_text("stopped")
    expect(duration).to_have_attribute("data-active", "false")
    (rec,) = [r for r in monitor_lab.api("modelkit/runs")["runs"] if r["run_id"] == rid]
    assert abs(_seconds(duration) - (rec["finished"] - rec["started"])) < 0.2
    report = _report(page.locator(".jp-NotebookPanel .jp-Cell").nth(1))
    assert report["status"] == "stopped" and "Run monitor" in report["error"], report
    assert report["n_spikes"] > 0 and report["t_max"] <= report["stop_time"] == rec["t"] < LONG, (report, rec)
    assert (folder / "out.stopped" / "spikes.h5").is_file() and not (folder / "out").exists()
    print(f"MONITOR stop: shown stopped {shown_after:.2f} s after the click, at {rec['t']:g} ms; "
          f"{report['n_spikes']} spikes kept")
    # the background run was queued behind the long one: it runs now
    bg = monitor.locator("li.jp-mk-run[data-status='running']")
    expect(bg).to_have_count(1, timeout=120_000)
    expect(bg.locator(".jp-mk-run-name")).to_contain_text("(local)")
    monitor.screenshot(path=str(artifacts / "monitor_2_stopped.png"))

    # Open output: the SONATA viewer on the stopped run's spikes, with its raster
    long_run.locator("button.jp-mk-run-open-output").click()
    viewer = page.locator(".jp-mk-SonataViewer:visible")
    expect(viewer.locator(".jp-mk-kind")).to_have_text("spikes", timeout=60_000)
    expect(viewer.locator(".jp-mk-header h2")).to_have_text(f"{FOLDER}/out.stopped/spikes.h5")
    expect(viewer.locator("canvas.jp-mk-preview")).to_have_attribute("data-drawn", re.compile(r"^[1-9]\d*$"),
                                                                     timeout=60_000)
    page.screenshot(path=str(artifacts / "monitor_3_open_output.png"))

    # Open notebook: back to the notebook that started the run
    long_run.locator("button.jp-mk-run-open-notebook").click()
    current = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    expect(current).to_have_text("long.ipynb", timeout=30_000)
    expect(page.locator(".jp-NotebookPanel:visible")).to_have_count(1)

    # Clear finished: the done and the stopped run go, the running one stays; the files stay
    monitor.locator("button.jp-mk-runs-clear").click()
    expect(monitor.locator("li.jp-mk-run")).to_have_count(1, timeout=30_000)
    expect(monitor.locator("li.jp-mk-run")).to_have_attribute("data-status", "running")
    expect(monitor.locator("button.jp-mk-runs-clear")).to_be_disabled()
    assert (folder / "out.stopped" / "spikes.h5").is_file() and (folder / "short_out" / "spikes.h5").is_file()
    monitor.screenshot(path=str(artifacts / "monitor_4_cleared.png"))

    # the Python each button names (its title), run in a new cell, does what the button does
    bg_id = bg.get_attribute("data-run-id")
    out = _run_in_new_cell(page, _code(bg.locator("button.jp-mk-run-stop")))
    assert f"request_stop(\"{bg_id}\")" in _code(bg.locator("button.jp-mk-run-stop"))
    expect(out).to_contain_text("'stop': 'requested'", timeout=30_000)
    expect(monitor.locator("li.jp-mk-run")).to_have_attribute("data-status", "stopped", timeout=60_000)
    out = _run_in_new_cell(page, _code(monitor.locator("button.jp-mk-runs-clear")))
    expect(out).to_have_text(f"['{bg_id}']", timeout=30_000)
    expect(monitor.locator(".jp-mk-no-runs")).to_be_visible(timeout=30_000)
    assert monitor_lab.api("modelkit/runs")["runs"] == []
    page.screenshot(path=str(artifacts / "monitor_5_all_cleared.png"))
