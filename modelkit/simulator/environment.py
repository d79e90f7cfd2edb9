"""``modelkit init``: a runnable simulation folder for a network (bmtk's ``create_environment``).

From a folder of SONATA network files it writes ``config.json`` (circuit and simulation in one file, relative
paths, the backend the node types need), copies into ``components/`` every component file the node and edge
types name (found in the component folders given), copies the NEURON mechanisms (``.mod`` files) and compiles
them, and checks that the result loads, so a new user starts from something that runs::

    modelkit init network/ sim/ --components ../bio_components --tstop 1000 --iclamp 0.1,500,500
    modelkit run sim/config.json
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelkit.errors import ConfigError, ModelkitError, OutputExistsError
from modelkit.sonata import Network
from modelkit.sonata.network import classify_h5, types_csv_for

__all__ = ["create_environment"]

#: component folder (the config key and bmtk's folder name) of each file-valued type column, by model type
_NODE_COMPONENTS = {
    "biophysical": {"dynamics_params": "biophysical_neuron_models_dir", "morphology": "morphologies_dir",
                    "model_template": "biophysical_neuron_models_dir"},
    "point_process": {"dynamics_params": "point_neuron_models_dir"},
    "point_neuron": {"dynamics_params": "point_neuron_models_dir"},
    "nrn_point_process": {"dynamics_params": "point_neuron_models_dir"},
    "virtual": {},
    "population": {"dynamics_params": "population_models_dir"},
    "filter": {"dynamics_params": "filter_models_dir"},
}
_FOLDER = {"biophysical_neuron_models_dir": "biophysical_neuron_templates", "morphologies_dir": "morphologies",
           "point_neuron_models_dir": "point_neuron_templates",
           "population_models_dir": "population_models", "filter_models_dir": "filter_models",
           "synaptic_models_dir": "synaptic_models", "mechanisms_dir": "mechanisms"}
#: bmtk's defaults by backend: time step (ms) and conditions
_RUN = {"neuron": {"dt": 0.1, "dL": 20.0, "spike_threshold": -15.0, "nsteps_block": 5000},
        "nest": {"dt": 0.001}, "filter": {"dt": 1.0}, "population": {"dt": 0.1}}


def create_environment(network_dir: str | os.PathLike, sim_dir: str | os.PathLike, *,
                       components: Sequence[str | os.PathLike] = (), tstop: float = 1000.0, dt: float | None = None,
                       iclamp: tuple[float, float, float] | None = None,
                       spikes_inputs: dict[str, str | os.PathLike] | None = None,
                       report_vars: Sequence[str] = (), report_nodes: str | None = None,
                       compile_mechanisms: bool = True, overwrite: bool = False) -> str:
    """Write a runnable simulation folder for the network in ``network_dir``.

    Parameters
    ----------
    network_dir : path
        A folder of SONATA nodes/edges files with their types CSVs (bmtk's ``network/``).  It stays where it
        is; the config names it by a relative path.
    sim_dir : path
        The folder to make (``config.json``, ``components/``, ``output/`` on the first run).
    components : sequence of paths
        Folders searched (recursively) for the files the node and edge types name (``dynamics_params``,
        ``morphology``, ``model_template`` files) and for ``.mod`` files; e.g. bmtk's ``bio_components``.
        Default: the ``components`` / ``*_components`` folders next to ``network_dir`` and one level up.
    tstop : float
        Run length, ms.
    dt : float, optional
        Time step, ms (default: bmtk's for the backend: 0.1 NEURON, 0.001 NEST, 1 filter).
    iclamp : (amp, delay, duration), optional
        A current clamp at the soma of every simulated cell: nA, ms, ms.
    spikes_inputs : dict of str to path, optional
        Spike trains driving virtual populations: ``{population: spikes file (.h5, .csv or .nwb)}``.
    report_vars : sequence of str
        Soma variables to record (``"v"``, ``"cai"``), one report each.
    report_nodes : str, optional
        The node set or population recorded (default: every simulated population).
    compile_mechanisms : bool
        Compile the copied mechanisms for NEURON now (into modelkit's cache), so the first run starts at once.
    overwrite : bool
        Replace ``config.json`` and ``components/`` of an existing ``sim_dir``.

    Returns
    -------
    str
        The config's path.

    Raises
    ------
    ModelkitError
        No network files in ``network_dir``; a component file a type names is found in none of the folders
        (naming the types CSV, the column, the file and where it was looked for); a ``sim_dir`` that holds a
        config already (without ``overwrite``); mechanisms that do not compile.
    """
    net_dir = Path(network_dir).resolve()
    sim = Path(sim_dir).resolve()
    if not net_dir.is_dir():
        raise ModelkitError(f"{net_dir}: expected a folder of SONATA network files, found no such folder")
    cfg_path = sim / "config.json"
    if cfg_path.exists() and not overwrite:
        raise OutputExistsError(f"{cfg_path}: exists already; choose another folder or pass overwrite=True "
                                "(--overwrite)")
    files = sorted(glob.glob(str(net_dir / "*.h5")))
    kinds = {f: classify_h5(f) for f in files}
    if not any(k == "nodes" for k in kinds.values()):
        raise ModelkitError(f"{net_dir}: expected SONATA nodes files (*.h5 with /nodes), found none")
    net = Network.load(str(net_dir))
    search = [Path(c).resolve() for c in components] or _default_component_folders(net_dir)
    for c in search:
        if not c.is_dir():
            raise ModelkitError(f"{c}: expected a components folder, found no such folder")
    model_types = set()
    needed: dict[str, dict[str, str]] = {}  # component key -> {file name: where it was named}
    for name, pop in net.nodes.items():
        cols = [c for c in ("model_type", "dynamics_params", "morphology", "model_template")
                if c in pop.attribute_names]
        if "model_type" not in cols:
            raise ModelkitError(f"{pop.path}: /nodes/{name}: expected a model_type (node types CSV or the nodes "
                                "file), found none")
        for _, row in pop.get(cols).drop_duplicates().iterrows():
            mt = str(row["model_type"])
            model_types.add(mt)
            for col, key in _NODE_COMPONENTS.get(mt, {}).items():
                _need(needed, key, row.get(col), col, f"nodes of population {name!r} ({pop.path})")
    for name, epop in net.edges.items():
        if "dynamics_params" in epop.attribute_names:
            for v in np.unique(epop.column("dynamics_params").astype(str)):
                _need(needed, "synaptic_models_dir", v, "dynamics_params", f"edges of population {name!r} "
                      f"({epop.path})")
    backend = _backend(model_types)
    tmp = sim / ".components.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    comp_keys: dict[str, str] = {}
    for key, names in needed.items():
        folder = tmp / _FOLDER[key]
        folder.mkdir(exist_ok=True)
        for fname, where in names.items():
            found = _find(search, fname)
            if found is None:
                shutil.rmtree(tmp, ignore_errors=True)
                raise ModelkitError(f"{net_dir}: {where}: expected the file {fname!r} in one of the components "
                                    f"folders, found it in none (looked recursively in {[str(s) for s in search]};"
                                    " pass components=[...] / --components)")
            dest = folder / fname
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(found, dest)
        comp_keys[key] = f"$COMPONENTS_DIR/{_FOLDER[key]}"
    if backend == "neuron":
        mods = _mod_files(search)
        if mods:
            modfolder = tmp / "mechanisms" / "modfiles"
            modfolder.mkdir(parents=True)
            for m in mods:
                shutil.copy(m, modfolder / m.name)
            comp_keys["mechanisms_dir"] = "$COMPONENTS_DIR/mechanisms"
    final = sim / "components"
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    config = _config(net, net_dir, sim, backend, comp_keys, tstop, dt, iclamp, spikes_inputs or {}, report_vars,
                     report_nodes)
    part = cfg_path.with_suffix(".json.tmp")
    part.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(part, cfg_path)
    if compile_mechanisms:  # the backend finishes its components (NEURON compiles the mechanisms)
        from modelkit.simulator.abilities import PreparesEnvironment
        from modelkit.simulator.registry import get_backend
        cls = get_backend(backend)
        if isinstance(cls, PreparesEnvironment):
            cls.prepare_environment(str(final))
    return str(cfg_path)


def _need(needed: dict[str, dict[str, str]], key: str, value: Any, col: str, where: str) -> None:
    if not isinstance(value, str) or not value or value.lower() == "nan" or value.lstrip().startswith("{"):
        return  # absent, NaN or an inline dict: nothing to copy
    fname = value
    if col == "model_template":
        kind, sep, fname = value.partition(":")
        if not sep or kind != "nml":
            return  # built in (ctdb:Biophys1.hoc, nest:iaf_psc_alpha, nrn:IntFire1) or a hoc template by name
        key = "biophysical_neuron_models_dir"  # where bmtk looks for NeuroML cells
    needed.setdefault(key, {}).setdefault(fname, f"{where}, column {col!r}")


def _default_component_folders(net_dir: Path) -> list[Path]:
    out = []
    for base in (net_dir.parent, net_dir.parent.parent):
        out += sorted(p for p in base.glob("*components") if p.is_dir())
    return out


def _find(search: Sequence[Path], fname: str) -> Path | None:
    for root in search:
        direct = root / fname
        if direct.is_file():
            return direct
        for p in sorted(root.rglob(os.path.basename(fname))):
            if p.is_file() and "x86_64" not in p.parts and "arm64" not in p.parts:
                return p
    return None


def _mod_files(search: Sequence[Path]) -> list[Path]:
    seen: dict[str, Path] = {}
    for root in search:
        for p in sorted(root.rglob("*.mod")):
            if "x86_64" not in p.parts and "arm64" not in p.parts:
                seen.setdefault(p.name, p)
    return list(seen.values())


def _backend(model_types: set[str]) -> str:
    simulated = model_types - {"virtual"}
    if simulated & {"biophysical", "point_soma", "nrn_point_process"}:
        return "neuron"
    if simulated & {"point_process", "point_neuron"}:
        return "nest"
    if simulated & {"population"}:
        return "population"
    if not simulated:
        raise ConfigError(None, "model_type", "a network with simulated (not only virtual) nodes",
                          ", ".join(sorted(model_types)))
    return "filter"


def _config(net: Network, net_dir: Path, sim: Path, backend: str, comps: dict[str, str], tstop: float,
            dt: float | None, iclamp: tuple[float, float, float] | None, spikes_inputs: dict[str, Any],
            report_vars: Sequence[str], report_nodes: str | None) -> dict[str, Any]:
    rel_net = os.path.relpath(net_dir, sim)
    nodes: list[dict[str, str]] = []
    edges: list[dict[str, str]] = []
    for f in sorted(glob.glob(str(net_dir / "*.h5"))):
        kind = classify_h5(f)
        stem = os.path.basename(f)
        types = types_csv_for(f, kind)
        entry = {f"{kind}_file": f"$NETWORK_DIR/{stem}"}
        if types:
            entry[f"{kind[:-1]}_types_file"] = f"$NETWORK_DIR/{os.path.basename(types)}"
        if kind in ("nodes", "edges"):
            (nodes if kind == "nodes" else edges).append(entry)
    simulated = [name for name, pop in net.nodes.items()
                 if not (pop.column("model_type").astype(str) == "virtual").all()]
    run = {"tstop": float(tstop), **_RUN[backend]}
    if dt is not None:
        run["dt"] = float(dt)
    inputs: dict[str, Any] = {}
    for pop, path in spikes_inputs.items():
        if pop not in net.nodes:
            raise ConfigError(None, "spikes_inputs", f"a node population of the network ({sorted(net.nodes)})", pop)
        p = Path(path).resolve()
        if not p.is_file():
            raise ConfigError(None, f"spikes_inputs.{pop}", "an existing spikes file", str(p))
        ext = p.suffix.lower().lstrip(".")
        inputs[f"{pop}_spikes"] = {"input_type": "spikes", "module": {"h5": "sonata", "csv": "csv"}.get(ext, ext),
                                   "input_file": os.path.relpath(p, sim), "node_set": pop}
    if iclamp is not None:
        amp, delay, duration = (float(x) for x in iclamp)
        for pop in simulated:  # the cells a clamp can hold (NEURON's artificial cells have no soma)
            target = {"population": pop, "model_type": "biophysical"} if backend == "neuron" else pop
            inputs[f"current_clamp_{pop}"] = {"input_type": "current_clamp", "module": "IClamp", "node_set": target,
                                              "amp": amp, "delay": delay, "duration": duration}
    reports = {}
    for var in report_vars:
        for pop in ([report_nodes] if report_nodes else simulated):
            cells = {"population": pop, "model_type": "biophysical"} if backend == "neuron" and not report_nodes \
                else pop
            reports[f"{var}_report" if report_nodes or len(simulated) == 1 else f"{var}_{pop}"] = {
                "variable_name": var, "cells": cells, "module": "membrane_report", "sections": "soma"}
    cfg: dict[str, Any] = {
        "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": f"$BASE_DIR/{rel_net}",
                     "$COMPONENTS_DIR": "$BASE_DIR/components", "$OUTPUT_DIR": "$BASE_DIR/output"},
        "target_simulator": {"neuron": "NEURON", "nest": "NEST", "filter": "LGNModel",
                             "population": "DiPDE"}[backend],
        "run": run,
        "components": comps,
        "networks": {"nodes": nodes, "edges": edges},
        "inputs": inputs,
        "reports": reports,
        "output": {"output_dir": "$OUTPUT_DIR", "log_file": "log.txt", "spikes_file": "spikes.h5",
                   "spikes_file_csv": "spikes.csv"},
    }
    if backend == "neuron":
        cfg["conditions"] = {"celsius": 34.0, "v_init": -80.0}
    return cfg
