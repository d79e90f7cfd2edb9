"""A client slower than the engine: every spike arrives before the end of the run, and ``lost`` counts
everything that was not delivered (engine killed, stop, close) -- never ``lost == 0`` over dropped data."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np

from modelkit.cluster import EngineDiedError, RunStoppedError, SpikeStream, StreamSink, run_local, run_on_cluster
from modelkit.datasets import balanced_network


class SlowListener:
    """A view slower than the engine: sleeps per batch; counts what it was given."""

    def __init__(self, sleep: float) -> None:
        self.sleep = sleep
        self.n_spikes = 0
        self.n_calls = 0
        self.n_frames = 0
        self.busy_s = 0.0

    def spikes(self, pop, ids, ts) -> None:
        t0 = time.monotonic()
        time.sleep(self.sleep)
        self.n_spikes += len(ids)
        self.n_calls += 1
        self.busy_s += time.monotonic() - t0

    def frames(self, *args) -> None:
        t0 = time.monotonic()
        time.sleep(self.sleep / 4)
        self.n_frames += 1
        self.busy_s += time.monotonic() - t0


def _wait_for(cond, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cond()


def test_slow_listener_gets_every_spike_and_the_run_succeeds(tmp_path, stream_equals_file):
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, tstop=2000.0)  # 20 blocks
    slow = SlowListener(0.4)
    run = run_local(cfg, output_dir=tmp_path / "out")
    run.stream.add_listener(slow.spikes, replay=True)
    run.stream.add_frames_listener(slow.frames)
    assert run.wait(120) == "done", run.error
    assert slow.busy_s > 5.0  # the drain outlasted any fixed grace after the engine finished
    stream_equals_file(run, run.result)
    assert slow.n_spikes == len(run.spikes) == sum(run.result.n_spikes.values())
    assert slow.n_frames >= 20  # one frames message per block, none dropped
    assert run.stream.lost == 0 and run.stream.lost_spikes == 0 and run.stream.last["kind"] == "end"


def test_slow_listener_and_engine_killed_counts_the_undelivered(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)
    slow = SlowListener(1.0)  # slower than one block of the engine even on a loaded machine
    run = run_local(cfg, output_dir=tmp_path / "out")
    run.stream.add_listener(slow.spikes, replay=True)
    _wait_for(lambda: slow.n_calls >= 2)
    time.sleep(2.0)  # the engine runs on while the listener sleeps: a backlog builds up before the kill
    os.kill(run._ar.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    assert run.wait(60) == "failed"
    assert time.monotonic() - t0 < 10  # the death is reported promptly, not after the backlog's drain
    assert isinstance(run.error, EngineDiedError) and "SIGKILL" in str(run.error)
    assert slow.n_spikes == len(run.spikes) == sum(run.stream.counts.values()) > 0  # kept = delivered
    assert run.stream.lost > 0 and run.stream.lost_spikes > 0  # the queued backlog, discarded and counted


def test_stop_during_a_slow_drain_is_prompt_and_counts_what_was_discarded(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=400, n_inh=100, tstop=1_000_000.0)
    slow = SlowListener(0.3)
    run = run_local(cfg, output_dir=tmp_path / "out")
    run.stream.add_listener(slow.spikes, replay=True)
    _wait_for(lambda: slow.n_calls >= 3)
    t0 = time.monotonic()
    assert run.stop(timeout=60) == "stopped"
    assert time.monotonic() - t0 < 15
    assert isinstance(run.error, RunStoppedError)
    last = run.stream.last
    assert last is not None and last["kind"] == "error" and last["stopped"] is True
    sent = sum(last["n_spikes"].values())
    assert slow.n_spikes == len(run.spikes)
    assert run.stream.lost_spikes == sent - slow.n_spikes > 0
    assert run.stream.lost > 0


def test_stop_after_the_engine_finished_but_before_the_drain_did(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, tstop=2000.0)
    slow = SlowListener(0.5)
    run = run_local(cfg, output_dir=tmp_path / "out")
    run.stream.add_listener(slow.spikes, replay=True)
    # the engine finished the run and published its files; it waits (acknowledgements) while the notebook drains
    _wait_for(lambda: (tmp_path / "out" / "spikes.h5").exists())
    assert run.stream.last is None
    assert run.stop(timeout=30) == "stopped"
    assert isinstance(run.error, RunStoppedError) and "finished the run" in str(run.error)
    assert run.stream.lost > 0 and run.stream.lost_spikes == sum(run.stream.last["n_spikes"].values()) - slow.n_spikes
    assert (tmp_path / "out" / "spikes.h5").exists()  # the engine's files are whole


def test_close_counts_queued_messages_as_lost():
    stream = SpikeStream(run_id="slow1")
    delivered = []
    release = threading.Event()
    stream.add_listener(lambda pop, ids, ts: (release.wait(5), delivered.append(len(ids))))
    stream.start()
    sent = 0
    try:
        with StreamSink(stream.address, None, "slow1", hwm=1000) as sink:
            for k in range(30):
                sink.spikes("v1", np.arange(10), np.full(10, float(k)))
                sent += 10
            sink.end()
        time.sleep(0.3)  # all of it queued in the notebook, the listener stuck on the first block
        threading.Timer(0.2, release.set).start()
        stream.close()
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while stream._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    n_delivered = sum(delivered)
    assert n_delivered == sum(stream.counts.values()) < sent
    assert stream.lost >= (sent - n_delivered) // 10 > 0
    assert stream.lost_spikes == sent - n_delivered if stream.last is not None else stream.lost_spikes > 0


def test_slow_listener_on_an_engine(cluster, tmp_path, stream_equals_file):
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, tstop=2000.0)
    slow = SlowListener(0.35)
    run = run_on_cluster(cfg, cluster=cluster, output_dir=tmp_path / "out")
    run.stream.add_listener(slow.spikes, replay=True)
    assert run.wait(180) == "done", run.error
    assert slow.busy_s > 5.0
    stream_equals_file(run, run.result)
    assert slow.n_spikes == len(run.spikes) and run.stream.lost == 0


def test_sink_close_waits_for_a_slow_client_beyond_send_timeout():
    # 30 blocks of 2 MB with a 2 s send_timeout: the client needs ~9 s, longer than any fixed flush grace
    stream = SpikeStream(run_id="r3", hwm=2).start()
    slow = SlowListener(0.3)
    stream.add_listener(slow.spikes)
    sink = StreamSink(stream.address, stream.control_address, "r3", hwm=64, send_timeout=2).open()
    n = 125_000
    try:
        for b in range(30):
            sink.spikes("pop", np.arange(n, dtype=np.uint64), np.full(n, float(b)))
        sink.end()
    finally:
        sink.close()
    assert stream.finished.wait(30)
    stream.close()
    stream.check()
    assert slow.n_spikes == 30 * n and stream.lost == 0 and stream.lost_spikes == 0
