"""Morphologies NEURON's Import3d reads into a wrong cell (issue 15, class 2): a run refuses them before Import3d
with a SonataFormatError naming the SWC file and the line, and ``validate`` finds them without NEURON."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit import validate
from modelkit.datasets import bio_network
from modelkit.errors import SonataFormatError
from modelkit.simulator import simulate

# lines of the ball-and-stick SWC of modelkit.datasets.bio_network (soma id 1, neurites from id 2)
CASES = {
    "text coordinate": (lambda rows: _set(rows, 2, 2, "abc"), "numbers"),
    "negative radius": (lambda rows: _set(rows, 2, 5, "-2.0"), "radius >= 0"),
    "nan coordinate": (lambda rows: _set(rows, 3, 3, "nan"), "finite y"),
    "soma with a parent": (lambda rows: rows + ["999 1 0 0 0 8 3"], "soma sample whose parent"),
    "unknown parent": (lambda rows: _set(rows, 3, 6, "5000"), "parent id of a sample"),
    "duplicated id": (lambda rows: rows + [rows[3]], "unique sample ids"),
    "cycle": (lambda rows: _set(_set(rows, 3, 6, "5"), 4, 6, "4"), "no cycles"),
}


def _set(rows: list[str], i: int, col: int, value: str) -> list[str]:
    """Sample ``i`` (0 = soma) with field ``col`` replaced."""
    rows = list(rows)
    f = rows[i].split()
    f[col] = value
    rows[i] = " ".join(f)
    return rows


@pytest.fixture
def small_bio(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MODELKIT_CACHE_DIR", str(tmp_path / "cache"))  # no morphology table cached elsewhere
    return Path(bio_network(tmp_path / "bio", n_exc=1, n_inh=0, n_input=2, tstop=10.0))


@pytest.mark.parametrize("case", sorted(CASES))
def test_run_and_validate_refuse_a_morphology_that_makes_a_wrong_cell(small_bio: Path, case: str) -> None:
    swc = small_bio.parent / "components" / "morphologies" / "ballstick.swc"
    text = swc.read_text().splitlines()
    head, rows = text[:1], text[1:]
    mutate, needle = CASES[case]
    swc.write_text("\n".join(head + mutate(rows)) + "\n")
    with pytest.raises(SonataFormatError) as ei:
        simulate(small_bio, progress=False)
    msg = str(ei.value)
    assert str(swc) in msg and "line " in msg and needle in msg, msg
    problems = [p for p in validate(small_bio) if p.path == str(swc)]
    assert problems and needle in f"{problems[0].expected} {problems[0].found}", problems


def test_the_intact_network_runs_and_validates(small_bio: Path) -> None:
    assert not [p for p in validate(small_bio) if p.severity == "error"]
    simulate(small_bio, progress=False)


def test_validate_reports_a_missing_morphology(small_bio: Path) -> None:
    swc = small_bio.parent / "components" / "morphologies" / "ballstick.swc"
    swc.unlink()
    assert [p for p in validate(small_bio) if p.found == str(swc)]


def test_a_hoc_template_reading_a_bad_swc_is_refused_before_import3d(small_bio: Path, tmp_path: Path) -> None:
    """A ``hoc:`` template reads its SWC with Import3d itself: the file is checked before the template runs."""
    from modelkit.builder import NetworkBuilder
    from test_neuron_templates import TEMPLATE

    base = small_bio.parent / "components"
    swc = base / "morphologies" / "ballstick.swc"
    rows = swc.read_text().splitlines()
    swc.write_text("\n".join(rows[:1] + _set(rows[1:], 2, 5, "-2.0")) + "\n")  # a negative radius
    templates = tmp_path / "templates"
    templates.mkdir()
    # a name of its own: hoc cannot redefine the template test_neuron_templates loads in the same process
    (templates / "hostile_ballstick.hoc").write_text(TEMPLATE.replace("MkBallStick", "MkHostileBallStick"))
    b = NetworkBuilder("cells")
    b.add_nodes(N=1, model_type="biophysical", model_template="hoc:MkHostileBallStick", morphology="ballstick.swc")
    cfg = {"run": {"tstop": 5.0, "dt": 0.025}, "target_simulator": "NEURON",
           "components": {"morphologies_dir": str(base / "morphologies"), "templates_dir": str(templates)},
           "output": {"output_dir": str(tmp_path / "out")}}
    with pytest.raises(SonataFormatError, match="radius >= 0"):
        simulate(cfg, network=b, progress=False)


@pytest.mark.parametrize(("name", "value", "needle"), [("afferent_section_pos", 1.5, "from 0 to 1"),
                                                       ("afferent_section_pos", np.inf, "from 0 to 1"),
                                                       ("afferent_section_id", -1, "section indices >= 0")])
def test_explicit_synapse_locations_outside_the_section_are_errors(small_bio: Path, name, value, needle) -> None:
    """An ``afferent_section_pos`` of 1.5 ended in NEURON's raw ValueError."""
    edges = small_bio.parent / "network" / "input_bio_edges.h5"
    with h5py.File(edges, "r+") as f:
        pop = next(iter(f["edges"]))
        g = f["edges"][pop]["0"]
        n = f["edges"][pop]["source_node_id"].shape[0]
        g.create_dataset("afferent_section_id", data=np.zeros(n, np.int64))
        g.create_dataset("afferent_section_pos", data=np.full(n, 0.5))
        g[name][-1] = value
    with pytest.raises(SonataFormatError) as ei:
        simulate(small_bio, progress=False)
    assert str(edges) in str(ei.value) and f"/0/{name}" in str(ei.value) and needle in str(ei.value)
    assert [p for p in validate(small_bio) if p.key.endswith(f"/0/{name}")]


def test_a_fifo_in_place_of_the_morphology_is_refused_without_blocking(small_bio: Path) -> None:
    import os

    from modelkit.errors import ModelkitError
    swc = small_bio.parent / "components" / "morphologies" / "ballstick.swc"
    swc.unlink()
    os.mkfifo(swc)
    with pytest.raises(ModelkitError, match="regular SWC file"):
        simulate(small_bio, progress=False)
    assert [p for p in validate(small_bio) if p.path == str(swc) and "regular" in p.expected]


def test_a_failed_run_leaves_no_cells_in_neuron_while_its_error_is_kept(small_bio: Path) -> None:
    """The traceback's frames held the failed run's cells: kept by ``pytest.raises`` (or IPython's
    ``sys.last_traceback``), they stayed in NEURON, and the next run failed on a frozen structure or crashed
    when they were collected."""
    from neuron import h

    edges = small_bio.parent / "network" / "input_bio_edges.h5"
    with h5py.File(edges, "r+") as f:
        pop = next(iter(f["edges"]))
        n = f["edges"][pop]["source_node_id"].shape[0]
        f["edges"][pop]["0"].create_dataset("afferent_section_id", data=np.zeros(n, np.int64))
        f["edges"][pop]["0"].create_dataset("afferent_section_pos", data=np.full(n, 1.5))
    before = sum(1 for _ in h.allsec())
    with pytest.raises(SonataFormatError) as ei:
        simulate(small_bio, progress=False)
    assert ei.value is not None  # the error, with its traceback, is still held here
    assert sum(1 for _ in h.allsec()) == before
