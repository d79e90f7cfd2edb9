"""Rate inputs: firing rates of virtual nodes, for any backend.

Config entries (``inputs`` block, onto virtual nodes that edges connect to the cells, as bmtk PopNet's
external populations):

* ``input_type: rates, module: constant``: ``rate`` (Hz), optional ``start_time`` and
  ``stop_time`` (ms; default the whole run);
* ``input_type: rates, module: time_series``: ``times`` (ms) and ``rates`` (Hz) of equal
  length, ``interpolation`` ``step`` (default: each rate holds until the next time) or
  ``linear``;
* ``input_type: csv, module: pop_rates`` (bmtk PopNet's form; also ``input_type: rates``):
  ``rates`` (or ``file``) names a CSV (space- or comma-separated) with columns
  ``node_id`` (or bmtk's ``gid``) and ``firing_rate`` (or ``firing_rates``, Hz), optional
  ``population`` and ``times`` (or ``timestamps``, ms) for time-varying rates.

A backend that takes rates (:class:`~modelkit.simulator.abilities.TakesRates`, the population backend) gets
them as they are; on a backend that simulates spiking cells (NEST), the same inputs become seeded Poisson
spike trains of the virtual nodes (``random_seed``, default the run's seed).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.errors import ConfigError
from modelkit.simulator.abilities import TakesRates
from modelkit.simulator.base import ConfigModule
from modelkit.sonata.config import InputSpec

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation

__all__ = ["RateInput", "poisson_trains", "check_rates"]

log = logging.getLogger("modelkit.simulator")

ID_COLS = ("node_id", "node_ids", "gid")
RATE_COLS = ("firing_rate", "firing_rates", "rate", "rates")
TIME_COLS = ("times", "timestamps", "time")


def check_rates(r: np.ndarray, cfg: PathLike | None, key: str | None) -> None:
    """Raise a ConfigError naming ``cfg`` and ``key`` unless every rate is finite and >= 0 (Hz).

    Parameters
    ----------
    r : numpy.ndarray
        Rates (Hz).
    cfg : str or PathLike or None
        The file that holds them.
    key : str or None
        Where in it.
    """
    bad = ~(np.isfinite(r) & (r >= 0))
    if bad.any():
        raise ConfigError(cfg, key, "non-negative finite firing rates (Hz)", str(np.asarray(r)[bad][:3].tolist()))


def poisson_trains(node_ids: np.ndarray, times: np.ndarray, rates: np.ndarray, stop: float,
                   rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Poisson spike trains (ms) of piecewise-constant rates.

    Parameters
    ----------
    node_ids : numpy.ndarray
        The nodes, one column of ``rates`` each.
    times : numpy.ndarray
        Times (ms) from which each row of ``rates`` holds.
    rates : numpy.ndarray
        ``rates[k, i]`` (Hz) of node ``i`` from ``times[k]`` to ``times[k + 1]`` (the last row until ``stop``).
    stop : float
        End of the last interval (ms).
    rng : numpy.random.Generator
        The random stream.

    Returns
    -------
    dict of int to numpy.ndarray
        Sorted spike times (ms) per node id.
    """
    t = np.append(times, max(stop, times[-1]))
    dur = np.diff(t) / 1000.0
    out: dict[int, np.ndarray] = {}
    for i, nid in enumerate(np.asarray(node_ids).tolist()):
        counts = rng.poisson(rates[:, i] * dur)
        st = rng.uniform(np.repeat(t[:-1], counts), np.repeat(t[1:], counts))
        out[int(nid)] = np.sort(st)
    return out


