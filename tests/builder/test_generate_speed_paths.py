"""The builder's fast paths give what the plain paths give.

* per-pair callables evaluated on forked worker processes: files byte-identical to a
  serial build, for any number of workers; only stateless functions qualify; errors
  raised in a worker surface in the parent;
* parameters passed by position when the signature allows, by keyword otherwise;
* the streaming :class:`EdgeWriter` (chunk-aligned appends, indices built from the file
  block by block) against the in-memory ``write_edges``;
* :func:`index_runs_chunked` against :func:`index_runs`; the counting merge of sorted parts;
* :class:`DistanceProbability` (hashed draws): connections follow p(d), seeds reproduce;
* built-in vectorised rules computed a block ahead on a thread: files byte-identical.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from scipy.spatial.distance import cdist

import modelkit.builder.generate as generate
import modelkit.sonata.edge_writer as edge_writer
import modelkit.sonata.index as index
from modelkit.builder import AllToAll, DistanceProbability, FixedInDegree, FixedProbability, NetworkBuilder, vectorized
from modelkit.builder.connectors import PairCallable, _positional
from modelkit.errors import BuilderError
from modelkit.sonata import EdgePopulationData, GroupData, Network, write_edges
from modelkit.sonata.edge_writer import EdgeWriter
from modelkit.sonata.index import index_runs, index_runs_chunked


# ================================================================ worker processes
def bmtk_rule(source: Any, target: Any, p: float) -> Any:
    """A typical bmtk rule, drawing from numpy's and Python's global generators."""
    if source.node_id == target.node_id:
        return 0
    if np.random.random() < p:
        return random.randint(1, 3)
    return None


def bulk_rule(sources: Any, target: Any, p: float) -> list:
    """all_to_one: one list of counts per target."""
    return [int(np.random.random() < p) for _ in sources]


def per_edge_weight(source: Any, target: Any) -> float:
    return float(np.random.random())  # continues the global stream after the connection rule


def compat_network(out: Path, workers: int, monkeypatch: pytest.MonkeyPatch, seed: int | None = 5) -> None:
    monkeypatch.setenv("MODELKIT_BUILD_WORKERS", str(workers))
    net = NetworkBuilder("v1", seed=seed, targets_per_block=16)
    net.add_nodes(N=70, ei="e", model_type="point_neuron")
    net.add_nodes(N=30, ei="i", model_type="point_neuron")
    net.add_edges(source={"ei": "e"}, target={"ei": ["e", "i"]}, connection_rule=bmtk_rule,
                  connection_params={"p": 0.2}, syn_weight=1.0)
    cm = net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=bmtk_rule,
                       connection_params={"p": 0.3})
    cm.add_properties("syn_weight", rule=per_edge_weight, dtypes=np.float64)
    net.add_edges(source={"ei": "i"}, target={"ei": "i"}, connection_rule=bulk_rule,
                  connection_params={"p": 0.5}, iterator="all_to_one", syn_weight=-1.0)
    net.build()
    net.save(output_dir=out)


def test_workers_give_byte_identical_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "PARALLEL_MIN_PAIRS", 0)
    monkeypatch.setattr(generate, "PAIRS_AHEAD", 500)  # a small window: tasks admitted as results are used
    started = []
    real_start = generate._Workers.start.__func__  # type: ignore[attr-defined]

    def start(cls: Any, states: Any, bounds: Any) -> Any:
        pool = real_start(cls, states, bounds)
        started.append(pool is not None)
        return pool

    monkeypatch.setattr(generate._Workers, "start", classmethod(start))
    for w in (1, 2, 3):
        compat_network(tmp_path / f"w{w}", w, monkeypatch)
    assert started == [False, True, True]
    for name in ("v1_nodes.h5", "v1_v1_edges.h5", "v1_v1_edge_types.csv"):
        ref = (tmp_path / "w1" / name).read_bytes()
        for w in (2, 3):
            assert (tmp_path / f"w{w}" / name).read_bytes() == ref, (name, w)
    assert Network.load(tmp_path / "w2").edges["v1_to_v1"].size > 0


def test_unseeded_builds_do_not_use_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a seed the global generators are not reseeded per block: blocks depend on each other."""
    monkeypatch.setattr(generate, "PARALLEL_MIN_PAIRS", 0)
    started = []
    real_start = generate._Workers.start.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(generate._Workers, "start",
                        classmethod(lambda cls, s, b: started.append(real_start(cls, s, b)) or started[-1]))
    np.random.seed(3)
    random.seed(3)
    compat_network(tmp_path / "a", 2, monkeypatch, seed=None)
    np.random.seed(3)
    random.seed(3)
    compat_network(tmp_path / "b", 1, monkeypatch, seed=None)
    assert started == [None, None]
    # bmtk's idiom: seeding the global generators before building reproduces the network
    assert (tmp_path / "a" / "v1_v1_edges.h5").read_bytes() == (tmp_path / "b" / "v1_v1_edges.h5").read_bytes()


