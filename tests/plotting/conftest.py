"""Fixtures of the plotting tests: the bmtk reference run, and a small network simulated in NEST."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from modelkit.testing import shared_path  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test starts and ends with no open figure (pyplot keeps them alive otherwise)."""
    import matplotlib.pyplot as plt
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def ref_spikes() -> Path:
    """bmtk's spikes of point_120cells: 1197 spikes, LIF_exc 833 (80 cells), LIF_inh 364 (40 cells), 3000 ms."""
    return shared_path("reference", "bmtk", "point_120cells", "spikes.h5")


@pytest.fixture(scope="session")
def p120_config() -> Path:
    """The point_120cells simulation config (its circuit: cortex 120 cells, thalamus 100 virtual)."""
    return shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells", "config.simulation.json")


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> tuple[Path, object]:
    """A balanced network of 40 + 10 cells and 20 Poisson inputs, written by modelkit.datasets and run
    for 200 ms in NEST: ``(config path, RunResult)``. Its membrane report records V_m of cortex
    nodes 0, 1, 40, 41 every 0.1 ms."""
    from modelkit.datasets import balanced_network
    from modelkit.simulator import simulate
    d = tmp_path_factory.mktemp("small_run")
    cfg = balanced_network(d, n_exc=40, n_inh=10, n_input=20, input_rate=40.0, tstop=200.0)
    res = simulate(cfg, progress=False)
    assert sum(res.n_spikes.values()) > 50  # an active network, so rates and rasters have content
    return Path(cfg), res
