"""The conformance suite (modelkit.testing.check_backend) over every registered built-in backend, and over a toy
backend added through the ``modelkit.simulators`` entry point without touching any other module.

Real simulators only: a built-in backend that is not available here fails (CI installs every simulator)."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelkit.builder import FixedInDegree, NetworkBuilder
from modelkit.simulator import available_backends, get_backend
from modelkit.simulator import registry
from modelkit.testing import BackendCheckError, check_backend
from modelkit.testing.backend_cases import BUILTIN_CASES
from modelkit.testing.backend_check import CHECKS

#: every registered backend (the built-ins; a plug-in installed here must bring its case to BUILTIN_CASES' table)
BACKENDS = sorted(available_backends())

#: checks a built-in backend fails today, and why (reported to the lead; the check is not weakened). A known
#: failure that stops failing fails this test, so that its entry is removed.
KNOWN_FAILURES: dict[str, dict[str, str]] = {}


def test_every_builtin_backend_is_registered_and_has_a_case() -> None:
    assert {"nest", "neuron", "filter", "population"} <= set(BACKENDS) <= set(BUILTIN_CASES)


@pytest.mark.parametrize("name", BACKENDS)
def test_builtin_backend_passes_check_backend(name: str, tmp_path: Path) -> None:
    assert available_backends()[name] is True, f"built-in backend {name!r} is not available here"
    assert name in BUILTIN_CASES, f"no conformance network for {name!r} in modelkit.testing.backend_cases"
    t0 = time.perf_counter()
    report = check_backend(name, workdir=tmp_path, raise_on_failure=False)
    print(f"\n{report}\n(wall {time.perf_counter() - t0:.1f} s)")
    assert [r.name for r in report.results] == list(CHECKS)
    assert all(r.status == "passed" for r in report.results[:4]), str(report)  # the class checks
    known = KNOWN_FAILURES.get(name, {})
    failed = {r.name for r in report.failures}
    assert failed - set(known) == set(), str(report)
    assert set(known) <= failed, f"{name}: {sorted(set(known) - failed)} pass now: remove from KNOWN_FAILURES"
    assert not any(r.status == "skipped" for r in report.results), str(report)
    if known:
        pytest.xfail("; ".join(f"{k}: {v}" for k, v in known.items()))


TOY_MODULE = '''
"""A toy simulator backend: leaky integrators of their input spikes, in numpy (a modelkit test plug-in)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from modelkit.errors import ConfigError


class VRecorder:
    """V of some cells sampled every ``dt`` ms in [start, stop)."""

    def __init__(self, population, node_ids, cols, variables, dt, start, stop, sim_dt, tstart):
        self.population = population
        self.node_ids = np.asarray(node_ids, dtype=np.int64)
        self.variables = tuple(variables)
        self.units = {v: "mV" for v in variables}
        self.cols = cols
        self.every = max(1, int(round(dt / sim_dt)))
        self.first = int(round((start - tstart) / sim_dt))
        n = int(round((stop - start) / dt))
        self.last = self.first + n * self.every
        self.time_window = (start, start + n * dt, dt)
        self.frames = []

    def feed(self, step, v):
        """``v``: all cells' V at the start of step ``step``."""
        k = step - self.first
        if 0 <= k and step < self.last and k % self.every == 0:
            self.frames.append(v[self.cols].copy())

    def collect(self):
        out = np.array(self.frames, dtype=float).reshape(-1, len(self.node_ids))
        self.frames = []
        return {v: out for v in self.variables}


