"""A live run that stops or whose simulation process dies keeps its files: ``<output>.stopped`` on a stop,
``<output>.failed`` made by the notebook as soon as it sees the process die (run_local and a local engine),
each with a valid spikes file that ``SpikeTable.load`` reads and the stop time recorded."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from modelkit.analysis import SpikeTable
from modelkit.cluster import EngineDiedError, RunStoppedError, run_local, run_on_cluster
from modelkit.datasets import balanced_network
from modelkit.sonata import CompartmentReport, spikes_stop_time


def _wait_for(cond, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cond()


def _assert_kept(folder, run) -> float:
    """``folder`` holds the run's log, spikes up to a recorded stop time and a valid membrane report."""
    assert {"log.txt", "spikes.h5", "membrane_potential.h5"} <= set(os.listdir(folder))
    assert not [n for n in os.listdir(folder) if n.startswith(".")]  # no journal, no temporary file
    stop = spikes_stop_time(os.path.join(folder, "spikes.h5"))
    table = SpikeTable.load(os.path.join(folder, "spikes.h5"))
    assert stop is not None and table.t_stop == stop and len(table) > 0
    assert float(table.frame["timestamps"].max()) <= stop
    # what the notebook received up to the stop is in the file (the file may hold a block not yet delivered)
    got = run.spikes.select(t_stop=stop)
    assert 0 < len(got) <= len(table)
    rep = CompartmentReport(os.path.join(folder, "membrane_potential.h5"))["cortex"]
    assert rep.n_frames > 0 and rep.times[-1] <= stop and np.all(np.isfinite(rep.data()))
    return stop


def test_run_local_killed_leaves_a_failed_folder_at_once(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)
    out = tmp_path / "out"
    run = run_local(cfg, output_dir=out)
    _wait_for(lambda: run.progress.t >= 3000.0)
    os.kill(run._ar.proc.pid, signal.SIGKILL)
    assert run.wait(60) == "failed"
    assert isinstance(run.error, EngineDiedError) and "SIGKILL" in str(run.error)
    failed = tmp_path / "out.failed"
    assert str(failed) in str(run.error)  # the user is told where the files are
    assert not out.exists() and not [n for n in os.listdir(tmp_path) if ".partial-" in n]
    _assert_kept(failed, run)
    assert "the run's process died" in (failed / "log.txt").read_text()


def test_run_local_stopped_leaves_a_stopped_folder(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)
    run = run_local(cfg, output_dir=tmp_path / "out")
    _wait_for(lambda: run.progress.t >= 2000.0)
    assert run.stop(timeout=60) == "stopped"
    assert isinstance(run.error, RunStoppedError)
    stopped = tmp_path / "out.stopped"
    assert str(stopped) in str(run.error)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.failed").exists()
    stop = _assert_kept(stopped, run)
    assert stop <= run.progress.t + 1e-9


def test_engine_killed_leaves_a_failed_folder_at_once(cluster, tmp_path):
    pid = cluster[:].apply_sync(os.getpid)[0]
    cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)
    run = run_on_cluster(cfg, cluster=cluster, output_dir=tmp_path / "out")
    _wait_for(lambda: run.progress.t >= 3000.0)
    os.kill(pid, signal.SIGKILL)
    assert run.wait(60) == "failed"
    assert isinstance(run.error, EngineDiedError) and str(tmp_path / "out.failed") in str(run.error)
    _assert_kept(tmp_path / "out.failed", run)
