#!/usr/bin/env python
"""The morphology movie of 300 cells in a real page: MorphologyViewer on bio_300cells_nosurround.

A real JupyterLab (loopback) and Debian's headless Chromium (Playwright; WebGL in software here). The
network is run 10 ms by modelkit's NEURON backend with v at every segment of the 300 Allen cells
(``tests/plotting/_bio_run.py``), then the notebook shows ``MorphologyViewer(cfg, "internal",
report=..., synapses="edges")`` and the benchmark measures in the page:

* **shown**: Shift+Enter -> the figure's traces are in the page (s);
* **key -> colours**: the report trace shown, one ArrowRight on the frame slider -> plotly's colour array
  in the page changes (s; median of several presses, one after the other);
* **scrub**: 10 ArrowRight presses 0.3 s apart (faster than the page draws a frame) -> the page shows the
  colours of the last frame asked for (s, from the first press), and how many frames the kernel sent for
  the 10 presses (coalescing sends far fewer). Presses all at once are coalesced by ipywidgets already (a
  slider sends its next value only once the kernel answered the last), so they are not the test.

``--repo PATH`` runs the kernel on another checkout's modelkit (e.g. a ``git worktree`` of an older commit,
to measure "before"); ``--detail points|segments`` forces the viewer's level of detail (new code only).

Usage::

    python benchmarks/bench_morphology_browser.py --quick          # 3 single presses
    python benchmarks/bench_morphology_browser.py --out DIR        # reuse a run in DIR (its v_all.h5)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO / "tests" / "plotting"))
sys.path.insert(0, str(HERE))

from _harness import print_table, verdict  # noqa: E402
from _jupyter_lab import CHROMIUM, CHROMIUM_FLAGS, open_notebook, start_lab, write_notebook  # noqa: E402
from _morphology_page import PAGE_REPORT, SIG  # noqa: E402

BURST = 10
BURST_TARGET = 15.0  # s: the last frame of a burst drawn
PACE = 0.3  # s between the presses of a burst
KEY_TARGET = 3.0  # s: one key press -> new colours (median)

def _wait(cond, timeout: float, what: str, poll: float = 0.05) -> float:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"timed out ({timeout:g} s) waiting for {what}")
        time.sleep(poll)
    return time.perf_counter() - t0


def _run_cell(page, n: int, source_marker: str, timeout_ms: int = 120_000) -> dict:
    """Run the notebook's cell ``n`` and return the JSON it prints after ``source_marker``."""
    from playwright.sync_api import expect
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(n)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    out = cell.locator(".jp-OutputArea-output")
    expect(out).to_contain_text(source_marker, timeout=timeout_ms)
    return json.loads(out.inner_text().split(source_marker, 1)[1].strip().splitlines()[0])


