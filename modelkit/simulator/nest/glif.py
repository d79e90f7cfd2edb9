"""Allen Cell Types GLIF parameter files -> NEST 3 ``glif_psc`` / ``glif_cond`` parameters.

Allen files are in SI units with fit coefficients (``coeffs``); NEST wants mV,
pA, pF, nS and ms, and switches the GLIF variants on with three flags.  Which
flags a file needs follows from its methods: a spike component of the threshold
(LIF-R), after-spike currents (LIF-ASC), a voltage component of the threshold
(LIF-R-ASC-A).  Files already in NEST form (``V_th``, ``g``, ...) pass through.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from modelkit.errors import ConfigError

__all__ = ["is_allen_glif", "convert_allen_glif", "legacy_glif", "DEFAULT_TAU_SYN"]

#: synaptic time constants (ms) of the four receptor ports, as the Allen V1 models use
DEFAULT_TAU_SYN = [5.5, 8.5, 2.8, 5.8]


_LEGACY = re.compile(r"^glif_lif(?P<r>_r)?(?P<asc>_asc)?(?P<a>_a)?_(?P<kind>psc|cond)$")


def legacy_glif(model: str) -> tuple[str, dict[str, bool]] | None:
    """NEST 2's GLIF model names (``glif_lif_r_asc_psc``, ...; still in bmtk's and the Allen V1
    models' node types) -> NEST 3's model (``glif_psc`` / ``glif_cond``) and its variant flags.

    Parameters
    ----------
    model : str
        A node type's ``model_template`` without its ``nest:`` prefix.

    Returns
    -------
    (str, dict) or None
        NEST 3's model and its flags, or None when ``model`` is no legacy GLIF name.
    """
    m = _LEGACY.match(model)
    if m is None or (m["a"] and not (m["r"] and m["asc"])):
        return None
    return f"glif_{m['kind']}", {"spike_dependent_threshold": bool(m["r"]), "after_spike_currents": bool(m["asc"]),
                                 "adapting_threshold": bool(m["a"])}


def is_allen_glif(params: dict) -> bool:
    """Whether a parameter dict is an Allen GLIF file (SI units, ``coeffs``) rather than NEST parameters.

    Parameters
    ----------
    params : dict
        A ``dynamics_params`` JSON's content.
    """
    return isinstance(params, dict) and "coeffs" in params and "El_reference" in params


def _method(params: dict, key: str) -> str:
    m = params.get(key) or {}
    return str(m.get("name", "none")) if isinstance(m, dict) else str(m)


def convert_allen_glif(params: dict, model: str = "glif_psc", path: str | None = None,
                       flags: dict[str, bool] | None = None) -> dict[str, Any]:
    """NEST parameters (with the variant flags) for an Allen GLIF file.

    Parameters
    ----------
    params : dict
        The Allen file's content.
    model : {"glif_psc", "glif_cond"}
        The NEST model (``tau_syn`` is added for ``glif_psc``).
    path : str, optional
        For error messages.
    flags : dict, optional
        The variant flags a legacy model name implies (:func:`legacy_glif`); default: read
        from the file's methods.

    Raises
    ------
    ConfigError
        A key the conversion needs is missing.
    """
    try:
        co = params["coeffs"]
        el_ref = params["El_reference"]
        out: dict[str, Any] = {
            "V_th": (co["th_inf"] * params["th_inf"] + el_ref) * 1e3,
            "g": co["G"] / params["R_input"] * 1e9,
            "E_L": (params["El"] + el_ref) * 1e3,
            "C_m": co["C"] * params["C"] * 1e12,
            "t_ref": params["spike_cut_length"] * params["dt"] * 1e3,
            "V_reset": el_ref * 1e3,
        }
        out["V_m"] = out["E_L"]  # start at rest, as bmtk does (NEST's default is -70 mV)
        threshold = _method(params, "threshold_dynamics_method")
        spike_th = threshold in ("spike_component", "three_components_exact", "three_components_forward")
        adapting = threshold in ("three_components_exact", "three_components_forward")
        amps = np.asarray(params.get("asc_amp_array") or [], dtype=float)
        asc = amps.size > 0 and _method(params, "AScurrent_dynamics_method") != "none"
        if flags is not None:
            spike_th, asc, adapting = (bool(flags["spike_dependent_threshold"]), bool(flags["after_spike_currents"]),
                                       bool(flags["adapting_threshold"]))
        out.update(spike_dependent_threshold=spike_th, after_spike_currents=asc, adapting_threshold=adapting)
        if spike_th:
            th = params["threshold_dynamics_method"]["params"]
            rs = params["voltage_reset_method"]["params"]
            out.update(th_spike_add=th["a_spike"] * 1e3, th_spike_decay=th["b_spike"] * 1e-3,
                       voltage_reset_fraction=rs["a"], voltage_reset_add=rs["b"] * 1e3)
        if asc:
            tau = np.asarray(params["asc_tau_array"], dtype=float)
            out.update(asc_init=list(np.asarray(params["init_AScurrents"], dtype=float) * 1e12),
                       asc_decay=list(1.0 / tau * 1e-3),
                       asc_amps=list(amps * np.asarray(co["asc_amp_array"], dtype=float) * 1e12))
            if spike_th:
                out["asc_r"] = [1.0] * len(tau)  # as bmtk: after-spike currents reset fully
        if adapting:
            th = params["threshold_dynamics_method"]["params"]
            out.update(th_voltage_index=th["a_voltage"] * co["a"] * 1e-3,
                       th_voltage_decay=th["b_voltage"] * co["b"] * 1e-3)
    except (KeyError, TypeError) as e:
        key = str(e.args[0]) if e.args else "?"
        raise ConfigError(path, key, f"the Allen GLIF parameter {key!r}", "absent or malformed") from e
    if model == "glif_psc":
        out["tau_syn"] = list(params.get("tau_syn", DEFAULT_TAU_SYN))
    return out
