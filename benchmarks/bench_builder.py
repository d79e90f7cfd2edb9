#!/usr/bin/env python
"""modelkit's NetworkBuilder vs bmtk's on the same network, in one run; and a 10^8-edge scale run.

**Comparison** (default): one network of ``--nodes`` nodes (80 % excitatory, 20 %
inhibitory, random positions in a cylindrical column), four edge types
e→e, e→i, i→e, i→i, each connecting pairs with probability 0.1, built and saved
three ways:

* ``bmtk``: bmtk's ``NetworkBuilder`` with a per-pair callable (the rule below),
  ``build()`` then its default ``save()`` (gzip-compressed, as bmtk writes);
* ``modelkit compat``: modelkit's ``NetworkBuilder`` with the *same* callable
  (the compatibility path: one Python call per pair), ``build()`` + ``save()``;
* ``modelkit vector``: modelkit with ``FixedProbability(0.1)`` (the vectorised path).

Each run is its own subprocess, so the peak RSS printed (``ru_maxrss`` of that
process) is the run's own; a builder's worker processes, if any, are reported
separately (``workers`` column: the largest worker's peak; modelkit forks them
for per-pair callables of a seeded build, see ``MODELKIT_BUILD_WORKERS``).  Time
runs from ``add_nodes`` to the end of ``save`` (imports excluded).  Edges are
synapses as each builder counts them (``nedges``: ``nsyns`` summed), checked
against p x pairs.  ``--repeats N`` runs every builder N times, alternating, and
reports each one's fastest run: on a shared VM the CPU speed drifts by 2x over
minutes, and the load average is printed for that reason.

**Scale** (``--scale``): 100,000 nodes in a column (radius 400 µm, height
1000 µm), one edge type with ``DistanceProbability`` (gaussian, p_max 1, σ 81 µm,
cutoff 2σ: about 2.8 candidate pairs per edge) giving about 10^8 edges, plus a
distance-dependent ``syn_weight`` (a ``@vectorized`` rule, float32) and a
constant ``delay``; prints build + save time, edges, peak RSS, then runs
``modelkit validate`` on the saved folder (timed separately, in its own process).
Smaller ``--nodes`` keep the density (the column narrows), so edges scale with nodes.

Usage::

    python benchmarks/bench_builder.py                  # 5,000 nodes, bmtk vs modelkit
    python benchmarks/bench_builder.py --quick          # 1,000 nodes (smoke run)
    python benchmarks/bench_builder.py --scale          # 100,000 nodes, ~10^8 edges
    python benchmarks/bench_builder.py --scale --quick  # 10,000 nodes, ~7x10^6 edges
    python benchmarks/bench_builder.py --nodes 20000 --dir /scratch --skip-bmtk

Targets (the issue): vectorised >= 50x bmtk's edges/s, compatibility path >= 5x;
scale: under 3 minutes and under 4 GiB peak RSS, and the result validates.
Exit status 1 when a run fails or the saved network does not validate, 2 with
``--strict`` when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from typing import Any

import _harness
import numpy as np
from _harness import fmt_row

SEED = 1
P = 0.1
E_FRACTION = 0.8
TARGET_VECTOR = 50.0
TARGET_COMPAT = 5.0
TARGET_SCALE_S = 180.0
TARGET_SCALE_GIB = 4.0

# The per-pair rule of bmtk's examples, the same source text for bmtk and modelkit's compatibility path.
RULE_SOURCE = '''
def rule(source, target, p):
    if source.node_id == target.node_id:
        return 0
    return 1 if np.random.random() < p else 0
'''

EDGE_TYPES = (("e", "e", 5.0e-5, 2.0, "AMPA_ExcToExc.json", "exp2syn"),
              ("e", "i", 1.0e-4, 2.0, "AMPA_ExcToInh.json", "exp2syn"),
              ("i", "e", 2.0e-4, 1.0, "GABA_InhToExc.json", "exp2syn"),
              ("i", "i", 2.0e-4, 1.0, "GABA_InhToInh.json", "exp2syn"))


def _rule() -> Any:
    ns: dict[str, Any] = {"np": np}
    exec(RULE_SOURCE, ns)
    return ns["rule"]


def column_positions(n: int, rng: np.random.Generator, radius: float, height: float) -> np.ndarray:
    """``n`` points uniformly in a vertical cylinder of ``radius`` and ``height`` (µm), axis along y."""
    r = radius * np.sqrt(rng.random(n))
    phi = 2 * np.pi * rng.random(n)
    return np.column_stack([r * np.cos(phi), height * rng.random(n), r * np.sin(phi)])


def peak_rss_mib() -> tuple[float, float]:
    """Peak RSS of this process and of its largest finished child (MiB)."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


