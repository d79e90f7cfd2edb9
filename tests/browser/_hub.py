"""JupyterHub for browser tests: configurable-http-proxy from npm, a hub started and stopped by pid.

``configurable-http-proxy`` (npm, the proxy JupyterHub drives) is found on ``PATH`` or in
``$MODELKIT_NPM_PREFIX`` (default ``~/.cache/modelkit/npm``), where ``.ci/run`` installs it; when it is in
neither, :func:`find_proxy` installs it there with ``npm install --prefix`` (a few seconds).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from modelkit._process import pid_exists, zombie

#: the npm package and the major version checked (5.3 runs on Node 20 despite its EBADENGINE warning)
PROXY_PACKAGE = "configurable-http-proxy@5"


def npm_prefix() -> Path:
    return Path(os.environ.get("MODELKIT_NPM_PREFIX") or Path.home() / ".cache" / "modelkit" / "npm")


def find_proxy(install: bool = True) -> str | None:
    """Path of ``configurable-http-proxy``; installed into :func:`npm_prefix` when missing and npm is here."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    local = npm_prefix() / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    npm = shutil.which("npm")
    if not install or npm is None:
        return None
    prefix = npm_prefix()
    # npm's cache and logs too stay in the prefix (not ~/.npm)
    subprocess.run([npm, "install", "--prefix", str(prefix), "--cache", str(prefix / ".npm-cache"),
                    "--logs-dir", str(prefix / ".npm-logs"), "--no-audit", "--no-fund", "--loglevel=error",
                    PROXY_PACKAGE], check=False, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    return str(local) if local.exists() else None


def pid_alive(pid: int) -> bool:
    # a zombie is dead for our purpose (init reaps it)
    return pid_exists(pid) and not zombie(pid)


class Hub:
    """A running ``jupyterhub -f CONFIG`` in ``folder`` (its database, cookie secret, proxy pid file, log)."""

    def __init__(self, config: Path, folder: Path, url: str, env: dict[str, str] | None = None) -> None:
        self.folder, self.url = folder, url
        self.log_file = folder / "hub.log"
        with open(self.log_file, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=folder,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=dict(os.environ, **(env or {})), start_new_session=True)
        self.proxy_pid: int | None = None

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until ``/hub/api`` answers through the proxy; then note the proxy's pid."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyterhub did not start within {timeout:g} s:\n{self.log[-4000:]}")
            time.sleep(0.5)
        pid_file = self.folder / "jupyterhub-proxy.pid"
        if pid_file.exists():
            self.proxy_pid = int(pid_file.read_text().strip())

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM the hub (it stops the user servers and the proxy), SIGKILL what is left, by pid."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proxy_pid is not None and pid_alive(self.proxy_pid):
            deadline = time.monotonic() + 10
            while pid_alive(self.proxy_pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(self.proxy_pid):
                os.kill(self.proxy_pid, signal.SIGKILL)
