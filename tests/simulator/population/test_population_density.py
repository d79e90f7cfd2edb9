"""The LIF population density and the Wilson–Cowan rate model as numerics: conservation, analytic limits, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.errors import ConfigError, ModelkitError, UnknownModelError
from modelkit.simulator.population import LIFDensity, WilsonCowan, max_density_dt
from modelkit.simulator.population.params import model_parameters, resolve_template

LIF = dict(tau_m=20.0, V_th=-50.0, V_reset=-70.0, E_L=-70.0, t_ref=2.0)


def test_probability_plus_refractory_mass_is_one_at_every_step():
    """Excitatory and inhibitory jumps (not multiples of dv), a reflecting floor, input rates that change
    every step, a refractory period of 25 steps: density mass + refractory mass stays 1 and the density
    stays non-negative."""
    d = LIFDensity(weights=[0.37, -0.81, 1.3], dt=0.1, dv=0.05, v_min=-75.0, **LIF)
    rng = np.random.default_rng(0)
    fired = 0.0
    for _ in range(5000):
        d.step(rng.uniform(0, [4000.0, 1500.0, 300.0]))
        fired += d.rate
        assert abs(d.total_mass - 1.0) < 1e-12
        assert d.p.min() >= -1e-15
    assert d.refractory_mass > 0 and fired > 0  # mass did go through threshold and the refractory state


def test_mass_is_conserved_with_suprathreshold_drift_and_substeps():
    """A current that drives the membrane through threshold (leak flux out of the top face), an input rate
    high enough that one step holds several jumps (the step is split into substeps), and no refractory
    period (re-injection after one step)."""
    d = LIFDensity(weights=[0.5], dt=0.5, dv=0.02, I_e=600.0, **{**LIF, "t_ref": 0.0})
    for _ in range(300):
        d.step([20000.0])  # 10 jumps per neuron per step
        assert abs(d.total_mass - 1.0) < 1e-12
    assert d.rate > 0


def test_suprathreshold_current_gives_the_deterministic_lif_rate():
    """No input, I_e = 500 pA into C_m = 250 pF with tau_m = 20 ms: V -> E_L + 40 mV, so every neuron
    fires periodically with T = t_ref + tau_m ln(40 / (40 - 20)) = 2 + 20 ln 2 = 15.86 ms (63.05 Hz).
    The density's upwind leak flux smears the potential by about sqrt(dv |dv/dt| T) (0.1 mV here),
    far less than the 20 mV between reset and threshold: the rate must match within 1 %."""
    d = LIFDensity(weights=[], dt=0.1, dv=0.01, I_e=500.0, C_m=250.0, **LIF)
    for _ in range(int(400 / 0.1)):
        d.step([])
    expected = 1000.0 / (2.0 + 20.0 * np.log(2.0))
    rates = []
    for _ in range(int(400 / 0.1)):
        rates.append(d.step([]))
    assert np.mean(rates) == pytest.approx(expected, rel=0.01)


def test_steady_state_does_not_depend_on_the_time_step():
    """The step is implicit in the leak and exact-in-mean for the jumps: its fixed point is the fixed point
    of the continuous-time density, so dt = tau_m/10 and dt = 0.05 ms settle to the same rate."""
    rates = []
    for dt in (2.0, 0.5, 0.05):
        d = LIFDensity(weights=[0.5], dt=dt, dv=0.05, **LIF)
        rates.append(d.steady_state([2200.0]))
    assert rates[0] > 10
    np.testing.assert_allclose(rates, rates[-1], rtol=1e-3)


def test_too_coarse_time_step_is_refused_with_the_largest_accepted_one():
    assert max_density_dt(20.0) == 2.0
    with pytest.raises(ConfigError) as ei:
        LIFDensity(weights=[0.5], dt=5.0, where="population cortex node 3", **LIF)
    msg = str(ei.value)
    assert "population cortex node 3" in msg and "run.dt <= 2 ms" in msg and "dt = 5 ms" in msg


@pytest.mark.parametrize("rates", [[-1.0], [np.nan], [1.0, 2.0]])
def test_negative_or_malformed_input_rates_are_errors(rates):
    d = LIFDensity(weights=[0.5], dt=0.1, **LIF)
    with pytest.raises(ConfigError, match="rates"):
        d.step(rates)


def test_inconsistent_parameters_are_errors():
    with pytest.raises(ConfigError, match="V_reset"):
        LIFDensity(weights=[0.5], dt=0.1, **{**LIF, "V_reset": -40.0})
    with pytest.raises(ConfigError, match="tau_m"):
        LIFDensity(weights=[0.5], dt=0.1, **{**LIF, "tau_m": -1.0})


def test_wilson_cowan_relaxes_exponentially_to_its_transfer_function():
    """Constant input: r(t) = f(x) + (r0 - f(x)) exp(-t/tau) exactly (the exponential Euler step is exact)."""
    wc = WilsonCowan(tau=[10.0, 5.0], r_max=[50.0, 80.0], theta=[10.0, 0.0], gain=[0.5, 2.0], I_ext=[0.0, 0.0],
                     r0=[0.0, 40.0], transfer=["sigmoid", "relu"], dt=0.5, where=["a", "b"])
    x = np.array([12.0, 15.0])
    target = np.array([50.0 / (1 + np.exp(-0.5 * 2.0)), min(80.0, 2.0 * 15.0)])
    for _ in range(40):
        r = wc.step(x)
    t = 40 * 0.5
    np.testing.assert_allclose(r, target + (np.array([0.0, 40.0]) - target) * np.exp(-t / np.array([10.0, 5.0])),
                               rtol=1e-12)


def test_wilson_cowan_bad_parameters():
    with pytest.raises(ConfigError, match="run.dt <= 0.2 ms"):
        WilsonCowan(tau=[1.0], r_max=[1.0], theta=[0.0], gain=[1.0], I_ext=[0.0], r0=[0.0], transfer=["sigmoid"],
                    dt=1.0, where=["x"])
    with pytest.raises(ConfigError, match="transfer"):
        WilsonCowan(tau=[10.0], r_max=[1.0], theta=[0.0], gain=[1.0], I_ext=[0.0], r0=[0.0], transfer=["tanh"],
                    dt=0.1, where=["x"])


def test_templates_and_parameters():
    assert resolve_template("lif_density", "w") == ("density", False)
    assert resolve_template("modelkit:wilson_cowan", "w") == ("wilson_cowan", False)
    assert resolve_template("dipde:Internal", "w") == ("density", True)
    assert resolve_template(None, "w") == ("density", False)
    with pytest.raises(UnknownModelError) as ei:
        resolve_template("nest:iaf_psc_delta", "nodes.h5: /nodes/cortex node 0")
    assert isinstance(ei.value, ModelkitError)
    assert "nodes.h5: /nodes/cortex node 0" in str(ei.value) and "wilson_cowan" in str(ei.value)
    with pytest.raises(ConfigError, match="unknown \\['tau_mem'\\]"):
        model_parameters("density", False, {"tau_mem": 10.0}, "w")
    # DiPDE's SI parameters (s, V) become ms and mV; its edges' weights (V) and delays (s) are scaled too
    m = model_parameters("density", True, {"tau_m": 0.02, "v_min": -0.05, "v_max": 0.02, "dv": 1e-4,
                                           "update_method": "approx"}, "w")
    assert m.params["tau_m"] == pytest.approx(20.0) and m.params["V_th"] == pytest.approx(20.0)
    assert m.params["v_min"] == pytest.approx(-50.0) and m.params["dv"] == pytest.approx(0.1)
    assert (m.weight_scale, m.delay_scale) == (1e3, 1e3)
