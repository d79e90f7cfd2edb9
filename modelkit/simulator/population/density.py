"""Population density method for leaky integrate-and-fire populations with delta (jump) synapses.

One population is the probability density of the membrane potential of its
(statistically identical, independent) neurons, discretised in finite volumes
on a grid from ``v_min`` to the threshold ``V_th``:

* the leak ``dv/dt = (E_L - v)/tau_m + I_e/C_m`` moves mass between
  neighbouring bins (first-order upwind fluxes at the bin faces);
* each input spike of a synapse of weight ``w`` (mV) moves the membrane by
  ``w``: at an input rate ``nu`` the mass of every bin leaves at rate ``nu`` and
  lands ``w`` higher (lower), split between the two bins that the shifted bin
  overlaps, so the mean jump is exactly ``w``; mass pushed below ``v_min``
  stays in the lowest bin (a reflecting floor);
* mass that crosses ``V_th`` is the population's firing: its flux is the
  rate; it waits ``t_ref`` (refractory mass) and re-enters at ``V_reset``.

The generator ``Q = L + sum_k nu_k (S_k - I)`` is banded; each time step is an
implicit Euler step ``(I - dt Q) p' = p + reinjected mass``, solved as a banded
system.  ``I - dt Q`` is an M-matrix, so the density stays non-negative for any
``dt``, and the mass that leaves through threshold in the step is exactly
``dt * flux``: probability mass + refractory mass is conserved to round-off.
Units: ms, mV, pA, pF; rates in Hz at the interface.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg.lapack import dgttrf, dgttrs

from modelkit._typing import ArrayLike
from modelkit.errors import ConfigError

__all__ = ["LIFDensity", "max_density_dt"]

#: at most this probability of an input jump per neuron per (sub)step: the explicit jump update stays positive
_MAX_JUMP_PROB = 0.5


def max_density_dt(tau_m: float) -> float:
    """The coarsest time step (ms) the density solver accepts for membrane time constant ``tau_m`` (ms).

    Parameters
    ----------
    tau_m : float
        Membrane time constant (ms).

    The implicit step is stable for any ``dt`` but it damps every mode faster than
    ``1/dt``: with ``dt = tau_m/10`` the rate's response to a step in input lags by
    about ``dt`` (a few % of the relaxation time); coarser steps misplace the
    transient and the refractory period, so they are refused.
    """
    return tau_m / 10.0


class LIFDensity:
    """The membrane-potential density of one LIF population (delta synapses, Poisson input).

    Parameters
    ----------
    tau_m : float
        Membrane time constant (ms).
    V_th, V_reset, E_L : float
        Threshold, reset and resting potential (mV).
    t_ref : float
        Refractory period (ms); rounded to whole steps, at least one step.
    weights : sequence of float
        The distinct synaptic jump sizes (mV, excitatory > 0, inhibitory < 0) the
        population receives; :meth:`step` takes one input rate per weight.
    dt : float
        Time step (ms), at most :func:`max_density_dt`.
    dv : float
        Grid spacing (mV); rounded so that ``V_th`` is a bin edge.
    v_min : float, optional
        Bottom of the grid (mV); default 10 mV below ``min(E_L, V_reset)``.
    I_e, C_m : float
        Constant input current (pA) and capacitance (pF): a drift of ``I_e/C_m`` mV/ms.
    V_m : float, optional
        Initial membrane potential of every neuron (mV); default ``E_L``.
    where : str
        Names the population in error messages.

    Raises
    ------
    ConfigError
        Inconsistent parameters (``V_reset`` not below ``V_th``, non-positive ``tau_m`` or
        ``dv``), or a ``dt`` above :func:`max_density_dt` (the message gives the largest
        accepted one).
    """

    def __init__(self, tau_m: float, V_th: float, V_reset: float, E_L: float, t_ref: float,
                 weights: Sequence[float] | np.ndarray, dt: float, dv: float = 0.05, v_min: float | None = None,
                 I_e: float = 0.0, C_m: float = 250.0, V_m: float | None = None, where: str = "population") -> None:
        self.where = where
        for key, val in (("tau_m", tau_m), ("dv", dv), ("dt", dt), ("C_m", C_m)):
            if not (np.isfinite(val) and val > 0):
                raise ConfigError(None, f"{where}: {key}", "a positive number", repr(val))
        if not t_ref >= 0:
            raise ConfigError(None, f"{where}: t_ref", "a non-negative refractory period (ms)", repr(t_ref))
        lo = min(E_L, V_reset) - 10.0 if v_min is None else float(v_min)
        if not lo <= V_reset < V_th:
            raise ConfigError(None, f"{where}: V_reset", f"v_min <= V_reset < V_th = {V_th} mV (v_min = {lo} mV)",
                              f"{V_reset} mV")
        dt_max = max_density_dt(tau_m)
        if dt > dt_max * (1 + 1e-9):
            raise ConfigError(None, f"{where}: run.dt",
                              f"a time step <= tau_m/10 = {dt_max:g} ms for the population density solver: a "
                              f"coarser implicit step is stable but damps the transients and shifts the refractory "
                              f"period (dt = {dt:g} ms would lag the rate response by about {dt:g} ms and "
                              f"bias the rate); use run.dt <= {dt_max:g} ms", f"dt = {dt:g} ms")
        self.tau_m, self.V_th, self.V_reset, self.E_L = float(tau_m), float(V_th), float(V_reset), float(E_L)
        self.dt = float(dt)
        self.t_ref = float(t_ref)
        self.n = n = max(2, int(np.ceil((V_th - lo) / dv - 1e-9)))
        self.dv = (V_th - lo) / n
        self.edges = lo + self.dv * np.arange(n + 1)
        self.centers = 0.5 * (self.edges[:-1] + self.edges[1:])
        self.weights = np.asarray(weights, dtype=float).reshape(-1)
        if not np.isfinite(self.weights).all():
            raise ConfigError(None, f"{where}: syn_weight", "finite synaptic weights (mV)", str(self.weights))
        self.reset_bin = min(n - 1, int(np.floor((V_reset - lo) / self.dv)))
        v0 = E_L if V_m is None else float(V_m)
        self.p = np.zeros(n)
        self.p[int(np.clip(np.floor((v0 - lo) / self.dv), 0, n - 1))] = 1.0
        self.n_ref = max(1, int(round(self.t_ref / self.dt)))
        self.refractory = np.zeros(self.n_ref)  # mass that fired k steps ago waits in slot (step - k) % n_ref
        self._k = 0
        self.rate = 0.0  # Hz, over the last step
        self._build(float(I_e) / float(C_m))

    # ------------------------------------------------------------ operators
    def _build(self, drift0: float) -> None:
        n, dv = self.n, self.dv
        a = (self.E_L - self.edges) / self.tau_m + drift0  # drift at the faces (mV/ms)
        # leak: upwind fluxes across interior faces, outflow through the threshold face (banded (1, 1) form)
        up = np.maximum(a[1:-1], 0.0) / dv  # face between bin i and i+1, i = 0..n-2
        down = np.maximum(-a[1:-1], 0.0) / dv
        top = max(a[-1], 0.0) / dv
        L = np.zeros((3, n))
        L[0, 1:] = down            # bin i+1 -> i
        L[2, :-1] = up             # bin i -> i+1
        L[1, :-1] -= up
        L[1, 1:] -= down
        L[1, -1] -= top
        self._leak_top = top
        self._L = L
        self._A: dict[int, tuple] = {}  # substeps -> LU of I - h L (an M-matrix: non-negative inverse)
        self._shifts = []
        for w in self.weights:
            s = w / dv
            k0 = int(np.floor(s))
            frac = float(s - k0)
            if frac > 1 - 1e-9:
                k0, frac = k0 + 1, 0.0
            elif frac < 1e-9:
                frac = 0.0
            self._shifts.append((k0, frac))

    def _shift(self, x: np.ndarray, k0: int, frac: float) -> tuple[np.ndarray, float]:
        """Every neuron's potential moved by one jump: the shifted density and the mass pushed over threshold."""
        n = self.n
        if frac == 0.0 and 0 <= k0 < n:
            q = np.empty(n)
            q[:k0] = 0.0
            q[k0:] = x[:n - k0]
            return q, float(x[n - k0:].sum())
        q = np.zeros(n)
        lost = 0.0
        for off, share in ((k0, 1.0 - frac), (k0 + 1, frac)):
            if share <= 0.0:
                continue
            if off >= n:
                lost += share * float(x.sum())
            elif off >= 0:
                q[off:] += share * x[:n - off]
                lost += share * float(x[n - off:].sum())
            elif off > -n:
                q[:n + off] += share * x[-off:]
                q[0] += share * float(x[:-off].sum())  # reflecting floor at v_min
            else:
                q[0] += share * float(x.sum())
        return q, lost

    # ---------------------------------------------------------------- state
    @property
    def refractory_mass(self) -> float:
        """Probability of being refractory (fired within the last ``t_ref``)."""
        return float(self.refractory.sum())

    @property
    def total_mass(self) -> float:
        """Density mass + refractory mass (1 up to round-off)."""
        return float(self.p.sum()) + self.refractory_mass

    def density(self) -> np.ndarray:
        """The membrane-potential density (1/mV) at :attr:`centers`."""
        return self.p / self.dv

    def step(self, input_rates: ArrayLike) -> float:
        """Advance one ``dt``.

        Parameters
        ----------
        input_rates : array of float
            Input spike rate (Hz) per weight of ``weights`` (rate x synapse count, summed
            over the connections with that weight), constant over the step.

        Returns
        -------
        float
            The population firing rate over the step (Hz).

        Raises
        ------
        ConfigError
            Negative or non-finite input rates.
        """
        nu = np.asarray(input_rates, dtype=float).reshape(-1) / 1000.0  # per ms
        if nu.shape != (len(self.weights),):
            raise ConfigError(None, f"{self.where}: input rates", f"{len(self.weights)} rates (one per weight)",
                              f"shape {nu.shape}")
        if not (np.isfinite(nu).all() and (nu >= 0).all()):
            raise ConfigError(None, f"{self.where}: input rates", "non-negative finite rates (Hz)",
                              str(nu * 1000.0))
        dt = self.dt
        m = max(1, int(np.ceil(float(nu.sum()) * dt / _MAX_JUMP_PROB - 1e-12)))
        h = dt / m
        lu = self._A.get(m)
        if lu is None:
            A = -h * self._L
            A[1] += 1.0
            lu = self._A[m] = dgttrf(A[2, :-1], A[1], A[0, 1:])[:5]  # LU of the tridiagonal I - h L, once
        slot = self._k % self.n_ref
        inj = self.refractory[slot] / m
        p = self.p
        fired = 0.0
        for _ in range(m):
            q = p * (1.0 - h * float(nu.sum()))
            for rate, (k0, frac) in zip(nu, self._shifts):
                if rate > 0.0:
                    sp, lost = self._shift(p, k0, frac)
                    q += (h * rate) * sp
                    fired += h * rate * lost
            q[self.reset_bin] += inj
            p = dgttrs(*lu, q, overwrite_b=1)[0]
            fired += h * self._leak_top * float(p[-1])
        self.p = p
        self.refractory[slot] = fired
        self._k += 1
        self.rate = fired / dt * 1000.0
        return self.rate

    def steady_state(self, input_rates: ArrayLike, t_max: float = 5000.0, tol: float = 1e-6) -> float:
        """Run with constant input until the rate settles; returns it (Hz).

        Runs at least ``10 tau_m``, then until the rate changes by less than ``tol``
        (relative) over ``tau_m``, at most ``t_max`` ms.

        Parameters
        ----------
        input_rates : array of float
            Input spike rate (Hz) per weight, as for :meth:`step`.
        t_max : float
            Longest simulated time (ms).
        tol : float
            Relative change of the rate over ``tau_m`` taken as settled.
        """
        per = max(1, int(round(self.tau_m / self.dt)))
        last = None
        for k in range(1, int(t_max / self.dt) + 1):
            self.step(input_rates)
            if k % per == 0 and k >= 10 * per:
                if last is not None and abs(self.rate - last) <= tol * max(self.rate, 1e-9):
                    break
                last = self.rate
        return self.rate
