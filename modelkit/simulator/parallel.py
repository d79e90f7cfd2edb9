"""Runs spread over MPI ranks: who writes, and how the ranks' shares reach rank 0.

Under ``mpiexec`` with a simulator built with MPI (NEST on HPC systems; NEURON's
wheel too), every rank simulates its share of the cells and records only those:
spikes, sampled variables and weight events are gathered to rank 0 after each
block, and rank 0 alone writes files, logs the run and publishes the output folder.

A serial run needs no MPI at all: :func:`world` returns :class:`SerialComm` unless
the process was started by an MPI launcher with more than one rank, so importing
modelkit never initialises MPI behind a notebook's back.
"""

from __future__ import annotations

import os
from typing import Any, Protocol, TypeVar

import numpy as np

__all__ = ["Comm", "SerialComm", "world", "launched_ranks", "check_launch", "gather_arrays", "merge_frames"]

T = TypeVar("T")

#: environment variables MPI launchers set to the number of ranks (MPICH/Hydra, Open MPI, Slurm, Intel MPI)
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE", "SLURM_NTASKS")


class Comm(Protocol):
    """The part of mpi4py's communicator modelkit uses: mpi4py's ``COMM_WORLD`` or a :class:`SerialComm`."""

    @property
    def rank(self) -> int: ...

    @property
    def size(self) -> int: ...

    # positional-only: mpi4py names the first argument ``sendobj`` here and ``obj`` there
    def gather(self, obj: T, /, root: int = 0) -> Any:
        """Every rank's ``obj`` as a list on ``root``, None on the other ranks.

        Parameters
        ----------
        obj : object
            This rank's share (pickled).
        root : int
            The rank that receives the list.
        """
        ...

    def bcast(self, obj: T, /, root: int = 0) -> T: ...

    def barrier(self) -> None: ...


class SerialComm:
    """The one-rank communicator of a serial run (the subset of mpi4py's API modelkit uses)."""

    rank = 0
    size = 1

    def Get_rank(self) -> int:  # noqa: N802 - mpi4py's names
        return 0

    def Get_size(self) -> int:  # noqa: N802
        return 1

    def gather(self, obj: T, root: int = 0) -> list[T]:
        return [obj]

    def bcast(self, obj: T, root: int = 0) -> T:
        return obj

    def allreduce(self, obj: T, op: object = None) -> T:
        return obj

    def Barrier(self) -> None:  # noqa: N802
        return None

    def barrier(self) -> None:
        return None


def launched_ranks() -> int:
    """How many ranks the MPI launcher started (1 when not launched by one)."""
    for var in _SIZE_VARS[:-1]:
        v = os.environ.get(var)
        if v and v.isdigit():
            return int(v)
    return 1


def world() -> Comm:
    """mpi4py's ``COMM_WORLD`` when launched on several ranks, else a :class:`SerialComm`."""
    if launched_ranks() <= 1:
        return SerialComm()
    try:
        from mpi4py import MPI
    except ImportError:  # check_launch stops the run: the ranks cannot talk
        return SerialComm()
    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else SerialComm()


def check_launch(comm: Comm) -> None:
    """Stop a run whose ranks would not see each other: N serial copies writing the same files.

    Parameters
    ----------
    comm : Comm
        The run's communicator (see :func:`world`).

    Raises
    ------
    BackendUnavailableError
        The launcher started N > 1 ranks but the communicator has another size (mpi4py missing,
        or built for another MPI than the launcher's).
    """
    n = launched_ranks()
    if n > 1 and comm.size != n:
        from modelkit.errors import BackendUnavailableError
        raise BackendUnavailableError(
            f"the MPI launcher started {n} ranks but MPI (mpi4py) sees {comm.size}: each rank would run the "
            f"whole simulation and write the same files; use the launcher of the MPI mpi4py was built with "
            f"(pip install mpich mpi4py gives both), or run one process")


def gather_arrays(comm: Comm, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Concatenate each named array over the ranks, in rank order; the result on rank 0, None elsewhere.

    Parameters
    ----------
    comm : Comm
        The run's communicator (collective: every rank calls it).
    arrays : dict of str to numpy.ndarray
        This rank's share of each array.
    """
    if comm.size == 1:
        return arrays
    parts = comm.gather(arrays, root=0)
    if comm.rank != 0:
        return None
    keys = list(dict.fromkeys(k for p in parts for k in p))
    return {k: np.concatenate([p[k] for p in parts if k in p]) for k in keys}


def merge_frames(comm: Comm, frames: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Combine sampled variables recorded on several ranks into full frames on rank 0.

    Each rank holds ``{variable: (frames, cells)}`` with NaN in the columns of cells it
    does not own; ranks owning none of the cells may have 0 frames.  Where several ranks
    hold a value (cells owned by one rank only, in practice), the lowest rank wins.

    Parameters
    ----------
    comm : Comm
        The run's communicator (collective: every rank calls it).
    frames : dict of str to numpy.ndarray
        ``{variable: (frames, cells)}`` recorded on this rank.
    """
    if comm.size == 1:
        return frames
    parts = comm.gather(frames, root=0)
    if comm.rank != 0:
        return None
    out = {}
    for var in frames:
        arrs = [p[var] for p in parts if len(p[var])]
        if not arrs:
            out[var] = frames[var]
            continue
        n = max(len(a) for a in arrs)
        full = np.full((n, arrs[0].shape[1]), np.nan)
        for a in arrs:
            view = full[:len(a)]
            take = np.isnan(view) & ~np.isnan(a)
            view[take] = a[take]
        out[var] = full
    return out
