"""Small file helpers shared by the dataset writers (atomic JSON, a fresh target folder)."""

from __future__ import annotations

import json
import os
from typing import Any

from modelkit._typing import PathLike
from modelkit.errors import OutputExistsError


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def fresh_folder(directory: PathLike, subfolders: tuple[str, ...]) -> str:
    """The absolute folder, created with its subfolders; refuses one that already holds a network."""
    d = os.path.abspath(os.fspath(directory))
    if os.path.exists(os.path.join(d, "network")):
        raise OutputExistsError(f"{d}: already holds a network folder; choose another directory or remove it")
    for sub in ("network", *subfolders):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return d


def network_files(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """The ``networks`` block of a circuit config for files the builder saved in ``$NETWORK_DIR``.

    ``nodes``: population names; ``edges``: (source, target) population pairs.
    """
    return {"nodes": [{"nodes_file": f"$NETWORK_DIR/{n}_nodes.h5",
                       "node_types_file": f"$NETWORK_DIR/{n}_node_types.csv"} for n in nodes],
            "edges": [{"edges_file": f"$NETWORK_DIR/{s}_{t}_edges.h5",
                       "edge_types_file": f"$NETWORK_DIR/{s}_{t}_edge_types.csv"} for s, t in edges]}
