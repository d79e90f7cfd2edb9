"""NEST backend: bmtk's reference spikes, every point-neuron config of the corpus, in-memory networks, bad input."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from modelkit.errors import ConfigError, ModelkitError, UnknownModelError
from modelkit.simulator import simulate
from modelkit.sonata import CompartmentReport, read_spikes
from modelkit.testing import shared_path

CORPUS = shared_path("sonata", "corpus")
REFERENCE = shared_path("reference", "bmtk")
P120 = CORPUS / "bmtk/examples/point_120cells"


def _pairs(sp):
    o = np.lexsort((sp.timestamps, sp.node_ids))
    return sp.node_ids[o], sp.timestamps[o]


def test_point_120cells_reproduces_bmtk_spike_for_spike(tmp_path):
    res = simulate(P120 / "config.simulation.json", output_dir=tmp_path / "out", progress=False)
    ours = read_spikes(res.spikes_file)["cortex"]
    ref = read_spikes(REFERENCE / "point_120cells/spikes.h5")["cortex"]
    assert len(ours) == len(ref) == 1197
    a_ids, a_t = _pairs(ours)
    b_ids, b_t = _pairs(ref)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_allclose(a_t, b_t, rtol=0, atol=1e-9)
    # the membrane report: the 5 requested cells, every 0.001 ms of the 3000 ms run
    rep = CompartmentReport(res.reports["membrane_potential"])["cortex"]
    assert rep.node_ids.tolist() == [0, 20, 60, 80, 100]
    assert rep.shape == (3_000_000, 5)
    v = rep.data(t_stop=rep.time[0] + 1.0)
    assert np.isfinite(v).all() and (v <= -40).all()
    assert os.path.exists(res.log_file) and "spikes" in open(res.log_file).read()
    assert (tmp_path / "out" / "spikes.csv").exists()


def _clamp_v(tmp_path, name):
    from modelkit.options import set_options
    with set_options(clamp_units="nA"):  # SONATA's reading (bmtk's, the default in NEST, is pA)
        res = simulate(P120 / name, output_dir=tmp_path / name, progress=False)
    rep = CompartmentReport(res.reports["membrane_potential"])["cortex"]
    return res, rep


def _v_at(rep, t):
    """Mean V_m (mV) of the reported cells over the 1 ms before ``t`` (ms)."""
    return float(rep.data(t_start=t - 1.0, t_stop=t).mean())


def test_current_clamp_configs_run_in_nA(tmp_path):
    """With the nA switch, SONATA clamp amplitudes are nA. These configs have no spike input, so the cells sit at
    E_L = -70 mV and each clamp depolarises them to the passive steady state I R, with
    R = tau_m / C_m = 10 ms / 250 pF = 40 MOhm (iaf_psc_delta defaults): 0.15 nA -> 6 mV, 0.175 nA
    -> 7 mV, 0.2 nA -> 8 mV. Read as pA (as bmtk does, the default) they move V_m by about 0.006 mV
    (tests/simulator/nest/test_nest_clamp_units.py)."""
    res, scalar = _clamp_v(tmp_path, "config.simulation_iclamp.json")
    _, as_list = _clamp_v(tmp_path, "config.simulation_iclamp.aslist.json")
    np.testing.assert_allclose(scalar.data(), as_list.data(), atol=1e-9)  # three clamps == one list of three
    assert sum(res.n_spikes.values()) == 0  # below threshold (-55 mV)
    assert _v_at(scalar, 500.0) == pytest.approx(-70.0, abs=1e-6)
    for t_end, amp in [(1000.0, 0.15), (2000.0, 0.175), (3000.0, 0.2)]:
        assert _v_at(scalar, t_end) == pytest.approx(-70.0 + amp * 40.0, abs=0.01)
        assert _v_at(scalar, t_end + 200.0) == pytest.approx(-70.0, abs=0.01)  # back at rest after the clamp
    _, csv = _clamp_v(tmp_path, "config.simulation_iclamp.csv.json")  # 800-1300, 1800-2300, 2800-3300 ms
    for t_end, amp in [(1300.0, 0.15), (2300.0, 0.175), (3300.0, 0.2)]:
        assert _v_at(csv, t_end) == pytest.approx(-70.0 + amp * 40.0, abs=0.01)
    assert _v_at(csv, 1000.0) == pytest.approx(-70.0 + 0.15 * 40.0, abs=0.01)
    assert _v_at(csv, 1700.0) == pytest.approx(-70.0, abs=0.01)


def test_nwb_clamp_with_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as ei:
        simulate(P120 / "config.simulation_iclamp.nwb.json", output_dir=tmp_path / "o", progress=False)
    assert "483111427_ephys.nwb" in str(ei.value) and "inputs.current_clamp_1.file" in str(ei.value)
    assert not (tmp_path / "o").exists()  # found by the checks before the run: nothing written


def test_300_pointneurons_runs_with_its_reports(tmp_path):
    res = simulate(CORPUS / "sonata/examples/300_pointneurons/config.json", output_dir=tmp_path / "out",
                   progress=False)
    spikes = read_spikes(res.spikes_file)
    assert sum(len(v) for v in spikes.values()) == sum(res.n_spikes.values()) > 0
    for name, path in res.reports.items():
        rep = CompartmentReport(path)
        assert rep.populations, name


def test_ten_cells_input_spikes_reach_their_targets(tmp_path):
    """The sim_tests intfire example: 17 input spikes onto 5 alpha-synapse cells. Its 25 pA
    synapses stay far below threshold (0 spikes), so check the traces: the run with the
    spike input equals the run without it up to the first input's arrival, then departs."""
    from dataclasses import replace

    from modelkit.sonata import load_config
    cfg = load_config(CORPUS / "sonata/examples/sim_tests/intfire/ten_cells_spikes_nest/input/config.json")
    with_in = simulate(cfg, output_dir=tmp_path / "a", progress=False)
    without = simulate(replace(cfg, inputs={}), output_dir=tmp_path / "b", progress=False)
    va = CompartmentReport(with_in.reports["membrane_potential"])["post"]
    vb = CompartmentReport(without.reports["membrane_potential"])["post"]
    assert va.node_ids.tolist() == [0, 1, 2, 3, 4]
    # post 0 first hears pre 0's spike at 26.035 ms, after the 0.1 ms edge delay
    np.testing.assert_array_equal(va.data([0], t_stop=26.1), vb.data([0], t_stop=26.1))
    dv = va.data([0], t_start=26.2, t_stop=40.0) - vb.data([0], t_start=26.2, t_stop=40.0)
    assert 0.05 < dv.max() < 5.0  # an excitatory PSP of a fraction of a mV
    assert sum(with_in.n_spikes.values()) == 0


