"""LiveRaster: a spike raster that grows while a simulation runs (bqplot; WebGL marks for large counts).

What goes to the browser, and why. bqplot sends a mark's ``x`` / ``y`` as binary buffers and a change
replaces the whole array, so every redraw resends every point shown. At 10^6 spikes that is 8 MB per
redraw (float32 x and y), far above what the Jupyter server forwards (``iopub_data_rate_limit``, 10^6
bytes/s by default) and more than an SVG raster can pan smoothly. So:

* all spikes stay in the kernel (here and in the run's :class:`~modelkit.analysis.SpikeTable`);
* the browser gets at most ``max_points`` of them: those in the last ``window`` ms (all when
  ``window`` is 0), thinned by a fixed pseudo-random key per spike when there are more (the same spikes
  stay shown from one redraw to the next, and every population is thinned by the same factor, so
  densities compare);
* redraws are coalesced to <= ``max_rate`` Hz and spaced so that the bytes sent stay under
  ``byte_rate`` (see :mod:`modelkit.widgets.feed`);
* above ``gl_threshold`` points shown, the marks switch from SVG ``Scatter`` to bqplot-gl ``ScatterGL``
  (WebGL), which pans and zooms 10^5-10^6 points interactively.

After (or during) a run, narrow ``window`` or call :meth:`show` to look at an interval in full detail.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelkit.widgets._deps import PALETTE, require
from modelkit.widgets.feed import Block, FedView, Feed, Grow

ipw = require("ipywidgets")
bq = require("bqplot")
traitlets = require("traitlets")

__all__ = ["LiveRaster", "thin_mask", "MAX_POINTS"]

#: most spikes the widget sends to the browser (``max_points``, ``gl_threshold``)
MAX_POINTS = 10_000_000


def thin_mask(start: int, n: int, keep: float) -> np.ndarray:
    """Keep about ``keep`` (0..1) of spikes ``start..start+n-1``: a fixed pseudo-random choice per index.

    The key of spike ``i`` is a multiplicative hash of ``i``, so a spike shown once stays shown for as
    long as ``keep`` does not shrink.
    """
    if keep >= 1.0:
        return np.ones(n, dtype=bool)
    i = np.arange(start, start + n, dtype=np.uint64)
    key = (i * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)  # top 24 bits of a Fibonacci hash
    return key < np.uint64(int(keep * (1 << 24)))


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
        ``max_points``, ``window``, ``gl_threshold``, ``max_rate``, ``byte_rate``.

    Examples
    --------
    >>> raster = LiveRaster(network=modelkit.load(cfg), group_by="pop_name")   # doctest: +SKIP
    >>> run = run_on_cluster(cfg, cluster=rc)              # doctest: +SKIP
    >>> raster.attach(run); raster                         # doctest: +SKIP
    """

    n_received = traitlets.Int(0, help="spikes received from the source").tag(sync=True)
    n_shown = traitlets.Int(0, help="spikes drawn in the browser (<= max_points)").tag(sync=True)
    renderer = traitlets.Unicode("svg", help="'svg' (bqplot Scatter) or 'webgl' (bqplot-gl ScatterGL)").tag(sync=True)
    max_points = traitlets.Int(200_000, help="spikes sent to the browser at most").tag(sync=True)
    window = traitlets.Float(0.0, help="show the last `window` ms only (0: the whole run)").tag(sync=True)
    gl_threshold = traitlets.Int(20_000, help="above this many points shown, draw with WebGL").tag(sync=True)
    max_rate = traitlets.Float(30.0, help="redraws per second at most (Hz)").tag(sync=True)
    byte_rate = traitlets.Float(500_000.0, help="bytes per second sent to the browser at most").tag(sync=True)

    @traitlets.validate("max_points", "gl_threshold")
    def _positive_int(self, proposal: Any) -> int:
        # bounded above too: the browser holds every point sent, and a kernel-side request of
        # 10**12 would make the widget copy every spike of a long run on each redraw
        if not 1 <= proposal["value"] <= MAX_POINTS:
            raise traitlets.TraitError(f"{proposal['trait'].name} must be in [1, {MAX_POINTS:,}], "
                                       f"got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("window", "max_rate", "byte_rate")
    def _non_negative(self, proposal: Any) -> float:
        v = proposal["value"]
        if v < 0 or (proposal["trait"].name != "window" and v == 0):
            raise traitlets.TraitError(f"{proposal['trait'].name} must be positive, got {v}")
        return v

    def __init__(self, source: Any = None, *, sizes: Mapping[str, int] | None = None, title: str = "Spikes",
                 network: Any = None, group_by: str | None = None, **traits: Any) -> None:
        if group_by is not None and network is None:
            raise ValueError("LiveRaster(group_by=...) reads the attribute from the network: pass "
                             "network=modelkit.load(config) too")
        self._groups = _node_groups(network, group_by) if group_by is not None else {}
        if network is not None and sizes is None:
            sizes = {name: int(pop.size) for name, pop in network.nodes.items()}
        self._x = bq.LinearScale()
        self._y = bq.LinearScale()
        self._axes = [bq.Axis(scale=self._x, label="time (ms)"),
                      bq.Axis(scale=self._y, side="left", label="node (stacked by population)")]
        self.figure = bq.Figure(marks=[], axes=self._axes, title=title, animation_duration=0,
                                fig_margin={"top": 40, "bottom": 40, "left": 60, "right": 110},
                                interaction=bq.interacts.PanZoom(scales={"x": [self._x], "y": [self._y]}),
                                layout=ipw.Layout(width="100%", height="360px"))
        self.label = ipw.HTML(layout=ipw.Layout(margin="0 0 0 60px"))
        self.label.add_class("mk-live-raster-count")
        super().__init__(children=[self.figure, self.label], **traits)
        self.add_class("mk-live-raster")
        self._sizes = dict(sizes or {})
        self._lock = threading.RLock()
        self._ids: dict[str, Grow] = {}
        self._ts: dict[str, Grow] = {}
        self._max_id: dict[str, int] = {}
        self._marks: dict[str, Any] = {}
        self._t_max = -np.inf
        self._interval: tuple[float, float] | None = None
        self.feed = Feed(self._apply, max_rate=self.max_rate, byte_rate=self.byte_rate)
        self._render()
        if source is not None:
            self.attach(source)

    @traitlets.observe("max_rate", "byte_rate")
    def _rates_changed(self, change: Any) -> None:
        if hasattr(self, "feed"):
            setattr(self.feed, change["name"], float(change["new"]))

    @traitlets.observe("window", "max_points", "gl_threshold")
    def _view_changed(self, change: Any) -> None:
        if hasattr(self, "feed"):
            self.feed.flush()

    # ------------------------------------------------------------------ sources
    def clear(self) -> None:
        """Forget every spike and mark (the next source starts from an empty figure)."""
        with self._lock:
            self._ids.clear()
            self._ts.clear()
            self._max_id.clear()
            self._marks.clear()
            self._t_max = -np.inf
            self._interval = None
            with self.hold_sync():
                self.figure.marks = []
                self.n_received = 0
                self.n_shown = 0
                self.renderer = "svg"
            self._label()

    def show(self, t0: float | None = None, t1: float | None = None) -> None:
        """Draw only spikes in ``[t0, t1)`` ms (still at most ``max_points``); ``show()`` goes back to live."""
        with self._lock:
            self._interval = None if t0 is None and t1 is None else (
                -np.inf if t0 is None else float(t0), np.inf if t1 is None else float(t1))
        self.feed.flush()

    def spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every spike received, ``{population: (node_ids, times_ms)}`` (copies)."""
        with self._lock:
            return {p: (self._ids[p].values.copy(), self._ts[p].values.copy()) for p in self._ids}

    # ------------------------------------------------------------------ drawing
    def _apply(self, blocks: list[Block]) -> int:
        with self._lock:
            for pop, ids, ts in blocks:
                if pop not in self._ids:
                    self._ids[pop] = Grow(np.int64)
                    self._ts[pop] = Grow(np.float64)
                if len(ids):
                    self._ids[pop].extend(ids)
                    self._ts[pop].extend(ts)
                    self._max_id[pop] = max(self._max_id.get(pop, -1), int(ids.max()))
                    self._t_max = max(self._t_max, float(ts.max()))
            return self._render()

    def _offsets(self) -> dict[str, int]:
        off, y = {}, 0
        for pop in self._ids:
            off[pop] = y
            y += int(self._sizes.get(pop, self._max_id.get(pop, -1) + 1))
        return off

    def _render(self) -> int:
        with self._lock:
            pops = list(self._ids)
            lo, hi = -np.inf, np.inf
            if self._interval is not None:
                lo, hi = self._interval
            elif self.window > 0 and np.isfinite(self._t_max):
                lo = self._t_max - self.window
            sel: dict[str, np.ndarray] = {}
            for pop in pops:
                t = self._ts[pop].values
                sel[pop] = np.flatnonzero((t >= lo) & (t < hi)) if (np.isfinite(lo) or np.isfinite(hi)) \
                    else np.arange(len(t))
            total = sum(len(s) for s in sel.values())
            keep = min(1.0, self.max_points / total) if total else 1.0
            offsets = self._offsets()
            gl = self.renderer == "webgl" or min(total, self.max_points) > self.gl_threshold
            if gl and self.renderer != "webgl":
                self._marks.clear()  # rebuilt as ScatterGL below
            xs, ys, shown, sent = {}, {}, 0, 0
            keys: list[str] = []  # one mark per population, or per (population, group)
            for pop in pops:
                idx = sel[pop]
                if keep < 1.0:
                    idx = idx[thin_mask(0, len(self._ts[pop].values), keep)[idx]]
                ids = self._ids[pop].values[idx]
                x = self._ts[pop].values[idx].astype(np.float32)
                y = (ids + offsets[pop]).astype(np.float32)
                shown += len(idx)
                sent += x.nbytes + y.nbytes
                group = self._groups.get(pop)
                if group is None:
                    keys.append(pop)
                    xs[pop], ys[pop] = x, y
                    continue
                codes, labels = group
                code = np.where(ids < len(codes), codes[np.minimum(ids, len(codes) - 1)], -1)
                for c, label in enumerate(labels):
                    key = f"{pop}: {label}"
                    keys.append(key)
                    xs[key], ys[key] = x[code == c], y[code == c]
                if (code < 0).any() or f"{pop}: ?" in self._marks:  # ids the network does not have
                    keys.append(f"{pop}: ?")
                    xs[f"{pop}: ?"], ys[f"{pop}: ?"] = x[code < 0], y[code < 0]
            new_marks = False
            for k, key in enumerate(keys):
                if key not in self._marks:
                    self._marks[key] = self._new_mark(key, PALETTE[k % len(PALETTE)], gl)
                    new_marks = True
            with self.hold_sync():
                for key in keys:
                    with self._marks[key].hold_sync():
                        self._marks[key].x = xs[key]
                        self._marks[key].y = ys[key]
                if new_marks:
                    self.figure.marks = [self._marks[k] for k in keys]
                self.renderer = "webgl" if gl else "svg"
                self.n_received = int(sum(g.n for g in self._ids.values()))
                self.n_shown = int(shown)
            self._label()
            return sent

    def _new_mark(self, pop: str, color: str, gl: bool) -> Any:
        scales = {"x": self._x, "y": self._y}
        kw = dict(scales=scales, colors=[color], default_size=4, labels=[pop], display_legend=True,
                  x=np.zeros(0, np.float32), y=np.zeros(0, np.float32))
        if gl:
            return require("bqplot_gl").ScatterGL(**kw)
        return bq.Scatter(stroke_width=0, marker="circle", **kw)

    def _label(self) -> None:
        err = self.feed.error if hasattr(self, "feed") else None
        extra = f" <span style='color:#b00'>source failed: {html.escape(str(err))}</span>" if err else ""
        thinned = " (thinned)" if self.n_shown < self.n_received and self.window == 0 and self._interval is None \
            else ""
        self.label.value = (f"<span class='mk-count' data-received='{self.n_received}' data-shown='{self.n_shown}'>"
                            f"{self.n_received} spikes received, {self.n_shown} shown{thinned}</span> "
                            f"<span style='color:#888'>({self.renderer})</span>{extra}")


def _node_groups(network: Any, attribute: str) -> dict[str, tuple[np.ndarray, list[str]]]:
    """``{population: (code per node id, labels)}`` of a node attribute (populations that have it); code -1
    where a node id is not in the table."""
    out = {}
    for name, pop in network.nodes.items():
        if attribute not in pop.attribute_names:
            continue
        col = pop.get([attribute])
        labels, codes = np.unique(col[attribute].astype(str).to_numpy(), return_inverse=True)
        ids = col.index.to_numpy(np.int64)
        arr = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
        arr[ids] = codes.reshape(-1)
        out[name] = (arr, [str(v) for v in labels])
    if not out:
        raise ValueError(f"LiveRaster(group_by={attribute!r}): no population of the network has that attribute")
    return out
