"""BuilderPanel: the code it shows builds the same network; preview, plots, errors, saving; NEST's model list."""

from __future__ import annotations

from modelkit.sonata import Network
from modelkit.testing import assert_populations_equal
from modelkit.widgets import BuilderPanel, nest_models


def _fill(panel: BuilderPanel) -> None:
    panel.pop_name.value, panel.n.value, panel.ei.value = "exc", 80, "e"
    panel.model.value = "iaf_psc_delta"
    panel.add_nodes_button.click()
    panel.pop_name.value, panel.n.value, panel.ei.value, panel.placement.value = "inh", 20, "i", "sphere"
    panel.add_nodes_button.click()
    panel.source.value, panel.target.value, panel.rule.value = "exc", "inh", "fixed in-degree"
    panel.rule_params.fields["k"].value = 5
    panel.add_edges_button.click()
    panel.source.value, panel.target.value, panel.rule.value = "inh", "exc", "distance (gaussian)"
    panel.syn_weight.value = -2.5
    panel.add_edges_button.click()


def test_generated_code_builds_the_same_network(tmp_path):
    panel = BuilderPanel("v1", seed=7)
    _fill(panel)
    assert panel.error == "" and panel.n_nodes == 100
    network = panel.build()
    assert "network = net.build()" in panel.code and "FixedInDegree(k=5)" in panel.code
    assert "model_template='nest:iaf_psc_delta'" in panel.code and "syn_weight=-2.5" in panel.code
    ns: dict = {}
    exec(panel.code, ns)  # what a user copies into a script
    again = ns["network"]
    assert list(again.nodes) == list(network.nodes) == ["v1"]
    assert_populations_equal(again.nodes["v1"], network.nodes["v1"])
    assert list(again.edges) == list(network.edges)
    for name in network.edges:
        assert_populations_equal(again.edges[name], network.edges[name])
    assert network.nodes["v1"].positions().shape == (100, 3)
    # the views: 3D positions per pop_name, the connection matrix of the build
    assert [t.name for t in panel.positions_fig.data] == ["exc", "inh"]
    assert len(panel.positions_fig.data[0].x) == 80
    z = panel.matrix_fig.data[0].z
    assert list(panel.matrix_fig.data[0].y) == ["exc", "inh"] and z[0][1] == 5 * 20
    assert z[0][1] + z[1][0] == sum(len(e) for e in network.edges.values())

    # saving SONATA, and refusing to overwrite
    assert panel.save(str(tmp_path / "net"))
    saved = Network.load(tmp_path / "net")
    assert_populations_equal(saved.nodes["v1"], network.nodes["v1"])
    n_lines = panel.code.count("\n")
    assert not panel.save(str(tmp_path / "net"))
    assert panel.error and panel.code.count("\n") == n_lines  # a failing line is not kept


def test_preview_updates_live():
    panel = BuilderPanel("v1", seed=0, plots=False)
    panel.pop_name.value, panel.n.value = "exc", 250
    assert "+ exc" in panel.preview.value and ">250<" in panel.preview.value
    assert "data-total='0'" in panel.preview.value
    panel.add_population()
    assert "data-total='250'" in panel.preview.value
    panel.source.value, panel.target.value = "exc", "exc"
    panel.rule.value = "fixed probability"
    panel.rule_params.fields["p"].value = 0.2
    assert f"~{0.2 * (250 * 250 - 250):.0f}" in panel.preview.value  # expected edges, no autapses
    panel.rule_params.fields["p"].value = 0.1
    assert f"~{0.1 * (250 * 250 - 250):.0f}" in panel.preview.value


def test_bad_input_is_shown_and_not_kept():
    panel = BuilderPanel("v1", plots=False)
    panel.add_population()
    panel.rule.value = "fixed probability"
    panel.rule_params.fields["p"].value = 1.5
    before = panel.code
    assert not panel.add_edges()
    assert "p" in panel.error and panel.code == before and "color:#b00" in panel.message.value
    panel.pop_name.value = " "
    assert not panel.add_population() and "pop_name" in panel.error


def test_nest_models_come_from_a_child_process():
    import subprocess
    import sys
    code = ("import sys; from modelkit.widgets.nest_model_names import _read, _nest_version; _read.cache_clear(); "
            "from modelkit.widgets import nest_models; m = nest_models(); "
            "assert 'iaf_psc_alpha' in m and 'aeif_cond_exp' in m and 'spike_recorder' not in m, m; "
            "assert 'static_synapse' in nest_models('synapse'); "
            "assert 'nest' not in sys.modules, 'the list was read by importing NEST here'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert "iaf_psc_alpha" in nest_models()
