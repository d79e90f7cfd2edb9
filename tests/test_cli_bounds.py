"""Issue 15, class 1: numeric options of ``modelkit plot`` and preview/widget limits are bounded.

Each out-of-range value must end in a one-line ``modelkit:`` error (exit 2) naming the option,
before anything is read or drawn -- never a traceback, a hang or a multi-GB allocation.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

LIMIT_S = 60
AS_BYTES = 4 << 30


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_BYTES, AS_BYTES))


def modelkit(*args: object) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.run([sys.executable, "-m", "modelkit", *map(str, args)], capture_output=True, text=True,
                          timeout=LIMIT_S, preexec_fn=_limit, env=env)


@pytest.fixture
def spikes(tmp_path) -> Path:
    p = tmp_path / "spikes.h5"
    with h5py.File(p, "w") as f:
        g = f.create_group("spikes/cortex")
        g["node_ids"] = np.array([0, 1, 2, 0], np.uint64)
        g["timestamps"] = np.array([1.0, 2.0, 3.0, 500.0])
        g.attrs["sorting"] = "by_time"
    return p


def _assert_option_error(r: subprocess.CompletedProcess, option: str) -> None:
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert r.stderr.startswith("modelkit:"), r.stderr
    assert option in r.stderr, r.stderr


@pytest.mark.parametrize("dpi", ["0", "-5", "1201", "100000000"])
def test_dpi_out_of_range(tmp_path, spikes, dpi):
    r = modelkit("plot", "raster", spikes, "-o", tmp_path / "r.png", "--dpi", dpi)
    _assert_option_error(r, "--dpi")
    assert not (tmp_path / "r.png").exists()


@pytest.mark.parametrize("bin_ms", ["0", "-1", "nan", "inf"])
def test_bin_ms_not_positive_finite(tmp_path, spikes, bin_ms):
    r = modelkit("plot", "rates", spikes, "-o", tmp_path / "r.png", "--kind", "time", "--bin-ms", bin_ms)
    _assert_option_error(r, "--bin-ms")


def test_tiny_bin_is_bounded_by_bin_count(tmp_path, spikes):
    """1e-9 ms bins over 500 ms would be 5e11 bins: refused, not allocated."""
    r = modelkit("plot", "rates", spikes, "-o", tmp_path / "r.png", "--kind", "time", "--bin-ms", "1e-9")
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "bins" in r.stderr and "bin_ms" in r.stderr


@pytest.mark.parametrize("window", [("10", "5"), ("0", "inf"), ("nan", "5")])
def test_time_window_invalid(tmp_path, spikes, window):
    r = modelkit("plot", "raster", spikes, "-o", tmp_path / "r.png", "--time", *window)
    _assert_option_error(r, "--time")


def test_valid_options_still_plot(tmp_path, spikes):
    r = modelkit("plot", "rates", spikes, "-o", tmp_path / "r.png", "--kind", "time", "--bin-ms", "5",
                 "--dpi", "50", "--time", "0", "600")
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "r.png").stat().st_size > 0


def test_python_api_bounds(spikes):
    from modelkit.analysis import SpikeTable
    from modelkit.analysis.errors import AnalysisError
    from modelkit.errors import ConfigError
    from modelkit.plotting import plot_raster
    from modelkit.plotting.rates import rate_data
    with pytest.raises(ConfigError, match="max_points"):
        plot_raster(spikes, max_points=0)
    with pytest.raises(ConfigError, match="bin_ms"):
        rate_data(spikes, kind="time", bin_ms=float("inf"))
    with pytest.raises(AnalysisError, match="bins"):
        SpikeTable.load(spikes).psth(bin_ms=1e-9)


@pytest.mark.parametrize("key,value", [("max_points", 0), ("max_points", 10**12), ("max_traces", 10**9),
                                       ("max_frames", -1)])
def test_preview_limits_are_bounded(spikes, key, value):
    from modelkit.labserver.preview import preview_data
    with pytest.raises(ValueError, match=key):
        preview_data(str(spikes), "raster", **{key: value})
    assert preview_data(str(spikes), "raster", max_points=2)["populations"][0]["shown"] == 2


def test_preview_png_dpi_bounded(spikes):
    from modelkit.labserver.preview import preview_png
    with pytest.raises(ValueError, match="dpi"):
        preview_png(str(spikes), "raster", dpi=10**6)
