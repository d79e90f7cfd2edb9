"""Electrode inputs and reports: voltage clamps (``SEClamp``), extracellular stimulation (``xstim``) and the
extracellular potential (``extracellular`` / ``ecp`` report), as bmtk's BioNet configures them.

The physics here is simulator-neutral numpy (waveforms, transfer resistances, the
line-source approximation); a backend with the abilities of :mod:`modelkit.simulator.abilities`
(``add_voltage_clamp``, ``segment_geometry``, ``play_extracellular``, ``record_segments``; the NEURON
backend has them) runs them.  Units: mV, ms, MΩ, µm, nA; σ in S/m, ρ in Ω·cm.
"""

from __future__ import annotations

import json
import logging
import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.abilities import ExtracellularFields, RecordsSections, VoltageClamps
from modelkit.simulator.base import ConfigModule
from modelkit.sonata.config import InputSpec, ReportSpec
from modelkit.sonata.nodes import euler_matrix, rotation_matrix

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation

__all__ = ["SEClampInput", "XStimInput", "EcpReport", "waveform_values", "stimulus_transfer", "line_source_transfer",
           "read_electrodes", "euler_matrix", "rotation_matrix"]

log = logging.getLogger("modelkit.simulator")

#: S/m, extracellular conductivity of the ECP report (bmtk's value)
SIGMA = 0.3
#: Ω·cm, extracellular resistivity of xstim (bmtk's default ``resistance``)
RHO = 300.0
#: µm, xstim electrodes closer than this to a segment centre are refused (bmtk's rule)
MIN_XSTIM_DISTANCE = 10.0


def _need(sim: Simulation, ability: type, method: str, key: str) -> Any:
    """The backend's ``method`` where it has the ``ability``; else the ConfigError naming ``key``."""
    if not isinstance(sim.backend, ability):
        raise ConfigError(sim.config.path, key, f"a backend with {method} (the NEURON backend)",
                          type(sim.backend).__name__)
    return getattr(sim.backend, method)


def _targets(sim: Simulation, node_set: Any, key: str) -> dict[str, np.ndarray]:
    """Built node ids per population of a node set (all built cells when None or bmtk's ``"all"``)."""
    if node_set is None or (node_set == "all" and "all" not in sim.network.node_sets.names):
        return {p: s.flat for p, s in sim.built.items() if len(s)}
    out = {}
    for pop, sel in sim.resolve(node_set, key).items():
        built = sim.built.get(pop)
        if built is not None and len(built & sel):
            out[pop] = (built & sel).flat
    return out


