"""Circuit and simulation configs: manifest expansion, path resolution, typed objects.

A config is read once: JSON -> manifest variables substituted as text (``$NAME``,
``${NAME}``, chained; built-ins ``${configdir}``, ``${workingdir}``,
``${configfname}``, ``${date}``, ``${time}``, ``${datetime}``) -> checked against
the JSON Schemas in ``schemas/`` -> frozen dataclasses with absolute paths.
Relative paths are relative to the folder of the config that holds them.
Nothing is ever evaluated.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
import sys
from typing import TYPE_CHECKING, Any

from modelkit._typing import PathLike
from modelkit.errors import ConfigError
from modelkit.sonata.simcheck import check_simulation_values
from modelkit.sonata.textfile import MAX_JSON_BYTES, read_text


def _import_jsonschema() -> Any:
    """jsonschema, without letting it import ``rfc3987_syntax`` (1.8 s: it compiles 38 grammars at import).

    jsonschema imports that package only to offer an ``iri`` format checker; modelkit's schemas use no
    ``format`` and no FormatChecker, and every process (each ``modelkit run``, MPI rank, engine) would
    pay the time.  The block is lifted at once, so a later ``import rfc3987_syntax`` still works.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        import jsonschema as js
        return js
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # None in sys.modules: ImportError
    try:
        import jsonschema as js
    finally:
        del sys.modules["rfc3987_syntax"]
    return js


if TYPE_CHECKING:
    import jsonschema
else:
    jsonschema = _import_jsonschema()

__all__ = ["CircuitConfig", "SimulationConfig", "NodesEntry", "EdgesEntry", "RunConfig", "OutputConfig",
           "InputSpec", "ReportSpec", "load_config", "read_json", "expand_manifest", "MAX_JSON_BYTES",
           "MAX_EXPANDED", "MAX_MANIFEST_DEPTH"]

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
#: the ``key`` of errors about the document as a whole (not a JSON object, none of the expected keys)
TOP_LEVEL = "(top level)"
_BUILTINS = ("configdir", "workingdir", "configfname", "date", "time", "datetime")
#: longest text (characters) a manifest variable or a substituted config value may expand to:
#: variables that double each other ($A = $B$B, $B = $C$C, ...) would otherwise grow as 2**depth
MAX_EXPANDED = 1 << 16
#: longest chain of manifest variables naming each other ($A -> $B -> ...)
MAX_MANIFEST_DEPTH = 64


