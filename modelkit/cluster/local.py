"""Run a simulation in a child process of the notebook and watch it live, like a cluster run.

:func:`run_local` is :func:`~modelkit.cluster.run_on_cluster` without a cluster: the simulation runs in a
fresh Python process (so the notebook kernel never holds NEST or NEURON state and a crashing simulator
never takes it down), streams its spikes back through the same lossless
:class:`~modelkit.cluster.stream.SpikeStream`, and is returned as the same :class:`~modelkit.cluster.LiveRun`
(status, progress, ``stop()``, spikes kept after a failure).

The child runs ``python -m modelkit.cluster._local_child <job folder>``: the job (config, keyword arguments and
stream addresses) is a pickle in a private temporary folder, and so are the child's result or error and
its log.

Starting Python and importing modelkit and NEST take a second or more, longer than building and running a
small network. :func:`prestart_local` starts the next child ahead of time (it imports and waits); the next
:func:`run_local` hands it its job, so a run pressed in a notebook starts at once (RunPanel does this).
"""

from __future__ import annotations

import os
import pickle
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import Any

from modelkit._typing import PathLike
from modelkit.cluster.errors import ClusterError
from modelkit.cluster.live import LiveRun, network_given, simulate_arguments
from modelkit.cluster.stream import DEFAULT_HWM, DEFAULT_SEND_TIMEOUT, SpikeStream
from modelkit.runstatus import RunStatus

__all__ = ["run_local", "prestart_local", "prestarted_ready", "discard_prestarted"]

#: lines of the child's log quoted in the error of a process that died
LOG_TAIL_LINES = 20


class _ChildError(Exception):
    """An error of the child process, shaped like ipyparallel's RemoteError for ``live._translate``."""

    def __init__(self, ename: str, evalue: str, tb: str = "") -> None:
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue, self.traceback = ename, evalue, tb


class _ProcessResult:
    """The child process seen through the two calls :class:`LiveRun` makes on an ipyparallel AsyncResult."""

    def __init__(self, proc: subprocess.Popen, job_dir: str) -> None:
        self.proc = proc
        self.job_dir = job_dir

    def wait(self, timeout: float | None = None) -> bool:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self.job_dir, "log.txt"), errors="replace") as f:
                return "".join(f.readlines()[-LOG_TAIL_LINES:])
        except OSError:
            return ""

    def get(self) -> Any:
        rc = self.proc.wait()
        try:
            if rc == 0:
                with open(os.path.join(self.job_dir, "result.pkl"), "rb") as f:
                    return pickle.load(f)
            err = os.path.join(self.job_dir, "error.pkl")
            if os.path.exists(err):
                with open(err, "rb") as f:
                    ename, evalue, tb = pickle.load(f)
                raise _ChildError(ename, evalue, tb)
            how = f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"
            tail = self._log_tail()
            raise _ChildError("EngineError", f"the simulation process (pid {self.proc.pid}) {how}"
                              + (f"; the end of its log:\n{tail}" if tail else ""))
        finally:
            shutil.rmtree(self.job_dir, ignore_errors=True)


_warm_lock = threading.Lock()
#: children started ahead of their run, waiting on their stdin: (process, job folder)
_warm: list[tuple[subprocess.Popen, str]] = []


def _spawn(job_dir: str, extra: Sequence[str] = ()) -> subprocess.Popen:
    with open(os.path.join(job_dir, "log.txt"), "wb") as log:
        # its own session: a Ctrl-C / interrupt of the kernel does not reach the simulation
        return subprocess.Popen([sys.executable, "-m", "modelkit.cluster._local_child", job_dir, *extra], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.PIPE if extra else subprocess.DEVNULL,
                                start_new_session=True)


def prestart_local(preload: Sequence[str] = ("nest",)) -> None:
    """Start the process of the next :func:`run_local` now: it imports modelkit's simulator and ``preload``, then
    waits (idle) for its job, so the run starts without Python's and the simulator's start-up (about 1-2 s).

    At most one such process waits at a time; it ends by itself when this process ends (its stdin closes),
    or with :func:`discard_prestarted`.

    Parameters
    ----------
    preload : sequence of str
        Modules to import ahead (``"nest"``; ``"neuron"`` for NEURON models).

    Examples
    --------
    >>> prestart_local()                                    # doctest: +SKIP
    >>> run = run_local("config.simulation.json")            # starts at once  # doctest: +SKIP
    """
    with _warm_lock:
        for proc, job_dir in list(_warm):
            if proc.poll() is not None:  # died waiting (killed): forget it
                _warm.remove((proc, job_dir))
                shutil.rmtree(job_dir, ignore_errors=True)
        if _warm:
            return
        job_dir = tempfile.mkdtemp(prefix="modelkit-local-")
        try:
            _warm.append((_spawn(job_dir, ["--wait", *preload]), job_dir))
        except OSError:  # run_local starts one itself (and says why if it cannot)
            shutil.rmtree(job_dir, ignore_errors=True)


