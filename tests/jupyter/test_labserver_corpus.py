"""The server extension's read-only handlers, with the server root at the conformance corpus (read in place)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath

import pytest
import tornado.httpclient

from modelkit.testing import shared_path

EXPECTED: dict = json.loads(shared_path("sonata", "corpus", "EXPECTED.json").read_text())
CONFIGS = sorted(k for k, v in EXPECTED["configs"].items() if v["kind"] != "wrapper")
SPIKE_FILES = sorted(k for k, v in EXPECTED["files"].items() if k.endswith(".h5") and v.get("kind") == "spikes")
REPORT_FILES = sorted(k for k, v in EXPECTED["files"].items() if v.get("kind") == "compartment_report")
NODE_FILES = sorted(k for k, v in EXPECTED["files"].items() if v.get("kind") == "nodes")


@pytest.fixture
def jp_root_dir(corpus: Path) -> Path:
    return corpus


def _expected_networks(cfg_key: str) -> tuple[dict[str, int], dict[str, tuple[int, str, str]]]:
    """Node and edge population counts of a config, from EXPECTED's facts about the files it names."""
    facts = EXPECTED["configs"][cfg_key]
    folder = PurePosixPath(cfg_key).parent
    if "networks" not in facts and facts.get("network"):
        return _expected_networks(str(folder / facts["network"]))
    nodes: dict[str, int] = {}
    edges: dict[str, tuple[int, str, str]] = {}
    for entry in facts.get("networks", {}).get("nodes", []):
        if entry.get("enabled", True) is False:
            continue
        for name, pop in EXPECTED["files"][str(folder / entry["nodes_file"])]["populations"].items():
            nodes[name] = pop["count"]
    for entry in facts.get("networks", {}).get("edges", []):
        if entry.get("enabled", True) is False:
            continue
        for name, pop in EXPECTED["files"][str(folder / entry["edges_file"])]["populations"].items():
            edges[name] = (pop["count"], pop["source_population"], pop["target_population"])
    return nodes, edges


async def _get(jp_fetch, *path: str, **params: str):
    r = await jp_fetch("modelkit", *path, params=params, method="GET")
    return r


async def _error(jp_fetch, *path: str, method: str = "GET", body: str | None = None, **params: str):
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", *path, params=params, method=method, body=body)
    return e.value.code, json.loads(e.value.response.body)["error"]


@pytest.mark.parametrize("cfg", CONFIGS)
async def test_info_counts_match_expected(jp_fetch, cfg: str) -> None:
    d = json.loads((await _get(jp_fetch, "info", path=cfg)).body)
    nodes, edges = _expected_networks(cfg)
    assert d["path"] == cfg
    assert d["kind"] in ("circuit_config", "simulation_config")
    assert {k: v["count"] for k, v in d["nodes"].items()} == nodes
    assert {k: (v["count"], v["source"], v["target"]) for k, v in d["edges"].items()} == edges
    for pop in d["nodes"].values():
        table = pop["node_types_table"]
        assert table["columns"][:2] == ["node_type_id", "count"]
        assert sum(r[1] for r in table["rows"]) == pop["count"]  # every node has a type in the table
        assert pop["file"] is None or not os.path.isabs(pop["file"])  # paths as the browser sees them
    assert isinstance(d["problems"], list)


@pytest.mark.parametrize("path", NODE_FILES)
async def test_info_nodes_file(jp_fetch, path: str) -> None:
    d = json.loads((await _get(jp_fetch, "info", path=path)).body)
    assert d["kind"] == "nodes"
    assert {k: v["count"] for k, v in d["nodes"].items()} == \
        {k: v["count"] for k, v in EXPECTED["files"][path]["populations"].items()}


@pytest.mark.parametrize("path", SPIKE_FILES)
async def test_info_and_raster_of_spikes(jp_fetch, path: str) -> None:
    facts = EXPECTED["files"][path]["populations"]
    d = json.loads((await _get(jp_fetch, "info", path=path)).body)
    assert d["kind"] == "spikes"
    assert d["preview"] == {"type": "raster", "path": path}
    # a population-less file reads as one population named "None"
    assert sorted(v["count"] for v in d["spikes"].values()) == sorted(v["count"] for v in facts.values())
    r = json.loads((await _get(jp_fetch, "preview", path=path, max_points="50")).body)
    assert r["type"] == "raster"
    total = sum(v["count"] for v in facts.values())
    assert sum(p["count"] for p in r["populations"]) == total
    shown = sum(p["shown"] for p in r["populations"])
    # one stride for all populations: at most one extra spike per population
    assert shown == sum(len(p["timestamps"]) for p in r["populations"]) <= 50 + len(facts)
    assert shown == total or shown >= 25  # decimated by a stride, not truncated to nothing
    for p in r["populations"]:
        assert len(p["node_ids"]) == len(p["timestamps"])


