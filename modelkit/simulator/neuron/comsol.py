"""``comsol`` input: extracellular stimulation by potentials computed in COMSOL (bmtk's ``ComsolMod``; BioNet).

A COMSOL export (``comsol_file``, text: ``%`` header lines, then ``x y z`` in µm and one potential column per
time) is interpolated at the centre of every segment of the cells of ``node_set`` (default: every
biophysical cell) and written to ``e_extracellular``:

* **stationary** study (one potential column) with ``waveform`` (a CSV ``time amplitude``, a JSON file or a
  dict, as xstim's): potential(x) x waveform(t) x ``amplitude`` (default 1), linear interpolation inside the
  COMSOL mesh and 0 outside it; the waveform repeats with its own duration. ``comsol_file``, ``waveform``
  and ``amplitude`` may be lists of equal length (a sum of fields);
* **time-dependent** study (columns ``V (mV) @ t=<s>``) without ``waveform``: each segment takes the
  potential of its nearest COMSOL node, linearly interpolated to the run's time step and repeated with
  the study's duration, times ``amplitude``.

Potentials in V are converted to mV (a header ``V (V)``). bmtk's own keyword names (``comsol_files``,
``waveforms``, ``amplitudes``) are read too: bmtk 1.2 passes the config's keys to ``ComsolMod`` unchanged,
so its example configs, which say ``comsol_file`` and ``waveform``, do not run there.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.base import ConfigModule
from modelkit.sonata.config import InputSpec

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation
    from modelkit.sonata import SimulationConfig

__all__ = ["ComsolInput", "read_comsol"]

log = logging.getLogger("modelkit.simulator")


def read_comsol(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A COMSOL text export: node positions (n, 3) µm, potentials (n, k) mV, and the k times (ms) of a
    time-dependent study (None for a stationary one).

    Raises
    ------
    ConfigError
        Naming the file: no header line with the column names, rows of another width, non-numbers.
    """
    from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
    check_regular_file(path, "COMSOL export", MAX_CSV_BYTES * 4)
    header = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("%"):
                break
            header = line
    if header is None:
        raise ConfigError(path, "header", "COMSOL's %-header ending in the column names (x y z V ...)", "none")
    cols = [c for c in re.split(r"\s{3,}", header[1:].strip()) if c]
    try:
        data = np.loadtxt(path, comments="%", ndmin=2)
    except ValueError as e:
        raise ConfigError(path, "data", "rows of numbers: x y z and potentials", str(e)) from e
    if data.shape[1] < 4 or data.shape[1] != len(cols):
        raise ConfigError(path, "columns", f"x y z and potentials, as the header names ({len(cols)})",
                          f"{data.shape[1]} columns")
    v = data[:, 3:]
    if len(cols[3]) > 3 and cols[3][3] == "V":  # "V (V)": volts (bmtk's test of the unit)
        v = v * 1000.0
    if v.shape[1] == 1:
        return data[:, :3], v, None
    times = []
    for c in cols[3:]:
        m = re.search(r"t=\s*([-+0-9.eE]+)", c)
        if m is None:
            raise ConfigError(path, "header", "columns 'V (mV) @ t=<s>' of a time-dependent study", c)
        times.append(1000.0 * float(m.group(1)))
    return data[:, :3], v, np.asarray(times)


def _list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


