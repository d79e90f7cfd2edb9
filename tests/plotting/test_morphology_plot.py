"""plot_morphology and its scene: sections of bio_14cells' Allen cells placed as the NEURON backend places them,
an all-segment report of a real run mapped onto the right sections, synapses, one trace per type, and the
300 cells of bio_300cells_nosurround in one figure (timed)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from modelkit.errors import ConfigError, SonataFormatError
from modelkit.plotting.morphology import morphology_scene_for, plot_morphology, synapse_points
from modelkit.sonata import CompartmentReport, Network
from modelkit.testing import shared_path

from _bio_run import run_bio14

pytest.importorskip("plotly", reason="plotly is not installed")


@pytest.fixture(scope="module")
def bio14(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bio_14cells run 40 ms by modelkit's NEURON backend: v at every segment of cells 0-9, synapses of 0-3."""
    pytest.importorskip("neuron", reason="NEURON is not installed")
    return run_bio14(tmp_path_factory.mktemp("bio14") / "out")


def test_report_columns_fall_on_the_right_sections(bio14: Path) -> None:
    net = Network.load(bio14)
    rp = CompartmentReport(bio14.parent / "out" / "v_all.h5")["v1"]
    scene = morphology_scene_for(network=net, population="v1", node_ids=list(range(10)))
    for c, nid in enumerate(range(10)):
        m = scene.morphologies[c]
        a, b = rp.index_pointers[nid], rp.index_pointers[nid + 1]
        el = rp.element_ids[a:b]
        # segments per section in the report = bmtk's dL rule (20 µm) on the lengths read here: the sections
        # are the same ones, in the same order, axon stub (two 30-µm sections, last) included
        assert np.bincount(el, minlength=m.n_sections).tolist() == (1 + 2 * (m.lengths // 40.0)).astype(int).tolist()
        assert m.names[-2:] == ("axon[0]", "axon[1]") and np.allclose(m.lengths[-2:], 30.0)
    cols = scene.report_columns(rp)
    on = cols >= 0
    assert on.sum() == np.isfinite(scene.frac).sum()  # every drawn point has its segment
    assert np.array_equal(rp.element_ids[cols[on]], scene.section[on])
    # the segment found contains the point: |x - element_pos| <= half a segment
    pos = rp.element_pos[cols[on]]
    per = {}
    for nid in range(10):
        a, b = rp.index_pointers[nid], rp.index_pointers[nid + 1]
        per.update({k: np.sum(rp.element_ids[a:b] == rp.element_ids[k]) for k in range(a, b)})
    half = 0.5 / np.array([per[int(k)] for k in cols[on]])
    assert np.all(np.abs(scene.frac[on] - pos) <= half + 1e-6)  # element_pos is float32


def test_cells_placed_as_the_neuron_backend_places_them(bio14: Path) -> None:
    neuron = pytest.importorskip("neuron")
    from modelkit.simulator.neuron.geometry import euler_matrix, node_placement, table_geometry
    from modelkit.simulator.neuron.morphology import read_swc
    net = Network.load(bio14)
    pop = net.nodes["v1"]
    ids = np.array([0, 2, 4])
    scene = morphology_scene_for(network=net, population="v1", node_ids=ids)
    pos, ang = node_placement(pop, ids)
    assert np.abs(ang).max() > 1.0  # the cells are rotated (about z)
    mdir = net.config.components["morphologies_dir"]
    for c, nid in enumerate(ids.tolist()):
        table, diams = read_swc(neuron.h, f"{mdir}/{pop.column('morphology', [nid])[0]}", "test")
        table = table.with_axon_stub(neuron.h, "perisomatic", diams)
        g = table_geometry(neuron.h, table).placed(euler_matrix(ang[c]), pos[c])
        m = scene.morphologies[c]
        keep = np.flatnonzero(m.types != 2)  # the stub: laid out by define_shape in NEURON, drawn here
        first = scene.place(np.full(len(keep), c), m.points[m.offsets[keep], :3])
        last = scene.place(np.full(len(keep), c), m.points[m.offsets[keep + 1] - 1, :3])
        np.testing.assert_allclose(first, g.p0[keep], atol=1e-3)
        np.testing.assert_allclose(last, g.p1[keep], atol=1e-3)


def test_type_traces_and_gaps(bio14: Path) -> None:
    net = Network.load(bio14)
    fig = plot_morphology(network=net, population="v1", node_ids=[0, 4])
    names = [t.name for t in fig.data]
    assert names == ["soma", "axon", "dend", "apic"]  # one trace per type, not per section
    scene = morphology_scene_for(network=net, population="v1", node_ids=[0, 4])
    n_sec = sum(m.n_sections for m in scene.morphologies)
    gaps = sum(int(np.isnan(np.asarray(t.x, dtype=float)).sum()) for t in fig.data)
    assert gaps == n_sec  # one gap after each section
    assert fig.layout.scene.aspectmode == "data"


def test_report_colours_and_synapses(bio14: Path) -> None:
    net = Network.load(bio14)
    out = bio14.parent / "out"
    rp = CompartmentReport(out / "v_all.h5")["v1"]
    fig = plot_morphology(network=net, population="v1", node_ids=[0, 1], color_by="report", report=out / "v_all.h5",
                          time=20.0, synapses=out / "syn.h5")
    assert [t.name for t in fig.data] == ["report", "synapses"]
    c = np.asarray(fig.data[0].line.color)
    k = int(round((20.0 - rp.time[0]) / rp.time[2]))
    frame = rp.data()[k]
    scene = morphology_scene_for(network=net, population="v1", node_ids=[0, 1])
    cols = scene.report_columns(rp)
    on = cols >= 0
    np.testing.assert_array_equal(c[on], frame[cols[on]])  # each point: its segment's v at 20 ms
    mine = frame[rp.columns_of([0, 1])]
    assert fig.data[0].line.cmin == pytest.approx(mine.min()) and fig.data[0].line.cmax == pytest.approx(mine.max())
    syn = CompartmentReport(out / "syn.h5")["v1"]
    n_syn = int(np.diff(syn.index_pointers)[np.isin(syn.node_ids, [0, 1])].sum())
    assert len(fig.data[1].x) == n_syn > 0
    # each synapse marker lies on its cell's drawn sections (the polyline between two drawn points)
    p = synapse_points(scene, out / "syn.h5")
    pts = scene.xyz[np.isfinite(scene.xyz[:, 0])]
    d = np.min(np.linalg.norm(pts[None, :] - p[:100, None], axis=2), axis=1)
    assert np.all(d < 25.0)  # µm: within a drawn segment of a drawn point


def test_bad_arguments(bio14: Path, tmp_path: Path) -> None:
    net = Network.load(bio14)
    with pytest.raises(ConfigError, match="color_by"):
        plot_morphology(network=net, population="v1", node_ids=[0], color_by="voltage")
    with pytest.raises(ConfigError, match="report"):
        plot_morphology(network=net, population="v1", node_ids=[0], color_by="report")
    with pytest.raises(ConfigError, match="population"):
        plot_morphology(network=net)
    # a report made from other sections (no axon stub: a different section count) is refused, named
    bad = tmp_path / "other.swc"
    bad.write_text("1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n")
    with pytest.raises(SonataFormatError, match="element_ids"):
        plot_morphology(bad, color_by="report", report=bio14.parent / "out" / "v_all.h5")


def test_300_cells_in_one_figure() -> None:
    """bio_300cells_nosurround: 300 Allen cells at their positions, synapses from afferent_section_id/pos."""
    cfg = shared_path("bmtk-examples", "bio_300cells_nosurround", "config.simulation.json")
    net = Network.load(cfg)
    t0 = time.perf_counter()
    fig = plot_morphology(network=net, population="internal", synapses="edges")
    took = time.perf_counter() - t0
    rows = sum(len(t.x) for t in fig.data if t.mode == "lines")
    print(f"300 cells: {took:.2f} s, {rows} rows, {len(fig.data[-1].x)} synapses")
    assert len(fig.data) == 5  # four types and the synapses
    assert rows <= 260_000  # decimated to the point budget
    assert len(fig.data[-1].x) > 1000
    assert took < 60.0  # shared CPUs; measured ~ (see notes/issue19-morphology.md)


def test_one_file_and_decimation() -> None:
    """A morphology file alone, where the file puts it; decimation keeps each section's ends and the budget."""
    swc = shared_path("bmtk-examples", "bio_components", "morphologies", "Scnn1a_473845048_m.swc")
    full = morphology_scene_for(swc)
    m = full.morphologies[0]
    assert full.n_rows == len(m.points) + m.n_sections
    np.testing.assert_allclose(full.xyz[np.isfinite(full.frac)], m.points[:, :3])  # not moved
    fig = plot_morphology(swc, max_points=1000)
    rows = sum(len(t.x) for t in fig.data)
    assert rows <= 1000
    thin = morphology_scene_for(swc, decimate=4)
    on = np.isfinite(thin.frac)
    for s in range(m.n_sections):  # both ends of every section are still drawn
        f = thin.frac[on & (thin.section == s)]
        assert f[0] == 0.0 and f[-1] == pytest.approx(1.0)
    assert on.sum() < 0.4 * len(m.points)


def test_sections_a_report_leaves_out_are_grey(bio14: Path, tmp_path: Path) -> None:
    """A report of cell 0 only, drawn on cells 0 and 1: cell 1 is grey ('not recorded'), not coloured at cmin."""
    from modelkit.sonata import write_compartment_report
    out = bio14.parent / "out"
    rp = CompartmentReport(out / "v_all.h5")["v1"]
    a, b = rp.index_pointers[0], rp.index_pointers[1]
    part = tmp_path / "v_cell0.h5"
    write_compartment_report(part, "v1", [0], [0, b - a], rp.element_ids[a:b], rp.time, rp.data([0]),
                             element_pos=rp.element_pos[a:b], units="mV", variable="v")
    net = Network.load(bio14)
    fig = plot_morphology(network=net, population="v1", node_ids=[0, 1], color_by="report", report=part, time=10.0)
    assert [t.name for t in fig.data] == ["report", "not recorded"]
    scene = morphology_scene_for(network=net, population="v1", node_ids=[0, 1])
    assert len(fig.data[0].x) == int((scene.cell == 0).sum()) and len(fig.data[1].x) == int((scene.cell == 1).sum())
    assert fig.data[1].line.color == "#c8c8c8"
    k = int(round(10.0 / rp.time[2]))
    assert fig.data[0].line.cmin == pytest.approx(rp.data([0])[k].min())


def test_segment_detail_of_300_cells() -> None:
    """detail="segments": within the point budget, every section's end drawn at its exact point, each line
    continuing only from a parent's end, one vertex per (every k-th) segment boundary, and the figure says so."""
    cfg = shared_path("bmtk-examples", "bio_300cells_nosurround", "config.simulation.json")
    net = Network.load(cfg)
    full = morphology_scene_for(network=net, population="internal", decimate=1)
    scene = morphology_scene_for(network=net, population="internal", detail="segments", max_points=60_000)
    assert scene.n_rows <= 60_000 < full.n_rows / 10
    gap = np.isnan(scene.frac)
    assert np.all(np.isnan(scene.xyz[gap])) and not np.isnan(scene.xyz[~gap]).any()
    for c in (0, 150, 299):
        m = scene.morphologies[c]
        rows = np.flatnonzero((scene.cell == c) & ~gap)
        sec, frac = scene.section[rows], scene.frac[rows]
        # every section ends on its last 3-D point, placed as the full scene places it
        ends = rows[frac == 1.0]
        assert sorted(scene.section[ends].tolist()) == list(range(m.n_sections))
        want = full.xyz[np.flatnonzero((full.cell == c) & (full.frac == 1.0))]
        assert np.allclose(scene.xyz[ends][np.argsort(scene.section[ends], kind="stable")], want, atol=1e-6)
        # vertices per section: its start where a line begins, then ceil(nseg / k) boundaries
        nseg = 1 + 2 * (m.lengths // 40.0).astype(int)
        per = np.bincount(sec[frac > 0], minlength=m.n_sections)
        k = int(np.max(np.ceil(nseg / np.maximum(per, 1))))
        assert k == 2 and np.array_equal(per, -(-nseg // 2))
        # a line goes from a section on into another only at the parent's end (same type): no false joins
        nxt = np.flatnonzero((sec[1:] != sec[:-1]) & ~gap[rows[:-1] + 1])
        child, parent = sec[nxt + 1], sec[nxt]
        assert np.all(m.parent[child] == parent) and np.all(m.parent_x[child] == 1.0)
        assert np.all(m.types[child] == m.types[parent]) and np.all(frac[nxt] == 1.0)
    fig = plot_morphology(network=net, population="internal", detail="segments", max_points=60_000)
    note = fig.layout.annotations[0].text
    assert "segment boundaries" in note and "703,210" in note
    assert sum(len(t.x) for t in fig.data) == scene.n_rows
    thin = plot_morphology(network=net, population="internal", detail="segments", max_points=60_000,
                           synapses="edges", max_synapses=5_000)
    every = synapse_points(scene, "edges", net)
    assert thin.data[-1].name == f"synapses (1 in 8 of {len(every):,})" and len(thin.data[-1].x) <= 5_000
    assert np.allclose(np.c_[thin.data[-1].x, thin.data[-1].y, thin.data[-1].z], every[::8])
    with pytest.raises(ConfigError, match="detail"):
        plot_morphology(network=net, population="internal", detail="sections")


def test_segment_vertices_take_the_segment_ending_there(bio14: Path) -> None:
    """On a real report: each boundary vertex's column is the segment that ends at it (its section's)."""
    net = Network.load(bio14)
    rp = CompartmentReport(bio14.parent / "out" / "v_all.h5")["v1"]
    scene = morphology_scene_for(network=net, population="v1", node_ids=[0, 1], detail="segments", decimate=1)
    cols = scene.report_columns(rp)
    on = ~np.isnan(scene.frac)
    assert np.all(cols[on] >= 0) and np.array_equal(rp.element_ids[cols[on]], scene.section[on])
    pos, frac = rp.element_pos[cols[on]], scene.frac[on]
    ip = rp.index_pointers
    per_cell = [np.bincount(rp.element_ids[ip[n]:ip[n + 1]]) for n in scene.node_ids.tolist()]
    nseg = np.array([per_cell[c][s] for c, s in zip(scene.cell[on], scene.section[on])])
    # the segment ending at the boundary j / n is the one centred at (j - 0.5) / n (at the start: the first)
    want = np.maximum(np.round(frac * nseg) - 0.5, 0.5) / nseg
    assert np.allclose(pos, want, atol=1e-5)