@pytest.mark.parametrize("path", REPORT_FILES)
async def test_traces_of_report(jp_fetch, path: str) -> None:
    (name, facts), = EXPECTED["files"][path]["populations"].items()
    r = json.loads((await _get(jp_fetch, "preview", path=path, max_traces="3", max_frames="100")).body)
    assert r["type"] == "traces" and r["population"] == name
    assert r["n_nodes"] == len(facts["node_ids"])
    assert [t["node_id"] for t in r["traces"]] == facts["node_ids"][:3]
    assert 50 < len(r["time"]) <= 100
    assert r["time"][0] == facts["time"][0]
    assert math.isclose(r["traces"][0]["values"][0], facts["frame0_first5"][0], rel_tol=1e-6)
    png = await _get(jp_fetch, "preview", path=path, format="png")
    assert png.headers["Content-Type"] == "image/png" and png.body[:8] == b"\x89PNG\r\n\x1a\n"


async def test_preview_of_simulation_config_uses_its_output(jp_fetch) -> None:
    cfg = "sonata/examples/9_cells/simulation_config.json"
    d = json.loads((await _get(jp_fetch, "info", path=cfg)).body)
    assert d["preview"] == {"type": "raster", "path": "sonata/examples/9_cells/output/spikes.h5"}
    r = json.loads((await _get(jp_fetch, "preview", path=cfg)).body)
    assert sum(p["count"] for p in r["populations"]) == \
        EXPECTED["files"]["sonata/examples/9_cells/output/spikes.h5"]["populations"]["cortex"]["count"]
    png = await _get(jp_fetch, "preview", path=cfg, format="png")
    assert png.body[:4] == b"\x89PNG"


async def test_nothing_to_preview_for_a_circuit(jp_fetch) -> None:
    code, msg = await _error(jp_fetch, "preview", path="sonata/examples/9_cells/circuit_config.json")
    assert code == 409 and "nothing to preview" in msg


@pytest.mark.parametrize("bad,code", [
    ("../EXPECTED.json", 403), ("sonata/../../corpus/EXPECTED.json", 403), ("sonata/examples/../../..", 403),
    ("/etc/passwd", 400), ("//etc/passwd", 400), ("missing/file.h5", 404),
])
async def test_traversal_and_bad_paths_refused(jp_fetch, bad: str, code: int) -> None:
    for route in ("info", "preview"):
        got, msg = await _error(jp_fetch, route, path=bad)
        assert got == code, (route, bad, msg)
        # an absolute path is not echoed: the answer never carries a path outside the root
        assert bad in msg or "missing" in msg or ("is absolute" in msg and "<outside the server root>" in msg)


async def test_missing_path_and_bad_format(jp_fetch) -> None:
    assert (await _error(jp_fetch, "info"))[0] == 400
    code, msg = await _error(jp_fetch, "preview", path="sonata/examples/9_cells/output/spikes.h5", format="gif")
    assert code == 400 and "format" in msg


async def test_json_that_is_no_config_lists_the_problem(jp_fetch) -> None:
    d = json.loads((await _get(jp_fetch, "info", path="PROVENANCE.json")).body)
    assert d["kind"] is None and d["nodes"] == {} and d["preview"] is None
    assert [(p["severity"], p["path"], p["key"]) for p in d["problems"]] == \
        [("error", "PROVENANCE.json", "(top level)")]


@pytest.mark.parametrize("route,method", [("info", "GET"), ("preview", "GET"), ("runs", "GET"),
                                          ("tutorials", "GET"), ("notebook", "POST"), ("tutorials", "POST")])
async def test_unauthenticated_refused(jp_fetch, route: str, method: str) -> None:
    body = json.dumps({"path": "sonata/examples/9_cells/circuit_config.json"}) if method == "POST" else None
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", route, params={"path": "sonata/examples/9_cells/circuit_config.json"},
                       method=method, body=body, headers={"Authorization": ""})
    assert e.value.code == 403
