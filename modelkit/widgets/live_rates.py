"""LiveRates: population firing rates per time bin (Hz), drawn as lines while a simulation runs.

The kernel keeps one spike count per (population, bin), updated with ``np.bincount`` on each new
block (O(new spikes)); the browser gets the last ``max_bins`` bins of each population, a few kB per
redraw, at <= ``max_rate`` Hz (see :mod:`modelkit.widgets.feed`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelkit.widgets._deps import PALETTE, require
from modelkit.widgets.feed import Block, FedView, Feed

ipw = require("ipywidgets")
bq = require("bqplot")
traitlets = require("traitlets")

__all__ = ["LiveRates"]


class LiveRates(ipw.VBox, FedView):
    """Mean firing rate per cell of each population in bins of ``bin_ms`` (Hz), as lines, fed live.

    Parameters
    ----------
    source : LiveRun or iterable of (population, node_ids, times_ms), optional
        What to follow (see :meth:`attach`).
    sizes : mapping of str to int, optional
        Cells per population, to turn counts into Hz per cell. Without it a population's size is taken
        as its largest node id seen + 1 (and the label says so).
    bin_ms : float
        Bin width (ms).
    **traits
        ``max_bins``, ``max_rate``.

    Examples
    --------
    >>> rates = LiveRates(run, sizes={"cortex": 1000}, bin_ms=5.0); rates    # doctest: +SKIP
    """

    bin_ms = traitlets.Float(10.0, help="bin width (ms)").tag(sync=True)
    max_bins = traitlets.Int(2000, help="bins drawn at most (the latest ones)").tag(sync=True)
    max_rate = traitlets.Float(30.0, help="redraws per second at most (Hz)").tag(sync=True)
    n_received = traitlets.Int(0, help="spikes received from the source").tag(sync=True)
    n_bins = traitlets.Int(0, help="bins drawn").tag(sync=True)

    @traitlets.validate("bin_ms", "max_rate")
    def _positive(self, proposal: Any) -> float:
        if not proposal["value"] > 0:
            raise traitlets.TraitError(f"{proposal['trait'].name} must be positive, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("max_bins")
    def _positive_int(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise traitlets.TraitError(f"max_bins must be at least 1, got {proposal['value']}")
        return proposal["value"]

    def __init__(self, source: Any = None, *, sizes: Mapping[str, int] | None = None, bin_ms: float = 10.0,
                 title: str = "Population rates", **traits: Any) -> None:
        self._x = bq.LinearScale()
        self._y = bq.LinearScale(min=0.0)
        self.lines = bq.Lines(x=np.zeros(0, np.float32), y=np.zeros((0, 0), np.float32),
                              scales={"x": self._x, "y": self._y}, colors=list(PALETTE), display_legend=True,
                              labels=[], stroke_width=1.5)
        self.figure = bq.Figure(marks=[self.lines], title=title, animation_duration=0,
                                axes=[bq.Axis(scale=self._x, label="time (ms)"),
                                      bq.Axis(scale=self._y, side="left", label="rate (Hz)")],
                                fig_margin={"top": 40, "bottom": 40, "left": 60, "right": 110},
                                interaction=bq.interacts.PanZoom(scales={"x": [self._x]}),
                                layout=ipw.Layout(width="100%", height="280px"))
        self.label = ipw.HTML()
        self.label.add_class("mk-live-rates-info")
        super().__init__(children=[self.figure, self.label], bin_ms=bin_ms, **traits)
        self.add_class("mk-live-rates")
        self._sizes = dict(sizes or {})
        self._lock = threading.RLock()
        self._counts: dict[str, np.ndarray] = {}
        self._max_id: dict[str, int] = {}
        self._t_done: Any = None
        self.feed = Feed(self._apply, max_rate=self.max_rate)
        if source is not None:
            self.attach(source)

    @traitlets.observe("max_rate")
    def _rate_changed(self, change: Any) -> None:
        if hasattr(self, "feed"):
            self.feed.max_rate = float(change["new"])

    @traitlets.observe("bin_ms")
    def _rebin(self, change: Any) -> None:
        if hasattr(self, "_counts") and self._counts:
            raise traitlets.TraitError("LiveRates.bin_ms can only change before spikes arrive (or after clear())")

    # ------------------------------------------------------------------ sources
    def _attached(self, run: Any) -> None:
        # with a run, only bins the run has fully simulated are drawn (the last one fills as blocks arrive)
        self._t_done = (lambda: run.progress.t) if run is not None else None

    def clear(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
            self._max_id.clear()
            self.n_received = 0
            self._draw()

    def rates(self) -> dict[str, np.ndarray]:
        """Rate per bin of each population (Hz per cell), from t = 0 in steps of ``bin_ms``."""
        with self._lock:
            return {p: c / (self._size(p) * self.bin_ms / 1000.0) for p, c in self._counts.items()}

    # ------------------------------------------------------------------ drawing
    def _size(self, pop: str) -> int:
        return max(1, int(self._sizes.get(pop, self._max_id.get(pop, -1) + 1)))

    def _apply(self, blocks: list[Block]) -> int:
        with self._lock:
            for pop, ids, ts in blocks:
                if not len(ts):
                    self._counts.setdefault(pop, np.zeros(0, np.int64))
                    continue
                b = np.floor(np.asarray(ts, np.float64) / self.bin_ms).astype(np.int64)
                b = b[b >= 0]
                add = np.bincount(b)
                c = self._counts.get(pop, np.zeros(0, np.int64))
                if len(add) > len(c):
                    c = np.concatenate([c, np.zeros(len(add) - len(c), np.int64)])
                c[:len(add)] += add
                self._counts[pop] = c
                self._max_id[pop] = max(self._max_id.get(pop, -1), int(np.max(ids)))
                self.n_received += len(ts)
            return self._draw()

    def _draw(self) -> int:
        pops = list(self._counts)
        n = max((len(c) for c in self._counts.values()), default=0)
        if self._t_done is not None:
            try:
                n = min(n, int(np.ceil(self._t_done() / self.bin_ms)))
            except Exception:  # the run's progress is only a limit on what is drawn
                pass
        first = max(0, n - self.max_bins)
        y = np.zeros((len(pops), n - first), np.float32)
        for k, p in enumerate(pops):
            c = self._counts[p][first:n]
            y[k, :len(c)] = c / (self._size(p) * self.bin_ms / 1000.0)
        x = ((np.arange(first, n) + 0.5) * self.bin_ms).astype(np.float32)
        if not y.size:  # bqplot refuses an empty 2-D y
            y = np.zeros(0, np.float32)
        elif len(pops) == 1:  # bqplot squeezes a (1, 1) y to a scalar and refuses it; one line is 1-D
            y = y[0]
        with self.lines.hold_sync():
            self.lines.x = x
            self.lines.y = y
            self.lines.labels = pops
        self.n_bins = n - first
        guessed = [p for p in pops if p not in self._sizes]
        note = f"; sizes taken from the largest node id seen: {', '.join(guessed)}" if guessed else ""
        self.label.value = f"{self.n_received} spikes, {self.n_bins} bins of {self.bin_ms:g} ms{note}"
        return x.nbytes + y.nbytes
