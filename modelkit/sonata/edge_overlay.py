"""Edge-type values overridden in memory (``syn_weight``, ``delay``, ...): :func:`with_edge_type_values`.

The view answers every read of an edge property (:meth:`EdgePopulation.column`, ``simulation_column``,
``type_values``, ``get``) with the new value for the edges of the overridden types, whether the files hold
that property per edge (an edge group's dataset) or per edge type (the edge-types CSV). Backends read
edges through these calls only, so a run sees the new values without any file being written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelkit.errors import SelectionError
from modelkit.sonata.edges import EdgePopulation
from modelkit.sonata.population import Rows
from modelkit.sonata.types_table import TypesTable

__all__ = ["with_edge_type_values", "OverlaidEdgePopulation"]


class OverlaidEdgePopulation(EdgePopulation):
    """An :class:`EdgePopulation` whose values of some edge types are replaced in memory.

    Made by :func:`with_edge_type_values`; shares the file handle and caches of the population it was made
    from. ``edge_values`` maps an edge type id to ``{property: value}``.
    """

    edge_values: dict[int, dict[str, float]]

    def _column(self, name: str, rows: Rows, *, dynamics: bool = False) -> np.ndarray:
        vals = super()._column(name, rows, dynamics=dynamics)
        hits = [(t, ps[name]) for t, ps in self.edge_values.items() if name in ps]
        if dynamics or not hits or not self.layout.has_type_id:
            return vals
        tids = self._pop_array("edge_type_id", rows)
        out = np.array(vals, dtype=float)
        for t, v in hits:
            out[tids == t] = v
        return out

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "edge_values": self.edge_values}

    def __setstate__(self, st: dict) -> None:
        EdgePopulation.__setstate__(self, st)
        self.edge_values = st["edge_values"]

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, edge types overridden: {self.edge_values}>"


def _patched_types(types: TypesTable, values: Mapping[int, Mapping[str, float]]) -> TypesTable:
    """A copy of ``types`` with the overridden values in its columns (the shared table is never changed)."""
    cols = dict(types.columns)
    for t, params in values.items():
        hit = np.flatnonzero(types.ids == t)
        for name, v in params.items():
            if name in cols and len(hit):
                col = np.array(cols[name], dtype=float)
                col[hit] = v
                cols[name] = col
    return TypesTable(types.path, types.id_column, types.ids, cols)


def with_edge_type_values(epop: EdgePopulation, values: Mapping[int, Mapping[str, Any]]) -> EdgePopulation:
    """``epop`` with the properties of some edge types replaced in memory (the files are untouched).

    Parameters
    ----------
    epop : EdgePopulation
        The edges (an earlier override's view too: the overrides stack, the last one wins).
    values : mapping of int to mapping of str to float
        ``{edge_type_id: {"syn_weight": 2.0, "delay": 1.5}}``, in the properties' own units (``delay`` ms,
        ``syn_weight`` as the model reads it: mV for NEST's delta synapses, µS for NEURON's Exp2Syn).

    Returns
    -------
    EdgePopulation
        A new view; ``epop`` is unchanged.

    Raises
    ------
    SelectionError
        A property the population does not have (listing those it has), or a value that is not a finite number.
    """
    known = set(epop.attribute_names)
    merged: dict[int, dict[str, float]] = {int(t): dict(ps) for t, ps in
                                           getattr(epop, "edge_values", {}).items()}
    for t, params in values.items():
        for name, v in params.items():
            if name not in known:
                raise SelectionError(f"{epop.path}: edge population {epop.name!r} has no property {name!r} to "
                                     f"override; it has {sorted(known)}")
            try:
                f = float(v)
            except (TypeError, ValueError):
                f = float("nan")
            if not np.isfinite(f):
                raise SelectionError(f"{epop.path}: edge population {epop.name!r}: override of {name!r} "
                                     f"(edge type {t}): expected a finite number, got {v!r:.80}")
            merged.setdefault(int(t), {})[str(name)] = f
    view = OverlaidEdgePopulation.__new__(OverlaidEdgePopulation)
    view.__dict__.update(epop.__dict__)
    # its own HDF5 handles (a view collected closes them, not its parent's); layout and id caches shared
    view._file, view._id_datasets, view._index, view._lock = None, {}, {}, threading.RLock()
    view.edge_values = merged
    if epop.types is not None:
        view.types = _patched_types(epop.types, merged)
    return view
