"""Jupyter widgets: thin views over modelkit's public API (the top layer; nothing below imports it).

* :class:`LiveRaster`, :class:`LiveRates` — bqplot figures fed by a running simulation
  (:class:`~modelkit.cluster.LiveRun`) or any iterable of spike blocks, redrawn in batches at <= 10 Hz
  with at most one redraw not yet drawn by the page; a raster above ``max_points`` spikes in view is
  binned to the plot's pixels (its cost follows the screen, not the run).
* :class:`LiveTraces` — membrane traces of a few cells from a run's report frames (``run.traces``), live.
* :class:`RunPanel` — run / stop a local or cluster run: progress, status, elapsed time, ETA, errors,
  "restart cluster" after an engine died; sliders for the network's parameters (:class:`ParamControls`),
  passed as ``overrides``, the code of each run, and a table comparing the runs' rates.
* :class:`BuilderPanel` — forms over ``NetworkBuilder.add_nodes`` / ``add_edges`` (NEST's model and synapse
  parameters, weights' sign checked) that show (and run) the Python code they stand for; counts, 3D
  positions, connection matrix; saves SONATA; "Simulate" runs the network built in memory in a RunPanel.
* :class:`NetworkExplorer` — populations, node types and their parameters (as values), cells in 3D coloured by
  any property with a node set highlighted, connectivity matrix and degree distributions, a run's raster and
  rates, reports; each view shows the code it runs.
* :class:`MorphologyViewer` — biophysical cells in 3D, coloured by section type or by an all-segment report
  over time (a slider plays the membrane-potential movie), synapses as markers.

ipywidgets, bqplot, bqplot-gl and plotly are imported when a widget is first used; install them with
``pip install 'modelkit[jupyter]'``.
"""

from __future__ import annotations

from typing import Any

from modelkit._lazy import lazy_attribute

__all__ = ["LiveRaster", "LiveRates", "LiveTraces", "RunPanel", "ParamControls", "BuilderPanel", "NetworkExplorer",
           "nest_models", "MorphologyViewer"]

_WHERE = {"LiveRaster": "modelkit.widgets.live_raster", "LiveRates": "modelkit.widgets.live_rates",
          "LiveTraces": "modelkit.widgets.live_traces",
          "RunPanel": "modelkit.widgets.run_panel", "ParamControls": "modelkit.widgets.param_controls",
          "BuilderPanel": "modelkit.widgets.builder_panel",
          "NetworkExplorer": "modelkit.widgets.explorer", "nest_models": "modelkit.widgets.nest_model_names",
          "MorphologyViewer": "modelkit.widgets.morphology_viewer"}


def __getattr__(name: str) -> Any:
    return lazy_attribute("modelkit.widgets", _WHERE, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
