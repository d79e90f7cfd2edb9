"""ipyparallel engines as one Slurm job: ``start_cluster(n, engines="slurm", mpi=..., partition=..., ...)``.

The controller runs where the notebook runs (the login or JupyterHub node); the engines are the ``n`` tasks
of one ``sbatch`` job, started by ``srun`` (with ``--mpi=pmi2`` for MPI engines: one ``MPI.COMM_WORLD`` of
``n`` ranks).  Everything Slurm and ipyparallel write for the job -- the batch script, ``slurm-<job>.out``,
the watchdog's log -- goes into one run folder (``<profile>/modelkit-slurm/<cluster id>`` unless given),
never into the notebook's working folder.

The job never outlives the notebook: :func:`~modelkit.cluster.stop_cluster` cancels it and waits until it
has left the queue, an ``atexit`` hook cancels it when the kernel exits, and a watchdog process
(:class:`modelkit._reaper.Reaper`) cancels it -- and stops the controller -- when the kernel is killed
(SIGKILL, out of memory) and runs no exit hook.

Every Slurm client command runs with a timeout (they block while ``slurmctld`` is down), and what goes
wrong is a :class:`~modelkit.cluster.errors.ClusterError` saying what Slurm said: ``sbatch`` missing, a
partition that does not exist (``sbatch``'s message), a job still pending after ``pending_timeout`` (with
``squeue``'s reason), or a job that ended before its engines registered (with the tail of its output).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

from ipyparallel.cluster.launcher import SlurmEngineSetLauncher
from traitlets import Bool, Float, Int, List, Unicode, default

from modelkit._reaper import Reaper
from modelkit.cluster.errors import ClusterError

__all__ = ["SlurmEngines", "slurm_job_state", "wait_for_slurm_engines", "run_folder"]

#: seconds a Slurm client command may take: ``squeue``/``scancel``/``sbatch`` block while slurmctld is down
CLIENT_TIMEOUT = 30.0

#: job states after which no engine will register any more
_ENDED = {"", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE",
          "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"}


def _client(cmd: list[str], timeout: float = CLIENT_TIMEOUT, **kw: Any) -> subprocess.CompletedProcess:
    """Run a Slurm client command with a timeout; a missing program is a :class:`ClusterError`."""
    prog = shutil.which(cmd[0])
    if prog is None:
        raise ClusterError(f"engines='slurm': {cmd[0]!r} not found on PATH; start the cluster from a node with the "
                           "Slurm client commands (sbatch, squeue, scancel), or load Slurm's module")
    try:
        return subprocess.run([prog, *cmd[1:]], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{' '.join(cmd)} did not answer within {timeout:g} s: is slurmctld up "
                           f"(SLURM_CONF={os.environ.get('SLURM_CONF', 'unset')})?") from None


def slurm_job_state(job_id: str) -> tuple[str, str]:
    """``squeue``'s state and reason of a job: ``("PENDING", "PartitionDown")``, ``("RUNNING", "None")``, or
    ``("", "")`` once the job has left the queue.

    Raises
    ------
    ClusterError
        ``squeue`` is missing or did not answer in time.
    """
    r = _client(["squeue", "-h", "-t", "all", "-j", str(job_id), "-o", "%T|%r"])
    if r.returncode != 0 or not r.stdout.strip():  # "Invalid job id specified" once it is purged
        return "", ""
    state, _, reason = r.stdout.strip().splitlines()[0].partition("|")
    return state, reason


def run_folder(profile_dir: str, cluster_id: str) -> str:
    """The default run folder of a Slurm cluster: ``<profile_dir>/modelkit-slurm/<cluster_id>``."""
    return os.path.join(profile_dir, "modelkit-slurm", cluster_id)


def _sbatch_escape(s: str) -> str:
    # the batch template is formatted by ipyparallel's EvalFormatter: user text must not look like a field
    return s.replace("{", "{{").replace("}", "}}")


class SlurmEngines(SlurmEngineSetLauncher):
    """ipyparallel's ``SlurmEngineSetLauncher`` with a run folder, MPI through ``srun --mpi=pmi2``, Slurm's
    error messages, client timeouts, and a job that is cancelled whichever way the notebook ends.

    Created by :func:`~modelkit.cluster.start_cluster` (``engines="slurm"``) through
    ``Cluster.start_engines(n, run_dir=..., mpi=..., ...)``; the traits below are those keywords.
    """

    run_dir = Unicode("", config=True,
                      help="folder for the batch script, slurm-<job>.out and the watchdog's log").tag(to_dict=True)
    mpi = Bool(False, config=True, help="engines are the ranks of one MPI world (srun --mpi=pmi2)").tag(to_dict=True)
    cpus_per_engine = Int(1, config=True, help="--cpus-per-task: threads a simulator may use in each engine")
    extra_sbatch = List(Unicode(), config=True, help="more #SBATCH options, e.g. ['--mem=4G', '--constraint=cpu']")
    setup = Unicode("", config=True, help="shell lines run before srun (module load ..., source venv/bin/activate)")
    reap_pids = List(Int(), help="more processes the watchdog stops when the notebook dies (besides the controller)")
    stop_timeout = Float(30.0, config=True, help="seconds stop() waits for the cancelled job to leave the queue")

    @default("engine_cmd")
    def _default_engine_cmd(self) -> list[str]:
        # ipyparallel's engine exits 1 when asked to stop; modelkit's exits 0 (modelkit.cluster._engine)
        return [sys.executable, "-m", "modelkit.cluster._engine"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.run_dir:
            self.run_dir = run_folder(self.profile_dir, self.cluster_id)
        self.run_dir = os.path.abspath(self.run_dir)
        os.makedirs(self.run_dir, exist_ok=True)
        self.batch_file = os.path.join(self.run_dir, "engines.sbatch")
        self.batch_template = self._template()
        self._reaper: Reaper | None = None
        self._stopped = False

    def _template(self) -> str:
        d = _sbatch_escape(self.run_dir)
        cpus = int(self.cpus_per_engine)
        lines = ["#!/bin/sh", f"#SBATCH --job-name=modelkit-engines-{_sbatch_escape(self.cluster_id)}",
                 "#SBATCH --ntasks={n}", f"#SBATCH --cpus-per-task={cpus}", f"#SBATCH --chdir={d}",
                 f"#SBATCH --output={d}/slurm-%j.out", "#SBATCH --export=ALL"]
        if self.queue:
            lines.append(f"#SBATCH --partition={_sbatch_escape(self.queue)}")
        if self.account:
            lines.append(f"#SBATCH --account={_sbatch_escape(self.account)}")
        if self.timelimit:
            lines.append(f"#SBATCH --time={_sbatch_escape(str(self.timelimit))}")
        lines += [f"#SBATCH {_sbatch_escape(o.strip())}" for o in self.extra_sbatch if o.strip()]
        lines.append(f"export OMP_NUM_THREADS={cpus}")
        lines += [_sbatch_escape(s) for s in self.setup.splitlines() if s.strip()]
        mpi = "--mpi=pmi2" if self.mpi else "--mpi=none"
        lines.append(f"srun {mpi} --cpus-per-task={cpus} {{program_and_args}}" + (" --mpi" if self.mpi else ""))
        return "\n".join(lines) + "\n"

    def _run_command(self, command: list[str], **kwargs: Any) -> str:
        # ipyparallel's check_output lets sbatch's message go to the kernel's stderr (not the cell) and waits
        # forever on a dead slurmctld: keep the message for the error, and time out
        kwargs.pop("stdin", None)
        r = _client(list(command), cwd=self.run_dir, **kwargs)
        if r.returncode != 0:
            raise ClusterError(f"{' '.join(command[:1])} failed (exit {r.returncode}): "
                               f"{(r.stderr or r.stdout).strip() or 'no message'}")
        return r.stdout

    def start(self, n: int = 1) -> str:
        """Submit the engines' job; start its watchdog."""
        job_id = super().start(n)
        pids = list(self.reap_pids)
        controller = getattr(getattr(self.parent, "controller", None), "pid", None)  # parent: the Cluster
        if controller and controller not in pids:  # started in a session of its own: it outlives a killed kernel
            pids.append(int(controller))
        self._reaper = Reaper(jobs=[job_id], pids=pids,
                              log=os.path.join(self.run_dir, "reaper.log"))
        atexit.register(_cancel_at_exit, weakref.ref(self))
        return job_id

    def stop(self) -> str:
        """Cancel the job (harmless when it already ended) and wait until it has left the queue."""
        if self._stopped or not self.job_id:
            return ""
        output = ""
        try:
            try:
                output = self._run_command(self.delete_command + [self.job_id])
            except ClusterError as e:  # "Invalid job id": it ended (wall time, scancel elsewhere)
                output = str(e)
            deadline = time.monotonic() + self.stop_timeout
            while slurm_job_state(self.job_id)[0] not in _ENDED and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            self._stopped = True
            if self._reaper is not None:
                self._reaper.disarm()
                self._reaper = None
        self.notify_stop(dict(job_id=self.job_id, output=output))
        return output

    def job_output(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the job's ``slurm-<job>.out`` ('' before it exists)."""
        p = Path(self.run_dir) / f"slurm-{self.job_id}.out"
        try:
            return "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _cancel_at_exit(ref: weakref.ref) -> None:
    launcher = ref()
    if launcher is not None and not launcher._stopped:
        try:
            launcher.stop_timeout = 5.0
            launcher.stop()
        except Exception:  # the watchdog still cancels it when this process is gone
            pass


def wait_for_slurm_engines(client: Any, launcher: SlurmEngines, n: int, *, timeout: float,
                           pending_timeout: float | None = None) -> None:
    """Wait until ``n`` engines of ``launcher``'s job have registered with ``client``.

    Parameters
    ----------
    client : ipyparallel.Client
    launcher : SlurmEngines
        The engine set, after ``start``.
    n : int
        Engines to wait for.
    timeout : float
        Seconds in all (queue wait included).
    pending_timeout : float, optional
        Seconds the job may stay ``PENDING`` (default: ``timeout``).

    Raises
    ------
    ClusterError
        The job is still pending after ``pending_timeout`` (with squeue's reason), it ended before the engines
        registered (with its output), or the engines did not register within ``timeout``.
    """
    pending_timeout = timeout if pending_timeout is None else pending_timeout
    t0 = time.monotonic()
    job = launcher.job_id
    while True:
        try:
            client.wait_for_engines(n, timeout=1.0, interactive=False)
            return
        except TimeoutError:
            pass
        waited = time.monotonic() - t0
        state, reason = slurm_job_state(job)
        if state == "PENDING" and waited > pending_timeout:
            raise ClusterError(f"Slurm job {job} is still pending after {pending_timeout:g} s (squeue's reason: "
                               f"{reason}); cancelled. Ask for fewer engines or less time, or another partition "
                               "(sinfo lists them)")
        if state in _ENDED:
            raise ClusterError(f"Slurm job {job} ended ({state or 'left the queue'}) before its {n} engine(s) "
                               f"registered; its output ({launcher.run_dir}/slurm-{job}.out):\n"
                               f"{launcher.job_output()}")
        if waited > timeout:
            raise ClusterError(f"Slurm job {job} is {state} but only {len(client.ids)} of {n} engine(s) registered "
                               f"within {timeout:g} s; its output ({launcher.run_dir}/slurm-{job}.out):\n"
                               f"{launcher.job_output()}")


def start_slurm_cluster(cluster_kwargs: dict[str, Any], n: int, *, timeout: float, pending_timeout: float | None,
                        launcher_kwargs: dict[str, Any]) -> Any:
    """Start the controller here and ``n`` engines as one Slurm job; a connected client.

    The body of :func:`~modelkit.cluster.start_cluster` for ``engines="slurm"`` (see there); on any failure the
    job is cancelled and the controller stopped before the :class:`ClusterError` is raised.
    """
    import ipyparallel as ipp

    if shutil.which("sbatch") is None:
        raise ClusterError("engines='slurm': sbatch not found on PATH; start the cluster from a node with the Slurm "
                           "client commands (sbatch, squeue, scancel), or load Slurm's module")
    cluster = ipp.Cluster(engines=SlurmEngines, n=n, **cluster_kwargs)
    client = None
    try:
        cluster.start_controller_sync()
        set_id = cluster.start_engines_sync(n=n, **launcher_kwargs)
        launcher = cluster.engines[set_id]
        client = cluster.connect_client_sync()
        wait_for_slurm_engines(client, launcher, n, timeout=timeout, pending_timeout=pending_timeout)
    except BaseException as e:
        if client is not None:
            client.close()
        try:
            cluster.stop_cluster_sync()
        except Exception:
            pass
        if isinstance(e, ClusterError) or not isinstance(e, Exception):
            raise
        raise ClusterError(f"start_cluster: {n} Slurm engine(s) did not start ({type(e).__name__}: {e})") from e
    return client
