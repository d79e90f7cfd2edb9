"""Electrodes on NEURON cells: voltage clamps (``SEClamp``), and extracellular potentials played into
the ``extracellular`` mechanism (xstim); plus segment positions, which both xstim and ECP need.

Only the cells this rank owns are touched, so every function works the same under MPI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.neuron.coreneuron import steps_as_continuous
from modelkit.simulator.neuron.geometry import SegmentGeometry, euler_matrix, node_placement, table_geometry
from modelkit.simulator.neuron.morphology import Cell

if TYPE_CHECKING:
    from modelkit.simulator.neuron.backend import NeuronBackend

__all__ = ["add_seclamps", "cell_geometry", "play_extracellular", "play_segment_values", "extracellular_guard"]

#: MΩ: the series resistance that switches a clamp off (bmtk's value)
OFF_RESISTANCE = 1e20


def _local_cells(backend: NeuronBackend, population: str, node_ids: np.ndarray, what: str,
                 skip_artificial: bool = False) -> list[tuple[int, Cell]]:
    """(node id, cell) of the biophysical cells among ``node_ids`` built on this rank (artificial cells are an
    error, or skipped: they have no segments for a field to act on or currents to add up, as in bmtk)."""
    cells = backend._cells.get(population, {})
    out = []
    for nid in np.asarray(node_ids, dtype=np.int64).tolist():
        cell = cells.get(nid)
        if cell is None:
            continue  # another rank owns it
        if not isinstance(cell, Cell):
            if skip_artificial:
                continue
            raise ConfigError(None, f"{what} onto {population}[{nid}]", "a biophysical cell", "an artificial cell")
        out.append((nid, cell))
    return out


def add_seclamps(backend: NeuronBackend, population: str, node_ids: np.ndarray, amps: np.ndarray, durations: np.ndarray,
                 rs: np.ndarray | None, rs_schedule: tuple[np.ndarray, np.ndarray] | None = None,
                 section: tuple[str, int, float] = ("soma", 0, 0.5),
                 continuous: bool = False) -> list[tuple[int, HocObject]]:
    """One three-step ``SEClamp`` per cell.

    Parameters
    ----------
    backend : NeuronBackend
        The run's backend (its ``h`` and cells).
    population : str
        Node population of the cells.
    node_ids : numpy.ndarray of int
        Cells wanted; those not built on this rank are skipped.
    amps, durations : array, shape (n_cells, 3)
        Holding potentials (mV) and durations (ms) of the three steps, row per node of ``node_ids``.
    rs : array (n_cells,) or None
        Series resistance (MΩ); None keeps NEURON's default (1 MΩ).
    rs_schedule : (times, values), optional
        Play the series resistance (MΩ) as a step function of time (ms) instead.
    section : (type, index, x)
        Where: the ``index``-th section of that type, at ``x``.
    continuous : bool
        Play ``rs_schedule`` as a continuous Vector with repeated switch times (the same values), as CoreNEURON
        needs (:func:`~modelkit.simulator.neuron.coreneuron.steps_as_continuous`).

    Returns
    -------
    list of (node id, SEClamp)
    """
    h = backend.h
    where = "inputs: SEClamp"
    ids = np.asarray(node_ids, dtype=np.int64)
    row = {int(n): k for k, n in enumerate(ids.tolist())}
    made = []
    for nid, cell in _local_cells(backend, population, ids, where):
        secs = cell.groups().get(section[0], [])
        if not 0 <= section[1] < len(secs):
            raise ConfigError(cell.table.path, f"{where}: section {section[0]}[{section[1]}]",
                              f"a section the morphology of {cell.label} has", f"{len(secs)} {section[0]} sections")
        clamp = h.SEClamp(secs[section[1]](section[2]))
        k = row[nid]
        clamp.dur1, clamp.dur2, clamp.dur3 = (float(x) for x in durations[k])
        clamp.amp1, clamp.amp2, clamp.amp3 = (float(x) for x in amps[k])
        if rs is not None and np.isfinite(rs[k]):
            clamp.rs = float(rs[k])
        backend._keep.append(clamp)
        if rs_schedule is not None:
            times, values = steps_as_continuous(*rs_schedule) if continuous else rs_schedule
            tv, rv = h.Vector(times), h.Vector(values)
            rv.play(clamp, clamp._ref_rs, tv, int(continuous))  # the point process says which thread plays it
            backend._keep += [tv, rv]
        backend._clamps.append(("se", population, nid, clamp))
        made.append((nid, clamp))
    return made


def cell_geometry(backend: NeuronBackend, population: str, node_ids: np.ndarray) -> dict[int, SegmentGeometry]:
    """Segment ends (µm) of the biophysical cells among ``node_ids`` built on this rank, placed and rotated by
    their node properties (artificial cells are left out).

    Parameters
    ----------
    backend, population, node_ids
        See :func:`add_seclamps`.
    """
    h = backend.h
    cache = backend.__dict__.setdefault("_geometry_cache", {})
    local = _local_cells(backend, population, node_ids, "extracellular electrode", skip_artificial=True)
    if not local:
        return {}
    ids = np.array([n for n, _ in local], dtype=np.int64)
    pos, ang = node_placement(backend._network.nodes[population], ids)
    out = {}
    for k, (nid, cell) in enumerate(local):
        key = id(cell.table)
        if key not in cache:
            cache[key] = (cell.table, table_geometry(h, cell.table))  # the table is kept so its id stays unique
        out[nid] = cache[key][1].placed(euler_matrix(ang[k]), pos[k])
    return out


def play_extracellular(backend: NeuronBackend, population: str, coefficients: dict[int, np.ndarray], times: np.ndarray,
                       values: np.ndarray) -> None:
    """Set ``e_extracellular`` (mV) of every segment to ``coefficient x value(t)``.

    ``values[k]`` holds from ``times[k]`` (ms) until the next time; the cells get the
    ``extracellular`` mechanism.  Changes are NEURON events (``cvode.event``) at the given
    times only, so a DC pulse costs two events however long the run, and the value set at
    ``t`` acts on the step that starts at ``t``.

    Parameters
    ----------
    backend, population
        See :func:`add_seclamps`.
    coefficients : dict of int to numpy.ndarray
        ``{node id: one coefficient per segment}`` (``all`` order; mV per unit of ``values``), cells of this rank.
    times : numpy.ndarray of float
        Step times (ms), ascending.
    values : numpy.ndarray of float
        Value from each step time on.

    Raises
    ------
    ValueError
        A cell given a number of coefficients other than its number of segments.
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    at = values[np.searchsorted(times, times, side="right") - 1]  # the value from each step time on

    def check(cell: Cell, coef: np.ndarray, n: int) -> None:
        if len(coef) != n:
            raise ValueError(f"{cell.label}: {len(coef)} coefficients for {n} segments")

    play_segment_values(backend, population, {nid: np.asarray(coef, dtype=float) for nid, coef in coefficients.items()},
                        times, check, lambda coef, k: coef * at[k])


