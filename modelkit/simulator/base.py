"""The simulator interface: Backend protocol, lifecycle modules, report sinks and the run result.

A backend (NEST, NEURON, the numpy filter and population models) turns the
cells and connections of a :class:`~modelkit.sonata.Network` into simulator
objects and offers a few primitives: spike sources, current clamps, spike and
variable recording, running to a time.  Inputs and reports are
:class:`SimulatorModule` objects that only use those primitives, so every
backend gets them all; they are looked up by the config's ``module`` names in
tables (``inputs.INPUT_MODULES``, ``recording.REPORT_MODULES``).
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = ["send_frames", "Backend", "SimulatorModule", "ReportSink", "RunOptions", "RunResult", "VariableRecorder"]


@dataclass(frozen=True)
class RunOptions:
    """Run settings in one place (times in ms).

    Attributes
    ----------
    tstart, tstop, dt : float
        Simulated interval and time step (ms).
    block : float
        Simulated time between module callbacks / progress updates (ms).
    threads : int
        Threads of the simulator (NEST's ``local_num_threads``, NEURON's ``ParallelContext.nthread``).
    threads_requested : bool
        The caller or the config asked for ``threads`` (not modelkit's default): a simulator that cannot
        run that many says so instead of running fewer.
    seed : int
        Seed of the simulator's random streams and of generated inputs.
    spike_threshold : float or None
        mV, for simulators that detect spikes by threshold crossing.
    conditions : dict
        ``celsius`` (°C), ``v_init`` (mV), ...
    progress : bool
        Show a tqdm progress bar.
    """

    tstart: float
    tstop: float
    dt: float
    block: float
    threads: int = 1
    threads_requested: bool = False
    seed: int = 0
    spike_threshold: float | None = None
    conditions: dict = field(default_factory=dict)
    progress: bool = True

    @property
    def n_steps(self) -> int:
        return int(round((self.tstop - self.tstart) / self.dt))


class VariableRecorder(Protocol):
    """A backend's handle on recorded variables of some cells."""

    population: str
    node_ids: np.ndarray
    variables: tuple[str, ...]

    def collect(self) -> dict[str, np.ndarray]:
        """Frames recorded since the last call: ``{variable: array (frames, cells)}``."""
        ...


@runtime_checkable
class Backend(Protocol):
    """What a simulator backend provides.

    Class attributes say what it simulates; an instance lives for one run.
    Registered in :mod:`modelkit.simulator.registry`.
    """

    name: ClassVar[str]
    model_types: ClassVar[frozenset[str]]
    description: ClassVar[str]

    @classmethod
    def is_available(cls) -> bool:
        """Whether the simulator can be imported here."""
        ...

    def build(self, network: Any, populations: dict[str, Any], options: RunOptions, config: Any) -> None:
        """Create the cells of ``populations`` ({name: Selection}) and the connections among built cells."""
        ...

    def add_spike_trains(self, population: str, node_ids: np.ndarray, trains: dict[int, np.ndarray]) -> None:
        """Make nodes of a (virtual) population emit the given spike times (ms) onto their targets."""
        ...

    def add_current_clamp(self, population: str, node_ids: np.ndarray, times: np.ndarray,
                          amplitudes: np.ndarray, kind: str = "ic") -> None:
        """Inject a piecewise-constant current: ``amplitudes[k]`` (nA) from ``times[k]`` (ms).

        ``kind`` says where the schedule came from, as bmtk's ``clamp_report`` names them: ``"ic"``
        (amplitudes and times in the config) or ``"f_ic"`` (a CSV or NWB file)."""
        ...

    def record_variables(self, population: str, node_ids: np.ndarray, variables: Sequence[str], dt: float,
                         start: float, stop: float) -> VariableRecorder:
        """Start recording variables (sampled every ``dt`` ms in [start, stop))."""
        ...

    def run_until(self, t: float) -> None:
        """Advance the simulation to time ``t`` (ms)."""
        ...

    def collect_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Spikes of built cells since the last call: ``{population: (node_ids, times_ms)}``."""
        ...

    def close(self) -> None:
        """Release simulator state."""
        ...


class ReportSink(Protocol):
    """Receives results while a run goes on (the live layer streams them to a notebook).

    A sink may also define ``frames(report, population, variable, node_ids, times, values)``: it then
    receives every block's sampled values of the run's reports (membrane reports: one column per cell,
    ``times`` in ms; population rates: Hz), see :func:`send_frames`.
    """

    def spikes(self, population: str, node_ids: np.ndarray, times: np.ndarray) -> None: ...

    def progress(self, t: float, tstop: float) -> None: ...


def send_frames(sinks: Any, report: str, population: str, variable: str, node_ids: np.ndarray, times: np.ndarray,
                values: np.ndarray) -> None:
    """Hand one block of a report's frames (``values``: len(times) x len(node_ids)) to the sinks that take them."""
    if not len(times):
        return
    for s in sinks:
        fn = getattr(s, "frames", None)
        if fn is not None:
            fn(report, population, variable, node_ids, times, values)


class SimulatorModule:
    """Lifecycle hooks shared by inputs and reports.

    ``configure`` runs before the cells are built (to ask the backend for something it
    must know while building, e.g. which synapses report their weights),
    ``initialize`` after the cells are built and before time advances,
    ``block`` after every block of simulated time (``t`` = current time, ms),
    ``finalize`` once the run is over (write files here),
    ``salvage`` instead of ``finalize`` when the run ended early (stopped or failed; rank 0 and every
    rank): write what the whole blocks recorded, stopping at ``stop_time`` (ms), so that
    ``<output>.stopped`` / ``<output>.failed`` holds valid files.
    """

    def configure(self, sim: Any) -> None:
        return None

    def initialize(self, sim: Any) -> None:
        return None

    def block(self, sim: Any, t: float) -> None:
        return None

    def finalize(self, sim: Any) -> None:
        return None

    def salvage(self, sim: Any, stop_time: float | None = None) -> Any:
        return None


@dataclass
class RunResult:
    """What a run produced.

    Attributes
    ----------
    output_dir : str
    spikes_file : str or None
        SONATA spikes (h5).
    reports : dict
        Report name -> file.
    n_spikes, n_cells : dict
        Per simulated population.
    timings : dict
        Seconds: ``build``, ``run``, ``total``.
    backend : str
    """

    output_dir: str
    spikes_file: str | None
    reports: dict[str, str]
    n_spikes: dict[str, int]
    n_cells: dict[str, int]
    timings: dict[str, float]
    backend: str
    log_file: str | None = None
    spikes_csv: str | None = None
    tstop: float = 0.0

    def spikes(self) -> Any:
        """The spikes written, as ``{population: SpikePopulation}``."""
        from modelkit.sonata import read_spikes
        if not self.spikes_file:
            return {}
        return read_spikes(self.spikes_file)

    def rates(self) -> dict[str, float]:
        """Mean firing rate per population (Hz) over the run."""
        dur = self.tstop / 1000.0
        return {p: (self.n_spikes.get(p, 0) / n / dur if n and dur else 0.0) for p, n in self.n_cells.items()}

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(p)}</td><td>{self.n_cells.get(p, 0)}</td><td>{self.n_spikes.get(p, 0)}"
                       f"</td><td>{r:.2f}</td></tr>" for p, r in self.rates().items())
        files = "".join(f"<div><code>{html.escape(os.path.basename(v))}</code> ({html.escape(k)})</div>"
                        for k, v in self.reports.items())
        return (f"<div><b>Run</b> ({html.escape(self.backend)}) in <code>{html.escape(self.output_dir)}</code>, "
                f"{self.timings.get('total', 0):.2f} s</div><table><tr><th>population</th><th>cells</th>"
                f"<th>spikes</th><th>rate (Hz)</th></tr>{rows}</table>{files}")