def test_perturbations_config_names_its_missing_input(tmp_path):
    with pytest.raises(ConfigError) as ei:
        simulate(P120 / "config.simulation_perturbations.json", output_dir=tmp_path / "o", progress=False)
    assert ei.value.key == "inputs.LGN_spikes.input_file" and "thalamus_spikes.csv" in str(ei.value)


def _copy_point120(tmp_path):
    d = tmp_path / "p120"
    shutil.copytree(P120, d)
    comps = tmp_path / "point_components"
    shutil.copytree(CORPUS / "bmtk/examples/point_components", comps)
    for p in d.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    d.chmod(0o755)
    return d


def _edit_json(path, fn):
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


@pytest.mark.parametrize("mutate,err,needle", [
    (lambda d, net: (net / "cortex_node_types.csv").write_text(
        (net / "cortex_node_types.csv").read_text().replace("nest:iaf_psc_delta", "nest:iaf_psc_delto", 1)),
     UnknownModelError, "iaf_psc_delta"),
    (lambda d, net: (net / "cortex_node_types.csv").write_text(
        (net / "cortex_node_types.csv").read_text().replace("iaf_psc_delta_exc.json", "nope.json")),
     ConfigError, "nope.json"),
    (lambda d, net: (net / "cortex_cortex_edge_types.csv").write_text(
        (net / "cortex_cortex_edge_types.csv").read_text().replace(" 1.5 ", " 0.0001 ")),
     ConfigError, "resolution"),
])
def test_bad_network_input(tmp_path, mutate, err, needle):
    d = _copy_point120(tmp_path)
    mutate(d, d / "network")
    with pytest.raises(err) as ei:
        simulate(d / "config.simulation.json", output_dir=tmp_path / "o", progress=False)
    assert needle in str(ei.value)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("mutate,key", [
    (lambda d: d["inputs"]["thalamus_spikes"].update(module="teleport"), "inputs.thalamus_spikes.module"),
    (lambda d: d["inputs"]["thalamus_spikes"].update(node_set="no_such_set"), "inputs.thalamus_spikes.node_set"),
])
def test_bad_config_input(tmp_path, mutate, key):
    d = _copy_point120(tmp_path)
    _edit_json(d / "config.simulation.json", mutate)
    with pytest.raises(ModelkitError) as ei:
        simulate(d / "config.simulation.json", output_dir=tmp_path / "o", progress=False)
    assert key in str(ei.value)


