"""Small file helpers shared by the dataset writers (atomic JSON, a fresh target folder, the saved networks,
the Poisson input spikes, the config pair)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

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


def save_networks(d: str, *builders: Any) -> None:
    """Save each ``NetworkBuilder`` in ``d/network`` (refusing to overwrite a file)."""
    for b in builders:
        b.save(os.path.join(d, "network"), force_overwrite=False)


def write_poisson_input(d: str, population: str, n: int, rate: float, tstop: float, seed: int) -> None:
    """``d/inputs/input_spikes.h5``: Poisson spikes of nodes ``0..n-1`` of the virtual ``population`` of dataset
    folder ``d``, each firing at ``rate`` (Hz) from 0 to ``tstop`` (ms), drawn with ``seed``."""
    from modelkit.simulator import PoissonSpikeGenerator

    gen = PoissonSpikeGenerator(population=population, seed=seed)
    gen.add(np.arange(n), rate, times=(0.0, tstop / 1000.0))
    gen.to_sonata(os.path.join(d, "inputs", "input_spikes.h5"), overwrite=False)


def write_configs(d: str, circuit: dict, simulation: dict) -> str:
    """Write ``d/config.circuit.json`` and ``d/config.simulation.json``; the path of the second."""
    write_json(os.path.join(d, "config.circuit.json"), circuit)
    path = os.path.join(d, "config.simulation.json")
    write_json(path, simulation)
    return path
