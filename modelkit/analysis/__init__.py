"""Analysis of simulation results: spike tables and statistics, traces, connectivity, NWB export.

Pure functions and classes on numpy/pandas (no plotting); builds on :mod:`modelkit.sonata`.

* :class:`SpikeTable` — spikes from SONATA/CSV/NWB files (``read``), configs (``from_config``),
  tables (``from_frame``, ``from_parts``) or any of these (``load``); statistics as methods:
  ``rates``, ``psth``, ``isi``, ``intervals``, ``fano``, ``binned_counts``, ``correlations``,
  ``mean_correlation``; node properties joined with ``join``.  See :mod:`modelkit.analysis.spikes`.
* :func:`read_traces` / :func:`report_frame` / :class:`Traces` — compartment reports as DataFrames
  (and xarray, when installed), with node/time selection and downsampling; :func:`config_reports`.
* :func:`degrees`, :func:`degree_histogram`, :func:`edge_stats`, :func:`edge_histogram`,
  :func:`connection_probability` — connectivity of a network.
* :func:`node_positions` — soma positions with one node property and node-set membership (a 3D view's data).
* :func:`write_nwb`, :func:`read_nwb_traces` — spike trains and traces to and from NWB (pynwb).
"""

from modelkit.analysis.connectivity import (connection_probability, degree_histogram, degrees, edge_histogram,
                                            edge_stats)
from modelkit.analysis.errors import AnalysisError, NodeIdError, ReportSelectionError, UnknownPropertyError
from modelkit.analysis.nwb import read_nwb_traces, write_nwb
from modelkit.analysis.positions import node_positions
from modelkit.analysis.spikes import SpikeTable
from modelkit.analysis.traces import Traces, config_reports, read_traces, report_frame

__all__ = [
    "SpikeTable",
    "Traces", "read_traces", "report_frame", "config_reports",
    "degrees", "degree_histogram", "edge_stats", "edge_histogram", "connection_probability", "node_positions",
    "write_nwb", "read_nwb_traces",
    "AnalysisError", "NodeIdError", "ReportSelectionError", "UnknownPropertyError",
]
