"""The other files an HDF5 file reads from: external links, virtual-dataset sources, external raw storage.

HDF5 follows these silently when an object is read, with a blocking ``open(2)``: a link to a FIFO hangs the
reader for ever, a link to a device reads without end.  :func:`walk_references` lists every such reference
of a file -- and, transitively, of the HDF5 files it links to, each once -- without following any: links are
enumerated with ``H5Lvisit`` (which never traverses a soft or external link) and only hard links are
dereferenced.  Each reference comes with every path HDF5 may try for it (H5Fint.c's search order: the name as
written, the ``HDF5_*_PREFIX`` folders, the linking file's folder, the current folder), so a caller can check
them all: :func:`check_external_targets` (the read path: targets must be regular files) and the lab server
(targets must lie inside its root).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from modelkit.errors import SonataFormatError

__all__ = ["Reference", "walk_references", "check_external_targets", "is_hdf5", "MAX_LINKS"]

#: links (over all the files walked) looked at, at most; a file with more is refused rather than walked for ever
MAX_LINKS = 200_000
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ENV = {"external link": "HDF5_EXT_PREFIX", "virtual dataset": "HDF5_VDS_PREFIX",
        "external storage": "HDF5_EXTFILE_PREFIX"}


@dataclass(frozen=True)
class Reference:
    """One reference to another file.

    Attributes
    ----------
    file : str
        The HDF5 file that holds it (a real path).
    name : str
        The link or dataset inside ``file``.
    what : str
        ``"external link"``, ``"virtual dataset"`` or ``"external storage"``.
    target : str
        The file name as written in ``file``.
    candidates : tuple of str
        Every path HDF5 may open for it, the name as written (resolved against ``file``'s folder) first.
    """

    file: str
    name: str
    what: str
    target: str
    candidates: tuple[str, ...]


def is_hdf5(path: str) -> bool:
    """Whether ``path`` is a regular file with the HDF5 signature (at 0, 512, 1024, ... as HDF5 looks).

    Parameters
    ----------
    path : str
        Any file name.
    """
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NONBLOCK)) as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return False
            off = 0
            while off + 8 <= st.st_size and off <= 1 << 20:
                fh.seek(off)
                if fh.read(8) == _SIGNATURE:
                    return True
                off = 512 if off == 0 else off * 2
    except OSError:
        return False
    return False


def _candidates(target: str, folder: str, env: str) -> tuple[str, ...]:
    name = os.path.basename(target) if os.path.isabs(target) else target
    out = [target if os.path.isabs(target) else os.path.join(folder, target)]
    for prefix in os.environ.get(env, "").split(os.pathsep):
        if prefix:
            out.append(os.path.join(prefix.replace("${ORIGIN}", folder), name))
    out += [os.path.join(folder, name), os.path.join(os.getcwd(), name)]
    return tuple(dict.fromkeys(out))


def walk_references(path: str, check: Callable[[Reference], None], *, max_links: int = MAX_LINKS) -> None:
    """Call ``check`` on every reference of ``path`` to another file, then on those of the files it links to.

    ``check`` raises to refuse a reference; a linked file is walked only after its reference passed, and
    only when it is a regular HDF5 file (so nothing but regular files is ever opened).

    Parameters
    ----------
    path : str
        The HDF5 file.
    check : callable
        Called with each reference; raises to refuse it.
    max_links : int, optional
        Most references followed in all (a bound on cycles and fan-out).

    Raises
    ------
    SonataFormatError
        More than ``max_links`` links in all.
    """
    import h5py
    seen: set[str] = set()
    todo = [os.path.realpath(path)]
    count = 0
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        folder = os.path.dirname(p)
        try:
            f = h5py.File(p, "r")
        except (OSError, RuntimeError, ValueError):
            continue  # unreadable: the read that follows reports it
        refs: list[Reference] = []
        with f:
            names: list[str] = []
            budget = max_links - count

            def add(n: str, names: list[str] = names, budget: int = budget) -> bool | None:
                names.append(n)
                return True if len(names) > budget else None  # a non-None return ends H5Lvisit
            try:
                f.visit_links(add)
            except (RuntimeError, OSError, ValueError):
                continue  # a damaged link table: the read of the file reports it (and follows no link)
            count += len(names)
            if count > max_links:
                raise SonataFormatError(path, None, f"at most {max_links} links to check (in it and the files "
                                                    f"it links to)", "more")
            for name in names:
                try:
                    link = f.get(name, getlink=True)
                    if isinstance(link, h5py.ExternalLink):
                        refs.append(Reference(p, "/" + name, "external link", link.filename,
                                              _candidates(link.filename, folder, _ENV["external link"])))
                        continue
                    if not isinstance(link, h5py.HardLink):
                        continue
                    obj = f.get(name)
                    if not isinstance(obj, h5py.Dataset):
                        continue
                    if obj.is_virtual:
                        for src in obj.virtual_sources():
                            if src.file_name != ".":
                                refs.append(Reference(p, "/" + name, "virtual dataset", src.file_name,
                                                      _candidates(src.file_name, folder, _ENV["virtual dataset"])))
                    for ext in obj.external or ():
                        raw = ext[0].decode() if isinstance(ext[0], bytes) else str(ext[0])
                        refs.append(Reference(p, "/" + name, "external storage", raw,
                                              _candidates(raw, folder, _ENV["external storage"])))
                except (OSError, RuntimeError, KeyError, ValueError, TypeError):
                    continue  # a damaged object: the read of it reports it
        for ref in refs:
            check(ref)
            if ref.what != "external storage":
                todo += [os.path.realpath(c) for c in ref.candidates if is_hdf5(c)]


def _kind(mode: int) -> str:
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return word
    return "not a regular file"


_CHECKED: dict[tuple, None] = {}


def check_external_targets(path: str) -> None:
    """Refuse a file that references a FIFO, a device or a folder (a read through it would block or not end).

    The result is remembered per file version (inode, size, mtime), so a file opened many times is walked once.

    Parameters
    ----------
    path : str
        The HDF5 file.

    Raises
    ------
    SonataFormatError
        Naming ``path``, the link or dataset, and what its target is.
    """
    try:
        st = os.stat(path)
    except OSError:
        return
    key = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _CHECKED:
        return
    if st.st_size < 4096 and not is_hdf5(path):
        return

    def regular(ref: Reference) -> None:
        for c in ref.candidates:
            try:
                mode = os.stat(c).st_mode
            except OSError:
                continue
            if not stat.S_ISREG(mode):
                where = ref.name if ref.file == os.path.realpath(path) else f"{ref.name} of {ref.file}"
                raise SonataFormatError(path, where, f"an {ref.what} to a regular file", f"{ref.target!r}: "
                                                                                          f"{_kind(mode)}")
    walk_references(path, regular)
    if len(_CHECKED) > 10_000:
        _CHECKED.clear()
    _CHECKED[key] = None
