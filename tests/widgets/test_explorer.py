"""NetworkExplorer: populations, types, properties and the reports of a run."""

from __future__ import annotations

from modelkit import simulate
from modelkit.datasets import balanced_network
from modelkit.widgets import NetworkExplorer


def test_browse_network_and_reports(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=30, tstop=200.0)
    ex = NetworkExplorer(cfg)
    assert list(ex.populations.options) == ["nodes/cortex", "nodes/input", "edges/cortex_to_cortex",
                                            "edges/input_to_cortex"]
    assert ex.selected == "nodes/cortex" and "100 nodes" in ex.details.value and "LIF_exc" in ex.details.value
    assert "pop_name" in ex.property_picker.options
    ex.property_picker.value = "pop_name"
    assert "LIF_exc" in ex.property_view.value and ">80<" in ex.property_view.value
    ex.populations.value = "edges/cortex_to_cortex"
    assert "cortex &rarr; cortex" in ex.details.value and "syn_weight" in ex.property_picker.options
    ex.property_picker.value = "syn_weight"
    assert "mean" in ex.property_view.value
    assert "no output yet" in ex.reports.value

    result = simulate(cfg)
    ex = NetworkExplorer(cfg)
    n = sum(result.n_spikes.values())
    assert f"{n} spikes" in ex.reports.value and "membrane_potential.h5" in ex.reports.value
