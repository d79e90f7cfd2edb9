"""NWB 2 tables (``DynamicTable``) read with h5py only: the units, electrodes and intervals tables of an
extracellular-electrophysiology (ecephys, Neuropixels) session file.

An NWB 2 ``DynamicTable`` is an HDF5 group whose ``colnames`` attribute lists its columns: one dataset
each, with an ``id`` dataset of row ids; a ragged column ``c`` holds its values flat and ``c_index``
the end of each row's slice (cumulative).  Columns of object references (``electrodes``, ``group``)
and of more than one dimension are left out: the filters of bmtk's ``ecephys_probe`` input compare
scalars.  Times stay as the file stores them (seconds).
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np
import pandas as pd

from modelkit.errors import SonataFormatError
from modelkit.sonata.h5 import check_storage, open_h5

__all__ = ["read_dynamic_table", "read_ecephys_units", "read_nwb_intervals", "nwb_interval_names"]


def _values(path: str, ds: h5py.Dataset) -> np.ndarray:
    check_storage(ds, path)  # a declared 10**12 unwritten rows would be read for hours
    v = ds[()]
    if v.dtype.kind in "SO":
        v = np.array([x.decode() if isinstance(x, bytes) else x for x in v.tolist()], dtype=object)
    return v


def read_dynamic_table(path: str, group: h5py.Group, ragged: tuple[str, ...] = ()) -> pd.DataFrame:
    """One ``DynamicTable`` as a DataFrame indexed by its ``id``.

    Parameters
    ----------
    path : str
        The file (for messages).
    group : h5py.Group
        The table's group.
    ragged : tuple of str
        Ragged columns to keep, each as an object column of arrays (others are left out).

    Raises
    ------
    SonataFormatError
        No ``id`` dataset, a column whose length is not the number of rows, a ragged index that
        runs past its data.
    """
    if "id" not in group:
        raise SonataFormatError(path, group.name, "an NWB DynamicTable with an id dataset", "none")
    ids = np.asarray(_values(path, group["id"]))
    n = len(ids)
    cols: dict[str, Any] = {}
    names = group.attrs.get("colnames", ())
    for raw in np.atleast_1d(names).tolist():
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        if name not in group or not isinstance(group[name], h5py.Dataset):
            continue
        ds = group[name]
        if f"{name}_index" in group:
            if name not in ragged:
                continue
            ends = np.asarray(_values(path, group[f"{name}_index"]), dtype=np.int64)
            flat = np.asarray(_values(path, ds), dtype=float)
            if len(ends) != n or (len(ends) and (ends[-1] > len(flat) or (np.diff(ends) < 0).any())):
                raise SonataFormatError(path, f"{group.name}/{name}_index",
                                        f"{n} non-decreasing row ends within {len(flat)} values",
                                        f"{len(ends)} ends")
            cols[name] = np.split(flat, ends[:-1]) if n else []
            continue
        if ds.dtype.kind in "OV" and h5py.check_dtype(ref=ds.dtype) is not None:
            continue  # object references (electrode regions, groups)
        if ds.ndim != 1:
            continue
        if ds.shape[0] != n:
            raise SonataFormatError(path, ds.name, f"{n} rows as {group.name}/id", f"{ds.shape[0]}")
        cols[name] = _values(path, ds)
    df = pd.DataFrame({k: (pd.Series(v, dtype=object) if k in ragged else v) for k, v in cols.items()})
    df.index = pd.Index(ids, name="id")
    return df


def read_ecephys_units(path: str) -> pd.DataFrame:
    """The ``units`` table of an ecephys session NWB file, with its peak channel's electrode columns.

    As bmtk's ``ecephys_probe`` input (which reads it through pynwb): each unit's row of ``/units``
    (``spike_times`` in seconds as an array per unit, quality metrics such as ``isi_violations``,
    ``amplitude_cutoff``, ``presence_ratio``) joined on ``peak_channel_id`` with the row of the electrodes
    table (``/general/extracellular_ephys/electrodes``) of that id, which brings ``location`` (the brain
    area, e.g. ``LGd``). Columns of the units table win where both tables have one.

    Parameters
    ----------
    path : str
        An ecephys session NWB file.

    Returns
    -------
    pandas.DataFrame
        Indexed by unit id.

    Raises
    ------
    SonataFormatError
        Not HDF5, no ``/units`` table, or no ``spike_times`` in it.
    """
    with open_h5(path, "NWB ecephys session file") as f:
        if "units" not in f or not isinstance(f["units"], h5py.Group):
            raise SonataFormatError(path, "/units", "an NWB units table (sorted spikes of a session)", "none")
        units = read_dynamic_table(path, f["units"], ragged=("spike_times",))
        if "spike_times" not in units:
            raise SonataFormatError(path, "/units/spike_times", "a ragged spike_times column (s)", "none")
        el = f.get("general/extracellular_ephys/electrodes")
        electrodes = read_dynamic_table(path, el) if isinstance(el, h5py.Group) else None
    units.index.name = "unit_id"
    if electrodes is not None and "peak_channel_id" in units:
        extra = electrodes[[c for c in electrodes.columns if c not in units.columns]]
        joined = extra.reindex(units["peak_channel_id"].to_numpy())
        joined.index = units.index
        units = pd.concat([units, joined], axis=1)
    return units


def nwb_interval_names(path: str) -> list[str]:
    """Names of the tables in ``/intervals`` (stimulus presentations, trials, epochs).

    Parameters
    ----------
    path : str
        An NWB file.
    """
    with open_h5(path, "NWB file") as f:
        g = f.get("intervals")
        return sorted(k for k in g if isinstance(g[k], h5py.Group)) if isinstance(g, h5py.Group) else []


def read_nwb_intervals(path: str, name: str) -> pd.DataFrame:
    """The intervals table ``/intervals/<name>`` (``start_time``, ``stop_time`` in s, stimulus columns).

    Parameters
    ----------
    path : str
        An NWB file.
    name : str
        Table name under ``/intervals``.

    Raises
    ------
    SonataFormatError
        No such table, or one without ``start_time`` and ``stop_time``.
    """
    with open_h5(path, "NWB file") as f:
        g = f.get(f"intervals/{name}")
        if not isinstance(g, h5py.Group):
            raise SonataFormatError(path, f"/intervals/{name}", "an intervals table of that name",
                                    f"tables {nwb_interval_names(path)}")
        df = read_dynamic_table(path, g)
    for c in ("start_time", "stop_time"):
        if c not in df:
            raise SonataFormatError(path, f"/intervals/{name}/{c}", "start_time and stop_time columns (s)", "none")
    return df
