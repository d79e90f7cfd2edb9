"""validate(path): every problem of a SONATA config, network folder or file, each naming file and key.

Problems are collected, never raised: a malformed file yields a list entry saying
which dataset/key is wrong and what was expected.  ``severity`` is ``error`` for
breaches of the SONATA guide that readers cannot work around, and ``warning`` for
deviations modelkit reads anyway (bmtk's ``node_id_to_range`` spelling, string
``sorting`` attributes, missing root attributes, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import h5py
import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import ModelkitError, SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.config import CircuitConfig, SimulationConfig, load_config
from modelkit.sonata.edges import EdgePopulation
from modelkit.sonata.fileset import recover
from modelkit.sonata.swc import check_swc, morphology_path
from modelkit.sonata.edges import SIMULATED_EDGE_VALUES, edge_value_problem
from modelkit.sonata.index import DIRECTIONS, NODE_TO_RANGES_NAMES, EdgeIndex, find_index_group
from modelkit.sonata.node_sets import NodeSets
from modelkit.sonata.nodes import NodePopulation
from modelkit.sonata.reports import CompartmentReport, read_ecp
from modelkit.sonata.selection import Selection
from modelkit.sonata.spikes import read_spikes
from modelkit.sonata.textfile import MAX_CSV_BYTES, read_text
from modelkit.sonata.types_table import TypesTable, read_types_csv

__all__ = ["Problem", "validate"]


@dataclass(frozen=True)
class Problem:
    """One problem found by :func:`validate`."""

    path: str | None
    key: str | None
    expected: str
    found: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        s = f"{self.severity}: {self.path or '?'}"
        if self.key:
            s += f": {self.key}"
        s += f": expected {self.expected}"
        if self.found is not None:
            s += f", found {self.found}"
        return s

    def to_dict(self) -> dict[str, Any]:
        """The problem as a JSON-ready dict (path, key, expected, found, severity)."""
        return asdict(self)


def _from_error(e: ModelkitError, default_path: str | None = None) -> Problem:
    path = getattr(e, "path", None) or default_path
    key = getattr(e, "dataset", None) or getattr(e, "key", None)
    expected = getattr(e, "expected", None)
    if expected is None:
        return Problem(path, key, "no error", str(e))
    return Problem(path, key, expected, getattr(e, "found", None))


def validate(path: PathLike) -> list[Problem]:
    """Every problem found in a config, network folder, or SONATA file.

    Parameters
    ----------
    path : str or PathLike
        A circuit/simulation config (``.json``), a folder of SONATA files, a nodes /
        edges / spikes / report ``.h5`` file, a types / spikes ``.csv``, or an ``.swc`` morphology.

    Returns
    -------
    list of Problem
        Empty when the input is valid.  Problems with ``severity == "warning"`` are
        deviations from the guide that modelkit reads anyway.
    """
    p = os.path.abspath(os.fspath(path))
    if not os.path.exists(p):
        return [Problem(p, None, "an existing file or folder", "nothing")]
    try:
        recover(p if os.path.isdir(p) else os.path.dirname(p))  # a save killed part way: complete or undo it
        if os.path.isdir(p):
            return _validate_folder(p)
        ext = os.path.splitext(p)[1].lower()
        if ext == ".json":
            return _validate_config(p)
        if ext == ".csv":
            return _validate_csv(p)
        if ext == ".swc":
            return _validate_swc(p)
        return _validate_h5(p)
    except ModelkitError as e:  # anything not caught more precisely below
        return [_from_error(e, p)]


# --------------------------------------------------------------------- dispatch
def _validate_folder(p: str) -> list[Problem]:
    for name in ("circuit_config.json", "config.circuit.json"):
        if os.path.exists(os.path.join(p, name)):
            return _validate_config(os.path.join(p, name))
    from modelkit.sonata.network import Network
    out: list[Problem] = []
    try:
        net = Network.load(p)
    except ModelkitError as e:
        return [_from_error(e, p)]
    return out + _validate_network(net, None)


def _validate_csv(p: str) -> list[Problem]:
    try:  # bounded read of a regular file: a FIFO would block readline, /dev/zero never end it
        head = read_text(p, "types CSV file", MAX_CSV_BYTES, SonataFormatError).split("\n", 1)[0]
    except ModelkitError as e:
        return [_from_error(e, p)]
    for col in ("node_type_id", "edge_type_id"):
        if col in head.split():
            try:
                table = read_types_csv(p, col)
            except ModelkitError as e:
                return [_from_error(e, p)]
            return _types_value_problems(table) if col == "edge_type_id" else []
    try:
        read_spikes(p)
    except ModelkitError as e:
        return [_from_error(e, p)]
    return []


def _validate_h5(p: str) -> list[Problem]:
    from modelkit.sonata.network import classify_h5, types_csv_for
    try:
        kind = classify_h5(p)
    except ModelkitError as e:
        return [_from_error(e, p)]
    if kind in ("nodes", "edges"):
        csv = types_csv_for(p, kind)
        out: list[Problem] = []
        types = None
        if csv:
            try:
                types = read_types_csv(csv, f"{kind[:-1]}_type_id")
            except ModelkitError as e:
                out.append(_from_error(e, csv))
        if kind == "nodes":
            return out + validate_nodes_file(p, types)[0]
        return out + validate_edges_file(p, types, {})
    if kind == "spikes":
        return _validate_spikes(p)
    if kind == "report":
        return _validate_report(p)
    if kind == "ecp":
        try:
            read_ecp(p)
        except ModelkitError as e:
            return [_from_error(e, p)]
        return []
    return [Problem(p, "/", "a SONATA nodes, edges, spikes or report file",
                    "none of the groups /nodes, /edges, /spikes, /report, /ecp")]


# ----------------------------------------------------------------- file checks
def _root_attr_warnings(p: str) -> list[Problem]:
    out = []
    try:
        with h5.open_h5(p) as f:
            attrs = dict(f.attrs)
    except ModelkitError as e:
        return [_from_error(e, p)]
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as e:
        return [Problem(p, "/", "a readable HDF5 file", f"{type(e).__name__}: {e}")]
    if "magic" not in attrs:
        out.append(Problem(p, "/@magic", "root attribute magic = 0x0A7A", "absent", "warning"))
    elif np.asarray(attrs["magic"]).ravel()[:1].tolist() != [0x0A7A]:
        out.append(Problem(p, "/@magic", "root attribute magic = 0x0A7A", repr(attrs["magic"]), "warning"))
    if "version" not in attrs:
        out.append(Problem(p, "/@version", "root attribute version = [major, minor]", "absent", "warning"))
    return out


def _validate_report(p: str, block_bytes: int = 64 << 20) -> list[Problem]:
    """The mapping of every population, and every frame of its data readable (read in blocks)."""
    try:
        rep = CompartmentReport(p)
        pops = [rep[name] for name in rep.populations]
    except ModelkitError as e:
        return [_from_error(e, p)]
    out = _root_attr_warnings(p)
    try:
        f = h5.open_h5(p, "SONATA report file")
    except ModelkitError as e:
        return out + [_from_error(e, p)]
    try:
        for r in pops:
            try:
                ds = h5.require_dataset(f, f"report/{r.population}/data", p, kind="number", ndim=2)
                out += _report_deviations(f, r.population, ds, p)
                step = max(1, block_bytes // max(1, ds.shape[1] * ds.dtype.itemsize))
                for a in range(0, ds.shape[0], step):
                    with h5.guard(p, ds.name, "readable frames"):
                        ds[a:a + step]
            except ModelkitError as e:
                out.append(_from_error(e, p))
    finally:
        f.close()
    return out


def _report_deviations(f: h5py.File, pop: str, data: h5py.Dataset, p: str) -> list[Problem]:
    """Warnings for what modelkit reads but the spec (and libsonata) do not accept: Allen's layout."""
    out = []
    base = f"/report/{pop}"
    with h5.guard(p, base, "a readable report group"):
        mapping = f[f"report/{pop}/mapping"]
        if "index_pointers" not in mapping:
            out.append(Problem(p, f"{base}/mapping/index_pointer", "the dataset name index_pointers",
                               "index_pointer", "warning"))
        if data.dtype != np.float32:
            out.append(Problem(p, f"{base}/data", "float32 data", str(data.dtype), "warning"))
        if "units" not in data.attrs:
            out.append(Problem(p, f"{base}/data@units", "a units attribute", "absent", "warning"))
        if "time" in mapping and "units" not in mapping["time"].attrs:
            out.append(Problem(p, f"{base}/mapping/time@units", "a units attribute (ms)", "absent", "warning"))
    return out


