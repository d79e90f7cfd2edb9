"""The BuilderPanel's "Simulate" step: the code that hands the network built in memory to a RunPanel.

Nothing is saved: the network is ``net.build()`` in memory, a second builder holds the virtual nodes of
a Poisson input (``module: poisson`` in a config dict), and :class:`~modelkit.widgets.RunPanel` runs
both in a child process (:func:`~modelkit.cluster.run_local`, ``network=`` the two merged in memory, as
``simulate`` merges a list, so that the RunPanel sees one network), feeding a
:class:`~modelkit.widgets.LiveRaster`. The run's output folder is the only thing written.
"""

from __future__ import annotations

from typing import Any

from modelkit.widgets._deps import require

ipw = require("ipywidgets")

__all__ = ["SimulateForm", "simulate_lines", "INPUT_WEIGHT", "BIO_INPUT"]

#: default input weights: about 16 Hz in iaf_psc_alpha (pA) and 7 Hz in iaf_cond_alpha (nS) with NEST's
#: defaults, 20 inputs at 50 Hz per cell (measured with the panel: 40/50/60/70 pA gave 0.1/4.7/16/31 Hz,
#: 6/8/10 nS gave 6.7/29/51 Hz)
INPUT_WEIGHT = {"current": 60.0, "conductance": 6.0, "biophysical": 0.001}
#: the input synapse onto biophysical cells (NEURON's Exp2Syn, bmtk's AMPA_ExcToExc values; µS weights)
BIO_INPUT = {"model_template": "exp2syn", "dynamics_params": {"level_of_detail": "exp2syn", "tau1": 1.0,
                                                                "tau2": 3.0, "erev": 0.0},
             "target_sections": ["somatic", "basal"], "distance_range": [0.0, 1e20]}


def simulate_lines(name: str, seed: int, *, tstop: float, dt: float, rate: float, n_inputs: int, k: int,
                   weight: float, delay: float, output_dir: str, components: dict[str, str] | None = None) -> list[str]:
    """The Python lines of "Simulate" (they run in the panel's namespace, where ``net`` is the builder).

    Parameters
    ----------
    name : str
        The network's population name (the input population is ``<name>_input``).
    seed : int
        Seed of the input builder and of the run (same seed, same spikes).
    tstop, dt : float
        Run length and time step (ms).
    rate : float
        Rate of each Poisson input node (Hz).
    n_inputs : int
        Virtual input nodes.
    k : int
        Input nodes per target node (``FixedInDegree``).
    weight, delay : float
        Input synapses' weight (pA for current-based NEST models, nS for conductance-based) and delay (ms).
    output_dir : str
        The run's output folder (replaced at each run).
    components : dict of str to str, optional
        The config's ``components`` (folders of morphologies, parameter files, mechanisms): the network is
        biophysical (NEURON), and the inputs reach it through :data:`BIO_INPUT` synapses (weight in µS).

    Returns
    -------
    list of str
        Code lines; they define ``network``, ``inputs``, ``sim_config``, ``sim_network``, ``raster`` and
        ``run_panel``.
    """
    inp = f"{name}_input"
    config = {"run": {"tstop": float(tstop), "dt": float(dt)},
              "inputs": {"poisson": {"input_type": "spikes", "module": "poisson", "node_set": inp,
                                     "rate": float(rate)}},
              "output": {"output_dir": output_dir}}
    syn = "model_template='static_synapse'"
    if components is not None:
        config["components"] = dict(components)
        syn = ", ".join(f"{k}={v!r}" for k, v in BIO_INPUT.items())
    return [
        "# Simulate: the network built in memory, a Poisson input, a run in a child process (no files but its output)",
        "from modelkit.sonata import Network",
        "from modelkit.widgets import LiveRaster, RunPanel",
        "network = net.build()",
        f"inputs = NetworkBuilder({inp!r}, seed={seed})",
        f"inputs.add_nodes(N={int(n_inputs)}, model_type='virtual', pop_name='poisson')",
        f"inputs.add_edges(target=net.nodes(), connection_rule=FixedInDegree(k={int(k)}), "
        f"syn_weight={float(weight)!r}, delay={float(delay)!r}, {syn})",
        f"sim_config = {config!r}",
        "# one in-memory network of both (what simulate does with a list): RunPanel reads its parameters",
        "input_network = inputs.build()",
        "sim_network = Network({**network.nodes, **input_network.nodes}, {**network.edges, **input_network.edges})",
        "raster = LiveRaster(network=network, group_by='pop_name', keep=2)  # the last two runs stay, faint",
        f"run_panel = RunPanel(sim_config, network=sim_network, views=[raster], seed={seed}, overwrite=True,",
        "                     rates_by='pop_name', code_names={'config': 'sim_config', 'network': 'sim_network'})",
        "run_panel.start()  # what its Run button does; display(run_panel, raster) shows them in a cell",
    ]


