"""modelkit.builder.NetworkBuilder on its own: seeding, vectorised rules, the built Network, gap junctions,
importing nodes, overwriting, and bad input (every error a BuilderError naming the argument)."""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import bmtk.builder
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from modelkit.builder import (ArrayRule, DistanceProbability, FixedInDegree, FixedOutDegree, FixedProbability,
                              NetworkBuilder, vectorized)
from modelkit.builder.distributions import Integers, Normal, Uniform
from modelkit.errors import BuilderError, ModelkitError, OutputExistsError
from modelkit.sonata import Network, validate


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {f: (folder / f).read_bytes() for f in sorted(os.listdir(folder))}


def _value(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and np.isnan(v) else v


def edge_rows(folder: Path | Network, pop: str = "v1_to_v1") -> Counter:
    """Every edge as (source, target, type, every property), NaN as None, as a multiset."""
    net = folder if isinstance(folder, Network) else Network.load(folder)
    df = net.edges[pop].get()
    return Counter(tuple(_value(v) for v in r) for r in df.itertuples(index=False))


# ============================================================ a seeded, randomised network
def noisy_count(source: Any, target: Any, p: float) -> Any:
    """bmtk-style per-pair rule drawing from numpy's and Python's global generators."""
    if np.random.random() < p:
        return random.randint(1, 3)
    return None


def random_delay(source: Any, target: Any) -> float:
    return 1.0 + np.random.rand() + 0.1 * random.random()


@vectorized
def distance_weight(sources: Any, targets: Any, rng: np.random.Generator, w0: float = 1.0) -> np.ndarray:
    d = np.linalg.norm(sources.positions - targets.positions, axis=1)
    return w0 * np.exp(-d / 100.0) * rng.uniform(0.9, 1.1, len(d))


def random_network(out: Path, seed: int | None, targets_per_block: int = 64) -> NetworkBuilder:
    net = NetworkBuilder("v1", seed=seed, targets_per_block=targets_per_block)
    layout = np.random.default_rng(0)
    net.add_nodes(N=240, ei="e", model_type="biophysical", positions=layout.uniform(0, 200, (240, 3)),
                  tau_m=Normal(10.0, 2.0, low=5.0), rank=Integers(0, 5))
    net.add_nodes(N=60, ei="i", model_type="point_neuron", positions=layout.uniform(0, 200, (60, 3)),
                  tau_m=Uniform(5.0, 8.0), rank=Integers(0, 5))
    cm = net.add_edges(source={"ei": "e"}, target={"ei": "e"},
                       connection_rule=FixedProbability(0.05, nsyns=Integers(1, 4)), model_template="exp2syn")
    cm.add_properties("syn_weight", rule=Normal(1.0, 0.2), dtypes=np.float64)
    cm.add_properties("delay", rule=random_delay, dtypes=np.float64)
    cm = net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=DistanceProbability(0.8, sigma=40.0))
    cm.add_properties("syn_weight", rule=distance_weight, rule_params={"w0": 2.0}, dtypes=np.float64)
    cm.add_properties("delay", rule=Uniform(0.5, 1.5), dtypes=np.float64)
    net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=FixedInDegree(8), syn_weight=-1.0)
    net.add_edges(source={"ei": "i"}, target={"ei": "i"}, connection_rule=FixedOutDegree(5), syn_weight=-0.5)
    net.add_edges(source={"ei": "i"}, target={"rank": [0, 1]}, connection_rule=noisy_count,
                  connection_params={"p": 0.1}, syn_weight=-2.0)
    net.build()
    net.save(output_dir=out)
    return net


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    random_network(tmp_path / "a", seed=7)
    random_network(tmp_path / "b", seed=7)
    a, b = files_bytes(tmp_path / "a"), files_bytes(tmp_path / "b")
    assert sorted(a) == ["v1_node_types.csv", "v1_nodes.h5", "v1_v1_edge_types.csv", "v1_v1_edges.h5"]
    for name in a:
        assert a[name] == b[name], name
    # every rule made edges: the comparison covers each of them
    assert set(Network.load(tmp_path / "a").edges["v1_to_v1"].type_counts()) == {100, 101, 102, 103, 104}


