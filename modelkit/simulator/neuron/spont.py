"""Spontaneous synaptic activity (bmtk's ``syn_activity`` input, ``BioCellSpontSyn``) on built NEURON cells.

bmtk rewires the recurrent synapses when this input is given: a synapse whose presynaptic cell passes
``precell_filter`` (and whose cell passes ``postcell_filter``) is driven by a ``VecStim`` that plays the
input's timestamps (weight and delay of its edge), and every other synapse from a built cell gets weight 0.
Synapses from virtual nodes keep their inputs. Here the NetCons the backend made are rewired the same
way after the network is connected: a matching NetCon is silenced and a twin from the ``VecStim`` onto the
same synapse takes its weight and delay (NEURON cannot change a NetCon's source).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.simulator.neuron._hoc import HocObject

if TYPE_CHECKING:
    from modelkit.simulator.neuron.backend import NeuronBackend

__all__ = ["add_spontaneous_synapses"]

log = logging.getLogger("modelkit.simulator.neuron")


def _netcons(kept: list[Any]) -> list[Any]:
    out = []
    for obj in kept:
        name = obj.hname() if hasattr(obj, "hname") else ""
        if name.startswith("NetCon"):
            out.append(obj)
        elif name.startswith("List"):
            out += [obj.o(i) for i in range(int(obj.count())) if obj.o(i).hname().startswith("NetCon")]
    return out


def add_spontaneous_synapses(backend: NeuronBackend, pre_gids: np.ndarray,
                             post_ok: Callable[[HocObject], bool] | None, timestamps: np.ndarray,
                             silence_gids: np.ndarray) -> tuple[int, int]:
    """Rewire the NetCons of the built network for spontaneous activity.

    Parameters
    ----------
    backend : NeuronBackend
        After its edges are connected.
    pre_gids : ndarray of int
        Gids of the presynaptic cells whose synapses fire at ``timestamps``.
    post_ok : callable or None
        ``post_ok(target) -> bool`` for the NetCon's target (a synapse, or an artificial cell); None: all.
    timestamps : ndarray of float
        ms.
    silence_gids : ndarray of int
        Gids of every built (not virtual) cell: their other synapses get weight 0, as bmtk does.

    Returns
    -------
    (int, int)
        Synapses driven by the timestamps, synapses silenced.
    """
    h = backend.h
    vec = h.Vector(np.sort(np.asarray(timestamps, dtype=float)))
    stim = h.VecStim()
    stim.play(vec)
    backend._keep += [vec, stim]
    pre = set(np.asarray(pre_gids, dtype=np.int64).tolist())
    built = set(np.asarray(silence_gids, dtype=np.int64).tolist())
    twins = []
    n_on = n_off = 0
    for nc in _netcons(list(backend._keep)):
        g = int(nc.srcgid())
        if g not in built:
            continue  # a virtual node's input (or a NetCon of no cell)
        target = nc.syn()
        if target is None:
            continue  # a cell's spike detector (pc.cell), not a synapse
        if g in pre and (post_ok is None or post_ok(target)):
            twin = h.NetCon(stim, target)
            twin.weight[0] = nc.weight[0]
            twin.delay = nc.delay
            twins.append(twin)
            n_on += 1
        else:
            n_off += 1
        nc.weight[0] = 0.0
    backend._keep.append(twins)
    log.info("spontaneous synapses: %d driven at %d times, %d others silenced", n_on, len(vec), n_off)
    return n_on, n_off