# ------------------------------------------------------------------ json + manifest
def read_json(path: PathLike, what: str = "JSON config") -> dict:
    """Read a JSON object from a file, with errors that name the file and the position.

    Only a regular file of at most :data:`MAX_JSON_BYTES` is read (a FIFO or ``/dev/zero``
    would block or never end).

    Parameters
    ----------
    path : str or PathLike
        The JSON file.
    what : str, optional
        What the file is, for messages ("circuit config").
    """
    p = os.fspath(path)
    text = read_text(p, what, MAX_JSON_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(p, f"line {e.lineno} column {e.colno}", "valid JSON", e.msg) from e
    except RecursionError as e:
        raise ConfigError(p, None, "JSON nested less deeply", "too deep nesting") from e
    if not isinstance(data, dict):
        raise ConfigError(p, TOP_LEVEL, f"a JSON object at the top of the {what}", type(data).__name__)
    return data


def _builtins(config_path: str | None, base_dir: str) -> dict[str, str]:
    """bmtk's built-in variables, usable without a manifest entry."""
    now = _dt.datetime.now()
    return {"configdir": base_dir, "workingdir": os.getcwd(),
            "configfname": os.path.basename(config_path) if config_path else "",
            "date": now.strftime("%Y-%m-%d"), "time": now.strftime("%H-%M-%S"),
            "datetime": now.strftime("%Y-%m-%d_%H-%M-%S")}


def expand_manifest(manifest: object, config_path: str | None, base_dir: str) -> dict[str, str]:
    """Resolve manifest variables against each other (text substitution, cycles are errors).

    Parameters
    ----------
    manifest : dict
        The config's ``manifest``: ``{"$NAME": text}`` (None: empty).
    config_path : str, optional
        The config file, for messages (None: built in code).
    base_dir : str
        Folder that relative paths are resolved against.

    Returns
    -------
    dict
        ``{"$NAME": expanded text}``, plus the built-ins under their bare names.
    """
    if manifest is None:
        manifest = {}
    if not isinstance(manifest, dict):
        raise ConfigError(config_path, "manifest", "an object of $NAME: string", type(manifest).__name__)
    builtins = _builtins(config_path, base_dir)
    raw: dict[str, str] = {}
    for k, v in manifest.items():
        if not isinstance(v, str):
            raise ConfigError(config_path, f"manifest.{k}", "a string value", type(v).__name__)
        name = k[1:] if k.startswith("$") else k
        if name.startswith("{") and name.endswith("}"):
            name = name[1:-1]
        if not re.fullmatch(r"\w+", name):
            raise ConfigError(config_path, f"manifest.{k}", "a variable name like $NAME", repr(k))
        raw[name] = v
    done: dict[str, str] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> str:
        if name in done:
            return done[name]
        if name in chain:
            cyc = " -> ".join("$" + c for c in chain[chain.index(name):] + (name,))
            raise ConfigError(config_path, f"manifest.${chain[0]}", "manifest variables without cycles", cyc)
        if name not in raw:
            if name in builtins:
                return builtins[name]
            raise ConfigError(config_path, f"manifest.${chain[-1]}" if chain else "manifest",
                              f"a defined variable (known: {sorted('$' + k for k in raw)})", f"${name}")
        if len(chain) >= MAX_MANIFEST_DEPTH:
            raise ConfigError(config_path, f"manifest.${chain[0]}",
                              f"manifest variables nested at most {MAX_MANIFEST_DEPTH} deep",
                              " -> ".join("$" + c for c in chain[:3]) + f" -> ... ({len(chain)} names)")
        val = _bounded_sub(raw[name], lambda v: resolve(v, chain + (name,)), config_path, f"manifest.${name}")
        done[name] = val
        return val

    for name in raw:
        resolve(name, ())
    out = {"$" + k: v for k, v in done.items()}
    return out


def _bounded_sub(text: str, lookup: Any, path: str | None, key: str) -> str:
    """``text`` with every ``$NAME`` / ``${NAME}`` replaced by ``lookup(NAME)``, refusing a result
    over :data:`MAX_EXPANDED` characters before it is built (a value naming a long variable
    many times would otherwise take memory proportional to their product)."""
    parts: list[str] = []
    size = 0
    pos = 0
    for m in _VAR.finditer(text):
        rep = lookup(m.group(1) or m.group(2))
        size += (m.start() - pos) + len(rep)
        if size > MAX_EXPANDED:
            raise ConfigError(path, key, f"manifest variables expanding to at most {MAX_EXPANDED:,} characters",
                              f"more than {MAX_EXPANDED:,} after ${m.group(1) or m.group(2)}")
        parts.append(text[pos:m.start()])
        parts.append(rep)
        pos = m.end()
    parts.append(text[pos:])
    if size + len(text) - pos > MAX_EXPANDED and len(parts) > 1:
        raise ConfigError(path, key, f"manifest variables expanding to at most {MAX_EXPANDED:,} characters",
                          f"{size + len(text) - pos:,} characters")
    return "".join(parts)


def _substitute(obj: Any, variables: dict[str, str], builtins: dict[str, str], path: str | None, key: str) -> Any:
    """Replace $VARS in every string value (never in keys)."""
    if isinstance(obj, str):
        if "$" not in obj:
            return obj

        def rep(name: str) -> str:
            if "$" + name in variables:
                return variables["$" + name]
            if name in builtins:
                return builtins[name]
            raise ConfigError(path, key, f"a manifest variable (known: {sorted(variables)})", f"${name}")
        return _bounded_sub(obj, rep, path, key)
    if isinstance(obj, dict):
        return {k: _substitute(v, variables, builtins, path, f"{key}.{k}" if key else str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, variables, builtins, path, f"{key}[{i}]") for i, v in enumerate(obj)]
    return obj


def _expand(data: dict, path: str | None, base_dir: str) -> dict:
    variables = expand_manifest(data.get("manifest"), path, base_dir)
    body = {k: v for k, v in data.items() if k != "manifest"}
    out = _substitute(body, variables, _builtins(path, base_dir), path, "")
    out["manifest"] = variables
    return out


def _abspath(value: Any, base_dir: str, path: str | None, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(path, key, "a non-empty path string", repr(value))
    if "\x00" in value:
        raise ConfigError(path, key, "a path without NUL characters", repr(value))
    v = os.path.expanduser(value)
    return os.path.normpath(v if os.path.isabs(v) else os.path.join(base_dir, v))


@lru_cache(maxsize=None)
def _schema(name: str) -> dict:
    return json.loads(resources.files("modelkit.sonata").joinpath("schemas", name).read_text(encoding="utf-8"))


def _validate(data: dict, schema_name: str, path: str | None) -> None:
    validator = jsonschema.Draft202012Validator(_schema(schema_name))
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        e = errors[0]
        key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in e.absolute_path).replace(".[", "[")
        if not key and e.validator == "required":  # a top-level key is missing: name it
            key = next((str(k) for k in e.validator_value if k not in e.instance), TOP_LEVEL)
        raise ConfigError(path, key or TOP_LEVEL, _schema_expectation(e), _short(e.instance))


def _schema_expectation(e: jsonschema.ValidationError) -> str:
    if e.validator == "required":
        return e.message.replace(" is a required property", " (a required key)")
    if e.validator == "type":
        return f"type {e.validator_value}"
    if e.validator in ("exclusiveMinimum", "minimum"):
        return f"a number {'>' if e.validator == 'exclusiveMinimum' else '>='} {e.validator_value}"
    if e.validator == "not":
        return "only one of nsteps_block and tsteps_block"
    if e.validator == "anyOf" and all(set(v) == {"required"} for v in e.validator_value):
        return "one of the keys " + " or ".join(repr(v["required"][0]) for v in e.validator_value)
    return e.message


def _short(v: Any) -> str:
    s = json.dumps(v) if not isinstance(v, str) else repr(v)
    return s if len(s) < 80 else s[:77] + "..."


# --------------------------------------------------------------------- circuit
@dataclass(frozen=True)
class NodesEntry:
    """One ``networks.nodes`` entry (absolute paths)."""

    nodes_file: str
    node_types_file: str | None
    populations: dict[str, dict] = field(default_factory=dict)
    enabled: bool = True

    @property
    def file(self) -> str:
        return self.nodes_file

    @property
    def types_file(self) -> str | None:
        return self.node_types_file


@dataclass(frozen=True)
class EdgesEntry:
    """One ``networks.edges`` entry (absolute paths)."""

    edges_file: str
    edge_types_file: str | None
    populations: dict[str, dict] = field(default_factory=dict)
    enabled: bool = True

    @property
    def file(self) -> str:
        return self.edges_file

    @property
    def types_file(self) -> str | None:
        return self.edge_types_file


_ENTRY_KEYS = {"nodes": ("nodes_file", "node_types_file"), "edges": ("edges_file", "edge_types_file")}


def _entries(cls: Any, nets: dict, section: str, base_dir: str, path: str | None) -> tuple:
    """``networks.<section>`` as entry objects with absolute paths."""
    file_key, types_key = _ENTRY_KEYS[section]
    out = []
    for i, e in enumerate(nets.get(section) or []):
        where = f"networks.{section}[{i}]"
        types = _abspath(e[types_key], base_dir, path, f"{where}.{types_key}") if e.get(types_key) else None
        out.append(cls(_abspath(e[file_key], base_dir, path, f"{where}.{file_key}"), types,
                       dict(e.get("populations") or {}), bool(e.get("enabled", True))))
    return tuple(out)


@dataclass(frozen=True)
class CircuitConfig:
    """A parsed circuit config.

    Attributes
    ----------
    path : str or None
        The JSON file (None when built from a dict).
    base_dir : str
        Folder that relative paths are resolved against.
    manifest : dict
        Expanded manifest variables.
    components : dict
        ``*_dir`` component folders, absolute.
    nodes, edges : tuple
        Network entries, absolute paths, ``enabled: false`` ones included.
    node_sets_file : str or None
    target_simulator : str or None
    node_sets : dict
        Node sets defined in the config itself (bmtk's ``"node_sets": {name: definition}``); they are added
        to those of ``node_sets_file`` and win on a name in both.
    """

    path: str | None
    base_dir: str
    manifest: dict[str, str]
    components: dict[str, str]
    nodes: tuple[NodesEntry, ...]
    edges: tuple[EdgesEntry, ...]
    node_sets_file: str | None = None
    target_simulator: str | None = None
    node_sets: dict[str, Any] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_file(cls, path: PathLike) -> "CircuitConfig":
        """Read a circuit config (or the circuit part of a combined config).

        Parameters
        ----------
        path : str or PathLike
            The circuit (or combined) config JSON.
        """
        p = os.path.abspath(os.fspath(path))
        data = read_json(p, "circuit config")
        return cls.from_dict(data, os.path.dirname(p), p)

    @classmethod
    def from_dict(cls, data: dict, base_dir: str, path: str | None = None) -> "CircuitConfig":
        """Parse an already-loaded config dict; ``base_dir`` anchors relative paths.

        Parameters
        ----------
        data : dict
            The parsed config.
        base_dir : str
            Folder that relative paths are resolved against.
        path : str, optional
            The file it came from, for messages (None: built in code).
        """
        d = _expand(data, path, base_dir)
        _validate(d, "circuit_config.schema.json", path)
        return cls._from_expanded(d, base_dir, path)

    @classmethod
    def _from_expanded(cls, d: dict, base_dir: str, path: str | None) -> "CircuitConfig":
        comps = {k: _abspath(v, base_dir, path, f"components.{k}") for k, v in (d.get("components") or {}).items()
                 if v is not None}
        nets = d.get("networks") or {}
        nodes = _entries(NodesEntry, nets, "nodes", base_dir, path)
        edges = _entries(EdgesEntry, nets, "edges", base_dir, path)
        nsf = d.get("node_sets_file")
        return cls(path=path, base_dir=base_dir, manifest=d.get("manifest", {}), components=comps, nodes=nodes,
                   edges=edges, node_sets_file=_abspath(nsf, base_dir, path, "node_sets_file") if nsf else None,
                   target_simulator=d.get("target_simulator"), node_sets=dict(d.get("node_sets") or {}), raw=d)

    def missing_files(self) -> list[tuple[str, str]]:
        """``(key, path)`` of every enabled network file that does not exist."""
        out = []
        sections: tuple[tuple[str, tuple[NodesEntry | EdgesEntry, ...]], ...] = (
            ("nodes", self.nodes), ("edges", self.edges))
        for section, entries in sections:
            for i, e in enumerate(entries):
                if not e.enabled:
                    continue
                for k, v in zip(_ENTRY_KEYS[section], (e.file, e.types_file)):
                    if v and not os.path.exists(v):
                        out.append((f"networks.{section}[{i}].{k}", v))
        if self.node_sets_file and not os.path.exists(self.node_sets_file):
            out.append(("node_sets_file", self.node_sets_file))
        return out

    def _repr_html_(self) -> str:
        from modelkit.formatting_html import config_html
        return config_html("Circuit config", self.path, {
            "nodes files": [n.nodes_file for n in self.nodes if n.enabled],
            "edges files": [e.edges_file for e in self.edges if e.enabled],
            "components": self.components})


# ------------------------------------------------------------------ simulation
@dataclass(frozen=True)
class RunConfig:
    """``run`` block: times in ms, ``dL`` in µm, ``spike_threshold`` in mV.

    ``tstop`` is the config's ``run.tstop`` or, where it has none, bmtk PointNet's ``run.duration``.
    """

    tstop: float
    dt: float
    tstart: float = 0.0
    dL: float | None = None
    spike_threshold: float | None = None
    nsteps_block: int | None = None
    tsteps_block: int | None = None
    random_seed: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OutputConfig:
    """``output`` block, absolute paths (files live in ``output_dir`` unless absolute)."""

    output_dir: str
    log_file: str | None
    spikes_file: str | None
    spikes_file_csv: str | None = None
    spikes_sort_order: str | None = None
    overwrite_output_dir: bool = False
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InputSpec:
    """One ``inputs`` entry; file-valued keys (``*_file``, ``file``, ``*_positions``) are absolute.

    A file key may hold a list of paths (bmtk's ``"input_file": ["a.nwb", "b.nwb"]`` of the ecephys spike
    inputs): each is resolved as a single path would be, and the list is kept in ``params``.
    """

    name: str
    input_type: str
    module: str
    node_set: Any
    params: dict = field(default_factory=dict)
    enabled: bool = True
    #: the config file that holds the entry (for error messages)
    source: str | None = None

    @property
    def input_files(self) -> tuple[str, ...]:
        """Every path of ``input_file`` (or ``file``): one, several (a list in the config) or none."""
        v = self.params.get("input_file") or self.params.get("file")
        if v is None:
            return ()
        return tuple(v) if isinstance(v, list) else (v,)

    @property
    def input_file(self) -> str | None:
        """The one path of ``input_file`` (or ``file``), None without one.

        Raises
        ------
        ConfigError
            The config lists several files, and the module reading this property reads one
            (modules that read several use :attr:`input_files`).
        """
        files = self.input_files
        if len(files) > 1:
            key = "input_file" if self.params.get("input_file") else "file"
            raise ConfigError(self.source, f"inputs.{self.name}.{key}",
                              f"one file (module {self.module!r} reads a single file)", f"a list of {len(files)}")
        return files[0] if files else None


@dataclass(frozen=True)
class ReportSpec:
    """One ``reports`` entry (times in ms)."""

    name: str
    module: str
    cells: Any
    variable_name: str | None
    sections: str = "soma"
    start_time: float | None = None
    end_time: float | None = None
    dt: float | None = None
    file_name: str | None = None
    enabled: bool = True
    params: dict = field(default_factory=dict)


#: report keys naming outputs: relative to the output folder, as ``file_name`` (bmtk reads them so)
REPORT_OUTPUT_KEYS = ("contributions_dir", "file_name_nwb")


def _input_path(v: Any, base_dir: str, path: str | None, key: str) -> Any:
    """An input's file-valued key, absolute: one path, or each path of a list of them (errors name the index)."""
    if isinstance(v, str):
        return _abspath(v, base_dir, path, key)
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return [_abspath(x, base_dir, path, f"{key}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, list):
        bad = next((i for i, x in enumerate(v) if not isinstance(x, str) or not x), None)
        raise ConfigError(path, key if bad is None else f"{key}[{bad}]", "a non-empty list of path strings",
                          repr(v if bad is None else v[bad])[:80])
    return v


def _is_file_key(k: str) -> bool:
    return k == "file" or k.endswith("_file") or k.endswith("_positions") or k.endswith("_dir")


@dataclass(frozen=True)
class SimulationConfig:
    """A parsed simulation config, with its circuit.

    Attributes
    ----------
    path : str or None
    base_dir : str
    run : RunConfig
    conditions : dict
        ``celsius`` (°C), ``v_init`` (mV), ...
    output : OutputConfig
    inputs : dict of str to InputSpec
    reports : dict of str to ReportSpec
    node_sets_file : str or None
        The simulation's own, else its circuit's.
    node_sets : dict
        Node sets defined inline (bmtk's ``"node_sets"``): the circuit's, updated by the simulation's own.
        They are added to those of ``node_sets_file`` and win on a name in both (bmtk ignores the file
        when a config has inline sets; every name bmtk finds is found the same here).
    network : str or None
        The circuit config file it names (None when the circuit is inline).
    circuit : CircuitConfig or None
    components : dict
        The circuit's components updated with the simulation's own.
    """

    path: str | None
    base_dir: str
    manifest: dict[str, str]
    run: RunConfig
    conditions: dict
    output: OutputConfig
    inputs: dict[str, InputSpec]
    reports: dict[str, ReportSpec]
    node_sets_file: str | None
    network: str | None
    circuit: CircuitConfig | None
    components: dict[str, str]
    target_simulator: str | None = None
    node_sets: dict[str, Any] = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_file(cls, path: PathLike, network: str | None = None) -> "SimulationConfig":
        """Read a simulation config; ``network`` overrides its circuit config path.

        Parameters
        ----------
        path : str or PathLike
            The simulation (or combined) config JSON.
        network : str, optional
            Circuit config that replaces the config's ``network`` entry.
        """
        p = os.path.abspath(os.fspath(path))
        return cls.from_dict(read_json(p, "simulation config"), os.path.dirname(p), p, network=network)

    @classmethod
    def from_dict(cls, data: dict, base_dir: str, path: str | None = None,
                  network: str | None = None) -> "SimulationConfig":
        d = _expand(data, path, base_dir)
        _validate(d, "simulation_config.schema.json", path)
        check_simulation_values(d, path)  # NaN/Inf times, dt > tstop, negative delays, rates, threads
        run = d["run"]
        known_run = {"tstop", "duration", "dt", "tstart", "dL", "spike_threshold", "nsteps_block", "tsteps_block",
                     "random_seed"}
        # the schema asks for one of them, simcheck that both agree where both are given
        rc = RunConfig(tstop=float(run["tstop"] if "tstop" in run else run["duration"]), dt=float(run["dt"]),
                       tstart=float(run.get("tstart", 0.0)),
                       dL=run.get("dL"), spike_threshold=run.get("spike_threshold"),
                       nsteps_block=run.get("nsteps_block"), tsteps_block=run.get("tsteps_block"),
                       random_seed=run.get("random_seed"),
                       extra={k: v for k, v in run.items() if k not in known_run})
        out = d.get("output") or {}
        out_dir = _abspath(out.get("output_dir", "output"), base_dir, path, "output.output_dir")

        def in_out(key: str, default: str | None) -> str | None:
            v = out.get(key, default)
            if v is None or v is False or v == "":
                return None
            if not isinstance(v, str):
                return default and os.path.join(out_dir, default)
            return _abspath(v, out_dir, path, f"output.{key}")
        known_out = {"output_dir", "log_file", "spikes_file", "spikes_file_csv", "spikes_sort_order",
                     "overwrite_output_dir"}
        oc = OutputConfig(output_dir=out_dir, log_file=in_out("log_file", "log.txt"),
                          spikes_file=in_out("spikes_file", "spikes.h5"),
                          spikes_file_csv=in_out("spikes_file_csv", None),
                          spikes_sort_order=out.get("spikes_sort_order"),
                          # bmtk's PopNet and PointNet configs set it in the run block
                          overwrite_output_dir=bool(out.get("overwrite_output_dir",
                                                            run.get("overwrite_output_dir", False))),
                          extra={k: v for k, v in out.items() if k not in known_out})
        inputs = {}
        for name, e in (d.get("inputs") or {}).items():
            params = {k: _input_path(v, base_dir, path, f"inputs.{name}.{k}") if _is_file_key(k) else v
                      for k, v in e.items() if k not in ("input_type", "module", "node_set", "enabled")}
            inputs[name] = InputSpec(name, e["input_type"], e["module"], e.get("node_set"), params,
                                     bool(e.get("enabled", True)), path)
        reports = {}
        known_rep = {"module", "type", "cells", "variable_name", "sections", "start_time", "end_time", "dt",
                     "file_name", "enabled"}
        for name, e in (d.get("reports") or {}).items():
            fn = e.get("file_name")
            params = {k: (_abspath(v, out_dir if k in REPORT_OUTPUT_KEYS else base_dir, path, f"reports.{name}.{k}")
                          if (_is_file_key(k) or k in REPORT_OUTPUT_KEYS) and isinstance(v, str) else v)
                      for k, v in e.items() if k not in known_rep}
            reports[name] = ReportSpec(
                name=name, module=e.get("module") or e.get("type"), cells=e.get("cells"),
                variable_name=e.get("variable_name"), sections=e.get("sections", "soma"),
                start_time=e.get("start_time"), end_time=e.get("end_time"), dt=e.get("dt"),
                file_name=_abspath(fn, out_dir, path, f"reports.{name}.file_name") if fn
                else os.path.join(out_dir, f"{name}{'.csv' if e.get('module') == 'weight_recorder' else '.h5'}"),
                enabled=bool(e.get("enabled", True)), params=params)
        net = network or (d.get("network") and _abspath(d["network"], base_dir, path, "network"))
        circuit = None
        if net:
            if not os.path.isfile(net):
                raise ConfigError(path, "network", "an existing circuit config file", net)
            circuit = CircuitConfig.from_file(net)
        if "networks" in d:
            inline = CircuitConfig._from_expanded(d, base_dir, path)
            circuit = inline if circuit is None else _merge_circuits(circuit, inline)
        comps = dict(circuit.components if circuit else {})
        comps.update({k: _abspath(v, base_dir, path, f"components.{k}") for k, v in (d.get("components") or {}).items()
                      if v is not None})
        nsf = d.get("node_sets_file")
        node_sets_file = _abspath(nsf, base_dir, path, "node_sets_file") if nsf else \
            (circuit.node_sets_file if circuit else None)
        return cls(path=path, base_dir=base_dir, manifest=d.get("manifest", {}), run=rc,
                   conditions=dict(d.get("conditions") or {}), output=oc, inputs=inputs, reports=reports,
                   node_sets_file=node_sets_file, network=net or None, circuit=circuit, components=comps,
                   target_simulator=d.get("target_simulator") or (circuit.target_simulator if circuit else None),
                   node_sets={**(circuit.node_sets if circuit else {}), **(d.get("node_sets") or {})}, raw=d)

    def _repr_html_(self) -> str:
        from modelkit.formatting_html import config_html
        return config_html("Simulation config", self.path, {
            "run": {"tstart": self.run.tstart, "tstop": self.run.tstop, "dt": self.run.dt},
            "circuit": self.network or "(inline)",
            "inputs": {k: f"{v.input_type}/{v.module}" for k, v in self.inputs.items()},
            "reports": {k: f"{v.module}: {v.variable_name}" for k, v in self.reports.items()},
            "output_dir": self.output.output_dir})


def _merge_circuits(a: CircuitConfig, b: CircuitConfig) -> CircuitConfig:
    comps = dict(a.components)
    comps.update(b.components)
    return CircuitConfig(path=b.path, base_dir=b.base_dir, manifest={**a.manifest, **b.manifest}, components=comps,
                         nodes=a.nodes + b.nodes, edges=a.edges + b.edges,
                         node_sets_file=b.node_sets_file or a.node_sets_file,
                         target_simulator=b.target_simulator or a.target_simulator,
                         node_sets={**a.node_sets, **b.node_sets}, raw=b.raw)


def load_config(path: PathLike) -> CircuitConfig | SimulationConfig:
    """Read any SONATA config file: circuit, simulation, combined, or a
    ``{"network": ..., "simulation": ...}`` wrapper.

    Parameters
    ----------
    path : str or PathLike
        The config JSON.

    Returns
    -------
    CircuitConfig or SimulationConfig
        A SimulationConfig whenever the file describes a run.

    Raises
    ------
    ConfigError
        Malformed JSON, schema violations, cyclic or undefined manifest variables,
        an unresolvable circuit config.
    """
    p = os.path.abspath(os.fspath(path))
    data = read_json(p, "config")
    base = os.path.dirname(p)
    if "run" in data:
        return SimulationConfig.from_dict(data, base, p)
    if "networks" in data:
        return CircuitConfig.from_dict(data, base, p)
    if "simulation" in data or "network" in data:
        d = _expand(data, p, base)
        sim = d.get("simulation")
        net = d.get("network")
        for k, v in (("simulation", sim), ("network", net)):
            if v is not None and not isinstance(v, str):
                raise ConfigError(p, k, "a path string", type(v).__name__)
        net_path = _abspath(net, base, p, "network") if net else None
        if net_path is not None and not os.path.isfile(net_path):
            raise ConfigError(p, "network", "an existing circuit config file", net_path)
        if sim:
            sim_path = _abspath(sim, base, p, "simulation")
            if not os.path.isfile(sim_path):
                raise ConfigError(p, "simulation", "an existing simulation config file", sim_path)
            out = SimulationConfig.from_file(sim_path, network=net_path)
            if out.circuit is None:
                raise ConfigError(p, "network", f"a circuit config (here, or 'network'/'networks' in {sim_path})",
                                  "none")
            return out
        if net_path is None:
            raise ConfigError(p, "network", "an existing circuit config file", "none")
        return CircuitConfig.from_file(net_path)
    raise ConfigError(p, TOP_LEVEL, "a SONATA config (keys 'networks', 'run', or 'network'/'simulation')",
                      f"keys {sorted(data)}")
