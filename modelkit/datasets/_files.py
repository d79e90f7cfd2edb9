"""Small file helpers shared by the dataset writers (atomic JSON, a fresh target folder)."""

from __future__ import annotations

import json
import os
from typing import Any

from modelkit.errors import OutputExistsError


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def fresh_folder(directory: Any, subfolders: tuple[str, ...]) -> str:
    """The absolute folder, created with its subfolders; refuses one that already holds a network."""
    d = os.path.abspath(os.fspath(directory))
    if os.path.exists(os.path.join(d, "network")):
        raise OutputExistsError(f"{d}: already holds a network folder; choose another directory or remove it")
    for sub in ("network", *subfolders):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return d