def failing_rule(source: Any, target: Any) -> int:
    if target.node_id == 57:
        raise ValueError("no edges onto node 57")
    return int(np.random.random() < 0.1)


def test_error_in_a_worker_surfaces_in_the_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "PARALLEL_MIN_PAIRS", 0)
    monkeypatch.setenv("MODELKIT_BUILD_WORKERS", "2")
    net = NetworkBuilder("v1", seed=1, targets_per_block=8)
    net.add_nodes(N=80)
    net.add_edges(connection_rule=failing_rule)
    with pytest.raises(ValueError, match="node 57"):
        net.build()


_OWN_RNG = np.random.default_rng(0)
_LOG: list = []


def uses_own_generator(source: Any, target: Any) -> int:
    return int(_OWN_RNG.random() < 0.1)


def appends_to_a_list(source: Any, target: Any) -> int:
    _LOG.append(source.node_id)
    return 1


def counts_calls(source: Any, target: Any) -> int:
    global _CALLS
    _CALLS = 1
    return 1


def helper_with_own_generator(source: Any, target: Any) -> int:
    return uses_own_generator(source, target)


def plain_global_rngs(source: Any, target: Any, p: float = 0.1, table: tuple = (1, 2)) -> int:
    return table[0] if np.random.random() < p and random.random() < 1.0 else 0


def test_only_stateless_functions_run_on_workers() -> None:
    def closure_rule(rng: np.random.Generator) -> Any:
        return lambda s, t: int(rng.random() < 0.5)

    assert PairCallable(plain_global_rngs, {"p": 0.2}, "one_to_one").parallel_safe
    assert PairCallable(bmtk_rule, {"p": 0.2}, "one_to_one").parallel_safe
    for f in (uses_own_generator, appends_to_a_list, counts_calls, helper_with_own_generator,
              closure_rule(np.random.default_rng(1))):
        assert not PairCallable(f, {}, "one_to_one").parallel_safe, f
    assert not PairCallable(bmtk_rule, {"p": [0.1]}, "one_to_one").parallel_safe  # a mutable parameter
    assert not PairCallable(np.random.default_rng(0).random, {}, "one_to_one").parallel_safe


def test_stateful_function_builds_serially_and_correctly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "PARALLEL_MIN_PAIRS", 0)
    monkeypatch.setenv("MODELKIT_BUILD_WORKERS", "2")
    _LOG.clear()
    net = NetworkBuilder("v1", seed=2, targets_per_block=4)
    net.add_nodes(N=12)
    net.add_edges(connection_rule=appends_to_a_list)
    net.build()
    assert len(_LOG) == 144  # every call made here, in this process
    assert net.nedges == 144


# ================================================================ parameters by position
def test_parameters_bind_as_keywords_do() -> None:
    def pos(s: Any, t: Any, a: int, b: int = 0) -> tuple:
        return (s, t, a, b)

    def kwonly(s: Any, t: Any, *, a: int) -> tuple:
        return (s, t, a)

    def var(s: Any, t: Any, **kw: Any) -> tuple:
        return (s, t, tuple(sorted(kw.items())))

    for f, params in ((pos, {"b": 2, "a": 1}), (pos, {"a": 1}), (kwonly, {"a": 3}), (var, {"x": 1, "y": 2})):
        g, extra = _positional(f, params)
        assert g("S", "T", *extra) == f("S", "T", **params)
    assert _positional(pos, {"b": 2, "a": 1})[0] is pos  # by position: no keyword dict per call
    g, extra = _positional(pos, {"b": 2})  # "a" missing: bmtk would fail the same way, at the call
    with pytest.raises(TypeError):
        g("S", "T", *extra)


