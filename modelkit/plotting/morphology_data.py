"""What a morphology figure draws, as columns and with no plotting library: the sections of many cells,
placed and rotated as bmtk places them, as one vertex table with a gap row after every section.

A figure takes rows by section type (one line trace per type) or all of them (one trace coloured by a
report): the gap rows keep the sections apart in either case, so a few hundred cells are a handful
of traces, never one per section.  :meth:`MorphologyScene.frame_colors` turns one frame of an
all-segment compartment report into one value per row, through a row -> report column index worked
out once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modelkit.errors import ConfigError, SonataFormatError
from modelkit.sonata.morphology import Morphology, axon_stub_kind, read_morphology

if TYPE_CHECKING:
    from modelkit.sonata import Network
    from modelkit.sonata.reports import ReportPopulation

__all__ = ["MorphologyScene", "morphology_scene", "network_cells", "synapse_locations", "edge_synapses",
           "section_segments", "segment_rows"]


@dataclass(frozen=True)
class MorphologyScene:
    """Vertices of the sections of one or more cells (µm), a NaN gap row after each section.

    Attributes
    ----------
    xyz : numpy.ndarray, shape (r, 3)
        Placed points; NaN on gap rows.
    cell : numpy.ndarray of int, shape (r,)
        Index of the row's cell (in ``node_ids`` order).
    section : numpy.ndarray of int, shape (r,)
        Section index within its cell (``all`` order).
    frac : numpy.ndarray of float, shape (r,)
        Position of the point along its section (0-1); NaN on gap rows.
    types : numpy.ndarray of int, shape (r,)
        Section type code (1 soma, 2 axon, 3 dend, 4 apic), on gap rows too.
    node_ids : numpy.ndarray of int
        The cells' node ids (``arange`` for morphologies given without a network).
    population : str or None
        Their population.
    morphologies : tuple of Morphology
        Each cell's morphology (shared objects for cells of the same file).
    positions, rotations : numpy.ndarray
        Soma positions (n, 3) µm and rotation matrices (n, 3, 3).
    centres : numpy.ndarray
        Each cell's soma centre in its morphology's frame (n, 3) µm: the point moved to its position.
    """

    xyz: np.ndarray
    cell: np.ndarray
    section: np.ndarray
    frac: np.ndarray
    types: np.ndarray
    node_ids: np.ndarray
    population: str | None
    morphologies: tuple[Morphology, ...]
    positions: np.ndarray
    rotations: np.ndarray
    centres: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.cell)

    def place(self, cell: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Morphology-frame points (µm, shape (k, 3)) of cells ``cell`` (indices) in the scene's frame."""
        cell = np.asarray(cell, dtype=np.int64)
        rel = points - self.centres[cell]
        return np.einsum("kij,kj->ki", self.rotations[cell], rel) + self.positions[cell]

    def report_columns(self, report: ReportPopulation) -> np.ndarray:
        """For every row, the column of ``report`` (an all-segment compartment report population) holding
        its segment: the column of the row's section whose ``element_pos`` is nearest to the row's position
        (that segment contains it); -1 on gap rows and sections the report does not record.

        Parameters
        ----------
        report : ReportPopulation
            ``CompartmentReport(path)[population]``, with ``element_ids`` that are section indices.

        Returns
        -------
        numpy.ndarray of int, shape (r,)

        Raises
        ------
        SonataFormatError
            A report section index beyond a cell's sections (the report was made from other sections, e.g.
            without bmtk's axon stub).
        """
        out = np.full(self.n_rows, -1, dtype=np.int64)
        ip = report.index_pointers
        rec = {int(n): k for k, n in enumerate(report.node_ids.tolist())}
        pos = report.element_pos if report.element_pos is not None else np.full(len(report.element_ids), 0.5)
        starts = np.searchsorted(self.cell, np.arange(len(self.node_ids)))
        stops = np.searchsorted(self.cell, np.arange(len(self.node_ids)), side="right")
        for c, nid in enumerate(self.node_ids.tolist()):
            k = rec.get(int(nid))
            if k is None:
                continue
            a, b = int(ip[k]), int(ip[k + 1])
            el = np.asarray(report.element_ids[a:b], dtype=np.int64)
            n_sec = self.morphologies[c].n_sections
            if el.size and el.max() >= n_sec:
                raise SonataFormatError(report.path, f"/report/{report.population}/mapping/element_ids",
                                        f"section indices below {n_sec} for node {nid} "
                                        f"({os.path.basename(self.morphologies[c].path)})",
                                        f"section {int(el.max())}")
            key = el + 0.5 * np.clip(pos[a:b], 0.0, 1.0)  # a section's columns sort within [sec, sec + 0.5]
            order = np.argsort(key, kind="stable")
            key = key[order]
            r0, r1 = int(starts[c]), int(stops[c])
            sec = self.section[r0:r1]
            rk = sec + 0.5 * np.nan_to_num(self.frac[r0:r1])
            j = np.searchsorted(key, rk)
            lo, hi = np.clip(j - 1, 0, len(key) - 1), np.clip(j, 0, len(key) - 1)
            sec_lo, sec_hi = np.floor(key[lo]).astype(np.int64), np.floor(key[hi]).astype(np.int64)
            d_lo = np.where(sec_lo == sec, np.abs(rk - key[lo]), np.inf)
            d_hi = np.where(sec_hi == sec, np.abs(key[hi] - rk), np.inf)
            pick = np.where(d_hi < d_lo, hi, lo)
            found = np.isfinite(np.minimum(d_lo, d_hi)) & ~np.isnan(self.frac[r0:r1])
            out[r0:r1] = np.where(found, a + order[pick], -1)
        return out


