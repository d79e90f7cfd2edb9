"""Configs as bmtk's users write them: inline ``node_sets``, ``run.duration``, morphology names with dots,
``input_file`` lists; checked on bmtk's own example suite (``shared/bmtk-examples``, read in place)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from modelkit import validate
from modelkit.builder import NetworkBuilder
from modelkit.errors import ConfigError, NodeSetError
from modelkit.sonata import Network, NodeSets, SimulationConfig, load_config


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture()
def net_dir(tmp_path):
    """A 5-node network ``v1`` (3 biophysical ``e``, 2 point ``i``) saved in tmp_path/network."""
    b = NetworkBuilder("v1")
    b.add_nodes(3, model_type="biophysical", ei="e")
    b.add_nodes(2, model_type="point_process", ei="i")
    b.build()
    b.save(str(tmp_path / "network"))
    return tmp_path


def networks():
    return {"nodes": [{"nodes_file": "network/v1_nodes.h5", "node_types_file": "network/v1_node_types.csv"}]}


RUN = {"tstop": 100.0, "dt": 0.1}


# ------------------------------------------------------------------ inline node sets
def test_inline_node_sets_of_bmtk_examples(bmtk_examples_dir):
    """bio_advanced_stimuli defines ``biophys_cells`` in the simulation config itself (no node_sets_file)."""
    net = Network.load(bmtk_examples_dir / "bio_advanced_stimuli" / "config.simulation_iclamp.json")
    assert "biophys_cells" in net.node_sets.names
    sel = net.materialize("biophys_cells")
    for name, pop in net.nodes.items():
        mt = pop.get(["model_type"])["model_type"].astype(str).to_numpy()
        assert sel[name].flat.tolist() == np.flatnonzero(mt == "biophysical").tolist()
    assert sum(len(s) for s in sel.values()) > 0


def test_inline_node_set_as_id_list_is_node_ids_of_every_population(bmtk_examples_dir):
    """bio_stp_models: ``"save_cell_vars": [0, ..., 9]`` is bmtk's ``{"node_id": [...]}`` in every population."""
    net = Network.load(bmtk_examples_dir / "bio_stp_models" / "config.simulation.json")
    sel = net.materialize("save_cell_vars")
    for name, pop in net.nodes.items():
        want = [i for i in range(10) if i < pop.size]
        assert sel[name].flat.tolist() == want


def test_inline_node_sets_add_to_the_file_and_win_on_a_clash(net_dir):
    write(net_dir / "node_sets.json", {"exc": {"ei": "e"}, "inh": {"ei": "i"}})
    cfg = write(net_dir / "config.json", {
        "run": RUN, "networks": networks(), "node_sets_file": "node_sets.json",
        "node_sets": {"inh": {"node_id": [4]}, "bio": {"model_type": "biophysical"},
                      "bio_or_inh": ["bio", "inh"], "first_two": [0, 1],
                      "named_pops": {"populations": ["v1"], "ei": "i"}}})
    sim = load_config(cfg)
    assert isinstance(sim, SimulationConfig) and set(sim.node_sets) == {"inh", "bio", "bio_or_inh", "first_two",
                                                                         "named_pops"}
    net = Network.load(cfg)
    assert net.node_sets.names == ["bio", "bio_or_inh", "exc", "first_two", "inh", "named_pops"]
    assert net.materialize("exc")["v1"].flat.tolist() == [0, 1, 2]        # from the file
    assert net.materialize("inh")["v1"].flat.tolist() == [4]              # the config's own wins
    assert net.materialize("bio_or_inh")["v1"].flat.tolist() == [0, 1, 2, 4]
    assert net.materialize("first_two")["v1"].flat.tolist() == [0, 1]
    assert net.materialize("named_pops")["v1"].flat.tolist() == [3, 4]   # bmtk's "populations" spelling
    assert not any(p.severity == "error" for p in validate(cfg))


