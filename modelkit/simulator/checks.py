"""Checks a run needs before the simulator starts, shared by :func:`simulate` and :func:`modelkit.validate`.

The config's own values are checked when it is parsed (:mod:`modelkit.sonata.simcheck`); this module adds
what needs the network or a simulator: node sets and node ids that inputs and reports name, an output folder
that a file blocks, thread counts, model types no backend simulates, and NEST models and time steps that NEST
would refuse (with a raw traceback, or a crash) once it runs.  ``simulate`` raises the first error;
``validate`` lists them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelkit.errors import MAX_SHOWN, ConfigError, ModelkitError, UnknownModelError
from modelkit.sonata.simcheck import RefProblem, attribute_file, check_output_dir, check_parsed_values, check_references
from modelkit.sonata.simcheck import check_node_ref, check_threads

__all__ = ["check_run", "run_problems", "model_type_error", "nest_problems", "MODEL_CHECKS"]

#: NEST's default time grid (ms): dt and delays must be whole multiples of one tic (tics_per_ms = 1000)
NEST_TIC_MS = 1e-3


def _shown(text: str) -> str:
    """At most MAX_SHOWN characters of a text in a message (a hostile model name must not bury its head)."""
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text):,} characters)"


def _model_error(path: str, key: str, expected: str, found: str) -> UnknownModelError:
    """An UnknownModelError located like a ConfigError (``path``, ``key``, ``expected``, ``found`` attributes,
    which :func:`modelkit.validate` reports)."""
    err = UnknownModelError(f"{path}: {key}: expected {_shown(expected)}, found {_shown(found)}")
    err.path, err.key, err.expected, err.found = path, key, expected, found  # type: ignore[attr-defined]
    return err


def model_type_error(net: Any, unknown: set[str], e: UnknownModelError) -> UnknownModelError:
    """``e`` located at the first population (and its node-types CSV or nodes file) with a model type no backend
    simulates; the message lists every such population."""
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
    return _model_error(where[0][0], "model_type", f"a model type some backend simulates ({e})",
                        where[0][1] + (f" (and {others})" if others else ""))


def nest_problems(net: Any, built: dict[str, Any]) -> list[ModelkitError]:
    """NEST models named by ``model_template`` that NEST does not have (and no cell hook provides).

    Returns an empty list where NEST cannot be imported.
    """
    try:
        import nest
    except ImportError:
        return []
    models = set(nest.node_models)
    out: list[ModelkitError] = []
    for name, sel in built.items():
        pop = net.nodes[name]
        if "model_template" not in pop.attribute_names or not len(sel):
            continue
        templates = {str(t) for t in np.unique(np.asarray(pop.column("model_template", sel.flat), dtype=str))}
        for tmpl in sorted(templates):
            nest_model = _nest_model(tmpl)
            if nest_model is None or nest_model in models:
                continue  # a missing template or another schema: the backend names it with its node type
            model = tmpl.rpartition(":")[2]
            import difflib
            close = difflib.get_close_matches(model, sorted(models), n=5)
            out.append(_model_error(attribute_file(pop, "model_template"), "model_template",
                                    f"a model NEST has (close names: {close})",
                                    f"{tmpl!r} in population {name!r}"))
    return out


def _nest_model(tmpl: str) -> str | None:
    """The NEST model a ``model_template`` makes, None where a cell hook or another schema makes it."""
    from modelkit.simulator.hooks import get_cell_model
    from modelkit.simulator.nest.glif import legacy_glif
    if tmpl in ("None", "nan", "") or get_cell_model(tmpl) is not None:
        return None
    schema, _, model = tmpl.rpartition(":")
    if schema not in ("", "nest"):
        return None
    legacy = legacy_glif(model)
    return legacy[0] if legacy else model


#: report modules that record cell variables with a NEST multimeter
_VARIABLE_REPORTS = ("membrane_report", "multimeter_report", "multimeter")


def nest_report_problems(cfg: Any, net: Any, built: dict[str, Any]) -> list[ModelkitError]:
    """Report variables the NEST model of a recorded cell does not have (NEST's ``recordables``).

    Returns an empty list where NEST cannot be imported.
    """
    try:
        import nest
    except ImportError:
        return []
    models = set(nest.node_models)
    out: list[ModelkitError] = []
    for name, spec in cfg.reports.items():
        if not spec.enabled or spec.module not in _VARIABLE_REPORTS:
            continue
        v = spec.variable_name
        variables = [v] if isinstance(v, str) else v
        if not isinstance(variables, list) or not all(isinstance(x, str) for x in variables):
            continue  # the report module names a malformed variable_name
        try:  # the same selection the report module records
            sel = check_node_ref(net, spec.cells, cfg.path, f"reports.{name}.cells")
        except ModelkitError:
            continue  # check_references reports it
        for pop, s in sel.items():
            cells = built.get(pop)
            if cells is None or "model_template" not in net.nodes[pop].attribute_names:
                continue
            ids = (s & cells).flat
            if not len(ids):
                continue
            templates = np.unique(np.asarray(net.nodes[pop].column("model_template", ids), dtype=str))
            for model in sorted({m for m in map(_nest_model, templates) if m is not None and m in models}):
                recordables = [str(r) for r in nest.GetDefaults(model).get("recordables", ())]
                missing = [x for x in variables if x not in recordables]
                if missing:
                    out.append(ConfigError(cfg.path, f"reports.{name}.variable_name",
                                           f"a recordable of {model} ({recordables})", str(missing)))
                    break
    return out


def _nest_dt(cfg: Any) -> list[ModelkitError]:
    dt = cfg.run.dt
    k = dt / NEST_TIC_MS
    if dt < NEST_TIC_MS or abs(k - round(k)) > 1e-6 * max(1.0, k):
        return [ConfigError(cfg.path, "run.dt", f"a multiple of NEST's time grid ({NEST_TIC_MS:g} ms)", f"{dt:g}")]
    return []


#: backend name -> checks of what that simulator refuses: f(cfg, net, built) -> errors
MODEL_CHECKS: dict[str, Callable[[Any, Any, dict[str, Any]], list[ModelkitError]]] = {
    "nest": lambda cfg, net, built: _nest_dt(cfg) + nest_problems(net, built) + nest_report_problems(cfg, net,
                                                                                                     built),
}


def run_problems(cfg: Any, net: Any, backend: str | None, built: dict[str, Any] | None = None, *,
                 threads: Any = None, spike_files: bool = True) -> list[ModelkitError]:
    """Every problem a run of ``cfg`` on ``net`` would hit before or when the simulator starts.

    Parameters
    ----------
    cfg : SimulationConfig
    net : Network
    backend : str or None
        The backend's registry name (its checks of models and time step run; none when None).
    built : dict, optional
        Population -> Selection of the cells the backend builds (default: every node).
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
    out += module_problems(cfg, net, built)
    if backend in MODEL_CHECKS:
        if built is None:
            built = {n: p.ids() for n, p in net.nodes.items()}
        out += MODEL_CHECKS[backend](cfg, net, built)
    return out


def module_problems(cfg: Any, net: Any, built: dict[str, Any] | None) -> list[ModelkitError]:
    """What the input and report modules would refuse when they are set up, found without a simulator.

    An unknown ``input_type``/``module`` or report ``module``, outputs outside ``output_dir``, a Poisson input
    without a rate, and a Poisson input whose node set holds no virtual node to drive.
    """
    from modelkit.simulator.inputs import check_poisson_count, input_module
    from modelkit.simulator.recording import report_module
    from modelkit.simulator.staging import check_output_paths
    out: list[ModelkitError] = []
    try:
        check_output_paths(cfg)
    except ConfigError as e:
        out.append(e)
    for kind, make, specs in (("inputs", input_module, cfg.inputs), ("reports", report_module, cfg.reports)):
        for name, spec in specs.items():
            if not spec.enabled:
                continue
            try:
                mod = make(name, spec, cfg.path)
            except ConfigError as e:
                out.append(e)
                continue
            files = getattr(mod, "file_problems", None)
            if files is not None:  # data files named by the input: absent ones are found before any build
                out += files(cfg)
            if kind != "inputs" or spec.module != "poisson" or spec.input_type not in ("spikes", "poisson"):
                continue
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
                continue  # check_references reports it
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


def check_run(cfg: Any, net: Any, backend: str, built: dict[str, Any], threads: Any = None) -> None:
    """Raise the first error of :func:`run_problems` (spike-file warnings are the input module's to give)."""
    for p in run_problems(cfg, net, backend, built, threads=threads, spike_files=False):
        if not (isinstance(p, RefProblem) and p.severity == "warning"):
            raise p


def validate_run(path: Any) -> list[Any]:
    """The problems :func:`modelkit.validate` adds for a simulation config: what ``simulate`` would refuse.

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
        built: dict[str, Any] = {}
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
    backend = None
    target = str(cfg.target_simulator or "").lower()
    out: list[Problem] = []
    try:
        backend = backend_for(types, prefer=TARGET_SIMULATORS.get(target), hint=TARGET_HINTS.get(target)).name
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
