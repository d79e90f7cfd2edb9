"""Statistics of a :class:`~modelkit.analysis.SpikeTable` as plain functions: spike counts, firing rates, PSTH,
ISI/CV, Fano factor, binned spike counts and spike-count correlations.

Each takes a table and returns numpy or pandas; the table's methods of the same names (``st.rates()``,
``st.psth()``...) call them and document the arguments.  They use the table's node universe (every
node of its populations, each spike's row among them), its window and its grouping, and work on
integer codes with ``np.bincount`` and matrix products, never looping over spikes in Python.

Examples
--------
>>> from modelkit.analysis import spike_stats                        # doctest: +SKIP
>>> spike_stats.rates(st, by="pop_name")                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from modelkit.analysis.errors import AnalysisError, NodeIdError
from modelkit.analysis.spike_nodes import NODE_KEYS

if TYPE_CHECKING:
    from modelkit._typing import NodeIdsLike
    from modelkit.analysis.spikes import SpikeTable

__all__ = ["counts", "rates", "psth", "intervals", "isi", "fano", "binned_counts", "correlations",
           "mean_correlation"]

#: most time bins of one PSTH: a tiny bin over a long window would allocate without bound
MAX_BINS = 10**7
#: most values (groups x bins) of one PSTH table (each value is several 8-byte arrays)
MAX_PSTH_VALUES = 5 * 10**7
_MAX_CELLS = 400_000_000  # largest (nodes x bins) count matrix built for correlations

#: the grouping argument of the statistics: a key, several keys, or None (all nodes together)
GroupBy = str | Sequence[str] | None


def as_list(by: GroupBy) -> list[str]:
    """``by`` as a list of keys: None -> [], a string -> [it]."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _window_spikes(table: SpikeTable, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(node row, time (ms)) of every spike in [t0, t1], and the window mask (None when every spike is in)."""
    u = table._universe()
    m = table._in_window(t0, t1)
    if m is None:
        return u.spike_node, table.timestamps, None
    return u.spike_node[m], table.timestamps[m], m


def counts(table: SpikeTable, t_start: float | None = None, t_stop: float | None = None) -> np.ndarray:
    """Spike count of every node of ``table.nodes()`` in the window (int64).

    Parameters
    ----------
    table : SpikeTable
    t_start, t_stop : float, optional
        Window (ms); see :meth:`SpikeTable.window`.

    Returns
    -------
    ndarray of int64
    """
    t0, t1 = table.window(t_start, t_stop)
    sn, _, _ = _window_spikes(table, t0, t1)
    return np.bincount(sn, minlength=table._universe().n).astype(np.int64)


def rates(table: SpikeTable, by: GroupBy = "node", t_start: float | None = None,
          t_stop: float | None = None) -> pd.DataFrame:
    """Firing rates (Hz) per node or per group of nodes: see :meth:`SpikeTable.rates`.

    Parameters
    ----------
    table : SpikeTable
    by : str or list of str or None
        ``"node"``, ``"population"``, a node property, a list of them, or None (all nodes).
    t_start, t_stop : float, optional
        Window (ms).

    Returns
    -------
    DataFrame
        As :meth:`SpikeTable.rates`.
    """
    t0, t1 = table.window(t_start, t_stop)
    n = counts(table, t0, t1)
    rate = n / ((t1 - t0) / 1000.0)
    keys = as_list(by)
    if len(keys) == 1 and keys[0] in NODE_KEYS:
        return pd.DataFrame({"n_spikes": n, "rate": rate}, index=table.nodes())
    codes, labels = table._group_codes(keys)
    g = len(labels)
    n_nodes = np.bincount(codes, minlength=g)
    n_spk = np.bincount(codes, weights=n, minlength=g).astype(np.int64)
    mean = np.divide(np.bincount(codes, weights=rate, minlength=g), n_nodes,
                     out=np.full(g, np.nan), where=n_nodes > 0)
    dev = np.bincount(codes, weights=(rate - mean[codes]) ** 2, minlength=g) if len(codes) else np.zeros(g)
    std = np.sqrt(np.divide(dev, n_nodes - 1, out=np.full(g, np.nan), where=n_nodes > 1))
    return pd.DataFrame({"n_nodes": n_nodes, "n_spikes": n_spk, "rate": mean, "rate_std": std}, index=labels)


