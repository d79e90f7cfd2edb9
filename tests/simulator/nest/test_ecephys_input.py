"""The ecephys_probe spike input (bmtk's ECEphysUnitsModule): units of Neuropixels/ecephys session NWB files
onto virtual nodes, on a synthetic session written by pynwb (the examples' session files are not shipped)."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.sonata import read_spikes
from modelkit.testing import copy_bmtk_examples
from modelkit.testing.ecephys import write_ecephys_session

CHILD = Path(__file__).with_name("bmtk_pointnet_child.py")


def _network(root: Path) -> None:
    """6 virtual LGN nodes, each driving one iaf_psc_alpha cell of cortex strongly (files as bmtk reads them)."""
    from modelkit.builder import NetworkBuilder
    (root / "components/cell_models").mkdir(parents=True)
    (root / "components/synaptic_models").mkdir(parents=True)
    (root / "components/cell_models/iaf.json").write_text(json.dumps({"V_th": -55.0, "E_L": -70.0, "V_m": -70.0}))
    (root / "components/synaptic_models/static.json").write_text("{}")
    net = NetworkBuilder("cortex")
    net.add_nodes(N=6, model_type="point_neuron", model_template="nest:iaf_psc_alpha", dynamics_params="iaf.json")
    lgn = NetworkBuilder("LGN")
    lgn.add_nodes(N=6, model_type="virtual")
    lgn.add_edges(source=lgn.nodes(), target=net.nodes(), connection_rule=lambda s, t: int(s.node_id == t.node_id),
                  syn_weight=3000.0, delay=1.5, dynamics_params="static.json", model_template="static_synapse")
    net.build()
    lgn.build()
    net.save(root / "network")
    lgn.save(root / "network")


def _config(root: Path, inp: dict, tstop: float = 2000.0) -> Path:
    cfg = {"manifest": {"$BASE_DIR": "."}, "run": {"tstop": tstop, "dt": 0.01}, "target_simulator": "NEST",
           "components": {"point_neuron_models_dir": "./components/cell_models",
                          "synaptic_models_dir": "./components/synaptic_models"},
           "networks": {"nodes": [{"nodes_file": f"network/{p}_nodes.h5",
                                   "node_types_file": f"network/{p}_node_types.csv"} for p in ("cortex", "LGN")],
                        "edges": [{"edges_file": "network/LGN_cortex_edges.h5",
                                   "edge_types_file": "network/LGN_cortex_edge_types.csv"}]},
           "inputs": {"lgn_spikes": {"input_type": "spikes", "module": "ecephys_probe",
                                     "node_set": {"population": "LGN"}, **inp}},
           "output": {"output_dir": "./output", "spikes_file": "spikes.h5", "log_file": "log.txt"}}
    p = root / f"config.{len(list(root.glob('config.*')))}.json"
    p.write_text(json.dumps(cfg))
    return p


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("ecephys")
    _network(root)
    info = write_ecephys_session(root / "session.nwb")
    info2 = write_ecephys_session(root / "session2.nwb", seed=1, first_unit_id=960_000_000)
    return root, info, info2


def _logged_spikes(res) -> int:
    m = re.search(r"input lgn_spikes: (\d+) spikes of (\d+) units", open(res.log_file).read())
    assert m, "the input logs what it played"
    return int(m.group(1))


def _window(info, ori=90.0, tf=4.0, index=0):
    rows = [r for r in info["gratings"] if r[2] == ori and r[3] == tf]
    return rows[index][0], rows[index][1]


def _expected(info, unit_rows, window, onset_ms=0.0):
    """{node: times (ms)} of units (row k of the session) played from the window (s)."""
    out = {}
    for node, k in enumerate(unit_rows):
        t = info["spike_times"][int(info["unit_ids"][k])]
        t = t[(window[0] <= t) & (t <= window[1])] - window[0]
        out[node] = (t * 1000.0 + onset_ms)
    return out


def _as_sonata(root: Path, trains: dict, name: str) -> Path:
    import h5py
    ids = np.concatenate([np.full(len(t), n) for n, t in trains.items()])
    ts = np.concatenate(list(trains.values()))
    p = root / name
    with h5py.File(p, "w") as h5:
        g = h5.create_group("spikes/LGN")
        g.attrs["sorting"] = "none"
        g.create_dataset("node_ids", data=ids.astype(np.uint64))
        g.create_dataset("timestamps", data=ts.astype(float))
    return p


def test_units_map_with_stimulus_interval_gives_bmtks_spikes(session, tmp_path):
    """mapping units_map + an interval of the drifting-gratings table: bmtk 1.2's PointNet (through pynwb)
    and modelkit (h5py) drive the same cells to identical spikes."""
    root, info, _ = session
    rows = [3, 0, 7, 5, 11, 2]
    (root / "units_map.txt").write_text("node_ids unit_ids\n" + "".join(
        f"{n} {info['unit_ids'][k]}\n" for n, k in enumerate(rows)))
    cfg = _config(root, {"input_file": "./session.nwb", "mapping": "units_map", "units": "units_map.txt",
                         "missing_ids": "fail", "interval": {"interval_name": "drifting_gratings", "interval_index": 0,
                                                             "temporal_frequency": 4.0, "orientation": 90}})
    res = simulate(cfg, output_dir=tmp_path / "mk", progress=False)
    exp = _expected(info, rows, _window(info))
    assert _logged_spikes(res) == sum(len(t) for t in exp.values()) > 100
    subprocess.run([sys.executable, str(CHILD), str(cfg), str(tmp_path / "bmtk")], cwd=root, check=True,
                   capture_output=True, timeout=600)
    a = read_spikes(res.spikes_file)["cortex"]
    b = read_spikes(tmp_path / "bmtk" / "spikes.h5")["cortex"]
    assert len(a) == len(b) > 100
    oa, ob = np.lexsort((a.timestamps, a.node_ids)), np.lexsort((b.timestamps, b.node_ids))
    np.testing.assert_array_equal(a.node_ids[oa], b.node_ids[ob])
    np.testing.assert_allclose(a.timestamps[oa], b.timestamps[ob], rtol=0, atol=1e-9)
    # and the same as those trains given as a SONATA spike file
    sonata = _as_sonata(root, exp, "expected.h5")
    cfg2 = _config(root, {})
    d = json.loads(cfg2.read_text())
    d["inputs"] = {"s": {"input_type": "spikes", "module": "sonata", "input_file": str(sonata), "node_set": "LGN"}}
    cfg2.write_text(json.dumps(d))
    c = read_spikes(simulate(cfg2, output_dir=tmp_path / "file", progress=False).spikes_file)["cortex"]
    np.testing.assert_allclose(np.sort(c.timestamps), np.sort(a.timestamps), rtol=0, atol=1e-9)


def test_sample_with_unit_filters_plays_distinct_filtered_units(session, tmp_path):
    """mapping sample: each node a distinct unit among those passing the filters (location and an operation);
    with as many units as nodes every filtered unit plays once, so the spike total is known by hand."""
    root, info, _ = session
    want = [k for k in range(12) if info["location"][k] in ("LGd", "VISp") and info["presence_ratio"][k] > 0.85]
    if len(want) < 6:
        pytest.fail(f"the synthetic session has only {len(want)} units passing the filters")
    window_ms = (1000.0, 9000.0)
    cfg = _config(root, {"input_file": "./session.nwb", "mapping": "sample", "interval": list(window_ms),
                         "units": {"location": ["LGd", "VISp"], "presence_ratio": {"operation": ">", "value": 0.85}},
                         "missing_ids": "warn"})
    with pytest.warns(Warning, match="units pass the filters") if len(want) < 6 else contextlib.nullcontext():
        res = simulate(cfg, output_dir=tmp_path / "a", progress=False)
    n = _logged_spikes(res)
    per_unit = [len(_expected(info, [k], (1.0, 9.0))[0]) for k in want]
    assert n <= sum(per_unit) and n >= sum(sorted(per_unit)[:6]) and n > 0
    same = simulate(cfg, output_dir=tmp_path / "b", progress=False)  # seeded: the same draw
    assert _logged_spikes(same) == n
    assert len(read_spikes(same.spikes_file)["cortex"]) == len(read_spikes(res.spikes_file)["cortex"])


def test_one_window_applies_to_every_file_of_a_list(session, tmp_path):
    """input_file as a list: units pooled over sessions, and one [start, stop] (ms) cuts every file (bmtk 1.2 cut
    only the first); sample_with_replacement over all of them; simulation_onset shifts the window."""
    root, info, info2 = session
    cfg = _config(root, {"input_file": ["./session.nwb", "./session2.nwb"], "mapping": "sample_with_replacement",
                         "interval": [2000.0, 2500.0], "simulation_onset": 100.0, "random_seed": 4,
                         "units": {"location": "CA1"}})
    res = simulate(cfg, output_dir=tmp_path / "a", progress=False)
    assert "of 24 units" in open(res.log_file).read()  # 12 + 12 units pooled
    sp = read_spikes(res.spikes_file)["cortex"]
    assert len(sp) and sp.timestamps.min() > 100.0 and sp.timestamps.max() < 100.0 + 500.0 + 5.0


def test_missing_session_file_names_file_and_key(session, tmp_path):
    root, _, _ = session
    cfg = _config(root, {"input_file": ["./session.nwb", "./absent_session.nwb"], "mapping": "sample",
                         "units": {}})
    with pytest.raises(ConfigError, match=r"inputs\.lgn_spikes\.input_file.*absent_session\.nwb"):
        simulate(cfg, output_dir=tmp_path / "o", progress=False)


@pytest.mark.parametrize("inp, key", [
    ({"mapping": "sample", "units": {"brain_area": "LGd"}}, r"inputs\.lgn_spikes\.units\.brain_area"),
    ({"mapping": "nearest"}, r"inputs\.lgn_spikes\.mapping"),
    ({"mapping": "sample", "units": {"location": "CA1"}, "missing_ids": "fail"}, r"inputs\.lgn_spikes\.units"),
    ({"mapping": "sample", "interval": {"interval_name": "flashes"}}, r"inputs\.lgn_spikes\.interval\.interval_name"),
    ({"mapping": "units_map", "units": "absent_map.txt"}, r"absent_map\.txt"),
])
def test_bad_settings_name_the_key(session, tmp_path, inp, key):
    root, _, _ = session
    cfg = _config(root, {"input_file": "./session.nwb", **inp})
    with pytest.raises(ConfigError, match=key):
        simulate(cfg, output_dir=tmp_path / "o", progress=False)


@pytest.mark.parametrize("name", ["config.simulation.sample.json", "config.simulation.units_map.json",
                                  "config.simulation.multi_sessions.json"])
def test_point_neuropixels_configs_name_the_absent_session_file(tmp_path, name):
    root = copy_bmtk_examples(tmp_path / "ex", "point_neuropixels")
    cfg = root / "point_neuropixels" / name
    if not (root / "point_neuropixels" / "network").is_dir() or not any((root / "point_neuropixels/network").iterdir()):
        pytest.fail("point_neuropixels/network is absent from the example suite")
    with pytest.raises(ConfigError, match=r"inputs\.\w+\.input_file.*session_\d+\.nwb"):
        simulate(cfg, output_dir=tmp_path / "o", progress=False)
