"""REST handlers of the Run monitor: the runs of this server's kernels, Stop, Open output, Clear.

The runs are the status files of :mod:`modelkit.runstatus` in the server's runs folder.  Answers name
files relative to the server root; a run's files outside the root are shown by name only and never opened.
"""

from __future__ import annotations

import os
import time
from typing import Any

import tornado.web

from modelkit.errors import ModelkitError
from modelkit.labserver.confine import OUTSIDE
from modelkit.labserver.handlers import _Base
from modelkit.labserver.paths import PathRefused

__all__ = ["RUN_ROUTES", "output_of"]


def _run_id(run_id: Any) -> str:
    """A request's ``run_id``: a string (400 otherwise; an unknown id is 404 where it is looked up)."""
    if not isinstance(run_id, str):
        raise PathRefused(400, f"'run_id' must be a string (a run id of GET modelkit/runs), not "
                               f"{'missing' if run_id is None else type(run_id).__name__}")
    return run_id


def _record(folder: str, run_id: str) -> dict[str, Any]:
    from modelkit.runstatus import list_runs
    rec = next((r for r in list_runs(folder) if r.get("run_id") == run_id), None)
    if rec is None:
        raise PathRefused(404, f"no run {run_id[:80]!r} among the runs of this server")
    return rec


def _spikes_file(folder: str, config: str | None) -> str | None:
    """The spikes file in a run's output folder: the config's ``spikes_file``, ``spikes.h5``, else any
    HDF5 file that holds spikes."""
    names = []
    if config and config.endswith(".json") and os.path.isfile(config):
        from modelkit.sonata import SimulationConfig, load_config
        try:
            cfg = load_config(config)
        except (ModelkitError, OSError, ValueError):
            cfg = None
        if isinstance(cfg, SimulationConfig) and cfg.output.spikes_file:
            names.append(os.path.relpath(cfg.output.spikes_file, cfg.output.output_dir))
    names.append("spikes.h5")
    for name in names:
        p = os.path.join(folder, name)
        if not name.startswith("..") and os.path.isfile(p):
            return p
    from modelkit.sonata.network import classify_h5
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if name.endswith(".h5") and os.path.isfile(p):
            try:
                if classify_h5(p) == "spikes":
                    return p
            except (ModelkitError, OSError):
                continue
    return None


def output_of(rec: dict[str, Any]) -> tuple[str, str | None]:
    """Where a finished run's files are: ``(folder, spikes file or None)``, absolute.

    A stopped run's files are in ``<output_dir>.stopped``, a failed one's in ``<output_dir>.failed``
    (:func:`modelkit.simulate` and the cluster engines publish them there); a done run's in ``output_dir``.

    Parameters
    ----------
    rec : dict
        The run's record (:func:`modelkit.runstatus.list_runs`).

    Raises
    ------
    PathRefused
        409: the run is still going, or recorded no output folder; 404: its folder is gone.
    """
    rid, status, out = rec.get("run_id"), rec.get("status"), rec.get("output_dir")
    if status in ("starting", "running"):
        raise PathRefused(409, f"run {rid} is still {status}; its files are published when it ends")
    if not out:
        raise PathRefused(409, f"run {rid} recorded no output folder")
    candidates = {"done": [out], "stopped": [f"{out}.stopped", out], "failed": [f"{out}.failed", out]}.get(
        str(status), [f"{out}.failed", f"{out}.stopped", out])  # lost: wherever its files got to
    folder = next((c for c in candidates if os.path.isdir(c)), None)
    if folder is None:
        raise PathRefused(404, f"run {rid} ({status}): its output folder {os.path.basename(candidates[0])!r} is "
                               f"gone (moved or deleted)")
    return folder, _spikes_file(folder, rec.get("config"))


