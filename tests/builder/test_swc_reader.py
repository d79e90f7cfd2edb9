"""modelkit.builder.bionet.swc_reader gives bmtk's synapse sites: same sections, distances, draws, coordinates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelkit.testing import shared_path

ROOT = Path(__file__).resolve().parents[2]

#: run in a subprocess per side: each loads NEURON, whose state is global
SCRIPT = r'''
import sys, json, numpy as np
which, path = sys.argv[1], sys.argv[2]
if which == "bmtk":
    from bmtk.builder.bionet.swc_reader import SWCReader
else:
    from modelkit.builder.bionet.swc_reader import SWCReader
swc = SWCReader(path, rng_seed=4)
out = {}
sp = swc.seg_props
out["n"] = [swc.n_sections, int(swc.nseg)]
out["dist"], out["type"] = sp.dist.tolist(), sp.type.tolist()
out["x"], out["sec"] = sp.x.tolist(), sp.sec_id.tolist()
swc = SWCReader(path, rng_seed=4)
swc.fix_axon()
out["n2"] = [swc.n_sections, int(swc.nseg)]
s, x = swc.choose_sections(["soma", "dend", "apic"], [0.0, 1e20], n_sections=50)
out["choose"] = [s.tolist(), x.tolist()]
s2, x2 = swc.choose_sections(["dend"], [50.0, 150.0], n_sections=20)
out["choose2"] = [s2.tolist(), x2.tolist()]
out["swc_id"] = [[int(a), float(b)] for a, b in (swc.get_swc_id(int(i), float(j)) for i, j in zip(s, x))]
m = swc.move_and_rotate(soma_coords=[10.0, -5.0, 3.0], rotation_angles=[0.3, 1.1, -0.4])
out["coords"] = m.seg_coords.p05[:, :40].tolist()
out["gc"] = m.get_coords(int(s[0]), float(x[0])).tolist()
out["soma"] = swc.soma_position.tolist()
print(json.dumps(out))
'''


def _run(tmp_path: Path, which: str, swc: Path) -> dict:
    (tmp_path / "swc_cmp.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(tmp_path / "swc_cmp.py"), which, str(swc)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("morphology", ["Scnn1a_473845048_m.swc", "Pvalb_469628681_m.swc"])
def test_swc_reader_matches_bmtk(tmp_path, morphology) -> None:
    swc = shared_path("bmtk-examples", "bio_components", "morphologies", morphology)
    ref, got = _run(tmp_path, "bmtk", swc), _run(tmp_path, "modelkit", swc)
    assert ref.keys() == got.keys()
    for key in ref:
        np.testing.assert_allclose(np.asarray(got[key], float), np.asarray(ref[key], float), rtol=1e-12,
                                   atol=1e-9, err_msg=key)


def test_get_swc_names_a_missing_morphology(tmp_path) -> None:
    from modelkit.builder.bionet.swc_reader import get_swc
    from modelkit.errors import BuilderError
    with pytest.raises(BuilderError, match="nope.swc"):
        get_swc({"node_id": 0, "morphology": "nope.swc"}, morphology_dir=tmp_path)
