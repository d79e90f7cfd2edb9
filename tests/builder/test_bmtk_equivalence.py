"""modelkit's NetworkBuilder against bmtk's: the same build script, the same SONATA network.

Every specification below is written once, as a function of the builder class, and
run with ``bmtk.builder.NetworkBuilder`` and ``modelkit.builder.NetworkBuilder`` into
two folders.  The saved files are then compared by content:

* file names and population names;
* nodes: ids, ``node_type_id``, every merged attribute, positions, and the node groups
  as sets of per-node column names with their stored types (edge groups likewise);
* node/edge types CSVs: column names and rows of typed values (column order may differ:
  bmtk takes it from a set); bmtk's ``source_query`` / ``target_query`` text exactly;
* edges: multisets of (source, target, edge_type_id, every merged property), read
  through modelkit, and through libsonata (or, for multi-group populations that libsonata
  cannot open, through bmtk's own reader, edge by edge); the afferent/efferent edges of
  every node through modelkit's indices (read by libsonata where it can) against the
  source/target columns of both files (bmtk writes only the misspelt ``node_id_to_range``,
  which libsonata does not open).

Row order inside a file, compression, group numbering, and the integer width of bookkeeping
datasets (``edge_group_id``, ``edge_group_index``) are layout, not content: not compared.
The specs save with ``compression="none"`` (a bmtk option that modelkit accepts): the
libsonata wheel here has no gzip filter.  Booleans are stored as int8 by modelkit (SONATA
has no boolean type; libsonata cannot read bmtk's HDF5 enum booleans) and compare as 0/1.
"""

from __future__ import annotations

import functools
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import bmtk.builder
import h5py
import libsonata
import numpy as np
import pytest
from bmtk.utils import sonata as bmtk_sonata

import modelkit.builder
from modelkit.sonata import Network, read_types_csv

# bmtk's own reader (1.2) on current pandas
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index")

#: modelkit generates edges block by block of targets: small blocks put every rule through the block
#: machinery (values in bmtk's order, bulk iterators, sorting) even on these small networks
BUILDERS = {"bmtk": bmtk.builder.NetworkBuilder,
            "modelkit": functools.partial(modelkit.builder.NetworkBuilder, targets_per_block=3)}


# ====================================================================== reading
def norm(v: Any) -> Any:
    """A hashable, comparable form of a stored value (NaN/None -> None, arrays -> tuples)."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return tuple(norm(x) for x in v.tolist())
    if isinstance(v, (list, tuple)):
        return tuple(norm(x) for x in v)
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return None if math.isnan(v) else v
    return v


def network_files(folder: Path) -> list[str]:
    return sorted(f for f in os.listdir(folder) if not f.startswith("."))


def h5_populations(path: Path, root: str) -> list[str]:
    with h5py.File(path, "r") as f:
        return sorted(f[root].keys())


def group_schemas(path: Path, root: str, pop: str) -> set[frozenset]:
    """Groups of a population as sets of (column, stored kind); bool and int8 are one kind."""
    out = set()
    with h5py.File(path, "r") as f:
        g = f[root][pop]
        for k, sub in g.items():
            if not k.isdigit():
                continue
            cols = []
            for name, ds in sub.items():
                if ds.dtype.kind in "OSU" or h5py.check_string_dtype(ds.dtype):
                    kind = "str"
                elif ds.dtype.kind == "b" or ds.dtype == np.int8:
                    kind = "bool/int8"
                else:
                    kind = ds.dtype.str
                cols.append((name, kind, ds.shape[1:]))
            out.add(frozenset(cols))
    return out


def types_rows(path: Path, id_column: str) -> tuple[set[str], dict[int, dict[str, Any]]]:
    t = read_types_csv(path, id_column)
    rows = {int(i): {c: norm(t.columns[c][k]) for c in t.names} for k, i in enumerate(t.ids.tolist())}
    return set(t.names), rows


def nodes_via_modelkit(folder: Path) -> dict[str, dict[int, dict[str, Any]]]:
    net = Network.load(folder)
    out = {}
    for name, pop in net.nodes.items():
        df = pop.get()
        rows = {int(i): {c: norm(v) for c, v in r.items()} for i, r in zip(df.index.tolist(),
                                                                           df.to_dict(orient="records"))}
        if pop.has_positions():
            for i, p in zip(df.index.tolist(), pop.positions()):
                rows[int(i)]["positions"] = norm(p)
        out[name] = rows
    return out


def nodes_via_second_reader(folder: Path, name: str) -> tuple[str, dict[int, dict[str, Any]]]:
    """Group columns (and positions) of every node through libsonata, or bmtk's reader for multi-group files."""
    path = folder / f"{name}_nodes.h5"
    with h5py.File(path, "r") as f:
        g = f["nodes"][name]
        ids = g["node_id"][()].astype(np.int64)
        type_ids = g["node_type_id"][()].astype(np.int64)
        n_groups = len([k for k in g if k.isdigit()])
    rows: dict[int, dict[str, Any]] = {int(i): {"node_type_id": int(t)} for i, t in zip(ids, type_ids)}
    if n_groups == 1:
        pop = libsonata.NodeStorage(str(path)).open_population(name)
        sel = pop.select_all()
        assert pop.size == len(ids)
        for a in pop.attribute_names:
            vals = pop.get_attribute(a, sel)
            for i, v in zip(ids.tolist(), vals):
                rows[i][a] = norm(v)
        return "libsonata", rows
    # libsonata opens single-group populations only; bmtk's reader, node by node (its to_dataframe
    # misaligns the columns of multi-group populations)
    nodes_csv = folder / f"{name}_node_types.csv"
    for n in bmtk_sonata.File(data_files=str(path), data_type_files=str(nodes_csv)).nodes[name]:
        d = rows[int(n.node_id)]
        assert d["node_type_id"] == n.node_type_id
        for c, v in n.group_props.items():
            d[c] = norm(v)
    return "bmtk", rows


