"""Model parameters of node and edge types: dynamics_params JSON files, inline dicts, per-element overrides."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.paramfiles import params_value, read_params_json

__all__ = ["load_params", "model_name"]


_read_json = read_params_json


def load_params(value: Any, directory: str | None, where: str) -> dict:
    """Parameters named by a ``dynamics_params`` value: a JSON file in ``directory``, an inline dict, or nothing.

    Raises
    ------
    ConfigError
        A named file that does not exist (the message gives the full path) or is not a JSON object.
    """
    s = params_value(value, where)
    if isinstance(s, dict):
        return s
    if directory is None:
        raise ConfigError(None, where, f"a components directory to find {s!r} in", "none configured")
    path = os.path.normpath(s if os.path.isabs(s) else os.path.join(directory, s))
    if not os.path.exists(path):  # say which node or edge type names it, not only the path
        raise ConfigError(None, where, "an existing JSON file (the components directory + dynamics_params)", path)
    return dict(_read_json(path))


def model_name(template: Any, where: str, schema: str = "nest") -> str:
    """``nest:iaf_psc_alpha`` -> ``iaf_psc_alpha`` (a bare name is accepted too)."""
    if template is None or (isinstance(template, float) and np.isnan(template)):
        raise ConfigError(None, where, f"a model_template like '{schema}:<model>'", "none")
    s = str(template)
    if ":" in s:
        sch, _, name = s.partition(":")
        if sch != schema:
            raise ConfigError(None, where, f"a model_template of schema '{schema}'", s)
        return name
    return s
