#!/usr/bin/env python
"""modelkit's NEST backend vs bmtk's PointNet vs a hand-written NEST script, in one run.

Two networks, each simulated by three programs reading the *same* files (one
SONATA config with absolute paths, written into a temporary folder; outputs go
there too, never next to the inputs):

* ``20k``: 20,000 point neurons (``nest:iaf_psc_delta``, 80 % excitatory,
  20 % inhibitory), each connected to every other with probability
  ``--indegree / --nodes`` (1000 / 20,000, about 2x10^7 recurrent edges, edge-type
  ``syn_weight`` / ``delay``, ``static_synapse``), driven by 2,000 virtual input
  nodes (Poisson spikes in a SONATA spike file, 100 inputs per neuron), built
  with modelkit's ``NetworkBuilder`` and saved; 1000 ms at dt = 0.1 ms,
  spikes recorded;
* ``point_120cells``: bmtk's example from the shared corpus (read in place,
  read-only): 3000 ms at dt = 0.001 ms, thalamic spike input, a ``V_m``
  report of 5 cells at every step.

Programs (each run is its own subprocess, so the peak RSS printed, the child's
``ru_maxrss``, is its own):

* ``modelkit``: ``modelkit.simulator.simulate(config, output_dir=...)``;
  setup = ``RunResult.timings`` ``load`` + ``build`` (network opened, cells
  created, edges connected, inputs connected), simulate = ``run``;
* ``bmtk``: ``PointNetwork.from_config`` + ``PointSimulator.from_config`` + the
  modules' ``initialize`` (bmtk creates its spike generators and connects them
  inside ``sim.run()``; that part is counted as setup), simulate = the rest of
  ``sim.run()``;
* ``hand``: a NEST script written for these files (h5py + pandas, one
  ``nest.Create`` per node type, one array ``nest.Connect`` per edge type,
  spike generators, a spike recorder, the multimeter of the config's report,
  spikes and the report written with h5py) — what a NEST user would write
  without a framework.

``total`` is the wall time of the whole subprocess (interpreter start, imports,
output files included), as the parent sees it.  ``--repeats N`` runs every
program N times, taking turns, and keeps each one's fastest run: the machine is
shared, and its load average is printed.

Spikes: modelkit and the hand script must agree spike for spike (same cells, same
inputs, same NEST); bmtk's count is printed and, where it differs, how much.
Threads: modelkit runs both networks with 1 and with 2 NEST threads: the measurement
behind its default (1 thread below 10^4 cells, the free cores above).

Usage::

    python benchmarks/bench_nest.py               # 20k network + point_120cells
    python benchmarks/bench_nest.py --quick       # 2,000 neurons, 300 ms; point_120cells cut to 300 ms
    python benchmarks/bench_nest.py --repeats 2 --dir /scratch --keep

Targets (the issue): setup >= 3x faster than bmtk's; total <= 1.05x the
hand-written script's; peak RSS <= bmtk's.  Exit status 1 when a run fails, the
spikes of modelkit and the hand script differ, or (full size only) a target is
missed; with ``--quick`` targets are printed for information.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import Any

import _harness
import numpy as np
from _harness import peak_rss_mib, print_table

SEED = 1
CORPUS = os.environ.get("MODELKIT_CORPUS", "/work/shared/sonata/corpus")
P120 = os.path.join(CORPUS, "bmtk/examples/point_120cells")
P120_COMPONENTS = os.path.join(CORPUS, "bmtk/examples/point_components")

TARGET_SETUP = 3.0    # bmtk setup / modelkit setup >=
TARGET_TOTAL = 1.05   # modelkit total / hand total <=
TARGET_RSS = 1.0      # modelkit peak RSS / bmtk peak RSS <=

# the 20k network: Brunel-like balance with delta synapses (mV)
E_FRACTION = 0.8
J_EXC = 0.1
G_INH = 10.0
J_IN = 0.75
DELAY = 1.5
N_INPUT = 2000
K_INPUT = 100
RATE_INPUT = 20.0  # Hz
CELL_PARAMS = {"C_m": 250.0, "tau_m": 20.0, "t_ref": 2.0, "E_L": -70.0, "V_reset": -70.0, "V_th": -50.0,
               "V_m": -70.0}


# ------------------------------------------------------------------ the 20k network
def build_network(out: str, n: int, k: int, tstop: float, dt: float) -> dict[str, Any]:
    """Build and save the network, its input spikes, components and config; returns facts about it."""
    from modelkit.builder import FixedProbability, NetworkBuilder
    from modelkit.simulator.poisson import PoissonSpikeGenerator

    t0 = time.perf_counter()
    net_dir, comp = os.path.join(out, "network"), os.path.join(out, "components")
    cells, syns = os.path.join(comp, "cell_models"), os.path.join(comp, "synaptic_models")
    for d in (net_dir, cells, syns):
        os.makedirs(d, exist_ok=True)
    for name, extra in (("exc.json", {}), ("inh.json", {})):
        with open(os.path.join(cells, name), "w") as f:
            json.dump({**CELL_PARAMS, **extra}, f)
    for name in ("e2all.json", "i2all.json", "input.json"):
        with open(os.path.join(syns, name), "w") as f:
            json.dump({}, f)
    p = k / n
    v1 = NetworkBuilder("v1", seed=SEED)
    n_e = int(round(E_FRACTION * n))
    v1.add_nodes(N=n_e, ei="e", pop_name="Exc", model_type="point_neuron", model_template="nest:iaf_psc_delta",
                 dynamics_params="exc.json")
    v1.add_nodes(N=n - n_e, ei="i", pop_name="Inh", model_type="point_neuron", model_template="nest:iaf_psc_delta",
                 dynamics_params="inh.json")
    v1.add_edges(source={"ei": "e"}, connection_rule=FixedProbability(p), syn_weight=J_EXC, delay=DELAY,
                 dynamics_params="e2all.json", model_template="static_synapse")
    v1.add_edges(source={"ei": "i"}, connection_rule=FixedProbability(p), syn_weight=-G_INH * J_EXC, delay=DELAY,
                 dynamics_params="i2all.json", model_template="static_synapse")
    v1.build()
    v1.save(output_dir=net_dir)
    lgn = NetworkBuilder("lgn", seed=SEED + 1)
    n_in = max(K_INPUT, int(round(N_INPUT * n / 20_000)))
    lgn.add_nodes(N=n_in, model_type="virtual", pop_name="lgn", ei="e")
    lgn.add_edges(source=lgn.nodes(), target=v1.nodes(), connection_rule=FixedProbability(K_INPUT / n_in),
                  syn_weight=J_IN, delay=DELAY, dynamics_params="input.json", model_template="static_synapse")
    lgn.build()
    lgn.save(output_dir=net_dir)
    psg = PoissonSpikeGenerator(population="lgn", seed=SEED)
    psg.add(node_ids=range(n_in), firing_rate=RATE_INPUT, times=(0.0, tstop / 1000.0))
    spikes = os.path.join(out, "inputs", "lgn_spikes.h5")
    os.makedirs(os.path.dirname(spikes), exist_ok=True)
    psg.to_sonata(spikes)
    files = sorted(os.listdir(net_dir))

    def net_file(kind: str, stem: str) -> str:
        name = f"{stem}_{kind}"
        hit = [f for f in files if f.startswith(name)]
        if not hit:
            raise RuntimeError(f"no {name}* in {net_dir}: {files}")
        return os.path.join(net_dir, hit[0])
    networks = {
        "nodes": [{"nodes_file": net_file("nodes.h5", s), "node_types_file": net_file("node_types.csv", s)}
                  for s in ("v1", "lgn")],
        "edges": [{"edges_file": net_file("edges.h5", s), "edge_types_file": net_file("edge_types.csv", s)}
                  for s in ("v1_v1", "lgn_v1")],
    }
    cfg = {
        "target_simulator": "NEST",
        "run": {"tstart": 0.0, "tstop": tstop, "dt": dt},
        "components": {"point_neuron_models_dir": cells, "synaptic_models_dir": syns},
        "networks": networks,
        "inputs": {"lgn_spikes": {"input_type": "spikes", "module": "sonata", "input_file": spikes,
                                  "node_set": "lgn"}},
        "reports": {},
        "output": {"output_dir": os.path.join(out, "output"), "spikes_file": "spikes.h5", "log_file": "log.txt",
                   "overwrite_output_dir": True, "quiet_simulator": True},
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return {"edges": int(v1.nedges), "input_edges": int(lgn.nedges), "seconds": time.perf_counter() - t0}


def p120_config(out: str, tstop: float | None) -> None:
    """bmtk's point_120cells as one config with absolute paths (inputs read in place, outputs into ``out``)."""
    with open(os.path.join(P120, "config.simulation.json")) as f:
        sim = json.load(f)
    with open(os.path.join(P120, "config.circuit.json")) as f:
        circ = json.load(f)
    net = os.path.join(P120, "network")

    def fix(p: str) -> str:
        return p.replace("$NETWORK_DIR", net).replace("$MODELS_DIR", P120_COMPONENTS) \
            .replace("$INPUT_DIR", os.path.join(P120, "inputs"))
    cfg = {
        "target_simulator": "NEST",
        "run": {"tstart": 0.0, "tstop": float(tstop or sim["run"]["tstop"]), "dt": sim["run"]["dt"],
                "block_size": sim["run"].get("block_size", 1000.0)},
        "components": {k: fix(v) for k, v in circ["components"].items()},
        "networks": {kind: [{k: fix(v) for k, v in e.items()} for e in lst] for kind, lst in circ["networks"].items()},
        "inputs": {k: {**v, "input_file": fix(v["input_file"])} for k, v in sim["inputs"].items()},
        "reports": sim["reports"],
        "output": {"output_dir": os.path.join(out, "output"), "spikes_file": "spikes.h5", "log_file": "log.txt",
                   "overwrite_output_dir": True, "quiet_simulator": True},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


# ------------------------------------------------------------------ children
def child_modelkit(config: str, out: str, threads: int) -> dict[str, Any]:
    from modelkit.simulator import simulate
    res = simulate(config, output_dir=out, threads=threads, seed=SEED, progress=False, overwrite=True)
    t = res.timings
    return {"setup": t.get("load", 0.0) + t["build"], "simulate": t["run"], "spikes_file": res.spikes_file,
            "n_spikes": int(sum(res.n_spikes.values())), "timings": t}


def child_bmtk(config: str, out: str, threads: int) -> dict[str, Any]:
    import logging

    from bmtk.simulator import pointnet
    logging.disable(logging.INFO)
    config = _harness.config_with_output(config, out)
    t0 = time.perf_counter()
    conf = pointnet.Config.from_json(config)
    conf.build_env()
    net = pointnet.PointNetwork.from_config(conf)
    sim = pointnet.PointSimulator.from_config(conf, net, n_thread=threads)
    t_from = time.perf_counter() - t0
    t_init = _harness.time_initialize(sim._mods)  # inputs are created and connected there, inside sim.run()
    t1 = time.perf_counter()
    sim.run()
    t_run = time.perf_counter() - t1
    return {"setup": t_from + t_init[0], "simulate": t_run - t_init[0], "spikes_file": os.path.join(out, "spikes.h5")}


def child_hand(config: str, out: str, threads: int) -> dict[str, Any]:
    """The hand-written NEST script: this config's files, straight into NEST."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import h5py
    import nest
    import pandas as pd

    t0 = time.perf_counter()
    with open(config) as f:
        cfg = json.load(f)
    run, comps = cfg["run"], cfg["components"]
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.set(resolution=run["dt"], local_num_threads=threads, rng_seed=SEED + 1)

    def params(directory: str, name: Any) -> dict:
        if not isinstance(name, str):
            return {}
        with open(os.path.join(directory, name)) as f:
            return json.load(f)

    # nodes: one Create per node type, per-node columns of the HDF5 group as parameter arrays
    nest_id: dict[str, np.ndarray] = {}
    virtual: dict[str, np.ndarray] = {}
    for spec in cfg["networks"]["nodes"]:
        types = pd.read_csv(spec["node_types_file"], sep=" ").set_index("node_type_id")
        with h5py.File(spec["nodes_file"], "r") as f:
            for pop, g in f["nodes"].items():
                tid = g["node_type_id"][:]
                dyn = g["0"].get("dynamics_params", {})  # per-node parameters (SONATA)
                cols = {k: dyn[k][:] for k in dyn}
                ids = np.full(len(tid), -1, dtype=np.int64)
                _, first = np.unique(tid, return_index=True)
                for t in tid[np.sort(first)]:
                    rows = np.flatnonzero(tid == t)
                    row = types.loc[t]
                    if row["model_type"] == "virtual":
                        virtual[pop] = rows
                        continue
                    p = params(comps["point_neuron_models_dir"], row["dynamics_params"])
                    p.update({k: v[rows] for k, v in cols.items()})
                    nc = nest.Create(row["model_template"].split(":")[-1], len(rows), params=p)
                    ids[rows] = nc[0].global_id + np.arange(len(rows))  # Create makes consecutive ids
                nest_id[pop] = ids
    built = {p: ids for p, ids in nest_id.items() if (ids >= 0).any()}
    sr = nest.Create("spike_recorder")
    for ids in built.values():
        nest.Connect(nest.NodeCollection(sorted(ids[ids >= 0].tolist())), sr)

    # input spikes: one spike generator per virtual node
    gens: dict[str, np.ndarray] = {}
    for inp in cfg["inputs"].values():
        pop = inp["node_set"]
        with h5py.File(inp["input_file"], "r") as f:
            sp = f["spikes"][pop]
            nid, ts = sp["node_ids"][:], sp["timestamps"][:]
        order = np.lexsort((ts, nid))
        nid, ts = nid[order], ts[order]
        ok = ts > 0
        nid, ts = nid[ok], ts[ok]
        n = len(nest_id[pop])
        g = nest.Create("spike_generator", n, params={"precise_times": True})
        cut = np.searchsorted(nid, np.arange(n + 1))
        g.set([{"spike_times": ts[cut[i]:cut[i + 1]]} for i in range(n)])
        gens[pop] = g[0].global_id + np.arange(n)

    # edges: one array Connect per edge type, weight = syn_weight x nsyns
    for spec in cfg["networks"]["edges"]:
        types = pd.read_csv(spec["edge_types_file"], sep=" ").set_index("edge_type_id")
        with h5py.File(spec["edges_file"], "r") as f:
            for g in f["edges"].values():
                src_pop, tgt_pop = g["source_node_id"].attrs["node_population"], g["target_node_id"].attrs[
                    "node_population"]
                src, tgt, et = g["source_node_id"][:], g["target_node_id"][:], g["edge_type_id"][:]
                grp = g["0"] if "0" in g else {}
                cols = {k: grp[k][:] for k in grp}
                smap = gens[src_pop] if src_pop in gens else nest_id[src_pop]
                s_nest, t_nest = smap[src], nest_id[tgt_pop][tgt]
                for t in np.unique(et):
                    m = et == t
                    row = types.loc[t]
                    spec_ = params(comps["synaptic_models_dir"], row.get("dynamics_params"))
                    w = cols["syn_weight"][m] if "syn_weight" in cols else np.full(int(m.sum()), row["syn_weight"])
                    if "nsyns" in cols:
                        w = w * cols["nsyns"][m]
                    d = cols["delay"][m] if "delay" in cols else np.full(int(m.sum()), float(row["delay"]))
                    spec_.update(synapse_model=row["model_template"].split(":")[-1], weight=w.astype(float),
                                 delay=d.astype(float))
                    nest.Connect(s_nest[m], t_nest[m], "one_to_one", syn_spec=spec_)

    # the config's reports: a multimeter on the cells named
    meters = []
    for rep in cfg["reports"].values():
        cells = rep["cells"]
        ids = nest_id[cells["population"]][np.asarray(cells["node_id"])]
        mm = nest.Create("multimeter", params={"record_from": [rep["variable_name"]], "interval": run["dt"]})
        nest.Connect(mm, nest.NodeCollection(sorted(ids.tolist())))
        meters.append((rep, mm))
    t_setup = time.perf_counter() - t0

    t1 = time.perf_counter()
    nest.Simulate(run["tstop"])
    t_sim = time.perf_counter() - t1

    os.makedirs(out, exist_ok=True)
    ev = sr.get("events")
    senders, times = np.asarray(ev["senders"]), np.asarray(ev["times"])
    with h5py.File(os.path.join(out, "spikes.h5"), "w") as f:
        for pop, ids in built.items():
            back = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
            back[ids[ids >= 0]] = np.flatnonzero(ids >= 0)
            mine = senders <= ids.max()
            g = f.create_group(f"spikes/{pop}")
            g["node_ids"] = back[senders[mine]]
            g["timestamps"] = times[mine]
    for rep, mm in meters:
        ev = mm.get("events")
        with h5py.File(os.path.join(out, f"{rep['variable_name']}.h5"), "w") as f:
            for k in ("senders", "times", rep["variable_name"]):
                f[k] = np.asarray(ev[k])
    return {"setup": t_setup, "simulate": t_sim, "spikes_file": os.path.join(out, "spikes.h5"),
            "n_spikes": len(senders)}


def run_child(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.child == "build":
        res = build_network(args.out, args.nodes, args.indegree, args.tstop, args.dt)
    else:
        fn = {"modelkit": child_modelkit, "bmtk": child_bmtk, "hand": child_hand}[args.child]
        res = fn(args.config, args.out, args.threads)
    res["inside_s"] = time.perf_counter() - t0
    res["peak_mib"] = peak_rss_mib()
    with open(args.result, "w") as f:
        json.dump(res, f)
    return 0


# ------------------------------------------------------------------ parent
def spawn(child: str, workdir: str, tag: str, extra: list[str]) -> dict[str, Any]:
    return _harness.spawn(__file__, child, workdir, tag, extra)


def read_all_spikes(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(node_ids, times) of every population of a spike file, sorted by (node, time)."""
    import h5py
    ids, ts = [], []
    with h5py.File(path, "r") as f:
        for g in f["spikes"].values():
            ids.append(g["node_ids"][:].astype(np.int64))
            ts.append(g["timestamps"][:].astype(float))
    a, b = (np.concatenate(ids), np.concatenate(ts)) if ids else (np.empty(0, np.int64), np.empty(0))
    o = np.lexsort((b, a))
    return a[o], b[o]


def same_spikes(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return len(a[0]) == len(b[0]) and bool(np.array_equal(a[0], b[0])) and bool(np.allclose(a[1], b[1], atol=1e-6,
                                                                                             rtol=0))


def bench_network(name: str, config: str, workdir: str, args: argparse.Namespace, n_cells: int) -> dict[str, Any]:
    """Every program on one network; returns a summary with the targets checked.

    modelkit runs with 1 thread (the like-for-like comparison with the 1-thread hand script), with 2,
    and with its own default for this network (``modelkit.simulator.run._default_threads``: 1 below
    10^4 cells, the free cores above); the setup target compares bmtk's default (1 thread) with
    modelkit's default, the total-time target compares equal thread counts.
    """
    from modelkit.simulator.run import _default_threads
    default = _default_threads(n_cells)
    programs = [("modelkit", 1), ("hand", 1)] + ([] if args.skip_bmtk else [("bmtk", 1)])
    if not args.skip_threads or default != 1:
        programs.append(("modelkit", 2))
    if default not in (1, 2):
        programs.append(("modelkit", default))
    res: dict[str, dict[str, Any]] = {}
    for rep in range(args.repeats):
        for prog, thr in programs:
            tag = f"{prog}-{thr}t"
            out = os.path.join(workdir, f"{name}-{tag}-out{rep}")
            r = spawn(prog, workdir, f"{name}-{tag}", ["--config", config, "--out", out, "--threads", str(thr)])
            if "error" in r:
                print(f"  {name} {tag}: FAILED ({r['error']})\n{r.get('log', '')}", flush=True)
                res.setdefault(tag, r)
                continue
            r["spikes"] = read_all_spikes(r["spikes_file"])
            print(f"  {name} {tag}: setup {r['setup']:.2f} s, simulate {r['simulate']:.2f} s, "
                  f"total {r['total']:.2f} s, "
                  f"peak RSS {r['peak_mib']:,.0f} MiB, {len(r['spikes'][0]):,} spikes", flush=True)
            if tag not in res or "error" in res[tag] or r["total"] < res[tag]["total"]:
                res[tag] = r
            elif rep and not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    labels = {"modelkit-1t": "modelkit, 1 thread", "hand-1t": "hand-written NEST", "bmtk-1t": "bmtk PointNet",
              "modelkit-2t": "modelkit, 2 threads"}
    if default not in (1, 2):
        labels[f"modelkit-{default}t"] = f"modelkit, {default} threads"
    dtag = f"modelkit-{default}t"
    labels[dtag] += " (its default here)"
    head = ["program", "setup s", "simulate s", "total s", "peak RSS MiB", "spikes", "setup x", "total x", "RSS x"]
    mk, hand, bm = (res.get(f"{p}-1t", {"error": "not run"}) for p in ("modelkit", "hand", "bmtk"))
    rows = []
    for tag, label in labels.items():
        r = res.get(tag)
        if r is None:
            continue
        if "error" in r:
            rows.append([label, "failed", "", "", "", "", "", "", ""])
            continue
        sx = f"{bm['setup'] / r['setup']:.2f}" if "error" not in bm else "-"
        tx = f"{r['total'] / hand['total']:.3f}" if "error" not in hand else "-"
        rx = f"{r['peak_mib'] / bm['peak_mib']:.2f}" if "error" not in bm else "-"
        rows.append([label, f"{r['setup']:.2f}", f"{r['simulate']:.2f}", f"{r['total']:.2f}", f"{r['peak_mib']:,.0f}",
                     f"{len(r['spikes'][0]):,}", sx, tx, rx])
    print()
    print(f"{name}  (setup x: bmtk's setup / this one's; total x: this total / the hand script's; "
          f"RSS x: this peak / bmtk's)")
    print_table(head, rows)
    summary: dict[str, Any] = {"name": name, "failed": any("error" in r for r in res.values()), "targets": [],
                               "res": res}
    if "error" not in mk and "error" not in hand:
        ok = same_spikes(mk["spikes"], hand["spikes"])
        print(f"spikes modelkit vs hand-written NEST: {len(mk['spikes'][0]):,} vs {len(hand['spikes'][0]):,} -> "
              f"{'identical, spike for spike' if ok else 'DIFFERENT'}")
        summary["failed"] |= not ok
    if "error" not in mk and "error" not in bm:
        ok = same_spikes(mk["spikes"], bm["spikes"])
        n_m, n_b = len(mk["spikes"][0]), len(bm["spikes"][0])
        print(f"spikes modelkit vs bmtk: {n_m:,} vs {n_b:,} -> "
              + ("identical, spike for spike" if ok else f"differ ({(n_m - n_b) / max(n_b, 1):+.2%} in count)"))
    if "error" not in mk and "modelkit-2t" in res and "error" not in res["modelkit-2t"]:
        two = res["modelkit-2t"]
        ok = same_spikes(mk["spikes"], two["spikes"])
        print(f"modelkit threads: 1 -> total {mk['total']:.2f} s (simulate {mk['simulate']:.2f} s), "
              f"2 -> total {two['total']:.2f} s (simulate {two['simulate']:.2f} s): 2 threads "
              f"{mk['total'] / two['total']:.2f}x the speed of 1; spikes "
              f"{'identical' if ok else 'differ'} ({len(two['spikes'][0]):,})")
        summary["threads"] = (mk["total"], two["total"], mk["simulate"], two["simulate"])
    mkd = res.get(dtag, {"error": "not run"})
    if "error" not in mkd and "error" not in bm:
        summary["targets"].append((f"{name}: setup >= {TARGET_SETUP:g}x faster than bmtk (both at their default "
                                   f"threads: modelkit {default}, bmtk 1)", bm["setup"] / mkd["setup"],
                                   bm["setup"] / mkd["setup"] >= TARGET_SETUP, "x"))
    if "error" not in mk and "error" not in bm and default != 1:
        print(f"setup at 1 thread each: bmtk / modelkit = {bm['setup'] / mk['setup']:.2f}x")
    if "error" not in mk and "error" not in bm:
        summary["targets"].append((f"{name}: peak RSS <= bmtk's", mk["peak_mib"] / bm["peak_mib"],
                                   mk["peak_mib"] <= bm["peak_mib"] * TARGET_RSS, "x bmtk"))
    if "error" not in mk and "error" not in hand:
        summary["targets"].append((f"{name}: total <= {TARGET_TOTAL:g}x the hand-written script",
                                   mk["total"] / hand["total"], mk["total"] <= TARGET_TOTAL * hand["total"], "x hand"))
    print(flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (2,000 neurons, 300 ms)")
    ap.add_argument("--nodes", type=int, default=None, help="neurons of the generated network (default 20,000)")
    ap.add_argument("--indegree", type=int, default=None, help="mean recurrent in-degree (default 1000)")
    ap.add_argument("--tstop", type=float, default=None, help="ms of the generated network's run (default 1000)")
    ap.add_argument("--dt", type=float, default=0.1, help="ms")
    ap.add_argument("--p120-tstop", type=float, default=None, help="ms of point_120cells (default: its config's)")
    ap.add_argument("--only", choices=("generated", "point_120cells"), help="one network only")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each program; the fastest is reported")
    ap.add_argument("--skip-bmtk", action="store_true", help="no bmtk runs (no setup or RSS ratios)")
    ap.add_argument("--skip-threads", action="store_true", help="no 2-thread modelkit runs")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the files written")
    ap.add_argument("--child", choices=("build", "modelkit", "bmtk", "hand"), help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return run_child(args)
    args.nodes = args.nodes or (2000 if args.quick else 20_000)
    args.indegree = args.indegree or (200 if args.quick else 1000)
    args.tstop = args.tstop or (300.0 if args.quick else 1000.0)
    if args.quick and args.p120_tstop is None:
        args.p120_tstop = 300.0
    summaries = []
    with _harness.scratch("bench_nest-", args.dir, args.keep) as workdir:
        print(f"# bench_nest: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; each program its own process, "
              f"best of {args.repeats}", flush=True)
        if args.only != "point_120cells":
            gen = os.path.join(workdir, "generated")
            r = spawn("build", workdir, "build", ["--out", gen, "--nodes", str(args.nodes), "--indegree",
                                                  str(args.indegree), "--tstop", str(args.tstop), "--dt",
                                                  str(args.dt)])
            if "error" in r:
                print(f"building the network failed ({r['error']})\n{r.get('log', '')}")
                return 1
            name = f"{args.nodes // 1000}k" if args.nodes >= 1000 else str(args.nodes)
            print(f"# {name}: {args.nodes:,} iaf_psc_delta neurons, {r['edges']:,} recurrent + {r['input_edges']:,} "
                  f"input edges, {args.tstop:g} ms at dt {args.dt:g} ms (built and saved in {r['seconds']:.1f} s)",
                  flush=True)
            summaries.append(bench_network(name, os.path.join(gen, "config.json"), workdir, args, args.nodes))
        if args.only != "generated":
            p120 = os.path.join(workdir, "point_120cells")
            p120_config(p120, args.p120_tstop)
            with open(os.path.join(p120, "config.json")) as f:
                run = json.load(f)["run"]
            print(f"# point_120cells: {run['tstop']:g} ms at dt {run['dt']:g} ms, V_m report of 5 cells every step",
                  flush=True)
            summaries.append(bench_network("point_120cells", os.path.join(p120, "config.json"), workdir, args, 120))
        failed = any(s["failed"] for s in summaries)
        for s in summaries:
            if s.get("threads"):
                t1, t2, s1, s2 = s["threads"]
                print(f"threads {s['name']}: modelkit total {t1:.2f} s with 1, {t2:.2f} s with 2 "
                      f"(simulate {s1:.2f} -> {s2:.2f} s): 2 threads are {t1 / t2:.2f}x the speed of 1")
        return _harness.verdict([t for s in summaries for t in s["targets"]], failed=failed, quick=args.quick,
                                failure="a run failed or modelkit's spikes differ from the hand-written script's")


if __name__ == "__main__":
    sys.exit(main())
