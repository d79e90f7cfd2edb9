"""What the lab server reads stays inside its root: HDF5 links checked before a read, and answers without paths out.

An HDF5 file inside the root can pull data from any other file: an external link (and links in the linked
file), a soft link to an external link, a virtual dataset's sources, a dataset's external raw storage.  HDF5
follows these silently on read, so the server checks every one of them before it opens the file for reading,
against the root, with the same search rules HDF5 uses (the name as written, the ``HDF5_*_PREFIX``
folders, the linking file's folder, the current folder).  Links are enumerated with ``H5Lvisit``, which
never follows a soft or external link, and hard links only are dereferenced, so the check itself reads
nothing outside.
"""

from __future__ import annotations

import os
import re

from modelkit.errors import ModelkitError
from modelkit.labserver.paths import PathRefused

__all__ = ["check_h5_confined", "scrub", "OUTSIDE"]

#: what an absolute path outside the root is replaced with in answers
OUTSIDE = "<outside the server root>"


def _inside(path: str, root: str) -> bool:
    real = os.path.realpath(path)
    return real == root or os.path.commonpath([real, root]) == root


def check_h5_confined(path: str, root: str, shown: str | None = None) -> None:
    """Refuse an HDF5 file that would read data from outside ``root``; a no-op for other files.

    Every reference to another file (:func:`modelkit.sonata.h5links.walk_references`: external links, in the
    file and in the files it links to, virtual datasets, external storage) must resolve inside ``root``
    wherever HDF5 may look for it.

    Parameters
    ----------
    path : str
        The file, inside ``root``.
    root : str
        The server root.
    shown : str, optional
        The file's name as the browser knows it, for the message.

    Raises
    ------
    PathRefused
        403 when a reference resolves outside the root; 422 when the file has too many links to check.
    """
    from modelkit.sonata.h5links import Reference, is_hdf5, walk_references
    if not is_hdf5(path):
        return
    real_root = os.path.realpath(root)
    shown = shown or os.path.basename(path)

    def confined(ref: Reference) -> None:
        if not all(_inside(c, real_root) for c in ref.candidates[:1]) or \
                any(os.path.exists(c) and not _inside(c, real_root) for c in ref.candidates):
            raise PathRefused(403, f"{shown!r} reads data from outside the server root through {ref.what} "
                                   f"({ref.name}); such files are not opened")
    try:
        walk_references(path, confined)
    except ModelkitError as e:
        raise PathRefused(422, f"{shown!r}: {getattr(e, 'expected', e)}") from e


_ABS = re.compile(r"(?<![\w.~-])/[^\s'\"(),;:<>\[\]{}]+")


def scrub(text: str, root: str) -> str:
    """``text`` with paths under ``root`` made relative to it and other file-system paths redacted.

    A ``/``-word counts as a file-system path when its first part exists at ``/`` (``/tmp/...``,
    ``/home/...``); others, such as HDF5 dataset names (``/nodes/v1/node_type_id``), are kept.

    Parameters
    ----------
    text : str
        A message that may name files.
    root : str
        The folder the server serves (the Jupyter root).
    """
    real = os.path.realpath(root)
    for r in sorted({real, os.path.abspath(root)}, key=len, reverse=True):
        text = text.replace(r + os.sep, "").replace(r, ".")

    def redact(m: re.Match[str]) -> str:
        first = m.group(0).split("/")[1]
        return OUTSIDE if first and os.path.exists("/" + first) else m.group(0)
    return _ABS.sub(redact, text)
