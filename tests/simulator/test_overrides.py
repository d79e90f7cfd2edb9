"""simulate(config, overrides=...): node-type, edge-type and input parameters changed in memory, in real NEST."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from modelkit.datasets import balanced_network
from modelkit.errors import ConfigError, SelectionError
from modelkit.simulator import simulate, tunable_parameters
from modelkit.sonata import Network, load_config

pytest.importorskip("nest")

TSTOP = 300.0


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> str:
    return balanced_network(tmp_path_factory.mktemp("ovr") / "net", n_exc=160, n_inh=40, n_input=100,
                            tstop=TSTOP)


def _spikes(result) -> tuple[np.ndarray, np.ndarray]:
    """(node ids, times in ms) of a run, in (time, node) order."""
    from modelkit.analysis import SpikeTable
    t = SpikeTable.read(result.spikes_file)
    order = np.lexsort((t.node_ids, t.timestamps))
    return t.node_ids[order], t.timestamps[order]


def _run(cfg: str, out: str, **kw):
    return simulate(cfg, output_dir=out, overwrite=True, progress=False, seed=3, **kw)


@pytest.fixture(scope="module")
def baseline(cfg: str, tmp_path_factory: pytest.TempPathFactory):
    return _run(cfg, str(tmp_path_factory.mktemp("base") / "out"))


def _files(folder: str) -> dict[str, float]:
    return {os.path.join(d, f): os.path.getmtime(os.path.join(d, f))
            for d, _, fs in os.walk(folder) for f in fs if "output" not in d}


def test_tau_m_reaches_nest(cfg: str, baseline, tmp_path) -> None:
    before = _files(os.path.dirname(cfg))
    r = _run(cfg, str(tmp_path / "o"), overrides={"node_types.LIF_exc.tau_m": 8.0})
    assert _files(os.path.dirname(cfg)) == before  # nothing of the model written
    n0, n1 = sum(baseline.n_spikes.values()), sum(r.n_spikes.values())
    assert n1 < 0.8 * n0, (n0, n1)  # a shorter membrane time constant: fewer spikes from the same input


def test_same_overrides_same_spikes(cfg: str, tmp_path) -> None:
    ov = {"node_types.LIF_exc.tau_m": 12.0, "edge_types.101.syn_weight": -3.0}
    a = _run(cfg, str(tmp_path / "a"), overrides=ov)
    b = _run(cfg, str(tmp_path / "b"), overrides=ov)
    for x, y in zip(_spikes(a), _spikes(b)):
        np.testing.assert_array_equal(x, y)


def test_edge_weight_reaches_nest(cfg: str, baseline, tmp_path) -> None:
    r = _run(cfg, str(tmp_path / "o"), overrides={"edge_types.101.syn_weight": -1.0})
    assert sum(r.n_spikes.values()) > 1.3 * sum(baseline.n_spikes.values())  # weaker inhibition, more spikes
    r2 = _run(cfg, str(tmp_path / "o2"), overrides={"edge_types.input_to_cortex.100.syn_weight": 0.3})
    assert sum(r2.n_spikes.values()) < 0.5 * sum(baseline.n_spikes.values())  # weaker drive


def test_edge_delay_reaches_nest(cfg: str, baseline, tmp_path) -> None:
    r = _run(cfg, str(tmp_path / "o"), overrides={"edge_types.cortex_to_cortex.100.delay": 5.0,
                                                  "edge_types.101.delay": 5.0})
    a, b = _spikes(baseline), _spikes(r)
    assert len(a[1]) != len(b[1]) or not np.array_equal(a[1], b[1])


def test_dynamics_key_as_sweep(cfg: str, tmp_path) -> None:
    a = _run(cfg, str(tmp_path / "a"), overrides={"dynamics.cortex.tau_m": 8.0})
    b = _run(cfg, str(tmp_path / "b"), overrides={"node_types.LIF_exc.tau_m": 8.0, "node_types.101.tau_m": 8.0})
    for x, y in zip(_spikes(a), _spikes(b)):
        np.testing.assert_array_equal(x, y)


def test_input_override(tmp_path) -> None:
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=50, tstop=200.0)
    with open(cfg) as f:
        data = json.load(f)
    data["inputs"] = {"bg": {"input_type": "spikes", "module": "poisson", "node_set": "input", "rate": 15.0}}
    with open(cfg, "w") as f:
        json.dump(data, f)
    table = tunable_parameters(cfg)
    row = table[table.key == "inputs.bg.rate"].iloc[0]
    assert row.value == 15.0 and row.unit == "Hz"
    lo = _run(cfg, str(tmp_path / "lo"), overrides={"inputs.bg.rate": 2.0})
    hi = _run(cfg, str(tmp_path / "hi"))
    assert sum(lo.n_spikes.values()) < 0.5 * sum(hi.n_spikes.values())


@pytest.mark.parametrize("key, words", [
    ("node_types.nope.tau_m", ["node_types.nope.tau_m", "LIF_exc", "cortex"]),
    ("edge_types.999.syn_weight", ["edge_types.999.syn_weight", "100", "101"]),
    ("edge_types.101.weight", ["edge_types.101.weight", "syn_weight"]),
    ("edge_types.nowhere.100.delay", ["nowhere", "cortex_to_cortex"]),
    ("inputs.nope.rate", ["inputs.nope.rate", "input_spikes"]),
    ("inputs.input_spikes.rate", ["inputs.input_spikes.rate", "input_file"]),
    ("tau_m", ["'tau_m'", "node_types"]),
    ("cells.exc.tau_m", ["cells.exc.tau_m", "edge_types"]),
])
def test_bad_keys(cfg: str, tmp_path, key: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        _run(cfg, str(tmp_path / "o"), overrides={key: 1.0})
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    assert not os.path.exists(tmp_path / "o")  # refused before anything is written


def test_with_edge_params_views(cfg: str) -> None:
    net = Network.from_config(load_config(cfg))
    new = net.with_edge_params(101, {"syn_weight": -2.0}, population="cortex_to_cortex")
    e0, e1 = net.edges["cortex_to_cortex"], new.edges["cortex_to_cortex"]
    t = e0.type_ids()
    w0, w1 = e0.column("syn_weight"), e1.column("syn_weight")
    np.testing.assert_array_equal(w1[t == 101], -2.0)
    np.testing.assert_array_equal(w1[t == 100], w0[t == 100])
    assert float(e1.type_values(101, ["syn_weight"])["syn_weight"][0]) == -2.0
    assert float(e0.type_values(101, ["syn_weight"])["syn_weight"][0]) == -6.0  # the original is unchanged
    import pickle
    again = pickle.loads(pickle.dumps(e1))
    np.testing.assert_array_equal(again.column("syn_weight"), w1)
    with pytest.raises(SelectionError, match="no edge type"):
        net.with_edge_params(5, {"syn_weight": 1.0})
    with pytest.raises(SelectionError, match="finite number"):
        net.with_edge_params(101, {"syn_weight": float("nan")})


def test_tunable_parameters(cfg: str) -> None:
    t = tunable_parameters(cfg)
    row = t[t.key == "node_types.LIF_exc.tau_m"].iloc[0]
    assert (row.value, row.unit) == (20.0, "ms") and row["min"] < 20.0 < row["max"]
    assert set(t.section) == {"node_types", "edge_types"}
    w = t[t.key == "edge_types.101.syn_weight"].iloc[0]
    assert w.value == -6.0 and w["min"] < -6.0 < w["max"] <= 0
    assert "edge_types.input_to_cortex.100.syn_weight" in set(t.key)  # type id 100 in two edge populations
    same = tunable_parameters(network=Network.from_config(load_config(cfg)))
    assert set(same.key) <= set(t.key)
