"""plotly positions (3D, coloured by a property, a node set highlighted) and degree_histogram per edge type."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.errors import ConfigError
from modelkit.sonata import Network
from modelkit.testing import shared_path

pytest.importorskip("plotly", reason="plotly is not installed: pip install 'modelkit[jupyter]'")
from modelkit.plotting import plotly as mkp  # noqa: E402

P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells", "config.circuit.json")


@pytest.fixture(scope="module")
def net():
    return Network.load(P120)


def test_categories_are_one_trace_each_with_the_node_set_highlighted(net):
    fig = mkp.positions(net, color_by="pop_name", node_set={"population": "cortex", "ei": "e"})
    names = [t.name for t in fig.data]
    assert names == ["LIF_exc (80)", "other nodes (40)"], names
    assert all(t.type == "scatter3d" for t in fig.data)
    assert fig.data[1].marker.opacity < 1 and fig.data[0].customdata.shape == (80,)
    assert fig.data[0].customdata.dtype == np.int32 and fig.data[0].hovertemplate.startswith("cortex ")
    assert "80 selected" in fig.layout.title.text
    hidden = mkp.positions(net, color_by="pop_name", node_set={"population": "cortex", "ei": "e"}, others="hide")
    assert [t.name for t in hidden.data] == ["LIF_exc (80)"]
    with pytest.raises(ConfigError, match="'faint' or 'hide'"):
        mkp.positions(net, others="grey")


def test_numbers_go_on_a_colour_scale_and_a_sample_is_said(net):
    fig = mkp.positions(net, color_by="node_type_id")
    assert [t.name for t in fig.data] == ["100 (80)", "101 (40)"]  # few integers: categories
    scale = mkp.positions(net, color_by="node_type_id", categorical=True, max_points=50)
    assert sum(len(t.x) for t in scale.data) == 50 and "50 of 120 nodes (seeded sample)" in scale.layout.title.text
    cont = mkp.positions(net, color_by="node_type_id", categorical=False)
    assert len(cont.data) == 1 and cont.data[0].marker.coloraxis == "coloraxis"
    assert cont.layout.coloraxis.colorbar.title.text == "node_type_id"
    assert np.array_equal(np.unique(cont.data[0].marker.color), [100.0, 101.0])


def test_several_populations_share_one_legend_entry_per_category(tmp_path):
    from modelkit.sonata import NodePopulationData, write_nodes
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        write_nodes(tmp_path / f"{name}_nodes.h5", [NodePopulationData.from_columns(
            name, [1, 2, 2], {"x": rng.uniform(size=3), "y": rng.uniform(size=3), "z": rng.uniform(size=3),
                              "tau": [1.0, 2.0, 3.0] if name == "a" else [4.0, 5.0, 6.0]})])
        (tmp_path / f"{name}_node_types.csv").write_text("node_type_id ei\n1 e\n2 i\n")
    net = Network.load(tmp_path)
    fig = mkp.positions(net, color_by="ei")
    assert [(t.name, t.showlegend, t.hovertemplate.split(" ")[0]) for t in fig.data] == [
        ("e (2)", True, "a"), ("e (2)", False, "b"), ("i (4)", True, "a"), ("i (4)", False, "b")]
    cont = mkp.positions(net, color_by="tau")
    assert [t.marker.color.tolist() for t in cont.data] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_degree_histogram_one_bar_trace_per_edge_type(net):
    fig = mkp.degree_histogram(net, "cortex_to_cortex", direction="in")
    assert fig.data[0].name.startswith("all (mean") and all(t.type == "bar" for t in fig.data)
    assert len(fig.data) == 1 + len(set(net.edges["cortex_to_cortex"].type_counts()))
    assert int(np.sum(fig.data[0].y)) == 120  # every cortex node counted once