def measure(page, lab, root: Path, cfg: Path, report: Path, detail: str | None, presses: int,
            pace: float = PACE, synapses: bool = True) -> dict:
    from playwright.sync_api import expect
    opt = (f", detail={detail!r}" if detail else "") + (', synapses="edges"' if synapses else "")
    cells = [f"""from modelkit.widgets import MorphologyViewer
viewer = MorphologyViewer({str(cfg)!r}, "internal", report={str(report)!r}{opt})
viewer""", SIG + """target = viewer.frame + %d
print("TARGET", json.dumps({"sig": _sig(viewer._values(target)), "sent": viewer.frames_drawn,
                            "frame": viewer.frame, "target": target}))""" % BURST,
             SIG + """print("AFTER", json.dumps({"sent": viewer.frames_drawn, "frame": viewer.frame,
                           "detail": getattr(viewer, "detail", "points")}))""",
             SIG + """import time
target = viewer.frame - %d
print("TARGET", json.dumps({"sig": _sig(viewer._values(target)), "sent": viewer.frames_drawn,
                            "frame": viewer.frame, "target": target}), flush=True)
for _ in range(%d):
    viewer.frame -= 1
    time.sleep(%r)""" % (BURST, BURST, pace), """print("AFTER2", json.dumps({"sent": viewer.frames_drawn}))"""]
    name = f"bench/morph_{detail or 'auto'}_{int(time.time())}.ipynb"
    write_notebook(root / name, cells)
    open_notebook(page, lab, name, width=1400, height=1100)
    viewer = page.locator(".mk-morphology-viewer")
    t0 = time.perf_counter()
    page.keyboard.press("Shift+Enter")
    expect(viewer.locator(".js-plotly-plot")).to_be_visible(timeout=300_000)
    _wait(lambda: ((viewer.evaluate(PAGE_REPORT) or {}).get("traces") or 0) >= 5 + synapses, 300, "the traces")
    shown = time.perf_counter() - t0
    print(f"  shown {shown:.1f} s after Shift+Enter", flush=True)
    viewer.locator("button.widget-toggle-button", has_text="report").click()
    _wait(lambda: viewer.evaluate(PAGE_REPORT)["visible"] is True, 120, "the report trace to show")
    page.wait_for_timeout(1500)  # the first colours drawn
    n = viewer.evaluate(PAGE_REPORT)["n"]
    handle = viewer.locator(".mk-morph-slider .noUi-handle").first
    keys = []
    for _ in range(presses):
        handle.focus()
        before = viewer.evaluate(PAGE_REPORT)["sig"]
        t1 = time.perf_counter()
        page.keyboard.press("ArrowRight")
        _wait(lambda b=before: viewer.evaluate(PAGE_REPORT)["sig"] != b, 120, "new colours")
        keys.append(time.perf_counter() - t1)
        print(f"  key -> new colours {keys[-1]:.2f} s", flush=True)
        page.wait_for_timeout(1000)  # let the page settle (an acknowledgement, a late paint)
    want = _run_cell(page, 1, "TARGET")
    handle.focus()
    t2 = time.perf_counter()
    for _ in range(BURST):
        page.keyboard.press("ArrowRight")
        time.sleep(pace)
    pressed = time.perf_counter() - t2
    burst = _wait(lambda: abs((viewer.evaluate(PAGE_REPORT)["sig"] or 0) - want["sig"]) <= 1e-6 * abs(want["sig"]),
                  180, "the last frame of the burst", poll=0.1)
    page.wait_for_timeout(500)
    after = _run_cell(page, 2, "AFTER")
    sent = after["sent"] - want["sent"]
    # the same from code in the kernel (a loop moving viewer.frame): frames change faster than the page draws
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(3)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")
    t3 = time.perf_counter()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text("TARGET", timeout=120_000)
    want2 = json.loads(cell.locator(".jp-OutputArea-output").inner_text().split("TARGET", 1)[1].strip().splitlines()[0])
    _wait(lambda: abs((viewer.evaluate(PAGE_REPORT)["sig"] or 0) - want2["sig"]) <= 1e-6 * abs(want2["sig"]),
          300, "the last frame set from code", poll=0.1)
    code = time.perf_counter() - t3
    page.wait_for_timeout(500)
    after2 = _run_cell(page, 4, "AFTER2")
    code_sent = after2["sent"] - want2["sent"]
    print(f"  {BURST} frame changes from code {pace:g} s apart: last frame drawn {code:.1f} s after the cell "
          f"started; {code_sent} frames sent", flush=True)
    print(f"  burst of {BURST} presses ({pressed:.2f} s to press: the page takes keys between its draws): last "
          f"frame drawn {burst:.1f} s after the last press, {pressed + burst:.1f} s after the first; {sent} frames "
          f"sent, kernel frame {after['frame']} (target {want['target']})", flush=True)
    return {"shown": shown, "keys": keys, "burst": pressed + burst, "code": code, "code_sent": code_sent,
            "sent": sent, "n": n, "detail": after["detail"],
            "frame_ok": after["frame"] == want["target"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 single key presses (default 5)")
    ap.add_argument("--no-synapses", action="store_true", help="no synapse markers (36k on the 300 cells)")
    ap.add_argument("--pace", type=float, default=PACE, help=f"s between the presses of a burst (default {PACE})")
    ap.add_argument("--out", type=Path, help="a folder with bio_300cells_nosurround's run (out.config.json's out)")
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose modelkit the kernel imports")
    ap.add_argument("--detail", choices=["points", "segments"], action="append",
                    help="force the viewer's level of detail (repeat for both; default: the viewer's choice)")
    args = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    from _bio_run import bio300_config, run_bio300
    from playwright.sync_api import sync_playwright
    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="bench-morph-") as tmp:
        if args.out is not None and (args.out / "v_all.h5").exists():
            cfg = bio300_config(args.out)
            print(f"reusing the run in {args.out}", flush=True)
        else:
            t = time.perf_counter()
            cfg = run_bio300(Path(tmp) / "run" / "out")
            print(f"bio_300cells_nosurround 10 ms run: {time.perf_counter() - t:.1f} s", flush=True)
        report = cfg.parent / cfg.name.replace(".config.json", "") / "v_all.h5"
        root, state = Path(tmp) / "root", Path(tmp) / "state"
        root.mkdir()
        state.mkdir()
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(args.repo.resolve()), os.environ.get("PYTHONPATH")]))}
        lab = start_lab(root, state, env=env)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                for detail in args.detail or [None]:
                    page = browser.new_page()
                    print(f"viewer ({detail or 'its own choice'} detail, kernel on {args.repo}):", flush=True)
                    try:
                        rows.append((detail, measure(page, lab, root, cfg, report, detail, 3 if args.quick else 5,
                                                            args.pace, not args.no_synapses)))
                    except Exception as e:
                        print(f"FAILED: {type(e).__name__}: {str(e).splitlines()[0]}", flush=True)
                        page.screenshot(path=str(Path("bench_morphology_failure.png").resolve()), full_page=True)
                        failed = True
                    page.close()
                browser.close()
        finally:
            lab.stop()
    print()
    print("MorphologyViewer, bio_300cells_nosurround (300 Allen cells, 36k synapses), headless Chromium "
          "(software WebGL), real JupyterLab")
    print_table(["detail", "points", "shown (s)", "key -> colours (median, s)",
                 f"{BURST} presses {args.pace:g} s apart: first press -> last frame (s)",
                 "frames sent", f"{BURST} changes from code: last frame (s)", "frames sent"],
                [(str(r["detail"]), f"{r['n']:,}", f"{r['shown']:.1f}", f"{statistics.median(r['keys']):.2f} "
                  f"({min(r['keys']):.2f}-{max(r['keys']):.2f})", f"{r['burst']:.1f}", str(r["sent"]),
                  f"{r['code']:.1f}", str(r["code_sent"]))
                 for _, r in rows])
    print("peer: none (bmtk has no notebook view of a morphology movie)")
    if not rows:
        return verdict([], failed=True, quick=args.quick)
    r = rows[0][1]
    key = statistics.median(r["keys"])
    return verdict([("key press -> new colours (median, s)", key, key < KEY_TARGET, " s"),
                    (f"{BURST} frame changes from code -> last frame drawn (s)", r["code"], r["code"] < BURST_TARGET,
                     " s"),
                    (f"frames sent for {BURST} changes from code", r["code_sent"], r["code_sent"] <= BURST // 2, "")],
                   failed=failed, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
