"""modelkit: build, simulate and analyze large-scale neural network models in SONATA.

Examples
--------
>>> import modelkit
>>> net = modelkit.load("circuit_config.json")          # doctest: +SKIP
>>> net.nodes["v1"].get(["model_type", "x", "y", "z"])   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from modelkit.errors import ModelkitError
from modelkit.options import get_options, set_options
from modelkit.sonata import Network, Selection, load_config, validate

__version__ = "0.1.0"

__all__ = ["Network", "Selection", "load", "load_config", "validate", "set_options", "get_options",
           "ModelkitError", "__version__"]


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
