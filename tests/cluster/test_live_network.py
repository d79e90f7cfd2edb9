"""A run given a network built in memory knows it: ``run.spikes.rates(by="pop_name")`` works on a LiveRun as on a
SpikeTable read with ``network=`` (before, it raised "node properties need the network")."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.analysis import SpikeTable
from modelkit.builder import FixedInDegree, NetworkBuilder
from modelkit.cluster import run_local

pytest.importorskip("nest", reason="the run uses NEST: pip install nest-simulator")


def test_a_local_run_of_a_network_in_memory_groups_its_spikes_by_node_properties(tmp_path):
    net = NetworkBuilder("v1", seed=1)
    net.add_nodes(N=30, pop_name="exc", ei="e", model_type="point_neuron", model_template="nest:iaf_psc_alpha")
    net.add_nodes(N=10, pop_name="inh", ei="i", model_type="point_neuron", model_template="nest:iaf_psc_alpha")
    drive = NetworkBuilder("drive", seed=1)
    drive.add_nodes(N=40, model_type="virtual", pop_name="poisson")
    drive.add_edges(target=net.nodes(), connection_rule=FixedInDegree(k=20), syn_weight=100.0, delay=1.0,
                    model_template="static_synapse")
    from modelkit.sonata import Network
    a, b = net.build(), drive.build()
    network = Network({**a.nodes, **b.nodes}, {**a.edges, **b.edges})
    cfg = {"run": {"tstop": 200.0, "dt": 0.1}, "output": {"output_dir": str(tmp_path / "out")},
           "inputs": {"p": {"input_type": "spikes", "module": "poisson", "node_set": "drive", "rate": 50.0}}}
    run = run_local(cfg, network=network, seed=1)
    assert run.wait(180) == "done", run.error
    rates = run.spikes.rates(by="pop_name")
    expected = SpikeTable.read(run.result.spikes_file, network=network).rates(by="pop_name")
    assert list(rates.index) == ["exc", "inh"] and rates["n_spikes"].sum() > 0
    np.testing.assert_allclose(rates["rate"].to_numpy(), expected["rate"].to_numpy())


def test_a_dict_configs_relative_output_is_where_run_local_was_called(tmp_path, monkeypatch):
    """A config dict's relative paths (``output_dir: 'output'``) are the caller's: the process started ahead
    (``prestart_local``, which RunPanel does after each run) may have started in another folder. Before, the run
    wrote into that folder (found when a test after a test that changed folder wrote into the repository)."""
    from modelkit.cluster import prestart_local
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    prestart_local()
    monkeypatch.chdir(second)
    net = NetworkBuilder("v1", seed=1)
    net.add_nodes(N=5, model_type="point_neuron", model_template="nest:iaf_psc_alpha", dynamics_params={"I_e": 400.0})
    run = run_local({"run": {"tstop": 50.0, "dt": 0.1}, "output": {"output_dir": "output"}}, network=net.build())
    assert run.wait(180) == "done", run.error
    assert (second / "output" / "spikes.h5").is_file() and not (first / "output").exists()
