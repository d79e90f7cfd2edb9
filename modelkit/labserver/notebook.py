""""Open in notebook": a new notebook with the code that loads (and simulates) one SONATA file."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from typing import Any

__all__ = ["notebook_cells", "write_new_notebook"]


def _md(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": text, "execution_count": None, "outputs": []}


def notebook_cells(kind: str | None, rel: str, shown: str) -> list[dict[str, Any]]:
    """Cells for a file of ``kind`` (as :func:`~modelkit.sonata.describe.describe` names it).

    Parameters
    ----------
    kind : str or None
        ``simulation_config``, ``circuit_config``, ``nodes``, ``edges``, ``folder``, ``spikes`` or ``report``.
    rel : str
        The file's path relative to the notebook's folder (the kernel's working directory).
    shown : str
        The file's path as the user sees it (relative to the server root).
    """
    src = json.dumps(rel)
    cells = [_md(f"# {os.path.basename(shown) or shown}\n\nMade by the modelkit SONATA viewer from "
                 f"`{shown}`. Run all cells (*Run > Run All Cells*).")]
    if kind == "spikes":
        cells += [
            _code(f"import modelkit\nfrom modelkit.plotting import plot_raster\n\npath = {src}\n"
                  "spikes = modelkit.SpikeTable.read(path)\nspikes"),
            _code("plot_raster(path);"),
        ]
    elif kind == "report":
        cells += [
            _code(f"from modelkit.analysis import read_traces\nfrom modelkit.plotting import plot_traces\n\n"
                  f"path = {src}\ntraces = read_traces(path)\ntraces"),
            _code("plot_traces(path);"),
        ]
    elif kind == "simulation_config":
        cells += [
            _code(f"import modelkit\n\nconfig = {src}\nnet = modelkit.load(config)\nnet"),
            _md("Problems the validator finds (an empty list: none)."),
            _code("[p.to_dict() for p in modelkit.validate(config)]"),
            _md("Simulate into a new folder next to this notebook, so existing outputs stay untouched. "
                "The run appears in the *modelkit runs* sidebar while it goes on."),
            _code("import time\n\noutput_dir = f\"runs/{time.strftime('%Y%m%d-%H%M%S')}\"\n"
                  "result = modelkit.simulate(config, output_dir=output_dir)\nresult.rates()"),
            _code("from modelkit.plotting import plot_raster\n\nplot_raster(result, config_file=config);"),
        ]
    else:
        cells += [
            _code(f"import modelkit\n\nnet = modelkit.load({src})\nnet"),
            _md("Node types of each population, and the problems the validator finds (an empty list: none)."),
            _code("for name, pop in net.nodes.items():\n    display(name, pop.node_types)"),
            _code(f"[p.to_dict() for p in modelkit.validate({src})]"),
        ]
    return cells


def _notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                        "language": "python"},
                         "language_info": {"name": "python"}},
            "cells": [dict(c, id=secrets.token_hex(4)) for c in cells]}


def write_new_notebook(folder: str, stem: str, cells: list[dict[str, Any]], *, attempts: int = 1000) -> str:
    """Write a notebook as ``<stem>.ipynb`` in ``folder`` (``<stem>-1.ipynb``, ... if taken); never overwrites.

    The notebook is written to a temporary file and linked to its name, which fails if the name
    exists, so two concurrent requests cannot clobber each other or an existing notebook.

    Parameters
    ----------
    folder : str
        Folder to write into.
    stem : str
        File name without ``.ipynb``.
    cells : list of dict[str, Any]
        nbformat cells.
    attempts : int, optional
        Names tried before giving up.

    Returns
    -------
    str
        The notebook's path: ``folder`` joined with the name taken.

    Raises
    ------
    PermissionError
        ``folder`` is not writable.
    FileExistsError
        ``attempts`` names were all taken.
    """
    data = json.dumps(_notebook(cells), indent=1) + "\n"
    tmp = os.path.join(folder, f".{stem}.{secrets.token_hex(6)}.ipynb.tmp")
    with open(tmp, "x") as f:
        f.write(data)
    try:
        for k in range(attempts):
            target = os.path.join(folder, f"{stem}.ipynb" if k == 0 else f"{stem}-{k}.ipynb")
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
            except OSError as e:  # a filesystem without hard links: exclusive create instead
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                    raise
                try:
                    with open(target, "x") as f:
                        f.write(data)
                    return target
                except FileExistsError:
                    continue
        raise FileExistsError(f"{folder}: {stem}.ipynb and {attempts - 1} numbered variants all exist")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
