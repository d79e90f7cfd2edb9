"""Engines as a job of a real single-node Slurm cluster (the ``slurm`` fixture): plain and MPI engines, the run
folder, and the job cancelled however the notebook ends -- stop, normal exit, SIGKILL -- or fails to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _cluster_helpers import assert_two_mpi_ranks, gone, wait_until

from modelkit.cluster import ClusterError, start_cluster, stop_cluster, write_slurm_profile

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]


def _job_of(rc) -> str:
    (launcher,) = rc.cluster.engines.values()
    return launcher.job_id


def _active(slurm) -> list[str]:
    """Jobs pending, running or completing (squeue's default states)."""
    return slurm.jobs()


def test_slurm_engines_run_code_and_write_nothing_in_the_working_folder(slurm, tmp_path, empty_cwd):
    rc = start_cluster(2, engines="slurm", profile_dir=tmp_path / "profile", timeout=60)
    job = _job_of(rc)
    run_dir = Path(rc.cluster.engines[next(iter(rc.cluster.engines))].run_dir)
    controller = rc.cluster.controller.pid
    try:
        rc[:].execute("import os; seen = (os.environ.get('SLURM_JOB_ID'), os.environ.get('SLURM_PROCID'))",
                      block=True)
        assert sorted(rc[:].pull("seen", block=True)) == [(job, "0"), (job, "1")]  # tasks of the one job
        assert rc[:].apply_sync(abs, -42) == [42, 42]
        assert slurm.job_state(job) == "RUNNING"
    finally:
        stop_cluster(rc)
    assert job not in _active(slurm)  # stop cancels the job and waits until it has left the queue
    assert wait_until(lambda: gone(controller), 10)
    assert list(empty_cwd.iterdir()) == []  # no slurm-N.out, no .sbatch in the user's folder
    assert run_dir == tmp_path / "profile" / "modelkit-slurm" / rc.cluster.cluster_id
    assert {"engines.sbatch", f"slurm-{job}.out"} <= {p.name for p in run_dir.iterdir()}
    script = (run_dir / "engines.sbatch").read_text()
    assert "#SBATCH --ntasks=2" in script and "srun --mpi=none" in script
    stop_cluster(rc)  # twice is harmless


def test_mpi_engines_via_slurm_are_the_ranks_of_one_world(slurm, tmp_path, empty_cwd):
    rc = start_cluster(2, engines="slurm", mpi=True, profile_dir=tmp_path / "profile", run_dir=tmp_path / "run",
                       time="00:10:00", extra_sbatch=["--comment=modelkit-test"], timeout=60)
    job = _job_of(rc)
    try:
        assert_two_mpi_ranks(rc)
    finally:
        stop_cluster(rc)
    assert job not in _active(slurm)
    script = (tmp_path / "run" / "engines.sbatch").read_text()
    for line in ("#SBATCH --time=00:10:00", "#SBATCH --comment=modelkit-test", "srun --mpi=pmi2"):
        assert line in script, script
    assert list(empty_cwd.iterdir()) == []


def test_profile_from_write_slurm_profile_starts_mpi_engines_on_slurm(slurm, tmp_path, empty_cwd):
    """The profile a user on a cluster writes once (and ipcluster can use): the same engines, cleaned up alike."""
    profile = tmp_path / "profile_slurm"
    write_slurm_profile(profile, n=2, time="00:05:00", controller_ip="127.0.0.1", location="127.0.0.1", mpi=True)
    rc = start_cluster(2, profile_dir=profile, ip=None, timeout=60)
    job = _job_of(rc)
    controller = rc.cluster.controller.pid
    try:
        assert_two_mpi_ranks(rc)
    finally:
        stop_cluster(rc)
    assert job not in _active(slurm) and wait_until(lambda: gone(controller), 10)
    assert list(empty_cwd.iterdir()) == []
    run_dir = profile / "modelkit-slurm" / rc.cluster.cluster_id
    assert "#SBATCH --time=00:05:00" in (run_dir / "engines.sbatch").read_text()


_NOTEBOOK = textwrap.dedent("""\
    import sys, time
    from modelkit.cluster import start_cluster
    rc = start_cluster(1, engines="slurm", profile_dir=sys.argv[1], timeout=60)
    (launcher,) = rc.cluster.engines.values()
    print(launcher.job_id, rc.cluster.controller.pid, launcher._reaper.pid, flush=True)
    if sys.argv[2] == "sleep":
        time.sleep(600)
    """)


def _notebook(tmp_path: Path, how: str) -> tuple[subprocess.Popen, str, int, int]:
    """A stand-in for a notebook kernel: a process that starts Slurm engines, then sleeps or exits."""
    script = tmp_path / "kernel.py"
    script.write_text(_NOTEBOOK)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "profile"), how], stdout=subprocess.PIPE,
                         text=True, env=env, cwd=tmp_path)
    line = p.stdout.readline().split()  # type: ignore[union-attr]
    assert len(line) == 3, f"the kernel did not start its engines: {line}"
    return p, line[0], int(line[1]), int(line[2])


