"""The figure tabs of :class:`~modelkit.widgets.NetworkExplorer`: 3D positions, connectivity, a run's activity.

Each view is a box of controls over plotly ``FigureWidget``\\ s and the code of what it shows. A control
change builds one :class:`~modelkit.widgets._code.Call` per figure (a function of
:mod:`modelkit.plotting.plotly`), runs it, shows the figure as a new ``FigureWidget`` (the 3D camera a user
set is kept) and shows the calls as code that, pasted in a cell, draws the same figures. Views draw on first
show (:meth:`ExplorerView.draw`), so opening an explorer on a large network reads nothing it does not show.
"""

from __future__ import annotations

import html
import os
from typing import Any

from modelkit.analysis.positions import node_properties, position_populations
from modelkit.plotting import plotly as mkp
from modelkit.sonata import Network
from modelkit.widgets._code import Call, Sym, code_html, network_prelude
from modelkit.widgets._deps import require

ipw = require("ipywidgets")
traitlets = require("traitlets")

__all__ = ["ExplorerView", "PositionsView", "ConnectivityView", "ActivityView"]

_IMPORT = "from modelkit.plotting import plotly as mkp"
_WIDE = {"description_width": "initial"}


def replace_figure(old: Any, fig: Any) -> Any:
    """A new ``FigureWidget`` of ``fig`` with the old one's height and 3D camera (a rotation the user made).

    A new widget reaches the page as one state message, drawn once; emptying and refilling the old one
    (delete traces, add traces, relayout) made plotly.js draw 50,000 WebGL points two or three times.
    """
    go = require("plotly.graph_objects")
    new = go.FigureWidget(data=fig.data, layout=fig.layout)
    new.layout.height = old.layout.height
    scene = getattr(old.layout, "scene", None)
    if scene is not None and scene.camera.eye is not None and "scene" in new.layout:
        new.layout.scene.camera = scene.camera
    return new


def _link(picker: Any, view: Any, trait: str) -> None:
    """Keep a control's value and a view's string trait equal (an empty dropdown's None is '')."""
    def to_picker(v: str) -> Any:
        values = [o[1] if isinstance(o, tuple) else o for o in picker.options]
        return v if v in values else None

    traitlets.link((picker, "value"), (view, trait), transform=(lambda v: "" if v is None else v, to_picker))


def _error_html(e: BaseException) -> str:
    return f"<span style='color:#b00'>{html.escape(f'{type(e).__name__}: {e}')}</span>"


class ExplorerView(ipw.VBox):
    """A tab of the explorer: controls, figures and the code they stand for."""

    code = traitlets.Unicode("", help="the Python code of what the view shows (runs fresh)").tag(sync=True)
    error = traitlets.Unicode("", help="the error of the last redraw ('' if it worked)").tag(sync=True)

    def __init__(self, network: Network, controls: list, figures: list[tuple[str, int, str]], css: str) -> None:
        self.network = network
        self.net = Sym("net", network)
        self.message = ipw.HTML()
        self.message.add_class("mk-explorer-message")
        self.code_view = ipw.HTML()
        self.code_view.add_class("mk-explorer-code")
        self.drawn = False
        self.boxes: dict[str, Any] = {}
        for attr, height, box_css in figures:  # a box carries the class: the plot's own element is plotly's
            setattr(self, attr, _figure(height))
            self.boxes[attr] = ipw.Box([getattr(self, attr)])
            self.boxes[attr].add_class(box_css)
        boxes = list(self.boxes.values())
        super().__init__(children=[ipw.HBox(controls, layout=ipw.Layout(flex_flow="row wrap")), self.message,
                                   *boxes, self.code_view])
        self.add_class(css)

    def calls(self) -> list[Call]:  # pragma: no cover - every view defines it
        """One call per figure, from the controls' values."""
        raise NotImplementedError

    def prelude(self) -> list[str]:
        """The lines before the calls (imports, loading the network)."""
        return [_IMPORT, *network_prelude(self.network)]

    def draw(self, *_: Any) -> None:
        """Run the calls, show their figures and their code; an error is shown, not raised (a callback)."""
        self.drawn = True
        calls = self.calls()
        try:
            figs = [c.run() for c in calls]
        except Exception as e:  # a bad choice on a network is shown in the view, not lost in a callback
            self.error = f"{type(e).__name__}: {e}"
            self.message.value = _error_html(e)
            return
        for (attr, box), f in zip(self.boxes.items(), figs):
            old = getattr(self, attr)
            new = replace_figure(old, f)
            setattr(self, attr, new)
            box.children = (new,)
            old.close()
        self.error = ""
        self.message.value = self.describe(figs)
        self.code = "\n".join(self.prelude() + [c.line for c in calls]) + "\n"
        self.code_view.value = code_html(self.code)

    def describe(self, figs: list) -> str:
        """A line above the figures (the title says the rest)."""
        return ""

    def redraw(self, *_: Any) -> None:
        """Draw again if shown before (controls change before first show only set the values)."""
        if self.drawn:
            self.draw()


