"""Checks of a simulation config's values: the one place ``SimulationConfig``, ``validate`` and ``simulate`` share.

Two kinds, so that ``validate`` and ``run`` cannot disagree:

* :func:`check_simulation_values` -- what the config alone decides (finite times, dt <= tstop, non-negative
  delays and durations, Poisson rates, equal-length lists, time windows in order, threads).  It runs when
  a :class:`~modelkit.sonata.config.SimulationConfig` is parsed, so every reader gets it.
* :func:`check_references` -- what needs the network: node sets and node ids that inputs and reports name,
  and spike-file node ids that are not in their population (bmtk drops those spikes: a warning), and
  :func:`check_output_dir` -- an ``output_dir`` that a regular file blocks.

Every problem is a :class:`~modelkit.errors.ConfigError` naming the config file and the dotted key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit._typing import NodeSetRef, PathLike
from modelkit.errors import ConfigError, ModelkitError

if TYPE_CHECKING:  # config imports this module, and network imports config
    from modelkit.sonata.config import SimulationConfig
    from modelkit.sonata.network import Network
    from modelkit.sonata.nodes import NodePopulation
    from modelkit.sonata.population import GroupedPopulation

__all__ = ["MAX_TIME_MS", "max_threads", "check_threads", "check_simulation_values", "check_parsed_values",
           "check_references", "check_node_ref", "check_output_dir", "RefProblem", "attribute_file"]

#: the longest model time a config may ask for (ms; about 32 years).  NEST counts time in int64 tics of
#: 1 µs (overflow near 9e15 ms); a larger tstop is a typo, and 1e300 or Infinity would overflow it.
MAX_TIME_MS = 1e12


def max_threads() -> int:
    """The most simulator threads a run may ask for: 8 per core, at least 64, at most 1024.

    NEST allocates per-thread structures for every thread asked for and crashes (SIGSEGV) at 100000;
    a value beyond this bound is a typo, not a request.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return int(min(1024, max(64, 8 * cores)))


def check_threads(value: object, path: str | None, key: str) -> int:
    """``value`` as a thread count in ``[1, max_threads()]``.

    Parameters
    ----------
    value : object
        The config's value.
    path : str, optional
        The config, for messages.
    key : str
        Config key of the value, for messages.

    Raises
    ------
    ConfigError
        Not an integer, below 1, or above :func:`max_threads`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(path, key, "a whole number of threads", repr(value))
    hi = max_threads()
    if not 1 <= int(value) <= hi:
        raise ConfigError(path, key, f"a number of threads from 1 to {hi} (8 per core here, at least 64)",
                          str(int(value)))
    return int(value)


# ----------------------------------------------------------------------- values of the config alone
def _number(v: Any, path: str | None, key: str, *, lo: float | None = None, strict: bool = False,
            hi: float = MAX_TIME_MS, unit: str = "") -> float:
    """A finite real number (bools and strings refused), optionally bounded below."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ConfigError(path, key, f"a number{unit}", repr(v)[:80])
    x = float(v)
    if not math.isfinite(x) or abs(x) > hi:
        raise ConfigError(path, key, f"a finite number{unit}" + (f" of magnitude at most {hi:g}" if hi < 1e300 else ""),
                          repr(v))
    if lo is not None and (x <= lo if strict else x < lo):
        raise ConfigError(path, key, f"a number{unit} {'>' if strict else '>='} {lo:g}", repr(v))
    return x


def _numbers(v: Any, path: str | None, key: str, **kw: Any) -> list[float]:
    """A number or a non-empty list of numbers, each as :func:`_number`."""
    if isinstance(v, list):
        if not v:
            raise ConfigError(path, key, "a number or a non-empty list of numbers", "[]")
        return [_number(x, path, f"{key}[{i}]", **kw) for i, x in enumerate(v)]
    return [_number(v, path, key, **kw)]


#: input keys that are times or durations (ms), checked in every input module: finite, >= 0
_TIME_KEYS = ("delay", "duration", "durations")
#: input keys that are amplitudes (nA): finite
_AMP_KEYS = ("amp", "amps")
_CLAMP_MODULES = ("IClamp", "iclamp")


def _rates(v: Any, path: str | None, key: str) -> list[float]:
    """Firing rates (Hz): a number or a non-empty list, each finite and >= 0."""
    vals = v if isinstance(v, list) else [v]
    if not vals or not all(not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x) and x >= 0
                           for x in vals):
        raise ConfigError(path, key, "non-negative finite firing rates (Hz)", repr(v)[:80])
    return [float(x) for x in vals]


