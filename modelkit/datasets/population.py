"""Excitatory and inhibitory population-density models driven by a time-varying rate: :func:`population_network`."""

from __future__ import annotations

import os

from modelkit._typing import PathLike
from modelkit.datasets._files import fresh_folder, save_networks, network_files, write_json

__all__ = ["population_network"]

_EXC = {"tau_m": 20.0, "V_th": -50.0, "V_reset": -70.0, "E_L": -70.0, "t_ref": 2.0}
_INH = {"tau_m": 10.0, "V_th": -50.0, "V_reset": -70.0, "E_L": -70.0, "t_ref": 1.0}


def population_network(directory: PathLike, *, tstop: float = 500.0, dt: float = 0.1) -> str:
    """Write an E/I pair of leaky integrate-and-fire population densities driven by a stepped input rate.

    ``cortex`` holds two ``lif_density`` populations (``exc``: tau_m 20 ms; ``inh``: tau_m 10 ms);
    a virtual ``drive`` node's rate steps from 8 Hz to 12 Hz at ``tstop / 2`` (100 synapses onto every
    neuron, jumps of 1 mV, 1 ms delay); every neuron gets 50 synapses from exc (+0.5 mV onto inh, +0.2 mV
    onto exc) and exc gets 20 from inh (−0.5 mV).  The run writes population rates every ms to
    ``output/rates.h5``.

    Parameters
    ----------
    directory : str or PathLike
        The folder to write (see :mod:`modelkit.datasets`).
    tstop, dt : float
        Simulated time and time step (ms).

    Returns
    -------
    str
        Path of ``config.simulation.json``.
    """
    from modelkit.builder import NetworkBuilder

    d = fresh_folder(directory, ("components/population_models",))
    write_json(os.path.join(d, "components/population_models/exc.json"), _EXC)
    write_json(os.path.join(d, "components/population_models/inh.json"), _INH)
    net = NetworkBuilder("cortex")
    net.add_nodes(pop_name="exc", model_type="population", model_template="lif_density", dynamics_params="exc.json")
    net.add_nodes(pop_name="inh", model_type="population", model_template="lif_density", dynamics_params="inh.json")
    for src, tgt, w, n in (("exc", "inh", 0.5, 50), ("inh", "exc", -0.5, 20), ("exc", "exc", 0.2, 50)):
        net.add_edges(source={"pop_name": src}, target={"pop_name": tgt}, connection_rule=n, syn_weight=w,
                      delay=1.0)
    drive = NetworkBuilder("drive")
    drive.add_nodes(pop_name="poisson", model_type="virtual")
    drive.add_edges(target=net.nodes(), connection_rule=100, syn_weight=1.0, delay=1.0)
    save_networks(d, net, drive)
    half = float(tstop) / 2
    cfg = {
        "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network", "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "target_simulator": "DiPDE",
        "run": {"tstop": float(tstop), "dt": float(dt)},
        "components": {"population_models_dir": "$COMPONENTS_DIR/population_models"},
        "networks": network_files(["cortex", "drive"], [("cortex", "cortex"), ("drive", "cortex")]),
        "inputs": {"drive": {"input_type": "rates", "module": "time_series", "node_set": "drive",
                             "times": [0.0, half - 1e-6, half, float(tstop)], "rates": [8.0, 8.0, 12.0, 12.0]}},
        "reports": {"rates": {"module": "population_rates", "cells": "cortex", "dt": 1.0}},
        "output": {"output_dir": "$BASE_DIR/output", "log_file": "log.txt", "overwrite_output_dir": False},
    }
    path = os.path.join(d, "config.simulation.json")
    write_json(path, cfg)
    return path
