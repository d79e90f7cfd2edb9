"""Connectivity figures: a group x group matrix of edge counts or weights, and degree histograms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelkit.errors import ConfigError
from modelkit.analysis.sources import node_labels, resolve_network, where
from modelkit.plotting._axes import colors, new_axes

__all__ = ["connectivity_table", "degrees", "plot_connectivity_matrix", "plot_degree_distribution"]


def _network(network: Any, config_file: Any) -> Any:
    net = resolve_network(network, config_file)
    if net is None:
        raise ConfigError(None, "network", "a network (Network, circuit/simulation config or folder) or config_file",
                          "neither")
    return net


def _edge_names(net: Any, edges: Any) -> list[str]:
    names = list(net.edges) if edges is None else ([edges] if isinstance(edges, str) else list(edges))
    for n in names:
        if n not in net.edges:
            raise ConfigError(net.path, "edges", f"an edge population of the network ({sorted(net.edges)})", n)
        net.edges[n].check_node_populations(net.nodes)  # a damaged node_population names the edges file
    return names


def _labels_of_population(net: Any, population: str, group_by: str, cache: dict) -> np.ndarray:
    """``group_by`` of every node of a population, indexed by node id (ids are 0..n-1 in SONATA)."""
    if population not in cache:
        if population not in net.nodes:
            raise ConfigError(net.path, "edges", f"node populations of the network ({sorted(net.nodes)})", population)
        nodes = net.nodes[population]
        cache[population] = node_labels(net, population, nodes.node_ids, group_by)
    return cache[population]


def connectivity_table(network: Any = None, *, config_file: Any = None, group_by: str = "pop_name",
                       weight: str | None = None, edges: Any = None) -> pd.DataFrame:
    """Edge counts (or summed edge property) between groups of nodes.

    Edges are streamed chunk by chunk (:meth:`EdgePopulation.iter_chunks`), so networks of
    10^8 edges fit in memory.

    Parameters
    ----------
    network : Network, str or PathLike, optional
        The network (or a config / folder to load).
    config_file : str or PathLike, optional
        A circuit or simulation config, used when ``network`` is None.
    group_by : str
        A node property (``pop_name``, ``ei``, ``model_type``, ...) or ``"population"``.
    weight : str, optional
        An edge property to sum (``syn_weight``, ``nsyns``); edges are counted when omitted.
    edges : str or list of str, optional
        Edge populations to include (default: all).

    Returns
    -------
    DataFrame
        Index: source groups, columns: target groups (both sorted), values the edge count
        (int) or the summed ``weight`` (float).

    Raises
    ------
    ConfigError
        No network, an unknown edge population, node property or edge property.
    """
    net = _network(network, config_file)
    cache: dict[str, np.ndarray] = {}
    parts: list[pd.DataFrame] = []
    for name in _edge_names(net, edges):
        ep = net.edges[name]
        if weight is not None and weight not in ep.attribute_names:
            raise ConfigError(ep.path, f"/edges/{name}", f"an edge property {weight!r}",
                              f"properties {sorted(ep.attribute_names)}")
        src = _labels_of_population(net, ep.source, group_by, cache)
        tgt = _labels_of_population(net, ep.target, group_by, cache)
        props = ["source_node_id", "target_node_id"] + ([weight] if weight else [])
        for chunk in ep.iter_chunks(props):
            if len(chunk) == 0:
                continue
            s_ids = chunk["source_node_id"].to_numpy()
            t_ids = chunk["target_node_id"].to_numpy()
            for ids, lab, pop in ((s_ids, src, ep.source), (t_ids, tgt, ep.target)):
                if ids.max() >= len(lab):
                    raise ConfigError(ep.path, f"/edges/{name}", f"node ids of population {pop!r} (< {len(lab)})",
                                      str(int(ids.max())))
            val = chunk[weight].to_numpy(dtype=np.float64) if weight else np.ones(len(chunk), dtype=np.int64)
            part = pd.DataFrame({"source": src[s_ids], "target": tgt[t_ids], "value": val})
            parts.append(part.groupby(["source", "target"], sort=False)["value"].sum().reset_index())
    if not parts:
        return pd.DataFrame(dtype=np.float64 if weight else np.int64)
    tab = pd.concat(parts, ignore_index=True).groupby(["source", "target"])["value"].sum()
    mat = tab.unstack("target", fill_value=0)
    groups_src, groups_tgt = sorted(mat.index), sorted(mat.columns)
    mat = mat.reindex(index=groups_src, columns=groups_tgt, fill_value=0)
    mat.index.name, mat.columns.name = "source", "target"
    return mat.astype(np.float64 if weight else np.int64)


def plot_connectivity_matrix(network: Any = None, *, config_file: Any = None, group_by: str = "pop_name",
                             weight: str | None = None, edges: Any = None, ax: Any = None, title: str | None = None,
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
                x = float(norm(v))
                dark = x < 0.5 if kw["cmap"] == "viridis" else (x < 0.15 or x > 0.85)
                ax.text(j, i, f"{int(v):,}" if weight is None else f"{v:.4g}", ha="center", va="center",
                        fontsize="small", color="white" if dark else "black")
    if title:
        ax.set_title(title)
    return ax


def degrees(network: Any = None, *, config_file: Any = None, population: str | None = None,
            edges: Any = None) -> pd.DataFrame:
    """In- and out-degree of every node of one population.

    Parameters
    ----------
    network, config_file
        See :func:`connectivity_table`.
    population : str, optional
        The node population (default: the one targeted by the most edges).
    edges : str or list of str, optional
        Edge populations counted (default: all); in-degree counts those targeting
        ``population``, out-degree those leaving it.

    Returns
    -------
    DataFrame
        Index ``node_id`` (every node, zeros included), columns ``in_degree`` and ``out_degree``;
        ``attrs["population"]`` names the population.

    Raises
    ------
    ConfigError
        No network, or an unknown node or edge population.
    """
    net = _network(network, config_file)
    names = _edge_names(net, edges)
    if population is None:
        incoming: dict[str, int] = {}
        for name in names:
            tgt = net.edges[name].target
            incoming[tgt] = incoming.get(tgt, 0) + net.edges[name].size
        if not incoming:
            raise ConfigError(net.path, "population", "a node population (the network has no edges to choose by)",
                              "none")
        population = max(incoming, key=lambda k: incoming[k])
    if population not in net.nodes:
        raise ConfigError(net.path, "population", f"a node population of the network ({sorted(net.nodes)})",
                          population)
    ids = net.nodes[population].node_ids
    n = int(ids.max()) + 1 if len(ids) else 0
    deg_in = np.zeros(n, dtype=np.int64)
    deg_out = np.zeros(n, dtype=np.int64)
    for name in names:
        ep = net.edges[name]
        for side, counts in (("target", deg_in), ("source", deg_out)):
            if getattr(ep, side) != population:
                continue
            for chunk in ep.iter_chunks([f"{side}_node_id"]):
                c = np.bincount(chunk[f"{side}_node_id"].to_numpy(), minlength=n)
                if len(c) > n:
                    raise ConfigError(ep.path, f"/edges/{name}/{side}_node_id",
                                      f"node ids of population {population!r} (< {n})", str(len(c) - 1))
                counts += c
    out = pd.DataFrame({"in_degree": deg_in[ids], "out_degree": deg_out[ids]}, index=pd.Index(ids, name="node_id"))
    out.attrs["population"] = population
    return out


def plot_degree_distribution(network: Any = None, *, config_file: Any = None, population: str | None = None,
                             edges: Any = None, direction: str = "both", bins: Any = None, ax: Any = None,
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
        bins = np.arange(0, vmax + width + 1, width) - 0.5
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