def edge_multiset(df_rows: list[dict[str, Any]]) -> Counter:
    return Counter(tuple(sorted((k, norm(v)) for k, v in r.items())) for r in df_rows)


def edges_via_modelkit(folder: Path) -> dict[str, Counter]:
    net = Network.load(folder)
    return {name: edge_multiset(pop.get().to_dict(orient="records")) for name, pop in net.edges.items()}


def edges_via_second_reader(path: Path, pop_name: str) -> tuple[str, Counter]:
    """(source, target, edge_type_id, group columns) through libsonata, or through bmtk for multi-group files."""
    with h5py.File(path, "r") as f:
        g = f["edges"][pop_name]
        type_ids = g["edge_type_id"][()].astype(np.int64)
        n_groups = len([k for k in g if k.isdigit()])
    if n_groups == 1:
        pop = libsonata.EdgeStorage(str(path)).open_population(pop_name)
        sel = pop.select_all()
        cols = {"source_node_id": pop.source_nodes(sel), "target_node_id": pop.target_nodes(sel),
                "edge_type_id": type_ids}
        for a in pop.attribute_names:
            cols[a] = pop.get_attribute(a, sel)
        rows = [dict(zip(cols, vals)) for vals in zip(*cols.values())]
        return "libsonata", edge_multiset(rows)
    et_csv = str(path).replace("_edges.h5", "_edge_types.csv")
    with h5py.File(path, "r") as f:
        group_cols = {int(k): list(sub.keys()) for k, sub in f["edges"][pop_name].items() if k.isdigit()}
    rows = []
    for e in bmtk_sonata.File(data_files=str(path), data_type_files=et_csv).edges[pop_name]:
        r = {"source_node_id": e.source_node_id, "target_node_id": e.target_node_id, "edge_type_id": e.edge_type_id}
        r.update((c, e[c]) for c in group_cols[int(e.group_id)])
        rows.append(r)
    return "bmtk", edge_multiset(rows)


def index_view(path: Path, pop_name: str) -> dict[str, dict[int, list]]:
    """Per node: sorted (other end, edge type) of its afferent and efferent edges, through the file's indices
    (libsonata's reading of them; modelkit's for multi-group populations, which libsonata cannot open)."""
    with h5py.File(path, "r") as f:
        g = f["edges"][pop_name]
        type_ids = g["edge_type_id"][()]
        n_src = len(g["indices/source_to_target/node_id_to_ranges"])
        n_tgt = len(g["indices/target_to_source/node_id_to_ranges"])
        n_groups = len([k for k in g if k.isdigit()])
    out: dict[str, dict[int, list]] = {"afferent": {}, "efferent": {}}
    if n_groups == 1:
        pop = libsonata.EdgeStorage(str(path)).open_population(pop_name)
        for direction, n, other in (("afferent", n_tgt, pop.source_nodes), ("efferent", n_src, pop.target_nodes)):
            for nid in range(n):
                sel = getattr(pop, f"{direction}_edges")([nid])
                edges = sel.flatten()
                if len(edges):
                    out[direction][nid] = sorted(zip(other(sel).tolist(), type_ids[edges].tolist()))
        return out
    mpop = Network.load(path).edges[pop_name]
    for direction, n, other in (("afferent", n_tgt, "source_node_id"), ("efferent", n_src, "target_node_id")):
        for nid in range(n):
            sel = getattr(mpop, f"{direction}_edges")([nid])
            if len(sel):
                out[direction][nid] = sorted(zip(mpop.column(other, sel).tolist(),
                                                 mpop.column("edge_type_id", sel).tolist()))
    return out


