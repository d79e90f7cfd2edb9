"""Model parameters changed for one run, in memory: ``simulate(config, overrides={...})``.

Flat keys, one value each (no file is written; the SONATA files and the config stay as they are):

* ``node_types.<target>.<param>``: a cell parameter (``tau_m``, ``V_th``, ... in the model's units) of the
  nodes of ``<target>``: a node set, a population, a ``node_type_id`` or a ``pop_name``;
  applied with :meth:`~modelkit.sonata.Network.with_dynamics` (the backend sees per-node ``dynamics_params``);
* ``dynamics.<node set or population>.<param>``: the same, as :func:`~modelkit.cluster.sweep` writes it;
* ``edge_types.<edge_type_id>.<property>``: ``syn_weight`` or ``delay`` (ms) of an edge type, through
  :meth:`~modelkit.sonata.Network.with_edge_params`; ``edge_types.<edge population>.<edge_type_id>.<property>``
  where several edge populations use the same type id;
* ``inputs.<input name>.<key>``: a key of an ``inputs`` entry of the config (a Poisson ``rate`` in Hz, a
  current clamp's ``amp``, ...).

:func:`tunable_parameters` lists the keys a network offers, with their current values, units and a range
for a slider.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from modelkit.errors import ConfigError, ModelkitError
from modelkit.simulator.paramfiles import params_value, read_params_json
from modelkit.sonata import Network, SimulationConfig

__all__ = ["SECTIONS", "apply_overrides", "check_override_keys", "tunable_parameters"]

#: the first part of an override key
SECTIONS = ("node_types", "dynamics", "edge_types", "inputs")
#: edge properties an ``edge_types.*`` key may change
EDGE_PROPERTIES = ("syn_weight", "delay", "nsyns")
#: input keys listed by tunable_parameters (a number in the config's ``inputs`` entry)
INPUT_KEYS = {"rate": "Hz", "amp": "", "delay": "ms", "duration": "ms", "frequency": "Hz"}
#: components folders that hold cell parameter files, in the order they are looked in
_CELL_DIRS = ("point_neuron_models_dir", "biophysical_neuron_models_dir", "population_models_dir",
              "filter_models_dir")


def _where(key: str) -> str:
    return f"overrides[{key!r}]"


def check_override_keys(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The overrides as a dict, every key of a known form (``section.<target>.<param>``); nothing is read.

    Parameters
    ----------
    overrides : mapping of str to value, optional
        The keys of the module docstring.

    Raises
    ------
    ConfigError
        A key that is not a string of the form ``<section>.<target>.<parameter>`` with a known section.
    """
    out: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        parts = key.split(".") if isinstance(key, str) else []
        if len(parts) < 3 or parts[0] not in SECTIONS or not all(parts):
            raise ConfigError(None, _where(str(key)), f"a key '<section>.<target>.<parameter>' with section one of "
                              f"{list(SECTIONS)} (node_types.exc.tau_m, edge_types.100.syn_weight, "
                              f"inputs.bg.rate)", repr(key))
        out[key] = value
    return out


def _split(key: str) -> tuple[str, str, str]:
    parts = key.split(".")
    return parts[0], ".".join(parts[1:-1]), parts[-1]


def _node_target(net: Network, target: str, key: str) -> Any:
    """A node-set reference for ``target``: a node set, a population, a node type id or a pop_name."""
    if target in net.node_sets or target in net.nodes:
        return target
    if target.lstrip("-").isdigit():
        tid = int(target)
        if any(p.types is not None and tid in p.types.ids.tolist() for p in net.nodes.values()):
            return {"node_type_id": tid}
    for p in net.nodes.values():
        if p.types is not None and "pop_name" in p.types.columns and \
                target in [str(v) for v in p.types.columns["pop_name"]]:
            return {"pop_name": target}
    types = {n: p.types.ids.tolist() for n, p in net.nodes.items() if p.types is not None}
    names = sorted({str(v) for p in net.nodes.values() if p.types is not None and "pop_name" in p.types.columns
                    for v in p.types.columns["pop_name"]})
    raise ConfigError(None, _where(key), f"a node set {net.node_sets.names}, a population {sorted(net.nodes)}, a "
                      f"node_type_id {types} or a pop_name {names}", repr(target))


