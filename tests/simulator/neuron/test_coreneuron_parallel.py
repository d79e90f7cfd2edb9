"""CoreNEURON in memory beyond one process and one thread (issue 18, items 1, 3 and 4): NEURON threads, MPI ranks
(``mpiexec -n N modelkit run``), the live stream's blocks, and every report kind the NEURON backend writes, each
compared with a one-process NEURON run of the same model and seed: spikes identical, traces within 1e-6.

Runs that reach CoreNEURON go in child processes (an abort would take the pytest worker with it); the NEURON
reference does too, so that no test depends on what an earlier one loaded in this process.
``notes/coreneuron-mpi.md`` says what was measured.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _h5_outputs import h5_datasets

from modelkit.datasets import bio_network

BIN = os.path.dirname(sys.executable)
MPIEXEC = os.path.join(BIN, "mpiexec")
TSTOP, BLOCK = 150.0, 25.0

CHILD = """
import pickle, sys
import numpy as np
from modelkit.simulator import simulate
cfg, out, core, threads = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])

class Sink:  # what the live layer receives, in order (a notebook's views are fed from these calls)
    def __init__(self):
        self.log = []
    def spikes(self, population, node_ids, times):
        self.log.append(("spikes", population, np.array(node_ids), np.array(times)))
    def frames(self, report, population, variable, node_ids, times, values):
        self.log.append(("frames", report, population, variable, np.array(node_ids), np.array(times),
                         np.array(values)))
    def progress(self, t, tstop):
        self.log.append(("progress", t))

sink = Sink()
simulate(cfg, output_dir=out, progress=False, coreneuron=core, threads=threads, sinks=[sink])
with open(out + ".stream.pkl", "wb") as f:
    pickle.dump(sink.log, f)
"""


def _run(cfg: Path, out: Path, core: bool, threads: int = 1) -> list:
    """simulate() in a child process; returns what its sink received."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(out), "1" if core else "0", str(threads)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(f"{out}.stream.pkl", "rb") as f:
        return pickle.load(f)


def assert_same_results(ref: Path, got: Path) -> dict[str, np.ndarray]:
    """Spikes and report mappings identical, report data (mV, nA, µS, ECP mV) within 1e-6."""
    a, b = h5_datasets(ref), h5_datasets(got)
    assert sorted(a) == sorted(b)
    assert len(a["spikes.h5:spikes/bio/timestamps"]) > 50
    for k in a:
        if k.endswith("/data"):
            assert a[k].shape == b[k].shape and a[k].size, k
            assert np.isfinite(b[k]).all(), k  # every rank's columns arrived
            np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-6, err_msg=k)
        else:
            assert np.array_equal(a[k], b[k]), k
    return a


@pytest.fixture(scope="module")
def rich_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 ball-and-stick cells (built-in hh, pas, Exp2Syn), SONATA and Poisson spike inputs, current clamps of
    20 pulses and from a CSV file, a voltage clamp; reports of soma v, v of every segment, synaptic current and
    conductance, and the three clamp currents; 150 ms in blocks of 25 ms."""
    d = tmp_path_factory.mktemp("core_parallel")
    cfg = Path(bio_network(d / "bio", n_exc=12, n_inh=4, n_input=20, tstop=TSTOP))
    (d / "steps.csv").write_text("timestamps,amps\n0,0\n30,0.15\n60,-0.05\n90,0\n")
    c = json.loads(cfg.read_text())
    c["run"]["block_size"] = BLOCK
    c["inputs"].update({
        "pulses": {"input_type": "current_clamp", "module": "IClamp", "node_set": {"node_ids": [2, 5]},
                   "amp": [0.2 if k % 2 else 0.05 for k in range(20)], "delay": [5.0 * k for k in range(20)],
                   "duration": [5.0] * 20},
        "steps": {"input_type": "csv", "module": "IClamp", "node_set": {"node_ids": [8, 9]},
                  "file": str(d / "steps.csv")},
        "vc": {"input_type": "current_clamp", "module": "SEClamp", "node_set": {"node_ids": [7]},
               "amps": [-70.0, -20.0, -60.0], "durations": [30.0, 50.0, 30.0]},
        "pg": {"input_type": "spikes", "module": "poisson", "node_set": "input", "rate": 15.0},
    })
    c["reports"].update({
        "all_v": {"cells": {"population": "bio", "node_id": [0, 3, 13]}, "variable_name": "v",
                  "module": "membrane_report", "sections": "all"},
        "syn_i": {"cells": {"population": "bio", "node_id": [1, 4]}, "variable_name": "i", "module": "netcon_report"},
        "syn_g": {"cells": {"population": "bio", "node_id": [1, 4]}, "variable_name": "g", "module": "netcon_report"},
        "ic": {"module": "clamp_report", "variable_name": "ic"},
        "f_ic": {"module": "clamp_report", "variable_name": "f_ic"},
        "se": {"module": "clamp_report", "variable_name": "se"},
    })
    cfg.write_text(json.dumps(c))
    return cfg


@pytest.fixture(scope="module")
def reference(rich_config: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The NEURON run (one process, one thread): its output folder and what its sink received."""
    out = tmp_path_factory.mktemp("ref") / "neuron"
    return out, _run(rich_config, out, core=False)


