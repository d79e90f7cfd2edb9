"""The Allen LGN cell models as columns of linear filter units.

A cell is one or two linear units (spatial Gaussian x temporal biphasic filter x
amplitude); its rate is ``sum_u max(0, L_u(t) + offset_u)`` in Hz.  bmtk's
``model_template`` names (schema ``lgnmodel``) map onto units as in FilterNet:

* ``sON_TF1`` ... ``tOFF_TF15`` (``<type>_<TF>``, or a bare ``<type>``, TF8): one unit,
  amplitude +1 for ON, -1 for OFF cells, offset = the cell's ``spont_fr`` or the
  spontaneous rate that the Allen recordings give the type and TF class;
* ``sONsOFF_001`` and ``sONtOFF_001``: an OFF dominant and an ON non-dominant subfield
  ``sf_sep`` degrees apart along ``tuning_angle``; the filters' delays are shifted to the
  measured latencies and the OFF amplitude is fixed by the measured peak rates (as bmtk);
  offsets ``spont / 2`` each;
* ``LGNOnOFFCell``: ON and OFF Gaussians (``sigma_on``, ``sigma_off``) sharing one temporal
  filter, amplitudes +-20, no offset.

Temporal parameters come from the node (``weights``/``kpeaks``/``delays`` or bmtk's other
column names) or the ``dynamics_params`` JSON (``opt_wts``, ``opt_kpeaks``, ``opt_delays``);
``spatial_size`` (degrees, 3 sigma) from the node or the JSON.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from modelkit.simulator.paramfiles import params_value, read_params_json
from modelkit.errors import ConfigError, UnknownModelError
from modelkit.simulator.filter.kernels import check_temporal, temporal_kernels, time_to_cross

__all__ = ["LGNUnits", "SPONTANEOUS_RATES", "KNOWN_MODELS", "build_units", "model_kind"]

#: Hz, the spontaneous rates of bmtk's cell_metrics (Allen LGN recordings), by type and TF class
SPONTANEOUS_RATES: dict[str, dict[str, float]] = {
    "sON": {"TF1": 5.2, "TF2": 3.533333333333333, "TF4": 8.25, "TF8": 1.7666666666666666,
            "TF15": 10.879999999999995},
    "sOFF": {"TF1": 3.95, "TF2": 4.5317777777777755, "TF4": 3.679074074074074, "TF8": 3.62, "TF15": 5.075},
    "tON": {"TF8": 2.6},
    "tOFF": {"TF1": 5.5, "TF2": 3.4095238095238303, "TF4": 3.9445502645502764, "TF8": 2.4377777777777867,
             "TF15": 1.050666666666664},
}
_TWO_SUB = {  # name -> (non-dominant latency ms, dominant latency ms, spont Hz, max OFF rate, max ON rate, gain)
    "sONsOFF": (121.0, 115.0, 4.0, 35.0, 21.0, 1.0),
    "sONtOFF": (93.5, 64.8, 5.5, 46.0, 31.0, 0.7),
}
KNOWN_MODELS = ("sON_TF1", "sON_TF2", "sON_TF4", "sON_TF8", "sON_TF15", "sOFF_TF1", "sOFF_TF2", "sOFF_TF4",
                "sOFF_TF8", "sOFF_TF15", "tON_TF8", "tOFF_TF1", "tOFF_TF2", "tOFF_TF4", "tOFF_TF8", "tOFF_TF15",
                "sONsOFF_001", "sONtOFF_001", "LGNOnOFFCell")


@dataclass
class LGNUnits:
    """Linear units of a population's cells, one row each (columns are arrays of length ``n_units``).

    Attributes
    ----------
    cell : int array
        Index of the unit's cell in ``node_ids``.
    node_ids : int array (n_cells,)
    x, y : float arrays
        Receptive-field centre (degrees; column and row coordinates of the stimulus).
    sigma_x, sigma_y : float arrays
        Gaussian standard deviation along columns and rows (degrees).
    rotation : float array
        Degrees.
    amplitude : float array
        Gain of the unit (+ ON, - OFF).
    offset : float array
        Hz added to the unit's linear response before rectification.
    weights, kpeaks, delays : float arrays (n_units, 2)
        Temporal filter parameters.
    model : object array (n_cells,)
        Model name of each cell.
    """

    cell: np.ndarray
    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sigma_x: np.ndarray
    sigma_y: np.ndarray
    rotation: np.ndarray
    amplitude: np.ndarray
    offset: np.ndarray
    weights: np.ndarray
    kpeaks: np.ndarray
    delays: np.ndarray
    model: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.cell)

    @property
    def n_cells(self) -> int:
        return len(self.node_ids)

    def temporal_kernels_ms(self) -> np.ndarray:
        """Every unit's temporal filter on a 1 ms lag grid (identical filters are built once)."""
        p = np.concatenate([self.weights, self.kpeaks, np.trunc(self.delays)], axis=1)
        uniq, inv = np.unique(p, axis=0, return_inverse=True)
        k = temporal_kernels(uniq[:, 0:2], uniq[:, 2:4], uniq[:, 4:6])
        return k[np.asarray(inv).ravel()]


