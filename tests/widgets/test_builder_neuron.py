"""BuilderPanel with biophysical cells (real NEURON): templates, morphologies and synaptic models of bmtk's
components folder (shared/bmtk-examples/bio_components, read in place), the fit's values as a form, edits
that reach NEURON in memory, and Simulate: spikes in the RunPanel's raster, and the panel's code executed
fresh gives identical spikes.
"""

from __future__ import annotations

import ast
import json
import os

import numpy as np
import pytest
from _widget_waits import simulate_and_wait

from modelkit.sonata import read_spikes
from modelkit.testing import shared_path
from modelkit.widgets import BuilderPanel
from modelkit.widgets._builder_simulate import INPUT_WEIGHT

pytest.importorskip("neuron", reason="the Simulate step runs NEURON: pip install neuron")

COMPONENTS = shared_path("bmtk-examples", "bio_components")
FIT = "ctdb/472363762_fit.json"


def _fit() -> dict:
    return json.loads((COMPONENTS / "biophysical_neuron_templates" / FIT).read_text())


def _bio_population(panel: BuilderPanel, pop: str, ei: str, template: str, morphology: str, n: int = 3) -> None:
    panel.pop_name.value, panel.n.value, panel.ei.value = pop, n, ei
    panel.model_type.value = "biophysical"
    panel.bio.template.value, panel.bio.morphology.value = template, morphology
    assert panel.add_population(), panel.error


def test_forms_offer_the_components_and_show_the_fit():
    panel = BuilderPanel("v1", seed=1, plots=False, components=COMPONENTS)
    panel.model_type.value = "biophysical"
    assert panel.bio.layout.display == "" and panel.neuron_params.layout.display == "none"
    assert panel.model.layout.display == "none"  # no NEST model for a NEURON cell
    assert FIT in panel.bio.template.options and "nml/Cell_472363762.cell.nml" in panel.bio.template.options
    assert "Scnn1a_473845048_m.swc" in panel.bio.morphology.options
    # something is chosen from the start, as the browser's dropdowns show
    assert panel.bio.template.value == panel.bio.template.options[0] and panel.bio.params.fields
    assert panel.bio.morphology.value == panel.bio.morphology.options[0]
    panel.bio.template.value = FIT
    fit, fields = _fit(), panel.bio.params.fields
    assert fields["e_pas"].value == fit["passive"][0]["e_pas"] and panel.bio.units["e_pas"] == "mV"
    assert fields["ra"].value == 138.28 and fields["cm apic"].value == 2.12
    nats = [g["value"] for g in fit["genome"] if g["name"] == "gbar_NaTs" and g["section"] == "soma"]
    assert fields["soma gbar_NaTs"].value == nats[0] and fields["soma ena"].value == 53.0
    assert panel.bio.processing.value == "aibs_perisomatic"
    panel.bio.template.value = "ctdb/318331342_fit.json"  # all-active: ra only in "passive"
    assert panel.bio.processing.value == "aibs_allactive" and "soma g_pas" in panel.bio.params.fields
    panel.bio.template.value = FIT

    # unchanged: the file's name; changed: an edited copy, in memory (no file written)
    panel.bio.morphology.value = "Scnn1a_473845048_m.swc"
    assert panel.add_population(), panel.error
    assert "dynamics_params='ctdb/472363762_fit.json'" in panel.code and "fit_exc" not in panel.code
    panel.pop_name.value = "warm"
    panel.bio.params.fields["e_pas"].value = -70.0
    panel.bio.params.fields["soma gbar_NaTs"].value = 0.5
    assert panel.add_population(), panel.error
    assert "fit_warm['passive'][0]['e_pas'] = -70.0  # e_pas" in panel.code
    network = panel.build()
    dyn = network.nodes["v1"].node_types.set_index("pop_name")["dynamics_params"]
    warm = ast.literal_eval(str(dyn["warm"]))
    assert warm["passive"][0]["e_pas"] == -70.0 and dyn["exc"] == FIT
    fit["passive"][0]["e_pas"] = -70.0
    for g in fit["genome"]:
        if g["name"] == "gbar_NaTs" and g["section"] == "soma":
            g["value"] = 0.5
    assert warm == fit  # the file with exactly the two edits

    # NeuroML cells: the template names the file, NEURON reads its values
    panel.pop_name.value = "nml"
    panel.bio.template.value = "nml/Cell_472363762.cell.nml"
    assert panel.bio.processing.disabled and not panel.bio.params.fields
    assert panel.add_population(), panel.error
    assert "model_template='nml:nml/Cell_472363762.cell.nml'" in panel.code


