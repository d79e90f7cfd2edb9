"""The simulator interface: Backend protocol, lifecycle modules, report sinks and the run result.

A backend (NEST, NEURON, the numpy filter and population models) turns the
cells and connections of a :class:`~modelkit.sonata.Network` into simulator
objects and offers a few primitives: spike sources, current clamps, spike and
variable recording, running to a time.  Inputs and reports are
:class:`SimulatorModule` objects looked up by the config's ``module`` names:
first in the backend's own tables (:attr:`Backend.input_modules`,
:attr:`Backend.report_modules`), then in the generic ones
(``inputs.INPUT_MODULES``, ``recording.REPORT_MODULES``), whose modules use
only the primitives, so every backend gets them all.  What a backend offers
beyond the primitives are abilities (:mod:`modelkit.simulator.abilities`).
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from modelkit.errors import ModelkitError
    from modelkit.simulator.run import Simulation
    from modelkit.sonata import Network, Selection, SimulationConfig
    from modelkit.sonata.config import InputSpec, ReportSpec  # noqa: F401 - the bound of SpecT

__all__ = ["send_frames", "Backend", "SimulatorModule", "ConfigModule", "ReportSink", "RunOptions", "RunResult",
           "VariableRecorder", "declared_input_modules", "declared_report_modules", "backend_problems",
           "backend_output_modules"]


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
    coreneuron : bool
        NEURON builds the model and CoreNEURON integrates it in memory (``run.coreneuron``).
    coreneuron_gpu : bool
        CoreNEURON integrates on a GPU (``run.coreneuron_gpu``).
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
    coreneuron: bool = False
    coreneuron_gpu: bool = False

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

    Class attributes say what it simulates and what it adds to modelkit; an instance lives for one run.
    Registered in :mod:`modelkit.simulator.registry`.  Everything a backend adds is declared on its class:

    * ``input_modules``: ``{(input_type, module): "package.module:Factory"}``, the inputs only this backend
      runs (default: none); a factory is called as ``Factory(name, spec)`` and returns a
      :class:`SimulatorModule`.  The strings are imported when a config uses them, so a run of another
      backend never imports them;
    * ``report_modules``: ``{module: "package.module:Factory"}``, the same for reports (default: none);
    * ``check(cfg, net, built)``: a classmethod listing what the simulator would refuse, found before
      anything is built (default: nothing);
    * ``output_modules(cfg)``: a classmethod returning modules that write the backend's own outputs
      (default: none);
    * optional abilities (:mod:`modelkit.simulator.abilities`): methods other modules may use.

    The declarations are read with their defaults through :func:`declared_input_modules`,
    :func:`declared_report_modules`, :func:`backend_problems` and :func:`backend_output_modules`, so a
    backend that declares nothing has empty tables and no checks.  The tables, ``check`` and ``output_modules``
    are optional, so they are not members of this protocol (``isinstance(engine, Backend)`` holds without them:
    a backend written before they existed, or one that adds nothing, is still a backend);
    their signatures are ``check(cfg: SimulationConfig, net: Network, built: dict[str, Selection]) ->
    list[ModelkitError]`` and ``output_modules(cfg: SimulationConfig) -> list[SimulatorModule]``.
    """

    name: ClassVar[str]
    model_types: ClassVar[frozenset[str]]
    description: ClassVar[str]
    @classmethod
    def is_available(cls) -> bool:
        """Whether the simulator can be imported here."""
        ...

    def build(self, network: Network, populations: dict[str, Selection], options: RunOptions,
              config: SimulationConfig) -> None:
        """Create the cells of ``populations`` ({name: Selection}) and the connections among built cells.

        Parameters
        ----------
        network : Network
            The network.
        populations : dict of str to Selection
            The cells to build, per population.
        options : RunOptions
            Times (ms), threads, seed, conditions.
        config : SimulationConfig
            The run's config (components folders, run block).
        """
        ...

    def add_spike_trains(self, population: str, node_ids: np.ndarray, trains: dict[int, np.ndarray]) -> None:
        """Make nodes of a (virtual) population emit the given spike times (ms) onto their targets.

        Parameters
        ----------
        population : str
            The (virtual) node population.
        node_ids : numpy.ndarray
            The nodes driven.
        trains : dict of int to numpy.ndarray
            Sorted spike times (ms) per node id.
        """
        ...

    def add_current_clamp(self, population: str, node_ids: np.ndarray, times: np.ndarray,
                          amplitudes: np.ndarray, kind: str = "ic") -> None:
        """Inject a piecewise-constant current: ``amplitudes[k]`` (nA) from ``times[k]`` (ms).

        ``kind`` says where the schedule came from, as bmtk's ``clamp_report`` names them: ``"ic"``
        (amplitudes and times in the config) or ``"f_ic"`` (a CSV or NWB file).

        Parameters
        ----------
        population : str
            The node population.
        node_ids : numpy.ndarray
            The built cells clamped.
        times : numpy.ndarray
            Change times (ms).
        amplitudes : numpy.ndarray
            Current from each time on (nA).
        kind : str
            ``"ic"`` or ``"f_ic"``.
        """
        ...

    def record_variables(self, population: str, node_ids: np.ndarray, variables: Sequence[str], dt: float,
                         start: float, stop: float) -> VariableRecorder:
        """Start recording variables (sampled every ``dt`` ms in [start, stop)).

        Parameters
        ----------
        population : str
            The node population.
        node_ids : numpy.ndarray
            The built cells recorded.
        variables : sequence of str
            Variable names (``V_m``, ``v``, ``firing_rate``, ...).
        dt : float
            Sampling interval (ms).
        start, stop : float
            Recorded window [start, stop) (ms).
        """
        ...

    def run_until(self, t: float) -> None:
        """Advance the simulation to time ``t`` (ms).

        Parameters
        ----------
        t : float
            The time to reach (ms).
        """
        ...

    def collect_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Spikes of built cells since the last call: ``{population: (node_ids, times_ms)}``."""
        ...

    def close(self) -> None:
        """Release simulator state."""
        ...


# the declarations of a backend class with their documented defaults: a backend that declares nothing (an
# outside one written before the declarations existed) has empty tables, no checks and no outputs of its own
def declared_input_modules(cls: type) -> dict[tuple[str, str], str]:
    """The inputs backend class ``cls`` adds: ``{(input_type, module): "package.module:Factory"}``, empty where it
    declares none.

    Parameters
    ----------
    cls : type[Backend]
        A backend class (here and in the three functions below).
    """
    return dict(getattr(cls, "input_modules", None) or {})


def declared_report_modules(cls: type) -> dict[str, str]:
    """The reports backend class ``cls`` adds: ``{module: "package.module:Factory"}`` (empty where none).

    Parameters
    ----------
    cls : type[Backend]
    """
    return dict(getattr(cls, "report_modules", None) or {})


def backend_problems(cls: type, cfg: SimulationConfig, net: Network,
                     built: dict[str, Selection]) -> list[ModelkitError]:
    """What backend class ``cls`` says its simulator would refuse (its ``check`` classmethod; none where absent).

    Parameters
    ----------
    cls : type[Backend]
    cfg, net : SimulationConfig, Network
        The run's config and network.
    built : dict of str to Selection
        The cells the backend builds, per population.

    Returns
    -------
    list of ModelkitError
    """
    check = getattr(cls, "check", None)
    return list(check(cfg, net, built)) if check is not None else []


def backend_output_modules(cls: type, cfg: SimulationConfig) -> list[SimulatorModule]:
    """Modules that write backend class ``cls``'s own outputs for ``cfg`` (none where it declares none).

    Parameters
    ----------
    cls : type[Backend]
    cfg : SimulationConfig
        The run's config.

    Returns
    -------
    list of SimulatorModule
    """
    outputs = getattr(cls, "output_modules", None)
    return list(outputs(cfg)) if outputs is not None else []


class ReportSink(Protocol):
    """Receives results while a run goes on (the live layer streams them to a notebook).

    A sink may also define ``frames(report, population, variable, node_ids, times, values)``: it then
    receives every block's sampled values of the run's reports (membrane reports: one column per cell,
    ``times`` in ms; population rates: Hz), see :func:`send_frames`.
    """

    def spikes(self, population: str, node_ids: np.ndarray, times: np.ndarray) -> None: ...

    def progress(self, t: float, tstop: float) -> None: ...


def send_frames(sinks: Sequence[ReportSink], report: str, population: str, variable: str, node_ids: np.ndarray,
                times: np.ndarray, values: np.ndarray) -> None:
    """Hand one block of a report's frames to the sinks that take them (those with a ``frames`` method).

    Parameters
    ----------
    sinks : sequence of ReportSink
        The run's sinks.
    report, population, variable : str
        What the frames are.
    node_ids : numpy.ndarray
        The columns' node ids.
    times : numpy.ndarray
        The frames' times (ms).
    values : numpy.ndarray
        ``len(times) x len(node_ids)`` values.
    """
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

    def configure(self, sim: Simulation) -> None:
        return None

    def initialize(self, sim: Simulation) -> None:
        return None

    def block(self, sim: Simulation, t: float) -> None:
        return None

    def finalize(self, sim: Simulation) -> None:
        return None

    def salvage(self, sim: Simulation, stop_time: float | None = None) -> Any:
        return None


#: the config entry of a module: an ``inputs`` entry or a ``reports`` entry
SpecT = TypeVar("SpecT", bound="InputSpec | ReportSpec")


class ConfigModule(SimulatorModule, Generic[SpecT]):
    """A module made from one entry of the config: an input (``ConfigModule[InputSpec]``) or a report
    (``ConfigModule[ReportSpec]``), looked up by its ``module`` name and built as ``Module(name, spec)``.

    Parameters
    ----------
    name : str
        The entry's key under ``inputs`` or ``reports`` (errors name ``inputs.<name>`` / ``reports.<name>``).
    spec : InputSpec or ReportSpec
        The parsed entry.
    """

    def __init__(self, name: str, spec: SpecT) -> None:
        self.name = name
        self.spec = spec


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
    coreneuron : bool
        CoreNEURON integrated the run (NEURON built it).
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
    coreneuron: bool = False

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
        how = ", CoreNEURON" if self.coreneuron else ""
        return (f"<div><b>Run</b> ({html.escape(self.backend)}{how}) in <code>{html.escape(self.output_dir)}</code>, "
                f"{self.timings.get('total', 0):.2f} s</div><table><tr><th>population</th><th>cells</th>"
                f"<th>spikes</th><th>rate (Hz)</th></tr>{rows}</table>{files}")
