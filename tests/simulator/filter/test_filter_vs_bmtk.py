"""The same LGN cells and stimuli through bmtk's FilterNet (in a subprocess) and modelkit: rates within 5%."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.builder import NetworkBuilder
from modelkit.simulator import simulate

pytest.importorskip("bmtk")

# Allen LGN filter parameters, as the JSON files that bmtk's FilterNet examples ship (opt_wts/opt_kpeaks/opt_delays)
FILTERS = {
    "tON_TF8.json": {"opt_wts": [4.21848979193672, -2.404989833331929],
                     "opt_kpeaks": [8.524645232832142, 23.246816713624384], "opt_delays": [0, 0]},
    "sOFF_TF4.json": {"opt_wts": [3.229814878308509, -1.6587975171052909],
                      "opt_kpeaks": [22.246197660260687, 56.10036268151849], "opt_delays": [0, 15]},
    "sON_TF1.json": {"opt_wts": [1.0000309341936413, -0.4461605742545549],
                     "opt_kpeaks": [56.52557576288437, 137.4409331206289], "opt_delays": [0, 15]},
    "tOFF_TF15.json": {"opt_wts": [3.4416603571978417, -2.1155994819051305],
                       "opt_kpeaks": [8.269733598229024, 19.99148791096526], "opt_delays": [0, 0]},
    "sON_TF8.json": {"opt_wts": [3.7052596759285548, -1.7538397094416842],
                     "opt_kpeaks": [12.941033214060901, 28.27807659299407], "opt_delays": [0, 25]},
}

BMTK_RUNNER = """
import sys, warnings
warnings.filterwarnings("ignore")
from bmtk.simulator import filternet
config = filternet.Config.from_json(sys.argv[1])
config.build_env()
net = filternet.FilterNetwork.from_config(config)
sim = filternet.FilterSimulator.from_config(config, net)
sim.run()
"""


def write_lgn_network(root: Path, n_per_type: int = 2, screen: tuple[int, int] = (40, 60), seed: int = 3) -> Path:
    """LGN nodes of every model family (bmtk's layout: virtual nodes, lgnmodel templates) and their filter JSONs."""
    rng = np.random.default_rng(seed)
    comps = root / "filter_models"
    comps.mkdir(parents=True, exist_ok=True)
    for name, p in FILTERS.items():
        (comps / name).write_text(json.dumps(p))
    rows, cols = screen
    net = NetworkBuilder("lgn", seed=seed)

    def xy(n: int) -> dict:
        return {"x": rng.uniform(8, cols - 8, n), "y": rng.uniform(8, rows - 8, n)}
    k = n_per_type
    net.add_nodes(N=k, model_type="virtual", model_template="lgnmodel:tON_TF8", dynamics_params="tON_TF8.json",
                  spatial_size=rng.uniform(4, 10, k), **xy(k))
    net.add_nodes(N=k, model_type="virtual", model_template="lgnmodel:sOFF_TF4", dynamics_params="sOFF_TF4.json",
                  spatial_size=rng.uniform(4, 10, k), **xy(k))
    net.add_nodes(N=k, model_type="virtual", model_template="lgnmodel:sON_TF1", dynamics_params="sON_TF1.json",
                  spatial_size=rng.uniform(4, 10, k), **xy(k))
    net.add_nodes(N=k, model_type="virtual", model_template="lgnmodel:tOFF_TF15", dynamics_params="tOFF_TF15.json",
                  spatial_size=rng.uniform(4, 10, k), **xy(k))
    net.add_nodes(N=k, model_type="virtual", model_template="lgnmodel:sONsOFF_001", dynamics_params="sOFF_TF4.json",
                  non_dom_params="sON_TF8.json", spatial_size=rng.uniform(4, 10, k), sf_sep=rng.uniform(3, 6, k),
                  tuning_angle=rng.uniform(0, 360, k), **xy(k))
    net.add_nodes(N=k, model_type="virtual", model_template="lgnmodel:LGNOnOFFCell", dynamics_params="tON_TF8.json",
                  sigma_on="(2.0, 2.0)", sigma_off="(4.0, 4.0)", **xy(k))
    net.save(root / "network")
    return root


def write_config(root: Path, stimulus: dict, tstop: float, out: str) -> Path:
    cfg = {
        "target_simulator": "LGNModel",
        "run": {"tstart": 0.0, "tstop": tstop, "dt": 1.0},
        "inputs": {"LGN_input": {"input_type": "movie", **stimulus}},
        "output": {"output_dir": str(root / out), "log_file": "log.txt", "rates_h5": "rates.h5",
                   "rates_csv": "rates.csv", "spikes_file": "spikes.h5", "overwrite_output_dir": True},
        "components": {"filter_models_dir": str(root / "filter_models")},
        "networks": {"nodes": [{"nodes_file": str(root / "network/lgn_nodes.h5"),
                                "node_types_file": str(root / "network/lgn_node_types.csv")}]},
    }
    path = root / f"config_{out}.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def run_bmtk(config: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bmtk's FilterNet in a subprocess; its rates as (times ms, node ids, rates (times, nodes))."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-c", BMTK_RUNNER, str(config)], capture_output=True, text=True,
                          env=env, timeout=600, cwd=config.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(config.read_text())["output"]["output_dir"]
    with h5py.File(Path(out) / "rates.h5", "r") as f:
        g = f["firing_rates/lgn"]
        return g["times"][()] * 1000.0, g["node_id"][()].astype(np.int64), g["firing_rates_Hz"][()]


def read_rates(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        g = f["firing_rates/lgn"]
        return g["times"][()] * 1000.0, g["node_id"][()].astype(np.int64), g["firing_rates_Hz"][()]


STIMULI = {
    "grating": ({"module": "graiting", "row_size": 40, "col_size": 60, "cpd": 0.1, "temporal_f": 4.0,
                 "contrast": 0.8, "theta": 30.0, "phase": 10.0, "gray_screen_dur": 100.0, "frame_rate": 1000.0},
                600.0),
    "flash": ({"module": "full_field_flash", "row_size": 40, "col_size": 60, "t_on": 100.0, "t_off": 300.0,
               "max_intensity": 1.0, "frame_rate": 1000.0}, 500.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("stim", sorted(STIMULI))
def test_rates_match_bmtk_filternet(tmp_path, stim):
    root = write_lgn_network(tmp_path)
    params, tstop = STIMULI[stim]
    b_t, b_ids, b_rates = run_bmtk(write_config(root, params, tstop, "bmtk"))
    res = simulate(write_config(root, params, tstop, "mk"), progress=False)
    assert res.backend == "filter"
    m_t, m_ids, m_rates = read_rates(res.reports["rates"])
    np.testing.assert_array_equal(m_ids, b_ids)
    n = min(len(m_t), len(b_t))
    np.testing.assert_allclose(m_t[:n], b_t[:n], atol=1e-6)
    a, b = m_rates[:n], b_rates[:n]
    # within 5% of bmtk's rate at every time (1e-3 Hz floor for rates near 0), each cell type included
    scale = np.maximum(np.abs(b), 1e-3)
    assert np.max(np.abs(a - b) / scale) < 0.05
    # and they are far from trivial: the stimulus moves every cell
    assert (b.max(axis=0) - b.min(axis=0) > 1.0).all()
    # the CSV holds the same rates
    import pandas as pd
    df = pd.read_csv(res.reports["rates_csv"], sep=" ")
    assert list(df.columns) == ["node_id", "population", "timestamps", "firing_rates"]
    assert len(df) == m_rates.size
    sub = df[df.node_id == m_ids[3]]
    np.testing.assert_allclose(sub.firing_rates.to_numpy(), m_rates[:, 3], rtol=1e-9)
