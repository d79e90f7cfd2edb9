"""Figures of simulation results: ``f(..., ax=None) -> Axes`` with matplotlib.

Names follow bmtk's (``plot_raster``) and accept a simulation config (``config_file=``)
as well as spike files and tables.
"""

from modelkit.plotting.raster import plot_raster, spike_frame

__all__ = ["plot_raster", "spike_frame"]
