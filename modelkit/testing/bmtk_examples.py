"""bmtk's example suite run through modelkit and through bmtk itself, and the two compared.

What ``benchmarks/compat_bmtk_examples.py`` prints as the compatibility table and what ``tests/compat`` checks:
each simulation config of ``shared/bmtk-examples`` (a JSON file with a ``run`` block) is run unchanged with
``modelkit run CONFIG --output DIR`` on a writable copy of the suite, and, where asked, with bmtk on the same
files, each in a process of its own (NEST and NEURON keep global state).  Networks that a folder ships only
as a build script are made by that script with ``bmtk.builder`` swapped for ``modelkit.builder`` and nothing
else changed; bmtk then runs on the same files, so the two simulators see one network.

Agreement, by backend (the criteria of issue 22):

- NEST: identical spikes (the same node ids and times to 1e-6 ms);
- NEURON: identical spikes where synapse placement is deterministic (every edge onto a biophysical cell names
  its section), otherwise the mean rate within 10% and each node population's rate within 15%;
- filter: firing rates within 1e-4 relative;
- population: rates within 5%.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ExampleConfig", "RunOutcome", "find_configs", "build_networks", "run_modelkit", "run_bmtk",
           "missing_data", "node_sets_by_id", "link_population_components", "compare_population_reference",
           "read_population_rates", "compile_mechanisms_for_bmtk", "compare", "read_spikes", "bmtk_config"]

#: backend by the example folder's prefix (the suite's README)
_PREFIX = (("bio_", "neuron"), ("point_", "nest"), ("filter_", "filter"), ("pop_", "population"),
           ("ei_networks/bionet", "neuron"), ("ei_networks/pointnet", "nest"), ("ei_networks/popnet", "population"))


@dataclass(frozen=True)
class ExampleConfig:
    """One simulation config of the suite.

    Attributes
    ----------
    folder : str
        Its folder relative to the suite's root (``"bio_14cells"``, ``"ei_networks/popnet"``).
    name : str
        The config's file name.
    backend : str
        ``neuron``, ``nest``, ``filter`` or ``population`` (by the folder, as the suite's README says).
    tstop : float
        The config's ``run.tstop`` (or ``run.duration``), ms.
    """

    folder: str
    name: str
    backend: str
    tstop: float

    @property
    def key(self) -> str:
        """``folder/name``: how the table and the tests name it."""
        return f"{self.folder}/{self.name}"

    def path(self, root: str | os.PathLike) -> Path:
        return Path(root) / self.folder / self.name


@dataclass
class RunOutcome:
    """What one run (modelkit's or bmtk's) left.

    Attributes
    ----------
    ok : bool
    wall_s : float
        Wall time of the child process, s (imports and set-up included).
    output_dir : str
    error : str
        The last lines of its output when it failed.
    """

    ok: bool
    wall_s: float
    output_dir: str
    error: str = ""
    log: str = field(default="", repr=False)


def _backend_of(folder: str) -> str:
    for prefix, backend in _PREFIX:
        if folder.startswith(prefix):
            return backend
    raise ValueError(f"{folder}: no backend known for this example folder")


def find_configs(root: str | os.PathLike) -> list[ExampleConfig]:
    """Every simulation config under ``root`` (a JSON object with a ``run`` block), sorted by path."""
    out = []
    root = Path(root)
    for p in sorted(root.rglob("*.json")):
        if any(part.startswith(("output", "_compat")) for part in p.relative_to(root).parts) or \
                p.name.startswith("_compat"):
            continue
        try:
            d = json.loads(p.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(d, dict) or not isinstance(d.get("run"), dict):
            continue
        folder = p.parent.relative_to(root).as_posix()
        run = d["run"]
        out.append(ExampleConfig(folder, p.name, _backend_of(folder), float(run.get("tstop", run.get("duration", 0)))))
    return out


def link_population_components(root: str | os.PathLike) -> None:
    """``population_components`` beside the suite's folders, pointing at ``pop_components``: the name the
    PopNet config's manifest uses (``$BASE_DIR/../../population_components``) for the folder the suite ships
    as ``pop_components`` (what bmtk's own reference run did; the config stays unchanged)."""
    link = Path(root) / "population_components"
    if not link.exists() and (Path(root) / "pop_components").is_dir():
        link.symlink_to("pop_components")


def _swap_builder(text: str) -> str:
    """The one change a build script gets: bmtk's builder becomes modelkit's."""
    return re.sub(r"\bbmtk\.builder\b", "modelkit.builder", text)


def build_networks(root: str | os.PathLike, folders: Iterable[str] | None = None, *, timeout: float = 1800,
                   python: str = sys.executable) -> dict[str, RunOutcome]:
    """Run the build script of each folder that ships no network files (``network/`` absent or without
    ``.h5`` files), with only its builder import swapped, in that folder.

    Returns
    -------
    dict of str to RunOutcome
        By folder, for the folders that needed a build.
    """
    root = Path(root)
    results = {}
    want = set(folders) if folders is not None else None
    for script in sorted(root.rglob("build_network.py")):
        folder = script.parent
        rel = folder.relative_to(root).as_posix()
        if want is not None and rel not in want:
            continue
        if any((folder / "network").glob("*.h5")):
            continue
        swapped = folder / "_compat_build_network.py"
        swapped.write_text(_swap_builder(script.read_text()))
        t = time.perf_counter()
        r = subprocess.run([python, swapped.name], cwd=folder, capture_output=True, text=True, timeout=timeout,
                           env=_child_env())
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-12:])
        results[rel] = RunOutcome(r.returncode == 0, time.perf_counter() - t, str(folder / "network"),
                                  "" if r.returncode == 0 else tail, tail)
    return results


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_modelkit(cfg: ExampleConfig, root: str | os.PathLike, out: str | os.PathLike, *,
                 tstop: float | None = None, timeout: float = 3600, python: str = sys.executable) -> RunOutcome:
    """``modelkit run CONFIG --output OUT --quiet [--tstop T]`` in the config's folder, in a child process."""
    path = cfg.path(root)
    cmd = [python, "-m", "modelkit", "run", path.name, "--output", os.fspath(out), "--quiet", "--overwrite"]
    if tstop is not None:
        cmd += ["--tstop", repr(float(tstop))]
    return _child(cmd, path.parent, os.fspath(out), timeout)


