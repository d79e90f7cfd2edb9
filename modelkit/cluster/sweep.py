"""Parameter sweeps: many variants of one built network across the engines, one row of results each.

The SONATA files are never rebuilt: every variant is the same simulation config with some keys
overridden (``run.tstop``, ``run.dt``, ``inputs.<name>.<key>`` such as an input file or rate,
``conditions.celsius``, ...), plus ``seed`` for the simulator's random streams, plus model parameters
``dynamics.<node set or population>.<param>``, ``node_types.<target>.<param>`` and
``edge_types.<edge_type_id>.<syn_weight or delay>``, applied in memory as ``simulate``'s ``overrides``
(:mod:`modelkit.simulator.overrides`: the backend sees per-node ``dynamics_params`` and the new edge values).
Each variant runs :func:`~modelkit.simulator.simulate` in an engine (load-balanced) and writes to its own folder.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from modelkit._typing import PathLike
from modelkit.cluster.engines import client_of
from modelkit.cluster.errors import ClusterError
from modelkit.sonata.textfile import MAX_JSON_BYTES, read_text

__all__ = ["sweep", "variants"]

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


def _sweep_task(data: dict, base_dir: str, path: str, kwargs: dict, overrides: dict | None = None) -> dict:
    """Runs in an engine: one variant, summarised (the RunResult's numbers)."""
    import time

    from modelkit.simulator import simulate
    from modelkit.sonata import SimulationConfig

    t0 = time.perf_counter()
    cfg = SimulationConfig.from_dict(data, base_dir, path)
    r = simulate(cfg, overrides=overrides or None, **kwargs)
    return {"n_spikes": sum(r.n_spikes.values()), "rates": r.rates(), "output_dir": r.output_dir,
            "seconds": time.perf_counter() - t0}


def sweep(config: Any, grid: Mapping[str, Sequence[Any]], *, cluster: Any, output_dir: PathLike,
          engines: Any = None, product: bool = True, timeout: float | None = None) -> Any:
    """Run variants of one simulation across the engines and return a table of results.

    Parameters
    ----------
    config : str or PathLike
        The simulation config file (read here; the engines must be able to read its network files).
    grid : mapping
        ``{"run.tstop": [500, 1000], "seed": [1, 2, 3], "inputs.bg.input_file": [...],
        "dynamics.exc.tau_m": [10.0, 20.0]}``: dotted paths into the simulation config JSON, ``seed`` /
        ``threads`` (arguments of ``simulate``), or ``dynamics.<node set or population>.<parameter>`` (a
        model parameter of those nodes, in the model's units, overridden without rebuilding the files).
    cluster : ipyparallel.Client, view or Cluster
    output_dir : str or PathLike
        Variant ``k`` writes to ``<output_dir>/variant_<k>``.
    engines : list of int, optional
        Engines to spread the variants over (default all).
    product : bool
        All combinations, or zipped lists (see :func:`variants`).
    timeout : float, optional
        Seconds to wait for all variants.

    Returns
    -------
    pandas.DataFrame
        One row per variant: the parameters, ``status`` (``"done"``/``"failed"``), ``n_spikes``,
        ``rate_<population>`` (Hz), ``seconds``, ``output_dir`` and ``error`` (the engine's message).

    Raises
    ------
    ClusterError
        A key that names no section of the config, or an invalid grid (before anything runs).
    ConfigError
        A ``dynamics.*``, ``node_types.*`` or ``edge_types.*`` key that names nothing in the network (before
        anything runs).

    Examples
    --------
    >>> table = sweep("config.simulation.json", {"seed": [1, 2, 3]}, cluster=rc, output_dir="sweep")  # doctest: +SKIP
    >>> table[["seed", "rate_cortex"]]                                                               # doctest: +SKIP
    """
    import pandas as pd

    path = os.path.abspath(os.fspath(config))
    # a regular file of bounded size: a FIFO or /dev/zero here would hang the notebook before any engine runs
    text = read_text(path, "simulation config", MAX_JSON_BYTES)
    try:
        base = json.loads(text)
    except ValueError as e:
        raise ClusterError(f"{path}: sweep needs a readable simulation config JSON ({e})") from e
    client = client_of(cluster)
    out_root = os.path.abspath(os.fspath(output_dir))
    jobs = []
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
        jobs.append((params, data, kwargs, model))
    if any(d for *_, d in jobs):  # bad targets fail here, before anything runs
        from modelkit.simulator.overrides import apply_overrides
        from modelkit.sonata import Network, SimulationConfig
        cfg = SimulationConfig.from_dict(copy.deepcopy(base), os.path.dirname(path), path)
        apply_overrides(cfg, Network.from_config(cfg), jobs[0][3])
    view = client.load_balanced_view(engines if engines is not None else client.ids)
    ars = [view.apply_async(_sweep_task, data, os.path.dirname(path), path, kwargs, dyn)
           for _, data, kwargs, dyn in jobs]
    rows = []
    for (params, _, kwargs, _), ar in zip(jobs, ars):
        row: dict[str, Any] = dict(params)
        try:
            got = ar.get(timeout=timeout)
            row.update(status="done", n_spikes=got["n_spikes"], seconds=got["seconds"],
                       output_dir=got["output_dir"], error=None)
            row.update({f"rate_{p}": r for p, r in got["rates"].items()})
        except Exception as e:  # one failed variant does not lose the others
            row.update(status="failed", n_spikes=None, seconds=None, output_dir=kwargs["output_dir"],
                       error=f"{getattr(e, 'ename', type(e).__name__)}: {getattr(e, 'evalue', e)}")
        rows.append(row)
    return pd.DataFrame(rows)
