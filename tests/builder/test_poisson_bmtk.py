"""PoissonSpikeGenerator has bmtk's methods and statistics, and writes files bmtk's SpikeTrains reads (bmtk 1.2.0).

(Kept beside the builder tests: build scripts make their inputs with it.)
"""

from __future__ import annotations

import numpy as np
import pytest
from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator as BmtkPSG
from bmtk.utils.reports.spike_trains import SpikeTrains

from modelkit.builder import NetworkBuilder
from modelkit.errors import ModelkitError
from modelkit.simulator.poisson import PoissonSpikeGenerator


def _counts(psg, n: int, pop: str) -> np.ndarray:
    return np.array([len(psg.get_times(i, population=pop)) for i in range(n)])


def test_methods_and_homogeneous_statistics_match_bmtk() -> None:
    n, rate, t0, t1 = 400, 15.0, 0.5, 2.5  # Hz, s
    ours = PoissonSpikeGenerator(population="lgn", seed=3)
    ours.add(node_ids=range(n), firing_rate=rate, times=(t0, t1))
    ref = BmtkPSG(population="lgn", seed=3)
    ref.add(node_ids=list(range(n)), firing_rate=rate, times=(t0, t1))
    c_ours, c_ref = _counts(ours, n, "lgn"), _counts(ref, n, "lgn")
    expect = rate * (t1 - t0)
    for c in (c_ours, c_ref):  # Poisson counts: mean = variance = rate * duration
        assert abs(c.mean() - expect) < 4 * np.sqrt(expect / n)
        assert abs(c.var() / c.mean() - 1.0) < 0.2
    assert ours.n_spikes() == c_ours.sum() and ours.n_spikes("lgn") == c_ours.sum()
    assert set(ours.node_ids().tolist()) == set(np.flatnonzero(c_ours).tolist())
    assert ours.node_ids().dtype == np.asarray(ref.node_ids()).dtype
    lo, hi = ours.time_range()
    assert 500.0 <= lo < 520.0 and 2480.0 < hi <= 2500.0  # ms, as bmtk's default output units
    rlo, rhi = ref.time_range()
    assert 500.0 <= rlo and rhi <= 2500.0
    t = ours.get_times(7)
    assert np.all(np.diff(t) >= 0) and np.all((t >= 500.0) & (t <= 2500.0))
    assert np.array_equal(ours.get_times(7, time_window=(1000.0, 2000.0)), t[(t >= 1000.0) & (t <= 2000.0)])
    df = ours.to_dataframe()
    assert list(df.columns) == ["timestamps", "population", "node_ids"] and len(df) == ours.n_spikes()


def test_inhomogeneous_rate_follows_the_profile_as_bmtk() -> None:
    times = np.linspace(0.0, 2.0, 21)  # s
    rates = np.where(times < 1.0, 5.0, 40.0)  # Hz
    ours = PoissonSpikeGenerator(population="x", seed=1)
    ours.add(node_ids=np.arange(300), firing_rate=rates, times=times)
    ref = BmtkPSG(population="x", seed=1)
    ref.add(node_ids=np.arange(300), firing_rate=rates, times=times)
    for psg in (ours, ref):
        ts = psg.to_dataframe()["timestamps"].to_numpy() / 1000.0
        early, late = np.sum(ts < 0.9) / (300 * 0.9), np.sum(ts > 1.1) / (300 * 0.9)
        assert abs(early - 5.0) < 0.8 and abs(late - 40.0) < 2.5, (early, late)


@pytest.mark.parametrize("units", ["ms", "s"])
def test_files_read_back_with_bmtks_spike_trains(tmp_path, units) -> None:
    psg = PoissonSpikeGenerator(population="virt", seed=2, output_units=units)
    psg.add(node_ids=[0, 1, 5], firing_rate=20.0, times=(0.0, 1.0))
    psg.to_sonata(tmp_path / "s.h5")
    psg.to_csv(tmp_path / "s.csv")
    for name in ("s.h5", "s.csv"):
        st = SpikeTrains.load(str(tmp_path / name))
        assert list(st.populations) == ["virt"]
        assert st.n_spikes("virt") == psg.n_spikes()
        for nid in (0, 1, 5):
            np.testing.assert_allclose(np.sort(st.get_times(nid, population="virt")), psg.get_times(nid), rtol=1e-6)


def test_node_ids_from_a_nodes_file_and_seeding_from_numpys_state(tmp_path) -> None:
    net = NetworkBuilder("virt")
    net.add_nodes(N=6, model_type="virtual")
    net.save(output_dir=tmp_path)
    np.random.seed(9)
    a = PoissonSpikeGenerator()
    a.add(node_ids=str(tmp_path / "virt_nodes.h5"), firing_rate=30.0, times=(0.0, 1.0), population="virt")
    np.random.seed(9)
    b = PoissonSpikeGenerator()
    b.add(node_ids=str(tmp_path / "virt_nodes.h5"), firing_rate=30.0, times=(0.0, 1.0), population="virt")
    assert set(a.node_ids("virt").tolist()) <= set(range(6)) and a.n_spikes("virt") > 50
    assert np.array_equal(a.to_dataframe()["timestamps"], b.to_dataframe()["timestamps"])
    with pytest.raises(ModelkitError, match="other"):
        a.add(node_ids=str(tmp_path / "virt_nodes.h5"), firing_rate=1.0, population="other")