def _validate_spikes(p: str) -> list[Problem]:
    out = _root_attr_warnings(p)
    try:
        pops = read_spikes(p)
    except ModelkitError as e:
        return out + [_from_error(e, p)]
    try:
        with h5.open_h5(p) as f:
            sp = f["spikes"]
            if "gids" in sp and not isinstance(sp["gids"], h5py.Group):
                out.append(Problem(p, "/spikes/gids", "the population layout /spikes/<population>/node_ids",
                                   "the legacy /spikes/gids layout", "warning"))
            for k in sp:
                obj = sp[k]
                if isinstance(obj, h5py.Group) and "sorting" in obj.attrs and \
                        h5py.check_enum_dtype(obj.attrs.get_id("sorting").dtype) is None:
                    out.append(Problem(p, f"/spikes/{k}@sorting", "an HDF5 enum {none, by_id, by_time}",
                                       "a string attribute", "warning"))
    except (OSError, RuntimeError, KeyError, ValueError, TypeError):
        pass
    for name, sp_ in pops.items():
        if sp_.timestamps.size and not np.isfinite(sp_.timestamps).all():
            out.append(Problem(p, f"/spikes/{name}/timestamps", "finite spike times", "NaN or inf"))
    return out


def validate_nodes_file(p: str, types: TypesTable | None,
                        csv_path: str | None = None) -> tuple[list[Problem], dict[str, NodePopulation]]:
    """Problems of one nodes file, and its populations (for cross-file checks).

    Parameters
    ----------
    p : str
        The nodes file.
    types : TypesTable, optional
        Its node types, if read.
    csv_path : str, optional
        The node-types CSV, for messages.
    """
    out = _root_attr_warnings(p)
    from modelkit.sonata.network import scan_populations
    try:
        names, unreadable = scan_populations(p, "nodes")
    except ModelkitError as e:
        return out + [_from_error(e, p)], {}
    out += [_from_error(e, p) for e in unreadable.values()]  # the file's other populations are still checked
    pops = {}
    for name in names:
        pop = NodePopulation(p, name, types)
        try:
            _ = pop.layout  # reads and checks the population datasets and groups
            if types is not None:
                miss = types.missing(pop.node_type_ids)
                if miss.size:
                    out.append(Problem(p, f"/nodes/{name}/node_type_id",
                                       f"node_type_ids listed in {types.path}", f"ids {miss[:5].tolist()} absent"))
            elif pop.layout.groups and not any(gi.attributes for gi in pop.layout.groups.values()):
                out.append(Problem(p, f"/nodes/{name}", "a node types CSV for the type attributes", "none",
                                   "warning"))
            gid = pop._pop_array("node_group_id", None)
            gidx = pop._pop_array("node_group_index", None)
            for g, info in pop.layout.groups.items():
                m = gidx[gid == g]
                if info.size is not None and m.size and m.max() >= info.size:
                    out.append(Problem(p, f"/nodes/{name}/node_group_index",
                                       f"indices below {info.size} for group {g}", f"index {int(m.max())}"))
            for a in pop.attribute_names:
                try:
                    pop._column(a, None)
                except ModelkitError as e:
                    out.append(_from_error(e, p))
            for a in pop.dynamics_attribute_names:
                try:
                    pop._column(a, None, dynamics=True)
                except ModelkitError as e:
                    out.append(_from_error(e, p))
            if any(gi.has_positions for gi in pop.layout.groups.values()):
                try:
                    pop.positions()
                except ModelkitError as e:
                    out.append(_from_error(e, p))
            pops[name] = pop
        except ModelkitError as e:
            out.append(_from_error(e, p))
        finally:
            pop.close()
    return out, pops


