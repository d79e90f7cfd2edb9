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
    assert fig.data[1].marker.opacity < 1 and fig.data[0].customdata.shape == (80, 2)
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
    assert len(cont.data) == 1 and cont.data[0].marker.showscale
    assert np.array_equal(np.unique(cont.data[0].marker.color), [100.0, 101.0])


def test_degree_histogram_one_bar_trace_per_edge_type(net):
    fig = mkp.degree_histogram(net, "cortex_to_cortex", direction="in")
    assert fig.data[0].name.startswith("all (mean") and all(t.type == "bar" for t in fig.data)
    assert len(fig.data) == 1 + len(set(net.edges["cortex_to_cortex"].type_counts()))
    assert int(np.sum(fig.data[0].y)) == 120  # every cortex node counted once
