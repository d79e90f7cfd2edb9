"""Errors of the analysis layer: each names the file and the key (dataset, column, argument) at fault.

They extend :class:`modelkit.errors.ModelkitError` with the same ``path: key: expected ..., found ...``
message as :class:`~modelkit.errors.SonataFormatError` and :class:`~modelkit.errors.ConfigError`.
"""

from __future__ import annotations

from modelkit.errors import _KeyedError

__all__ = ["AnalysisError", "UnknownPropertyError", "NodeIdError", "ReportSelectionError"]


class AnalysisError(_KeyedError):
    """Input to an analysis does not fit what it needs.

    Parameters
    ----------
    path : str or PathLike or None
        The file at fault (spikes file, nodes file, report, config), None for in-memory input.
    key : str or None
        The dataset, column, population or argument at fault (``/spikes/cortex/node_ids``, ``by``...).
    expected : str
        What was expected there.
    found : str, optional
        What was there instead.
    """


class UnknownPropertyError(AnalysisError):
    """A grouping column (``by=``) is neither ``population``/``node_id`` nor a node property of the network."""


class NodeIdError(AnalysisError):
    """Spikes (or a selection) name nodes or populations that the network does not have."""


class ReportSelectionError(AnalysisError):
    """A report cannot give what was asked (several populations and none chosen, unknown nodes, bad step)."""
