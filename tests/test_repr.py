"""Notebook summaries (_repr_html_) of networks, populations and configs."""

import re

from modelkit import load, load_config
from modelkit.testing import shared_path

CORPUS = shared_path("sonata", "corpus")


def test_network_and_population_html():
    net = load(CORPUS / "bmtk/examples/bio_14cells/config.circuit.json")
    html = net._repr_html_()
    assert "<table>" in html and "v1_to_v1" in html and "lgn" in html
    assert re.search(r"<td>v1</td><td>14</td>", html)
    assert "biophysical: 10" in html
    p = net.nodes["v1"]._repr_html_()
    assert "14 nodes" in p and "node_type_id" in p and "<td>100</td><td>2</td>" in p
    e = net.edges["lgn_to_v1"]._repr_html_()
    assert "660 edges" in e and "lgn &rarr; v1" in e


def test_config_html_escapes():
    sim = load_config(CORPUS / "bmtk/examples/point_120cells/config.simulation.json")
    html = sim._repr_html_()
    assert "Simulation config" in html and "thalamus_spikes" in html and "3000.0" in html
    circ = load_config(CORPUS / "bmtk/examples/point_120cells/config.circuit.json")
    assert "cortex_nodes.h5" in circ._repr_html_()
    from modelkit.formatting_html import table_html
    assert "&lt;script&gt;" in table_html([["<script>"]], ["x"])
