"""Spike rasters, grouped and coloured by population or by any node property."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from modelkit.errors import ConfigError
from modelkit.analysis.checks import check_number, check_time_range
from modelkit.analysis.sources import node_labels, resolve_network, where
from modelkit.plotting._axes import colors, new_axes

__all__ = ["plot_raster", "raster_data", "spike_frame", "select_spikes", "stacked_y"]


def spike_frame(spikes: Any = None, *, config_file: Any = None) -> pd.DataFrame:
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


def select_spikes(df: pd.DataFrame, *, population: Any = None, node_ids: Any = None,
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


def raster_data(spikes: Any = None, *, config_file: Any = None, network: Any = None, group_by: str = "population",
                population: str | list[str] | None = None, node_ids: Any = None,
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


def _density_image(ax: Any, t: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int,
                   palette: tuple) -> None:
    """Draw spikes as one RGBA image at the axes' pixel resolution: each pixel takes the colour of the
    group with most spikes there, its opacity grows with the log of the spike count."""
    bbox = ax.get_window_extent()
    nx, ny = max(int(bbox.width), 1), max(int(bbox.height), 1)
    t0, t1 = float(t.min()), float(t.max())
    y0, y1 = float(y.min()) - 0.5, float(y.max()) + 0.5
    t1 = t1 if t1 > t0 else t0 + 1.0
    from modelkit.analysis.binning import raster_counts
    npix = nx * ny
    counts = raster_counts(t, y, codes, n_groups=n_groups, t_range=(t0, t1), row_range=(y0, y1),
                           shape=(ny, nx)).reshape(n_groups, npix)
    total = counts.sum(axis=0)
    top = counts.argmax(axis=0)
    rgb = np.array([palette[k % len(palette)][:3] for k in range(n_groups)], dtype=np.float64)
    img = np.zeros((npix, 4))
    img[:, :3] = rgb[top]
    hit = total > 0
    img[hit, 3] = 0.35 + 0.65 * np.log1p(total[hit]) / np.log1p(total.max())
    ax.imshow(img.reshape(ny, nx, 4), origin="lower", extent=(t0, t1, y0, y1), aspect="auto",
              interpolation="nearest", rasterized=True)


def plot_raster(spikes: Any = None, *, config_file: Any = None, network: Any = None, group_by: str = "population",
                population: str | list[str] | None = None, node_ids: Any = None,
                time_range: tuple[float, float] | None = None, ax: Any = None, title: str | None = None,
                marker_size: float | None = None, max_points: int | None = 2_000_000) -> Any:
    """Raster plot: one dot per spike, time (ms) against node id, one colour per group.

    Populations are stacked (each population's node ids are offset above the previous
    one's), so several populations never overlap.

    Parameters
    ----------
    spikes : file, dict, DataFrame or run result, optional
        See :func:`spike_frame`.
    config_file : str or PathLike, optional
        A simulation config: spikes from its output, node properties from its circuit.
    network : Network, str or PathLike, optional
        Where to read ``group_by`` properties (default: the config's circuit).
    group_by : str
        ``"population"`` or a node property (``pop_name``, ``ei``, ``model_template``, ...).
    population : str or list of str, optional
        Draw only these spike populations (bmtk's ``population=``).
    node_ids : array of int, optional
        Draw only these nodes.
    time_range : (float, float), optional
        Keep spikes in [start, stop] ms.
    ax : matplotlib Axes, optional
        Draw here (default: a new figure).
    title : str, optional
    marker_size : float, optional
        Dot size (points²); default shrinks with the spike count.
    max_points : int or None
        Above this many spikes the raster is drawn as one image at the axes' pixel
        resolution (each pixel coloured by its most frequent group, opacity growing with
        the log of its spike count): 10^7 spikes take about a second.  None: always dots.

    Returns
    -------
    matplotlib.axes.Axes
        Up to ``max_points`` spikes: one collection per group, labelled
        ``"<group> (<spike count>)"`` and in the legend, dots rasterised so a PNG or PDF of
        millions of spikes stays small.  Beyond: one image (``ax.images``) and the same
        legend entries.

    Raises
    ------
    ConfigError
        No spikes given; ``group_by`` a property without a network, unknown to the network,
        or spike node ids that are not nodes of the network (naming the spikes file).

    Examples
    --------
    >>> ax = plot_raster(config_file="config.simulation.json", group_by="pop_name")  # doctest: +SKIP
    >>> ax.figure.savefig("raster.png")                                                # doctest: +SKIP
    """
    if max_points is not None:
        check_number(max_points, "max_points", 1, 10**12, integer=True)
    t, y, codes, groups, offsets = raster_data(spikes, config_file=config_file, network=network,
                                               group_by=group_by, population=population, node_ids=node_ids,
                                               time_range=time_range)
    ax = new_axes(ax)
    n = len(t)
    size = marker_size if marker_size is not None else float(np.clip(20000.0 / max(n, 1), 0.5, 6.0))
    palette = colors()
    counts = np.bincount(codes, minlength=len(groups)) if n else np.zeros(0, np.int64)
    labels = [f"{g} ({int(c):,})" for g, c in zip(groups, counts)]
    if max_points is not None and n > max_points:
        from matplotlib.lines import Line2D
        _density_image(ax, t, y, codes, len(groups), palette)
        handles = [Line2D([], [], ls="", marker="s", color=palette[k % len(palette)], label=lab)
                   for k, lab in enumerate(labels)]
        ax.legend(handles=handles, loc="upper right", fontsize="small", frameon=True)
    else:
        order = np.argsort(codes, kind="stable")
        cuts = np.searchsorted(codes[order], np.arange(len(groups) + 1))
        for k, lab in enumerate(labels):
            sel = order[cuts[k]:cuts[k + 1]]
            ax.scatter(t[sel], y[sel], s=size, color=palette[k % len(palette)], marker="|" if size > 3 else ".",
                       linewidths=0.8 if size > 3 else 0, label=lab, rasterized=True)
        if n:
            ax.legend(loc="upper right", fontsize="small", markerscale=max(1.0, 4.0 / size), frameon=True)
    for p in list(offsets)[1:]:
        ax.axhline(offsets[p] - 0.5, color="0.8", lw=0.5, zorder=0)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("node id" if len(offsets) <= 1 else "node id (populations stacked)")
    if title:
        ax.set_title(title)
    ax.margins(x=0.01)
    return ax


def _source_of(spikes: Any, config_file: Any) -> Any:
    """The file the spikes come from, for error messages."""
    if isinstance(spikes, (str, os.PathLike)):
        return spikes
    if spikes is None:
        return config_file if isinstance(config_file, (str, os.PathLike)) else None
    return getattr(spikes, "spikes_file", None)