def test_edge_form_onto_biophysical_cells():
    panel = BuilderPanel("v1", seed=1, plots=False, components=COMPONENTS)
    _bio_population(panel, "exc", "e", FIT, "Scnn1a_473845048_m.swc")
    _bio_population(panel, "inh", "i", "ctdb/472912177_fit.json", "Pvalb_470522102_m.swc")
    panel.source.value, panel.target.value = "exc", "inh"
    assert panel.bio_syn.layout.display == "" and panel.synapse.layout.display == "none"
    assert panel.bio_syn.model.value == "AMPA_ExcToInh.json"
    ampa = json.loads((COMPONENTS / "synaptic_models" / "AMPA_ExcToInh.json").read_text())
    values = {k: w.value for k, w in panel.bio_syn.params.fields.items()}
    assert values == {k: ampa[k] for k in ("tau1", "tau2", "erev")}
    assert panel.syn_weight.value == 0.0005  # µS, not NEST's 1 pA
    assert panel.add_edges(), panel.error
    assert ("model_template='exp2syn', dynamics_params='AMPA_ExcToInh.json', "
            "target_sections=['somatic', 'basal'], distance_range=[0.0, 10000.0])") in panel.code
    # from an inhibitory population: GABA, and the weight stays positive (the sign is erev's)
    panel.source.value, panel.target.value = "inh", "exc"
    assert panel.bio_syn.model.value == "GABA_InhToExc.json" and panel.bio_syn.params.fields["erev"].value == -70.0
    assert panel.syn_weight.value > 0 and panel.sign_warning() == ""
    panel.syn_weight.value = -0.0005
    assert "Exp2Syn" in panel.sign_warning() and "mk-sign-warning" in panel.sign_note.value
    panel.syn_weight.value = 0.0005
    panel.bio_syn.params.fields["tau2"].value = 20.0
    panel.bio_syn.sections.value = ("somatic",)
    assert panel.bio_syn.template.value == "exp2syn"  # the file's level_of_detail
    panel.bio_syn.template.value = "expsyn"
    assert panel.add_edges(), panel.error
    assert "model_template='expsyn', dynamics_params={" in panel.code
    assert ("dynamics_params={'level_of_detail': 'exp2syn', 'tau1': 2.7, 'tau2': 20.0, 'erev': -70.0}, "
            "target_sections=['somatic']") in panel.code
    # onto a NEST population the NEST synapse form is back
    panel.pop_name.value, panel.model_type.value = "point", "point_neuron"
    assert panel.add_population(), panel.error
    panel.target.value = "point"
    assert panel.synapse.layout.display == "" and panel.bio_syn.layout.display == "none"
    assert panel.syn_weight.value == -1.0  # NEST's pA again, negative from inh (NEST's sign rule)
    assert panel.simulate() is None and "do not run in one simulation" in panel.error


def test_simulate_biophysical_network_in_neuron(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = BuilderPanel("v1", seed=2, components=COMPONENTS)
    _bio_population(panel, "exc", "e", FIT, "Scnn1a_473845048_m.swc")
    panel.bio.template.value = "ctdb/472912177_fit.json"
    panel.bio.params.fields["e_pas"].value = -75.0  # edited: reaches NEURON in memory
    _bio_population(panel, "inh", "i", "ctdb/472912177_fit.json", "Pvalb_470522102_m.swc")
    panel.source.value, panel.target.value, panel.rule.value = "exc", "inh", "fixed probability"
    panel.rule_params.fields["p"].value = 0.5
    assert panel.add_edges(), panel.error
    panel.source.value, panel.target.value = "inh", "exc"
    assert panel.add_edges(), panel.error
    assert panel.sim.weight.value == INPUT_WEIGHT["biophysical"]
    panel.sim.tstop.value = 200.0
    run_panel, raster, spikes = simulate_and_wait(panel, 300)
    assert run_panel.run.result.backend == "neuron"
    assert len(spikes) > 0
    assert set(np.unique(spikes.node_ids)) & {0, 1, 2} and set(np.unique(spikes.node_ids)) & {3, 4, 5}
    assert sorted(os.listdir(tmp_path)) == ["output"]  # no parameter file written, only the run's output
    assert "'components': {'morphologies_dir': " in panel.code and "fit_inh['passive'][0]['e_pas'] = -75.0" \
        in panel.code

    ids, ts = np.array(spikes.node_ids), np.array(spikes.timestamps)
    ns: dict = {}
    exec(panel.code, ns)  # a new cell: the same network and, seeded alike, the same spikes
    assert ns["run_panel"].wait(300) == "done", ns["run_panel"].error
    again = read_spikes(ns["run_panel"].run.result.spikes_file)["v1"]
    np.testing.assert_array_equal(again.node_ids, ids)
    np.testing.assert_array_equal(again.timestamps, ts)


def test_the_forms_never_import_neuron():
    """Templates, fits and synaptic models are JSON read in the kernel; NEURON runs in the run's child process."""
    import subprocess
    import sys
    code = ("import sys; from modelkit.widgets import BuilderPanel; "
            f"p = BuilderPanel('v1', plots=False, components={str(COMPONENTS)!r}); "
            f"p.model_type.value = 'biophysical'; p.bio.template.value = {FIT!r}; "
            "p.bio.params.fields['e_pas'].value = -70.0; assert p.add_population(), p.error; "
            "p.source.value = p.target.value = 'exc'; assert p.add_edges(), p.error; "
            "assert 'neuron' not in sys.modules, 'NEURON was imported in the kernel'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_without_a_components_folder_the_form_says_what_is_missing(tmp_path):
    panel = BuilderPanel("v1", seed=1, plots=False)
    panel.model_type.value = "biophysical"
    assert "give a components folder" in panel.bio.params.title.value
    assert not panel.add_population() and "no template chosen" in panel.error and "not given" in panel.error
    panel.bio.components.value = str(tmp_path)  # a folder without bmtk's layout
    assert f"no templates in {tmp_path}" in panel.bio.params.title.value
    assert not panel.add_population() and panel.code.count("add_nodes") == 0
    panel.bio.components.value = str(COMPONENTS)
    assert panel.add_population(), panel.error
