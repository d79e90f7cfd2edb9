"""Edge generation: connection maps -> sorted, streamed SONATA edge populations.

Edges of one (source network, target network) pair are generated block by
block of target nodes, in target-id order: every connection map with targets in
the block contributes its connections (rules evaluated on arrays), properties
are computed on the block's edges, and the block is appended to the file sorted
by target.  Memory stays bounded by the block; rules that cannot work per block
(fixed out-degree, bmtk's ``one_to_all``, values in bmtk's order) are evaluated
once and sliced.  Random streams are derived from (seed, map, block), so the
same seed gives byte-identical files.
"""

from __future__ import annotations

import random as _pyrandom
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelkit.builder.connection_map import ConnectionMap
from modelkit.builder.nodes import NodeArrays, NodeTable
from modelkit.errors import BuilderError
from modelkit.sonata.edge_writer import EdgeWriter

__all__ = ["generate_edges", "GenerationResult", "global_rng_state"]


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


def _group_schema(cm: ConnectionMap) -> tuple:
    if not cm.params:
        return (("nsyns", "uint32"),)
    return tuple(sorted((n, repr(dt)) for p in cm.params for n, dt in zip(p.names, p.dtypes)))


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
        self._reseed(block)
        block_targets = self.targets.take(np.arange(a, b))
        si, ti, ns = self._checked(self.cm.rule.connect(self.sources, block_targets, self.rng(block)), b - a)
        return si, ti + a, ns

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
        return si[keep].astype(np.int64), ti[keep].astype(np.int64), ns[keep].astype(np.int64)

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


def generate_edges(path: Any, population: str, maps: list[ConnectionMap], src_table: NodeTable,
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
    n_syns = 0
    n_rows = 0
    next_junction = junction_start
    with EdgeWriter(path, overwrite=True) as w:
        pw = w.add_population(population, src_name, tgt_name, int(src_table.ids.max()) + 1 if src_table.size else 0,
                              int(tgt_table.ids.max()) + 1 if tgt_table.size else 0, groups)
        for block, lo in enumerate(range(0, len(tgt_ids_sorted), max(1, targets_per_block))):
            hi = min(len(tgt_ids_sorted), lo + targets_per_block)
            t_lo = int(tgt_ids_sorted[lo])
            t_hi = int(tgt_ids_sorted[hi - 1]) + 1
            parts = []
            for st, gid in zip(states, map_group):
                si, ti, ns = st.pairs(block, t_lo, t_hi)
                if len(si) == 0:
                    continue
                n_syns += int(ns.sum())
                parts.append(_rows(st, gid, block, si, ti, ns))
            if not parts:
                continue
            src = np.concatenate([p[0] for p in parts])
            tgt = np.concatenate([p[1] for p in parts])
            et = np.concatenate([p[2] for p in parts])
            gids = np.concatenate([p[3] for p in parts])
            order = np.argsort(tgt, kind="stable")
            src, tgt, et, gids = src[order], tgt[order], et[order], gids[order]
            seg = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(parts)])[order]
            off = np.concatenate([np.arange(len(p[0])) for p in parts])[order]
            cols: dict[int, dict[str, np.ndarray]] = {}
            for gid in np.unique(gids).tolist():
                m = gids == gid
                cols[gid] = {name: _gather([p[4].get(name) for p in parts], seg[m], off[m])
                             for name in groups[gid] if name not in ("efferent_junction_id", "afferent_junction_id")}
                if junction_ids:  # two ids per junction, one for each side (for parallel transfer)
                    ids = next_junction + 2 * np.arange(int(m.sum()), dtype=np.int64)
                    cols[gid]["efferent_junction_id"] = ids
                    cols[gid]["afferent_junction_id"] = ids + 1
                    next_junction += 2 * int(m.sum())
            pw.append(src, tgt, et, gids, cols)
            n_rows += len(src)
    return GenerationResult(n_rows, n_syns)


def _gather(vals: list, part: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Values of rows taken from several parts: row k is ``vals[part[k]][offset[k]]``."""
    used = np.unique(part).tolist()
    present = [vals[k] for k in used]
    if len(used) == 1:
        return np.asarray(present[0])[offset]
    kinds = {np.asarray(v).dtype.kind for v in present}
    dt = object if "O" in kinds or "U" in kinds else np.result_type(*[np.asarray(v).dtype for v in present])
    out = np.empty(len(part), dtype=dt)
    for k in used:
        m = part == k
        out[m] = np.asarray(vals[k])[offset[m]]
    return out


def _rows(st: _MapState, gid: int, block: int, si: np.ndarray, ti: np.ndarray,
          ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Edge rows of one map in one block: ids, type, group and group columns."""
    cm = st.cm
    if not cm.params and not cm.is_gap_junction:  # one row per pair, synapse count in a column (bmtk)
        src = st.sources.ids[si]
        tgt = st.targets.ids[ti]
        return (src, tgt, np.full(len(si), cm.edge_type_id, np.int64), np.full(len(si), gid, np.int64),
                {"nsyns": ns.astype(np.uint32)})
    # one row per synapse
    order = None
    if cm.needs_bmtk_order:
        order = st.bmtk_rank(si, ti, ns)
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
    return (srcs.ids, tgts.ids, np.full(len(si_r), cm.edge_type_id, np.int64), np.full(len(si_r), gid, np.int64),
            cols)
