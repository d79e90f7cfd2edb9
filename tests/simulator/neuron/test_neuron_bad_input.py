"""Bad input to the NEURON backend: every error is a ModelkitError naming the file and the cell."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelkit.errors import ModelkitError
from modelkit.simulator.run import simulate

BIO_1CELL = ("bio_1cell", "config.simulation_iclamp.json")
NODE_TYPES_HEADER = "node_type_id pop_name morphology model_template model_type model_processing dynamics_params"


@pytest.fixture
def one_cell(tmp_path: Path, corpus: Path, bmtk_config):
    """``f(node_type_row, fit=None) -> config``: bio_1cell with its node-types row replaced (and a fit file)."""
    def make(row: str, fit: dict | None = None, **components: str) -> Path:
        net = tmp_path / "network"
        shutil.copytree(corpus / "bmtk" / "examples" / "bio_1cell" / "network", net)
        (net / "biocell_node_types.csv").write_text(f"{NODE_TYPES_HEADER}\n{row}\n")
        templates = tmp_path / "templates"
        shutil.copytree(corpus / "bmtk" / "examples" / "bio_components" / "biophysical_neuron_templates" / "ctdb",
                        templates)
        if fit is not None:
            (templates / "bad_fit.json").write_text(json.dumps(fit))
        comps = {"biophysical_neuron_models_dir": str(templates),
                 "morphologies_dir": str(corpus / "bmtk" / "examples" / "bio_components" / "morphologies")}
        cfg = bmtk_config(*BIO_1CELL, **{**comps, **components})
        d = json.loads(cfg.read_text())
        d["manifest"]["$NETWORK_DIR"] = str(net)
        cfg.write_text(json.dumps(d))
        return cfg
    return make


def _scnn1a_fit(corpus: Path) -> dict:
    path = corpus / "bmtk" / "examples" / "bio_components" / "biophysical_neuron_templates" / "ctdb"
    return json.loads((path / "472363762_fit.json").read_text())


def test_missing_morphology(one_cell) -> None:
    cfg = one_cell("100 Scnn1a no_such_cell.swc ctdb:Biophys1.hoc biophysical aibs_perisomatic 472363762_fit.json")
    with pytest.raises(ModelkitError, match=r"no_such_cell\.swc.*biocell node_type_id 100 \(node 0\)"):
        simulate(str(cfg), progress=False)


def test_unknown_mechanism_in_dynamics_params(one_cell, corpus: Path) -> None:
    fit = _scnn1a_fit(corpus)
    fit["genome"][3]["mechanism"] = "NoSuchChannel"
    cfg = one_cell("100 Scnn1a Scnn1a_473845048_m.swc ctdb:Biophys1.hoc biophysical aibs_perisomatic bad_fit.json",
                   fit)
    with pytest.raises(ModelkitError, match=r"bad_fit\.json: genome\[3\]\.mechanism.*biocell.*node 0.*"
                                            r"NoSuchChannel"):
        simulate(str(cfg), progress=False)


def test_parameter_section_the_morphology_lacks(one_cell) -> None:
    # the Scnn1a fit sets apical parameters; the Pvalb morphology has no apical dendrite
    cfg = one_cell("100 PV Pvalb_470522102_m.swc ctdb:Biophys1.hoc biophysical aibs_perisomatic "
                   "472363762_fit.json")
    with pytest.raises(ModelkitError, match=r"472363762_fit\.json: genome.*biocell.*node 0.*Pvalb_470522102_m\.swc"
                                            r".*\['apic'\]"):
        simulate(str(cfg), progress=False)


def test_unknown_section_name_in_parameter_file(one_cell, corpus: Path) -> None:
    fit = _scnn1a_fit(corpus)
    fit["genome"][0]["section"] = "dendrite"
    cfg = one_cell("100 Scnn1a Scnn1a_473845048_m.swc ctdb:Biophys1.hoc biophysical aibs_perisomatic bad_fit.json",
                   fit)
    with pytest.raises(ModelkitError, match=r"bad_fit\.json: genome\[0\]\.section.*'dendrite'"):
        simulate(str(cfg), progress=False)


def test_mod_file_that_fails_to_compile(one_cell, tmp_path: Path) -> None:
    mech = tmp_path / "broken_mechanisms"
    mech.mkdir()
    (mech / "broken.mod").write_text("NEURON { SUFFIX broken_modelkit_test }\nBREAKPOINT { this is not NMODL }\n")
    cfg = one_cell("100 Scnn1a Scnn1a_473845048_m.swc ctdb:Biophys1.hoc biophysical aibs_perisomatic "
                   "472363762_fit.json", mechanisms_dir=str(mech))
    with pytest.raises(ModelkitError, match=r"broken_mechanisms: components\.mechanisms_dir.*nrnivmodl exit status"
                                            r"(.|\n)*broken") as err:
        simulate(str(cfg), progress=False)
    print(str(err.value)[:2000])
