#!/usr/bin/env python
"""NEURON vs CoreNEURON (both through modelkit) vs bmtk's BioNet, in one run: integration of biophysical networks.

Networks: ``bio_450`` (300 ms) and a 2,000-cell network of the same kind (``--tstop-large``, 100 ms by
default), built by ``bench_neuron.build_network`` (Allen perisomatic Scnn1a/Rorb/Nr5a1/PV1/PV2 cells, recurrent
edges by soma distance, a Poisson LGN), with a soma ``v`` report of 50 cells so that traces are compared too.
Every program runs the *same* config file, each in its own process (peak RSS is that child's ``ru_maxrss``):

* ``neuron``: ``simulate(config, threads=T)``: modelkit builds the model in NEURON and NEURON integrates it;
* ``coreneuron``: ``simulate(config, threads=T, coreneuron=True)``: modelkit builds the model in NEURON, then
  CoreNEURON integrates it in memory (the mechanisms' CoreNEURON build, ``nrnivmodl -coreneuron``, comes
  from modelkit's cache, compiled before any timed run);
* ``bmtk``: BioNet (one thread: BioNet has no thread option), as ``bench_neuron`` runs it, on the networks of
  ``--bmtk-sizes`` (default 450: BioNet's setup grows with the square of the cells, 107 s at 450 cells here,
  about half an hour predicted at 2,000; ``--bmtk-sizes 450,2000`` runs it there too).

On 2 cores the runs go on 1 and 2 threads (``--threads``; NEURON refuses threads for a mechanism that is not
thread safe, as the Allen PV fits' ``NaV.mod`` is, and the table says so) and on 2 MPI ranks (``--ranks``:
``mpiexec -n 2``, the ``mpich`` wheel; peak RSS is rank 0's).

Integration is ``RunResult.timings["run"]`` for modelkit (every block's ``psolve``, with CoreNEURON's copy of
the model in and its results out) and the part of BioNet's ``sim.run()`` after its modules' ``initialize``;
total is the child's wall time, the import of Python and NEURON included.  NEURON and CoreNEURON must give the
same spikes (node ids and times) and soma traces within 1e-6 mV; the table says whether they did.

Usage::

    python benchmarks/bench_coreneuron.py                  # bio_450 + bio_2000, 1 and 2 threads, with bmtk
    python benchmarks/bench_coreneuron.py --quick          # bio_100, 100 ms, 1 thread (a smoke run)
    python benchmarks/bench_coreneuron.py --gpu            # adds CoreNEURON on a GPU (run.coreneuron_gpu)

Targets (issue 18): CoreNEURON integration at least 2x faster than modelkit's NEURON integration, with peak
RSS no higher, on 1 thread and on 2; spikes identical, soma v within 1e-6 mV.  ``--gpu`` on a NEURON without
GPU support prints the refusal modelkit gives and leaves the GPU rows out.  Exit status 1 when a run fails,
the results differ or (full size only) a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import _harness
import bench_neuron as bn
import numpy as np

TARGET_SPEEDUP = 2.0    # NEURON integrate / CoreNEURON integrate >=
TARGET_RSS = 1.0        # CoreNEURON peak RSS / NEURON peak RSS <=
V_TOLERANCE = 1e-6      # mV
N_REPORTED = 50         # cells with a soma v report


def with_report(config: str) -> str:
    """``config`` with a soma v report of its first ``N_REPORTED`` v1 cells, written beside it."""
    with open(config) as f:
        cfg = json.load(f)
    cfg["reports"] = {"soma_v": {"module": "membrane_report", "cells": {"population": "v1",
                                                                         "node_ids": list(range(N_REPORTED))},
                                 "variable_name": "v", "sections": "soma", "file_name": "soma_v.h5"}}
    path = config.replace(".json", ".report.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


# ------------------------------------------------------------------ children
def child_warm(config: str, out: str) -> dict[str, Any]:
    """Both builds of the mechanisms (NEURON's and CoreNEURON's) in modelkit's cache, outside any timed run."""
    import compileall

    import modelkit
    from modelkit.simulator.neuron.mechanisms import compile_mechanisms
    compileall.compile_dir(os.path.dirname(modelkit.__file__), quiet=1)
    with open(config) as f:
        mech = json.load(f)["components"]["mechanisms_dir"]
    t0 = time.perf_counter()
    lib = compile_mechanisms(mech, coreneuron=True)
    return {"library": lib, "seconds": time.perf_counter() - t0}


def child_modelkit(config: str, out: str, threads: int, core: str) -> dict[str, Any]:
    from modelkit.errors import ConfigError
    from modelkit.simulator import simulate
    try:
        res = simulate(config, output_dir=out, progress=False, overwrite=True, threads=threads,
                       coreneuron=core != "none", coreneuron_gpu=core == "gpu")
    except ConfigError as e:  # e.g. no GPU build: the refusal is the result
        return {"refused": str(e)}
    t = res.timings
    return {"setup": t.get("load", 0.0) + t["build"], "integrate": t["run"], "spikes_file": res.spikes_file,
            "report": res.reports.get("soma_v"), "coreneuron": res.coreneuron}


