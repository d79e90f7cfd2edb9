"""Helpers shared by the plotting modules: lazy pyplot, axes, networks from configs, group labels."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from modelkit.errors import BackendUnavailableError, ConfigError, SelectionError

__all__ = ["pyplot", "new_axes", "resolve_network", "node_labels", "colors", "where", "check_number",
           "check_time_range", "MAX_DPI"]

#: highest figure resolution accepted (dots per inch): 1200 dpi of an 8 x 4.5 inch figure is 200 MB of pixels
MAX_DPI = 1200


def check_number(value: Any, key: str, lo: float, hi: float, *, integer: bool = False,
                 lo_open: bool = False, path: Any = None) -> None:
    """Refuse a plot option outside ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), NaN or infinite.

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


def check_time_range(time_range: Any, key: str = "time_range", path: Any = None) -> None:
    """Refuse a time window (ms) that is not two finite numbers with start < stop."""
    if time_range is None:
        return
    try:
        t0, t1 = (float(t) for t in time_range)
    except (TypeError, ValueError) as e:
        raise ConfigError(path, key, "(start, stop) in ms", repr(time_range)) from e
    if not (np.isfinite(t0) and np.isfinite(t1) and t0 < t1):
        raise ConfigError(path, key, "finite (start, stop) in ms with start < stop", repr(tuple(time_range)))


def pyplot() -> Any:
    """``matplotlib.pyplot``, imported on first use.

    Raises
    ------
    BackendUnavailableError
        matplotlib is not installed (the message gives the install command).
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - matplotlib is a dependency
        raise BackendUnavailableError("matplotlib is needed for modelkit.plotting: pip install matplotlib") from e
    return plt


def new_axes(ax: Any, figsize: tuple[float, float] = (8.0, 4.5)) -> Any:
    """``ax`` itself, or the axes of a new figure of ``figsize`` inches (constrained layout)."""
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def colors() -> tuple:
    """The qualitative palette groups are drawn in (matplotlib's ``tab10``)."""
    import matplotlib
    cmap: Any = matplotlib.colormaps["tab10"]  # a ListedColormap
    return tuple(cmap.colors)


def where(config_file: Any) -> str | None:
    """A printable path for error messages (None when there is no file)."""
    return os.fspath(config_file) if isinstance(config_file, (str, os.PathLike)) else None


def resolve_network(network: Any = None, config_file: Any = None) -> Any:
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


def node_labels(network: Any, population: str, node_ids: np.ndarray, group_by: str, source: Any = None) -> np.ndarray:
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
