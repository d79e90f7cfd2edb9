"""Parameter sweeps: many variants of one built network across the engines, one row of results each.

The SONATA files are never rebuilt: every variant is the same simulation config with some keys
overridden (``run.tstop``, ``run.dt``, ``inputs.<name>.<key>`` such as an input file or rate,
``conditions.celsius``, ...), plus ``seed`` for the simulator's random streams, plus model parameters
``dynamics.<node set or population>.<param>``, ``node_types.<target>.<param>`` and
``edge_types.<edge_type_id>.<syn_weight or delay>``, applied in memory as ``simulate``'s ``overrides``
(:mod:`modelkit.simulator.overrides`: the backend sees per-node ``dynamics_params`` and the new edge values).
Each variant runs :func:`~modelkit.simulator.simulate` in an engine (load-balanced), or as a task of one Slurm
job array (``backend="slurm-array"``, :mod:`modelkit.cluster.slurm_array`), and writes to its own folder with a
record of the run (:mod:`modelkit.cluster._variant`: status, numbers, config hash, seed, versions).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelkit._typing import PathLike
from modelkit.cluster._variant import config_hash, effective_seed, run_and_record
from modelkit.cluster.engines import client_of
from modelkit.cluster.errors import ClusterError
from modelkit.sonata.textfile import MAX_JSON_BYTES, read_text

__all__ = ["sweep", "variants", "results_table"]

#: keys that are arguments of simulate() rather than config paths
_SIMULATE_KEYS = ("seed", "threads")
#: keys applied to the network in memory (simulate's ``overrides``)
_MODEL_KEYS = ("dynamics.", "node_types.", "edge_types.")


def variants(grid: Mapping[str, Sequence[Any]], *, product: bool = True) -> list[dict[str, Any]]:
    """The parameter combinations of a sweep.

    Parameters
    ----------
    grid : mapping
        ``{"path.to.key": [values], ...}``.
    product : bool
        Every combination (True) or the lists zipped element by element (False; equal lengths).

    Returns
    -------
    list of dict

    Raises
    ------
    ClusterError
        Empty value lists, or unequal lengths with ``product=False``.
    """
    keys = list(grid)
    values = [list(grid[k]) for k in keys]
    if any(len(v) == 0 for v in values):
        raise ClusterError(f"sweep: every parameter needs at least one value, got {dict(zip(keys, values))}")
    if product:
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    if len({len(v) for v in values}) > 1:
        raise ClusterError(f"sweep(product=False): value lists must have equal lengths, got "
                           f"{ {k: len(v) for k, v in zip(keys, values)} }")
    return [dict(zip(keys, combo)) for combo in zip(*values)]


def _set_path(d: dict, path: str, value: Any, source: str) -> None:
    parts = path.split(".")
    node = d
    for i, p in enumerate(parts[:-1]):
        if not isinstance(node.get(p), dict):
            raise ClusterError(f"{source}: sweep key {path!r}: no section {'.'.join(parts[:i + 1])!r} in the "
                               f"simulation config (known: {sorted(node)})")
        node = node[p]
    node[parts[-1]] = value


def _split_dynamics_key(key: str, source: str) -> tuple[str, str]:
    """``dynamics.<target>.<param>`` -> (target, param); the target may itself hold dots."""
    parts = key.split(".")
    if len(parts) < 3 or not parts[-1] or not parts[1]:
        raise ClusterError(f"{source}: sweep key {key!r}: expected 'dynamics.<node set or population>.<parameter>'")
    return ".".join(parts[1:-1]), parts[-1]


_ROW_KEYS = ("status", "n_spikes", "seconds", "output_dir", "error")
_META_KEYS = ("config_hash", "seed", "backend")


def results_table(records: Sequence[Mapping[str, Any]]) -> Any:
    """The sweep's table from the variants' records (:mod:`modelkit.cluster._variant`), one row each: the
    parameters, ``status``, ``n_spikes``, ``seconds``, ``output_dir``, ``error``, ``rate_<population>`` (Hz),
    then ``config_hash``, ``seed``, ``backend``, ``modelkit_version``, ``simulator_version`` (and
    ``slurm_job`` for a job array)."""
    import pandas as pd

    rows = []
    for rec in records:
        row: dict[str, Any] = dict(rec.get("params") or {})
        row.update({k: rec.get(k) for k in _ROW_KEYS})
        row.update({f"rate_{p}": r for p, r in (rec.get("rates") or {}).items()})
        row.update({k: rec.get(k) for k in _META_KEYS})
        vers = rec.get("versions") or {}
        row.update(modelkit_version=vers.get("modelkit"), simulator_version=vers.get("simulator"))
        if "slurm_job" in rec:
            row["slurm_job"] = rec["slurm_job"]
        rows.append(row)
    return pd.DataFrame(rows)


def _prepare(config: Any, grid: Mapping[str, Sequence[Any]], product: bool, output_dir: PathLike) -> list[dict]:
    """Every variant's spec (:func:`modelkit.cluster._variant.run_and_record`), its keys checked before anything
    runs."""
    path = os.path.abspath(os.fspath(config))
    # a regular file of bounded size: a FIFO or /dev/zero here would hang the notebook before any engine runs
    text = read_text(path, "simulation config", MAX_JSON_BYTES)
    try:
        base = json.loads(text)
    except ValueError as e:
        raise ClusterError(f"{path}: sweep needs a readable simulation config JSON ({e})") from e
    out_root = os.path.abspath(os.fspath(output_dir))
    specs = []
    for k, params in enumerate(variants(grid, product=product)):
        data = copy.deepcopy(base)
        kwargs: dict[str, Any] = {"progress": False, "output_dir": os.path.join(out_root, f"variant_{k}"),
                                  "overwrite": True}
        model: dict[str, Any] = {}
        for key, value in params.items():
            if key in _SIMULATE_KEYS:
                kwargs[key] = value
            elif key.startswith(_MODEL_KEYS):
                if key.startswith("dynamics."):
                    _split_dynamics_key(key, path)
                model[key] = value
            else:
                _set_path(data, key, value, path)
        specs.append({"variant": k, "params": params, "config": data, "base_dir": os.path.dirname(path),
                      "path": path, "kwargs": kwargs, "overrides": model,
                      "config_hash": config_hash(data, model, kwargs), "seed": effective_seed(data, kwargs)})
    if any(s["overrides"] for s in specs):  # bad targets fail here, before anything runs
        from modelkit.simulator.overrides import apply_overrides
        from modelkit.sonata import Network, SimulationConfig
        cfg = SimulationConfig.from_dict(copy.deepcopy(base), os.path.dirname(path), path)
        apply_overrides(cfg, Network.from_config(cfg), specs[0]["overrides"])
    return specs


def sweep(config: Any, grid: Mapping[str, Sequence[Any]], *, output_dir: PathLike, cluster: Any = None,
          backend: str = "engines", engines: Any = None, product: bool = True, timeout: float | None = None,
          partition: str | None = None, time: str | None = None, account: str | None = None,
          extra_sbatch: Sequence[str] = (), cpus_per_task: int = 1, setup: str = "",
          max_parallel: int | None = None, progress: bool | Callable[[dict[str, int]], Any] = False,
          wait: bool = True) -> Any:
    """Run variants of one simulation across the engines, or as one Slurm job array, and return a table of results.

    Parameters
    ----------
    config : str or PathLike
        The simulation config file (read here; the engines or the Slurm tasks must be able to read its
        network files).
    grid : mapping
        ``{"run.tstop": [500, 1000], "seed": [1, 2, 3], "inputs.bg.input_file": [...],
        "dynamics.exc.tau_m": [10.0, 20.0]}``: dotted paths into the simulation config JSON, ``seed`` /
        ``threads`` (arguments of ``simulate``), or ``dynamics.<node set or population>.<parameter>`` (a
        model parameter of those nodes, in the model's units, overridden without rebuilding the files).
    output_dir : str or PathLike
        Variant ``k`` writes to ``<output_dir>/variant_<k>``, with its record ``variant.json`` (parameters,
        status, numbers, error, config hash, seed, versions).
    cluster : ipyparallel.Client, view or Cluster
        The engines (``backend="engines"``): local, MPI or Slurm engines from
        :func:`~modelkit.cluster.start_cluster`.
    backend : str
        ``"engines"`` (load-balanced over ``cluster``'s engines) or ``"slurm-array"``: no engines, one Slurm
        job array whose task ``k`` runs variant ``k`` (:mod:`modelkit.cluster.slurm_array`); the batch
        script ``sweep.sbatch``, the specs ``sweep.json`` and the tasks' logs ``logs/slurm-<job>_<k>.out``
        go into ``output_dir``, nothing into the working folder.
    engines : list of int, optional
        Engines to spread the variants over (default all).
    product : bool
        All combinations, or zipped lists (see :func:`variants`).
    timeout : float, optional
        Seconds to wait for all variants (a job array still running then is cancelled).
    partition, time, account : str, optional
        ``"slurm-array"`` only: ``#SBATCH --partition``, ``--time`` (each task's limit, ``HH:MM:SS`` or
        minutes) and ``--account``.
    extra_sbatch : sequence of str
        ``"slurm-array"`` only: more ``#SBATCH`` options (``["--mem=4G"]``).
    cpus_per_task : int
        ``"slurm-array"`` only: ``--cpus-per-task`` of each task (pass ``threads`` in the grid to use them).
    setup : str
        ``"slurm-array"`` only: shell lines each task runs first (``module load ...``, activating a venv).
    max_parallel : int, optional
        ``"slurm-array"`` only: at most this many tasks at once (``--array=0-N%max``).
    progress : bool or callable
        ``"slurm-array"`` only: a progress bar of the variants finished (True), or a function called with
        ``{"pending": n, "running": n, "done": n, "failed": n}`` whenever that changes.
    wait : bool
        ``"slurm-array"`` only: False returns at once with the :class:`~modelkit.cluster.slurm_array.SlurmArraySweep`
        (``job_id``, ``counts()``, ``table()``, ``wait()``, ``cancel()``); the array runs on without the notebook.

    Returns
    -------
    pandas.DataFrame
        One row per variant: the parameters, ``status`` (``"done"``/``"failed"``), ``n_spikes``, ``seconds``,
        ``output_dir``, ``error`` (the run's message), ``rate_<population>`` (Hz), then ``config_hash``
        (SHA-256 of the variant's config, model overrides, seed and threads), ``seed`` (the one used),
        ``backend``, ``modelkit_version``, ``simulator_version``, and for a job array ``slurm_job``
        (``<job>_<k>``).  A failed variant is a row with its error; the others still run.

    Raises
    ------
    ClusterError
        A key that names no section of the config, or an invalid grid (before anything runs); Slurm options
        with ``backend="engines"``; for ``"slurm-array"``, ``sbatch`` missing or refusing the array, and an
        array cancelled, past its time limit or past ``timeout``: the message names the job, and the error's
        ``table`` attribute holds the table so far.
    ConfigError
        A ``dynamics.*``, ``node_types.*`` or ``edge_types.*`` key that names nothing in the network (before
        anything runs).

    Examples
    --------
    >>> table = sweep("config.simulation.json", {"seed": [1, 2, 3]}, cluster=rc, output_dir="sweep")  # doctest: +SKIP
    >>> table[["seed", "rate_cortex"]]                                                               # doctest: +SKIP

    The same as one Slurm job array, without engines:

    >>> table = sweep("config.simulation.json", {"seed": [1, 2, 3]}, backend="slurm-array",
    ...               output_dir="sweep", partition="compute", time="00:30:00", progress=True)  # doctest: +SKIP
    """
    if backend not in ("engines", "slurm-array"):
        raise ClusterError(f"sweep: backend must be 'engines' or 'slurm-array', got {backend!r}")
    slurm_only = dict(partition=partition, time=time, account=account, extra_sbatch=list(extra_sbatch) or None,
                      cpus_per_task=None if cpus_per_task == 1 else cpus_per_task, setup=setup or None,
                      max_parallel=max_parallel, progress=progress or None, wait=None if wait else False)
    if backend == "engines":
        if cluster is None:
            raise ClusterError("sweep: backend='engines' needs cluster= (start_cluster(...)); or pass "
                               "backend='slurm-array' to run the variants as one Slurm job array")
        given = [k for k, v in slurm_only.items() if v is not None]
        if given:
            raise ClusterError(f"sweep: {', '.join(given)} apply to backend='slurm-array' only")
    elif cluster is not None or engines is not None:
        raise ClusterError("sweep(backend='slurm-array') runs the variants as Slurm tasks, not on engines: "
                           "leave out cluster= and engines=")
    specs = _prepare(config, grid, product, output_dir)
    if backend == "slurm-array":
        from modelkit.cluster.slurm_array import submit_array

        job = submit_array(specs, os.path.abspath(os.fspath(output_dir)), partition=partition, time=time,
                           account=account, extra_sbatch=extra_sbatch, cpus_per_task=cpus_per_task, setup=setup,
                           max_parallel=max_parallel)
        return job.wait(timeout, progress=progress) if wait else job
    client = client_of(cluster)
    view = client.load_balanced_view(engines if engines is not None else client.ids)
    ars = [view.apply_async(run_and_record, spec) for spec in specs]
    records = []
    for spec, ar in zip(specs, ars):
        try:
            records.append(ar.get(timeout=timeout))
        except Exception as e:  # the engine died, or the wait timed out: one variant does not lose the others
            records.append({"params": spec["params"], "status": "failed", "output_dir": spec["kwargs"]["output_dir"],
                            "error": f"{getattr(e, 'ename', type(e).__name__)}: {getattr(e, 'evalue', e)}",
                            "config_hash": spec["config_hash"], "seed": spec["seed"]})
    return results_table(records)