#: bmtk's segment rule (``nseg = 1 + 2 * int(L / 40)``, aibs_perisomatic and allactive): the segment
#: boundaries a "segments" scene draws a vertex at
SEGMENT_UM = 40.0
#: a segment-boundary vertex sits this fraction of its section before the boundary, so that the report
#: column nearest to it is the segment ending there (never a tie with the next one)
_BEFORE_BOUNDARY = 1e-6


def section_segments(m: Morphology) -> np.ndarray:
    """Segments per section by bmtk's rule ``1 + 2 * int(L / 40 µm)`` (shape (n,), int).

    Parameters
    ----------
    m : Morphology
    """
    return 1 + 2 * (m.lengths // SEGMENT_UM).astype(np.int64)


def _segment_template(m: Morphology, every: int) -> tuple[np.ndarray, ...]:
    """One morphology's rows at the level of detail of its segments: a vertex at every ``every``-th
    segment boundary (and each section's end) instead of every 3-D point.

    Sections are chained into polylines (a child attached at its parent's end, of the parent's type,
    continues the parent's line: its start is the parent's last vertex), so a branch costs one start
    vertex and one gap row, not a gap per section; a line ends with a gap row of its last section.
    Returns xyz, section, frac, type as :func:`_template`.
    """
    n = m.n_sections
    nv = -(-section_segments(m) // every)  # vertices after each section's start
    children: list[list[int]] = [[] for _ in range(n)]
    for s, p in enumerate(m.parent.tolist()):
        if p >= 0:
            children[p].append(s)
    secs: list[int] = []
    fracs: list[float] = []
    gap_after: list[int] = []  # index in secs after which a gap row goes
    tail = -1  # section whose end the open line is at (-1: no open line)
    stack = [s for s in range(n - 1, -1, -1) if m.parent[s] < 0]
    while stack:
        s = stack.pop()
        p = int(m.parent[s])
        if not (p >= 0 and tail == p and m.parent_x[s] == 1.0 and m.types[s] == m.types[p]):
            if tail >= 0:
                gap_after.append(len(secs) - 1)
            secs.append(s)
            fracs.append(0.0)
        k = int(nv[s])
        secs.extend([s] * k)
        fracs.extend((np.arange(1, k + 1) / k - _BEFORE_BOUNDARY).tolist())
        fracs[-1] = 1.0  # the section's end, exactly
        tail = s
        stack.extend(reversed(children[s]))
    if secs:
        gap_after.append(len(secs) - 1)
    sec = np.asarray(secs, dtype=np.int64)
    frac = np.asarray(fracs, dtype=float)
    xyz = m.positions_at(sec, frac) if sec.size else np.empty((0, 3))
    total = len(sec) + len(gap_after)
    is_gap = np.zeros(total, dtype=bool)
    is_gap[np.asarray(gap_after, dtype=np.int64) + np.arange(1, len(gap_after) + 1)] = True
    out_xyz = np.full((total, 3), np.nan)
    out_xyz[~is_gap] = xyz
    out_sec = np.empty(total, dtype=np.int64)
    out_sec[~is_gap] = sec
    out_sec[is_gap] = sec[np.asarray(gap_after, dtype=np.int64)]
    out_frac = np.full(total, np.nan)
    out_frac[~is_gap] = frac
    return out_xyz, out_sec, out_frac, m.types[out_sec]


def segment_rows(morphologies: Sequence[Morphology], every: int) -> int:
    """Rows of a ``detail="segments"`` scene of these cells (each distinct morphology worked out once).

    Parameters
    ----------
    morphologies : sequence of Morphology
        One per cell.
    every : int
        Keep every ``every``-th segment boundary (and each section's end).
    """
    rows: dict[int, int] = {}
    total = 0
    for m in morphologies:
        if id(m) not in rows:
            rows[id(m)] = len(_segment_template(m, every)[1])
        total += rows[id(m)]
    return total


def _template(m: Morphology, decimate: int) -> tuple[np.ndarray, ...]:
    """One morphology's rows (points with a gap row after each section): xyz, section, frac, type."""
    arc = m.arc()
    lengths = m.lengths
    sec = m.section_ids
    frac = arc / np.where(lengths[sec] > 0, lengths[sec], 1.0)
    keep = np.ones(len(sec), dtype=bool)
    if decimate > 1:  # every decimate-th point, and always each section's first and last
        k = np.arange(len(sec)) - m.offsets[:-1][sec]
        last = m.offsets[1:][sec] - 1
        keep = (k % decimate == 0) | (np.arange(len(sec)) == last)
    xyz, sec, frac = m.points[keep, :3], sec[keep], frac[keep]
    # a gap row after each section's last kept row
    n = m.n_sections
    counts = np.bincount(sec, minlength=n)
    row_of_gap = np.cumsum(counts) + np.arange(n)  # positions in the output
    total = len(sec) + n
    is_gap = np.zeros(total, dtype=bool)
    is_gap[row_of_gap] = True
    out_xyz = np.full((total, 3), np.nan)
    out_xyz[~is_gap] = xyz
    out_sec = np.empty(total, dtype=np.int64)
    out_sec[~is_gap] = sec
    out_sec[is_gap] = np.arange(n)
    out_frac = np.full(total, np.nan)
    out_frac[~is_gap] = frac
    return out_xyz, out_sec, out_frac, m.types[out_sec]


def morphology_scene(morphologies: Sequence[Morphology], *, positions: np.ndarray | None = None,
                     rotations: np.ndarray | None = None, node_ids: Sequence[int] | np.ndarray | None = None,
                     population: str | None = None, decimate: int = 1, detail: str = "points") -> MorphologyScene:
    """Place cells: each morphology's soma centre (mean of its soma points) moved to its position after
    rotating the cell about it (``R @ (p - soma) + position``, bmtk's rule).

    Parameters
    ----------
    morphologies : sequence of Morphology
        One per cell (the same object may repeat: its rows are worked out once).
    positions : numpy.ndarray, shape (n, 3), optional
        Soma positions (µm); each cell where its file has it when omitted.
    rotations : numpy.ndarray, shape (n, 3, 3), optional
        Rotation matrices (local -> world); none when omitted.
    node_ids : sequence of int, optional
        The cells' node ids (``0..n-1`` when omitted).
    population : str, optional
        Their population.
    decimate : int
        Keep every ``decimate``-th point of a section (and its ends), or with ``detail="segments"`` every
        ``decimate``-th segment boundary, for hundreds of cells.
    detail : {"points", "segments"}
        Draw every 3-D point of the files, or one vertex per segment boundary (bmtk's
        ``1 + 2 * int(L / 40 µm)`` segments; the colour of a report is one value per segment anyway), with
        sections chained into polylines (fewer gap rows; the topology is kept, the shape between two
        boundaries is a straight line).

    Returns
    -------
    MorphologyScene
    """
    n = len(morphologies)
    if decimate < 1:
        raise ConfigError(None, "decimate", "an integer >= 1", repr(decimate))
    if detail not in ("points", "segments"):
        raise ConfigError(None, "detail", "'points' or 'segments'", repr(detail))
    make = _template if detail == "points" else _segment_template
    ids = np.arange(n) if node_ids is None else np.asarray(node_ids, dtype=np.int64)
    centre_of: dict[int, np.ndarray] = {}
    for m in morphologies:
        if id(m) not in centre_of:
            centre_of[id(m)] = m.soma_center()
    centres = np.stack([centre_of[id(m)] for m in morphologies]) if n else np.zeros((0, 3))
    pos = centres if positions is None else np.asarray(positions, dtype=float).reshape(n, 3)
    rot = np.broadcast_to(np.eye(3), (n, 3, 3)).copy() if rotations is None else np.asarray(rotations, float)
    cache: dict[int, tuple[np.ndarray, ...]] = {}
    parts: list[tuple[np.ndarray, ...]] = []
    cells = []
    for c, m in enumerate(morphologies):
        t = cache.get(id(m))
        if t is None:
            t = cache[id(m)] = make(m, decimate)
        xyz = (t[0] - centres[c]) @ rot[c].T + pos[c]
        parts.append((xyz,) + t[1:])
        cells.append(np.full(len(t[1]), c, dtype=np.int64))
    if not parts:
        empty = np.empty(0)
        return MorphologyScene(np.empty((0, 3)), empty.astype(np.int64), empty.astype(np.int64), empty,
                               empty.astype(np.int64), ids, population, tuple(morphologies), pos, rot, centres)
    return MorphologyScene(np.concatenate([p[0] for p in parts]), np.concatenate(cells),
                           np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]),
                           np.concatenate([p[3] for p in parts]), ids, population, tuple(morphologies), pos, rot,
                           centres)


