"""Optional abilities of a backend, as small runtime-checkable protocols.

Every backend offers the primitives of :class:`~modelkit.simulator.base.Backend`; some offer more (NEURON records
segments and plays extracellular fields, NEST records synaptic weights, the population backend takes rates).
A module that needs more than the primitives asks ``isinstance(sim.backend, Ability)`` and, where the backend
lacks it, raises a :class:`~modelkit.errors.ConfigError` naming the config key: a new backend gains an input or a
report of another backend by defining the methods of the ability, nothing else.

``isinstance`` checks only that the members exist (a runtime-checkable protocol does not check signatures);
the signatures below are what the modules call. The methods share these parameters:

population : str
    The node population.
node_ids : numpy.ndarray
    Its nodes (the backend keeps those it built on this rank).
dt, start, stop : float
    Sampling interval and recorded window [start, stop) (ms).
where : str
    The config key, for messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = ["RecordsWeights", "RecordsSections", "RecordsSynapses", "RecordsClamps", "VoltageClamps",
           "ExtracellularFields", "TakesRates", "TakesStimulus", "DefaultClampUnits", "Processes", "AgreesOnErrors",
           "PreparesEnvironment", "ABILITIES"]


@runtime_checkable
class RecordsWeights(Protocol):
    """Records synaptic weights at every spike through chosen synapses (the ``weight_recorder`` report; NEST)."""

    @property
    def populations(self) -> list[str]:
        """Node population names; the ``*_population`` columns of the recorder index this list."""
        ...

    def record_weights(self, name: str, edges: dict[str, list[int] | None] | None = None,
                       synapse_model: str | None = None, alias: str | None = None) -> Any:
        """Ask, before the build, for a recorder of the weights of the synapses of ``edges``
        (``{edge population: [edge_type_id, ...] or None}``) or of the synapse model ``alias`` copied from
        ``synapse_model``; its ``collect()`` returns the events since the last call.

        Parameters
        ----------
        name : str
            The report's name.
        edges : dict of str to list of int or None, optional
            Edge population -> edge_type_ids to record (None: all of them).
        synapse_model : str, optional
            A NEST synapse model (bmtk's ``nest_model``) ...
        alias : str, optional
            ... copied under this name (bmtk's ``model_template``), whose synapses are recorded.
        """
        ...


@runtime_checkable
class RecordsSections(Protocol):
    """Cells with sections: range variables at every segment (``membrane_report`` with ``sections``; NEURON)."""

    def record_segments(self, population: str, node_ids: np.ndarray, variables: Sequence[str], sections: Any,
                        dt: float, start: float, stop: float, where: str = "reports") -> Any:
        """Record ``variables`` every ``dt`` ms in [start, stop) at every segment of ``sections`` of the local
        cells among ``node_ids``.

        Parameters
        ----------
        population, node_ids
            As in the module docstring.
        variables : sequence of str
            Range variables (``v``, ``cai``, ...).
        sections : str or list of str
            ``all`` or section names (``soma``, ``dend``, ...).
        dt, start, stop, where
            As in the module docstring.
        """
        ...


@runtime_checkable
class RecordsSynapses(Protocol):
    """Records variables of synapses (bmtk's ``netcon_report`` / ``syn_report``; NEURON)."""

    def record_synapses(self, population: str, node_ids: np.ndarray, variables: Sequence[str], syn_type: str | None,
                        dt: float, start: float, stop: float, where: str = "reports") -> Any:
        """Record ``variables`` of the synapses of kind ``syn_type`` on the local cells among ``node_ids``.

        Parameters
        ----------
        population, node_ids
            As in the module docstring.
        variables : sequence of str
            Synapse variables.
        syn_type : str or None
            The point-process name (``Exp2Syn``).
        dt, start, stop, where
            As in the module docstring.
        """
        ...


@runtime_checkable
class RecordsClamps(Protocol):
    """Records the currents of clamps (bmtk's ``clamp_report``; NEURON)."""

    def record_clamps(self, population: str, node_ids: np.ndarray, kind: str, dt: float, start: float, stop: float,
                      where: str = "reports") -> Any:
        """Record the current (nA) of the clamps of ``kind`` (``se``, ``ic``, ``f_ic``), one column per cell.

        Parameters
        ----------
        population, node_ids
            As in the module docstring.
        kind : str
            ``se``, ``ic`` or ``f_ic``.
        dt, start, stop, where
            As in the module docstring.
        """
        ...


@runtime_checkable
class VoltageClamps(Protocol):
    """Voltage clamps on cells (``SEClamp`` inputs; NEURON)."""

    def add_voltage_clamp(self, population: str, node_ids: np.ndarray, amps: np.ndarray, durations: np.ndarray,
                          rs: np.ndarray | None = None, rs_schedule: tuple[np.ndarray, np.ndarray] | None = None,
                          section: tuple[str, int, float] = ("soma", 0, 0.5)) -> list:
        """Three-step clamps: levels ``amps`` (mV) for ``durations`` (ms), series resistance ``rs`` (MΩ).

        Parameters
        ----------
        population, node_ids
            As in the module docstring.
        amps, durations : numpy.ndarray
            Levels (mV) and their durations (ms), per cell (rows) and step (columns).
        rs : numpy.ndarray, optional
            Series resistance per cell (MΩ).
        rs_schedule : tuple of numpy.ndarray, optional
            Times (ms) and values (MΩ) of a changing series resistance.
        section : tuple of (str, int, float)
            Section name, index and position of the clamp.
        """
        ...


@runtime_checkable
class ExtracellularFields(Protocol):
    """Segment geometry and extracellular potentials (``xstim`` and ``comsol`` inputs, the ``ecp`` report; NEURON)."""

    def segment_geometry(self, population: str, node_ids: np.ndarray) -> dict:
        """``{node id: SegmentGeometry}`` (µm, placed and rotated) of the local cells among ``node_ids``.

        Parameters
        ----------
        population, node_ids
            As in the module docstring.
        """
        ...

    def play_extracellular(self, population: str, coefficients: dict, times: np.ndarray, values: np.ndarray) -> None:
        """``e_extracellular`` (mV) = coefficient per segment x ``values`` (a step function of ``times``, ms).

        Parameters
        ----------
        population
            As in the module docstring.
        coefficients : dict of int to numpy.ndarray
            Per node id, the coefficient of each segment (mV per unit of ``values``).
        times : numpy.ndarray
            Change times (ms).
        values : numpy.ndarray
            Values from each time on.
        """
        ...


@runtime_checkable
class TakesRates(Protocol):
    """Takes firing rates for virtual nodes (``rates`` inputs drive rate models directly; the population backend).

    A backend without it gets the same inputs as seeded Poisson spike trains.
    """

    def add_rates(self, population: str, node_ids: np.ndarray, times: np.ndarray, rates: np.ndarray,
                  interpolation: str = "step") -> None:
        """Rates (Hz, ``rates[k, i]`` for node ``i`` from ``times[k]`` ms) of virtual nodes.

        Parameters
        ----------
        population, node_ids
            As in the module docstring.
        times : numpy.ndarray
            Times (ms) from which each row of ``rates`` holds.
        rates : numpy.ndarray
            ``(len(times), len(node_ids))`` rates (Hz).
        interpolation : str
            ``step`` or ``linear`` between the times.
        """
        ...


@runtime_checkable
class TakesStimulus(Protocol):
    """Takes a visual stimulus and computes firing rates from it (the ``movie`` inputs; the filter backend)."""

    #: population -> (times ms, node ids, rates (times, nodes) Hz), filled by the build
    rates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    #: population -> the same times in s, as bmtk writes them in its rate files
    rate_times_s: dict[str, np.ndarray]

    def set_stimulus(self, stimulus: Any, where: str = "inputs", evaluation_options: dict | None = None,
                     bmtk_compat: bool = False) -> None:
        """The stimulus (a :class:`~modelkit.simulator.filter.Stimulus`) of the run; ``where`` names the input.

        Parameters
        ----------
        stimulus : Stimulus
            Frames, frame rate and kind of the stimulus.
        where : str
            The config key of the input, for messages.
        evaluation_options : dict, optional
            The input's ``evaluation_options``.
        bmtk_compat : bool
            Sample the rates as bmtk does.
        """
        ...


@runtime_checkable
class DefaultClampUnits(Protocol):
    """Reads a current clamp's amplitudes in another unit than SONATA's nA unless told (NEST: pA, as bmtk)."""

    default_clamp_units: ClassVar[str]


@runtime_checkable
class Processes(Protocol):
    """Knows how many processes it runs on (MPI ranks): a run launched on more ranks than the simulator was built
    for is refused. A backend without it runs in one process."""

    @property
    def n_processes(self) -> int:
        """Processes of the simulator (1 without MPI)."""
        ...


@runtime_checkable
class AgreesOnErrors(Protocol):
    """MPI-collective error agreement: every rank calls ``agree_on_errors`` after a module's set-up, and an error on
    one rank is raised on every rank (so that no rank waits for ever in the next collective)."""

    def agree_on_errors(self, error: BaseException | None) -> None:
        """Raise on every rank when ``error`` is not None on some rank.

        Parameters
        ----------
        error : BaseException or None
            This rank's error of the step just done, None where it went well.
        """
        ...


@runtime_checkable
class PreparesEnvironment(Protocol):
    """Prepares a new simulation folder (``modelkit init``), e.g. compiles NEURON's mechanisms.

    Checked on the backend class: ``isinstance(get_backend(name), PreparesEnvironment)``.
    """

    def prepare_environment(self, components_dir: str) -> None:
        """Finish the ``components`` folder of a new simulation folder (a classmethod on the backend).

        Parameters
        ----------
        components_dir : str
            The ``components`` folder ``modelkit init`` wrote.
        """
        ...


#: every ability a backend instance may have (the conformance checks list them)
ABILITIES: tuple[type, ...] = (RecordsWeights, RecordsSections, RecordsSynapses, RecordsClamps, VoltageClamps,
                               ExtracellularFields, TakesRates, TakesStimulus, DefaultClampUnits, Processes,
                               AgreesOnErrors)
