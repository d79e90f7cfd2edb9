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

from modelkit.errors import ModelkitError
from modelkit.options import get_options as get_options  # noqa: PLC0414 - importable, not in __all__
from modelkit.options import set_options
from modelkit.sonata import Network, load_config, validate
from modelkit.sonata import Selection as Selection  # noqa: PLC0414 - importable, not in __all__

__version__ = "0.1.0"

__all__ = ["NetworkBuilder", "Network", "load", "load_config", "validate", "simulate", "SpikeTable", "set_options",
           "ModelkitError", "__version__"]

#: front-door names whose modules load on first use (the builder pulls in scipy, simulate the simulator layer)
_LAZY = {"NetworkBuilder": "modelkit.builder", "simulate": "modelkit.simulator", "SpikeTable": "modelkit.analysis"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modelkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load(path: Any) -> Network:
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
