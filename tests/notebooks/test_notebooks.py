"""Every tutorial notebook runs top to bottom in a fresh kernel (nbclient), in a copy of notebooks/."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
#: matplotlib drawing: pyplot, pandas' .plot, or modelkit.plotting's matplotlib functions
MATPLOTLIB = re.compile(r"\bplt\.|\.plot\(|\bplot_(raster|rates|traces|connectivity_matrix|degree_distribution)\(")


def test_the_tutorials_are_numbered_without_gaps():
    numbers = [int(n[:2]) for n in ALL]
    assert numbers == list(range(1, 10)), ALL  # 01 build ... 09 HPC, as notebooks/README.md lists them


@pytest.mark.parametrize("name", ALL)
def test_notebook_runs(name, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    shutil.copy(NOTEBOOKS / name, tmp_path / name)
    nb = nbformat.read(tmp_path / name, as_version=4)
    # the kernel runs this interpreter (the venv's), whatever "python3" means on PATH
    env_path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    os.environ["PATH"] = env_path
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    # a cell that draws with matplotlib shows its figure (a backend forced to Agg would show nothing)
    drawing = [c for c in nb.cells if c.cell_type == "code" and MATPLOTLIB.search(c.source)]
    blank = [c.source.splitlines()[0] for c in drawing
             if not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert blank == [], f"cells that draw but show no figure: {blank}"
    nbformat.write(nb, tmp_path / name)  # executed copy kept with the test's files
