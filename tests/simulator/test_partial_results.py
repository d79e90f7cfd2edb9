"""A run that ends early keeps what it recorded: stopped -> ``<output>.stopped``, failed -> ``<output>.failed``,
each with the spikes of the whole blocks (a valid SONATA spikes file with ``/spikes@stop_time``) and the report
frames written (a valid, shorter report); a killed run's folder is adopted with the same files by the next run.

Real NEST runs; the stopped files are compared with a full run of the same model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from _cli_run import run_cli

from modelkit.analysis import SpikeTable
from modelkit.builder import NetworkBuilder
from modelkit.cluster.errors import RunStoppedError
from modelkit.datasets import balanced_network
from modelkit.simulator import simulate
from modelkit.simulator.journal import JOURNAL_NAME, SpikeJournal, read_journal
from modelkit.sonata import CompartmentReport, read_spikes, spikes_stop_time
from modelkit.sonata.reports import recover_report

pytest.importorskip("nest")

REPO = Path(__file__).resolve().parents[2]


def _network(root: Path) -> str:
    """500 NEST cells with inputs and a membrane report, 200 ms in blocks of 10 ms."""
    cfg = balanced_network(root, n_exc=400, n_inh=100, n_input=100, input_rate=40.0, tstop=200.0)
    d = json.loads(Path(cfg).read_text())
    d["run"]["nsteps_block"] = 100
    Path(cfg).write_text(json.dumps(d))
    return cfg


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """The config and the result of its complete run."""
    root = tmp_path_factory.mktemp("full")
    cfg = _network(root / "net")
    return cfg, simulate(cfg, output_dir=root / "out", progress=False)


def _sorted(path: Any, upto: float | None = None) -> dict[str | None, np.ndarray]:
    """{population: rows (time, id) sorted}, the spikes up to ``upto`` ms only."""
    out = {}
    for pop, sp in read_spikes(path).items():
        keep = np.ones(len(sp), bool) if upto is None else sp.timestamps <= upto
        rows = np.stack([sp.timestamps[keep], sp.node_ids[keep].astype(float)], axis=1)
        out[pop] = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    return out


def _assert_same(a: dict[str | None, np.ndarray], b: dict[str | None, np.ndarray]) -> None:
    assert sorted(a, key=str) == sorted(b, key=str)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


class StopAt:
    """A sink that ends the run after the block reaching ``t`` ms, as LiveRun.stop does through the stream."""

    def __init__(self, t: float, error: BaseException) -> None:
        self.t = t
        self.error = error

    def spikes(self, population: str, node_ids: np.ndarray, times: np.ndarray) -> None:
        return None

    def progress(self, t: float, tstop: float) -> None:
        if t >= self.t:
            raise self.error


class FailingSink:
    """A sink that raises while taking a block's spikes once the run passed ``t`` ms (an error, not a stop)."""

    def __init__(self, t: float) -> None:
        self.t = t
        self.now = 0.0

    def spikes(self, population: str, node_ids: np.ndarray, times: np.ndarray) -> None:
        if self.now >= self.t:
            raise ValueError("the sink broke")

    def progress(self, t: float, tstop: float) -> None:
        self.now = t


def _assert_report_is_the_start_of(path: Path, full_path: str, stop: float) -> int:
    """The report at ``path`` is valid, its frames are the full run's first ones, all before ``stop``."""
    part, whole = CompartmentReport(path)["cortex"], CompartmentReport(full_path)["cortex"]
    n = part.n_frames
    assert 0 < n < whole.n_frames
    assert part.time[0] == whole.time[0] and part.time[2] == whole.time[2]
    assert part.times[-1] <= stop
    np.testing.assert_array_equal(part.data(), whole.data()[:n])
    with h5py.File(path) as f:
        assert float(f["report"].attrs["stop_time"]) == stop
        assert "modelkit_frames_written" not in f["report/cortex/data"].attrs
    return n


@pytest.mark.parametrize("error", [RunStoppedError("stopped on request"), KeyboardInterrupt()],
                         ids=["stop-request", "ctrl-c"])
