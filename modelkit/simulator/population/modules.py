"""Rate inputs and rate reports: the config modules of population models.

Inputs (``inputs`` block, onto virtual nodes that edges connect to the populations, as
bmtk PopNet's external populations):

* ``input_type: rates, module: constant``: ``rate`` (Hz), optional ``start_time`` and
  ``stop_time`` (ms; default the whole run);
* ``input_type: rates, module: time_series``: ``times`` (ms) and ``rates`` (Hz) of equal
  length, ``interpolation`` ``step`` (default: each rate holds until the next time) or
  ``linear``;
* ``input_type: csv, module: pop_rates`` (bmtk PopNet's form; also ``input_type: rates``):
  ``rates`` (or ``file``) names a CSV (space- or comma-separated) with columns
  ``node_id`` (or bmtk's ``gid``) and ``firing_rate`` (or ``firing_rates``, Hz), optional
  ``population`` and ``times`` (or ``timestamps``, ms) for time-varying rates.

On a backend that simulates spiking cells (NEST), the same inputs become seeded Poisson
spike trains of the virtual nodes (``random_seed``, default the run's seed).

Report (``reports`` block): ``module: population_rates`` (or ``pop_rates``) writes the
firing rate of population nodes (``cells``, default all) averaged over windows of ``dt``
ms (default the run's ``dt``) between ``start_time`` and ``end_time``: an HDF5 file
(``file_name``, default ``<report>.h5``) in bmtk PopNet's layout
``/rates/<population>/{data (frames x nodes, Hz), mapping/node_ids, mapping/time (ms)}``
and a CSV (``csv_file_name``, default the HDF5 name with ``.csv``; ``false`` for none)
with bmtk's columns ``population node_id timestamps firing_rates``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import h5py
import numpy as np
import pandas as pd

from modelkit.errors import ConfigError
from modelkit.simulator.base import SimulatorModule, send_frames
from modelkit.sonata.h5 import open_h5
from modelkit.sonata.h5 import atomic_output

__all__ = ["RateInput", "PopulationRatesReport", "read_rates", "poisson_trains"]

log = logging.getLogger("modelkit.simulator.population")

_ID_COLS = ("node_id", "node_ids", "gid")
_RATE_COLS = ("firing_rate", "firing_rates", "rate", "rates")
_TIME_COLS = ("times", "timestamps", "time")


def _check_rates(r: np.ndarray, cfg: Any, key: str) -> None:
    bad = ~(np.isfinite(r) & (r >= 0))
    if bad.any():
        raise ConfigError(cfg, key, "non-negative finite firing rates (Hz)", str(np.asarray(r)[bad][:3].tolist()))


def poisson_trains(node_ids: np.ndarray, times: np.ndarray, rates: np.ndarray, stop: float,
                   rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Poisson spike trains (ms) of piecewise-constant rates: ``rates[k, i]`` Hz for node ``i`` from ``times[k]``
    to ``times[k + 1]`` (the last until ``stop``)."""
    t = np.append(times, max(stop, times[-1]))
    dur = np.diff(t) / 1000.0
    out: dict[int, np.ndarray] = {}
    for i, nid in enumerate(np.asarray(node_ids).tolist()):
        counts = rng.poisson(rates[:, i] * dur)
        st = rng.uniform(np.repeat(t[:-1], counts), np.repeat(t[1:], counts))
        out[int(nid)] = np.sort(st)
    return out


