"""ParamControls: sliders for a network's parameters, read as ``simulate``'s ``overrides``; the runs compared.

The controls are generated from :func:`modelkit.simulator.tunable_parameters` (node-type cell parameters,
edge-type weights and delays, input rates), grouped by section and target. Nothing is written: the changed
values are handed to a run as ``overrides={"node_types.LIF_exc.tau_m": 15.0, ...}``. :func:`rates_table`
and :func:`run_code` are the HTML table comparing runs and the code a run is equivalent to, as
:class:`~modelkit.widgets.RunPanel` shows them.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from modelkit.simulator import tunable_parameters
from modelkit.widgets._deps import require

ipw = require("ipywidgets")
traitlets = require("traitlets")

__all__ = ["ParamControls", "rates_table", "run_code", "css_name", "nest_common_defaults"]

_TITLES = {"node_types": "Cell parameters (node types)", "edge_types": "Synapses (edge types)",
           "inputs": "Inputs"}


def css_name(key: str) -> str:
    """The CSS class of a key's slider (``mk-param-node_types-LIF_exc-tau_m``): browser tests find it by it.

    Parameters
    ----------
    key : str
        An override key.
    """
    return "mk-param-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def nest_common_defaults(template: str) -> dict[str, float]:
    """NEST's defaults of the parameters users set most (``tau_m``, ``V_th``, ``C_m``, ...) of a ``nest:`` model.

    Read in a child process (the kernel never imports NEST) and cached on disk; ``{}`` for other templates,
    or when NEST cannot say. With them a node type built on NEST's defaults (no ``dynamics_params``) has
    sliders too.

    Parameters
    ----------
    template : str
        A node type's ``model_template`` (``"nest:iaf_psc_alpha"``).

    Returns
    -------
    dict of str to float
        Parameter -> NEST's default, in NEST's units (ms, mV, pF, pA).
    """
    if not template.startswith("nest:"):
        return {}
    from modelkit.widgets._builder_forms import _FIRST
    from modelkit.widgets.nest_model_params import nest_defaults
    try:
        found = nest_defaults(template[len("nest:"):])
    except Exception:  # noqa: BLE001 - NEST absent or no such model: the run says so; no sliders for it
        return {}
    return {k: float(found[k]) for k in _FIRST if k in found}


def _fmt(v: float) -> str:
    return f"{v:.6g}"


class ParamControls(ipw.VBox):
    """One slider per tunable parameter of a network, grouped (cells, synapses, inputs); ``overrides`` changed.

    Parameters
    ----------
    config : str, PathLike, SimulationConfig or dict, optional
        The simulation config whose network, cell parameter files and inputs are offered.
    network : Network, optional
        The network instead of the config's.
    parameters : sequence of str, optional
        Only these keys (default: all that :func:`~modelkit.simulator.tunable_parameters` lists).

    Attributes
    ----------
    table : pandas.DataFrame
        The parameters offered (:func:`~modelkit.simulator.tunable_parameters`).
    sliders : dict of str to FloatSlider
        The slider of each key.

    Examples
    --------
    >>> controls = ParamControls("config.simulation.json"); controls                 # doctest: +SKIP
    >>> simulate("config.simulation.json", overrides=controls.overrides)             # doctest: +SKIP
    """

    changed = traitlets.Dict(help="the keys whose value differs from the network's: {key: value}").tag(sync=True)

    def __init__(self, config: Any = None, *, network: Any = None, parameters: Sequence[str] | None = None) -> None:
        table = tunable_parameters(config, network=network, defaults=nest_common_defaults)
        if parameters is not None:
            unknown = sorted(set(parameters) - set(table.key))
            if unknown:
                from modelkit.errors import ModelkitError
                raise ModelkitError(f"ParamControls: no tunable parameter {unknown}; the network has "
                                    f"{sorted(table.key)}")
            table = table[table.key.isin(list(parameters))]
        self.table = table.reset_index(drop=True)
        self.sliders: dict[str, Any] = {}
        self._initial: dict[str, float] = {}
        sections = []
        titles = []
        for section in ("node_types", "edge_types", "inputs"):
            part = self.table[self.table.section == section]
            if not len(part):
                continue
            boxes = []
            for target, rows in part.groupby("target", sort=False):
                sliders = [self._slider(r) for r in rows.itertuples(index=False)]
                head = ipw.HTML(f"<b>{html.escape(str(target))}</b> <span style='color:#888;font-size:11px'>"
                                f"{html.escape(str(rows.description.iloc[0]))}</span>")
                boxes.append(ipw.VBox([head, ipw.GridBox(sliders, layout=ipw.Layout(
                    grid_template_columns="repeat(auto-fill, minmax(300px, 1fr))", grid_gap="0 12px"))]))
            sections.append(ipw.VBox(boxes))
            titles.append(f"{_TITLES[section]} ({len(part)})")
        self.accordion = ipw.Accordion(children=sections, selected_index=0 if sections else None)
        for k, t in enumerate(titles):
            self.accordion.set_title(k, t)
        self.reset_button = ipw.Button(description="Reset", icon="undo", tooltip="back to the network's values",
                                       layout=ipw.Layout(width="auto"))
        self.reset_button.on_click(lambda _b: self.reset())
        self.summary = ipw.HTML()
        self.summary.add_class("mk-param-summary")
        super().__init__(children=[self.accordion, ipw.HBox([self.reset_button, self.summary])])
        self.add_class("mk-param-controls")
        self._update()

    def _slider(self, row: Any) -> Any:
        unit = f" {row.unit}" if row.unit else ""
        s = ipw.FloatSlider(value=row.value, min=min(row.min, row.value), max=max(row.max, row.value),
                            step=row.step, description=f"{row.parameter}{unit}", continuous_update=False,
                            readout_format=".4g", tooltip=f"{row.key}: {row.description}",
                            style={"description_width": "90px"}, layout=ipw.Layout(width="300px"))
        s.add_class("mk-param")
        s.add_class(css_name(row.key))
        s.observe(lambda _c: self._update(), names="value")
        self.sliders[row.key] = s
        self._initial[row.key] = float(row.value)
        return s

    @property
    def overrides(self) -> dict[str, float]:
        """``{key: value}`` of the sliders moved from the network's values (``simulate``'s ``overrides``)."""
        return {k: float(s.value) for k, s in self.sliders.items() if abs(float(s.value) - self._initial[k]) > 1e-12}

    def set(self, values: Mapping[str, float]) -> None:
        """Move sliders (what dragging them does).

        Parameters
        ----------
        values : mapping of str to float
            ``{key: value}``, in the parameters' units.
        """
        for k, v in values.items():
            if k not in self.sliders:
                from modelkit.errors import ModelkitError
                raise ModelkitError(f"ParamControls: no slider {k!r}; have {sorted(self.sliders)}")
            self.sliders[k].value = float(v)

    def reset(self) -> None:
        """Every slider back to the network's value."""
        for k, s in self.sliders.items():
            s.value = self._initial[k]

    def describe(self, overrides: Mapping[str, float] | None = None) -> str:
        """Words for what ``overrides`` change: ``"LIF_exc tau_m 20 -> 15"`` (``"as built"`` for none).

        Parameters
        ----------
        overrides : mapping, optional
            Default: :attr:`overrides`.
        """
        ov = self.overrides if overrides is None else dict(overrides)
        if not ov:
            return "as built"
        rows = self.table.set_index("key")
        parts = []
        for k, v in ov.items():
            if k in rows.index:
                r = rows.loc[k]
                parts.append(f"{r.target} {r.parameter} {_fmt(r.value)} -> {_fmt(v)}")
            else:
                parts.append(f"{k} = {_fmt(v)}")
        return ", ".join(parts)

    def _update(self) -> None:
        self.changed = self.overrides
        n = len(self.changed)
        self.summary.value = ("<span style='color:#888'>no parameter changed</span>" if not n else
                              f"<span data-changed='{n}'>{n} changed: {html.escape(self.describe())}</span>")


