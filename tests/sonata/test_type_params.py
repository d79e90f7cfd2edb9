"""type_params: a types table's dynamics_params read as values (files in the components folders, inline objects)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelkit.errors import ConfigError
from modelkit.sonata import Network, NodePopulationData, type_params, write_nodes
from modelkit.sonata.type_params import flatten_params
from modelkit.testing import shared_path

BIO14 = shared_path("sonata", "corpus", "bmtk", "examples", "bio_14cells", "config.circuit.json")


def _network(tmp_path, types_csv: str, components: dict | None = None):
    d = tmp_path / "net"
    d.mkdir(parents=True)
    write_nodes(d / "a_nodes.h5", [NodePopulationData.from_columns("a", [1, 2, 3], {})])
    (d / "a_node_types.csv").write_text(types_csv)
    nodes = [{"nodes_file": str(d / "a_nodes.h5"), "node_types_file": str(d / "a_node_types.csv")}]
    cfg = {"networks": {"nodes": nodes, "edges": []}, "components": components or {}}
    (d / "config.circuit.json").write_text(json.dumps(cfg))
    return Network.load(d / "config.circuit.json")


def test_files_from_the_components_folder_and_inline_objects(tmp_path):
    cells = tmp_path / "cells"
    cells.mkdir()
    (cells / "exc.json").write_text(json.dumps({"tau_m": 20.0, "C_m": 250.0}))
    net = _network(tmp_path, "node_type_id model_type dynamics_params\n"
                             "1 point_neuron exc.json\n"
                             "2 point_neuron \"{'tau_m': 10.0, 'V_th': -50.0}\"\n"
                             "3 virtual NULL\n", {"point_neuron_models_dir": str(cells)})
    p = type_params(net, "a")
    assert list(p.index) == [1, 2, 3] and p.index.name == "node_type_id"
    assert list(p.columns) == ["tau_m", "C_m", "V_th"]
    assert p.loc[1, "tau_m"] == 20.0 and p.loc[2, "tau_m"] == 10.0 and np.isnan(p.loc[1, "V_th"])
    assert p.loc[3].isna().all()
    assert p.attrs["sources"] == {1: str(cells / "exc.json"), 2: "inline", 3: None}


def test_a_missing_file_names_the_table_and_type_or_is_kept(tmp_path):
    net = _network(tmp_path, "node_type_id model_type dynamics_params\n1 point_neuron gone.json\n",
                   {"point_neuron_models_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="gone.json"):
        type_params(net, "a")
    p = type_params(net, "a", missing="keep")
    assert p.shape == (1, 0) and "gone.json" in p.attrs["errors"][1]
    bare = _network(tmp_path / "b", "node_type_id model_type dynamics_params\n1 point_neuron x.json\n")
    with pytest.raises(ConfigError, match=r"a_node_types.csv: node_type_id 1: dynamics_params.*components folder"):
        type_params(bare, "a")
    with pytest.raises(ConfigError, match="node population"):
        type_params(net, "nope")
    with pytest.raises(ConfigError, match="'nodes' or 'edges'"):
        type_params(net, "a", "cells")


def test_bmtk_biophysical_parameters_flatten_to_dotted_names():
    net = Network.load(BIO14)
    p = type_params(net, "v1")
    raw = json.loads(open(p.attrs["sources"][100]).read())
    gene = raw["genome"][0]
    assert p.loc[100, f"genome.{gene['section']}.{gene['name']}"] == gene["value"]
    assert p.loc[100, "passive.ra"] == raw["passive"][0]["ra"]
    e = type_params(net, "v1_to_v1", "edges")
    assert {"tau1", "tau2", "erev"} <= set(e.columns) and e.index.name == "edge_type_id"


def test_flatten_keeps_plain_lists_and_indexes_lists_of_objects():
    assert flatten_params({"a": {"b": 1}, "w": [1, 2], "l": [{"x": 1}, {"x": 2}]}) == \
        {"a.b": 1, "w": [1, 2], "l.0.x": 1, "l.1.x": 2}
