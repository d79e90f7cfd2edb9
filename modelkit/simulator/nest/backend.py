"""NEST backend: vectorised Create per node type, Connect on arrays per edge type, devices for inputs and reports."""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np

from modelkit.errors import BackendUnavailableError, ConfigError, ModelkitError, UnknownModelError
from modelkit.simulator.base import RunOptions
from modelkit.simulator.named_functions import call_weight_function, get_cell_model, get_weight_function
from modelkit.simulator.nest.glif import convert_allen_glif, is_allen_glif, legacy_glif
from modelkit.simulator.nest.params import load_params, model_name
from modelkit.sonata import Network, Selection, SimulationConfig
from modelkit.sonata.simcheck import attribute_file  # NaN in a types CSV: name the CSV

__all__ = ["NestBackend"]

log = logging.getLogger("modelkit.simulator.nest")

#: SONATA current clamps are in nA (NEURON's unit); NEST's current generators take pA
NA_TO_PA = 1000.0
#: units of common NEST recordables (written into report files)
UNITS = {"V_m": "mV", "V_th": "mV", "I_syn": "pA", "I_syn_ex": "pA", "I_syn_in": "pA", "g_ex": "nS", "g_in": "nS",
         "w": "pA", "ASCurrents_sum": "pA"}
_CHUNK = 1 << 22  # edges connected per Connect call at most
_MAX_DELAY_MODELS = 256  # synapse model copies for constant delays at most (then per-edge delay arrays)
#: bytes of ring buffers a run's longest delay may cost: NEST keeps max_delay / dt slots per cell and input
#: buffer (measured: 10 cells with a delay of 10^6 ms at dt = 0.1 ms took 1.8 GB), so a delay of 10^8 ms
#: allocates terabytes before the first step
_MAX_RING_BYTES = 2 << 30
#: synapse models a spike generator may send through directly (others are relayed by a parrot neuron)
_DEVICE_SYNAPSES = frozenset({"static_synapse", "static_synapse_hom_w"})


def _events(device: Any) -> dict:
    """A recorder's events, emptied afterwards.

    Through NEST's low-level calls: the high-level ``get``/``set`` fetch the whole status
    (every recorded event) several times over, seconds per call for a busy multimeter.
    """
    try:
        from nest import nestkernel_api as nk
        ev = nk.llapi_get_nc_status(device._datum, "events")
        nk.llapi_set_nc_status(device._datum, [{"n_events": 0}])
        return ev
    except (ImportError, AttributeError):  # pragma: no cover - other NEST versions
        ev = device.get("events")
        device.set(n_events=0)
        return ev


def _check_main_thread() -> None:
    import threading
    if threading.current_thread() is not threading.main_thread():
        # NEST keeps per-thread (OpenMP) state: a process that ran NEST from a helper thread crashes at its
        # next NEST call from the main thread (a segfault in ResetKernel, reproduced with NEST 3.10)
        raise BackendUnavailableError(
            f"NEST runs only in the main thread of a process, not in thread {threading.current_thread().name!r}: "
            f"call simulate() from the main thread, or run it in its own process "
            f"(modelkit.cluster.run_local, or an ipyparallel engine with run_on_cluster)")


def _import_nest() -> Any:
    os.environ.setdefault("PYNEST_QUIET", "1")
    try:
        import nest
    except ImportError as e:  # pragma: no cover - nest-simulator is a dependency
        raise BackendUnavailableError(f"NEST cannot be imported ({e}); pip install nest-simulator") from e
    try:
        nest.verbosity = nest.VerbosityLevel.ERROR
    except AttributeError:  # older NEST 3
        nest.set_verbosity("M_ERROR")
    return nest


class _Recorder:
    """A multimeter on some cells; ``collect`` returns frames since the last call (memory stays bounded)."""

    def __init__(self, nest: Any, device: Any, population: str, node_ids: np.ndarray, nest_ids: np.ndarray,
                 variables: Sequence[str], dt: float, start: float, stop: float) -> None:
        self._nest = nest
        self.device = device
        self.population = population
        self.node_ids = node_ids
        self.variables = tuple(variables)
        self.time_window = (start + dt, stop + dt, dt)  # NEST samples in (start, stop]
        self.units = {v: UNITS.get(v, "") for v in variables}
        order = np.argsort(nest_ids)
        self._sorted_nest = nest_ids[order]
        self._col = order
        self._lut = None  # NEST id -> column: a gather, several times faster than searchsorted per sample
        if len(nest_ids) and int(nest_ids.max()) < 1 << 24:
            self._lut = np.zeros(int(nest_ids.max()) + 1, dtype=np.int64)
            self._lut[nest_ids[order]] = order

    def collect(self) -> dict[str, np.ndarray]:
        ev = _events(self.device)
        times = np.asarray(ev["times"], dtype=float)
        n = len(self.node_ids)
        if len(times) == 0:
            return {v: np.empty((0, n)) for v in self.variables}
        senders = np.asarray(ev["senders"])
        col = self._lut[senders] if self._lut is not None else \
            self._col[np.searchsorted(self._sorted_nest, senders)]
        row = np.rint((times - times.min()) / self.time_window[2]).astype(np.int64)  # samples on the dt grid
        out = {}
        for v in self.variables:
            a = np.full((int(row.max()) + 1, n), np.nan)
            a[row, col] = np.asarray(ev[v], dtype=float)
            out[v] = a
        return out