def test_in_memory_builder_network_with_poisson_input_is_seeded(tmp_path):
    from modelkit.builder import FixedProbability, NetworkBuilder
    net = NetworkBuilder("net", seed=3)
    net.add_nodes(N=40, ei="e", model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                  dynamics_params={"V_th": -55.0, "E_L": -70.0})
    ext = NetworkBuilder("ext", seed=3)
    ext.add_nodes(N=20, model_type="virtual")
    ext.add_edges(target=net.nodes(), connection_rule=FixedProbability(0.5), syn_weight=150.0, delay=1.0,
                  model_template="static_synapse")
    net.add_edges(connection_rule=FixedProbability(0.1), syn_weight=5.0, delay=1.5, model_template="static_synapse")
    combined = [net, ext]
    cfg = {"run": {"tstop": 500.0, "dt": 0.1},
           "inputs": {"drive": {"input_type": "poisson", "module": "poisson", "node_set": "ext", "rate": 40.0}},
           "output": {"output_dir": str(tmp_path / "a")}}
    r1 = simulate(cfg, network=combined, seed=7, progress=False)
    cfg["output"]["output_dir"] = str(tmp_path / "b")
    r2 = simulate(cfg, network=combined, seed=7, progress=False)
    cfg["output"]["output_dir"] = str(tmp_path / "c")
    r3 = simulate(cfg, network=combined, seed=8, progress=False)
    s1, s2, s3 = (read_spikes(r.spikes_file)["net"] for r in (r1, r2, r3))
    assert len(s1) > 0
    np.testing.assert_array_equal(s1.node_ids, s2.node_ids)
    np.testing.assert_array_equal(s1.timestamps, s2.timestamps)
    assert len(s1) != len(s3) or not np.array_equal(s1.timestamps, s3.timestamps)


def _small_net():
    from modelkit.builder import FixedProbability, NetworkBuilder
    net = NetworkBuilder("net", seed=5)
    net.add_nodes(N=10, ei="e", model_type="point_neuron", model_template="nest:iaf_psc_delta",
                  dynamics_params={"V_th": -55.0, "E_L": -70.0, "V_m": -70.0})
    ext = NetworkBuilder("ext", seed=5)
    ext.add_nodes(N=8, model_type="virtual")
    ext.add_edges(target=net.nodes(), connection_rule=FixedProbability(0.6), syn_weight=4.0, delay=1.0,
                  model_template="static_synapse")
    return [net, ext]


