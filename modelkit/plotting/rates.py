"""Firing-rate figures: mean rate per group (bars), the distribution of node rates, rates over time (PSTH).

The statistics come from :class:`modelkit.analysis.SpikeTable`; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit._typing import PathLike
from modelkit.analysis.spike_frames import KINDS, rate_data
from modelkit.plotting._axes import colors, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from modelkit.sonata import Network

__all__ = ["plot_rates", "rate_data", "KINDS"]

def plot_rates(spikes: Any = None, *, config_file: PathLike | None = None, network: Network | PathLike | None = None,
               group_by: str = "population",
               kind: str = "bar", time_range: tuple[float, float] | None = None, bin_ms: float = 10.0,
               bins: int | Sequence[float] = 30, ax: Axes | None = None, title: str | None = None) -> Any:
    """Firing rates per group of nodes: bars, a histogram of node rates, or rates over time.

    Nodes that never fire count (0 Hz) when the network is known (``config_file=`` or
    ``network=``); without it only the nodes that fire are known.

    Parameters
    ----------
    spikes : file, DataFrame, dict, SpikeTable or run result, optional
        See :meth:`modelkit.analysis.SpikeTable.load`.
    config_file : str or PathLike, optional
        A simulation config: its circuit (node properties, silent nodes), its run window, and
        its output spikes unless ``spikes`` is given.
    network : Network, str or PathLike, optional
        Where node properties come from (overrides the config's circuit).
    group_by : str
        ``"population"`` or a node property (``pop_name``, ``ei``, ``node_type_id``, ...).
    kind : {'bar', 'hist', 'time'}
        ``bar``: mean rate of each group with its standard deviation over nodes;
        ``hist``: histogram of the rates of the nodes, one per group;
        ``time``: rate per node in bins of ``bin_ms`` (a PSTH), one line per group.
    time_range : (float, float), optional
        Window in ms (default: the config's run, else 0 to the last spike).
    bin_ms : float
        PSTH bin width (ms) for ``kind="time"``.
    bins : int or sequence
        Histogram bins (Hz) for ``kind="hist"``, shared by every group.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``bar``: one bar per group (a ``BarContainer`` in ``ax.containers``, with an
        ``ErrorbarContainer``), each labelled with its rate, tick labels the groups, y label
        ``"firing rate (Hz)"``.  ``hist``: one bar container per group, labelled
        ``"<group> (<n> nodes)"``.  ``time``: one line per group, x label ``"time (ms)"``.

    Raises
    ------
    ConfigError
        An unknown ``kind``, a ``bin_ms`` that is not positive and finite, a ``time_range``
        that is not finite with start < stop.
    AnalysisError
        No spikes; ``group_by`` not a node property; spike node ids the network lacks.

    Examples
    --------
    >>> ax = plot_rates(config_file="config.simulation.json", group_by="pop_name")          # doctest: +SKIP
    >>> ax = plot_rates("spikes.h5", kind="time", bin_ms=5.0)                                # doctest: +SKIP
    """
    data = rate_data(spikes, config_file=config_file, network=network, group_by=group_by, kind=kind,
                     time_range=time_range, bin_ms=bin_ms)
    ax = new_axes(ax, figsize=(6.0, 4.0) if kind == "bar" else (8.0, 4.0))
    palette = colors()
    if kind == "bar":
        labels = [str(g) for g in data.index]
        x = np.arange(len(labels))
        mean, std = data["mean"].to_numpy(), np.nan_to_num(data["std"].to_numpy())
        bars = ax.bar(x, mean, yerr=np.vstack([np.minimum(std, np.nan_to_num(mean)), std]), capsize=3,
                      color=[palette[k % len(palette)] for k in range(len(labels))], alpha=0.85,
                      label="mean ± s.d. over nodes")
        ax.bar_label(bars, labels=[f"{m:.3g} Hz" for m in mean], fontsize="small", label_type="center")
        ax.set_xticks(x, labels, rotation=0 if sum(map(len, labels)) < 60 else 45)
        ax.set_xlabel(group_by)
        ax.set_ylabel("firing rate (Hz)")
    elif kind == "hist":
        rates = data["rate"].to_numpy()
        edges = np.histogram_bin_edges(rates if len(rates) else [0.0, 1.0], bins=bins)
        groups = list(dict.fromkeys(data["group"].tolist()))
        for k, g in enumerate(groups):
            v = rates[(data["group"] == g).to_numpy()]
            ax.hist(v, bins=edges.tolist(), histtype="bar", alpha=0.55 if len(groups) > 1 else 0.85,
                    color=palette[k % len(palette)], label=f"{g} ({len(v):,} nodes)")
        ax.set_xlabel("firing rate (Hz)")
        ax.set_ylabel("nodes")
        if groups:
            ax.legend(fontsize="small")
    else:
        t = data.index.to_numpy(dtype=np.float64)
        width = float(t[1] - t[0]) if len(t) > 1 else bin_ms
        x = np.append(t, t[-1] + width) if len(t) else t
        for k, g in enumerate(data.columns):
            v = data[g].to_numpy()
            ax.step(x, np.append(v, v[-1]) if len(v) else v, where="post", lw=1.0, color=palette[k % len(palette)],
                    label=str(g))
        if len(t):
            ax.set_xlim(x[0], x[-1])
        ax.set_xlabel("time (ms)")
        ax.set_ylabel(f"firing rate (Hz per node, {bin_ms:g} ms bins)")
        if data.shape[1]:
            ax.legend(fontsize="small", loc="upper right")
    if title:
        ax.set_title(title)
    return ax
