"""Checks a run needs before the simulator starts, shared by :func:`simulate` and :func:`modelkit.validate`.

The config's own values are checked when it is parsed (:mod:`modelkit.sonata.simcheck`); this module adds
what needs the network or a simulator: node sets and node ids that inputs and reports name, an output folder
that a file blocks, thread counts, model types no backend simulates, input and report modules the backend does
not run, and what the backend's own ``check`` finds (NEST models and time steps that NEST would refuse with a raw
traceback, or a crash, once it runs: :mod:`modelkit.simulator.nest.checks`).  ``simulate`` raises the first
error; ``validate`` lists them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import MAX_SHOWN, ConfigError, ModelkitError, UnknownModelError
from modelkit.simulator.base import SimulatorModule, backend_problems
from modelkit.sonata.simcheck import RefProblem, attribute_file, check_output_dir, check_parsed_values, check_references
from modelkit.sonata.simcheck import check_threads

if TYPE_CHECKING:
    from modelkit.simulator.base import Backend
    from modelkit.sonata import Network, Selection, SimulationConfig
    from modelkit.sonata.config import InputSpec
    from modelkit.sonata.validate import Problem

__all__ = ["check_run", "run_problems", "module_problems", "model_type_error", "model_error", "validate_run"]

def _shown(text: str) -> str:
    """At most MAX_SHOWN characters of a text in a message (a hostile model name must not bury its head)."""
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text):,} characters)"


def model_error(path: str | None, key: str, expected: str, found: str) -> UnknownModelError:
    """An UnknownModelError located like a ConfigError (``path``, ``key``, ``expected``, ``found`` attributes,
    which :func:`modelkit.validate` reports).

    Parameters
    ----------
    path : str or None
        The file at fault.
    key : str
        Where in it.
    expected, found : str
        What was expected there, and what was found.

    Returns
    -------
    UnknownModelError
    """
    err = UnknownModelError(f"{path}: {key}: expected {_shown(expected)}, found {_shown(found)}")
    err.path, err.key, err.expected, err.found = path, key, expected, found  # type: ignore[attr-defined]
    return err


def model_type_error(net: Network, unknown: set[str], e: UnknownModelError) -> UnknownModelError:
    """``e`` located at the first population (and its node-types CSV or nodes file) with a model type no backend
    simulates; the message lists every such population.

    Parameters
    ----------
    net : Network
        The network.
    unknown : set of str
        The model types no backend simulates.
    e : UnknownModelError
        The registry's error.

    Returns
    -------
    UnknownModelError
    """
    where = []
    for name, pop in net.nodes.items():
        if "model_type" not in pop.attribute_names:
            continue
        found = sorted({str(x) for x in pop.split_by("model_type")} & unknown)
        if found:
            where.append((attribute_file(pop, "model_type"), f"{found} in population {name!r}"))
    if not where:
        return e
    others = "; ".join(f"{f}: {what}" for f, what in where[1:])
    return model_error(where[0][0], "model_type", f"a model type some backend simulates ({e})",
                        where[0][1] + (f" (and {others})" if others else ""))


def run_problems(cfg: SimulationConfig, net: Network, backend: type[Backend] | None,
                 built: dict[str, Selection] | None = None, *, threads: object = None,
                 spike_files: bool = True) -> list[ModelkitError]:
    """Every problem a run of ``cfg`` on ``net`` would hit before or when the simulator starts.

    Parameters
    ----------
    cfg, net : SimulationConfig, Network
        The run's config and network.
    backend : type[Backend] or None
        The backend class of the run: its input and report modules are the ones known, and its ``check`` runs
        (NEST's models and time step). None: every backend's modules are known and no backend check runs.
    built : dict of str to Selection, optional
        The cells the backend builds (default: every node).
    threads : int, optional
        Threads asked for by the caller (``simulate(threads=...)``, ``--threads``).
    spike_files : bool
        Also read spike input files for node ids that are not in their population (warnings).

    Returns
    -------
    list of ModelkitError
        Errors, and :class:`~modelkit.sonata.simcheck.RefProblem` with ``severity == "warning"`` for
        spikes that would be dropped.
    """
    out: list[ModelkitError] = []
    try:
        check_parsed_values(cfg)
    except ConfigError as e:
        out.append(e)
    if threads is not None:
        try:
            check_threads(threads, cfg.path, "threads")
        except ConfigError as e:
            out.append(e)
    try:
        check_output_dir(cfg.output.output_dir, cfg.path)
    except ConfigError as e:
        out.append(e)
    refs = check_references(cfg, net)
    out += [r for r in refs if spike_files or r.severity == "error"]
    out += module_problems(cfg, net, built, backend)
    if backend is not None:
        if built is None:
            built = {n: p.ids() for n, p in net.nodes.items()}
        out += backend_problems(backend, cfg, net, built)
    return out


def module_problems(cfg: SimulationConfig, net: Network, built: dict[str, Selection] | None,
                    backend: type[Backend] | None = None) -> list[ModelkitError]:
    """What the input and report modules would refuse when they are set up, found without a simulator.

    An unknown ``input_type``/``module`` or report ``module`` (or one of another backend), outputs outside
    ``output_dir``, a Poisson input without a rate, and a Poisson input whose node set holds no virtual node to
    drive.

    Parameters
    ----------
    cfg, net
        See :func:`run_problems`.
    built : dict of str to Selection or None
        The cells the backend builds (None: not known).
    backend : type[Backend], optional
        The backend class of the run (None: the modules of every backend are known).

    Returns
    -------
    list of ModelkitError
    """
    from modelkit.simulator.inputs import input_module
    from modelkit.simulator.recording import report_module
    from modelkit.simulator.staging import check_output_paths
    out: list[ModelkitError] = []
    try:
        check_output_paths(cfg)
    except ConfigError as e:
        out.append(e)
    for name, spec in cfg.inputs.items():
        if not spec.enabled:
            continue
        try:
            mod = input_module(name, spec, cfg.path, backend)
        except ConfigError as e:
            out.append(e)
            continue
        out += _file_problems(mod, cfg)
        if spec.module == "poisson" and spec.input_type in ("spikes", "poisson"):
            out += _poisson_problems(cfg, net, built, name, spec)
    for name, rspec in cfg.reports.items():
        if not rspec.enabled:
            continue
        try:
            out += _file_problems(report_module(name, rspec, cfg.path, backend), cfg)
        except ConfigError as e:
            out.append(e)
    return out


def _file_problems(mod: SimulatorModule, cfg: SimulationConfig) -> list[ConfigError]:
    """Data files a module names that are absent, found before any build (modules with ``file_problems``)."""
    files = getattr(mod, "file_problems", None)
    return list(files(cfg)) if files is not None else []


def _poisson_problems(cfg: SimulationConfig, net: Network, built: dict[str, Selection] | None, name: str,
                      spec: InputSpec) -> list[ModelkitError]:
    """A Poisson input's rates that are no numbers or absent, node sets without virtual nodes, too many spikes."""
    from modelkit.simulator.inputs import check_poisson_count
    out: list[ModelkitError] = []
    key = f"inputs.{name}"
    for k in ("rate", "rates", "times"):
        if k in spec.params:
            try:
                np.asarray(spec.params[k], dtype=float)
            except (TypeError, ValueError):
                out.append(ConfigError(cfg.path, f"{key}.{k}", "numbers (rates in Hz, times in ms)",
                                       repr(spec.params[k])[:80]))
    if "rates" not in spec.params and "rate" not in spec.params:
        out.append(ConfigError(cfg.path, f"{key}.rate", "a rate (Hz) or rates with times (ms)", "absent"))
    try:
        sel = net.resolve_node_set(spec.node_set)[1]
    except ModelkitError:
        return out  # check_references reports it
    n_virtual = 0
    for pop, s in sel.items():
        if not len(s):
            continue
        cells = built.get(pop) if built is not None else None
        virtual = s if cells is None and built is None else (s - cells if cells is not None else s)
        if built is not None and not len(virtual):
            out.append(ConfigError(cfg.path, f"{key}.node_set", "virtual nodes to drive", f"none in {pop}"))
        n_virtual += len(virtual)
    err = check_poisson_count(spec.params, n_virtual, cfg.run.tstart, cfg.run.tstop, cfg.path, key)
    if err is not None:
        out.append(err)
    return out


def check_run(cfg: SimulationConfig, net: Network, backend: type[Backend], built: dict[str, Selection],
              threads: object = None) -> None:
    """Raise the first error of :func:`run_problems` (spike-file warnings are the input module's to give).

    Parameters
    ----------
    cfg, net, backend, built, threads
        See :func:`run_problems`; here ``backend`` and ``built`` are known.

    Raises
    ------
    ModelkitError
        The first problem found.
    """
    for p in run_problems(cfg, net, backend, built, threads=threads, spike_files=False):
        if not (isinstance(p, RefProblem) and p.severity == "warning"):
            raise p


def validate_run(path: PathLike) -> list[Problem]:
    """The problems :func:`modelkit.validate` adds for a simulation config: what ``simulate`` would refuse.

    Parameters
    ----------
    path : str or PathLike
        The simulation config.

    Returns
    -------
    list of modelkit.sonata.validate.Problem
    """
    from modelkit.simulator.registry import SOURCE_MODEL_TYPES, TARGET_HINTS, TARGET_SIMULATORS, backend_for
    from modelkit.sonata import Network, SimulationConfig, load_config
    from modelkit.sonata.validate import Problem
    try:
        cfg = load_config(path)
        if not isinstance(cfg, SimulationConfig) or cfg.circuit is None:
            return []
        net = Network.from_config(cfg)
        built: dict[str, Selection] = {}
        types: set[str] = set()
        for name, pop in net.nodes.items():
            if "model_type" not in pop.attribute_names:
                return []
            for mt, sel in pop.split_by("model_type").items():
                if str(mt) not in SOURCE_MODEL_TYPES:
                    types.add(str(mt))
                    built[name] = sel if name not in built else built[name] | sel
    except ModelkitError:
        return []  # the sonata checks report why the config or network cannot be read
    backend: type[Backend] | None = None
    target = str(cfg.target_simulator or "").lower()
    out: list[Problem] = []
    try:
        backend = backend_for(types, prefer=TARGET_SIMULATORS.get(target), hint=TARGET_HINTS.get(target))
    except UnknownModelError as e:
        from modelkit.simulator.registry import known_model_types
        located = model_type_error(net, types - known_model_types(), e)
        out.append(Problem(getattr(located, "path", cfg.path), getattr(located, "key", None),
                           getattr(located, "expected", "a model type some backend simulates"),
                           getattr(located, "found", str(e))))
    except ModelkitError:
        pass  # the simulator is not installed: its checks cannot run
    for err in run_problems(cfg, net, backend, built):
        if hasattr(err, "expected"):  # ConfigError, RefProblem and the located UnknownModelError
            out.append(Problem(getattr(err, "path", cfg.path), getattr(err, "key", None), err.expected,
                               getattr(err, "found", None), getattr(err, "severity", "error")))
        else:
            out.append(Problem(cfg.path, None, "no error", str(err)))
    return out
