"""BuilderPanel: forms over ``NetworkBuilder.add_nodes`` / ``add_edges`` that write, show and run Python code.

Every action of the panel is one or two lines of Python, appended to :attr:`BuilderPanel.code` and then
executed (``exec``) in the panel's own namespace: what the panel shows is exactly what it ran, and
running the code in a fresh interpreter builds the same network (same seed, same files). A line that
raises is not kept, and the error is shown.

Views: a live preview of node and expected edge counts (updated as the form changes), the positions in
3D (plotly ``FigureWidget``, coloured by ``pop_name``), and after "Build" the connection matrix
(edges between ``pop_name`` groups, :func:`modelkit.analysis.connectivity.connectivity_table`).

Parameters: the neuron form shows NEST's defaults of the chosen model and the synapse form those of the
synapse model (read in a child process: the kernel never imports NEST); values changed from NEST's
defaults go into ``dynamics_params``. Weights follow NEST's sign rule (:mod:`.nest_model_params`): from an
inhibitory population (``ei='i'``) onto a model whose weight sign decides, the weight turns negative when
the source is chosen, and a positive one typed afterwards is warned about (and kept).

Biophysical cells (NEURON, :mod:`._builder_neuron`): with a components folder in bmtk's layout, the form
offers its templates (Allen fits, NeuroML cells) and morphologies and shows the fit's values; edited
values go into an edited copy of the fit passed as ``dynamics_params`` (in memory), and edges onto
biophysical cells take the folder's synaptic models (``target_sections``, ``distance_range``; weights
positive, their sign is the synaptic model's ``erev``).

"Simulate" hands the network built in memory to a :class:`~modelkit.widgets.RunPanel` with a
:class:`~modelkit.widgets.LiveRaster`, shown under the button, with a Poisson input (see
:mod:`._builder_simulate`); nothing is saved but the run's output folder.
"""

from __future__ import annotations

import html
import keyword
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from modelkit._typing import PathLike
from modelkit.analysis.connectivity import connectivity_table
from modelkit.widgets._builder_forms import ParamGrid, neuron_info, sign_warning
from modelkit.widgets._builder_neuron import (BIO_WEIGHT, BioCellForm, BioSynapseForm, bio_sign_warning,
                                              components_config)
from modelkit.widgets._builder_simulate import SimulateForm, simulate_lines
from modelkit.widgets._deps import PALETTE, require

if TYPE_CHECKING:
    from modelkit.builder import NetworkBuilder
    from modelkit.sonata import Network

ipw = require("ipywidgets")
traitlets = require("traitlets")

__all__ = ["BuilderPanel", "PLACEMENTS", "RULES"]

#: position helper -> (function in modelkit.builder.placement, [(parameter, default, description)])
PLACEMENTS: dict[str, tuple[str | None, list[tuple[str, float, str]]]] = {
    "none": (None, []),
    "column": ("column", [("height", 400.0, "height (µm)"), ("max_radius", 200.0, "radius (µm)")]),
    "sphere": ("sphere", [("radius", 200.0, "radius (µm)")]),
    "box": ("box", [("high", 200.0, "side (µm)")]),
}

#: connection rule -> (class in modelkit.builder, [(parameter, default, description)])
RULES: dict[str, tuple[str, list[tuple[str, float, str]]]] = {
    "fixed probability": ("FixedProbability", [("p", 0.1, "p")]),
    "fixed in-degree": ("FixedInDegree", [("k", 10, "k (in)")]),
    "fixed out-degree": ("FixedOutDegree", [("k", 10, "k (out)")]),
    "distance (gaussian)": ("DistanceProbability", [("p_max", 0.5, "p max"), ("sigma", 100.0, "sigma (µm)")]),
    "one to one": ("OneToOne", []),
    "all to all": ("AllToAll", []),
}

_DEFAULT_MODELS = ("iaf_psc_alpha", "iaf_psc_delta", "iaf_psc_exp", "iaf_cond_alpha", "aeif_cond_exp")
_DEFAULT_SYNAPSES = ("static_synapse", "stdp_synapse", "tsodyks2_synapse")


