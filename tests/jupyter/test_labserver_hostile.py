"""The server extension under hostile files and requests: HDF5 links out of the root, malformed bodies, path leaks.

Every HDF5 mechanism that reads another file (external links, links in the linked files, soft links to them,
virtual datasets, external raw storage) is refused when its target lies outside the server root, and no answer
-- JSON or error -- carries an absolute path: paths inside the root are given relative to it, others redacted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import tornado.httpclient

SPIKES = "sonata/examples/9_cells/output/spikes.h5"


@pytest.fixture
def outside(tmp_path: Path, corpus: Path) -> Path:
    """A folder beside the root with a real spikes file and a raw float buffer in it (the 'secret')."""
    d = tmp_path / "secret"
    d.mkdir()
    shutil.copyfile(corpus / SPIKES, d / "spikes.h5")
    np.arange(100, dtype="<f8").tofile(d / "raw.bin")
    return d


@pytest.fixture
def jp_root_dir(tmp_path: Path, corpus: Path, outside: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copyfile(corpus / SPIKES, root / "inside_spikes.h5")
    with h5py.File(root / "elink_abs.h5", "w") as f:
        f["spikes"] = h5py.ExternalLink(str(outside / "spikes.h5"), "/spikes")
    with h5py.File(root / "elink_rel.h5", "w") as f:
        f["spikes"] = h5py.ExternalLink("../secret/spikes.h5", "/spikes")
    with h5py.File(root / "elink_in.h5", "w") as f:  # a link to a file inside the root that links out
        f["spikes"] = h5py.ExternalLink("elink_abs.h5", "/spikes")
    with h5py.File(root / "elink_ok.h5", "w") as f:  # a link that stays inside
        f["spikes"] = h5py.ExternalLink("inside_spikes.h5", "/spikes")
    with h5py.File(root / "soft_to_elink.h5", "w") as f:
        f["hidden/x"] = h5py.ExternalLink(str(outside / "spikes.h5"), "/spikes")
        f["spikes"] = h5py.SoftLink("/hidden/x")
    with h5py.File(root / "vds.h5", "w") as f:
        layout = h5py.VirtualLayout(shape=(78,), dtype="<f8")
        layout[:] = h5py.VirtualSource(str(outside / "spikes.h5"), "/spikes/cortex/timestamps", shape=(78,))
        f.create_virtual_dataset("spikes/internal/timestamps", layout)
        f["spikes/internal/node_ids"] = np.zeros(78, dtype="<u8")
    with h5py.File(root / "external_raw.h5", "w") as f:
        f.create_dataset("spikes/internal/timestamps", shape=(100,), dtype="<f8",
                         external=[(str(outside / "raw.bin"), 0, 800)])
        f["spikes/internal/node_ids"] = np.zeros(100, dtype="<u8")
    return root


HOSTILE = ["elink_abs.h5", "elink_rel.h5", "elink_in.h5", "soft_to_elink.h5", "vds.h5", "external_raw.h5"]


def _leaks(text: str, *paths: Path) -> list[str]:
    return [str(p) for p in paths if str(p) in text or os.path.realpath(p) in text]


async def _error(jp_fetch, route: str, **kw) -> tuple[int, str]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", route, **kw)
    return e.value.code, e.value.response.body.decode()


@pytest.mark.parametrize("name", HOSTILE)
async def test_hdf5_links_out_of_the_root_are_refused(jp_fetch, name: str, outside: Path, jp_root_dir: Path) -> None:
    for route, params in (("info", {"path": name}), ("preview", {"path": name}),
                          ("preview", {"path": name, "format": "png"})):
        code, body = await _error(jp_fetch, route, params=params)
        assert code == 403, (route, name, body)
        assert "outside the server root" in json.loads(body)["error"]
        assert not _leaks(body, outside, jp_root_dir.parent), body
    code, body = await _error(jp_fetch, "notebook", method="POST", body=json.dumps({"path": name}))
    assert code == 403, body


async def test_a_link_that_stays_inside_is_followed(jp_fetch) -> None:
    r = await jp_fetch("modelkit", "preview", params={"path": "elink_ok.h5"})
    d = json.loads(r.body)
    assert d["type"] == "raster" and sum(p["count"] for p in d["populations"]) > 0


async def test_a_config_naming_a_linking_network_file_is_refused(jp_fetch, jp_root_dir: Path, corpus: Path,
                                                                 outside: Path) -> None:
    """The network files a config names are checked for links too, not only the file asked for."""
    src = corpus / "bmtk/examples/point_120cells"
    shutil.copytree(src / "network", jp_root_dir / "net")
    nodes = jp_root_dir / "net" / "cortex_nodes.h5"
    shutil.copyfile(nodes, outside / "cortex_nodes.h5")
    with h5py.File(nodes, "w") as f:
        f["nodes"] = h5py.ExternalLink(str(outside / "cortex_nodes.h5"), "/nodes")
    cfg = {"networks": {"nodes": [{"nodes_file": "net/cortex_nodes.h5",
                                   "node_types_file": "net/cortex_node_types.csv"}]}}
    (jp_root_dir / "circuit.json").write_text(json.dumps(cfg))
    code, body = await _error(jp_fetch, "info", params={"path": "circuit.json"})
    assert code == 403, body
    assert not _leaks(body, outside, jp_root_dir.parent), body


@pytest.mark.parametrize("body", [
    {"path": 5}, {"path": ["inside_spikes.h5"]}, {"path": {"a": 1}}, {"path": None},
    {"path": "inside_spikes.h5", "directory": 7}, {"path": "inside_spikes.h5", "directory": ["."]},
    {"path": True}, [], "x", 3, None])
async def test_malformed_notebook_bodies_are_400(jp_fetch, body) -> None:
    code, text = await _error(jp_fetch, "notebook", method="POST", body=json.dumps(body))
    assert code == 400, text
    msg = json.loads(text)["error"]
    assert ("path" in msg or "directory" in msg or "object" in msg), msg


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b'{"path": "a", }', b"[" * 100_000])
async def test_invalid_json_bodies_are_400(jp_fetch, raw: bytes) -> None:
    code, text = await _error(jp_fetch, "notebook", method="POST", body=raw)
    assert code == 400, text


@pytest.mark.parametrize("params", [{"max_points": "x"}, {"max_points": "1e999"}, {"max_traces": "-1"},
                                    {"max_frames": "0"}, {"max_points": "99999999999999999999999"}])
async def test_bad_preview_limits_are_400(jp_fetch, params: dict) -> None:
    code, text = await _error(jp_fetch, "preview", params={"path": "inside_spikes.h5", **params})
    assert code == 400, text
    assert not _leaks(text, Path("/tmp")), text


async def test_no_absolute_paths_in_answers(jp_fetch, jp_root_dir: Path, outside: Path) -> None:
    """Errors about files inside the root name them relative to it; paths outside are redacted."""
    (jp_root_dir / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 200)
    (jp_root_dir / "cfg.json").write_text(json.dumps({
        "manifest": {"$BASE": str(outside)},
        "networks": {"nodes": [{"nodes_file": "$BASE/nodes.h5", "node_types_file": "$BASE/types.csv"}]}}))
    (jp_root_dir / "bad.json").write_text('{"networks": {"nodes": [{"nodes_file": 3}]}}')
    for path in ("broken.h5", "cfg.json", "bad.json"):
        for route in ("info", "preview"):
            try:
                r = await jp_fetch("modelkit", route, params={"path": path})
                text = r.body.decode()
            except tornado.httpclient.HTTPClientError as e:
                text = e.response.body.decode()
            assert not _leaks(text, outside, jp_root_dir, jp_root_dir.parent), (route, path, text)
    r = await jp_fetch("modelkit", "info", params={"path": "inside_spikes.h5"})
    assert not _leaks(r.body.decode(), jp_root_dir), r.body