# ------------------------------------------------------------------------------------------------ SEClamp
def _three(value: Any, n: int, key: str, path: Any) -> np.ndarray:
    """(n, 3) from a scalar, one 3-list shared by all cells, or one scalar / 3-list per cell (bmtk's rules)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return np.full((n, 3), float(a))
    if a.ndim == 1 and len(a) == 3 and n != 3:
        return np.tile(a, (n, 1))
    if a.ndim == 1 and len(a) == n:
        return np.repeat(a[:, None], 3, axis=1)
    if a.ndim == 2 and a.shape == (1, 3):
        return np.tile(a, (n, 1))
    if a.ndim == 2 and a.shape == (n, 3):
        return a
    raise ConfigError(path, key, f"a value, a list of 3, or one of those per cell ({n} cells)", f"shape {a.shape}")


class SEClampInput(ConfigModule[InputSpec]):
    """Single-electrode voltage clamps (NEURON's ``SEClamp``) at the soma (or ``section_name[section_index]``
    at ``section_dist``).

    Two forms, as bmtk has them:

    * ``amps`` (mV) and ``durations`` (ms): the clamp's three steps, one set for all cells or one per
      cell (a scalar means the same value for all three steps); optional ``rs`` (MΩ);
    * ``amp`` (mV), ``delay`` and ``duration`` (ms), optional ``resistance`` (MΩ, default 1): clamped
      to ``amp`` from ``delay`` for ``duration``, free (series resistance 10^20 MΩ) before and after.
    """

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name, spec)
        self.clamps: list = []

    def initialize(self, sim: Simulation) -> None:
        p = self.spec.params
        key = f"inputs.{self.name}"
        add = _need(sim, VoltageClamps, "add_voltage_clamp", f"{key}.module")
        section = (str(p.get("section_name", "soma")), int(p.get("section_index", 0)), float(p.get("section_dist",
                                                                                                    0.5)))
        targets = _targets(sim, self.spec.node_set, f"{key}.node_set")
        n = sum(len(v) for v in targets.values())
        k = 0
        for pop, ids in targets.items():
            rows = slice(k, k + len(ids))
            k += len(ids)
            if "amps" in p or "durations" in p:
                if "amps" not in p or "durations" not in p:
                    raise ConfigError(sim.config.path, f"{key}.amps", "amps (mV) and durations (ms) together",
                                      "only one of them")
                amps = _three(p["amps"], n, f"{key}.amps", sim.config.path)[rows]
                durs = _three(p["durations"], n, f"{key}.durations", sim.config.path)[rows]
                rs = p.get("rs")
                rs_a = None if rs is None else np.broadcast_to(np.asarray(rs, dtype=float), (n,))[rows]
                self.clamps += add(pop, ids, amps, durs, rs_a, None, section)
                continue
            missing = [x for x in ("amp", "delay", "duration") if x not in p]
            if missing:
                raise ConfigError(sim.config.path, f"{key}.{missing[0]}",
                                  "amps with durations, or amp (mV), delay and duration (ms)", "absent")
            d, w, a = float(p["delay"]), float(p["duration"]), float(p["amp"])
            amps = np.tile([0.0, a, 0.0], (len(ids), 1))
            durs = np.tile([d, w, 0.0], (len(ids), 1))
            rs_on = float(p.get("resistance", 1.0))
            schedule = (np.array([0.0, d, d + w]), np.array([1e20, rs_on, 1e20]))
            self.clamps += add(pop, ids, amps, durs, None, schedule, section)
        log.info("input %s: %d voltage clamps on this rank", self.name, len(self.clamps))


# ------------------------------------------------------------------------------------------------ xstim
def waveform_values(waveform: Any, t: np.ndarray, base_dir: str = "", where: str = "waveform") -> np.ndarray:
    """The stimulus (mA) at times ``t`` (ms) of bmtk's xstim waveform: ``{"shape": "dc"|"sin", "del", "dur",
    "amp", "freq" (Hz), "phase" (rad, default π), "offset"}``, a JSON file of it, or a CSV of
    ``time amplitude`` (linearly interpolated).  ``dc`` and ``sin`` are on for ``del < t < del + dur``."""
    if isinstance(waveform, str):
        path = waveform if os.path.isabs(waveform) else os.path.join(base_dir, waveform)
        if path.endswith(".csv"):
            import pandas as pd

            from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
            check_regular_file(path, "waveform CSV", MAX_CSV_BYTES)  # a FIFO would block read_csv
            try:
                df = pd.read_csv(path, sep=r"[\s,]+", engine="python")
                return np.interp(t, df["time"].to_numpy(float), df["amplitude"].to_numpy(float))
            except (OSError, KeyError, ValueError) as e:
                raise ConfigError(path, where, "a CSV with columns time (ms) and amplitude (mA)", str(e)) from e
        from modelkit.sonata.textfile import MAX_JSON_BYTES, read_text
        text = read_text(path, "waveform JSON file", MAX_JSON_BYTES)  # regular file, size cap
        try:
            waveform = json.loads(text)
        except ValueError as e:
            raise ConfigError(path, where, "a waveform JSON file or CSV", str(e)) from e
    if not isinstance(waveform, dict):
        raise ConfigError(None, where, "a waveform dict, JSON file or CSV", repr(waveform))
    shape = str(waveform.get("shape", "")).lower()
    try:
        amp, delay, dur = float(waveform["amp"]), float(waveform["del"]), float(waveform["dur"])
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(None, f"{where}.{e.args[0] if isinstance(e, KeyError) else 'amp'}",
                          "amp (mA), del and dur (ms)", "absent or not a number") from e
    on = (t > delay) & (t < delay + dur)
    if shape == "dc":
        return np.where(on, amp, 0.0)
    if shape == "sin":
        if "freq" not in waveform:
            raise ConfigError(None, f"{where}.freq", "a frequency (Hz) for a sin waveform", "absent")
        khz = float(waveform["freq"]) / 1000.0
        v = amp * np.sin(2 * np.pi * khz * t + float(waveform.get("phase", np.pi))) + float(waveform.get("offset", 0))
        return np.where(on, v, 0.0)
    raise ConfigError(None, f"{where}.shape", "dc or sin (or a CSV waveform file)", repr(waveform.get("shape")))


def _electrode_sites(path: str, mesh_dir: str | None) -> list[np.ndarray]:
    """Points (m, 3) of each stimulating electrode: its mesh (or one point) rotated by ``rotation_x/y/z`` and
    centred on ``pos_x/y/z`` (µm), as bmtk's StimXElectrode places them."""
    df = _read_table(path, ("pos_x", "pos_y", "pos_z"))
    base = mesh_dir or os.path.dirname(os.path.abspath(path))
    sites = []
    for _, row in df.iterrows():
        mesh = np.zeros((1, 3))
        mf = row.get("electrode_mesh_file")
        if isinstance(mf, str) and mf:
            mp = mf if os.path.isabs(mf) else os.path.join(base, mf)
            m = _read_table(mp, ("x_pos", "y_pos", "z_pos"))
            mesh = m[["x_pos", "y_pos", "z_pos"]].to_numpy(float)
        rot = [float(row.get(f"rotation_{a}", 0.0) or 0.0) for a in "xyz"]
        mesh = mesh @ euler_matrix(rot).T
        centre = np.array([row["pos_x"], row["pos_y"], row["pos_z"]], dtype=float)
        sites.append(mesh - mesh.mean(axis=0) + centre)
    return sites