def _check_run(run: Mapping, path: str | None) -> tuple[float, float]:
    # bmtk's PointNet reads the end of the run from ``duration`` as well (``tstop`` is SONATA's name)
    key = "run.tstop" if "tstop" in run or "duration" not in run else "run.duration"
    tstop = _number(run.get(key[4:]), path, key, lo=0.0, strict=True, unit=" (ms)")
    if "tstop" in run and "duration" in run:
        duration = _number(run["duration"], path, "run.duration", lo=0.0, strict=True, unit=" (ms)")
        if duration != tstop:
            # bmtk's PointNet takes duration, its BioNet and FilterNet take tstop: no answer is bmtk's
            raise ConfigError(path, "run.duration", f"the same end of the run as run.tstop ({tstop:g} ms), "
                              "or only one of them", f"{duration:g} ms")
    tstart = _number(run.get("tstart", 0.0), path, "run.tstart", lo=0.0, unit=" (ms)")
    if tstart >= tstop:
        raise ConfigError(path, "run.tstart", f"a start time before tstop ({tstop} ms)", str(tstart))
    dt = _number(run.get("dt"), path, "run.dt", lo=0.0, strict=True, unit=" (ms)")
    if dt > tstop - tstart:
        raise ConfigError(path, "run.dt", f"a time step no longer than the run ({tstop - tstart:g} ms)", str(dt))
    for k in ("block_size", "dL", "spike_threshold"):
        if k in run and run[k] is not None:
            _number(run[k], path, f"run.{k}", hi=1e300)
    if run.get("block_size") is not None and float(run["block_size"]) <= 0:
        raise ConfigError(path, "run.block_size", "a block of simulated time > 0 (ms)", repr(run["block_size"]))
    for k in ("nsteps_block", "tsteps_block"):  # steps of dt per block of streaming, reports and progress
        v = run.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
                              or not math.isfinite(float(v)) or float(v) != int(v) or not 1 <= v <= MAX_TIME_MS):
            raise ConfigError(path, f"run.{k}", f"a whole number of time steps from 1 to {MAX_TIME_MS:g}", repr(v))
    if run.get("n_thread") is not None:
        check_threads(run["n_thread"], path, "run.n_thread")
    return tstart, tstop


def _check_report(name: str, e: Mapping, path: str | None, tstart: float, tstop: float) -> None:
    """Every report module records within the run: ``tstart <= start_time < end_time <= tstop``."""
    key = f"reports.{name}"
    times = {k: _number(e[k], path, f"{key}.{k}", lo=0.0, unit=" (ms)")
             for k in ("start_time", "end_time") if e.get(k) is not None}
    if e.get("dt") is not None:
        _number(e["dt"], path, f"{key}.dt", lo=0.0, strict=True, unit=" (ms)")
    start, stop = times.get("start_time", tstart), times.get("end_time", tstop)
    if not tstart <= start < stop <= tstop + 1e-9:
        bad = "start_time" if not tstart <= start < min(stop, tstop + 1e-9) else "end_time"
        raise ConfigError(path, f"{key}.{bad}", f"start_time < end_time within the run [{tstart:g}, {tstop:g}] ms",
                          f"[{start:g}, {stop:g}] ms")