def _with(cfg: Path, name: str, **edit: dict) -> Path:
    c = json.loads(cfg.read_text())
    for block, entries in edit.items():
        c.setdefault(block, {}).update(entries)
    path = cfg.with_name(name)
    path.write_text(json.dumps(c))
    return path


def test_every_report_kind_equals_neurons(rich_config: Path, tmp_path: Path) -> None:
    """Soma and all-segment membrane reports, synaptic variables, IClamp/CSV/SEClamp currents and an ECP report:
    CoreNEURON's values are NEURON's (ECP is fed by ``i_membrane_``, which CoreNEURON hands back)."""
    (tmp_path / "electrodes.csv").write_text("channel x_pos y_pos z_pos\n0 30 0 0\n1 -30 150 0\n")
    cfg = _with(rich_config, "config.ecp.json", reports={
        "ecp": {"module": "extracellular", "cells": "bio", "electrode_positions": str(tmp_path / "electrodes.csv")}})
    _run(cfg, tmp_path / "neuron", core=False)
    _run(cfg, tmp_path / "core", core=True)
    assert "CoreNEURON integrates" in (tmp_path / "core" / "log.txt").read_text()
    got = assert_same_results(tmp_path / "neuron", tmp_path / "core")
    assert got["all_v.h5:report/bio/data"].shape[1] > 100  # segments of 3 cells
    assert got["syn_i.h5:report/bio/data"].shape[1] > 100  # synapses of 2 cells
    assert np.abs(got["f_ic.h5:report/bio/data"]).max() == pytest.approx(0.15)
    assert np.abs(got["se.h5:report/bio/data"]).max() > 1.0  # nA: the clamp works
    assert got["ecp.h5:ecp/data"].shape[0] == 2


def test_threads(rich_config: Path, reference: tuple[Path, list], tmp_path: Path) -> None:
    """NEURON's threads (``pc.nthread``) become CoreNEURON's (its cells are handed over per thread, and CoreNEURON
    runs its threads with OpenMP): the results of one NEURON thread."""
    _run(rich_config, tmp_path / "core2", core=True, threads=2)
    log = (tmp_path / "core2" / "log.txt").read_text()
    assert "2 threads" in log and "CoreNEURON integrates" in log and "NEURON runs 1 thread" not in log
    assert_same_results(reference[0], tmp_path / "core2")


@pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="mpiexec (pip install mpich) is not installed")
def test_mpi_ranks(rich_config: Path, reference: tuple[Path, list], tmp_path: Path) -> None:
    """``mpiexec -n N modelkit run`` with ``run.coreneuron: true`` on 1 and 4 ranks (4 oversubscribe a 2-core
    machine), and with ``--coreneuron`` on 2: the one-process NEURON run's spikes and reports, cells and
    synapses split over ranks."""
    core = _with(rich_config, "config.core.json", run={"coreneuron": True})
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS",
                                                            "PMIX_SIZE", "MPI_LIB_NRN_PATH")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    for n, cfg, flag in ((1, core, []), (2, rich_config, ["--coreneuron"]), (4, core, [])):
        out = tmp_path / f"n{n}"
        proc = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, "-m", "modelkit", "run", str(cfg), "--output",
                               str(out), "--quiet", "--backend", "neuron", *flag], capture_output=True, text=True,
                              timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        log = (out / "log.txt").read_text()
        assert "CoreNEURON integrates" in log
        assert n == 1 or f"distribution over {n} ranks" in log
        assert_same_results(reference[0], out)


