"""Parameter JSON files (dynamics_params), read once per process for every backend."""

from __future__ import annotations

import json
from functools import lru_cache

from modelkit.errors import ConfigError
from modelkit.sonata.textfile import MAX_JSON_BYTES, read_text

__all__ = ["read_params_json"]


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
