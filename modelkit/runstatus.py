"""Status files of the runs started from a Jupyter server's kernels, read by the extension's Run monitor.

The server extension (:mod:`modelkit.labserver`) points ``MODELKIT_RUNS_DIR`` at a folder of its own
before any kernel starts; kernels inherit the variable.  While it is set, every
:func:`~modelkit.simulator.simulate` (on MPI rank 0) and every :class:`~modelkit.cluster.LiveRun` keeps one
small JSON file there, ``<run_id>.json``, rewritten atomically (temporary file, then rename) at most a few
times per second.  Nothing is written when the variable is unset, so scripts and CI runs leave no trace.

**Stop from the Run monitor.**  :func:`request_stop` (the server's ``POST modelkit/runs/stop``) leaves
``<run_id>.stop`` next to the run's status file; the run's owner acts on it at its next block: a
:func:`~modelkit.simulator.simulate` in a kernel or in a ``python -m modelkit run`` process raises
:class:`~modelkit.errors.RunStoppedError` from its status sink (the run ends ``"stopped"``), a
:class:`~modelkit.cluster.LiveRun` (cluster engine or ``run_local`` child) sends the engine its ``stop``.  A
record written by a modelkit that does not read stop requests (no ``stop_requests`` key) is stopped with
SIGTERM, which ``simulate`` already turns into a stop, when it is a plain ``simulate`` of this user on this
host.  Runs of another user or host are refused.

**The notebook of a run.**  A kernel started by the server for a notebook has ``JPY_SESSION_NAME`` (jupyter_server
sets it to the notebook's path); a run started there records it as ``notebook``, for the Run monitor's Open
notebook.  :func:`clear_finished` (``POST modelkit/runs/clear``) removes the records of runs that are over.

Leaf module: imports nothing from modelkit but its errors (the simulator and cluster layers both use it).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

from modelkit._process import pid_exists
from modelkit.errors import ModelkitError, RunStoppedError

__all__ = ["ENV", "RunStatus", "StopRefused", "clear_finished", "list_runs", "request_stop", "runs_dir",
           "suppressed"]

#: environment variable naming the folder of status files
ENV = "MODELKIT_RUNS_DIR"
#: set by jupyter_server in the environment of a kernel it starts for a notebook: the notebook's path
SESSION_ENV = "JPY_SESSION_NAME"
#: states a run ends in; the others are "starting" and "running"
FINAL = ("done", "stopped", "failed", "lost")
#: seconds between two progress writes of one run (status changes are always written)
MIN_INTERVAL = 0.5

_SUPPRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("modelkit_runstatus_suppress", default=False)


def runs_dir() -> str | None:
    """The status folder from ``MODELKIT_RUNS_DIR``, or None when runs are not recorded."""
    d = os.environ.get(ENV)
    return d or None


@contextlib.contextmanager
def suppressed() -> Iterator[None]:
    """Record no run inside this block (a cluster engine's ``simulate`` is recorded by its LiveRun)."""
    token = _SUPPRESS.set(True)
    try:
        yield
    finally:
        _SUPPRESS.reset(token)


def _write_json(path: str, data: dict[str, Any]) -> None:
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class RunStatus:
    """The status file of one run; made by :meth:`start`, also usable as a ``ReportSink``.

    Writing never raises: a full disk or a removed folder must not kill a simulation.
    """

    def __init__(self, path: str, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record
        self._last = 0.0

    @classmethod
    def start(cls, *, kind: str, config: str | None, output_dir: str | None, tstart: float = 0.0,
              tstop: float = 0.0, backend: str | None = None, engines: list[int] | None = None,
              run_id: str | None = None) -> RunStatus | None:
        """Create the status file of a new run (``"starting"``), or return None when runs are not recorded.

        Parameters
        ----------
        kind : {'simulate', 'cluster', 'local'}
            ``simulate`` in this process, a :class:`~modelkit.cluster.LiveRun` on engines or in a child process.
        config : str or None
            The simulation config's path.
        output_dir : str or None
        tstart, tstop : float
            Simulated interval (ms).
        backend : str, optional
        engines : list of int, optional
            Cluster engines running it.
        run_id : str, optional
            Default: a new random id.
        """
        folder = runs_dir()
        if folder is None or _SUPPRESS.get():
            return None
        rid = run_id or secrets.token_hex(6)
        now = time.time()
        # another process (the server) reads the record: paths relative to this process's folder mean nothing there
        config, output_dir = (os.path.abspath(p) if p else p for p in (config, output_dir))
        record = {"run_id": rid, "kind": kind, "status": "starting", "config": config, "output_dir": output_dir,
                  "backend": backend, "engines": engines, "tstart": float(tstart), "tstop": float(tstop),
                  "t": float(tstart), "fraction": 0.0, "n_spikes": 0, "pid": os.getpid(),
                  "host": socket.gethostname(), "uid": _uid(), "user": _user(), "started": now, "updated": now,
                  "finished": None, "error": None, "notebook": os.environ.get(SESSION_ENV) or None,
                  # this run reads <run_id>.stop at every block; None until a stop request was seen (time, s)
                  "stop_requests": True, "stop_requested": None}
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            return None
        rs = cls(os.path.join(folder, f"{rid}.json"), record)
        rs._flush()
        return rs

    def _flush(self) -> None:
        self.record["updated"] = time.time()
        self._last = time.monotonic()
        with contextlib.suppress(OSError):
            _write_json(self.path, self.record)

    def update(self, *, t: float | None = None, tstop: float | None = None, status: str | None = None,
               n_spikes: int | None = None) -> None:
        """Record progress (``t``, ms) and/or a new status; progress alone is written at most every 0.5 s.

        Parameters
        ----------
        t : float, optional
            Model time reached, ms.
        tstop : float, optional
            Model time the run ends at, ms.
        status : str, optional
            New status (``running``...).
        n_spikes : int, optional
            Spikes so far.
        """
        changed = status is not None and status != self.record["status"]
        if status is not None:
            self.record["status"] = status
        if tstop is not None and tstop > 0:
            self.record["tstop"] = float(tstop)
        if n_spikes is not None:
            self.record["n_spikes"] = int(n_spikes)
        if t is not None:
            self.record["t"] = float(t)
            span = self.record["tstop"] - self.record["tstart"]
            self.record["fraction"] = min(1.0, max(0.0, (t - self.record["tstart"]) / span)) if span > 0 else 0.0
        if changed or time.monotonic() - self._last >= MIN_INTERVAL:
            self._flush()

    def finish(self, status: str, error: str | None = None) -> None:
        """Record the final state (``"done"``, ``"stopped"`` or ``"failed"``) and why it failed.

        Parameters
        ----------
        status : str
            ``done``, ``stopped`` or ``failed``.
        error : str, optional
            Why it failed.
        """
        self.record.update(status=status, error=error, finished=time.time())
        if status == "done":
            self.record["fraction"] = 1.0
            self.record["t"] = self.record["tstop"]
        self._flush()
        with contextlib.suppress(OSError):  # a request that came too late is void
            os.unlink(self.stop_path)

    @property
    def stop_path(self) -> str:
        """Where a stop request for this run appears (see :func:`request_stop`)."""
        return self.path[:-len(".json")] + ".stop"

    def stop_requested(self) -> bool:
        """Whether the Run monitor asked this run to stop (a ``stat``: cheap enough for every block).

        The first time it is seen, the record says so (``stop_requested``: the time, s).
        """
        if self.record["stop_requested"] is not None:
            return True
        if not os.path.exists(self.stop_path):
            return False
        self.record["stop_requested"] = time.time()
        self._flush()
        return True

    # ReportSink protocol: the simulator reports progress after every block
    def spikes(self, population: str, node_ids: Any, times: Any) -> None:
        self.record["n_spikes"] += len(node_ids)

    def progress(self, t: float, tstop: float) -> None:
        """The end of a block: record it; stop the run here when the Run monitor asked to.

        Parameters
        ----------
        t, tstop : float
            Model time reached, and the time the run ends at (ms): the record's ``t`` and ``tstop``.

        Raises
        ------
        RunStoppedError
            A stop request is there (``simulate`` then ends the run as stopped, after this whole block).
        """
        self.update(t=t, tstop=tstop, status="running")
        if self.stop_requested():
            raise RunStoppedError(f"run {self.record['run_id']}: stopped from the Run monitor at t = {t:g} ms "
                                  f"of {tstop:g} ms")


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def _user() -> str | None:
    try:
        import getpass
        return getpass.getuser()
    except Exception:  # no name for this uid (a container user): the uid still tells owners apart
        return None


class StopRefused(ModelkitError):
    """:func:`request_stop` refused: ``status`` is the HTTP status the server answers with (403, 404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _owned_here(rec: dict[str, Any], path: str) -> str | None:
    """Why this user on this host may not stop the run (None: it may)."""
    host = socket.gethostname()
    if rec.get("host") != host:
        return (f"run {rec.get('run_id')} runs on host {rec.get('host')!r}, not on {host!r} where this server "
                f"runs; stop it from the notebook or shell that started it")
    owner: Any
    try:
        owner = os.stat(path).st_uid  # the run's process wrote its status file
    except OSError:
        owner = rec.get("uid")
    me = _uid()
    if me is not None and owner is not None and int(owner) != me:
        who = rec.get("user") or f"uid {owner}"
        return (f"run {rec.get('run_id')} belongs to user {who}, not to {_user() or f'uid {me}'} who runs this "
                f"server; only its owner can stop it")
    return None


def request_stop(run_id: str, folder: str | None = None) -> dict[str, Any]:
    """Ask a run of this user on this host to stop after the block it is simulating.

    Leaves ``<run_id>.stop`` for the run's owner (see the module docstring); a run recorded by a modelkit
    that reads no stop requests gets SIGTERM instead when it is a plain ``simulate`` (a kernel's cluster or
    child run is never signalled: that would end the kernel or lose the stream).

    Parameters
    ----------
    run_id : str
        The run's id, as :func:`list_runs` gives it.
    folder : str, optional
        The status folder (default :func:`runs_dir`).

    Returns
    -------
    dict
        The run's record, with ``"stop": "requested"`` or ``"stop": "signalled"``.

    Raises
    ------
    StopRefused
        404 no such run; 409 the run is over (or its process is gone); 403 another user's or host's run,
        or one that can be neither asked nor signalled.
    """
    folder = folder or runs_dir()
    if not isinstance(run_id, str) or not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise StopRefused(404, f"no run {str(run_id)[:80]!r}: a run id is letters, digits, '-' and '_'")
    path = os.path.join(folder or "", f"{run_id}.json")
    rec = next((r for r in list_runs(folder) if r.get("run_id") == run_id), None)
    if folder is None or rec is None or not os.path.isfile(path):
        raise StopRefused(404, f"no run {run_id!r} among the runs of this server")
    if rec.get("status") in FINAL:
        raise StopRefused(409, f"run {run_id} is already {rec['status']}; there is nothing to stop")
    why = _owned_here(rec, path)
    if why is not None:
        raise StopRefused(403, why)
    if rec.get("stop_requests"):
        _write_json(os.path.join(folder, f"{run_id}.stop"), {"run_id": run_id, "requested": time.time()})
        return {**rec, "stop": "requested"}
    if rec.get("kind") != "simulate":
        raise StopRefused(403, f"run {run_id} was started by a modelkit that reads no stop requests; stop it "
                               f"from its notebook (LiveRun.stop())")
    try:
        os.kill(int(rec["pid"]), signal.SIGTERM)  # simulate ends the run as stopped (RunTerminated)
    except ProcessLookupError:
        raise StopRefused(409, f"run {run_id}: its process {rec['pid']} is gone") from None
    except PermissionError:
        raise StopRefused(403, f"run {run_id}: process {rec['pid']} is not this user's") from None
    return {**rec, "stop": "signalled"}


def list_runs(folder: str | None = None) -> list[dict[str, Any]]:
    """Every run recorded in ``folder`` (default :func:`runs_dir`), newest first.

    A run still ``"starting"``/``"running"`` whose process is gone (a kernel restarted mid-run) is
    reported as ``"lost"``.

    Parameters
    ----------
    folder : str, optional
        Folder of the status files; :func:`runs_dir` when None.
    """
    folder = folder or runs_dir()
    if not folder or not os.path.isdir(folder):
        return []
    host = socket.gethostname()
    out = []
    for name in os.listdir(folder):
        if not name.endswith(".json") or name.startswith("."):
            continue
        try:
            with open(os.path.join(folder, name)) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            continue  # removed between listdir and open, or not ours
        if not isinstance(rec, dict) or "run_id" not in rec:
            continue
        if rec.get("status") not in FINAL and rec.get("host") == host and not pid_exists(int(rec.get("pid", 0))):
            rec["status"] = "lost"
            rec["error"] = rec.get("error") or "the process running it ended before the run finished"
        out.append(rec)
    out.sort(key=lambda r: r.get("started", 0.0), reverse=True)
    return out


def clear_finished(folder: str | None = None, run_id: str | None = None) -> list[str]:
    """Remove the records of runs that are over (done, stopped, failed, lost); running ones stay.

    Parameters
    ----------
    folder : str, optional
        Folder of the status files; :func:`runs_dir` when None.
    run_id : str, optional
        Remove this run's record only (when it is over); default: every finished run's.

    Returns
    -------
    list of str
        The ids of the runs removed, newest first.
    """
    folder = folder or runs_dir()
    cleared = []
    for rec in list_runs(folder):
        if rec.get("status") not in FINAL or (run_id is not None and rec["run_id"] != run_id):
            continue
        rid = str(rec["run_id"])
        if not rid or not all(c.isalnum() or c in "-_" for c in rid):
            continue  # not a name this module writes: leave the file alone
        for ext in (".json", ".stop"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(str(folder), rid + ext))
        cleared.append(rid)
    return cleared
