"""Edge generation: connection maps -> sorted, streamed SONATA edge populations.

Edges of one (source network, target network) pair are generated block by
block of target nodes, in target-id order: every connection map with targets in
the block contributes its connections (rules evaluated on arrays), properties
are computed on the block's edges, and the block is appended to the file sorted
by target.  Memory stays bounded by the block; rules that cannot work per block
(fixed out-degree, bmtk's ``one_to_all``, values in bmtk's order) are evaluated
once and sliced.  Random streams are derived from (seed, map, block), so the
same seed gives byte-identical files.

Blocks of bmtk-style per-pair callables (one Python call per pair) may run on
forked worker processes (:class:`_Workers`; ``MODELKIT_BUILD_WORKERS`` sets how
many, 1 none): only in a seeded build, where numpy's and Python's global
generators are reseeded per block so blocks do not depend on each other, and
only for functions without state of their own.  The files are the same whatever
the number of workers.
"""

from __future__ import annotations

import logging
import os
import random as _pyrandom
import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelkit._typing import PathLike
from modelkit.builder.connection_map import ConnectionMap
from modelkit.builder.connectors import (AllToAll, DistanceProbability, FixedInDegree, FixedProbability,
                                         PairCallable)
from modelkit.builder.nodes import NodeArrays, NodeTable
from modelkit.errors import BuilderError
from modelkit.sonata.edge_writer import EdgeWriter
from modelkit.sonata.index import stable_argsort_ids

__all__ = ["generate_edges", "GenerationResult", "global_rng_state", "build_workers"]

log = logging.getLogger("modelkit.builder")


@dataclass
class GenerationResult:
    """Counts of one written edge population."""

    n_edges: int  # rows written
    n_syns: int  # synapses (nsyns summed, as bmtk counts them)


@contextmanager
def global_rng_state() -> Iterator[None]:
    """Restore numpy's and Python's global random state afterwards (per-pair callables are reseeded)."""
    np_state = np.random.get_state()
    py_state = _pyrandom.getstate()
    try:
        yield
    finally:
        np.random.set_state(np_state)
        _pyrandom.setstate(py_state)


def _dtype_key(dt: Any) -> str:
    """One key per stored type (``float`` and ``np.float64`` share a group, as in bmtk)."""
    if dt is None or dt is str:
        return repr(dt)
    try:
        return np.dtype(dt).str
    except TypeError:
        return repr(dt)


def _group_schema(cm: ConnectionMap) -> tuple:
    if not cm.params:
        return (("nsyns", "uint32"),)
    return tuple(sorted((n, _dtype_key(dt)) for p in cm.params for n, dt in zip(p.names, p.dtypes)))


def _dtype_of(cm: ConnectionMap) -> dict[str, Any]:
    if not cm.params:
        return {"nsyns": np.uint32}
    return {n: dt for p in cm.params for n, dt in zip(p.names, p.dtypes)}


_WHOLE = 0xFFFFFF  # block number of the random stream of rules evaluated on all targets at once