def _child(cmd: list[str], cwd: Path, out: str, timeout: float) -> RunOutcome:
    t = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_child_env())
    except subprocess.TimeoutExpired:
        return RunOutcome(False, time.perf_counter() - t, out, f"timed out after {timeout:g} s")
    log = (r.stdout or "") + (r.stderr or "")
    lines = log.strip().splitlines()
    return RunOutcome(r.returncode == 0, time.perf_counter() - t, out,
                      "" if r.returncode == 0 else "\n".join(lines[-6:]), log)


_BMTK_CHILD = r"""
import json, sys
cfg, backend = sys.argv[1], sys.argv[2]
if backend == "neuron":
    from bmtk.simulator import bionet as m
    conf = m.Config.from_json(cfg, validate=True)
    conf.build_env()
    net = m.BioNetwork.from_config(conf)
    sim = m.BioSimulator.from_config(conf, network=net)
elif backend == "nest":
    from bmtk.simulator import pointnet as m
    conf = m.Config.from_json(cfg)
    conf.build_env()
    net = m.PointNetwork.from_config(conf)
    sim = m.PointSimulator.from_config(conf, net)
elif backend == "filter":
    from bmtk.simulator import filternet as m
    conf = m.Config.from_json(cfg)
    conf.build_env()
    net = m.FilterNetwork.from_config(conf)
    sim = m.FilterSimulator.from_config(conf, net)
else:
    from bmtk.simulator import popnet as m  # needs DiPDE, which is not on PyPI
    conf = m.config.from_json(cfg)
    net = m.PopNetwork.from_config(conf)
    sim = m.PopSimulator.from_config(conf, net)
sim.run()
"""


