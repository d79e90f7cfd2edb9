"""Jupyter server extension: thin, authenticated REST handlers over modelkit's public API.

Routes (under the server's ``base_url``), every verb ``@tornado.web.authenticated``; file paths are
relative to the server root and never leave it (see :mod:`modelkit.labserver.paths`):

``GET  modelkit/info?path=``         populations, counts, node-types tables, edge populations, problems
``GET  modelkit/preview?path=``      raster (spikes) or traces (report) as JSON arrays, or ``&format=png``
``POST modelkit/notebook``           ``{"path"}``: a new notebook that loads (and simulates) the file
``GET  modelkit/runs``               runs started from this server's kernels (:mod:`modelkit.runstatus`)
``POST modelkit/runs/stop``          ``{"run_id"}``: stop a running run of this user on this host
``POST modelkit/runs/clear``         ``{"run_id"?}``: forget the runs that are over (all, or one)
``GET  modelkit/runs/output?run_id=`` a finished run's output folder and spikes file (Open output)
``GET|POST modelkit/tutorials``      the tutorial notebooks; POST copies them into the server root

Installed with the package and enabled by ``etc/jupyter/jupyter_server_config.d/modelkit.json``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "modelkit.labserver"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "modelkit-jupyterlab"}]  # modelkit/labserver/labextension


def _runs_folder(serverapp: Any) -> str:
    """This server's status folder; kernels started later inherit it through the environment."""
    from modelkit.runstatus import ENV
    folder = os.environ.get(ENV)
    if not folder:
        folder = os.path.join(serverapp.runtime_dir, f"modelkit-runs-{os.getpid()}")
        os.environ[ENV] = folder
    os.makedirs(folder, exist_ok=True)
    return folder


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from modelkit.labserver.handlers import setup_handlers
    folder = _runs_folder(serverapp)
    setup_handlers(serverapp.web_app, runs_dir=folder)
    serverapp.log.info("modelkit server extension loaded (runs recorded in %s)", folder)
