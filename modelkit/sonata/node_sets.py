"""Node sets: basic (property rules), compound (lists of names), materialised per population."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit._typing import NodeSetRef, PathLike
from modelkit.errors import NodeSetError, SelectionError
from modelkit.sonata.config import read_json
from modelkit.sonata.query import check_rule_value
from modelkit.sonata.selection import Selection

if TYPE_CHECKING:  # nodes and config are read by network, which imports this module
    from modelkit.sonata.config import CircuitConfig, SimulationConfig
    from modelkit.sonata.nodes import NodePopulation

__all__ = ["NodeSets", "materialize_rule", "named_populations"]

#: keys that select ids rather than attribute values (``gids``/``node_ids`` are legacy spellings)
ID_KEYS = ("node_id", "node_ids", "gids")
#: keys naming the populations a basic set applies to (``populations`` is bmtk's other spelling)
POPULATION_KEYS = ("population", "populations")
#: deepest chain of compound node sets (a names b names c ...) that is materialised
MAX_DEPTH = 100


def _is_id_list(defn: Any) -> bool:
    """A list of node ids as a whole definition: bmtk reads ``"name": [0, 1, 2]`` as ``{"node_id": [0, 1, 2]}``."""
    return (isinstance(defn, list) and len(defn) > 0
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in defn))


def _check_definition(defn: Any, path: str | None, key: str) -> None:
    if _is_id_list(defn):
        _check_definition({"node_id": list(defn)}, path, key)
        return
    if isinstance(defn, list):
        for i, item in enumerate(defn):
            if isinstance(item, Mapping):
                _check_definition(item, path, f"{key}[{i}]")
            elif not isinstance(item, str):
                raise NodeSetError(path, f"{key}[{i}]", "a node set name (string)", repr(item))
        return
    if not isinstance(defn, Mapping):
        raise NodeSetError(path, key, "an object of rules or a list of node set names", type(defn).__name__)
    for attr, value in defn.items():
        k = f"{key}.{attr}"
        if attr in POPULATION_KEYS:
            if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
                raise NodeSetError(path, k, "a population name or a list of names", repr(value))
            continue
        if attr in ID_KEYS:
            vals = value if isinstance(value, list) else [value]
            if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63 for v in vals):
                raise NodeSetError(path, k, "a non-negative integer id (below 2**63) or a list of them",
                                   repr(value)[:80])
            continue
        err = check_rule_value(value)
        if err:
            raise NodeSetError(path, k, err, repr(value)[:80])


def materialize_rule(defn: Mapping, population: NodePopulation) -> Selection:
    """Evaluate one basic node-set definition (a dict of rules) on a NodePopulation.

    Parameters
    ----------
    defn : mapping
        A basic node-set definition: property -> value, list of values or operator dict, plus ``population`` /
        ``node_id``.
    population : NodePopulation
        The population to evaluate it on.
    """
    for key in POPULATION_KEYS:
        pops = defn.get(key)
        if pops is not None:
            names = [pops] if isinstance(pops, str) else list(pops)
            if population.name not in names:
                return Selection()
    rules = {k: v for k, v in defn.items() if k not in POPULATION_KEYS}
    ids = None
    for k in ID_KEYS:
        if k in rules:
            v = rules.pop(k)
            arr = np.atleast_1d(np.asarray(v, dtype=np.int64))
            ids = arr if ids is None else np.intersect1d(ids, arr)
    sel = population.select(**rules) if rules else population.ids()
    if ids is not None:
        sel = sel & Selection.from_values(ids[(ids >= 0)])
    return sel


def named_populations(ref: NodeSetRef, node_sets: Mapping[str, Any] | NodeSets,
                      chain: tuple[str, ...] = ()) -> set[str]:
    """Population names a node-set reference names: under ``population``/``populations`` of its
    definitions, following node set names (a bare name that is no node set may be a population).

    Parameters
    ----------
    ref : str, dict or list
        A node-set reference as in configs: a node-set name, a population name, an inline rule dict, node ids, or a
        list of names and dicts.
    node_sets : mapping
        The node sets that names in ``ref`` refer to.
    chain : (str, ...), optional
        Names being expanded (cycles stop here).
    """
    out: set[str] = set()
    if isinstance(ref, str):
        if ref in node_sets and ref not in chain:
            out |= named_populations(node_sets[ref], node_sets, chain + (ref,))
        elif ref not in node_sets:
            out.add(ref)
    elif isinstance(ref, (list, tuple)):
        for item in ref:
            out |= named_populations(item, node_sets, chain) if isinstance(item, (Mapping, list, tuple)) or \
                (isinstance(item, str) and item in node_sets) else set()
    elif isinstance(ref, Mapping):
        for key in POPULATION_KEYS:
            v = ref.get(key)
            out.update(x for x in ([v] if isinstance(v, str) else v if isinstance(v, list) else [])
                       if isinstance(x, str))
    return out


class NodeSets:
    """The node sets of a circuit or simulation.

    Parameters
    ----------
    definitions : dict
        Name -> definition (dict = basic set, list of names = compound set).
    path : str, optional
        File they came from, for error messages.

    Examples
    --------
    >>> ns = NodeSets({"exc": {"ei": "e"}, "all_exc": ["exc"]})
    >>> ns.names
    ['all_exc', 'exc']
    """

    def __init__(self, definitions: Mapping[str, Any] | None = None, path: str | None = None, *,
                 key_prefix: str = "") -> None:
        self.path = path
        #: the files the definitions came from (a node-sets file, a config with inline ``node_sets``)
        self.sources: list[str] = [path] if path else []
        self.definitions = dict(definitions or {})
        for name, defn in self.definitions.items():
            _check_definition(defn, path, key_prefix + name)

    @classmethod
    def from_file(cls, path: PathLike) -> "NodeSets":
        """Read a node-sets JSON file.

        Parameters
        ----------
        path : str or PathLike
            The node-sets JSON.

        Raises
        ------
        NodeSetError
            Malformed JSON or an invalid definition (file and key named).
        """
        p = os.fspath(path)
        return cls(read_json(p, "node sets file"), p)

    @classmethod
    def from_config(cls, cfg: CircuitConfig | SimulationConfig) -> "NodeSets":
        """The node sets of a parsed circuit or simulation config: its ``node_sets_file`` and, on top, the
        sets it defines inline (bmtk's ``"node_sets": {name: definition}``, which win on a name in both).

        Parameters
        ----------
        cfg : CircuitConfig or SimulationConfig

        Returns
        -------
        NodeSets

        Raises
        ------
        NodeSetError
            Malformed JSON in the file, or an invalid definition (naming the file or the config and
            ``node_sets.<name>``).

        Examples
        --------
        >>> from modelkit.sonata.config import SimulationConfig
        >>> cfg = SimulationConfig.from_dict({"run": {"tstop": 10.0, "dt": 0.1},
        ...                                   "node_sets": {"exc": {"ei": "e"}}}, ".")
        >>> NodeSets.from_config(cfg).names
        ['exc']
        """
        nsf = getattr(cfg, "node_sets_file", None)
        out = cls.from_file(nsf) if nsf else cls()
        inline = getattr(cfg, "node_sets", None) or {}
        if inline:
            out = out.update(cls(inline, getattr(cfg, "path", None), key_prefix="node_sets."))
        return out

    @property
    def names(self) -> list[str]:
        """Defined node set names, sorted."""
        return sorted(self.definitions)

    def __contains__(self, name: object) -> bool:
        return name in self.definitions

    def __getitem__(self, name: str) -> Any:
        return self.definitions[name]

    def update(self, other: "NodeSets") -> "NodeSets":
        """A new NodeSets with ``other``'s definitions added (they win on clashes).

        Parameters
        ----------
        other : NodeSets
            Node sets whose definitions win.
        """
        out = NodeSets(None, other.path or self.path)
        out.definitions = {**self.definitions, **other.definitions}
        out.sources = list(dict.fromkeys(self.sources + other.sources))
        return out

    def materialize(self, node_set: NodeSetRef, population: NodePopulation) -> Selection:
        """Sorted ids of ``population`` in a node set.

        Parameters
        ----------
        node_set : str, dict or list
            A defined name, an inline basic definition, or a list (compound).
        population : NodePopulation

        Returns
        -------
        Selection

        Raises
        ------
        NodeSetError
            Unknown names, cycles, invalid rules.
        """
        return self._materialize(node_set, population, (), {})

    def _materialize(self, node_set: Any, population: Any, chain: tuple[str, ...],
                     done: dict[str, Selection]) -> Selection:
        """``done`` holds the names already materialised in this call: each is evaluated once
        (a compound naming the same set twice on many levels would otherwise take 2**levels)."""
        if isinstance(node_set, str):
            if len(chain) >= MAX_DEPTH:  # recursion would run out of stack long before a real circuit needs it
                raise NodeSetError(self.path, chain[0], f"compound node sets nested at most {MAX_DEPTH} deep",
                                   " -> ".join(chain[:3]) + f" -> ... ({len(chain)} names) -> {node_set}")
            if node_set in chain:
                cyc = " -> ".join(chain[chain.index(node_set):] + (node_set,))
                raise NodeSetError(self.path, node_set, "node sets without cycles", cyc)
            if node_set in done:
                return done[node_set]
            if node_set not in self.definitions:
                raise NodeSetError(self.path, node_set, f"a defined node set (known: {self.names})", "undefined")
            sel = self._materialize(self.definitions[node_set], population, chain + (node_set,), done)
            done[node_set] = sel
            return sel
        if _is_id_list(node_set):  # bmtk: the node ids of every population
            return self._materialize({"node_id": [int(v) for v in node_set]}, population, chain, done)
        if isinstance(node_set, list):
            out = Selection()
            for item in node_set:
                out = out | self._materialize(item, population, chain, done)
            return out
        if isinstance(node_set, Mapping):
            key = chain[-1] if chain else "(inline)"
            _check_definition(node_set, self.path, key)
            try:
                return materialize_rule(node_set, population)
            except SelectionError as e:
                raise NodeSetError(self.path, key, "rules that apply to the population", str(e)) from e
        raise NodeSetError(self.path, chain[-1] if chain else None,
                           "a node set name, definition or list", type(node_set).__name__)
