"""NWB export through pynwb, read back with modelkit's readers (spikes: modelkit.sonata.nwb; traces: analysis)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import numpy as np
import pytest

from modelkit.analysis import SpikeTable, read_nwb_traces, read_traces, write_nwb
from modelkit.errors import OutputExistsError
from modelkit.sonata import read_spikes, write_compartment_report
from modelkit.sonata.nwb import read_nwb_spikes
from modelkit.testing import shared_path

REF = shared_path("reference", "bmtk", "point_120cells")


def test_spikes_round_trip_reference_run(tmp_path, ref_config):
    st = SpikeTable.from_config(ref_config)
    p = write_nwb(tmp_path / "run.nwb", spikes=st, identifier="ref",
                  session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    back = read_nwb_spikes(p)["cortex"]
    ref = read_spikes(REF / "spikes.h5")["cortex"]
    o1 = np.lexsort((back.timestamps, back.node_ids))
    o2 = np.lexsort((ref.timestamps, ref.node_ids))
    np.testing.assert_array_equal(back.node_ids[o1], ref.node_ids[o2])
    np.testing.assert_allclose(back.timestamps[o1], ref.timestamps[o2], rtol=0, atol=1e-9)
    again = SpikeTable.load(p, config_file=ref_config)  # NWB through the table reader
    np.testing.assert_array_equal(again.rates()["n_spikes"].to_numpy(), st.rates()["n_spikes"].to_numpy())
    import h5py
    with h5py.File(p) as f:  # seconds in the file, as NWB requires; the SONATA node in columns
        assert f["units/spike_times"][()].max() < 3.0
        assert set(f["units"].keys()) >= {"population", "node_id", "spike_times", "spike_times_index"}
        assert len(f["units/id"]) == 114  # one unit per node that fires


def test_pynwb_reads_it(tmp_path):
    from pynwb import NWBHDF5IO
    st = SpikeTable.from_parts({"v1": ([2, 0, 2], [30.0, 10.0, 20.0]), "lgn": ([5], [1.0])})
    p = write_nwb(tmp_path / "s.nwb", spikes=st)
    with NWBHDF5IO(p, "r") as io:
        df = io.read().units.to_dataframe()
    assert df["population"].tolist() == ["v1", "v1", "lgn"] and df["node_id"].tolist() == [0, 2, 5]
    np.testing.assert_allclose(df["spike_times"].iloc[1], [0.02, 0.03])


def test_traces_round_trip(tmp_path):
    rep = tmp_path / "v.h5"
    data = np.linspace(-70.0, -50.0, 40).reshape(20, 2)
    write_compartment_report(rep, "cortex", [4, 9], [0, 1, 2], [0, 0], (5.0, 15.0, 0.5), data, units="mV",
                             variable="V_m", dtype=np.float64)
    tr = read_traces(rep)
    p = write_nwb(tmp_path / "t.nwb", traces=tr, spikes={"cortex": ([4], [7.0])})
    got = read_nwb_traces(p)
    assert list(got) == ["V_m_cortex"]
    t = got["V_m_cortex"]
    assert t.units == "mV" and t.variable == "V_m" and t.population == "cortex"
    assert t.node_ids.tolist() == [4, 9] and t.element_ids.tolist() == [0, 0]
    np.testing.assert_allclose(t.times, tr.times)
    np.testing.assert_allclose(t.values, data)
    import h5py
    with h5py.File(p) as f:
        ts = f["processing/modelkit/V_m_cortex"]
        assert ts["data"].attrs["unit"] == "volts" and ts["data"].attrs["conversion"] == pytest.approx(1e-3)
        assert ts["starting_time"][()] == pytest.approx(0.005) and ts["starting_time"].attrs["rate"] == 2000.0
    assert read_nwb_spikes(p)["cortex"].timestamps.tolist() == [7.0]


def test_never_overwrites_silently(tmp_path):
    st = SpikeTable.from_parts({"a": ([0], [1.0])})
    p = tmp_path / "x.nwb"
    write_nwb(p, spikes=st)
    before = p.read_bytes()
    with pytest.raises(OutputExistsError):
        write_nwb(p, spikes=SpikeTable.from_parts({"a": ([1, 1], [1.0, 2.0])}))
    assert p.read_bytes() == before
    write_nwb(p, spikes=SpikeTable.from_parts({"a": ([1, 1], [1.0, 2.0])}), overwrite=True)
    assert read_nwb_spikes(p)["a"].node_ids.tolist() == [1, 1]
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []  # no temporary file left behind