def test_rule_results_are_checked() -> None:
    net = NetworkBuilder("v1", seed=1)
    net.add_nodes(N=5)
    net.add_edges(connection_rule=lambda s, t: "1")
    with pytest.raises(BuilderError, match="int"):
        net.build()
    net = NetworkBuilder("v1", seed=1)
    net.add_nodes(N=5)
    net.add_edges(connection_rule=lambda s, t: None if s.node_id % 2 else 2.0)
    net.build()
    assert net.nedges == 2 * 3 * 5


# ================================================================ synapse counts of per-pair rules
#: one return value per (source, target) node id pair: the kinds a bmtk rule may return
_VALUE_KINDS = (lambda i, j: (i * 7 + j) % 3,                               # small ints (packed as bytes)
                lambda i, j: (i + j) % 2 == 0,                              # bools
                lambda i, j: None if (i + j) % 3 else 1,                    # None for no connection
                lambda i, j: np.int64((i * j) % 4),                         # numpy ints
                lambda i, j: float((i + 2 * j) % 3),                        # integral floats
                lambda i, j: 300 * ((i + j) % 2))                           # counts beyond a byte


def test_pair_callable_counts_every_kind_of_value() -> None:
    """Rows of small ints are packed as bytes, the others converted as before; both mix in one block."""
    net = NetworkBuilder("v1", seed=1)
    net.add_nodes(N=9)
    nodes = net.nodes().arrays()
    n = len(nodes)

    def rule(s: Any, t: Any) -> Any:  # the kind of value changes with the target: rows of each kind
        return _VALUE_KINDS[t.node_id % len(_VALUE_KINDS)](s.node_id, t.node_id)

    def bulk_rule(ss: list, t: Any) -> Any:  # all_to_one: a list or a numpy array per target
        v = [rule(s, t) for s in ss]
        return v if t.node_id % 2 else np.array([0 if x is None else x for x in v])

    def by_source(s: Any, ts: list) -> Any:  # one_to_all: a tuple per source
        return tuple(rule(s, t) for t in ts)

    want = {(i, j): int(rule(nodes.table.views()[i], nodes.table.views()[j]) or 0)
            for j in range(n) for i in range(n)}
    want = {k: v for k, v in want.items() if v}
    for f, it in ((rule, "one_to_one"), (bulk_rule, "all_to_one"), (by_source, "one_to_all")):
        si, ti, ns = PairCallable(f, {}, it).connect(nodes, nodes, np.random.default_rng(0))
        assert si.dtype == ti.dtype == ns.dtype == np.int64
        got = dict(zip(zip(si.tolist(), ti.tolist()), ns.tolist()))
        assert got == want, it
        major, minor = (si, ti) if it == "one_to_all" else (ti, si)  # bmtk's order for the iterator
        assert list(zip(major.tolist(), minor.tolist())) == sorted(zip(major.tolist(), minor.tolist())), it


@pytest.mark.parametrize("value,message", [(-1, "non-negative"), (1.5, "integer synapse counts"),
                                           ("1", "an int"), (np.float64(0.5), "integer synapse counts")])
def test_pair_callable_bad_values_after_packed_rows(value: Any, message: str) -> None:
    """A bad value in a later row is reported as before, whatever rows were packed earlier."""
    net = NetworkBuilder("v1", seed=1)
    net.add_nodes(N=6)
    nodes = net.nodes().arrays()
    rule = PairCallable(lambda s, t: value if t.node_id == 4 and s.node_id == 2 else 1, {}, "one_to_one")
    with pytest.raises(BuilderError, match=message):
        rule.connect(nodes, nodes, np.random.default_rng(0))


