"""``bmtk.builder.aux.edge_connectors``: the same names as :mod:`modelkit.builder.auxi.edge_connectors`."""

from modelkit.builder.auxi.edge_connectors import connect_random, distance_connector

__all__ = ["distance_connector", "connect_random"]
