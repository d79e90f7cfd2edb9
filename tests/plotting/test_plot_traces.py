"""plot_traces on a membrane report written by a real NEST run (modelkit.datasets.balanced_network)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelkit.errors import ConfigError, ModelkitError
from modelkit.plotting import plot_traces
from modelkit.plotting.traces import trace_frame
from modelkit.sonata import CompartmentReport


def test_one_line_per_reported_node_from_the_config(small_run, tmp_path):
    cfg, res = small_run
    rep = CompartmentReport(res.reports["membrane_potential"])["cortex"]
    ax = plot_traces(config_file=cfg, title="V_m")
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["cortex 0", "cortex 1", "cortex 40", "cortex 41"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cortex 0", "cortex 1", "cortex 40", "cortex 41"]
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "V_m (mV)" and ax.get_title() == "V_m"
    data = rep.data()
    for k, ln in enumerate(lines):
        np.testing.assert_allclose(ln.get_xdata(), rep.times)
        np.testing.assert_allclose(ln.get_ydata(), data[:, k])
    assert (data <= -50.0 + 1e-6).all() and data.min() >= -80.0  # LIF: below V_th = -50 mV, near E_L = -65 mV
    ax.figure.savefig(tmp_path / "traces.png")
    assert (tmp_path / "traces.png").stat().st_size > 10_000


def test_node_selection_time_range_and_step(small_run):
    _, res = small_run
    ax = plot_traces(res, node_ids=[41, 0], time_range=(50.0, 100.0), step=5)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["cortex 41", "cortex 0"]
    x = lines[0].get_xdata()
    assert x[0] >= 50.0 and x[-1] < 100.0 and len(x) == 100  # 500 frames of 0.1 ms, every 5th
    np.testing.assert_allclose(np.diff(x), 0.5)
    rep = CompartmentReport(res.reports["membrane_potential"])["cortex"]
    np.testing.assert_allclose(lines[0].get_ydata(), rep.data([41], 50.0, 100.0, stride=5)[:, 0])


def test_a_table_draws_as_given_and_legend_switches_off(small_run):
    _, res = small_run
    df = trace_frame(res.reports["membrane_potential"])
    assert list(df.columns) == [0, 1, 40, 41] and df.attrs["units"] == "mV"
    ax = plot_traces(df, node_ids=[1], legend=False)
    assert len(ax.get_lines()) == 1 and ax.get_legend() is None


def test_bad_input(small_run, tmp_path):
    cfg, res = small_run
    with pytest.raises(ModelkitError, match="membrane_potential.h5") as ei:
        plot_traces(res, node_ids=[7])  # not recorded
    assert "7" in str(ei.value)
    with pytest.raises(ConfigError, match="report"):
        plot_traces()
    with pytest.raises(ConfigError, match="nope"):
        plot_traces(config_file=cfg, report_name="nope")
    # a config whose report has not been written yet
    other = json.loads(cfg.read_text())
    other["output"]["output_dir"] = str(tmp_path / "never_run")
    (cfg.parent / "unrun.json").write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="unrun.json") as ei:
        plot_traces(config_file=cfg.parent / "unrun.json")
    assert "has the simulation run" in str(ei.value)


def test_multi_compartment_report_draws_each_nodes_first_element(tmp_path):
    """Node 5 has elements 0..2 (soma, two dendrite segments), node 9 one; the soma (first) is drawn."""
    from modelkit.sonata import write_compartment_report
    t = np.arange(100) * 0.5
    data = np.column_stack([np.sin(t), 10 + t, 20 + t, np.cos(t)])
    write_compartment_report(tmp_path / "v.h5", "bio", [5, 9], [0, 3, 4], [0, 1, 2, 0], (0.0, 50.0, 0.5), data,
                             variable="v", units="mV", dtype=np.float64)
    ax = plot_traces(tmp_path / "v.h5", time_range=(10.0, 20.0))
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["bio 5", "bio 9"] and ax.get_ylabel() == "v (mV)"
    keep = (t >= 10.0) & (t < 20.0)
    np.testing.assert_allclose(lines[0].get_ydata(), np.sin(t[keep]))
    np.testing.assert_allclose(lines[1].get_ydata(), np.cos(t[keep]))
