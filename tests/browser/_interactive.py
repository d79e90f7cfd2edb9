"""The interactive loop in a page: RunPanel + LiveRaster + LiveRates on the demo network, Run pressed, a slider
moved by the keyboard, and the times from a click to the first spikes shown and to the finished run shown.

Shared by ``test_run_params.py`` and ``benchmarks/bench_interactive_browser.py`` (imported by name).
"""

from __future__ import annotations

import re
import time

#: the notebook: the network ``modelkit demo`` builds (1,000 cells, 1 s), the panel and the views
SETUP = """import os
import modelkit
from modelkit.datasets import balanced_network
from modelkit.widgets import LiveRaster, LiveRates, RunPanel
cfg = balanced_network("net")  # the demo network: 800 + 200 cells, 200 Poisson inputs, 1 s
net = modelkit.load(cfg)
raster = LiveRaster(network=net, keep=2)
rates = LiveRates(network=net, keep=2)
panel = RunPanel(cfg, views=[raster, rates], output_dir=os.path.abspath("out"), overwrite=True)
display(panel, raster, rates)"""

TAU_M = ".mk-param-node_types-LIF_exc-tau_m"


def button(scope, label: str):
    """The ipywidgets button with this exact label."""
    return scope.locator("button.widget-button", has_text=re.compile(rf"^\s*{label}\s*$"))


def received(page) -> int:
    """Spikes the raster's page shows (its count label), -1 before there is one."""
    return int(page.evaluate("() => { const e = document.querySelector('.mk-live-raster .mk-count');"
                             " return e ? parseInt(e.dataset.received) : -1; }"))


def run_and_time(page, timeout: float = 120.0) -> dict[str, float]:
    """Press Run; seconds from the click to the first spikes on the raster (``first``) and to the finished run
    shown (``done``: status done and the raster showing every spike the run sent), and the spikes (``n``)."""
    panel = page.locator(".mk-run-panel")
    run = button(panel, "Run")
    run.wait_for(state="visible")
    before = received(page)
    page.evaluate("() => { window.__mkCleared = false; }")
    t0 = time.perf_counter()
    run.click()
    # the raster is cleared when the new run attaches (an earlier run's count is shown until then): its first
    # spikes are the first count above 0 after a 0, or - when the clear and the first block reach the page in
    # one redraw, so that no 0 is ever shown - the first count below the earlier run's total
    page.wait_for_function(
        """(before) => { const e = document.querySelector('.mk-live-raster .mk-count');
                   if (!e) return false;
                   const r = parseInt(e.dataset.received);
                   if (r > 0 && before > 0 && r < before) return true;
                   if (!window.__mkCleared) { window.__mkCleared = r === 0; return false; }
                   return r > 0; }""", arg=before, polling="raf", timeout=timeout * 1000)
    first = time.perf_counter() - t0
    page.wait_for_function(
        """() => { const s = document.querySelector('.mk-run-panel .mk-status');
                   if (!s || s.dataset.status !== 'done') return false;
                   const m = s.parentElement.innerText.match(/([0-9,]+) spikes received/);
                   const e = document.querySelector('.mk-live-raster .mk-count');
                   return m && e && parseInt(e.dataset.received) === parseInt(m[1].replace(/,/g, '')); }""",
        polling="raf", timeout=timeout * 1000)
    done = time.perf_counter() - t0
    return {"first": first, "done": done, "n": float(received(page))}


def move_slider(page, selector: str, presses: int, key: str = "ArrowLeft") -> None:
    """Focus a FloatSlider's handle by a click and move it ``presses`` steps with the keyboard."""
    handle = page.locator(f"{selector} .noUi-handle")
    handle.scroll_into_view_if_needed()
    handle.click()
    for _ in range(presses):
        page.keyboard.press(key)