def test_different_seeds_give_different_networks(tmp_path: Path) -> None:
    random_network(tmp_path / "a", seed=7)
    random_network(tmp_path / "b", seed=8)
    ea, eb = edge_rows(tmp_path / "a"), edge_rows(tmp_path / "b")
    assert ea != eb
    na = Network.load(tmp_path / "a").nodes["v1"].column("tau_m")
    nb = Network.load(tmp_path / "b").nodes["v1"].column("tau_m")
    assert not np.array_equal(na, nb)
    # the positions given as arrays do not depend on the seed
    pa = Network.load(tmp_path / "a").nodes["v1"].positions()
    np.testing.assert_array_equal(pa, Network.load(tmp_path / "b").nodes["v1"].positions())


def vectorised_only(out: Path, seed: int | None) -> NetworkBuilder:
    net = NetworkBuilder("v1", seed=seed)
    net.add_nodes(N=50, positions=Uniform(0.0, 100.0).sample(150, 0).reshape(50, 3), tau_m=Normal(10.0, 1.0))
    cm = net.add_edges(connection_rule=FixedProbability(0.2, nsyns=Integers(1, 3)))
    cm.add_properties("syn_weight", rule=Normal(0.0, 1.0), dtypes=np.float64)
    net.add_edges(connection_rule=DistanceProbability(0.5, sigma=30.0), syn_weight=1.0)
    net.save(output_dir=out)
    return net


def test_unseeded_build_reports_its_seed(tmp_path: Path) -> None:
    net = vectorised_only(tmp_path / "a", seed=None)
    assert isinstance(net.seed, int)
    vectorised_only(tmp_path / "b", seed=net.seed)
    assert files_bytes(tmp_path / "a") == files_bytes(tmp_path / "b")
    other = vectorised_only(tmp_path / "c", seed=None)
    assert other.seed != net.seed
    assert edge_rows(tmp_path / "c") != edge_rows(tmp_path / "a")


def callables_only(out: Path, seed: int | None) -> None:
    net = NetworkBuilder("v1", seed=seed)
    net.add_nodes(N=30)
    cm = net.add_edges(connection_rule=noisy_count, connection_params={"p": 0.3})
    cm.add_properties("delay", rule=random_delay, dtypes=np.float64)
    net.save(output_dir=out)


def test_global_generators_around_bmtk_style_callables(tmp_path: Path) -> None:
    # unseeded, callables draw from numpy's/Python's global state as the script left it (as in bmtk) ...
    np.random.seed(1234)
    random.seed(99)
    before_np, before_py = np.random.get_state(), random.getstate()
    callables_only(tmp_path / "a", seed=None)
    after_np = np.random.get_state()
    # ... and the build leaves that state as it found it
    assert after_np[0] == before_np[0] and np.array_equal(after_np[1], before_np[1]) and after_np[2:] == before_np[2:]
    assert random.getstate() == before_py
    callables_only(tmp_path / "b", seed=None)
    assert edge_rows(tmp_path / "a") == edge_rows(tmp_path / "b")
    np.random.seed(4321)
    callables_only(tmp_path / "c", seed=None)
    assert edge_rows(tmp_path / "c") != edge_rows(tmp_path / "a")
    # seeded, the builder seeds them itself: the script's global state does not matter
    callables_only(tmp_path / "d", seed=5)
    np.random.seed(1)
    random.seed(2)
    callables_only(tmp_path / "e", seed=5)
    assert files_bytes(tmp_path / "d") == files_bytes(tmp_path / "e")


def deterministic_network(out: Path | None, targets_per_block: int) -> NetworkBuilder:
    net = NetworkBuilder("v1", seed=3, targets_per_block=targets_per_block)
    net.add_nodes(N=12, ei="e", x=np.arange(12.0), y=np.zeros(12))
    net.add_nodes(N=5, ei="i", x=np.arange(5.0) * 3, y=np.ones(5))
    cm = net.add_edges(source={"ei": "e"}, target={"ei": ["e", "i"]},
                       connection_rule=lambda s, t: (s.node_id + t.node_id) % 3 or None, syn_weight=1.0)
    cm.add_properties("tag", values=list(range(1000)), dtypes=np.int64)  # bmtk order, across blocks
    net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=[1, 0, 2, 0, 1], iterator="all_to_one")
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, iterator="one_to_all",
                  connection_rule=lambda s, ts: [int(s["x"] + t["x"]) % 2 for t in ts])
    net.add_gap_junctions(source={"ei": "i"}, target={"ei": "i"}, resistance=2.0,
                          connection_rule=lambda s, t: 2 if abs(s.node_id - t.node_id) == 1 else 0)
    net.build()
    if out is not None:
        net.save(output_dir=out)
    return net


