"""bmtk's BioNet examples as shipped (``shared/bmtk-examples``, copied writable): mechanisms in bmtk's layout
(``mechanisms/modfiles/``, a compiled ``x86_64/``), zero delays, bmtk's report time axis, comma-separated
``model_processing``.  bmtk runs in a child process where numbers are compared
(tests/simulator/neuron/bmtk_child.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.errors import ModelkitWarning
from modelkit.simulator.neuron.mechanisms import compile_mechanisms
from modelkit.simulator.run import simulate
from modelkit.testing import copy_bmtk_examples

CHILD = Path(__file__).with_name("bmtk_child.py")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the BioNet examples these tests run (the shared suite is read-only)."""
    return copy_bmtk_examples(tmp_path_factory.mktemp("ex"), "bio_1cell", "bio_intfire_ring", "bio_stp_models")


def _config(examples: Path, example: str, name: str, out: Path, mech: Path | None = None, **run: float) -> Path:
    """A copy of an example's config beside it (its relative paths hold), writing to ``out``; ``mech``: another
    mechanisms_dir (a flat folder of .mod files, so a test of something else does not hang on bmtk's layout)."""
    d = json.loads((examples / example / name).read_text())
    if "network" in d:  # the circuit config's components and networks, inlined
        circuit = json.loads((examples / example / d.pop("network")).read_text())
        d["manifest"] = {**circuit.get("manifest", {}), **d["manifest"]}
        d["components"] = {**circuit.get("components", {}), **d.get("components", {})}
        d["networks"] = circuit["networks"]
    if mech is not None:
        d["components"]["mechanisms_dir"] = str(mech)
    d["run"].update(run)
    d["output"]["output_dir"] = str(out)
    path = examples / example / f"test-{out.name}-{name}"
    path.write_text(json.dumps(d, indent=1))
    return path


def _modelkit(config: Path, out: Path) -> subprocess.CompletedProcess:
    """``modelkit run`` in a process of its own (NEURON cannot unload a mechanism library)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "modelkit", "run", str(config), "--output", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=600, env=env, cwd=config.parent)


def _bmtk(config: Path) -> None:
    lib = compile_mechanisms(json.loads(config.read_text())["components"]["mechanisms_dir"]
                             .replace("$COMPONENT_DIR", str(config.parent.parent / "bio_components")))
    r = subprocess.run([sys.executable, str(CHILD), str(config), lib], capture_output=True, text=True, timeout=600,
                       cwd=config.parent)
    assert r.returncode == 0, r.stderr[-3000:]


def _spikes(path: Path, pop: str) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path) as f:
        n, t = f[f"spikes/{pop}/node_ids"][:], f[f"spikes/{pop}/timestamps"][:]
    o = np.lexsort((n, t))
    return n[o].astype(np.int64), t[o]


# ----------------------------------------------------------------------------------- 1. mechanisms' layout
def test_bio_1cell_runs_unchanged_and_matches_bmtk(examples: Path, reference: Path, tmp_path: Path) -> None:
    """bio_1cell's mechanisms_dir holds only ``modfiles/``; its soma report has bmtk's time axis and rows."""
    cfg = _config(examples, "bio_1cell", "config.simulation_iclamp.json", tmp_path / "out")
    res = simulate(str(cfg), progress=False)
    ref = reference / "bmtk" / "bio_1cell" / "iclamp"
    with h5py.File(res.reports["membrane_potential"]) as f, h5py.File(ref / "membrane_potential.h5") as g:
        a, b = f["report/biocell"], g["report/biocell"]
        assert a["mapping/time"][:].tolist() == b["mapping/time"][:].tolist() == [0.0, 3000.0, 0.1]
        x, y = a["data"][:, 0], b["data"][:, 0]
        assert x.shape == y.shape == (30000,)
        assert np.abs(x - y).max() < 0.01  # the same samples (row k: v after step k), float32 on our side
    s1, s2 = _spikes(Path(res.spikes_file), "biocell"), _spikes(ref / "spikes.h5", "biocell")
    assert len(s1[1]) == len(s2[1]) == 20 and np.abs(s1[1] - s2[1]).max() <= 0.1


def test_a_compiled_folder_alone_is_loaded(examples: Path, tmp_path: Path) -> None:
    """No .mod files, only ``x86_64/libnrnmech.so`` (what ``nrnivmodl modfiles`` leaves): bmtk loads it, so
    does modelkit."""
    lib = compile_mechanisms(str(examples / "bio_components" / "mechanisms"))
    mech = tmp_path / "mechanisms"
    (mech / "x86_64").mkdir(parents=True)
    shutil.copy(lib, mech / "x86_64" / "libnrnmech.so")
    from modelkit.simulator.neuron.mechanisms import find_mechanisms
    src = find_mechanisms(str(mech))
    assert src.mod_dir is None and src.compiled == str(mech / "x86_64" / "libnrnmech.so")
    cfg = _config(examples, "bio_1cell", "config.simulation_iclamp.json", tmp_path / "out", tstop=600.0)
    d = json.loads(cfg.read_text())
    d["components"]["mechanisms_dir"] = str(mech)
    cfg.write_text(json.dumps(d))
    r = _modelkit(cfg, tmp_path / "out")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _spikes(tmp_path / "out" / "spikes.h5", "biocell")[1].size > 0


def test_a_stale_or_foreign_compiled_folder_does_not_crash(examples: Path, tmp_path: Path) -> None:
    """A library NEURON cannot load (here: not a library at all) is tried in a child process and left out; an
    ``arm64/`` build is never loaded; the missing mechanism's error names the paths searched and found."""
    mech = tmp_path / "mechanisms"
    (mech / "x86_64").mkdir(parents=True)
    (mech / "x86_64" / "libnrnmech.so").write_bytes(b"\x7fELF not really a library")
    (mech / "arm64").mkdir()
    (mech / "arm64" / "libnrnmech.so").write_bytes(b"built on another machine")
    (mech / "modfiles").mkdir()  # an empty modfiles folder
    cfg = _config(examples, "bio_1cell", "config.simulation_iclamp.json", tmp_path / "out", tstop=10.0)
    d = json.loads(cfg.read_text())
    d["components"]["mechanisms_dir"] = str(mech)
    cfg.write_text(json.dumps(d))
    r = _modelkit(cfg, tmp_path / "out")
    assert r.returncode == 2, r.stderr[-3000:]  # a ConfigError, not a crash
    err = r.stderr
    assert "'CaDynamics'" in err
    assert f"modelkit looked in components.mechanisms_dir {mech}: for .mod files in it and modfiles/ (none)" in err
    assert "and found x86_64/libnrnmech.so, not loaded: NEURON could not load it" in err
    assert "compiled for another machine, not loaded: arm64/" in err