def test_nwb_spike_input_equals_the_same_trains_from_sonata(tmp_path):
    """The same Poisson trains, once as a SONATA file and once as an NWB units table written by pynwb."""
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile

    from modelkit.simulator import PoissonSpikeGenerator
    gen = PoissonSpikeGenerator(population="ext", seed=11)
    gen.add(np.arange(8), 80.0, times=(0.0, 0.3))
    gen.to_sonata(tmp_path / "in.h5")
    ids, ts = gen.spikes("ext")
    nwb = NWBFile(session_description="input", identifier="in",
                  session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    nwb.add_unit_column("population", "node population")
    for i in range(8):
        nwb.add_unit(spike_times=(ts[ids == i] / 1000.0).tolist(), id=i, population="ext")
    with NWBHDF5IO(str(tmp_path / "in.nwb"), "w") as io:
        io.write(nwb)
    runs = {}
    for name, spec in {"h5": {"input_type": "spikes", "module": "h5", "input_file": str(tmp_path / "in.h5")},
                       "nwb": {"input_type": "spikes", "module": "nwb", "input_file": str(tmp_path / "in.nwb")}
                       }.items():
        cfg = {"run": {"tstop": 300.0, "dt": 0.1}, "inputs": {"drive": dict(spec, node_set="ext")},
               "output": {"output_dir": str(tmp_path / name)}}
        runs[name] = read_spikes(simulate(cfg, network=_small_net(), progress=False).spikes_file)["net"]
    assert len(runs["h5"]) > 10
    np.testing.assert_array_equal(*(_pairs(runs[k])[0] for k in ("h5", "nwb")))
    np.testing.assert_allclose(*(_pairs(runs[k])[1] for k in ("h5", "nwb")), atol=1e-9)


def test_allen_nwb_sweep_clamp_in_nA(tmp_path):
    """input_type nwb / IClamp plays one sweep of an Allen ephys file (A -> nA -> NEST pA)."""
    from modelkit.testing import write_allen_sweep
    write_allen_sweep(tmp_path / "ephys.nwb", sweep=12, pulse=(0.1, 0.3), amp_a=1.5e-10, duration_s=0.5)
    cfg = {"run": {"tstop": 600.0, "dt": 0.1},
           "inputs": {"clamp": {"input_type": "nwb", "module": "IClamp", "node_set": "net",
                                "file": str(tmp_path / "ephys.nwb"), "sweep_id": 12, "downsample": 0.1,
                                "delay": 50.0, "amp_units": "nA"}},
           "reports": {"v": {"module": "multimeter_report", "variable_name": "V_m",
                             "cells": {"population": "net", "node_id": [0, 3]}}},
           "output": {"output_dir": str(tmp_path / "out")}}
    res = simulate(cfg, network=_small_net(), progress=False)
    rep = CompartmentReport(res.reports["v"])["net"]
    assert _v_at(rep, 150.0) == pytest.approx(-70.0, abs=1e-6)  # the pulse starts at 100 + 50 ms delay
    assert _v_at(rep, 350.0) == pytest.approx(-70.0 + 0.15 * 40.0, abs=0.01)  # 0.15 nA x 40 MOhm
    assert _v_at(rep, 550.0) == pytest.approx(-70.0, abs=0.01)
    cfg["inputs"]["clamp"]["sweep_id"] = 99
    cfg["output"]["output_dir"] = str(tmp_path / "bad")
    with pytest.raises(ModelkitError, match="Sweep_99"):
        simulate(cfg, network=_small_net(), progress=False)


def _plastic_net(template="stdp_synapse"):
    from modelkit.builder import FixedProbability, NetworkBuilder
    net = NetworkBuilder("net", seed=9)
    net.add_nodes(N=10, ei="e", model_type="point_neuron", model_template="nest:iaf_psc_delta",
                  dynamics_params={"V_th": -55.0, "E_L": -70.0, "V_m": -70.0})
    ext = NetworkBuilder("ext", seed=9)
    ext.add_nodes(N=8, model_type="virtual")
    ext.add_edges(target=net.nodes(), connection_rule=FixedProbability(0.6), syn_weight=6.0, delay=1.0,
                  model_template=template)  # edge type 100: plastic
    ext.add_edges(source={"node_id": [0]}, target=net.nodes(), connection_rule=1, syn_weight=1.0, delay=2.0,
                  model_template="static_synapse")  # edge type 101: static
    return [net, ext]


@pytest.mark.parametrize("style", ["edges", "bmtk"])
def test_weight_recorder_reports_every_transmitted_spike(tmp_path, style):
    import pandas as pd

    from modelkit.simulator import PoissonSpikeGenerator
    gen = PoissonSpikeGenerator(population="ext", seed=2)
    gen.add(np.arange(8), 100.0, times=(0.0, 0.2))  # all spikes delivered well before tstop
    gen.to_sonata(tmp_path / "in.h5")
    in_ids, in_ts = gen.spikes("ext")
    if style == "edges":
        report = {"module": "weight_recorder", "edges": {"ext_to_net": [100]}}
        nets = _plastic_net()
    else:  # bmtk's: a new synapse model name the edge types use
        report = {"module": "weight_recorder", "nest_model": "stdp_synapse", "model_template": "stdp_recorded"}
        nets = _plastic_net("stdp_recorded")
    cfg = {"run": {"tstop": 300.0, "dt": 0.1},
           "inputs": {"drive": {"input_type": "spikes", "module": "h5", "input_file": str(tmp_path / "in.h5"),
                                "node_set": "ext"}},
           "reports": {"weights": report}, "output": {"output_dir": str(tmp_path / "out")}}
    res = simulate(cfg, network=nets, progress=False)
    assert res.reports["weights"].endswith("weights.csv")
    df = pd.read_csv(res.reports["weights"], sep=" ")
    assert list(df.columns) == ["source_node_id", "source_population", "target_node_id", "target_population",
                                "time_ms", "weights"]
    edges = nets[1].build().edges["ext_to_net"].get(["source_node_id", "target_node_id", "edge_type_id"])
    plastic = edges[edges["edge_type_id"] == 100]
    per_source = np.bincount(in_ids, minlength=8)
    # one event per spike per recorded synapse; the static type-101 edges are not recorded
    assert len(df) == int(per_source[plastic["source_node_id"].to_numpy()].sum()) > 50
    assert set(df["source_population"]) == {"ext"} and set(df["target_population"]) == {"net"}
    got = set(zip(df["source_node_id"], df["target_node_id"]))
    assert got == set(zip(plastic["source_node_id"], plastic["target_node_id"]))
    assert (df["time_ms"] > 0).all() and (df["time_ms"] <= 300.0).all()
    w = df["weights"].to_numpy()
    assert (w >= 0).all() and (w <= 100.0).all()  # stdp_synapse's default Wmax
    assert not np.allclose(w, 6.0)  # plasticity moved them


def test_weight_recorder_bad_edges_is_a_clear_error(tmp_path):
    cfg = {"run": {"tstop": 10.0, "dt": 0.1}, "reports": {"w": {"module": "weight_recorder", "edges": "nope"}},
           "output": {"output_dir": str(tmp_path / "out")}}
    with pytest.raises(ConfigError) as ei:
        simulate(cfg, network=_plastic_net(), progress=False)
    assert ei.value.key == "reports.w.edges" and "ext_to_net" in str(ei.value)


def test_plastic_synapses_from_virtual_nodes_keep_spike_times_exact(tmp_path):
    """Edges from virtual nodes through stdp_synapse go through a parrot_neuron_ps relay (a NEST device
    cannot feed a plastic synapse); with plasticity off (lambda 0) the run equals the static one."""
    from modelkit.builder import FixedProbability, NetworkBuilder

    def nets(template, params):
        net = NetworkBuilder("net", seed=4)
        net.add_nodes(N=12, model_type="point_neuron", model_template="nest:iaf_psc_delta",
                      dynamics_params={"V_th": -55.0, "E_L": -70.0, "V_m": -70.0})
        ext = NetworkBuilder("ext", seed=4)
        ext.add_nodes(N=10, model_type="virtual")
        ext.add_edges(target=net.nodes(), connection_rule=FixedProbability(0.7), syn_weight=4.0, delay=1.5,
                      model_template=template, dynamics_params=params)
        return [net, ext]

    runs = {}
    for name, template, params in [("static", "static_synapse", None), ("stdp", "stdp_synapse", {"lambda": 0.0})]:
        cfg = {"run": {"tstop": 400.0, "dt": 0.1},
               "inputs": {"p": {"input_type": "poisson", "module": "poisson", "node_set": "ext", "rate": 90.0}},
               "output": {"output_dir": str(tmp_path / name)}}
        runs[name] = read_spikes(simulate(cfg, network=nets(template, params), seed=3, progress=False
                                          ).spikes_file)["net"]
    assert len(runs["static"]) > 20
    np.testing.assert_array_equal(_pairs(runs["static"])[0], _pairs(runs["stdp"])[0])
    np.testing.assert_allclose(_pairs(runs["static"])[1], _pairs(runs["stdp"])[1], atol=1e-9)


def test_default_threads_follow_the_measured_rule(monkeypatch):
    from modelkit.simulator import run as run_mod
    assert run_mod._default_threads(120) == 1
    assert run_mod._default_threads(run_mod.THREADS_FROM_CELLS - 1) == 1
    monkeypatch.setattr(run_mod.os, "sched_getaffinity", lambda pid: set(range(16)))
    assert run_mod._default_threads(run_mod.THREADS_FROM_CELLS) == 8  # capped
    monkeypatch.setattr(run_mod.os, "sched_getaffinity", lambda pid: {0, 1})
    assert run_mod._default_threads(20_000) == 2


def test_tsodyks_synapse_parameters_come_from_the_edge_type(tmp_path):
    """A depressing tsodyks2_synapse (parameters from the edge type's dynamics_params) weakens repeated
    input: fewer output spikes than the same weights through static synapses, and still deterministic."""
    from modelkit.builder import FixedProbability, NetworkBuilder

    def nets(template, params):
        net = NetworkBuilder("net", seed=6)
        net.add_nodes(N=10, model_type="point_neuron", model_template="nest:iaf_psc_delta",
                      dynamics_params={"V_th": -55.0, "E_L": -70.0, "V_m": -70.0})
        ext = NetworkBuilder("ext", seed=6)
        ext.add_nodes(N=10, model_type="virtual")
        net.add_edges(connection_rule=FixedProbability(0.2), syn_weight=0.5, delay=1.0,
                      model_template="static_synapse")
        ext.add_edges(target=net.nodes(), connection_rule=FixedProbability(0.8), syn_weight=4.0, delay=1.0,
                      model_template="static_synapse")
        net.add_edges(source=net.nodes(), target=net.nodes(), connection_rule=FixedProbability(0.5),
                      syn_weight=3.0, delay=1.5, model_template=template, dynamics_params=params)
        return [net, ext]

    counts = {}
    for name, template, params in [("static", "static_synapse", None),
                                   ("tsodyks", "tsodyks2_synapse", {"U": 0.8, "u": 0.8, "tau_rec": 800.0,
                                                                    "tau_fac": 0.0})]:
        cfg = {"run": {"tstop": 500.0, "dt": 0.1},
               "inputs": {"p": {"input_type": "poisson", "module": "poisson", "node_set": "ext", "rate": 100.0}},
               "output": {"output_dir": str(tmp_path / name)}}
        counts[name] = sum(simulate(cfg, network=nets(template, params), seed=1, progress=False).n_spikes.values())
    assert counts["static"] > counts["tsodyks"] > 0


def test_nest_refuses_a_helper_thread(tmp_path):
    """NEST run from a helper thread crashes the process at its next NEST call from the main thread (NEST's
    per-thread state): simulate says so instead, before NEST is touched."""
    import threading

    from modelkit.datasets import balanced_network
    from modelkit.errors import BackendUnavailableError

    cfg = balanced_network(tmp_path / "net", n_exc=8, n_inh=2, n_input=5, tstop=10.0)
    caught = []

    def run():
        try:
            simulate(cfg, output_dir=tmp_path / "out", progress=False)
        except BackendUnavailableError as e:
            caught.append(e)

    t = threading.Thread(target=run, name="helper")
    t.start()
    t.join()
    assert caught and "main thread" in str(caught[0]) and "run_local" in str(caught[0])
    assert not (tmp_path / "out").exists()
    assert simulate(cfg, output_dir=tmp_path / "main", progress=False).backend == "nest"  # the main thread is fine
