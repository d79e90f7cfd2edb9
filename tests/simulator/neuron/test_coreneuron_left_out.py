"""Mechanism folders with mod files only NEURON compiles (bmtk's vecevent.mod in every bio example) under
CoreNEURON (issue 18, item 2): the CoreNEURON library leaves them out and says why, a model that does not use
them gives NEURON's spikes, a model that does is refused before CoreNEURON runs (it would abort the process).

Runs that reach CoreNEURON go in a child process (an abort must not take the pytest worker with it).  Mechanism
names end in ``_sub18``: NEURON loads a name once per process, and no other test uses these.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.datasets import bio_network
from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.simulator.neuron.coreneuron_build import LEFT_OUT_JSON, coreneuron_folder
from modelkit.simulator.neuron.mechanisms import (compile_mechanisms, coreneuron_left_out, coreneuron_library,
                                                  find_mechanisms)

_UNITS = "UNITS { (mA) = (milliamp) (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }\n"
#: a leak CoreNEURON compiles
LEAK = ("NEURON { SUFFIX leak_sub18 NONSPECIFIC_CURRENT i RANGE g, e }\n" + _UNITS
        + "PARAMETER { g = 0.0001 (S/cm2) e = -70 (mV) }\nASSIGNED { v (mV) i (mA/cm2) }\n"
        "BREAKPOINT { i = g * (v - e) }\n")
#: NEURON's hoc API in a VERBATIM, as bmtk's vecevent.mod has: nocmodl compiles it, CoreNEURON has no ifarg
_IFARG = "PROCEDURE hoc_args() {\nVERBATIM\n    if (ifarg(1)) { }\nENDVERBATIM\n}\n"
IFLEAK = LEAK.replace("leak_sub18", "ifleak_sub18") + _IFARG
IFSYN = ("NEURON { POINT_PROCESS IfSyn_sub18 RANGE tau, e, i NONSPECIFIC_CURRENT i }\n" + _UNITS
         + "PARAMETER { tau = 2 (ms) e = 0 (mV) }\nASSIGNED { v (mV) i (nA) }\nSTATE { g (uS) }\n"
         "INITIAL { g = 0 }\nBREAKPOINT {\n    SOLVE state METHOD cnexp\n    i = g * (v - e)\n}\n"
         "DERIVATIVE state { g' = -g / tau }\nNET_RECEIVE(weight (uS)) { g = g + weight }\n" + _IFARG)

CHILD = """
import logging, sys
logging.basicConfig(level=logging.INFO)
from modelkit.simulator import simulate
simulate(sys.argv[1], output_dir=sys.argv[2], progress=False, coreneuron=sys.argv[3] == "1")
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    """One compile cache for the module (children inherit it): the folder is compiled once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def mech(tmp_path_factory: pytest.TempPathFactory, cache: None) -> Path:
    d = tmp_path_factory.mktemp("mechanisms")
    for name, text in (("leak_sub18", LEAK), ("ifleak_sub18", IFLEAK), ("ifsyn_sub18", IFSYN)):
        (d / f"{name}.mod").write_text(text)
    return d


def test_coreneuron_build_leaves_out_what_it_cannot_compile_and_says_why(mech: Path) -> None:
    lib = compile_mechanisms(str(mech), coreneuron=True)
    assert lib == compile_mechanisms(str(mech))  # NEURON's library: the plain build, whole
    core = coreneuron_library(lib)
    assert core is not None and core.endswith("libcorenrnmech.so")
    left = coreneuron_left_out(lib)
    assert sorted(left) == ["IfSyn_sub18", "ifleak_sub18"]
    assert left["IfSyn_sub18"].file == "ifsyn_sub18.mod" and left["ifleak_sub18"].file == "ifleak_sub18.mod"
    for entry in left.values():
        assert re.search(r"ifarg.{1,3} was not declared", entry.reason), entry.reason
        assert "leak_sub18.cpp" not in entry.reason.replace("ifleak_sub18.cpp", "")  # only its own lines
    record = json.loads((Path(coreneuron_folder(find_mechanisms(str(mech)).mod_paths)) / LEFT_OUT_JSON).read_text())
    assert record["compiled"] == ["leak_sub18.mod"]
    # the same answers from the folder and from load_mechanisms' record, and cached by content
    assert coreneuron_left_out(str(mech)) == left == coreneuron_left_out(find_mechanisms(str(mech)))
    assert coreneuron_library(find_mechanisms(str(mech))) == core
    t = time.monotonic()
    assert compile_mechanisms(str(mech), coreneuron=True) == lib
    assert time.monotonic() - t < 2.0


def _network(root: Path, name: str, mech: Path, genome: list[dict] = (), synapse: str | None = None) -> Path:
    """8 ball-and-stick cells (hh, pas, Exp2Syn) with ``genome`` entries added to their dynamics and bio->bio
    synapses of ``synapse`` instead of Exp2Syn; components.mechanisms_dir = ``mech``."""
    cfg = Path(bio_network(root / name, n_exc=6, n_inh=2, n_input=10, tstop=100.0))
    dyn = cfg.parent / "components" / "biophysical_neuron_models" / "hh_ballstick.json"
    d = json.loads(dyn.read_text())
    d["genome"] += list(genome)
    dyn.write_text(json.dumps(d))
    if synapse is not None:
        types = cfg.parent / "network" / "bio_bio_edge_types.csv"
        types.write_text(types.read_text().replace(" exp2syn\n", f" {synapse}\n"))
    c = json.loads(cfg.read_text())
    c.setdefault("components", {})["mechanisms_dir"] = str(mech)
    cfg.write_text(json.dumps(c))
    return cfg


def _child(cfg: Path, out: Path, core: bool) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(out), "1" if core else "0"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_a_model_not_using_them_gives_neurons_spikes(mech: Path, tmp_path: Path) -> None:
    """The cells have the leak CoreNEURON compiled on their dendrites; the folder's other two are loaded in
    NEURON (whole library) and not in CoreNEURON's: spikes identical, soma v within 1e-6 mV."""
    leak = [{"section": "dend", "name": n, "value": v, "mechanism": "leak_sub18"}
            for n, v in (("g_leak_sub18", 5e-5), ("e_leak_sub18", -60.0))]
    cfg = _network(tmp_path, "uses_leak", mech, leak)
    _child(cfg, tmp_path / "neuron", False)
    proc = _child(cfg, tmp_path / "core", True)
    assert "CoreNEURON integrates" in proc.stderr
    with h5py.File(tmp_path / "neuron" / "spikes.h5") as a, h5py.File(tmp_path / "core" / "spikes.h5") as b:
        ta, tb = a["spikes/bio/timestamps"][()], b["spikes/bio/timestamps"][()]
        assert len(ta) > 10 and np.array_equal(ta, tb)
        assert np.array_equal(a["spikes/bio/node_ids"][()], b["spikes/bio/node_ids"][()])
    report = "membrane_potential.h5"
    with h5py.File(tmp_path / "neuron" / report) as a, h5py.File(tmp_path / "core" / report) as b:
        va, vb = a["report/bio/data"][()], b["report/bio/data"][()]
        assert va.shape == vb.shape and np.abs(va - vb).max() < 1e-6


