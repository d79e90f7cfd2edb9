"""The ``modelkit`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from modelkit.testing import shared_path

CORPUS = shared_path("sonata", "corpus")
EXPECTED = json.loads((CORPUS / "EXPECTED.json").read_text())


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "modelkit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def _expected_populations(config_rel: str) -> tuple[dict, dict]:
    """Node and edge population facts for a config, gathered from EXPECTED's per-file facts."""
    from modelkit.sonata import load_config
    cfg = load_config(CORPUS / config_rel)
    circuit = getattr(cfg, "circuit", None) or cfg
    nodes, edges = {}, {}
    for e in circuit.nodes:
        facts = EXPECTED["files"][os.path.relpath(e.nodes_file, CORPUS)]
        for name, p in facts["populations"].items():
            nodes[name] = {"count": p["count"], "node_types": {str(k): v for k, v in
                                                               p["node_type_id_histogram"].items()}}
    for e in circuit.edges:
        facts = EXPECTED["files"][os.path.relpath(e.edges_file, CORPUS)]
        for name, p in facts["populations"].items():
            edges[name] = {"count": p["count"], "source": p["source_population"], "target": p["target_population"]}
    return nodes, edges


CONFIGS = ["bmtk/examples/point_120cells/config.simulation.json", "bmtk/examples/bio_14cells/config.circuit.json",
           "sonata/examples/300_pointneurons/config.json", "sonata/examples/9_cells/circuit_config.json"]


@pytest.mark.parametrize("rel", CONFIGS)
def test_info_json_matches_expected(rel):
    r = run("info", CORPUS / rel, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    nodes, edges = _expected_populations(rel)
    assert set(d["nodes"]) == set(nodes)
    for name, facts in nodes.items():
        assert d["nodes"][name]["count"] == facts["count"]
        assert d["nodes"][name]["node_types"] == facts["node_types"]
    assert set(d["edges"]) == set(edges)
    for name, facts in edges.items():
        for k in ("count", "source", "target"):
            assert d["edges"][name][k] == facts[k]
    assert [p for p in d["problems"] if p["severity"] == "error"] == []


def test_info_text_and_console_script():
    r = run("info", CORPUS / CONFIGS[0])
    assert r.returncode == 0
    assert "cortex" in r.stdout and "thalamus_to_cortex" in r.stdout and "problems: 0 error(s)" in r.stdout
    exe = shutil.which("modelkit", path=os.path.dirname(sys.executable))
    assert exe is not None, "console script 'modelkit' not installed"
    r2 = subprocess.run([exe, "info", str(CORPUS / CONFIGS[0]), "--json"], capture_output=True, text=True)
    assert r2.returncode == 0 and json.loads(r2.stdout)["nodes"]["cortex"]["count"] == 120


def test_info_on_files_of_every_kind():
    for rel, key in [("bmtk/examples/bio_14cells/inputs/lgn_spikes.h5", "spikes"),
                     ("sonata/examples/9_cells/output/membrane_potential.h5", "report"),
                     ("bmtk/examples/point_120cells/network/cortex_nodes.h5", "nodes")]:
        r = run("info", CORPUS / rel, "--json")
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        assert d[key], (rel, d)


def test_validate_exit_status(tmp_path):
    ok = run("validate", CORPUS / CONFIGS[0])
    assert ok.returncode == 0, ok.stdout
    # a copy of a network whose edges name a node that does not exist
    net = tmp_path / "net"
    shutil.copytree(CORPUS / "bmtk/examples/point_120cells/network", net)
    import h5py
    with h5py.File(net / "cortex_cortex_edges.h5", "r+") as f:
        ds = f["edges/cortex_to_cortex/target_node_id"]
        ds[0] = 500
    bad = run("validate", net, "--json")
    assert bad.returncode == 1
    probs = json.loads(bad.stdout)
    hits = [p for p in probs if p["severity"] == "error" and p["key"].endswith("target_node_id")]
    assert hits and "cortex_cortex_edges.h5" in hits[0]["path"] and "500" in hits[0]["found"]


def test_errors_go_to_stderr_with_nonzero_status(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"manifest": {"$A": "$B", "$B": "$A/x"}, "networks": {"nodes": []}}')
    r = run("validate", cfg, "--json")
    assert r.returncode == 1
    p = json.loads(r.stdout)[0]
    assert p["path"].endswith("c.json") and p["key"].startswith("manifest.$") and "$A" in p["found"]


def test_demo_round_trips(tmp_path):
    r = run("demo", CORPUS / CONFIGS[0], "--output", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    assert "read it back" in r.stdout
    assert (tmp_path / "demo/network/circuit_config.json").exists()


def test_demo_builds_simulates_and_plots(tmp_path):
    """`make demo`'s command: builder -> SONATA files -> NEST -> spikes, report, raster PNG, summary."""
    from modelkit.sonata import CompartmentReport, read_spikes, validate
    out = tmp_path / "demo"
    r = run("demo", "--output", out)
    assert r.returncode == 0, r.stderr
    assert "cortex_to_cortex" in r.stdout and "mean rate" in r.stdout
    assert not [p for p in validate(out / "config.circuit.json") if p.severity == "error"]
    spikes = read_spikes(out / "output/spikes.h5")["cortex"]
    n_spikes = len(spikes)
    assert f"{n_spikes:,} spikes" in r.stdout
    rate = n_spikes / 1000 / 1.0
    assert 1.0 < rate < 60.0  # an active, not runaway, network (Hz per cell)
    assert CompartmentReport(out / "output/membrane_potential.h5")["cortex"].node_ids.tolist() == [0, 1, 800, 801]
    png = (out / "output/raster.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    again = run("demo", "--output", out)  # never silently overwritten
    assert again.returncode != 0 and "--overwrite" in again.stderr
    assert read_spikes(out / "output/spikes.h5")["cortex"].timestamps.tolist() == spikes.timestamps.tolist()
    third = run("demo", "--output", out, "--overwrite")
    assert third.returncode == 0, third.stderr
    np_same = read_spikes(out / "output/spikes.h5")["cortex"]
    assert np_same.timestamps.tolist() == spikes.timestamps.tolist()  # same seed, same spikes