def play_segment_values(backend: NeuronBackend, population: str, per_cell: dict[int, np.ndarray], times: np.ndarray,
                        check: Callable[[Cell, np.ndarray, int], None],
                        column: Callable[[np.ndarray, int], np.ndarray]) -> None:
    """Give the cells of ``per_cell`` the ``extracellular`` mechanism and, at each ``times[k]`` (ms), set the
    ``e_extracellular`` (mV) of their segments (``all`` order) to ``column(per_cell[node id], k)``.

    The pointers to the segments are taken at init (segment data move when mechanisms are inserted), and each
    change is a NEURON event (``cvode.event``) that acts on the step starting then.

    Parameters
    ----------
    backend, population
        See :func:`add_seclamps`.
    per_cell : dict of int to numpy.ndarray
        ``{node id: array with one row per segment}``, cells of this rank.
    times : numpy.ndarray of float
        Change times (ms), ascending.
    check : callable
        ``check(cell, array, n_segments)`` raises ValueError where the array does not fit the cell.
    column : callable
        ``column(array, k)``: the potentials (mV) of the cell's segments from ``times[k]`` on.
    """
    h = backend.h
    cells = backend._cells.get(population, {})
    items: list[tuple[Any, np.ndarray]] = []
    for nid, arr in per_cell.items():
        cell = cells[int(nid)]
        check(cell, arr, sum(int(sec.nseg) for sec in cell.sections))
        for sec in cell.sections:
            sec.insert("extracellular")
        items.append((cell, arr))
    if not items:
        return
    _mark_extracellular_used()
    vectors: list[tuple[Any, np.ndarray]] = []

    def pointers() -> None:  # segment data move when mechanisms are inserted: take the pointers at init
        vectors.clear()
        for cell, arr in items:
            pv = h.PtrVector(len(arr))
            j = 0
            for sec in cell.sections:
                for seg in sec:
                    pv.pset(j, seg._ref_e_extracellular)
                    j += 1
            vectors.append((pv, arr))
        for k, t in enumerate(times.tolist()):
            h.cvode.event(t, _setter(h, vectors, column, k))

    backend._keep.append(h.FInitializeHandler(1, pointers))


#: whether this process has inserted ``extracellular`` (see :func:`extracellular_guard`)
_USED: list[bool] = []


def _mark_extracellular_used() -> None:
    if not _USED:
        _USED.append(True)


def extracellular_guard(h: HocObject) -> HocObject | None:
    """An idle section for a run that has no section at all, if ``extracellular`` was used in this process before
    (else None).

    NEURON 9.0 crashes (segfault in ``psolve``) when a run has no section after sections with the
    ``extracellular`` mechanism were deleted (an xstim run, then a run of artificial cells only, in one
    process); one section for the length of that run avoids it.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    """
    if not _USED or next(iter(h.allsec()), None) is not None:
        return None
    return h.Section(name="modelkit_extracellular_guard")


def _setter(h: HocObject, vectors: list, column: Callable[[np.ndarray, int], np.ndarray], k: int) -> Any:
    def set_values() -> None:
        for pv, arr in vectors:
            pv.scatter(h.Vector(column(arr, k)))
    return set_values
