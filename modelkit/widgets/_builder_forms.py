"""The BuilderPanel's parameter forms: fields from NEST's model defaults, and the sign rule of weights.

A :class:`ParamGrid` holds one number field per parameter of a model (from
:func:`~modelkit.widgets.nest_model_params.nest_defaults`, read in a child process), laid out in a grid
that wraps to the width it is given; :attr:`ParamGrid.changed` is what the generated code passes as
``dynamics_params`` (only the values that differ from NEST's defaults, so the code stays short and
NEST's defaults stay NEST's). :func:`sign_warning` says when a weight's sign contradicts NEST's rule for
the target model (see :mod:`modelkit.widgets.nest_model_params`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from modelkit.widgets._deps import require

ipw = require("ipywidgets")

__all__ = ["ParamGrid", "sign_warning", "neuron_info"]

#: the parameters a user sets most, shown first (NEST lists them alphabetically)
_FIRST = ("V_th", "V_reset", "E_L", "tau_m", "C_m", "t_ref", "I_e", "tau_syn_ex", "tau_syn_in", "E_ex", "E_in",
          "g_L", "V_m")


class ParamGrid(ipw.VBox):
    """Number fields for a model's parameters, in a grid that wraps (no horizontal overflow).

    Parameters
    ----------
    title : str
        Shown above the fields.
    css : str
        CSS class of the box (the browser tests find the fields by ``mk-param-<name>`` inside it).
    cell : str
        Least width of a field (label and number), CSS; wider for values with many digits (an Allen fit's
        ``gbar`` of ``0.0012021154978800002`` S/cm² is cut, not rounded, by a narrow field).
    """

    def __init__(self, title: str, css: str, cell: str = "170px") -> None:
        self.title = ipw.HTML()
        self.grid = ipw.GridBox(layout=ipw.Layout(grid_template_columns=f"repeat(auto-fill, minmax({cell}, 1fr))",
                                                  grid_gap="2px 8px", width="100%"))
        super().__init__(children=[self.title, self.grid], layout=ipw.Layout(width="100%"))
        self.add_class(css)
        self._title = title
        self.defaults: dict[str, float] = {}
        self.fields: dict[str, Any] = {}

    def set_defaults(self, defaults: Mapping[str, float], units: Mapping[str, str], note: str = "",
                     origin: str = "NEST's default") -> None:
        """Show one field per parameter, set to its default (the common parameters first).

        Parameters
        ----------
        defaults : mapping of str to float
            Parameter -> default value (NEST's units).
        units : mapping of str to str
            Parameter -> unit shown after its name ("ms", "mV"; "" for none).
        note : str
            A line shown under the title (why there are no fields, ...).
        origin : str
            What the default is, in each field's tooltip ("NEST's default", "the file's value").
        """
        order = [k for k in _FIRST if k in defaults] + [k for k in defaults if k not in _FIRST]
        self.defaults = {k: defaults[k] for k in order}
        self.fields = {}
        for k in order:
            v = defaults[k]
            cls = ipw.IntText if isinstance(v, int) and not isinstance(v, bool) else ipw.FloatText
            unit = units.get(k, "")
            # labels share 55% of the cell (a long name ends in an ellipsis, the tooltip has it whole)
            w = cls(value=v, description=f"{k} ({unit})" if unit else k, style={"description_width": "55%"},
                    tooltip=f"{k}: {origin} {v!r}", layout=ipw.Layout(width="auto", min_width="0"))
            w.add_class("mk-param-" + "".join(c if c.isalnum() or c in "_-" else "-" for c in k))
            self.fields[k] = w
        self.grid.children = list(self.fields.values())
        self.title.value = f"<i>{html.escape(self._title)}</i>" + (
            f" <span style='color:#888'>{html.escape(note)}</span>" if note else "")

    @property
    def changed(self) -> dict[str, float]:
        """Parameters whose field differs from the default: what goes into ``dynamics_params``."""
        return {k: w.value for k, w in self.fields.items() if w.value != self.defaults[k]}


def neuron_info(model: str) -> tuple[dict[str, float], str | None, str]:
    """``(defaults, sign rule, note)`` of a NEST neuron model; empty defaults and a note if NEST cannot say.

    Parameters
    ----------
    model : str
        NEST model name.

    Returns
    -------
    tuple
        Parameter defaults, ``"weight"``/``"receptor"`` (None when unknown), and a note for the form.
    """
    from modelkit.widgets.nest_model_params import nest_defaults, sign_rule
    try:
        return nest_defaults(model), sign_rule(model), ""
    except Exception as e:  # NEST absent or broken: no form, and NEST complains at run time
        return {}, None, f"no defaults: {e}".splitlines()[0]


def sign_warning(source: str, source_ei: str | None, targets: Iterable[tuple[str, str | None]],
                 weight: float) -> str:
    """Why ``weight`` has the wrong sign for edges from ``source`` (a NEST rule), or '' when it is right.

    Parameters
    ----------
    source : str
        The source's ``pop_name``.
    source_ei : str or None
        Its ``ei`` (``"i"`` marks it inhibitory).
    targets : iterable of (str, str or None)
        ``(model, sign rule)`` of the target's NEST models (:func:`neuron_info`).
    weight : float
        The edges' ``syn_weight`` (pA or nS, as NEST reads it for the target model).

    Returns
    -------
    str
        A warning for the form ('' if none).
    """
    for model, rule in targets:
        if rule == "weight" and source_ei == "i" and weight > 0:
            return (f"{source!r} is inhibitory (ei='i') but syn_weight={weight:g} is positive: NEST's {model} "
                    f"reads a positive weight as excitatory; an inhibitory population's weights are negative")
        if rule == "receptor" and weight < 0:
            return (f"NEST's {model} takes positive weights only (a receptor_type with an inhibitory reversal "
                    f"potential makes the input inhibitory); syn_weight={weight:g} fails when the run starts")
    return ""
