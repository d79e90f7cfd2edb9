"""Membrane and compartment traces (SONATA frame reports) as pandas objects, and xarray where installed.

:func:`read_traces` selects nodes, a time window and a sampling step from a report and returns
:class:`Traces` (numpy values plus the column mapping); :func:`report_frame` is the same as a DataFrame
with a ``time`` index (ms) and one column per node, or per (``node_id``, ``element_id``) for
multi-compartment reports.  Only the selected columns and frames are read from the file.

Downsampling is decimation: ``step=k`` keeps every k-th frame, ``dt=`` (ms) keeps every
``round(dt / report_dt)``-th frame (``dt`` must be a multiple of the report's step).

Examples
--------
>>> df = report_frame("output/membrane_potential.h5", node_ids=[0, 20], t_start=100.0, step=10)  # doctest: +SKIP
>>> read_traces("output/membrane_potential.h5").to_xarray()                                      # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import NodeIdsLike, PathLike
from modelkit.analysis.errors import AnalysisError, ReportSelectionError
from modelkit.analysis.sources import where
from modelkit.errors import ConfigError

if TYPE_CHECKING:
    pass

__all__ = ["Traces", "read_traces", "report_frame", "config_reports", "report_source", "trace_frame",
           "one_column_per_node"]


@dataclass(frozen=True)
class Traces:
    """Sampled values of some nodes' compartments over time.

    Attributes
    ----------
    times : ndarray, shape (T,)
        Frame times (ms).
    values : ndarray, shape (T, C)
        One column per (node, element).
    node_ids, element_ids : ndarray of int64, shape (C,)
        Owner node and element of each column.
    population : str
    units : str or None
        Units of the values (``mV``...).
    variable : str or None
        Variable name (``V_m``, ``v``...).
    source : str or None
        The file read.
    """

    times: np.ndarray
    values: np.ndarray
    node_ids: np.ndarray
    element_ids: np.ndarray
    population: str
    units: str | None = None
    variable: str | None = None
    source: str | None = None

    @property
    def dt(self) -> float:
        """Sampling step (ms); NaN with fewer than two frames."""
        return float(self.times[1] - self.times[0]) if len(self.times) > 1 else float("nan")

    @property
    def one_element_per_node(self) -> bool:
        """Whether every node has exactly one column (a soma-only report)."""
        return len(np.unique(self.node_ids)) == len(self.node_ids)

    def to_frame(self) -> pd.DataFrame:
        """Values as a DataFrame: index ``time`` (ms); columns ``node_id`` when each node has one element,
        else a (``node_id``, ``element_id``) MultiIndex.  ``attrs`` holds ``units``, ``variable``,
        ``population``."""
        if self.one_element_per_node:
            cols: pd.Index = pd.Index(self.node_ids, name="node_id")
        else:
            cols = pd.MultiIndex.from_arrays([self.node_ids, self.element_ids], names=["node_id", "element_id"])
        df = pd.DataFrame(self.values, index=pd.Index(self.times, name="time"), columns=cols)
        df.attrs.update({"units": self.units, "variable": self.variable, "population": self.population})
        return df

    def to_xarray(self) -> Any:
        """Values as an ``xarray.DataArray`` with dims (``time``, ``column``) and coords ``node_id``,
        ``element_id`` on the columns.

        Raises
        ------
        ModuleNotFoundError
            xarray is not installed (``pip install xarray``); it is optional.
        """
        try:
            import xarray as xr
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError("Traces.to_xarray needs xarray, an optional dependency: pip install xarray") \
                from e
        return xr.DataArray(self.values, dims=("time", "column"),
                            coords={"time": ("time", self.times, {"units": "ms"}),
                                    "node_id": ("column", self.node_ids),
                                    "element_id": ("column", self.element_ids)},
                            name=self.variable or "value",
                            attrs={"units": self.units or "", "population": self.population,
                                   "source": self.source or ""})

    def mean(self) -> pd.Series:
        """The mean over columns at each time (e.g. a population-average membrane potential)."""
        vals = self.values.mean(axis=1) if self.values.shape[1] else np.full(len(self.times), np.nan)
        return pd.Series(vals, index=pd.Index(self.times, name="time"), name=self.variable or "value")


def _open(path_or_report: Any) -> Any:
    from modelkit.sonata import CompartmentReport
    if isinstance(path_or_report, CompartmentReport):
        return path_or_report
    return CompartmentReport(os.fspath(path_or_report))


def _population(rep: Any, population: str | None) -> Any:
    if population is None:
        pops = rep.populations
        if len(pops) != 1:
            raise ReportSelectionError(rep.path, "/report", "a population argument naming one of the report's "
                                       "populations", f"populations {pops}")
        population = pops[0]
    return rep[population]


def _stride(rp: Any, step: int | None, dt: float | None) -> int:
    if step is not None and dt is not None:
        raise ReportSelectionError(rp.path, "step", "either step (frames) or dt (ms), not both", f"{step}, {dt}")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise ReportSelectionError(rp.path, "step", "a whole number of frames >= 1", repr(step))
        return int(step)
    if dt is not None:
        rdt = rp.time[2]
        k = dt / rdt
        if not np.isfinite(k) or k < 1 - 1e-9 or abs(k - round(k)) > 1e-6 * max(1.0, k):
            raise ReportSelectionError(rp.path, "dt", f"a multiple of the report's step ({rdt} ms)", f"{dt} ms")
        return int(round(k))
    return 1


def read_traces(path_or_report: Any, population: str | None = None, node_ids: NodeIdsLike | None = None,
                t_start: float | None = None, t_stop: float | None = None, step: int | None = None, *,
                dt: float | None = None) -> Traces:
    """Read some nodes' traces from a SONATA compartment report.

    Parameters
    ----------
    path_or_report : str, PathLike or CompartmentReport
    population : str, optional
        Needed when the report holds several populations.
    node_ids : array of int, optional
        Nodes, in the order wanted (every element of each); all reported nodes when omitted.
    t_start, t_stop : float, optional
        Keep frames with ``t_start <= t < t_stop`` (ms).
    step : int, optional
        Keep every ``step``-th frame.
    dt : float, optional
        New sampling step (ms), a multiple of the report's.

    Returns
    -------
    Traces

    Raises
    ------
    SonataFormatError
        A malformed report (no ``mapping`` group, inconsistent shapes) or nodes it does not record.
    ReportSelectionError
        Several populations and none chosen; a bad ``step``/``dt``.
    """
    rep = _open(path_or_report)
    rp = _population(rep, population)
    stride = _stride(rp, step, dt)
    ids = rp.node_ids if node_ids is None else np.atleast_1d(np.asarray(node_ids, dtype=np.int64))
    df = rp.to_frame(ids, t_start, t_stop, stride)
    return Traces(df.index.to_numpy(dtype=np.float64), df.to_numpy(), df.columns.get_level_values(0).to_numpy(np.int64),
                  df.columns.get_level_values(1).to_numpy(np.int64), rp.population, rp.units, rp.variable, rp.path)


def report_frame(path_or_report: Any, population: str | None = None, node_ids: NodeIdsLike | None = None,
                 t_start: float | None = None, t_stop: float | None = None, step: int | None = None, *,
                 dt: float | None = None) -> pd.DataFrame:
    """A compartment report as a DataFrame (see :func:`read_traces` for the parameters).

    Returns
    -------
    DataFrame
        Index ``time`` (ms); one column per node (``node_id``), or per (``node_id``, ``element_id``)
        when a node has several elements; ``attrs`` has ``units``, ``variable``, ``population``.

    Raises
    ------
    SonataFormatError, ReportSelectionError

    Examples
    --------
    >>> report_frame("membrane_potential.h5", node_ids=[0, 20], dt=1.0)   # doctest: +SKIP
    """
    return read_traces(path_or_report, population, node_ids, t_start, t_stop, step, dt=dt).to_frame()


def config_reports(config_file: PathLike, module: str | None = None) -> dict[str, str]:
    """The report files a simulation config writes: report name -> path (existing files only).

    Parameters
    ----------
    config_file : str or PathLike
        A simulation config.
    module : str, optional
        Keep reports of this module only (``membrane_report``, ``multimeter_report``...).

    Returns
    -------
    dict

    Raises
    ------
    AnalysisError
        Not a simulation config.
    """
    from modelkit.sonata import SimulationConfig, load_config
    cfg = load_config(config_file)
    if not isinstance(cfg, SimulationConfig):
        raise AnalysisError(os.fspath(config_file), "reports", "a simulation config", "a circuit config")
    return {name: r.file_name for name, r in cfg.reports.items()
            if r.enabled and r.file_name and os.path.isfile(r.file_name) and (module is None or r.module == module)
            and r.file_name.endswith((".h5", ".hdf5"))}


def report_source(report: Any = None, *, config_file: PathLike | None = None, report_name: str | None = None) -> Any:
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


def trace_frame(report: Any = None, *, config_file: PathLike | None = None, report_name: str | None = None,
                population: str | None = None, node_ids: NodeIdsLike | None = None, time_range: tuple[float,
                float] | None = None,
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
    src = report_source(report, config_file=config_file, report_name=report_name)
    t0, t1 = (None, None) if time_range is None else time_range
    df = report_frame(src, population, node_ids, t0, t1, step)
    df = one_column_per_node(df)
    df.attrs["source"] = getattr(src, "path", None) or os.fspath(src)
    return df


def one_column_per_node(df: pd.DataFrame) -> pd.DataFrame:
    """Keep each node's first element (column) of a (``node_id``, ``element_id``) table."""
    if not isinstance(df.columns, pd.MultiIndex):
        return df
    attrs = dict(df.attrs)
    first = ~df.columns.get_level_values(0).duplicated()
    out = df.loc[:, first]
    out.columns = pd.Index(out.columns.get_level_values(0), name="node_id")
    out.attrs.update(attrs)
    return out