def _chunks(n: int, step: int = 1 << 22) -> Iterator[slice]:
    for a in range(0, n, step):
        yield slice(a, min(n, a + step))


def validate_edges_file(p: str, types: TypesTable | None, node_sizes: dict[str, int],
                        network_nodes: set[str] | None = None) -> list[Problem]:
    """Problems of one edges file; ``node_sizes`` (population -> count) enables dangling-id checks.

    Parameters
    ----------
    p : str
        The edges file.
    types : TypesTable, optional
        Its edge types, if read.
    node_sizes : dict
        Node population name -> size.
    network_nodes : set[str], optional
        Node populations of the network (None: not known).
    """
    out = _root_attr_warnings(p)
    from modelkit.sonata.network import scan_populations
    try:
        names, unreadable = scan_populations(p, "edges")
    except ModelkitError as e:
        return out + [_from_error(e, p)]
    out += [_from_error(e, p) for e in unreadable.values()]  # the file's other populations are still checked
    for name in names:
        pop = EdgePopulation(p, name, types)
        try:
            out += _validate_edge_population(pop, types, node_sizes, network_nodes)
        except ModelkitError as e:
            out.append(_from_error(e, p))
        finally:
            pop.close()
    return out


def _validate_edge_population(pop: EdgePopulation, types: TypesTable | None, node_sizes: dict[str, int],
                              network_nodes: set[str] | None) -> list[Problem]:
    p, name = pop.path, pop.name
    out: list[Problem] = []
    g = pop._group()
    base = f"/edges/{name}"
    for ds in ("source_node_id", "target_node_id", "edge_type_id", "edge_group_id", "edge_group_index"):
        if not h5.has(g, ds, p):
            out.append(Problem(p, f"{base}/{ds}", "a required dataset", "absent"))
    lay = pop.layout
    ends = {"source": pop.source, "target": pop.target}
    for end, popname in ends.items():
        if popname is None:
            out.append(Problem(p, f"{base}/{end}_node_id@node_population",
                               "the name of the node population (string attribute)", "absent"))
        elif network_nodes is not None and popname not in network_nodes:
            out.append(Problem(p, f"{base}/{end}_node_id@node_population",
                               f"a node population of the network ({sorted(network_nodes)})", repr(popname)))
    n = lay.size
    missing_types: set[int] = set()
    for sl in _chunks(n):
        for end, ds_name in (("source", "source_node_id"), ("target", "target_node_id")):
            ids = pop._ids(ds_name, Selection([(sl.start, sl.stop)]))
            size = node_sizes.get(ends[end] or "")
            if size is not None and ids.size and ids.max() >= size:
                bad = np.unique(ids[ids >= size])[:5].tolist()
                out.append(Problem(p, f"{base}/{ds_name}",
                                   f"ids of existing nodes of {ends[end]!r} (below {size})",
                                   f"dangling ids {bad}"))
        if lay.has_type_id and types is not None:
            missing_types.update(types.missing(pop._pop_array("edge_type_id", sl)).tolist())
        gid = pop._pop_array("edge_group_id", sl)
        gidx = pop._pop_array("edge_group_index", sl)
        for gg in np.unique(gid).tolist():
            info = lay.groups.get(gg)
            if info is None:
                out.append(Problem(p, f"{base}/edge_group_id", f"group ids with a group ({sorted(lay.groups)})",
                                   f"group id {gg}"))
                continue
            m = gidx[gid == gg]
            if info.size is not None and m.size and m.max() >= info.size:
                out.append(Problem(p, f"{base}/edge_group_index", f"indices below {info.size} for group {gg}",
                                   f"index {int(m.max())}"))
    if missing_types:
        out.append(Problem(p, f"{base}/edge_type_id", f"edge_type_ids listed in {types.path}",  # type: ignore[union-attr]
                           f"ids {sorted(missing_types)[:5]} absent"))
    for a in pop.attribute_names:
        try:
            if n <= (1 << 22):
                pop._column(a, None)
        except ModelkitError as e:
            out.append(_from_error(e, p))
    out += _validate_index(pop, node_sizes)
    out += _validate_edge_values(pop, types)
    return out