def model_kind(template: Any) -> str:
    """``lgnmodel:tON_TF8`` -> ``tON_TF8``; an unknown schema or name raises UnknownModelError."""
    s = "" if template is None or (isinstance(template, float) and np.isnan(template)) else str(template)
    schema, _, name = s.rpartition(":")
    if schema and schema != "lgnmodel":
        raise UnknownModelError(f"model_template {s!r}: expected the lgnmodel schema ('lgnmodel:<type>'), "
                                f"known types: {', '.join(KNOWN_MODELS)}")
    return name


def _split(name: str) -> tuple[str, str]:
    parts = name.split("_")
    return (parts[0], "TF8") if len(parts) == 1 else (parts[0], parts[1])


def _read_params(value: Any, directory: str | None, where: str) -> dict:
    s = params_value(value, where)
    if isinstance(s, dict):
        return s
    if directory is None:
        raise ConfigError(None, where, f"a components directory (filter_models_dir) to find {s!r} in",
                          "none configured")
    path = os.path.normpath(s if os.path.isabs(s) else os.path.join(directory, s))
    return read_params_json(path)


def _pairs(df: pd.DataFrame, rows: np.ndarray, names: tuple[str, ...], pairs: tuple[tuple[str, str], ...],
           fallback: Any, where: str) -> np.ndarray:
    """A (len(rows), 2) parameter from a list-valued column, a pair of columns, or the JSON fallback."""
    for n in names:
        if n in df.columns:
            vals = df[n].to_numpy()[rows]
            if not all(_missing(v) for v in vals):
                return np.stack([_as_pair(v, f"{where}.{n}") for v in vals])
    for a, b in pairs:
        if a in df.columns and b in df.columns:
            return np.stack([df[a].to_numpy(float)[rows], df[b].to_numpy(float)[rows]], axis=1)
    if fallback is None:
        raise ConfigError(None, f"{where}.{names[0]}", f"the filter parameter {names[0]} (node column or "
                          f"dynamics_params {names[1] if len(names) > 1 else names[0]})", "absent")
    return np.tile(_as_pair(fallback, f"{where}.dynamics_params {names[0]}"), (len(rows), 1))


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _as_pair(v: Any, where: str) -> np.ndarray:
    if isinstance(v, str):
        try:
            v = ast.literal_eval(v)
        except (ValueError, SyntaxError) as e:
            raise ConfigError(None, where, "two numbers", repr(v)) from e
    a = np.asarray(v, dtype=float).ravel()
    if a.shape != (2,):
        raise ConfigError(None, where, "two numbers (one per bump of the biphasic filter)", repr(v))
    return a


def _column(df: pd.DataFrame, name: str, rows: np.ndarray, default: Any = None) -> np.ndarray | None:
    if name in df.columns:
        v = df[name].to_numpy()[rows]
        if not all(_missing(x) for x in v):
            return v
    return None if default is None else np.full(len(rows), default, dtype=object)


