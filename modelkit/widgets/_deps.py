"""The widget libraries, imported on first use with an install hint when one is missing.

modelkit's core does not depend on ipywidgets, bqplot, bqplot-gl or plotly; they come with the
``jupyter`` extra (``pip install 'modelkit[jupyter]'``).
"""

from __future__ import annotations

import importlib
from typing import Any

from modelkit.errors import BackendUnavailableError

__all__ = ["require", "PALETTE", "checked"]

_HINT = "pip install 'modelkit[jupyter]' (ipywidgets, bqplot, bqplot-gl, plotly, anywidget)"

#: population colours (matplotlib's tab10, so widgets and static plots agree)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def require(module: str) -> Any:
    """Import ``module`` (``"ipywidgets"``, ``"bqplot"``, ``"bqplot_gl"``, ``"plotly.graph_objects"``).

    Raises
    ------
    BackendUnavailableError
        The library is not installed; the message names it and the install command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailableError(f"modelkit.widgets needs {module.split('.')[0]}: {_HINT}") from e


def checked(proposal: Any, ok: bool, must: str) -> Any:
    """The value a ``@traitlets.validate`` method is proposed, or a TraitError "<trait> must be <must>, got <value>".

    Parameters
    ----------
    proposal : traitlets.Bunch
        The validator's argument (``trait`` and ``value``).
    ok : bool
        Whether the value is valid.
    must : str
        What the value must be, for the message (``"positive"``, ``"at least 1"``).
    """
    if not ok:
        raise require("traitlets").TraitError(f"{proposal['trait'].name} must be {must}, got {proposal['value']}")
    return proposal["value"]
