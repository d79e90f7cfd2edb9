"""LiveTraces: membrane traces (or any report's sampled values) of a few cells, drawn while a simulation runs.

A run streams report frames, ``(report, population, variable, node_ids, times_ms, values)`` with one row
of ``values`` per time and one column per node (see :meth:`modelkit.cluster.SpikeStream.add_frames_listener`
and :attr:`modelkit.cluster.LiveRun.traces`).  The view keeps only the columns of the cells it shows, in
growing arrays (O(new samples) per block), and sends the browser at most ``max_points`` points per trace:
above that, each trace is reduced to the minimum and maximum of equal runs of samples, so an action
potential never disappears between two kept samples.  Redraws are coalesced by a
:class:`~modelkit.widgets.feed.Feed` (<= ``max_rate`` Hz).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from modelkit._typing import ArrayLike, NodeIdsLike
from modelkit.widgets._deps import checked, require
from modelkit.widgets._lines import FedLines, line_figure, line_legend
from modelkit.widgets.feed import Block, Feed, Grow

if TYPE_CHECKING:
    from modelkit.cluster import LiveRun

ipw = require("ipywidgets")
traitlets = require("traitlets")

__all__ = ["LiveTraces", "UNITS"]

#: units of the variables reports record, for the y axis (SONATA: NEURON's and NEST's names)
UNITS = {"v": "mV", "V_m": "mV", "vm": "mV", "i_membrane": "nA", "i_membrane_": "nA", "ik": "mA/cm²",
         "ina": "mA/cm²", "ica": "mA/cm²", "cai": "mM", "g_ex": "nS", "g_in": "nS", "I_syn_ex": "pA",
         "I_syn_in": "pA", "firing_rates": "Hz", "firing_rate": "Hz", "ic": "nA", "se": "nA"}

#: (report, population, variable, node_ids, times_ms, values)
Frames = tuple[str, str, str, np.ndarray, np.ndarray, np.ndarray]
#: frames as a source gives them: any array-likes
FramesLike = tuple[str, str, str, NodeIdsLike, ArrayLike, ArrayLike]


def envelope(times: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points per trace: all samples when they fit, else min and max of equal runs.

    Parameters
    ----------
    times : ndarray, shape (n,)
        Sample times (ms).
    values : ndarray, shape (k, n)
        One row per trace.
    max_points : int
        Points per trace at most (>= 2).

    Returns
    -------
    (x, y) : ndarray (m,), ndarray (k, m)
        ``m <= max_points``; a run of samples gives two points, at its first and last time, with the
        run's minimum and maximum of each trace (whichever comes first in time goes first).
    """
    n = len(times)
    if n <= max_points:
        return times, values
    runs = max(1, max_points // 2)
    starts = np.linspace(0, n, runs, endpoint=False).astype(np.int64)
    ends = np.append(starts[1:], n) - 1
    lo = np.minimum.reduceat(values, starts, axis=1)
    hi = np.maximum.reduceat(values, starts, axis=1)
    # keep the order in time within each run: the extreme that came first goes first
    lo_at = _argreduce(values, starts, np.argmin)
    hi_at = _argreduce(values, starts, np.argmax)
    first_is_lo = lo_at <= hi_at
    y = np.empty((values.shape[0], 2 * runs), values.dtype)
    y[:, 0::2] = np.where(first_is_lo, lo, hi)
    y[:, 1::2] = np.where(first_is_lo, hi, lo)
    x = np.empty(2 * runs, times.dtype)
    x[0::2] = times[starts]
    x[1::2] = times[ends]
    return x, y


def _argreduce(values: np.ndarray, starts: np.ndarray, arg: Callable[..., np.ndarray]) -> np.ndarray:
    """Index of ``arg`` (argmin/argmax) within each run of columns, runs of nearly equal length."""
    k, n = values.shape
    lengths = np.diff(np.append(starts, n))
    width = int(lengths.max())
    # pad the runs to one width with the run's own first value (never beats a real extreme, ties keep first)
    idx = starts[:, None] + np.minimum(np.arange(width)[None, :], (lengths - 1)[:, None])
    return arg(values[:, idx], axis=2)


class _Trace:
    """The samples of the chosen cells of one (report, population, variable)."""

    def __init__(self, columns: np.ndarray, node_ids: np.ndarray) -> None:
        self.columns = columns          # which columns of the frames
        self.node_ids = node_ids        # their node ids
        self.times = Grow(np.float64)
        self.values = [Grow(np.float32) for _ in columns]

    def extend(self, times: np.ndarray, values: np.ndarray) -> None:
        self.times.extend(np.asarray(times, np.float64))
        for g, c in zip(self.values, self.columns):
            g.extend(np.asarray(values[:, c], np.float32))


class LiveTraces(ipw.VBox, FedLines):
    """The traces of a few cells of a report (membrane potential by default), as lines, fed live.

    Parameters
    ----------
    source : LiveRun or iterable of (report, population, variable, node_ids, times_ms, values), optional
        What to follow (see :meth:`attach`).
    cells : int or sequence of int
        How many cells to show per population (spread evenly over the recorded ones), or their node ids.
    report : str, optional
        The report to show; default the first whose frames arrive.
    variable : str, optional
        The variable to show (``"V_m"``, ``"v"``); default that of the first frames of ``report``.
    window : float, optional
        Show only the last ``window`` ms (default the whole run so far).
    title : str
        Figure title.
    **traits
        ``max_points`` (points per trace sent to the browser at most), ``max_rate`` (redraws per second).

    Examples
    --------
    >>> traces = LiveTraces(run, cells=3, window=500.0); traces           # doctest: +SKIP
    """

    max_points = traitlets.Int(1000, help="points per trace sent to the browser at most").tag(sync=True)
    max_rate = traitlets.Float(30.0, help="redraws per second at most (Hz)").tag(sync=True)
    window = traitlets.Float(None, allow_none=True, help="last ms shown (None: the whole run)").tag(sync=True)
    n_received = traitlets.Int(0, help="samples (times) received from the source, all reports").tag(sync=True)
    n_shown = traitlets.Int(0, help="points per trace sent at the last redraw").tag(sync=True)

    @traitlets.validate("max_points")
    def _enough_points(self, proposal: Any) -> int:
        return checked(proposal, proposal["value"] >= 2, "at least 2")

    @traitlets.validate("window")
    def _positive_window(self, proposal: Any) -> float | None:
        if proposal["value"] is not None and not proposal["value"] > 0:
            raise traitlets.TraitError(f"window (ms) must be positive or None, got {proposal['value']}")
        return proposal["value"]

    def __init__(self, source: LiveRun | Iterable[FramesLike] | None = None, *, cells: int | Sequence[int] = 4,
                 report: str | None = None, variable: str | None = None, window: float | None = None,
                 title: str = "Membrane traces", **traits: Any) -> None:
        if isinstance(cells, (int, np.integer)):
            if cells < 1:
                raise ValueError(f"LiveTraces: cells must be at least 1 (a count) or a list of node ids, got {cells}")
        elif not len(cells):
            raise ValueError("LiveTraces: cells is an empty list of node ids")
        fig = line_figure(title, y_label="value", y=np.zeros(0, np.float32), stroke_width=1.2, css="mk-live-traces")
        self._x, self._y, self.lines, self._y_axis = fig.x, fig.y, fig.lines, fig.y_axis
        self.figure, self.label, self.legend, self.page = fig.figure, fig.label, fig.legend, fig.page
        super().__init__(children=fig.children, window=window, **traits)
        self.add_class("mk-live-traces")
        self._cells = cells
        self.report, self.variable = report, variable
        self._lock = threading.RLock()
        self._traces: dict[tuple[str, str, str], _Trace] = {}
        self._pending: list[Frames] = []
        self._generation = 0
        self.feed = Feed(self._apply, max_rate=self.max_rate, gate=self.page)
        if source is not None:
            self.attach(source)

    # ------------------------------------------------------------------ sources
    def attach(self, source: LiveRun | Iterable[FramesLike]) -> None:
        """Follow a run's report frames, or an iterable of frames consumed in a thread; the view is cleared first.

        Parameters
        ----------
        source : LiveRun or iterable of (report, population, variable, node_ids, times_ms, values)
            A :class:`~modelkit.cluster.LiveRun` (the frames it received so far, then each block as it
            arrives), or frames: ``values`` has one row per time (ms) and one column per node id.

        Raises
        ------
        TypeError
            ``source`` is neither.
        """
        if hasattr(source, "stream") and hasattr(source, "done"):
            run = cast("LiveRun", source)  # duck-typed: anything with a stream and done
            gen = self._new_source(lambda: bool(run.done))
            run.stream.add_frames_listener(lambda *f: self._receive(f, gen), replay=True)
        elif isinstance(source, Iterable):
            finished = threading.Event()
            gen = self._new_source(finished.is_set)

            def consume() -> None:
                try:
                    for frames in source:
                        self._receive(tuple(frames), gen)
                except BaseException as e:  # shown by the view; the notebook's thread must not die silently
                    self.feed.error = e
                finally:
                    finished.set()

            threading.Thread(target=consume, name="modelkit-traces-source", daemon=True).start()
        else:
            raise TypeError(f"LiveTraces.attach: expected a LiveRun or an iterable of (report, population, "
                            f"variable, node_ids, times, values), got {type(source).__name__}")

    def push(self, report: str, population: str, variable: str, node_ids: NodeIdsLike, times: ArrayLike,
             values: ArrayLike) -> None:
        """Add one block of frames by hand; drawn at the next redraw.

        Parameters
        ----------
        report : str
            Report name.
        population : str
            Population of the nodes.
        variable : str
            Variable recorded (``"V_m"``, ``"v"``); its unit (mV for membrane potentials) labels the y axis.
        node_ids : array of int, shape (k,)
            Node ids of the columns of ``values``.
        times : array of float, shape (n,)
            Sample times (ms).
        values : array of float, shape (n, k)
            One row per time, one column per node.

        Raises
        ------
        ValueError
            ``values`` not of shape (len(times), len(node_ids)).
        """
        self._receive((report, population, variable, node_ids, times, values), self._generation)
        self.feed._ensure_thread()

    def _new_source(self, done: Callable[[], bool]) -> int:
        with self._lock:
            self._pending.clear()
            self._generation = self.feed.new_source(done)
            gen = self._generation
        self.clear()
        return gen

    def _receive(self, frames: tuple, generation: int) -> None:
        report, pop, var, ids, ts, vals = frames
        ids, ts, vals = np.asarray(ids), np.asarray(ts, np.float64), np.asarray(vals)
        if vals.shape != (ts.size, ids.size):
            raise ValueError(f"LiveTraces: report {report!r} population {pop!r}: expected values of shape "
                             f"{(ts.size, ids.size)} (times x nodes), got {vals.shape}")
        with self._lock:
            if generation != self._generation:
                return  # frames of a replaced source
            self._pending.append((str(report), str(pop), str(var), ids, ts, vals))
        self.feed.push(str(pop), np.zeros(0, np.int64), np.zeros(0))  # wakes the redraw thread

    def clear(self) -> None:
        """Forget every sample."""
        with self._lock:
            self._traces.clear()
            self.n_received = 0
            self._draw()

    def traces(self) -> dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The samples kept, ``{(report, population, variable): (node_ids, times_ms, values)}`` with ``values``
        times x chosen cells (copies), as :attr:`modelkit.cluster.LiveRun.traces` for the cells shown."""
        with self._lock:
            return {k: (tr.node_ids.copy(), tr.times.values.copy(),
                        np.stack([g.values for g in tr.values], axis=1) if tr.values
                        else np.zeros((tr.times.n, 0), np.float32))
                    for k, tr in self._traces.items()}

    # ------------------------------------------------------------------ drawing
    def _choose(self, node_ids: np.ndarray) -> np.ndarray:
        """Columns of the cells to show among ``node_ids``."""
        if isinstance(self._cells, (int, np.integer)):
            k = min(int(self._cells), len(node_ids))
            return np.unique(np.linspace(0, len(node_ids) - 1, k).round().astype(np.int64))
        return np.flatnonzero(np.isin(node_ids, np.asarray(self._cells)))

    def _apply(self, blocks: list[Block]) -> int:
        with self._lock:
            pending, self._pending = self._pending, []
            for report, pop, var, ids, ts, vals in pending:
                if self.report is None:
                    self.report = report
                if report != self.report:
                    continue
                if self.variable is None:
                    self.variable = var
                if var != self.variable:
                    continue
                key = (report, pop, var)
                tr = self._traces.get(key)
                if tr is None:
                    cols = self._choose(ids)
                    tr = self._traces[key] = _Trace(cols, ids[cols])
                tr.extend(ts, vals)
                self.n_received += len(ts)
            return self._draw()

    def _draw(self) -> int:
        xs_list: list[np.ndarray] = []
        ys_list: list[np.ndarray] = []
        labels: list[str] = []
        for (_, pop, _), tr in self._traces.items():
            t = tr.times.values
            if not len(t) or not tr.values:
                continue
            first = 0 if self.window is None else int(np.searchsorted(t, t[-1] - self.window))
            xs, ys = envelope(t[first:], np.stack([g.values[first:] for g in tr.values]), self.max_points)
            xs_list += [xs] * len(ys)
            ys_list += list(ys)
            labels += [f"{pop} {int(n)}" for n in tr.node_ids]
        if not ys_list:
            x, y = np.zeros(0, np.float32), np.zeros(0, np.float32)
        elif all(a is xs_list[0] for a in xs_list):  # one population (or one sampling): one time axis
            x, y = xs_list[0].astype(np.float32), np.asarray(ys_list, np.float32)
        else:  # one time axis per line, padded to one length by repeating the last point (draws nothing)
            m = max(len(a) for a in xs_list)
            x = np.stack([np.pad(a, (0, m - len(a)), mode="edge") for a in xs_list]).astype(np.float32)
            y = np.stack([np.pad(a, (0, m - len(a)), mode="edge") for a in ys_list]).astype(np.float32)
        if y.ndim == 2 and len(y) == 1:  # bqplot squeezes a (1, n) y to 1-D: one line is 1-D
            x, y = (x[0] if x.ndim == 2 else x), y[0]
        with self.lines.hold_sync():
            self.lines.x = x
            self.lines.y = y
            self.lines.labels = labels
        self.n_shown = int(x.shape[-1]) if x.size else 0
        var = self.variable or "value"
        unit = UNITS.get(var)
        self._y_axis.label = f"{var} ({unit})" if unit else var
        window = f", last {self.window:g} ms" if self.window is not None else ""
        self.legend.value = line_legend(labels)
        self.page.frame()
        self.label.value = (f"<span class='mk-count' data-received='{self.n_received}' data-shown='{self.n_shown}'>"
                            f"{len(labels)} traces of {self.report or '(no report yet)'}: {self.n_received} samples "
                            f"received, {self.n_shown} points per trace drawn{window}</span>")
        return x.nbytes + y.nbytes
