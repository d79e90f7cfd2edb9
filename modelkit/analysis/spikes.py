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
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit._typing import NodeIdsLike
from modelkit.analysis import spike_stats
from modelkit.analysis.errors import AnalysisError, NodeIdError
from modelkit.analysis.spike_nodes import NodeUniverse, build_universe, factorize, group_codes, node_property
from modelkit.analysis.spike_stats import MAX_BINS, MAX_PSTH_VALUES, NODE_KEYS, GroupBy, as_list  # noqa: F401 - the

if TYPE_CHECKING:
    from modelkit.sonata import Network
# limits stay importable from here, where they were defined before the statistics moved to spike_stats

__all__ = ["SpikeTable"]

UNNAMED = "unnamed"  #: population name given to spikes whose file names none (legacy layout, bare CSV)


class SpikeTable:
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
                 network: Network | None = None, t_start: float | None = None, t_stop: float | None = None,
                 source: str | None = None) -> None:
        self._names = [str(n) for n in names]
        self._bounds = np.asarray(bounds, dtype=np.int64)
        self._ids = np.asarray(node_ids, dtype=np.int64)
        self._ts = np.asarray(timestamps, dtype=np.float64)
        self.network = network
        self.t_start = None if t_start is None else float(t_start)
        self.t_stop = None if t_stop is None else float(t_stop)
        self.source = source
        self._uni: NodeUniverse | None = None
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
    def read(cls, path: PathLike, *, network: Network | None = None, population: str | None = None,
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
    def from_config(cls, config_file: PathLike, *, population: str | None = None) -> "SpikeTable":
        """The output spikes of a simulation config, with its circuit and its ``run`` window.

        Node populations of the circuit that are not virtual (``model_type`` other than ``virtual``)
        are part of the table even when they never fire, so their nodes count with 0 Hz.

        Parameters
        ----------
        config_file : str or PathLike
            A SONATA simulation config.
        population : str, optional
            Keep only this population.

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
    def from_frame(cls, frame: Any, *, network: Network | None = None, t_start: float | None = None,
                   t_stop: float | None = None, source: str | None = None) -> "SpikeTable":
        """A table from a DataFrame (or dict of columns) with ``node_ids`` and ``timestamps`` (ms).

        Parameters
        ----------
        frame : DataFrame or mapping of columns
            ``node_ids`` (or ``node_id``), ``timestamps`` (ms) and optionally ``population``
            (spikes without one belong to population ``"all"``, or to the network's only population).
        network, t_start, t_stop, source
            As in the constructor.

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
    def load(cls, spikes: Any = None, *, config_file: PathLike | None = None, network: Network | None = None,
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

        Raises
        ------
        AnalysisError
            Neither spikes nor a config, or an unsupported object.
        """
        if spikes is None and config_file is None:
            raise AnalysisError(None, "spikes", "spikes (a file, table or run result) or config_file", "neither")
        if spikes is None:
            table = cls.from_config(cast("PathLike", config_file), population=population)  # not None: checked above
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
        args: dict[str, Any] = dict(network=self.network, t_start=self.t_start, t_stop=self.t_stop, source=self.source)
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
    def _universe(self) -> NodeUniverse:
        if self._uni is None:
            self._uni = build_universe(self._names, self._bounds, self._ids, self.network, self.source)
        return self._uni

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
        out = node_property(self._universe(), self._names, self.network, by, self.source)
        self._labels[by] = out
        return out

    def _group_codes(self, by: list[str]) -> tuple[np.ndarray, pd.Index]:
        """Group index of every node and the group labels (an Index, a MultiIndex for several keys)."""
        if not by:
            u = self._universe()
            return np.zeros(u.n, dtype=np.int64), pd.Index(["all"], name="group")
        return group_codes([self.node_labels(b) for b in by], by)

    # ------------------------------------------------------------------ selection and joins
    def select(self, population: str | Sequence[str] | None = None, node_ids: NodeIdsLike | None = None,
               t_start: float | None = None, t_stop: float | None = None) -> "SpikeTable":
        """The spikes of some populations / nodes / times, as a new table (network and window kept).

        Parameters
        ----------
        population : str or list of str, optional
        node_ids : array of int, optional
            Node ids (in every selected population).
        t_start, t_stop : float, optional
            Keep spikes in [t_start, t_stop] ms; the new table's window becomes that.

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
                codes, uniq = factorize(lab)
                df[prop] = pd.Categorical.from_codes(codes[u.spike_node], categories=pd.Index(uniq, dtype=object)) \
                    if not pd.isna(uniq).any() else pd.Series(lab[u.spike_node], dtype=object)
            else:
                df[prop] = lab[u.spike_node]
        return df

    # ------------------------------------------------------------------ statistics (modelkit.analysis.spike_stats)
    def counts(self, t_start: float | None = None, t_stop: float | None = None) -> np.ndarray:
        """Spike count of every node of :meth:`nodes` in the window (int64)."""
        return spike_stats.counts(self, t_start, t_stop)

    def rates(self, by: GroupBy = "node", t_start: float | None = None,
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
        return spike_stats.rates(self, by, t_start, t_stop)

    def psth(self, bin_ms: float = 10.0, by: GroupBy = "population",
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
        return spike_stats.psth(self, bin_ms, by, t_start, t_stop, per_node)

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
        return spike_stats.intervals(self, t_start, t_stop)

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
        return spike_stats.isi(self, t_start, t_stop)

    def fano(self, bin_ms: float, by: GroupBy = "node", t_start: float | None = None,
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
        return spike_stats.fano(self, bin_ms, by, t_start, t_stop)

    def binned_counts(self, bin_ms: float, population: str | None = None, node_ids: NodeIdsLike | None = None,
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
        return spike_stats.binned_counts(self, bin_ms, population, node_ids, t_start, t_stop)

    def correlations(self, bin_ms: float, population: str | None = None, node_ids: NodeIdsLike | None = None,
                     t_start: float | None = None, t_stop: float | None = None) -> pd.DataFrame:
        """Pearson correlation of binned spike counts between every pair of selected nodes.

        Parameters
        ----------
        bin_ms, population, node_ids, t_start, t_stop
            As in :meth:`binned_counts`: the counting bin (ms), the nodes, and the window (ms).

        Returns
        -------
        DataFrame
            Square, index and columns (``population``, ``node_id``); NaN rows/columns for nodes whose
            count never varies (silent nodes); 1 on the diagonal otherwise.

        Raises
        ------
        NodeIdError, AnalysisError
        """
        return spike_stats.correlations(self, bin_ms, population, node_ids, t_start, t_stop)

    def mean_correlation(self, bin_ms: float, by: GroupBy = "population",
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
        return spike_stats.mean_correlation(self, bin_ms, by, max_nodes, seed, t_start, t_stop)

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