def test_a_stopped_run_keeps_the_spikes_and_frames_up_to_the_stop(tmp_path: Path, full: tuple[str, Any],
                                                                   error: BaseException) -> None:
    cfg, whole = full
    out = tmp_path / "out"
    with pytest.raises(type(error)):
        simulate(cfg, output_dir=out, progress=False, sinks=[StopAt(100.0, error)])
    stopped = tmp_path / "out.stopped"
    assert not out.exists() and not (tmp_path / "out.failed").exists()
    assert sorted(os.listdir(stopped)) == ["log.txt", "membrane_potential.h5", "spikes.csv", "spikes.h5"]
    stop = spikes_stop_time(stopped / "spikes.h5")
    assert stop == 100.0  # the end of the block the stop came after
    table = SpikeTable.load(stopped / "spikes.h5")
    assert len(table) > 0 and table.t_stop == stop and float(table.frame["timestamps"].max()) <= stop
    # every spike of the full run up to the stop, and no other
    _assert_same(_sorted(stopped / "spikes.h5"), _sorted(whole.spikes_file, upto=stop))
    csv = SpikeTable.load(stopped / "spikes.csv")
    assert len(csv) == len(table)
    _assert_report_is_the_start_of(stopped / "membrane_potential.h5", whole.reports["membrane_potential"], stop)
    log = (stopped / "log.txt").read_text()
    assert "run stopped at t = 100 ms" in log and f"kept the {len(table)} spikes" in log


def test_a_failed_run_keeps_the_spikes_of_its_whole_blocks(tmp_path: Path, full: tuple[str, Any]) -> None:
    cfg, whole = full
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="the sink broke"):
        simulate(cfg, output_dir=out, progress=False, sinks=[FailingSink(50.0)])
    failed = tmp_path / "out.failed"
    assert not out.exists() and not (tmp_path / "out.stopped").exists()
    assert sorted(os.listdir(failed)) == ["log.txt", "membrane_potential.h5", "spikes.csv", "spikes.h5"]
    stop = spikes_stop_time(failed / "spikes.h5")
    assert stop == 60.0  # the block whose spikes the sink refused was simulated and is kept whole
    _assert_same(_sorted(failed / "spikes.h5"), _sorted(whole.spikes_file, upto=stop))
    assert SpikeTable.load(failed / "spikes.h5").t_stop == stop
    _assert_report_is_the_start_of(failed / "membrane_potential.h5", whole.reports["membrane_potential"], stop)
    assert "run failed at t = 60 ms" in (failed / "log.txt").read_text()


def test_a_newer_stop_replaces_the_older_stopped_folder_and_a_good_run_is_never_touched(
        tmp_path: Path, full: tuple[str, Any]) -> None:
    cfg, _ = full
    out = tmp_path / "out"
    good = simulate(cfg, output_dir=out, progress=False)
    before = _sorted(good.spikes_file)
    for t in (30.0, 70.0):
        with pytest.raises(RunStoppedError):
            simulate(cfg, output_dir=out, progress=False, overwrite=True, sinks=[StopAt(t, RunStoppedError("s"))])
        assert spikes_stop_time(tmp_path / "out.stopped" / "spikes.h5") == t
    _assert_same(_sorted(out / "spikes.h5"), before)
    assert spikes_stop_time(out / "spikes.h5") is None  # a whole run's file says nothing of a stop
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith(".")) == []


# ------------------------------------------------------------------ signals and kills of a `modelkit run`
def _model(root: Path, report: bool = False) -> Path:
    """4 NEST cells firing regularly, run for ever (1e8 ms in 1 s blocks); a membrane report if asked."""
    net = NetworkBuilder("cortex", seed=1)
    net.add_nodes(N=4, model_type="point_neuron", model_template="nest:iaf_psc_alpha", dynamics_params="cell.json")
    net.save(output_dir=root / "network")
    (root / "components").mkdir()
    (root / "components" / "cell.json").write_text(json.dumps({"I_e": 400.0}))
    (root / "node_sets.json").write_text(json.dumps({"all": {"population": "cortex"}}))
    cfg = {
        "manifest": {"$BASE_DIR": "${configdir}", "$OUTPUT_DIR": "$BASE_DIR/output"},
        "run": {"tstop": 1e8, "dt": 0.1},
        "components": {"point_neuron_models_dir": "$BASE_DIR/components"},
        "networks": {"nodes": [{"nodes_file": "$BASE_DIR/network/cortex_nodes.h5",
                                "node_types_file": "$BASE_DIR/network/cortex_node_types.csv"}], "edges": []},
        "node_sets_file": "$BASE_DIR/node_sets.json",
        "output": {"output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5", "log_file": "log.txt",
                   "overwrite_output_dir": True},
        "target_simulator": "NEST",
    }
    if report:
        cfg["reports"] = {"v": {"cells": "all", "variable_name": "V_m", "module": "multimeter_report", "dt": 1.0}}
    path = root / "config.json"
    path.write_text(json.dumps(cfg))
    return path