# ================================================================ streaming writer
def random_population(rng: np.random.Generator, n_edges: int, n_nodes: int) -> EdgePopulationData:
    tgt = np.sort(rng.integers(0, n_nodes, n_edges))
    src = rng.integers(0, n_nodes, n_edges)
    et = rng.integers(100, 103, n_edges)
    gid = (et == 102).astype(np.int64)
    gidx = np.zeros(n_edges, np.int64)
    groups = {}
    for g in (0, 1):
        m = gid == g
        gidx[m] = np.arange(int(m.sum()))
        cols: dict[str, Any] = {"syn_weight": rng.normal(size=int(m.sum()))}
        if g == 1:
            cols["model"] = np.array([f"m{k % 3}" for k in range(int(m.sum()))], dtype=object)
            cols["count"] = rng.integers(0, 5, int(m.sum())).astype(np.uint32)
        groups[g] = GroupData(cols, size=int(m.sum()))
    return EdgePopulationData("v1_to_v1", "v1", "v1", src, tgt, et, groups, edge_group_id=gid,
                              edge_group_index=gidx, source_node_count=n_nodes, target_node_count=n_nodes)


def datasets(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                v = obj[()]
                out[name] = [x.decode() if isinstance(x, bytes) else x for x in v.tolist()] \
                    if v.dtype == object else v
                out[name + "@dtype"] = str(obj.dtype)
                out[name + "@attrs"] = {k: obj.attrs[k] for k in obj.attrs}
        f.visititems(visit)
    return out


@pytest.mark.parametrize("chunk,read_block", [(7, 5), (1 << 20, 1 << 22)])
def test_streaming_writer_equals_write_edges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int,
                                             read_block: int) -> None:
    monkeypatch.setattr(edge_writer, "_CHUNK", chunk)  # several appends per chunk and chunks per append
    monkeypatch.setattr(index, "_READ_BLOCK", read_block)  # indices built from the file piece by piece
    rng = np.random.default_rng(4)
    pop = random_population(rng, 400, 30)
    write_edges(tmp_path / "ref.h5", [pop])
    spec = {0: {"syn_weight": np.float64}, 1: {"syn_weight": np.float64, "model": str, "count": np.uint32}}
    with EdgeWriter(tmp_path / "stream.h5") as w:
        pw = w.add_population("v1_to_v1", "v1", "v1", 30, 30, spec)
        lo = 0
        while lo < 400:
            hi = min(400, lo + int(rng.integers(0, 40)))
            g = pop.edge_group_id[lo:hi]
            cols = {}
            for k in (0, 1):
                rows = pop.edge_group_index[lo:hi][g == k]
                cols[k] = {c: v[rows] for c, v in pop.groups[k].columns.items()}
            pw.append(pop.source_node_id[lo:hi], pop.target_node_id[lo:hi], pop.edge_type_id[lo:hi],
                      g if lo % 2 else g.tolist(), cols)
            lo = hi
    ref, got = datasets(tmp_path / "ref.h5"), datasets(tmp_path / "stream.h5")
    assert sorted(ref) == sorted(got)
    for name in ref:
        if isinstance(ref[name], np.ndarray):
            np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
        else:
            assert got[name] == ref[name], name


def test_streaming_writer_single_group_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge_writer, "_CHUNK", 16)
    with EdgeWriter(tmp_path / "e.h5") as w:
        pw = w.add_population("p", "a", "b", 10, 10, {3: {"nsyns": np.uint32}})
        for k in range(5):  # a scalar type and group id per chunk
            n = 3 * k + 1
            pw.append(np.full(n, k), np.full(n, 2 * k), 100 + k, 3, {3: {"nsyns": np.ones(n, np.uint32)}})
    with h5py.File(tmp_path / "e.h5", "r") as f:
        g = f["edges/p"]
        assert g["edge_type_id"][()].tolist() == sum(([100 + k] * (3 * k + 1) for k in range(5)), [])
        assert g["edge_group_index"][()].tolist() == list(range(35))
        assert set(g["edge_group_id"][()].tolist()) == {3}
        assert g["3/nsyns"].shape == (35,)


