"""simulate(): one SONATA simulation, end to end.

load config -> network -> backend chosen by model_type -> build cells and
connections -> inputs -> run in blocks of simulated time (progress bar) ->
reports -> files in ``output_dir`` with a log.  Everything is written into a
staging folder next to ``output_dir`` and moved into place only when the run
succeeded; a run stopped (a stop request, SIGTERM, SIGHUP, SIGINT) leaves
``<output_dir>.stopped`` and a failed one (an error) ``<output_dir>.failed``, each with
its log and the spikes and report frames of the whole blocks run (valid SONATA files
with the stop time recorded), never an output folder that looks complete.
Nothing is written outside ``output_dir``, and an ``output_dir`` holding the model's
own inputs is refused (:mod:`modelkit.simulator.staging`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from modelkit._typing import NodeSetRef
from modelkit.errors import (BackendUnavailableError, ConfigError, ModelkitError, OutputExistsError, RunStoppedError,
                             SonataFormatError)
from modelkit.errors import UnknownModelError
from modelkit.runstatus import RunStatus
from modelkit.simulator.parallel import SerialComm, check_launch, world
from modelkit.simulator.abilities import AgreesOnErrors, Processes
from modelkit.simulator.base import Backend, ReportSink, RunOptions, RunResult, SimulatorModule, backend_output_modules
from modelkit.simulator.inputs import input_module
from modelkit.simulator.overrides import apply_overrides
from modelkit.simulator.recording import SpikesOutput, report_module
from modelkit.simulator.checks import check_run, model_type_error
from modelkit.simulator.registry import SOURCE_MODEL_TYPES, TARGET_HINTS, TARGET_SIMULATORS, backend_for
from modelkit.simulator.staging import OUTPUT_EXTRA_KEYS
from modelkit.simulator.staging import (RunTerminated, check_inputs_outside, check_output_paths, fail,
                                        recover_partials, refuse_outside, run_signals, staging_name, swap_in)
from modelkit.simulator.registry import known_model_types
from modelkit.sonata import Network, Selection, SimulationConfig, load_config
from modelkit.sonata.config import REPORT_OUTPUT_KEYS
from modelkit.sonata.simcheck import check_node_ref

__all__ = ["simulate", "Simulation"]

log = logging.getLogger("modelkit.simulator")


class Simulation:
    """What modules see during a run: the network, config, backend, options and the output folder."""

    def __init__(self, network: Network, config: SimulationConfig, backend: Backend, options: RunOptions,
                 staging: str, sinks: Sequence[ReportSink], comm: Any = None) -> None:
        self.comm = comm if comm is not None else SerialComm()
        self.network = network
        self.config = config
        self.backend = backend
        self.options = options
        self.staging = staging
        self.sinks = list(sinks)
        self.built: dict[str, Selection] = {}
        self.sources: dict[str, Selection] = {}
        self.outputs: dict[str, str] = {}

    @property
    def is_root(self) -> bool:
        """Whether this process writes the files (rank 0; always in a serial run)."""
        return self.comm.rank == 0

    def resolve(self, ref: NodeSetRef, key: str) -> dict[str, Selection]:
        """A node-set reference of the config as {population: Selection} (empty ones dropped).

        Raises ConfigError naming ``key`` for an undefined node set or listed node ids that do not exist.

        Parameters
        ----------
        ref : str, dict, list or None
            A node-set name, an inline node set, or a list of them.
        key : str
            The config key that holds it, for messages.
        """
        return check_node_ref(self.network, ref, self.config.path, key)

    def output_path(self, path: str) -> str:
        """Where to write a file that belongs in ``output_dir`` during the run (the staging folder).

        Parameters
        ----------
        path : str
            A path inside ``output_dir``.

        Raises
        ------
        ConfigError
            ``path`` is outside ``output_dir``: a run writes nowhere else.
        """
        out = self.config.output.output_dir
        p = os.path.abspath(path)
        if os.path.commonpath([p, out]) == out and p != out:
            return os.path.join(self.staging, os.path.relpath(p, out))
        if os.path.commonpath([p, self.staging]) == self.staging:  # mapped already (a name derived from one)
            return p
        raise refuse_outside(self.config, p)


def _as_config(config: Any) -> SimulationConfig:
    if isinstance(config, SimulationConfig):
        return config
    if isinstance(config, dict):
        return SimulationConfig.from_dict(config, os.getcwd(), None)
    cfg = load_config(config)
    if not isinstance(cfg, SimulationConfig):
        raise ConfigError(getattr(cfg, "path", None), "run", "a simulation config (with a 'run' block)",
                          "a circuit config")
    return cfg


def _with_tstop(cfg: SimulationConfig, tstop: float) -> SimulationConfig:
    """The config with ``run.tstop`` replaced (a shorter or longer run of the same model); report windows that
    ended later end at the new stop."""
    import dataclasses

    t = float(tstop)
    if not np.isfinite(t) or t <= cfg.run.tstart:
        raise ConfigError(cfg.path, "run.tstop", f"a finite time after run.tstart ({cfg.run.tstart:g} ms) "
                          "(the tstop override)", repr(tstop))
    reports = {k: dataclasses.replace(r, end_time=t) if r.end_time is not None and r.end_time > t else r
               for k, r in cfg.reports.items()}
    return dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, tstop=t), reports=reports)


def _as_network(network: Any, cfg: SimulationConfig) -> Network:
    if network is None:
        return Network.from_config(cfg)
    if isinstance(network, (list, tuple)):  # several builders/networks, e.g. a virtual input network and v1
        parts = [_as_network(n, cfg) for n in network]
        network = Network({k: v for p in parts for k, v in p.nodes.items()},
                          {k: v for p in parts for k, v in p.edges.items()})
    if hasattr(network, "build") and hasattr(network, "add_nodes"):  # a NetworkBuilder: its in-memory build
        network = network.build()
    if not isinstance(network, Network):
        raise ConfigError(cfg.path, "network", "a Network or a NetworkBuilder", type(network).__name__)
    if (cfg.node_sets_file or cfg.node_sets) and not len(network.node_sets.names):
        from modelkit.sonata import NodeSets
        network.node_sets = NodeSets.from_config(cfg)  # the file's sets and the config's inline ones
    return network


def _relocate_output(cfg: SimulationConfig, new: str) -> SimulationConfig:
    import dataclasses
    old = cfg.output.output_dir

    def move(p: str | None) -> str | None:
        if p is None:
            return None
        return os.path.join(new, os.path.relpath(p, old)) if os.path.commonpath([p, old]) == old else p
    extra = {k: (move(v) if k in OUTPUT_EXTRA_KEYS and isinstance(v, str) and os.path.isabs(v) else v)
             for k, v in cfg.output.extra.items()}  # bmtk's rates_file, named by an absolute path
    out = dataclasses.replace(cfg.output, output_dir=new, log_file=move(cfg.output.log_file),
                              spikes_file=move(cfg.output.spikes_file),
                              spikes_file_csv=move(cfg.output.spikes_file_csv), extra=extra)
    reports = {k: dataclasses.replace(r, file_name=move(r.file_name), params={
        n: (move(v) if n in REPORT_OUTPUT_KEYS and isinstance(v, str) else v) for n, v in r.params.items()})
        for k, r in cfg.reports.items()}
    return dataclasses.replace(cfg, output=out, reports=reports)


def _rates_file_inside(cfg: SimulationConfig) -> tuple[SimulationConfig, str | None]:
    """``output.rates_file`` (bmtk PopNet's rates) outside ``output_dir`` goes into ``output_dir`` under its own
    name: bmtk writes it where the config says, but a run writes only inside its output folder (the note says
    where it went, for the log)."""
    import dataclasses
    v = cfg.output.extra.get("rates_file")
    out = cfg.output.output_dir
    if not isinstance(v, str) or not v:
        return cfg, None
    p = os.path.normpath(os.path.join(out, os.path.expanduser(v)))
    if os.path.commonpath([p, out]) == out and p != out:
        return cfg, None
    new = os.path.join(out, os.path.basename(p))
    extra = {**cfg.output.extra, "rates_file": new}
    note = (f"output.rates_file {p} is outside the output folder {out}: written to {new} instead (a run writes "
            f"only inside its output folder)")
    return dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, extra=extra)), note


def _split_populations(network: Network) -> tuple[dict[str, Selection], dict[str, Selection], set[str]]:
    built: dict[str, Selection] = {}
    sources: dict[str, Selection] = {}
    types: set[str] = set()
    for name, pop in network.nodes.items():
        if "model_type" not in pop.attribute_names:
            raise ConfigError(pop.path, f"/nodes/{name}", "a model_type for every node (HDF5 or node-types CSV)",
                              "no model_type attribute")
        for mt, sel in pop.split_by("model_type").items():
            mt = str(mt)
            if mt in SOURCE_MODEL_TYPES:
                sources[name] = sources.get(name, Selection()) | sel
            else:
                types.add(mt)
                built[name] = built.get(name, Selection()) | sel
    return built, sources, types


@contextlib.contextmanager
def _located(cfg: SimulationConfig, module: Any) -> Iterator[None]:
    """A module's ConfigError that names no file gets the simulation config and the module's ``inputs.<name>`` /
    ``reports.<name>`` key (backends raise such errors about a module's values without knowing the config)."""
    try:
        yield
    except ConfigError as e:
        spec = getattr(module, "spec", None)
        if e.path is not None or spec is None:
            raise
        section = "inputs" if cfg.inputs.get(module.name) is spec else "reports"
        base = f"{section}.{module.name}"
        key = e.key if (e.key or "").startswith(base) else f"{base} ({e.key})" if e.key else base
        if cfg.path is None and key == e.key:
            raise
        try:  # keep the subclass (NodeSetError, the filter backend's StimulusError, ...)
            located = type(e)(cfg.path, key, e.expected, e.found)
        except TypeError:
            located = ConfigError(cfg.path, key, e.expected, e.found)
        raise located from e


def _choose_backend(net: Network, types: set[str], prefer: str | None, hint: str | None) -> type[Backend]:
    """The backend for ``types``; an unknown model type is named with its population and file."""
    try:
        return backend_for(types, prefer=prefer, hint=hint)
    except UnknownModelError as e:
        unknown = set(types) - known_model_types()
        if not unknown:  # known types that the preferred backend does not simulate: the message says so
            raise
        raise model_type_error(net, unknown, e) from e


def _check_edge_targets(network: Network, built: dict[str, Selection], backend: str) -> None:
    """Edges onto a population of virtual nodes only would be skipped by every backend that does not
    build such nodes (bmtk refuses them: "cannot create connections")."""
    for ename, epop in network.edges.items():
        if epop.size and epop.target not in built:
            raise SonataFormatError(epop.path, f"/edges/{ename}/target_node_id attribute node_population",
                                    f"a population with cells the {backend} backend builds (edges onto virtual "
                                    f"nodes drive nothing)", f"{epop.target!r} (virtual nodes only)")


#: built cells from which a run uses every free core by default. Measured with benchmarks/bench_nest.py on a
#: 2-core machine: 2 NEST threads ran point_120cells (120 cells) 0.4-1.1x as fast as 1 thread, and a
#: 20,000-cell network with 2x10^7 edges about 2x as fast (setup 10.9 -> 7.2 s); bmtk saw the same on small
#: networks (point_450cells 12.7 s -> 21.3 s with 2 threads).
THREADS_FROM_CELLS = 10_000


def _coreneuron_asked(cfg: SimulationConfig, asked: bool | None, gpu: bool | None) -> tuple[bool, bool]:
    """(CoreNEURON, on a GPU) from ``simulate(coreneuron=..., coreneuron_gpu=...)``, else the config's
    ``run.coreneuron`` and ``run.coreneuron_gpu`` (true or false), else False; the GPU implies CoreNEURON.

    Raises
    ------
    ConfigError
        ``run.coreneuron`` or ``run.coreneuron_gpu`` is not true or false, or CoreNEURON is turned off while
        its GPU is asked for.
    """
    flags = {}
    for key, value in (("coreneuron", asked), ("coreneuron_gpu", gpu)):
        if value is None:
            value = cfg.run.extra.get(key)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(cfg.path, f"run.{key}", "true or false", repr(value)[:80])
        flags[key] = value
    if flags["coreneuron_gpu"] and flags["coreneuron"] is False:
        raise ConfigError(cfg.path, "run.coreneuron", "true (or left out) when run.coreneuron_gpu is true: the GPU "
                          "runs CoreNEURON", "false")
    return bool(flags["coreneuron"] or flags["coreneuron_gpu"]), bool(flags["coreneuron_gpu"])


def _default_threads(n_cells: int) -> int:
    """Threads for a run of ``n_cells`` built cells when neither the caller nor the config says."""
    if n_cells < THREADS_FROM_CELLS:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores // max(1, world().size), 8))


def _block_ms(cfg: SimulationConfig, duration: float) -> float:
    run = cfg.run
    # a block longer than the run is the run: one block (a larger one left reports without their frames)
    if run.nsteps_block:
        return min(run.nsteps_block * run.dt, duration)
    if run.tsteps_block:
        return min(run.tsteps_block * run.dt, duration)
    if run.extra.get("block_size"):
        return min(float(run.extra["block_size"]), duration)
    steps = max(1, int(round(min(1000.0, max(duration / 20.0, run.dt)) / run.dt)))
    return steps * run.dt


def _prepare_output(cfg: SimulationConfig, overwrite: bool) -> str:
    out = cfg.output.output_dir
    if os.path.exists(out) and not overwrite and os.listdir(out):
        raise OutputExistsError(f"{out}: output folder exists and is not empty; set output.overwrite_output_dir "
                                f"(or pass overwrite=True)")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    recover_partials(out)  # the staging folders of killed runs become <out>.failed, their spikes recovered
    staging = staging_name(out)
    os.makedirs(staging)
    return staging


def _prepare_output_on_root(comm: Any, cfg: SimulationConfig, overwrite: bool) -> str:
    """Rank 0 makes the staging folder; every rank learns its name (or rank 0's error)."""
    if comm.size == 1:
        return _prepare_output(cfg, overwrite)
    result: Any
    if comm.rank == 0:
        try:
            result = _prepare_output(cfg, overwrite)
        except ModelkitError as e:
            result = e
    else:
        result = None
    result = comm.bcast(result, root=0)
    if isinstance(result, BaseException):
        raise result
    return str(result)


_publish = swap_in
_fail = fail


def _is_stop(e: BaseException) -> bool:
    """A run ended on request (a RunStoppedError from a sink: LiveRun.stop, the Run monitor; Ctrl-C;
    SIGTERM/SIGHUP), not by an error."""
    return isinstance(e, (KeyboardInterrupt, RunTerminated, RunStoppedError))


def _salvage(sim: Simulation | None, modules: list[SimulatorModule], spikes: SpikesOutput | None,
             stopped: bool) -> None:
    """The run ended early: each module writes what its whole blocks recorded (rank 0 writes the files).

    A module that cannot is logged and skipped: the error that ended the run is the one raised.
    """
    if sim is None or spikes is None or spikes.stop_time is None:
        return  # the run never reached its first block: nothing was recorded
    try:
        stop = spikes.salvage(sim)
    except Exception as e:  # noqa: BLE001
        log.error("the spikes recorded so far could not be written: %s: %s", type(e).__name__, e)
        stop = spikes.stop_time
    for m in modules:
        if m is spikes:
            continue
        try:
            m.salvage(sim, stop)
        except Exception as e:  # noqa: BLE001
            log.error("%s: the frames recorded so far could not be kept: %s: %s", type(m).__name__,
                      type(e).__name__, e)
    if sim.is_root:
        log.warning("run %s at t = %g ms: kept the %d spikes up to that time and the report frames written",
                    "stopped" if stopped else "failed", stop, spikes.n_written)


def simulate(config: Any, *, network: Any = None, backend: str | None = None, threads: int | None = None,
             seed: int | None = None, output_dir: Any = None, overwrite: bool | None = None,
             progress: bool | None = None, sinks: Sequence[ReportSink] = (),
             tstop: float | None = None, coreneuron: bool | None = None,
             coreneuron_gpu: bool | None = None, overrides: Mapping[str, Any] | None = None) -> RunResult:
    """Run a SONATA simulation.

    Parameters
    ----------
    config : str, SimulationConfig or dict
        The simulation config (a path, a parsed config, or a dict with the same keys,
        relative paths resolved from the working directory).
    network : Network, NetworkBuilder, or a list of them, optional
        Simulate this network instead of the config's circuit; a builder is built in
        memory (no files need be saved first); a list is merged (input networks and the
        network they drive).
    backend : str, optional
        Force a backend (``"nest"``, ``"filter"``); default: chosen by the nodes' ``model_type`` (or by
        the config's ``target_simulator`` where they do not decide: ``LGNModel`` runs the filter backend).
    threads : int, optional
        Simulator threads (default: ``run.n_thread``, else :func:`_default_threads`: 1 below
        10^4 cells, the free cores above, as measured with ``benchmarks/bench_nest.py``).  NEST and
        NEURON give the results of one thread; NEURON runs one thread with ECP reports, xstim, artificial
        cells or mechanisms that are not thread safe (asked-for threads then raise ``ConfigError``).
        From 1 to :func:`modelkit.sonata.simcheck.max_threads` (8 per core, at least 64, at most 1024).
    seed : int, optional
        Random seed (default: ``run.random_seed`` or 0): same seed, same spikes.
    output_dir : str, optional
        Write here instead of the config's ``output.output_dir`` (files that lived there move along).
    overwrite : bool, optional
        Replace an existing output folder (default: ``output.overwrite_output_dir``).
    progress : bool, optional
        Progress bar (default: the ``progress`` option).
    sinks : sequence of ReportSink
        Receive spikes and progress while the run goes on.
    tstop : float, optional
        Run until this time (ms) instead of the config's ``run.tstop`` (report windows that end later end
        here); the log says so.
    coreneuron : bool, optional
        NEURON builds the model and CoreNEURON integrates it in memory, on one process (default:
        ``run.coreneuron``, else False).  What CoreNEURON cannot run is refused before anything is written.
    coreneuron_gpu : bool, optional
        CoreNEURON integrates on a GPU (default: ``run.coreneuron_gpu``, else False; implies ``coreneuron``).
        NEURON must be built with GPU support (``CORENRN_ENABLE_GPU=ON``); otherwise a ``ConfigError`` says so
        before anything is written.
    overrides : mapping of str to value, optional
        Model parameters changed for this run, in memory (no file is written):
        ``{"node_types.LIF_exc.tau_m": 15.0, "edge_types.100.syn_weight": 1.2, "inputs.bg.rate": 20.0}``
        (see :mod:`modelkit.simulator.overrides`; :func:`~modelkit.simulator.tunable_parameters` lists them).

    Returns
    -------
    RunResult

    Raises
    ------
    ModelkitError
        Bad config, unknown models or modules, undefined node sets, an output folder
        that exists; the run's folder is then ``<output_dir>.failed`` (when it started), with the spikes
        and report frames of the blocks run so far.  A run stopped (a sink's ``RunStoppedError``,
        ``KeyboardInterrupt``, :class:`~modelkit.simulator.staging.RunTerminated` for SIGTERM/SIGHUP)
        leaves ``<output_dir>.stopped`` instead; ``/spikes@stop_time`` of its spikes file says up to
        when (ms) it holds every spike.
        What :mod:`modelkit.simulator.checks` finds (node ids that do not exist, NEST models NEST lacks, a
        dt off NEST's grid, threads out of range, an ``output_dir`` blocked by a file) is raised before
        anything is written, and :func:`modelkit.validate` reports the same.

    Warns
    -----
    ModelkitWarning
        Spikes of an input file whose node ids are not in the population (dropped, as bmtk does).

    Examples
    --------
    >>> result = simulate("config.simulation.json")                                    # doctest: +SKIP
    >>> result.rates()                           # Hz per population                   # doctest: +SKIP
    >>> simulate("config.simulation.json", output_dir="faster", overrides={           # doctest: +SKIP
    ...     "node_types.LIF_exc.tau_m": 10.0,    # ms (each value in its parameter's own unit)
    ...     "edge_types.101.syn_weight": -8.0,   # pA for NEST's current-based models
    ...     "inputs.bg.rate": 20.0})             # Hz
    """
    from modelkit.options import OPTIONS
    t0 = time.perf_counter()
    cfg = _as_config(config)
    if tstop is not None:
        cfg = _with_tstop(cfg, tstop)
    if output_dir is not None:
        cfg = _relocate_output(cfg, os.path.abspath(os.fspath(output_dir)))
    net = _as_network(network, cfg)
    if overrides:
        cfg, net = apply_overrides(cfg, net, overrides)
    cfg, rates_note = _rates_file_inside(cfg)
    check_output_paths(cfg)  # before anything is written: outputs inside output_dir only,
    check_inputs_outside(cfg, net)  # and an output_dir that publishing cannot delete inputs from
    for epop in net.edges.values():  # before any backend: each would skip such edges without a word
        epop.check_node_populations(net.nodes)
    built, sources, types = _split_populations(net)
    t_load = time.perf_counter() - t0
    target = str(cfg.target_simulator or "").lower()
    cls = _choose_backend(net, types, backend or TARGET_SIMULATORS.get(target), TARGET_HINTS.get(target))
    if SOURCE_MODEL_TYPES & cls.model_types:  # a backend that simulates virtual nodes (filter cells) builds them
        built = {p: built.get(p, Selection()) | sources.get(p, Selection()) for p in {**built, **sources}}
        sources = {}
    _check_edge_targets(net, built, cls.name)
    run = cfg.run
    n_thread = threads if threads is not None else int(run.extra.get("n_thread") or _default_threads(
        sum(len(v) for v in built.values())))
    options = RunOptions(tstart=run.tstart, tstop=run.tstop, dt=run.dt, block=_block_ms(cfg, run.tstop - run.tstart),
                         threads=max(1, n_thread),
                         threads_requested=threads is not None or bool(run.extra.get("n_thread")),
                         seed=int(seed if seed is not None else (run.random_seed or 0)),
                         spike_threshold=run.spike_threshold, conditions=dict(cfg.conditions),
                         progress=OPTIONS["progress"] if progress is None else progress,
                         **dict(zip(("coreneuron", "coreneuron_gpu"),
                                    _coreneuron_asked(cfg, coreneuron, coreneuron_gpu), strict=True)))
    if options.coreneuron:  # what CoreNEURON cannot run, before anything is written
        check = getattr(cls, "check_coreneuron", None)
        if check is None:
            raise ConfigError(cfg.path, "run.coreneuron (or simulate(coreneuron=...))",
                              "a network of biophysical cells (NEURON's backend)", f"the {cls.name} backend")
        check(cfg, net, built, gpu=options.coreneuron_gpu)
    check_run(cfg, net, cls, built, threads)  # what the simulator would refuse, before anything is written
    out = cfg.output.output_dir
    comm = world()
    check_launch(comm)  # before anything is written: N ranks that cannot talk would each write the same files
    staging = _prepare_output_on_root(comm, cfg, cfg.output.overwrite_output_dir if overwrite is None else overwrite)
    # SIGTERM/SIGHUP/SIGINT from here on end the run through the path below (<out>.stopped, its files kept)
    signals_cm = run_signals()
    signals = signals_cm.__enter__()
    handler = None
    if cfg.output.log_file and comm.rank == 0:
        log_path = os.path.join(staging, os.path.relpath(cfg.output.log_file, out)) \
            if os.path.commonpath([cfg.output.log_file, out]) == out else cfg.output.log_file
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        handler = logging.FileHandler(log_path)
        handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s"))
        logging.getLogger("modelkit").addHandler(handler)
        logging.getLogger("modelkit").setLevel(min(logging.INFO, logging.getLogger("modelkit").level or logging.INFO))
    sim = None
    engine = None
    modules: list[SimulatorModule] = []
    spikes: SpikesOutput | None = None
    # the Run monitor of a Jupyter server sees this run when the kernel runs under modelkit.labserver
    status = RunStatus.start(kind="simulate", config=cfg.path, output_dir=out, tstart=run.tstart, tstop=run.tstop,
                             backend=cls.name) if comm.rank == 0 else None
    if status is not None:
        sinks = [*sinks, status]
    try:
        log.info("simulation config %s; backend %s; %d threads; seed %d", cfg.path, cls.name, options.threads,
                 options.seed)
        if tstop is not None:
            log.info("run.tstop overridden: %g ms (the config says %s)", run.tstop,
                     (cfg.raw.get("run") or {}).get("tstop", (cfg.raw.get("run") or {}).get("duration")))
        if rates_note:
            log.warning(rates_note)
        if overrides:
            log.info("overrides: %s", dict(overrides))
        engine = cls()
        sim = Simulation(net, cfg, engine, options, staging, sinks if comm.rank == 0 else (), comm)
        sim.built, sim.sources = built, sources
        modules = [input_module(name, spec, cfg.path, cls) for name, spec in cfg.inputs.items() if spec.enabled]
        modules += [report_module(name, spec, cfg.path, cls) for name, spec in cfg.reports.items() if spec.enabled]
        modules += backend_output_modules(cls, cfg)  # a backend's own outputs
        spikes = SpikesOutput()
        modules.append(spikes)
        tb = time.perf_counter()
        for m in modules:
            with _located(cfg, m):
                m.configure(sim)
        engine.build(net, built, options, cfg)
        ranks = engine.n_processes if isinstance(engine, Processes) else 1
        if ranks != comm.size:
            raise BackendUnavailableError(
                f"{cls.name}: launched on {comm.size} MPI ranks but the simulator runs on {ranks} process(es): "
                f"it was built without MPI here (each rank would simulate the whole network); run one process "
                f"with threads, or install a {cls.name} built with MPI")
        # MPI backends: one rank's error stops every rank
        agree = engine.agree_on_errors if isinstance(engine, AgreesOnErrors) else None
        for m in modules:
            if agree is None:
                with _located(cfg, m):
                    m.initialize(sim)
                continue
            error: BaseException | None = None
            try:
                with _located(cfg, m):
                    m.initialize(sim)
            except Exception as e:  # every rank reaches agree, so the others are not left waiting
                error = e
            agree(error)
        t_build = time.perf_counter() - tb
        log.info("built %s cells in %.2f s", {k: len(v) for k, v in built.items()}, t_build)
        tr = time.perf_counter()
        _run_blocks(sim, modules, options, signals.check)
        t_run = time.perf_counter() - tr
        for m in modules:
            m.finalize(sim)
        signals.check()
        log.info("run of %.1f ms done in %.2f s; spikes %s", options.tstop - options.tstart, t_run, spikes.counts)
    except BaseException as e:
        signals.ending = True  # a second signal does not cut the partial files or the move short
        stopped = _is_stop(e)
        try:
            log.error("run %s: %s: %s", "stopped" if stopped else "failed", type(e).__name__, e)
            if comm.rank == 0:  # the files of the whole blocks, valid and with the stop time, before the move
                _salvage(sim, modules, spikes, stopped)
            if handler is not None:
                logging.getLogger("modelkit").removeHandler(handler)
                handler.close()
            if engine is not None:
                engine.close()
            # the finished frames of the traceback hold the simulator's cells, synapses and vectors (NEURON
            # sections outlive the backend): a caller that keeps the error (pytest.raises, IPython's
            # sys.last_traceback) would keep them in the simulator, and the next run in this process failed
            # ("acquire_owning_identifier() called on a frozen structure") or crashed when they were collected
            traceback.clear_frames(e.__traceback__)
            if comm.rank == 0:
                with signals.uninterrupted():
                    failed = _fail(staging, out, stopped)
                if isinstance(e, ModelkitError):
                    e.add_note(f"the run's files are in {failed}")
                elif isinstance(e, RunTerminated):
                    print(f"modelkit: run {e}; its files are in {failed}", file=sys.stderr)
            if status is not None:
                status.finish("stopped" if stopped else "failed", f"{type(e).__name__}: {e}")
        finally:  # the previous handlers are back whatever happens above
            signals_cm.__exit__(None, None, None)
        raise
    try:
        if handler is not None:
            logging.getLogger("modelkit").removeHandler(handler)
            handler.close()
        engine.close()
        comm.barrier()  # every rank has finished writing into the staging folder
        if comm.rank == 0:
            with signals.uninterrupted():
                _publish(staging, out)
    except BaseException:
        if comm.rank == 0 and os.path.isdir(staging):
            with signals.uninterrupted():
                _fail(staging, out)
        raise
    finally:
        signals_cm.__exit__(None, None, None)
    comm.barrier()
    # every rank returns rank 0's result (a cluster client may read any engine's)
    spikes.counts, sim.outputs = comm.bcast((spikes.counts, sim.outputs), root=0)
    if status is not None:
        status.finish("done")
    reports = {k: os.path.join(out, os.path.relpath(v, staging)) if v.startswith(staging) else v
               for k, v in sim.outputs.items()}
    return RunResult(output_dir=out, spikes_file=reports.pop("spikes", None),
                     spikes_csv=reports.pop("spikes_csv", None),
                     reports=reports, n_spikes=spikes.counts, n_cells={k: len(v) for k, v in built.items()},
                     timings={"load": t_load, "build": t_build, "run": t_run,
                              "total": time.perf_counter() - t0}, backend=cls.name,
                     log_file=cfg.output.log_file, tstop=options.tstop - options.tstart,
                     coreneuron=options.coreneuron)


def _run_blocks(sim: Simulation, modules: list[SimulatorModule], options: RunOptions,
                check: Callable[[], None] = lambda: None) -> None:
    """Run the blocks; ``check()`` after each raises a signal's error whose first raise was lost."""
    t = options.tstart
    n_blocks = int(np.ceil(round((options.tstop - options.tstart) / options.block, 9)))
    bar = None
    if options.progress and sim.is_root:
        from tqdm.auto import tqdm
        bar = tqdm(total=round(options.tstop - options.tstart, 6), unit="ms", desc="simulating", leave=False)
    try:
        for k in range(n_blocks):
            t_next = min(options.tstop, options.tstart + (k + 1) * options.block)
            sim.backend.run_until(t_next)
            for m in modules:
                m.block(sim, t_next)
            _progress_on_every_rank(sim, t_next, options.tstop)
            check()
            if bar is not None:
                bar.update(round(t_next - t, 6))
            t = t_next
    finally:
        if bar is not None:
            bar.close()


def _progress_on_every_rank(sim: Simulation, t: float, tstop: float) -> None:
    """Tell the sinks (rank 0's) a block ended; a stop request or a failed sink ends the run on every rank.

    Without the broadcast, rank 0 would leave the run alone and the other ranks would wait for it
    in the next block's spike exchange for ever.
    """
    failure: BaseException | None = None
    try:
        for s in sim.sinks:
            s.progress(t, tstop)
    except BaseException as e:
        failure = e
    if sim.comm.size > 1:
        msg = sim.comm.bcast(None if failure is None else f"{type(failure).__name__}: {failure}", root=0)
        if failure is None and msg is not None:
            raise ModelkitError(f"rank 0 ended the run at t = {t:g} ms: {msg}")
    if failure is not None:
        raise failure
