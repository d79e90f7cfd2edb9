"""Cells from NEURON hoc templates (``model_template: hoc:<TemplateName>``), as bmtk's ``loadHOC`` builds them.

The ``.hoc`` files of ``components.templates_dir`` are loaded once per process.  A template
is code that may read its morphology and set its biophysics itself, so every cell is an
instance of it (as in bmtk), called with the ``params`` of the node type's
``dynamics_params`` JSON if it has them, else with the morphology's path, else with no
argument.  The cell's sections are its ``all`` list (named soma, dend, apic, axon); the
section table of the node type (types, geometry, segment counts) is taken from the first
instance, and every later instance must have the same sections.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from modelkit.errors import ConfigError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.neuron.morphology import Cell, MorphologyTable, table_from_sections

__all__ = ["load_templates", "template_factory", "template_sections", "template_table", "template_cell"]

#: template folders and files loaded into this process
_LOADED: set[str] = set()


def load_templates(h: HocObject, directory: str) -> None:
    """Load every ``.hoc`` file of ``directory`` (name order), once per process.

    Parameters
    ----------
    h, directory : HocObject, str
        NEURON's ``h``, and the config's ``components.templates_dir``.

    Raises
    ------
    ConfigError
        No such folder, or NEURON fails to load a file (a syntax error, a template defined twice).
    """
    if directory in _LOADED:
        return
    h.load_file("import3d.hoc")  # templates that read morphologies use it, as bmtk's always loaded one
    if not os.path.isdir(directory):
        raise ConfigError(directory, "components.templates_dir", "an existing folder of .hoc templates",
                          "no such folder")
    for f in sorted(os.listdir(directory)):
        path = os.path.join(directory, f)
        if not f.endswith(".hoc") or path in _LOADED:
            continue
        try:
            ok = h.load_file(path)
        except RuntimeError as e:
            raise ConfigError(path, "components.templates_dir", "a hoc file NEURON loads", str(e)) from e
        if not ok:
            raise ConfigError(path, "components.templates_dir", "a hoc file NEURON loads", "load_file failed")
        _LOADED.add(path)
    _LOADED.add(directory)


def template_factory(h: HocObject, name: str, params: object, morphology: str | None, where: str,
                     directory: str | None) -> Callable[[], HocObject]:
    """``f() -> hoc object``: a new instance of template ``name`` (bmtk's loadHOC arguments).

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    name : str
        The template (``model_template`` ``hoc:<name>``).
    params : object
        The node type's ``dynamics_params`` JSON content (a list: the arguments; else the one argument), or None.
    morphology : str or None
        The morphology file, the argument when there are no ``params``.
    where : str
        The node type, named in errors.
    directory : str or None
        ``components.templates_dir``, named in errors.

    Raises
    ------
    ConfigError
        NEURON has no template of that name.
    """
    cls = getattr(h, name, None) if name.isidentifier() else None
    if cls is None or not callable(cls):
        raise ConfigError(directory, f"{where}: model_template hoc:{name}",
                          "a template defined by a .hoc file of components.templates_dir", "no such template")
    if params is not None:
        args = tuple(params) if isinstance(params, list) else (params,)
    elif morphology is not None:
        args = (morphology,)
    else:
        args = ()

    def make() -> HocObject:
        try:
            return cls(*args)
        except RuntimeError as e:
            raise ConfigError(directory, f"{where}: model_template hoc:{name}",
                              f"a template NEURON instantiates with arguments {args!r}", str(e)) from e
    return make


def template_sections(h: HocObject, obj: HocObject, label: str, where: str) -> list[HocObject]:
    """The sections of a template instance (its ``all`` list).

    Parameters
    ----------
    h, obj : HocObject
        NEURON's ``h`` and the template instance.
    label, where : str
        The cell or template, and the node type, named in errors.

    Raises
    ------
    ConfigError
        The template has no ``all`` SectionList, or it is empty.
    """
    try:
        secs = list(obj.all)
    except (AttributeError, TypeError) as e:
        raise ConfigError(None, f"{where}: {label}", "a hoc template with a public SectionList 'all'",
                          f"{type(e).__name__}: {e}") from e
    if not secs:
        raise ConfigError(None, f"{where}: {label}", "a template instance with sections (its 'all' list)", "none")
    return secs


def template_table(h: HocObject, obj: HocObject, name: str, where: str) -> MorphologyTable:
    """The section table of a template instance (its ``path`` names the template).

    Parameters
    ----------
    h, obj, where
        See :func:`template_sections`.
    name : str
        The template's name.
    """
    return table_from_sections(h, template_sections(h, obj, f"hoc:{name}", where), f"hoc:{name}", where)[0]


def template_cell(h: HocObject, factory: Callable[[], HocObject], table: MorphologyTable, label: str,
                  where: str) -> Cell:
    """A cell from a new instance of a node type's hoc template, segmented as the type's table says.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    factory : callable
        Makes a new instance (see :func:`template_factory`).
    table : MorphologyTable
        The node type's section table (segment counts).
    label : str
        The cell, named in errors.
    where : str
        The node type, named in errors.

    Raises
    ------
    ConfigError
        The instance has other sections than the type's first one.
    """
    obj = factory()
    secs = template_sections(h, obj, label, where)
    if len(secs) != table.n_sections:
        raise ConfigError(None, f"{where}: {label}", f"{table.n_sections} sections, as the first instance of "
                          f"{table.path}", f"{len(secs)}")
    for sec, n in zip(secs, table.nseg.tolist()):
        sec.nseg = int(n)
    return Cell(label, obj, secs, table)
