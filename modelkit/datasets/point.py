"""A balanced network of point neurons (NEST): :func:`balanced_network`.

It writes a complete SONATA model (nodes, edges, cell and synapse parameter files, an input
spike file, circuit and simulation configs) that modelkit and bmtk's PointNet both run.
"""

from __future__ import annotations

import os

import numpy as np

from modelkit._typing import PathLike
from modelkit.datasets._files import (fresh_folder, network_files, save_networks, write_configs, write_json,
                                      write_poisson_input)

__all__ = ["balanced_network"]

#: leaky integrate-and-fire cells with delta synapses (weights are PSP jumps, mV)
_CELL = {"V_th": -50.0, "V_reset": -65.0, "E_L": -65.0, "V_m": -65.0, "C_m": 250.0, "tau_m": 20.0, "t_ref": 2.0}


def balanced_network(directory: PathLike, *, n_exc: int = 800, n_inh: int = 200, n_input: int = 200,
                     input_rate: float = 15.0, tstop: float = 1000.0, dt: float = 0.1, seed: int = 0) -> str:
    """Write a Brunel-style excitatory/inhibitory network of point neurons driven by Poisson inputs.

    Cells sit in a column (radius 200 µm, height 400 µm) as ``nest:iaf_psc_delta``
    (``LIF_exc`` / ``LIF_inh``). Each cell receives 10 % of the excitatory cells
    (0.8 mV each, 1.5 ms delay), 10 % of the inhibitory ones (-6 mV) and 50 of the
    virtual ``input`` nodes (1.2 mV), whose Poisson spikes (``input_rate`` Hz, seeded)
    are written to ``inputs/input_spikes.h5``.

    Parameters
    ----------
    directory : str or PathLike
        The folder to write (see :mod:`modelkit.datasets`).
    n_exc, n_inh, n_input : int
        Cell counts.
    input_rate : float
        Poisson rate of each input node (Hz).
    tstop, dt : float
        Simulated time and resolution (ms).
    seed : int
        Seeds the positions, the connections and the input spikes.

    Returns
    -------
    str
        Path of ``config.simulation.json`` (its circuit is ``config.circuit.json``); outputs
        go to ``output/``.
    """
    from modelkit.builder import FixedInDegree, NetworkBuilder, placement

    d = fresh_folder(directory, ("inputs", "components/cell_models", "components/synaptic_models"))
    write_json(os.path.join(d, "components/cell_models/lif_exc.json"), _CELL)
    write_json(os.path.join(d, "components/cell_models/lif_inh.json"), _CELL)
    for name in ("exc_syn.json", "inh_syn.json", "input_syn.json"):
        write_json(os.path.join(d, "components/synaptic_models", name), {})

    rng = np.random.default_rng(seed)
    net = NetworkBuilder("cortex", seed=seed)
    pos = placement.column(n_exc + n_inh, height=400.0, max_radius=200.0, rng=rng)
    net.add_nodes(N=n_exc, positions=pos[:n_exc], ei="e", pop_name="LIF_exc", model_type="point_neuron",
                  model_template="nest:iaf_psc_delta", dynamics_params="lif_exc.json")
    net.add_nodes(N=n_inh, positions=pos[n_exc:], ei="i", pop_name="LIF_inh", model_type="point_neuron",
                  model_template="nest:iaf_psc_delta", dynamics_params="lif_inh.json")
    net.add_edges(source={"ei": "e"}, target=net.nodes(), connection_rule=FixedInDegree(max(1, n_exc // 10)),
                  syn_weight=0.8, delay=1.5, dynamics_params="exc_syn.json", model_template="static_synapse")
    net.add_edges(source={"ei": "i"}, target=net.nodes(), connection_rule=FixedInDegree(max(1, n_inh // 10)),
                  syn_weight=-6.0, delay=1.5, dynamics_params="inh_syn.json", model_template="static_synapse")
    inputs = NetworkBuilder("input", seed=seed)
    inputs.add_nodes(N=n_input, model_type="virtual", pop_name="poisson_input", ei="e")
    inputs.add_edges(target=net.nodes(), connection_rule=FixedInDegree(min(50, n_input)), syn_weight=1.2,
                     delay=1.0, dynamics_params="input_syn.json", model_template="static_synapse")
    save_networks(d, net, inputs)
    write_poisson_input(d, "input", n_input, input_rate, tstop, seed)

    circuit = {
        "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network", "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/cell_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": network_files(["cortex", "input"], [("cortex", "cortex"), ("input", "cortex")]),
    }
    simulation = {
        "manifest": {"$BASE_DIR": ".", "$OUTPUT_DIR": "$BASE_DIR/output", "$INPUT_DIR": "$BASE_DIR/inputs"},
        "target_simulator": "NEST",
        "run": {"tstop": float(tstop), "dt": float(dt)},
        "inputs": {"input_spikes": {"input_type": "spikes", "module": "sonata",
                                    "input_file": "$INPUT_DIR/input_spikes.h5", "node_set": "input"}},
        "reports": {"membrane_potential": {"cells": {"population": "cortex", "node_id": [0, 1, n_exc, n_exc + 1]},
                                           "variable_name": "V_m", "module": "multimeter_report"}},
        "output": {"output_dir": "$OUTPUT_DIR", "log_file": "log.txt", "spikes_file": "spikes.h5",
                   "spikes_file_csv": "spikes.csv", "overwrite_output_dir": False},
        "network": "config.circuit.json",
    }
    return write_configs(d, circuit, simulation)
