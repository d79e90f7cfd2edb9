"""NEURON on several MPI ranks: bringing NEURON's MPI up, which rank owns which cell, agreeing on errors.

NEURON's wheel loads MPI at run time from ``MPI_LIB_NRN_PATH``.  Under an MPI launcher
(``mpiexec -n N modelkit run CONFIG``, or MPI engines of an ipyparallel cluster) modelkit
initialises MPI through mpi4py first, points ``MPI_LIB_NRN_PATH`` at the very library
mpi4py loaded (unless the variable is already set) and calls ``h.nrnmpi_init()``, which
also brings NEURON's MPI up when ``neuron`` was imported before modelkit.  A launch where
NEURON still sees one rank would simulate the whole network N times and write the same
files N times (what bmtk does under a plain ``mpiexec -n 2 python run_bionet.py``);
:func:`check_ranks` stops it before anything is built.

Cells are spread over the ranks by :func:`assign_ranks`, either round robin or balanced
by compartment count; the results do not depend on the layout (synapse placement is
seeded per target gid, see :mod:`.synapses`).
"""

from __future__ import annotations

import heapq
import os
import sys

import numpy as np

from modelkit.errors import BackendUnavailableError, ConfigError, ModelkitError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.parallel import launched_ranks

__all__ = ["DISTRIBUTIONS", "prepare_mpi", "start_mpi", "mpi_library", "check_ranks", "assign_ranks",
           "agree_on_errors", "RankError"]

#: ``run.rank_distribution`` values: how cells are spread over MPI ranks
DISTRIBUTIONS = ("balanced", "round_robin")


class RankError(ModelkitError):
    """Another MPI rank failed while this one was fine (the message names the rank and its error)."""


def mpi_library() -> str | None:
    """Path of the MPI library mpi4py loaded into this process (Linux: from ``/proc/self/maps``), if any."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libmpi" in line and "/" in line}
    except OSError:  # pragma: no cover - not Linux
        paths = set()
    # libmpi.so.12 is the MPICH ABI NEURON's wheel is built against; prefer it over the standard-ABI library
    for p in sorted(paths, key=lambda p: ("libmpi.so" not in os.path.basename(p), p)):
        if os.path.exists(p):
            return p
    lib = os.path.join(sys.prefix, "lib", "libmpi.so.12")  # the mpich wheel's library
    return lib if os.path.exists(lib) else None


def prepare_mpi() -> bool:
    """Before ``import neuron``: under an MPI launcher, start MPI (mpi4py) and tell NEURON where its library is.

    Returns
    -------
    bool
        Whether the process was launched on several ranks.
    """
    if launched_ranks() <= 1:
        return False
    try:
        from mpi4py import MPI  # noqa: F401 - initialises MPI, so NEURON joins it instead of starting its own
    except ImportError:
        return True  # check_ranks then reports the single-rank NEURON
    if not os.environ.get("MPI_LIB_NRN_PATH"):
        lib = mpi_library()
        if lib:
            os.environ["MPI_LIB_NRN_PATH"] = lib
    return True


def start_mpi(h: HocObject) -> None:
    """After ``import neuron``: bring NEURON's MPI up (a no-op where it is up, or in a serial launch).

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    """
    if launched_ranks() > 1:
        h.nrnmpi_init()


def check_ranks(nhost: int) -> None:
    """Stop a launch where NEURON would run the whole network on every rank.

    Parameters
    ----------
    nhost : int
        The ranks NEURON's ParallelContext sees.

    Raises
    ------
    BackendUnavailableError
        The launcher started N > 1 ranks but NEURON sees ``nhost`` != N (its MPI library could
        not be loaded, or mpi4py is missing or built for another MPI).
    """
    n = launched_ranks()
    if n > 1 and nhost != n:
        lib = os.environ.get("MPI_LIB_NRN_PATH", "")
        raise BackendUnavailableError(
            f"neuron: the MPI launcher started {n} ranks but NEURON runs on {nhost} (MPI_LIB_NRN_PATH="
            f"{lib or 'unset'}; found MPI library: {mpi_library() or 'none'}): each rank would simulate the "
            f"whole network and write the same files. Install mpi4py for the launcher's MPI (pip install mpich "
            f"mpi4py), set MPI_LIB_NRN_PATH to that MPI's libmpi.so, or run one process")


def assign_ranks(cost: np.ndarray, nhost: int, method: str = "balanced", where: str = "run.rank_distribution"
                 ) -> np.ndarray:
    """Owning rank of each cell (cells in gid order).

    Parameters
    ----------
    cost : ndarray of float
        Work per cell (compartments; 1 for an artificial cell).
    nhost : int
        Ranks.
    method : {"balanced", "round_robin"}
        ``round_robin``: the k-th cell in gid order goes to rank k mod nhost.  ``balanced``:
        cells by decreasing cost (then gid), each to the least-loaded rank so far (greedy
        longest-processing-time; deterministic).
    where : str
        Config key named in errors.

    Returns
    -------
    ndarray of int
        Rank per cell; the same on every rank.

    Raises
    ------
    ConfigError
        An unknown method.
    """
    cost = np.asarray(cost, dtype=float)
    n = len(cost)
    if method not in DISTRIBUTIONS:
        raise ConfigError(None, where, f"one of {', '.join(DISTRIBUTIONS)}", repr(method))
    if nhost <= 1:
        return np.zeros(n, dtype=np.int64)
    if method == "round_robin":
        return np.arange(n, dtype=np.int64) % nhost
    order = np.lexsort((np.arange(n), -cost))
    rank = np.empty(n, dtype=np.int64)
    heap = [(0.0, r) for r in range(nhost)]  # (load, rank): ties go to the lower rank
    for i, c in zip(order.tolist(), cost[order].tolist()):  # once per run, ~1 µs per cell
        load, r = heapq.heappop(heap)
        rank[i] = r
        heapq.heappush(heap, (load + c, r))
    return rank


def agree_on_errors(pc: HocObject, error: BaseException | None) -> None:
    """Collective: re-raise ``error`` here, or a :class:`RankError` if another rank failed.

    A rank that raises alone would leave the others waiting forever in the next collective
    call (spike exchange, gathering); every rank must call this at the same point.

    Parameters
    ----------
    pc : HocObject
        NEURON's ParallelContext.
    error : BaseException or None
        What failed on this rank, or None.
    """
    if int(pc.nhost()) <= 1:
        if error is not None:
            raise error
        return
    msgs = pc.py_allgather(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    for rank, msg in enumerate(msgs):
        if msg is not None:
            raise RankError(f"neuron: rank {rank} failed: {msg}")