class _MapState:
    """One connection map prepared for generation."""

    def __init__(self, index: int, cm: ConnectionMap, src_table: NodeTable, tgt_table: NodeTable,
                 seed: np.random.SeedSequence, reseed_globals: bool) -> None:
        self.index = index
        self.cm = cm
        self.sources = cm.source_nodes.arrays()
        self.targets = cm.target_nodes.arrays()
        self.seed = seed
        self.reseed_globals = reseed_globals
        self.whole = not cm.rule.blockwise or cm.needs_bmtk_order
        self._all: tuple[np.ndarray, ...] | None = None
        self.pool: _Workers | None = None
        self.ahead: _Ahead | None = None
        if len(self.sources) == 0 or len(self.targets) == 0:
            import logging
            logging.getLogger("modelkit.builder").warning(
                "edge type %s: the %s selection matches no node; it makes no edges", cm.edge_type_id,
                "source" if len(self.sources) == 0 else "target")

    def rng(self, block: int, stream: int = 0) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed.entropy,
                                                            spawn_key=(*self.seed.spawn_key, block, stream)))

    def _reseed(self, block: int) -> None:
        if self.reseed_globals:
            s = int(self.rng(block, 999).integers(0, 2**32 - 1))
            np.random.seed(s)
            _pyrandom.seed(s)

    def pairs(self, block: int, t_lo: int, t_hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Connections onto targets with node ids in [t_lo, t_hi): (source pos, target pos, nsyns)."""
        tids = self.targets.ids
        a, b = int(np.searchsorted(tids, t_lo)), int(np.searchsorted(tids, t_hi))
        if self.whole:
            if self._all is None:
                self._reseed(_WHOLE)
                si, ti, ns = self._checked(self.cm.rule.connect(self.sources, self.targets, self.rng(_WHOLE)),
                                           len(self.targets))
                order = np.argsort(ti, kind="stable")
                self._all = (si[order], ti[order], ns[order])
            si, ti, ns = self._all
            lo, hi = np.searchsorted(ti, a), np.searchsorted(ti, b)
            return si[lo:hi], ti[lo:hi], ns[lo:hi]
        if a == b:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
        if self.pool is not None:
            got = self.pool.take(self.index, block)
            if got is not None:
                return got
        if self.ahead is not None:
            self._reseed(block)  # where a serial build leaves the global generators (the rule does not use them)
            got = self.ahead.take(self.index, block)
            if got is not None:
                return got
        return self.block_pairs(block, a, b)

    def block_pairs(self, block: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Connections onto the targets at positions [a, b) (a blockwise rule), evaluated here."""
        self._reseed(block)
        return self.connect_block(block, a, b)

    def connect_block(self, block: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`block_pairs` without reseeding the global generators."""
        block_targets = self.targets.take(np.arange(a, b))
        si, ti, ns = self._checked(self.cm.rule.connect(self.sources, block_targets, self.rng(block)), b - a)
        return si, ti + a, ns

    def n_pairs(self) -> int:
        return len(self.sources) * len(self.targets)

    def parallel_ok(self) -> bool:
        """Whether this map's blocks may be evaluated on worker processes (see :class:`_Workers`)."""
        rule = self.cm.rule
        return (self.reseed_globals and not self.whole and isinstance(rule, PairCallable)
                and len(self.sources) > 0 and rule.parallel_safe)

    def _checked(self, out: Any, n_targets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        where = f"connection_rule of edge type {self.cm.edge_type_id}"
        if not isinstance(out, tuple) or len(out) != 3:
            raise BuilderError(where, "(source_index, target_index, nsyns)", type(out).__name__)
        si, ti, ns = (np.asarray(x) for x in out)
        if not (si.shape == ti.shape == ns.shape) or si.ndim != 1:
            raise BuilderError(where, "three 1-D arrays of equal length", f"shapes {si.shape, ti.shape, ns.shape}")
        if si.size:
            if si.min() < 0 or si.max() >= len(self.sources) or ti.min() < 0 or ti.max() >= n_targets:
                raise BuilderError(where, "indices into the source and target selections", "out-of-range indices")
            if ns.min() < 0:
                raise BuilderError(where, "non-negative synapse counts", str(int(ns.min())))
        keep = ns > 0
        if not keep.all():
            si, ti, ns = si[keep], ti[keep], ns[keep]
        return si.astype(np.int64, copy=False), ti.astype(np.int64, copy=False), ns.astype(np.int64, copy=False)

    def bmtk_rank(self, si: np.ndarray, ti: np.ndarray, ns: np.ndarray) -> np.ndarray:
        """Each synapse's position in bmtk's edge order (pairs source-major, each repeated nsyns times)."""
        all_si, all_ti, all_ns = self._all  # type: ignore[misc]
        key_all = all_si * len(self.targets) + all_ti
        order = np.argsort(key_all, kind="stable")
        start = np.empty(len(order), np.int64)
        start[order] = np.concatenate(([0], np.cumsum(all_ns[order])[:-1]))
        pos = np.searchsorted(key_all[order], si * len(self.targets) + ti)
        first = start[order[pos]]
        return np.repeat(first, ns) + _ramp(ns)


def _ramp(ns: np.ndarray) -> np.ndarray:
    """0..n-1 for each count n, concatenated."""
    total = int(ns.sum())
    if total == 0:
        return np.empty(0, np.int64)
    starts = np.repeat(np.cumsum(ns) - ns, ns)
    return np.arange(total, dtype=np.int64) - starts


#: pair calls (sources x targets of the maps that qualify) from which forking workers pays
PARALLEL_MIN_PAIRS = 1 << 19
#: pair calls evaluated ahead of the block being written (bounds the results held in memory)
PAIRS_AHEAD = 1 << 25
_FORKED: dict[int, list[_MapState]] = {}  # the maps a forked worker evaluates, by pool


def build_workers() -> int:
    """Worker processes for per-pair callables: ``MODELKIT_BUILD_WORKERS``, else the CPUs available (at most 8).

    1 (or 0) evaluates every block in this process.
    """
    env = os.environ.get("MODELKIT_BUILD_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            log.warning("MODELKIT_BUILD_WORKERS=%r is not an integer; building without workers", env)
            return 1
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return min(n, 8)


def _work(token: int, task: tuple[int, int, int, int]) -> Any:
    """In a forked worker: one block of one map, with the global generators' states after it."""
    i, block, a, b = task
    st = _FORKED[token][i]
    try:
        si, ti, ns = st.block_pairs(block, a, b)
    except BaseException:  # the parent evaluates the block again, where the error then surfaces
        return None
    small = len(si) and max(int(si.max()), int(ti.max())) < 2**31
    out = (si.astype(np.int32), ti.astype(np.int32)) if small else (si, ti)
    ns_out = ns.astype(np.uint8) if len(ns) and int(ns.max()) < 256 else ns
    return out[0], out[1], ns_out, np.random.get_state(), _pyrandom.getstate()


class _Workers:
    """Blocks of per-pair callable maps evaluated ahead on forked worker processes.

    Only for maps whose blocks are independent: the builder has a seed (numpy's and
    Python's global generators are seeded per block) and the function keeps no
    state of its own (:attr:`PairCallable.parallel_safe`).  A worker returns a
    block's pairs and the generators' states after it, which the parent adopts, so
    everything that follows sees what a serial build would: the files are identical
    whatever the number of workers.  A block that fails in a worker is evaluated
    again in the parent, which raises the error.

    Tasks are admitted in block order while fewer than :data:`PAIRS_AHEAD` pair calls
    are outstanding (at least two per worker), and each admitted batch starts largest
    first, so that workers finish together; results wait in memory until used.
    """

    def __init__(self, states: list[_MapState], tasks: list[tuple[int, int, int, int]], n_workers: int) -> None:
        import multiprocessing
        self.token = id(self)
        _FORKED[self.token] = states
        self.states = states
        self.tasks = deque(tasks)
        self.pending: dict[tuple[int, int], Any] = {}
        self.ahead = 0  # pair calls of the pending tasks
        self.min_pending = 2 * n_workers
        try:
            with warnings.catch_warnings():  # Python >= 3.12 warns on fork once native threads (BLAS) exist
                warnings.simplefilter("ignore", DeprecationWarning)
                self.pool = multiprocessing.get_context("fork").Pool(n_workers)
        except BaseException:
            _FORKED.pop(self.token, None)
            raise
        self._fill()

    def _size(self, task: tuple[int, int, int, int]) -> int:
        i, _, a, b = task
        return len(self.states[i].sources) * (b - a)

    @classmethod
    def start(cls, states: list[_MapState], bounds: list[tuple[int, int, int]]) -> "_Workers | None":
        """A pool for the maps that qualify, or None (nothing to gain, one CPU, no fork)."""
        if not sys.platform.startswith("linux") or threading.active_count() > 1:
            return None  # forking while other threads may hold locks could deadlock the workers
        par = [st for st in states if st.parallel_ok()]
        if not par or sum(st.n_pairs() for st in par) < PARALLEL_MIN_PAIRS:
            return None
        n = build_workers()
        if n < 2:
            return None
        tasks = []
        for block, t_lo, t_hi in bounds:
            for st in par:
                tids = st.targets.ids
                a, b = int(np.searchsorted(tids, t_lo)), int(np.searchsorted(tids, t_hi))
                if a < b:
                    tasks.append((st.index, block, a, b))
        for st in par:  # made once here, shared by the workers (copy-on-write)
            st.sources.table.views()
            st.targets.table.views()
            st.cm.rule._caller()  # type: ignore[attr-defined]
        try:
            pool = cls(states, tasks, min(n, len(tasks)))
        except (OSError, ValueError, AssertionError) as e:  # e.g. a daemonic process may not fork workers
            log.info("per-pair rules evaluated without worker processes: %s", e)
            return None
        for st in par:
            st.pool = pool
        return pool

    def _fill(self) -> None:
        batch: list[tuple[int, int, int, int]] = []
        while self.tasks and (self.ahead < PAIRS_AHEAD or len(self.pending) + len(batch) < self.min_pending):
            t = self.tasks.popleft()
            self.ahead += self._size(t)
            batch.append(t)
        for t in sorted(batch, key=self._size, reverse=True):
            self.pending[t[:2]] = (t, self.pool.apply_async(_work, (self.token, t)))

    def take(self, index: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The pairs of map ``index`` in ``block``, or None to evaluate it here."""
        entry = self.pending.pop((index, block), None)
        if entry is None:  # not expected: evaluate here
            return None
        task, res = entry
        try:
            got = res.get()
        except Exception:  # a worker lost: evaluate here
            got = None
        self.ahead -= self._size(task)
        self._fill()
        if got is None:
            return None
        si, ti, ns, np_state, py_state = got
        np.random.set_state(np_state)
        _pyrandom.setstate(py_state)
        return si.astype(np.int64), ti.astype(np.int64), ns.astype(np.int64)

    def shutdown(self) -> None:
        for st in _FORKED.pop(self.token, []):
            st.pool = None
        self.pool.terminate()
        self.pool.join()


#: vectorised rules that draw only from the Generator they are given and only read the node columns:
#: their next block may be computed on a thread while this one finishes a block
_THREADABLE = (FixedProbability, DistanceProbability, FixedInDegree, AllToAll)


class _Ahead:
    """The next blocks of built-in vectorised rules, computed on a thread (numpy and scipy release the GIL).

    A thread holds at most two blocks' worth of maps ahead.  The rules take their
    draws from the (seed, map, block) Generator only, so the pairs are those a
    serial build makes; the global generators are reseeded in :meth:`_MapState.pairs`
    at the point a serial build reseeds them.
    """

    def __init__(self, states: list[_MapState], bounds: list[tuple[int, int, int]], ex: ThreadPoolExecutor) -> None:
        par = [st for st in states if not st.whole and st.pool is None and isinstance(st.cm.rule, _THREADABLE)
               and len(st.sources) and len(st.targets)]
        self.tasks: deque = deque()
        for block, t_lo, t_hi in bounds:
            for st in par:
                tids = st.targets.ids
                a, b = int(np.searchsorted(tids, t_lo)), int(np.searchsorted(tids, t_hi))
                if a < b:
                    self.tasks.append((st, block, a, b))
        self.window = 2 * max(1, len(par))
        self.pending: dict[tuple[int, int], Future] = {}
        self.ex = ex
        for st in par:
            st.ahead = self
        self._fill()

    def _fill(self) -> None:
        while self.tasks and len(self.pending) < self.window:
            st, block, a, b = self.tasks.popleft()
            self.pending[(st.index, block)] = self.ex.submit(st.connect_block, block, a, b)

    def take(self, index: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        fut = self.pending.pop((index, block), None)
        if fut is None:
            return None
        self._fill()
        return fut.result()


def generate_edges(path: PathLike, population: str, maps: list[ConnectionMap], src_table: NodeTable,
                   tgt_table: NodeTable, src_name: str, tgt_name: str, seed: np.random.SeedSequence,
                   targets_per_block: int = 1024, reseed_globals: bool = False,
                   junction_ids: bool = False, junction_start: int = 0) -> GenerationResult:
    """Generate and write one edge population (the maps of one source/target network pair).

    Parameters
    ----------
    path : str
        Output edges file (written atomically).
    population : str
        Edge population name.
    maps : list of ConnectionMap
    src_table, tgt_table : NodeTable
    seed : SeedSequence
        Root of every random stream (one per map and block).
    targets_per_block : int
        Target nodes per generation block (bounds memory).
    reseed_globals : bool
        Seed numpy's and Python's global generators per block for bmtk-style callables.
    junction_ids : bool
        Gap junctions: add ``efferent_junction_id`` / ``afferent_junction_id`` columns.
    """
    schemas: dict[tuple, int] = {}
    map_group = []
    for cm in maps:
        key = _group_schema(cm)
        if key not in schemas:
            schemas[key] = len(schemas)
        map_group.append(schemas[key])
    groups: dict[int, dict[str, Any]] = {}
    for cm, gid in zip(maps, map_group):
        spec = dict(_dtype_of(cm))
        if junction_ids:
            spec.update(efferent_junction_id=np.uint64, afferent_junction_id=np.uint64)
        groups.setdefault(gid, spec)
    states = [_MapState(i, cm, src_table, tgt_table,
                        np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i)), reseed_globals)
              for i, cm in enumerate(maps)]
    tgt_ids_sorted = np.sort(tgt_table.ids)
    bounds = [(block, int(tgt_ids_sorted[lo]), int(tgt_ids_sorted[min(len(tgt_ids_sorted), lo + targets_per_block)
                                                                   - 1]) + 1)
              for block, lo in enumerate(range(0, len(tgt_ids_sorted), max(1, targets_per_block)))]
    pool = _Workers.start(states, bounds)  # before the output file is opened: workers never see it
    try:
        return _generate(path, population, states, map_group, groups, src_table, tgt_table, src_name, tgt_name,
                         bounds, junction_ids, junction_start)
    finally:
        if pool is not None:
            pool.shutdown()


def _generate(path: PathLike, population: str, states: list[_MapState], map_group: list[int],
              groups: dict[int, dict[str, Any]], src_table: NodeTable, tgt_table: NodeTable, src_name: str,
              tgt_name: str, bounds: list[tuple[int, int, int]], junction_ids: bool,
              junction_start: int) -> GenerationResult:
    n_syns = 0
    n_rows = 0
    next_junction = junction_start
    # blocks are written by a second thread while this one makes the next block (HDF5 releases the GIL);
    # the executor is left (waiting for the last write) before the writer closes or aborts
    with EdgeWriter(path, overwrite=True) as w, ThreadPoolExecutor(1, thread_name_prefix="modelkit-writer") as ex, \
            _ahead(states, bounds):
        pw = w.add_population(population, src_name, tgt_name, int(src_table.ids.max()) + 1 if src_table.size else 0,
                              int(tgt_table.ids.max()) + 1 if tgt_table.size else 0, groups)
        writing: Future | None = None
        for block, t_lo, t_hi in bounds:
            parts = []
            for st, gid in zip(states, map_group):
                si, ti, ns = st.pairs(block, t_lo, t_hi)
                if len(si) == 0:
                    continue
                n_syns += int(ns.sum())
                parts.append(_rows(st, gid, block, si, ti, ns))
            if not parts:
                continue
            src, tgt, et, gids, cols = _assemble(parts, groups)
            if junction_ids:  # two ids per junction, one for each side (for parallel transfer)
                for gid in sorted(cols):
                    m = len(next(iter(cols[gid].values()))) if cols[gid] else int(np.count_nonzero(gids == gid))
                    ids = next_junction + 2 * np.arange(m, dtype=np.int64)
                    cols[gid]["efferent_junction_id"] = ids
                    cols[gid]["afferent_junction_id"] = ids + 1
                    next_junction += 2 * m
            if writing is not None:
                writing.result()  # one block in flight at most (and its errors raised here)
            writing = ex.submit(pw.append, src, tgt, et, gids, cols)
            n_rows += len(src)
        if writing is not None:
            writing.result()
    return GenerationResult(n_rows, n_syns)


@contextmanager
def _ahead(states: list[_MapState], bounds: list[tuple[int, int, int]]) -> Iterator[None]:
    """Blocks of built-in vectorised rules computed ahead on a thread, for the ``with`` block."""
    ex = ThreadPoolExecutor(1, thread_name_prefix="modelkit-rules")
    try:
        _Ahead(states, bounds, ex)
        yield
    finally:
        ex.shutdown(wait=True, cancel_futures=True)  # on an error, blocks not started are dropped
        for st in states:
            st.ahead = None


Part = tuple  # (source ids, target ids, edge type id, group id, {column: values}) of one map in one block


def _assemble(parts: list[Part], groups: dict[int, dict[str, Any]]
              ) -> tuple[np.ndarray, np.ndarray, Any, Any, dict[int, dict[str, np.ndarray]]]:
    """One block's rows from its maps' parts, sorted by target (stable: map order, then each map's order).

    Returns source ids, target ids, edge type ids and group ids (arrays, or one int for the
    whole block), and ``{group: {column: values}}`` for the columns the rules produce.
    Parts are scattered straight to their sorted places (no concatenation, no gather).
    """
    names = {g: [c for c in groups[g] if c not in ("efferent_junction_id", "afferent_junction_id")]
             for g in groups}
    et_vals = [p[2] for p in parts]
    gid_vals = [p[3] for p in parts]
    one_et = len(set(et_vals)) == 1
    one_gid = len(set(gid_vals)) == 1
    dests = _merge_dests([p[1] for p in parts])
    if dests is None:  # in order already
        if len(parts) == 1:
            src, tgt = parts[0][0], parts[0][1]
        else:
            src = np.concatenate([p[0] for p in parts])
            tgt = np.concatenate([p[1] for p in parts])
        lens = [len(p[0]) for p in parts]
        et = et_vals[0] if one_et else np.repeat(np.asarray(et_vals, np.int64), lens)
        gids = gid_vals[0] if one_gid else np.repeat(np.asarray(gid_vals, np.int64), lens)
        cols: dict[int, dict[str, np.ndarray]] = {}
        for g in dict.fromkeys(gid_vals):
            cols[g] = {name: _concat([p[4].get(name) for p in parts if p[3] == g]) for name in names[g]}
        return src, tgt, et, gids, cols
    n = sum(len(d) for d in dests)
    src = _scatter([p[0] for p in parts], dests, n)
    tgt = _scatter([p[1] for p in parts], dests, n)
    et = et_vals[0] if one_et else _scatter([np.int64(v) for v in et_vals], dests, n)
    gids = gid_vals[0] if one_gid else _scatter([np.int64(v) for v in gid_vals], dests, n)
    cols = {}
    for g in sorted(set(gid_vals)):
        ks = [k for k, v in enumerate(gid_vals) if v == g]
        if one_gid:
            gd = dests
        else:  # places among the group's rows: rank of each row among the group's, in sorted order
            rank = np.cumsum(gids == g) - 1
            gd = [rank[dests[k]] for k in ks]
        m = sum(len(d) for d in gd)
        cols[g] = {name: _scatter([parts[k][4].get(name) for k in ks], gd, m) for name in names[g]}
    return src, tgt, et, gids, cols


def _scatter(vals: list, dests: list[np.ndarray], n: int) -> np.ndarray:
    """``out[dests[k]] = vals[k]`` for every part (a part's value may be one scalar)."""
    arrays = [np.asarray(v) for v in vals]
    if any(a.dtype.kind in "OU" for a in arrays):
        out = np.empty(n, dtype=object)
    else:
        out = np.empty(n, dtype=np.result_type(*arrays))
    for a, d in zip(arrays, dests):
        out[d] = a
    return out


def _merge_dests(tgts: list[np.ndarray]) -> list[np.ndarray] | None:
    """Where each part's rows go when the parts' rows are stably sorted by target; None if in order already.

    Parts sorted by target are merged by counting (targets of a block span a narrow range);
    otherwise the concatenation is sorted.
    """
    lens = [len(t) for t in tgts]
    if all(n < 2 or bool((t[1:] >= t[:-1]).all()) for t, n in zip(tgts, lens)):
        last = None
        for t in tgts:
            if len(t):
                if last is not None and int(t[0]) < last:
                    break
                last = int(t[-1])
        else:
            return None  # each part sorted, and the parts follow each other
        dests = _counting_merge(tgts)
        if dests is not None:
            return dests
    order = stable_argsort_ids(np.concatenate(tgts))
    inv = np.empty(len(order), dtype=np.int64)
    inv[order] = np.arange(len(order), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lens)))
    return [inv[starts[k]:starts[k + 1]] for k in range(len(tgts))]


def _counting_merge(tgts: list[np.ndarray]) -> list[np.ndarray] | None:
    """Destinations of the rows of target-sorted parts in their stable merge; None when the targets
    span too wide a range for counting."""
    nonempty = [t for t in tgts if len(t)]
    if not nonempty:
        return [np.empty(0, np.int64) for _ in tgts]
    lo = min(int(t[0]) for t in nonempty)
    hi = max(int(t[-1]) for t in nonempty) + 1
    n = sum(len(t) for t in tgts)
    if hi - lo > 4 * n + 4096:
        return None
    width = hi - lo
    local = [t - lo for t in tgts]
    counts = [np.bincount(x, minlength=width) for x in local]
    base = np.zeros(width, dtype=np.int64)  # where each target's rows start in the output
    np.cumsum(sum(counts[1:], counts[0])[:-1], out=base[1:])
    dests = []
    for x, c in zip(local, counts):
        # a part's row k with target t goes to base[t] + (k - first row of t in the part)
        shift = base - (np.cumsum(c) - c)
        dest = shift[x]
        dest += np.arange(len(x), dtype=np.int64)
        dests.append(dest)
        base += c
    return dests


def _merge_order(tgts: list[np.ndarray]) -> np.ndarray | None:
    """Stable sort order (gather indices) of the concatenated target-sorted parts, by counting; None if a
    part is not sorted or the targets span too wide a range."""
    if any(len(t) > 1 and not bool((t[1:] >= t[:-1]).all()) for t in tgts):
        return None
    dests = _counting_merge(tgts)
    if dests is None:
        return None
    order = np.empty(sum(len(t) for t in tgts), dtype=np.int64)
    off = 0
    for d in dests:
        order[d] = np.arange(off, off + len(d), dtype=np.int64)
        off += len(d)
    return order


def _concat(vals: list) -> np.ndarray:
    """Values of several parts, one after the other (strings and mixed values as objects)."""
    arrays = [np.asarray(v) for v in vals]
    if len(arrays) == 1:
        return arrays[0]
    if any(a.dtype.kind in "OU" for a in arrays):
        out = np.empty(sum(len(a) for a in arrays), dtype=object)
        i = 0
        for a in arrays:
            out[i:i + len(a)] = a
            i += len(a)
        return out
    return np.concatenate(arrays)


def _rows(st: _MapState, gid: int, block: int, si: np.ndarray, ti: np.ndarray, ns: np.ndarray) -> Part:
    """Edge rows of one map in one block: ids, type and group (one int each), group columns."""
    cm = st.cm
    if not cm.params and not cm.is_gap_junction:  # one row per pair, synapse count in a column (bmtk)
        src = st.sources.ids[si]
        tgt = st.targets.ids[ti]
        return src, tgt, cm.edge_type_id, gid, {"nsyns": ns.astype(np.uint32)}
    # one row per synapse
    order = None
    if cm.needs_bmtk_order:
        order = st.bmtk_rank(si, ti, ns)
    if len(ns) and int(ns.max()) == 1:
        si_r, ti_r = si, ti
    else:
        si_r = np.repeat(si, ns)
        ti_r = np.repeat(ti, ns)
    srcs: NodeArrays = st.sources.take(si_r)
    tgts: NodeArrays = st.targets.take(ti_r)
    cols: dict[str, np.ndarray] = {}
    if not cm.params:
        cols["nsyns"] = np.ones(len(si_r), np.uint32)
    for k, p in enumerate(cm.params):
        if p.kind == "per_edge":
            st._reseed(block * 1000 + k + 1)
        vals = p.evaluate(srcs, tgts, st.rng(block, k + 1), order)
        cols.update(zip(p.names, vals))
    return srcs.ids, tgts.ids, cm.edge_type_id, gid, cols
