"""Connectivity matrix and degree histograms of point_120cells, checked against counts made with h5py and
pandas straight from the files (not through modelkit's readers)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from modelkit.errors import ConfigError
from modelkit.plotting import plot_connectivity_matrix, plot_degree_distribution
from modelkit.plotting.connectivity import connectivity_table, degrees


def _net_dir(p120_config):
    return p120_config.parent / "network"


def _pop_names(net, pop):
    with h5py.File(net / f"{pop}_nodes.h5") as f:
        tid = f[f"nodes/{pop}/node_type_id"][()]
    types = pd.read_csv(net / f"{pop}_node_types.csv", sep=" ").set_index("node_type_id")
    return types.loc[tid, "pop_name"].to_numpy()


def _edges(net, name, src):
    with h5py.File(net / f"{src}_cortex_edges.h5") as f:
        g = f[f"edges/{src}_to_cortex"]
        s, t, et = g["source_node_id"][()], g["target_node_id"][()], g["edge_type_id"][()]
    w = pd.read_csv(net / f"{src}_cortex_edge_types.csv", sep=" ").set_index("edge_type_id").loc[et, "syn_weight"]
    return s, t, w.to_numpy()


def _hand_matrix(p120_config, weighted):
    net = _net_dir(p120_config)
    cortex = _pop_names(net, "cortex")
    rows = []
    for src in ("cortex", "thalamus"):
        s, t, w = _edges(net, src, src)
        rows.append(pd.DataFrame({"source": _pop_names(net, src)[s], "target": cortex[t],
                                  "v": w if weighted else 1}))
    return pd.concat(rows).groupby(["source", "target"])["v"].sum().unstack(fill_value=0)


@pytest.mark.parametrize("weight", [None, "syn_weight"])
def test_matrix_by_pop_name_matches_the_files(p120_config, tmp_path, weight):
    hand = _hand_matrix(p120_config, weight is not None)
    tab = connectivity_table(config_file=p120_config, group_by="pop_name", weight=weight)
    assert list(tab.index) == ["LIF_exc", "LIF_inh", "input_network"] and list(tab.columns) == ["LIF_exc", "LIF_inh"]
    np.testing.assert_allclose(tab.to_numpy(), hand.loc[tab.index, tab.columns].to_numpy())
    if weight is None:
        assert tab.to_numpy().sum() == 1469 + 1192
    ax = plot_connectivity_matrix(config_file=p120_config, weight=weight, title="point_120cells")
    (im,) = ax.images
    np.testing.assert_allclose(im.get_array(), tab.to_numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["LIF_exc", "LIF_inh"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LIF_exc", "LIF_inh", "input_network"]
    assert ax.get_xlabel() == "target pop_name" and ax.get_ylabel() == "source pop_name"
    assert len(ax.texts) == 6  # annotated cells
    cbar = ax.figure.axes[-1]
    assert cbar.get_ylabel() == ("edges" if weight is None else "sum of syn_weight")
    if weight is not None:
        assert im.norm.vmin == -im.norm.vmax  # diverging, centred on 0: inhibitory sums are negative
    ax.figure.savefig(tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 5000


def test_matrix_by_population_and_one_edge_population(p120_config):
    tab = connectivity_table(config_file=p120_config, group_by="population")
    assert tab.to_dict() == {"cortex": {"cortex": 1469, "thalamus": 1192}}
    tab = connectivity_table(config_file=p120_config, group_by="ei", edges="cortex_to_cortex")
    assert int(tab.to_numpy().sum()) == 1469 and list(tab.index) == ["e", "i"]


def test_degrees_and_their_histograms(p120_config, tmp_path):
    net = _net_dir(p120_config)
    s_cc, t_cc, _ = _edges(net, "cortex", "cortex")
    _, t_tc, _ = _edges(net, "thalamus", "thalamus")
    deg = degrees(config_file=p120_config)
    assert deg.attrs["population"] == "cortex" and len(deg) == 120
    np.testing.assert_array_equal(deg["in_degree"], np.bincount(np.concatenate([t_cc, t_tc]), minlength=120))
    np.testing.assert_array_equal(deg["out_degree"], np.bincount(s_cc, minlength=120))
    ax = plot_degree_distribution(config_file=p120_config)
    assert len(ax.containers) == 2
    assert [sum(p.get_height() for p in c) for c in ax.containers] == [120, 120]
    mean_in = (len(t_cc) + len(t_tc)) / 120
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"in-degree (mean {mean_in:.3g})",
                                                                  f"out-degree (mean {len(s_cc) / 120:.3g})"]
    assert ax.get_title() == "cortex: 120 nodes" and ax.get_xlabel() == "degree (edges per node)"
    th = plot_degree_distribution(config_file=p120_config, population="thalamus", direction="out")
    (bars,) = th.containers
    assert sum(p.get_height() for p in bars) == 100
    ax.figure.savefig(tmp_path / "d.png")


def test_bad_input(p120_config):
    with pytest.raises(ConfigError, match="cortex_nodes.h5") as ei:
        connectivity_table(config_file=p120_config, group_by="layer")
    assert "layer" in str(ei.value)
    with pytest.raises(ConfigError, match="cortex_cortex_edges.h5"):
        connectivity_table(config_file=p120_config, group_by="population", weight="weight_max")
    with pytest.raises(ConfigError, match="no_such_edges"):
        connectivity_table(config_file=p120_config, edges="no_such_edges")
    with pytest.raises(ConfigError, match="direction"):
        plot_degree_distribution(config_file=p120_config, direction="sideways")
    with pytest.raises(ConfigError, match="network"):
        plot_connectivity_matrix()
