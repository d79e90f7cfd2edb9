"""The test-session Slurm (:class:`modelkit.testing.slurm.LocalSlurm`): side by side with the session's own, its
jobs and daemons stopped by pid, and stopped by its watchdog when the process that started it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _cluster_helpers import gone, wait_until

from modelkit.testing.slurm import LocalSlurm

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]


def test_stop_cancels_the_jobs_and_stops_every_daemon(slurm, tmp_path):
    """A second cluster next to the session's (own ports, own munge): stop leaves no job step nor daemon."""
    other = LocalSlurm(tmp_path / "s").start()
    try:
        assert other.conf != slurm.conf and slurm.node_state() == "idle"
        pidfile = tmp_path / "s" / "jobs" / "pid"
        r = other.run(["sbatch", "--output=/dev/null", f"--wrap=echo $$ > {pidfile}; exec sleep 300"])
        job = r.stdout.split()[-1]
        assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20), other.run(["squeue"]).stdout
        step = int(pidfile.read_text())
        assert other.job_state(job) == "RUNNING" and job not in slurm.jobs()  # its queue, not the session's
        daemons = dict(other.pids)
    finally:
        other.stop()
    assert wait_until(lambda: gone(step), 10)
    assert all(gone(p) for p in daemons.values()), daemons
    assert other.pids == {} and slurm.node_state() == "idle"  # the session's cluster is untouched
    other.stop()  # twice is harmless


def test_killed_test_run_leaves_no_daemon(tmp_path):
    """SIGKILL of the process that started the daemons: the watchdog stops them."""
    script = textwrap.dedent(f"""\
        import time
        from modelkit.testing.slurm import LocalSlurm
        s = LocalSlurm({str(tmp_path / 's')!r}).start()
        print(*s.pids.values(), flush=True)
        time.sleep(600)
        """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    pids = [int(x) for x in p.stdout.readline().split()]  # type: ignore[union-attr]
    assert len(pids) == 3
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stdout.close()  # type: ignore[union-attr]
    assert wait_until(lambda: all(gone(x) for x in pids), 20), pids
    assert "SIGTERM" in (tmp_path / "s" / "log" / "reaper.log").read_text()
