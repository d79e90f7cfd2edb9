"""Each statistic against values computed by hand on tiny spike trains (see conftest for the trains).

Window 0-100 ms unless said otherwise.  Node 0: 10, 20, 30 ms; node 1: 5 ms; node 2: 0, 10, 40 ms;
node 3: silent.  ei: nodes 0, 1 are e; nodes 2, 3 are i.  The input is unsorted on purpose.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelkit.analysis import AnalysisError, SpikeTable


@pytest.fixture()
def st(tiny, spikes_a):
    return SpikeTable.from_parts(spikes_a, network=tiny, t_start=0.0, t_stop=100.0)


def test_rates_per_node_count_silent_nodes(st):
    r = st.rates()
    assert r.index.tolist() == [("a", 0), ("a", 1), ("a", 2), ("a", 3)]
    assert r["n_spikes"].tolist() == [3, 1, 3, 0]
    np.testing.assert_allclose(r["rate"], [30.0, 10.0, 30.0, 0.0])  # spikes / 0.1 s


def test_rates_per_group(st):
    ei = st.rates(by="ei")
    assert ei["n_nodes"].tolist() == [2, 2] and ei["n_spikes"].tolist() == [4, 3]
    np.testing.assert_allclose(ei["rate"], [20.0, 15.0])
    np.testing.assert_allclose(ei["rate_std"], [np.sqrt(200.0), np.sqrt(450.0)])  # ddof=1
    pn = st.rates(by="pop_name")  # a node-types CSV column
    assert pn.index.tolist() == ["Exc", "Inh"]
    np.testing.assert_allclose(pn["rate"], [20.0, 15.0])
    pop = st.rates(by="population")
    np.testing.assert_allclose(pop.loc["a", "rate"], 7 / 4 / 0.1)
    both = st.rates(by=["ei", "node_type_id"])
    assert both.index.tolist() == [("e", 100), ("i", 101)]
    allr = st.rates(by=None)
    assert allr["n_nodes"].tolist() == [4] and allr["n_spikes"].tolist() == [7]


def test_rates_window(st):
    r = st.rates(t_start=10.0, t_stop=30.0)  # both ends included: node 0: 10, 20, 30; node 2: 10
    assert r["n_spikes"].tolist() == [3, 0, 1, 0]
    np.testing.assert_allclose(r["rate"], [150.0, 0.0, 50.0, 0.0])


def test_rates_without_network_know_only_firing_nodes(spikes_a):
    st = SpikeTable.from_parts(spikes_a, t_start=0.0, t_stop=100.0)
    r = st.rates()
    assert r.index.get_level_values("node_id").tolist() == [0, 1, 2]
    np.testing.assert_allclose(st.rates(by="population")["rate"], [7 / 3 / 0.1])


def test_default_window_is_zero_to_last_spike(spikes_a):
    st = SpikeTable.from_parts(spikes_a)
    assert st.window() == (0.0, 40.0)
    np.testing.assert_allclose(st.rates()["rate"], [3 / 0.04, 1 / 0.04, 3 / 0.04])


def test_psth(st):
    p = st.psth(bin_ms=50.0, by="ei")
    assert p.index.tolist() == [0.0, 50.0] and p.index.name == "time"
    np.testing.assert_allclose(p["e"], [4 / 2 / 0.05, 0.0])
    np.testing.assert_allclose(p["i"], [3 / 2 / 0.05, 0.0])
    tot = st.psth(bin_ms=50.0, by=None, per_node=False)
    np.testing.assert_allclose(tot["all"], [7 / 0.05, 0.0])
    # a partial last bin (100-120 ms) and a spike exactly at t_stop
    st2 = SpikeTable.from_parts({"a": ([0, 0], [10.0, 120.0])}, t_start=0.0, t_stop=120.0)
    q = st2.psth(bin_ms=50.0, by="population")
    assert q.index.tolist() == [0.0, 50.0, 100.0]
    np.testing.assert_allclose(q["a"], [1 / 0.05, 0.0, 1 / 0.02])


def test_isi_and_cv(st):
    r = st.isi()
    assert r["n_spikes"].tolist() == [3, 1, 3, 0] and r["n_isi"].tolist() == [2, 0, 2, 0]
    np.testing.assert_allclose(r["isi_mean"], [10.0, np.nan, 20.0, np.nan])
    np.testing.assert_allclose(r["isi_std"], [0.0, np.nan, 10.0, np.nan])
    np.testing.assert_allclose(r["cv"], [0.0, np.nan, 0.5, np.nan])
    iv = st.intervals()
    assert list(iv.columns) == ["population", "node_id", "isi"]
    assert iv["node_id"].tolist() == [0, 0, 2, 2] and iv["isi"].tolist() == [10.0, 10.0, 10.0, 30.0]


def test_cv_needs_two_intervals():
    st = SpikeTable.from_parts({"p": ([7, 7], [1.0, 4.0])}, t_start=0.0, t_stop=10.0)
    r = st.isi()
    assert r["isi_mean"].tolist() == [3.0] and np.isnan(r["cv"].iloc[0])


def test_fano(st):
    f = st.fano(25.0)  # bins of 0-100: node 0 [2,1,0,0], node 1 [1,0,0,0], node 2 [2,1,0,0], node 3 [0,0,0,0]
    np.testing.assert_allclose(f["mean_count"], [0.75, 0.25, 0.75, 0.0])
    np.testing.assert_allclose(f["var_count"], [0.6875, 0.1875, 0.6875, 0.0])
    np.testing.assert_allclose(f["fano"], [0.6875 / 0.75, 0.75, 0.6875 / 0.75, np.nan])
    g = st.fano(25.0, by="ei")  # e pooled [3,1,0,0]: mean 1, var 1.5; i pooled [2,1,0,0]
    np.testing.assert_allclose(g["fano"], [1.5, 0.6875 / 0.75])
    np.testing.assert_allclose(g["fano_node_mean"], [(0.6875 / 0.75 + 0.75) / 2, 0.6875 / 0.75])
    # a last partial bin is dropped: 0-90 ms with 25 ms bins counts 0-75 only
    h = st.fano(25.0, t_stop=90.0)
    np.testing.assert_allclose(h["mean_count"], [1.0, 1 / 3, 1.0, 0.0])


def test_binned_counts_and_correlations(st):
    c = st.binned_counts(25.0)
    assert c.columns.tolist() == [0.0, 25.0, 50.0, 75.0]
    assert c.to_numpy().tolist() == [[2, 1, 0, 0], [1, 0, 0, 0], [2, 1, 0, 0], [0, 0, 0, 0]]
    sub = st.binned_counts(25.0, node_ids=[2, 0])
    assert sub.index.tolist() == [("a", 2), ("a", 0)]
    r = st.correlations(25.0)
    want01 = np.corrcoef([2, 1, 0, 0], [1, 0, 0, 0])[0, 1]
    np.testing.assert_allclose(r.iloc[0, 1], want01)
    np.testing.assert_allclose(r.iloc[0, 2], 1.0)
    np.testing.assert_allclose(np.diag(r.to_numpy())[:3], 1.0)
    assert r.iloc[3].isna().all() and r.iloc[:, 3].isna().all()  # a silent node has no correlation
    m = st.mean_correlation(25.0, by="ei")
    np.testing.assert_allclose(m.loc["e", "mean_correlation"], want01)
    assert m.loc["e", "n_pairs"] == 1 and m.loc["i", "n_pairs"] == 0 and np.isnan(m.loc["i", "mean_correlation"])
    s = st.mean_correlation(25.0, by=None, max_nodes=2, seed=3)
    assert s.loc["all", "n_nodes"] == 4 and s.loc["all", "n_sampled"] == 2


def test_empty_trains(tiny):
    st = SpikeTable.from_parts({"a": (np.empty(0, np.int64), np.empty(0))}, network=tiny, t_start=0.0, t_stop=100.0)
    assert st.rates()["rate"].tolist() == [0.0] * 4
    assert st.rates(by="ei")["rate"].tolist() == [0.0, 0.0]
    assert st.psth(50.0, by="ei").to_numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert st.isi()["isi_mean"].isna().all() and st.fano(25.0)["fano"].isna().all()
    assert st.intervals().empty
    assert st.correlations(25.0).isna().all().all()
    with pytest.raises(AnalysisError, match="t_stop"):
        SpikeTable.from_parts({"a": ([], [])}).rates()  # no spikes and no window


def test_one_spike():
    st = SpikeTable.from_parts({"p": ([3], [12.5])}, t_start=0.0, t_stop=50.0)
    assert st.rates()["rate"].tolist() == [20.0]
    r = st.isi()
    assert r["n_spikes"].tolist() == [1] and np.isnan(r["isi_mean"].iloc[0])
    np.testing.assert_allclose(st.psth(25.0)["p"], [40.0, 0.0])
    np.testing.assert_allclose(st.fano(25.0)["fano"], [0.5])  # counts [1, 0]: mean .5, var .25


def test_unsorted_input_gives_the_same_results(tiny, spikes_a):
    ids, ts = spikes_a["a"]
    order = np.lexsort((ts, ids))
    a = SpikeTable.from_parts({"a": (ids, ts)}, network=tiny, t_start=0.0, t_stop=100.0)
    b = SpikeTable.from_parts({"a": (ids[order], ts[order])}, network=tiny, t_start=0.0, t_stop=100.0)
    for f in (lambda s: s.rates(), lambda s: s.isi(), lambda s: s.psth(20.0), lambda s: s.fano(20.0),
              lambda s: s.intervals(), lambda s: s.rates(by="ei")):
        pd.testing.assert_frame_equal(f(a), f(b))


def test_several_populations():
    st = SpikeTable.from_parts({"x": ([0, 1], [1.0, 2.0]), "y": ([0], [3.0])}, t_start=0.0, t_stop=10.0)
    p = st.psth(5.0, by="population")
    assert p.columns.tolist() == ["x", "y"]
    np.testing.assert_allclose(p.loc[0.0], [2 / 2 / 0.005, 1 / 0.005])
    assert st.rates().index.tolist() == [("x", 0), ("x", 1), ("y", 0)]
    c = st.binned_counts(5.0, population="y")
    assert c.index.tolist() == [("y", 0)] and c.to_numpy().tolist() == [[1, 0]]