def _read_table(path: str, columns: tuple[str, ...]) -> Any:
    import pandas as pd
    if not os.path.exists(path):
        raise ConfigError(path, None, f"an existing electrode CSV with columns {', '.join(columns)}", "no such file")
    from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
    check_regular_file(path, "electrode CSV", MAX_CSV_BYTES)  # a FIFO would block read_csv
    try:
        df = pd.read_csv(path, sep=r"[\s,]+", engine="python")
    except (OSError, ValueError) as e:
        raise ConfigError(path, None, f"a CSV with columns {', '.join(columns)}", str(e)) from e
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(path, ", ".join(missing), f"columns {', '.join(columns)}", f"columns {list(df.columns)}")
    return df


def stimulus_transfer(sites: list[np.ndarray], mid: np.ndarray, rho: float, where: str,
                      path: str | None = None) -> np.ndarray:
    """mV per mA of stimulus at segment centres ``mid`` (n, 3) µm from point sources ``sites`` in a medium of
    resistivity ``rho`` (Ω·cm); each electrode's current is shared by its mesh points (bmtk's scaling)."""
    coef = np.zeros(len(mid))
    for pts in sites:
        r = np.sqrt(((mid[None, :, :] - pts[:, None, :]) ** 2).sum(axis=2))
        if (r < MIN_XSTIM_DISTANCE).any():
            raise ConfigError(path, where, f"stimulating electrodes at least {MIN_XSTIM_DISTANCE} µm from every "
                              f"segment centre", f"{r.min():.3g} µm")
        coef += (1.0 / r).sum(axis=0) / len(pts)
    return coef * rho / (4 * math.pi) * 0.01 * 1e6