def test_block_size_does_not_change_deterministic_rules(tmp_path: Path) -> None:
    deterministic_network(tmp_path / "one", targets_per_block=1)
    deterministic_network(tmp_path / "all", targets_per_block=10_000)
    for pop in ("v1_to_v1", "v1_to_v1_gap_junctions"):
        assert edge_rows(tmp_path / "one", pop) == edge_rows(tmp_path / "all", pop)
    tags = Network.load(tmp_path / "one").edges["v1_to_v1"].get(["tag", "edge_type_id"])
    tags = tags[tags["edge_type_id"] == 100]["tag"]
    assert sorted(tags) == list(range(len(tags)))  # each value used once, none skipped


# ============================================================ vectorised rules: statistics
def pool_net(n_src: int, n_tgt: int | None, seed: int = 11, positions: bool = False, side: float = 300.0
             ) -> NetworkBuilder:
    net = NetworkBuilder("v1", seed=seed)
    rng = np.random.default_rng(seed)
    extra = {"positions": rng.uniform(0, side, (n_src, 3))} if positions else {}
    net.add_nodes(N=n_src, pop="a", **extra)
    if n_tgt is not None:
        extra = {"positions": rng.uniform(0, side, (n_tgt, 3))} if positions else {}
        net.add_nodes(N=n_tgt, pop="b", **extra)
    return net


def built_pairs(net: NetworkBuilder) -> pd.DataFrame:
    return net.build().edges["v1_to_v1"].get(["source_node_id", "target_node_id", "nsyns"])


@pytest.mark.parametrize("p", [0.02, 0.3])
def test_fixed_probability_count(p: float) -> None:
    net = pool_net(400, 300)
    net.add_edges(source={"pop": "a"}, target={"pop": "b"}, connection_rule=FixedProbability(p))
    df = built_pairs(net)
    n, mean = 400 * 300, p * 400 * 300
    sigma = np.sqrt(n * p * (1 - p))
    assert abs(len(df) - mean) < 4 * sigma
    assert not df.duplicated(["source_node_id", "target_node_id"]).any()
    assert df["source_node_id"].between(0, 399).all() and df["target_node_id"].between(400, 699).all()
    assert (df["nsyns"] == 1).all()


def test_fixed_probability_same_population_has_no_autapses_by_default() -> None:
    net = pool_net(200, None)
    net.add_edges(connection_rule=FixedProbability(0.5))
    net.add_edges(connection_rule=FixedProbability(0.5, allow_autapses=True), edge_type_id=500)
    df = net.build().edges["v1_to_v1"].get(["source_node_id", "target_node_id", "edge_type_id"])
    self_loops = df[df["source_node_id"] == df["target_node_id"]]
    assert set(self_loops["edge_type_id"]) == {500}
    n_default = int((df["edge_type_id"] == 100).sum())
    mean, sigma = 0.5 * 200 * 199, np.sqrt(200 * 199 * 0.25)
    assert abs(n_default - mean) < 4 * sigma
    assert abs(len(self_loops) - 100) < 4 * np.sqrt(200 * 0.25)


def test_fixed_in_degree_exact() -> None:
    net = pool_net(150, None)
    net.add_edges(connection_rule=FixedInDegree(12))
    df = built_pairs(net)
    per_target = df.groupby("target_node_id")["source_node_id"]
    assert (per_target.size() == 12).all() and per_target.ngroups == 150
    assert (per_target.nunique() == 12).all()  # distinct sources
    assert not (df["source_node_id"] == df["target_node_id"]).any()  # no autapses
    # sources are spread over the population, not the first k
    assert df["source_node_id"].nunique() > 140


