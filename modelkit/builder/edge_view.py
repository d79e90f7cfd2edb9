"""Built edges as bmtk's ``Edge`` objects, for ``NetworkBuilder.edges()`` (inspection, not hot paths)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.builder.nodes import NodePool, NodeSelector
from modelkit.errors import BuilderError

if TYPE_CHECKING:  # the builder imports this module
    from modelkit.builder.builder import NetworkBuilder
    from modelkit.sonata import Network

__all__ = ["Edge", "select_edges"]

#: columns of every row that are ids rather than properties
_ID_COLUMNS = ("source_node_id", "target_node_id")


class Edge(dict):
    """One built edge: properties by item (``e["syn_weight"]``), ids by attribute (``e.source_node_id``).

    As bmtk's ``bmtk.builder.edge.Edge``: a property the edge does not have reads as
    ``None``; ``edge_type_properties`` holds the edge-types CSV columns (and
    ``edge_type_id``), ``synaptic_properties`` the per-edge columns (``nsyns`` and those
    of ``add_properties``).  ``population`` names the edge population.
    """

    __slots__ = ("_type_keys",)

    def __init__(self, values: Mapping[str, Any], type_keys: Iterable[str] = ()) -> None:
        super().__init__(values)
        self._type_keys = frozenset(type_keys)

    def __missing__(self, key: str) -> None:  # bmtk's Edge.__getitem__ gives None for an absent property
        return None

    @property
    def source_node_id(self) -> int:
        return int(self["source_node_id"])

    @property
    def target_node_id(self) -> int:
        return int(self["target_node_id"])

    # bmtk's deprecated spellings, still used by build scripts
    source_gid = source_node_id
    target_gid = target_node_id

    @property
    def edge_type_id(self) -> int:
        return int(self["edge_type_id"])

    @property
    def edge_type_properties(self) -> dict[str, Any]:
        return {k: v for k, v in self.items() if k in self._type_keys or k == "edge_type_id"}

    @property
    def synaptic_properties(self) -> dict[str, Any]:
        skip = {*_ID_COLUMNS, "edge_type_id", "population"}
        return {k: v for k, v in self.items() if k not in self._type_keys and k not in skip}

    def __repr__(self) -> str:
        props = ", ".join(f"{k!r}: {v!r}" for k, v in self.synaptic_properties.items())
        return (f"{self.get('source_node_id')} --> {self.get('target_node_id')} "
                f"('edge_type_id': {self.get('edge_type_id')}, {props})")


def _absent(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _equal(x: Any, v: Any) -> bool:
    if _absent(x):
        return False
    try:
        return bool(np.all(np.asarray(x) == np.asarray(v)))
    except (TypeError, ValueError):
        return False


def node_filter(nodes: NodeSelector, network: str | None, own: NetworkBuilder, networks: Mapping[str, Any],
                argument: str) -> tuple[np.ndarray | None, str | None]:
    """bmtk's ``nodes2gids``: node ids (None: any) and the network they belong to (None: any).

    A dict is a property query on ``network`` (this builder when not given); a NodePool
    names its own network; ids and an int leave the network as given.

    Parameters
    ----------
    nodes : dict, NodePool, array-like of int or Selection
        The ``edges(target_nodes=...)`` argument.
    network : str, optional
        Network the ids belong to; this builder's when omitted.
    own : NetworkBuilder
        The builder asked.
    networks : mapping
        Network name -> builder, for other networks' pools.
    argument : str
        Argument name, for messages.
    """
    if nodes is None:
        return None, network
    if isinstance(nodes, (bool, np.bool_)):
        raise BuilderError(argument, "node ids, a dict of properties or builder.nodes(...)", repr(nodes))
    if isinstance(nodes, (int, np.integer)):
        return np.array([int(nodes)], np.int64), network
    if isinstance(nodes, Mapping):
        name = network or own.name
        if name not in networks:
            raise BuilderError(argument, f"a query on one of the networks {sorted(networks)}", repr(name))
        nodes = NodePool(networks[name], dict(nodes))
    if isinstance(nodes, NodePool):
        return nodes.ids, nodes.network_name
    if isinstance(nodes, (list, tuple, np.ndarray, range, set)):
        a = np.asarray(sorted(nodes) if isinstance(nodes, set) else list(nodes))
        if a.size and a.dtype.kind not in "iu":
            raise BuilderError(argument, "node ids (integers), a dict of properties or builder.nodes(...)",
                               f"values of dtype {a.dtype}")
        return a.astype(np.int64), network
    raise BuilderError(argument, "node ids, a dict of properties or builder.nodes(...)", type(nodes).__name__)


def select_edges(net: Network, own: NetworkBuilder, networks: Mapping[str, Any], target_nodes: NodeSelector,
                 source_nodes: NodeSelector,
                 target_network: str | None, source_network: str | None,
                 properties: Mapping[str, Any]) -> list[Edge]:
    """The built edges of ``net`` that match, in file order (by target), as bmtk's ``edges()`` does.

    An edge lacking a property of ``properties`` does not match (bmtk's ``filter_edges``).

    Parameters
    ----------
    net : Network
        The built network.
    own : NetworkBuilder
        The builder asked.
    networks : mapping
        Network name -> builder.
    target_nodes : dict, NodePool, array-like of int or Selection
        Target nodes; any when omitted.
    source_nodes : dict, NodePool, array-like of int or Selection
        Source nodes; any when omitted.
    target_network : str, optional
        Only edges onto this network.
    source_network : str, optional
        Only edges from this network.
    properties : mapping
        Edge properties every edge must have, with these values.
    """
    tgt_ids, tgt_net = node_filter(target_nodes, target_network, own, networks, "edges(target_nodes)")
    src_ids, src_net = node_filter(source_nodes, source_network, own, networks, "edges(source_nodes)")
    out: list[Edge] = []
    for name, pop in net.edges.items():
        if tgt_net is not None and pop.target != tgt_net or src_net is not None and pop.source != src_net:
            continue
        df = pop.get()
        if tgt_ids is not None:
            df = df[df["target_node_id"].isin(tgt_ids)]
        if src_ids is not None:
            df = df[df["source_node_id"].isin(src_ids)]
        for k, v in properties.items():
            if k not in df.columns:
                df = df.iloc[:0]
                break
            df = df[df[k].map(lambda x, v=v: _equal(x, v))]
        type_keys = set(pop.types.to_frame().columns) if pop.types is not None else set()
        for row in df.to_dict(orient="records"):
            # a column that another edge type or group has reads NaN/None in the frame: not a property
            rec = {k: v for k, v in row.items() if k in _ID_COLUMNS or not _absent(v)}
            rec["population"] = name
            out.append(Edge(rec, type_keys))
    return out
