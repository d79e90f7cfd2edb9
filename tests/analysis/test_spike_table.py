"""SpikeTable construction and joins, on bmtk's reference run of point_120cells and on hand-made spikes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelkit.analysis import SpikeTable
from modelkit.sonata import Network, load_config, read_spikes
from modelkit.testing import shared_path

REF = shared_path("reference", "bmtk", "point_120cells")
P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells")


def test_from_config_reference_run(ref_config):
    st = SpikeTable.from_config(ref_config)
    assert len(st) == 1197 and st.populations == ["cortex"]  # the virtual thalamus is not part of it
    assert (st.t_start, st.t_stop) == (0.0, 3000.0)
    by = st.rates(by="pop_name")
    assert by["n_spikes"].to_dict() == {"LIF_exc": 833, "LIF_inh": 364}
    assert by["n_nodes"].to_dict() == {"LIF_exc": 80, "LIF_inh": 40}
    np.testing.assert_allclose(by.loc["LIF_exc", "rate"], 833 / 80 / 3.0)
    np.testing.assert_allclose(by.loc["LIF_inh", "rate"], 364 / 40 / 3.0)
    ei = st.rates(by="ei")
    assert ei["n_spikes"].to_dict() == {"e": 833, "i": 364}
    pop = st.rates(by="population")
    np.testing.assert_allclose(pop.loc["cortex", "rate"], 3.325)  # spike_summary.json's mean_rate_Hz
    node = st.rates()
    assert len(node) == 120 and int((node["n_spikes"] > 0).sum()) == 114  # 6 silent cells count with 0 Hz
    assert node.index.names == ["population", "node_id"]


def test_rates_match_bmtk_spike_trains(ref_config):
    from bmtk.utils.reports.spike_trains import SpikeTrains
    df = SpikeTrains.load(str(REF / "spikes.h5")).to_dataframe()
    want = df.groupby("node_ids")["timestamps"].count()
    node = SpikeTable.from_config(ref_config).rates()
    got = node.loc["cortex", "n_spikes"]
    assert got[got > 0].to_dict() == want.to_dict()
    np.testing.assert_allclose(node.loc["cortex", "rate"].to_numpy(), got.to_numpy() / 3.0)


def test_csv_h5_and_load_agree(ref_config):
    net = Network.from_config(load_config(P120 / "config.simulation.json"))
    a = SpikeTable.read(REF / "spikes.h5", network=net, t_start=0, t_stop=3000)
    b = SpikeTable.read(REF / "spikes.csv", network=net, t_start=0, t_stop=3000)
    pd.testing.assert_frame_equal(a.rates(), b.rates())
    c = SpikeTable.load(REF / "spikes.h5", config_file=ref_config)  # spikes given, network + window from config
    pd.testing.assert_frame_equal(a.rates(by="ei"), c.rates(by="ei"))
    d = SpikeTable.load(read_spikes(REF / "spikes.h5"), network=net, t_start=0, t_stop=3000)
    pd.testing.assert_frame_equal(a.rates(), d.rates())
    e = SpikeTable.load(a.frame, network=net, t_start=0, t_stop=3000)
    pd.testing.assert_frame_equal(a.rates(), e.rates())
    assert SpikeTable.load(a) is a


def test_join_properties(ref_config):
    st = SpikeTable.from_config(ref_config)
    j = st.join(["pop_name", "ei", "node_type_id", "x"])
    assert list(j.columns) == ["population", "node_ids", "timestamps", "pop_name", "ei", "node_type_id", "x"]
    assert len(j) == 1197
    assert j["pop_name"].value_counts().to_dict() == {"LIF_exc": 833, "LIF_inh": 364}
    assert set(j.loc[j["node_ids"] < 80, "ei"]) == {"e"} and set(j.loc[j["node_ids"] >= 80, "ei"]) == {"i"}
    assert set(j["node_type_id"]) == {100, 101}
    x = Network.from_config(load_config(P120 / "config.simulation.json")).nodes["cortex"].column("x")
    np.testing.assert_array_equal(j["x"].to_numpy(), x[j["node_ids"].to_numpy()])


def test_frame_columns_and_dtypes(spikes_a):
    st = SpikeTable.from_parts(spikes_a)
    f = st.frame
    assert list(f.columns) == ["population", "node_ids", "timestamps"]
    assert isinstance(f["population"].dtype, pd.CategoricalDtype)
    assert f["node_ids"].dtype == np.int64 and f["timestamps"].dtype == np.float64
    assert len(st) == 7 and "7 spikes" in repr(st)


def test_dataframe_and_dict_inputs():
    df = pd.DataFrame({"population": ["b", "a", "b"], "node_ids": [1, 2, 1], "timestamps": [3.0, 1.0, 2.0]})
    st = SpikeTable.from_frame(df)
    assert st.populations == ["b", "a"]
    assert st.select(population="b").timestamps.tolist() == [3.0, 2.0]
    one = SpikeTable.from_frame({"node_id": [4, 4], "timestamps": [1.0, 2.0]})
    assert one.populations == ["all"] and one.node_ids.tolist() == [4, 4]
    missing = SpikeTable.from_frame({"population": ["a", None], "node_ids": [1, 2], "timestamps": [1.0, 2.0]})
    assert missing.populations == ["a", "unnamed"]  # a spike without a population is kept, not dropped


def test_select(tiny, spikes_a):
    st = SpikeTable.from_parts(spikes_a, network=tiny, t_start=0.0, t_stop=100.0)
    s = st.select(node_ids=[0, 1], t_start=8.0, t_stop=25.0)
    assert sorted(s.timestamps.tolist()) == [10.0, 20.0]
    assert (s.t_start, s.t_stop) == (8.0, 25.0)
    assert len(s.rates()) == 4  # the network's nodes are all still there
