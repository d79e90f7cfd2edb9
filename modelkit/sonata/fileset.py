"""All-or-nothing publication of a set of files into a folder that may hold other files.

A network is several files (nodes, node types, edges, edge types) that only make sense together, saved into
a folder that often holds other things too (other networks, configs, components: bmtk's ``network/``).  So
the unit of replacement is the *set of files a save writes*, not the folder:

1. **Stage.** Every file of the set is written into a staging folder
   ``<folder>/.<name>.saving-<pid>-<host>-<random>`` (same file system, so moves are renames).
   ``<pid>`` and ``<host>`` (a hash of the host name) say whose it is.
2. **Commit.** The staged files are flushed to disk (``fsync``), then ``COMMIT`` (the list of the set's
   file names) is written into the staging folder, flushed, and renamed into place: that rename is the
   moment the new set becomes the network.  Until then the folder holds the whole old set, untouched.
3. **Apply.** Each staged file is renamed over its target (``rename(2)`` replaces a file atomically), then
   the staging folder is removed.

A process killed before step 2 leaves the old set and a staging folder; killed during step 3, a folder
where some files are new and some old, *and* a committed staging folder holding the rest.  The next save
into the folder, and every load of a network from it (:meth:`modelkit.sonata.Network.load`,
``from_config``, so :func:`modelkit.validate` too), first calls :func:`recover`: a committed set whose
owner is dead is applied to the end (roll forward), an uncommitted one is deleted (roll back).  Staging
folders of live processes are left alone (a committed one is waited for, a few seconds: applying is
renames only); those of another host are never touched (its pid says nothing here).

Only the files of the set are ever replaced; nothing else in the folder is read, moved or deleted.  Files
that an earlier save wrote and this one does not (an edge population no longer built) stay, as bmtk
leaves them.  The guarantee covers one folder: a set whose files go to several folders is published as one
set per folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterable
from typing import Any

from modelkit._process import pid_exists, zombie
from modelkit._typing import PathLike
from modelkit.errors import ModelkitError, OutputExistsError

__all__ = ["FileSet", "recover", "owner_tag", "owner_alive", "parse_owner", "STAGING_INFIX"]

#: marks a staging folder: ``.<name>.saving-<pid>-<host>-<random>``
STAGING_INFIX = ".saving-"
COMMIT = "COMMIT"
#: seconds a reader waits for a live process to finish applying a committed set
APPLY_WAIT_S = 10.0

_OWNER = re.compile(r"-(\d+)-([0-9a-f]{8})-[0-9a-f]+$")
#: staging folders this process is writing or applying now (others with its pid are leftovers of failures)
_ACTIVE: set[str] = set()


def host_tag() -> str:
    """8 hex digits naming this host (a pid is only meaningful on its own host)."""
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def owner_tag() -> str:
    """``<pid>-<host>-<random>``: the end of the name of a staging folder made by this process."""
    return f"{os.getpid()}-{host_tag()}-{secrets.token_hex(4)}"


def parse_owner(name: str) -> tuple[int, str] | None:
    """``(pid, host)`` from a name made with :func:`owner_tag`, or None.

    Parameters
    ----------
    name : str
        A staging name made with :func:`owner_tag`.
    """
    m = _OWNER.search(name)
    return (int(m.group(1)), m.group(2)) if m else None


def owner_alive(name: str) -> bool:
    """Whether the process that made ``name`` may still run (True when it cannot be told: another host).

    Parameters
    ----------
    name : str
        A staging name made with :func:`owner_tag`.
    """
    owner = parse_owner(name)
    if owner is None or owner[1] != host_tag():
        return True
    pid = owner[0]
    if pid == os.getpid():
        return True
    return pid_exists(pid) and not zombie(pid)


def _fsync_path(path: str, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a directory
        pass
    finally:
        os.close(fd)


def _stagings(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [n for n in names if n.startswith(".") and STAGING_INFIX in n and parse_owner(n) is not None
            and os.path.isdir(os.path.join(folder, n))]


def _read_commit(staging: str) -> list[str] | None:
    try:
        with open(os.path.join(staging, COMMIT), encoding="utf-8") as f:
            names = json.load(f)["files"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a COMMIT is renamed into place whole: an unreadable one was never ours
    return [n for n in names if isinstance(n, str) and os.path.basename(n) == n and n not in ("", ".", "..")]


def _apply(folder: str, staging: str, names: Iterable[str]) -> None:
    """Move every staged file of a committed set over its target, then remove the staging folder.

    Idempotent and safe to run concurrently: each staged file is moved once, by whoever gets there first.
    """
    for n in names:
        src, dst = os.path.join(staging, n), os.path.join(folder, n)
        try:
            os.replace(src, dst)
        except FileNotFoundError:
            continue  # moved already (by the owner before it died, or by another recovering process)
    _fsync_path(folder, directory=True)
    shutil.rmtree(staging, ignore_errors=True)


def recover(folder: PathLike) -> None:
    """Finish or undo the interrupted saves in ``folder`` (see the module docstring).

    Parameters
    ----------
    folder : str or PathLike
        The output folder of a save.

    Raises
    ------
    ModelkitError
        A committed save of a dead process cannot be completed (a read-only folder): the folder holds
        a mix of two saves.
    """
    d = os.path.abspath(os.fspath(folder))
    for name in _stagings(d):
        staging = os.path.join(d, name)
        names = _read_commit(staging)
        ours = parse_owner(name) == (os.getpid(), host_tag())
        if ours and name not in _ACTIVE:
            pass  # this process failed while applying it (an exception, not a kill): finish it like a dead one's
        elif owner_alive(name):
            if names is None:
                continue  # a save in progress: its files are not the network's yet
            deadline = time.monotonic() + APPLY_WAIT_S
            while os.path.isdir(staging) and time.monotonic() < deadline:
                time.sleep(0.02)
            continue
        try:
            if names is None:
                shutil.rmtree(staging)  # killed before its commit: the old files are all there
            else:
                _apply(d, staging, names)
        except FileNotFoundError:
            continue  # another process recovered it meanwhile
        except OSError as e:
            if names is not None:
                raise ModelkitError(
                    f"{d}: a save of {names} was interrupted after it started replacing files and cannot be "
                    f"completed here ({type(e).__name__}: {e}); the folder holds a mix of two saves: save "
                    f"again, or complete it by moving the files of {staging} into {d}") from e


class FileSet:
    """Stage files, then publish them into one folder as a set (see the module docstring).

    Parameters
    ----------
    folder : str or PathLike
        Where the files go (created if missing).
    name : str
        Names the staging folder (``.<name>.saving-...``): the network's name.
    overwrite : bool
        Replace files of the set that exist; otherwise :meth:`commit` raises ``OutputExistsError``.

    Examples
    --------
    >>> with FileSet("network", "v1", overwrite=True) as fs:        # doctest: +SKIP
    ...     write_nodes(fs.path("v1_nodes.h5"), [data])
    ...     fs.commit()
    """

    def __init__(self, folder: PathLike, name: str, *, overwrite: bool) -> None:
        self.folder = os.path.abspath(os.fspath(folder))
        self.name = name
        self.overwrite = overwrite
        self.staging: str | None = None
        self.names: list[str] = []
        self._committed = False

    def __enter__(self) -> "FileSet":
        os.makedirs(self.folder, exist_ok=True)
        recover(self.folder)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)[:64]
        name = f".{safe}{STAGING_INFIX}{owner_tag()}"
        self.staging = os.path.join(self.folder, name)
        _ACTIVE.add(name)
        self._committed = False
        os.mkdir(self.staging)
        return self

    def path(self, name: str) -> str:
        """Staged path of the set's file ``name`` (a bare file name); registers it in the set.

        Parameters
        ----------
        name : str
            Bare file name in the set.
        """
        if self.staging is None:
            raise RuntimeError("FileSet is not open")
        if os.path.basename(name) != name or name in ("", ".", "..", COMMIT):
            raise ValueError(f"{name!r}: a file name without folders")
        if name not in self.names:
            self.names.append(name)
        return os.path.join(self.staging, name)

    def add(self, name: str, src: str) -> None:
        """Stage an existing file ``src`` as ``name``: a hard link when possible (no copy).

        Parameters
        ----------
        name : str
            Bare file name in the set.
        src : str
            An existing file to stage under that name.
        """
        dst = self.path(name)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)

    def existing(self) -> list[str]:
        """Files of the set that exist in the folder now."""
        return [n for n in self.names if os.path.lexists(os.path.join(self.folder, n))]

    def commit(self) -> None:
        """Make the staged set the folder's (the atomic step), then move its files into place.

        Raises
        ------
        OutputExistsError
            Without ``overwrite``, a file of the set exists.
        """
        if self.staging is None:
            raise RuntimeError("FileSet is not open")
        missing = [n for n in self.names if not os.path.exists(os.path.join(self.staging, n))]
        if missing:
            raise RuntimeError(f"{missing}: registered but not written")
        if not self.overwrite and self.existing():
            raise OutputExistsError(f"{self.folder}: {self.existing()} exist; refusing to overwrite "
                                    f"(pass overwrite=True / force_overwrite=True)")
        for n in self.names:
            _fsync_path(os.path.join(self.staging, n))
        tmp = os.path.join(self.staging, f".{COMMIT}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"files": self.names, "folder": self.folder}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.staging, COMMIT))
        self._committed = True  # from here on the new set is the network: roll forward, never back
        _fsync_path(self.staging, directory=True)
        try:
            _apply(self.folder, self.staging, self.names)
        except OSError as e:
            raise ModelkitError(f"{self.folder}: the save of {self.names} could not move its files into place "
                                f"({type(e).__name__}: {e}); the next save or load completes it from "
                                f"{self.staging}") from e

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        if self.staging is None:
            return
        _ACTIVE.discard(os.path.basename(self.staging))
        if not self._committed:  # the folder still holds the old set
            with contextlib.suppress(OSError):
                shutil.rmtree(self.staging)
        self.staging = None