# ------------------------------------------------------------ comparison children
def _add_nodes(net: Any, n: int) -> None:
    rng = np.random.default_rng(SEED)
    n_e = int(round(E_FRACTION * n))
    pos = column_positions(n, rng, 400.0, 800.0)
    net.add_nodes(N=n_e, positions=pos[:n_e], ei="e", pop_name="Exc", model_type="point_neuron",
                  model_template="nest:iaf_psc_alpha", dynamics_params="excitatory.json")
    net.add_nodes(N=n - n_e, positions=pos[n_e:], ei="i", pop_name="Inh", model_type="point_neuron",
                  model_template="nest:iaf_psc_alpha", dynamics_params="inhibitory.json")


def child_compare(mode: str, n: int, out: str) -> dict[str, Any]:
    if mode == "bmtk":
        from bmtk.builder import NetworkBuilder as BmtkBuilder
        np.random.seed(SEED)
        net = BmtkBuilder("v1")
    else:
        from modelkit.builder import FixedProbability, NetworkBuilder
        net = NetworkBuilder("v1", seed=SEED)
    rule = _rule()
    kids0 = peak_rss_mib()[1]  # processes started by the imports (not the builder's workers)
    t0 = time.perf_counter()
    _add_nodes(net, n)
    for src, tgt, w, d, dyn, tmpl in EDGE_TYPES:
        kw = dict(source={"ei": src}, target={"ei": tgt}, syn_weight=w, delay=d, dynamics_params=dyn,
                  model_template=tmpl)
        if mode == "vector":
            net.add_edges(connection_rule=FixedProbability(P), **kw)
        else:
            net.add_edges(connection_rule=rule, connection_params={"p": P}, **kw)
    net.build()
    t_build = time.perf_counter() - t0
    net.save(output_dir=out)
    total = time.perf_counter() - t0
    return {"edges": int(net.nedges), "seconds": total, "build_s": t_build, "kids0_mib": kids0}


# ------------------------------------------------------------------ scale child
#: nodes per µm^3 and connectivity of the scale run; the column grows with the node count
#: (same density, so about 1000 synapses per node at any size)
SCALE_RADIUS_100K = 400.0
SCALE_HEIGHT = 1000.0
SCALE_P_MAX = 1.0
SCALE_SIGMA = 81.0
SCALE_CUTOFF = 2.0 * SCALE_SIGMA


def child_scale(n: int, out: str) -> dict[str, Any]:
    from modelkit.builder import DistanceProbability, NetworkBuilder, vectorized

    @vectorized
    def weight_by_distance(sources: Any, targets: Any, rng: Any, w0: float = 1e-4, scale: float = 100.0) -> Any:
        d = np.linalg.norm(sources.positions - targets.positions, axis=1)
        return w0 * np.exp(-d / scale)

    rng = np.random.default_rng(SEED)
    radius = SCALE_RADIUS_100K * np.sqrt(n / 100_000)
    kids0 = peak_rss_mib()[1]
    t0 = time.perf_counter()
    net = NetworkBuilder("v1", seed=SEED)
    n_e = int(round(E_FRACTION * n))
    pos = column_positions(n, rng, radius, SCALE_HEIGHT)
    net.add_nodes(N=n_e, positions=pos[:n_e], ei="e", model_type="point_neuron",
                  model_template="nest:iaf_psc_alpha", dynamics_params="excitatory.json")
    net.add_nodes(N=n - n_e, positions=pos[n_e:], ei="i", model_type="point_neuron",
                  model_template="nest:iaf_psc_alpha", dynamics_params="inhibitory.json")
    cm = net.add_edges(connection_rule=DistanceProbability(p_max=SCALE_P_MAX, sigma=SCALE_SIGMA,
                                                           cutoff=SCALE_CUTOFF),
                       delay=1.5, dynamics_params="AMPA_ExcToExc.json", model_template="exp2syn")
    cm.add_properties("syn_weight", rule=weight_by_distance, rule_params={"w0": 1e-4, "scale": 100.0},
                      dtypes=np.float32)
    net.build()
    t_build = time.perf_counter() - t0
    net.save(output_dir=out)
    total = time.perf_counter() - t0
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    return {"edges": int(net.nedges), "seconds": total, "build_s": t_build, "bytes": size, "kids0_mib": kids0}