def _wait_for_blocks(root: Path, proc: subprocess.Popen, n: int = 3) -> None:
    """Until the run has journaled ``n`` blocks of spikes."""
    import time
    deadline = time.monotonic() + 120
    while True:
        parts = [root / p for p in os.listdir(root) if ".partial-" in p]
        j = parts[0] / JOURNAL_NAME if parts else None
        if j is not None and j.exists() and read_journal(str(j)).n_blocks >= n:
            return
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "the run did not get going"
        time.sleep(0.05)


def _same_as_a_full_run_to(tmp_path: Path, cfg: Path, spikes: Path, stop: float) -> None:
    """The spikes file equals that of a complete run of the same model to ``stop`` ms."""
    d = json.loads(cfg.read_text())
    d["run"]["tstop"] = stop
    d.pop("reports", None)
    ref = tmp_path / "ref" / "config.json"
    ref.parent.mkdir()
    for name in ("network", "components", "node_sets.json"):
        os.symlink(cfg.parent / name, ref.parent / name)
    ref.write_text(json.dumps(d))
    res = simulate(ref, progress=False)
    _assert_same(_sorted(spikes), _sorted(res.spikes_file))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_a_run_with_its_spikes(tmp_path: Path, sig: int) -> None:
    cfg = _model(tmp_path, report=True)
    proc = run_cli(cfg)
    try:
        _wait_for_blocks(tmp_path, proc)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (128 + sig, -sig), out.decode()
    stopped = tmp_path / "output.stopped"
    assert not (tmp_path / "output").exists() and not (tmp_path / "output.failed").exists()
    assert sorted(os.listdir(stopped)) == ["log.txt", "spikes.h5", "v.h5"]
    stop = spikes_stop_time(stopped / "spikes.h5")
    assert stop is not None and stop >= 3000.0 and stop % 1000.0 == 0  # whole 1 s blocks
    table = SpikeTable.load(stopped / "spikes.h5")
    assert len(table) > 0 and table.t_stop == stop
    rep = CompartmentReport(stopped / "v.h5")["cortex"]
    assert 0 < rep.n_frames and rep.times[-1] <= stop and rep.data().shape == (rep.n_frames, 4)
    assert f"run stopped at t = {stop:g} ms" in (stopped / "log.txt").read_text()
    _same_as_a_full_run_to(tmp_path, cfg, stopped / "spikes.h5", stop)


def test_a_killed_runs_folder_is_adopted_by_the_next_run_with_valid_files(tmp_path: Path) -> None:
    cfg = _model(tmp_path, report=True)
    proc = run_cli(cfg)
    try:
        _wait_for_blocks(tmp_path, proc)
        proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [n for n in os.listdir(tmp_path) if ".partial-" in n]
    d = json.loads(cfg.read_text())
    d["run"]["tstop"] = 20.0
    cfg.write_text(json.dumps(d))
    simulate(cfg, progress=False)
    assert not [n for n in os.listdir(tmp_path) if ".partial-" in n]
    assert (tmp_path / "output" / "spikes.h5").exists()
    failed = tmp_path / "output.failed"
    assert sorted(os.listdir(failed)) == ["log.txt", "spikes.h5", "v.h5"]  # no journal, no temporary file
    stop = spikes_stop_time(failed / "spikes.h5")
    assert stop is not None and stop >= 3000.0
    table = SpikeTable.load(failed / "spikes.h5")
    assert len(table) > 0 and float(table.frame["timestamps"].max()) <= stop
    rep = CompartmentReport(failed / "v.h5")["cortex"]
    assert rep.n_frames > 0 and rep.times[-1] <= stop
    assert np.all(np.isfinite(rep.data())) and np.all(rep.data() != 0.0)  # frames written, not the fill value
    log = (failed / "log.txt").read_text()
    assert "the run's process died" in log and "report v.h5: kept" in log
    d["run"]["tstop"] = 1e8
    cfg.write_text(json.dumps(d))
    _same_as_a_full_run_to(tmp_path, cfg, failed / "spikes.h5", stop)


