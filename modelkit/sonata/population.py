"""What node and edge populations share: the group layout and the merge with a types table.

A SONATA population stores per-element columns in numbered groups
(``<pop>/<group_id>/<attr>``), reached through ``*_group_id`` / ``*_group_index``,
and falls back to the types CSV (``*_type_id``) for attributes a group lacks.
This module reads that layout lazily and assembles merged columns as numpy
arrays, never one Python object per element.  Population-level arrays are cached
for populations up to ``OPTIONS['cache_rows']`` elements; larger (edge)
populations are read per request, in hyperslabs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Union

import h5py
import numpy as np
import pandas as pd

from modelkit._typing import IdsLike, PathLike
from modelkit.errors import ModelkitError, SelectionError, SonataFormatError
from modelkit.options import OPTIONS
from modelkit.sonata import h5
from modelkit.sonata.groups import GroupData
from modelkit.sonata.selection import Selection
from modelkit.sonata.types_table import TypesTable

__all__ = ["GroupInfo", "Layout", "GroupedPopulation", "combine_parts", "check_names", "Rows"]

#: positions in a population: None (all, file order), a slice, or an int64 array
Rows = Union[None, slice, np.ndarray]


@dataclass(frozen=True)
class GroupInfo:
    """One numbered group of a population."""

    gid: int
    size: int | None  # length of the group's columns; None for a group without datasets
    attributes: tuple[str, ...]
    dynamics: tuple[str, ...]
    library: tuple[str, ...]  # attributes stored as @library enum codes
    has_positions: bool = False  # a 2-D ``positions`` dataset


@dataclass(frozen=True)
class Layout:
    """Population structure read from the file (no per-element arrays)."""

    size: int
    has_type_id: bool
    groups: dict[int, GroupInfo]
    other_subgroups: tuple[str, ...]
    ids: np.ndarray | None  # explicit node_id / edge_id when not 0..n-1


def _n_rows(rows: Rows, size: int) -> int:
    if rows is None:
        return size
    if isinstance(rows, slice):
        return len(range(*rows.indices(size)))
    return len(rows)


def combine_parts(n: int, parts: list[tuple[Any, np.ndarray]]) -> np.ndarray:
    """Assemble one column of length ``n`` from ``(positions, values)`` parts.

    Positions covered by no part are missing: NaN for numeric columns (ints are
    promoted to float), ``None`` for object columns.

    Parameters
    ----------
    n : int
        Length of the column.
    parts : list of tuple[Any, np.ndarray]
        ``(positions, values)`` per group.
    """
    covered = sum(n if isinstance(p, slice) else len(p) for p, _ in parts)
    vals = [v for _, v in parts if len(v)]
    if vals and all(v.dtype.kind in "biuf" for v in vals):
        dt = np.result_type(*[v.dtype for v in vals])
    elif vals:
        dt = np.dtype(object)
    else:
        kinds = [v.dtype for _, v in parts]
        dt = np.result_type(*kinds) if kinds and all(k.kind in "biuf" for k in kinds) else np.dtype(object)
    if covered < n and dt.kind in "biu":
        dt = np.dtype(np.float64)
    if len(parts) == 1 and isinstance(parts[0][0], slice):
        return parts[0][1].astype(dt, copy=False)
    out = np.empty(n, dtype=dt)
    if covered < n:
        if dt.kind == "f":
            out[:] = np.nan
        elif dt.kind == "O":
            out[:] = None
    for pos, v in parts:
        out[pos] = v
    return out


def check_names(names: str | Sequence[str] | None, what: str) -> list[str]:
    """Normalise a ``properties`` argument (str or list of str) to a list.

    Parameters
    ----------
    names : str or Sequence[str], optional
        A property name or a list of them; None for none.
    what : str
        Population, for messages.
    """
    if names is None:
        return []
    if isinstance(names, str):
        return [names]
    out = list(names)
    for n in out:
        if not isinstance(n, str):
            raise ModelkitError(f"{what}: property names must be strings, got {n!r}")
    return out


class GroupedPopulation:
    """Base of NodePopulation and EdgePopulation: lazy layout, merged columns.

    Constructors only store; the HDF5 file is opened on first use and the handle
    is dropped when pickled (a population pickles as its path, name and types).
    """

    _root = ""          # "nodes" / "edges"
    _prefix = ""        # "node" / "edge"
    _size_dataset = ""  # dataset whose length is the population size

    def __init__(self, path: PathLike, name: str, types: TypesTable | None = None) -> None:
        self.path = os.fspath(path)
        self.name = name
        self.types = types
        self._file: h5py.File | None = None
        self._layout: Layout | None = None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------ file handling
    def __getstate__(self) -> dict:
        return {"path": self.path, "name": self.name, "types": self.types}

    def __setstate__(self, st: dict) -> None:
        GroupedPopulation.__init__(self, st["path"], st["name"], st["types"])

    def _group(self) -> h5py.Group:
        with self._lock:
            if self._file is None or not self._file.id.valid:
                self._file = h5.open_h5(self.path, f"SONATA {self._root} file")
            f = self._file
        root = h5.require_group(f, self._root, self.path, f"a /{self._root} group")
        return h5.require_group(root, self.name, self.path, f"a {self._prefix} population group")

    def close(self) -> None:
        """Close the HDF5 file handle (it is reopened on next use)."""
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                except Exception:  # noqa: BLE001 - a broken handle is dropped either way
                    pass
                self._file = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def _ds_name(self, name: str) -> str:
        return f"/{self._root}/{self.name}/{name}"

    # ------------------------------------------------------------------ layout
    @property
    def layout(self) -> Layout:
        """Population structure: size, groups, explicit ids (read on first access)."""
        if self._layout is None:
            with self._lock:
                if self._layout is None:
                    self._layout = self._read_layout()
        return self._layout

    def _read_layout(self) -> Layout:
        g = self._group()
        p = self._prefix
        size_ds = h5.require_dataset(g, self._size_dataset, self.path, kind="integer")
        n = int(size_ds.shape[0])
        for nm in (f"{p}_group_id", f"{p}_group_index"):
            h5.require_dataset(g, nm, self.path, kind="integer", length=n)
        has_type = h5.has(g, f"{p}_type_id", self.path)
        if has_type or self._type_id_required():
            h5.require_dataset(g, f"{p}_type_id", self.path, kind="integer", length=n)
            has_type = True
        ids = None
        if h5.has(g, f"{p}_id", self.path):
            ds = h5.require_dataset(g, f"{p}_id", self.path, kind="integer", length=n)
            ids_ = h5.as_ids(h5.read_array(ds, self.path), self.path, ds.name)
            if not np.array_equal(ids_, np.arange(n)):
                if len(np.unique(ids_)) != n:
                    raise SonataFormatError(self.path, ds.name, f"unique {p} ids", "repeated ids")
                ids = ids_
        with h5.guard(self.path, self._ds_name(""), "a readable population group"):
            sub = [k for k in g.keys() if isinstance(g.get(k), h5py.Group)]
        numeric = sorted(int(k) for k in sub if k.isdigit() and str(int(k)) == k)
        if self._referenced_groups_only():
            used = set(np.unique(self._pop_array(f"{p}_group_id", None)).tolist())
            missing = sorted(used - set(numeric))
            if missing:
                raise SonataFormatError(self.path, self._ds_name(str(missing[0])),
                                        f"a group referenced by {p}_group_id", "nothing")
            numeric = [k for k in numeric if k in used]
        groups = {gid: self._read_group(g, gid) for gid in numeric}
        other = tuple(sorted(k for k in sub if not (k.isdigit() and int(k) in groups)))
        lay = Layout(size=n, has_type_id=has_type, groups=groups, other_subgroups=other, ids=ids)
        return lay

    def _type_id_required(self) -> bool:
        return True

    def _referenced_groups_only(self) -> bool:
        """Whether to scan the group ids up front (cheap for nodes, not for 10^8 edges)."""
        return True

    def _read_group(self, g: h5py.Group, gid: int) -> GroupInfo:
        full = self._ds_name(str(gid))
        grp = h5.require_group(g, str(gid), self.path, f"a {self._prefix} group")
        attrs, dyn, lib = [], [], []
        lengths: dict[str, int] = {}
        has_positions = False
        with h5.guard(self.path, full, "a readable group"):
            for k in list(grp.keys()):
                obj = grp.get(k)
                if isinstance(obj, h5py.Dataset):
                    if k == "positions" and obj.ndim == 2:
                        if obj.shape[1] not in (2, 3):
                            raise SonataFormatError(self.path, f"{full}/{k}", "shape (n, 3)", f"shape {obj.shape}")
                        has_positions = True
                    elif obj.ndim != 1:
                        raise SonataFormatError(self.path, f"{full}/{k}", "a 1-D column", f"shape {obj.shape}")
                    else:
                        attrs.append(k)
                    lengths[k] = obj.shape[0]
                elif k == "dynamics_params" and isinstance(obj, h5py.Group):
                    for kk in list(obj.keys()):
                        o2 = obj.get(kk)
                        if isinstance(o2, h5py.Dataset):
                            if o2.ndim != 1:
                                raise SonataFormatError(self.path, f"{full}/dynamics_params/{kk}",
                                                        "a 1-D column", f"shape {o2.shape}")
                            dyn.append(kk)
                            lengths["dynamics_params/" + kk] = o2.shape[0]
                elif k == "@library" and isinstance(obj, h5py.Group):
                    lib = [kk for kk in obj.keys() if isinstance(obj.get(kk), h5py.Dataset)]
        size = None
        if lengths:
            vals = set(lengths.values())
            if len(vals) != 1:
                raise SonataFormatError(self.path, full, "columns of equal length",
                                        f"lengths {dict(sorted(lengths.items()))}")
            size = vals.pop()
        return GroupInfo(gid=gid, size=size, attributes=tuple(sorted(attrs)), dynamics=tuple(sorted(dyn)),
                         library=tuple(sorted(a for a in lib if a in attrs)), has_positions=has_positions)

    # --------------------------------------------------- population-level arrays
    def _pop_array(self, name: str, rows: Rows) -> np.ndarray:
        """``<pop>/<name>`` (an id-like dataset) at ``rows``, as int64; cached for small populations."""
        cached = self._cache.get(name)
        if cached is None:
            g = self._group()
            ds = h5.require_dataset(g, name, self.path, kind="integer")
            n = ds.shape[0]
            if rows is None or n <= OPTIONS["cache_rows"]:
                cached = h5.as_ids(h5.read_array(ds, self.path), self.path, ds.name)
                if n <= OPTIONS["cache_rows"]:
                    self._cache[name] = cached
                if rows is None:
                    return cached
            else:
                if isinstance(rows, slice):
                    a = h5.read_array(ds, self.path, rows)
                else:
                    a = h5.read_indices(ds, rows, self.path)
                return h5.as_ids(a, self.path, ds.name)
        return cached if rows is None else cached[rows]

    # ------------------------------------------------------------------- sizes
    @property
    def size(self) -> int:
        """Number of elements in the population."""
        return self.layout.size

    def __len__(self) -> int:
        return self.size

    # ---------------------------------------------------------------- id logic
    def _all_ids(self) -> np.ndarray:
        lay = self.layout
        return np.arange(lay.size, dtype=np.int64) if lay.ids is None else lay.ids

    def _rows(self, selection: IdsLike | None) -> Rows:
        """Positions for a selection of ids (None = all, in file order)."""
        if selection is None:
            return None
        lay = self.layout
        if isinstance(selection, Selection):
            r = selection.ranges
            if lay.ids is None and len(r) == 1 and r[0, 1] <= lay.size:
                return slice(int(r[0, 0]), int(r[0, 1]))
            ids = selection.flat
        elif isinstance(selection, (int, np.integer)) and not isinstance(selection, bool):
            ids = np.array([int(selection)], dtype=np.int64)
        elif isinstance(selection, range):
            ids = np.arange(selection.start, selection.stop, selection.step, dtype=np.int64)
        else:
            ids = np.asarray(selection)
            if ids.size == 0:
                return np.empty(0, dtype=np.int64)
            if ids.dtype.kind not in "iu":
                raise SelectionError(f"{self.path}: population {self.name!r}: ids must be integers, "
                                     f"got dtype {ids.dtype}")
            ids = ids.astype(np.int64, copy=False).ravel()
        if ids.size == 0:
            return np.empty(0, dtype=np.int64)
        if lay.ids is None:
            if ids.min() < 0 or ids.max() >= lay.size:
                bad = ids[(ids < 0) | (ids >= lay.size)][:5].tolist()
                raise SelectionError(f"{self.path}: population {self.name!r}: ids {bad} outside "
                                     f"[0, {lay.size})")
            return ids
        order = np.argsort(lay.ids, kind="stable")
        k = np.searchsorted(lay.ids, ids, sorter=order)
        k = np.minimum(k, lay.size - 1)
        found = lay.ids[order[k]] == ids
        if not found.all():
            raise SelectionError(f"{self.path}: population {self.name!r}: ids "
                                 f"{ids[~found][:5].tolist()} not in the population")
        return order[k]

    def _ids_at(self, rows: Rows) -> np.ndarray:
        ids = self._all_ids() if self.layout.ids is not None else None
        if ids is None:
            if rows is None:
                return np.arange(self.layout.size, dtype=np.int64)
            if isinstance(rows, slice):
                return np.arange(*rows.indices(self.layout.size), dtype=np.int64)
            return np.asarray(rows, dtype=np.int64)
        return ids if rows is None else ids[rows]

    # --------------------------------------------------------------- attributes
    @property
    def attribute_names(self) -> list[str]:
        """Names of every attribute: group columns and types-table columns, sorted."""
        names: set[str] = set()
        for gi in self.layout.groups.values():
            names.update(gi.attributes)
        if self.types is not None:
            names.update(self.types.names)
        return sorted(names)

    @property
    def dynamics_attribute_names(self) -> list[str]:
        """Names of per-element ``dynamics_params/<name>`` overrides stored in the groups."""
        names: set[str] = set()
        for gi in self.layout.groups.values():
            names.update(gi.dynamics)
        return sorted(names)

    def _type_rows(self, rows: Rows) -> np.ndarray:
        p = self._prefix
        if not self.layout.has_type_id or self.types is None:
            raise SonataFormatError(self.path, self._ds_name(f"{p}_type_id"),
                                    "type ids and a types table to look attributes up in",
                                    "no types table" if self.layout.has_type_id else "no such dataset")
        key = "__type_rows__"
        tr = self._cache.get(key)
        if tr is None and self.size <= OPTIONS["cache_rows"]:
            tr = self.types.row_of(self._pop_array(f"{p}_type_id", None),
                                   dataset=self._ds_name(f"{p}_type_id"), data_path=self.path)
            self._cache[key] = tr
        if tr is not None:
            return tr if rows is None else tr[rows]
        return self.types.row_of(self._pop_array(f"{p}_type_id", rows),
                                 dataset=self._ds_name(f"{p}_type_id"), data_path=self.path)

    def _read_group_column(self, gid: int, name: str, idx: Any, dynamics: bool = False) -> np.ndarray:
        g = self._group()
        sub = f"{gid}/dynamics_params/{name}" if dynamics else f"{gid}/{name}"
        ds = h5.require_dataset(g, sub, self.path, kind="column", ndim=None)
        if idx is None:
            vals = h5.read_array(ds, self.path)
        elif isinstance(idx, slice):
            vals = h5.read_array(ds, self.path, idx)
            if len(vals) != len(range(*idx.indices(ds.shape[0]))) or idx.stop > ds.shape[0]:
                raise SonataFormatError(self.path, ds.name, f"at least {idx.stop} rows", f"{ds.shape[0]}")
        else:
            vals = h5.read_indices(ds, idx, self.path)
        info = self.layout.groups[gid]
        if not dynamics and name in info.library:
            lib_ds = h5.require_dataset(g, f"{gid}/@library/{name}", self.path)
            lib = h5.read_array(lib_ds, self.path)
            codes = h5.as_ids(vals, self.path, ds.name)
            if codes.size and codes.max() >= len(lib):
                raise SonataFormatError(self.path, ds.name, f"@library codes below {len(lib)}",
                                        f"code {int(codes.max())}")
            vals = np.asarray(lib, dtype=object)[codes]
        elif vals.dtype.kind == "b":
            pass
        return vals

    def _column(self, name: str, rows: Rows, *, dynamics: bool = False) -> np.ndarray:
        """Merged values of attribute ``name`` at ``rows`` (None = all rows in file order)."""
        lay = self.layout
        p = self._prefix
        n = _n_rows(rows, lay.size)
        in_types = (not dynamics) and self.types is not None and name in self.types.columns
        holders = [gid for gid, gi in lay.groups.items() if name in (gi.dynamics if dynamics else gi.attributes)]
        if not holders and not in_types:
            known = self.dynamics_attribute_names if dynamics else self.attribute_names
            raise SelectionError(f"{self.path}: population {self.name!r} has no "
                                 f"{'dynamics_params ' if dynamics else ''}attribute {name!r}; known: {known}")
        if n == 0:
            if holders:
                return combine_parts(0, [(np.empty(0, np.int64), self._read_group_column(
                    holders[0], name, slice(0, 0), dynamics))])
            return combine_parts(0, [(np.empty(0, np.int64), self.types.columns[name][:0])])  # type: ignore[union-attr]
        gids = self._pop_array(f"{p}_group_id", rows)
        gidx = self._pop_array(f"{p}_group_index", rows)
        present = np.unique(gids).tolist()
        parts: list[tuple[Any, np.ndarray]] = []
        for gid in present:
            info = lay.groups.get(gid)
            if info is None:
                raise SonataFormatError(self.path, self._ds_name(f"{p}_group_id"),
                                        f"group ids with a group in the population (have {sorted(lay.groups)})",
                                        f"group id {gid}")
            pos: Any = slice(None) if len(present) == 1 else np.flatnonzero(gids == gid)
            if gid in holders:
                sub_idx = gidx if isinstance(pos, slice) else gidx[pos]
                contiguous = sub_idx.size and sub_idx[-1] - sub_idx[0] + 1 == sub_idx.size and \
                    bool(np.all(np.diff(sub_idx) == 1))
                idx: Any = slice(int(sub_idx[0]), int(sub_idx[-1]) + 1) if contiguous else sub_idx
                parts.append((pos, self._read_group_column(gid, name, idx, dynamics)))
            elif in_types:
                trows = self._type_rows(rows)
                parts.append((pos, self.types.columns[name][trows if isinstance(pos, slice) else trows[pos]]))  # type: ignore[union-attr]
        return combine_parts(n, parts)

    def _groups_data(self) -> dict[int, GroupData]:
        """Every group's columns as stored (``@library`` codes and lists kept), for writing elsewhere."""
        g = self._group()
        groups = {}
        for gid, info in self.layout.groups.items():
            def read(sub: str, gid: int = gid) -> np.ndarray:
                return h5.read_array(h5.require_dataset(g, f"{gid}/{sub}", self.path, ndim=None), self.path)
            cols = {a: read(a) for a in info.attributes + (("positions",) if info.has_positions else ())}
            dyn = {d: read(f"dynamics_params/{d}") for d in info.dynamics}
            lib = {a: read(f"@library/{a}").tolist() for a in info.library}
            groups[gid] = GroupData(cols, dyn, lib, size=info.size)
        return groups

    def _frame(self, names: list[str], rows: Rows, index_name: str,
               special: dict[str, Any] | None = None) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for nm in names:
            if special and nm in special:
                data[nm] = special[nm](rows)
            else:
                data[nm] = self._column(nm, rows)
        return pd.DataFrame(data, index=pd.Index(self._ids_at(rows), name=index_name))
