"""Sweeps as Slurm work on a real single-node Slurm (the ``slurm`` fixture): over Slurm engines
(``sweep(cluster=...)``), and as one job array (``sweep(backend="slurm-array")``) whose tasks each run one
variant into its own folder -- results equal to ``simulate()`` run here, a failed variant reported beside the
others, the run's metadata recorded, nothing in the working folder, a cancelled array a ``ClusterError``."""

from __future__ import annotations

import json
import threading
import time

import pytest

from modelkit.cluster import ClusterError, start_cluster, stop_cluster, sweep
from modelkit.datasets import balanced_network

pytestmark = pytest.mark.slurm

GRID = {"run.tstop": [100.0, 200.0], "dynamics.cortex.V_th": [-50.0, -55.0]}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    pytest.importorskip("nest", reason="NEST is not installed")
    return balanced_network(tmp_path_factory.mktemp("net") / "net", n_exc=80, n_inh=20, tstop=200.0)


@pytest.fixture(scope="module")
def local_counts(net, tmp_path_factory):
    """simulate() here, variant by variant: the spike counts a sweep must give."""
    from modelkit.simulator import simulate

    out = tmp_path_factory.mktemp("local")
    counts = {}
    for tstop in GRID["run.tstop"]:
        for v_th in GRID["dynamics.cortex.V_th"]:
            r = simulate(net, tstop=tstop, overrides={"dynamics.cortex.V_th": v_th}, progress=False,
                         output_dir=out / f"{tstop}_{v_th}")
            counts[(tstop, v_th)] = sum(r.n_spikes.values())
    return counts


def _counts(table) -> dict:
    return {(t, v): n for t, v, n in zip(table["run.tstop"], table["dynamics.cortex.V_th"], table["n_spikes"])}


def test_sweep_over_slurm_engines_gives_simulates_results(slurm, net, local_counts, tmp_path, empty_cwd):
    rc = start_cluster(2, engines="slurm", profile_dir=tmp_path / "profile", timeout=60)
    try:
        table = sweep(net, GRID, cluster=rc, output_dir=tmp_path / "sw")
    finally:
        stop_cluster(rc)
    assert list(table["status"]) == ["done"] * 4, table["error"].tolist()
    assert _counts(table) == local_counts
    assert table["config_hash"].nunique() == 4 and (table["seed"] == 0).all()
    assert (table["backend"] == "nest").all() and table["simulator_version"].notna().all()
    rec = json.loads((tmp_path / "sw" / "variant_3" / "variant.json").read_text())
    assert rec["status"] == "done" and rec["config_hash"] == table["config_hash"][3]
    assert list(empty_cwd.iterdir()) == []


def test_job_array_sweep_equals_simulate_and_records_each_run(slurm, net, local_counts, tmp_path, empty_cwd):
    import modelkit

    seen: list[dict] = []
    out = tmp_path / "arr"
    table = sweep(net, GRID, backend="slurm-array", output_dir=out, time="00:05:00", progress=seen.append,
                  timeout=240)
    assert list(table["status"]) == ["done"] * 4, table["error"].tolist()
    assert _counts(table) == local_counts  # each task ran its own variant, as simulate() does here
    (job,) = {j.split("_")[0] for j in table["slurm_job"]}  # ONE job array
    assert list(table["slurm_job"]) == [f"{job}_{k}" for k in range(4)]
    assert seen[-1]["done"] == 4 and any(c["pending"] + c["running"] > 0 for c in seen)  # progress as it went
    # the metadata, in the table and in each variant's folder
    assert (table["modelkit_version"] == modelkit.__version__).all()
    import nest
    assert (table["simulator_version"] == nest.__version__).all() and (table["backend"] == "nest").all()
    assert table["config_hash"].nunique() == 4 and (table["seed"] == 0).all()
    for k in range(4):
        folder = out / f"variant_{k}"
        assert table["output_dir"][k] == str(folder) and (folder / "spikes.h5").exists()
        rec = json.loads((folder / "variant.json").read_text())
        assert rec["status"] == "done" and rec["config_hash"] == table["config_hash"][k]
        assert rec["seed"] == 0 and rec["versions"]["simulator"] == nest.__version__
        assert rec["slurm_job"] == table["slurm_job"][k] and rec["n_spikes"] == table["n_spikes"][k]
    # everything Slurm wrote is in the output folder, nothing in the working folder
    assert list(empty_cwd.iterdir()) == []
    assert {"sweep.sbatch", "sweep.json", "logs"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in (out / "logs").iterdir()) == sorted(f"slurm-{j}.out" for j in table["slurm_job"])
    assert "#SBATCH --time=00:05:00" in (out / "sweep.sbatch").read_text()


