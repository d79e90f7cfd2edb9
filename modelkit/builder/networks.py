"""``bmtk.builder.networks``: bmtk scripts import ``NetworkBuilder`` from here too."""

from modelkit.builder.builder import NetworkBuilder

__all__ = ["NetworkBuilder"]
