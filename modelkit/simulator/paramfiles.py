"""Parameter JSON files (dynamics_params), read once per process for every backend."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from modelkit.errors import ConfigError
from modelkit.sonata.type_params import _read_params_file, params_value  # one reader, shared with the core

__all__ = ["read_params_json", "params_value", "finite_float"]


@lru_cache(maxsize=256)
def _read(path: str) -> dict:
    return _read_params_file(path)


def read_params_json(path: str) -> dict:
    """The JSON object in ``path`` (a fresh copy; the file is parsed once per process).

    Parameters
    ----------
    path : str
        The parameter file (a ``dynamics_params`` JSON).

    Raises
    ------
    ConfigError
        A missing or unreadable file, or JSON that is not an object, naming the path.
    """
    return dict(_read(path))


def finite_float(value: Any, where: str) -> float:
    """A parameter's value as a finite float.

    Parameters
    ----------
    value : object
        The value read from a parameter file or column.
    where : str
        Names it in errors (file, node type, key).

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        Not a number, or NaN or infinite.

    Examples
    --------
    >>> finite_float("2.5", "exc.json: tau_m")
    2.5
    """
    try:
        x = float(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(None, where, "a number", repr(value)) from e
    if not math.isfinite(x):
        raise ConfigError(None, where, "a finite number", repr(value))
    return x
