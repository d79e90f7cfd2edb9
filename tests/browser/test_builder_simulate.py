"""BuilderPanel -> Simulate in a real JupyterLab at 1,000 px: two populations and edges by clicks, spikes live.

One notebook cell shows a BuilderPanel. The test fills its forms as a user would (a NEST parameter
included), is warned when it types a positive weight from the inhibitory population, presses Simulate and
sees spikes arrive in the LiveRaster of the RunPanel that appears. At a 1,000 px wide window, no element
of the panel (forms, preview, plots, code, run panel, raster) reaches past the notebook cell's output.
Screenshots: ``test-artifacts/browser/builder_*.png``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from _jupyter_lab import JupyterLab, open_notebook, write_notebook

pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
pytest.importorskip("nest", reason="Simulate runs NEST: pip install nest-simulator")
pytest.importorskip("neuron", reason="the biophysical case runs NEURON: pip install neuron")
from playwright.sync_api import expect  # noqa: E402

CELL = """from modelkit.widgets import BuilderPanel
builder = BuilderPanel("v1", seed=0)
builder"""

#: every visible element of the panel, checked against the cell's output area (CSS px; 1 px of rounding);
#: an SVG's own shapes are not (an inline <svg> clips them to its box, so the <svg> is what is checked)
_OVERFLOW_JS = """panel => {
  const area = panel.closest('.jp-OutputArea-output') || panel.parentElement;
  const lim = area.getBoundingClientRect();
  const bad = [];
  const columns = [...panel.querySelectorAll('.mk-builder-nodes, .mk-builder-edges, .mk-builder-preview-col')];
  for (const el of [panel, ...panel.querySelectorAll('*')]) {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    if (el.ownerSVGElement) continue;
    if (r.width === 0 || r.height === 0 || st.visibility === 'hidden' || st.display === 'none') continue;
    const name = el.tagName + '.' + [...el.classList].slice(0, 3).join('.');
    if (r.right > lim.right + 1 || r.left < lim.left - 1) bad.push(`${name}: ${r.left}-${r.right} outside the cell`);
    const col = columns.find(c => c !== el && c.contains(el));
    if (col) {
      const c = col.getBoundingClientRect();
      if (r.right > c.right + 1 || r.left < c.left - 1) bad.push(`${name}: ${r.left}-${r.right} outside its column`);
    }
  }
  const boxes = columns.map(c => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; });
  return {cell: [lim.left, lim.right], window: window.innerWidth, bad: bad.slice(0, 20), n_bad: bad.length,
          scroll: panel.scrollWidth - panel.clientWidth, columns: boxes};
}"""


def _button(scope, label: str):
    return scope.locator("button.widget-button", has_text=re.compile(rf"^\s*{label}\s*$"))


def _set(field, value) -> None:
    """Type into a widget's input and leave it (number fields send their value on change)."""
    box = field.locator("input")
    box.fill(str(value))
    box.press("Enter")


def _shot(page, locator, path: Path) -> None:
    locator.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(path), full_page=False)


def _layout(builder) -> dict:
    report = builder.evaluate(_OVERFLOW_JS)
    assert report["n_bad"] == 0 and report["scroll"] <= 1, report
    assert report["cell"][1] <= report["window"], report
    return report