class ToyBackend:
    """Cells of ``model_type`` toy_integrate_fire: V decays with tau 10 ms, jumps by syn_weight per input spike,
    fires and resets at 1."""

    name: ClassVar[str] = "toy"
    model_types: ClassVar[frozenset[str]] = frozenset({"toy_integrate_fire"})
    description: ClassVar[str] = "toy leaky integrators of input spikes (numpy)"
    tau = 10.0
    threshold = 1.0

    @classmethod
    def is_available(cls) -> bool:
        return True

    def __init__(self) -> None:
        self.ids: dict[str, np.ndarray] = {}
        self.recorders: list[VRecorder] = []

    def build(self, network: Any, populations: dict, options: Any, config: Any) -> None:
        self.options = options
        self.ids = {p: sel.flat for p, sel in populations.items()}
        self.v = {p: np.zeros(len(ids)) for p, ids in self.ids.items()}
        self.pending = {p: (np.empty(0), np.empty(0, np.int64), np.empty(0)) for p in self.ids}
        self.fired = {p: ([], []) for p in self.ids}
        self.edges = []  # (source population, source ids, target population, target columns, weights, delays)
        for e in network.edges.values():
            if e.target not in self.ids:
                continue
            cols = np.searchsorted(self.ids[e.target], e.target_ids())
            self.edges.append((e.source, e.source_ids(), e.target, cols, e.simulation_column("syn_weight"),
                               e.simulation_column("delay")))
        self.step = 0

    def _schedule(self, population: str, ids: np.ndarray, times: np.ndarray) -> None:
        """Spikes of ``population`` (node ``ids[k]`` at ``times[k]`` ms) reach their targets after the delays."""
        for src, s_ids, tgt, cols, w, d in self.edges:
            if src != population or not len(ids):
                continue
            # every (spike, edge) pair of the same source node: columnar, sorted by node id
            order = np.argsort(s_ids, kind="stable")
            lo = np.searchsorted(s_ids[order], ids, "left")
            hi = np.searchsorted(s_ids[order], ids, "right")
            n = hi - lo
            spike = np.repeat(np.arange(len(ids)), n)
            edge = order[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)] or [np.empty(0, np.int64)])]
            t0, c0, w0 = self.pending[tgt]
            self.pending[tgt] = (np.concatenate([t0, times[spike] + d[edge]]), np.concatenate([c0, cols[edge]]),
                                 np.concatenate([w0, w[edge]]))

    def add_spike_trains(self, population: str, node_ids: np.ndarray, trains: dict) -> None:
        if not trains:
            return
        ids = np.concatenate([np.full(len(t), k, np.int64) for k, t in trains.items()])
        times = np.concatenate([np.asarray(t, float) for t in trains.values()])
        self._schedule(population, ids, times)

    def add_current_clamp(self, population, node_ids, times, amplitudes, kind="ic") -> None:
        raise ConfigError(None, None, "spike inputs (toy integrators take no current)", f"a clamp on {population}")

    def record_variables(self, population, node_ids, variables, dt, start, stop):
        if list(variables) != ["V"]:
            raise ConfigError(None, None, "the variable V of toy cells", str(list(variables)))
        o = self.options
        rec = VRecorder(population, node_ids, np.searchsorted(self.ids[population], node_ids), variables, dt,
                        start, stop, o.dt, o.tstart)
        self.recorders.append(rec)
        return rec

    def run_until(self, t: float) -> None:
        o = self.options
        decay = np.exp(-o.dt / self.tau)
        end = int(round((t - o.tstart) / o.dt))
        while self.step < end:
            now = o.tstart + self.step * o.dt
            for rec in self.recorders:
                rec.feed(self.step, self.v[rec.population])
            for p, v in self.v.items():
                times, cols, w = self.pending[p]
                due = times < now + o.dt - 1e-9
                v *= decay
                np.add.at(v, cols[due], w[due])
                self.pending[p] = (times[~due], cols[~due], w[~due])
                fired = np.flatnonzero(v >= self.threshold)
                v[fired] = 0.0
                if len(fired):
                    ts = np.full(len(fired), now + o.dt)
                    self.fired[p][0].append(self.ids[p][fired])
                    self.fired[p][1].append(ts)
                    self._schedule(p, self.ids[p][fired], ts)
            self.step += 1

    def collect_spikes(self) -> dict:
        out = {}
        for p, (ids, ts) in self.fired.items():
            out[p] = (np.concatenate(ids or [np.empty(0, np.int64)]), np.concatenate(ts or [np.empty(0)]))
            self.fired[p] = ([], [])
        return out

    def close(self) -> None:
        self.edges = []


