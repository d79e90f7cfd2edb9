"""Edge populations: lazy hyperslab reads, afferent/efferent queries, and writing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
import pandas as pd

from modelkit._typing import ArrayLike, DTypeLike, IdsLike, PathLike
from modelkit.errors import SonataFormatError
from modelkit.options import OPTIONS
from modelkit.sonata import h5
from modelkit.sonata.groups import GroupData, write_group
from modelkit.sonata.index import DIRECTIONS, EdgeIndex, find_index_group, index_runs, write_index
from modelkit.sonata.population import GroupedPopulation, check_names
from modelkit.sonata.selection import Selection
from modelkit.sonata.types_table import TypesTable

__all__ = ["EdgePopulation", "EdgePopulationData", "write_edges", "check_edge_values", "edge_value_problem",
           "SIMULATED_EDGE_VALUES"]

#: |syn_weight| above which a weight is refused: 10^9 pA / nS (NEST), µS (NEURON) or mV (population models)
#: is beyond any synapse, and such values overflow the membrane equations into inf/NaN without an error
MAX_ABS_WEIGHT = 1e9
#: synapses per edge: NEURON places one point process per synapse, so 10^12 would exhaust memory
MAX_NSYNS = 1e6
#: ms; a delay this long never arrives in any run (NEST counts delays in steps and overflows on 1e300)
MAX_DELAY = 1e9

#: the edge values a run turns into synapses, checked where they are read (NEST, NEURON) and by validate()
SIMULATED_EDGE_VALUES = ("syn_weight", "nsyns", "delay", "afferent_section_id", "afferent_section_pos", "sec_id",
                         "sec_x")


def edge_value_problem(name: str, values: ArrayLike) -> tuple[str, np.ndarray] | None:
    """What a run needs of an edge value column, and which values break it.

    NULL (NaN) is allowed for ``syn_weight`` (a weight function may give it; without one the
    backends refuse it), ``nsyns`` (one synapse, as in bmtk) and the explicit synapse location
    (``afferent_section_id`` / ``afferent_section_pos``, bmtk's ``sec_id`` / ``sec_x``: placed by
    ``target_sections`` instead); a delay must be given.

    Parameters
    ----------
    name : str
        A name of :data:`SIMULATED_EDGE_VALUES` (other names have no rule: None).
    values : array_like
        The values (weights in the backend's unit, synapse counts, delays in ms).

    Returns
    -------
    (expected, bad) or None
        What was expected, and the positions of the values that are not; None when all are fine.
    """
    if name not in SIMULATED_EDGE_VALUES:
        return None
    a = np.asarray(values)
    if a.dtype.kind not in "biuf":
        try:
            a = a.astype(float)
        except (TypeError, ValueError):
            bad = np.flatnonzero([not _is_number(v) for v in a.ravel()])
            return "numbers", bad
    a = a.astype(float, copy=False).ravel()
    with np.errstate(invalid="ignore"):
        if name == "syn_weight":
            expected = f"finite weights with |w| <= {MAX_ABS_WEIGHT:g}"
            bad_mask = np.isinf(a) | (np.abs(a) > MAX_ABS_WEIGHT)
        elif name == "nsyns":
            expected = f"whole synapse counts from 0 to {MAX_NSYNS:g}"
            bad_mask = ~np.isnan(a) & ~((a >= 0) & (a <= MAX_NSYNS) & (a == np.round(a)))
        elif name in ("afferent_section_id", "sec_id"):  # NULL: the synapse is placed by target_sections
            expected = "whole section indices >= 0"
            bad_mask = ~np.isnan(a) & ~((a >= 0) & (a == np.round(a)))
        elif name in ("afferent_section_pos", "sec_x"):
            expected = "positions along the section from 0 to 1"
            bad_mask = ~np.isnan(a) & ~((a >= 0) & (a <= 1))
        else:
            expected = f"a delay for every edge, finite, from 0 to {MAX_DELAY:g} ms"
            bad_mask = ~((a >= 0) & (a <= MAX_DELAY))
    bad = np.flatnonzero(bad_mask)
    return (expected, bad) if bad.size else None


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def check_edge_values(name: str, values: ArrayLike, path: PathLike | None, dataset: str,
                      ids: IdsLike | None = None) -> None:
    """Raise when an edge value column holds what no simulator can use (see :func:`edge_value_problem`).

    Parameters
    ----------
    name : str
        The column (``syn_weight``, ``nsyns``, ``delay``; others pass).
    values : array_like
        Its values.
    path : str
        The file they were read from (edges HDF5 or edge-types CSV).
    dataset : str
        Where in it (``/edges/<pop>/<group>/<name>``, or the CSV column and row).
    ids : array_like, optional
        Edge ids (or edge type ids) of ``values``, named in the message.

    Raises
    ------
    SonataFormatError
        Infinite or absurd weights, negative / fractional / absurd synapse counts, NULL, negative,
        infinite or absurd delays, negative or fractional section indices, positions outside [0, 1].
    """
    problem = edge_value_problem(name, values)
    if problem is None:
        return
    expected, bad = problem
    vals = np.asarray(values).ravel()[bad[:3]].tolist()
    found = f"{vals}"
    if ids is not None:
        found += f" at {'ids' if len(bad) > 1 else 'id'} {np.asarray(ids).ravel()[bad[:3]].tolist()}"
    if len(bad) > 3:
        found += f" ({len(bad)} values)"
    raise SonataFormatError(path, dataset, expected, found)


class EdgePopulation(GroupedPopulation):
    """One edge population of a SONATA edges file.

    Source and target ids are read in hyperslabs when asked for; the population
    is never loaded whole.  Afferent/efferent queries use the file's
    ``target_to_source`` / ``source_to_target`` index when present, else an index
    built in memory on first use.

    Parameters
    ----------
    path : str or PathLike
        The edges HDF5 file.
    name : str
        Population name (``/edges/<name>``).
    types : TypesTable, optional
        The edge-types table paired with the file.
    """

    _root = "edges"
    _prefix = "edge"
    _size_dataset = "source_node_id"

    def __init__(self, path: PathLike, name: str, types: TypesTable | None = None) -> None:
        super().__init__(path, name, types)
        self._index: dict[str, EdgeIndex] = {}
        self._pops: tuple[str | None, str | None] | None = None
        self._id_datasets: dict[str, h5py.Dataset] = {}  # open handles of the id datasets, for small queries

    def __setstate__(self, st: dict) -> None:
        EdgePopulation.__init__(self, st["path"], st["name"], st["types"])

    def _type_id_required(self) -> bool:
        return False  # edge_index_example.h5 has none; validate() reports it

    def _referenced_groups_only(self) -> bool:
        return self.size_hint() <= OPTIONS["cache_rows"]

    def size_hint(self) -> int:
        """Number of edges, from the length of ``source_node_id`` (reads no per-edge data)."""
        g = self._group()
        ds = h5.require_dataset(g, "source_node_id", self.path, kind="integer")
        return int(ds.shape[0])

    def _read_layout(self):  # type: ignore[override]
        lay = super()._read_layout()
        g = self._group()
        h5.require_dataset(g, "target_node_id", self.path, kind="integer", length=lay.size)
        return lay

    # ------------------------------------------------------------ populations
    def _node_populations(self) -> tuple[str | None, str | None]:
        if self._pops is None:
            g = self._group()
            out = []
            for nm in ("source_node_id", "target_node_id"):
                ds = h5.require_dataset(g, nm, self.path, kind="integer")
                with h5.guard(self.path, f"{ds.name}@node_population", "a string attribute"):
                    v = ds.attrs.get("node_population")
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "replace")
                elif isinstance(v, np.ndarray) and v.size == 1:
                    v = v.ravel()[0]
                    v = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                out.append(v if isinstance(v, str) else None)
            self._pops = (out[0], out[1])
        return self._pops

    @property
    def source(self) -> str | None:
        """Name of the source node population (``node_population`` attribute), None if absent."""
        return self._node_populations()[0]

    @property
    def target(self) -> str | None:
        """Name of the target node population, None if absent."""
        return self._node_populations()[1]

    # -------------------------------------------------------------- id arrays
    def _id_dataset(self, name: str) -> h5py.Dataset:
        ds = self._id_datasets.get(name)
        if ds is None or not ds.id.valid:  # first use, or the file was closed since
            ds = h5.require_dataset(self._group(), name, self.path, kind="integer")
            self._id_datasets[name] = ds
        return ds

    def _ids(self, name: str, selection: IdsLike | None) -> np.ndarray:
        ds = self._id_dataset(name)
        if selection is None:
            a = h5.read_array(ds, self.path)
        elif isinstance(selection, Selection) and self.layout.ids is None:
            r = selection.ranges
            if len(r) and r[-1, 1] > ds.shape[0]:
                raise SonataFormatError(self.path, ds.name, f"edge ids below {ds.shape[0]}", f"{int(r[-1, 1]) - 1}")
            if len(r) == 1:  # one hyperslab (a node's afferent edges): skip the generic range reader
                lo, hi = r[0].tolist()
                with h5.guard(self.path, self._ds_name(name)):
                    a = ds[lo:hi]
            else:
                a = h5.read_ranges(ds, r, self.path)
        else:
            rows = self._rows(selection)
            if rows is None:
                a = h5.read_array(ds, self.path)
            elif isinstance(rows, slice):
                a = h5.read_array(ds, self.path, rows)
            else:
                a = h5.read_indices(ds, rows, self.path)
        return h5.as_ids(a, self.path, self._ds_name(name))

    def source_ids(self, selection: IdsLike | None = None) -> np.ndarray:
        """``source_node_id`` of the selected edges (all when omitted), int64.

        Parameters
        ----------
        selection : array-like of int or Selection, optional
            Edge ids; all when omitted.
        """
        return self._ids("source_node_id", selection)

    def target_ids(self, selection: IdsLike | None = None) -> np.ndarray:
        """``target_node_id`` of the selected edges (all when omitted), int64.

        Parameters
        ----------
        selection : array-like of int or Selection, optional
            As in :meth:`source_ids`.
        """
        return self._ids("target_node_id", selection)

    def type_ids(self, selection: IdsLike | None = None) -> np.ndarray:
        """``edge_type_id`` of the selected edges, int64.

        Parameters
        ----------
        selection : array-like of int or Selection, optional
            As in :meth:`source_ids`.
        """
        return self._ids("edge_type_id", selection)

    @property
    def edge_ids(self) -> np.ndarray:
        """All edge ids (0..n-1 unless the file has ``edge_id``)."""
        return self._all_ids()

    def type_counts(self) -> dict[int, int]:
        """Number of edges per ``edge_type_id`` (read in hyperslabs)."""
        counts: dict[int, int] = {}
        if not self.layout.has_type_id:
            return counts
        for sl in self._chunks():
            u, c = np.unique(self._pop_array("edge_type_id", sl), return_counts=True)
            for k, v in zip(u.tolist(), c.tolist()):
                counts[k] = counts.get(k, 0) + v
        return dict(sorted(counts.items()))

    # --------------------------------------------------------------- columns
    _SPECIAL = ("source_node_id", "target_node_id", "edge_type_id")

    def get(self, properties: str | Sequence[str] | None = None, selection: IdsLike | None = None) -> pd.DataFrame:
        """Edge attributes as a DataFrame indexed by ``edge_id``.

        Parameters
        ----------
        properties : str or list of str, optional
            Attribute names; ``source_node_id``, ``target_node_id`` and ``edge_type_id``
            are accepted too.  All attributes when omitted.
        selection : Selection or ids, optional
            Edge ids; all edges when omitted (mind the memory on 10^8 edges:
            :meth:`iter_chunks` streams them).

        Returns
        -------
        pandas.DataFrame
        """
        names = check_names(properties, f"{self.path}: population {self.name!r}")
        if properties is None:
            names = ["source_node_id", "target_node_id"] + (["edge_type_id"] if self.layout.has_type_id else []) \
                + self.attribute_names
        rows = self._rows(selection)
        special = {k: (lambda r, k=k: self._pop_array(k, r)) for k in self._SPECIAL}
        return self._frame(names, rows, "edge_id", special)

    def column(self, name: str, selection: IdsLike | None = None) -> np.ndarray:
        """One merged attribute (or source/target/type id) of the selected edges.

        Parameters
        ----------
        name : str
            Attribute name, or ``source_node_id`` / ``target_node_id`` / ``edge_type_id``.
        selection : array-like of int or Selection, optional
            Edge ids; all when omitted.
        """
        rows = self._rows(selection)
        if name in self._SPECIAL:
            return self._pop_array(name, rows)
        return self._column(name, rows)

    def simulation_column(self, name: str, selection: IdsLike | None = None) -> np.ndarray:
        """:meth:`column` of a value a run uses, checked by :func:`check_edge_values` (NEST and NEURON read
        ``syn_weight``, ``nsyns`` and ``delay`` through here).

        Parameters
        ----------
        name : str
            ``syn_weight``, ``nsyns``, ``delay`` (ms) or another value a run reads.
        selection : array-like of int or Selection, optional
            Edge ids; all when omitted.

        Raises
        ------
        SonataFormatError
            Naming the group dataset (``/edges/<pop>/<group>/<name>``) and the edge ids.
        """
        vals = self.column(name, selection)
        if name in SIMULATED_EDGE_VALUES:
            holders = [str(g) for g, gi in self.layout.groups.items() if name in gi.attributes]
            ids = selection.flat if isinstance(selection, Selection) else None
            if holders or self.types is None:
                check_edge_values(name, vals, self.path, self._ds_name(f"{'|'.join(holders) or '0'}/{name}"), ids)
            else:  # every value came from the edge-types table
                check_edge_values(name, vals, self.types.path, f"column {name} (edges {self._ds_name('')})", ids)
        return vals

    def type_values(self, type_id: int, names: Iterable[str]) -> dict[str, np.ndarray]:
        """Values of the edge-types table for one edge type, checked by :func:`check_edge_values` (the
        per-type ``syn_weight``, ``delay``, ``dynamics_params``, ... that NEST and NEURON broadcast to its edges).

        Parameters
        ----------
        type_id : int
            The ``edge_type_id``.
        names : iterable of str
            Columns of the edge-types table.

        Returns
        -------
        dict of str to numpy.ndarray
            Each column's value as a one-element array.

        Raises
        ------
        SonataFormatError
            The type id is not in the table, or a value no simulator can use (naming the CSV column and type).
        """
        assert self.types is not None
        row = int(self.types.row_of(np.asarray([type_id]), dataset=self._ds_name("edge_type_id"),
                                    data_path=self.path)[0])
        out = {}
        for c in names:
            value = self.types.columns[c][row:row + 1]
            check_edge_values(c, value, self.types.path, f"column {c}, edge_type_id {type_id}")
            out[c] = value
        return out

    def check_node_populations(self, node_populations: Iterable[str]) -> None:
        """Raise unless both ends name a node population of the network (bmtk refuses such edges too;
        a backend would skip them and their targets would never receive a spike).

        Parameters
        ----------
        node_populations : iterable of str
            The node populations of the network.

        Raises
        ------
        SonataFormatError
            Naming ``/edges/<pop>/<end>_node_id`` attribute ``node_population``.
        """
        known = sorted(node_populations)
        for end, pop in (("source", self.source), ("target", self.target)):
            where = self._ds_name(f"{end}_node_id") + " attribute node_population"
            if pop is None:
                raise SonataFormatError(self.path, where, "the name of the node population (string attribute)",
                                        "absent")
            if pop not in known:
                raise SonataFormatError(self.path, where, f"a node population of the network ({known})", repr(pop))

    def _chunks(self, chunk_size: int | None = None) -> Iterator[slice]:
        n = self.size
        step = chunk_size or max(1, OPTIONS["hyperslab_bytes"] // 8)
        for a in range(0, n, step):
            yield slice(a, min(n, a + step))

    def iter_chunks(self, properties: str | Sequence[str] | None = None,
                    chunk_size: int | None = None) -> Iterator[pd.DataFrame]:
        """Stream the population in contiguous chunks of edges, as DataFrames.

        Parameters
        ----------
        properties : str or list of str, optional
            As in :meth:`get`.
        chunk_size : int, optional
            Edges per chunk; default from the ``hyperslab_bytes`` option.
        """
        for sl in self._chunks(chunk_size):
            yield self.get(properties, Selection([(sl.start, sl.stop)]))

    # --------------------------------------------------------------- queries
    def _get_index(self, direction: str) -> EdgeIndex:
        idx = self._index.get(direction)
        if idx is not None and idx.file_closed():  # close() was called: reopen the file's index
            idx = None
        if idx is None:
            g = self._group()
            ig, _ = find_index_group(g, self.path)
            if ig is not None and h5.has(ig, direction, self.path):
                idx = EdgeIndex.from_file(ig, direction, self.path, self.size)
            else:
                key = "source_node_id" if direction == "source_to_target" else "target_node_id"
                idx = EdgeIndex.in_memory(self._ids(key, None), self.size, self.path, self._ds_name(key))
            self._index[direction] = idx
        return idx

    @property
    def has_index(self) -> bool:
        """Whether the file holds both index directions."""
        ig, _ = find_index_group(self._group(), self.path)
        return ig is not None and all(h5.has(ig, d, self.path) for d in DIRECTIONS)

    def _edges_of(self, direction: str, node_ids: IdsLike) -> Selection:
        idx = self._get_index(direction)
        if isinstance(node_ids, (int, np.integer)) and not isinstance(node_ids, bool):
            rows = idx.edges_of_node(int(node_ids))  # one node: the cheapest path
        else:
            rows = idx.edges_of(_as_id_array(node_ids))
        ids = self.layout.ids
        if ids is not None and rows:  # an index holds rows; with an explicit edge_id the API speaks ids
            return Selection.from_values(ids[rows.flat])
        return rows

    def afferent_edges(self, node_ids: IdsLike) -> Selection:
        """Edges whose target is one of ``node_ids`` (incoming edges).

        Parameters
        ----------
        node_ids : array-like of int or Selection
            Target node ids.
        """
        return self._edges_of("target_to_source", node_ids)

    def efferent_edges(self, node_ids: IdsLike) -> Selection:
        """Edges whose source is one of ``node_ids`` (outgoing edges).

        Parameters
        ----------
        node_ids : array-like of int or Selection
            Source node ids.
        """
        return self._edges_of("source_to_target", node_ids)

    def afferent_nodes(self, node_ids: IdsLike, unique: bool = True) -> np.ndarray:
        """Source node ids of the edges onto ``node_ids`` (sorted unique by default).

        Parameters
        ----------
        node_ids : array-like of int or Selection
            Target node ids.
        unique : bool, optional
            Sorted unique ids (else one per edge, in edge order).
        """
        s = self.source_ids(self.afferent_edges(node_ids))
        return np.unique(s) if unique else s

    def efferent_nodes(self, node_ids: IdsLike, unique: bool = True) -> np.ndarray:
        """Target node ids of the edges from ``node_ids`` (sorted unique by default).

        Parameters
        ----------
        node_ids : array-like of int or Selection
            Source node ids.
        unique : bool, optional
            As in :meth:`afferent_nodes`.
        """
        t = self.target_ids(self.efferent_edges(node_ids))
        return np.unique(t) if unique else t

    def connecting_edges(self, source_ids: IdsLike, target_ids: IdsLike) -> Selection:
        """Edges from any of ``source_ids`` to any of ``target_ids``.

        Parameters
        ----------
        source_ids : array-like of int or Selection
            Source node ids.
        target_ids : array-like of int or Selection
            Target node ids.
        """
        aff = self.afferent_edges(target_ids)
        if not aff:
            return aff
        src = self.source_ids(aff)
        keep = np.isin(src, _as_id_array(source_ids))
        return Selection.from_values(aff.flat[keep])

    # --------------------------------------------------------------- writing
    def to_data(self) -> "EdgePopulationData":
        """The population's raw layout in memory (groups as stored), for writing elsewhere."""
        groups = self._groups_data()
        return EdgePopulationData(
            name=self.name, source_population=self.source or "", target_population=self.target or "",
            source_node_id=self.source_ids(), target_node_id=self.target_ids(),
            edge_type_id=self._pop_array("edge_type_id", None) if self.layout.has_type_id
            else np.zeros(self.size, np.int64),
            groups=groups, edge_group_id=self._pop_array("edge_group_id", None),
            edge_group_index=self._pop_array("edge_group_index", None),
            edge_id=self.layout.ids,
        )

    def summary(self) -> dict[str, Any]:
        """Counts and names for display."""
        return {"kind": "edges", "name": self.name, "path": self.path, "count": self.size,
                "source": self.source, "target": self.target, "edge_types": self.type_counts(),
                "attributes": self.attribute_names, "groups": sorted(self.layout.groups),
                "has_index": self.has_index}

    def __repr__(self) -> str:
        return f"<EdgePopulation {self.name!r}: {self.size} edges {self.source} -> {self.target}>"

    def _repr_html_(self) -> str:
        from modelkit.formatting_html import population_html
        return population_html(self.summary())


def _as_id_array(ids: IdsLike) -> np.ndarray:
    if isinstance(ids, Selection):
        return ids.flat
    a = np.atleast_1d(np.asarray(ids))
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"node ids must be integers, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


# ---------------------------------------------------------------------- writing
@dataclass
class EdgePopulationData:
    """An edge population in memory, ready to write (columnar).

    Parameters
    ----------
    name : str
        Population name.
    source_population, target_population : str
        Node population names (written as ``node_population`` attributes).
    source_node_id, target_node_id, edge_type_id : array of int
        One per edge.
    groups : dict of int to GroupData
        Group columns; one group 0 holding every edge by default.
    edge_group_id, edge_group_index : array of int, optional
        Default: every edge in group 0, in order.
    edge_id : array of int, optional
        Written only when given.
    source_node_count, target_node_count : int, optional
        Sizes of the node populations (rows of the indices); default max id + 1.
    """

    name: str
    source_population: str
    target_population: str
    source_node_id: np.ndarray
    target_node_id: np.ndarray
    edge_type_id: np.ndarray
    groups: dict[int, GroupData] = field(default_factory=dict)
    edge_group_id: np.ndarray | None = None
    edge_group_index: np.ndarray | None = None
    edge_id: np.ndarray | None = None
    source_node_count: int | None = None
    target_node_count: int | None = None

    @classmethod
    def from_columns(cls, name: str, source_population: str, target_population: str, source_node_id: ArrayLike,
                     target_node_id: ArrayLike, edge_type_id: ArrayLike, columns: Mapping[str, Any] | None = None,
                     **kw: Any) -> "EdgePopulationData":
        """One-group edge population from per-edge columns.

        Parameters
        ----------
        name : str
            Edge population name.
        source_population, target_population : str
            Node populations of the sources and of the targets.
        source_node_id, target_node_id, edge_type_id : array-like
            Per edge: its source node id, target node id and edge type id.
        columns : mapping, optional
            Per-edge columns of the single group (``syn_weight``, ``delay`` in ms...).
        **kw
            Other fields of :class:`EdgePopulationData`.
        """
        s = np.asarray(source_node_id, dtype=np.int64)
        return cls(name, source_population, target_population, s, np.asarray(target_node_id, dtype=np.int64),
                   np.asarray(edge_type_id, dtype=np.int64),
                   {0: GroupData({k: np.asarray(v) for k, v in (columns or {}).items()}, size=len(s))}, **kw)


def _str_attr(ds: h5py.Dataset, name: str, value: str) -> None:
    ds.attrs.create(name, value, dtype=h5.STR_DTYPE)


def write_edges(path: PathLike, populations: Iterable[EdgePopulationData], *, overwrite: bool = False,
                index: bool = True) -> None:
    """Write edge populations to a SONATA edges file with both indices, atomically.

    Dtypes: source/target ids uint64 (with ``node_population``), ``edge_type_id``
    uint32, ``edge_group_id`` uint32, ``edge_group_index`` uint64; indices under
    ``indices/{source_to_target,target_to_source}/{node_id_to_ranges,range_to_edge_id}``.

    Parameters
    ----------
    path : str or PathLike
    populations : iterable of EdgePopulationData
    overwrite : bool
        Replace an existing file.
    index : bool
        Write both indices (default True).

    Raises
    ------
    OutputExistsError, SonataFormatError
    """
    pops = list(populations)
    names = [p.name for p in pops]
    if len(set(names)) != len(names):
        raise SonataFormatError(path, "/edges", "unique population names", f"{names}")
    with h5.atomic_output(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w-") as f:
            h5.write_root_attrs(f)
            root = f.create_group("edges")
            for p in pops:
                _write_edge_population(root, p, path, index)


def _write_edge_population(root: h5py.Group, p: EdgePopulationData, path: PathLike, index: bool) -> None:
    where = f"/edges/{p.name}"
    src = np.asarray(p.source_node_id)
    tgt = np.asarray(p.target_node_id)
    e = len(src)
    for nm, a in (("target_node_id", tgt), ("edge_type_id", p.edge_type_id), ("edge_group_id", p.edge_group_id),
                  ("edge_group_index", p.edge_group_index), ("edge_id", p.edge_id)):
        if a is not None and len(a) != e:
            raise SonataFormatError(path, f"{where}/{nm}", f"length {e} (as source_node_id)", f"length {len(a)}")
    for nm, a in (("source_node_id", src), ("target_node_id", tgt)):
        if e and (a.dtype.kind not in "iu" or a.min() < 0):
            raise SonataFormatError(path, f"{where}/{nm}", "non-negative integer node ids", f"dtype {a.dtype}")
    groups = p.groups or {0: GroupData(size=e)}
    jobs = []
    if index:
        n_src = p.source_node_count if p.source_node_count is not None else (int(src.max()) + 1 if e else 0)
        n_tgt = p.target_node_count if p.target_node_count is not None else (int(tgt.max()) + 1 if e else 0)
        jobs = [("source_to_target", src, n_src), ("target_to_source", tgt, n_tgt)]
    # Big populations: the source index (a sort, sources being unsorted when edges are sorted by
    # target) is built on a worker thread while this one writes the datasets and the target index;
    # numpy and HDF5 release the GIL.
    pool = ThreadPoolExecutor(max_workers=1) if jobs and e >= _THREADED_INDEX_EDGES else None
    try:
        futures = {"source_to_target": pool.submit(index_runs, src, jobs[0][2])} if pool is not None else {}
        g = root.create_group(p.name)
        ds = _create_int_dataset(g, "source_node_id", src, np.uint64)
        _str_attr(ds, "node_population", p.source_population)
        ds = _create_int_dataset(g, "target_node_id", tgt, np.uint64)
        _str_attr(ds, "node_population", p.target_population)
        _create_int_dataset(g, "edge_type_id", p.edge_type_id, np.uint32)
        if p.edge_group_id is None:
            if len(groups) != 1:
                raise SonataFormatError(path, f"{where}/edge_group_id", "explicit group ids for several groups",
                                        "none")
            gid_val = next(iter(groups))
            _create_blocks(g, "edge_group_id", e, np.uint32, lambda lo, out: out.fill(gid_val))
        else:
            _create_int_dataset(g, "edge_group_id", p.edge_group_id, np.uint32)
        if p.edge_group_index is None:
            _create_blocks(g, "edge_group_index", e, np.uint64, _fill_arange)
        else:
            _create_int_dataset(g, "edge_group_index", p.edge_group_index, np.uint64)
        if p.edge_id is not None:
            _create_int_dataset(g, "edge_id", p.edge_id, np.uint64)
        for gid, data in sorted(groups.items()):
            write_group(g, gid, data, where)
        if jobs:
            ig = g.create_group("indices")
        for direction, ids, n in sorted(jobs, key=lambda j: j[0] in futures):  # this thread's work first
            fut = futures.get(direction)
            try:
                n2r, runs = fut.result() if fut is not None else index_runs(ids, n)
            except ValueError as err:
                raise SonataFormatError(path, f"{where}/{direction}", "node ids below the node population size",
                                        str(err)) from err
            write_index(ig, direction, n2r, runs, executor=pool)
            del n2r, runs
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


#: populations from this many edges build the source index on a worker thread while writing
_THREADED_INDEX_EDGES = 1 << 16
#: elements per block when a column is converted or generated on its way to the file
_BLOCK = 1 << 20


def _create_int_dataset(g: h5py.Group, name: str, values: ArrayLike, dtype: DTypeLike) -> h5py.Dataset:
    """``g[name]`` = ``values`` stored as ``dtype``: int64 as uint64 is written through a view; other
    conversions go block by block through one small buffer, never a full-size copy (fresh memory
    is slow to fault in, and 10^8 edges make 800 MB copies)."""
    a = np.asarray(values)
    if a.dtype == dtype:
        return g.create_dataset(name, data=a)
    if a.dtype == np.int64 and np.dtype(dtype) == np.uint64:
        return g.create_dataset(name, data=a.view(np.uint64))
    if a.ndim != 1:
        return g.create_dataset(name, data=a.astype(dtype))
    return _create_blocks(g, name, len(a), dtype, lambda lo, out: np.copyto(out, a[lo:lo + len(out)],
                                                                              casting="unsafe"))


def _create_blocks(g: h5py.Group, name: str, n: int, dtype: DTypeLike, fill: Any) -> h5py.Dataset:
    """A 1-D dataset of ``n`` elements written in blocks; ``fill(lo, out)`` computes rows ``lo:lo+len(out)``."""
    ds = g.create_dataset(name, shape=(n,), dtype=dtype)
    buf = np.empty(min(n, _BLOCK), dtype=dtype)
    for lo in range(0, n, _BLOCK):
        out = buf[:min(n - lo, _BLOCK)]
        fill(lo, out)
        ds[lo:lo + len(out)] = out
    return ds


def _fill_arange(lo: int, out: np.ndarray) -> None:
    out[:] = np.arange(lo, lo + len(out), dtype=out.dtype)
