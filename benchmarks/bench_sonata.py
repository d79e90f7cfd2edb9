#!/usr/bin/env python
"""modelkit vs libsonata vs bmtk on the same SONATA edge work, in one run.

1. **write** an edge population (sorted by target, random sources, a few edge
   types, one float column ``syn_weight``) with both indices:
   modelkit ``write_edges``; libsonata: the same datasets with h5py, then
   ``libsonata.EdgePopulation.write_indices``; bmtk: the same datasets with h5py,
   then the builder's ``bmtk.builder.index_builders.create_index_in_memory`` for
   ``target`` and ``source`` (what ``NetworkBuilder.save_edges`` calls; run with
   ``compression=None`` since the other two write uncompressed).
2. **bulk read** of every source and target id of modelkit's file.
3. **afferent queries** of random nodes in modelkit's file (plus the efferent
   direction and the source ids of the afferent edges).

Every reader reads the file modelkit wrote; results are checked against each
other and against the generated arrays while timing (libsonata opening
modelkit's file, index datasets identical to the ones libsonata writes, bmtk's
index giving the same edges).  Times are medians of ``--repeats`` runs (writes:
after one untimed warm-up round, tools taking turns).  Before each timed write
the page cache is flushed with ``os.sync()`` so that one run's writeback does
not throttle the next, then the tool's previous file is deleted; writes land in
the page cache (no fsync).  The machine's load average is printed: other
processes competing for the CPUs inflate every figure, and in a VM that hands
free memory back to its host, memory first touched after an idle gap is slow
(an 80 MB array can take 0.05-0.7 s to fault in), which the warm-up and the
order above keep out of the comparison as far as possible.

Usage::

    python benchmarks/bench_sonata.py             # 10^7 edges, 10^5 nodes
    python benchmarks/bench_sonata.py --quick     # 10^6 edges (smoke run)
    python benchmarks/bench_sonata.py --edges 30000000 --dir /scratch

Exit status 1 when a correctness check fails, 2 with ``--strict`` when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

POP = "v1_to_v1"
NODES = "v1"
EDGE_TYPES = (100, 101, 102, 103)


# ------------------------------------------------------------------ data
def make_edges(n_edges: int, n_nodes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Edges as a builder produces them: sorted by target, random sources, a few edge types."""
    rng = np.random.default_rng(seed)
    tgt = np.sort(rng.integers(0, n_nodes, n_edges, dtype=np.int64))
    src = rng.integers(0, n_nodes, n_edges, dtype=np.int64)
    etype = np.asarray(EDGE_TYPES, dtype=np.int64)[rng.integers(0, len(EDGE_TYPES), n_edges)]
    weight = rng.lognormal(-3.0, 0.5, n_edges)
    return {"source": src, "target": tgt, "edge_type": etype, "syn_weight": weight}


def write_types_csv(path: str) -> None:
    """Edge types table (bmtk's reader needs one)."""
    with open(path, "w") as f:
        f.write("edge_type_id model_template dynamics_params\n")
        for t in EDGE_TYPES:
            f.write(f"{t} exp2syn AMPA_ExcToExc.json\n")


# --------------------------------------------------------------- writers
def write_modelkit(path: str, d: dict[str, np.ndarray], n_nodes: int) -> None:
    from modelkit.sonata import EdgePopulationData, write_edges

    data = EdgePopulationData.from_columns(POP, NODES, NODES, d["source"], d["target"], d["edge_type"],
                                           {"syn_weight": d["syn_weight"]},
                                           source_node_count=n_nodes, target_node_count=n_nodes)
    write_edges(path, [data], overwrite=True)


def write_datasets_h5py(path: str, d: dict[str, np.ndarray]) -> None:
    """The population datasets modelkit writes (same dtypes), without indices."""
    e = len(d["source"])
    with h5py.File(path, "w") as f:
        f.attrs.create("version", np.array([0, 1], dtype=np.uint32))
        f.attrs.create("magic", 0x0A7A, dtype=np.uint32)
        g = f.create_group(f"edges/{POP}")
        for name in ("source", "target"):
            ds = g.create_dataset(f"{name}_node_id", data=d[name].view(np.uint64))
            ds.attrs.create("node_population", NODES, dtype=h5py.string_dtype("utf-8"))
        g.create_dataset("edge_type_id", data=d["edge_type"].astype(np.uint32))
        g.create_dataset("edge_group_id", data=np.zeros(e, dtype=np.uint32))
        g.create_dataset("edge_group_index", data=np.arange(e, dtype=np.uint64))
        g.create_dataset("0/syn_weight", data=d["syn_weight"])