def _check_input(name: str, e: Mapping, path: str | None) -> None:
    key = f"inputs.{name}"
    for k in _TIME_KEYS:
        if k in e and e[k] is not None:
            _numbers(e[k], path, f"{key}.{k}", lo=0.0, unit=" (ms)")
    for k in _AMP_KEYS:
        if k in e and e[k] is not None:
            _numbers(e[k], path, f"{key}.{k}", hi=1e300, unit=" (nA)")
    window = {k: _number(e[k], path, f"{key}.{k}", lo=0.0, unit=" (ms)")
              for k in ("start_time", "stop_time") if e.get(k) is not None}
    if len(window) == 2 and window["start_time"] >= window["stop_time"]:
        raise ConfigError(path, f"{key}.start_time", "a start_time before stop_time",
                          f"[{window['start_time']:g}, {window['stop_time']:g}] ms")
    if e.get("module") in _CLAMP_MODULES and e.get("input_type") == "current_clamp":
        lens = [len(e[k]) if isinstance(e[k], list) else 1 for k in ("amp", "delay", "duration") if k in e]
        if len(lens) == 3 and len(set(lens)) > 1:
            raise ConfigError(path, key, "amp, delay and duration of equal length (or scalars)",
                              f"lengths {lens[0]}, {lens[1]}, {lens[2]}")
    seed = e.get("random_seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise ConfigError(path, f"{key}.random_seed", "a non-negative integer seed", repr(seed)[:80])
    rate = e.get("rate")
    poisson = e.get("module") == "poisson"
    if poisson and "rate" in e and rate is None:
        raise ConfigError(path, f"{key}.rate", "one firing rate (Hz)", "null")
    if rate is not None:  # (``rates`` may be a string: the rates file of a population input)
        if isinstance(rate, list):
            raise ConfigError(path, f"{key}.rate", "one firing rate (Hz); a profile is 'rates' with 'times' (ms)",
                              repr(rate)[:80])
        _rates(rate, path, f"{key}.rate")
    rates = e.get("rates")
    if poisson and "rates" in e and not isinstance(rates, list):
        raise ConfigError(path, f"{key}.rates", "a list of firing rates (Hz), one per time (ms)", repr(rates)[:80])
    if isinstance(rates, (int, float)):  # a population input's constant rate
        _rates(rates, path, f"{key}.rates")
    if isinstance(rates, list):
        r = _rates(rates, path, f"{key}.rates")
        times = e.get("times")
        if times is not None and not isinstance(times, list):
            raise ConfigError(path, f"{key}.times", f"a list of times (ms), one per rate ({len(r)} rates)",
                              repr(times)[:80])
        if isinstance(times, list):
            t = _numbers(times, path, f"{key}.times", lo=0.0, unit=" (ms)")
            if len(t) != len(r):
                raise ConfigError(path, f"{key}.times", f"one rate (Hz) per time ({len(r)} rates)",
                                  f"{len(t)} times")
            if any(b <= a for a, b in zip(t, t[1:])):
                raise ConfigError(path, f"{key}.times", "increasing times (ms)", repr(times)[:80])


def check_simulation_values(d: Mapping, path: str | None) -> None:
    """Check the values of an expanded simulation config (``run``, ``inputs``, ``reports``) that need no network.

    Parameters
    ----------
    d : mapping
        The config after manifest expansion and the JSON-Schema check.
    path : str or None
        The config file, for the messages.

    Raises
    ------
    ConfigError
        The first value out of range, naming ``path`` and the dotted key: a ``tstop``, ``dt`` or time that is
        NaN, infinite or above :data:`MAX_TIME_MS`; ``dt`` longer than the run; a negative delay, duration or
        rate; a non-numeric amplitude or rate; ``rates`` and ``times`` of unequal length; a time window whose
        start is not before its end; a thread count outside ``[1, max_threads()]``.
    """
    tstart, tstop = _check_run(d.get("run") or {}, path)
    for name, e in (d.get("inputs") or {}).items():
        _check_input(name, e, path)
    for name, e in (d.get("reports") or {}).items():
        _check_report(name, e, path, tstart, tstop)


def check_parsed_values(cfg: SimulationConfig) -> None:
    """:func:`check_simulation_values` on a parsed ``SimulationConfig`` (one changed in code by
    ``dataclasses.replace``, or built without a file, gets the same checks as one read from JSON).

    Parameters
    ----------
    cfg : SimulationConfig
        A parsed (possibly edited) simulation config.

    Raises
    ------
    ConfigError
        As :func:`check_simulation_values`.
    """
    run = cfg.run
    d = {"run": {**run.extra, "tstop": run.tstop, "dt": run.dt, "tstart": run.tstart},
         "inputs": {k: {**v.params, "input_type": v.input_type, "module": v.module} for k, v in cfg.inputs.items()},
         "reports": {k: {"start_time": v.start_time, "end_time": v.end_time, "dt": v.dt}
                     for k, v in cfg.reports.items()}}
    check_simulation_values(d, cfg.path)


def check_output_dir(output_dir: str, path: str | None, key: str = "output.output_dir") -> None:
    """Refuse an output folder that is, or lies under, an existing non-folder.

    Parameters
    ----------
    output_dir : str
        The config's ``output.output_dir``.
    path : str, optional
        The config, for messages.
    key : str, optional
        Config key of the value, for messages.

    Raises
    ------
    ConfigError
        ``output_dir`` or one of its parents exists and is not a folder.
    """
    p = os.path.abspath(output_dir)
    while True:
        if os.path.lexists(p):
            if not os.path.isdir(p):
                what = "a regular file" if os.path.isfile(p) else "not a folder"
                raise ConfigError(path, key, "a folder (or a path where one can be made)",
                                  f"{p} is {what}")
            return
        parent = os.path.dirname(p)
        if parent == p:
            return
        p = parent


def attribute_file(pop: GroupedPopulation, column: str) -> str:
    """The file a node or edge attribute comes from, for messages: the types CSV when the column is there and in
    no HDF5 group (group values override the types table), else the population's HDF5 file.

    Parameters
    ----------
    pop : GroupedPopulation
        A node or edge population.
    column : str
        Attribute name.
    """
    types = getattr(pop, "types", None)
    in_groups = any(column in gi.attributes for gi in pop.layout.groups.values())
    if types is not None and column in types.names and not in_groups and getattr(types, "path", None):
        return str(types.path)
    return str(pop.path)


# ----------------------------------------------------------------------- references to the network
class RefProblem(ConfigError):
    """A :class:`ConfigError` from :func:`check_references`, with ``severity`` ``error`` or ``warning``."""

    def __init__(self, path: PathLike | None, key: str | None, expected: str, found: str | None = None,
                 severity: str = "error"):
        self.severity = severity
        super().__init__(path, key, expected, found)

    def __reduce__(self) -> Any:
        return (type(self), (self.path, self.key, self.expected, self.found, self.severity))


def _listed_ids(ref: Any, node_sets: Any, chain: tuple[str, ...] = ()) -> Iterator[tuple[Any, np.ndarray]]:
    """(population filter, ids) of every explicit id list in a node-set reference (names followed)."""
    if isinstance(ref, str):
        if ref in node_sets and ref not in chain:
            yield from _listed_ids(node_sets[ref], node_sets, chain + (ref,))
        return
    if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
        yield None, np.asarray([int(ref)])
        return
    if isinstance(ref, (list, tuple)):
        if ref and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in ref):
            yield None, np.asarray([int(x) for x in ref])
            return
        for item in ref:
            yield from _listed_ids(item, node_sets, chain)
        return
    if isinstance(ref, Mapping):
        for k in ("node_id", "node_ids", "gids"):
            if k in ref:
                v = ref[k]
                vals = v if isinstance(v, list) else [v]
                if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in vals):
                    yield ref.get("population", ref.get("populations")), np.asarray([int(x) for x in vals])


