"""NEST's model names for the builder's pickers, read in a child process and cached on disk.

Importing NEST in the notebook kernel would leave NEST state there (the kernel must never hold
simulator state: re-running a cell must start clean), so the names come from a short-lived
``python -c "import nest ..."`` and are cached per NEST version under ``$XDG_CACHE_HOME/modelkit``
(``~/.cache/modelkit``) and in memory.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from typing import Any

from modelkit.errors import BackendUnavailableError

__all__ = ["nest_models"]

_SCRIPT = """
import json, nest
neurons = [m for m in nest.node_models if nest.GetDefaults(m).get("element_type") == "neuron"]
print("MODELKIT-NEST-MODELS " + json.dumps({"neuron": sorted(neurons), "synapse": sorted(nest.synapse_models)}))
"""


def _cache_file(name: str, version: str) -> str:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "modelkit", f"nest-{name}-{version}.json")


def _nest_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("nest-simulator")
    except PackageNotFoundError as e:
        raise BackendUnavailableError("NEST is not installed, so there is no model list: pip install "
                                      "nest-simulator") from e


def _child_json(script: str, name: str, version: str, timeout: float, what: str) -> Any:
    """The JSON that ``python -c script`` prints after ``MODELKIT-NEST-<NAME> ``, cached on disk per NEST version.

    ``what`` ("listing NEST's models") starts the :class:`BackendUnavailableError` when the child takes more
    than ``timeout`` seconds or fails; the cache file is written whole or not at all (renamed into place).
    """
    path = _cache_file(name, version)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise BackendUnavailableError(f"{what}: `import nest` took more than {timeout:g} s") from e
    marker = f"MODELKIT-NEST-{name.upper()} "
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(marker)), None)
    if proc.returncode != 0 or line is None:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise BackendUnavailableError(f"{what} failed (exit code {proc.returncode}):\n{tail}")
    data = json.loads(line.split(" ", 1)[1])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)
    return data


@functools.lru_cache(maxsize=None)
def _read(version: str, timeout: float) -> dict[str, tuple[str, ...]]:
    data = _child_json(_SCRIPT, "models", version, timeout, "listing NEST's models")
    return {k: tuple(v) for k, v in data.items()}


def nest_models(kind: str = "neuron", *, timeout: float = 120.0) -> tuple[str, ...]:
    """Names of NEST's neuron (or synapse) models, without importing NEST in this process.

    Parameters
    ----------
    kind : {"neuron", "synapse"}
    timeout : float
        Seconds the child process may take (s).

    Returns
    -------
    tuple of str
        Sorted model names (``"iaf_psc_alpha"``, ...); use them as ``model_template="nest:<name>"``.

    Raises
    ------
    BackendUnavailableError
        NEST is not installed or could not be imported (the message quotes the child's error).
    ValueError
        ``kind`` is neither "neuron" nor "synapse".

    Examples
    --------
    >>> "iaf_psc_alpha" in nest_models()          # doctest: +SKIP
    True
    """
    if kind not in ("neuron", "synapse"):
        raise ValueError(f"nest_models(kind): expected 'neuron' or 'synapse', got {kind!r}")
    return _read(_nest_version(), float(timeout))[kind]
