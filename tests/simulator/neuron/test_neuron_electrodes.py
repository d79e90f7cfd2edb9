"""SEClamp, extracellular stimulation (xstim), ECP and multi-element reports of the NEURON backend, each
compared with bmtk's BioNet run on the same config in a child process (tests/simulator/neuron/bmtk_child.py).

bio_1cell places its synapses at explicit sections, so both simulators build the very same cell and the
numbers agree to float rounding: we allow 1e-4 mV on membrane potentials (100x bmtk-vs-bmtk rounding
seen here, 4e-6 mV, and still 1000x below the 0.1 mV the issue asks for traces) and 1e-6 relative to the
signal on ECP and synaptic currents.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.simulator.neuron.electrode_modules import line_source_transfer, waveform_values
from modelkit.simulator.neuron.mechanisms import compile_mechanisms
from modelkit.simulator.run import simulate
from modelkit.sonata import read_ecp

V_TOL = 1e-4  # mV
CHILD = Path(__file__).with_name("bmtk_child.py")


def _twin(bmtk_config, tmp_path: Path, name: str, edit, mk_edit=None, seclamp: dict | None = None):
    """Run one bio_1cell config through bmtk (child process) and modelkit; return both output folders."""
    cfg = bmtk_config("bio_1cell", name)
    d = json.loads(cfg.read_text())
    edit(d)
    d["output"]["output_dir"] = str(tmp_path / "bmtk")
    cfg.write_text(json.dumps(d))
    lib = compile_mechanisms(d["components"]["mechanisms_dir"])
    args = [sys.executable, str(CHILD), str(cfg), lib] + ([json.dumps(seclamp)] if seclamp else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    d["output"]["output_dir"] = str(tmp_path / "mk")
    if mk_edit:
        mk_edit(d)
    mine = tmp_path / "mk.json"
    mine.write_text(json.dumps(d))
    simulate(str(mine), progress=False)
    return tmp_path / "mk", tmp_path / "bmtk"


def _soma_v(folder: Path) -> np.ndarray:
    with h5py.File(folder / "membrane_potential.h5") as f:
        return f["report/biocell/data"][:, 0]


def test_seclamp_matches_bmtk(bmtk_config, tmp_path: Path) -> None:
    clamp = {"amps": [-70.0, -20.0, -60.0], "durations": [50.0, 80.0, 50.0], "rs": 0.5}

    def edit(d: dict) -> None:
        d["run"]["tstop"] = 200.0
        d["inputs"] = {}

    def mk(d: dict) -> None:
        d["inputs"] = {"vc": {"input_type": "current_clamp", "module": "SEClamp", "node_set": "biocell", **clamp}}
    ours, theirs = _twin(bmtk_config, tmp_path, "config.simulation_iclamp.json", edit, mk, clamp)
    a, b = _soma_v(ours), _soma_v(theirs)
    assert a.shape == b.shape == (2000,)
    print(f"SEClamp: max |v - v_bmtk| = {np.abs(a - b).max():.2e} mV")
    assert np.abs(a - b).max() < V_TOL
    # clamped at the step levels (within the drop across rs = 0.5 MΩ of the cell's own currents)
    assert abs(a[1000] - -20.0) < 2.0 and abs(a[400] - -70.0) < 2.0


def test_clamp_reports_match_bmtk(bmtk_config, tmp_path: Path) -> None:
    """bmtk's ``clamp_report``: the current of the SEClamps ("se"), of the current clamps given by numbers
    ("ic") and of those read from files ("f_ic") of each cell.

    bmtk 1.2 fills only its SEClamp list (its IClamp module keeps the clamps to itself, so its "ic" report
    has no column): "se" is compared with bmtk, "ic" and "f_ic" with the schedules given."""
    clamp = {"amps": [-70.0, -20.0, -60.0], "durations": [50.0, 80.0, 50.0], "rs": 0.5}
    steps = tmp_path / "steps.csv"
    steps.write_text("timestamps,amps\n0,0\n150,-0.2\n170,0.1\n180,0\n")

    def edit(d: dict) -> None:
        d["run"]["tstop"] = 200.0
        d["inputs"]["current_clamp_1"].update({"amp": 0.3, "delay": 20.0, "duration": 100.0})
        d["reports"] = {"se_clamp": {"module": "clamp_report", "variable_name": "se"}}

    def mk(d: dict) -> None:
        d["inputs"]["vc"] = {"input_type": "current_clamp", "module": "SEClamp", "node_set": "biocell", **clamp}
        d["inputs"]["steps"] = {"input_type": "csv", "module": "IClamp", "node_set": "biocell",
                                "file": str(steps)}
        d["reports"].update({"ic_clamp": {"module": "clamp_report", "variable_name": "ic"},
                             "f_ic_clamp": {"module": "clamp_report", "variable_name": "f_ic", "cells": "biocell"}})
    ours, theirs = _twin(bmtk_config, tmp_path, "config.simulation_iclamp.json", edit, mk, clamp)
    t = 0.1 * np.arange(1, 2001)  # frames at dt .. tstop
    inside = lambda a, b: (t > a + 0.05) & (t < b - 0.05)  # noqa: E731 - away from the switching steps
    with h5py.File(ours / "se_clamp.h5") as f, h5py.File(theirs / "se_clamp.h5") as g:
        rep = f["report/biocell"]
        assert rep["mapping/node_ids"][:].tolist() == [0] and rep["data"].attrs["units"] == "nA"
        x, y = rep["data"][:, 0], g["data"][:, 0]
        assert x.shape == y.shape == (2000,)
        before = t < 149.95  # the CSV clamp (modelkit's run only) starts at 150 ms
        err = np.abs(x - y)[before].max()
        print(f"SEClamp current: max |i - i_bmtk| = {err:.2e} nA (peak {np.abs(y).max():.3f} nA)")
        assert err <= 1e-6 * np.abs(y).max()
        # then the voltage clamp takes up the current the CSV clamp injects (settled within ~2 ms)
        assert np.allclose(np.abs(x - y)[inside(152, 170)], 0.2, atol=3e-3)
        assert np.allclose(np.abs(x - y)[inside(172, 180)], 0.1, atol=3e-3)
    with h5py.File(ours / "ic_clamp.h5") as f:  # 0.3 nA from 20 to 120 ms
        i = f["report/biocell/data"][:, 0]
        assert np.allclose(i[inside(20, 120)], 0.3) and np.all(i[(t < 19.95) | (t > 120.05)] == 0.0)
    with h5py.File(ours / "f_ic_clamp.h5") as f:  # the CSV's steps: -0.2 nA at 150-170 ms, 0.1 nA at 170-180
        i = f["report/biocell/data"][:, 0]
        assert np.allclose(i[inside(150, 170)], -0.2) and np.allclose(i[inside(170, 180)], 0.1)
        assert np.all(i[(t < 149.95) | (t > 180.05)] == 0.0)


def test_xstim_point_and_line_electrodes_match_bmtk(bmtk_config, tmp_path: Path) -> None:
    line = tmp_path / "line_mesh.csv"  # a 100-µm line electrode: 11 points along x
    line.write_text("x_pos y_pos z_pos\n" + "".join(f"{x} 0 0\n" for x in np.linspace(-50, 50, 11)))
    pos = tmp_path / "stim.csv"
    pos.write_text("electrode_mesh_file pos_x pos_y pos_z rotation_x rotation_y rotation_z\n"
                   f"{line.name} 120 -100 60 0 0 0.5\n"
                   f"{line.name} -150 0 0 0 1.5708 0\n")

    def edit(d: dict) -> None:
        d["run"]["tstop"] = 300.0
        d["inputs"] = {"xs": {"input_type": "lfp", "node_set": "all", "module": "xstim", "positions_file": str(pos),
                              "waveform": {"shape": "sin", "del": 50.0, "amp": 0.2, "dur": 200.0, "freq": 20.0}}}
    ours, theirs = _twin(bmtk_config, tmp_path, "config.simulation_iclamp.json", edit)
    a, b = _soma_v(ours), _soma_v(theirs)
    still, driven = (np.abs(np.diff(a[300:500])).max(), np.abs(np.diff(a[600:2400])).max())
    print(f"xstim: max |v - v_bmtk| = {np.abs(a - b).max():.2e} mV; largest step change of v before the "
          f"stimulus {still:.3f} mV, during it {driven:.3f} mV")
    assert np.abs(a - b).max() < V_TOL
    assert driven > 5 * still  # the 20-Hz field moves the soma


def test_ecp_compartment_and_synapse_reports_match_bmtk(bmtk_config, tmp_path: Path) -> None:
    # channels along a line away from the soma (at y = -100 µm), and one far away
    el = tmp_path / "electrodes.csv"
    el.write_text("channel x_pos y_pos z_pos\n0 20 -100 0\n1 60 -100 0\n2 150 -100 0\n3 400 -100 0\n4 0 2000 0\n")

    def edit(d: dict) -> None:
        d["run"]["tstop"] = 300.0
        d["reports"].update({
            "ecp": {"cells": "all", "module": "extracellular", "variable_name": "v", "electrode_positions": str(el),
                    "file_name": "ecp.h5", "contributions_dir": "ecp_cells"},
            "syn": {"cells": [0], "variable_name": "i", "module": "netcon_report", "sections": "soma",
                    "syn_type": "Exp2Syn", "file_name": "syn_i.h5"},
            "all_v": {"cells": [0], "variable_name": "v", "module": "membrane_report", "sections": "all",
                      "file_name": "all_v.h5"}})
    def mk(d: dict) -> None:  # bmtk 1.2's NWB converter writes the step count as the rate: ours only
        d["reports"]["ecp"]["file_name_nwb"] = "ecp.nwb"
    ours, theirs = _twin(bmtk_config, tmp_path, "config.simulation_syns.json", edit, mk)
    e1, e2 = read_ecp(ours / "ecp.h5"), read_ecp(theirs / "ecp.h5")
    assert e1.data.shape == e2.data.shape == (3000, 5)
    assert e1.time == pytest.approx(e2.time) == (0.0, 300.0, 0.1)  # bmtk's labels: frame j holds the ECP after step j
    amp = np.abs(e1.data).max(axis=0)
    err = np.abs(e1.data - e2.data).max(axis=0)
    print("ECP peak |V| per channel (mV):", np.array2string(amp, precision=3), "max diff to bmtk:",
          np.array2string(err, precision=1))
    assert np.all(err <= 1e-6 * amp)
    assert np.all(np.diff(amp) < 0)  # farther from the cell, smaller signal
    assert amp[0] > 1e-3 and amp[4] < 1e-2 * amp[0]
    from pynwb import NWBHDF5IO  # the NWB copy, read by pynwb: volts, seconds, Hz, electrode positions in µm
    with NWBHDF5IO(str(ours / "ecp.nwb"), "r") as io:
        series = io.read().acquisition["ElectricalSeries"]
        np.testing.assert_allclose(series.data[:] * series.conversion, e1.data * 1e-3, rtol=0, atol=1e-15)
        assert series.rate == pytest.approx(1e4) and series.starting_time == pytest.approx(0.0)
        table = series.electrodes.table.to_dataframe()
        assert table["x"].tolist() == [20, 60, 150, 400, 0] and table["y"].tolist() == [-100] * 4 + [2000]
        assert table["channel_id"].tolist() == [0, 1, 2, 3, 4]
    # contributions_dir: the one cell's own contribution, in bmtk's file name (bmtk's rows are frames)
    with h5py.File(ours / "ecp_cells" / "0.h5") as f, h5py.File(theirs / "ecp_cells" / "0.h5") as g:
        mine, bmtk = f["ecp/data"][:].T, g["ecp/data"][:]
        assert mine.shape == bmtk.shape == (3000, 5)
        assert np.all(np.abs(mine - bmtk).max(axis=0) <= 1e-6 * amp)
        np.testing.assert_allclose(mine, e1.data, rtol=0, atol=1e-12)  # one cell: its part is the whole ECP
    for name in ("syn_i.h5", "all_v.h5"):
        with h5py.File(ours / name) as f, h5py.File(theirs / name) as g:
            a, b = f["report/biocell"], g["report/biocell"]
            assert np.array_equal(a["mapping/element_ids"][:], b["mapping/element_ids"][:])
            assert np.allclose(a["mapping/element_pos"][:], b["mapping/element_pos"][:], atol=1e-6)
            assert np.allclose(a["mapping/time"][:], b["mapping/time"][:])  # bmtk's time axis
            x, y = a["data"][:], b["data"][:]
            assert x.shape == y.shape
            tol = V_TOL if name == "all_v.h5" else 1e-6 * np.abs(y).max()
            print(f"{name}: {x.shape[1]} elements, max diff to bmtk {np.abs(x - y).max():.2e}")
            assert np.abs(x - y).max() < tol
    with h5py.File(ours / "all_v.h5") as f:  # the soma segment of the all-sections report is the soma report
        assert np.array_equal(f["report/biocell/data"][:, 0], _soma_v(ours))


def test_directed_axon_stub_matches_bmtk(bmtk_config, corpus: Path, tmp_path: Path) -> None:
    """``aibs_perisomatic_directed``: the axon stub points along the reconstructed axon (bmtk's PCA, which needs
    scikit-learn). Only extracellular fields see the direction, so the ECP of both runs is compared, and with
    the plain stub's."""
    pytest.importorskip("sklearn", reason="bmtk's directed axon stubs need scikit-learn (a test dependency)")
    el = tmp_path / "electrodes.csv"  # beside the soma, where the 60-µm stub's current is seen
    el.write_text("channel x_pos y_pos z_pos\n0 30 -20 0\n1 -30 -20 0\n2 0 -40 25\n")

    def network(processing: str) -> Path:  # the Allen fit through bmtk's Biophys1 path (bio_1cell uses NeuroML)
        net = tmp_path / processing
        shutil.copytree(corpus / "bmtk" / "examples" / "bio_1cell" / "network", net)
        (net / "biocell_node_types.csv").write_text(
            "node_type_id pop_name morphology model_template model_type model_processing dynamics_params\n"
            f"100 Scnn1a Scnn1a_473845048_m.swc ctdb:Biophys1.hoc biophysical {processing} 472363762_fit.json\n")
        return net

    def edit(processing: str):  # noqa: ANN202 - a config editor for _twin
        def f(d: dict) -> None:
            d["run"]["tstop"] = 100.0
            d["manifest"]["$NETWORK_DIR"] = str(network(processing))
            d["reports"] = {"ecp": {"cells": "all", "module": "extracellular", "variable_name": "v",
                                    "electrode_positions": str(el), "file_name": "ecp.h5"}}
        return f
    results = {}
    for processing in ("aibs_perisomatic_directed", "aibs_perisomatic"):
        (tmp_path / f"run_{processing}").mkdir()
        ours, theirs = _twin(bmtk_config, tmp_path / f"run_{processing}", "config.simulation_syns.json",
                             edit(processing))
        a, b = read_ecp(ours / "ecp.h5").data, read_ecp(theirs / "ecp.h5").data
        amp = np.abs(b).max(axis=0)
        print(f"{processing}: ECP peak {np.array2string(amp, precision=4)} mV, max diff to bmtk "
              f"{np.array2string(np.abs(a - b).max(axis=0), precision=1)}")
        assert np.all(np.abs(a - b).max(axis=0) <= 1e-6 * amp)
        results[processing] = a
    a, c = results["aibs_perisomatic_directed"], results["aibs_perisomatic"]
    assert np.abs(a - c).max() > 1e-3 * np.abs(a).max()  # the direction changes the field


