"""``pip wheel .`` on a clean copy of the checkout ships the prebuilt extension; a fresh venv lists it enabled.

The copy holds exactly what a clone would (tracked and untracked-but-not-ignored files), so the
extension is built from its sources by the hatch-jupyter-builder hook (jlpm install + build) and a
stale bundle in the working tree cannot leak into the wheel.  Takes about a minute with warm caches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXT = "modelkit-jupyterlab"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


@pytest.mark.slow
def test_clean_checkout_wheel_has_the_enabled_extension(tmp_path: Path) -> None:
    assert (REPO / ".git").exists(), f"{REPO} is not a git checkout: the test copies its files with git ls-files"
    files = _run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO).stdout.split("\0")
    src = tmp_path / "src"
    for f in filter(None, files):
        if (REPO / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, src / f)
    assert not (src / "modelkit" / "labserver" / "labextension").exists()
    assert not (src / "extension" / "node_modules").exists()
    # pip's isolated build env provides jupyterlab's jlpm to the build hook; nothing from this venv is used
    _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(tmp_path / "dist")], cwd=src)
    (wheel,) = (tmp_path / "dist").glob("modelkit-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        data = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.data/data/"
        share = f"{data}share/jupyter/labextensions/{EXT}/"
        pkg = json.loads(z.read(f"{share}package.json"))
        assert pkg["name"] == EXT and pkg["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
        entry = z.read(share + pkg["jupyterlab"]["_build"]["load"]).decode()
        assert EXT in entry
        assert json.loads(z.read(f"{share}install.json"))["packageName"] == "modelkit"
        assert f"{share}schemas/{EXT}/plugin.json" in names
        server_cfg = json.loads(z.read(f"{data}etc/jupyter/jupyter_server_config.d/modelkit.json"))
        assert server_cfg["ServerApp"]["jpserver_extensions"] == {"modelkit.labserver": True}
        assert "modelkit/labserver/handlers.py" in names
        assert not [n for n in names if "node_modules" in n or n.startswith("extension/")]

    # a fresh venv: jupyterlab from the index, modelkit from the wheel (its own dependencies are not under test)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", "jupyterlab>=4,<5"])
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)])
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV"))}
    out = _run([str(py), "-m", "jupyter", "labextension", "list"], env=clean)
    line = [ln for ln in (out.stdout + out.stderr).splitlines() if EXT in ln]
    assert line and "enabled" in line[0] and "OK" in line[0] and "(python, modelkit)" in line[0], out
    out = _run([str(py), "-m", "jupyter", "server", "extension", "list"], env=clean)
    assert any("modelkit.labserver" in ln and "enabled" in ln for ln in (out.stdout + out.stderr).splitlines())