def _sigmas(df: pd.DataFrame, rows: np.ndarray, params: dict, where: str) -> tuple[np.ndarray, np.ndarray]:
    """bmtk's get_sigma: spatial_size (or sigma) in degrees covers 3 standard deviations."""
    v = _column(df, "spatial_size", rows)
    if v is None:
        v = _column(df, "sigma", rows)
    if v is None:
        p: Any = params.get("spatial_size", params.get("sigma"))
        v = np.full(len(rows), (1.0, 1.0) if p is None else p, dtype=object) if not np.isscalar(p) or p is None \
            else np.full(len(rows), float(cast(Any, p)))  # np.isscalar narrows p to more than float takes
    out = np.empty((len(rows), 2))
    for i, s in enumerate(v):
        if isinstance(s, str):
            s = ast.literal_eval(s)
        a = np.asarray(s, dtype=float).ravel()
        if a.size == 1:
            a = np.repeat(a, 2)
        if a.shape != (2,) or not np.isfinite(a).all() or (a < 0).any():
            raise ConfigError(None, f"{where}.spatial_size", "a non-negative size in degrees (or two)", repr(s))
        out[i] = a
    return out[:, 0] / 3.0, out[:, 1] / 3.0


def _float_col(df: pd.DataFrame, name: str, rows: np.ndarray, where: str, default: float | None = None
               ) -> np.ndarray:
    v = _column(df, name, rows)
    if v is None:
        if default is None:
            raise ConfigError(None, f"{where}.{name}", f"a node property {name}", "absent")
        return np.full(len(rows), float(default))
    a = np.asarray(v, dtype=float)
    if not np.isfinite(a).all():
        raise ConfigError(None, f"{where}.{name}", "finite numbers", "NaN or infinite values")
    return a


def build_units(df: pd.DataFrame, node_ids: np.ndarray, models_dir: str | None, where: str,
                rng: np.random.Generator) -> LGNUnits:
    """The linear units of a population's cells.

    Parameters
    ----------
    df : DataFrame
        One row per cell (node properties merged with node-type columns): ``model_template``,
        ``dynamics_params``, ``x``, ``y`` (degrees), ``spatial_size``, ...
    node_ids : int array
        The cells' node ids (row order of ``df``).
    models_dir : str or None
        ``components.filter_models_dir``, where ``dynamics_params`` files live.
    where : str
        Named in errors (file and population).
    rng : numpy Generator
        Draws the parameters bmtk draws unseeded (a missing ``tuning_angle``, ``jitter_lower``/
        ``jitter_upper`` factors), so the same seed gives the same cells.

    Raises
    ------
    UnknownModelError
        An unknown model_template (the message lists the known ones).
    ConfigError
        Missing or invalid parameters (the message names the node type and key).
    """
    n = len(df)
    if "model_template" not in df.columns and "pop_name" not in df.columns:
        raise ConfigError(None, f"{where}.model_template", "an lgnmodel:<type> model_template per node", "absent")
    templates = df["model_template"].to_numpy() if "model_template" in df.columns else np.full(n, None, object)
    kinds = np.array([model_kind(t) for t in templates], dtype=object)
    if "pop_name" in df.columns:  # bmtk: no model_template -> the node's pop_name names the model
        kinds = np.where(kinds == "", df["pop_name"].astype(str).to_numpy(), kinds)
    dyn = df["dynamics_params"].to_numpy() if "dynamics_params" in df.columns else np.full(n, None, dtype=object)
    ndp = df["non_dom_params"].to_numpy() if "non_dom_params" in df.columns else np.full(n, None, dtype=object)
    tids = df["node_type_id"].to_numpy() if "node_type_id" in df.columns else np.zeros(n, dtype=np.int64)
    parts: list[dict[str, np.ndarray]] = []
    keys = pd.DataFrame({"k": kinds, "d": [str(v) for v in dyn], "nd": [str(v) for v in ndp], "t": tids})
    for (kind, _, _, tid), grp in keys.groupby(["k", "d", "nd", "t"], sort=False):
        rows = grp.index.to_numpy()
        w = f"{where} node_type_id {tid} ({kind})"
        params = _read_params(dyn[rows[0]], models_dir, f"{w}.dynamics_params")
        parts.append(_units_of(str(kind), df, rows, params, ndp[rows[0]], models_dir, w, rng))
    cat = {k: np.concatenate([p[k] for p in parts]) if parts else np.empty(0) for k in (
        "cell", "x", "y", "sigma_x", "sigma_y", "rotation", "amplitude", "offset")}
    for k in ("weights", "kpeaks", "delays"):
        cat[k] = np.concatenate([p[k] for p in parts]) if parts else np.empty((0, 2))
    check_temporal(cat["weights"], cat["kpeaks"], cat["delays"], f"{where} temporal filter")
    order = np.argsort(cat["cell"], kind="stable")
    cat = {k: v[order] for k, v in cat.items()}
    cat["cell"] = cat["cell"].astype(np.int64)
    return LGNUnits(node_ids=np.asarray(node_ids, dtype=np.int64), model=kinds, **cat)