def _with_input(cfg: SimulationConfig, name: str, param: str, value: Any, key: str) -> SimulationConfig:
    spec = cfg.inputs.get(name)
    if spec is None:
        raise ConfigError(cfg.path, _where(key), f"an input of the config's 'inputs' (known: {sorted(cfg.inputs)})",
                          repr(name))
    fields = {"node_set", "enabled"}
    if param not in spec.params and param not in fields:
        raise ConfigError(cfg.path, _where(key), f"a key of inputs.{name} (known: {sorted(spec.params)})",
                          repr(param))
    if param in fields:
        new = dataclasses.replace(spec, **{param: value})
    else:
        v = value
        if isinstance(v, str) and (param.endswith("_file") or param == "file") and not os.path.isabs(v):
            v = os.path.join(cfg.base_dir, v)
        new = dataclasses.replace(spec, params={**spec.params, param: v})
    return dataclasses.replace(cfg, inputs={**cfg.inputs, name: new})


def apply_overrides(cfg: SimulationConfig, net: Network,
                    overrides: Mapping[str, Any] | None) -> tuple[SimulationConfig, Network]:
    """The config and network of a run with ``overrides`` applied in memory (in the order given).

    Parameters
    ----------
    cfg : SimulationConfig
        The run's config (``inputs.*`` keys change its inputs).
    net : Network
        The run's network (``node_types.*``, ``dynamics.*`` and ``edge_types.*`` keys change it).
    overrides : mapping of str to value, optional
        See the module docstring.

    Returns
    -------
    (SimulationConfig, Network)
        New objects; ``cfg`` and ``net`` are unchanged.

    Raises
    ------
    ConfigError
        A malformed key, or one that names no node set, population, node type, edge type, property or input
        (the message names the key and lists what there is).
    """
    for key, value in check_override_keys(overrides).items():
        section, target, param = _split(key)
        try:
            if section in ("node_types", "dynamics"):
                ref = _node_target(net, target, key) if section == "node_types" else target
                net = net.with_dynamics(ref, {param: value})
            elif section == "edge_types":
                epop_name, _, tid = target.rpartition(".")
                if not tid.lstrip("-").isdigit():
                    raise ConfigError(None, _where(key), f"an edge_type_id (an integer), or <edge population>."
                                      f"<edge_type_id> (edge populations: {sorted(net.edges)}), after 'edge_types.'",
                                      repr(target))
                if param not in EDGE_PROPERTIES:
                    raise ConfigError(None, _where(key), f"an edge property of {list(EDGE_PROPERTIES)}", repr(param))
                net = net.with_edge_params(int(tid), {param: value}, population=epop_name or None)
            else:
                cfg = _with_input(cfg, target, param, value, key)
        except ConfigError as e:
            if e.key and e.key.startswith("overrides["):
                raise
            try:  # keep the subclass (NodeSetError)
                located = type(e)(cfg.path, _where(key), e.expected, e.found)
            except TypeError:
                located = ConfigError(cfg.path, _where(key), e.expected, e.found)
            raise located from e
        except ModelkitError as e:
            raise ConfigError(cfg.path, _where(key), "a value the network takes there", str(e)) from e
    return cfg, net


# ----------------------------------------------------------------------------------------- tunable parameters
_UNITS = {"C_m": "pF", "I_e": "pA", "t_ref": "ms", "syn_weight": "", "delay": "ms", "nsyns": "", "cm": "µF/cm²",
          "Ra": "Ω·cm", "e_pas": "mV", "g_pas": "S/cm²"}


def _unit(name: str) -> str:
    if name in _UNITS:
        return _UNITS[name]
    if name.startswith(("tau", "t_")):
        return "ms"
    if name.startswith(("V_", "E_", "v_", "e_", "el_")):
        return "mV"
    if name.startswith(("gbar", "gnabar", "gkbar", "gl_")):  # NEURON mechanism densities
        return "S/cm²"
    if name.startswith("g_"):
        return "nS"
    return ""


def _nice_step(span: float) -> float:
    raw = span / 100.0 if span > 0 else 0.01
    k = 10.0 ** np.floor(np.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * k >= raw:
            return float(m * k)
    return float(10 * k)


def _range(name: str, v: float, unit: str) -> tuple[float, float, float]:
    """A slider's (min, max, step) around the current value ``v``."""
    if unit == "mV":
        lo, hi = v - 20.0, v + 20.0
    elif v > 0:
        lo, hi = v / 10.0, v * 3.0
    elif v < 0:
        lo, hi = v * 3.0, v / 10.0
    else:
        lo, hi = (0.0, 1.0) if name in ("rate", "amp") else (-1.0, 1.0)
    step = _nice_step(hi - lo)
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step), step


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and np.isfinite(v)