class BrokenToyBackend(ToyBackend):
    """Two mistakes a new backend makes: spikes never collected, a bare ValueError for an input it refuses."""

    name: ClassVar[str] = "toy_broken"

    def collect_spikes(self) -> dict:
        return {}

    def add_current_clamp(self, population, node_ids, times, amplitudes, kind="ic") -> None:
        raise ValueError("no clamps here")
'''


@pytest.fixture
def toy_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``toy_backend`` installed in tmp_path as a distribution with ``modelkit.simulators`` entry points."""
    (tmp_path / "toy_backend.py").write_text(textwrap.dedent(TOY_MODULE))
    info = tmp_path / "toy_backend-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-backend\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[modelkit.simulators]\ntoy = toy_backend:ToyBackend\n"
                                           "toy_broken = toy_backend:BrokenToyBackend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._plugins.cache_clear()  # the entry points are scanned once per process
    try:
        yield tmp_path
    finally:
        sys.modules.pop("toy_backend", None)
        monkeypatch.undo()
        registry._plugins.cache_clear()


def _toy_network() -> list[NetworkBuilder]:
    cells = NetworkBuilder("toy", seed=1)
    cells.add_nodes(N=8, model_type="toy_integrate_fire", model_template="toy:integrator")
    cells.add_edges(source=cells.nodes(), target=cells.nodes(), connection_rule=FixedInDegree(2), syn_weight=0.1,
                    delay=2.0)
    inputs = NetworkBuilder("input", seed=1)
    inputs.add_nodes(N=10, model_type="virtual")
    inputs.add_edges(target=cells.nodes(), connection_rule=FixedInDegree(4), syn_weight=0.3, delay=1.0)
    return [inputs, cells]


def test_a_backend_added_through_the_entry_point_passes(toy_plugin: Path) -> None:
    assert "toy" in available_backends()
    cls = get_backend("toy")
    assert cls.__module__ == "toy_backend"
    report = check_backend("toy", network=_toy_network(), variable="V")
    print(f"\n{report}")
    assert report.passed and not any(r.status == "skipped" for r in report.results), str(report)
    assert report["current_clamp"].detail.startswith("refused")
    assert "<table>" in report._repr_html_()
    # the class itself is accepted too, and a chosen subset of checks runs
    sub = check_backend(cls, network=_toy_network(), variable="V", checks=["protocol", "spikes_written"])
    assert [r.name for r in sub.results] == ["protocol", "spikes_written"]


def test_a_broken_backend_fails_with_the_checks_named(toy_plugin: Path) -> None:
    with pytest.raises(BackendCheckError) as info:
        check_backend("toy_broken", network=_toy_network(), variable="V")
    report = info.value.report
    failed = {r.name for r in report.failures}
    assert {"spikes_written", "current_clamp"} <= failed, str(report)
    msg = str(info.value)
    assert "- spikes_written: expected spikes from the driven cells; found none" in msg
    assert "- current_clamp: expected the input to take effect or a ModelkitError naming " \
           "inputs.conformance_clamp; found ValueError: no clamps here" in msg
    assert report["protocol"].status == "passed"


def test_variable_none_skips_the_report_check_only(toy_plugin: Path) -> None:
    report = check_backend("toy", network=_toy_network(), variable=None,
                           checks=["spikes_written", "membrane_report", "determinism"])
    assert [r.status for r in report.results] == ["passed", "skipped", "passed"]
    assert "records no variable" in report["membrane_report"].detail


def test_check_backend_names_an_unknown_check_or_backend() -> None:
    from modelkit.errors import UnknownModelError
    with pytest.raises(ValueError, match="unknown checks"):
        check_backend("nest", checks=["no_such_check"])
    with pytest.raises(UnknownModelError, match="no_such_backend"):
        check_backend("no_such_backend")
