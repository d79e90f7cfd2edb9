"""The tables spike figures draw: spikes as a DataFrame, a raster's rows and groups, rates per group.

:func:`spike_frame` reads spikes from whatever holds them; :func:`raster_data` stacks populations into raster
rows and colours them by a node property; :func:`rate_data` gives the bars, node-rate histograms or PSTH
that :func:`modelkit.plotting.plot_rates` draws, from :class:`~modelkit.analysis.SpikeTable`.  Errors name
the option (``kind``, ``bin_ms``, ``time_range``, ``group_by``) and the spikes file.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import NodeIdsLike, PathLike
from modelkit.analysis.checks import check_number, check_time_range
from modelkit.analysis.sources import node_labels, resolve_network, where
from modelkit.errors import ConfigError

if TYPE_CHECKING:
    from modelkit.sonata import Network

__all__ = ["spike_frame", "select_spikes", "stacked_y", "raster_data", "rate_data", "KINDS"]


def spike_frame(spikes: Any = None, *, config_file: PathLike | None = None) -> pd.DataFrame:
    """Spikes as a DataFrame with columns ``population``, ``node_ids`` and ``timestamps`` (ms).

    Parameters
    ----------
    spikes : str, PathLike, dict, DataFrame, SpikeTable or run result, optional
        A spike file (SONATA h5, CSV, NWB), ``read_spikes``' dict, a table with those
        columns (not copied), a :class:`modelkit.analysis.SpikeTable`, or anything with a
        ``spikes_file`` attribute (a ``RunResult``).
    config_file : str or PathLike, optional
        A simulation config: its ``output.spikes_file`` is read.
    """
    from modelkit.sonata import load_config, read_spikes
    if spikes is None:
        if config_file is None:
            raise ConfigError(None, "spikes", "spikes (a file, table or run result) or config_file", "neither")
        cfg = load_config(config_file)
        path = getattr(getattr(cfg, "output", None), "spikes_file", None)
        if not path:
            raise ConfigError(os.fspath(config_file), "output.spikes_file", "a spikes file", "none")
        spikes = path
    if hasattr(spikes, "spikes_file") and not isinstance(spikes, (str, os.PathLike)):
        spikes = spikes.spikes_file
    if isinstance(spikes, (str, os.PathLike)):
        spikes = read_spikes(spikes)
    if isinstance(getattr(spikes, "frame", None), pd.DataFrame):  # a modelkit.analysis.SpikeTable
        spikes = spikes.frame
    if isinstance(spikes, dict):
        names = [str(k) for k in spikes]
        sizes = [len(sp) for sp in spikes.values()]
        codes = np.repeat(np.arange(len(names), dtype=np.int32), sizes)
        vals = list(spikes.values())
        return pd.DataFrame({
            "population": pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object)),
            "node_ids": np.concatenate([sp.node_ids for sp in vals]) if vals else np.empty(0, np.int64),
            "timestamps": np.concatenate([sp.timestamps for sp in vals]) if vals else np.empty(0)})
    if isinstance(spikes, pd.DataFrame):
        missing = {"node_ids", "timestamps"} - set(spikes.columns)
        if missing:
            raise ConfigError(None, "spikes", "a table with node_ids and timestamps (ms) columns",
                              f"columns {list(spikes.columns)}")
        if "population" not in spikes.columns:
            return spikes.assign(population=pd.Categorical.from_codes(np.zeros(len(spikes), np.int8), ["all"]))
        return spikes
    raise ConfigError(None, "spikes", "a spike file, read_spikes' dict, a DataFrame or a run result",
                      type(spikes).__name__)


def select_spikes(df: pd.DataFrame, *, population: Any = None, node_ids: NodeIdsLike | None = None,
                  time_range: tuple[float, float] | None = None) -> pd.DataFrame:
    """Rows of a spike table (see :func:`spike_frame`) in some populations, nodes and time window.

    Parameters
    ----------
    df : DataFrame
        Columns ``population``, ``node_ids``, ``timestamps`` (ms).
    population : str or list of str, optional
        Keep these populations.
    node_ids : array of int, optional
        Keep these node ids (of every kept population).
    time_range : (float, float), optional
        Keep spikes in [start, stop] ms.

    Returns
    -------
    DataFrame
        A view of the kept rows, in their original order.
    """
    keep = np.ones(len(df), dtype=bool)
    if population is not None:
        pops = [population] if isinstance(population, str) else list(population)
        keep &= df["population"].astype(str).isin([str(p) for p in pops]).to_numpy()
    if node_ids is not None:
        keep &= np.isin(df["node_ids"].to_numpy(), np.asarray(node_ids, dtype=np.int64))
    if time_range is not None:
        t = df["timestamps"].to_numpy()
        keep &= (t >= time_range[0]) & (t <= time_range[1])
    return df if keep.all() else df[keep]


def _population_codes(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Code of every spike's population and the names, in first-seen order (the legend's)."""
    col = df["population"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        raw = col.cat.codes.to_numpy()
        seen = np.flatnonzero(np.bincount(raw[raw >= 0], minlength=len(col.cat.categories)))
        first = np.array([np.argmax(raw == k) for k in seen], dtype=np.int64)
        order = seen[np.argsort(first)]
        remap = np.full(len(col.cat.categories), -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        return remap[raw], [str(col.cat.categories[k]) for k in order]
    codes, uniques = pd.factorize(col.to_numpy(dtype=object), sort=False)
    return np.asarray(codes, dtype=np.int64), [str(u) for u in uniques]


def stacked_y(df: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """Raster rows: node ids offset so each population sits above the previous one.

    Returns
    -------
    y : ndarray of int64
        Row of every spike.
    offsets : dict
        Population -> its offset (the largest node id seen in the populations below, plus one).
    """
    codes, names = _population_codes(df)
    return _stack(df["node_ids"].to_numpy().astype(np.int64, copy=False), codes, names)


def _stack(ids: np.ndarray, codes: np.ndarray, names: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    offsets: dict[str, int] = {}
    if len(ids) == 0:
        return ids, offsets
    if len(names) == 1:
        return ids, {names[0]: 0}
    base = np.zeros(len(names), dtype=np.int64)
    top = 0
    for k, name in enumerate(names):
        offsets[name] = top
        base[k] = top
        top += int(ids[codes == k].max()) + 1
    return ids + base[codes], offsets


def _group_codes(ids: np.ndarray, codes: np.ndarray, names: list[str], group_by: str, network: Any,
                 source: Any) -> tuple[np.ndarray, list[str]]:
    """Group code of every spike and the group names (first-seen order); properties are read once per node."""
    if group_by == "population":
        return codes, names
    if network is None:
        raise ConfigError(where(source), "group_by",
                          f"a network (or config_file) to read the node property {group_by!r}", "none")
    labels = np.empty(len(ids), dtype=object)
    for k, pop in enumerate(names):
        if pop not in network.nodes:
            raise ConfigError(where(source), "spikes", f"populations of the network ({sorted(network.nodes)})", pop)
        m = codes == k
        uniq, inv = np.unique(ids[m], return_inverse=True)
        labels[m] = node_labels(network, pop, uniq, group_by, source)[inv]
    gcodes, groups = pd.factorize(labels, sort=False)
    return np.asarray(gcodes, dtype=np.int64), [str(g) for g in groups]


def raster_data(spikes: Any = None, *, config_file: PathLike | None = None, network: Network | PathLike | None = None,
                group_by: str = "population",
                population: str | list[str] | None = None, node_ids: NodeIdsLike | None = None,
                time_range: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         list[str], dict[str, int]]:
    """What a raster draws: ``(t, y, group_code, group_names, offsets)``.

    ``t`` are spike times (ms), ``y`` rows (node ids, populations stacked), ``group_code`` the
    index into ``group_names`` (first-seen order) of every spike, ``offsets`` the row offset of
    each population.  Parameters as in :func:`plot_raster`.
    """
    check_time_range(time_range)
    source = _source_of(spikes, config_file)
    df = select_spikes(spike_frame(spikes, config_file=config_file), population=population, node_ids=node_ids,
                       time_range=time_range)
    if group_by != "population" and len(df):
        network = resolve_network(network, config_file)
    codes, names = _population_codes(df)
    ids = df["node_ids"].to_numpy().astype(np.int64, copy=False)
    y, offsets = _stack(ids, codes, names)
    gcodes, groups = _group_codes(ids, codes, names, group_by, network, source) if len(df) else (codes, [])
    return df["timestamps"].to_numpy(dtype=np.float64), y, gcodes, groups, offsets


def _source_of(spikes: Any, config_file: PathLike | None) -> Any:
    """The file the spikes come from, for error messages."""
    if isinstance(spikes, (str, os.PathLike)):
        return spikes
    if spikes is None:
        return config_file if isinstance(config_file, (str, os.PathLike)) else None
    return getattr(spikes, "spikes_file", None)


#: what :func:`plot_rates` can draw
KINDS = ("bar", "hist", "time")


def _table(spikes: Any, config_file: PathLike | None, network: Any) -> Any:
    from modelkit.analysis import SpikeTable
    if network is not None and isinstance(network, (str, os.PathLike)):
        network = resolve_network(network)
    return SpikeTable.load(spikes, config_file=config_file, network=network)


def rate_data(spikes: Any = None, *, config_file: PathLike | None = None, network: Network | PathLike | None = None,
              group_by: str = "population",
              kind: str = "bar", time_range: tuple[float, float] | None = None,
              bin_ms: float = 10.0) -> pd.DataFrame:
    """The numbers :func:`plot_rates` draws, from :class:`modelkit.analysis.SpikeTable`.

    Parameters
    ----------
    spikes, config_file, network, group_by, kind, time_range, bin_ms
        See :func:`plot_rates`.

    Returns
    -------
    DataFrame
        ``kind="bar"``: index the groups, columns ``n_nodes``, ``n_spikes``, ``mean``, ``std``
        and ``sem`` (Hz, over the group's nodes).  ``"hist"``: one row per node, columns
        ``group`` and ``rate`` (Hz).  ``"time"``: index ``time`` (bin start, ms), one column
        per group, rate per node (Hz).

    Raises
    ------
    ConfigError
        A bad ``kind``, ``bin_ms`` or ``time_range``, as :func:`plot_rates` says.
    AnalysisError
        See :meth:`SpikeTable.load`, :meth:`SpikeTable.rates`, :meth:`SpikeTable.psth`.
    """
    if kind not in KINDS:
        raise ConfigError(where(config_file), "kind", f"one of {', '.join(KINDS)}", repr(kind))
    # checked before any file is read; the number of bins is bounded by SpikeTable.psth
    check_number(bin_ms, "bin_ms", 0.0, 1e12, lo_open=True)
    check_time_range(time_range)
    table = _table(spikes, config_file, network)
    t0, t1 = (None, None) if time_range is None else time_range
    if kind == "bar":
        r = table.rates(by=group_by, t_start=t0, t_stop=t1)
        n = r["n_nodes"].to_numpy()
        std = r["rate_std"].to_numpy()
        sem = np.divide(std, np.sqrt(n), out=np.full(len(n), np.nan), where=n > 0)
        return pd.DataFrame({"n_nodes": n, "n_spikes": r["n_spikes"].to_numpy(), "mean": r["rate"].to_numpy(),
                             "std": std, "sem": sem}, index=r.index)
    if kind == "hist":
        r = table.rates(by="node", t_start=t0, t_stop=t1)
        return pd.DataFrame({"group": table.node_labels(group_by), "rate": r["rate"].to_numpy()}, index=r.index)
    return table.psth(bin_ms=bin_ms, by=group_by, t_start=t0, t_stop=t1)