def _identifier(name: str) -> str:
    s = "".join(c if c.isalnum() else "_" for c in name)
    s = s if s and not s[0].isdigit() else f"p_{s}"
    return f"{s}_" if keyword.iskeyword(s) else s


def _warning_html(text: str, tag: str) -> str:
    return (f"<{tag} class='mk-sign-warning' style='color:#a60;white-space:normal;line-height:1.3'>&#9888; "
            f"{html.escape(text, quote=False)}</{tag}>")


def _num(v: float) -> str:
    return repr(int(v)) if isinstance(v, int) else repr(float(v))


class _Params(ipw.HBox):
    """Number fields for the parameters of a helper; ``values`` maps names to numbers."""

    def set_spec(self, spec: list[tuple[str, float, str]]) -> None:
        self.fields = {name: (ipw.IntText if isinstance(default, int) else ipw.FloatText)(
            value=default, description=desc, style={"description_width": "initial"},
            layout=ipw.Layout(width="160px")) for name, default, desc in spec}
        self.children = list(self.fields.values())

    @property
    def values(self) -> dict[str, float]:
        return {k: w.value for k, w in self.fields.items()}


class BuilderPanel(ipw.VBox):
    """Build a network with forms; see the code it runs, the counts, positions and connection matrix.

    Parameters
    ----------
    name : str
        Network (node population) name.
    seed : int
        Seed of the builder and of the position helpers (same seed, same network).
    models : iterable of str, optional
        NEST neuron models to offer (default: :func:`~modelkit.widgets.nest_models`, read in a child
        process; a short built-in list if NEST is not installed).
    plots : bool
        Show the 3D positions and the connection matrix (plotly ``FigureWidget``).
    components : str or PathLike, optional
        A components folder in bmtk's layout (``biophysical_neuron_templates/``, ``morphologies/``,
        ``synaptic_models/``, ``mechanisms/``): the templates, morphologies and synaptic models the forms
        offer for ``model_type='biophysical'`` (NEURON); the form's "components" field can change it.

    Attributes
    ----------
    namespace : dict
        Where the code runs; ``namespace["net"]`` is the :class:`~modelkit.builder.NetworkBuilder`.

    Examples
    --------
    >>> panel = BuilderPanel("v1", seed=1); panel          # doctest: +SKIP
    >>> panel.add_population()                             # what "Add population" does   # doctest: +SKIP
    >>> print(panel.code)                                  # doctest: +SKIP
    """

    code = traitlets.Unicode("", help="the Python code run so far (exec it to build the same network)").tag(sync=True)
    error = traitlets.Unicode("", help="the error of the last action ('' if it worked)").tag(sync=True)
    n_nodes = traitlets.Int(0, help="nodes added so far").tag(sync=True)

    def __init__(self, name: str = "net", *, seed: int = 0, models: Iterable[str] | None = None,
                 plots: bool = True, components: PathLike | None = None) -> None:
        if models is None:
            try:
                from modelkit.widgets.nest_model_names import nest_models
                models = nest_models()
            except Exception:  # NEST absent or broken: offer the common models, NEST complains at run time
                models = _DEFAULT_MODELS
        models = list(models)
        try:
            from modelkit.widgets.nest_model_names import nest_models
            synapses = list(nest_models("synapse"))
        except Exception:  # as for the neuron models
            synapses = list(_DEFAULT_SYNAPSES)
        style = {"description_width": "initial"}
        # --- population form
        self.pop_name = ipw.Text(value="exc", description="pop_name", style=style, layout=ipw.Layout(width="200px"))
        self.n = ipw.BoundedIntText(value=100, min=1, max=10**8, description="N", style=style,
                                    layout=ipw.Layout(width="150px"))
        self.model_type = ipw.Dropdown(options=["point_neuron", "biophysical", "virtual"], value="point_neuron",
                                       description="model_type", style=style, layout=ipw.Layout(width="230px"))
        self.model = ipw.Dropdown(options=models, value="iaf_psc_alpha" if "iaf_psc_alpha" in models else models[0],
                                  description="NEST model", style=style, layout=ipw.Layout(width="280px"))
        self.ei = ipw.Dropdown(options=["e", "i", "-"], value="e", description="ei", style=style,
                               layout=ipw.Layout(width="110px"))
        self.placement = ipw.Dropdown(options=list(PLACEMENTS), value="column", description="positions",
                                      style=style, layout=ipw.Layout(width="190px"))
        self.placement_params = _Params()
        self.neuron_params = ParamGrid("NEST parameters", "mk-builder-neuron-params")
        self.bio = BioCellForm("" if components is None else str(components))
        self.add_nodes_button = ipw.Button(description="Add population", icon="plus", button_style="primary")
        # --- edge form
        self.source = ipw.Dropdown(options=[], description="source", style=style, layout=ipw.Layout(width="200px"))
        self.target = ipw.Dropdown(options=[], description="target", style=style, layout=ipw.Layout(width="200px"))
        self.rule = ipw.Dropdown(options=list(RULES), value="fixed probability", description="rule", style=style,
                                 layout=ipw.Layout(width="240px"))
        self.rule_params = _Params()
        self.syn_weight = ipw.FloatText(value=1.0, description="syn_weight", style=style,
                                        layout=ipw.Layout(width="170px"))
        self.syn_weight.add_class("mk-builder-weight")
        self.delay = ipw.FloatText(value=1.5, description="delay (ms)", style=style, layout=ipw.Layout(width="170px"))
        self.synapse = ipw.Dropdown(options=synapses, description="synapse",
                                    value="static_synapse" if "static_synapse" in synapses else synapses[0],
                                    style=style, layout=ipw.Layout(width="260px"))
        self.synapse_params = ParamGrid("synapse parameters", "mk-builder-synapse-params")
        self.bio_syn = BioSynapseForm()
        self.sign_note = ipw.HTML()
        self.sign_note.add_class("mk-builder-sign")
        self.add_edges_button = ipw.Button(description="Add edges", icon="link", button_style="primary")
        # --- build / save
        self.build_button = ipw.Button(description="Build", icon="cogs")
        self.save_dir = ipw.Text(value="network", description="folder", style=style, layout=ipw.Layout(width="260px"))
        self.save_button = ipw.Button(description="Save SONATA", icon="save")
        self.sim = SimulateForm()
        for w, css in ((self.pop_name, "pop-name"), (self.n, "n"), (self.ei, "ei"), (self.model, "model"),
                       (self.model_type, "model-type"), (self.source, "source"), (self.target, "target"),
                       (self.rule, "rule"), (self.synapse, "synapse"), (self.delay, "delay")):
            w.add_class(f"mk-builder-{css}")  # what the browser tests click
        self.sim.button.on_click(lambda _b: self.simulate())
        # --- views
        self.preview = ipw.HTML()
        self.preview.add_class("mk-builder-preview")
        self.code_view = ipw.HTML()
        self.code_view.add_class("mk-builder-code")
        self.message = ipw.HTML()
        self.message.add_class("mk-builder-message")
        self.positions_fig: Any = None
        self.matrix_fig: Any = None
        figs: list[Any] = []
        if plots:
            go = require("plotly.graph_objects")
            self.positions_fig = go.FigureWidget(layout=dict(title="positions (µm)", height=380, width=400,
                                                             margin=dict(l=0, r=0, t=30, b=0),
                                                             scene=dict(aspectmode="data")))
            self.matrix_fig = go.FigureWidget(layout=dict(title="edges between pop_name groups", height=380,
                                                          width=400, margin=dict(l=60, r=0, t=30, b=40)))
            figs = [ipw.HBox([self.positions_fig, self.matrix_fig], layout=ipw.Layout(flex_flow="row wrap"))]
        # every row wraps and every column may shrink: the panel fits a 1,000 px window (no overflow)
        wrap = ipw.Layout(flex_flow="row wrap", width="100%")

        def column(children: list[Any], css: str, basis: str) -> Any:
            box = ipw.VBox(children, layout=ipw.Layout(flex=f"1 1 {basis}", min_width="0", max_width="100%",
                                                       margin="0 12px 8px 0"))
            box.add_class(css)
            return box
        nodes_box = column([ipw.HTML("<b>Add nodes</b>"),
                            ipw.HBox([self.pop_name, self.n, self.ei], layout=wrap),
                            ipw.HBox([self.model_type, self.model], layout=wrap),
                            ipw.HBox([self.placement, self.placement_params], layout=wrap), self.neuron_params,
                            self.bio, self.add_nodes_button], "mk-builder-nodes", "340px")
        edges_box = column([ipw.HTML("<b>Add edges</b>"), ipw.HBox([self.source, self.target], layout=wrap),
                            ipw.HBox([self.rule, self.rule_params], layout=wrap),
                            ipw.HBox([self.syn_weight, self.delay], layout=wrap), self.synapse,
                            self.synapse_params, self.bio_syn, self.sign_note, self.add_edges_button],
                           "mk-builder-edges", "340px")
        preview_box = column([self.preview], "mk-builder-preview-col", "180px")
        super().__init__(children=[
            ipw.HBox([nodes_box, edges_box, preview_box], layout=wrap),
            ipw.HBox([self.build_button, self.save_dir, self.save_button], layout=wrap), self.message, *figs,
            self.sim, ipw.HTML("<b>Code</b>"), self.code_view], layout=ipw.Layout(width="100%", max_width="100%"))
        self.add_class("mk-builder-panel")
        self.name = name
        self.seed = int(seed)
        self.namespace: dict[str, Any] = {}
        self._edges: list[dict[str, Any]] = []
        self._pops: dict[str, dict[str, Any]] = {}
        self._rules: dict[str, str | None] = {}  # NEST model -> sign rule ("weight", "receptor", None: unknown)
        self.placement.observe(self._placement_changed, "value")
        self.rule.observe(self._rule_changed, "value")
        self.model_type.observe(self._model_changed, "value")
        self.model.observe(self._model_changed, "value")
        self.synapse.observe(self._synapse_changed, "value")
        self.syn_weight.observe(lambda _c: self._show_sign(), "value")
        for w in (self.source, self.target):
            w.observe(lambda _c: self._edge_kind(), "value")
            w.observe(lambda _c: self._sign_default(), "value")
        self.bio.components.observe(lambda _c: self._edge_kind(), "value")
        for w in (self.pop_name, self.n, self.model, self.model_type, self.source, self.target, self.rule):
            w.observe(lambda _c: self._preview(), "value")
        self.add_nodes_button.on_click(lambda _b: self.add_population())
        self.add_edges_button.on_click(lambda _b: self.add_edges())
        self.build_button.on_click(lambda _b: self.build())
        self.save_button.on_click(lambda _b: self.save())
        self._placement_changed()
        self._rule_changed()
        self._model_changed()
        self._synapse_changed()
        self._edge_kind()
        self._run(["import numpy as np", "from modelkit.builder import NetworkBuilder, placement",
                   "from modelkit.builder import " + ", ".join(sorted({c for c, _ in RULES.values()})),
                   f"net = NetworkBuilder({name!r}, seed={self.seed})"])

    # ------------------------------------------------------------------ the code
    def _run(self, lines: list[str]) -> bool:
        """Execute ``lines``; keep them in :attr:`code` if they worked, else show the error."""
        src = "\n".join(lines)
        try:
            exec(compile(src, "<BuilderPanel>", "exec"), self.namespace)  # noqa: S102 - the code is shown
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
            self.message.value = f"<span style='color:#b00'>{html.escape(self.error)}</span>"
            return False
        self.error = ""
        self.message.value = ""
        self.code = f"{self.code}{src}\n"
        # long lines wrap: the code never widens the panel beyond its cell
        self.code_view.value = (f"<pre style='font-size:12px;line-height:1.3;white-space:pre-wrap;"
                                f"overflow-wrap:anywhere;margin:0'>{html.escape(self.code)}</pre>")
        return True

    @property
    def builder(self) -> NetworkBuilder:
        """The :class:`~modelkit.builder.NetworkBuilder` the code made."""
        return self.namespace["net"]

    # ------------------------------------------------------------------ actions (the buttons call these)
    def add_population(self) -> bool:
        """``net.add_nodes(...)`` from the form (what "Add population" does); False if it raised."""
        pop = self.pop_name.value.strip()
        if not pop:
            self.error = "pop_name: expected a non-empty name"
            self.message.value = f"<span style='color:#b00'>{self.error}</span>"
            return False
        n = int(self.n.value)
        mt = self.model_type.value
        props = [f"N={n}", f"pop_name={pop!r}", f"model_type={mt!r}"]
        if self.ei.value != "-":
            props.append(f"ei={self.ei.value!r}")
        lines: list[str] = []
        if mt == "biophysical":  # NEURON: a template and morphology of the components folder, an edited fit
            lines, bio_props, err = self.bio.node_code(f"fit_{_identifier(pop)}")
            if err:
                self.error = err
                self.message.value = f"<span style='color:#b00'>{html.escape(err)}</span>"
                return False
            props += bio_props
        elif mt != "virtual":
            props.append(f"model_template={'nest:' + self.model.value!r}")
            if self.neuron_params.changed:
                props.append(f"dynamics_params={self.neuron_params.changed!r}")
        func, _spec = PLACEMENTS[self.placement.value]
        var = None
        if func is not None and mt != "virtual":
            var = f"pos_{_identifier(pop)}"
            args = ", ".join(f"{k}={_num(v)}" if k != "high" else f"high=({_num(v)},) * 3"
                             for k, v in self.placement_params.values.items())
            lines.append(f"{var} = placement.{func}({n}, {args}, rng={self.seed + len(self._pops)})")
            props.append(f"positions={var}")
        lines.append(f"net.add_nodes({', '.join(props)})")
        if not self._run(lines):
            return False
        info = self._pops.setdefault(pop, {"n": 0, "positions": [], "models": set(), "ei": None, "types": set()})
        info["n"] += n
        info["types"].add(mt)
        if self.ei.value != "-":
            info["ei"] = self.ei.value
        if mt == "point_neuron":
            info["models"].add(self.model.value)
        self.sim.suggest_weight(self._input_kind())
        if var is not None:
            info["positions"].append(self.namespace[var])
        self.n_nodes = sum(p["n"] for p in self._pops.values())
        names = list(self._pops)
        for w in (self.source, self.target):
            keep = w.value
            w.options = names
            w.value = keep if keep in names else names[0]
        self._sign_default()
        self._preview()
        self._draw_positions()
        return True

    def add_edges(self) -> bool:
        """``net.add_edges(...)`` from the form (what "Add edges" does); False if it raised."""
        src, tgt = self.source.value, self.target.value
        if src is None or tgt is None:
            self.error = "add edges: add a population first (source and target are pop_name values)"
            self.message.value = f"<span style='color:#b00'>{self.error}</span>"
            return False
        cls, _spec = RULES[self.rule.value]
        params = self.rule_params.values
        rule = f"{cls}({', '.join(f'{k}={_num(v)}' for k, v in params.items())})"
        syn = self.synapse_params.changed
        tail = f"model_template={self.synapse.value!r}" + (f", dynamics_params={syn!r}" if syn else "")
        if self._is_bio(tgt):  # NEURON: a synaptic model of the components folder, placed on sections
            bio_props, err = self.bio_syn.edge_props()
            if err:
                self.error = err
                self.message.value = f"<span style='color:#b00'>{html.escape(err)}</span>"
                return False
            tail = ", ".join(bio_props)
        line = (f"net.add_edges(source={{'pop_name': {src!r}}}, target={{'pop_name': {tgt!r}}}, "
                f"connection_rule={rule}, syn_weight={_num(self.syn_weight.value)}, "
                f"delay={_num(self.delay.value)}, {tail})")
        warning = self.sign_warning()
        if not self._run([line]):
            return False
        self._edges.append({"source": src, "target": tgt, "rule": self.rule.value, "params": params})
        if warning:  # the user's choice stands, but not silently
            self.message.value = _warning_html(warning, "span")
        self._preview()
        return True

    def sign_warning(self) -> str:
        """Why the edge form's weight has the wrong sign for NEST (see :func:`sign_warning`), or ''."""
        src, tgt = self.source.value, self.target.value
        if src not in self._pops or tgt not in self._pops:
            return ""
        if self._is_bio(tgt):
            return bio_sign_warning(tgt, float(self.syn_weight.value))
        return sign_warning(src, self._pops[src]["ei"], self._target_rules(tgt), float(self.syn_weight.value))

    def simulate(self) -> Any:
        """Hand the network built in memory to a RunPanel with a LiveRaster and start it (what "Simulate" does).

        Runs :func:`~modelkit.widgets._builder_simulate.simulate_lines` (shown in the code): ``net.build()``
        in memory, a Poisson input builder, both as one in-memory ``sim_network``,
        ``RunPanel(sim_config, network=sim_network, views=[raster])`` and ``run_panel.start()``; the
        RunPanel and the raster are shown under the Simulate button. Nothing is written but the run's
        output folder.

        Returns
        -------
        RunPanel or None
            The panel running the simulation, or None if the code raised (see :attr:`error`) or a run
            started here is still going.
        """
        kinds = {t for p in self._pops.values() for t in p["types"]} - {"virtual"}
        problem = ""
        if not kinds:
            problem = "add a point_neuron population first, or a biophysical one (the Poisson input drives them)"
        elif len(kinds) > 1:
            problem = ("NEST's point neurons and NEURON's biophysical cells do not run in one simulation "
                       "(build them in two panels)")
        elif "biophysical" in kinds and not self.bio.folder:
            problem = "biophysical cells need the components folder (morphologies, mechanisms, parameter files)"
        if problem:
            self.error = f"simulate: {problem}"
            self.message.value = f"<span style='color:#b00'>{html.escape(self.error)}</span>"
            return None
        old = self.namespace.get("run_panel")
        if old is not None and old.status in ("starting", "running", "stopping"):
            self.error = "simulate: a run is still going; press its Stop button or wait for it to end"
            self.message.value = f"<span style='color:#b00'>{html.escape(self.error)}</span>"
            return None
        components = components_config(self.bio.folder) if "biophysical" in kinds else None
        if not self._run(simulate_lines(self.name, self.seed, **self.sim.values(), components=components)):
            return None
        run_panel, raster = self.namespace["run_panel"], self.namespace["raster"]
        self.sim.slot.children = [run_panel, raster]
        self._draw_matrix(self.namespace["network"])
        return run_panel

    def build(self) -> Network | None:
        """``network = net.build()`` and draw the connection matrix (what "Build" does); the Network or None."""
        if not self._run(["network = net.build()"]):
            return None
        network = self.namespace["network"]
        n_edges = self._draw_matrix(network)
        self.message.value = f"built: {self.builder.nnodes} nodes, {n_edges} edges"
        return network

    def _draw_matrix(self, network: Network) -> int:
        n_edges = sum(len(e) for e in network.edges.values())
        if self.matrix_fig is not None:
            mat = connectivity_table(network, group_by="pop_name") if n_edges else None
            with self.matrix_fig.batch_update():
                self.matrix_fig.data = []
                if mat is not None and mat.size:
                    self.matrix_fig.add_heatmap(z=mat.to_numpy(), x=[str(c) for c in mat.columns],
                                                y=[str(r) for r in mat.index], colorscale="Viridis",
                                                texttemplate="%{z}")
                    self.matrix_fig.update_layout(xaxis_title="target", yaxis_title="source",
                                                  yaxis_autorange="reversed")
        return n_edges

    def save(self, folder: PathLike | None = None) -> bool:
        """``net.save(folder, force_overwrite=False)`` (what "Save SONATA" does); False if it raised.

        Parameters
        ----------
        folder : str or PathLike, optional
            Where the SONATA files go (an existing network there is not overwritten); default the
            "folder" field.

        Returns
        -------
        bool
            Whether it saved; if not, :attr:`error` says why.
        """
        folder = self.save_dir.value if folder is None else str(folder)
        if not self._run([f"net.save({folder!r}, force_overwrite=False)"]):
            return False
        self.message.value = f"saved SONATA files in <code>{html.escape(folder)}</code>"
        return True

    # ------------------------------------------------------------------ views
    def _placement_changed(self, _change: Any = None) -> None:
        self.placement_params.set_spec(PLACEMENTS[self.placement.value][1])

    def _model_changed(self, _change: Any = None) -> None:
        mt = self.model_type.value
        self.model.disabled = mt == "virtual"
        self.model.layout.display = "none" if mt == "biophysical" else ""
        self.neuron_params.layout.display = "" if mt == "point_neuron" else "none"
        self.bio.layout.display = "" if mt == "biophysical" else "none"
        if mt != "point_neuron":
            return
        from modelkit.widgets.nest_model_params import unit_of
        defaults, rule, note = neuron_info(self.model.value)
        self._rules[self.model.value] = rule
        self.neuron_params.set_defaults(defaults, {k: unit_of(k) for k in defaults},
                                        note or f"{self.model.value}: NEST's defaults; changed values go into "
                                                 f"dynamics_params")

    def _synapse_changed(self, _change: Any = None) -> None:
        from modelkit.widgets.nest_model_params import nest_defaults, unit_of
        try:
            defaults, note = nest_defaults(self.synapse.value, "synapse"), ""
        except Exception as e:  # NEST absent: weight and delay only
            defaults, note = {}, f"no defaults: {e}".splitlines()[0]
        self.synapse_params.set_defaults(defaults, {k: unit_of(k) for k in defaults},
                                         note or ("" if defaults else "none but weight and delay"))

    def _is_bio(self, pop: str | None) -> bool:
        return "biophysical" in self._pops.get(pop or "", {}).get("types", ())

    def _edge_kind(self) -> None:
        """Onto biophysical cells the edge form offers NEURON's synaptic models (weights in µS), else NEST's."""
        if not hasattr(self, "_pops"):
            return
        bio = self._is_bio(self.target.value)
        for w in (self.synapse, self.synapse_params):
            w.layout.display = "none" if bio else ""
        self.bio_syn.layout.display = "" if bio else "none"
        w = abs(self.syn_weight.value)
        if bio:
            eis = [self._pops.get(p or "", {}).get("ei") for p in (self.source.value, self.target.value)]
            if self.bio_syn.folder != self.bio.folder:
                self.bio_syn.scan(self.bio.folder, *eis)
            else:
                self.bio_syn.suggest(*eis)
            if w == 1.0:  # NEST's default weight (pA) is 2,000 times too strong as a conductance (µS)
                self.syn_weight.value = BIO_WEIGHT
        elif w == BIO_WEIGHT:
            self.syn_weight.value = 1.0

    def _input_kind(self) -> str:
        if any(self._is_bio(p) for p in self._pops):
            return "biophysical"
        return "conductance" if self._all_conductance_based() else "current"

    def _all_conductance_based(self) -> bool:
        from modelkit.widgets.nest_model_params import conductance_based
        models = {m for p in self._pops.values() for m in p["models"]}
        try:
            return bool(models) and all(conductance_based(m) for m in models)
        except Exception:  # NEST cannot say: keep the current-based default
            return False

    def _target_rules(self, target: str) -> list[tuple[str, str | None]]:
        models = sorted(self._pops.get(target, {}).get("models", ()))
        for m in models:
            if m not in self._rules:
                self._rules[m] = neuron_info(m)[1]
        return [(m, self._rules[m]) for m in models]

    def _sign_default(self) -> None:
        """A new source or target sets the weight's sign by NEST's rule (negative from an inhibitory
        population onto a model whose weight sign decides); a weight typed afterwards is the user's (warned)."""
        src = self.source.value
        if src in self._pops:
            rules = [r for _m, r in self._target_rules(self.target.value)]
            negative = self._pops[src]["ei"] == "i" and "weight" in rules and "receptor" not in rules
            self.syn_weight.value = -abs(self.syn_weight.value) if negative else abs(self.syn_weight.value)
        self._show_sign()

    def _show_sign(self) -> None:
        warning = self.sign_warning() if hasattr(self, "_pops") else ""
        self.sign_note.value = _warning_html(warning, "div") if warning else ""

    def _rule_changed(self, _change: Any = None) -> None:
        self.rule_params.set_spec(RULES[self.rule.value][1])
        for w in self.rule_params.fields.values():
            w.observe(lambda _c: self._preview(), "value")
        self._preview()

    def expected_edges(self, source: str, target: str, rule: str, params: dict[str, float]) -> float | None:
        """Expected edge count of a rule between two pop_name groups.

        Parameters
        ----------
        source, target : str
            ``pop_name`` values of populations added so far (an unknown one counts 0 nodes).
        rule : str
            A key of :data:`RULES` (``"fixed probability"``, ...).
        params : dict of str to float
            The rule's parameters (``p``, ``k``, ...), as in :data:`RULES`.

        Returns
        -------
        float or None
            The expected number of edges; None where it depends on positions (distance rules).
        """
        ns = self._pops.get(source, {}).get("n", 0)
        nt = self._pops.get(target, {}).get("n", 0)
        same = source == target
        pairs = ns * nt - (min(ns, nt) if same else 0)
        return {"fixed probability": lambda: params.get("p", 0.0) * pairs,
                "fixed in-degree": lambda: float(params.get("k", 0) * nt),
                "fixed out-degree": lambda: float(params.get("k", 0) * ns),
                "one to one": lambda: float(min(ns, nt)),
                "all to all": lambda: float(pairs)}.get(rule, lambda: None)()

    def _preview(self) -> None:
        if not hasattr(self, "_pops"):
            return
        rows = "".join(f"<tr><td>{html.escape(p)}</td><td style='text-align:right'>{i['n']}</td></tr>"
                       for p, i in self._pops.items())
        pending = f"<tr style='color:#888'><td>+ {html.escape(self.pop_name.value)}</td>" \
                  f"<td style='text-align:right'>{self.n.value}</td></tr>"
        edges = []
        for e in self._edges:
            x = self.expected_edges(e["source"], e["target"], e["rule"], e["params"])
            edges.append(f"<tr><td>{html.escape(e['source'])} &rarr; {html.escape(e['target'])}</td>"
                         f"<td style='text-align:right'>{'?' if x is None else f'~{x:.0f}'}</td></tr>")
        if self.source.value and self.target.value and hasattr(self.rule_params, "fields"):
            x = self.expected_edges(self.source.value, self.target.value, self.rule.value, self.rule_params.values)
            edges.append(f"<tr style='color:#888'><td>+ {html.escape(self.source.value)} &rarr; "
                         f"{html.escape(self.target.value)}</td>"
                         f"<td style='text-align:right'>{'?' if x is None else f'~{x:.0f}'}</td></tr>")
        total = sum(i["n"] for i in self._pops.values())
        self.preview.value = (f"<div style='margin-left:12px'><b>Preview</b><table class='mk-preview-nodes'>"
                              f"<tr><th>pop_name</th><th>nodes</th></tr>{rows}{pending}"
                              f"<tr><td><b>total</b></td><td style='text-align:right' class='mk-total' "
                              f"data-total='{total}'><b>{total}</b></td></tr></table>"
                              f"<table><tr><th>edges</th><th>expected</th></tr>{''.join(edges)}</table></div>")

    def _draw_positions(self) -> None:
        if self.positions_fig is None:
            return
        import numpy as np
        with self.positions_fig.batch_update():
            self.positions_fig.data = []
            for k, (pop, info) in enumerate(self._pops.items()):
                if not info["positions"]:
                    continue
                xyz = np.concatenate(info["positions"])
                self.positions_fig.add_scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers", name=pop,
                                                 marker=dict(size=2, color=PALETTE[k % len(PALETTE)]))