def network_cells(network: Network, population: str, node_ids: Sequence[int] | None = None
                  ) -> tuple[np.ndarray, list[Morphology], np.ndarray, np.ndarray]:
    """The biophysical cells of a population with their morphologies as the simulator builds them (bmtk's axon
    stub where the node type asks for it), positions (µm) and rotations.

    Parameters
    ----------
    network : Network
        A network loaded from a config (``components.morphologies_dir`` says where the files are).
    population : str
        Node population.
    node_ids : sequence of int, optional
        Nodes to take (every node with a ``morphology`` when omitted).

    Returns
    -------
    node_ids, morphologies, positions (n, 3), rotations (n, 3, 3)

    Raises
    ------
    ConfigError
        No ``components.morphologies_dir``, or a chosen node without a morphology.
    """
    from modelkit.sonata.swc import morphology_path
    pop = network.nodes[population]
    comps = getattr(network.config, "components", None) or {}
    mdir = comps.get("morphologies_dir")
    if not mdir:
        raise ConfigError(getattr(network.config, "path", None), "components.morphologies_dir",
                          "the folder of the morphology files", "none")
    all_ids = pop.node_ids
    ids = np.asarray(all_ids if node_ids is None else node_ids, dtype=np.int64)
    names = set(pop.attribute_names)
    if "morphology" not in names:
        raise ConfigError(pop.path, f"{population}: morphology", "a morphology column (biophysical cells)", "none")
    morph = pop.column("morphology", ids)

    def col(name: str) -> np.ndarray:
        return pop.column(name, ids) if name in names else np.full(len(ids), None, dtype=object)

    template, proc, dyn = col("model_template"), col("model_processing"), col("dynamics_params")
    if node_ids is None:  # every cell with a morphology
        has = np.array([isinstance(v, str) and v.strip().upper() not in ("", "NULL", "NONE") for v in morph])
        ids, morph, template, proc, dyn = ids[has], morph[has], template[has], proc[has], dyn[has]
    cache: dict[tuple, Morphology] = {}
    out = []
    for k, nid in enumerate(ids.tolist()):  # one read per distinct (file, stub): cells share them
        name = morph[k]
        if not isinstance(name, str) or name.strip().upper() in ("", "NULL", "NONE"):
            raise ConfigError(pop.path, f"{population}[{nid}]: morphology", "an SWC file name", repr(name))
        stub = axon_stub_kind(template[k], proc[k], dyn[k])
        directed = stub is not None and "_directed" in str(proc[k])
        key = (name, stub, directed)
        m = cache.get(key)
        if m is None:
            m = read_morphology(morphology_path(mdir, name))
            if stub is not None:
                m = m.with_axon_stub(stub, directed=directed)
            cache[key] = m
        out.append(m)
    positions = pop.positions(ids) if pop.has_positions() else None
    pos = np.zeros((len(ids), 3)) if positions is None else np.asarray(positions, dtype=float)
    return ids, out, pos, pop.rotations(ids)


