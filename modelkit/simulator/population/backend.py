"""The population backend: every ``model_type: population`` node is one population, simulated in numpy.

Nodes become LIF population densities (:class:`~.density.LIFDensity`) or Wilson–Cowan
rate units (:class:`~.rate_model.WilsonCowan`) by their ``model_template``.  SONATA
edges between population nodes, and from virtual nodes that carry input rates (bmtk
PopNet's external populations), become connections: the target sees the source's
rate x ``nsyns``, delayed by ``delay`` (whole steps, at least one), with jumps of
``syn_weight`` mV per spike (density) or as ``syn_weight x nsyns x rate`` (rate model).
Rates are in Hz, times in ms.

A PopNet config (``target_simulator: DiPDE`` or ``dipde:`` templates, no modelkit template;
:func:`~.popnet.is_popnet`) runs with bmtk PopNet's semantics instead: one DiPDE population
per node type, ``run.dt`` in seconds, rates CSVs keyed by node_type_id and
``output.rates_file`` (:mod:`~.popnet`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.base import RunOptions
from modelkit.simulator.population.density import LIFDensity
from modelkit.simulator.population.popnet import PopNet, is_popnet
from modelkit.simulator.population.params import PopulationModel, load_params, model_parameters, resolve_template
from modelkit.simulator.population.rate_model import WilsonCowan
from modelkit.sonata import Network, Selection, SimulationConfig

__all__ = ["PopulationBackend", "RateRecorder", "RATE_VARIABLES"]

log = logging.getLogger("modelkit.simulator.population")

#: variables a report may ask of population nodes (all the same: the firing rate in Hz)
RATE_VARIABLES = ("firing_rate", "rate", "firing_rates")


class RateRecorder:
    """Rates of some population nodes, averaged over windows of ``dt`` ms in [start, stop).

    A frame at time ``t`` is the mean rate (Hz) over ``[t, t + dt)``; ``collect`` returns the
    frames completed since the last call.
    """

    def __init__(self, population: str, node_ids: np.ndarray, columns: np.ndarray, variables: Sequence[str],
                 dt: float, start: float, stop: float, sim_dt: float, tstart: float) -> None:
        self.population = population
        self.node_ids = node_ids
        self.variables = tuple(variables)
        self.units = {v: "Hz" for v in variables}
        self._cols = columns
        self._k = max(1, int(round(dt / sim_dt)))
        self._first = int(round((start - tstart) / sim_dt))
        self._last = int(round((stop - tstart) / sim_dt))  # exclusive
        n_frames = (self._last - self._first) // self._k
        self._last = self._first + n_frames * self._k
        self.time_window = (start, start + n_frames * self._k * sim_dt, self._k * sim_dt)
        self._acc = np.zeros(len(node_ids))
        self._n_acc = 0
        self._frames: list[np.ndarray] = []

    def feed(self, step0: int, rates: np.ndarray) -> None:
        """Take the rates of steps ``step0, step0 + 1, ...`` (rows of ``rates``, all units).

        Parameters
        ----------
        step0 : int
            Index of the first step (run steps of ``dt`` ms).
        rates : numpy.ndarray, shape (steps, units)
            Rates (Hz) of every unit of the backend.
        """
        a = max(step0, self._first)
        b = min(step0 + len(rates), self._last)
        if a >= b:
            return
        block = rates[a - step0:b - step0][:, self._cols]
        k = self._k
        if self._n_acc:
            take = min(k - self._n_acc, len(block))
            self._acc += block[:take].sum(axis=0)
            self._n_acc += take
            block = block[take:]
            if self._n_acc == k:
                self._frames.append((self._acc / k)[None, :])
                self._acc = np.zeros(len(self.node_ids))
                self._n_acc = 0
        whole = (len(block) // k) * k
        if whole:
            self._frames.append(block[:whole].reshape(-1, k, block.shape[1]).mean(axis=1))
        rest = block[whole:]
        if len(rest):
            self._acc += rest.sum(axis=0)
            self._n_acc += len(rest)

    def collect(self) -> dict[str, np.ndarray]:
        frames = np.concatenate(self._frames) if self._frames else np.empty((0, len(self.node_ids)))
        self._frames = []
        return {v: frames for v in self.variables}


class _Source:
    """Input rate of one virtual node: piecewise rates and/or spike times."""

    def __init__(self) -> None:
        self.pieces: list[tuple[np.ndarray, np.ndarray, str]] = []
        self.spikes: list[np.ndarray] = []

    def rates(self, t0: np.ndarray, dt: float) -> np.ndarray:
        """Mean rate (Hz) over each step ``[t, t + dt)`` of ``t0``."""
        out = np.zeros(len(t0))
        mid = t0 + 0.5 * dt
        for times, vals, interp in self.pieces:
            if interp == "linear":
                v = np.interp(mid, times, vals, left=0.0, right=vals[-1])
            else:
                i = np.searchsorted(times, mid, side="right") - 1
                v = np.where(i >= 0, vals[np.clip(i, 0, len(vals) - 1)], 0.0)
            out += v
        for sp in self.spikes:
            edges = np.append(t0, t0[-1] + dt) if len(t0) else t0
            counts = np.histogram(sp, bins=edges)[0] if len(t0) else np.zeros(0)
            out += counts / dt * 1000.0
        return out


class PopulationBackend:
    """Population models in numpy: LIF population densities and Wilson–Cowan rate units.

    Each node of ``model_type`` population is one population; it reports its firing rate
    (Hz) as the variable ``firing_rate``.  Inputs are rates (or spike trains, binned to
    rates) of virtual nodes connected to the populations by edges.
    """

    name: ClassVar[str] = "population"
    model_types: ClassVar[frozenset[str]] = frozenset({"population"})
    description: ClassVar[str] = "population models (LIF population density, Wilson-Cowan), numpy"
    #: rate inputs that also read bmtk PopNet's CSVs keyed by node type, and the rate reports (loaded on use)
    input_modules: ClassVar[dict[tuple[str, str], str]] = dict.fromkeys(
        [("rates", "constant"), ("rates", "time_series"), ("rates", "pop_rates"), ("csv", "pop_rates")],
        "modelkit.simulator.population.modules:RateInput")
    report_modules: ClassVar[dict[str, str]] = dict.fromkeys(
        ["population_rates", "pop_rates"], "modelkit.simulator.population.modules:PopulationRatesReport")

    @classmethod
    def is_available(cls) -> bool:
        return True

    def __init__(self) -> None:
        self._options: RunOptions | None = None
        self._network: Any = None
        self._config: Any = None
        self.unit_population: list[str] = []
        self.unit_node: np.ndarray = np.empty(0, np.int64)
        self._unit_of: dict[str, np.ndarray] = {}      # population -> unit index per node id (-1: none)
        self._models: list[PopulationModel] = []
        self._virtual_of: dict[str, np.ndarray] = {}   # population -> virtual source index per node id
        self._sources: list[_Source] = []
        self._virtual_ids: list[tuple[str, int]] = []
        self._conn: dict[str, np.ndarray] = {}
        self._density: list[tuple[int, LIFDensity, np.ndarray]] = []  # unit, model, weight -> column offset
        self._wc: WilsonCowan | None = None
        self._wc_units = np.empty(0, np.int64)
        self._recorders: list[RateRecorder] = []
        self._step = 0
        self._hist = np.zeros((1, 0))
        self._rate = np.zeros(0)
        self._ready = False
        self.popnet: PopNet | None = None  # bmtk PopNet semantics (set by build for a PopNet config)

    @classmethod
    def output_modules(cls, config: Any) -> list[Any]:
        """Modules that write the backend's own outputs: ``output.rates_file`` of a PopNet config."""
        from modelkit.simulator.population.modules import PopNetRatesFile
        extra = getattr(getattr(config, "output", None), "extra", {}) or {}
        return [PopNetRatesFile()] if extra.get("rates_file") else []

    @property
    def n_processes(self) -> int:
        return 1

    # ----------------------------------------------------------------- build
    def build(self, network: Network, populations: dict[str, Selection], options: RunOptions,
              config: SimulationConfig) -> None:
        """Create the population units of ``populations`` and read the connections among them.

        Parameters
        ----------
        network : Network
            The loaded circuit (node types name the model and its ``dynamics_params``).
        populations : dict of str to Selection
            The node ids to build, by population.
        options : RunOptions
            Run settings (``tstart``, ``tstop``, ``dt`` in ms).
        config : SimulationConfig
            The run's config (``components``; a PopNet config's ``run.dt`` in s, ``target_simulator``).

        Raises
        ------
        ConfigError
            A missing or bad model file, bad edge values, naming the file.
        """
        self._network, self._options, self._config = network, options, config
        if is_popnet(config, network, populations):
            sources: dict[str, Selection] = {}
            for name, pop in network.nodes.items():
                if "model_type" in pop.attribute_names:
                    virt = pop.split_by("model_type").get("virtual")
                    if virt is not None and len(virt):
                        sources[name] = virt
            self.popnet = PopNet(network, populations, sources, config, options.tstart, options.tstop)
            for line in self.popnet.describe():
                log.info("PopNet connection %s", line)
            self._unit_of = dict(self.popnet.node_pop)
            self._ready = True
            return
        comps = getattr(config, "components", {}) if config is not None else {}
        dirs = [d for d in (comps.get("population_models_dir"), comps.get("models_dir"),
                            comps.get("point_neuron_models_dir")) if d]
        cfg_path = getattr(config, "path", None)
        pops: list[str] = []
        nodes: list[int] = []
        for name, sel in populations.items():
            pop = network.nodes[name]
            ids = sel.flat
            self._unit_of[name] = np.full(int(pop.node_ids.max()) + 1 if pop.size else 0, -1, dtype=np.int64)
            self._unit_of[name][ids] = np.arange(len(nodes), len(nodes) + len(ids))
            tids = pop.column("node_type_id", ids)
            tmpl = pop.column_or("model_template", ids)
            dyn = pop.column_or("dynamics_params", ids)
            over = pop.dynamics_params(ids) if pop.dynamics_attribute_names else None
            for r, nid in enumerate(ids.tolist()):
                where = f"{pop.path}: /nodes/{name} node {nid} (node_type_id {tids[r]})"
                kind, si = resolve_template(tmpl[r], where)
                params = dict(load_params(dyn[r], dirs, where))
                if over is not None:
                    for col in over.columns:
                        v = over[col].iloc[r]
                        if v is not None and not (isinstance(v, float) and np.isnan(v)):
                            params[col] = v.item() if hasattr(v, "item") else v
                self._models.append(model_parameters(kind, si, params, where))
                pops.append(name)
                nodes.append(nid)
        self.unit_population = pops
        self.unit_node = np.asarray(nodes, dtype=np.int64)
        self._read_edges(network, populations, cfg_path)
        self._prepare()  # the models now: bad parameters or time steps fail the build
        log.info("population backend: %d populations (%d density, %d rate), %d connections", len(nodes),
                 sum(m.kind == "density" for m in self._models), sum(m.kind == "wilson_cowan" for m in self._models),
                 len(self._conn["target"]))

    def _read_edges(self, network: Any, populations: dict[str, Selection], cfg_path: Any) -> None:
        assert self._options is not None
        dt = self._options.dt
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("source", "virtual", "target", "weight", "nsyns",
                                                                "delay")}
        for ename, epop in network.edges.items():
            if epop.target not in populations or not epop.size:
                continue
            src_pop, where = epop.source, f"{epop.path}: /edges/{ename}"
            src = epop.source_ids()
            tgt = epop.target_ids()
            umap = self._unit_of[epop.target]
            if tgt.max() >= len(umap):
                raise ConfigError(epop.path, f"/edges/{ename}", "edges onto existing nodes", "dangling target ids")
            unit = umap[tgt]
            keep = unit >= 0
            if not keep.any():
                continue
            names = set(epop.attribute_names)
            w = epop.column("syn_weight") if "syn_weight" in names else None
            if w is None:
                raise ConfigError(epop.path, f"/edges/{ename}: syn_weight",
                                  "a syn_weight per edge or edge type (mV jump for densities)", "none")
            w = np.asarray(w, dtype=float)
            ns = np.asarray(epop.column("nsyns"), dtype=float) if "nsyns" in names else np.ones(len(src))
            ns = np.where(np.isnan(ns), 1.0, ns)
            d = np.asarray(epop.column("delay"), dtype=float) if "delay" in names else np.zeros(len(src))
            d = np.where(np.isnan(d), 0.0, d)
            for key, arr, what in (("syn_weight", w, "finite weights"), ("nsyns", ns, "non-negative synapse counts"),
                                   ("delay", d, "non-negative delays")):
                bad = ~np.isfinite(arr) if key == "syn_weight" else ~(np.isfinite(arr) & (arr >= 0))
                if bad.any():
                    raise ConfigError(epop.path, f"/edges/{ename}: {key}", what,
                                      f"{arr[bad][:3].tolist()} (edge ids {np.flatnonzero(bad)[:3].tolist()})")
            if src_pop in populations:
                smap = self._unit_of[src_pop]
                if src.max() >= len(smap):
                    raise ConfigError(epop.path, f"/edges/{ename}", "edges from existing nodes", "dangling source ids")
                s_unit, s_virt = smap[src], np.full(len(src), -1, dtype=np.int64)
                keep &= s_unit >= 0
            else:
                s_unit, s_virt = np.full(len(src), -1, dtype=np.int64), self._virtual_index(src_pop, src, where)
            idx = np.flatnonzero(keep)
            scale_w = np.array([self._models[u].weight_scale for u in unit[idx]])
            scale_d = np.array([self._models[u].delay_scale for u in unit[idx]])
            cols["source"].append(s_unit[idx])
            cols["virtual"].append(s_virt[idx])
            cols["target"].append(unit[idx])
            cols["weight"].append(w[idx] * scale_w)
            cols["nsyns"].append(ns[idx])
            cols["delay"].append(d[idx] * scale_d)
        c = {k: (np.concatenate(v) if v else np.empty(0)) for k, v in cols.items()}
        for k in ("source", "virtual", "target"):
            c[k] = c[k].astype(np.int64)
        steps = np.rint(c["delay"] / dt).astype(np.int64)
        if len(steps) and (steps < 1).any():
            log.info("%d connections with delay < dt = %g ms act after one step", int((steps < 1).sum()), dt)
        c["steps"] = np.maximum(steps, 1)
        self._conn = c

    def _virtual_index(self, population: str, node_ids: np.ndarray, where: str) -> np.ndarray:
        pop = self._network.nodes.get(population)
        if pop is None:
            raise ConfigError(None, where, "a source node population of the network", repr(population))
        vmap = self._virtual_of.setdefault(population, np.full(int(pop.node_ids.max()) + 1, -1, dtype=np.int64))
        if node_ids.max() >= len(vmap):
            raise ConfigError(None, where, "edges from existing nodes", "dangling source ids")
        new = np.unique(node_ids[vmap[node_ids] < 0])
        vmap[new] = np.arange(len(self._sources), len(self._sources) + len(new))
        for nid in new.tolist():
            self._sources.append(_Source())
            self._virtual_ids.append((population, nid))
        return vmap[node_ids]

    def _sources_of(self, population: str, node_ids: np.ndarray) -> list[_Source | None]:
        vmap = self._virtual_of.get(population)
        out: list[_Source | None] = []
        for nid in np.asarray(node_ids, dtype=np.int64).tolist():
            k = vmap[nid] if vmap is not None and nid < len(vmap) else -1
            out.append(self._sources[k] if k >= 0 else None)
        return out

    # ---------------------------------------------------------------- inputs
    def add_rates(self, population: str, node_ids: np.ndarray, times: np.ndarray, rates: np.ndarray,
                  interpolation: str = "step") -> None:
        """Give virtual nodes input rates.

        Parameters
        ----------
        population : str
        node_ids : array of int
            Virtual nodes (their edges carry the rate into populations).
        times : array of float
            Change times (ms), non-decreasing; the rate is 0 before ``times[0]`` and holds
            its last value after the last time.
        rates : array of float
            Hz, shape ``(len(times),)`` (the same for every node) or ``(len(times), len(node_ids))``.
        interpolation : {"step", "linear"}

        Raises
        ------
        ConfigError
            Negative or non-finite rates, decreasing times, mismatched shapes, unknown interpolation.
        """
        t = np.asarray(times, dtype=float).reshape(-1)
        r = np.asarray(rates, dtype=float)
        if r.ndim == 1:
            r = np.broadcast_to(r[:, None], (len(r), len(node_ids)))
        if self.popnet is not None:  # one rate per external population (node type): its first node's
            self._check_rates(population, t, r, node_ids, interpolation)
            ext = self.popnet.externals_of(population, node_ids)
            for k in np.unique(ext[ext >= 0]).tolist():
                col = int(np.flatnonzero(ext == k)[0])
                self.popnet.set_schedule(k, t, np.ascontiguousarray(r[:, col]), interpolation)
            return
        self._check_rates(population, t, r, node_ids, interpolation)
        unused = 0
        for k, src in enumerate(self._sources_of(population, node_ids)):
            if src is None:
                unused += 1
                continue
            src.pieces.append((t, np.ascontiguousarray(r[:, k]), interpolation))
        if unused:
            log.warning("rates for %d nodes of %s that connect to no population; ignored", unused, population)

    @staticmethod
    def _check_rates(population: str, t: np.ndarray, r: np.ndarray, node_ids: np.ndarray,
                     interpolation: str) -> None:
        if r.shape != (len(t), len(node_ids)):
            raise ConfigError(None, f"rates of {population}", f"{len(t)} rates per node (one per time)",
                              f"shape {r.shape}")
        if not (np.isfinite(r).all() and (r >= 0).all()):
            raise ConfigError(None, f"rates of {population}", "non-negative finite firing rates (Hz)",
                              str(r[~(np.isfinite(r) & (r >= 0))][:3].tolist()))
        if not np.isfinite(t).all() or (len(t) > 1 and (np.diff(t) < 0).any()):
            raise ConfigError(None, f"rates of {population}: times", "finite non-decreasing times (ms)", str(t[:5]))
        if interpolation not in ("step", "linear"):
            raise ConfigError(None, f"rates of {population}: interpolation", "'step' or 'linear'", repr(interpolation))

    def add_spike_trains(self, population: str, node_ids: np.ndarray, trains: dict[int, np.ndarray]) -> None:
        """Spike trains of virtual nodes, delivered as their rate binned per step (each spike counts once).

        Under PopNet semantics an external population gets bmtk's constant rate: the mean spike count of its
        nodes that spike, over the span (first to last spike) of their spikes.

        Parameters
        ----------
        population : str
            The virtual population.
        node_ids : numpy.ndarray of int
            Its nodes that get trains.
        trains : dict of int to numpy.ndarray
            Spike times (ms) by node id.

        Raises
        ------
        ConfigError
            Under PopNet semantics, all spikes of an external population at one time.
        """
        if self.popnet is not None:
            ext = self.popnet.externals_of(population, node_ids)
            for k in np.unique(ext[ext >= 0]).tolist():
                mine = np.asarray(node_ids)[ext == k].tolist()
                got = [np.asarray(trains[nid], dtype=float) for nid in mine if nid in trains and len(trains[nid])]
                if not got:
                    continue
                span = max(float(x.max()) for x in got) - min(float(x.min()) for x in got)
                if span <= 0:
                    raise ConfigError(None, f"spikes of {population}", "spikes spread over time (bmtk PopNet's "
                                      "rate is the mean count over the span of the spikes)", "all at one time")
                self.popnet.set_constant(k, 1000.0 * float(np.mean([len(x) for x in got])) / span)
            return
        for nid, src in zip(np.asarray(node_ids).tolist(), self._sources_of(population, node_ids)):
            if src is not None and nid in trains and len(trains[nid]):
                src.spikes.append(np.sort(np.asarray(trains[nid], dtype=float)))

    def add_current_clamp(self, population: str, node_ids: np.ndarray, times: np.ndarray,
                          amplitudes: np.ndarray, kind: str = "ic") -> None:
        # no file or key: simulate() names the config and the input (inputs.<name>) that asked
        raise ConfigError(None, None,
                          "rate inputs for population models (input_type 'rates' or 'csv'/'pop_rates' on virtual "
                          "nodes connected to the populations); a density population takes a constant current as "
                          "its I_e parameter", f"a current clamp on {population}")

    # --------------------------------------------------------------- reports
    def record_variables(self, population: str, node_ids: np.ndarray, variables: Sequence[str], dt: float,
                         start: float, stop: float) -> RateRecorder:
        assert self._options is not None
        bad = [v for v in variables if v not in RATE_VARIABLES]
        if self.popnet is not None and not bad:  # a node reports the rate of its node type's population
            unit_of, model_dt = self.popnet.node_pop[population], self.popnet.dt_ms
        elif bad:
            raise ConfigError(getattr(self._config, "path", None), f"reports: variable_name {bad}",
                              f"a variable of population models ({', '.join(RATE_VARIABLES)}: rate in Hz)", str(bad))
        else:
            unit_of, model_dt = self._unit_of[population], self._options.dt
        cols = unit_of[np.asarray(node_ids, dtype=np.int64)]
        if (cols < 0).any():
            raise ConfigError(None, f"reports: cells of {population}", "population nodes", "other nodes")
        rec = RateRecorder(population, np.asarray(node_ids, dtype=np.int64), cols, variables, dt, start, stop,
                           model_dt, self._options.tstart)
        self._recorders.append(rec)
        return rec

    def collect_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {p: (np.empty(0, np.int64), np.empty(0)) for p in self._unit_of}

    # ------------------------------------------------------------------ time
    def _prepare(self) -> None:
        opts = self._options
        assert opts is not None
        c = self._conn
        n = len(self._models)
        dens = [u for u in range(n) if self._models[u].kind == "density"]
        wc = np.asarray([u for u in range(n) if self._models[u].kind == "wilson_cowan"], dtype=np.int64)
        # density inputs: one column per (target unit, distinct weight)
        col = np.full(len(c["target"]), -1, dtype=np.int64)
        ncol = 0
        self._density = []
        for u in dens:
            m = self._models[u]
            mine = np.flatnonzero((c["target"] == u) & (c["weight"] != 0))
            wts, inv = np.unique(c["weight"][mine], return_inverse=True)
            col[mine] = ncol + inv
            p = m.params
            where = f"population {self.unit_population[u]} node {int(self.unit_node[u])}"
            model = LIFDensity(tau_m=p["tau_m"], V_th=p["V_th"], V_reset=p["V_reset"], E_L=p["E_L"],
                               t_ref=p["t_ref"], weights=wts, dt=opts.dt, dv=p["dv"], v_min=p["v_min"],
                               I_e=p["I_e"], C_m=p["C_m"], V_m=p["V_m"], where=where)
            self._density.append((u, model, np.arange(ncol, ncol + len(wts))))
            ncol += len(wts)
        self._ncol = ncol
        self._col = col
        self._wc_units = wc
        if len(wc):
            ps = [self._models[u].params for u in wc.tolist()]
            col_of = {k: np.array([p[k] for p in ps], dtype=float) for k in ("tau", "r_max", "theta", "gain",
                                                                                "I_ext", "r0")}
            self._wc = WilsonCowan(**col_of, transfer=[p["transfer"] for p in ps], dt=opts.dt,
                                   where=[f"population {self.unit_population[u]} node {int(self.unit_node[u])}"
                                          for u in wc.tolist()])
        self._is_wc = np.zeros(len(c["target"]), dtype=bool)
        if len(wc):
            self._is_wc = np.isin(c["target"], wc)
        self._wc_pos = np.full(n, -1, dtype=np.int64)
        self._wc_pos[wc] = np.arange(len(wc))
        self._dmax = int(c["steps"].max()) if len(c["steps"]) else 1
        self._rate = np.zeros(n)
        if self._wc is not None:
            self._rate[wc] = self._wc.r
        self._hist = np.tile(self._rate, (self._dmax + 1, 1))  # rates of the last dmax + 1 steps (ring)
        self._from_unit = c["source"] >= 0
        self._ready = True

    def _virtual_window(self, n0: int, n1: int) -> tuple[int, np.ndarray]:
        """Rates (Hz) of every virtual source over the steps ``[n0 - dmax, n1)``: (first step, array)."""
        opts = self._options
        assert opts is not None
        a = n0 - self._dmax
        t0 = opts.tstart + np.arange(a, n1) * opts.dt
        table = np.zeros((n1 - a, len(self._sources)))
        for k, s in enumerate(self._sources):
            if s.pieces or s.spikes:
                table[:, k] = s.rates(t0, opts.dt)
        table[t0 < opts.tstart - 1e-9] = 0.0
        return a, table

    def run_until(self, t: float) -> None:
        opts = self._options
        assert opts is not None
        if self.popnet is not None:
            n0 = self.popnet.step_index
            out = self.popnet.run_until(t)
            for rec in self._recorders:
                rec.feed(n0, out)
            return
        if not self._ready:
            self._prepare()
        n1 = min(opts.n_steps, int(round((t - opts.tstart) / opts.dt)))
        n0 = self._step
        if n1 <= n0:
            return
        c = self._conn
        a, vtab = self._virtual_window(n0, n1)
        out = np.empty((n1 - n0, len(self._rate)))
        L = self._dmax + 1
        steps = c["steps"]
        src_u, src_v, fu = c["source"], c["virtual"], self._from_unit
        wfac = np.where(self._is_wc, c["weight"] * c["nsyns"], c["nsyns"])
        dmask = self._col >= 0
        for n in range(n0, n1):
            srcrate = np.where(fu, self._hist[(n - steps) % L, np.maximum(src_u, 0)],
                               vtab[n - steps - a, np.maximum(src_v, 0)] if len(self._sources) else 0.0)
            val = wfac * srcrate
            rate = self._rate
            if self._density:
                nu = np.bincount(self._col[dmask], weights=val[dmask], minlength=self._ncol)
                for u, model, cols in self._density:
                    rate[u] = model.step(nu[cols])
            if self._wc is not None:
                x = np.bincount(self._wc_pos[c["target"][self._is_wc]], weights=val[self._is_wc],
                                minlength=len(self._wc_units))
                rate[self._wc_units] = self._wc.step(x)
            self._hist[n % L] = rate
            out[n - n0] = rate
        self._step = n1
        for rec in self._recorders:
            rec.feed(n0, out)

    @property
    def rates(self) -> np.ndarray:
        """The firing rate (Hz) of every population over the last step, in unit order."""
        if self.popnet is not None:
            return np.array([p.rate for p in self.popnet.pops])
        return self._rate.copy()

    @property
    def units(self) -> list[tuple[str, int]]:
        """``(population, node_id)`` of every simulated population, in unit order."""
        return list(zip(self.unit_population, self.unit_node.tolist()))

    def close(self) -> None:
        self._recorders = []
        self._density = []
