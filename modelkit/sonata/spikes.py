"""SONATA spike files: read every layout seen in the wild, write the spec exactly.

Read: ``/spikes/<population>/{node_ids,timestamps}`` (``sorting`` as an HDF5 enum
or, as Allen files do, a string), the legacy ``/spikes/{gids,timestamps}`` layout
without a population, and bmtk's space-separated CSV (``timestamps population
node_ids``, or a headerless ``time node_id`` variant).  Write: the population
layout with ``sorting`` as the int8 enum libsonata requires and ``units="ms"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import h5py
import numpy as np
import pandas as pd

from modelkit._typing import ArrayLike, PathLike
from modelkit.errors import SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.textfile import MAX_CSV_BYTES, read_text
from modelkit.sonata.types_table import tokenize_line

__all__ = ["SpikePopulation", "read_spikes", "write_spikes", "write_spikes_csv", "sort_spikes", "spikes_stop_time"]

#: attribute of ``/spikes`` with the time (ms) up to which a run that ended early recorded its spikes
STOP_TIME_ATTR = "stop_time"

_SORTING_ALIASES = {"none": "none", "by_id": "by_id", "by_time": "by_time", "by_gid": "by_id", "time": "by_time",
                    "id": "by_id", "gid": "by_id", "unsorted": "none"}
_UNITS_TO_MS = {"ms": 1.0, "millisecond": 1.0, "milliseconds": 1.0, "msec": 1.0,
                "s": 1000.0, "sec": 1000.0, "second": 1000.0, "seconds": 1000.0}


@dataclass(frozen=True)
class SpikePopulation:
    """The spikes of one node population.

    Attributes
    ----------
    population : str or None
        Node population name; None for the legacy layout, which names none.
    node_ids : ndarray of int64
    timestamps : ndarray of float64
        Spike times in ms.
    sorting : str
        ``none``, ``by_id`` or ``by_time`` as the file declares it.
    """

    population: str | None
    node_ids: np.ndarray
    timestamps: np.ndarray
    sorting: str = "none"

    def __len__(self) -> int:
        return len(self.node_ids)

    def to_frame(self) -> pd.DataFrame:
        """Columns ``timestamps`` (ms), ``population``, ``node_ids``."""
        return pd.DataFrame({"timestamps": self.timestamps,
                             "population": pd.Series([self.population] * len(self), dtype=object),
                             "node_ids": self.node_ids})


#: spikes to write: ``{population: (node_ids, timestamps_ms)}`` or ``{population: SpikePopulation}``, or an
#: iterable of named ``SpikePopulation``
SpikesLike = Union[Mapping[str, Union[SpikePopulation, tuple[ArrayLike, ArrayLike]]], Iterable[SpikePopulation]]


def _decode_attr(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        return _decode_attr(v.ravel()[0])
    if isinstance(v, np.generic):
        return v.item()
    return v


def _sorting_of(obj: h5py.HLObject, path: str) -> str:
    with h5.guard(path, f"{obj.name}@sorting", "a sorting attribute"):
        if "sorting" not in obj.attrs:
            return "none"
        raw = obj.attrs["sorting"]
        dt = obj.attrs.get_id("sorting").dtype
    enum = h5py.check_enum_dtype(dt)
    if enum is not None:
        inv = {v: k for k, v in enum.items()}
        val = inv.get(int(np.asarray(raw).ravel()[0]))
    else:
        val = _decode_attr(raw)
    if not isinstance(val, str) or val not in _SORTING_ALIASES:
        raise SonataFormatError(path, f"{obj.name}@sorting", "one of none, by_id, by_time", repr(val))
    return _SORTING_ALIASES[val]


def _read_pair(path: str, grp: h5py.Group, ids_name: str, population: str | None, sorting: str) -> SpikePopulation:
    ts_ds = h5.require_dataset(grp, "timestamps", path, kind="number")
    id_ds = h5.require_dataset(grp, ids_name, path, kind="integer", length=ts_ds.shape[0])
    with h5.guard(path, f"{ts_ds.name}@units", "a units attribute"):
        units = _decode_attr(ts_ds.attrs.get("units", "ms"))
    if not isinstance(units, str) or units.lower() not in _UNITS_TO_MS:
        raise SonataFormatError(path, f"{ts_ds.name}@units", f"time units among {sorted(_UNITS_TO_MS)}", repr(units))
    ts = h5.read_array(ts_ds, path).astype(np.float64, copy=False)
    scale = _UNITS_TO_MS[units.lower()]
    if scale != 1.0:
        ts = ts * scale
    ids = h5.as_ids(h5.read_array(id_ds, path), path, id_ds.name)
    return SpikePopulation(population, ids, ts, sorting)


def read_spikes(path: PathLike, population: str | None = None) -> dict[str | None, SpikePopulation]:
    """Read a spike file (SONATA HDF5 in any seen layout, bmtk CSV, or NWB).

    Parameters
    ----------
    path : str or PathLike
        ``.h5``/``.hdf5``/``.sonata``, ``.csv``/``.txt``, or ``.nwb`` (see :mod:`modelkit.sonata.nwb`).
    population : str, optional
        Keep only this population.

    Returns
    -------
    dict
        Population name (None for the legacy layout and headerless CSV) -> SpikePopulation.

    Raises
    ------
    SonataFormatError
        Unreadable file, missing datasets, mismatched lengths, unknown units/sorting.
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext in (".csv", ".txt", ".dat"):
        out = _read_spikes_csv(p)
    elif ext == ".nwb":
        from modelkit.sonata.nwb import read_nwb_spikes
        out = read_nwb_spikes(p)
    else:
        out = _read_spikes_h5(p)
    if population is not None:
        if population not in out:
            raise SonataFormatError(p, f"/spikes/{population}", "a spike population of that name",
                                    f"populations {sorted(map(str, out))}")
        return {population: out[population]}
    return out


