"""Connectivity figures: a group x group matrix of edge counts or weights, and degree histograms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit._typing import PathLike
from modelkit.analysis.connectivity import connectivity_table
from modelkit.analysis.connectivity import population_degrees as degrees
from modelkit.analysis.sources import where
from modelkit.errors import ConfigError
from modelkit.plotting._axes import colors, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from modelkit.sonata import Network

__all__ = ["connectivity_table", "degrees", "plot_connectivity_matrix", "plot_degree_distribution"]


def plot_connectivity_matrix(network: Network | PathLike | None = None, *, config_file: PathLike | None = None,
                             group_by: str = "pop_name",
                             weight: str | None = None, edges: str | Sequence[str] | None = None,
                             ax: Axes | None = None, title: str | None = None,
                             annotate: bool | None = None, cmap: str | None = None) -> Any:
    """Matrix of connections between node groups: sources on rows, targets on columns.

    Parameters
    ----------
    network, config_file, group_by, weight, edges
        See :func:`connectivity_table`.
    ax : matplotlib Axes, optional
    title : str, optional
    annotate : bool, optional
        Write each cell's value (default: when the matrix has at most 15 x 15 cells).
    cmap : str, optional
        Colour map (default ``viridis`` for counts, a diverging ``RdBu_r`` centred on 0 for
        weights of both signs).

    Returns
    -------
    matplotlib.axes.Axes
        One image (``ax.images[0]``, its array the matrix), tick labels the groups and a
        colour bar labelled "edges" or "sum of <weight>".

    Examples
    --------
    >>> ax = plot_connectivity_matrix(config_file="config.circuit.json", group_by="pop_name")  # doctest: +SKIP
    """
    mat = connectivity_table(network, config_file=config_file, group_by=group_by, weight=weight, edges=edges)
    ax = new_axes(ax, figsize=(6.0, 5.0))
    vals = mat.to_numpy(dtype=np.float64)
    kw: dict[str, Any] = {"cmap": cmap or "viridis"}
    if weight is not None and vals.size and vals.min() < 0 < vals.max():
        lim = float(np.abs(vals).max())
        kw = {"cmap": cmap or "RdBu_r", "vmin": -lim, "vmax": lim}
    im = ax.imshow(vals if vals.size else np.zeros((0, 0)), aspect="auto", interpolation="nearest", **kw)
    ax.set_xticks(range(mat.shape[1]), [str(c) for c in mat.columns], rotation=45, ha="right")
    ax.set_yticks(range(mat.shape[0]), [str(r) for r in mat.index])
    ax.set_xlabel(f"target {group_by}")
    ax.set_ylabel(f"source {group_by}")
    ax.figure.colorbar(im, ax=ax, label="edges" if weight is None else f"sum of {weight}")
    if annotate is None:
        annotate = mat.shape[0] <= 15 and mat.shape[1] <= 15
    if annotate and vals.size:
        norm = im.norm
        for i in range(vals.shape[0]):
            for j in range(vals.shape[1]):
                v = vals[i, j]
                x = float(np.asarray(norm(v)))
                dark = x < 0.5 if kw["cmap"] == "viridis" else (x < 0.15 or x > 0.85)
                ax.text(j, i, f"{int(v):,}" if weight is None else f"{v:.4g}", ha="center", va="center",
                        fontsize="small", color="white" if dark else "black")
    if title:
        ax.set_title(title)
    return ax


def plot_degree_distribution(network: Network | PathLike | None = None, *, config_file: PathLike | None = None,
                             population: str | None = None,
                             edges: str | Sequence[str] | None = None, direction: str = "both",
                             bins: int | Sequence[float] | None = None, ax: Axes | None = None,
                             title: str | None = None) -> Any:
    """Histograms of the in- and out-degrees of the nodes of one population.

    Parameters
    ----------
    network, config_file, population, edges
        See :func:`degrees`.
    direction : {'both', 'in', 'out'}
    bins : int or sequence, optional
        Histogram bins (default: one per integer degree up to 50 bins, wider beyond).
    ax : matplotlib Axes, optional
    title : str, optional
        Default: the population and its node count.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per direction (``ax.containers``), labelled
        ``"in-degree (mean 12.2)"`` / ``"out-degree (mean 12.2)"``, counts summing to the
        node count.

    Raises
    ------
    ConfigError
        See :func:`degrees`; an unknown ``direction``.
    """
    if direction not in ("both", "in", "out"):
        raise ConfigError(where(config_file), "direction", "one of both, in, out", repr(direction))
    deg = degrees(network, config_file=config_file, population=population, edges=edges)
    ax = new_axes(ax, figsize=(6.0, 4.0))
    cols = ["in_degree", "out_degree"] if direction == "both" else [f"{direction}_degree"]
    vmax = int(deg[cols].to_numpy().max()) if len(deg) else 0
    if bins is None:
        width = max(1, int(np.ceil((vmax + 1) / 50)))
        bins = (np.arange(0, vmax + width + 1, width) - 0.5).tolist()
    palette = colors()
    for k, c in enumerate(cols):
        v = deg[c].to_numpy()
        name = c.replace("_degree", "-degree")
        mean = v.mean() if len(v) else 0.0
        ax.hist(v, bins=bins, histtype="bar", alpha=0.55, color=palette[k], label=f"{name} (mean {mean:.3g})")
    ax.set_xlabel("degree (edges per node)")
    ax.set_ylabel("nodes")
    ax.legend(fontsize="small")
    ax.set_title(title if title is not None else f"{deg.attrs['population']}: {deg.index.size:,} nodes")
    return ax