def run_child(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.child == "build":
        res = bn.build_network(args.out, args.mech, args.nodes, args.tstop)
    elif args.child == "warm":
        res = child_warm(args.config, args.out)
    elif args.child == "bmtk":
        res = bn.child_bmtk(args.config, args.out)
    else:
        res = child_modelkit(args.config, args.out, args.threads, args.child)
        from modelkit.simulator.parallel import world
        if world().rank != 0:  # under mpiexec rank 0 writes the result
            return 0
    res["inside_s"] = time.perf_counter() - t0
    res["peak_mib"] = _harness.peak_rss_mib()
    with open(args.result, "w") as f:
        json.dump(res, f)
    return 0


# ------------------------------------------------------------------ parent
def spawn(child: str, workdir: str, tag: str, extra: list[str], ranks: int = 0) -> dict[str, Any]:
    """A child run (``ranks`` > 0: under ``mpiexec -n ranks``)."""
    if not ranks:
        return _harness.spawn(__file__, child, workdir, tag, extra, cwd=workdir)
    import subprocess
    result = os.path.join(workdir, f"{tag}.json")
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    cmd = [mpiexec, "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--child", child, "--result", result,
           *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir,
                       env={**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"})
    if r.returncode != 0 or not os.path.exists(result):
        return {"error": f"exit status {r.returncode}", "log": "\n".join((r.stdout + r.stderr).splitlines()[-15:])}
    with open(result) as f:
        res = json.load(f)
    res["total"] = time.perf_counter() - t0
    return res


def spikes_of(path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import h5py
    with h5py.File(path, "r") as f:
        return {p: (g["node_ids"][()], g["timestamps"][()]) for p, g in f["spikes"].items()}


def soma_v(path: str | None) -> np.ndarray | None:
    import h5py
    if not path or not os.path.exists(path):
        return None
    with h5py.File(path, "r") as f:
        return np.concatenate([g["data"][()] for g in f["report"].values()], axis=1)


def agreement(ref: dict[str, Any], got: dict[str, Any]) -> tuple[bool, float]:
    """(spikes identical, max |soma v difference| in mV) of two modelkit runs."""
    a, b = spikes_of(ref["spikes_file"]), spikes_of(got["spikes_file"])
    same = sorted(a) == sorted(b) and all(np.array_equal(a[p][0], b[p][0]) and np.array_equal(a[p][1], b[p][1])
                                          for p in a)
    va, vb = soma_v(ref.get("report")), soma_v(got.get("report"))
    dv = float(np.max(np.abs(va - vb))) if va is not None and vb is not None and va.shape == vb.shape else np.inf
    return same, dv


def run_network(name: str, config: str, workdir: str, threads: list[int], ranks: int, gpu: bool, with_bmtk: bool,
                targets: list) -> bool:
    """Every program on one network; the table and the targets.  True when something failed or disagreed."""
    runs: dict[str, dict[str, Any]] = {}
    plan = [("bmtk", "1")] if with_bmtk else []
    for t in [str(t) for t in threads] + ([f"{ranks}r"] if ranks > 1 else []):
        plan += [("none", t), ("cpu", t)] + ([("gpu", t)] if gpu else [])
    for prog, t in plan:
        key = f"{prog}-{t}"
        n_ranks = int(t[:-1]) if t.endswith("r") else 0
        r = spawn(prog, workdir, f"{name}-{key}", ["--config", config, "--out", os.path.join(workdir, f"{name}-{key}"),
                                                   "--threads", "1" if n_ranks else t], ranks=n_ranks)
        if "refused" in r:
            print(f"  {name} {key}: refused by modelkit: {r['refused']}", flush=True)
            continue
        if "error" in r:
            print(f"  {name} {key}: FAILED ({r['error']})\n{r.get('log', '')}", flush=True)
        else:
            r["spikes"] = sum(len(v[0]) for v in spikes_of(r["spikes_file"]).values())
            print(f"  {name} {key}: setup {r['setup']:.2f} s, integrate {r['integrate']:.2f} s, total "
                  f"{r['total']:.2f} s, peak RSS {r['peak_mib']:,.0f} MiB, {r['spikes']:,} spikes", flush=True)
        runs[key] = r
    failed = any("error" in r for r in runs.values())
    label = {"bmtk": "bmtk BioNet", "none": "modelkit NEURON", "cpu": "modelkit CoreNEURON",
             "gpu": "modelkit CoreNEURON (GPU)"}
    rows = []
    for key, r in runs.items():
        prog, t = key.rsplit("-", 1)
        if "error" in r:
            rows.append([label[prog], t, "failed", "", "", "", "", "", ""])
            continue
        ref = runs.get(f"none-{t}")
        same, dv, speed = "", "", ""
        if prog in ("cpu", "gpu") and ref is not None and "error" not in ref:
            ok, d = agreement(ref, r)
            same, dv = ("yes" if ok else "NO"), f"{d:.1e}"
            speed = f"{ref['integrate'] / r['integrate']:.2f}x"
            failed |= not ok or not d <= V_TOLERANCE
            if prog == "cpu":
                sx, rx = ref["integrate"] / r["integrate"], r["peak_mib"] / ref["peak_mib"]
                how = f"{t[:-1]} MPI ranks" if t.endswith("r") else f"{t} thread(s)"
                targets.append((f"{name}, {how}: CoreNEURON integration >= {TARGET_SPEEDUP:g}x faster than "
                                f"NEURON's", sx, sx >= TARGET_SPEEDUP, "x"))
                targets.append((f"{name}, {how}: CoreNEURON peak RSS / NEURON's <= {TARGET_RSS:g}", rx,
                                rx <= TARGET_RSS, ""))
        rows.append([label[prog], t, f"{r['setup']:.2f}", f"{r['integrate']:.2f}", f"{r['total']:.2f}",
                     f"{r['peak_mib']:,.0f}", f"{r['spikes']:,}", same, dv + (f" ({speed})" if speed else "")])
    print()
    print(name)
    _harness.print_table(["program", "threads (r: MPI ranks)", "setup s", "integrate s", "total s", "peak RSS MiB",
                          "spikes", "same spikes", "max |dv| mV (speed-up)"], rows)
    for t in threads:
        bm, ne, co = runs.get("bmtk-1"), runs.get(f"none-{t}"), runs.get(f"cpu-{t}")
        if bm and ne and co and not any("error" in r for r in (bm, ne, co)):
            print(f"ratios, {t} thread(s): integrate bmtk / NEURON = {bm['integrate'] / ne['integrate']:.2f}x, "
                  f"bmtk / CoreNEURON = {bm['integrate'] / co['integrate']:.2f}x, NEURON / CoreNEURON = "
                  f"{ne['integrate'] / co['integrate']:.2f}x")
    print(flush=True)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="bio_100 only, 100 ms, 1 thread, no bmtk")
    ap.add_argument("--tstop", type=float, default=300.0, help="ms of bio_450 (default 300)")
    ap.add_argument("--tstop-large", type=float, default=100.0, help="ms of the 2,000-cell network (default 100)")
    ap.add_argument("--sizes", default=None, help="cell counts (default 450,2000)")
    ap.add_argument("--threads", default=None, help="thread counts (default 1,2)")
    ap.add_argument("--ranks", type=int, default=None, help="MPI ranks of the MPI runs (default 2; 0: none)")
    ap.add_argument("--gpu", action="store_true", help="also CoreNEURON on a GPU (run.coreneuron_gpu)")
    ap.add_argument("--skip-bmtk", action="store_true", help="no bmtk runs")
    ap.add_argument("--bmtk-sizes", default="450", help="cell counts BioNet runs too (default 450)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the files written")
    ap.add_argument("--child", choices=("build", "warm", "bmtk", "none", "cpu", "gpu"), help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--mech", help=argparse.SUPPRESS)
    ap.add_argument("--nodes", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.threads = int(args.threads or 1)
        return run_child(args)
    sizes = [int(s) for s in (args.sizes or ("100" if args.quick else "450,2000")).split(",")]
    threads = [int(t) for t in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    ranks = args.ranks if args.ranks is not None else (0 if args.quick else 2)
    failed, targets = False, []
    with _harness.scratch("bench_coreneuron-", args.dir, args.keep) as workdir:
        print(f"# bench_coreneuron: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; each program its own "
              f"process; dt 0.1 ms", flush=True)
        t0 = time.perf_counter()
        mech = bn.prepare_mechanisms(workdir)
        for n in sizes:
            tstop = 100.0 if args.quick else (args.tstop if n <= 450 else args.tstop_large)
            net = os.path.join(workdir, f"bio_{n}")
            b = spawn("build", workdir, f"build-{n}", ["--out", net, "--mech", mech, "--nodes", str(n),
                                                       "--tstop", str(tstop)])
            if "error" in b:
                print(f"building bio_{n} failed ({b['error']})\n{b.get('log', '')}")
                failed = True
                continue
            config = with_report(os.path.join(net, "config.json"))
            if n == sizes[0]:
                w = spawn("warm", workdir, "warm", ["--config", config, "--out", workdir])
                if "error" in w:
                    print(f"compiling the mechanisms failed ({w['error']})\n{w.get('log', '')}")
                    return 1
                print(f"# mechanisms: bmtk's nrnivmodl + modelkit's NEURON and CoreNEURON builds ready in "
                      f"{time.perf_counter() - t0:.1f} s (not timed below)", flush=True)
            print(f"# bio_{n}: {n:,} biophysical cells, {b['edges']:,} recurrent + {b['input_edges']:,} LGN edges, "
                  f"{tstop:g} ms", flush=True)
            failed |= run_network(f"bio_{n}", config, workdir, threads, ranks, args.gpu,
                                  not args.skip_bmtk and not args.quick
                                  and n in {int(x) for x in args.bmtk_sizes.split(",")}, targets)
        return _harness.verdict(targets, failed=failed, quick=args.quick,
                                failure="a run failed or CoreNEURON's results differ from NEURON's")


if __name__ == "__main__":
    sys.exit(main())
