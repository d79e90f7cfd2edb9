"""``model_template: hoc:<Template>`` cells from ``components.templates_dir``: a template that reads its SWC and
sets its biophysics itself runs like the same cell given as SWC + Allen-style JSON (``ctdb:Biophys1.hoc``)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.datasets import bio_network
from modelkit.errors import ConfigError
from modelkit.simulator import simulate

# the ball-and-stick cell of modelkit.datasets.bio_network (hh_ballstick.json, aibs_allactive): Import3d reads
# the SWC ($s1), the axon is replaced by two 30-µm sections at soma(1), and the biophysics are the JSON's
TEMPLATE = """
begintemplate MkBallStick
public soma, dend, apic, axon, all, somatic, basal, apical, axonal
objref all, somatic, basal, apical, axonal, this
create soma[1], dend[1], apic[1], axon[1]
proc init() { localobj nl, i3d
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    forall delete_section()
    nl = new Import3d_SWC_read()
    nl.quiet = 1
    nl.input($s1)
    i3d = new Import3d_GUI(nl, 0)
    i3d.instantiate(this)
    stub()
    forall { insert pas  e_pas = -65  Ra = 100  cm = 1  g_pas = 1e-4 }
    forsec "soma" { active() }
    forsec "axon" { active() }
}
proc stub() { local d0, d1
    d0 = axon[0].diam
    forsec "axon" { d1 = diam }
    create axon[2]
    axon[0] { L = 30  diam = d0  all.append() }
    axon[1] { L = 30  diam = d1  all.append() }
    connect axon[0](0), soma[0](1)
    connect axon[1](0), axon[0](1)
}
proc active() {
    insert hh  gnabar_hh = 0.12  gkbar_hh = 0.036  gl_hh = 0.0003  el_hh = -54.3  g_pas = 1e-5  ena = 50  ek = -77
}
endtemplate MkBallStick
"""


def test_hoc_template_matches_the_swc_json_cell(tmp_path: Path) -> None:
    cfg = bio_network(tmp_path / "net", n_exc=1, n_inh=1, n_input=2, tstop=100.0)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "ballstick.hoc").write_text(TEMPLATE)
    from modelkit.builder import NetworkBuilder
    b = NetworkBuilder("cells")
    b.add_nodes(N=1, model_type="biophysical", model_template="ctdb:Biophys1.hoc", model_processing="aibs_allactive",
                morphology="ballstick.swc", dynamics_params="hh_ballstick.json")
    b.add_nodes(N=1, model_type="biophysical", model_template="hoc:MkBallStick", morphology="ballstick.swc")
    base = Path(cfg).parent / "components"
    run = {"run": {"tstop": 100.0, "dt": 0.025, "dL": 20.0}, "conditions": {"celsius": 6.3, "v_init": -65.0},
           "target_simulator": "NEURON",
           "components": {"morphologies_dir": str(base / "morphologies"),
                          "biophysical_neuron_models_dir": str(base / "biophysical_neuron_models"),
                          "templates_dir": str(templates)},
           "inputs": {"clamp": {"input_type": "current_clamp", "module": "IClamp", "node_set": "cells",
                                "amp": 0.3, "delay": 10.0, "duration": 80.0}},
           "reports": {"v": {"cells": "cells", "variable_name": "v", "module": "membrane_report",
                             "sections": "soma"}}}
    res = simulate({**run, "output": {"output_dir": str(tmp_path / "out")}}, network=b, progress=False)
    with h5py.File(res.reports["v"]) as f:
        v = f["report/cells/data"][:]
    print(f"hoc template vs SWC + JSON: max |dv| = {np.abs(v[:, 0] - v[:, 1]).max():.2e} mV, "
          f"{res.n_spikes['cells']} spikes")
    assert np.abs(v[:, 0] - v[:, 1]).max() < 1e-6
    assert res.n_spikes["cells"] >= 4 and res.n_spikes["cells"] % 2 == 0  # both cells fire, equally
    # a template name no .hoc file defines: an error naming the folder and the name
    b2 = NetworkBuilder("cells")
    b2.add_nodes(N=1, model_type="biophysical", model_template="hoc:NoSuchCell", morphology="ballstick.swc")
    with pytest.raises(ConfigError, match=r"templates.*hoc:NoSuchCell"):
        simulate({**run, "output": {"output_dir": str(tmp_path / "bad")}}, network=b2, progress=False)