def test_build_two_populations_and_simulate_at_1000px(page, jupyter_lab: JupyterLab, artifacts: Path) -> None:
    write_notebook(jupyter_lab.root / "builder_sim" / "builder.ipynb", [CELL])
    open_notebook(page, jupyter_lab, "builder_sim/builder.ipynb", width=1000, height=1000)
    page.keyboard.press("Shift+Enter")
    builder = page.locator(".mk-builder-panel")
    expect(builder).to_be_visible(timeout=120_000)
    expect(builder.locator(".mk-builder-neuron-params .mk-param-tau_m input")).to_have_value("10", timeout=60_000)
    _layout(builder)

    # exc: 80 cells, tau_m 15 ms (a NEST parameter from the form)
    _set(builder.locator(".mk-builder-n"), 80)
    _set(builder.locator(".mk-builder-neuron-params .mk-param-tau_m"), 15)
    _button(builder, "Add population").click()
    total = builder.locator(".mk-builder-preview .mk-total")
    expect(total).to_have_attribute("data-total", "80", timeout=30_000)
    code = builder.locator(".mk-builder-code")
    expect(code).to_contain_text("dynamics_params={'tau_m': 15.0}")
    # inh: 20 cells, marked inhibitory
    _set(builder.locator(".mk-builder-pop-name"), "inh")
    _set(builder.locator(".mk-builder-n"), 20)
    builder.locator(".mk-builder-ei select").select_option("i")
    _set(builder.locator(".mk-builder-neuron-params .mk-param-tau_m"), 10)
    _button(builder, "Add population").click()
    expect(total).to_have_attribute("data-total", "100", timeout=30_000)

    # exc -> inh, 30 pA
    builder.locator(".mk-builder-source select").select_option("exc")
    builder.locator(".mk-builder-target select").select_option("inh")
    weight = builder.locator(".mk-builder-weight input")
    _set(builder.locator(".mk-builder-weight"), 30)
    _button(builder, "Add edges").click()
    expect(code).to_contain_text("syn_weight=30.0", timeout=30_000)
    # inh -> exc: the weight turns negative by itself; typed positive, the form warns
    builder.locator(".mk-builder-source select").select_option("inh")
    builder.locator(".mk-builder-target select").select_option("exc")
    expect(weight).to_have_value("-30", timeout=30_000)
    sign = builder.locator(".mk-builder-sign .mk-sign-warning")
    expect(sign).to_have_count(0)
    _set(builder.locator(".mk-builder-weight"), 30)
    expect(sign).to_contain_text("'inh' is inhibitory", timeout=30_000)
    _shot(page, builder.locator(".mk-builder-edges"), artifacts / "builder_sign_warning.png")
    _set(builder.locator(".mk-builder-weight"), -30)
    expect(sign).to_have_count(0, timeout=30_000)
    _button(builder, "Add edges").click()
    expect(code).to_contain_text("syn_weight=-30.0", timeout=30_000)
    _layout(builder)
    _shot(page, builder, artifacts / "builder_forms_1000px.png")

    # Simulate: a RunPanel and a LiveRaster appear under the button; spikes arrive
    _set(builder.locator(".mk-sim-tstop"), 1000)
    _button(builder, "Simulate").click()
    run = builder.locator(".mk-builder-run .mk-run-panel")
    expect(run).to_be_visible(timeout=120_000)
    status = run.locator(".mk-status")
    count = builder.locator(".mk-builder-run .mk-live-raster .mk-count")
    deadline = time.monotonic() + 180
    while int(count.get_attribute("data-received") or 0) == 0:
        assert time.monotonic() < deadline, "no spikes reached the raster"
        time.sleep(0.1)
    expect(status).to_have_attribute("data-status", "done", timeout=180_000)
    time.sleep(0.5)  # the raster's last redraw after the end of the run
    m = re.search(r"(\d+) spikes received", status.locator("xpath=..").inner_text())
    assert m and int(m.group(1)) == int(count.get_attribute("data-received")) > 0
    expect(code).to_contain_text("run_panel = RunPanel(sim_config, network=sim_network")
    expect(builder.locator(".mk-builder-run .mk-live-raster .bqplot.figure")).to_have_count(1)
    # the loop goes on in the RunPanel: sliders for what was built (exc's tau_m, the weights, the input rate)
    expect(builder.locator(".mk-builder-run .mk-param-controls")).to_contain_text("tau_m")
    report = _layout(builder)
    print("layout at 1000 px:", report)
    raster = builder.locator(".mk-builder-run")
    raster.evaluate("el => el.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(artifacts / "builder_simulated_1000px.png"), clip=raster.bounding_box())

    # the file browser closed: the cell is wider (forms side by side), and still nothing reaches past it
    page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
    expect(page.locator("#jp-left-stack")).to_be_hidden(timeout=30_000)
    wide = _layout(builder)
    assert wide["cell"][1] - wide["cell"][0] > report["cell"][1] - report["cell"][0] + 150, (wide, report)
    print("layout at 1000 px, no side panel:", wide)
    _shot(page, builder, artifacts / "builder_forms_1000px_wide.png")
    assert sorted(p.name for p in (jupyter_lab.root / "builder_sim").iterdir()
                  if not p.name.startswith(".")) == ["builder.ipynb", "output"]  # no files but the run's


CELL_BIO = """from modelkit.testing import shared_path
from modelkit.widgets import BuilderPanel
builder = BuilderPanel("v1", seed=0, components=shared_path("bmtk-examples", "bio_components"))
builder"""


def _wait_spikes(builder, timeout: float) -> None:
    count = builder.locator(".mk-builder-run .mk-live-raster .mk-count")
    deadline = time.monotonic() + timeout
    while int(count.get_attribute("data-received") or 0) == 0:
        assert time.monotonic() < deadline, "no spikes reached the raster"
        time.sleep(0.1)


def test_biophysical_network_by_clicks_runs_in_neuron(page, jupyter_lab: JupyterLab, artifacts: Path) -> None:
    """model_type biophysical, an Allen fit and a morphology of bmtk's components, e_pas changed in the form,
    edges with bmtk's synaptic models (the weight stays positive from the inhibitory population: NEURON's
    Exp2Syn takes the sign from erev), Simulate: NEURON runs it and spikes reach the raster."""
    write_notebook(jupyter_lab.root / "builder_bio" / "builder.ipynb", [CELL_BIO])
    open_notebook(page, jupyter_lab, "builder_bio/builder.ipynb", width=1000, height=1000)
    page.keyboard.press("Shift+Enter")
    builder = page.locator(".mk-builder-panel")
    expect(builder).to_be_visible(timeout=120_000)
    code = builder.locator(".mk-builder-code")
    total = builder.locator(".mk-builder-preview .mk-total")

    def population(name: str, ei: str, template: str, morphology: str, e_pas: float | None) -> None:
        _set(builder.locator(".mk-builder-pop-name"), name)
        _set(builder.locator(".mk-builder-n"), 3)
        builder.locator(".mk-builder-ei select").select_option(ei)
        builder.locator(".mk-builder-model-type select").select_option("biophysical")
        expect(builder.locator(".mk-builder-bio")).to_be_visible(timeout=30_000)
        builder.locator(".mk-builder-bio-template select").select_option(template)
        builder.locator(".mk-builder-bio-morphology select").select_option(morphology)
        expect(builder.locator(".mk-builder-bio-params .mk-param-e_pas input")).to_be_visible(timeout=30_000)
        if e_pas is not None:
            _set(builder.locator(".mk-builder-bio-params .mk-param-e_pas"), e_pas)
        _button(builder, "Add population").click()

    population("exc", "e", "ctdb/472363762_fit.json", "Scnn1a_473845048_m.swc", -80)
    expect(total).to_have_attribute("data-total", "3", timeout=30_000)
    expect(code).to_contain_text("fit_exc['passive'][0]['e_pas'] = -80.0  # e_pas")
    expect(code).to_contain_text("dynamics_params=fit_exc")
    _shot(page, builder.locator(".mk-builder-nodes"), artifacts / "builder_bio_form.png")
    population("inh", "i", "ctdb/472912177_fit.json", "Pvalb_470522102_m.swc", None)
    expect(total).to_have_attribute("data-total", "6", timeout=30_000)
    expect(code).to_contain_text("dynamics_params='ctdb/472912177_fit.json'")

    builder.locator(".mk-builder-source select").select_option("exc")
    builder.locator(".mk-builder-target select").select_option("inh")
    expect(builder.locator(".mk-builder-bio-synapse select")).to_have_value("AMPA_ExcToInh.json", timeout=30_000)
    weight = builder.locator(".mk-builder-weight input")
    expect(weight).to_have_value("0.0005", timeout=30_000)  # µS
    _button(builder, "Add edges").click()
    expect(code).to_contain_text("dynamics_params='AMPA_ExcToInh.json', target_sections=['somatic', 'basal']",
                                 timeout=30_000)
    builder.locator(".mk-builder-source select").select_option("inh")
    builder.locator(".mk-builder-target select").select_option("exc")
    expect(builder.locator(".mk-builder-bio-synapse select")).to_have_value("GABA_InhToExc.json", timeout=30_000)
    expect(weight).to_have_value("0.0005", timeout=30_000)  # positive: GABA's erev makes it inhibitory
    sign = builder.locator(".mk-builder-sign .mk-sign-warning")
    _set(builder.locator(".mk-builder-weight"), -0.0005)
    expect(sign).to_contain_text("Exp2Syn", timeout=30_000)
    _set(builder.locator(".mk-builder-weight"), 0.0005)
    expect(sign).to_have_count(0, timeout=30_000)
    _button(builder, "Add edges").click()
    expect(code).to_contain_text("dynamics_params='GABA_InhToExc.json'", timeout=30_000)
    _layout(builder)
    _shot(page, builder.locator(".mk-builder-edges"), artifacts / "builder_bio_edges.png")

    _set(builder.locator(".mk-sim-tstop"), 200)
    _button(builder, "Simulate").click()
    run = builder.locator(".mk-builder-run .mk-run-panel")
    expect(run).to_be_visible(timeout=120_000)
    status = run.locator(".mk-status")
    _wait_spikes(builder, 240)
    expect(status).to_have_attribute("data-status", "done", timeout=240_000)
    time.sleep(0.5)  # the raster's last redraw after the end of the run
    count = builder.locator(".mk-builder-run .mk-live-raster .mk-count")
    m = re.search(r"(\d+) spikes received", status.locator("xpath=..").inner_text())
    assert m and int(m.group(1)) == int(count.get_attribute("data-received")) > 0
    expect(code).to_contain_text("'biophysical_neuron_models_dir': ")
    _layout(builder)
    raster = builder.locator(".mk-builder-run")
    raster.evaluate("el => el.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(artifacts / "builder_bio_simulated_1000px.png"), clip=raster.bounding_box())
    assert sorted(p.name for p in (jupyter_lab.root / "builder_bio").iterdir()
                  if not p.name.startswith(".")) == ["builder.ipynb", "output"]  # no parameter file written
