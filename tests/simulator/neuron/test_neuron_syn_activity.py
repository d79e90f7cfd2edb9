"""bio_advanced_stimuli's syn_activity input (bmtk's spontaneous synapses): the synapses of the activator cell
(model_name Scnn1a) fire at the config's timestamps; modelkit's soma traces equal bmtk's (run shortened)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.testing import copy_bmtk_examples

CHILD = Path(__file__).with_name("bmtk_child.py")


def _config(tmp_path: Path, **inp) -> Path:
    root = copy_bmtk_examples(tmp_path / "ex", "bio_advanced_stimuli") / "bio_advanced_stimuli"
    d = json.loads((root / "config.simulation_spont_activity.json").read_text())
    d["run"]["tstop"] = 1100.0  # two of the seven timestamps (the example runs 4 s)
    d["components"]["mechanisms_dir"] = "$COMPONENT_DIR/mechanisms/modfiles"  # the mod files themselves
    # the example reports node set "biophys_cells", which no node-sets file defines (bmtk skips the report)
    d["reports"] = {"v": {"cells": {"population": "bio"}, "variable_name": "v", "module": "membrane_report",
                          "file_name": "v.h5", "sections": "soma"}}
    d["inputs"]["syn_activity"].update(inp)
    cfg = root / "config.short.json"
    cfg.write_text(json.dumps(d))
    return cfg


def _twin(cfg: Path, tmp_path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    from modelkit.simulator.neuron.mechanisms import compile_mechanisms
    lib = compile_mechanisms(str(cfg.parent.parent / "bio_components" / "mechanisms" / "modfiles"))
    d = json.loads(cfg.read_text())
    d["output"]["output_dir"] = str(tmp_path / "bmtk")
    b = cfg.with_name("config.bmtk.json")
    b.write_text(json.dumps(d))
    r = subprocess.run([sys.executable, str(CHILD), str(b), lib], capture_output=True, text=True, timeout=600,
                       cwd=cfg.parent)
    assert r.returncode == 0, r.stderr[-3000:]
    res = simulate(cfg, output_dir=tmp_path / "mk", progress=False)
    with h5py.File(tmp_path / "bmtk" / "v.h5") as f:
        vb = f["report/bio/data"][()]
    with h5py.File(tmp_path / "mk" / "v.h5") as f:
        va = f["report/bio/data"][()]
    return va, vb, open(res.log_file).read()


@pytest.mark.parametrize("post, n_syn", [({}, 45), ({"model_name": ["Rorb", "PV1"]}, None)])
def test_spontaneous_synapses_match_bmtk(tmp_path: Path, post: dict, n_syn: int | None) -> None:
    cfg = _config(tmp_path, **({"postcell_filter": post} if post else {}))
    va, vb, log = _twin(cfg, tmp_path)
    assert va.shape == vb.shape == (11000, 5)
    np.testing.assert_allclose(va, vb, rtol=0, atol=1e-4)  # mV (modelkit writes float32)
    rise = vb[5100] - vb[4990]  # 10 ms after the 500 ms event (2 ms delay) against just before it
    driven = rise > 0.5
    assert driven.any() and (~driven).any() if post else driven.sum() >= 3
    if n_syn:
        assert f"input syn_activity: {n_syn} synapses fire at 7 timestamps" in log


def test_bad_filter_names_the_key(tmp_path: Path) -> None:
    cfg = _config(tmp_path, precell_filter={"layer": "L4"})
    with pytest.raises(ConfigError, match=r"inputs\.syn_activity\.precell_filter\.layer"):
        simulate(cfg, output_dir=tmp_path / "o", progress=False)