def child_validate(out: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "modelkit", "validate", out], capture_output=True, text=True)
    return {"seconds": time.perf_counter() - t0, "rc": r.returncode, "output": (r.stdout + r.stderr).strip()}


def run_child(args: argparse.Namespace) -> int:
    if args.child == "scale":
        res = child_scale(args.nodes, args.out)
    else:
        res = child_compare(args.child, args.nodes, args.out)
    res["peak_mib"], kids = peak_rss_mib()
    res["workers_mib"] = kids if kids > res.pop("kids0_mib") else 0.0
    with open(args.result, "w") as f:
        json.dump(res, f)
    return 0


# ------------------------------------------------------------------ parent
def spawn(mode: str, n: int, out: str, workdir: str) -> dict[str, Any]:
    r = _harness.spawn(__file__, mode, workdir, mode, ["--nodes", str(n), "--out", out], capture=False)
    if "total" in r:
        r["wall_s"] = r.pop("total")
    return r


def compare(args: argparse.Namespace, workdir: str) -> int:
    n = args.nodes or (1000 if args.quick else 5000)
    modes = (["bmtk"] if not args.skip_bmtk else []) + ["compat", "vector"]
    names = {"bmtk": "bmtk (per-pair callable)", "compat": "modelkit compat (same callable)",
             "vector": "modelkit vector (FixedProbability)"}
    workers = os.environ.get("MODELKIT_BUILD_WORKERS", "default")
    print(f"# {n:,} nodes ({E_FRACTION:.0%} e / {1 - E_FRACTION:.0%} i, column), 4 edge types p={P}, "
          f"build + save, each run its own process, best of {args.repeats}; {os.cpu_count()} CPUs, "
          f"MODELKIT_BUILD_WORKERS={workers}, load {os.getloadavg()[0]:.2f}", flush=True)
    res: dict[str, dict[str, Any]] = {}
    for _rep in range(args.repeats):
        for m in modes:
            out = os.path.join(workdir, m)
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            r = spawn(m, n, out, workdir)
            if "error" in r:
                print(f"{names[m]}: failed ({r['error']})", flush=True)
                res[m] = r
                continue
            print(f"{names[m]}: {r['edges']:,} edges in {r['seconds']:.2f} s, peak RSS {r['peak_mib']:,.0f} MiB",
                  flush=True)
            if m not in res or ("error" not in res[m] and r["seconds"] < res[m]["seconds"]):
                res[m] = r
    base = res.get("bmtk")
    base_rate = base["edges"] / base["seconds"] if base and "error" not in base else None
    head = ["run", "edges", "seconds", "edges/s", "peak RSS MiB", "workers MiB", "x bmtk edges/s"]
    rows = []
    for m in modes:
        r = res[m]
        if "error" in r:
            rows.append([names[m], "failed", "", "", "", "", ""])
            continue
        rate = r["edges"] / r["seconds"]
        ratio = f"{rate / base_rate:.1f}x" if base_rate else "-"
        rows.append([names[m], f"{r['edges']:,}", f"{r['seconds']:.2f}", f"{rate:,.0f}", f"{r['peak_mib']:,.0f}",
                     f"{r['workers_mib']:,.0f}" if r["workers_mib"] > 1 else "-", ratio])
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(head)]
    print()
    print(fmt_row(head, widths))
    for r in rows:
        print(fmt_row(r, widths))
    print()
    expected = P * n * (n - 1)  # pairs without self-pairs, times p
    for m in modes:
        r = res[m]
        if "error" not in r:
            dev = (r["edges"] - expected) / np.sqrt(expected * (1 - P))
            print(f"{names[m]}: {r['edges']:,} edges, {dev:+.1f} sd from the expected {expected:,.0f}")
            if abs(dev) > 6:
                r["error"] = "edge count far from p x pairs"
                print(f"  {names[m]}: edge count far from the expected one")
    failed = any("error" in r for r in res.values())
    missed = False
    if base_rate:
        if base and "error" not in base and base.get("peak_mib"):
            for m in ("compat", "vector"):
                r = res[m]
                if "error" not in r:
                    print(f"peak RSS {names[m]} / bmtk: {r['peak_mib'] / base['peak_mib']:.2f}")
        for m, target in (("vector", TARGET_VECTOR), ("compat", TARGET_COMPAT)):
            r = res[m]
            if "error" in r:
                continue
            ratio = r["edges"] / r["seconds"] / base_rate
            ok = ratio >= target
            missed |= not ok
            print(f"target {names[m]} >= {target:g}x bmtk's edges/s: {ratio:.1f}x -> target met: "
                  f"{'yes' if ok else 'NO'}")
    else:
        print("(no bmtk run: no ratios)")
    return 1 if failed else (2 if missed and args.strict else 0)