# ================================================================ index and merge
@pytest.mark.parametrize("sort", [False, True])
def test_index_runs_chunked_equals_index_runs(sort: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    for n, nodes in ((1, 1), (50, 3), (500, 40), (2000, 7)):
        ids = np.repeat(rng.integers(0, nodes, n), rng.integers(1, 4, n))
        if sort:
            ids = np.sort(ids)
        ref_n2r, ref_runs = index_runs(ids, nodes + 2)
        for block in (1, 3, 64, 10**6):
            for keep in (2, 1 << 22):  # the sorted direction's starts kept in the first pass, or not
                monkeypatch.setattr(index, "_KEEP_STARTS", keep)
                for bits in (64, 4):  # packed keys, and the fallback when they do not fit
                    n2r, runs = index_runs_chunked(lambda lo, hi, ids=ids: ids[lo:hi], len(ids), nodes + 2, block,
                                                   bits)
                    np.testing.assert_array_equal(n2r, ref_n2r)
                    np.testing.assert_array_equal(runs.array(), ref_runs.array())
    with pytest.raises(ValueError):
        index_runs_chunked(lambda lo, hi: np.array([0, 5, 1])[lo:hi], 3, 5, block=1)


def test_merge_order_is_a_stable_sort() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        parts = [np.sort(rng.integers(3, 30, rng.integers(0, 25))) for _ in range(rng.integers(1, 5))]
        if sum(len(p) for p in parts) == 0:
            continue
        order = generate._merge_order(parts)
        np.testing.assert_array_equal(order, np.argsort(np.concatenate(parts), kind="stable"))
    assert generate._merge_order([np.array([3, 1]), np.array([2])]) is None  # an unsorted part: sort instead


# ================================================================ DistanceProbability
def positions_net(seed: int, rule: DistanceProbability, n: int = 300) -> tuple[NetworkBuilder, np.ndarray]:
    net = NetworkBuilder("v1", seed=seed, targets_per_block=50)
    pos = np.random.default_rng(0).uniform(0, 200, (n, 3))
    net.add_nodes(N=n, positions=pos)
    net.add_edges(connection_rule=rule)
    return net, pos


def test_distance_probability_connects_within_cutoff_at_p() -> None:
    net, pos = positions_net(1, DistanceProbability(1.0, sigma=1e6, cutoff=40.0))
    df = net.build().edges["v1_to_v1"].get(["source_node_id", "target_node_id"])
    d = cdist(pos, pos)
    want = {(int(s), int(t)) for s, t in zip(*np.nonzero(d <= 40.0)) if s != t}
    assert set(zip(df["source_node_id"].tolist(), df["target_node_id"].tolist())) == want
    # sorted by target, then source
    keys = df["target_node_id"].to_numpy() * 1000 + df["source_node_id"].to_numpy()
    assert (np.diff(keys) > 0).all()

    rule = DistanceProbability(0.8, sigma=30.0, cutoff=60.0)
    net, pos = positions_net(2, rule, n=600)
    df = net.build().edges["v1_to_v1"].get(["source_node_id", "target_node_id"])
    d = cdist(pos, pos)
    np.fill_diagonal(d, np.inf)
    expected = rule.probability(d[d <= 60.0]).sum()
    assert abs(len(df) - expected) < 4 * np.sqrt(expected)
    # the kept fraction follows p(d) in distance bins
    dd = d[df["source_node_id"].to_numpy(), df["target_node_id"].to_numpy()]
    for lo, hi in ((0, 20), (20, 40), (40, 60)):
        cand = d[(d >= lo) & (d < hi)]
        got = int(((dd >= lo) & (dd < hi)).sum())
        exp = rule.probability(cand).sum()
        assert abs(got - exp) < 4 * np.sqrt(exp) + 2, (lo, hi, got, exp)


def test_distance_probability_seeds(tmp_path: Path) -> None:
    rule = DistanceProbability(0.5, sigma=30.0)
    for k, seed in enumerate((3, 3, 4)):
        net, _ = positions_net(seed, rule)
        net.build()
        net.save(output_dir=tmp_path / str(k))
    a, b, c = ((tmp_path / str(k) / "v1_v1_edges.h5").read_bytes() for k in range(3))
    assert a == b and a != c


# ================================================================ rules computed ahead on a thread
@vectorized
def global_noise(sources: Any, targets: Any, rng: np.random.Generator) -> np.ndarray:
    """Draws from numpy's global generator: its state must be where a serial build leaves it."""
    return np.random.random(len(sources)) + rng.random(len(sources))


def vectorised_network(out: Path, threadable: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "_THREADABLE", threadable)
    net = NetworkBuilder("v1", seed=8, targets_per_block=20)
    pos = np.random.default_rng(1).uniform(0, 150, (120, 3))
    net.add_nodes(N=90, ei="e", positions=pos[:90])
    net.add_nodes(N=30, ei="i", positions=pos[90:])
    cm = net.add_edges(source={"ei": "e"}, target={"ei": "e"}, connection_rule=FixedProbability(0.2))
    cm.add_properties("w", rule=global_noise, dtypes=np.float64)
    cm = net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=DistanceProbability(0.9, sigma=40.0))
    cm.add_properties("d", rule=per_edge_weight, dtypes=np.float64)
    net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=FixedInDegree(3), syn_weight=-1.0)
    net.add_edges(source={"ei": "i"}, target={"ei": "i"}, connection_rule=AllToAll(), syn_weight=-2.0)
    net.add_edges(source={"ei": "i"}, target={"ei": "i"}, connection_rule=bmtk_rule, connection_params={"p": 0.3})
    net.build()
    net.save(output_dir=out)


