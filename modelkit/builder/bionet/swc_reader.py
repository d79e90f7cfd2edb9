"""Morphology queries for build scripts: bmtk's ``bmtk.builder.bionet.swc_reader`` (``get_swc``, ``SWCReader``).

Build scripts of biophysical networks pick synapse locations while building: ``get_swc(target_node)``
gives the target's morphology, placed and rotated as the node is, and ``choose_sections`` draws
``(afferent_section_id, afferent_section_pos)`` pairs weighted by segment length.  The morphology is read
by NEURON's Import3d into a cell whose ``all`` list has the order that ``afferent_section_id`` indexes in
the simulators (bmtk's and modelkit's NEURON backend), so the ids a script writes point at the same
sections when the network runs.  Needs NEURON (imported on first use).

Lengths and coordinates are in µm.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelkit._typing import ArrayLike, PathLike
from modelkit.errors import BuilderError
from modelkit.sonata.nodes import euler_matrix, rotation_matrix
from modelkit.sonata.swc import import3d_template

__all__ = ["SWCReader", "get_swc", "rotation_matrix", "SegmentProps", "SegmentCoords"]

SegmentProps = namedtuple("SegmentProps", ["type", "area", "x", "dist", "length", "dist0", "dist1", "sec_id"])
SegmentCoords = namedtuple("SegmentCoords", ["p0", "p1", "p05"])

#: section name prefixes and SectionList names -> SWC type code
SEC_TYPE_SWC = {"soma": 1, "somatic": 1, "axon": 2, "axonal": 2, "dend": 3, "basal": 3, "apic": 4, "apical": 4}

#: a cell template reading one SWC file with Import3d (the same reading the simulators do)
_TEMPLATE = import3d_template("ModelkitBuilderSWC", keep_reader=True)


def _neuron() -> Any:
    try:
        from neuron import h
    except ImportError as e:  # pragma: no cover - NEURON is a dependency
        raise BuilderError("SWCReader", "NEURON to read morphologies (pip install neuron)", "it is missing") from e
    if not hasattr(h, "ModelkitBuilderSWC"):
        h.load_file("stdlib.hoc")
        h.load_file("import3d.hoc")
        h(_TEMPLATE)
    return h


def _sec_kind(sec: Any) -> str:
    """``soma``/``dend``/``apic``/``axon`` from a section name such as ``Cell[0].apic[12]``."""
    return sec.name().split(".")[-1].split("[")[0][:4]


class SWCReader:
    """One morphology read through NEURON's Import3d, with segment tables for choosing synapse sites.

    Parameters
    ----------
    swc_path : str or PathLike
        The SWC file.
    rng_seed : int, optional
        Seed of :meth:`choose_sections` (``numpy.random.RandomState(rng_seed)``; None: fresh entropy, as bmtk).

    Raises
    ------
    BuilderError
        The file does not exist.

    Examples
    --------
    >>> swc = SWCReader("components/morphologies/Scnn1a_473845048_m.swc")   # doctest: +SKIP
    >>> swc.fix_axon()                                                       # doctest: +SKIP
    >>> sec_ids, seg_xs = swc.choose_sections(["soma", "dend", "apic"], [0.0, 1e20], n_sections=12)  # doctest: +SKIP
    """

    sec_type_swc = SEC_TYPE_SWC

    def __init__(self, swc_path: PathLike, rng_seed: int | None = None) -> None:
        self.swc_path = os.fspath(swc_path)
        if not os.path.isfile(self.swc_path):
            raise BuilderError("SWCReader(swc_path)", "an existing SWC file", self.swc_path)
        h = _neuron()
        self.hobj = h.ModelkitBuilderSWC(self.swc_path)
        self.rng_seed = rng_seed
        self._prng = np.random.RandomState(rng_seed)
        self._reset()
        self._soma_pos: np.ndarray | None = None
        self._swc_map: pd.DataFrame | None = None
        self._axon_fixed = False
        self._axon_deleted = False

    def _reset(self) -> None:
        self._sections: list | None = None
        self._seg_props: SegmentProps | None = None
        self._seg_coords: SegmentCoords | None = None
        self._nseg: int | None = None

    def _copy(self) -> "SWCReader":
        new = SWCReader(self.swc_path, rng_seed=self.rng_seed)
        if self._axon_fixed:
            new.fix_axon()
        if self._axon_deleted:
            new.delete_axon()
        return new

    # ------------------------------------------------------------ tables
    @property
    def sections(self) -> list:
        """Sections in ``all`` order (the index is ``afferent_section_id``)."""
        if self._sections is None:
            self._sections = list(self.hobj.all)
        return self._sections

    @property
    def n_sections(self) -> int:
        return len(self.sections)

    @property
    def nseg(self) -> int:
        if self._nseg is None:
            self._nseg = int(sum(sec.nseg for sec in self.hobj.all))
        return self._nseg

    @property
    def seg_props(self) -> SegmentProps:
        """Per segment: SWC type, area (µm²), x, path distance from the soma (µm), length, ends, section id."""
        if self._seg_props is None:
            h = _neuron()
            h.distance(sec=self.hobj.soma[0])  # path distances from the soma's 0 end, as bmtk measures them
            rows = []
            for sec_id, sec in enumerate(self.sections):
                code = SEC_TYPE_SWC[_sec_kind(sec)]
                for seg in sec:
                    rows.append((code, h.area(seg.x, sec=sec), seg.x, h.distance(seg), sec.L / sec.nseg, sec_id))
            arr = np.array(rows, dtype=float).reshape(-1, 6)
            length, dist = arr[:, 4], arr[:, 3]
            self._seg_props = SegmentProps(type=arr[:, 0].astype(int), area=arr[:, 1], x=arr[:, 2], dist=dist,
                                           length=length, dist0=dist - length / 2.0, dist1=dist + length / 2.0,
                                           sec_id=arr[:, 5].astype(int))
        return self._seg_props

    @property
    def seg_coords(self) -> SegmentCoords:
        """Start, end and middle of every segment, each ``(3, nseg)`` (µm), from the 3-d points."""
        if self._seg_coords is None:
            h = _neuron()
            p0, p1, p05 = (np.zeros((3, self.nseg)) for _ in range(3))
            ix = 0
            for sec in self.sections:
                n3d = int(h.n3d(sec=sec))
                pts = np.array([[h.x3d(i, sec=sec), h.y3d(i, sec=sec), h.z3d(i, sec=sec)] for i in range(n3d)]).T
                arc = np.array([h.arc3d(i, sec=sec) for i in range(n3d)]) / sec.L
                n = sec.nseg
                mid = (np.arange(n) + 0.5) / n
                for out, where in ((p0, mid - 0.5 / n), (p1, mid + 0.5 / n), (p05, mid)):
                    for k in range(3):
                        out[k, ix:ix + n] = np.interp(where, arc, pts[k]) if n3d else 0.0
                ix += n
            self._seg_coords = SegmentCoords(p0=p0, p1=p1, p05=p05)
        return self._seg_coords

    @property
    def soma_position(self) -> np.ndarray:
        """Mean of the soma's 3-d points (µm)."""
        if self._soma_pos is None:
            h = _neuron()
            pts = [[h.x3d(i, sec=sec), h.y3d(i, sec=sec), h.z3d(i, sec=sec)]
                   for sec in self.hobj.somatic for i in range(int(h.n3d(sec=sec)))]
            self._soma_pos = np.asarray(pts, dtype=float).mean(axis=0)
        return self._soma_pos

    @property
    def swc_map(self) -> pd.DataFrame:
        """SWC sample id and type of every file line, with the index of its section among those of its type."""
        if self._swc_map is None:
            df = pd.read_csv(self.swc_path, sep=r"\s+", names=["id", "type", "x", "y", "z", "r", "pid"],
                             comment="#", usecols=[0, 1])
            nl = self.hobj.nl
            df["nameindex"] = [int(nl.sections.object(int(nl.point2sec[i])).nameindex) for i in range(len(df))]
            self._swc_map = df
        return self._swc_map

    # ------------------------------------------------------------ edits
    def get_section(self, section_idx: int) -> Any:
        return self.sections[section_idx]

    def fix_axon(self) -> None:
        """Replace the axon by the Allen models' stub: two sections of 30 µm, 1 µm diameter."""
        h = _neuron()
        for sec in list(self.hobj.axon):
            h.delete_section(sec=sec)
        h.execute("create axon[2]", self.hobj)
        for sec in self.hobj.axon:
            sec.L = 30.0
            sec.diam = 1.0
            self.hobj.axonal.append(sec=sec)
            self.hobj.all.append(sec=sec)
        self.hobj.axon[0].connect(self.hobj.soma[0], 1.0, 0)
        self.hobj.axon[1].connect(self.hobj.axon[0], 1.0, 0)
        h.define_shape()
        self._reset()
        self._axon_fixed = True

    def delete_axon(self) -> None:
        h = _neuron()
        for sec in list(self.hobj.axon):
            h.delete_section(sec=sec)
        h.define_shape()
        self._reset()
        self._axon_deleted = True

    def set_segment_dl(self, dl: float) -> None:
        """Segments of at most ``dl`` µm (an odd number per section).

        Parameters
        ----------
        dl : float
            Longest segment, µm.
        """
        if self._seg_coords is not None:
            raise BuilderError("set_segment_dl", "a call before the segment coordinates are read",
                               "coordinates already computed")
        for sec in self.hobj.all:
            sec.nseg = 1 + 2 * int(sec.L / (2 * dl))
        self._nseg = None
        self._seg_props = None

    # ------------------------------------------------------------ queries
    def find_sections(self, section_names: Sequence[str], distance_range: Sequence[float]) -> tuple[np.ndarray,
                      np.ndarray]:
        """Segments of the given types overlapping ``distance_range`` (µm from the soma), and the probability of
        each, proportional to its length inside the range.

        Parameters
        ----------
        section_names : list of str
            Section types (``"soma"``, ``"basal"``, ``"apical"``, ``"axon"``, or ``"somatic"``...).
        distance_range : (float, float)
            ``(min, max)`` distance from the soma, µm.
        """
        dmin, dmax = float(distance_range[0]), float(distance_range[1])
        sp = self.seg_props
        overlap = np.maximum(0.0, np.minimum(sp.dist1, dmax) - np.maximum(sp.dist0, dmin)) / sp.length
        try:
            codes = [SEC_TYPE_SWC[n] for n in section_names]
        except KeyError as e:
            raise BuilderError("section_names", f"names among {sorted(SEC_TYPE_SWC)}", repr(e.args[0])) from None
        in_range = np.flatnonzero(overlap > 0)
        labelled = np.concatenate([np.flatnonzero(sp.type == c) for c in codes]) if codes else np.empty(0, int)
        idx = np.intersect1d(in_range, labelled)
        weight = sp.length[idx] * overlap[idx]
        return idx, weight / weight.sum()

    def choose_sections(self, section_names: Sequence[str], distance_range: Sequence[float],
                        n_sections: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``n_sections`` (section id, x) pairs drawn by :meth:`find_sections`' probabilities (with replacement).

        Parameters
        ----------
        section_names, distance_range
            As :meth:`find_sections`.
        n_sections : int, optional
            Pairs to draw.
        """
        segs, probs = self.find_sections(section_names, distance_range)
        if segs.size == 0:
            raise BuilderError("choose_sections", f"segments of {list(section_names)} within {list(distance_range)} "
                               f"µm of the soma in {self.swc_path}", "none")
        pick = self._prng.choice(segs, n_sections, p=probs)
        return self.seg_props.sec_id[pick], self.seg_props.x[pick]

    def move_and_rotate(self, soma_coords: ArrayLike | None = None, rotation_angles: Sequence[float] | None = None,
                        inplace: bool = False) -> "SWCReader":
        """Segment coordinates rotated about the soma (x, then y, then z angles, radians) and moved to
        ``soma_coords`` (µm); a new reader unless ``inplace``.

        Parameters
        ----------
        soma_coords : array-like of float, optional
            Where the soma goes, (x, y, z) in µm.
        rotation_angles : (float, float, float), optional
            Angles about x, y and z, radians.
        inplace : bool, optional
            Change this reader (else return a new one).
        """
        old = self.seg_coords
        p0, p1, p05 = old.p0.copy(), old.p1.copy(), old.p05.copy()
        soma = self.soma_position.copy()
        if rotation_angles is not None:
            if len(rotation_angles) != 3:
                raise BuilderError("rotation_angles", "3 angles (radians)", repr(rotation_angles))
            c = soma.reshape(3, 1)
            rot = euler_matrix(rotation_angles)
            p0, p1, p05 = (rot @ (p - c) + c for p in (p0, p1, p05))
        if soma_coords is not None:
            target = np.asarray(soma_coords, dtype=float)
            if target.shape != (3,):
                raise BuilderError("soma_coords", "3 coordinates (µm)", repr(soma_coords))
            shift = (target - self.soma_position).reshape(3, 1)
            p0, p1, p05 = p0 + shift, p1 + shift, p05 + shift
            soma = target
        coords = SegmentCoords(p0=p0, p1=p1, p05=p05)
        if inplace:
            self._seg_coords = coords
            return self
        new = self._copy()
        new._seg_props = self.seg_props
        new._swc_map = self._swc_map
        new._nseg = self.nseg
        new._seg_coords = coords
        new._soma_pos = soma
        return new

    def get_coords(self, sec_id: int, sec_x: float) -> np.ndarray:
        """Middle of the segment of section ``sec_id`` nearest ``sec_x`` (µm).

        Parameters
        ----------
        sec_id : int
            Section id.
        sec_x : float
            Position along the section, 0-1.
        """
        segs = np.flatnonzero(self.seg_props.sec_id == sec_id)
        k = segs[np.argmin(np.abs(sec_x - self.seg_props.x[segs]))]
        return self.seg_coords.p05[:, k]

    def get_swc_id(self, sec_id: int, sec_x: float) -> tuple[int, float]:
        """The SWC sample nearest ``sec_x`` along section ``sec_id``, and the fraction left to it (as bmtk:
        the samples of a section are taken as evenly spaced).

        Parameters
        ----------
        sec_id, sec_x
            As :meth:`get_coords`.
        """
        sec = self.sections[sec_id]
        name = sec.hname().split(".")[-1]
        kind = SEC_TYPE_SWC[name.split("[")[0]]
        found = re.search(r"\[(\d+)\]", name)
        nameindex = int(found.group(1)) if found else 0
        m = self.swc_map
        ids = m["id"].to_numpy()[(m["type"].to_numpy() == kind) & (m["nameindex"].to_numpy() == nameindex)]
        if len(ids) == 1:
            return ids[0], sec_x
        place = max(0.0, sec_x * len(ids) - 1.0)
        k = int(np.ceil(place))
        return ids[k], k - place


#: readers by population and node id (``get_swc(..., use_cache=True)``)
swc_cache: dict[str, dict[int, SWCReader]] = {}


def get_swc(cell: Mapping[str, Any], morphology_dir: PathLike | None = None, use_cache: bool = False,
            dL: float | None = None) -> SWCReader:
    """The morphology of a node (its ``morphology`` property), placed at its ``x, y, z`` and rotated by its
    ``rotation_angle_[xyz]axis`` (µm, radians); Allen ``aibs_perisomatic`` cells get the axon stub.

    Parameters
    ----------
    cell : node
        A node of ``builder.nodes()`` (a dict with ``node_id``, ``morphology``, ...).
    morphology_dir : str, optional
        Folder of the morphology files.
    use_cache : bool
        Keep the reader per (population, node id) and return it again.
    dL : float, optional
        Maximum segment length (µm).

    Returns
    -------
    SWCReader

    Raises
    ------
    BuilderError
        The morphology file does not exist (naming it).
    """
    pop = cell.get("population", "default")
    nid = cell["node_id"]
    if use_cache and nid in swc_cache.get(pop, {}):
        return swc_cache[pop][nid]
    path = os.fspath(cell["morphology"])
    if morphology_dir:
        path = os.path.join(os.fspath(morphology_dir), path)
    if not os.path.exists(path) and not path.endswith(".swc"):
        path += ".swc"
    if not os.path.exists(path):
        raise BuilderError(f"get_swc(node {nid}: morphology)", "an existing SWC file", path)
    swc = SWCReader(path)
    if dL:
        swc.set_segment_dl(dL)
    if cell.get("model_processing", "NULL") == "aibs_perisomatic":
        swc.fix_axon()
    soma = [cell.get(k, 0.0) for k in ("x", "y", "z")] if any(k in cell for k in ("x", "y", "z")) else None
    rot_keys = ("rotation_angle_xaxis", "rotation_angle_yaxis", "rotation_angle_zaxis")
    rot = [cell.get(k, 0.0) for k in rot_keys] if any(k in cell for k in rot_keys) else None
    swc = swc.move_and_rotate(soma_coords=soma, rotation_angles=rot)
    if use_cache:
        swc_cache.setdefault(pop, {})[nid] = swc
    return swc