def scale(args: argparse.Namespace, workdir: str) -> int:
    n = args.nodes or (10_000 if args.quick else 100_000)
    out = os.path.join(workdir, "scale")
    os.makedirs(out, exist_ok=True)
    print(f"# scale: {n:,} nodes in a column, DistanceProbability(p_max={SCALE_P_MAX}, sigma={SCALE_SIGMA:g}, "
          f"cutoff={SCALE_CUTOFF:g}) + @vectorized syn_weight(distance); {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    r = spawn("scale", n, out, workdir)
    if "error" in r:
        print(f"scale run failed ({r['error']})")
        return 1
    v = child_validate(out)
    gib = r["peak_mib"] / 1024
    head = ["run", "nodes", "edges", "build s", "build+save s", "edges/s", "peak RSS GiB", "file GiB",
            "validate s"]
    row = ["modelkit scale", f"{n:,}", f"{r['edges']:,}", f"{r['build_s']:.1f}", f"{r['seconds']:.1f}",
           f"{r['edges'] / r['seconds']:,.0f}", f"{gib:.2f}", f"{r['bytes'] / 2**30:.2f}", f"{v['seconds']:.1f}"]
    widths = [max(len(h), len(c)) for h, c in zip(head, row)]
    print()
    print(fmt_row(head, widths))
    print(fmt_row(row, widths))
    print()
    print(f"modelkit validate: exit status {v['rc']}" + (f"\n{v['output']}" if v["output"] else ""))
    ok_t = r["seconds"] < TARGET_SCALE_S
    ok_m = gib < TARGET_SCALE_GIB
    print(f"target built and saved in < {TARGET_SCALE_S:g} s: {r['seconds']:.1f} s -> target met: "
          f"{'yes' if ok_t else 'NO'}")
    print(f"target peak RSS < {TARGET_SCALE_GIB:g} GiB: {gib:.2f} GiB -> target met: {'yes' if ok_m else 'NO'}")
    print(f"target validates: {'yes' if v['rc'] == 0 else 'NO'}")
    if v["rc"] != 0:
        return 1
    return 2 if args.strict and not (ok_t and ok_m) else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=None, help="nodes (default 5,000; --scale: 100,000)")
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--scale", action="store_true", help="the 10^8-edge scale run")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the files written")
    ap.add_argument("--skip-bmtk", action="store_true", help="modelkit only (no ratios)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each builder; the fastest is reported")
    ap.add_argument("--strict", action="store_true", help="exit status 2 when a target is missed")
    ap.add_argument("--child", choices=("bmtk", "compat", "vector", "scale"), help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return run_child(args)
    with _harness.scratch("bench_builder-", args.dir, args.keep) as workdir:
        return scale(args, workdir) if args.scale else compare(args, workdir)


if __name__ == "__main__":
    sys.exit(main())
