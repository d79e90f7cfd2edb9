"""The JupyterLab extension in headless Chromium against a real JupyterLab.

Opens a corpus simulation config from the file browser, checks the SONATA viewer's counts against
EXPECTED.json, clicks "Open in notebook", runs the notebook (a real NEST simulation in the kernel)
and watches the run in the Run monitor sidebar.  Screenshots go to ``test-artifacts/browser/``
(or ``$MODELKIT_ARTIFACTS``).

The server root is a temporary copy of one corpus example (links out of the root are refused by the
server extension, and the notebook and its run are written next to the config).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _jupyter_lab import JupyterLab, start_lab, wait_kernel_idle
from playwright.sync_api import expect

from modelkit.testing import shared_path

EXAMPLE = "bmtk/examples/point_120cells"
CONFIG = "config.simulation.json"
CIRCUIT = "config.circuit.json"
EXPECTED: dict = json.loads(shared_path("sonata", "corpus", "EXPECTED.json").read_text())


def _expected_counts() -> tuple[dict[str, int], dict[str, int]]:
    """Node and edge counts of the example's circuit, from EXPECTED's facts about its files."""
    circuit = EXPECTED["configs"][f"{EXAMPLE}/{CIRCUIT}"]["networks"]
    nodes = {name: pop["count"] for n in circuit["nodes"]
             for name, pop in EXPECTED["files"][f"{EXAMPLE}/{n['nodes_file']}"]["populations"].items()}
    edges = {name: pop["count"] for e in circuit["edges"]
             for name, pop in EXPECTED["files"][f"{EXAMPLE}/{e['edges_file']}"]["populations"].items()}
    return nodes, edges


@pytest.fixture(scope="module")
def extension_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """A server whose root holds a copy of one corpus example (a copy: links out of the root are refused)."""
    root = tmp_path_factory.mktemp("extroot")
    corpus = shared_path("sonata", "corpus")
    shutil.copytree(corpus / EXAMPLE, root / "point_120cells")
    shutil.copytree(corpus / "bmtk/examples/point_components", root / "point_components")
    # the server extension makes its own runs folder (a value inherited from a parent would be shared)
    lab = start_lab(root, tmp_path_factory.mktemp("extstate"), env={"MODELKIT_RUNS_DIR": ""})
    try:
        # the server extension must be on, or every viewer request fails
        assert lab.api("modelkit/runs")["runs"] == [], lab.log[-3000:]
        yield lab
    finally:
        lab.stop()


def _shot(target, artifacts: Path, name: str) -> None:
    target.screenshot(path=str(artifacts / f"extension_{name}.png"))


def test_labextension_is_installed() -> None:
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True,
                         timeout=120)
    text = out.stdout + out.stderr
    line = [ln for ln in text.splitlines() if "modelkit-jupyterlab" in ln]
    assert line and "enabled" in line[0] and "OK" in line[0], text


def test_viewer_open_in_notebook_and_run_monitor(page, extension_lab: JupyterLab, artifacts: Path) -> None:
    nodes, edges = _expected_counts()
    root = extension_lab.root
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(extension_lab.lab_url())
    listing = page.locator(".jp-DirListing-content")
    expect(listing.get_by_text("point_120cells", exact=True)).to_be_visible(timeout=60_000)

    # file browser: into the example, double-click the simulation config -> the SONATA viewer (default by name)
    listing.get_by_text("point_120cells", exact=True).dblclick()
    expect(listing.get_by_text(CONFIG, exact=True)).to_be_visible(timeout=20_000)
    listing.get_by_text(CONFIG, exact=True).dblclick()
    viewer = page.locator(".jp-mk-SonataViewer:visible")
    expect(viewer.locator(".jp-mk-kind")).to_have_text("simulation_config", timeout=30_000)
    for name, count in nodes.items():
        row = viewer.locator(f".jp-mk-nodes tr[data-population='{name}']")
        expect(row).to_have_attribute("data-count", str(count))
        expect(row.locator("td").nth(1)).to_have_text(f"{count:,}")
    for name, count in edges.items():
        expect(viewer.locator(f".jp-mk-edges tr[data-population='{name}']")).to_have_attribute("data-count",
                                                                                             str(count))
    expect(viewer.locator(".jp-mk-summary")).to_contain_text(f"{sum(nodes.values()):,} nodes")
    expect(viewer.locator(".jp-mk-node-types")).to_have_count(len(nodes))
    _shot(page, artifacts, "1_viewer")

    # "Open in notebook": a new notebook next to the config opens in a kernel
    viewer.locator(".jp-mk-open-notebook").click()
    nb = page.locator(".jp-NotebookPanel:visible")
    expect(nb).to_have_count(1, timeout=30_000)
    wait_kernel_idle(page)
    stem = CONFIG.removesuffix(".json")
    assert (root / "point_120cells" / f"{stem}.ipynb").is_file()
    _shot(page, artifacts, "2_notebook")

    # run it: the simulation runs in the kernel and shows in the Run monitor while it goes on
    page.evaluate("window.jupyterapp.commands.execute('modelkit:show-runs')")
    monitor = page.locator("#modelkit-run-monitor")
    expect(monitor).to_be_visible()
    # not awaited: the command's promise resolves only once every cell has run
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    run = monitor.locator("li.jp-mk-run")
    expect(run.first).to_have_attribute("data-status", "running", timeout=60_000)  # after the first 1000 ms block
    expect(run.first.locator(".jp-mk-run-progress")).to_contain_text("/ 3000 ms")
    _shot(page, artifacts, "3_running")
    expect(run.first).to_have_attribute("data-status", "done", timeout=180_000)
    expect(run.first.locator(".jp-mk-run-progress")).to_contain_text("done: 3000 ms")
    expect(run.first.locator(".jp-mk-run-config")).to_have_attribute("title", f"point_120cells/{CONFIG}")

    # every cell ran without error; the raster image is there
    expect(nb.locator(".jp-InputPrompt").filter(has_text="[*]")).to_have_count(0, timeout=120_000)
    expect(nb.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
           .filter(has_text="Error")).to_have_count(0)
    expect(nb.locator(".jp-RenderedImage img")).to_have_count(1, timeout=30_000)
    expect(nb.locator(".jp-OutputArea-output").filter(has_text="cortex").first).to_be_visible()
    img = nb.locator(".jp-RenderedImage img")
    img.scroll_into_view_if_needed()
    _shot(page, artifacts, "4_ran")
    runs = list((root / "point_120cells" / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "spikes.h5").is_file()


def test_file_types_tutorials_card_and_spikes_preview(page, extension_lab: JupyterLab, artifacts: Path) -> None:
    page.goto(extension_lab.lab_url())
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    # after the restored workspace (the previous test's tabs), a launcher of our own
    page.evaluate("async () => { await window.jupyterapp.restored; "
                  "await window.jupyterapp.commands.execute('launcher:create'); }")
    card = page.locator(".jp-LauncherCard:visible").filter(has_text="modelkit tutorials")
    expect(card).to_be_visible(timeout=60_000)
    registry = "window.jupyterapp.docRegistry"
    default = page.evaluate(f"""() => ['x/config.circuit.json', 'x/simulation_config.json', 'x/nodes.h5',
        'point_components/cell_models/472363762_point.json', 'x/package.json']
        .map(p => {registry}.defaultWidgetFactory(p).name)""")
    assert default[:3] == ["SONATA viewer"] * 3
    assert "SONATA viewer" not in default[3:]  # ordinary JSON keeps its editor...
    open_with = page.evaluate(f"() => {registry}.preferredWidgetFactories("
                              "'point_components/cell_models/472363762_point.json').map(f => f.name)")
    assert "SONATA viewer" in open_with  # ...and lists the viewer under "Open With"

    tutorials = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
    card.click()
    folder = extension_lab.root / "modelkit-tutorials"
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text("modelkit-tutorials", timeout=30_000)
    assert sorted(p.name for p in folder.glob("*.ipynb")) == tutorials
    assert tutorials  # notebooks/ ships them; the first one opens
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(tutorials[0].removesuffix(".ipynb"),
                                                                           timeout=30_000)
    _shot(page, artifacts, "5_tutorials")

    # a spikes file opens in the viewer with its raster drawn (every spike: fewer than the preview's limit)
    spikes = "point_120cells/inputs/thalamus_spikes.h5"
    (n_spikes,) = [p["count"] for p in EXPECTED["files"][f"{EXAMPLE}/inputs/thalamus_spikes.h5"]["populations"]
                   .values()]
    page.evaluate("async path => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }", spikes)
    viewer = page.locator(".jp-mk-SonataViewer:visible")
    expect(viewer.locator(".jp-mk-kind")).to_have_text("spikes", timeout=30_000)
    expect(viewer.locator("canvas.jp-mk-preview")).to_have_attribute("data-drawn", str(n_spikes))
    _shot(page, artifacts, "6_spikes")