def raw_view(path: Path, pop_name: str) -> dict[str, dict[int, list]]:
    """What index_view should give, from the source/target/type columns (bmtk writes only the misspelt
    ``node_id_to_range`` index, which libsonata does not open)."""
    with h5py.File(path, "r") as f:
        g = f["edges"][pop_name]
        src, tgt, et = (g[k][()].tolist() for k in ("source_node_id", "target_node_id", "edge_type_id"))
    out: dict[str, dict[int, list]] = {"afferent": {}, "efferent": {}}
    for s, t, e in zip(src, tgt, et):
        out["afferent"].setdefault(t, []).append((s, e))
        out["efferent"].setdefault(s, []).append((t, e))
    return {k: {n: sorted(v) for n, v in d.items()} for k, d in out.items()}


# ====================================================================== comparing
def assert_same_network(b: Path, m: Path) -> dict[str, list[str]]:
    """Assert the bmtk folder ``b`` and the modelkit folder ``m`` hold the same network.

    Returns the second reader used for each nodes / edges file ("libsonata", "bmtk", or
    "bmtk/libsonata" when bmtk's file has several groups and modelkit's one)."""
    assert network_files(b) == network_files(m)
    used: dict[str, list[str]] = {"nodes": [], "edges": []}
    files = network_files(b)
    assert files, "the spec saved nothing"
    # ---- nodes
    mk_nodes_b, mk_nodes_m = nodes_via_modelkit(b), nodes_via_modelkit(m)
    assert sorted(mk_nodes_b) == sorted(mk_nodes_m)
    for fname in (f for f in files if f.endswith("_nodes.h5")):
        name = fname[: -len("_nodes.h5")]
        assert h5_populations(b / fname, "nodes") == h5_populations(m / fname, "nodes") == [name]
        assert mk_nodes_b[name] == mk_nodes_m[name], f"nodes of {name} differ (read by modelkit)"
        assert group_schemas(b / fname, "nodes", name) == group_schemas(m / fname, "nodes", name)
        rb, nb = nodes_via_second_reader(b, name)
        rm, nm = nodes_via_second_reader(m, name)
        assert nb == nm, f"nodes of {name} differ (read by {rb} / {rm})"
        used["nodes"].append(rb if rb == rm else f"{rb}/{rm}")
        cols_b, rows_b = types_rows(b / f"{name}_node_types.csv", "node_type_id")
        cols_m, rows_m = types_rows(m / f"{name}_node_types.csv", "node_type_id")
        assert cols_b == cols_m
        assert rows_b == rows_m
    # ---- edges
    mk_edges_b, mk_edges_m = edges_via_modelkit(b), edges_via_modelkit(m)
    assert sorted(mk_edges_b) == sorted(mk_edges_m)
    for fname in (f for f in files if f.endswith("_edges.h5")):
        pops = h5_populations(b / fname, "edges")
        assert pops == h5_populations(m / fname, "edges")
        src, tgt = fname[: -len("_edges.h5")].split("_")
        assert pops == [f"{src}_to_{tgt}"]
        pop = pops[0]
        for path in (b / fname, m / fname):
            with h5py.File(path, "r") as f:
                assert f["edges"][pop]["source_node_id"].attrs["node_population"] == src
                assert f["edges"][pop]["target_node_id"].attrs["node_population"] == tgt
        assert mk_edges_b[pop] == mk_edges_m[pop], f"edges of {pop} differ (read by modelkit)"
        assert group_schemas(b / fname, "edges", pop) == group_schemas(m / fname, "edges", pop)
        assert sum(mk_edges_b[pop].values()) > 0
        rb, eb = edges_via_second_reader(b / fname, pop)
        rm, em = edges_via_second_reader(m / fname, pop)
        assert eb == em, f"edges of {pop} differ (read by {rb} / {rm})"
        used["edges"].append(rb if rb == rm else f"{rb}/{rm}")
        assert index_view(m / fname, pop) == raw_view(b / fname, pop) == raw_view(m / fname, pop)
        cols_b, rows_b = types_rows(b / fname.replace("_edges.h5", "_edge_types.csv"), "edge_type_id")
        cols_m, rows_m = types_rows(m / fname.replace("_edges.h5", "_edge_types.csv"), "edge_type_id")
        assert cols_b == cols_m
        assert rows_b == rows_m
    return used


