"""Report modules, looked up by the config's ``module`` name; plus the spike output every run writes.

Recorded data never piles up in memory: spikes are collected per block, and
variables are streamed frame block by frame block into SONATA report files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit._typing import PathLike
from modelkit.simulator.abilities import RecordsWeights
from modelkit.simulator.base import ConfigModule, SimulatorModule, send_frames
from modelkit.sonata.config import ReportSpec
from modelkit.simulator.journal import JOURNAL_NAME, SpikeJournal
from modelkit.simulator.parallel import gather_arrays, merge_frames
from modelkit.sonata import ReportWriter, write_spikes, write_spikes_csv

if TYPE_CHECKING:
    from modelkit.simulator.base import Backend
    from modelkit.simulator.run import Simulation

__all__ = ["REPORT_MODULES", "report_module", "membrane_report", "SpikesOutput", "WriterReport", "MembraneReport",
           "WeightReport", "report_window", "flush_writers", "close_partial"]

log = logging.getLogger("modelkit.simulator")

_SORT = {None: "by_time", "time": "by_time", "by_time": "by_time", "id": "by_id", "by_id": "by_id",
         "none": "none"}


class SpikesOutput(SimulatorModule):
    """Spikes of every built cell: streamed to the sinks per block, written to ``spikes_file`` (and CSV).

    Rank 0 keeps each block's spikes in memory and also appends them to a journal in the staging folder
    (:mod:`modelkit.simulator.journal`), so that a run that ends early keeps its spikes: :meth:`salvage`
    writes them when the run stops or fails, and the journal is what is left of a killed run.
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        # one entry per block, (t_complete in ms, {population: (node_ids, times)}): appended in one step,
        # so that a signal arriving in the middle of a block never leaves it half kept
        self._blocks: list[tuple[float, dict[str, tuple[np.ndarray, np.ndarray]]]] = []
        self._tstart: float | None = None
        self.n_written = 0  # spikes in the spikes file written (rank 0)
        self._journal: SpikeJournal | None = None

    def initialize(self, sim: Simulation) -> None:
        self.counts = {p: 0 for p in sim.built}
        if not sim.is_root:
            return
        self._tstart = sim.options.tstart
        out = sim.config.output
        # what the adoption of a killed run's folder needs to write the files this run would have written
        header = {"populations": list(sim.built), "tstart": sim.options.tstart, "tstop": sim.options.tstop,
                  "spikes_file": _in_staging(sim, out.spikes_file),
                  "spikes_file_csv": _in_staging(sim, out.spikes_file_csv),
                  "sort": _SORT.get(out.spikes_sort_order, "by_time"), "log_file": _in_staging(sim, out.log_file)}
        self._journal = SpikeJournal(os.path.join(sim.staging, JOURNAL_NAME), header)

    @property
    def stop_time(self) -> float | None:
        """The end (ms) of the last whole block: the spikes kept are every spike up to it (rank 0; None
        before the run)."""
        if self._tstart is None:
            return None
        return self._blocks[-1][0] if self._blocks else self._tstart

    def block(self, sim: Simulation, t: float) -> None:
        local = sim.backend.collect_spikes()
        if sim.comm.size > 1:  # each rank records its own cells: rank 0 gathers them
            flat = {f"{p}\0{k}": a for p, (ids, times) in local.items() for k, a in (("i", ids), ("t", times))}
            got = gather_arrays(sim.comm, flat)
            if got is None:
                return
            local = {p: (got[f"{p}\0i"], got[f"{p}\0t"]) for p in local}
        fired = {p: (ids, times) for p, (ids, times) in local.items() if len(ids)}
        # the backends' recorders hold every spike up to t when run_until(t) returns (NEST's spike
        # recorder included, measured at block ends off its min_delay grid), so t is where they are whole
        t = round(t, 9)
        if self._journal is not None:  # before the block counts as kept: the journal never lags memory
            self._journal.append(t, fired)
        self._blocks.append((t, fired))
        for pop, (ids, times) in fired.items():
            self.counts[pop] = self.counts.get(pop, 0) + len(ids)
            for s in sim.sinks:
                s.spikes(pop, ids, times)

    def _write(self, sim: Simulation, stop_time: float | None) -> None:
        out = sim.config.output
        data = {p: (np.concatenate([b[p][0] for _, b in self._blocks if p in b] or [np.empty(0, np.int64)]),
                    np.concatenate([b[p][1] for _, b in self._blocks if p in b] or [np.empty(0)]))
                for p in sim.built}
        sort = _SORT.get(out.spikes_sort_order, "by_time")
        self.n_written = sum(len(ids) for ids, _ in data.values())
        if out.spikes_file:
            path = sim.output_path(out.spikes_file)
            write_spikes(path, data, sort=sort, overwrite=True, stop_time=stop_time)
            sim.outputs["spikes"] = path
        if out.spikes_file_csv:
            path = sim.output_path(out.spikes_file_csv)
            write_spikes_csv(path, data, sort=sort, overwrite=True)
            sim.outputs["spikes_csv"] = path
        if self._journal is not None:
            self._journal.close(remove=True)

    def finalize(self, sim: Simulation) -> None:
        if not sim.is_root:
            return
        self._write(sim, None)

    def salvage(self, sim: Simulation, stop_time: float | None = None) -> float | None:
        """The run ended early: write the spikes of its whole blocks (every spike up to :attr:`stop_time`).

        Parameters
        ----------
        sim : Simulation
            The run.
        stop_time : float, optional
            Ignored: the spikes kept are those of the whole blocks run.

        Returns
        -------
        float or None
            The stop time (ms) recorded in the file; None where nothing was written (not rank 0, or the
            run ended before its first block began).
        """
        stop = self.stop_time
        if not sim.is_root or stop is None:
            return None
        self._write(sim, stop)
        return stop


