"""A cell blocked in ``RunPanel.wait()`` still hears the panel's buttons (a real ipykernel, no browser).

The test is the front end: it runs cells through jupyter_client and sends the Stop button's click as the
``comm_msg`` a browser sends (``{"method": "custom", "content": {"event": "click"}}``), while the cell
waits.  On ipykernel 7 the click used to sit unread until the cell ended (``wait()`` then ran the whole
run); now the run stops within a block, ``wait()`` returns ``"stopped"``, and a cell queued meanwhile runs
after the waiting one, not inside it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from modelkit.datasets import balanced_network  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple]:
    """A python3 kernel importing this checkout's modelkit, and a blocking client."""
    km = jupyter_client.KernelManager(kernel_name="python3")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.pop("MODELKIT_RUNS_DIR", None)
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run(kc, code: str, timeout: float = 120) -> str:
    """Execute ``code`` and return its stdout (raises with the traceback on an error)."""
    out: list[str] = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: _collect(m, out))
    assert reply["content"]["status"] == "ok", "\n".join(reply["content"].get("traceback", []))
    return "".join(out)


def _collect(msg: dict, out: list[str]) -> None:
    if msg["msg_type"] == "stream":
        out.append(msg["content"]["text"])
    elif msg["msg_type"] == "error":
        out.append("\n".join(msg["content"]["traceback"]))


def _click(kc, model_id: str) -> None:
    """What the browser sends when a Button is pressed."""
    msg = kc.session.msg("comm_msg", {"comm_id": model_id,
                                      "data": {"method": "custom", "content": {"event": "click"}}})
    kc.shell_channel.send(msg)


def _panel_cell(config: str, out: Path) -> str:
    return (f"from modelkit.widgets import RunPanel\n"
            f"panel = RunPanel({config!r}, output_dir={str(out)!r}, overwrite=True)\n"
            f"print(panel.stop_button.model_id)\n")


#: the engine's last block as the kernel's stream saw it: simulated ms, the engine's clock at its end (s)
#: and the wall time of one 1000 ms block (s)
ENGINE_END = ("import json; s = panel.run.stream; t, _, arrival = s._progress; t0, a0 = s._first_block\n"
              "print(json.dumps({'t': t, 'sent': arrival - s.latencies[-1], "
              "'block_wall': (arrival - a0) / max(1.0, (t - t0) / 1000.0)}))")


def _wait_running(kc, msg_id: str, timeout: float = 120) -> tuple[list[dict], float]:
    """Read iopub until the panel shows ``running`` past its first block; the messages read and the ms shown."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        seen.append(m)
        if m["msg_type"] == "error":
            raise AssertionError("\n".join(m["content"]["traceback"]))
        value = m["content"].get("data", {}).get("state", {}).get("value", "") if m["msg_type"] == "comm_msg" else ""
        hit = re.search(r"data-status='running'[^>]*>running</b> ([0-9.e+]+) /", str(value))
        if hit and float(hit.group(1)) > 0:
            return seen, float(hit.group(1))
    raise AssertionError(f"the panel never showed a running run: {[m['msg_type'] for m in seen][-20:]}")


def _reply(kc, msg_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = kc.get_shell_msg(timeout=1)
        except queue.Empty:
            continue
        if r["parent_header"].get("msg_id") == msg_id:
            return r
    raise AssertionError(f"no reply to {msg_id} within {timeout:g} s")


def _stdout_of(msgs: list[dict], msg_id: str) -> str:
    return "".join(m["content"]["text"] for m in msgs
                   if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id)


def _drain_iopub(kc, until_idle_of: str, timeout: float = 60) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        got.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" \
                and m["parent_header"].get("msg_id") == until_idle_of:
            return got
    raise AssertionError(f"{until_idle_of} never went idle")


@pytest.mark.slow
def test_stop_clicked_while_a_cell_waits_stops_the_run(kernel, tmp_path: Path) -> None:
    _km, kc = kernel
    cfg = balanced_network(tmp_path / "net", n_exc=160, n_inh=40, tstop=1_000_000.0)  # hours: only Stop ends it
    model_id = _run(kc, _panel_cell(cfg, tmp_path / "out")).strip()
    waiting = kc.execute("panel.start()\nprint('wait ->', panel.wait(timeout=300))")
    msgs, shown_ms = _wait_running(kc, waiting)
    queued = kc.execute("print('queued cell ran, status', panel.status)")  # arrives while the cell waits
    time.sleep(0.3)
    t_click = time.time()
    _click(kc, model_id)
    reply = _reply(kc, waiting, timeout=120)
    stopped_after = time.time() - t_click
    assert reply["content"]["status"] == "ok", reply["content"]
    msgs += _drain_iopub(kc, until_idle_of=queued)
    out = _stdout_of(msgs, waiting)
    assert "wait -> stopped" in out, out
    # the block is 1000 ms of model time, a fraction of a second of wall time here
    assert stopped_after < 30, stopped_after
    # the queued cell ran after the waiting one ended, not nested inside it (its status is final)
    assert "queued cell ran, status stopped" in _stdout_of(msgs, queued)
    order = [(m["msg_type"], m["content"].get("execution_state"), m["parent_header"].get("msg_id")) for m in msgs]
    assert order.index(("status", "idle", waiting)) < order.index(("execute_input", None, queued)), order
    # the engine ended its last block within one block (plus the stop message's way) of the click
    end = json.loads(_run(kc, ENGINE_END))
    assert end["t"] > shown_ms and end["t"] < 1_000_000.0
    assert t_click - end["block_wall"] <= end["sent"] <= t_click + 2 * end["block_wall"] + 1.0, (t_click, end)
    # the same panel runs again
    again = _run(kc, "print(panel.start() is not None, panel.status)")
    assert again.startswith("True"), again
    _run(kc, "panel.stop(); print(panel.wait(timeout=120))")


@pytest.mark.slow
def test_await_wait_async_lets_the_click_through(kernel, tmp_path: Path) -> None:
    _km, kc = kernel
    cfg = balanced_network(tmp_path / "net", n_exc=160, n_inh=40, tstop=1_000_000.0)
    model_id = _run(kc, _panel_cell(cfg, tmp_path / "out")).strip()
    waiting = kc.execute("panel.start()\nprint('wait_async ->', await panel.wait_async(timeout=300))")
    msgs, _ = _wait_running(kc, waiting)
    _click(kc, model_id)
    reply = _reply(kc, waiting, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    msgs += _drain_iopub(kc, until_idle_of=waiting)
    assert "wait_async -> stopped" in _stdout_of(msgs, waiting)
