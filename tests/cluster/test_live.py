"""Runs on a real local ipyparallel engine: the streamed spikes equal the spikes file, stop, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from modelkit.cluster import RemoteRunError, RunStoppedError, run_on_cluster
from modelkit.datasets import balanced_network
from modelkit.testing import shared_path

P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells", "config.simulation.json")


def test_point_120cells_streamed_spikes_equal_the_file(cluster, tmp_path, stream_equals_file):
    run = run_on_cluster(P120, cluster=cluster, output_dir=tmp_path / "out")
    assert run.status in ("starting", "running")  # returned at once
    assert run.wait(300) == "done", run.error
    result = run.result
    stream_equals_file(run, result)
    p = run.progress
    assert p.t == p.tstop == 3000.0 and p.fraction == 1.0 and p.eta == 0.0 and p.wall > 0
    assert run.stream.n_messages >= 3 + 2  # hello, a message per block, end
    assert "done" in run._repr_html_()


def test_ten_thousand_cells_streamed_spikes_equal_the_file(cluster, tmp_path, stream_equals_file):
    cfg = balanced_network(tmp_path / "net", n_exc=8000, n_inh=2000, tstop=100.0)
    run = run_on_cluster(cfg, cluster=cluster, output_dir=tmp_path / "out")
    assert run.wait(600) == "done", run.error
    stream_equals_file(run, run.result)
    assert sum(run.result.n_cells.values()) == 10_000
    assert len(run.stream.latencies) == 20  # 100 ms in 5 ms blocks, every block arrived


def test_stop_within_one_block(cluster, tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)  # 1000 blocks of 1 s
    out = tmp_path / "out"
    run = run_on_cluster(cfg, cluster=cluster, output_dir=out)
    deadline = time.monotonic() + 120
    while run.progress.t < 1000.0 and time.monotonic() < deadline:
        time.sleep(0.02)
    t_seen = run.progress.t
    assert t_seen >= 1000.0
    assert run.stop(timeout=120) == "stopped"
    assert run.progress.t <= t_seen + 2 * 1000.0  # the block running when stop() came, and at most one more
    assert isinstance(run.error, RunStoppedError)
    with pytest.raises(RunStoppedError):
        _ = run.result
    assert len(run.spikes) > 0  # what arrived stays
    stopped = tmp_path / "out.stopped"
    assert not out.exists() and (stopped / "log.txt").exists() and not (tmp_path / "out.failed").exists()
    # the engine's spikes up to the stop: a valid file, the stop time recorded, what the notebook received
    from modelkit.analysis import SpikeTable
    from modelkit.sonata import spikes_stop_time
    stop = spikes_stop_time(stopped / "spikes.h5")
    table = SpikeTable.load(stopped / "spikes.h5")
    assert stop is not None and table.t_stop == stop and stop <= run.progress.t + 1e-9
    assert len(table) > 0 and float(table.frame["timestamps"].max()) <= stop
    assert 0 < len(run.spikes.select(t_stop=stop)) <= len(table)  # a stop discards what was not yet delivered
    assert str(stopped) in str(run.error)


def test_failing_simulation_reports_the_engine_error(cluster, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "something").write_text("x")  # an output folder that exists: simulate refuses
    run = run_on_cluster(P120, cluster=cluster, output_dir=out, overwrite=False)
    assert run.wait(120) == "failed"
    assert isinstance(run.error, RemoteRunError) and run.error.ename == "OutputExistsError"
    assert "output folder exists" in str(run.error)
    with pytest.raises(RemoteRunError):
        _ = run.result
    assert len(run.spikes) == 0


def test_the_client_never_imports_a_simulator():
    code = ("import sys, modelkit.cluster, modelkit.simulator, modelkit.analysis; "
            "print(sorted(m for m in ('nest', 'neuron') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_sweep_runs_variants_of_one_network_without_rebuilding(cluster, tmp_path):
    from modelkit.cluster import ClusterError, sweep

    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, tstop=200.0)
    before = sorted(os.listdir(tmp_path / "net" / "network"))
    table = sweep(cfg, {"run.tstop": [100.0, 200.0], "seed": [1, 2]}, cluster=cluster, output_dir=tmp_path / "sw")
    assert list(table["status"]) == ["done"] * 4, table["error"].tolist()
    assert list(table["run.tstop"]) == [100.0, 100.0, 200.0, 200.0] and list(table["seed"]) == [1, 2, 1, 2]
    assert (table["n_spikes"] > 0).all() and "rate_cortex" in table
    # twice the time, about twice the spikes (same inputs, same network)
    assert table["n_spikes"][2] > 1.5 * table["n_spikes"][0]
    assert sorted(os.listdir(tmp_path / "net" / "network")) == before
    assert all(os.path.exists(os.path.join(d, "spikes.h5")) for d in table["output_dir"])
    with pytest.raises(ClusterError, match="no section 'nope'"):
        sweep(cfg, {"nope.x": [1]}, cluster=cluster, output_dir=tmp_path / "bad")


def test_sweep_varies_model_parameters_without_rebuilding(cluster, tmp_path):
    from modelkit.errors import NodeSetError
    from modelkit.cluster import sweep

    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, tstop=200.0)
    before = {f: os.path.getmtime(tmp_path / "net" / "network" / f) for f in os.listdir(tmp_path / "net" / "network")}
    table = sweep(cfg, {"dynamics.cortex.V_th": [-50.0, -55.0, -58.0]}, cluster=cluster,
                  output_dir=tmp_path / "sw")
    assert list(table["status"]) == ["done"] * 3, table["error"].tolist()
    n = table["n_spikes"].tolist()
    assert n[0] < n[1] < n[2]  # lower thresholds, more spikes
    after = {f: os.path.getmtime(tmp_path / "net" / "network" / f) for f in os.listdir(tmp_path / "net" / "network")}
    assert after == before
    with pytest.raises(NodeSetError, match="nowhere"):
        sweep(cfg, {"dynamics.nowhere.V_th": [-50.0]}, cluster=cluster, output_dir=tmp_path / "bad")


def test_traces_and_population_rates_stream_with_the_spikes(cluster, tmp_path):
    """Every sampled frame of a report reaches the notebook during the run, equal to the report file."""
    import numpy as np

    from modelkit.datasets import population_network
    from modelkit.sonata import CompartmentReport
    from modelkit.simulator.population import read_rates

    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, tstop=200.0)
    seen = []
    run = run_on_cluster(cfg, cluster=cluster, output_dir=tmp_path / "out")
    run.stream.add_frames_listener(lambda *a: seen.append(a[0]))
    assert run.wait(300) == "done", run.error
    (key, (ids, times, values)), = run.traces.items()
    assert key == ("membrane_potential", "cortex", "V_m")
    rep = CompartmentReport(run.result.reports["membrane_potential"])["cortex"]
    np.testing.assert_array_equal(ids, rep.node_ids)
    np.testing.assert_allclose(times, rep.times, atol=1e-9)
    np.testing.assert_allclose(values, rep.data(), rtol=1e-6)  # the file holds float32
    assert len(seen) >= 2 and set(seen) == {"membrane_potential"}  # block by block, not at the end

    pcfg = population_network(tmp_path / "pop", tstop=200.0)
    prun = run_on_cluster(pcfg, cluster=cluster, output_dir=tmp_path / "pout")
    assert prun.wait(300) == "done", prun.error
    (pkey, (pids, ptimes, prates)), = prun.traces.items()
    fids, ftimes, frates = read_rates(prun.result.reports["rates"])["cortex"]
    assert pkey == ("rates", "cortex", "firing_rate")
    np.testing.assert_array_equal(pids, fids)
    np.testing.assert_allclose(ptimes, ftimes, atol=1e-9)
    np.testing.assert_allclose(prates, frates, rtol=1e-9, atol=1e-9)
