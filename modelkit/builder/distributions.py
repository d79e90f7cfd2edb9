"""Seeded parameter distributions for node and edge properties.

A :class:`Distribution` stands for "draw one value per node (or edge) from this
law": ``add_nodes(N=100, tau_m=Normal(10.0, 2.0))``.  The builder calls
``dist.sample(n, rng)`` once per population or edge set, so every draw is
vectorised and comes from the one :class:`numpy.random.Generator` it is given;
the same seed gives the same values.

Distributions are immutable, compare equal when their parameters are equal,
and ``eval(repr(d))`` rebuilds them.  Parameters are validated when the object
is built; a bad one raises :class:`~modelkit.errors.BuilderError` (a
:class:`~modelkit.errors.ModelkitError`) naming the parameter.
"""

from __future__ import annotations

import math
import operator
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from modelkit._typing import ArrayLike
from modelkit.builder._rng import RngLike, as_generator, check_count, check_real
from modelkit.errors import BuilderError

__all__ = ["RngLike", "as_generator", "Distribution", "Constant", "Uniform", "Normal", "LogNormal",
           "Exponential", "Gamma", "Choice", "Integers"]


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


class Distribution(ABC):
    """Base class: a law to draw ``n`` independent property values from.

    Subclasses set their parameters once in ``__init__`` (through ``_freeze``)
    and implement ``_draw``.  ``dtype`` is the numpy dtype of the samples.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _freeze(self, **params: Any) -> None:
        for key, value in params.items():
            object.__setattr__(self, key, value)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # rebuild through __init__ (picklable, copyable)
        return (type(self), tuple(getattr(self, f) for f in self._fields))

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one")

    @property
    @abstractmethod
    def dtype(self) -> np.dtype:
        """numpy dtype of the values :meth:`sample` returns."""

    @abstractmethod
    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        """``n`` values from ``gen`` (``n`` already validated)."""

    def sample(self, n: int, rng: RngLike = None) -> np.ndarray:
        """Draw ``n`` independent values.

        Parameters
        ----------
        n : int
            How many values (>= 0).
        rng : Generator, int or None
            Source of randomness (see :func:`as_generator`); only this one is used.

        Returns
        -------
        numpy.ndarray
            Shape ``(n,)``, dtype :attr:`dtype`.

        Raises
        ------
        BuilderError
            ``n`` is not a non-negative integer, or ``rng`` is invalid.

        Examples
        --------
        >>> Uniform(0.0, 1.0).sample(3, rng=1).shape
        (3,)
        """
        n = check_count(n, "n")
        return self._draw(n, as_generator(rng))

    def _params(self) -> list[tuple[str, Any]]:
        return [(f, getattr(self, f)) for f in self._fields]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params() if v is not None)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Distribution) or type(other) is not type(self):
            return NotImplemented
        return self._params() == other._params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple((k, tuple(v) if isinstance(v, list) else v)
                                                for k, v in self._params())))


class _Continuous(Distribution):
    __slots__ = ()

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64)


class Constant(Distribution):
    """Every value equal to ``value`` (draws no random numbers).

    Parameters
    ----------
    value : scalar
        A number, bool or string.

    Examples
    --------
    >>> Constant(2.5).sample(3)
    array([2.5, 2.5, 2.5])
    """

    __slots__ = ("value",)
    _fields = ("value",)
    value: Any

    def __init__(self, value: str | float | bool | np.generic):
        if np.ndim(value) != 0 or value is None:
            raise BuilderError("Constant(value)", "a scalar (number, bool or string)", repr(value))
        self._freeze(value=value.item() if isinstance(value, np.generic) else value)

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.value).dtype

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        return np.full(n, self.value, dtype=self.dtype)


class Uniform(_Continuous):
    """Uniform on ``[low, high)``.

    Parameters
    ----------
    low, high : float
        Bounds, finite, ``low < high``.

    Raises
    ------
    BuilderError
        A bound is not finite or ``low >= high``.

    Examples
    --------
    >>> Uniform(-70.0, -60.0)
    Uniform(low=-70.0, high=-60.0)
    """

    __slots__ = ("low", "high")
    _fields = ("low", "high")
    low: float
    high: float

    def __init__(self, low: float, high: float):
        lo, hi = check_real("Uniform(low)", low), check_real("Uniform(high)", high)
        if not lo < hi:
            raise BuilderError("Uniform(low, high)", "low < high", f"low={lo}, high={hi}")
        self._freeze(low=lo, high=hi)

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        return gen.uniform(self.low, self.high, n)


class Normal(_Continuous):
    """Normal (Gaussian), optionally truncated to ``[low, high]``.

    Truncation is by rejection: values outside the bounds are drawn again (never
    clipped), so the result follows the truncated normal law exactly.

    Parameters
    ----------
    mean : float
        Mean of the untruncated normal.
    std : float
        Standard deviation of the untruncated normal (>= 0).
    low, high : float or None
        Optional inclusive bounds (either may be None or ±inf); ``low < high``.

    Raises
    ------
    BuilderError
        ``std < 0``, ``low >= high``, or the bounds keep less than
        :attr:`min_acceptance` of the probability mass (resampling would never end).

    Examples
    --------
    >>> Normal(10.0, 2.0, low=0.0)
    Normal(mean=10.0, std=2.0, low=0.0)
    >>> bool((Normal(0.0, 1.0, low=-1.0, high=1.0).sample(1000, rng=0) <= 1.0).all())
    True
    """

    __slots__ = ("mean", "std", "low", "high", "acceptance")
    _fields = ("mean", "std", "low", "high")
    mean: float
    std: float
    low: float | None
    high: float | None
    #: Probability that one untruncated draw falls inside the bounds.
    acceptance: float
    #: Below this acceptance rate the bounds are refused.
    min_acceptance = 1e-3

    def __init__(self, mean: float, std: float, low: float | None = None, high: float | None = None):
        mu = check_real("Normal(mean)", mean)
        sd = check_real("Normal(std)", std, lo=0.0)
        lo = None if low is None else check_real("Normal(low)", low, allow_inf=True)
        hi = None if high is None else check_real("Normal(high)", high, allow_inf=True)
        a = -math.inf if lo is None else lo
        b = math.inf if hi is None else hi
        if not a < b:
            raise BuilderError("Normal(low, high)", "low < high", f"low={lo}, high={hi}")
        if sd == 0.0:
            p = 1.0 if a <= mu <= b else 0.0
        else:
            p = _normal_cdf((b - mu) / sd) - _normal_cdf((a - mu) / sd)
        if p < self.min_acceptance:
            raise BuilderError(
                "Normal(low, high)",
                f"bounds keeping at least {self.min_acceptance} of the mass of Normal(mean={mu}, std={sd}) "
                "(resampling would not end: move the bounds or the mean)",
                f"low={lo}, high={hi} keeping {p:.3g}")
        self._freeze(mean=mu, std=sd, low=lo, high=hi, acceptance=p)

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        if self.low is None and self.high is None:
            return gen.normal(self.mean, self.std, n)
        a = -np.inf if self.low is None else self.low
        b = np.inf if self.high is None else self.high
        out = np.empty(n)
        filled, drawn = 0, 0
        budget = 50.0 * n / self.acceptance + 10_000  # a correct sampler never needs this many draws
        while filled < n:
            if drawn > budget:
                raise BuilderError(repr(self), "truncated sampling to converge", f"{filled}/{n} after {drawn} draws")
            batch = min(1 << 22, int((n - filled) / self.acceptance * 1.2) + 16)
            x = gen.normal(self.mean, self.std, batch)
            drawn += batch
            x = x[(x >= a) & (x <= b)][: n - filled]
            out[filled:filled + x.size] = x
            filled += x.size
        return out


class LogNormal(_Continuous):
    """Log-normal: ``exp(X)`` with ``X ~ Normal(mean, sigma)`` (as :meth:`numpy.random.Generator.lognormal`).

    Parameters
    ----------
    mean : float
        Mean of the underlying normal (of ``log`` of the values).
    sigma : float
        Standard deviation of the underlying normal (>= 0).

    Examples
    --------
    >>> LogNormal(0.0, 0.5)
    LogNormal(mean=0.0, sigma=0.5)
    """

    __slots__ = ("mean", "sigma")
    _fields = ("mean", "sigma")
    mean: float
    sigma: float

    def __init__(self, mean: float, sigma: float):
        self._freeze(mean=check_real("LogNormal(mean)", mean), sigma=check_real("LogNormal(sigma)", sigma, lo=0.0))

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        return gen.lognormal(self.mean, self.sigma, n)


class Exponential(_Continuous):
    """Exponential with mean ``scale`` (``1 / rate``).

    Parameters
    ----------
    scale : float
        Mean, > 0.

    Examples
    --------
    >>> Exponential(5.0)
    Exponential(scale=5.0)
    """

    __slots__ = ("scale",)
    _fields = ("scale",)
    scale: float

    def __init__(self, scale: float):
        self._freeze(scale=check_real("Exponential(scale)", scale, lo=0.0, strict=True))

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        return gen.exponential(self.scale, n)


class Gamma(_Continuous):
    """Gamma with ``shape`` k and ``scale`` θ (mean kθ, variance kθ²).

    Parameters
    ----------
    shape : float
        > 0.
    scale : float, default 1.0
        > 0.

    Examples
    --------
    >>> Gamma(2.0, 3.0)
    Gamma(shape=2.0, scale=3.0)
    """

    __slots__ = ("shape", "scale")
    _fields = ("shape", "scale")
    shape: float
    scale: float

    def __init__(self, shape: float, scale: float = 1.0):
        self._freeze(shape=check_real("Gamma(shape)", shape, lo=0.0, strict=True),
                     scale=check_real("Gamma(scale)", scale, lo=0.0, strict=True))

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        return gen.gamma(self.shape, self.scale, n)


class Choice(Distribution):
    """Values drawn (with replacement) from ``values``, with probabilities ``p``.

    Parameters
    ----------
    values : sequence
        Non-empty 1-D sequence of numbers or strings; the samples have its numpy dtype.
    p : sequence of float, optional
        One probability per value, each >= 0, summing to 1 (within 1e-8).
        Default: all values equally likely.

    Raises
    ------
    BuilderError
        ``values`` empty or not 1-D; ``p`` of the wrong length, negative or not summing to 1.

    Examples
    --------
    >>> Choice(["e", "i"], p=[0.8, 0.2])
    Choice(values=['e', 'i'], p=[0.8, 0.2])
    """

    __slots__ = ("values", "p", "_array", "_prob")
    _fields = ("values", "p")
    values: list[Any]
    p: list[float] | None
    _array: np.ndarray
    _prob: np.ndarray | None

    def __init__(self, values: ArrayLike, p: ArrayLike | None = None):
        arr = np.asarray(values)
        if arr.ndim != 1 or arr.size == 0:
            raise BuilderError("Choice(values)", "a non-empty 1-D sequence", repr(values))
        prob = None
        if p is not None:
            try:
                prob = np.asarray(p, dtype=np.float64)
            except (TypeError, ValueError):
                raise BuilderError("Choice(p)", "a sequence of numbers", repr(p)) from None
            if prob.shape != arr.shape:
                raise BuilderError("Choice(p)", f"one probability per value ({arr.size})", f"shape {prob.shape}")
            if not np.isfinite(prob).all() or (prob < 0).any():
                raise BuilderError("Choice(p)", "finite probabilities >= 0", repr(prob.tolist()))
            if abs(prob.sum() - 1.0) > 1e-8:
                raise BuilderError("Choice(p)", "probabilities summing to 1", f"sum {float(prob.sum())!r}")
            prob = prob / prob.sum()
        self._freeze(values=arr.tolist(), p=None if p is None else np.asarray(p, dtype=np.float64).tolist(),
                     _array=arr, _prob=prob)

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        return gen.choice(self._array, size=n, p=self._prob)


class Integers(Distribution):
    """Integers uniform on ``[low, high)`` (``high`` excluded), as int64.

    Parameters
    ----------
    low, high : int
        Bounds, ``low < high``.

    Examples
    --------
    >>> int(Integers(0, 1).sample(1, rng=0)[0])
    0
    """

    __slots__ = ("low", "high")
    _fields = ("low", "high")
    low: int
    high: int

    def __init__(self, low: int, high: int):
        bounds = []
        for name, v in (("low", low), ("high", high)):
            try:
                if isinstance(v, bool):
                    raise TypeError
                bounds.append(operator.index(v))
            except TypeError:
                raise BuilderError(f"Integers({name})", "an integer", repr(v)) from None
        lo, hi = bounds
        if not lo < hi:
            raise BuilderError("Integers(low, high)", "low < high (high is excluded)", f"low={lo}, high={hi}")
        if lo < -(2**63) or hi > 2**63:
            raise BuilderError("Integers(low, high)", "bounds within int64", f"low={lo}, high={hi}")
        self._freeze(low=lo, high=hi)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.int64)

    def _draw(self, n: int, gen: np.random.Generator) -> np.ndarray:
        return gen.integers(self.low, self.high, n, dtype=np.int64)
