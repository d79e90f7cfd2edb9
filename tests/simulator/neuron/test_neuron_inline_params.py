"""Inline ``dynamics_params`` (a dict, as a builder or the BuilderPanel gives it) in NEURON: an Allen fit for a
biophysical node type and a synaptic model for an edge type, in memory, without writing a parameter file.

The inline copy of a file runs exactly as the file; an edited ``e_pas`` or ``gbar`` changes the cell, an
edited ``erev`` the synapse. bmtk's components are read in place (shared/bmtk-examples/bio_components).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelkit.builder import AllToAll, NetworkBuilder
from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.sonata import CompartmentReport, Network
from modelkit.testing import shared_path

COMPONENTS = shared_path("bmtk-examples", "bio_components")
FIT = "ctdb/472363762_fit.json"  # Scnn1a, perisomatic


def _fit() -> dict[str, Any]:
    return json.loads((COMPONENTS / "biophysical_neuron_templates" / FIT).read_text())


def _run(tmp: Path, params: Any, syn: Any = "AMPA_ExcToExc.json", weight: float = 0.002,
         amp: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Soma v (mV, every step) and spike times (ms) of one Scnn1a cell driven by one virtual source."""
    cells = NetworkBuilder("cells", seed=1)
    cells.add_nodes(N=1, pop_name="Scnn1a", model_type="biophysical", model_template="ctdb:Biophys1.hoc",
                    model_processing="aibs_perisomatic", morphology="Scnn1a_473845048_m.swc", dynamics_params=params)
    drive = NetworkBuilder("drive", seed=1)
    drive.add_nodes(N=1, model_type="virtual")
    drive.add_edges(target=cells.nodes(), connection_rule=AllToAll(), syn_weight=weight, delay=1.0,
                    model_template="exp2syn", dynamics_params=syn, afferent_section_id=0, afferent_section_pos=0.5)
    spikes = tmp.parent / "drive.csv"
    spikes.write_text("timestamps population node_ids\n" + "".join(f"{t} drive 0\n" for t in (20.0, 22.0, 24.0, 26.0)))
    c = str(COMPONENTS)
    cfg = {"run": {"tstop": 80.0, "dt": 0.1},
           "components": {"morphologies_dir": f"{c}/morphologies", "mechanisms_dir": f"{c}/mechanisms",
                          "biophysical_neuron_models_dir": f"{c}/biophysical_neuron_templates",
                          "synaptic_models_dir": f"{c}/synaptic_models"},
           "inputs": {"drive": {"input_type": "spikes", "module": "csv", "input_file": str(spikes),
                                "node_set": "drive"}},
           "reports": {"v": {"cells": {"population": "cells"}, "variable_name": "v", "module": "membrane_report",
                             "sections": "soma", "file_name": "v.h5"}}}
    if amp:
        cfg["inputs"]["step"] = {"input_type": "current_clamp", "module": "IClamp", "node_set": "cells",
                                 "amp": amp, "delay": 40.0, "duration": 30.0}
    net = Network({**cells.build().nodes, **drive.build().nodes}, dict(drive.build().edges))
    res = simulate(cfg, network=net, output_dir=tmp, progress=False, overwrite=True)
    v = CompartmentReport(res.reports["v"])["cells"].data()[:, 0]
    sp = res.spikes().get("cells")
    return v, (np.asarray(sp.timestamps) if sp is not None else np.zeros(0))


def test_inline_fit_equals_file_and_edits_change_the_cell(tmp_path: Path) -> None:
    v_file, s_file = _run(tmp_path / "file", FIT, amp=0.3)
    assert len(s_file) > 0  # the step makes it fire (else the gbar check below says nothing)
    v_same, s_same = _run(tmp_path / "same", _fit(), amp=0.3)
    assert np.array_equal(v_same, v_file) and np.array_equal(s_same, s_file)
    # e_pas 10 mV higher: the resting potential before any input rises
    warm = _fit()
    warm["passive"][0]["e_pas"] += 10.0
    v_warm, _ = _run(tmp_path / "warm", warm, amp=0.3)
    assert v_warm[150] - v_file[150] > 2.0  # mV, at 15 ms
    # no transient sodium in the soma: the step no longer fires the cell
    quiet = _fit()
    (g,) = [g for g in quiet["genome"] if g["name"] == "gbar_NaTs" and g["section"] == "soma"]
    g["value"] = 0.0
    _, s_quiet = _run(tmp_path / "quiet", quiet, amp=0.3)
    assert len(s_quiet) == 0
    # the saved form of a builder's dict (a Python literal in the types table) reads the same
    v_text, _ = _run(tmp_path / "text", repr(warm), amp=0.3)
    assert np.array_equal(v_text, v_warm)


def test_inline_synapse_params(tmp_path: Path) -> None:
    v_file, _ = _run(tmp_path / "file", FIT)
    ampa = json.loads((COMPONENTS / "synaptic_models" / "AMPA_ExcToExc.json").read_text())
    v_same, _ = _run(tmp_path / "same", FIT, syn=dict(ampa))
    assert np.array_equal(v_same, v_file)
    # erev at -90 mV: the same synapse now hyperpolarises the cell (below rest after the first input)
    inh = copy.deepcopy(ampa)
    inh["erev"] = -90.0
    v_inh, _ = _run(tmp_path / "inh", FIT, syn=inh)
    assert v_file[250] - v_file[190] > 1.0 and v_inh[250] - v_inh[190] < -0.5  # mV, 25 ms vs 19 ms


def test_inline_fit_errors_name_the_node_type(tmp_path: Path) -> None:
    bad = _fit()
    del bad["passive"][0]["e_pas"]
    with pytest.raises(ConfigError, match=r"node_type_id.*dynamics_params.*passive\[0\]\.e_pas"):
        _run(tmp_path / "bad", bad)
