"""Filter backend: kernels, analytic responses, gratings, seeded spikes, LGN -> V1 in NEST, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.builder import FixedProbability, NetworkBuilder
from modelkit.errors import ConfigError, ModelkitError, UnknownModelError
from modelkit.simulator import simulate
from modelkit.simulator.filter import (FilterBackend, RateError, StimulusError, build_units, evaluate,
                                       full_field_flash, gaussian_profiles, grating, looming, movie,
                                       rates_to_spikes, temporal_kernels)
from modelkit.simulator.filter.kernels import NKT, sample_kernels
from modelkit.sonata import read_spikes

TON = {"opt_wts": [4.21848979193672, -2.404989833331929], "opt_kpeaks": [8.524645232832142, 23.246816713624384],
       "opt_delays": [0, 0]}
SOFF = {"opt_wts": [3.229814878308509, -1.6587975171052909], "opt_kpeaks": [22.246197660260687, 56.10036268151849],
        "opt_delays": [0, 15]}


def _bumps_by_hand(w, kp, d):
    """The biphasic filter written out from its definition: raised cosines in log(t + 0.3 ms), each with unit
    L2 norm over t = 1..600 ms (the later one over the part that its delay keeps), delayed, weighted."""
    db = np.log(200.3) - np.log(100.3)
    out = np.zeros(NKT + int(d[0]))
    for k in (0, 1):
        keep = NKT - (int(d[1]) - int(d[0]) if k == 1 else 0)
        t = np.arange(1, keep + 1.0)
        arg = np.clip((np.log(t + 0.3) - np.log(kp[k])) * np.pi / (2 * db), -np.pi, np.pi)
        b = (np.cos(arg) + 1) / 2
        b /= np.linalg.norm(b)
        out[np.arange(keep) + int(d[k])] += w[k] * b
    return out


# --------------------------------------------------------------------------- kernels
def test_temporal_kernel_is_the_weighted_sum_of_normalised_bumps():
    k = temporal_kernels(np.array([TON["opt_wts"], SOFF["opt_wts"]]), np.array([TON["opt_kpeaks"],
                         SOFF["opt_kpeaks"]]), np.array([TON["opt_delays"], [7.9, 40]]))
    assert k.shape == (2, NKT + 7)  # delays are whole ms (truncated, as bmtk)
    np.testing.assert_allclose(k[0, :NKT], _bumps_by_hand(TON["opt_wts"], TON["opt_kpeaks"], [0, 0]), atol=1e-12)
    np.testing.assert_allclose(k[1], _bumps_by_hand(SOFF["opt_wts"], SOFF["opt_kpeaks"], [7, 40]), atol=1e-12)
    assert np.all(k[0, NKT:] == 0) and np.all(k[1, :7] == 0)  # nothing before the first delay
    # biphasic: positive lobe first, then negative
    assert k[0].argmax() < k[0].argmin() and k[0].max() > 0 > k[0].min()


def test_temporal_kernel_matches_bmtk_filter_and_frame_sampling():
    tf = pytest.importorskip("bmtk.simulator.filternet.lgnmodel.temporalfilter")
    for p in (TON, SOFF, {"opt_wts": [2.0, -1.0], "opt_kpeaks": [30.0, 90.0], "opt_delays": [5, 45]}):
        ref = tf.TemporalFilterCosineBump(p["opt_wts"], p["opt_kpeaks"], np.array(p["opt_delays"]))
        ours = temporal_kernels(np.array([p["opt_wts"]]), np.array([p["opt_kpeaks"]]), np.array([p["opt_delays"]]))
        np.testing.assert_allclose(ours[0, :len(ref.kernel_data)], ref.kernel_data, atol=1e-14)
        for fr in (1000.0, 60.0, 30.0):  # bmtk interpolates its 1 ms kernel at the frame lags
            kb = ref.get_kernel(t_range=np.arange(100) / fr, threshold=-1).kernel
            km = sample_kernels(ours, fr, 100)[0]
            np.testing.assert_allclose(km, kb[:len(km)], atol=1e-14)
            assert np.all(kb[len(km):] == 0)


def test_spatial_gaussian_normalisation_centre_and_width():
    rows, cols = np.arange(60.0), np.arange(80.0)
    y, x, s = np.array([30.0, 20.25, 2.0]), np.array([40.0, 50.5, 1.0]), np.array([3.0, 2.0, 4.0])
    pr, pc = gaussian_profiles(y, s, rows), gaussian_profiles(x, s, cols)
    k = pr[:, :, None] * pc[:, None, :]
    k /= k.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(k.sum(axis=(1, 2)), 1.0)  # normalised over the screen, also when truncated
    for i in range(2):  # centred where asked, with the asked standard deviation (pixels are 1 degree)
        mr = (k[i].sum(1) * rows).sum()
        mc = (k[i].sum(0) * cols).sum()
        assert abs(mr - y[i]) < 1e-6 and abs(mc - x[i]) < 1e-6
        var = (k[i].sum(0) * (cols - mc) ** 2).sum()
        # the discrete Gaussian, plus the spread of bmtk's 2-pixel centring (1/4, an even number of columns)
        # and of its bilinear shift from the screen's centre (f(1 - f) for a shift by a fraction f of a pixel)
        f = (x[i] - (len(cols) - 1) / 2) % 1.0
        assert abs(var - (s[i] ** 2 + f * (1 - f) + 0.25)) < 0.05
    # a cell near the corner keeps the on-screen part of its field, still peaked at its centre
    assert np.unravel_index(k[2].argmax(), k[2].shape) == (2, 1) and k[2, 0, 0] > 0.5 * k[2].max()


def test_spatial_gaussian_matches_bmtk():
    sf = pytest.importorskip("bmtk.simulator.filternet.lgnmodel.spatialfilter")
    rows, cols = np.arange(48.0), np.arange(96.0)
    for (x, y, s) in [(10.3, 20.7, (3.0, 3.0)), (0.0, 0.0, (6.0, 2.0)), (95.0, 47.4, (1.5, 4.0))]:
        k = sf.GaussianSpatialFilter(translate=(x, y), sigma=s, origin=(0.0, 0.0)).get_kernel(rows, cols)
        ref = np.zeros((48, 96))
        ref[k.row_inds, k.col_inds] = k.kernel
        ours = np.outer(gaussian_profiles(np.array([y]), np.array([s[1]]), rows)[0],
                        gaussian_profiles(np.array([x]), np.array([s[0]]), cols)[0])
        np.testing.assert_allclose(ours / ours.sum(), ref, atol=1e-15)


def _units(template="lgnmodel:tON_TF8", params=TON, n=1, **cols):
    import pandas as pd
    df = pd.DataFrame({"model_template": [template] * n, "dynamics_params": [params] * n,
                       "x": cols.pop("x", [30.0] * n), "y": cols.pop("y", [20.0] * n),
                       "spatial_size": cols.pop("spatial_size", [6.0] * n), **cols})
    return build_units(df, np.arange(n), None, "test", np.random.default_rng(0))


def test_impulse_response_is_the_kernel():
    """A one-frame full-field flash: the linear response is the sampled temporal kernel x frame dt x amplitude."""
    units = _units(spont_fr=[0.0])
    frames = np.zeros((400, 40, 60))
    frames[50] = 1.0
    stim = movie(frames, frame_rate=1000.0)
    _, _, lin = evaluate(units, stim, return_linear=True)
    k = temporal_kernels(np.array([TON["opt_wts"]]), np.array([TON["opt_kpeaks"]]), np.array([[0, 0]]))[0]
    np.testing.assert_allclose(lin[50:, 0], k[:350], atol=1e-12)
    np.testing.assert_allclose(lin[:50, 0], 0.0, atol=1e-12)  # causal
    # an OFF cell: the same kernel with the opposite sign; at 500 frames/s: the kernel at 2 ms lags x 2 ms
    off = _units("lgnmodel:sOFF_TF4", SOFF, spont_fr=[0.0])
    _, _, lin2 = evaluate(off, movie(frames[::2], frame_rate=500.0), return_linear=True)
    k2 = temporal_kernels(np.array([SOFF["opt_wts"]]), np.array([SOFF["opt_kpeaks"]]), np.array([[0, 15]]))[0]
    np.testing.assert_allclose(lin2[25:, 0], -2.0 * k2[0:350:2], atol=1e-12)


def test_full_field_flash_equals_analytic_convolution():
    """rate(t) = max(0, spont + I * dt * sum_{lag <= t - t_on} k(lag) - I * dt * sum_{lag <= t - t_off} k(lag))."""
    spont, inten, t_on, t_off = 3.0, 0.8, 100.0, 350.0
    units = _units(spont_fr=[spont] * 3, n=3, x=[5.0, 30.0, 58.0], y=[3.0, 20.0, 39.0],
                   spatial_size=[3.0, 9.0, 15.0])
    stim = full_field_flash(40, 60, t_on, t_off, duration=700.0, max_intensity=inten, frame_rate=1000.0)
    times, rates = evaluate(units, stim)
    k = _bumps_by_hand(TON["opt_wts"], TON["opt_kpeaks"], [0, 0])
    cum = np.concatenate([np.cumsum(k), np.full(1000, k.sum())])  # step response; the kernel ends at 600 ms
    t = np.arange(len(times))
    on = np.where(t >= t_on, cum[np.clip(t - int(t_on), 0, None)], 0.0)
    off = np.where(t >= t_off, cum[np.clip(t - int(t_off), 0, None)], 0.0)
    expected = np.maximum(0.0, spont + inten * 1.0 * (on - off))
    for c in range(3):  # wherever the cell sits, and however wide its field: the field sums to 1
        np.testing.assert_allclose(rates[:, c], expected, atol=1e-9)
    assert rates[:, 0].max() > 4 * spont and rates[:, 0].min() == 0.0  # a real, rectified transient


def test_drifting_grating_modulates_rate_at_its_temporal_frequency():
    units = _units(n=2, x=[20.0, 40.0], y=[15.0, 25.0], spatial_size=[9.0, 9.0])
    for tf in (2.0, 4.0, 8.0):
        stim = grating(40, 60, 3000.0, cpd=0.04, temporal_f=tf, contrast=0.8, theta=0.0, frame_rate=1000.0,
                       degrees_per_pixel=1.0)
        times, rates = evaluate(units, stim)
        r = rates[1000:3000]  # 2 s after the onset transient: whole cycles of every frequency
        spec = np.abs(np.fft.rfft(r - r.mean(axis=0), axis=0))
        freqs = np.fft.rfftfreq(len(r), d=1e-3)
        for c in range(2):
            assert freqs[np.argmax(spec[:, c])] == pytest.approx(tf)
            assert np.ptp(r[:, c]) > 5.0
    # a static grating (temporal_f 0) gives a constant rate once the filter has passed its onset
    stim = grating(40, 60, 1500.0, cpd=0.04, temporal_f=0.0, contrast=0.8, theta=0.0, degrees_per_pixel=1.0)
    _, rates = evaluate(units, stim)
    assert np.ptp(rates[800:], axis=0).max() < 1e-9


def test_looming_and_movie_file_run_through_simulate(tmp_path):
    net = NetworkBuilder("lgn", seed=1)
    net.add_nodes(N=4, model_type="virtual", model_template="lgnmodel:sOFF_TF4", dynamics_params=SOFF,
                  x=np.array([60.0, 55.0, 10.0, 110.0]), y=np.array([30.0, 33.0, 5.0, 55.0]), spatial_size=6.0)
    cfg = {"target_simulator": "LGNModel", "run": {"tstop": 1500.0, "dt": 1.0},
           "inputs": {"loom": {"input_type": "movie", "module": "looming", "row_size": 60, "col_size": 120,
                               "t_looming": 1.0, "gray_screen_dur": 0.5, "frame_rate": 1000.0}},
           "output": {"output_dir": str(tmp_path / "loom")}}
    res = simulate(cfg, network=net, seed=1, progress=False)
    import h5py
    with h5py.File(res.reports["rates"]) as f:
        r = f["firing_rates/lgn/firing_rates_Hz"][()]
    # OFF cells at the centre respond to the dark disk; cells in the corners never see it
    assert r[500:, :2].max() > 3 * r[:500, :2].max()
    assert np.ptp(r[:, 2:], axis=0).max() < 1e-9
    # the same frames as a .npy movie give the same rates
    stim = looming(60, 120, t_looming=1000.0, gray_screen_dur=500.0)
    np.save(tmp_path / "loom.npy", stim.frames)
    cfg["inputs"] = {"mov": {"input_type": "movie", "module": "movie", "data_file": str(tmp_path / "loom.npy"),
                             "frame_rate": 1000.0, "row_size": 60, "col_size": 120,
                             "row_range": stim.rows.tolist(), "col_range": stim.cols.tolist()}}
    cfg["output"]["output_dir"] = str(tmp_path / "mov")
    res2 = simulate(cfg, network=net, seed=1, progress=False)
    with h5py.File(res2.reports["rates"]) as f:
        np.testing.assert_allclose(f["firing_rates/lgn/firing_rates_Hz"][()], r, atol=1e-9)


# --------------------------------------------------------------------------- spikes
def test_poisson_spikes_are_seeded_and_follow_the_rates():
    t = np.arange(2000.0)
    rates = np.zeros((2000, 3))
    rates[:, 0] = 20.0
    rates[500:1000, 1] = 100.0
    ids = np.array([7, 8, 9])
    a = rates_to_spikes(rates, t, ids, np.random.default_rng(1))
    b = rates_to_spikes(rates, t, ids, np.random.default_rng(1))
    c = rates_to_spikes(rates, t, ids, np.random.default_rng(2))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not (len(a[1]) == len(c[1]) and np.array_equal(a[1], c[1]))
    assert np.all(np.diff(a[1]) >= 0)
    n = np.bincount(a[0] - 7, minlength=3)
    assert abs(n[0] - 40) < 5 * np.sqrt(40) and abs(n[1] - 50) < 5 * np.sqrt(50) and n[2] == 0
    t8 = a[1][a[0] == 8]
    assert t8.min() >= 500.0 and t8.max() < 1000.0
    # a window keeps only spikes inside [tstart, tstop)
    w = rates_to_spikes(rates, t, ids, np.random.default_rng(1), tstart=700.0, tstop=900.0)
    assert w[1].min() >= 700.0 and w[1].max() < 900.0


def _lgn(n=30, seed=2):
    rng = np.random.default_rng(seed)
    net = NetworkBuilder("lgn", seed=seed)
    net.add_nodes(N=n, model_type="virtual", model_template="lgnmodel:tON_TF8", dynamics_params=TON,
                  x=rng.uniform(10, 50, n), y=rng.uniform(10, 30, n), spatial_size=6.0, spont_fr=20.0)
    return net


_GRATING = {"input_type": "movie", "module": "grating", "row_size": 40, "col_size": 60, "cpd": 0.04,
            "temporal_f": 4.0, "contrast": 0.8, "degrees_per_pixel": 1.0, "frame_rate": 1000.0}


def test_same_seed_same_spikes_and_backend_choice(tmp_path):
    net = _lgn()
    cfg = {"target_simulator": "LGNModel", "run": {"tstop": 800.0, "dt": 1.0}, "inputs": {"g": _GRATING},
           "output": {"output_dir": str(tmp_path / "a")}}
    r1 = simulate(cfg, network=net, seed=4, progress=False)
    cfg["output"]["output_dir"] = str(tmp_path / "b")
    r2 = simulate(cfg, network=net, seed=4, progress=False)
    cfg["output"]["output_dir"] = str(tmp_path / "c")
    del cfg["target_simulator"]  # chosen by name instead of by target_simulator
    r3 = simulate(cfg, network=net, seed=5, backend="filter", progress=False)
    assert r1.backend == r2.backend == r3.backend == "filter"
    s1, s2, s3 = (read_spikes(r.spikes_file)["lgn"] for r in (r1, r2, r3))
    assert len(s1) > 100
    np.testing.assert_array_equal(s1.node_ids, s2.node_ids)
    np.testing.assert_array_equal(s1.timestamps, s2.timestamps)
    assert not np.array_equal(s1.timestamps[:50], s3.timestamps[:50])
    assert s1.timestamps.min() >= 0.0 and s1.timestamps.max() < 800.0
    # the spike count is a Poisson draw from the written rates
    import h5py
    with h5py.File(r1.reports["rates"]) as f:
        expected = f["firing_rates/lgn/firing_rates_Hz"][:800].sum() / 1000.0
    assert abs(len(s1) - expected) < 5 * np.sqrt(expected)
    # without target_simulator or backend, virtual-only networks stay with the default backend, which is told that
    # the movie inputs are the filter backend's
    cfg["output"]["output_dir"] = str(tmp_path / "d")
    with pytest.raises(ModelkitError, match=r"inputs\.g\.module: .*movie/grating, an input of the filter backend; "
                                            r"this run uses nest"):
        simulate(cfg, network=net, progress=False)


def test_rate_report_through_membrane_report_module(tmp_path):
    from modelkit.sonata import CompartmentReport
    cfg = {"target_simulator": "LGNModel", "run": {"tstop": 300.0, "dt": 1.0}, "inputs": {"g": _GRATING},
           "reports": {"lgn_rates": {"module": "membrane_report", "cells": "lgn", "variable_name": "rate",
                                     "dt": 5.0}},
           "output": {"output_dir": str(tmp_path / "a")}}
    res = simulate(cfg, network=_lgn(5), progress=False)
    rep = CompartmentReport(res.reports["lgn_rates"])["lgn"]
    import h5py
    with h5py.File(res.reports["rates"]) as f:
        r = f["firing_rates/lgn/firing_rates_Hz"][()]
    assert rep.shape == (60, 5)
    np.testing.assert_allclose(rep.data(), r[0:300:5], atol=1e-9)


def test_lgn_spikes_drive_a_nest_v1_network(tmp_path):
    """LGN -> V1: the filter run's SONATA spikes file is the spike input of a NEST network of the same LGN nodes."""
    lgn = _lgn(40)
    cfg = {"target_simulator": "LGNModel", "run": {"tstop": 1000.0, "dt": 1.0}, "inputs": {"g": _GRATING},
           "output": {"output_dir": str(tmp_path / "lgn")}}
    lres = simulate(cfg, network=lgn, seed=1, progress=False)
    lgn_spikes = read_spikes(lres.spikes_file)["lgn"]
    assert len(lgn_spikes) > 300
    v1 = NetworkBuilder("v1", seed=1)
    v1.add_nodes(N=20, model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                 dynamics_params={"V_th": -55.0, "E_L": -70.0, "V_m": -70.0})
    lgn.add_edges(target=v1.nodes(), connection_rule=FixedProbability(0.5), syn_weight=120.0, delay=2.0,
                  model_template="static_synapse")
    vcfg = {"run": {"tstop": 1000.0, "dt": 0.1},
            "inputs": {"LGN_spikes": {"input_type": "spikes", "module": "sonata", "input_file": lres.spikes_file,
                                      "node_set": "lgn"}},
            "output": {"output_dir": str(tmp_path / "v1")}}
    vres = simulate(vcfg, network=[v1, lgn], progress=False)
    assert vres.backend == "nest"
    v1_spikes = read_spikes(vres.spikes_file)["v1"]
    assert len(v1_spikes) > 20
    assert v1_spikes.timestamps.min() > lgn_spikes.timestamps.min() + 2.0  # driven by LGN, after the delay
    # without the LGN input V1 is silent
    del vcfg["inputs"]
    vcfg["output"]["output_dir"] = str(tmp_path / "v1_alone")
    assert simulate(vcfg, network=[v1, lgn], progress=False).n_spikes.get("v1", 0) == 0


