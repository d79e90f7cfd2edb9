"""The NEURON backend: biophysical cells (``model_type`` biophysical) and NEURON's artificial cells."""

from modelkit.simulator.neuron.backend import NeuronBackend

__all__ = ["NeuronBackend"]
