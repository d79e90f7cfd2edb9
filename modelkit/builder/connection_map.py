"""ConnectionMap: what ``add_edges`` returns; ``add_properties`` sets per-edge values.

Property rules come in three forms, all evaluated on the edges of one block:

* a bmtk per-edge callable ``rule(source, target, **rule_params)`` returning one value
  (or a tuple, one per name) — called once per edge (the compatibility path);
* a vectorised rule: a :class:`~modelkit.builder.distributions.Distribution`, or a
  function marked with :func:`vectorized`, called as
  ``rule(sources, targets, rng, **rule_params)`` with node-column views aligned per edge;
* fixed values: a scalar, or a list/array with one value per edge in bmtk's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkit._typing import ArrayLike, DTypeLike
from modelkit.builder.connectors import ConnectionRule
from modelkit.builder.nodes import NodeArrays, NodePool
from modelkit.errors import BuilderError

__all__ = ["ConnectionMap", "PropertyRule", "vectorized"]


def vectorized(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a function as vectorised: it receives arrays, not one node pair.

    As a property rule it is called ``func(sources, targets, rng, **rule_params)``,
    ``sources``/``targets`` being node-column views aligned with the edges
    (``sources["x"]``, ``sources.positions``, ``sources.ids``); it returns one array
    (or a tuple of arrays, one per property name) of the edges' length.

    Parameters
    ----------
    func : callable
        ``func(sources, targets, rng, **rule_params)`` returning one array (or a tuple of arrays) of the edges'
        length.

    Examples
    --------
    >>> @vectorized
    ... def weight_by_distance(sources, targets, rng, w0=1.0, scale=100.0):
    ...     d = np.linalg.norm(sources.positions - targets.positions, axis=1)
    ...     return w0 * np.exp(-d / scale)
    """
    func.__modelkit_vectorized__ = True  # type: ignore[attr-defined]
    return func


@dataclass
class PropertyRule:
    """One ``add_properties`` call."""

    names: list[str]
    rule: Any
    rule_params: dict
    dtypes: list[Any]
    values_in_bmtk_order: bool = False  # a list of values assigned in bmtk's edge order

    @property
    def kind(self) -> str:
        if self.values_in_bmtk_order:
            return "values"
        if hasattr(self.rule, "sample"):
            return "distribution"
        if getattr(self.rule, "__modelkit_vectorized__", False):
            return "vectorized"
        if callable(self.rule):
            return "per_edge"
        return "constant"

    def evaluate(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator,
                 order: np.ndarray | None = None) -> list[np.ndarray]:
        """Values of every name for the edges (``sources``/``targets`` aligned per edge).

        Parameters
        ----------
        sources : NodeArrays
            Source node columns, one row per edge.
        targets : NodeArrays
            Target node columns, one row per edge.
        rng : numpy.random.Generator
            Seeded generator of the builder.
        order : ndarray, optional
            bmtk's edge position of each edge (for ``values``); edge order when omitted.
        """
        n = len(sources)
        kind = self.kind
        label = f"add_properties({', '.join(self.names)})"
        if kind == "values":
            vals = np.asarray(self.rule)
            last = int(order.max()) if order is not None and order.size else n - 1
            if last >= len(vals):
                raise BuilderError(label, f"one value per edge (more than {len(vals)} edges were made)",
                                   f"{len(vals)} values")
            picked = vals[order] if order is not None else vals[:n]
            if len(self.names) == 1:
                out = [picked]
            else:  # one tuple per edge, as bmtk zips each value with the names
                if picked.ndim != 2 or picked.shape[1] != len(self.names):
                    raise BuilderError(label, f"a tuple of {len(self.names)} values per edge",
                                       f"values of shape {vals.shape}")
                out = [_column(picked[:, k].tolist(), label) for k in range(len(self.names))]
        elif kind == "distribution":
            out = [np.asarray(self.rule.sample(n, rng))]
        elif kind == "vectorized":
            res = self.rule(sources, targets, rng, **self.rule_params)
            out = list(res) if isinstance(res, tuple) else [res]
        elif kind == "per_edge":
            sv = sources.table.views()
            tv = targets.table.views()
            f, params = self.rule, self.rule_params
            res = [f(sv[a], tv[b], **params) for a, b in zip(sources.rows.tolist(), targets.rows.tolist())]
            if len(self.names) == 1:
                out = [_column(res, label)]
            else:
                for r in res[:1]:
                    if not isinstance(r, (tuple, list)) or len(r) != len(self.names):
                        raise BuilderError(label, f"a tuple of {len(self.names)} values per edge", repr(r))
                try:
                    out = [_column([r[k] for r in res], label) for k in range(len(self.names))]
                except (TypeError, IndexError) as e:
                    raise BuilderError(label, f"a tuple of {len(self.names)} values per edge", str(e)) from e
        else:
            out = [np.full(n, self.rule) if not isinstance(self.rule, str) else np.array([self.rule] * n, object)]
        if len(out) != len(self.names):
            raise BuilderError(label, f"{len(self.names)} arrays, one per name", f"{len(out)}")
        result = []
        for name, arr, dt in zip(self.names, out, self.dtypes):
            a = np.asarray(arr)
            if a.shape != (n,):
                raise BuilderError(f"add_properties({name})", f"{n} values (one per edge)", f"shape {a.shape}")
            if dt is not None:
                try:
                    a = a.astype(object if dt is str else dt)
                except (TypeError, ValueError) as e:
                    raise BuilderError(f"add_properties({name})", f"values convertible to {dt}", str(e)) from e
            result.append(a)
        return result