def test_inline_node_sets_of_the_circuit_config_and_the_simulation(net_dir):
    """A circuit config may define node sets too; the simulation's own win on a name in both."""
    write(net_dir / "circuit_config.json", {"networks": networks(),
                                            "node_sets": {"a": {"ei": "e"}, "b": {"ei": "e"}}})
    cfg = write(net_dir / "simulation_config.json", {"run": RUN, "network": "circuit_config.json",
                                                     "node_sets": {"b": {"ei": "i"}}})
    net = Network.load(cfg)
    assert net.materialize("a")["v1"].flat.tolist() == [0, 1, 2]
    assert net.materialize("b")["v1"].flat.tolist() == [3, 4]
    circuit_only = Network.load(net_dir / "circuit_config.json")
    assert circuit_only.materialize("b")["v1"].flat.tolist() == [0, 1, 2]


def test_inline_node_sets_reach_a_run_given_a_separate_network(net_dir):
    """``simulate(cfg, network=...)`` with a network built in memory still sees the config's node sets."""
    sim = SimulationConfig.from_dict({"run": RUN, "node_sets": {"exc": {"ei": "e"}}}, str(net_dir))
    ns = NodeSets.from_config(sim)
    assert ns.names == ["exc"] and ns.sources == []


def test_invalid_inline_node_set_names_the_config_and_key(net_dir):
    cfg = write(net_dir / "config.json", {"run": RUN, "networks": networks(),
                                          "node_sets": {"bad": {"ei": {"nested": "object"}}}})
    with pytest.raises(NodeSetError) as e:
        Network.load(cfg)
    assert e.value.path == str(cfg) and e.value.key.startswith("node_sets.bad")


def test_inline_node_sets_must_be_an_object_of_definitions(net_dir):
    cfg = write(net_dir / "config.json", {"run": RUN, "networks": networks(), "node_sets": {"x": "exc"}})
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert e.value.key == "node_sets.x"


def test_unknown_node_set_names_where_modelkit_looked(net_dir):
    cfg = write(net_dir / "config.json", {"run": RUN, "networks": networks(), "node_sets": {"exc": {"ei": "e"}}})
    with pytest.raises(NodeSetError) as e:
        Network.load(cfg).materialize("nope")
    assert str(cfg) in str(e.value) and "exc" in str(e.value)


# ------------------------------------------------------------------ run.duration
def test_run_duration_of_bmtk_pointnet(bmtk_examples_dir):
    cfg = load_config(bmtk_examples_dir / "ei_networks" / "pointnet" / "config.json")
    assert isinstance(cfg, SimulationConfig)
    assert cfg.run.tstop == 3000.0 and cfg.run.dt == 0.01 and "duration" not in cfg.run.extra


@pytest.mark.parametrize("run, tstop", [({"duration": 50.0, "dt": 0.1}, 50.0),
                                        ({"tstop": 50.0, "duration": 50.0, "dt": 0.1}, 50.0),
                                        ({"tstop": 60.0, "dt": 0.1}, 60.0)])
def test_run_duration_or_tstop(tmp_path, run, tstop):
    assert SimulationConfig.from_dict({"run": run}, str(tmp_path)).run.tstop == tstop


@pytest.mark.parametrize("run, key, expected", [
    ({"dt": 0.1}, "run", "one of the keys 'tstop' or 'duration'"),
    ({"duration": 50.0, "tstop": 60.0, "dt": 0.1}, "run.duration", "the same end of the run as run.tstop"),
    ({"duration": -5.0, "dt": 0.1}, "run.duration", "> 0"),
    ({"duration": float("nan"), "dt": 0.1}, "run.duration", "finite"),
    ({"duration": 0.05, "dt": 0.1}, "run.dt", "no longer than the run"),
])
def test_run_duration_errors_name_the_key(tmp_path, run, key, expected):
    with pytest.raises(ConfigError) as e:
        SimulationConfig.from_dict({"run": run}, str(tmp_path), str(tmp_path / "c.json"))
    assert e.value.key == key and expected in e.value.expected


# ------------------------------------------------------------------ morphology names
def test_morphology_name_with_dots_gets_swc_as_bmtk_does(tmp_path):
    from modelkit.sonata.swc import morphology_path
    (tmp_path / "Rbp4-Cre_KL100_Ai14-180747.06.01.01_495335491_m.swc").write_text("")
    (tmp_path / "has_ext.asc").write_text("")
    assert morphology_path(tmp_path, "Rbp4-Cre_KL100_Ai14-180747.06.01.01_495335491_m") == \
        str(tmp_path / "Rbp4-Cre_KL100_Ai14-180747.06.01.01_495335491_m.swc")
    assert morphology_path(tmp_path, "has_ext.asc") == str(tmp_path / "has_ext.asc")
    assert morphology_path(tmp_path, "x.swc") == str(tmp_path / "x.swc")


