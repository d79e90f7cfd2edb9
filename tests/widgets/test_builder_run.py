"""BuilderPanel -> RunPanel: parameter forms from NEST's defaults, sign rules of weights, Simulate (real NEST).

The panel's code, executed fresh, builds the same network and gives the same spikes as the panel's run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from _widget_waits import simulate_and_wait

from modelkit.simulator import simulate
from modelkit.sonata import read_spikes
from modelkit.testing import assert_populations_equal
from modelkit.widgets import BuilderPanel
from modelkit.widgets._builder_simulate import INPUT_WEIGHT
from modelkit.widgets.nest_model_params import nest_defaults, sign_rule, unit_of

pytest.importorskip("nest", reason="the Simulate step runs NEST: pip install nest-simulator")


def _two_populations(panel: BuilderPanel, *, model: str = "iaf_psc_alpha") -> None:
    """exc (80) and inh (20) and edges both ways, through the form as a user fills it."""
    panel.pop_name.value, panel.n.value, panel.ei.value, panel.model.value = "exc", 80, "e", model
    panel.neuron_params.fields["tau_m"].value = 15.0
    panel.add_nodes_button.click()
    panel.pop_name.value, panel.n.value, panel.ei.value, panel.placement.value = "inh", 20, "i", "sphere"
    panel.add_nodes_button.click()
    panel.source.value, panel.target.value, panel.rule.value = "exc", "inh", "fixed probability"
    panel.syn_weight.value = 30.0
    panel.add_edges_button.click()
    panel.source.value, panel.target.value = "inh", "exc"
    panel.add_edges_button.click()


def test_neuron_and_synapse_forms_come_from_nest_defaults():
    panel = BuilderPanel("v1", seed=1, plots=False)
    fields = panel.neuron_params.fields
    assert fields["tau_m"].value == nest_defaults("iaf_psc_alpha")["tau_m"] == 10.0
    assert fields["tau_m"].description == "tau_m (ms)" and fields["V_th"].description == "V_th (mV)"
    assert "global_id" not in fields and "archiver_length" not in fields  # NEST's bookkeeping is not a form
    panel.model.value = "iaf_cond_alpha"
    assert "E_in" in panel.neuron_params.fields and "g_L" in panel.neuron_params.fields
    panel.model.value = "iaf_psc_alpha"
    panel.neuron_params.fields["tau_m"].value = 20.0
    panel.neuron_params.fields["V_th"].value = -50.0
    panel.add_population()
    assert "dynamics_params={'V_th': -50.0, 'tau_m': 20.0}" in panel.code  # only what differs from NEST
    panel.pop_name.value = "inh"
    panel.neuron_params.fields["tau_m"].value = 10.0
    panel.neuron_params.fields["V_th"].value = -55.0
    panel.add_population()
    assert panel.code.count("dynamics_params") == 1  # all defaults: NEST's own, no dynamics_params

    panel.synapse.value = "stdp_synapse"
    assert panel.synapse_params.fields["tau_plus"].value == 20.0 and "weight" not in panel.synapse_params.fields
    panel.synapse_params.fields["tau_plus"].value = 15.0
    panel.source.value, panel.target.value = "exc", "inh"
    panel.add_edges()
    assert "model_template='stdp_synapse', dynamics_params={'tau_plus': 15.0})" in panel.code
    network = panel.build()
    ns: dict = {}
    exec(panel.code, ns)
    assert_populations_equal(ns["network"].nodes["v1"], network.nodes["v1"])
    edges = next(iter(network.edges.values()))
    assert_populations_equal(next(iter(ns["network"].edges.values())), edges)
    assert set(edges.get(["model_template"])["model_template"]) == {"stdp_synapse"}
    assert unit_of("C_m") == "pF" and unit_of("g_L") == "nS" and unit_of("lambda") == ""


@pytest.mark.parametrize("model", ["iaf_psc_alpha", "iaf_cond_alpha"])
def test_inhibitory_weights_default_negative_and_a_positive_one_is_warned(model):
    """Current-based and conductance-based models with E_ex/E_in: the weight's sign decides (NEST)."""
    assert sign_rule(model) == "weight"
    panel = BuilderPanel("v1", plots=False)
    panel.model.value = model
    panel.pop_name.value, panel.ei.value = "exc", "e"
    panel.add_population()
    panel.pop_name.value, panel.ei.value = "inh", "i"
    panel.add_population()
    # the Poisson input's weight suits the model: pA onto current-based, nS onto conductance-based synapses
    assert panel.sim.weight.value == INPUT_WEIGHT["conductance" if model == "iaf_cond_alpha" else "current"]
    panel.source.value, panel.target.value = "exc", "inh"
    assert panel.syn_weight.value == 1.0 and panel.sign_note.value == ""
    panel.source.value = "inh"
    assert panel.syn_weight.value == -1.0 and panel.sign_note.value == ""  # the default turned negative
    panel.syn_weight.value = 2.0  # the user types a positive weight from the inhibitory population
    assert "mk-sign-warning" in panel.sign_note.value and "'inh' is inhibitory" in panel.sign_note.value
    assert panel.add_edges()  # the user's choice is kept, with the warning
    assert "syn_weight=2.0" in panel.code and "mk-sign-warning" in panel.message.value
    panel.source.value = "exc"
    assert panel.syn_weight.value == 2.0 and panel.sign_note.value == ""
    panel.source.value = "inh"  # a new source: the sign follows it again, the magnitude stays
    assert panel.syn_weight.value == -2.0 and panel.sign_note.value == ""


