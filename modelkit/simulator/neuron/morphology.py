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
import stat
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkit.errors import ConfigError, SonataFormatError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.neuron.biophysics import SECTION_TYPES
from modelkit.sonata.swc import MAX_SWC_BYTES, check_swc, import3d_template

__all__ = ["MorphologyTable", "read_swc", "check_morphology", "segments_per_section", "table_from_sections",
           "segment_props", "Cell"]

_TEMPLATE = import3d_template("ModelkitSWC")
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
    #: sections whose ``L`` is set to ``length`` after their 3-d points (the directed axon stub: bmtk sets
    #: ``L = 30`` after ``pt3dadd``, which rescales the single-precision points NEURON keeps)
    fixed_length: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_sections(self) -> int:
        return len(self.names)

    def has_type(self, name: str) -> bool:
        """Whether the morphology has a section of type ``name`` (soma, axon, dend, apic).

        Parameters
        ----------
        name : str
            A key of ``SECTION_TYPES``.
        """
        return bool(np.any(self.types == SECTION_TYPES[name]))

    def with_axon_stub(self, h: HocObject, kind: str, diams: tuple[float, float], directed: bool = False
                       ) -> "MorphologyTable":
        """The table with the axon replaced by two 30-µm sections, appended last (bmtk's fix_axon_peri /
        fix_axon_allactive: attached at soma(0.5) with diameter 1 µm, or at soma(1) with the diameters of the
        reconstructed axon's first and last sections).

        Without 3-d points the stub is laid out by ``define_shape``; ``directed`` (bmtk's
        ``aibs_*_directed``) gives it 3-d points instead, from the end of the soma along the first
        principal axis of the soma's middle point and the last axon section's points, pointing
        the way the reconstructed axon goes (bmtk's ``get_axon_direction``).

        Parameters
        ----------
        h : HocObject
            NEURON's ``h``.
        kind : str
            ``perisomatic`` (stub at soma(0.5), 1 µm thick) or ``allactive`` (at soma(1), ``diams``).
        diams : (float, float)
            Diameters (µm) of the reconstructed axon's first and last sections.
        directed : bool
            Give the stub 3-d points along the reconstructed axon's direction.

        Raises
        ------
        ConfigError
            ``directed`` and the morphology has no axon.
        """
        stub_points = [np.empty((0, 4)), np.empty((0, 4))]
        d = (1.0, 1.0) if kind == "perisomatic" else diams
        if directed:
            stub_points = self._directed_stub(d)
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
        return MorphologyTable(
            path=self.path, names=[self.names[i] for i in keep] + ["axon[0]", "axon[1]"],
            types=np.concatenate([self.types[keep], [2, 2]]),
            parent=np.concatenate([parent, [soma, n]]),
            parent_x=np.concatenate([self.parent_x[keep], [at, 1.0]]),
            child_x=np.concatenate([self.child_x[keep], [0.0, 0.0]]),
            points=[self.points[i] for i in keep] + stub_points,
            length=np.concatenate([self.length[keep], [STUB_LENGTH, STUB_LENGTH]]),
            diam=np.concatenate([self.diam[keep], list(d)]),
            nseg=np.concatenate([self.nseg[keep], [1, 1]]),
            logical=None if self.logical is None else np.concatenate([self.logical[keep], np.full((2, 3), np.nan)]),
            fixed_length=np.concatenate([np.zeros(len(keep), bool), np.full(2, directed)]) if directed else None)

    def _directed_stub(self, diams: tuple[float, float]) -> list[np.ndarray]:
        """3-d points (x, y, z, diam; µm) of the two stub sections along the reconstructed axon's direction."""
        soma = [self.points[i] for i in np.flatnonzero(self.types == SECTION_TYPES["soma"]).tolist()]
        axon = [self.points[i] for i in np.flatnonzero(self.types == SECTION_TYPES["axon"]).tolist()]
        if not axon or not len(axon[-1]) or not soma or not len(soma[-1]):
            raise ConfigError(self.path, "model_processing (*_directed)",
                              "an axon with 3-d points (its direction orients the axon stub)", "none")
        soma_end = soma[-1][-1, :3]  # as bmtk: the last soma section's last point and middle point, and
        soma_mid = soma[-1][len(soma[-1]) // 2, :3]  # the points of the last axon section only
        tip = axon[-1][:, :3]
        p = np.vstack([soma_mid, tip])
        u = np.linalg.svd(p - p.mean(axis=0), full_matrices=False)[2][0]
        u = u / np.linalg.norm(u)
        if np.dot(u, tip[-1] - soma_mid) < 0:
            u = -u
        ends = [soma_end + k * STUB_LENGTH * u for k in range(3)]
        return [np.column_stack([np.vstack(ends[k:k + 2]), np.full(2, diams[k])]) for k in range(2)]

    def instantiate(self, h: HocObject, label: str) -> "Cell":
        """A new cell with these sections (named ``<label>.<name>``).

        Parameters
        ----------
        h : HocObject
            NEURON's ``h``.
        label : str
            The cell's name (``population[node id]``).
        """
        if not self._vectors:
            # sliced in hoc from one Vector per coordinate: a Vector made from a numpy array per section
            # and coordinate cost ~10 µs each, more than all the sections of a cell take to make
            sizes = [len(p) for p in self.points]
            offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
            cols = [h.Vector(np.ascontiguousarray(c)) for c in
                    (np.concatenate(self.points) if sum(sizes) else np.empty((0, 4))).T]
            self._vectors = [tuple(c.c(a, b - 1) for c in cols) if b > a else None
                             for a, b in zip(offsets[:-1], offsets[1:])]
        owner = _Label(label)
        secs = [h.Section(name=nm, cell=owner) for nm in self.names]
        fixed = self.fixed_length
        for i, sec in enumerate(secs):
            vec = self._vectors[i]
            if vec is not None:
                h.pt3dadd(*vec, sec=sec)
                if self.logical is not None and not np.isnan(self.logical[i, 0]):
                    h.pt3dstyle(1, *self.logical[i].tolist(), sec=sec)
                if fixed is not None and fixed[i]:
                    sec.L = float(self.length[i])
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


def read_swc(h: HocObject, path: str, where: str) -> tuple[MorphologyTable, tuple[float, float]]:
    """Read an SWC file with Import3d into a table (and the diameters of its first and last axon sections, µm).

    Import3d takes ~0.1 s per file, so its result is kept in ``<cache_root>/morphology/<hash>.mkm``
    (hash of the file's bytes, the NEURON version and the table layout): later runs, and the other
    MPI ranks, load the table instead.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    path, where : str
        The SWC file, and the cells that use it (named in errors).

    Raises
    ------
    ConfigError
        The file is missing or Import3d cannot read it (``where`` names the cells).
    SonataFormatError
        The file would make a wrong cell although Import3d reads it (:func:`modelkit.sonata.swc.check_swc`).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the read for ever
            raise ConfigError(path, where, "a regular SWC file", "a FIFO, device or folder")
        if os.path.getsize(path) > MAX_SWC_BYTES:
            raise ConfigError(path, where, f"an SWC file of at most {MAX_SWC_BYTES} bytes",
                              f"{os.path.getsize(path)} bytes")
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as e:
        raise ConfigError(path, where, "an existing SWC morphology (components.morphologies_dir + morphology)",
                          "no such file") from e
    except OSError as e:
        raise ConfigError(path, where, "a readable SWC morphology", str(e)) from e
    cached = _cache_file(data)
    hit = _load_cached(cached, path)
    if hit is not None:  # stored only after check_swc passed (the cache format counts the check's version)
        return hit
    check_morphology(path, where, data)
    table, axon_diams = _import3d(h, path, where)
    _store_cached(cached, table, axon_diams)
    return table, axon_diams


#: bump when the table layout, the way it is derived from Import3d, or check_swc's rules change
_CACHE_FORMAT = 3


def check_morphology(path: str, where: str, data: bytes | None = None) -> None:
    """:func:`~modelkit.sonata.swc.check_swc` for a file Import3d is about to read (``.swc`` only; other
    formats are Import3d's), with ``where`` (the cells) added to the error.

    Parameters
    ----------
    path : str
        The morphology file.
    where : str
        The cells that use it, added to the error.
    data : bytes, optional
        The file's bytes, when already read.

    Raises
    ------
    SonataFormatError
        Naming the file and the line: non-numeric or infinite coordinates, negative radii, unknown or
        repeated ids, a soma sample with a non-soma parent, several roots, cycles.
    """
    if not str(path).lower().endswith(".swc"):
        return
    try:
        check_swc(path, data)
    except SonataFormatError as e:
        e.add_note(f"morphology of {where}")
        raise


def _cache_file(data: bytes) -> str:
    import hashlib

    from modelkit.simulator.neuron.mechanisms import cache_root, no_display_options
    no_display_options()
    import neuron
    d = hashlib.sha256(f"{_CACHE_FORMAT}|{neuron.__version__}|".encode())
    d.update(data)
    return os.path.join(cache_root(), "morphology", d.hexdigest()[:32] + ".mkm")


#: the per-section columns of a cache file, in order (float64)
_COLUMNS = ("types", "parent", "parent_x", "child_x", "length", "diam", "logical_x", "logical_y", "logical_z")
_MAGIC = b"MODELKIT-MORPHOLOGY\n"


def _load_cached(cached: str, path: str) -> tuple[MorphologyTable, tuple[float, float]] | None:
    """A cache file: a magic line, a JSON line (section names, point counts), then float64 arrays (section
    columns, points, axon diameters).  One read and views into it: the twelve-member ``.npz`` this replaced
    cost ~2.5 ms per morphology to open, more than the rest of a small network's cells."""
    import json
    try:
        with open(cached, "rb") as f:
            raw = f.read()
    except OSError:  # absent: Import3d reads the file
        return None
    try:
        if not raw.startswith(_MAGIC):
            return None
        end = raw.index(b"\n", len(_MAGIC))
        head = json.loads(raw[len(_MAGIC):end])
        names, counts = head["names"], np.asarray(head["counts"], dtype=np.int64)
        n, m = len(names), int(counts.sum())
        body = np.frombuffer(raw, dtype="<f8", offset=end + 1)
        if body.size != n * len(_COLUMNS) + 4 * m + 2:
            return None
        cols = body[:n * len(_COLUMNS)].reshape(len(_COLUMNS), n)
        points = np.split(body[n * len(_COLUMNS):n * len(_COLUMNS) + 4 * m].reshape(m, 4), np.cumsum(counts)[:-1])
        table = MorphologyTable(path, list(names), cols[0].astype(np.int64), cols[1].astype(np.int64), cols[2].copy(),
                                cols[3].copy(), points, cols[4].copy(), cols[5].copy(), np.ones(n, np.int64),
                                logical=cols[6:9].T.copy())
        axon = body[-2:]
        return table, (float(axon[0]), float(axon[1]))
    except (ValueError, KeyError, TypeError, IndexError):  # damaged: Import3d reads the file again
        return None


def _store_cached(cached: str, table: MorphologyTable, axon_diams: tuple[float, float]) -> None:
    import json
    import secrets
    logical = table.logical if table.logical is not None else np.full((table.n_sections, 3), np.nan)
    cols = np.vstack([table.types, table.parent, table.parent_x, table.child_x, table.length, table.diam,
                      logical.T]).astype("<f8")
    points = np.concatenate(table.points) if table.points else np.empty((0, 4))
    head = json.dumps({"names": list(table.names), "counts": [len(p) for p in table.points]}).encode()
    tmp = f"{cached}.{secrets.token_hex(4)}.tmp"
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_MAGIC + head + b"\n")
            f.write(np.concatenate([cols.ravel(), points.astype("<f8").ravel(),
                                    np.asarray(axon_diams, dtype="<f8")]).tobytes())
        os.replace(tmp, cached)  # atomic: other ranks or runs see the whole file or none
    except OSError:  # a read-only cache only costs the next run another Import3d read
        if os.path.exists(tmp):
            os.remove(tmp)


def _import3d(h: HocObject, path: str, where: str) -> tuple[MorphologyTable, tuple[float, float]]:
    if not hasattr(h, "ModelkitSWC"):
        h.load_file("import3d.hoc")  # ~50 ms, only paid when a morphology is not in the cache
        h(_TEMPLATE)
    try:
        obj = h.ModelkitSWC(path)
    except RuntimeError as e:
        raise ConfigError(path, where, "an SWC file NEURON's Import3d reads", str(e)) from e
    secs = list(obj.all)
    if not secs:
        raise ConfigError(path, where, "an SWC file with sections", "none")
    table, axon_diams = table_from_sections(h, secs, path, where)
    del obj, secs  # the Import3d cell goes away; only the table stays
    return table, axon_diams


def table_from_sections(h: HocObject, secs: list[HocObject], path: str, where: str
                        ) -> tuple[MorphologyTable, tuple[float, float]]:
    """The table of existing sections (a cell's ``all`` list, in order), and its first and last axon diameters.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    secs : list of HocObject
        The sections, in ``all`` order.
    path : str
        The morphology file or template, kept in the table and named in errors.
    where : str
        The cells, named in errors.

    Raises
    ------
    ConfigError
        A section not named soma/dend/apic/axon, or no soma.
    """
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
    return table, (axon_diams[0], axon_diams[1])


def segments_per_section(table: MorphologyTable, d_l: float | None, d_lambda: float | None = None,
                         freq: float = 100.0, ra: np.ndarray | None = None, cm: np.ndarray | None = None
                         ) -> np.ndarray:
    """nseg of each section.

    Parameters
    ----------
    table : MorphologyTable
    d_l : float or None
        Maximum segment length (µm): bmtk's rule ``1 + 2 int(L / 2 dL)``.
    d_lambda : float, optional
        Maximum segment length as a fraction of the AC length constant at ``freq`` (Hz): NEURON's
        d_lambda rule (``int((L / (d_lambda lambda_f(freq)) + 0.9) / 2) * 2 + 1``, with ``lambda_f``
        integrated over the 3-d points as ``stdlib.hoc`` does).  With ``d_l`` too, the finer of the two.
    ra, cm : ndarray, optional
        Axial resistivity (Ω·cm) and capacitance (µF/cm²) per section (NEURON's 35.4 and 1 when omitted).
    """
    n = 1 + 2 * (table.length / (2.0 * d_l)).astype(np.int64) if d_l else table.nseg
    if not d_lambda:
        return n
    ra = np.full(table.n_sections, 35.4) if ra is None else np.asarray(ra, dtype=float)
    cm = np.full(table.n_sections, 1.0) if cm is None else np.asarray(cm, dtype=float)
    lam = np.zeros(table.n_sections)  # length in units of lambda
    for i, p in enumerate(table.points):
        if len(p) < 2:
            lam[i] = table.length[i] / (1e5 * np.sqrt(table.diam[i] / (4 * np.pi * freq * ra[i] * cm[i])))
        else:
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p[:, :3], axis=0), axis=1))])
            lam[i] = np.sum(np.diff(arc) / np.sqrt(p[:-1, 3] + p[1:, 3])) * np.sqrt(2) * 1e-5 * np.sqrt(
                4 * np.pi * freq * ra[i] * cm[i])
    lam = np.where(cm == 0, 0.0, lam)  # stdlib.hoc: no capacitance, one segment
    by_lambda = ((lam / d_lambda + 0.9) / 2).astype(np.int64) * 2 + 1
    return np.maximum(n, by_lambda) if d_l else by_lambda


def segment_props(h: HocObject, cell: Cell) -> dict[str, np.ndarray]:
    """Per segment (all sections in order): section index, x, length (µm), type, path distance from the soma
    (µm, to the centre, start and end), as bmtk's ``SegmentProps``.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    cell : Cell
        A built cell.
    """
    sec_i, xs, length, types, dist = [], [], [], [], []
    h.distance(sec=cell.soma)
    for i, sec in enumerate(cell.sections):
        code = int(cell.table.types[i])
        for seg in sec:
            sec_i.append(i)
            xs.append(seg.x)
            length.append(sec.L / sec.nseg)
            types.append(code)
            dist.append(h.distance(seg))
    d = np.asarray(dist)
    ln = np.asarray(length)
    return {"section": np.asarray(sec_i), "x": np.asarray(xs), "length": ln, "type": np.asarray(types),
            "dist": d, "dist0": d - ln / 2.0, "dist1": d + ln / 2.0}
