"""Synapses from edge columns: weights, synaptic models, placement on sections.

Per edge type the columns are read once; per target cell the synapse locations are
drawn from an RNG seeded by (run seed, target gid), so placement does not depend on
the order cells are built in or on how they are spread over ranks.
"""

from __future__ import annotations

import ast
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.errors import ConfigError, UnknownModelError
from modelkit.simulator.named_functions import call_weight_function, get_weight_function
from modelkit.simulator.neuron.biophysics import SECTION_ALIASES, SECTION_TYPES, read_json
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.paramfiles import params_value
from modelkit.sonata.simcheck import attribute_file  # NaN in a types CSV: name the CSV

if TYPE_CHECKING:
    from modelkit.sonata import EdgePopulation, Network

__all__ = ["edge_weights", "synapse_class", "synapse_settings", "make_synapses",
           "parse_sections", "parse_range", "segment_candidates"]


def is_null(v: object) -> bool:
    """Whether an edge column's value means "not given": None, NaN, ``""``, ``"NULL"`` or ``"None"``.

    Parameters
    ----------
    v : object
        A value of an edge group column or of an edge-types CSV cell.
    """
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and v in ("", "NULL", "None"))


def edge_weights(network: Network, epop: EdgePopulation, cols: dict[str, np.ndarray], source_ids: np.ndarray,
                 target_ids: np.ndarray, edge_ids: np.ndarray, where: str,
                 node_frames: dict[str, pd.DataFrame] | None = None) -> np.ndarray:
    """Weight of each synapse of one edge type: its ``weight_function`` or ``syn_weight``.

    Parameters
    ----------
    network : Network
        The circuit (node tables the weight functions read).
    epop : EdgePopulation
        The edges' population (named in errors).
    cols : dict
        The edge type's columns: arrays per edge, or of length 1 for a value the edge-types
        table holds.
    source_ids, target_ids, edge_ids : numpy.ndarray
        The edges, in the order of the weights returned.
    where : str
        The edge file and type, named in errors.
    node_frames : dict, optional
        Caches the node tables weight functions read, across edge types.

    Raises
    ------
    ConfigError
        No ``syn_weight`` and no weight function, or a function returning the wrong shape.
    """
    n = len(edge_ids)
    name = cols["weight_function"][0] if "weight_function" in cols else None
    fn = None if is_null(name) else get_weight_function(str(name))
    if fn is not None:  # user functions see DataFrames, as bmtk's do
        return call_weight_function(str(name), fn, network, epop, source_ids, target_ids, edge_ids, where, node_frames)
    if "syn_weight" not in cols:
        raise ConfigError(epop.path, f"{where}: syn_weight", "a syn_weight (edge group or edge-types CSV)", "none")
    w = np.broadcast_to(np.asarray(cols["syn_weight"], dtype=float), (n,))
    if np.isnan(w).any():
        raise ConfigError(attribute_file(epop, "syn_weight"), f"{where}: syn_weight", "a syn_weight for every edge",
                          "NULL")
    return w


def synapse_params(value: object, directory: str | None, path: PathLike | None, where: str) -> dict:
    """The synaptic-model parameters an edge type names (a JSON file in ``synaptic_models_dir``).

    Parameters
    ----------
    value : object
        The edge type's ``dynamics_params``: a file name, a dict of parameters, or a null value (``{}``).
    directory : str or None
        ``components.synaptic_models_dir``, for relative file names.
    path : PathLike or None
        The edge file, named in errors.
    where : str
        The edge population and type, named in errors.

    Raises
    ------
    ConfigError
        The JSON file does not exist.
    """
    if is_null(value):
        return {}
    value = params_value(value, f"{where}: dynamics_params")  # a dict, or its text as a builder saves it
    if isinstance(value, dict):
        return value
    name = value
    full = name if os.path.isabs(name) or directory is None else os.path.join(directory, name)
    if not os.path.exists(full):
        raise ConfigError(path, f"{where}: dynamics_params", "a JSON file in components.synaptic_models_dir",
                          full)
    return read_json(full)


