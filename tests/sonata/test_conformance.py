"""Conformance of modelkit's SONATA reading with the corpus facts in EXPECTED.json.

Every file, config, node-set file entry and authored node-set query of
``shared/sonata/corpus`` is its own test id.  The facts (and their exact
definitions) come from ``shared/sonata/make_expected.py``, which reads the files
with raw h5py and cross-checks libsonata / bmtk; here each fact is recomputed
through modelkit's public API and compared, with the tolerances of
``EXPECTED["_meta"]["conventions"]``:

* floats: rel_tol 1e-9 (report data: 1e-6); sums are exactly rounded (``math.fsum``)
  over finite values;
* ``first3_merged`` values that come from a types CSV are raw tokens: compared as
  numbers when both sides are numeric, ``NULL``/``NONE`` mean "not set";
* id lists longer than 50 are summarised as ``{count, first10, sum}``;
* paths in config facts are relative to the config's folder.

The corpus is read in place (fixtures ``corpus`` / ``expected``); nothing is copied.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import numpy as np
import pytest

import modelkit
from modelkit.errors import ConfigError, NodeSetError
from modelkit.sonata import (
    CircuitConfig,
    CompartmentReport,
    EdgePopulation,
    Network,
    NodePopulation,
    NodeSets,
    SimulationConfig,
    h5,
    load_config,
    read_ecp,
    read_spikes,
    read_types_csv,
    validate,
)
from modelkit.sonata.config import expand_manifest, read_json
from modelkit.sonata.index import DIRECTIONS, NODE_TO_RANGES_NAMES, EdgeIndex, find_index_group
from modelkit.sonata.network import classify_h5
from modelkit.sonata.types_table import tokenize_line
from modelkit.testing import shared_path

# --------------------------------------------------------------------------- parameters
# Collected at import time so that every corpus entry is its own test id.
_EXPECTED: dict = json.loads(shared_path("sonata", "corpus", "EXPECTED.json").read_text())
_FILES: dict = _EXPECTED["files"]


def _files(*kinds: str) -> list:
    return [pytest.param(k, id=k) for k, v in sorted(_FILES.items()) if v["kind"] in kinds]


def _pops(kind: str) -> list:
    return [pytest.param(k, p, id=f"{k}::{p}") for k, v in sorted(_FILES.items()) if v["kind"] == kind
            for p in sorted(v["populations"])]


NODE_POPS = _pops("nodes")
EDGE_POPS = _pops("edges")
SPIKE_FILES = _files("spikes")
REPORT_FILES = _files("compartment_report")
ECP_FILES = _files("extracellular_report")
TYPES_CSVS = _files("node_types", "edge_types")
CSV_FILES = [pytest.param(k, id=k) for k in sorted(_FILES) if k.endswith(".csv")]
OTHER_CSVS = _files("other_csv")
H5_FILES = [pytest.param(k, id=k) for k in sorted(_FILES) if k.endswith(".h5")]
CONFIGS = [pytest.param(k, id=k) for k in sorted(_EXPECTED["configs"])]
REF_CONFIGS = [pytest.param(k, id=k) for k, v in sorted(_EXPECTED["configs"].items())
               if "node_set_references" in v]
NODE_SET_ENTRIES = [pytest.param(f, n, id=f"{f}::{n}") for f, v in sorted(_EXPECTED["node_sets"].items())
                    for n in v["names"]]
NODE_SET_FILES = [pytest.param(f, id=f) for f in sorted(_EXPECTED["node_sets"])]
QUERY_ENTRIES = [pytest.param(c, n, id=f"{c}::{n}") for c, v in sorted(_EXPECTED["node_set_queries"].items())
                 for n in v["names"]]

REL = 1e-9
REL_REPORT = 1e-6
NULL_TOKENS = ("NULL", "NONE")
LEGACY_POP = "<legacy:no population>"
SORTING_NAMES = {None: "none", "none": "none", "by_id": "by_id", "by_time": "by_time", "by_gid": "by_id",
                 "time": "by_time"}
#: modelkit returns spike times in ms; EXPECTED keeps the stored values
TIME_SCALE = {None: 1.0, "ms": 1.0, "millisecond": 1.0, "milliseconds": 1.0, "msec": 1.0,
              "s": 1000.0, "sec": 1000.0, "second": 1000.0, "seconds": 1000.0}


# --------------------------------------------------------------------------- helpers
def fsum(a: Any) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    return math.fsum(a[np.isfinite(a)].tolist())


def n_nonfinite(a: Any) -> int:
    return int((~np.isfinite(np.asarray(a, dtype=np.float64))).sum())


def close(got: Any, exp: Any, rel: float = REL, abs_tol: float = 1e-12) -> bool:
    """Numbers equal within tolerance; 'nan'/'inf' strings stand for non-finite values."""
    if exp is None or got is None:
        return exp is None and got is None
    if isinstance(exp, str):
        e = float(exp)
        g = float(got)
        return (math.isnan(e) and math.isnan(g)) or e == g
    return math.isclose(float(got), float(exp), rel_tol=rel, abs_tol=abs_tol)


def assert_close(got: Any, exp: Any, what: str, rel: float = REL, abs_tol: float = 1e-12) -> None:
    assert close(got, exp, rel, abs_tol), f"{what}: modelkit {got!r} != expected {exp!r}"


def assert_seq_close(got: Any, exp: list, what: str, rel: float = REL) -> None:
    got = list(np.asarray(got).tolist())
    assert len(got) == len(exp), f"{what}: length {len(got)} != {len(exp)} ({got} vs {exp})"
    for i, (g, e) in enumerate(zip(got, exp)):
        if isinstance(e, (int, float)) and not isinstance(e, bool):
            assert_close(g, e, f"{what}[{i}]", rel)
        else:
            assert g == e, f"{what}[{i}]: modelkit {g!r} != expected {e!r}"


def is_missing(v: Any) -> bool:
    """modelkit's "not set": None (object columns) or NaN (numeric columns)."""
    if v is None:
        return True
    try:
        return bool(isinstance(v, (float, np.floating)) and np.isnan(v))
    except TypeError:
        return False


def as_number(v: Any) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def assert_value(got: Any, exp: Any, what: str) -> None:
    """One merged attribute value against EXPECTED: a raw CSV token (str) or an HDF5 number."""
    if isinstance(exp, str) and exp in NULL_TOKENS:
        assert is_missing(got), f"{what}: expected not set ({exp}), modelkit has {got!r}"
        return
    assert not is_missing(got), f"{what}: expected {exp!r}, modelkit has nothing ({got!r})"
    ge, ee = as_number(got), as_number(exp)
    if ge is not None and ee is not None:
        assert math.isclose(ge, ee, rel_tol=REL, abs_tol=1e-12), \
            f"{what}: modelkit {got!r} != expected {exp!r}"
    else:
        assert str(got) == str(exp), f"{what}: modelkit {got!r} != expected {exp!r}"