def run_spec(spec: Callable[[Any, Path], None], tmp_path: Path) -> tuple[Path, Path]:
    out = {}
    for label, builder_class in BUILDERS.items():
        folder = tmp_path / label
        spec(builder_class, folder)
        out[label] = folder
    return out["bmtk"], out["modelkit"]


# ====================================================================== specs
def add_v1_nodes(net: Any) -> None:
    """Nodes of four types in three groups: per-node arrays, shared properties, positions, an explicit type id."""
    net.add_nodes(N=4, ei="e", location="L2", model_type="biophysical", model_template="ctdb:Biophys1.hoc",
                  morphology="Scnn1a.swc", dynamics_params="472363762_fit.json",
                  positions=np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 5.0], [0.0, 30.0, 0.0], [100.0, 100.0, 100.0]]),
                  tuning_angle=np.linspace(0.0, 270.0, 4), layer=["L2", "L2", "L4", "L4"])
    net.add_nodes(N=3, ei="i", location="L4", model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                  dynamics_params="IntFire1_inh_1.json", node_type_id=250,
                  tau_m=[10.0, 12.5, 15.0], rank=np.array([3, 1, 2], dtype=np.int32))
    net.add_nodes(N=2, ei="i", location="L2", model_type="point_neuron", model_template="nest:iaf_psc_delta",
                  positions=np.array([[5.0, 5.0, 5.0], [-20.0, 0.0, 3.5]]), tuning_angle=[45.0, 135.0],
                  layer=["L2", "L4"])
    net.add_nodes(N=1, ei="e", location="L5", model_type="virtual", pop_name="ext")


def spec_int_rules(NB: Any, out: Path) -> None:
    """Int rules 0/1/3, dict selectors with scalars and lists, net.nodes() pools, typed edge-type properties."""
    net = NB("v1")
    add_v1_nodes(net)
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=3, syn_weight=2.5, delay=1.0,
                  dynamics_params="AMPA_ExcToInh.json", model_template="exp2syn",
                  target_sections=["basal", "apical"], distance_range=[0.0, 150.0])
    net.add_edges(source={"ei": "i", "location": ["L2", "L4"]}, target={"layer": ["L2", "L4"]},
                  connection_rule=1, syn_weight=-1.25, delay=0.5, edge_type_id=101,
                  dynamics_params="GABA_InhToExc.json", model_template="exp2syn")
    net.add_edges(source=net.nodes(model_type="point_neuron"), target=net.nodes(ei="e", layer="L4"),
                  connection_rule=0, syn_weight=0.3, note="never")
    net.add_edges(source={"ei": "e", "location": "L2"}, target={"ei": "e"}, syn_weight=0.75,
                  weight_function="wmax", spec_count=2, recurrent=True, comment=None)
    net.build()
    net.save(output_dir=out, compression="none")


def syn_count(source: Any, target: Any, base: int, skip: int) -> Any:
    """Deterministic synapse counts, None for some pairs."""
    if abs(source.node_id - target.node_id) == skip:
        return None
    return (source.node_id + 2 * target.node_id) % base


def counts_to_all(source: Any, targets: list, m: int) -> list:
    return [(source.node_id * t.node_id + 1) % m for t in targets]


def counts_from_all(sources: list, target: Any) -> list:
    return [1 if s["tuning_angle"] < target["tuning_angle"] else 0 for s in sources]


def spec_callables(NB: Any, out: Path) -> None:
    """Per-pair callables with connection_params and None returns; one_to_all and all_to_one bulk callables."""
    net = NB("v1")
    add_v1_nodes(net)
    net.add_edges(source={"ei": "e"}, target={"ei": ["i", "e"]}, connection_rule=syn_count,
                  connection_params={"base": 4, "skip": 1}, syn_weight=1.0, model_template="exp2syn")
    net.add_edges(source=net.nodes(ei="i"), target=net.nodes(location="L2"), connection_rule=counts_to_all,
                  connection_params={"m": 3}, iterator="one_to_all", syn_weight=-2.0, delay=2.0)
    net.add_edges(source={"layer": "L2"}, target={"layer": ["L2", "L4"]}, connection_rule=counts_from_all,
                  iterator="all_to_one", syn_weight=0.5)
    net.add_edges(source={"ei": "i"}, target={"ei": "e"},
                  connection_rule=lambda s, t: 2 if s["location"] == t["location"] else 0, syn_weight=3.0)
    net.build()
    net.save(output_dir=out, compression="none")


