"""``POST modelkit/runs/stop``: the Run monitor's Stop, against a real ``python -m modelkit run`` process.

The process inherits the server's runs folder (as a kernel or a terminal of this server does); the stop
request is acted on at its next block, so it ends ``"stopped"`` long before its end.  Runs of another
host or user, runs that are over and unknown ids are refused with a message saying why.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest
import tornado.httpclient

from modelkit.datasets import balanced_network
from modelkit.runstatus import ENV, RunStatus, list_runs

REPO = Path(__file__).resolve().parents[2]


async def _stop(jp_fetch, run_id: object) -> tuple[int, dict]:
    try:
        r = await jp_fetch("modelkit", "runs", "stop", method="POST", body=json.dumps({"run_id": run_id}))
        return r.code, json.loads(r.body)
    except tornado.httpclient.HTTPClientError as e:
        assert e.response is not None
        return e.code, json.loads(e.response.body)


async def _runs(jp_fetch) -> list[dict]:
    return json.loads((await jp_fetch("modelkit", "runs")).body)["runs"]


async def test_stop_a_plain_modelkit_run_process(jp_fetch, tmp_path: Path) -> None:
    assert await _runs(jp_fetch) == []
    # an hour of model time in 1000 ms blocks: only the stop ends it within the test
    cfg = balanced_network(tmp_path / "net", n_exc=160, n_inh=40, tstop=3_600_000.0)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelkit", "run", cfg, "--output", str(tmp_path / "out"), "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        runs: list[dict] = []
        while time.monotonic() < deadline:
            runs = await _runs(jp_fetch)
            if runs and runs[0]["status"] == "running" and runs[0]["t"] > 0:
                break
            await asyncio.sleep(0.2)
        (run,) = runs
        assert run["status"] == "running" and run["kind"] == "simulate" and run["stop_requests"] is True
        t_asked = time.time()
        code, body = await _stop(jp_fetch, run["run_id"])
        assert code == 202 and body == {"run_id": run["run_id"], "status": "running", "stop": "requested"}
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode != 0, out.decode()  # a stopped run is no success for a script
    assert "RunStoppedError" in err.decode() or "stopped" in err.decode(), err.decode()
    (rec,) = await _runs(jp_fetch)
    assert rec["status"] == "stopped" and "Run monitor" in rec["error"]
    assert rec["stop_requested"] is not None and t_asked <= rec["stop_requested"] <= rec["finished"]
    # the owner saw the request at its next block: a few blocks at most, not the hour
    assert rec["t"] < 3_600_000.0 and rec["finished"] - t_asked < 30
    assert not (Path(os.environ[ENV]) / f"{run['run_id']}.stop").exists()  # acted on: the request is gone
    # stopping it again: it is over
    code, body = await _stop(jp_fetch, run["run_id"])
    assert code == 409 and "already stopped" in body["error"]


async def test_stop_refusals(jp_fetch, tmp_path: Path) -> None:
    folder = os.environ[ENV]
    assert (await _stop(jp_fetch, "nosuchrun"))[0] == 404
    assert (await _stop(jp_fetch, "../../etc/passwd"))[0] == 404
    code, body = await _stop(jp_fetch, 12)
    assert code == 400 and "'run_id' must be a string" in body["error"]
    # a run on another host (a shared runs folder): refused, naming the host
    rs = RunStatus.start(kind="simulate", config=None, output_dir=None, tstop=10.0)
    assert rs is not None
    rs.record["host"] = "elsewhere.example"
    rs.update(t=5.0, status="running")
    code, body = await _stop(jp_fetch, rs.record["run_id"])
    assert code == 403 and "host 'elsewhere.example'" in body["error"], body
    # a run of another user: refused, naming the owner
    other = RunStatus.start(kind="simulate", config=None, output_dir=None, tstop=10.0)
    assert other is not None
    other.update(t=5.0, status="running")
    if os.getuid() == 0:  # root can make the file another user's, as that user's run would have
        os.chown(other.path, 54321, 54321)
        code, body = await _stop(jp_fetch, other.record["run_id"])
        assert code == 403 and "belongs to user" in body["error"] and "only its owner" in body["error"], body
    assert not any(n.endswith(".stop") for n in os.listdir(folder))  # nothing was asked of anyone
    assert {r["run_id"] for r in list_runs(folder)} == {rs.record["run_id"], other.record["run_id"]}


async def test_stop_unauthenticated_refused(jp_fetch) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("modelkit", "runs", "stop", method="POST", body=json.dumps({"run_id": "x"}),
                       headers={"Authorization": ""})
    assert e.value.code == 403
