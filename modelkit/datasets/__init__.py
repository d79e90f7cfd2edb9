"""Example networks made on demand with the builder, small enough for a laptop and a CI run.

Each function writes a complete SONATA model (nodes, edges, parameter files, inputs, circuit and
simulation configs) into a folder and returns the path of the simulation config to run first (its
``config.simulation.json``; ``lgn_network``'s ``config.lgn.json``, whose rates drive ``config.v1.json``); nothing is
downloaded and nothing is overwritten.  The folder, each function's ``directory`` (str or PathLike), is
created if needed; one that already holds a ``network`` folder is refused with an
:class:`~modelkit.errors.OutputExistsError`.

* :func:`balanced_network`: point neurons in NEST (a Brunel-style E/I network with Poisson inputs);
* :func:`bio_network`: biophysical ball-and-stick cells in NEURON (built-in ``hh``/``pas``, ``Exp2Syn``);
* :func:`lgn_network`: LGN filter units watching a drifting grating (modelkit's filter backend);
* :func:`population_network`: excitatory/inhibitory population-density models driven by a rate input.
"""

from __future__ import annotations

from modelkit.datasets.bio import bio_network
from modelkit.datasets.lgn import lgn_network
from modelkit.datasets.point import balanced_network
from modelkit.datasets.population import population_network

__all__ = ["balanced_network", "bio_network", "lgn_network", "population_network"]
