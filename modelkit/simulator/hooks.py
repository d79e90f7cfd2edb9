"""Named hooks, as bmtk offers them: functions registered by name and referenced from the network files.

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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelkit.errors import UnknownModelError

__all__ = ["synaptic_weight", "cell_model", "WEIGHT_FUNCTIONS", "CELL_MODELS", "get_weight_function",
           "get_cell_model"]

WEIGHT_FUNCTIONS: dict[str, Callable[..., Any]] = {}
CELL_MODELS: dict[str, Callable[..., Any]] = {}

#: weight functions bmtk's example networks name, all meaning syn_weight x nsyns
DEFAULT_WEIGHT_NAMES = ("default_weight_fnc", "set_syn_weight", "wmax")


def synaptic_weight(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``f(edges, source_nodes, target_nodes) -> weights`` as the weight function ``name``."""
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        WEIGHT_FUNCTIONS[name] = f
        return f
    return deco


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