def test_fixed_in_degree_across_populations_and_out_degree() -> None:
    net = pool_net(50, 80)
    net.add_edges(source={"pop": "a"}, target={"pop": "b"}, connection_rule=FixedInDegree(50))
    net.add_edges(source={"pop": "b"}, target={"pop": "a"}, connection_rule=FixedOutDegree(7), edge_type_id=7)
    df = net.build().edges["v1_to_v1"].get(["source_node_id", "target_node_id", "edge_type_id"])
    a_to_b = df[df["edge_type_id"] == 100]
    assert len(a_to_b) == 50 * 80  # k equals the pool: every source once
    b_to_a = df[df["edge_type_id"] == 7].groupby("source_node_id")["target_node_id"]
    assert b_to_a.ngroups == 80 and (b_to_a.size() == 7).all() and (b_to_a.nunique() == 7).all()
    # disjoint pools of one network: no node is excluded as "itself" (the last source is drawn too)
    net = pool_net(50, 80)
    net.add_edges(source={"pop": "a"}, target={"pop": "b"}, connection_rule=FixedInDegree(25))
    df = built_pairs(net)
    assert (df.groupby("target_node_id").size() == 25).all()
    assert set(df["source_node_id"]) == set(range(50))  # P(a source never drawn) ~ 50 * 2**-80


@pytest.mark.parametrize("kind,scale,cutoff", [("gaussian", 40.0, 100.0), ("exponential", 30.0, 120.0)])
def test_distance_probability_follows_kernel(kind: str, scale: float, cutoff: float) -> None:
    net = pool_net(700, None, positions=True, side=250.0)
    kw = {"sigma": scale} if kind == "gaussian" else {"length": scale}
    rule = DistanceProbability(0.9, kind=kind, cutoff=cutoff, **kw)
    net.add_edges(connection_rule=rule)
    df = built_pairs(net)
    pos = net.build().nodes["v1"].positions()
    d_all = cdist(pos, pos)
    src, tgt = df["source_node_id"].to_numpy(), df["target_node_id"].to_numpy()
    assert len(df) > 1000
    assert d_all[src, tgt].max() <= cutoff  # never beyond the cutoff
    assert not (src == tgt).any()
    connected = np.zeros_like(d_all, dtype=bool)
    connected[src, tgt] = True
    off_diag = ~np.eye(len(pos), dtype=bool)
    edges = np.linspace(0.0, cutoff, 7)
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = off_diag & (d_all > lo) & (d_all <= hi)
        p = rule.probability(d_all[in_bin])
        expected, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
        assert abs(connected[in_bin].sum() - expected) < 5 * sd + 1, (lo, hi)
    assert not connected[d_all > cutoff].any()


# ============================================================ the built network and the saved files
def test_build_returns_the_network_save_writes(tmp_path: Path) -> None:
    net = deterministic_network(None, targets_per_block=4)
    built = net.build()
    assert net.build() is built  # cached until the spec changes
    assert built.path and os.path.isdir(built.path)
    for pop in list(built.nodes.values()) + list(built.edges.values()):
        assert os.path.dirname(os.path.abspath(pop.path)) == os.path.abspath(built.path)  # file-backed, lazy
    net.save(output_dir=tmp_path)
    saved = Network.load(tmp_path)
    assert sorted(saved.nodes) == sorted(built.nodes) == ["v1"]
    assert sorted(saved.edges) == sorted(built.edges) == ["v1_to_v1", "v1_to_v1_gap_junctions"]
    pd.testing.assert_frame_equal(saved.nodes["v1"].get(), built.nodes["v1"].get())
    for name in built.edges:
        pd.testing.assert_frame_equal(saved.edges[name].get(), built.edges[name].get())
    built_files = {os.path.basename(p.path) for p in list(built.nodes.values()) + list(built.edges.values())}
    for f in built_files:
        assert (tmp_path / f).read_bytes() == Path(built.path, f).read_bytes()
    # synapses as bmtk counts them: nsyns of one-row-per-pair edges, one per row for edges with properties
    nsyns = built.edges["v1_to_v1"].column("nsyns")
    assert np.isnan(nsyns).sum() > 0
    assert net.nedges == np.nansum(nsyns) + np.isnan(nsyns).sum() + built.edges["v1_to_v1_gap_junctions"].size


