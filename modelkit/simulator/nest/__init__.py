"""The NEST backend: point neurons (``model_type`` point_neuron / point_process, ``model_template`` nest:<model>)."""

from modelkit.simulator.nest.backend import NestBackend

__all__ = ["NestBackend"]
