"""plot_rates on bmtk's point_120cells run: bar heights, histogram counts and PSTH lines checked against
hand counts (LIF_exc 833 spikes / 80 cells, LIF_inh 364 / 40, over the 3000 ms run)."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.errors import ConfigError, ModelkitError
from modelkit.plotting import plot_rates
from modelkit.plotting.rates import rate_data
from modelkit.sonata import read_spikes


def test_bars_per_pop_name_match_hand_counts(ref_spikes, p120_config, tmp_path):
    ax = plot_rates(ref_spikes, config_file=p120_config, group_by="pop_name", title="rates")
    from matplotlib.container import BarContainer
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2
    heights = [b.get_height() for b in bars]
    np.testing.assert_allclose(heights, [833 / 80 / 3.0, 364 / 40 / 3.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["LIF_exc", "LIF_inh"]
    assert ax.get_ylabel() == "firing rate (Hz)" and ax.get_xlabel() == "pop_name" and ax.get_title() == "rates"
    assert [t.get_text() for t in ax.texts] == ["3.47 Hz", "3.03 Hz"]
    ax.figure.savefig(tmp_path / "bars.png")
    assert (tmp_path / "bars.png").read_bytes()[:4] == b"\x89PNG"


def test_histogram_of_node_rates_counts_every_node(ref_spikes, p120_config):
    ax = plot_rates(ref_spikes, config_file=p120_config, group_by="ei", kind="hist", bins=20)
    assert len(ax.containers) == 2
    counts = [sum(p.get_height() for p in c) for c in ax.containers]
    assert counts == [80, 40]  # silent cells are in (0 Hz): the network is known
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["e (80 nodes)", "i (40 nodes)"]
    assert ax.get_xlabel() == "firing rate (Hz)" and ax.get_ylabel() == "nodes"
    # the tallest bin of the first group holds as many nodes as numpy counts by hand
    sp = read_spikes(ref_spikes)["cortex"]
    rates = np.bincount(sp.node_ids, minlength=120) / 3.0
    edges = np.histogram_bin_edges(rates, bins=20)
    np.testing.assert_array_equal([p.get_height() for p in ax.containers[0]], np.histogram(rates[:80], edges)[0])


def test_psth_lines_integrate_to_the_spike_counts(ref_spikes, p120_config):
    ax = plot_rates(ref_spikes, config_file=p120_config, group_by="pop_name", kind="time", bin_ms=50.0)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["LIF_exc", "LIF_inh"]
    assert ax.get_xlabel() == "time (ms)" and "50 ms bins" in ax.get_ylabel()
    for ln, (n_spikes, n_cells) in zip(lines, [(833, 80), (364, 40)]):
        y = ln.get_ydata()[:-1]  # the last point repeats the last bin (step drawing)
        assert len(y) == 60
        assert float(np.sum(y * 0.050 * n_cells)) == pytest.approx(n_spikes)


def test_time_range_and_table_without_network(ref_spikes):
    d = rate_data(ref_spikes, kind="bar", time_range=(0.0, 1000.0))
    sp = read_spikes(ref_spikes)["cortex"]
    early = sp.timestamps <= 1000.0
    n_active = len(np.unique(sp.node_ids))  # without a network, the nodes known are those in the file
    assert d.loc["cortex", "n_nodes"] == n_active and d.loc["cortex", "n_spikes"] == int(early.sum())
    assert d.loc["cortex", "mean"] == pytest.approx(early.sum() / n_active / 1.0)


def test_bad_input(ref_spikes, p120_config):
    with pytest.raises(ConfigError, match="kind"):
        plot_rates(ref_spikes, kind="pie")
    with pytest.raises(ModelkitError, match="nope") as ei:
        plot_rates(ref_spikes, config_file=p120_config, group_by="nope")
    assert "cortex_nodes.h5" in str(ei.value)
    with pytest.raises(ModelkitError, match="network"):
        plot_rates(ref_spikes, group_by="pop_name")
