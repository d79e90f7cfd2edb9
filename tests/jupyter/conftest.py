"""pytest-jupyter's server fixtures, for this folder only.

``pytest_plugins`` is refused outside the root conftest, and loading the plugin for the whole suite
would put its autouse fixtures (a fresh asyncio loop, ServerApp cleanup) around every simulator test.
So its fixtures and hooks are registered here, where a conftest's hooks and fixtures apply to this
folder alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_jupyter.jupyter_server as _jps

from modelkit.runstatus import ENV

_PREFIXES = ("jp_", "http_server", "io_loop", "send_request", "echo_kernel_spec", "pytest_pycollect_makeitem",
             "pytest_pyfunc_call")
globals().update({k: getattr(_jps, k) for k in dir(_jps) if k.startswith(_PREFIXES)})


@pytest.fixture(autouse=True)
def _runs_env_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension points MODELKIT_RUNS_DIR at its server's folder; unset it again after each test."""
    monkeypatch.setenv(ENV, "unset")
    monkeypatch.delenv(ENV)


@pytest.fixture
def jp_server_config() -> dict:
    return {"ServerApp": {"jpserver_extensions": {"modelkit.labserver": True}}}


@pytest.fixture
def corpus_root(corpus: Path) -> Path:
    return corpus
