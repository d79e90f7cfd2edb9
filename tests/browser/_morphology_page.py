"""A MorphologyViewer's report trace as the page draws it, and the same fingerprint of its colours computed in the
kernel: a sum over every 97th colour value, weighted by (1 + i % 7), cheap enough to poll on 60,000 points.

Shared by ``test_morphology_viewer.py`` and ``benchmarks/bench_morphology_browser.py`` (imported by name).
"""

from __future__ import annotations

#: the report trace in the page: visible, number of points, the fingerprint; ``{traces}`` alone before it exists
PAGE_REPORT = """el => {
  const gd = el.querySelector('.js-plotly-plot');
  if (!gd || !gd.data) return null;
  const t = gd.data.find(d => d.name === 'report');
  if (!t) return {traces: gd.data.length};
  const c = t.line.color;
  let sig = null;
  if (c && typeof c !== 'string' && c.length !== undefined) {
    sig = 0;
    for (let i = 0; i < c.length; i += 97) { if (Number.isFinite(c[i])) sig += c[i] * (1 + (i % 7)); }
  }
  return {visible: t.visible, n: t.x ? t.x.length : 0, sig: sig, traces: gd.data.length};
}"""

#: notebook code defining ``_sig(colours)``: the fingerprint PAGE_REPORT computes in the page
SIG = """import json, numpy as np
def _sig(c):
    c = np.asarray(c, float)
    i = np.arange(0, len(c), 97)
    ok = np.isfinite(c[i])
    return float(np.sum(c[i][ok] * (1 + i[ok] % 7)))
"""