def synapse_locations(scene: MorphologyScene, sections: np.ndarray, pos: np.ndarray, cell: np.ndarray
                      ) -> np.ndarray:
    """Placed points (µm, shape (k, 3)) of synapses at section ``sections`` position ``pos`` (0-1) of scene
    cells ``cell`` (indices into ``scene.node_ids``).

    Parameters
    ----------
    scene : MorphologyScene
    sections, pos, cell : numpy.ndarray
        Per synapse: section index, position along it, cell index.
    """
    sections = np.asarray(sections, dtype=np.int64)
    pos = np.asarray(pos, dtype=float)
    cell = np.asarray(cell, dtype=np.int64)
    local = np.empty((len(cell), 3))
    for c in np.unique(cell).tolist():
        at = cell == c
        local[at] = scene.morphologies[c].positions_at(sections[at], pos[at])
    return scene.place(cell, local)


def edge_synapses(network: Network, scene: MorphologyScene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapses onto the scene's cells from every edge population with ``afferent_section_id`` and
    ``afferent_section_pos`` (or bmtk's older ``sec_id``/``sec_x``): (cell index, section, position) arrays.

    Parameters
    ----------
    network : Network
    scene : MorphologyScene
    """
    cells, secs, poss = [], [], []
    index = {int(n): k for k, n in enumerate(scene.node_ids.tolist())}
    for name in network.edges:
        e = network.edges[name]
        if e.target != scene.population:
            continue
        attrs = set(e.attribute_names)
        cols = next(((a, b) for a, b in (("afferent_section_id", "afferent_section_pos"), ("sec_id", "sec_x"))
                     if a in attrs and b in attrs), None)
        if cols is None:
            continue
        tgt = np.asarray(e.target_ids())
        take = np.flatnonzero(np.isin(tgt, scene.node_ids))
        if not take.size:
            continue
        s = np.asarray(e.column(cols[0], take), dtype=float).astype(np.int64)
        x = np.asarray(e.column(cols[1], take), dtype=float)
        cells.append(np.array([index[int(t)] for t in tgt[take].tolist()], dtype=np.int64))
        secs.append(s)
        poss.append(x)
    if not cells:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(cells), np.concatenate(secs), np.concatenate(poss)
