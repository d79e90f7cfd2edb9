"""Cluster starts and profiles: the Slurm profile (tested without Slurm) and real MPI engines (2 ranks)."""

from __future__ import annotations

import pytest
from _cluster_helpers import assert_two_mpi_ranks

from modelkit.cluster import ClusterError, start_cluster, stop_cluster, write_slurm_profile


def test_slurm_profile_loads_and_names_the_slurm_launcher(tmp_path):
    import ipyparallel as ipp
    from ipyparallel.cluster.launcher import LocalControllerLauncher

    from modelkit.cluster.slurm import SlurmEngines

    path = write_slurm_profile(tmp_path / "profile_slurm", n=8, partition="compute", account="proj42",
                               time="02:00:00", cpus_per_engine=4, setup="module load python\nsource venv/bin/activate",
                               options="--mem=8G", location="login1", mpi=True)
    assert path == str(tmp_path / "profile_slurm" / "ipcluster_config.py")
    cluster = ipp.Cluster(profile_dir=str(tmp_path / "profile_slurm"), cluster_id="t")
    assert cluster.engine_launcher_class is SlurmEngines
    assert cluster.controller_launcher_class is LocalControllerLauncher
    assert (cluster.n, cluster.controller_ip, cluster.controller_location) == (8, "*", "login1")

    launcher = SlurmEngines(config=cluster.config, profile_dir=cluster.profile_dir, cluster_id="t")
    assert (launcher.queue, launcher.account, launcher.timelimit) == ("compute", "proj42", "02:00:00")
    assert launcher.run_dir == str(tmp_path / "profile_slurm" / "modelkit-slurm" / "t")
    launcher.write_batch_script(8)  # what sbatch would get
    script = open(launcher.batch_file).read()
    for line in ("#SBATCH --ntasks=8", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8G", "#SBATCH --partition=compute",
                 "#SBATCH --account=proj42", "#SBATCH --time=02:00:00", f"#SBATCH --chdir={launcher.run_dir}",
                 "module load python", "srun --mpi=pmi2 --cpus-per-task=4 ", "modelkit.cluster._engine --mpi"):
        assert line in script, (line, script)
    with pytest.raises(ClusterError, match="n and cpus_per_engine must be >= 1"):
        write_slurm_profile(tmp_path / "bad", n=0)


def test_mpi_engines_are_the_ranks_of_one_world(tmp_path):
    rc = start_cluster(2, engines="mpi", profile_dir=tmp_path / "profile")
    try:
        assert_two_mpi_ranks(rc)
    finally:
        stop_cluster(rc)
    stop_cluster(rc)  # twice is harmless


def test_start_cluster_refuses_zero_engines():
    with pytest.raises(ClusterError, match="at least 1 engine"):
        start_cluster(0)
