"""bmtk PopNet's semantics (DiPDE): one population per node type, run as :class:`~.dipde.DipdePopulation`.

A config is a PopNet config (:func:`is_popnet`) when its ``target_simulator`` is
``DiPDE`` or its population nodes use ``dipde:`` templates, and none uses one of
modelkit's own templates (``lif_density``, ``wilson_cowan``); ``target_simulator:
population`` keeps modelkit's per-node semantics.  Then, as bmtk 1.2.0 with DiPDE does:

* every ``node_type_id`` of the non-virtual nodes is one population (node types shared by
  two node populations are one population), with the ``dynamics_params`` of its first
  node, a JSON file in ``components.population_models_dir`` in DiPDE's units (s, V);
* every ``node_type_id`` of a virtual node population is one external population, whose
  rate comes from the inputs: a rates CSV's ``gid`` (or ``node_type_id``) column holds
  node_type_ids; a constant rate holds for all times (also before 0, as DiPDE fills its
  delay queues); a spike-train input gives the mean rate bmtk computes (spikes per
  spiking node over the span of the spikes);
* the edges between two populations are one connection with the first edge's
  ``nsyns``, ``delay`` (s) and ``syn_weight`` (V); connections with ``nsyns`` 0 are dropped;
* ``run.dt`` is in seconds, ``run.tstop`` in ms; a source's rate reaches its target
  ``round(delay / dt)`` steps later (step ``i`` uses the rate of step ``i - 1 - D``);
* ``output.rates_file`` gets ``population_id time firing_rate`` lines (space-separated,
  no header; time in s, from 0 with the initial rate; every population in order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from modelkit._typing import ArrayLike
from modelkit.errors import ConfigError
from modelkit.simulator.population.dipde import DipdePopulation
from modelkit.simulator.population.params import TEMPLATES, load_params
from modelkit.sonata import Network, Selection, SimulationConfig

__all__ = ["is_popnet", "PopNet"]

log = logging.getLogger("modelkit.simulator.population")


def _templates(network: Network, built: dict[str, Selection]) -> set[str]:
    out: set[str] = set()
    for name, sel in built.items():
        pop = network.nodes[name]
        if "model_template" in pop.attribute_names and len(sel):
            vals = pop.column("model_template", sel.flat)
            out |= {str(v).strip() for v in np.unique(np.asarray(vals, dtype=object).astype(str))
                    if str(v) not in ("", "None", "nan")}
    return out


def is_popnet(config: SimulationConfig, network: Network, built: dict[str, Selection]) -> bool:
    """Whether the run follows bmtk PopNet's semantics (see the module docstring).

    Parameters
    ----------
    config : SimulationConfig
        The run's config (``target_simulator``).
    network : Network
        The loaded circuit (node types' ``model_template``).
    built : dict of str to Selection
        The populations the backend builds.
    """
    target = str(getattr(config, "target_simulator", None) or "").lower()
    if target == "population":
        return False
    tmpl = _templates(network, built)
    dipde = {t for t in tmpl if t.lower().startswith("dipde:")}
    own = {t for t in tmpl - dipde if TEMPLATES.get(t.lower().split(":")[-1], ("", True))[1] is False}
    if own:
        return False
    return bool(dipde) or target == "dipde"


def _node_types(pop: Any, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The node types of the nodes ``ids`` of ``pop``, and an empty map from node id to internal index.

    Parameters
    ----------
    pop : NodePopulation
        The population.
    ids : numpy.ndarray
        Its built (or source) node ids.

    Returns
    -------
    tids : numpy.ndarray
        ``node_type_id`` per node (int64).
    types : numpy.ndarray
        The distinct type ids (sorted).
    first : numpy.ndarray
        Position in ``ids`` of the first node of each type.
    index : numpy.ndarray
        -1 for every node id of the population (int64), to be filled with the index of each node's population.
    """
    tids = np.asarray(pop.column("node_type_id", ids), dtype=np.int64)
    index = np.full(int(pop.node_ids.max()) + 1 if pop.size else 0, -1, dtype=np.int64)
    types, first = np.unique(tids, return_index=True)
    return tids, types, first, index


class _External:
    """The rate of one external population (Hz) as a function of time (s)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.const: float | None = None
        self.pieces: tuple[np.ndarray, np.ndarray, str] | None = None  # times (s), rates, interpolation
        self.fn: Any = None

    @property
    def has_rate(self) -> bool:
        return self.const is not None or self.pieces is not None or self.fn is not None

    def at(self, t: np.ndarray) -> np.ndarray:
        if self.const is not None:
            return np.full(len(t), self.const)
        if self.fn is not None:
            return np.asarray(np.broadcast_to(self.fn(t), t.shape), dtype=float)
        if self.pieces is None:
            return np.zeros(len(t))
        times, vals, interp = self.pieces
        if interp == "linear":
            return np.interp(t, times, vals, left=0.0, right=vals[-1])
        i = np.searchsorted(times, t + 1e-12, side="right") - 1
        return np.where(i >= 0, vals[np.clip(i, 0, len(vals) - 1)], 0.0)


class PopNet:
    """A PopNet network: internal populations by node type, external ones, connections, the run.

    Parameters
    ----------
    network : Network
    built, sources : dict of str to Selection
        The non-virtual and the virtual nodes of each population.
    config : SimulationConfig
        ``run.dt`` (s), ``components.population_models_dir``.
    tstart, tstop : float
        ms.

    Raises
    ------
    ConfigError
        A missing or bad model file (naming the node-types file and node_type_id), bad edge values.
    """

    def __init__(self, network: Network, built: dict[str, Selection], sources: dict[str, Selection],
                 config: SimulationConfig, tstart: float, tstop: float) -> None:
        self.dt = float(config.run.dt)  # s
        self.dt_ms = self.dt * 1000.0
        self.tstart = float(tstart)
        self.n_steps = int(round((tstop - tstart) / self.dt_ms))
        comps = getattr(config, "components", {}) or {}
        dirs = [d for d in (comps.get("population_models_dir"), comps.get("models_dir")) if d]
        # internal populations: node types, in order of first appearance
        self.keys: list[int] = []
        params: list[dict] = []
        wheres: list[str] = []
        self.node_pop: dict[str, np.ndarray] = {}  # population -> internal population index per node id (-1)
        for name, sel in built.items():
            pop = network.nodes[name]
            ids = sel.flat
            tids, u, first, m = _node_types(pop, ids)
            dyn = pop.column_or("dynamics_params", ids[first])
            src = getattr(getattr(pop, "types", None), "path", None) or pop.path
            for k in np.argsort(first, kind="stable"):
                t = int(u[k])
                if t not in self.keys:
                    where = f"{src}: node_type_id {t} (population {name})"
                    self.keys.append(t)
                    params.append(dict(load_params(dyn[k], dirs, where)))
                    wheres.append(where)
                m[ids[tids == t]] = self.keys.index(t)
            self.node_pop[name] = m
        # external populations: (population, node type)
        self.ext: list[_External] = []
        self.ext_of: dict[str, np.ndarray] = {}   # population -> external index per node id (-1)
        self.ext_key: list[tuple[str, int]] = []
        self._ext_nodes: list[np.ndarray] = []
        for name, sel in sources.items():
            pop = network.nodes[name]
            ids = sel.flat
            tids, u, first, m = _node_types(pop, ids)
            for k in np.argsort(first, kind="stable"):
                t = int(u[k])
                m[ids[tids == t]] = len(self.ext)
                self.ext.append(_External(f"{name} node_type_id {t}"))
                self.ext_key.append((name, t))
                self._ext_nodes.append(ids[tids == t])
            self.ext_of[name] = m
        self._read_connections(network)
        # one DiPDE population per node type, with the distinct weights of its inputs
        c = self.conn
        self.pops: list[DipdePopulation] = []
        self.col = np.full(len(c["target"]), -1, dtype=np.int64)
        self.cols: list[np.ndarray] = []
        ncol = 0
        for p, (prm, where) in enumerate(zip(params, wheres)):
            mine = np.flatnonzero(c["target"] == p)
            wts, inv = np.unique(c["weight"][mine], return_inverse=True)
            self.col[mine] = ncol + inv
            self.pops.append(DipdePopulation(prm, wts, self.dt, where))
            self.cols.append(np.arange(ncol, ncol + len(wts)))
            ncol += len(wts)
        self.ncol = ncol
        self.delay_steps = np.rint(c["delay"] / self.dt).astype(np.int64)
        self.dmax = int(self.delay_steps.max()) if len(self.delay_steps) else 0
        self.initial = np.array([p.rate for p in self.pops])
        self.step_index = 0  # steps done
        self.history = [self.initial[None, :].copy()]  # rates at steps 0, 1, ... (one block per run_until)
        self._recent = np.tile(self.initial, (self.dmax + 2, 1))  # ring: rates of the last dmax + 2 steps
        log.info("PopNet (DiPDE) semantics: %d populations by node_type_id (%s), %d external, %d connections; "
                 "run.dt = %g s (seconds, as bmtk PopNet reads it), %d steps", len(self.pops),
                 ", ".join(str(k) for k in self.keys), len(self.ext), len(c["target"]), self.dt, self.n_steps)

    # ------------------------------------------------------------- network
    def _read_connections(self, network: Network) -> None:
        found: dict[tuple[int, int, int], tuple[float, float, float, str]] = {}
        order: list[tuple[int, int, int]] = []
        differ: list[str] = []
        for ename, epop in network.edges.items():
            tmap = self.node_pop.get(epop.target)
            if tmap is None or not epop.size:
                continue
            where = f"{epop.path}: /edges/{ename}"
            src, tgt = epop.source_ids(), epop.target_ids()
            if tgt.max() >= len(tmap):
                raise ConfigError(epop.path, f"/edges/{ename}", "edges onto existing nodes", "dangling target ids")
            if epop.source in self.node_pop:
                smap, kind = self.node_pop[epop.source], 0
            elif epop.source in self.ext_of:
                smap, kind = self.ext_of[epop.source], 1
            else:
                continue
            if src.max() >= len(smap):
                raise ConfigError(epop.path, f"/edges/{ename}", "edges from existing nodes", "dangling source ids")
            s, t = smap[src], tmap[tgt]
            keep = (s >= 0) & (t >= 0)
            names = set(epop.attribute_names)
            if "syn_weight" not in names:
                raise ConfigError(epop.path, f"/edges/{ename}: syn_weight", "a syn_weight (V) per edge or edge type",
                                  "none")
            w = np.asarray(epop.column("syn_weight"), dtype=float)
            ns = np.asarray(epop.column("nsyns"), dtype=float) if "nsyns" in names else np.ones(len(src))
            d = np.asarray(epop.column("delay"), dtype=float) if "delay" in names else np.zeros(len(src))
            for key, arr, ok, what in (("syn_weight", w, np.isfinite(w), "finite weights (V)"),
                                       ("nsyns", ns, np.isfinite(ns) & (ns >= 0), "non-negative synapse counts"),
                                       ("delay", d, np.isfinite(d) & (d >= 0), "non-negative delays (s)")):
                if not ok[keep].all():
                    bad = np.flatnonzero(keep & ~ok)
                    raise ConfigError(epop.path, f"/edges/{ename}: {key}", what,
                                      f"{arr[bad][:3].tolist()} (edge ids {bad[:3].tolist()})")
            idx = np.flatnonzero(keep)
            pair = s[idx] * len(self.keys) + t[idx]  # kind is the same for the whole edge population
            _, first, inv = np.unique(pair, return_index=True, return_inverse=True)
            for k in np.argsort(first, kind="stable"):
                e = idx[first[k]]
                key3 = (kind, int(s[e]), int(t[e]))
                grp = idx[inv == k]
                vals = (float(ns[e]), float(d[e]), float(w[e]), where)
                if key3 in found:
                    continue  # bmtk keeps the first edge between two populations
                found[key3] = vals
                order.append(key3)
                if not (np.all(ns[grp] == ns[e]) and np.all(d[grp] == d[e]) and np.all(w[grp] == w[e])):
                    differ.append(f"{where} ({self._name(kind, key3[1])} -> {self.keys[key3[2]]})")
        if differ:
            log.warning("PopNet: edges between the same two populations differ in nsyns/delay/syn_weight; as bmtk, "
                        "the first edge of each pair is used: %s", "; ".join(differ[:5]))
        rows = [(k, *found[k][:3]) for k in order if found[k][0] != 0]
        self.conn = {
            "kind": np.array([r[0][0] for r in rows], dtype=np.int64),
            "source": np.array([r[0][1] for r in rows], dtype=np.int64),
            "target": np.array([r[0][2] for r in rows], dtype=np.int64),
            "nsyns": np.array([r[1] for r in rows], dtype=float),
            "delay": np.array([r[2] for r in rows], dtype=float),
            "weight": np.array([r[3] for r in rows], dtype=float)}

    def _name(self, kind: int, index: int) -> str:
        return str(self.keys[index]) if kind == 0 else self.ext[index].name

    def describe(self) -> list[str]:
        """One line per connection, for the log."""
        c = self.conn
        return [f"{self._name(int(k), int(s))} -> {self.keys[int(t)]}: nsyns {n:g}, delay {d:g} s, weight {w:g} V"
                for k, s, t, n, d, w in zip(c["kind"], c["source"], c["target"], c["nsyns"], c["delay"], c["weight"])]

    # -------------------------------------------------------------- inputs
    def externals_of(self, population: str, node_ids: np.ndarray) -> np.ndarray:
        m = self.ext_of.get(population)
        if m is None:
            return np.full(len(node_ids), -1, dtype=np.int64)
        ids = np.asarray(node_ids, dtype=np.int64)
        return np.where(ids < len(m), m[np.minimum(ids, len(m) - 1)], -1)

    def set_constant(self, k: int, rate: float) -> None:
        self.ext[k].const, self.ext[k].pieces, self.ext[k].fn = float(rate), None, None

    def set_function(self, k: int, fn: Callable[[np.ndarray], ArrayLike]) -> None:
        self.ext[k].const, self.ext[k].pieces, self.ext[k].fn = None, None, fn

    def set_schedule(self, k: int, times_ms: np.ndarray, rates: np.ndarray, interp: str) -> None:
        """Rates (Hz) from ``times_ms`` on; a rate that starts with the run holds before it too (DiPDE fills
        its delay queues with the source's rate at negative times).

        Parameters
        ----------
        k : int
            The external population.
        times_ms : numpy.ndarray of float
            When each rate starts (ms).
        rates : numpy.ndarray of float
            Rates (Hz).
        interp : {"step", "linear"}
            Between the times.
        """
        r = np.asarray(rates, dtype=float)
        starts = times_ms[0] <= self.tstart + 1e-9
        if starts and np.all(r == r[0]):
            self.set_constant(k, float(r[0]))
            return
        t = (np.asarray(times_ms, dtype=float) - self.tstart) / 1000.0
        if starts:
            t[0] = -np.inf
        self.ext[k].const, self.ext[k].fn = None, None
        self.ext[k].pieces = (t, r, interp)

    def nodes_of_external(self, k: int) -> np.ndarray:
        return self._ext_nodes[k]

    # ---------------------------------------------------------------- time
    def run_until(self, t_ms: float) -> np.ndarray:
        """Advance to ``t_ms``; returns the rates (Hz) of the steps done, ``(steps, populations)``.

        Parameters
        ----------
        t_ms : float
            Simulated time to reach (ms).
        """
        n1 = min(self.n_steps, int(round((t_ms - self.tstart) / self.dt_ms)))
        n0 = self.step_index
        if n1 <= n0:
            return np.empty((0, len(self.pops)))
        c = self.conn
        D = self.delay_steps
        R = self.dmax + 2
        # external rates at step indices [n0 - dmax, n1), time index * dt (s)
        lo = n0 - self.dmax
        ext_tab = np.zeros((n1 - lo, max(1, len(self.ext))))
        tt = np.arange(lo, n1) * self.dt
        for k, x in enumerate(self.ext):
            if x.has_rate:
                ext_tab[:, k] = x.at(tt)
        internal = c["kind"] == 0
        src = c["source"]
        nsyn = c["nsyns"]
        out = np.empty((n1 - n0, len(self.pops)))
        recent = self._recent
        for i in range(n0 + 1, n1 + 1):
            m = i - 1 - D  # the source step each connection delivers now
            r_int = recent[np.maximum(m, 0) % R, np.where(internal, src, 0)] if internal.any() else 0.0
            r_ext = ext_tab[np.clip(m - lo, 0, None), np.where(internal, 0, src)] if len(self.ext) else 0.0
            val = nsyn * np.where(internal, r_int, r_ext)
            lam = np.bincount(self.col, weights=val, minlength=self.ncol) if len(val) else np.zeros(self.ncol)
            row = out[i - 1 - n0]
            for p, pop in enumerate(self.pops):
                row[p] = pop.step(lam[self.cols[p]])
            recent[i % R] = row
        self.step_index = n1
        self.history.append(out)
        return out

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        """``(times (s), rates (steps + 1, populations) Hz)`` from step 0 (the initial rates) to now."""
        r = np.concatenate(self.history) if self.history else np.empty((0, len(self.pops)))
        return np.arange(len(r)) * self.dt, r