def test_job_array_failed_variant_is_reported_and_the_others_run(slurm, net, tmp_path, empty_cwd):
    grid = {"inputs.input_spikes.input_file": ["$INPUT_DIR/input_spikes.h5", "$INPUT_DIR/missing.h5",
                                               "$INPUT_DIR/input_spikes.h5"],
            "seed": [1, 2, 3]}
    table = sweep(net, grid, product=False, backend="slurm-array", output_dir=tmp_path / "arr", timeout=240,
                  progress=True, max_parallel=2)
    assert list(table["status"]) == ["done", "failed", "done"], table["error"].tolist()
    assert "missing.h5" in table["error"][1] and table["error"].isna().tolist() == [True, False, True]
    assert table["n_spikes"][0] > 0 and table["n_spikes"][0] == table["n_spikes"][2]  # input from the file
    assert list(table["seed"]) == [1, 2, 3]
    rec = json.loads((tmp_path / "arr" / "variant_1" / "variant.json").read_text())
    assert rec["status"] == "failed" and "missing.h5" in rec["error"]
    assert "#SBATCH --array=0-2%2" in (tmp_path / "arr" / "sweep.sbatch").read_text()
    assert list(empty_cwd.iterdir()) == []


def test_cancelled_job_array_is_a_cluster_error_with_the_table_so_far(slurm, net, tmp_path, empty_cwd):
    grid = {"run.tstop": [100.0, 100_000_000.0]}  # the second runs until cancelled
    job = sweep(net, grid, backend="slurm-array", output_dir=tmp_path / "arr", wait=False)

    def cancel_when_running():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            c = job.counts()
            if c["done"] == 1 and c["running"] == 1:
                break
            time.sleep(0.5)
        slurm.run(["scancel", job.job_id])

    th = threading.Thread(target=cancel_when_running, daemon=True)
    th.start()
    with pytest.raises(ClusterError, match=f"job array {job.job_id} was cancelled") as info:
        job.wait(180)
    th.join(5)
    table = info.value.table
    assert list(table["status"]) == ["done", "stopped"], table["error"].tolist()
    assert table["n_spikes"][0] > 0 and "RunTerminated" in table["error"][1]
    assert job.job_id not in slurm.jobs()
    assert list(empty_cwd.iterdir()) == []


def test_job_array_pending_past_timeout_is_cancelled_with_squeues_reason(slurm, net, tmp_path, empty_cwd):
    from modelkit.cluster.slurm_array import SlurmArraySweep

    out = tmp_path / "arr"
    with pytest.raises(ClusterError, match=r"did not finish within 2 s and was cancelled.*PartitionDown") as info:
        sweep(net, {"seed": [1, 2]}, backend="slurm-array", output_dir=out, partition="held", timeout=2)
    job = info.value.job_id
    assert f"job array {job}" in str(info.value) and job not in slurm.jobs()
    assert list(info.value.table["status"]) == ["cancelled", "cancelled"]
    assert "#SBATCH --partition=held" in (out / "sweep.sbatch").read_text()
    # the folder still says what was submitted, for a later session
    again = SlurmArraySweep.from_folder(out)
    assert again.job_id == job and list(again.table()["status"]) == ["cancelled", "cancelled"]
    assert list(empty_cwd.iterdir()) == []


def test_job_array_refused_by_sbatch_says_why(slurm, net, tmp_path, empty_cwd):
    with pytest.raises(ClusterError, match="invalid partition specified: nosuch"):
        sweep(net, {"seed": [1, 2]}, backend="slurm-array", output_dir=tmp_path / "arr", partition="nosuch")
    assert list(empty_cwd.iterdir()) == []


def test_job_array_task_that_dies_before_its_variant_is_a_failed_row_with_its_log(slurm, net, tmp_path, empty_cwd):
    table = sweep(net, {"seed": [1, 2]}, backend="slurm-array", output_dir=tmp_path / "arr", timeout=120,
                  setup="echo 'module load: no such module' >&2\nexit 3")
    assert list(table["status"]) == ["failed", "failed"]
    for k, err in enumerate(table["error"]):
        assert f"_{k} ended (FAILED) before the variant finished" in err and "no such module" in err
    assert list(empty_cwd.iterdir()) == []