def test_line_source_is_a_point_source_far_away() -> None:
    p0, p1 = np.array([[0.0, 0.0, -5.0]]), np.array([[0.0, 0.0, 5.0]])
    sites = np.array([[1000.0, 0.0, 0.0], [0.0, 0.0, 2000.0], [3.0, 0.0, 0.0]])
    tr = line_source_transfer(sites, p0, p1)[:, 0]
    point = 1.0 / (4 * np.pi * 0.3 * np.array([1000.0, 2000.0]))  # mV per nA at r µm, σ = 0.3 S/m
    assert tr[:2] == pytest.approx(point, rel=1e-4)
    assert tr[2] > 1.0 / (4 * np.pi * 0.3 * 3.0) * 0.5  # near the segment: finite, of the 1/r order
    clipped = line_source_transfer(sites[2:], p0, p1, minimum_distance=10.0)[0, 0]
    assert clipped < tr[2]


def test_waveforms() -> None:
    t = np.arange(0, 10.0, 1.0)
    assert waveform_values({"shape": "dc", "del": 2.0, "dur": 3.0, "amp": 0.5}, t).tolist() == \
        [0, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0]
    s = waveform_values({"shape": "sin", "del": 0.0, "dur": 100.0, "amp": 1.0, "freq": 250.0, "phase": 0.0}, t)
    assert s[1] == pytest.approx(1.0) and s[3] == pytest.approx(-1.0)  # 250 Hz: a period of 4 ms