def spec_list_rules(NB: Any, out: Path) -> None:
    """List-valued connection_rule with each iterator (bmtk's pair order)."""
    net = NB("v1")
    add_v1_nodes(net)
    # 5 sources (ei=e) x 5 targets (ei=i), source-major
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=[(i * 7) % 4 for i in range(25)],
                  iterator="one_to_one", syn_weight=1.0)
    # one value per target, the same for every source
    net.add_edges(source={"ei": "i"}, target={"layer": "L2"}, connection_rule=[2, 0, 1], iterator="one_to_all",
                  syn_weight=2.0)
    # one value per source, the same for every target
    net.add_edges(source={"ei": "i"}, target={"location": "L5"}, connection_rule=[0, 1, 3, 0, 2],
                  iterator="all_to_one", syn_weight=3.0)
    net.build()
    net.save(output_dir=out, compression="none")


def weight_rule(source: Any, target: Any, w0: float, scale: float) -> float:
    return w0 + scale * (source.node_id * 10 + target.node_id)


def section_rule(source: Any, target: Any) -> tuple:
    return (source.node_id + target.node_id) % 3, 0.25 * ((source.node_id * 3 + target.node_id) % 4)


def spec_properties(NB: Any, out: Path) -> None:
    """add_properties with one and several names, rule_params, dtypes and values= lists; one edge group."""
    net = NB("v1")
    add_v1_nodes(net)
    kwargs = {"model_template": "exp2syn", "dynamics_params": "AMPA.json"}
    for k, (src, tgt, rule) in enumerate([({"ei": "e"}, {"ei": "i"}, 2),
                                           ({"ei": "i"}, {"layer": ["L2", "L4"]}, syn_count),
                                           ({"location": "L2"}, {"ei": "e"}, 1)]):
        cm = net.add_edges(source=src, target=tgt, connection_rule=rule,
                           connection_params={"base": 3, "skip": 0} if callable(rule) else None,
                           delay=1.0 + k, **kwargs)
        # three spellings of one stored type: one edge group, as in bmtk (libsonata reads the file)
        cm.add_properties("syn_weight", rule=weight_rule, rule_params={"w0": 0.5 * k, "scale": 0.01},
                          dtypes=(float, np.float64, "float64")[k])
        cm.add_properties(["afferent_section_id", "afferent_section_pos"], rule=section_rule,
                          dtypes=[np.int64, np.float64])
        cm.add_properties("order_tag", rule=lambda s, t: s.node_id * 100 + t.node_id)  # ints, no dtype: float64
        cm.add_properties("syn_scale", rule=0.5 + k, dtypes=np.float32)  # a constant
    net.build()
    net.save(output_dir=out, compression="none")


def add_values(cm: Any, n: int, offset: int) -> None:
    """Four properties given as lists of n values (one per synapse)."""
    cm.add_properties("syn_weight", values=np.linspace(0.0, 1.0, n) + offset)
    cm.add_properties("delay", values=[float(i % 7) for i in range(n)], dtypes=np.float64)
    cm.add_properties("tag", values=list(range(offset, offset + n)), dtypes=np.int32)
    cm.add_properties(["afferent_section_id", "afferent_section_pos"],
                      values=[(i % 4, 0.1 * i) for i in range(n)], dtypes=[np.int64, np.float64])


def spec_values_in_bmtk_order(NB: Any, out: Path) -> None:
    """values= lists: bmtk assigns them in its edge order (source-major, then target, then synapse)."""
    net = NB("v1")
    add_v1_nodes(net)
    inh, exc, l2 = (4, 5, 6, 7, 8), (0, 1, 2, 3, 9), (0, 1, 2, 3, 7, 8)
    cm = net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=syn_count,
                       connection_params={"base": 3, "skip": 2}, model_template="exp2syn")
    # the synapse counts of these deterministic rules, from the same functions
    add_values(cm, sum(syn_count(_N(s), _N(t), 3, 2) or 0 for s in inh for t in exc), 0)
    cm = net.add_edges(source={"ei": "i"}, target={"location": "L2"}, connection_rule=counts_to_all,
                       connection_params={"m": 3}, iterator="one_to_all", model_template="exp2syn")
    add_values(cm, sum(sum(counts_to_all(_N(s), [_N(t) for t in l2], 3)) for s in inh), 1000)
    net.build()
    net.save(output_dir=out, compression="none")