@pytest.mark.parametrize("variant, genome, synapse, message", [
    ("density", [{"section": "soma", "name": "g_ifleak_sub18", "value": 1e-5, "mechanism": "ifleak_sub18"}], None,
     r"mechanism ifleak_sub18 \(section bio\[\d+\]\.soma\[0\]\) of ifleak_sub18\.mod, which does not compile for "
     r"CoreNEURON.*ifarg.*drop run\.coreneuron"),
    ("synapse", [], "IfSyn_sub18",
     r"mechanism IfSyn_sub18 \(\d+ instances, one on bio\[\d+\]\.\w+\[\d+\]\) of ifsyn_sub18\.mod.*ifarg.*"
     r"drop run\.coreneuron"),
])
def test_a_model_using_one_is_refused_before_coreneuron_runs(mech: Path, tmp_path: Path, variant: str,
                                                             genome: list, synapse: str | None,
                                                             message: str) -> None:
    cfg = _network(tmp_path, variant, mech, genome, synapse)
    with pytest.raises(ConfigError, match=message):
        simulate(str(cfg), output_dir=tmp_path / "out", progress=False, coreneuron=True)


@pytest.mark.slow  # ~55 s the first time (25 files, 2 cores), then cached
def test_bmtk_examples_folder_builds_for_coreneuron_without_vecevent(bmtk_examples_dir: Path) -> None:
    """bmtk's bio_components mechanisms (25 files, read in place; cached in the user's cache like any run):
    everything but vecevent.mod (VecStim) goes in the CoreNEURON library."""
    folder = bmtk_examples_dir / "bio_components" / "mechanisms"
    lib = compile_mechanisms(str(folder), coreneuron=True)
    assert coreneuron_library(lib) is not None
    left = coreneuron_left_out(lib)
    assert list(left) == ["VecStim"] and left["VecStim"].file == "vecevent.mod"
    assert re.search(r"ifarg.{1,3} was not declared", left["VecStim"].reason)
    record = json.loads((Path(coreneuron_folder(find_mechanisms(str(folder)).mod_paths)) / LEFT_OUT_JSON)
                        .read_text())
    assert len(record["compiled"]) == 24 and "NaV.mod" in record["compiled"]
    assert record["modelkit"] == ["mkIntFire1.mod"]  # modelkit's stand-in for IntFire1, in every such library
    assert os.listdir(folder / "modfiles") and not (folder / "x86_64").exists()  # nothing written there


