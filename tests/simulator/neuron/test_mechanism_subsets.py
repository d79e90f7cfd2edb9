"""One process runs examples whose mechanism folders overlap (bio_all_active_sweep's mod files are a subset of
bio_components', which adds the stp*syn synapses). NEURON cannot load a mechanism twice, so the second folder
loads only what it adds, when the rest came from files with the same content; a clash of different sources
stays an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from modelkit.testing import copy_bmtk_examples

CHILD = r"""
import sys
from modelkit.simulator.neuron.mechanisms import import_neuron, load_mechanisms
h = import_neuron()
first, second = sys.argv[1:3]
load_mechanisms(h, first)
src = load_mechanisms(h, second)
print("stp2syn" in dir(h) or hasattr(h, "stp2syn"), len(src.loaded))
"""


def test_a_superset_folder_loads_after_a_subset(tmp_path: Path) -> None:
    root = copy_bmtk_examples(tmp_path, "bio_1cell")
    sup = root / "bio_components" / "mechanisms"
    sub = _subset(sup / "modfiles", tmp_path / "subset")
    r = subprocess.run([sys.executable, "-c", CHILD, str(sub), str(sup)], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split()[0] == "True"


def test_a_clash_of_different_sources_is_an_error(tmp_path: Path) -> None:
    root = copy_bmtk_examples(tmp_path, "bio_1cell")
    sup = root / "bio_components" / "mechanisms" / "modfiles"
    changed = tmp_path / "changed"
    changed.mkdir()
    for p in sup.glob("*.mod"):
        (changed / p.name).write_bytes(p.read_bytes())
    (changed / "Im.mod").write_bytes((sup / "Im.mod").read_bytes() + b"\n: a different source\n")
    (changed / "extra.mod").write_text("NEURON { SUFFIX modelkit_extra }\n")
    sub = _subset(sup, tmp_path / "subset")
    r = subprocess.run([sys.executable, "-c", CHILD, str(sub), str(changed)], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode != 0 and "components.mechanisms_dir" in r.stderr and "Im" in r.stderr, r.stderr[-3000:]


def _subset(modfiles: Path, dest: Path) -> Path:
    """The folder's mod files without the stp*syn synapses."""
    dest.mkdir()
    for p in modfiles.glob("*.mod"):
        if not p.name.startswith("stp"):
            (dest / p.name).write_bytes(p.read_bytes())
    return dest
