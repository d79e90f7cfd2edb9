"""Morphologies: an SWC file read once through NEURON's Import3d into a section table, cells cloned from it.

:class:`MorphologyTable` holds, per section (in the order of the cell's ``all`` list,
which ``afferent_section_id`` indexes, as in bmtk): type, name, parent and connection
points, 3-d points (µm) and the number of segments.  :meth:`MorphologyTable.instantiate`
builds one cell from the table without reading the file again and without
``define_shape`` (whose cost grows with every section in the process: bmtk's set-up
is quadratic in the cell count because of it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.neuron.biophysics import SECTION_TYPES

__all__ = ["MorphologyTable", "read_swc", "segments_per_section", "Cell"]

_TEMPLATE = """
begintemplate ModelkitSWC
public soma, dend, apic, axon, all, somatic, basal, apical, axonal
objref all, somatic, basal, apical, axonal, this
create soma[1], dend[1], apic[1], axon[1]
proc init() { localobj nl, i3d
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    forall delete_section()
    nl = new Import3d_SWC_read()
    nl.quiet = 1
    nl.input($s1)
    i3d = new Import3d_GUI(nl, 0)
    i3d.instantiate(this)
}
endtemplate ModelkitSWC
"""
#: axon stub of the Allen models (bmtk's fix_axon_*): two sections of 30 µm
STUB_LENGTH = 30.0


@dataclass
class MorphologyTable:
    """Sections of one morphology as arrays (lengths in µm).

    Attributes
    ----------
    path : str
        The SWC file.
    names : list of str
        ``soma[0]``, ``dend[3]``, ... in ``all`` order.
    types : ndarray of int
        SWC type code per section (1 soma, 2 axon, 3 dend, 4 apic).
    parent : ndarray of int
        Index of the parent section (-1 for the root).
    parent_x, child_x : ndarray of float
        Where a section attaches on its parent, and which of its ends attaches (0 or 1).
    points : list of ndarray
        ``(n, 4)`` x, y, z, diam per section (µm); empty for sections given by ``L`` and ``diam``.
    length, diam : ndarray of float
        µm, for the sections without 3-d points.
    nseg : ndarray of int
    """

    path: str
    names: list[str]
    types: np.ndarray
    parent: np.ndarray
    parent_x: np.ndarray
    child_x: np.ndarray
    points: list[np.ndarray]
    length: np.ndarray
    diam: np.ndarray
    nseg: np.ndarray
    _vectors: list[Any] = field(default_factory=list, repr=False)
    seg_props: dict[str, np.ndarray] | None = field(default=None, repr=False)
    #: Import3d's logical connection point of each section (``pt3dstyle``; NaN where none), (n, 3) µm: keeps
    #: ``define_shape`` from moving soma children onto the soma centre, as it does not in bmtk
    logical: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_sections(self) -> int:
        return len(self.names)

    def has_type(self, name: str) -> bool:
        """Whether the morphology has a section of type ``name`` (soma, axon, dend, apic)."""
        return bool(np.any(self.types == SECTION_TYPES[name]))

    def with_axon_stub(self, h: Any, kind: str, diams: tuple[float, float]) -> "MorphologyTable":
        """The table with the axon replaced by two 30-µm sections, appended last (bmtk's fix_axon_peri /
        fix_axon_allactive: attached at soma(0.5) with diameter 1 µm, or at soma(1) with the diameters of the
        reconstructed axon's first and last sections)."""
        keep = np.flatnonzero(self.types != SECTION_TYPES["axon"])
        new_index = np.full(self.n_sections, -1, dtype=np.int64)
        new_index[keep] = np.arange(len(keep))
        parent = np.where(self.parent[keep] >= 0, new_index[np.maximum(self.parent[keep], 0)], -1)
        if np.any((self.parent[keep] >= 0) & (parent < 0)):
            raise ConfigError(self.path, "axon", "no dendrite attached to the axon (the axon is replaced by a stub)",
                              "sections whose parent is an axon section")
        soma = int(np.flatnonzero(self.types[keep] == SECTION_TYPES["soma"])[0])
        n = len(keep)
        at = 0.5 if kind == "perisomatic" else 1.0
        d = (1.0, 1.0) if kind == "perisomatic" else diams
        return MorphologyTable(
            path=self.path, names=[self.names[i] for i in keep] + ["axon[0]", "axon[1]"],
            types=np.concatenate([self.types[keep], [2, 2]]),
            parent=np.concatenate([parent, [soma, n]]),
            parent_x=np.concatenate([self.parent_x[keep], [at, 1.0]]),
            child_x=np.concatenate([self.child_x[keep], [0.0, 0.0]]),
            points=[self.points[i] for i in keep] + [np.empty((0, 4)), np.empty((0, 4))],
            length=np.concatenate([self.length[keep], [STUB_LENGTH, STUB_LENGTH]]),
            diam=np.concatenate([self.diam[keep], list(d)]),
            nseg=np.concatenate([self.nseg[keep], [1, 1]]),
            logical=None if self.logical is None else np.concatenate([self.logical[keep], np.full((2, 3), np.nan)]))

    def instantiate(self, h: Any, label: str) -> "Cell":
        """A new cell with these sections (named ``<label>.<name>``)."""
        if not self._vectors:
            self._vectors = [tuple(h.Vector(p[:, k]) for k in range(4)) if len(p) else None for p in self.points]
        owner = _Label(label)
        secs = [h.Section(name=nm, cell=owner) for nm in self.names]
        for i, sec in enumerate(secs):
            vec = self._vectors[i]
            if vec is not None:
                h.pt3dadd(*vec, sec=sec)
                if self.logical is not None and not np.isnan(self.logical[i, 0]):
                    h.pt3dstyle(1, *self.logical[i].tolist(), sec=sec)
            else:
                sec.L = float(self.length[i])
                sec.diam = float(self.diam[i])
        for i, sec in enumerate(secs):
            p = int(self.parent[i])
            if p >= 0:
                sec.connect(secs[p](float(self.parent_x[i])), float(self.child_x[i]))
        for sec, n in zip(secs, self.nseg.tolist()):
            sec.nseg = int(n)
        return Cell(label, owner, secs, self)


class _Label:
    """The ``cell`` of a Section: gives the sections readable names (``v1[3].dend[12]``)."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __str__(self) -> str:
        return self.label


@dataclass
class Cell:
    """One biophysical cell: its sections (``all`` order) and the table they came from."""

    label: str
    owner: Any
    sections: list[Any]
    table: MorphologyTable

    @property
    def soma(self) -> Any:
        return self.sections[int(np.flatnonzero(self.table.types == SECTION_TYPES["soma"])[0])]

    def groups(self) -> dict[str, list[Any]]:
        """Sections by type name."""
        return {name: [self.sections[i] for i in np.flatnonzero(self.table.types == code).tolist()]
                for name, code in SECTION_TYPES.items()}


def read_swc(h: Any, path: str, where: str) -> tuple[MorphologyTable, tuple[float, float]]:
    """Read an SWC file with Import3d into a table (and the diameters of its first and last axon sections, µm).

    Raises
    ------
    ConfigError
        The file is missing or Import3d cannot read it (``where`` names the cells).
    """
    if not os.path.exists(path):
        raise ConfigError(path, where, "an existing SWC morphology (components.morphologies_dir + morphology)",
                          "no such file")
    if not hasattr(h, "ModelkitSWC"):
        h(_TEMPLATE)
    try:
        obj = h.ModelkitSWC(path)
    except RuntimeError as e:
        raise ConfigError(path, where, "an SWC file NEURON's Import3d reads", str(e)) from e
    secs = list(obj.all)
    if not secs:
        raise ConfigError(path, where, "an SWC file with sections", "none")
    index = {s.hname(): i for i, s in enumerate(secs)}
    n = len(secs)
    names, types = [], np.zeros(n, np.int64)
    parent, parent_x, child_x = np.full(n, -1, np.int64), np.zeros(n), np.zeros(n)
    length, diam, points = np.zeros(n), np.zeros(n), []
    logical = np.full((n, 3), np.nan)
    axon_diams = [float("nan"), float("nan")]
    for i, s in enumerate(secs):
        nm = s.hname().split(".")[-1]
        names.append(nm)
        kind = nm.split("[")[0]
        if kind not in SECTION_TYPES:
            raise ConfigError(path, where, f"sections of {sorted(SECTION_TYPES)}", nm)
        types[i] = SECTION_TYPES[kind]
        ps = s.parentseg()
        if ps is not None:
            parent[i] = index[ps.sec.hname()]
            parent_x[i] = ps.x
            child_x[i] = h.section_orientation(sec=s)
        k = int(s.n3d())
        points.append(np.array([[s.x3d(j), s.y3d(j), s.z3d(j), s.diam3d(j)] for j in range(k)]).reshape(k, 4))
        length[i], diam[i] = s.L, s.diam
        if h.pt3dstyle(sec=s):
            refs = (h.ref(0.0), h.ref(0.0), h.ref(0.0))
            h.pt3dstyle(1, *refs, sec=s)
            logical[i] = [r[0] for r in refs]
        if kind == "axon":
            if axon_diams[0] != axon_diams[0]:
                axon_diams[0] = s.diam
            axon_diams[1] = s.diam
    if types[0] != SECTION_TYPES["soma"]:
        soma = np.flatnonzero(types == SECTION_TYPES["soma"])
        if not len(soma):
            raise ConfigError(path, where, "a soma (SWC type 1)", "none")
    table = MorphologyTable(path, names, types, parent, parent_x, child_x, points, length, diam,
                            np.ones(n, np.int64), logical=logical)
    del obj, secs  # the Import3d cell goes away; only the table stays
    return table, (axon_diams[0], axon_diams[1])


def segments_per_section(table: MorphologyTable, d_l: float | None) -> np.ndarray:
    """nseg of each section for a maximum segment length ``d_l`` (µm), bmtk's rule ``1 + 2 int(L / 2 dL)``."""
    if not d_l:
        return table.nseg
    return 1 + 2 * (table.length / (2.0 * d_l)).astype(np.int64)
