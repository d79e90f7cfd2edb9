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


def test_population_and_node_selection_and_config_file(small_run):
    cfg, res = small_run
    from modelkit.sonata import read_spikes
    sp = read_spikes(res.spikes_file)["cortex"]
    ax = plot_raster(config_file=cfg, group_by="ei")
    pts = _points(ax)
    n_e, n_i = int((sp.node_ids < 40).sum()), int((sp.node_ids >= 40).sum())
    assert sorted(pts) == sorted([f"e ({n_e:,})", f"i ({n_i:,})"])
    ax = plot_raster(res, population="cortex", node_ids=[0, 1, 45])
    (label, xy), = _points(ax).items()
    keep = np.isin(sp.node_ids, [0, 1, 45])
    assert label == f"cortex ({int(keep.sum()):,})" and sorted(set(xy[:, 1].tolist())) <= [0, 1, 45]
    np.testing.assert_allclose(np.sort(xy[:, 0]), np.sort(sp.timestamps[keep]))
    assert len(_points(plot_raster(res, population="nope"))) == 0


def test_spike_ids_outside_the_network_name_the_spikes_file(tmp_path):
    from modelkit.sonata import write_spikes
    bad = tmp_path / "bad_spikes.h5"
    write_spikes(bad, {"cortex": (np.array([3, 500]), np.array([1.0, 2.0]))})
    with pytest.raises(ConfigError, match="bad_spikes.h5") as ei:
        plot_raster(bad, network=P120 / "config.simulation.json", group_by="pop_name")
    assert "cortex_nodes.h5" in str(ei.value) and "500" in str(ei.value)
    with pytest.raises(ConfigError, match="nope"):
        plot_raster(REF / "spikes.h5", network=P120 / "config.simulation.json", group_by="nope")


def test_a_million_spikes_draw_quickly(tmp_path):
    import time
    rng = np.random.default_rng(0)
    n = 1_000_000
    df = pd.DataFrame({"population": "v1", "node_ids": rng.integers(0, 10_000, n),
                       "timestamps": rng.uniform(0, 1000.0, n)})
    t0 = time.perf_counter()
    ax = plot_raster(df)
    ax.figure.savefig(tmp_path / "big.png", dpi=100)
    elapsed = time.perf_counter() - t0
    assert sum(len(c.get_offsets()) for c in ax.collections) == n
    assert all(c.get_rasterized() for c in ax.collections)
    assert elapsed < 20.0, elapsed  # ~1-2 s on a laptop; generous for a shared CI machine


def test_past_max_points_the_raster_is_one_image_with_the_same_legend(tmp_path):
    from modelkit.plotting._axes import colors
    from modelkit.sonata import Network, load_config
    net = Network.from_config(load_config(P120 / "config.simulation.json"))
    dots = plot_raster(REF / "spikes.h5", network=net, group_by="pop_name")
    img_ax = plot_raster(REF / "spikes.h5", network=net, group_by="pop_name", max_points=1000)
    assert len(img_ax.collections) == 0 and len(img_ax.images) == 1
    legend = [t.get_text() for t in img_ax.get_legend().get_texts()]
    assert legend == [t.get_text() for t in dots.get_legend().get_texts()]
    assert sorted(legend) == ["LIF_exc (833)", "LIF_inh (364)"]
    rgba = img_ax.images[0].get_array()
    lit = rgba[..., 3] > 0
    assert 0 < lit.sum() <= 1197  # one pixel per spike at most
    palette = np.array(colors()[:2])
    seen = {tuple(np.round(c, 3)) for c in rgba[lit][:, :3]}
    assert seen == {tuple(np.round(c, 3)) for c in palette}  # both groups' colours, nothing else
    img_ax.figure.savefig(tmp_path / "img.png")
    assert (tmp_path / "img.png").read_bytes()[:4] == b"\x89PNG"
