"""PoissonSpikeGenerator: seeded Poisson spike trains, written as SONATA spike files (bmtk's API).

As in bmtk, ``add(..., times=...)`` takes seconds and rates in Hz; the trains
are stored and written in ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
        Seed of the generator (same seed, same trains).
    output_units : {"ms", "s"}
        Units of the written timestamps (SONATA: ms).

    Examples
    --------
    >>> psg = PoissonSpikeGenerator(population="lgn", seed=1)
    >>> psg.add(node_ids=range(10), firing_rate=15.0, times=(0.0, 3.0))   # 3 s at 15 Hz
    >>> psg.to_sonata("inputs/lgn_spikes.h5")                            # doctest: +SKIP
    """

    def __init__(self, population: str | None = None, seed: Any = None, output_units: str = "ms", **kwargs: Any):
        if output_units not in ("ms", "s"):
            raise ModelkitError(f"PoissonSpikeGenerator(output_units): expected 'ms' or 's', got {output_units!r}")
        self.population = population
        self.output_units = output_units
        self._rng = np.random.default_rng(seed)
        self._ids: dict[str | None, list[np.ndarray]] = {}
        self._times: dict[str | None, list[np.ndarray]] = {}

    def add(self, node_ids: Any, firing_rate: Any, population: str | None = None, times: Any = (0.0, 1.0),
            abs_ref: float = 0.0, tau_ref: float = 0.0) -> None:
        """Add trains for ``node_ids``.

        Parameters
        ----------
        node_ids : int or sequence of int
        firing_rate : float or array
            Hz; an array gives an inhomogeneous process sampled at ``times``.
        population : str, optional
        times : (start, stop) or array
            Seconds; with an array rate, the time of each rate sample.
        abs_ref, tau_ref : float
            Refractoriness is not modelled; non-zero values raise.
        """
        if abs_ref or tau_ref:
            raise ModelkitError("PoissonSpikeGenerator.add(abs_ref/tau_ref): refractory trains are not supported; "
                                "use 0")
        pop = population if population is not None else self.population
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

    def spikes(self, population: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(node_ids, times in ms) of a population, sorted by time."""
        pop = population if population is not None else self.population
        if pop not in self._ids:
            return np.empty(0, np.int64), np.empty(0)
        ids = np.concatenate(self._ids[pop])
        ts = np.concatenate(self._times[pop])
        o = np.lexsort((ids, ts))
        return ids[o], ts[o]

    def to_dataframe(self) -> pd.DataFrame:
        """Columns ``timestamps`` (ms), ``population``, ``node_ids``."""
        frames = []
        for pop in self._ids:
            ids, ts = self.spikes(pop)
            frames.append(pd.DataFrame({"timestamps": ts, "population": pop, "node_ids": ids}))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            {"timestamps": [], "population": [], "node_ids": []})

    def _data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        scale = 1.0 if self.output_units == "ms" else 1e-3
        out = {}
        for pop in self._ids:
            if pop is None:
                raise ModelkitError("PoissonSpikeGenerator: spikes without a population cannot be written; "
                                    "pass population= to the constructor or to add()")
            ids, ts = self.spikes(pop)
            out[pop] = (ids, ts * scale)
        return out

    def to_sonata(self, path: Any, sort_order: str = "by_time", overwrite: bool = True) -> None:
        """Write a SONATA spike file (atomically)."""
        write_spikes(path, self._data(), sort=sort_order, overwrite=overwrite)

    def to_csv(self, path: Any, sort_order: str = "by_time", overwrite: bool = True) -> None:
        """Write bmtk's spike CSV."""
        write_spikes_csv(path, self._data(), sort=sort_order, overwrite=overwrite)
