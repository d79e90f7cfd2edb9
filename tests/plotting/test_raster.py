"""Raster plots rendered with matplotlib's Agg backend and checked for content."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from modelkit.errors import ConfigError  # noqa: E402
from modelkit.plotting import plot_raster, spike_frame  # noqa: E402
from modelkit.sonata import read_spikes  # noqa: E402
from modelkit.testing import shared_path  # noqa: E402

REF = shared_path("reference", "bmtk", "point_120cells")
P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells")


def _points(ax):
    return {c.get_label(): c.get_offsets() for c in ax.collections}


def test_reference_run_by_population_and_by_node_type(tmp_path):
    ax = plot_raster(REF / "spikes.h5", title="point_120cells")
    pts = _points(ax)
    assert list(pts) == ["cortex (1,197)"] and len(pts["cortex (1,197)"]) == 1197
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "node id" and ax.get_title() == "point_120cells"
    ax.figure.savefig(tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 5000
    from modelkit.sonata import Network, load_config
    net = Network.from_config(load_config(P120 / "config.simulation.json"))
    ax2 = plot_raster(REF / "spikes.h5", network=net, group_by="pop_name")
    pts2 = _points(ax2)
    assert sorted(pts2) == ["LIF_exc (833)", "LIF_inh (364)"]  # the reference's own per-type counts
    exc = pts2["LIF_exc (833)"]
    ref = read_spikes(REF / "spikes.h5")["cortex"]
    in_exc = ref.node_ids < 80
    np.testing.assert_allclose(np.sort(exc[:, 0]), np.sort(ref.timestamps[in_exc]))
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == list(pts2)


def test_populations_are_stacked_and_time_range_cuts():
    df = pd.DataFrame({"population": ["a", "a", "b", "b"], "node_ids": [0, 4, 0, 2],
                       "timestamps": [1.0, 5.0, 2.0, 50.0]})
    pts = _points(plot_raster(df))
    assert pts["a (2)"][:, 1].tolist() == [0, 4] and pts["b (2)"][:, 1].tolist() == [5, 7]  # b above a
    pts = _points(plot_raster(df, time_range=(0, 10)))
    assert pts["b (1)"].tolist() == [[2.0, 5.0]]


def test_empty_and_bad_input():
    ax = plot_raster(pd.DataFrame({"node_ids": [], "timestamps": []}))
    assert len(ax.collections) == 0 and ax.get_legend() is None
    with pytest.raises(ConfigError, match="node_ids"):
        spike_frame(pd.DataFrame({"t": [1.0]}))
    with pytest.raises(ConfigError, match="network"):
        plot_raster(REF / "spikes.h5", group_by="ei")