def _read_spikes_h5(p: str) -> dict[str | None, SpikePopulation]:
    f = h5.open_h5(p, "SONATA spikes file")
    try:
        sp = h5.require_group(f, "spikes", p, "a /spikes group")
        with h5.guard(p, "/spikes", "a readable group"):
            keys = list(sp.keys())
        if "gids" in keys and "timestamps" in keys and not isinstance(_get(sp, "gids", p), h5py.Group):
            return {None: _read_pair(p, sp, "gids", None, _sorting_of(sp, p))}
        out: dict[str | None, SpikePopulation] = {}
        for k in keys:
            g = _get(sp, k, p)
            if not isinstance(g, h5py.Group):
                raise SonataFormatError(p, f"/spikes/{k}", "a population group (or the legacy gids/timestamps)",
                                        type(g).__name__)
            out[k] = _read_pair(p, g, "node_ids", k, _sorting_of(g, p))
        return out
    finally:
        f.close()


def _get(group: h5py.Group, name: str, p: str) -> Any:
    """``group.get(name)``; a link that loops or cannot be followed is a SonataFormatError (h5py raises
    RuntimeError or KeyError), not a raw traceback."""
    with h5.guard(p, f"{group.name}/{name}", "a dataset or group (a link that resolves)"):
        return group.get(name)


