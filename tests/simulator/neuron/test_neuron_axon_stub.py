"""The axon stub of ``aibs_*_directed`` model processing follows the reconstructed axon (bmtk's
``get_axon_direction``: first principal axis of the soma's middle point and the last axon section's points,
oriented towards the axon's end); the plain variants leave the stub to ``define_shape``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkit.simulator.neuron.geometry import table_geometry
from modelkit.simulator.neuron.mechanisms import import_neuron
from modelkit.simulator.neuron.morphology import read_swc


@pytest.mark.parametrize("kind, at", [("perisomatic", 0.5), ("allactive", 1.0)])
def test_directed_stub_follows_the_axon(corpus: Path, kind: str, at: float) -> None:
    h = import_neuron()
    swc = corpus / "bmtk" / "examples" / "bio_components" / "morphologies" / "Scnn1a_473845048_m.swc"
    table, diams = read_swc(h, str(swc), "test")
    soma = table.points[int(np.flatnonzero(table.types == 1)[-1])][:, :3]
    axon = table.points[int(np.flatnonzero(table.types == 2)[-1])][:, :3]
    pts = np.vstack([soma[len(soma) // 2], axon])
    w, v = np.linalg.eigh(np.cov(pts.T))  # the principal axis, by another route than the backend's SVD
    axis = v[:, np.argmax(w)] * np.sign(np.dot(v[:, np.argmax(w)], axon[-1] - soma[len(soma) // 2]))

    directed = table.with_axon_stub(h, kind, diams, directed=True)
    plain = table.with_axon_stub(h, kind, diams)
    for t in (directed, plain):
        assert t.names[-2:] == ["axon[0]", "axon[1]"] and np.all(t.parent_x[-2] == at)
    stub = directed.points[-2:]
    for k, p in enumerate(stub):
        assert np.linalg.norm(p[1, :3] - p[0, :3]) == pytest.approx(30.0)
        np.testing.assert_allclose((p[1, :3] - p[0, :3]) / 30.0, axis, atol=1e-9)
        assert p[0, 3] == p[1, 3] == (1.0 if kind == "perisomatic" else diams[k])
    np.testing.assert_allclose(stub[0][0, :3], soma[-1])  # from the soma's end, as bmtk
    assert not len(plain.points[-1])  # the plain stub: no points, define_shape lays it out

    # laid out as NEURON places it (define_shape translates the stub onto its connection point): the
    # segments of the stub run along the axon's direction, 60 µm in all
    g = table_geometry(h, directed)
    n_stub = int(directed.nseg[-2:].sum())
    d = g.p1[-n_stub:] - g.p0[-n_stub:]
    np.testing.assert_allclose(d / np.linalg.norm(d, axis=1)[:, None], np.tile(axis, (n_stub, 1)), atol=1e-6)
    assert np.linalg.norm(d, axis=1).sum() == pytest.approx(60.0)
    plain_dir = table_geometry(h, plain)
    assert not np.allclose(plain_dir.p1[-1] - plain_dir.p0[-1], g.p1[-1] - g.p0[-1])
