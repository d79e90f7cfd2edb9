"""Report modules, looked up by the config's ``module`` name; plus the spike output every run writes.

Recorded data never piles up in memory: spikes are collected per block, and
variables are streamed frame block by frame block into SONATA report files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.base import SimulatorModule
from modelkit.sonata import ReportWriter, write_spikes, write_spikes_csv

__all__ = ["REPORT_MODULES", "report_module", "SpikesOutput", "MembraneReport"]

log = logging.getLogger("modelkit.simulator")

_SORT = {None: "by_time", "time": "by_time", "by_time": "by_time", "id": "by_id", "by_id": "by_id",
         "none": "none"}


class SpikesOutput(SimulatorModule):
    """Spikes of every built cell: streamed to the sinks per block, written to ``spikes_file`` (and CSV)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._ids: dict[str, list[np.ndarray]] = {}
        self._times: dict[str, list[np.ndarray]] = {}

    def initialize(self, sim: Any) -> None:
        self.counts = {p: 0 for p in sim.built}

    def block(self, sim: Any, t: float) -> None:
        for pop, (ids, times) in sim.backend.collect_spikes().items():
            if len(ids) == 0:
                continue
            self._ids.setdefault(pop, []).append(ids)
            self._times.setdefault(pop, []).append(times)
            self.counts[pop] = self.counts.get(pop, 0) + len(ids)
            for s in sim.sinks:
                s.spikes(pop, ids, times)

    def finalize(self, sim: Any) -> None:
        out = sim.config.output
        data = {p: (np.concatenate(self._ids.get(p, [np.empty(0, np.int64)])),
                    np.concatenate(self._times.get(p, [np.empty(0)]))) for p in sim.built}
        sort = _SORT.get(out.spikes_sort_order, "by_time")
        if out.spikes_file:
            path = sim.output_path(out.spikes_file)
            write_spikes(path, data, sort=sort, overwrite=True)
            sim.outputs["spikes"] = path
        if out.spikes_file_csv:
            path = sim.output_path(out.spikes_file_csv)
            write_spikes_csv(path, data, sort=sort, overwrite=True)
            sim.outputs["spikes_csv"] = path


class MembraneReport(SimulatorModule):
    """Variables of cells (``V_m``, ``v``, ...) sampled every ``dt`` ms, written as a SONATA report.

    One file per variable (``file_name``, or ``<report>.h5``; with several variables
    ``<report>_<variable>.h5``), one population group per node population.  Frame
    times are the simulator's sample times: the report's ``time`` is
    (first sample, last sample + dt, dt).
    """

    def __init__(self, name: str, spec: Any) -> None:
        self.name = name
        self.spec = spec
        self.recorders: list[Any] = []
        self.writers: dict[str, ReportWriter] = {}

    def _variables(self) -> list[str]:
        v = self.spec.variable_name
        if isinstance(v, str) and v:
            return [v]
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            return list(v)
        raise ConfigError(None, f"reports.{self.name}.variable_name", "a variable name (or a list)", repr(v))

    def initialize(self, sim: Any) -> None:
        opts = sim.options
        dt = float(self.spec.dt) if self.spec.dt else opts.dt
        if dt < opts.dt or abs(dt / opts.dt - round(dt / opts.dt)) > 1e-9:
            raise ConfigError(sim.config.path, f"reports.{self.name}.dt",
                              f"a multiple of the simulation dt ({opts.dt} ms)", str(dt))
        start = float(self.spec.start_time) if self.spec.start_time is not None else opts.tstart
        stop = float(self.spec.end_time) if self.spec.end_time is not None else opts.tstop
        if not opts.tstart <= start < stop <= opts.tstop + 1e-9:
            raise ConfigError(sim.config.path, f"reports.{self.name}.start_time",
                              f"start_time < end_time within the run [{opts.tstart}, {opts.tstop}] ms",
                              f"[{start}, {stop}]")
        variables = self._variables()
        cells = sim.resolve(self.spec.cells, f"reports.{self.name}.cells")
        for pop, sel in cells.items():
            built = sim.built.get(pop)
            if built is None:
                continue
            ids = (sel & built).flat
            if len(ids) == 0:
                continue
            self.recorders.append(sim.backend.record_variables(pop, ids, variables, dt, start, stop))
        if not self.recorders:
            log.warning("report %s: no built cells selected; nothing recorded", self.name)
        base = self.spec.file_name or os.path.join(sim.config.output.output_dir, f"{self.name}.h5")
        for var in variables:
            path = base if len(variables) == 1 else f"{os.path.splitext(base)[0]}_{var}.h5"
            w = None
            for rec in self.recorders:
                t0, t1, step = rec.time_window
                n = len(rec.node_ids)
                args = (rec.population, rec.node_ids, np.arange(n + 1), np.zeros(n, np.int64), (t0, t1, step))
                if w is None:
                    w = ReportWriter(sim.output_path(path), *args, units=rec.units.get(var, ""), variable=var,
                                     overwrite=True)
                    w.open()
                else:
                    w.add_population(*args)
            if w is not None:
                self.writers[var] = w
                sim.outputs[self.name if len(variables) == 1 else f"{self.name}:{var}"] = sim.output_path(path)

    def block(self, sim: Any, t: float) -> None:
        for rec in self.recorders:
            frames = rec.collect()
            for var, w in self.writers.items():
                if len(frames[var]):
                    w.append(frames[var], rec.population)

    def finalize(self, sim: Any) -> None:
        for w in self.writers.values():
            w.close()


#: module name -> report class
REPORT_MODULES: dict[str, Callable[[str, Any], SimulatorModule]] = {
    "membrane_report": MembraneReport,
    "multimeter_report": MembraneReport,
    "multimeter": MembraneReport,
}


def report_module(name: str, spec: Any) -> SimulatorModule:
    """The module for one ``reports`` entry.

    Raises
    ------
    ConfigError
        An unknown module, listing the known ones.
    """
    cls = REPORT_MODULES.get(spec.module)
    if cls is None:
        raise ConfigError(None, f"reports.{name}.module",
                          f"a known report module ({', '.join(sorted(REPORT_MODULES))})", repr(spec.module))
    return cls(name, spec)