def _in_staging(sim: Simulation, path: str | None) -> str | None:
    """An output file's path relative to the staging folder (outputs are inside ``output_dir``)."""
    return os.path.relpath(sim.output_path(path), sim.staging) if path else None


class WriterReport(ConfigModule[ReportSpec]):
    """A report written through one :class:`~modelkit.sonata.ReportWriter` per variable (``writers``): the run's
    end closes them, an early end cuts them at the stop time (:func:`close_partial`)."""

    name: str
    writers: dict[str, ReportWriter]

    def finalize(self, sim: Simulation) -> None:
        for w in self.writers.values():
            w.close()

    def salvage(self, sim: Simulation, stop_time: float | None = None) -> None:
        close_partial(self.name, self.writers, stop_time)


class MembraneReport(WriterReport):
    """Variables of cells (``V_m``, ``v``, ...) sampled every ``dt`` ms, written as a SONATA report.

    One file per variable (``file_name``, or ``<report>.h5``; with several variables
    ``<report>_<variable>.h5``), one population group per node population.  Frame
    times are the simulator's sample times: the report's ``time`` is
    (first sample, last sample + dt, dt).
    """

    def __init__(self, name: str, spec: ReportSpec) -> None:
        super().__init__(name, spec)
        self.recorders: list[Any] = []
        self.config_path: str | None = None
        self.writers: dict[str, ReportWriter] = {}
        #: the config asked for sections that this backend's cells do not have: one value per cell is recorded
        self.per_cell_note = False
        self._sent: dict[int, int] = {}  # frames handed to the sinks so far, per recorder

    def _variables(self) -> list[str]:
        v = self.spec.variable_name
        if isinstance(v, str) and v:
            return [v]
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            return list(v)
        raise ConfigError(self.config_path, f"reports.{self.name}.variable_name", "a variable name (or a list)",
                          repr(v))

    def initialize(self, sim: Simulation) -> None:
        if self.per_cell_note:
            log.info("report %s: %s has no sections; recording one value per cell", self.name,
                     type(sim.backend).__name__)
        dt, start, stop = report_window(sim, self.spec, f"reports.{self.name}")
        self.config_path = sim.config.path
        variables = self._variables()
        cells = sim.resolve(self.spec.cells, f"reports.{self.name}.cells")
        for pop, sel in cells.items():
            built = sim.built.get(pop)
            if built is None:
                continue
            ids = (sel & built).flat
            if len(ids) == 0:
                continue
            try:
                self.recorders.append(sim.backend.record_variables(pop, ids, variables, dt, start, stop))
            except ConfigError as e:  # the backend knows the model, the config file and key are named here
                if e.path is not None:
                    raise
                raise ConfigError(sim.config.path, f"reports.{self.name}.variable_name", e.expected,
                                  e.found) from e
        if not self.recorders:
            log.warning("report %s: no built cells selected; nothing recorded", self.name)
        base = self.spec.file_name or os.path.join(sim.config.output.output_dir, f"{self.name}.h5")
        if not sim.is_root:
            return
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

    def block(self, sim: Simulation, t: float) -> None:
        for k, rec in enumerate(self.recorders):
            frames = merge_frames(sim.comm, rec.collect())
            if frames is None:
                continue
            for var, w in self.writers.items():
                if len(frames[var]):
                    w.append(frames[var], rec.population)
            if sim.sinks and self.writers:
                n = len(next(iter(frames.values())))
                t0, _, step = rec.time_window
                times = t0 + step * (self._sent.get(k, 0) + np.arange(n))
                self._sent[k] = self._sent.get(k, 0) + n
                for var in self.writers:
                    send_frames(sim.sinks, self.name, rec.population, var, rec.node_ids, times, frames[var])
        flush_writers(self.writers)


