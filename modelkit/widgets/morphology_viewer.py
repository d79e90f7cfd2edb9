"""MorphologyViewer: biophysical cells in 3D (plotly), coloured by section type or by an all-segment report,
with a time slider that plays the report as a movie, and synapses as markers.

The figure is :func:`modelkit.plotting.morphology.plot_morphology`'s, made once; moving the slider
only assigns the report trace's colour array (one value per drawn point), never rebuilds a trace.
A few cells are drawn with every 3-D point of their files; when that would be more than
:data:`MOVIE_POINTS` rows (hundreds of cells), with one vertex per segment boundary (``detail="segments"``:
a report colours one value per segment anyway), which a browser redraws several times faster.
Frames are coalesced: a :class:`~modelkit.widgets._frame.FramePage` in the viewer acknowledges each
frame once the page has drawn it, and slider moves made meanwhile only replace the frame waiting to be
sent, so scrubbing never queues frames in the page (after :data:`ACK_TIMEOUT` s without an acknowledgement
the waiting frame goes anyway). The page acknowledges plotly's own restyle events (FramePage's
``follow_plotly``): messages from the kernel to the FramePage were seen not to arrive beside a large figure.
Every action shows the ``plot_morphology`` call that draws the same figure (:attr:`MorphologyViewer.code`).
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.plotting.morphology import (MAX_POINTS, frame_values, morphology_scene_for, plot_morphology,
                                          recorded_rows, report_population, report_trace, synapse_trace,
                                          unrecorded_trace)
from modelkit.plotting.morphology_data import network_cells
from modelkit.errors import ConfigError
from modelkit.sonata import Network
from modelkit.widgets._deps import require
from modelkit.widgets._frame import FramePage

if TYPE_CHECKING:
    from modelkit.sonata.reports import ReportPopulation

ipw = require("ipywidgets")
traitlets = require("traitlets")

__all__ = ["MorphologyViewer"]

#: drawn points per millisecond of the Play button's interval (a browser redraws the colours of ~50,000
#: points in ~1 s with software WebGL here; at least 100 ms)
POINTS_PER_MS = 50
#: above this many rows of exact geometry the viewer draws one vertex per segment boundary, within this budget
MOVIE_POINTS = 60_000
#: synapse markers drawn at most with the segment level of detail (every k-th; plotly redraws each with a frame)
MOVIE_SYNAPSES = 5_000
#: seconds a frame waits for the page's acknowledgement of the previous one before it is sent anyway (a page
#: that never answers then gets at most one frame per ACK_TIMEOUT, the newest)
ACK_TIMEOUT = 3.0


class MorphologyViewer(ipw.VBox):
    """Sections of biophysical cells in 3D; colour by type or by a report variable over time.

    Parameters
    ----------
    network : Network, str or PathLike
        The network (or its config file) whose cells are drawn.
    population : str
        Node population.
    node_ids : sequence of int, optional
        Cells to draw (every cell with a morphology when omitted).
    report : str or PathLike, optional
        An all-segment compartment report file (e.g. ``membrane_report`` with ``sections: all``).
    synapses : "edges", str or PathLike, optional
        Synapse markers: from the edges' ``afferent_section_id``/``pos``, or a ``netcon_report`` file.
    cmin, cmax : float, optional
        Colour range of the report (its units); the report's range over the cells when omitted.
    decimate : int, optional
        Keep every ``decimate``-th point of each section (automatic: every point for a few cells, one per
        segment boundary within ``MOVIE_POINTS`` rows for hundreds).
    detail : {"points", "segments"}, optional
        Force every 3-D point (``"points"``, thinned to ``MAX_POINTS``) or segment boundaries
        (``"segments"``); chosen from the number of points when omitted.

    Examples
    --------
    >>> MorphologyViewer("config.json", "v1", [0, 1], report="output/v_all.h5")   # doctest: +SKIP
    """

    code = traitlets.Unicode("", help="the plot_morphology call that draws the figure shown").tag(sync=True)
    color_by = traitlets.Unicode("type", help="'type' or 'report'").tag(sync=True)
    frame = traitlets.Int(0, help="frame of the report shown (index from its start)").tag(sync=True)

    def __init__(self, network: Network | str | os.PathLike, population: str, node_ids: Sequence[int] | None = None,
                 *, report: str | os.PathLike | None = None, synapses: str | os.PathLike | None = None,
                 cmin: float | None = None, cmax: float | None = None, decimate: int | None = None,
                 detail: str | None = None) -> None:
        go = require("plotly.graph_objects")
        self.net = network if isinstance(network, Network) else Network.load(network)
        self.net_path = os.fspath(network) if not isinstance(network, Network) else self.net.path
        self.population = population
        self.decimate = decimate
        self.report_path = None if report is None else os.fspath(report)
        self.rp: ReportPopulation | None = None
        if self.report_path is not None:
            self.rp = report_population(self.report_path, population)
        #: "points" (the files' 3-D points) or "segments" (one vertex per segment boundary, hundreds of cells)
        if detail not in (None, "points", "segments"):
            raise ConfigError(None, "detail", "'points' or 'segments'", repr(detail))
        self.detail = detail or "points"
        if detail is None and decimate is None:
            _, morphs, _, _ = network_cells(self.net, population, node_ids)
            if sum(len(m.points) + m.n_sections for m in morphs) > MOVIE_POINTS:
                self.detail = "segments"
        self.scene = self._scene(node_ids)
        if self.rp is not None:
            self._columns = self.scene.report_columns(self.rp)
            self._keep = recorded_rows(self.scene, self._columns)
            if self.detail == "segments" and not self._whole_cells():
                # segment lines run across sections: a report of only some sections of a cell needs every point
                self.detail = "points"
                self.scene = self._scene(node_ids)
                self._columns = self.scene.report_columns(self.rp)
                self._keep = recorded_rows(self.scene, self._columns)
        self.node_ids = [int(n) for n in self.scene.node_ids.tolist()]
        self._ids_given = node_ids is not None  # the code names them only then (every cell otherwise)
        self.synapses = synapses if synapses is None or synapses == "edges" else os.fspath(synapses)
        fig = plot_morphology(network=self.net, population=population, node_ids=self.node_ids, decimate=decimate,
                              **self._detail_args())
        self._n_type = len(fig.data)
        self._report_index: int | None = None
        self.cmin, self.cmax = cmin, cmax
        if self.rp is not None:
            if cmin is None or cmax is None:
                used = self._columns[self._columns >= 0]
                lo, hi = self._range(used)
                self.cmin = lo if cmin is None else cmin
                self.cmax = hi if cmax is None else cmax
            label = f"{self.rp.variable or 'value'} ({self.rp.units or ''})".replace(" ()", "")
            trace = report_trace(self.scene, self._values(0), float(self.cmin), float(self.cmax),  # type: ignore[arg-type]
                                 "Viridis", 3.0, label, rows=self._keep)
            trace.visible = False
            fig.add_trace(trace)
            self._report_index = len(fig.data) - 1
            if not self._keep.all():  # as plot_morphology: what the report leaves out, in grey
                grey = unrecorded_trace(self.scene, ~self._keep, 3.0)
                grey.visible = False
                fig.add_trace(grey)
        self._report_traces = list(range(self._n_type, len(fig.data)))
        if self.synapses is not None:  # last, as plot_morphology puts it
            fig.add_trace(synapse_trace(self.scene, self.synapses, self.net,
                                        MOVIE_SYNAPSES if self.detail == "segments" else None))
        self.fig = go.FigureWidget(fig)
        self.fig.layout.height = 560
        self.color_toggle = ipw.ToggleButtons(options=["type", "report"] if self.rp is not None else ["type"],
                                              value="type", description="colour by")
        n_frames = self.rp.n_frames if self.rp is not None else 1
        self.slider = ipw.IntSlider(0, min=0, max=max(0, n_frames - 1), description="frame",
                                    continuous_update=True, disabled=self.rp is None,
                                    layout=ipw.Layout(width="60%"))
        self.slider.add_class("mk-morph-slider")
        self.play = ipw.Play(0, min=0, max=max(0, n_frames - 1), interval=max(100, self.scene.n_rows // POINTS_PER_MS),
                             disabled=self.rp is None)
        ipw.jslink((self.play, "value"), (self.slider, "value"))
        self.time_label = ipw.HTML(self._time_text(0))
        self.time_label.add_class("mk-morph-time")
        self.code_view = ipw.HTML()
        self.code_view.add_class("mk-morph-code")
        #: frames whose colours were sent to the page, and the one waiting for the page to draw the last
        self.frames_drawn = 0
        self._waiting: int | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.RLock()
        self.page = FramePage(follow_plotly=".mk-morphology-viewer")  # acks plotly's restyles of self.fig
        self._sent_at = 0.0
        self.page.on_msg(self._on_ack)
        self.color_toggle.observe(lambda ch: setattr(self, "color_by", ch["new"]), "value")
        self.slider.observe(lambda ch: setattr(self, "frame", int(ch["new"])), "value")
        super().__init__([ipw.HBox([self.color_toggle]), ipw.HBox([self.play, self.slider, self.time_label]),
                          self.fig, self.page, ipw.HTML("<b>Code</b>"), self.code_view])
        self.add_class("mk-morphology-viewer")
        self._show_code()

    # ------------------------------------------------------------------ data
    def _detail_args(self) -> dict[str, Any]:
        return {"detail": "segments", "max_points": MOVIE_POINTS} if self.detail == "segments" else {}

    def _scene(self, node_ids: Sequence[int] | None) -> Any:
        return morphology_scene_for(network=self.net, population=self.population, node_ids=node_ids,
                                    decimate=self.decimate, **{"max_points": MAX_POINTS, **self._detail_args()})

    def _whole_cells(self) -> bool:
        """Whether the report records every section of a cell or none (per cell)."""
        c = self.scene.cell
        some = np.bincount(c, weights=self._keep, minlength=len(self.scene.node_ids))
        rows = np.bincount(c, minlength=len(self.scene.node_ids))
        return bool(np.all((some == 0) | (some == rows)))

    def _range(self, used: np.ndarray) -> tuple[float, float]:
        """Smallest and largest value of the drawn columns over every frame (read in blocks of frames)."""
        assert self.rp is not None
        if not used.size:
            return 0.0, 1.0
        lo, hi = np.inf, -np.inf
        cols = np.unique(used)
        t = self.rp.times
        step = max(1, 2_000_000 // max(1, self.rp.shape[1]))
        for k in range(0, len(t), step):
            block = self.rp.data(t_start=t[k], t_stop=t[min(k + step, len(t) - 1)] if k + step < len(t) else None)
            v = block[:, cols]
            lo, hi = min(lo, float(np.nanmin(v))), max(hi, float(np.nanmax(v)))
        return round(lo, 3), round(hi, 3)

    def _values(self, k: int) -> np.ndarray:
        assert self.rp is not None
        t = self.rp.times
        frame = self.rp.data(t_start=t[k], t_stop=t[k] + self.rp.time[2] / 2)[0]
        return frame_values(self.scene, self._columns, frame, float(self.cmin))[self._keep]  # type: ignore[arg-type]

    def _time_text(self, k: int) -> str:
        if self.rp is None:
            return ""
        return f"t = {self.rp.times[k]:g} ms"

    # ------------------------------------------------------------------ actions
    @traitlets.observe("color_by")
    def _on_color(self, change: Any) -> None:
        report = change["new"] == "report" and self._report_index is not None
        with self.fig.batch_update():
            for i in range(self._n_type):
                self.fig.data[i].visible = not report
            for i in self._report_traces:
                self.fig.data[i].visible = report
        if report:  # after the batch: the page's acknowledgement must follow the colours it answers for
            self._draw(self.frame)
        if self.color_toggle.value != change["new"]:
            self.color_toggle.value = change["new"]
        self._show_code()

    @traitlets.observe("frame")
    def _on_frame(self, change: Any) -> None:
        if self.rp is None:
            return
        k = int(np.clip(change["new"], 0, self.rp.n_frames - 1))
        if self.slider.value != k:
            self.slider.value = k
        self.time_label.value = self._time_text(k)
        if self.color_by == "report" and self._report_index is not None:
            self._draw(k)
        self._show_code()

    def _draw(self, k: int) -> None:
        """Send frame ``k``'s colours (only the colour array goes to the page, the trace and its points stay),
        or, while the page has not drawn the last frame sent, keep ``k`` as the frame to send next."""
        with self._lock:
            late = time.monotonic() - self._sent_at
            if self.page.pending() and late < ACK_TIMEOUT:
                self._waiting = k  # replaces any frame already waiting: the newest is the one to show
                if self._timer is None:
                    self._timer = threading.Timer(ACK_TIMEOUT - late, self._send_waiting)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._send_frame(k)

    def _send_frame(self, k: int) -> None:
        assert self._report_index is not None
        self._waiting = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.fig.data[self._report_index].line.color = self._values(k)
        self.frames_drawn += 1
        self._sent_at = time.monotonic()
        self.page.frame()  # after the restyle message: the page answers once it has handled and painted it

    def _send_waiting(self) -> None:
        with self._lock:
            if self._waiting is not None:
                self._send_frame(self._waiting)

    def _on_ack(self, _widget: Any, _content: Any, _buffers: Any) -> None:
        """The page drew a frame: send the one that waited meanwhile, if any."""
        with self._lock:
            if self._waiting is not None and not self.page.pending():  # (FramePage handled the ack first)
                self._send_frame(self._waiting)

    def _show_code(self) -> None:
        args = [f"network=net, population={self.population!r}"
                + (f", node_ids={self.node_ids!r}" if self._ids_given else "")]
        if self.color_by == "report" and self.rp is not None:
            args.append(f"color_by='report', report={self.report_path!r}, time={float(self.rp.times[self.frame])!r}, "
                        f"cmin={float(self.cmin)!r}, cmax={float(self.cmax)!r}")  # type: ignore[arg-type]
        if self.synapses is not None:
            args.append(f"synapses={self.synapses!r}"
                        + (f", max_synapses={MOVIE_SYNAPSES}" if self.detail == "segments" else ""))
        if self.decimate is not None:
            args.append(f"decimate={self.decimate!r}")
        if self.detail == "segments":
            args.append(f"detail='segments', max_points={MOVIE_POINTS}")
        self.code = ("from modelkit.sonata import Network\n"
                     "from modelkit.plotting.morphology import plot_morphology\n"
                     f"net = Network.load({self.net_path!r})\n"
                     f"fig = plot_morphology({', '.join(args)})\n")
        self.code_view.value = f"<pre style='font-size:12px;line-height:1.3'>{html.escape(self.code)}</pre>"

    def drawn(self) -> dict[str, Any]:
        """The visible line traces' names and colours (the report trace's colour array as a list), for checks."""
        out: dict[str, Any] = {}
        for t in self.fig.data:
            if t.visible is False or t.mode != "lines":
                continue
            c = t.line.color
            out[t.name] = np.asarray(c).tolist() if not isinstance(c, str) else c
        return out