# --------------------------------------------------------------------------- bad input
def test_bad_movies():
    with pytest.raises(StimulusError, match=r"3-D array \(frames, rows, cols\)"):
        movie(np.zeros((40, 60)), frame_rate=30.0)
    with pytest.raises(StimulusError, match="frames of 40 rows x 60 cols"):
        movie(np.zeros((10, 30, 60)), frame_rate=30.0, expected_shape=(40, 60))
    for fr in (0.0, -30.0, float("nan"), None, "fast"):
        with pytest.raises(StimulusError, match="positive, finite frame rate"):
            movie(np.zeros((10, 4, 4)), frame_rate=fr)
    with pytest.raises(StimulusError, match="finite contrast"):
        movie(np.full((3, 4, 4), np.nan), frame_rate=30.0)
    with pytest.raises(StimulusError, match="t_on < t_off"):
        full_field_flash(4, 4, 300.0, 100.0, 500.0)
    with pytest.raises(StimulusError, match="contrast in"):
        grating(10, 10, 100.0, contrast=2.0)
    assert issubclass(StimulusError, ConfigError)


def test_bad_movie_inputs_in_configs(tmp_path):
    net = _lgn(3)
    base = {"target_simulator": "LGNModel", "run": {"tstop": 1000.0, "dt": 1.0}}
    np.save(tmp_path / "m.npy", np.zeros((30, 40, 60)))
    cases = [
        ({"module": "movie", "data_file": str(tmp_path / "m.npy")}, "inputs.m.frame_rate: expected the movie's "
                                                                    "frame rate"),
        ({"module": "movie", "data_file": str(tmp_path / "m.npy"), "frame_rate": 30.0, "row_size": 120,
          "col_size": 240}, "expected frames of 120 rows x 240 cols"),
        ({"module": "movie", "data_file": str(tmp_path / "none.npy"), "frame_rate": 30.0},
         "expected an existing .npy/.npz movie file"),
        ({"module": "plasma", "row_size": 4}, "inputs.m.module: expected a known input_type/module .*movie/grating"),
    ]
    for i, (spec, msg) in enumerate(cases):
        cfg = {**base, "inputs": {"m": {"input_type": "movie", **spec}},
               "output": {"output_dir": str(tmp_path / f"o{i}")}}
        with pytest.raises(ModelkitError, match=msg):
            simulate(cfg, network=net, progress=False)
    ok = {**base, "inputs": {"m": {"input_type": "movie", "module": "movie", "data_file": str(tmp_path / "m.npy"),
                                   "frame_rate": 30.0}}, "output": {"output_dir": str(tmp_path / "ok")}}
    assert simulate(ok, network=net, progress=False).backend == "filter"
    # no stimulus at all; a second stimulus
    with pytest.raises(ConfigError, match="an input with input_type 'movie'"):
        simulate({**base, "output": {"output_dir": str(tmp_path / "none")}}, network=net, progress=False)
    two = {**base, "inputs": {"a": _GRATING, "b": _GRATING}, "output": {"output_dir": str(tmp_path / "two")}}
    with pytest.raises(StimulusError, match="one movie input per run"):
        simulate(two, network=net, progress=False)


