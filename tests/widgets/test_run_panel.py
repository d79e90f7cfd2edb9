"""RunPanel: Run / Stop on a local run and a cluster run; an engine killed mid-run; errors shown in the panel."""

from __future__ import annotations

import os
import signal
import time

from _widget_waits import wait_idle

from modelkit.cluster import EngineDiedError, start_cluster, stop_cluster
from modelkit.datasets import balanced_network
from modelkit.widgets import LiveRaster, LiveRates, RunPanel


def _wait_for(cond, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_local_run_and_stop(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=160, n_inh=40, tstop=300.0)
    raster, rates = LiveRaster(), LiveRates(sizes={"cortex": 200})
    panel = RunPanel(cfg, views=[raster, rates], output_dir=tmp_path / "out", overwrite=True)
    assert panel.status == "idle" and not panel.run_button.disabled and panel.stop_button.disabled
    panel.run_button.click()
    assert panel.status in ("starting", "running") and panel.run_button.disabled
    assert panel.wait(180) == "done", panel.error
    wait_idle(raster, rates)
    n = sum(panel.run.result.n_spikes.values())
    assert raster.n_received == rates.n_received == len(panel.run.spikes) == n > 0
    assert panel.progress_bar.value == 1.0 and panel.error == ""
    assert "data-status='done'" in panel.status_label.value and "elapsed" in panel.time_label.value
    assert panel.error_box.layout.display == "none" and not panel.run_button.disabled

    # a second run, stopped from the panel: the views start over, the spikes received are kept
    long_cfg = balanced_network(tmp_path / "long", n_exc=160, n_inh=40, tstop=1_000_000.0)
    panel.config = long_cfg
    panel.run_button.click()
    _wait_for(lambda: panel.run.progress.n_spikes > 0)
    assert not panel.stop_button.disabled
    panel.stop_button.click()
    assert panel.wait(120) == "stopped"
    assert "RunStoppedError" in panel.error and panel.error_box.layout.display == ""
    wait_idle(raster)
    assert raster.n_received == len(panel.run.spikes) > 0
    assert 0 < panel.progress_bar.value < 1 and "(kept)" in panel.status_label.value


def test_bad_config_is_shown_in_the_panel(tmp_path):
    panel = RunPanel(str(tmp_path / "missing.json"))
    panel.run_button.click()
    assert panel.wait(120) == "failed"
    assert "missing.json" in panel.error and "missing.json" in panel.error_box.value
    assert not panel.run_button.disabled and panel.restart_button.layout.display == "none"


def test_engine_death_then_restart_cluster(tmp_path, tmp_path_factory):
    rc = start_cluster(1, profile_dir=tmp_path_factory.mktemp("ipp") / "profile")
    raster = LiveRaster()
    panel = RunPanel(balanced_network(tmp_path / "net", n_exc=160, n_inh=40, tstop=1_000_000.0), cluster=rc,
                     views=[raster], output_dir=tmp_path / "out", overwrite=True,
                     cluster_kwargs={"profile_dir": tmp_path_factory.mktemp("ipp2") / "profile"})
    try:
        pid = rc[:].apply_sync(os.getpid)[0]
        panel.run_button.click()
        _wait_for(lambda: panel.run.progress.n_spikes > 0)
        os.kill(pid, signal.SIGKILL)
        assert panel.wait(60) == "failed"
        assert isinstance(panel.run.error, EngineDiedError)
        assert "EngineDiedError" in panel.error and "Restart cluster" in panel.error_box.value
        assert panel.restart_button.layout.display == ""
        wait_idle(raster)
        kept = len(panel.run.spikes)
        assert kept > 0 and raster.n_received == kept

        panel.restart_button.click()
        _wait_for(lambda: panel.status != "restarting", timeout=180)
        assert panel.status == "idle", panel.error
        assert panel.cluster is not rc and len(panel.cluster.ids) == 1
        assert panel.restart_button.layout.display == "none"
        panel.config = balanced_network(tmp_path / "small", n_exc=80, n_inh=20, tstop=200.0)
        panel.run_button.click()
        assert panel.wait(180) == "done", panel.error
        wait_idle(raster)
        assert raster.n_received == len(panel.run.spikes) == sum(panel.run.result.n_spikes.values()) > 0
    finally:
        stop_cluster(panel.cluster)
        stop_cluster(rc)
