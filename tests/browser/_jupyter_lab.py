"""JupyterLab servers for browser tests: start, talk to, stop (see conftest.py and /work/shared/PLATFORM.md).

Imported by name from the test modules (``from _jupyter_lab import ...``); the fixtures live in conftest.py.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: JupyterLab user settings every test server starts with: no news / update toast over the page
DEFAULT_SETTINGS = {"@jupyterlab/apputils-extension/notification":
                    {"fetchNews": "false", "checkForUpdates": False}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A running JupyterLab server (``url``, ``token``, ``root``, ``state`` folder with its log)."""

    def __init__(self, proc: subprocess.Popen, url: str, token: str, root: Path, state: Path) -> None:
        self.proc, self.url, self.token, self.root, self.state = proc, url, token, root, state

    def lab_url(self, path: str = "") -> str:
        """URL of the Lab UI, opening ``path`` (relative to the root) when given.

        ``reset`` starts from an empty workspace: the server is shared by a session's tests, and a restored
        notebook from an earlier test would otherwise sit (hidden) in front of the locators.
        """
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}" if path else \
            f"{self.url}/lab?reset&token={self.token}"

    def api(self, path: str) -> dict:
        """GET ``/<path>`` with the token; the decoded JSON."""
        sep = "&" if "?" in path else "?"
        with urllib.request.urlopen(f"{self.url}/{path.lstrip('/')}{sep}token={self.token}", timeout=10) as r:
            return json.loads(r.read())

    @property
    def log(self) -> str:
        return (self.state / "lab.log").read_text(errors="replace")

    def stop(self) -> None:
        """Terminate the server (kernels included) and wait for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_lab(root: Path, state: Path, *, token: str | None = None, settings: Mapping[str, dict] | None = None,
              env: Mapping[str, str] | None = None, args: Sequence[str] = (), timeout: float = 60.0) -> JupyterLab:
    """Start ``python -m jupyterlab`` on ``root`` with its state in ``state``; return when it answers.

    Parameters
    ----------
    root : Path
        The server's root folder (what the file browser shows).
    state : Path
        Config, data, runtime, settings and workspace folders, and ``lab.log``.
    token : str, optional
        Default: a random one.
    settings : mapping, optional
        ``{"<plugin id>": {...}}`` user settings written before the start (merged over DEFAULT_SETTINGS).
    env : mapping, optional
        Extra environment variables of the server (and its kernels).
    args : sequence of str
        Extra command-line options.
    """
    token = token or secrets.token_hex(16)
    for plugin, values in {**DEFAULT_SETTINGS, **(settings or {})}.items():
        f = state / "settings" / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    port = free_port()
    full_env = dict(os.environ, JUPYTER_CONFIG_DIR=str(state / "cfg"), JUPYTER_DATA_DIR=str(state / "data"),
                    JUPYTER_RUNTIME_DIR=str(state / "rt"), **(env or {}))
    with open(state / "lab.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             f"--LabApp.user_settings_dir={state / 'settings'}", f"--LabApp.workspaces_dir={state / 'ws'}",
             "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True", *args],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=state)
    lab = JupyterLab(proc, f"http://127.0.0.1:{port}", token, root, state)
    deadline = time.monotonic() + timeout
    while True:
        try:
            lab.api("api/status")
            return lab
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            lab.stop()
            raise RuntimeError(f"jupyter lab did not start within {timeout:g} s:\n{lab.log[-3000:]}")
        time.sleep(0.3)


def checkout_lab(tmp_path_factory, name: str) -> Iterator[JupyterLab]:
    """For a module fixture (``yield from``): :func:`start_lab` in fresh ``{name}root`` and ``{name}state`` folders
    with this checkout's modelkit in the kernels (``PYTHONPATH``), as the server extension (its own runs folder)
    and, when ``jlpm build`` has built it, as the lab extension (ahead of the venv's copy until reinstalled);
    stopped when the fixture ends."""
    repo = Path(__file__).resolve().parents[2]
    state = tmp_path_factory.mktemp(f"{name}state")
    env = {"MODELKIT_RUNS_DIR": "",  # the server extension makes its own runs folder
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    built = repo / "modelkit" / "labserver" / "labextension"
    if (built / "package.json").is_file():
        ext = state / "jpath" / "labextensions"
        ext.mkdir(parents=True)
        (ext / "modelkit-jupyterlab").symlink_to(built)
        env["JUPYTER_PATH"] = str(state / "jpath")
    lab = start_lab(tmp_path_factory.mktemp(f"{name}root"), state, env=env)
    try:
        yield lab
    finally:
        lab.stop()


def wait_kernel_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the notebook's kernel is started and idle (the status bar, not the execution indicator)."""
    from playwright.sync_api import expect
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=timeout_ms)


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """A Python 3 notebook of ``cells`` (code) at ``path`` (its folder made)."""
    import nbformat
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)
    return path


def open_notebook(page, lab: JupyterLab, path: str, *, width: int = 1400, height: int = 1000) -> None:
    """Open a notebook, wait for its kernel, and leave the first cell selected in command mode (Shift+Enter runs it)."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(lab.lab_url(path))
    wait_kernel_idle(page)
    page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Escape")
