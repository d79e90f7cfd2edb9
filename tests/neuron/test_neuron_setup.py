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
