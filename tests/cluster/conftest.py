"""A real ipyparallel cluster on loopback, started once per test module, and helpers to compare spikes."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.cluster import start_cluster, stop_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One local engine (controller on 127.0.0.1) in a private profile folder; stopped after the module."""
    rc = start_cluster(1, profile_dir=tmp_path_factory.mktemp("ipp") / "profile")
    yield rc
    stop_cluster(rc)


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    """The test runs in an empty working folder, as a notebook would."""
    d = tmp_path / "cwd"
    d.mkdir()
    monkeypatch.chdir(d)
    return d


@pytest.fixture
def stream_equals_file():
    """``check(run, result)``: the streamed spikes are exactly those of the run's spikes file."""
    return assert_stream_equals_file


def sorted_spikes(ids: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spikes ordered by (node id, time), to compare multisets exactly."""
    order = np.lexsort((times, ids))
    return np.asarray(ids)[order], np.asarray(times)[order]


def assert_stream_equals_file(run, result) -> None:
    """The spikes that arrived through the stream are exactly those of the run's spikes file."""
    from modelkit.sonata import read_spikes
    assert run.stream.lost == 0 and run.stream.duplicates == 0
    streamed = run.stream.arrays()
    written = read_spikes(result.spikes_file)
    assert {p for p, s in written.items() if len(s.node_ids)} == set(streamed)
    total = 0
    for pop, sp in written.items():
        if not len(sp.node_ids):
            continue
        a = sorted_spikes(*streamed[pop])
        b = sorted_spikes(sp.node_ids, sp.timestamps)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        total += len(b[0])
    assert total == sum(result.n_spikes.values()) == len(run.spikes) > 0
