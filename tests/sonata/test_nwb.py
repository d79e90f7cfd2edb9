"""NWB spike trains and Allen sweeps: files written by pynwb (and by hand in the legacy layouts) read back."""

from __future__ import annotations

from datetime import datetime, timezone

import h5py
import numpy as np
import pytest

from modelkit.errors import SonataFormatError
from modelkit.sonata import read_spikes
from modelkit.sonata.nwb import read_nwb_spikes, read_nwb_sweep
from modelkit.testing import write_allen_sweep


def _pynwb_units(path, units, with_population=True, node_id_column=False):
    """Write ``units`` = [(unit id, population, spike times in s)] with pynwb, the NWB reference writer."""
    from pynwb import NWBHDF5IO, NWBFile
    nwb = NWBFile(session_description="modelkit test", identifier="t1",
                  session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    if with_population:
        nwb.add_unit_column("population", "SONATA node population")
    if node_id_column:
        nwb.add_unit_column("node_id", "SONATA node id")
    for uid, pop, times in units:
        kw = {"population": pop} if with_population else {}
        if node_id_column:
            kw["node_id"] = uid + 1000
        nwb.add_unit(spike_times=list(times), id=uid, **kw)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_units_table_written_by_pynwb(tmp_path):
    p = tmp_path / "spikes.nwb"
    _pynwb_units(p, [(0, "v1", [0.5, 0.1]), (3, "lgn", [0.2]), (7, "v1", []), (2, "v1", [0.05, 1.25])])
    out = read_nwb_spikes(p)
    assert sorted(out) == ["lgn", "v1"]
    v1 = out["v1"]
    np.testing.assert_allclose(v1.timestamps, [50.0, 100.0, 500.0, 1250.0])  # seconds -> ms, sorted by time
    assert v1.node_ids.tolist() == [2, 0, 0, 2]
    assert out["lgn"].node_ids.tolist() == [3] and out["lgn"].timestamps.tolist() == [200.0]
    same = read_spikes(p)  # read_spikes dispatches on the extension
    np.testing.assert_array_equal(same["v1"].timestamps, v1.timestamps)


def test_units_table_without_population_or_with_node_ids(tmp_path):
    p = tmp_path / "a.nwb"
    _pynwb_units(p, [(4, None, [0.3, 0.1])], with_population=False)
    out = read_nwb_spikes(p, population="input")
    assert list(out) == ["input"] and out["input"].node_ids.tolist() == [4, 4]
    q = tmp_path / "b.nwb"
    _pynwb_units(q, [(1, "x", [0.01])], node_id_column=True)
    assert read_nwb_spikes(q)["x"].node_ids.tolist() == [1001]  # a node_id column wins over the unit id


def test_legacy_processing_layout(tmp_path):
    p = tmp_path / "legacy.nwb"
    with h5py.File(p, "w") as f:
        g = f.create_group("processing/trial_0/spike_train")
        g.create_dataset("5/data", data=[12.0, 3.0])
        g.create_dataset("1/data", data=[7.5])
    sp = read_nwb_spikes(p, population="lgn")["lgn"]
    assert sp.node_ids.tolist() == [5, 1, 5] and sp.timestamps.tolist() == [3.0, 7.5, 12.0]
    with h5py.File(p, "a") as f:
        f.create_group("processing/trial_1/spike_train")
    with pytest.raises(SonataFormatError, match="trial"):
        read_nwb_spikes(p)
    assert len(read_nwb_spikes(p, trial="trial_1")[None]) == 0


def test_bad_nwb_files_name_the_problem(tmp_path):
    p = tmp_path / "empty.nwb"
    with h5py.File(p, "w") as f:
        f.create_group("acquisition")
    with pytest.raises(SonataFormatError, match="units"):
        read_nwb_spikes(p)
    q = tmp_path / "ragged.nwb"
    with h5py.File(q, "w") as f:
        f["units/spike_times"] = [0.1, 0.2, 0.3]
        f["units/spike_times_index"] = [1, 5]
        f["units/id"] = [0, 1]
    with pytest.raises(SonataFormatError, match="spike_times_index"):
        read_nwb_spikes(q)
    with pytest.raises(SonataFormatError, match="no such file"):
        read_nwb_spikes(tmp_path / "missing.nwb")
    (tmp_path / "text.nwb").write_text("not hdf5")
    with pytest.raises(SonataFormatError, match="HDF5"):
        read_nwb_spikes(tmp_path / "text.nwb")


def test_allen_sweep_reads_in_nA_and_ms(tmp_path):
    p = tmp_path / "ephys.nwb"
    write_allen_sweep(p)
    t, a = read_nwb_sweep(p, 55)
    assert len(t) == 100_000 and t[1] == pytest.approx(0.005)
    assert a.max() == pytest.approx(0.2) and t[np.argmax(a > 0)] == pytest.approx(100.0)
    t2, a2 = read_nwb_sweep(p, "Sweep_55", downsample=0.1, window=(50.0, 350.0))
    assert t2[0] == pytest.approx(50.0) and t2[-1] == pytest.approx(350.0) and np.diff(t2) == pytest.approx(0.1)
    with pytest.raises(SonataFormatError, match="Sweep_7"):
        read_nwb_sweep(p, 7)
