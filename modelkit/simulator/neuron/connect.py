"""Edges onto the cells of a rank: synapses on biophysical cells, NetCons onto artificial ones.

Edge columns are read as arrays; a property the edge-types table holds is looked up once per edge type.
Synapse locations are drawn per target cell from an RNG seeded by (run seed, target gid), so placement
does not depend on the order cells are built in or on how they are spread over ranks; the point processes
of an edge type are made, set and connected in one hoc loop (:func:`~modelkit.simulator.neuron.synapses.
make_synapses`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.neuron.morphology import Cell
from modelkit.simulator.neuron.synapses import (edge_weights, is_null, make_synapses, parse_range, parse_sections,
                                                segment_candidates, synapse_class, synapse_params,
                                                synapse_settings)

if TYPE_CHECKING:
    from modelkit.simulator.neuron.backend import NeuronBackend
    from modelkit.sonata import EdgePopulation

__all__ = ["connect_edges"]

log = logging.getLogger("modelkit.simulator.neuron")

#: the edge properties synapses are made from (per edge in the groups, or per type in the CSV)
_EDGE_PROPS = ("syn_weight", "nsyns", "delay", "model_template", "dynamics_params", "weight_function",
               "target_sections", "distance_range", "afferent_section_id", "afferent_section_pos", "sec_id", "sec_x")


def connect_edges(backend: NeuronBackend, ename: str, epop: EdgePopulation, comps: dict) -> int:
    """Make the synapses (or NetCons onto artificial cells) of the edges onto this rank's cells.

    Columns are read as arrays; a property the edge-types table holds is looked up once per
    edge type, never broadcast through the types table per edge (a DataFrame per edge type cost
    more than the synapses of a small network).

    Parameters
    ----------
    backend : NeuronBackend
        The run's backend, its cells of this rank built.
    ename : str
        Name of the edge population (in errors and in the short-delay counts).
    epop : EdgePopulation
        The edges (``syn_weight``, ``nsyns``, ``delay`` ms, ``model_template``, ``dynamics_params``, placement).
    comps : dict
        The config's ``components`` (``synaptic_models_dir``, ...).

    Returns
    -------
    int
        Number of synapses (or NetCons onto artificial cells) made on this rank.

    Raises
    ------
    ConfigError
        A synapse model, parameter file, section or weight function that does not fit, naming the edge file.
    """
    if epop.target is None or epop.source is None:  # the backend connects only edges between its populations
        return 0
    pc = backend.pc
    cells = backend._cells.get(epop.target, {})
    if not cells or not epop.size:
        return 0
    targets = backend._network.nodes[epop.target] if epop.target in backend._network.nodes else None
    # a rank's share (or a node set): only the edges onto these cells, by the edge index, in edge order
    sel = epop.afferent_edges(np.fromiter(cells, dtype=np.int64, count=len(cells))) \
        if targets is not None and len(cells) < targets.size else None
    src = epop.source_ids(sel)
    tgt = epop.target_ids(sel)
    eids = sel.flat if sel is not None else np.arange(epop.size, dtype=np.int64)
    if not len(tgt):
        return 0
    built = np.zeros(int(max(tgt.max(), max(cells)) + 1), dtype=bool)
    built[list(cells)] = True
    keep = built[tgt]
    et = epop.type_ids(sel) if epop.layout.has_type_id else np.zeros(len(tgt), np.int64)
    in_groups = set().union(*(gi.attributes for gi in epop.layout.groups.values()))
    types = epop.types if epop.layout.has_type_id else None
    per_edge = {c: epop.simulation_column(c, sel)[keep] for c in _EDGE_PROPS if c in in_groups}
    per_type = [c for c in _EDGE_PROPS if c not in in_groups and types is not None and c in types.columns]
    src, tgt, et, eids = src[keep], tgt[keep], et[keep], eids[keep]
    if not len(tgt):
        return 0
    src_base = backend._base[epop.source]
    n = 0
    seed = backend._options.seed if backend._options is not None else 0
    for t in np.unique(et).tolist():
        m = et == t
        where = f"/edges/{ename} edge_type_id {t}"
        cols = {c: v[m] for c, v in per_edge.items()}
        if per_type:
            cols.update(epop.type_values(t, per_type))
        k = int(np.count_nonzero(m))
        src_ids, tgt_ids = src[m], tgt[m]
        w = edge_weights(backend._network, epop, cols, src_ids, tgt_ids, eids[m], where, backend._node_frames)
        template = "Exp2Syn" if is_null(_first(cols, "model_template")) else str(_first(cols, "model_template"))
        params = synapse_params(_first(cols, "dynamics_params"), comps.get("synaptic_models_dir"), epop.path,
                                where)
        delay = _floats(cols, k, "delay", 1.0)
        _count_short_delays(backend, ename, delay)
        nsyns = _floats(cols, k, "nsyns", 1.0)
        nsyns = np.where(np.isnan(nsyns), 1.0, nsyns).astype(np.int64)
        src_gid = src_base + src_ids
        backend._virtual_used.append(src_gid)
        sec_col, pos_col = ("afferent_section_id", "afferent_section_pos") \
            if "afferent_section_id" in cols or "sec_id" not in cols else ("sec_id", "sec_x")  # bmtk's older names
        explicit = sec_col in cols and not np.isnan(_floats(cols, k, sec_col, np.nan)).any()
        for j, nid in enumerate(tgt_ids.tolist()):
            target = cells[nid]
            if not isinstance(target, Cell):  # artificial cell: one NetCon, weight x sign x nsyns (bmtk)
                nc = pc.gid_connect(int(src_gid[j]), target)
                nc.weight[0] = float(w[j]) * float(params.get("sign", 1.0)) * int(nsyns[j])
                nc.delay = float(delay[j])
                backend._keep.append(nc)
                n += 1
        if not any(isinstance(cells[i], Cell) for i in np.unique(tgt_ids).tolist()):
            continue
        if explicit:
            sec_id = _floats(cols, k, sec_col, 0.0).astype(np.int64)
            pos = _floats(cols, k, pos_col, 0.5)
            sections: list[Any] = []
            index: dict[Any, int] = {}
            sec_index, rows = [], []
            for j, nid in enumerate(tgt_ids.tolist()):
                cell = cells[nid]
                if not isinstance(cell, Cell):
                    continue
                if not 0 <= sec_id[j] < len(cell.sections):
                    raise ConfigError(epop.path, f"{where}: afferent_section_id",
                                      f"a section index < {len(cell.sections)} of cell {cell.label} "
                                      f"({cell.table.path})", str(int(sec_id[j])))
                sec = cell.sections[sec_id[j]]
                if sec not in index:
                    index[sec] = len(sections)
                    sections.append(sec)
                sec_index.append(index[sec])
                rows.append(j)
            r = np.asarray(rows, dtype=np.int64)
            n += _synapses(backend, template, params, sections, np.asarray(sec_index, dtype=np.int64), pos[r],
                           src_gid[r], w[r] * nsyns[r], delay[r], epop.path, where)
            continue
        n += _place(backend, epop, _first(cols, "target_sections"), _first(cols, "distance_range"), where, cells,
                    template, params, w, delay, nsyns, src_gid, tgt_ids, seed)
    return n


def _place(backend: Any, epop: Any, target_sections: Any, distance_range: Any, where: str, cells: dict, template: str,
           params: dict, w: np.ndarray, delay: np.ndarray, nsyns: np.ndarray, src_gid: np.ndarray,
           tgt_ids: np.ndarray, seed: int) -> int:
    if is_null(target_sections):
        raise ConfigError(epop.path, f"{where}: target_sections",
                          "target_sections (or afferent_section_id/afferent_section_pos) for synapses onto "
                          "biophysical cells", "none")
    sections_of = parse_sections(target_sections, epop.path, where)
    drange = parse_range(distance_range, epop.path, where)
    order = np.argsort(tgt_ids, kind="stable")
    bounds = np.flatnonzero(np.diff(tgt_ids[order])) + 1
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    sections: list[Any] = []
    sec_index: list[np.ndarray] = []
    xs: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for grp in np.split(order, bounds):
        nid = int(tgt_ids[grp[0]])
        cell = cells[nid]
        if not isinstance(cell, Cell):
            continue
        table = cell.table
        missing = [s for s in sections_of if not table.has_type(s)]
        if missing:
            raise ConfigError(epop.path, f"{where}: target_sections",
                              f"sections the morphology of cell {cell.label} has ({table.path})",
                              f"{missing} (absent)")
        if id(table) not in cache:
            cache[id(table)] = segment_candidates(table.seg_props, sections_of, drange)  # type: ignore[arg-type]
        cand, prob = cache[id(table)]
        if not len(cand):
            log.warning("%s: no segment of %s within %s µm on %s; no synapses", where, sections_of, drange,
                        cell.label)
            continue
        rng = np.random.default_rng([int(seed), backend._base[epop.target] + nid])
        counts = nsyns[grp]
        chosen = rng.choice(cand, int(counts.sum()), p=prob)
        props = table.seg_props
        assert props is not None
        used, inverse = np.unique(props["section"][chosen], return_inverse=True)
        sec_index.append(len(sections) + inverse.reshape(-1))
        xs.append(props["x"][chosen])
        secs = cell.sections
        sections += [secs[i] for i in used.tolist()]
        rows.append(np.repeat(grp, counts))
    if not sections:
        return 0
    r = np.concatenate(rows)
    return _synapses(backend, template, params, sections, np.concatenate(sec_index), np.concatenate(xs),
                     src_gid[r], w[r], delay[r], epop.path, where)


def _synapses(backend: Any, template: str, params: dict, sections: list[Any], sec_index: np.ndarray, x: np.ndarray,
              src_gid: np.ndarray, weight: np.ndarray, delay: np.ndarray, path: Any, where: str) -> int:
    """Point processes of one edge type at ``sections[sec_index[i]](x[i])``, each connected to its source
    gid (µS, ms)."""
    if not len(sec_index):
        return 0
    h = backend.h
    name, cls = synapse_class(h, template, path, where, backend.mechanisms_note())
    key = (template, name, repr(sorted(params.items())))
    settings = backend._settings.get(key)
    if settings is None:  # which of the JSON's keys this kind of point process has, from one probe
        probe = cls(sections[int(sec_index[0])](float(x[0])))
        settings = backend._settings[key] = synapse_settings(name, params, probe, template)
        del probe
    syns, ncs = make_synapses(h, backend.pc, name, settings, sections, sec_index, x, src_gid, weight, delay)
    backend._synapse_lists.append(syns)
    backend._keep.append(ncs)
    return len(sec_index)


def _first(cols: dict[str, np.ndarray], name: str) -> Any:
    """An edge type's value of a column (its first edge's, for a per-edge column); None without the column."""
    return cols[name][0] if name in cols else None


def _count_short_delays(backend: Any, ename: str, delay: np.ndarray) -> None:
    """Count the delays of zero and of less than one time step (``backend._short_delays[ename]``: [zero, below
    dt]): ParallelContext's ``psolve`` refuses them ("mindelay is 0"), so the run then steps as bmtk's does."""
    dt = backend._options.dt if backend._options is not None else 0.0
    short = delay < dt - 1e-9
    if short.any():
        counts = backend._short_delays.setdefault(ename, [0, 0])
        counts[0] += int(np.count_nonzero(delay == 0.0))
        counts[1] += int(np.count_nonzero(short))


def _floats(cols: dict[str, np.ndarray], n: int, name: str, default: float) -> np.ndarray:
    """A column of an edge type's ``n`` edges as floats (a per-type value broadcast), ``default`` without it."""
    if name not in cols:
        return np.full(n, default)
    return np.broadcast_to(np.asarray(cols[name], dtype=float), (n,))