class RunsHandler(_Base):
    """``GET modelkit/runs``: runs started from this server's kernels, newest first, and the server's ``now`` (s)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        from modelkit.runstatus import list_runs
        folder = self.settings["modelkit_runs_dir"]
        runs = await self.run(list_runs, folder)
        for r in runs:
            for key in ("config", "output_dir"):
                p, shown = r.get(key), self.rel(r.get(key))
                # a run of the user's kernels may use files outside the root: its name alone tells them apart
                r[key] = f"{shown}/{os.path.basename(p)}" if p and shown == OUTSIDE else shown
            r["notebook"] = self._notebook(r.get("notebook"))
        # the browser's clock may differ from the server's: durations of running runs count from this
        self.reply({"runs": runs, "now": time.time()})

    def _notebook(self, p: Any) -> str | None:
        """The run's notebook relative to the root, when it is a notebook file there (Open notebook)."""
        if not isinstance(p, str) or not p.endswith(".ipynb"):
            return None
        full = p if os.path.isabs(p) else os.path.join(self.root, p)  # an API path (no cwd for it)
        shown = self.rel(full)
        return shown if shown != OUTSIDE and os.path.isfile(full) else None


class StopRunHandler(_Base):
    """``POST modelkit/runs/stop {"run_id"}``: ask a running run of this user on this host to stop.

    The run stops after the block it is simulating (see :func:`modelkit.runstatus.request_stop`); answers
    202 with the run's record and ``"stop": "requested"`` (or ``"signalled"``), 404 for an unknown run, 409
    for a run that is over, 403 for another user's or host's run.
    """

    @tornado.web.authenticated
    async def post(self) -> None:
        from modelkit.runstatus import StopRefused, request_stop
        try:
            run_id = _run_id(self.body().get("run_id"))
            rec = await self.run(request_stop, run_id, self.settings["modelkit_runs_dir"])
        except PathRefused as e:
            return self.fail(e.status, e.message)
        except StopRefused as e:
            return self.fail(e.status, str(e))
        self.set_status(202)
        self.reply({"run_id": rec["run_id"], "status": rec["status"], "stop": rec["stop"]})


class ClearRunsHandler(_Base):
    """``POST modelkit/runs/clear {"run_id"?}``: forget runs that are over (all, or the one named).

    Running runs stay.  Answers ``{"cleared": [run ids]}``; naming a run: 404 unknown, 409 still going.
    Only the records go: the runs' output folders are kept.
    """

    @tornado.web.authenticated
    async def post(self) -> None:
        from modelkit.runstatus import FINAL, clear_finished
        folder = self.settings["modelkit_runs_dir"]
        try:
            body = self.body()
            run_id = None if body.get("run_id") is None else _run_id(body["run_id"])
            if run_id is not None:
                rec = await self.run(_record, folder, run_id)
                if rec["status"] not in FINAL:
                    raise PathRefused(409, f"run {run_id} is still {rec['status']}; stop it before clearing it")
            cleared = await self.run(clear_finished, folder, run_id)
        except PathRefused as e:
            return self.fail(e.status, e.message)
        self.reply({"cleared": cleared})


class RunOutputHandler(_Base):
    """``GET modelkit/runs/output?run_id=``: a finished run's output folder and spikes file, for Open output.

    Answers ``{"run_id", "status", "folder", "spikes"}`` (paths relative to the root; ``spikes`` null when
    the folder holds none); 404 unknown run or folder gone, 409 still going or no output folder, 403 outside
    the server root.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        try:
            run_id = _run_id(self.get_argument("run_id", None))
            rec = await self.run(_record, self.settings["modelkit_runs_dir"], run_id)
            folder, spikes = await self.run(output_of, rec)
            shown = self.rel(folder)
            if shown == OUTSIDE:
                raise PathRefused(403, f"run {run_id}: its output {os.path.basename(folder)!r} is outside the "
                                       f"server root; the viewer opens files under the root only")
        except PathRefused as e:
            return self.fail(e.status, e.message)
        spikes_shown = self.rel(spikes)
        self.reply({"run_id": run_id, "status": rec["status"], "folder": shown,
                    "spikes": None if spikes_shown == OUTSIDE else spikes_shown})


#: (route under modelkit/, handler)
RUN_ROUTES = [("runs", RunsHandler), ("runs/stop", StopRunHandler), ("runs/clear", ClearRunsHandler),
              ("runs/output", RunOutputHandler)]
