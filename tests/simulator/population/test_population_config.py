"""Population models driven by SONATA configs: an excitatory-inhibitory pair written with the builder,
rate inputs and reports, DiPDE's units, spike inputs, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelkit.builder import NetworkBuilder
from modelkit.errors import ConfigError, ModelkitError, UnknownModelError
from modelkit.simulator import simulate
from modelkit.simulator.population import read_rates

EXC = {"tau_m": 20.0, "V_th": -50.0, "V_reset": -70.0, "E_L": -70.0, "t_ref": 2.0}
INH = {"tau_m": 10.0, "V_th": -50.0, "V_reset": -70.0, "E_L": -70.0, "t_ref": 1.0}


def _write_ei(tmp_path, w_ie: float = -0.5, exc_template: str = "lif_density", exc_params: dict | None = None,
              tstop: float = 400.0, dt: float = 0.1, inputs: dict | None = None) -> str:
    """E and I population nodes, recurrent edges (E->E, E->I, I->E, I->I) and one virtual background node,
    saved to ``tmp_path``, with a simulation config that names them; returns the config path."""
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "exc.json").write_text(json.dumps(exc_params or EXC))
    (models / "inh.json").write_text(json.dumps(INH))
    net = NetworkBuilder("cortex")
    net.add_nodes(pop_name="exc", ei="e", model_type="population", model_template=exc_template,
                  dynamics_params="exc.json")
    net.add_nodes(pop_name="inh", ei="i", model_type="population", model_template="lif_density",
                  dynamics_params="inh.json")
    net.add_edges(source={"ei": "e"}, target={"ei": "e"}, connection_rule=20, syn_weight=0.2, delay=2.0)
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=100, syn_weight=0.2, delay=2.0)
    net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=10, syn_weight=w_ie, delay=2.0)
    net.add_edges(source={"ei": "i"}, target={"ei": "i"}, connection_rule=10, syn_weight=-0.5, delay=2.0)
    bg = NetworkBuilder("bg")
    bg.add_nodes(pop_name="bg", model_type="virtual")
    bg.add_edges(source=bg.nodes(), target=net.nodes(ei="e"), connection_rule=100, syn_weight=0.5, delay=1.0)
    bg.add_edges(source=bg.nodes(), target=net.nodes(ei="i"), connection_rule=200, syn_weight=0.5, delay=1.0)
    net.save(tmp_path / "network")
    bg.save(tmp_path / "network")

    def files(kind: str, stem: str) -> dict:
        return {f"{kind}_file": f"$NETWORK_DIR/{stem}_{kind}.h5", f"{kind[:-1]}_types_file":
                f"$NETWORK_DIR/{stem}_{kind[:-1]}_types.csv"}
    cfg = {
        "manifest": {"$BASE_DIR": str(tmp_path), "$NETWORK_DIR": "$BASE_DIR/network"},
        "target_simulator": "population",
        "run": {"tstart": 0.0, "tstop": tstop, "dt": dt},
        "components": {"population_models_dir": "$BASE_DIR/models"},
        "networks": {"nodes": [files("nodes", "cortex"), files("nodes", "bg")],
                     "edges": [files("edges", "cortex_cortex"), files("edges", "bg_cortex")]},
        "inputs": inputs if inputs is not None else {
            "bg_rates": {"input_type": "rates", "module": "time_series", "node_set": "bg",
                         "times": [0.0, 200.0], "rates": [15.0, 25.0]}},
        "reports": {"pop_rates": {"module": "population_rates", "cells": "cortex", "dt": 10 * dt}},
        "output": {"output_dir": "$BASE_DIR/output", "overwrite_output_dir": True},
    }
    path = tmp_path / "config.simulation.json"
    path.write_text(json.dumps(cfg, indent=2))
    return str(path)


def _rates(res, name: str = "pop_rates") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return read_rates(res.reports[name])["cortex"]


def test_excitatory_inhibitory_pair_runs_from_a_sonata_config(tmp_path):
    res = simulate(_write_ei(tmp_path), progress=False)
    assert res.backend == "population" and res.n_cells == {"cortex": 2}
    ids, times, rates = _rates(res)
    assert ids.tolist() == [0, 1]
    np.testing.assert_allclose(times, np.arange(400.0))  # ms, 1 ms frames
    assert rates.shape == (400, 2) and np.isfinite(rates).all() and (rates >= 0).all()
    e_lo, e_hi = rates[150:200, 0].mean(), rates[350:400, 0].mean()
    i_hi = rates[350:400, 1].mean()
    assert 0.5 < e_lo < e_hi and i_hi > 0.5  # the step in drive raises both rates
    # the CSV holds the same numbers, in bmtk's columns (time in ms, rate in Hz)
    csv = pd.read_csv(res.reports["pop_rates_csv"], sep=" ")
    assert list(csv.columns) == ["population", "node_id", "timestamps", "firing_rates"]
    e = csv[csv.node_id == 0]
    np.testing.assert_allclose(e.timestamps, times)
    np.testing.assert_allclose(e.firing_rates, rates[:, 0], rtol=1e-9)
    assert (tmp_path / "output" / "pop_rates.h5").exists() and (tmp_path / "output" / "log.txt").exists()
    # inhibition matters: without the I -> E edges' weight the E population fires faster
    (tmp_path / "noinh").mkdir()
    res0 = simulate(_write_ei(tmp_path / "noinh", w_ie=0.0), progress=False)
    assert _rates(res0)[2][350:400, 0].mean() > 1.5 * e_hi


def test_dipde_si_units_give_the_same_rates(tmp_path):
    """``dipde:Internal`` reads DiPDE's seconds and volts (rest and reset at 0, no refractory period, edges'
    syn_weight in V and delay in s): a population in those units next to an identical one in ms/mV
    (rest at 0 mV, threshold 20 mV, t_ref 0) fires at the same rate.  ``target_simulator: population``
    keeps modelkit's per-node semantics (run.dt in ms); without it a ``dipde:`` template means bmtk PopNet's."""
    ms_mv = {"tau_m": 20.0, "V_th": 20.0, "V_reset": 0.0, "E_L": 0.0, "t_ref": 0.0, "v_min": -10.0, "dv": 0.05}
    si = {"tau_m": 0.02, "v_min": -0.01, "v_max": 0.02, "dv": 5e-5, "update_method": "approx", "tol": 1e-12}
    rates = {}
    for name, tmpl, params, scale in (("mv", "lif_density", ms_mv, 1.0), ("si", "dipde:Internal", si, 1e-3)):
        d = tmp_path / name
        d.mkdir()
        net = NetworkBuilder("cortex")
        net.add_nodes(pop_name="p", model_type="population", model_template=tmpl, dynamics_params=params)
        bg = NetworkBuilder("bg")
        bg.add_nodes(model_type="virtual")
        bg.add_edges(source=bg.nodes(), target=net.nodes(), connection_rule=100, syn_weight=0.5 * scale,
                     delay=1.0 * scale)
        cfg = {"run": {"tstop": 200.0, "dt": 0.1}, "target_simulator": "population",
               "inputs": {"bg": {"input_type": "rates", "module": "constant", "node_set": "bg", "rate": 22.0}},
               "reports": {"r": {"module": "pop_rates", "cells": "cortex"}},
               "output": {"output_dir": str(d / "out")}}
        res = simulate(cfg, network=[net, bg], progress=False)
        rates[name] = read_rates(res.reports["r"])["cortex"][2][:, 0]
    assert rates["mv"][-500:].mean() > 5.0
    np.testing.assert_allclose(rates["si"], rates["mv"], rtol=1e-9, atol=1e-12)


def test_wilson_cowan_and_density_nodes_in_one_network(tmp_path):
    """Model templates per node type: an E density drives a Wilson-Cowan unit, whose steady state is
    f(syn_weight x nsyns x r_E) = r_max / (1 + exp(-gain (x - theta)))."""
    net = NetworkBuilder("cortex")
    net.add_nodes(pop_name="e", model_type="population", model_template="lif_density", dynamics_params=EXC)
    wc = {"tau": 5.0, "r_max": 50.0, "theta": 10.0, "gain": 0.3}
    net.add_nodes(pop_name="wc", model_type="population", model_template="wilson_cowan", dynamics_params=wc)
    net.add_edges(source={"pop_name": "e"}, target={"pop_name": "wc"}, connection_rule=2, syn_weight=0.5, delay=1.0)
    bg = NetworkBuilder("bg")
    bg.add_nodes(model_type="virtual")
    bg.add_edges(source=bg.nodes(), target=net.nodes(pop_name="e"), connection_rule=100, syn_weight=0.5, delay=1.0)
    cfg = {"run": {"tstop": 300.0, "dt": 0.1},
           "inputs": {"bg": {"input_type": "rates", "module": "constant", "node_set": "bg", "rate": 22.0}},
           "reports": {"r": {"module": "population_rates"}},
           "output": {"output_dir": str(tmp_path / "out")}}
    res = simulate(cfg, network=[net, bg], progress=False)
    ids, _, r = read_rates(res.reports["r"])["cortex"]
    r_e, r_wc = r[-1, 0], r[-1, 1]
    assert r_e > 5.0
    assert r_wc == pytest.approx(50.0 / (1 + np.exp(-0.3 * (2 * 0.5 * r_e - 10.0))), rel=1e-3)


def test_bmtk_pop_rates_csv_and_spike_inputs(tmp_path):
    """bmtk PopNet's input (``csv``/``pop_rates``: a space-separated ``gid firing_rate`` file) and a spike
    train input (binned per step) drive the population as a constant rate does."""
    (tmp_path / "rates.csv").write_text("gid firing_rate\n0 22.0\n")
    from modelkit.simulator.poisson import PoissonSpikeGenerator
    psg = PoissonSpikeGenerator(population="bg", seed=3)
    psg.add([0], 22.0 * 100, times=(0.0, 1.0))  # one train at 100 x 22 Hz = the 100 synapses' input
    psg.to_sonata(tmp_path / "spikes.h5")
    out = {}
    for name, inp, nsyns in (
            ("const", {"input_type": "rates", "module": "constant", "rate": 22.0}, 100),
            ("csv", {"input_type": "csv", "module": "pop_rates", "rates": str(tmp_path / "rates.csv")}, 100),
            ("spikes", {"input_type": "spikes", "module": "sonata", "input_file": str(tmp_path / "spikes.h5")}, 1)):
        net = NetworkBuilder("cortex")
        net.add_nodes(model_type="population", model_template="lif_density", dynamics_params=EXC)
        bg = NetworkBuilder("bg")
        bg.add_nodes(model_type="virtual")
        bg.add_edges(source=bg.nodes(), target=net.nodes(), connection_rule=nsyns, syn_weight=0.5, delay=1.0)
        cfg = {"run": {"tstop": 1000.0, "dt": 0.1}, "inputs": {"x": {**inp, "node_set": "bg"}},
               "reports": {"r": {"module": "population_rates", "dt": 1.0}},
               "output": {"output_dir": str(tmp_path / name)}}
        res = simulate(cfg, network=[net, bg], progress=False)
        out[name] = read_rates(res.reports["r"])["cortex"][2][300:, 0].mean()
    assert out["const"] > 5.0
    assert out["csv"] == pytest.approx(out["const"], rel=1e-12)
    assert out["spikes"] == pytest.approx(out["const"], rel=0.10)  # one Poisson realisation, 700 ms


@pytest.mark.parametrize("inputs, match", [
    ({"bg": {"input_type": "rates", "module": "constant", "node_set": "bg", "rate": -5.0}},
     "inputs.bg.rate: expected non-negative finite firing rates"),
    ({"bg": {"input_type": "rates", "module": "time_series", "node_set": "bg", "times": [0, 100],
             "rates": [10.0, -1.0]}}, "inputs.bg.rates: expected non-negative finite firing rates"),
    ({"bg": {"input_type": "rates", "module": "time_series", "node_set": "bg", "times": [0, 100, 200],
             "rates": [10.0, 1.0]}}, "one rate \\(Hz\\) per time"),
    ({"bg": {"input_type": "rates", "module": "constant", "node_set": "cortex", "rate": 5.0}},
     "virtual nodes"),
])
def test_bad_rate_inputs_are_config_errors(tmp_path, inputs, match):
    with pytest.raises(ConfigError, match=match):
        simulate(_write_ei(tmp_path, inputs=inputs, tstop=20.0), progress=False)


def test_a_current_clamp_is_refused_naming_the_input(tmp_path):
    """check_backend's current_clamp check: the refusal names the config and inputs.<name>, as every
    backend's errors about an input do."""
    clamp = {"clamp": {"input_type": "current_clamp", "module": "IClamp", "node_set": "cortex", "amp": 0.1,
                       "delay": 1.0, "duration": 5.0}}
    cfg = _write_ei(tmp_path, inputs=clamp, tstop=20.0)
    with pytest.raises(ConfigError, match=r"config\.simulation\.json: inputs\.clamp: expected rate inputs") as e:
        simulate(cfg, progress=False)
    assert e.value.key == "inputs.clamp"


