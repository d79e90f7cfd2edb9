"""A run writes only inside its staged output folder: outputs named outside ``output_dir`` and output folders
that hold the model's own inputs are refused before anything is written; SIGTERM / SIGHUP / SIGINT stop a run
(``<output>.stopped``, exit status 128 + signal); ``.partial-*`` folders of dead runs are adopted as
``<output>.failed`` (what they hold: tests/simulator/test_partial_results.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from _cli_run import run_cli

from modelkit.builder import NetworkBuilder
from modelkit.errors import ConfigError
from modelkit.simulator import simulate

pytest.importorskip("nest")


def model(root: Path, tstop: float = 50.0, **output: Any) -> Path:
    """A 4-cell NEST model in ``root``: network/, node_sets.json, config.json; returns the config."""
    net = NetworkBuilder("cortex", seed=1)
    net.add_nodes(N=4, model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                  dynamics_params="cell.json")
    net.save(output_dir=root / "network")
    (root / "components").mkdir()
    (root / "components" / "cell.json").write_text(json.dumps({"I_e": 400.0}))
    (root / "node_sets.json").write_text(json.dumps({"all": {"population": "cortex"}}))
    cfg = {
        "manifest": {"$BASE_DIR": "${configdir}", "$OUTPUT_DIR": "$BASE_DIR/output"},
        "run": {"tstop": tstop, "dt": 0.1},
        "components": {"point_neuron_models_dir": "$BASE_DIR/components"},
        "networks": {"nodes": [{"nodes_file": "$BASE_DIR/network/cortex_nodes.h5",
                                "node_types_file": "$BASE_DIR/network/cortex_node_types.csv"}], "edges": []},
        "node_sets_file": "$BASE_DIR/node_sets.json",
        "output": {"output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5", "log_file": "log.txt",
                   "overwrite_output_dir": True, **output},
        "target_simulator": "NEST",
    }
    path = root / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def test_model_runs(tmp_path: Path) -> None:
    res = simulate(model(tmp_path), progress=False)
    assert os.path.exists(res.spikes_file) and sum(res.n_spikes.values()) > 0


@pytest.mark.parametrize("key", ["spikes_file", "spikes_file_csv", "log_file"])
def test_output_file_outside_output_dir_is_refused(tmp_path: Path, key: str) -> None:
    victim = tmp_path / "elsewhere" / "precious.h5"
    victim.parent.mkdir()
    victim.write_bytes(b"keep me")
    cfg = model(tmp_path / "m", overwrite_output_dir=False, **{key: str(victim)})
    with pytest.raises(ConfigError) as ei:
        simulate(cfg, progress=False)
    assert ei.value.path == str(cfg) and ei.value.key == f"output.{key}"
    assert victim.read_bytes() == b"keep me"
    assert not (tmp_path / "m" / "output").exists()


def test_relative_output_path_escaping_output_dir_is_refused(tmp_path: Path) -> None:
    cfg = model(tmp_path, spikes_file="../spikes.h5")
    with pytest.raises(ConfigError) as ei:
        simulate(cfg, progress=False)
    assert ei.value.key == "output.spikes_file"
    assert not (tmp_path / "spikes.h5").exists()


def test_report_file_outside_output_dir_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "v.h5"
    victim.write_bytes(b"keep me")
    cfg = model(tmp_path / "m")
    d = json.loads(cfg.read_text())
    d["reports"] = {"v": {"cells": "all", "variable_name": "V_m", "module": "multimeter_report",
                          "sections": "soma", "file_name": str(victim)}}
    cfg.write_text(json.dumps(d))
    with pytest.raises(ConfigError) as ei:
        simulate(cfg, progress=False)
    assert ei.value.path == str(cfg) and ei.value.key == "reports.v.file_name"
    assert victim.read_bytes() == b"keep me"


@pytest.mark.parametrize("where", ["$BASE_DIR", "$BASE_DIR/network", "$BASE_DIR/components", "$BASE_DIR/.."])
def test_output_dir_holding_the_models_inputs_is_refused(tmp_path: Path, where: str) -> None:
    root = tmp_path / "m"
    root.mkdir()
    cfg = model(root)
    d = json.loads(cfg.read_text())
    d["manifest"]["$OUTPUT_DIR"] = where
    cfg.write_text(json.dumps(d))
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError) as ei:
        simulate(cfg, progress=False, overwrite=True)
    assert ei.value.path == str(cfg) and ei.value.key == "output.output_dir"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_output_dir_holding_an_input_spike_file_is_refused(tmp_path: Path) -> None:
    cfg = model(tmp_path)
    first = simulate(cfg, progress=False)
    d = json.loads(cfg.read_text())
    d["inputs"] = {"replay": {"input_type": "spikes", "module": "sonata", "input_file": first.spikes_file,
                              "node_set": "all"}}
    cfg.write_text(json.dumps(d))
    with pytest.raises(ConfigError) as ei:
        simulate(cfg, progress=False)
    assert ei.value.key == "output.output_dir" and "spikes.h5" in str(ei.value)
    assert os.path.exists(first.spikes_file)




def _wait_for_partial(root: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not [n for n in os.listdir(root) if ".partial-" in n]:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.1)
    time.sleep(2.0)  # into the run's blocks


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_ends_a_run_as_a_stop(tmp_path: Path, sig: int) -> None:
    cfg = model(tmp_path, tstop=1e8)
    proc = run_cli(cfg)
    try:
        _wait_for_partial(tmp_path, proc)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, out.decode()
    assert not (tmp_path / "output").exists() and not (tmp_path / "output.failed").exists()
    assert (tmp_path / "output.stopped" / "log.txt").exists() and (tmp_path / "output.stopped" / "spikes.h5").exists()
    assert "output.stopped" in out.decode()
    assert not [n for n in os.listdir(tmp_path) if ".partial-" in n]


def test_partial_folder_of_a_dead_run_is_adopted(tmp_path: Path) -> None:
    cfg = model(tmp_path, tstop=1e8)
    proc = run_cli(cfg)
    try:
        _wait_for_partial(tmp_path, proc)
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
    assert (tmp_path / "output.failed" / "spikes.h5").exists()  # the dead run's, made from its journal


def test_signal_handlers_are_restored_after_a_run(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    simulate(model(tmp_path), progress=False)
    with pytest.raises(ConfigError):
        simulate(model(tmp_path / "x", spikes_file="/nonexistent/elsewhere.h5"), progress=False)
    assert {s: signal.getsignal(s) for s in before} == before


def test_sigint_ends_a_run_as_a_stop(tmp_path: Path) -> None:
    cfg = model(tmp_path, tstop=1e8)
    proc = run_cli(cfg)
    try:
        _wait_for_partial(tmp_path, proc)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (-signal.SIGINT, 128 + signal.SIGINT), out.decode()
    assert (tmp_path / "output.stopped" / "log.txt").exists() and not (tmp_path / "output").exists()
    assert not [n for n in os.listdir(tmp_path) if ".partial-" in n]


@pytest.mark.parametrize("exchange", [True, False])
def test_a_rerun_replaces_the_output_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    import modelkit.simulator.staging as staging
    if not exchange:  # file systems without renameat2(RENAME_EXCHANGE): two renames
        monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    cfg = model(tmp_path)
    simulate(cfg, progress=False)
    (tmp_path / "output" / "stale.txt").write_text("from the first run")
    res = simulate(cfg, progress=False)
    assert sorted(os.listdir(tmp_path / "output")) == ["log.txt", "spikes.h5"]
    assert os.path.exists(res.spikes_file)
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith(".")) == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed raise, on purpose
def test_a_sigterm_whose_raise_python_swallowed_still_stops_the_run(tmp_path: Path) -> None:
    """A signal handler runs wherever the main thread is: inside a ``__del__`` (or a weakref callback) Python
    prints what it raises and goes on. The run used to go on for ever (the handler had already marked the
    run as ending, so a second SIGTERM was ignored too); it ends at the end of the block instead."""
    from modelkit.simulator.staging import RunTerminated

    class Trap:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10_000):  # the handler runs in here, inside __del__: its raise is lost
                pass

    class TrapAt:
        def __init__(self) -> None:
            self.sprung = False

        def spikes(self, population: str, node_ids: Any, times: Any) -> None:
            pass

        def progress(self, t: float, tstop: float) -> None:
            if t >= 100.0 and not self.sprung:
                self.sprung = True
                Trap()  # made and collected at once

    sink = TrapAt()
    with pytest.raises(RunTerminated):
        simulate(model(tmp_path, tstop=1e6), progress=False, sinks=[sink])
    assert sink.sprung
    assert (tmp_path / "output.stopped" / "spikes.h5").exists() and not (tmp_path / "output").exists()
