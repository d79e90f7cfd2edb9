"""Node populations: reading (lazy, columnar) and writing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
import pandas as pd

from modelkit._typing import ArrayLike, IdsLike, PathLike
from modelkit.errors import SelectionError, SonataFormatError
from modelkit.sonata import h5
from modelkit.sonata.groups import GroupData, write_group
from modelkit.sonata.population import GroupedPopulation, Rows, _n_rows, check_names
from modelkit.sonata.query import check_rule_value, rule_mask
from modelkit.sonata.selection import Selection

__all__ = ["NodePopulation", "NodePopulationData", "write_nodes", "rotation_matrices", "rotation_matrix",
           "euler_matrix"]

_ROT = ("rotation_angle_xaxis", "rotation_angle_yaxis", "rotation_angle_zaxis")
_QUAT = ("orientation_w", "orientation_x", "orientation_y", "orientation_z")


class NodePopulation(GroupedPopulation):
    """One node population of a SONATA nodes file.

    Attributes are merged per node: the value in the node's HDF5 group wins, else
    the node-types CSV row of its ``node_type_id``.  Columns are read lazily.

    Parameters
    ----------
    path : str or PathLike
        The nodes HDF5 file.
    name : str
        Population name (``/nodes/<name>``).
    types : TypesTable, optional
        The node-types table paired with the file in the circuit config.

    Examples
    --------
    >>> pop = net.nodes["v1"]                               # doctest: +SKIP
    >>> pop.get(["model_type", "x"], pop.select(ei="e"))     # doctest: +SKIP
    """

    _root = "nodes"
    _prefix = "node"
    _size_dataset = "node_type_id"

    # ---------------------------------------------------------------- ids
    @property
    def node_ids(self) -> np.ndarray:
        """All node ids, in file order (int64)."""
        return self._all_ids()

    def ids(self, group: IdsLike | Mapping[str, Any] | None = None) -> Selection:
        """Node ids selected by ``group``.

        Parameters
        ----------
        group : None, int, sequence of int, Selection, or dict
            None selects all nodes; ids are checked to exist; a dict is a property
            rule as in node sets (see :meth:`select`).

        Returns
        -------
        Selection

        Raises
        ------
        SelectionError
            Ids that are not in the population, or an invalid rule.
        """
        if group is None:
            return Selection.from_values(self._all_ids()) if self.layout.ids is not None \
                else Selection.all(self.size)
        if isinstance(group, Mapping):
            return self.select(**group)
        if isinstance(group, Selection):
            self._rows(group)
            return group
        rows = self._rows(group)
        return Selection.from_values(self._ids_at(rows))

    def select(self, **rules: Any) -> Selection:
        """Nodes whose attributes satisfy every rule (AND), as in SONATA node sets.

        Parameters
        ----------
        **rules
            ``attribute=value`` (equality), ``attribute=[v1, v2]`` (any of), or
            ``attribute={"$gt": x}`` (also ``$lt $gte $lte``; ``$regex`` is an
            unanchored search).  ``node_id=`` restricts to ids.  An attribute absent
            from the population matches nothing.

        Returns
        -------
        Selection

        Examples
        --------
        >>> pop.select(ei="e", x={"$gt": 0.0})  # doctest: +SKIP
        """
        mask = np.ones(self.size, dtype=bool)
        names = set(self.attribute_names)
        for key, value in rules.items():
            err = check_rule_value(value)
            if err:
                raise SelectionError(f"{self.path}: population {self.name!r}: rule {key!r}: expected {err}, "
                                     f"got {value!r}")
            if key in ("node_id", "node_ids", "gids"):
                ids = np.atleast_1d(np.asarray(value if not isinstance(value, Mapping) else [], dtype=np.int64))
                mask &= np.isin(self._all_ids(), ids)
                continue
            if key == "node_type_id":
                col = self._pop_array("node_type_id", None)
            elif key in names:
                col = self._column(key, None)
            else:
                return Selection()
            mask &= rule_mask(col, value)
        return Selection.from_values(self._all_ids()[mask])

    def split_by(self, name: str, selection: IdsLike | None = None) -> dict[Any, Selection]:
        """Group node ids by the value of one attribute (e.g. ``model_type``).

        Parameters
        ----------
        name : str
            Attribute to group by (e.g. ``model_type``).
        selection : array-like of int or Selection, optional
            Ids to read, in the order given; all (file order) when omitted.

        Returns
        -------
        dict
            Attribute value -> Selection of the nodes with that value.
        """
        rows = self._rows(selection)
        col = self._pop_array("node_type_id", rows) if name == "node_type_id" else self._column(name, rows)
        ids = self._ids_at(rows)
        s = pd.Series(ids)
        out: dict[Any, Selection] = {}
        for key, idx in s.groupby(pd.Series(col, dtype=object).fillna("None").to_numpy(), sort=True).groups.items():
            out[key] = Selection.from_values(ids[np.asarray(idx)])
        return out

    # ---------------------------------------------------------- attributes
    def get(self, properties: str | Sequence[str] | None = None, selection: IdsLike | None = None) -> pd.DataFrame:
        """Node attributes as a DataFrame indexed by ``node_id``.

        Parameters
        ----------
        properties : str or list of str, optional
            Attribute names (``node_type_id`` included); all of them when omitted.
        selection : optional
            Ids or a Selection (see :meth:`ids`); all nodes when omitted.

        Returns
        -------
        pandas.DataFrame
            Always a DataFrame, one row per selected node, in selection order.
        """
        names = check_names(properties, f"{self.path}: population {self.name!r}")
        if properties is None:
            names = ["node_type_id"] + self.attribute_names
        rows = self._rows(selection)
        return self._frame(names, rows, "node_id",
                           {"node_type_id": lambda r: self._pop_array("node_type_id", r)})

    def column(self, name: str, selection: IdsLike | None = None) -> np.ndarray:
        """One merged attribute as a numpy array (selection order).

        Parameters
        ----------
        name : str
            Attribute name (group column or node-types column).
        selection : array-like of int or Selection, optional
            Ids to read, in the order given; all (file order) when omitted.
        """
        rows = self._rows(selection)
        if name == "node_type_id":
            return self._pop_array("node_type_id", rows)
        return self._column(name, rows)

    def column_or(self, name: str, selection: Any = None, default: Any = None) -> np.ndarray:
        """One merged attribute as :meth:`column` gives it, or ``default`` for every selected node when the
        population has no attribute ``name`` (an optional column such as ``dynamics_params``).

        Parameters
        ----------
        name : str
            The attribute.
        selection : Selection, array of int or None
            Node ids (None: all, file order).
        default : object
            The value of every node when the attribute is absent.

        Returns
        -------
        numpy.ndarray
            One value per selected node (selection order); an object array of ``default`` when absent.

        Examples
        --------
        >>> pop.column_or("dynamics_params", [0, 1])    # doctest: +SKIP
        array([None, None], dtype=object)
        """
        if name in self.attribute_names:
            return self.column(name, selection)
        return np.full(_n_rows(self._rows(selection), self.size), default, dtype=object)

    @property
    def node_type_ids(self) -> np.ndarray:
        """``node_type_id`` of every node, file order."""
        return self._pop_array("node_type_id", None)

    def type_counts(self) -> dict[int, int]:
        """Number of nodes per ``node_type_id``."""
        u, c = np.unique(self.node_type_ids, return_counts=True)
        return dict(zip(u.tolist(), c.tolist()))

    @property
    def node_types(self) -> pd.DataFrame:
        """The node-types table (empty when the population has none)."""
        if self.types is None:
            return pd.DataFrame(index=pd.Index([], name="node_type_id"))
        return self.types.to_frame()

    def dynamics_params(self, selection: IdsLike | None = None,
                        names: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Per-node ``dynamics_params/<name>`` overrides from the HDF5 groups (and :meth:`with_dynamics`).

        Nodes whose group lacks a parameter get NaN (numeric) or None.

        Parameters
        ----------
        selection : array-like of int or Selection, optional
            Ids to read, in the order given; all (file order) when omitted.
        names : str or Sequence[str], optional
            Parameters to read; all when omitted.
        """
        rows = self._rows(selection)
        cols = check_names(names, self.name) if names is not None else self.dynamics_attribute_names
        overlay = self._dynamics_overlay
        file_names = set(super().dynamics_attribute_names)
        data = {}
        for c in cols:
            if c not in overlay:
                data[c] = self._column(c, rows, dynamics=True)
                continue
            ov = overlay[c] if rows is None else overlay[c][rows]
            if c in file_names:
                base = np.asarray(self._column(c, rows, dynamics=True), dtype=float)
                ov = np.where(np.isnan(ov), base, ov)
            data[c] = ov
        return pd.DataFrame(data, index=pd.Index(self._ids_at(rows), name="node_id"))

    @property
    def dynamics_attribute_names(self) -> list[str]:
        """Names of per-node ``dynamics_params`` overrides: the HDF5 groups' and :meth:`with_dynamics`'."""
        return sorted(set(super().dynamics_attribute_names) | set(self._dynamics_overlay))

    def __getstate__(self) -> dict:
        st = super().__getstate__()
        if self._dynamics_overlay:
            st["overlay"] = self._dynamics_overlay
        return st

    def __setstate__(self, st: dict) -> None:
        super().__setstate__(st)
        if "overlay" in st:
            self.__dict__["_overlay"] = st["overlay"]

    @property
    def _dynamics_overlay(self) -> dict[str, np.ndarray]:
        return self.__dict__.get("_overlay", {})

    def with_dynamics(self, params: Mapping[str, Any], selection: IdsLike | None = None) -> "NodePopulation":
        """This population with per-node ``dynamics_params`` overridden in memory (the files are untouched).

        Every backend that honours the per-node ``dynamics_params`` of SONATA files (NEST, NEURON, population)
        sees these values as if they were stored in the nodes file: a parameter sweep changes a model
        parameter without rebuilding the network.

        Parameters
        ----------
        params : mapping
            Parameter name -> a number (all selected nodes) or an array with one number per selected node,
            in the parameter's own unit (e.g. ``{"tau_m": 20.0}``, ms for NEST's ``iaf_psc_alpha``).
        selection : optional
            Node ids or a Selection; all nodes when omitted.  Nodes outside it keep their values.

        Returns
        -------
        NodePopulation
            A new view; ``self`` is unchanged.  Overlays stack (the last one wins).

        Raises
        ------
        SelectionError
            Ids not in the population, a value that is not a number, or an array of the wrong length.

        Examples
        --------
        >>> pop = net.nodes["cortex"]                                          # doctest: +SKIP
        >>> slow = pop.with_dynamics({"tau_m": 15.0}, pop.select(ei="e"))      # doctest: +SKIP
        """
        import copy

        rows = self._rows(selection)
        n = _n_rows(rows, self.size)
        overlay = {k: v.copy() for k, v in self._dynamics_overlay.items()}
        for name, value in params.items():
            try:
                vals = np.broadcast_to(np.asarray(value, dtype=float), (n,))
            except (TypeError, ValueError) as e:
                raise SelectionError(f"{self.path}: population {self.name!r}: dynamics override {name!r}: "
                                     f"expected a number or {n} numbers (one per selected node), got "
                                     f"{value!r:.80}") from e
            col = overlay.setdefault(str(name), np.full(self.size, np.nan))
            col[slice(None) if rows is None else rows] = vals
        view = copy.copy(self)
        view.__dict__["_overlay"] = overlay
        return view

    # ---------------------------------------------------------- geometry
    def has_positions(self) -> bool:
        """Whether nodes carry positions (``x``/``y``/``z`` columns or a ``positions`` dataset)."""
        return any(gi.has_positions for gi in self.layout.groups.values()) or \
            bool({"x", "y"} & set(self.attribute_names))

    def positions(self, selection: IdsLike | None = None) -> np.ndarray:
        """Soma positions in µm, shape (n, 3); missing coordinates are NaN (z is 0 for 2-D layouts).

        Parameters
        ----------
        selection : array-like of int or Selection, optional
            Ids to read, in the order given; all (file order) when omitted.

        Raises
        ------
        SelectionError
            The population has no positions.
        """
        rows = self._rows(selection)
        n = len(self._ids_at(rows))
        names = set(self.attribute_names)
        if any(gi.has_positions for gi in self.layout.groups.values()):
            return self._positions_dataset(rows, n)
        if not ({"x", "y"} & names):
            raise SelectionError(f"{self.path}: population {self.name!r} has no positions "
                                 "(expected x/y/z attributes or a positions dataset)")
        out = np.zeros((n, 3))
        for k, ax in enumerate("xyz"):
            if ax in names:
                out[:, k] = self._column(ax, rows).astype(np.float64)
            elif ax != "z":
                out[:, k] = np.nan
        return out

    def _positions_dataset(self, rows: Rows, n: int) -> np.ndarray:
        out = np.full((n, 3), np.nan)
        gids = self._pop_array("node_group_id", rows)
        gidx = self._pop_array("node_group_index", rows)
        g = self._group()
        for gid in np.unique(gids).tolist():
            pos = np.flatnonzero(gids == gid)
            info = self.layout.groups[gid]
            if info.has_positions:
                ds = h5.require_dataset(g, f"{gid}/positions", self.path, kind="number", ndim=2)
                vals = h5.read_indices(ds, gidx[pos], self.path)
                out[pos, : vals.shape[1]] = vals
                if vals.shape[1] == 2:
                    out[pos, 2] = 0.0
        return out

    def rotations(self, selection: IdsLike | None = None) -> np.ndarray:
        """Rotation matrices, shape (n, 3, 3), local -> world.

        From the ``orientation_w/x/y/z`` quaternion when present, else from
        ``rotation_angle_x/y/zaxis`` (radians; applied about z, then y, then x; a
        missing axis is 0).  Identity for nodes with neither.

        Parameters
        ----------
        selection : array-like of int or Selection, optional
            Ids to read, in the order given; all (file order) when omitted.
        """
        rows = self._rows(selection)
        n = len(self._ids_at(rows))
        names = set(self.attribute_names)
        if set(_QUAT) <= names:
            q = np.stack([self._column(c, rows).astype(np.float64) for c in _QUAT], axis=1)
            return _quat_to_matrix(q)
        angles = np.zeros((n, 3))
        for k, c in enumerate(_ROT):
            if c in names:
                angles[:, k] = np.nan_to_num(self._column(c, rows).astype(np.float64))
        return rotation_matrices(angles)

    # ---------------------------------------------------------- writing
    def to_data(self) -> "NodePopulationData":
        """The population's raw layout in memory (groups as stored), for writing elsewhere."""
        return NodePopulationData(
            name=self.name,
            node_type_id=self.node_type_ids,
            groups=self._groups_data(),
            node_group_id=self._pop_array("node_group_id", None),
            node_group_index=self._pop_array("node_group_index", None),
            node_id=self._all_ids(),
        )

    def __repr__(self) -> str:
        return f"<NodePopulation {self.name!r}: {self.size} nodes, file {self.path}>"

    def _repr_html_(self) -> str:
        from modelkit.formatting_html import population_html
        return population_html(self.summary())

    def summary(self) -> dict[str, Any]:
        """Counts and names for display (used by repr and ``modelkit info``)."""
        return {"kind": "nodes", "name": self.name, "path": self.path, "count": self.size,
                "node_types": self.type_counts(), "attributes": self.attribute_names,
                "groups": sorted(self.layout.groups)}


