#!/usr/bin/env python
"""The live spike stream, engine -> notebook: throughput with the loss count, and block latency.

1. **throughput**: a real ipyparallel engine (local, controller on loopback) runs a synthetic
   high-rate sink: ``--blocks`` blocks of ``--block-spikes`` spikes (int64 node ids + float64 times,
   16 bytes a spike) through :class:`modelkit.cluster.StreamSink`, as fast as the stream takes them
   (backpressure on: HWM 64 messages, blocking sends).  The client's :class:`modelkit.cluster.SpikeStream`
   drains them in its thread; spikes/s = spikes received / (arrival of the end message - arrival of
   ``hello``).  Lost = sequence gaps + duplicates + (spikes sent - spikes received); every node id and
   time is checked against what the engine generated (same seed).
2. **latency**: a real NEST run on the engine (``modelkit.datasets.balanced_network``, ``--cells``
   cells, ``--tstop`` ms in blocks of ``--block-ms``) with :func:`modelkit.cluster.run_on_cluster`;
   latency = arrival time of a block's ``progress`` message in the client - the engine's wall clock
   when the block ended (same host, same clock).  Median and max over the blocks.

Targets (issue 6): >= 10^6 spikes/s with 0 lost; median latency < 100 ms.

Usage::

    python benchmarks/bench_stream.py            # 2x10^7 spikes; 2000 cells for 2 s
    python benchmarks/bench_stream.py --quick    # 2x10^6 spikes

Exit status 1 when spikes were lost or differ, 2 with ``--strict`` when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def _synthetic(address: str, control: str, run_id: str, blocks: int, per_block: int, seed: int) -> float:
    """Engine side: push ``blocks`` blocks of random spikes; returns the engine's send time (s)."""
    import time

    import numpy as np

    from modelkit.cluster import StreamSink

    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 100_000, per_block)
    base = np.sort(rng.uniform(0.0, 1.0, per_block))
    t0 = time.perf_counter()
    with StreamSink(address, control, run_id) as sink:
        for k in range(blocks):
            sink.spikes("v1", ids + k, base + k)  # new arrays each block, as a simulator hands them over
            sink.progress(k + 1.0, float(blocks))
        sink.end()
    return time.perf_counter() - t0


def throughput(rc, blocks: int, per_block: int) -> dict:
    from modelkit.cluster import SpikeStream

    stream = SpikeStream(run_id="bench").start()
    ar = rc[0].apply_async(_synthetic, stream.address, stream.control_address, "bench", blocks, per_block, 7)
    engine_s = ar.get(timeout=600)
    assert stream.finished.wait(60), "end message did not arrive"
    t_end = time.time()
    stream.close()
    elapsed = t_end - float(stream.hello["sent"]) if stream.hello else float("nan")
    got = stream.arrays().get("v1", (np.empty(0, np.int64), np.empty(0)))
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 100_000, per_block)
    base = np.sort(rng.uniform(0.0, 1.0, per_block))
    exp_ids = np.concatenate([ids + k for k in range(blocks)])
    exp_ts = np.concatenate([base + k for k in range(blocks)])
    n = blocks * per_block
    same = len(got[0]) == n and np.array_equal(got[0], exp_ids) and np.array_equal(got[1], exp_ts)
    lost = stream.lost + stream.duplicates + (n - len(got[0]))
    return {"spikes": n, "received": len(got[0]), "lost": lost, "identical": bool(same), "seconds": elapsed,
            "engine_seconds": engine_s, "rate": len(got[0]) / elapsed}


def latency(rc, cells: int, tstop: float, block_ms: float) -> dict:
    import json

    from modelkit.cluster import run_on_cluster
    from modelkit.datasets import balanced_network

    with tempfile.TemporaryDirectory() as d:
        cfg = balanced_network(os.path.join(d, "net"), n_exc=int(cells * 0.8), n_inh=cells - int(cells * 0.8),
                               tstop=tstop)
        with open(cfg) as f:
            sim = json.load(f)
        sim["run"]["nsteps_block"] = int(round(block_ms / sim["run"]["dt"]))
        with open(cfg, "w") as f:
            json.dump(sim, f)
        run = run_on_cluster(cfg, cluster=rc, output_dir=os.path.join(d, "out"))
        status = run.wait(600)
        lat = [x * 1000 for x in run.stream.latencies]
        n_file = sum(run.result.n_spikes.values()) if status == "done" else -1
        return {"status": status, "blocks": len(lat), "median_ms": statistics.median(lat) if lat else float("nan"),
                "max_ms": max(lat) if lat else float("nan"), "spikes": len(run.spikes), "spikes_file": n_file,
                "lost": run.stream.lost + run.stream.duplicates + abs(n_file - len(run.spikes)),
                "wall_s": run.progress.wall, "error": run.error}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=200)
    ap.add_argument("--block-spikes", type=int, default=100_000)
    ap.add_argument("--cells", type=int, default=2000)
    ap.add_argument("--tstop", type=float, default=2000.0)
    ap.add_argument("--block-ms", type=float, default=100.0)
    ap.add_argument("--quick", action="store_true", help="10x fewer synthetic spikes")
    ap.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    a = ap.parse_args(argv)
    if a.quick:
        a.blocks //= 10

    from modelkit.cluster import start_cluster, stop_cluster

    with tempfile.TemporaryDirectory() as prof:
        t0 = time.perf_counter()
        rc = start_cluster(1, profile_dir=os.path.join(prof, "profile"))
        print(f"cluster: 1 local engine on 127.0.0.1, started in {time.perf_counter() - t0:.1f} s")
        try:
            tp = throughput(rc, a.blocks, a.block_spikes)
            lt = latency(rc, a.cells, a.tstop, a.block_ms)
        finally:
            stop_cluster(rc)
    print(f"throughput: {tp['received']:,} of {tp['spikes']:,} spikes in {tp['seconds']:.2f} s "
          f"({a.blocks} blocks of {a.block_spikes:,}): {tp['rate'] / 1e6:.2f} x 10^6 spikes/s "
          f"(target >= 1); lost {tp['lost']}; identical to the engine's arrays: {tp['identical']}")
    print(f"latency: real NEST run, {a.cells} cells, {a.tstop:g} ms in {a.block_ms:g} ms blocks ({lt['status']}, "
          f"{lt['wall_s']:.1f} s): end of block on the engine -> arrival in the client over {lt['blocks']} blocks: "
          f"median {lt['median_ms']:.2f} ms (target < 100), max {lt['max_ms']:.2f} ms; "
          f"{lt['spikes']} spikes streamed, {lt['spikes_file']} in the spikes file, lost {lt['lost']}")
    if lt["error"] is not None:
        print(f"latency run error: {lt['error']!r}")
    if tp["lost"] or not tp["identical"] or lt["lost"] or lt["status"] != "done":
        return 1
    if a.strict and (tp["rate"] < 1e6 or not lt["median_ms"] < 100):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
