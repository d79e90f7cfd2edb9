"""Frame-oriented compartment reports (membrane potential and any other variable) and ECP reports.

Layout::

    /report/<population>/data                   [T, V]  (attrs units, variable)
    /report/<population>/mapping/node_ids       [n]
    /report/<population>/mapping/index_pointers [n+1]   (Allen files: index_pointer)
    /report/<population>/mapping/element_ids    [V]
    /report/<population>/mapping/element_pos    [V]     (optional)
    /report/<population>/mapping/time           [3]     start, stop, dt (ms)

Written spec-exact, as libsonata reads them: data float32 (float64 on request),
``units`` on data and time, ``index_pointers``.  :class:`ReportWriter` streams
frames block by block, so a simulation never holds a whole report in memory.

A run that ends early keeps the frames written so far: :meth:`ReportWriter.close_partial` (the writer's
process is alive) or :func:`recover_report` (it was killed, after :meth:`ReportWriter.flush`) cut each
population's ``data`` to the frames written and its ``mapping/time`` to match, so the file is a valid report
of a shorter run, and record the run's stop time (ms) as ``/report@stop_time``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import pandas as pd

from modelkit._typing import ArrayLike, DTypeLike, IdsLike, PathLike
from modelkit.errors import SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.spikes import _decode_attr

__all__ = ["CompartmentReport", "ReportPopulation", "ReportWriter", "write_compartment_report",
           "EcpReport", "read_ecp", "write_ecp", "n_frames", "recover_report"]

#: attribute of ``/report`` with the time (ms) at which the run of a report that ended early stopped
STOP_TIME_ATTR = "stop_time"
#: attribute of ``data`` that :meth:`ReportWriter.flush` keeps at the frames written (removed on close)
_FRAMES_ATTR = "modelkit_frames_written"


def n_frames(start: float, stop: float, dt: float) -> int:
    """Frames of a report from ``start`` to ``stop`` (excluded) every ``dt`` ms.

    Parameters
    ----------
    start : float
        Start time in ms.
    stop : float
        Stop time in ms (excluded).
    dt : float
        Step in ms.
    """
    if not (np.isfinite(start) and np.isfinite(stop) and np.isfinite(dt)) or dt <= 0 or stop < start:
        raise ValueError(f"invalid time window start={start}, stop={stop}, dt={dt}")
    return int(round((stop - start) / dt))


@dataclass(frozen=True)
class ReportPopulation:
    """One population of a compartment report; the data are read lazily.

    Attributes
    ----------
    node_ids : ndarray of int64
    index_pointers : ndarray of int64, length n+1
    element_ids : ndarray of int64
    element_pos : ndarray of float64 or None
    time : tuple of float
        (start, stop, dt) in ms; frame k is at ``start + k * dt``.
    units, variable : str or None
    """

    path: str
    population: str
    node_ids: np.ndarray
    index_pointers: np.ndarray
    element_ids: np.ndarray
    element_pos: np.ndarray | None
    time: tuple[float, float, float]
    units: str | None
    variable: str | None
    shape: tuple[int, int]

    @property
    def times(self) -> np.ndarray:
        """Frame times in ms."""
        start, _, dt = self.time
        return start + dt * np.arange(self.shape[0])

    @property
    def n_frames(self) -> int:
        return self.shape[0]

    def columns_of(self, node_ids: IdsLike) -> np.ndarray:
        """Data columns of the given nodes (in the order given).

        Parameters
        ----------
        node_ids : array-like of int or Selection
            Node ids, any order.

        Raises
        ------
        SonataFormatError
            A node is not in the report.
        """
        return self._columns(node_ids)[0]

    def _columns(self, node_ids: IdsLike) -> tuple[np.ndarray, np.ndarray]:
        ids = np.atleast_1d(np.asarray(node_ids, dtype=np.int64))
        order = np.argsort(self.node_ids, kind="stable")
        if len(order) == 0:
            ok = np.zeros(len(ids), dtype=bool)
            rows = np.zeros(len(ids), dtype=np.int64)
        else:
            k = np.minimum(np.searchsorted(self.node_ids, ids, sorter=order), len(order) - 1)
            rows = order[k]
            ok = self.node_ids[rows] == ids
        if not np.all(ok):
            raise SonataFormatError(self.path, f"/report/{self.population}/mapping/node_ids",
                                    "the requested node ids", f"ids {ids[~ok][:5].tolist()} not reported")
        a, b = self.index_pointers[rows], self.index_pointers[rows + 1]
        lens = b - a
        cols = np.repeat(a - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(lens.sum())
        return cols.astype(np.int64), np.repeat(ids, lens)

    def _frame_range(self, t_start: float | None, t_stop: float | None) -> slice:
        start, _, dt = self.time
        nf = self.shape[0]
        k0 = 0 if t_start is None else int(np.clip(np.ceil((t_start - start) / dt - 1e-9), 0, nf))
        k1 = nf if t_stop is None else int(np.clip(np.ceil((t_stop - start) / dt - 1e-9), 0, nf))
        return slice(k0, max(k0, k1))

    def data(self, node_ids: IdsLike | None = None, t_start: float | None = None, t_stop: float | None = None,
             stride: int = 1) -> np.ndarray:
        """Values, shape (frames, columns), for the given nodes and time window (ms, stop excluded).

        Parameters
        ----------
        node_ids : array of int, optional
            All reported nodes when omitted.
        t_start, t_stop : float, optional
            Window in ms.
        stride : int
            Keep every ``stride``-th frame (downsampling).
        """
        if stride < 1:
            raise ValueError("stride must be >= 1")
        fr = self._frame_range(t_start, t_stop)
        cols = None if node_ids is None else self.columns_of(node_ids)
        f = h5.open_h5(self.path, "SONATA report file")
        try:
            ds = h5.require_dataset(f, f"report/{self.population}/data", self.path, ndim=2)
            with h5.guard(self.path, ds.name):
                if cols is None:
                    out = ds[fr.start:fr.stop:stride, :]
                elif len(cols) == 0:
                    out = np.empty((len(range(fr.start, fr.stop, stride)), 0), dtype=ds.dtype)
                else:
                    lo, hi = int(cols.min()), int(cols.max()) + 1
                    out = ds[fr.start:fr.stop:stride, lo:hi][:, cols - lo]
        finally:
            f.close()
        return np.asarray(out)

    def to_frame(self, node_ids: IdsLike | None = None, t_start: float | None = None, t_stop: float | None = None,
                 stride: int = 1) -> pd.DataFrame:
        """Values as a DataFrame: index ``time`` (ms), columns MultiIndex (``node_id``, ``element_id``).

        Parameters
        ----------
        node_ids : array-like of int or Selection, optional
            Node ids; all when omitted.
        t_start : float, optional
            First time (ms) to read; the report's start when omitted.
        t_stop : float, optional
            Time (ms) to read up to (excluded); the report's end when omitted.
        stride : int, optional
            Read every ``stride``-th frame.
        """
        ids = self.node_ids if node_ids is None else np.atleast_1d(np.asarray(node_ids, dtype=np.int64))
        cols, owner = self._columns(ids)
        vals = self.data(ids, t_start, t_stop, stride)
        fr = self._frame_range(t_start, t_stop)
        times = self.times[fr.start:fr.stop:stride]
        mi = pd.MultiIndex.from_arrays([owner, self.element_ids[cols]], names=["node_id", "element_id"])
        return pd.DataFrame(vals, index=pd.Index(times, name="time"), columns=mi)


class CompartmentReport:
    """A SONATA compartment (frame) report file.

    Examples
    --------
    >>> rep = CompartmentReport("output/membrane_potential.h5")   # doctest: +SKIP
    >>> v = rep["cortex"].data([0, 20])                            # doctest: +SKIP
    """

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        self._pops: dict[str, ReportPopulation] | None = None

    def _load(self) -> dict[str, ReportPopulation]:
        if self._pops is None:
            f = h5.open_h5(self.path, "SONATA report file")
            try:
                rep = h5.require_group(f, "report", self.path, "a /report group")
                with h5.guard(self.path, "/report", "a readable group"):
                    names = list(rep.keys())
                self._pops = {n: _read_mapping(self.path, rep, n) for n in names}
            finally:
                f.close()
        return self._pops

    @property
    def populations(self) -> list[str]:
        """Population names in the report."""
        return list(self._load())

    def __getitem__(self, population: str) -> ReportPopulation:
        pops = self._load()
        if population not in pops:
            raise SonataFormatError(self.path, f"/report/{population}", "a report population of that name",
                                    f"populations {sorted(pops)}")
        return pops[population]

    def __iter__(self):
        return iter(self._load().values())

    def __repr__(self) -> str:
        return f"<CompartmentReport {self.path}: {self.populations}>"


def _read_mapping(path: str, rep: h5py.Group, name: str) -> ReportPopulation:
    g = h5.require_group(rep, name, path, "a report population group")
    m = h5.require_group(g, "mapping", path, "a mapping group")
    data = h5.require_dataset(g, "data", path, kind="number", ndim=2)
    node_ids = h5.as_ids(h5.read_array(h5.require_dataset(m, "node_ids", path, kind="integer"), path),
                         path, f"{m.name}/node_ids")
    ip_name = "index_pointers" if h5.has(m, "index_pointers", path) else "index_pointer"
    ip_ds = h5.require_dataset(m, ip_name, path, kind="integer", length=len(node_ids) + 1)
    ip = h5.as_ids(h5.read_array(ip_ds, path), path, ip_ds.name)
    el_ds = h5.require_dataset(m, "element_ids", path, kind="integer")
    el = h5.as_ids(h5.read_array(el_ds, path), path, el_ds.name)
    pos = None
    if h5.has(m, "element_pos", path):
        pos_ds = h5.require_dataset(m, "element_pos", path, kind="number", length=len(el))
        pos = h5.read_array(pos_ds, path).astype(np.float64)
    t_ds = h5.require_dataset(m, "time", path, kind="number", length=3)
    t = h5.read_array(t_ds, path).astype(np.float64)
    if len(np.unique(node_ids)) != len(node_ids):
        raise SonataFormatError(path, f"{m.name}/node_ids", "unique node ids", "repeated ids")
    if ip.size and (ip[0] != 0 or np.any(np.diff(ip) < 0) or ip[-1] != len(el)):
        raise SonataFormatError(path, ip_ds.name, f"non-decreasing offsets from 0 to {len(el)}",
                                f"{ip[:3].tolist()}...{ip[-1:].tolist()}")
    if data.shape[1] != len(el):
        raise SonataFormatError(path, data.name, f"{len(el)} columns (one per element)", f"shape {data.shape}")
    try:
        nf = n_frames(*t.tolist())
    except ValueError as e:
        raise SonataFormatError(path, t_ds.name, "start, stop, dt with dt > 0 and stop >= start",
                                str(t.tolist())) from e
    if nf != data.shape[0]:
        raise SonataFormatError(path, data.name, f"{nf} frames as mapping/time says", f"{data.shape[0]}")
    with h5.guard(path, data.name, "readable attributes"):
        units = _decode_attr(data.attrs.get("units"))
        variable = _decode_attr(data.attrs.get("variable"))
    return ReportPopulation(path, name, node_ids, ip, el, pos, (t[0], t[1], t[2]),
                            units if isinstance(units, str) else None,
                            variable if isinstance(variable, str) else None, tuple(data.shape))  # type: ignore[arg-type]


@dataclass
class _PopState:
    mapping: tuple
    ds: Any = None
    k: int = 0
    n_frames: int = 0


class ReportWriter:
    """Stream a compartment report to disk, frames appended in blocks.

    One population is declared at construction; more can be added with
    :meth:`add_population` (a SONATA report file may hold several).  The file is
    written under a temporary name and renamed on :meth:`close`; an exception
    inside a ``with`` block discards it.

    Parameters
    ----------
    path : str or PathLike
        The report file to write.
    population : str
        Node population name.
    node_ids : array-like of int or Selection
        Recorded node ids.
    index_pointers : array-like of int
        Per node, where its elements start in ``element_ids`` (length n_nodes + 1).
    element_ids : array-like of int
        Compartment (section) id of each data column.
    time : (float, float, float)
        ``(start, stop, dt)`` in ms; frames at start, start + dt, ... before stop.
    element_pos : array-like of float, optional
        Position (0-1) of each column along its section; 0.5 when omitted.
    units : str
        Units of the data (e.g. ``mV``).
    variable : str, optional
        Variable name (``v``, ``V_m``, ``cai``...).
    dtype : numpy dtype
        float32 (default, what libsonata reads) or float64.
    overwrite : bool
    """

    def __init__(self, path: PathLike, population: str, node_ids: IdsLike, index_pointers: ArrayLike,
                 element_ids: ArrayLike,
                 time: tuple[float, float, float], *, element_pos: ArrayLike | None = None, units: str = "mV",
                 variable: str | None = None, dtype: DTypeLike = np.float32, overwrite: bool = False) -> None:
        self.path = os.fspath(path)
        self.population = population
        self.units = units
        self.variable = variable
        self.dtype = np.dtype(dtype)
        self.overwrite = overwrite
        self._ctx: Any = None
        self._f: h5py.File | None = None
        self._pops: dict[str, _PopState] = {}
        self._pending = [(population, node_ids, index_pointers, element_ids, time, element_pos)]

    @property
    def n_frames(self) -> int:
        return self._pops[self.population].n_frames

    def open(self) -> "ReportWriter":
        """Create the temporary file and the datasets of the declared populations."""
        self._ctx = h5.atomic_output(self.path, overwrite=self.overwrite)
        tmp = self._ctx.__enter__()
        try:
            self._f = h5py.File(tmp, "w")
            h5.write_root_attrs(self._f)
            for args in self._pending:
                self._create(*args)
        except BaseException as e:
            self._abort(e)
            raise
        self._pending = []
        return self

    def add_population(self, population: str, node_ids: IdsLike, index_pointers: ArrayLike, element_ids: ArrayLike,
                       time: tuple[float, float, float], element_pos: ArrayLike | None = None) -> None:
        """Declare another population of the same report.

        Parameters
        ----------
        population, node_ids, index_pointers, element_ids, time, element_pos
            As in :class:`ReportWriter`, for this population.
        """
        if self._f is None:
            self._pending.append((population, node_ids, index_pointers, element_ids, time, element_pos))
        else:
            self._create(population, node_ids, index_pointers, element_ids, time, element_pos)

    def _create(self, population: str, node_ids: IdsLike, index_pointers: ArrayLike, element_ids: ArrayLike, time: Any,
                element_pos: ArrayLike | None) -> None:
        ids = np.asarray(node_ids, dtype=np.int64)
        ip = np.asarray(index_pointers, dtype=np.int64)
        el = np.asarray(element_ids, dtype=np.int64)
        pos = None if element_pos is None else np.asarray(element_pos, dtype=np.float64)
        t = tuple(float(x) for x in time)
        n = len(ids)
        if len(ip) != n + 1 or ip[0] != 0 or ip[-1] != len(el) or np.any(np.diff(ip) < 0):
            raise ValueError("index_pointers must rise from 0 to len(element_ids), one more than node_ids")
        if pos is not None and len(pos) != len(el):
            raise ValueError("element_pos must have one value per element")
        if population in self._pops:
            raise ValueError(f"population {population!r} declared twice")
        nf = n_frames(*t)
        assert self._f is not None
        g = self._f.create_group(f"report/{population}")
        m = g.create_group("mapping")
        ds = m.create_dataset("node_ids", data=ids.astype(np.uint64))
        ds.attrs.create("sorted", np.uint8(bool(np.all(np.diff(ids) > 0))), dtype=np.uint8)
        m.create_dataset("index_pointers", data=ip.astype(np.uint64))
        # bmtk's reader (<= 1.2) opens only the singular name and libsonata only the spec one:
        # a hard link serves both without a second copy.
        m["index_pointer"] = m["index_pointers"]
        m.create_dataset("element_ids", data=el.astype(np.uint32))
        if pos is not None:
            m.create_dataset("element_pos", data=pos.astype(np.float32))
        tds = m.create_dataset("time", data=np.array(t, dtype=np.float64))
        tds.attrs.create("units", "ms", dtype=h5.STR_DTYPE)
        v = max(len(el), 1)
        chunk_rows = int(max(1, min(nf, (1 << 20) // (v * self.dtype.itemsize))))
        chunked = bool(nf and len(el))
        # resizable in frames, so that a run that ends early can cut the data to the frames it wrote
        data = g.create_dataset("data", shape=(nf, len(el)), dtype=self.dtype,
                                chunks=(chunk_rows, len(el)) if chunked else None,
                                maxshape=(None, len(el)) if chunked else None)
        data.attrs.create("units", self.units, dtype=h5.STR_DTYPE)
        if self.variable:
            data.attrs.create("variable", self.variable, dtype=h5.STR_DTYPE)
        self._pops[population] = _PopState((ids, ip, el, pos, t), data, 0, nf)

    def append(self, frames: ArrayLike, population: str | None = None) -> None:
        """Write the next frames of a population (the first declared by default), shape (k, n_elements).

        Parameters
        ----------
        frames : array-like
            (k, n_elements) values in the report's units (mV for ``v``).
        population : str, optional
            Population; the first declared when omitted.
        """
        st = self._pops.get(population or self.population)
        if st is None or self._f is None:
            raise RuntimeError("ReportWriter is not open" if self._f is None else f"no population {population!r}")
        a = np.asarray(frames, dtype=self.dtype)
        if a.ndim != 2 or a.shape[1] != st.ds.shape[1]:
            raise ValueError(f"frames must have shape (k, {st.ds.shape[1]}), got {a.shape}")
        if st.k + len(a) > st.n_frames:
            raise ValueError(f"too many frames: {st.k + len(a)} > {st.n_frames}")
        st.ds[st.k:st.k + len(a)] = a
        st.k += len(a)

    def flush(self) -> None:
        """Push the frames appended so far to disk, with their count, so that :func:`recover_report` can
        make a valid report of them if this process is killed before :meth:`close`."""
        if self._f is None:
            return
        for st in self._pops.values():
            st.ds.attrs[_FRAMES_ATTR] = np.int64(st.k)
        self._f.flush()

    def close(self) -> None:
        """Finish the file and move it into place (all frames must have been written)."""
        if self._f is None:
            return
        short = {p: (st.k, st.n_frames) for p, st in self._pops.items() if st.k != st.n_frames}
        if short:
            err = ValueError(f"{self.path}: frames written / expected: {short}")
            self._abort(err)
            raise err
        for st in self._pops.values():
            if _FRAMES_ATTR in st.ds.attrs:
                del st.ds.attrs[_FRAMES_ATTR]
        self._f.close()
        self._f = None
        self._ctx.__exit__(None, None, None)

    def close_partial(self, stop_time: float | None = None) -> dict[str, int]:
        """Finish the file with the frames appended so far and move it into place (a run that ended early).

        Each population's ``data`` is cut to the frames written and its ``mapping/time`` stop to the end
        of the last one, so the file is a valid report of what was recorded.

        Parameters
        ----------
        stop_time : float, optional
            The time (ms) the run stopped at, recorded as ``/report@stop_time``; frames after it are cut
            too (the report of a run cut short between two modules' blocks ends where its spikes do).

        Returns
        -------
        dict
            Frames kept per population (empty if the writer was not open).
        """
        if self._f is None:
            return {}
        try:
            kept = {p: _trim(self._f, p, st.k, stop_time) for p, st in self._pops.items()}
            if stop_time is not None:
                self._f["report"].attrs[STOP_TIME_ATTR] = np.float64(stop_time)
        except BaseException as e:
            self._abort(e)
            raise
        self._f.close()
        self._f = None
        self._ctx.__exit__(None, None, None)
        return kept

    def _abort(self, exc: BaseException) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        if self._ctx is not None:
            try:
                self._ctx.__exit__(type(exc), exc, None)
            except BaseException:  # noqa: BLE001 - we only want the temp file gone
                pass
            self._ctx = None

    def __enter__(self) -> "ReportWriter":
        return self.open()

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        if et is None:
            self.close()
        else:
            self._abort(ev)


def _trim(f: h5py.File, population: str, k: int, stop_time: float | None = None) -> int:
    """Cut ``/report/<population>`` to its first ``k`` frames, and to those at or before ``stop_time`` (ms),
    in data and ``mapping/time``; returns the frames kept."""
    g = f[f"report/{population}"]
    ds = g["data"]
    t = g["mapping/time"]
    start, stop, dt = (float(x) for x in t[()])
    k = int(min(max(k, 0), ds.shape[0]))
    if stop_time is not None:  # a block of frames written after the run's last whole block of spikes
        k = min(k, max(0, int(np.floor((stop_time - start) / dt + 1e-9)) + 1))
    if _FRAMES_ATTR in ds.attrs:
        del ds.attrs[_FRAMES_ATTR]
    if k == ds.shape[0]:
        return k
    if ds.maxshape[0] is None:
        ds.resize(k, axis=0)
    else:  # a contiguous dataset cannot shrink: write the kept frames anew (a report without elements)
        kept, attrs = ds[:k], dict(ds.attrs)
        del g["data"]
        ds = g.create_dataset("data", data=kept)
        for name, v in attrs.items():
            ds.attrs[name] = v
    # the stop as the same sum the frame times use, so that n_frames(start, stop, dt) == k
    t[1] = start + k * dt if k < n_frames(start, stop, dt) else stop
    return k


def recover_report(tmp_path: PathLike, path: PathLike, stop_time: float | None = None) -> dict[str, int]:
    """Make a valid report of a :class:`ReportWriter`'s file left behind by a killed process.

    Each population keeps the frames counted by the writer's last :meth:`ReportWriter.flush` (none if it
    never flushed) up to ``stop_time``, cut as :meth:`ReportWriter.close_partial` does; the file is then
    renamed to ``path`` (replacing it).

    Parameters
    ----------
    tmp_path : str or PathLike
        The writer's temporary file.
    path : str or PathLike
        The report's name.
    stop_time : float, optional
        The time (ms) the run stopped at, recorded as ``/report@stop_time``.

    Returns
    -------
    dict
        Frames kept per population.

    Raises
    ------
    SonataFormatError
        The file cannot be opened or is not a report (a kill in the middle of a write can leave it so).
    """
    src, dst = os.fspath(tmp_path), os.fspath(path)
    try:
        with h5py.File(src, "r+") as f:
            rep = f.get("report")
            if not isinstance(rep, h5py.Group):
                raise SonataFormatError(src, "/report", "a report file left by a writer", "no /report group")
            kept = {}
            for name in list(rep.keys()):
                ds = rep[name]["data"]
                kept[name] = _trim(f, name, int(np.asarray(ds.attrs.get(_FRAMES_ATTR, 0)).ravel()[0]), stop_time)
            if stop_time is not None:
                rep.attrs[STOP_TIME_ATTR] = np.float64(stop_time)
    except SonataFormatError:
        raise
    except Exception as e:  # h5py raises OSError, KeyError, RuntimeError, ValueError on a torn file
        raise SonataFormatError(src, "/report", "a report file that can be opened and cut",
                                f"{type(e).__name__}: {e}") from e
    _ = CompartmentReport(src).populations  # every population's mapping and data shape read back as a report
    os.replace(src, dst)
    return kept


def write_compartment_report(path: PathLike, population: str, node_ids: IdsLike, index_pointers: ArrayLike,
                             element_ids: ArrayLike,
                             time: tuple[float, float, float], data: ArrayLike, **kw: Any) -> None:
    """Write a whole one-population compartment report (see :class:`ReportWriter` for the keywords).

    Parameters
    ----------
    path, population, node_ids, index_pointers, element_ids, time
        As in :class:`ReportWriter`.
    data : array-like
        (n_frames, n_elements) values in the report's units (mV for ``v``).
    **kw
        Keywords of :class:`ReportWriter` (``units``, ``variable``, ``dtype``, ``overwrite``).
    """
    with ReportWriter(path, population, node_ids, index_pointers, element_ids, time, **kw) as w:
        w.append(data)


# --------------------------------------------------------------------------- ECP
@dataclass(frozen=True)
class EcpReport:
    """Extracellular potential: ``data`` shape (frames, channels), whatever the file's orientation."""

    path: str
    channel_ids: np.ndarray
    time: tuple[float, float, float]
    data: np.ndarray
    units: str | None

    @property
    def times(self) -> np.ndarray:
        """Frame times in ms."""
        return self.time[0] + self.time[2] * np.arange(self.data.shape[0])