def _read_spikes_csv(p: str) -> dict[str | None, SpikePopulation]:
    # a regular file under a size cap: a FIFO or /dev/zero would block or never end
    text = read_text(p, "spikes CSV file", MAX_CSV_BYTES, SonataFormatError)
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        return {}
    rows = []
    for n, ln in lines:
        try:
            rows.append(tokenize_line(ln.replace(",", " ")))
        except ValueError as e:
            raise SonataFormatError(p, f"line {n}", "a well-formed spikes CSV line", str(e)) from e
    header = rows[0]
    if "timestamps" in header and ("node_ids" in header or "node_id" in header or "gids" in header):
        ti = header.index("timestamps")
        ni = next(header.index(h) for h in ("node_ids", "node_id", "gids") if h in header)
        pi = header.index("population") if "population" in header else None
        body = rows[1:]
    else:
        ti, ni, pi = 0, 1, None
        body = rows
        if len(header) < 2:
            raise SonataFormatError(p, f"line {lines[0][0]}", "a header 'timestamps population node_ids' or two fields "
                                    "(time, node id) per line", f"{len(header)} field")
    width = len(header)
    first = len(rows) - len(body)
    for k, r in enumerate(body):
        if len(r) != width:
            raise SonataFormatError(p, f"line {lines[first + k][0]}", f"{width} fields", f"{len(r)} fields")
    try:
        ts = np.array([float(r[ti]) for r in body], dtype=np.float64)
        ids_f = [r[ni] for r in body]
        ids = np.array([int(x) for x in ids_f], dtype=np.int64)
    except (ValueError, OverflowError) as e:
        raise SonataFormatError(p, "timestamps/node_ids", "numeric spike times and integer node ids", str(e)) from e
    if ids.size and ids.min() < 0:
        raise SonataFormatError(p, "node_ids", "non-negative node ids", str(int(ids.min())))
    pops = np.array([r[pi] for r in body], dtype=object) if pi is not None else np.array([None] * len(body))
    out: dict[str | None, SpikePopulation] = {}
    for name in dict.fromkeys(pops.tolist()):
        m = pops == name
        out[name] = SpikePopulation(name, ids[m], ts[m], "none")
    return out


def sort_spikes(node_ids: np.ndarray, timestamps: np.ndarray, sort: str) -> tuple[np.ndarray, np.ndarray]:
    """Order spikes ``by_time`` (then id), ``by_id`` (then time) or leave them (``none``).

    Parameters
    ----------
    node_ids : ndarray
        Node id of each spike.
    timestamps : ndarray
        Spike times in ms.
    sort : str
        ``by_time``, ``by_id`` or ``none``.
    """
    s = _SORTING_ALIASES.get(sort)
    if s is None:
        raise ValueError(f"sort must be one of by_time, by_id, none; got {sort!r}")
    if s == "none":
        return node_ids, timestamps
    order = np.lexsort((node_ids, timestamps)) if s == "by_time" else np.lexsort((timestamps, node_ids))
    return node_ids[order], timestamps[order]


def _normalize_input(spikes: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    items = spikes.items() if isinstance(spikes, Mapping) else [(sp.population, sp) for sp in spikes]
    for name, v in items:
        if not isinstance(name, str) or not name:
            raise ValueError(f"spike populations need a name, got {name!r}")
        if isinstance(v, SpikePopulation):
            ids, ts = v.node_ids, v.timestamps
        else:
            ids, ts = v
        ids = np.asarray(ids)
        ts = np.asarray(ts, dtype=np.float64)
        if ids.shape != ts.shape or ids.ndim != 1:
            raise ValueError(f"population {name!r}: node_ids and timestamps must be 1-D of equal length")
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0):
            raise ValueError(f"population {name!r}: node ids must be non-negative integers")
        out[name] = (ids.astype(np.int64, copy=False), ts)
    return out