def report_window(sim: Simulation, spec: ReportSpec, key: str, dt_slack: float = 0.0) -> tuple[float, float, float]:
    """A report's sampling interval and window: ``dt``, ``start_time`` and ``end_time``, by default the run's.

    Parameters
    ----------
    sim : Simulation
        The run (its options and config path).
    spec : ReportSpec
        The report's entry.
    key : str
        ``reports.<name>``, named in errors.
    dt_slack : float
        How far (ms) below the run's dt the report's may be (population reports allow 1e-12).

    Returns
    -------
    dt, start, stop : float
        Sampling interval and window [start, stop) (ms).

    Raises
    ------
    ConfigError
        ``dt`` not a whole multiple of the run's dt, or a window outside the run or empty.
    """
    opts = sim.options
    dt = float(spec.dt) if spec.dt else opts.dt
    if dt < opts.dt - dt_slack or abs(dt / opts.dt - round(dt / opts.dt)) > 1e-9:
        raise ConfigError(sim.config.path, f"{key}.dt", f"a multiple of the simulation dt ({opts.dt} ms)", str(dt))
    start = float(spec.start_time) if spec.start_time is not None else opts.tstart
    stop = float(spec.end_time) if spec.end_time is not None else opts.tstop
    if not opts.tstart <= start < stop <= opts.tstop + 1e-9:
        raise ConfigError(sim.config.path, f"{key}.start_time",
                          f"start_time < end_time within the run [{opts.tstart}, {opts.tstop}] ms",
                          f"[{start}, {stop}]")
    return dt, start, stop


def flush_writers(writers: dict[str, ReportWriter]) -> None:
    """Push a block's frames to disk with their count (what a killed run's report is cut to).

    Parameters
    ----------
    writers : dict of str to ReportWriter
        The report's open writers, by variable.
    """
    for w in writers.values():
        w.flush()


def close_partial(name: str, writers: dict[str, ReportWriter], stop_time: float | None) -> None:
    """The run ended early: close each report file with the frames written so far (a valid, shorter report).

    Parameters
    ----------
    name : str
        The report's name, for the log.
    writers : dict of str to ReportWriter
        The report's open writers, by variable.
    stop_time : float or None
        The time (ms) up to which the frames are whole.
    """
    for w in writers.values():
        kept = w.close_partial(stop_time)
        if kept:
            log.info("report %s: kept %s frames in %s", name, kept, os.path.basename(w.path))


