"""Simulation: one Backend interface, backends chosen by ``model_type``, inputs and reports as modules.

``simulate(config)`` runs a SONATA simulation config end to end; backends live in
``modelkit.simulator.<name>`` and register in :mod:`modelkit.simulator.registry`.
"""

from modelkit.simulator.base import Backend, ReportSink, RunOptions, RunResult, SimulatorModule
from modelkit.simulator.named_functions import cell_model, synaptic_weight
from modelkit.simulator.poisson import PoissonSpikeGenerator
from modelkit.simulator.registry import available_backends, backend_for, get_backend
from modelkit.simulator.overrides import tunable_parameters
from modelkit.simulator.run import simulate
from modelkit.simulator.staging import recover_partials

__all__ = ["simulate", "Backend", "ReportSink", "RunOptions", "RunResult", "SimulatorModule", "cell_model",
           "synaptic_weight", "PoissonSpikeGenerator", "available_backends", "backend_for", "get_backend",
           "recover_partials", "tunable_parameters"]
