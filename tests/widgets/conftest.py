"""Widget tests run without a browser: they drive traits and buttons and read the widgets' state."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets", reason="the jupyter extra is not installed: pip install 'modelkit[jupyter]'")
pytest.importorskip("bqplot", reason="the jupyter extra is not installed: pip install 'modelkit[jupyter]'")


@pytest.fixture
def blocks():
    """``make(n_blocks, per_block)``: seeded spike blocks of two populations (exc: 800 nodes, inh: 200)."""
    def make(n_blocks: int = 20, per_block: int = 1000, seed: int = 0):
        rng = np.random.default_rng(seed)
        out = []
        for b in range(n_blocks):
            for pop, n, k in (("exc", 800, per_block), ("inh", 200, per_block // 4)):
                out.append((pop, rng.integers(0, n, k), np.sort(rng.uniform(10.0 * b, 10.0 * (b + 1), k))))
        return out
    return make
