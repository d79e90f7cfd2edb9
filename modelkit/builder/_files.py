"""Where a build's files go: the work folder of a build, and publishing its files into the user's folder.

A build writes into a private work folder in TMPDIR (named after its owner, so that the folders of killed
processes are swept); ``save`` then publishes the files as one all-or-nothing set per target folder
(:class:`~modelkit.sonata.fileset.FileSet`), compressing HDF5 files on request.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from modelkit.builder.compression import copy_compressed, normalize_compression
from modelkit.errors import OutputExistsError
from modelkit.sonata.fileset import FileSet, owner_alive, parse_owner

__all__ = ["WORK_PREFIX", "safe_name", "sweep_dead_workdirs", "target_path", "compress_in_place", "publish_set"]

log = logging.getLogger("modelkit.builder")

#: work folders of builds in TMPDIR: ``modelkit-build-<name>-<pid>-<host>-<random>``
WORK_PREFIX = "modelkit-build-"


def safe_name(name: str) -> str:
    """``name`` as part of a folder name: letters, digits, ``_`` and ``.`` only, at most 64 characters."""
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)[:64]


def sweep_dead_workdirs(tmp: str) -> None:
    """Remove the build work folders that killed processes left in ``tmp`` (their pid is gone)."""
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for n in names:
        if n.startswith(WORK_PREFIX) and parse_owner(n) is not None and not owner_alive(n):
            shutil.rmtree(os.path.join(tmp, n), ignore_errors=True)


def target_path(name: Any, out_dir: str, default: str) -> str:
    """Where ``save`` writes a file: ``name`` (relative to ``out_dir``), or ``out_dir/default`` when None."""
    if name is None:
        return os.path.join(out_dir, default)
    p = os.fspath(name)
    return p if os.path.isabs(p) else os.path.join(out_dir, p)


def compress_in_place(path: str, compression: Any) -> None:
    """Rewrite the HDF5 file ``path`` with ``compression`` (a temporary copy, then an atomic replace)."""
    tmp = path + ".compressing"
    copy_compressed(path, tmp, compression)
    os.replace(tmp, path)


def publish_set(items: list[tuple[str, str, str | None]], name: str, overwrite: bool,
                 compression: Any = None) -> None:
    """Publish built files ``(source, target, new edge population name)`` as one set per target folder,
    HDF5 files compressed when ``compression`` asks for it."""
    compress = normalize_compression(compression)[0] is not None
    by_folder: dict[str, list[tuple[str, str, str | None]]] = {}
    for src, dst, rename in items:
        d, base = os.path.split(os.path.abspath(dst))
        by_folder.setdefault(d, []).append((src, base, rename))
    for folder, group in by_folder.items():
        with FileSet(folder, name, overwrite=overwrite) as fs:
            for src, base, rename in group:
                if compress and base.endswith(".h5"):
                    copy_compressed(src, fs.path(base), compression)
                elif rename:
                    shutil.copyfile(src, fs.path(base))
                else:
                    fs.add(base, src)
                if rename:
                    import h5py
                    with h5py.File(fs.path(base), "r+") as f:
                        (old,) = list(f["edges"].keys())
                        if old != rename:
                            f["edges"].move(old, rename)
            existing = fs.existing()
            if existing and not overwrite:
                raise OutputExistsError(f"{folder}: {existing} exist; refusing to overwrite them "
                                        f"(pass force_overwrite=True)")
            for n in existing:
                log.warning("replacing %s", os.path.join(folder, n))
            fs.commit()
