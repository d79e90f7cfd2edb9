"""bmtk's ``bmtk.builder.auxi.edge_connectors``: per-pair connection rules for ``add_edges(connection_rule=...)``.

They draw from Python's and numpy's global random state, in bmtk's order, so a seeded bmtk script gives the
same connections (modelkit's builder seeds those states per block when given ``seed=``).
"""

from __future__ import annotations

import random

import numpy as np

from modelkit.builder.nodes import NodeView

__all__ = ["distance_connector", "connect_random"]


def distance_connector(source: NodeView, target: NodeView, d_weight_min: float, d_weight_max: float, d_max: float,
                       nsyn_min: int, nsyn_max: int) -> int | None:
    """Synapses between two nodes, with a connection probability falling linearly with distance.

    The probability is ``d_weight_max`` at distance 0 and ``d_weight_min`` at ``d_max`` (µm, distance
    between the nodes' ``positions``), 0 beyond; a connection gets ``randint(nsyn_min, nsyn_max)``
    synapses (both ends included).  No self-connections.

    Parameters
    ----------
    source, target : node
        Nodes with ``node_id`` and ``positions`` (3 floats, µm).
    d_weight_min, d_weight_max : float
        Connection probability at ``d_max`` and at distance 0.
    d_max : float
        Distance (µm) beyond which nodes do not connect.
    nsyn_min, nsyn_max : int
        Bounds of the number of synapses.

    Returns
    -------
    int or None
        Number of synapses; None for no connection.
    """
    if source.node_id == target.node_id:
        return None
    dist = float(np.linalg.norm(np.asarray(source["positions"], float) - np.asarray(target["positions"], float)))
    if dist > d_max:
        p = 0.0
    else:
        frac = dist / d_max
        p = d_weight_max * (1.0 - frac) + d_weight_min * frac
    if p <= 0:
        return None
    # two draws from Python's generator, as bmtk: the acceptance, then the synapse count
    if random.random() > p:
        return None
    return random.randint(nsyn_min, nsyn_max)


def connect_random(source: NodeView, target: NodeView, nsyn_min: int = 0, nsyn_max: int = 10,
                   distribution: object = None) -> int:
    """``numpy.random.randint(nsyn_min, nsyn_max)`` synapses for every pair (upper bound excluded, as bmtk).

    Parameters
    ----------
    source : NodeView
        A source node (bmtk's per-pair call; unused).
    target : NodeView
        A target node (unused).
    nsyn_min : int, optional
        Least synapses per pair.
    nsyn_max : int, optional
        Upper bound of synapses per pair (excluded).
    distribution : object, optional
        bmtk's argument, ignored.
    """
    return int(np.random.randint(nsyn_min, nsyn_max))
