"""SWC morphologies: a strict reading of the sample table, with no simulator.

NEURON's Import3d (which bmtk and the NEURON backend use) reads files that make a wrong cell
without a word: ``nan`` or text in place of a coordinate, negative radii, a soma sample hanging off
a dendrite, parents that do not exist, cycles, repeated ids.  :func:`check_swc` refuses them with a
:class:`~modelkit.errors.SonataFormatError` naming the file and the line, so that the NEURON
backend (before Import3d) and :func:`modelkit.validate` (without NEURON) agree.
"""

from __future__ import annotations

import io
import os
import stat
from array import array

import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import SonataFormatError

__all__ = ["read_swc_samples", "check_swc", "morphology_path", "import3d_template", "SWC_SOMA", "SWC_TYPES",
           "MAX_SWC_BYTES"]

#: SWC type code of the soma
SWC_SOMA = 1
#: the type codes a cell is built from: soma, axon, (basal) dendrite, apical dendrite
SWC_TYPES = (1, 2, 3, 4)
#: a morphology larger than this (bytes) is refused before it is parsed (the largest of the corpus is 0.3 MB,
#: whole-brain axon reconstructions reach tens of MB; parsing takes ~3 s and ~150 MB per 10^6 samples)
MAX_SWC_BYTES = 64 * 1024 * 1024


def morphology_path(morphologies_dir: PathLike, morphology: str) -> str:
    """The file a node's ``morphology`` names: ``morphologies_dir/morphology``, with ``.swc`` added when that
    does not exist and the name does not end in ``.swc`` (SONATA lets the extension go, and Allen names such as
    ``Rbp4-Cre_KL100_Ai14-180747.06.01.01_495335491_m`` hold dots, so a dot is no sign of one: bmtk's rule).

    Parameters
    ----------
    morphologies_dir : str or PathLike
        ``components.morphologies_dir`` (absolute).
    morphology : str
        The node's ``morphology`` value.

    Returns
    -------
    str
        The path, existing or not.

    Examples
    --------
    >>> morphology_path("/nowhere", "cell.06.01_m")
    '/nowhere/cell.06.01_m.swc'
    """
    path = os.path.join(os.fspath(morphologies_dir), str(morphology))
    if not os.path.exists(path) and not path.lower().endswith(".swc"):
        path += ".swc"
    return path


def import3d_template(name: str, *, keep_reader: bool = False) -> str:
    """The HOC text of a cell template that reads one SWC file (its ``$s1`` argument) with NEURON's Import3d.

    The builder's ``SWCReader`` and the NEURON backend both read morphologies through it, so that the order of
    the cell's ``all`` list, which ``afferent_section_id`` indexes, is the same when a network is built and when
    it runs.  The text is only a string here: whoever instantiates it loads ``import3d.hoc`` first.

    Parameters
    ----------
    name : str
        The template's name (a HOC identifier, defined once per process).
    keep_reader : bool
        Keep the ``Import3d_SWC_read`` object as the public ``nl`` of every cell (for the map from SWC samples to
        sections); without it the reader goes away after the cell is built.

    Returns
    -------
    str
        ``begintemplate name ... endtemplate name``.

    Examples
    --------
    >>> "Import3d_SWC_read" in import3d_template("MySWC")
    True
    """
    nl = ", nl" if keep_reader else ""
    local = "i3d" if keep_reader else "nl, i3d"
    return f"""
begintemplate {name}
public soma, dend, apic, axon, all, somatic, basal, apical, axonal{nl}
objref all, somatic, basal, apical, axonal{nl}, this
create soma[1], dend[1], apic[1], axon[1]
proc init() {{ localobj {local}
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
}}
endtemplate {name}
"""


def read_swc_samples(path: PathLike, data: bytes | None = None) -> np.ndarray:
    """The samples of an SWC file as an ``(n, 7)`` float array: id, type, x, y, z, radius (µm), parent.

    Parameters
    ----------
    path : str or PathLike
        The file (read unless ``data`` is given; named in errors).
    data : bytes, optional
        Its contents, when already read.

    Returns
    -------
    numpy.ndarray
        One row per sample, in file order.

    Raises
    ------
    SonataFormatError
        A line (``line N``, counted from 1) without seven numbers, an id, type or parent that is not a
        whole number, a type other than 1-4, a coordinate or radius that is not finite, a negative radius.
    """
    return _parse(path, data)[0]