def bmtk_config(cfg: ExampleConfig, root: str | os.PathLike, out: str | os.PathLike,
                tstop: float | None = None, data: dict | None = None, tag: str = "") -> Path:
    """A copy of the config beside it (so its relative paths hold) whose ``output.output_dir`` is ``out``
    and, when given, whose ``run.tstop`` is ``tstop``: what bmtk runs.  ``data``: the config's JSON to write
    instead of the file's."""
    path = cfg.path(root)
    d = json.loads(path.read_text()) if data is None else data
    d.setdefault("output", {})["output_dir"] = os.path.abspath(os.fspath(out))
    for k in ("log_file", "spikes_file", "spikes_file_csv", "rates_file", "rates_csv", "spikes_csv"):
        v = d["output"].get(k)
        if isinstance(v, str) and ("$" in v or os.path.isabs(v)):  # a path outside the new output folder
            d["output"][k] = os.path.basename(v)
    if tstop is not None:
        d["run"]["tstop"] = float(tstop)
        d["run"].pop("duration", None)
    copy = path.parent / f"_compat_bmtk{tag}_{path.name}"
    copy.write_text(json.dumps(d, indent=1))
    return copy


def node_sets_by_id(cfg: ExampleConfig, root: str | os.PathLike) -> dict | None:
    """The config's JSON with every input's ``node_set`` and report's ``cells`` that filters on node properties
    (``{"model_type": "biophysical"}``, ``{"population": "v1", "ei": "e"}``, or the name of such an inline set)
    written as the node ids modelkit resolves (``{"population": P, "node_id": [...]}``); None when it has none.

    bmtk 1.2.0 resolves such node sets to no cells (a node-set filter on node-types columns selects nothing),
    so its clamps and reports are silently left out: run on this copy, bmtk gets the same cells as modelkit, and
    the rest of the comparison holds."""
    from modelkit.sonata import Network

    path = cfg.path(root)
    d = json.loads(path.read_text())
    net = Network.load(str(path))
    inline = d.get("node_sets") if isinstance(d.get("node_sets"), dict) else {}
    changed = False
    for section, key in (("inputs", "node_set"), ("reports", "cells")):
        for entry in (d.get(section) or {}).values():
            ref = entry.get(key) if isinstance(entry, dict) else None
            defn = inline.get(ref, ref) if isinstance(ref, str) else ref
            if not isinstance(defn, dict) or not set(defn) - {"population", "populations", "node_id", "node_ids"}:
                continue
            assert ref is not None  # defn is a dict, so the entry names a node set or holds one
            sels = {p: sel for p, sel in net.resolve_node_set(ref)[1].items() if len(sel.flat)}
            if len(sels) != 1:
                continue
            (pop, sel), = sels.items()
            entry[key] = {"population": pop, "node_id": sel.flat.tolist()}
            changed = True
    return d if changed else None


def compile_mechanisms_for_bmtk(root: str | os.PathLike, cfg: ExampleConfig) -> None:
    """Compile the config's ``mechanisms_dir`` as bmtk's users do (``nrnivmodl modfiles`` inside it), once:
    bmtk loads the compiled folder it finds there."""
    from modelkit.sonata import load_config

    comps = load_config(cfg.path(root)).components
    mech = comps.get("mechanisms_dir")
    if not mech or not os.path.isdir(mech):
        return
    arch = [d for d in ("x86_64", "arm64", "aarch64") if os.path.isdir(os.path.join(mech, d))]
    if arch:
        return
    src = "modfiles" if os.path.isdir(os.path.join(mech, "modfiles")) else "."
    nrnivmodl = os.path.join(os.path.dirname(sys.executable), "nrnivmodl")
    subprocess.run([nrnivmodl, src], cwd=mech, capture_output=True, text=True, check=True)


