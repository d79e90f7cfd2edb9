"""Nodes of a builder as columns: node sets, the merged table, queries, and dict-like views.

Each ``add_nodes`` call is a node set: a node type (the shared properties) plus
per-node columns.  :class:`NodeTable` concatenates them into columns; queries
evaluate on whole columns; :class:`NodeView` dicts exist only for bmtk-style
per-pair callables and are built once per node, never per synapse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from modelkit._typing import IdsLike
from modelkit.errors import BuilderError

if TYPE_CHECKING:  # the builder imports this module
    from modelkit.builder.builder import NetworkBuilder

__all__ = ["NodeSetSpec", "NodeTable", "NodeView", "NodePool", "NodeArrays", "NodeSelector", "filter_string"]


@dataclass
class NodeSetSpec:
    """One ``add_nodes`` call."""

    n: int
    node_type_id: int
    per_node: dict[str, np.ndarray]
    type_props: dict[str, Any]
    node_ids: np.ndarray | None = None

    def group_key(self) -> tuple[str, ...]:
        """Per-node column names: node sets with the same names share an HDF5 group (as bmtk decides)."""
        return tuple(sorted(k for k in self.per_node if k != "node_id"))


class NodeView(dict):
    """A node as a dict of its merged properties, with ``node_id`` / ``node_type_id`` attributes (bmtk's Node)."""

    __slots__ = ("node_id", "node_type_id")

    def __init__(self, node_id: int, node_type_id: int, props: dict) -> None:
        super().__init__(props)
        self.node_id = node_id
        self.node_type_id = node_type_id

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self.node_id)

    def __eq__(self, other: object) -> bool:
        return self is other

    @property
    def params(self) -> dict:
        return self


def _merge(parts: list[tuple[np.ndarray, Any, bool]], n: int) -> np.ndarray:
    """One column of length ``n`` from ``(rows, values, shared)`` parts; rows without a value are missing.

    A shared part is one node type's value, repeated for its rows; others hold one value per row.
    """
    covered = sum(len(r) for r, _, _ in parts)
    shared_ok = all(np.ndim(v) == 0 and not isinstance(v, (str, bytes)) for _, v, sh in parts if sh)
    arrays = [np.asarray(v) for _, v, sh in parts if not sh]
    numeric = bool(parts) and shared_ok and all(a.dtype.kind in "biuf" for a in arrays) and \
        all(isinstance(v, (int, float, bool, np.number, np.bool_)) for _, v, sh in parts if sh)
    if numeric:
        kinds = [a.dtype for a in arrays] + [np.asarray(v).dtype for _, v, sh in parts if sh]
        dt = np.result_type(*kinds)
        tails = {a.shape[1:] for a in arrays}
        tail = tails.pop() if len(tails) == 1 and not any(sh for _, _, sh in parts) else ()
        if tail == () and any(a.ndim > 1 for a in arrays):
            numeric = False
    if numeric:
        if covered < n and dt.kind in "biu":
            dt = np.dtype(np.float64)
        out = np.empty((n,) + tail, dtype=dt)
        if covered < n:
            out[...] = np.nan if dt.kind == "f" else 0
        for rows, vals, _ in parts:
            out[rows] = vals
        return out
    out = np.empty(n, dtype=object)
    out[:] = None
    for rows, vals, sh in parts:
        if sh:
            for r in rows.tolist():  # one shared object (str, tuple, list, dict) per node type
                out[r] = vals
        else:
            v = np.asarray(vals)
            out[rows] = list(v) if v.ndim > 1 else v
    return out


