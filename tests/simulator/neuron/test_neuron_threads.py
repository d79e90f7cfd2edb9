"""NEURON threads (``simulate(threads=N)``, ``run.n_thread``): the same spikes and reports as one thread.

NEURON 9.0's fixed-interval recording (``Vector.record(ref, dt)``) gives wrong values for cells outside
the first thread, so under threads every step is recorded and every k-th sample kept; the reports are
compared sample by sample, one of them recorded every 4 steps.  Runs that need one thread (ECP, xstim,
artificial cells, mechanisms that are not thread safe) stop when threads were asked for, and run one
thread when threads were modelkit's own default.  Simulations that use threads run in a child process:
NEURON refuses threads for the rest of a process that ran xstim, which another test of the same worker may
have done.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from _h5_outputs import h5_datasets

from modelkit.datasets import bio_network
from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.testing import intfire_network

CHILD = """
import sys
import modelkit.simulator.run as run
from modelkit.simulator import simulate
cfg, out, threads = sys.argv[1], sys.argv[2], sys.argv[3]
if threads == "default":  # modelkit's own choice (many cells) of 2 threads, not asked for
    run._default_threads = lambda n: 2
    simulate(cfg, output_dir=out, progress=False)
else:
    simulate(cfg, threads=int(threads), output_dir=out, progress=False)
"""


def _run(cfg: Path, out: Path, threads: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(out), threads], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def bio_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("threads")
    cfg = Path(bio_network(d / "bio", n_exc=12, n_inh=4, n_input=20, tstop=150.0))
    c = json.loads(cfg.read_text())
    c["inputs"]["step"] = {"input_type": "current_clamp", "module": "IClamp", "node_set": "bio", "amp": 0.15,
                           "delay": 20.0, "duration": 100.0}
    ids = {"population": "bio", "node_id": [0, 7, 13, 15]}  # cells of both threads
    c["reports"] = {"v": {"cells": ids, "variable_name": "v", "module": "membrane_report"},
                    "v_coarse": {"cells": ids, "variable_name": "v", "module": "membrane_report", "dt": 0.1},
                    "all_v": {"cells": ids, "variable_name": "v", "module": "membrane_report", "sections": "all"},
                    "syn": {"cells": ids, "variable_name": "i", "module": "netcon_report"},
                    "clamps": {"module": "clamp_report", "variable_name": "ic"}}
    cfg.write_text(json.dumps(c))
    return cfg


def test_two_threads_give_the_results_of_one(bio_config: Path, tmp_path: Path) -> None:
    for n in ("1", "2"):
        r = _run(bio_config, tmp_path / n, n)
        assert r.returncode == 0, r.stderr[-3000:]
    a, b = h5_datasets(tmp_path / "1"), h5_datasets(tmp_path / "2")
    assert set(a) == set(b) and len(a) > 20
    assert len(a["spikes.h5:spikes/bio/timestamps"]) > 20
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    with h5py.File(tmp_path / "2" / "v_coarse.h5") as f, h5py.File(tmp_path / "2" / "v.h5") as g:
        coarse, fine = f["report/bio/data"][()], g["report/bio/data"][()]
        assert coarse.shape == (1500, 4) and fine.shape == (6000, 4)  # dt 0.1 and the run's 0.025 ms
        np.testing.assert_array_equal(coarse, fine[0::4])  # bmtk's samples: one step after 0, 0.1, 0.2, ... ms
    assert "NEURON runs 1 thread" not in (tmp_path / "2" / "log.txt").read_text()


def test_extracellular_fields_and_artificial_cells_run_in_one_thread(bio_config: Path, tmp_path: Path) -> None:
    intfire = tmp_path / "intfire.json"
    intfire.write_text(json.dumps(intfire_network(tmp_path / "intfire", tstop=20.0)))
    c = json.loads(bio_config.read_text())
    (tmp_path / "electrodes.csv").write_text("channel x_pos y_pos z_pos\n0 30 0 0\n1 -30 150 0\n")
    c["reports"] = {"ecp": {"module": "extracellular", "cells": "bio",
                            "electrode_positions": str(tmp_path / "electrodes.csv")}}
    ecp = bio_config.with_name("config.ecp.json")
    ecp.write_text(json.dumps(c))
    with pytest.raises(ConfigError, match=r"one thread with extracellular fields.*2 threads and reports\.ecp"):
        simulate(str(ecp), threads=2, output_dir=tmp_path / "asked", progress=False)
    with pytest.raises(ConfigError, match=r"2 threads and the artificial cells of population cortex"):
        simulate(str(intfire), threads=2, output_dir=tmp_path / "intfire_out", progress=False)
    r = _run(ecp, tmp_path / "default", "default")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "NEURON runs 1 thread, not 2: reports.ecp (module extracellular) needs one" in \
        (tmp_path / "default" / "log.txt").read_text()


def test_threads_with_a_mechanism_neuron_cannot_thread(corpus: Path, mechanisms_dir: Path, tmp_path: Path) -> None:
    """bmtk's NaV.mod (in the Allen PV fits) assigns GLOBALs: asked for, 2 threads stop with NEURON's reason;
    modelkit's own default goes on in one thread, with the results of one thread."""
    from modelkit.builder import NetworkBuilder
    comps = corpus / "bmtk" / "examples" / "bio_components"
    net = NetworkBuilder("pv")
    net.add_nodes(N=2, model_type="biophysical", model_template="ctdb:Biophys1.hoc",
                  model_processing="aibs_perisomatic", morphology="Pvalb_470522102_m.swc",
                  dynamics_params="472912177_fit.json")
    net.build()
    net.save(tmp_path / "network")
    cfg = {"target_simulator": "NEURON", "run": {"tstop": 30.0, "dt": 0.1},
           "components": {"morphologies_dir": str(comps / "morphologies"), "mechanisms_dir": str(mechanisms_dir),
                          "biophysical_neuron_models_dir": str(comps / "biophysical_neuron_templates" / "ctdb")},
           "networks": {"nodes": [{"nodes_file": str(tmp_path / "network" / "pv_nodes.h5"),
                                   "node_types_file": str(tmp_path / "network" / "pv_node_types.csv")}]},
           "inputs": {"step": {"input_type": "current_clamp", "module": "IClamp", "node_set": "pv", "amp": 0.3,
                               "delay": 5.0, "duration": 20.0}},
           "reports": {"v": {"cells": "pv", "variable_name": "v", "module": "membrane_report"}},
           "output": {"output_dir": str(tmp_path / "out"), "log_file": "log.txt"}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    r = _run(path, tmp_path / "asked", "2")
    assert r.returncode != 0 and "NaV is not thread safe (2 threads asked)" in r.stderr, r.stderr[-2000:]
    assert "run.n_thread" in r.stderr and str(path) in r.stderr
    for name in ("default", "1"):
        r = _run(path, tmp_path / name, name)
        assert r.returncode == 0, r.stderr[-3000:]
    a, b = h5_datasets(tmp_path / "default"), h5_datasets(tmp_path / "1")
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert "NEURON runs 1 thread, not 2: NaV is not thread safe" in (tmp_path / "default" / "log.txt").read_text()
    shutil.rmtree(tmp_path / "network")
