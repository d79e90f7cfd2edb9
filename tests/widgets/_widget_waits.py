"""Waiting for live views in tests (imported by name: conftest modules of two folders would collide)."""

from __future__ import annotations

import time

from modelkit.sonata import read_spikes


def wait_idle(*views, timeout: float = 60.0) -> None:
    """Wait until every view drew everything its source sent (and the source ended)."""
    deadline = time.monotonic() + timeout
    while not all(v.feed.idle for v in views):
        assert time.monotonic() < deadline, "a live view did not catch up with its source"
        time.sleep(0.02)
    for v in views:
        assert v.feed.error is None, v.feed.error
        v.feed.flush()  # the final state, drawn synchronously


def simulate_and_wait(panel, timeout: float, population: str = "v1"):
    """Press a BuilderPanel's Simulate: the RunPanel and raster it puts under the form, the run waited for
    (``timeout`` s) and drawn whole; returns ``(run_panel, raster, spikes of population)``."""
    run_panel = panel.simulate()
    assert run_panel is not None, panel.error
    raster = panel.namespace["raster"]
    assert list(panel.sim.slot.children) == [run_panel, raster]
    assert run_panel.wait(timeout) == "done", run_panel.error
    wait_idle(raster)
    spikes = read_spikes(run_panel.run.result.spikes_file)[population]
    assert raster.n_received == len(spikes) == len(run_panel.run.spikes)
    return run_panel, raster, spikes
