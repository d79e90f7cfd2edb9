"""bio_all_active_sweep: the current clamp of an Allen NWB sweep (``input_type: allen``) in NEURON. The
example's ephys file is not in the suite: the run names it and the config key; with a synthetic sweep in its
place the all-active cell gives bmtk's spikes."""

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
from modelkit.sonata import read_spikes
from modelkit.testing import copy_bmtk_examples, write_allen_sweep

CHILD = Path(__file__).with_name("bmtk_child.py")
NAMES = ["config.simulation.491766131_stubaxon.sweep35.json", "config.simulation.491766131_fullaxon.sweep35.json"]


@pytest.mark.parametrize("name", NAMES)
def test_absent_sweep_file_names_file_and_key(tmp_path: Path, name: str) -> None:
    root = copy_bmtk_examples(tmp_path / "ex", "bio_all_active_sweep") / "bio_all_active_sweep"
    with pytest.raises(ConfigError, match=r"inputs\.current_clamp_nwb\.file.*ephys_inputs/488683423_ephys\.nwb"):
        simulate(root / name, output_dir=tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_synthetic_sweep_gives_bmtks_spikes(tmp_path: Path) -> None:
    from modelkit.simulator.neuron.mechanisms import compile_mechanisms
    root = copy_bmtk_examples(tmp_path / "ex", "bio_all_active_sweep") / "bio_all_active_sweep"
    (root / "ephys_inputs").mkdir()
    write_allen_sweep(root / "ephys_inputs" / "488683423_ephys.nwb", sweep=35, rate=50_000.0, pulse=(0.02, 0.22),
                      amp_a=2.5e-10, duration_s=0.3)
    src = root / NAMES[0]
    d = json.loads(src.read_text())
    d["run"]["tstop"] = 300.0  # the sweep's 200 ms pulse and some rest (the example runs 3 s)
    d["components"]["mechanisms_dir"] = "$MODEL_DIR/modfiles"  # the mod files themselves (bmtk's layout aside)
    lib = compile_mechanisms(str(root / "models" / "neuronal_model_491766131" / "modfiles"))
    d["output"]["output_dir"] = str(tmp_path / "bmtk")
    cfg = root / "config.short.json"
    cfg.write_text(json.dumps(d))
    r = subprocess.run([sys.executable, str(CHILD), str(cfg), lib], capture_output=True, text=True, timeout=600,
                       cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]
    res = simulate(cfg, output_dir=tmp_path / "mk", progress=False)
    a = read_spikes(res.spikes_file)["bio_stubaxon"]
    b = read_spikes(tmp_path / "bmtk" / "spikes.h5")["bio_stubaxon"]
    assert len(a) == len(b) > 3
    np.testing.assert_allclose(np.sort(a.timestamps), np.sort(b.timestamps), rtol=0, atol=1e-6)
    assert a.timestamps.min() > 20.0 and a.timestamps.max() < 225.0
    with h5py.File(tmp_path / "bmtk" / "membrane_potential.h5") as f:
        vb = f["report/bio_stubaxon/data"][:, 0]
    with h5py.File(tmp_path / "mk" / "membrane_potential.h5") as f:
        va = f["report/bio_stubaxon/data"][:, 0]
    n = min(len(va), len(vb))
    dts = np.abs(np.sort(a.timestamps) - np.sort(b.timestamps)).max()
    print(f"allen sweep: {len(a)} spikes (bmtk {len(b)}), max |dt| {dts:.2e} ms, "
          f"max |v - v_bmtk| {np.abs(va[:n] - vb[:n]).max():.2e} mV")  # 4 spikes, 0 ms, 5.7e-4 mV
    assert np.abs(va[:n] - vb[:n]).max() < 2e-3  # mV: the same trace (modelkit writes float32)
