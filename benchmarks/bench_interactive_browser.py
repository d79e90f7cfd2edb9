#!/usr/bin/env python
"""The interactive loop in a real page: press Run, change a parameter with a slider, press Run again.

A real JupyterLab (loopback) and Debian's headless Chromium (Playwright). The notebook shows RunPanel +
LiveRaster + LiveRates on the demo network (what ``modelkit demo`` builds: 800 + 200 NEST cells, 200
Poisson inputs, 1 s of model time; ``tests/browser/_interactive.py``). The benchmark clicks Run, then moves
the ``LIF_exc`` tau_m slider by the keyboard (one step of 1 ms down each time) and clicks Run again, and
measures in the page, from each click:

* **first spikes**: the raster's count shows spikes of the new run (s);
* **done**: the panel says ``done`` and the raster shows every spike the run sent (s).

Targets: first spikes < 2 s and done < 5 s (issue 19). A run starts in the process RunPanel started ahead
(``modelkit.cluster.prestart_local``: Python, modelkit and NEST imported while the user looks at the last
run); the benchmark waits for it to be ready before each click (the time a user takes to move a slider;
the wait is printed). ``--cold`` also measures a run without it (a fresh process per run).

There is no peer: bmtk has no widget (nor any notebook view of a run), so nothing to compare with.

Usage::

    python benchmarks/bench_interactive_browser.py            # 1 run as built + 4 with tau_m changed
    python benchmarks/bench_interactive_browser.py --quick    # 1 + 1
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE))

from _harness import print_table, verdict  # noqa: E402
from _interactive import SETUP, TAU_M, move_slider, run_and_time  # noqa: E402
from _jupyter_lab import CHROMIUM, CHROMIUM_FLAGS, open_notebook, start_lab, write_notebook  # noqa: E402

FIRST_TARGET = 2.0  # s
DONE_TARGET = 5.0  # s


def wait_prestarted(tmp: str, timeout: float = 60.0) -> float:
    """Seconds until the kernel's next run process (in the lab's private TMPDIR) has its imports done."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        for d in glob.glob(os.path.join(tmp, "modelkit-local-*")):
            if os.path.exists(os.path.join(d, "ready")) and not os.path.exists(os.path.join(d, "job.pkl")):
                return time.perf_counter() - t0
        time.sleep(0.05)
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one run as built and one with tau_m changed")
    ap.add_argument("--runs", type=int, default=4, help="runs with tau_m changed (default 4; --quick: 1)")
    ap.add_argument("--cold", action="store_true", help="also a run in a fresh process (no prestart)")
    ap.add_argument("--keep", type=int, default=2, help="earlier runs the views keep (default 2)")
    ap.add_argument("--failure-screenshot", default="bench_interactive_failure.png",
                    help="where the page is saved when a run is not shown in time")
    args = ap.parse_args()
    n_changed = 1 if args.quick else max(1, args.runs)
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import expect, sync_playwright
    rows = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-interactive-") as tmp:
        root, state, kernel_tmp = Path(tmp) / "root", Path(tmp) / "state", Path(tmp) / "ktmp"
        for d in (root, state, kernel_tmp):
            d.mkdir()
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               "TMPDIR": str(kernel_tmp)}  # the kernel's run processes, apart from anybody else's
        lab = start_lab(root, state, env=env)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = browser.new_page()
                cells = [SETUP.replace("keep=2", f"keep={args.keep}")]
                if args.cold:
                    cells.append("from modelkit.cluster import discard_prestarted\ndiscard_prestarted()")
                write_notebook(root / "bench" / "interactive.ipynb", cells)
                open_notebook(page, lab, "bench/interactive.ipynb", height=1400)
                t0 = time.perf_counter()
                page.keyboard.press("Shift+Enter")
                expect(page.locator(TAU_M)).to_be_visible(timeout=180_000)
                shown = time.perf_counter() - t0
                ready = wait_prestarted(str(kernel_tmp))
                print(f"panel shown {shown:.2f} s after Shift+Enter; the first run's process ready "
                      f"{ready:.2f} s later", flush=True)
                try:
                    got = run_and_time(page)
                    rows.append(("as built", ready, got))
                    print(f"run 1 as built: first spikes {got['first']:.2f} s, done {got['done']:.2f} s", flush=True)
                    for k in range(n_changed):
                        move_slider(page, TAU_M, 1)
                        expect(page.locator(".mk-param-summary")).to_contain_text(
                            f"tau_m 20 -> {19 - k}", timeout=30_000)
                        ready = wait_prestarted(str(kernel_tmp))
                        got = run_and_time(page)
                        rows.append((f"tau_m {19 - k} ms", ready, got))
                        print(f"run {k + 2} tau_m {19 - k} ms: first spikes {got['first']:.2f} s, done "
                              f"{got['done']:.2f} s (process ready {ready:.2f} s after the slider)", flush=True)
                    if args.cold:  # the process started ahead ends (the cell below): the run starts a fresh one
                        cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(1)
                        cell.locator(".jp-InputArea-editor").click()
                        page.keyboard.press("Shift+Enter")
                        expect(cell.locator(".jp-InputPrompt")).to_have_text("[2]:", timeout=60_000)
                        move_slider(page, TAU_M, 1)
                        got = run_and_time(page)
                        rows.append(("cold (a fresh process)", float("nan"), got))
                        print(f"cold run: first spikes {got['first']:.2f} s, done {got['done']:.2f} s", flush=True)
                except Exception as e:  # the figures measured so far are printed, and what the page showed
                    print(f"FAILED: {type(e).__name__}: {str(e).splitlines()[0]}", flush=True)
                    for what in (".mk-run-panel .mk-status", ".mk-run-error", ".mk-live-raster .mk-count"):
                        loc = page.locator(what)
                        print(f"  {what}: {loc.first.inner_text() if loc.count() else '-'}"[:400], flush=True)
                    shot = Path(args.failure_screenshot).resolve()
                    page.screenshot(path=str(shot), full_page=True)
                    print(f"  screenshot: {shot}", flush=True)
                    failed = True
                browser.close()
        finally:
            lab.stop()
    print()
    print("RunPanel + LiveRaster + LiveRates, demo network (1,000 NEST cells, 1 s), headless Chromium, real JupyterLab")
    print_table(["run", "first spikes (s)", "done (s)", "spikes", "process ready after (s)"],
                [(label, f"{g['first']:.2f}", f"{g['done']:.2f}", f"{g['n']:,.0f}",
                  "-" if ready != ready else f"{ready:.2f}") for label, ready, g in rows])
    print("peer: none (bmtk has no widget or notebook view of a run)")
    warm = [g for label, _, g in rows if not label.startswith("cold")]
    if not warm:
        return verdict([], failed=True, quick=args.quick)
    first = statistics.median(g["first"] for g in warm)
    done = statistics.median(g["done"] for g in warm)
    worst_first = max(g["first"] for g in warm)
    worst_done = max(g["done"] for g in warm)
    print(f"median of {len(warm)} runs: first spikes {first:.2f} s (worst {worst_first:.2f}), done {done:.2f} s "
          f"(worst {worst_done:.2f})")
    return verdict([("Run -> first spikes shown (median, s)", first, first < FIRST_TARGET, " s"),
                    ("Run -> finished run shown (median, s)", done, done < DONE_TARGET, " s")],
                   failed=failed, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
