"""Recording at many places per cell: every segment (compartment reports, membrane currents for ECP),
every synapse of a kind (bmtk's ``netcon_report``), or the clamps of a kind (bmtk's ``clamp_report``).

A :class:`ElementRecorder` holds one ``Vector.record`` per element of the cells this
rank owns and describes them as SONATA mapping columns (``node_ids``, ``counts``,
``element_ids`` = section index, ``element_pos`` = x along the section); the report
modules gather those across ranks by node id.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.neuron.biophysics import SECTION_ALIASES, SECTION_TYPES
from modelkit.simulator.neuron.morphology import Cell

if TYPE_CHECKING:
    from modelkit.simulator.neuron.backend import NeuronBackend

__all__ = ["range_ref", "Sampling", "CellRecorder", "ElementRecorder", "ClampRecorder", "record_segments",
           "record_synapses", "record_clamps", "section_types"]

#: units of range variables and synapse variables written into report files
UNITS = {"v": "mV", "cai": "mM", "cao": "mM", "nai": "mM", "ki": "mM", "ina": "mA/cm2", "ik": "mA/cm2",
         "ica": "mA/cm2", "i_membrane_": "nA", "i": "nA", "g": "uS", "tau1": "ms", "tau2": "ms", "e": "mV"}


def range_ref(seg: HocObject, var: str) -> HocObject:
    """The pointer to range variable ``var`` at a segment; an array variable (``vext``, one value per layer of
    ``extracellular``) gives its first element, what bmtk records with ``"transform": "first_element"`` (the
    only transform bmtk has; a report of the whole array fails in bmtk).

    Parameters
    ----------
    seg : HocObject
        A NEURON segment (``sec(x)``).
    var : str
        Range variable name (``v``, ``cai``, ``i_membrane_``, ``vext``, ...).

    Raises
    ------
    AttributeError, NameError, IndexError
        No such variable at the segment.
    """
    ref = getattr(seg, f"_ref_{var}")
    if type(ref).__name__ == "RangeVar":  # NEURON's array range variable: not a pointer by itself
        ref = ref[0]
    return ref


class Sampling:
    """How recorded Vectors sample a variable every ``dt`` ms, and which samples are frames (bmtk's).

    bmtk records after each step: its frame j of a report window [start, stop) holds the value at
    ``start + j * dt + h.dt`` (one simulation step after the frame's label) and is labelled ``start + j * dt``,
    so a report's time axis is (start, stop, dt) with (stop - start) / dt frames.  modelkit keeps the same
    samples under the same labels.

    In one NEURON thread with the report ``dt`` equal to the run's, ``Vector.record(ref, dt)`` samples at
    0, dt, 2 dt, ... and sample k is the step k - 1 of bmtk.  With several threads (``pc.nthread``) NEURON
    9.0's fixed-interval recording gives wrong values for cells outside the first thread, different from run
    to run (reproduced in plain NEURON), and with a report ``dt`` of m steps bmtk's samples are off the
    multiples of ``dt``; there every step is recorded and every m-th kept: the same samples, to the last bit.
    """

    def __init__(self, backend: NeuronBackend, dt: float) -> None:
        sim_dt = float(backend.h.dt)
        self.stride = max(1, int(round(dt / sim_dt)))
        threads = int(backend.pc.nthread()) > 1 if backend.pc is not None else False
        # CoreNEURON gives one sample of a fixed-interval Vector.record (silently): record every step there
        core = backend._options is not None and backend._options.coreneuron
        self.every_step = threads or self.stride > 1 or core
        self.sim_dt = sim_dt
        self.step = sim_dt if self.every_step else dt  # ms between the samples a Vector holds

    def record(self, vec: HocObject, ref: HocObject, dt: float, *, sec: HocObject = None,
               owner: HocObject = None) -> None:
        """``vec.record`` of ``ref``, in the thread of ``sec`` (a range variable) or ``owner`` (a point process
        or artificial cell).

        Parameters
        ----------
        vec : HocObject
            The NEURON Vector that records.
        ref : HocObject
            Pointer to the variable (``seg._ref_v``, ``syn._ref_i``).
        dt : float
            The report's sampling interval (ms).
        sec : HocObject, optional
            Section of a range variable.
        owner : HocObject, optional
            Point process or artificial cell that owns the variable.
        """
        args = (ref,) if owner is None else (owner, ref)
        kw = {} if sec is None else {"sec": sec}
        if self.every_step:
            vec.record(*args, **kw)
        else:
            vec.record(*args, dt, **kw)

    def keep(self, first: int, n: int, start: float, stop: float) -> np.ndarray:
        """Which of samples ``first .. first + n - 1`` are frames of the window [start, stop) (ms): bmtk's
        steps ``start_step <= k - 1 < stop_step`` that are multiples of the report's stride.

        Parameters
        ----------
        first : int
            Index of the first sample since the run began.
        n : int
            Number of samples.
        start, stop : float
            The report window (ms).

        Returns
        -------
        numpy.ndarray of bool
            One flag per sample.
        """
        step = (first + np.arange(n)) * int(round(self.step / self.sim_dt)) - 1  # the step that sample ended
        lo, hi = int(round(start / self.sim_dt)), int(round(stop / self.sim_dt))
        return (step >= lo) & (step < hi) & (step % self.stride == 0)


class _Recorded:
    """Vectors that sample variables (``Sampling``); ``_drain`` hands over what they hold as frames."""

    def __init__(self, population: str, vectors: dict[str, list[Any]], dt: float, start: float, stop: float,
                 sampling: Sampling) -> None:
        self.population = population
        self.variables = tuple(vectors)
        self.units = {v: UNITS.get(v, "") for v in vectors}
        self.time_window = (start, stop, dt)  # bmtk's labels: frame j (value at start + j dt + h.dt) at start + j dt
        self._vectors = vectors
        self._start, self._stop = start, stop
        self._sampling = sampling
        self._next = 0  # index of the next sample a Vector holds

    def _drain(self, width: int, columns: Sequence[int]) -> dict[str, np.ndarray]:
        """``{variable: (frames, width)}`` of the samples since the last call inside the window; vector j fills
        column ``columns[j]`` (the others stay NaN) and is emptied."""
        n = min((int(v.size()) for vs in self._vectors.values() for v in vs), default=0)
        keep = self._sampling.keep(self._next, n, self._start, self._stop)
        out = {}
        for var, vs in self._vectors.items():
            a = np.full((n, width), np.nan) if len(vs) != width else np.empty((n, width))
            for j, v in zip(columns, vs):
                a[:, j] = v.as_numpy()[:n]
                if n:
                    v.remove(0, n - 1)
            out[var] = a[keep]
        self._next += n
        return out


class CellRecorder(_Recorded):
    """One variable per cell (soma, or an artificial cell's state) of ``node_ids``; the columns of cells other
    ranks own stay NaN (the run merges the ranks' frames)."""

    def __init__(self, population: str, node_ids: np.ndarray, variables: Sequence[str],
                 vectors: dict[str, list[Any]], dt: float, start: float, stop: float, sampling: Sampling,
                 columns: np.ndarray | None = None) -> None:
        super().__init__(population, vectors, dt, start, stop, sampling)
        self.node_ids = node_ids
        self._columns = (np.arange(len(node_ids)) if columns is None else np.asarray(columns, dtype=np.int64)).tolist()

    def collect(self) -> dict[str, np.ndarray]:
        return self._drain(len(self.node_ids), self._columns)


class ElementRecorder(_Recorded):
    """Vectors sampling variables at the elements of the local cells; ``collect`` hands over new frames.

    Attributes
    ----------
    population : str
    node_ids, counts : ndarray of int
        Local cells (ascending) and their number of elements.
    element_ids : ndarray of int
        Section index (``all`` order) of each element, cells one after the other.
    element_pos : ndarray of float
        Position along the section (0-1).
    time_window : (start, stop, dt)
        ms, of the frames ``collect`` returns (bmtk's labels, see :class:`Sampling`).
    """

    def __init__(self, population: str, node_ids: np.ndarray, counts: np.ndarray, element_ids: np.ndarray,
                 element_pos: np.ndarray, vectors: dict[str, list[Any]], dt: float, start: float,
                 stop: float, sampling: Sampling) -> None:
        super().__init__(population, vectors, dt, start, stop, sampling)
        self.node_ids = np.asarray(node_ids, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.element_ids = np.asarray(element_ids, dtype=np.int64)
        self.element_pos = np.asarray(element_pos, dtype=float)

    def collect(self) -> dict[str, np.ndarray]:
        """``{variable: (frames, elements)}`` sampled since the last call, inside the report window."""
        if not any(self._vectors.values()):  # no local element: count the frames from the clock instead
            return {var: np.empty((0, 0)) for var in self._vectors}
        width = len(next(iter(self._vectors.values())))
        return self._drain(width, range(width))


def section_types(value: str | Sequence[str] | None, where: str) -> set[int] | None:
    """SWC type codes of a report's ``sections`` (``all``, a name or a list of names); None = every type.

    Parameters
    ----------
    value : str, sequence of str or None
        The report's ``sections``; None: ``all``.
    where : str
        The config key named in errors.

    Raises
    ------
    ConfigError
        An unknown section name.
    """
    names = [value] if isinstance(value, str) else list(value or ["all"])
    if any(str(n).lower() == "all" for n in names):
        return None
    out = set()
    for n in names:
        kind = SECTION_ALIASES.get(str(n).lower())
        if kind is None:
            raise ConfigError(None, f"{where}.sections", f"all or section names ({', '.join(sorted(SECTION_ALIASES))})",
                              repr(n))
        out.add(SECTION_TYPES[kind])
    return out


def _cells(backend: NeuronBackend, population: str, node_ids: np.ndarray) -> list[tuple[int, Cell]]:
    cells = backend._cells.get(population, {})
    return [(n, cells[n]) for n in np.unique(np.asarray(node_ids, dtype=np.int64)).tolist()
            if isinstance(cells.get(n), Cell)]


def record_segments(backend: NeuronBackend, population: str, node_ids: np.ndarray, variables: Sequence[str],
                    types: set[int] | None, dt: float, start: float, stop: float, where: str) -> ElementRecorder:
    """Record range variables at every segment (of the section ``types``; None: all) of the local cells.

    Parameters
    ----------
    backend : NeuronBackend
        The run's backend (its ``h``, cells and synapses).
    population : str
        Node population of the cells.
    node_ids : numpy.ndarray of int
        Cells to record; those not built on this rank are skipped.
    variables : sequence of str
        Range variables (``v`` mV, ``i_membrane_`` nA, ...).
    types : set of int or None
        SWC type codes of the sections recorded (see :func:`section_types`); None: all.
    dt, start, stop : float
        Sampling interval and report window (ms).
    where : str
        The config key named in errors.

    Raises
    ------
    ConfigError
        A variable missing at a recorded segment.
    """
    h = backend.h
    sampling = Sampling(backend, dt)
    if "i_membrane_" in variables:
        h.cvode.use_fast_imem(1)
        backend.__dict__["_fast_imem"] = True
    vectors: dict[str, list[Any]] = {v: [] for v in variables}
    ids, counts, el, pos = [], [], [], []
    for nid, cell in _cells(backend, population, node_ids):
        n = 0
        for i, sec in enumerate(cell.sections):
            if types is not None and int(cell.table.types[i]) not in types:
                continue
            for seg in sec:
                for var in variables:
                    try:
                        ref = range_ref(seg, var)
                    except (AttributeError, NameError, IndexError) as e:
                        raise ConfigError(None, f"{where}.variable_name {var!r}",
                                          f"a range variable of every recorded segment of {cell.label} "
                                          f"({cell.table.path})", f"none in {sec.name()}") from e
                    vec = h.Vector()
                    sampling.record(vec, ref, dt, sec=sec)
                    vectors[var].append(vec)
                el.append(i)
                pos.append(seg.x)
                n += 1
        ids.append(nid)
        counts.append(n)
    return ElementRecorder(population, np.asarray(ids), np.asarray(counts), np.asarray(el), np.asarray(pos),
                           vectors, dt, start, stop, sampling)


def record_synapses(backend: NeuronBackend, population: str, node_ids: np.ndarray, variables: Sequence[str],
                    syn_type: str | None, dt: float, start: float, stop: float, where: str) -> ElementRecorder:
    """Record variables of the synapses (point processes whose name starts with ``syn_type``; None: all) on
    the local cells, in the order they were made; element = (section index, x) of each synapse.

    Parameters
    ----------
    backend, population, node_ids
        See :func:`record_segments`.
    variables : sequence of str
        Synapse variables (``i`` nA, ``g`` µS, ...).
    syn_type : str or None
        Prefix of the point-process name; None: every synapse.
    dt, start, stop, where
        See :func:`record_segments`.

    Raises
    ------
    ConfigError
        A variable a recorded synapse does not have.
    """
    h = backend.h
    sampling = Sampling(backend, dt)
    local = _cells(backend, population, node_ids)
    owner = {}
    for k, (_, cell) in enumerate(local):
        for i, sec in enumerate(cell.sections):
            owner[sec] = (k, i)
    found: list[list[tuple[int, float, Any]]] = [[] for _ in local]
    seen: set[int] = set()
    for obj in itertools.chain(backend._keep, backend.synapse_objects()):
        if not hasattr(obj, "get_segment") or id(obj) in seen:
            continue
        name = obj.hname()
        if syn_type and not name.startswith(syn_type):
            continue
        if name.startswith(("IClamp", "SEClamp")):
            continue  # electrodes, not synapses
        seg = obj.get_segment()
        if seg is None or seg.sec not in owner:
            continue
        seen.add(id(obj))
        k, i = owner[seg.sec]
        found[k].append((i, float(seg.x), obj))
    vectors: dict[str, list[Any]] = {v: [] for v in variables}
    el, pos, counts = [], [], []
    for syns in found:
        for i, x, syn in syns:
            for var in variables:
                try:
                    ref = getattr(syn, f"_ref_{var}")
                except (AttributeError, NameError) as e:
                    raise ConfigError(None, f"{where}.variable_name {var!r}", f"a variable of {syn.hname()}",
                                      "none") from e
                vec = h.Vector()
                sampling.record(vec, ref, dt, owner=syn)
                vectors[var].append(vec)
            el.append(i)
            pos.append(x)
        counts.append(len(syns))
    return ElementRecorder(population, np.array([n for n, _ in local], dtype=np.int64), np.asarray(counts),
                           np.asarray(el), np.asarray(pos), vectors, dt, start, stop, sampling)


class ClampRecorder(ElementRecorder):
    """The current (nA) of the clamps of one kind on each local cell: one element per cell at the clamps'
    segment, summing the cell's clamps there (a step schedule is several IClamps in sequence)."""

    def __init__(self, population: str, node_ids: np.ndarray, element_ids: np.ndarray, element_pos: np.ndarray,
                 vectors: list[Any], column: np.ndarray, dt: float, start: float, stop: float,
                 sampling: Sampling) -> None:
        super().__init__(population, node_ids, np.ones(len(node_ids), np.int64), element_ids, element_pos,
                         {"i": vectors}, dt, start, stop, sampling)
        self._column = np.asarray(column, dtype=np.int64)
        self._n_columns = len(node_ids)

    def collect(self) -> dict[str, np.ndarray]:
        raw = super().collect()["i"]
        if not raw.size:
            return {"i": np.empty((raw.shape[0], self._n_columns if raw.shape[0] else 0))}
        out = np.zeros((raw.shape[0], self._n_columns))
        np.add.at(out.T, self._column, raw.T)
        return {"i": out}


def record_clamps(backend: NeuronBackend, population: str, node_ids: np.ndarray, kind: str, dt: float,
                  start: float, stop: float, where: str) -> ClampRecorder:
    """Record the current ``i`` (nA) of the clamps of ``kind`` (``se``: SEClamp; ``ic``/``f_ic``: IClamps from
    parameters / from files) on the local cells among ``node_ids`` (bmtk's ``clamp_report``).

    Parameters
    ----------
    backend, population, node_ids
        See :func:`record_segments`.
    kind : str
        ``se``, ``ic`` or ``f_ic``.
    dt, start, stop, where
        See :func:`record_segments`.

    Raises
    ------
    ConfigError
        A clamp of one cell at two places (one element per cell).
    """
    h = backend.h
    sampling = Sampling(backend, dt)
    local = {nid: cell for nid, cell in _cells(backend, population, node_ids)}
    found: dict[int, list[Any]] = {}
    for k, pop, nid, clamp in backend._clamps:
        if k == kind and pop == population and nid in local:
            found.setdefault(nid, []).append(clamp)
    ids = sorted(found)
    el, pos, vectors, column = [], [], [], []
    for j, nid in enumerate(ids):
        cell = local[nid]
        segs = {(clamp.get_segment().sec, round(float(clamp.get_segment().x), 9)) for clamp in found[nid]}
        if len(segs) > 1:
            raise ConfigError(None, f"{where}.variable_name {kind!r}",
                              f"the clamps of {cell.label} at one place (one element per cell)",
                              f"{len(segs)} places")
        sec, x = next(iter(segs))
        el.append(cell.sections.index(sec))
        pos.append(x)
        for clamp in found[nid]:
            vec = h.Vector()
            sampling.record(vec, clamp._ref_i, dt, owner=clamp)
            vectors.append(vec)
            column.append(j)
    return ClampRecorder(population, np.asarray(ids, dtype=np.int64), np.asarray(el, dtype=np.int64),
                         np.asarray(pos, dtype=float), vectors, np.asarray(column, dtype=np.int64), dt, start, stop,
                         sampling)
