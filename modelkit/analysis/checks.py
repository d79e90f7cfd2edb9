"""Checks of numeric options and time windows given to analyses and figures (``bin_ms``, ``--dpi``, ``time_range``).

Each refuses a bad value before any file is read, with a :class:`~modelkit.errors.ConfigError` that names
the option and the accepted range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import ConfigError

__all__ = ["check_number", "check_time_range"]


def check_number(value: float, key: str, lo: float, hi: float, *, integer: bool = False,
                 lo_open: bool = False, path: PathLike | None = None) -> None:
    """Refuse an option outside ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), NaN or infinite.

    Parameters
    ----------
    value : float or int
        The option's value (a bool is refused).
    key : str
        The option, named in the error (``bin_ms``, ``--dpi``).
    lo, hi : float
        The accepted range, in the option's units (ms for ``bin_ms``, dots per inch for ``--dpi``).
    integer : bool
        Accept integers only.
    lo_open : bool
        Exclude ``lo`` itself.
    path : str or PathLike, optional
        The file the option comes from, named in the error.

    Raises
    ------
    ConfigError
        Naming ``key`` (the option, e.g. ``--dpi``) and the accepted range.
    """
    lb = "(" if lo_open else "["
    expected = f"{'an integer' if integer else 'a number'} in {lb}{lo:g}, {hi:g}]"
    ok = (isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number)))
    ok = ok and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = bool(np.isfinite(v)) and (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        raise ConfigError(path, key, expected, repr(value))


def check_time_range(time_range: Sequence[float] | None, key: str = "time_range",
                     path: PathLike | None = None) -> None:
    """Refuse a time window (ms) that is not two finite numbers with start < stop.

    Parameters
    ----------
    time_range : (float, float) or None
        ``(start, stop)`` in ms; None passes.
    key : str
        The option, named in the error (``time_range``, ``--time``).
    path : str or PathLike, optional
        The file the option comes from, named in the error.

    Raises
    ------
    ConfigError
        Not two numbers, not finite, or start >= stop.
    """
    if time_range is None:
        return
    try:
        t0, t1 = (float(t) for t in time_range)
    except (TypeError, ValueError) as e:
        raise ConfigError(path, key, "(start, stop) in ms", repr(time_range)) from e
    if not (np.isfinite(t0) and np.isfinite(t1) and t0 < t1):
        raise ConfigError(path, key, "finite (start, stop) in ms with start < stop", repr(tuple(time_range)))