def _validate_edge_values(pop: EdgePopulation, types: TypesTable | None) -> list[Problem]:
    """What a run would refuse in ``syn_weight``, ``nsyns`` and ``delay`` (see
    :func:`~modelkit.sonata.edges.check_edge_values`): group datasets read in hyperslabs, then
    the rows of the edge-types table."""
    out: list[Problem] = []
    for gid, info in pop.layout.groups.items():
        for name in SIMULATED_EDGE_VALUES:
            if name not in info.attributes or info.size is None:
                continue
            where = f"/edges/{pop.name}/{gid}/{name}"
            # no group needs more rows than the population has edges: a declared length beyond them (a
            # huge, never written dataset) is not read
            for sl in _chunks(min(info.size, pop.layout.size)):
                try:
                    vals = pop._read_group_column(gid, name, sl)
                except ModelkitError as e:
                    out.append(_from_error(e, pop.path))
                    break
                problem = edge_value_problem(name, vals)
                if problem is not None:
                    expected, bad = problem
                    out.append(Problem(pop.path, where, expected,
                                       f"{vals[bad[:3]].tolist()} at rows {(bad[:3] + sl.start).tolist()}"))
                    break
    if types is not None:
        out += _types_value_problems(types)
    return out


def _types_value_problems(types: TypesTable) -> list[Problem]:
    """``syn_weight``, ``nsyns`` and ``delay`` of an edge-types table a run would refuse."""
    out: list[Problem] = []
    for name in SIMULATED_EDGE_VALUES:
        if name not in types.columns:
            continue
        problem = edge_value_problem(name, types.columns[name])
        if problem is not None:
            expected, bad = problem
            out.append(Problem(types.path, f"column {name}", expected,
                               f"{types.columns[name][bad[:3]].tolist()} at edge_type_id "
                               f"{types.ids[bad[:3]].tolist()}"))
    return out


