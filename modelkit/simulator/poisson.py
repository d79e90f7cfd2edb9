"""PoissonSpikeGenerator: seeded Poisson spike trains, written as SONATA spike files (bmtk's API).

As in bmtk, ``add(..., times=...)`` takes seconds and rates in Hz; the trains
are stored and written in ms.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from modelkit._typing import ArrayLike, PathLike
from modelkit.errors import ModelkitError
from modelkit.sonata import write_spikes, write_spikes_csv

__all__ = ["PoissonSpikeGenerator"]


class PoissonSpikeGenerator:
    """Homogeneous and inhomogeneous Poisson spike trains for virtual nodes.

    Parameters
    ----------
    population : str, optional
        Default population of the nodes added.
    seed : int or sequence of int, optional
        Seed of the generator (same seed, same trains).  Without one the generator is seeded from numpy's
        global random state, so that ``np.random.seed(...)`` before it makes the trains reproducible, as in
        bmtk (whose generator draws from that state).
    output_units : {"ms", "s"}
        Units of the written and returned timestamps (SONATA: ms).
    **kwargs
        Other arguments of bmtk's constructor, accepted and ignored.

    Notes
    -----
    The trains have bmtk's statistics (homogeneous: Poisson counts, uniform times; inhomogeneous: thinning
    of the rate interpolated linearly between ``times``), drawn with vectorised numpy calls, so the numbers
    differ from bmtk's for the same seed.

    Examples
    --------
    >>> psg = PoissonSpikeGenerator(population="lgn", seed=1)
    >>> psg.add(node_ids=range(10), firing_rate=15.0, times=(0.0, 3.0))   # 3 s at 15 Hz
    >>> psg.to_sonata("inputs/lgn_spikes.h5")                            # doctest: +SKIP
    """

    def __init__(self, population: str | None = None, seed: int | Sequence[int] | None = None,
                 output_units: str = "ms", **kwargs: object):
        if output_units not in ("ms", "s"):
            raise ModelkitError(f"PoissonSpikeGenerator(output_units): expected 'ms' or 's', got {output_units!r}")
        self.population = population
        self.output_units = output_units
        # without a seed, one draw from numpy's global state: np.random.seed() makes the trains reproducible
        self._rng = np.random.default_rng(seed if seed is not None else np.random.randint(0, 2**63 - 1,
                                                                                           dtype=np.int64))
        self._ids: dict[str | None, list[np.ndarray]] = {}
        self._times: dict[str | None, list[np.ndarray]] = {}

    def add(self, node_ids: ArrayLike | PathLike, firing_rate: ArrayLike, population: str | None = None,
            times: ArrayLike = (0.0, 1.0), abs_ref: float = 0.0, tau_ref: float = 0.0) -> None:
        """Add trains for ``node_ids``.

        Parameters
        ----------
        node_ids : int, sequence of int, or str
            A str is the path of a SONATA nodes file: all the nodes of ``population`` in it (as bmtk).
        firing_rate : float or array
            Hz; an array gives an inhomogeneous process sampled at ``times``.
        population : str, optional
            Population of the nodes (default: the generator's).
        times : (start, stop) or array
            Seconds; with an array rate, the time of each rate sample.
        abs_ref, tau_ref : float
            Refractoriness is not modelled; non-zero values raise.
        """
        if abs_ref or tau_ref:
            raise ModelkitError("PoissonSpikeGenerator.add(abs_ref/tau_ref): refractory trains are not supported; "
                                "use 0")
        pop = population if population is not None else self.population
        if isinstance(node_ids, (str, os.PathLike)):
            node_ids = _file_node_ids(node_ids, pop)
        ids = np.atleast_1d(np.asarray(list(node_ids) if isinstance(node_ids, range) else node_ids, dtype=np.int64))
        rate = np.asarray(firing_rate, dtype=float)
        if (rate < 0).any() or not np.isfinite(rate).all():
            raise ModelkitError("PoissonSpikeGenerator.add(firing_rate): expected finite rates >= 0 Hz")
        if rate.ndim == 0:
            t = np.atleast_1d(np.asarray(times, dtype=float))
            t0, t1 = (0.0, float(t[0])) if t.size == 1 else (float(t[0]), float(t[-1]))
            if t1 <= t0:
                raise ModelkitError(f"PoissonSpikeGenerator.add(times): expected start < stop, got {times!r}")
            counts = self._rng.poisson(float(rate) * (t1 - t0), size=len(ids))
            st = self._rng.uniform(t0, t1, size=int(counts.sum()))
        else:
            t = np.asarray(times, dtype=float)
            if t.size == 2 and rate.size != 2:
                t = np.linspace(t[0], t[1], rate.size)
            if t.shape != rate.shape or np.any(np.diff(t) <= 0):
                raise ModelkitError("PoissonSpikeGenerator.add(times): expected increasing times (s), one per rate")
            rmax = float(rate.max())
            counts = self._rng.poisson(rmax * (t[-1] - t[0]), size=len(ids))
            st = self._rng.uniform(t[0], t[-1], size=int(counts.sum()))
            keep = self._rng.random(len(st)) * rmax < np.interp(st, t, rate) if rmax > 0 else np.zeros(len(st), bool)
            owner = np.repeat(np.arange(len(ids)), counts)[keep]
            st = st[keep]
            counts = np.bincount(owner, minlength=len(ids))
        self._ids.setdefault(pop, []).append(np.repeat(ids, counts))
        self._times.setdefault(pop, []).append(st * 1000.0)

    @property
    def populations(self) -> list:
        return list(self._ids)

    def _pop(self, population: str | None) -> str | None:
        return population if population is not None else self.population

    @property
    def _scale(self) -> float:
        """ms -> output units."""
        return 1.0 if self.output_units == "ms" else 1e-3

    def node_ids(self, population: str | None = None) -> np.ndarray:
        """Sorted ids of the nodes with at least one spike in ``population`` (default: the generator's).

        Parameters
        ----------
        population : str, optional
            Default: the generator's.
        """
        pop = self._pop(population)
        if pop not in self._ids:
            return np.empty(0, np.uint64)
        return np.unique(np.concatenate(self._ids[pop])).astype(np.uint64)

    def n_spikes(self, population: str | None = None) -> int:
        """Number of spikes in ``population`` (default: the generator's).

        Parameters
        ----------
        population : str, optional
            Default: the generator's.
        """
        pop = self._pop(population)
        return int(sum(len(a) for a in self._ids.get(pop, [])))

    def time_range(self, population: str | None = None) -> tuple[float, float]:
        """(first, last) spike time of ``population``, or of all populations when it is None (output units).

        Parameters
        ----------
        population : str, optional
            Default: every population.

        Raises
        ------
        ModelkitError
            No spikes.
        """
        pops = [population] if population is not None else list(self._times)
        ts = [t for p in pops for t in self._times.get(p, [])]
        allts = np.concatenate(ts) if ts else np.empty(0)
        if allts.size == 0:
            raise ModelkitError(f"PoissonSpikeGenerator.time_range({population!r}): there are no spikes")
        return float(allts.min() * self._scale), float(allts.max() * self._scale)

    def get_times(self, node_id: int, population: str | None = None,
                  time_window: tuple[float, float] | None = None) -> np.ndarray:
        """Sorted spike times of one node (output units), optionally within ``time_window`` (start, stop).

        Parameters
        ----------
        node_id : int
            The node.
        population : str, optional
            Default: the generator's.
        time_window : (float, float), optional
            Inclusive bounds, in the output units (ms or s).
        """
        ids, ts = self.spikes(population)
        t = ts[ids == int(node_id)] * self._scale
        if time_window is not None:
            t = t[(time_window[0] <= t) & (t <= time_window[1])]
        return t

    def spikes(self, population: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(node_ids, times in ms) of a population, sorted by time.

        Parameters
        ----------
        population : str, optional
            Default: the generator's.
        """
        pop = population if population is not None else self.population
        if pop not in self._ids:
            return np.empty(0, np.int64), np.empty(0)
        ids = np.concatenate(self._ids[pop])
        ts = np.concatenate(self._times[pop])
        o = np.lexsort((ids, ts))
        return ids[o], ts[o]

    def to_dataframe(self, populations: str | Iterable[str] | None = None,
                     with_population_col: bool = True) -> pd.DataFrame:
        """Columns ``timestamps`` (output units), ``population``, ``node_ids``, sorted by time per population.

        Parameters
        ----------
        populations : str or iterable of str, optional
            Default: every population.
        with_population_col : bool
            Keep the ``population`` column.
        """
        pops = list(self._ids) if populations is None else \
            ([populations] if isinstance(populations, str) else list(populations))
        frames = []
        for pop in pops:
            ids, ts = self.spikes(pop)
            frames.append(pd.DataFrame({"timestamps": ts * self._scale, "population": pop, "node_ids": ids}))
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            {"timestamps": [], "population": [], "node_ids": []})
        return df if with_population_col else df.drop(columns="population")

    def _data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        scale = self._scale
        out = {}
        for pop in self._ids:
            if pop is None:
                raise ModelkitError("PoissonSpikeGenerator: spikes without a population cannot be written; "
                                    "pass population= to the constructor or to add()")
            ids, ts = self.spikes(pop)
            out[pop] = (ids, ts * scale)
        return out

    def to_sonata(self, path: PathLike, sort_order: str = "by_time", overwrite: bool = True) -> None:
        """Write a SONATA spike file (atomically).

        Parameters
        ----------
        path : PathLike
            The HDF5 file.
        sort_order : {"by_time", "by_id", "none"}
            SONATA's ``sorting`` of each population.
        overwrite : bool
            Replace an existing file (else an error).
        """
        write_spikes(path, self._data(), sort=sort_order, overwrite=overwrite)

    def to_csv(self, path: PathLike, sort_order: str = "by_time", overwrite: bool = True) -> None:
        """Write bmtk's spike CSV.

        Parameters
        ----------
        path : PathLike
            The CSV file.
        sort_order, overwrite
            As in :meth:`to_sonata` (``sort_order`` orders the rows).
        """
        write_spikes_csv(path, self._data(), sort=sort_order, overwrite=overwrite)


def _file_node_ids(path: PathLike, population: str | None) -> np.ndarray:
    """The node ids of ``population`` in a SONATA nodes file (the only population when None)."""
    import h5py
    p = os.fspath(path)
    try:
        with h5py.File(p, "r") as f:
            names = list(f["nodes"].keys()) if "nodes" in f else []
            if population is None and len(names) == 1:
                population = names[0]
            if population not in names:
                raise ModelkitError(f"PoissonSpikeGenerator.add(node_ids={p!r}): expected a nodes file with "
                                    f"population {population!r}, found populations {names}")
            return np.asarray(f["nodes"][population]["node_id"][()], dtype=np.int64)
    except OSError as e:
        raise ModelkitError(f"PoissonSpikeGenerator.add(node_ids={p!r}): expected a SONATA nodes file: {e}") from e