def prestarted_ready() -> bool:
    """Whether a process :func:`prestart_local` started has its imports done and waits for a run."""
    with _warm_lock:
        return any(proc.poll() is None and os.path.exists(os.path.join(job_dir, "ready")) for proc, job_dir in _warm)


def discard_prestarted() -> None:
    """End the process :func:`prestart_local` started, if it still waits (it runs nothing)."""
    with _warm_lock:
        while _warm:
            proc, job_dir = _warm.pop()
            try:
                if proc.stdin is not None:
                    proc.stdin.close()  # an end of file: the child ends without running anything
                proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
            shutil.rmtree(job_dir, ignore_errors=True)


def _take_warm(job: tuple) -> tuple[subprocess.Popen, str] | None:
    """A prestarted child given ``job``, or None (none waits, or it died)."""
    with _warm_lock:
        while _warm:
            proc, job_dir = _warm.pop()
            if proc.poll() is not None or proc.stdin is None:
                shutil.rmtree(job_dir, ignore_errors=True)
                continue
            try:
                with open(os.path.join(job_dir, "job.pkl"), "wb") as f:
                    pickle.dump(job, f)
                proc.stdin.write(b"go\n")
                proc.stdin.close()
                return proc, job_dir
            except OSError:  # it died meanwhile: a fresh child instead
                proc.kill()
                shutil.rmtree(job_dir, ignore_errors=True)
        return None


def run_local(config: Any, *, network: Any = None, threads: int | None = None, output_dir: PathLike | None = None,
              hwm: int = DEFAULT_HWM, send_timeout: float = DEFAULT_SEND_TIMEOUT,
              **simulate_kwargs: Any) -> LiveRun:
    """Start :func:`~modelkit.simulator.simulate` in a child process and return at once.

    Parameters
    ----------
    config : str, PathLike, SimulationConfig or dict
        The simulation config, as for ``simulate`` (a relative path is made absolute here).
    network : Network or NetworkBuilder, optional
        Simulate this network instead of the config's circuit (pickled to the child).
    threads : int, optional
        Simulator threads in the child.
    output_dir : str or PathLike, optional
        Where the run's files go (default the config's ``output.output_dir``).
    hwm, send_timeout
        As in :func:`~modelkit.cluster.run_on_cluster` (messages in flight; seconds, s).
    **simulate_kwargs
        ``seed``, ``overwrite``, ``backend``, ``overrides``, ... passed on to ``simulate`` (``progress`` is off).

    The process :func:`prestart_local` started runs it, when one waits; else a new one starts.

    Returns
    -------
    LiveRun
        ``engine_ids`` is empty; a killed child makes the run ``"failed"`` with an
        :class:`~modelkit.cluster.EngineDiedError` that names the signal.

    Raises
    ------
    ClusterError
        The job could not be pickled or the child process could not be started.

    Examples
    --------
    >>> run = run_local("config.simulation.json", overwrite=True)   # doctest: +SKIP
    >>> run.wait()                                                 # doctest: +SKIP
    'done'
    """
    config, out, kwargs = simulate_arguments(config, network, threads, output_dir, simulate_kwargs)
    run_id = secrets.token_hex(6)
    stream = SpikeStream("127.0.0.1", run_id=run_id, hwm=hwm).start()
    job = (config, kwargs, stream.address, stream.control_address, run_id, hwm, send_timeout)
    job_dir = ""
    try:
        warm = _take_warm(job)
        if warm is not None:
            proc, job_dir = warm
        else:
            job_dir = tempfile.mkdtemp(prefix=f"modelkit-local-{run_id}-")
            with open(os.path.join(job_dir, "job.pkl"), "wb") as f:
                pickle.dump(job, f)
            proc = _spawn(job_dir)
    except Exception as e:
        stream.close()
        if job_dir:
            shutil.rmtree(job_dir, ignore_errors=True)
        raise ClusterError(f"run_local: could not start the simulation process ({type(e).__name__}: {e})") from e
    run = LiveRun(stream, _ProcessResult(proc, job_dir), engine_ids=[], output_dir=out, run_id=run_id,
                  network=network_given(network))
    # the Run monitor shows it (and can stop it) like a cluster run; the child records nothing itself
    run._status_file = RunStatus.start(kind="local", config=config if isinstance(config, str) else None,
                                       output_dir=out, run_id=run_id)
    run._start_watch()
    return run
