"""LiveRates: population firing rates per time bin (Hz), drawn as lines while a simulation runs.

The kernel keeps one spike count per (population, bin), updated with ``np.bincount`` on each new
block (O(new spikes)); the browser gets the last ``max_bins`` bins of each population, a few kB per
redraw, at <= ``max_rate`` Hz (see :mod:`modelkit.widgets.feed`).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.widgets._deps import PALETTE, checked, require
from modelkit.widgets._lines import FedLines, line_figure, line_legend
from modelkit.widgets.feed import Block, FedView, Feed, Source, groups_and_sizes

if TYPE_CHECKING:
    from modelkit.cluster import LiveRun
    from modelkit.sonata import Network

ipw = require("ipywidgets")
bq = require("bqplot")
traitlets = require("traitlets")

#: line styles of the earlier runs kept (``keep``), drawn with opacity :data:`KEPT_ALPHA`
KEPT_DASHES = ("dashed", "dotted", "dash_dotted")
KEPT_ALPHA = 0.45

__all__ = ["LiveRates"]


class LiveRates(ipw.VBox, FedView, FedLines):
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
    title : str
        Figure title.
    network : Network, optional
        The network the spikes come from: gives population sizes, and the attribute ``group_by`` reads.
    group_by : str, optional
        A node attribute (``pop_name``, ``ei``, ...): one line per value within each population, its rate
        per cell of that value, with the colours and legend entries :class:`LiveRaster` gives the same
        ``group_by``.
    **traits
        ``max_bins``, ``max_rate``.

    Examples
    --------
    >>> rates = LiveRates(run, sizes={"cortex": 1000}, bin_ms=5.0); rates    # doctest: +SKIP
    >>> LiveRates(run, network=modelkit.load(cfg), group_by="pop_name")      # doctest: +SKIP
    """

    bin_ms = traitlets.Float(10.0, help="bin width (ms)").tag(sync=True)
    max_bins = traitlets.Int(5000, help="bins drawn at most (the latest ones)").tag(sync=True)
    max_rate = traitlets.Float(10.0, help="redraws per second at most (Hz)").tag(sync=True)
    n_received = traitlets.Int(0, help="spikes received from the source").tag(sync=True)
    n_bins = traitlets.Int(0, help="bins drawn").tag(sync=True)
    keep = traitlets.Int(0, help="earlier runs kept under the current one as faint lines").tag(sync=True)
    run_label = traitlets.Unicode("", help="what the next run attached is (the legend of its lines once it is "
                                           "an earlier run)").tag(sync=True)

    @traitlets.validate("bin_ms")
    def _positive(self, proposal: Any) -> float:
        return checked(proposal, proposal["value"] > 0, "positive")

    @traitlets.validate("keep")
    def _keep_range(self, proposal: Any) -> int:
        return checked(proposal, 0 <= proposal["value"] <= len(KEPT_DASHES), f"in [0, {len(KEPT_DASHES)}]")

    @traitlets.validate("max_bins")
    def _positive_int(self, proposal: Any) -> int:
        return checked(proposal, proposal["value"] >= 1, "at least 1")

    def __init__(self, source: Source | None = None, *, sizes: Mapping[str, int] | None = None,
                 bin_ms: float = 10.0, title: str = "Population rates", network: Network | None = None,
                 group_by: str | None = None, **traits: Any) -> None:
        self._groups, sizes = groups_and_sizes(network, group_by, sizes, "LiveRates")
        # cells per legend entry of a grouped population: its rate is per cell of that value
        self._group_sizes = {f"{pop}: {label}": int(np.count_nonzero(codes == c))
                             for pop, (codes, labels) in self._groups.items() for c, label in enumerate(labels)}
        fig = line_figure(title, y_label="rate (Hz)", y=np.zeros((0, 0), np.float32), stroke_width=1.5,
                          css="mk-live-rates", y_min=0.0)
        self._x, self._y, self.lines, self.figure = fig.x, fig.y, fig.lines, fig.figure
        self.label, self.legend, self.page = fig.label, fig.legend, fig.page
        super().__init__(children=fig.children, bin_ms=bin_ms, **traits)
        self.add_class("mk-live-rates")
        self._sizes = sizes
        self._lock = threading.RLock()
        self._counts: dict[str, np.ndarray] = {}
        self._max_id: dict[str, int] = {}
        self._t_done: Callable[[], float] | None = None
        self._keys: list[str] = []  # legend entries in colour order (as LiveRaster's)
        self.kept: list[dict[str, Any]] = []  # earlier runs: label, their rates per legend entry, lines mark
        self._label_now = ""
        self.feed = Feed(self._apply, max_rate=self.max_rate, gate=self.page)
        if source is not None:
            self.attach(source)

    @traitlets.observe("bin_ms")
    def _rebin(self, change: Any) -> None:
        if hasattr(self, "_counts") and self._counts:
            raise traitlets.TraitError("LiveRates.bin_ms can only change before spikes arrive (or after clear())")

    # ------------------------------------------------------------------ sources
    def _attached(self, run: LiveRun | None) -> None:
        with self._lock:
            self._keep_current()
            self._label_now = self.run_label
        # with a run, only bins the run has fully simulated are drawn (the last one fills as blocks arrive)
        self._t_done = (lambda: run.progress.t) if run is not None else None

    def _keep_current(self) -> None:
        """The rates drawn become faint dashed lines (``keep`` > 0), in the colour each population has."""
        if self.keep <= 0 or not self.n_received:
            return
        rates = self.rates()
        keys = list(rates)
        n = max(len(r) for r in rates.values())
        y = np.zeros((len(keys), n), np.float32)
        for k, key in enumerate(keys):
            y[k, :len(rates[key])] = rates[key]
        x = ((np.arange(n) + 0.5) * self.bin_ms).astype(np.float32)
        dash = KEPT_DASHES[len(self.kept) % len(KEPT_DASHES)]
        mark = bq.Lines(x=x, y=y if len(keys) > 1 else y[0], scales=dict(self.lines.scales), labels=keys,
                        colors=[PALETTE[self._keys_order(key) % len(PALETTE)] for key in keys],
                        opacities=[KEPT_ALPHA] * len(keys), stroke_width=1.5, line_style=dash)
        self.kept.append({"label": self._label_now or f"run {len(self.kept) + 1}", "rates": rates, "mark": mark,
                          "dash": dash})
        while len(self.kept) > self.keep:
            self.kept.pop(0)["mark"].close()
        self.figure.marks = [k["mark"] for k in self.kept] + [self.lines]

    def _keys_order(self, key: str) -> int:
        return list(self._counts).index(key) if key in self._counts else 0

    def forget_kept(self) -> None:
        """Drop the lines of earlier runs."""
        with self._lock:
            while self.kept:
                self.kept.pop(0)["mark"].close()
            self.figure.marks = [self.lines]
            self._draw()

    def clear(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
            self._max_id.clear()
            self._keys = []
            self.n_received = 0
            self._draw()

    def rates(self) -> dict[str, np.ndarray]:
        """Rate per bin of each population (or ``"<population>: <value>"`` with ``group_by``), Hz per cell,
        from t = 0 in steps of ``bin_ms``."""
        with self._lock:
            return {p: c / (self._size(p) * self.bin_ms / 1000.0) for p, c in self._counts.items()}

    # ------------------------------------------------------------------ drawing
    def _size(self, key: str) -> int:
        if key in self._group_sizes:
            return max(1, self._group_sizes[key])
        return max(1, int(self._sizes.get(key, self._max_id.get(key, -1) + 1)))

    def _split(self, pop: str, ids: np.ndarray, ts: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """``[(legend entry, times)]`` of a block: by ``group_by`` value within a grouped population."""
        group = self._groups.get(pop)
        if group is None:
            return [(pop, ts)]
        codes, labels = group
        ids = np.asarray(ids, np.int64)
        code = np.where((ids >= 0) & (ids < len(codes)), codes[np.clip(ids, 0, max(len(codes) - 1, 0))], -1) \
            if len(codes) else np.full(len(ids), -1)
        return [(f"{pop}: {labels[c]}" if c >= 0 else f"{pop}: ?", ts[code == c])
                for c in sorted(np.unique(code), key=lambda c: (c < 0, c))]

    def _apply(self, blocks: list[Block]) -> int:
        with self._lock:
            for pop, ids, ts in blocks:
                if not len(ts):
                    if pop not in self._groups:
                        self._counts.setdefault(pop, np.zeros(0, np.int64))
                    continue
                self._max_id[pop] = max(self._max_id.get(pop, -1), int(np.max(ids)))
                self.n_received += len(ts)
                for key, t in self._split(pop, ids, np.asarray(ts, np.float64)):
                    b = np.floor(t / self.bin_ms).astype(np.int64)
                    add = np.bincount(b[b >= 0])
                    c = self._counts.get(key, np.zeros(0, np.int64))
                    if len(add) > len(c):
                        c = np.concatenate([c, np.zeros(len(add) - len(c), np.int64)])
                    c[:len(add)] += add
                    self._counts[key] = c
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
            self.lines.colors = [PALETTE[k % len(PALETTE)] for k in range(len(pops))]
        self.n_bins = n - first
        guessed = [p for p in pops if p not in self._sizes and p not in self._group_sizes]
        note = f"; sizes taken from the largest node id seen: {', '.join(guessed)}" if guessed else ""
        self.label.value = (f"<span class='mk-rates-count' data-received='{self.n_received}'>{self.n_received:,} "
                            f"spikes</span>, {self.n_bins} bins of {self.bin_ms:g} ms{note}")
        kept = "".join(
            f"<span class='mk-legend-item mk-legend-kept' style='margin-right:14px;white-space:nowrap;opacity:0.75'>"
            f"<span style='display:inline-block;width:14px;border-top:2px {k['dash']} #555;vertical-align:middle;"
            f"margin-right:4px'></span>earlier: {html.escape(k['label'])}</span>" for k in reversed(self.kept))
        legend = line_legend(pops)
        self.legend.value = legend[:-len("</div>")] + kept + "</div>"  # one row with the current entries
        self.page.frame()
        return x.nbytes + y.nbytes