class _N:
    """A stand-in node with only an id, to count synapses of syn_count up front."""

    def __init__(self, node_id: int) -> None:
        self.node_id = node_id


def spec_multi_group_edges(NB: Any, out: Path) -> None:
    """Edge types with different property sets (several edge groups) in one population; nsyns types too."""
    net = NB("v1")
    add_v1_nodes(net)
    net.add_edges(source={"ei": "e"}, target={"ei": "e"}, connection_rule=syn_count,
                  connection_params={"base": 3, "skip": 0}, syn_weight=1.0, delay=1.0)
    cm = net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=2, delay=2.0)
    cm.add_properties("syn_weight", rule=weight_rule, rule_params={"w0": -1.0, "scale": 0.1}, dtypes=np.float64)
    cm = net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=1, syn_weight=0.5)
    cm.add_properties(["afferent_section_id", "afferent_section_pos"], rule=section_rule,
                      dtypes=[np.int64, np.float64])
    cm.add_properties("is_far", rule=lambda s, t: abs(s.node_id - t.node_id) > 3, dtypes=bool)
    cm.add_properties("scaled", rule=lambda s, t: s.node_id / 3, dtypes=np.float32)
    cm.add_properties("truncated", rule=lambda s, t: t.node_id + 0.75, dtypes=np.int64)
    net.build()
    net.save(output_dir=out, compression="none")


def spec_nodes_only(NB: Any, out: Path) -> None:
    """Nodes only: groups by per-node column sets, explicit type ids, generators, int and string columns."""
    net = NB("cortex")
    net.add_nodes(N=5, model_type="point_neuron", model_template="nest:iaf_psc_alpha", node_type_id=101,
                  x=np.arange(5.0), y=(float(i) ** 2 for i in range(5)), cell_name=["a", "b", "c", "d", "e"],
                  flag=np.array([True, False, True, True, False]))
    net.add_nodes(N=3, model_type="point_neuron", model_template="nest:glif_psc", node_type_id=2,
                  x=[1.5, 2.5, 3.5], y=[0.0, -1.0, -2.0], cell_name=["f", "g", "h"], flag=[False, False, True])
    net.add_nodes(N=2, model_type="biophysical", morphology="pyr.swc", node_type_id=3, depth=range(100, 102))
    net.add_nodes(N=4, model_type="virtual")
    net.add_nodes(N=2, model_type="virtual", label="shared by both", gain=1.5)
    net.build()
    net.save(output_dir=out, compression="none")


def spec_two_networks(NB: Any, out: Path) -> None:
    """A virtual input population (lgn) projecting onto v1; lgn -> v1 edges saved by the lgn builder."""
    v1 = NB("v1")
    add_v1_nodes(v1)
    v1.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=1, syn_weight=1.0, delay=1.0)
    lgn = NB("lgn")
    lgn.add_nodes(N=3, model_type="virtual", pop_name="tON", ei="e", x=[0.0, 10.0, 20.0], y=[5.0, 5.0, 5.0])
    lgn.add_nodes(N=2, model_type="virtual", pop_name="tOFF", ei="e", x=[30.0, 40.0], y=[0.0, 0.0])
    lgn.add_edges(source=lgn.nodes(), target=v1.nodes(ei="e"), connection_rule=syn_count,
                  connection_params={"base": 3, "skip": 1}, syn_weight=4.0, delay=2.0,
                  model_template="static_synapse", dynamics_params="lgn_to_e.json")
    cm = lgn.add_edges(source=lgn.nodes(pop_name="tOFF"), target=v1.nodes(ei="i"), connection_rule=2,
                       delay=2.0, model_template="static_synapse", dynamics_params="lgn_to_i.json")
    cm.add_properties("syn_weight", rule=lambda s, t: s["x"] / 10.0 + t.node_id, dtypes=np.float64)
    v1.build()
    v1.save(output_dir=out, compression="none")
    lgn.build()
    lgn.save(output_dir=out, compression="none")


def is_even(v: Any) -> bool:
    return int(v) % 2 == 0


