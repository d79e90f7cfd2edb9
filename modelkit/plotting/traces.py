"""Membrane-potential and other compartment-report traces: one line per node."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from modelkit.errors import ConfigError
from modelkit.analysis.sources import where
from modelkit.plotting._axes import colors, new_axes

__all__ = ["plot_traces", "report_source", "trace_frame"]

def report_source(report: Any = None, *, config_file: Any = None, report_name: str | None = None) -> Any:
    """The compartment report to read: a file path or a :class:`~modelkit.sonata.CompartmentReport`.

    Parameters
    ----------
    report : str, PathLike, CompartmentReport or run result, optional
        A SONATA report file, an opened report, or anything with a ``reports`` dict
        (a ``RunResult``: report name -> file).
    config_file : str or PathLike, optional
        A simulation config: the file of its report ``report_name``.
    report_name : str, optional
        Which report of the config or run result; needed only when it has several
        compartment reports.

    Returns
    -------
    str or CompartmentReport

    Raises
    ------
    ConfigError
        Neither given, no such report, several and none chosen.
    """
    if report is not None and not isinstance(report, (str, os.PathLike)) and isinstance(
            getattr(report, "reports", None), dict):
        files = dict(report.reports)
        return _pick(files, report_name, getattr(report, "output_dir", None), "reports")
    if report is not None:
        return report
    if config_file is None:
        raise ConfigError(None, "report", "a report (file, CompartmentReport or run result) or config_file", "neither")
    from modelkit.analysis import config_reports
    return _pick(config_reports(config_file), report_name, where(config_file), "reports")


def _pick(files: dict[str, Any], name: str | None, path: Any, key: str) -> Any:
    if name is not None:
        if name not in files:
            raise ConfigError(path, f"{key}.{name}", "a report of that name whose file exists",
                          f"reports {sorted(files)}")
        return files[name]
    if len(files) != 1:
        raise ConfigError(path, key, "exactly one report file (has the simulation run?), or report_name= to "
                          "choose one", f"reports {sorted(files)}" if files else "none")
    return next(iter(files.values()))


def trace_frame(report: Any = None, *, config_file: Any = None, report_name: str | None = None,
                population: str | None = None, node_ids: Any = None, time_range: tuple[float, float] | None = None,
                step: int | None = None) -> pd.DataFrame:
    """Report values as a table: index ``time`` (ms), one column per node.

    Reads through :func:`modelkit.analysis.report_frame`; a node with several
    compartments (elements) is represented by its first one (the soma, bmtk's
    ``sections='origin'``).

    Parameters
    ----------
    report, config_file, report_name
        See :func:`report_source`.
    population : str, optional
        Needed when the report holds several populations.
    node_ids : array of int, optional
        Reported nodes to keep (default: all).
    time_range : (float, float), optional
        Window [start, stop) in ms.
    step : int, optional
        Keep every ``step``-th frame.

    Returns
    -------
    DataFrame
        Index ``time`` (ms), columns node ids (``attrs``: ``population``, ``variable``, ``units``,
        ``source``).

    Raises
    ------
    ConfigError
        No report given or found in the config; several and none chosen.
    SonataFormatError, ReportSelectionError
        A malformed report, nodes it does not record, several populations and none chosen.
    """
    from modelkit.analysis import report_frame
    src = report_source(report, config_file=config_file, report_name=report_name)
    t0, t1 = (None, None) if time_range is None else time_range
    df = report_frame(src, population, node_ids, t0, t1, step)
    df = _one_column_per_node(df)
    df.attrs["source"] = getattr(src, "path", None) or os.fspath(src)
    return df


def _one_column_per_node(df: pd.DataFrame) -> pd.DataFrame:
    """Keep each node's first element (column) of a (``node_id``, ``element_id``) table."""
    if not isinstance(df.columns, pd.MultiIndex):
        return df
    attrs = dict(df.attrs)
    first = ~df.columns.get_level_values(0).duplicated()
    out = df.loc[:, first]
    out.columns = pd.Index(out.columns.get_level_values(0), name="node_id")
    out.attrs.update(attrs)
    return out


def plot_traces(report: Any = None, *, config_file: Any = None, report_name: str | None = None,
                population: str | None = None, node_ids: Any = None, time_range: tuple[float, float] | None = None,
                step: int | None = None, ax: Any = None, title: str | None = None,
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
        df = _one_column_per_node(report)
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
