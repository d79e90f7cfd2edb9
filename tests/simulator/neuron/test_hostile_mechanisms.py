"""Issue 15, class 1: a ``mechanisms_dir`` of hostile ``.mod`` files must not hang.

The mechanism names of a model's ``.mod`` files are read with regular expressions before
anything is compiled.  With a backtracking engine, ``COMMENT.*?ENDCOMMENT`` over a file of
many ``COMMENT`` and no ``ENDCOMMENT`` is quadratic (a 400 KB file took minutes), and a
``.mod`` that is a FIFO blocked the read for ever.
"""

from __future__ import annotations

import os
import threading

import pytest

from modelkit.errors import ConfigError
from modelkit.simulator.neuron.mechanisms import mechanism_names, mod_files

LIMIT_S = 10


def _bounded(fn, *args):
    out: list = []
    err: list = []

    def target():
        try:
            out.append(fn(*args))
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            err.append(e)

    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(LIMIT_S)
    assert not th.is_alive(), f"{fn.__name__} ran for more than {LIMIT_S} s"
    if err:
        raise err[0]
    return out[0]


@pytest.mark.parametrize("body", [
    "COMMENT x\n" * 40_000,                      # comments that never end
    "NEURON {\n" * 40_000,                       # blocks that never close
    "NEURON {" + " SUFFIX a\n" * 40_000,         # one long unclosed block
])
def test_unterminated_blocks_are_read_in_linear_time(tmp_path, body):
    (tmp_path / "evil.mod").write_text(body)
    (tmp_path / "good.mod").write_text("COMMENT\nNEURON { SUFFIX no }\nENDCOMMENT\n"
                                       "NEURON {\n  SUFFIX hh2 : a comment }\n}\n")
    names = _bounded(mechanism_names, mod_files(str(tmp_path)))
    assert names.get("hh2") == str(tmp_path / "good.mod")
    assert "no" not in names


def test_names_are_read_as_before(tmp_path):
    (tmp_path / "a.mod").write_bytes(
        b"TITLE caf\xb5 : latin-1 byte in a comment\n"
        b"COMMENT\n NEURON { POINT_PROCESS Hidden }\nENDCOMMENT\n"
        b"NEURON {\n  POINT_PROCESS Exp2Syn2\n  RANGE tau1 : }\n  ARTIFICIAL_CELL Gen\n}\n"
        b"NEURON{SUFFIX  kdr}\n")
    names = mechanism_names(mod_files(str(tmp_path)))
    assert set(names) == {"Exp2Syn2", "Gen", "kdr"}


@pytest.mark.parametrize("kind", ["fifo", "dir"])
def test_a_mod_file_that_is_not_a_regular_file_is_a_config_error(tmp_path, kind):
    path = tmp_path / "bad.mod"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    with pytest.raises(ConfigError, match="bad.mod"):
        _bounded(mod_files, str(tmp_path))

