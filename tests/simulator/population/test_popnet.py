"""bmtk PopNet (DiPDE) configs run with PopNet's semantics: one population per node type, run.dt in seconds,
rates CSVs keyed by node_type_id, output.rates_file as bmtk writes it; compared with bmtk 1.2.0 + DiPDE's
references (``shared/reference/bmtk-examples/ei_networks_popnet*``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelkit.builder import NetworkBuilder
from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.testing import copy_bmtk_examples

ROOT = Path(__file__).resolve().parents[3]


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, sep=" ", names=["population", "time", "rate"], header=None)


def _late_means(df: pd.DataFrame) -> dict:
    return df[df.time >= 1.0].groupby("population")["rate"].mean().to_dict()


def _beside_components(root: Path) -> None:
    """The config names ``../../population_components``; the suite's folder is ``pop_components`` (the
    reference's NOTE.txt does the same)."""
    os.symlink("pop_components", root / "population_components")


def test_shipped_example_runs_unchanged_from_the_cli_and_is_silent(tmp_path, reference):
    root = copy_bmtk_examples(tmp_path, "ei_networks")
    _beside_components(root)
    folder = root / "ei_networks" / "popnet"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "modelkit", "run", "config.json"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mine = folder / "output" / "spike_rates.txt"
    ref = reference / "bmtk-examples" / "ei_networks_popnet" / "spike_rates.txt"
    # bmtk's format: "population_id time firing_rate", space-separated, no header, time in s from 0
    a, b = mine.read_text().splitlines(), ref.read_text().splitlines()
    assert len(a) == len(b) == 40002
    assert [ln.split(" ")[:2] for ln in a] == [ln.split(" ")[:2] for ln in b]
    df = _read(mine)
    assert df.groupby("population").size().to_dict() == {100: 20001, 101: 20001}
    assert df.rate.max() < 1e-9  # silent, as bmtk's (1e-80 and 1e-19 Hz there)
    log = (folder / "output" / "log.txt").read_text()
    assert "PopNet (DiPDE) semantics: 2 populations by node_type_id (100, 101)" in log


def test_scaled_reference_rates_per_population(tmp_path, reference):
    """The scaled variant settles at 10.146 / 15.840 Hz after a transient that peaks near 26 / 22 Hz."""
    ref_dir = reference / "bmtk-examples" / "ei_networks_popnet_scaled"
    root = tmp_path / "R"
    shutil.copytree(ref_dir / "ei_networks", root / "ei_networks", copy_function=shutil.copy)
    for p in root.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    copy_bmtk_examples(root, "pop_components")
    _beside_components(root)
    res = simulate(str(root / "ei_networks" / "popnet" / "config.json"), progress=False)
    mine = _read(res.reports["rates_file"])
    ref = _read(ref_dir / "reference_output" / "spike_rates.txt")
    got, want = _late_means(mine), _late_means(ref)
    assert want == pytest.approx({100: 10.146, 101: 15.840}, rel=1e-3)
    for pop in (100, 101):
        assert got[pop] == pytest.approx(want[pop], rel=0.02)
        g, w = mine[mine.population == pop], ref[ref.population == pop]
        assert g.rate.max() == pytest.approx(w.rate.max(), rel=0.10)
        assert g.time.iloc[g.rate.argmax()] == pytest.approx(w.time.iloc[w.rate.argmax()], rel=0.10)
        # the same numerics as DiPDE: the whole trace agrees far inside the tolerances
        np.testing.assert_allclose(g.rate.to_numpy(), w.rate.to_numpy(), rtol=0, atol=1e-6)


# ------------------------------------------------------------------ small PopNet networks
EXC = {"tau_m": 0.02, "v_min": -0.02, "v_max": 0.02, "dv": 0.0005, "update_method": "gmres"}