def read_ecp(path: PathLike) -> EcpReport:
    """Read ``/ecp/{data,channel_id,time}``; data may be (channels, frames) as the guide
    says or (frames, channels) as bmtk writes: the time window decides.

    Parameters
    ----------
    path : str or PathLike
        An ECP report file.
    """
    p = os.fspath(path)
    f = h5.open_h5(p, "SONATA ECP report")
    try:
        g = h5.require_group(f, "ecp", p, "an /ecp group")
        ch = h5.as_ids(h5.read_array(h5.require_dataset(g, "channel_id", p, kind="integer"), p), p, "/ecp/channel_id")
        t_ds = h5.require_dataset(g, "time", p, kind="number", length=3)
        t = h5.read_array(t_ds, p).astype(np.float64)
        d_ds = h5.require_dataset(g, "data", p, kind="number", ndim=2)
        data = h5.read_array(d_ds, p)
        with h5.guard(p, d_ds.name, "readable attributes"):
            units = _decode_attr(d_ds.attrs.get("units"))
    finally:
        f.close()
    try:
        nf = n_frames(*t.tolist())
    except ValueError as e:
        raise SonataFormatError(p, "/ecp/time", "start, stop, dt with dt > 0", str(t.tolist())) from e
    c = len(ch)
    if data.shape == (c, nf) and not (data.shape == (nf, c) and nf == c):
        data = data.T
    elif data.shape != (nf, c):
        raise SonataFormatError(p, "/ecp/data", f"shape ({c}, {nf}) or ({nf}, {c})", f"shape {data.shape}")
    return EcpReport(p, ch, (t[0], t[1], t[2]), data, units if isinstance(units, str) else None)


