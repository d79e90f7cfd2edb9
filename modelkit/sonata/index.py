"""Edge indices: ``source_to_target`` / ``target_to_source`` (build, read, query).

An index maps node n to rows ``node_id_to_ranges[n] = [a, b)`` of
``range_to_edge_id``, whose rows are half-open edge-id ranges.  Files written by
bmtk spell the first dataset ``node_id_to_range`` and the group ``indicies``;
both are read, only the spec names are written.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from modelkit.errors import SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.selection import Selection

__all__ = ["stable_argsort_ids", "build_index", "EdgeIndex", "INDEX_GROUPS", "NODE_TO_RANGES_NAMES",
           "find_index_group"]

INDEX_GROUPS = ("indices", "indicies", "incidies")
NODE_TO_RANGES_NAMES = ("node_id_to_ranges", "node_id_to_range")
DIRECTIONS = ("source_to_target", "target_to_source")


def stable_argsort_ids(ids: np.ndarray, max_id: int | None = None) -> np.ndarray:
    """Stable argsort of non-negative integer ids, in O(n) for ids below 2**32.

    numpy sorts 16-bit keys with a radix sort; two such passes (low, then high
    16 bits) give a stable 32-bit sort about twice as fast as a comparison sort.
    """
    ids = np.asarray(ids)
    if ids.size == 0:
        return np.empty(0, dtype=np.int64)
    if max_id is None:
        max_id = int(ids.max())
    if max_id < 1 << 16:
        return np.argsort(ids.astype(np.uint16, copy=False), kind="stable")
    if max_id < 1 << 32:
        lo = (ids & 0xFFFF).astype(np.uint16)
        order = np.argsort(lo, kind="stable")
        hi = (ids >> 16).astype(np.uint16)
        return order[np.argsort(hi[order], kind="stable")]
    return np.argsort(ids, kind="stable")


def build_index(ids: np.ndarray, n_nodes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index of edges by one end.

    Parameters
    ----------
    ids : array of int, shape (E,)
        ``source_node_id`` or ``target_node_id`` of every edge.
    n_nodes : int, optional
        Rows of ``node_id_to_ranges`` (the node population size); default max id + 1.

    Returns
    -------
    node_id_to_ranges : ndarray (n_nodes, 2) uint64
        Nodes without edges get the empty range ``[k, k]``.
    range_to_edge_id : ndarray (R, 2) uint64
        Maximal runs of consecutive edge ids that share the node.
    """
    ids = np.asarray(ids)
    e = len(ids)
    max_id = int(ids.max()) if e else -1
    if n_nodes is None:
        n_nodes = max_id + 1
    if max_id >= n_nodes:
        raise ValueError(f"node id {max_id} >= number of nodes {n_nodes}")
    if e == 0:
        return np.zeros((n_nodes, 2), dtype=np.uint64), np.empty((0, 2), dtype=np.uint64)
    if e < 2 or bool(np.all(ids[1:] >= ids[:-1])):
        order = None
        sorted_ids = ids
        # runs of equal ids are runs of consecutive edges
        brk = np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1
        starts = np.concatenate(([0], brk))
        ends = np.concatenate((brk, [e]))
        r2e = np.stack([starts, ends], axis=1)
        range_node = sorted_ids[starts]
    else:
        order = stable_argsort_ids(ids, max_id)
        sorted_ids = ids[order]
        brk = (sorted_ids[1:] != sorted_ids[:-1]) | (order[1:] != order[:-1] + 1)
        starts = np.concatenate(([0], np.flatnonzero(brk) + 1))
        ends = np.concatenate((starts[1:], [e]))
        r2e = np.stack([order[starts], order[ends - 1] + 1], axis=1)
        range_node = sorted_ids[starts]
    nodes = np.arange(n_nodes)
    first = np.searchsorted(range_node, nodes, side="left")
    last = np.searchsorted(range_node, nodes, side="right")
    n2r = np.stack([first, last], axis=1)
    return n2r.astype(np.uint64), r2e.astype(np.uint64)


def find_index_group(pop_group: h5py.Group, path: Any) -> tuple[h5py.Group | None, str | None]:
    """The index group of an edge population (spec name or a known misspelling)."""
    with h5.guard(path, pop_group.name, "a readable edge population"):
        for nm in INDEX_GROUPS:
            obj = pop_group.get(nm)
            if isinstance(obj, h5py.Group):
                return obj, nm
    return None, None


class EdgeIndex:
    """One direction of an edge index, held as ``node_id_to_ranges`` in memory and
    ``range_to_edge_id`` in the file (read per query) or in memory.

    Parameters
    ----------
    node_to_ranges : ndarray (N, 2)
    ranges : h5py.Dataset or ndarray (R, 2)
    path, dataset : str
        For error messages.
    n_edges : int
        Population size, to check edge ranges.
    """

    def __init__(self, node_to_ranges: np.ndarray, ranges: Any, path: Any, dataset: str, n_edges: int) -> None:
        self.node_to_ranges = node_to_ranges
        self.ranges = ranges
        self.path = path
        self.dataset = dataset
        self.n_edges = n_edges

    @classmethod
    def from_file(cls, g: h5py.Group, direction: str, path: Any, n_edges: int) -> "EdgeIndex":
        """Read one direction from an index group (``node_id_to_ranges`` or ``node_id_to_range``)."""
        d = h5.require_group(g, direction, path, "an index direction group")
        name = next((nm for nm in NODE_TO_RANGES_NAMES if nm in d), NODE_TO_RANGES_NAMES[0])
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
    def in_memory(cls, ids: np.ndarray, n_edges: int, path: Any, dataset: str) -> "EdgeIndex":
        n2r, r2e = build_index(ids)
        return cls(n2r.astype(np.int64), r2e.astype(np.int64), path, dataset, n_edges)

    def edges_of(self, node_ids: np.ndarray) -> Selection:
        """Edge ids of the given nodes (ids past the index's end have none)."""
        ids = np.asarray(node_ids, dtype=np.int64).ravel()
        ids = ids[(ids >= 0) & (ids < len(self.node_to_ranges))]
        if ids.size == 0:
            return Selection()
        rr = self.node_to_ranges[np.unique(ids)]
        rr = rr[rr[:, 1] > rr[:, 0]]
        if len(rr) == 0:
            return Selection()
        rows = Selection(rr)
        if isinstance(self.ranges, np.ndarray):
            er = self.ranges[rows.flat]
        else:
            er = h5.read_ranges(self.ranges, rows.ranges, self.path)
            er = h5.as_ids(er.reshape(-1), self.path, self.dataset).reshape(-1, 2)
        if er.size and (er[:, 1].max() > self.n_edges or (er[:, 1] < er[:, 0]).any()):
            raise SonataFormatError(self.path, self.dataset, f"edge ranges within [0, {self.n_edges}]",
                                    f"range {er[np.argmax(er[:, 1])].tolist()}")
        return Selection(er)
