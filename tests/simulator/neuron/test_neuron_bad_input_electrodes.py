"""More bad input to the NEURON backend (synapse sections, NeuroML files, electrodes): each error is a
ModelkitError naming the file and the cell or config key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import pytest

from modelkit.errors import ModelkitError
from modelkit.simulator.run import simulate


def _config(bmtk_config, name: str, edit) -> Path:
    cfg = bmtk_config("bio_1cell", name)
    d = json.loads(cfg.read_text())
    d["run"]["tstop"] = 5.0
    edit(d)
    cfg.write_text(json.dumps(d))
    return cfg


def test_afferent_section_the_morphology_lacks(bmtk_config, corpus: Path, tmp_path: Path) -> None:
    net = tmp_path / "network"
    shutil.copytree(corpus / "bmtk" / "examples" / "bio_1cell" / "network", net)
    with h5py.File(net / "virt_biocell_edges.h5", "r+") as f:
        f["edges/virt_to_biocell/0/afferent_section_id"][0] = 5000
    cfg = _config(bmtk_config, "config.simulation_syns.json",
                  lambda d: d["manifest"].__setitem__("$NETWORK_DIR", str(net)))
    with pytest.raises(ModelkitError, match=r"virt_biocell_edges\.h5.*afferent_section_id.*biocell\[0\].*"
                                            r"Scnn1a_473845048_m\.swc.*5000"):
        simulate(str(cfg), progress=False)


def test_missing_neuroml_file(bmtk_config, corpus: Path, tmp_path: Path) -> None:
    net = tmp_path / "network"
    shutil.copytree(corpus / "bmtk" / "examples" / "bio_1cell" / "network", net)
    types = net / "biocell_node_types.csv"
    types.write_text(types.read_text().replace("nml:Cell_472363762.cell.nml", "nml:no_such.cell.nml"))
    cfg = _config(bmtk_config, "config.simulation_iclamp.json",
                  lambda d: d["manifest"].__setitem__("$NETWORK_DIR", str(net)))
    with pytest.raises(ModelkitError, match=r"no_such\.cell\.nml.*biocell node_type_id 100 \(node 0\).*"
                                            r"model_template"):
        simulate(str(cfg), progress=False)


def test_seclamp_on_a_section_the_morphology_lacks(bmtk_config) -> None:
    def edit(d: dict) -> None:
        d["inputs"] = {"vc": {"input_type": "current_clamp", "module": "SEClamp", "node_set": "biocell",
                              "amps": [-70, -70, -70], "durations": [5, 0, 0], "section_name": "apic",
                              "section_index": 999}}
    with pytest.raises(ModelkitError, match=r"Scnn1a_473845048_m\.swc.*SEClamp: section apic\[999\].*biocell\[0\]"):
        simulate(str(_config(bmtk_config, "config.simulation_iclamp.json", edit)), progress=False)


def test_xstim_electrode_inside_the_cell(bmtk_config, tmp_path: Path) -> None:
    pos = tmp_path / "stim.csv"
    pos.write_text("pos_x pos_y pos_z\n0 -100 0\n")  # at the soma

    def edit(d: dict) -> None:
        d["inputs"] = {"xs": {"input_type": "lfp", "module": "xstim", "positions_file": str(pos),
                              "waveform": {"shape": "dc", "del": 1.0, "dur": 2.0, "amp": 0.1}}}
    with pytest.raises(ModelkitError, match=r"stim\.csv.*inputs\.xs: cell biocell\[0\].*at least 10"):
        simulate(str(_config(bmtk_config, "config.simulation_iclamp.json", edit)), progress=False)


@pytest.mark.parametrize("text, message", [("x y z\n1 2 3\n", r"electrodes\.csv.*x_pos, y_pos, z_pos"),
                                           (None, r"electrodes\.csv.*no such file")])
def test_ecp_electrode_file(bmtk_config, tmp_path: Path, text: str | None, message: str) -> None:
    el = tmp_path / "electrodes.csv"
    if text is not None:
        el.write_text(text)

    def edit(d: dict) -> None:
        d["reports"]["ecp"] = {"module": "extracellular", "electrode_positions": str(el), "variable_name": "v"}
    with pytest.raises(ModelkitError, match=message):
        simulate(str(_config(bmtk_config, "config.simulation_iclamp.json", edit)), progress=False)


def test_unknown_xstim_waveform_shape(bmtk_config, tmp_path: Path) -> None:
    pos = tmp_path / "stim.csv"
    pos.write_text("pos_x pos_y pos_z\n500 500 500\n")

    def edit(d: dict) -> None:
        d["inputs"] = {"xs": {"input_type": "lfp", "module": "xstim", "positions_file": str(pos),
                              "waveform": {"shape": "square", "del": 1.0, "dur": 2.0, "amp": 0.1}}}
    with pytest.raises(ModelkitError, match=r"inputs\.xs\.waveform\.shape.*dc or sin.*square"):
        simulate(str(_config(bmtk_config, "config.simulation_iclamp.json", edit)), progress=False)


def test_clamp_report_of_an_unknown_kind(bmtk_config) -> None:
    def edit(d: dict) -> None:
        d["reports"] = {"clamps": {"module": "clamp_report", "variable_name": "vc"}}
    with pytest.raises(ModelkitError, match=r"reports\.clamps\.variable_name.*se \(SEClamp\), ic.*'vc'"):
        simulate(str(_config(bmtk_config, "config.simulation_iclamp.json", edit)), progress=False)
