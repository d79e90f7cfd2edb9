"""The earlier runs a LiveRaster keeps (``keep``): faint dots with the current run's, named in its legend.

Each kept run is its spikes as raster coordinates (time ms, stacked row), at most :data:`KEPT_POINTS` of them
(an even stride over a larger run), drawn as one light, transparent image (a dot per spike, the points' size)
whatever the spike count: placed before the current marks, it is under SVG points; WebGL points are drawn in a
canvas under the figure's SVG, so there the faint image lies over them (drawing the earlier runs as WebGL
points instead made every redraw of the page slower, run after run). When the current run is binned to an
image, the earlier runs are blended into that image's empty pixels in the kernel.
"""

from __future__ import annotations

import html
import struct
import zlib
from typing import Any

import numpy as np

from modelkit.analysis.binning import raster_counts
from modelkit.widgets._deps import require

bq = require("bqplot")
ipw = require("ipywidgets")

#: colours of the earlier runs, drawn with opacity :data:`KEPT_ALPHA`
KEPT_COLORS = ("#a0a0a0", "#c49c94", "#c5b0d5", "#dbdb8d", "#9edae5")  # light: under the current run
KEPT_ALPHA = 0.4
#: points kept of an earlier run at most
KEPT_POINTS = 200_000


def png_rgba(rgba: np.ndarray) -> bytes:
    """An RGBA image (uint8, shape (h, w, 4), row 0 at the top) as PNG bytes (zlib level 1, no filter)."""
    h, w, _ = rgba.shape
    raw = np.empty((h, 1 + 4 * w), np.uint8)
    raw[:, 0] = 0
    raw[:, 1:] = rgba.reshape(h, 4 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def _dots(x: np.ndarray, y: np.ndarray, t_range: tuple[float, float], row_range: tuple[float, float],
          shape: tuple[int, int]) -> np.ndarray:
    """Pixels (row 0 at the top) with a spike, each grown to its 8 neighbours: dots about as large as points."""
    hit = raster_counts(x, y, n_groups=1, t_range=t_range, row_range=row_range, shape=shape)[0][::-1] > 0
    grown = hit.copy()
    grown[1:] |= hit[:-1]
    grown[:-1] |= hit[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    return grown


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)], np.float64)


class KeptRuns:
    """The earlier runs of one raster: their points, marks and legend entries."""

    def __init__(self, scales: dict[str, Any]) -> None:
        self.scales = scales
        self.runs: list[dict[str, Any]] = []

    def add(self, label: str, ts: np.ndarray, rows: np.ndarray, limit: int, view: tuple) -> None:
        """Keep a run (its spike times, ms, and raster rows, and the view ``(t_range, row_range, shape)`` it was
        shown in), dropping the oldest beyond ``limit`` runs."""
        n = len(ts)
        step = max(1, int(np.ceil(n / KEPT_POINTS)))
        used = {r["color"] for r in self.runs[-(limit - 1):]} if limit > 1 else set()
        color = next((c for c in KEPT_COLORS if c not in used), KEPT_COLORS[0])
        self.runs.append({"label": label, "n": n, "color": color, "x": np.asarray(ts[::step], np.float32),
                          "y": np.asarray(rows[::step], np.float32), "marks": {}, "home": view})
        while len(self.runs) > limit:
            self._close(self.runs.pop(0))

    def forget(self) -> None:
        """Drop every kept run (their marks closed)."""
        while self.runs:
            self._close(self.runs.pop(0))

    @staticmethod
    def _close(run: dict[str, Any]) -> None:
        for m in run["marks"].values():
            m.image.close()
            m.close()

    def marks(self, view: tuple | None = None) -> list[Any]:
        """The kept runs' images for the view ``(t_range, row_range, shape)`` (default: each run's own), oldest
        first, remade when the view changed: they go before the current marks."""
        out = []
        for run in self.runs:
            t_range, row_range, shape = view if view is not None else run["home"]
            key = (tuple(t_range), tuple(row_range), tuple(shape))
            mark = run["marks"].get("image")
            if mark is None or run.get("view") != key:
                rgba = np.zeros((*shape, 4), np.uint8)
                rgba[..., :3] = _rgb(run["color"]).astype(np.uint8)
                rgba[..., 3] = np.where(_dots(run["x"], run["y"], t_range, row_range, shape), int(255 * KEPT_ALPHA),
                                        0).astype(np.uint8)
                png = ipw.Image(format="png", value=png_rgba(rgba))
                if mark is None:
                    mark = run["marks"]["image"] = bq.Image(image=png, scales=self.scales, x=list(t_range),
                                                            y=list(row_range))
                else:  # bqplot redraws an Image mark when its image widget is replaced
                    old = mark.image
                    with mark.hold_sync():
                        mark.image, mark.x, mark.y = png, list(t_range), list(row_range)
                    old.close()
                run["view"] = key
            out.append(mark)
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
            m = _dots(run["x"], run["y"], t_range, row_range, shape) & empty
            out[m] = out[m] * (1 - KEPT_ALPHA) + _rgb(run["color"]) * KEPT_ALPHA
        return np.ascontiguousarray(np.rint(out).astype(np.uint8))

    def legend_items(self) -> list[str]:
        """HTML legend entries, the latest earlier run first (class ``mk-legend-kept``)."""
        return [f"<span class='mk-legend-item mk-legend-kept' data-key='{html.escape(r['label'], True)}' "
                f"style='margin-right:14px;white-space:nowrap'><span style='display:inline-block;width:10px;"
                f"height:10px;border-radius:5px;background:{r['color']};opacity:{KEPT_ALPHA};margin-right:4px'>"
                f"</span>earlier: {html.escape(r['label'])} <span style='color:#888'>({r['n']:,})</span></span>"
                for r in reversed(self.runs)]