def write_ecp(path: PathLike, channel_ids: IdsLike, time: tuple[float, float, float], data: ArrayLike, *,
              units: str = "mV",
              overwrite: bool = False, stop_time: float | None = None) -> None:
    """Write an ECP report as the guide lays it out: ``/ecp/data`` (channels, frames).

    Parameters
    ----------
    data : array, shape (frames, channels)
        Potentials, one column per channel (transposed on write).
    stop_time : float, optional
        Where a run that ended early stopped (ms): recorded as ``/ecp@stop_time``.
    """
    ch = np.asarray(channel_ids, dtype=np.int64)
    d = np.asarray(data, dtype=np.float64)
    nf = n_frames(*time)
    if d.shape != (nf, len(ch)):
        raise ValueError(f"data must have shape ({nf}, {len(ch)}), got {d.shape}")
    with h5.atomic_output(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            h5.write_root_attrs(f)
            g = f.create_group("ecp")
            if stop_time is not None:
                g.attrs["stop_time"] = float(stop_time)
            g.create_dataset("channel_id", data=ch.astype(np.uint64))
            t = g.create_dataset("time", data=np.asarray(time, dtype=np.float64))
            t.attrs.create("units", "ms", dtype=h5.STR_DTYPE)
            ds = g.create_dataset("data", data=d.T)
            ds.attrs.create("units", units, dtype=h5.STR_DTYPE)
