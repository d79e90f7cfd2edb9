"""``python -m modelkit run CONFIG`` as a child process that signals reach as they reach a shell's job
(imported by name by the signal tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _default_signals() -> None:
    # a test run started in the background (`make test &`) inherits SIGINT ignored (Python then installs no
    # KeyboardInterrupt handler), under nohup SIGHUP too: give the child the dispositions a terminal gives
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def run_cli(cfg: Path) -> subprocess.Popen:
    """Start ``modelkit run cfg`` (stdout and stderr together) with this checkout on ``PYTHONPATH``."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "modelkit", "run", str(cfg)], cwd=cfg.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_default_signals)