def write_spikes(path: PathLike, spikes: SpikesLike, *, sort: str = "by_time", overwrite: bool = False,
                 stop_time: float | None = None) -> None:
    """Write spikes as a spec SONATA file, atomically.

    Parameters
    ----------
    path : str or PathLike
    spikes : mapping or iterable
        ``{population: (node_ids, timestamps_ms)}`` or SpikePopulation objects.
    sort : {'by_time', 'by_id', 'none'}
        Order written, and declared in the ``sorting`` enum attribute.
    overwrite : bool
        Replace an existing file.
    stop_time : float, optional
        For a run that ended early (stopped or failed): the time (ms) up to which the file holds every
        spike (the end of the last whole block simulated), written as the ``stop_time`` attribute of
        ``/spikes`` (readers of the spec ignore it; see :func:`spikes_stop_time`).

    Raises
    ------
    OutputExistsError
    """
    data = _normalize_input(spikes)
    s = _SORTING_ALIASES.get(sort)
    if s is None:
        raise ValueError(f"sort must be one of by_time, by_id, none; got {sort!r}")
    code = {"none": 0, "by_id": 1, "by_time": 2}[s]
    with h5.atomic_output(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            h5.write_root_attrs(f)
            root = f.create_group("spikes")
            if stop_time is not None:
                root.attrs.create(STOP_TIME_ATTR, np.float64(stop_time))
            for name, (ids, ts) in data.items():
                ids, ts = sort_spikes(ids, ts, s)
                g = root.create_group(name)
                g.attrs.create("sorting", np.int8(code), dtype=h5.SORTING_ENUM)
                g.create_dataset("node_ids", data=ids.astype(np.uint64))
                d = g.create_dataset("timestamps", data=ts)
                d.attrs.create("units", "ms", dtype=h5.STR_DTYPE)


def spikes_stop_time(path: PathLike) -> float | None:
    """The time (ms) up to which a run that ended early recorded the spikes of an HDF5 spikes file.

    Parameters
    ----------
    path : str or PathLike
        A spike file written by modelkit.

    Returns
    -------
    float or None
        ``/spikes@stop_time``; None for a complete run's file, a CSV or NWB file, or a file without it.

    Raises
    ------
    SonataFormatError
        An unreadable file, or a ``stop_time`` that is not one finite number.
    """
    p = os.fspath(path)
    if os.path.splitext(p)[1].lower() in (".csv", ".txt", ".dat", ".nwb"):
        return None
    f = h5.open_h5(p, "SONATA spikes file")
    try:
        sp = h5.require_group(f, "spikes", p, "a /spikes group")
        with h5.guard(p, f"/spikes@{STOP_TIME_ATTR}", "a stop time (ms)"):
            if STOP_TIME_ATTR not in sp.attrs:
                return None
            raw = np.asarray(sp.attrs[STOP_TIME_ATTR])
    finally:
        f.close()
    if raw.size != 1 or raw.dtype.kind not in "iuf" or not np.isfinite(float(raw.ravel()[0])):
        raise SonataFormatError(p, f"/spikes@{STOP_TIME_ATTR}", "one finite time in ms", repr(raw.tolist()))
    return float(raw.ravel()[0])


def write_spikes_csv(path: PathLike, spikes: SpikesLike, *, sort: str = "by_time", overwrite: bool = False) -> None:
    """Write spikes as bmtk's CSV (``timestamps population node_ids``, space separated), atomically.

    Parameters
    ----------
    path : str or PathLike
        The CSV to write.
    spikes : mapping or iterable of SpikePopulation
        ``{population: (node_ids, timestamps_ms)}``, ``{population: SpikePopulation}`` or SpikePopulations.
    sort : str, optional
        ``by_time``, ``by_id`` or ``none``.
    overwrite : bool, optional
        Replace an existing file (else refuse it).
    """
    data = _normalize_input(spikes)
    frames = []
    for name, (ids, ts) in data.items():
        ids, ts = sort_spikes(ids, ts, sort)
        frames.append(pd.DataFrame({"timestamps": ts, "population": name, "node_ids": ids}))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"timestamps": [], "population": [], "node_ids": []})
    if _SORTING_ALIASES.get(sort) == "by_time" and len(frames) > 1:
        df = df.iloc[np.lexsort((df["node_ids"].to_numpy(), df["timestamps"].to_numpy()))]
    with h5.atomic_output(path, overwrite=overwrite) as tmp:
        df.to_csv(tmp, sep=" ", index=False, columns=["timestamps", "population", "node_ids"])