def test_no_mechanisms_found_says_where_it_looked(examples: Path, tmp_path: Path) -> None:
    mech = tmp_path / "mechanisms"
    mech.mkdir()
    cfg = _config(examples, "bio_1cell", "config.simulation_iclamp.json", tmp_path / "out", tstop=10.0)
    d = json.loads(cfg.read_text())
    d["components"]["mechanisms_dir"] = str(mech)
    cfg.write_text(json.dumps(d))
    r = _modelkit(cfg, tmp_path / "out")  # a process of its own: this one has the mechanisms loaded already
    assert r.returncode == 2, r.stderr[-3000:]
    msg = r.stderr
    assert "'CaDynamics'" in msg and f"looked in components.mechanisms_dir {mech}: for .mod files in it (none)" in msg
    assert "and for a compiled library in x86_64/ (none); mechanisms it provides: none" in msg


# ------------------------------------------------------------------------------------------ 5. zero delays
def test_zero_delays_run_as_bmtk_with_a_warning(examples: Path, mechanisms_dir: Path, tmp_path: Path) -> None:
    """bio_intfire_ring's virtual inputs have ``delay 0``: bmtk runs them; NEURON's psolve refused them."""
    cfg = _config(examples, "bio_intfire_ring", "config.simulation.json", tmp_path / "mk", mechanisms_dir, tstop=100.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = simulate(str(cfg), progress=False)
    msgs = [str(w.message) for w in caught if issubclass(w.category, ModelkitWarning)]
    assert any("virtual_v1_edges.h5" in m and "6 edges with delay 0" in m for m in msgs), msgs
    d = json.loads(cfg.read_text())
    d["output"]["output_dir"] = str(tmp_path / "bmtk")
    cfg.write_text(json.dumps(d))
    _bmtk(cfg)
    (n1, t1), (n2, t2) = _spikes(Path(res.spikes_file), "v1"), _spikes(tmp_path / "bmtk" / "spikes.h5", "v1")
    assert len(t1) == len(t2) > 10
    assert np.array_equal(n1, n2) and np.abs(t1 - t2).max() < 1e-6


# ------------------------------------------------------------------------------------------ 6. time axis
def test_report_window_and_step_as_bmtk(examples: Path, mechanisms_dir: Path, tmp_path: Path) -> None:
    """A report with its own ``dt`` (5 steps) and ``start_time``: bmtk's samples (one step after each label)
    and labels, for soma and all-segment reports."""
    cfg = _config(examples, "bio_1cell", "config.simulation_iclamp.json", tmp_path / "mk", mechanisms_dir, tstop=300.0)
    d = json.loads(cfg.read_text())
    d["inputs"]["current_clamp_1"].update({"delay": 20.0, "duration": 200.0})
    d["reports"] = {"soma_v": {"cells": [0], "variable_name": "v", "module": "membrane_report", "sections": "soma",
                               "dt": 0.5, "start_time": 50.0, "end_time": 250.0},
                    "all_v": {"cells": [0], "variable_name": "v", "module": "membrane_report", "sections": "all",
                              "dt": 0.2}}
    cfg.write_text(json.dumps(d))
    r = _modelkit(cfg, tmp_path / "mk")  # its own process: this folder's mechanisms may clash with one loaded here
    assert r.returncode == 0, r.stderr
    d["output"]["output_dir"] = str(tmp_path / "bmtk")
    cfg.write_text(json.dumps(d))
    _bmtk(cfg)
    for name, frames in (("soma_v", 400), ("all_v", 1500)):
        with h5py.File(tmp_path / "mk" / f"{name}.h5") as f, h5py.File(tmp_path / "bmtk" / f"{name}.h5") as g:
            a, b = f["report/biocell"], g["report/biocell"]
            assert np.allclose(a["mapping/time"][:], b["mapping/time"][:]), name
            x, y = a["data"][:], b["data"][:]
            assert x.shape == y.shape and x.shape[0] == frames, name
            assert np.abs(x - y).max() < 0.01, name


# ------------------------------------------------------- 7. model_processing lists, bmtk's synapse models
def test_extracellular_processing_and_bmtk_synapse_models(examples: Path, tmp_path: Path) -> None:
    """bio_stp_models: ``aibs_perisomatic,extracellular`` (the mechanism in every section: its ``i_membrane``
    is recorded), ``expsyn`` and ``stp2syn`` edges set as bmtk sets them (``erev`` -> ``e``; stp2syn's ``a_FDR``
    left at the mechanism's default).  A few ms only: ``extracellular`` makes each step slow."""
    cfg = _config(examples, "bio_stp_models", "config.simulation.json", tmp_path / "mk", tstop=3.0)  # stp2syn.mod
    d = json.loads(cfg.read_text())
    d.pop("node_sets")  # an inline node set of ids (the sonata core's part of this issue): the same cells here
    d["reports"] = {"i_membrane": {"cells": list(range(10)), "variable_name": "i_membrane",
                                   "module": "membrane_report", "sections": "soma"},
                    "v": {"cells": list(range(10)), "variable_name": "v", "module": "membrane_report",
                          "sections": "soma"},
                    **{f"stp_{v}": {"cells": "slice", "variable_name": v, "module": "netcon_report",
                                    "syn_type": "stp2syn"} for v in ("e", "a_FDR", "tau_FDR")},
                    "exp_e": {"cells": "slice", "variable_name": "e", "module": "netcon_report", "syn_type": "ExpSyn"}}
    cfg.write_text(json.dumps(d))
    r = _modelkit(cfg, tmp_path / "mk")  # its own process: this folder's mechanisms may clash with one loaded here
    assert r.returncode == 0, r.stderr
    d["output"]["output_dir"] = str(tmp_path / "bmtk")
    cfg.write_text(json.dumps(d))
    _bmtk(cfg)
    for name in d["reports"]:
        with h5py.File(tmp_path / "mk" / f"{name}.h5") as f, h5py.File(tmp_path / "bmtk" / f"{name}.h5") as g:
            a, b = f["report/slice"], g["report/slice"]
            x, y = a["data"][:], b["data"][:]
            assert x.shape == y.shape and x.shape[0] == 300, name
            assert np.abs(x - y).max() <= 1e-5 * max(1.0, np.abs(y).max()), name
            assert np.allclose(a["mapping/time"][:], b["mapping/time"][:]), name
    with h5py.File(tmp_path / "mk" / "stp_e.h5") as f, h5py.File(tmp_path / "mk" / "stp_a_FDR.h5") as g:
        assert np.all(f["report/slice/data"][:] == -70.0) and np.all(g["report/slice/data"][:] == 0.5)