def _psth_edges(table: SpikeTable, bin_ms: float, t0: float, t1: float) -> np.ndarray:
    """Bin edges (ms) from ``t0`` in steps of ``bin_ms``; the last one is ``t1`` (a last bin may be shorter)."""
    if not (np.isfinite(bin_ms) and bin_ms > 0):
        raise AnalysisError(table.source, "bin_ms", "a positive bin width (ms)", repr(bin_ms))
    if not (np.isfinite(t0) and np.isfinite(t1)):
        raise AnalysisError(table.source, "time window", "finite start and stop (ms)", f"{t0!r}, {t1!r}")
    nbf = np.ceil((t1 - t0) / bin_ms - 1e-9)
    if not nbf <= MAX_BINS:
        raise AnalysisError(table.source, "bin_ms", f"at most {MAX_BINS:,} bins over the window "
                            f"{t0:g}..{t1:g} ms (a bin of at least {(t1 - t0) / MAX_BINS:g} ms)", repr(bin_ms))
    nb = int(nbf)
    edges = t0 + bin_ms * np.arange(nb + 1)
    edges[-1] = t1
    return edges


def psth(table: SpikeTable, bin_ms: float = 10.0, by: GroupBy = "population", t_start: float | None = None,
         t_stop: float | None = None, per_node: bool = True) -> pd.DataFrame:
    """Peri-stimulus time histogram, the rate of each group in time bins: :meth:`SpikeTable.psth` as a function.

    Parameters
    ----------
    table : SpikeTable
    bin_ms, by, t_start, t_stop, per_node
        As in :meth:`SpikeTable.psth` (``bin_ms``, ``t_start``, ``t_stop`` in ms).

    Returns
    -------
    DataFrame
        Index ``time`` (bin start, ms); one column per group; values in Hz.
    """
    t0, t1 = table.window(t_start, t_stop)
    edges = _psth_edges(table, bin_ms, t0, t1)
    nb = len(edges) - 1
    sn, ts, _ = _window_spikes(table, t0, t1)
    b = np.floor((ts - t0) / bin_ms).astype(np.int64)
    np.clip(b, 0, nb - 1, out=b)
    codes, labels = table._group_codes(as_list(by))
    g = len(labels)
    if g * nb > MAX_PSTH_VALUES:
        raise AnalysisError(table.source, "bin_ms", f"at most {MAX_PSTH_VALUES:,} values (groups x bins)",
                            f"{g:,} groups x {nb:,} bins")
    sc = codes[sn]
    hist = np.bincount(sc * nb + b, minlength=g * nb).reshape(g, nb)
    width_s = np.diff(edges) / 1000.0
    denom = width_s[None, :] * (np.bincount(codes, minlength=g)[:, None] if per_node else 1.0)
    vals = np.divide(hist, denom, out=np.full((g, nb), np.nan), where=denom > 0)
    return pd.DataFrame(vals.T, index=pd.Index(edges[:-1], name="time"), columns=labels)


