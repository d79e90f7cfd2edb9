"""Random sources and argument checks shared by :mod:`.placement` and :mod:`.distributions`."""

from __future__ import annotations

import math
import operator
from typing import Any, TypeAlias

import numpy as np

from modelkit.errors import BuilderError

RngLike: TypeAlias = np.random.Generator | np.random.BitGenerator | np.random.SeedSequence | int | None
"""What ``rng=`` accepts: a Generator (used as is), a seed, or None (fresh OS entropy)."""

_AXES = {"x": 0, "y": 1, "z": 2}


def as_generator(rng: RngLike = None) -> np.random.Generator:
    """The :class:`numpy.random.Generator` for ``rng``.

    Parameters
    ----------
    rng : Generator, BitGenerator, SeedSequence, int or None
        A Generator is returned unchanged (so draws advance its state); anything
        else is passed to :func:`numpy.random.default_rng`.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    BuilderError
        ``rng`` is a legacy ``RandomState`` or not a valid seed.

    Examples
    --------
    >>> int(as_generator(42).integers(10)) == int(as_generator(42).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        raise BuilderError("rng", "a numpy Generator, an int seed or None (wrap a legacy RandomState's seed in "
                           "np.random.default_rng)", "a RandomState")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise BuilderError("rng", "a numpy Generator, an int seed >= 0 or None", repr(rng)) from exc


def legacy_source(rng: Any) -> Any:
    """Source for a bmtk-compatible function: numpy's global state for None, a RandomState as is, else a Generator.

    All three provide ``random(size)``, ``uniform(low, high, size)`` and ``choice(a, size, replace)``.
    """
    if rng is None:
        return np.random  # the module-level functions draw from numpy's global RandomState, as bmtk does
    if isinstance(rng, np.random.RandomState):
        return rng
    return as_generator(rng)


def check_count(n: Any, name: str = "N") -> int:
    """``n`` as a non-negative int (bools and floats refused)."""
    try:
        if isinstance(n, bool):
            raise TypeError
        count = operator.index(n)
    except TypeError:
        raise BuilderError(name, "a non-negative integer", repr(n)) from None
    if count < 0:
        raise BuilderError(name, "a non-negative integer", repr(count))
    return count


def check_real(name: str, value: Any, *, lo: float | None = None, strict: bool = False,
               allow_inf: bool = False) -> float:
    """``value`` as a float, finite (or ±inf if ``allow_inf``) and ``> lo`` (``strict``) or ``>= lo``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BuilderError(name, "a real number", repr(value)) from None
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise BuilderError(name, "a finite number", repr(x))
    if lo is not None and (x <= lo if strict else x < lo):
        raise BuilderError(name, f"a number {'>' if strict else '>='} {lo}", repr(x))
    return x


def vec3(value: Any, name: str, scalar_ok: bool = False) -> np.ndarray:
    """``value`` as a finite float64 array of shape (3,) (a scalar is repeated if ``scalar_ok``)."""
    try:
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise BuilderError(name, "3 numbers", repr(value)) from None
    if scalar_ok and v.ndim == 0:
        v = np.repeat(v, 3)
    if v.shape != (3,) or not np.isfinite(v).all():
        raise BuilderError(name, "3 finite numbers (x, y, z)", repr(value))
    return v


def axis_index(axis: Any) -> int:
    """0, 1, 2 for ``"x"``/``"y"``/``"z"`` (any case) or an index 0-2."""
    if isinstance(axis, str) and axis.lower() in _AXES:
        return _AXES[axis.lower()]
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) and 0 <= axis <= 2:
        return int(axis)
    raise BuilderError("axis", '"x", "y", "z" or 0, 1, 2', repr(axis))
