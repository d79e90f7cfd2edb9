"""In-memory per-node dynamics overrides (Network.with_dynamics) as NEST sees them; no files are rewritten."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from modelkit.datasets import balanced_network
from modelkit.errors import NodeSetError, SelectionError
from modelkit.simulator import simulate
from modelkit.sonata import Network, load_config, read_spikes


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("bal")
    return balanced_network(d / "net", n_exc=80, n_inh=20, tstop=300.0)


def _counts(result_dir):
    return read_spikes(os.path.join(result_dir, "spikes.h5"))["cortex"]


def test_overlay_merges_and_leaves_the_original_alone(small):
    net = Network.from_config(load_config(small))
    pop = net.nodes["cortex"]
    exc = pop.select(ei="e")
    hot = net.with_dynamics({"population": "cortex", "ei": "e"}, {"tau_m": 30.0})
    dp = hot.nodes["cortex"].dynamics_params()
    assert list(dp.columns) == ["tau_m"]
    assert np.all(dp["tau_m"].to_numpy()[exc.flat] == 30.0)
    assert np.isnan(dp["tau_m"].to_numpy()[pop.select(ei="i").flat]).all()
    assert pop.dynamics_attribute_names == []  # the loaded network is unchanged
    # stacking: the last overlay wins where they meet, per-node arrays keep their order
    vals = np.arange(len(exc), dtype=float)
    both = hot.with_dynamics("cortex", {"tau_m": 5.0}).with_dynamics({"population": "cortex", "ei": "e"},
                                                                      {"tau_m": vals})
    got = both.nodes["cortex"].dynamics_params()["tau_m"].to_numpy()
    assert np.array_equal(got[exc.flat], vals) and np.all(got[pop.select(ei="i").flat] == 5.0)
    again = pickle.loads(pickle.dumps(both.nodes["cortex"]))  # engines receive it pickled
    assert np.array_equal(again.dynamics_params()["tau_m"].to_numpy(), got)


def test_bad_overrides_are_clear_errors(small):
    net = Network.from_config(load_config(small))
    with pytest.raises(NodeSetError, match="no_such_set"):
        net.with_dynamics("no_such_set", {"tau_m": 1.0})
    with pytest.raises(SelectionError, match="tau_m"):
        net.with_dynamics("cortex", {"tau_m": "fast"})
    with pytest.raises(SelectionError, match="one per selected node"):
        net.with_dynamics("cortex", {"tau_m": [1.0, 2.0]})


def test_nest_runs_the_overridden_parameters(small, tmp_path):
    net = Network.from_config(load_config(small))
    base = simulate(small, output_dir=tmp_path / "base", progress=False)
    # the type's own value again: the same spikes, spike for spike
    # (half a node type overridden: the other half falls back on the type's value)
    same = simulate(small, network=net.with_dynamics({"population": "cortex", "node_id": list(range(40))},
                                                     {"V_th": -50.0}),
                    output_dir=tmp_path / "same", progress=False)
    a, b = _counts(base.output_dir), _counts(same.output_dir)
    assert np.array_equal(a.timestamps, b.timestamps) and np.array_equal(a.node_ids, b.node_ids)
    # a lower threshold on the excitatory cells only: they fire more; other cells keep the type's value
    low = simulate(small, network=net.with_dynamics({"population": "cortex", "ei": "e"}, {"V_th": -58.0}),
                   output_dir=tmp_path / "low", progress=False)
    assert low.n_spikes["cortex"] > 1.5 * base.n_spikes["cortex"]