def test_negative_rates_in_a_bmtk_rates_file(tmp_path):
    (tmp_path / "r.csv").write_text("gid firing_rate\n0 -3.0\n")
    inputs = {"bg": {"input_type": "csv", "module": "pop_rates", "node_set": "bg", "rates": str(tmp_path / "r.csv")}}
    with pytest.raises(ConfigError) as ei:
        simulate(_write_ei(tmp_path, inputs=inputs, tstop=20.0), progress=False)
    assert "r.csv" in str(ei.value) and "non-negative" in str(ei.value)


def test_unstable_time_step_is_refused_with_the_step_to_use(tmp_path):
    with pytest.raises(ConfigError) as ei:
        simulate(_write_ei(tmp_path, dt=1.5, tstop=30.0), progress=False)  # inh tau_m = 10 ms: dt <= 1 ms
    msg = str(ei.value)
    assert "population cortex node 1" in msg and "use run.dt <= 1 ms" in msg
    assert (tmp_path / "output.failed").exists()


def test_unknown_model_template_names_the_node_and_the_known_ones(tmp_path):
    with pytest.raises(UnknownModelError) as ei:
        simulate(_write_ei(tmp_path, exc_template="dipde:External", tstop=20.0), progress=False)
    assert isinstance(ei.value, ModelkitError)
    msg = str(ei.value)
    assert "/nodes/cortex node 0" in msg and "lif_density" in msg and "wilson_cowan" in msg
    assert "'dipde:External'" in msg