class _WeightRecorder:
    """A NEST ``weight_recorder`` on chosen synapses; ``collect`` returns the events since the last call."""

    def __init__(self, name: str, edges: dict[str, list[int] | None], synapse_model: str | None,
                 alias: str | None) -> None:
        self.name = name
        self.edges = {k: (None if v is None else [int(x) for x in v]) for k, v in edges.items()}
        self.synapse_model = synapse_model
        self.alias = alias
        self.device: Any = None
        self.backend: Any = None
        self.n_types = 0

    def attach(self, nest: Any, backend: Any, k: int) -> None:
        self.backend = backend
        self.device = nest.Create("weight_recorder")
        if self.alias:
            if self.synapse_model not in nest.synapse_models:
                close = difflib.get_close_matches(str(self.synapse_model), list(nest.synapse_models), n=5)
                raise UnknownModelError(f"reports.{self.name}.nest_model: NEST has no synapse model "
                                        f"{self.synapse_model!r}; close names: {close}")
            nest.CopyModel(self.synapse_model, self.alias, {"weight_recorder": self.device})
            backend._model_base[self.alias] = self.synapse_model

    def collect(self) -> dict[str, np.ndarray]:
        """``source_population``, ``source_node_id``, ``target_population``, ``target_node_id`` (int arrays;
        populations index :attr:`NestBackend.populations`), ``time`` (ms), ``weight``."""
        ev = _events(self.device)
        sp, sn = self.backend.nest_to_nodes(np.asarray(ev["senders"], dtype=np.int64))
        tp, tn = self.backend.nest_to_nodes(np.asarray(ev["targets"], dtype=np.int64))
        return {"source_population": sp, "source_node_id": sn, "target_population": tp, "target_node_id": tn,
                "time": np.asarray(ev["times"], dtype=float), "weight": np.asarray(ev["weights"], dtype=float)}


