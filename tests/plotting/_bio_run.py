"""A short run of bmtk's bio_14cells example (10 Allen cells, 4 point cells) with modelkit's NEURON backend,
writing an all-segment membrane-potential report and a synapse (netcon) report: the data of the morphology
viewer's tests (tests/plotting, tests/widgets, tests/browser).  Read in place from shared/bmtk-examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from modelkit.testing import shared_path

REPO = Path(__file__).resolve().parents[2]
TSTOP = 40.0  # ms: the inputs make the cells fire in the first tens of ms


def bio14_config(out: Path, tstop: float = TSTOP) -> Path:
    """A config of bio_14cells that reads the example in place and writes to ``out`` (v at every segment
    of cells 0-9 every 0.5 ms, and the synapses of cells 0-3)."""
    base = shared_path("bmtk-examples", "bio_14cells")
    d = json.loads((base / "config.simulation.json").read_text())
    circuit = json.loads((base / d.pop("network")).read_text())
    manifest = {**circuit["manifest"], **d["manifest"], "$BASE_DIR": str(base)}
    d["manifest"] = manifest
    d["components"] = {**circuit.get("components", {}), **d.get("components", {})}
    d["networks"] = circuit["networks"]
    d["run"].update(tstop=tstop)
    d["output"] = {"output_dir": str(out), "spikes_file": "spikes.h5", "overwrite_output_dir": True}
    d["reports"] = {
        "v_all": {"cells": list(range(10)), "variable_name": "v", "module": "membrane_report", "sections": "all",
                  "dt": 0.5, "file_name": "v_all.h5"},
        "syn": {"cells": [0, 1, 2, 3], "variable_name": "tau1", "module": "netcon_report", "sections": "soma",
                "syn_type": "Exp2Syn", "dt": 5.0, "file_name": "syn.h5"},
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}.config.json"
    path.write_text(json.dumps(d, indent=1))
    return path


def bio300_config(out: Path, tstop: float = 10.0) -> Path:
    """A config of bio_300cells_nosurround (300 Allen cells, NeuroML biophysics, synapses placed by
    ``afferent_section_id``) writing v at every segment of every cell each 0.5 ms to ``out/v_all.h5``."""
    base = shared_path("bmtk-examples", "bio_300cells_nosurround")
    d = json.loads((base / "config.simulation.json").read_text())
    circuit = json.loads((base / d.pop("network")).read_text())
    d["manifest"] = {**circuit["manifest"], **d["manifest"], "$BASE_DIR": str(base)}
    d["components"] = {**circuit.get("components", {}), **d.get("components", {})}
    d["networks"] = circuit["networks"]
    d["run"].update(tstop=tstop)
    d["output"] = {"output_dir": str(out), "spikes_file": "spikes.h5", "overwrite_output_dir": True}
    d["reports"] = {"v_all": {"cells": "internal", "variable_name": "v", "module": "membrane_report",
                              "sections": "all", "dt": 0.5, "file_name": "v_all.h5"}}
    out.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}.config.json"
    path.write_text(json.dumps(d, indent=1))
    return path


def _run(cfg: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "modelkit", "run", str(cfg), "--quiet"], capture_output=True,
                       text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]


def run_bio14(out: Path, tstop: float = TSTOP) -> Path:
    """Run :func:`bio14_config` in a process of its own (NEURON cannot unload mechanisms); its config path."""
    cfg = bio14_config(out, tstop)
    _run(cfg)
    assert (out / "v_all.h5").exists() and (out / "syn.h5").exists()
    return cfg


def run_bio300(out: Path, tstop: float = 10.0) -> Path:
    """Run :func:`bio300_config` in a process of its own; its config path."""
    cfg = bio300_config(out, tstop)
    _run(cfg)
    assert (out / "v_all.h5").exists()
    return cfg


if __name__ == "__main__":
    print((run_bio300 if sys.argv[2:] == ["300"] else run_bio14)(Path(sys.argv[1])))
