"""Parameter JSON files (dynamics_params), read once per process for every backend."""

from __future__ import annotations

import ast
import json
import math
from functools import lru_cache
from typing import Any

from modelkit.errors import ConfigError
from modelkit.sonata.textfile import MAX_JSON_BYTES, read_text

__all__ = ["read_params_json", "params_value", "finite_float"]


@lru_cache(maxsize=256)
def _read(path: str) -> dict:
    # a regular file under the JSON size cap: a FIFO or /dev/zero would block or never end
    text = read_text(path, "dynamics_params JSON file", MAX_JSON_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(path, None, "a readable JSON object of parameters", f"{type(e).__name__}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(path, None, "a JSON object of parameters", type(data).__name__)
    return data


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


def params_value(value: Any, where: str) -> dict | str:
    """A ``dynamics_params`` value (a node or edge type's column) read as far as it goes without a directory:
    the parameters when it holds them, else the file name it gives.

    Parameters
    ----------
    value : object
        The column's value: None or NaN (no parameters), a dict, an inline JSON object or Python dict literal
        (``"{...}"``, as bmtk's builder writes a dict property), or a file name.
    where : str
        Names the value in errors (file, population, node type, key).

    Returns
    -------
    dict or str
        A fresh dict of parameters, or the stripped file name for the backend to look up in its components
        directories.

    Raises
    ------
    ConfigError
        An inline value that is neither JSON nor a Python literal, or not an object.

    Examples
    --------
    >>> params_value('{"tau_m": 10.0}', "node_type_id 100")
    {'tau_m': 10.0}
    >>> params_value(" exc.json ", "node_type_id 100")
    'exc.json'
    """
    if value is None or (isinstance(value, float) and value != value):  # NaN: a type without the column
        return {}
    if isinstance(value, dict):
        return dict(value)
    s = str(value).strip()
    if not s.startswith("{"):
        return s
    try:
        d = json.loads(s)
    except json.JSONDecodeError:
        try:  # a Python dict literal, as builders write a dict property
            d = ast.literal_eval(s)
        except (ValueError, SyntaxError) as e:
            raise ConfigError(None, where, "a JSON file name or an inline JSON object", s[:60]) from e
    if not isinstance(d, dict):
        raise ConfigError(None, where, "an object of parameters", type(d).__name__)
    return dict(d)


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