def _popnet(tmp_path: Path, rates_csv: str | None = None, output: dict | None = None,
            exc_file: str = "exc.json") -> Path:
    """Two internal node populations sharing one node type (one PopNet population) plus an inhibitory
    type, driven by one external node type; returns the config path (target_simulator DiPDE)."""
    comps = tmp_path / "models"
    comps.mkdir(exist_ok=True)
    (comps / "exc.json").write_text(json.dumps(EXC))
    (comps / "inh.json").write_text(json.dumps({**EXC, "tau_m": 0.01}))
    net = NetworkBuilder("cortex")
    net.add_nodes(N=3, ei="e", model_type="population", model_template="dipde:Internal", dynamics_params=exc_file)
    net.add_nodes(N=2, ei="i", model_type="population", model_template="dipde:Internal", dynamics_params="inh.json")
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=1, nsyns=20, syn_weight=0.001,
                  delay=0.002)
    net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=1, nsyns=10, syn_weight=-0.001,
                  delay=0.002)
    ext = NetworkBuilder("ext")
    ext.add_nodes(N=4, model_type="virtual")
    ext.add_edges(target=net.nodes(), connection_rule=1, nsyns=50, syn_weight=0.001, delay=0.001)
    net.save(tmp_path / "network")
    ext.save(tmp_path / "network")
    ext_type = int(pd.read_csv(tmp_path / "network" / "ext_node_types.csv", sep=" ")["node_type_id"].iloc[0])
    (tmp_path / "rates.csv").write_text(rates_csv if rates_csv is not None else f"gid firing_rate\n{ext_type} 30\n")

    def files(kind: str, stem: str) -> dict:
        return {f"{kind}_file": f"$NETWORK_DIR/{stem}_{kind}.h5",
                f"{kind[:-1]}_types_file": f"$NETWORK_DIR/{stem}_{kind[:-1]}_types.csv"}
    cfg = {"manifest": {"$BASE_DIR": str(tmp_path), "$NETWORK_DIR": "$BASE_DIR/network",
                        "$OUTPUT_DIR": "$BASE_DIR/output"},
           "target_simulator": "DiPDE",
           "run": {"tstop": 100.0, "dt": 0.0001, "overwrite_output_dir": True},
           "components": {"population_models_dir": "$BASE_DIR/models"},
           "inputs": {"ext_rates": {"input_type": "csv", "module": "pop_rates", "rates": "$BASE_DIR/rates.csv",
                                    "node_set": "ext"}},
           "output": output or {"rates_file": "$OUTPUT_DIR/spike_rates.txt", "log_file": "$OUTPUT_DIR/log.txt"},
           "networks": {"nodes": [files("nodes", "cortex"), files("nodes", "ext")],
                        "edges": [files("edges", "cortex_cortex"), files("edges", "ext_cortex")]}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def test_rates_csv_keyed_by_node_type_id_one_population_per_node_type(tmp_path):
    res = simulate(str(_popnet(tmp_path)), progress=False)
    df = _read(res.reports["rates_file"])
    types = pd.read_csv(tmp_path / "network" / "cortex_node_types.csv", sep=" ")
    e_type, i_type = (int(types.node_type_id[types.ei == x].iloc[0]) for x in ("e", "i"))
    assert df.groupby("population").size().to_dict() == {e_type: 1001, i_type: 1001}  # 5 nodes, 2 types
    np.testing.assert_allclose(df.time[df.population == e_type], np.arange(1001) * 1e-4)
    late = df[df.time >= 0.05].groupby("population")["rate"].mean()
    assert late[e_type] > 1.0 and late[i_type] > 1.0  # the 30 Hz input (by node_type_id) drives both
    # bmtk's PopNet configs say run.overwrite_output_dir: a second run replaces the output
    again = simulate(str(tmp_path / "config.json"), progress=False)
    assert _read(again.reports["rates_file"]).equals(df)


def test_rates_csv_keyed_by_node_id_is_an_error_naming_file_and_key(tmp_path):
    cfg = _popnet(tmp_path, rates_csv="gid firing_rate\n0 30\n")
    with pytest.raises(ConfigError) as ei:
        simulate(str(cfg), progress=False)
    msg = str(ei.value)
    assert "rates.csv" in msg and "gid" in msg and "node_type_id" in msg and "ids [0]" in msg


def test_missing_population_model_file_names_node_type_and_file(tmp_path):
    cfg = _popnet(tmp_path, exc_file="nowhere.json")
    with pytest.raises(ConfigError) as ei:
        simulate(str(cfg), progress=False)
    msg = str(ei.value)
    assert "cortex_node_types.csv" in msg and "node_type_id" in msg and "nowhere.json" in msg
    assert "population_models_dir" in msg


def test_rates_file_outside_the_output_folder_goes_inside_it_and_the_log_says(tmp_path):
    cfg = _popnet(tmp_path, output={"output_dir": "$OUTPUT_DIR", "rates_file": "$BASE_DIR/elsewhere/rates.txt"})
    res = simulate(str(cfg), progress=False)
    assert Path(res.reports["rates_file"]) == tmp_path / "output" / "rates.txt"
    assert not (tmp_path / "elsewhere").exists()
    assert "outside the output folder" in (tmp_path / "output" / "log.txt").read_text()
    # --output moves it along with the output folder
    res2 = simulate(str(cfg), output_dir=tmp_path / "other", progress=False)
    assert Path(res2.reports["rates_file"]) == tmp_path / "other" / "rates.txt"
    assert _read(res2.reports["rates_file"]).equals(_read(res.reports["rates_file"]))