def run_bmtk(cfg: ExampleConfig, root: str | os.PathLike, out: str | os.PathLike, *,
             tstop: float | None = None, timeout: float = 3600, python: str = sys.executable,
             data: dict | None = None) -> RunOutcome:
    """bmtk 1.2.0 on the same config (a copy with the output folder and ``tstop`` changed; ``data``: another
    JSON for it, e.g. :func:`node_sets_by_id`), in a child process in the config's folder."""
    if cfg.backend == "neuron":
        compile_mechanisms_for_bmtk(root, cfg)
    copy = bmtk_config(cfg, root, out, tstop, data, "_ids" if data is not None else "")
    return _child([python, "-c", _BMTK_CHILD, copy.name, cfg.backend], copy.parent, os.fspath(out), timeout)


def read_spikes(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Spikes of a SONATA spikes file, read with h5py alone: ``{population: (node_ids, times ms)}`` sorted by
    (node id, time).  Old bmtk files (``/spikes/gids``) give population ``""``."""
    import h5py

    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        g = f.get("spikes")
        if g is None:
            return out
        groups = {"": g} if "timestamps" in g else {k: v for k, v in g.items() if isinstance(v, h5py.Group)}
        for pop, grp in groups.items():
            ids = np.asarray(grp["node_ids"] if "node_ids" in grp else grp["gids"], dtype=np.int64)
            ts = np.asarray(grp["timestamps"], dtype=np.float64)
            o = np.lexsort((ts, ids))
            out[pop] = (ids[o], ts[o])
    return out


def _spikes_file(out: str) -> str | None:
    for name in ("spikes.h5",):
        p = os.path.join(out, name)
        if os.path.exists(p):
            return p
    found = sorted(Path(out).glob("*spikes*.h5"))
    return str(found[0]) if found else None


def _deterministic_placement(config: str) -> bool:
    """Every edge onto a biophysical cell names its section (``afferent_section_id``): NEURON's spikes can then
    be compared one for one; otherwise synapses are placed by each simulator's own random stream."""
    from modelkit.sonata import Network

    net = Network.load(config)
    for epop in net.edges.values():
        tgt = net.nodes.get(epop.target) if epop.target else None
        if tgt is None or "model_type" not in tgt.attribute_names:
            continue
        if not (tgt.column("model_type").astype(str) == "biophysical").any():
            continue
        if "afferent_section_id" not in epop.attribute_names:
            return False
    return True


def _rates_by_group(spikes: dict[str, tuple[np.ndarray, np.ndarray]], config: str, seconds: float
                    ) -> dict[str, float]:
    """Mean rate (Hz) of each node population of simulated cells (SONATA's populations; silent cells count).
    bmtk's old files (one unnamed population) count for every population."""
    from modelkit.sonata import Network

    net = Network.load(config)
    rates = {}
    for pop_name, pop in net.nodes.items():
        mt = pop.column("model_type").astype(str) if "model_type" in pop.attribute_names else None
        if mt is not None and (mt == "virtual").all():
            continue
        node_ids = pop.node_ids if mt is None else pop.node_ids[mt != "virtual"]
        ids = spikes.get(pop_name, spikes.get("", (np.empty(0, np.int64), np.empty(0))))[0]
        rates[pop_name] = float(np.isin(ids, node_ids).sum() / max(len(node_ids), 1) / seconds)
    return rates


def compare(cfg: ExampleConfig, root: str | os.PathLike, mk: RunOutcome, bm: RunOutcome, tstop: float
            ) -> tuple[bool, str]:
    """Whether modelkit's and bmtk's outputs agree by the backend's criterion, and how (one line)."""
    config = os.fspath(cfg.path(root))
    seconds = tstop / 1000.0
    if cfg.backend == "filter":
        from modelkit.simulator.filter import compare_rates, read_rates_csv

        pa, pb = os.path.join(mk.output_dir, "rates.csv"), os.path.join(bm.output_dir, "rates.csv")
        if not (os.path.exists(pa) and os.path.exists(pb)):
            return False, "a rates.csv is missing"
        rel, shared = compare_rates(pa, pb)
        n_mk = len(read_rates_csv(pa))
        ok = rel <= 1e-4 and shared == n_mk  # every sample modelkit wrote is one bmtk wrote
        return ok, f"rates at {shared} of modelkit's {n_mk} samples, max relative difference {rel:.1e}"
    fa, fb = _spikes_file(mk.output_dir), _spikes_file(bm.output_dir)
    if fa is None or fb is None:
        return False, "a spikes file is missing"
    sa, sb = read_spikes(fa), read_spikes(fb)
    na, nb = sum(len(v[0]) for v in sa.values()), sum(len(v[0]) for v in sb.values())
    identical = _identical(sa, sb)
    if identical:
        return True, f"identical spikes ({na})"
    if cfg.backend == "nest":
        return False, f"spikes differ ({na} vs {nb})"
    if cfg.backend == "neuron" and _deterministic_placement(config):
        return False, f"spikes differ ({na} vs {nb}) although every synapse names its section"
    ra, rb = _rates_by_group(sa, config, seconds), _rates_by_group(sb, config, seconds)
    ma, mb = float(np.mean(list(ra.values()) or [0])), float(np.mean(list(rb.values()) or [0]))
    mean_ok = abs(ma - mb) <= 0.10 * mb if mb else ma == 0
    worst, worst_key = 0.0, ""
    for k in rb:
        d = abs(ra.get(k, 0.0) - rb[k]) / rb[k] if rb[k] else (0.0 if ra.get(k, 0.0) == 0 else np.inf)
        if d > worst:
            worst, worst_key = d, k
    tol = 0.15 if cfg.backend == "neuron" else 0.05
    ok = mean_ok and worst <= tol
    return ok, (f"mean rate {ma:.2f} vs {mb:.2f} Hz; worst population {worst_key or '-'} "
                f"{100 * worst:.1f}% ({na} vs {nb} spikes; synapses placed at random)")


def _identical(a: dict[str, tuple[np.ndarray, np.ndarray]], b: dict[str, tuple[np.ndarray, np.ndarray]]) -> bool:
    def merged(s: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
        return {k: v for k, v in s.items() if len(v[0])}
    a, b = merged(a), merged(b)
    if len(a) == 1 and len(b) == 1:  # one population each: bmtk's old files have no population name
        a, b = {"": next(iter(a.values()))}, {"": next(iter(b.values()))}
    if set(a) != set(b):
        return False
    for k in a:
        (ia, ta), (ib, tb) = a[k], b[k]
        if len(ia) != len(ib) or not np.array_equal(ia, ib) or not np.allclose(ta, tb, rtol=0, atol=1e-6):
            return False
    return True


_FILE_EXT = (".h5", ".hdf5", ".csv", ".nwb", ".npy", ".npz", ".txt", ".json", ".swc", ".nrrd", ".asc", ".hoc", ".nml",
             ".mod", ".dat")


def _expand(value: Any, manifest: dict[str, str]) -> Any:
    if isinstance(value, str):
        for _ in range(10):
            new = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: manifest.get("$" + (m.group(1) or m.group(2)), m.group(0)),
                         value)
            if new == value:
                break
            value = new
        return value
    if isinstance(value, list):
        return [_expand(v, manifest) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, manifest) for k, v in value.items()}
    return value