class XStimInput(ConfigModule[InputSpec]):
    """Extracellular stimulation (bmtk's ``xstim``): electrodes from ``positions_file`` (``pos_x pos_y pos_z``,
    optional ``rotation_x/y/z`` and ``electrode_mesh_file`` for extended, e.g. line, electrodes, found in
    ``mesh_files_dir``), driven by ``waveform`` in a homogeneous medium of resistivity ``resistance``
    (Ω·cm, default 300); sets ``e_extracellular`` of every segment of the cells of ``node_set`` (default:
    every biophysical cell)."""

    def initialize(self, sim: Simulation) -> None:
        p = self.spec.params
        key = f"inputs.{self.name}"
        geometry = _need(sim, ExtracellularFields, "segment_geometry", f"{key}.module")
        play = _need(sim, ExtracellularFields, "play_extracellular", f"{key}.module")
        path = p.get("positions_file")
        if not path:
            raise ConfigError(sim.config.path, f"{key}.positions_file", "a CSV of electrode positions", "absent")
        if "waveform" not in p:
            raise ConfigError(sim.config.path, f"{key}.waveform", "a waveform (dict, JSON file or CSV)", "absent")
        sites = _electrode_sites(path, p.get("mesh_files_dir"))
        opts = sim.options
        n = int(round((opts.tstop - opts.tstart) / opts.dt)) + 1
        t = opts.tstart + opts.dt * np.arange(n)
        w = waveform_values(p["waveform"], t, sim.config.base_dir, f"{key}.waveform")
        w[0] = 0.0  # bmtk first sets the field after the first step
        change = np.concatenate(([0], np.flatnonzero(np.diff(w)) + 1))
        rho = float(p.get("resistance", RHO))
        for pop, ids in _targets(sim, self.spec.node_set, f"{key}.node_set").items():
            coefs = {nid: stimulus_transfer(sites, g.mid, rho, f"{key}: cell {pop}[{nid}]", path)
                     for nid, g in geometry(pop, ids).items()}
            play(pop, coefs, t[change], w[change])
        log.info("input %s: %d electrodes, waveform changing %d times", self.name, len(sites), len(change))


# ------------------------------------------------------------------------------------------------ ECP
def read_electrodes(path: str) -> np.ndarray:
    """Recording sites (n, 3) µm from a CSV with ``x_pos y_pos z_pos`` (space or comma separated)."""
    return _read_table(path, ("x_pos", "y_pos", "z_pos"))[["x_pos", "y_pos", "z_pos"]].to_numpy(float)


def line_source_transfer(sites: np.ndarray, p0: np.ndarray, p1: np.ndarray, diam: np.ndarray | None = None,
                         minimum_distance: Any = None, sigma: float = SIGMA) -> np.ndarray:
    """mV per nA: the potential at ``sites`` (m, 3) of unit currents spread evenly along segments from ``p0``
    to ``p1`` (n, 3) µm, in a medium of conductivity ``sigma`` (S/m) (the line-source approximation, as bmtk's
    RecXElectrode).  ``minimum_distance`` (µm, or ``"auto"`` = segment radius) bounds the distance of a site
    from a segment's axis when the site lies beside the segment."""
    dl = p1 - p0
    mid = (p0 + p1) / 2.0
    length = np.linalg.norm(dl, axis=1)
    length = np.where(length > 0, length, 1e-9)
    rel = sites[:, None, :] - mid[None, :, :]
    r2 = (rel ** 2).sum(axis=2)
    rll = np.abs((rel * dl[None, :, :]).sum(axis=2) / length)
    rt2 = np.maximum(r2 - rll ** 2, 0.0)
    up, low = rll + length / 2, rll - length / 2
    if minimum_distance:
        if minimum_distance == "auto" and diam is None:
            raise ValueError("minimum_distance 'auto' needs the segment diameters")
        rm = (np.asarray(diam) / 2.0) if minimum_distance == "auto" else float(minimum_distance)
        rm2 = np.broadcast_to(np.asarray(rm, dtype=float) ** 2, rt2.shape)
        rt2 = np.where(low < np.broadcast_to(rm, rt2.shape), np.fmax(rt2, rm2), rt2)
    num = up + np.sqrt(up ** 2 + rt2)
    den = low + np.sqrt(low ** 2 + rt2)
    return np.log(num / den) / length / (4 * math.pi * sigma)


