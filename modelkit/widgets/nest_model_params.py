"""NEST's model defaults for the builder's parameter forms, read in a child process and cached on disk.

As for the model names (:mod:`modelkit.widgets.nest_model_names`), the notebook kernel never imports
NEST: one short-lived ``python -c "import nest ..."`` reads ``nest.GetDefaults`` of every neuron and
synapse model, keeps the numeric parameters a user sets (not NEST's bookkeeping: ids, threads, sizes,
recordables), and the result is cached per NEST version under ``$XDG_CACHE_HOME/modelkit`` and in memory.

The sign rule of a neuron model says how NEST tells an inhibitory input from an excitatory one:

* ``"weight"``: the sign of the weight. Current-based models (``iaf_psc_*``, ``aeif_psc_*``, ...) add the
  weight (pA, or mV for delta synapses) to the current; conductance-based models with one excitatory and
  one inhibitory conductance (``iaf_cond_*``, ``aeif_cond_alpha``, ``hh_cond_exp_traub``, ...) route a
  negative weight to the inhibitory conductance (``g_in``, reversal ``E_in``) with ``|weight|`` nS. An
  inhibitory population's weights are negative for both.
* ``"receptor"``: the synapse's ``receptor_type``. Models with several receptors, each with its own reversal
  potential (``*_cond_*_multisynapse``, ``glif_cond``, ``ht_neuron``, ``iaf_cond_alpha_mc``, ...), take
  positive weights only (NEST refuses negative ones: "Synaptic weights for conductance-based multisynapse
  models must be positive"); the receptor whose reversal is inhibitory makes the input inhibitory.
"""

from __future__ import annotations

import functools
from typing import Any

from modelkit.errors import BackendUnavailableError
from modelkit.widgets.nest_model_names import _child_json, _nest_version

__all__ = ["nest_defaults", "sign_rule", "conductance_based", "unit_of"]

_SCRIPT = r"""
import json, math, nest
SKIP = {"archiver_length", "elementsize", "global_id", "model_id", "thread", "thread_local_id", "vp", "t_spike",
        "post_trace", "Ca", "beta_Ca", "tau_Ca", "ignore_and_spike_interval", "ignore_and_spike_offset", "sizeof",
        "num_connections", "synapse_modelid", "weight", "delay", "n_receptors"}
def numbers(d):
    return {k: v for k, v in sorted(d.items()) if k not in SKIP and isinstance(v, (int, float))
            and not isinstance(v, bool) and math.isfinite(v)}
out = {"neuron": {}, "synapse": {}}
for m in nest.node_models:
    d = nest.GetDefaults(m)
    if d.get("element_type") != "neuron":
        continue
    receptors = {str(k): int(v) for k, v in dict(d.get("receptor_types") or {}).items()}
    rule = "receptor" if ("E_rev" in d or receptors) else "weight"
    out["neuron"][m] = {"params": numbers(d), "sign": rule, "receptor_types": receptors,
                        "conductance": "E_ex" in d or "E_rev" in d or "g_peak_AMPA" in d}
for m in nest.synapse_models:
    d = nest.GetDefaults(m)
    out["synapse"][m] = {"params": numbers(d), "weight": float(d.get("weight", 1.0)),
                         "delay": float(d.get("delay", 1.0))}
print("MODELKIT-NEST-PARAMS " + json.dumps(out))
"""

#: units of NEST's parameters, by name prefix (as NEST's model documentation gives them)
_UNITS = (("tau", "ms"), ("t_ref", "ms"), ("V_", "mV"), ("E_", "mV"), ("theta", "mV"), ("Delta_T", "mV"),
          ("C_m", "pF"), ("I_e", "pA"), ("g_", "nS"))


