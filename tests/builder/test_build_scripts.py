"""bmtk's example build scripts run with only ``bmtk.builder`` swapped for ``modelkit.builder``.

Each script runs twice in its own process, in a fresh copy of its example folder: as shipped (bmtk 1.2.0)
and with every ``bmtk.builder`` in it replaced by ``modelkit.builder`` (its other bmtk imports, such as
``bmtk.utils.reports.spike_trains``, stay).  The network files each run writes must open with modelkit and
with bmtk's SONATA reader, and have the same populations, node counts (per node type) and edge types;
edge counts are equal where the script draws nothing, and within sampling noise where it draws from
unseeded random state.  Scripts that cannot run under bmtk either (data absent from the suite, a network
download, numpy 2) must fail in the same way under modelkit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.testing import copy_bmtk_examples, shared_path

ROOT = Path(__file__).resolve().parents[2]

#: every build script of the suite (a new one fails test_the_suite_has_these_build_scripts)
SCRIPTS = [
    "bio_14cells/build_network.py", "bio_1cell/build_network.py", "bio_300cells_nosurround/build_network.py",
    "bio_advanced_stimuli/build_network.py", "bio_all_active_sweep/build_network.py",
    "bio_comsol/build_network.py", "bio_intfire_ring/build_network.py", "bio_neuropixels/build_network.py",
    "bio_on_off/build_network.py", "bio_simulated_annealing/build_network.py", "bio_stp_models/build_network.py",
    "ei_networks/bionet/build_input.py", "ei_networks/bionet/build_network.py",
    "ei_networks/pointnet/build_network.py", "ei_networks/popnet/build_network.py",
    "filter_graitings_preset/build_network.py", "filter_looming/build_network.py", "filter_movie/build_network.py",
    "point_120cells/build_network.py", "point_neuropixels/build_network.py", "point_stdp/build_network.py",
]

#: scripts that fail under bmtk 1.2.0 too, and the error both runs must end with
CANNOT_RUN = {
    "bio_advanced_stimuli/build_network.py": "module 'numpy' has no attribute 'int'",  # np.int: gone in numpy 2
    "bio_all_active_sweep/build_network.py": "api.brain-map.org",  # downloads the cell model from the Allen API
    "bio_comsol/build_network.py": "No module named 'bio_components.hdf5'",  # a helper module not in the suite
    "bio_neuropixels/build_network.py": "unit_ids.VISl.valid_units.csv",  # Neuropixels unit tables not shipped
    "point_neuropixels/build_network.py": "unit_ids.VISl.valid_units.csv",
    "filter_graitings_preset/build_network.py": "codec can't decode",  # Python 2 pickles read without encoding
}

#: scripts that bmtk 1.2.0 cannot run but modelkit can: only modelkit's run is checked
BMTK_CANNOT_RUN = {
    "ei_networks/bionet/build_input.py": "No module named 'bmtk.builder.aux'",  # bmtk's old module path
}

#: the Brunel networks (12,500 cells, 1.56e8 candidate pairs through a per-pair Python rule, ~1.6e7 edges): bmtk
#: takes far longer than a test may, so modelkit's run is checked against the script's own numbers instead:
#: nodes per (file, population, node type), and edges per (file, population, edge type) as
#: (expected count, binomial p) -- p None for an exact count
_BRUNEL_NODES = {("network/internal_nodes.h5", "internal"): {100: 10000, 101: 2500}}
_BRUNEL_EDGES = {("network/internal_internal_edges.h5", "internal_to_internal"): {
    100: (0.1 * 10000 * 9999, 0.1), 101: (0.1 * 10000 * 2500, 0.1), 102: (0.1 * 2500 * 10000, 0.1),
    103: (0.1 * 2500 * 2499, 0.1)}}
BY_NUMBERS = {
    "ei_networks/bionet/build_network.py": (
        {**_BRUNEL_NODES, ("network/external_nodes.h5", "external"): {100: 100}},
        {**_BRUNEL_EDGES,
         ("network/external_internal_edges.h5", "external_to_internal"): {100: (0.1 * 100 * 12500, 0.1)}}),
    "ei_networks/pointnet/build_network.py": (
        {**_BRUNEL_NODES, ("network/external_nodes.h5", "external"): {100: 12500}},
        {**_BRUNEL_EDGES,
         ("network/external_internal_edges.h5", "external_to_internal"): {100: (10000, None), 101: (2500, None)}}),
}

#: scripts that read what another script of their folder writes: that one runs first (swapped too)
NEEDS = {"ei_networks/bionet/build_input.py": "ei_networks/bionet/build_network.py"}

#: scripts that take minutes (each of the two runs)
SLOW = {"bio_300cells_nosurround/build_network.py", "ei_networks/bionet/build_network.py",
        "ei_networks/bionet/build_input.py",
        "ei_networks/pointnet/build_network.py"}

#: scripts whose edge counts do not depend on random draws: they must be equal
EXACT_EDGES = {"bio_1cell/build_network.py", "bio_14cells/build_network.py", "bio_stp_models/build_network.py",
               "filter_looming/build_network.py", "filter_movie/build_network.py"}


def _params() -> list:
    return [pytest.param(s, marks=[pytest.mark.slow] if s in SLOW else [], id=s.replace("/build", ":build"))
            for s in SCRIPTS]


def test_the_suite_has_these_build_scripts() -> None:
    src = shared_path("bmtk-examples")
    found = sorted(str(p.relative_to(src)) for p in [*src.glob("*/build*.py"), *src.glob("ei_networks/*/build*.py")])
    assert found == sorted(SCRIPTS)


def _run(tmp: Path, script: str, swap: bool) -> tuple[subprocess.CompletedProcess, Path, float]:
    root = copy_bmtk_examples(tmp, script.split("/")[0])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    start = 0.0
    for step in ([NEEDS[script]] if script in NEEDS else []) + [script]:
        path = root / step
        if swap:
            path.write_text(path.read_text().replace("bmtk.builder", "modelkit.builder"))
        start = time.time() - 1.0
        proc = subprocess.run([sys.executable, path.name], cwd=path.parent, env=env, capture_output=True,
                              text=True, timeout=1800)
        if proc.returncode != 0:
            break
    return proc, path.parent, start


def _network_files(folder: Path, since: float) -> dict[str, dict]:
    """Summary of each nodes/edges HDF5 file written under ``folder`` since ``since``."""
    out: dict[str, dict] = {}
    for p in sorted(folder.rglob("*.h5")):
        if p.stat().st_mtime < since:
            continue
        with h5py.File(p, "r") as f:
            if "nodes" in f:
                out[str(p.relative_to(folder))] = {
                    "nodes": {pop: Counter(f["nodes"][pop]["node_type_id"][()].tolist()) for pop in f["nodes"]}}
            elif "edges" in f:
                out[str(p.relative_to(folder))] = {"edges": {
                    pop: (int(f["edges"][pop]["source_node_id"].shape[0]),
                          sorted(np.unique(f["edges"][pop]["edge_type_id"][()]).tolist()),
                          str(f["edges"][pop]["source_node_id"].attrs.get("node_population", "")),
                          str(f["edges"][pop]["target_node_id"].attrs.get("node_population", "")))
                    for pop in f["edges"]}}
    return out


def _open_with_modelkit_and_bmtk(folder: Path, files: dict[str, dict]) -> None:
    from bmtk.utils import sonata as bmtk_sonata

    from modelkit.sonata import read_types_csv
    from modelkit.sonata.edges import EdgePopulation
    from modelkit.sonata.nodes import NodePopulation
    for rel, summary in files.items():
        path = folder / rel
        for pop, counts in summary.get("nodes", {}).items():
            types_csv = path.with_name(path.name.replace("_nodes.h5", "_node_types.csv"))
            types = read_types_csv(types_csv, "node_type_id") if types_csv.exists() else None
            p = NodePopulation(path, pop, types)
            assert len(p.node_ids) == sum(counts.values()), rel
            if types is not None:
                assert set(np.unique(p.node_type_ids).tolist()) <= set(types.ids.tolist()), rel
                bf = bmtk_sonata.File(data_files=str(path), data_type_files=str(types_csv))
                assert bf.nodes[pop].n_nodes == sum(counts.values()), rel
            p.close()
        for pop, (n, _types, _s, _t) in summary.get("edges", {}).items():
            e = EdgePopulation(path, pop)
            assert len(e.source_ids()) == n and len(e.target_ids()) == n, rel
            e.close()


def _check_numbers(folder: Path, files: dict[str, dict], nodes: dict, edges: dict) -> None:
    for (rel, pop), want in nodes.items():
        assert dict(files[rel]["nodes"][pop]) == want, (rel, pop)
    for (rel, pop), want_types in edges.items():
        with h5py.File(folder / rel, "r") as f:
            types, counts = np.unique(f["edges"][pop]["edge_type_id"][()], return_counts=True)
        have = dict(zip(types.tolist(), counts.tolist()))
        assert sorted(have) == sorted(want_types), (rel, pop)
        for t, (mean, p) in want_types.items():
            tol = 0 if p is None else 5 * np.sqrt(mean * (1 - p))  # 5 sigma of a binomial count
            assert abs(have[t] - mean) <= tol, (rel, pop, t, have[t], mean)


@pytest.mark.parametrize("script", _params())
def test_build_script_runs_with_modelkit_builder(tmp_path: Path, script: str) -> None:
    if script in BY_NUMBERS:
        got, got_dir, got_t0 = _run(tmp_path / "modelkit", script, swap=True)
        assert got.returncode == 0, got.stderr[-5000:]
        files = _network_files(got_dir, got_t0)
        _open_with_modelkit_and_bmtk(got_dir, files)
        _check_numbers(got_dir, files, *BY_NUMBERS[script])
        return
    ref, ref_dir, ref_t0 = _run(tmp_path / "bmtk", script, swap=False)
    got, got_dir, got_t0 = _run(tmp_path / "modelkit", script, swap=True)
    if script in CANNOT_RUN:
        why = CANNOT_RUN[script]
        assert ref.returncode != 0 and why in ref.stderr, f"bmtk now runs {script}: {ref.stderr[-2000:]}"
        assert got.returncode != 0 and why in got.stderr, got.stderr[-3000:]
        return
    assert got.returncode == 0, got.stderr[-5000:]
    got_files = _network_files(got_dir, got_t0)
    if script in BMTK_CANNOT_RUN:
        assert ref.returncode != 0 and BMTK_CANNOT_RUN[script] in ref.stderr, f"bmtk now runs {script}"
        assert list((got_dir).rglob("*.h5")), f"{script} wrote nothing"
        _open_with_modelkit_and_bmtk(got_dir, got_files)
        return
    assert ref.returncode == 0, f"bmtk: {ref.stderr[-3000:]}"
    ref_files = _network_files(ref_dir, ref_t0)
    assert got_files, f"{script} wrote no network file"
    assert sorted(got_files) == sorted(ref_files)
    _open_with_modelkit_and_bmtk(got_dir, got_files)
    for rel, want in ref_files.items():
        have = got_files[rel]
        assert have.get("nodes") == want.get("nodes"), rel
        assert sorted(have.get("edges", {})) == sorted(want.get("edges", {})), rel
        for pop, (n_ref, types_ref, src_ref, tgt_ref) in want.get("edges", {}).items():
            n, types, src, tgt = have["edges"][pop]
            assert (src, tgt) == (src_ref, tgt_ref), (rel, pop)
            if script in EXACT_EDGES:
                assert (n, types) == (n_ref, types_ref), (rel, pop)
            else:  # unseeded draws: the counts agree within sampling noise
                assert abs(n - n_ref) <= max(0.1 * n_ref, 5 * np.sqrt(max(n_ref, 1))), (rel, pop, n, n_ref)
