"""DiPDE's population density method, as bmtk PopNet runs it (``dipde:Internal`` populations in SI units).

A population is the probability mass ``pv`` of its neurons' membrane potential in
bins from ``v_min`` to the threshold ``v_max`` (volts; DiPDE's grid: ``arange(v_min,
v_max, dv)`` then ``v_max``, so the top bin may be narrower).  Rest and reset are 0 V:

* the leak moves the mass of each bin above (below) the bin(s) of 0 V one bin down
  (up) at the rate ``|v_outer| / (tau_m * width)``, with ``v_outer`` the bin's edge
  farther from 0 (DiPDE's leak matrix);
* an input of weight ``w`` (V) at rate ``lam`` (Hz, source rate x ``nsyns``) moves every
  bin's mass ``w`` up (down), split over the bins the shifted bin overlaps; mass pushed
  over ``v_max`` re-enters at the bin(s) of 0 V (their share split evenly when 0 V is a
  bin edge) and is the population's firing; mass pushed under ``v_min`` lands in the
  lowest bin;
* the firing rate (Hz) is the flux over threshold after the step:
  ``sum_k lam_k f_k . pv`` with ``f_k`` the fraction of each bin that a jump ``w_k`` lifts
  over ``v_max``.

Time steps follow DiPDE's ``update_method``: ``gmres`` is a backward-Euler step
``(I - dt Q) pv' = pv`` (DiPDE solves it with GMRES at ``tol``; here it is solved
directly: a banded LU plus a rank-one (Sherman–Morrison) term for the re-injection
at 0 V, equal to GMRES's answer to about ``tol``); ``approx`` is the Taylor series of
``exp(dt Q) pv`` summed until a term's max-norm is below ``tol`` (or to
``approx_order`` terms), ``exact`` the matrix exponential.  After each step, negative
mass is set to 0 and the mass renormalised to 1 where it drifted by more than 1e-15,
as DiPDE does.  Units: s, V, Hz.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.linalg.lapack import dgbsv

from modelkit.errors import ConfigError
from modelkit.simulator.paramfiles import finite_float

__all__ = ["DipdePopulation", "dipde_edges", "DIPDE_KEYS", "UPDATE_METHODS"]

#: parameters of a DiPDE internal population (InternalPopulation's keyword arguments) that modelkit reads
DIPDE_KEYS = frozenset({"tau_m", "v_min", "v_max", "dv", "update_method", "approx_order", "tol", "norm",
                        "initial_firing_rate", "p0", "record", "metadata", "rank"})
UPDATE_METHODS = ("approx", "exact", "gmres")


def dipde_edges(v_min: float, v_max: float, dv: float) -> np.ndarray:
    """DiPDE's bin edges (V): ``arange(v_min, v_max, dv)``, then ``v_max``; edges within one float epsilon of
    0 are 0 (so that 0 V is an edge when the grid reaches it).

    Parameters
    ----------
    v_min, v_max, dv : float
        Range and bin width of the membrane-potential grid (V, DiPDE's units).
    """
    edges = np.concatenate((np.arange(v_min, v_max, dv), [v_max]))
    edges[np.abs(edges) < np.finfo(float).eps] = 0.0
    return edges


def _zero_bins(edges: np.ndarray) -> np.ndarray:
    """The bin(s) that hold 0 V: both bins beside a 0 V edge, else the bin containing 0 V."""
    z = np.flatnonzero(edges == 0.0)
    if len(z) == 1:
        return np.array([0]) if z[0] == 0 else np.array([z[0] - 1, z[0]])
    return np.array([int(np.searchsorted(edges, 0.0, side="right")) - 1])


def _delta_value(value: Any, where: str, key: str) -> float:
    """A number, or DiPDE's ``{"distribution": "delta", "weight": x}``."""
    if isinstance(value, dict):
        if value.get("distribution") != "delta" or "weight" not in value:
            raise ConfigError(None, f"{where}: {key}", "a number or {'distribution': 'delta', 'weight': x} "
                              "(other DiPDE distributions are not supported)", repr(value))
        value = value["weight"]
    return finite_float(value, f"{where}: {key}")


class _Banded:
    """An n x n matrix as LAPACK band storage ``ab[ku + i - j, j] = M[i, j]`` (``kl`` sub-, ``ku`` super-diagonals)."""

    def __init__(self, n: int, kl: int, ku: int) -> None:
        self.n, self.kl, self.ku = n, kl, ku
        self.ab = np.zeros((kl + ku + 1, n))

    def add(self, i: np.ndarray, j: np.ndarray, v: np.ndarray) -> None:
        np.add.at(self.ab, (self.ku + i - j, j), v)


class DipdePopulation:
    """One DiPDE internal population: its density, its input operators and its time step.

    Parameters
    ----------
    params : dict
        DiPDE's parameters: ``tau_m`` (s), ``v_min``, ``v_max`` (threshold), ``dv`` (V),
        ``update_method`` (``approx``, ``exact``, ``gmres``; DiPDE's default ``approx``),
        ``approx_order``, ``tol`` (default 1e-14; ``None``: 1e-5 for gmres, else 1e-12),
        ``initial_firing_rate`` (Hz); ``record``, ``norm``, ``metadata``, ``rank`` are accepted and
        have no effect here (the max-norm is used, as DiPDE's default).
    weights : sequence of float
        The distinct synaptic weights (V) of its inputs; :meth:`step` takes one input rate per weight.
    dt : float
        Time step (s).
    where : str
        Names the population (its file and node type) in error messages.

    Raises
    ------
    ConfigError
        Unknown parameter names, non-numeric or inconsistent values (``v_min < v_max``, ``0 <= v_max``,
        ``dv > 0``, ``tau_m > 0``), an unknown ``update_method``.
    """

    def __init__(self, params: dict, weights: Sequence[float] | np.ndarray, dt: float, where: str) -> None:
        unknown = sorted(set(params) - DIPDE_KEYS)
        if unknown:
            raise ConfigError(None, f"{where}: dynamics_params",
                              f"DiPDE InternalPopulation parameters ({', '.join(sorted(DIPDE_KEYS))})",
                              f"unknown {unknown}")
        self.where = where
        self.tau_m = _delta_value(params.get("tau_m", 0.02), where, "tau_m")
        v_min = _delta_value(params.get("v_min", -0.1), where, "v_min")
        v_max = _delta_value(params.get("v_max", 0.02), where, "v_max")
        dv = _delta_value(params.get("dv", 1e-4), where, "dv")
        if not self.tau_m > 0:
            raise ConfigError(None, f"{where}: tau_m", "a positive membrane time constant (s)", repr(self.tau_m))
        if not dv > 0 or not v_min <= 0.0 < v_max:
            raise ConfigError(None, f"{where}: v_min, v_max, dv", "v_min <= 0 < v_max and dv > 0 (V; rest and "
                              "reset are 0 V)", f"v_min {v_min}, v_max {v_max}, dv {dv}")
        if (v_max - v_min) / dv > 2e6:
            raise ConfigError(None, f"{where}: dv", "at most 2e6 voltage bins", f"{(v_max - v_min) / dv:.3g}")
        self.method = str(params.get("update_method", "approx"))
        if self.method not in UPDATE_METHODS:
            raise ConfigError(None, f"{where}: update_method", f"one of {UPDATE_METHODS}", repr(self.method))
        tol = params.get("tol", 1e-14)
        self.tol = (1e-5 if self.method == "gmres" else 1e-12) if tol is None else _delta_value(tol, where, "tol")
        order = params.get("approx_order")
        self.approx_order = None if order is None else int(_delta_value(order, where, "approx_order"))
        self.rate = _delta_value(params.get("initial_firing_rate", 0.0), where, "initial_firing_rate")  # Hz
        p0 = _delta_value(params.get("p0", 0.0), where, "p0")
        self.dt = float(dt)
        self.edges = e = dipde_edges(v_min, v_max, dv)
        self.n = n = len(e) - 1
        width = np.diff(e)
        self.zero = _zero_bins(e)
        # the initial mass: DiPDE's cdf of a delta at p0 over the bins (the bin whose top edge is >= p0)
        self.pv = np.zeros(n)
        self.pv[int(np.clip(np.searchsorted(e, p0, side="left") - 1, 0, n - 1))] = 1.0
        self.weights = np.asarray(weights, dtype=float).reshape(-1)
        if not np.isfinite(self.weights).all():
            raise ConfigError(None, f"{where}: syn_weight", "finite synaptic weights (V)", str(self.weights))
        # leak (s^-1): bins above the zero bins move down, bins below move up
        src_hi = np.arange(self.zero.max() + 1, n)
        src_lo = np.arange(0, self.zero.min())
        leak_i = np.concatenate([src_hi - 1, src_lo + 1])
        leak_j = np.concatenate([src_hi, src_lo])
        leak_r = np.concatenate([e[src_hi + 1] / (self.tau_m * width[src_hi]),
                                 e[src_lo] / (self.tau_m * -width[src_lo])])
        # jumps: fraction of source bin j landing in bin i; lost over threshold (f) or under v_min (floor)
        jumps = [self._jump(w) for w in self.weights]
        kl = max([1] + [int(np.max(np.maximum(i - j, 0), initial=0)) for i, j, _, _ in jumps])
        ku = max([1] + [int(np.max(np.maximum(j - i, 0), initial=0)) for i, j, _, _ in jumps])
        self.kl, self.ku = kl, ku
        self.leak = _Banded(n, kl, ku)
        self.leak.add(leak_i, leak_j, leak_r)
        self.leak.add(leak_j, leak_j, -leak_r)
        self.jump: list[_Banded] = []
        self.f = np.zeros((len(self.weights), n))  # fraction of each bin lifted over threshold per jump
        for k, (i, j, v, lost) in enumerate(jumps):
            b = _Banded(n, kl, ku)
            b.add(i, j, v)
            b.add(np.arange(n), np.arange(n), -np.ones(n))
            self.jump.append(b)
            self.f[k] = lost
        self.u = np.zeros(n)  # where the mass over threshold re-enters
        self.u[self.zero] = 1.0 / len(self.zero)
        self._lu_ab = np.zeros((2 * kl + ku + 1, n))

    def _jump(self, w: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(target bin, source bin, fraction, lost over threshold per source bin)`` of a jump of ``w`` V."""
        e, n = self.edges, self.n
        a1, a2 = e[:-1] + w, e[1:] + w
        width = a2 - a1
        first = np.clip(np.searchsorted(e, a1, side="right") - 1, 0, n - 1)
        last = np.clip(np.searchsorted(e, a2, side="left") - 1, 0, n - 1)
        span = int((last - first).max()) + 1
        rows, cols, vals = [], [], []
        for k in range(span):
            t = first + k
            ok = t <= last
            src = np.flatnonzero(ok)
            tt = t[ok]
            ov = np.minimum(a2[ok], e[tt + 1]) - np.maximum(a1[ok], e[tt])
            frac = np.maximum(ov, 0.0) / width[ok]
            keep = frac > 0
            rows.append(tt[keep])
            cols.append(src[keep])
            vals.append(frac[keep])
        i, j, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        above = np.clip((a2 - np.maximum(a1, e[-1])) / width, 0.0, 1.0)  # lifted over v_max
        below = np.clip((np.minimum(a2, e[0]) - a1) / width, 0.0, 1.0)   # pushed under v_min: to the lowest bin
        if w < 0 and below.any():
            src = np.flatnonzero(below > 0)
            i, j, v = np.concatenate([i, np.zeros(len(src), np.int64)]), np.concatenate([j, src]), \
                np.concatenate([v, below[src]])
        return i, j, v, (above if w > 0 else np.zeros(n))

    # ------------------------------------------------------------------ step
    def _operator(self, lam: np.ndarray) -> np.ndarray:
        """Band storage of ``L + sum_k lam_k (S_k - I)`` (without the re-injection at 0 V)."""
        ab = self.leak.ab.copy()
        for rate, b in zip(lam, self.jump):
            if rate != 0.0:
                ab += rate * b.ab
        return ab

    def step(self, lam: np.ndarray) -> float:
        """Advance one ``dt`` with input rates ``lam`` (Hz, one per weight; source rate x nsyns summed);
        returns the firing rate (Hz) after the step.

        Parameters
        ----------
        lam : numpy.ndarray of float
            Input rate (Hz) per weight of the population.
        """
        lam = np.asarray(lam, dtype=float)
        dt, kl, ku = self.dt, self.kl, self.ku
        g = lam @ self.f  # re-injection row: Q = band + u g^T
        band = self._operator(lam)
        pv = self.pv
        if self.method == "gmres":
            # (I - dt band - dt u g^T) x = pv: banded LU for [pv, u], then Sherman–Morrison
            ab = self._lu_ab
            ab[:kl] = 0.0
            ab[kl:] = -dt * band
            ab[kl + ku] += 1.0
            rhs = np.column_stack([pv, self.u])
            _, _, sol, info = dgbsv(kl, ku, ab, rhs, overwrite_ab=1, overwrite_b=1)
            if info != 0:
                raise ConfigError(None, f"{self.where}: update", "a solvable backward-Euler step",
                                  f"LAPACK dgbsv info {info}")
            y, z = sol[:, 0], sol[:, 1]
            gy, gz = float(g @ y), float(g @ z)
            new = y + z * (dt * gy / (1.0 - dt * gz))
        elif self.method == "approx" or self.method == "exact":
            # exp(dt Q) pv by its Taylor series (DiPDE's 'approx'; 'exact' the same, summed to round-off)
            term = pv.copy()
            new = pv.copy()
            fixed = self.approx_order if self.method == "approx" else None
            tol = self.tol if self.method == "approx" else 1e-16
            k = 0
            while True:
                k += 1
                term = (self._banded_matvec(band, term) + self.u * float(g @ term)) * (dt / k)
                new += term
                size = float(np.abs(term).max())
                if not np.isfinite(size) or k > 10_000:
                    raise ConfigError(None, f"{self.where}: update_method", "a Taylor series of exp(dt Q) that "
                                      "converges (a smaller run.dt, in s, or update_method 'gmres')",
                                      f"divergence at dt = {dt:g} s")
                if (fixed is not None and k >= fixed) or (fixed is None and size <= tol):
                    break
        if (new < 0).any() or abs(np.abs(new).sum() - 1.0) > 1e-15:
            new[new < 0] = 0.0
            new /= new.sum()
        self.pv = new
        self.rate = float(g @ new)
        return self.rate

    def _banded_matvec(self, ab: np.ndarray, x: np.ndarray) -> np.ndarray:
        n, ku = self.n, self.ku
        y = np.zeros(n)
        for r in range(ab.shape[0]):
            off = r - ku
            if off >= 0:
                y[off:] += ab[r, :n - off] * x[:n - off]
            else:
                y[:n + off] += ab[r, -off:] * x[-off:]
        return y
