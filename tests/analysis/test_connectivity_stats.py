"""Degrees, weight/delay statistics and connection probability vs distance, against hand counts (see conftest)."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.analysis import (UnknownPropertyError, connection_probability, degrees, edge_histogram, edge_stats)
from modelkit.sonata import Network
from modelkit.testing import shared_path

P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells")


def test_degrees(tiny):
    e = tiny.edges["a_to_a"]
    d_in = degrees(e, "in", network=tiny, by_type=True)
    assert d_in.index.tolist() == [0, 1, 2, 3]
    assert d_in["degree"].tolist() == [1, 3, 1, 0]
    assert d_in["synapses"].tolist() == [2.0, 5.0, 1.0, 0.0]
    assert d_in["degree_1"].tolist() == [0, 2, 1, 0] and d_in["degree_2"].tolist() == [1, 1, 0, 0]
    d_out = degrees("a_to_a", "out", network=tiny, chunk_size=2)  # streamed in chunks of 2 edges
    assert d_out["degree"].tolist() == [3, 1, 0, 1]


def test_edge_stats_and_total_weight(tiny):
    s = edge_stats(tiny.edges["a_to_a"])
    assert s.index.tolist() == [1, 2] and s["n_edges"].tolist() == [3, 2]
    np.testing.assert_allclose(s[("syn_weight", "mean")], [5 / 3, -1.5])
    np.testing.assert_allclose(s[("total_weight", "mean")], [3.0, -2.0])  # 2*3, 1*1, 2*1 | -1*2, -2*1
    np.testing.assert_allclose(s[("total_weight", "min")], [1.0, -2.0])
    np.testing.assert_allclose(s[("total_weight", "max")], [6.0, -2.0])
    np.testing.assert_allclose(s[("total_weight", "std")], [np.std([6.0, 1.0, 2.0]), 0.0])
    np.testing.assert_allclose(s[("delay", "mean")], [4 / 3, 2.0])
    chunked = edge_stats(tiny.edges["a_to_a"], chunk_size=2)
    np.testing.assert_allclose(chunked.to_numpy(), s.to_numpy())
    alle = edge_stats(tiny.edges["a_to_a"], ["delay"], by=None)
    assert alle.index.tolist() == ["all"] and alle["n_edges"].tolist() == [5]


def test_edge_histogram(tiny):
    h = edge_histogram(tiny.edges["a_to_a"], "total_weight", bins=[-3.0, 0.0, 3.0, 6.0])
    assert h.index.tolist() == [-3.0, 0.0, 3.0] and h.columns.tolist() == [1, 2]
    assert h[1].tolist() == [0, 2, 1] and h[2].tolist() == [2, 0, 0]  # 6.0 falls in the last bin
    auto = edge_histogram(tiny.edges["a_to_a"], "delay", bins=2, by=None)
    assert auto["all"].sum() == 5


def test_connection_probability(tiny):
    p = connection_probability(tiny, "a_to_a", bins=[0.0, 15.0, 25.0, 35.0])
    assert p["n_pairs"].tolist() == [6, 4, 2]       # ordered pairs 10, 20, 30 µm apart
    assert p["n_connected"].tolist() == [2, 2, 0]   # 0->1, 1->0 | 0->2, 3->1 (the repeated 0->1 counts once)
    np.testing.assert_allclose(p["probability"], [2 / 6, 0.5, 0.0])
    s = connection_probability(tiny, "a_to_a", bins=[0.0, 15.0, 25.0, 35.0], max_nodes=2, seed=1)
    assert s.attrs["sampled"] and s.attrs["n_sources"] == 2 and s["n_pairs"].sum() == 2


def test_reference_network_pairs_and_edges():
    net = Network.load(P120 / "config.circuit.json")
    e = net.edges["cortex_to_cortex"]
    p = connection_probability(net, e, bins=np.arange(0.0, 1000.0, 50.0))
    assert p["n_pairs"].sum() == 120 * 119
    src, tgt = e.source_ids(), e.target_ids()
    keep = src != tgt
    assert p["n_connected"].sum() == len(np.unique(src[keep] * 1000 + tgt[keep]))
    d = degrees(e, "in", network=net)
    assert d["degree"].sum() == e.size == 1469 and len(d) == 120


def test_unknown_edge_property(tiny):
    with pytest.raises(UnknownPropertyError) as ex:
        edge_stats(tiny.edges["a_to_a"], ["conductance"])
    assert "a_a_edges.h5" in str(ex.value) and "conductance" in str(ex.value)
