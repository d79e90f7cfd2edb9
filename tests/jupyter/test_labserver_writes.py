"""The server extension's writing handlers (notebooks, tutorials) and the run list, on a temporary root."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import tornado.httpclient
from nbclient import NotebookClient

from modelkit.datasets import balanced_network
from modelkit.runstatus import ENV, RunStatus

EXAMPLE = "bmtk/examples/point_120cells"


@pytest.fixture
def jp_root_dir(tmp_path: Path, corpus: Path) -> Path:
    """A copy of one corpus example (a copy: links pointing out of the root are refused) and a link out."""
    root = tmp_path / "root"
    shutil.copytree(corpus / EXAMPLE, root / "point_120cells")
    shutil.copytree(corpus / "bmtk/examples/point_components", root / "point_components")
    (root / "outside").symlink_to(corpus / "bmtk/examples")
    (root / "point_120cells" / "spikes_link.h5").symlink_to(corpus / "bmtk/examples/point_120cells/inputs/"
                                                            "thalamus_spikes.h5")
    (root / "writable").mkdir()
    return root


async def _post(jp_fetch, route: str, body: dict) -> dict:
    r = await jp_fetch("modelkit", route, method="POST", body=json.dumps(body))
    assert r.code in (200, 201)
    return json.loads(r.body)


async def _post_error(jp_fetch, route: str, body: dict) -> tuple[int, str]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", route, method="POST", body=json.dumps(body))
    return e.value.code, json.loads(e.value.response.body)["error"]


async def test_links_pointing_out_are_refused(jp_fetch) -> None:
    for path in ("outside/point_120cells/config.circuit.json", "point_120cells/spikes_link.h5"):
        for route in ("info", "preview"):
            with pytest.raises(tornado.httpclient.HTTPClientError) as e:
                await jp_fetch("modelkit", route, params={"path": path})
            assert e.value.code == 403, (route, path)
            assert "outside the server root" in json.loads(e.value.response.body)["error"]
        code, msg = await _post_error(jp_fetch, "notebook", {"path": path})
        assert code == 403 and "outside the server root" in msg
    code, msg = await _post_error(jp_fetch, "notebook", {"path": "point_120cells/config.circuit.json",
                                                         "directory": "outside"})
    assert code == 403


async def test_info_refuses_a_config_naming_files_outside_the_root(jp_fetch, jp_root_dir: Path,
                                                                     corpus: Path) -> None:
    """A config inside the root is described only when the network files it names are inside too."""
    inside = json.loads((jp_root_dir / "point_120cells" / "config.circuit.json").read_text())
    r = await jp_fetch("modelkit", "info", params={"path": "point_120cells/config.circuit.json"})
    assert json.loads(r.body)["nodes"]
    out = dict(inside, manifest={**inside.get("manifest", {}),
                                 "$BASE_DIR": str(corpus / EXAMPLE)})  # the same network, read in place
    (jp_root_dir / "writable" / "out.json").write_text(json.dumps(out))
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", "info", params={"path": "writable/out.json"})
    msg = json.loads(e.value.response.body)["error"]
    assert e.value.code == 403 and "outside the server root" in msg and "networks.nodes" in msg
    sim = {"network": str(corpus / EXAMPLE / "config.circuit.json"), "run": {"tstop": 10.0, "dt": 0.1},
           "output": {"output_dir": "out"}}  # a simulation config naming a circuit config outside
    (jp_root_dir / "writable" / "sim.json").write_text(json.dumps(sim))
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", "info", params={"path": "writable/sim.json"})
    msg = json.loads(e.value.response.body)["error"]
    assert e.value.code == 403 and "(network)" in msg


async def test_open_in_notebook_never_overwrites_and_runs(jp_fetch, jp_root_dir: Path) -> None:
    cfg = "point_120cells/config.circuit.json"
    first = await _post(jp_fetch, "notebook", {"path": cfg})
    assert first == {"path": "point_120cells/config.circuit.ipynb", "kind": "circuit_config"}
    nb_path = jp_root_dir / first["path"]
    before = nb_path.read_bytes()
    second = await _post(jp_fetch, "notebook", {"path": cfg})
    assert second["path"] == "point_120cells/config.circuit-1.ipynb"
    assert nb_path.read_bytes() == before
    third = await _post(jp_fetch, "notebook", {"path": cfg, "directory": "writable"})
    assert third["path"] == "writable/config.circuit.ipynb"
    assert not [p for p in jp_root_dir.rglob("*.tmp")]  # temporary files are gone
    # the notebook in another folder loads the network through a relative path, in a real kernel
    nb = nbformat.read(jp_root_dir / third["path"], as_version=4)
    nbformat.validate(nb)
    await asyncio.get_running_loop().run_in_executor(None, lambda: NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(jp_root_dir / "writable")}}
    ).execute())
    text = "".join(o.get("data", {}).get("text/plain", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "cortex" in text and "thalamus" in text


async def test_notebook_for_each_kind_names_the_right_code(jp_fetch, jp_root_dir: Path) -> None:
    cases = {"point_120cells/config.simulation.json": ("simulation_config", "modelkit.simulate(config"),
             "point_120cells/inputs/thalamus_spikes.h5": ("spikes", "SpikeTable.read(path)"),
             "point_120cells/network/cortex_nodes.h5": ("nodes", "modelkit.load(")}
    for path, (kind, code) in cases.items():
        d = await _post(jp_fetch, "notebook", {"path": path})
        assert d["kind"] == kind
        nb = nbformat.read(jp_root_dir / d["path"], as_version=4)
        nbformat.validate(nb)
        assert code in "\n".join(c.source for c in nb.cells), path
        assert json.dumps(os.path.basename(path)) in "\n".join(c.source for c in nb.cells)  # relative to the nb


async def test_bad_notebook_requests(jp_fetch) -> None:
    assert (await _post_error(jp_fetch, "notebook", {}))[0] == 400
    assert (await _post_error(jp_fetch, "notebook", {"path": "../x.json"}))[0] == 403
    assert (await _post_error(jp_fetch, "notebook", {"path": "point_120cells/nope.json"}))[0] == 404
    code, msg = await _post_error(jp_fetch, "notebook", {"path": "point_120cells/config.circuit.json",
                                                         "directory": "point_120cells/config.circuit.json"})
    assert code == 400 and "not a folder" in msg
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", "notebook", method="POST", body="not json")
    assert e.value.code == 400


async def test_runs_lists_a_real_simulation(jp_fetch, tmp_path: Path) -> None:
    assert json.loads((await jp_fetch("modelkit", "runs")).body)["runs"] == []
    folder = os.environ[ENV]  # set by the extension for the kernels it starts
    assert os.path.isdir(folder) and folder.startswith(str(tmp_path))
    cfg = balanced_network(tmp_path / "net", n_exc=40, n_inh=10, tstop=50.0)
    # a process of its own, as a kernel started by this server (it inherits the runs folder); NEST must not
    # run in a thread of the test process (NEST keeps per-thread state: a later NEST call would crash)
    code = (f"import json, modelkit; r = modelkit.simulate({cfg!r}, output_dir={str(tmp_path / 'out')!r}, "
            f"progress=False); print(json.dumps([r.backend, sum(r.n_spikes.values())]))")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
    assert proc.returncode == 0, err.decode()
    backend, n_spikes = json.loads(out.decode().strip().splitlines()[-1])
    (run,) = json.loads((await jp_fetch("modelkit", "runs")).body)["runs"]
    assert run["status"] == "done" and run["kind"] == "simulate" and run["backend"] == backend
    assert run["fraction"] == 1.0 and run["t"] == run["tstop"] == 50.0
    assert run["n_spikes"] == n_spikes > 0
    assert run["config"] == "<outside the server root>/config.simulation.json"  # outside the root: redacted
    # a run whose process is gone is reported lost
    rs = RunStatus.start(kind="simulate", config=None, output_dir=None, tstop=10.0)
    assert rs is not None
    rs.record["pid"] = 2 ** 22 + 12345
    rs.update(t=5.0, status="running")
    runs = json.loads((await jp_fetch("modelkit", "runs")).body)["runs"]
    assert [r["status"] for r in runs] == ["lost", "done"]
    assert runs[0]["fraction"] == 0.5


async def test_tutorials_copied_without_overwriting(jp_fetch, jp_root_dir: Path) -> None:
    from modelkit.labserver.handlers import tutorials_dir
    listed = json.loads((await jp_fetch("modelkit", "tutorials")).body)
    src = tutorials_dir()
    assert src is not None  # a source checkout has notebooks/
    assert listed["notebooks"] == sorted(p.name for p in src.glob("*.ipynb"))
    (jp_root_dir / "modelkit-tutorials").mkdir()
    (jp_root_dir / "modelkit-tutorials" / "README.md").write_text("mine")
    d = await _post(jp_fetch, "tutorials", {})
    assert d["folder"] == "modelkit-tutorials"
    assert (jp_root_dir / "modelkit-tutorials" / "README.md").read_text() == "mine"
    assert "README.md" not in d["copied"]
    assert sorted(os.listdir(jp_root_dir / "modelkit-tutorials")) == sorted(
        p.name for p in src.iterdir() if p.is_file() and not p.name.startswith("."))


async def test_tutorials_already_in_the_root_are_opened_in_place(jp_fetch, jp_root_dir: Path) -> None:
    """A server started in a folder that holds the tutorials (``jupyter lab notebooks``, as ``make lab``
    does, or where they were copied before): the card opens them there and copies nothing."""
    from modelkit.labserver.handlers import tutorials_dir
    src = tutorials_dir()
    assert src is not None
    for f in src.glob("*.ipynb"):
        shutil.copy(f, jp_root_dir / f.name)
    before = sorted(os.listdir(jp_root_dir))
    d = await _post(jp_fetch, "tutorials", {})
    assert d["copied"] == [] and d["folder"] == "."
    assert d["notebooks"] == sorted(p.name for p in src.glob("*.ipynb"))
    assert sorted(os.listdir(jp_root_dir)) == before  # no modelkit-tutorials/ with a second copy


async def test_tutorials_folder_inside_the_root_is_used_in_place(jp_fetch, jp_root_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A server started above the tutorials (the source checkout): the card opens ``notebooks/`` itself."""
    import modelkit.labserver.handlers as handlers
    src = handlers.tutorials_dir()
    assert src is not None
    shutil.copytree(src, jp_root_dir / "checkout" / "notebooks")
    # where a source checkout's notebooks/ would be, relative to this server's root
    monkeypatch.setattr(handlers, "tutorials_dir", lambda: jp_root_dir / "checkout" / "notebooks")
    d = await _post(jp_fetch, "tutorials", {})
    assert d["copied"] == [] and d["folder"] == "checkout/notebooks"
    assert not (jp_root_dir / "modelkit-tutorials").exists()
