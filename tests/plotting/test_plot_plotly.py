"""The plotly versions: figure traces checked for type (WebGL for spikes), point counts and names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("plotly", reason="plotly is needed for modelkit.plotting.plotly")

from modelkit.plotting import plotly as mkp  # noqa: E402
from modelkit.sonata import CompartmentReport, read_spikes  # noqa: E402


def test_raster_is_webgl_with_one_trace_per_group(ref_spikes, p120_config, tmp_path):
    fig = mkp.raster(ref_spikes, config_file=p120_config, group_by="pop_name", title="point_120cells")
    assert [(t.type, t.name, len(t.x)) for t in fig.data] == [("scattergl", "LIF_exc (833)", 833),
                                                               ("scattergl", "LIF_inh (364)", 364)]
    sp = read_spikes(ref_spikes)["cortex"]
    np.testing.assert_allclose(np.sort(np.asarray(fig.data[0].x)), np.sort(sp.timestamps[sp.node_ids < 80]))
    assert fig.layout.xaxis.title.text == "time (ms)" and fig.layout.title.text == "point_120cells"
    fig.write_html(tmp_path / "r.html", include_plotlyjs=False)
    assert "scattergl" in (tmp_path / "r.html").read_text()


def test_raster_of_many_spikes_stays_one_trace_per_group():
    n = 200_000
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"population": np.where(rng.random(n) < 0.5, "a", "b"), "node_ids": rng.integers(0, 500, n),
                       "timestamps": rng.uniform(0, 1000, n)})
    fig = mkp.raster(df)
    assert [t.type for t in fig.data] == ["scattergl", "scattergl"] and sum(len(t.x) for t in fig.data) == n


def test_rates_three_kinds(ref_spikes, p120_config):
    bar = mkp.rates(ref_spikes, config_file=p120_config, group_by="pop_name")
    (b,) = bar.data
    assert b.type == "bar" and list(b.x) == ["LIF_exc", "LIF_inh"]
    np.testing.assert_allclose(b.y, [833 / 80 / 3.0, 364 / 40 / 3.0])
    hist = mkp.rates(ref_spikes, config_file=p120_config, group_by="pop_name", kind="hist")
    assert [(t.type, t.name, len(t.x)) for t in hist.data] == [("histogram", "LIF_exc (80 nodes)", 80),
                                                                ("histogram", "LIF_inh (40 nodes)", 40)]
    psth = mkp.rates(ref_spikes, config_file=p120_config, group_by="pop_name", kind="time", bin_ms=100.0)
    assert [(t.name, len(t.x)) for t in psth.data] == [("LIF_exc", 30), ("LIF_inh", 30)]
    assert psth.layout.xaxis.title.text == "time (ms)"


def test_traces_connectivity_and_degrees(small_run, p120_config):
    _, res = small_run
    fig = mkp.traces(res, node_ids=[0, 40])
    assert [t.name for t in fig.data] == ["cortex 0", "cortex 40"] and fig.layout.yaxis.title.text == "V_m (mV)"
    rep = CompartmentReport(res.reports["membrane_potential"])["cortex"]
    np.testing.assert_allclose(fig.data[1].y, rep.data([40])[:, 0])
    assert fig.data[0].type == "scatter"  # 2 x 2000 points: SVG lines
    t = np.arange(30_000) * 0.1
    long = pd.DataFrame({0: np.sin(t), 1: np.cos(t)}, index=pd.Index(t, name="time"))
    assert [tr.type for tr in mkp.traces(long).data] == ["scattergl"] * 2  # past WEBGL_POINTS: WebGL
    heat = mkp.connectivity_matrix(config_file=p120_config)
    assert heat.data[0].type == "heatmap" and np.asarray(heat.data[0].z).sum() == 1469 + 1192
    deg = mkp.degree_distribution(config_file=p120_config)
    assert [len(t.x) for t in deg.data] == [120, 120]


def test_raster_past_max_points_is_one_image_of_counts_per_pixel():
    """10^6 spikes: a go.Image equal to np.histogram2d of the spikes, the legend kept as empty named traces."""
    from modelkit.analysis.binning import density_rgb
    n = 1_000_000
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"population": np.where(rng.random(n) < 0.3, "a", "b"), "node_ids": rng.integers(0, 500, n),
                       "timestamps": rng.uniform(0, 1000, n)})
    fig = mkp.raster(df, image_shape=(300, 800))
    img, *legend = fig.data
    assert img.type == "image" and [(t.type, t.name, list(t.x)) for t in legend] == [
        ("scattergl", f"a ({(df.population == 'a').sum():,})", [None]),
        ("scattergl", f"b ({(df.population == 'b').sum():,})", [None])]
    rows = df.node_ids.to_numpy() + np.where(df.population == "a", 0, 500)  # b stacked above a
    t = df.timestamps.to_numpy()
    counts = np.stack([np.histogram2d(rows[df.population == g], t[df.population == g], bins=(300, 800),
                                      range=((-0.5, 999.5), (t.min(), t.max())))[0] for g in ("a", "b")])
    pal = [legend[0].marker.color, legend[1].marker.color]
    want = density_rgb(counts.astype(np.int64), [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in pal])
    np.testing.assert_array_equal(np.asarray(img.z), want[::-1])  # bottom row first: the y axis grows up
    assert img.y0 - img.dy / 2 == pytest.approx(-0.5) and img.x0 - img.dx / 2 == pytest.approx(t.min())
    assert fig.layout.yaxis.autorange is True
    assert len(fig.to_json()) < 5_000_000  # the pixels' cost, not 10^6 points'
