"""modelkit: build, simulate and analyze large-scale neural network models in SONATA.

Examples
--------
>>> import modelkit
>>> net = modelkit.load("circuit_config.json")          # doctest: +SKIP
>>> net.nodes["v1"].get(["model_type", "x", "y", "z"])   # doctest: +SKIP
>>> result = modelkit.simulate("config.simulation.json")  # doctest: +SKIP
>>> modelkit.SpikeTable.from_config("config.simulation.json").rates(by="pop_name")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from modelkit._lazy import lazy_attribute
from modelkit._typing import PathLike
from modelkit.errors import ModelkitError
from modelkit.options import get_options as get_options  # noqa: PLC0414 - importable, not in __all__
from modelkit.options import set_options
from modelkit.sonata import Network, load_config
from modelkit.sonata import Selection as Selection  # noqa: PLC0414 - importable, not in __all__

__version__ = "0.1.0"

__all__ = ["NetworkBuilder", "Network", "load", "load_config", "validate", "simulate", "SpikeTable", "set_options",
           "ModelkitError", "__version__"]

#: front-door names whose modules load on first use (the builder pulls in scipy, simulate the simulator layer)
_LAZY = {"NetworkBuilder": "modelkit.builder", "simulate": "modelkit.simulator", "SpikeTable": "modelkit.analysis"}


def __getattr__(name: str) -> Any:
    return lazy_attribute("modelkit", _LAZY, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load(path: PathLike) -> Network:
    """Load a SONATA network from a circuit/simulation config, a folder of SONATA files, or one h5 file.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    Network

    Raises
    ------
    ModelkitError
        Any malformed or missing input, naming the file and key.
    """
    return Network.load(path)


def validate(path: PathLike) -> list[Any]:
    """Every problem of a config, network folder or SONATA file, and, for a simulation config, what ``simulate``
    would refuse (node ids and node sets inputs and reports name, models and a dt the simulator refuses, an
    output folder blocked by a file, spikes of unknown node ids as warnings).

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    list of modelkit.sonata.validate.Problem
        Empty when the input is valid; ``severity == "warning"`` for input that is read anyway.
    """
    import os

    from modelkit.sonata import validate as validate_files
    problems = validate_files(path)
    if os.fspath(path).lower().endswith(".json"):
        from modelkit.simulator.checks import validate_run
        seen = {(p.path, p.key) for p in problems}
        problems += [p for p in validate_run(path) if p.key is None or (p.path, p.key) not in seen]
    return problems
