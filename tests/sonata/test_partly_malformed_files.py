"""Partly malformed files: as libsonata does, the valid populations of a file open and the broken ones are
reported (``Network.load``, ``modelkit info``, ``modelkit validate``); using a broken one, or running the
network, fails naming the file, population and dataset."""

from __future__ import annotations

import json

import h5py
import libsonata
import numpy as np
import pytest

from modelkit import validate
from modelkit.cli import info
from modelkit.errors import SonataFormatError
from modelkit.sonata import Network, SimulationConfig
from modelkit.sonata.simcheck import check_references


def _population(g: h5py.Group, n: int) -> None:
    g["node_type_id"] = np.full(n, 100, np.int64)
    g["node_group_id"] = np.zeros(n, np.int64)
    g["node_group_index"] = np.arange(n, dtype=np.int64)
    g.create_group("0")["x"] = np.arange(n, dtype=float)


def _dataset_not_group(nodes: h5py.Group) -> str:
    nodes["bad"] = np.arange(3)
    return "/nodes/bad"


def _missing_type_ids(nodes: h5py.Group) -> str:
    _population(nodes.create_group("bad"), 3)
    del nodes["bad/node_type_id"]
    return "/nodes/bad/node_type_id"


def _short_group_ids(nodes: h5py.Group) -> str:
    _population(nodes.create_group("bad"), 3)
    del nodes["bad/node_group_id"]
    nodes["bad/node_group_id"] = np.zeros(2, np.int64)
    return "/nodes/bad/node_group_id"


def _string_type_ids(nodes: h5py.Group) -> str:
    _population(nodes.create_group("bad"), 3)
    del nodes["bad/node_type_id"]
    nodes["bad/node_type_id"] = np.array([b"a", b"b", b"c"])
    return "/nodes/bad/node_type_id"


def _dangling_link(nodes: h5py.Group) -> str:
    nodes["bad"] = h5py.SoftLink("/nowhere")
    return "/nodes/bad"


CASES = {"dataset instead of a group": _dataset_not_group, "missing node_type_id": _missing_type_ids,
         "node_group_id too short": _short_group_ids, "string node_type_id": _string_type_ids,
         "dangling link": _dangling_link}


@pytest.fixture(params=sorted(CASES))
def circuit(request, tmp_path):
    """A nodes file with a valid population ``good`` (4 nodes) and a broken ``bad``; an edges file with a
    valid ``good`` (good -> good) and a ``bad`` one without source ids."""
    with h5py.File(tmp_path / "nodes.h5", "w") as f:
        _population(f.create_group("nodes/good"), 4)
        dataset = CASES[request.param](f["nodes"])
    (tmp_path / "node_types.csv").write_text("node_type_id model_type\n100 virtual\n")
    with h5py.File(tmp_path / "edges.h5", "w") as f:
        for name, n in (("good", 3), ("bad", 2)):
            g = f.create_group(f"edges/{name}")
            for k, v in (("source_node_id", np.zeros(n, np.int64)), ("target_node_id", np.arange(n))):
                g[k] = v
                g[k].attrs["node_population"] = "good"
            g["edge_type_id"] = np.ones(n, np.int64)
            g["edge_group_id"] = np.zeros(n, np.int64)
            g["edge_group_index"] = np.arange(n, dtype=np.int64)
            g.create_group("0")
        del f["edges/bad/source_node_id"]
    (tmp_path / "edge_types.csv").write_text("edge_type_id delay\n1 1.0\n")
    cfg = tmp_path / "circuit_config.json"
    cfg.write_text(json.dumps({"networks": {
        "nodes": [{"nodes_file": "nodes.h5", "node_types_file": "node_types.csv"}],
        "edges": [{"edges_file": "edges.h5", "edge_types_file": "edge_types.csv"}]}}))
    return cfg, str(tmp_path / "nodes.h5"), dataset


def test_valid_populations_open_as_in_libsonata(circuit):
    cfg, nodes_file, dataset = circuit
    net = Network.load(cfg)
    lib = libsonata.NodeStorage(nodes_file)
    assert lib.population_names == {"good", "bad"}
    assert net.nodes["good"].size == lib.open_population("good").size == 4
    assert net.nodes["good"].get(["x"])["x"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert net.edges["good"].size == 3 and net.materialize("good")["good"].flat.tolist() == [0, 1, 2, 3]
    with pytest.raises(SonataFormatError) as e:  # a query of the broken population names file and dataset
        net.nodes["bad"].get(["x"])
    assert e.value.path == nodes_file and e.value.dataset.startswith(dataset)
    with pytest.raises(SonataFormatError) as e:
        net.edges["bad"].source_ids()
    assert e.value.dataset == "/edges/bad/source_node_id"
    assert "good" in repr(net)


def test_the_file_loaded_alone_opens_too(circuit):
    _, nodes_file, _ = circuit
    assert Network.load(nodes_file).nodes["good"].size == 4


def test_info_lists_the_valid_populations_and_the_broken_ones(circuit):
    cfg, nodes_file, dataset = circuit
    d = info(str(cfg))
    assert d["nodes"]["good"]["count"] == 4 and "bad" not in d["nodes"]
    assert d["edges"]["good"]["count"] == 3 and "bad" not in d["edges"]
    assert nodes_file in d["unreadable"]["nodes"]["bad"] and dataset in d["unreadable"]["nodes"]["bad"]
    assert "/edges/bad/source_node_id" in d["unreadable"]["edges"]["bad"]
    errors = [(p["path"], p["key"]) for p in d["problems"] if p["severity"] == "error"]
    assert any(path == nodes_file and key.startswith(dataset) for path, key in errors), errors


def test_validate_reports_the_broken_populations_only(circuit):
    cfg, nodes_file, dataset = circuit
    errors = [p for p in validate(cfg) if p.severity == "error"]
    assert errors
    assert all("/bad" in str(p.key) for p in errors), errors
    assert any(p.path == nodes_file and str(p.key).startswith(dataset) for p in errors)


def test_a_run_of_the_network_needs_every_population(circuit, tmp_path):
    cfg, nodes_file, dataset = circuit
    sim = SimulationConfig.from_dict({"run": {"tstop": 10.0, "dt": 0.1}, "network": str(cfg),
                                      "output": {"output_dir": str(tmp_path / "out")}}, str(tmp_path))
    problems = [p for p in check_references(sim, Network.from_config(sim)) if p.severity == "error"]
    assert any(p.path == nodes_file for p in problems) or dataset != "/nodes/bad"  # lazily broken: found on use
    assert all("/bad" in str(p.key) for p in problems)


def test_a_node_set_naming_a_broken_population_fails_naming_its_file(circuit):
    cfg, nodes_file, dataset = circuit
    net = Network.load(cfg)
    for ref in ("bad", {"population": "bad"}, {"populations": ["bad", "good"]}):
        with pytest.raises(SonataFormatError) as e:
            net.materialize(ref)
        assert e.value.path == nodes_file and e.value.dataset.startswith(dataset), ref
    assert net.materialize({"population": "good"})["good"].flat.tolist() == [0, 1, 2, 3]
