"""Every shipped example network builds, validates and runs in its backend with plausible activity."""

from __future__ import annotations

import os

import numpy as np
import pytest

from modelkit import validate
from modelkit.datasets import bio_network, lgn_network, population_network
from modelkit.errors import OutputExistsError
from modelkit.simulator import simulate
from modelkit.sonata import CompartmentReport, read_spikes


def _errors(path):
    return [p for p in validate(path) if p.severity == "error"]


def test_bio_network_runs_in_neuron_with_builtin_mechanisms(tmp_path):
    cfg = bio_network(tmp_path / "bio", tstop=300.0)
    assert _errors(cfg) == []
    with pytest.raises(OutputExistsError):
        bio_network(tmp_path / "bio")
    res = simulate(cfg, progress=False)
    assert res.backend == "neuron"
    sp = read_spikes(res.spikes_file)["bio"]
    assert 5.0 < res.rates()["bio"] < 80.0 and len(np.unique(sp.node_ids)) == 10
    v = CompartmentReport(res.reports["membrane_potential"])["bio"].data()
    assert v.shape == (12000, 3) and v.max() > 0.0 and -80.0 < v.min() < -60.0  # spikes overshoot; hh rest


def test_lgn_network_drives_v1(tmp_path):
    cfg = lgn_network(tmp_path / "lgn", n_lgn=30, n_v1=10, tstop=500.0)
    v1_cfg = os.path.join(tmp_path, "lgn", "config.v1.json")
    assert _errors(cfg) == []
    assert [p.key for p in _errors(v1_cfg)] == ["inputs.lgn_spikes.input_file"]  # written by the LGN run
    lres = simulate(cfg, progress=False)
    assert lres.backend == "filter" and lres.rates()["lgn"] > 2.0
    assert _errors(v1_cfg) == []
    vres = simulate(v1_cfg, progress=False)
    assert vres.backend == "nest" and vres.n_spikes["v1"] > 0


def test_population_network_follows_its_input_step(tmp_path):
    from modelkit.simulator.population.modules import read_rates

    cfg = population_network(tmp_path / "pop", tstop=400.0)
    assert _errors(cfg) == []
    res = simulate(cfg, progress=False)
    assert res.backend == "population"
    _, _, r = read_rates(res.reports["rates"])["cortex"]
    before, after = r[100:200].mean(0), r[300:].mean(0)
    assert np.all(after > before + 5.0)  # both populations rise with the drive