def assert_ids(got: Any, exp: Any, what: str) -> None:
    """Sorted id list against EXPECTED's list or its {count, first10, sum} summary."""
    g = sorted(int(x) for x in np.asarray(got).tolist())
    if isinstance(exp, dict):
        assert len(g) == exp["count"], f"{what}: {len(g)} ids, expected {exp['count']}"
        assert g[:10] == exp["first10"], f"{what}: first ids {g[:10]} != {exp['first10']}"
        assert sum(g) == exp["sum"], f"{what}: id sum {sum(g)} != {exp['sum']}"
    else:
        assert g == sorted(exp), f"{what}: ids {g} != {sorted(exp)}"


def hist_by_number(h: dict | None) -> dict[float, int] | None:
    """A histogram keyed by numbers (EXPECTED writes float keys as '0.0')."""
    return None if h is None else {float(k): int(v) for k, v in h.items()}


def histogram(a: np.ndarray) -> dict[float, int]:
    u, c = np.unique(np.asarray(a), return_counts=True)
    return {float(k): int(n) for k, n in zip(u.tolist(), c.tolist())}


def cpath(corpus, key: str) -> str:
    return os.path.join(os.fspath(corpus), key)


def node_population(corpus, expected: dict, key: str, pop: str) -> NodePopulation:
    f = expected["files"][key]
    csv = f.get("node_types_csv")
    types = read_types_csv(cpath(corpus, csv), "node_type_id") if csv else None
    return NodePopulation(cpath(corpus, key), pop, types)


def edge_population(corpus, expected: dict, key: str, pop: str) -> EdgePopulation:
    f = expected["files"][key]
    csv = f.get("edge_types_csv")
    types = read_types_csv(cpath(corpus, csv), "edge_type_id") if csv else None
    return EdgePopulation(cpath(corpus, key), pop, types)


def rel_to(path: str | None, base: str, exp: Any) -> Any:
    """modelkit's absolute path in EXPECTED's form (relative to ``base``, absolute kept)."""
    if path is None:
        return None
    if isinstance(exp, str) and os.path.isabs(exp):
        return os.path.normpath(path)
    return os.path.relpath(path, base)


# --------------------------------------------------------------------------- shared group checks
def check_layout(pop: Any, pf: dict, group_id: np.ndarray, group_index: np.ndarray, raw_groups: dict,
                 what: str) -> None:
    """Groups: names, sizes, attributes (names, dtypes, sums, first3), dynamics, other subgroups."""
    lay = pop.layout
    assert pf["n_groups"] == len(lay.groups), f"{what}: n_groups"
    assert sorted(str(g) for g in lay.groups) == sorted(pf["groups"]), f"{what}: group ids"
    assert list(lay.other_subgroups) == pf.get("other_subgroups", []), f"{what}: other subgroups"
    for gname, gf in pf["groups"].items():
        gid = int(gname)
        info = lay.groups[gid]
        w = f"{what} group {gname}"
        members = np.flatnonzero(group_id == gid)
        assert len(members) == gf["size"], f"{w}: size"
        stored = sorted(info.attributes + (("positions",) if info.has_positions else ()))
        assert stored == gf["attributes"], f"{w}: attributes"
        assert list(info.dynamics) == gf["dynamics_params"], f"{w}: dynamics_params"
        if "max_group_index" in gf:
            assert int(group_index[members].max()) == gf["max_group_index"], f"{w}: max_group_index"
        cols = raw_groups[gid].columns
        for a, st in gf["attribute_stats"].items():
            vals = np.asarray(cols[a])
            wa = f"{w} attribute {a}"
            string_dtype = st["dtype"].startswith("|S") or st["dtype"] == "object"
            assert str(vals.dtype) == st["dtype"] or string_dtype, \
                f"{wa}: dtype {vals.dtype} != {st['dtype']}"
            assert list(vals.shape) == st["shape"], f"{wa}: shape"
            assert info.size == st["shape"][0], f"{wa}: GroupInfo.size {info.size} != column length"
            assert_seq_close(vals[:3], st["first3"], f"{wa} first3")
            if "sum" in st:
                assert_close(fsum(vals), st["sum"], f"{wa} sum")
                assert n_nonfinite(vals) == st.get("n_nonfinite", 0), f"{wa}: n_nonfinite"
                # the same sum through the merged column, when each group row is used exactly once
                if a in info.attributes and a not in info.library and \
                        np.array_equal(np.sort(group_index[members]), np.arange(st["shape"][0])):
                    merged = np.asarray(pop.column(a), dtype=np.float64)[members]
                    assert_close(fsum(merged), st["sum"], f"{wa} sum via merged column")
        for d, st in gf.get("dynamics_params_stats", {}).items():
            vals = np.asarray(raw_groups[gid].dynamics_params[d])
            assert str(vals.dtype) == st["dtype"] and list(vals.shape) == st["shape"], f"{w} dynamics {d}"
            if "sum" in st:
                assert_close(fsum(vals), st["sum"], f"{w} dynamics {d} sum")


def check_first3_merged(frame: Any, exp_rows: list[dict], special: tuple[str, ...], what: str,
                        libraries: list[dict] | None = None) -> None:
    """Merged attributes of the first rows.  ``libraries[i]`` maps the @library attributes of
    row i's group to their value lists: EXPECTED holds the stored codes, modelkit the values."""
    assert len(frame) == len(exp_rows), f"{what}: rows"
    for i, exp in enumerate(exp_rows):
        row = frame.iloc[i]
        lib = libraries[i] if libraries else {}
        for k, v in exp.items():
            if k == "positions":  # a 2-D dataset, checked through positions()
                continue
            assert k in frame.columns, f"{what} row {i}: modelkit lacks attribute {k!r}"
            if k in special:
                assert int(row[k]) == v, f"{what} row {i} {k}: {row[k]!r} != {v!r}"
            elif k in lib:
                assert row[k] == lib[k][int(v)], f"{what} row {i} {k}: {row[k]!r} != @library[{v}]"
            else:
                assert_value(row[k], v, f"{what} row {i} {k}")
        for k in frame.columns:
            if k not in exp and k != "positions":
                assert is_missing(row[k]), f"{what} row {i}: {k!r} should be unset, modelkit has {row[k]!r}"


# --------------------------------------------------------------------------- nodes
def _libraries(pop: Any, data: Any, rows: np.ndarray) -> list[dict]:
    """Per row, the @library value lists of its group."""
    return [dict(data.groups[int(data.node_group_id[r])].library) for r in rows.tolist()]


