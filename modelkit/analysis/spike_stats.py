"""Interval and count statistics of a :class:`~modelkit.analysis.SpikeTable`: ISI/CV, Fano factor,
binned spike counts and spike-count correlations.

:class:`SpikeStatistics` is a mixin of ``SpikeTable``; its methods use the table's node universe
(``_universe``), window (``window``, ``_in_window``) and grouping (``_group_codes``), and, like every
statistic of the table, work on integer codes with ``np.bincount`` and matrix products, never
looping over spikes in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit.analysis.errors import AnalysisError, NodeIdError

__all__ = ["SpikeStatistics"]

NODE_KEYS = ("node", "node_id", "node_ids")
_MAX_CELLS = 400_000_000  # largest (nodes x bins) count matrix built for correlations


def as_list(by: Any) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


class SpikeStatistics:
    """ISI, CV, Fano factors, binned counts and correlations (mixed into ``SpikeTable``)."""

    if TYPE_CHECKING:  # what SpikeTable provides (declared for the type checker only)
        _names: list[str]
        _ts: np.ndarray
        source: str | None

        def window(self, t_start: float | None = None, t_stop: float | None = None) -> tuple[float, float]: ...
        def _in_window(self, t0: float, t1: float) -> np.ndarray | None: ...
        def _universe(self) -> Any: ...
        def _node_index(self, rows: np.ndarray) -> pd.MultiIndex: ...
        def _group_codes(self, by: list[str]) -> tuple[np.ndarray, pd.Index]: ...

    # ------------------------------------------------------------------ ISI, CV
    def _sorted_by_node(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        u = self._universe()
        m = self._in_window(t0, t1)
        sn = u.spike_node if m is None else u.spike_node[m]
        ts = self._ts if m is None else self._ts[m]
        order = np.lexsort((ts, sn))
        return sn[order], ts[order]

    def intervals(self, t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
        """Every inter-spike interval: columns ``population``, ``node_id``, ``isi`` (ms).

        Parameters
        ----------
        t_start, t_stop : float, optional
            Only spikes in this window (ms) count.

        Returns
        -------
        DataFrame
            One row per interval between consecutive spikes of a node (unsorted input is sorted first).
        """
        t0, t1 = self.window(t_start, t_stop)
        sn, ts = self._sorted_by_node(t0, t1)
        same = sn[1:] == sn[:-1]
        owner = sn[1:][same]
        idx = self._node_index(owner)
        return pd.DataFrame({"population": idx.get_level_values(0), "node_id": idx.get_level_values(1),
                             "isi": np.diff(ts)[same]})

    def isi(self, t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
        """Inter-spike interval statistics and coefficient of variation per node.

        Parameters
        ----------
        t_start, t_stop : float, optional
            Window (ms).

        Returns
        -------
        DataFrame
            Index (``population``, ``node_id``); columns ``n_spikes``, ``n_isi``, ``isi_mean`` (ms),
            ``isi_std`` (ms, ddof=0) and ``cv`` (``isi_std / isi_mean``).  ``isi_mean``/``isi_std`` are NaN
            for nodes with fewer than 2 spikes; ``cv`` is NaN with fewer than 2 intervals.
        """
        t0, t1 = self.window(t_start, t_stop)
        sn, ts = self._sorted_by_node(t0, t1)
        u = self._universe()
        same = sn[1:] == sn[:-1]
        owner = sn[1:][same]
        d = np.diff(ts)[same]
        n_spk = np.bincount(sn, minlength=u.n)
        n_isi = np.bincount(owner, minlength=u.n)
        mean = np.divide(np.bincount(owner, weights=d, minlength=u.n), n_isi, out=np.full(u.n, np.nan),
                         where=n_isi > 0)
        dev = np.bincount(owner, weights=(d - mean[owner]) ** 2, minlength=u.n)
        std = np.sqrt(np.divide(dev, n_isi, out=np.full(u.n, np.nan), where=n_isi > 0))
        cv = np.divide(std, mean, out=np.full(u.n, np.nan), where=(n_isi > 1) & (mean > 0))
        return pd.DataFrame({"n_spikes": n_spk, "n_isi": n_isi, "isi_mean": mean, "isi_std": std, "cv": cv},
                            index=self._node_index(np.arange(u.n)))

    # ------------------------------------------------------------------ count statistics
    def fano(self, bin_ms: float, by: str | Sequence[str] | None = "node", t_start: float | None = None,
             t_stop: float | None = None) -> pd.DataFrame:
        """Fano factor of spike counts in consecutive bins: variance / mean (ddof=0).

        Parameters
        ----------
        bin_ms : float
            Counting window (ms).  A last bin shorter than ``bin_ms`` is dropped.
        by : str or list of str or None
            ``"node"``: each node's counts.  A group: the group's pooled count per bin (plus
            ``fano_node_mean``, the mean of its nodes' Fano factors).
        t_start, t_stop : float, optional
            Window (ms).

        Returns
        -------
        DataFrame
            Columns ``mean_count``, ``var_count``, ``fano`` (NaN where the mean is 0); per node indexed
            (``population``, ``node_id``), per group by the group values.

        Raises
        ------
        AnalysisError
            A window shorter than one bin.
        """
        t0, t1 = self.window(t_start, t_stop)
        nb = int(np.floor((t1 - t0) / bin_ms + 1e-9)) if bin_ms > 0 else 0
        if nb < 1:
            raise AnalysisError(self.source, "bin_ms", f"a positive bin width no longer than the window "
                                f"({t1 - t0} ms)", repr(bin_ms))
        t1b = t0 + nb * bin_ms
        edges = t0 + bin_ms * np.arange(nb + 1)
        u = self._universe()
        m = self._in_window(t0, t1b)
        ts = self._ts if m is None else self._ts[m]
        sn = u.spike_node if m is None else u.spike_node[m]
        keep = ts < t1b if t1b < t1 else np.ones(len(ts), bool)  # [t0, t1b) plus t1b itself when it is t1
        ts, sn = ts[keep], sn[keep]
        b = np.clip(np.floor((ts - t0) / bin_ms).astype(np.int64), 0, nb - 1)
        del edges
        # per node: sum of counts and sum of squared counts over bins, from the occupied (node, bin) pairs
        pair, c = np.unique(sn * nb + b, return_counts=True)
        pnode = pair // nb
        s1 = np.bincount(pnode, weights=c, minlength=u.n)
        s2 = np.bincount(pnode, weights=c.astype(np.float64) ** 2, minlength=u.n)
        mean = s1 / nb
        var = np.maximum(s2 / nb - mean ** 2, 0.0)
        ff = np.divide(var, mean, out=np.full(u.n, np.nan), where=mean > 0)
        keys = as_list(by)
        if len(keys) == 1 and keys[0] in NODE_KEYS:
            return pd.DataFrame({"mean_count": mean, "var_count": var, "fano": ff},
                                index=self._node_index(np.arange(u.n)))
        codes, labels = self._group_codes(keys)
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

    def _selected_rows(self, population: str | None, node_ids: Any) -> np.ndarray:
        u = self._universe()
        if population is None:
            rows = np.arange(u.n)
            if node_ids is not None:
                if len(self._names) != 1:
                    raise NodeIdError(self.source, "population", "a population to select node_ids in (the table "
                                      f"has {self._names})", "none")
                population = self._names[0]
        if population is not None:
            if population not in self._names:
                raise NodeIdError(self.source, "population", f"a population of the table ({self._names})",
                                  repr(population))
            k = self._names.index(population)
            rows = np.arange(u.offsets[k], u.offsets[k + 1])
            if node_ids is not None:
                want = np.atleast_1d(np.asarray(node_ids, dtype=np.int64))
                have = u.ids[rows]
                order = np.argsort(have, kind="stable")
                pos = np.minimum(np.searchsorted(have, want, sorter=order), max(len(have) - 1, 0))
                ok = (have[order[pos]] == want) if len(have) else np.zeros(len(want), bool)
                if not ok.all():
                    raise NodeIdError(self.source, f"{population}: node_ids",
                                      f"nodes of the table's population {population!r}",
                                      f"ids {want[~ok][:5].tolist()}")
                rows = rows[order[pos]]
        return rows

    def binned_counts(self, bin_ms: float, population: str | None = None, node_ids: Any = None,
                      t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
        """Spike counts of selected nodes in time bins (a last partial bin is dropped).

        Parameters
        ----------
        bin_ms : float
            Bin width (ms).
        population : str, optional
            Restrict to a population (needed with ``node_ids`` when the table has several).
        node_ids : array of int, optional
            Nodes, in the order wanted; all nodes of the table (or population) when omitted.
        t_start, t_stop : float, optional
            Window (ms).

        Returns
        -------
        DataFrame
            Index (``population``, ``node_id``); columns the bin starts (ms); int64 counts.

        Raises
        ------
        NodeIdError
            Nodes not in the table.
        AnalysisError
            More than 4e8 cells, or a window shorter than one bin.
        """
        t0, t1 = self.window(t_start, t_stop)
        rows = self._selected_rows(population, node_ids)
        mat, edges = self._count_matrix(rows, bin_ms, t0, t1)
        return pd.DataFrame(mat, index=self._node_index(rows), columns=pd.Index(edges[:-1], name="time"))

    def _count_matrix(self, rows: np.ndarray, bin_ms: float, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        nb = int(np.floor((t1 - t0) / bin_ms + 1e-9)) if bin_ms > 0 else 0
        if nb < 1:
            raise AnalysisError(self.source, "bin_ms", f"a positive bin width no longer than the window "
                                f"({t1 - t0} ms)", repr(bin_ms))
        if len(rows) * nb > _MAX_CELLS:
            raise AnalysisError(self.source, "node_ids", f"a selection of at most {_MAX_CELLS // nb:,} nodes "
                                f"for {nb:,} bins", f"{len(rows):,} nodes")
        u = self._universe()
        t1b = t0 + nb * bin_ms
        sel = np.full(u.n, -1, dtype=np.int64)
        sel[rows] = np.arange(len(rows))
        m = self._in_window(t0, t1b)
        ts = self._ts if m is None else self._ts[m]
        r = sel[u.spike_node if m is None else u.spike_node[m]]
        keep = (r >= 0) & ((ts < t1b) if t1b < t1 else True)
        b = np.clip(np.floor((ts[keep] - t0) / bin_ms).astype(np.int64), 0, nb - 1)
        mat = np.bincount(r[keep] * nb + b, minlength=len(rows) * nb).reshape(len(rows), nb)
        return mat, t0 + bin_ms * np.arange(nb + 1)

    def correlations(self, bin_ms: float, population: str | None = None, node_ids: Any = None,
                     t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
        """Pearson correlation of binned spike counts between every pair of selected nodes.

        Parameters
        ----------
        bin_ms : float
            Counting bin (ms).
        population, node_ids, t_start, t_stop
            As in :meth:`binned_counts`.

        Returns
        -------
        DataFrame
            Square, index and columns (``population``, ``node_id``); NaN rows/columns for nodes whose
            count never varies (silent nodes); 1 on the diagonal otherwise.

        Raises
        ------
        NodeIdError, AnalysisError
        """
        t0, t1 = self.window(t_start, t_stop)
        rows = self._selected_rows(population, node_ids)
        mat, _ = self._count_matrix(rows, bin_ms, t0, t1)
        idx = self._node_index(rows)
        return pd.DataFrame(_corr(mat), index=idx, columns=idx)

    def mean_correlation(self, bin_ms: float, by: str | Sequence[str] | None = "population",
                         max_nodes: int = 500, seed: int = 0, t_start: float | None = None,
                         t_stop: float | None = None) -> pd.DataFrame:
        """Mean pairwise spike-count correlation within each group.

        Parameters
        ----------
        bin_ms : float
            Counting bin (ms).
        by : str or list of str or None
            Groups (``population``, a node property, a list); None: all nodes.
        max_nodes : int
            Groups larger than this are sampled (seeded, without replacement) to this many nodes.
        seed : int
            Seed of the sampling.
        t_start, t_stop : float, optional
            Window (ms).

        Returns
        -------
        DataFrame
            Index the groups; columns ``n_nodes``, ``n_sampled``, ``n_pairs`` (pairs of nodes whose counts
            vary, the ones averaged) and ``mean_correlation`` (NaN without pairs).
        """
        t0, t1 = self.window(t_start, t_stop)
        codes, labels = self._group_codes(as_list(by))
        rng = np.random.default_rng(seed)
        rows_out = []
        for gidx in range(len(labels)):
            members = np.flatnonzero(codes == gidx)
            sample = np.sort(rng.choice(members, max_nodes, replace=False)) if len(members) > max_nodes else members
            mat, _ = self._count_matrix(sample, bin_ms, t0, t1)
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