def _validate_swc(p: str) -> list[Problem]:
    try:
        check_swc(p)
    except ModelkitError as e:
        return [_from_error(e, p)]
    return []


def _validate_index(pop: EdgePopulation, node_sizes: dict[str, int]) -> list[Problem]:
    p, name = pop.path, pop.name
    g = pop._group()
    ig, gname = find_index_group(g, p)
    if ig is None:
        return []
    out = []
    base = f"/edges/{name}/{gname}"
    if gname != "indices":
        out.append(Problem(p, base, "the index group named 'indices'", repr(gname), "warning"))
    for direction in DIRECTIONS:
        if not h5.has(ig, direction, p):
            out.append(Problem(p, f"{base}/{direction}", "both index directions", "absent"))
            continue
        try:
            d = h5.require_group(ig, direction, p, "an index direction group")
            spelled = next((nm for nm in NODE_TO_RANGES_NAMES if h5.has(d, nm, p)), None)
            if spelled == "node_id_to_range":
                out.append(Problem(p, f"{base}/{direction}/node_id_to_range", "the dataset name node_id_to_ranges",
                                   "node_id_to_range", "warning"))
            out += _check_index_direction(pop, ig, direction, base, node_sizes)
        except ModelkitError as e:
            out.append(_from_error(e, p))
    return out


def _check_index_direction(pop: EdgePopulation, ig: h5py.Group, direction: str, base: str,
                           node_sizes: dict[str, int]) -> list[Problem]:
    p = pop.path
    idx = EdgeIndex.from_file(ig, direction, p, pop.size)
    n2r = idx.node_to_ranges
    r2e = h5.as_ids(h5.read_array(idx.ranges, p).reshape(-1), p, idx.dataset).reshape(-1, 2)
    ids = pop.source_ids() if direction == "source_to_target" else pop.target_ids()
    e = pop.size
    where = f"{base}/{direction}"
    if r2e.size and ((r2e[:, 1] < r2e[:, 0]).any() or r2e[:, 1].max() > e):
        return [Problem(p, f"{where}/range_to_edge_id", f"edge ranges within [0, {e}]", "out-of-range rows")]
    lens = n2r[:, 1] - n2r[:, 0]
    nodes = np.repeat(np.arange(len(n2r)), lens)
    rows = _expand(n2r[lens > 0])
    if rows.size and rows.max() >= len(r2e):
        return [Problem(p, f"{where}/node_id_to_ranges", f"range rows below {len(r2e)}", "out-of-range rows")]
    er = r2e[rows]
    elens = er[:, 1] - er[:, 0]
    edges = _expand(er)
    owner = np.repeat(nodes, elens)
    cover = np.bincount(edges, minlength=e) if edges.size else np.zeros(e, np.int64)
    if len(cover) != e or (cover != 1).any():
        return [Problem(p, where, "an index covering every edge exactly once",
                        f"{int((cover == 0).sum())} edges missing, {int((cover > 1).sum())} repeated")]
    if not np.array_equal(ids[edges], owner):
        k = int(np.flatnonzero(ids[edges] != owner)[0])
        return [Problem(p, where, "an index consistent with the node id datasets",
                        f"edge {int(edges[k])} listed under node {int(owner[k])}, dataset says {int(ids[edges[k]])}")]
    return []