def spec_selectors_and_node_ids(NB: Any, out: Path) -> None:
    """Explicit node ids, predicates, node_type_id / node_id selectors, all-node selectors, the nsyns keyword."""
    net = NB("v1")
    net.add_nodes(N=3, ei="e", model_type="biophysical", positions=[(0.0, 1.0, 2.0), (3.0, 4.0, 5.0), (6, 7, 8)],
                  gain=[1.0, 2.0, 3.0])
    net.add_nodes(N=2, ei="i", model_type="point_neuron", node_id=[1, 4], gain=[5.0, 6.0])
    net.add_nodes(N=3, ei="i", model_type="point_neuron", node_type_id=42)
    net.add_edges(source={"node_type_id": 42}, target={"node_id": [0, 2, 4]}, nsyns=2, syn_weight=1.0)
    net.add_edges(source={"gain": is_even}, target=None, connection_rule=1, syn_weight=2.0)
    net.add_edges(source=None, target={"ei": "i", "model_type": ["point_neuron", "other"]},
                  connection_rule=lambda s, t: 1 if s.node_id < t.node_id else None, syn_weight=3.0)
    net.add_edges(source={"ei": "missing"}, target={"ei": "e"}, connection_rule=1, syn_weight=4.0)
    net.build()
    net.save(output_dir=out, compression="none")


def spec_two_networks_saved_by_target(NB: Any, out: Path) -> None:
    """Edges from a virtual population added (and saved) by the target network's builder."""
    lgn = NB("lgn")
    lgn.add_nodes(N=4, model_type="virtual", pop_name=["tON", "tON", "tOFF", "tOFF"])
    v1 = NB("v1")
    add_v1_nodes(v1)
    cm = v1.add_edges(source=lgn.nodes(pop_name="tON"), target=v1.nodes(ei="e"),
                      connection_rule=syn_count, connection_params={"base": 4, "skip": 0},
                      model_template="static_synapse", delay=2.0)
    cm.add_properties("syn_weight", rule=weight_rule, rule_params={"w0": 1.0, "scale": 0.5}, dtypes=np.float64)
    cm = v1.add_edges(source=lgn.nodes(), target=v1.nodes(ei="i"), connection_rule=1,
                      model_template="static_synapse", delay=1.0)
    cm.add_properties("syn_weight", rule=weight_rule, rule_params={"w0": 2.0, "scale": 0.25}, dtypes=np.float64)
    lgn.build()
    lgn.save(output_dir=out, compression="none")
    v1.build()
    v1.save(output_dir=out, compression="none")



# ====================================================================== tests
def test_int_rules_selectors_and_edge_type_properties(tmp_path: Path) -> None:
    b, m = run_spec(spec_int_rules, tmp_path)
    used = assert_same_network(b, m)
    assert used == {"nodes": ["bmtk"], "edges": ["libsonata"]}
    rows = types_rows(m / "v1_v1_edge_types.csv", "edge_type_id")[1]
    assert sorted(rows) == [100, 101, 102, 103]  # ids given explicitly are skipped by the automatic ones
    assert rows[100]["target_sections"] == "['basal', 'apical']"
    assert rows[100]["distance_range"] == "[0.0, 150.0]"
    assert rows[101]["source_query"] == "ei=='i'&location=='['L2', 'L4']'"
    assert rows[102]["target_query"] == "ei=='e'&layer=='L4'"
    assert rows[103]["source_query"] == "ei=='e'&location=='L2'"
    assert rows[103]["recurrent"] == "True"
    # 5 x 5 pairs of 3 synapses, 5 x 6 of 1, none, 4 x 5 (self-pairs included) of 1: one row per pair
    et = Network.load(m).edges["v1_to_v1"].type_counts()
    assert et == {101: 5 * 6, 100: 5 * 5, 103: 4 * 5}


def test_per_pair_callables_and_iterators(tmp_path: Path) -> None:
    b, m = run_spec(spec_callables, tmp_path)
    assert assert_same_network(b, m) == {"nodes": ["bmtk"], "edges": ["libsonata"]}
    pop = Network.load(m).edges["v1_to_v1"]
    df = pop.get(["source_node_id", "target_node_id", "edge_type_id", "nsyns"])
    first = df[df["edge_type_id"] == 100]
    # None returns and zero counts make no edge; the rest carry their count in nsyns
    expected = {(s, t): syn_count(_N(s), _N(t), 4, 1) for s in (0, 1, 2, 3, 9) for t in range(10)}
    expected = {k: v for k, v in expected.items() if v}
    assert dict(zip(zip(first["source_node_id"], first["target_node_id"]), first["nsyns"])) == expected


