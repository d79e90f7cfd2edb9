"""Feeding live views: spike blocks in from a run's stream (or any iterable), batched redraws out.

Blocks arrive on the stream's thread, often hundreds per second. A view must not send a widget message
per block: the Jupyter server drops IOPub traffic above ~1,000 messages/s and, by default, above
``ServerApp.iopub_data_rate_limit`` = 10^6 bytes/s (averaged over 3 s), buffers included. So a
:class:`Feed` only queues the blocks; one background thread per view coalesces everything queued and
redraws at most ``max_rate`` times a second (30 Hz by default), and further apart when the last redraw
was large, so the bytes sent stay under ``byte_rate`` (bytes/s).

The browser must keep up too: a redraw it has not yet drawn when the next arrives piles work up in the
tab (the freeze seen with SVG rasters of 10^4 points a redraw). So a view that has a page showing it
passes a ``gate``: the page acknowledges each redraw once drawn (see :mod:`modelkit.widgets._frame`), and
the feed sends the next only then, so at most one update is ever in flight. Without a page (or when a
busy kernel cannot read the acknowledgements) the feed goes on after ``ack_timeout`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol, Union, cast

import numpy as np
import numpy.typing as npt

from modelkit._typing import ArrayLike, NodeIdsLike
from modelkit.errors import ModelkitError

if TYPE_CHECKING:
    from modelkit.cluster import LiveRun
    from modelkit.sonata import Network

__all__ = ["Feed", "Grow", "Block", "BlockLike", "Gate", "node_groups", "groups_and_sizes"]

#: (population, node_ids, times_ms)
Block = tuple[str, np.ndarray, np.ndarray]
#: a block as a source gives it: (population, node ids, times in ms), any array-likes
BlockLike = tuple[str, NodeIdsLike, ArrayLike]
#: what a live view follows: a run, or an iterable of blocks
Source = Union["LiveRun", Iterable[BlockLike]]


class Gate(Protocol):
    """The page side of a view, as a :class:`Feed` waits on it (:class:`~modelkit.widgets._frame.FramePage`)."""

    def pending(self) -> bool:
        """A redraw was sent that the page has not acknowledged yet."""
        ...

    def wait(self, timeout: float) -> bool:
        """Wait for every redraw to be acknowledged; whether they were.

        Parameters
        ----------
        timeout : float
            Longest wait (s).
        """
        ...


class Grow:
    """A 1-D numpy array that grows by appending, with amortised O(1) appends (capacity doubles)."""

    def __init__(self, dtype: npt.DTypeLike) -> None:
        self._a = np.empty(1024, dtype=dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        k = len(values)
        if self.n + k > len(self._a):
            bigger = np.empty(max(2 * len(self._a), self.n + k), dtype=self._a.dtype)
            bigger[:self.n] = self._a[:self.n]
            self._a = bigger
        self._a[self.n:self.n + k] = values
        self.n += k

    @property
    def values(self) -> np.ndarray:
        """The filled part (a view; valid until the next append)."""
        return self._a[:self.n]


class Feed:
    """Queue of spike blocks for one view, drained by a redraw thread at a bounded rate.

    Parameters
    ----------
    apply : callable
        ``apply(blocks) -> int``: ingest the blocks and redraw; returns the bytes sent to the browser.
    max_rate : float
        Redraws per second at most (Hz).
    byte_rate : float
        Bytes per second to the browser at most, on average (bytes/s).
    gate : Gate, optional
        Has ``pending() -> bool`` (a redraw is not yet acknowledged by the page) and ``wait(timeout)``:
        redraws wait while one is pending, up to ``ack_timeout`` seconds.
    ack_timeout : float
        Longest wait for an acknowledgement (s).
    """

    def __init__(self, apply: Callable[[list[Block]], int], *, max_rate: float = 30.0,
                 byte_rate: float = 500_000.0, gate: Gate | None = None, ack_timeout: float = 2.0) -> None:
        if not max_rate > 0 or not byte_rate > 0:
            raise ModelkitError(f"live view: max_rate (Hz) and byte_rate (bytes/s) must be positive, got "
                                f"{max_rate!r} and {byte_rate!r}")
        self.apply = apply
        self.max_rate = float(max_rate)
        self.byte_rate = float(byte_rate)
        self.n_redraws = 0
        self.error: BaseException | None = None
        self._pending: list[Block] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._generation = 0
        self._source_done: Callable[[], bool] = lambda: True
        self._thread: threading.Thread | None = None
        self._next = 0.0
        self.gate = gate
        self.ack_timeout = float(ack_timeout)
        self.n_ack_timeouts = 0
        self._dirty = False

    # ------------------------------------------------------------------ input
    def push(self, population: str, node_ids: NodeIdsLike, times: ArrayLike, *, generation: int | None = None) -> None:
        """Queue one block (called from any thread); blocks of a replaced source are dropped.

        Parameters
        ----------
        population : str
            Population of the block.
        node_ids : array of int
            Node id of each spike.
        times : array of float
            Spike times (ms).
        generation : int, optional
            The source's generation (from :meth:`new_source`): the block is dropped when a newer source
            replaced it. None: always kept.
        """
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            self._pending.append((str(population), np.asarray(node_ids), np.asarray(times)))
        self._wake.set()

    def new_source(self, done: Callable[[], bool]) -> int:
        """Forget queued blocks, follow a new source; returns its generation (tags its blocks).

        Parameters
        ----------
        done : callable
            ``done() -> bool``: the source has sent its last block (the feed then draws once more and
            its thread ends).

        Returns
        -------
        int
            The generation to pass to :meth:`push` with the source's blocks.
        """
        with self._lock:
            self._generation += 1
            self._pending.clear()
            self._source_done = done
            gen = self._generation
        self._ensure_thread()
        return gen

    def attach_run(self, run: LiveRun, on_attach: Callable[[], None] | None = None) -> None:
        """Follow a :class:`~modelkit.cluster.LiveRun`: its spikes so far, then every block as it arrives.

        Parameters
        ----------
        run : LiveRun
            The run; followed until ``run.done``.
        on_attach : callable, optional
            Called once the run's source replaced the previous one, before its first block is queued (a
            view clears itself there).
        """
        gen = self.new_source(lambda: bool(run.done))
        if on_attach is not None:
            on_attach()
        run.stream.add_listener(lambda p, i, t: self.push(p, i, t, generation=gen), replay=True)
        self._wake.set()

    def attach_iterable(self, blocks: Iterable[BlockLike]) -> threading.Thread:
        """Follow an iterable of ``(population, node_ids, times_ms)`` blocks, consumed in a thread.

        Parameters
        ----------
        blocks : iterable of (str, array of int, array of float)
            Population, node ids and spike times (ms) of each block; an error raised while iterating is
            kept in :attr:`error`.

        Returns
        -------
        threading.Thread
            The (daemon) thread consuming ``blocks``.
        """
        finished = threading.Event()
        gen = self.new_source(finished.is_set)

        def consume() -> None:
            try:
                for block in blocks:
                    pop, ids, ts = block
                    self.push(pop, ids, ts, generation=gen)
            except BaseException as e:  # shown by the view; the notebook's thread must not die silently
                self.error = e
            finally:
                finished.set()
                self._wake.set()

        t = threading.Thread(target=consume, name="modelkit-feed-source", daemon=True)
        t.start()
        return t

    # ------------------------------------------------------------------ output
    def flush(self) -> int:
        """Redraw now with everything queued (also when nothing is queued); returns the bytes sent."""
        with self._lock:
            blocks, self._pending = self._pending, []
        sent = self.apply(blocks)
        self.n_redraws += 1
        self._next = time.monotonic() + max(1.0 / self.max_rate, sent / self.byte_rate)
        return sent

    def redraw_soon(self) -> None:
        """Redraw from the feed's thread at the next chance (a view changed: zoom, page width)."""
        with self._lock:
            self._dirty = True
        self._ensure_thread()
        self._wake.set()

    @property
    def idle(self) -> bool:
        """Nothing queued and the source finished (or redrawing failed: see :attr:`error`)."""
        with self._lock:
            return self.error is not None or (not self._pending and not self._dirty and self._source_done())

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="modelkit-feed", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(0.25)
            self._wake.clear()
            delay = self._next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self._lock:
                has = bool(self._pending) or self._dirty
                done = self._source_done()
            if (has or done) and self.gate is not None and self.gate.pending() \
                    and not self.gate.wait(self.ack_timeout):
                self.n_ack_timeouts += 1  # no page answered in time (none shows the view, or the kernel is busy)
            with self._lock:
                self._dirty = False
            if has or done:
                try:
                    self.flush()  # the last one after the source ended draws the final state
                except BaseException as e:  # keep the error for the view; stop redrawing
                    self.error = e
                    with self._lock:
                        self._thread = None
                    return
            if done:
                with self._lock:
                    if not self._pending and self._source_done():
                        self._thread = None
                        return


