"""Allen GLIF conversion (against bmtk's converter), NEST 2 GLIF names, and named hooks."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.errors import UnknownModelError
from modelkit.simulator import cell_model, simulate, synaptic_weight
from modelkit.simulator.nest.glif import convert_allen_glif, legacy_glif
from modelkit.sonata import CompartmentReport, read_spikes
from modelkit.testing import shared_path

COMPONENTS = shared_path("sonata", "corpus", "bmtk", "examples", "point_components")

#: an Allen Cell Types GLIF neuron_config (SI units, fit coefficients), LIF-R-ASC-A fitted
ALLEN = {
    "El_reference": -0.0725, "El": 0.0, "th_inf": 0.0265, "R_input": 2.5e8, "C": 1.1e-10, "dt": 5e-05,
    "spike_cut_length": 40, "init_AScurrents": [0.0, 0.0], "asc_tau_array": [0.0033, 0.1],
    "asc_amp_array": [-2.1e-11, -1.5e-10],
    "coeffs": {"th_inf": 1.02, "G": 1.0, "C": 1.05, "asc_amp_array": [1.0, 1.0], "a": 1.0, "b": 1.0},
    "threshold_dynamics_method": {"name": "three_components_exact",
                                  "params": {"a_spike": 0.0021, "b_spike": 180.0, "a_voltage": 3.1,
                                             "b_voltage": 47.0}},
    "voltage_reset_method": {"name": "v_before_spike", "params": {"a": 0.37, "b": 0.0009}},
    "AScurrent_dynamics_method": {"name": "exp"},
}

TEMPLATES = ["nest:glif_lif_psc", "nest:glif_lif_r_psc", "nest:glif_lif_asc_psc", "nest:glif_lif_r_asc_psc",
             "nest:glif_lif_r_asc_a_psc"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_allen_conversion_matches_bmtk(template):
    from bmtk.simulator.pointnet.glif_utils import converter_builtin
    b_model, b_params = converter_builtin(template, ALLEN)
    model, flags = legacy_glif(template.split(":")[1])
    ours = convert_allen_glif(ALLEN, model, "allen.json", flags)
    assert f"nest:{model}" == b_model
    for k, v in b_params.items():
        np.testing.assert_allclose(np.asarray(ours[k], dtype=float), np.asarray(v, dtype=float), rtol=1e-12,
                                   err_msg=k)
    assert set(ours) - set(b_params) <= {"V_reset"}  # NEST ignores V_reset when the threshold is spike-dependent


def test_legacy_names():
    assert legacy_glif("glif_lif_r_asc_a_cond") == ("glif_cond", {"spike_dependent_threshold": True,
                                                                   "after_spike_currents": True,
                                                                   "adapting_threshold": True})
    assert legacy_glif("glif_psc") is None and legacy_glif("glif_lif_a_psc") is None


def _glif_net(template, params, n=4):
    from modelkit.builder import NetworkBuilder
    net = NetworkBuilder("glif", seed=1)
    net.add_nodes(N=n, model_type="point_neuron", model_template=template, dynamics_params=params)
    return net


def test_allen_and_corpus_glif_cells_fire_under_current(tmp_path):
    """Both file forms with NEST 2 names: the Allen SI file (converted) and the corpus' NEST-form file."""
    cfg = {"run": {"tstop": 300.0, "dt": 0.05},
           "components": {"point_neuron_models_dir": str(COMPONENTS / "cell_models")},
           "inputs": {"c": {"input_type": "current_clamp", "module": "IClamp", "node_set": "glif", "amp": 0.3,
                            "delay": 50.0, "duration": 200.0, "amp_units": "nA"}},
           "reports": {"v": {"module": "multimeter_report", "variable_name": "V_m", "cells": "glif"}},
           "output": {"output_dir": str(tmp_path / "allen")}}
    res = simulate(cfg, network=_glif_net("nest:glif_lif_r_asc_a_psc", ALLEN), progress=False)
    v = CompartmentReport(res.reports["v"])["glif"].data()
    assert v[0, 0] == pytest.approx(-72.5, abs=0.1)  # V_m starts at E_L = El + El_reference
    sp = read_spikes(res.spikes_file)["glif"]
    assert len(sp) > 4 and sp.timestamps.min() > 50.0 and sp.timestamps.max() < 260.0
    cfg["output"]["output_dir"] = str(tmp_path / "corpus")
    res2 = simulate(cfg, network=_glif_net("nest:glif_lif_asc_psc", "318808427_glif_lif_asc_psc.json"),
                    progress=False)
    assert sum(res2.n_spikes.values()) > 4