class NestBackend:
    """Point neurons in NEST, built from SONATA columns.

    * nodes: one ``nest.Create`` per node type (and model_template), parameters from the
      ``dynamics_params`` JSON in ``point_neuron_models_dir`` plus per-node HDF5 overrides;
      Allen GLIF files are converted for ``glif_psc`` / ``glif_cond``;
    * edges: ``nest.Connect`` on id arrays per edge type, ``weight = syn_weight x nsyns``
      (or a registered ``weight_function``), per-edge or per-type ``delay`` (ms), synapse model
      from ``model_template`` and its parameters from ``synaptic_models_dir``;
    * virtual nodes: ``spike_generator`` s with ``precise_times`` (as bmtk), connected when an
      input gives them spikes;
    * current clamps: ``step_current_generator``, connected with a delay of one step (as bmtk); the
      amplitudes are read in pA by default (:attr:`default_clamp_units`).
    """

    name: ClassVar[str] = "nest"
    model_types: ClassVar[frozenset[str]] = frozenset({"point_neuron", "point_process"})
    description: ClassVar[str] = "NEST (point neurons)"
    #: unit of a current clamp's amplitudes unless the input or the ``clamp_units`` option says otherwise:
    #: bmtk hands ``amp`` to NEST unchanged, so every PointNet config is tuned in pA
    default_clamp_units: ClassVar[str] = "pA"
    #: NEST adds no input or report modules of its own (``weight_recorder`` is generic, for backends that
    #: record weights)
    input_modules: ClassVar[dict[tuple[str, str], str]] = {}
    report_modules: ClassVar[dict[str, str]] = {}

    @classmethod
    def check(cls, cfg: Any, net: Any, built: dict[str, Selection]) -> list[ModelkitError]:
        """What NEST would refuse: see :mod:`modelkit.simulator.nest.checks`."""
        from modelkit.simulator.nest.checks import check
        return check(cfg, net, built)

    @classmethod
    def is_available(cls) -> bool:
        import importlib.util
        import threading
        if threading.current_thread() is not threading.main_thread():
            # importing NEST off the main thread already breaks the process (see _check_main_thread): only
            # look for the package; build() then refuses the thread with a clear error
            try:
                return importlib.util.find_spec("nest") is not None
            except (ImportError, ValueError):
                return False
        try:  # on the main thread, import it: NEST refusing an MPI launcher is found before any output exists
            _import_nest()
            return True
        except BackendUnavailableError:
            return False

    def __init__(self) -> None:
        self.nest: Any = None
        self._gid: dict[str, np.ndarray] = {}  # population -> nest id per node id (-1: not built)
        self._gen: dict[str, np.ndarray] = {}  # population -> spike generator per node id
        self._relay: dict[str, np.ndarray] = {}  # population -> parrot relay per node id (plastic synapses)
        self._gen_model: dict[str, np.ndarray] = {}  # population -> the synapse model each generator sends through
        self._model_base: dict[str, str] = {}  # synapse models copied here -> the NEST model they copy
        self._delay_models: dict[tuple[str, float], str] = {}  # (model, constant delay) -> its copy
        self._recorders: dict[str, Any] = {}
        self._nest2node = np.empty(0, np.int64)
        self._nest2pop = np.empty(0, np.int64)
        self._pops: list[str] = []
        self._network: Any = None
        self._config: Any = None
        self._options: RunOptions | None = None
        self._weight_requests: list[_WeightRecorder] = []
        self._node_frames: dict = {}  # node tables weight functions read, across edge types
        self._nest2any_node = np.empty(0, np.int64)
        self._nest2any_pop = np.empty(0, np.int64)
        self._all_pops: list[str] = []
        self._wr_models: dict[tuple[int, str], str] = {}  # (request, synapse model) -> recorded copy

    @property
    def n_processes(self) -> int:
        """NEST's MPI processes (1 for the PyPI wheel, built with threads only)."""
        return int(self.nest.NumProcesses()) if self.nest is not None else 1

    # ----------------------------------------------------------------- build
    def build(self, network: Network, populations: dict[str, Selection], options: RunOptions,
              config: SimulationConfig) -> None:
        """Create the NEST nodes of ``populations`` (and spike generators for virtual ones) and connect them.

        Parameters
        ----------
        network : Network
            The loaded circuit.
        populations : dict of str to Selection
            The node ids to build, by population.
        options : RunOptions
            Run settings (``dt`` in ms, threads, seed).
        config : SimulationConfig
            The run's config (``components``: ``point_neuron_models_dir``, ``synaptic_models_dir``,
            ``nest_modules``).

        Raises
        ------
        ModelkitError
            An unknown model, a parameter NEST refuses or a bad edge column, naming the file.
        """
        _check_main_thread()
        nest = self.nest = _import_nest()
        self._network, self._config, self._options = network, config, options
        nest.ResetKernel()
        nest.set(resolution=options.dt, local_num_threads=options.threads, rng_seed=options.seed % (2**31 - 2) + 1,
                 print_time=False, overwrite_files=True)
        comps = getattr(config, "components", {}) if config is not None else {}
        self._cells_dir = comps.get("point_neuron_models_dir")
        self._syn_dir = comps.get("synaptic_models_dir")
        for mod in _as_list(comps.get("nest_modules") or getattr(config, "raw", {}).get("components", {}).get(
                "nest_modules")):
            nest.Install(mod)
        for k, req in enumerate(self._weight_requests):
            req.attach(nest, self, k)
        for name, pop in network.nodes.items():
            if name in populations:
                self._create(name, pop, populations[name])
        self._index_nest_ids()
        for name, sel in populations.items():
            sr = nest.Create("spike_recorder")
            nest.Connect(self._nest_of(name, sel.flat), sr)
            self._recorders[name] = sr
        for ename, epop in network.edges.items():
            if epop.source in populations and epop.target in populations:
                self._connect(ename, epop, built_sources=True)
        if options.tstart > 0:
            nest.Simulate(options.tstart)

    def _create(self, name: str, pop: Any, sel: Selection) -> None:
        ids = sel.flat
        self._gid.setdefault(name, np.full(int(pop.node_ids.max()) + 1 if pop.size else 0, -1, dtype=np.int64))
        tids = pop.column("node_type_id", ids)
        templates = pop.column_or("model_template", ids)
        dyn = pop.column_or("dynamics_params", ids)
        overrides = pop.dynamics_params(ids) if pop.dynamics_attribute_names else None
        _, first = np.unique(tids, return_index=True)
        for t in tids[np.sort(first)].tolist():  # node types in order of first appearance (as bmtk)
            in_type = tids == t
            keys = [str(x) for x in templates[in_type]]
            for tmpl in dict.fromkeys(keys):
                rows = np.flatnonzero(in_type)[np.asarray(keys) == tmpl]
                where = f"{pop.path}: /nodes/{name} node_type_id {t}"
                model = model_name(None if tmpl == "None" else tmpl, f"{where}: model_template")
                params = load_params(dyn[rows[0]], self._cells_dir, f"{where}: dynamics_params")
                legacy = legacy_glif(model)
                if legacy is not None:  # NEST 2 names (glif_lif_asc_psc, ...): glif_psc/glif_cond + flags
                    model, flags = legacy
                    if not is_allen_glif(params):
                        params = {**flags, **params}
                if is_allen_glif(params):
                    params = convert_allen_glif(params, model, str(dyn[rows[0]]),
                                                legacy[1] if legacy is not None else None)
                if overrides is not None:
                    for col in overrides.columns:
                        vals = overrides[col].to_numpy()[rows]
                        missing = _isnan(vals)
                        if np.all(missing):
                            continue
                        vals = vals.astype(float)
                        if np.any(missing):  # nodes without an override keep the type's value (or NEST's default)
                            base: Any = params.get(col)
                            if base is None and model in self.nest.node_models:
                                base = self.nest.GetDefaults(model).get(col)
                            if base is None or not np.isscalar(base):
                                raise ConfigError(None, f"{where}: dynamics_params.{col}",
                                                  "a value for every node of the type, or one in the type's "
                                                  "parameters to fall back on", "overrides for some nodes only")
                            vals[missing] = float(cast(Any, base))  # np.isscalar narrows base too far
                        params[col] = vals.tolist()
                self._gid[name][ids[rows]] = self._make(model, tmpl, len(rows), params, where)

    def _make(self, model: str, template: str, n: int, params: dict, where: str) -> np.ndarray:
        nest = self.nest
        hook = get_cell_model(template)
        if hook is not None:
            cells = hook(model, n, params)
        else:
            if model not in nest.node_models:
                close = difflib.get_close_matches(model, list(nest.node_models), n=5)
                raise UnknownModelError(f"{where}: NEST has no model {model!r}; close names: {close}")
            try:
                cells = nest.Create(model, n, params=params or None)
            except Exception as e:  # NEST raises its own error classes
                raise ConfigError(None, where, f"parameters NEST's {model} accepts", f"{type(e).__name__}: {e}") from e
        return _ids_of(cells)

    def _index_nest_ids(self) -> None:
        top = max([int(g.max()) for g in self._gid.values() if g.size] + [0])
        self._nest2node = np.full(top + 1, -1, dtype=np.int64)
        self._nest2pop = np.full(top + 1, -1, dtype=np.int64)
        self._pops = list(self._gid)
        for k, g in enumerate(self._gid.values()):
            built = np.flatnonzero(g >= 0)
            self._nest2node[g[built]] = built
            self._nest2pop[g[built]] = k

    def _nest_of(self, population: str, node_ids: np.ndarray) -> Any:
        g = self._gid[population][node_ids]
        return self.nest.NodeCollection(sorted(g.tolist())) if len(g) else self.nest.NodeCollection([])

    # ----------------------------------------------------------------- edges
    def _connect(self, ename: str, epop: Any, built_sources: bool, source_ids: np.ndarray | None = None) -> int:
        """Connect an edge population's edges (all, or those from ``source_ids``); returns the count.

        Edges are read in chunks of ``_CHUNK``; a property that the edge-types table holds (not an
        edge group) is looked up once per edge type and broadcast, never materialised per edge
        through the types table.  Edges from some sources only are found through the efferent
        index when they are few, by filtering the chunks otherwise (cheaper than millions of
        index ranges).
        """
        assert self._options is not None
        src_map = self._gid[epop.source] if built_sources else self._gen[epop.source]
        tgt_map = self._gid[epop.target]
        props = ("syn_weight", "nsyns", "delay", "model_template", "dynamics_params", "weight_function")
        in_groups = set().union(*(gi.attributes for gi in epop.layout.groups.values()))
        types = epop.types if epop.layout.has_type_id else None
        per_edge = [c for c in props if c in in_groups]
        per_type = [c for c in props if c not in in_groups and types is not None and c in types.columns]
        wanted = None
        if source_ids is None or (len(source_ids) * 4 >= len(src_map) or not epop.has_index):
            sels = [Selection([(a, min(epop.size, a + _CHUNK))]) for a in range(0, epop.size, _CHUNK)]
            if source_ids is not None:
                wanted = np.zeros(len(src_map), dtype=bool)
                wanted[source_ids] = True
        else:
            sels = [epop.efferent_edges(source_ids)]
        n = 0
        for sel in sels:
            if not len(sel):
                continue
            src = epop.source_ids(sel)
            tgt = epop.target_ids(sel)
            et = epop.type_ids(sel) if epop.layout.has_type_id else np.zeros(len(src), np.int64)
            cols = {c: epop.simulation_column(c, sel) for c in per_edge}
            eids = sel.flat
            if wanted is not None:
                if src.size and src.max() >= len(wanted):
                    raise ConfigError(epop.path, f"/edges/{ename}", "edges between existing nodes",
                                      "dangling node ids")
                keep = wanted[src]
                if not keep.all():
                    src, tgt, et, eids = src[keep], tgt[keep], et[keep], eids[keep]
                    cols = {k: v[keep] for k, v in cols.items()}
                if not len(src):
                    continue
            type_list = _distinct(et)
            for t in type_list:
                m = et == t if len(type_list) > 1 else slice(None)
                k = len(src) if isinstance(m, slice) else int(np.count_nonzero(m))
                tcols = {c: v[m] for c, v in cols.items()}
                if per_type:
                    tcols.update({c: np.broadcast_to(v, (k,)) for c, v in epop.type_values(t, per_type).items()})
                where = f"/edges/{ename} edge_type_id {t}"
                n += self._connect_type(epop, ename, src[m], tgt[m], tcols, src_map, tgt_map, where, eids[m],
                                        type_id=int(t))
        return n

    def _connect_type(self, epop: Any, ename: str, src: np.ndarray, tgt: np.ndarray, cols: dict, src_map: np.ndarray,
                      tgt_map: np.ndarray, where: str, eids: np.ndarray, type_id: int = -1) -> int:
        nest = self.nest
        assert self._options is not None
        if src.max() >= len(src_map) or tgt.max() >= len(tgt_map):
            raise ConfigError(epop.path, f"/edges/{ename}", "edges between existing nodes", "dangling node ids")
        s_nest, t_nest = src_map[src], tgt_map[tgt]
        keep = (s_nest >= 0) & (t_nest >= 0)  # edges onto virtual targets have nothing to drive
        if not keep.all():
            src, tgt, s_nest, t_nest, eids = src[keep], tgt[keep], s_nest[keep], t_nest[keep], eids[keep]
            cols = {k: v[keep] for k, v in cols.items()}
        if len(src) == 0:
            return 0
        model = model_name(cols["model_template"][0] if "model_template" in cols else "static_synapse",
                           f"{epop.path}: {where}: model_template")
        if model not in self.nest.synapse_models:
            close = difflib.get_close_matches(model, list(self.nest.synapse_models), n=5)
            raise UnknownModelError(f"{epop.path}: {where}: NEST has no synapse model {model!r}; close names: {close}")
        model = self._recorded_model(ename, type_id, model, where)
        spec = load_params(cols["dynamics_params"][0] if "dynamics_params" in cols else None, self._syn_dir,
                           f"{epop.path}: {where}: dynamics_params")
        spec["synapse_model"] = model
        spec["weight"] = self._weights(epop, cols, src, tgt, eids, where)
        if "delay" in cols:
            d = np.asarray(cols["delay"], dtype=float)
            if np.isnan(d).any():
                raise ConfigError(attribute_file(epop, "delay"), f"{where}: delay", "a delay (ms) for every edge",
                                  "NULL")
            if d.min() < self._options.dt - 1e-12:
                raise ConfigError(epop.path, f"{where}: delay", f"delays >= the resolution dt = {self._options.dt} ms",
                                  f"{d.min()} ms")
            self._check_ring_buffers(epop, where, float(d.max()))
            if d[0] == d.min() == d.max() and len(self._delay_models) < _MAX_DELAY_MODELS \
                    and src_map is not self._gen.get(epop.source):
                # one delay for the whole edge type: a model copy with it as default, since NEST
                # connects about twice as fast without a per-edge delay array (not for spike
                # generators: a device sends through one synapse model only)
                model = spec["synapse_model"] = self._delay_model(model, float(d[0]))
                spec.pop("delay", None)
            else:
                spec["delay"] = d
        elif "delay" not in spec:
            log.warning("%s: no delay given; NEST's default delay of %s is used", where, model)
        if src_map is self._gen.get(epop.source):
            # A device sends through one synapse model only, and plastic synapses need a neuron
            # (with a spike history) as source: such edges from virtual nodes are relayed.
            used = self._gen_model.setdefault(epop.source, np.full(len(src_map), None, dtype=object))
            direct = np.zeros(len(src), dtype=bool)
            if self._model_base.get(model, model) in _DEVICE_SYNAPSES:
                first = used[src] == None  # noqa: E711 - elementwise
                used[src[first]] = model
                direct = used[src] == model
            if not direct.all():
                relay = ~direct
                self._connect_relayed(epop, src[relay], t_nest[relay], _take(spec, relay), where)
                if not direct.any():
                    return len(src)
                s_nest, t_nest, spec = s_nest[direct], t_nest[direct], _take(spec, direct)
        try:
            nest.Connect(s_nest, t_nest, "one_to_one", syn_spec=spec)
        except Exception as e:
            raise ConfigError(epop.path, where, f"synapse parameters NEST's {model} accepts",
                              f"{type(e).__name__}: {e}") from e
        return len(src)

    def _check_ring_buffers(self, epop: Any, where: str, delay: float) -> None:
        """Refuse a delay whose ring buffers (``delay / dt`` slots of 8 bytes, two buffers per cell at least)
        would not fit in :data:`_MAX_RING_BYTES`: NEST would allocate them, or die trying, before any step."""
        assert self._options is not None
        cells = sum(int(np.count_nonzero(g >= 0)) for g in self._gid.values())
        need = max(1, cells) * (delay / self._options.dt) * 16.0
        if need > _MAX_RING_BYTES:
            limit = _MAX_RING_BYTES / (max(1, cells) * 16.0) * self._options.dt
            raise ConfigError(epop.path, f"{where}: delay",
                              f"delays up to {limit:.4g} ms for {cells} cells at dt = {self._options.dt} ms "
                              f"(NEST keeps delay / dt ring-buffer slots per cell: {need / 2**30:.3g} GiB)",
                              f"{delay:g} ms")

    def _connect_relayed(self, epop: Any, src: np.ndarray, t_nest: np.ndarray, spec: dict, where: str) -> None:
        nest = self.nest
        assert self._options is not None
        dt = self._options.dt
        d = np.broadcast_to(np.asarray(spec.get("delay", nest.GetDefaults(spec["synapse_model"], "delay")),
                                       dtype=float), (len(src),))
        if d.min() < 2 * dt - 1e-12:
            raise ConfigError(epop.path, f"{where}: delay", f"delays >= 2 dt = {2 * dt} ms for a plastic synapse from "
                              "a virtual node (relayed through a parrot neuron)", f"{d.min()} ms")
        gens = self._gen[epop.source]
        relay = self._relay.setdefault(epop.source, np.full(len(gens), -1, dtype=np.int64))
        new = np.unique(src[relay[src] < 0])
        if len(new):
            parrots = nest.Create("parrot_neuron_ps", len(new))
            relay[new] = _ids_of(parrots)
            nest.Connect(gens[new], relay[new], "one_to_one", syn_spec={
                "synapse_model": "static_synapse", "weight": np.ones(len(new)), "delay": np.full(len(new), dt)})
        spec = dict(spec, delay=np.ascontiguousarray(d - dt))
        try:
            nest.Connect(relay[src], t_nest, "one_to_one", syn_spec=spec)
        except Exception as e:
            raise ConfigError(epop.path, where, f"synapse parameters NEST's {spec['synapse_model']} accepts",
                              f"{type(e).__name__}: {e}") from e

    def _weights(self, epop: Any, cols: dict, src: np.ndarray, tgt: np.ndarray, eids: np.ndarray,
                 where: str) -> np.ndarray:
        fn_name = cols.get("weight_function")
        fn = None
        if fn_name is not None and fn_name[0] is not None and not _isnan(np.asarray([fn_name[0]], object))[0]:
            fn = get_weight_function(str(fn_name[0]))
        if fn is not None:
            assert fn_name is not None
            return call_weight_function(str(fn_name[0]), fn, self._network, epop, src, tgt, eids, where,
                                        self._node_frames)
        if "syn_weight" not in cols:
            raise ConfigError(epop.path, f"{where}: syn_weight", "a syn_weight (edge group or edge-types CSV)", "none")
        w = np.asarray(cols["syn_weight"], dtype=float)
        ns = np.asarray(cols["nsyns"], dtype=float) if "nsyns" in cols else 1.0
        w = w * np.where(np.isnan(ns), 1.0, ns) if np.ndim(ns) else w * ns
        if np.isnan(w).any():
            raise ConfigError(attribute_file(epop, "syn_weight"), f"{where}: syn_weight", "a syn_weight for every edge",
                              "NULL")
        return w

    # ---------------------------------------------------------------- inputs
    def add_spike_trains(self, population: str, node_ids: np.ndarray, trains: dict[int, np.ndarray]) -> None:
        nest = self.nest
        pop = self._network.nodes[population]
        gens = self._gen.setdefault(population, np.full(int(pop.node_ids.max()) + 1, -1, dtype=np.int64))
        new = np.asarray([i for i in node_ids.tolist() if gens[i] < 0], dtype=np.int64)
        if len(new):
            created = nest.Create("spike_generator", len(new), params={"precise_times": True})
            gens[new] = _ids_of(created)
        params = []
        dropped = 0
        now = max(0.0, float(nest.biological_time))
        for i in node_ids.tolist():
            t = np.asarray(trains.get(i, ()), dtype=float)
            ok = t > now
            dropped += int((~ok).sum())
            params.append({"spike_times": t[ok]})
        if dropped:
            log.warning("population %s: %d spike times at or before the start of the run dropped (NEST needs t > 0)",
                        population, dropped)
        if params:  # one call for all generators (NEST sets a list of dicts in order of the collection)
            g = gens[node_ids]
            order = np.argsort(g, kind="stable")
            nest.NodeCollection(g[order].tolist()).set([params[i] for i in order.tolist()])
        for ename, epop in self._network.edges.items():
            if epop.source == population and epop.target in self._gid:
                n = self._connect(ename, epop, built_sources=False, source_ids=new)
                log.info("connected %d edges of %s from spike generators", n, ename)

    def add_current_clamp(self, population: str, node_ids: np.ndarray, times: np.ndarray,
                          amplitudes: np.ndarray, kind: str = "ic", units: str = "nA") -> None:
        """A ``step_current_generator``: ``amplitudes[k]`` (nA, or pA with ``units="pA"``) from ``times[k]`` (ms).

        Connected with a delay of one time step, as bmtk does (NEST's default of 1 ms would start every
        pulse 1 ms late); a change before one step is moved to one step (NEST refuses earlier ones).

        Parameters
        ----------
        population : str
            Node population of the cells.
        node_ids : numpy.ndarray of int
            Cells that receive the current.
        times : numpy.ndarray of float
            When each amplitude starts (ms).
        amplitudes : numpy.ndarray of float
            Current from each time on (nA, or pA).
        kind : str
            ``ic`` (from the config) or ``f_ic`` (from a file), as bmtk's clamp reports name them.
        units : {"nA", "pA"}
            Units of ``amplitudes``.
        """
        nest = self.nest
        assert self._options is not None
        t = np.maximum(np.asarray(times, dtype=float), self._options.dt)
        t, idx = np.unique(t, return_index=True)
        a = np.asarray(amplitudes, dtype=float)[idx] * (1.0 if units == "pA" else NA_TO_PA)
        scg = nest.Create("step_current_generator", params={"amplitude_times": t.tolist(),
                                                            "amplitude_values": a.tolist(),
                                                            "allow_offgrid_times": True})
        nest.Connect(scg, self._nest_of(population, node_ids), syn_spec={"delay": self._options.dt})

    # --------------------------------------------------------------- reports
    def record_variables(self, population: str, node_ids: np.ndarray, variables: Sequence[str], dt: float,
                         start: float, stop: float) -> _Recorder:
        nest = self.nest
        gids = self._gid[population][node_ids]
        model = nest.NodeCollection([int(gids[0])]).get("model")
        recordables = nest.GetDefaults(model).get("recordables", ())
        missing = [v for v in variables if v not in recordables]
        if missing:
            raise ConfigError(None, f"reports: variable_name {missing}",
                              f"a recordable of {model} ({list(recordables)})", str(missing))
        mm = nest.Create("multimeter", params={"record_from": list(variables), "interval": dt, "start": start,
                                              "stop": stop})
        nest.Connect(mm, nest.NodeCollection(sorted(gids.tolist())))
        return _Recorder(nest, mm, population, node_ids, gids, variables, dt, start, stop)

    def record_weights(self, name: str, edges: dict[str, list[int] | None] | None = None,
                       synapse_model: str | None = None, alias: str | None = None) -> "_WeightRecorder":
        """Record the weight of every spike transmitted through some synapses (call before ``build``).

        Parameters
        ----------
        name : str
            The report's name (for messages).
        edges : dict, optional
            ``{edge population: edge_type_ids or None (all types)}`` whose synapses to record.
        synapse_model, alias : str, optional
            bmtk's form: register ``alias`` as a copy of NEST's ``synapse_model`` with the
            recorder attached; edge types whose ``model_template`` is ``alias`` are recorded.
        """
        req = _WeightRecorder(name, edges or {}, synapse_model, alias)
        self._weight_requests.append(req)
        return req

    def _delay_model(self, model: str, delay: float) -> str:
        copy = self._delay_models.get((model, delay))
        if copy is None:
            copy = f"{model}__modelkit_d{len(self._delay_models)}"
            self.nest.CopyModel(model, copy, {"delay": delay})
            self._delay_models[(model, delay)] = copy
            self._model_base[copy] = self._model_base.get(model, model)
        return copy

    def _recorded_model(self, ename: str, type_id: int, model: str, where: str) -> str:
        for k, req in enumerate(self._weight_requests):
            types = req.edges.get(ename, [])
            if ename in req.edges and (types is None or type_id in types):
                key = (k, model)
                if key not in self._wr_models:
                    copy = f"{model}__modelkit_wr{k}"
                    try:
                        self.nest.CopyModel(model, copy, {"weight_recorder": req.device})
                    except Exception as e:
                        raise ConfigError(None, f"reports.{req.name}", f"a synapse model that can report to a "
                                          f"weight_recorder ({where})", f"{model}: {type(e).__name__}: {e}") from e
                    self._wr_models[key] = copy
                    self._model_base[copy] = self._model_base.get(model, model)
                req.n_types += 1
                return self._wr_models[key]
        return model

    def nest_to_nodes(self, nest_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(population index into ``populations``, node id) of NEST ids of cells and spike generators.

        Parameters
        ----------
        nest_ids : numpy.ndarray of int
            NEST node ids (from spike recorders).
        """
        top = max([int(g.max()) for m in (self._gid, self._gen, self._relay) for g in m.values() if g.size] + [0])
        if len(self._nest2any_node) != top + 1:  # spike generators were added since the last call
            self._nest2any_node = np.full(top + 1, -1, dtype=np.int64)
            self._nest2any_pop = np.full(top + 1, -1, dtype=np.int64)
            self._all_pops = list(dict.fromkeys([*self._gid, *self._gen]))
            for maps in (self._gen, self._relay, self._gid):
                for name, g in maps.items():
                    have = np.flatnonzero(g >= 0)
                    self._nest2any_node[g[have]] = have
                    self._nest2any_pop[g[have]] = self._all_pops.index(name)
        ids = np.asarray(nest_ids, dtype=np.int64)
        return self._nest2any_pop[ids], self._nest2any_node[ids]

    @property
    def populations(self) -> list[str]:
        """Population names that :meth:`nest_to_nodes` indexes."""
        return self._all_pops

    def collect_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for name, sr in self._recorders.items():
            ev = _events(sr)
            senders = np.asarray(ev["senders"], dtype=np.int64)
            times = np.asarray(ev["times"], dtype=float)
            keep = times <= self._options.tstop + 1e-9  # type: ignore[union-attr]
            out[name] = (self._nest2node[senders[keep]], times[keep])
        return out

    # ------------------------------------------------------------------ time
    def run_until(self, t: float) -> None:
        opts = self._options
        assert opts is not None
        now = float(self.nest.biological_time)
        steps = int(round((t - now) / opts.dt))
        if t >= opts.tstop - 0.5 * opts.dt:
            # NEST hands recorded data to the devices one min_delay late: run that much past the end so
            # the last samples arrive (spikes after tstop are dropped when collected).
            steps += int(round(float(self.nest.min_delay) / opts.dt))
        if steps > 0:
            self.nest.Simulate(steps * opts.dt)

    def close(self) -> None:
        self._node_frames.clear()
        if self.nest is not None:
            self.nest.ResetKernel()


def _ids_of(nodes: Any) -> np.ndarray:
    """The NEST ids of a NodeCollection as an array (``tolist`` fetches every node's status: slow)."""
    try:
        from nest import nestkernel_api as nk
        return np.asarray(nk.llapi_node_collection_to_array(nodes._datum, "all"), dtype=np.int64)
    except (ImportError, AttributeError):  # pragma: no cover - other NEST versions
        return np.asarray(nodes.tolist(), dtype=np.int64)


def _distinct(a: np.ndarray) -> list[int]:
    """Sorted distinct values of an integer array (type ids: a small range, counted, not hashed)."""
    if not len(a):
        return []
    lo, hi = int(a.min()), int(a.max())
    if hi - lo < 1 << 20:
        return (np.flatnonzero(np.bincount((a - lo).astype(np.intp, copy=False))) + lo).tolist()
    return np.unique(a).tolist()


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def _take(spec: dict, mask: np.ndarray) -> dict:
    """A Connect syn_spec restricted to some edges (per-edge arrays are cut, scalars kept)."""
    return {k: (np.ascontiguousarray(np.asarray(v)[mask]) if isinstance(v, np.ndarray) and v.ndim == 1
                and len(v) == len(mask) else v) for k, v in spec.items()}


def _isnan(a: np.ndarray) -> np.ndarray:
    return np.array([x is None or (isinstance(x, float) and np.isnan(x)) for x in np.asarray(a, dtype=object)])