def test_saved_files_validate(tmp_path: Path) -> None:
    random_network(tmp_path / "r", seed=1)
    deterministic_network(tmp_path / "d", targets_per_block=3)
    for folder in ("r", "d"):
        assert validate(tmp_path / folder) == []
        for f in os.listdir(tmp_path / folder):
            assert validate(tmp_path / folder / f) == [], f


def test_gap_junctions_are_a_spec_edge_population(tmp_path: Path) -> None:
    deterministic_network(tmp_path, targets_per_block=2)
    assert "v1_v1_gap_junctions_edges.h5" in os.listdir(tmp_path)
    assert "v1_gap_juncs.h5" not in os.listdir(tmp_path)  # bmtk's non-SONATA side file
    pop = Network.load(tmp_path).edges["v1_to_v1_gap_junctions"]
    assert pop.source == pop.target == "v1"
    df = pop.get()
    # neighbours among the 5 inhibitory nodes (ids 12..16), both directions, 2 junctions per pair: 4 * 2 * 2
    assert len(df) == 16
    assert (abs(df["source_node_id"] - df["target_node_id"]) == 1).all()
    assert set(df["source_node_id"]) | set(df["target_node_id"]) == set(range(12, 17))
    ids = np.concatenate([df["efferent_junction_id"], df["afferent_junction_id"]])
    assert sorted(ids.tolist()) == list(range(32))  # unique junction ids, across blocks
    assert (df["afferent_junction_id"] == df["efferent_junction_id"] + 1).all()
    assert (df["is_gap_junction"].astype(str) == "True").all()
    assert np.allclose(df["syn_weight"], 0.5)  # 1 / resistance, µS
    assert set(df["target_sections"]) == {"['somatic']"} and set(df["distance_range"]) == {"[0.0, 300.0]"}
    # the chemical synapses stay in their own population
    assert not Network.load(tmp_path).edges["v1_to_v1"].get(["edge_type_id"])["edge_type_id"].isin(
        df["edge_type_id"]).any()


def test_gap_junction_bad_input() -> None:
    net = NetworkBuilder("v1")
    net.add_nodes(N=3)
    with pytest.raises(BuilderError) as e:
        net.add_gap_junctions(resistance=0.0)
    assert "resistance" in e.value.argument
    other = NetworkBuilder("lgn")
    other.add_nodes(N=2)
    with pytest.raises(BuilderError) as e:
        net.add_gap_junctions(source=other.nodes(), target=net.nodes())
    assert "gap_junctions" in e.value.argument


def test_import_nodes_of_a_bmtk_network_then_add_edges(tmp_path: Path) -> None:
    base = tmp_path / "base"
    b = bmtk.builder.NetworkBuilder("v1")
    b.add_nodes(N=4, ei="e", model_type="biophysical", positions=np.arange(12.0).reshape(4, 3),
                tuning=[0.0, 90.0, 180.0, 270.0])
    b.add_nodes(N=3, ei="i", model_type="point_neuron", tau_m=[5.0, 6.0, 7.0], node_type_id=300)
    b.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=1, syn_weight=1.0)
    b.build()
    b.save(output_dir=base)  # bmtk's defaults: gzip-compressed
    net = NetworkBuilder("v1", seed=0)
    net.import_nodes(base / "v1_nodes.h5", base / "v1_node_types.csv")
    net.add_nodes(N=2, ei="i", model_type="point_neuron", tau_m=[8.0, 9.0])
    assert net.nnodes == 9
    cm = net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=FixedInDegree(2), delay=1.0)
    cm.add_properties("syn_weight", rule=lambda s, t: -s["tau_m"], dtypes=np.float64)
    out = tmp_path / "out"
    net.save(output_dir=out)
    assert validate(out) == []
    old = Network.load(base).nodes["v1"]
    new = Network.load(out).nodes["v1"]
    assert new.node_ids.tolist()[:7] == old.node_ids.tolist()
    both = new.get().loc[old.node_ids]
    pd.testing.assert_frame_equal(both[old.get().columns], old.get(), check_dtype=False)
    np.testing.assert_array_equal(new.positions(list(range(4))), old.positions(list(range(4))))
    added = new.get().loc[[7, 8]]
    assert added["node_type_id"].tolist() == [301, 301] and added["tau_m"].tolist() == [8.0, 9.0]
    df = Network.load(out).edges["v1_to_v1"].get()
    assert sorted(Counter(df["target_node_id"]).items()) == [(0, 2), (1, 2), (2, 2), (3, 2)]
    assert set(df["source_node_id"]) <= {4, 5, 6, 7, 8}
    tau = new.get()["tau_m"]
    assert np.allclose(df["syn_weight"], -tau.loc[df["source_node_id"]].to_numpy())