class WeightReport(ConfigModule[ReportSpec]):
    """Synaptic weights at every spike transmitted through chosen synapses (plastic ones, typically).

    Which synapses: ``edges`` (an edge population name, a list of them, or
    ``{population: [edge_type_id, ...]}``), or bmtk's form ``nest_model`` (e.g.
    ``stdp_synapse``) with ``model_template``, a new synapse-model name that edge types
    use.  Written while the run goes on (memory stays bounded) to ``file_name``
    (default ``<report>.csv``), space-separated with bmtk's columns ``source_node_id
    source_population target_node_id target_population time_ms weights``; weights in
    the simulator's unit (NEST: pA for current synapses, nS for conductance ones).
    """

    columns = ("source_node_id", "source_population", "target_node_id", "target_population", "time_ms", "weights")

    def __init__(self, name: str, spec: ReportSpec) -> None:
        super().__init__(name, spec)
        self.recorder: Any = None
        self._weights_of: RecordsWeights | None = None  # the backend, whose populations the recorder's columns index
        self.path = ""
        self.count = 0

    def _edges(self, sim: Simulation) -> dict[str, list[int] | None]:
        e = self.spec.params.get("edges")
        key = f"reports.{self.name}.edges"
        if e is None:
            return {}
        if isinstance(e, str):
            e = [e]
        if isinstance(e, list):
            e = {k: None for k in e}
        if not isinstance(e, dict):
            raise ConfigError(sim.config.path, key, "an edge population, a list, or {population: [edge_type_id]}",
                              repr(e))
        unknown = [k for k in e if k not in sim.network.edges]
        if unknown:
            raise ConfigError(sim.config.path, key, f"edge populations of the network ({sorted(sim.network.edges)})",
                              str(unknown))
        return {k: (None if v is None else [int(x) for x in np.atleast_1d(v)]) for k, v in e.items()}

    def configure(self, sim: Simulation) -> None:
        p = self.spec.params
        edges = self._edges(sim)
        alias = p.get("model_template")
        if not edges and not (alias and p.get("nest_model")):
            raise ConfigError(sim.config.path, f"reports.{self.name}.edges",
                              "the synapses to record: edges, or nest_model with model_template", "neither")
        if not isinstance(sim.backend, RecordsWeights):
            raise ConfigError(sim.config.path, f"reports.{self.name}.module",
                              "a backend that records synaptic weights", type(sim.backend).__name__)
        self.recorder = sim.backend.record_weights(self.name, edges, p.get("nest_model"), alias)
        self._weights_of = sim.backend

    def initialize(self, sim: Simulation) -> None:
        base = self.spec.file_name or os.path.join(sim.config.output.output_dir, f"{self.name}.csv")
        self.path = sim.output_path(base)
        if not sim.is_root:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "w") as f:
            f.write(" ".join(self.columns) + "\n")
        sim.outputs[self.name] = self.path

    def block(self, sim: Simulation, t: float) -> None:
        ev = gather_arrays(sim.comm, self.recorder.collect())
        if ev is None:
            return
        n = len(ev["time"])
        if n == 0:
            return
        assert self._weights_of is not None  # configure() ran
        pops = np.array(self._weights_of.populations, dtype=np.object_)
        order = np.lexsort((ev["target_node_id"], ev["source_node_id"], ev["time"]))
        import pandas as pd
        df = pd.DataFrame({"source_node_id": ev["source_node_id"][order],
                           "source_population": pops[ev["source_population"][order]],
                           "target_node_id": ev["target_node_id"][order],
                           "target_population": pops[ev["target_population"][order]],
                           "time_ms": ev["time"][order], "weights": ev["weight"][order]})
        df.to_csv(self.path, sep=" ", header=False, index=False, mode="a", float_format="%.10g")
        self.count += n

    def finalize(self, sim: Simulation) -> None:
        if self.recorder is not None and self.recorder.n_types == 0 and not self.recorder.alias:
            log.warning("report %s: no edge type matched; no weights recorded", self.name)
        log.info("report %s: %d weight events", self.name, self.count)


def membrane_report(name: str, spec: ReportSpec) -> SimulatorModule:
    """``membrane_report`` on a backend without sections: one value per cell, as bmtk's PointNet reads a
    membrane_report whatever its ``sections`` say (a backend with sections declares its own).

    Parameters
    ----------
    name : str
        The report's name (``reports.<name>``).
    spec : ReportSpec
        The parsed entry.

    Returns
    -------
    MembraneReport
    """
    report = MembraneReport(name, spec)
    sections = spec.sections
    report.per_cell_note = not (sections is None or (isinstance(sections, str)
                                                     and sections.lower() in ("soma", "somatic")))
    return report


#: module name -> report class of the reports every backend writes (they use only the Backend protocol's
#: primitives, or an ability they check); a backend's own reports are in its ``report_modules``
REPORT_MODULES: dict[str, Callable[[str, ReportSpec], SimulatorModule]] = {
    "membrane_report": membrane_report,
    "multimeter_report": MembraneReport,
    "multimeter": MembraneReport,
    "weight_recorder": WeightReport,
}


def report_module(name: str, spec: ReportSpec, path: PathLike | None = None,
                  backend: type[Backend] | None = None) -> SimulatorModule:
    """:func:`~modelkit.simulator.inputs.input_module` for the ``reports`` entry ``name`` (``spec``), keyed by its
    ``module`` alone and looked up in the backend's ``report_modules``, then in :data:`REPORT_MODULES`.

    Parameters
    ----------
    name, spec, path, backend : see :func:`~modelkit.simulator.registry.module_for`
    """
    from modelkit.simulator.registry import module_for
    return module_for("reports", spec.module, name, spec, REPORT_MODULES, path, backend)