class SimulateForm(ipw.VBox):
    """Fields of the "Simulate" step: run length, time step, Poisson input, output folder."""

    def __init__(self) -> None:
        style = {"description_width": "initial"}

        def num(cls: Any, value: float, desc: str, css: str, **kw: Any) -> Any:
            w = cls(value=value, description=desc, style=style, layout=ipw.Layout(width="150px"), **kw)
            w.add_class(css)
            return w
        self.tstop = num(ipw.BoundedFloatText, 1000.0, "tstop (ms)", "mk-sim-tstop", min=1.0, max=1e9)
        self.dt = num(ipw.BoundedFloatText, 0.1, "dt (ms)", "mk-sim-dt", min=0.001, max=10.0)
        self.rate = num(ipw.BoundedFloatText, 50.0, "input rate (Hz)", "mk-sim-rate", min=0.0, max=1e5)
        self.n_inputs = num(ipw.BoundedIntText, 100, "inputs N", "mk-sim-n-inputs", min=1, max=10**7)
        self.k = num(ipw.BoundedIntText, 20, "inputs per cell", "mk-sim-k", min=1, max=10**6)
        self.weight = num(ipw.FloatText, INPUT_WEIGHT["current"], "input weight", "mk-sim-weight",
                          tooltip="pA for current-based NEST models, nS for conductance-based ones, "
                                  "µS for biophysical cells (NEURON)")
        self._suggested = self.weight.value
        self.delay = num(ipw.BoundedFloatText, 1.0, "input delay (ms)", "mk-sim-delay", min=0.001, max=1e4)
        self.output_dir = ipw.Text(value="output", description="output", style=style,
                                   layout=ipw.Layout(width="200px"))
        self.button = ipw.Button(description="Simulate", icon="play", button_style="success",
                                 tooltip="run the network built in memory (nothing saved but the run's output)")
        self.button.add_class("mk-builder-simulate")
        # the RunPanel and its raster go here; 4 px narrower than the panel, since LiveRaster's figure is
        # 100% of its box wide plus the widgets' 2 px margin, which would reach past the cell's edge
        self.slot = ipw.VBox(layout=ipw.Layout(width="calc(100% - 4px)"))
        self.slot.add_class("mk-builder-run")
        wrap = ipw.Layout(flex_flow="row wrap", width="100%")
        super().__init__(children=[
            ipw.HTML("<b>Simulate</b> <span style='color:#888'>(a Poisson input drives every node)</span>"),
            ipw.HBox([self.tstop, self.dt, self.rate, self.n_inputs, self.k, self.weight, self.delay,
                      self.output_dir], layout=wrap),
            self.button, self.slot], layout=ipw.Layout(width="100%"))
        self.add_class("mk-builder-sim")

    def suggest_weight(self, kind: str) -> None:
        """Set the input weight for the targets' kind, unless the user typed one.

        Parameters
        ----------
        kind : str
            A key of :data:`INPUT_WEIGHT`: ``"current"`` (NEST, pA), ``"conductance"`` (every NEST population
            conductance-based, nS) or ``"biophysical"`` (NEURON, µS).
        """
        if self.weight.value == self._suggested:
            self.weight.value = self._suggested = INPUT_WEIGHT[kind]

    def values(self) -> dict[str, Any]:
        """The keyword arguments of :func:`simulate_lines` the fields give (name and seed aside)."""
        return {"tstop": self.tstop.value, "dt": self.dt.value, "rate": self.rate.value,
                "n_inputs": self.n_inputs.value, "k": self.k.value, "weight": self.weight.value,
                "delay": self.delay.value, "output_dir": self.output_dir.value.strip() or "output"}
