"""Slurm engines started from inside a Slurm job: a notebook whose JupyterLab is itself a job (batchspawner).

batchspawner submits JupyterLab with ``--export=<list>``, so its kernel runs with ``SLURM_EXPORT_ENV=<list>``;
an engine job submitted from there inherits it, and a plain ``srun`` in that job would pass the engines only
those variables -- not ``IPP_PROFILE_DIR`` / ``IPP_CLUSTER_ID``, so the engines looked for the connection file
in the default profile and never connected.
"""

from __future__ import annotations

import os

import pytest

from modelkit.cluster import start_cluster, stop_cluster

pytestmark = pytest.mark.slurm


def test_engines_start_from_a_job_with_a_restricted_export(slurm, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # what a batchspawner job's kernel has: the list of the JupyterLab job's --export, another IPython folder
    monkeypatch.setenv("SLURM_EXPORT_ENV", "PATH,PYTHONPATH,SLURM_CONF,HOME")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    rc = start_cluster(1, engines="slurm", profile_dir=str(tmp_path / "profile"), timeout=60)
    try:
        assert rc[:].apply_sync(os.getenv, "IPP_PROFILE_DIR") == [str(tmp_path / "profile")]
    finally:
        stop_cluster(rc)
