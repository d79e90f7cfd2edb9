"""Biophysical cells in 3D with plotly: sections as lines coloured by type or by a compartment report.

One ``Scatter3d`` line trace per section type (or one for a report's values), the sections of every
cell in it separated by gaps (:mod:`modelkit.plotting.morphology_data`), so a figure of 300 cells
has a handful of traces.  Cells of a network sit at their node's position and rotation as bmtk
places them; synapses (``afferent_section_id``/``afferent_section_pos`` of the edges, or the
mapping of a ``netcon_report``) are markers.

Examples
--------
>>> from modelkit.plotting.morphology import plot_morphology                      # doctest: +SKIP
>>> plot_morphology(network=net, population="v1", node_ids=[0, 1]).show()         # doctest: +SKIP
>>> plot_morphology(network=net, population="v1", report="output/v_all.h5", time=12.0)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import ConfigError
from modelkit.plotting.morphology_data import (MorphologyScene, edge_synapses, morphology_scene, network_cells,
                                               segment_rows, synapse_locations)
from modelkit.sonata.morphology import SECTION_TYPE_NAMES, Morphology, read_morphology
from modelkit.sonata.reports import CompartmentReport, ReportPopulation

if TYPE_CHECKING:
    from modelkit.sonata import Network

__all__ = ["plot_morphology", "morphology_scene_for", "report_population", "frame_values", "recorded_rows",
           "TYPE_COLORS", "detail_note",
           "MAX_POINTS"]

#: line colour of each section type (soma, axon, dend, apic)
TYPE_COLORS = {1: "#222222", 2: "#1f77b4", 3: "#d62728", 4: "#ff7f0e"}
#: line colour of the sections a report does not record
UNRECORDED_COLOR = "#c8c8c8"
#: above this many points a figure keeps every k-th point of each section (and its ends)
MAX_POINTS = 250_000


def _go() -> Any:
    from modelkit.plotting.plotly import _go as go
    return go()


def report_population(report: Any, population: str | None) -> ReportPopulation:
    """The population of a compartment report (a path, :class:`CompartmentReport` or population).

    Parameters
    ----------
    report : str, PathLike, CompartmentReport or ReportPopulation
        The report.
    population : str, optional
        Its population (the only one when omitted).

    Raises
    ------
    ConfigError
        Several populations and none named.
    """
    if isinstance(report, ReportPopulation):
        return report
    rep = report if isinstance(report, CompartmentReport) else CompartmentReport(report)
    names = rep.populations
    if population is not None and population in names:
        return rep[population]
    if len(names) == 1:
        return rep[names[0]]
    raise ConfigError(rep.path, "population", f"one of the report's populations {names}", repr(population))


def morphology_scene_for(morph: Morphology | PathLike | Sequence[Morphology | PathLike] | None = None, *,
                         network: Network | None = None, population: str | None = None,
                         node_ids: Sequence[int] | None = None, decimate: int | None = None,
                         max_points: int = MAX_POINTS, detail: str = "points") -> MorphologyScene:
    """The scene :func:`plot_morphology` draws (same arguments).

    Parameters
    ----------
    morph, network, population, node_ids, decimate, max_points, detail
        As :func:`plot_morphology`.
    """
    if network is not None:
        if population is None:
            raise ConfigError(getattr(network.config, "path", None), "population",
                              "the node population of the cells to draw", "none")
        ids, morphs, pos, rot = network_cells(network, population, node_ids)
    elif morph is not None:
        items = [morph] if isinstance(morph, (Morphology, str, os.PathLike)) else list(morph)
        morphs = [m if isinstance(m, Morphology) else read_morphology(m) for m in items]
        ids, pos, rot = np.arange(len(morphs)), None, None
    else:
        raise ConfigError(None, "morph", "a morphology (file or Morphology) or a network and population", "none")
    if decimate is None:
        decimate = _decimation(morphs, max_points) if detail == "points" else _segment_decimation(morphs, max_points)
    return morphology_scene(morphs, positions=pos, rotations=rot, node_ids=ids, population=population,
                            decimate=decimate, detail=detail)


def _segment_decimation(morphs: Sequence[Morphology], max_points: int) -> int:
    """The smallest k whose "segments" rows (every k-th segment boundary) fit ``max_points`` (or the
    coarsest level, one vertex per section, when nothing fits)."""
    most = max((int(m.lengths.max(initial=0.0) // 40.0) * 2 + 1 for m in morphs), default=1)
    k = 1
    while k < most and segment_rows(morphs, k) > max_points:
        k += 1
    return k


def _decimation(morphs: Sequence[Morphology], max_points: int) -> int:
    """The smallest k whose rows (every k-th point, each section's last, a gap) fit ``max_points``."""
    uses: dict[int, int] = {}
    by_id: dict[int, Morphology] = {}
    for m in morphs:
        uses[id(m)] = uses.get(id(m), 0) + 1
        by_id[id(m)] = m
    sizes = [(np.diff(by_id[i].offsets), n) for i, n in uses.items()]

    def rows(k: int) -> int:
        return sum(n * int(np.sum(-(-c // k) + ((c - 1) % k != 0) + 1)) for c, n in sizes)

    k = 1
    while rows(k) > max_points and k < 1_000_000:
        k = max(k + 1, int(k * 1.25))
    return k


def frame_values(scene: MorphologyScene, columns: np.ndarray, frame: np.ndarray, fill: float) -> np.ndarray:
    """One value per scene row from one report frame (``fill`` where the row has no column: gaps, sections
    the report leaves out).

    Parameters
    ----------
    scene : MorphologyScene
    columns : numpy.ndarray of int
        :meth:`MorphologyScene.report_columns` of the report.
    frame : numpy.ndarray
        The frame's values, one per report column.
    fill : float
        Value of rows without a column.
    """
    out = np.full(scene.n_rows, float(fill))
    has = columns >= 0
    out[has] = frame[columns[has]]
    return out


def recorded_rows(scene: MorphologyScene, columns: np.ndarray) -> np.ndarray:
    """Which scene rows belong to sections the report records (their gap rows included), shape (r,) bool.

    Parameters
    ----------
    scene : MorphologyScene
    columns : numpy.ndarray of int
        :meth:`MorphologyScene.report_columns` of the report.
    """
    key = scene.cell * (int(scene.section.max(initial=0)) + 1) + scene.section
    return np.isin(key, np.unique(key[columns >= 0]))


def _frame_index(rp: ReportPopulation, time: float | None) -> int:
    start, _, dt = rp.time
    if time is None:
        return 0
    return int(np.clip(round((float(time) - start) / dt), 0, rp.n_frames - 1))


def plot_morphology(morph: Morphology | PathLike | Sequence[Morphology | PathLike] | None = None, *,
                    network: Network | None = None, population: str | None = None,
                    node_ids: Sequence[int] | None = None, color_by: str = "type", report: Any = None,
                    time: float | None = None, cmin: float | None = None, cmax: float | None = None,
                    colorscale: str = "Viridis", synapses: Any = None, decimate: int | None = None,
                    max_points: int = MAX_POINTS, line_width: float = 3.0, title: str | None = None,
                    detail: str = "points", max_synapses: int | None = None) -> Any:
    """Sections of biophysical cells in 3D, coloured by section type or by a compartment report's values.

    Parameters
    ----------
    morph : Morphology, path or sequence of them, optional
        Cells drawn where their files put them (when no ``network`` is given).
    network : Network, optional
        A network loaded from a config: cells of ``population`` at their positions and rotations.
    population : str, optional
        Node population (with ``network``).
    node_ids : sequence of int, optional
        Cells to draw (every cell with a morphology when omitted).
    color_by : {"type", "report"}
        Colour by section type (one trace per type) or by ``report`` at ``time``.
    report : str, PathLike, CompartmentReport or ReportPopulation, optional
        An all-segment compartment report (``element_ids`` section indices, ``element_pos`` 0-1).
    time : float, optional
        Time (ms) of the frame shown (the nearest frame; the first when omitted).
    cmin, cmax : float, optional
        Colour range (the report's units, e.g. mV); the range of the cells' values when omitted.
    colorscale : str
        A plotly colour scale.
    synapses : "edges", str, PathLike or ReportPopulation, optional
        Markers where synapses sit: ``"edges"`` reads ``afferent_section_id``/``afferent_section_pos`` of the
        network's edges onto the cells; a ``netcon_report`` file (or its population) gives the
        section and position of every synapse it recorded.
    decimate : int, optional
        Keep every ``decimate``-th point of a section (and its ends); chosen so that at most
        ``max_points`` rows are drawn when omitted.
    max_points : int
        Row budget of the automatic decimation.
    detail : {"points", "segments"}
        ``"points"``: the files' 3-D points (every ``decimate``-th); ``"segments"``: one vertex per segment
        boundary (bmtk's ``1 + 2 * int(L / 40 µm)`` segments, every ``decimate``-th), sections chained into
        polylines - a report's colours are one value per segment, so a movie of hundreds of cells needs no
        more (the figure says so in its corner).
    max_synapses : int, optional
        Draw every k-th synapse marker so that at most this many are drawn (a WebGL scene redraws every
        marker with each new frame of a movie).
    line_width : float
        Line width (px).
    title : str, optional
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces named by section type (or ``report``, and ``not recorded`` for sections the report leaves
        out, in grey) and ``synapses``.

    Raises
    ------
    ConfigError
        No cells given, an unknown ``color_by``, or ``color_by="report"`` without a report.
    SonataFormatError
        A morphology or report file is wrong (named with the line or dataset).

    Examples
    --------
    >>> fig = plot_morphology("Scnn1a_473845048_m.swc")                # doctest: +SKIP
    """
    if color_by not in ("type", "report"):
        raise ConfigError(None, "color_by", "'type' or 'report'", repr(color_by))
    if color_by == "report" and report is None:
        raise ConfigError(None, "report", "a compartment report to colour by", "none")
    scene = morphology_scene_for(morph, network=network, population=population, node_ids=node_ids,
                                 decimate=decimate, max_points=max_points, detail=detail)
    go = _go()
    fig = go.Figure()
    if detail == "segments":
        fig.add_annotation(text=detail_note(scene), xref="paper", yref="paper", x=0.0, y=0.0, showarrow=False,
                           xanchor="left", yanchor="bottom", font=dict(size=11, color="#555555"))
    if color_by == "type":
        for trace in type_traces(scene, line_width):
            fig.add_trace(trace)
    else:
        rp = report_population(report, population)
        columns = scene.report_columns(rp)
        k = _frame_index(rp, time)
        frame = rp.data(t_start=rp.times[k], t_stop=rp.times[k] + rp.time[2] / 2)[0]
        used = frame[columns[columns >= 0]]
        lo = float(np.min(used)) if cmin is None and used.size else (cmin if cmin is not None else 0.0)
        hi = float(np.max(used)) if cmax is None and used.size else (cmax if cmax is not None else 1.0)
        keep = recorded_rows(scene, columns)
        fig.add_trace(report_trace(scene, frame_values(scene, columns, frame, lo)[keep], lo, hi, colorscale,
                                   line_width, f"{rp.variable or 'value'} ({rp.units or ''})".replace(" ()", ""),
                                   rows=keep))
        if not keep.all():  # cells or sections the report leaves out: grey, not coloured as if at cmin
            fig.add_trace(unrecorded_trace(scene, ~keep, line_width))
        fig.layout.title = title or f"{rp.variable or 'value'} at t = {rp.times[k]:g} ms"
    if synapses is not None:
        fig.add_trace(synapse_trace(scene, synapses, network, max_synapses))
    fig.update_layout(scene=dict(aspectmode="data", xaxis_title="x (µm)", yaxis_title="y (µm)",
                                 zaxis_title="z (µm)"), margin=dict(l=0, r=0, t=40, b=0),
                      legend=dict(itemsizing="constant", orientation="h", x=0.0, y=1.0))
    if title is not None:
        fig.layout.title = title
    return fig


def detail_note(scene: MorphologyScene) -> str:
    """What a ``detail="segments"`` figure draws, for its corner: vertices drawn and the files' points.

    Parameters
    ----------
    scene : MorphologyScene
    """
    pts = sum(len(m.points) for m in scene.morphologies)
    vert = int(np.count_nonzero(~np.isnan(scene.frac)))
    return (f"level of detail: {vert:,} vertices at segment boundaries ({scene.n_rows:,} rows with gaps) "
            f"of {pts:,} 3-D points")


def type_traces(scene: MorphologyScene, line_width: float = 3.0) -> list[Any]:
    """One ``Scatter3d`` line trace per section type present in ``scene``.

    Parameters
    ----------
    scene : MorphologyScene
    line_width : float
        px.
    """
    go = _go()
    out = []
    for code in np.unique(scene.types).tolist():
        on = scene.types == code
        name = SECTION_TYPE_NAMES.get(int(code), f"type {code}")
        xyz = scene.xyz[on]
        out.append(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name=name,
                                line=dict(color=TYPE_COLORS.get(int(code), "#7f7f7f"), width=line_width),
                                hoverinfo="name"))
    return out


def report_trace(scene: MorphologyScene, values: np.ndarray, cmin: float, cmax: float, colorscale: str,
                 line_width: float, label: str, rows: np.ndarray | None = None) -> Any:
    """The one line trace of the recorded sections coloured by ``values`` (one per drawn row).

    Parameters
    ----------
    scene : MorphologyScene
    values : numpy.ndarray
        One per row (:func:`frame_values`).
    cmin, cmax : float
        Colour range.
    colorscale : str
        plotly colour scale.
    line_width : float
        px.
    label : str
        Colour bar title.
    rows : numpy.ndarray of bool, optional
        The rows drawn (:func:`recorded_rows`); all when omitted.
    """
    go = _go()
    xyz = scene.xyz if rows is None else scene.xyz[rows]
    return go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name="report",
                        line=dict(color=values, colorscale=colorscale, cmin=cmin, cmax=cmax, width=line_width,
                                  showscale=True, colorbar=dict(title=dict(text=label), x=1.0, len=0.8)),
                        hoverinfo="skip")


def unrecorded_trace(scene: MorphologyScene, rows: np.ndarray, line_width: float = 3.0) -> Any:
    """Grey lines of the rows ``rows`` (the sections a report does not record).

    Parameters
    ----------
    scene : MorphologyScene
    rows : numpy.ndarray of bool
        The rows to draw.
    line_width : float
        px.
    """
    go = _go()
    xyz = scene.xyz[rows]
    return go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name="not recorded",
                        line=dict(color=UNRECORDED_COLOR, width=line_width), hoverinfo="name")


def synapse_points(scene: MorphologyScene, synapses: Any, network: Network | None = None) -> np.ndarray:
    """Placed synapse locations (µm, shape (k, 3)) for :func:`plot_morphology`'s ``synapses``.

    Parameters
    ----------
    scene : MorphologyScene
    synapses : "edges", str, PathLike or ReportPopulation
        See :func:`plot_morphology`.
    network : Network, optional
        Needed for ``"edges"``.

    Raises
    ------
    ConfigError
        ``"edges"`` without a network.
    """
    if isinstance(synapses, str) and synapses == "edges":
        if network is None:
            raise ConfigError(None, "synapses", "a network whose edges place the synapses", "none")
        cell, sec, pos = edge_synapses(network, scene)
    else:
        rp = report_population(synapses, scene.population)
        index = {int(n): k for k, n in enumerate(scene.node_ids.tolist())}
        counts = np.diff(rp.index_pointers)
        owner = np.repeat(rp.node_ids, counts)
        take = np.isin(owner, scene.node_ids)
        cell = np.array([index[int(n)] for n in owner[take].tolist()], dtype=np.int64)
        sec = rp.element_ids[take]
        pos = rp.element_pos[take] if rp.element_pos is not None else np.full(int(take.sum()), 0.5)
    return synapse_locations(scene, sec, pos, cell)


def synapse_trace(scene: MorphologyScene, synapses: Any, network: Network | None = None,
                  max_synapses: int | None = None) -> Any:
    """Markers at the synapses (see :func:`synapse_points`).

    Parameters
    ----------
    scene, synapses, network
        As :func:`synapse_points`.
    max_synapses : int, optional
        Draw every k-th synapse so that at most this many markers are drawn (named "synapses (1 in k of n)").
    """
    go = _go()
    p = synapse_points(scene, synapses, network)
    name = "synapses"
    if max_synapses is not None and len(p) > max_synapses > 0:
        k = -(-len(p) // max_synapses)
        name = f"synapses (1 in {k} of {len(p):,})"
        p = p[::k]
    return go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="markers", name=name,
                        marker=dict(size=2, color="#2ca02c", opacity=0.7, symbol="circle"),
                        hoverinfo="name")
