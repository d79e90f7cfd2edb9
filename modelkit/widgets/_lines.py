"""What LiveRates and LiveTraces share: bqplot lines over time (ms), an HTML legend and an info line, and a
``max_rate`` trait (Hz) that is their feed's.

The legend is HTML beside the plot, as LiveRaster's (bqplot's own covers the lines); the info line and the
legend carry the CSS classes ``<css>-info`` and ``<css>-legend`` that the browser tests read.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelkit.widgets._deps import PALETTE, checked, require
from modelkit.widgets._frame import FramePage
from modelkit.widgets.feed import Feed

ipw = require("ipywidgets")
bq = require("bqplot")
traitlets = require("traitlets")


class FedLines(traitlets.HasTraits):
    """Mixin of a line view: its ``max_rate`` trait (redraws per second, Hz) must be positive and is its feed's.

    The view defines the ``max_rate`` trait (its own default) and sets ``self.feed``.
    """

    feed: Feed

    @traitlets.validate("max_rate")
    def _positive_rate(self, proposal: Any) -> float:
        return checked(proposal, proposal["value"] > 0, "positive")

    @traitlets.observe("max_rate")
    def _rate_changed(self, change: Any) -> None:
        if hasattr(self, "feed"):  # the trait is set in __init__, before the feed exists
            self.feed.max_rate = float(change["new"])


@dataclass
class LineFigure:
    """The parts of a line view: scales, the lines mark, the y axis, the figure and the HTML beside it."""

    x: Any
    y: Any
    lines: Any
    y_axis: Any
    figure: Any
    label: Any
    legend: Any
    page: FramePage

    @property
    def children(self) -> list[Any]:
        """The view's box, top to bottom: figure, legend, info line, and the (hidden) page widget."""
        return [self.figure, self.legend, self.label, self.page]


def line_figure(title: str, *, y_label: str, y: np.ndarray, stroke_width: float, css: str,
                y_min: float | None = None) -> LineFigure:
    """Lines over a time axis (ms), pan and zoom in time, with an HTML legend and info line below.

    Parameters
    ----------
    title : str
        Figure title.
    y_label : str
        Label of the y axis.
    y : ndarray
        The lines' first (empty) y values.
    stroke_width : float
        Line width (px).
    css : str
        Prefix of the info line's and the legend's CSS classes (``"mk-live-rates"``).
    y_min : float, optional
        Lower bound of the y scale (0 for rates); default free.
    """
    x_scale = bq.LinearScale()
    y_scale = bq.LinearScale() if y_min is None else bq.LinearScale(min=y_min)
    lines = bq.Lines(x=np.zeros(0, np.float32), y=y, scales={"x": x_scale, "y": y_scale}, colors=list(PALETTE),
                     display_legend=False, labels=[], stroke_width=stroke_width)
    y_axis = bq.Axis(scale=y_scale, side="left", label=y_label)
    figure = bq.Figure(marks=[lines], title=title, animation_duration=0,
                       axes=[bq.Axis(scale=x_scale, label="time (ms)"), y_axis],
                       fig_margin={"top": 30, "bottom": 40, "left": 60, "right": 16},
                       interaction=bq.interacts.PanZoom(scales={"x": [x_scale]}),
                       layout=ipw.Layout(width="100%", height="280px"))
    label = ipw.HTML(layout=ipw.Layout(margin="0 0 0 60px"))
    label.add_class(f"{css}-info")
    legend = ipw.HTML(layout=ipw.Layout(margin="0 0 0 60px"))
    legend.add_class(f"{css}-legend")
    return LineFigure(x_scale, y_scale, lines, y_axis, figure, label, legend, FramePage())


def line_legend(labels: Sequence[str]) -> str:
    """HTML legend of lines drawn in :data:`PALETTE` order: a coloured dash and the label of each."""
    items = "".join(
        f"<span class='mk-legend-item' style='margin-right:14px;white-space:nowrap'><span style='display:"
        f"inline-block;width:14px;height:3px;background:{PALETTE[k % len(PALETTE)]};vertical-align:middle;"
        f"margin-right:4px'></span>{html.escape(label)}</span>" for k, label in enumerate(labels))
    return f"<div style='display:flex;flex-wrap:wrap;font-size:12px'>{items}</div>"
