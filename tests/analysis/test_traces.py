"""Compartment reports as DataFrames: node/time selection and downsampling, on bmtk's reference and written files."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.analysis import ReportSelectionError, read_traces, report_frame
from modelkit.sonata import CompartmentReport, ReportWriter, write_compartment_report
from modelkit.testing import shared_path

BIO1 = shared_path("reference", "bmtk", "bio_1cell", "iclamp", "membrane_potential.h5")


@pytest.fixture()
def report(tmp_path):
    """Nodes 3 (one element) and 5 (elements 0, 1); 20 frames 0-10 ms every 0.5 ms; value = 3 * frame + column."""
    p = tmp_path / "v.h5"
    data = np.arange(60, dtype=np.float64).reshape(20, 3)
    write_compartment_report(p, "v1", [3, 5], [0, 1, 3], [0, 0, 1], (0.0, 10.0, 0.5), data, units="mV",
                             variable="v", dtype=np.float64)
    return p


def test_reference_soma_report():
    df = report_frame(BIO1)
    assert df.shape == (30000, 1) and df.columns.tolist() == [0] and df.columns.name == "node_id"
    assert df.index.name == "time" and df.index[1] - df.index[0] == pytest.approx(0.1)
    assert df.attrs["variable"] == "v" and df.attrs["population"] == "biocell"
    raw = CompartmentReport(BIO1)["biocell"].data()
    np.testing.assert_array_equal(df.to_numpy(), raw)
    sub = report_frame(BIO1, t_start=500.0, t_stop=600.0, step=10)
    assert len(sub) == 100 and sub.index[0] == pytest.approx(500.0)
    assert sub.index[1] - sub.index[0] == pytest.approx(1.0)
    np.testing.assert_array_equal(sub.to_numpy()[:, 0], raw[5000:6000:10, 0])


def test_multi_element_columns_and_selection(report):
    df = report_frame(report)
    assert df.columns.names == ["node_id", "element_id"] and df.columns.tolist() == [(3, 0), (5, 0), (5, 1)]
    assert df.shape == (20, 3) and df.iloc[2].tolist() == [6.0, 7.0, 8.0] and df.index[2] == 1.0
    one = report_frame(report, node_ids=[5], t_start=2.0, t_stop=4.0)
    assert one.index.tolist() == [2.0, 2.5, 3.0, 3.5]  # stop excluded
    assert one.to_numpy()[:, 0].tolist() == [13.0, 16.0, 19.0, 22.0]
    soma = report_frame(report, node_ids=[3])
    assert soma.columns.tolist() == [3] and soma.columns.name == "node_id"


def test_downsampling_by_step_and_dt(report):
    a = report_frame(report, step=2)
    b = report_frame(report, dt=1.0)
    assert a.index.tolist() == [float(k) for k in range(10)]
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    with pytest.raises(ReportSelectionError, match="dt"):
        report_frame(report, dt=0.75)
    with pytest.raises(ReportSelectionError, match="step"):
        report_frame(report, step=0)


def test_traces_object(report):
    tr = read_traces(CompartmentReport(report), node_ids=[5, 3])
    assert tr.node_ids.tolist() == [5, 5, 3] and tr.element_ids.tolist() == [0, 1, 0]
    assert tr.dt == 0.5 and tr.units == "mV" and not tr.one_element_per_node
    np.testing.assert_allclose(tr.mean().iloc[0], (1.0 + 2.0 + 0.0) / 3)


def test_to_xarray(report):
    xr = pytest.importorskip("xarray")  # optional dependency
    da = read_traces(report).to_xarray()
    assert isinstance(da, xr.DataArray) and da.dims == ("time", "column") and da.shape == (20, 3)
    assert da["node_id"].values.tolist() == [3, 5, 5] and da.attrs["units"] == "mV"
    assert float(da.sel(time=1.0).isel(column=2)) == 8.0


def test_to_xarray_without_xarray_says_how_to_install(report, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "xarray", None)  # make the import fail as if not installed
    with pytest.raises(ModuleNotFoundError, match="pip install xarray"):
        read_traces(report).to_xarray()


def test_several_populations_need_a_choice(tmp_path):
    p = tmp_path / "two.h5"
    with ReportWriter(p, "a", [0], [0, 1], [0], (0.0, 1.0, 0.5)) as w:
        w.add_population("b", [1], [0, 1], [0], (0.0, 1.0, 0.5))
        w.append(np.zeros((2, 1)))
        w.append(np.ones((2, 1)), population="b")
    with pytest.raises(ReportSelectionError) as e:
        report_frame(p)
    assert str(p) in str(e.value) and "/report" in str(e.value)
    assert report_frame(p, population="b").to_numpy().tolist() == [[1.0], [1.0]]