@pytest.mark.parametrize("key,pop_name", NODE_POPS)
def test_nodes(corpus, expected, key, pop_name):
    pf = expected["files"][key]["populations"][pop_name]
    pop = node_population(corpus, expected, key, pop_name)
    w = f"{key}::{pop_name}"
    n = pf["count"]
    assert pop.size == n == len(pop)
    ids = pop.node_ids
    assert ids.tolist()[:5] == pf["node_ids_first5"]
    assert bool(np.array_equal(ids, np.arange(n))) is pf["node_ids_contiguous_from_0"]
    assert pop.ids().flat.tolist() == sorted(ids.tolist())
    data = pop.to_data()
    # population-level datasets, whatever their stored dtype, are read as int64 ids
    arrays = {"node_type_id": pop.node_type_ids, "node_id": ids, "node_group_id": data.node_group_id,
              "node_group_index": data.node_group_index}
    for name, dt in pf["dataset_dtypes"].items():
        assert name in arrays, f"{w}: unexpected population-level dataset {name}"
        assert np.dtype(dt).kind in "iuf", f"{w}: unexpected stored dtype {dt} for {name}"
        assert arrays[name].dtype == np.int64 and len(arrays[name]) == n, f"{w}: {name} as read"
    if not pf["node_id_dataset"]:
        assert np.array_equal(ids, np.arange(n)), f"{w}: implicit node ids are 0..n-1"
    assert {str(k): v for k, v in pop.type_counts().items()} == pf["node_type_id_histogram"]
    assert histogram(data.node_group_id) == hist_by_number(pf["node_group_id_histogram"])
    check_layout(pop, pf, data.node_group_id, data.node_group_index, data.groups, w)


@pytest.mark.parametrize("key,pop_name", NODE_POPS)
def test_nodes_merged_with_types(corpus, expected, key, pop_name):
    f = expected["files"][key]
    pf = f["populations"][pop_name]
    pop = node_population(corpus, expected, key, pop_name)
    w = f"{key}::{pop_name}"
    if not f.get("node_types_csv"):
        # no config pairs the file with a types CSV: only the HDF5 columns
        assert pop.types is None and "first3_merged" not in pf
        assert pop.attribute_names == sorted(set().union(*[set(g["attributes"]) - {"positions"}
                                                            for g in pf["groups"].values()]))
        return
    assert pop.types is not None
    missing = pop.types.missing(pop.node_type_ids).tolist()
    assert missing == pf["node_type_ids_missing_from_csv"]
    if missing:
        # a design choice: type ids absent from the CSV make merged reads fail loudly
        with pytest.raises(modelkit.errors.SonataFormatError):
            pop.get()
        return
    # attribute names: union of the CSV columns and each group's columns
    by_group = pf["merged_attribute_names_by_group"]
    for gname, names in by_group.items():
        info = pop.layout.groups[int(gname)]
        stored = set(info.attributes) | ({"positions"} if info.has_positions else set())
        assert sorted({"node_type_id"} | set(pop.types.names) | stored) == names, \
            f"{w}: merged attribute names of group {gname}"
    assert sorted(set(pop.attribute_names) | {"node_type_id"}) == \
        sorted(set().union(*map(set, by_group.values())) - {"positions"})
    # model_type after merging ('None' = absent)
    if "model_type" in pop.attribute_names:
        mt = {str(k): len(v) for k, v in pop.split_by("model_type").items()}
        brute: dict[str, int] = {}
        for v in pop.column("model_type").tolist():
            k = str(None if is_missing(v) else v)
            brute[k] = brute.get(k, 0) + 1
        assert brute == pf["model_type_histogram"], f"{w}: model_type histogram (column)"
    else:
        mt = {"None": pop.size}
    assert mt == pf["model_type_histogram"], f"{w}: model_type histogram (split_by)"
    # first three nodes, every merged attribute
    first = pop.node_ids[:3]
    frame = pop.get(selection=first)
    assert frame.index.tolist() == first.tolist()
    libs = _libraries(pop, pop.to_data(), np.arange(len(first)))
    check_first3_merged(frame, pf["first3_merged"], ("node_type_id",), w, libs)
    for i, exp in enumerate(pf["first3_merged"]):
        for k, v in exp.items():
            if k not in ("node_type_id", "positions") and k not in libs[i]:
                assert_value(pop.column(k, first[i:i + 1])[0], v, f"{w} column({k!r}) of node {first[i]}")


@pytest.mark.parametrize("key,pop_name", NODE_POPS)
def test_nodes_positions(corpus, expected, key, pop_name):
    pf = expected["files"][key]["populations"][pop_name]
    pop = node_population(corpus, expected, key, pop_name)
    w = f"{key}::{pop_name}"
    groups = pf["groups"]
    names = set().union(*[set(v) for v in pf.get("merged_attribute_names_by_group", {}).values()],
                        *[set(g["attributes"]) for g in groups.values()])
    dataset = any("positions" in g["attributes"] for g in groups.values())
    has = dataset or bool({"x", "y"} & names)
    assert pop.has_positions() is has, f"{w}: has_positions"
    if not has:
        with pytest.raises(modelkit.errors.SelectionError):
            pop.positions()
        return
    pos = pop.positions()
    assert pos.shape == (pf["count"], 3)
    for i, row in enumerate(pf.get("first3_merged", [])):
        if "positions" in row:
            assert_seq_close(pos[i, :len(row["positions"])], row["positions"], f"{w} positions[{i}]")
            continue
        for k, ax in enumerate("xyz"):
            if ax in row:
                assert_value(pos[i, k], row[ax], f"{w} positions[{i}, {ax}]")
            elif ax == "z" and "z" not in names:
                assert pos[i, k] == 0.0, f"{w}: z of a 2-D population must read as 0"
            else:
                assert np.isnan(pos[i, k]), f"{w}: unset {ax} must read as NaN"
    # column sums: every group holds the coordinate and uses each of its rows once
    data = pop.to_data()
    for k, ax in enumerate("xyz"):
        if groups and all(ax in g["attributes"] for g in groups.values()):
            ok = all(np.array_equal(np.sort(data.node_group_index[data.node_group_id == int(gn)]),
                                    np.arange(g["attribute_stats"][ax]["shape"][0]))
                     for gn, g in groups.items())
            if ok:
                total = math.fsum(g["attribute_stats"][ax]["sum"] for g in groups.values())
                assert_close(fsum(pos[:, k]), total, f"{w}: sum of positions[:, {ax}]", abs_tol=1e-9)


# --------------------------------------------------------------------------- edges
@pytest.mark.parametrize("key,pop_name", EDGE_POPS)
def test_edges(corpus, expected, key, pop_name):
    pf = expected["files"][key]["populations"][pop_name]
    e = edge_population(corpus, expected, key, pop_name)
    w = f"{key}::{pop_name}"
    n = pf["count"]
    assert e.size == n == len(e)
    assert e.source == pf["source_population"] and e.target == pf["target_population"]
    src, tgt = e.source_ids(), e.target_ids()
    data = e.to_data()
    has_type = pf["edge_type_id_histogram"] is not None
    assert e.layout.has_type_id is has_type
    arrays = {"source_node_id": src, "target_node_id": tgt, "edge_group_id": data.edge_group_id,
              "edge_group_index": data.edge_group_index, "edge_id": e.edge_ids}
    if has_type:
        arrays["edge_type_id"] = e.type_ids()
    for name, dt in pf["dataset_dtypes"].items():
        assert name in arrays, f"{w}: unexpected population-level dataset {name}"
        assert np.dtype(dt).kind in "iuf", f"{w}: unexpected stored dtype {dt} for {name}"
        assert arrays[name].dtype == np.int64 and len(arrays[name]) == n, f"{w}: {name} as read"
    if "edge_id" not in pf["dataset_dtypes"]:
        assert np.array_equal(e.edge_ids, np.arange(n)), f"{w}: implicit edge ids are 0..n-1"
    if has_type:
        assert {str(k): v for k, v in e.type_counts().items()} == pf["edge_type_id_histogram"]
    else:
        assert e.type_counts() == {}
    assert histogram(data.edge_group_id) == hist_by_number(pf["edge_group_id_histogram"])
    check_layout(e, pf, data.edge_group_id, data.edge_group_index, data.groups, w)
    # first five edges, file order
    first5 = [[int(s), int(t)] for s, t in zip(src[:5], tgt[:5])]
    if has_type:
        first5 = [r + [int(x)] for r, x in zip(first5, e.type_ids()[:5])]
    assert first5 == pf["first5"]
    sel = modelkit.sonata.Selection.from_values(np.arange(min(5, n)))
    assert e.source_ids(sel).tolist() == [r[0] for r in pf["first5"]]
    assert e.target_ids(sel).tolist() == [r[1] for r in pf["first5"]]
    assert len(set(zip(src.tolist(), tgt.tolist()))) == pf["n_distinct_source_target_pairs"]


