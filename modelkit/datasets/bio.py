"""A small network of biophysical ball-and-stick cells for NEURON: :func:`bio_network`.

Only NEURON's built-in mechanisms are used (``hh`` at the soma and axon, ``pas`` everywhere,
``Exp2Syn`` synapses), so the model runs without compiling any ``.mod`` file.  The cell parameter
file uses the Allen all-active layout that bmtk's BioNet also reads (``aibs_allactive``).
"""

from __future__ import annotations

import os

import numpy as np

from modelkit._typing import PathLike
from modelkit.datasets._files import (fresh_folder, network_files, save_networks, write_configs, write_json,
                                      write_poisson_input)

__all__ = ["bio_network"]

#: x, y, z, radius (µm) of the points of each neurite: basal dendrites down and sideways, apical up, axon down
_NEURITES = {3: [(np.array([-1.0, -1.0, 0.0]), 150.0, 0.8), (np.array([1.0, -1.0, 0.0]), 150.0, 0.8)],
             4: [(np.array([0.0, 1.0, 0.0]), 400.0, 1.2)],
             2: [(np.array([0.0, -1.0, 0.2]), 80.0, 0.5)]}

_HH_CELL = {
    "passive": [{"ra": 100.0, "e_pas": -65.0,
                 "cm": [{"section": s, "cm": 1.0} for s in ("soma", "axon", "dend", "apic")]}],
    "genome": [{"section": s, "name": n, "value": v, "mechanism": "hh"}
               for s in ("soma", "axon")
               for n, v in (("gnabar_hh", 0.12), ("gkbar_hh", 0.036), ("gl_hh", 0.0003), ("el_hh", -54.3))]
    + [{"section": "soma", "name": "g_pas", "value": 1e-5, "mechanism": ""},
       {"section": "axon", "name": "g_pas", "value": 1e-5, "mechanism": ""},
       {"section": "dend", "name": "g_pas", "value": 1e-4, "mechanism": ""},
       {"section": "apic", "name": "g_pas", "value": 1e-4, "mechanism": ""}],
    "conditions": [{"celsius": 6.3, "v_init": -65.0,
                    "erev": [{"section": s, "ena": 50.0, "ek": -77.0} for s in ("soma", "axon")]}],
}


def _swc() -> str:
    """Ball and stick as SWC: a one-point soma (radius 8 µm) and straight neurites sampled every 10 µm."""
    lines = ["# ball-and-stick cell written by modelkit.datasets.bio_network", "1 1 0.0 0.0 0.0 8.0 -1"]
    n = 1
    for kind, neurites in _NEURITES.items():
        for direction, length, radius in neurites:
            u = direction / np.linalg.norm(direction)
            parent = 1
            for d in np.arange(8.0, 8.0 + length + 1e-9, 10.0):
                n += 1
                x, y, z = (u * d).tolist()
                lines.append(f"{n} {kind} {x:.3f} {y:.3f} {z:.3f} {radius} {parent}")
                parent = n
    return "\n".join(lines) + "\n"