def test_import_nodes_rejects_a_type_id_already_defined(tmp_path: Path) -> None:
    first = NetworkBuilder("v1")
    first.add_nodes(N=2, model_type="virtual")
    first.save(output_dir=tmp_path)
    net = NetworkBuilder("v1")
    net.add_nodes(N=1, model_type="virtual")  # node type 100 again
    with pytest.raises(BuilderError) as e:
        net.import_nodes(tmp_path / "v1_nodes.h5", tmp_path / "v1_node_types.csv")
    assert e.value.argument == "import_nodes"
    with pytest.raises(BuilderError) as e:
        NetworkBuilder("v1").import_nodes(tmp_path / "v1_nodes.h5", tmp_path / "v1_node_types.csv", population="x")
    assert "population" in e.value.argument


def test_save_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    net = deterministic_network(None, targets_per_block=8)
    net.save(output_dir=tmp_path, force_overwrite=False)
    before = files_bytes(tmp_path)
    with pytest.raises(OutputExistsError):
        net.save(output_dir=tmp_path, force_overwrite=False)
    assert files_bytes(tmp_path) == before
    net.save(output_dir=tmp_path)  # force_overwrite defaults to True, as in bmtk
    assert files_bytes(tmp_path) == before


# ============================================================ bad input
def small_net() -> NetworkBuilder:
    net = NetworkBuilder("v1", seed=0)
    net.add_nodes(N=4, ei="e", x=np.arange(4.0), y=np.zeros(4))
    net.add_nodes(N=2, ei="i", x=[0.0, 1.0], y=[1.0, 1.0])
    return net


def raises_naming(argument: str, func: Any, *args: Any, **kwargs: Any) -> BuilderError:
    with pytest.raises(BuilderError) as e:
        func(*args, **kwargs)
    assert isinstance(e.value, ModelkitError)
    assert argument in e.value.argument, e.value.argument
    assert str(e.value).startswith(e.value.argument)
    return e.value


