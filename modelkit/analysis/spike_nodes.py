"""The nodes of a :class:`~modelkit.analysis.SpikeTable`: which nodes each population has, each spike's node
among them, node properties as labels, and group codes for ``by=``.

The *nodes* of a population are all its nodes when the network is known (so silent nodes count), else the
nodes that fire at least once.  Everything is columnar: ids are matched with ``searchsorted`` or a
``bincount`` over dense ids, never one Python object per spike or node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from modelkit.analysis.errors import NodeIdError, UnknownPropertyError

if TYPE_CHECKING:
    from modelkit.sonata import Network

__all__ = ["NodeUniverse", "build_universe", "population_nodes", "node_property", "group_codes", "factorize"]

NODE_KEYS = ("node", "node_id", "node_ids")


class NodeUniverse:
    """The nodes of a table, concatenated over populations, and each spike's row among them.

    Parameters
    ----------
    pop : ndarray of int32
        Population index of each node.
    ids : ndarray of int64
        Node id of each node.
    offsets : ndarray of int64
        Nodes of population ``k`` are rows ``offsets[k]:offsets[k+1]``.
    spike_node : ndarray of int64
        Row of each spike's node.
    """

    def __init__(self, pop: np.ndarray, ids: np.ndarray, offsets: np.ndarray, spike_node: np.ndarray):
        self.pop = pop
        self.ids = ids
        self.offsets = offsets
        self.spike_node = spike_node

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.ids)


def population_nodes(network: Network | None, name: str, sids: np.ndarray,
                     source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(node ids of a population, row of each spike's node among them).

    Parameters
    ----------
    network : Network or None
        Gives every node of the population; None: the nodes that fire (``sids``).
    name : str
        The population.
    sids : ndarray of int64
        Node id of each spike of the population.
    source : str, optional
        The spikes file, named in errors.

    Returns
    -------
    (ndarray of int64, ndarray of int64)

    Raises
    ------
    NodeIdError
        A population or node ids the network does not have.
    """
    if network is not None:
        if name not in network.nodes:
            raise NodeIdError(source, f"/spikes/{name}",
                              f"a node population of the network ({sorted(network.nodes)})", repr(name))
        pop = network.nodes[name]
        nodes = pop.node_ids
        if pop.layout.ids is None:
            rows = sids
            bad = (sids < 0) | (sids >= len(nodes))
        else:
            order = np.argsort(nodes, kind="stable")
            k = np.minimum(np.searchsorted(nodes, sids, sorter=order), max(len(nodes) - 1, 0))
            rows = order[k] if len(nodes) else np.zeros(len(sids), np.int64)
            bad = nodes[rows] != sids if len(nodes) else np.ones(len(sids), bool)
        if bad.any():
            wrong = np.unique(sids[bad])
            raise NodeIdError(source, f"/spikes/{name}/node_ids",
                              f"ids of the {len(nodes)} nodes of population {name!r} in {pop.path}",
                              f"{len(wrong)} unknown ids, e.g. {wrong[:5].tolist()}")
        return nodes, rows.astype(np.int64, copy=False)
    if not len(sids):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    top = int(sids.max())
    if top < 4 * len(sids) + 1_000_000:  # dense ids: a bincount is O(n)
        present = np.bincount(sids, minlength=top + 1) > 0
        rank = np.cumsum(present) - 1
        return np.flatnonzero(present).astype(np.int64), rank[sids]
    nodes, rows = np.unique(sids, return_inverse=True)
    return nodes, rows.astype(np.int64)