class FedView:
    """The source side of a live view: ``attach`` a LiveRun or an iterable of blocks, ``push`` by hand.

    A view sets ``self.feed`` (a :class:`Feed`) and defines ``clear()``.
    """

    feed: Feed

    def clear(self) -> None:
        raise NotImplementedError

    def _attached(self, run: LiveRun | None) -> None:
        """Hook: called with the run (or None for an iterable) before its spikes arrive."""

    def attach(self, source: Source) -> None:
        """Follow a run, or an iterable of spike blocks consumed in a thread; the view is cleared first.

        Parameters
        ----------
        source : LiveRun or iterable of (population, node_ids, times_ms)
            A :class:`~modelkit.cluster.LiveRun` (every spike it received so far, then each block as it
            arrives), or blocks of a population name, node ids and spike times (ms).

        Raises
        ------
        TypeError
            ``source`` has no ``stream`` and ``done`` (not a run), and is not iterable.
        """
        if hasattr(source, "stream") and hasattr(source, "done"):
            run = cast("LiveRun", source)  # duck-typed: anything with a stream and done
            self._attached(run)
            self.feed.attach_run(run, on_attach=self.clear)
        elif isinstance(source, Iterable):
            self._attached(None)  # before the clear: a view that keeps earlier runs keeps what it shows
            self.clear()
            self.feed.attach_iterable(source)
        else:
            raise TypeError(f"{type(self).__name__}.attach: expected a LiveRun or an iterable of (population, "
                            f"node_ids, times) blocks, got {type(source).__name__}")

    def push(self, population: str, node_ids: NodeIdsLike, times: ArrayLike) -> None:
        """Add one block of spikes by hand; drawn at the next redraw.

        Parameters
        ----------
        population : str
            Population of the spikes.
        node_ids : array of int
            Node id of each spike.
        times : array of float
            Spike times (ms), as many as ``node_ids``.
        """
        self.feed.push(population, np.asarray(node_ids), np.asarray(times))
        self.feed._ensure_thread()



