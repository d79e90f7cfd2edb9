"""Parameter JSON files (dynamics_params), read once per process for every backend."""

from __future__ import annotations

import json
from functools import lru_cache

from modelkit.errors import ConfigError

__all__ = ["read_params_json"]


@lru_cache(maxsize=256)
def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as e:
        raise ConfigError(path, None, "an existing dynamics_params JSON file", "no such file") from e
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(path, None, "a readable JSON object of parameters", f"{type(e).__name__}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(path, None, "a JSON object of parameters", type(data).__name__)
    return data


def read_params_json(path: str) -> dict:
    """The JSON object in ``path`` (a fresh copy; the file is parsed once per process).

    Raises
    ------
    ConfigError
        A missing or unreadable file, or JSON that is not an object, naming the path.
    """
    return dict(_read(path))
