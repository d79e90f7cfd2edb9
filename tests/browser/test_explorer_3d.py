"""NetworkExplorer in a real JupyterLab: the 3D view coloured by a property, rotated with the mouse, and the
connectivity tab's heatmap.

One notebook: cell 1 writes a small balanced network and shows a NetworkExplorer; cell 2 prints the camera
the kernel's FigureWidget holds (the browser sends the rotation back); cell 3 runs the network in NEST and
attaches the run. The test clicks the "3D" tab, picks "ei" in the colour dropdown, drags the scene with the
mouse and checks that the camera changed in the page and in the kernel, opens "Connectivity" and finds the
heatmap, then runs cell 3 and finds the raster in "Activity". Screenshots:
``test-artifacts/browser/explorer_*.png``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _jupyter_lab import JupyterLab, open_notebook, write_notebook

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

CELLS = [
    """from modelkit.datasets import balanced_network
from modelkit.widgets import NetworkExplorer
cfg = balanced_network("net", n_exc=400, n_inh=100, n_input=50, tstop=100.0)
explorer = NetworkExplorer(cfg)
explorer""",
    """import json
cam = explorer.positions.figure.layout.scene.camera
print("CAMERA", json.dumps(cam.eye.to_plotly_json() if cam.eye is not None else None))""",
    """import modelkit
explorer.attach(modelkit.simulate(cfg, progress=False))""",
]

#: the camera eye plotly.js is using for the 3D scene of the explorer's positions figure
EYE = """() => {
  const gd = document.querySelector('.mk-explorer-positions .js-plotly-plot');
  const cam = gd && gd._fullLayout && gd._fullLayout.scene && gd._fullLayout.scene._scene &&
              gd._fullLayout.scene._scene.getCamera();
  return cam ? cam.eye : null;
}"""


def _tab(explorer, title: str):
    return explorer.locator(".lm-TabBar-tab", has_text=re.compile(rf"^\s*{title}\s*$"))


def _shot(page, locator, path: Path) -> None:
    locator.evaluate("el => el.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(path), clip=locator.bounding_box())


def _run_cell(page, k: int) -> None:
    page.locator(".jp-NotebookPanel .jp-Cell").nth(k).locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")


def test_explorer_3d_rotate_and_connectivity(page, jupyter_lab: JupyterLab, artifacts: Path) -> None:
    write_notebook(jupyter_lab.root / "explorer" / "explore.ipynb", CELLS)
    open_notebook(page, jupyter_lab, "explorer/explore.ipynb", width=1400, height=1100)
    page.keyboard.press("Shift+Enter")
    explorer = page.locator(".mk-network-explorer")
    expect(explorer).to_be_visible(timeout=120_000)
    expect(explorer.locator(".mk-explorer-details")).to_contain_text("tau_m")  # parameters as values
    _shot(page, explorer, artifacts / "explorer_network.png")

    # the 3D tab draws when first shown
    _tab(explorer, "3D").click()
    view = explorer.locator(".mk-explorer-positions")
    plot = view.locator(".js-plotly-plot")
    expect(plot).to_be_visible(timeout=60_000)
    expect(view.locator(".mk-explorer-shown")).to_have_attribute("data-points", "500", timeout=60_000)
    expect(view.locator(".mk-explorer-code")).to_contain_text("mkp.positions(net, color_by='pop_name')")

    # colour by "ei": one trace per value, in the legend, and the code follows
    view.locator(".mk-explorer-color select").select_option("ei")
    expect(plot.locator(".legendtext", has_text="e (400)")).to_be_visible(timeout=60_000)
    expect(plot.locator(".legendtext", has_text="i (100)")).to_be_visible()
    expect(view.locator(".mk-explorer-code")).to_contain_text("mkp.positions(net, color_by='ei')")
    _shot(page, view, artifacts / "explorer_3d_before.png")

    # rotate: drag across the scene (a left-button drag orbits the camera)
    page.wait_for_function(f"({EYE})() !== null", timeout=60_000)
    before = page.evaluate(EYE)
    box = plot.locator(".gl-container").first.bounding_box() or plot.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x0 + 8 * k, y0 + 3 * k)
    page.mouse.up()
    page.wait_for_function(f"""() => {{ const e = ({EYE})(), b = {json.dumps(before)};
        return e && Math.hypot(e.x - b.x, e.y - b.y, e.z - b.z) > 0.05; }}""", timeout=30_000)
    after = page.evaluate(EYE)
    _shot(page, view, artifacts / "explorer_3d_rotated.png")

    # the kernel's figure got the new camera (plotly's relayout comes back to the FigureWidget)
    _run_cell(page, 1)
    out = page.locator(".jp-NotebookPanel .jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(out).to_contain_text("CAMERA", timeout=60_000)
    eye = json.loads(out.inner_text().split("CAMERA", 1)[1].strip())
    assert eye is not None, "the kernel's figure has no camera after the drag"
    assert abs(eye["x"] - after["x"]) + abs(eye["y"] - after["y"]) + abs(eye["z"] - after["z"]) < 1e-3

    # the connectivity tab: the heatmap of edges between pop_name groups
    _tab(explorer, "Connectivity").click()
    conn = explorer.locator(".mk-explorer-connectivity")
    matrix = conn.locator(".mk-explorer-matrix")
    expect(matrix.locator(".js-plotly-plot")).to_be_visible(timeout=60_000)
    expect(matrix.locator("g.hm image")).to_have_count(1, timeout=60_000)
    expect(matrix.locator(".ytick", has_text="LIF_exc")).to_be_visible()
    expect(conn.locator(".mk-explorer-degrees .js-plotly-plot")).to_be_visible()
    expect(conn.locator(".mk-explorer-code")).to_contain_text("mkp.connectivity_matrix(net, group_by='pop_name')")
    _shot(page, conn, artifacts / "explorer_connectivity.png")

    # a run attached: the Activity tab shows its raster (grouped by pop_name) and rates
    _run_cell(page, 2)
    activity = explorer.locator(".mk-explorer-activity")
    expect(activity).to_be_visible(timeout=120_000)  # attach selects the tab
    raster = activity.locator(".mk-explorer-raster .js-plotly-plot")
    expect(raster.locator(".legendtext", has_text="LIF_exc")).to_be_visible(timeout=60_000)
    expect(activity.locator(".mk-explorer-rates .js-plotly-plot")).to_be_visible()
    expect(activity.locator(".mk-explorer-code")).to_contain_text("raster = mkp.raster(")
    _shot(page, activity, artifacts / "explorer_activity.png")