def build_universe(names: Sequence[str], bounds: np.ndarray, node_ids: np.ndarray, network: Network | None,
                   source: str | None = None) -> NodeUniverse:
    """The nodes of every population of a table (see :func:`population_nodes`), concatenated.

    Parameters
    ----------
    names : sequence of str
        Population names, in order.
    bounds : ndarray of int64
        Spikes of population ``k`` are ``node_ids[bounds[k]:bounds[k+1]]``.
    node_ids : ndarray of int64
        Node id of every spike.
    network : Network or None
    source : str, optional
        The spikes file, named in errors.

    Returns
    -------
    NodeUniverse
    """
    pops, ids, rows_all = [], [], []
    off = 0
    offsets = [0]
    for k, name in enumerate(names):
        a, b = int(bounds[k]), int(bounds[k + 1])
        nodes, rows = population_nodes(network, name, node_ids[a:b], source)
        if off:
            rows = rows + off
        rows_all.append(rows)
        ids.append(nodes)
        pops.append(np.full(len(nodes), k, dtype=np.int32))
        off += len(nodes)
        offsets.append(off)
    spike_node = rows_all[0] if len(rows_all) == 1 else (
        np.concatenate(rows_all) if rows_all else np.empty(0, np.int64))
    return NodeUniverse(np.concatenate(pops) if pops else np.empty(0, np.int32),
                        np.concatenate(ids) if ids else np.empty(0, np.int64),
                        np.asarray(offsets, dtype=np.int64), spike_node)


def node_property(u: NodeUniverse, names: Sequence[str], network: Network | None, by: str,
                  source: str | None = None) -> np.ndarray:
    """Value of ``by`` (``population``, ``node_id`` or a node property) for every node of ``u``.

    Parameters
    ----------
    u : NodeUniverse
    names : sequence of str
        The table's populations, in order.
    network : Network or None
        Where node properties are read (needed for any but ``population`` and ``node_id``).
    by : str
    source : str, optional
        The spikes file, named in errors.

    Returns
    -------
    ndarray

    Raises
    ------
    UnknownPropertyError
        ``by`` is not a property of every population (or there is no network to read it from).
    """
    if by == "population":
        return np.asarray(names, dtype=object)[u.pop] if u.n else np.empty(0, dtype=object)
    if by in NODE_KEYS:
        return u.ids
    if network is None:
        raise UnknownPropertyError(source, by, "'population' or 'node_id' (node properties need the "
                                   "network: pass network= or use SpikeTable.from_config)", repr(by))
    parts = []
    for name in names:
        pop = network.nodes[name]
        if by != "node_type_id" and by not in pop.attribute_names:
            raise UnknownPropertyError(pop.path, by, f"a node property of population {name!r}, or "
                                       "'population'/'node_id'",
                                       f"properties {['node_type_id'] + pop.attribute_names}")
        parts.append(pop.column(by))
    return _concat_labels(parts)


def group_codes(cols: list[np.ndarray], by: list[str]) -> tuple[np.ndarray, pd.Index]:
    """Group index of every node and the group labels (an Index, a MultiIndex for several keys).

    Parameters
    ----------
    cols : list of ndarray
        The value of each key of ``by`` for every node (at least one key).
    by : list of str
        The keys, naming the index levels.

    Returns
    -------
    (ndarray of int64, Index)
    """
    if len(cols) == 1:
        codes, uniq = factorize(cols[0])
        return codes, pd.Index(uniq, name=by[0])
    mi = pd.MultiIndex.from_arrays(cols, names=by)
    codes, uniq = mi.factorize(sort=True) if _sortable(cols) else mi.factorize()
    return np.asarray(codes, dtype=np.int64), pd.MultiIndex.from_tuples(list(uniq), names=by)


def _concat_labels(parts: list[np.ndarray]) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=object)
    if all(p.dtype.kind in "biuf" for p in parts):
        return np.concatenate(parts)
    return np.concatenate([p.astype(object) for p in parts])


def _sortable(cols: list[np.ndarray]) -> bool:
    for c in cols:
        if c.dtype == object:
            kinds = {type(v) for v in c[: 1000].tolist() if v is not None and not (isinstance(v, float) and v != v)}
            if len(kinds) > 1 or any(v is None for v in c[:1000].tolist()):
                return False
    return True


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and sorted unique values (first-seen order when the values do not sort); NaN is a value.

    Parameters
    ----------
    values : ndarray

    Returns
    -------
    (ndarray of int64, ndarray)
    """
    try:
        codes, uniq = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:  # mixed types that do not sort
        codes, uniq = pd.factorize(values, sort=False, use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniq)
