"""Connectivity statistics of a network: degrees, weight/delay distributions, connection probability vs distance.

Edges are streamed in chunks (``EdgePopulation.iter_chunks``), so 10^8 edges never sit in memory at once;
per-node and per-type sums are ``np.bincount`` over integer codes.

* :func:`degrees` — in- or out-degree of every node (edges, and synapses when ``nsyns`` is set),
  optionally one column per edge type.
* :func:`degree_histogram` — how many nodes have each in- or out-degree, per edge type (the degree
  distribution).
* :func:`edge_stats` — count, mean, std, min, max of ``syn_weight``, ``delay``, ``nsyns`` and
  ``total_weight`` (``syn_weight * nsyns``) per edge type (or any edge property).
* :func:`edge_histogram` — histogram of one of these per edge type.
* :func:`connection_probability` — connected fraction of (source, target) pairs in distance bins;
  pairs are counted with k-d trees (``scipy.spatial.cKDTree.count_neighbors``), on a seeded sample of
  nodes when a population is larger than ``max_nodes``.

Examples
--------
>>> net = Network.load("circuit_config.json")                            # doctest: +SKIP
>>> degrees(net.edges["v1_to_v1"], "in", network=net, by_type=True)     # doctest: +SKIP
>>> edge_stats(net.edges["v1_to_v1"])                                    # doctest: +SKIP
>>> connection_probability(net, "v1_to_v1", bins=np.arange(0, 300, 25))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.analysis.errors import AnalysisError, UnknownPropertyError
from modelkit.analysis.sources import node_labels, resolve_network
from modelkit.errors import ConfigError

if TYPE_CHECKING:
    from modelkit.sonata import EdgePopulation, Network

__all__ = ["degrees", "population_degrees", "degree_histogram", "edge_stats", "edge_histogram",
           "connection_probability", "connectivity_table"]

_DERIVED = ("total_weight",)


def _edges(network: Network | None, edges: EdgePopulation | str) -> EdgePopulation:
    if isinstance(edges, str):
        if network is None:
            raise AnalysisError(None, "edges", "an EdgePopulation, or a name with network=", repr(edges))
        if edges not in network.edges:
            raise AnalysisError(network.path, f"edges {edges!r}", f"an edge population of the network "
                                f"({sorted(network.edges)})", repr(edges))
        return network.edges[edges]
    return edges


def _has(edges: EdgePopulation, name: str) -> bool:
    if name == "edge_type_id":
        return bool(edges.layout.has_type_id)
    return name in edges.attribute_names or name in ("source_node_id", "target_node_id")


def _check_by(edges: EdgePopulation, by: str | None) -> None:
    """Refuse a ``by`` that is not a property of the edges."""
    if by and not _has(edges, by):
        raise UnknownPropertyError(edges.path, by, f"a property of edges {edges.name!r} to group by",
                                   f"properties {['edge_type_id'] + edges.attribute_names}")


def _columns_for(edges: EdgePopulation, props: Sequence[str]) -> list[str]:
    """Edge columns to stream for the wanted properties (``total_weight`` needs syn_weight and nsyns)."""
    need: list[str] = []
    for p in props:
        if p == "total_weight":
            if not _has(edges, "syn_weight"):
                raise UnknownPropertyError(edges.path, "syn_weight", f"a syn_weight property of edges "
                                           f"{edges.name!r} (for total_weight)", f"properties {edges.attribute_names}")
            need += ["syn_weight"] + (["nsyns"] if _has(edges, "nsyns") else [])
        elif not _has(edges, p):
            raise UnknownPropertyError(edges.path, p, f"a property of edges {edges.name!r} (or total_weight)",
                                       f"properties {['edge_type_id'] + edges.attribute_names}")
        else:
            need.append(p)
    return list(dict.fromkeys(need))


def _value(chunk: pd.DataFrame, prop: str) -> np.ndarray:
    if prop == "total_weight":
        w = chunk["syn_weight"].to_numpy(dtype=np.float64)
        return w * chunk["nsyns"].to_numpy(dtype=np.float64) if "nsyns" in chunk else w
    return chunk[prop].to_numpy()


def degrees(edges: EdgePopulation | str, direction: str = "in", *, network: Network | None = None,
            by_type: bool = False,
            chunk_size: int | None = None) -> pd.DataFrame:
    """In- or out-degree of every node of the edges' target (in) or source (out) population.

    Parameters
    ----------
    edges : EdgePopulation or str
        The edges (a name needs ``network``).
    direction : {'in', 'out'}
        ``in``: edges onto each target node; ``out``: edges from each source node.
    network : Network, optional
        Gives the node population, so nodes without edges count (0); else nodes ``0..max id``.
    by_type : bool
        One ``degree`` column per ``edge_type_id`` (a column MultiIndex) besides the total.
    chunk_size : int, optional
        Edges per streamed chunk.

    Returns
    -------
    DataFrame
        Index ``node_id``; columns ``degree`` (edges) and ``synapses`` (sum of ``nsyns``, when the
        edges have it); with ``by_type`` also ``degree_<type id>`` per edge type.

    Raises
    ------
    AnalysisError
        A bad direction, or edges that name nodes the population does not have.

    Examples
    --------
    >>> net = Network.load("config.simulation.json")                          # doctest: +SKIP
    >>> degrees("cortex_to_cortex", "in", network=net)["degree"].describe()  # doctest: +SKIP
    """
    edges = _edges(network, edges)
    if direction not in ("in", "out"):
        raise AnalysisError(edges.path, "direction", "'in' or 'out'", repr(direction))
    key = "target_node_id" if direction == "in" else "source_node_id"
    pop_name = edges.target if direction == "in" else edges.source
    cols = [key] + (["edge_type_id"] if by_type and _has(edges, "edge_type_id") else []) + \
        (["nsyns"] if _has(edges, "nsyns") else [])
    deg = np.zeros(0, np.int64)
    syn = np.zeros(0, np.float64)
    per_type: dict[int, np.ndarray] = {}
    for ch in edges.iter_chunks(cols, chunk_size):
        ids = ch[key].to_numpy(np.int64)
        if not len(ids):
            continue
        n = max(len(deg), int(ids.max()) + 1)
        deg = _grow(deg, n) + np.bincount(ids, minlength=n)
        if "nsyns" in ch:
            syn = _grow(syn, n) + np.bincount(ids, weights=ch["nsyns"].to_numpy(np.float64), minlength=n)
        if "edge_type_id" in ch:
            t = ch["edge_type_id"].to_numpy(np.int64)
            for tv in np.unique(t).tolist():
                m = t == tv
                per_type[tv] = _grow(per_type.get(tv, np.zeros(0, np.int64)), n) + np.bincount(ids[m], minlength=n)
    node_ids = None
    if network is not None and pop_name in network.nodes:
        pop = network.nodes[str(pop_name)]
        node_ids = pop.node_ids
        top = int(node_ids.max()) + 1 if len(node_ids) else 0
        if len(deg) > top:
            bad = np.flatnonzero(deg[top:]) + top
            raise AnalysisError(edges.path, f"/edges/{edges.name}/{key}", f"ids of the {len(node_ids)} nodes of "
                                f"{pop_name!r} ({pop.path})", f"ids {bad[:5].tolist()}")
    if node_ids is None:
        node_ids = np.arange(len(deg), dtype=np.int64)
    n = int(node_ids.max()) + 1 if len(node_ids) else 0
    data = {"degree": _grow(deg, n)[node_ids]}
    if _has(edges, "nsyns"):
        data["synapses"] = _grow(syn, n)[node_ids]
    for tv in sorted(per_type):
        data[f"degree_{tv}"] = _grow(per_type[tv], n)[node_ids]
    return pd.DataFrame(data, index=pd.Index(node_ids, name="node_id"))


def degree_histogram(edges: EdgePopulation | str, direction: str = "in", *, network: Network | None = None,
                     by_type: bool = True, chunk_size: int | None = None) -> pd.DataFrame:
    """The degree distribution: how many nodes have each in- (or out-) degree, in all and per edge type.

    Parameters
    ----------
    edges : EdgePopulation or str
        The edges (a name needs ``network``).
    direction : {'in', 'out'}
        ``in``: edges onto each node of the target population; ``out``: edges from each source node.
    network : Network, optional
        Gives the node population, so nodes without edges count at degree 0.
    by_type : bool
        Besides ``all``, one column per ``edge_type_id`` (a node's degree counting that type's edges only).
    chunk_size : int, optional
        Edges per streamed chunk.

    Returns
    -------
    DataFrame
        Index ``degree`` (0 to the largest degree, every value); columns ``all`` and, with ``by_type``, the
        edge type ids (int); values the number of nodes.  ``attrs``: ``population`` (the nodes counted),
        ``direction``, ``edges`` (the edge population's name), ``mean`` (column -> mean degree).

    Raises
    ------
    AnalysisError
        A bad direction, an unknown edge population, or edges naming nodes the population lacks.

    Examples
    --------
    >>> degree_histogram("cortex_to_cortex", "in", network=net)     # doctest: +SKIP
            all  100  101
    degree
    0         0   20    0
    ...
    """
    edges = _edges(network, edges)
    deg = degrees(edges, direction, network=network, by_type=by_type, chunk_size=chunk_size)
    cols: dict[Any, np.ndarray] = {"all": deg["degree"].to_numpy(np.int64)}
    for c in deg.columns:
        if c.startswith("degree_"):
            cols[int(c.split("_", 1)[1])] = deg[c].to_numpy(np.int64)
    top = max((int(v.max()) for v in cols.values() if len(v)), default=0)
    out = pd.DataFrame({k: np.bincount(v, minlength=top + 1) for k, v in cols.items()},
                       index=pd.Index(np.arange(top + 1), name="degree"))
    out.attrs.update({"population": str(edges.target if direction == "in" else edges.source),
                      "direction": direction, "edges": edges.name,
                      "mean": {k: float(v.mean()) if len(v) else 0.0 for k, v in cols.items()}})
    return out


def _grow(a: np.ndarray, n: int) -> np.ndarray:
    if len(a) >= n:
        return a
    out = np.zeros(n, dtype=a.dtype)
    out[: len(a)] = a
    return out


def _agg_of(columns: Any) -> dict[str, str]:
    """How to combine each partial column: sums for counts and moments, min/max for extremes."""
    return {c: (c.rsplit("|", 1)[1] if c.endswith(("|min", "|max")) else "sum") for c in columns if c != "key"}


def edge_stats(edges: EdgePopulation | str, properties: Sequence[str] = ("syn_weight", "total_weight", "delay",
               "nsyns"),
               by: str | None = "edge_type_id", *, network: Network | None = None,
               chunk_size: int | None = None) -> pd.DataFrame:
    """Count, mean, std (ddof=0), min and max of edge properties per edge type (or per ``by`` value).

    Parameters
    ----------
    edges : EdgePopulation or str
    properties : sequence of str
        Edge properties (edge-types CSV columns included) and ``total_weight`` (``syn_weight * nsyns``,
        nsyns 1 when absent).  Absent default properties are skipped; absent named ones raise.
    by : str or None
        Edge property to group by; None: all edges.
    network : Network, optional
        Needed when ``edges`` is a name.
    chunk_size : int, optional

    Returns
    -------
    DataFrame
        Index the ``by`` values; columns ``n_edges`` then a (property, statistic) MultiIndex.

    Raises
    ------
    UnknownPropertyError
        A named property or ``by`` the edges do not have.

    Examples
    --------
    >>> edge_stats(net.edges["cortex_to_cortex"], ["syn_weight", "delay"])   # pA or nS, ms   # doctest: +SKIP
    """
    edges = _edges(network, edges)
    defaults = properties == ("syn_weight", "total_weight", "delay", "nsyns")
    props = [p for p in properties if not defaults or p in _DERIVED and _has(edges, "syn_weight") or _has(edges, p)]
    cols = _columns_for(edges, props) + ([by] if by else [])
    _check_by(edges, by)
    parts = []
    for ch in edges.iter_chunks(list(dict.fromkeys(cols)), chunk_size):
        d: dict[str, Any] = {"key": ch[by].to_numpy() if by else np.zeros(len(ch), np.int64),
                             "n": np.ones(len(ch), np.int64)}
        for p in props:
            v = _value(ch, p).astype(np.float64)
            d[f"{p}|s1"], d[f"{p}|s2"], d[f"{p}|min"], d[f"{p}|max"] = v, v * v, v, v
        parts.append(pd.DataFrame(d).groupby("key", sort=True).agg(_agg_of(d)))
    if not parts:
        return pd.DataFrame({"n_edges": pd.Series(dtype=np.int64)})
    allg = pd.concat(parts)
    tot = allg.groupby(level=0, sort=True).agg(_agg_of(allg.columns))
    n = tot["n"].to_numpy(np.float64)
    out: dict[tuple[str, str], np.ndarray] = {("n_edges", ""): tot["n"].astype(np.int64).to_numpy()}
    for p in props:
        mean = tot[f"{p}|s1"].to_numpy() / n
        var = np.maximum(tot[f"{p}|s2"].to_numpy() / n - mean ** 2, 0.0)
        out[(p, "mean")] = mean
        out[(p, "std")] = np.sqrt(var)
        out[(p, "min")] = tot[f"{p}|min"].to_numpy()
        out[(p, "max")] = tot[f"{p}|max"].to_numpy()
    res = pd.DataFrame(out, index=pd.Index(tot.index.to_numpy() if by else ["all"] * len(tot), name=by or "group"))
    res.columns = pd.MultiIndex.from_tuples(list(out), names=["property", "statistic"])
    return res


def edge_histogram(edges: EdgePopulation | str, prop: str = "total_weight", bins: int | Sequence[float] = 50,
                   by: str | None = "edge_type_id", *,
                   network: Network | None = None, chunk_size: int | None = None) -> pd.DataFrame:
    """Histogram of one edge property per edge type (or per ``by`` value).

    Parameters
    ----------
    edges : EdgePopulation or str
    prop : str
        An edge property (``syn_weight``, ``delay`` ms, ...) or ``total_weight``.
    bins : int or array of float
        Number of equal bins between the smallest and largest value, or the bin edges.
    by, network, chunk_size
        As in :func:`edge_stats`: the grouping property (None: all edges), the network ``edges`` is
        named in, the edges read at a time.

    Returns
    -------
    DataFrame
        Index ``bin_start`` (with the bins' right edges in ``attrs['bin_edges']``); one column of edge
        counts per group.  Values outside explicit edges are not counted; the last bin includes its
        right edge.

    Raises
    ------
    UnknownPropertyError

    Examples
    --------
    >>> edge_histogram(net.edges["cortex_to_cortex"], "delay", bins=20)       # ms   # doctest: +SKIP
    """
    edges = _edges(network, edges)
    if np.ndim(bins) == 0:
        st = edge_stats(edges, [prop], by=None, chunk_size=chunk_size)
        lo, hi = (float(st[(prop, "min")].iloc[0]), float(st[(prop, "max")].iloc[0])) if len(st) else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        edges_arr = np.linspace(lo, hi, int(np.asarray(bins)) + 1)
    else:
        edges_arr = np.asarray(bins, dtype=np.float64)
    nb = len(edges_arr) - 1
    _check_by(edges, by)
    cols = _columns_for(edges, [prop]) + ([by] if by else [])
    counts: dict[Any, np.ndarray] = {}
    for ch in edges.iter_chunks(list(dict.fromkeys(cols)), chunk_size):
        v = _value(ch, prop).astype(np.float64)
        key = ch[by].to_numpy() if by else np.full(len(ch), "all", dtype=object)
        b = np.searchsorted(edges_arr, v, side="right") - 1
        b[v == edges_arr[-1]] = nb - 1
        ok = (b >= 0) & (b < nb)
        codes, uniq = pd.factorize(key[ok], sort=True)
        h = np.bincount(codes * nb + b[ok], minlength=len(uniq) * nb).reshape(len(uniq), nb)
        for k, u in enumerate(uniq.tolist()):
            counts[u] = counts.get(u, np.zeros(nb, np.int64)) + h[k]
    out = pd.DataFrame({k: counts[k] for k in sorted(counts)}, index=pd.Index(edges_arr[:-1], name="bin_start"))
    out.columns.name = by or "all"
    out.attrs["bin_edges"] = edges_arr
    out.attrs["property"] = prop
    return out


def connection_probability(network: Network, edges: EdgePopulation | str, bins: int | Sequence[float] = 10, *,
                           max_nodes: int = 5000, seed: int = 0,
                           chunk_size: int | None = None) -> pd.DataFrame:
    """Probability that a source node connects to a target node, in bins of soma distance.

    Parameters
    ----------
    network : Network
        Gives the node positions (µm).
    edges : EdgePopulation or str
    bins : int or array of float
        Distance bin edges (µm), or a number of equal bins from 0 to the largest pair distance.
        Bins are ``(lo, hi]``.
    max_nodes : int
        A source or target population larger than this is sampled (seeded, without replacement) to
        this many nodes; pairs and connections are both counted among the sampled nodes.
    seed : int
    chunk_size : int, optional
        Edges per streamed chunk.

    Returns
    -------
    DataFrame
        Index ``bin_start`` (µm); columns ``bin_stop`` (µm), ``n_pairs`` (ordered pairs of distinct nodes),
        ``n_connected`` (pairs with at least one edge) and ``probability`` (NaN for bins without pairs).

    Raises
    ------
    AnalysisError
        Populations without positions.

    Examples
    --------
    >>> connection_probability(net, "cortex_to_cortex", bins=[0, 50, 100, 200])   # µm   # doctest: +SKIP
    """
    from scipy.spatial import cKDTree

    e = _edges(network, edges)
    src_pop, tgt_pop = network.nodes[str(e.source)], network.nodes[str(e.target)]
    rng = np.random.default_rng(seed)
    same = e.source == e.target

    def sample(pop: Any) -> tuple[np.ndarray, np.ndarray]:
        if not pop.has_positions():
            raise AnalysisError(pop.path, f"/nodes/{pop.name}", "node positions (x, y, z) for distances",
                                "none")
        ids = pop.node_ids
        pos = pop.positions()
        rows = np.arange(len(ids))
        if len(ids) > max_nodes:
            rows = np.sort(rng.choice(len(ids), max_nodes, replace=False))
        return ids[rows], pos[rows]

    s_ids, s_pos = sample(src_pop)
    if same:
        t_ids, t_pos = s_ids, s_pos
    else:
        t_ids, t_pos = sample(tgt_pop)
    s_pos = np.nan_to_num(s_pos)
    t_pos = np.nan_to_num(t_pos)
    if np.ndim(bins) == 0:
        span = np.concatenate([s_pos, t_pos])
        far = float(np.linalg.norm(span.max(axis=0) - span.min(axis=0))) if len(span) else 1.0
        edges_arr = np.linspace(0.0, far * (1 + 1e-9) or 1.0, int(np.asarray(bins)) + 1)
    else:
        edges_arr = np.asarray(bins, dtype=np.float64)
    cum = cKDTree(s_pos).count_neighbors(cKDTree(t_pos), edges_arr).astype(np.int64)
    if same:
        cum = cum - len(s_ids)  # self pairs, at distance 0
    n_pairs = np.diff(cum)
    # connected pairs among the sampled nodes
    s_in = np.zeros(int(src_pop.node_ids.max()) + 1 if src_pop.size else 0, dtype=np.int64) - 1
    s_in[s_ids] = np.arange(len(s_ids))
    t_in = np.zeros(int(tgt_pop.node_ids.max()) + 1 if tgt_pop.size else 0, dtype=np.int64) - 1
    t_in[t_ids] = np.arange(len(t_ids))
    keys = []
    for ch in e.iter_chunks(["source_node_id", "target_node_id"], chunk_size):
        s = _lookup(s_in, ch["source_node_id"].to_numpy(np.int64))
        t = _lookup(t_in, ch["target_node_id"].to_numpy(np.int64))
        ok = (s >= 0) & (t >= 0)
        if same:
            ok &= s != t
        keys.append(np.unique(s[ok] * len(t_ids) + t[ok]))
    pairs = np.unique(np.concatenate(keys)) if keys else np.empty(0, np.int64)
    si, ti = pairs // max(len(t_ids), 1), pairs % max(len(t_ids), 1)
    d = np.linalg.norm(s_pos[si] - t_pos[ti], axis=1)
    b = np.searchsorted(edges_arr, d, side="left") - 1
    ok = (b >= 0) & (b < len(edges_arr) - 1)
    n_conn = np.bincount(b[ok], minlength=len(edges_arr) - 1)
    prob = np.divide(n_conn, n_pairs, out=np.full(len(n_pairs), np.nan), where=n_pairs > 0)
    out = pd.DataFrame({"bin_stop": edges_arr[1:], "n_pairs": n_pairs, "n_connected": n_conn, "probability": prob},
                       index=pd.Index(edges_arr[:-1], name="bin_start"))
    out.attrs.update({"n_sources": len(s_ids), "n_targets": len(t_ids), "sampled": bool(
        len(s_ids) < src_pop.size or len(t_ids) < tgt_pop.size)})
    return out


def _lookup(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``table[ids]``, -1 for ids past its end."""
    out = np.full(len(ids), -1, dtype=np.int64)
    ok = ids < len(table)
    out[ok] = table[ids[ok]]
    return out


# ---------------------------------------------------------------------- between groups, per population
def _network(network: Network | PathLike | None, config_file: PathLike | None) -> Network:
    net = resolve_network(network, config_file)
    if net is None:
        raise ConfigError(None, "network", "a network (Network, circuit/simulation config or folder) or config_file",
                          "neither")
    return net


def _edge_names(net: Network, edges: str | Sequence[str] | None) -> list[str]:
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


def connectivity_table(network: Network | PathLike | None = None, *, config_file: PathLike | None = None,
                       group_by: str = "pop_name",
                       weight: str | None = None, edges: str | Sequence[str] | None = None) -> pd.DataFrame:
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


def population_degrees(network: Network | PathLike | None = None, *, config_file: PathLike | None = None,
                       population: str | None = None,
            edges: str | Sequence[str] | None = None) -> pd.DataFrame:
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