class RateInput(SimulatorModule):
    """Input rates of virtual nodes (see the module docstring for the config keys)."""

    def __init__(self, name: str, spec: Any) -> None:
        self.name = name
        self.spec = spec

    def _key(self, k: str) -> str:
        return f"inputs.{self.name}.{k}"

    def _file(self, sim: Any) -> str | None:
        p = self.spec.params
        v = p.get("rates") if isinstance(p.get("rates"), str) else self.spec.input_file
        if v is None:
            return None
        return v if os.path.isabs(v) else os.path.join(sim.config.base_dir, v)

    def _read_csv(self, sim: Any, path: str) -> pd.DataFrame:
        if not os.path.exists(path):
            raise ConfigError(sim.config.path, self._key("rates"), "an existing CSV of node_id and firing_rate", path)
        from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
        check_regular_file(path, "CSV of rates", MAX_CSV_BYTES)  # a FIFO would block read_csv
        try:
            df = pd.read_csv(path, sep=r"[\s,]+", engine="python")
        except (ValueError, OSError) as e:
            raise ConfigError(path, None, "a CSV of rates (columns node_id/gid, firing_rate)", str(e)) from e
        idc = next((c for c in _ID_COLS if c in df.columns), None)
        rc = next((c for c in _RATE_COLS if c in df.columns), None)
        if idc is None or rc is None:
            raise ConfigError(path, "columns", "node_id (or gid) and firing_rate (Hz) columns", str(list(df.columns)))
        tc = next((c for c in _TIME_COLS if c in df.columns), None)
        out = pd.DataFrame({"node_id": df[idc].astype(np.int64), "rate": df[rc].astype(float),
                            "time": df[tc].astype(float) if tc else np.nan})
        if "population" in df.columns:
            out["population"] = df["population"].astype(str)
        _check_rates(out["rate"].to_numpy(), path, rc)
        return out

    def schedule(self, sim: Any, population: str, node_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
        """``(times (ms), rates (len(times), len(node_ids)) Hz, interpolation)`` for some virtual nodes.

        Raises
        ------
        ConfigError
            Missing keys, negative rates, times and rates of different lengths, nodes without a rate.
        """
        p = self.spec.params
        opts = sim.options
        cfg = sim.config.path
        path = self._file(sim)
        n = len(node_ids)
        if path is not None:
            df = self._read_csv(sim, path)
            if "population" in df.columns:
                df = df[df["population"] == population]
            df = df[df["node_id"].isin(node_ids)]
            missing = np.setdiff1d(node_ids, df["node_id"].to_numpy())
            if len(missing):
                raise ConfigError(path, "node_id", f"a rate for every node of the node set in {population}",
                                  f"none for nodes {missing[:5].tolist()}")
            if df["time"].isna().all():
                r = df.groupby("node_id")["rate"].last().reindex(node_ids).to_numpy()
                return np.array([opts.tstart]), r[None, :], "step"
            times = np.unique(df["time"].to_numpy())
            table = df.pivot_table(index="time", columns="node_id", values="rate", aggfunc="last")
            table = table.reindex(index=times, columns=node_ids).ffill().fillna(0.0)
            return times, table.to_numpy(), str(p.get("interpolation", "step"))
        if "rate" in p or (self.spec.module == "constant" and "rates" in p):
            r = np.asarray(p.get("rate", p.get("rates")), dtype=float)
            if r.ndim != 0:
                raise ConfigError(cfg, self._key("rate"), "one rate (Hz)", repr(p.get("rate", p.get("rates"))))
            _check_rates(np.atleast_1d(r), cfg, self._key("rate"))
            start = float(p.get("start_time", opts.tstart))
            stop = p.get("stop_time")
            if stop is not None and float(stop) <= start:
                raise ConfigError(cfg, self._key("stop_time"), f"a stop time after start_time ({start} ms)", str(stop))
            times = np.array([start] if stop is None else [start, float(stop)])
            vals = np.array([float(r)] if stop is None else [float(r), 0.0])
            return times, np.broadcast_to(vals[:, None], (len(times), n)).copy(), "step"
        if "rates" in p:
            r = np.asarray(p["rates"], dtype=float)
            if "times" not in p:
                raise ConfigError(cfg, self._key("times"), "the times (ms) at which the rates apply", "absent")
            t = np.asarray(p["times"], dtype=float)
            if r.ndim != 1 or t.shape != r.shape:
                raise ConfigError(cfg, self._key("rates"), f"one rate (Hz) per time ({t.size} times)",
                                  f"shape {r.shape}")
            _check_rates(r, cfg, self._key("rates"))
            if (np.diff(t) < 0).any() or not np.isfinite(t).all():
                raise ConfigError(cfg, self._key("times"), "finite non-decreasing times (ms)", str(t[:5].tolist()))
            interp = str(p.get("interpolation", "step"))
            if interp not in ("step", "linear"):
                raise ConfigError(cfg, self._key("interpolation"), "'step' or 'linear'", repr(interp))
            return t, np.broadcast_to(r[:, None], (len(r), n)).copy(), interp
        raise ConfigError(cfg, self._key("rate"), "rate (Hz), rates with times (ms), or rates naming a CSV file",
                          "none of them")

    def initialize(self, sim: Any) -> None:
        seed = int(self.spec.params.get("random_seed", sim.options.seed))
        for k, (pop, sel) in enumerate(sim.resolve(self.spec.node_set, self._key("node_set")).items()):
            src = sim.sources.get(pop)
            if src is None or not len(src & sel):
                raise ConfigError(sim.config.path, self._key("node_set"),
                                  "virtual nodes (external populations) that edges connect to the populations",
                                  f"no virtual nodes in {pop}")
            ids = (sel & src).flat
            popnet = getattr(sim.backend, "popnet", None)
            path = self._file(sim)
            if popnet is not None and path is not None:  # bmtk PopNet: the CSV's gid column holds node_type_ids
                self._popnet_rates(sim, popnet, path, pop, ids)
                continue
            times, rates, interp = self.schedule(sim, pop, ids)
            if hasattr(sim.backend, "add_rates"):
                sim.backend.add_rates(pop, ids, times, rates, interp)
            else:  # a spiking backend: seeded Poisson trains with these rates
                if interp == "linear":
                    fine = np.arange(times[0], max(sim.options.tstop, times[-1]), sim.options.dt)
                    rates = np.stack([np.interp(fine, times, rates[:, i]) for i in range(len(ids))], axis=1)
                    times = fine
                rng = np.random.default_rng([seed, k])
                sim.backend.add_spike_trains(pop, ids, poisson_trains(ids, times, rates, sim.options.tstop, rng))
            log.info("input %s: rates onto %d virtual nodes of %s", self.name, len(ids), pop)


    def _popnet_rates(self, sim: Any, popnet: Any, path: str, population: str, ids: np.ndarray) -> None:
        """Rates of external populations from a CSV keyed by node_type_id (``gid`` or ``node_type_id`` column;
        ``firing_rate`` a number, or DiPDE's expression of ``t`` in seconds).

        Raises
        ------
        ConfigError
            Naming the file and column: a node type of the node set without a rate, ids that are no node type
            of any virtual population, a missing column, a bad rate.
        """
        if not os.path.exists(path):
            raise ConfigError(sim.config.path, self._key("rates"), "an existing CSV of gid (node_type_id) and "
                              "firing_rate", path)
        from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
        check_regular_file(path, "CSV of rates", MAX_CSV_BYTES)
        try:
            df = pd.read_csv(path, sep=r"[\s,]+", engine="python", dtype=str)
        except (ValueError, OSError) as e:
            raise ConfigError(path, None, "a CSV of rates (columns gid, firing_rate)", str(e)) from e
        idc = next((c for c in ("gid", "node_type_id") if c in df.columns), None)
        rc = next((c for c in _RATE_COLS if c in df.columns), None)
        if idc is None or rc is None:
            raise ConfigError(path, "columns", "gid (node_type_id, as bmtk PopNet reads it) and firing_rate (Hz) "
                              "columns", str(list(df.columns)))
        try:
            keys = df[idc].astype(float).astype(np.int64).to_numpy()
        except ValueError as e:
            raise ConfigError(path, idc, "integer node_type_ids", str(df[idc].tolist()[:5])) from e
        known = {t for _, t in popnet.ext_key}
        unknown = sorted(set(keys.tolist()) - known)
        ext = popnet.externals_of(population, ids)
        wanted = {popnet.ext_key[k][1]: k for k in np.unique(ext[ext >= 0]).tolist()}
        missing = sorted(set(wanted) - set(keys.tolist()))
        if unknown or missing:
            raise ConfigError(path, idc, f"a firing_rate per node_type_id of the virtual nodes of {population!r} "
                              f"({sorted(wanted)}; bmtk PopNet keys rates by node_type_id, not node_id)",
                              (f"ids {unknown}, which are no node_type_id of a virtual population" if unknown
                               else "") + ("; " if unknown and missing else "") +
                              (f"no row for node_type_id {missing}" if missing else ""))
        for t, k in wanted.items():
            raw = str(df[rc][keys == t].iloc[-1]).strip()
            try:
                rate = float(raw)
            except ValueError:
                popnet.set_function(k, _rate_expression(raw, path, rc))
                continue
            _check_rates(np.array([rate]), path, rc)
            popnet.set_constant(k, rate)
        log.info("input %s: PopNet rates of %s by node_type_id from %s", self.name, population, path)


def _rate_expression(text: str, path: str, key: str) -> Any:
    """DiPDE's rate given as an expression of ``t`` (s), as a vectorised function."""
    try:
        import sympy
        fn = sympy.lambdify(sympy.Symbol("t"), sympy.sympify(text), "numpy")
        fn(np.array([0.0, 0.001]))
    except Exception as e:  # noqa: BLE001 - sympy raises many kinds of errors for a bad expression
        raise ConfigError(path, key, "a firing rate (Hz): a number or an expression of t (s)", repr(text)) from e
    return fn


class PopNetRatesFile(SimulatorModule):
    """``output.rates_file`` of a PopNet run: ``population_id time firing_rate`` lines, as bmtk PopNet writes
    them (space-separated, no header, time in s, every population in order, from t = 0)."""

    name = "rates_file"

    def _path(self, sim: Any) -> str:
        v = str(sim.config.output.extra["rates_file"])
        out = sim.config.output.output_dir
        return sim.output_path(v if os.path.isabs(v) else os.path.join(out, v))

    def finalize(self, sim: Any) -> None:
        self._write(sim)

    def salvage(self, sim: Any, stop_time: float | None = None) -> None:
        self._write(sim)

    def _write(self, sim: Any) -> None:
        popnet = getattr(sim.backend, "popnet", None)
        if popnet is None:
            if sim.backend.name == "population":
                log.warning("output.rates_file is written for PopNet configs only (target_simulator DiPDE); "
                            "use a population_rates report")
            return
        if not sim.is_root:
            return
        times, rates = popnet.rates()
        path = self._path(sim)
        n_t, n_p = rates.shape
        df = pd.DataFrame({"population": np.repeat(np.asarray(popnet.keys, dtype=np.int64), n_t),
                           "time": np.tile(times, n_p), "rate": rates.T.reshape(-1)})
        with atomic_output(path, overwrite=True) as tmp:
            df.to_csv(tmp, sep=" ", header=False, index=False)  # floats as repr, as bmtk's str.format
        sim.outputs["rates_file"] = path


class PopulationRatesReport(SimulatorModule):
    """Firing rates of population nodes to HDF5 (bmtk PopNet layout) and CSV (see the module docstring)."""

    def __init__(self, name: str, spec: Any) -> None:
        self.name = name
        self.spec = spec
        self.recorders: list[Any] = []
        self.frames: dict[str, list[np.ndarray]] = {}

    def initialize(self, sim: Any) -> None:
        opts = sim.options
        key = f"reports.{self.name}"
        dt = float(self.spec.dt) if self.spec.dt else opts.dt
        if dt < opts.dt - 1e-12 or abs(dt / opts.dt - round(dt / opts.dt)) > 1e-9:
            raise ConfigError(sim.config.path, f"{key}.dt", f"a multiple of the simulation dt ({opts.dt} ms)", str(dt))
        start = float(self.spec.start_time) if self.spec.start_time is not None else opts.tstart
        stop = float(self.spec.end_time) if self.spec.end_time is not None else opts.tstop
        if not opts.tstart <= start < stop <= opts.tstop + 1e-9:
            raise ConfigError(sim.config.path, f"{key}.start_time",
                              f"start_time < end_time within the run [{opts.tstart}, {opts.tstop}] ms",
                              f"[{start}, {stop}]")
        cells = sim.resolve(self.spec.cells, f"{key}.cells") if self.spec.cells is not None else dict(sim.built)
        if not hasattr(sim.backend, "add_rates"):
            raise ConfigError(sim.config.path, f"{key}.module", "a backend with population models (population "
                              "rates)", type(sim.backend).__name__)
        for pop, sel in cells.items():
            built = sim.built.get(pop)
            if built is None or not len(sel & built):
                continue
            rec = sim.backend.record_variables(pop, (sel & built).flat, ["firing_rate"], dt, start, stop)
            self.recorders.append(rec)
            self.frames[pop] = []
        if not self.recorders:
            log.warning("report %s: no population nodes selected; nothing recorded", self.name)

    def block(self, sim: Any, t: float) -> None:
        for rec in self.recorders:
            f = rec.collect()["firing_rate"]
            if len(f):
                done = sum(len(x) for x in self.frames[rec.population])
                self.frames[rec.population].append(f)
                if sim.sinks:
                    t0, _, step = rec.time_window
                    send_frames(sim.sinks, self.name, rec.population, "firing_rate", rec.node_ids,
                                t0 + step * (done + np.arange(len(f))), f)

    def finalize(self, sim: Any) -> None:
        self.block(sim, sim.options.tstop)
        self._write(sim, None)

    def salvage(self, sim: Any, stop_time: float | None = None) -> None:
        """The run ended early: write the frames of its whole blocks (times <= ``stop_time``, ms), with the
        stop time recorded, as a stopped run's spikes are."""
        self._write(sim, stop_time)

    def _write(self, sim: Any, stop_time: float | None) -> None:
        if not sim.is_root or not self.recorders:
            return
        h5_path = sim.output_path(self.spec.file_name or os.path.join(sim.config.output.output_dir,
                                                                      f"{self.name}.h5"))
        csv_name = self.spec.params.get("csv_file_name", os.path.splitext(h5_path)[0] + ".csv")
        data = {}
        for rec in self.recorders:
            fr = self.frames[rec.population]
            frames = np.concatenate(fr) if fr else np.empty((0, len(rec.node_ids)))
            t0, _, step = rec.time_window
            times = t0 + step * np.arange(len(frames))
            if stop_time is not None:  # a signal may land between two modules' work on the same block
                keep = times <= stop_time + 1e-9
                times, frames = times[keep], frames[keep]
            data[rec.population] = (rec.node_ids, times, frames)
        write_rates(h5_path, data, stop_time=stop_time)
        sim.outputs[self.name] = h5_path
        if csv_name:
            out = sim.config.output.output_dir
            csv_path = sim.output_path(csv_name if os.path.isabs(csv_name) else os.path.join(out, csv_name))
            write_rates_csv(csv_path, data)
            sim.outputs[f"{self.name}_csv"] = csv_path


def write_rates(path: str, data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                stop_time: float | None = None) -> None:
    """Write ``{population: (node_ids, times (ms), rates (frames x nodes, Hz))}`` in bmtk PopNet's HDF5 layout,
    atomically; ``stop_time`` (ms), when a run ended early, is recorded as ``/rates@stop_time``."""
    with atomic_output(path, overwrite=True) as tmp, h5py.File(tmp, "w") as f:
        g = f.create_group("rates")
        if stop_time is not None:
            g.attrs["stop_time"] = float(stop_time)
        for pop, (ids, times, rates) in data.items():
            p = g.create_group(pop)
            d = p.create_dataset("data", data=np.asarray(rates, dtype=np.float64))
            d.attrs["units"] = "Hz"
            p.create_dataset("mapping/node_ids", data=np.asarray(ids, dtype=np.uint64))
            t = p.create_dataset("mapping/time", data=np.asarray(times, dtype=np.float64))
            t.attrs["units"] = "ms"


def write_rates_csv(path: str, data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write rates as bmtk's space-separated CSV ``population node_id timestamps firing_rates``, atomically."""
    frames = []
    for pop, (ids, times, rates) in data.items():
        n_t, n_c = np.asarray(rates).shape if np.asarray(rates).ndim == 2 else (0, len(ids))
        frames.append(pd.DataFrame({"population": pop, "node_id": np.tile(np.asarray(ids), n_t),
                                    "timestamps": np.repeat(times, n_c),
                                    "firing_rates": np.asarray(rates).reshape(-1)}))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["population", "node_id", "timestamps", "firing_rates"])
    df = df.sort_values(["population", "node_id", "timestamps"], kind="stable")
    with atomic_output(path, overwrite=True) as tmp:
        df.to_csv(tmp, sep=" ", index=False, float_format="%.10g")


def read_rates(path: Any) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rates written by :class:`PopulationRatesReport` (HDF5 or CSV):
    ``{population: (node_ids, times (ms), rates (frames x nodes, Hz))}``.

    Raises
    ------
    ConfigError
        A file without the expected layout or columns.
    """
    p = os.fspath(path)
    if p.endswith(".csv"):
        from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
        check_regular_file(p, "rates CSV", MAX_CSV_BYTES)  # a FIFO would block read_csv
        df = pd.read_csv(p, sep=" ")
        need = {"population", "node_id", "timestamps", "firing_rates"}
        if not need <= set(df.columns):
            raise ConfigError(p, "columns", f"columns {sorted(need)}", str(list(df.columns)))
        out = {}
        for pop, g in df.groupby("population", sort=False):
            table = g.pivot_table(index="timestamps", columns="node_id", values="firing_rates")
            out[str(pop)] = (table.columns.to_numpy(np.int64), table.index.to_numpy(float), table.to_numpy())
        return out
    with open_h5(p, "rates file") as f:
        if "rates" not in f:
            raise ConfigError(p, "/rates", "a rates group (bmtk PopNet layout)", f"groups {list(f)}")
        return {pop: (g["mapping/node_ids"][()].astype(np.int64), g["mapping/time"][()], g["data"][()])
                for pop, g in f["rates"].items()}
