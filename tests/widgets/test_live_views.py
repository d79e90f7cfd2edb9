"""LiveRaster and LiveRates: every spike received is counted and drawn (or thinned on purpose), redraws coalesce."""

from __future__ import annotations

import numpy as np
import pytest
from _widget_waits import wait_idle

from modelkit.cluster import run_local
from modelkit.datasets import balanced_network
from modelkit.sonata import read_spikes
from modelkit.widgets import LiveRaster, LiveRates


def _drawn(raster: LiveRaster) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {m.labels[0]: (np.asarray(m.x), np.asarray(m.y)) for m in raster.figure.marks}


def test_raster_draws_every_spike_received(blocks):
    data = blocks(20, 500)
    raster = LiveRaster(iter(data), sizes={"exc": 800, "inh": 200})
    wait_idle(raster)
    total = sum(len(ids) for _, ids, _ in data)
    assert raster.n_received == total == raster.n_shown
    drawn = _drawn(raster)
    assert sum(len(x) for x, _ in drawn.values()) == total
    assert raster.renderer == "svg" and {type(m).__name__ for m in raster.figure.marks} == {"Scatter"}
    for pop, offset in (("exc", 0), ("inh", 800)):  # rows stacked by population, in order of arrival
        ids = np.concatenate([i for p, i, _ in data if p == pop])
        ts = np.concatenate([t for p, _, t in data if p == pop])
        x, y = drawn[pop]
        np.testing.assert_allclose(x, ts.astype(np.float32))
        np.testing.assert_array_equal(y, (ids + offset).astype(np.float32))
    # coalesced: far fewer redraws than blocks
    assert raster.feed.n_redraws < len(data)
    assert "mk-count" in raster.label.value and f"data-received='{total}'" in raster.label.value


def test_raster_coloured_by_a_node_attribute(tmp_path):
    """group_by: one mark per value of the attribute within each population; rows from the network's sizes."""
    import modelkit
    net = modelkit.load(balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=10, tstop=50.0))
    ei = net.nodes["cortex"].get(["ei"])["ei"].to_numpy()
    rng = np.random.default_rng(1)
    ids = np.concatenate([rng.integers(0, 100, 400), [150]])  # and one id the network does not have
    ts = np.sort(rng.uniform(0, 50, len(ids)))
    raster = LiveRaster(iter([("cortex", ids, ts), ("input", np.arange(10), np.full(10, 5.0))]), network=net,
                        group_by="ei")
    wait_idle(raster)
    drawn = _drawn(raster)
    assert list(drawn) == ["cortex: e", "cortex: i", "cortex: ?", "input: e"]
    for label in ("e", "i"):
        x, y = drawn[f"cortex: {label}"]
        want = (ids < 100) & (np.where(ids < 100, ei[np.minimum(ids, 99)], "") == label)
        np.testing.assert_array_equal(y, ids[want].astype(np.float32))
        np.testing.assert_allclose(x, ts[want].astype(np.float32))
    assert drawn["cortex: ?"][1].tolist() == [150.0]
    np.testing.assert_array_equal(drawn["input: e"][1], np.arange(10) + 100)  # stacked after cortex's 100 rows
    assert raster.n_shown == raster.n_received == len(ids) + 10
    with pytest.raises(ValueError, match="network="):
        LiveRaster(group_by="ei")
    with pytest.raises(ValueError, match="no population"):
        LiveRaster(network=net, group_by="no_such_attribute")


def test_raster_thins_windows_and_switches_to_webgl(blocks):
    data = blocks(60, 5000)  # 375,000 spikes
    total = sum(len(ids) for _, ids, _ in data)
    raster = LiveRaster(iter(data), max_points=50_000, gl_threshold=20_000, byte_rate=50e6)
    wait_idle(raster)
    assert raster.n_received == total
    assert 45_000 <= raster.n_shown <= 55_000
    assert raster.renderer == "webgl"
    assert {type(m).__name__ for m in raster.figure.marks} == {"ScatterGL"}
    assert sum(len(m.x) for m in raster.figure.marks) == raster.n_shown
    # both populations thinned by the same factor (densities compare)
    shares = {m.labels[0]: len(m.x) / sum(len(i) for p, i, _ in data if p == m.labels[0])
              for m in raster.figure.marks}
    assert abs(shares["exc"] - shares["inh"]) < 0.02
    # a window of the last 50 ms shows exactly the spikes there (fewer than max_points: not thinned)
    raster.window = 50.0
    t_max = max(float(t.max()) for _, _, t in data)
    in_window = sum(int(np.count_nonzero(t >= t_max - 50.0)) for _, _, t in data)
    assert raster.n_shown == in_window
    assert min(float(np.min(m.x)) for m in raster.figure.marks) >= np.float32(t_max - 50.0)
    # an interval in full detail, and back
    raster.show(100.0, 120.0)
    assert raster.n_shown == sum(int(np.count_nonzero((t >= 100.0) & (t < 120.0))) for _, _, t in data)
    assert raster.spikes()["exc"][0].size + raster.spikes()["inh"][0].size == total


def test_raster_rejects_bad_settings():
    raster = LiveRaster()
    with pytest.raises(Exception, match="max_points"):
        raster.max_points = 0
    with pytest.raises(Exception, match="max_rate"):
        raster.max_rate = 0.0
    with pytest.raises(TypeError, match="LiveRun or an iterable"):
        raster.attach(42)


def test_rates_in_hz_per_cell(blocks):
    # 100 cells, every cell fires once per 10 ms bin -> 100 Hz
    data = [("pop", np.arange(100), np.full(100, 10.0 * b + 5.0)) for b in range(30)]
    rates = LiveRates(iter(data), sizes={"pop": 100}, bin_ms=10.0)
    wait_idle(rates)
    assert rates.n_received == 3000 and rates.n_bins == 30
    np.testing.assert_allclose(rates.rates()["pop"], 100.0)
    np.testing.assert_allclose(np.asarray(rates.lines.y), 100.0)
    two = LiveRates(iter(blocks(10, 400)), sizes={"exc": 800, "inh": 200}, bin_ms=10.0)
    wait_idle(two)
    y = np.asarray(two.lines.y)
    assert y.shape == (2, 10)
    np.testing.assert_allclose(y[0], 400 / 800 / 0.010)  # exc: 400 spikes per bin over 800 cells
    np.testing.assert_allclose(y[1], 100 / 200 / 0.010)


def test_views_follow_a_live_run_exactly(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=160, n_inh=40, tstop=400.0)
    raster, rates = LiveRaster(), LiveRates(sizes={"cortex": 200})
    run = run_local(cfg, output_dir=tmp_path / "out")
    raster.attach(run)
    rates.attach(run)
    assert run.wait(180) == "done", run.error
    wait_idle(raster, rates)
    written = read_spikes(run.result.spikes_file)["cortex"]
    assert raster.n_received == rates.n_received == len(run.spikes) == len(written.node_ids) > 0
    ids, ts = raster.spikes()["cortex"]
    a = np.lexsort((ts, ids))
    b = np.lexsort((written.timestamps, written.node_ids))
    np.testing.assert_array_equal(ids[a], written.node_ids[b])
    np.testing.assert_array_equal(ts[a], written.timestamps[b])
    # attaching after the end replays everything once
    late = LiveRaster(run)
    wait_idle(late)
    assert late.n_received == raster.n_received