def _expand(ranges: np.ndarray) -> np.ndarray:
    if len(ranges) == 0:
        return np.empty(0, dtype=np.int64)
    lens = ranges[:, 1] - ranges[:, 0]
    return np.repeat(ranges[:, 0] - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(lens.sum())


# ---------------------------------------------------------------- config checks
def _validate_config(p: str) -> list[Problem]:
    try:
        cfg = load_config(p)
    except ModelkitError as e:
        return [_from_error(e, p)]
    out: list[Problem] = []
    circuit = cfg.circuit if isinstance(cfg, SimulationConfig) else cfg
    if circuit is None:
        return [Problem(p, "network", "a circuit ('network' file or inline 'networks')", "none")]
    from modelkit.sonata.network import _recover_folders
    try:
        _recover_folders(circuit)  # before looking for files an interrupted save has not moved in yet
    except ModelkitError as e:
        return [_from_error(e, p)]
    for key, f in circuit.missing_files():
        out.append(Problem(circuit.path or p, key, "an existing file", f))
    if isinstance(cfg, SimulationConfig):
        if cfg.node_sets_file and not os.path.exists(cfg.node_sets_file):
            out.append(Problem(p, "node_sets_file", "an existing file", cfg.node_sets_file))
        for name, inp in cfg.inputs.items():
            for k, v in inp.params.items():
                if not (k == "file" or k.endswith("_file")):
                    continue
                if isinstance(v, str) and not os.path.exists(v):
                    out.append(Problem(p, f"inputs.{name}.{k}", "an existing file", v))
                elif isinstance(v, list):  # several files (bmtk's ecephys inputs): each is named by its index
                    out += [Problem(p, f"inputs.{name}.{k}[{i}]", "an existing file", f)
                            for i, f in enumerate(v) if isinstance(f, str) and not os.path.exists(f)]
    if any((o.key or "").startswith("networks") for o in out):
        return out  # the network cannot be opened
    from modelkit.sonata.network import Network
    try:
        net = Network.from_config(cfg)
    except ModelkitError as e:
        return out + [_from_error(e, p)]
    out += _validate_network(net, cfg)
    return out


def _validate_network(net: Any, cfg: CircuitConfig | SimulationConfig | None) -> list[Problem]:
    out: list[Problem] = []
    node_files: dict[str, TypesTable | None] = {}
    for pop in net.nodes.values():
        node_files.setdefault(pop.path, pop.types)
    for err in net.nodes.unreadable.values():  # a file none of whose populations opens is checked too
        node_files.setdefault(err.path, None)
    sizes: dict[str, int] = {}
    for f, t in node_files.items():
        probs, pops = validate_nodes_file(f, t)
        out += probs
        sizes.update({k: v.size for k, v in pops.items()})
    edge_files: dict[str, TypesTable | None] = {}
    for pop in net.edges.values():
        edge_files.setdefault(pop.path, pop.types)
    for err in net.edges.unreadable.values():
        edge_files.setdefault(err.path, None)
    for f, t in edge_files.items():
        out += validate_edges_file(f, t, sizes, set(net.nodes))
    if isinstance(cfg, SimulationConfig):
        refs = [(f"inputs.{k}.node_set", v.node_set) for k, v in cfg.inputs.items() if v.node_set is not None]
        refs += [(f"reports.{k}.cells", v.cells) for k, v in cfg.reports.items() if v.cells is not None]
        for key, ref in refs:
            try:
                net.resolve_node_set(ref)
            except ModelkitError as e:
                out.append(Problem(cfg.path, key, "a resolvable node set", str(e)))
    out += _validate_morphologies(net, cfg)
    if isinstance(cfg, SimulationConfig) and cfg.run.dt:
        out += _validate_delays_against_dt(net, float(cfg.run.dt))
    ns: NodeSets = net.node_sets
    for name in ns.names:
        for pname, pop in net.nodes.items():
            try:
                ns.materialize(name, pop)
            except ModelkitError as e:
                out.append(Problem(ns.path, name, f"a node set that evaluates on population {pname!r}", str(e)))
    return out


#: model types whose cells are built from their morphology (the NEURON backend reads it with Import3d)
MORPHOLOGY_MODEL_TYPES = ("biophysical",)


def _validate_morphologies(net: Any, cfg: CircuitConfig | SimulationConfig | None) -> list[Problem]:
    """The SWC files the network's biophysical cells name (``components.morphologies_dir`` + ``morphology``,
    ``.swc`` added as bmtk does: :func:`~modelkit.sonata.swc.morphology_path`), each parsed once by
    :func:`~modelkit.sonata.swc.check_swc`: no NEURON needed."""
    out: list[Problem] = []
    mdir = (getattr(cfg, "components", None) or {}).get("morphologies_dir")
    if not mdir:  # a folder of files, or a circuit whose simulation config says where they are: not known here
        return out
    seen: set[str] = set()
    for pname, pop in net.nodes.items():
        names = pop.attribute_names
        if "morphology" not in names or "model_type" not in names:
            continue
        try:
            frame = pop.get(["model_type", "morphology"])
        except ModelkitError as e:
            out.append(_from_error(e, pop.path))
            continue
        used = frame.loc[frame["model_type"].astype(str).isin(MORPHOLOGY_MODEL_TYPES), "morphology"]
        for m in used.drop_duplicates().tolist():
            if m is None or (isinstance(m, float) and m != m) or str(m) in ("", "None", "NULL"):
                continue
            path = morphology_path(mdir, m)
            if path in seen:
                continue
            seen.add(path)
            if not os.path.exists(path):
                out.append(Problem(pop.path, f"/nodes/{pname}: morphology",
                                   "an existing morphology (components.morphologies_dir + morphology)", path))
            elif path.lower().endswith(".swc"):
                try:
                    check_swc(path)
                except ModelkitError as e:
                    out.append(_from_error(e, path))
    return out


def _validate_delays_against_dt(net: Any, dt: float) -> list[Problem]:
    """Delays shorter than the time step (ms): NEST refuses them, NEURON and the population models
    deliver them after one step; a warning, since which backend runs is not decided here."""
    out: list[Problem] = []
    seen: set[tuple[str | None, str]] = set()
    expected = f"delays >= run.dt = {dt:g} ms (NEST refuses shorter ones; NEURON delivers them a step late)"

    def short(d: Any) -> list[float]:
        d = np.asarray(d, dtype=float)
        with np.errstate(invalid="ignore"):
            return d[(d >= 0) & (d < dt - 1e-12)][:3].tolist()

    for pop in net.edges.values():
        try:
            for gid, info in pop.layout.groups.items():
                key = f"/edges/{pop.name}/{gid}/delay"
                if "delay" not in info.attributes or not info.size or (pop.path, key) in seen:
                    continue
                seen.add((pop.path, key))
                for sl in _chunks(min(info.size, pop.layout.size)):
                    low = short(pop._read_group_column(gid, "delay", sl))
                    if low:
                        out.append(Problem(pop.path, key, expected, f"{low} ms", "warning"))
                        break
            types = pop.types
            if types is not None and "delay" in types.columns and (types.path, "column delay") not in seen:
                seen.add((types.path, "column delay"))
                low = short(types.columns["delay"])
                if low:
                    out.append(Problem(types.path, "column delay", expected, f"{low} ms", "warning"))
        except (ModelkitError, TypeError, ValueError):  # unreadable values are reported by the edge checks
            continue
    return out
