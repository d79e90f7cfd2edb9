"""NEURON on real MPI ranks (``mpiexec`` from the mpich wheel): the same spikes and reports on 1, 2 and 4
ranks, whatever the cell distribution; launches whose ranks would run serial copies stop before writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.simulator.neuron.distribute import assign_ranks
from modelkit.sonata import CompartmentReport, read_ecp, read_spikes
from modelkit.testing import intfire_network

BIN = os.path.dirname(sys.executable)
MPIEXEC = os.path.join(BIN, "mpiexec")

pytestmark = pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="mpiexec (pip install mpich) is not installed")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS",
                                                            "PMIX_SIZE", "MPI_LIB_NRN_PATH")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def mk_run(n: int, config: Path, out: Path, *, env: dict[str, str] | None = None,
           timeout: float = 300, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``mpiexec -n N python -m modelkit run CONFIG --output OUT`` (n = 0: no launcher at all)."""
    cmd = [sys.executable, "-m", "modelkit", "run", str(config), "--output", str(out), "--quiet", "--backend", "neuron",
           *extra]
    if n:
        cmd = [MPIEXEC, "-n", str(n), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env or _env())


def assert_same_outputs(a: Path, b: Path, reports: tuple[str, ...]) -> int:
    """Identical spikes files, reports equal to float tolerance; returns the number of spikes."""
    sa, sb = read_spikes(a / "spikes.h5"), read_spikes(b / "spikes.h5")
    assert set(sa) == set(sb)
    n = 0
    for pop in sa:
        np.testing.assert_array_equal(sa[pop].node_ids, sb[pop].node_ids)
        np.testing.assert_array_equal(sa[pop].timestamps, sb[pop].timestamps)
        n += len(sa[pop].node_ids)
    for name in reports:
        ra, rb = CompartmentReport(a / f"{name}.h5"), CompartmentReport(b / f"{name}.h5")
        for pop in ra.populations:
            da, db = ra[pop], rb[pop]
            np.testing.assert_array_equal(da.node_ids, db.node_ids)
            np.testing.assert_array_equal(da.index_pointers, db.index_pointers)
            np.testing.assert_array_equal(da.element_ids, db.element_ids)
            assert np.isfinite(db.data()).all()  # every rank's columns arrived
            np.testing.assert_allclose(da.data(), db.data(), rtol=0, atol=1e-9)
    return n


# ------------------------------------------------------------------------------------------- distribution
def test_assign_ranks_round_robin_and_balanced() -> None:
    cost = np.array([10.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10])
    np.testing.assert_array_equal(assign_ranks(cost, 3, "round_robin"), np.arange(12) % 3)
    r = assign_ranks(cost, 3, "balanced")
    load = np.bincount(r, weights=cost, minlength=3)
    assert load.max() - load.min() <= 1.0 and sorted(load) == [10.0, 10.0, 10.0]
    assert r[0] != r[11]  # the two heavy cells apart
    np.testing.assert_array_equal(assign_ranks(cost, 1, "balanced"), np.zeros(12))
    from modelkit.errors import ConfigError
    with pytest.raises(ConfigError, match="balanced, round_robin"):
        assign_ranks(cost, 2, "random")


# ------------------------------------------------------------------------------------ IntFire network
@pytest.fixture(scope="module")
def intfire_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 IntFire1 cells (exc/inh, recurrent) driven by 30 virtual Poisson inputs, made with modelkit's builder."""
    d = tmp_path_factory.mktemp("intfire")
    cfg = intfire_network(d)
    cfg["reports"] = {"m": {"cells": {"population": "cortex", "node_id": [0, 1, 2, 3, 40, 61, 79]},
                            "variable_name": "m", "module": "membrane_report"}}
    path = d / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def _with(config: Path, **run: object) -> Path:
    cfg = json.loads(config.read_text())
    cfg["run"].update(run)
    path = config.with_name(f"config_{'_'.join(f'{k}-{v}' for k, v in run.items())}.json")
    path.write_text(json.dumps(cfg))
    return path


def test_intfire_network_same_spikes_on_1_2_and_4_ranks(intfire_config: Path, tmp_path: Path) -> None:
    runs = [(1, intfire_config), (2, intfire_config), (4, _with(intfire_config, rank_distribution="round_robin"))]
    for n, cfg in runs:
        r = mk_run(n, cfg, tmp_path / f"n{n}")
        assert r.returncode == 0, r.stderr[-3000:]
        assert r.stdout.count("simulated in") == 1  # rank 0 alone reports the run
    log = (tmp_path / "n4" / "log.txt").read_text()
    assert "round_robin distribution over 4 ranks" in log
    assert "balanced distribution over 2 ranks" in (tmp_path / "n2" / "log.txt").read_text()
    n1 = assert_same_outputs(tmp_path / "n1", tmp_path / "n2", ("m",))
    assert assert_same_outputs(tmp_path / "n1", tmp_path / "n4", ("m",)) == n1
    assert n1 > 200  # the network is active, recurrent spikes cross ranks


