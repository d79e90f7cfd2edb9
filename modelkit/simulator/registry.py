"""Backend registry: built-in backends by name, outside ones through the ``modelkit.simulators`` entry points.

Adding a backend touches its own folder and one line of ``BUILTIN``: the backend class declares the inputs,
reports, checks and outputs it adds (see :class:`~modelkit.simulator.base.Backend`), which
:func:`load_declared` imports when a config uses them.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from modelkit.errors import BackendUnavailableError, ConfigError, UnknownModelError
from modelkit.simulator.base import declared_input_modules, declared_report_modules

if TYPE_CHECKING:
    from modelkit._typing import PathLike
    from modelkit.simulator.base import Backend, SimulatorModule
    from modelkit.sonata.config import InputSpec, ReportSpec

__all__ = ["BUILTIN", "TARGET_SIMULATORS", "TARGET_HINTS", "get_backend", "available_backends", "backend_for",
           "known_model_types", "load_declared", "module_providers", "module_for"]

#: name -> "module:Class" of the built-in backends
BUILTIN: dict[str, str] = {
    "nest": "modelkit.simulator.nest:NestBackend",
    "neuron": "modelkit.simulator.neuron:NeuronBackend",
    "population": "modelkit.simulator.population:PopulationBackend",
    "filter": "modelkit.simulator.filter:FilterBackend",
}

#: a config's ``target_simulator`` (lower case) -> the backend it asks for where the nodes do not decide
#: (bmtk's FilterNet writes its LGN cells as ``virtual`` nodes)
TARGET_SIMULATORS: dict[str, str] = {"lgnmodel": "filter", "filternet": "filter"}
#: target_simulator names that only order the search: the named backend is tried first when it simulates every
#: model type (point_process cells run in NEURON under "NEURON", in NEST otherwise)
TARGET_HINTS: dict[str, str] = {"neuron": "neuron", "nest": "nest", "dipde": "population"}

#: model types that never need a simulator cell (they become spike sources)
SOURCE_MODEL_TYPES = frozenset({"virtual"})


def _load(spec: str) -> Any:
    mod, _, cls = spec.partition(":")
    return getattr(importlib.import_module(mod), cls)


@functools.lru_cache(maxsize=1)
def _plugins() -> tuple[Any, ...]:
    # scanning the installed distributions' entry points costs ~10 ms: once per process
    return tuple(entry_points(group="modelkit.simulators"))


def _all_specs() -> dict[str, Any]:
    specs: dict[str, Any] = dict(BUILTIN)
    for ep in _plugins():
        specs.setdefault(ep.name, ep)
    return specs


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as ``name``.

    Parameters
    ----------
    name : str
        A registry name (``"nest"``, ``"neuron"``, ``"filter"``, ``"population"``, or an entry point's).

    Returns
    -------
    type[Backend]
        The class, imported now.

    Raises
    ------
    UnknownModelError
        No such backend.
    """
    specs = _all_specs()
    if name not in specs:
        raise UnknownModelError(f"no simulator backend {name!r}; known: {sorted(specs)}")
    spec = specs[name]
    cls: type[Backend] = spec.load() if hasattr(spec, "load") else _load(spec)  # an entry point, or "module:Class"
    return cls


def available_backends() -> dict[str, bool]:
    """Every registered backend and whether it can run here."""
    out = {}
    for name in _all_specs():
        try:
            out[name] = bool(get_backend(name).is_available())
        except Exception:  # noqa: BLE001 - a broken plugin is just unavailable
            out[name] = False
    return out


def backend_for(model_types: set[str], prefer: str | None = None, hint: str | None = None) -> type[Backend]:
    """The backend that simulates every given ``model_type`` (virtual nodes excluded).

    Parameters
    ----------
    model_types : set of str
        The model types of the cells to build.
    prefer : str, optional
        The only backend to consider (a registry name).
    hint : str, optional
        A backend to try first.

    Returns
    -------
    type[Backend]

    Raises
    ------
    UnknownModelError
        No backend handles some model type (the message lists what each handles).
    BackendUnavailableError
        The backend exists but its simulator is not installed.
    """
    wanted = set(model_types) - SOURCE_MODEL_TYPES
    names = [prefer] if prefer else list(_all_specs())
    if not prefer and hint in names:
        names.remove(hint)
        names.insert(0, hint)
    known: dict[str, list[str]] = {}
    for name in names:
        cls = get_backend(name)
        known[name] = sorted(cls.model_types)
        if wanted <= set(cls.model_types):
            if not cls.is_available():
                raise BackendUnavailableError(f"backend {name!r} ({cls.description}) is not importable here; "
                                              f"install it (pip install modelkit pulls it in)")
            return cls
    raise UnknownModelError(f"no backend simulates model_type {sorted(wanted)}"
                            + (f" with backend {prefer!r}" if prefer else "")
                            + f"; backends and their model types: {known}")