def _config_paths(path: Path, seen: set[Path]) -> list[tuple[str, Path]]:
    """(key, absolute path) of every file a config names for its inputs, network and components (a small
    reader of its own, independent of modelkit's: it judges whether data is absent)."""
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    raw = json.loads(path.read_text())
    base = path.parent
    manifest = {"$configdir": str(base), "$configfname": path.name}
    for k, v in (raw.get("manifest") or {}).items():
        manifest[k if k.startswith("$") else "$" + k] = str(v)
    for _ in range(10):  # manifest entries name each other
        manifest = {k: _expand(v, manifest) for k, v in manifest.items()}
    d = _expand(raw, manifest)
    out: list[tuple[str, Path]] = []

    def walk(v: Any, key: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{key}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{key}[{i}]")
        elif isinstance(v, str) and ("/" in v or v.lower().endswith(_FILE_EXT)) and "$" not in v:
            out.append((key, (base / v).resolve()))

    for section in ("inputs", "networks", "components", "node_sets_file"):
        if section in d:
            walk(d[section], section)
    for k in ("network", "simulation"):
        if isinstance(d.get(k), str):
            sub = (base / d[k]).resolve()
            out.append((k, sub))
            out += _config_paths(sub, seen)
    out += _component_paths(d, base)
    return out


#: the components folder of a types CSV's file-valued columns, by model type (bmtk's layout)
_TYPE_DIRS = {("biophysical", "dynamics_params"): "biophysical_neuron_models_dir",
              ("biophysical", "morphology"): "morphologies_dir",
              ("point_process", "dynamics_params"): "point_neuron_models_dir",
              ("point_neuron", "dynamics_params"): "point_neuron_models_dir",
              ("population", "dynamics_params"): "population_models_dir"}


def _component_paths(d: dict, base: Path) -> list[tuple[str, Path]]:
    """Component files the network's types CSVs name (``dynamics_params``, ``morphology``), in the config's
    component folders: what a run reads besides the files the config names."""
    import pandas as pd

    comps = d.get("components") or {}
    nets = d.get("networks") or {}
    out: list[tuple[str, Path]] = []
    entries = [(e.get("node_types_file"), None) for e in nets.get("nodes") or []] + \
        [(e.get("edge_types_file"), "synaptic_models_dir") for e in nets.get("edges") or []]
    for csv, fixed in entries:
        if not isinstance(csv, str) or not (base / csv).is_file():
            continue
        types = pd.read_csv(base / csv, sep=" ", dtype=str, keep_default_na=False)
        for _, row in types.iterrows():
            for col in ("dynamics_params", "morphology"):
                v = str(row.get(col, "") or "")
                key = fixed if fixed and col == "dynamics_params" else \
                    _TYPE_DIRS.get((str(row.get("model_type", "")), col)) if not fixed else None
                if not v or v.startswith("{") or v.upper() in ("NULL", "NONE", "NAN") or not key:
                    continue
                folder = comps.get(key)
                if not isinstance(folder, str) or "$" in folder:
                    continue
                path = (base / folder / v).resolve()
                if col == "morphology" and not path.exists() and not v.endswith(".swc"):
                    path = path.with_name(path.name + ".swc")  # bmtk adds the extension
                out.append((f"components.{key} + {Path(csv).name} {col}", path))
    return out


def missing_data(cfg: ExampleConfig, root: str | os.PathLike) -> list[str]:
    """Files the config names for its inputs, network and components that do not exist, as ``key: path``."""
    return [f"{k}: {p}" for k, p in _config_paths(cfg.path(root).resolve(), set()) if not p.exists()]


def read_population_rates(path: str | os.PathLike) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """A PopNet rates file (space-separated ``population_id time firing_rate``, no header; time in s, rate in
    Hz): ``{population_id: (times s, rates Hz)}``."""
    a = np.loadtxt(path, ndmin=2)
    return {int(p): (a[a[:, 0] == p, 1], a[a[:, 0] == p, 2]) for p in np.unique(a[:, 0])}


def compare_population_reference(out_dir: str, reference: str, *, after_s: float = 1.0, rel: float = 0.05,
                                 silent_hz: float = 1e-3) -> tuple[bool, str]:
    """modelkit's PopNet rates against bmtk + DiPDE's: each population's mean rate over ``t >= after_s``
    within ``rel``, or both below ``silent_hz``."""
    found = sorted(Path(out_dir).rglob("spike_rates.txt"))
    if not found:
        return False, "no spike_rates.txt in modelkit's output"
    a, b = read_population_rates(found[0]), read_population_rates(reference)
    if set(a) != set(b):
        return False, f"populations {sorted(a)} vs {sorted(b)}"
    parts, ok = [], True
    for p in sorted(b):
        ma = float(a[p][1][a[p][0] >= after_s].mean())
        mb = float(b[p][1][b[p][0] >= after_s].mean())
        good = (ma < silent_hz and mb < silent_hz) or abs(ma - mb) <= rel * abs(mb)
        ok &= good
        parts.append(f"{p}: {ma:.3g} vs {mb:.3g} Hz")
    return ok, "mean rate over t >= 1 s, " + "; ".join(parts)
