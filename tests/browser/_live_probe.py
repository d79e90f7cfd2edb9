"""Measuring a live view in a real page while a run streams into it (browser tests and
``benchmarks/bench_live_browser.py``; imported by name, as ``_jupyter_lab``).

A :class:`Probe` samples, every ``period`` seconds: the round trip of a ``page.evaluate`` (how long the page
takes to answer while it draws: the responsiveness a user feels), the tab's JS heap (Chrome DevTools
Protocol ``Runtime.getHeapUsage``), the notebook kernel's connection status as JupyterLab sees it, the
raster's and the run panel's spike counts and the panel's status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUS_JS = """() => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  const c = document.querySelector('.mk-live-raster .mk-count');
  const r = document.querySelector('.mk-live-rates .mk-rates-count');
  const s = document.querySelector('.mk-run-panel .mk-status');
  const m = s ? /([0-9]+) spikes received/.exec(s.parentElement.textContent) : null;
  return {conn: k ? k.connectionStatus : 'none', received: c ? Number(c.dataset.received) : -1,
          rates: r ? Number(r.dataset.received) : -1, status: s ? s.dataset.status : null,
          panel: m ? Number(m[1]) : -1};
}"""


@dataclass
class Sample:
    t: float  # s since the probe started
    rtt: float  # s
    heap: float  # bytes
    conn: str
    received: int
    rates: int
    status: str | None
    panel: int


@dataclass
class Probe:
    page: Any
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cdp = self.page.context.new_cdp_session(self.page)
        self.t0 = time.monotonic()

    def sample(self) -> Sample:
        t = time.perf_counter()
        s = self.page.evaluate(STATUS_JS)
        rtt = time.perf_counter() - t
        heap = float(self.cdp.send("Runtime.getHeapUsage")["usedSize"])
        out = Sample(time.monotonic() - self.t0, rtt, heap, s["conn"], int(s["received"]), int(s["rates"]),
                     s["status"], int(s["panel"]))
        self.samples.append(out)
        return out

    def until(self, done: Any, timeout: float, period: float = 0.2) -> Sample:
        """Sample until ``done(sample)`` (returns that sample) or ``timeout`` s (AssertionError)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.sample()
            if done(s):
                return s
            assert time.monotonic() < deadline, f"timed out; last sample {s}"
            time.sleep(period)

    def figures(self, since: float = 0.0, until: float = np.inf) -> dict[str, float]:
        """Round trips (s) p50/p95/max, heap max (MB) and disconnected samples in a time span of the probe."""
        ss = [s for s in self.samples if since <= s.t <= until] or self.samples
        rtt = np.array([s.rtt for s in ss])
        return {"samples": len(ss), "rtt_p50": float(np.percentile(rtt, 50)), "rtt_p95": float(np.percentile(rtt, 95)),
                "rtt_max": float(rtt.max()), "heap_max_mb": max(s.heap for s in ss) / 1e6,
                "disconnected": sum(s.conn != "connected" for s in ss)}


def page_image(page: Any, root: str = ".mk-live-raster") -> np.ndarray:
    """The RGB pixels of the raster image the page shows (the PNG behind its SVG ``<image>``)."""
    import base64
    import io

    from PIL import Image
    b64 = page.evaluate("""async (root) => {
        const img = document.querySelector(root + ' .bqplot.figure image');
        const url = img.getAttribute('href') || img.getAttribute('xlink:href');
        const buf = new Uint8Array(await (await fetch(url)).arrayBuffer());
        let s = ''; for (let i = 0; i < buf.length; i++) s += String.fromCharCode(buf[i]);
        return btoa(s);
    }""", root)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


def reference_rgb(keys: list[str], spikes: dict[str, tuple[np.ndarray, np.ndarray]], offsets: dict[str, int],
                  view: dict) -> np.ndarray:
    """The image a raster of ``spikes`` (``{key: (ids, times_ms)}``) must show: ``np.histogram2d`` per legend
    entry on the raster's grid (``view``: ``t_range``, ``row_range``, ``shape``), coloured as documented."""
    from modelkit.analysis.binning import density_rgb
    from modelkit.widgets._deps import PALETTE
    ny, nx = view["shape"]
    counts = np.zeros((len(keys), ny, nx), np.int64)
    for k, key in enumerate(keys):
        ids, ts = spikes[key]
        counts[k] = np.histogram2d(ids + offsets[key], ts, bins=(ny, nx),
                                   range=(view["row_range"], view["t_range"]))[0]
    colors = [PALETTE[k % len(PALETTE)] for k in range(len(keys))]
    return density_rgb(counts, [(int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)) for c in colors])
