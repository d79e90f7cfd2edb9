"""sweep()'s backends and options are checked before anything is submitted (no cluster, no Slurm needed)."""

from __future__ import annotations

import json

import pytest

from modelkit.cluster import ClusterError, sweep
from modelkit.cluster._variant import config_hash, effective_seed


@pytest.fixture
def cfg(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"run": {"tstop": 100.0, "dt": 0.1}, "network": "circuit.json"}))
    return p


def test_sweep_options_are_checked_before_anything_runs(cfg, tmp_path):
    with pytest.raises(ClusterError, match="backend must be 'engines' or 'slurm-array'"):
        sweep(cfg, {"seed": [1]}, cluster=object(), backend="slurm", output_dir=tmp_path / "o")
    with pytest.raises(ClusterError, match="needs cluster="):
        sweep(cfg, {"seed": [1]}, output_dir=tmp_path / "o")
    with pytest.raises(ClusterError, match="partition, time apply to backend='slurm-array' only"):
        sweep(cfg, {"seed": [1]}, cluster=object(), partition="debug", time="1:00", output_dir=tmp_path / "o")
    with pytest.raises(ClusterError, match="leave out cluster="):
        sweep(cfg, {"seed": [1]}, cluster=object(), backend="slurm-array", output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_job_array_without_sbatch_is_a_cluster_error(cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ClusterError, match=r"sweep\(backend='slurm-array'\): sbatch not found on PATH"):
        sweep(cfg, {"seed": [1, 2]}, backend="slurm-array", output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()  # nothing written before the check


def test_config_hash_and_seed_name_what_a_variant_computes():
    data = {"run": {"tstop": 100.0, "random_seed": 7}}
    h = config_hash(data, {}, {"output_dir": "/a", "progress": False})
    assert h == config_hash(data, {}, {"output_dir": "/b", "overwrite": True})  # where it writes: not hashed
    assert h != config_hash(data, {}, {"seed": 1}) != config_hash(data, {"dynamics.x.V_th": -50.0}, {})
    assert len(h) == 64 and effective_seed(data, {}) == 7 and effective_seed(data, {"seed": 3}) == 3
    assert effective_seed({"run": {}}, {}) == 0