def write_libsonata(path: str, d: dict[str, np.ndarray], n_nodes: int) -> None:
    import libsonata

    write_datasets_h5py(path, d)
    libsonata.EdgePopulation.write_indices(path, POP, n_nodes, n_nodes)


def write_bmtk(path: str, d: dict[str, np.ndarray], n_nodes: int) -> None:
    from bmtk.builder.index_builders import create_index_in_memory

    write_datasets_h5py(path, d)
    for index_type in ("target", "source"):  # NetworkBuilder's default index_by order
        create_index_in_memory(path, f"/edges/{POP}", index_type, compression=None)


# ------------------------------------------------------------------ timing
def timed(fn: Callable[[], Any], repeats: int, before: Callable[[], None] | None = None) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls (``before`` runs untimed ahead of each) and the last result."""
    times, out = [], None
    for _ in range(repeats):
        if before is not None:
            before()
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


class Checks:
    """Collects correctness results; a failure is printed and makes the run exit 1."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0

    def __call__(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            print(f"  CHECK FAILED: {what}", flush=True)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------- phases
def bench_write(args: argparse.Namespace, d: dict[str, np.ndarray], work: str, check: Checks) -> dict[str, Any]:
    n = args.nodes
    paths = {k: os.path.join(work, f"{k}.h5") for k in ("modelkit", "libsonata", "bmtk")}
    writers = {"modelkit": write_modelkit, "libsonata": write_libsonata, "bmtk": write_bmtk}
    times: dict[str, list[float]] = {k: [] for k in writers}

    def fresh(p: str) -> None:
        # flush everyone's dirty pages first, then free this tool's previous file right before it
        # writes again: in a VM whose free memory is handed back to the host, pages freed seconds
        # earlier are slow to fault in again, which would make timings depend on idle gaps
        os.sync()
        if os.path.exists(p):
            os.remove(p)

    # one untimed round first: the first large allocations of a process (and of a VM) are slow
    for rnd in range(args.write_repeats + 1):
        for k, w in writers.items():
            gc.collect()
            fresh(paths[k])
            t0 = time.perf_counter()
            w(paths[k], d, n)
            dt = time.perf_counter() - t0
            if rnd:
                times[k].append(dt)
            _log(f"  write {k:9s} round {rnd}{' (warm-up)' if not rnd else ''}: {dt:.3f} s")
    out: dict[str, Any] = {k: statistics.median(v) for k, v in times.items()}
    out["best"] = {k: min(v) for k, v in times.items()}
    out["sizes"] = {k: os.path.getsize(p) for k, p in paths.items()}
    out["paths"] = paths

    # modelkit's datasets and indices are exactly libsonata's (index built by libsonata itself)
    with h5py.File(paths["modelkit"], "r") as a, h5py.File(paths["libsonata"], "r") as b:
        ga, gb = a[f"edges/{POP}"], b[f"edges/{POP}"]
        for name in ("source_node_id", "target_node_id", "edge_type_id", "edge_group_id", "edge_group_index",
                     "0/syn_weight"):
            check(ga[name].dtype == gb[name].dtype and np.array_equal(ga[name][()], gb[name][()]),
                  f"dataset {name} equals the h5py-written one")
        for nm in ("source_node_id", "target_node_id"):
            v = ga[nm].attrs.get("node_population")
            check((v.decode() if isinstance(v, bytes) else v) == NODES, f"{nm}@node_population")
        for direction in ("source_to_target", "target_to_source"):
            for name in ("node_id_to_ranges", "range_to_edge_id"):
                x, y = ga[f"indices/{direction}/{name}"], gb[f"indices/{direction}/{name}"]
                check(x.dtype == np.uint64 and x.shape == y.shape and np.array_equal(x[()], y[()]),
                      f"indices/{direction}/{name} identical to libsonata.write_indices'")
    return out


def bench_bulk(args: argparse.Namespace, d: dict[str, np.ndarray], path: str, csv: str,
               check: Checks) -> dict[str, float]:
    import bmtk.utils.sonata
    import libsonata

    from modelkit.sonata import EdgePopulation

    e = len(d["source"])
    mk = EdgePopulation(path, POP)
    mk.size  # noqa: B018 - open the file and read the layout before timing
    ls = libsonata.EdgeStorage(path).open_population(POP)
    bm = bmtk.utils.sonata.File(path, csv).edges[POP]

    def run_mk() -> tuple[np.ndarray, np.ndarray]:
        return mk.source_ids(), mk.target_ids()

    def run_ls() -> tuple[np.ndarray, np.ndarray]:
        sel = libsonata.Selection([(0, e)])
        return ls.source_nodes(sel), ls.target_nodes(sel)

    def run_bm() -> tuple[np.ndarray, np.ndarray]:
        grp = bm.get_group(0)
        return grp.src_node_ids, grp.trg_node_ids

    res, out = {}, {}
    for k, fn in (("modelkit", run_mk), ("libsonata", run_ls), ("bmtk", run_bm)):
        res[k], out[k] = timed(fn, args.repeats)
        _log(f"  bulk read {k:9s}: {res[k]:.4f} s")
    for k, (s, t) in out.items():
        check(np.array_equal(s, d["source"]) and np.array_equal(t, d["target"]), f"{k} bulk ids equal the data")
    check(out["modelkit"][0].dtype == np.int64, "modelkit ids are int64")
    return res


def bench_queries(args: argparse.Namespace, d: dict[str, np.ndarray], paths: dict[str, str], csv: str,
                  check: Checks) -> dict[str, Any]:
    import bmtk.utils.sonata
    import libsonata

    from modelkit.sonata import EdgePopulation

    path = paths["modelkit"]
    src, tgt = d["source"], d["target"]
    nodes = np.random.default_rng(args.seed + 1).integers(0, args.nodes, args.queries).tolist()
    mk = EdgePopulation(path, POP)
    ls = libsonata.EdgeStorage(path).open_population(POP)
    bm = bmtk.utils.sonata.File(path, csv).edges[POP]

    # first query of each direction loads node_id_to_ranges (and a small range_to_edge_id) once
    t0 = time.perf_counter()
    mk.afferent_edges(0)
    first_aff = time.perf_counter() - t0
    t0 = time.perf_counter()
    mk.efferent_edges(0)
    first_eff = time.perf_counter() - t0
    ls.afferent_edges(0)
    ls.efferent_edges(0)

    def loop(fn: Callable[[int], Any]) -> Callable[[], list]:
        return lambda: [fn(n) for n in nodes]

    res: dict[str, Any] = {"first_aff": first_aff, "first_eff": first_eff, "nodes": nodes}
    rows = {
        "afferent_edges": {
            "modelkit": loop(mk.afferent_edges), "libsonata": loop(ls.afferent_edges),
            "bmtk": loop(lambda n: list(bm.get_target(n)))},
        "afferent_sources": {
            "modelkit": loop(lambda n: mk.afferent_nodes(n, unique=False)),
            "libsonata": loop(lambda n: ls.source_nodes(ls.afferent_edges(n))),
            "bmtk": loop(lambda n: [e.source_node_id for e in bm.get_target(n)])},
        "efferent_edges": {
            "modelkit": loop(mk.efferent_edges), "libsonata": loop(ls.efferent_edges)},
    }
    outs: dict[str, dict[str, list]] = {}
    for row, fns in rows.items():
        res[row], outs[row] = {}, {}
        for k, fn in fns.items():
            reps = args.repeats if k != "bmtk" else 1  # bmtk reads edge by edge: one round is enough
            res[row][k], outs[row][k] = timed(fn, reps)
            _log(f"  {row:16s} {k:9s}: {res[row][k]:.4f} s for {len(nodes)} queries")

    # reference from the arrays: targets are sorted; sources through an independent stable argsort
    by_src = np.argsort(src, kind="stable")
    src_sorted = src[by_src]
    ok = {"aff_mk": True, "aff_ls": True, "eff_mk": True, "eff_ls": True, "src": True, "bmtk": True}
    for i, n in enumerate(nodes):
        lo, hi = np.searchsorted(tgt, n, "left"), np.searchsorted(tgt, n, "right")
        ref = [[int(lo), int(hi)]] if hi > lo else []
        ok["aff_mk"] &= outs["afferent_edges"]["modelkit"][i].ranges.tolist() == ref
        ok["aff_ls"] &= [list(r) for r in outs["afferent_edges"]["libsonata"][i].ranges] == ref
        ref_src = sorted(src[lo:hi].tolist())
        ok["src"] &= sorted(outs["afferent_sources"]["modelkit"][i].tolist()) == ref_src and \
            sorted(outs["afferent_sources"]["libsonata"][i].tolist()) == ref_src
        ok["bmtk"] &= sorted(int(v) for v in outs["afferent_sources"]["bmtk"][i]) == ref_src and \
            len(outs["afferent_edges"]["bmtk"][i]) == hi - lo
        a, b = np.searchsorted(src_sorted, n, "left"), np.searchsorted(src_sorted, n, "right")
        ref_eff = by_src[a:b]
        ok["eff_mk"] &= np.array_equal(outs["efferent_edges"]["modelkit"][i].flat, ref_eff)
        ok["eff_ls"] &= np.array_equal(np.asarray(outs["efferent_edges"]["libsonata"][i].flatten()), ref_eff)
    check(ok["aff_mk"], "modelkit afferent_edges equal brute force")
    check(ok["aff_ls"], "libsonata afferent_edges on modelkit's file equal brute force")
    check(ok["eff_mk"], "modelkit efferent_edges equal brute force")
    check(ok["eff_ls"], "libsonata efferent_edges on modelkit's file equal brute force")
    check(ok["src"], "afferent source ids (modelkit, libsonata) equal brute force")
    check(ok["bmtk"], "bmtk get_target on modelkit's file equals brute force")

    # bmtk's own index (range order within a node may differ) gives the same edges, read by modelkit
    mk_b = EdgePopulation(paths["bmtk"], POP)
    same = all(np.array_equal(mk_b.afferent_edges(n).flat, mk.afferent_edges(n).flat) and
               np.array_equal(mk_b.efferent_edges(n).flat, mk.efferent_edges(n).flat) for n in nodes[:200])
    check(same, "bmtk-written index gives the same afferent/efferent edges")
    for p in (mk, mk_b):
        p.close()
    return res


# ---------------------------------------------------------------- report
def _fmt_t(t: float | None) -> str:
    return "n/a" if t is None else f"{t:.4f}" if t < 10 else f"{t:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def report(args: argparse.Namespace, w: dict[str, Any], bulk: dict[str, float], q: dict[str, Any]) -> bool:
    e, nq = args.edges, args.queries
    rows: list[tuple[str, float | None, float | None, float | None, str, bool | None]] = []
    rate = e / w["modelkit"]
    rows.append((f"write {e:,} edges + both indices", w["modelkit"], w["libsonata"], w["bmtk"],
                 f">= 20 M edges/s: {rate / 1e6:.1f} M/s", rate >= 20e6))
    rows.append((f"bulk read {e:,} source + target ids", bulk["modelkit"], bulk["libsonata"], bulk["bmtk"],
                 f"<= 1.5x libsonata: {bulk['modelkit'] / bulk['libsonata']:.2f}x",
                 bulk["modelkit"] <= 1.5 * bulk["libsonata"]))
    per_q = q["afferent_edges"]["modelkit"] / nq
    rows.append((f"{nq:,} afferent_edges queries", q["afferent_edges"]["modelkit"],
                 q["afferent_edges"]["libsonata"], q["afferent_edges"]["bmtk"],
                 f"< 1 ms/query: {per_q * 1e3:.3f} ms", per_q < 1e-3))
    rows.append((f"{nq:,} afferent source-id queries", q["afferent_sources"]["modelkit"],
                 q["afferent_sources"]["libsonata"], q["afferent_sources"]["bmtk"],
                 f"({q['afferent_sources']['modelkit'] / nq * 1e3:.3f} ms/query)", None))
    rows.append((f"{nq:,} efferent_edges queries", q["efferent_edges"]["modelkit"],
                 q["efferent_edges"]["libsonata"], None,
                 f"({q['efferent_edges']['modelkit'] / nq * 1e3:.3f} ms/query)", None))
    head = ("operation", "modelkit s", "libsonata s", "bmtk s", "mk/ls", "mk/bmtk", "target", "met")
    table = [head] + [(r[0], _fmt_t(r[1]), _fmt_t(r[2]), _fmt_t(r[3]), _ratio(r[1], r[2]), _ratio(r[1], r[3]), r[4],
                       "" if r[5] is None else "yes" if r[5] else "NO") for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    print()
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(widths[j]) if j in (0, 6, 7) else str(c).rjust(widths[j])
                        for j, c in enumerate(row)).rstrip())
        if i == 0:
            print("  ".join("-" * wd for wd in widths))
    print()
    tools = ("modelkit", "libsonata", "bmtk")
    print("write rates (median / best run): " + ", ".join(
        f"{k} {e / w[k] / 1e6:.1f} / {e / w['best'][k] / 1e6:.1f} M edges/s" for k in tools)
        + "; file sizes: " + ", ".join(f"{k} {w['sizes'][k] / 2**20:.0f} MiB" for k in tools))
    print(f"first query (loads node_id_to_ranges): afferent {q['first_aff'] * 1e3:.1f} ms, "
          f"efferent {q['first_eff'] * 1e3:.1f} ms")
    print("mk/ls, mk/bmtk: modelkit time / peer time (below 1 = modelkit faster); medians of "
          f"{args.write_repeats} writes, {args.repeats} reads/query rounds (bmtk queries: 1 round)")
    return all(r[5] is not False for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=10**7, help="edges in the population (default 10^7)")
    ap.add_argument("--nodes", type=int, default=10**5, help="nodes in the (source = target) population (10^5)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10^6 edges, fewer repeats")
    ap.add_argument("--dir", default=None, help="where to write the files (default: a new dir under /tmp)")
    ap.add_argument("--queries", type=int, default=1000, help="afferent/efferent queries (default 1000)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds of reads/queries (default 5, quick 3)")
    ap.add_argument("--write-repeats", type=int, default=None, help="timed write rounds per tool (default 3, quick 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the written files")
    ap.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    args = ap.parse_args(argv)
    if args.quick:
        args.edges = min(args.edges, 10**6)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.write_repeats = args.write_repeats or (2 if args.quick else 3)
    if args.edges < 1 or args.nodes < 1 or args.queries < 1:
        ap.error("--edges, --nodes and --queries must be positive")

    import bmtk
    import libsonata  # noqa: F401

    import modelkit

    base = args.dir or "/tmp"
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench_sonata.", dir=base)
    load0 = os.getloadavg()
    print(f"bench_sonata: {args.edges:,} edges, {args.nodes:,} nodes, {args.queries:,} queries; dir {work}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, h5py {h5py.__version__} "
          f"(HDF5 {h5py.version.hdf5_version}), modelkit {getattr(modelkit, '__version__', '?')}, "
          f"bmtk {bmtk.__version__}, libsonata {_dist_version('libsonata')}; {os.cpu_count()} CPUs, "
          f"load average {load0[0]:.2f}", flush=True)
    check = Checks()
    try:
        _log("generating edges ...")
        d = make_edges(args.edges, args.nodes, args.seed)
        csv = os.path.join(work, "edge_types.csv")
        write_types_csv(csv)
        _log("write ...")
        w = bench_write(args, d, work, check)
        _log("bulk read ...")
        bulk = bench_bulk(args, d, w["paths"]["modelkit"], csv, check)
        _log("queries ...")
        q = bench_queries(args, d, w["paths"], csv, check)
        met = report(args, w, bulk, q)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    load1 = os.getloadavg()
    print(f"load average during the run: {load0[0]:.2f} at start, {load1[0]:.2f} at end "
          f"(above ~{max(0, (os.cpu_count() or 1) - 1)} means other processes competed for the CPUs)")
    print(f"correctness: {check.passed} checks passed, {len(check.failed)} failed" +
          (": " + "; ".join(check.failed) if check.failed else ""))
    if check.failed:
        return 1
    return 2 if args.strict and not met else 0


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
