"""CoreNEURON in memory (``simulate(coreneuron=True)``, ``run.coreneuron: true``): NEURON builds the model,
CoreNEURON integrates it, with NEURON's spikes and soma traces (issue 18, item 1, one process).

The runs that reach CoreNEURON go in a child process: CoreNEURON aborts the whole process (SIGABRT, no
exception) on a mechanism it lacks, and a pytest worker must not go with it.  What in-memory CoreNEURON
cannot do is refused before anything is written (``notes/coreneuron-run.md`` says what was found where).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _h5_outputs import h5_datasets

from modelkit.datasets import bio_network
from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.testing import intfire_network

CHILD = """
import logging, sys
logging.basicConfig(level=logging.INFO)
from modelkit.simulator import simulate
cfg, out, core = sys.argv[1], sys.argv[2], sys.argv[3]
simulate(cfg, output_dir=out, progress=False, **({} if core == "config" else {"coreneuron": core == "1"}))
"""


def _run(cfg: Path, out: Path, core: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(out), core], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def bio_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 ball-and-stick cells (hh, pas, Exp2Syn: CoreNEURON's built-in mechanisms), Poisson inputs, a soma v
    report, 150 ms in blocks of 25 ms (each block one ``psolve``), and a current clamp of 20 pulses (more
    than NEURON's backend gives IClamps: a played step function, which CoreNEURON cannot play)."""
    d = tmp_path_factory.mktemp("coreneuron")
    cfg = Path(bio_network(d / "bio", n_exc=12, n_inh=4, n_input=20, tstop=150.0))
    c = json.loads(cfg.read_text())
    c["run"]["block_size"] = 25.0
    c["inputs"]["pulses"] = {"input_type": "current_clamp", "module": "IClamp", "node_set": {"node_ids": [2, 5]},
                             "amp": [0.2 if k % 2 else 0.05 for k in range(20)],
                             "delay": [5.0 * k for k in range(20)], "duration": [5.0] * 20}
    cfg.write_text(json.dumps(c))
    return cfg


def test_same_spikes_and_soma_v(bio_config: Path, tmp_path: Path) -> None:
    _run(bio_config, tmp_path / "neuron", "0")
    proc = _run(bio_config, tmp_path / "core", "1")
    assert "CoreNEURON integrates" in proc.stderr
    ref, got = h5_datasets(tmp_path / "neuron"), h5_datasets(tmp_path / "core")
    assert sorted(ref) == sorted(got)
    assert len(ref["spikes.h5:spikes/bio/timestamps"]) > 50
    for k in ref:
        if k.endswith("/data"):  # soma v (mV), float32 in the file
            assert ref[k].shape == got[k].shape and ref[k].shape[0] == 6000
            np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-6, err_msg=k)
        else:  # spikes (node ids and times) and report mappings: identical
            assert np.array_equal(ref[k], got[k]), k