def bio_network(directory: PathLike, *, n_exc: int = 8, n_inh: int = 2, n_input: int = 40, input_rate: float = 20.0,
                input_weight: float = 0.0006, tstop: float = 500.0, dt: float = 0.025, seed: int = 0) -> str:
    """Write a network of biophysical ball-and-stick cells driven by Poisson inputs, for NEURON.

    Every cell has a soma with Hodgkin–Huxley channels, two passive basal dendrites, a passive apical
    dendrite (400 µm) and an axon (replaced by a stub, as for Allen models).  Each cell receives 20 of
    the virtual ``input`` nodes (3 ``Exp2Syn`` synapses each on dendrites within 200 µm of the soma,
    ``input_weight`` µS, 2 ms delay), and connections from 30 % of the excitatory cells (+) and all
    inhibitory ones (−).

    Parameters
    ----------
    directory, n_exc, n_inh, n_input, tstop, dt, seed
        As in :func:`~modelkit.datasets.balanced_network` (times in ms).
    input_rate : float
        Poisson rate of each input node (Hz); spikes are written to ``inputs/input_spikes.h5``.
    input_weight : float
        Peak conductance of each input synapse (µS).

    Returns
    -------
    str
        Path of ``config.simulation.json``; outputs go to ``output/``.

    Examples
    --------
    >>> cfg = bio_network("bio")                        # doctest: +SKIP
    >>> modelkit.simulate(cfg).rates()                  # doctest: +SKIP
    """
    from modelkit.builder import FixedInDegree, FixedProbability, NetworkBuilder, placement

    d = fresh_folder(directory, ("inputs", "components/morphologies", "components/biophysical_neuron_models",
                                 "components/synaptic_models"))
    swc = os.path.join(d, "components/morphologies/ballstick.swc")
    with open(swc + ".tmp", "w") as f:
        f.write(_swc())
    os.replace(swc + ".tmp", swc)
    write_json(os.path.join(d, "components/biophysical_neuron_models/hh_ballstick.json"), _HH_CELL)
    syn = os.path.join(d, "components/synaptic_models")
    write_json(os.path.join(syn, "exc_syn.json"), {"level_of_detail": "exp2syn", "tau1": 0.5, "tau2": 3.0,
                                                   "erev": 0.0})
    write_json(os.path.join(syn, "inh_syn.json"), {"level_of_detail": "exp2syn", "tau1": 1.0, "tau2": 8.0,
                                                   "erev": -75.0})

    rng = np.random.default_rng(seed)
    net = NetworkBuilder("bio", seed=seed)
    pos = placement.column(n_exc + n_inh, height=200.0, max_radius=150.0, rng=rng)
    common = dict(model_type="biophysical", model_template="ctdb:Biophys1.hoc", model_processing="aibs_allactive",
                  morphology="ballstick.swc", dynamics_params="hh_ballstick.json")
    net.add_nodes(N=n_exc, positions=pos[:n_exc], rotation_angle_yaxis=rng.uniform(0, 2 * np.pi, n_exc),
                  ei="e", pop_name="BallStickE", **common)
    net.add_nodes(N=n_inh, positions=pos[n_exc:], rotation_angle_yaxis=rng.uniform(0, 2 * np.pi, n_inh),
                  ei="i", pop_name="BallStickI", **common)
    net.add_edges(source={"ei": "e"}, target=net.nodes(), connection_rule=FixedProbability(0.3, nsyns=2),
                  syn_weight=0.0005, delay=2.0, target_sections=["dend", "apic"],
                  distance_range=[0.0, 300.0], dynamics_params="exc_syn.json", model_template="exp2syn")
    net.add_edges(source={"ei": "i"}, target=net.nodes(), connection_rule=FixedProbability(1.0, nsyns=2),
                  syn_weight=0.004, delay=1.0, target_sections=["soma", "dend"],
                  distance_range=[0.0, 50.0], dynamics_params="inh_syn.json", model_template="exp2syn")
    inputs = NetworkBuilder("input", seed=seed)
    inputs.add_nodes(N=n_input, model_type="virtual", pop_name="poisson_input", ei="e")
    inputs.add_edges(target=net.nodes(), connection_rule=FixedInDegree(min(20, n_input), nsyns=3),
                     syn_weight=float(input_weight), delay=2.0, target_sections=["dend", "apic"],
                     distance_range=[0.0, 200.0],
                     dynamics_params="exc_syn.json", model_template="exp2syn")
    save_networks(d, net, inputs)
    write_poisson_input(d, "input", n_input, input_rate, tstop, seed)

    circuit = {
        "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network", "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {"morphologies_dir": "$COMPONENTS_DIR/morphologies",
                       "biophysical_neuron_models_dir": "$COMPONENTS_DIR/biophysical_neuron_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": network_files(["bio", "input"], [("bio", "bio"), ("input", "bio")]),
    }
    reported = sorted({0, 1, n_exc} & set(range(n_exc + n_inh)))  # cells of the network only
    simulation = {
        "manifest": {"$BASE_DIR": ".", "$OUTPUT_DIR": "$BASE_DIR/output", "$INPUT_DIR": "$BASE_DIR/inputs"},
        "target_simulator": "NEURON",
        "run": {"tstop": float(tstop), "dt": float(dt), "dL": 20.0, "spike_threshold": -15.0},
        "conditions": {"celsius": 6.3, "v_init": -65.0},
        "inputs": {"input_spikes": {"input_type": "spikes", "module": "sonata",
                                    "input_file": "$INPUT_DIR/input_spikes.h5", "node_set": "input"}},
        "reports": {"membrane_potential": {"cells": {"population": "bio", "node_id": reported},
                                           "variable_name": "v", "module": "membrane_report",
                                           "sections": "soma"}},
        "output": {"output_dir": "$OUTPUT_DIR", "log_file": "log.txt", "spikes_file": "spikes.h5",
                   "overwrite_output_dir": False},
        "network": "config.circuit.json",
    }
    return write_configs(d, circuit, simulation)
