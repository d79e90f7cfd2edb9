"""Spike tables and their statistics: rates, PSTH, and (from :mod:`~modelkit.analysis.spike_stats`) ISI/CV,
Fano factor, spike-count correlations.

A :class:`SpikeTable` holds the spikes of one run as numpy columns (``population``, ``node_ids``,
``timestamps`` in ms), optionally with the :class:`~modelkit.sonata.Network` they came from and the
simulated window.  Every statistic is a method returning a pandas object; none loops over spikes in
Python (per node and per group work is ``np.bincount`` over integer codes), so 10^7 spikes aggregate
in a fraction of a second.

Nodes
    The *nodes* of a population are all its nodes when the network is known (so nodes that never fire
    count, with 0 Hz), else the nodes that fire at least once in the table.  Per-node results are
    indexed by ``(population, node_id)``.
Grouping (``by=``)
    ``"node"`` (per node), ``"population"``, any node property of the network (``pop_name``, ``ei``,
    ``model_template``, ``node_type_id``: node-types CSV columns included), or a list of these.
Window
    ``t_start``/``t_stop`` (ms) given to a method win; else the table's own (a config's ``run``
    ``tstart``/``tstop``, or given at construction); else 0 (or the first spike, if earlier) to the last
    spike.  Spikes with ``t_start <= t <= t_stop`` count.

Examples
--------
>>> st = SpikeTable.from_config("config.simulation.json")          # doctest: +SKIP
>>> st.rates(by="pop_name")                                          # doctest: +SKIP
>>> st.psth(bin_ms=10.0, by="ei")                                    # doctest: +SKIP
>>> st.join(["pop_name", "ei"])                                      # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelkit.analysis.errors import AnalysisError, NodeIdError, UnknownPropertyError
from modelkit.analysis.spike_stats import NODE_KEYS, SpikeStatistics, as_list

__all__ = ["SpikeTable"]

#: most time bins of one PSTH: a tiny bin over a long window would allocate without bound
MAX_BINS = 10**7
#: most values (groups x bins) of one PSTH table (each value is several 8-byte arrays)
MAX_PSTH_VALUES = 5 * 10**7
UNNAMED = "unnamed"  #: population name given to spikes whose file names none (legacy layout, bare CSV)


class _Universe:
    """The nodes of a table, concatenated over populations, and each spike's row among them."""

    def __init__(self, pop: np.ndarray, ids: np.ndarray, offsets: np.ndarray, spike_node: np.ndarray):
        self.pop = pop                # population index of each node
        self.ids = ids                # node id of each node
        self.offsets = offsets        # nodes of population k are rows offsets[k]:offsets[k+1]
        self.spike_node = spike_node  # row of each spike's node

    @property
    def n(self) -> int:
        return len(self.ids)


