"""Live runs on engines of a real Slurm job (the ``slurm`` fixture): a NEURON network on 2 MPI ranks and a NEST
network with threads stream exactly their spikes files to the notebook, a sweep spreads over the job's engines, and
a job cancelled mid-run (``scancel``)
is reported like an engine death with the spikes received kept.  NEST from PyPI is not built with MPI: it runs
with threads in an engine of a job of its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from modelkit.cluster import EngineDiedError, run_on_cluster, start_cluster, stop_cluster, sweep
from modelkit.datasets import balanced_network
from modelkit.testing import intfire_network

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def slurm_mpi(slurm, tmp_path_factory):
    """Two MPI engines (2 CPUs each) as one Slurm job, the controller here."""
    rc = start_cluster(2, engines="slurm", mpi=True, cpus_per_engine=2,
                       profile_dir=tmp_path_factory.mktemp("ipp_slurm") / "profile", timeout=90)
    yield rc
    stop_cluster(rc)


def test_neuron_on_two_slurm_mpi_engines_streams_exactly_the_spikes_file(slurm_mpi, tmp_path, stream_equals_file):
    pytest.importorskip("neuron", reason="NEURON is not installed")
    cfg = intfire_network(tmp_path, n_exc=45, n_inh=15, n_input=20, indegree=(6, 3, 5), seed=5, tstop=400.0)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg))
    run = run_on_cluster(config, cluster=slurm_mpi, engines="all", output_dir=tmp_path / "out")
    assert run.wait(300) == "done", run.error
    assert len(run.engine_ids) == 2
    stream_equals_file(run, run.result)  # no spike lost, none twice
    assert "distribution over 2 ranks" in (tmp_path / "out" / "log.txt").read_text()


def test_nest_on_slurm_engines_streams_sweeps_then_scancel_is_an_engine_death(slurm, tmp_path, stream_equals_file):
    """NEST (no MPI build) runs threads in an engine of a job of its own, not in a rank of the MPI one."""
    pytest.importorskip("nest", reason="NEST is not installed")
    rc = start_cluster(2, engines="slurm", cpus_per_engine=2, profile_dir=tmp_path / "profile", timeout=60)
    try:
        (launcher,) = rc.cluster.engines.values()
        small = balanced_network(tmp_path / "small", n_exc=160, n_inh=40, tstop=300.0)
        run = run_on_cluster(small, cluster=rc, threads=2, output_dir=tmp_path / "small_out")
        assert run.wait(300) == "done", run.error
        assert run.result.backend == "nest"
        stream_equals_file(run, run.result)

        # a sweep over the job's engines: one row per variant, each in its own folder
        tstops = [75.0, 150.0, 225.0, 300.0]
        table = sweep(small, {"run.tstop": tstops}, cluster=rc, output_dir=tmp_path / "sweep", timeout=300)
        assert list(table["run.tstop"]) == tstops and set(table["status"]) == {"done"}, table.get("error")
        assert table["n_spikes"].is_monotonic_increasing and table["n_spikes"].iloc[-1] == len(run.spikes) > 0
        assert all((Path(d) / "spikes.h5").exists() for d in table["output_dir"])

        # the job cancelled mid-run (by the queue's admin, or its wall-time limit): an engine death
        cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)
        run = run_on_cluster(cfg, cluster=rc, output_dir=tmp_path / "out")
        deadline = time.monotonic() + 120
        while run.progress.n_spikes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.progress.n_spikes > 0, run.error
        slurm.run(["scancel", launcher.job_id])
        assert run.wait(60) == "failed"
        assert isinstance(run.error, EngineDiedError) and "died" in str(run.error), run.error
        kept = len(run.spikes)
        assert kept > 0 and kept == run.progress.n_spikes
        assert run.stream.lost == 0 and run.stream.duplicates == 0
        assert launcher.job_id not in slurm.jobs()
    finally:
        stop_cluster(rc)  # the job is gone already: harmless
    assert Path(launcher.run_dir, f"slurm-{launcher.job_id}.out").exists()
