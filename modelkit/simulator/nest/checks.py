"""What NEST would refuse (with a raw traceback, or a crash) once it runs, found before anything is built.

:meth:`NestBackend.check <modelkit.simulator.nest.NestBackend.check>` runs these for :func:`modelkit.simulator.simulate`
and :func:`modelkit.validate`: NEST models named by ``model_template`` that NEST lacks, report variables a model
does not record, and a time step off NEST's time grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from modelkit.errors import ConfigError, ModelkitError
from modelkit.simulator.checks import model_error
from modelkit.sonata.simcheck import attribute_file, check_node_ref

if TYPE_CHECKING:
    from modelkit.sonata import Network, Selection, SimulationConfig

__all__ = ["check", "nest_problems", "nest_report_problems", "nest_dt_problems", "NEST_TIC_MS"]

#: NEST's default time grid (ms): dt and delays must be whole multiples of one tic (tics_per_ms = 1000)
NEST_TIC_MS = 1e-3


def nest_problems(net: Network, built: dict[str, Selection]) -> list[ModelkitError]:
    """NEST models named by ``model_template`` that NEST does not have (and no cell hook provides).

    Returns an empty list where NEST cannot be imported.

    Parameters
    ----------
    net, built
        See :func:`check`.
    """
    models = _node_models()
    if models is None:
        return []
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
            out.append(model_error(attribute_file(pop, "model_template"), "model_template",
                                   f"a model NEST has (close names: {close})",
                                   f"{tmpl!r} in population {name!r}"))
    return out


def _node_models() -> set[str] | None:
    """NEST's node models; None where NEST cannot be imported (nothing is checked then)."""
    try:
        import nest
    except ImportError:
        return None
    return set(nest.node_models)


def _nest_model(tmpl: str) -> str | None:
    """The NEST model a ``model_template`` makes, None where a cell hook or another schema makes it."""
    from modelkit.simulator.named_functions import get_cell_model
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


def nest_report_problems(cfg: SimulationConfig, net: Network, built: dict[str, Selection]) -> list[ModelkitError]:
    """Report variables the NEST model of a recorded cell does not have (NEST's ``recordables``).

    Returns an empty list where NEST cannot be imported.

    Parameters
    ----------
    cfg, net, built
        See :func:`check`.
    """
    models = _node_models()
    if models is None:
        return []
    import nest  # imported by _node_models
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


def nest_dt_problems(cfg: SimulationConfig) -> list[ModelkitError]:
    """``run.dt`` off NEST's time grid (a whole number of tics of :data:`NEST_TIC_MS`).

    Parameters
    ----------
    cfg : SimulationConfig
        The run's config.
    """
    dt = cfg.run.dt
    k = dt / NEST_TIC_MS
    if dt < NEST_TIC_MS or abs(k - round(k)) > 1e-6 * max(1.0, k):
        return [ConfigError(cfg.path, "run.dt", f"a multiple of NEST's time grid ({NEST_TIC_MS:g} ms)", f"{dt:g}")]
    return []


def check(cfg: SimulationConfig, net: Network, built: dict[str, Selection]) -> list[ModelkitError]:
    """Everything NEST would refuse in a run of ``cfg`` on ``net``.

    Parameters
    ----------
    cfg : SimulationConfig
        The run's config.
    net : Network
        The network run.
    built : dict of str to Selection
        The cells NEST builds, per population (the arguments of every ``Backend.check``).

    Returns
    -------
    list of ModelkitError
        A dt off NEST's grid, unknown NEST models, report variables that are no recordable.
    """
    return nest_dt_problems(cfg) + nest_problems(net, built) + nest_report_problems(cfg, net, built)
