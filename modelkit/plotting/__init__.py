"""Figures of simulation results and networks: ``f(..., ax=None) -> Axes`` with matplotlib.

Names follow bmtk's (``plot_raster``, ``plot_rates``, ``plot_traces``) and accept a simulation
config (``config_file=``) as well as files and tables.  Statistics come from
:mod:`modelkit.analysis`; these functions only draw.  Interactive plotly versions returning a
``go.Figure`` live in :mod:`modelkit.plotting.plotly` (imported on demand): ``raster``, ``rates``,
``traces``, ``positions`` (cells in 3D), ``degree_histogram`` and ``plot_morphology`` (biophysical cells'
sections in 3D, coloured by section type or by an all-segment report).

* :func:`plot_raster` — one dot per spike, grouped and coloured by population or any node property.
* :func:`plot_rates` — mean rate per group (bars), node-rate histograms, rates over time (PSTH).
* :func:`plot_traces` — membrane potential (any compartment report variable), one line per node.
* :func:`plot_connectivity_matrix` — edge counts or summed weights between groups of nodes.
* :func:`plot_degree_distribution` — in/out-degree histograms.
"""

from modelkit.plotting.connectivity import plot_connectivity_matrix, plot_degree_distribution
from modelkit.plotting.raster import plot_raster, spike_frame
from modelkit.plotting.rates import plot_rates
from modelkit.plotting.traces import plot_traces

__all__ = ["plot_raster", "plot_rates", "plot_traces", "plot_connectivity_matrix", "plot_degree_distribution",
           "spike_frame"]
