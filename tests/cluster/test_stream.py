"""The stream protocol in one process (no cluster): lossless delivery, loss detection, backpressure, stop."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zmq

from modelkit.cluster import RunStoppedError, SpikeStream, StreamError, StreamSink


def _blocks(n_blocks: int, per_block: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for k in range(n_blocks):
        yield rng.integers(0, 1000, per_block), np.sort(rng.uniform(k, k + 1, per_block))


def test_every_block_arrives_once_in_order():
    stream = SpikeStream(run_id="r1").start()
    sent_ids, sent_ts = [], []
    try:
        with StreamSink(stream.address, stream.control_address, "r1", hwm=4) as sink:
            for k, (ids, ts) in enumerate(_blocks(200, 500)):
                sink.spikes("v1" if k % 2 else "lgn", ids, ts)
                sink.progress(k + 1.0, 200.0)
                sent_ids.append(ids)
                sent_ts.append(ts)
            sink.end()
        assert stream.finished.wait(10)
        stream.check()
        got = stream.arrays()
        assert stream.lost == stream.duplicates == 0 and stream.n_messages == 1 + 400 + 1
        np.testing.assert_array_equal(got["lgn"][0], np.concatenate(sent_ids[0::2]))
        np.testing.assert_array_equal(got["v1"][1], np.concatenate(sent_ts[1::2]))
        assert stream.counts == {"lgn": 50_000, "v1": 50_000}
        assert len(stream.latencies) == 200
        p = stream.progress()
        assert p.t == p.tstop == 200.0 and p.n_spikes == 100_000
        assert len(stream.spike_table()) == 100_000
    finally:
        stream.close()


def test_a_gap_in_the_sequence_is_reported():
    stream = SpikeStream(run_id="r2").start()
    try:
        with StreamSink(stream.address, None, "r2") as sink:
            sink.spikes("v1", np.arange(3), np.ones(3))
            sink.seq += 1  # a message that never left
            sink.spikes("v1", np.arange(3), np.ones(3))
            sink.end({"v1": 9})
        assert stream.finished.wait(10)
        assert stream.lost == 1
        with pytest.raises(StreamError, match=r"1 message\(s\) lost.*spikes sent \{'v1': 9\} but received \{'v1': 6\}"):
            stream.check()
    finally:
        stream.close()


def test_backpressure_blocks_then_fails_instead_of_dropping():
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)  # a client that never drains
    pull.setsockopt(zmq.RCVHWM, 1)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    sink = StreamSink(f"tcp://127.0.0.1:{port}", None, "r3", hwm=1, send_timeout=0.3)
    sink.open()
    big = np.zeros(1 << 20)
    t0 = time.monotonic()
    try:
        with pytest.raises(StreamError, match="did not take a message for 0.3 s"):
            for _ in range(1000):
                sink.spikes("v1", big.astype(np.int64), big)
        assert time.monotonic() - t0 >= 0.3  # it waited before giving up
        assert sink.seq < 1000
    finally:
        sink._push.setsockopt(zmq.LINGER, 0)
        sink.close()
        pull.close()


def test_stop_reaches_the_sink_at_the_end_of_a_block():
    stream = SpikeStream(run_id="r4").start()
    try:
        with StreamSink(stream.address, stream.control_address, "r4") as sink:
            sink.progress(1.0, 10.0)
            stream.request_stop()
            deadline = time.monotonic() + 10
            with pytest.raises(RunStoppedError, match="stopped on request at t = 2 ms"):
                t = 2.0
                while time.monotonic() < deadline:
                    sink.progress(t, 10.0)
                    time.sleep(0.05)
            sink.fail(RunStoppedError("stopped"))
        assert stream.finished.wait(10) and stream.last["stopped"] is True
    finally:
        stream.close()


def test_listeners_see_every_block_from_the_stream_thread():
    stream = SpikeStream(run_id="r5")
    seen: list[tuple[str, int, str]] = []
    stream.add_listener(lambda pop, ids, ts: seen.append((pop, len(ids), threading.current_thread().name)))
    stream.add_listener(lambda pop, ids, ts: 1 / 0)  # a broken view does not break the stream
    stream.start()
    try:
        with StreamSink(stream.address, None, "r5") as sink:
            sink.spikes("v1", np.arange(5), np.zeros(5))
            sink.end()
        assert stream.finished.wait(10)
        assert seen == [("v1", 5, "modelkit-stream-r5")]
    finally:
        stream.close()
