"""Network builder: bmtk's verbs (``add_nodes``, ``add_edges``, ``build``, ``save``) on numpy columns.

``modelkit.builder.placement`` holds position helpers (with bmtk's ``positions_columinar`` & co.),
``modelkit.builder.distributions`` seeded parameter distributions usable as node properties and
edge property rules.

Examples
--------
>>> from modelkit.builder import NetworkBuilder, FixedProbability
>>> net = NetworkBuilder("v1", seed=0)
>>> net.add_nodes(N=100, ei="e", model_type="point_neuron", model_template="nest:iaf_psc_alpha")
>>> cm = net.add_edges(source={"ei": "e"}, target={"ei": "e"}, connection_rule=FixedProbability(0.1),
...                    syn_weight=2.0, delay=1.5, model_template="static_synapse")
"""

from modelkit.builder import distributions, placement
from modelkit.builder.builder import NetworkBuilder
from modelkit.builder.connection_map import ConnectionMap, vectorized
from modelkit.builder.connectors import (AllToAll, ArrayRule, ConnectionRule, DistanceProbability, FixedInDegree,
                                         FixedOutDegree, FixedProbability, OneToOne)
from modelkit.builder.distributions import (Choice, Constant, Distribution, Exponential, Gamma, Integers, LogNormal,
                                            Normal, Uniform)

__all__ = ["NetworkBuilder", "ConnectionMap", "vectorized", "ConnectionRule", "FixedProbability",
           "DistanceProbability", "FixedInDegree", "FixedOutDegree", "OneToOne", "AllToAll", "ArrayRule",
           "Distribution", "Constant", "Uniform", "Normal", "LogNormal", "Exponential", "Gamma", "Choice", "Integers",
           "placement", "distributions"]
