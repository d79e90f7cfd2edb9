"""Streaming edge writer: append edges chunk by chunk, indices built on close.

A builder generating 10^8 edges never holds them all: it appends chunks
(source ids, target ids, edge types, group columns) as they are produced, and
:meth:`EdgeWriter.close` builds both indices from the datasets on disk, one
direction at a time, then moves the file into place atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from modelkit._typing import DTypeLike, IdsLike, PathLike
from modelkit.errors import SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.groups import column_for_h5
from modelkit.sonata.index import index_runs_chunked, write_index

__all__ = ["EdgeWriter", "PopulationWriter"]

_CHUNK = 1 << 20  # elements per HDF5 chunk of the growing datasets


def _growing(g: h5py.Group, name: str, dtype: DTypeLike, shape_tail: tuple = ()) -> h5py.Dataset:
    return g.create_dataset(name, shape=(0,) + shape_tail, maxshape=(None,) + shape_tail, dtype=dtype,
                            chunks=(max(1, _CHUNK // max(1, int(np.prod(shape_tail or (1,))))),) + shape_tail)


def _append(ds: h5py.Dataset, values: np.ndarray) -> None:
    n = ds.shape[0]
    k = len(values)
    if k == 0:
        return
    ds.resize((n + k,) + ds.shape[1:])
    ds[n:n + k] = values


class _Column:
    """A growing dataset written in whole chunks.

    Appends go through a one-chunk buffer, so every write to the file covers whole
    chunks: HDF5 then writes them directly, instead of reading back, patching and
    rewriting a chunk (larger than its chunk cache) at every append that ends inside it.
    """

    __slots__ = ("ds", "chunk", "buf", "fill")

    def __init__(self, ds: h5py.Dataset) -> None:
        self.ds = ds
        self.chunk = int(ds.chunks[0])
        self.buf: np.ndarray | None = None
        self.fill = 0

    def push(self, values: np.ndarray) -> None:
        k = len(values)
        pos = 0
        c = self.chunk
        if self.fill:
            take = min(k, c - self.fill)
            self.buf[self.fill:self.fill + take] = values[:take]  # type: ignore[index]
            self.fill += take
            pos = take
            if self.fill == c:
                _append(self.ds, self.buf)  # type: ignore[arg-type]
                self.fill = 0
        whole = (k - pos) // c * c
        if whole:
            _append(self.ds, values[pos:pos + whole])
            pos += whole
        if pos < k:
            if self.buf is None:
                self.buf = np.empty((c,) + self.ds.shape[1:], dtype=values.dtype if values.dtype == object
                                    else self.ds.dtype)
            self.buf[:k - pos] = values[pos:]
            self.fill = k - pos

    def flush(self) -> None:
        if self.fill:
            _append(self.ds, self.buf[:self.fill])  # type: ignore[index]
            self.fill = 0
        self.buf = None


def _create_column(sub: h5py.Group, col: str, dt: Any) -> h5py.Dataset:
    if dt is str or np.dtype(dt).kind in "OUS":
        return _growing(sub, col, h5.STR_DTYPE)
    return _growing(sub, col, np.dtype(dt) if np.dtype(dt).kind != "b" else np.int8)


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
    _cols: dict[str, _Column] = field(default_factory=dict)

    def _col(self, path: str) -> _Column:
        c = self._cols.get(path)
        if c is None:
            c = self._cols[path] = _Column(self.group[path])
        return c

    def append(self, source_ids: IdsLike, target_ids: IdsLike, edge_type_ids: IdsLike, group_ids: IdsLike,
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
        et = np.asarray(edge_type_ids, dtype=np.int64)
        gid = np.asarray(group_ids, dtype=np.int64)
        for nm, a in (("edge_type_id", et), ("edge_group_id", gid)):
            if a.ndim and a.shape != (n,):
                raise SonataFormatError(self.path, f"{where}/{nm}", f"{n} values or one", f"shape {a.shape}")
        for nm, ids, limit in (("source_node_id", src, self.source_node_count),
                               ("target_node_id", tgt, self.target_node_count)):
            if n and (ids.min() < 0 or ids.max() >= limit):
                raise SonataFormatError(self.path, f"{where}/{nm}", f"node ids in [0, {limit})",
                                        f"{int(ids.min())}..{int(ids.max())}")
        if n == 0:
            return
        # the groups of the chunk: one (a scalar, or all equal) without a pass over a hash table
        one: int | None
        if gid.ndim == 0:
            one = int(gid)
        else:
            lo, hi = int(gid.min()), int(gid.max())
            one = lo if lo == hi else None
        keys = [one] if one is not None else np.unique(gid).tolist()
        columns = columns or {}
        for k in keys:
            if k not in self.group_columns:
                raise SonataFormatError(self.path, f"{where}/edge_group_id",
                                        f"declared groups {sorted(self.group_columns)}", f"group {k}")
        self._col("source_node_id").push(src.view(np.uint64))
        self._col("target_node_id").push(tgt.view(np.uint64))
        self._col("edge_type_id").push(np.full(n, et, np.uint32) if et.ndim == 0 else et.astype(np.uint32))
        self._col("edge_group_id").push(np.full(n, gid, np.uint32) if gid.ndim == 0 else gid.astype(np.uint32))
        if one is not None:
            start = self._group_rows.get(one, 0)
            gidx = np.arange(start, start + n, dtype=np.uint64)
        else:
            gidx = np.empty(n, dtype=np.uint64)
        for k in keys:
            rows = None if one is not None else np.flatnonzero(gid == k)
            m = n if rows is None else len(rows)
            start = self._group_rows.get(k, 0)
            if rows is not None:
                gidx[rows] = np.arange(start, start + m, dtype=np.uint64)
            self._group_rows[k] = start + m
            given = columns.get(k, {})
            missing = set(self.group_columns[k]) - set(given)
            extra = set(given) - set(self.group_columns[k])
            if missing or extra:
                raise SonataFormatError(self.path, f"{where}/{k}", f"columns {sorted(self.group_columns[k])}",
                                        f"columns {sorted(given)}")
            for col, vals in given.items():
                a = column_for_h5(vals, f"{where}/{k}/{col}")
                if len(a) != m:
                    raise SonataFormatError(self.path, f"{where}/{k}/{col}", f"{m} values (edges of group {k})",
                                            str(len(a)))
                self._column(k, col, a).push(a)
        self._col("edge_group_index").push(gidx)
        self.n_edges += n

    def _column(self, gid: int, col: str, values: np.ndarray) -> _Column:
        """The dataset of a group column; one declared without a dtype is created from its first values
        (strings stay strings, numbers become float64, as bmtk stores undeclared properties)."""
        path = f"{gid}/{col}"
        if path not in self._cols:
            sub = self.group[str(gid)]
            if col not in sub:
                dt = self.group_columns[gid][col]
                if dt is None:
                    dt = str if values.dtype == object else np.float64
                _create_column(sub, col, dt)
        return self._col(path)

    def _finish(self) -> None:
        g = self.group
        for c in self._cols.values():
            c.flush()
        self._cols.clear()
        for gid, spec in self.group_columns.items():
            for col, dt in spec.items():
                if col not in g[str(gid)]:
                    _create_column(g[str(gid)], col, np.float64 if dt is None else dt)
        ig = g.create_group("indices")

        def build(ds_name: str, n_nodes: int) -> tuple[np.ndarray, Any]:
            ds = g[ds_name]
            # ids read back block by block: 10^8 edges never need their 800 MB of ids in memory at once
            return index_runs_chunked(lambda lo, hi: ds[lo:hi], self.n_edges, n_nodes)

        # The source index (a sort: sources are unsorted in a file sorted by target) is built on a
        # second thread while this one builds and writes the target index; numpy and HDF5 release the GIL.
        with ThreadPoolExecutor(1, thread_name_prefix="modelkit-index") as ex:
            jobs = {"source_to_target": ex.submit(build, "source_node_id", self.source_node_count)}
            for direction, ds_name, n_nodes in (("target_to_source", "target_node_id", self.target_node_count),
                                                ("source_to_target", "source_node_id", self.source_node_count)):
                job = jobs.pop(direction, None)
                n2r, runs = job.result() if job is not None else build(ds_name, n_nodes)
                write_index(ig, direction, n2r, runs, executor=ex)
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

    def __init__(self, path: PathLike, *, overwrite: bool = False) -> None:
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

        Parameters
        ----------
        name : str
            Edge population name.
        source_population, target_population : str
            Node populations the edges come from and go to.
        source_node_count, target_node_count : int
            Sizes of those populations (they size the source and target indexes).
        groups : mapping
            ``{group_id: {column: dtype}}``; a dtype of ``str`` for strings, None to take it from the first values.
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
        """Discard the temporary file.

        Parameters
        ----------
        exc : BaseException, optional
            The error that stopped the writing, if any (not used beyond the signature of ``__exit__``).
        """
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
