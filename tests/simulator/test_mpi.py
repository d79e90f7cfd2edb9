"""Real MPI (mpiexec from the mpich wheel): the rank-0 gathering layer, and NEST under mpiexec."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from modelkit.sonata import read_spikes
from modelkit.testing import shared_path

BIN = os.path.dirname(sys.executable)
MPIEXEC = os.path.join(BIN, "mpiexec")
P120 = shared_path("sonata", "corpus", "bmtk", "examples", "point_120cells")

GATHER = r"""
import json, numpy as np
from modelkit.simulator.parallel import world, gather_arrays, merge_frames
comm = world()
r = comm.rank
spikes = gather_arrays(comm, {"ids": np.arange(r * 10, r * 10 + 3), "t": np.full(3, float(r))})
nan = np.nan
# 4 cells: rank 0 owns cells 0 and 2, rank 1 owns 1 and 3; rank 1 has one frame more
frames = {"V_m": np.array([[1.0, nan, 3.0, nan]] * 2) if r == 0 else np.array([[nan, 2.0, nan, 4.0]] * 3)}
merged = merge_frames(comm, frames)
if r == 0:
    print(json.dumps({"size": comm.size, "type": type(comm).__name__, "ids": spikes["ids"].tolist(),
                      "t": spikes["t"].tolist(), "V": np.nan_to_num(merged["V_m"], nan=-1).tolist()}))
else:
    assert spikes is None and merged is None
"""


def _mpiexec(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    return subprocess.run([MPIEXEC, "-n", "2", *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_gathering_on_two_real_mpi_ranks():
    r = _mpiexec(sys.executable, "-c", GATHER)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["size"] == 2 and out["type"] == "Intracomm"
    assert out["ids"] == [0, 1, 2, 10, 11, 12] and out["t"] == [0, 0, 0, 1, 1, 1]
    assert out["V"] == [[1, 2, 3, 4], [1, 2, 3, 4], [-1, 2, -1, 4]]


def _nest_has_mpi() -> bool:
    import nest
    return bool(nest.build_info.get("have_mpi"))


def test_modelkit_run_under_mpiexec(tmp_path):
    """With an MPI-enabled NEST (HPC builds) two ranks reproduce bmtk's spikes and rank 0 writes them;
    with the PyPI wheel (threads only) the run stops with a clear error instead of simulating the whole
    network on every rank (NEST itself refuses to start under an MPI launcher; modelkit checks again after
    building, for simulators that do start) and leaves no output folder behind."""
    out = tmp_path / "out"
    r = _mpiexec(sys.executable, "-m", "modelkit", "run", str(P120 / "config.simulation.json"), "--output", str(out),
                 "--quiet", timeout=600)
    if _nest_has_mpi():
        assert r.returncode == 0, r.stderr
        ours = read_spikes(out / "spikes.h5")["cortex"]
        ref = read_spikes(shared_path("reference", "bmtk", "point_120cells", "spikes.h5"))["cortex"]
        o1, o2 = np.lexsort((ours.timestamps, ours.node_ids)), np.lexsort((ref.timestamps, ref.node_ids))
        np.testing.assert_array_equal(ours.node_ids[o1], ref.node_ids[o2])
        np.testing.assert_allclose(ours.timestamps[o1], ref.timestamps[o2], atol=1e-9)
    else:
        assert r.returncode != 0
        assert "not compiled with MPI support" in r.stderr or "built without MPI" in r.stderr
        assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".out.partial")]