def _named_populations(ref: Any, node_sets: Any, chain: tuple[str, ...] = ()) -> Iterator[str]:
    """Every population name a node-set reference's definitions name under ``population`` (names followed)."""
    if isinstance(ref, str):
        if ref in node_sets and ref not in chain:
            yield from _named_populations(node_sets[ref], node_sets, chain + (ref,))
    elif isinstance(ref, (list, tuple)):
        for item in ref:
            yield from _named_populations(item, node_sets, chain)
    elif isinstance(ref, Mapping):
        pops = ref.get("population", ref.get("populations"))  # bmtk spells it both ways
        for p in ([pops] if isinstance(pops, str) else pops if isinstance(pops, list) else []):
            if isinstance(p, str):
                yield p


def _missing_ids(net: Any, ref: Any) -> tuple[list[int], list[str]]:
    """Ids listed in ``ref`` that no population it targets holds, and the populations it targets."""
    missing: set[int] = set()
    targets: set[str] = set()
    for pops, ids in _listed_ids(ref, net.node_sets):
        names = list(net.nodes) if pops is None else ([pops] if isinstance(pops, str) else list(pops))
        names = [n for n in names if n in net.nodes]
        targets.update(names)
        held = np.zeros(len(ids), bool)
        for n in names:
            held |= np.isin(ids, net.nodes[n].ids().flat)
        missing.update(int(i) for i in ids[~held])
    return sorted(missing), sorted(targets)


