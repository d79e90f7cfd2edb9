"""Whether a process of this host still runs, for the modules at the bottom of the layers.

A leaf module: it imports nothing from modelkit, so :mod:`modelkit.runstatus` (a leaf itself) and
:mod:`modelkit.sonata.fileset` can both use it.
"""

from __future__ import annotations

import os

__all__ = ["pid_exists", "zombie"]


def pid_exists(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (``kill(pid, 0)``: another user's process exists too).

    Parameters
    ----------
    pid : int
        A process id of this host.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def zombie(pid: int) -> bool:
    """Whether ``pid`` is a zombie: a child killed but not yet reaped still answers ``kill(pid, 0)``, and
    /proc tells it is dead (False where there is no /proc).

    Parameters
    ----------
    pid : int
        As in :func:`pid_exists`.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False
