"""Edges that would give a silently wrong run (issue 15, class 2): an edge population whose ``node_population``
names no population of the network (or is absent), and synapse values no simulator can use (infinite or absurd
weights, negative or fractional synapse counts, infinite, NaN or negative delays), in the edges HDF5 or in the
edge-types CSV.  Each is a :class:`SonataFormatError` naming the file and the dataset / column before the run, in
every backend, and :func:`modelkit.validate` reports it."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit import validate
from modelkit.builder import NetworkBuilder
from modelkit.errors import ModelkitError, SonataFormatError
from modelkit.simulator import simulate

POP_PARAMS = {"tau_m": 20.0, "V_th": -50.0, "V_reset": -70.0, "E_L": -70.0, "t_ref": 2.0}


def _network(tmp_path: Path, backend: str) -> Path:
    """Three cells driven by two virtual nodes (edges ``ext_to_net``), saved with a simulation config."""
    d = tmp_path / "network"
    d.mkdir(parents=True)
    net = NetworkBuilder("net", seed=5)
    if backend == "nest":
        net.add_nodes(N=3, model_type="point_neuron", model_template="nest:iaf_psc_delta",
                      dynamics_params={"V_th": -55.0, "E_L": -70.0, "V_m": -70.0})
    elif backend == "neuron":
        net.add_nodes(N=3, model_type="point_process", model_template="nrn:IntFire1")
    else:
        (tmp_path / "pop.json").write_text(json.dumps(POP_PARAMS))
        net.add_nodes(N=1, model_type="population", model_template="lif_density", dynamics_params="pop.json")
    ext = NetworkBuilder("ext", seed=5)
    ext.add_nodes(N=2, model_type="virtual")
    ext.add_edges(target=net.nodes(), connection_rule=1, syn_weight=0.5, delay=1.0,
                  model_template="static_synapse" if backend != "neuron" else None)
    net.save(d)
    ext.save(d)
    cfg = {"target_simulator": {"nest": "NEST", "neuron": "NEURON", "population": "population"}[backend],
           "run": {"tstop": 5.0, "dt": 0.1},
           "components": {"population_models_dir": str(tmp_path)},
           "networks": {"nodes": [{"nodes_file": str(d / f"{p}_nodes.h5"),
                                   "node_types_file": str(d / f"{p}_node_types.csv")} for p in ("net", "ext")],
                        "edges": [{"edges_file": str(d / "ext_net_edges.h5"),
                                   "edge_types_file": str(d / "ext_net_edge_types.csv")}]},
           "inputs": {"drive": {"input_type": "spikes", "module": "poisson", "node_set": "ext", "rate": 100.0}
                      } if backend != "population" else {},
           "output": {"output_dir": str(tmp_path / "out")}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


BACKENDS = ["nest", "neuron", "population"]
EDGES = "/edges/ext_to_net"


def _run(cfg: Path, backend: str):
    if backend == "nest":
        pytest.importorskip("nest")
    if backend == "neuron":
        pytest.importorskip("neuron")
    return simulate(cfg, progress=False)


def _h5(cfg: Path) -> Path:
    return cfg.parent / "network" / "ext_net_edges.h5"


def _csv(cfg: Path) -> Path:
    return cfg.parent / "network" / "ext_net_edge_types.csv"


def _problems(cfg: Path, needle: str) -> list:
    return [p for p in validate(cfg) if p.severity == "error" and needle in f"{p.key} {p.found} {p.expected}"]


# ------------------------------------------------------------------ node_population
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("end", ["source", "target"])
@pytest.mark.parametrize("value", ["nope", None])
def test_edges_naming_a_missing_node_population_stop_the_run(tmp_path, backend, end, value):
    cfg = _network(tmp_path, backend)
    with h5py.File(_h5(cfg), "r+") as f:
        ds = f[f"{EDGES}/{end}_node_id"]
        del ds.attrs["node_population"]
        if value is not None:
            ds.attrs["node_population"] = value
    with pytest.raises(SonataFormatError) as ei:
        _run(cfg, backend)
    msg = str(ei.value)
    assert "ext_net_edges.h5" in msg and f"{EDGES}/{end}_node_id" in msg and "node_population" in msg
    assert not (tmp_path / "out").exists()  # refused before the run
    assert _problems(cfg, f"{end}_node_id@node_population")


def test_good_edges_still_run_in_every_backend(tmp_path):
    for backend in BACKENDS:
        cfg = _network(tmp_path / backend, backend)
        _run(cfg, backend)
        assert not [p for p in validate(cfg) if p.severity == "error"]


# ------------------------------------------------------------------ edge values
def _set_h5(cfg: Path, name: str, value: float) -> None:
    with h5py.File(_h5(cfg), "r+") as f:
        g = f[f"{EDGES}/0"]
        n = f[f"{EDGES}/source_node_id"].shape[0]
        if name in g:
            del g[name]
        vals = np.full(n, 1.0 if name != "syn_weight" else 0.5)
        vals[-1] = value
        g.create_dataset(name, data=vals.astype(np.int64) if name == "nsyns" and float(value).is_integer() else vals)


def _set_csv(cfg: Path, name: str, value: str) -> None:
    lines = _csv(cfg).read_text().splitlines()
    head = lines[0].split(" ")
    if name not in head:
        head.append(name)
        lines = [" ".join(head)] + [row + " 1" for row in lines[1:]]
    k = head.index(name)
    rows = [r.split(" ") for r in lines[1:]]
    for r in rows:
        r[k] = value
    _csv(cfg).write_text("\n".join([" ".join(head)] + [" ".join(r) for r in rows]) + "\n")


BAD_VALUES = [("syn_weight", np.inf), ("syn_weight", -np.inf), ("syn_weight", 1e300),
              ("nsyns", -1), ("nsyns", 2.5), ("nsyns", np.inf), ("nsyns", 1e12),
              ("delay", np.inf), ("delay", -1.0), ("delay", np.nan), ("delay", 1e300)]


@pytest.mark.parametrize("backend", ["nest", "neuron"])
@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_edge_values_in_the_edges_file_are_errors(tmp_path, backend, name, value):
    cfg = _network(tmp_path, backend)
    _set_h5(cfg, name, value)
    with pytest.raises(SonataFormatError) as ei:
        _run(cfg, backend)
    msg = str(ei.value)
    assert "ext_net_edges.h5" in msg and f"{EDGES}/0/{name}" in msg, msg
    assert _problems(cfg, f"{EDGES}/0/{name}")


@pytest.mark.parametrize("backend", ["nest", "neuron"])
@pytest.mark.parametrize(("name", "value"), [("syn_weight", "inf"), ("syn_weight", "1e300"), ("delay", "inf"),
                                             ("delay", "-2.0"), ("delay", "nan"), ("nsyns", "-3")])
def test_bad_edge_values_in_the_edge_types_csv_are_errors(tmp_path, backend, name, value):
    cfg = _network(tmp_path, backend)
    if name == "nsyns":
        with h5py.File(_h5(cfg), "r+") as f:
            del f[f"{EDGES}/0/nsyns"]
    _set_csv(cfg, name, value)
    with pytest.raises(SonataFormatError) as ei:
        _run(cfg, backend)
    msg = str(ei.value)
    assert "ext_net_edge_types.csv" in msg and name in msg, msg
    assert _problems(cfg, name)


def test_validate_reports_bad_values_of_an_edges_file_alone(tmp_path):
    cfg = _network(tmp_path, "nest")
    _set_h5(cfg, "delay", -np.inf)
    assert [p for p in validate(_h5(cfg)) if p.key == f"{EDGES}/0/delay"]


@pytest.mark.parametrize("backend", ["nest", "neuron"])
@pytest.mark.parametrize("value", [np.inf, np.nan, 1e300, "heavy"])
def test_a_weight_function_giving_unusable_weights_is_an_error(tmp_path, backend, value):
    from modelkit.errors import ConfigError
    from modelkit.simulator import synaptic_weight

    @synaptic_weight("modelkit_test_hostile")
    def hostile(edges, sources, targets):
        return np.full(len(edges), value, dtype=object)

    cfg = _network(tmp_path, backend)
    _set_csv(cfg, "weight_function", "modelkit_test_hostile")
    with pytest.raises(ConfigError, match="weight_function modelkit_test_hostile"):
        _run(cfg, backend)


def test_delays_below_dt_are_refused_by_nest_and_warned_by_validate(tmp_path):
    cfg = _network(tmp_path, "nest")
    _set_csv(cfg, "delay", "0.05")  # run.dt is 0.1 ms
    with pytest.raises(ModelkitError, match="delay"):
        _run(cfg, "nest")
    warned = [p for p in validate(cfg) if p.severity == "warning" and p.key == "column delay"]
    assert warned and "run.dt" in warned[0].expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_edges_onto_virtual_nodes_only_stop_the_run(tmp_path, backend):
    """bmtk refuses them ("consists of only virtual nodes"); every backend skipped them without a word."""
    cfg = _network(tmp_path, backend)
    with h5py.File(_h5(cfg), "r+") as f:
        f[f"{EDGES}/target_node_id"].attrs["node_population"] = "ext"
        f[f"{EDGES}/target_node_id"][...] = 0
    with pytest.raises(SonataFormatError, match="virtual nodes only"):
        _run(cfg, backend)


def test_validate_reports_bad_values_of_an_edge_types_csv_alone(tmp_path):
    cfg = _network(tmp_path, "nest")
    _set_csv(cfg, "syn_weight", "inf")
    assert [p for p in validate(_csv(cfg)) if p.key == "column syn_weight"]


@pytest.mark.parametrize("where", ["h5", "csv"])
def test_a_delay_whose_nest_ring_buffers_would_exhaust_memory_is_refused(tmp_path, where):
    """NEST keeps delay / dt slots per cell: 10^8 ms at dt = 0.1 ms is 10^9 slots per cell, allocated before the
    first step (10 cells with 10^6 ms took 1.8 GB)."""
    cfg = _network(tmp_path, "nest")
    if where == "h5":
        _set_h5(cfg, "delay", 1e8)
    else:
        _set_csv(cfg, "delay", "1e8")
    with pytest.raises(ModelkitError, match="ring-buffer"):
        _run(cfg, "nest")


@pytest.mark.parametrize("name", ["nsyns", "delay"])
def test_validate_reads_no_more_values_than_the_population_has_edges(tmp_path, name):
    """A group column declared 10^12 long (chunked, never written: a few KB on disk) is read only as far as the
    population's edges go (it looped over 2.5 x 10^5 chunks of fill values)."""
    import time
    cfg = _network(tmp_path, "nest")
    with h5py.File(_h5(cfg), "r+") as f:
        g = f[f"{EDGES}/0"]
        n = f[f"{EDGES}/source_node_id"].shape[0]
        if name in g:
            del g[name]
        ds = g.create_dataset(name, shape=(10**12,), maxshape=(None,), chunks=(1024,), dtype="f8")
        ds[:n] = 1.0
    t0 = time.perf_counter()
    validate(cfg)
    validate(_h5(cfg))
    assert time.perf_counter() - t0 < 20
