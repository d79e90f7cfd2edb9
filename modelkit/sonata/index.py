"""Edge indices: ``source_to_target`` / ``target_to_source`` (build, read, query).

An index maps node n to rows ``node_id_to_ranges[n] = [a, b)`` of
``range_to_edge_id``, whose rows are half-open edge-id ranges.  Files written by
bmtk spell the first dataset ``node_id_to_range`` and the group ``indicies``;
both are read, only the spec names are written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.selection import Selection

__all__ = ["stable_argsort_ids", "build_index", "index_runs", "index_runs_chunked", "write_index", "IndexRuns",
           "EdgeIndex", "INDEX_GROUPS", "NODE_TO_RANGES_NAMES", "find_index_group"]

INDEX_GROUPS = ("indices", "indicies", "incidies")
NODE_TO_RANGES_NAMES = ("node_id_to_ranges", "node_id_to_range")
DIRECTIONS = ("source_to_target", "target_to_source")


_U64 = np.uint64


def _as_u64(ids: np.ndarray) -> np.ndarray:
    """Non-negative integer ids as uint64 without a copy where possible (negative int64 wrap to >= 2**63)."""
    if ids.dtype == np.uint64:
        return ids
    if ids.dtype == np.int64:
        return ids.view(np.uint64)
    if ids.size and ids.dtype.kind not in "iu":
        raise ValueError(f"node ids must be integers, got dtype {ids.dtype}")
    if ids.dtype.kind == "i" and ids.size and int(ids.min()) < 0:
        raise ValueError(f"negative node id {int(ids.min())}")
    return ids.astype(np.uint64)


def stable_argsort_ids(ids: np.ndarray, max_id: int | None = None) -> np.ndarray:
    """Stable argsort of non-negative integer ids (int64 result).

    Packs ``id << b | position`` into one uint64 key and sorts the keys (numpy's
    vectorised quicksort on uint64), which is several times faster than a stable
    argsort; falls back to ``np.argsort(kind="stable")`` when the key needs more
    than 64 bits.

    Parameters
    ----------
    ids : ndarray
        Non-negative integer ids.
    max_id : int, optional
        Largest id, when known (saves a pass).
    """
    ids = np.asarray(ids).ravel()
    if ids.size == 0:
        return np.empty(0, dtype=np.int64)
    if max_id is None:
        max_id = int(ids.max())
    bits = (ids.size - 1).bit_length()
    if ids.dtype.kind not in "iu" or int(ids.min()) < 0 or int(max_id).bit_length() + bits > 64:
        return np.argsort(ids, kind="stable")
    key = _as_u64(ids) << _U64(bits)
    key |= np.arange(ids.size, dtype=np.uint64)
    key.sort()
    key &= _U64((1 << bits) - 1)
    return key.view(np.int64)


#: elements per block in blockwise passes (small scratch buffers instead of full-size temporaries)
_BLOCK = 1 << 20


class IndexRuns:
    """``range_to_edge_id`` of one index direction, held compactly until it is written.

    Rows are the maximal runs of consecutive edges of one node, ordered by node,
    then edge id.  They are stored as the run starts (sorted ids), as packed sort
    keys (unsorted ids), or, rarely, as the rows themselves; :meth:`rows` decodes
    any block, so a writer never needs the (R, 2) array whole.
    """

    __slots__ = ("n_rows", "_n_edges", "_starts", "_key", "_len_bits", "_edge_mask", "_table")

    def __init__(self, n_rows: int, n_edges: int, *, starts: np.ndarray | None = None, key: np.ndarray | None = None,
                 len_bits: int = 0, edge_bits: int = 0, table: np.ndarray | None = None) -> None:
        self.n_rows = n_rows
        self._n_edges = n_edges
        self._starts = starts  # sorted ids: row k = [starts[k], starts[k + 1] or n_edges)
        self._key = key  # node << (edge_bits + len_bits) | start << len_bits | length, sorted
        self._len_bits = len_bits
        self._edge_mask = (1 << edge_bits) - 1
        self._table = table

    def rows(self, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``lo:hi`` as a (hi - lo, 2) uint64 array (written into ``out`` when given).

        Parameters
        ----------
        lo : int
            First row.
        hi : int
            Row to stop at (excluded).
        out : ndarray, optional
            A (hi - lo, 2) uint64 buffer to fill.
        """
        if out is None:
            out = np.empty((hi - lo, 2), dtype=np.uint64)
        if hi <= lo:
            return out
        if self._table is not None:
            out[...] = self._table[lo:hi]
        elif self._starts is not None:
            s = self._starts
            out[:, 0] = s[lo:hi]
            out[:hi - lo - 1, 1] = s[lo + 1:hi]
            out[-1, 1] = s[hi] if hi < len(s) else self._n_edges
        else:
            k = self._key[lo:hi]  # type: ignore[index]
            np.right_shift(k, _U64(self._len_bits), out=out[:, 0])
            out[:, 0] &= _U64(self._edge_mask)
            np.bitwise_and(k, _U64((1 << self._len_bits) - 1), out=out[:, 1])
            out[:, 1] += out[:, 0]
        return out

    def array(self) -> np.ndarray:
        """All rows, (n_rows, 2) uint64."""
        return self._table if self._table is not None else self.rows(0, self.n_rows)

    def write_to(self, ds: h5py.Dataset, block: int = _BLOCK, executor: Any = None) -> None:
        """Fill the (n_rows, 2) dataset ``ds`` block by block through reused buffers.

        With an ``executor`` (a ``concurrent.futures`` pool), block k + 1 is decoded
        there while this thread writes block k (numpy and HDF5 release the GIL).

        Parameters
        ----------
        ds : h5py.Dataset
            An (n_rows, 2) uint64 dataset.
        block : int, optional
            Rows per write.
        executor : concurrent.futures.Executor, optional
            A pool that decodes the next block while this one is written.
        """
        if self._table is not None:
            ds[...] = self._table
            return
        n = self.n_rows
        bufs = [np.empty((min(n, block), 2), dtype=np.uint64) for _ in range(1 if executor is None else 2)]

        def decode(k: int) -> np.ndarray:
            lo = k * block
            hi = min(n, lo + block)
            return self.rows(lo, hi, bufs[k % len(bufs)][:hi - lo])

        n_blocks = -(-n // block)
        pending = executor.submit(decode, 0) if executor is not None and n_blocks else None
        for k in range(n_blocks):
            if pending is None:
                rows = decode(k)
            else:
                rows = pending.result()
                pending = executor.submit(decode, k + 1) if k + 1 < n_blocks else None
            ds[k * block:k * block + len(rows)] = rows


def _run_lengths(starts: np.ndarray, lo: int, hi: int, n_edges: int, buf: np.ndarray) -> np.ndarray:
    """Lengths of the runs ``lo:hi`` (the run from the last start ends at ``n_edges``), in ``buf``."""
    out = buf[:hi - lo]
    m = hi - lo - (hi == len(starts))
    np.subtract(starts[lo + 1:lo + 1 + m], starts[lo:lo + m], out=out[:m])
    if m < len(out):
        out[m] = n_edges - int(starts[-1])
    return out


def _sorted_runs(run_node: np.ndarray, starts: np.ndarray, n_edges: int, max_id: int,
                 key_bits: int = 64, block: int = _BLOCK) -> IndexRuns:
    """The runs ``[starts[k], starts[k + 1])`` (the last ends at ``n_edges``) ordered by (node, start).

    Node, start and length are packed into one uint64 key when they fit in
    ``key_bits``, so one in-place sort orders everything without random gathers.
    ``run_node`` (uint64) becomes the key; the lengths and shifted starts are
    OR-ed in block by block, so no other full-size array is made: fresh memory
    is costly (page faults), often more than the passes over it.
    """
    r = len(run_node)
    blk = min(r, block)
    buf = np.empty(blk, dtype=np.uint64)
    max_len = 0
    for lo in range(0, r, blk):  # longest run, for the width of the length field
        hi = min(r, lo + blk)
        max_len = max(max_len, int(_run_lengths(starts, lo, hi, n_edges, buf).max()))
    bl = max_len.bit_length()
    be = max(n_edges - 1, 1).bit_length()
    if max_id.bit_length() + be + bl > key_bits:
        order = np.argsort(run_node, kind="stable")
        first = starts[order]
        ends = np.append(starts[1:], _U64(n_edges))[order]
        return IndexRuns(r, n_edges, table=np.stack([first, ends], axis=1))
    key = run_node
    key <<= _U64(be + bl)
    for lo in range(0, r, blk):
        hi = min(r, lo + blk)
        d = _run_lengths(starts, lo, hi, n_edges, buf)
        key[lo:hi] |= d
        np.left_shift(starts[lo:hi], _U64(bl), out=d)
        key[lo:hi] |= d
    key.sort()
    return IndexRuns(r, n_edges, key=key, len_bits=bl, edge_bits=be)


def index_runs(ids: np.ndarray, n_nodes: int | None = None) -> tuple[np.ndarray, IndexRuns]:
    """:func:`build_index` with ``range_to_edge_id`` as :class:`IndexRuns` (decoded when written).

    Parameters
    ----------
    ids : ndarray
        Source or target node id of each edge.
    n_nodes : int, optional
        Nodes in the indexed population (rows of ``node_id_to_ranges``); max id + 1 when omitted.
    """
    ids = np.asarray(ids).ravel()
    e = len(ids)
    u = _as_u64(ids)
    max_id = int(u.max()) if e else -1
    if max_id >= 1 << 63 and ids.dtype == np.int64:  # negative ids seen through the uint64 view
        raise ValueError(f"negative node id {int(ids.min())}")
    if n_nodes is None:
        n_nodes = max_id + 1
    if max_id >= n_nodes:
        raise ValueError(f"node id {max_id} >= number of nodes {n_nodes}")
    if e == 0:
        return np.zeros((n_nodes, 2), dtype=np.uint64), IndexRuns(0, 0, table=np.empty((0, 2), dtype=np.uint64))
    # runs of equal consecutive ids, in file order
    new_run = np.empty(e, dtype=bool)
    new_run[0] = True
    np.not_equal(u[1:], u[:-1], out=new_run[1:])
    first = np.flatnonzero(new_run)
    del new_run
    r = len(first)
    run_node = u[first]
    starts = first.view(np.uint64)
    counts = np.bincount(run_node.view(np.int64), minlength=n_nodes)
    n2r = np.empty((n_nodes, 2), dtype=np.uint64)
    np.cumsum(counts, out=n2r[:, 1])
    np.subtract(n2r[:, 1], counts, out=n2r[:, 0], casting="unsafe")
    if r < 2 or (run_node[1] > run_node[0] and bool((run_node[1:] > run_node[:-1]).all())):
        return n2r, IndexRuns(r, e, starts=starts)  # sorted ids: one run per node, in order
    return n2r, _sorted_runs(run_node, starts, e, max_id)


def write_index(indices: h5py.Group, direction: str, node_id_to_ranges: np.ndarray, runs: IndexRuns,
                executor: Any = None) -> None:
    """Write one direction of an edge index: ``indices/<direction>/{node_id_to_ranges, range_to_edge_id}``.

    Parameters
    ----------
    indices : h5py.Group
        The population's ``indices`` group.
    direction : str
        ``source_to_target`` or ``target_to_source``.
    node_id_to_ranges : ndarray (n_nodes, 2) uint64
        As :func:`index_runs` returns it.
    runs : IndexRuns
        The ``range_to_edge_id`` rows, decoded block by block as they are written.
    executor : concurrent.futures.Executor, optional
        Decodes the next block while this thread writes one (see :meth:`IndexRuns.write_to`).
    """
    d = indices.create_group(direction)
    d.create_dataset("node_id_to_ranges", data=node_id_to_ranges)
    # bmtk's reader (<= 1.2) accepts only the misspelt name and libsonata only the spec one:
    # a hard link serves both without storing the index twice.
    d["node_id_to_range"] = d["node_id_to_ranges"]
    # decoded block by block: the (R, 2) array (160 MB for 10^7 unsorted ids) is never made whole
    runs.write_to(d.create_dataset("range_to_edge_id", shape=(runs.n_rows, 2), dtype=np.uint64), executor=executor)


#: ids read per step by :func:`index_runs_chunked` (32 MiB of uint64)
_READ_BLOCK = 1 << 22
#: run starts kept during the first pass while the ids look sorted (beyond, a second pass packs keys)
_KEEP_STARTS = 1 << 22


def index_runs_chunked(read: Callable[[int, int], np.ndarray], n_edges: int, n_nodes: int, block: int = _READ_BLOCK,
                       key_bits: int = 64) -> tuple[np.ndarray, IndexRuns]:
    """:func:`index_runs` of ids read piece by piece: the ids are never held whole.

    Parameters
    ----------
    read : callable
        ``read(lo, hi)`` returns ids ``lo:hi`` (non-negative integers, e.g. a dataset slice).
    n_edges : int
        Number of ids.
    n_nodes : int
        Rows of ``node_id_to_ranges``; every id must be below it.
    block : int
        Ids read per step.
    key_bits : int
        Width of the packed keys (64; smaller only to test the fallback).

    Returns
    -------
    node_id_to_ranges : ndarray (n_nodes, 2) uint64
    runs : IndexRuns
        Equal to ``index_runs(ids, n_nodes)``.

    Notes
    -----
    One pass counts the runs per node and finds the longest run (keeping the run
    starts while the ids are sorted, as for the direction a builder sorts by); ids
    in any order take a second pass that packs each run as one uint64 key (node,
    start, length) into an array sorted in place.  Peak memory: 8 bytes per run
    plus a few blocks.
    """
    block = max(1, int(block))
    if n_edges == 0:
        return np.zeros((n_nodes, 2), dtype=np.uint64), IndexRuns(0, 0, table=np.empty((0, 2), dtype=np.uint64))
    if n_edges <= block and key_bits == 64:  # one read: the in-memory build (fewer passes)
        ids = np.asarray(read(0, n_edges)).ravel()
        if len(ids) != n_edges:
            raise ValueError(f"read(0, {n_edges}) returned {len(ids)} ids")
        return index_runs(ids, n_nodes)

    max_seen = [0]

    def runs_of(lo: int, hi: int, prev: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids of one block, and the positions (in the block) where a run starts."""
        u = _as_u64(np.asarray(read(lo, hi)).ravel())
        if len(u) != hi - lo:
            raise ValueError(f"read({lo}, {hi}) returned {len(u)} ids")
        mx = int(u.max())
        if mx >= n_nodes:
            if mx >= 1 << 63:
                raise ValueError("negative node id")
            raise ValueError(f"node id {mx} >= number of nodes {n_nodes}")
        max_seen[0] = max(max_seen[0], mx)
        new = np.empty(len(u), dtype=bool)
        new[0] = prev < 0 or int(u[0]) != prev
        np.not_equal(u[1:], u[:-1], out=new[1:])
        return u, np.flatnonzero(new)

    # pass 1: runs per node, longest run, sortedness (and the starts while sorted and few)
    counts = np.zeros(n_nodes, dtype=np.int64)
    r = 0
    max_len = 0
    cur = 0  # start of the open run
    prev = -1  # last id of the previous block
    is_sorted = True
    kept: list[np.ndarray] | None = []
    for lo in range(0, n_edges, block):
        hi = min(n_edges, lo + block)
        u, first = runs_of(lo, hi, prev)
        if len(first):
            run_node = u[first]
            counts += np.bincount(run_node.view(np.int64), minlength=n_nodes)
            starts = first.view(np.uint64)
            if lo:
                starts += _U64(lo)
            if lo or int(starts[0]):
                max_len = max(max_len, int(starts[0]) - cur)
            if len(first) > 1:
                max_len = max(max_len, int((starts[1:] - starts[:-1]).max()))
            cur = int(starts[-1])
            if is_sorted and ((prev >= 0 and int(run_node[0]) < prev)
                              or (len(run_node) > 1 and not bool((run_node[1:] > run_node[:-1]).all()))):
                is_sorted = False
            r += len(first)
            if kept is not None:
                if is_sorted and r <= _KEEP_STARTS:
                    kept.append(starts)
                else:
                    kept = None
        prev = int(u[-1])
        del u, first
    max_len = max(max_len, n_edges - cur)
    n2r = np.empty((n_nodes, 2), dtype=np.uint64)
    np.cumsum(counts, out=n2r[:, 1])
    np.subtract(n2r[:, 1], counts, out=n2r[:, 0], casting="unsafe")
    del counts
    if is_sorted and kept is not None:
        return n2r, IndexRuns(r, n_edges, starts=np.concatenate(kept) if kept else np.empty(0, np.uint64))
    kept = None
    bl = max_len.bit_length()
    be = max(n_edges - 1, 1).bit_length()
    max_id = max_seen[0]
    packed = max_id.bit_length() + be + bl <= key_bits
    # pass 2: every run as a packed key (or, when that does not fit, nodes and starts for the general path)
    key = np.empty(r, dtype=np.uint64)
    starts_all = None if packed else np.empty(r, dtype=np.uint64)
    k = 0
    prev = -1
    pending = -1  # key slot of the open run, waiting for its length
    cur = 0
    for lo in range(0, n_edges, block):
        hi = min(n_edges, lo + block)
        u, first = runs_of(lo, hi, prev)
        prev = int(u[-1])
        m = len(first)
        if m == 0:
            continue
        out = key[k:k + m]
        np.take(u, first, out=out)
        del u
        starts = first.view(np.uint64)
        if lo:
            starts += _U64(lo)
        if not packed:
            starts_all[k:k + m] = starts  # type: ignore[index]
            k += m
            continue
        out <<= _U64(be + bl)
        if pending >= 0:
            key[pending] |= _U64(int(starts[0]) - cur)
        lens = np.empty(m, dtype=np.uint64)
        np.subtract(starts[1:], starts[:-1], out=lens[:-1])
        lens[-1] = 0  # filled when the next run starts
        out |= lens
        np.left_shift(starts, _U64(bl), out=starts)
        out |= starts
        pending = k + m - 1
        cur = int(starts[-1] >> _U64(bl))
        k += m
    if not packed:
        return n2r, _sorted_runs(key, starts_all, n_edges, max_id, key_bits)  # type: ignore[arg-type]
    key[pending] |= _U64(n_edges - cur)
    key.sort()
    return n2r, IndexRuns(r, n_edges, key=key, len_bits=bl, edge_bits=be)


def build_index(ids: np.ndarray, n_nodes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index of edges by one end.

    Parameters
    ----------
    ids : array of int, shape (E,)
        ``source_node_id`` or ``target_node_id`` of every edge (non-negative).
    n_nodes : int, optional
        Rows of ``node_id_to_ranges`` (the node population size); default max id + 1.

    Returns
    -------
    node_id_to_ranges : ndarray (n_nodes, 2) uint64
        Nodes without edges get the empty range ``[k, k]`` (k = rows before the node's).
    range_to_edge_id : ndarray (R, 2) uint64
        Maximal runs of consecutive edge ids that share the node, ordered by node, then edge id.

    Raises
    ------
    ValueError
        A negative id, non-integer ids, or an id >= ``n_nodes``.

    Notes
    -----
    O(E) passes plus one in-place sort of the R runs packed as uint64 keys (no
    sort when ids are sorted, as a builder writes the target ids); about 0.3 s
    for 10^7 random ids.  :func:`index_runs` returns the same without making
    ``range_to_edge_id`` whole (writers decode it block by block).
    """
    n2r, runs = index_runs(ids, n_nodes)
    return n2r, runs.array()


def find_index_group(pop_group: h5py.Group, path: PathLike) -> tuple[h5py.Group | None, str | None]:
    """The index group of an edge population (spec name or a known misspelling).

    Parameters
    ----------
    pop_group : h5py.Group
        The edge population's group.
    path : str or PathLike
        The file, for messages.
    """
    with h5.guard(path, pop_group.name, "a readable edge population"):
        for nm in INDEX_GROUPS:
            obj = pop_group.get(nm)
            if isinstance(obj, h5py.Group):
                return obj, nm
    return None, None


class EdgeIndex:
    """One direction of an edge index, held as ``node_id_to_ranges`` in memory and
    ``range_to_edge_id`` in the file (read per query) or in memory: an index built in
    memory, or a file's when it has at most about twice as many rows as nodes (as
    for the direction the edges are sorted by), loaded and checked on first query.
    A one-node query then costs a few microseconds.

    Parameters
    ----------
    node_to_ranges : ndarray (N, 2)
    ranges : h5py.Dataset or ndarray (R, 2)
    path, dataset : str
        For error messages.
    n_edges : int
        Population size, to check edge ranges.
    """

    def __init__(self, node_to_ranges: np.ndarray, ranges: np.ndarray | h5py.Dataset, path: PathLike, dataset: str,
                 n_edges: int) -> None:
        self.node_to_ranges = node_to_ranges
        self.ranges = ranges
        self.path = path
        self.dataset = dataset
        self.n_edges = n_edges
        # range_to_edge_id as checked int64 in memory: built ones always, a file's when it is small
        # (at most about twice node_to_ranges, as for the direction the edges are sorted by)
        self._mem: np.ndarray | None = ranges if isinstance(ranges, np.ndarray) else None
        self._mem_tried = self._mem is not None

    @classmethod
    def from_file(cls, g: h5py.Group, direction: str, path: PathLike, n_edges: int) -> "EdgeIndex":
        """Read one direction from an index group (``node_id_to_ranges`` or ``node_id_to_range``).

        Parameters
        ----------
        g : h5py.Group
            The index group.
        direction : str
            ``source_to_target`` or ``target_to_source``.
        path : str or PathLike
            The file, for messages.
        n_edges : int
            Edges in the population.
        """
        d = h5.require_group(g, direction, path, "an index direction group")
        name = next((nm for nm in NODE_TO_RANGES_NAMES if h5.has(d, nm, path)), NODE_TO_RANGES_NAMES[0])
        n2r_ds = h5.require_dataset(d, name, path, kind="integer", ndim=2)
        r2e_ds = h5.require_dataset(d, "range_to_edge_id", path, kind="integer", ndim=2)
        for ds in (n2r_ds, r2e_ds):
            if ds.shape[1] != 2:
                raise SonataFormatError(path, ds.name, "shape (n, 2)", f"shape {ds.shape}")
        n2r = h5.as_ids(h5.read_array(n2r_ds, path), path, n2r_ds.name)
        if n2r.size and (n2r[:, 1] < n2r[:, 0]).any():
            raise SonataFormatError(path, n2r_ds.name, "ranges with start <= end", "an inverted range")
        if n2r.size and n2r[:, 1].max() > r2e_ds.shape[0]:
            raise SonataFormatError(path, n2r_ds.name, f"range rows below {r2e_ds.shape[0]}",
                                    f"row {int(n2r[:, 1].max())}")
        return cls(n2r, r2e_ds, path, r2e_ds.name, n_edges)

    @classmethod
    def in_memory(cls, ids: np.ndarray, n_edges: int, path: PathLike, dataset: str) -> "EdgeIndex":
        n2r, r2e = build_index(ids)
        return cls(n2r.view(np.int64), r2e.view(np.int64), path, dataset, n_edges)

    def file_closed(self) -> bool:
        """Whether ranges are still to be read from a file that has been closed since."""
        return self._mem is None and isinstance(self.ranges, h5py.Dataset) and not self.ranges.id.valid

    def _check_edge_ranges(self, er: np.ndarray) -> None:
        if er.size and (er[:, 1].max() > self.n_edges or (er[:, 1] < er[:, 0]).any()):
            raise SonataFormatError(self.path, self.dataset, f"edge ranges within [0, {self.n_edges}]",
                                    f"range {er[np.argmax(er[:, 1])].tolist()}")

    def _edge_ranges(self, er: np.ndarray) -> np.ndarray:
        """Rows read from ``range_to_edge_id`` as checked int64 ``[start, end)`` edge ranges."""
        er = er.reshape(-1, 2)
        if er.dtype.kind in "iu":  # check in the stored dtype: no conversion of bad values first
            if er.size and (er[:, 1].max() > self.n_edges or (er[:, 1] < er[:, 0]).any()
                            or (er.dtype.kind == "i" and er[:, 0].min() < 0)):
                raise SonataFormatError(self.path, self.dataset, f"edge ranges within [0, {self.n_edges}]",
                                        f"range {er[np.argmax(er[:, 1])].tolist()}")
            return er.astype(np.int64, copy=False)
        er = h5.as_ids(er.reshape(-1), self.path, self.dataset).reshape(-1, 2)
        self._check_edge_ranges(er)
        return er

    def _ranges_in_memory(self) -> np.ndarray | None:
        """``range_to_edge_id`` loaded and checked once when small, else None (read per query)."""
        if not self._mem_tried:
            self._mem_tried = True
            rows = int(self.ranges.shape[0])
            if rows <= 2 * len(self.node_to_ranges) + 65536:
                self._mem = self._edge_ranges(h5.read_array(self.ranges, self.path))
        return self._mem

    def edges_of_node(self, node: int) -> Selection:
        """Edge ids of one node: a slice of ``range_to_edge_id``, no unique/merge passes.

        Parameters
        ----------
        node : int
            Node id.
        """
        if node < 0 or node >= len(self.node_to_ranges):
            return Selection()
        a, b = self.node_to_ranges[node].tolist()
        if b <= a:
            return Selection()
        mem = self._ranges_in_memory()
        if mem is not None:
            return Selection._from_rows(mem[a:b])
        with h5.guard(self.path, self.dataset):
            er = self.ranges[a:b]
        return Selection._from_rows(self._edge_ranges(er))

    def edges_of(self, node_ids: np.ndarray) -> Selection:
        """Edge ids of the given nodes (ids past the index's end have none).

        Parameters
        ----------
        node_ids : ndarray
            Node ids.
        """
        ids = np.asarray(node_ids, dtype=np.int64).ravel()
        if ids.size == 1:
            return self.edges_of_node(int(ids[0]))
        ids = ids[(ids >= 0) & (ids < len(self.node_to_ranges))]
        if ids.size == 0:
            return Selection()
        rr = self.node_to_ranges[np.unique(ids)]
        rr = rr[rr[:, 1] > rr[:, 0]]
        if len(rr) == 0:
            return Selection()
        rows = Selection(rr)
        mem = self._ranges_in_memory()
        if mem is not None:
            return Selection(mem[rows.flat])
        return Selection(self._edge_ranges(h5.read_ranges(self.ranges, rows.ranges, self.path)))