def _figure(height: int, width: int | None = None) -> Any:
    go = require("plotly.graph_objects")
    layout: dict[str, Any] = {"height": height, "template": "plotly_white"}
    if width:
        layout["width"] = width
    return go.FigureWidget(layout=layout)


class PositionsView(ExplorerView):
    """Nodes in 3D (:func:`modelkit.plotting.plotly.positions`), coloured by a property, a node set picked."""

    color_by = traitlets.Unicode("population", help="the node property colouring the nodes").tag(sync=True)
    node_set = traitlets.Unicode("", help="node set or population highlighted ('' for all nodes)").tag(sync=True)
    others = traitlets.Unicode("faint", help="nodes outside the node set: 'faint' or 'hide'").tag(sync=True)

    def __init__(self, network: Network, *, max_points: int = 50_000) -> None:
        self.max_points = max_points
        self.populations = position_populations(network)
        props = node_properties(network, self.populations) if self.populations else ["population"]
        default = "pop_name" if "pop_name" in props else "population"
        self.color_picker = ipw.Dropdown(options=props, value=default, description="colour by", style=_WIDE)
        self.color_picker.add_class("mk-explorer-color")
        sets = [("all nodes", "")] + [(f"node set {n}", n) for n in network.node_sets.names] + \
            [(f"population {n}", n) for n in sorted(network.nodes) if n not in network.node_sets.names]
        self.set_picker = ipw.Dropdown(options=sets, value="", description="select", style=_WIDE)
        self.set_picker.add_class("mk-explorer-nodeset")
        self.others_picker = ipw.ToggleButtons(options=[("others faint", "faint"), ("others hidden", "hide")],
                                               value="faint", style={"button_width": "130px"})
        super().__init__(network, [self.color_picker, self.set_picker, self.others_picker],
                         [("figure", 520, "mk-explorer-scene")], "mk-explorer-positions")
        for picker, trait in ((self.color_picker, "color_by"), (self.set_picker, "node_set"),
                              (self.others_picker, "others")):
            _link(picker, self, trait)
        self.color_by = default
        self.observe(self.redraw, ["color_by", "node_set", "others"])
        if not self.populations:
            self.message.value = "<i>no node population has positions</i>"

    def calls(self) -> list[Call]:
        kw: dict[str, Any] = {"color_by": self.color_by}
        if self.node_set:
            kw["node_set"] = self.node_set
            if self.others != "faint":
                kw["others"] = self.others
        if self.max_points != 50_000:
            kw["max_points"] = self.max_points
        return [Call("fig", mkp.positions, "mkp", (self.net,), kw)]

    def draw(self, *_: Any) -> None:
        if not self.populations:
            self.drawn = True
            return
        super().draw()

    def describe(self, figs: list) -> str:
        n = sum(len(t.x) for t in figs[0].data)
        return f"<span class='mk-explorer-shown' data-points='{n}'>{n:,} points drawn</span>"


