"""Paths from the browser, confined to the server root."""

from __future__ import annotations

import os
import re

__all__ = ["PathRefused", "resolve", "relative"]


class PathRefused(Exception):
    """A request path that is malformed (400), leaves the server root (403) or does not exist (404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_DRIVE = re.compile(r"^[A-Za-z]:")


def resolve(root: str, path: str | None, *, must_exist: bool = True, what: str = "path") -> str:
    """The real absolute path of ``path`` (relative to ``root``, ``/``-separated).

    Parameters
    ----------
    root : str
        The folder the server serves (the Jupyter root).
    path : str, optional
        A ``/``-separated path relative to ``root``, as the browser sends it.
    must_exist : bool, optional
        Refuse a path that does not exist (404).
    what : str, optional
        What the path is, for messages.

    Raises
    ------
    PathRefused
        400: missing, absolute, or with a NUL byte; 403: a ``..`` part, or it resolves (through a
        symbolic link) outside ``root``; 404: it does not exist (with ``must_exist``).
    """
    if path is None:
        raise PathRefused(400, f"missing '{what}': give a path relative to the server root")
    if "\x00" in path:
        raise PathRefused(400, f"'{what}' contains a NUL byte")
    p = path.replace("\\", "/")
    if p.startswith("/") or _DRIVE.match(p) or os.path.isabs(path):
        raise PathRefused(400, f"'{what}' {path!r} is absolute; give a path relative to the server root")
    parts = [s for s in p.split("/") if s not in ("", ".")]
    if ".." in parts:
        raise PathRefused(403, f"'{what}' {path!r} contains '..'; paths must stay inside the server root")
    root_real = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root_real, *parts))
    if real != root_real and os.path.commonpath([real, root_real]) != root_real:
        raise PathRefused(403, f"'{what}' {path!r} resolves outside the server root (a link pointing out)")
    if must_exist and not os.path.exists(real):
        raise PathRefused(404, f"'{what}' {path!r}: no such file or folder under the server root")
    return real


def relative(root: str, path: str) -> str:
    """``path`` relative to ``root`` with ``/`` separators (the form the browser uses).

    Parameters
    ----------
    root : str
        The folder the server serves (the Jupyter root).
    path : str
        An absolute path under ``root``.
    """
    return os.path.relpath(path, os.path.realpath(root)).replace(os.sep, "/")
