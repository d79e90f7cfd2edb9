"""A NEURON network on 2 real MPI engines of an ipyparallel cluster: rank 0 streams every spike once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from modelkit.cluster import RunStoppedError, run_on_cluster, start_cluster, stop_cluster
from modelkit.testing import intfire_network

pytest.importorskip("neuron", reason="NEURON is not installed")


def _intfire_network(d: Path, n: int = 60, tstop: float = 400.0) -> Path:
    """``n`` IntFire1 cells (3/4 exc), recurrent, driven by 20 virtual Poisson inputs."""
    cfg = intfire_network(d, n_exc=n * 3 // 4, n_inh=n - n * 3 // 4, n_input=20, indegree=(6, 3, 5), seed=5,
                          tstop=tstop)
    path = d / "config.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.fixture(scope="module")
def mpi_cluster(tmp_path_factory):
    """Two engines launched by mpiexec as one MPI job."""
    rc = start_cluster(2, engines="mpi", profile_dir=tmp_path_factory.mktemp("ipp_mpi") / "profile")
    yield rc
    stop_cluster(rc)


@pytest.mark.parametrize("n, tstop", [(60, 400.0), (10_000, 200.0)])
def test_neuron_on_two_mpi_engines_streams_exactly_the_spikes_file(mpi_cluster, tmp_path, stream_equals_file, n,
                                                                     tstop):
    config = _intfire_network(tmp_path, n, tstop)
    run = run_on_cluster(config, cluster=mpi_cluster, engines="all", output_dir=tmp_path / "out")
    assert run.wait(600) == "done", run.error
    assert len(run.engine_ids) == 2
    stream_equals_file(run, run.result)  # no spike lost, none twice
    assert run.result.backend == "neuron" and run.result.n_cells == {"cortex": n}  # target_simulator NEURON
    log = (tmp_path / "out" / "log.txt").read_text()
    assert "distribution over 2 ranks" in log  # both engines simulated a share of the cells
    assert run.progress.t == tstop


def test_stop_ends_the_run_on_every_mpi_engine(mpi_cluster, tmp_path):
    """Rank 0 sees the stop request; rank 1 must leave the run too (not wait in the spike exchange)."""
    config = _intfire_network(tmp_path)
    d = json.loads(config.read_text())
    d["run"].update(tstop=1e6, nsteps_block=200)  # 10 ms blocks, far more than the test waits for
    config.write_text(json.dumps(d))
    run = run_on_cluster(config, cluster=mpi_cluster, engines="all", backend="neuron", output_dir=tmp_path / "out")
    deadline = time.monotonic() + 120
    while run.progress.t < 50.0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.progress.t >= 50.0, run.error
    assert run.stop(timeout=60) == "stopped"
    assert isinstance(run.error, RunStoppedError)
    assert not (tmp_path / "out").exists() and (tmp_path / "out.stopped" / "log.txt").exists()
    assert (tmp_path / "out.stopped" / "spikes.h5").exists()  # rank 0 gathered every rank's spikes
    assert mpi_cluster[:].apply_sync(abs, -1) == [1, 1]  # both engines are free again


def test_a_slow_listener_gets_every_spike_from_mpi_engines(mpi_cluster, tmp_path, stream_equals_file):
    """Rank 0 streams to a listener slower than the engines: the run ends "done" after the whole drain."""
    config = _intfire_network(tmp_path)
    d = json.loads(config.read_text())
    d["run"].update(tstop=400.0, nsteps_block=200)  # 20 blocks
    config.write_text(json.dumps(d))
    delivered = []

    def slow(pop, ids, ts):
        time.sleep(0.3)
        delivered.append(len(ids))

    run = run_on_cluster(config, cluster=mpi_cluster, engines="all", backend="neuron", output_dir=tmp_path / "out")
    run.stream.add_listener(slow, replay=True)
    assert run.wait(300) == "done", run.error
    assert len(delivered) >= 18  # a drain well beyond any fixed grace
    stream_equals_file(run, run.result)
    assert sum(delivered) == len(run.spikes) and run.stream.lost == 0 and run.stream.lost_spikes == 0


def test_coreneuron_on_two_mpi_engines(mpi_cluster, tmp_path, stream_equals_file):
    """``run.coreneuron: true`` on 2 MPI engines: CoreNEURON integrates on both ranks, rank 0 streams every spike
    and report frame block by block, and the results are those of NEURON on the same engines (which run NEURON
    again afterwards: the engines keep no CoreNEURON setting)."""
    import numpy as np

    from modelkit.datasets import bio_network
    from modelkit.sonata import CompartmentReport, read_spikes

    cfg = Path(bio_network(tmp_path / "bio", n_exc=12, n_inh=4, n_input=20, tstop=150.0))
    d = json.loads(cfg.read_text())
    d["run"].update(block_size=25.0, coreneuron=True)
    core_cfg = cfg.with_name("config.core.json")
    core_cfg.write_text(json.dumps(d))
    blocks = []
    run = run_on_cluster(core_cfg, cluster=mpi_cluster, engines="all", output_dir=tmp_path / "core")
    run.stream.add_frames_listener(lambda *a: blocks.append(len(a[4])), replay=True)
    assert run.wait(300) == "done", run.error
    stream_equals_file(run, run.result)
    log = (tmp_path / "core" / "log.txt").read_text()
    assert "CoreNEURON integrates" in log and "distribution over 2 ranks" in log
    (key, (ids, times, values)), = run.traces.items()
    rep = CompartmentReport(run.result.reports["membrane_potential"])["bio"]
    np.testing.assert_array_equal(ids, rep.node_ids)
    np.testing.assert_allclose(values, rep.data(), rtol=1e-6)  # the file holds float32
    assert len(blocks) >= 2 and sum(blocks) == 6000  # block by block, every frame

    ref = run_on_cluster(cfg, cluster=mpi_cluster, engines="all", output_dir=tmp_path / "neuron")
    assert ref.wait(300) == "done", ref.error
    assert "CoreNEURON" not in (tmp_path / "neuron" / "log.txt").read_text()
    a, b = read_spikes(ref.result.spikes_file)["bio"], read_spikes(run.result.spikes_file)["bio"]
    assert len(a.node_ids) > 50
    np.testing.assert_array_equal(a.node_ids, b.node_ids)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    ra = CompartmentReport(ref.result.reports["membrane_potential"])["bio"]
    np.testing.assert_allclose(rep.data(), ra.data(), rtol=0, atol=1e-6)
