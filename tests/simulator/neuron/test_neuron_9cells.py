"""The SONATA repository's 9_cells example (NeuroML biophysics, edges with bmtk's older ``sec_id``/``sec_x``
columns, two virtual input populations) against the outputs shipped with it (corpus ``9_cells/output``)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from modelkit.simulator.run import simulate


def test_9_cells_reproduces_its_shipped_outputs(corpus: Path, mechanisms_dir: Path, tmp_path: Path) -> None:
    base = corpus / "sonata" / "examples" / "9_cells"
    cfg = json.loads((base / "simulation_config.json").read_text())
    circuit = json.loads((base / "circuit_config.json").read_text())
    cfg["manifest"].update({"$BASE_DIR": str(base), "$NETWORK_DIR": str(base / "network"),
                            "$COMPONENT_DIR": str(base.parent / "shared_components")})
    cfg.pop("network")
    cfg["networks"], cfg["components"] = circuit["networks"], circuit["components"]
    cfg["components"]["mechanisms_dir"] = str(mechanisms_dir)
    cfg["output"]["output_dir"] = str(tmp_path / "out")
    result = simulate(cfg, progress=False)
    ref = base / "output"
    with h5py.File(result.spikes_file) as f, h5py.File(ref / "spikes.h5") as g:
        ours = sorted(zip(f["spikes/cortex/node_ids"][:].tolist(), f["spikes/cortex/timestamps"][:].tolist()))
        theirs = sorted(zip(g["spikes/cortex/node_ids"][:].tolist(), g["spikes/cortex/timestamps"][:].tolist()))
    print(f"9_cells: {len(ours)} spikes (shipped: {len(theirs)})")
    assert len(ours) == len(theirs) == 78
    assert [n for n, _ in ours] == [n for n, _ in theirs]
    # one step (0.1 ms) is the most a threshold crossing may move between NEURON versions
    assert max(abs(a - b) for (_, a), (_, b) in zip(ours, theirs)) <= 0.1 + 1e-6
    for report in ("membrane_potential", "calcium_concentration"):
        with h5py.File(result.reports[report]) as f, h5py.File(ref / f"{report}.h5") as g:
            a, b = f["report/cortex/data"][:], g["report/cortex/data"][:]
        assert a.shape == b.shape == (30000, 9)
        rms = np.sqrt(((a - b) ** 2).mean(axis=0))
        scale = np.abs(b).max()
        print(f"{report}: RMS difference per cell {np.array2string(rms, precision=2)} (max |value| {scale:.3g})")
        assert rms.max() < (0.1 if report == "membrane_potential" else 1e-3 * scale)