def _cell_file_params(cfg: Any, value: Any, where: str) -> dict[str, Any]:
    """The numbers at the top of a node type's ``dynamics_params`` (a JSON file in a components folder)."""
    try:
        got = params_value(value, where)
    except ModelkitError:
        return {}
    if isinstance(got, dict):
        return got
    comps = getattr(cfg, "components", None) or {}
    for d in _CELL_DIRS:
        folder = comps.get(d)
        if folder:
            path = got if os.path.isabs(got) else os.path.join(folder, got)
            if os.path.isfile(path) and path.endswith(".json"):
                try:
                    return read_params_json(path)
                except ModelkitError:
                    return {}
    return {}


def _cell_numbers(params: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of a cell parameter file: its top-level numbers, and for an Allen-style biophysical file the
    ``genome`` values and ``passive`` ones (``ra``, ``e_pas``, ``cm``) by name (the mean where sections differ:
    an override sets every section)."""
    out = {n: float(v) for n, v in params.items() if _is_number(v)}
    found: dict[str, list[float]] = {}
    for g in params.get("genome") or []:
        if isinstance(g, Mapping) and isinstance(g.get("name"), str) and _is_number(g.get("value")):
            found.setdefault(g["name"], []).append(float(g["value"]))
    for p in params.get("passive") or []:
        if not isinstance(p, Mapping):
            continue
        for n, v in p.items():
            name = "Ra" if n == "ra" else n  # the section's attribute, as NEURON's backend names it
            if _is_number(v):
                found.setdefault(name, []).append(float(v))
            elif isinstance(v, list):  # "cm": [{"section": "soma", "cm": 1.0}, ...]
                found.setdefault(name, []).extend(float(x[n]) for x in v
                                                  if isinstance(x, Mapping) and _is_number(x.get(n)))
    out.update({n: float(np.mean(vs)) for n, vs in found.items() if vs})
    return out


def _node_rows(net: Network, cfg: Any, labels_taken: set[str],
               defaults: Callable[[str], Mapping[str, float]] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    names: dict[str, int] = {}
    for pop in net.nodes.values():
        if pop.types is not None and "pop_name" in pop.types.columns:
            for v in pop.types.columns["pop_name"]:
                names[str(v)] = names.get(str(v), 0) + 1
    for pname, pop in net.nodes.items():
        if pop.types is None:
            continue
        cols = pop.types.columns
        per_node = set(pop.dynamics_attribute_names)
        for k, tid in enumerate(pop.types.ids.tolist()):
            mt = str(cols["model_type"][k]) if "model_type" in cols else ""
            if mt == "virtual":
                continue
            pop_name = str(cols["pop_name"][k]) if "pop_name" in cols else None
            label = pop_name if pop_name and names.get(pop_name) == 1 and pop_name not in labels_taken \
                and not pop_name.lstrip("-").isdigit() else str(tid)
            params = _cell_file_params(cfg, cols["dynamics_params"][k] if "dynamics_params" in cols else None,
                                       f"{pop.path}: node_type_id {tid}")
            values = _cell_numbers(params)
            if per_node:
                sel = pop.select(node_type_id=tid)
                if len(sel):
                    dp = pop.dynamics_params(sel)
                    for c in dp.columns:
                        arr = np.asarray(dp[c], dtype=float) if dp[c].dtype.kind in "fiu" else None
                        if arr is not None and np.isfinite(arr).any():
                            values[c] = float(np.nanmean(arr))
            template = str(cols["model_template"][k]) if "model_template" in cols else ""
            if defaults is not None and template:
                for n, v in defaults(template).items():
                    if n not in values and _is_number(v):
                        values[n] = float(v)
            what = f"{pop_name or 'node type'} ({pname}, node_type_id {tid}{', ' + template if template else ''})"
            for n, v in values.items():
                unit = _unit(n)
                lo, hi, step = _range(n, v, unit)
                rows.append(dict(key=f"node_types.{label}.{n}", section="node_types", target=label, parameter=n,
                                 value=v, unit=unit, min=lo, max=hi, step=step, description=what))
    return rows


def _edge_rows(net: Network) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    counts = {e: (p.type_counts() if p.types is not None and p.layout.has_type_id else {})
              for e, p in net.edges.items()}
    used: dict[int, int] = {}
    for c in counts.values():
        for t, n in c.items():
            if n:
                used[t] = used.get(t, 0) + 1
    for ename, epop in net.edges.items():
        if epop.types is None:
            continue
        in_groups = set().union(*(gi.attributes for gi in epop.layout.groups.values()))
        tids = epop.type_ids() if in_groups & set(EDGE_PROPERTIES[:2]) and epop.layout.has_type_id else None
        for k, tid in enumerate(epop.types.ids.tolist()):
            if not counts[ename].get(tid):
                continue
            # a type id that several edge populations use (each builder numbers from 100) names its population
            target = f"{ename}.{tid}" if used[tid] > 1 else str(tid)
            cols = epop.types.columns
            # the builder's queries (bmtk writes them too) say which cells a type connects: inh -> exc
            between = f": {cols['source_query'][k]} -> {cols['target_query'][k]}" \
                if "source_query" in cols and "target_query" in cols else ""
            for n in EDGE_PROPERTIES[:2]:
                if n in in_groups and tids is not None:
                    vals = np.asarray(epop.column(n), dtype=float)[tids == tid]
                    v = float(np.nanmean(vals)) if len(vals) else float("nan")
                elif n in epop.types.columns:
                    v = float(epop.types.columns[n][k])
                else:
                    continue
                if not np.isfinite(v):
                    continue
                unit = _unit(n)
                lo, hi, step = _range(n, v, unit)
                if n == "delay":
                    lo = max(lo, step)  # a simulator refuses delays below its resolution
                rows.append(dict(key=f"edge_types.{target}.{n}", section="edge_types", target=target, parameter=n,
                                 value=v, unit=unit, min=lo, max=hi, step=step,
                                 description=f"{ename}: {epop.source} -> {epop.target}, edge_type_id {tid}"
                                             f"{between} ({counts[ename][tid]:,} edges)"))
    return rows


def _input_rows(cfg: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, spec in (getattr(cfg, "inputs", None) or {}).items():
        for n, unit in INPUT_KEYS.items():
            v = spec.params.get(n)
            if _is_number(v):
                lo, hi, step = _range(n, float(v), unit)
                if n == "rate":
                    lo = 0.0
                rows.append(dict(key=f"inputs.{name}.{n}", section="inputs", target=name, parameter=n,
                                 value=float(v), unit=unit, min=lo, max=hi, step=step,
                                 description=f"{spec.input_type} input {name} ({spec.module})"))
    return rows


def tunable_parameters(config: Any = None, *, network: Network | None = None,
                       defaults: Callable[[str], Mapping[str, float]] | None = None) -> Any:
    """The parameters ``simulate(config, overrides=...)`` can change, with their current values.

    Parameters
    ----------
    config : str, PathLike, SimulationConfig or dict, optional
        A simulation config: its network, components (the cell parameter files) and inputs.
    network : Network, optional
        The network instead of the config's (a network built in memory, or without a config).
    defaults : callable, optional
        ``defaults(model_template) -> {parameter: value}``: the simulator's own values of a model's parameters
        (in its units), listed for node types whose parameter files do not set them (a NEST model used with
        NEST's defaults has no ``dynamics_params``, hence nothing to list without them).

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``key`` (the override key), ``section`` (``node_types``, ``edge_types``,
        ``inputs``), ``target``, ``parameter``, ``value`` (current; the mean where nodes or edges of a type
        differ), ``unit`` (``"ms"``, ``"mV"``, ``"pF"``, ``"Hz"``, ``""`` when unknown), ``min`` / ``max`` /
        ``step`` (a suggested slider range) and ``description``.  Cell parameters come from each node type's
        ``dynamics_params`` file and per-node values; edge rows are per edge type with edges.

    Raises
    ------
    ModelkitError
        Neither a config nor a network, or one that cannot be read.

    Examples
    --------
    >>> tunable_parameters("config.simulation.json")[["key", "value", "unit"]]   # doctest: +SKIP
    """
    import pandas as pd

    from modelkit.simulator.run import _as_config

    cfg = _as_config(config) if config is not None else None
    if network is None:
        if cfg is None:
            raise ModelkitError("tunable_parameters: give a simulation config or a network")
        network = Network.from_config(cfg)
    components = cfg if cfg is not None else network.config
    taken = set(network.nodes) | set(network.node_sets.names)
    rows = _node_rows(network, components, taken, defaults) + _edge_rows(network) + _input_rows(cfg)
    cols = ["key", "section", "target", "parameter", "value", "unit", "min", "max", "step", "description"]
    return pd.DataFrame(rows, columns=cols)