def node_groups(network: Network, attribute: str, who: str) -> dict[str, tuple[np.ndarray, list[str]]]:
    """The value of a node attribute for every node, as codes into the attribute's sorted values.

    Parameters
    ----------
    network : Network
        The network the spikes come from.
    attribute : str
        A node attribute (``pop_name``, ``ei``, ...).
    who : str
        The view, as the error names it (``"LiveRaster"``).

    Returns
    -------
    dict of str to (ndarray of int, list of str)
        ``{population: (code per node id, labels)}`` for the populations that have the attribute; code -1
        where a node id is not in the population's table.

    Raises
    ------
    ValueError
        No population has the attribute.
    """
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
        raise ValueError(f"{who}(group_by={attribute!r}): no population of the network has that attribute")
    return out


def groups_and_sizes(network: Network | None, group_by: str | None, sizes: Mapping[str, int] | None,
                     who: str) -> tuple[dict[str, tuple[np.ndarray, list[str]]], dict[str, int]]:
    """The ``group_by`` codes and the population sizes a view of ``network``'s spikes starts from.

    Parameters
    ----------
    network : Network, optional
        The network the spikes come from.
    group_by : str, optional
        A node attribute (see :func:`node_groups`); needs ``network``.
    sizes : mapping of str to int, optional
        Nodes per population as the caller gives them; default the network's population sizes.
    who : str
        The view, as the errors name it (``"LiveRaster"``).

    Returns
    -------
    groups : dict of str to (ndarray of int, list of str)
        :func:`node_groups` of ``group_by``; empty without it.
    sizes : dict of str to int
        Nodes per population (empty when neither ``sizes`` nor ``network`` is given).

    Raises
    ------
    ValueError
        ``group_by`` without ``network``, or an attribute no population has.
    """
    if group_by is not None and network is None:
        raise ValueError(f"{who}(group_by=...) reads the attribute from the network: pass "
                         "network=modelkit.load(config) too")
    groups = node_groups(network, group_by, who) if network is not None and group_by is not None else {}
    if network is not None and sizes is None:
        sizes = {name: int(pop.size) for name, pop in network.nodes.items()}
    return groups, dict(sizes or {})
