"""Reports with many elements per cell: range variables at every segment (``membrane_report`` with
``sections`` other than ``soma``), variables of synapses (bmtk's ``netcon_report``) and the currents of
clamps (bmtk's ``clamp_report``), written as SONATA
compartment reports whose ``element_ids`` are section indices (``all`` order, as ``afferent_section_id``)
and ``element_pos`` the position along the section.

Each rank records the cells it owns; the mapping is gathered once and every block of frames
is gathered to rank 0 and put in node-id order, so the file is the same for any rank count.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.abilities import RecordsClamps, RecordsSections, RecordsSynapses
from modelkit.simulator.base import SimulatorModule
from modelkit.simulator.recording import WriterReport, flush_writers, report_window
from modelkit.sonata import ReportWriter

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation
    from modelkit.sonata.config import ReportSpec

__all__ = ["CompartmentReport", "SynapseReport", "ClampReport"]

log = logging.getLogger("modelkit.simulator")


def _variables(spec: Any, key: str) -> list[str]:
    v = spec.variable_name
    if isinstance(v, str) and v:
        return [v]
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return list(v)
    raise ConfigError(None, f"{key}.variable_name", "a variable name (or a list)", repr(v))


class _Gathered:
    """A recorder's columns over all ranks, in node-id order (on rank 0)."""

    def __init__(self, comm: Any, rec: Any) -> None:
        self.rec = rec
        self.comm = comm
        mine = (rec.node_ids, rec.counts, rec.element_ids, rec.element_pos)
        parts = comm.gather(mine, root=0) if comm.size > 1 else [mine]
        if parts is None:
            return
        ids = np.concatenate([p[0] for p in parts])
        counts = np.concatenate([p[1] for p in parts])
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        order = np.argsort(ids, kind="stable")
        self.node_ids = ids[order]
        self.counts = counts[order]
        self.columns = np.concatenate([np.arange(starts[i], starts[i] + counts[i]) for i in order.tolist()]
                                      + [np.empty(0, np.int64)]).astype(np.int64)
        self.element_ids = np.concatenate([p[2] for p in parts])[self.columns]
        self.element_pos = np.concatenate([p[3] for p in parts])[self.columns]
        self.index_pointers = np.concatenate(([0], np.cumsum(self.counts))).astype(np.int64)

    def frames(self) -> dict[str, np.ndarray] | None:
        local = self.rec.collect()
        parts = self.comm.gather(local, root=0) if self.comm.size > 1 else [local]
        if parts is None:
            return None
        out = {}
        for var in local:
            arrs = [p[var] for p in parts if p[var].shape[1]]
            if not arrs:
                out[var] = np.empty((0, 0))
                continue
            n = min(len(a) for a in arrs)
            out[var] = np.concatenate([a[:n] for a in arrs], axis=1)[:, self.columns]
        return out


class _ElementReport(WriterReport):
    """Shared part: one file per variable, one population group per node population."""

    method = ""
    #: the ability of the backend this report needs (it has the method ``method``)
    ability: type = object

    def __init__(self, name: str, spec: ReportSpec) -> None:
        super().__init__(name, spec)
        self.gathered: list[_Gathered] = []
        self.writers: dict[str, ReportWriter] = {}

    def _record(self, sim: Simulation, pop: str, ids: np.ndarray, variables: list[str], dt: float, start: float,
                stop: float) -> Any:
        raise NotImplementedError

    def _variables(self, key: str) -> list[str]:
        return _variables(self.spec, key)

    def _cells(self) -> Any:
        return self.spec.cells

    def initialize(self, sim: Simulation) -> None:
        key = f"reports.{self.name}"
        if not isinstance(sim.backend, self.ability):
            raise ConfigError(sim.config.path, f"{key}.module", f"a backend with {self.method} (the NEURON backend)",
                              type(sim.backend).__name__)
        dt, start, stop = report_window(sim, self.spec, key)
        variables = self._variables(key)
        for pop, sel in sim.resolve(self._cells(), f"{key}.cells").items():
            built = sim.built.get(pop)
            if built is None or not len(built & sel):
                continue
            rec = self._record(sim, pop, (built & sel).flat, variables, dt, start, stop)
            self.gathered.append(_Gathered(sim.comm, rec))
        if not sim.is_root:
            return
        base = self.spec.file_name or os.path.join(sim.config.output.output_dir, f"{self.name}.h5")
        for var in variables:
            path = base if len(variables) == 1 else f"{os.path.splitext(base)[0]}_{var}.h5"
            w = None
            for g in self.gathered:
                if not len(g.node_ids):
                    continue
                args = (g.rec.population, g.node_ids, g.index_pointers, g.element_ids, g.rec.time_window)
                if w is None:
                    w = ReportWriter(sim.output_path(path), *args, element_pos=g.element_pos,
                                     units=g.rec.units.get(var, ""), variable=var, overwrite=True)
                    w.open()
                else:
                    w.add_population(*args, element_pos=g.element_pos)
            if w is not None:
                self.writers[var] = w
                sim.outputs[self.name if len(variables) == 1 else f"{self.name}:{var}"] = sim.output_path(path)
        if not self.writers:
            log.warning("report %s: nothing to record in the chosen cells", self.name)

    def block(self, sim: Simulation, t: float) -> None:
        for g in self.gathered:
            frames = g.frames()
            if frames is None or not len(g.node_ids):
                continue
            for var, w in self.writers.items():
                if frames[var].size:
                    w.append(frames[var], g.rec.population)
        flush_writers(self.writers)


