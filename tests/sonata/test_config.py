"""Config parsing: manifest expansion, path resolution, schema errors that name file and key."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from modelkit.errors import ConfigError
from modelkit.sonata import CircuitConfig, SimulationConfig, load_config


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def circuit(**extra):
    d = {"manifest": {"$BASE": "${configdir}", "$NET": "$BASE/network", "$DEEP": "$NET/deeper"},
         "components": {"morphologies_dir": "$DEEP/morph"},
         "networks": {"nodes": [{"nodes_file": "$NET/a_nodes.h5", "node_types_file": "$NET/a_node_types.csv"}],
                      "edges": [{"edges_file": "$NET/../x/e.h5", "edge_types_file": None, "enabled": False}]}}
    d.update(extra)
    return d


def test_chained_manifest_and_paths_relative_to_config_folder(tmp_path, monkeypatch):
    cfg_path = write(tmp_path / "sub" / "circuit.json", circuit())
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    c = load_config("sub/circuit.json")
    assert isinstance(c, CircuitConfig)
    base = str(tmp_path / "sub")
    assert c.nodes[0].nodes_file == os.path.join(base, "network", "a_nodes.h5")
    assert c.components["morphologies_dir"] == os.path.join(base, "network", "deeper", "morph")
    assert c.edges[0].edges_file == os.path.join(base, "x", "e.h5") and not c.edges[0].enabled
    assert c.manifest["$DEEP"].endswith("network/deeper")
    assert c.path == str(cfg_path)


def test_cyclic_manifest_names_key(tmp_path):
    p = write(tmp_path / "c.json", circuit(manifest={"$A": "$B/x", "$B": "${C}", "$C": "$A"}))
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    e = ei.value
    assert e.path == str(p) and e.key.startswith("manifest.$") and "cycles" in e.expected
    assert "$A" in e.found and "$B" in e.found


def test_undefined_variable_names_key(tmp_path):
    d = circuit()
    d["networks"]["nodes"][0]["nodes_file"] = "$NOPE/a.h5"
    p = write(tmp_path / "c.json", d)
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert ei.value.key == "networks.nodes[0].nodes_file" and "$NOPE" in str(ei.value)


def test_variables_are_text_never_evaluated(tmp_path):
    d = circuit()
    d["manifest"]["$X"] = "__import__('os').system('false')"
    p = write(tmp_path / "c.json", d)
    c = load_config(p)
    assert c.manifest["$X"] == "__import__('os').system('false')"


@pytest.mark.parametrize("mutate,key", [
    (lambda d: d["run"].pop("tstop"), "run"),
    (lambda d: d["run"].__setitem__("dt", "0.1"), "run.dt"),
    (lambda d: d["run"].__setitem__("dt", -1), "run.dt"),
    (lambda d: d["inputs"]["spk"].pop("module"), "inputs.spk"),
    (lambda d: d["output"].__setitem__("overwrite_output_dir", "yes"), "output.overwrite_output_dir"),
    (lambda d: d["run"].update(nsteps_block=5, tsteps_block=5), "run"),
])
def test_schema_errors_name_the_key(tmp_path, mutate, key):
    write(tmp_path / "circuit.json", circuit())
    d = {"network": "circuit.json", "run": {"tstop": 100.0, "dt": 0.1},
         "inputs": {"spk": {"input_type": "spikes", "module": "sonata", "input_file": "in.h5", "node_set": "a"}},
         "output": {"output_dir": "out"}}
    mutate(d)
    p = write(tmp_path / "sim.json", d)
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert ei.value.path == str(p) and ei.value.key == key, str(ei.value)


def test_simulation_config_typed(tmp_path):
    write(tmp_path / "circuit.json", circuit())
    d = {"manifest": {"$OUT": "${configdir}/results"}, "network": "circuit.json",
         "run": {"tstop": 100.0, "dt": 0.1, "nsteps_block": 100, "random_seed": 3},
         "conditions": {"celsius": 34.0},
         "inputs": {"spk": {"input_type": "spikes", "module": "sonata", "input_file": "inputs/in.h5",
                            "node_set": "a", "trial": "t0"}},
         "reports": {"v": {"cells": [0, 1], "variable_name": "v", "module": "membrane_report"}},
         "output": {"output_dir": "$OUT", "spikes_file": "spikes.h5", "log_file": "log.txt"}}
    s = load_config(write(tmp_path / "sim.json", d))
    assert isinstance(s, SimulationConfig)
    assert s.run.tstop == 100.0 and s.run.nsteps_block == 100 and s.run.random_seed == 3
    assert s.output.output_dir == str(tmp_path / "results")
    assert s.output.spikes_file == str(tmp_path / "results" / "spikes.h5")
    assert s.inputs["spk"].input_file == str(tmp_path / "inputs" / "in.h5")
    assert s.inputs["spk"].params["trial"] == "t0"
    assert s.reports["v"].file_name == str(tmp_path / "results" / "v.h5")
    assert s.circuit is not None and s.circuit.nodes[0].nodes_file.endswith("network/a_nodes.h5")
    assert s.components["morphologies_dir"].endswith("network/deeper/morph")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.run.tstop = 5


def test_wrapper_config(tmp_path):
    write(tmp_path / "c" / "circuit.json", circuit())
    write(tmp_path / "s" / "sim.json", {"run": {"tstop": 10.0, "dt": 0.1}})
    w = write(tmp_path / "config.json", {"network": "c/circuit.json", "simulation": "s/sim.json"})
    s = load_config(w)
    assert isinstance(s, SimulationConfig)
    assert s.network == str(tmp_path / "c" / "circuit.json")
    assert s.circuit.nodes[0].nodes_file == str(tmp_path / "c" / "network" / "a_nodes.h5")


def test_missing_network_and_bad_json(tmp_path):
    p = write(tmp_path / "sim.json", {"network": "nope.json", "run": {"tstop": 10.0, "dt": 0.1}})
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert ei.value.key == "network"
    bad = tmp_path / "bad.json"
    bad.write_text('{"run": {"tstop": 1,, }}')
    with pytest.raises(ConfigError) as ei:
        load_config(bad)
    assert ei.value.path == str(bad) and "line 1" in ei.value.key
    arr = tmp_path / "arr.json"
    arr.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(arr)


def test_reading_configs_does_not_load_rfc3987_syntax():
    """jsonschema is imported without its 1.8 s IRI grammar package (modelkit uses no format checks), and the
    package stays importable afterwards."""
    import subprocess
    import sys
    code = ("import sys, modelkit.sonata; assert 'rfc3987_syntax' not in sys.modules, 'loaded'; "
            "import importlib.util as u; print(u.find_spec('rfc3987_syntax') is not None)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