def test_stream_gets_every_blocks_spikes_and_frames(rich_config: Path, reference: tuple[Path, list],
                                                   tmp_path: Path) -> None:
    """The live layer's sinks: each 25-ms block ends with its report frames, its spikes and the progress, as under
    NEURON; the same spikes block by block and, put together, the same frames."""
    got = _run(rich_config, tmp_path / "core", core=True)
    ref = reference[1]
    kinds = [e[0] for e in got]
    n_blocks = int(TSTOP / BLOCK)
    assert kinds == ["frames", "spikes", "progress"] * n_blocks == [e[0] for e in ref]
    assert [e[1] for e in got if e[0] == "progress"] == [BLOCK * (k + 1) for k in range(n_blocks)]
    for a, b in zip([e for e in ref if e[0] == "spikes"], [e for e in got if e[0] == "spikes"]):
        assert a[1] == b[1] == "bio" and len(b[2])
        np.testing.assert_array_equal(a[2], b[2])
        np.testing.assert_array_equal(a[3], b[3])
    frames = [e for e in got if e[0] == "frames"]
    assert {e[1:4] for e in frames} == {("membrane_potential", "bio", "v")}
    for k, e in enumerate(frames):  # whole blocks (every step recorded; NEURON: 999, then 1001 at fixed intervals)
        np.testing.assert_allclose(e[5], BLOCK * k + 0.025 * np.arange(1000), atol=1e-9)
    ref_frames = [e for e in ref if e[0] == "frames"]
    np.testing.assert_allclose(np.concatenate([e[5] for e in frames]), np.concatenate([e[5] for e in ref_frames]),
                               atol=1e-9)
    np.testing.assert_allclose(np.concatenate([e[6] for e in frames]), np.concatenate([e[6] for e in ref_frames]),
                               rtol=0, atol=1e-6)


TASKS = """
import os, sys
from modelkit.simulator import simulate
seen = set()

class Sink:  # the process's threads between blocks (libgomp keeps its team's threads for the next region)
    def spikes(self, population, node_ids, times):
        pass
    def progress(self, t, tstop):
        seen.add(len(os.listdir("/proc/self/task")))

simulate(sys.argv[1], output_dir=sys.argv[2], progress=False, coreneuron=sys.argv[3] == "1",
         threads=int(sys.argv[4]), sinks=[Sink()])
print("threads", max(seen))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_openmp_team_is_neurons_threads(rich_config: Path, tmp_path: Path) -> None:
    """CoreNEURON runs its threads in an OpenMP team whose size libgomp takes from ``OMP_NUM_THREADS`` (default:
    every core), not from ``pc.nthread``: on 2 MPI ranks of a 2-core machine the idle members spun and the run took
    twice as long (``notes/coreneuron-mpi.md``).  The team is NEURON's thread count: one thread, no OpenMP
    worker; two threads, one (NEURON's own worker thread is there in both runs)."""
    env = {**os.environ, "OMP_NUM_THREADS": "4"}
    count = {}
    for core in (False, True):
        for n in (1, 2):
            out = tmp_path / f"{int(core)}{n}"
            proc = subprocess.run([sys.executable, "-c", TASKS, str(rich_config), str(out), str(int(core)), str(n)],
                                  capture_output=True, text=True, timeout=600, env=env)
            assert proc.returncode == 0, proc.stderr[-3000:]
            count[core, n] = int(proc.stdout.split("threads")[-1])
    assert count[True, 1] == count[False, 1], count
    assert count[True, 2] == count[False, 2] + 1, count
