"""NetworkExplorer: populations, types with their parameters, 3D positions, connectivity, a run's activity
and reports; every view's code, run in a fresh interpreter, draws the same figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from modelkit import simulate
from modelkit.analysis import SpikeTable
from modelkit.datasets import balanced_network
from modelkit.sonata import Network
from modelkit.widgets import NetworkExplorer

pio = pytest.importorskip("plotly.io", reason="plotly is not installed: pip install 'modelkit[jupyter]'")

#: runs each code in its own namespace, in a fresh interpreter; prints the figures' data / tables as JSON
FRESH = """
import json, sys
import plotly.io as pio
out = {}
for key, (code, names) in json.load(sys.stdin).items():
    ns = {}
    exec(code, ns)
    out[key] = {n: json.loads(pio.to_json(ns[n]))["data"] if hasattr(ns[n], "to_plotly_json")
                else json.loads(ns[n].to_json()) for n in names}
print(json.dumps(out))
"""


def _data(fig) -> list:
    """A figure's traces as JSON, without the ids a FigureWidget gives its traces."""
    return [{k: v for k, v in t.items() if k != "uid"} for t in json.loads(pio.to_json(fig))["data"]]


def _run_fresh(codes: dict[str, tuple[str, list[str]]]) -> dict:
    p = subprocess.run([sys.executable, "-c", FRESH], input=json.dumps(codes), capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    return {k: {n: _strip(v) for n, v in d.items()} for k, d in out.items()}


def _strip(v):
    return [{k: x for k, x in t.items() if k != "uid"} for t in v] if isinstance(v, list) else v


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A small balanced network and its run: (config, RunResult)."""
    cfg = balanced_network(tmp_path_factory.mktemp("explorer") / "net", n_exc=80, n_inh=20, n_input=30,
                           tstop=200.0)
    return cfg, simulate(cfg)


def test_browse_network_and_reports(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=30, tstop=200.0)
    ex = NetworkExplorer(cfg)
    assert list(ex.populations.options) == ["nodes/cortex", "nodes/input", "edges/cortex_to_cortex",
                                            "edges/input_to_cortex"]
    assert ex.selected == "nodes/cortex" and "100 nodes" in ex.details.value and "LIF_exc" in ex.details.value
    assert "positions: yes" in ex.details.value
    assert "pop_name" in ex.property_picker.options
    ex.property_picker.value = "pop_name"
    assert "LIF_exc" in ex.property_view.value and ">80<" in ex.property_view.value
    ex.populations.value = "nodes/input"
    assert "positions: no" in ex.details.value
    ex.populations.value = "edges/cortex_to_cortex"
    assert "cortex &rarr; cortex" in ex.details.value and "syn_weight" in ex.property_picker.options
    ex.property_picker.value = "syn_weight"
    assert "mean" in ex.property_view.value
    assert "no output yet" in ex.reports.value
    assert "no run attached" in ex.activity.message.value

    result = simulate(cfg)
    ex = NetworkExplorer(cfg)
    n = sum(result.n_spikes.values())
    assert f"{n} spikes" in ex.reports.value and "membrane_potential.h5" in ex.reports.value
    assert ex.activity.source == cfg and len(ex.activity.raster_figure.data)  # the config's run, attached


def test_dynamics_params_are_values_not_file_names(ran):
    cfg, _ = ran
    ex = NetworkExplorer(cfg)
    details = ex.details.value
    # lif_exc.json holds tau_m 20 ms, C_m 250 pF ...: the table shows them; the file is named once, as the source
    assert ">tau_m<" in details and ">C_m<" in details and ">250<" in details
    assert details.count("lif_exc.json") == 1 and "(from lif_exc.json, lif_inh.json)" in details
    assert ex.params.loc[100, "tau_m"] == 20.0
    assert "dynamics_params" not in ex.property_picker.options  # the file names are not offered as a property
    assert "params = type_params(net, 'cortex')" in ex.code
    assert "type_params(net, &#x27;cortex&#x27;)" in ex.code_view.value


def test_views_draw_when_first_shown(ran):
    cfg, _ = ran
    ex = NetworkExplorer(cfg, max_points=40)
    assert not ex.positions.drawn and len(ex.positions.figure.data) == 0
    assert not ex.connectivity.drawn and len(ex.connectivity.matrix_figure.data) == 0
    ex.show("3D")
    assert ex.positions.drawn and ex.positions.error == ""
    assert sum(len(t.x) for t in ex.positions.figure.data) == 40  # 100 cortex cells, sampled
    assert "40 of 100 nodes (seeded sample)" in ex.positions.figure.layout.title.text
    assert "max_points=40" in ex.positions.code
    ex.tabs.selected_index = ex.TABS.index("Connectivity")  # a click on the tab
    assert ex.connectivity.drawn and ex.connectivity.matrix_figure.data[0].type == "heatmap"
    with pytest.raises(ValueError, match="tab must be one of"):
        ex.show("Morphology")


def test_every_view_shows_code_that_draws_the_same_fresh(ran):
    cfg, result = ran
    ex = NetworkExplorer(cfg)
    ex.show("3D")
    ex.positions.color_picker.value = "ei"            # as a user picks them in the dropdowns
    ex.positions.set_picker.value = "cortex"
    ex.positions.others_picker.value = "hide"
    assert "fig = mkp.positions(net, color_by='ei', node_set='cortex', others='hide')" in ex.positions.code
    assert [t.name for t in ex.positions.figure.data] == ["e (80)", "i (20)"]
    ex.show("Connectivity")
    ex.connectivity.weight_picker.value = "syn_weight"
    ex.connectivity.edges_picker.value = "input_to_cortex"
    ex.connectivity.direction_picker.value = "out"
    assert "weight='syn_weight'" in ex.connectivity.code and "direction='out'" in ex.connectivity.code
    ex.show("Activity")
    ex.activity.kind_picker.value = "hist"
    assert f"config_file={cfg!r}" in ex.activity.code
    ex.populations.value = "edges/input_to_cortex"
    codes = {"positions": (ex.positions.code, ["fig"]), "connectivity": (ex.connectivity.code, ["matrix", "degrees"]),
             "activity": (ex.activity.code, ["raster", "rates"]), "params": (ex.code, ["params"])}
    attached = NetworkExplorer(cfg)
    attached.attach(result)  # the run of the explorer's own config: shown through the config (its window)
    assert attached.tabs.selected_index == attached.TABS.index("Activity")
    assert f"raster = mkp.raster(config_file={cfg!r}, group_by='pop_name')" in attached.activity.code
    on_files = NetworkExplorer(Network.load(os.path.join(os.path.dirname(cfg), "network")))
    on_files.attach(result)  # a network without a config: the spikes file, the run's window from the result
    assert f"raster = mkp.raster({result.spikes_file!r}, network=net, time_range=(0.0, 200.0), group_by=" \
        in on_files.activity.code
    codes["attached"] = (on_files.activity.code, ["raster", "rates"])
    # the same rates either way (Hz over the run's 200 ms, not over the span of its spikes)
    rates = attached.activity.rates_figure.data[0].y
    assert list(on_files.activity.rates_figure.data[0].y) == pytest.approx(list(rates))

    fresh = _run_fresh(codes)
    assert fresh["positions"]["fig"] == _data(ex.positions.figure)
    assert fresh["connectivity"]["matrix"] == _data(ex.connectivity.matrix_figure)
    assert fresh["connectivity"]["degrees"] == _data(ex.connectivity.degree_figure)
    assert fresh["activity"]["raster"] == _data(ex.activity.raster_figure)
    assert fresh["activity"]["rates"] == _data(ex.activity.rates_figure)
    assert fresh["attached"]["raster"] == _data(on_files.activity.raster_figure)
    assert fresh["attached"]["rates"] == _data(on_files.activity.rates_figure)
    assert fresh["params"]["params"] == json.loads(ex.params.to_json())


def test_attach_a_table_in_memory(ran):
    cfg, result = ran
    ex = NetworkExplorer(cfg)
    table = SpikeTable.from_frame(SpikeTable.read(result.spikes_file).to_frame())
    ex.attach(table)
    assert ex.activity.error == "" and len(ex.activity.raster_figure.data)
    assert "# spikes: the SpikeTable you attached" in ex.activity.code
    assert "raster = mkp.raster(spikes, network=net" in ex.activity.code


def test_traits_drive_the_controls_and_errors_are_shown_not_raised(ran, tmp_path):
    cfg, _ = ran
    ex = NetworkExplorer(cfg)
    ex.show("3D")
    ex.positions.node_set = "cortex"
    assert ex.positions.set_picker.value == "cortex"
    ex.positions.node_set = ""  # back to all nodes: the dropdown's "all nodes" option
    assert ex.positions.set_picker.value == "" and "node_set" not in ex.positions.code
    ex.show("Connectivity")
    code = ex.connectivity.code
    ex.connectivity.group_by = "model_template"  # the virtual input population has no model_template
    assert "model_template" in ex.connectivity.error and "input" in ex.connectivity.message.value
    assert ex.connectivity.code == code  # the code stays that of what is drawn
    ex.connectivity.group_by = "pop_name"
    assert ex.connectivity.error == ""


def test_a_network_without_edges_or_positions(tmp_path):
    from modelkit.sonata import Network, NodePopulationData, write_nodes
    write_nodes(tmp_path / "a_nodes.h5", [NodePopulationData.from_columns("a", [1, 1], {})])
    (tmp_path / "a_node_types.csv").write_text("node_type_id model_type\n1 virtual\n")
    ex = NetworkExplorer(Network.load(tmp_path))
    ex.show("3D")
    assert "no node population has positions" in ex.positions.message.value
    ex.show("Connectivity")
    assert "no edges" in ex.connectivity.message.value and ex.connectivity.edges == ""


def test_node_sets_of_the_config_select_nodes_in_3d(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=30, tstop=100.0)
    (tmp_path / "net" / "node_sets.json").write_text(json.dumps({"exc": {"population": "cortex", "ei": "e"}}))
    sim = json.loads(open(cfg).read())
    sim["node_sets_file"] = "node_sets.json"
    open(cfg, "w").write(json.dumps(sim))
    ex = NetworkExplorer(cfg)
    assert ("node set exc", "exc") in ex.positions.set_picker.options
    ex.show("3D")
    ex.positions.set_picker.value = "exc"
    assert [t.name for t in ex.positions.figure.data] == ["LIF_exc (80)", "other nodes (20)"]
    assert "node_set='exc'" in ex.positions.code


def test_a_redraw_keeps_the_camera_the_user_set(ran):
    cfg, _ = ran
    ex = NetworkExplorer(cfg)
    ex.show("3D")
    first = ex.positions.figure
    first.layout.scene.camera.eye = {"x": 0.3, "y": -2.0, "z": 0.7}  # what a drag in the page sends back
    ex.positions.color_by = "ei"
    assert ex.positions.figure is not first and ex.positions.boxes["figure"].children == (ex.positions.figure,)
    assert ex.positions.figure.layout.scene.camera.eye.to_plotly_json() == {"x": 0.3, "y": -2.0, "z": 0.7}
    assert ex.positions.figure.layout.height == 520
