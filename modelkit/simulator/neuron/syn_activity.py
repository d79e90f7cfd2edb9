"""``syn_activity`` input: spontaneous synaptic activity (bmtk's ``SpontSynapses``; BioNet only).

Keys: ``precell_filter`` (required: node properties, ``{"model_name": "Scnn1a"}``; a list value means one
of; ``population`` names the population), optional ``postcell_filter`` (the same, on the cell the synapse
is on) and ``timestamps`` (ms). At each timestamp every synapse whose presynaptic cell passes the filters
fires (after its edge's delay, with its weight); as in bmtk, every other synapse between built cells is
silenced (weight 0) and synapses from virtual nodes keep their spike inputs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError, SelectionError
from modelkit.simulator.base import ConfigModule
from modelkit.sonata.config import InputSpec

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation

__all__ = ["SynActivityInput"]

log = logging.getLogger("modelkit.simulator")


def _matches(net: Any, pop: str, ids: np.ndarray, filt: dict, path: str | None, key: str) -> np.ndarray:
    """Mask of ``ids`` of ``pop`` whose properties pass ``filt`` (bmtk's ``_matches_filter``)."""
    mask = np.ones(len(ids), dtype=bool)
    nodes = net.nodes[pop]
    for k, v in filt.items():
        if k == "population":
            col = np.full(len(ids), pop, dtype=object)
        else:
            try:
                col = nodes.get([k], ids)[k].to_numpy()
            except (KeyError, ValueError, SelectionError) as e:
                raise ConfigError(path, f"{key}.{k}", f"a node property of population {pop}", str(e)) from e
        mask &= np.isin(col, v) if isinstance(v, (list, tuple)) else np.asarray(col == v, dtype=bool)
    return mask


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, np.int64)


class SynActivityInput(ConfigModule[InputSpec]):
    """Spontaneous synaptic activity at ``timestamps`` (ms) from the presynaptic cells of ``precell_filter``."""

    def initialize(self, sim: Simulation) -> None:
        key = f"inputs.{self.name}"
        p = self.spec.params
        path = sim.config.path
        from modelkit.simulator.neuron.backend import NeuronBackend
        if not isinstance(sim.backend, NeuronBackend):  # adds synapses to NEURON's own cells
            raise ConfigError(path, f"{key}.module", "syn_activity on a NEURON (BioNet) network",
                              f"backend {sim.backend.name}")
        pre, post = p.get("precell_filter"), p.get("postcell_filter") or {}
        if not isinstance(pre, dict):
            raise ConfigError(path, f"{key}.precell_filter", "node properties of the presynaptic cells (a dict)",
                              repr(pre)[:80])
        if not isinstance(post, dict):
            raise ConfigError(path, f"{key}.postcell_filter", "node properties (a dict)", repr(post)[:80])
        try:
            ts = np.atleast_1d(np.asarray(p.get("timestamps", []), dtype=float))
        except (TypeError, ValueError) as e:
            raise ConfigError(path, f"{key}.timestamps", "times (ms)", repr(p.get("timestamps"))[:80]) from e
        if ts.ndim != 1 or not np.isfinite(ts).all() or (ts < 0).any():
            raise ConfigError(path, f"{key}.timestamps", "finite times >= 0 (ms)", repr(p.get("timestamps"))[:80])
        net, be = sim.network, sim.backend
        pre_gids, all_gids = [], []
        for pop, sel in sim.built.items():
            ids = sel.flat
            if not len(ids):
                continue
            all_gids.append(be._base[pop] + ids)
            pre_gids.append(be._base[pop] + ids[_matches(net, pop, ids, pre, path, f"{key}.precell_filter")])
        post_ok = None
        if post:
            ok_cells: set[int] = set()  # artificial targets, by identity
            ok_secs: set[Any] = set()  # sections of biophysical targets
            for pop, cells in be._cells.items():
                ids = np.fromiter(cells, dtype=np.int64, count=len(cells))
                for nid in ids[_matches(net, pop, ids, post, path, f"{key}.postcell_filter")].tolist():
                    ok_cells.add(id(cells[nid]))
                    ok_secs.update(getattr(cells[nid], "sections", ()))

            def post_ok(target: Any) -> bool:
                if id(target) in ok_cells:
                    return True
                seg = target.get_segment() if hasattr(target, "get_segment") else None
                return seg is not None and seg.sec in ok_secs
        from modelkit.simulator.neuron.spont import add_spontaneous_synapses
        n_on, n_off = add_spontaneous_synapses(be, _cat(pre_gids), post_ok, ts, _cat(all_gids))
        log.info("input %s: %d synapses fire at %d timestamps; %d other synapses between cells silenced (as "
                 "bmtk)", self.name, n_on, len(ts), n_off)