def test_list_rules_each_iterator(tmp_path: Path) -> None:
    b, m = run_spec(spec_list_rules, tmp_path)
    assert assert_same_network(b, m) == {"nodes": ["bmtk"], "edges": ["libsonata"]}


def test_add_properties(tmp_path: Path) -> None:
    b, m = run_spec(spec_properties, tmp_path)
    assert assert_same_network(b, m) == {"nodes": ["bmtk"], "edges": ["libsonata"]}
    with h5py.File(m / "v1_v1_edges.h5", "r") as f:
        g = f["edges/v1_to_v1/0"]
        assert g["afferent_section_id"].dtype == np.int64
        assert g["afferent_section_pos"].dtype == np.float64
        assert "nsyns" not in g


def test_values_lists_follow_bmtk_edge_order(tmp_path: Path) -> None:
    b, m = run_spec(spec_values_in_bmtk_order, tmp_path)
    assert assert_same_network(b, m) == {"nodes": ["bmtk"], "edges": ["libsonata"]}
    with h5py.File(m / "v1_v1_edges.h5", "r") as f:
        assert f["edges/v1_to_v1/0/tag"].dtype == np.int32
        assert f["edges/v1_to_v1/0/syn_weight"].dtype == np.float64


def test_several_edge_groups(tmp_path: Path) -> None:
    b, m = run_spec(spec_multi_group_edges, tmp_path)
    assert assert_same_network(b, m) == {"nodes": ["bmtk"], "edges": ["bmtk"]}
    assert len(group_schemas(m / "v1_v1_edges.h5", "edges", "v1_to_v1")) == 3


def test_nodes_groups_and_types(tmp_path: Path) -> None:
    b, m = run_spec(spec_nodes_only, tmp_path)
    assert assert_same_network(b, m) == {"nodes": ["bmtk"], "edges": []}
    assert {frozenset(c for c, _, _ in g) for g in group_schemas(m / "cortex_nodes.h5", "nodes", "cortex")} == {
        frozenset({"x", "y", "cell_name", "flag"}), frozenset({"depth"}), frozenset()}


def test_two_networks_with_virtual_input(tmp_path: Path) -> None:
    b, m = run_spec(spec_two_networks, tmp_path)
    assert network_files(m) == ["lgn_node_types.csv", "lgn_nodes.h5", "lgn_v1_edge_types.csv", "lgn_v1_edges.h5",
                                "v1_node_types.csv", "v1_nodes.h5", "v1_v1_edge_types.csv", "v1_v1_edges.h5"]
    used = assert_same_network(b, m)
    assert sorted(used["nodes"]) == ["bmtk", "libsonata"]
    assert sorted(used["edges"]) == ["bmtk", "libsonata"]


def test_selectors_predicates_and_explicit_node_ids(tmp_path: Path) -> None:
    b, m = run_spec(spec_selectors_and_node_ids, tmp_path)
    assert assert_same_network(b, m) == {"nodes": ["bmtk"], "edges": ["libsonata"]}
    assert {frozenset(c for c, _, _ in g) for g in group_schemas(m / "v1_nodes.h5", "nodes", "v1")} == {
        frozenset({"positions", "gain"}), frozenset({"gain"}), frozenset()}
    nodes = Network.load(m).nodes["v1"]
    assert nodes.node_ids.tolist() == [0, 2, 3, 1, 4, 5, 6, 7]
    edges = Network.load(m).edges["v1_to_v1"]
    assert sorted(edges.type_counts()) == [100, 101, 102]  # the selector matching nothing made no edges
    rows = types_rows(m / "v1_v1_edge_types.csv", "edge_type_id")[1]
    assert rows[103]["source_query"] == "ei=='missing'"
    assert rows[101]["source_query"] == f"gain=='{is_even}'"


def test_two_networks_edges_saved_by_target_builder(tmp_path: Path) -> None:
    b, m = run_spec(spec_two_networks_saved_by_target, tmp_path)
    assert network_files(m) == ["lgn_node_types.csv", "lgn_nodes.h5", "lgn_v1_edge_types.csv", "lgn_v1_edges.h5",
                                "v1_node_types.csv", "v1_nodes.h5"]
    assert assert_same_network(b, m) == {"nodes": ["libsonata", "bmtk"], "edges": ["libsonata"]}
