"""node_positions (the data of a 3D view) and degree_histogram (degree distributions per edge type)."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.analysis import AnalysisError, UnknownPropertyError, degree_histogram, degrees, node_positions
from modelkit.analysis.positions import node_properties, position_populations
from modelkit.errors import ConfigError, NodeSetError
from modelkit.sonata import Network
from modelkit.testing import shared_path

P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells", "config.circuit.json")


def test_positions_with_a_property_and_a_node_set(tiny):
    df = node_positions(tiny, color_by="pop_name", node_set={"population": "a", "ei": "e"})
    assert list(df.columns) == ["population", "node_id", "x", "y", "z", "pop_name", "selected"]
    assert df["x"].tolist() == [0.0, 10.0, 20.0, 30.0]
    assert df["pop_name"].tolist() == ["Exc", "Exc", "Inh", "Inh"]  # from the node-types table
    assert df["selected"].tolist() == [True, True, False, False]
    assert df.attrs["n_nodes"] == 4 and df.attrs["n_selected"] == 2 and not df.attrs["sampled"]
    only = node_positions(tiny, color_by="node_type_id", node_set={"population": "a", "ei": "i"}, only_selected=True)
    assert only["node_id"].tolist() == [2, 3] and only["node_type_id"].tolist() == [101, 101]
    assert node_properties(tiny) == ["population", "node_type_id", "ei", "model_type", "pop_name"]


def test_a_seeded_sample_above_max_points():
    net = Network.load(P120)
    assert position_populations(net) == ["cortex"]  # thalamus (virtual) has no positions
    a = node_positions(net, color_by="ei", max_points=30, seed=1)
    b = node_positions(net, color_by="ei", max_points=30, seed=1)
    assert len(a) == 30 and a.attrs["sampled"] and a.attrs["n_nodes"] == 120
    assert a.equals(b) and np.all(np.diff(a["node_id"].to_numpy()) > 0)  # seeded, file order kept
    full = node_positions(net, color_by="ei").set_index("node_id")
    assert np.allclose(full.loc[a["node_id"], ["x", "y", "z"]].to_numpy(), a[["x", "y", "z"]].to_numpy())


def test_positions_refuse_what_cannot_be_drawn(tiny):
    with pytest.raises(UnknownPropertyError, match="model_name"):
        node_positions(tiny, color_by="model_name")
    with pytest.raises(NodeSetError):
        node_positions(tiny, node_set="no_such_set")
    with pytest.raises(AnalysisError, match="max_points"):
        node_positions(tiny, max_points=0)
    net = Network.load(P120)
    with pytest.raises(ConfigError, match="positions"):
        node_positions(net, population="thalamus")


def test_degree_histogram_counts_nodes_per_degree_and_edge_type(tiny):
    # in-degrees: node 0: 1 (type 2), node 1: 3 (2 of type 1, 1 of type 2), node 2: 1 (type 1), node 3: 0
    h = degree_histogram("a_to_a", "in", network=tiny)
    assert h.index.tolist() == [0, 1, 2, 3] and list(h.columns) == ["all", 1, 2]
    assert h["all"].tolist() == [1, 2, 0, 1]
    assert h[1].tolist() == [2, 1, 1, 0] and h[2].tolist() == [2, 2, 0, 0]
    assert h.attrs["mean"] == {"all": 1.25, 1: 0.75, 2: 0.5} and h.attrs["population"] == "a"
    # the same as counting degrees() per node
    d = degrees("a_to_a", "out", network=tiny)["degree"].to_numpy()
    out = degree_histogram("a_to_a", "out", network=tiny, by_type=False)
    assert list(out.columns) == ["all"] and out["all"].tolist() == np.bincount(d).tolist()
    with pytest.raises(AnalysisError, match="'in' or 'out'"):
        degree_histogram("a_to_a", "both", network=tiny)


def test_colour_by_a_per_node_parameter_override(tiny):
    hot = tiny.with_dynamics("a", {"tau_m": 20.0}).with_dynamics({"population": "a", "ei": "i"}, {"tau_m": 5.0})
    assert "tau_m" in node_properties(hot)
    df = node_positions(hot, color_by="tau_m")
    assert df["tau_m"].tolist() == [20.0, 20.0, 5.0, 5.0]
