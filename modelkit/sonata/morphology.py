"""Morphologies as NEURON builds them, without NEURON: sections in the order of a cell's ``all`` list.

A SONATA compartment report's ``element_ids`` and an edge's ``afferent_section_id`` index the
sections of the cell the simulator made: for bmtk and modelkit's NEURON backend, the sections that
``Import3d_SWC_read`` + ``Import3d_GUI.instantiate`` create from an SWC file (soma, then axon, dend,
apic sections, each type in the order Import3d splits the file), with the axon replaced by a
two-section stub for the Allen models.  :func:`read_morphology` repeats Import3d's rules (how points
split into sections, which sections get a copy of their parent point, the soma "wire" connections,
the one-point soma drawn as a 3-point cylinder, zero-length sections dropped) on the sample table
that :func:`modelkit.sonata.swc.check_swc` has validated, so viewers and analyses map report columns
onto the right sections with no simulator; tests compare it with NEURON section by section.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import SonataFormatError
from modelkit.sonata.swc import _parse, check_swc

__all__ = ["Morphology", "read_morphology", "axon_stub_kind", "SECTION_TYPE_NAMES", "STUB_LENGTH"]

#: section type code -> name (SWC codes, and the names Import3d gives the sections)
SECTION_TYPE_NAMES: dict[int, str] = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
#: length (µm) of each of the two axon-stub sections of the Allen models (bmtk's fix_axon_*)
STUB_LENGTH = 30.0


@dataclass(frozen=True)
class Morphology:
    """A cell's sections as columns, in the order of NEURON's ``all`` list (µm).

    Attributes
    ----------
    path : str
        The morphology file.
    points : numpy.ndarray, shape (m, 4)
        x, y, z, diameter (µm) of every 3-d point, section after section (NEURON's ``pt3d`` points).
    offsets : numpy.ndarray of int, shape (n + 1,)
        Section ``i`` holds ``points[offsets[i]:offsets[i + 1]]``.
    types : numpy.ndarray of int, shape (n,)
        Section type code: 1 soma, 2 axon, 3 dend, 4 apic.
    parent : numpy.ndarray of int, shape (n,)
        Parent section index (-1 for the root).
    parent_x : numpy.ndarray of float, shape (n,)
        Where each section attaches on its parent (0-1); the section's own 0 end attaches.
    names : tuple of str
        ``soma[0]``, ``axon[0]``, ``dend[3]``, ... (NEURON's names).
    """

    path: str
    points: np.ndarray
    offsets: np.ndarray
    types: np.ndarray
    parent: np.ndarray
    parent_x: np.ndarray
    names: tuple[str, ...]

    @property
    def n_sections(self) -> int:
        """Number of sections."""
        return len(self.types)

    @property
    def section_ids(self) -> np.ndarray:
        """Section index of every point, shape (m,)."""
        return np.repeat(np.arange(self.n_sections), np.diff(self.offsets))

    @property
    def type_names(self) -> np.ndarray:
        """Type name (soma, axon, dend, apic) of every section, shape (n,)."""
        return np.array([SECTION_TYPE_NAMES.get(int(t), f"dend_{int(t)}") for t in self.types])

    def arc(self) -> np.ndarray:
        """Path length (µm) from its section's first point to every point, shape (m,)."""
        step = np.linalg.norm(np.diff(self.points[:, :3], axis=0), axis=1)
        step = np.concatenate([[0.0], step])
        step[self.offsets[:-1][np.diff(self.offsets) > 0]] = 0.0  # no step across a section start
        cum = np.cumsum(step)
        start = cum[np.minimum(self.offsets[:-1], len(cum) - 1)] if len(cum) else np.zeros(self.n_sections)
        return cum - np.repeat(start, np.diff(self.offsets))

    @property
    def lengths(self) -> np.ndarray:
        """Section lengths (µm, along the 3-d points), shape (n,)."""
        a = self.arc()
        ends = self.offsets[1:] - 1
        return np.where(np.diff(self.offsets) > 0, a[np.maximum(ends, 0)] if len(a) else 0.0, 0.0)

    def soma_center(self) -> np.ndarray:
        """Mean of the soma's 3-d points (µm), shape (3,): the point bmtk places at the node's position."""
        on = np.isin(self.section_ids, np.flatnonzero(self.types == 1))
        return self.points[on, :3].mean(axis=0) if on.any() else np.zeros(3)

    def positions_at(self, section: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Points (µm), shape (k, 3), at fractions ``x`` (0-1) of the length of sections ``section``.

        Parameters
        ----------
        section : array of int
            Section indices.
        x : array of float
            Positions along them (0 at the section's start, 1 at its end).

        Raises
        ------
        SonataFormatError
            A section index out of range.
        """
        section = np.asarray(section, dtype=np.int64)
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        if section.size and (section.min() < 0 or section.max() >= self.n_sections):
            raise SonataFormatError(self.path, "section ids", f"section indices 0..{self.n_sections - 1}",
                                    f"{int(section.min())}..{int(section.max())}")
        if self.n_sections and np.any(np.diff(self.offsets)[section] < 1):
            raise SonataFormatError(self.path, "section ids", "sections with 3-d points", "a section without")
        length = self.lengths
        sec = self.section_ids
        # one sorted key over every point (2 * section + fraction of its length): a single searchsorted finds
        # the two points around each position, whatever the number of sections or positions
        key = 2.0 * sec + self.arc() / np.where(length[sec] > 0, length[sec], 1.0)
        q = 2.0 * section + x
        j = np.searchsorted(key, q, side="right") - 1
        first, last = self.offsets[section], self.offsets[section + 1] - 1
        j = np.clip(j, first, np.maximum(first, last - 1))
        k = np.minimum(j + 1, last)
        span = key[k] - key[j]
        t = np.where(span > 0, (q - key[j]) / np.where(span > 0, span, 1.0), 0.0)
        return self.points[j, :3] + t[:, None] * (self.points[k, :3] - self.points[j, :3])

    def with_axon_stub(self, kind: str = "perisomatic", directed: bool = False) -> "Morphology":
        """The morphology with its axon replaced by two 30-µm sections appended last, as bmtk's
        ``fix_axon_peri`` / ``fix_axon_allactive`` (and modelkit's NEURON backend) do for the Allen models.

        ``directed`` (bmtk's ``aibs_*_directed``) gives the stub the 3-d points bmtk gives it: from the
        soma's last point along the first principal axis of the soma's middle point and the last axon
        section's points, pointing the way the axon goes.  Otherwise NEURON lays the stub out with
        ``define_shape``; here it is drawn from the soma (its middle for ``perisomatic``, its 1 end for
        ``allactive``) towards the reconstructed axon's tip: a guide, with the section order exact.

        Parameters
        ----------
        kind : {"perisomatic", "allactive"}
            bmtk's two stubs: 1 µm thick at soma(0.5), or the reconstructed axon's first and last
            diameters at soma(1).
        directed : bool
            bmtk's ``*_directed`` rule for the stub's 3-d points.

        Returns
        -------
        Morphology
        """
        if kind not in ("perisomatic", "allactive"):
            raise ValueError(f"kind: expected 'perisomatic' or 'allactive', found {kind!r}")
        axon = np.flatnonzero(self.types == 2)
        keep = np.flatnonzero(self.types != 2)
        new = np.full(self.n_sections, -1, dtype=np.int64)
        new[keep] = np.arange(len(keep))
        parent = np.where(self.parent[keep] >= 0, new[np.maximum(self.parent[keep], 0)], -1)
        soma_secs = np.flatnonzero(self.types[keep] == 1)
        soma = int(soma_secs[0]) if len(soma_secs) else 0
        at = 0.5 if kind == "perisomatic" else 1.0
        diams = (1.0, 1.0)
        if kind == "allactive" and len(axon):
            d = self.points[:, 3]
            diams = (float(np.mean(d[self.offsets[axon[0]]:self.offsets[axon[0] + 1]])),
                     float(np.mean(d[self.offsets[axon[-1]]:self.offsets[axon[-1] + 1]])))
        if directed and len(axon) and np.any(self.types == 1):
            soma_pts = self.points[self.offsets[keep[soma_secs[-1]]]:self.offsets[keep[soma_secs[-1]] + 1], :3]
            start, mid = soma_pts[-1], soma_pts[len(soma_pts) // 2]
            tip = self.points[self.offsets[axon[-1]]:self.offsets[axon[-1] + 1], :3]
            pts = np.vstack([mid, tip])
            direction = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)[2][0]
            direction = direction / np.linalg.norm(direction)
            if np.dot(direction, tip[-1] - mid) < 0:
                direction = -direction
        else:
            start = self.positions_at(np.array([keep[soma]]), np.array([at]))[0]
            direction = self._axon_direction(axon, start)
        ends = [start + k * STUB_LENGTH * direction for k in range(3)]
        stub = np.vstack([np.column_stack([np.vstack(ends[k:k + 2]), np.full(2, diams[k])]) for k in range(2)])
        parts = [self.points[self.offsets[i]:self.offsets[i + 1]] for i in keep.tolist()]
        counts = np.concatenate([np.diff(self.offsets)[keep], [2, 2]])
        return Morphology(
            path=self.path, points=np.vstack(parts + [stub]),
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            types=np.concatenate([self.types[keep], [2, 2]]).astype(np.int64),
            parent=np.concatenate([parent, [soma, len(keep)]]).astype(np.int64),
            parent_x=np.concatenate([self.parent_x[keep], [at, 1.0]]),
            names=tuple(self.names[i] for i in keep.tolist()) + ("axon[0]", "axon[1]"))

    def _axon_direction(self, axon: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Unit vector from ``start`` towards the reconstructed axon's far end (-y without an axon)."""
        if len(axon):
            tip = self.points[self.offsets[axon[-1]]:self.offsets[axon[-1] + 1], :3]
            if len(tip):
                v = tip[-1] - start
                n = float(np.linalg.norm(v))
                if n > 0:
                    return v / n
        return np.array([0.0, -1.0, 0.0])

    def __repr__(self) -> str:
        counts = {SECTION_TYPE_NAMES.get(int(t), str(t)): int(n) for t, n in zip(*np.unique(self.types,
                                                                                             return_counts=True))}
        return f"<Morphology {os.path.basename(self.path)}: {self.n_sections} sections {counts}>"


def axon_stub_kind(model_template: Any, model_processing: Any, dynamics_params: Any = None) -> str | None:
    """Whether a node type's cells get bmtk's axon stub, and which: ``"perisomatic"``, ``"allactive"`` or None.

    bmtk (and modelkit's NEURON backend) replace the reconstructed axon of ``ctdb:Biophys1`` cells
    with ``aibs_perisomatic*`` / ``aibs_allactive*`` processing and a ``dynamics_params`` file, and of
    every ``nml:`` cell, by a two-section stub appended after the other sections.

    Parameters
    ----------
    model_template, model_processing, dynamics_params : object
        The node type's values (text, or a null value: None, NaN, ``"NULL"``, ``""``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> axon_stub_kind("ctdb:Biophys1.hoc", "aibs_perisomatic", "472363762_fit.json")
    'perisomatic'
    >>> axon_stub_kind("ctdb:Biophys1.hoc", None) is None
    True
    """
    def null(v: Any) -> bool:
        return v is None or (isinstance(v, float) and v != v) or str(v).strip().upper() in ("", "NULL", "NONE",
                                                                                             "NAN")

    template = "" if null(model_template) else str(model_template)
    if template.startswith("nml:"):
        return "perisomatic"
    if template.partition(":")[2] not in ("Biophys1", "Biophys1.hoc") or null(dynamics_params):
        return None
    steps = [] if null(model_processing) else [p.strip() for p in str(model_processing).split(",")]
    if any(p.startswith("aibs_perisomatic") for p in steps):
        return "perisomatic"
    if any(p.startswith("aibs_allactive") for p in steps):
        return "allactive"
    return None


def read_morphology(path: PathLike) -> Morphology:
    """Read an SWC file into the sections NEURON's Import3d makes of it, in ``all`` order.

    Parameters
    ----------
    path : str or PathLike
        An ``.swc`` file.

    Returns
    -------
    Morphology

    Raises
    ------
    SonataFormatError
        The file is missing, not SWC, or a line is wrong (the error names the file and the line): see
        :func:`modelkit.sonata.swc.check_swc`; also ids out of increasing order and a parent listed
        after its child, which NEURON's Import3d cannot read.

    Examples
    --------
    >>> m = read_morphology("Scnn1a_473845048_m.swc")      # doctest: +SKIP
    >>> m.names[:3], m.points.shape                         # doctest: +SKIP
    (('soma[0]', 'axon[0]', 'axon[1]'), (3013, 4))
    """
    p = os.fspath(path)
    if not p.lower().endswith(".swc"):
        raise SonataFormatError(p, None, "an SWC morphology (.swc)", os.path.splitext(p)[1] or "no extension")
    if not os.path.exists(p):
        raise SonataFormatError(p, None, "an existing SWC file", "no such file")
    a = check_swc(p)
    lines = _parse(p, None)[1]
    ids = a[:, 0].astype(np.int64)
    down = np.flatnonzero(np.diff(ids) <= 0)
    if down.size:  # Import3d's re-sort of such files fails ("Arg out of range" in pt2sec): no cell to match
        i = int(down[0]) + 1
        raise SonataFormatError(p, f"line {lines[i]} (sample {ids[i]})", "samples in increasing id order, as "
                                "NEURON's Import3d needs", f"id {ids[i]} after {ids[i - 1]}")
    pid = a[:, 6].astype(np.int64)
    late = np.flatnonzero(pid >= ids)
    if late.size:
        i = int(late[0])
        raise SonataFormatError(p, f"line {lines[i]} (sample {ids[i]})", "a parent listed before its child "
                                "(a smaller id), as NEURON's Import3d needs", f"parent {pid[i]}")
    return _import3d(p, a)


@dataclass
class _Sec:
    """One Import3d_Section: raw points (indices into the samples; -1 marks nothing), its first own point."""

    id: int  # first own sample
    pts: list[int]  # sample indices of raw columns (parent point first for a non-root)
    d: list[float]
    type: int
    parent: "int | None" = None  # index in the section list
    parentx: float = 1.0
    first: int = 0
    sphere: bool = False


def _import3d(path: str, a: np.ndarray) -> Morphology:
    """Import3d_SWC_read (mark_branch, sectionify, mksections) then Import3d_GUI (chk_valid, set_nameindex,
    instantiate), step by step: every rule below is one of NEURON's ``import3d/read_swc.hoc`` and
    ``import3d_gui.hoc``, in their order (the loops are over samples, once per file)."""
    n = len(a)
    ids = a[:, 0].astype(np.int64)
    index = {int(v): i for i, v in enumerate(ids.tolist())}
    pix = [index[int(q)] if q >= 0 else -1 for q in a[:, 6].tolist()]
    typ = a[:, 1].astype(np.int64).tolist()
    xyz = a[:, 2:5]
    d = (2.0 * a[:, 5]).tolist()
    # mark_branch: children per point (a non-contiguous child adds 1.01, a type change 0.01 more)
    nchild = [0.0] * n
    connect2prox = [False] * n
    for i in range(n):
        p = pix[i]
        if p < 0:
            continue
        nchild[p] += 1
        if p != i - 1:
            nchild[p] += 0.01
            if p > 1:
                if typ[p] != 1 and typ[pix[p]] == 1:
                    connect2prox[i] = True
                    nchild[p] = 1
            elif p == 0 and typ[p] != 1:
                connect2prox[i] = True
                nchild[p] = 1
        if typ[p] != typ[i]:
            nchild[p] += 0.01
    # sectionify
    nchild_soma = [0] * n
    nsoma = int(typ[0] == 1) if n else 0
    for i in range(1, n):
        if typ[i] == 1:
            nsoma += 1
            q = pix[i]
            if q >= 0 and typ[q] == 1:
                nchild_soma[q] += 1
    soma3geom = False
    if nsoma == 3 and n > 2 and pix[1] == 0 and pix[2] == 0 and nchild[1] == 0 and nchild[2] == 0 \
            and d[1] == d[0] and d[2] == d[0]:
        length = sum(float(np.linalg.norm(xyz[k] - xyz[0])) for k in (1, 2))
        if abs(length / d[0] - 1) < 0.01:  # neuromorpho.org's 3-point soma: a sphere
            soma3geom = True
            pix[2] = 1
    for i in range(n - 1):
        if typ[i] == 1 and typ[i + 1] == 1 and pix[i + 1] == i and not (i != 0 and nchild_soma[i] > 1):
            nchild[i] = 1
    ends = [i for i in range(n) if nchild[i] != 1]
    point2sec = np.zeros(n, dtype=np.int64)
    si = 0
    for i in range(1, n):
        if i > ends[si]:
            si += 1
        point2sec[i] = si
    # mksections
    secs: list[_Sec] = []
    bounds = np.flatnonzero(np.diff(point2sec)) + 1
    starts = [0] + bounds.tolist()
    stops = bounds.tolist() + [n]
    for isec, (first, stop) in enumerate(zip(starts, stops)):
        if isec == 0:
            stop = 1 if soma3geom else stop
            sec = _Sec(first, list(range(first, stop)), [d[k] for k in range(first, stop)], typ[first])
        else:
            pp = pix[first]
            sec = _Sec(first, [pp] + list(range(first, stop)), [d[pp]] + [d[k] for k in range(first, stop)],
                       typ[first])
            sec.parent = int(point2sec[pp])
            psec = secs[sec.parent]
            den_con_soma = psec.type == 1 and typ[first] != 1
            con_soma = psec.type == 1
            handled = False
            if sec.parent == 0:
                handled = True
                if den_con_soma and len(psec.d) == 1:
                    sec.parentx = 0.5
                    if stop - first > 1:
                        sec.first = 1
                elif pp == psec.id:
                    sec.parentx = 0.0
                    if typ[first] != 1 and nchild_soma[pp] > 1:
                        sec.first = 1
                else:
                    handled = False
            if not handled and con_soma:
                offset = -1 if psec.id == 0 else -2
                if pp < psec.id + len(psec.d) + offset:
                    sec.parentx = 0.5
                    if den_con_soma and stop - first > 1:
                        sec.first = 1
                elif stop - first > 1 and nchild_soma[pp] > 1 and typ[first] != 1:
                    sec.first = 1
            if psec.type == 1 and sec.type != 1:
                sec.d[0] = sec.d[1]
            if connect2prox[first]:
                sec.parentx = 0.0
        secs.append(sec)
    # Import3d_GUI.chk_valid: one-point and zero-length two-point sections go, their children move up
    for i in range(len(secs) - 1, 0, -1):
        s = secs[i]
        own = len(s.pts) - s.first
        zero = own == 2 and np.array_equal(xyz[s.pts[s.first]], xyz[s.pts[s.first + 1]])
        if own <= 1 or zero:
            for c in secs[i + 1:]:
                if c.parent == i:
                    c.parent, c.parentx = s.parent, s.parentx
            for c in secs:
                if c.parent is not None and c.parent > i:
                    c.parent -= 1
            del secs[i]
    # set_nameindex + instantiate: sections created type by type (ascending codes), ``all`` in that order
    nameindex: dict[int, int] = {}
    seq = []
    for k, s in enumerate(secs):
        seq.append((s.type, nameindex.get(s.type, 0), k))
        nameindex[s.type] = nameindex.get(s.type, 0) + 1
    seq.sort()
    new_of = {k: j for j, (_, _, k) in enumerate(seq)}
    pts_out, counts, types, parent, parent_x, names = [], [], [], [], [], []
    for t, ni, k in seq:
        s = secs[k]
        rows = s.pts[s.first:]
        arr = np.column_stack([xyz[rows], np.asarray(s.d[s.first:])])
        if len(arr) == 1:  # sphere_rep: a one-point soma is a 3-point cylinder along x, length = diameter
            c = arr[0]
            arr = np.array([[c[0] - c[3] / 2, c[1], c[2], c[3]], c, [c[0] + c[3] / 2, c[1], c[2], c[3]]])
        pts_out.append(arr)
        counts.append(len(arr))
        types.append(t)
        parent.append(-1 if s.parent is None else new_of[s.parent])
        parent_x.append(s.parentx if s.parent is not None else 0.0)
        names.append(f"{SECTION_TYPE_NAMES.get(t, f'dend_{t}')}[{ni}]")
    return Morphology(path=path, points=np.vstack(pts_out), offsets=np.concatenate([[0], np.cumsum(counts)]),
                      types=np.asarray(types, dtype=np.int64), parent=np.asarray(parent, dtype=np.int64),
                      parent_x=np.asarray(parent_x, dtype=float), names=tuple(names))