def known_model_types() -> set[str]:
    """Every ``model_type`` some registered backend simulates (installed or not), virtual nodes included."""
    out = set(SOURCE_MODEL_TYPES)
    for name in _all_specs():
        try:
            out |= set(get_backend(name).model_types)
        except Exception:  # noqa: BLE001 - a broken plugin simulates nothing
            continue
    return out


def load_declared(target: str) -> Any:
    """The object a backend's module table names: ``"package.module:Factory"``, imported now.

    Parameters
    ----------
    target : str
        ``"package.module:attribute"``.

    Returns
    -------
    object
        The attribute (a :class:`~modelkit.simulator.base.SimulatorModule` class or factory).
    """
    return _load(target)


def module_providers(kind: str, key: Any, exclude: str | None = None) -> list[str]:
    """The registered backends that declare an input or report module (a config that names it needs one of them).

    Parameters
    ----------
    kind : str
        ``"inputs"`` (``key`` is ``(input_type, module)``) or ``"reports"`` (``key`` is the module name).
    key : tuple of str or str
        The module.
    exclude : str, optional
        A backend not to list (the one running).

    Returns
    -------
    list of str
        Registry names, in registry order; backends that cannot be loaded are left out.
    """
    out = []
    for name in _all_specs():
        if name == exclude:
            continue
        try:
            cls = get_backend(name)
        except Exception:  # noqa: BLE001 - a broken plugin provides nothing
            continue
        table = declared_input_modules(cls) if kind == "inputs" else declared_report_modules(cls)
        if key in table:
            out.append(name)
    return out


#: per kind of module: the words of its messages (one of them, the known ones)
_MODULE_WORDS = {"inputs": ("an input", "input_type/module"), "reports": ("a report", "report module")}


def module_for(kind: str, key: tuple[str, str] | str, name: str, spec: InputSpec | ReportSpec,
               generic: Mapping[Any, Callable[[str, Any], SimulatorModule]], path: PathLike | None = None,
               backend: type[Backend] | None = None) -> SimulatorModule:
    """The module for one ``inputs`` or ``reports`` entry: the backend's own modules first, then ``generic``.

    Parameters
    ----------
    kind : str
        ``"inputs"`` or ``"reports"``.
    key : tuple of str or str
        ``(input_type, module)`` of an input, ``module`` of a report.
    name : str
        The entry's name (``<kind>.<name>``).
    spec : InputSpec or ReportSpec
        The parsed entry.
    generic : mapping
        ``key`` -> factory ``(name, spec)`` of the modules every backend runs.
    path : str or PathLike, optional
        The simulation config (for messages).
    backend : type[Backend], optional
        The backend class of the run; None (a config checked without a backend) accepts the modules of every
        registered backend.

    Returns
    -------
    SimulatorModule

    Raises
    ------
    ConfigError
        Naming ``<kind>.<name>.module``: a module of another backend (which one), or an unknown one (listing
        those this backend knows).
    """
    declared: Callable[[type], Mapping[Any, str]] = (declared_input_modules if kind == "inputs"
                                                     else declared_report_modules)
    own: Mapping[Any, str] = declared(backend) if backend is not None else {}
    if key in own:
        return load_declared(own[key])(name, spec)
    if key in generic:
        return generic[key](name, spec)
    if backend is None:  # any backend's module is fine while no backend is chosen
        for other in module_providers(kind, key):
            return load_declared(declared(get_backend(other))[key])(name, spec)
    if kind == "inputs":
        known = sorted({f"{t}/{m}" for t, m in [*generic, *own]})
        found = f"{key[0]}/{key[1]}"
    else:
        known = sorted({*generic, *own})
        found = repr(key)
    one, known_kind = _MODULE_WORDS[kind]
    where = f"{kind}.{name}.module"
    providers = module_providers(kind, key, exclude=backend.name) if backend is not None else []
    if backend is not None and providers:
        raise ConfigError(path, where, f"{one} of the {backend.name} backend ({', '.join(known)})",
                          f"{found}, {one} of the {' and '.join(providers)} backend; this run uses {backend.name}")
    raise ConfigError(path, where, f"a known {known_kind} ({', '.join(known)})", found)