# ---------------------------------------------------------------------- ISI, CV
def _sorted_by_node(table: SpikeTable, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    sn, ts, _ = _window_spikes(table, t0, t1)
    order = np.lexsort((ts, sn))
    return sn[order], ts[order]


def intervals(table: SpikeTable, t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
    """Every inter-spike interval: see :meth:`SpikeTable.intervals`.

    Parameters
    ----------
    table : SpikeTable
    t_start, t_stop : float, optional
        Only spikes in this window (ms) count.

    Returns
    -------
    DataFrame
        Columns ``population``, ``node_id``, ``isi`` (ms).
    """
    t0, t1 = table.window(t_start, t_stop)
    sn, ts = _sorted_by_node(table, t0, t1)
    same = sn[1:] == sn[:-1]
    owner = sn[1:][same]
    idx = table._node_index(owner)
    return pd.DataFrame({"population": idx.get_level_values(0), "node_id": idx.get_level_values(1),
                         "isi": np.diff(ts)[same]})


def isi(table: SpikeTable, t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
    """Inter-spike interval statistics and coefficient of variation per node: :meth:`SpikeTable.isi` as a function.

    Parameters
    ----------
    table : SpikeTable
    t_start, t_stop
        As in :meth:`SpikeTable.isi` (ms).

    Returns
    -------
    DataFrame
        Index (``population``, ``node_id``); columns ``n_spikes``, ``n_isi``, ``isi_mean`` (ms),
        ``isi_std`` (ms) and ``cv``.
    """
    t0, t1 = table.window(t_start, t_stop)
    sn, ts = _sorted_by_node(table, t0, t1)
    n = table._universe().n
    same = sn[1:] == sn[:-1]
    owner = sn[1:][same]
    d = np.diff(ts)[same]
    n_spk = np.bincount(sn, minlength=n)
    n_isi = np.bincount(owner, minlength=n)
    mean = np.divide(np.bincount(owner, weights=d, minlength=n), n_isi, out=np.full(n, np.nan),
                     where=n_isi > 0)
    dev = np.bincount(owner, weights=(d - mean[owner]) ** 2, minlength=n)
    std = np.sqrt(np.divide(dev, n_isi, out=np.full(n, np.nan), where=n_isi > 0))
    cv = np.divide(std, mean, out=np.full(n, np.nan), where=(n_isi > 1) & (mean > 0))
    return pd.DataFrame({"n_spikes": n_spk, "n_isi": n_isi, "isi_mean": mean, "isi_std": std, "cv": cv},
                        index=table.nodes())


# ---------------------------------------------------------------------- count statistics
def _whole_bins(table: SpikeTable, bin_ms: float, t0: float, t1: float) -> int:
    """Number of whole bins of ``bin_ms`` in [t0, t1] (a last partial bin is dropped), at least 1."""
    nb = int(np.floor((t1 - t0) / bin_ms + 1e-9)) if bin_ms > 0 else 0
    if nb < 1:
        raise AnalysisError(table.source, "bin_ms", f"a positive bin width no longer than the window "
                            f"({t1 - t0} ms)", repr(bin_ms))
    return nb


def _binned_spikes(table: SpikeTable, bin_ms: float, nb: int, t0: float,
                   t1: float) -> tuple[np.ndarray, np.ndarray]:
    """(node row, whole bin) of every spike in the ``nb`` whole bins from ``t0``."""
    t1b = t0 + nb * bin_ms
    sn, ts, _ = _window_spikes(table, t0, t1b)
    if t1b < t1:  # [t0, t1b) plus t1b itself when it is t1
        keep = ts < t1b
        sn, ts = sn[keep], ts[keep]
    return sn, np.clip(np.floor((ts - t0) / bin_ms).astype(np.int64), 0, nb - 1)


def fano(table: SpikeTable, bin_ms: float, by: GroupBy = "node", t_start: float | None = None,
         t_stop: float | None = None) -> pd.DataFrame:
    """Fano factor of spike counts in consecutive bins, variance / mean: :meth:`SpikeTable.fano` as a function.

    Parameters
    ----------
    table : SpikeTable
    bin_ms, by, t_start, t_stop
        As in :meth:`SpikeTable.fano` (``bin_ms``, ``t_start``, ``t_stop`` in ms).

    Returns
    -------
    DataFrame
        Columns ``mean_count``, ``var_count``, ``fano`` (and ``fano_node_mean`` per group).
    """
    t0, t1 = table.window(t_start, t_stop)
    nb = _whole_bins(table, bin_ms, t0, t1)
    n = table._universe().n
    sn, b = _binned_spikes(table, bin_ms, nb, t0, t1)
    # per node: sum of counts and sum of squared counts over bins, from the occupied (node, bin) pairs
    pair, c = np.unique(sn * nb + b, return_counts=True)
    pnode = pair // nb
    s1 = np.bincount(pnode, weights=c, minlength=n)
    s2 = np.bincount(pnode, weights=c.astype(np.float64) ** 2, minlength=n)
    mean = s1 / nb
    var = np.maximum(s2 / nb - mean ** 2, 0.0)
    ff = np.divide(var, mean, out=np.full(n, np.nan), where=mean > 0)
    keys = as_list(by)
    if len(keys) == 1 and keys[0] in NODE_KEYS:
        return pd.DataFrame({"mean_count": mean, "var_count": var, "fano": ff}, index=table.nodes())
    codes, labels = table._group_codes(keys)
    g = len(labels)
    gc = np.bincount(codes[sn] * nb + b, minlength=g * nb).reshape(g, nb).astype(np.float64)
    gm = gc.mean(axis=1)
    gv = gc.var(axis=1)
    gff = np.divide(gv, gm, out=np.full(g, np.nan), where=gm > 0)
    ok = ~np.isnan(ff)
    nok = np.bincount(codes[ok], minlength=g)
    fmean = np.divide(np.bincount(codes[ok], weights=ff[ok], minlength=g), nok, out=np.full(g, np.nan),
                      where=nok > 0)
    return pd.DataFrame({"mean_count": gm, "var_count": gv, "fano": gff, "fano_node_mean": fmean}, index=labels)


def _selected_rows(table: SpikeTable, population: str | None, node_ids: NodeIdsLike | None) -> np.ndarray:
    """Rows (in the table's node universe) of the selected nodes, in the order asked."""
    u = table._universe()
    names = table.populations
    if population is None:
        rows = np.arange(u.n)
        if node_ids is not None:
            if len(names) != 1:
                raise NodeIdError(table.source, "population", "a population to select node_ids in (the table "
                                  f"has {names})", "none")
            population = names[0]
    if population is not None:
        if population not in names:
            raise NodeIdError(table.source, "population", f"a population of the table ({names})",
                              repr(population))
        k = names.index(population)
        rows = np.arange(u.offsets[k], u.offsets[k + 1])
        if node_ids is not None:
            want = np.atleast_1d(np.asarray(node_ids, dtype=np.int64))
            have = u.ids[rows]
            order = np.argsort(have, kind="stable")
            pos = np.minimum(np.searchsorted(have, want, sorter=order), max(len(have) - 1, 0))
            ok = (have[order[pos]] == want) if len(have) else np.zeros(len(want), bool)
            if not ok.all():
                raise NodeIdError(table.source, f"{population}: node_ids",
                                  f"nodes of the table's population {population!r}",
                                  f"ids {want[~ok][:5].tolist()}")
            rows = rows[order[pos]]
    return rows


def _count_matrix(table: SpikeTable, rows: np.ndarray, bin_ms: float, t0: float,
                  t1: float) -> tuple[np.ndarray, np.ndarray]:
    """(counts of the nodes at ``rows`` in whole bins, (rows, bins); the bin edges in ms)."""
    nb = _whole_bins(table, bin_ms, t0, t1)
    if len(rows) * nb > _MAX_CELLS:
        raise AnalysisError(table.source, "node_ids", f"a selection of at most {_MAX_CELLS // nb:,} nodes "
                            f"for {nb:,} bins", f"{len(rows):,} nodes")
    sel = np.full(table._universe().n, -1, dtype=np.int64)
    sel[rows] = np.arange(len(rows))
    sn, b = _binned_spikes(table, bin_ms, nb, t0, t1)
    r = sel[sn]
    keep = r >= 0
    mat = np.bincount(r[keep] * nb + b[keep], minlength=len(rows) * nb).reshape(len(rows), nb)
    return mat, t0 + bin_ms * np.arange(nb + 1)


def _selected_counts(table: SpikeTable, bin_ms: float, population: str | None,
                     node_ids: NodeIdsLike | None, t_start: float | None,
                     t_stop: float | None) -> tuple[np.ndarray, np.ndarray, pd.MultiIndex]:
    """(count matrix, bin edges (ms), node index) of the selected nodes."""
    t0, t1 = table.window(t_start, t_stop)
    rows = _selected_rows(table, population, node_ids)
    mat, edges = _count_matrix(table, rows, bin_ms, t0, t1)
    return mat, edges, table._node_index(rows)


def binned_counts(table: SpikeTable, bin_ms: float, population: str | None = None,
                  node_ids: NodeIdsLike | None = None, t_start: float | None = None,
                  t_stop: float | None = None) -> pd.DataFrame:
    """Spike counts of selected nodes in time bins: :meth:`SpikeTable.binned_counts` as a function.

    Parameters
    ----------
    table : SpikeTable
    bin_ms, population, node_ids, t_start, t_stop
        As in :meth:`SpikeTable.binned_counts` (``bin_ms``, ``t_start``, ``t_stop`` in ms).

    Returns
    -------
    DataFrame
        Index (``population``, ``node_id``); columns the bin starts (ms); int64 counts.
    """
    mat, edges, idx = _selected_counts(table, bin_ms, population, node_ids, t_start, t_stop)
    return pd.DataFrame(mat, index=idx, columns=pd.Index(edges[:-1], name="time"))


def correlations(table: SpikeTable, bin_ms: float, population: str | None = None,
                 node_ids: NodeIdsLike | None = None, t_start: float | None = None,
                 t_stop: float | None = None) -> pd.DataFrame:
    """Pearson correlation of binned spike counts between selected nodes: :meth:`SpikeTable.correlations`.

    Parameters
    ----------
    table, bin_ms, population, node_ids, t_start, t_stop
        As in :func:`binned_counts`.

    Returns
    -------
    DataFrame
        Square, index and columns (``population``, ``node_id``).
    """
    mat, _, idx = _selected_counts(table, bin_ms, population, node_ids, t_start, t_stop)
    return pd.DataFrame(_corr(mat), index=idx, columns=idx)


def mean_correlation(table: SpikeTable, bin_ms: float, by: GroupBy = "population", max_nodes: int = 500,
                     seed: int = 0, t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
    """Mean pairwise spike-count correlation within each group: :meth:`SpikeTable.mean_correlation`.

    Parameters
    ----------
    table : SpikeTable
    bin_ms, by, max_nodes, seed, t_start, t_stop
        As in :meth:`SpikeTable.mean_correlation` (``bin_ms``, ``t_start``, ``t_stop`` in ms).

    Returns
    -------
    DataFrame
        Columns ``n_nodes``, ``n_sampled``, ``n_pairs``, ``mean_correlation``.
    """
    t0, t1 = table.window(t_start, t_stop)
    codes, labels = table._group_codes(as_list(by))
    rng = np.random.default_rng(seed)
    rows_out = []
    for gidx in range(len(labels)):
        members = np.flatnonzero(codes == gidx)
        sample = np.sort(rng.choice(members, max_nodes, replace=False)) if len(members) > max_nodes else members
        mat, _ = _count_matrix(table, sample, bin_ms, t0, t1)
        c = _corr(mat)
        iu = np.triu_indices(len(sample), k=1)
        vals = c[iu]
        vals = vals[~np.isnan(vals)]
        rows_out.append((len(members), len(sample), len(vals), float(vals.mean()) if len(vals) else np.nan))
    return pd.DataFrame(rows_out, columns=["n_nodes", "n_sampled", "n_pairs", "mean_correlation"], index=labels)


def _corr(mat: np.ndarray) -> np.ndarray:
    x = mat.astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    sd = np.sqrt((x * x).mean(axis=1))
    ok = sd > 0
    z = np.zeros_like(x)
    z[ok] = x[ok] / sd[ok, None]
    c = (z @ z.T) / max(x.shape[1], 1)
    c[~ok, :] = np.nan
    c[:, ~ok] = np.nan
    np.fill_diagonal(c, np.where(ok, 1.0, np.nan))
    return c
