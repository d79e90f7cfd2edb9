"""check_backend: the conformance suite every simulator backend passes.

A backend is done when :func:`check_backend` passes on it: it runs named checks, each through the public API
(:func:`modelkit.simulator.simulate` on a small SONATA simulation config written to a folder, the
:mod:`modelkit.sonata` readers), and raises one :class:`BackendCheckError` that lists every failed check with
what was expected and what was found.  The checks:

* the class: ``name``, ``model_types``, ``description``; ``is_available()``; an instance satisfies the
  :class:`~modelkit.simulator.Backend` protocol; ``get_backend(name)`` returns the class;
* a run writes a valid SONATA spikes file (ids of the population, times in [tstart, tstop], sorted as the
  file declares) whose counts are the :class:`~modelkit.simulator.RunResult`'s, and streams the same spikes
  to a sink;
* a spike-file input and a Poisson input onto virtual nodes drive the cells (or, for cells that take no
  spike trains, are refused with an error naming ``inputs.<name>``); a current clamp takes effect or is
  refused so;
* a membrane report of the backend's variable has one column per cell and the run's time axis;
* a sink's progress calls rise to ``tstop``; a sink that raises ``RunStoppedError`` leaves
  ``<output_dir>.stopped`` with a valid spikes file holding the spikes up to its stop time;
* an undefined node set and an unknown report module raise a ``ConfigError`` naming the key;
* the class, a RunResult and the errors raised survive pickling (ipyparallel engines send them);
* two runs with the same seed give the same spikes.
"""

from __future__ import annotations

import html
import json
import os
import pickle
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import ConfigError, ModelkitError, RunStoppedError
from modelkit.testing.backend_cases import BackendCase, NetworkLike, builtin_case

if TYPE_CHECKING:
    from modelkit.simulator import Backend

__all__ = ["check_backend", "BackendReport", "CheckResult", "BackendCheckError", "CHECKS"]

Status = Literal["passed", "failed", "skipped"]


@dataclass
class CheckResult:
    """The outcome of one named check.

    Attributes
    ----------
    name : str
    status : {"passed", "failed", "skipped"}
    detail : str
        What was expected and what was found (failed), or why it did not run (skipped).
    seconds : float
        Wall time of the check (s); the runs it shares with other checks count where they first ran.
    """

    name: str
    status: Status
    detail: str = ""
    seconds: float = 0.0


@dataclass
class BackendReport:
    """Per-check outcomes of :func:`check_backend` on one backend.

    Attributes
    ----------
    backend : str
        The backend's registered name.
    results : list of CheckResult
        In the order the checks ran.
    workdir : str
        Where the configs and run outputs were written (removed afterwards unless the caller gave it).
    """

    backend: str
    results: list[CheckResult] = field(default_factory=list)
    workdir: str = ""

    @property
    def passed(self) -> bool:
        """No check failed."""
        return not self.failures

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if r.status == "failed"]

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no check {name!r}; checks: {[r.name for r in self.results]}")

    @property
    def seconds(self) -> float:
        """Total wall time of the checks (s)."""
        return sum(r.seconds for r in self.results)

    def __str__(self) -> str:
        n = {s: sum(r.status == s for r in self.results) for s in ("passed", "failed", "skipped")}
        lines = [f"check_backend({self.backend!r}): {n['passed']} passed, {n['failed']} failed, "
                 f"{n['skipped']} skipped in {self.seconds:.1f} s"]
        for r in self.results:
            detail = f": {r.detail}" if r.detail else ""
            lines.append(f"  {r.status.upper():8s} {r.name} ({r.seconds:.2f} s){detail}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = {"passed": "#2a7a2a", "failed": "#b00020", "skipped": "#777"}
        rows = "".join(f"<tr><td><code>{html.escape(r.name)}</code></td>"
                       f"<td style='color:{colour[r.status]}'><b>{r.status}</b></td><td>{r.seconds:.2f}</td>"
                       f"<td>{html.escape(r.detail)}</td></tr>" for r in self.results)
        head = (f"<div><b>check_backend</b> <code>{html.escape(self.backend)}</code>: "
                f"{'passed' if self.passed else f'{len(self.failures)} failed'}</div>")
        return (f"{head}<table><tr><th>check</th><th>status</th><th>s</th><th>expected / found</th></tr>"
                f"{rows}</table>")


class BackendCheckError(AssertionError):
    """Some conformance checks failed; the message lists each with what was expected and found.

    Attributes
    ----------
    report : BackendReport
    """

    def __init__(self, report: BackendReport) -> None:
        self.report = report
        lines = [f"backend {report.backend!r} failed {len(report.failures)} conformance check(s):"]
        lines += [f"- {r.name}: {r.detail}" for r in report.failures]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.report,))


