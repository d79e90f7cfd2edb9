"""NEURON backend: biophysical cells from SWC + Allen/NeuroML parameter files, synapses from edge columns."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from modelkit.errors import ConfigError, UnknownModelError
from modelkit.simulator.base import RunOptions
from modelkit.simulator.paramfiles import params_value
from modelkit.simulator.neuron.biophysics import (PROCESSING, SECTION_TYPES, Plan, allactive_plan, apply_plan,
                                                  check_plan, insert_extracellular, nml_plan, override_plan,
                                                  perisomatic_plan, processing_steps, read_json)
from modelkit.simulator.neuron.connect import connect_edges
from modelkit.simulator.neuron.distribute import DISTRIBUTIONS, agree_on_errors, assign_ranks, check_ranks
from modelkit.simulator.neuron.module_tables import INPUT_MODULES, REPORT_MODULES
from modelkit.simulator.neuron.coreneuron import (STAND_INS, check_coreneuron, coreneuron_threads,
                                                  disable_coreneuron, enable_coreneuron, refuse_left_out_in_use,
                                                  refuse_without_library, short_delays_refused, stand_in)
from modelkit.simulator.neuron.mechanisms import (MechanismSource, import_neuron,
                                                  known_mechanisms, load_mechanisms, no_display_options)
from modelkit.simulator.neuron.morphology import (Cell, MorphologyTable, check_morphology, read_swc, segment_props,
                                                  segments_per_section)
from modelkit.simulator.neuron.recorders import CellRecorder, ClampRecorder, ElementRecorder, Sampling, range_ref
from modelkit.simulator.neuron.threads import set_threads, threads_refused
from modelkit.simulator.neuron.synapses import is_null as _null
from modelkit.simulator.neuron.templates import template_cell
from modelkit.sonata import Network, Selection, SimulationConfig
from modelkit.sonata.swc import morphology_path

__all__ = ["NeuronBackend"]

log = logging.getLogger("modelkit.simulator.neuron")

#: mV, when the run block gives no spike_threshold (bmtk's default)
DEFAULT_THRESHOLD = -15.0
#: µm, the longest segment when the run block gives neither dL nor d_lambda (bmtk's default)
DEFAULT_DL = 20.0
#: °C and mV, when the config gives no conditions (bmtk's defaults)
DEFAULT_CELSIUS, DEFAULT_V_INIT = 34.0, -80.0
#: at most this many IClamp pulses per cell for a step schedule; longer schedules play a vector
_MAX_PULSES = 16
_ARTIFICIAL_SECONDS = {"IntFire1": ("tau", "refrac"), "mkIntFire1": ("tau", "refrac"), "IntFire2": ("taum", "taus"),
                       "IntFire4": ("taue", "taui1", "taui2", "taum")}


@dataclass
class _BioType:
    """A node type's morphology table (segmented) and biophysics plan, shared by its cells."""

    table: MorphologyTable
    plan: Plan | None
    where: str
    #: hoc templates: a new instance per cell (its sections in ``all`` order); None: cells cloned from ``table``
    factory: Any = None
    #: model_processing names ``extracellular``: the mechanism is inserted in every section (bmtk's
    #: set_extracellular), as xstim and COMSOL inputs need it
    extracellular: bool = False


