"""Fixtures of the analysis tests: a tiny network written with modelkit's writers, and hand-made spikes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelkit.sonata import EdgePopulationData, Network, NodePopulationData, write_edges, write_nodes
from modelkit.testing import shared_path

REF = shared_path("reference", "bmtk", "point_120cells")
P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells")

#: population "a": 4 nodes on a line (x = 0, 10, 20, 30 µm); ei e, e, i, i; types 100 (Exc), 100, 101 (Inh), 101
#: spikes (ms, deliberately unsorted): node 0 at 30, 10, 20; node 1 at 5; node 2 at 40, 0, 10; node 3 silent
SPIKES = {"a": (np.array([0, 2, 1, 0, 2, 0, 2]), np.array([30.0, 40.0, 5.0, 10.0, 0.0, 20.0, 10.0]))}


@pytest.fixture()
def spikes_a() -> dict:
    """The hand-made spikes of population "a" (a fresh copy)."""
    return {k: (v[0].copy(), v[1].copy()) for k, v in SPIKES.items()}


@pytest.fixture()
def tiny(tmp_path: Path) -> Network:
    """The tiny network of the module docstring, with edges (see test_connectivity_stats)."""
    d = tmp_path / "net"
    d.mkdir()
    write_nodes(d / "a_nodes.h5", [NodePopulationData.from_columns(
        "a", [100, 100, 101, 101], {"ei": np.array(["e", "e", "i", "i"], dtype=object),
                                    "x": [0.0, 10.0, 20.0, 30.0], "y": [0.0] * 4, "z": [0.0] * 4})])
    (d / "a_node_types.csv").write_text("node_type_id pop_name model_type\n"
                                        "100 Exc point_neuron\n101 Inh point_neuron\n")
    # edges: 0->1 (type 1: w 2, nsyns 3, delay 1), 0->2 (type 1: w 1, nsyns 1, delay 2), 1->0 (type 2: w -1, nsyns 2,
    # delay 3), 3->1 (type 2: w -2, nsyns 1, delay 1), 0->1 again (type 1: w 2, nsyns 1, delay 1)
    write_edges(d / "a_a_edges.h5", [EdgePopulationData.from_columns(
        "a_to_a", "a", "a", [0, 0, 1, 3, 0], [1, 2, 0, 1, 1], [1, 1, 2, 2, 1],
        {"syn_weight": [2.0, 1.0, -1.0, -2.0, 2.0], "nsyns": [3, 1, 2, 1, 1], "delay": [1.0, 2.0, 3.0, 1.0, 1.0]})])
    (d / "a_a_edge_types.csv").write_text("edge_type_id model_template\n1 static_synapse\n2 static_synapse\n")
    return Network.load(d)


@pytest.fixture()
def ref_config(tmp_path: Path) -> Path:
    """A simulation config whose output is bmtk's reference run of point_120cells (read in place)."""
    cfg = {"run": {"tstart": 0.0, "tstop": 3000.0, "dt": 0.001},
           "output": {"output_dir": str(REF), "spikes_file": "spikes.h5"},
           "network": str(P120 / "config.circuit.json")}
    p = tmp_path / "config.simulation.json"
    p.write_text(json.dumps(cfg))
    return p
