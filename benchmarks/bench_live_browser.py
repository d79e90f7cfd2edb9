#!/usr/bin/env python
"""Live views in a real page: responsiveness while 10^5, 10^6 and 10^7 spikes stream in.

A real JupyterLab (loopback) and Debian's headless Chromium (Playwright, software WebGL, as
``../shared/PLATFORM.md`` §8 describes). For each size a notebook streams the spikes of 1,000 cells into
the views from a kernel thread at a fixed pace (blocks of 10 ms of model time; ``--seconds`` of wall
time a run), while the page is probed every 0.2 s (``tests/browser/_live_probe.py``):

* **rtt**: round trip of a ``page.evaluate`` (p50 / p95 / max, s): how long the page takes to answer;
* **heap**: the tab's JS heap at most (MB, DevTools ``Runtime.getHeapUsage``);
* **end lag**: from the source's last block to the page showing every spike (s);
* **drops**: samples where the kernel was not connected.

Two ways of drawing the same stream:

* **modelkit**: ``LiveRaster`` + ``LiveRates`` (points while few, else the run binned to the plot's
  pixels; one redraw in flight);
* **peer**: what a notebook does without modelkit (bmtk has no live view): one bqplot-gl ``ScatterGL``
  of every spike received, redrawn every 0.5 s. It is run up to ``--peer-max`` spikes; above, each
  redraw would send over 16 MB.

Usage::

    python benchmarks/bench_live_browser.py             # 10^5, 10^6, 10^7 spikes
    python benchmarks/bench_live_browser.py --quick     # 10^5, 10^6
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from _jupyter_lab import CHROMIUM, CHROMIUM_FLAGS, start_lab, wait_kernel_idle  # noqa: E402
from _live_probe import Probe  # noqa: E402

SOURCE = """import json, threading, time
import numpy as np
N, CELLS, SECONDS = {n}, 1000, {seconds}
n_blocks = max(1, int(SECONDS * 20))        # 20 blocks a second of wall time
per = N // n_blocks
block_ms = 10.0
def blocks():
    rng = np.random.default_rng(0)
    t0 = time.monotonic()
    for k in range(n_blocks):
        n = per if k < n_blocks - 1 else N - per * (n_blocks - 1)
        ids = rng.integers(0, CELLS, n)
        ts = np.sort(rng.uniform(block_ms * k, block_ms * (k + 1), n))
        wait = t0 + SECONDS * (k + 1) / n_blocks - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield "cortex", ids, ts
"""

MODELKIT = SOURCE + """
from modelkit.widgets import LiveRaster, LiveRates
raster = LiveRaster(sizes={{"cortex": CELLS}})
rates = LiveRates(sizes={{"cortex": CELLS}})
def feed():
    for b in blocks():
        raster.push(*b); rates.push(*b)
    open("end.json", "w").write(json.dumps({{"end": time.time()}}))
display(raster, rates)
threading.Thread(target=feed, daemon=True).start()
"""

PEER = SOURCE + """
import bqplot as bq, ipywidgets as ipw
from bqplot_gl import ScatterGL
xs, ys = bq.LinearScale(), bq.LinearScale()
mark = ScatterGL(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32), scales={{"x": xs, "y": ys}}, default_size=4)
label = ipw.HTML()
box = ipw.VBox([bq.Figure(marks=[mark], axes=[bq.Axis(scale=xs), bq.Axis(scale=ys, orientation="vertical")],
                          animation_duration=0), label])
box.add_class("mk-live-raster")
got_t, got_i = [], []
def show():
    t = np.concatenate(got_t) if got_t else np.zeros(0)
    with mark.hold_sync():
        mark.x = t.astype(np.float32)
        mark.y = (np.concatenate(got_i) if got_i else np.zeros(0)).astype(np.float32)
    label.value = f"<span class='mk-count' data-received='{{len(t)}}'>{{len(t)}}</span>"
def feed():
    last = 0.0
    for _, ids, ts in blocks():
        got_t.append(ts); got_i.append(ids)
        if time.monotonic() - last > 0.5:
            show(); last = time.monotonic()
    show()
    open("end.json", "w").write(json.dumps({{"end": time.time()}}))
display(box)
threading.Thread(target=feed, daemon=True).start()
"""


def measure(browser, lab, folder: Path, code: str, n: int, timeout: float) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, folder / "live.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(lab.lab_url(f"{folder.name}/live.ipynb"))
        wait_kernel_idle(page)
        page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Enter")
        probe = Probe(page)
        shown = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = probe.sample()
            if s.received == n:
                shown = time.time()
                break
            time.sleep(0.2)
        end_file = folder / "end.json"
        while not end_file.exists() and time.monotonic() < deadline + 30:
            time.sleep(0.2)
        src_end = json.loads(end_file.read_text())["end"] if end_file.exists() else None
        fig = probe.figures()
        fig["end_lag"] = (shown - src_end) if (shown is not None and src_end is not None) else None
        fig["shown_all"] = shown is not None
        return fig
    finally:
        try:
            page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
        except Exception:  # the page may not answer: it is closed below anyway
            pass
        page.close()


def fmt(v: dict | None) -> str:
    if v is None:
        return "not run"
    lag = f"{v['end_lag']:.2f}" if v["end_lag"] is not None else "never"
    return (f"rtt p50 {v['rtt_p50']:.3f} p95 {v['rtt_p95']:.3f} max {v['rtt_max']:.2f} s; heap {v['heap_max_mb']:.0f} "
            f"MB; end lag {lag} s; drops {v['disconnected']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10^5 and 10^6 spikes only")
    ap.add_argument("--seconds", type=float, default=30.0, help="wall time each stream lasts (s)")
    ap.add_argument("--peer-max", type=int, default=1_000_000, help="largest stream drawn the peer's way")
    args = ap.parse_args()
    sizes = [100_000, 1_000_000] + ([] if args.quick else [10_000_000])
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root, state = Path(tmp) / "root", Path(tmp) / "state"
        root.mkdir()
        state.mkdir()
        lab = start_lab(root, state)
        results = {}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                for n in sizes:
                    timeout = args.seconds + 120
                    mk = measure(browser, lab, root / f"mk{n}", MODELKIT.format(n=n, seconds=args.seconds), n, timeout)
                    peer = measure(browser, lab, root / f"peer{n}", PEER.format(n=n, seconds=args.seconds), n,
                                   timeout) if n <= args.peer_max else None
                    results[n] = (mk, peer)
                    print(f"{n:>10,} spikes  modelkit: {fmt(mk)}", flush=True)
                    print(f"{'':>10}         peer:     {fmt(peer)}", flush=True)
                    if peer is not None:
                        print(f"{'':>10}         ratio peer/modelkit rtt p95 {peer['rtt_p95'] / mk['rtt_p95']:.1f}x, "
                              f"heap {peer['heap_max_mb'] / mk['heap_max_mb']:.1f}x", flush=True)
                browser.close()
        finally:
            lab.stop()
    ok = all(mk["rtt_p95"] < 1.0 and mk["shown_all"] and mk["disconnected"] == 0 and mk["heap_max_mb"] < 500
             for mk, _ in results.values())
    print("targets (rtt p95 < 1 s, every spike shown, no drop, heap < 500 MB):", "met" if ok else "MISSED")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
