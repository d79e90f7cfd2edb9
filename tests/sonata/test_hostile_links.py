"""An HDF5 file that references a FIFO or a device (external link, link in a linked file, virtual dataset,
external storage) is refused before HDF5 follows the reference: HDF5's blocking open of a FIFO hung
``info``/``validate``/``run`` for ever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.errors import SonataFormatError
from modelkit.sonata import read_spikes
from modelkit.sonata.h5 import open_h5


def _spikes(path: Path, ts=None) -> None:
    with h5py.File(path, "w") as f:
        g = f.create_group("spikes/cortex")
        g["node_ids"] = np.arange(5, dtype=np.uint64)
        g["timestamps"] = np.arange(5, dtype=np.float64) if ts is None else ts


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    p = tmp_path / "fifo"
    os.mkfifo(p)
    return p


def _link(path: Path, target: str) -> None:
    with h5py.File(path, "w") as f:
        f["spikes/cortex/node_ids"] = np.arange(5, dtype=np.uint64)
        f["spikes/cortex/timestamps"] = h5py.ExternalLink(target, "/x")


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "."])
def test_an_external_link_to_a_non_regular_file_is_refused(tmp_path: Path, fifo: Path, target: str) -> None:
    f = tmp_path / "spikes.h5"
    _link(f, str(fifo) if target == "fifo" else target)
    with pytest.raises(SonataFormatError) as ei:
        read_spikes(f)
    assert str(f) in str(ei.value) and "/spikes/cortex/timestamps" in str(ei.value) and "regular file" in str(ei.value)


def test_a_link_in_a_linked_file_is_followed(tmp_path: Path, fifo: Path) -> None:
    inner = tmp_path / "inner.h5"
    _link(inner, str(fifo))
    outer = tmp_path / "outer.h5"
    with h5py.File(outer, "w") as f:
        f["spikes"] = h5py.ExternalLink("inner.h5", "/spikes")
    with pytest.raises(SonataFormatError, match="a FIFO"):
        open_h5(outer)


def test_a_link_to_a_regular_file_still_reads(tmp_path: Path) -> None:
    _spikes(tmp_path / "real.h5")
    f = tmp_path / "spikes.h5"
    with h5py.File(f, "w") as h:
        h["spikes"] = h5py.ExternalLink("real.h5", "/spikes")
    assert len(read_spikes(f)["cortex"].timestamps) == 5


def test_the_cli_answers_at_once(tmp_path: Path, fifo: Path) -> None:
    f = tmp_path / "spikes.h5"
    _link(f, str(fifo))
    for cmd in (["info", str(f)], ["validate", str(f)], ["plot", "raster", str(f), "-o", str(tmp_path / "r.png")]):
        r = subprocess.run([sys.executable, "-m", "modelkit", *cmd], capture_output=True, text=True, timeout=60)
        assert "Traceback" not in r.stderr, r.stderr
        assert "FIFO" in r.stdout + r.stderr, (cmd, r.stdout, r.stderr)