@pytest.mark.parametrize("key,pop_name", EDGE_POPS)
def test_edges_queries(corpus, expected, key, pop_name):
    """Edges per source/target node 0..4: modelkit's afferent/efferent queries and brute force."""
    pf = expected["files"][key]["populations"][pop_name]
    e = edge_population(corpus, expected, key, pop_name)
    w = f"{key}::{pop_name}"
    src, tgt = e.source_ids(), e.target_ids()
    for i in range(5):
        exp_t = pf["edges_per_target_first5"][str(i)]
        exp_s = pf["edges_per_source_first5"][str(i)]
        assert int((tgt == i).sum()) == exp_t, f"{w}: brute-force edges onto {i}"
        assert int((src == i).sum()) == exp_s, f"{w}: brute-force edges from {i}"
        aff, eff = e.afferent_edges([i]), e.efferent_edges([i])
        assert len(aff) == exp_t, f"{w}: afferent_edges({i})"
        assert len(eff) == exp_s, f"{w}: efferent_edges({i})"
        assert aff.flat.tolist() == np.flatnonzero(tgt == i).tolist(), f"{w}: afferent edge ids of {i}"
        assert eff.flat.tolist() == np.flatnonzero(src == i).tolist(), f"{w}: efferent edge ids of {i}"
        assert e.afferent_nodes([i]).tolist() == np.unique(src[tgt == i]).tolist()
        assert e.efferent_nodes([i]).tolist() == np.unique(tgt[src == i]).tolist()
    several = list(range(5))
    assert len(e.afferent_edges(several)) == sum(pf["edges_per_target_first5"].values())
    assert len(e.efferent_edges(several)) == sum(pf["edges_per_source_first5"].values())
    pairs = pf["first5"][0][:2] if pf["first5"] else None
    if pairs:
        s0, t0 = pairs
        conn = e.connecting_edges([s0], [t0])
        assert conn.flat.tolist() == np.flatnonzero((src == s0) & (tgt == t0)).tolist()


@pytest.mark.parametrize("key,pop_name", EDGE_POPS)
def test_edges_index(corpus, expected, key, pop_name):
    """The stored index (any spelling) and its agreement with source/target ids."""
    fi = expected["files"][key]["populations"][pop_name]["indices"]
    e = edge_population(corpus, expected, key, pop_name)
    w = f"{key}::{pop_name}"
    src, tgt = e.source_ids(), e.target_ids()
    with h5.open_h5(e.path) as f:
        ig, name = find_index_group(f["edges"][pop_name], e.path)
        assert name == fi["group"], f"{w}: index group"
        if name is None:
            assert not e.has_index and "datasets" not in fi
            return
        assert {d: sorted(ig[d].keys()) for d in sorted(ig.keys())} == fi["datasets"], f"{w}: index datasets"
        names = {d for v in fi["datasets"].values() for d in v}
        assert (name == "indices" and NODE_TO_RANGES_NAMES[0] in names) is fi["spec_names"]
        assert e.has_index is all(d in fi["datasets"] for d in DIRECTIONS)
        consistent = True
        for direction, ids, query in (("source_to_target", src, e.efferent_edges),
                                      ("target_to_source", tgt, e.afferent_edges)):
            if direction not in fi["datasets"]:
                consistent = False
                continue
            idx = EdgeIndex.from_file(ig, direction, e.path, e.size)
            shapes = fi["shapes"][direction]
            assert list(idx.node_to_ranges.shape) == shapes["node_id_to_range(s)"], f"{w}: {direction} shape"
            assert list(idx.ranges.shape) == shapes["range_to_edge_id"], f"{w}: {direction} ranges shape"
            for node in range(idx.node_to_ranges.shape[0]):
                if query([node]).flat.tolist() != np.flatnonzero(ids == node).tolist():
                    consistent = False
                    break
        assert consistent is fi["consistent_with_edge_datasets"], f"{w}: index consistency"


@pytest.mark.parametrize("key,pop_name", EDGE_POPS)
def test_edges_weights_and_merge(corpus, expected, key, pop_name):
    f = expected["files"][key]
    pf = f["populations"][pop_name]
    e = edge_population(corpus, expected, key, pop_name)
    w = f"{key}::{pop_name}"
    data = e.to_data()
    sw = pf["syn_weight"]
    h5w = [np.asarray(gd.columns["syn_weight"]) for gd in data.groups.values() if "syn_weight" in gd.columns]
    assert_close(fsum(np.concatenate(h5w)) if h5w else None, sw["h5_sum"], f"{w}: syn_weight h5_sum")
    ns = [np.asarray(gd.columns["nsyns"]) for gd in data.groups.values() if "nsyns" in gd.columns]
    assert_close(fsum(np.concatenate(ns)) if ns else None, pf.get("nsyns_sum"), f"{w}: nsyns_sum")
    if not f.get("edge_types_csv"):
        assert e.types is None and "resolved_sum" not in sw and "first3_merged" not in pf
        return
    # resolved: group value, else the edge-types CSV value; NULL counts as missing
    assert e.types is not None and os.path.relpath(e.types.path, os.fspath(corpus)) == sw["edge_types_csv"]
    if "syn_weight" in e.attribute_names:
        col = e.column("syn_weight")
        missing = sum(1 for v in col.tolist() if is_missing(v))
        vals = np.asarray([v for v in col.tolist() if not is_missing(v)], dtype=np.float64)
        got = fsum(vals) if len(vals) else None
    else:
        got, missing = None, e.size
    assert_close(got, sw["resolved_sum"], f"{w}: syn_weight resolved_sum")
    assert missing == sw["resolved_missing"], f"{w}: syn_weight resolved_missing"
    assert sorted(set(e.attribute_names) | {"source_node_id", "target_node_id", "edge_type_id"}) == \
        pf["merged_attribute_names"]
    first = e.edge_ids[:3]
    frame = e.get(selection=first)
    assert frame.index.tolist() == first.tolist()
    libs = [dict(data.groups[int(data.edge_group_id[r])].library) for r in range(len(first))]
    special = ("edge_type_id", "source_node_id", "target_node_id")
    check_first3_merged(frame, pf["first3_merged"], special, w, libs)