def _hook_nets(weight_function=None, syn_weight=3.0, template="nest:iaf_psc_delta"):
    from modelkit.builder import FixedProbability, NetworkBuilder
    net = NetworkBuilder("net", seed=2)
    net.add_nodes(N=8, model_type="point_neuron", model_template=template,
                  dynamics_params={"V_th": -55.0, "E_L": -70.0, "V_m": -70.0})
    ext = NetworkBuilder("ext", seed=2)
    ext.add_nodes(N=10, model_type="virtual")
    kw = {"weight_function": weight_function} if weight_function else {}
    ext.add_edges(target=net.nodes(), connection_rule=FixedProbability(0.8), syn_weight=syn_weight, delay=1.0,
                  model_template="static_synapse", **kw)
    return [net, ext]


def _run(tmp_path, name, nets):
    cfg = {"run": {"tstop": 300.0, "dt": 0.1},
           "inputs": {"p": {"input_type": "poisson", "module": "poisson", "node_set": "ext", "rate": 60.0}},
           "output": {"output_dir": str(tmp_path / name)}}
    return read_spikes(simulate(cfg, network=nets, seed=5, progress=False).spikes_file)["net"]


def test_named_weight_function_and_cell_model(tmp_path):
    @synaptic_weight("modelkit_test_double")
    def double(edges, sources, targets):
        assert len(edges) == len(targets) and "syn_weight" in edges
        return 2.0 * edges["syn_weight"].to_numpy()

    @cell_model("nest:modelkit_test_lif")
    def lif(model, n, params):
        import nest
        return nest.Create("iaf_psc_delta", n, params=params)

    doubled = _run(tmp_path, "a", _hook_nets("modelkit_test_double", 3.0))
    direct = _run(tmp_path, "b", _hook_nets(None, 6.0))
    assert len(direct) > 10
    np.testing.assert_array_equal(np.sort(doubled.timestamps), np.sort(direct.timestamps))
    custom = _run(tmp_path, "c", _hook_nets(None, 6.0, template="nest:modelkit_test_lif"))
    np.testing.assert_array_equal(np.sort(custom.timestamps), np.sort(direct.timestamps))
    with pytest.raises(UnknownModelError, match="modelkit_test_nope"):
        _run(tmp_path, "d", _hook_nets("modelkit_test_nope", 3.0))


def test_weight_function_declaring_columns_gets_only_those(tmp_path):
    seen = {}

    @synaptic_weight("modelkit_test_declared", edge_columns=["syn_weight"], node_columns=[])
    def declared(edges, sources, targets):
        seen["declared"] = (list(edges.columns), None if sources is None else list(sources.columns),
                            list(targets.columns), len(targets))
        return 2.0 * edges["syn_weight"].to_numpy()

    @synaptic_weight("modelkit_test_everything")
    def everything(edges, sources, targets):
        seen["everything"] = (set(edges.columns), set(targets.columns))
        return 2.0 * edges["syn_weight"].to_numpy()

    a = _run(tmp_path, "a", _hook_nets("modelkit_test_declared", 3.0))
    b = _run(tmp_path, "b", _hook_nets("modelkit_test_everything", 3.0))
    assert len(a) > 10
    np.testing.assert_array_equal(np.sort(a.timestamps), np.sort(b.timestamps))
    edge_cols, source_cols, target_cols, n = seen["declared"]
    assert edge_cols == ["syn_weight"] and source_cols == [] and target_cols == [] and n > 10
    all_edges, all_targets = seen["everything"]
    assert {"syn_weight", "delay", "source_node_id", "target_node_id", "weight_function"} <= all_edges
    assert {"model_type", "model_template"} <= all_targets


def test_two_threads_give_the_reference_spikes(tmp_path):
    """Same config, 2 NEST threads: bmtk's reference spikes still (the README of the reference says so too)."""
    p120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells")
    res = simulate(p120 / "config.simulation.json", output_dir=tmp_path / "o", threads=2, progress=False)
    ours = read_spikes(res.spikes_file)["cortex"]
    ref = read_spikes(shared_path("reference", "bmtk", "point_120cells", "spikes.h5"))["cortex"]
    o1, o2 = np.lexsort((ours.timestamps, ours.node_ids)), np.lexsort((ref.timestamps, ref.node_ids))
    np.testing.assert_array_equal(ours.node_ids[o1], ref.node_ids[o2])
    np.testing.assert_allclose(ours.timestamps[o1], ref.timestamps[o2], atol=1e-9)


def test_a_model_type_no_backend_simulates_is_a_clear_error(tmp_path):
    from modelkit.builder import NetworkBuilder
    net = NetworkBuilder("mix", seed=0)
    net.add_nodes(N=2, model_type="point_neuron", model_template="nest:iaf_psc_delta")
    net.add_nodes(N=2, model_type="rate_wizard", model_template="x:y")
    with pytest.raises(UnknownModelError, match="rate_wizard"):
        simulate({"run": {"tstop": 10.0, "dt": 0.1}, "output": {"output_dir": str(tmp_path / "o")}}, network=net,
                 progress=False)
