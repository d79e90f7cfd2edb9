#!/usr/bin/env python
"""modelkit's NEURON backend vs bmtk's BioNet, in one run: setup and integration of biophysical networks.

Networks (each simulated by both programs from the *same* config file, with absolute
paths, written into a temporary folder; outputs go there too, never next to the inputs):

* ``bio_14cells``: bmtk's example from the shared corpus (read in place, read-only):
  10 biophysical cells (Allen perisomatic fits) and 4 IntFire1 cells, LGN and TW spike
  inputs, soma ``v`` and ``cai`` reports of 10 cells (the ``netcon_report`` is left out:
  modelkit does not write synaptic reports yet), cut to ``--tstop`` ms;
* ``bio_<N>``: a network of the shape of bmtk's bio_450cells example, built with
  modelkit's ``NetworkBuilder`` from the corpus's ``bio_components`` and saved: Scnn1a,
  Rorb, Nr5a1 (excitatory, 80 %) and PV1, PV2 (inhibitory) cells with their morphologies
  and Allen perisomatic fits, in a column (radius growing with N, so the density and the
  in-degree stay the same), rotated about y at random; recurrent edges by soma distance
  (``DistanceProbability``, 3-7 synapses per pair) on ``target_sections`` within
  ``distance_range``; a virtual LGN population (Poisson spikes in a SONATA spike file)
  driving every cell.  N = 450 is compared with BioNet; N = 100 (both programs) and
  2,000 (modelkit only: BioNet's setup is quadratic) measure setup per cell (run for
  ``--scale-tstop`` ms only).

Mechanisms: the corpus carries no ``.mod`` files; bmtk's Allen mechanisms (from the
installed bmtk wheel) are copied into the temporary components folder and compiled there
with the neuron wheel's ``nrnivmodl`` (BioNet loads that folder; modelkit compiles the
same files into its cache); both are done before any timed run.  modelkit also keeps the
section tables Import3d makes of each SWC file in its cache (``$MODELKIT_CACHE_DIR`` or
``~/.cache/modelkit``, keyed by the file's bytes): the first run that meets a morphology
pays ~0.1 s for it, later runs load the table.  Point ``MODELKIT_CACHE_DIR`` at an empty
folder to time that first run (bio_14cells is then the cold run, the larger networks reuse
its tables where the files are the same).

Programs (each run is its own subprocess; peak RSS is the child's ``ru_maxrss``):

* ``modelkit``: ``modelkit.simulator.simulate(config, output_dir=...)``; setup =
  ``RunResult.timings`` ``load`` + ``build`` (cells, synapses, inputs), integrate = ``run``;
* ``bmtk``: ``bionet.Config.from_json`` + ``build_env`` + ``BioNetwork.from_config`` +
  ``BioSimulator.from_config`` (cells, recurrent synapses, virtual-cell synapses) + the
  modules' ``initialize`` inside ``sim.run()`` (reports), integrate = the rest of ``sim.run()``.

Neither setup counts importing NEURON: bmtk's child imports ``bmtk.simulator.bionet`` (which imports
``neuron``) before its clock starts, and ``simulate`` imports ``neuron`` when it picks the backend,
between its ``load`` and ``build`` clocks.  bio_14cells takes about a second per program, so the
machine's other work moves its figures by tens of percent: each program runs ``--repeat`` times
(interleaved) and the medians are compared.

Usage::

    python benchmarks/bench_neuron.py          # bio_14cells + bio_450 (both), setup per cell at 100 (both)/450/2000
    python benchmarks/bench_neuron.py --quick  # bio_14cells (both) + bio_100 (modelkit only), 200 ms
    python benchmarks/bench_neuron.py --no-bmtk-scale --sizes 450,2000 --tstop 500 --keep --dir /scratch

Targets (issue 7): setup >= 5x faster than BioNet; integration no slower (modelkit's
integrate / bmtk's <= 1.0); modelkit's setup per cell flat (largest / smallest <= 1.5).
Exit status 1 when a run fails or (full size only) a target is missed; with ``--quick``
targets are printed for information.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import _harness
import numpy as np
from _harness import peak_rss_mib, print_table

SEED = 1
CORPUS = os.environ.get("MODELKIT_CORPUS", "/work/shared/sonata/corpus")
B14 = os.path.join(CORPUS, "bmtk/examples/bio_14cells")
COMPONENTS = os.path.join(CORPUS, "bmtk/examples/bio_components")

TARGET_SETUP = 5.0      # bmtk setup / modelkit setup >=
TARGET_INTEGRATE = 1.0  # modelkit integrate / bmtk integrate <=
TARGET_FLAT = 1.5       # modelkit setup per cell, largest N / smallest N <=

# the bio_450cells-like network: (pop_name, ei, morphology, Allen fit, share of the cells)
CELL_TYPES = [("Scnn1a", "e", "Scnn1a_473845048_m.swc", "472363762_fit.json", 0.8 / 3),
              ("Rorb", "e", "Rorb_325404214_m.swc", "473863510_fit.json", 0.8 / 3),
              ("Nr5a1", "e", "Nr5a1_471087815_m.swc", "473863035_fit.json", 0.8 / 3),
              ("PV1", "i", "Pvalb_470522102_m.swc", "472912177_fit.json", 0.1),
              ("PV2", "i", "Pvalb_469628681_m.swc", "473862421_fit.json", 0.1)]
# recurrent edge types: (source ei, target ei, p_max, sigma µm, target_sections, distance_range, syn_weight, model)
EDGE_TYPES = [("e", "e", 0.15, 50.0, ["basal", "apical"], [30.0, 150.0], 6e-5, "AMPA_ExcToExc.json"),
              ("e", "i", 0.25, 50.0, ["somatic", "basal"], [0.0, 1e20], 3e-4, "AMPA_ExcToInh.json"),
              ("i", "e", 0.25, 50.0, ["somatic", "basal", "apical"], [0.0, 50.0], 1.8e-4, "GABA_InhToExc.json"),
              ("i", "i", 0.25, 50.0, ["somatic", "basal"], [0.0, 1e20], 2e-4, "GABA_InhToInh.json")]
DENSITY_RADIUS = 100.0  # µm: column radius at 450 cells; it grows as sqrt(N / 450)
COLUMN_HEIGHT = 100.0   # µm
N_LGN, LGN_P, LGN_RATE, LGN_WEIGHT = 100, 0.2, 20.0, 6e-4  # inputs, connection probability, Hz, µS


def run_block(tstop: float) -> dict[str, Any]:
    return {"tstart": 0.0, "tstop": float(tstop), "dt": 0.1, "dL": 20.0, "spike_threshold": -15.0,
            "nsteps_block": 5000}


def output_block(out: str) -> dict[str, Any]:
    return {"output_dir": os.path.join(out, "output"), "log_file": "log.txt", "spikes_file": "spikes.h5",
            "overwrite_output_dir": True}


def components(mech: str) -> dict[str, str]:
    return {"morphologies_dir": os.path.join(COMPONENTS, "morphologies"),
            "synaptic_models_dir": os.path.join(COMPONENTS, "synaptic_models"),
            "mechanisms_dir": mech,
            "biophysical_neuron_models_dir": os.path.join(COMPONENTS, "biophysical_neuron_templates", "ctdb"),
            "point_neuron_models_dir": os.path.join(COMPONENTS, "point_neuron_templates")}


# ------------------------------------------------------------------ mechanisms and networks
def prepare_mechanisms(workdir: str) -> str:
    """bmtk's Allen .mod files in ``workdir/components/mechanisms``, compiled there by nrnivmodl."""
    import bmtk
    src = os.path.join(os.path.dirname(bmtk.__file__), "utils", "scripts", "bionet", "mechanisms", "modfiles")
    mech = os.path.join(workdir, "components", "mechanisms")
    os.makedirs(mech, exist_ok=True)
    for f in os.listdir(src):
        if f.endswith(".mod"):
            shutil.copy(os.path.join(src, f), mech)
    nrnivmodl = os.path.join(os.path.dirname(sys.executable), "nrnivmodl")
    r = subprocess.run([nrnivmodl if os.path.exists(nrnivmodl) else "nrnivmodl"], cwd=mech, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(f"nrnivmodl failed in {mech}:\n{(r.stdout + r.stderr)[-3000:]}")
    return mech


def b14_config(out: str, mech: str, tstop: float) -> str:
    """bio_14cells as one config with absolute paths (inputs read in place, outputs into ``out``)."""
    with open(os.path.join(B14, "config.simulation.json")) as f:
        sim = json.load(f)
    with open(os.path.join(B14, "config.circuit.json")) as f:
        circ = json.load(f)

    def fix(p: str) -> str:
        return p.replace("$NETWORK_DIR", os.path.join(B14, "network")).replace("$INPUT_DIR",
                                                                                os.path.join(B14, "inputs"))
    reports = {k: v for k, v in sim["reports"].items() if v["module"] != "netcon_report"}
    cfg = {"target_simulator": "NEURON", "run": run_block(tstop), "conditions": sim["conditions"],
           "components": components(mech),
           "networks": {kind: [{k: fix(v) for k, v in e.items()} for e in lst]
                        for kind, lst in circ["networks"].items()},
           "inputs": {k: {**v, "input_file": fix(v["input_file"])} for k, v in sim["inputs"].items()},
           "reports": reports, "output": output_block(out)}
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def build_network(out: str, mech: str, n: int, tstop: float) -> dict[str, Any]:
    """Build and save a bio_450cells-like network of ``n`` cells, its LGN spikes and config."""
    from modelkit.builder import DistanceProbability, FixedProbability, Integers, NetworkBuilder
    from modelkit.builder.placement import positions_columinar
    from modelkit.simulator.poisson import PoissonSpikeGenerator

    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    net_dir = os.path.join(out, "network")
    os.makedirs(net_dir, exist_ok=True)
    radius = DENSITY_RADIUS * np.sqrt(n / 450.0)
    counts = [int(round(share * n)) for *_, share in CELL_TYPES]
    counts[0] += n - sum(counts)
    v1 = NetworkBuilder("v1", seed=SEED)
    for (pop, ei, morph, fit, _), k in zip(CELL_TYPES, counts):
        pos = positions_columinar(N=k, center=(0.0, 50.0, 0.0), height=COLUMN_HEIGHT, max_radius=radius, rng=rng)
        v1.add_nodes(N=k, pop_name=pop, ei=ei, location="VisL4", model_type="biophysical",
                     model_template="ctdb:Biophys1.hoc", model_processing="aibs_perisomatic", morphology=morph,
                     dynamics_params=fit, positions=pos, rotation_angle_yaxis=rng.uniform(0, 2 * np.pi, k),
                     rotation_angle_zaxis=np.full(k, -3.646878266), tuning_angle=np.linspace(0, 360, k,
                                                                                               endpoint=False))
    for src, tgt, p, sigma, secs, drange, w, dyn in EDGE_TYPES:
        v1.add_edges(source={"ei": src}, target={"ei": tgt},
                     connection_rule=DistanceProbability(p_max=p, sigma=sigma, nsyns=Integers(3, 8)),
                     syn_weight=w, delay=2.0, target_sections=secs, distance_range=drange, weight_function="wmax",
                     dynamics_params=dyn, model_template="exp2syn")
    v1.build()
    v1.save(output_dir=net_dir)
    lgn = NetworkBuilder("lgn", seed=SEED + 1)
    lgn.add_nodes(N=N_LGN, model_type="virtual", pop_name="tON", ei="e")
    lgn.add_edges(source=lgn.nodes(), target=v1.nodes(ei="e"), connection_rule=FixedProbability(LGN_P, nsyns=3),
                  syn_weight=LGN_WEIGHT, delay=2.0, target_sections=["basal", "apical"], distance_range=[0.0, 150.0],
                  weight_function="wmax", dynamics_params="AMPA_ExcToExc.json", model_template="exp2syn")
    lgn.add_edges(source=lgn.nodes(), target=v1.nodes(ei="i"), connection_rule=FixedProbability(LGN_P, nsyns=3),
                  syn_weight=2 * LGN_WEIGHT, delay=2.0, target_sections=["somatic", "basal"],
                  distance_range=[0.0, 1e20], weight_function="wmax", dynamics_params="AMPA_ExcToInh.json",
                  model_template="exp2syn")
    lgn.build()
    lgn.save(output_dir=net_dir)
    psg = PoissonSpikeGenerator(population="lgn", seed=SEED)
    psg.add(node_ids=range(N_LGN), firing_rate=LGN_RATE, times=(0.0, tstop / 1000.0))
    spikes = os.path.join(out, "inputs", "lgn_spikes.h5")
    os.makedirs(os.path.dirname(spikes), exist_ok=True)
    psg.to_sonata(spikes)
    files = sorted(os.listdir(net_dir))

    def net_file(kind: str, stem: str) -> str:
        hit = [f for f in files if f.startswith(f"{stem}_{kind}")]
        if not hit:
            raise RuntimeError(f"no {stem}_{kind}* in {net_dir}: {files}")
        return os.path.join(net_dir, hit[0])
    cfg = {"target_simulator": "NEURON", "run": run_block(tstop), "conditions": {"celsius": 34.0, "v_init": -80.0},
           "components": components(mech),
           "networks": {"nodes": [{"nodes_file": net_file("nodes.h5", s), "node_types_file": net_file(
               "node_types.csv", s)} for s in ("v1", "lgn")],
                        "edges": [{"edges_file": net_file("edges.h5", s), "edge_types_file": net_file(
                            "edge_types.csv", s)} for s in ("v1_v1", "lgn_v1")]},
           "inputs": {"LGN_spikes": {"input_type": "spikes", "module": "sonata", "input_file": spikes,
                                     "node_set": "lgn"}},
           "reports": {}, "output": output_block(out)}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return {"edges": int(v1.nedges), "input_edges": int(lgn.nedges), "seconds": time.perf_counter() - t0}


# ------------------------------------------------------------------ children
def child_warm(config: str, out: str) -> dict[str, Any]:
    """Compile (or find in the cache) modelkit's mechanism library, and modelkit's Python bytecode, outside
    any timed run.

    bmtk, installed from its wheel, has its bytecode compiled at install time; modelkit installed
    editable under ``PYTHONDONTWRITEBYTECODE`` would compile its modules again in every process (~60 ms,
    some of it inside the build), which measures the environment, not the program.
    """
    import compileall

    import modelkit
    from modelkit.simulator.neuron.mechanisms import compile_mechanisms
    compileall.compile_dir(os.path.dirname(modelkit.__file__), quiet=1)
    with open(config) as f:
        mech = json.load(f)["components"]["mechanisms_dir"]
    t0 = time.perf_counter()
    lib = compile_mechanisms(mech)
    return {"library": lib, "seconds": time.perf_counter() - t0}


def child_modelkit(config: str, out: str) -> dict[str, Any]:
    from modelkit.simulator import simulate
    res = simulate(config, output_dir=out, progress=False, overwrite=True)
    t = res.timings
    return {"setup": t.get("load", 0.0) + t["build"], "integrate": t["run"], "spikes_file": res.spikes_file,
            "timings": t}


def child_bmtk(config: str, out: str) -> dict[str, Any]:
    import logging

    from bmtk.simulator import bionet
    logging.disable(logging.INFO)
    config = _harness.config_with_output(config, out)
    t0 = time.perf_counter()
    conf = bionet.Config.from_json(config)
    conf.build_env()
    net = bionet.BioNetwork.from_config(conf)
    sim = bionet.BioSimulator.from_config(conf, network=net)
    t_from = time.perf_counter() - t0
    t_init = _harness.time_initialize(sim._sim_mods)  # reports are set up in the modules' initialize, inside sim.run()
    t1 = time.perf_counter()
    sim.run()
    t_run = time.perf_counter() - t1
    return {"setup": t_from + t_init[0], "integrate": t_run - t_init[0], "spikes_file": os.path.join(out, "spikes.h5")}


def run_child(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.child == "build":
        res = build_network(args.out, args.mech, args.nodes, args.tstop)
    else:
        fn = {"warm": child_warm, "modelkit": child_modelkit, "bmtk": child_bmtk}[args.child]
        res = fn(args.config, args.out)
    res["inside_s"] = time.perf_counter() - t0
    res["peak_mib"] = peak_rss_mib()
    with open(args.result, "w") as f:
        json.dump(res, f)
    return 0


# ------------------------------------------------------------------ parent
def spawn(child: str, workdir: str, tag: str, extra: list[str]) -> dict[str, Any]:
    return _harness.spawn(__file__, child, workdir, tag, extra, cwd=workdir)


def count_spikes(path: str) -> int:
    import h5py
    with h5py.File(path, "r") as f:
        return int(sum(g["node_ids"].shape[0] for g in f["spikes"].values()))


def run_programs(name: str, config: str, workdir: str, programs: list[str], n_cells: int,
                 repeat: int = 1) -> dict[str, Any]:
    """Run each program ``repeat`` times, interleaved (so a busy spell of the machine hits both), and keep
    the run with the median setup time of each."""
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in programs}
    for k in range(repeat):
        for prog in programs:
            out = os.path.join(workdir, f"{name}-{prog}-out{k}")
            r = spawn(prog, workdir, f"{name}-{prog}", ["--config", config, "--out", out])
            if "error" in r:
                print(f"  {name} {prog}: FAILED ({r['error']})\n{r.get('log', '')}", flush=True)
            else:
                r["spikes"] = count_spikes(r["spikes_file"])
                r["per_cell_ms"] = 1e3 * r["setup"] / n_cells
                split = (f" [load {r['timings'].get('load', 0.0):.2f} + build {r['timings']['build']:.2f}]"
                         if "timings" in r else "")
                print(f"  {name} {prog}: setup {r['setup']:.2f} s{split} ({r['per_cell_ms']:.1f} ms/cell), "
                      f"integrate {r['integrate']:.2f} s, total {r['total']:.2f} s, peak RSS {r['peak_mib']:,.0f} "
                      f"MiB, {r['spikes']:,} spikes", flush=True)
            runs[prog].append(r)
    res: dict[str, Any] = {}
    for prog, rs in runs.items():
        ok = sorted((r for r in rs if "error" not in r), key=lambda r: r["setup"])
        if len(ok) < len(rs):
            res[prog] = next(r for r in rs if "error" in r)
            continue
        med = dict(ok[len(ok) // 2])
        if len(ok) > 1:  # the median of each figure (setup and integration vary independently)
            med["setup"] = float(np.median([r["setup"] for r in ok]))
            med["integrate"] = float(np.median([r["integrate"] for r in ok]))
            med["per_cell_ms"] = 1e3 * med["setup"] / n_cells
            med["repeats"] = len(ok)
        res[prog] = med
    return res


def compare(name: str, res: dict[str, Any], targets: list) -> None:
    """The table of one network and its targets (setup, integration) when both programs ran."""
    head = ["program", "setup s", "ms/cell", "integrate s", "total s", "peak RSS MiB", "spikes"]
    rows = []
    for prog, label in (("bmtk", "bmtk BioNet"), ("modelkit", "modelkit")):
        r = res.get(prog)
        if r is None:
            continue
        if "error" in r:
            rows.append([label, "failed", "", "", "", "", ""])
            continue
        rows.append([label, f"{r['setup']:.2f}", f"{r['per_cell_ms']:.1f}", f"{r['integrate']:.2f}",
                     f"{r['total']:.2f}", f"{r['peak_mib']:,.0f}", f"{r['spikes']:,}"])
    print()
    reps = {r.get("repeats", 1) for r in res.values() if "error" not in r}
    print(name + (f" (medians of {max(reps)} runs each)" if max(reps, default=1) > 1 else ""))
    print_table(head, rows)
    mk, bm = res.get("modelkit", {"error": 1}), res.get("bmtk", {"error": 1})
    if "error" not in mk and "error" not in bm:
        sx, ix = bm["setup"] / mk["setup"], mk["integrate"] / bm["integrate"]
        print(f"ratios: setup bmtk / modelkit = {sx:.2f}x; integrate modelkit / bmtk = {ix:.2f}; "
              f"spikes modelkit / bmtk = {mk['spikes']:,} / {bm['spikes']:,}")
        targets.append((f"{name}: setup >= {TARGET_SETUP:g}x faster than BioNet", sx, sx >= TARGET_SETUP, "x"))
        targets.append((f"{name}: integration no slower than BioNet (modelkit / bmtk <= {TARGET_INTEGRATE:g})", ix,
                        ix <= TARGET_INTEGRATE, ""))
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="bio_14cells (both) + 100 cells (modelkit only), 200 ms")
    ap.add_argument("--tstop", type=float, default=None, help="ms of the compared runs (default 300; --quick 200)")
    ap.add_argument("--scale-tstop", type=float, default=20.0, help="ms of the setup-per-cell-only runs")
    ap.add_argument("--sizes", default=None, help="cell counts of the setup-per-cell runs (default 100,450,2000)")
    ap.add_argument("--no-bmtk-scale", action="store_true", help="no bmtk run at 100 cells (setup per cell)")
    ap.add_argument("--skip-bmtk", action="store_true", help="no bmtk runs (no ratios)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs of each program on bio_14cells, interleaved; the medians are compared (default 5)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the files written")
    ap.add_argument("--child", choices=("build", "warm", "modelkit", "bmtk"), help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--mech", help=argparse.SUPPRESS)
    ap.add_argument("--nodes", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return run_child(args)
    args.tstop = args.tstop or (200.0 if args.quick else 300.0)
    sizes = [int(s) for s in (args.sizes or ("100" if args.quick else "100,450,2000")).split(",")]
    compared = 450 if 450 in sizes else None  # the network compared with BioNet (full tstop)
    failed, targets = False, []
    with _harness.scratch("bench_neuron-", args.dir, args.keep) as workdir:
        print(f"# bench_neuron: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; each program its own "
              f"process; dt 0.1 ms, dL 20 um", flush=True)
        t0 = time.perf_counter()
        mech = prepare_mechanisms(workdir)
        b14 = b14_config(os.path.join(workdir, "bio_14cells"), mech, args.tstop)
        w = spawn("warm", workdir, "warm", ["--config", b14, "--out", workdir])
        if "error" in w:
            print(f"compiling modelkit's mechanisms failed ({w['error']})\n{w.get('log', '')}")
            return 1
        print(f"# mechanisms: bmtk's nrnivmodl + modelkit's cache ready in {time.perf_counter() - t0:.1f} s "
              f"(not timed below)", flush=True)

        print(f"# bio_14cells (corpus): {args.tstop:g} ms", flush=True)
        res = run_programs("bio_14cells", b14, workdir, ["modelkit"] if args.skip_bmtk else ["bmtk", "modelkit"], 14,
                           repeat=args.repeat)
        failed |= any("error" in r for r in res.values())
        compare("bio_14cells", res, targets)

        per_cell: dict[int, dict[str, float]] = {}
        for n in sizes:
            tstop = args.tstop if n == compared else args.scale_tstop
            net = os.path.join(workdir, f"bio_{n}")
            b = spawn("build", workdir, f"build-{n}", ["--out", net, "--mech", mech, "--nodes", str(n), "--tstop",
                                                       str(tstop)])
            if "error" in b:
                print(f"building bio_{n} failed ({b['error']})\n{b.get('log', '')}")
                failed = True
                continue
            print(f"# bio_{n}: {n:,} biophysical cells, {b['edges']:,} recurrent + {b['input_edges']:,} LGN edges "
                  f"(pairs; 3-7 synapses each), {tstop:g} ms (built and saved in {b['seconds']:.1f} s)", flush=True)
            with_bmtk = not args.skip_bmtk and (n == compared or (not args.quick and not args.no_bmtk_scale
                                                                         and n <= 450))
            progs = (["bmtk"] if with_bmtk else []) + ["modelkit"]
            res = run_programs(f"bio_{n}", os.path.join(net, "config.json"), workdir, progs, n)
            failed |= any("error" in r for r in res.values())
            for prog, r in res.items():
                if "error" not in r:
                    per_cell.setdefault(n, {})[prog] = r["per_cell_ms"]
            if n == compared:
                compare(f"bio_{n}", res, targets)

        if per_cell:
            print("setup per cell (ms; cells + synapses + inputs, divided by the cell count)")
            rows = [[f"{n:,}", f"{p['modelkit']:.1f}" if "modelkit" in p else "-",
                     f"{p['bmtk']:.1f}" if "bmtk" in p else "-",
                     f"{p['bmtk'] / p['modelkit']:.1f}x" if "bmtk" in p and "modelkit" in p else "-"]
                    for n, p in sorted(per_cell.items())]
            print_table(["cells", "modelkit", "bmtk", "bmtk / modelkit"], rows)
            mk = {n: p["modelkit"] for n, p in per_cell.items() if "modelkit" in p}
            if len(mk) >= 2:
                lo, hi = min(mk), max(mk)
                ratio = mk[hi] / mk[lo]
                targets.append((f"modelkit setup per cell flat ({hi:,} vs {lo:,} cells <= {TARGET_FLAT:g}x)", ratio,
                                ratio <= TARGET_FLAT, "x"))
            print(flush=True)

        return _harness.verdict(targets, failed=failed, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