# --------------------------------------------------------------------------- types CSV
@pytest.mark.parametrize("key", TYPES_CSVS)
def test_types_csv(corpus, expected, key):
    f = expected["files"][key]
    idcol = "node_type_id" if f["kind"] == "node_types" else "edge_type_id"
    t = read_types_csv(cpath(corpus, key), idcol)
    assert t.id_column == idcol
    assert [idcol] + t.names == f["columns"]
    assert len(t) == f["n_rows"] == len(f["rows"])
    assert t.ids.tolist() == f["ids_in_file_order"]
    frame = t.to_frame()
    assert frame.index.tolist() == f["ids_in_file_order"] and list(frame.columns) == t.names
    for i, row in enumerate(f["rows"]):
        for c, tok in zip(f["columns"], row):
            if c == idcol:
                assert int(tok) == int(t.ids[i])
            else:
                assert_value(t.columns[c][i], tok, f"{key} row {i} column {c}")
    # rows can be found by type id whatever their order in the file
    ids = np.asarray(f["ids_in_file_order"], dtype=np.int64)
    assert t.row_of(ids[::-1]).tolist() == list(range(len(ids)))[::-1]


@pytest.mark.parametrize("key", CSV_FILES)
def test_csv_kind(corpus, expected, key):
    """A CSV is a node-types or edge-types table exactly when modelkit reads it as one."""
    kind = expected["files"][key]["kind"]
    readable = set()
    for idcol, k in (("node_type_id", "node_types"), ("edge_type_id", "edge_types")):
        try:
            read_types_csv(cpath(corpus, key), idcol)
            readable.add(k)
        except modelkit.errors.SonataFormatError:
            pass
    assert readable == ({kind} if kind in ("node_types", "edge_types") else set()), f"{key}: kind {kind}"
    assert kind in ("node_types", "edge_types", "other_csv")


@pytest.mark.parametrize("key", OTHER_CSVS)
def test_other_csv(corpus, expected, key):
    """Non-types CSVs: the header tokens; spike CSVs against their HDF5 twin when there is one."""
    f = expected["files"][key]
    path = cpath(corpus, key)
    with open(path, encoding="utf-8") as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    assert tokenize_line(lines[0]) == f["header_tokens"]
    head = f["header_tokens"]
    headerless = as_number(head[0]) is not None
    if not (headerless or ("timestamps" in head and "node_ids" in head)):
        return  # not a spike CSV (iclamp amplitudes, electrode positions)
    sp = read_spikes(path)
    n = len(lines) - (0 if headerless else 1)
    assert sum(len(p) for p in sp.values()) == n
    if headerless or "population" not in head:
        assert list(sp) == [None]
    twin = key[:-4] + ".h5"
    if twin in expected["files"]:
        tf = expected["files"][twin]["populations"]
        for name, p in sp.items():
            ef = tf[LEGACY_POP if name is None else name]
            assert len(p) == ef["count"]
            assert_close(fsum(p.timestamps), ef["timestamps_sum"], f"{key}[{name}] timestamps sum")
            assert int(p.node_ids.min()) == ef["node_id_min"] and int(p.node_ids.max()) == ef["node_id_max"]
            assert len(np.unique(p.node_ids)) == ef["n_unique_node_ids"]


H5_KINDS = {"nodes": "nodes", "edges": "edges", "spikes": "spikes", "compartment_report": "report",
            "extracellular_report": "ecp", "other_h5": "other"}


@pytest.mark.parametrize("key", H5_FILES)
def test_h5_kind_and_root_attrs(corpus, expected, key):
    """What the file holds, and the root attributes: absent ones are reported as warnings, never errors."""
    f = expected["files"][key]
    path = cpath(corpus, key)
    assert classify_h5(path) == H5_KINDS[f["kind"]]
    if f["kind"] not in ("nodes", "edges", "spikes", "compartment_report"):
        return
    problems = validate(path)
    root = {p.key: p.severity for p in problems if p.key in ("/@magic", "/@version")}
    ra = f["root_attrs"]
    assert ("/@magic" in root) is (ra.get("magic") != 0x0A7A), f"{key}: magic {ra.get('magic')!r}"
    assert ("/@version" in root) is ("version" not in ra), f"{key}: version {ra.get('version')!r}"
    assert set(root.values()) <= {"warning"}


# --------------------------------------------------------------------------- spikes
@pytest.mark.parametrize("key", SPIKE_FILES)
def test_spikes(corpus, expected, key):
    f = expected["files"][key]
    path = cpath(corpus, key)
    assert classify_h5(path) == "spikes"
    got = read_spikes(path)
    legacy = None in got
    assert ("legacy_gids" if legacy else "populations") == f["layout"]
    if legacy:
        assert list(got) == [None] and list(f["populations"]) == [LEGACY_POP]
    else:
        assert sorted(got) == sorted(f["populations"])
    # deviations modelkit reads anyway are reported by validate() as warnings
    warned = {p.key for p in validate(path) if p.severity == "warning"}
    assert ("/spikes/gids" in warned) is legacy
    for name, pf in f["populations"].items():
        p = got[None if name == LEGACY_POP else name]
        w = f"{key}[{name}]"
        assert p.population == (None if name == LEGACY_POP else name)
        assert pf["node_ids_dataset"] == ("gids" if legacy else "node_ids")
        if not legacy:
            string_sorting = str(pf["sorting_attr_type"]).startswith("string")
            assert (f"/spikes/{name}@sorting" in warned) is string_sorting, f"{w}: sorting attribute type"
            assert pf["sorting_attr_type"] in (None, "enum") or string_sorting
        assert len(p) == pf["count"] == len(p.timestamps)
        assert np.dtype(pf["node_ids_dtype"]).kind in "iu"
        assert np.dtype(pf["timestamps_dtype"]).kind == "f"
        assert p.node_ids.dtype == np.int64 and p.timestamps.dtype == np.float64, f"{w}: dtypes as read"
        scale = TIME_SCALE[pf["units"].lower() if isinstance(pf["units"], str) else None]
        assert [int(i) for i in p.node_ids[:5]] == [r[0] for r in pf["first5"]]
        assert_seq_close(p.timestamps[:5], [r[1] * scale for r in pf["first5"]], f"{w} first5 timestamps")
        assert p.sorting == SORTING_NAMES[pf["sorting"]], f"{w}: sorting"
        if legacy:  # the legacy layout keeps its attributes on /spikes
            assert p.sorting == SORTING_NAMES[f["spikes_group_attrs"].get("sorting")]
        assert len(np.unique(p.node_ids)) == pf["n_unique_node_ids"]
        if pf["count"]:
            assert int(p.node_ids.min()) == pf["node_id_min"] and int(p.node_ids.max()) == pf["node_id_max"]
            assert_close(p.timestamps.min(), pf["t_min"] * scale, f"{w} t_min")
            assert_close(p.timestamps.max(), pf["t_max"] * scale, f"{w} t_max")
            by_time = bool(np.all(np.diff(p.timestamps) >= 0))
            by_id = bool(np.array_equal(np.lexsort((p.timestamps, p.node_ids)), np.arange(len(p))))
            assert by_time is pf["is_sorted_by_time"] and by_id is pf["is_sorted_by_id_then_time"]
            # a declared order holds
            if p.sorting == "by_time":
                assert by_time
            elif p.sorting == "by_id":
                assert bool(np.all(np.diff(p.node_ids) >= 0))
        assert_close(fsum(p.timestamps), pf["timestamps_sum"] * scale, f"{w} timestamps_sum")
        frame = p.to_frame()
        assert list(frame.columns) == ["timestamps", "population", "node_ids"] and len(frame) == pf["count"]
    if f["layout"] != "legacy_gids":
        for name in f["populations"]:
            assert list(read_spikes(path, population=name)) == [name]


