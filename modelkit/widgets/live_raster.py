"""LiveRaster: a spike raster that grows while a simulation runs; its cost follows pixels, not spikes.

What goes to the browser, and why. An SVG raster of ~10^4 points a redraw froze a browser tab on a
two-minute run (``PLATFORM.md`` §8), and any point-per-spike drawing grows with the run. So:

* all spikes stay in the kernel (here and in the run's :class:`~modelkit.analysis.SpikeTable`);
* while the spikes in view are at most ``max_points``, they are drawn as points: WebGL (bqplot-gl
  ``ScatterGL``) where the page has it, else SVG;
* above that, the view is binned in the kernel to the plot's pixel grid (:func:`modelkit.analysis.binning.
  raster_counts`: spikes per pixel row and time bin, per colour group, as datashader does) and sent as
  one PNG image (a few tens of kB whatever the spike count). While a run is followed the bins are
  updated with each block's spikes only (O(new spikes));
* zooming or panning (mouse wheel, drag) re-bins the new view from every spike; ``Follow run`` goes back;
* redraws are coalesced: at most ``max_rate`` Hz, under ``byte_rate`` bytes/s, and never more than one
  not yet drawn by the page (:mod:`modelkit.widgets._frame`);
* the legend is HTML beside the plot, so it is the same in SVG, WebGL and image modes and covers no data.
"""

from __future__ import annotations

import html
import struct
import threading
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.analysis.binning import density_rgb, raster_counts
from modelkit.widgets._deps import PALETTE, checked, require
from modelkit.widgets._frame import FramePage
from modelkit.widgets._kept import KEPT_COLORS, KeptRuns
from modelkit.widgets.feed import Block, FedView, Feed, Grow, Source, groups_and_sizes

if TYPE_CHECKING:
    from modelkit.cluster import LiveRun
    from modelkit.sonata import Network

ipw = require("ipywidgets")
bq = require("bqplot")
traitlets = require("traitlets")

__all__ = ["LiveRaster", "MAX_POINTS", "png_rgb"]

#: bound of ``max_points`` and ``gl_threshold``
MAX_POINTS = 10_000_000
#: plot height (CSS px) and margins around the plot area (px)
HEIGHT = 360
MARGIN = {"top": 30, "bottom": 40, "left": 60, "right": 16}
#: plot width assumed until a page reports one (px)
DEFAULT_WIDTH = 800
#: most pixels of a binned image a side (a very wide page does not make a huge image)
MAX_SIDE = 4096