@pytest.mark.parametrize("config", ["bio_intfire_ring/config.simulation.json", "bio_on_off/config.simulation.json",
                                    "bio_advanced_stimuli/config.simulation_iclamp.json",
                                    "bio_advanced_stimuli/config.simulation_xstim.json",
                                    "bio_stp_models/config.simulation.json"])
def test_bmtk_examples_validate_without_node_set_or_morphology_errors(bmtk_examples_dir, config):
    errors = [p for p in validate(bmtk_examples_dir / config) if p.severity == "error"]
    assert not [p for p in errors if "node set" in str(p.expected) or "morpholog" in str(p.key)], errors


# ------------------------------------------------------------------ input_file lists
@pytest.mark.parametrize("config", ["point_neuropixels/config.simulation.multi_sessions.json",
                                    "bio_neuropixels/config.simulation.multi_session.json"])
def test_input_file_list_of_the_neuropixels_examples(bmtk_examples_dir, config):
    cfg = load_config(bmtk_examples_dir / config)
    spec = cfg.inputs["lgn_spikes"]
    folder = os.path.dirname(str(bmtk_examples_dir / config))
    assert len(spec.input_files) == 3
    assert all(os.path.isabs(f) and f.startswith(folder + os.sep) and f.endswith(".nwb") for f in spec.input_files)
    missing = [p for p in validate(bmtk_examples_dir / config) if p.expected == "an existing file"]
    assert [p.key for p in missing] == [f"inputs.lgn_spikes.input_file[{i}]" for i in range(3)]
    assert [p.found for p in missing] == list(spec.input_files)


def test_input_file_list_paths_resolve_like_one_path(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    write(tmp_path / "sub" / "in" / "b.h5", {})
    cfg = SimulationConfig.from_dict(
        {"manifest": {"$IN": "${configdir}/in"}, "run": RUN,
         "inputs": {"x": {"input_type": "spikes", "module": "nwb", "input_file": ["$IN/a.nwb", "in/b.h5", "/abs/c"]},
                    "y": {"input_type": "spikes", "module": "sonata", "input_file": "in/b.h5"}}},
        str(tmp_path / "sub"), str(tmp_path / "sub" / "c.json"))
    base = str(tmp_path / "sub" / "in")
    assert cfg.inputs["x"].input_files == (f"{base}/a.nwb", f"{base}/b.h5", "/abs/c")
    assert cfg.inputs["y"].input_files == (f"{base}/b.h5",) and cfg.inputs["y"].input_file == f"{base}/b.h5"
    with pytest.raises(ConfigError) as e:  # a module that reads one file, given several
        _ = cfg.inputs["x"].input_file
    assert e.value.key == "inputs.x.input_file" and "a list of 3" in str(e.value)


@pytest.mark.parametrize("value, key", [([], "inputs.x.input_file"), (["a.nwb", 3], "inputs.x.input_file[1]"),
                                        (["a.nwb", ""], "inputs.x.input_file[1]"), (5, "inputs.x.input_file")])
def test_bad_input_file_list_names_the_index(tmp_path, value, key):
    with pytest.raises(ConfigError) as e:
        SimulationConfig.from_dict({"run": RUN, "inputs": {"x": {"input_type": "spikes", "module": "nwb",
                                                                 "input_file": value}}}, str(tmp_path))
    assert e.value.key == key


def test_all_simulation_configs_of_the_examples_parse(bmtk_examples_dir):
    """The 43 simulation configs (a ``run`` block) of bmtk's example suite parse, manifest and all."""
    configs = []
    for p in sorted(bmtk_examples_dir.rglob("*.json")):
        try:
            d = json.loads(p.read_text())
        except ValueError:
            continue
        if isinstance(d, dict) and "run" in d:
            configs.append(p)
    assert len(configs) == 43
    for p in configs:
        assert isinstance(load_config(p), SimulationConfig), p
