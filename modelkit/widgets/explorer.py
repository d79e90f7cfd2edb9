"""NetworkExplorer: a network's populations, types and their parameters, its layout in 3D, its connectivity,
and a run's spikes and reports.

Reads through the public API only (:meth:`modelkit.Network.load`, ``NodePopulation.get`` /
``node_types``, :func:`modelkit.sonata.type_params`, ``EdgePopulation`` properties,
:class:`~modelkit.analysis.SpikeTable`, :class:`~modelkit.sonata.CompartmentReport`, and the figures of
:mod:`modelkit.plotting.plotly`); property columns are read on demand when picked, and each figure tab
draws when first shown. Every view shows the code of what it shows (see :mod:`modelkit.widgets.explorer_views`).
"""

from __future__ import annotations

import glob
import html
import os
from typing import Any

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.sonata import CompartmentReport, Network, SimulationConfig, load_config, type_params
from modelkit.widgets._code import Call, Sym, code_html, network_prelude
from modelkit.widgets._deps import require
from modelkit.widgets.explorer_views import ActivityView, ConnectivityView, PositionsView

ipw = require("ipywidgets")
traitlets = require("traitlets")

__all__ = ["NetworkExplorer"]

#: rows of a table shown at most
MAX_ROWS = 50


def _table(df: pd.DataFrame) -> str:
    more = f"<div style='color:#888'>{len(df) - MAX_ROWS} more rows</div>" if len(df) > MAX_ROWS else ""
    return df.head(MAX_ROWS).to_html(classes="mk-table", border=0, float_format=lambda v: f"{v:.4g}") + more


def _browsable(names: list[str]) -> list[str]:
    """Properties offered in the picker: not ``dynamics_params``, whose values the parameters table shows."""
    return sorted(n for n in names if n != "dynamics_params")


def _describe(values: np.ndarray, name: str) -> str:
    """Summary of one property column: statistics for numbers, value counts for labels."""
    if values.dtype.kind in "iuf" and len(values):
        s = pd.Series(values, name=name).describe().to_frame().T
        return _table(s)
    counts = pd.Series(values, name=name).astype(str).value_counts().rename("count").to_frame()
    return _table(counts)