# ------------------------------------------------------------------------------------------ bio_14cells
@pytest.fixture
def bio14(bmtk_config, tmp_path: Path) -> Path:
    path = bmtk_config("bio_14cells", "config.simulation.json")
    cfg = json.loads(path.read_text())
    cfg["run"]["tstop"] = 500.0
    cfg["reports"].pop("syn_report", None)  # compared here: soma v and cai, v of every segment of 3 cells, ECP
    cfg["reports"]["all_v"] = {"cells": [0, 5, 9], "variable_name": "v", "module": "membrane_report",
                               "sections": "all"}
    el = tmp_path / "electrodes.csv"
    el.write_text("channel x_pos y_pos z_pos\n0 0 -100 0\n1 0 0 50\n2 300 200 0\n")
    cfg["reports"]["ecp"] = {"module": "extracellular", "variable_name": "v", "electrode_positions": str(el),
                             "contributions_dir": "ecp_cells"}
    path.write_text(json.dumps(cfg))
    return path


def test_bio_14cells_same_spikes_and_reports_on_1_and_2_ranks(bio14: Path, tmp_path: Path) -> None:
    for n in (1, 2):
        r = mk_run(n, bio14, tmp_path / f"n{n}")
        assert r.returncode == 0, r.stderr[-3000:]
    assert "balanced distribution over 2 ranks" in (tmp_path / "n2" / "log.txt").read_text()
    n = assert_same_outputs(tmp_path / "n1", tmp_path / "n2", ("membrane_potential", "calcium_concentration",
                                                               "all_v"))
    assert n > 30
    e1, e2 = read_ecp(tmp_path / "n1" / "ecp.h5"), read_ecp(tmp_path / "n2" / "ecp.h5")
    np.testing.assert_allclose(e1.data, e2.data, rtol=0, atol=1e-9)
    # one contribution file per biophysical cell (not the 4 IntFire1 cells); they add up to the ECP
    files = sorted(os.listdir(tmp_path / "n2" / "ecp_cells"), key=lambda f: int(f.split(".")[0]))
    assert files == [f"{i}.h5" for i in range(10)]
    total = np.zeros_like(e2.data)
    for name in files:
        with h5py.File(tmp_path / "n1" / "ecp_cells" / name) as f, h5py.File(tmp_path / "n2" / "ecp_cells" / name) as g:
            a, b = f["ecp/data"][:].T, g["ecp/data"][:].T
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
            total += b
    np.testing.assert_allclose(total, e2.data, rtol=0, atol=1e-9 * np.abs(e2.data).max())
    assert np.abs(e2.data).max() > 1e-5  # a signal, not zeros


