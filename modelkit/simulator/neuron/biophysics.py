"""Biophysical parameter files as plans: lists of section-wide operations, parsed once per file.

Three formats, as bmtk reads them:

* Allen Cell Types perisomatic fits (``model_processing: aibs_perisomatic``): ``passive``
  (``ra`` Ω·cm, ``cm`` µF/cm² per section, ``e_pas`` mV), ``genome`` (mechanism, range
  variable, value per section), ``conditions.erev`` (``ena``/``ek``, mV);
* Allen all-active fits (``aibs_allactive``): the same keys, every one optional, ``pas``
  everywhere, reversal potentials only where the ion exists;
* NeuroML2 cell files (``model_template: nml:<file>``): ``channelDensity`` (S/cm²),
  ``specificCapacitance`` (µF/cm²), ``resistivity`` (Ω·cm), ``concentrationModel``.

A plan is applied to every cell of a node type by :func:`apply_plan`, section type by
section type; nothing is parsed per cell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from modelkit.errors import ConfigError, UnknownModelError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.paramfiles import read_params_json

if TYPE_CHECKING:
    from modelkit.simulator.neuron.morphology import Cell

__all__ = ["Op", "Plan", "SECTION_TYPES", "perisomatic_plan", "allactive_plan", "nml_plan", "read_json",
           "apply_plan", "check_plan", "override_plan", "OVERRIDABLE"]

#: operation kinds whose value a per-node ``dynamics_params`` override replaces
OVERRIDABLE = ("set", "cm", "Ra", "erev")

#: section type names of Allen files / Import3d -> SWC type code
SECTION_TYPES: dict[str, int] = {"soma": 1, "axon": 2, "dend": 3, "apic": 4}
#: bmtk's target_sections names -> section type
SECTION_ALIASES: dict[str, str] = {"soma": "soma", "somatic": "soma", "axon": "axon", "axonal": "axon",
                                   "dend": "dend", "basal": "dend", "dendritic": "dend", "apic": "apic",
                                   "apical": "apic"}


@dataclass(frozen=True)
class Op:
    """One section-wide operation on every section of type ``section``.

    ``kind``: ``Ra`` / ``cm`` / ``set`` (range variable ``name`` = ``value``) / ``insert``
    (mechanism ``name``) / ``erev`` (``name`` = ``value`` where ion ``ion`` exists).
    ``key`` says where it came from in the file (for messages).
    """

    kind: str
    section: str
    name: str
    value: float = 0.0
    ion: str = ""
    key: str = ""


@dataclass
class Plan:
    """The biophysics of a node type: operations, and the axon processing its loader asks for."""

    path: str
    ops: list[Op] = field(default_factory=list)
    axon: str | None = None  # None (keep), "perisomatic" or "allactive" (replace by a 2-section stub)
    #: section types whose absence in the morphology is an error (the file sets parameters there)
    required: set[str] = field(default_factory=set)


def read_json(path: str) -> dict:
    """A JSON object from a file, parsed once per process (the shared reader of every backend's parameter files).

    Parameters
    ----------
    path : str
        A regular file of at most the JSON size cap holding one object (``dynamics_params``).

    Raises
    ------
    ConfigError
        Missing, unreadable or not an object.
    """
    return read_params_json(path)


def _section(path: str, key: str, name: Any) -> str:
    if name not in SECTION_TYPES:
        raise ConfigError(path, key, f"a section name of {sorted(SECTION_TYPES)}", repr(name))
    return str(name)


def _first(d: dict, k: str, path: str) -> dict:
    v = d.get(k)
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return v[0]
    if isinstance(v, dict):
        return v
    raise ConfigError(path, k, f"a '{k}' block (a list holding one object)", repr(v)[:60])


def perisomatic_plan(path: str, data: dict | None = None) -> Plan:
    """The plan of an Allen perisomatic fit (bmtk's ``set_params_peri``).

    Parameters
    ----------
    path : str
        The fit's JSON file (``passive``: ``ra`` Ω·cm, ``cm`` µF/cm², ``e_pas`` mV; ``genome``; ``conditions``);
        with ``data``, only the name of the parameters in errors.
    data : dict, optional
        The fit itself (an inline ``dynamics_params``, as a builder gives it), instead of reading ``path``.

    Raises
    ------
    ConfigError
        Missing blocks or keys, an unknown section name.
    """
    d = read_json(path) if data is None else data
    passive, conditions = _first(d, "passive", path), _first(d, "conditions", path)
    genome = d.get("genome")
    if not isinstance(genome, list):
        raise ConfigError(path, "genome", "a list of {section, name, value, mechanism}", repr(genome)[:60])
    for k in ("ra", "cm", "e_pas"):
        if k not in passive:
            raise ConfigError(path, f"passive[0].{k}", "a value (ra: ohm cm, cm: uF/cm2, e_pas: mV)", "absent")
    plan = Plan(path, axon="perisomatic")
    cms = {_section(path, f"passive[0].cm[{i}].section", c.get("section")): float(c["cm"])
           for i, c in enumerate(passive["cm"])}
    for s in SECTION_TYPES:
        plan.ops += [Op("Ra", s, "Ra", float(passive["ra"]), key="passive[0].ra"),
                     Op("cm", s, "cm", cms.get(s, float("nan")), key=f"passive[0].cm (section {s})"),
                     Op("insert", s, "pas", key="passive"),
                     Op("set", s, "e_pas", float(passive["e_pas"]), key="passive[0].e_pas")]
    plan.ops += _genome(path, genome, plan)
    for i, e in enumerate(conditions.get("erev", [])):
        s = _section(path, f"conditions[0].erev[{i}].section", e.get("section"))
        plan.ops += [Op("erev", s, k, float(e[k]), ion=k[1:], key=f"conditions[0].erev[{i}].{k}")
                     for k in ("ena", "ek") if k in e]
    return plan


def _genome(path: str, genome: list, plan: Plan) -> list[Op]:
    ops = []
    for i, g in enumerate(genome):
        if g.get("section") == "glob":  # old all-active files; bmtk skips them too
            continue
        s = _section(path, f"genome[{i}].section", g.get("section"))
        try:
            value = float(g["value"])
            name = str(g["name"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(path, f"genome[{i}]", "name and a numeric value", repr(g)[:80]) from e
        mech = g.get("mechanism", "")
        if mech:
            ops.append(Op("insert", s, str(mech), key=f"genome[{i}].mechanism"))
        ops.append(Op("set", s, name, value, key=f"genome[{i}].name"))
        plan.required.add(s)
    return ops


def allactive_plan(path: str, data: dict | None = None) -> Plan:
    """The plan of an Allen all-active fit (bmtk's ``set_params_allactive``).

    Parameters
    ----------
    path : str
        The fit's JSON file (``passive``, ``genome``, ``conditions``); with ``data``, only its name in errors.
    data : dict, optional
        The fit itself (an inline ``dynamics_params``), instead of reading ``path``.

    Raises
    ------
    ConfigError
        Missing blocks or keys, an unknown section name.
    """
    d = read_json(path) if data is None else data
    passive = _first(d, "passive", path)
    conditions = _first(d, "conditions", path) if "conditions" in d else {}
    plan = Plan(path, axon="allactive")
    for s in SECTION_TYPES:
        plan.ops.append(Op("insert", s, "pas", key="passive"))
        if "e_pas" in passive:
            plan.ops.append(Op("set", s, "e_pas", float(passive["e_pas"]), key="passive[0].e_pas"))
        if "ra" in passive:
            plan.ops.append(Op("Ra", s, "Ra", float(passive["ra"]), key="passive[0].ra"))
    for i, c in enumerate(passive.get("cm", [])):
        s = _section(path, f"passive[0].cm[{i}].section", c.get("section"))
        plan.ops.append(Op("cm", s, "cm", float(c["cm"]), key=f"passive[0].cm[{i}]"))
    plan.ops += _genome(path, d.get("genome", []), plan)
    for i, e in enumerate(conditions.get("erev", [])):
        s = _section(path, f"conditions[0].erev[{i}].section", e.get("section"))
        plan.ops += [Op("erev", s, k, float(e[k]), ion=k[1:], key=f"conditions[0].erev[{i}].{k}")
                     for k in ("ena", "ek") if k in e]
    return plan


_NML_NS = "{http://www.neuroml.org/schema/neuroml2}"
_NML_GROUPS = {"soma": ["soma"], "somatic": ["soma"], "axon": ["axon"], "axonal": ["axon"], "dend": ["dend"],
               "basal": ["dend"], "dendritic": ["dend"], "apic": ["apic"], "apical": ["apic"],
               "all": ["soma", "axon", "apic", "dend"]}


def _nml_value(path: str, key: str, text: str | None) -> float:
    try:
        return float(str(text).split()[0])
    except (ValueError, IndexError) as e:
        raise ConfigError(path, key, "a number with its unit ('1.0 uF_per_cm2')", repr(text)) from e


@lru_cache(maxsize=64)
def nml_plan(path: str) -> Plan:
    """The plan of a NeuroML2 cell file, as bmtk's ``NMLLoad`` reads it (morphology ignored; axon stub).

    Parameters
    ----------
    path : str
        The NeuroML2 file (values with their units, ``1.0 uF_per_cm2``).

    Raises
    ------
    ConfigError
        Missing or malformed file, an element without a known ``segmentGroup``.
    """
    from xml.etree import ElementTree
    if not os.path.exists(path):
        raise ConfigError(path, None, "an existing NeuroML2 cell file", "no such file")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as e:
        raise ConfigError(path, None, "a well-formed NeuroML2 file", str(e)) from e
    per_section: dict[str, dict[str, list[Op]]] = {s: {} for s in SECTION_TYPES}
    for elem in root.iter():
        tag = elem.tag.replace(_NML_NS, "")
        if tag not in ("channelDensity", "channelDensityNernst", "resistivity", "specificCapacitance",
                       "concentrationModel"):
            continue
        a = elem.attrib
        ident = a.get("id", tag)
        key = f"<{tag} id={ident!r}>"
        group = a.get("segmentGroup")
        if group is None or group.lower() not in _NML_GROUPS:
            raise ConfigError(path, key, f"a segmentGroup of {sorted(_NML_GROUPS)}", repr(group))
        for s in _NML_GROUPS[group.lower()]:
            ops: list[Op] = []
            if tag == "resistivity":
                ops.append(Op("Ra", s, "Ra", _nml_value(path, key, a.get("value")), key=key))
            elif tag == "specificCapacitance":
                ops.append(Op("cm", s, "cm", _nml_value(path, key, a.get("value")), key=key))
            elif tag == "concentrationModel":
                kind = a.get("type", ident)
                ops += [Op("insert", s, ident, key=key),
                        Op("set", s, f"gamma_{kind}", _nml_value(path, key, a.get("gamma")), key=key),
                        Op("set", s, f"decay_{kind}", _nml_value(path, key, a.get("decay")), key=key)]
            else:
                chan = a.get("ionChannel")
                g = _nml_value(path, key, a.get("condDensity"))
                erev = _nml_value(path, key, a["erev"]) if "erev" in a else None
                if chan == "pas":
                    ops += [Op("insert", s, "pas", key=key), Op("set", s, "g_pas", g, key=key)]
                    if erev is not None:
                        ops.append(Op("set", s, "e_pas", erev, key=key))
                else:
                    ops += [Op("insert", s, str(chan), key=key), Op("set", s, ident, g, key=key)]
                    ion = a.get("ion")
                    if ion in ("na", "k") and erev is not None:
                        ops.append(Op("erev", s, f"e{ion}", erev, ion=str(ion), key=key))
            if ident in per_section[s]:
                raise ConfigError(path, key, f"one element with id {ident!r} per section type", f"a second for {s}")
            per_section[s][ident] = ops
    plan = Plan(path, axon="perisomatic")
    for elems in per_section.values():
        for ops in elems.values():
            plan.ops += ops
    return plan


def override_plan(plan: Plan, values: dict[str, float], where: str) -> Plan:
    """The operations of ``plan`` that set the names in ``values``, with those values (per-node overrides).

    A name (``cm``, ``Ra``, ``e_pas``, ``gbar_NaTs``, ``ena``, ...) replaces the value in every
    section type where the file sets it; applying the result after ``plan`` gives the cell the
    biophysics of the file with these values, and nothing else changes (an override equal to the
    file's value leaves the cell as it was).

    Parameters
    ----------
    plan : Plan
        The node type's plan.
    values : dict of str to float
        ``{name: value}`` in the file's units (``cm`` µF/cm², ``Ra`` Ω·cm, ``e_pas`` mV, ``gbar_*`` S/cm²).
    where : str
        The cells, named in errors.

    Raises
    ------
    ConfigError
        A name the file does not set (naming the file, the cells and the names it sets).
    """
    ops = []
    for name, value in values.items():
        hit = [op for op in plan.ops if op.kind in OVERRIDABLE and op.name == name]
        if not hit:
            names = sorted({op.name for op in plan.ops if op.kind in OVERRIDABLE})
            raise ConfigError(plan.path, f"dynamics_params.{name} ({where})",
                              f"a parameter the file sets (one of {names})", repr(name))
        ops += [Op(op.kind, op.section, op.name, float(value), op.ion, f"dynamics_params.{name}") for op in hit]
    return Plan(plan.path, ops)


def check_plan(plan: Plan, known: set[str], where: str, note: str = "") -> None:
    """Every mechanism a plan inserts exists in NEURON.

    Parameters
    ----------
    plan : Plan
        The node type's plan.
    known : set of str
        Mechanisms NEURON knows (see ``known_mechanisms``).
    where : str
        The cells, named in errors.
    note : str
        Where the mechanisms were looked for (see ``MechanismSource.describe``); ends the error message.

    Raises
    ------
    ConfigError
        An unknown mechanism (the file, its key, the cells in ``where``, close names).
    """
    import difflib
    for op in plan.ops:
        if op.kind == "insert" and op.name not in known:
            close = difflib.get_close_matches(op.name, sorted(known), n=4)
            err = ConfigError(plan.path, f"{op.key} ({where})",
                              "a mechanism compiled from components.mechanisms_dir or built into NEURON"
                              + (f" (close names: {close})" if close else ""), repr(op.name))
            if note:  # modelkit's own text, after the clipped parts: where the mechanisms were looked for
                err.args = (f"{err.args[0]}; {note}",)
            raise err


def apply_plan(h: HocObject, plan: Plan, groups: dict[str, list[HocObject]], where: str) -> None:
    """Apply a plan to one cell whose sections are grouped by type (``{"soma": [sec, ...], ...}``).

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    plan : Plan
        The operations.
    groups : dict of str to list of HocObject
        The cell's sections by type (``Cell.groups()``).
    where : str
        The cell, named in errors.

    Raises
    ------
    ConfigError
        A range variable the inserted mechanisms do not have, a capacitance missing for a
        section type the cell has.
    """
    for op in plan.ops:
        secs = groups.get(op.section, ())
        if not secs:
            continue
        try:
            if op.kind == "insert":
                for sec in secs:
                    sec.insert(op.name)
            elif op.kind == "Ra":
                for sec in secs:
                    sec.Ra = op.value
            elif op.kind == "cm":
                if op.value != op.value:  # NaN: the file has no cm for this section type
                    raise ConfigError(plan.path, op.key, f"a capacitance for section type {op.section} ({where})",
                                      "none")
                for sec in secs:
                    sec.cm = op.value
            elif op.kind == "set":
                for sec in secs:
                    setattr(sec, op.name, op.value)
            elif op.kind == "erev":
                for sec in secs:
                    if h.ismembrane(f"{op.ion}_ion", sec=sec):
                        setattr(sec, op.name, op.value)
        except (AttributeError, ValueError, NameError, TypeError) as e:
            raise ConfigError(plan.path, f"{op.key} ({where})",
                              f"a range variable of the mechanisms inserted in {op.section} sections",
                              f"{op.name!r}: {e}") from e


#: model_processing steps (a comma-separated list, applied in order as bmtk does): the biophysics loaders (at most
#: one) and ``extracellular``
PROCESSING = ("aibs_perisomatic", "aibs_perisomatic_directed", "aibs_allactive", "aibs_allactive_directed",
              "extracellular")


def processing_steps(value: object, where: str) -> tuple[str | None, bool]:
    """A ``model_processing`` value split as bmtk splits it (on commas): (the biophysics loader or None, whether
    ``extracellular`` is asked).

    Parameters
    ----------
    value : object
        The node type's ``model_processing`` (text, or a null value).
    where : str
        The node type, named in errors.

    Raises
    ------
    UnknownModelError
        An unknown step, or two biophysics loaders.
    """
    from modelkit.simulator.neuron.synapses import is_null
    if is_null(value):
        return None, False
    steps = [p.strip() for p in str(value).split(",") if p.strip()]
    unknown = [p for p in steps if p not in PROCESSING]
    loaders = [p for p in steps if p != "extracellular"]
    if unknown and len(steps) > 1:
        raise UnknownModelError(f"{where}: model_processing {value!r}: {unknown[0]!r} is not known "
                                f"({', '.join(PROCESSING)})")
    if len(loaders) > 1:
        raise UnknownModelError(f"{where}: model_processing {value!r}: one biophysics loader at most, found "
                                f"{loaders}")
    return (loaders[0] if loaders else None), "extracellular" in steps


def insert_extracellular(cell: Cell) -> None:
    """bmtk's ``set_extracellular``: the ``extracellular`` mechanism in every section of a cell.

    Parameters
    ----------
    cell : Cell
        A built cell.
    """
    from modelkit.simulator.neuron.electrodes import _mark_extracellular_used
    for sec in cell.sections:
        sec.insert("extracellular")
    _mark_extracellular_used()