# ------------------------------------------------------------------ the journal and report recovery themselves
def test_the_journal_keeps_whole_blocks_and_ignores_a_torn_or_damaged_tail(tmp_path: Path) -> None:
    path = str(tmp_path / "j")
    j = SpikeJournal(path, {"populations": ["a", "b"], "tstart": 0.0, "tstop": 100.0})
    rng = np.random.default_rng(0)
    sizes = []
    for k in range(3):
        n = 50 + k
        j.append(10.0 * (k + 1), {"a": (rng.integers(0, 9, n), np.sort(rng.uniform(10 * k, 10 * (k + 1), n))),
                                  "b": (np.empty(0, np.int64), np.empty(0))})
        sizes.append(os.path.getsize(path))
    j.close()
    got = read_journal(path)
    assert got.n_blocks == 3 and got.t_complete == 30.0 and not got.torn
    assert len(got.spikes["a"][0]) == 50 + 51 + 52 and len(got.spikes["b"][0]) == 0
    with open(path, "r+b") as f:  # a kill in the middle of the last record
        f.truncate(sizes[2] - 7)
    got = read_journal(path)
    assert got.n_blocks == 2 and got.t_complete == 20.0 and got.torn and len(got.spikes["a"][0]) == 101
    with open(path, "r+b") as f:  # a damaged byte in the second record
        f.seek(sizes[1] - 3)
        f.write(b"\xff")
    got = read_journal(path)
    assert got.n_blocks == 1 and got.t_complete == 10.0 and got.torn


def test_a_report_writer_killed_mid_write_is_recovered_to_its_last_flush(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import os, signal, numpy as np
        from modelkit.sonata import ReportWriter
        w = ReportWriter({str(tmp_path / 'r.h5')!r}, "p", [0, 1, 2], [0, 1, 2, 3], [0, 0, 0], (0.0, 100.0, 0.5))
        w.open()
        for k in range(3):
            w.append(np.full((20, 3), k + 1.0))
            w.flush()
        w.append(np.full((20, 3), 9.0))  # not flushed: lost with the kill
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert r.returncode == -signal.SIGKILL
    tmp = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(tmp) == 1 and not (tmp_path / "r.h5").exists()
    assert recover_report(tmp_path / tmp[0], tmp_path / "r.h5", stop_time=30.0) == {"p": 60}
    rep = CompartmentReport(tmp_path / "r.h5")["p"]
    assert rep.time == (0.0, 30.0, 0.5) and rep.n_frames == 60
    np.testing.assert_array_equal(rep.data()[::20, 0], [1.0, 2.0, 3.0])
    assert os.listdir(tmp_path) == ["r.h5"]


def test_close_partial_cuts_every_population_to_its_frames_and_the_stop(tmp_path: Path) -> None:
    from modelkit.sonata import ReportWriter
    w = ReportWriter(tmp_path / "r.h5", "a", [0, 1], [0, 1, 2], [0, 0], (10.0, 110.0, 1.0), overwrite=True)
    w.add_population("empty", [], [0], [], (10.0, 110.0, 1.0))  # no elements: a contiguous dataset
    w.open()
    w.append(np.arange(80.0).reshape(40, 2), "a")
    w.append(np.empty((30, 0)), "empty")
    # a block of frames of "a" past the run's stop (a signal between two modules' blocks) is cut too
    assert w.close_partial(stop_time=39.0) == {"a": 30, "empty": 30}
    rep = CompartmentReport(tmp_path / "r.h5")
    assert rep["a"].time == (10.0, 40.0, 1.0) and rep["a"].times[-1] == 39.0
    np.testing.assert_array_equal(rep["a"].data(), np.arange(60.0).reshape(30, 2))
    assert rep["empty"].shape == (30, 0) and rep["empty"].time == (10.0, 40.0, 1.0)
    with h5py.File(tmp_path / "r.h5") as f:
        assert float(f["report"].attrs["stop_time"]) == 39.0
    assert os.listdir(tmp_path) == ["r.h5"]
