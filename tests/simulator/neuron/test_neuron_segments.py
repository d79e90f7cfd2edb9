"""Segmentation: bmtk's dL rule (20 µm when the run block has none, as bmtk), checked against the segments
bmtk builds, and NEURON's d_lambda rule, checked against NEURON's own ``lambda_f``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from modelkit.simulator import simulate
from modelkit.simulator.neuron.mechanisms import compile_mechanisms, import_neuron
from modelkit.simulator.neuron.morphology import read_swc, segments_per_section

CHILD = Path(__file__).with_name("bmtk_child.py")


def _mapping(out: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(out / "all_v.h5") as f:
        m = f["report/biocell/mapping"]
        return m["element_ids"][:], m["element_pos"][:]


def test_dl_segments_match_bmtk(bmtk_config, tmp_path: Path) -> None:
    """Every section's segments (the all-segment report's element ids and positions) as bmtk builds them, for
    dL = 6 µm and for a run block without dL."""
    cfg = bmtk_config("bio_1cell", "config.simulation_iclamp.json")
    d = json.loads(cfg.read_text())
    d["run"].update(tstop=1.0, dL=6.0)
    d["reports"] = {"all_v": {"cells": [0], "variable_name": "v", "module": "membrane_report", "sections": "all",
                              "file_name": "all_v.h5"}}
    d["output"]["output_dir"] = str(tmp_path / "bmtk")
    cfg.write_text(json.dumps(d))
    r = subprocess.run([sys.executable, str(CHILD), str(cfg), compile_mechanisms(d["components"]["mechanisms_dir"])],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    theirs = _mapping(tmp_path / "bmtk")
    runs = {}
    for name, dl in (("fine", 6.0), ("default", None), ("twenty", 20.0)):
        d["run"].pop("dL", None)
        if dl is not None:
            d["run"]["dL"] = dl
        d["output"]["output_dir"] = str(tmp_path / name)
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
        simulate(str(tmp_path / f"{name}.json"), progress=False)
        runs[name] = _mapping(tmp_path / name)
    assert len(theirs[0]) > 2 * len(runs["twenty"][0])  # dL = 6 µm really splits the sections
    assert np.array_equal(runs["fine"][0], theirs[0]) and np.allclose(runs["fine"][1], theirs[1], atol=1e-6)
    assert np.array_equal(runs["default"][0], runs["twenty"][0])  # no dL: bmtk's 20 µm


def test_d_lambda_matches_neuron(corpus: Path) -> None:
    h = import_neuron()
    swc = corpus / "bmtk" / "examples" / "bio_components" / "morphologies" / "Scnn1a_473845048_m.swc"
    table, _ = read_swc(h, str(swc), "test")
    ra = np.where(table.types == 1, 100.0, 138.0)  # Ω·cm per section, different on the soma
    cm = np.where(table.types == 4, 2.0, 1.0)      # µF/cm² per section, doubled on apical dendrites
    got = segments_per_section(table, None, 0.05, 250.0, ra, cm)
    cell = table.instantiate(h, "dlambda")
    want = []
    for sec, r, c in zip(cell.sections, ra.tolist(), cm.tolist()):
        sec.Ra, sec.cm = r, c
        want.append(int((sec.L / (0.05 * h.lambda_f(250.0, sec=sec)) + 0.9) / 2) * 2 + 1)
    assert np.array_equal(got, want)
    assert np.max(got) > 3  # a rule that splits some sections
    # with dL too, the finer of the two rules
    assert np.array_equal(segments_per_section(table, 5.0, 0.05, 250.0, ra, cm),
                          np.maximum(got, segments_per_section(table, 5.0)))