#: bmtk's built-in synapse models (bionet/default_setters/synapse_models.py), by ``model_template``: the point
#: process and the (attribute, synaptic-model JSON key) pairs bmtk sets -- only those (stp2syn's ``a_FDR`` stays
#: the mechanism's default, as in bmtk)
BMTK_SYNAPSES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "exp2syn": ("Exp2Syn", (("e", "erev"), ("tau1", "tau1"), ("tau2", "tau2"))),
    "Exp2Syn": ("Exp2Syn", (("e", "erev"), ("tau1", "tau1"), ("tau2", "tau2"))),
    "expsyn": ("ExpSyn", (("e", "erev"), ("tau", "tau1"))),
    "exp1syn": ("exp1syn", (("e", "erev"), ("tau", "tau_1"))),
    "exp1isyn": ("exp1isyn", (("e", "erev"), ("tau", "tau_1"))),
    "stp2syn": ("stp2syn", (("e", "erev"), ("p0", "p0"), ("tau_r0", "tau_r0"), ("tau_FDR", "tau_FDR"),
                            ("tau_1", "tau_1"))),
    "stp5syn": ("stp5syn", (("e", "erev"), ("tau_1", "tau_1"), ("tau_r0", "tau_r0"), ("tau_FDR", "tau_FDR"),
                            ("a_FDR", "a_FDR"), ("a_D", "a_D"), ("a_i", "a_i"), ("a_f", "a_f"),
                            ("pbtilde", "pbtilde"))),
    "tmgsyn": ("tmgsyn", (("e", "erev"), ("tau_1", "tau_1"), ("tau_rec", "tau_rec"), ("tau_facil", "tau_facil"),
                          ("U", "U"), ("u0", "u0"))),
}


def synapse_class(h: HocObject, template: str, path: PathLike | None, where: str,
                  note: str = "") -> tuple[str, HocObject]:
    """The NEURON point process an edge type's ``model_template`` names: one of bmtk's built-in synapse models
    (:data:`BMTK_SYNAPSES`: ``exp2syn``, ``expsyn`` = ``ExpSyn``, ``stp2syn``, ...) or a mechanism by name.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    template : str
        The edge type's ``model_template``.
    path, where
        See :func:`synapse_params`.
    note : str
        Where the mechanisms were looked for; ends the error message.

    Returns
    -------
    (str, HocObject)
        The point process's name and its class in ``h``.

    Raises
    ------
    UnknownModelError
        No such point process in NEURON.
    """
    name = "Exp2Syn" if template.lower() == "exp2syn" else BMTK_SYNAPSES.get(template, (template,))[0]
    cls = getattr(h, name, None) if name.isidentifier() else None
    if cls is None:
        raise UnknownModelError(f"{path}: {where}: model_template {template!r}: NEURON has no point process of "
                                f"that name (compile it from components.mechanisms_dir)"
                                + (f"; {note}" if note else ""))
    return name, cls


def synapse_settings(name: str, params: dict, probe: HocObject,
                     template: str | None = None) -> list[tuple[str, float]]:
    """The (attribute, value) pairs of a synaptic-model JSON that a point process of kind ``name`` gets.

    For bmtk's built-in models (``template`` in :data:`BMTK_SYNAPSES`) the attributes bmtk sets, from its keys
    (``erev`` -> ``e`` mV, ``tau1`` -> ``tau`` for ``expsyn``, ...); for other point processes every numeric key
    it has as an attribute, ``erev`` as ``e`` where it has no ``erev`` (bmtk's naming); keys it lacks are ignored.

    Parameters
    ----------
    name : str
        The point process's name (``Exp2Syn``, ...).
    params : dict
        The synaptic-model JSON (``erev`` mV, ``tau1``/``tau2`` ms, ...).
    probe : HocObject
        One point process of that kind, asked which attributes it has.
    template : str, optional
        The edge type's ``model_template`` (selects bmtk's rule for a built-in model).
    """
    rule = BMTK_SYNAPSES.get(template or "") or (BMTK_SYNAPSES["exp2syn"] if name == "Exp2Syn" else None)
    out = []
    if rule is not None and rule[0] == name:
        for attr, key in rule[1]:
            v = params.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and hasattr(probe, attr):
                out.append((attr, float(v)))
        return out
    for k, v in params.items():
        if k in ("level_of_detail", "sign") or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        attr = "e" if (k == "erev" and not hasattr(probe, "erev")) else k
        if attr.isidentifier() and hasattr(probe, attr):
            out.append((attr, float(v)))
    return out


#: hoc procedures that make point processes of one kind, set their parameters and connect them, by
#: (kind, attribute names)
_MAKE_PROCS: dict[tuple[str, tuple[str, ...]], str] = {}