class NeuronBackend:
    """Biophysically detailed cells (and NEURON's artificial cells) simulated by NEURON.

    * cells: ``model_template`` ``hoc:<Template>`` (a template of ``components.templates_dir``, one instance
      per cell as bmtk's loadHOC, see :mod:`.templates`), or ``ctdb:Biophys1.hoc`` with an SWC ``morphology`` and
      ``model_processing`` ``aibs_perisomatic`` / ``aibs_allactive`` (the axon replaced by a
      60-µm stub as bmtk does; ``dynamics_params`` a file of ``components.biophysical_neuron_models_dir`` or the
      fit itself, inline: a dict or its text, as a builder gives an edited copy in memory), or ``nml:<file>``
      (NeuroML2 biophysics); every morphology and
      parameter file is read once per node type and cells are cloned from a section table;
      segments by ``run.dL`` (µm, 20 when absent, as bmtk) or NEURON's d_lambda rule (``run.d_lambda``, a
      fraction of the length constant at ``run.d_lambda_freq`` Hz, default 100; the finer of the two when
      both are given); per-node ``dynamics_params`` overrides (HDF5 or ``with_dynamics``) replace, cell by
      cell, the values the parameter file sets under that name (``cm``, ``Ra``, ``e_pas``, ``gbar_NaTs``,
      ...; all section types where it is set) or an artificial cell's attribute (file units);
      ``nrn:IntFire1`` etc. for point neurons;
    * ``model_processing`` may be a comma-separated list, applied in order as bmtk does: one biophysics loader and
      ``extracellular`` (the mechanism inserted in every section, bmtk's ``set_extracellular``);
    * mechanisms: the ``.mod`` files of ``components.mechanisms_dir`` or of its ``modfiles/`` subfolder (bmtk's
      layout) compiled with nrnivmodl, cached by content; without ``.mod`` files, a folder compiled there for this
      machine (``x86_64/``) loaded after a trial load in a child process (see :mod:`.mechanisms`);
    * synapses: ``model_template`` ``Exp2Syn`` (or a point process from the mod files) with the
      synaptic-model JSON (a file or an inline dict), at ``afferent_section_id``/``afferent_section_pos`` (one synapse,
      weight ``syn_weight x nsyns``) or ``nsyns`` synapses placed on ``target_sections`` within
      ``distance_range`` (weight ``syn_weight`` or the named ``weight_function`` each), RNG
      seeded by (run seed, target gid); ``delay`` in ms (delays of 0 or below one step run as in bmtk: the run
      steps with ``fadvance``, one thread, and a ``ModelkitWarning`` names the edge file and the count);
      ``model_template`` ``exp2syn``, ``expsyn``, ``stp2syn``, ... set as bmtk's built-in synapse models;
    * virtual nodes: their spikes are played by a ``PatternStim`` into the gid connections;
    * current clamps: ``IClamp`` at soma(0.5) (nA); spikes: threshold crossings of soma(0.5).v;
    * MPI (``mpiexec -n N modelkit run CONFIG``): each rank builds the cells it owns (``run.rank_distribution``:
      ``balanced`` by compartment count, the default, or ``round_robin``) and the synapses onto them; spikes
      cross ranks through ParallelContext; virtual spikes are played on the ranks whose synapses need them.
    """

    name: ClassVar[str] = "neuron"
    model_types: ClassVar[frozenset[str]] = frozenset({"biophysical", "point_process", "point_neuron"})
    description: ClassVar[str] = "NEURON (biophysical cells)"
    #: the inputs and reports only NEURON runs (loaded on use): :mod:`modelkit.simulator.neuron.module_tables`
    input_modules: ClassVar[dict[tuple[str, str], str]] = INPUT_MODULES
    report_modules: ClassVar[dict[str, str]] = REPORT_MODULES

    @classmethod
    def prepare_environment(cls, components_dir: str) -> None:
        """``modelkit init``: compile the mechanisms copied into ``components_dir/mechanisms/modfiles``."""
        from modelkit.simulator.neuron.mechanisms import compile_mechanisms
        mods = os.path.join(components_dir, "mechanisms", "modfiles")
        if os.path.isdir(mods):
            compile_mechanisms(mods)

    @classmethod
    def is_available(cls) -> bool:
        no_display_options()  # the registry may be the first to import neuron
        try:
            import neuron  # noqa: F401
            return True
        except ImportError:
            return False

    #: refuse, before anything is written, a run CoreNEURON cannot integrate in memory (``run.coreneuron``)
    check_coreneuron = staticmethod(check_coreneuron)

    def __init__(self) -> None:
        self.h: Any = None
        self.pc: Any = None
        self._options: RunOptions | None = None
        self._config_path: str | None = None
        self._network: Any = None
        self._base: dict[str, int] = {}
        self._cells: dict[str, dict[int, Any]] = {}
        self._types: dict[tuple, _BioType] = {}
        self._keep: list[Any] = []  # NEURON objects that must live as long as the run
        self._synapse_lists: list[Any] = []  # hoc Lists of synapses, one per edge type and population
        self._clamps: list[tuple[str, str, int, Any]] = []  # (kind: se/ic/f_ic, population, node id, clamp)
        self._settings: dict[tuple, list[tuple[str, float]]] = {}  # synapse parameters by (kind, repr of the JSON)
        self._node_frames: dict[str, Any] = {}  # node tables the weight functions read, once per population
        self._play: list[tuple[np.ndarray, np.ndarray]] = []
        self._spk_t: Any = None
        self._spk_gid: Any = None
        self._started = False
        self._v_init = DEFAULT_V_INIT
        self._known: set[str] = set()
        self._mechanisms: MechanismSource | None = None  # where components.mechanisms_dir's mechanisms came from
        self._own_mechanisms: MechanismSource | None = None  # modelkit's own, loaded for a CoreNEURON stand-in
        self._d_lambda: float | None = None
        self._d_lambda_freq = 100.0
        self._bounds = np.empty(0, np.int64)
        self._bound_pops: list[str] = []
        self._rank: dict[str, np.ndarray] = {}  # population -> owning rank per node id (-1: not built)
        self._is_bio: dict[str, np.ndarray] = {}  # population -> biophysical (not artificial) per node id
        self._virtual_used: list[np.ndarray] = []  # source gids of the connections made on this rank
        self._short_delays: dict[str, list[int]] = {}  # edge population -> [delays of 0, delays < dt] on this rank
        self._fadvance = False  # delays below dt: step with fadvance as bmtk (psolve refuses them)
        self._coreneuron: dict[str, Any] | None = None  # CoreNEURON in use: the settings to restore at close

    @property
    def n_processes(self) -> int:
        """MPI ranks NEURON runs on (1 in a serial run)."""
        return int(self.pc.nhost()) if self.pc is not None else 1

    @property
    def rank(self) -> int:
        """This process's MPI rank in NEURON (0 in a serial run)."""
        return int(self.pc.id()) if self.pc is not None else 0

    # ----------------------------------------------------------------- build
    def build(self, network: Network, populations: dict[str, Selection], options: RunOptions,
              config: SimulationConfig) -> None:
        h = self.h = import_neuron()
        self.pc = h.ParallelContext()
        check_ranks(int(self.pc.nhost()))
        self.pc.gid_clear()
        self._network, self._options = network, options
        self._config_path = getattr(config, "path", None)
        error: BaseException | None = None
        try:  # every rank reaches agree_on_errors, so one rank's bad cell cannot leave the others waiting
            # before any cell: recordings made before a change of threads read stale memory
            set_threads(self.pc, self._options, self._config_path, config, network, populations)
            self._build(network, populations, options, config)
        except Exception as e:
            error = e
        agree_on_errors(self.pc, error)
        self._check_delays(network, options.dt)  # collective: only once every rank has built its cells

    def agree_on_errors(self, error: BaseException | None) -> None:
        """Collective over the MPI ranks: raise ``error`` here, or a ``RankError`` if another rank failed (the
        simulation calls it after each input and report module's set-up)."""
        agree_on_errors(self.pc, error)

    def _build(self, network: Any, populations: dict[str, Selection], options: RunOptions, config: Any) -> None:
        h = self.h
        comps = dict(getattr(config, "components", {}) or {})
        self._mechanisms = load_mechanisms(h, str(comps["mechanisms_dir"]), coreneuron=options.coreneuron) \
            if comps.get("mechanisms_dir") else None
        if options.coreneuron:
            refuse_without_library(self._mechanisms, self._config_path)
        self._known = known_mechanisms(h)
        run = getattr(config, "run", None)
        d_l = getattr(run, "dL", None)
        extra = getattr(run, "extra", None) or {}
        where = f"{getattr(config, 'path', None) or 'config'}: run"
        self._d_lambda = _positive(extra.get("d_lambda"), f"{where}.d_lambda", "a fraction of the length constant")
        self._d_lambda_freq = _positive(extra.get("d_lambda_freq", 100.0), f"{where}.d_lambda_freq", "Hz") or 100.0
        if d_l is None and self._d_lambda is None:
            d_l = DEFAULT_DL  # bmtk's default when the run block gives no dL
        base = 0
        for name, pop in network.nodes.items():
            self._base[name] = base
            base += (int(pop.node_ids.max()) + 1) if pop.size else 0
        self._bound_pops = list(self._base)
        self._bounds = np.asarray([self._base[p] for p in self._bound_pops], dtype=np.int64)
        threshold = options.spike_threshold if options.spike_threshold is not None else DEFAULT_THRESHOLD
        method = str((getattr(run, "extra", None) or {}).get("rank_distribution") or DISTRIBUTIONS[0])
        self._distribute(network, populations, comps, d_l, method, getattr(config, "path", None))
        for name, sel in populations.items():
            self._create(name, network.nodes[name], sel, comps, d_l, threshold)
        n_syn = 0
        for ename, epop in network.edges.items():
            if epop.target in populations and epop.source in network.nodes:
                n_syn += connect_edges(self, ename, epop, comps)
        if options.coreneuron:  # CoreNEURON aborts on a mechanism its library lacks: refused before it runs
            refuse_left_out_in_use(h, self._mechanisms, self._config_path)
        log.info("built %d cells and %d synapses%s", sum(len(c) for c in self._cells.values()), n_syn,
                 f" on rank {self.rank} of {self.n_processes}" if self.n_processes > 1 else "")
        h.dt = options.dt
        h.celsius = float(options.conditions.get("celsius", DEFAULT_CELSIUS))
        self._v_init = float(options.conditions.get("v_init", DEFAULT_V_INIT))
        self._spk_t, self._spk_gid = h.Vector(), h.Vector()
        self.pc.spike_record(-1, self._spk_t, self._spk_gid)

    def _create(self, name: str, pop: Any, sel: Selection, comps: dict, d_l: float | None, threshold: float) -> None:
        h = self.h
        ids = sel.flat
        cells = self._cells.setdefault(name, {})
        cols = {c: pop.column_or(c, ids)
                for c in ("model_type", "model_template", "morphology", "dynamics_params", "model_processing")}
        tids = pop.column("node_type_id", ids)
        overrides = _overrides(pop, ids)
        _, first = np.unique(tids, return_index=True)
        for t in tids[np.sort(first)].tolist():
            rows = np.flatnonzero(tids == t)
            r0 = int(rows[0])
            where = f"/nodes/{name} node_type_id {t} (node {int(ids[r0])})"
            mt = str(cols["model_type"][r0])
            template = "" if _null(cols["model_template"][r0]) else str(cols["model_template"][r0])
            mine = self._rank[name][ids[rows]] == self.rank  # cells of other ranks are built there
            # per-node overrides of this type's cells: only the names some of them override
            over = {k: v[rows] for k, v in overrides.items() if not np.isnan(v[rows]).all()}
            if mt == "biophysical":
                bt = self._bio_type(pop, where, template, cols["morphology"][r0], cols["dynamics_params"][r0],
                                    cols["model_processing"][r0], comps, d_l)
                if over and bt.plan is None:
                    raise ConfigError(pop.path, f"{where}: dynamics_params.{next(iter(over))}",
                                      "per-node overrides of a parameter file (this node type has none)", "an override")
                if over and bt.plan is not None:  # a bad name fails on every rank, whoever owns the cells
                    override_plan(bt.plan, {k: 0.0 for k in over}, f"cells {where}")
                for k, r in zip(np.flatnonzero(mine).tolist(), rows[mine].tolist()):
                    nid = int(ids[r])
                    cell = bt.table.instantiate(h, f"{name}[{nid}]") if bt.factory is None else \
                        template_cell(h, bt.factory, bt.table, f"{name}[{nid}]", where)
                    if bt.plan is not None:
                        apply_plan(h, bt.plan, cell.groups(), f"{where}, cell {name}[{nid}]")
                        mine_over = {n: float(v[k]) for n, v in over.items() if not np.isnan(v[k])}
                        if mine_over:
                            label = f"{where}, cell {name}[{nid}]"
                            apply_plan(h, override_plan(bt.plan, mine_over, label), cell.groups(), label)
                    if bt.extracellular:
                        insert_extracellular(cell)
                    if bt.table.seg_props is None:
                        bt.table.seg_props = segment_props(h, cell)
                    soma = cell.soma
                    nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
                    nc.threshold = threshold
                    self._register(name, nid, nc)
                    cells[nid] = cell
            else:
                obj_name, params = self._artificial(pop, where, template, cols["dynamics_params"][r0], comps)
                probe = getattr(h, obj_name)() if over else None
                for n in over:  # a bad name fails on every rank, whoever owns the cells
                    if not n.isidentifier() or not hasattr(probe, n):
                        raise ConfigError(pop.path, f"{where}: dynamics_params.{n}",
                                          f"a parameter of NEURON's {obj_name}", repr(n))
                scale = {n: 1000.0 if n in _ARTIFICIAL_SECONDS.get(obj_name, ()) else 1.0 for n in over}
                for k, r in zip(np.flatnonzero(mine).tolist(), rows[mine].tolist()):
                    nid = int(ids[r])
                    obj = getattr(h, obj_name)()
                    for n, v in params.items():
                        setattr(obj, n, v)
                    for n, v in over.items():  # in the file's units (IntFire time constants in s, as bmtk)
                        if not np.isnan(v[k]):
                            setattr(obj, n, float(v[k]) * scale[n])
                    nc = h.NetCon(obj, None)
                    self._register(name, nid, nc)
                    cells[nid] = obj

    def _distribute(self, network: Any, populations: dict[str, Selection], comps: dict, d_l: float | None,
                    method: str, config_path: Any) -> None:
        """Owning rank of every built cell; the same on every rank (cells in gid order, cost = compartments)."""
        nhost = self.n_processes
        gids, costs = [], []
        for name, sel in populations.items():
            pop = network.nodes[name]
            ids = sel.flat
            size = int(pop.node_ids.max()) + 1 if pop.size else 0
            self._rank[name] = np.full(size, -1, dtype=np.int64)
            mt = pop.column("model_type", ids).astype(str)
            self._is_bio[name] = np.zeros(size, dtype=bool)
            self._is_bio[name][ids] = mt == "biophysical"
            cost = np.ones(len(ids))
            if nhost > 1 and (mt == "biophysical").any():
                cols = {c: pop.column_or(c, ids) for c in ("model_template", "morphology", "dynamics_params",
                                                            "model_processing")}
                tids = pop.column("node_type_id", ids)
                for t in np.unique(tids[mt == "biophysical"]).tolist():
                    rows = np.flatnonzero((tids == t) & (mt == "biophysical"))
                    r0 = int(rows[0])
                    template = "" if _null(cols["model_template"][r0]) else str(cols["model_template"][r0])
                    bt = self._bio_type(pop, f"/nodes/{name} node_type_id {t} (node {int(ids[r0])})", template,
                                        cols["morphology"][r0], cols["dynamics_params"][r0],
                                        cols["model_processing"][r0], comps, d_l)
                    cost[rows] = float(np.sum(bt.table.nseg))
            gids.append(self._base[name] + ids)
            costs.append(cost)
        if not gids:
            return
        g = np.concatenate(gids)
        order = np.argsort(g, kind="stable")
        rank = np.empty(len(g), dtype=np.int64)
        rank[order] = assign_ranks(np.concatenate(costs)[order], nhost, method,
                                   f"{config_path}: run.rank_distribution" if config_path else "run.rank_distribution")
        k = 0
        for name, sel in populations.items():
            ids = sel.flat
            self._rank[name][ids] = rank[k:k + len(ids)]
            k += len(ids)
        if nhost > 1:
            load = np.bincount(rank, weights=np.concatenate(costs), minlength=nhost)
            log.info("%s distribution over %d ranks: compartments per rank %s", method, nhost,
                     load.astype(int).tolist())

    def _check_delays(self, network: Any, dt: float) -> None:
        """Delays of 0 (or below one step, ``dt`` ms) on any rank: warn once per edge population and step the
        run with ``fadvance`` (bmtk's ``h.run``), which delivers such events at the next step, where
        ParallelContext's ``psolve`` stops with "mindelay is 0".  Collective: every rank decides the same."""
        names = [n for n in network.edges]
        local = np.asarray([self._short_delays.get(n, [0, 0]) for n in names], dtype=float).reshape(-1)
        if self.n_processes > 1:
            vec = self.h.Vector(local)
            self.pc.allreduce(vec, 1)
            local = vec.as_numpy().copy()
        counts = local.reshape(-1, 2).astype(np.int64)
        if not counts[:, 1].any():
            return
        assert self._options is not None
        if self._options.coreneuron:
            first = names[int(np.flatnonzero(counts[:, 1])[0])]
            raise short_delays_refused(network.edges[first].path, first, dt)
        self._fadvance = True
        n = int(self.pc.nthread())
        if n > 1:  # threads would deliver the events that cross them a step late: not one thread's result
            first = names[int(np.flatnonzero(counts[:, 1])[0])]
            assert self._options is not None
            if self._options.threads_requested:
                raise ConfigError(self._config_path, "run.n_thread (or simulate(threads=...))",
                                  "one thread with delays below one time step",
                                  f"{n} threads and delays below {dt} ms in /edges/{first}")
            log.warning("NEURON runs 1 thread, not %d: /edges/%s has delays below one time step", n, first)
            self.pc.nthread(1)  # before any recording is made (reports are set up after the build)
        if self.rank != 0:
            return
        import warnings

        from modelkit.errors import ModelkitWarning
        for name, (zero, short) in zip(names, counts.tolist()):
            if short:
                below = f" and {short - zero} more below one time step ({dt} ms)" if short > zero else ""
                warnings.warn(ModelkitWarning(
                    f"{network.edges[name].path}: /edges/{name}: {zero} edges with delay 0{below}; run as bmtk "
                    f"runs them: NEURON steps with fadvance (ParallelContext.psolve refuses delays below dt)"),
                    stacklevel=2)

    def mechanisms_note(self) -> str:
        """Where the mechanisms were looked for and what was found (for errors about a missing mechanism)."""
        if self._mechanisms is None:
            return "components.mechanisms_dir is not set: only NEURON's built-in mechanisms are known"
        return self._mechanisms.describe()

    def _register(self, pop: str, nid: int, nc: Any) -> None:
        gid = self._base[pop] + nid
        self.pc.set_gid2node(gid, int(self.pc.id()))
        self.pc.cell(gid, nc)
        self._keep.append(nc)

    def _bio_type(self, pop: Any, where: str, template: str, morphology: Any, dynamics: Any, processing: Any,
                  comps: dict, d_l: float | None) -> _BioType:
        h = self.h
        if template.startswith("hoc:"):
            return self._hoc_type(pop, where, template[4:], morphology, dynamics, processing, comps, d_l)
        if _null(morphology):
            raise ConfigError(pop.path, f"{where}: morphology", "an SWC file name for a biophysical cell", "none")
        mdir = comps.get("morphologies_dir", "")
        mpath = morphology_path(mdir, morphology)
        key = (mpath, template, None if _null(dynamics) else str(dynamics),
               None if _null(processing) else str(processing), d_l)
        if key in self._types:
            return self._types[key]
        proc, extracellular = processing_steps(processing, f"{pop.path}: {where}")
        bdir = comps.get("biophysical_neuron_models_dir", "")
        plan: Plan | None = None
        kind, _, tname = template.partition(":")
        if kind == "nml":
            npath = os.path.join(bdir, tname)
            if not os.path.exists(npath):
                raise ConfigError(npath, f"{pop.path}: {where}: model_template",
                                  "an existing NeuroML2 cell file in components.biophysical_neuron_models_dir",
                                  "no such file")
            plan = nml_plan(npath)
        elif kind == "ctdb" and tname in ("Biophys1", "Biophys1.hoc"):
            if not _null(dynamics):
                # a file name, or the fit itself (a dict, or its text as a builder saves it): edited in memory
                value = params_value(dynamics, f"{pop.path}: {where}: dynamics_params")
                data = value if isinstance(value, dict) else None
                ppath = f"{pop.path}: {where}: dynamics_params (inline)" if data is not None else \
                    os.path.join(bdir, str(value))
                if data is None and not os.path.exists(ppath):
                    raise ConfigError(ppath, f"{pop.path}: {where}: dynamics_params",
                                      "an existing parameter file in components.biophysical_neuron_models_dir",
                                      "no such file")
                if proc in ("aibs_perisomatic", "aibs_perisomatic_directed"):
                    plan = perisomatic_plan(ppath, data)
                elif proc in ("aibs_allactive", "aibs_allactive_directed"):
                    plan = allactive_plan(ppath, data)
                elif proc is not None:
                    raise UnknownModelError(f"{pop.path}: {where}: model_processing {proc!r} is not known "
                                            f"({', '.join(PROCESSING)})")
        else:
            raise UnknownModelError(f"{pop.path}: {where}: model_template {template!r} is not a biophysical "
                                    f"template this backend builds (ctdb:Biophys1.hoc, nml:<file>)")
        if plan is not None:
            check_plan(plan, self._known, f"cells {where}", self.mechanisms_note())
        table, axon_diams = read_swc(h, mpath, f"{pop.path}: {where}")
        if plan is not None and plan.axon is not None:
            table = table.with_axon_stub(h, plan.axon, axon_diams, directed=str(proc).endswith("_directed"))
        if plan is not None and plan.axon == "perisomatic":
            missing = sorted(s for s in plan.required if not table.has_type(s))
            if missing:
                raise ConfigError(plan.path, f"genome (cells {where})",
                                  f"section types the morphology {mpath} has", f"parameters for {missing}")
        if self._d_lambda is not None:
            names = {code: nm for nm, code in SECTION_TYPES.items()}
            per = {k: {op.section: op.value for op in (plan.ops if plan is not None else ())
                       if op.kind == k and op.value == op.value} for k in ("Ra", "cm")}
            ra = np.asarray([per["Ra"].get(names.get(int(c), ""), 35.4) for c in table.types])
            cm = np.asarray([per["cm"].get(names.get(int(c), ""), 1.0) for c in table.types])
            table.nseg = segments_per_section(table, d_l, self._d_lambda, self._d_lambda_freq, ra, cm)
        else:
            table.nseg = segments_per_section(table, d_l)
        bt = _BioType(table, plan, where, extracellular=extracellular)
        self._types[key] = bt
        return bt

    def _hoc_type(self, pop: Any, where: str, name: str, morphology: Any, dynamics: Any, processing: Any,
                  comps: dict, d_l: float | None) -> _BioType:
        """A node type built by a hoc template of ``components.templates_dir`` (see :mod:`.templates`)."""
        from modelkit.simulator.neuron.templates import load_templates, template_factory, template_table
        key = ("hoc", name, None if _null(morphology) else str(morphology),
               None if _null(dynamics) else str(dynamics), None if _null(processing) else str(processing), d_l)
        if key in self._types:
            return self._types[key]
        tdir = comps.get("templates_dir")
        if not tdir:
            raise ConfigError(pop.path, f"{where}: model_template hoc:{name}",
                              "components.templates_dir (the folder of .hoc templates)", "none")
        proc, extracellular = processing_steps(processing, f"{pop.path}: {where}")
        if proc is not None:
            raise UnknownModelError(f"{pop.path}: {where}: model_processing {processing!r} with model_template "
                                    f"hoc:{name}: a hoc template sets its own biophysics (leave it empty, or "
                                    f"extracellular only)")
        load_templates(self.h, str(tdir))
        params = None
        if not _null(dynamics):
            params = read_json(os.path.join(comps.get("biophysical_neuron_models_dir", ""), str(dynamics))).get(
                "params")
        mpath = None
        if not _null(morphology):
            mpath = morphology_path(comps.get("morphologies_dir", ""), morphology)
            if not os.path.exists(mpath):
                raise ConfigError(mpath, f"{pop.path}: {where}: morphology",
                                  "an existing morphology (components.morphologies_dir + morphology)", "no such file")
            check_morphology(mpath, f"{pop.path}: {where}")  # the template reads it with Import3d: no check there
        factory = template_factory(self.h, name, params, mpath, f"{pop.path}: {where}", str(tdir))
        probe = factory()
        table = template_table(self.h, probe, name, f"{pop.path}: {where}")
        secs = list(probe.all)
        ra, cm = np.asarray([s.Ra for s in secs]), np.asarray([s.cm for s in secs])
        del probe, secs
        table.nseg = segments_per_section(table, d_l, self._d_lambda, self._d_lambda_freq, ra, cm)
        bt = _BioType(table, None, where, factory, extracellular)
        self._types[key] = bt
        return bt

    def _artificial(self, pop: Any, where: str, template: str, dynamics: Any, comps: dict) -> tuple[str, dict]:
        kind, _, name = template.partition(":")
        if kind != "nrn" or not hasattr(self.h, name):
            raise UnknownModelError(f"{pop.path}: {where}: model_template {template!r}: expected nrn:<artificial "
                                    f"cell> (nrn:IntFire1, nrn:IntFire2, nrn:IntFire4, nrn:NetStim)")
        params: dict = {}
        sec = _ARTIFICIAL_SECONDS.get(name, ())
        if self._options is not None and self._options.coreneuron and name in STAND_INS:
            name, self._own_mechanisms = stand_in(self.h, name, self._mechanisms, self._config_path)
        if not _null(dynamics):
            path = os.path.join(comps.get("point_neuron_models_dir", ""), str(dynamics))
            raw = read_json(path)
            for k, v in raw.items():  # bmtk's IntFire files give time constants in s
                if isinstance(v, (int, float)):
                    params[k] = float(v) * (1000.0 if k in sec else 1.0)
        return name, params

    # ----------------------------------------------------------------- edges
    def synapse_objects(self) -> Any:
        """Every synapse (point process) made so far, in the order they were made."""
        for syns in self._synapse_lists:
            for i in range(int(syns.count())):
                yield syns.o(i)

    # ---------------------------------------------------------------- inputs
    def add_spike_trains(self, population: str, node_ids: np.ndarray, trains: dict[int, np.ndarray]) -> None:
        if not trains:
            return
        base = self._base[population]
        t = np.concatenate([np.asarray(v, dtype=float) for v in trains.values()])
        g = np.concatenate([np.full(len(v), base + k, dtype=np.int64) for k, v in trains.items()])
        if self._started:
            raise ConfigError(None, f"inputs ({population})", "spike trains given before the run starts",
                              "after it started")
        keep = t >= 0
        self._play.append((t[keep], g[keep]))

    def add_current_clamp(self, population: str, node_ids: np.ndarray, times: np.ndarray,
                          amplitudes: np.ndarray, kind: str = "ic") -> None:
        h = self.h
        times = np.asarray(times, dtype=float)
        amps = np.asarray(amplitudes, dtype=float)
        ends = np.append(times[1:], 1e9)
        pulses = [(a, b - a, c) for a, b, c in zip(times.tolist(), ends.tolist(), amps.tolist()) if c != 0.0]
        node_ids = np.asarray(node_ids, dtype=np.int64)
        artificial = node_ids[~self._is_bio[population][node_ids]]  # checked on every rank, whoever owns the cell
        if len(artificial):
            raise ConfigError(None, f"inputs: current clamp onto {population}[{int(artificial[0])}]",
                              "a biophysical cell", "an artificial cell")
        for nid in node_ids.tolist():
            cell = self._cells[population].get(nid)
            if cell is None:  # owned by another rank
                continue
            seg = cell.soma(0.5)
            # CoreNEURON aborts on a Vector played as a step function (nrnthread_dat2_vecplay): pulses only
            if len(pulses) <= _MAX_PULSES or (self._options is not None and self._options.coreneuron):
                for d, dur, amp in pulses:
                    ic = h.IClamp(seg)
                    ic.delay, ic.dur, ic.amp = d, dur, amp
                    self._keep.append(ic)
                    self._clamps.append((kind, population, nid, ic))
            else:
                ic = h.IClamp(seg)
                ic.delay, ic.dur = 0.0, 1e9
                tv, av = h.Vector(times), h.Vector(amps)
                av.play(ic, ic._ref_amp, tv, 0)  # the point process says which NEURON thread plays it
                self._keep += [ic, tv, av]
                self._clamps.append((kind, population, nid, ic))

    # --------------------------------------------------------------- reports
    def record_variables(self, population: str, node_ids: np.ndarray, variables: Sequence[str], dt: float,
                         start: float, stop: float) -> CellRecorder:
        h = self.h
        sampling = Sampling(self, dt)
        vectors: dict[str, list[Any]] = {v: [] for v in variables}
        node_ids = np.asarray(node_ids)
        cells = self._cells[population]
        columns = np.flatnonzero(self._rank[population][node_ids] == self.rank)  # the cells this rank owns
        error: BaseException | None = None
        try:
            for nid in node_ids[columns].tolist():
                cell = cells[int(nid)]
                for var in variables:
                    try:
                        ref = range_ref(cell.soma(0.5), var) if isinstance(cell, Cell) \
                            else getattr(cell, f"_ref_{var}")
                    except (AttributeError, NameError, IndexError) as e:
                        raise ConfigError(None, f"reports: variable_name {var!r}",
                                          f"a range variable at the soma of {population}[{nid}]", str(e)) from e
                    vec = h.Vector()
                    if isinstance(cell, Cell):  # the section says which NEURON thread records it
                        sampling.record(vec, ref, dt, sec=cell.soma)
                    else:  # an artificial cell: NEURON takes no owner for it (not a POINT_PROCESS)
                        sampling.record(vec, ref, dt)
                    vectors[var].append(vec)
        except Exception as e:
            error = e
        agree_on_errors(self.pc, error)  # every rank records its share of the same report
        return CellRecorder(population, node_ids, variables, vectors, dt, start, stop, sampling, columns)

    def collect_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        t = self._spk_t.as_numpy().copy()
        g = self._spk_gid.as_numpy().astype(np.int64)
        self._spk_t.resize(0)
        self._spk_gid.resize(0)
        k = np.searchsorted(self._bounds, g, side="right") - 1
        out = {}
        assert self._options is not None
        for name in self._cells:
            i = self._bound_pops.index(name)
            m = (k == i) & (t <= self._options.tstop + 1e-9)
            out[name] = (g[m] - self._base[name], t[m])
        return out

    # ------------------------------------------- electrodes, segment and synapse recording (electrodes.py,
    # recorders.py): thin entry points the modules of electrode_modules.py and compartment_reports.py call
    def add_voltage_clamp(self, population: str, node_ids: np.ndarray, amps: np.ndarray, durations: np.ndarray,
                          rs: np.ndarray | None = None, rs_schedule: tuple[np.ndarray, np.ndarray] | None = None,
                          section: tuple[str, int, float] = ("soma", 0, 0.5)) -> list:
        """Three-step ``SEClamp`` (mV, ms, MΩ) on the local cells among ``node_ids`` (see electrodes.add_seclamps)."""
        from modelkit.simulator.neuron.electrodes import add_seclamps
        core = self._options is not None and self._options.coreneuron  # CoreNEURON plays no step Vector
        return add_seclamps(self, population, node_ids, amps, durations, rs, rs_schedule, section, continuous=core)

    def segment_geometry(self, population: str, node_ids: np.ndarray) -> dict:
        """{node id: SegmentGeometry} (µm, placed and rotated) of the local biophysical cells among ``node_ids``."""
        from modelkit.simulator.neuron.electrodes import cell_geometry
        return cell_geometry(self, population, node_ids)

    def play_extracellular(self, population: str, coefficients: dict, times: np.ndarray, values: np.ndarray) -> None:
        """``e_extracellular`` (mV) = coefficient per segment x ``values`` (a step function of ``times``, ms)."""
        from modelkit.simulator.neuron.electrodes import play_extracellular
        play_extracellular(self, population, coefficients, times, values)

    def record_segments(self, population: str, node_ids: np.ndarray, variables: Sequence[str],
                        sections: str | Sequence[str] | None, dt: float, start: float, stop: float,
                        where: str = "reports") -> ElementRecorder:
        """Record range variables at every segment of the chosen section types of the local cells."""
        from modelkit.simulator.neuron.recorders import record_segments, section_types
        return record_segments(self, population, node_ids, variables, section_types(sections, where), dt, start,
                               stop, where)

    def record_synapses(self, population: str, node_ids: np.ndarray, variables: Sequence[str], syn_type: str | None,
                        dt: float, start: float, stop: float, where: str = "reports") -> ElementRecorder:
        """Record variables of the synapses of kind ``syn_type`` on the local cells (bmtk's netcon_report)."""
        from modelkit.simulator.neuron.recorders import record_synapses
        return record_synapses(self, population, node_ids, variables, syn_type, dt, start, stop, where)

    def record_clamps(self, population: str, node_ids: np.ndarray, kind: str, dt: float, start: float, stop: float,
                      where: str = "reports") -> ClampRecorder:
        """Record the current (nA) of the clamps of ``kind`` (``se``, ``ic``, ``f_ic``) on the local cells, one
        column per cell (bmtk's clamp_report)."""
        from modelkit.simulator.neuron.recorders import record_clamps
        return record_clamps(self, population, node_ids, kind, dt, start, stop, where)

    # ------------------------------------------------------------------ time
    def run_until(self, t: float) -> None:
        h, pc = self.h, self.pc
        if not self._started:
            self._started = True
            if self._play:
                tt = np.concatenate([p[0] for p in self._play])
                gg = np.concatenate([p[1] for p in self._play])
                if self.n_processes > 1:  # play only the spikes of sources with synapses on this rank
                    used = np.unique(np.concatenate(self._virtual_used)) if self._virtual_used else gg[:0]
                    keep = np.isin(gg, used)
                    tt, gg = tt[keep], gg[keep]
                if len(tt):
                    order = np.argsort(tt, kind="stable")
                    tv, gv = h.Vector(tt[order]), h.Vector(gg[order].astype(float))
                    ps = h.PatternStim()
                    ps.play(tv, gv)
                    self._keep += [ps, tv, gv]
            from modelkit.simulator.neuron.electrodes import extracellular_guard
            guard = extracellular_guard(h)
            if guard is not None:
                self._keep.append(guard)
            if self._options is not None and self._options.coreneuron:
                self._coreneuron = enable_coreneuron(h, self._mechanisms or self._own_mechanisms,
                                                     gpu=self._options.coreneuron_gpu)
            pc.set_maxstep(10)
            try:
                h.finitialize(self._v_init)
            except RuntimeError as e:
                # NEURON's reasons: a mechanism that is not thread safe, or (after an xstim run in this
                # process) "NrnDAE only one thread allowed"
                if int(pc.nthread()) == 1 or not ("thread safe" in str(e) or "one thread" in str(e)):
                    raise
                assert self._options is not None
                threads_refused(self.pc, self._options, self._config_path, e)
                h.finitialize(self._v_init)
            if self._coreneuron is not None:
                coreneuron_threads(self._coreneuron, int(pc.nthread()))
        assert self._options is not None
        if t >= self._options.tstop - 0.5 * self._options.dt:
            # one step past the end, so the sample at exactly tstop is recorded however t accumulated in
            # floating point (samples and spikes after tstop are dropped when collected)
            t += self._options.dt
        if self._fadvance:  # bmtk's h.run: psolve stops on delays below dt ("mindelay is 0")
            dt = self._options.dt
            while h.t < t - 0.5 * dt:
                h.fadvance()
        else:
            pc.psolve(t)

    def close(self) -> None:
        disable_coreneuron(self.h, self._coreneuron)  # the next run in this process is NEURON's unless it asks
        self._coreneuron = None
        if self.pc is not None:
            if int(self.pc.nthread()) != 1:  # the next run in this process starts from one thread
                self.pc.nthread(1)
            self.pc.gid_clear()
        if self.__dict__.pop("_fast_imem", False):  # an ECP report switched it on: it costs every later run
            self.h.cvode.use_fast_imem(0)
        self.__dict__.pop("_geometry_cache", None)
        self._keep.clear()
        self._synapse_lists.clear()
        self._clamps.clear()
        self._settings.clear()
        self._node_frames.clear()
        self._cells.clear()
        self._types.clear()
        self._play.clear()
        self._virtual_used.clear()
        self._short_delays.clear()
        self._fadvance = False
        self._spk_t = self._spk_gid = None
        self.pc = None


def _overrides(pop: Any, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-node ``dynamics_params`` overrides (HDF5 groups and ``with_dynamics``) of ``ids``: name -> float
    per node, NaN where a node keeps its type's value.

    Raises
    ------
    ConfigError
        A value that is not a number.
    """
    if not pop.dynamics_attribute_names:
        return {}
    out = {}
    for name, col in pop.dynamics_params(ids).items():
        v = col.to_numpy()
        try:
            out[str(name)] = np.asarray([np.nan if x is None else x for x in v], dtype=float) \
                if v.dtype == object else v.astype(float)
        except (TypeError, ValueError) as e:
            raise ConfigError(pop.path, f"/nodes/{pop.name}: dynamics_params/{name}", "numbers (per-node overrides)",
                              f"{type(e).__name__}: {e}") from e
    return out


def _positive(v: Any, key: str, unit: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ConfigError(None, key, f"a number > 0 ({unit})", repr(v))
    return float(v)