def test_multisynapse_targets_take_positive_weights_and_warn_on_negative():
    """Models with receptors (E_rev per receptor): NEST refuses negative weights; receptor_type sets the sign."""
    assert sign_rule("aeif_cond_alpha_multisynapse") == "receptor"
    panel = BuilderPanel("v1", plots=False)
    panel.pop_name.value, panel.ei.value, panel.model.value = "inh", "i", "iaf_psc_alpha"
    panel.add_population()
    panel.pop_name.value, panel.ei.value, panel.model.value = "ms", "e", "aeif_cond_alpha_multisynapse"
    panel.add_population()
    panel.source.value, panel.target.value = "inh", "ms"
    assert panel.syn_weight.value == 1.0 and panel.sign_note.value == ""  # positive: the receptor decides
    panel.syn_weight.value = -1.0
    assert "takes positive weights only" in panel.sign_note.value


@pytest.mark.parametrize("model", ["iaf_psc_alpha", "iaf_cond_alpha"])
def test_negative_weights_inhibit_in_nest(tmp_path, model):
    """The rule the warning states, checked on NEST: a negative weight lowers the target's rate."""
    from modelkit.builder import FixedInDegree, NetworkBuilder

    def rate(w_inh: float, out: str) -> int:
        net = NetworkBuilder("v1", seed=2)
        net.add_nodes(N=20, pop_name="exc", ei="e", model_type="point_neuron", model_template=f"nest:{model}")
        drive = NetworkBuilder("drive", seed=2)
        drive.add_nodes(N=40, model_type="virtual", pop_name="poisson")
        w = 100.0 if model == "iaf_psc_alpha" else 8.0  # pA, nS
        drive.add_edges(target=net.nodes(), connection_rule=FixedInDegree(k=20), syn_weight=w, delay=1.0,
                        model_template="static_synapse")
        drive.add_edges(target=net.nodes(), connection_rule=FixedInDegree(k=10), syn_weight=w_inh * w, delay=1.0,
                        model_template="static_synapse")
        cfg = {"run": {"tstop": 300.0, "dt": 0.1}, "output": {"output_dir": str(tmp_path / out)},
               "inputs": {"p": {"input_type": "spikes", "module": "poisson", "node_set": "drive", "rate": 50.0}}}
        res = simulate(cfg, network=[net, drive], seed=1, progress=False)
        return len(read_spikes(res.spikes_file)["v1"])
    excited, inhibited = rate(+1.0, "plus"), rate(-1.0, "minus")
    assert excited > 10 and inhibited < excited / 2, (excited, inhibited)