def _temporal(df: pd.DataFrame, rows: np.ndarray, params: dict, where: str, rng: np.random.Generator,
              non_dom: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if non_dom:
        w = _pairs(df, rows, ("weights_non_dom",), (("weight_non_dom_0", "weight_non_dom_1"),),
                   params.get("opt_wts"), where)
        k = _pairs(df, rows, ("kpeaks_non_dom",), (("kpeaks_non_dom_0", "kpeaks_non_dom_1"),),
                   params.get("opt_kpeaks"), where)
        d = _pairs(df, rows, ("delays_non_dom",), (("delay_non_dom_0", "delay_non_dom_1"),),
                   params.get("opt_delays"), where)
    else:
        w = _pairs(df, rows, ("weights", "opt_wts", "weights_dom"), (("weight_dom_0", "weight_dom_1"),),
                   params.get("opt_wts"), where)
        k = _pairs(df, rows, ("kpeaks", "opt_kpeaks", "kpeaks_dom"), (("kpeaks_dom_0", "kpeaks_dom_1"),),
                   params.get("opt_kpeaks"), where)
        d = _pairs(df, rows, ("delays", "opt_delays", "delays_dom"),
                   (("delays_dom_0", "delays_dom_1"), ("delay_dom_0", "delay_dom_1")), params.get("opt_delays"),
                   where)
    if "jitter_lower" in df.columns and "jitter_upper" in df.columns:
        lo = df["jitter_lower"].to_numpy(float)[rows][:, None]
        hi = df["jitter_upper"].to_numpy(float)[rows][:, None]
        w, k, d = (a * (rng.uniform(0.0, 1.0, a.shape) * (hi - lo) + lo) for a in (w, k, d))
    return w, k, d


def _units_of(kind: str, df: pd.DataFrame, rows: np.ndarray, params: dict, non_dom: Any, models_dir: str | None,
           where: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    m = len(rows)
    x = _float_col(df, "x", rows, where)
    y = _float_col(df, "y", rows, where)
    rot = _float_col(df, "spatial_rotation", rows, where, 0.0)
    one = np.ones(m)
    if kind == "LGNOnOFFCell":
        w, k, d = _temporal(df, rows, params, where, rng)
        s_on = _sigma_col(df, "sigma_on", rows, where)
        s_off = _sigma_col(df, "sigma_off", rows, where)
        return _stack([dict(x=x, y=y, sx=s_on[0], sy=s_on[1], rot=0 * one, amp=20.0 * one, off=0 * one, w=w, k=k, d=d),
                       dict(x=x, y=y, sx=s_off[0], sy=s_off[1], rot=0 * one, amp=-20.0 * one, off=0 * one, w=w, k=k,
                            d=d)], rows)
    base = kind.rsplit("_", 1)[0] if kind.endswith("_001") else kind
    if base in _TWO_SUB:
        lat_nd, lat_d, spont, max_off, max_on, gain = _TWO_SUB[base]
        nd_params = _read_params(non_dom, models_dir, f"{where}.non_dom_params")
        w_nd, k_nd, d_nd = _temporal(df, rows, nd_params, where, rng, non_dom=True)
        w_d, k_d, d_d = _temporal(df, rows, params, where, rng)
        d_nd, sum_nd = _shift_to_latency(w_nd, k_nd, d_nd, lat_nd, f"{where}.non_dom_params")
        d_d, sum_d = _shift_to_latency(w_d, k_d, d_d, lat_d, f"{where}.dynamics_params")
        amp_off = -gain * (max_off / max_on) * (sum_nd / sum_d) - (spont * (max_off - max_on)) / (max_on * sum_d)
        sx, sy = _sigmas(df, rows, params, where)
        sep = _float_col(df, "sf_sep", rows, where)
        if "jitter_lower" in df.columns and "jitter_upper" in df.columns:
            lo = df["jitter_lower"].to_numpy(float)[rows]
            hi = df["jitter_upper"].to_numpy(float)[rows]
            sep = sep * (rng.uniform(0.0, 1.0, m) * (hi - lo) + lo)
        ang = _column(df, "tuning_angle", rows)
        angle = rng.uniform(0.0, 360.0, m) if ang is None else np.asarray(ang, dtype=float)
        xn = x + np.cos(np.deg2rad(angle)) * sep
        yn = y + np.sin(np.deg2rad(angle)) * sep
        return _stack([dict(x=x, y=y, sx=sx, sy=sy, rot=rot, amp=amp_off, off=0.5 * spont * one, w=w_d, k=k_d,
                            d=d_d),
                       dict(x=xn, y=yn, sx=sx, sy=sy, rot=rot, amp=one, off=0.5 * spont * one, w=w_nd, k=k_nd,
                            d=d_nd)], rows)
    cell_type, tf = _split(kind)
    if "ON" not in cell_type and "OFF" not in cell_type:
        raise UnknownModelError(f"{where}: model_template lgnmodel:{kind} is not a known LGN model; expected one of "
                                f"{', '.join(KNOWN_MODELS)} (or <sON|sOFF|tON|tOFF>_<TF>)")
    spont_fr = _column(df, "spont_fr", rows)
    if spont_fr is None:
        table = SPONTANEOUS_RATES.get(cell_type, {})
        if tf not in table:
            raise UnknownModelError(f"{where}: no measured spontaneous rate for {cell_type} {tf} (known: "
                                    f"{ {k: sorted(v) for k, v in SPONTANEOUS_RATES.items()} }); expected a spont_fr "
                                    f"node property (Hz)")
        off = np.full(m, table[tf])
    else:
        off = np.asarray(spont_fr, dtype=float)
    amp = one if "ON" in cell_type else -one
    w, k, d = _temporal(df, rows, params, where, rng)
    sx, sy = _sigmas(df, rows, params, where)
    return _stack([dict(x=x, y=y, sx=sx, sy=sy, rot=rot, amp=amp, off=off, w=w, k=k, d=d)], rows)


def _sigma_col(df: pd.DataFrame, name: str, rows: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    v = _column(df, name, rows)
    if v is None:
        raise ConfigError(None, f"{where}.{name}", f"a node property {name} (degrees)", "absent")
    a = np.stack([np.resize(np.asarray(ast.literal_eval(s) if isinstance(s, str) else s, dtype=float), 2)
                  for s in v])
    return a[:, 0], a[:, 1]


def _shift_to_latency(w: np.ndarray, k: np.ndarray, d: np.ndarray, latency: float, where: str
                      ) -> tuple[np.ndarray, np.ndarray]:
    """bmtk's createOneUnitOfTwoSubunitFilter: delays moved so that the filter crosses zero at ``latency`` ms;
    also returns the filter's sum before the crossing."""
    kern = temporal_kernels(w, k, d, where)
    tc = time_to_cross(kern)
    total = np.array([kern[i, :c].sum() for i, c in enumerate(tc)])
    off = latency - tc
    if (off < 0).any():
        raise ConfigError(None, f"{where}.opt_delays", f"a filter that crosses zero before {latency} ms",
                          f"crossing at {int(tc[np.argmax(off < 0)])} ms")
    return d + off[:, None], total


def _stack(units: list[dict[str, Any]], rows: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("cell", "x", "y", "sigma_x", "sigma_y", "rotation",
                                                        "amplitude", "offset", "weights", "kpeaks", "delays")}
    for u in units:
        out["cell"].append(rows.astype(np.int64))
        for a, b in (("x", "x"), ("y", "y"), ("sigma_x", "sx"), ("sigma_y", "sy"), ("rotation", "rot"),
                     ("amplitude", "amp"), ("offset", "off")):
            out[a].append(np.broadcast_to(np.asarray(u[b], dtype=float), rows.shape).copy())
        for a, b in (("weights", "w"), ("kpeaks", "k"), ("delays", "d")):
            out[a].append(np.asarray(u[b], dtype=float))
    return {k: np.concatenate(v) for k, v in out.items()}