def _parse(path: PathLike, data: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    """The samples, and the line number (from 1) of each."""
    p = os.fspath(path)
    try:
        size = len(data) if data is not None else os.path.getsize(p)
        if size > MAX_SWC_BYTES:
            raise SonataFormatError(p, None, f"an SWC file of at most {MAX_SWC_BYTES} bytes", f"{size} bytes")
        if data is None:
            if not stat.S_ISREG(os.stat(p).st_mode):  # a FIFO would block the open for ever
                raise SonataFormatError(p, None, "a regular SWC file", "a FIFO, device or folder")
            with open(p, "rb") as f:
                data = f.read(MAX_SWC_BYTES + 1)  # bounded even if the file grows meanwhile (or is a FIFO)
            if len(data) > MAX_SWC_BYTES:
                raise SonataFormatError(p, None, f"an SWC file of at most {MAX_SWC_BYTES} bytes", "more")
    except OSError as e:
        raise SonataFormatError(p, None, "a readable SWC file", str(e)) from e
    flat = array("d")  # 8 bytes a value: a list of lists would take ~40 times the file's size
    lines = array("q")
    for k, raw in enumerate(io.BytesIO(data), start=1):  # line by line: no list of every line
        body = raw.split(b"#", 1)[0].decode("utf-8", "replace").strip()
        if not body:
            continue
        tokens = body.split()
        if len(tokens) != 7:
            raise SonataFormatError(p, f"line {k}", "7 fields: id type x y z radius parent",
                                    f"{len(tokens)} fields {body[:80]!r}")
        try:
            vals = [float(t) for t in tokens]
        except ValueError as e:
            raise SonataFormatError(p, f"line {k}", "numbers: id type x y z radius parent", repr(body[:80])) from e
        flat.extend(vals)
        lines.append(k)
    if not lines:
        raise SonataFormatError(p, None, "SWC samples (id type x y z radius parent)", "none")
    a = np.frombuffer(flat, dtype=float).reshape(-1, 7)
    line_no = np.frombuffer(lines, dtype=np.int64)

    def fail(mask: np.ndarray, expected: str, column: int | None = None) -> None:
        i = int(np.flatnonzero(mask)[0])
        found = f"{a[i, column]!r}" if column is not None else f"sample {a[i, 0]:g}"
        n = int(mask.sum())
        if n > 1:
            found += f" ({n} samples)"
        raise SonataFormatError(p, f"line {line_no[i]} (sample {a[i, 0]:g})", expected, found)

    for col, what in ((0, "a whole sample id >= 0"), (1, "a whole type code >= 0"),
                      (6, "a whole parent id (-1 for the root)")):
        v = a[:, col]
        bad = ~np.isfinite(v) | (v != np.round(v)) | (v < (-1 if col == 6 else 0))
        if bad.any():
            fail(bad, what, col)
    kind = a[:, 1]
    bad = ~np.isin(kind, SWC_TYPES)
    if bad.any():  # Import3d names other codes dend_<code>, sections no biophysics file sets
        fail(bad, "a type code of 1 soma, 2 axon, 3 dend or 4 apic", 1)
    for col, what in ((2, "a finite x (µm)"), (3, "a finite y (µm)"), (4, "a finite z (µm)")):
        bad = ~np.isfinite(a[:, col])
        if bad.any():
            fail(bad, what, col)
    r = a[:, 5]
    bad = ~(np.isfinite(r) & (r >= 0))
    if bad.any():
        fail(bad, "a finite radius >= 0 (µm)", 5)
    return a, line_no


def check_swc(path: PathLike, data: bytes | None = None) -> np.ndarray:
    """Refuse an SWC file that would make a wrong cell; return its samples (as :func:`read_swc_samples`).

    Beyond the per-line rules of :func:`read_swc_samples`: sample ids are unique; every parent is
    -1 or the id of a sample of the file, never the sample itself; there is exactly one root (parent
    -1), it is a soma sample, and a soma sample's parent is a soma sample; every sample reaches the
    root (no cycles).

    Parameters
    ----------
    path : str or PathLike
        The SWC file.
    data : bytes, optional
        Its bytes, when already read.

    Raises
    ------
    SonataFormatError
        Naming the file, the line and the sample at fault.
    """
    p = os.fspath(path)
    a, lines = _parse(p, data)
    ids = a[:, 0].astype(np.int64)
    types = a[:, 1].astype(np.int64)
    parents = a[:, 6].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    dup = np.flatnonzero(np.diff(ids[order]) == 0)
    if dup.size:
        i = int(order[dup[0] + 1])
        raise SonataFormatError(p, f"line {lines[i]}", "unique sample ids", f"id {ids[i]} again")
    roots = np.flatnonzero(parents == -1)
    if roots.size != 1:
        raise SonataFormatError(p, f"line {lines[roots[1]]}" if roots.size else None,
                                "exactly one root sample (parent -1)",
                                f"{roots.size} roots" + (f" (samples {ids[roots[:5]].tolist()})" if roots.size else ""))
    pos = np.searchsorted(ids[order], parents)
    pos = np.minimum(pos, len(ids) - 1)
    has = parents != -1
    known = ids[order][pos] == parents
    unknown = has & ~known
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise SonataFormatError(p, f"line {lines[i]} (sample {ids[i]})", "a parent id of a sample of the file (or -1)",
                                f"parent {parents[i]}")
    self_parent = has & (parents == ids)
    if self_parent.any():
        i = int(np.flatnonzero(self_parent)[0])
        raise SonataFormatError(p, f"line {lines[i]} (sample {ids[i]})", "a parent other than the sample itself",
                                f"parent {parents[i]}")
    root = int(roots[0])
    if types[root] != SWC_SOMA:
        raise SonataFormatError(p, f"line {lines[root]} (sample {ids[root]})", "a soma sample (type 1) as the root",
                                f"type {types[root]}")
    parent_row = np.where(has, order[pos], -1)
    soma_off = (types == SWC_SOMA) & has & (types[np.maximum(parent_row, 0)] != SWC_SOMA)
    if soma_off.any():
        i = int(np.flatnonzero(soma_off)[0])
        raise SonataFormatError(p, f"line {lines[i]} (sample {ids[i]})",
                                "a soma sample whose parent is a soma sample or -1",
                                f"parent {parents[i]} of type {types[parent_row[i]]}")
    depth_ok = _reaches_root(parent_row, root)
    if not depth_ok.all():
        i = int(np.flatnonzero(~depth_ok)[0])
        raise SonataFormatError(p, f"line {lines[i]} (sample {ids[i]})", "samples that reach the root (no cycles)",
                                f"a cycle through sample {ids[i]}")
    return a


def _reaches_root(parent_row: np.ndarray, root: int) -> np.ndarray:
    """Whether each sample reaches ``root`` by its parents; pointer doubling, O(n log n), no recursion."""
    up = parent_row.copy()
    up[root] = root
    for _ in range(max(1, int(np.ceil(np.log2(len(up) + 1))) + 1)):
        up = up[up]
    return up == root

