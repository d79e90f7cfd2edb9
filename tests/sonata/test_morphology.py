"""read_morphology: the sections NEURON's Import3d makes of an SWC file, without NEURON — checked against NEURON
itself (names in ``all`` order, parents, attachment points, 3-d points, lengths) on every morphology of bmtk's
examples and on small files that take Import3d's special paths; bmtk's axon stub as the NEURON backend makes it;
bad files named with their line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkit.errors import ModelkitError, SonataFormatError
from modelkit.sonata import read_morphology
from modelkit.sonata.morphology import axon_stub_kind
from modelkit.testing import shared_path

EXAMPLES = sorted(shared_path("bmtk-examples").rglob("*.swc"))

#: small files through Import3d's special cases
SPECIAL = {
    # one-point soma (drawn as a 3-point cylinder), dendrites and an axon joined to it by wires
    "one_point_soma": """1 1 0 0 0 5 -1
2 3 0 5 0 1 1
3 3 0 15 0 1 2
4 3 5 25 0 0.8 3
5 3 -5 25 0 0.8 3
6 2 0 -5 0 0.5 1
7 2 0 -30 0 0.5 6
8 4 5 0 0 1 1
9 4 20 0 0 1 8
""",
    # neuromorpho.org's 3-point soma: a sphere
    "three_point_soma": """1 1 0 0 0 4 -1
2 1 0 -4 0 4 1
3 1 0 4 0 4 1
4 3 4 0 0 1 1
5 3 14 0 0 1 4
6 3 20 5 0 1 5
7 3 20 -5 0 1 5
8 2 -4 0 0 0.5 1
9 2 -20 0 0 0.5 8
""",
    # a branched multi-point soma, dendrites off its inside and its ends, a branch off the first point of a
    # wired dendrite (connected to its proximal end), and a zero-length section Import3d drops
    "multi_soma": """# comment line
1 1 0 0 0 3 -1
2 1 0 2 0 3 1
3 1 0 4 0 3 2
4 1 0 6 0 2 3
5 3 3 2 0 1 2
6 3 10 2 0 1 5
7 3 12 4 0 1 6
8 3 12 0 0 1 6
9 3 12 0 0 1 8
10 4 0 9 0 1 4
11 4 0 20 0 1 10
12 3 3 -5 0 1 5
13 3 6 -9 0 1 12
14 2 0 -3 0 0.5 1
15 2 0 -10 0 0.5 14

