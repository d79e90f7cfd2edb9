"""The interactive loop as a new user meets it (issue 19, tutorial 11): BuilderPanel -> Simulate -> a RunPanel
slider moved -> Run; the code each widget shows, pasted in a new cell after the code that came before it, runs
and gives the same spikes (real NEST)."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.sonata import read_spikes
from modelkit.widgets import BuilderPanel

pytest.importorskip("nest", reason="the Simulate step runs NEST: pip install nest-simulator")


def _exc_inh(seed: int) -> BuilderPanel:
    """A builder with exc (80 cells, tau_m 20 ms) and inh (20 cells), added through the form."""
    panel = BuilderPanel("v1", seed=seed, plots=False)
    panel.pop_name.value, panel.n.value, panel.ei.value = "exc", 80, "e"
    panel.neuron_params.fields["tau_m"].value = 20.0
    panel.add_population()
    panel.pop_name.value, panel.n.value, panel.ei.value = "inh", 20, "i"
    panel.add_population()
    return panel


def test_the_run_panels_code_after_simulate_runs_as_pasted_and_gives_the_same_spikes(tmp_path, monkeypatch):
    """Before: the RunPanel that Simulate made showed ``run_local(config, network=network, ...)``, names that
    the builder's code does not define (``config``) or defines as another network (``network``: without the
    Poisson input, so a silent run)."""
    monkeypatch.chdir(tmp_path)
    panel = _exc_inh(2)
    panel.source.value, panel.target.value = "inh", "exc"
    panel.add_edges()
    panel.sim.tstop.value = 200.0
    run_panel = panel.simulate()
    assert run_panel is not None and run_panel.wait(180) == "done", (panel.error, run_panel and run_panel.error)
    run_panel.controls.sliders["node_types.exc.tau_m"].value = 10.0  # what dragging the slider does
    run_panel.start()
    assert run_panel.wait(180) == "done", run_panel.error
    spikes = read_spikes(run_panel.run.result.spikes_file)["v1"]
    ids, ts = np.array(spikes.node_ids), np.array(spikes.timestamps)
    assert len(ids) > 20
    assert "overrides={'node_types.exc.tau_m': 10.0}" in run_panel.code

    ns: dict = {}
    exec(panel.code, ns)  # the builder's code in a new cell (it runs its own RunPanel: wait for it)
    assert ns["run_panel"].wait(180) == "done"
    exec(run_panel.code, ns)  # then the RunPanel's, pasted as shown
    again = read_spikes(ns["run"].result.spikes_file)["v1"]
    np.testing.assert_array_equal(again.node_ids, ids)
    np.testing.assert_array_equal(again.timestamps, ts)


def test_edge_type_sliders_say_which_cells_they_connect():
    """Before: every edge type of one edge population read ``v1_to_v1: v1 -> v1, edge_type_id 102``; a user
    looking for the inhibitory weight had to guess which id was inh -> exc. The builder's queries say it."""
    from modelkit.builder import FixedProbability, NetworkBuilder
    from modelkit.simulator import tunable_parameters
    net = NetworkBuilder("v1", seed=0)
    net.add_nodes(N=8, pop_name="exc", ei="e", model_type="point_neuron", model_template="nest:iaf_psc_alpha")
    net.add_nodes(N=2, pop_name="inh", ei="i", model_type="point_neuron", model_template="nest:iaf_psc_alpha")
    net.add_edges(source={"pop_name": "inh"}, target={"pop_name": "exc"}, connection_rule=FixedProbability(1.0),
                  syn_weight=-2.0, delay=1.0, model_template="static_synapse")
    table = tunable_parameters(network=net.build())
    row = table[table.parameter == "syn_weight"].iloc[0]
    assert "pop_name=='inh' -> pop_name=='exc'" in row.description, row.description


def test_plot_morphology_is_where_the_other_plotly_figures_are():
    """``mkp.positions`` and ``mkp.degree_histogram`` are in ``modelkit.plotting.plotly``; the morphology figure
    was only in ``modelkit.plotting.morphology``, and ``modelkit.plotting``'s docstring did not name it."""
    import modelkit.plotting
    from modelkit.plotting import plotly as mkp
    from modelkit.plotting.morphology import plot_morphology
    assert mkp.plot_morphology is plot_morphology and "plot_morphology" in mkp.__all__
    assert "plot_morphology" in (modelkit.plotting.__doc__ or "")


def test_after_simulate_a_second_run_keeps_the_first_on_the_raster_and_the_table_compares_exc_and_inh(
        tmp_path, monkeypatch):
    """Before: Simulate's raster had ``keep=0`` (the earlier run vanished when Run was pressed again), and the
    rates table had one column, ``v1``: the builder puts exc and inh in one node population."""
    monkeypatch.chdir(tmp_path)
    panel = _exc_inh(4)
    panel.sim.tstop.value = 200.0
    run_panel = panel.simulate()
    assert run_panel is not None and run_panel.wait(180) == "done"
    run_panel.controls.sliders["node_types.exc.tau_m"].value = 10.0
    run_panel.start()
    assert run_panel.wait(180) == "done"
    raster = panel.namespace["raster"]
    assert [k["label"] for k in raster.kept] == ["run 1: as built"]
    first, second = (r["rates"] for r in run_panel.runs)
    assert set(first) == {"exc", "inh"} and first["exc"] > second["exc"] > 0, (first, second)
    assert "exc (Hz)" in run_panel.compare.value and "inh (Hz)" in run_panel.compare.value
    spikes = run_panel.run.spikes.rates(by="pop_name")["rate"]
    assert second == pytest.approx(spikes.to_dict())


def test_a_population_on_nests_defaults_still_gets_cell_parameter_sliders(tmp_path, monkeypatch):
    """Before: a node type without ``dynamics_params`` (BuilderPanel writes only values changed from NEST's
    defaults) had no cell-parameter slider at all; now the common ones come at NEST's defaults."""
    from modelkit.widgets.nest_model_params import nest_defaults
    monkeypatch.chdir(tmp_path)
    panel = BuilderPanel("v1", seed=5, plots=False)
    panel.pop_name.value, panel.n.value, panel.ei.value = "exc", 50, "e"
    panel.add_population()
    assert "dynamics_params" not in panel.code
    panel.sim.tstop.value = 200.0
    run_panel = panel.simulate()
    assert run_panel is not None and run_panel.wait(180) == "done"
    sliders = run_panel.controls.sliders
    default = nest_defaults("iaf_psc_alpha")
    for name in ("tau_m", "V_th", "C_m", "I_e"):
        assert sliders[f"node_types.exc.{name}"].value == pytest.approx(default[name])
    sliders["node_types.exc.tau_m"].value = 2 * default["tau_m"]  # ms: a longer integration, more spikes
    run_panel.start()
    assert run_panel.wait(180) == "done"
    first, second = (r["rates"]["exc"] for r in run_panel.runs)
    assert second > first, (first, second)
