"""Plotly figures of a network's layout and degree distributions (re-exported by :mod:`modelkit.plotting.plotly`).

* :func:`positions` — nodes in 3D (``go.Scatter3d``), coloured by any node property: one trace per category
  (with a legend) for labels, one trace on a colour scale for numbers; a node set highlighted (the other
  nodes faint) or alone; a seeded sample above ``max_points`` nodes, said in the title.
* :func:`degree_histogram` — in- or out-degree distribution of an edge population, one trace per edge type.

The data come from :func:`modelkit.analysis.node_positions` and :func:`modelkit.analysis.degree_histogram`;
these functions only draw.

Examples
--------
>>> from modelkit.plotting import plotly as mkp                                  # doctest: +SKIP
>>> mkp.positions(net, color_by="pop_name", node_set="exc").show()              # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.errors import BackendUnavailableError, ConfigError

if TYPE_CHECKING:
    from modelkit.sonata import Network

__all__ = ["positions", "degree_histogram", "is_categorical", "MAX_CATEGORIES"]

#: an integer property with at most this many distinct values is drawn as categories, not on a colour scale
MAX_CATEGORIES = 20
#: colour of the nodes outside the node set
OTHERS_COLOR = "#c8c8c8"


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as e:
        raise BackendUnavailableError("plotly is needed for modelkit.plotting.plotly: pip install plotly") from e
    return go


def _palette() -> list[str]:
    from modelkit.plotting._axes import colors
    return ["#" + "".join(f"{int(round(c * 255)):02x}" for c in rgb[:3]) for rgb in colors()]


def is_categorical(values: np.ndarray) -> bool:
    """Whether a property is drawn as categories (labels, booleans, integers with few values) rather than on a
    colour scale (floats, integers with more than :data:`MAX_CATEGORIES` values).

    Parameters
    ----------
    values : ndarray

    Returns
    -------
    bool
    """
    v = np.asarray(values)
    if v.dtype.kind == "f":
        return False
    if v.dtype.kind in "iu":
        return len(np.unique(v)) <= MAX_CATEGORIES
    if v.dtype.kind == "O":  # numbers read through object columns (NaN-padded across populations)
        num = pd.to_numeric(pd.Series(v), errors="coerce")
        if num.notna().all() and len(v):
            return is_categorical(num.to_numpy())
    return True


def positions(network: Network | PathLike, *, color_by: str = "population", node_set: Any = None,
              population: str | list[str] | None = None, others: str = "faint", max_points: int | None = 50_000,
              seed: int = 0, categorical: bool | None = None, marker_size: float | None = None,
              title: str | None = None) -> Any:
    """Nodes in 3D, coloured by a node property, with a node set highlighted.

    Parameters
    ----------
    network, color_by, node_set, population, max_points, seed
        As in :func:`modelkit.analysis.node_positions` (positions in µm).
    others : {'faint', 'hide'}
        The nodes outside ``node_set``: one grey, translucent trace ``"other nodes"``, or left out.
    categorical : bool, optional
        Draw ``color_by`` as categories (one trace per value, a legend) or on a colour scale (one trace, a
        colour bar); default: :func:`is_categorical`.
    marker_size : float, optional
        Dot diameter in pixels; default shrinks with the number of nodes.
    title : str, optional
        Default: what is shown, with the sample size when sampled.

    Returns
    -------
    plotly.graph_objects.Figure
        ``go.Scatter3d`` traces (markers), x/y/z in µm, one per population of each group: per category,
        named ``"<value> (<count>)"`` (one legend entry per category, its ``legendgroup``), or named
        ``color_by`` with ``marker.color`` the values on the shared ``layout.coloraxis``; then
        ``"other nodes (<count>)"`` when ``node_set`` leaves nodes out and ``others="faint"``. Each trace's
        ``customdata`` holds the node ids (the population is in its hover text); every array is numeric, so
        a ``FigureWidget`` sends them to the page as binary buffers.

    Raises
    ------
    ConfigError
        A bad ``others``; as :func:`modelkit.analysis.node_positions`.
    BackendUnavailableError
        plotly is not installed.

    Examples
    --------
    >>> positions(net, color_by="tau_m", node_set={"population": "cortex", "ei": "e"})   # doctest: +SKIP
    """
    from modelkit.analysis.positions import node_positions
    if others not in ("faint", "hide"):
        raise ConfigError(None, "others", "'faint' or 'hide'", repr(others))
    go = _go()
    df = node_positions(network, color_by=color_by, node_set=node_set, population=population,
                        only_selected=others == "hide", max_points=max_points, seed=seed)
    a = df.attrs
    size = marker_size if marker_size is not None else float(np.clip(300.0 / np.sqrt(max(len(df), 1)), 1.5, 6.0))
    sel = df["selected"].to_numpy(bool)
    vals = df[color_by].to_numpy()
    cat = is_categorical(vals[sel]) if categorical is None else categorical
    fig = go.Figure()
    pal = _palette()
    pops = df["population"].to_numpy(object)
    ids = df["node_id"].to_numpy()
    # node ids as int32 when they fit: a FigureWidget sends 1-D numeric arrays (not int64) as binary buffers
    ids = ids.astype(np.int32) if len(ids) and ids.max() < 2**31 else ids
    xyz = df[["x", "y", "z"]].to_numpy(np.float64).T

    def traces(rows: np.ndarray, name: str, marker: dict, legend: bool = True) -> None:
        """One trace per population of ``rows`` (numbers only: the population is in the hover text)."""
        for k, p in enumerate(pd.unique(pops[rows])):
            r = rows[pops[rows] == p]
            m = dict(marker)
            if isinstance(m.get("color"), np.ndarray):
                m["color"] = m["color"][np.searchsorted(rows, r)]
            fig.add_trace(go.Scatter3d(
                x=xyz[0, r], y=xyz[1, r], z=xyz[2, r], mode="markers", name=name, legendgroup=name,
                showlegend=legend and k == 0, marker=m, customdata=ids[r],
                hovertemplate=f"{p} %{{customdata}}<br>x %{{x:.1f}}, y %{{y:.1f}}, z %{{z:.1f}} µm"
                              "<extra>%{fullData.name}</extra>"))

    chosen = np.flatnonzero(sel)
    if cat:
        labels = pd.Series(vals[chosen], dtype=object).map(lambda v: "(none)" if v is None or v != v else str(v))
        codes, uniq = pd.factorize(labels, sort=True)
        for k, u in enumerate(uniq):
            rows = chosen[codes == k]
            traces(rows, f"{u} ({len(rows):,})", {"size": size, "color": pal[k % len(pal)]})
    else:
        num = pd.to_numeric(pd.Series(vals[chosen]), errors="coerce").to_numpy(np.float64)
        traces(chosen, color_by, {"size": size, "color": num, "coloraxis": "coloraxis"}, legend=False)
        fig.update_layout(coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": color_by}}})
    rest = np.flatnonzero(~sel)
    if len(rest):
        traces(rest, f"other nodes ({len(rest):,})", {"size": size * 0.7, "color": OTHERS_COLOR, "opacity": 0.25})
    shown = f"{len(df):,} of {a['n_nodes']:,} nodes (seeded sample)" if a["sampled"] else f"{len(df):,} nodes"
    where = f", node set {a['node_set']!r}: {a['n_selected']:,} selected" if a["node_set"] is not None else ""
    fig.update_layout(title=title if title is not None else f"{shown}, coloured by {color_by}{where}",
                      template="plotly_white", legend={"itemsizing": "constant", "title": {"text": color_by}},
                      margin={"l": 0, "r": 0, "t": 40, "b": 0},
                      scene={"xaxis_title": "x (µm)", "yaxis_title": "y (µm)", "zaxis_title": "z (µm)",
                             "aspectmode": "data"})
    return fig


def degree_histogram(network: Network | PathLike, edges: str, *, direction: str = "in", by_type: bool = True,
                     title: str | None = None) -> Any:
    """The in- or out-degree distribution of one edge population: nodes per degree, one trace per edge type.

    Parameters
    ----------
    network : Network, str or PathLike
        A network, or a config / folder to load.
    edges : str
        The edge population.
    direction : {'in', 'out'}
    by_type : bool
        One trace per ``edge_type_id`` besides ``all``.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        ``go.Bar`` traces (x the degree, y the number of nodes), ``"all (mean <m>)"`` first, then
        ``"type <id> (mean <m>)"``.

    Raises
    ------
    AnalysisError
        As :func:`modelkit.analysis.degree_histogram`.

    Examples
    --------
    >>> from modelkit.plotting import plotly as mkp                               # doctest: +SKIP
    >>> mkp.degree_histogram(net, "cortex_to_cortex", direction="in")            # doctest: +SKIP
    """
    from modelkit.analysis.connectivity import degree_histogram as histogram
    from modelkit.analysis.sources import resolve_network
    go = _go()
    net = resolve_network(network)
    h = histogram(edges, direction, network=net, by_type=by_type)
    pal = _palette()
    fig = go.Figure()
    x = h.index.to_numpy()
    for k, c in enumerate(h.columns):
        name = f"{'all' if c == 'all' else f'type {c}'} (mean {h.attrs['mean'][c]:.3g})"
        fig.add_trace(go.Bar(x=x, y=h[c].to_numpy(), name=name, marker_color=pal[k % len(pal)],
                             opacity=0.9 if c == "all" else 0.6))
    fig.update_layout(barmode="overlay", template="plotly_white", bargap=0.05,
                      xaxis_title=f"{direction}-degree (edges per node)", yaxis_title="nodes",
                      title=title if title is not None else
                      f"{edges}: {direction}-degree of {h.attrs['population']} nodes")
    return fig
