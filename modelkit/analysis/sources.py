"""Where the data of an analysis or figure come from: the network of a config, node properties as labels,
and the printable path of a source for error messages."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from modelkit._typing import IdArray, PathLike
from modelkit.errors import ConfigError, SelectionError

if TYPE_CHECKING:
    from modelkit.sonata import CircuitConfig, Network, SimulationConfig

__all__ = ["where", "resolve_network", "node_labels"]


def where(config_file: object) -> str | None:
    """A printable path for error messages (None when there is no file).

    Parameters
    ----------
    config_file : str, PathLike or any object
        A file path; anything else (a loaded config, a table, None) has no path.

    Returns
    -------
    str or None
    """
    return os.fspath(config_file) if isinstance(config_file, (str, os.PathLike)) else None


def resolve_network(network: Network | PathLike | None = None,
                    config_file: PathLike | CircuitConfig | SimulationConfig | None = None) -> Network | None:
    """The network to read node properties from.

    Parameters
    ----------
    network : Network, str or PathLike, optional
        A loaded network, or a circuit/simulation config, folder or nodes file to load.
    config_file : str, PathLike or SimulationConfig, optional
        Used when ``network`` is None: the config's circuit.

    Returns
    -------
    Network or None
        None when neither is given.
    """
    from modelkit.sonata import CircuitConfig, Network, SimulationConfig, load_config
    if network is not None:
        if isinstance(network, (str, os.PathLike)):
            return Network.load(network)
        return network
    if config_file is None:
        return None
    cfg = config_file if isinstance(config_file, (CircuitConfig, SimulationConfig)) else load_config(config_file)
    return Network.from_config(cfg)


def node_labels(network: Network, population: str, node_ids: IdArray, group_by: str,
                source: PathLike | None = None) -> np.ndarray:
    """The ``group_by`` property of some nodes of one population, as strings.

    Parameters
    ----------
    network : Network
    population : str
    node_ids : array of int
    group_by : str
        ``"population"``, ``"node_type_id"`` or a node property.
    source : str or PathLike, optional
        The file the ids come from (a spikes or report file), named in errors.

    Returns
    -------
    ndarray of object
        One string per node id.

    Raises
    ------
    ConfigError
        The population is not in the network, has no property ``group_by``, or the ids
        are not nodes of it.
    """
    if group_by == "population":
        return np.full(len(node_ids), str(population), dtype=object)
    if population not in network.nodes:
        raise ConfigError(network.path, "nodes", f"a node population {population!r}",
                          f"populations {sorted(network.nodes)}")
    nodes = network.nodes[population]
    if group_by != "node_type_id" and group_by not in nodes.attribute_names:
        raise ConfigError(nodes.path, f"/nodes/{population}", f"a node property {group_by!r}",
                          f"properties {sorted(nodes.attribute_names)}")
    try:
        values = nodes.column(group_by, node_ids)
    except SelectionError as e:
        raise ConfigError(where(source), f"{population}/node_ids", f"ids of nodes in {nodes.path} "
                          f"(population {population!r}, {nodes.size} nodes)", str(e).rsplit(": ", 1)[-1]) from e
    return values.astype(str).astype(object)
