"""The earlier runs a LiveRaster keeps (``keep``): faint points under the current run's, named in its legend.

Each kept run is its spikes as raster coordinates (time ms, stacked row), at most :data:`KEPT_POINTS` of them
(an even stride over a larger run). They are drawn under the current run whatever its renderer: as points of
the same kind (SVG ``Scatter`` or WebGL ``ScatterGL``: a WebGL canvas sits under the figure's SVG, so an SVG
overlay would cover WebGL points) placed before the current marks, or, when the current run is binned to an
image, blended into that image's empty pixels in the kernel.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from modelkit.analysis.binning import raster_counts
from modelkit.widgets._deps import require

bq = require("bqplot")

#: colours of the earlier runs, drawn with opacity :data:`KEPT_ALPHA`
KEPT_COLORS = ("#a0a0a0", "#c49c94", "#c5b0d5", "#dbdb8d", "#9edae5")  # light: under the current run
KEPT_ALPHA = 0.35
#: points kept of an earlier run at most
KEPT_POINTS = 200_000


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)], np.float64)


class KeptRuns:
    """The earlier runs of one raster: their points, marks and legend entries."""

    def __init__(self, scales: dict[str, Any]) -> None:
        self.scales = scales
        self.runs: list[dict[str, Any]] = []

    def add(self, label: str, ts: np.ndarray, rows: np.ndarray, limit: int) -> None:
        """Keep a run (its spike times, ms, and raster rows), dropping the oldest beyond ``limit`` runs."""
        n = len(ts)
        step = max(1, int(np.ceil(n / KEPT_POINTS)))
        used = {r["color"] for r in self.runs[-(limit - 1):]} if limit > 1 else set()
        color = next((c for c in KEPT_COLORS if c not in used), KEPT_COLORS[0])
        self.runs.append({"label": label, "n": n, "color": color, "x": np.asarray(ts[::step], np.float32),
                          "y": np.asarray(rows[::step], np.float32), "marks": {}})
        while len(self.runs) > limit:
            self._close(self.runs.pop(0))

    def forget(self) -> None:
        """Drop every kept run (their marks closed)."""
        while self.runs:
            self._close(self.runs.pop(0))

    @staticmethod
    def _close(run: dict[str, Any]) -> None:
        for m in run["marks"].values():
            m.close()

    def marks(self, gl: bool) -> list[Any]:
        """The kept runs' marks of one kind (WebGL or SVG points), oldest first: what goes under the current run."""
        out = []
        for run in self.runs:
            m = run["marks"].get(gl)
            if m is None:
                kw = dict(scales=self.scales, colors=[run["color"]], default_size=4, opacities=[KEPT_ALPHA],
                          labels=[run["label"]], display_legend=False, x=run["x"], y=run["y"])
                m = run["marks"][gl] = require("bqplot_gl").ScatterGL(**kw) if gl else \
                    bq.Scatter(stroke_width=0, marker="circle", **kw)
            out.append(m)
        return out

    def under_image(self, rgb: np.ndarray, t_range: tuple[float, float], row_range: tuple[float, float],
                    background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
        """``rgb`` (a binned raster, row 0 at the top) with the kept runs blended into its background pixels."""
        if not self.runs:
            return rgb
        shape = rgb.shape[:2]
        empty = np.all(rgb == np.asarray(background, np.uint8), axis=2)
        out = rgb.astype(np.float64)
        for run in self.runs:
            counts = raster_counts(run["x"], run["y"], n_groups=1, t_range=t_range, row_range=row_range,
                                   shape=shape)[0][::-1]
            hit = counts > 0
            grown = hit.copy()  # a dot about as large as the points (4 px), not one pixel
            grown[1:] |= hit[:-1]
            grown[:-1] |= hit[1:]
            grown[:, 1:] |= grown[:, :-1].copy()
            grown[:, :-1] |= grown[:, 1:].copy()
            m = grown & empty
            out[m] = out[m] * (1 - KEPT_ALPHA) + _rgb(run["color"]) * KEPT_ALPHA
        return np.ascontiguousarray(np.rint(out).astype(np.uint8))

    def legend_items(self) -> list[str]:
        """HTML legend entries, the latest earlier run first (class ``mk-legend-kept``)."""
        return [f"<span class='mk-legend-item mk-legend-kept' data-key='{html.escape(r['label'], True)}' "
                f"style='margin-right:14px;white-space:nowrap'><span style='display:inline-block;width:10px;"
                f"height:10px;border-radius:5px;background:{r['color']};opacity:{KEPT_ALPHA};margin-right:4px'>"
                f"</span>earlier: {html.escape(r['label'])} <span style='color:#888'>({r['n']:,})</span></span>"
                for r in reversed(self.runs)]
