"""The Run monitor's routes besides Stop: start time and notebook of a run, Open output, Clear finished.

A real ``python -m modelkit run`` process (started as a notebook's kernel would be: it inherits the runs
folder and jupyter_server's ``JPY_SESSION_NAME``) is stopped from the monitor; its output (in
``<output>.stopped``) is found with the spikes file its config names, and Clear forgets it while a running
run stays.  Refusals name what was wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import h5py
import pytest
import tornado.httpclient

from modelkit.datasets import balanced_network
from modelkit.runstatus import ENV, RunStatus, clear_finished, list_runs

REPO = Path(__file__).resolve().parents[2]


async def _get(jp_fetch, *route: str, **params: str) -> tuple[int, dict]:
    try:
        r = await jp_fetch("modelkit", *route, params=params)
        return r.code, json.loads(r.body)
    except tornado.httpclient.HTTPClientError as e:
        assert e.response is not None
        return e.code, json.loads(e.response.body)


async def _post(jp_fetch, *route: str, body: object) -> tuple[int, dict]:
    try:
        r = await jp_fetch("modelkit", *route, method="POST", body=json.dumps(body))
        return r.code, json.loads(r.body)
    except tornado.httpclient.HTTPClientError as e:
        assert e.response is not None
        return e.code, json.loads(e.response.body)


async def test_a_stopped_run_its_notebook_its_output_and_clear(jp_fetch, jp_root_dir: Path) -> None:
    root = jp_root_dir
    cfg = balanced_network(root / "net", n_exc=160, n_inh=40, tstop=3_600_000.0)
    sim = json.loads(Path(cfg).read_text())
    sim["output"]["spikes_file"] = "raster.h5"  # Open output finds the file the config names
    Path(cfg).write_text(json.dumps(sim))
    (root / "nbs").mkdir()
    (root / "nbs" / "started.ipynb").write_text("{}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               JPY_SESSION_NAME=str(root / "nbs" / "started.ipynb"))  # what jupyter_server gives a kernel
    t_start = time.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelkit", "run", cfg, "--output", str(root / "out"), "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=str(root / "nbs"))
    try:
        deadline = time.monotonic() + 120
        runs: list[dict] = []
        while time.monotonic() < deadline:
            code, answer = await _get(jp_fetch, "runs")
            runs = answer["runs"]
            if runs and runs[0]["status"] == "running" and runs[0]["t"] > 0:
                break
            await asyncio.sleep(0.2)
        (run,) = runs
        rid = run["run_id"]
        assert run["notebook"] == "nbs/started.ipynb" and run["output_dir"] == "out"
        assert run["config"] == "net/config.simulation.json"
        assert t_start <= run["started"] <= answer["now"] <= time.time()  # the server's clock, for durations
        code, body = await _get(jp_fetch, "runs", "output", run_id=rid)
        assert code == 409 and "still running" in body["error"]
        code, body = await _post(jp_fetch, "runs", "clear", body={"run_id": rid})
        assert code == 409 and "stop it before clearing" in body["error"]
        assert (await _post(jp_fetch, "runs", "stop", body={"run_id": rid}))[0] == 202
        await asyncio.wait_for(proc.communicate(), timeout=120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    code, answer = await _get(jp_fetch, "runs")
    (rec,) = answer["runs"]
    assert rec["status"] == "stopped" and rec["started"] < rec["finished"] <= answer["now"]

    code, out = await _get(jp_fetch, "runs", "output", run_id=rid)
    assert code == 200 and out == {"run_id": rid, "status": "stopped", "folder": "out.stopped",
                                   "spikes": "out.stopped/raster.h5"}
    with h5py.File(root / out["spikes"]) as f:  # the spikes of the blocks run before the stop
        n = sum(len(g["timestamps"]) for g in f["spikes"].values())
    assert n > 0
    code, info = await _get(jp_fetch, "info", path=out["spikes"])  # what the viewer then asks
    assert code == 200 and info["kind"] == "spikes" and info["preview"]["type"] == "raster"

    # Clear: the finished run goes, a running one stays, the files stay
    running = RunStatus.start(kind="simulate", config=None, output_dir=None, tstop=10.0)
    assert running is not None
    running.update(t=1.0, status="running")
    code, body = await _post(jp_fetch, "runs", "clear", body={})
    assert code == 200 and body == {"cleared": [rid]}
    code, answer = await _get(jp_fetch, "runs")
    assert [r["run_id"] for r in answer["runs"]] == [running.record["run_id"]]
    assert (root / "out.stopped" / "raster.h5").is_file()
    code, body = await _get(jp_fetch, "runs", "output", run_id=rid)
    assert code == 404 and "no run" in body["error"]


async def test_output_and_clear_refusals(jp_fetch, jp_root_dir: Path, tmp_path: Path) -> None:
    folder = os.environ[ENV]

    def finished(out: Path | None, status: str = "done", notebook: str | None = None) -> str:
        if notebook is not None:
            os.environ["JPY_SESSION_NAME"] = notebook
        try:
            rs = RunStatus.start(kind="simulate", config=None, output_dir=None if out is None else str(out))
        finally:
            os.environ.pop("JPY_SESSION_NAME", None)
        assert rs is not None
        rs.finish(status)
        return rs.record["run_id"]

    code, body = await _get(jp_fetch, "runs", "output")
    assert code == 400 and "'run_id' must be a string" in body["error"]
    assert (await _get(jp_fetch, "runs", "output", run_id="../../x"))[0] == 404
    # no output folder recorded; a folder gone; a folder outside the root
    assert (await _get(jp_fetch, "runs", "output", run_id=finished(None)))[0] == 409
    code, body = await _get(jp_fetch, "runs", "output", run_id=finished(jp_root_dir / "gone"))
    assert code == 404 and "'gone' is gone" in body["error"]
    (tmp_path / "elsewhere").mkdir()
    code, body = await _get(jp_fetch, "runs", "output", run_id=finished(tmp_path / "elsewhere"))
    assert code == 403 and "outside the server root" in body["error"] and str(tmp_path) not in body["error"]
    # a done run's folder without spikes: the folder, no spikes file; a failed run's files in <out>.failed
    (jp_root_dir / "plain").mkdir()
    code, body = await _get(jp_fetch, "runs", "output", run_id=finished(jp_root_dir / "plain"))
    assert code == 200 and body["folder"] == "plain" and body["spikes"] is None
    (jp_root_dir / "plain.failed").mkdir()
    code, body = await _get(jp_fetch, "runs", "output", run_id=finished(jp_root_dir / "plain", "failed"))
    assert code == 200 and body["folder"] == "plain.failed"

    # notebooks: outside the root, missing, or no notebook are not offered; an API path is
    (jp_root_dir / "a.ipynb").write_text("{}")
    (tmp_path / "b.ipynb").write_text("{}")
    ids = {finished(None, notebook=n): want for n, want in [
        (str(jp_root_dir / "a.ipynb"), "a.ipynb"), ("a.ipynb", "a.ipynb"), (str(tmp_path / "b.ipynb"), None),
        (str(jp_root_dir / "missing.ipynb"), None), ("console-1", None)]}
    code, answer = await _get(jp_fetch, "runs")
    assert {r["run_id"]: r["notebook"] for r in answer["runs"] if r["run_id"] in ids} == ids

    code, body = await _post(jp_fetch, "runs", "clear", body={"run_id": 7})
    assert code == 400 and "'run_id' must be a string" in body["error"]
    assert (await _post(jp_fetch, "runs", "clear", body={"run_id": "nosuchrun"}))[0] == 404
    one = next(iter(ids))
    code, body = await _post(jp_fetch, "runs", "clear", body={"run_id": one})
    assert code == 200 and body == {"cleared": [one]}
    assert one not in {r["run_id"] for r in list_runs(folder)} and len(list_runs(folder)) == 9
    for route in ("clear", "stop"):
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await jp_fetch("modelkit", "runs", route, method="POST", body="{}", headers={"Authorization": ""})
        assert e.value.code == 403
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", "runs", "output", params={"run_id": one}, headers={"Authorization": ""})
    assert e.value.code == 403


def test_runstatus_records_absolute_paths_and_the_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", "/lab/root/nb.ipynb")
    rs = RunStatus.start(kind="local", config="net/config.json", output_dir="out")
    assert rs is not None
    assert rs.record["config"] == str(tmp_path / "net" / "config.json") and rs.record["output_dir"] == str(
        tmp_path / "out")  # the server reads them from another folder
    assert rs.record["notebook"] == "/lab/root/nb.ipynb"
    monkeypatch.delenv("JPY_SESSION_NAME")
    plain = RunStatus.start(kind="simulate", config=None, output_dir=None)
    assert plain is not None and plain.record["notebook"] is None and plain.record["config"] is None
    # clear_finished: only runs that are over; a stop request left behind goes with its run
    plain.finish("stopped")
    Path(plain.stop_path).write_text("{}")
    rs.update(status="running")
    assert clear_finished() == [plain.record["run_id"]]
    assert sorted(os.listdir(tmp_path / "runs")) == [f"{rs.record['run_id']}.json"]
    assert clear_finished(run_id=rs.record["run_id"]) == []