class NodeTable:
    """All nodes of one builder as columns, in node order (the order of ``add_nodes`` calls).

    Parameters
    ----------
    sets : list of NodeSetSpec
    node_ids : ndarray
        Node id of every node, in node order.
    """

    def __init__(self, sets: list[NodeSetSpec], node_ids: np.ndarray) -> None:
        self.sets = sets
        self.ids = np.asarray(node_ids, dtype=np.int64)
        counts = np.array([s.n for s in sets], dtype=np.int64)
        self.offsets = np.concatenate(([0], np.cumsum(counts)))
        self.size = int(self.offsets[-1])
        self.type_ids = np.repeat(np.array([s.node_type_id for s in sets], dtype=np.int64), counts)
        self.set_index = np.repeat(np.arange(len(sets)), counts)
        self._cols: dict[str, np.ndarray] = {}
        self._views: list[NodeView] | None = None
        order = np.argsort(self.ids, kind="stable")
        self._order = order
        self._sorted_ids = self.ids[order]

    # ------------------------------------------------------------ columns
    @property
    def names(self) -> list[str]:
        names: dict[str, None] = {}
        for s in self.sets:
            names.update(dict.fromkeys(s.type_props))
            names.update(dict.fromkeys(k for k in s.per_node if k != "node_id"))
        return list(names)

    def has(self, name: str) -> bool:
        return name in ("node_id", "node_type_id") or any(name in s.type_props or name in s.per_node
                                                             for s in self.sets)

    def present(self, name: str) -> np.ndarray:
        """Whether each node has the property (per-node or from its node type).

        Parameters
        ----------
        name : str
            Property name.
        """
        if name in ("node_id", "node_type_id"):
            return np.ones(self.size, dtype=bool)
        m = np.zeros(self.size, dtype=bool)
        for k, s in enumerate(self.sets):
            if name in s.per_node or name in s.type_props:
                m[self.offsets[k]:self.offsets[k + 1]] = True
        return m

    def column(self, name: str) -> np.ndarray:
        """Merged values of a property for every node (per-node value, else the node type's).

        Parameters
        ----------
        name : str
            Property name.
        """
        if name == "node_id":
            return self.ids
        if name == "node_type_id":
            return self.type_ids
        col = self._cols.get(name)
        if col is None:
            parts = []
            for k, s in enumerate(self.sets):
                rows = np.arange(self.offsets[k], self.offsets[k + 1])
                if name in s.per_node:
                    parts.append((rows, s.per_node[name], False))
                elif name in s.type_props:
                    parts.append((rows, s.type_props[name], True))
            col = _merge(parts, self.size)
            self._cols[name] = col
        return col

    def positions(self) -> np.ndarray | None:
        """(n, 3) positions in µm from a ``positions`` property or ``x``/``y``/``z``; None if absent."""
        if self.has("positions"):
            p = self.column("positions")
            if p.dtype != object and p.ndim == 2:
                out = np.zeros((self.size, 3))
                out[:, : p.shape[1]] = p[:, :3]
                return out
            return np.array([np.asarray(v, dtype=float)[:3] if v is not None else [np.nan] * 3 for v in p])
        if self.has("x") or self.has("y"):
            out = np.zeros((self.size, 3))
            for k, ax in enumerate("xyz"):
                if self.has(ax):
                    out[:, k] = self.column(ax).astype(float)
            return out
        return None

    # ------------------------------------------------------------ queries
    def rows_of(self, ids: np.ndarray, argument: str) -> np.ndarray:
        """Rows of the given node ids (in the order given).

        Parameters
        ----------
        ids : ndarray
            Node ids.
        argument : str
            Argument name, for messages.
        """
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size == 0:
            return np.empty(0, dtype=np.int64)
        k = np.minimum(np.searchsorted(self._sorted_ids, ids), max(self.size - 1, 0))
        if self.size == 0 or not np.array_equal(self._sorted_ids[k], ids):
            bad = ids if self.size == 0 else ids[self._sorted_ids[k] != ids]
            raise BuilderError(argument, "ids of existing nodes", f"unknown node ids {bad[:5].tolist()}")
        return self._order[k]

    def mask(self, query: Mapping[str, Any]) -> np.ndarray:
        """Nodes matching every property of ``query`` (value, list of values, or a predicate).

        Parameters
        ----------
        query : mapping
            Property -> value, list of values, or predicate.
        """
        m = np.ones(self.size, dtype=bool)
        for key, want in query.items():
            if not self.has(key):
                return np.zeros(self.size, dtype=bool)
            col = self.column(key)
            if col.ndim > 1:
                raise BuilderError(f"selector {key!r}", "a property with one value per node",
                                   f"a {col.shape[1]}-column property")
            if callable(want):  # called only for nodes that have the property (as bmtk), not on NaN fill-ins
                hit = np.zeros(self.size, dtype=bool)
                for r in np.flatnonzero(self.present(key)).tolist():
                    v = col[r]
                    hit[r] = v is not None and bool(want(v))
            elif isinstance(want, (list, tuple, set, np.ndarray)):
                hit = np.zeros(self.size, dtype=bool)
                for w in want:
                    hit |= _equals(col, w)
            else:
                hit = _equals(col, want)
            m &= hit
        return m

    # ------------------------------------------------------------ views
    def views(self) -> list[NodeView]:
        """One NodeView per node (built once, cached)."""
        if self._views is None:
            views: list[NodeView] = []
            for k, s in enumerate(self.sets):
                cols = {name: (v.tolist() if v.ndim == 1 else list(v)) for name, v in s.per_node.items()
                        if name != "node_id"}
                names = list(cols)
                ids = self.ids[self.offsets[k]:self.offsets[k + 1]].tolist()
                for i in range(s.n):
                    props = dict(s.type_props)
                    for name in names:
                        props[name] = cols[name][i]
                    props["node_id"] = ids[i]
                    props["node_type_id"] = s.node_type_id
                    views.append(NodeView(ids[i], s.node_type_id, props))
            self._views = views
        return self._views


def _equals(col: np.ndarray, want: Any) -> np.ndarray:
    if col.dtype.kind in "biuf":
        if isinstance(want, (int, float, np.integer, np.floating)) and not isinstance(want, bool):
            return col == want
        if isinstance(want, bool):
            return col == int(want)
        return np.zeros(len(col), dtype=bool)
    return np.fromiter((v == want if v is not None else False for v in col), dtype=bool, count=len(col))


