"""kill -9 of the engine during a run: the notebook survives, the error is clear, spikes stay, a new cluster runs."""

from __future__ import annotations

import os
import signal
import time

from modelkit.cluster import EngineDiedError, run_on_cluster, start_cluster, stop_cluster
from modelkit.datasets import balanced_network


def test_engine_killed_mid_run(cluster, tmp_path, tmp_path_factory, stream_equals_file):
    pid = cluster[:].apply_sync(os.getpid)[0]
    cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)
    run = run_on_cluster(cfg, cluster=cluster, output_dir=tmp_path / "out")
    deadline = time.monotonic() + 120
    while run.progress.n_spikes == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    assert run.wait(60) == "failed"
    assert isinstance(run.error, EngineDiedError) and "died" in str(run.error)
    kept = len(run.spikes)
    assert kept > 0 and kept == run.progress.n_spikes
    assert run.stream.lost == 0 and run.stream.duplicates == 0

    # a new cluster runs, and streams losslessly again
    rc = start_cluster(1, profile_dir=tmp_path_factory.mktemp("ipp2") / "profile")
    try:
        small = balanced_network(tmp_path / "small", n_exc=80, n_inh=20, tstop=200.0)
        again = run_on_cluster(small, cluster=rc, output_dir=tmp_path / "again")
        assert again.wait(120) == "done", again.error
        stream_equals_file(again, again.result)
    finally:
        stop_cluster(rc)