class CompartmentReport(_ElementReport):
    """Range variables (``v``, ``cai``, ``i_membrane_``, ...) at every segment of the chosen ``sections``
    (``all``, or section names such as ``["soma", "dend"]``) of ``cells``, bmtk's multi-compartment
    ``membrane_report``."""

    method = "record_segments"
    ability = RecordsSections

    def __init__(self, name: str, spec: ReportSpec) -> None:
        super().__init__(name, spec)
        self._cell_report: SimulatorModule | None = None

    def initialize(self, sim: Simulation) -> None:
        if not isinstance(sim.backend, RecordsSections):
            # cells without sections (point neurons, rate units): the value per cell, as bmtk's PointNet
            # reads a membrane_report whatever its ``sections`` say
            from modelkit.simulator.recording import MembraneReport
            log.info("report %s: %s has no sections; recording one value per cell", self.name,
                     type(sim.backend).__name__)
            self._cell_report = MembraneReport(self.name, self.spec)
            self._cell_report.initialize(sim)
            return
        super().initialize(sim)

    def block(self, sim: Simulation, t: float) -> None:
        if self._cell_report is not None:
            self._cell_report.block(sim, t)
        else:
            super().block(sim, t)

    def finalize(self, sim: Simulation) -> None:
        if self._cell_report is not None:
            self._cell_report.finalize(sim)
        else:
            super().finalize(sim)

    def salvage(self, sim: Simulation, stop_time: float | None = None) -> None:
        if self._cell_report is not None:
            self._cell_report.salvage(sim, stop_time)
        else:
            super().salvage(sim, stop_time)

    def _record(self, sim: Simulation, pop: str, ids: np.ndarray, variables: list[str], dt: float, start: float,
                stop: float) -> Any:
        return cast(RecordsSections, sim.backend).record_segments(  # initialize() checked the ability
             pop, ids, variables, self.spec.sections, dt, start, stop, f"reports.{self.name}")


class SynapseReport(_ElementReport):
    """Variables of the synapses (point processes named ``syn_type``..., default ``Exp2Syn``) on ``cells``, one
    column per synapse in the order they were made (bmtk's ``netcon_report``)."""

    method = "record_synapses"
    ability = RecordsSynapses

    def _record(self, sim: Simulation, pop: str, ids: np.ndarray, variables: list[str], dt: float, start: float,
                stop: float) -> Any:
        syn_type = self.spec.params.get("syn_type", "Exp2Syn")
        return cast(RecordsSynapses, sim.backend).record_synapses(  # initialize() checked the ability
            pop, ids, variables, syn_type, dt, start, stop, f"reports.{self.name}")


class ClampReport(_ElementReport):
    """The current (nA) of the clamps of one kind on ``cells`` (default: every cell), one column per cell
    (bmtk's ``clamp_report``): ``variable_name`` ``"se"`` (SEClamp inputs), ``"ic"`` (current clamps given by
    amplitudes and times) or ``"f_ic"`` (current clamps read from CSV or NWB files).

    bmtk writes one ``data`` column per clamp and no node ids; here each column is a cell (the sum of its
    clamps of that kind, since a step schedule is made of several), with the SONATA mapping, so the file
    reads like any other report."""

    method = "record_clamps"
    ability = RecordsClamps
    KINDS = {"se": "se", "seclamp": "se", "ic": "ic", "iclamp": "ic", "f_ic": "f_ic"}

    def _variables(self, key: str) -> list[str]:
        kind = self.spec.variable_name
        if not isinstance(kind, str) or kind.lower() not in self.KINDS:
            raise ConfigError(None, f"{key}.variable_name",
                              "the kind of clamp: se (SEClamp), ic (IClamp) or f_ic (IClamp from a file)", repr(kind))
        self.kind = self.KINDS[kind.lower()]
        return ["i"]

    def _cells(self) -> Any:
        return self.spec.cells if self.spec.cells is not None else {}

    def _record(self, sim: Simulation, pop: str, ids: np.ndarray, variables: list[str], dt: float, start: float,
                stop: float) -> Any:
        return cast(RecordsClamps, sim.backend).record_clamps(  # initialize() checked the ability
            pop, ids, self.kind, dt, start, stop, f"reports.{self.name}")


def membrane_report(name: str, spec: ReportSpec) -> SimulatorModule:
    """``membrane_report``: soma only through the backends' per-cell recorders, more sections per segment.

    Parameters
    ----------
    name, spec
        As :func:`modelkit.simulator.recording.membrane_report` takes them.
    """
    sections = spec.sections
    if sections is None or (isinstance(sections, str) and sections.lower() in ("soma", "somatic")):
        from modelkit.simulator.recording import MembraneReport
        return MembraneReport(name, spec)
    return CompartmentReport(name, spec)