class _Failed(Exception):
    """A check found something other than what it expected."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"expected {expected}; found {found}")


class _Skipped(Exception):
    """A check does not apply (the reason is the message)."""


def _expect(ok: bool, expected: str, found: Any) -> None:
    if not ok:
        raise _Failed(expected, str(found))


class _Context:
    """What the checks share: the backend, its case, the network's populations, and the runs made so far."""

    def __init__(self, cls: type[Backend], case: BackendCase, workdir: Path, seed: int) -> None:
        self.cls = cls
        self.name: str = getattr(cls, "name", "?")
        self.case = case
        self.workdir = workdir
        self.seed = seed
        self.runs: dict[str, Any] = {}  # tag -> RunResult or the exception the run raised
        self.errors: list[BaseException] = []  # errors runs raised (for the pickling check)
        self.progress: list[tuple[float, float]] = []
        self.streamed: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._network: Any = None
        self._split: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None

    # ------------------------------------------------------------------ the network
    @property
    def network(self) -> Any:
        """The network as :func:`simulate` takes it (None: a circuit config the simulation config names)."""
        net = self.case.network
        if isinstance(net, (str, os.PathLike)):
            return None
        return net

    def populations(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``({population: ids of built cells}, {population: ids of virtual nodes that drive them})``."""
        if self._split is None:
            from modelkit.sonata import Network
            net = self.case.network
            if isinstance(net, (str, os.PathLike)):
                network = Network.load(os.fspath(net))
            else:
                parts: Sequence[Any] = net if isinstance(net, (list, tuple)) else [net]
                built: list[Network] = [p.build() if hasattr(p, "add_nodes") else p for p in parts]
                network = Network({k: v for p in built for k, v in p.nodes.items()},
                                  {k: v for p in built for k, v in p.edges.items()})
            cells: dict[str, np.ndarray] = {}
            virtual: dict[str, np.ndarray] = {}
            builds_virtual = "virtual" in set(getattr(self.cls, "model_types", ()))
            for name, pop in network.nodes.items():
                for mt, sel in pop.split_by("model_type").items():
                    target = cells if (str(mt) != "virtual" or builds_virtual) else virtual
                    target[name] = np.union1d(target.get(name, np.empty(0, np.int64)), sel.flat)
            driving = {e.source for e in network.edges.values() if e.target in cells}
            self._split = (cells, {k: v for k, v in virtual.items() if k in driving})
        return self._split

    @property
    def cell_population(self) -> str:
        cells, _ = self.populations()
        if not cells:
            raise _Failed("a network with cells the backend builds", "none")
        return sorted(cells)[0]

    @property
    def source_population(self) -> str | None:
        """A population of virtual nodes with edges onto cells (where spike inputs go), or None."""
        _, virtual = self.populations()
        return sorted(virtual)[0] if virtual else None

    # ------------------------------------------------------------------ runs
    def config(self, tag: str, inputs: Mapping[str, Any], reports: Mapping[str, Any]) -> str:
        """Write the simulation config of one run; returns its path."""
        c = self.case
        n_steps = max(1, int(round(c.tstop / c.dt)))
        extra = dict(c.config)
        run = {"tstart": 0.0, "tstop": c.tstop, "dt": c.dt, "nsteps_block": max(1, n_steps // 5),
               **extra.pop("run", {})}
        cfg: dict[str, Any] = {**extra, "run": run, "inputs": {**c.inputs, **inputs}, "reports": dict(reports),
                               "output": {"output_dir": str(self.workdir / tag), "spikes_file": "spikes.h5",
                                          "log_file": "log.txt", "overwrite_output_dir": True}}
        if isinstance(c.network, (str, os.PathLike)):
            cfg["network"] = os.path.abspath(os.fspath(c.network))
        path = self.workdir / f"{tag}.json"
        path.write_text(json.dumps(cfg, indent=1))
        return str(path)

    def simulate(self, tag: str, inputs: Mapping[str, Any] = {}, reports: Mapping[str, Any] | None = None,
                 sinks: Sequence[Any] = ()) -> Any:
        """Run once (a run already made under ``tag`` is reused); a raised error is re-raised."""
        if tag not in self.runs:
            from modelkit.simulator import simulate
            cfg = self.config(tag, inputs, self.report_spec() if reports is None else reports)
            try:
                self.runs[tag] = simulate(cfg, network=self.network, backend=self.name, seed=self.seed,
                                          progress=False, sinks=sinks)
            except BaseException as e:  # noqa: BLE001 - kept for the checks that look at it
                if isinstance(e, KeyboardInterrupt) and not isinstance(e, ModelkitError):
                    raise
                self.runs[tag] = e
                self.errors.append(e)
        out = self.runs[tag]
        if isinstance(out, BaseException):
            raise out
        return out

    def report_spec(self) -> dict[str, Any]:
        if self.case.variable is None:
            return {}
        return {"conformance_v": {"module": "membrane_report", "cells": self.cell_population,
                                  "variable_name": self.case.variable, "dt": self.case.report_dt,
                                  **self.case.report}}

    def poisson_inputs(self, rate: float = 50.0) -> dict[str, Any]:
        src = self.source_population
        if src is None or not self.case.spike_inputs:
            return {}
        return {"conformance_poisson": {"input_type": "spikes", "module": "poisson", "node_set": src,
                                        "rate": rate}}

    def driven(self) -> Any:
        """The reference run: the case's inputs, Poisson spikes onto the virtual nodes, the membrane report, and a
        sink that records progress and spikes."""
        if "driven" not in self.runs:
            sink = _RecordingSink(self)
            self.simulate("driven", self.poisson_inputs(), sinks=[sink])
        return self.simulate("driven")

    def quiet(self) -> Any:
        """The case's inputs only (what an input must change)."""
        return self.simulate("quiet")


class _RecordingSink:
    """Records progress calls and streamed spikes into the context."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def spikes(self, population: str, node_ids: np.ndarray, times: np.ndarray) -> None:
        self.ctx.streamed.setdefault(population, []).append((np.array(node_ids), np.array(times)))

    def progress(self, t: float, tstop: float) -> None:
        self.ctx.progress.append((float(t), float(tstop)))


class _StopSink:
    """Raises RunStoppedError at the first block end at or after ``t`` ms, as ``LiveRun.stop`` does."""

    def __init__(self, t: float) -> None:
        self.t = t
        self.stopped_at: float | None = None

    def spikes(self, population: str, node_ids: np.ndarray, times: np.ndarray) -> None:
        return None

    def progress(self, t: float, tstop: float) -> None:
        if t >= self.t and self.stopped_at is None:
            self.stopped_at = float(t)
            raise RunStoppedError("stopped by check_backend's sink")


# ---------------------------------------------------------------------- helpers on outputs
def _spikes(path: str | None) -> dict[str, Any]:
    from modelkit.sonata import read_spikes
    if not path:
        return {}
    return {str(k): v for k, v in read_spikes(path).items()}


def _report(res: Any, ctx: _Context) -> np.ndarray | None:
    if ctx.case.variable is None or "conformance_v" not in res.reports:
        return None
    from modelkit.sonata import CompartmentReport
    return np.asarray(CompartmentReport(res.reports["conformance_v"])[ctx.cell_population].data())


def _same_spikes(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """None when both hold the same (node, time) pairs per population, else what differs."""
    for pop in sorted(set(a) | set(b)):
        sa, sb = a.get(pop), b.get(pop)
        na, nb = (0 if sa is None else len(sa)), (0 if sb is None else len(sb))
        if na != nb:
            return f"{pop}: {na} vs {nb} spikes"
        if sa is None or sb is None or na == 0:
            continue
        oa, ob = np.lexsort((sa.timestamps, sa.node_ids)), np.lexsort((sb.timestamps, sb.node_ids))
        if not (np.array_equal(sa.node_ids[oa], sb.node_ids[ob])
                and np.array_equal(sa.timestamps[oa], sb.timestamps[ob])):
            return f"{pop}: same count ({na}), different (node, time) pairs"
    return None


def _effect(ctx: _Context, res: Any) -> str | None:
    """How ``res`` differs from the quiet run (spikes or the recorded variable), None when it does not."""
    quiet = ctx.quiet()
    diff = _same_spikes(_spikes(quiet.spikes_file), _spikes(res.spikes_file))
    if diff is not None:
        return f"spikes ({diff})"
    a, b = _report(quiet, ctx), _report(res, ctx)
    if a is not None and b is not None and (a.shape != b.shape or not np.array_equal(a, b)):
        return f"{ctx.case.variable} (max |difference| {np.nanmax(np.abs(a - b)) if a.shape == b.shape else 'shape'})"
    return None


def _drives_or_refused(ctx: _Context, tag: str, name: str, spec: Mapping[str, Any], must_drive: bool) -> str:
    """Run with the input ``name``: it changes the run, or is refused with a ModelkitError naming it."""
    key = f"inputs.{name}"
    try:
        res = ctx.simulate(tag, {name: dict(spec)})
    except ModelkitError as e:
        _expect(not must_drive, "the input to drive the cells", f"{type(e).__name__}: {e}")
        _expect(key in str(e), f"a ModelkitError naming {key}", f"{type(e).__name__}: {e}")
        return f"refused: {type(e).__name__} naming {key}"
    except Exception as e:  # noqa: BLE001
        raise _Failed(f"the input to take effect or a ModelkitError naming {key}",
                      f"{type(e).__name__}: {e}") from e
    what = _effect(ctx, res)
    _expect(what is not None, f"the input to change the spikes or the recorded variable, or a ModelkitError naming "
            f"{key}" if not must_drive else "the input to change the spikes or the recorded variable",
            "the same run as without it (silently ignored)")
    return f"takes effect: {what}"


# ---------------------------------------------------------------------- the checks
def _check_class_attributes(ctx: _Context) -> str:
    """``name`` (str), ``model_types`` (non-empty frozenset of str) and ``description`` (str)."""
    cls = ctx.cls
    name, types, desc = (getattr(cls, k, None) for k in ("name", "model_types", "description"))
    _expect(isinstance(name, str) and bool(name), "name: a non-empty str", repr(name))
    _expect(isinstance(types, frozenset) and bool(types) and all(isinstance(t, str) for t in types),
            "model_types: a non-empty frozenset of str", repr(types))
    _expect(isinstance(desc, str) and bool(desc), "description: a non-empty str", repr(desc))
    return ""


def _check_is_available(ctx: _Context) -> str:
    """``is_available()`` returns True (the checks run the backend; a simulator that is not installed fails)."""
    ok = ctx.cls.is_available()
    _expect(ok is True, "is_available() to return True", repr(ok))
    return ""


def _check_protocol(ctx: _Context) -> str:
    """An instance satisfies :class:`modelkit.simulator.Backend` (the runtime-checkable protocol)."""
    from modelkit.simulator import Backend
    inst = ctx.cls()
    missing = [m for m in ("is_available", "build", "add_spike_trains", "add_current_clamp", "record_variables",
                           "run_until", "collect_spikes", "close") if not callable(getattr(inst, m, None))]
    _expect(isinstance(inst, Backend), "an instance of the Backend protocol",
            f"missing or not callable: {missing}" if missing else "not an instance")
    return ""


def _check_registered(ctx: _Context) -> str:
    """``get_backend(name)`` returns the class, and ``available_backends()`` lists it as available."""
    from modelkit.simulator import available_backends, get_backend
    got = get_backend(ctx.name)
    _expect(got is ctx.cls, f"get_backend({ctx.name!r}) to return {ctx.cls!r}", repr(got))
    avail = available_backends()
    _expect(avail.get(ctx.name) is True, f"available_backends()[{ctx.name!r}] to be True", avail.get(ctx.name))
    return ""


def _check_spikes_written(ctx: _Context) -> str:
    """A driven run writes a valid SONATA spikes file: populations and ids of the built cells, times in
    [tstart, tstop], sorted as declared; RunResult's counts are the file's."""
    res = ctx.driven()
    _expect(bool(res.spikes_file) and os.path.isfile(res.spikes_file), "RunResult.spikes_file: an existing file",
            res.spikes_file)
    spikes = _spikes(res.spikes_file)
    cells, _ = ctx.populations()
    tstop = ctx.case.tstop
    for pop, sp in spikes.items():
        _expect(pop in cells, f"spike populations among the built ones {sorted(cells)}", pop)
        bad = ~np.isin(sp.node_ids, cells[pop])
        _expect(not bad.any(), f"node ids of built cells of {pop}", f"{int(bad.sum())} others, e.g. "
                f"{sp.node_ids[bad][:5].tolist()}")
        out = (sp.timestamps < 0.0) | (sp.timestamps > tstop + 1e-9) | ~np.isfinite(sp.timestamps)
        _expect(not out.any(), f"times of {pop} in [0, {tstop}] ms", f"{int(out.sum())} outside, e.g. "
                f"{sp.timestamps[out][:5].tolist()}")
        _expect(sp.sorting in ("by_time", "by_id", "none"), "sorting by_time, by_id or none", sp.sorting)
        if sp.sorting == "by_time":
            _expect(bool(np.all(np.diff(sp.timestamps) >= 0)), f"{pop} sorted by time as declared", "unsorted times")
        if sp.sorting == "by_id":
            _expect(bool(np.all(np.diff(sp.node_ids) >= 0)), f"{pop} sorted by node id as declared", "unsorted ids")
    file_counts = {p: len(s) for p, s in spikes.items() if len(s)}
    res_counts = {p: int(n) for p, n in res.n_spikes.items() if n}
    _expect(file_counts == res_counts, f"RunResult.n_spikes equal to the file's counts {file_counts}", res_counts)
    total = sum(file_counts.values())
    if ctx.case.spiking:
        _expect(total > 0, "spikes from the driven cells", "none")
    return f"{total} spikes"


def _check_sink_spikes(ctx: _Context) -> str:
    """A sink receives the spikes the file holds."""
    res = ctx.driven()
    from modelkit.sonata import SpikePopulation
    streamed = {p: SpikePopulation(p, np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v]))
                for p, v in ctx.streamed.items()}
    diff = _same_spikes(_spikes(res.spikes_file), streamed)
    _expect(diff is None, "the sink's spikes equal to the file's", diff)
    return ""


def _check_spike_file_input(ctx: _Context) -> str:
    """A SONATA spike file onto virtual nodes drives the cells (or is refused, naming the input, by cells that
    take no spike trains)."""
    from modelkit.sonata import write_spikes
    src = ctx.source_population
    cells, virtual = ctx.populations()
    target = src if src is not None else (None if ctx.case.spike_inputs else ctx.cell_population)
    if target is None:
        raise _Skipped("the network has no virtual nodes with edges onto cells")
    ids = virtual[target] if target in virtual else cells[target]
    rng = np.random.default_rng(ctx.seed)
    n = 40 * len(ids)
    times = np.sort(rng.uniform(0.0, ctx.case.tstop, n))
    path = ctx.workdir / "conformance_input_spikes.h5"
    write_spikes(path, {target: (rng.choice(ids, n), times)}, sort="by_time", overwrite=True)
    spec = {"input_type": "spikes", "module": "sonata", "input_file": str(path), "node_set": target}
    return _drives_or_refused(ctx, "spike_file", "conformance_spike_file", spec, ctx.case.spike_inputs)


def _check_poisson_input(ctx: _Context) -> str:
    """A Poisson input onto virtual nodes drives the cells (or is refused, naming the input, by cells that take
    no spike trains)."""
    src = ctx.source_population
    target = src if src is not None else (None if ctx.case.spike_inputs else ctx.cell_population)
    if target is None:
        raise _Skipped("the network has no virtual nodes with edges onto cells")
    spec = {"input_type": "spikes", "module": "poisson", "node_set": target, "rate": 50.0}
    if ctx.case.spike_inputs:  # the driven run is this input: compare it with the quiet one
        what = _effect(ctx, ctx.driven())
        _expect(what is not None, "the input to change the spikes or the recorded variable",
                "the same run as without it (silently ignored)")
        return f"takes effect: {what}"
    return _drives_or_refused(ctx, "poisson", "conformance_poisson", spec, False)


def _check_current_clamp(ctx: _Context) -> str:
    """A current clamp on the cells takes effect, or is refused with a ModelkitError naming ``inputs.<name>``."""
    c = ctx.case
    spec = {"input_type": "current_clamp", "module": "IClamp", "node_set": ctx.cell_population,
            "amp": c.clamp_amp, "amp_units": "nA", "delay": 0.2 * c.tstop, "duration": 0.6 * c.tstop}
    return _drives_or_refused(ctx, "clamp", "conformance_clamp", spec, False)


def _check_membrane_report(ctx: _Context) -> str:
    """A membrane report of the variable: a SONATA report of the cells, one frame per ``report_dt`` over the
    run (the first at tstart or one ``report_dt`` later), finite values."""
    c = ctx.case
    if c.variable is None:
        raise _Skipped("the caller says the backend records no variable (variable=None)")
    from modelkit.sonata import CompartmentReport
    res = ctx.driven()
    path = res.reports.get("conformance_v")
    _expect(bool(path) and os.path.isfile(path), "RunResult.reports['conformance_v']: an existing file",
            res.reports)
    rep = CompartmentReport(path)
    pop = ctx.cell_population
    _expect(pop in rep.populations, f"population {pop} in the report", rep.populations)
    r = rep[pop]
    cells, _ = ctx.populations()
    _expect(np.array_equal(np.sort(r.node_ids), cells[pop]), f"the node ids of {pop} ({len(cells[pop])})",
            r.node_ids.tolist()[:20])
    n = int(round(c.tstop / c.report_dt))
    _expect(r.shape[0] == n, f"{n} frames (0 to {c.tstop} ms every {c.report_dt} ms)", r.shape[0])
    _expect(r.shape[1] >= len(r.node_ids), f"at least one column per cell ({len(r.node_ids)})", r.shape[1])
    # the frames are the simulator's samples (MembraneReport): the first may be one step in (NEST's
    # multimeter samples at report_dt, 2 report_dt, ...), every frame within the run
    start, stop, step = (float(x) for x in r.time)
    _expect(abs(step - c.report_dt) < 1e-9 and -1e-9 <= start <= c.report_dt + 1e-9
            and abs(stop - (start + n * step)) < 1e-6 and start + (n - 1) * step <= c.tstop + 1e-9,
            f"time (start, start + {n} x {c.report_dt}, {c.report_dt}) ms with start in [0, {c.report_dt}] and "
            f"every frame in [0, {c.tstop}] ms", (start, stop, step))
    data = np.asarray(r.data())
    _expect(bool(np.isfinite(data).all()), "finite values", f"{int((~np.isfinite(data)).sum())} not finite")
    return f"shape {r.shape}"


def _check_progress(ctx: _Context) -> str:
    """A sink's progress calls: more than one, times rising, the last at tstop, tstop passed as tstop."""
    ctx.driven()
    ts = [t for t, _ in ctx.progress]
    _expect(len(ts) >= 2, "a progress call per block (5 blocks)", f"{len(ts)} calls")
    _expect(bool(np.all(np.diff(ts) > 0)), "rising times", ts)
    _expect(abs(ts[-1] - ctx.case.tstop) < 1e-9, f"the last call at tstop = {ctx.case.tstop} ms", ts[-1])
    _expect(all(abs(s - ctx.case.tstop) < 1e-9 for _, s in ctx.progress), f"tstop = {ctx.case.tstop} ms",
            sorted({s for _, s in ctx.progress}))
    return f"{len(ts)} calls"


def _check_stop(ctx: _Context) -> str:
    """A sink that raises RunStoppedError mid-run: the error reaches the caller, ``<out>.stopped`` holds a valid
    spikes file whose stop time is the sink's, and its spikes are the full run's up to then."""
    from modelkit.sonata import spikes_stop_time
    sink = _StopSink(0.5 * ctx.case.tstop)
    try:
        ctx.simulate("stop", ctx.poisson_inputs(), sinks=[sink])
    except RunStoppedError:
        pass
    except BaseException as e:  # noqa: BLE001
        raise _Failed("RunStoppedError from simulate", f"{type(e).__name__}: {e}") from e
    else:
        raise _Failed("RunStoppedError from simulate", "the run finished")
    out = ctx.workdir / "stop"
    stopped = Path(f"{out}.stopped")
    _expect(stopped.is_dir() and not out.exists(), f"{stopped.name} (and no {out.name})",
            sorted(p.name for p in ctx.workdir.iterdir() if p.name.startswith("stop")))
    path = stopped / "spikes.h5"
    _expect(path.is_file(), f"{path.name} in {stopped.name}", sorted(p.name for p in stopped.iterdir()))
    part = _spikes(str(path))  # raises SonataFormatError when invalid
    stop = spikes_stop_time(path)
    if stop is None or sink.stopped_at is None or abs(stop - sink.stopped_at) > 1e-9:
        raise _Failed(f"/spikes@stop_time = {sink.stopped_at} ms (the sink's stop)", str(stop))
    late = {p: int((s.timestamps > stop + 1e-9).sum()) for p, s in part.items()}
    _expect(not any(late.values()), f"no spikes after {stop} ms", late)
    full = _spikes(ctx.driven().spikes_file)
    from modelkit.sonata import SpikePopulation
    upto = {p: SpikePopulation(p, s.node_ids[s.timestamps <= stop], s.timestamps[s.timestamps <= stop])
            for p, s in full.items()}
    diff = _same_spikes(upto, part)
    _expect(diff is None, f"the full run's spikes up to {stop} ms (same seed)", diff)
    return f"stopped at {stop} ms with {sum(len(s) for s in part.values())} spikes"


def _check_undefined_node_set(ctx: _Context) -> str:
    """An input onto an undefined node set raises a ConfigError naming ``inputs.<name>``."""
    name = "conformance_nowhere"
    spec = {"input_type": "spikes", "module": "poisson", "node_set": "conformance_no_such_node_set", "rate": 10.0}
    return _named_error(ctx, "bad_node_set", {name: spec}, {}, f"inputs.{name}")


def _check_unknown_report_module(ctx: _Context) -> str:
    """A report of an unknown module raises a ConfigError naming ``reports.<name>``."""
    name = "conformance_unknown"
    spec = {"module": "conformance_no_such_module", "cells": ctx.cell_population, "variable_name": "v"}
    return _named_error(ctx, "bad_report", {}, {name: spec}, f"reports.{name}")


def _named_error(ctx: _Context, tag: str, inputs: Mapping[str, Any], reports: Mapping[str, Any], key: str) -> str:
    try:
        ctx.simulate(tag, inputs, reports)
    except ConfigError as e:
        _expect(key in str(e), f"a ConfigError naming {key}", f"{type(e).__name__}: {e}")
        return type(e).__name__
    except BaseException as e:  # noqa: BLE001
        raise _Failed(f"a ConfigError naming {key}", f"{type(e).__name__}: {e}") from e
    raise _Failed(f"a ConfigError naming {key}", "the run finished")


def _check_pickling(ctx: _Context) -> str:
    """The class, a RunResult and the errors the runs raised survive pickle round trips."""
    _expect(pickle.loads(pickle.dumps(ctx.cls)) is ctx.cls, "the class to unpickle as itself", "another object")
    res = ctx.driven()
    back = pickle.loads(pickle.dumps(res))
    _expect(back == res, "an equal RunResult", back)
    if not ctx.errors:
        ctx.errors.append(ConfigError(None, "inputs.x", "something"))
    for e in ctx.errors:
        try:
            b = pickle.loads(pickle.dumps(e))
        except Exception as x:  # noqa: BLE001
            raise _Failed(f"{type(e).__name__} to pickle", f"{type(x).__name__}: {x}") from x
        _expect(type(b) is type(e) and str(b) == str(e), f"{type(e).__name__}: {e}",
                f"{type(b).__name__}: {b}")
    return f"{len(ctx.errors)} errors"


def _check_determinism(ctx: _Context) -> str:
    """Two runs with the same seed give the same spikes (and the same recorded variable)."""
    a = ctx.driven()
    b = ctx.simulate("driven_again", ctx.poisson_inputs())
    diff = _same_spikes(_spikes(a.spikes_file), _spikes(b.spikes_file))
    _expect(diff is None, "identical spikes", diff)
    ra, rb = _report(a, ctx), _report(b, ctx)
    if ra is not None:
        _expect(rb is not None and ra.shape == rb.shape and np.array_equal(ra, rb),
                f"an identical {ctx.case.variable} report", "a different one")
    return ""


#: check name -> the check, in the order they run (the run checks reuse the runs made before them); each
#: returns what it found (shown in the report) or raises _Failed (expected, found) or _Skipped (why)
CHECKS: dict[str, Callable[[_Context], str]] = {
    "class_attributes": _check_class_attributes,
    "is_available": _check_is_available,
    "protocol": _check_protocol,
    "registered": _check_registered,
    "spikes_written": _check_spikes_written,
    "sink_spikes": _check_sink_spikes,
    "spike_file_input": _check_spike_file_input,
    "poisson_input": _check_poisson_input,
    "current_clamp": _check_current_clamp,
    "membrane_report": _check_membrane_report,
    "progress": _check_progress,
    "stop": _check_stop,
    "undefined_node_set": _check_undefined_node_set,
    "unknown_report_module": _check_unknown_report_module,
    "pickling": _check_pickling,
    "determinism": _check_determinism,
}
_CLASS_CHECKS = ("class_attributes", "is_available", "protocol", "registered")


def _resolve(backend: str | type[Backend]) -> type[Backend]:
    from modelkit.simulator import get_backend
    if isinstance(backend, str):
        cls: type[Backend] = get_backend(backend)
        return cls
    if not isinstance(backend, type):
        raise TypeError(f"check_backend takes a backend name or class, not {type(backend).__name__}")
    return backend


def check_backend(backend: str | type[Backend], network: NetworkLike | None = None, *, variable: str | None = None,
                  inputs: Mapping[str, Mapping[str, Any]] | None = None, spike_inputs: bool = True,
                  spiking: bool = True, config: Mapping[str, Any] | None = None, tstop: float = 100.0,
                  dt: float = 0.1, workdir: PathLike | None = None, seed: int = 7,
                  checks: Sequence[str] | None = None, raise_on_failure: bool = True) -> BackendReport:
    """Run the conformance checks on a simulator backend.

    Parameters
    ----------
    backend : str or type
        A registered backend name (``"nest"``, or one added through the ``modelkit.simulators`` entry points)
        or its class (which must be registered under its ``name``).
    network : NetworkBuilder, Network, list of them, str or PathLike, optional
        The cells to run and the virtual nodes that drive them (a str or PathLike is a circuit config).
        Default: the built-in backend's network from :data:`modelkit.testing.backend_cases.BUILTIN_CASES`
        (its ``variable``, inputs and run settings come with it; the keywords below are then ignored).
    variable : str or None
        A variable the backend records for a membrane report (``V_m``, ``v``); None: it records none (the
        report check is skipped).
    inputs : mapping, optional
        ``inputs`` entries every run needs (a movie for filter cells).
    spike_inputs : bool
        The cells take spike trains from virtual nodes; False: spike inputs must be refused by name.
    spiking : bool
        The cells emit spikes when driven; False: an empty spikes file passes.
    config : mapping, optional
        More simulation-config keys (``target_simulator``, ``conditions``, ``components``, ``run`` extras).
    tstop, dt : float
        Simulated time and time step of each run (ms).
    workdir : str or PathLike, optional
        Where to write configs and outputs (kept); default a temporary folder removed afterwards.
    seed : int
        Seed of every run.
    checks : sequence of str, optional
        Run only these checks (names of :data:`CHECKS`).
    raise_on_failure : bool
        Raise :class:`BackendCheckError` when a check fails (default); False: only return the report.

    Returns
    -------
    BackendReport
        Per-check status, detail and time; shows as a table in a notebook.

    Raises
    ------
    BackendCheckError
        Some checks failed: the message lists each with what was expected and what was found.
    UnknownModelError
        ``backend`` names no registered backend.

    Examples
    --------
    >>> from modelkit.testing import check_backend
    >>> check_backend("nest")                                          # doctest: +SKIP
    check_backend('nest'): 16 passed, 0 failed, 0 skipped in 3.1 s
    >>> check_backend("toy", network=builder, variable="V")            # doctest: +SKIP
    """
    cls = _resolve(backend)
    unknown = [c for c in checks or () if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known: {list(CHECKS)}")
    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix=f"check_backend_{getattr(cls, 'name', 'x')}_") if workdir is None
                else os.fspath(workdir))
    root.mkdir(parents=True, exist_ok=True)
    report = BackendReport(backend=str(getattr(cls, "name", cls.__name__)), workdir=str(root))
    try:
        if network is None:
            case = builtin_case(report.backend, root / "network")
        else:
            case = BackendCase(network=network, variable=variable, inputs=dict(inputs or {}),
                               config=dict(config or {}), spike_inputs=spike_inputs, spiking=spiking,
                               tstop=tstop, dt=dt)
        ctx = _Context(cls, case, root, seed)
        for name, fn in CHECKS.items():
            if checks is not None and name not in checks:
                continue
            if name not in _CLASS_CHECKS and any(r.status == "failed" and r.name in ("is_available", "registered")
                                                 for r in report.results):
                report.results.append(CheckResult(name, "skipped", "the backend cannot run here (see above)"))
                continue
            t0 = time.perf_counter()
            try:
                detail = fn(ctx)
                status: Status = "passed"
            except _Skipped as e:
                status, detail = "skipped", str(e)
            except _Failed as e:
                status, detail = "failed", str(e)
            except Exception as e:  # noqa: BLE001 - a check that crashes is a failed check, with where
                where = traceback.extract_tb(e.__traceback__)[-1]
                status = "failed"
                detail = (f"expected no error; found {type(e).__name__}: {e} "
                          f"(at {os.path.basename(where.filename)}:{where.lineno})")
            report.results.append(CheckResult(name, status, detail, time.perf_counter() - t0))
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)
    if raise_on_failure and not report.passed:
        raise BackendCheckError(report)
    return report
