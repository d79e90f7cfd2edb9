"""Tutorials in a real JupyterLab started where they are (``make lab`` runs ``jupyter lab notebooks``).

* the launcher card opens them in place: no second copy in a ``modelkit-tutorials/`` folder;
* opening a tutorial and starting its kernel does not mark it modified (JupyterLab writes the kernel's
  ``language_info`` into the notebook on kernel start: an abridged one in the file made every tutorial
  "modified" as soon as it was opened).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from _jupyter_lab import JupyterLab, start_lab, wait_kernel_idle
from playwright.sync_api import expect

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def notebooks_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """A server whose root is a copy of notebooks/ (a copy: the kernels write their work/ folders there)."""
    root = tmp_path_factory.mktemp("notebooks")
    for f in NOTEBOOKS.iterdir():
        if f.is_file():
            shutil.copy(f, root / f.name)
    lab = start_lab(root, tmp_path_factory.mktemp("nbstate"), env={"MODELKIT_RUNS_DIR": ""})
    try:
        yield lab
    finally:
        lab.stop()


def test_launcher_card_opens_the_tutorials_in_place(page, notebooks_lab: JupyterLab, artifacts: Path) -> None:
    page.goto(notebooks_lab.lab_url())
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("async () => { await window.jupyterapp.restored; "
                  "await window.jupyterapp.commands.execute('launcher:create'); }")
    card = page.locator(".jp-LauncherCard:visible").filter(has_text="modelkit tutorials")
    expect(card).to_be_visible(timeout=60_000)
    def listing() -> list[str]:  # JupyterLab's own checkpoint folder appears when a notebook opens
        return sorted(p.name for p in notebooks_lab.root.iterdir() if p.name != ".ipynb_checkpoints")

    before = listing()
    card.click()
    first = sorted(NOTEBOOKS.glob("*.ipynb"))[0].name
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(first.removesuffix(".ipynb"),
                                                                           timeout=30_000)
    path = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
    assert path.lstrip("./") == first
    assert listing() == before  # nothing copied
    page.screenshot(path=str(artifacts / "tutorials_in_place.png"))


@pytest.mark.parametrize("name", ["04_live_run_with_liveraster.ipynb", "05_biophysical_cells_in_neuron.ipynb",
                                  "09_hpc_mpi_engines.ipynb", "11_interactive_loop.ipynb"])
def test_opening_a_tutorial_does_not_mark_it_modified(page, notebooks_lab: JupyterLab, name: str) -> None:
    page.goto(notebooks_lab.lab_url(name))
    wait_kernel_idle(page)  # the kernel's language_info has arrived by now
    page.wait_for_timeout(1000)
    dirty = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
    tab = page.locator(".lm-TabBar-tab.jp-mod-current")
    assert dirty is False
    expect(tab).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"))
    assert (notebooks_lab.root / name).read_bytes() == (NOTEBOOKS / name).read_bytes()
