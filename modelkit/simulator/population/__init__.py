"""The population backend: LIF population densities and Wilson–Cowan rate models (``model_type: population``).

bmtk's PopNet job in numpy/scipy: :class:`LIFDensity` (the population density method
for leaky integrate-and-fire neurons with delta synapses under Poisson input),
:class:`WilsonCowan` rate units, :class:`PopulationBackend` running them from SONATA
nodes and edges, and the config modules for rate inputs and rate reports.
"""

from modelkit.simulator.population.backend import PopulationBackend
from modelkit.simulator.population.density import LIFDensity, max_density_dt
from modelkit.simulator.population.modules import PopulationRatesReport, RateInput, read_rates
from modelkit.simulator.population.params import TEMPLATES
from modelkit.simulator.population.rate_model import WilsonCowan

__all__ = ["PopulationBackend", "LIFDensity", "WilsonCowan", "RateInput", "PopulationRatesReport", "read_rates",
           "max_density_dt", "TEMPLATES"]
