"""Interactive versions of the figures with plotly: each function returns a ``plotly.graph_objects.Figure``.

Spikes and long traces are drawn with ``go.Scattergl`` (WebGL); a raster of more than ``max_points`` spikes
is one image of spike counts per pixel (:mod:`modelkit.analysis.binning`), which shows the structure of
10^7 spikes at the cost of its pixels. The data are the same tables the matplotlib functions draw.
Networks: :func:`positions` (cells in 3D), :func:`degree_histogram`; biophysical cells:
:func:`~modelkit.plotting.morphology.plot_morphology` (sections in 3D, coloured by type or by a report).

Examples
--------
>>> from modelkit.plotting import plotly as mkp                                  # doctest: +SKIP
>>> mkp.raster(config_file="config.simulation.json", group_by="pop_name").show()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import NodeIdsLike, PathLike
from modelkit.errors import BackendUnavailableError
from modelkit.plotting.morphology import plot_morphology
from modelkit.plotting.network3d import degree_histogram, positions

if TYPE_CHECKING:
    from modelkit.sonata import Network

__all__ = ["raster", "rates", "traces", "connectivity_matrix", "degree_distribution", "degree_histogram", "positions",
           "plot_morphology"]

#: above this many points a line trace switches from SVG ``Scatter`` to WebGL ``Scattergl``
WEBGL_POINTS = 20_000


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as e:
        raise BackendUnavailableError("plotly is needed for modelkit.plotting.plotly: pip install plotly") from e
    return go


def _hex(rgb: tuple) -> str:
    return "#" + "".join(f"{int(round(c * 255)):02x}" for c in rgb[:3])


def _palette() -> list[str]:
    from modelkit.plotting._axes import colors
    return [_hex(c) for c in colors()]


def raster(spikes: Any = None, *, config_file: PathLike | None = None, network: Network | PathLike | None = None,
           group_by: str = "population",
           population: str | list[str] | None = None, node_ids: NodeIdsLike | None = None,
           time_range: tuple[float, float] | None = None, title: str | None = None,
           marker_size: float | None = None, max_points: int | None = 200_000,
           image_shape: tuple[int, int] = (600, 1600)) -> Any:
    """Raster plot as a plotly figure: one WebGL scatter trace (``go.Scattergl``) per group, or one image.

    Parameters
    ----------
    spikes, config_file, network, group_by, population, node_ids, time_range, title
        As in :func:`modelkit.plotting.plot_raster`.
    marker_size : float, optional
        Dot diameter in pixels; default shrinks with the spike count.
    max_points : int or None
        Above this many spikes the raster is one ``go.Image`` of spike counts per pixel (each pixel the
        colour of its group with most spikes, shaded by the log of the count), with the same legend; None:
        always points.
    image_shape : (int, int)
        Pixel rows and time bins of that image (fewer rows when there are fewer nodes).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces named ``"<group> (<spike count>)"``; x in ms, y the stacked node ids. As an image, the
        ``go.Image`` trace comes first and the named traces only carry the legend.

    Raises
    ------
    ConfigError
        As :func:`modelkit.plotting.plot_raster`.
    BackendUnavailableError
        plotly is not installed.
    """
    from modelkit.analysis.spike_frames import raster_data
    go = _go()
    t, y, codes, groups, offsets = raster_data(spikes, config_file=config_file, network=network,
                                               group_by=group_by, population=population, node_ids=node_ids,
                                               time_range=time_range)
    if max_points is not None:
        from modelkit.analysis.checks import check_number
        check_number(max_points, "max_points", 1, 10**12, integer=True)
    size = marker_size if marker_size is not None else float(np.clip(800.0 / np.sqrt(max(len(t), 1)), 1.5, 5.0))
    pal = _palette()
    fig = go.Figure()
    as_image = max_points is not None and len(t) > max_points
    if as_image:
            fig.add_trace(_raster_image(go, t, y, codes, len(groups), pal, image_shape))
    for k, g in enumerate(groups):
        m = codes == k
        name = f"{g} ({int(m.sum()):,})"
        if as_image:  # a legend entry in the group's colour, no data
            fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=name, showlegend=True,
                                       marker={"size": 8, "color": pal[k % len(pal)]}))
            continue
        fig.add_trace(go.Scattergl(x=t[m], y=y[m], mode="markers", name=name,
                                   marker={"size": size, "color": pal[k % len(pal)]},
                                   hovertemplate="%{x:.2f} ms, row %{y}<extra>" + str(g) + "</extra>"))
    for p in list(offsets)[1:]:
        fig.add_hline(y=offsets[p] - 0.5, line_width=0.5, line_color="lightgrey")
    fig.update_layout(title=title, xaxis_title="time (ms)", template="plotly_white",
                      yaxis_title="node id" if len(offsets) <= 1 else "node id (populations stacked)",
                      legend={"itemsizing": "constant"})
    if as_image:
        fig.update_yaxes(autorange=True)  # go.Image reverses the y axis by default; rows grow upwards here
    return fig


def _raster_image(go: Any, t: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int, pal: list[str],
                  shape: tuple[int, int]) -> Any:
    """A ``go.Image`` of spike counts per pixel row and time bin (bottom row first: the y axis grows up)."""
    from modelkit.analysis.binning import density_rgb, raster_counts
    n_rows = int(np.max(y)) + 1
    ny, nx = min(int(shape[0]), n_rows), int(shape[1])
    t0, t1 = float(np.min(t)), float(np.max(t))
    t1 = t1 if t1 > t0 else t0 + 1.0
    r0, r1 = -0.5, n_rows - 0.5
    counts = raster_counts(t, y, codes, n_groups=n_groups, t_range=(t0, t1), row_range=(r0, r1), shape=(ny, nx))
    rgb = density_rgb(counts, [(int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)) for c in pal])[::-1]
    dx, dy = (t1 - t0) / nx, (r1 - r0) / ny
    return go.Image(z=rgb, x0=t0 + dx / 2, dx=dx, y0=r0 + dy / 2, dy=dy, name="spikes per pixel",
                    hovertemplate="%{x:.1f} ms, row %{y:.0f}<extra></extra>")


def rates(spikes: Any = None, *, config_file: PathLike | None = None, network: Network | PathLike | None = None,
          group_by: str = "population",
          kind: str = "bar", time_range: tuple[float, float] | None = None, bin_ms: float = 10.0,
          bins: int | Sequence[float] = 30, title: str | None = None) -> Any:
    """Firing rates as a plotly figure: bars per group, a histogram of node rates, or PSTH lines.

    Parameters
    ----------
    spikes, config_file, network, group_by, kind, time_range, bin_ms, bins, title
        As in :func:`modelkit.plotting.plot_rates` (the statistics come from
        :class:`modelkit.analysis.SpikeTable`).

    Returns
    -------
    plotly.graph_objects.Figure
        ``kind="bar"``: one ``go.Bar`` trace (one bar per group, Hz); ``"hist"``: one
        ``go.Histogram`` per group; ``"time"``: one line per group (Hz per node).
    """
    from modelkit.analysis.spike_frames import rate_data
    go = _go()
    data = rate_data(spikes, config_file=config_file, network=network, group_by=group_by, kind=kind,
                     time_range=time_range, bin_ms=bin_ms)
    pal = _palette()
    fig = go.Figure()
    if kind == "bar":
        fig.add_trace(go.Bar(x=[str(g) for g in data.index], y=data["mean"].to_numpy(),
                             error_y={"type": "data", "array": data["sem"].to_numpy()},
                             marker_color=[pal[k % len(pal)] for k in range(len(data))], name="mean rate"))
        fig.update_layout(xaxis_title=group_by, yaxis_title="firing rate (Hz)")
    elif kind == "hist":
        edges = np.histogram_bin_edges(data["rate"].to_numpy(), bins=bins) if len(data) else np.arange(2)
        for k, (g, part) in enumerate(data.groupby("group", sort=False)):
            fig.add_trace(go.Histogram(x=part["rate"].to_numpy(), name=f"{g} ({len(part):,} nodes)",
                                       xbins={"start": edges[0], "end": edges[-1],
                                              "size": (edges[-1] - edges[0]) / max(len(edges) - 1, 1)},
                                       marker_color=pal[k % len(pal)], opacity=0.6))
        fig.update_layout(barmode="overlay", xaxis_title="firing rate (Hz)", yaxis_title="nodes")
    else:
        t = data.index.to_numpy()
        cls = go.Scattergl if len(t) * data.shape[1] > WEBGL_POINTS else go.Scatter
        for k, g in enumerate(data.columns):
            fig.add_trace(cls(x=t, y=data[g].to_numpy(), mode="lines", name=str(g),
                              line={"color": pal[k % len(pal)], "width": 1.2}))
        fig.update_layout(xaxis_title="time (ms)", yaxis_title="firing rate (Hz)")
    fig.update_layout(title=title, template="plotly_white")
    return fig


def traces(report: Any = None, *, config_file: PathLike | None = None, report_name: str | None = None,
           population: str | None = None, node_ids: NodeIdsLike | None = None, time_range: tuple[float,
           float] | None = None,
           step: int | None = None, title: str | None = None) -> Any:
    """Report traces as a plotly figure: one line per node.

    Parameters
    ----------
    report, config_file, report_name, population, node_ids, time_range, step, title
        As in :func:`modelkit.plotting.plot_traces`.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Scatter`` (``go.Scattergl`` past :data:`WEBGL_POINTS` points) per node,
        named ``"<population> <node id>"``.
    """
    from modelkit.analysis.traces import trace_frame
    go = _go()
    df = report if isinstance(report, pd.DataFrame) else trace_frame(
        report, config_file=config_file, report_name=report_name, population=population, node_ids=node_ids,
        time_range=time_range, step=step)
    pal = _palette()
    pop = df.attrs.get("population")
    t = df.index.to_numpy()
    cls = go.Scattergl if df.size > WEBGL_POINTS else go.Scatter
    fig = go.Figure()
    for k, nid in enumerate(df.columns):
        fig.add_trace(cls(x=t, y=df[nid].to_numpy(), mode="lines", line={"width": 1, "color": pal[k % len(pal)]},
                          name=f"{pop} {nid}" if pop is not None else f"node {nid}"))
    var, units = df.attrs.get("variable"), df.attrs.get("units")
    fig.update_layout(title=title, template="plotly_white", xaxis_title="time (ms)",
                      yaxis_title=f"{var or 'value'}" + (f" ({units})" if units else ""))
    return fig


def connectivity_matrix(network: Network | PathLike | None = None, *, config_file: PathLike | None = None,
                        group_by: str = "pop_name",
                        weight: str | None = None, edges: str | Sequence[str] | None = None,
                        title: str | None = None) -> Any:
    """Group x group connectivity as a plotly heatmap (``go.Heatmap``; sources on rows).

    Parameters
    ----------
    network, config_file, group_by, weight, edges, title
        As in :func:`modelkit.plotting.plot_connectivity_matrix`.
    """
    from modelkit.analysis.connectivity import connectivity_table
    go = _go()
    mat = connectivity_table(network, config_file=config_file, group_by=group_by, weight=weight, edges=edges)
    vals = mat.to_numpy(dtype=np.float64)
    kw: dict[str, Any] = {"colorscale": "Viridis"}
    if weight is not None and vals.size and vals.min() < 0 < vals.max():
        kw = {"colorscale": "RdBu", "reversescale": True, "zmid": 0.0}
    fig = go.Figure(go.Heatmap(z=vals, x=[str(c) for c in mat.columns], y=[str(r) for r in mat.index],
                               texttemplate="%{z:.4g}", colorbar={"title": "edges" if weight is None
                                                                   else f"sum of {weight}"}, **kw))
    fig.update_layout(title=title, template="plotly_white", xaxis_title=f"target {group_by}",
                      yaxis_title=f"source {group_by}", yaxis_autorange="reversed")
    return fig


def degree_distribution(network: Network | PathLike | None = None, *, config_file: PathLike | None = None,
                        population: str | None = None,
                        edges: str | Sequence[str] | None = None, direction: str = "both",
                        title: str | None = None) -> Any:
    """In/out-degree histograms as a plotly figure (one ``go.Histogram`` per direction).

    Parameters
    ----------
    network, config_file, population, edges, direction, title
        As in :func:`modelkit.plotting.plot_degree_distribution`.
    """
    from modelkit.errors import ConfigError
    from modelkit.analysis.connectivity import population_degrees as degrees
    if direction not in ("both", "in", "out"):
        raise ConfigError(None, "direction", "one of both, in, out", repr(direction))
    go = _go()
    deg = degrees(network, config_file=config_file, population=population, edges=edges)
    pal = _palette()
    fig = go.Figure()
    cols = ["in_degree", "out_degree"] if direction == "both" else [f"{direction}_degree"]
    for k, c in enumerate(cols):
        v = deg[c].to_numpy()
        fig.add_trace(go.Histogram(x=v, xbins={"size": 1}, opacity=0.6, marker_color=pal[k],
                                   name=f"{c.replace('_degree', '-degree')} (mean {v.mean() if len(v) else 0:.3g})"))
    fig.update_layout(barmode="overlay", template="plotly_white", xaxis_title="degree (edges per node)",
                      yaxis_title="nodes", title=title or f"{deg.attrs['population']}: {len(deg):,} nodes")
    return fig
