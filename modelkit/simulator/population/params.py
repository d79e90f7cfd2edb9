"""Model templates and parameters of population nodes (``model_type: population``).

Templates (``model_template``, an optional ``modelkit:`` / ``population:`` prefix is accepted):

* ``lif_density`` (also ``density``, ``lif``): the LIF population density, NEST-style
  parameters in ms, mV, pA and pF (``tau_m``, ``V_th``, ``V_reset``, ``E_L``, ``t_ref``,
  ``C_m``, ``I_e``, ``V_m``; grid ``v_min``, ``dv``); incoming ``syn_weight`` is the
  jump of the membrane potential per spike (mV), as ``iaf_psc_delta``'s weight.
* ``dipde:Internal`` (bmtk PopNet's DiPDE populations): the same density with DiPDE's
  SI parameters (``tau_m`` in s; ``v_min``, ``v_max`` (threshold), ``dv`` in V; reset
  and rest at 0 V, no refractory period); incoming ``syn_weight`` in V and ``delay``
  in s, as DiPDE reads them.  Converted to ms/mV here.
* ``wilson_cowan`` (also ``wc``): a rate population (``tau``, ``r_max``, ``theta``,
  ``gain``, ``transfer``, ``I_ext``, ``r0``); incoming ``syn_weight x nsyns`` multiplies
  the source rate (Hz).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkit.errors import ConfigError, UnknownModelError
from modelkit.simulator.paramfiles import finite_float, params_value, read_params_json

__all__ = ["TEMPLATES", "PopulationModel", "resolve_template", "load_params", "model_parameters"]

#: accepted model_template names -> (kind, SI units)
TEMPLATES: dict[str, tuple[str, bool]] = {
    "lif_density": ("density", False),
    "density": ("density", False),
    "lif": ("density", False),
    "dipde:internal": ("density", True),
    "wilson_cowan": ("wilson_cowan", False),
    "wilson-cowan": ("wilson_cowan", False),
    "wc": ("wilson_cowan", False),
}
_PREFIXES = ("modelkit:", "population:", "popnet:")

#: parameters of each kind and their defaults (ms, mV, pA, pF, Hz)
DENSITY_DEFAULTS: dict[str, float | None] = {
    "tau_m": 20.0, "V_th": -50.0, "V_reset": None, "E_L": -70.0, "t_ref": 2.0, "C_m": 250.0, "I_e": 0.0,
    "V_m": None, "v_min": None, "dv": 0.01}
WC_DEFAULTS: dict[str, Any] = {"tau": 10.0, "r_max": 100.0, "theta": 20.0, "gain": 0.2, "transfer": "sigmoid",
                               "I_ext": 0.0, "r0": 0.0}
#: keys of DiPDE parameter files that have no effect here
_DIPDE_IGNORED = {"record", "update_method", "approx_order", "tol", "norm", "initial_firing_rate", "p0",
                  "metadata"}
_DIPDE_KEYS = {"tau_m", "v_min", "v_max", "dv"}


@dataclass
class PopulationModel:
    """One population node's model: its kind, parameters in ms/mV, and the scale of its incoming edges."""

    kind: str
    params: dict = field(default_factory=dict)
    weight_scale: float = 1.0  # syn_weight -> mV (1000 for DiPDE's volts)
    delay_scale: float = 1.0   # delay -> ms (1000 for DiPDE's seconds)


def resolve_template(template: Any, where: str) -> tuple[str, bool]:
    """``(kind, si_units)`` of a model_template; a missing template is ``lif_density``.

    Raises
    ------
    UnknownModelError
        An unknown template (the message names the node type and lists the known ones).
    """
    if template is None or (isinstance(template, float) and np.isnan(template)) or str(template) in ("", "None"):
        return TEMPLATES["lif_density"]
    s = str(template).strip()
    key = s.lower()
    for pre in _PREFIXES:
        if key.startswith(pre):
            key = key[len(pre):]
    if key not in TEMPLATES:
        raise UnknownModelError(f"{where}: model_template: expected a population model "
                                f"({', '.join(sorted({'lif_density', 'wilson_cowan', 'dipde:Internal'}))}), "
                                f"found {s!r}")
    return TEMPLATES[key]


_read_json = read_params_json


def load_params(value: Any, directories: list[str], where: str) -> dict:
    """Parameters named by a ``dynamics_params`` value: a JSON file (looked up in ``directories``), an inline
    JSON object, or nothing.

    Raises
    ------
    ConfigError
        A file found in none of the directories (the message lists where it was looked for) or not a JSON object.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) in ("", "None", "NULL"):
        return {}
    s = params_value(value, f"{where}: dynamics_params")
    if isinstance(s, dict):
        return s
    candidates = [s] if os.path.isabs(s) else [os.path.join(d, s) for d in directories]
    for c in candidates:
        if os.path.isfile(c):
            return dict(_read_json(os.path.normpath(c)))
    raise ConfigError(None, f"{where}: dynamics_params",
                      "a JSON file in components.population_models_dir (or models_dir)",
                      f"{s!r}, looked for: {candidates or 'no components directory configured'}")


def _numbers(params: dict, names: Any, where: str) -> dict:
    out: dict[str, float | None] = {}
    for k in names:
        v = params.get(k)
        if v is None:
            out[k] = None
            continue
        out[k] = finite_float(v, f"{where}: dynamics_params.{k}")
    return out


def model_parameters(kind: str, si_units: bool, params: dict, where: str) -> PopulationModel:
    """Validated parameters (ms, mV, Hz) of one population, defaults filled in.

    Raises
    ------
    ConfigError
        An unknown parameter name (the accepted ones are listed) or a non-numeric value.
    """
    if kind == "density" and si_units:
        unknown = sorted(set(params) - _DIPDE_KEYS - _DIPDE_IGNORED)
        if unknown:
            raise ConfigError(None, f"{where}: dynamics_params", f"DiPDE parameters ({sorted(_DIPDE_KEYS)}, in s "
                              f"and V)", f"unknown {unknown}")
        p = _numbers({**{"tau_m": 0.02, "v_min": -0.1, "v_max": 0.02, "dv": 1e-4}, **params}, _DIPDE_KEYS, where)
        return PopulationModel("density", {"tau_m": p["tau_m"] * 1e3, "V_th": p["v_max"] * 1e3, "V_reset": 0.0,
                                           "E_L": 0.0, "t_ref": 0.0, "C_m": 250.0, "I_e": 0.0, "V_m": 0.0,
                                           "v_min": p["v_min"] * 1e3, "dv": p["dv"] * 1e3},
                               weight_scale=1e3, delay_scale=1e3)
    defaults: dict[str, Any] = DENSITY_DEFAULTS if kind == "density" else WC_DEFAULTS
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ConfigError(None, f"{where}: dynamics_params", f"parameters of a {kind} population "
                          f"({', '.join(defaults)})", f"unknown {unknown}")
    merged = {**defaults, **params}
    if kind == "wilson_cowan":
        out = _numbers(merged, [k for k in defaults if k != "transfer"], where)
        out["transfer"] = str(merged["transfer"])
        return PopulationModel(kind, out)
    out = _numbers(merged, defaults, where)
    if out["V_reset"] is None:
        out["V_reset"] = out["E_L"]
    return PopulationModel(kind, out)
