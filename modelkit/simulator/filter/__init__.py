"""The filter backend: linear-nonlinear LGN cells (bmtk's FilterNet) on movies, gratings, flashes, looming.

``simulate(config)`` picks it for a config whose ``target_simulator`` is ``LGNModel`` or
``FilterNet`` (or with ``backend="filter"``); :class:`FilterBackend` declares the ``input_type: movie``
modules (``FilterBackend.input_modules``).
"""

from modelkit.simulator.filter.backend import FilterBackend
from modelkit.simulator.filter.inputs import MovieInput, compare_rates, read_rates_csv, write_rates_csv, write_rates_h5
from modelkit.simulator.filter.kernels import gaussian_profiles, temporal_kernels
from modelkit.simulator.filter.lgn import KNOWN_MODELS, LGNUnits, build_units
from modelkit.simulator.filter.model import RateError, evaluate, rates_to_spikes
from modelkit.simulator.filter.stimuli import (Stimulus, StimulusError, full_field_flash, grating, looming, movie,
                                               stimulus_from_config)

__all__ = ["FilterBackend", "MovieInput", "write_rates_h5", "write_rates_csv", "read_rates_csv", "compare_rates",
           "temporal_kernels",
           "gaussian_profiles", "KNOWN_MODELS", "LGNUnits", "build_units", "RateError", "evaluate",
           "rates_to_spikes", "Stimulus", "StimulusError", "movie", "grating", "full_field_flash", "looming",
           "stimulus_from_config"]