@pytest.mark.slow  # the first CoreNEURON build of bmtk's 25 mechanisms: ~1-2 min on 2 cores, then cached
def test_bio_14cells_under_coreneuron_on_1_and_2_ranks(bio14: Path, tmp_path: Path) -> None:
    """bmtk's bio_14cells unchanged (its IntFire1 cells, NaV in its PV cells, vecevent.mod in its mechanisms
    folder): CoreNEURON gives NEURON's spikes and reports on one process and on 2 MPI ranks."""
    r = mk_run(0, bio14, tmp_path / "neuron")
    assert r.returncode == 0, r.stderr[-3000:]
    for n in (1, 2):  # one rank first: it compiles the CoreNEURON library that both ranks then load
        r = mk_run(n, bio14, tmp_path / f"core{n}", extra=("--coreneuron",), timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "neuron (CoreNEURON): 500 ms simulated" in r.stdout, r.stdout
        spikes = assert_same_outputs(tmp_path / "neuron", tmp_path / f"core{n}",
                                     ("membrane_potential", "calcium_concentration", "all_v"))
        assert spikes > 30
        e1, e2 = read_ecp(tmp_path / "neuron" / "ecp.h5"), read_ecp(tmp_path / f"core{n}" / "ecp.h5")
        np.testing.assert_allclose(e1.data, e2.data, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- launches that cannot run
def _nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if ".partial" in p]


def test_neuron_without_mpi_under_mpiexec_stops(intfire_config: Path, tmp_path: Path) -> None:
    """NEURON's MPI library cannot be loaded: NEURON sees 1 rank under ``mpiexec -n 2``; both ranks stop
    before building, and no output folder appears (the log is kept in ``<out>.failed``)."""
    out = tmp_path / "out"
    r = mk_run(2, intfire_config, out, env=_env(MPI_LIB_NRN_PATH=str(tmp_path / "no-such-libmpi.so")))
    assert r.returncode == 2, r.stderr[-3000:]
    assert r.stderr.count("modelkit: neuron: the MPI launcher started 2 ranks but NEURON runs on 1") == 2
    _nothing_written(tmp_path, out)
    assert "simulated in" not in r.stdout


def test_ranks_that_do_not_see_each_other_stop_before_writing(intfire_config: Path, tmp_path: Path) -> None:
    """A launcher said 2 ranks but MPI sees 1 (mpi4py for another MPI): no rank writes anything."""
    out = tmp_path / "out"
    r = mk_run(0, intfire_config, out, env=_env(PMI_SIZE="2"))
    assert r.returncode == 2, r.stderr[-3000:]
    assert "launcher started 2 ranks but MPI (mpi4py) sees 1" in r.stderr
    _nothing_written(tmp_path, out)
    assert not (tmp_path / "out.failed").exists()


@pytest.mark.parametrize("bad", ["synapses", "seclamp"])
def test_an_error_on_one_rank_stops_every_rank(corpus: Path, mechanisms_dir: Path, tmp_path: Path, bad: str) -> None:
    """Synapses onto apical dendrites of a cell that has none, or an SEClamp input (set up after the cells) on
    its apical dendrite: only the rank owning that cell sees it; the other rank must stop too (instead of
    waiting forever in the spike exchange)."""
    from modelkit.builder import NetworkBuilder
    comps = corpus / "bmtk" / "examples" / "bio_components"
    net = NetworkBuilder("bio")
    for morph, fit in (("Scnn1a_473845048_m.swc", "472363762_fit.json"),
                       ("Pvalb_470522102_m.swc", "472912177_fit.json")):  # Pvalb: no apical dendrite
        net.add_nodes(N=1, model_type="biophysical", model_template="ctdb:Biophys1.hoc",
                      model_processing="aibs_perisomatic", morphology=morph, dynamics_params=fit)
    src = NetworkBuilder("src")
    src.add_nodes(N=2, model_type="virtual")
    src.add_edges(target=net.nodes(), connection_rule=1, syn_weight=1e-3, delay=2.0, model_template="Exp2Syn",
                  dynamics_params="AMPA_ExcToExc.json", target_sections=["apical" if bad == "synapses" else "basal"],
                  distance_range=[0.0, 1e4])
    net.save(tmp_path / "network")
    src.save(tmp_path / "network")
    cfg = {"run": {"tstop": 10.0, "dt": 0.1, "dL": 20.0},
           "components": {"morphologies_dir": str(comps / "morphologies"), "mechanisms_dir": str(mechanisms_dir),
                          "biophysical_neuron_models_dir": str(comps / "biophysical_neuron_templates" / "ctdb"),
                          "synaptic_models_dir": str(comps / "synaptic_models")},
           "networks": {"nodes": [{"nodes_file": str(tmp_path / "network" / f"{n}_nodes.h5"),
                                   "node_types_file": str(tmp_path / "network" / f"{n}_node_types.csv")}
                                  for n in ("bio", "src")],
                        "edges": [{"edges_file": str(tmp_path / "network" / "src_bio_edges.h5"),
                                   "edge_types_file": str(tmp_path / "network" / "src_bio_edge_types.csv")}]},
           "output": {"output_dir": str(tmp_path / "out"), "spikes_file": "spikes.h5"}}
    if bad == "seclamp":
        cfg["inputs"] = {"vc": {"input_type": "current_clamp", "module": "SEClamp", "node_set": "bio",
                                "amps": [-70, -70, -70], "durations": [5, 0, 0], "section_name": "apic"}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = mk_run(2, tmp_path / "config.json", tmp_path / "out", timeout=120)
    assert r.returncode == 2, r.stderr[-3000:]
    key = "target_sections" if bad == "synapses" else "SEClamp: section apic[0]"
    assert "bio[1]" in r.stderr and key in r.stderr  # the owner names the cell and the key
    assert "modelkit: neuron: rank " in r.stderr and " failed: ConfigError" in r.stderr  # the other rank says who
    _nothing_written(tmp_path, tmp_path / "out")
