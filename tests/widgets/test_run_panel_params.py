"""RunPanel's parameter sliders: Run passes the sliders moved as overrides (nothing written), earlier runs stay
on LiveRaster/LiveRates as overlays, the rates table compares the runs, and the code shown gives the same
spikes when executed fresh (real NEST, in run_local's child process)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _widget_waits import wait_idle

from modelkit.datasets import balanced_network
from modelkit.errors import ModelkitError
from modelkit.widgets import LiveRaster, LiveRates, ParamControls, RunPanel
from modelkit.widgets.param_controls import css_name, rates_table

pytest.importorskip("nest")


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> str:
    return balanced_network(tmp_path_factory.mktemp("params") / "net", n_exc=160, n_inh=40, n_input=100,
                            tstop=300.0)


def _sorted(spikes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = spikes.population_codes()
    order = np.lexsort((spikes.node_ids, spikes.timestamps, codes))
    pops = np.asarray(spikes.populations)[codes]
    return pops[order], spikes.node_ids[order], spikes.timestamps[order]


def test_controls_from_the_network(cfg: str) -> None:
    c = ParamControls(cfg)
    assert {"node_types.LIF_exc.tau_m", "node_types.LIF_inh.V_th", "edge_types.101.syn_weight",
            "edge_types.input_to_cortex.100.delay"} <= set(c.sliders)
    s = c.sliders["node_types.LIF_exc.tau_m"]
    assert (s.value, s.description) == (20.0, "tau_m ms") and s.min < 20.0 < s.max
    assert css_name("node_types.LIF_exc.tau_m") in s._dom_classes
    assert c.overrides == {} and "no parameter changed" in c.summary.value
    c.set({"node_types.LIF_exc.tau_m": 15.0})
    assert c.overrides == c.changed == {"node_types.LIF_exc.tau_m": 15.0}
    assert c.describe() == "LIF_exc tau_m 20 -> 15" and "1 changed" in c.summary.value
    c.reset()
    assert c.overrides == {}
    with pytest.raises(ModelkitError, match="no slider"):
        c.set({"node_types.nope.tau_m": 1.0})
    only = ParamControls(cfg, parameters=["node_types.LIF_exc.tau_m"])
    assert list(only.sliders) == ["node_types.LIF_exc.tau_m"]
    with pytest.raises(ModelkitError, match="no tunable parameter"):
        ParamControls(cfg, parameters=["tau_m"])


def test_run_with_changed_tau_m(cfg: str, tmp_path) -> None:
    net_dir = os.path.join(os.path.dirname(cfg), "network")
    before = {f: os.path.getmtime(os.path.join(net_dir, f)) for f in os.listdir(net_dir)}
    raster, rates = LiveRaster(keep=2), LiveRates(keep=2, sizes={"cortex": 200})
    panel = RunPanel(cfg, views=[raster, rates], output_dir=str(tmp_path / "out"), overwrite=True, seed=7)
    assert panel.controls is not None and panel.controls in panel.children
    panel.run_button.click()
    assert panel.wait(180) == "done", panel.error
    wait_idle(raster, rates)
    n0 = len(panel.run.spikes)
    assert raster.kept == [] and "overrides" not in panel.code

    panel.controls.sliders["node_types.LIF_exc.tau_m"].value = 10.0  # what dragging the slider does
    panel.run_button.click()
    assert panel.wait(180) == "done", panel.error
    wait_idle(raster, rates)
    n1 = len(panel.run.spikes)
    assert n1 < n0  # a shorter time constant: fewer spikes
    assert raster.n_received == rates.n_received == n1
    # the first run stays as a faint overlay, named in the legends
    assert [k["label"] for k in raster.kept] == ["run 1: as built"] and raster.kept[0]["n"] == n0
    ghost = raster.figure.marks[0]  # before the current run's points: under them in SVG
    assert type(ghost).__name__ == "Image" and bytes(ghost.image.value).startswith(b"\x89PNG")
    assert "earlier: run 1: as built" in raster.legend.value and raster.figure.marks[-1] is not ghost
    assert [k["label"] for k in rates.kept] == ["run 1: as built"] and rates.kept[0]["mark"] in rates.figure.marks
    assert "earlier: run 1: as built" in rates.legend.value
    # the rates table: one row per run, the rates differ
    assert [r["label"] for r in panel.runs] == ["as built", "LIF_exc tau_m 20 -> 10"]
    r0, r1 = panel.runs[0]["rates"]["cortex"], panel.runs[1]["rates"]["cortex"]
    assert r1 < r0
    assert f"{r0:.2f}" in panel.compare.value and f"{r1:.2f}" in panel.compare.value
    assert panel.compare.value.count("mk-rates-row") == 2
    # nothing of the model was written
    assert {f: os.path.getmtime(os.path.join(net_dir, f)) for f in os.listdir(net_dir)} == before

    # the code shown, executed fresh, gives the same spikes
    assert "overrides={'node_types.LIF_exc.tau_m': 10.0}" in panel.code and "seed=7" in panel.code
    assert "run_local(" in panel.code_box.value
    widget_spikes = _sorted(panel.run.spikes)
    scope: dict = {}
    exec(panel.code.replace(str(tmp_path / "out"), str(tmp_path / "again")), scope)  # noqa: S102 - the test's own
    assert scope["run"].status == "done"
    for a, b in zip(widget_spikes, _sorted(scope["run"].spikes)):
        np.testing.assert_array_equal(a, b)

    # a third and fourth run: at most `keep` overlays, the oldest dropped
    panel.controls.sliders["edge_types.101.syn_weight"].value = -3.0
    panel.run_button.click()
    assert panel.wait(180) == "done", panel.error
    panel.run_button.click()
    assert panel.wait(180) == "done", panel.error
    wait_idle(raster, rates)
    assert len(raster.kept) == len(rates.kept) == 2 and raster.kept[0]["label"].startswith("run 2:")
    # binned to an image (more spikes than max_points): the earlier runs are blended into its empty pixels
    raster.max_points = 100
    raster.feed.flush()
    assert raster.renderer == "image" and raster.figure.marks == [raster._image]
    raster.forget_kept()
    rates.forget_kept()
    assert raster.kept == rates.kept == [] and "earlier" not in raster.legend.value


def test_bad_override_is_shown(cfg: str, tmp_path) -> None:
    panel = RunPanel(cfg, output_dir=str(tmp_path / "out"), overwrite=True, overrides={"node_types.x.tau_m": 1.0})
    panel.run_button.click()
    assert panel.wait(180) == "failed"
    assert "node_types.x.tau_m" in panel.error and "LIF_exc" in panel.error


def test_no_controls(cfg: str, tmp_path) -> None:
    assert RunPanel(cfg, parameters=False).controls is None
    panel = RunPanel(str(tmp_path / "missing.json"))
    assert panel.controls is None and "no parameter controls" in panel.children[0].value


def test_rates_table_html() -> None:
    t = rates_table([{"label": "as built", "rates": {"cortex": 3.25}, "status": "done"},
                     {"label": "<b>", "rates": None, "status": "running"}])
    assert "3.25" in t and "&lt;b&gt;" in t and "running" in t and t.index("data-run='2'") < t.index("data-run='1'")


def test_keep_earlier_sources(blocks) -> None:
    """Any source: each attach makes the spikes shown an earlier run (at most ``keep``), under the new ones."""
    raster, rates = LiveRaster(keep=1, sizes={"exc": 800, "inh": 200}), LiveRates(keep=1, bin_ms=10.0)
    for k, label in enumerate(["first", "second", "third"]):
        for v in (raster, rates):
            v.run_label = label
            v.attach(blocks(5, 200, seed=k))
        wait_idle(raster, rates)
    assert [r["label"] for r in raster.kept] == [r["label"] for r in rates.kept] == ["second"]
    assert raster.kept[0]["n"] == sum(len(ids) for _, ids, _ in blocks(5, 200, seed=1))
    assert len(raster.figure.marks) == 3  # earlier, exc, inh
    assert "earlier: second" in raster.legend.value and "earlier: second" in rates.legend.value
    assert rates.figure.marks[0].line_style != "solid" and rates.figure.marks[-1] is rates.lines
    LiveRaster(keep=0).attach(blocks(1, 10))  # nothing kept, nothing drawn under
    with pytest.raises(Exception, match="keep"):
        LiveRaster(keep=99)


def test_controls_of_a_network_built_in_memory(tmp_path) -> None:
    """A NetworkBuilder handed to the panel (BuilderPanel's Simulate): sliders from its build, the run uses them."""
    from modelkit.builder import NetworkBuilder
    b = NetworkBuilder("cortex")
    b.add_nodes(N=20, model_type="point_neuron", model_template="nest:iaf_psc_delta", pop_name="mem",
                dynamics_params={"tau_m": 10.0, "I_e": 500.0, "V_th": -55.0})
    config = {"target_simulator": "NEST", "run": {"tstop": 300.0, "dt": 0.1},
              "output": {"output_dir": str(tmp_path / "out")}}
    panel = RunPanel(config, network=b, overwrite=True)
    s = panel.controls.sliders["node_types.mem.I_e"]
    assert (s.value, s.description) == (500.0, "I_e pA")
    panel.start()
    assert panel.wait(180) == "done", panel.error
    n0 = len(panel.run.spikes)
    s.value = 1000.0  # twice the current: more spikes
    panel.start()
    assert panel.wait(180) == "done", panel.error
    assert 0 < n0 < len(panel.run.spikes) and "network=network" in panel.code
