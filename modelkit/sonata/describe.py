"""What a SONATA file or folder holds, as one JSON-ready dict (``modelkit info --json``, the lab viewer)."""

from __future__ import annotations

import math
import os
from typing import Any

from modelkit._typing import PathLike
from modelkit.errors import ModelkitError
from modelkit.sonata.config import SimulationConfig, load_config
from modelkit.sonata.network import Network, classify_h5
from modelkit.sonata.reports import CompartmentReport
from modelkit.sonata.spikes import read_spikes
from modelkit.sonata.validate import validate

__all__ = ["describe"]


def _cell(v: Any) -> Any:
    """A node-types table value as JSON (NaN and pandas NA become None)."""
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (bool, int, float, str)):
        return v
    try:
        import pandas as pd
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _node_type_tables(net: Network, out: dict[str, Any]) -> None:
    for name, pop in net.nodes.items():
        if name not in out["nodes"]:  # unreadable: listed with its problem, no table to show
            continue
        df = pop.node_types
        counts = out["nodes"].get(name, {}).get("node_types", {})
        cols = [str(c) for c in df.columns]
        rows = [[int(tid), int(counts.get(str(int(tid)), 0))] + [_cell(v) for v in row]
                for tid, row in zip(df.index.tolist(), df.itertuples(index=False, name=None))]
        rows.sort(key=lambda r: r[0])
        out["nodes"][name]["node_types_table"] = {"columns": ["node_type_id", "count", *cols], "rows": rows}


def describe(path: PathLike, *, node_types_table: bool = False) -> dict[str, Any]:
    """Populations, counts, types and problems of a config, folder or SONATA file.

    Parameters
    ----------
    path : str or PathLike
        A circuit or simulation config (``.json``), a folder of SONATA files, or one nodes,
        edges, spikes or report ``.h5`` file.
    node_types_table : bool
        Also give each node population's node-types table (``{"columns", "rows"}``, one row
        per type with its node count).

    Returns
    -------
    dict
        ``{"path", "kind", "nodes": {pop: {"count", "node_types", ...}},
        "edges": {pop: {"count", "source", "target", ...}}, "problems": [...]}``;
        spikes and report files give ``spikes`` / ``report`` instead of nodes/edges (times in ms).
        Problems that stop the file from being read appear in ``problems``; nothing is raised
        for them.
    """
    p = os.path.abspath(os.fspath(path))
    out: dict[str, Any] = {"path": p}
    problems = validate(p)
    kind = "folder" if os.path.isdir(p) else None
    net: Network | None = None
    try:
        if kind is None and p.endswith(".json"):
            cfg = load_config(p)
            kind = "simulation_config" if isinstance(cfg, SimulationConfig) else "circuit_config"
            if isinstance(cfg, SimulationConfig):
                out["run"] = {"tstart": cfg.run.tstart, "tstop": cfg.run.tstop, "dt": cfg.run.dt}
                out["inputs"] = {k: {"input_type": v.input_type, "module": v.module} for k, v in cfg.inputs.items()}
                out["reports"] = {k: {"module": v.module, "variable_name": v.variable_name}
                                  for k, v in cfg.reports.items()}
                out["output_dir"] = cfg.output.output_dir
            net = Network.from_config(cfg)
            out.update(net.summary())
        elif kind is None:
            kind = classify_h5(p)
            if kind in ("nodes", "edges"):
                net = Network.load(p)
                out.update(net.summary())
            elif kind == "spikes":
                out["spikes"] = {str(k): {"count": len(v), "n_nodes": int(len(set(v.node_ids.tolist()))),
                                          "t_min": float(v.timestamps.min()) if len(v) else None,
                                          "t_max": float(v.timestamps.max()) if len(v) else None,
                                          "sorting": v.sorting}
                                 for k, v in read_spikes(p).items()}
            elif kind == "report":
                rep = CompartmentReport(p)
                out["report"] = {r.population: {"n_nodes": len(r.node_ids), "n_elements": len(r.element_ids),
                                                "n_frames": r.n_frames, "time": list(r.time),
                                                "variable": r.variable, "units": r.units} for r in rep}
        else:
            net = Network.load(p)
            out.update(net.summary())
        if node_types_table and net is not None:
            _node_type_tables(net, out)
    except ModelkitError:
        pass  # already among the problems
    out["kind"] = kind
    out.setdefault("nodes", {})
    out.setdefault("edges", {})
    out["problems"] = [pr.to_dict() for pr in problems]
    return out
