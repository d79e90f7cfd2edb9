"""The page side of a live view: acknowledges each redraw once drawn, reports plot width and WebGL.

A hidden, zero-height anywidget that sits in a live view's box. After a redraw the view calls
:meth:`FramePage.frame`; the page answers ``ack`` from ``requestAnimationFrame`` twice over, that is after
the messages before it were handled and the page painted. A :class:`~modelkit.widgets.feed.Feed` with
this as its ``gate`` therefore never has more than one redraw in flight, however slow the browser is.
The page also says how wide the view is (CSS px), so rasters are binned to the pixels there are, and
whether it has WebGL.

With ``follow_plotly`` (a CSS selector of a box around a plotly figure) the page also acknowledges each
restyle of that figure once painted, without a message from the kernel: with a large plotly FigureWidget
beside it (the 300-cell MorphologyViewer) the kernel's ``frame`` messages were seen never to reach the
page's FramePage model (its page -> kernel messages still arrive), so a view that redraws a plotly
figure relies on these.
"""

from __future__ import annotations

import threading
from typing import Any

from modelkit.widgets._deps import require

anywidget = require("anywidget")
traitlets = require("traitlets")

__all__ = ["FramePage"]

_ESM = """
function initialize({ model }) {
  model.on("msg:custom", (msg) => {
    if (msg && msg.frame !== undefined) {
      requestAnimationFrame(() => requestAnimationFrame(() => model.send({ ack: msg.frame })));
    }
  });
}
function render({ model, el }) {
  el.style.height = "0px";
  el.style.overflow = "hidden";
  let gl = false;
  try {
    const c = document.createElement("canvas");
    gl = !!(c.getContext("webgl2") || c.getContext("webgl"));
  } catch (e) { gl = false; }
  const report = () => {
    const w = Math.round(el.getBoundingClientRect().width);
    if (w > 0 && (w !== model.get("width_px") || model.get("webgl") !== gl)) {
      model.set("width_px", w);
      model.set("webgl", gl);
      model.save_changes();
    }
  };
  const ro = new ResizeObserver(report);
  ro.observe(el);
  report();
  // a plotly figure beside this view: acknowledge each of its restyles once painted (page -> kernel only)
  const sel = model.get("follow_plotly");
  let gd = null, stop = false, drawn = 0;
  const onRestyle = () => requestAnimationFrame(() => requestAnimationFrame(() => model.send({ drawn: ++drawn })));
  const hook = () => {
    if (stop || !sel) return;
    const root = el.closest(sel);
    gd = root ? root.querySelector(".js-plotly-plot") : null;
    if (!gd || typeof gd.on !== "function") { gd = null; setTimeout(hook, 250); return; }
    gd.on("plotly_restyle", onRestyle);
  };
  hook();
  return () => {
    stop = true;
    ro.disconnect();
    if (gd && gd.removeListener) gd.removeListener("plotly_restyle", onRestyle);
  };
}
export default { initialize, render };
"""


class FramePage(anywidget.AnyWidget):
    """Redraw acknowledgements, width and WebGL support of the page showing a live view."""

    _esm = _ESM
    width_px = traitlets.Int(0, help="width of the view on the page (CSS px; 0 until shown)").tag(sync=True)
    webgl = traitlets.Bool(None, allow_none=True, help="the page has WebGL (None until shown)").tag(sync=True)
    follow_plotly = traitlets.Unicode("", help="CSS selector of the box around a plotly figure whose restyles the "
                                      "page acknowledges as drawn ('' for none)").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cv = threading.Condition()
        self._sent = 0
        self._acked = 0
        self.seen_page = False
        self.on_msg(self._on_msg)

    @traitlets.observe("width_px")
    def _shown(self, change: Any) -> None:
        if change["new"] > 0 and not self.seen_page:
            with self._cv:  # redraws sent before a page showed the view are acknowledged by nobody
                self.seen_page = True
                self._acked = self._sent
                self._cv.notify_all()

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and isinstance(content.get("ack"), int):
            with self._cv:
                self.seen_page = True
                self._acked = max(self._acked, content["ack"])
                self._cv.notify_all()
        elif isinstance(content, dict) and isinstance(content.get("drawn"), int):
            with self._cv:  # the followed figure painted a restyle: the page handled what was sent before it
                self.seen_page = True
                self._acked = self._sent
                self._cv.notify_all()

    def frame(self) -> None:
        """Mark the end of a redraw: the page acknowledges it once drawn."""
        with self._cv:
            self._sent += 1
            n = self._sent
        self.send({"frame": n})

    def pending(self) -> bool:
        """A redraw sent to a page that has not acknowledged it yet (False while no page shows the view)."""
        with self._cv:
            return self.seen_page and self._acked < self._sent

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for every redraw to be acknowledged; whether they were."""
        with self._cv:
            return self._cv.wait_for(lambda: self._acked >= self._sent, timeout)
