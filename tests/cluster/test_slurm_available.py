"""``slurm_available()``: the check tutorial 09 uses to choose Slurm engines or local MPI engines.

It must answer True on a Slurm that answers (the session's real single-node Slurm), and False -- quickly,
never raising -- where there is no Slurm client, no ``slurm.conf``, or a controller that does not answer
(``sinfo`` keeps retrying then; the timeout ends it).
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from modelkit.cluster import slurm_available


def test_no_slurm_client_on_path(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no sinfo, no sbatch
    assert slurm_available() is False


@pytest.mark.slurm
def test_a_slurm_that_answers(slurm) -> None:
    t0 = time.monotonic()
    assert slurm_available(timeout=30) is True
    assert time.monotonic() - t0 < 10


@pytest.mark.slurm
def test_no_slurm_conf(slurm, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "missing.conf"))
    assert slurm_available(timeout=10) is False


@pytest.mark.slurm
def test_a_controller_that_does_not_answer(slurm, tmp_path, monkeypatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "slurm.conf"
    conf.write_text(re.sub(r"(?m)^SlurmctldPort=\d+", f"SlurmctldPort={port}", slurm.conf.read_text()))
    assert f"SlurmctldPort={port}" in conf.read_text()
    monkeypatch.setenv("SLURM_CONF", str(conf))
    t0 = time.monotonic()
    assert slurm_available(timeout=3) is False
    assert time.monotonic() - t0 < 6  # sinfo's own retries are cut at the timeout


@pytest.mark.slurm
def test_only_a_partition_that_is_down(slurm, monkeypatch) -> None:
    assert "PartitionName=held" in slurm.conf.read_text()  # State=DOWN
    # sinfo sees only the partition "held" (``sinfo -p held``): a cluster whose partitions are all down
    monkeypatch.setenv("SINFO_PARTITION", "held")
    assert slurm_available(timeout=10) is False