# --------------------------------------------------------------------------- reports
@pytest.mark.parametrize("key", REPORT_FILES)
def test_compartment_report(corpus, expected, key):
    f = expected["files"][key]
    path = cpath(corpus, key)
    assert classify_h5(path) == "report"
    rep = CompartmentReport(path)
    assert sorted(rep.populations) == sorted(f["populations"])
    for name, pf in f["populations"].items():
        r = rep[name]
        w = f"{key}[{name}]"
        assert r.node_ids.tolist() == pf["node_ids"]
        assert r.index_pointers.tolist() == pf["index_pointer"]
        assert np.diff(r.index_pointers).tolist() == pf["elements_per_node"]
        assert len(r.element_ids) == pf["n_elements"]
        assert r.element_ids[:5].tolist() == pf["element_ids_first5"]
        if pf["element_pos_first5"] is None:
            assert r.element_pos is None
        else:
            assert_seq_close(r.element_pos[:5], pf["element_pos_first5"], f"{w} element_pos")
        assert_seq_close(r.time, pf["time"], f"{w} time")
        assert list(r.shape) == pf["data_shape"]
        assert r.n_frames == pf["n_frames_from_time"] == pf["data_shape"][0]
        assert len(r.times) == r.n_frames and close(r.times[0], pf["time"][0])
        assert r.units == pf["data_attrs"].get("units") and r.variable == pf["data_attrs"].get("variable")
        data = r.data()
        assert list(data.shape) == pf["data_shape"]
        assert str(data.dtype) == pf["data_dtype"]
        tol = 1e-6 * max(1.0, float(np.abs(data).max())) * data.size
        assert_close(fsum(data), pf["data_sum"], f"{w} data_sum", rel=REL_REPORT, abs_tol=tol)
        assert_seq_close(data[0, :5], pf["frame0_first5"], f"{w} frame0", rel=REL_REPORT)
        assert_seq_close(data[-1, :5], pf["last_frame_first5"], f"{w} last frame", rel=REL_REPORT)
        # per-node columns follow index_pointers
        if not len(r.node_ids):
            continue
        nid = int(r.node_ids[-1])
        a, b = int(r.index_pointers[-2]), int(r.index_pointers[-1])
        assert r.columns_of([nid]).tolist() == list(range(a, b))
        assert np.array_equal(r.data([nid]), data[:, a:b])
        frame = r.to_frame([nid])
        assert frame.shape == (pf["data_shape"][0], b - a)


@pytest.mark.parametrize("key", ECP_FILES)
def test_ecp(corpus, expected, key):
    f = expected["files"][key]
    path = cpath(corpus, key)
    assert classify_h5(path) == "ecp"
    r = read_ecp(path)
    assert f["group"] == "/ecp"  # the only layout modelkit reads (and the guide's)
    assert r.channel_ids.tolist() == f["channel_id"]
    assert_seq_close(r.time, f["time"], "ecp time")
    nf = round((f["time"][1] - f["time"][0]) / f["time"][2])
    # modelkit always returns (frames, channels), whichever way the file stores it
    assert r.data.shape == (nf, len(f["channel_id"]))
    assert sorted(r.data.shape) == sorted(f["data_shape"])
    assert r.units == f["data_units"]
    assert_close(fsum(r.data), f["data_sum"], "ecp data_sum", rel=REL_REPORT)
    assert len(r.times) == nf


# --------------------------------------------------------------------------- configs
def _check_path(got: str | None, exp: Any, base: str, what: str) -> None:
    assert got is not None, f"{what}: modelkit has no path (expected {exp!r})"
    assert rel_to(got, base, exp) == exp, f"{what}: modelkit {got!r} -> {rel_to(got, base, exp)!r} != {exp!r}"


def _check_manifest(got: dict, exp: dict, base: str, what: str) -> None:
    assert sorted(got) == sorted(exp), f"{what}: manifest keys"
    for k, v in exp.items():
        g = got[k]
        if "$" in v:
            assert g == v, f"{what}: manifest {k}"
        else:
            _check_path(os.path.normpath(os.path.join(base, g)), v, base, f"{what}: manifest {k}")


def _check_networks(circuit: CircuitConfig, exp: dict, base: str, what: str) -> None:
    missing = {k for k, _ in circuit.missing_files()}
    for sect, keys in (("nodes", ("nodes_file", "node_types_file")),
                       ("edges", ("edges_file", "edge_types_file"))):
        entries = getattr(circuit, sect)
        assert len(entries) == len(exp[sect]), f"{what}: number of {sect} entries"
        for i, (got, e) in enumerate(zip(entries, exp[sect])):
            for k in keys:
                if k in e:
                    _check_path(getattr(got, k), e[k], base, f"{what}: networks.{sect}[{i}].{k}")
                    assert os.path.exists(getattr(got, k)) is e["exists"][k]
                    assert (f"networks.{sect}[{i}].{k}" in missing) is (not e["exists"][k])
                else:
                    assert getattr(got, k) is None
            assert got.enabled is bool(e.get("enabled", True))


