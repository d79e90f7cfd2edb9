"""Every tutorial notebook runs top to bottom in a fresh kernel (nbclient), in a copy of notebooks/, and shows
only what it means to show: no stderr box, no traceback, no stray ``<object at 0x...>`` repr.  Opening one
in JupyterLab does not mark it modified (tests/browser/test_tutorials_clean.py checks that in the browser).
"""

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
#: the repr of an object with no repr of its own (``<matplotlib.legend.Legend at 0x7f...>``): a cell's last
#: line that returns something nobody asked to see
STRAY_REPR = re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>")


def noise(nb) -> list[str]:
    """What a reader should not see in the executed notebook ``nb``: one line per stderr stream, error,
    traceback text or stray repr, naming the cell."""
    found = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            where = f"cell {c.get('id')} ({c.source.splitlines()[0] if c.source else ''!r})"
            if o.output_type == "error":
                found.append(f"{where}: error {o.ename}: {o.evalue}")
                continue
            if o.output_type == "stream" and o.name == "stderr":
                found.append(f"{where}: stderr {o.text[:300]!r}")
            text = o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            if "Traceback (most recent call last)" in text or re.search(r"\w+Error: ", text):
                found.append(f"{where}: traceback {text[:300]!r}")
            if o.output_type == "execute_result" and STRAY_REPR.search(text):
                found.append(f"{where}: stray repr {text[:120]!r}")
    return found


def test_the_tutorials_are_numbered_without_gaps():
    numbers = [int(n[:2]) for n in ALL]
    assert numbers == list(range(1, 12)), ALL  # 01 build ... 11 the interactive loop, as notebooks/README.md lists them


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
    nbformat.write(nb, tmp_path / name)  # executed copy kept with the test's files
    assert noise(nb) == []
    # a cell that draws with matplotlib shows its figure (a backend forced to Agg would show nothing)
    drawing = [c for c in nb.cells if c.cell_type == "code" and MATPLOTLIB.search(c.source)]
    blank = [c.source.splitlines()[0] for c in drawing
             if not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert blank == [], f"cells that draw but show no figure: {blank}"


@pytest.mark.parametrize("name", ALL)
def test_the_stored_tutorial_is_what_jupyter_writes(name):
    """Outputs stripped, and the file is byte for byte what nbformat writes back (no id, version or key
    order rewritten on load)."""
    nbformat = pytest.importorskip("nbformat")
    raw = (NOTEBOOKS / name).read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    assert nbformat.writes(nb) + "\n" == raw
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.parametrize("name", ALL)
def test_the_kernel_does_not_change_the_tutorials_metadata(name):
    """JupyterLab copies the kernel's ``language_info`` into the notebook when the kernel starts, and marks
    the notebook modified unless it is equal already (checked in the browser: an abridged
    ``{"name": "python"}`` was enough to mark every tutorial modified on opening).  The version is this
    interpreter's, as ipykernel reports it."""
    nbformat = pytest.importorskip("nbformat")
    from ipykernel.ipkernel import IPythonKernel

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert nb.metadata["language_info"] == IPythonKernel.language_info
    assert nb.metadata["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python",
                                         "name": "python3"}