class ConnectivityView(ExplorerView):
    """The connection matrix between groups of nodes and the degree distribution of one edge population."""

    group_by = traitlets.Unicode("population", help="node property grouping the matrix").tag(sync=True)
    weight = traitlets.Unicode("", help="edge property summed in the matrix ('' counts edges)").tag(sync=True)
    edges = traitlets.Unicode("", help="edge population of the degree distribution").tag(sync=True)
    direction = traitlets.Unicode("in", help="'in' or 'out' degree").tag(sync=True)

    def __init__(self, network: Network) -> None:
        attrs = sorted({a for p in network.nodes.values() for a in p.attribute_names} - {"x", "y", "z"})
        groups = ["population", "node_type_id"] + attrs
        weights = sorted({a for e in network.edges.values() for a in e.attribute_names} &
                         {"syn_weight", "nsyns", "delay", "weight"})
        default = "pop_name" if "pop_name" in groups else "population"
        self.group_picker = ipw.Dropdown(options=groups, value=default, description="group by", style=_WIDE)
        self.weight_picker = ipw.Dropdown(options=[("edge count", "")] + [(f"sum of {w}", w) for w in weights],
                                          value="", description="value", style=_WIDE)
        names = sorted(network.edges)
        self.edges_picker = ipw.Dropdown(options=names, value=names[0] if names else None,
                                         description="degrees of", style=_WIDE)
        self.direction_picker = ipw.ToggleButtons(options=[("in-degree", "in"), ("out-degree", "out")], value="in",
                                                  style={"button_width": "110px"})
        super().__init__(network, [self.group_picker, self.weight_picker, self.edges_picker, self.direction_picker],
                         [("matrix_figure", 420, "mk-explorer-matrix"), ("degree_figure", 340, "mk-explorer-degrees")],
                         "mk-explorer-connectivity")
        for picker, trait in ((self.group_picker, "group_by"), (self.weight_picker, "weight"),
                              (self.edges_picker, "edges"), (self.direction_picker, "direction")):
            _link(picker, self, trait)
        self.group_by, self.edges = default, names[0] if names else ""
        self.observe(self.redraw, ["group_by", "weight", "edges", "direction"])
        if not names:
            self.message.value = "<i>the network has no edges</i>"

    def calls(self) -> list[Call]:
        kw: dict[str, Any] = {"group_by": self.group_by}
        if self.weight:
            kw["weight"] = self.weight
        return [Call("matrix", mkp.connectivity_matrix, "mkp", (self.net,), kw),
                Call("degrees", mkp.degree_histogram, "mkp", (self.net, self.edges), {"direction": self.direction})]

    def draw(self, *_: Any) -> None:
        if not self.network.edges:
            self.drawn = True
            return
        super().draw()


def _same_file(a: str, b: str | None) -> bool:
    try:
        return b is not None and os.path.samefile(a, b)
    except OSError:
        return False


def _window(run: Any) -> dict[str, Any]:
    """``time_range`` of a run whose spikes file alone would not give it (rates count the whole run, ms):
    a RunResult's ``tstop``, a SpikeTable's ``t_start`` / ``t_stop``."""
    if getattr(run, "spikes_file", None) is not None and getattr(run, "tstop", 0.0):
        return {"time_range": (0.0, float(run.tstop))}
    t0, t1 = getattr(run, "t_start", None), getattr(run, "t_stop", None)
    if t1 is not None:
        return {"time_range": (float(t0 or 0.0), float(t1))}
    return {}