def png_rgb(rgb: np.ndarray) -> bytes:
    """Encode an RGB image as PNG (zlib level 1: fast, and raster images compress well).

    Parameters
    ----------
    rgb : ndarray of uint8, shape (h, w, 3)
        The image, row 0 at the top.

    Returns
    -------
    bytes
        The PNG file's bytes (8-bit RGB, no filter).
    """
    h, w, _ = rgb.shape
    raw = np.empty((h, 1 + 3 * w), np.uint8)
    raw[:, 0] = 0  # filter type None per row
    raw[:, 1:] = rgb.reshape(h, 3 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _nice(t: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above ``t`` (a time axis that grows seldom)."""
    if t <= 0:
        return 1.0
    k = 10.0 ** np.floor(np.log10(t))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * k >= t:
            return float(m * k)
    return float(10 * k)


class LiveRaster(ipw.VBox, FedView):
    """A raster plot (time x node) fed live by a run, coloured by population, or by a node attribute.

    Parameters
    ----------
    source : LiveRun or iterable of (population, node_ids, times_ms), optional
        What to follow (see :meth:`attach`).
    sizes : mapping of str to int, optional
        Nodes per population: rows are stacked population after population (default: the network's
        population sizes, else by the largest id seen so far).
    title : str
        Figure title.
    network : Network, optional
        The network the spikes come from (``modelkit.load(config)``): gives the rows of each population,
        and the node attribute ``group_by`` reads.
    group_by : str, optional
        A node attribute (``pop_name``, ``ei``, ...): one colour and legend entry per value, within each
        population (nodes of a population without the attribute keep the population's colour).
    **traits
        ``max_points``, ``window``, ``gl_threshold``, ``max_rate``, ``byte_rate``, ``renderer``.

    Attributes
    ----------
    view : dict
        What the figure shows: ``t_range`` (ms), ``row_range``, ``shape`` (pixel rows, time bins) of the
        binned image, ``keys`` (legend entries, in colour order) and ``colors``.

    Examples
    --------
    >>> raster = LiveRaster(network=modelkit.load(cfg), group_by="pop_name")   # doctest: +SKIP
    >>> run = run_on_cluster(cfg, cluster=rc)              # doctest: +SKIP
    >>> raster.attach(run); raster                         # doctest: +SKIP
    """

    n_received = traitlets.Int(0, help="spikes received from the source").tag(sync=True)
    n_shown = traitlets.Int(0, help="spikes in view (drawn as points, or binned into the image)").tag(sync=True)
    renderer = traitlets.Unicode("svg", help="'svg', 'webgl' (points) or 'image' (binned)").tag(sync=True)
    max_points = traitlets.Int(20_000, help="spikes in view drawn as points at most; above, binned").tag(sync=True)
    window = traitlets.Float(0.0, help="show the last `window` ms only (0: the whole run)").tag(sync=True)
    gl_threshold = traitlets.Int(0, help="points drawn with SVG at most where the page has WebGL").tag(sync=True)
    max_rate = traitlets.Float(10.0, help="redraws per second at most (Hz)").tag(sync=True)
    byte_rate = traitlets.Float(2_000_000.0, help="bytes per second sent to the browser at most").tag(sync=True)
    keep = traitlets.Int(0, help="earlier runs kept under the current one as faint overlays").tag(sync=True)
    run_label = traitlets.Unicode("", help="what the next run attached is (the legend of its overlay once "
                                           "it is an earlier run)").tag(sync=True)

    @traitlets.validate("max_points")
    def _positive_int(self, proposal: Any) -> int:
        return checked(proposal, 1 <= proposal["value"] <= MAX_POINTS, f"in [1, {MAX_POINTS:,}]")

    @traitlets.validate("gl_threshold")
    def _non_negative_int(self, proposal: Any) -> int:
        return checked(proposal, 0 <= proposal["value"] <= MAX_POINTS, f"in [0, {MAX_POINTS:,}]")

    @traitlets.validate("keep")
    def _keep_range(self, proposal: Any) -> int:
        return checked(proposal, 0 <= proposal["value"] <= len(KEPT_COLORS), f"in [0, {len(KEPT_COLORS)}]")

    @traitlets.validate("window", "max_rate", "byte_rate")
    def _non_negative(self, proposal: Any) -> float:
        v = proposal["value"]
        return checked(proposal, not (v < 0 or (proposal["trait"].name != "window" and v == 0)), "positive")

    def __init__(self, source: Source | None = None, *, sizes: Mapping[str, int] | None = None,
                 title: str = "Spikes", network: Network | None = None, group_by: str | None = None,
                 **traits: Any) -> None:
        self._groups, sizes = groups_and_sizes(network, group_by, sizes, "LiveRaster")
        self._x = bq.LinearScale(allow_padding=False)
        self._y = bq.LinearScale(allow_padding=False)
        self._axes = [bq.Axis(scale=self._x, label="time (ms)"),
                      bq.Axis(scale=self._y, side="left", label="node (stacked by population)")]
        self._png = ipw.Image(format="png", value=b"")
        self._image = bq.Image(image=self._png, scales={"x": self._x, "y": self._y}, x=[0.0, 1.0], y=[0.0, 1.0])
        self.figure = bq.Figure(marks=[], axes=self._axes, title=title, animation_duration=0, fig_margin=MARGIN,
                                interaction=bq.interacts.PanZoom(scales={"x": [self._x], "y": [self._y]}),
                                layout=ipw.Layout(width="100%", height=f"{HEIGHT}px"))
        self.label = ipw.HTML()
        self.label.add_class("mk-live-raster-count")
        self.legend = ipw.HTML(layout=ipw.Layout(margin="0 0 0 60px"))
        self.legend.add_class("mk-live-raster-legend")
        self.follow_button = ipw.Button(description="Follow run", icon="arrows-h", disabled=True,
                                        tooltip="back to the whole run after a zoom or pan",
                                        layout=ipw.Layout(width="auto"))
        self.follow_button.add_class("mk-live-raster-follow")
        self.page = FramePage()
        super().__init__(children=[self.figure, self.legend,
                                   ipw.HBox([self.follow_button, self.label],
                                            layout=ipw.Layout(margin="0 0 0 60px", align_items="center")),
                                   self.page], **traits)
        self.add_class("mk-live-raster")
        self._sizes = sizes
        self._lock = threading.RLock()
        self._ids: dict[str, Grow] = {}
        self._ts: dict[str, Grow] = {}
        self._keys_of: dict[str, Grow] = {}
        self._block_end: dict[str, Grow] = {}  # index after each block, and the block's latest time
        self._block_tmax: dict[str, Grow] = {}
        self._max_id: dict[str, int] = {}
        self._keys: list[str] = []
        self._marks: dict[str, Any] = {}
        self._t_max = -np.inf
        self._tstop: Callable[[], float] | None = None  # the run's end (ms), when following a run
        self._interval: tuple[float, float] | None = None
        self._zoom: tuple[float, float, float, float] | None = None
        self._setting_scales = False
        self._bins: dict[str, Any] = {}
        self.view: dict[str, Any] = {}
        self._kept = KeptRuns({"x": self._x, "y": self._y})
        self._label_now = ""
        self.feed = Feed(self._apply, max_rate=self.max_rate, byte_rate=self.byte_rate, gate=self.page)
        for scale in (self._x, self._y):
            scale.observe(self._zoomed, names=["min", "max"])
        self.follow_button.on_click(lambda _b: self.show())
        self.page.observe(lambda _c: self.feed.redraw_soon(), names=["width_px", "webgl"])
        self._render()
        if source is not None:
            self.attach(source)

    @traitlets.observe("max_rate", "byte_rate")
    def _rates_changed(self, change: Any) -> None:
        if hasattr(self, "feed"):
            setattr(self.feed, change["name"], float(change["new"]))

    @traitlets.observe("window", "max_points", "gl_threshold", "renderer")
    def _view_changed(self, change: Any) -> None:
        if hasattr(self, "feed") and not getattr(self, "_rendering", False):
            self.feed.flush()

    # ------------------------------------------------------------------ sources
    def _attached(self, run: LiveRun | None) -> None:
        with self._lock:
            self._keep_current()
            self._label_now = self.run_label
        self._tstop = (lambda: run.progress.tstop) if run is not None else None

    @property
    def kept(self) -> list[dict[str, Any]]:
        """The earlier runs drawn under the current one (``keep``), oldest first: ``label``, ``n`` (spikes),
        ``color``."""
        return [{k: r[k] for k in ("label", "n", "color")} for r in self._kept.runs]

    def _keep_current(self) -> None:
        """The spikes received become an earlier run, drawn faint under the next ones (``keep`` > 0)."""
        n = int(sum(g.n for g in self._ids.values()))
        if self.keep <= 0 or n == 0:
            return
        offsets = self._offsets()
        pops = list(self._ids)
        ts = np.concatenate([self._ts[p].values for p in pops])
        rows = np.concatenate([self._ids[p].values.astype(np.int64) + offsets[p] for p in pops])
        t0, t1, r0, r1, _ = self._ranges(offsets)
        self._kept.add(self._label_now or f"run {len(self._kept.runs) + 1}", ts, rows, self.keep,
                       ((t0, t1), (r0, r1), self._shape()))

    def forget_kept(self) -> None:
        """Drop the earlier runs drawn under the current one."""
        with self._lock:
            self._kept.forget()
        self.feed.flush()

    def clear(self) -> None:
        """Forget every spike and mark (the next source starts from an empty figure, but for the overlays of
        earlier runs that ``keep`` keeps: :meth:`forget_kept` drops them)."""
        with self._lock:
            for d in (self._ids, self._ts, self._keys_of, self._block_end, self._block_tmax, self._max_id,
                      self._bins):  # the marks stay, for the next run's points
                d.clear()
            self._keys = []
            self._t_max = -np.inf
            self._interval = None
            self._zoom = None
            with self.hold_sync():
                self.figure.marks = self._kept.marks()  # as they were shown, until the next draw
                self.n_received = 0
                self.n_shown = 0
            self._legend(np.zeros(0))
            self._label()

    def show(self, t0: float | None = None, t1: float | None = None) -> None:
        """Show the spikes of a time interval, in full (binned above ``max_points``); ``show()``: the whole run.

        Parameters
        ----------
        t0, t1 : float, optional
            The interval ``[t0, t1)`` (ms); an omitted end is open (from 0, up to the latest spike).
            Both omitted: follow the run again (what "Follow run" does).
        """
        with self._lock:
            self._zoom = None
            self._interval = None if t0 is None and t1 is None else (
                -np.inf if t0 is None else float(t0), np.inf if t1 is None else float(t1))
        self.feed.flush()

    def spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every spike received, ``{population: (node_ids, times_ms)}`` (copies)."""
        with self._lock:
            return {p: (self._ids[p].values.astype(np.int64), self._ts[p].values.copy()) for p in self._ids}

    def _zoomed(self, change: Any) -> None:
        """A scale's min or max changed in the page (PanZoom): show that view, re-binned."""
        if self._setting_scales or change["new"] is None:
            return
        with self._lock:
            x0, x1 = self._x.min, self._x.max
            y0, y1 = self._y.min, self._y.max
            if None in (x0, x1, y0, y1) or not (x1 > x0 and y1 > y0):
                return
            self._zoom = (float(x0), float(x1), float(y0), float(y1))
        self.feed.redraw_soon()

    # ------------------------------------------------------------------ ingest
    def _key_index(self, key: str) -> int:
        if key not in self._keys:
            self._keys.append(key)
        return self._keys.index(key)

    def _apply(self, blocks: list[Block]) -> int:
        with self._lock:
            for pop, ids, ts in blocks:
                if pop not in self._ids:
                    for d, dt in ((self._ids, np.int32), (self._ts, np.float64), (self._keys_of, np.int16),
                                  (self._block_end, np.int64), (self._block_tmax, np.float64)):
                        d[pop] = Grow(dt)
                    if pop not in self._groups:
                        self._key_index(pop)
                if not len(ids):
                    continue
                ids = np.asarray(ids, np.int64)
                ts = np.asarray(ts, np.float64)
                self._ids[pop].extend(ids.astype(np.int32))
                self._ts[pop].extend(ts)
                self._keys_of[pop].extend(self._codes(pop, ids))
                self._block_end[pop].extend(np.array([self._ids[pop].n]))
                tmax = float(ts.max())
                prev = self._block_tmax[pop].values
                self._block_tmax[pop].extend(np.array([max(tmax, float(prev[-1]) if len(prev) else tmax)]))
                self._max_id[pop] = max(self._max_id.get(pop, -1), int(ids.max()))
                self._t_max = max(self._t_max, tmax)
            return self._render()

    def _codes(self, pop: str, ids: np.ndarray) -> np.ndarray:
        """Legend entry (colour) of each spike."""
        group = self._groups.get(pop)
        if group is None:
            return np.full(len(ids), self._key_index(pop), np.int16)
        codes, labels = group
        code = np.where((ids >= 0) & (ids < len(codes)), codes[np.clip(ids, 0, max(len(codes) - 1, 0))], -1) \
            if len(codes) else np.full(len(ids), -1)
        out = np.empty(len(ids), np.int16)
        for c in sorted(np.unique(code), key=lambda c: (c < 0, c)):  # "?" after the attribute's values
            out[code == c] = self._key_index(f"{pop}: {labels[c]}" if c >= 0 else f"{pop}: ?")
        return out

    # ------------------------------------------------------------------ view
    def _offsets(self) -> dict[str, int]:
        off, y = {}, 0
        for pop in self._ids:
            off[pop] = y
            y += int(self._sizes.get(pop, self._max_id.get(pop, -1) + 1))
        # an id beyond its population's size is still drawn (above the stack), never silently cut off
        off[""] = max([y] + [off[p] + self._max_id.get(p, -1) + 1 for p in self._ids])
        return off

    def _ranges(self, offsets: dict[str, int]) -> tuple[float, float, float, float, bool]:
        """``(t0, t1, row0, row1, live)``: the view; live when it follows the run (incremental bins)."""
        if self._zoom is not None:
            return (*self._zoom, False)
        rows = (-0.5, max(offsets[""], 1) - 0.5)
        t_hi = self._t_max if np.isfinite(self._t_max) else 0.0
        if self._interval is not None:
            lo, hi = self._interval
            lo = lo if np.isfinite(lo) else 0.0
            hi = hi if np.isfinite(hi) else max(_nice(t_hi), lo + 1.0)
            return lo, hi, *rows, False
        if self.window > 0:
            return t_hi - self.window, max(t_hi, t_hi - self.window + 1e-9), *rows, False
        tstop = None
        if self._tstop is not None:
            try:
                tstop = float(self._tstop())
            except Exception:  # the run's progress only sets the axis; without it the axis follows the spikes
                tstop = None
        if tstop is None or not tstop > 0 or tstop < t_hi:
            tstop = _nice(t_hi)
        return 0.0, tstop, *rows, True

    def _shape(self) -> tuple[int, int]:
        width = self.page.width_px or DEFAULT_WIDTH
        nx = int(np.clip(width - MARGIN["left"] - MARGIN["right"], 16, MAX_SIDE))
        ny = int(np.clip(HEIGHT - MARGIN["top"] - MARGIN["bottom"], 16, MAX_SIDE))
        return ny, nx

    def _first_index(self, pop: str, t0: float) -> int:
        """Index of the first spike of ``pop`` in a block that may hold times >= t0 (blocks arrive in time order)."""
        tmax = self._block_tmax[pop].values
        k = int(np.searchsorted(tmax, t0, side="left"))
        if k == 0:
            return 0
        return int(self._block_end[pop].values[k - 1])

    def _bin(self, t0: float, t1: float, r0: float, r1: float, live: bool, offsets: dict[str, int]) -> np.ndarray:
        """Counts of the view, added to since the last redraw when the view is unchanged."""
        shape = self._shape()
        key = (t0, t1, r0, r1, shape, tuple(offsets.items()))
        b = self._bins
        if not live or b.get("key") != key:
            b.clear()
            b.update(key=key, counts=np.zeros((max(len(self._keys), 1), *shape), np.int64), done={})
        counts = b["counts"]
        if counts.shape[0] < len(self._keys):  # a new legend entry: a new, empty layer
            counts = np.concatenate([counts, np.zeros((len(self._keys) - counts.shape[0], *shape), np.int64)])
            b["counts"] = counts
        for pop in self._ids:
            start = b["done"].get(pop, self._first_index(pop, t0))
            end = self._ids[pop].n
            if end > start:
                ts = self._ts[pop].values[start:end]
                rows = self._ids[pop].values[start:end].astype(np.int64) + offsets[pop]
                raster_counts(ts, rows, self._keys_of[pop].values[start:end], n_groups=counts.shape[0],
                              t_range=(t0, t1), row_range=(r0, r1), shape=shape, out=counts)
            b["done"][pop] = end
        return counts

    # ------------------------------------------------------------------ drawing
    def _render(self) -> int:
        with self._lock:
            self._rendering = True
            try:
                return self._draw()
            finally:
                self._rendering = False

    def _draw(self) -> int:
        offsets = self._offsets()
        t0, t1, r0, r1, live = self._ranges(offsets)
        counts = self._bin(t0, t1, r0, r1, live, offsets)
        n_view = int(counts.sum())
        colors = [PALETTE[k % len(PALETTE)] for k in range(len(self._keys))]
        self.view = {"t_range": (t0, t1), "row_range": (r0, r1), "shape": counts.shape[1:],
                     "keys": list(self._keys), "colors": colors}
        webgl = bool(self.page.webgl)
        if n_view > self.max_points:
            renderer = "image"
            rgb = self._kept.under_image(density_rgb(counts, [_rgb(c) for c in colors] or [_rgb(PALETTE[0])]),
                                         (t0, t1), (r0, r1))
            data = png_rgb(rgb)
            sent = len(data)
            with self.hold_sync():
                self._set_scales(t0, t1, r0, r1)
                # bqplot's Image mark redraws when its image widget is replaced, not when that widget's
                # value changes: a new one per redraw, the old one closed (no widget left behind)
                old, self._png = self._png, ipw.Image(format="png", value=data)
                with self._image.hold_sync():
                    self._image.image = self._png
                    self._image.x = np.array([t0, t1])
                    self._image.y = np.array([r0, r1])
                old.close()
                if list(self.figure.marks) != [self._image]:
                    self.figure.marks = [self._image]
                self._finish(renderer, n_view)
        else:
            gl = webgl and n_view > self.gl_threshold
            renderer = "webgl" if gl else "svg"
            xs, ys = self._points(t0, t1, r0, r1, offsets)
            sent = 0
            with self.hold_sync():
                self._set_scales(t0, t1, r0, r1)
                keys = [k for k in self._keys if k in xs]
                for key in keys:
                    m = self._marks.get(key)
                    color = colors[self._keys.index(key)]
                    # a mark lives as long as the view (reused by the next run), and changes kind only to draw
                    # points: each new WebGL mark costs the page buffers that it may not give back
                    if m is None or ((type(m).__name__ == "ScatterGL") != gl and len(xs[key])):
                        if m is not None:
                            m.close()
                        m = self._marks[key] = self._new_mark(key, color, gl)
                    with m.hold_sync():
                        if list(m.colors) != [color]:
                            m.colors = [color]
                        m.x, m.y = xs[key], ys[key]
                    sent += xs[key].nbytes + ys[key].nbytes
                marks = self._kept.marks(((t0, t1), (r0, r1), self._shape())) + [self._marks[k] for k in keys]
                if list(self.figure.marks) != marks:
                    self.figure.marks = marks
                self._finish(renderer, n_view)
        self._legend(counts)
        self._label()
        self.page.frame()
        return sent

    def _finish(self, renderer: str, n_view: int) -> None:
        self.renderer = renderer
        self.n_received = int(sum(g.n for g in self._ids.values()))
        self.n_shown = n_view
        self.follow_button.disabled = self._zoom is None and self._interval is None

    def _set_scales(self, t0: float, t1: float, r0: float, r1: float) -> None:
        if self._zoom is not None:
            return  # the page's view: leave the scales where the user put them
        self._setting_scales = True
        try:
            self._x.min, self._x.max = float(t0), float(t1)
            self._y.min, self._y.max = float(r0), float(r1)
        finally:
            self._setting_scales = False

    def _points(self, t0: float, t1: float, r0: float, r1: float,
                offsets: dict[str, int]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Spikes in view, as float32 x (ms) and y (row) per legend entry."""
        xs: dict[str, list[np.ndarray]] = {}
        ys: dict[str, list[np.ndarray]] = {}
        for pop in self._ids:
            start = self._first_index(pop, t0)
            t = self._ts[pop].values[start:]
            rows = self._ids[pop].values[start:].astype(np.int64) + offsets[pop]
            keep = (t >= t0) & (t <= t1) & (rows >= r0) & (rows <= r1)
            k = self._keys_of[pop].values[start:][keep]
            x, y = t[keep].astype(np.float32), rows[keep].astype(np.float32)
            for c in np.unique(k):
                key = self._keys[int(c)]
                xs.setdefault(key, []).append(x[k == c])
                ys.setdefault(key, []).append(y[k == c])
        for key in self._keys:  # an entry without spikes in view still has its (empty) mark
            xs.setdefault(key, [])
            ys.setdefault(key, [])
        cat = {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in xs.items()}
        return cat, {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in ys.items()}

    def _new_mark(self, key: str, color: str, gl: bool) -> Any:
        kw = dict(scales={"x": self._x, "y": self._y}, colors=[color], default_size=4, labels=[key],
                  display_legend=False, x=np.zeros(0, np.float32), y=np.zeros(0, np.float32))
        if gl:
            return require("bqplot_gl").ScatterGL(**kw)
        return bq.Scatter(stroke_width=0, marker="circle", **kw)

    def _legend(self, counts: np.ndarray) -> None:
        per = counts.sum(axis=(1, 2)) if counts.size else np.zeros(0)
        items = []
        for k, key in enumerate(self._keys):
            n = int(per[k]) if k < len(per) else 0
            color = PALETTE[k % len(PALETTE)]
            items.append(f"<span class='mk-legend-item' data-key='{html.escape(key, quote=True)}' "
                         f"style='margin-right:14px;white-space:nowrap'><span style='display:inline-block;"
                         f"width:10px;height:10px;border-radius:5px;background:{color};margin-right:4px'></span>"
                         f"{html.escape(key)} <span style='color:#888'>({n:,})</span></span>")
        items += self._kept.legend_items()
        self.legend.value = f"<div style='display:flex;flex-wrap:wrap;font-size:12px'>{''.join(items)}</div>"

    def _label(self) -> None:
        err = self.feed.error if hasattr(self, "feed") else None
        extra = f" <span style='color:#b00'>source failed: {html.escape(str(err))}</span>" if err else ""
        how = {"image": "binned to the plot's pixels", "webgl": "drawn with WebGL", "svg": "drawn as SVG"}
        self.label.value = (f"<span class='mk-count' data-received='{self.n_received}' data-shown='{self.n_shown}' "
                            f"data-renderer='{self.renderer}'>{self.n_received:,} spikes received, "
                            f"{self.n_shown:,} in view</span> "
                            f"<span style='color:#888'>({how.get(self.renderer, self.renderer)})</span>{extra}")
