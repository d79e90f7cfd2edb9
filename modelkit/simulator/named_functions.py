"""Named functions, as bmtk offers them (its "hooks"): functions registered by name and referenced from the
network files.

* ``weight_function`` (edge-types column): ``f(edges, source_nodes, target_nodes) -> weights`` where the
  arguments are DataFrames aligned per edge (edge columns; the source and target nodes' columns);
* ``model_template`` of a node type: ``f(model_name, n, params) -> simulator cells`` builds the cells
  of one node type itself (e.g. a NEST model needing extra set-up).

Examples
--------
>>> from modelkit.simulator import synaptic_weight
>>> @synaptic_weight("scaled_by_distance")
... def scaled(edges, sources, targets):
...     return edges["syn_weight"] * edges["nsyns"]

A function that declares the columns it reads (``edge_columns``, ``node_columns``) is handed only
those, so no simulator reads every attribute of every node and edge for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelkit.errors import ConfigError, UnknownModelError
from modelkit.sonata.edges import MAX_ABS_WEIGHT

__all__ = ["synaptic_weight", "cell_model", "WEIGHT_FUNCTIONS", "CELL_MODELS", "get_weight_function",
           "get_cell_model", "call_weight_function", "gaussian_ll"]

WEIGHT_FUNCTIONS: dict[str, Callable[..., Any]] = {}
#: name -> (edge columns, node columns) a weight function reads; absent: every column
WEIGHT_COLUMNS: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...] | None]] = {}
CELL_MODELS: dict[str, Callable[..., Any]] = {}

#: weight functions bmtk's example networks name, all meaning syn_weight x nsyns
DEFAULT_WEIGHT_NAMES = ("default_weight_fnc", "set_syn_weight", "wmax")


def synaptic_weight(name: str, *, edge_columns: Sequence[str] | None = None,
                    node_columns: Sequence[str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``f(edges, source_nodes, target_nodes) -> weights`` as the weight function ``name``.

    Parameters
    ----------
    name : str
        The name edge types give in their ``weight_function`` column.
    edge_columns, node_columns : sequence of str, optional
        The edge and node columns ``f`` reads; the DataFrames it gets then hold only those
        (default: every column, read for every edge of the type and every node of the populations).
    """
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        WEIGHT_FUNCTIONS[name] = f
        WEIGHT_COLUMNS.pop(name, None)
        if edge_columns is not None or node_columns is not None:
            WEIGHT_COLUMNS[name] = (None if edge_columns is None else tuple(edge_columns),
                                    None if node_columns is None else tuple(node_columns))
        return f
    return deco


def call_weight_function(name: str, fn: Callable[..., Any], network: Any, epop: Any, source_ids: np.ndarray,
                         target_ids: np.ndarray, edge_ids: np.ndarray, where: str,
                         node_frames: dict | None = None) -> np.ndarray:
    """The weights ``fn`` (registered as ``name``) gives the edges ``edge_ids`` of ``epop``.

    ``node_frames`` caches the node tables read across edge types (key: population and columns).

    Raises
    ------
    ConfigError
        The function returned other than one weight per edge.
    """
    edge_cols, node_cols = WEIGHT_COLUMNS.get(name, (None, None))
    frames = {} if node_frames is None else node_frames

    def nodes(pop: str, ids: np.ndarray) -> pd.DataFrame:
        key = (pop, node_cols)
        if key not in frames:
            frames[key] = network.nodes[pop].get(None if node_cols is None else list(node_cols))
        return frames[key].loc[ids].reset_index(drop=True)
    edges = epop.get(None if edge_cols is None else list(edge_cols), edge_ids).reset_index(drop=True)
    src = nodes(epop.source, source_ids) if epop.source in network.nodes else None
    tgt = nodes(epop.target, target_ids)
    try:
        w = np.asarray(fn(edges, src, tgt), dtype=float)
    except (TypeError, ValueError) as e:
        raise ConfigError(epop.path, f"{where}: weight_function {name}", "numbers (one weight per edge)",
                          f"{type(e).__name__}: {e}") from e
    if w.shape != (len(edge_ids),):
        raise ConfigError(epop.path, f"{where}: weight_function {name}", f"{len(edge_ids)} weights",
                          f"shape {w.shape}")
    bad = ~(np.abs(w) <= MAX_ABS_WEIGHT)  # NaN and inf too: the same bound as syn_weight in the files
    if bad.any():
        raise ConfigError(epop.path, f"{where}: weight_function {name}",
                          f"finite weights with |w| <= {MAX_ABS_WEIGHT:g}",
                          f"{w[bad][:3].tolist()} at edge ids {np.asarray(edge_ids)[bad][:3].tolist()}")
    return w


def gaussian_ll(edges: pd.DataFrame, sources: pd.DataFrame, targets: pd.DataFrame) -> np.ndarray:
    """bmtk's ``gaussianLL``: ``syn_weight`` scaled by a Gaussian of the tuning-angle difference (degrees,
    width ``weight_sigma``)."""
    w0 = edges["syn_weight"].to_numpy(float)
    sigma = edges["weight_sigma"].to_numpy(float)
    s = sources["tuning_angle"].to_numpy(float)
    t = targets["tuning_angle"].to_numpy(float)
    delta = np.abs(np.abs(np.abs(180.0 - np.abs(t - s) % 360.0) - 90.0) - 90.0)
    return w0 * np.exp(-(delta / sigma) ** 2)


synaptic_weight("gaussianLL", edge_columns=("syn_weight", "weight_sigma"), node_columns=("tuning_angle",))(
    gaussian_ll)


def cell_model(model_template: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``f(model_name, n, params) -> cells`` to build node types whose model_template is given."""
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        CELL_MODELS[model_template] = f
        return f
    return deco


def get_weight_function(name: str) -> Callable[..., Any] | None:
    """The registered weight function (None for the default syn_weight x nsyns names).

    Raises
    ------
    UnknownModelError
        Not registered.
    """
    if name in WEIGHT_FUNCTIONS:
        return WEIGHT_FUNCTIONS[name]
    if name in DEFAULT_WEIGHT_NAMES:
        return None
    raise UnknownModelError(f"weight_function {name!r} is not registered; register it with "
                            f"@modelkit.simulator.synaptic_weight({name!r}) (known: {sorted(WEIGHT_FUNCTIONS)})")


def get_cell_model(model_template: str) -> Callable[..., Any] | None:
    return CELL_MODELS.get(model_template)