class RateInput(ConfigModule[InputSpec]):
    """Input rates of virtual nodes (see the module docstring for the config keys)."""

    def _key(self, k: str) -> str:
        return f"inputs.{self.name}.{k}"

    def _file(self, sim: Simulation) -> str | None:
        p = self.spec.params
        v = p.get("rates") if isinstance(p.get("rates"), str) else self.spec.input_file
        if v is None:
            return None
        return v if os.path.isabs(v) else os.path.join(sim.config.base_dir, v)

    def _read_csv(self, sim: Simulation, path: str) -> pd.DataFrame:
        if not os.path.exists(path):
            raise ConfigError(sim.config.path, self._key("rates"), "an existing CSV of node_id and firing_rate", path)
        from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
        check_regular_file(path, "CSV of rates", MAX_CSV_BYTES)  # a FIFO would block read_csv
        try:
            df = pd.read_csv(path, sep=r"[\s,]+", engine="python")
        except (ValueError, OSError) as e:
            raise ConfigError(path, None, "a CSV of rates (columns node_id/gid, firing_rate)", str(e)) from e
        idc = next((c for c in ID_COLS if c in df.columns), None)
        rc = next((c for c in RATE_COLS if c in df.columns), None)
        if idc is None or rc is None:
            raise ConfigError(path, "columns", "node_id (or gid) and firing_rate (Hz) columns", str(list(df.columns)))
        tc = next((c for c in TIME_COLS if c in df.columns), None)
        out = pd.DataFrame({"node_id": df[idc].astype(np.int64), "rate": df[rc].astype(float),
                            "time": df[tc].astype(float) if tc else np.nan})
        if "population" in df.columns:
            out["population"] = df["population"].astype(str)
        check_rates(out["rate"].to_numpy(), path, rc)
        return out

    def schedule(self, sim: Simulation, population: str, node_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
        """``(times (ms), rates (len(times), len(node_ids)) Hz, interpolation)`` for some virtual nodes.

        Parameters
        ----------
        sim : Simulation
            The run.
        population : str
            The virtual nodes' population.
        node_ids : numpy.ndarray
            The virtual nodes driven.

        Raises
        ------
        ConfigError
            Missing keys, negative rates, times and rates of different lengths, nodes without a rate.
        """
        p = self.spec.params
        opts = sim.options
        cfg = sim.config.path
        path = self._file(sim)
        n = len(node_ids)
        if path is not None:
            df = self._read_csv(sim, path)
            if "population" in df.columns:
                df = df[df["population"] == population]
            df = df[df["node_id"].isin(node_ids)]
            missing = np.setdiff1d(node_ids, df["node_id"].to_numpy())
            if len(missing):
                raise ConfigError(path, "node_id", f"a rate for every node of the node set in {population}",
                                  f"none for nodes {missing[:5].tolist()}")
            if df["time"].isna().all():
                r = df.groupby("node_id")["rate"].last().reindex(node_ids).to_numpy()
                return np.array([opts.tstart]), r[None, :], "step"
            times = np.unique(df["time"].to_numpy())
            table = df.pivot_table(index="time", columns="node_id", values="rate", aggfunc="last")
            table = table.reindex(index=times, columns=node_ids).ffill().fillna(0.0)
            return times, table.to_numpy(), str(p.get("interpolation", "step"))
        if "rate" in p or (self.spec.module == "constant" and "rates" in p):
            r = np.asarray(p.get("rate", p.get("rates")), dtype=float)
            if r.ndim != 0:
                raise ConfigError(cfg, self._key("rate"), "one rate (Hz)", repr(p.get("rate", p.get("rates"))))
            check_rates(np.atleast_1d(r), cfg, self._key("rate"))
            start = float(p.get("start_time", opts.tstart))
            stop = p.get("stop_time")
            if stop is not None and float(stop) <= start:
                raise ConfigError(cfg, self._key("stop_time"), f"a stop time after start_time ({start} ms)", str(stop))
            times = np.array([start] if stop is None else [start, float(stop)])
            vals = np.array([float(r)] if stop is None else [float(r), 0.0])
            return times, np.broadcast_to(vals[:, None], (len(times), n)).copy(), "step"
        if "rates" in p:
            r = np.asarray(p["rates"], dtype=float)
            if "times" not in p:
                raise ConfigError(cfg, self._key("times"), "the times (ms) at which the rates apply", "absent")
            t = np.asarray(p["times"], dtype=float)
            if r.ndim != 1 or t.shape != r.shape:
                raise ConfigError(cfg, self._key("rates"), f"one rate (Hz) per time ({t.size} times)",
                                  f"shape {r.shape}")
            check_rates(r, cfg, self._key("rates"))
            if (np.diff(t) < 0).any() or not np.isfinite(t).all():
                raise ConfigError(cfg, self._key("times"), "finite non-decreasing times (ms)", str(t[:5].tolist()))
            interp = str(p.get("interpolation", "step"))
            if interp not in ("step", "linear"):
                raise ConfigError(cfg, self._key("interpolation"), "'step' or 'linear'", repr(interp))
            return t, np.broadcast_to(r[:, None], (len(r), n)).copy(), interp
        raise ConfigError(cfg, self._key("rate"), "rate (Hz), rates with times (ms), or rates naming a CSV file",
                          "none of them")

    def _backend_rates(self, sim: Simulation, population: str, ids: np.ndarray) -> bool:
        """Whether the backend took the rates of ``ids`` in a form of its own (a backend's subclass says)."""
        return False

    def initialize(self, sim: Simulation) -> None:
        seed = int(self.spec.params.get("random_seed", sim.options.seed))
        for k, (pop, sel) in enumerate(sim.resolve(self.spec.node_set, self._key("node_set")).items()):
            src = sim.sources.get(pop)
            if src is None or not len(src & sel):
                raise ConfigError(sim.config.path, self._key("node_set"),
                                  "virtual nodes (external populations) that edges connect to the populations",
                                  f"no virtual nodes in {pop}")
            ids = (sel & src).flat
            if self._backend_rates(sim, pop, ids):
                continue
            times, rates, interp = self.schedule(sim, pop, ids)
            if isinstance(sim.backend, TakesRates):
                sim.backend.add_rates(pop, ids, times, rates, interp)
            else:  # a spiking backend: seeded Poisson trains with these rates
                if interp == "linear":
                    fine = np.arange(times[0], max(sim.options.tstop, times[-1]), sim.options.dt)
                    rates = np.stack([np.interp(fine, times, rates[:, i]) for i in range(len(ids))], axis=1)
                    times = fine
                rng = np.random.default_rng([seed, k])
                sim.backend.add_spike_trains(pop, ids, poisson_trains(ids, times, rates, sim.options.tstop, rng))
            log.info("input %s: rates onto %d virtual nodes of %s", self.name, len(ids), pop)
