"""Helpers for modelkit's own tests and for backends' conformance checks (public API).

``shared_path()`` finds the read-only conformance data (``shared/sonata`` and
``shared/reference``) that lives next to a checkout; ``assert_populations_equal``
compares two populations column by column; ``intfire_network`` saves a small NEURON
network of artificial cells for MPI and cluster tests; ``check_backend`` runs the conformance suite
every simulator backend passes (:mod:`modelkit.testing.backend_check`). :class:`modelkit.testing.slurm.LocalSlurm`
starts a real single-node Slurm cluster (munged, slurmctld, slurmd) under one folder for tests of Slurm engines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit._typing import PathLike
from modelkit.testing.backend_check import BackendCheckError, BackendReport, check_backend

from modelkit.sonata.edges import EdgePopulation
from modelkit.sonata.nodes import NodePopulation

if TYPE_CHECKING:  # modelkit.testing stays light to import
    from modelkit.sonata import SpikePopulation

__all__ = ["shared_path", "copy_bmtk_examples", "assert_populations_equal",
           "assert_spikes_equal", "write_allen_sweep", "intfire_network", "check_backend", "BackendReport",
           "BackendCheckError"]


def shared_path(*parts: str) -> Path:
    """Path inside the shared conformance folder.

    Looked for in ``$MODELKIT_SHARED``, then ``shared/`` next to any parent of this
    checkout, then ``/work/shared``.

    Raises
    ------
    FileNotFoundError
        No shared folder found (tests must not silently skip conformance).
    """
    cands = []
    env = os.environ.get("MODELKIT_SHARED")
    if env:
        cands.append(Path(env))
    here = Path(__file__).resolve()
    for parent in here.parents:
        cands.append(parent / "shared")
    cands.append(Path("/work/shared"))
    for c in cands:
        if (c / "sonata" / "corpus" / "EXPECTED.json").exists():
            return c.joinpath(*parts)
    raise FileNotFoundError("shared conformance data not found: set MODELKIT_SHARED to the folder holding "
                            f"sonata/corpus/EXPECTED.json (looked in {[str(c) for c in cands]})")


def copy_bmtk_examples(dest: str | os.PathLike, *folders: str) -> Path:
    """Copy bmtk's example suite (``shared/bmtk-examples``) to ``dest``, writable, and return the copy's root.

    The examples are read-only and name their components by relative paths (``../bio_components``), so a run
    needs the folder and its components side by side. With ``folders`` only those folders and every
    ``*_components`` folder are copied.

    Raises
    ------
    FileNotFoundError
        The shared folder is absent (tests must not silently skip).
    """
    import shutil

    src = shared_path("bmtk-examples")
    if not src.is_dir():
        raise FileNotFoundError(f"bmtk's example suite not found at {src}")
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in src.iterdir() if p.is_dir() and (not folders or p.name in folders
                                                               or p.name.endswith("_components"))]
    for n in names:
        if not (root / n).exists():
            shutil.copytree(src / n, root / n, copy_function=shutil.copy)
    for p in root.rglob("*"):  # the shared copy is read-only; a run writes beside its config
        p.chmod(p.stat().st_mode | 0o200)
    return root


def _eq_col(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return bool(np.array_equal(a.astype(np.float64), b.astype(np.float64), equal_nan=True))
    def norm(x: np.ndarray) -> list:
        return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in x.tolist()]
    return norm(a) == norm(b)


def assert_populations_equal(a: NodePopulation | EdgePopulation, b: NodePopulation | EdgePopulation) -> None:
    """Assert two node or edge populations hold the same ids and merged attributes.

    Parameters
    ----------
    a, b : NodePopulation or EdgePopulation
        Two populations of the same kind; their per-element ``dynamics_params`` are compared too.

    Raises
    ------
    AssertionError
        Naming the first differing column.
    """
    assert a.size == b.size, f"sizes differ: {a.size} vs {b.size}"
    assert sorted(a.attribute_names) == sorted(b.attribute_names), \
        f"attributes differ: {a.attribute_names} vs {b.attribute_names}"
    fa, fb = a.get(), b.get()
    assert list(fa.index) == list(fb.index), "ids differ"
    for c in fa.columns:
        assert _eq_col(fa[c].to_numpy(), fb[c].to_numpy()), f"column {c!r} differs"
    assert sorted(a.dynamics_attribute_names) == sorted(b.dynamics_attribute_names)
    for c in a.dynamics_attribute_names:
        assert _eq_col(_dynamics_column(a, c), _dynamics_column(b, c)), f"dynamics_params {c!r} differs"


def _dynamics_column(pop: NodePopulation | EdgePopulation, name: str) -> np.ndarray:
    """Per-element ``dynamics_params/<name>`` in file order: node populations add :meth:`with_dynamics` overlays;
    edge populations have only the groups' values."""
    if isinstance(pop, NodePopulation):
        return pop.dynamics_params(names=[name])[name].to_numpy()
    return pop._column(name, None, dynamics=True)


