"""matplotlib for the plotting modules, imported on first use: pyplot, new axes, the group palette."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelkit.errors import BackendUnavailableError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["pyplot", "new_axes", "colors", "MAX_DPI"]

#: highest figure resolution accepted (dots per inch): 1200 dpi of an 8 x 4.5 inch figure is 200 MB of pixels
MAX_DPI = 1200


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


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (8.0, 4.5)) -> Axes:
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
