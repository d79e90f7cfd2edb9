"""Spike rasters, grouped and coloured by population or by any node property."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from modelkit.errors import ConfigError

__all__ = ["plot_raster", "spike_frame"]


def spike_frame(spikes: Any = None, *, config_file: Any = None) -> pd.DataFrame:
    """Spikes as a DataFrame with columns ``population``, ``node_ids`` and ``timestamps`` (ms).

    Parameters
    ----------
    spikes : str, PathLike, dict, DataFrame or run result, optional
        A spike file (SONATA h5, CSV, NWB), ``read_spikes``' dict, a table with those
        columns, or anything with a ``spikes_file`` attribute (a ``RunResult``).
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
    if isinstance(spikes, dict):
        parts = [pd.DataFrame({"population": pd.Series([str(k)] * len(sp), dtype=object),
                               "node_ids": sp.node_ids, "timestamps": sp.timestamps}) for k, sp in spikes.items()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {"population": pd.Series(dtype=object), "node_ids": np.empty(0, np.int64), "timestamps": np.empty(0)})
    if isinstance(spikes, pd.DataFrame):
        missing = {"node_ids", "timestamps"} - set(spikes.columns)
        if missing:
            raise ConfigError(None, "spikes", "a table with node_ids and timestamps (ms) columns",
                              f"columns {list(spikes.columns)}")
        df = spikes.copy()
        if "population" not in df.columns:
            df["population"] = "all"
        return df
    raise ConfigError(None, "spikes", "a spike file, read_spikes' dict, a DataFrame or a run result",
                      type(spikes).__name__)


def _group_labels(df: pd.DataFrame, group_by: str, network: Any) -> np.ndarray:
    if group_by == "population":
        return df["population"].astype(str).to_numpy()
    if network is None:
        raise ConfigError(None, "group_by", f"a network (or config_file) to read the node property {group_by!r}",
                          "none")
    labels = np.empty(len(df), dtype=object)
    for pop, idx in df.groupby("population").indices.items():
        if pop not in network.nodes:
            raise ConfigError(None, "spikes", f"populations of the network ({sorted(network.nodes)})", str(pop))
        nodes = network.nodes[pop]
        if group_by not in nodes.attribute_names:
            raise ConfigError(nodes.path, f"/nodes/{pop}", f"a node property {group_by!r}",
                              f"properties {sorted(nodes.attribute_names)}")
        labels[idx] = nodes.column(group_by, df["node_ids"].to_numpy()[idx]).astype(str)
    return labels


def plot_raster(spikes: Any = None, *, config_file: Any = None, network: Any = None, group_by: str = "population",
                ax: Any = None, title: str | None = None, marker_size: float | None = None,
                time_range: tuple[float, float] | None = None) -> Any:
    """Raster plot: one dot per spike, time (ms) against node id, one colour per group.

    Populations are stacked (each population's node ids are offset above the previous
    one's), so several populations never overlap.

    Parameters
    ----------
    spikes : file, dict, DataFrame or run result, optional
        See :func:`spike_frame`.
    config_file : str or PathLike, optional
        A simulation config: spikes from its output, node properties from its circuit.
    network : Network, optional
        Where to read ``group_by`` properties (default: the config's circuit).
    group_by : str
        ``"population"`` or a node property (``pop_name``, ``ei``, ``model_template``, ...).
    ax : matplotlib Axes, optional
        Draw here (default: a new figure).
    title : str, optional
    marker_size : float, optional
        Dot size (points²); default shrinks with the spike count.
    time_range : (float, float), optional
        Keep spikes in [start, stop] ms.

    Returns
    -------
    matplotlib.axes.Axes
        One collection per group (labelled, in the legend); dots are rasterised so a
        PNG or PDF of millions of spikes stays small and quick.
    """
    import matplotlib
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(8, 4.5))
    df = spike_frame(spikes, config_file=config_file)
    if network is None and config_file is not None and group_by != "population":
        from modelkit.sonata import Network, load_config
        network = Network.from_config(load_config(config_file))
    if time_range is not None:
        df = df[(df["timestamps"] >= time_range[0]) & (df["timestamps"] <= time_range[1])]
    # stack populations: offsets by the largest node id seen in each
    pops = list(dict.fromkeys(df["population"].astype(str)))
    offsets, top = {}, 0
    for p in pops:
        offsets[p] = top
        top += int(df.loc[df["population"].astype(str) == p, "node_ids"].max()) + 1
    y = df["node_ids"].to_numpy() + df["population"].astype(str).map(offsets).to_numpy()
    labels = _group_labels(df, group_by, network) if len(df) else np.empty(0, dtype=object)
    size = marker_size if marker_size is not None else float(np.clip(20000.0 / max(len(df), 1), 0.5, 6.0))
    colors = matplotlib.colormaps["tab10"].colors
    for k, g in enumerate(dict.fromkeys(labels.tolist())):
        m = labels == g
        ax.scatter(df["timestamps"].to_numpy()[m], y[m], s=size, color=colors[k % len(colors)], marker="|"
                   if size > 3 else ".", linewidths=0.8 if size > 3 else 0, label=f"{g} ({int(m.sum()):,})",
                   rasterized=True)
    if len(pops) > 1:
        for p in pops[1:]:
            ax.axhline(offsets[p] - 0.5, color="0.8", lw=0.5, zorder=0)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("node id" if len(pops) <= 1 else "node id (populations stacked)")
    if title:
        ax.set_title(title)
    if len(df):
        ax.legend(loc="upper right", fontsize="small", markerscale=max(1.0, 4.0 / size), frameon=True)
    ax.margins(x=0.01)
    return ax