def make_synapses(h: HocObject, pc: HocObject, name: str, settings: list[tuple[str, float]],
                  sections: list[HocObject], sec_index: np.ndarray, x: np.ndarray, src_gid: np.ndarray,
                  weight: np.ndarray, delay: np.ndarray) -> tuple[HocObject, HocObject]:
    """Point processes of kind ``name``, synapse i at ``sections[sec_index[i]](x[i])``, with the parameters
    ``settings``, connected to source gid ``src_gid[i]`` with ``weight[i]`` (µS) and ``delay[i]`` (ms).

    One generated hoc loop makes, sets and connects them all: per synapse, Python would make ~8 calls into
    hoc (the segment, the point process, its parameters, the NetCon and its fields), which cost 5x more
    than the loop does.

    Parameters
    ----------
    h, pc : HocObject
        NEURON's ``h`` and the run's ParallelContext.
    name : str
        The point process.
    settings : list of (str, float)
        Attributes every synapse gets (see :func:`synapse_settings`).
    sections : list of HocObject
        The target cell's sections.
    sec_index : numpy.ndarray of int
        Section of each synapse (index into ``sections``).
    x : numpy.ndarray of float
        Position of each synapse along its section (0-1).
    src_gid : numpy.ndarray of int
        Source gid of each synapse.
    weight : numpy.ndarray of float
        NetCon weights (µS).
    delay : numpy.ndarray of float
        NetCon delays (ms).

    Returns
    -------
    (hoc List, hoc List)
        The point processes and their NetCons, in the order given.
    """
    names = tuple(a for a, _ in settings)
    proc = _MAKE_PROCS.get((name, names))
    if proc is None:
        proc = f"modelkit_make_synapses_{len(_MAKE_PROCS)}"
        sets = "\n".join(f"    syn.{a} = $o4.x[{k}]" for k, a in enumerate(names))
        h(f"""proc {proc}() {{ local i  localobj syn, nc
  for i = 0, $o2.size - 1 {{
    $o1.o($o2.x[i]).sec {{ syn = new {name}($o3.x[i]) }}
{sets}
    nc = $o8.gid_connect($o5.x[i], syn)
    nc.weight = $o6.x[i]
    nc.delay = $o7.x[i]
    $o9.append(syn)
    $o10.append(nc)
  }}
}}""")
        _MAKE_PROCS[(name, names)] = proc
    refs = h.List()
    for sec in sections:
        refs.append(h.SectionRef(sec=sec))
    syns, ncs = h.List(), h.List()
    getattr(h, proc)(refs, h.Vector(np.asarray(sec_index, dtype=float)), h.Vector(np.asarray(x, dtype=float)),
                     h.Vector([v for _, v in settings]), h.Vector(np.asarray(src_gid, dtype=float)),
                     h.Vector(np.asarray(weight, dtype=float)), h.Vector(np.asarray(delay, dtype=float)), pc, syns,
                     ncs)
    return syns, ncs


def parse_sections(value: object, path: PathLike | None, where: str) -> list[str]:
    """``target_sections`` (``"['basal', 'apical']"``) as section types (``dend``, ``apic``).

    Parameters
    ----------
    value : object
        The edge type's ``target_sections``: a list of names, or its text.
    path, where
        See :func:`synapse_params`.

    Raises
    ------
    ConfigError
        Not a list of known section names.
    """
    v: Any = value  # whatever the column holds: checked by use, a misfit is the ConfigError below
    if isinstance(v, str):
        try:
            v = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            v = [v]
    if isinstance(v, str):
        v = [v]
    try:
        out = [SECTION_ALIASES[str(s)] for s in v]
    except (KeyError, TypeError) as e:
        raise ConfigError(path, f"{where}: target_sections", f"section names of {sorted(SECTION_ALIASES)}",
                          repr(value)) from e
    return out


def parse_range(value: object, path: PathLike | None, where: str) -> tuple[float, float]:
    """``distance_range`` (µm from the soma) as a pair.

    Parameters
    ----------
    value : object
        The edge type's ``distance_range``: ``[min, max]`` or its text; null: ``(0, inf)``.
    path, where
        See :func:`synapse_params`.

    Raises
    ------
    ConfigError
        Not a pair of numbers.
    """
    if is_null(value):
        return (0.0, float("inf"))
    v: Any = ast.literal_eval(value) if isinstance(value, str) else value  # checked by use below
    try:
        a, b = (float(x) for x in v)
    except (TypeError, ValueError) as e:
        raise ConfigError(path, f"{where}: distance_range", "[min, max] in µm", repr(value)) from e
    return a, b


def segment_candidates(props: dict[str, np.ndarray], sections: list[str],
                       distance_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Segments of the given section types overlapping a distance range, and their probabilities
    (proportional to the overlapping length, as bmtk's ``find_sections``).

    Parameters
    ----------
    props : dict of str to numpy.ndarray
        Per-segment ``type`` (SWC code), ``dist0``/``dist1`` (µm from the soma) and ``length`` (µm).
    sections : list of str
        Section types (``soma``, ``dend``, ``apic``, ``axon``).
    distance_range : (float, float)
        µm from the soma.

    Returns
    -------
    (numpy.ndarray of int, numpy.ndarray of float)
        Indices of the candidate segments and their probabilities.
    """
    dmin, dmax = distance_range
    frac = np.maximum(0.0, np.minimum(props["dist1"], dmax) - np.maximum(props["dist0"], dmin)) / props["length"]
    codes = [SECTION_TYPES[s] for s in sections]
    ok = (frac > 0) & np.isin(props["type"], codes)
    idx = np.flatnonzero(ok)
    w = props["length"][idx] * frac[idx]
    return idx, (w / w.sum() if len(idx) else w)
