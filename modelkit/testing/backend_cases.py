"""Small networks for :func:`modelkit.testing.check_backend`, one per built-in backend.

Each builder writes what its network needs into a folder and returns a :class:`BackendCase`: the network,
the variable the backend records, the inputs every run of it needs (the filter cells watch a movie) and the
run settings.  The networks build and run in well under a second each once the simulator is imported, so
that the conformance suite over every built-in backend stays short.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from modelkit._typing import PathLike

if TYPE_CHECKING:
    from modelkit.builder import NetworkBuilder
    from modelkit.sonata import Network

__all__ = ["BackendCase", "NetworkLike", "BUILTIN_CASES", "builtin_case"]

#: what ``check_backend`` accepts as a network: a NetworkBuilder, a Network, a list of them (merged), or the
#: path of a circuit config
NetworkLike = Union["NetworkBuilder", "Network", Sequence[Any], PathLike]


@dataclass(frozen=True)
class BackendCase:
    """A network for the conformance checks and what a run of it needs.

    Attributes
    ----------
    network : NetworkBuilder, Network, list of them, or str
        The cells (and the virtual nodes that drive them); a str or PathLike is a circuit config.
    variable : str or None
        A variable the backend records for a membrane report (``V_m``, ``v``, ``rate``); None: it records none.
    inputs : mapping
        ``inputs`` entries every run needs (a movie for filter cells), besides the ones the checks add.
    config : mapping
        More simulation-config keys (``target_simulator``, ``conditions``, ``run`` extras such as
        ``spike_threshold``).
    report : mapping
        More keys of the membrane report (``sections``).
    spike_inputs : bool
        The cells take spike trains of virtual nodes (spike files, Poisson inputs); False: such inputs must
        be refused with an error naming the input.
    spiking : bool
        The cells emit spikes (a driven run writes some); False: the spikes file is written empty.
    tstop, dt : float
        Simulated time and time step (ms).
    report_dt : float
        Sampling interval of the membrane report (ms), a multiple of ``dt``.
    clamp_amp : float
        Current of the clamp check (nA).
    """

    network: NetworkLike
    variable: str | None
    inputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    report: Mapping[str, Any] = field(default_factory=dict)
    spike_inputs: bool = True
    spiking: bool = True
    tstop: float = 100.0
    dt: float = 0.1
    report_dt: float = 1.0
    clamp_amp: float = 0.5


def nest_case(folder: Path) -> BackendCase:
    """10 ``iaf_psc_delta`` point neurons, sparsely coupled, driven by 20 virtual nodes (in memory).

    Parameters
    ----------
    folder : Path
        Unused (the network lives in memory).
    """
    from modelkit.builder import FixedInDegree, NetworkBuilder

    cell = {"V_th": -55.0, "E_L": -70.0, "V_m": -70.0, "V_reset": -70.0, "C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0}
    net = NetworkBuilder("cells", seed=1)
    net.add_nodes(N=10, model_type="point_neuron", model_template="nest:iaf_psc_delta", dynamics_params=cell)
    net.add_edges(source=net.nodes(), target=net.nodes(), connection_rule=FixedInDegree(2), syn_weight=0.5,
                  delay=1.5, model_template="static_synapse", dynamics_params={})
    inputs = NetworkBuilder("input", seed=1)
    inputs.add_nodes(N=20, model_type="virtual")
    inputs.add_edges(target=net.nodes(), connection_rule=FixedInDegree(5), syn_weight=4.0, delay=1.0,
                     model_template="static_synapse", dynamics_params={})
    return BackendCase(network=[inputs, net], variable="V_m", config={"target_simulator": "NEST"})


def neuron_case(folder: Path) -> BackendCase:
    """3 biophysical ball-and-stick cells (NEURON's built-in ``hh`` and ``pas``) driven by 6 virtual nodes.

    Parameters
    ----------
    folder : Path
        Where :func:`modelkit.datasets.bio_network` writes the network, morphology and parameter files.
    """
    from modelkit.datasets import bio_network

    sim = bio_network(folder / "bio", n_exc=2, n_inh=1, n_input=6, input_weight=0.004, tstop=100.0)
    return BackendCase(network=os.path.join(os.path.dirname(sim), "config.circuit.json"), variable="v",
                       config={"target_simulator": "NEURON", "conditions": {"celsius": 6.3, "v_init": -65.0},
                               "run": {"dL": 20.0, "spike_threshold": -15.0}},
                       report={"sections": "soma"}, dt=0.025, clamp_amp=0.5)


def filter_case(folder: Path) -> BackendCase:
    """6 transient-ON LGN filter units watching a drifting grating (in memory).

    Parameters
    ----------
    folder : Path
        Unused (the network lives in memory).
    """
    from modelkit.builder import NetworkBuilder

    ton = {"opt_wts": [4.21848979193672, -2.404989833331929],
           "opt_kpeaks": [8.524645232832142, 23.246816713624384], "opt_delays": [0, 0]}
    rng = np.random.default_rng(2)
    lgn = NetworkBuilder("lgn", seed=2)
    lgn.add_nodes(N=6, model_type="virtual", model_template="lgnmodel:tON_TF8", dynamics_params=ton,
                  x=rng.uniform(10, 50, 6), y=rng.uniform(10, 30, 6), spatial_size=6.0, spont_fr=20.0)
    grating = {"input_type": "movie", "module": "grating", "row_size": 40, "col_size": 60, "cpd": 0.04,
               "temporal_f": 4.0, "contrast": 0.8, "degrees_per_pixel": 1.0, "frame_rate": 1000.0}
    return BackendCase(network=lgn, variable="rate", inputs={"grating": grating},
                       config={"target_simulator": "LGNModel"}, spike_inputs=False, tstop=300.0, dt=1.0,
                       report_dt=5.0)


def population_case(folder: Path) -> BackendCase:
    """An excitatory and an inhibitory LIF population density, coupled, driven by one virtual node (in memory).

    Parameters
    ----------
    folder : Path
        Unused (the network lives in memory).
    """
    from modelkit.builder import NetworkBuilder

    exc = {"tau_m": 20.0, "V_th": -50.0, "V_reset": -70.0, "E_L": -70.0, "t_ref": 2.0}
    inh = {"tau_m": 10.0, "V_th": -50.0, "V_reset": -70.0, "E_L": -70.0, "t_ref": 1.0}
    net = NetworkBuilder("cortex")
    net.add_nodes(pop_name="exc", model_type="population", model_template="lif_density", dynamics_params=exc)
    net.add_nodes(pop_name="inh", model_type="population", model_template="lif_density", dynamics_params=inh)
    for src, tgt, w, n in (("exc", "inh", 0.5, 50), ("inh", "exc", -0.5, 20)):
        net.add_edges(source={"pop_name": src}, target={"pop_name": tgt}, connection_rule=n, syn_weight=w,
                      delay=1.0)
    drive = NetworkBuilder("drive")
    drive.add_nodes(N=1, model_type="virtual")
    drive.add_edges(target=net.nodes(), connection_rule=100, syn_weight=1.0, delay=1.0)
    return BackendCase(network=[drive, net], variable="firing_rate", spiking=False)


#: built-in backend name -> builder of its conformance case (a folder to write into -> BackendCase)
BUILTIN_CASES: dict[str, Callable[[Path], BackendCase]] = {
    "nest": nest_case,
    "neuron": neuron_case,
    "filter": filter_case,
    "population": population_case,
}


def builtin_case(name: str, folder: PathLike) -> BackendCase:
    """The conformance case of the built-in backend ``name``, its files written into ``folder``.

    Parameters
    ----------
    name : str
        A key of :data:`BUILTIN_CASES`.
    folder : str or PathLike
        Created if needed.

    Raises
    ------
    KeyError
        ``name`` has no case here (pass ``network=`` to :func:`check_backend`).
    """
    if name not in BUILTIN_CASES:
        raise KeyError(f"no conformance network for backend {name!r} (built-in cases: {sorted(BUILTIN_CASES)}); "
                       f"pass network= and variable= to check_backend")
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    return BUILTIN_CASES[name](d)
