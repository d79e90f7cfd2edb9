"""Status files of the runs started from a Jupyter server's kernels, read by the extension's Run monitor.

The server extension (:mod:`modelkit.labserver`) points ``MODELKIT_RUNS_DIR`` at a folder of its own
before any kernel starts; kernels inherit the variable.  While it is set, every
:func:`~modelkit.simulator.simulate` (on MPI rank 0) and every :class:`~modelkit.cluster.LiveRun` keeps one
small JSON file there, ``<run_id>.json``, rewritten atomically (temporary file, then rename) at most a few
times per second.  Nothing is written when the variable is unset, so scripts and CI runs leave no trace.

Leaf module: imports nothing from modelkit (the simulator and cluster layers both use it).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["ENV", "RunStatus", "list_runs", "runs_dir", "suppressed"]

#: environment variable naming the folder of status files
ENV = "MODELKIT_RUNS_DIR"
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
        kind : {'simulate', 'cluster'}
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
        record = {"run_id": rid, "kind": kind, "status": "starting", "config": config, "output_dir": output_dir,
                  "backend": backend, "engines": engines, "tstart": float(tstart), "tstop": float(tstop),
                  "t": float(tstart), "fraction": 0.0, "n_spikes": 0, "pid": os.getpid(),
                  "host": socket.gethostname(), "started": now, "updated": now, "finished": None, "error": None}
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
        """Record progress (``t``, ms) and/or a new status; progress alone is written at most every 0.5 s."""
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
        """Record the final state (``"done"``, ``"stopped"`` or ``"failed"``) and why it failed."""
        self.record.update(status=status, error=error, finished=time.time())
        if status == "done":
            self.record["fraction"] = 1.0
            self.record["t"] = self.record["tstop"]
        self._flush()

    # ReportSink protocol: the simulator reports progress after every block
    def spikes(self, population: str, node_ids: Any, times: Any) -> None:
        self.record["n_spikes"] += len(node_ids)

    def progress(self, t: float, tstop: float) -> None:
        self.update(t=t, tstop=tstop, status="running")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(folder: str | None = None) -> list[dict[str, Any]]:
    """Every run recorded in ``folder`` (default :func:`runs_dir`), newest first.

    A run still ``"starting"``/``"running"`` whose process is gone (a kernel restarted mid-run) is
    reported as ``"lost"``.
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
        if rec.get("status") not in FINAL and rec.get("host") == host and not _alive(int(rec.get("pid", 0))):
            rec["status"] = "lost"
            rec["error"] = rec.get("error") or "the process running it ended before the run finished"
        out.append(rec)
    out.sort(key=lambda r: r.get("started", 0.0), reverse=True)
    return out
