"""``modelkit plot raster|rates|traces|connectivity|degrees``, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

PNG = b"\x89PNG\r\n\x1a\n"


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "modelkit", "plot", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=180)


def _only_outputs(folder, names):
    """Nothing else in the folder: temporary files were renamed or removed."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_raster_refuses_to_overwrite_then_overwrites(ref_spikes, p120_config, tmp_path):
    out = tmp_path / "figs" / "raster.png"
    r = run("raster", ref_spikes, "-o", out, "--group-by", "pop_name", "--network", p120_config)
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout
    first = out.read_bytes()
    assert first.startswith(PNG) and len(first) > 10_000
    again = run("raster", ref_spikes, "-o", out)
    assert again.returncode != 0 and "--overwrite" in again.stderr and str(out) in again.stderr
    assert out.read_bytes() == first  # untouched
    third = run("raster", ref_spikes, "-o", out, "--overwrite", "--time", "0", "500", "--nodes", "0", "1", "2")
    assert third.returncode == 0, third.stderr
    assert out.read_bytes() != first and out.read_bytes().startswith(PNG)
    _only_outputs(out.parent, ["raster.png"])


@pytest.mark.parametrize("kind", ["bar", "hist", "time"])
def test_rates_from_a_run_config(small_run, tmp_path, kind):
    cfg, _ = small_run
    out = tmp_path / f"rates_{kind}.pdf"
    r = run("rates", cfg, "-o", out, "--group-by", "pop_name", "--kind", kind, "--bin-ms", "20")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:5] == b"%PDF-"
    _only_outputs(tmp_path, [out.name])


def test_traces_of_chosen_nodes_from_config_and_report_file(small_run, tmp_path):
    cfg, res = small_run
    r = run("traces", cfg, "-o", tmp_path / "t.png", "--nodes", "0", "41", "--time", "10", "150")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "t.png").read_bytes().startswith(PNG)
    r = run("traces", res.reports["membrane_potential"], "-o", tmp_path / "t.svg", "--title", "V_m")
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "t.svg").read_text()
    assert "cortex 41" in svg and "V_m (mV)" in svg  # legend entries and axis label are text in an SVG


def test_network_figures_and_interactive_html(ref_spikes, p120_config, tmp_path):
    r = run("connectivity", p120_config, "-o", tmp_path / "c.png", "--weight", "syn_weight")
    assert r.returncode == 0, r.stderr
    r = run("degrees", p120_config.parent / "config.circuit.json", "-o", tmp_path / "d.png")
    assert r.returncode == 0, r.stderr
    r = run("raster", ref_spikes, "-o", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "r.html").read_text()
    assert "scattergl" in html and "cortex (1,197)" in html
    _only_outputs(tmp_path, ["c.png", "d.png", "r.html"])


def test_bad_input_exits_2_naming_file_and_key(ref_spikes, p120_config, tmp_path):
    r = run("rates", ref_spikes, "-o", tmp_path / "x.png", "--group-by", "layer", "--network", p120_config)
    assert r.returncode == 2 and "layer" in r.stderr and "cortex_nodes.h5" in r.stderr
    r = run("raster", ref_spikes, "-o", tmp_path / "x.gif")
    assert r.returncode == 2 and ".gif" in r.stderr
    r = run("traces", p120_config, "-o", tmp_path / "x.png")  # the corpus config has never been run
    assert r.returncode == 2 and "config.simulation.json" in r.stderr and "reports" in r.stderr
    r = run("pie", ref_spikes, "-o", tmp_path / "x.png")
    assert r.returncode == 2 and "invalid choice" in r.stderr  # argparse
    _only_outputs(tmp_path, [])