def rotation_matrices(angles: np.ndarray) -> np.ndarray:
    """Rotation matrices for Euler angles (radians) about x, y, z, applied z first: R = Rx Ry Rz.

    Parameters
    ----------
    angles : ndarray, shape (n, 3)
        Rotation about the x, y and z axes (radians).

    Returns
    -------
    ndarray, shape (n, 3, 3)
    """
    a = np.asarray(angles, dtype=np.float64).reshape(-1, 3)
    cx, cy, cz = np.cos(a).T
    sx, sy, sz = np.sin(a).T
    n = len(a)
    one, zero = np.ones(n), np.zeros(n)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], axis=1).reshape(n, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], axis=1).reshape(n, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], axis=1).reshape(n, 3, 3)
    return rx @ ry @ rz


def rotation_matrix(axis: ArrayLike, theta: float) -> np.ndarray:
    """Counterclockwise rotation by ``theta`` about ``axis`` (bmtk's Euler-Rodrigues form, bit for bit).

    Parameters
    ----------
    axis : 3 floats
        The axis (any length but 0).
    theta : float
        The angle (radians).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)``.

    Examples
    --------
    >>> np.round(rotation_matrix([0, 0, 1], np.pi / 2) @ [1.0, 0.0, 0.0], 12)
    array([0., 1., 0.])
    """
    ax = np.asarray(axis, dtype=float)
    ax = ax / np.sqrt(ax @ ax)
    a = np.cos(theta / 2.0)
    b, c, d = -ax * np.sin(theta / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array([[aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
                     [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
                     [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc]])


def euler_matrix(angles: Sequence[float]) -> np.ndarray:
    """``R_x R_y R_z`` for rotation angles about x, y and z, composed as bmtk composes them for cells,
    morphologies and electrodes (one node at a time; :func:`rotation_matrices` is the columnar form).

    Parameters
    ----------
    angles : 3 floats
        Rotation about the x, y and z axes (radians).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)``.
    """
    ax, ay, az = (float(a) for a in angles)
    return rotation_matrix([1, 0, 0], ax) @ (rotation_matrix([0, 1, 0], ay) @ rotation_matrix([0, 0, 1], az))


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], axis=1).reshape(-1, 3, 3)


# ---------------------------------------------------------------------- writing
@dataclass
class NodePopulationData:
    """A node population in memory, ready to write (columnar).

    Parameters
    ----------
    name : str
        Population name.
    node_type_id : array of int
        Type of each node (row of the node-types CSV).
    groups : dict of int to GroupData
        The numbered groups; one group ``0`` holding every node by default.
    node_group_id, node_group_index : array of int, optional
        Group membership; default all nodes in group 0, in order.
    node_id : array of int, optional
        Written as 0..n-1 when omitted.
    """

    name: str
    node_type_id: np.ndarray
    groups: dict[int, GroupData] = field(default_factory=dict)
    node_group_id: np.ndarray | None = None
    node_group_index: np.ndarray | None = None
    node_id: np.ndarray | None = None

    @classmethod
    def from_columns(cls, name: str, node_type_id: ArrayLike, columns: Mapping[str, Any] | None = None,
                     dynamics_params: Mapping[str, Any] | None = None) -> "NodePopulationData":
        """One-group population from per-node columns.

        Parameters
        ----------
        name : str
            Node population name.
        node_type_id : array-like
            Node type id of each node.
        columns : mapping, optional
            Per-node columns of the single group (``x``, ``y``, ``z`` in µm, ``model_type``...).
        dynamics_params : mapping, optional
            Per-node parameter overrides: name -> one value per node, in the model's units (mV, ms, pA...).
        """
        t = np.asarray(node_type_id, dtype=np.int64)
        g = GroupData({k: np.asarray(v) for k, v in (columns or {}).items()},
                      {k: np.asarray(v) for k, v in (dynamics_params or {}).items()}, size=len(t))
        return cls(name=name, node_type_id=t, groups={0: g})


def _check_lengths(where: str, n: int, arrays: dict[str, Any]) -> None:
    for k, a in arrays.items():
        if a is not None and len(a) != n:
            raise SonataFormatError(None, f"{where}/{k}", f"length {n}", f"length {len(a)}")


def write_nodes(path: PathLike, populations: Iterable[NodePopulationData], *, overwrite: bool = False) -> None:
    """Write node populations to a SONATA nodes file, atomically.

    Layout and dtypes follow the SONATA guide: ``node_type_id`` / ``node_id`` /
    ``node_group_index`` uint64, ``node_group_id`` uint32, group columns as given
    (strings UTF-8, booleans int8), root attributes ``version`` and ``magic``.

    Parameters
    ----------
    path : str or PathLike
        The nodes file to write.
    populations : iterable of NodePopulationData
        The populations to put in it.
    overwrite : bool, optional
        Replace an existing file (else refuse it).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    SonataFormatError
        Inconsistent lengths or group references.
    """
    pops = list(populations)
    names = [p.name for p in pops]
    if len(set(names)) != len(names):
        raise SonataFormatError(path, "/nodes", "unique population names", f"{names}")
    prepared = []
    for p in pops:
        n = len(p.node_type_id)
        groups = p.groups or {0: GroupData(size=n)}
        gid = np.zeros(n, np.int64) if p.node_group_id is None else np.asarray(p.node_group_id, np.int64)
        if p.node_group_index is None:
            if len(groups) != 1:
                raise SonataFormatError(path, f"/nodes/{p.name}/node_group_index",
                                        "explicit group indices for several groups", "none")
            gidx = np.arange(n, dtype=np.int64)
        else:
            gidx = np.asarray(p.node_group_index, np.int64)
        _check_lengths(f"/nodes/{p.name}", n, {"node_group_id": gid, "node_group_index": gidx,
                                               "node_id": p.node_id})
        for g_id in np.unique(gid).tolist():
            if g_id not in groups:
                raise SonataFormatError(path, f"/nodes/{p.name}/{g_id}", "a group for every node_group_id",
                                        "nothing")
            rows = groups[g_id].nrows() if (groups[g_id].columns or groups[g_id].dynamics_params) else None
            m = gidx[gid == g_id]
            if rows is not None and m.size and m.max() >= rows:
                raise SonataFormatError(path, f"/nodes/{p.name}/node_group_index",
                                        f"indices below {rows} for group {g_id}", f"{int(m.max())}")
        prepared.append((p, n, groups, gid, gidx))
    with h5.atomic_output(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            h5.write_root_attrs(f)
            root = f.create_group("nodes")
            for p, n, groups, gid, gidx in prepared:
                g = root.create_group(p.name)
                g.create_dataset("node_type_id", data=np.asarray(p.node_type_id, dtype=np.uint64))
                ids = np.arange(n) if p.node_id is None else np.asarray(p.node_id)
                g.create_dataset("node_id", data=ids.astype(np.uint64))
                g.create_dataset("node_group_id", data=gid.astype(np.uint32))
                g.create_dataset("node_group_index", data=gidx.astype(np.uint64))
                for g_id, data in sorted(groups.items()):
                    write_group(g, g_id, data, f"/nodes/{p.name}")
