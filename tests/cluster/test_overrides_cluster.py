"""run_on_cluster(overrides=...): an engine runs the changed model, with the spikes simulate() gives here."""

from __future__ import annotations

import numpy as np

from modelkit.cluster import run_on_cluster
from modelkit.datasets import balanced_network
from modelkit.simulator import simulate


def test_overrides_on_an_engine(cluster, tmp_path):
    from modelkit.analysis import SpikeTable
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=50, tstop=200.0)
    ov = {"node_types.LIF_exc.tau_m": 12.0, "edge_types.101.syn_weight": -2.0}
    run = run_on_cluster(cfg, cluster=cluster, output_dir=tmp_path / "engine", overwrite=True, overrides=ov)
    assert run.wait(120) == "done", run.error
    here = simulate(cfg, output_dir=tmp_path / "here", overwrite=True, progress=False, overrides=ov)
    plain = simulate(cfg, output_dir=tmp_path / "plain", overwrite=True, progress=False)
    a, b = SpikeTable.read(run.result.spikes_file), SpikeTable.read(here.spikes_file)
    for x, y in ((a.node_ids, b.node_ids), (a.timestamps, b.timestamps)):
        np.testing.assert_array_equal(np.sort(x), np.sort(y))
    assert sum(here.n_spikes.values()) != sum(plain.n_spikes.values())