def unit_of(name: str) -> str:
    """The unit of a NEST parameter, guessed from its name as NEST names them ('' where unknown).

    Parameters
    ----------
    name : str
        A parameter of a NEST model (``"tau_m"``, ``"V_th"``, ``"C_m"``).

    Returns
    -------
    str
        ``"ms"``, ``"mV"``, ``"pF"``, ``"pA"``, ``"nS"`` or ``""``.

    Examples
    --------
    >>> unit_of("tau_m"), unit_of("V_th"), unit_of("C_m"), unit_of("lambda")
    ('ms', 'mV', 'pF', '')
    """
    return next((unit for prefix, unit in _UNITS if name.startswith(prefix)), "")


@functools.lru_cache(maxsize=None)
def _read(version: str, timeout: float) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = _child_json(_SCRIPT, "params", version, timeout,
                                                  "reading NEST's model defaults")
    return data


def _entry(model: str, kind: str, timeout: float) -> dict[str, Any]:
    if kind not in ("neuron", "synapse"):
        raise ValueError(f"nest_defaults(kind): expected 'neuron' or 'synapse', got {kind!r}")
    models = _read(_nest_version(), float(timeout))[kind]
    if model not in models:
        import difflib
        close = difflib.get_close_matches(model, list(models), n=5)
        raise BackendUnavailableError(f"NEST has no {kind} model {model!r}; close names: {close}")
    return models[model]


def nest_defaults(model: str, kind: str = "neuron", *, timeout: float = 120.0) -> dict[str, float]:
    """The numeric parameters of a NEST model and their defaults, without importing NEST in this process.

    Parameters
    ----------
    model : str
        A NEST model name (``"iaf_psc_alpha"``, ``"stdp_synapse"``), without the ``nest:`` prefix.
    kind : {"neuron", "synapse"}
    timeout : float
        Seconds the child process may take (s); its answer is cached on disk per NEST version.

    Returns
    -------
    dict of str to float
        Parameter -> default, sorted by name, in NEST's units (ms, mV, pF, pA, nS; see :func:`unit_of`).
        A synapse's ``weight`` and ``delay`` are not in it (the edge's ``syn_weight`` and ``delay`` set them).

    Raises
    ------
    BackendUnavailableError
        NEST is not installed or could not be imported, or has no such model (the message names close ones).
    ValueError
        ``kind`` is neither "neuron" nor "synapse".

    Examples
    --------
    >>> nest_defaults("iaf_psc_alpha")["tau_m"]        # doctest: +SKIP
    10.0
    """
    return dict(_entry(model, kind, timeout)["params"])


def sign_rule(model: str, *, timeout: float = 120.0) -> str:
    """How NEST tells inhibitory input from excitatory for a neuron model (see the module's text).

    Parameters
    ----------
    model : str
        A NEST neuron model name (``"iaf_psc_alpha"``).
    timeout : float
        As in :func:`nest_defaults` (s).

    Returns
    -------
    str
        ``"weight"`` (an inhibitory population's weights are negative) or ``"receptor"`` (weights are
        positive; the synapse's ``receptor_type`` picks an inhibitory receptor).

    Raises
    ------
    BackendUnavailableError
        As :func:`nest_defaults`.

    Examples
    --------
    >>> sign_rule("iaf_psc_alpha"), sign_rule("aeif_cond_alpha_multisynapse")    # doctest: +SKIP
    ('weight', 'receptor')
    """
    return str(_entry(model, "neuron", timeout)["sign"])


def conductance_based(model: str, *, timeout: float = 120.0) -> bool:
    """Whether a NEST neuron model's synapses are conductances (weights in nS) rather than currents (pA).

    Parameters
    ----------
    model : str
        A NEST neuron model name.
    timeout : float
        As in :func:`nest_defaults` (s).

    Returns
    -------
    bool
        True for models with reversal potentials (``E_ex``, ``E_rev``, ``ht_neuron``'s receptors).

    Raises
    ------
    BackendUnavailableError
        As :func:`nest_defaults`.

    Examples
    --------
    >>> conductance_based("iaf_cond_alpha"), conductance_based("iaf_psc_alpha")    # doctest: +SKIP
    (True, False)
    """
    return bool(_entry(model, "neuron", timeout)["conductance"])