class EcpReport(ConfigModule[ReportSpec]):
    """Extracellular potential (mV) at ``electrode_positions`` (CSV ``x_pos y_pos z_pos``; channel k = row k)
    from the membrane currents of the cells of ``cells`` (default all biophysical cells), by the line-source
    approximation with σ = 0.3 S/m (``sigma`` overrides); ``minimum_distance`` as bmtk's.  Each rank sums the
    contribution of its cells (one matrix product per block), rank 0 adds them up and writes ``file_name``
    as a SONATA ECP file (``/ecp/data`` channels x frames; time (tstart, tstop, dt) as bmtk labels it: frame j
    holds the ECP after step j, at tstart + (j + 1) dt).

    ``file_name_nwb`` also writes the ECP as an NWB 2 file (``modelkit.simulator.neuron.ecp_nwb``).
    ``contributions_dir`` (bmtk's option) also writes each cell's own contribution, one file per cell named
    by its node id as bmtk names them (``<population>_<node id>.h5`` when the report covers several
    populations), laid out as the ECP file and appended block by block, so no more than a block of them
    is held in memory."""

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name, spec)
        self.parts: list[tuple[Any, np.ndarray]] = []
        self.blocks: list[np.ndarray] = []
        self.sites = np.empty((0, 3))
        self.time: tuple[float, float, float] = (0.0, 0.0, 1.0)
        self.contributions: str | None = None  # folder (in the staging folder) of the per-cell files
        self.cell_columns: list[list[tuple[str, int, int, int]]] = []  # per part: (population, node id, columns)
        self.several_populations = False

    def initialize(self, sim: Simulation) -> None:
        p = self.spec.params
        key = f"reports.{self.name}"
        geometry = _need(sim, ExtracellularFields, "segment_geometry", f"{key}.module")
        record = _need(sim, RecordsSections, "record_segments", f"{key}.module")
        path = p.get("electrode_positions")
        if not path:
            raise ConfigError(sim.config.path, f"{key}.electrode_positions", "a CSV of x_pos y_pos z_pos (µm)",
                              "absent")
        self.sites = read_electrodes(path)
        sigma = float(p.get("sigma", SIGMA))
        opts = sim.options
        cells = self.spec.cells if self.spec.cells is not None else p.get("cell_set")
        for pop, ids in _targets(sim, cells, f"{key}.cells").items():
            geo = geometry(pop, ids)
            rec = record(pop, np.array(sorted(geo), dtype=np.int64), ["i_membrane_"], "all", opts.dt, opts.tstart,
                         opts.tstop, key)
            tr = [line_source_transfer(self.sites, geo[n].p0, geo[n].p1, geo[n].diam, p.get("minimum_distance"),
                                       sigma) for n in rec.node_ids.tolist()]
            self.parts.append((rec, np.concatenate(tr, axis=1) if tr else np.zeros((len(self.sites), 0))))
            ends = np.cumsum(rec.counts).tolist()
            self.cell_columns.append([(pop, int(n), a, b) for n, a, b in zip(rec.node_ids.tolist(), [0] + ends[:-1],
                                                                            ends)])
        self.time = (opts.tstart, opts.tstop, opts.dt)  # bmtk's labels: frame j holds the ECP after step j
        folder = p.get("contributions_dir")
        if folder:
            out = sim.config.output.output_dir
            self.contributions = sim.output_path(folder if os.path.isabs(folder) else os.path.join(out, folder))
            self.several_populations = len({pop for cols in self.cell_columns for pop, *_ in cols}) > 1
            if sim.is_root:
                os.makedirs(self.contributions, exist_ok=True)

    def block(self, sim: Simulation, t: float) -> None:
        total = None
        cells: list[tuple[str, int, np.ndarray]] = []
        for (rec, tr), columns in zip(self.parts, self.cell_columns):
            im = rec.collect()["i_membrane_"]
            if im.size:
                part = im @ tr.T
                total = part if total is None else total + part
                if self.contributions is not None:
                    cells += [(pop, nid, im[:, a:b] @ tr[:, a:b].T) for pop, nid, a, b in columns]
        parts = sim.comm.gather(total, root=0) if sim.comm.size > 1 else [total]
        if self.contributions is not None:
            gathered = sim.comm.gather(cells, root=0) if sim.comm.size > 1 else [cells]
            if sim.is_root:
                for pop, nid, frames in (c for rank in gathered for c in rank):
                    name = f"{pop}_{nid}.h5" if self.several_populations else f"{nid}.h5"
                    _append_ecp(os.path.join(self.contributions, name), len(self.sites), self.time, frames, pop, nid)
        if not sim.is_root:
            return
        got = [x for x in parts if x is not None and len(x)]
        if got:
            self.blocks.append(np.sum(got, axis=0))

    def finalize(self, sim: Simulation) -> None:
        if not sim.is_root:
            return
        from modelkit.sonata import write_ecp
        from modelkit.sonata.reports import n_frames
        nf = n_frames(*self.time)
        data = np.concatenate(self.blocks) if self.blocks else np.zeros((0, len(self.sites)))
        if len(data) < nf:  # no cell recorded (or none local anywhere): the potential stays 0
            data = np.concatenate([data, np.zeros((nf - len(data), len(self.sites)))])
        path = sim.output_path(self.spec.file_name or os.path.join(sim.config.output.output_dir, f"{self.name}.h5"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_ecp(path, np.arange(len(self.sites)), self.time, data[:nf], overwrite=True)
        sim.outputs[self.name] = path
        nwb = self.spec.params.get("file_name_nwb")
        if nwb:
            from modelkit.simulator.neuron.ecp_nwb import write_ecp_nwb
            nwb_path = sim.output_path(nwb)
            os.makedirs(os.path.dirname(nwb_path), exist_ok=True)
            write_ecp_nwb(nwb_path, np.arange(len(self.sites)), self.sites, self.time, data[:nf], overwrite=True)
            sim.outputs[f"{self.name}:nwb"] = nwb_path
        if self.contributions is not None:
            sim.outputs[f"{self.name}:contributions"] = self.contributions

    def salvage(self, sim: Simulation, stop_time: float | None = None) -> None:
        """The run ended early: write the ECP of its whole blocks (frames at times <= ``stop_time``, ms) as a
        valid ECP file, ``time`` ending there and the stop time recorded. (The NWB copy is left out.)"""
        if not sim.is_root or not self.parts or stop_time is None:
            return
        from modelkit.sonata import write_ecp
        t0, _, dt = self.time
        data = np.concatenate(self.blocks) if self.blocks else np.zeros((0, len(self.sites)))
        n = min(len(data), max(0, int(np.floor(round((stop_time - t0) / dt, 9))) + 1))
        path = sim.output_path(self.spec.file_name or os.path.join(sim.config.output.output_dir, f"{self.name}.h5"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_ecp(path, np.arange(len(self.sites)), (t0, t0 + n * dt, dt), data[:n], overwrite=True,
                  stop_time=stop_time)


def _append_ecp(path: str, n_channels: int, time: tuple[float, float, float], frames: np.ndarray, population: str,
                node_id: int) -> None:
    """Append ``frames`` (frames x channels, mV) to one cell's contribution file, made as an ECP file on the
    first block (``/ecp/data`` channels x frames)."""
    import h5py

    from modelkit.sonata import h5
    from modelkit.sonata.reports import n_frames
    with h5py.File(path, "a") as f:
        if "ecp" not in f:
            h5.write_root_attrs(f)
            f.attrs.create("population", population, dtype=h5.STR_DTYPE)
            f.attrs.create("node_id", node_id)
            g = f.create_group("ecp")
            g.create_dataset("channel_id", data=np.arange(n_channels, dtype=np.uint64))
            g.create_dataset("time", data=np.asarray(time, dtype=np.float64)).attrs.create("units", "ms",
                                                                                            dtype=h5.STR_DTYPE)
            ds = g.create_dataset("data", shape=(n_channels, 0), maxshape=(n_channels, None),
                                  dtype=np.float64, chunks=(n_channels, max(1, min(4096, n_frames(*time)))))
            ds.attrs.create("units", "mV", dtype=h5.STR_DTYPE)
        ds = f["ecp/data"]
        k = ds.shape[1]
        ds.resize((n_channels, k + len(frames)))
        ds[:, k:] = frames.T