def test_failures_of_make_k_are_told_apart_by_file(capfd: pytest.CaptureFixture) -> None:
    """make -j runs several files at once and their messages interleave: each failing target and the lines
    about it are found by name (nmodl's own failures come prefixed with the file's name by the wrapper)."""
    from modelkit.simulator.neuron import coreneuron_build as cb
    from modelkit.simulator.neuron.nmodl_patch import main
    assert main(["/bin/sh", "-c", "echo 'Re-declaration of f'; exit 3", "mod/dup_sub18.mod"]) == 3
    nmodl_lines = capfd.readouterr().err
    assert nmodl_lines.strip() == "[modelkit] nmodl failed on dup_sub18.mod: Re-declaration of f"
    out = ("x86_64/corenrn/mod2c/a_sub18.cpp: In function 'int f()':\n"
           + nmodl_lines
           + "x86_64/corenrn/mod2c/a_sub18.cpp:3:1: error: 'ifarg' was not declared in this scope\n"
           "    3 |   ifarg(1)\n"
           "make: *** [/x/nrnivmodl_core_makefile:181: x86_64/corenrn/build/a_sub18.o] Error 1\n"
           "make: *** [/x/nrnivmodl_core_makefile:190: x86_64/corenrn/mod2c/dup_sub18.cpp] Error 1\n"
           "make: Target 'x86_64/special-core' not remade because of errors.\n")
    assert cb._FAILED_RE.findall(out) == ["a_sub18", "dup_sub18"]
    assert cb._FAILED_RE.findall(out.replace("make: ***", "make[2]: ***")) == ["a_sub18", "dup_sub18"]  # sub-make
    a = cb._reason(out, "a_sub18").splitlines()
    assert len(a) == 4 and "ifarg" in a[1] and a[2].startswith("    3 |") and "dup_sub18" not in "".join(a)
    assert cb._reason(out, "dup_sub18").splitlines()[0].endswith("Re-declaration of f")


def test_builds_under_an_outer_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``make test`` runs pytest under make: its MAKELEVEL made the build's make a sub-make whose failures read
    "make[2]: *** ..." (not found: the whole folder was refused in CI) and its MAKEFLAGS went down too."""
    monkeypatch.setenv("MAKELEVEL", "1")
    monkeypatch.setenv("MAKEFLAGS", "w -j2 --jobserver-auth=fifo:/nonexistent")
    monkeypatch.setenv("MODELKIT_CACHE_DIR", str(tmp_path / "cache"))
    mech = tmp_path / "mech"
    mech.mkdir()
    (mech / "leak_make18.mod").write_text(LEAK.replace("leak_sub18", "leak_make18"))
    (mech / "ifleak_make18.mod").write_text(IFLEAK.replace("ifleak_sub18", "ifleak_make18"))
    lib = compile_mechanisms(str(mech), coreneuron=True)
    assert coreneuron_library(lib) is not None
    assert list(coreneuron_left_out(lib)) == ["ifleak_make18"]
