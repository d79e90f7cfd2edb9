"""In-memory group columns for writing populations, and the group writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from modelkit._typing import ArrayLike
from modelkit.errors import SonataFormatError
from modelkit.sonata.h5 import STR_DTYPE

__all__ = ["GroupData", "write_group", "column_for_h5"]


@dataclass
class GroupData:
    """The columns of one numbered group, ready to write.

    Parameters
    ----------
    columns : dict of str to ndarray
        Per-element attributes (1-D; ``positions`` may be (n, 3)).
    dynamics_params : dict of str to ndarray
        Per-element model-parameter overrides, written under ``dynamics_params/``.
    library : dict of str to sequence of str
        ``@library`` enums: ``columns[name]`` then holds integer codes into the list.
    size : int or None
        Rows of a group without columns (virtual nodes); inferred otherwise.
    """

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    dynamics_params: dict[str, np.ndarray] = field(default_factory=dict)
    library: dict[str, Any] = field(default_factory=dict)
    size: int | None = None

    def nrows(self) -> int:
        """Rows of the group: its columns' common length, else ``size``.

        Raises
        ------
        ValueError
            Columns of different lengths.
        """
        lens = {len(v) for v in list(self.columns.values()) + list(self.dynamics_params.values())}
        if len(lens) > 1:
            raise ValueError(f"group columns differ in length: {sorted(lens)}")
        if lens:
            return lens.pop()
        return int(self.size or 0)


def column_for_h5(values: ArrayLike, where: str) -> np.ndarray:
    """Convert a column to a dtype HDF5 stores as SONATA expects (strings as UTF-8, bool as int8).

    Parameters
    ----------
    values : array-like
        One value per element.
    where : str
        Column and population, for messages.
    """
    a = np.asarray(values)
    if a.dtype.kind == "b":
        return a.astype(np.int8)
    if a.dtype.kind in "iuf":
        return a
    if a.dtype.kind in "OUS":
        flat = a.ravel().tolist()
        out = []
        for v in flat:
            if v is None:
                out.append("")
            elif isinstance(v, bytes):
                out.append(v.decode("utf-8"))
            elif isinstance(v, str):
                out.append(v)
            elif isinstance(v, (int, float, np.integer, np.floating, bool)) and a.dtype.kind == "O":
                # a mixed object column: keep it a column of strings rather than fail half-way
                out.append(str(v))
            else:
                raise SonataFormatError(None, where, "strings or numbers", f"a {type(v).__name__}")
        return np.array(out, dtype=object).reshape(a.shape)
    raise SonataFormatError(None, where, "a numeric, boolean or string column", f"dtype {a.dtype}")


def write_group(parent: h5py.Group, gid: int, data: GroupData, where: str) -> None:
    """Write ``data`` as subgroup ``str(gid)`` of ``parent``.

    Parameters
    ----------
    parent : h5py.Group
        The population group.
    gid : int
        Group id (the subgroup's name).
    data : GroupData
        Columns and dynamics params of the group.
    where : str
        Population, for messages.
    """
    g = parent.create_group(str(gid))
    for name, vals in data.columns.items():
        arr = column_for_h5(vals, f"{where}/{gid}/{name}")
        if arr.dtype == object:
            g.create_dataset(name, data=arr, dtype=STR_DTYPE)
        else:
            g.create_dataset(name, data=arr)
    if data.dynamics_params:
        d = g.create_group("dynamics_params")
        for name, vals in data.dynamics_params.items():
            arr = column_for_h5(vals, f"{where}/{gid}/dynamics_params/{name}")
            d.create_dataset(name, data=arr, dtype=STR_DTYPE if arr.dtype == object else None)
    if data.library:
        lib = g.create_group("@library")
        for name, values in data.library.items():
            lib.create_dataset(name, data=np.array([str(v) for v in values], dtype=object), dtype=STR_DTYPE)