@pytest.mark.parametrize("key", CONFIGS)
def test_config(corpus, expected, key):
    c = expected["configs"][key]
    path = cpath(corpus, key)
    base = os.path.dirname(path)
    if c.get("network_exists") is False:
        # a design choice: a config naming a circuit config that does not exist is refused
        with pytest.raises(ConfigError):
            load_config(path)
        return
    cfg = load_config(path)
    kind = c["kind"]
    raw = read_json(path)
    apath = os.path.abspath(path)
    kinds = {
        "circuit": lambda: isinstance(cfg, CircuitConfig),
        "simulation": lambda: isinstance(cfg, SimulationConfig) and "networks" not in raw
        and cfg.path == apath,
        "combined(simulation+circuit)": lambda: isinstance(cfg, SimulationConfig) and cfg.network is None
        and cfg.circuit is not None and cfg.path == apath,
        "wrapper": lambda: isinstance(cfg, SimulationConfig) and cfg.path != apath,
    }
    assert kinds[kind](), f"{key}: modelkit's reading does not fit kind {kind}"
    circuit = cfg if isinstance(cfg, CircuitConfig) else cfg.circuit
    # modelkit's manifest is the expansion of the raw manifest in EXPECTED
    if kind != "wrapper":
        assert expand_manifest(c["manifest_raw"], path, base) == cfg.manifest
    else:
        assert c["manifest_raw"] == raw.get("manifest", {})
    if kind == "wrapper":
        # the wrapper resolves to its simulation config, with the circuit it names
        _check_path(cfg.path, c["simulation"], base, "simulation")
        _check_path(cfg.network, c["network"], base, "network")
        assert os.path.exists(cfg.network) is c["network_exists"]
        _check_manifest(expand_manifest(raw.get("manifest"), path, base), c["manifest_resolved"], base, key)
        assert sorted(raw) == c["top_level_keys"]
        return
    assert cfg.path == apath
    assert sorted(set(cfg.raw) - {"manifest"}) == sorted(set(c["top_level_keys"]) - {"manifest"})
    _check_manifest(cfg.manifest, c["manifest_resolved"], base, key)
    if "components_resolved" in c:
        comps = cfg.components
        assert sorted(comps) == sorted(c["components_resolved"])
        for k, v in c["components_resolved"].items():
            _check_path(comps[k], v, base, f"components.{k}")
    assert cfg.target_simulator == c.get("target_simulator")
    if "networks" in c:
        assert circuit is not None
        _check_networks(circuit, c["networks"], base, key)
    if kind == "combined(simulation+circuit)":
        assert cfg.network is None and circuit is not None
    if "network" in c:
        _check_path(cfg.network, c["network"], base, "network")
        assert os.path.exists(cfg.network) is c["network_exists"]
        assert circuit is not None
        if "networks" not in raw:
            assert circuit.path == cfg.network
    elif kind == "simulation":
        assert cfg.network is None
    if kind == "circuit":
        return
    _check_run(cfg, c["run"], key)
    assert cfg.conditions == c.get("conditions", {})
    if "node_sets_file" in c:
        _check_path(cfg.node_sets_file, c["node_sets_file"], base, "node_sets_file")
        assert os.path.exists(cfg.node_sets_file) is c["node_sets_file_exists"]
    else:
        inherited = circuit.node_sets_file if circuit else None
        assert cfg.node_sets_file is None or cfg.node_sets_file == inherited
    _check_output(cfg, c.get("output", {}), base, key)
    _check_inputs(cfg, c.get("inputs", {}), base, key)
    _check_reports(cfg, c.get("reports", {}), key)


def _check_run(cfg: SimulationConfig, run: dict, what: str) -> None:
    r = cfg.run
    assert close(r.tstop, run["tstop"]) and close(r.dt, run["dt"]), f"{what}: run tstop/dt"
    assert close(r.tstart, run.get("tstart", 0.0))
    for k in ("dL", "spike_threshold", "nsteps_block", "tsteps_block", "random_seed"):
        assert getattr(r, k) == run.get(k), f"{what}: run.{k}"
    known = {"tstop", "dt", "tstart", "dL", "spike_threshold", "nsteps_block", "tsteps_block", "random_seed"}
    assert r.extra == {k: v for k, v in run.items() if k not in known}, f"{what}: run extras"


def _check_output(cfg: SimulationConfig, out: dict, base: str, what: str) -> None:
    o = cfg.output
    if "output_dir" in out:
        _check_path(o.output_dir, out["output_dir"], base, f"{what}: output.output_dir")
    # output file names are taken inside output_dir (SONATA guide, bmtk); EXPECTED keeps the raw name
    out_dir_rel = out.get("output_dir", "output")
    for k in ("log_file", "spikes_file", "spikes_file_csv"):
        if k in out:
            exp = out[k] if os.path.isabs(out[k]) else os.path.normpath(os.path.join(out_dir_rel, out[k]))
            _check_path(getattr(o, k), exp, base, f"{what}: output.{k}")
    if "spikes_file_csv" not in out:
        assert o.spikes_file_csv is None
    assert o.spikes_sort_order == out.get("spikes_sort_order")
    assert o.overwrite_output_dir is bool(out.get("overwrite_output_dir", False))
    known = {"output_dir", "log_file", "spikes_file", "spikes_file_csv", "spikes_sort_order",
             "overwrite_output_dir"}
    assert o.extra == {k: v for k, v in out.items() if k not in known}


def _is_file_key(k: str) -> bool:
    return k == "file" or k.endswith(("_file", "_positions"))


def _check_inputs(cfg: SimulationConfig, inputs: dict, base: str, what: str) -> None:
    assert sorted(cfg.inputs) == sorted(inputs), f"{what}: input names"
    for name, e in inputs.items():
        s = cfg.inputs[name]
        w = f"{what}: inputs.{name}"
        assert (s.input_type, s.module, s.node_set) == (e["input_type"], e["module"], e.get("node_set")), w
        assert s.enabled is bool(e.get("enabled", True))
        for k, v in e.items():
            if k in ("input_type", "module", "node_set", "enabled", "_exists"):
                continue
            if _is_file_key(k) and isinstance(v, str):
                _check_path(s.params[k], v, base, f"{w}.{k}")
                assert os.path.exists(s.params[k]) is e["_exists"][k], f"{w}.{k} exists"
            else:
                assert s.params[k] == v, f"{w}.{k}"
        extra = set(s.params) - set(e)
        assert not extra, f"{w}: unexpected params {extra}"
        if "input_file" in e or "file" in e:
            assert s.input_file == s.params.get("input_file") or s.input_file == s.params.get("file")


def _check_reports(cfg: SimulationConfig, reports: dict, what: str) -> None:
    assert sorted(cfg.reports) == sorted(reports), f"{what}: report names"
    known = {"module", "type", "cells", "variable_name", "sections", "start_time", "end_time", "dt",
             "file_name", "enabled"}
    for name, e in reports.items():
        r = cfg.reports[name]
        w = f"{what}: reports.{name}"
        assert r.cells == e.get("cells"), w
        assert r.variable_name == e.get("variable_name"), w
        assert r.module == (e.get("module") or e.get("type")), w
        assert r.sections == e.get("sections", "soma"), w
        assert r.enabled is bool(e.get("enabled", True)), w
        for k in ("start_time", "end_time", "dt"):
            assert getattr(r, k) == e.get(k), f"{w}.{k}"
        if "file_name" not in e:
            assert r.file_name == os.path.join(cfg.output.output_dir, f"{name}.h5")
        assert r.params == {k: v for k, v in e.items() if k not in known}, f"{w}: params"


def _node_sets_entry_for(expected: dict, key: str) -> dict | None:
    hits = [v for v in expected["node_sets"].values() if v["circuit_from_config"] == key]
    assert len(hits) <= 1
    return hits[0] if hits else None


_CMP = {"$gt": lambda x, r: x > r, "$lt": lambda x, r: x < r,
        "$gte": lambda x, r: x >= r, "$lte": lambda x, r: x <= r}