def test_selector_matching_no_node_warns_and_makes_no_edges(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    net = small_net()
    net.add_edges(source={"ei": "x"}, target={"ei": "e"}, connection_rule=1, syn_weight=1.0)
    net.add_edges(source={"ei": "e"}, target={"no_such_property": 1}, connection_rule=1, syn_weight=1.0)
    with caplog.at_level(logging.WARNING, logger="modelkit.builder"):
        net.save(output_dir=tmp_path)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("edge type 100" in m and "source selection matches no node" in m for m in messages)
    assert any("edge type 101" in m and "target selection matches no node" in m for m in messages)
    assert net.nedges == 0
    assert Network.load(tmp_path).edges["v1_to_v1"].size == 0
    assert validate(tmp_path) == []


def test_unknown_iterator() -> None:
    e = raises_naming("iterator", small_net().add_edges, connection_rule=lambda s, t: 1, iterator="all_to_all")
    assert "all_to_all" in str(e) and "one_to_one" in str(e)


@pytest.mark.parametrize("rule,argument", [
    (-1, "connection_rule"),
    ("three", "connection_rule"),
    (FixedProbability(0.1), "connection_params"),  # with connection_params below
])
def test_bad_rules_at_add_edges(rule: Any, argument: str) -> None:
    params = {"p": 1} if isinstance(rule, FixedProbability) else None
    raises_naming(argument, small_net().add_edges, connection_rule=rule, connection_params=params)


@pytest.mark.parametrize("kwargs,argument", [
    ({"connection_rule": lambda s, t: -2}, "connection_rule"),
    ({"connection_rule": lambda s, t: [1, 2]}, "connection_rule"),
    ({"connection_rule": lambda s, t: 1.5}, "connection_rule"),
    ({"connection_rule": lambda s, ts: [1] * (len(ts) - 1), "iterator": "one_to_all"}, "one_to_all"),
    ({"connection_rule": lambda ss, t: None, "iterator": "all_to_one"}, "all_to_one"),
    ({"connection_rule": [1, 2, 3]}, "connection_rule"),
    ({"connection_rule": [1, -1] * 18}, "connection_rule"),
    ({"connection_rule": ArrayRule(lambda s, t, pos, rng: np.ones((len(s), len(t) + 1)))}, "connection_rule"),
    ({"connection_rule": ArrayRule(lambda s, t, pos, rng: -np.ones((len(s), len(t)), dtype=int))},
     "connection_rule"),
    ({"connection_rule": ArrayRule(lambda s, t, pos, rng: (s[:2], t[:3]))}, "connection_rule"),
    ({"connection_rule": FixedInDegree(10)}, "FixedInDegree(k)"),
    ({"connection_rule": FixedProbability(0.5, nsyns=Normal(-5.0, 0.1))}, "FixedProbability(nsyns)"),
])
def test_bad_rules_at_build(kwargs: dict, argument: str) -> None:
    net = small_net()
    net.add_edges(**kwargs)
    raises_naming(argument, net.build)


@pytest.mark.parametrize("names,prop,argument", [
    ("w", {"rule": vectorized(lambda s, t, rng: np.ones(len(s) + 1))}, "add_properties(w)"),
    ("w", {"rule": vectorized(lambda s, t, rng: np.ones((len(s), 2)))}, "add_properties(w)"),
    (["a", "b"], {"rule": lambda s, t: 1.0}, "add_properties(a, b)"),
    (["a", "b"], {"rule": vectorized(lambda s, t, rng: np.ones(len(s)))}, "add_properties(a, b)"),
    ("w", {"values": [1.0, 2.0, 3.0]}, "add_properties(w)"),  # 36 edges, 3 values
    (["a", "b"], {"values": [1.0] * 36}, "add_properties(a, b)"),  # one value per edge, not a pair
    ("w", {"rule": lambda s, t: "x", "dtypes": float}, "add_properties(w)"),
])
def test_bad_properties_at_build(names: Any, prop: dict, argument: str) -> None:
    net = small_net()
    cm = net.add_edges(connection_rule=1)
    cm.add_properties(names, **prop)
    raises_naming(argument, net.build)


def test_bad_add_properties_arguments() -> None:
    cm = small_net().add_edges(connection_rule=1)
    raises_naming("add_properties", cm.add_properties, "w")
    raises_naming("add_properties", cm.add_properties, "w", rule=lambda s, t: 1.0, values=[1.0])
    raises_naming("add_properties(dtypes)", cm.add_properties, ["a", "b"], rule=lambda s, t: (1, 2),
                  dtypes=[float])
    cm.add_properties("w", rule=lambda s, t: 1.0)
    raises_naming("add_properties(names)", cm.add_properties, "w", rule=lambda s, t: 1.0)


@pytest.mark.parametrize("kwargs,argument", [
    ({"N": 3, "tau": [1.0, 2.0]}, "add_nodes(tau)"),
    ({"N": 3, "tau": np.ones(4)}, "add_nodes(tau)"),
    ({"N": 3, "positions": np.zeros((2, 3))}, "add_nodes(positions)"),
    ({"N": 2, "tau": (x for x in range(3))}, "add_nodes(tau)"),
    ({"N": -1}, "add_nodes(N)"),
    ({"N": 2.5}, "add_nodes(N)"),
    ({"N": 2, "node_type_id": 100}, "add_nodes(node_type_id)"),
    ({"N": 2, "node_id": [7, 7]}, "add_nodes(node_id)"),
    ({"N": 2, "node_id": [7]}, "add_nodes(node_id)"),
])
def test_bad_add_nodes(kwargs: dict, argument: str) -> None:
    raises_naming(argument, small_net().add_nodes, **kwargs)


@pytest.mark.parametrize("kwargs,argument", [
    ({"source": 3}, "source"),
    ({"target": ["a", "b"]}, "target"),
    ({"source": {"ei": {"e": 1}}}, "source['ei']"),
    ({"connection_params": [1, 2]}, "connection_params"),
    ({"edge_type_id": 100}, "add_edges(edge_type_id)"),
])
def test_bad_add_edges_arguments(kwargs: dict, argument: str) -> None:
    net = small_net()
    net.add_edges(connection_rule=1)
    raises_naming(argument, net.add_edges, **kwargs)


def test_explicit_node_ids_used_twice() -> None:
    net = small_net()
    net.add_nodes(N=2, node_id=[10, 11])
    raises_naming("add_nodes(node_id)", net.add_nodes, N=1, node_id=[11])
    net.add_nodes(N=1, node_id=[4])  # bmtk gives implicit ids around explicit ones, at build time
    assert sorted(net.build().nodes["v1"].node_ids.tolist()) == [0, 1, 2, 3, 4, 5, 6, 10, 11]


def test_unknown_node_ids_in_a_selector() -> None:
    net = small_net()
    net.add_edges(source=[0, 1, 99], connection_rule=1)
    raises_naming("node ids", net.build)


def test_bad_builder_arguments() -> None:
    raises_naming("name", NetworkBuilder, "")
    raises_naming("name", NetworkBuilder, "a/b")
    raises_naming("targets_per_block", NetworkBuilder, "v1", targets_per_block=0)
    raises_naming("FixedProbability(p)", FixedProbability, 1.5)
    raises_naming("DistanceProbability(sigma)", DistanceProbability, 0.5)
    raises_naming("DistanceProbability(kind)", DistanceProbability, 0.5, sigma=1.0, kind="box")
    raises_naming("FixedInDegree(k)", FixedInDegree, -1)


def test_distance_rule_needs_positions() -> None:
    net = NetworkBuilder("v1")
    net.add_nodes(N=3)
    net.add_edges(connection_rule=DistanceProbability(0.5, sigma=10.0))
    raises_naming("DistanceProbability", net.build)


def test_string_properties_and_dtypes(tmp_path: Path) -> None:
    """Strings (which bmtk cannot store per edge) and declared dtypes."""
    net = small_net()
    cm = net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=2)
    cm.add_properties("sec", rule=lambda s, t: "soma" if s.node_id % 2 else "dend", dtypes=str)
    cm.add_properties("idx", rule=lambda s, t: s.node_id, dtypes=np.uint16)
    cm.add_properties("w", rule=lambda s, t: s.node_id)  # no dtype: float64, as bmtk
    net.save(output_dir=tmp_path)
    with h5py.File(tmp_path / "v1_v1_edges.h5", "r") as f:
        g = f["edges/v1_to_v1/0"]
        assert h5py.check_string_dtype(g["sec"].dtype) is not None
        assert g["idx"].dtype == np.uint16 and g["w"].dtype == np.float64
    df = Network.load(tmp_path).edges["v1_to_v1"].get()
    assert len(df) == 4 * 2 * 2
    assert (df["sec"] == np.where(df["source_node_id"] % 2 == 1, "soma", "dend")).all()
    assert (df["idx"] == df["source_node_id"]).all() and (df["w"] == df["source_node_id"]).all()


def test_saving_a_network_of_nodes_only_is_not_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An input population (virtual nodes) has no edges of its own: nothing to warn about (it was a red
    stderr box in tutorial 06).  Asking for its edges explicitly still warns."""
    net = NetworkBuilder("inputs")
    net.add_nodes(N=5, model_type="virtual", pop_name="lgn")
    with caplog.at_level(logging.INFO, logger="modelkit.builder"):
        net.save(output_dir=tmp_path)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("no edges file written" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="modelkit.builder"):
        net.save_edges(output_dir=tmp_path)
    assert any("no edges file written" in r.getMessage() for r in caplog.records)
