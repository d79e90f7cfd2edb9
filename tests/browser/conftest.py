"""Browser tests: a real JupyterLab server on loopback, driven by Playwright in Debian's headless Chromium.

Shared by every browser test (widgets, the JupyterLab extension). See /work/shared/PLATFORM.md:

* Chromium is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it); Playwright's own download is
  never used (``playwright install`` is never run);
* :class:`JupyterLab` starts ``python -m jupyterlab`` with a token, its own config/data/runtime/settings
  folders, nothing that phones home, the news toast off and ``window.jupyterapp`` exposed;
* a notebook is ready when the status bar says ``| Idle`` (the execution indicator says idle too early).

Fixtures: ``browser_type_launch_args`` (the Chromium override), ``lab_token``, ``lab_root`` (the server's
root folder), ``jupyter_lab`` (one server per session on ``lab_root``), ``artifacts`` (where screenshots go:
``test-artifacts/browser`` or ``$MODELKIT_ARTIFACTS``). A module that needs its own root or settings calls
:func:`start_lab` in its own fixture.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from _jupyter_lab import CHROMIUM, CHROMIUM_FLAGS, JupyterLab, start_lab


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Debian's chromium the browser tests cannot run: skip them, saying how to get it."""
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch arguments, pointed at Debian's chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def lab_token() -> str:
    return secrets.token_hex(16)


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session server's root folder (tests put their notebooks and data in subfolders)."""
    return tmp_path_factory.mktemp("labroot")


@pytest.fixture(scope="session")
def jupyter_lab(lab_root: Path, lab_token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """One JupyterLab server per test session (per xdist worker) on ``lab_root``."""
    lab = start_lab(lab_root, tmp_path_factory.mktemp("labstate"), token=lab_token)
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots kept after the run (``test-artifacts/browser`` or ``$MODELKIT_ARTIFACTS``)."""
    base = os.environ.get("MODELKIT_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
    d = Path(base) / "browser"
    d.mkdir(parents=True, exist_ok=True)
    return d
