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


def _png_pixels(data: bytes) -> np.ndarray:
    from PIL import Image
    import io
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _reference_counts(raster: LiveRaster, data, sizes: dict) -> np.ndarray:
    """np.histogram2d of the spikes, per legend entry, on the raster's own grid."""
    v = raster.view
    ny, nx = v["shape"]
    offsets, y = {}, 0
    for pop in dict.fromkeys(p for p, _, _ in data):
        offsets[pop] = y
        y += sizes[pop]
    out = np.zeros((len(v["keys"]), ny, nx), np.int64)
    for k, key in enumerate(v["keys"]):
        ids = np.concatenate([i for p, i, _ in data if p == key])
        ts = np.concatenate([t for p, _, t in data if p == key])
        out[k] = np.histogram2d(ids + offsets[key], ts, bins=(ny, nx), range=(v["row_range"], v["t_range"]))[0]
    return out


def test_raster_bins_to_pixels_above_max_points(blocks):
    """375,000 spikes: one PNG image of counts per pixel (not thinned points), equal to a reference binning."""
    from modelkit.analysis.binning import density_rgb
    from modelkit.widgets.live_raster import _rgb
    data = blocks(60, 5000)
    total = sum(len(ids) for _, ids, _ in data)
    sizes = {"exc": 800, "inh": 200}
    raster = LiveRaster(iter(data), sizes=sizes, max_points=50_000)
    wait_idle(raster)
    assert raster.n_received == raster.n_shown == total  # every spike is in the image
    assert raster.renderer == "image"
    assert [type(m).__name__ for m in raster.figure.marks] == ["Image"]
    t_max = max(float(t.max()) for _, _, t in data)
    assert raster.view["t_range"][0] == 0.0 and raster.view["t_range"][1] >= t_max
    ref = _reference_counts(raster, data, sizes)
    assert ref.sum() == total
    want = density_rgb(ref, [_rgb(c) for c in raster.view["colors"]])
    np.testing.assert_array_equal(_png_pixels(raster._png.value), want)
    assert len(raster._png.value) < 200_000  # the pixels' cost, not the spikes'
    n_exc = sum(len(i) for p, i, _ in data if p == "exc")
    assert "exc" in raster.legend.value and f"({n_exc:,})" in raster.legend.value
    # the last 50 ms hold fewer than max_points spikes: drawn as points, exactly those
    raster.window = 50.0
    in_window = sum(int(np.count_nonzero(t >= t_max - 50.0)) for _, _, t in data)
    assert raster.renderer == "svg" and raster.n_shown == in_window
    assert sum(len(m.x) for m in raster.figure.marks) == in_window
    assert min(float(np.min(m.x)) for m in raster.figure.marks if len(m.x)) >= np.float32(t_max - 50.0)
    # with WebGL on the page, points are ScatterGL
    raster.page.webgl = True
    raster.feed.flush()
    assert raster.renderer == "webgl" and {type(m).__name__ for m in raster.figure.marks} == {"ScatterGL"}
    raster.window = 0.0
    raster.show(100.0, 120.0)
    assert raster.n_shown == sum(int(np.count_nonzero((t >= 100.0) & (t <= 120.0))) for _, _, t in data)
    assert raster.spikes()["exc"][0].size + raster.spikes()["inh"][0].size == total


def test_raster_rebins_a_zoomed_view(blocks):
    """A zoom in the page (the scales' min/max change) re-bins that view from every spike; Follow run goes back."""
    data = blocks(40, 5000)
    sizes = {"exc": 800, "inh": 200}
    raster = LiveRaster(iter(data), sizes=sizes, max_points=10_000)
    wait_idle(raster)
    whole = raster.view["t_range"]
    assert raster.follow_button.disabled
    with raster._x.hold_trait_notifications():  # what PanZoom does in the page
        raster._x.min, raster._x.max = 50.0, 150.0
    wait_idle(raster)
    raster.feed.flush()
    assert raster.view["t_range"] == (50.0, 150.0)
    in_view = sum(int(np.count_nonzero((t >= 50.0) & (t <= 150.0))) for _, _, t in data)
    assert raster.n_shown == in_view > 10_000 and raster.renderer == "image"
    ref = _reference_counts(raster, data, sizes)
    from modelkit.analysis.binning import density_rgb
    from modelkit.widgets.live_raster import _rgb
    np.testing.assert_array_equal(_png_pixels(raster._png.value),
                                  density_rgb(ref, [_rgb(c) for c in raster.view["colors"]]))
    assert not raster.follow_button.disabled
    raster.follow_button.click()
    assert raster.view["t_range"] == whole


def test_one_redraw_in_flight_once_a_page_answers():
    """With a page showing the view, a redraw waits for the page's acknowledgement of the previous one."""
    raster = LiveRaster(max_rate=1000)
    page = raster.page
    assert not page.pending()  # no page yet: never waits
    page._on_msg(page, {"ack": 0}, [])  # a page answered once
    raster.push("p", np.arange(10), np.linspace(0, 1, 10))
    wait_idle(raster)
    assert page.pending()  # the last redraw is not acknowledged
    n = raster.feed.n_redraws
    raster.push("p", np.arange(10), np.linspace(1, 2, 10))
    import time
    time.sleep(0.5)
    assert raster.feed.n_redraws == n  # held back while the page has not drawn the previous one
    page._on_msg(page, {"ack": page._sent}, [])
    wait_idle(raster)
    assert raster.n_received == 20


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


def test_rates_group_as_the_raster_does(tmp_path):
    """LiveRates(group_by=...) draws one line per value, per cell of that value, in the raster's colours."""
    import modelkit
    net = modelkit.load(balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=10, tstop=50.0))
    ei = net.nodes["cortex"].get(["ei"])["ei"].to_numpy()
    data = [("cortex", np.arange(100), np.full(100, 10.0 * b + 5.0)) for b in range(5)]  # each cell once a bin
    rates = LiveRates(iter(data), network=net, group_by="ei", bin_ms=10.0)
    raster = LiveRaster(iter(data), network=net, group_by="ei")
    wait_idle(rates, raster)
    assert list(rates.rates()) == raster.view["keys"] == ["cortex: e", "cortex: i"]
    for key in ("cortex: e", "cortex: i"):
        np.testing.assert_allclose(rates.rates()[key], 100.0)  # Hz per cell of that value
    for label in ("e", "i"):
        assert rates._group_sizes[f"cortex: {label}"] == int((ei == label).sum())
    assert list(rates.lines.colors[:2]) == raster.view["colors"]
    assert rates.n_received == raster.n_received == 500
    with pytest.raises(ValueError, match="network="):
        LiveRates(group_by="ei")
