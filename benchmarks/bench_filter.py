"""Filter backend vs bmtk's FilterNet: 1,000 LGN cells on a 120x240, 1 s movie and on a looming stimulus.

    python benchmarks/bench_filter.py [--cells 1000] [--bmtk-cells 6] [--keep DIR]

modelkit runs every cell through ``simulate()`` (build, rates, Poisson spikes, rates h5 +
spikes h5 written).  bmtk's FilterNet evaluates each cell's (non-separable) kernel frame by
frame, about 3 s per cell here, so it runs a subset of the same cells (same properties,
same stimulus) in a subprocess; its time is scaled per cell to the full population, as the
output says.  The subset's rates are compared with modelkit's for the same cells.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from modelkit.builder import NetworkBuilder
from modelkit.simulator import simulate

FILTERS = {
    "tON_TF8.json": {"opt_wts": [4.21848979193672, -2.404989833331929],
                     "opt_kpeaks": [8.524645232832142, 23.246816713624384], "opt_delays": [0, 0]},
    "sON_TF4.json": {"opt_wts": [3.59404059587911, -1.8145831206023941],
                     "opt_kpeaks": [30.758868538755, 58.35845979325414], "opt_delays": [0, 25]},
    "sOFF_TF4.json": {"opt_wts": [3.229814878308509, -1.6587975171052909],
                      "opt_kpeaks": [22.246197660260687, 56.10036268151849], "opt_delays": [0, 15]},
    "tOFF_TF8.json": {"opt_wts": [4.21848979193672, -2.404989833331929],
                      "opt_kpeaks": [8.524645232832142, 23.246816713624384], "opt_delays": [0, 0]},
    "sON_TF8.json": {"opt_wts": [3.7052596759285548, -1.7538397094416842],
                     "opt_kpeaks": [12.941033214060901, 28.27807659299407], "opt_delays": [0, 25]},
}
TYPES = [("tON_TF8", "tON_TF8.json"), ("sON_TF4", "sON_TF4.json"), ("sOFF_TF4", "sOFF_TF4.json"),
         ("tOFF_TF8", "tOFF_TF8.json"), ("sONsOFF_001", "sOFF_TF4.json")]
ROWS, COLS = 120, 240

BMTK_RUNNER = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
from bmtk.simulator import filternet
t1 = time.perf_counter()
config = filternet.Config.from_json(sys.argv[1])
config.build_env()
net = filternet.FilterNetwork.from_config(config)
sim = filternet.FilterSimulator.from_config(config, net)
t2 = time.perf_counter()
sim.run()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "run": t3 - t2}))
"""