def test_a_stopped_run_keeps_its_ecp_up_to_the_stop(bmtk_config, tmp_path: Path) -> None:
    """Stopped at 150 ms of 300: <output>.stopped/ecp.h5 is a valid ECP file of the frames up to the stop, equal to
    the full run's first frames, with the stop time recorded (it used to be written only at the end: lost)."""
    from modelkit.errors import RunStoppedError

    el = tmp_path / "electrodes.csv"
    el.write_text("channel x_pos y_pos z_pos\n0 20 -100 0\n1 60 -100 0\n")
    cfg = bmtk_config("bio_1cell", "config.simulation_syns.json")
    d = json.loads(cfg.read_text())
    d["run"]["tstop"] = 300.0
    d["run"]["nsteps_block"] = 500  # 50 ms blocks
    d["reports"] = {"ecp": {"cells": "all", "module": "extracellular", "variable_name": "v",
                            "electrode_positions": str(el), "file_name": "ecp.h5"}}
    cfg.write_text(json.dumps(d))

    class StopAt:
        def spikes(self, population, node_ids, times):
            return None

        def progress(self, t, tstop):
            if t >= 150.0:
                raise RunStoppedError("stop")

    full = simulate(str(cfg), output_dir=tmp_path / "full", progress=False)
    with pytest.raises(RunStoppedError):
        simulate(str(cfg), output_dir=tmp_path / "part", progress=False, sinks=[StopAt()])
    whole, part = read_ecp(full.reports["ecp"]), read_ecp(tmp_path / "part.stopped" / "ecp.h5")
    with h5py.File(tmp_path / "part.stopped" / "ecp.h5") as f:
        stop = float(f["ecp"].attrs["stop_time"])
    assert stop == 150.0
    assert part.time == pytest.approx((0.0, 150.0, 0.1)) and part.data.shape == (1500, 2)  # bmtk's labels
    np.testing.assert_array_equal(part.data, whole.data[:1500])
