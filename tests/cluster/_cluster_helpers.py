"""Helpers shared by the cluster tests: a process gone, a condition awaited, the ranks of an MPI world."""

from __future__ import annotations

import time
from collections.abc import Callable

from modelkit._process import pid_exists, zombie


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended: a zombie counts as gone (init reaps the daemons', not the test)."""
    return not pid_exists(pid) or zombie(pid)


def wait_until(cond: Callable[[], object], timeout: float) -> bool:
    """Poll ``cond`` every 0.1 s until it is true (True) or ``timeout`` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def assert_two_mpi_ranks(rc) -> None:
    """The two engines of ``rc`` are the ranks 0 and 1 of one MPI world of size 2."""
    rc[:].execute("from mpi4py import MPI; r = (MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size())", block=True)
    assert sorted(rc[:].pull("r", block=True)) == [(0, 2), (1, 2)]