class ComsolInput(ConfigModule[InputSpec]):
    """COMSOL fields on the segments of biophysical cells (see the module docstring; mV, ms, µm)."""

    def _key(self, k: str) -> str:
        return f"inputs.{self.name}.{k}"

    def _paths(self, base: str) -> tuple[list[str], list[Any] | None]:
        p = self.spec.params
        files = _list(p.get("comsol_file", p.get("comsol_files")))
        files = [f if not isinstance(f, str) or os.path.isabs(f) else os.path.join(base, f) for f in files]
        wf = p.get("waveform", p.get("waveforms"))
        waves = None if wf is None else [w if not isinstance(w, str) or os.path.isabs(w) else os.path.join(base, w)
                                         for w in _list(wf)]
        return files, waves

    def file_problems(self, cfg: SimulationConfig) -> list[ConfigError]:
        """Absent COMSOL exports and waveform files, found before the run builds anything."""
        files, waves = self._paths(cfg.base_dir)
        out = []
        for f in files:
            if not isinstance(f, str) or not os.path.isfile(f):
                out.append(ConfigError(cfg.path, self._key("comsol_file"), "an existing COMSOL export (txt)", str(f)))
        for w in waves or []:
            if isinstance(w, str) and not os.path.isfile(w):
                out.append(ConfigError(cfg.path, self._key("waveform"), "an existing waveform file (CSV or JSON)", w))
        return out

    def initialize(self, sim: Simulation) -> None:
        from modelkit.simulator.abilities import ExtracellularFields
        from modelkit.simulator.neuron.electrode_modules import _need, _targets
        path = sim.config.path
        for e in self.file_problems(sim.config):
            raise e
        from modelkit.simulator.neuron.backend import NeuronBackend
        if not isinstance(sim.backend, NeuronBackend):  # plays the field into NEURON's own segments
            raise ConfigError(path, self._key("module"), "comsol on a NEURON (BioNet) network",
                              f"backend {sim.backend.name}")
        geometry = _need(sim, ExtracellularFields, "segment_geometry", self._key("module"))
        files, waves = self._paths(sim.config.base_dir)
        amps = _list(self.spec.params.get("amplitude", self.spec.params.get("amplitudes", 1.0)))
        if len(amps) == 1:
            amps = amps * len(files)
        if len(amps) != len(files) or (waves is not None and len(waves) != len(files)):
            raise ConfigError(path, self._key("comsol_file"), "comsol_file, waveform and amplitude of equal length",
                              f"{len(files)}, {len(waves or [])}, {len(amps)}")
        try:
            amps_f = [float(a) for a in amps]
        except (TypeError, ValueError) as e:
            raise ConfigError(path, self._key("amplitude"), "numbers", repr(amps)[:80]) from e
        opts = sim.options
        n = int(round((opts.tstop - opts.tstart) / opts.dt)) + 1
        steps = np.arange(n)
        t = opts.tstart + opts.dt * steps
        targets = _targets(sim, self.spec.node_set, self._key("node_set"))
        geo = {pop: geometry(pop, ids) for pop, ids in targets.items()}
        fields = [read_comsol(f) for f in files]
        if waves is None:
            if len(files) != 1 or fields[0][2] is None:
                raise ConfigError(path, self._key("waveform"), "a waveform for a stationary COMSOL study (one "
                                  "potential column), or one time-dependent export", "none")
            series = self._time_dependent(fields[0], amps_f[0], steps, opts.dt)
        else:
            series = self._stationary(sim, fields, waves, amps_f, t, files)
        from modelkit.simulator.neuron.fields import play_field_matrix
        n_cells = 0
        for pop, g in geo.items():
            mats = {}
            for nid, sg in g.items():
                m = series(sg.mid)
                # bmtk computes step k's field after that step, so it acts from t[k + 1] (xstim's from t[k])
                mats[nid] = np.concatenate([np.zeros((len(m), 1)), m[:, :-1]], axis=1)
            n_cells += len(mats)
            keep = self._changes(mats)
            # a quarter step early: NEURON delivers the event at the start of the step at t[k] whichever way
            # the float t[k] rounds (exactly at t[k], two changes a step apart could land in one step)
            play_field_matrix(sim.backend, pop, {k: m[:, keep] for k, m in mats.items()},
                              np.maximum(t[keep] - opts.dt / 4, 0.0))
        log.info("input %s: COMSOL field%s %s on %d cells", self.name, "s" if len(files) > 1 else "",
                 ", ".join(os.path.basename(f) for f in files), n_cells)

    @staticmethod
    def _changes(mats: dict) -> np.ndarray:
        """Columns where some cell's field changes (and the first)."""
        if not mats:
            return np.zeros(0, dtype=np.int64)
        m = np.concatenate(list(mats.values()), axis=0)
        diff = np.any(np.diff(m, axis=1) != 0, axis=0)
        return np.concatenate(([0], np.flatnonzero(diff) + 1))

    def _stationary(self, sim: Simulation, fields: list, waves: list, amps: list[float], t: np.ndarray,
                    files: list[str]) -> Any:
        from scipy.interpolate import LinearNDInterpolator
        from modelkit.simulator.neuron.electrode_modules import waveform_values
        interps, ws = [], []
        for k, ((xyz, v, times), wave, a) in enumerate(zip(fields, waves, amps)):
            if times is not None:
                raise ConfigError(sim.config.path, self._key("comsol_file"),
                                  "a stationary study (one potential column) with a waveform", files[k])
            interps.append(LinearNDInterpolator(xyz, v[:, 0]))
            probe = waveform_values(wave, np.array([0.0]), sim.config.base_dir, self._key("waveform"))
            del probe
            ws.append((wave, a))
        dt = sim.options.dt
        steps = np.arange(len(t))
        w_t = []
        for wave, a in ws:
            if isinstance(wave, str) and wave.endswith(".csv"):  # the CSV repeats with its duration (bmtk)
                import pandas as pd
                df = pd.read_csv(wave, sep=r"[\s,]+", engine="python")
                span = float(df["time"].iloc[-1] - df["time"].iloc[0])
                period = span / dt + 1.0
                tt = (steps % period) * dt
            else:
                tt = steps * dt
            w_t.append(waveform_values(wave, tt, sim.config.base_dir, self._key("waveform")) * a)

        def series(mid: np.ndarray) -> np.ndarray:
            out = np.zeros((len(mid), len(t)))
            for ip, w in zip(interps, w_t):
                c = np.nan_to_num(ip(mid), nan=0.0)  # outside the mesh: 0 (bmtk)
                out += c[:, None] * w[None, :]
            return out
        return series

    def _time_dependent(self, field: tuple, amp: float, steps: np.ndarray, dt: float) -> Any:
        from scipy.interpolate import NearestNDInterpolator
        xyz, v, times = field
        grid = np.arange(times[0], times[-1] + dt, dt)
        data = np.stack([np.interp(grid, times, row) for row in v]) * amp  # (nodes, grid)
        period = int((grid[-1] - grid[0]) / dt)
        nn = NearestNDInterpolator(xyz, np.arange(len(xyz)))
        col = steps % max(period, 1)

        def series(mid: np.ndarray) -> np.ndarray:
            return data[nn(mid).astype(np.int64)][:, col]
        return series
