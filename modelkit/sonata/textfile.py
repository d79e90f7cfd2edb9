"""Reading a small text file (a JSON config, a node-sets file, a types CSV) with bounds.

A path a user gives can name a FIFO (``open`` blocks until someone writes), a device
such as ``/dev/zero`` (``read`` never ends) or a file of many GB.  Every text input of
the model core goes through :func:`read_text`, which reads only regular files and at
most ``max_bytes`` of them.
"""

from __future__ import annotations

import os
import stat

from modelkit._typing import PathLike
from modelkit.errors import ConfigError

__all__ = ["read_text", "check_regular_file", "file_kind", "MAX_JSON_BYTES", "MAX_CSV_BYTES"]

#: largest JSON config / node-sets file read (bytes); real ones are KB
MAX_JSON_BYTES = 64 << 20
#: largest node/edge types CSV read whole (bytes); real ones are KB to a few MB
MAX_CSV_BYTES = 256 << 20


def read_text(path: PathLike, what: str, max_bytes: int, error: type = ConfigError) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``.

    Parameters
    ----------
    path : str or PathLike
    what : str
        What the file is, for messages ("simulation config").
    max_bytes : int
        Refuse larger files (bytes).
    error : type
        The located error class raised, called as ``error(path, None, expected, found)``
        (ConfigError, SonataFormatError).

    Raises
    ------
    ConfigError (or ``error``)
        Missing, a directory, not a regular file (FIFO, device, socket), larger than
        ``max_bytes``, unreadable or not UTF-8; the message names the file.
    """
    p = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait for ever
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as e:
        raise error(p, None, f"an existing {what}", "no such file") from e
    except IsADirectoryError as e:
        raise error(p, None, f"a {what} file", "a directory") from e
    except OSError as e:
        raise error(p, None, f"a readable {what}", f"{type(e).__name__}: {e}") from e
    try:
        _check_stat(os.fstat(fd), p, what, max_bytes, error)
        chunks = []
        left = max_bytes + 1  # the file may grow between fstat and read
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        if left <= 0:
            raise error(p, None, f"a {what} of at most {max_bytes:,} bytes", "a file growing while read")
        data = b"".join(chunks)
    except OSError as e:
        raise error(p, None, f"a readable {what}", f"{type(e).__name__}: {e}") from e
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(p, None, f"a readable UTF-8 {what}", f"{type(e).__name__}: {e}") from e


def check_regular_file(path: PathLike, what: str, max_bytes: int, error: type = ConfigError) -> str:
    """Refuse ``path`` unless it is a regular file of at most ``max_bytes``, without opening it.

    For inputs handed to a reader that opens the file itself (``pandas.read_csv``): a FIFO
    would block it, ``/dev/zero`` would feed it for ever.

    Parameters
    ----------
    path : str or PathLike
        The file.
    what : str
        What the file is, for messages ("circuit config").
    max_bytes : int
        Largest size accepted.
    error : type, optional
        The ModelkitError class to raise.

    Returns
    -------
    str
        The path, as given (``os.fspath``).

    Raises
    ------
    ConfigError (or ``error``)
        Missing, a directory, not a regular file, or larger than ``max_bytes``, naming the file.
    """
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError as e:
        raise error(p, None, f"an existing {what}", "no such file") from e
    except OSError as e:
        raise error(p, None, f"a readable {what}", f"{type(e).__name__}: {e}") from e
    _check_stat(st, p, what, max_bytes, error)
    return p


def _check_stat(st: os.stat_result, p: str, what: str, max_bytes: int, error: type) -> None:
    """Refuse a directory, a file that is not regular (FIFO, device, socket) or one over ``max_bytes``."""
    if stat.S_ISDIR(st.st_mode):
        raise error(p, None, f"a {what} file", "a directory")
    if not stat.S_ISREG(st.st_mode):
        raise error(p, None, f"a {what} that is a regular file", file_kind(st.st_mode))
    if st.st_size > max_bytes:
        raise error(p, None, f"a {what} of at most {max_bytes:,} bytes", f"{st.st_size:,} bytes")


def file_kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, in words ("a FIFO", "a character device", ...).

    Parameters
    ----------
    mode : int
        ``st_mode`` of ``os.stat``.
    """
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"