def test_config_key(bio_config: Path, tmp_path: Path) -> None:
    """``run.coreneuron: true`` in the config does what ``simulate(coreneuron=True)`` does."""
    c = json.loads(bio_config.read_text())
    c["run"]["coreneuron"] = True
    cfg = bio_config.with_name("config.core.json")
    cfg.write_text(json.dumps(c))
    proc = _run(cfg, tmp_path / "core", "config")
    assert "CoreNEURON integrates" in proc.stderr
    c["run"]["coreneuron"] = "yes"
    cfg.write_text(json.dumps(c))
    with pytest.raises(ConfigError, match=r"run\.coreneuron.*true or false"):
        simulate(str(cfg), output_dir=tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad").exists()


def _variant(cfg: Path, name: str, edit: dict) -> Path:
    c = json.loads(cfg.read_text())
    for block, entries in edit.items():
        c.setdefault(block, {}).update(entries)
    out = cfg.with_name(name)
    out.write_text(json.dumps(c))
    return out


@pytest.mark.parametrize("what, edit, message", [
    ("xstim", {"inputs": {"stim": {"input_type": "lfp", "module": "xstim", "node_set": "bio",
                                   "positions_file": "nowhere.csv", "mesh_files_dir": ".",
                                   "waveform": {"shape": "sin", "del": 10.0, "amp": 0.1, "freq": 10.0,
                                                "dur": 20.0}}}},
     r"inputs\.stim\.module.*xstim.*extracellular mechanism.*drop run\.coreneuron"),
    ("syn_activity", {"inputs": {"spont": {"input_type": "syn_activity", "module": "syn_activity",
                                           "node_set": "bio", "timestamps": [10.0]}}},
     r"inputs\.spont\.module.*VecStim.*drop run\.coreneuron"),
])
def test_refused_before_anything_is_written(bio_config: Path, tmp_path: Path, what: str, edit: dict,
                                            message: str) -> None:
    cfg = _variant(bio_config, f"config.{what}.json", edit)
    with pytest.raises(ConfigError, match=message):
        simulate(str(cfg), output_dir=tmp_path / "out", progress=False, coreneuron=True)
    assert not (tmp_path / "out").exists()


def test_intfire1_cells_give_neurons_spikes(tmp_path: Path) -> None:
    """IntFire1 is not in CoreNEURON, and NEURON crashes taking back a pending refractory self-event of an
    artificial cell: under CoreNEURON the cells are modelkit's mkIntFire1 (no self-events), with IntFire1's
    spikes, across block ends that fall inside refractory periods."""
    cfg = tmp_path / "config.json"
    c = intfire_network(tmp_path / "net", tstop=400.0)
    c["run"]["nsteps_block"] = 1001  # 50.05 ms blocks: block ends off the spike grid
    cfg.write_text(json.dumps(c))
    _run(cfg, tmp_path / "neuron", "0")
    proc = _run(cfg, tmp_path / "core", "1")
    assert "CoreNEURON integrates" in proc.stderr
    ref, got = h5_datasets(tmp_path / "neuron"), h5_datasets(tmp_path / "core")
    assert len(ref["spikes.h5:spikes/cortex/timestamps"]) > 500
    for k in ref:
        assert np.array_equal(ref[k], got[k]), k


@pytest.mark.parametrize("template", ["nrn:IntFire2", "nrn:IntFire4"])
def test_other_artificial_cells_refused(tmp_path: Path, template: str) -> None:
    """IntFire2/4 are not in CoreNEURON (it aborts the process) and have no stand-in: refused, with the way to
    run them."""
    c = intfire_network(tmp_path / "net")
    types = tmp_path / "net" / "network" / "cortex_node_types.csv"
    types.write_text(types.read_text().replace("nrn:IntFire1", template))
    with pytest.raises(ConfigError, match=rf"model_template.*{template}.*nrn:IntFire1 only.*drop run\.coreneuron"):
        simulate(c, output_dir=tmp_path / "out", progress=False, coreneuron=True)
    assert not (tmp_path / "out").exists()


#: a leak of a name no other test uses (NEURON cannot load a mechanism twice in one process)
LEAK_MOD = """NEURON { SUFFIX leak_core18 NONSPECIFIC_CURRENT i RANGE g, e }
UNITS { (mA) = (milliamp) (mV) = (millivolt) }
PARAMETER { g = 0.0001 (S/cm2) e = -70 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g * (v - e) }
"""


NEURON_THEN_CORE = """
import sys
from modelkit.simulator import simulate
cfg, out = sys.argv[1], sys.argv[2]
simulate(cfg, output_dir=out + "/neuron", progress=False)  # loads NEURON's library of the folder
simulate(cfg, output_dir=out + "/core", progress=False, coreneuron=True)  # the same library, and CoreNEURON's
"""


def _with_mechanisms(bio_config: Path, mech: Path, name: str) -> Path:
    c = json.loads(bio_config.read_text())
    c.setdefault("components", {})["mechanisms_dir"] = str(mech)
    cfg = bio_config.with_name(name)
    cfg.write_text(json.dumps(c))
    return cfg


def test_a_process_that_loaded_mechanisms_for_neuron_runs_them_under_coreneuron(bio_config: Path,
                                                                                 tmp_path: Path) -> None:
    """NEURON's library of a folder is the same for both runs (``nrnivmodl -coreneuron`` differs only in
    ``special``): a process that ran NEURON first gets the CoreNEURON build beside it, same spikes."""
    mech = tmp_path / "mech"
    mech.mkdir()
    (mech / "leak_core18.mod").write_text(LEAK_MOD)
    cfg = _with_mechanisms(bio_config, mech, "config.mech.json")
    proc = subprocess.run([sys.executable, "-c", NEURON_THEN_CORE, str(cfg), str(tmp_path)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref, got = h5_datasets(tmp_path / "neuron"), h5_datasets(tmp_path / "core")
    assert len(ref["spikes.h5:spikes/bio/timestamps"]) > 50
    for k in ("spikes.h5:spikes/bio/timestamps", "spikes.h5:spikes/bio/node_ids"):
        assert np.array_equal(ref[k], got[k]), k


#: another leak: this one is loaded into the test process
LEAK2_MOD = LEAK_MOD.replace("leak_core18", "leak2_core18")


def test_a_compiled_folder_without_coreneuron_library_refused(bio_config: Path, tmp_path: Path) -> None:
    """Only ``x86_64/libnrnmech.so`` (``nrnivmodl`` without ``-coreneuron``): CoreNEURON would abort on the
    first mechanism it lacks, so the run is refused before it starts."""
    from modelkit.simulator.neuron.mechanisms import compile_mechanisms
    src = tmp_path / "src"
    src.mkdir()
    (src / "leak2_core18.mod").write_text(LEAK2_MOD)
    mech = tmp_path / "mech"
    (mech / "x86_64").mkdir(parents=True)
    shutil.copy(compile_mechanisms(str(src)), mech / "x86_64" / "libnrnmech.so")
    cfg = _with_mechanisms(bio_config, mech, "config.compiled.json")
    with pytest.raises(ConfigError, match=r"mechanisms_dir.*leak2_core18.*nrnivmodl -coreneuron.*drop run\.coreneuron"):
        simulate(str(cfg), output_dir=tmp_path / "out", progress=False, coreneuron=True)


def test_voltage_clamp_with_a_delay(bio_config: Path, tmp_path: Path) -> None:
    """bmtk's SEClamp of ``amp``, ``delay`` and ``duration`` (free before and after: its series resistance is a
    step function of time, which NEURON plays as a step Vector and CoreNEURON cannot): under CoreNEURON the same
    steps played as a continuous Vector with repeated times give NEURON's spikes, soma v and clamp current."""
    cfg = _variant(bio_config, "config.seclamp.json", {
        "inputs": {"vc": {"input_type": "current_clamp", "module": "SEClamp", "node_set": {"node_ids": [3, 7]},
                          "amp": -20.0, "delay": 40.01, "duration": 30.0, "resistance": 0.5}},
        "reports": {"se": {"module": "clamp_report", "variable_name": "se"}}})
    _run(cfg, tmp_path / "neuron", "0")
    _run(cfg, tmp_path / "core", "1")
    ref, got = h5_datasets(tmp_path / "neuron"), h5_datasets(tmp_path / "core")
    assert sorted(ref) == sorted(got)
    for k in ref:
        if k.endswith("/data"):  # soma v (mV) and the clamp current (nA)
            print(f"{k}: max |CoreNEURON - NEURON| = {np.abs(got[k] - ref[k]).max():.2e}")
            np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-6, err_msg=k)
        else:
            assert np.array_equal(ref[k], got[k]), k
    i = ref["se.h5:report/bio/data"]
    t = 0.025 * np.arange(len(i))
    assert np.abs(i[(t > 41) & (t < 69)]).max() > 1.0 and np.abs(i[(t < 40) | (t > 71)]).max() < 1e-9


def test_delays_below_one_step_refused(tmp_path: Path) -> None:
    """NEURON runs delays below dt by stepping with fadvance (as bmtk); CoreNEURON integrates with psolve only,
    which refuses them: a ConfigError naming the edges, at build (before CoreNEURON is reached)."""
    cfg = Path(bio_network(tmp_path / "bio", n_exc=4, n_inh=2, n_input=5, tstop=20.0))
    types = cfg.parent / "network" / "bio_bio_edge_types.csv"
    types.write_text(types.read_text().replace(" 0.0005 2.0 ", " 0.0005 0.01 "))
    with pytest.raises(ConfigError, match=r"/edges/bio_to_bio: delay.*below one time step.*drop run\.coreneuron"):
        simulate(str(cfg), output_dir=tmp_path / "out", progress=False, coreneuron=True)


def test_gpu_refused_without_a_gpu_build(bio_config: Path, tmp_path: Path) -> None:
    """``run.coreneuron_gpu`` needs a NEURON built with GPU support; the wheels here are CPU-only, so it is
    refused before anything is written, saying what is missing and how to run on the CPU."""
    from neuron import h
    assert "CORENRN_ENABLE_GPU=ON" not in h.nrnversion(6)  # the premise: this machine's NEURON has no GPU build
    message = r"run\.coreneuron_gpu.*GPU support.*CORENRN_ENABLE_GPU.*drop run\.coreneuron_gpu"
    with pytest.raises(ConfigError, match=message):
        simulate(str(bio_config), output_dir=tmp_path / "out", progress=False, coreneuron_gpu=True)
    cfg = _variant(bio_config, "config.gpu.json", {"run": {"coreneuron_gpu": True}})
    with pytest.raises(ConfigError, match=message):
        simulate(str(cfg), output_dir=tmp_path / "out", progress=False)
    with pytest.raises(ConfigError, match=r"run\.coreneuron.*true \(or left out\) when run\.coreneuron_gpu"):
        simulate(str(cfg), output_dir=tmp_path / "out", progress=False, coreneuron=False)
    bad = _variant(bio_config, "config.gpu-bad.json", {"run": {"coreneuron_gpu": 1}})
    with pytest.raises(ConfigError, match=r"run\.coreneuron_gpu.*true or false"):
        simulate(str(bad), output_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    proc = subprocess.run([sys.executable, "-m", "modelkit", "run", str(bio_config), "--gpu", "--quiet",
                           "--output", str(tmp_path / "cli")], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "CORENRN_ENABLE_GPU" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cli").exists()


def test_command_line_flag(bio_config: Path, tmp_path: Path) -> None:
    """``modelkit run CONFIG --coreneuron`` integrates with CoreNEURON, with the spikes of ``simulate``."""
    proc = subprocess.run([sys.executable, "-m", "modelkit", "run", str(bio_config), "--coreneuron", "--quiet",
                           "--output", str(tmp_path / "cli")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("neuron (CoreNEURON): 150 ms simulated"), proc.stdout
    _run(bio_config, tmp_path / "neuron", "0")
    ref, got = h5_datasets(tmp_path / "neuron"), h5_datasets(tmp_path / "cli")
    for k in ("spikes.h5:spikes/bio/timestamps", "spikes.h5:spikes/bio/node_ids"):
        assert np.array_equal(ref[k], got[k]), k
