"""bmtk's builder API shapes: edges() as a list of Edge objects, ValueError, save(compression=...)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from modelkit.builder import NetworkBuilder
from modelkit.errors import BuilderError


def _net() -> NetworkBuilder:
    net = NetworkBuilder("v1", seed=1)
    net.add_nodes(N=2, ei="e", model_type="point_neuron")
    net.add_nodes(N=3, ei="i", model_type="point_neuron")
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=2, syn_type="e2i", nm="A")
    cm = net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=1, syn_type="i2e")
    cm.add_properties("w", rule=lambda s, t: float(s["node_id"] * 10 + t["node_id"]), dtypes=float)
    return net


def test_edges_is_a_list_of_edges_with_attribute_and_item_access() -> None:
    edges = _net().edges()
    assert isinstance(edges, list) and len(edges) == 2 * 3 + 3 * 2
    for e in edges:
        assert e.source_node_id == e["source_node_id"] and e.target_node_id == e["target_node_id"]
        assert e.source_gid == e.source_node_id and isinstance(e.edge_type_id, int)
        if e["syn_type"] == "i2e":
            assert e["w"] == e.source_node_id * 10 + e.target_node_id
            assert e["nm"] is None and "nm" not in e  # bmtk: an absent property reads None
            assert e.synaptic_properties["w"] == e["w"]
        else:
            assert e["nsyns"] == 2 and "w" not in e and e.edge_type_properties["nm"] == "A"


def test_edges_filters_by_property_dicts_networks_and_properties() -> None:
    net = _net()
    assert len(net.edges(source_nodes={"ei": "e"}, target_nodes={"ei": "i"})) == 6
    assert len(net.edges(source_nodes={"ei": "i"}, target_nodes={"ei": "i"})) == 0
    assert len(net.edges(source_nodes=0)) == 3
    assert len(net.edges(target_nodes=net.nodes(ei="e"))) == 6
    assert len(net.edges(nm="A")) == 6  # edges without 'nm' do not match
    assert len(net.edges(no_such_property=1)) == 0
    assert len(net.edges(source_network="other")) == 0


def test_builder_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        NetworkBuilder("")
    net = NetworkBuilder("v1")
    net.add_nodes(N=1, node_id=[3])
    with pytest.raises(ValueError, match="node_id"):
        net.add_nodes(N=1, node_id=[3])
    assert issubclass(BuilderError, ValueError)


@pytest.mark.parametrize("comp, expect, level", [(None, None, None), ("none", None, None), ("gzip", "gzip", 4),
                                                 ("lzf", "lzf", None), (7, "gzip", 7)])
@pytest.mark.parametrize("built", [False, True])
def test_save_honours_compression(tmp_path, comp, expect, level, built) -> None:
    net = _net()
    if built:
        net.build()
    net.save(output_dir=tmp_path, compression=comp)
    with h5py.File(tmp_path / "v1_nodes.h5") as f:
        ds = f["nodes/v1/node_id"]
        assert ds.compression == expect and (level is None or ds.compression_opts == level)
        assert np.array_equal(ds[()], np.arange(5))
    with h5py.File(tmp_path / "v1_v1_edges.h5") as f:
        ds = f["edges/v1_to_v1/source_node_id"]
        assert ds.compression == expect
        assert ds.attrs["node_population"] == "v1"
        assert f["edges/v1_to_v1/indices/target_to_source/node_id_to_range"].compression == expect
    from modelkit.sonata.edges import EdgePopulation  # the compressed file reads back the same
    pop = EdgePopulation(tmp_path / "v1_v1_edges.h5", "v1_to_v1")
    assert pop.size_hint() == 12 and sorted(pop.afferent_nodes([0]).tolist()) == [2, 3, 4]
    pop.close()


def test_save_rejects_an_unknown_compression_before_building(tmp_path) -> None:
    net = _net()
    with pytest.raises(BuilderError, match="compression"):
        net.save(output_dir=tmp_path, compression="zstd")
    assert not net.edges_built


def test_a_whole_float_synapse_count_is_accepted_as_bmtk_does() -> None:
    # ei_networks/popnet passes nsyns=NE with NE = 1e4 (a float); bmtk writes 10000
    net = NetworkBuilder("pop")
    net.add_nodes(ei="e", model_type="population")
    net.add_nodes(ei="i", model_type="population")
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, nsyns=1e4, syn_weight=1e-4)
    net.add_edges(source={"ei": "i"}, target={"ei": "i"}, connection_rule=np.float64(2.0))
    assert sorted(e["nsyns"] for e in net.edges()) == [2, 10000]
    with pytest.raises(BuilderError, match="connection_rule"):
        net.add_edges(source={"ei": "e"}, target={"ei": "e"}, nsyns=2.5)
    with pytest.raises(BuilderError, match="connection_rule"):
        net.add_edges(source={"ei": "e"}, target={"ei": "e"}, nsyns=float("nan"))
