"""Current clamps in NEST: bmtk's reading (amp handed to NEST unchanged, i.e. pA) by default, with bmtk's
spikes; SONATA's nA reading by ``amp_units``, the ``clamp_units`` option or ``modelkit run --clamp-units``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.errors import ConfigError
from modelkit.options import set_options
from modelkit.simulator import simulate
from modelkit.sonata import CompartmentReport, read_spikes
from modelkit.testing import copy_bmtk_examples

CHILD = Path(__file__).with_name("bmtk_pointnet_child.py")
REPO = Path(__file__).resolve().parents[3]


def _bmtk(config: Path, out: Path) -> dict:
    subprocess.run([sys.executable, str(CHILD), str(config), str(out)], cwd=config.parent, check=True,
                   capture_output=True, timeout=600)
    return read_spikes(out / "spikes.h5")


def _assert_same_spikes(ours: dict, ref: dict) -> None:
    assert sorted(p for p in ours if len(ours[p])) == sorted(p for p in ref if len(ref[p]))
    for pop, b in ref.items():
        a = ours[pop]
        assert len(a) == len(b), pop
        oa, ob = np.lexsort((a.timestamps, a.node_ids)), np.lexsort((b.timestamps, b.node_ids))
        np.testing.assert_array_equal(a.node_ids[oa], b.node_ids[ob])
        np.testing.assert_allclose(a.timestamps[oa], b.timestamps[ob], rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return copy_bmtk_examples(tmp_path_factory.mktemp("ex"), "point_stdp", "point_iclamp")


def test_point_stdp_iclamp_gives_bmtks_spikes_and_logs_the_unit(examples, tmp_path):
    """380-600 pA pulses (bmtk's reading): bmtk's 369 + 703 spikes, identical; the log names the unit."""
    cfg = examples / "point_stdp" / "config.simulation_iclamp.json"
    ref = _bmtk(cfg, tmp_path / "bmtk")
    res = simulate(cfg, output_dir=tmp_path / "mk", progress=False)
    ours = read_spikes(res.spikes_file)
    _assert_same_spikes(ours, ref)
    assert len(ours["sources"]) == 369 and len(ours["targets"]) == 703
    log = open(res.log_file).read()
    assert "input current_clamp_steps: current clamp amplitudes in pA" in log
    assert "input current_clamp_1: current clamp amplitudes in pA" in log


@pytest.mark.parametrize("name", ["config.simulation_iclamp.json", "config.simulation_iclamp.csv.json"])
def test_point_iclamp_membrane_potential_matches_bmtk(examples, tmp_path, name):
    """The 0.15-0.2 'nA' pulses of point_iclamp are pA in bmtk: the same V_m, sample for sample, within
    bmtk's rounding of V_m to 0.001 mV (modelkit writes float32); read as nA they would be 6-8 mV."""
    cfg = examples / "point_iclamp" / name
    _bmtk(cfg, tmp_path / "bmtk")
    res = simulate(cfg, output_dir=tmp_path / "mk", progress=False)
    a = CompartmentReport(res.reports["membrane_potential"])["cortex"]
    with h5py.File(tmp_path / "bmtk" / "membrane_potential.h5", "r") as h5:  # bmtk's mapping/time is one short
        b_ids = h5["report/cortex/mapping/node_ids"][()]
        vb = h5["report/cortex/data"][()]
    np.testing.assert_array_equal(a.node_ids, b_ids)
    va = a.data()[:len(vb)]  # both sample from 0.01 ms every 0.01 ms; bmtk stops one sample early
    np.testing.assert_allclose(va, vb, rtol=0, atol=5.1e-4)
    assert 0.001 < va.max() - va.min() < 0.05  # pA pulses: a few µV, not the 6-8 mV of nA


def test_nA_reading_by_key_option_and_cli(examples, tmp_path):
    """amp_units: "nA" on the input, set_options(clamp_units="nA") and --clamp-units nA read SONATA's nA:
    0.38-0.6 µA into an iaf_psc_delta fires at ~350 Hz (modelkit's old reading)."""
    src = examples / "point_stdp" / "config.simulation_iclamp.json"
    d = json.loads(src.read_text())
    for e in d["inputs"].values():
        e["amp_units"] = "nA"
    keyed = src.with_name("config.keyed.json")
    keyed.write_text(json.dumps(d))
    a = read_spikes(simulate(keyed, output_dir=tmp_path / "a", progress=False).spikes_file)
    with set_options(clamp_units="nA"):
        b = read_spikes(simulate(src, output_dir=tmp_path / "b", progress=False).spikes_file)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "modelkit", "run", str(src), "--output", str(tmp_path / "c"), "--quiet",
                    "--clamp-units", "nA"], check=True, env=env, capture_output=True, timeout=600)
    c = read_spikes(tmp_path / "c" / "spikes.h5")
    assert len(a["sources"]) == 3485 and len(a["targets"]) == 5476
    _assert_same_spikes(b, a)
    _assert_same_spikes(c, a)
    assert "amplitudes in nA (inputs.current_clamp_1.amp_units)" in open(tmp_path / "a" / "log.txt").read()
    assert "amplitudes in nA (the clamp_units option)" in open(tmp_path / "c" / "log.txt").read()


def test_bad_amp_units_names_the_key(examples, tmp_path):
    src = examples / "point_stdp" / "config.simulation_iclamp.json"
    d = json.loads(src.read_text())
    d["inputs"]["current_clamp_1"]["amp_units"] = "mA"
    bad = src.with_name("config.bad_units.json")
    bad.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match=r"inputs\.current_clamp_1\.amp_units"):
        simulate(bad, output_dir=tmp_path / "o", progress=False)