def test_rules_computed_ahead_give_byte_identical_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vectorised_network(tmp_path / "serial", (), monkeypatch)
    vectorised_network(tmp_path / "ahead", generate._THREADABLE, monkeypatch)
    for name in ("v1_v1_edges.h5", "v1_v1_edge_types.csv"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "ahead" / name).read_bytes(), name


def test_error_in_a_rule_computed_ahead_surfaces(tmp_path: Path) -> None:
    net = NetworkBuilder("v1", seed=1, targets_per_block=5)
    net.add_nodes(N=30)  # no positions
    net.add_edges(connection_rule=DistanceProbability(0.5, sigma=10.0))
    with pytest.raises(BuilderError, match="positions"):
        net.build()


def test_assemble_matches_a_stable_sort() -> None:
    """Blocks from several maps: rows sorted by target (map order, then each map's order), columns per group."""
    rng = np.random.default_rng(12)
    groups = {0: {"nsyns": np.uint32}, 1: {"w": np.float64, "tag": str}}
    for trial in range(150):
        parts = []
        for k in range(int(rng.integers(1, 5))):
            n = int(rng.integers(0, 30))
            tgt = rng.integers(10, 10 + int(rng.choice([5, 40, 10**6])), n)
            if trial % 3:
                tgt = np.sort(tgt)  # as rules make them; unsorted parts are sorted too
            g = int(rng.integers(0, 2))
            cols: dict[str, Any] = {"nsyns": rng.integers(1, 4, n).astype(np.uint32)} if g == 0 else \
                {"w": rng.normal(size=n), "tag": np.array([f"t{k}.{i}" for i in range(n)], dtype=object)}
            parts.append((rng.integers(0, 99, n), tgt, 100 + k % 2, g, cols))
        if trial % 5 == 0:  # parts in order already (one after another)
            off = 0
            for p in parts:
                p[1][:] = np.sort(p[1]) - p[1].min() + off if len(p[1]) else p[1]
                off = int(p[1].max()) if len(p[1]) else off
        src, tgt, et, gids, cols = generate._assemble(parts, groups)
        lens = [len(p[0]) for p in parts]
        n = sum(lens)
        ref_tgt = np.concatenate([p[1] for p in parts])
        order = np.argsort(ref_tgt, kind="stable")
        part_of = np.repeat(np.arange(len(parts)), lens)[order]
        row_of = np.concatenate([np.arange(m) for m in lens])[order]
        np.testing.assert_array_equal(tgt, ref_tgt[order])
        np.testing.assert_array_equal(src, np.concatenate([p[0] for p in parts])[order])
        np.testing.assert_array_equal(np.broadcast_to(et, (n,)), [parts[k][2] for k in part_of])
        np.testing.assert_array_equal(np.broadcast_to(gids, (n,)), [parts[k][3] for k in part_of])
        assert sorted(cols) == sorted({p[3] for p in parts})
        for g, cs in cols.items():
            for name, got in cs.items():
                want = [parts[k][4][name][r] for k, r in zip(part_of, row_of) if parts[k][3] == g]
                assert list(got) == want, (trial, g, name)
