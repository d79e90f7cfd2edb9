"""Extracellular potentials that differ in time course from segment to segment (COMSOL time-dependent fields,
sums of several stationary fields with their own waveforms): ``e_extracellular`` set from a matrix.

:func:`~modelkit.simulator.neuron.electrodes.play_extracellular` plays one coefficient per segment times
one waveform; here each cell gets a (segments x times) matrix, and column ``k`` is set at ``times[k]`` by a
NEURON event (``cvode.event``), so it acts on the step that starts then, as xstim's values do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.simulator.neuron.electrodes import _mark_extracellular_used

if TYPE_CHECKING:
    from modelkit.simulator.neuron.backend import NeuronBackend

__all__ = ["play_field_matrix"]


def play_field_matrix(backend: NeuronBackend, population: str, fields: dict[int, np.ndarray],
                      times: np.ndarray) -> None:
    """Set ``e_extracellular`` (mV) of every segment of each cell to ``fields[node_id][:, k]`` from ``times[k]`` (ms).

    Parameters
    ----------
    backend : NeuronBackend
        The run's backend (its ``h`` and cells).
    population : str
        Node population of the cells.
    fields : dict of int to numpy.ndarray
        ``{node id: (segments, times) matrix}`` of potentials (mV), segments in ``all`` order, cells of this rank.
    times : numpy.ndarray of float
        When each column starts to act (ms), ascending.

    Raises
    ------
    ValueError
        A matrix whose rows are not the cell's segments, or whose columns are not ``times``.
    """
    h = backend.h
    times = np.asarray(times, dtype=float)
    cells = backend._cells.get(population, {})
    items: list[tuple[Any, np.ndarray]] = []
    for nid, m in fields.items():
        cell = cells[int(nid)]
        n = sum(int(sec.nseg) for sec in cell.sections)
        m = np.asarray(m, dtype=float)
        if m.shape != (n, len(times)):
            raise ValueError(f"{cell.label}: field of shape {m.shape} for {n} segments x {len(times)} times")
        for sec in cell.sections:
            sec.insert("extracellular")
        items.append((cell, m))
    if not items:
        return
    _mark_extracellular_used()
    vectors: list[tuple[Any, np.ndarray]] = []

    def pointers() -> None:  # segment data move when mechanisms are inserted: take the pointers at init
        vectors.clear()
        for cell, m in items:
            pv = h.PtrVector(m.shape[0])
            j = 0
            for sec in cell.sections:
                for seg in sec:
                    pv.pset(j, seg._ref_e_extracellular)
                    j += 1
            vectors.append((pv, m))
        for k, t in enumerate(times.tolist()):
            h.cvode.event(t, _setter(h, vectors, k))

    backend._keep.append(h.FInitializeHandler(1, pointers))


def _setter(h: Any, vectors: list, k: int) -> Any:
    def set_values() -> None:
        for pv, m in vectors:
            pv.scatter(h.Vector(m[:, k]))
    return set_values
