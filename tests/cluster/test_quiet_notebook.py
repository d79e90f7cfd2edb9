"""In a notebook, the cluster's own messages and the engines' logs stay out of the cells.

ipyparallel gives a Cluster created in an IPython session a logger that prints INFO to stdout, and its
engines exited with status 1 when stopped (so their whole log, with a shutdown traceback, was logged as
a warning): the last cell of tutorial 04 printed 93 lines after a good run.  These tests run the cells
in a real kernel (nbclient), as a notebook does, and read what each cell showed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run_cells(sources: list[str], folder: Path, timeout: int = 300) -> list[list[dict]]:
    """Execute ``sources`` as the cells of one notebook in a fresh python3 kernel; each cell's outputs."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return [c.outputs for c in nb.cells]


def shown(outputs: list[dict]) -> list[str]:
    """What a cell showed, as text: streams, results and errors."""
    out = []
    for o in outputs:
        if o["output_type"] == "stream":
            out.append(f"{o['name']}: {o['text']}")
        elif o["output_type"] == "error":
            out.append(f"error: {o['ename']}: {o['evalue']}")
        else:
            out.append(f"{o['output_type']}: {o.get('data', {}).get('text/plain', '')}")
    return out


def test_start_run_and_stop_cluster_show_nothing_but_results(tmp_path):
    start, run, stop = run_cells([
        "from modelkit.cluster import run_on_cluster, start_cluster, stop_cluster\n"
        "from modelkit.datasets import balanced_network\n"
        "config = balanced_network('net', n_exc=80, n_inh=20, tstop=200.0)\n"
        "rc = start_cluster(1)",
        "run = run_on_cluster(config, cluster=rc, output_dir='out')\n"
        "run.wait(timeout=120)\n"
        "run.status",
        "stop_cluster(rc)\n"
        "import time; time.sleep(2)  # the cluster reports engines that exit a moment after the call",
    ], tmp_path)
    assert shown(start) == []  # no "Starting 1 engines with ...", no progress bar
    assert shown(run) == ["execute_result: 'done'"]
    assert shown(stop) == []  # no "Stopping controller", no engine log, no shutdown traceback


def test_an_engine_that_dies_is_still_reported(tmp_path):
    """Quiet is not blind: an engine killed by a signal shows its log on stderr."""
    start, kill, stop = run_cells([
        "import os\n"
        "from modelkit.cluster import start_cluster, stop_cluster\n"
        "rc = start_cluster(1)\n"
        "pid = rc[:].apply_sync(os.getpid)[0]",
        "import signal, time\n"
        "os.kill(pid, signal.SIGKILL)\n"
        "time.sleep(4)",
        "stop_cluster(rc)",
    ], tmp_path)
    assert shown(start) == []
    text = "".join(shown(kill) + shown(stop))
    assert "stderr: " in text and "exit_code" in text and "SIGKILL" in text