def test_unknown_parameter_and_missing_parameter_file(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown \['tau'\]"):
        simulate(_write_ei(tmp_path, exc_params={**EXC, "tau": 3.0}, tstop=20.0), progress=False)
    net = NetworkBuilder("cortex")
    net.add_nodes(model_type="population", model_template="lif_density", dynamics_params="nowhere.json")
    with pytest.raises(ConfigError, match="nowhere.json"):
        simulate({"run": {"tstop": 10.0, "dt": 0.1}, "output": {"output_dir": str(tmp_path / "o2")}},
                 network=net, progress=False)


def test_a_stopped_run_keeps_its_population_rates(tmp_path):
    """Stopped at 200 ms of 400: <output>.stopped holds the rates of the whole blocks, equal to the full run's
    first frames, with the stop time recorded (they used to be written only at the end: lost)."""
    import h5py

    from modelkit.errors import RunStoppedError

    class StopAt:
        def spikes(self, population, node_ids, times):
            return None

        def progress(self, t, tstop):
            if t >= 200.0:
                raise RunStoppedError("stop")

    cfg = _write_ei(tmp_path)
    full = _rates(simulate(cfg, progress=False))
    with pytest.raises(RunStoppedError):
        simulate(cfg, output_dir=tmp_path / "part", progress=False, sinks=[StopAt()])
    path = tmp_path / "part.stopped" / "pop_rates.h5"
    with h5py.File(path, "r") as f:
        stop = float(f["rates"].attrs["stop_time"])
    assert 200.0 <= stop < 400.0
    ids, times, rates = read_rates(path)["cortex"]
    assert len(times) > 0 and times[-1] <= stop
    np.testing.assert_array_equal(ids, full[0])
    np.testing.assert_array_equal(times, full[1][:len(times)])
    np.testing.assert_allclose(rates, full[2][:len(times)])
    assert (tmp_path / "part.stopped" / "pop_rates.csv").exists()
