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
from collections.abc import Iterator
from typing import Any

from modelkit.labserver.paths import PathRefused

__all__ = ["check_h5_confined", "is_hdf5", "scrub", "OUTSIDE"]

#: what an absolute path outside the root is replaced with in answers
OUTSIDE = "<outside the server root>"
#: links, datasets and linked files looked at, at most, before a file is refused as too large to check
MAX_LINKS = 200_000
_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: str) -> bool:
    """Whether ``path`` is a regular file with the HDF5 signature (at 0, 512, 1024, ... as HDF5 looks)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            off = 0
            while off + 8 <= size and off <= 1 << 20:
                fh.seek(off)
                if fh.read(8) == _SIGNATURE:
                    return True
                off = 512 if off == 0 else off * 2
    except OSError:
        return False
    return False


def _inside(path: str, root: str) -> bool:
    real = os.path.realpath(path)
    return real == root or os.path.commonpath([real, root]) == root


def _candidates(target: str, folder: str, env: str) -> Iterator[str]:
    """Where HDF5 may look for a file named ``target`` from a file in ``folder`` (H5Fint.c's search order)."""
    name = os.path.basename(target) if os.path.isabs(target) else target
    if os.path.isabs(target):
        yield target
    for prefix in os.environ.get(env, "").split(os.pathsep):
        if prefix:
            yield os.path.join(prefix.replace("${ORIGIN}", folder), name)
    yield os.path.join(folder, name)
    yield os.path.join(os.getcwd(), name)


class _Walk:
    def __init__(self, root: str, shown: str) -> None:
        self.root = root
        self.shown = shown          # the file asked for, as the browser named it
        self.seen: set[str] = set()
        self.count = 0

    def refuse(self, what: str) -> PathRefused:
        return PathRefused(403, f"{self.shown!r} reads data from outside the server root through {what}; "
                                f"such files are not opened")

    def target(self, target: str, folder: str, env: str, what: str) -> None:
        """Refuse a target outside the root; check linked HDF5 files inside it in turn."""
        written = target if os.path.isabs(target) else os.path.join(folder, target)
        if not _inside(written, self.root):
            raise self.refuse(what)
        for cand in _candidates(target, folder, env):
            if os.path.exists(cand):
                if not _inside(cand, self.root):
                    raise self.refuse(what)
                if env != "HDF5_EXTFILE_PREFIX" and is_hdf5(cand):
                    self.file(os.path.realpath(cand))

    def file(self, path: str) -> None:
        import h5py
        if path in self.seen:
            return
        self.seen.add(path)
        folder = os.path.dirname(path)
        try:
            f = h5py.File(path, "r")
        except OSError:
            return  # unreadable: the read that follows reports it, and nothing outside was opened
        with f:
            names: list[str] = []

            def add(name: str) -> Any:
                names.append(name)
                return True if len(names) + self.count > MAX_LINKS else None

            f.visit_links(add)
            self.count += len(names)
            if self.count > MAX_LINKS:
                raise PathRefused(422, f"{self.shown!r} has more than {MAX_LINKS} links to check")
            for name in names:
                link = f.get(name, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    self.target(link.filename, folder, "HDF5_EXT_PREFIX", f"an external link ({name})")
                elif isinstance(link, h5py.HardLink):
                    obj = f.get(name)
                    if isinstance(obj, h5py.Dataset):
                        self.dataset(obj, name, folder)

    def dataset(self, ds: Any, name: str, folder: str) -> None:
        if ds.is_virtual:
            for src in ds.virtual_sources():
                if src.file_name != ".":
                    self.target(src.file_name, folder, "HDF5_VDS_PREFIX", f"a virtual dataset ({name})")
        for ext in ds.external or ():
            raw = ext[0].decode() if isinstance(ext[0], bytes) else str(ext[0])
            self.target(raw, folder, "HDF5_EXTFILE_PREFIX", f"external storage ({name})")


def check_h5_confined(path: str, root: str, shown: str | None = None) -> None:
    """Refuse an HDF5 file that would read data from outside ``root``; a no-op for other files.

    Parameters
    ----------
    path : str
        The file, inside ``root``.
    root : str
        The server root (a real path).
    shown : str, optional
        The file's name as the browser knows it, for the message.

    Raises
    ------
    PathRefused
        403 when an external link (in the file or in a file it links to), a virtual dataset's source or a
        dataset's external storage resolves outside the root; 422 when the file has too many links to check.
    """
    if is_hdf5(path):
        _Walk(os.path.realpath(root), shown or os.path.basename(path)).file(os.path.realpath(path))


_ABS = re.compile(r"(?<![\w.~-])/[^\s'\"(),;:<>\[\]{}]+")


def scrub(text: str, root: str) -> str:
    """``text`` with paths under ``root`` made relative to it and other file-system paths redacted.

    A ``/``-word counts as a file-system path when its first part exists at ``/`` (``/tmp/...``,
    ``/home/...``); others, such as HDF5 dataset names (``/nodes/v1/node_type_id``), are kept.
    """
    real = os.path.realpath(root)
    for r in sorted({real, os.path.abspath(root)}, key=len, reverse=True):
        text = text.replace(r + os.sep, "").replace(r, ".")

    def redact(m: re.Match[str]) -> str:
        first = m.group(0).split("/")[1]
        return OUTSIDE if first and os.path.exists("/" + first) else m.group(0)
    return _ABS.sub(redact, text)
