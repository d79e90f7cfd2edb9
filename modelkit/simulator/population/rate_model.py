"""Wilson–Cowan style rate populations: ``tau dr/dt = -r + f(x)``, stepped with the exponential Euler rule."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from modelkit._typing import ArrayLike
from modelkit.errors import ConfigError

__all__ = ["WilsonCowan", "TRANSFER_FUNCTIONS", "max_rate_dt"]

#: transfer functions f(x; r_max, theta, gain) -> rate (Hz)
TRANSFER_FUNCTIONS = ("sigmoid", "relu")


def max_rate_dt(tau: float) -> float:
    """The coarsest time step (ms) accepted for a rate population of time constant ``tau`` (ms).

    The exponential Euler step is stable for any ``dt`` (it is exact for constant input)
    but the input is held constant over the step: with recurrent coupling the loop
    delay of one step must stay small against ``tau``.

    Parameters
    ----------
    tau : float
        The population's time constant (ms).
    """
    return tau / 5.0


class WilsonCowan:
    """Rate populations ``tau dr/dt = -r + f(x + I_ext)`` (vectorised over populations).

    ``x`` is the summed input ``sum_j syn_weight x nsyns x r_j`` (Hz, source rates
    delayed by the connection delays); ``f`` is a sigmoid
    ``r_max / (1 + exp(-gain (x - theta)))`` or threshold-linear
    ``min(r_max, gain max(0, x - theta))``.

    Parameters
    ----------
    tau : array of float
        Time constants (ms).
    r_max, theta, gain, I_ext, r0 : array of float
        Saturation rate (Hz), threshold and offset input (input units: Hz x weight),
        slope (1/input unit; Hz per input unit for ``relu``) and initial rate (Hz).
    transfer : array of str
        ``"sigmoid"`` or ``"relu"`` per population.
    dt : float
        Time step (ms), at most :func:`max_rate_dt` of every ``tau``.
    where : sequence of str
        Names the populations in messages.

    Raises
    ------
    ConfigError
        A non-positive ``tau``, an unknown transfer function or a ``dt`` too coarse.
    """

    def __init__(self, tau: ArrayLike, r_max: ArrayLike, theta: ArrayLike, gain: ArrayLike, I_ext: ArrayLike,
                 r0: ArrayLike, transfer: ArrayLike, dt: float, where: Iterable[str]) -> None:
        self.tau = np.asarray(tau, dtype=float)
        n = len(self.tau)
        self.r_max, self.theta, self.gain, self.I_ext, self.r = (
            np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy() for v in (r_max, theta, gain, I_ext, r0))
        self.transfer = np.asarray(transfer, dtype=object)
        self.where = list(where)
        for k in range(n):
            if not (np.isfinite(self.tau[k]) and self.tau[k] > 0):
                raise ConfigError(None, f"{self.where[k]}: tau", "a positive time constant (ms)", repr(self.tau[k]))
            if self.transfer[k] not in TRANSFER_FUNCTIONS:
                raise ConfigError(None, f"{self.where[k]}: transfer", f"one of {TRANSFER_FUNCTIONS}",
                                  repr(self.transfer[k]))
            if not self.r_max[k] > 0:
                raise ConfigError(None, f"{self.where[k]}: r_max", "a positive saturation rate (Hz)",
                                  repr(self.r_max[k]))
            if dt > max_rate_dt(self.tau[k]) * (1 + 1e-9):
                raise ConfigError(None, f"{self.where[k]}: run.dt",
                                  f"a time step <= tau/5 = {max_rate_dt(self.tau[k]):g} ms for a Wilson-Cowan "
                                  f"population: its inputs are held over a step, and dt = {dt:g} ms would delay the "
                                  f"recurrent loop by a sizeable part of tau = {self.tau[k]:g} ms (and can turn a "
                                  f"stable fixed point into oscillations); use run.dt <= "
                                  f"{max_rate_dt(self.tau[k]):g} ms",
                                  f"dt = {dt:g} ms")
        self.dt = float(dt)
        self._decay = np.exp(-self.dt / self.tau)
        self._sig = self.transfer == "sigmoid"

    def f(self, x: np.ndarray) -> np.ndarray:
        """The transfer function (Hz) at total input ``x``.

        Parameters
        ----------
        x : numpy.ndarray
            Total input per population (Hz x weight).
        """
        z = x - self.theta
        sig = self.r_max / (1.0 + np.exp(-np.clip(self.gain * z, -700, 700)))
        lin = np.minimum(self.r_max, self.gain * np.maximum(z, 0.0))
        return np.where(self._sig, sig, lin)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one ``dt`` with input ``x`` (held over the step); returns the rates (Hz).

        Parameters
        ----------
        x : numpy.ndarray
            Summed input per population (Hz x weight), ``I_ext`` not included.
        """
        target = self.f(np.asarray(x, dtype=float) + self.I_ext)
        self.r = target + (self.r - target) * self._decay
        return self.r