def check_node_ref(net: Network, ref: NodeSetRef, path: str | None, key: str) -> dict[str, Any]:
    """Resolve a node-set reference of the config; every id it lists must exist.

    Parameters
    ----------
    net : Network
        The network the reference is resolved in.
    ref : str, dict or list
        A node-set reference as in configs: a node-set name, a population name, an inline rule dict, node ids, or a
        list of names and dicts.
    path : str, optional
        The config, for messages.
    key : str
        Config key of the value, for messages.

    Returns
    -------
    dict
        Population name -> Selection (empty ones dropped).

    Raises
    ------
    ConfigError
        An undefined node set or population, an invalid inline definition, or node ids (negative ones
        included) that are in none of the populations the reference targets.
    """
    try:
        sel = net.resolve_node_set(ref)[1]
    except ModelkitError as e:
        raise ConfigError(path, key, "a node set (node-sets file or inline node_sets) or a population name",
                          str(e)) from e
    unknown = sorted(set(_named_populations(ref, net.node_sets)) - set(net.nodes))
    if unknown:
        raise ConfigError(path, key, f"populations of the network ({sorted(net.nodes)})",
                          f"population {', '.join(map(repr, unknown))}")
    missing, targets = _missing_ids(net, ref)
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise ConfigError(path, key, f"node ids that exist in population(s) {targets}",
                          f"{len(missing)} that do not: {shown}")
    return {p: s for p, s in sel.items() if len(s)}


def spikes_outside(node_ids: np.ndarray, population: NodePopulation) -> tuple[int, int]:
    """(spikes, distinct node ids) of a spike train whose ids are not nodes of ``population``.

    Parameters
    ----------
    node_ids : ndarray
        Node id of each spike.
    population : NodePopulation
        The node population the spikes claim.
    """
    ids = np.asarray(node_ids, dtype=np.int64)
    if len(ids) == 0:
        return 0, 0
    inside = np.isin(ids, population.ids().flat)
    return int((~inside).sum()), int(len(np.unique(ids[~inside])))


def dropped_spikes_message(n_spikes: int, n_ids: int, population: str, spike_file: str) -> str:
    """The words of the warning about spikes of unknown node ids (bmtk drops them silently).

    Parameters
    ----------
    n_spikes : int
        Spikes dropped.
    n_ids : int
        Distinct node ids dropped.
    population : str
        Node population name.
    spike_file : str
        The spike file.
    """
    return (f"{n_spikes} spikes of {n_ids} node ids not in population {population!r} dropped "
            f"(spike file {spike_file})")


def check_references(cfg: SimulationConfig, net: Network) -> list[RefProblem]:
    """Every problem of the inputs' and reports' references to the network's nodes.

    Parameters
    ----------
    cfg : SimulationConfig
    net : Network

    Returns
    -------
    list of RefProblem
        Errors: populations of the network that cannot be opened (naming file and dataset), undefined node
        sets, listed node ids not in the population (``inputs.<name>.node_set``, ``reports.<name>.cells``).
        Warnings: a spike input file with spikes of node ids that are not nodes of the population
        (``inputs.<name>.input_file``; ``simulate`` drops them, as bmtk does).
    """
    from modelkit.sonata.spikes import read_spikes
    out: list[RefProblem] = []
    # a run simulates every population of the network: one that cannot be opened stops it (naming the
    # file and dataset), where a query of the file's other populations still works
    for pops in (net.nodes, net.edges):
        for e in getattr(pops, "unreadable", {}).values():
            out.append(RefProblem(e.path, e.dataset, e.expected, e.found))
    refs = [(f"inputs.{k}.node_set", v.node_set) for k, v in cfg.inputs.items() if v.enabled and v.node_set is not None]
    refs += [(f"reports.{k}.cells", v.cells) for k, v in cfg.reports.items() if v.enabled and v.cells is not None]
    for key, ref in refs:
        try:
            check_node_ref(net, ref, cfg.path, key)
        except ConfigError as e:
            out.append(RefProblem(e.path, e.key, e.expected, e.found))
    for name, spec in cfg.inputs.items():
        if len(spec.input_files) != 1:  # none, or several (ecephys inputs read NWB files, not spike files)
            continue
        f = spec.input_files[0]
        if not spec.enabled or spec.input_type not in ("spikes", "csv", "nwb") or not f or not os.path.exists(f) \
                or f.endswith(".nwb") or spec.module in ("nwb", "IClamp", "poisson", "ecephys_probe"):
            continue
        try:
            data = read_spikes(f)
        except ModelkitError as e:  # the run reads it and fails (simulator/inputs.py): validate says so too
            out.append(RefProblem(cfg.path, f"inputs.{name}.input_file", "a readable spike file", str(e)))
            continue
        for pop, sp in data.items():
            if pop is None or pop not in net.nodes:  # (a legacy file without populations: skipped)
                continue
            n, k = spikes_outside(sp.node_ids, net.nodes[pop])
            if n:
                out.append(RefProblem(cfg.path, f"inputs.{name}.input_file", "spikes of nodes of the population",
                                      dropped_spikes_message(n, k, pop, str(f)), severity="warning"))
    return out
