"""The config modules of population models: PopNet's rate inputs, rate reports and rates file.

Inputs: the rate inputs of :mod:`modelkit.simulator.rates`; a bmtk PopNet config's CSV keyed by node type
(``gid`` = node_type_id, a rate or DiPDE's expression of ``t``) sets the PopNet populations directly.

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
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.errors import ConfigError
from modelkit.simulator.abilities import TakesRates
from modelkit.simulator.base import ConfigModule, SimulatorModule, send_frames
from modelkit.sonata.config import ReportSpec
from modelkit.simulator.rates import RATE_COLS, check_rates, poisson_trains
from modelkit.simulator.recording import report_window
from modelkit.simulator.rates import RateInput as GenericRateInput
from modelkit.sonata.h5 import open_h5
from modelkit.sonata.h5 import atomic_output

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation

__all__ = ["RateInput", "PopulationRatesReport", "PopNetRatesFile", "read_rates", "poisson_trains"]

log = logging.getLogger("modelkit.simulator.population")

class RateInput(GenericRateInput):
    """The rate inputs of :mod:`modelkit.simulator.rates`; in a bmtk PopNet run, a CSV of rates keyed by node type
    sets the PopNet populations (see :meth:`_popnet_rates`)."""

    def _backend_rates(self, sim: Simulation, population: str, ids: np.ndarray) -> bool:
        from modelkit.simulator.population.backend import PopulationBackend
        popnet = sim.backend.popnet if isinstance(sim.backend, PopulationBackend) else None
        path = self._file(sim)
        if popnet is None or path is None:
            return False
        self._popnet_rates(sim, popnet, path, population, ids)  # bmtk PopNet: the CSV's gid column: node_type_ids
        return True

    def _popnet_rates(self, sim: Simulation, popnet: Any, path: str, population: str, ids: np.ndarray) -> None:
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
        rc = next((c for c in RATE_COLS if c in df.columns), None)
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
            check_rates(np.array([rate]), path, rc)
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

    def _path(self, sim: Simulation) -> str:
        v = str(sim.config.output.extra["rates_file"])
        out = sim.config.output.output_dir
        return sim.output_path(v if os.path.isabs(v) else os.path.join(out, v))

    def finalize(self, sim: Simulation) -> None:
        self._write(sim)

    def salvage(self, sim: Simulation, stop_time: float | None = None) -> None:
        self._write(sim)

    def _write(self, sim: Simulation) -> None:
        from modelkit.simulator.population.backend import PopulationBackend
        popnet = sim.backend.popnet if isinstance(sim.backend, PopulationBackend) else None
        if popnet is None:
            if isinstance(sim.backend, PopulationBackend):
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


class PopulationRatesReport(ConfigModule[ReportSpec]):
    """Firing rates of population nodes to HDF5 (bmtk PopNet layout) and CSV (see the module docstring)."""

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name, spec)
        self.recorders: list[Any] = []
        self.frames: dict[str, list[np.ndarray]] = {}

    def initialize(self, sim: Simulation) -> None:
        key = f"reports.{self.name}"
        dt, start, stop = report_window(sim, self.spec, key, dt_slack=1e-12)
        cells = sim.resolve(self.spec.cells, f"{key}.cells") if self.spec.cells is not None else dict(sim.built)
        takes_rates = isinstance(sim.backend, TakesRates)  # (a name: the backend keeps its Backend type)
        if not takes_rates:
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

    def block(self, sim: Simulation, t: float) -> None:
        for rec in self.recorders:
            f = rec.collect()["firing_rate"]
            if len(f):
                done = sum(len(x) for x in self.frames[rec.population])
                self.frames[rec.population].append(f)
                if sim.sinks:
                    t0, _, step = rec.time_window
                    send_frames(sim.sinks, self.name, rec.population, "firing_rate", rec.node_ids,
                                t0 + step * (done + np.arange(len(f))), f)

    def finalize(self, sim: Simulation) -> None:
        self.block(sim, sim.options.tstop)
        self._write(sim, None)

    def salvage(self, sim: Simulation, stop_time: float | None = None) -> None:
        """The run ended early: write the frames of its whole blocks (times <= ``stop_time``, ms), with the
        stop time recorded, as a stopped run's spikes are."""
        self._write(sim, stop_time)

    def _write(self, sim: Simulation, stop_time: float | None) -> None:
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
    atomically; ``stop_time`` (ms), when a run ended early, is recorded as ``/rates@stop_time``.

    Parameters
    ----------
    path : str
        The HDF5 file.
    data : dict of str to tuple of numpy.ndarray
        ``{population: (node_ids, times (ms), rates (frames x nodes) Hz)}``.
    stop_time : float, optional
        A run that ended early: the time (ms) up to which the frames are whole.
    """
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
    """Write rates as bmtk's space-separated CSV ``population node_id timestamps firing_rates``, atomically.

    Parameters
    ----------
    path : str
        The CSV file.
    data : dict of str to tuple of numpy.ndarray
        As :func:`write_rates`.
    """
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


def read_rates(path: PathLike) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rates written by :class:`PopulationRatesReport` (HDF5 or CSV):
    ``{population: (node_ids, times (ms), rates (frames x nodes, Hz))}``.

    Parameters
    ----------
    path : str or PathLike
        An HDF5 or CSV file of rates.

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
