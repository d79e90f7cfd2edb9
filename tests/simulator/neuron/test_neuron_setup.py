"""Set-up of the NEURON backend: mechanisms compiled once per content, cells cloned per node type (setup linear)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from modelkit.builder import NetworkBuilder
from modelkit.simulator.neuron.mechanisms import cache_dir, compile_mechanisms
from modelkit.simulator.run import simulate


def test_mechanisms_are_cached_by_content(mechanisms_dir: Path) -> None:
    lib = compile_mechanisms(str(mechanisms_dir))
    assert lib.startswith(cache_dir()) and Path(lib).exists()
    t0 = time.perf_counter()
    assert compile_mechanisms(str(mechanisms_dir)) == lib  # cached: no nrnivmodl run
    assert time.perf_counter() - t0 < 1.0


def _run(n: int, corpus: Path, mechanisms_dir: Path, out: Path) -> dict:
    comps = corpus / "bmtk" / "examples" / "bio_components"
    net = NetworkBuilder("bio")
    for morph, fit in (("Scnn1a_473845048_m.swc", "472363762_fit.json"), ("Pvalb_470522102_m.swc",
                                                                          "472912177_fit.json")):
        net.add_nodes(N=n // 2, model_type="biophysical", model_template="ctdb:Biophys1.hoc",
                      model_processing="aibs_perisomatic", morphology=morph, dynamics_params=fit,
                      rotation_angle_yaxis=np.linspace(0, 3, n // 2))
    cfg = {"run": {"tstop": 20.0, "dt": 0.1, "dL": 20.0, "spike_threshold": -15.0},
           "conditions": {"celsius": 34.0, "v_init": -80.0},
           "components": {"morphologies_dir": str(comps / "morphologies"), "mechanisms_dir": str(mechanisms_dir),
                          "biophysical_neuron_models_dir": str(comps / "biophysical_neuron_templates" / "ctdb")},
           "inputs": {"clamp": {"input_type": "current_clamp", "module": "IClamp", "node_set": "bio",
                                "amp": 0.3, "delay": 5.0, "duration": 10.0}},
           "output": {"output_dir": str(out), "spikes_file": "spikes.h5"}}
    r = simulate(cfg, network=net, progress=False)
    return {"build": r.timings["build"], "spikes": r.n_spikes["bio"], "cells": r.n_cells["bio"]}


def test_setup_is_linear_in_cells(corpus: Path, mechanisms_dir: Path, tmp_path: Path) -> None:
    _run(2, corpus, mechanisms_dir, tmp_path / "warm")  # mechanisms loaded, files cached by the OS
    small = _run(20, corpus, mechanisms_dir, tmp_path / "small")
    large = _run(120, corpus, mechanisms_dir, tmp_path / "large")
    per_small, per_large = small["build"] / 20, large["build"] / 120
    print(f"setup per cell: {1e3 * per_small:.2f} ms (20 cells), {1e3 * per_large:.2f} ms (120 cells)")
    assert large["cells"] == 120
    assert large["spikes"] > 0  # clamped cells fire
    assert per_large < 2.5 * per_small + 2e-3  # no per-cell cost growing with the cell count


def test_target_simulator_neuron_runs_point_processes_in_neuron(tmp_path):
    """point_process cells run in NEURON when the config names it (bmtk's BioNet configs), else in NEST."""
    from modelkit.builder import NetworkBuilder
    from modelkit.errors import ModelkitError
    from modelkit.simulator import simulate

    net = NetworkBuilder("cells")
    net.add_nodes(N=3, model_type="point_process", model_template="nrn:IntFire1")
    cfg = {"target_simulator": "NEURON", "run": {"tstop": 10.0, "dt": 0.1},
           "output": {"output_dir": str(tmp_path / "a")}}
    assert simulate(cfg, network=net, progress=False).backend == "neuron"
    cfg = {**cfg, "target_simulator": "NEST", "output": {"output_dir": str(tmp_path / "b")}}
    with pytest.raises(ModelkitError, match="IntFire1"):  # NEST gets the cells and says it lacks the model
        simulate(cfg, network=net, progress=False)


def test_morphology_tables_are_cached_by_content(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    """Import3d's result is kept in the cache (keyed by the file's bytes): a second read gives the same table,
    a damaged cache file is read through Import3d again."""
    from modelkit.simulator.neuron.mechanisms import import_neuron
    from modelkit.simulator.neuron.morphology import read_swc
    monkeypatch.setenv("MODELKIT_CACHE_DIR", str(tmp_path / "cache"))
    h = import_neuron()
    swc = corpus / "bmtk" / "examples" / "bio_components" / "morphologies" / "Pvalb_470522102_m.swc"
    first, diams = read_swc(h, str(swc), "test")
    cached = list((tmp_path / "cache" / "morphology").glob("*.mkm"))
    assert len(cached) == 1
    copy = tmp_path / "copy.swc"  # same bytes, other name: the same cache entry, the new path
    copy.write_bytes(swc.read_bytes())
    again, diams2 = read_swc(h, str(copy), "test")
    assert again.path == str(copy) and again.names == first.names and diams2 == diams
    for k in ("types", "parent", "parent_x", "child_x", "length", "diam"):
        np.testing.assert_array_equal(getattr(again, k), getattr(first, k))
    np.testing.assert_array_equal(np.concatenate(again.points), np.concatenate(first.points))
    np.testing.assert_array_equal(again.logical, first.logical)
    good = cached[0].read_bytes()
    for bad in (b"not a cache file", good[:len(good) // 2], good.replace(b'"names"', b'"nomes"', 1)):
        cached[0].write_bytes(bad)  # damaged (foreign, cut short, or an unknown header): Import3d again
        third, _ = read_swc(h, str(swc), "test")
        assert third.names == first.names
        np.testing.assert_array_equal(np.concatenate(third.points), np.concatenate(first.points))


def test_artificial_cells_run_after_an_xstim_run(tmp_path: Path) -> None:
    """NEURON 9.0 segfaults in psolve when a run has no section after sections with ``extracellular`` were
    deleted; an xstim run, then a run of artificial cells only, in one process."""
    import json

    from modelkit.datasets import bio_network
    cfg = bio_network(tmp_path / "net", n_exc=1, n_inh=1, n_input=2, tstop=10.0)
    (tmp_path / "line.csv").write_text("x_pos y_pos z_pos\n-10 0 0\n10 0 0\n")
    (tmp_path / "stim.csv").write_text("electrode_mesh_file pos_x pos_y pos_z rotation_x rotation_y rotation_z\n"
                                       "line.csv 100 0 0 0 0 0\n")
    d = json.loads(Path(cfg).read_text())
    d["inputs"]["xs"] = {"input_type": "lfp", "node_set": "bio", "module": "xstim",
                         "positions_file": str(tmp_path / "stim.csv"),
                         "waveform": {"shape": "dc", "del": 2.0, "amp": 0.1, "dur": 5.0}}
    Path(cfg).write_text(json.dumps(d))
    simulate(cfg, progress=False)
    net = NetworkBuilder("cells")
    net.add_nodes(N=2, model_type="point_process", model_template="nrn:IntFire1")
    res = simulate({"target_simulator": "NEURON", "run": {"tstop": 5.0, "dt": 0.1},
                    "output": {"output_dir": str(tmp_path / "intfire")}}, network=net, progress=False)
    assert res.n_cells["cells"] == 2
