"""Membrane-potential and other compartment-report traces: one line per node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import NodeIdsLike, PathLike
from modelkit.analysis.traces import one_column_per_node, report_source, trace_frame
from modelkit.plotting._axes import colors, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_traces", "report_source", "trace_frame"]


def plot_traces(report: Any = None, *, config_file: PathLike | None = None, report_name: str | None = None,
                population: str | None = None, node_ids: NodeIdsLike | None = None, time_range: tuple[float,
                float] | None = None,
                step: int | None = None, ax: Axes | None = None, title: str | None = None,
                legend: bool | None = None) -> Any:
    """Traces of a compartment report (membrane potential, ...): one line per node against time.

    Parameters
    ----------
    report : str, PathLike, CompartmentReport, run result or DataFrame, optional
        A report (see :func:`report_source`), or a table as :func:`trace_frame` returns.
    config_file : str or PathLike, optional
        A simulation config: its report ``report_name`` (bmtk's ``plot_traces(config_file=...)``).
    report_name : str, optional
        Which report, when there are several.
    population : str, optional
        Which report population, when there are several.
    node_ids : array of int, optional
        Nodes to draw (default: every reported node).
    time_range : (float, float), optional
        Window [start, stop) in ms.
    step : int, optional
        Draw every ``step``-th frame (long, finely sampled reports).
    ax : matplotlib Axes, optional
    title : str, optional
    legend : bool, optional
        Default: a legend when there are at most 20 lines.

    Returns
    -------
    matplotlib.axes.Axes
        One line per node labelled ``"<population> <node id>"``; y label the report's
        variable and units (``"V_m (mV)"``), x label ``"time (ms)"``.

    Raises
    ------
    ConfigError, SonataFormatError, ReportSelectionError
        No report given or found; several reports/populations and none chosen; node ids
        that the report does not hold (naming the report file).

    Examples
    --------
    >>> ax = plot_traces(config_file="config.simulation.json", node_ids=[0, 20])  # doctest: +SKIP
    """
    if isinstance(report, pd.DataFrame):
        df = one_column_per_node(report)
        if node_ids is not None:
            df = df.loc[:, [i for i in np.asarray(node_ids).tolist()]]
        if time_range is not None:
            t = df.index.to_numpy()
            df = df[(t >= time_range[0]) & (t < time_range[1])]
        if step:
            df = df.iloc[::step]
    else:
        df = trace_frame(report, config_file=config_file, report_name=report_name, population=population,
                         node_ids=node_ids, time_range=time_range, step=step)
    ax = new_axes(ax)
    palette = colors()
    pop = df.attrs.get("population")
    t = df.index.to_numpy()
    for k, nid in enumerate(df.columns):
        ax.plot(t, df[nid].to_numpy(), lw=0.8, color=palette[k % len(palette)],
                label=f"{pop} {nid}" if pop is not None else f"node {nid}")
    var, units = df.attrs.get("variable"), df.attrs.get("units")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{var or 'value'}" + (f" ({units})" if units else ""))
    if legend or (legend is None and 0 < df.shape[1] <= 20):
        ax.legend(loc="upper right", fontsize="small", ncols=1 if df.shape[1] <= 10 else 2)
    if title:
        ax.set_title(title)
    ax.margins(x=0)
    return ax