def cell_table(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    kind = np.arange(n) % len(TYPES)
    return {"kind": kind, "x": rng.uniform(5, COLS - 5, n), "y": rng.uniform(5, ROWS - 5, n),
            "size": rng.uniform(4.0, 10.0, n), "sep": rng.uniform(3.0, 6.0, n), "angle": rng.uniform(0, 360, n)}


def write_network(root: Path, table: dict[str, np.ndarray], rows: np.ndarray) -> None:
    (root / "filter_models").mkdir(parents=True, exist_ok=True)
    for name, p in FILTERS.items():
        (root / "filter_models" / name).write_text(json.dumps(p))
    net = NetworkBuilder("lgn", seed=0)
    for k, (model, params) in enumerate(TYPES):
        sel = rows[table["kind"][rows] == k]
        if not len(sel):
            continue
        extra = {"non_dom_params": "sON_TF8.json", "sf_sep": table["sep"][sel], "tuning_angle": table["angle"][sel]} \
            if model.startswith("sONsOFF") else {}
        net.add_nodes(N=len(sel), model_type="virtual", model_template=f"lgnmodel:{model}", dynamics_params=params,
                      x=table["x"][sel], y=table["y"][sel], spatial_size=table["size"][sel], orig_id=sel, **extra)
    net.save(root / "network")


def write_config(root: Path, out: Path, stim: dict, tstop: float) -> Path:
    cfg = {"target_simulator": "LGNModel", "run": {"tstart": 0.0, "tstop": tstop, "dt": 1.0},
           "inputs": {"LGN_input": {"input_type": "movie", **stim}},
           "output": {"output_dir": str(out), "log_file": "log.txt", "rates_h5": "rates.h5", "spikes_file": "spikes.h5",
                      "overwrite_output_dir": True},
           "components": {"filter_models_dir": str(root / "filter_models")},
           "networks": {"nodes": [{"nodes_file": str(root / "network/lgn_nodes.h5"),
                                   "node_types_file": str(root / "network/lgn_node_types.csv")}]}}
    path = out.parent / f"{out.name}.json"
    path.write_text(json.dumps(cfg, indent=1))
    return path


def read_rates(path: Path, seconds: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        g = f["firing_rates/lgn"]
        return g["times"][()] * (1000.0 if seconds else 1.0), g["node_id"][()].astype(np.int64), \
            g["firing_rates_Hz"][()]


def orig_ids(root: Path) -> np.ndarray:
    from modelkit.sonata import Network, load_config
    cfgs = list(root.glob("*.json"))
    net = Network.from_config(load_config(cfgs[0]))
    pop = net.nodes["lgn"]
    return pop.column("orig_id", pop.node_ids).astype(np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--bmtk-cells", type=int, default=6, help="cells that bmtk simulates (time scaled per cell)")
    ap.add_argument("--keep", default=None, help="keep the files in this folder")
    args = ap.parse_args()
    import logging
    logging.getLogger("modelkit.builder").setLevel(logging.ERROR)  # "no edges have been added": LGN has none
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench_filter_"))
    work.mkdir(parents=True, exist_ok=True)
    table = cell_table(args.cells)
    full, sub = work / "full", work / "subset"
    write_network(full, table, np.arange(args.cells))
    # bmtk's subset: of every type the cells nearest the screen centre (where the looming disk grows), so that
    # the rates compared below respond to both stimuli
    dist = np.hypot(table["x"] - COLS / 2, table["y"] - ROWS / 2)
    by_type = [np.flatnonzero(table["kind"] == k)[np.argsort(dist[table["kind"] == k])] for k in range(len(TYPES))]
    order = np.concatenate([np.stack([b[:len(by_type[-1])] for b in by_type], axis=1).ravel()])
    pick = np.sort(order[:args.bmtk_cells])
    write_network(sub, table, pick)
    # a 1 s, 1000 frames/s natural-like movie: smooth noise in space and time, contrast in [-1, 1]
    rng = np.random.default_rng(1)
    from scipy.ndimage import gaussian_filter
    mov = gaussian_filter(rng.standard_normal((1000, ROWS, COLS)).astype(np.float32), (20, 4, 4))
    mov /= np.abs(mov).max()
    np.save(work / "movie.npy", mov)
    del mov
    stimuli = {
        "movie 120x240, 1 s at 1000 frames/s": (
            {"module": "movie", "data_file": str(work / "movie.npy"), "frame_rate": 1000.0},
            {"module": "movie", "data_file": str(work / "movie.npy"), "frame_rate": 1000.0}, 1000.0),
        # bmtk reads t_looming in seconds and cannot be given the gray period (its key is misspelt): 0.5 s default
        "looming 120x240, 0.5 s gray + 1 s looming": (
            {"module": "looming", "row_size": ROWS, "col_size": COLS, "t_looming": 1000.0, "gray_screen_dur": 500.0,
             "frame_rate": 1000.0},
            {"module": "looming", "row_size": ROWS, "col_size": COLS, "t_looming": 1.0, "frame_rate": 1000.0},
            1500.0),
    }
    print(f"filter backend vs bmtk {_bmtk_version()} FilterNet: {args.cells} LGN cells "
          f"({', '.join(t for t, _ in TYPES)}), {os.cpu_count()} CPUs")
    for label, (mk_stim, bmtk_stim, tstop) in stimuli.items():
        cfg = write_config(full, full / f"out_mk_{label[:5]}", mk_stim, tstop)
        t0 = time.perf_counter()
        res = simulate(cfg, progress=False, seed=1)
        t_mk = time.perf_counter() - t0
        m_t, m_ids, m_rates = read_rates(Path(res.reports["rates"]), seconds=False)
        bcfg = write_config(sub, sub / f"out_bmtk_{label[:5]}", bmtk_stim, tstop)
        proc = subprocess.run([sys.executable, "-c", BMTK_RUNNER, str(bcfg)], capture_output=True, text=True,
                              cwd=sub)
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            raise SystemExit(f"bmtk failed on {label}")
        bt = json.loads(proc.stdout.strip().splitlines()[-1])
        b_t, b_ids, b_rates = read_rates(sub / f"out_bmtk_{label[:5]}" / "rates.h5", seconds=True)
        sub_orig = orig_ids(sub)[b_ids]
        full_orig = orig_ids(full)
        col = np.array([int(np.flatnonzero(full_orig == o)[0]) for o in sub_orig])
        n = min(len(m_t), len(b_t))
        a, b = m_rates[:n, col], b_rates[:n]
        rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))
        swing = float(np.min(b.max(axis=0) - b.min(axis=0)))
        per_cell = bt["run"] / len(b_ids)
        bmtk_full = per_cell * args.cells + bt["build"]
        print(f"\n{label}, tstop {tstop:g} ms")
        print(f"  modelkit simulate(): {args.cells} cells in {t_mk:.2f} s (build {res.timings['build']:.2f} s, "
              f"rates + spikes {res.timings['run']:.2f} s; {sum(res.n_spikes.values())} spikes, rates.h5 and "
              f"spikes.h5 written)")
        print(f"  bmtk FilterNet:      {len(b_ids)} of the cells in {bt['run']:.1f} s ({per_cell:.2f} s per cell; "
              f"build {bt['build']:.1f} s) -> {bmtk_full:.0f} s for {args.cells} cells, scaled per cell")
        print(f"  speed-up:            {bmtk_full / t_mk:.0f}x (target >= 10x)")
        print(f"  rates of the {len(b_ids)} common cells, {n} frames: max |modelkit - bmtk| / bmtk = {rel:.1e} "
              f"(each cell's rate spans >= {swing:.1f} Hz)")


def _bmtk_version() -> str:
    try:
        from importlib.metadata import version
        return version("bmtk")
    except Exception:  # noqa: BLE001 - only for the header
        return "?"


if __name__ == "__main__":
    main()
