"""The ecephys_probe spike input in NEURON: units of a synthetic ecephys session (pynwb) onto the virtual
inputs of an IntFire1 network give the spikes of the same trains read from a SONATA spike file."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from modelkit.simulator import simulate
from modelkit.sonata import read_spikes
from modelkit.testing import intfire_network
from modelkit.testing.ecephys import write_ecephys_session


def test_units_map_equals_the_same_trains_as_a_spike_file(tmp_path: Path) -> None:
    cfg = intfire_network(tmp_path / "net", tstop=300.0, n_input=30)
    info = write_ecephys_session(tmp_path / "session.nwb")
    rows = [k % 12 for k in range(30)]
    (tmp_path / "map.txt").write_text("node_ids unit_ids\n" + "".join(
        f"{n} {info['unit_ids'][k]}\n" for n, k in enumerate(rows)))
    start, stop = 4.0, 4.3  # s of the session, played from 10 ms
    cfg["inputs"] = {"units": {"input_type": "spikes", "module": "ecephys_probe", "node_set": "input",
                               "input_file": str(tmp_path / "session.nwb"), "mapping": "units_map",
                               "units": str(tmp_path / "map.txt"), "interval": [start * 1000, stop * 1000],
                               "simulation_onset": 10.0}}
    (tmp_path / "ecephys.json").write_text(json.dumps(cfg))
    res = simulate(str(tmp_path / "ecephys.json"), output_dir=tmp_path / "a", progress=False)
    ids, ts = [], []
    for n, k in enumerate(rows):
        t = info["spike_times"][int(info["unit_ids"][k])]
        t = t[(start <= t) & (t <= stop)]
        ids.append(np.full(len(t), n))
        ts.append((t - start) * 1000.0 + 10.0)
    with h5py.File(tmp_path / "in.h5", "w") as h5:
        g = h5.create_group("spikes/input")
        g.create_dataset("node_ids", data=np.concatenate(ids).astype(np.uint64))
        g.create_dataset("timestamps", data=np.concatenate(ts))
    assert sum(map(len, ts)) > 50
    assert f"input units: {sum(map(len, ts))} spikes of 12 units" in open(res.log_file).read()
    cfg["inputs"] = {"file": {"input_type": "spikes", "module": "sonata", "node_set": "input",
                              "input_file": str(tmp_path / "in.h5")}}
    (tmp_path / "file.json").write_text(json.dumps(cfg))
    ref = simulate(str(tmp_path / "file.json"), output_dir=tmp_path / "b", progress=False)
    a, b = read_spikes(res.spikes_file)["cortex"], read_spikes(ref.spikes_file)["cortex"]
    assert len(a) == len(b) > 0
    oa, ob = np.lexsort((a.timestamps, a.node_ids)), np.lexsort((b.timestamps, b.node_ids))
    np.testing.assert_array_equal(a.node_ids[oa], b.node_ids[ob])
    np.testing.assert_allclose(a.timestamps[oa], b.timestamps[ob], rtol=0, atol=1e-9)
