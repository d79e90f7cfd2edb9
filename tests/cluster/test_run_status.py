"""Cluster runs in the Run monitor's folder: one record per LiveRun (the engine's simulate is not counted twice)."""

from __future__ import annotations

import time

import pytest

from modelkit.cluster import run_on_cluster, start_cluster, stop_cluster
from modelkit.datasets import balanced_network
from modelkit.runstatus import ENV, list_runs


@pytest.fixture(scope="module")
def runs_cluster(tmp_path_factory):
    """A cluster started while MODELKIT_RUNS_DIR is set, as a kernel under the server extension does."""
    folder = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV, str(folder))
        rc = start_cluster(1, profile_dir=tmp_path_factory.mktemp("ipp") / "profile")  # engines inherit ENV
        try:
            yield rc, str(folder)
        finally:
            stop_cluster(rc)


def test_live_runs_are_recorded_once_with_progress_and_final_state(runs_cluster, tmp_path):
    rc, folder = runs_cluster
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, tstop=200.0)
    run = run_on_cluster(cfg, cluster=rc, output_dir=tmp_path / "out")
    assert run.wait(300) == "done", run.error
    (rec,) = list_runs(folder)
    assert rec["run_id"] == run.run_id and rec["kind"] == "cluster" and rec["status"] == "done"
    assert rec["engines"] == run.engine_ids and rec["config"] == cfg
    assert rec["t"] == rec["tstop"] == 200.0 and rec["fraction"] == 1.0
    assert rec["n_spikes"] == sum(run.result.n_spikes.values()) > 0

    long_cfg = balanced_network(tmp_path / "long", n_exc=80, n_inh=20, tstop=1_000_000.0)
    run = run_on_cluster(long_cfg, cluster=rc, output_dir=tmp_path / "out2")
    deadline = time.monotonic() + 120
    seen = None
    while time.monotonic() < deadline:
        seen = next(r for r in list_runs(folder) if r["run_id"] == run.run_id)
        if seen["status"] == "running" and seen["t"] > 0:
            break
        time.sleep(0.1)
    assert seen is not None and seen["status"] == "running" and 0 < seen["fraction"] < 1
    assert run.stop(timeout=120) == "stopped"
    final = [r for r in list_runs(folder) if r["run_id"] == run.run_id]
    assert [r["status"] for r in final] == ["stopped"] and "stop" in final[0]["error"].lower()
    assert len(list_runs(folder)) == 2
