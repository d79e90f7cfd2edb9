"""bmtk's own builder tests (shared/peer-tests/bmtk-builder) pass against modelkit with only the import swapped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from modelkit.testing import shared_path

#: the four test files of bmtk's builder, 26 tests (all pass under bmtk 1.2.0)
N_PEER_TESTS = 26


def test_bmtk_builder_peer_tests_pass_with_the_import_swapped(tmp_path: Path) -> None:
    src = shared_path("peer-tests", "bmtk-builder")
    files = sorted(src.glob("test_*.py"))
    assert files, f"no peer tests in {src} (the shared folder must hold bmtk's builder tests)"
    for f in files:
        text = f.read_text()
        swapped = text.replace("from bmtk.builder import", "from modelkit.builder import")
        assert "bmtk" not in re.sub(r"#.*", "", swapped).replace("modelkit.builder", ""), \
            f"{f.name}: imports more of bmtk than the builder"
        (tmp_path / f.name).write_text(swapped)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert f"{N_PEER_TESTS} passed" in summary and "failed" not in summary and "error" not in summary, summary
