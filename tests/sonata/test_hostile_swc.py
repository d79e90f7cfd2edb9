"""SWC files that NEURON's Import3d reads into a wrong cell (issue 15, class 2): :func:`modelkit.sonata.swc.check_swc`
refuses each with a SonataFormatError naming the file and the line; every SWC of the corpus passes."""

from __future__ import annotations

import pytest

from modelkit.errors import SonataFormatError
from modelkit.sonata.swc import check_swc
from modelkit.testing import shared_path

GOOD = """# soma, a dendrite of three samples, an axon of two
1 1 0 0 0 8 -1
2 3 10 0 0 1 1
3 3 20 0 0 1 2
4 3 30 0 0 1 3
5 2 -10 0 0 0.5 1
6 2 -20 0 0 0.5 5
"""

BAD = {
    "text coordinate": ("3 3 20 0 0 1 2", "3 3 abc 0 0 1 2", "line 4", "numbers"),
    "nan coordinate": ("3 3 20 0 0 1 2", "3 3 nan 0 0 1 2", "line 4", "finite x"),
    "inf radius": ("3 3 20 0 0 1 2", "3 3 20 0 0 inf 2", "line 4", "radius"),
    "negative radius": ("3 3 20 0 0 1 2", "3 3 20 0 0 -1 2", "line 4", "radius >= 0"),
    "fractional id": ("3 3 20 0 0 1 2", "3.5 3 20 0 0 1 2", "line 4", "whole sample id"),
    "fractional parent": ("3 3 20 0 0 1 2", "3 3 20 0 0 1 2.5", "line 4", "whole parent id"),
    "six fields": ("3 3 20 0 0 1 2", "3 3 20 0 0 1", "line 4", "7 fields"),
    "eight fields": ("3 3 20 0 0 1 2", "3 3 20 0 0 1 2 9", "line 4", "7 fields"),
    "unknown parent": ("3 3 20 0 0 1 2", "3 3 20 0 0 1 99", "line 4", "parent id of a sample"),
    "own parent": ("3 3 20 0 0 1 2", "3 3 20 0 0 1 3", "line 4", "other than the sample itself"),
    "duplicate id": ("4 3 30 0 0 1 3", "3 3 30 0 0 1 2", "line 5", "unique sample ids"),
    "soma with a dendrite parent": ("6 2 -20 0 0 0.5 5", "6 1 -20 0 0 8 4", "line 7", "soma sample whose parent"),
    "soma root with a parent": ("1 1 0 0 0 8 -1", "1 1 0 0 0 8 4", None, "exactly one root"),
    "two roots": ("6 2 -20 0 0 0.5 5", "6 2 -20 0 0 0.5 -1", "line 7", "exactly one root"),
    "custom type": ("3 3 20 0 0 1 2", "3 7 20 0 0 1 2", "line 4", "type code of 1 soma"),
    "dendrite root": ("1 1 0 0 0 8 -1", "1 3 0 0 0 8 -1", "line 2", "soma sample (type 1) as the root"),
    "cycle": ("6 2 -20 0 0 0.5 5", "6 2 -20 0 0 0.5 7\n7 2 -30 0 0 0.5 6", "line 7", "no cycles"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_swc_that_makes_a_wrong_cell_is_refused(tmp_path, case):
    old, new, where, needle = BAD[case]
    assert old in GOOD
    f = tmp_path / "cell.swc"
    f.write_text(GOOD.replace(old, new))
    with pytest.raises(SonataFormatError) as ei:
        check_swc(f)
    msg = str(ei.value)
    assert str(f) in msg and needle in msg, msg
    if where is not None:
        assert where in msg, msg


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_swc_without_samples_is_refused(tmp_path, text):
    f = tmp_path / "empty.swc"
    f.write_text(text)
    with pytest.raises(SonataFormatError, match="SWC samples"):
        check_swc(f)


def test_good_swc_and_every_corpus_swc_pass(tmp_path):
    f = tmp_path / "cell.swc"
    f.write_text(GOOD)
    assert check_swc(f).shape == (6, 7)
    files = sorted(shared_path("sonata", "corpus").rglob("*.swc"))
    assert files
    for swc in files:
        check_swc(swc)


def test_validate_checks_an_swc_file_given_alone(tmp_path):
    from modelkit import validate
    f = tmp_path / "cell.swc"
    f.write_text(GOOD)
    assert validate(f) == []
    f.write_text(GOOD.replace("3 3 20 0 0 1 2", "3 3 20 0 0 -1 2"))
    (problem,) = validate(f)
    assert problem.path == str(f) and problem.key.startswith("line 4") and "radius" in problem.expected


def test_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path):
    import os
    fifo = tmp_path / "cell.swc"
    os.mkfifo(fifo)
    with pytest.raises(SonataFormatError, match="regular SWC file"):
        check_swc(fifo)
    with pytest.raises(SonataFormatError, match="regular SWC file"):
        check_swc(tmp_path)