class NetworkExplorer(ipw.VBox):
    """Populations, types and parameters, 3D positions, connectivity and a run's activity and reports.

    Tabs: "Network" (populations, node/edge types with their ``dynamics_params`` as values, property
    summaries), "3D" (:class:`~modelkit.widgets.explorer_views.PositionsView`), "Connectivity"
    (:class:`~modelkit.widgets.explorer_views.ConnectivityView`), "Activity"
    (:class:`~modelkit.widgets.explorer_views.ActivityView`) and "Reports". Each view shows the code of what
    it shows (``explorer.positions.code``, ...); that code, run in a fresh interpreter, gives the same figure.

    Parameters
    ----------
    source : Network, str or PathLike
        A network, or a circuit/simulation config, folder or h5 file to load. With a simulation config
        whose output has spikes, the "Activity" tab shows them (raster and rates) and "Reports" lists them.
    max_points : int
        Nodes drawn at most in 3D; above it a seeded sample, said in the figure's title.

    Examples
    --------
    >>> ex = NetworkExplorer("config.simulation.json")          # doctest: +SKIP
    >>> ex.positions.color_by = "model_name"                     # doctest: +SKIP
    >>> ex.attach(simulate("config.simulation.json"))            # doctest: +SKIP
    """

    selected = traitlets.Unicode("", help="the population shown: 'nodes/<name>' or 'edges/<name>'").tag(sync=True)
    prop = traitlets.Unicode("", help="the property shown").tag(sync=True)
    code = traitlets.Unicode("", help="the code of the Network tab's parameter table (runs fresh)").tag(sync=True)

    #: tab titles, in order
    TABS = ("Network", "3D", "Connectivity", "Activity", "Reports")

    def __init__(self, source: Network | PathLike, *, max_points: int = 50_000) -> None:
        self.network: Network = source if isinstance(source, Network) else Network.load(source)
        cfg = self.network.config
        self.config: SimulationConfig | None = cfg if isinstance(cfg, SimulationConfig) else None
        if self.config is None and isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith(".json"):
            c = load_config(source)
            self.config = c if isinstance(c, SimulationConfig) else None
        self.params: pd.DataFrame | None = None
        options = [f"nodes/{n}" for n in self.network.nodes] + [f"edges/{n}" for n in self.network.edges]
        self.populations = ipw.Select(options=options, rows=min(12, max(4, len(options))),
                                      layout=ipw.Layout(width="260px"))
        self.details = ipw.HTML()
        self.details.add_class("mk-explorer-details")
        self.property_picker = ipw.Dropdown(options=[], description="property",
                                            style={"description_width": "initial"})
        self.property_view = ipw.HTML()
        self.property_view.add_class("mk-explorer-property")
        self.code_view = ipw.HTML()
        self.code_view.add_class("mk-explorer-code")
        browse = ipw.HBox([self.populations, ipw.VBox([self.details, self.property_picker, self.property_view,
                                                       self.code_view],
                                                      layout=ipw.Layout(margin="0 0 0 12px"))])
        self.positions = PositionsView(self.network, max_points=max_points)
        self.connectivity = ConnectivityView(self.network)
        self.activity = ActivityView(self.network, (self.config.path, self.config.output.spikes_file)
                                     if self.config is not None and self.config.path else None)
        self.reports = ipw.HTML()
        self.reports.add_class("mk-explorer-reports")
        self.tabs = ipw.Tab(children=[browse, self.positions, self.connectivity, self.activity, self.reports])
        for k, title in enumerate(self.TABS):
            self.tabs.set_title(k, title)
        super().__init__(children=[ipw.HTML(self._header()), self.tabs])
        self.add_class("mk-network-explorer")
        self.populations.observe(lambda c: setattr(self, "selected", c["new"] or ""), "value")
        self.property_picker.observe(lambda c: setattr(self, "prop", c["new"] or ""), "value")
        self.tabs.observe(self._tab_shown, "selected_index")
        self.reports.value = self._reports_html()
        spikes = self.config.output.spikes_file if self.config is not None else None
        if spikes and os.path.exists(spikes) and self.config is not None:
            self.activity.attach(self.config.path)
        if options:
            self.populations.value = options[0]
            self.selected = options[0]  # Select starts on its first option without a change event

    def show(self, tab: str) -> None:
        """Select a tab by title (``"3D"``, ``"Connectivity"``, ...); a figure tab draws when first shown.

        Raises
        ------
        ValueError
            An unknown title.
        """
        if tab not in self.TABS:
            raise ValueError(f"tab must be one of {self.TABS}, got {tab!r}")
        self.tabs.selected_index = self.TABS.index(tab)
        self._tab_shown({"new": self.tabs.selected_index})

    def _tab_shown(self, change: Any) -> None:
        view = self.tabs.children[change["new"]] if change["new"] is not None else None
        if isinstance(view, (PositionsView, ConnectivityView, ActivityView)) and not view.drawn:
            view.draw()

    def attach(self, run: Any) -> None:
        """Show a run's spikes in the "Activity" tab (raster and rates) and select it.

        Parameters
        ----------
        run : str, PathLike, RunResult or SpikeTable
            A simulation config (path), a spikes file, the result of :func:`modelkit.simulate` (anything with
            a ``spikes_file``) or a :class:`~modelkit.analysis.SpikeTable`.
        """
        self.activity.attach(run)
        self.tabs.selected_index = self.TABS.index("Activity")

    def _header(self) -> str:
        n = sum(len(p) for p in self.network.nodes.values())
        e = sum(len(p) for p in self.network.edges.values())
        return (f"<b>{html.escape(str(self.network.path or 'network'))}</b>: {len(self.network.nodes)} node "
                f"population(s), {n} nodes; {len(self.network.edges)} edge population(s), {e} edges")

    def _params_html(self, kind: str, name: str) -> str:
        """The types' ``dynamics_params`` as values (:func:`modelkit.sonata.type_params`), and its code."""
        call = Call("params", type_params, "", (Sym("net", self.network), name),
                    {} if kind == "nodes" else {"kind": "edges"})
        self.params = None
        self.code = "\n".join(["from modelkit.sonata import type_params", *network_prelude(self.network),
                                call.line]) + "\n"
        self.code_view.value = code_html(self.code)
        try:
            self.params = call.run()
        except Exception as e:  # a broken types table is reported, not raised in a callback
            return f"<span style='color:#b00'>{html.escape(f'{type(e).__name__}: {e}')}</span>"
        p = self.params
        if not p.shape[1]:
            return "<i>no dynamics parameters</i>"
        files = sorted({os.path.basename(v) for v in p.attrs["sources"].values() if v and v != "inline"})
        head = "<b>dynamics parameters</b>" + (f" (from {html.escape(', '.join(files))})" if files else "")
        errors = "".join(f"<div style='color:#b00'>type {t}: {html.escape(m)}</div>"
                         for t, m in p.attrs["errors"].items())
        return f"{head}<br>{_table(p)}{errors}"

    @traitlets.observe("selected")
    def _show_population(self, change: Any) -> None:
        kind, _, name = change["new"].partition("/")
        if kind == "nodes":
            pop = self.network.nodes[name]
            types = pop.node_types.drop(columns=["dynamics_params"], errors="ignore")
            counts = pd.Series(pop.type_counts(), name="nodes")
            types = types.join(counts.rename_axis(types.index.name), how="left")
            overrides = pop.dynamics_attribute_names
            per_node = (f"<br>per-node dynamics_params: {html.escape(', '.join(overrides))} (pick one below)"
                        if overrides else "")
            self.details.value = (f"<b>node population {html.escape(name)}</b>: {len(pop)} nodes, "
                                  f"positions: {'yes' if pop.has_positions() else 'no'}<br>{_table(types)}"
                                  f"{self._params_html(kind, name)}{per_node}")
            names = _browsable(pop.attribute_names) + [f"dynamics_params/{d}" for d in overrides]
        elif kind == "edges":
            pop = self.network.edges[name]
            self.details.value = (f"<b>edge population {html.escape(name)}</b>: {len(pop)} edges, "
                                  f"{html.escape(str(pop.source))} &rarr; {html.escape(str(pop.target))}<br>"
                                  f"{_table(self._edge_types(pop))}{self._params_html(kind, name)}")
            names = _browsable(pop.attribute_names)
        else:
            self.details.value, names = "", []
        self.property_picker.options = names
        self.property_picker.value = names[0] if names else None
        if not names:
            self.property_view.value = ""

    @staticmethod
    def _edge_types(pop: Any) -> pd.DataFrame:
        counts = pd.Series(pop.type_counts(), name="edges")
        if pop.types is None:
            return counts.to_frame()
        types = pop.types.to_frame().drop(columns=["dynamics_params"], errors="ignore")
        return types.join(counts.rename_axis(types.index.name), how="left")

    @traitlets.observe("prop")
    def _show_property(self, change: Any) -> None:
        kind, _, name = self.selected.partition("/")
        if not change["new"] or kind not in ("nodes", "edges"):
            return
        pop = (self.network.nodes if kind == "nodes" else self.network.edges)[name]
        try:
            if kind == "nodes" and change["new"].startswith("dynamics_params/"):
                p = change["new"].split("/", 1)[1]
                values = pop.dynamics_params(names=[p])[p].to_numpy()
            elif kind == "nodes":
                values = pop.get([change["new"]])[change["new"]].to_numpy()
            else:
                values = pd.concat([c[change["new"]] for c in pop.iter_chunks([change["new"]])]).to_numpy() \
                    if len(pop) else np.zeros(0)
            self.property_view.value = _describe(values, change["new"])
        except Exception as e:  # a property this reader cannot show is reported, not raised in a callback
            self.property_view.value = f"<span style='color:#b00'>{html.escape(f'{type(e).__name__}: {e}')}</span>"

    def _reports_html(self) -> str:
        cfg = self.config
        if cfg is None:
            return "<i>no simulation config: open the explorer on a simulation config to see its reports</i>"
        out = cfg.output.output_dir
        if not os.path.isdir(out):
            return f"<i>no output yet in <code>{html.escape(out)}</code></i>"
        parts = [f"output folder <code>{html.escape(out)}</code>"]
        if cfg.output.spikes_file and os.path.exists(cfg.output.spikes_file):
            from modelkit.analysis import SpikeTable
            try:
                st = SpikeTable.from_config(cfg.path)
                rates = st.rates(by="population")
                parts.append(f"<b>spikes</b> <code>{html.escape(os.path.basename(cfg.output.spikes_file))}</code>: "
                             f"{len(st)} spikes<br>{_table(pd.DataFrame(rates))}")
            except Exception as e:
                parts.append(f"<span style='color:#b00'>spikes: {html.escape(f'{type(e).__name__}: {e}')}</span>")
        for path in sorted(glob.glob(os.path.join(out, "*.h5"))):
            if cfg.output.spikes_file and os.path.samefile(path, cfg.output.spikes_file):
                continue
            try:
                rep = CompartmentReport(path)
                pops = ", ".join(html.escape(p) for p in rep.populations)
                parts.append(f"<b>report</b> <code>{html.escape(os.path.basename(path))}</code>: populations {pops}")
            except Exception as e:
                parts.append(f"<code>{html.escape(os.path.basename(path))}</code>: not a compartment report "
                             f"({html.escape(type(e).__name__)})")
        return "<br>".join(parts)
