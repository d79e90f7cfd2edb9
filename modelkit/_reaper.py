"""A watchdog process that cleans up after its parent when the parent dies without doing it itself.

A notebook kernel killed with SIGKILL (or an OOM kill, or a crashed pytest run) runs no ``atexit`` hook
and no ``finally``: a Slurm job it submitted would then hold its nodes until its wall-time limit, and
daemons it started would run on.  :class:`Reaper` starts ``python -I modelkit/_reaper.py`` in a session
of its own (a signal to the parent's process group does not reach it) with a pipe from the parent on its
stdin.  When the pipe reports end-of-file (every copy of the parent's end is closed: it died) or the
reaper is re-parented, it ``scancel``\\ s the jobs and SIGTERMs (then SIGKILLs) the pids it was given.
A parent that cleaned up itself calls :meth:`Reaper.disarm` and the reaper exits doing nothing.

A leaf module run by its file path with ``-I``: it imports only the standard library, so the watchdog
costs a bare interpreter (about 10 MB), not modelkit's imports.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

__all__ = ["Reaper"]

#: seconds a client command (``scancel``) may take: Slurm's clients block while slurmctld is down
SCANCEL_TIMEOUT = 20.0


class Reaper:
    """Start a watchdog that cancels ``jobs`` and kills ``pids`` if this process dies first.

    Parameters
    ----------
    jobs : list of str
        Slurm job ids to ``scancel`` (run with this process's environment, so ``SLURM_CONF`` carries over).
    pids : list of int
        Processes to SIGTERM, then SIGKILL after ``grace`` seconds.
    log : str, optional
        File for the reaper's messages (default: discarded).
    grace : float
        Seconds between SIGTERM and SIGKILL.
    """

    def __init__(self, jobs: list[str] = (), pids: list[int] = (), *, log: str | None = None,  # type: ignore[assignment]
                 grace: float = 5.0) -> None:
        args = [sys.executable, "-I", os.path.abspath(__file__), str(os.getpid()), f"--grace={grace:g}"]
        args += [f"--scancel={j}" for j in jobs] + [f"--kill={int(p)}" for p in pids]
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True, cwd="/")
        finally:
            if log:
                out.close()  # type: ignore[union-attr]

    @property
    def pid(self) -> int:
        """The reaper's process id."""
        return self.process.pid

    def disarm(self, timeout: float = 5.0) -> None:
        """Tell the reaper that everything is cleaned up; it exits without acting. Calling it twice is harmless."""
        p = self.process
        if p.stdin is None or p.stdin.closed:
            return
        try:
            p.stdin.write(b"q")
            p.stdin.flush()
        except OSError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdin.close()


def _say(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def _reap(jobs: list[str], pids: list[int], grace: float) -> None:
    for job in jobs:
        for _attempt in range(3):
            try:
                r = subprocess.run(["scancel", job], capture_output=True, text=True, timeout=SCANCEL_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as e:
                _say(f"scancel {job}: {e}")
                continue
            _say(f"scancel {job}: exit {r.returncode} {r.stderr.strip()}")
            break
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
            _say(f"SIGTERM {pid}")
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _exists(p)]
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
            _say(f"SIGKILL {pid}")
        except ProcessLookupError:
            pass


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # our own daemons' zombies are reaped by init, not by us: a zombie is gone
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def main(argv: list[str]) -> int:
    """``_reaper.py PARENT_PID [--grace=S] [--scancel=JOB]... [--kill=PID]...``: wait, then clean up."""
    parent = int(argv[0])
    opts = [a.split("=", 1) for a in argv[1:]]
    jobs = [v for k, v in opts if k == "--scancel"]
    pids = [int(v) for k, v in opts if k == "--kill"]
    grace = float(next((v for k, v in opts if k == "--grace"), 5.0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the notebook's terminal
    while True:
        ready, _, _ = select.select([0], [], [], 1.0)
        if ready:
            data = os.read(0, 64)
            if data:  # disarmed: the parent cleaned up itself
                return 0
            break  # end of file: the parent is gone
        if os.getppid() != parent:
            break
    _say(f"parent {parent} is gone: cancelling jobs {jobs}, stopping pids {pids}")
    _reap(jobs, pids, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
