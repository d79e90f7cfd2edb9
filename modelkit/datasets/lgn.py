"""LGN filter units watching a drifting grating, and a V1 of point neurons they drive: :func:`lgn_network`."""

from __future__ import annotations

import os

import numpy as np

from modelkit._typing import PathLike
from modelkit.datasets._files import fresh_folder, save_networks, write_json

__all__ = ["lgn_network"]

#: FilterNet's fitted temporal filters of a transient-ON and a sustained-OFF cell (weights, peaks ms, delays ms)
_FILTERS = {
    "tON_TF8.json": {"opt_wts": [4.21848979193672, -2.404989833331929],
                     "opt_kpeaks": [8.524645232832142, 23.246816713624384], "opt_delays": [0, 0]},
    "sOFF_TF4.json": {"opt_wts": [3.229814878308509, -1.6587975171052909],
                      "opt_kpeaks": [22.246197660260687, 56.10036268151849], "opt_delays": [0, 15]},
}
_V1_CELL = {"V_th": -55.0, "E_L": -70.0, "V_m": -70.0, "V_reset": -70.0, "C_m": 250.0, "tau_m": 20.0,
            "t_ref": 2.0}


def lgn_network(directory: PathLike, *, n_lgn: int = 60, n_v1: int = 40, tstop: float = 1000.0,
                temporal_frequency: float = 4.0, seed: int = 0) -> str:
    """Write LGN filter units (ON and OFF) on a 120 × 80 degree screen, and a V1 layer they drive.

    Two simulations share the folder:

    * ``config.lgn.json`` (returned): the filter backend plays a drifting grating (0.04 cycles/degree,
      ``temporal_frequency`` Hz, contrast 0.8) to ``lgn`` (half ``lgnmodel:tON_TF8``, half
      ``lgnmodel:sOFF_TF4``, receptive fields 6 degrees) and writes rates and Poisson spikes to
      ``output_lgn/``;
    * ``config.v1.json``: NEST runs ``v1`` (``iaf_psc_alpha`` point neurons, each receiving 30 % of the LGN
      units, 250 pA, 2 ms delay) with ``output_lgn/spikes.h5`` as its spike input, writing ``output_v1/``.

    Parameters
    ----------
    directory : str or PathLike
        The folder to write (see :mod:`modelkit.datasets`).
    n_lgn, n_v1 : int
        Unit and cell counts.
    tstop : float
        Simulated time (ms) of both runs.
    temporal_frequency : float
        Drift rate of the grating (Hz).
    seed : int
        Seeds the receptive-field positions, the connections and the Poisson spikes.

    Returns
    -------
    str
        Path of ``config.lgn.json``.
    """
    from modelkit.builder import FixedProbability, NetworkBuilder

    d = fresh_folder(directory, ("components/filter_models", "components/point_neuron_models"))
    for name, params in _FILTERS.items():
        write_json(os.path.join(d, "components/filter_models", name), params)
    write_json(os.path.join(d, "components/point_neuron_models/v1_lif.json"), _V1_CELL)

    rng = np.random.default_rng(seed)
    lgn = NetworkBuilder("lgn", seed=seed)
    n_on = n_lgn // 2
    for n, kind, model in ((n_on, "ON", "tON_TF8"), (n_lgn - n_on, "OFF", "sOFF_TF4")):
        lgn.add_nodes(N=n, model_type="virtual", model_template=f"lgnmodel:{model}", pop_name=f"LGN_{kind}",
                      dynamics_params=f"{model}.json", x=rng.uniform(10.0, 110.0, n), y=rng.uniform(10.0, 70.0, n),
                      spatial_size=6.0, spont_fr=4.0)
    v1 = NetworkBuilder("v1", seed=seed)
    v1.add_nodes(N=n_v1, model_type="point_neuron", model_template="nest:iaf_psc_alpha", pop_name="V1_LIF",
                 dynamics_params="v1_lif.json")
    lgn.add_edges(target=v1.nodes(), connection_rule=FixedProbability(0.3), syn_weight=250.0, delay=2.0,
                  model_template="static_synapse", dynamics_params="static.json")
    write_json(os.path.join(d, "components/point_neuron_models/static.json"), {})
    save_networks(d, lgn, v1)

    manifest = {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network", "$COMPONENTS_DIR": "$BASE_DIR/components"}
    lgn_nodes = {"nodes_file": "$NETWORK_DIR/lgn_nodes.h5", "node_types_file": "$NETWORK_DIR/lgn_node_types.csv"}
    lgn_cfg = {
        "manifest": manifest, "target_simulator": "LGNModel",
        "run": {"tstop": float(tstop), "dt": 1.0},
        "components": {"filter_models_dir": "$COMPONENTS_DIR/filter_models"},
        "networks": {"nodes": [lgn_nodes]},
        "inputs": {"grating": {"input_type": "movie", "module": "grating", "row_size": 80, "col_size": 120,
                               "gray_screen_dur": 0.0, "cpd": 0.04, "temporal_f": float(temporal_frequency),
                               "contrast": 0.8, "theta": 0.0, "degrees_per_pixel": 1.0, "frame_rate": 1000.0}},
        "output": {"output_dir": "$BASE_DIR/output_lgn", "log_file": "log.txt", "spikes_file": "spikes.h5",
                   "rates_file_h5": "rates.h5", "overwrite_output_dir": False},
    }
    v1_cfg = {
        "manifest": manifest, "target_simulator": "NEST",
        "run": {"tstop": float(tstop), "dt": 0.1},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/point_neuron_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/point_neuron_models"},
        "networks": {"nodes": [lgn_nodes, {"nodes_file": "$NETWORK_DIR/v1_nodes.h5",
                                           "node_types_file": "$NETWORK_DIR/v1_node_types.csv"}],
                     "edges": [{"edges_file": "$NETWORK_DIR/lgn_v1_edges.h5",
                                "edge_types_file": "$NETWORK_DIR/lgn_v1_edge_types.csv"}]},
        "inputs": {"lgn_spikes": {"input_type": "spikes", "module": "sonata",
                                  "input_file": "$BASE_DIR/output_lgn/spikes.h5", "node_set": "lgn"}},
        "output": {"output_dir": "$BASE_DIR/output_v1", "log_file": "log.txt", "spikes_file": "spikes.h5",
                   "overwrite_output_dir": False},
    }
    write_json(os.path.join(d, "config.v1.json"), v1_cfg)
    path = os.path.join(d, "config.lgn.json")
    write_json(path, lgn_cfg)
    return path
