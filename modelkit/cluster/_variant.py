"""One variant of a sweep, where it is scheduled: in an engine (``sweep(cluster=...)``) or as a task of a Slurm
job array (``sweep(backend="slurm-array")``: ``python -m modelkit.cluster._variant <output_dir>/sweep.json``,
the variant picked by ``SLURM_ARRAY_TASK_ID``).

Either way the variant's output folder gets a record, ``variant.json`` (written whole: a temporary file renamed
over it): the parameters, ``status`` (``running``, then ``done``, ``failed`` or ``stopped``), the numbers of
the table (spike count, rates, seconds), the error, and what makes the run reproducible -- the config hash,
the seed and the versions of modelkit, Python and the simulator.  A run that failed leaves its partial files
in ``<folder>.failed`` (:mod:`modelkit.simulator.staging`) and its record in ``<folder>``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import sys
import time
from typing import Any

__all__ = ["RECORD_NAME", "config_hash", "effective_seed", "run_and_record", "read_record", "write_record"]

#: the record of a variant, in its output folder
RECORD_NAME = "variant.json"

#: simulate() arguments that say where and how to show a run, not what it computes: not in the config hash
_NOT_HASHED = ("output_dir", "overwrite", "progress")


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy scalars and arrays, paths; anything else is refused."""
    if hasattr(value, "tolist"):  # numpy scalar or array
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{value!r} ({type(value).__name__}) is not a JSON value")


def config_hash(config: dict, overrides: dict, kwargs: dict) -> str:
    """SHA-256 (hex) of what a variant computes: its simulation config, model overrides and ``simulate``
    arguments (seed, threads), as canonical JSON; where it writes is left out, so the same variant in two
    sweeps has the same hash."""
    what = {"config": config, "overrides": overrides,
            "simulate": {k: v for k, v in kwargs.items() if k not in _NOT_HASHED}}
    text = json.dumps(what, sort_keys=True, separators=(",", ":"), default=jsonable)
    return hashlib.sha256(text.encode()).hexdigest()


def effective_seed(config: dict, kwargs: dict) -> int:
    """The seed ``simulate`` uses: its ``seed`` argument, else ``run.random_seed``, else 0."""
    seed = kwargs.get("seed")
    if seed is None:
        run = config.get("run")
        seed = run.get("random_seed") if isinstance(run, dict) else None
    return int(seed or 0)


def versions(backend: str | None) -> dict[str, str | None]:
    """modelkit's, Python's and the simulator's versions (the backend's module, e.g. ``nest``, ``neuron``)."""
    import modelkit

    sim = None
    if backend:
        sim = getattr(sys.modules.get(backend), "__version__", None)
        if sim is None:  # a backend of modelkit's own (filter, population): modelkit's version
            sim = modelkit.__version__ if f"modelkit.simulator.{backend}" in sys.modules else None
    return {"modelkit": modelkit.__version__, "python": sys.version.split()[0], "simulator": sim}


def write_record(folder: str, record: dict) -> None:
    """Write ``<folder>/variant.json`` whole: readers see the old record or the new one."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, RECORD_NAME)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1, default=jsonable)
    os.replace(tmp, path)


def read_record(folder: str) -> dict | None:
    """The record of the variant in ``folder``; None before it was written (or while unreadable)."""
    try:
        with open(os.path.join(folder, RECORD_NAME)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_and_record(spec: dict, extra: dict | None = None) -> dict:
    """Run one variant with :func:`~modelkit.simulator.simulate` and record it in its output folder.

    Parameters
    ----------
    spec : dict
        ``variant`` (int), ``params``, ``config`` (the simulation config dict), ``base_dir``, ``path``,
        ``kwargs`` (``simulate``'s, with ``output_dir``), ``overrides`` (model parameters), ``config_hash``,
        ``seed``.
    extra : dict, optional
        More keys for the record (the Slurm task, the host).

    Returns
    -------
    dict
        The record: ``status`` ``"done"``, ``"failed"`` (the error in ``error``) or ``"stopped"`` (a signal:
        the job cancelled or past its time limit; re-raised after the record is written).
    """
    from modelkit.simulator import simulate
    from modelkit.sonata import SimulationConfig

    out = spec["kwargs"]["output_dir"]
    record: dict[str, Any] = {
        "variant": spec["variant"], "params": spec["params"], "status": "running", "n_spikes": None, "rates": {},
        "seconds": None, "output_dir": out, "error": None, "config_hash": spec["config_hash"],
        "seed": spec["seed"], "backend": None, "versions": versions(None), "host": socket.gethostname(),
        "started": _now(), "ended": None, **(extra or {})}
    write_record(out, record)
    t0 = time.perf_counter()
    try:
        cfg = SimulationConfig.from_dict(spec["config"], spec["base_dir"], spec["path"])
        r = simulate(cfg, overrides=spec["overrides"] or None, **spec["kwargs"])
    except BaseException as e:  # the record says how it ended; a signal still ends the process
        stopped = not isinstance(e, Exception)
        record.update(status="stopped" if stopped else "failed", seconds=time.perf_counter() - t0,
                      error=f"{type(e).__name__}: {e}", ended=_now())
        write_record(out, record)
        if stopped:
            raise
        return record
    record.update(status="done", n_spikes=int(sum(r.n_spikes.values())), rates=r.rates(), output_dir=r.output_dir,
                  seconds=time.perf_counter() - t0, backend=r.backend, versions=versions(r.backend), ended=_now())
    write_record(out, record)
    return record


def main(argv: list[str] | None = None) -> int:
    """A task of a sweep's job array: run variant ``$SLURM_ARRAY_TASK_ID`` of ``argv[0]`` (``sweep.json``).

    Exits 0 when the variant ran, 1 when it failed (its record holds the error), 2 on a bad command line.
    """
    args = sys.argv[1:] if argv is None else argv
    task = os.environ.get("SLURM_ARRAY_TASK_ID", args[1] if len(args) > 1 else "")
    if not args or not task.isdigit():
        print("usage: python -m modelkit.cluster._variant SWEEP_JSON [TASK] (TASK default $SLURM_ARRAY_TASK_ID)",
              file=sys.stderr)
        return 2
    with open(args[0]) as f:
        sweep = json.load(f)
    spec = sweep["variants"][int(task)]
    job = os.environ.get("SLURM_ARRAY_JOB_ID")
    extra = {"sweep_id": sweep.get("sweep_id"), "slurm_job": f"{job}_{task}" if job else None}
    record = run_and_record(spec, extra)
    print(f"variant {task}: {record['status']}" + (f" ({record['error']})" if record["error"] else ""), flush=True)
    return 0 if record["status"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
