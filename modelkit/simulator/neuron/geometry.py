"""Where the segments of a cell are in space (µm), placed and rotated as bmtk places them.

Extracellular stimulation and potentials need every segment's ends.  They are worked
out once per morphology table: a probe cell is cloned from the table and NEURON's
``define_shape`` lays out the sections that carry no 3-d points (the axon stub) and
joins children to their parents exactly as it does in bmtk, which calls it after
replacing the axon.  The ends are kept relative to the soma centre (the mean of the
soma's 3-d points); each cell then gets ``R_x R_y R_z p + position`` with its node's
``rotation_angle_{x,y,z}axis`` (radians) and ``x, y, z`` (or ``positions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.neuron.electrode_modules import euler_matrix, rotation_matrix

if TYPE_CHECKING:
    from modelkit.simulator.neuron.morphology import MorphologyTable
    from modelkit.sonata import NodePopulation

__all__ = ["SegmentGeometry", "table_geometry", "rotation_matrix", "euler_matrix", "node_placement"]


@dataclass(frozen=True)
class SegmentGeometry:
    """Segments of one cell in ``all`` order (µm): start ``p0``, end ``p1``, the point at the segment's
    centre along the section ``p05`` (on the 3-d path, so not always (p0 + p1) / 2), all shape (n, 3);
    diameter ``diam``."""

    p0: np.ndarray
    p1: np.ndarray
    p05: np.ndarray
    diam: np.ndarray

    @property
    def mid(self) -> np.ndarray:
        """Segment centres on the 3-d path, shape (n, 3) (µm)."""
        return self.p05

    def placed(self, rotation: np.ndarray, position: np.ndarray) -> "SegmentGeometry":
        """The segments rotated by the 3x3 ``rotation`` about the soma centre and moved to ``position``.

        Parameters
        ----------
        rotation : numpy.ndarray, shape (3, 3)
            Rotation matrix (see :func:`euler_matrix`).
        position : numpy.ndarray, shape (3,)
            Where the soma centre goes (µm).
        """
        return SegmentGeometry(self.p0 @ rotation.T + position, self.p1 @ rotation.T + position,
                               self.p05 @ rotation.T + position, self.diam)


def table_geometry(h: HocObject, table: MorphologyTable) -> SegmentGeometry:
    """Segment ends of cells cloned from ``table`` relative to their soma centre (µm).

    Calls ``define_shape`` once (it visits every section in the process, so this runs
    once per morphology table, never per cell).

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    table : MorphologyTable
        The segmented morphology a probe cell is cloned from.
    """
    probe = table.instantiate(h, "modelkit_geometry_probe")
    h.define_shape()
    soma = [s for s, t in zip(probe.sections, table.types.tolist()) if t == 1]
    pts = np.concatenate([_points(h, s)[0] for s in soma])
    centre = pts.mean(axis=0)
    p0: list[np.ndarray] = []
    p1: list[np.ndarray] = []
    p05: list[np.ndarray] = []
    diam: list[float] = []
    for sec in probe.sections:
        p, arc = _points(h, sec)
        n = int(sec.nseg)
        x = (np.arange(n) + 0.5) / n
        for at, out in ((x - 0.5 / n, p0), (x + 0.5 / n, p1), (x, p05)):
            out.append(np.column_stack([np.interp(at, arc, p[:, k]) for k in range(3)]) - centre)
        diam.extend(seg.diam for seg in sec)
    del probe
    return SegmentGeometry(np.concatenate(p0), np.concatenate(p1), np.concatenate(p05),
                           np.asarray(diam, dtype=float))


def _points(h: HocObject, sec: HocObject) -> tuple[np.ndarray, np.ndarray]:
    n = int(sec.n3d())
    p = np.array([[sec.x3d(i), sec.y3d(i), sec.z3d(i)] for i in range(n)]).reshape(n, 3)
    arc = np.array([sec.arc3d(i) for i in range(n)]) / (sec.L or 1.0)
    return p, arc


def node_placement(pop: NodePopulation, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soma positions (µm) and rotation angles (radians), both shape (n, 3), of nodes ``ids``.

    Positions come from ``x``/``y``/``z`` (missing ones 0) or a ``positions`` column, else the origin;
    angles from ``rotation_angle_xaxis``/``yaxis``/``zaxis`` (missing or null: 0), as bmtk reads them.

    Parameters
    ----------
    pop : NodePopulation
        The nodes' population.
    ids : numpy.ndarray of int
        Node ids.
    """
    names = set(pop.attribute_names)
    n = len(ids)

    def col(name: str) -> np.ndarray:
        if name not in names:
            return np.zeros(n)
        v = np.asarray(pop.column(name, ids))
        if v.dtype == object:
            v = np.array([np.nan if x is None or isinstance(x, str) else x for x in v], dtype=float)
        return np.nan_to_num(v.astype(float))

    if "x" in names:
        pos = np.column_stack([col("x"), col("y"), col("z")])
    elif "positions" in names:
        pos = np.asarray(np.stack(list(pop.column("positions", ids))), dtype=float).reshape(n, 3)
    else:
        pos = np.zeros((n, 3))
    ang = np.column_stack([col(f"rotation_angle_{a}axis") for a in "xyz"])
    return pos, ang
