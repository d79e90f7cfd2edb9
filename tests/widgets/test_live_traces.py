"""LiveTraces: the chosen cells' samples are all kept, the browser gets a bounded envelope, redraws coalesce."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from _widget_waits import wait_idle

from modelkit.cluster import run_local
from modelkit.datasets import balanced_network
from modelkit.sonata import CompartmentReport
from modelkit.widgets import LiveTraces
from modelkit.widgets.live_traces import envelope


def frames(n_blocks: int = 50, per_block: int = 100, n_cells: int = 10, dt: float = 0.1, seed: int = 0):
    """Seeded blocks of membrane-potential frames of ``n_cells`` cells (node ids 100, 102, ...)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(100, 100 + 2 * n_cells, 2)
    out = []
    for b in range(n_blocks):
        t = (b * per_block + np.arange(per_block)) * dt
        v = -65.0 + rng.normal(0, 2.0, (per_block, n_cells)).astype(np.float32)
        out.append(("membrane_potential", "cortex", "V_m", ids, t, v))
    return out


def test_keeps_every_sample_of_the_chosen_cells():
    data = frames()
    view = LiveTraces(iter(data), cells=3, max_points=100_000)
    wait_idle(view)
    (key, (ids, t, v)), = view.traces().items()
    assert key == ("membrane_potential", "cortex", "V_m")
    assert ids.tolist() == [100, 108, 118]  # spread over the 10 recorded cells: columns 0, 4 (4.5 to even), 9
    np.testing.assert_array_equal(t, np.concatenate([f[4] for f in data]))
    np.testing.assert_array_equal(v, np.concatenate([f[5] for f in data])[:, [0, 4, 9]])
    assert view.n_received == len(t) == 5000
    # everything fits: drawn as is, one line per cell, labelled, units on the axes
    assert np.asarray(view.lines.y).shape == (3, 5000) and view.n_shown == 5000
    assert list(view.lines.labels) == ["cortex 100", "cortex 108", "cortex 118"]
    assert [a.label for a in view.figure.axes] == ["time (ms)", "V_m (mV)"]
    assert view.feed.n_redraws < len(data)  # coalesced
    assert "data-received='5000'" in view.label.value


def test_cells_by_node_id_and_a_window():
    data = frames()
    view = LiveTraces(iter(data), cells=[104, 112], window=100.0)
    wait_idle(view)
    x = np.asarray(view.lines.x)
    assert list(view.lines.labels) == ["cortex 104", "cortex 112"]
    assert x[0] >= 499.9 - 100.0 - 1e-3 and x[-1] == pytest.approx(499.9)  # the last 100 ms only
    assert len(x) <= view.max_points


def test_the_browser_gets_a_bounded_envelope_that_keeps_the_peaks():
    n = 100_000
    t = np.arange(n) * 0.025
    v = np.full((1, n), -65.0, np.float32)
    v[0, 12_345] = 40.0   # one action potential, a single sample high
    v[0, 77_777] = -90.0  # and a single sample low
    x, y = envelope(t, v, 500)
    assert len(x) <= 500 and y.shape == (1, len(x))
    assert y.max() == 40.0 and y.min() == -90.0
    assert np.all(np.diff(x) >= 0)  # still in time order
    x2, y2 = envelope(t[:300], v[:, :300], 500)  # fits: unchanged
    assert len(x2) == 300 and y2 is v[:, :300] or np.array_equal(y2, v[:, :300])

    data = [("r", "p", "v", np.array([0]), t[i:i + 1000], v[0, i:i + 1000, None]) for i in range(0, n, 1000)]
    view = LiveTraces(iter(data), max_points=400)
    wait_idle(view)
    assert view.n_received == n and 0 < view.n_shown <= 400
    assert max(view.lines.y) == 40.0 and min(view.lines.y) == -90.0
    assert view.figure.axes[1].label == "v (mV)"


def test_first_report_and_variable_unless_told():
    mixed = [("rates", "cortex", "firing_rates", np.array([0, 1]), np.array([0.0, 1.0]), np.ones((2, 2))),
             *frames(2)]
    first = LiveTraces(iter(mixed))
    told = LiveTraces(iter(mixed), report="membrane_potential")
    wait_idle(first, told)
    assert first.report == "rates" and first.figure.axes[1].label == "firing_rates (Hz)"
    assert list(told.traces()) == [("membrane_potential", "cortex", "V_m")]


def test_refuses_bad_settings_and_shapes():
    with pytest.raises(ValueError, match="cells"):
        LiveTraces(cells=0)
    with pytest.raises(ValueError, match="cells"):
        LiveTraces(cells=[])
    for trait, value in (("max_points", 1), ("max_rate", 0.0), ("window", -5.0)):
        with pytest.raises(traitlets.TraitError, match=trait):
            LiveTraces(**{trait: value})
    view = LiveTraces()
    with pytest.raises(ValueError, match=r"times x nodes"):
        view.push("r", "p", "v", np.arange(3), np.arange(5.0), np.zeros((3, 5)))
    with pytest.raises(TypeError, match="LiveRun or an iterable"):
        view.attach(42)


def test_follows_a_live_run_exactly(tmp_path):
    """The samples of the cells shown are those of the report file; attaching late replays them once."""
    cfg = balanced_network(tmp_path / "net", n_exc=160, n_inh=40, tstop=300.0)
    view = LiveTraces(cells=2)
    run = run_local(cfg, output_dir=tmp_path / "out")
    view.attach(run)
    assert run.wait(180) == "done", run.error
    wait_idle(view)
    (key, (ids, t, v)), = view.traces().items()
    report = CompartmentReport(run.result.reports[key[0]])[key[1]]
    cols = [list(report.node_ids).index(i) for i in ids]
    np.testing.assert_allclose(t, report.times)
    np.testing.assert_allclose(v, report.data()[:, cols], rtol=1e-6)
    late = LiveTraces(run, cells=2)
    wait_idle(late)
    assert late.n_received == view.n_received == len(report.times)