def rates_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """HTML table of the mean firing rate per population (Hz) of each run, latest first.

    Parameters
    ----------
    runs : sequence of mapping
        ``{"label": str, "rates": {population: Hz} or None (not finished), "status": str}`` per run.
    """
    pops = sorted({p for r in runs for p in (r.get("rates") or {})})
    head = "".join(f"<th style='padding:2px 8px'>{html.escape(p)} (Hz)</th>" for p in pops)
    body = []
    for k, r in reversed(list(enumerate(runs))):
        rates = r.get("rates")
        cells = "".join(f"<td style='padding:2px 8px;text-align:right'>"
                        f"{rates[p]:.2f}</td>" if rates and p in rates else
                        f"<td style='padding:2px 8px;color:#888'>{html.escape(r.get('status', ''))}</td>"
                        for p in pops)
        body.append(f"<tr class='mk-rates-row' data-run='{k + 1}'><td style='padding:2px 8px'>{k + 1}</td>"
                    f"<td style='padding:2px 8px'>{html.escape(r['label'])}</td>{cells}</tr>")
    return (f"<table class='mk-rates-table' style='font-size:12px;border-collapse:collapse'><tr>"
            f"<th style='padding:2px 8px'>run</th><th style='padding:2px 8px;text-align:left'>parameters</th>"
            f"{head}</tr>{''.join(body)}</table>")


def _literal(v: Any) -> bool:
    """Whether ``repr(v)`` is Python code for ``v``."""
    if isinstance(v, (bool, int, float, str, type(None))):
        return True
    if isinstance(v, (list, tuple)):
        return all(_literal(x) for x in v)
    if isinstance(v, dict):
        return all(_literal(k) and _literal(x) for k, x in v.items())
    return False


def run_code(config: Any, *, cluster: bool, run_kwargs: Mapping[str, Any], overrides: Mapping[str, float],
             names: Mapping[str, str] | None = None) -> str:
    """The Python code a RunPanel's run is (``run_local(...)`` or ``run_on_cluster(...)``), to paste in a cell.

    Parameters
    ----------
    config : str, PathLike or object
        The panel's config (a path is written as its absolute path; anything else as ``config``).
    cluster : bool
        Whether the panel runs on a cluster (``cluster=rc``).
    run_kwargs : mapping
        The panel's other keywords (a value without a literal form is written by name).
    overrides : mapping
        The changed parameters.
    names : mapping of str to str, optional
        The Python names of the objects the code refers to, where the code that made them used others than
        ``config`` and each keyword's own name (``{"config": "sim_config", "network": "sim_network"}``).
    """
    names = dict(names or {})
    cfg = repr(os.path.abspath(os.fspath(config))) if isinstance(config, (str, os.PathLike)) else \
        names.get("config", "config")
    args = [cfg]
    if cluster:
        args.append("cluster=rc")
    for k, v in run_kwargs.items():
        args.append(f"{k}={os.fspath(v)!r}" if isinstance(v, os.PathLike) else
                    f"{k}={v!r}" if _literal(v) else f"{k}={names.get(k, k)}")
    if overrides:
        inner = ", ".join(f"{k!r}: {float(v)!r}" for k, v in overrides.items())
        args.append(f"overrides={{{inner}}}")
    fn = "run_on_cluster" if cluster else "run_local"
    return f"from modelkit.cluster import {fn}\nrun = {fn}({', '.join(args)})\nrun.wait()"
