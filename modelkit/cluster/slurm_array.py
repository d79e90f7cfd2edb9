"""A sweep as one Slurm job array: ``sweep(config, grid, backend="slurm-array", output_dir=...)``.

For many independent runs no engines are needed: :func:`submit_array` writes every variant's spec into
``<output_dir>/sweep.json`` and submits one job array whose task ``k`` runs variant ``k``
(``python -m modelkit.cluster._variant``, :mod:`modelkit.cluster._variant`) into ``<output_dir>/variant_<k>``.
Everything Slurm writes stays in the output folder -- the batch script ``sweep.sbatch`` and each task's
``logs/slurm-<job>_<k>.out`` -- never in the notebook's working folder.

Progress comes from the folders: each task keeps a record, ``variant_<k>/variant.json`` (written whole), that
says ``running``, then ``done``, ``failed`` or ``stopped``; ``squeue`` says which tasks still wait.
:meth:`SlurmArraySweep.wait` returns the results table; a failed variant is a row with its error and does
not lose the others, while an array cancelled (``scancel``), past its time limit or past ``wait``'s timeout
is a :class:`~modelkit.cluster.errors.ClusterError` naming the job, with the table so far as its ``table``.
The notebook may also leave (``wait=False``): the array runs on, and :meth:`SlurmArraySweep.from_folder`
reads its table later.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time as _time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modelkit.cluster._variant import jsonable, read_record
from modelkit.cluster.errors import ClusterError
from modelkit.cluster.slurm import _ENDED, _client

__all__ = ["SlurmArraySweep", "submit_array", "SWEEP_FILE", "BATCH_FILE"]

#: the variants' specs, read by each task
SWEEP_FILE = "sweep.json"
#: the batch script submitted
BATCH_FILE = "sweep.sbatch"
#: the folder of the tasks' output (``slurm-<job>_<task>.out``)
LOG_DIR = "logs"

#: a task's squeue state -> its row's status when it ended without a final record
_STATE_STATUS = {"CANCELLED": "cancelled", "TIMEOUT": "timeout", "PREEMPTED": "cancelled", "DEADLINE": "timeout"}
#: row statuses that mean the array was stopped rather than the variant failing
_STOPPED = ("cancelled", "timeout", "stopped", "pending", "running")


def _script(n: int, *, job_name: str, partition: str | None, time: str | None, account: str | None,
            extra_sbatch: Sequence[str], cpus_per_task: int, setup: str, max_parallel: int | None,
            sweep_file: str) -> str:
    array = f"0-{n - 1}" + (f"%{int(max_parallel)}" if max_parallel else "")
    lines = ["#!/bin/sh", f"#SBATCH --job-name={job_name}", f"#SBATCH --array={array}", "#SBATCH --ntasks=1",
             f"#SBATCH --cpus-per-task={int(cpus_per_task)}", "#SBATCH --export=ALL"]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    if time:
        lines.append(f"#SBATCH --time={time}")
    lines += [f"#SBATCH {o.strip()}" for o in extra_sbatch if o.strip()]
    lines += ["# --chdir (the output folder) and --output (logs/slurm-%A_%a.out) are on sbatch's command line",
              f"export OMP_NUM_THREADS={int(cpus_per_task)}"]
    lines += [s for s in setup.splitlines() if s.strip()]
    lines.append(f"exec {shlex.quote(sys.executable)} -m modelkit.cluster._variant {shlex.quote(sweep_file)}")
    return "\n".join(lines) + "\n"


def submit_array(specs: list[dict], output_dir: str, *, partition: str | None = None, time: str | None = None,
                 account: str | None = None, extra_sbatch: Sequence[str] = (), cpus_per_task: int = 1,
                 setup: str = "", max_parallel: int | None = None) -> SlurmArraySweep:
    """Write the specs and the batch script into ``output_dir`` and submit one job array of ``len(specs)`` tasks.

    Parameters
    ----------
    specs : list of dict
        One per variant, as :func:`modelkit.cluster._variant.run_and_record` takes them.
    output_dir : str
        The sweep's folder (absolute).
    partition, time, account : str, optional
        ``#SBATCH --partition``, ``--time`` (per task: ``HH:MM:SS`` or minutes) and ``--account``.
    extra_sbatch : sequence of str
        More ``#SBATCH`` options (``["--mem=4G"]``).
    cpus_per_task : int
        ``--cpus-per-task`` (and ``OMP_NUM_THREADS``) of each task.
    setup : str
        Shell lines run before the variant (``module load ...``, activating a venv).
    max_parallel : int, optional
        At most this many tasks at once (``--array=0-N%max``).

    Returns
    -------
    SlurmArraySweep

    Raises
    ------
    ClusterError
        ``sbatch`` missing, or refusing the job (its message: no such partition, account, ...).
    """
    if shutil.which("sbatch") is None:
        raise ClusterError("sweep(backend='slurm-array'): sbatch not found on PATH; run the sweep from a node with "
                           "the Slurm client commands (sbatch, squeue, scancel), or load Slurm's module")
    if cpus_per_task < 1:
        raise ClusterError(f"sweep(backend='slurm-array'): cpus_per_task must be >= 1, got {cpus_per_task}")
    if max_parallel is not None and max_parallel < 1:
        raise ClusterError(f"sweep(backend='slurm-array'): max_parallel must be >= 1, got {max_parallel}")
    out = Path(output_dir)
    (out / LOG_DIR).mkdir(parents=True, exist_ok=True)
    sweep_id = uuid.uuid4().hex
    sweep_file = out / SWEEP_FILE
    try:
        text = json.dumps({"sweep_id": sweep_id, "job_id": None, "variants": specs}, default=jsonable)
    except TypeError as e:
        raise ClusterError(f"sweep(backend='slurm-array'): the variants must be JSON values to reach the job "
                           f"array's tasks ({e})") from e
    tmp = sweep_file.with_name(f".{SWEEP_FILE}.tmp")
    tmp.write_text(text)
    os.replace(tmp, sweep_file)
    script = _script(len(specs), job_name="modelkit-sweep", partition=partition, time=time, account=account,
                     extra_sbatch=extra_sbatch, cpus_per_task=cpus_per_task, setup=setup,
                     max_parallel=max_parallel, sweep_file=str(sweep_file))
    (out / BATCH_FILE).write_text(script)
    r = _client(["sbatch", "--parsable", f"--chdir={out}", f"--output={out / LOG_DIR}/slurm-%A_%a.out",
                 str(out / BATCH_FILE)], cwd=str(out))
    if r.returncode != 0:
        raise ClusterError(f"sbatch refused the sweep's job array ({out / BATCH_FILE}): "
                           f"{(r.stderr or r.stdout).strip() or f'exit {r.returncode}'}")
    job_id = r.stdout.strip().split(";")[0]
    data = json.loads(text)
    data["job_id"] = job_id
    tmp.write_text(json.dumps(data))
    os.replace(tmp, sweep_file)
    return SlurmArraySweep(str(out), job_id, specs, sweep_id)


class SlurmArraySweep:
    """A sweep submitted as one Slurm job array; its progress and results read from the output folder.

    Attributes
    ----------
    job_id : str
        The array's job id (task ``k`` is ``<job_id>_<k>``).
    output_dir : str
        The sweep's folder: ``sweep.sbatch``, ``sweep.json``, ``logs/``, ``variant_<k>/``.
    """

    def __init__(self, output_dir: str, job_id: str, specs: list[dict], sweep_id: str) -> None:
        self.output_dir = output_dir
        self.job_id = job_id
        self._specs = specs
        self._sweep_id = sweep_id
        self._states: dict[int, str] = {}  # last squeue state seen per task (ended tasks leave the queue)
        self._reasons: dict[int, str] = {}  # squeue's reason of the tasks seen pending

    @classmethod
    def from_folder(cls, output_dir: str | os.PathLike) -> SlurmArraySweep:
        """The sweep submitted into ``output_dir`` (e.g. from an earlier notebook session).

        Raises
        ------
        ClusterError
            No submitted sweep there.
        """
        path = os.path.join(os.path.abspath(os.fspath(output_dir)), SWEEP_FILE)
        try:
            with open(path) as f:
                data = json.load(f)
            return cls(os.path.dirname(path), str(data["job_id"]), data["variants"], data["sweep_id"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ClusterError(f"{path}: no job array sweep submitted there ({type(e).__name__}: {e})") from None

    def __repr__(self) -> str:
        return f"<SlurmArraySweep job {self.job_id}: {len(self._specs)} variants in {self.output_dir}>"

    def _poll(self) -> bool:
        """Refresh the tasks' states from ``squeue``; True while a task is pending or running."""
        r = _client(["squeue", "-h", "-r", "-t", "all", "-j", self.job_id, "-o", "%i|%T|%r"])
        if r.returncode != 0:  # "Invalid job id specified": every task ended and left the queue
            return "invalid job id" not in (r.stderr + r.stdout).lower()  # else ask again at the next poll
        active = False
        for line in r.stdout.splitlines():
            task, state, reason = (line.strip().split("|") + ["", ""])[:3]
            job, _, k = task.partition("_")
            if job != self.job_id or not k.isdigit():
                continue
            self._states[int(k)] = state
            if state == "PENDING":
                self._reasons[int(k)] = reason
            active |= state not in _ENDED
        return active

    def _record(self, k: int) -> dict | None:
        rec = read_record(self._specs[k]["kwargs"]["output_dir"])
        return rec if rec is not None and rec.get("sweep_id") == self._sweep_id else None  # not an older sweep's

    def _log(self, k: int) -> str:
        return os.path.join(self.output_dir, LOG_DIR, f"slurm-{self.job_id}_{k}.out")

    def _status(self, k: int, rec: dict | None, over: bool) -> tuple[str, str | None]:
        state = self._states.get(k, "")
        if rec is not None and rec["status"] != "running":
            return rec["status"], rec.get("error")
        if state not in _ENDED and not over:
            return ("running" if rec is not None or state == "RUNNING" else "pending"), None
        status = _STATE_STATUS.get(state, "failed" if state else ("cancelled" if rec is None else "failed"))
        try:
            tail = "\n".join(Path(self._log(k)).read_text(errors="replace").splitlines()[-10:])
        except OSError:
            tail = ""
        return status, (f"Slurm task {self.job_id}_{k} ended ({state or 'left the queue'}) before the variant "
                        f"finished; its log {self._log(k)}:\n{tail}")

    def counts(self) -> dict[str, int]:
        """How many variants are ``pending``, ``running``, ``done``, ``failed`` (and stopped), from the folders
        and ``squeue``."""
        return self._counts_now(not self._poll())

    def table(self, *, over: bool | None = None) -> Any:
        """The results table so far: one row per variant (see :func:`~modelkit.cluster.sweep`)."""
        from modelkit.cluster.sweep import results_table

        if over is None:
            over = not self._poll()
        records = []
        for k, spec in enumerate(self._specs):
            rec = self._record(k)
            status, error = self._status(k, rec, over)
            base = rec if rec is not None else {"params": spec["params"], "config_hash": spec["config_hash"],
                                                 "seed": spec["seed"], "output_dir": spec["kwargs"]["output_dir"]}
            records.append({**base, "status": status, "error": error, "slurm_job": f"{self.job_id}_{k}"})
        return results_table(records)

    def cancel(self, timeout: float = 30.0) -> None:
        """``scancel`` the array and wait (up to ``timeout`` s) until its tasks have left the running states."""
        _client(["scancel", self.job_id])
        deadline = _time.monotonic() + timeout
        while self._poll() and _time.monotonic() < deadline:
            _time.sleep(0.2)

    def wait(self, timeout: float | None = None, *, progress: bool | Callable[[dict[str, int]], Any] = False,
             poll: float = 1.0) -> Any:
        """Wait until every task has ended; the results table.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; then the array is cancelled and a ``ClusterError`` raised (default: no limit).
        progress : bool or callable
            ``True``: a progress bar of the variants finished; a callable: called with :meth:`counts`' dict
            whenever it changes.
        poll : float
            Seconds between looks at the folders and the queue.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ClusterError
            The array (or some of its tasks) was cancelled, ran past its time limit, or did not finish within
            ``timeout`` (it is then cancelled); the message names the job and the variants, and the error's
            ``table`` is the table so far (rows ``cancelled``/``timeout``/``stopped`` for those not run whole).
        """
        deadline = None if timeout is None else _time.monotonic() + timeout
        bar = None
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(self._specs), unit="variant", desc=f"Slurm job {self.job_id}", leave=False)
        last: dict[str, int] = {}
        timed_out = False
        try:
            while True:
                active = self._poll()
                counts = self._counts_now(not active)
                if counts != last:
                    last = counts
                    if bar is not None:
                        bar.n = len(self._specs) - counts["pending"] - counts["running"]
                        bar.set_postfix({k: v for k, v in counts.items() if v}, refresh=True)
                    elif callable(progress):
                        progress(dict(counts))
                if not active:
                    break
                if deadline is not None and _time.monotonic() > deadline:
                    timed_out = True
                    self.cancel()
                    break
                _time.sleep(poll)
        except KeyboardInterrupt:  # the notebook's stop button: the array is the notebook's work
            self.cancel()
            raise
        finally:
            if bar is not None:
                bar.close()
        table = self.table(over=True)
        stopped = [k for k, s in enumerate(table["status"]) if s in _STOPPED]
        if timed_out or stopped:
            why = (f"did not finish within {timeout:g} s and was cancelled" if timed_out
                   else "was cancelled or ran past its time limit")
            waiting = sorted({self._reasons[k] for k in stopped if k in self._reasons and not self._started(k)})
            if waiting:
                why += f" (tasks still pending then; squeue's reason: {', '.join(waiting)})"
            err = ClusterError(f"Slurm job array {self.job_id} {why}: variant(s) {stopped} did not run to the end "
                               f"({dict(table['status'].value_counts())}); the table so far is this error's "
                               f"`table`, the tasks' logs are in {os.path.join(self.output_dir, LOG_DIR)}")
            err.table = table  # type: ignore[attr-defined]
            err.job_id = self.job_id  # type: ignore[attr-defined]
            raise err
        return table

    def _started(self, k: int) -> bool:
        return self._states.get(k) not in (None, "PENDING", "CANCELLED") or self._record(k) is not None

    def _counts_now(self, over: bool) -> dict[str, int]:
        counts: dict[str, int] = {"pending": 0, "running": 0, "done": 0, "failed": 0}
        for k in range(len(self._specs)):
            status, _ = self._status(k, self._record(k), over)
            counts[status] = counts.get(status, 0) + 1
        return counts
