"""MorphologyViewer on a real bio_14cells run: colour by type or by the all-segment membrane potential, a time
slider that sends only the colour array, synapse markers, and the code it shows run in a fresh interpreter
drawing the same figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("plotly", reason="plotly is not installed")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bio14(tmp_path_factory: pytest.TempPathFactory, bio_run) -> Path:
    pytest.importorskip("neuron", reason="NEURON is not installed")
    return bio_run.run_bio14(tmp_path_factory.mktemp("bio14") / "out")


@pytest.fixture
def viewer(bio14: Path):
    from modelkit.widgets import MorphologyViewer
    out = bio14.parent / "out"
    return MorphologyViewer(str(bio14), "v1", [0, 1, 4], report=str(out / "v_all.h5"), synapses=str(out / "syn.h5"))


def _fresh(code: str) -> list[dict]:
    """The figure's traces drawn by ``code`` in a new interpreter (name, x, y, z, line colour, visible)."""
    probe = code + (
        "\nimport json, numpy as np\n"
        "print(json.dumps([{'name': t.name, 'x': np.asarray(t.x, float).tolist(), 'y': np.asarray(t.y, float).tolist(),"
        " 'z': np.asarray(t.z, float).tolist(), 'color': (t.line.color if isinstance(t.line.color, str) else"
        " np.asarray(t.line.color, float).tolist()) if t.mode == 'lines' else None,"
        " 'cmin': t.line.cmin if t.mode == 'lines' else None, 'cmax': t.line.cmax if t.mode == 'lines' else None}"
        " for t in fig.data]))\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _shown(viewer) -> list:
    return [t for t in viewer.fig.data if t.visible is not False]


def _same(viewer, fresh: list[dict]) -> None:
    shown = _shown(viewer)
    assert [t.name for t in shown] == [f["name"] for f in fresh]
    for t, f in zip(shown, fresh):
        for k in "xyz":
            np.testing.assert_array_equal(np.asarray(getattr(t, k), float), np.asarray(f[k], float))
        if t.mode == "lines":
            c = t.line.color
            if isinstance(c, str):
                assert c == f["color"]
            else:
                np.testing.assert_array_equal(np.asarray(c, float), np.asarray(f["color"], float))
                assert (t.line.cmin, t.line.cmax) == (f["cmin"], f["cmax"])


def test_slider_sends_only_the_colour_array(viewer) -> None:
    sent: list[tuple[dict, object]] = []
    original = viewer.fig._send_restyle_msg

    def record(data, trace_indexes=None, source_view_id=None):
        sent.append((dict(data), trace_indexes))
        return original(data, trace_indexes=trace_indexes, source_view_id=source_view_id)

    viewer.fig._send_restyle_msg = record
    k = viewer._report_index
    xyz = [np.asarray(getattr(viewer.fig.data[k], a), float).copy() for a in "xyz"]
    viewer.color_toggle.value = "report"  # as a click on the toggle does
    assert viewer.color_by == "report"
    before = np.asarray(viewer.fig.data[k].line.color, float).copy()
    sent.clear()
    viewer.slider.value = 40  # t = 20 ms: the cells are depolarised by their inputs
    assert viewer.frame == 40 and "20 ms" in viewer.time_label.value
    after = np.asarray(viewer.fig.data[k].line.color, float)
    assert not np.array_equal(before, after)
    assert sent and all(set(d) == {"line.color"} for d, _ in sent)  # no points, no new trace
    for a, old in zip("xyz", xyz):
        np.testing.assert_array_equal(np.asarray(getattr(viewer.fig.data[k], a), float), old)
    # the values are the report's at that frame, at each point's segment
    rp = viewer.rp
    cols = viewer.scene.report_columns(rp)
    on = cols >= 0
    np.testing.assert_array_equal(after[on], rp.data()[40][cols[on]])
    assert np.all(after[on] >= viewer.cmin) and np.all(after[on] <= viewer.cmax)


def test_type_colours_and_synapses(viewer) -> None:
    names = [t.name for t in _shown(viewer)]
    assert names == ["soma", "axon", "dend", "apic", "synapses"]
    assert len(viewer.fig.data[names.index("synapses")].x) > 0
    assert viewer.slider.disabled is False and viewer.slider.max == viewer.rp.n_frames - 1


def test_code_shown_draws_the_same_figure(viewer) -> None:
    _same(viewer, _fresh(viewer.code))  # colour by type
    viewer.color_toggle.value = "report"
    viewer.slider.value = 37
    assert "time=18.5" in viewer.code and "color_by='report'" in viewer.code
    _same(viewer, _fresh(viewer.code))


def test_without_report_the_slider_is_off(bio14: Path) -> None:
    from modelkit.widgets import MorphologyViewer
    v = MorphologyViewer(str(bio14), "v1", [2])
    assert v.slider.disabled and v.color_toggle.options == ("type",)
    assert "report" not in v.code


def test_every_biophysical_cell_when_no_ids_are_given(bio14: Path) -> None:
    from modelkit.widgets import MorphologyViewer
    v = MorphologyViewer(str(bio14), "v1")
    assert v.node_ids == list(range(10))  # the 4 point neurons (no morphology) are left out
    assert "node_ids" not in v.code
    _same(v, _fresh(v.code))


def test_a_report_of_some_cells_leaves_the_others_grey(bio14: Path, tmp_path: Path) -> None:
    from modelkit.sonata import CompartmentReport, write_compartment_report
    from modelkit.widgets import MorphologyViewer
    rp = CompartmentReport(bio14.parent / "out" / "v_all.h5")["v1"]
    a, b = rp.index_pointers[0], rp.index_pointers[1]
    part = tmp_path / "v_cell0.h5"
    write_compartment_report(part, "v1", [0], [0, b - a], rp.element_ids[a:b], rp.time, rp.data([0]),
                             element_pos=rp.element_pos[a:b], units="mV", variable="v")
    v = MorphologyViewer(str(bio14), "v1", [0, 1], report=str(part))
    v.color_toggle.value = "report"
    v.slider.value = 30
    assert [t.name for t in _shown(v)] == ["report", "not recorded"]
    _same(v, _fresh(v.code))
    v.color_toggle.value = "type"
    assert [t.name for t in _shown(v)] == ["soma", "axon", "dend", "apic"]


def test_frames_coalesce_while_the_page_draws(viewer) -> None:
    """With a page showing the viewer, a frame is sent only once the page acknowledged the last one; moves made
    meanwhile replace the waiting frame, so the page gets the newest only (acknowledgements delivered through
    the FramePage's real message dispatch, as the page sends them)."""
    viewer.page.width_px = 900  # what the page reports when it shows the viewer
    viewer.color_by = "report"
    sent = viewer.frames_drawn
    assert viewer.page.pending()  # the report's first colours, not yet drawn
    for k in (3, 4, 5, 6):
        viewer.frame = k
    assert viewer.frames_drawn == sent and viewer._waiting == 6
    colors = np.asarray(viewer.fig.data[viewer._report_index].line.color)
    viewer.page._handle_custom_msg({"ack": viewer.page._sent}, [])
    assert viewer.frames_drawn == sent + 1 and viewer._waiting is None  # the newest, once
    assert np.array_equal(viewer.fig.data[viewer._report_index].line.color, viewer._values(6))
    assert not np.array_equal(colors, viewer._values(6))
    viewer.page._handle_custom_msg({"ack": viewer.page._sent}, [])
    assert viewer.frames_drawn == sent + 1 and not viewer.page.pending()
    viewer.frame = 7  # nothing in flight: sent at once
    assert viewer.frames_drawn == sent + 2
    assert viewer._timer is None


def test_segment_detail_chosen_for_many_points(viewer, bio14: Path) -> None:
    """A few cells keep every 3-D point; past MOVIE_POINTS rows the viewer draws segment boundaries and says so
    in the code (detail forced here, on the same cells)."""
    from modelkit.widgets import MorphologyViewer
    assert viewer.detail == "points" and "detail" not in viewer.code
    out = bio14.parent / "out"
    seg = MorphologyViewer(str(bio14), "v1", [0, 1, 4], report=str(out / "v_all.h5"), detail="segments")
    assert seg.detail == "segments" and "detail='segments', max_points=60000" in seg.code
    assert seg.scene.n_rows < viewer.scene.n_rows / 3
    seg.color_by = "report"
    assert np.array_equal(seg.fig.data[seg._report_index].line.color, seg._values(0))