16 1 -2 4 0 2 3
17 1 -4 4 0 1 16
18 3 -8 4 0 1 17
19 3 12 4 0 1 7
20 3 14 6 0 1 7
21 3 16 6 0 1 20
""",
}


@pytest.fixture(scope="module")
def h():
    neuron = pytest.importorskip("neuron", reason="NEURON is not installed")
    from modelkit.sonata.swc import import3d_template
    hh = neuron.h
    hh.load_file("import3d.hoc")
    if not hasattr(hh, "MorphologyTestSWC"):
        hh(import3d_template("MorphologyTestSWC"))
    return hh


def _neuron_sections(h, path: Path) -> dict:
    cell = h.MorphologyTestSWC(str(path))
    secs = list(cell.all)
    index = {s.hname(): i for i, s in enumerate(secs)}
    out = {
        "names": [s.hname().split(".")[-1] for s in secs],
        "parent": [index[s.parentseg().sec.hname()] if s.parentseg() is not None else -1 for s in secs],
        "parent_x": [s.parentseg().x if s.parentseg() is not None else 0.0 for s in secs],
        "orientation": [h.section_orientation(sec=s) for s in secs],
        "n3d": [int(s.n3d()) for s in secs],
        "L": [s.L for s in secs],
        "points": np.array([[s.x3d(i), s.y3d(i), s.z3d(i), s.diam3d(i)] for s in secs for i in range(int(s.n3d()))]),
    }
    del cell, secs
    return out


def _compare(h, path: Path) -> None:
    want = _neuron_sections(h, path)
    m = read_morphology(path)
    assert list(m.names) == want["names"]  # the order of ``all``: what report element_ids index
    assert m.parent.tolist() == want["parent"]
    np.testing.assert_allclose(m.parent_x, want["parent_x"])
    assert set(want["orientation"]) == {0.0}  # every child's 0 end attaches, as read_morphology assumes
    assert np.diff(m.offsets).tolist() == want["n3d"]
    np.testing.assert_allclose(m.points, want["points"], atol=2e-4, rtol=1e-6)  # NEURON keeps single precision
    np.testing.assert_allclose(m.lengths, want["L"], rtol=1e-5, atol=1e-4)
    assert [n.split("[")[0] for n in m.names] == m.type_names.tolist()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_sections_match_neuron_on_bmtk_morphologies(h, path: Path) -> None:
    _compare(h, path)


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_sections_match_neuron_on_import3d_special_cases(h, name: str, tmp_path: Path) -> None:
    p = tmp_path / f"{name}.swc"
    p.write_text(SPECIAL[name])
    _compare(h, p)


def test_special_cases_take_the_paths_they_are_for(tmp_path: Path) -> None:
    for name, text in SPECIAL.items():
        (tmp_path / f"{name}.swc").write_text(text)
    one = read_morphology(tmp_path / "one_point_soma.swc")
    assert np.diff(one.offsets)[0] == 3 and one.lengths[0] == pytest.approx(10.0)  # sphere as a cylinder, L = diam
    assert set(one.parent_x[one.parent == 0].tolist()) == {0.5}
    multi = read_morphology(tmp_path / "multi_soma.swc")
    assert multi.n_sections == 11  # 12 pieces, the zero-length one dropped
    assert (multi.types == 1).sum() == 3  # the soma branches into three soma sections
    assert 0.0 in multi.parent_x[multi.types == 3].tolist()  # attached at a wired dendrite's proximal end


def test_axon_stub_as_the_neuron_backend_makes_it(h) -> None:
    from modelkit.simulator.neuron.morphology import read_swc
    for path in EXAMPLES[:3]:
        table, _ = read_swc(h, str(path), "test")
        for kind in ("perisomatic", "allactive"):
            theirs = table.with_axon_stub(h, kind, (1.0, 1.0))
            ours = read_morphology(path).with_axon_stub(kind)
            assert list(ours.names) == list(theirs.names)
            assert ours.types.tolist() == theirs.types.tolist()
            assert ours.parent.tolist() == theirs.parent.tolist()
            np.testing.assert_allclose(ours.parent_x, theirs.parent_x)
            np.testing.assert_allclose(ours.lengths[-2:], [30.0, 30.0])
            # bmtk's *_directed stub: the same 3-d points as the backend gives it (its soma points are NEURON's
            # single-precision copies)
            theirs = table.with_axon_stub(h, kind, (1.0, 1.0), directed=True)
            ours = read_morphology(path).with_axon_stub(kind, directed=True)
            np.testing.assert_allclose(ours.points[-4:, :3], np.vstack([p[:, :3] for p in theirs.points[-2:]]),
                                       atol=1e-3)


def test_axon_stub_kind_follows_model_processing() -> None:
    assert axon_stub_kind("ctdb:Biophys1.hoc", "aibs_perisomatic", "x.json") == "perisomatic"
    assert axon_stub_kind("ctdb:Biophys1.hoc", "aibs_allactive_directed", "x.json") == "allactive"
    assert axon_stub_kind("ctdb:Biophys1.hoc", "aibs_perisomatic", None) is None  # no parameters: no loader
    assert axon_stub_kind("nml:Cell_1.cell.nml", "aibs_perisomatic") == "perisomatic"
    assert axon_stub_kind("hoc:Cell", "NULL", "x.json") is None
    assert axon_stub_kind(float("nan"), float("nan")) is None


@pytest.mark.parametrize("text, line, what", [
    ("1 1 0 0 0 5 -1\n2 3 0 x 0 1 1\n", "line 2", "numbers"),
    ("1 1 0 0 0 5 -1\n3 3 0 5 0 1 1\n2 3 0 9 0 1 3\n", "line 3", "increasing id order"),
    ("1 1 0 0 0 5 -1\n2 3 0 5 0 1 1 7\n", "line 2", "7 fields"),
    ("# only a comment\n", None, "SWC samples"),
])
def test_bad_files_name_the_file_and_line(tmp_path: Path, text: str, line: str | None, what: str) -> None:
    p = tmp_path / "bad.swc"
    p.write_text(text)
    with pytest.raises(SonataFormatError) as e:
        read_morphology(p)
    assert str(p) in str(e.value) and what in str(e.value)
    if line:
        assert line in str(e.value)


def test_missing_and_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ModelkitError, match="no such file"):
        read_morphology(tmp_path / "none.swc")
    (tmp_path / "cell.asc").write_text("(\"CellBody\")\n")
    with pytest.raises(ModelkitError, match=r"cell\.asc.*SWC"):
        read_morphology(tmp_path / "cell.asc")


def test_positions_along_sections(tmp_path: Path) -> None:
    p = tmp_path / "c.swc"
    p.write_text(SPECIAL["one_point_soma"])
    m = read_morphology(p)
    k = m.names.index("dend[0]")  # from the soma centre (a wire: first 3-d point at 0,5,0) to (0,15,0)
    np.testing.assert_allclose(m.positions_at(np.array([k, k]), np.array([0.0, 1.0]))[:, 1], [5.0, 15.0])
    with pytest.raises(SonataFormatError, match="section"):
        m.positions_at(np.array([99]), np.array([0.5]))