class SpikeTable(SpikeStatistics):
    """The spikes of a simulation as columns, with the network to join node properties from.

    Build one with :meth:`read` (a SONATA h5, bmtk CSV or NWB file), :meth:`from_config` (a simulation
    config: its output spikes, its circuit and its ``run`` window), :meth:`from_frame` (a DataFrame or
    dict) or :meth:`load` (any of these).  The constructor only stores.

    Parameters
    ----------
    names : sequence of str
        Population names, in order.
    bounds : array of int, length len(names) + 1
        Spikes of population ``k`` are ``node_ids[bounds[k]:bounds[k+1]]``.
    node_ids : array of int64
    timestamps : array of float64
        Spike times (ms).
    network : Network, optional
        Where node properties and the full node lists come from.
    t_start, t_stop : float, optional
        Default window (ms).
    source : str, optional
        The spikes file (named in errors).

    Attributes
    ----------
    network : Network or None
    t_start, t_stop : float or None
        The default window (ms).
    source : str or None
    """

    def __init__(self, names: Sequence[str], bounds: Any, node_ids: Any, timestamps: Any, *,
                 network: Any = None, t_start: float | None = None, t_stop: float | None = None,
                 source: str | None = None) -> None:
        self._names = [str(n) for n in names]
        self._bounds = np.asarray(bounds, dtype=np.int64)
        self._ids = np.asarray(node_ids, dtype=np.int64)
        self._ts = np.asarray(timestamps, dtype=np.float64)
        self.network = network
        self.t_start = None if t_start is None else float(t_start)
        self.t_stop = None if t_stop is None else float(t_stop)
        self.source = source
        self._uni: _Universe | None = None
        self._labels: dict[str, np.ndarray] = {}
        self._frame: pd.DataFrame | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_parts(cls, parts: Mapping[Any, Any], **kw: Any) -> "SpikeTable":
        """A table from ``{population: (node_ids, timestamps_ms)}`` (SpikePopulation values work too).

        Parameters
        ----------
        parts : mapping
            Population name (None: see ``UNNAMED``) -> (node ids, spike times in ms), or a
            :class:`~modelkit.sonata.SpikePopulation`.
        **kw
            ``network``, ``t_start``, ``t_stop``, ``source`` as in the constructor.

        Returns
        -------
        SpikeTable

        Raises
        ------
        AnalysisError
            Node ids and times of different lengths, or negative/non-integer ids.
        """
        network = kw.get("network")
        names: list[str] = []
        ids: list[np.ndarray] = []
        ts: list[np.ndarray] = []
        for name, v in parts.items():
            a, t = (v.node_ids, v.timestamps) if hasattr(v, "node_ids") else v
            a = np.asarray(a)
            t = np.asarray(t, dtype=np.float64)
            label = _name(name, network)
            if a.shape != t.shape or a.ndim != 1:
                raise AnalysisError(kw.get("source"), f"population {label!r}",
                                    "1-D node_ids and timestamps of equal length", f"shapes {a.shape}, {t.shape}")
            if a.size and (a.dtype.kind not in "iu" or a.min() < 0):
                if a.dtype.kind == "f" and np.all(a == np.floor(a)) and a.min() >= 0:
                    a = a.astype(np.int64)
                else:
                    raise AnalysisError(kw.get("source"), f"population {label!r}: node_ids",
                                        "non-negative integer node ids", f"dtype {a.dtype}, min {a.min()}")
            if label in names:  # e.g. None and the network's only population
                k = names.index(label)
                ids[k] = np.concatenate([ids[k], a.astype(np.int64)])
                ts[k] = np.concatenate([ts[k], t])
                continue
            names.append(label)
            ids.append(a.astype(np.int64, copy=False))
            ts.append(t)
        bounds = np.concatenate(([0], np.cumsum([len(a) for a in ids]))).astype(np.int64)
        if len(ids) == 1:  # no copy
            cat_ids, cat_ts = ids[0], ts[0]
        else:
            cat_ids = np.concatenate(ids) if ids else np.empty(0, np.int64)
            cat_ts = np.concatenate(ts) if ts else np.empty(0)
        return cls(names, bounds, cat_ids, cat_ts, **kw)

    @classmethod
    def read(cls, path: Any, *, network: Any = None, population: str | None = None,
             t_start: float | None = None, t_stop: float | None = None) -> "SpikeTable":
        """Read a spikes file: SONATA HDF5 (any layout), bmtk CSV, or NWB (units table).

        Parameters
        ----------
        path : str or PathLike
        network : Network, optional
            To join node properties and count silent nodes; node ids are checked against it.
        population : str, optional
            Keep only this population.
        t_start, t_stop : float, optional
            The default window (ms); ``t_stop`` defaults to a stopped run's ``/spikes@stop_time``.

        Returns
        -------
        SpikeTable

        Raises
        ------
        SonataFormatError
            An unreadable spikes file.
        NodeIdError
            Spikes of a population or node the network does not have.
        """
        from modelkit.sonata import read_spikes, spikes_stop_time
        p = os.fspath(path)
        t_stop = spikes_stop_time(p) if t_stop is None else t_stop  # a run that ended early: ends at its stop
        table = cls.from_parts(read_spikes(p, population), network=network, t_start=t_start, t_stop=t_stop,
                               source=p)
        if network is not None:
            table._universe()  # check the ids now
        return table

    @classmethod
    def from_config(cls, config_file: Any, *, population: str | None = None) -> "SpikeTable":
        """The output spikes of a simulation config, with its circuit and its ``run`` window.

        Node populations of the circuit that are not virtual (``model_type`` other than ``virtual``)
        are part of the table even when they never fire, so their nodes count with 0 Hz.

        Parameters
        ----------
        config_file : str or PathLike
            A SONATA simulation config.
        population : str, optional
            Keep only this population.

        Returns
        -------
        SpikeTable

        Raises
        ------
        AnalysisError
            Not a simulation config, or no spikes file at ``output.spikes_file`` (nor ``spikes_file_csv``).
        NodeIdError
            The spikes name nodes the circuit does not have.
        """
        from modelkit.sonata import Network, SimulationConfig, load_config
        cfg = load_config(config_file)
        cpath = os.fspath(config_file)
        if not isinstance(cfg, SimulationConfig):
            raise AnalysisError(cpath, "output.spikes_file", "a simulation config (with run and output)",
                                "a circuit config")
        cands = [c for c in (cfg.output.spikes_file, cfg.output.spikes_file_csv) if c]
        found = next((c for c in cands if os.path.isfile(c)), None)
        if found is None:
            raise AnalysisError(cpath, "output.spikes_file", "an existing spikes file (has the simulation run?)",
                                ", ".join(cands) or "none configured")
        net = Network.from_config(cfg)
        table = cls.read(found, network=net, population=population, t_start=cfg.run.tstart, t_stop=cfg.run.tstop)
        if population is None:
            silent = [n for n in net.nodes if n not in table._names and not _is_virtual(net.nodes[n])]
            if silent:
                table = table._with_populations(silent)
        return table

    @classmethod
    def from_frame(cls, frame: Any, *, network: Any = None, t_start: float | None = None,
                   t_stop: float | None = None, source: str | None = None) -> "SpikeTable":
        """A table from a DataFrame (or dict of columns) with ``node_ids`` and ``timestamps`` (ms).

        Parameters
        ----------
        frame : DataFrame or mapping of columns
            ``node_ids`` (or ``node_id``), ``timestamps`` (ms) and optionally ``population``
            (spikes without one belong to population ``"all"``, or to the network's only population).
        network, t_start, t_stop, source
            As in the constructor.

        Returns
        -------
        SpikeTable

        Raises
        ------
        AnalysisError
            Missing columns.
        """
        df = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(dict(frame))
        idcol = next((c for c in ("node_ids", "node_id", "gids") if c in df.columns), None)
        if idcol is None or "timestamps" not in df.columns:
            raise AnalysisError(source, "columns", "node_ids (or node_id) and timestamps (ms)",
                                f"columns {list(df.columns)}")
        ids = df[idcol].to_numpy()
        ts = df["timestamps"].to_numpy(dtype=np.float64)
        if "population" not in df.columns:
            only = list(network.nodes) if network is not None else []
            return cls.from_parts({only[0] if len(only) == 1 else "all": (ids, ts)}, network=network,
                                  t_start=t_start, t_stop=t_stop, source=source)
        codes, names = pd.factorize(df["population"], sort=False, use_na_sentinel=False)
        codes = np.asarray(codes)
        order = np.argsort(codes, kind="stable")
        sc = codes[order]
        parts = {}
        cuts = np.searchsorted(sc, np.arange(len(names) + 1))
        for k, nm in enumerate(names):
            sl = order[cuts[k]:cuts[k + 1]]
            parts[nm] = (ids[sl], ts[sl])
        return cls.from_parts(parts, network=network, t_start=t_start, t_stop=t_stop, source=source)

    @classmethod
    def load(cls, spikes: Any = None, *, config_file: Any = None, network: Any = None,
             population: str | None = None, t_start: float | None = None,
             t_stop: float | None = None) -> "SpikeTable":
        """A table from whatever holds spikes: a file, a config, a DataFrame, a dict, a run result.

        Parameters
        ----------
        spikes : str, PathLike, DataFrame, dict, SpikeTable or run result, optional
            A spikes file; a table with ``node_ids``/``timestamps`` columns; ``read_spikes``' dict or
            ``{population: (node_ids, timestamps_ms)}``; anything with a ``spikes_file`` attribute.
        config_file : str or PathLike, optional
            A simulation config: spikes from its output (unless ``spikes`` is given), network and
            window from it.
        network : Network, optional
            Overrides the config's.
        population : str, optional
            Keep only this population.
        t_start, t_stop : float, optional
            Default window (ms); overrides the config's.

        Returns
        -------
        SpikeTable

        Raises
        ------
        AnalysisError
            Neither spikes nor a config, or an unsupported object.
        """
        if spikes is None and config_file is None:
            raise AnalysisError(None, "spikes", "spikes (a file, table or run result) or config_file", "neither")
        if spikes is None:
            table = cls.from_config(config_file, population=population)
        else:
            if config_file is not None and network is None:
                from modelkit.sonata import Network, SimulationConfig, load_config
                cfg = load_config(config_file)
                network = Network.from_config(cfg)
                if isinstance(cfg, SimulationConfig):
                    t_start = cfg.run.tstart if t_start is None else t_start
                    t_stop = cfg.run.tstop if t_stop is None else t_stop
            if isinstance(spikes, SpikeTable):
                table = spikes if population is None else spikes.select(population=population)
                if network is not None:
                    table = table._replace(network=network)
            else:
                if hasattr(spikes, "spikes_file") and not isinstance(spikes, (str, os.PathLike)):
                    spikes = spikes.spikes_file
                if isinstance(spikes, (str, os.PathLike)):
                    table = cls.read(spikes, network=network, population=population)
                elif isinstance(spikes, pd.DataFrame):
                    table = cls.from_frame(spikes, network=network)
                elif isinstance(spikes, Mapping):
                    vals = list(spikes.values())
                    if vals and all(hasattr(v, "node_ids") or isinstance(v, tuple) for v in vals):
                        table = cls.from_parts(spikes, network=network)
                    else:
                        table = cls.from_frame(spikes, network=network)
                else:
                    raise AnalysisError(None, "spikes", "a spikes file, DataFrame, dict, SpikeTable or run result",
                                        type(spikes).__name__)
                if population is not None and not isinstance(spikes, (str, os.PathLike)):
                    table = table.select(population=population)
        if t_start is not None or t_stop is not None:
            table = table._replace(t_start=table.t_start if t_start is None else t_start,
                                   t_stop=table.t_stop if t_stop is None else t_stop)
        if table.network is not None:
            table._universe()
        return table

    def _replace(self, **kw: Any) -> "SpikeTable":
        args = dict(network=self.network, t_start=self.t_start, t_stop=self.t_stop, source=self.source)
        args.update(kw)
        return SpikeTable(self._names, self._bounds, self._ids, self._ts, **args)

    def _with_populations(self, names: list[str]) -> "SpikeTable":
        """The same spikes, with more (silent) populations."""
        new = [n for n in names if n not in self._names]
        bounds = np.concatenate((self._bounds, np.full(len(new), self._bounds[-1])))
        return SpikeTable(self._names + new, bounds, self._ids, self._ts, network=self.network,
                          t_start=self.t_start, t_stop=self.t_stop, source=self.source)

    # ------------------------------------------------------------------ basics
    @property
    def populations(self) -> list[str]:
        """Population names (including silent ones the table knows of)."""
        return list(self._names)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def node_ids(self) -> np.ndarray:
        """Node id of every spike (int64), population by population."""
        return self._ids

    @property
    def timestamps(self) -> np.ndarray:
        """Time of every spike (ms), population by population."""
        return self._ts

    def population_codes(self) -> np.ndarray:
        """Index into :attr:`populations` of every spike's population (int32)."""
        counts = np.diff(self._bounds)
        return np.repeat(np.arange(len(self._names), dtype=np.int32), counts)

    @property
    def frame(self) -> pd.DataFrame:
        """The spikes as a DataFrame: ``population`` (categorical), ``node_ids`` (int64), ``timestamps`` (ms).

        Built once and cached; do not modify it in place.
        """
        if self._frame is None:
            pop = pd.Categorical.from_codes(self.population_codes(), categories=pd.Index(self._names, dtype=object))
            self._frame = pd.DataFrame({"population": pop, "node_ids": self._ids, "timestamps": self._ts})
        return self._frame

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`frame`."""
        return self.frame.copy()

    def __repr__(self) -> str:
        pops = ", ".join(f"{n} ({int(self._bounds[k + 1] - self._bounds[k]):,})" for k, n in enumerate(self._names))
        win = f", window [{self.t_start}, {self.t_stop}] ms" if self.t_start is not None else ""
        return f"<SpikeTable {len(self):,} spikes: {pops or 'no populations'}{win}>"

    def window(self, t_start: float | None = None, t_stop: float | None = None) -> tuple[float, float]:
        """The window (ms) a statistic uses: the arguments, else the table's, else 0 (or earlier) to the last spike.

        Returns
        -------
        (float, float)

        Raises
        ------
        AnalysisError
            No window can be made (no spikes and none given), or ``t_stop <= t_start``.
        """
        t0 = t_start if t_start is not None else self.t_start
        t1 = t_stop if t_stop is not None else self.t_stop
        if t0 is None:
            t0 = min(0.0, float(self._ts.min())) if len(self._ts) else 0.0
        if t1 is None:
            if not len(self._ts):
                raise AnalysisError(self.source, "t_stop", "an explicit window (t_stop, ms) for a table without spikes",
                                    "none")
            t1 = float(self._ts.max())
        t0, t1 = float(t0), float(t1)
        if not (np.isfinite(t0) and np.isfinite(t1)) or t1 <= t0:
            raise AnalysisError(self.source, "t_stop", f"a finite window with t_stop > t_start ({t0} ms)", str(t1))
        return t0, t1

    def _in_window(self, t0: float, t1: float) -> np.ndarray | None:
        """Mask of spikes in [t0, t1], or None when every spike is."""
        if not len(self._ts):
            return None
        if self._ts.min() >= t0 and self._ts.max() <= t1:
            return None
        return (self._ts >= t0) & (self._ts <= t1)

    # ------------------------------------------------------------------ nodes
    def _universe(self) -> _Universe:
        if self._uni is None:
            pops, ids, rows_all = [], [], []
            off = 0
            offsets = [0]
            for k, name in enumerate(self._names):
                a, b = int(self._bounds[k]), int(self._bounds[k + 1])
                nodes, rows = self._population_nodes(name, self._ids[a:b])
                if off:
                    rows = rows + off
                rows_all.append(rows)
                ids.append(nodes)
                pops.append(np.full(len(nodes), k, dtype=np.int32))
                off += len(nodes)
                offsets.append(off)
            spike_node = rows_all[0] if len(rows_all) == 1 else (
                np.concatenate(rows_all) if rows_all else np.empty(0, np.int64))
            self._uni = _Universe(np.concatenate(pops) if pops else np.empty(0, np.int32),
                                  np.concatenate(ids) if ids else np.empty(0, np.int64),
                                  np.asarray(offsets, dtype=np.int64), spike_node)
        return self._uni

    def _population_nodes(self, name: str, sids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(node ids of the population, row of each spike's node among them)."""
        if self.network is not None:
            if name not in self.network.nodes:
                raise NodeIdError(self.source, f"/spikes/{name}",
                                  f"a node population of the network ({sorted(self.network.nodes)})", repr(name))
            pop = self.network.nodes[name]
            nodes = pop.node_ids
            if pop.layout.ids is None:
                rows = sids
                bad = (sids < 0) | (sids >= len(nodes))
            else:
                order = np.argsort(nodes, kind="stable")
                k = np.minimum(np.searchsorted(nodes, sids, sorter=order), max(len(nodes) - 1, 0))
                rows = order[k] if len(nodes) else np.zeros(len(sids), np.int64)
                bad = nodes[rows] != sids if len(nodes) else np.ones(len(sids), bool)
            if bad.any():
                wrong = np.unique(sids[bad])
                raise NodeIdError(self.source, f"/spikes/{name}/node_ids",
                                  f"ids of the {len(nodes)} nodes of population {name!r} in {pop.path}",
                                  f"{len(wrong)} unknown ids, e.g. {wrong[:5].tolist()}")
            return nodes, rows.astype(np.int64, copy=False)
        if not len(sids):
            return np.empty(0, np.int64), np.empty(0, np.int64)
        top = int(sids.max())
        if top < 4 * len(sids) + 1_000_000:  # dense ids: a bincount is O(n)
            present = np.bincount(sids, minlength=top + 1) > 0
            rank = np.cumsum(present) - 1
            return np.flatnonzero(present).astype(np.int64), rank[sids]
        nodes, rows = np.unique(sids, return_inverse=True)
        return nodes, rows.astype(np.int64)

    def nodes(self) -> pd.MultiIndex:
        """Every node of the table (see the module docstring), as a ``(population, node_id)`` index."""
        u = self._universe()
        return self._node_index(np.arange(u.n))

    def _node_index(self, rows: np.ndarray) -> pd.MultiIndex:
        u = self._universe()
        pop = pd.Categorical.from_codes(u.pop[rows], categories=pd.Index(self._names, dtype=object))
        return pd.MultiIndex.from_arrays([pop, u.ids[rows]], names=["population", "node_id"])

    def node_labels(self, by: str) -> np.ndarray:
        """Value of ``by`` (``population``, ``node_id`` or a node property) for every node of :meth:`nodes`.

        Raises
        ------
        UnknownPropertyError
            ``by`` is not a property of every population (or there is no network to read it from).
        """
        if by in self._labels:
            return self._labels[by]
        u = self._universe()
        if by == "population":
            out = np.asarray(self._names, dtype=object)[u.pop] if u.n else np.empty(0, dtype=object)
        elif by in NODE_KEYS:
            out = u.ids
        else:
            if self.network is None:
                raise UnknownPropertyError(self.source, by, "'population' or 'node_id' (node properties need the "
                                           "network: pass network= or use SpikeTable.from_config)", repr(by))
            parts = []
            for name in self._names:
                pop = self.network.nodes[name]
                if by != "node_type_id" and by not in pop.attribute_names:
                    raise UnknownPropertyError(pop.path, by, f"a node property of population {name!r}, or "
                                               "'population'/'node_id'",
                                               f"properties {['node_type_id'] + pop.attribute_names}")
                parts.append(pop.column(by))
            out = _concat_labels(parts)
        self._labels[by] = out
        return out

    def _group_codes(self, by: list[str]) -> tuple[np.ndarray, pd.Index]:
        """Group index of every node and the group labels (an Index, a MultiIndex for several keys)."""
        if not by:
            u = self._universe()
            return np.zeros(u.n, dtype=np.int64), pd.Index(["all"], name="group")
        cols = [self.node_labels(b) for b in by]
        if len(cols) == 1:
            codes, uniq = _factorize(cols[0])
            return codes, pd.Index(uniq, name=by[0])
        mi = pd.MultiIndex.from_arrays(cols, names=by)
        codes, uniq = mi.factorize(sort=True) if _sortable(cols) else mi.factorize()
        return np.asarray(codes, dtype=np.int64), pd.MultiIndex.from_tuples(list(uniq), names=by)

    # ------------------------------------------------------------------ selection and joins
    def select(self, population: str | Sequence[str] | None = None, node_ids: Any = None,
               t_start: float | None = None, t_stop: float | None = None) -> "SpikeTable":
        """The spikes of some populations / nodes / times, as a new table (network and window kept).

        Parameters
        ----------
        population : str or list of str, optional
        node_ids : array of int, optional
            Node ids (in every selected population).
        t_start, t_stop : float, optional
            Keep spikes in [t_start, t_stop] ms; the new table's window becomes that.

        Returns
        -------
        SpikeTable

        Raises
        ------
        NodeIdError
            An unknown population.
        """
        keep_pops = self._names if population is None else as_list(population)
        unknown = [p for p in keep_pops if p not in self._names]
        if unknown:
            raise NodeIdError(self.source, "population", f"populations of the table ({self._names})", str(unknown))
        parts = {}
        ids_sel = None if node_ids is None else np.unique(np.asarray(node_ids, dtype=np.int64))
        for name in keep_pops:
            k = self._names.index(name)
            a, b = int(self._bounds[k]), int(self._bounds[k + 1])
            ids, ts = self._ids[a:b], self._ts[a:b]
            m = np.ones(len(ids), dtype=bool)
            if ids_sel is not None:
                m &= np.isin(ids, ids_sel)
            if t_start is not None:
                m &= ts >= t_start
            if t_stop is not None:
                m &= ts <= t_stop
            parts[name] = (ids[m], ts[m]) if not m.all() else (ids, ts)
        return SpikeTable.from_parts(parts, network=self.network, source=self.source,
                                     t_start=self.t_start if t_start is None else t_start,
                                     t_stop=self.t_stop if t_stop is None else t_stop)

    def join(self, properties: str | Sequence[str]) -> pd.DataFrame:
        """The spikes with node properties as extra columns (one row per spike).

        Parameters
        ----------
        properties : str or list of str
            Node properties (``pop_name``, ``ei``, ``node_type_id``, ``x``...; node-types CSV columns too).
            String properties come back as categoricals.

        Returns
        -------
        DataFrame
            ``population``, ``node_ids``, ``timestamps`` (ms), then the properties.

        Raises
        ------
        UnknownPropertyError
            A property that a population lacks, or no network.
        """
        df = self.frame.copy()
        u = self._universe()
        for prop in as_list(properties):
            if prop in ("population", "node_ids", "timestamps"):
                continue
            lab = self.node_labels(prop)
            if lab.dtype == object:
                codes, uniq = _factorize(lab)
                df[prop] = pd.Categorical.from_codes(codes[u.spike_node], categories=pd.Index(uniq, dtype=object)) \
                    if not pd.isna(uniq).any() else pd.Series(lab[u.spike_node], dtype=object)
            else:
                df[prop] = lab[u.spike_node]
        return df

    # ------------------------------------------------------------------ rates
    def counts(self, t_start: float | None = None, t_stop: float | None = None) -> np.ndarray:
        """Spike count of every node of :meth:`nodes` in the window (int64)."""
        t0, t1 = self.window(t_start, t_stop)
        u = self._universe()
        m = self._in_window(t0, t1)
        sn = u.spike_node if m is None else u.spike_node[m]
        return np.bincount(sn, minlength=u.n).astype(np.int64)

    def rates(self, by: str | Sequence[str] | None = "node", t_start: float | None = None,
              t_stop: float | None = None) -> pd.DataFrame:
        """Firing rates (Hz) per node or per group of nodes.

        Parameters
        ----------
        by : str or list of str or None
            ``"node"`` (default): one row per node.  ``"population"``, a node property, or a list of them:
            one row per group.  None: one row for all nodes.
        t_start, t_stop : float, optional
            Window (ms); see the module docstring.

        Returns
        -------
        DataFrame
            Per node: index (``population``, ``node_id``), columns ``n_spikes`` and ``rate`` (Hz).
            Per group: index the group values, columns ``n_nodes``, ``n_spikes``, ``rate`` (mean over the
            group's nodes, Hz) and ``rate_std`` (their standard deviation, ddof=1, Hz).

        Raises
        ------
        UnknownPropertyError
            ``by`` names no node property.
        AnalysisError
            An empty window.

        Examples
        --------
        >>> st.rates(by=["population", "ei"], t_start=500.0)   # doctest: +SKIP
        """
        t0, t1 = self.window(t_start, t_stop)
        n = self.counts(t0, t1)
        rate = n / ((t1 - t0) / 1000.0)
        keys = as_list(by)
        if len(keys) == 1 and keys[0] in NODE_KEYS:
            u = self._universe()
            return pd.DataFrame({"n_spikes": n, "rate": rate}, index=self._node_index(np.arange(u.n)))
        codes, labels = self._group_codes(keys)
        g = len(labels)
        n_nodes = np.bincount(codes, minlength=g)
        n_spk = np.bincount(codes, weights=n, minlength=g).astype(np.int64)
        mean = np.divide(np.bincount(codes, weights=rate, minlength=g), n_nodes,
                         out=np.full(g, np.nan), where=n_nodes > 0)
        dev = np.bincount(codes, weights=(rate - mean[codes]) ** 2, minlength=g) if len(codes) else np.zeros(g)
        std = np.sqrt(np.divide(dev, n_nodes - 1, out=np.full(g, np.nan), where=n_nodes > 1))
        return pd.DataFrame({"n_nodes": n_nodes, "n_spikes": n_spk, "rate": mean, "rate_std": std}, index=labels)

    def _bins(self, bin_ms: float, t0: float, t1: float) -> np.ndarray:
        if not (np.isfinite(bin_ms) and bin_ms > 0):
            raise AnalysisError(self.source, "bin_ms", "a positive bin width (ms)", repr(bin_ms))
        if not (np.isfinite(t0) and np.isfinite(t1)):
            raise AnalysisError(self.source, "time window", "finite start and stop (ms)", f"{t0!r}, {t1!r}")
        nbf = np.ceil((t1 - t0) / bin_ms - 1e-9)
        if not nbf <= MAX_BINS:
            raise AnalysisError(self.source, "bin_ms", f"at most {MAX_BINS:,} bins over the window "
                                f"{t0:g}..{t1:g} ms (a bin of at least {(t1 - t0) / MAX_BINS:g} ms)", repr(bin_ms))
        nb = int(nbf)
        edges = t0 + bin_ms * np.arange(nb + 1)
        edges[-1] = t1
        return edges

    def _spike_bins(self, edges: np.ndarray, bin_ms: float) -> tuple[np.ndarray, np.ndarray | None]:
        """(bin of each spike in the window, window mask or None)."""
        t0, t1 = float(edges[0]), float(edges[-1])
        m = self._in_window(t0, t1)
        ts = self._ts if m is None else self._ts[m]
        b = np.floor((ts - t0) / bin_ms).astype(np.int64)
        np.clip(b, 0, len(edges) - 2, out=b)
        return b, m

    def psth(self, bin_ms: float = 10.0, by: str | Sequence[str] | None = "population",
             t_start: float | None = None, t_stop: float | None = None, per_node: bool = True) -> pd.DataFrame:
        """Peri-stimulus time histogram: the rate of each group in time bins.

        Parameters
        ----------
        bin_ms : float
            Bin width (ms).  Bins start at ``t_start``; the last one ends at ``t_stop`` (and may be shorter).
        by : str or list of str or None
            Groups (``population``, a node property, a list); None: all nodes together.
        t_start, t_stop : float, optional
            Window (ms).
        per_node : bool
            Rate per node (spikes / node / s, the default) or of the whole group (spikes / s).

        Returns
        -------
        DataFrame
            Index ``time``: bin start (ms); one column per group; values in Hz.

        Raises
        ------
        UnknownPropertyError, AnalysisError
        """
        t0, t1 = self.window(t_start, t_stop)
        edges = self._bins(bin_ms, t0, t1)
        nb = len(edges) - 1
        b, m = self._spike_bins(edges, bin_ms)
        codes, labels = self._group_codes(as_list(by))
        g = len(labels)
        if g * nb > MAX_PSTH_VALUES:
            raise AnalysisError(self.source, "bin_ms", f"at most {MAX_PSTH_VALUES:,} values (groups x bins)",
                                f"{g:,} groups x {nb:,} bins")
        u = self._universe()
        sn = u.spike_node if m is None else u.spike_node[m]
        sc = codes[sn]
        counts = np.bincount(sc * nb + b, minlength=g * nb).reshape(g, nb)
        width_s = np.diff(edges) / 1000.0
        denom = width_s[None, :] * (np.bincount(codes, minlength=g)[:, None] if per_node else 1.0)
        vals = np.divide(counts, denom, out=np.full((g, nb), np.nan), where=denom > 0)
        out = pd.DataFrame(vals.T, index=pd.Index(edges[:-1], name="time"), columns=labels)
        return out

