"""A real single-node Slurm cluster on loopback, started by hand inside a test run (or a laptop session).

:class:`LocalSlurm` starts ``munged``, ``slurmctld`` and ``slurmd -N localhost`` from Debian's ``slurm-wlm``
with every file (configuration, munge key and socket, state, spool, logs, pid files) under one folder, on
free ports, so that several can run side by side (one per pytest-xdist worker).  Clients find it through
``SLURM_CONF`` (:attr:`LocalSlurm.env`, or :meth:`LocalSlurm.activate` for this process).  :meth:`LocalSlurm.stop`
cancels the jobs left and stops the three daemons by pid; a watchdog (:class:`modelkit._reaper.Reaper`) does
the same if the process that started them is killed first.

The node declares 8 CPUs whatever the host has (``SlurmdParameters=config_overrides``): a notebook job next
to an engine job would otherwise deadlock on a 2-core machine.  Two partitions: ``debug`` (the default, up)
and ``held`` (down: a job there stays pending with reason ``PartitionDown``, for pending-job tests).

Examples
--------
>>> from modelkit.testing.slurm import LocalSlurm
>>> with LocalSlurm("/tmp/slurm-test") as slurm:          # doctest: +SKIP
...     slurm.activate()                                  # SLURM_CONF for this process and its children
...     print(slurm.run(["sinfo"]).stdout)
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from modelkit._reaper import Reaper

__all__ = ["LocalSlurm", "SlurmUnavailable", "slurm_missing", "install_slurm"]

#: the programs a :class:`LocalSlurm` needs (Debian packages ``slurm-wlm`` and ``munge``)
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel", "srun")

#: seconds any Slurm client command may take (they block while slurmctld is down)
CLIENT_TIMEOUT = 20.0


class SlurmUnavailable(RuntimeError):
    """Slurm is not installed here and could not be installed (the message says why)."""


def _which(prog: str) -> str | None:
    return shutil.which(prog) or next((p for d in ("/usr/sbin", "/usr/bin", "/sbin")
                                       if os.access(p := os.path.join(d, prog), os.X_OK)), None)


def slurm_missing() -> list[str]:
    """The programs of :data:`PROGRAMS` not found on ``PATH`` (nor in ``/usr/sbin``)."""
    return [p for p in PROGRAMS if _which(p) is None]


def install_slurm(timeout: float = 300.0) -> None:
    """Install Debian's ``slurm-wlm`` and ``munge`` with apt when they are missing (as root).

    Raises
    ------
    SlurmUnavailable
        Not root, no ``apt-get``, or the install failed (apt's last lines in the message).
    """
    if not slurm_missing():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SlurmUnavailable(f"slurm-wlm is not installed ({', '.join(slurm_missing())} missing) and cannot be "
                               "installed here (needs root and apt-get): apt-get install slurm-wlm munge")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = [["dpkg", "--configure", "-a"], ["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"]]
    out = ""
    for cmd in steps:
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SlurmUnavailable(f"{' '.join(cmd)} took over {timeout:g} s") from None
        out = r.stdout + r.stderr
    if slurm_missing():  # a stale package list: update once and retry
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=timeout)
        r = subprocess.run(steps[1], env=env, capture_output=True, text=True, timeout=timeout)
        out = r.stdout + r.stderr
    if slurm_missing():
        tail = "\n".join(out.strip().splitlines()[-5:])
        raise SlurmUnavailable(f"apt-get install slurm-wlm munge failed; still missing {slurm_missing()}:\n{tail}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _real_memory_mb() -> int:
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal:")))
        return max(512, int(kb / 1024 * 0.8))
    except (OSError, StopIteration, ValueError):
        return 4096


_CONF = """\
# a single-node Slurm on loopback, written by modelkit.testing.slurm.LocalSlurm
ClusterName=modelkit
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MinJobAge=10
SchedulerParameters=sched_interval=1
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=held Nodes=localhost Default=NO MaxTime=INFINITE State=DOWN
"""


class LocalSlurm:
    """A single-node Slurm cluster (munged, slurmctld, slurmd) with all its files under ``folder``.

    Parameters
    ----------
    folder : str or PathLike
        Created if needed; keep the path short (the munge socket path must fit 107 bytes).
    cpus : int
        CPUs the node declares (more than the host has is fine: ``config_overrides``).

    Attributes
    ----------
    conf : pathlib.Path
        The ``slurm.conf``; ``SLURM_CONF`` points clients at it.
    env : dict
        ``os.environ`` plus ``SLURM_CONF``, for client commands and the processes that run them.
    pids : dict
        ``{"munged": pid, "slurmctld": pid, "slurmd": pid}`` while running.
    """

    def __init__(self, folder: str | os.PathLike, *, cpus: int = 8) -> None:
        self.folder = Path(folder).absolute()
        self.cpus = int(cpus)
        self.conf = self.folder / "slurm.conf"
        self.munge_socket = self.folder / "munge" / "munge.socket"
        if len(os.fsencode(self.munge_socket)) > 107:
            raise ValueError(f"LocalSlurm: folder path too long for a unix socket: {self.munge_socket}")
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self.pids: dict[str, int] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._reaper: Reaper | None = None
        self._old_conf: str | None = None
        self._activated = False

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> LocalSlurm:
        """Start the daemons and wait until the node is ``idle``.

        Raises
        ------
        SlurmUnavailable
            A program is missing.
        RuntimeError
            A daemon exited or the node did not become idle within ``timeout`` seconds (with the logs' tails);
            whatever was started is stopped again.
        """
        missing = slurm_missing()
        if missing:
            raise SlurmUnavailable(f"slurm-wlm/munge programs missing: {', '.join(missing)}")
        d = self.folder
        for sub in ("state", "spool", "run", "log", "munge", "jobs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / "munge", 0o755)  # munged refuses a socket folder writable by others
        key = d / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        self.conf.write_text(_CONF.format(d=d, ctld_port=_free_port(), slurmd_port=_free_port(), cpus=self.cpus,
                                          memory=_real_memory_mb(), munge_socket=self.munge_socket,
                                          user=pwd.getpwuid(os.geteuid()).pw_name))
        try:
            self._spawn("munged", [_which("munged"), "-F", "-f", f"--socket={self.munge_socket}",  # type: ignore[list-item]
                                   f"--key-file={key}", f"--pid-file={d}/run/munged.pid",
                                   f"--log-file={d}/log/munged.log", f"--seed-file={d}/munge/munged.seed"])
            self._wait(lambda: self.munge_socket.exists(), timeout, "munged's socket")
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])  # type: ignore[list-item]
            self._spawn("slurmd", [_which("slurmd"), "-D", "-N", "localhost", "-f", str(self.conf)])  # type: ignore[list-item]
            self._reaper = Reaper(pids=list(self.pids.values()), log=str(d / "log" / "reaper.log"))
            self._wait(lambda: self.node_state() == "idle", timeout, "the node to be idle")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """Cancel the jobs left, stop the daemons by pid (SIGTERM, SIGKILL after ``timeout``), and restore
        ``SLURM_CONF`` if :meth:`activate` set it. Calling it twice is harmless."""
        if self._procs.get("slurmctld") and self._procs["slurmctld"].poll() is None:
            jobs = self.jobs()
            if jobs:
                self.run(["scancel", *jobs], check=False)
                # the jobs' steps end within KillWait (5 s); stopping slurmd first would orphan them
                deadline = time.monotonic() + 15
                while self.jobs() and time.monotonic() < deadline:
                    time.sleep(0.2)
        for name in ("slurmd", "slurmctld", "munged"):
            p = self._procs.get(name)
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in list(self._procs.items()):
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            del self._procs[name]
        self.pids.clear()
        if self._reaper is not None:
            self._reaper.disarm()
            self._reaper = None
        self.deactivate()

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def activate(self) -> None:
        """Point this process's Slurm clients (and the processes it starts) at this cluster: ``SLURM_CONF``."""
        if not self._activated:
            self._old_conf = os.environ.get("SLURM_CONF")
            os.environ["SLURM_CONF"] = str(self.conf)
            self._activated = True

    def deactivate(self) -> None:
        """Undo :meth:`activate`."""
        if self._activated:
            if self._old_conf is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = self._old_conf
            self._activated = False

    # -- client commands ---------------------------------------------------------------------------------
    def run(self, cmd: list[str], *, check: bool = True,
            timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster, with a timeout (text output captured)."""
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout, check=check,
                              cwd=self.folder / "jobs")

    def node_state(self) -> str:
        """``sinfo``'s state of the node (``idle``, ``mix``, ``alloc``, ``down*``, ...; '' when unknown)."""
        try:
            r = self.run(["sinfo", "-h", "-N", "-p", "debug", "-o", "%t"], check=False, timeout=5)
        except subprocess.TimeoutExpired:
            return ""
        return r.stdout.strip()

    def jobs(self) -> list[str]:
        """Ids of the jobs in the queue (any state)."""
        try:
            r = self.run(["squeue", "-h", "-o", "%i"], check=False)
        except subprocess.TimeoutExpired:
            return []
        return r.stdout.split()

    def job_state(self, job: str) -> str:
        """``squeue``'s state of ``job`` (``PENDING``, ``RUNNING``, ...), '' once it left the queue."""
        r = self.run(["squeue", "-h", "-j", str(job), "-o", "%T"], check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    # -- helpers -----------------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.folder / "log" / f"{name}.out", "ab")
        try:
            self._procs[name] = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True)
        finally:
            log.close()
        self.pids[name] = self._procs[name].pid

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [n for n, p in self._procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"no {what} after {timeout:g} s"
                raise RuntimeError(f"LocalSlurm in {self.folder}: {why}\n{self.log_tails()}")
            time.sleep(0.05)

    def log_tails(self, lines: int = 8) -> str:
        """The last lines of each daemon's log, for error messages."""
        out = []
        for f in sorted((self.folder / "log").glob("*")):
            text = f.read_text(errors="replace").strip().splitlines()[-lines:]
            out.append(f"--- {f.name}\n" + "\n".join(text))
        return "\n".join(out)