def test_unknown_filter_types(tmp_path):
    with pytest.raises(UnknownModelError, match="lgnmodel:sXX_TF8 is not a known LGN model; expected one of"):
        _units("lgnmodel:sXX_TF8")
    with pytest.raises(UnknownModelError, match="expected the lgnmodel schema"):
        _units("nest:iaf_psc_alpha")
    with pytest.raises(UnknownModelError, match="no measured spontaneous rate for tON TF4.*spont_fr"):
        _units("lgnmodel:tON_TF4")
    with pytest.raises(ConfigError, match=r"kpeaks: expected 0 < kpeaks\[0\] < kpeaks\[1\]"):
        _units(params={**TON, "opt_kpeaks": [30.0, 10.0]})
    with pytest.raises(ConfigError, match="dynamics_params weights: expected two numbers"):
        _units(params={**TON, "opt_wts": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError, match="a receptive field that overlaps the stimulus screen"):
        evaluate(_units(x=[500.0], spatial_size=[3.0]), movie(np.zeros((5, 40, 60)), frame_rate=30.0))
    net = NetworkBuilder("lgn", seed=1)
    net.add_nodes(N=2, model_type="virtual", model_template="lgnmodel:mystery", x=np.ones(2), y=np.ones(2))
    cfg = {"target_simulator": "LGNModel", "run": {"tstop": 100.0, "dt": 1.0}, "inputs": {"g": _GRATING},
           "output": {"output_dir": str(tmp_path / "o")}}
    with pytest.raises(UnknownModelError, match="mystery"):
        simulate(cfg, network=net, progress=False)


def test_negative_or_bad_rates():
    t = np.arange(10.0)
    with pytest.raises(RateError, match=r"expected finite firing rates >= 0 Hz, found -1.0 Hz for node 4 at 3 ms"):
        r = np.ones((10, 2))
        r[3, 1] = -1.0
        rates_to_spikes(r, t, np.array([3, 4]), np.random.default_rng(0))
    with pytest.raises(RateError, match="finite firing rates"):
        rates_to_spikes(np.full((10, 1), np.inf), t, np.array([0]), np.random.default_rng(0))
    with pytest.raises(RateError, match=r"rates of shape \(times, cells\) = \(10, 3\)"):
        rates_to_spikes(np.ones((10, 2)), t, np.array([0, 1, 2]), np.random.default_rng(0))
    with pytest.raises(RateError, match="strictly increasing"):
        rates_to_spikes(np.ones((10, 1)), t[::-1], np.array([0]), np.random.default_rng(0))
    assert issubclass(RateError, ModelkitError)


def test_a_clamp_on_filter_cells_is_refused_naming_the_input(tmp_path):
    """check_backend's current_clamp check: the refusal names inputs.<name>, as every backend's errors about an
    input do."""
    cfg = {"target_simulator": "LGNModel", "run": {"tstop": 50.0, "dt": 1.0},
           "inputs": {"g": _GRATING, "clamp": {"input_type": "current_clamp", "module": "IClamp", "node_set": "lgn",
                                               "amp": 0.1, "delay": 1.0, "duration": 5.0}},
           "output": {"output_dir": str(tmp_path / "out")}}
    with pytest.raises(ConfigError, match="inputs.clamp: expected movie inputs for filter cells") as e:
        simulate(cfg, network=_lgn(3), progress=False)
    assert e.value.key == "inputs.clamp"


def test_filter_cells_refuse_spike_and_clamp_inputs():
    b = FilterBackend()
    with pytest.raises(ConfigError, match="movie inputs for filter cells"):
        b.add_spike_trains("lgn", np.array([0]), {0: np.array([1.0])})
    with pytest.raises(ConfigError, match="movie inputs for filter cells"):
        b.add_current_clamp("lgn", np.array([0]), np.array([0.0]), np.array([1.0]))
    with pytest.raises(ConfigError, match="a variable of filter cells"):
        b.record_variables("lgn", np.array([0]), ["V_m"], 1.0, 0.0, 10.0)
