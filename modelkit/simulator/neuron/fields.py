"""Extracellular potentials that differ in time course from segment to segment (COMSOL time-dependent fields,
sums of several stationary fields with their own waveforms): ``e_extracellular`` set from a matrix.

:func:`~modelkit.simulator.neuron.electrodes.play_extracellular` plays one coefficient per segment times
one waveform; here each cell gets a (segments x times) matrix, and column ``k`` is set at ``times[k]`` by a
NEURON event (``cvode.event``), so it acts on the step that starts then, as xstim's values do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.simulator.neuron.electrodes import play_segment_values

if TYPE_CHECKING:
    from modelkit.simulator.neuron.backend import NeuronBackend

__all__ = ["play_field_matrix"]


def play_field_matrix(backend: NeuronBackend, population: str, fields: dict[int, np.ndarray],
                      times: np.ndarray) -> None:
    """Set ``e_extracellular`` (mV) of every segment of each cell to ``fields[node_id][:, k]`` from ``times[k]`` (ms).

    Parameters
    ----------
    backend, population
        See :func:`~modelkit.simulator.neuron.electrodes.add_seclamps`.
    fields : dict of int to numpy.ndarray
        ``{node id: (segments, times) matrix}`` of potentials (mV), segments in ``all`` order, cells of this rank.
    times : numpy.ndarray of float
        When each column starts to act (ms), ascending.

    Raises
    ------
    ValueError
        A matrix whose rows are not the cell's segments, or whose columns are not ``times``.
    """
    times = np.asarray(times, dtype=float)

    def check(cell: Any, m: np.ndarray, n: int) -> None:
        if m.shape != (n, len(times)):
            raise ValueError(f"{cell.label}: field of shape {m.shape} for {n} segments x {len(times)} times")

    play_segment_values(backend, population, {nid: np.asarray(m, dtype=float) for nid, m in fields.items()},
                        times, check, lambda m, k: m[:, k])
