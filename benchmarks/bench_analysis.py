#!/usr/bin/env python
"""modelkit vs bmtk on the same spike analysis, in one run; and a 10^6-spike raster to PNG.

1. **load + rates**: a SONATA spikes file of ``--spikes`` spikes (10^7) over ``--nodes`` nodes (10^5,
   in two populations ``v1`` (80 %) and ``lgn``), written with ``modelkit.sonata.write_spikes``
   (sorted by time, as simulators write), is loaded and per-node and per-population firing rates
   (Hz over the run window) are computed:

   * modelkit: ``SpikeTable.read(path, t_start=, t_stop=)``, ``.rates()`` and ``.rates(by="population")``;
   * bmtk: ``bmtk.utils.reports.spike_trains.SpikeTrains.load(path)`` (the reader behind bmtk's
     analyzer and plotting), ``.to_dataframe()``, then the pandas ``groupby`` counts that
     ``bmtk.analyzer.spike_trains.spike_statistics`` does per node, and per population.

   Each system runs in its own fresh subprocess (``--worker``), so neither inherits the other's
   page cache of Python objects or warmed allocator; the file itself is in the OS page cache for both
   after an untimed warm-up read.  Times are medians of ``--repeats`` subprocess runs, taken in turns.
   The per-node and per-population rates of both are checked to agree.
2. **raster**: ``modelkit.plotting.plot_raster`` of the first 10^6 spikes (``--raster-spikes``),
   saved to PNG with matplotlib's Agg backend (seconds printed; no peer).

Usage::

    python benchmarks/bench_analysis.py            # 10^7 spikes, 10^5 nodes
    python benchmarks/bench_analysis.py --quick    # 10^6 spikes (smoke run)

Exit status 1 when a correctness check fails, 2 with ``--strict`` when the 5x target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

TARGET = 5.0
POPS = (("v1", 0.8), ("lgn", 0.2))


def make_spikes(n_spikes: int, n_nodes: int, t_stop: float, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Poisson-like spikes: random nodes, uniform times; population sizes and spike shares from POPS."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, share in POPS:
        n = int(round(n_spikes * share))
        nodes = int(round(n_nodes * share))
        out[name] = (rng.integers(0, nodes, n, dtype=np.int64), rng.uniform(0.0, t_stop, n))
    return out


# ------------------------------------------------------------------ workers (one per subprocess)
def worker_modelkit(path: str, t_stop: float, out_dir: str) -> dict:
    from modelkit.analysis import SpikeTable

    t0 = time.perf_counter()
    st = SpikeTable.read(path, t_start=0.0, t_stop=t_stop)
    t1 = time.perf_counter()
    node = st.rates()
    pop = st.rates(by="population")
    t2 = time.perf_counter()
    node = node[node["n_spikes"] > 0]  # bmtk's table lists the nodes that fire
    np.save(os.path.join(out_dir, "modelkit_node.npy"),
            np.stack([node.index.get_level_values("node_id").to_numpy(np.float64),
                      node.index.get_level_values("population").astype(str).map({"v1": 0, "lgn": 1})
                      .to_numpy(np.float64), node["rate"].to_numpy()], axis=1))
    return {"load": t1 - t0, "rates": t2 - t1, "total": t2 - t0,
            "pop_rates": {str(k): float(v) for k, v in pop["rate"].items()}, "n_nodes": len(node)}


def worker_bmtk(path: str, t_stop: float, out_dir: str) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    from bmtk.utils.reports.spike_trains import SpikeTrains

    t0 = time.perf_counter()
    st = SpikeTrains.load(path)
    df = st.to_dataframe()
    t1 = time.perf_counter()
    dur_s = t_stop / 1000.0
    per_node = df.groupby(["population", "node_ids"])["timestamps"].count() / dur_s
    n_nodes = {p: int(len(st.node_ids(population=p))) for p in st.populations}  # nodes that fire
    counts = df.groupby("population")["timestamps"].count()
    pop = {p: float(counts[p] / n_nodes[p] / dur_s) for p in counts.index}
    t2 = time.perf_counter()
    pops = per_node.index.get_level_values(0).map({"v1": 0, "lgn": 1}).to_numpy(np.float64)
    np.save(os.path.join(out_dir, "bmtk_node.npy"),
            np.stack([per_node.index.get_level_values(1).to_numpy(np.float64), pops, per_node.to_numpy()], axis=1))
    return {"load": t1 - t0, "rates": t2 - t1, "total": t2 - t0, "pop_rates": pop, "n_nodes": len(per_node)}


def worker_raster(path: str, n: int, out_dir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from modelkit.plotting import plot_raster
    from modelkit.sonata import read_spikes

    sp = read_spikes(path, "v1")["v1"]
    spikes = {"v1": sp.__class__("v1", sp.node_ids[:n], sp.timestamps[:n])}
    png = os.path.join(out_dir, "raster.png")
    t0 = time.perf_counter()
    ax = plot_raster(spikes, title=f"{n:,} spikes")
    ax.figure.savefig(png, dpi=100)
    t1 = time.perf_counter()
    plt.close(ax.figure)
    return {"raster": t1 - t0, "png_bytes": os.path.getsize(png), "points": int(sum(len(c.get_offsets())
                                                                                  for c in ax.collections))}


WORKERS = {"modelkit": worker_modelkit, "bmtk": worker_bmtk}


def run_worker(kind: str, *args: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spikes", type=int, default=10**7, help="spikes in the file (default 10^7)")
    ap.add_argument("--nodes", type=int, default=10**5, help="nodes over both populations (default 10^5)")
    ap.add_argument("--t-stop", type=float, default=10_000.0, help="run length (ms, default 10 s)")
    ap.add_argument("--raster-spikes", type=int, default=10**6, help="spikes in the raster (default 10^6)")
    ap.add_argument("--repeats", type=int, default=3, help="subprocess runs per system (median; default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10^6 spikes, 10^5 in the raster")
    ap.add_argument("--dir", default=None, help="where to write the file (default: a new dir under /tmp)")
    ap.add_argument("--strict", action="store_true", help="exit 2 when the target is missed")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        if args.worker == "raster":
            out = worker_raster(args.args[0], int(args.args[1]), args.args[2])
        else:
            out = WORKERS[args.worker](args.args[0], float(args.args[1]), args.args[2])
        print(json.dumps(out))
        return 0
    if args.quick:
        args.spikes = min(args.spikes, 10**6)
        args.raster_spikes = min(args.raster_spikes, 10**5)

    import bmtk
    import h5py
    import pandas as pd

    from modelkit.sonata import read_spikes, write_spikes

    work = tempfile.mkdtemp(prefix="bench_analysis.", dir=args.dir or "/tmp")
    load0 = os.getloadavg()
    shares = ", ".join(f"{p} {s:.0%}" for p, s in POPS)
    print(f"bench_analysis: {args.spikes:,} spikes, {args.nodes:,} nodes ({shares}), {args.t_stop:g} ms; dir {work}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, h5py {h5py.__version__}, "
          f"bmtk {bmtk.__version__}; {os.cpu_count()} CPUs, load average {load0[0]:.2f}", flush=True)
    failed: list[str] = []
    try:
        path = os.path.join(work, "spikes.h5")
        t0 = time.perf_counter()
        write_spikes(path, make_spikes(args.spikes, args.nodes, args.t_stop))
        print(f"wrote {os.path.getsize(path) / 1e6:.0f} MB with modelkit.sonata.write_spikes in "
              f"{time.perf_counter() - t0:.2f} s")
        read_spikes(path)  # warm the page cache for both
        res: dict[str, list[dict]] = {"modelkit": [], "bmtk": []}
        for _ in range(args.repeats):
            for kind in ("modelkit", "bmtk"):
                res[kind].append(run_worker(kind, path, str(args.t_stop), work))
        med = {k: {m: statistics.median(r[m] for r in v) for m in ("load", "rates", "total")} for k, v in res.items()}
        # correctness: the same per-node and per-population rates
        a = np.load(os.path.join(work, "modelkit_node.npy"))
        b = np.load(os.path.join(work, "bmtk_node.npy"))
        a = a[np.lexsort((a[:, 0], a[:, 1]))]
        b = b[np.lexsort((b[:, 0], b[:, 1]))]
        if a.shape != b.shape or not np.allclose(a, b):
            failed.append("per-node rates differ")
        pa, pb = res["modelkit"][-1]["pop_rates"], res["bmtk"][-1]["pop_rates"]
        if sorted(pa) != sorted(pb) or not all(np.isclose(pa[k], pb[k]) for k in pa):
            failed.append(f"per-population rates differ: {pa} vs {pb}")
        print()
        print(f"{'load + per-node + per-population rates':42s} {'modelkit':>10s} {'bmtk':>10s} {'bmtk/mk':>8s}")
        for m, label in (("load", "load (s)"), ("rates", "rates (s)"), ("total", "total (s)")):
            mk, bm = med["modelkit"][m], med["bmtk"][m]
            print(f"{label:42s} {mk:10.3f} {bm:10.3f} {bm / mk:7.1f}x")
        speedup = med["bmtk"]["total"] / med["modelkit"]["total"]
        met = speedup >= TARGET
        print("per-population rates (Hz): " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(pa.items())) +
              f"; {res['modelkit'][-1]['n_nodes']:,} firing nodes")
        print(f"target >= {TARGET:g}x faster than bmtk: {'met' if met else 'MISSED'} ({speedup:.1f}x; medians of "
              f"{args.repeats} runs, each system in a fresh subprocess)")
        r = run_worker("raster", path, str(args.raster_spikes), work)
        if r["points"] != args.raster_spikes:
            failed.append(f"raster drew {r['points']} points, not {args.raster_spikes}")
        print(f"raster of {args.raster_spikes:,} spikes (modelkit.plotting.plot_raster -> PNG, Agg): "
              f"{r['raster']:.2f} s, {r['png_bytes'] / 1e3:.0f} kB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load1 = os.getloadavg()
    print(f"load average during the run: {load0[0]:.2f} at start, {load1[0]:.2f} at end "
          f"(above ~{max(0, (os.cpu_count() or 1) - 1)} means other processes competed for the CPUs)")
    print("correctness: " + ("per-node and per-population rates agree, raster complete" if not failed
                             else "FAILED: " + "; ".join(failed)))
    if failed:
        return 1
    return 2 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
