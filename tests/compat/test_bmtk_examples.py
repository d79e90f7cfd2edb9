"""bmtk's example suite runs unchanged: every simulation config whose data the suite carries runs through
``modelkit run``; every other one fails naming the absent file and its config key; and one config per backend
gives bmtk 1.2.0's result, bmtk run on the same copy in a child process.

Runs are shortened with ``--tstop`` where they are long (the caps below; the compatibility table in the README,
``benchmarks/compat_bmtk_examples.py``, runs them whole).  The suite is read from ``shared/bmtk-examples`` and
copied once per session; folders that ship only a build script are built by it with ``bmtk.builder`` swapped for
``modelkit.builder`` and nothing else changed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelkit.testing import copy_bmtk_examples, shared_path
from modelkit.testing.bmtk_examples import (ExampleConfig, build_networks, compare, compare_population_reference,
                                            find_configs, link_population_components, missing_data, run_bmtk,
                                            run_modelkit)

CONFIGS = {c.key: c for c in find_configs(shared_path("bmtk-examples"))}

#: the suite's configs whose data bmtk's repository does not carry (Allen Cell Types sweeps, Neuropixels caches,
#: a movie the user supplies, an author's local path, a spikes file no script makes, a waveform file, component
#: files the Brunel networks name)
ABSENT = {
    "bio_advanced_stimuli/config.simulation_iclamp.nwb.json",
    "bio_all_active_sweep/config.simulation.491766131_fullaxon.sweep35.json",
    "bio_all_active_sweep/config.simulation.491766131_stubaxon.sweep35.json",
    "bio_comsol/config_comsol_1c.json",
    "bio_comsol/config_comsol_2x.json",
    "bio_neuropixels/config.simulation.multi_session.json",
    "bio_neuropixels/config.simulation.sample.json",
    "bio_neuropixels/config.simulation.units_map.json",
    "ei_networks/bionet/config.json",  # ../../biophys_components, brunel_*.json synapses, internal_edge_types.csv
    "ei_networks/pointnet/config.json",  # point_components/cell_models/excitatory.json, inhibitory.json
    "filter_movie/config.simulation.json",
    "point_120cells/config.simulation_iclamp.nwb.json",
    "point_120cells/config.simulation_perturbations.json",
    "point_iclamp/config.simulation_iclamp.nwb.json",
    "point_neuropixels/config.simulation.multi_sessions.json",
    "point_neuropixels/config.simulation.sample.json",
    "point_neuropixels/config.simulation.units_map.json",
}

#: run length cap by backend (ms): enough for every input and report module to act
TSTOP_CAP = {"neuron": 200.0, "nest": 1000.0, "filter": 500.0, "population": None}

#: folders whose build script takes minutes (12,500 cells, 1.6e7 edges from 1.56e8 per-pair Python calls) and
#: whose configs lack component files even when built: not built here (the run then names the absent network
#: files); tests/builder/test_build_scripts.py builds them, the compatibility benchmark builds and runs them
HUGE = {"ei_networks/bionet", "ei_networks/pointnet"}


def test_the_suite_is_the_one_described() -> None:
    assert len(CONFIGS) == 43
    assert ABSENT <= set(CONFIGS)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_bmtk_examples(tmp_path_factory.mktemp("bmtk-examples"))
    link_population_components(root)
    return root


_built: dict[str, object] = {}


def _ensure_built(root: Path, folder: str) -> None:
    if folder in HUGE:
        return
    if folder not in _built:
        _built.update(build_networks(root, [folder]))
        _built.setdefault(folder, None)
    b = _built[folder]
    assert b is None or b.ok, f"{folder}: its build script failed with modelkit's builder:\n{b.error}"


def _params() -> list:
    out = []
    for key, cfg in CONFIGS.items():
        marks = [pytest.mark.slow] if cfg.backend == "neuron" and key not in ABSENT else []
        out.append(pytest.param(cfg, id=key, marks=marks))
    return out


@pytest.mark.parametrize("cfg", _params())
def test_config_runs_or_names_its_absent_data(cfg: ExampleConfig, examples: Path, tmp_path: Path) -> None:
    _ensure_built(examples, cfg.folder)
    absent = missing_data(cfg, examples)
    assert bool(absent) == (cfg.key in ABSENT), f"data absent: {absent}"
    cap = TSTOP_CAP[cfg.backend]
    tstop = cap if cap is not None and cfg.tstop > cap else None
    r = run_modelkit(cfg, examples, tmp_path / "out", tstop=tstop)
    if absent:
        assert not r.ok, "a run with absent data must fail"
        assert "Traceback" not in r.log, r.log
        named = [a for a in absent if a.split(": ", 1)[1] in r.log or os.path.basename(a.split(": ", 1)[1]) in r.log]
        assert named, f"the error names none of the absent files {absent}:\n{r.log}"
        key = named[0].split(": ", 1)[0]
        section, name = key.split(".")[:2]
        assert f"{section}.{name}" in r.log, f"the error does not name the config key {key}:\n{r.log}"
        return
    assert r.ok, r.log
    assert "Traceback" not in r.log
    outs = {p.name for p in (tmp_path / "out").rglob("*")}
    assert outs & {"spikes.h5", "spike_rates.txt", "rates.h5"}, f"no spikes or rates written: {sorted(outs)}"
    if tstop is not None:
        assert "run.tstop overridden" in (tmp_path / "out" / "log.txt").read_text()


AGAINST_BMTK = [
    pytest.param("point_stdp/config.simulation_iclamp.json", None, id="nest-point_stdp-iclamp"),
    pytest.param("point_120cells/config.simulation.json", 1000.0, id="nest-point_120cells"),
    pytest.param("filter_graitings_preset/config.simulation.json", 500.0, id="filter-gratings"),
    pytest.param("bio_1cell/config.simulation_iclamp.json", 1000.0, id="neuron-bio_1cell-iclamp",
                 marks=pytest.mark.slow),
    pytest.param("bio_14cells/config.simulation.json", 1000.0, id="neuron-bio_14cells", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("key,tstop", AGAINST_BMTK)
def test_config_gives_bmtks_result(key: str, tstop: float | None, examples: Path, tmp_path: Path) -> None:
    cfg = CONFIGS[key]
    _ensure_built(examples, cfg.folder)
    mk = run_modelkit(cfg, examples, tmp_path / "modelkit", tstop=tstop)
    assert mk.ok, mk.log
    bm = run_bmtk(cfg, examples, tmp_path / "bmtk", tstop=tstop)
    assert bm.ok, bm.log
    ok, how = compare(cfg, examples, mk, bm, tstop or cfg.tstop)
    assert ok, how


def test_popnet_example_is_silent_as_in_bmtk_dipde(examples: Path, tmp_path: Path) -> None:
    """bmtk + DiPDE (not on PyPI; its rates are in shared/reference) leave both populations of the shipped
    PopNet example silent."""
    cfg = CONFIGS["ei_networks/popnet/config.json"]
    mk = run_modelkit(cfg, examples, tmp_path / "out")
    assert mk.ok, mk.log
    ref = shared_path("reference", "bmtk-examples", "ei_networks_popnet", "spike_rates.txt")
    ok, how = compare_population_reference(mk.output_dir, str(ref))
    assert ok, how
