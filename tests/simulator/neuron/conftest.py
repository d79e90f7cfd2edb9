"""Fixtures of the NEURON backend tests: bmtk's Allen mechanisms compiled in a temporary components folder,
and corpus configs rewritten to use it (the corpus carries no .mod files; they are never copied into the repo)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

neuron = pytest.importorskip("neuron", reason="NEURON is not installed")
bmtk = pytest.importorskip("bmtk", reason="bmtk (source of the Allen .mod files) is not installed")

MODFILES = Path(bmtk.__file__).parent / "utils" / "scripts" / "bionet" / "mechanisms" / "modfiles"


@pytest.fixture(scope="session")
def mechanisms_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A components/mechanisms folder holding bmtk's Allen .mod files (compiled once, cached by content)."""
    d = tmp_path_factory.mktemp("components") / "mechanisms"
    d.mkdir()
    for f in MODFILES.glob("*.mod"):
        shutil.copy(f, d)
    return d


def corpus_config(corpus: Path, example: str, name: str, mech: Path, out: Path, **components: str) -> Path:
    """A copy of a corpus simulation config that reads the corpus in place, uses ``mech`` and writes to ``out``."""
    base = corpus / "bmtk" / "examples" / example
    cfg = json.loads((base / name).read_text())
    cfg["manifest"]["$BASE_DIR"] = str(base)
    if "network" in cfg and not Path(cfg["network"]).is_absolute():
        circuit = json.loads((base / cfg.pop("network")).read_text())
        circuit["manifest"] = {**circuit.get("manifest", {}), **cfg["manifest"]}
        cfg["manifest"] = circuit["manifest"]
        cfg["networks"] = circuit["networks"]
        cfg["components"] = {**circuit.get("components", {}), **cfg.get("components", {})}
    cfg["components"] = {k: (v if v.startswith("$") or Path(v).is_absolute() else str(base / v))
                         for k, v in cfg["components"].items()}
    cfg["components"]["mechanisms_dir"] = str(mech)
    cfg["components"].update(components)
    cfg["output"]["output_dir"] = str(out)
    path = out.parent / f"{out.name}.config.json"
    path.write_text(json.dumps(cfg, indent=1))
    return path


@pytest.fixture
def bmtk_config(corpus: Path, mechanisms_dir: Path, tmp_path: Path):
    """``f(example, config_name, **components) -> path`` of a corpus config rewritten by :func:`corpus_config`."""
    def make(example: str, name: str, **components: str) -> Path:
        return corpus_config(corpus, example, name, mechanisms_dir, tmp_path / "out", **components)
    return make