# ---------------------------------------------------------------------- helpers
def _name(name: Any, network: Any) -> str:
    if name is None or (isinstance(name, float) and name != name):  # None, or NaN from a table
        if network is not None and len(network.nodes) == 1:
            return next(iter(network.nodes))
        return UNNAMED
    return str(name)


def _is_virtual(pop: Any) -> bool:
    try:
        if "model_type" not in pop.attribute_names:
            return False
        mt = pop.column("model_type")
    except Exception:  # noqa: BLE001 - an unreadable column: treat as simulated, the ids check still runs
        return False
    return bool(len(mt)) and bool(np.all(mt.astype(str) == "virtual"))


def _concat_labels(parts: list[np.ndarray]) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=object)
    if all(p.dtype.kind in "biuf" for p in parts):
        return np.concatenate(parts)
    return np.concatenate([p.astype(object) for p in parts])


def _sortable(cols: list[np.ndarray]) -> bool:
    for c in cols:
        if c.dtype == object:
            kinds = {type(v) for v in c[: 1000].tolist() if v is not None and not (isinstance(v, float) and v != v)}
            if len(kinds) > 1 or any(v is None for v in c[:1000].tolist()):
                return False
    return True


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        codes, uniq = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:  # mixed types that do not sort
        codes, uniq = pd.factorize(values, sort=False, use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniq)