def test_killed_kernel_leaves_no_job_nor_controller(slurm, tmp_path):
    """SIGKILL runs no exit hook: the watchdog cancels the job and stops the controller."""
    p, job, controller, reaper = _notebook(tmp_path, "sleep")
    assert job in _active(slurm)
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stdout.close()  # type: ignore[union-attr]
    assert wait_until(lambda: job not in _active(slurm), 20), slurm.run(["squeue"]).stdout
    assert wait_until(lambda: gone(controller) and gone(reaper), 20)
    log = next((tmp_path / "profile" / "modelkit-slurm").glob("*/reaper.log")).read_text()
    assert f"scancel {job}: exit 0" in log


def test_exiting_kernel_cancels_its_job(slurm, tmp_path):
    """A kernel that exits (shutdown, restart) without stop_cluster: the exit hook cancels the job."""
    p, job, controller, reaper = _notebook(tmp_path, "exit")
    assert p.wait(60) == 0
    p.stdout.close()  # type: ignore[union-attr]
    assert wait_until(lambda: job not in _active(slurm), 20), slurm.run(["squeue"]).stdout
    assert wait_until(lambda: gone(controller) and gone(reaper), 20)
    log = next((tmp_path / "profile" / "modelkit-slurm").glob("*/reaper.log"))
    assert "parent" not in log.read_text()  # cancelled by the exit hook; the watchdog was disarmed


def test_job_pending_past_the_timeout_is_cancelled_with_squeues_reason(slurm, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match=r"still pending after 2 s \(squeue's reason: PartitionDown\)"):
        start_cluster(1, engines="slurm", partition="held", profile_dir=tmp_path / "profile", pending_timeout=2,
                      timeout=60)
    assert time.monotonic() - t0 < 30
    assert _active(slurm) == []  # cancelled


def test_missing_partition_names_sbatchs_message(slurm, tmp_path, empty_cwd):
    with pytest.raises(ClusterError, match="sbatch failed .*invalid partition specified: nosuch"):
        start_cluster(1, engines="slurm", partition="nosuch", profile_dir=tmp_path / "profile", timeout=30)
    assert _active(slurm) == [] and list(empty_cwd.iterdir()) == []


def test_job_that_fails_before_its_engines_register_shows_its_output(slurm, tmp_path):
    """A job script that fails (a module that does not load, a venv that is not there): the error says so at once,
    with the job's own output, instead of waiting out the timeout."""
    t0 = time.monotonic()
    failed = r"ended \(FAILED\) before its 1 engine\(s\) registered(.|\n)*no-such-module"
    with pytest.raises(ClusterError, match=failed):
        start_cluster(1, engines="slurm", setup="echo 'module: no-such-module not found' >&2; exit 3",
                      profile_dir=tmp_path / "profile", timeout=60)
    assert time.monotonic() - t0 < 30
    assert _active(slurm) == []


def test_missing_sbatch_is_a_cluster_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm client commands on PATH
    with pytest.raises(ClusterError, match="sbatch not found on PATH"):
        start_cluster(1, engines="slurm", profile_dir=tmp_path / "profile")


@pytest.mark.parametrize("kw", [dict(partition="debug"), dict(extra_sbatch=["--mem=1G"]), dict(pending_timeout=5)])
def test_slurm_options_are_refused_for_local_engines(kw):
    with pytest.raises(ClusterError, match="apply to engines='slurm' only"):
        start_cluster(1, **kw)