def test_simulate_runs_the_network_built_in_memory_and_the_code_gives_the_same_spikes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = BuilderPanel("v1", seed=3)
    _two_populations(panel)
    assert "syn_weight=-30.0" in panel.code  # inh -> exc: the default sign flipped
    panel.sim.tstop.value = 300.0
    run_panel, raster, spikes = simulate_and_wait(panel, 180)
    assert len(spikes) > 50
    assert sorted(os.listdir(tmp_path)) == ["output"]  # the hand-over wrote nothing but the run's output
    assert "run_panel = RunPanel(sim_config, network=sim_network, views=[raster]" in panel.code
    assert panel.matrix_fig.data and "network = net.build()" in panel.code
    # RunPanel's parameter controls read the network built here: exc's tau_m, the weights, the input rate
    keys = set(run_panel.controls.sliders)
    assert any(k.endswith(".tau_m") for k in keys) and "inputs.poisson.rate" in keys, keys
    assert sum(k.endswith(".syn_weight") for k in keys) == 3, keys  # exc->inh, inh->exc, input->all

    ids, ts = np.array(spikes.node_ids), np.array(spikes.timestamps)  # the next run replaces the folder
    ns: dict = {}
    exec(panel.code, ns)  # a new cell: the same network and, seeded alike, the same spikes
    assert ns["run_panel"].wait(180) == "done", ns["run_panel"].error
    assert_populations_equal(ns["network"].nodes["v1"], panel.namespace["network"].nodes["v1"])
    for name, edges in panel.namespace["network"].edges.items():
        assert_populations_equal(ns["network"].edges[name], edges)
    again = read_spikes(ns["run_panel"].run.result.spikes_file)["v1"]
    np.testing.assert_array_equal(again.node_ids, ids)
    np.testing.assert_array_equal(again.timestamps, ts)


def test_simulate_refuses_without_neurons_and_while_a_run_goes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = BuilderPanel("v1", seed=0, plots=False)
    assert panel.simulate() is None and "add a point_neuron population first" in panel.error  # nothing built
    panel.model_type.value = "virtual"
    panel.add_population()
    assert panel.simulate() is None and "add a point_neuron population first" in panel.error  # nothing to drive
    panel = BuilderPanel("v1", seed=0, plots=False)
    _two_populations(panel)
    panel.sim.tstop.value = 200_000.0  # 200 s: long enough to stop it
    run_panel = panel.simulate()
    assert run_panel is not None, panel.error
    n_lines = panel.code.count("\n")
    assert panel.simulate() is None and "still going" in panel.error and panel.code.count("\n") == n_lines
    run_panel.stop()
    assert run_panel.wait(120) == "stopped", run_panel.error
    panel.sim.tstop.value = 100.0
    assert panel.simulate() is not None and panel.namespace["run_panel"].wait(120) == "done"


def test_the_kernel_never_imports_nest(tmp_path):
    code = ("import sys; from modelkit.widgets import BuilderPanel; p = BuilderPanel('v1', plots=False); "
            "p.model.value = 'iaf_cond_alpha'; p.synapse.value = 'stdp_synapse'; p.add_population(); "
            "p.source.value = p.target.value = 'exc'; p.add_edges(); "
            "assert p.neuron_params.fields and p.error == '', p.error; "
            "assert 'nest' not in sys.modules, 'NEST was imported in the kernel'; print('ok')")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))  # no cached defaults: they are read afresh
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert os.listdir(tmp_path / "modelkit")  # read in a child process, cached for the next panel