def filter_string(query: Mapping[str, Any] | None) -> str:
    """bmtk's text form of a selector, stored in the edge-types CSV (``*`` for all nodes).

    Parameters
    ----------
    query : mapping, optional
        Property query; all nodes when empty.
    """
    if not query:
        return "*"
    return "&".join(f"{k}=='{v}'" for k, v in query.items())


class NodeArrays:
    """Columns of a subset of a builder's nodes, for vectorised rules.

    Attributes
    ----------
    ids : ndarray of int64
        Node ids.
    network : str
        Name of the builder (node population) they belong to.
    """

    def __init__(self, table: NodeTable, rows: np.ndarray, network: str) -> None:
        self.table = table
        self.rows = np.asarray(rows, dtype=np.int64)
        self.network = network
        self.ids = table.ids[self.rows]
        self._pos: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.table.column(name)[self.rows]

    @property
    def positions(self) -> np.ndarray | None:
        """(n, 3) positions in µm, or None when the nodes have none."""
        if self._pos is None:
            p = self.table.positions()
            self._pos = None if p is None else p[self.rows]
        return self._pos

    def take(self, idx: np.ndarray) -> "NodeArrays":
        """The subset ``idx`` (positions into this one).

        Parameters
        ----------
        idx : ndarray
            Positions into this subset.
        """
        out = NodeArrays(self.table, self.rows[idx], self.network)
        if self._pos is not None:
            out._pos = self._pos[idx]
        return out


class NodePool:
    """Nodes of one builder selected by a query (what ``builder.nodes(**query)`` returns).

    Iterating yields :class:`NodeView` dicts (bmtk's ``Node``); ``ids`` gives the node ids.
    """

    def __init__(self, network: NetworkBuilder, query: Mapping[str, Any] | None = None,
                 ids: np.ndarray | None = None) -> None:
        self.network = network
        self.query = dict(query or {})
        self._ids = None if ids is None else np.asarray(ids, dtype=np.int64)

    @property
    def network_name(self) -> str:
        return self.network.name

    @property
    def filter_str(self) -> str:
        return filter_string(self.query) if self._ids is None else "node_id in list"

    @property
    def rows(self) -> np.ndarray:
        """Rows in the builder's node table, in node-id order."""
        table: NodeTable = self.network._table()
        if self._ids is not None:
            rows = table.rows_of(np.unique(self._ids), "node ids")
        else:
            rows = np.flatnonzero(table.mask(self.query))
        return rows[np.argsort(table.ids[rows], kind="stable")]

    @property
    def ids(self) -> np.ndarray:
        """Node ids of the pool, sorted."""
        return self.network._table().ids[self.rows]

    def arrays(self) -> NodeArrays:
        return NodeArrays(self.network._table(), self.rows, self.network.name)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[NodeView]:
        views = self.network._table().views()
        return (views[r] for r in self.rows.tolist())

    def __repr__(self) -> str:
        return f"<NodePool {self.network.name} {self.filter_str}: {len(self)} nodes>"


#: which nodes ``add_edges(source=..., target=...)`` and ``edges(...)`` take: None (all), a property query
#: ``{"ei": "e"}`` (a value, a list of values or a predicate per property), ``other.nodes(...)`` of a builder,
#: node ids or a :class:`~modelkit.sonata.Selection`
NodeSelector = Union[None, Mapping[str, Any], NodePool, IdsLike]


def resolve_pool(selector: NodeSelector, network: NetworkBuilder, argument: str) -> NodePool:
    """A NodePool from a selector: None (all), dict query, NodePool, node ids, or a Selection.

    Parameters
    ----------
    selector : dict, NodePool, array-like of int or Selection
        None (all), a property query, a NodePool, node ids or a Selection.
    network : NetworkBuilder
        The builder the nodes belong to (unless a pool names another).
    argument : str
        Argument name, for messages.
    """
    if selector is None:
        return NodePool(network)
    if isinstance(selector, NodePool):
        return selector
    if isinstance(selector, Mapping):
        for k, v in selector.items():
            if not isinstance(k, str):
                raise BuilderError(argument, "property names as keys", repr(k))
            if isinstance(v, Mapping):
                raise BuilderError(f"{argument}[{k!r}]", "a value, a list of values or a predicate", "a dict")
        return NodePool(network, selector)
    if hasattr(selector, "flat") and hasattr(selector, "ranges"):  # a modelkit Selection
        return NodePool(network, ids=np.asarray(selector.flat))
    if isinstance(selector, (list, tuple, np.ndarray, range)):
        a = np.asarray(list(selector) if isinstance(selector, range) else selector)
        if a.size and a.dtype.kind not in "iu":
            raise BuilderError(argument, "node ids (integers), a dict of properties or builder.nodes(...)",
                               f"an array of {a.dtype}")
        return NodePool(network, ids=a.astype(np.int64))
    raise BuilderError(argument, "a dict of properties, node ids, or builder.nodes(...)", type(selector).__name__)


PredicateT = Callable[[Any], bool]