def _column(values: list, label: str) -> np.ndarray:
    a = np.array(values)
    if a.dtype.kind not in "biufUO" or a.ndim != 1:
        a = np.array(values, dtype=object)
    if a.dtype.kind == "U":
        a = a.astype(object)
    return a


@dataclass
class ConnectionMap:
    """The connections of one ``add_edges`` call (one edge type).

    Attributes
    ----------
    source_nodes, target_nodes : NodePool
    rule : ConnectionRule
    edge_type_properties : dict
        Shared properties, written to the edge-types CSV (with ``edge_type_id``).
    """

    source_nodes: NodePool
    target_nodes: NodePool
    rule: ConnectionRule
    edge_type_properties: dict
    iterator: str = "one_to_one"
    params: list[PropertyRule] = field(default_factory=list)

    @property
    def edge_type_id(self) -> int:
        return int(self.edge_type_properties["edge_type_id"])

    @property
    def source_network_name(self) -> str:
        return self.source_nodes.network_name

    @property
    def target_network_name(self) -> str:
        return self.target_nodes.network_name

    @property
    def is_gap_junction(self) -> bool:
        return bool(self.edge_type_properties.get("is_gap_junction", False))

    @property
    def property_names(self) -> list[str]:
        """Per-edge HDF5 columns: the added properties, or ``nsyns`` when there are none (as bmtk)."""
        names = [n for p in self.params for n in p.names]
        return names or ["nsyns"]

    def add_properties(self, names: str | Sequence[str], rule: object = None, rule_params: dict | None = None,
                       values: ArrayLike | None = None,
                       dtypes: DTypeLike | Sequence[DTypeLike] | None = None) -> "ConnectionMap":
        """Per-edge properties computed by ``rule`` (or given as ``values``).

        Once a connection map has properties, every synapse is its own edge row (as
        bmtk writes them) and the rule is evaluated once per synapse.

        Parameters
        ----------
        names : str or list of str
            Property names (e.g. ``"syn_weight"``, ``["afferent_section_id", "afferent_section_pos"]``).
        rule : callable, Distribution, vectorized function or scalar
            See the module docstring.
        rule_params : dict, optional
            Extra keyword arguments for the rule.
        values : list or array, optional
            One value per edge instead of a rule, in bmtk's edge order (sources outer, targets inner).
        dtypes : dtype or list of dtypes, optional
            Stored types; ``str`` for strings.

        Raises
        ------
        BuilderError
            Both or neither of rule/values, mismatched names/dtypes, a name used twice.
        """
        if (rule is None) == (values is None):
            raise BuilderError("add_properties", "exactly one of 'rule' or 'values'",
                               "both" if rule is not None else "neither")
        multi = isinstance(names, (list, tuple))
        name_list = [str(n) for n in names] if multi else [str(names)]
        if not name_list or any(not n for n in name_list):
            raise BuilderError("add_properties(names)", "one or more non-empty names", repr(names))
        taken = set(n for p in self.params for n in p.names) | {"nsyns"} & set()
        dup = [n for n in name_list if n in taken]
        if dup or len(set(name_list)) != len(name_list):
            raise BuilderError("add_properties(names)", "names not already added", repr(dup or name_list))
        if dtypes is None:
            dt_list: list[Any] = [None] * len(name_list)
        elif multi:
            if not isinstance(dtypes, (list, tuple)) or len(dtypes) != len(name_list):
                raise BuilderError("add_properties(dtypes)", f"{len(name_list)} dtypes, one per name", repr(dtypes))
            dt_list = list(dtypes)
        else:
            dt_list = [dtypes[0] if isinstance(dtypes, (list, tuple)) else dtypes]
        if values is not None:
            if isinstance(values, (list, tuple, np.ndarray)):
                arr = np.asarray(values, dtype=object if multi and not isinstance(values, np.ndarray) else None)
                self.params.append(PropertyRule(name_list, arr, {}, dt_list, True))
            else:
                self.params.append(PropertyRule(name_list, values, {}, dt_list))
            return self
        if isinstance(rule, (list, np.ndarray)):
            arr = np.asarray(rule, dtype=object if multi and isinstance(rule, list) else None)
            self.params.append(PropertyRule(name_list, arr, {}, dt_list, True))
            return self
        self.params.append(PropertyRule(name_list, rule, dict(rule_params or {}), dt_list))
        return self

    @property
    def needs_bmtk_order(self) -> bool:
        """Whether some values must be assigned in bmtk's pair order (evaluated on all targets at once)."""
        return any(p.values_in_bmtk_order for p in self.params)

    def __repr__(self) -> str:
        return (f"<ConnectionMap edge_type_id={self.edge_type_properties.get('edge_type_id')} "
                f"{self.source_nodes.network_name} -> {self.target_nodes.network_name} rule={self.rule!r}>")