def assert_spikes_equal(a: SpikePopulation, b: SpikePopulation) -> None:
    """Assert two spike populations hold the same multiset of (node_id, time) pairs."""
    oa = np.lexsort((a.timestamps, a.node_ids))
    ob = np.lexsort((b.timestamps, b.node_ids))
    assert np.array_equal(a.node_ids[oa], b.node_ids[ob]), "node ids differ"
    assert np.array_equal(a.timestamps[oa], b.timestamps[ob]), "spike times differ"


def write_allen_sweep(path: PathLike, sweep: int = 55, rate: float = 200_000.0, pulse: tuple[float, float] = (0.1, 0.3),
                      amp_a: float = 2e-10, duration_s: float = 0.5) -> np.ndarray:
    """Write a square-pulse sweep in the Allen Cell Types ephys NWB (version 1) layout.

    ``/epochs/Sweep_<sweep>/stimulus/timeseries/data`` holds the current in A sampled at
    ``rate`` Hz (the ``rate`` attribute of ``starting_time``), as the Allen files and bmtk's
    ``nwb`` current-clamp input have it.  pynwb writes NWB 2 only, hence h5py.

    Parameters
    ----------
    pulse : (float, float)
        Pulse start and end (s).
    amp_a : float
        Pulse amplitude (A).
    duration_s : float
        Sweep length (s).

    Returns
    -------
    ndarray
        The samples written (A).
    """
    import h5py
    n = int(duration_s * rate)
    t = np.arange(n) / rate
    data = np.where((t >= pulse[0]) & (t < pulse[1]), amp_a, 0.0)
    with h5py.File(path, "w") as f:
        ts = f.create_group(f"epochs/Sweep_{sweep}/stimulus/timeseries")
        ts["data"] = data
        st = ts.create_dataset("starting_time", data=0.0)
        st.attrs["rate"] = rate
    return data


def intfire_network(folder: PathLike, *, n_exc: int = 60, n_inh: int = 20, n_input: int = 30,
                    indegree: tuple[int, int, int] = (8, 4, 6), seed: int = 3, tstop: float = 300.0,
                    rate: float = 40.0) -> dict[str, Any]:
    """A small NEURON network of IntFire1 cells, saved by modelkit's builder, and its simulation config.

    Excitatory and inhibitory cells (population ``cortex``), recurrent with fixed in-degrees
    (``indegree`` = from excitatory, from inhibitory, from inputs), driven by ``n_input`` virtual
    Poisson sources (population ``input``, ``rate`` Hz): cheap enough for MPI and cluster tests.

    Returns
    -------
    dict
        The config (``target_simulator`` NEURON, output in ``folder/output``); write it where needed.
    """
    from modelkit.builder import FixedInDegree, NetworkBuilder
    d = Path(folder)
    net = NetworkBuilder("cortex", seed=seed)
    net.add_nodes(N=n_exc, ei="e", model_type="point_process", model_template="nrn:IntFire1")
    net.add_nodes(N=n_inh, ei="i", model_type="point_process", model_template="nrn:IntFire1")
    net.add_edges(source={"ei": "e"}, target=net.nodes(), connection_rule=FixedInDegree(indegree[0]),
                  syn_weight=0.15, delay=1.5)
    net.add_edges(source={"ei": "i"}, target=net.nodes(), connection_rule=FixedInDegree(indegree[1]),
                  syn_weight=-0.3, delay=1.0)
    inputs = NetworkBuilder("input", seed=seed)
    inputs.add_nodes(N=n_input, model_type="virtual")
    inputs.add_edges(target=net.nodes(), connection_rule=FixedInDegree(indegree[2]), syn_weight=0.3, delay=2.0)
    net.save(d / "network")
    inputs.save(d / "network")
    return {"target_simulator": "NEURON", "run": {"tstop": tstop, "dt": 0.05, "nsteps_block": 1000},
            "networks": {"nodes": [{"nodes_file": str(d / "network" / f"{n}_nodes.h5"),
                                    "node_types_file": str(d / "network" / f"{n}_node_types.csv")}
                                   for n in ("cortex", "input")],
                         "edges": [{"edges_file": str(d / "network" / f"{s}_cortex_edges.h5"),
                                    "edge_types_file": str(d / "network" / f"{s}_cortex_edge_types.csv")}
                                   for s in ("cortex", "input")]},
            "inputs": {"noise": {"input_type": "spikes", "module": "poisson", "node_set": "input", "rate": rate}},
            "output": {"output_dir": str(d / "output"), "spikes_file": "spikes.h5", "log_file": "log.txt"}}