class ActivityView(ExplorerView):
    """A run's raster and rates (:func:`modelkit.plotting.plotly.raster` / ``rates``), once a run is attached.

    Parameters
    ----------
    network : Network
    config : (str, str or None), optional
        The explorer's simulation config and the spikes file it writes: a run that wrote that file is shown
        through the config (its window, its network).
    """

    group_by = traitlets.Unicode("population", help="node property grouping spikes").tag(sync=True)
    kind = traitlets.Unicode("bar", help="rates as 'bar', 'hist' or 'time'").tag(sync=True)
    source = traitlets.Unicode("", help="what the spikes come from (a config or spikes file)").tag(sync=True)

    def __init__(self, network: Network, config: tuple[str, str | None] | None = None) -> None:
        self.config = config
        attrs = sorted({a for p in network.nodes.values() for a in p.attribute_names} - {"x", "y", "z"})
        groups = ["population", "node_type_id"] + attrs
        default = "pop_name" if "pop_name" in groups else "population"
        self.group_picker = ipw.Dropdown(options=groups, value=default, description="group by", style=_WIDE)
        self.kind_picker = ipw.ToggleButtons(options=[("mean rates", "bar"), ("rate histogram", "hist"),
                                                      ("rates in time", "time")], value="bar",
                                             style={"button_width": "130px"})
        self.spikes: Any = None
        self._kw: dict[str, Any] = {}
        self._prelude: list[str] = []
        super().__init__(network, [self.group_picker, self.kind_picker],
                         [("raster_figure", 380, "mk-explorer-raster"), ("rates_figure", 300, "mk-explorer-rates")],
                         "mk-explorer-activity")
        for picker, trait in ((self.group_picker, "group_by"), (self.kind_picker, "kind")):
            _link(picker, self, trait)
        self.group_by = default
        self.observe(self.redraw, ["group_by", "kind"])
        self.message.value = ("<i>no run attached: open the explorer on a simulation config whose output has "
                              "spikes, or call <code>explorer.attach(result)</code></i>")

    def attach(self, run: Any) -> None:
        """Show the spikes of ``run``: a simulation config (path), a spikes file, a ``RunResult`` (or anything
        with a ``spikes_file``) or a :class:`~modelkit.analysis.SpikeTable`.

        Parameters
        ----------
        run : str, PathLike, RunResult or SpikeTable
        """
        self._prelude = []
        path = run if isinstance(run, (str, os.PathLike)) else getattr(run, "spikes_file", None) or \
            getattr(run, "source", None)
        if path is not None and isinstance(path, (str, os.PathLike)) and os.path.isfile(path):
            path = os.path.abspath(os.fspath(path))
            if path.endswith(".json"):
                self._kw, self.spikes = {"config_file": path}, None
            elif self.config is not None and _same_file(path, self.config[1]):
                # the explorer's own config wrote these spikes: it gives the run's window and network
                self._kw, self.spikes = {"config_file": self.config[0]}, None
            else:
                self._kw, self.spikes = {"network": self.net, **_window(run)}, path
        else:  # a table in memory: the code names it, it cannot load it
            self._kw, self.spikes = {"network": self.net, **_window(run)}, Sym("spikes", run)
            self._prelude = ["# spikes: the SpikeTable you attached"]
        self.source = str(path) if path is not None else "a table in memory"
        self.drawn = True  # attaching draws now: the user asked to see this run
        self.draw()

    def prelude(self) -> list[str]:
        if "config_file" in self._kw:
            return [_IMPORT]
        return super().prelude() + self._prelude

    def calls(self) -> list[Call]:
        args = () if self.spikes is None else (self.spikes,)
        return [Call("raster", mkp.raster, "mkp", args, {**self._kw, "group_by": self.group_by}),
                Call("rates", mkp.rates, "mkp", args, {**self._kw, "group_by": self.group_by, "kind": self.kind})]

    def draw(self, *_: Any) -> None:
        if not self._kw:
            self.drawn = True
            return
        super().draw()

    def describe(self, figs: list) -> str:
        return f"spikes of <code>{html.escape(self.source)}</code>"