def _rule_holds(x: Any, v: Any) -> bool:
    """One node-set rule on one merged value (EXPECTED's semantics: numbers compare as numbers,
    strings as strings, $regex is an unanchored search on strings)."""
    if isinstance(v, dict):
        (op, ref), = v.items()
        if op == "$regex":
            return isinstance(x, str) and re.search(ref, x) is not None
        nx = as_number(x)
        return nx is not None and _CMP[op](nx, ref)
    for a in (v if isinstance(v, list) else [v]):
        if isinstance(a, str):
            if isinstance(x, str) and x == a:
                return True
        elif as_number(x) is not None and as_number(x) == float(a):
            return True
    return False


def _inline_ids(defn: dict, pop: NodePopulation) -> list[int]:
    """Ids of ``pop`` selected by an inline basic node set, evaluated here on modelkit's merged columns."""
    ids = pop.node_ids
    mask = np.ones(pop.size, dtype=bool)
    for k, v in defn.items():
        if k == "population":
            if pop.name not in ([v] if isinstance(v, str) else v):
                mask[:] = False
        elif k in ("node_id", "node_ids", "gids"):  # node_ids / gids: legacy spellings (SPEC_NOTES 8)
            mask &= np.isin(ids, np.atleast_1d(np.asarray(v, dtype=np.int64)))
        elif k == "node_type_id" or k in pop.attribute_names:
            vals = pop.node_type_ids.tolist() if k == "node_type_id" else pop.column(k).tolist()
            mask &= np.array([not is_missing(x) and _rule_holds(x, v) for x in vals], dtype=bool)
        else:  # an attribute the population lacks matches nothing
            mask[:] = False
    return sorted(ids[mask].tolist())


@pytest.mark.parametrize("key", REF_CONFIGS)
def test_config_network_and_node_set_references(corpus, expected, key):
    """The circuit a simulation config names, and how each input/report node set resolves."""
    c = expected["configs"][key]
    net = Network.load(cpath(corpus, key))
    sizes = {k: len(v) for k, v in net.nodes.items()}
    assert sizes == c["circuit_node_populations"]
    summary = net.summary()
    assert {k: v["count"] for k, v in summary["nodes"].items()} == c["circuit_node_populations"]
    for name, pop in net.nodes.items():
        fkey = os.path.relpath(pop.path, os.fspath(corpus))
        pf = expected["files"][fkey]["populations"][name]
        assert summary["nodes"][name]["node_types"] == pf["node_type_id_histogram"]
        if "model_type_histogram" in pf:
            exp_mt = pf["model_type_histogram"]
            if "model_type" in pop.attribute_names:
                assert summary["nodes"][name]["model_types"] == exp_mt
            else:
                assert summary["nodes"][name]["model_types"] == {} and exp_mt == {"None": pop.size}
    for name, e in net.edges.items():
        fkey = os.path.relpath(e.path, os.fspath(corpus))
        pf = expected["files"][fkey]["populations"][name]
        assert summary["edges"][name]["count"] == pf["count"]
        assert (summary["edges"][name]["source"], summary["edges"][name]["target"]) == \
            (pf["source_population"], pf["target_population"])
    ns_entry = _node_sets_entry_for(expected, key)
    if ns_entry is not None:
        assert net.node_sets.names == ns_entry["names"]
    cfg = net.config
    assert isinstance(cfg, SimulationConfig)
    declared = {f"inputs.{k}": v.node_set for k, v in cfg.inputs.items()}
    declared.update({f"reports.{k}": v.cells for k, v in cfg.reports.items()})
    assert sorted(declared) == sorted(c["node_set_references"])
    for ref, r in c["node_set_references"].items():
        value, how = r["value"], r["resolves_via"]
        assert declared[ref] == value, f"{ref}: the config declares {declared[ref]!r}"
        if how == "unresolved":
            with pytest.raises(NodeSetError):
                net.resolve_node_set(value)
            continue
        got_how, sels = net.resolve_node_set(value)
        assert got_how == how, f"{ref}: resolves via {got_how}, expected {how}"
        assert sorted(sels) == sorted(sizes), f"{ref}: populations"
        for pop, sel in sels.items():
            if how == "node_sets_file":
                assert ns_entry is not None
                exp_ids: Any = ns_entry["materialized"][value][pop]
            elif how == "population_name_fallback":
                exp_ids = net.nodes[pop].node_ids.tolist() if pop == value else []
            elif how == "inline(dict)":
                exp_ids = _inline_ids(value, net.nodes[pop])
            elif all(isinstance(x, int) for x in value):  # inline(list) of ids: those ids in every population
                exp_ids = sorted(set(value) & set(net.nodes[pop].node_ids.tolist()))
            else:  # inline(list) of node set names: their union
                assert ns_entry is not None and all(isinstance(x, str) for x in value), f"{ref}: {value!r}"
                parts = [ns_entry["materialized"][x][pop] for x in value]
                assert all(isinstance(x, list) for x in parts), f"{ref}: summarised members"
                exp_ids = sorted(set().union(*map(set, parts)))
            assert_ids(sel.flat, exp_ids, f"{key} {ref} @ {pop}")
        assert net.materialize(value) == sels


# --------------------------------------------------------------------------- node sets
@pytest.mark.parametrize("nsfile", NODE_SET_FILES)
def test_node_sets_file(corpus, expected, nsfile):
    v = expected["node_sets"][nsfile]
    ns = NodeSets.from_file(cpath(corpus, nsfile))
    assert ns.names == v["names"]
    assert sorted(k for k in ns.names if isinstance(ns[k], list)) == v["compound"]


@pytest.mark.parametrize("nsfile,name", NODE_SET_ENTRIES)
def test_node_set(corpus, expected, nsfile, name):
    v = expected["node_sets"][nsfile]
    net = Network.load(cpath(corpus, v["circuit_from_config"]))
    assert os.path.normpath(net.node_sets.path) == os.path.normpath(cpath(corpus, nsfile))
    per = v["materialized"][name]
    assert sorted(net.nodes) == sorted(per)
    for pop, exp in per.items():
        sel = net.node_sets.materialize(name, net.nodes[pop])
        assert_ids(sel.flat, exp, f"{nsfile}::{name} @ {pop}")
        assert len(sel) == (exp["count"] if isinstance(exp, dict) else len(exp))


@pytest.mark.parametrize("config,name", QUERY_ENTRIES)
def test_node_set_query(corpus, expected, config, name):
    q = expected["node_set_queries"][config]
    authored = json.loads((corpus / "NODE_SET_QUERIES.json").read_text())["queries"][config]
    assert authored == q["definitions"]
    ns = NodeSets(authored)
    assert ns.names == q["names"]
    assert sorted(k for k in ns.names if isinstance(ns[k], list)) == q["compound"]
    net = modelkit.load(cpath(corpus, config))
    assert isinstance(net, Network)
    per = q["materialized"][name]
    assert sorted(net.nodes) == sorted(per)
    for pop, exp in per.items():
        sel = ns.materialize(name, net.nodes[pop])
        assert_ids(sel.flat, exp, f"{config}::{name} @ {pop}")
    # the definition evaluated inline gives the same ids
    _, sels = Network(net.nodes, net.edges, node_sets=ns).resolve_node_set(name)
    for pop, exp in per.items():
        assert_ids(sels[pop].flat, exp, f"{config}::{name} @ {pop} (resolve_node_set)")
