"""Node positions with one node property, as one columnar table: what a 3D view of a network draws.

:func:`node_positions` reads the soma positions (µm) of every population that has them, the property to
colour by (any node attribute, a types-table column, ``population``, ``node_type_id`` or a per-node
``dynamics_params`` override), and whether each node is in a node set.  Above ``max_points`` nodes a seeded
sample is drawn, and the table says so (``attrs["sampled"]``), so a view of 10^6 cells costs what its
points cost.

Examples
--------
>>> df = node_positions(net, color_by="pop_name", node_set="exc")     # doctest: +SKIP
>>> df.attrs["n_nodes"], df.attrs["n_selected"], df.attrs["sampled"]   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.analysis.errors import AnalysisError, UnknownPropertyError
from modelkit.analysis.sources import resolve_network
from modelkit.errors import ConfigError

if TYPE_CHECKING:
    from modelkit.sonata import Network, NodePopulation

__all__ = ["node_positions", "position_populations", "node_properties", "MAX_POINTS"]

#: nodes drawn at most by default; above it a seeded sample
MAX_POINTS = 50_000


def position_populations(network: Network) -> list[str]:
    """Names of the node populations that have positions (sorted).

    Parameters
    ----------
    network : Network

    Returns
    -------
    list of str
    """
    return sorted(n for n, p in network.nodes.items() if p.has_positions())


def node_properties(network: Network, populations: Sequence[str] | None = None) -> list[str]:
    """What :func:`node_positions` can colour by: ``population``, ``node_type_id``, then the node attributes
    (types-table columns included) and per-node ``dynamics_params`` overrides of the populations, sorted.

    Parameters
    ----------
    network : Network
    populations : sequence of str, optional
        Default: the populations with positions.

    Returns
    -------
    list of str
    """
    names: set[str] = set()
    for n in populations if populations is not None else position_populations(network):
        pop = network.nodes[n]
        names |= set(pop.attribute_names) | set(pop.dynamics_attribute_names)
    return ["population", "node_type_id"] + sorted(names - {"population", "node_type_id", "x", "y", "z"})


def _values(pop: NodePopulation, name: str, rows: np.ndarray) -> np.ndarray | None:
    """``name`` of the nodes at ``rows`` of ``pop``; None when the population has no such property."""
    if name == "population":
        return np.full(len(rows), pop.name, dtype=object)
    ids = pop.node_ids[rows]
    if name == "node_type_id":
        return pop.node_type_ids[rows]
    if name in pop.attribute_names:
        return np.asarray(pop.column(name, ids))
    if name in pop.dynamics_attribute_names:
        return pop.dynamics_params(ids, [name])[name].to_numpy()
    return None


def node_positions(network: Network | PathLike, *, color_by: str = "population", node_set: Any = None,
                   population: str | Sequence[str] | None = None, only_selected: bool = False,
                   max_points: int | None = MAX_POINTS, seed: int = 0) -> pd.DataFrame:
    """Soma positions (µm) of the nodes, with one property and node-set membership, as one table.

    Parameters
    ----------
    network : Network, str or PathLike
        A network, or a circuit/simulation config, folder or nodes file to load.
    color_by : str
        A node property (``pop_name``, ``model_name``, ``ei``, ... types-table columns included),
        ``population``, ``node_type_id`` or a per-node ``dynamics_params`` override (e.g. ``tau_m``).
    node_set : str, dict or list, optional
        A node-set reference as in configs (a node-set name, a population name, an inline rule dict, node
        ids): its nodes have ``selected`` True.  None: every node is selected.
    population : str or sequence of str, optional
        Populations drawn (default: every population with positions).
    only_selected : bool
        Leave out the nodes not in ``node_set``.
    max_points : int or None
        Above this many nodes, a seeded sample of this many (without replacement, file order kept);
        None: every node.
    seed : int
        Seeds the sample.

    Returns
    -------
    DataFrame
        One row per node drawn: ``population`` (str), ``node_id``, ``x``, ``y``, ``z`` (µm), ``color_by``'s
        column (None/NaN for a population without the property) and ``selected`` (bool).  ``attrs``:
        ``n_nodes`` (nodes before sampling), ``n_selected`` (of them, in the node set), ``sampled`` (bool),
        ``color_by``, ``node_set``, ``populations``.

    Raises
    ------
    ConfigError
        No network, an unknown population or a population without positions.
    NodeSetError
        An unknown node set.
    UnknownPropertyError
        ``color_by`` is a property of none of the populations.
    AnalysisError
        ``max_points`` below 1.

    Examples
    --------
    >>> node_positions(net, color_by="ei", node_set="exc", max_points=10_000)   # doctest: +SKIP
    """
    net = resolve_network(network)
    if net is None:
        raise ConfigError(None, "network", "a network (Network, circuit/simulation config or folder)", "None")
    if max_points is not None and (not isinstance(max_points, (int, np.integer)) or max_points < 1):
        raise AnalysisError(None, "max_points", "a whole number >= 1 or None", repr(max_points))
    with_pos = position_populations(net)
    pops = with_pos if population is None else ([population] if isinstance(population, str) else list(population))
    for p in pops:
        if p not in net.nodes:
            raise ConfigError(net.path, "population", f"a node population of the network ({sorted(net.nodes)})", p)
        if p not in with_pos:
            raise ConfigError(net.nodes[p].path, f"/nodes/{p}", "node positions (x, y, z or a positions dataset)",
                              "none")
    if color_by not in node_properties(net, pops):
        raise UnknownPropertyError(net.path, color_by, "a node property to colour by",
                                   f"properties {node_properties(net, pops)}")
    sels = net.materialize(node_set) if node_set is not None else None
    # which rows of each population are drawn: masks first (cheap), then one seeded sample over all of them
    masks: dict[str, np.ndarray] = {}
    drawn: dict[str, np.ndarray] = {}
    for p in pops:
        ids = net.nodes[p].node_ids
        m = np.ones(len(ids), bool) if sels is None else np.isin(ids, np.asarray(sels.get(p, []), np.int64))
        masks[p] = m
        drawn[p] = np.flatnonzero(m) if only_selected else np.arange(len(ids))
    n_nodes = sum(len(r) for r in drawn.values())
    n_selected = int(sum(int(masks[p][drawn[p]].sum()) for p in pops))
    sampled = max_points is not None and n_nodes > max_points
    if sampled:
        keep = np.sort(np.random.default_rng(seed).choice(n_nodes, int(max_points), replace=False))  # type: ignore[arg-type]
        offsets = np.cumsum([0] + [len(drawn[p]) for p in pops])
        for k, p in enumerate(pops):
            mine = keep[(keep >= offsets[k]) & (keep < offsets[k + 1])] - offsets[k]
            drawn[p] = drawn[p][mine]
    parts = []
    for p in pops:
        rows = drawn[p]
        pop = net.nodes[p]
        xyz = pop.positions()[rows] if len(rows) else np.zeros((0, 3))
        vals = _values(pop, color_by, rows)
        if vals is None:
            vals = np.full(len(rows), None, dtype=object)
        parts.append(pd.DataFrame({"population": np.full(len(rows), p, dtype=object),
                                   "node_id": pop.node_ids[rows].astype(np.int64), "x": xyz[:, 0], "y": xyz[:, 1],
                                   "z": xyz[:, 2], color_by: vals, "selected": masks[p][rows]}))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {c: [] for c in ("population", "node_id", "x", "y", "z", color_by, "selected")})
    df.attrs.update({"n_nodes": int(n_nodes), "n_selected": n_selected, "sampled": bool(sampled),
                     "color_by": color_by, "node_set": node_set, "populations": list(pops)})
    return df
