"""Streaming edge writer: append edges chunk by chunk, indices built on close.

A builder generating 10^8 edges never holds them all: it appends chunks
(source ids, target ids, edge types, group columns) as they are produced, and
:meth:`EdgeWriter.close` builds both indices from the datasets on disk, one
direction at a time, then moves the file into place atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from modelkit.errors import SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.groups import column_for_h5
from modelkit.sonata.index import index_runs

__all__ = ["EdgeWriter", "PopulationWriter"]

_CHUNK = 1 << 20  # elements per HDF5 chunk of the growing datasets


def _growing(g: h5py.Group, name: str, dtype: Any, shape_tail: tuple = ()) -> h5py.Dataset:
    return g.create_dataset(name, shape=(0,) + shape_tail, maxshape=(None,) + shape_tail, dtype=dtype,
                            chunks=(max(1, _CHUNK // max(1, int(np.prod(shape_tail or (1,))))),) + shape_tail)


def _append(ds: h5py.Dataset, values: np.ndarray) -> None:
    n = ds.shape[0]
    k = len(values)
    if k == 0:
        return
    ds.resize((n + k,) + ds.shape[1:])
    ds[n:n + k] = values


def _create_column(sub: h5py.Group, col: str, dt: Any) -> None:
    if dt is str or np.dtype(dt).kind in "OUS":
        _growing(sub, col, h5.STR_DTYPE)
    else:
        _growing(sub, col, np.dtype(dt) if np.dtype(dt).kind != "b" else np.int8)


@dataclass
class PopulationWriter:
    """Appends edges to one population; obtained from :meth:`EdgeWriter.add_population`."""

    group: h5py.Group
    name: str
    path: Any
    source_node_count: int
    target_node_count: int
    group_columns: dict[int, dict[str, Any]]
    n_edges: int = 0
    _group_rows: dict[int, int] = field(default_factory=dict)
    _str_cols: set = field(default_factory=set)

    def append(self, source_ids: Any, target_ids: Any, edge_type_ids: Any, group_ids: Any,
               columns: Mapping[int, Mapping[str, Any]] | None = None) -> None:
        """Append a chunk of edges.

        Parameters
        ----------
        source_ids, target_ids : array of int
            Node ids, one per edge.
        edge_type_ids : array of int or int
            One per edge, or one for the whole chunk.
        group_ids : array of int or int
            Group of each edge (or one for the chunk); every group was declared in ``add_population``.
        columns : dict
            ``{group_id: {column: values}}`` with one value per edge of that group, in chunk order.

        Raises
        ------
        SonataFormatError
            Lengths disagree, an undeclared group or column, ids outside the node populations.
        """
        where = f"/edges/{self.name}"
        src = np.asarray(source_ids, dtype=np.int64).ravel()
        tgt = np.asarray(target_ids, dtype=np.int64).ravel()
        n = len(src)
        if len(tgt) != n:
            raise SonataFormatError(self.path, f"{where}/target_node_id", f"{n} ids (as source_node_id)", str(len(tgt)))
        et = np.broadcast_to(np.asarray(edge_type_ids, dtype=np.int64), (n,))
        gid = np.broadcast_to(np.asarray(group_ids, dtype=np.int64), (n,))
        for nm, ids, limit in (("source_node_id", src, self.source_node_count),
                               ("target_node_id", tgt, self.target_node_count)):
            if n and (ids.min() < 0 or ids.max() >= limit):
                raise SonataFormatError(self.path, f"{where}/{nm}", f"node ids in [0, {limit})",
                                        f"{int(ids.min())}..{int(ids.max())}")
        g = self.group
        _append(g["source_node_id"], src.view(np.uint64))
        _append(g["target_node_id"], tgt.view(np.uint64))
        _append(g["edge_type_id"], et.astype(np.uint32))
        _append(g["edge_group_id"], gid.astype(np.uint32))
        gidx = np.empty(n, dtype=np.uint64)
        columns = columns or {}
        for k in np.unique(gid).tolist():
            if k not in self.group_columns:
                raise SonataFormatError(self.path, f"{where}/edge_group_id",
                                        f"declared groups {sorted(self.group_columns)}", f"group {k}")
            rows = np.flatnonzero(gid == k)
            start = self._group_rows.get(k, 0)
            gidx[rows] = np.arange(start, start + len(rows), dtype=np.uint64)
            self._group_rows[k] = start + len(rows)
            given = columns.get(k, {})
            missing = set(self.group_columns[k]) - set(given)
            extra = set(given) - set(self.group_columns[k])
            if missing or extra:
                raise SonataFormatError(self.path, f"{where}/{k}", f"columns {sorted(self.group_columns[k])}",
                                        f"columns {sorted(given)}")
            for col, vals in given.items():
                a = column_for_h5(vals, f"{where}/{k}/{col}")
                if len(a) != len(rows):
                    raise SonataFormatError(self.path, f"{where}/{k}/{col}", f"{len(rows)} values (edges of group {k})",
                                            str(len(a)))
                _append(self._column_dataset(k, col, a), a)
        _append(g["edge_group_index"], gidx)
        self.n_edges += n

    def _column_dataset(self, gid: int, col: str, values: np.ndarray) -> h5py.Dataset:
        """The dataset of a group column; one declared without a dtype is created from its first values
        (strings stay strings, numbers become float64, as bmtk stores undeclared properties)."""
        sub = self.group[str(gid)]
        if col not in sub:
            dt = self.group_columns[gid][col]
            if dt is None:
                dt = str if values.dtype == object else np.float64
            _create_column(sub, col, dt)
        return sub[col]

    def _finish(self) -> None:
        g = self.group
        for gid, spec in self.group_columns.items():
            for col, dt in spec.items():
                if col not in g[str(gid)]:
                    _create_column(g[str(gid)], col, np.float64 if dt is None else dt)
        ig = g.create_group("indices")
        for direction, ds_name, n_nodes in (("target_to_source", "target_node_id", self.target_node_count),
                                            ("source_to_target", "source_node_id", self.source_node_count)):
            ids = g[ds_name][()].view(np.int64)
            n2r, runs = index_runs(ids, n_nodes)
            del ids
            d = ig.create_group(direction)
            d.create_dataset("node_id_to_ranges", data=n2r)
            # bmtk's reader (<= 1.2) opens only the misspelt name, libsonata only the spec one
            d["node_id_to_range"] = d["node_id_to_ranges"]
            runs.write_to(d.create_dataset("range_to_edge_id", shape=(runs.n_rows, 2), dtype=np.uint64))
            del n2r, runs


class EdgeWriter:
    """Write SONATA edge populations chunk by chunk (spec layout, both indices, atomic).

    Examples
    --------
    >>> with EdgeWriter("v1_v1_edges.h5") as w:                                  # doctest: +SKIP
    ...     p = w.add_population("v1_to_v1", "v1", "v1", 1000, 1000, {0: {"syn_weight": np.float64}})
    ...     p.append(src, tgt, 100, 0, {0: {"syn_weight": weights}})

    Parameters
    ----------
    path : str or PathLike
    overwrite : bool
        Replace an existing file (default: refuse).
    """

    def __init__(self, path: Any, *, overwrite: bool = False) -> None:
        self.path = path
        self.overwrite = overwrite
        self._stack: contextlib.ExitStack | None = None
        self._file: h5py.File | None = None
        self._pops: dict[str, PopulationWriter] = {}

    def open(self) -> "EdgeWriter":
        """Create the temporary file."""
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(h5.atomic_output(self.path, overwrite=self.overwrite))
        self._file = h5py.File(tmp, "w-")
        h5.write_root_attrs(self._file)
        self._file.create_group("edges")
        return self

    def add_population(self, name: str, source_population: str, target_population: str, source_node_count: int,
                       target_node_count: int, groups: Mapping[int, Mapping[str, Any]]) -> PopulationWriter:
        """Declare a population and its groups' columns (``{group_id: {column: dtype}}``).

        A dtype may be ``str`` for strings, or None to take it from the first values appended
        (float64 for numbers, strings for strings).
        """
        if self._file is None:
            raise RuntimeError("EdgeWriter is not open")
        if name in self._pops:
            raise SonataFormatError(self.path, f"/edges/{name}", "unique population names", "a duplicate")
        g = self._file["edges"].create_group(name)
        for nm, pop in (("source_node_id", source_population), ("target_node_id", target_population)):
            ds = _growing(g, nm, np.uint64)
            ds.attrs.create("node_population", pop, dtype=h5.STR_DTYPE)
        _growing(g, "edge_type_id", np.uint32)
        _growing(g, "edge_group_id", np.uint32)
        _growing(g, "edge_group_index", np.uint64)
        cols: dict[int, dict[str, Any]] = {}
        for gid, spec in groups.items():
            sub = g.create_group(str(int(gid)))
            cols[int(gid)] = dict(spec)
            for col, dt in spec.items():
                if dt is not None:
                    _create_column(sub, col, dt)
        w = PopulationWriter(g, name, self.path, int(source_node_count), int(target_node_count), cols)
        self._pops[name] = w
        return w

    def close(self) -> None:
        """Build the indices and move the file into place."""
        if self._file is None or self._stack is None:
            return
        try:
            for p in self._pops.values():
                p._finish()
            self._file.close()
            self._file = None
        except BaseException as e:
            self.abort(e)
            raise
        stack, self._stack = self._stack, None
        stack.close()

    def abort(self, exc: BaseException | None = None) -> None:
        """Discard the temporary file."""
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        if self._stack is not None:
            stack, self._stack = self._stack, None
            err = exc or RuntimeError("aborted")
            with contextlib.suppress(BaseException):
                stack.__exit__(type(err), err, None)

    def __enter__(self) -> "EdgeWriter":
        return self.open()

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        if et is None:
            self.close()
        else:
            self.abort(ev)
