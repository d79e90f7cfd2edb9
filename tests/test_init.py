"""``modelkit init``: a runnable simulation folder for a network made by others (bmtk's create_environment)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from modelkit.errors import ModelkitError, OutputExistsError
from modelkit.simulator.environment import create_environment


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelkit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_init_makes_a_point_network_runnable(bmtk_examples_dir: Path, tmp_path: Path) -> None:
    ex = bmtk_examples_dir / "point_120cells"
    r = _cli("init", str(ex / "network"), "sim", "--components", str(bmtk_examples_dir / "point_components"),
             "--tstop", "500", "--spikes-inputs", f"thalamus:{ex / 'inputs' / 'thalamus_spikes.h5'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "sim" / "config.json").read_text())
    assert cfg["target_simulator"] == "NEST" and cfg["run"]["tstop"] == 500.0
    comps = tmp_path / "sim" / "components"
    assert sorted(p.name for p in (comps / "point_neuron_templates").iterdir()) == [
        "iaf_psc_delta_exc.json", "iaf_psc_delta_inh.json"]
    assert (comps / "synaptic_models" / "ExcToExc.json").is_file()
    r = _cli("run", "sim/config.json", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "sim" / "output" / "spikes.h5") as f:
        assert len(f["spikes/cortex/timestamps"]) > 100  # the thalamic input drives the cortex


@pytest.mark.slow
def test_init_copies_and_compiles_mechanisms_for_a_biophysical_network(bmtk_examples_dir: Path,
                                                                       tmp_path: Path) -> None:
    ex = bmtk_examples_dir / "bio_14cells"
    r = _cli("init", str(ex / "network"), "sim", "--components", str(bmtk_examples_dir / "bio_components"),
             "--tstop", "100", "--iclamp", "0.3,20,60", "--report-vars", "v", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    mods = {p.name for p in (tmp_path / "sim" / "components" / "mechanisms" / "modfiles").iterdir()}
    assert {"CaDynamics.mod", "Im.mod", "NaTs.mod"} <= mods
    r = _cli("run", "sim/config.json", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "sim" / "output" / "spikes.h5") as f:
        assert len(f["spikes/v1/timestamps"]) > 0  # the clamp makes the cells fire
    assert (tmp_path / "sim" / "output" / "v_report.h5").is_file()


def test_a_component_found_nowhere_is_named(bmtk_examples_dir: Path, tmp_path: Path) -> None:
    comps = tmp_path / "comps"
    shutil.copytree(bmtk_examples_dir / "point_components", comps)
    (comps / "cell_models" / "iaf_psc_delta_inh.json").chmod(0o644)
    (comps / "cell_models" / "iaf_psc_delta_inh.json").unlink()
    with pytest.raises(ModelkitError) as e:
        create_environment(bmtk_examples_dir / "point_120cells" / "network", tmp_path / "sim", components=[comps])
    msg = str(e.value)
    assert "iaf_psc_delta_inh.json" in msg and "dynamics_params" in msg and str(comps) in msg
    assert not (tmp_path / "sim" / "config.json").exists()


def test_an_existing_config_is_kept(bmtk_examples_dir: Path, tmp_path: Path) -> None:
    net = bmtk_examples_dir / "point_120cells" / "network"
    comps = [bmtk_examples_dir / "point_components"]
    create_environment(net, tmp_path / "sim", components=comps)
    (tmp_path / "sim" / "config.json").write_text("{}")
    with pytest.raises(OutputExistsError):
        create_environment(net, tmp_path / "sim", components=comps)
    assert (tmp_path / "sim" / "config.json").read_text() == "{}"
    create_environment(net, tmp_path / "sim", components=comps, overwrite=True)
    assert json.loads((tmp_path / "sim" / "config.json").read_text())["target_simulator"] == "NEST"
