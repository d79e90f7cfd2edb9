"""Spike rasters, grouped and coloured by population or by any node property.

What a raster shows (:func:`raster_data`, :func:`spike_frame`...) comes from
:mod:`modelkit.analysis.spike_frames`, re-exported here; this module only draws it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit._typing import NodeIdsLike, PathLike
from modelkit.analysis.checks import check_number
from modelkit.analysis.spike_frames import raster_data, select_spikes, spike_frame, stacked_y
from modelkit.plotting._axes import colors, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from modelkit.sonata import Network

__all__ = ["plot_raster", "raster_data", "spike_frame", "select_spikes", "stacked_y"]


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


def plot_raster(spikes: Any = None, *, config_file: PathLike | None = None, network: Network | PathLike | None = None,
                group_by: str = "population",
                population: str | list[str] | None = None, node_ids: NodeIdsLike | None = None,
                time_range: tuple[float, float] | None = None, ax: Axes | None = None, title: str | None = None,
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
