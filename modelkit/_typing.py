"""Shared type aliases.  Leaf module: it imports nothing from modelkit, so any layer may use it.

Annotate with these rather than ``Any`` so a signature says what it takes::

    def read_spikes(path: PathLike, ...) -> ...
    def afferent_edges(self, node_ids: IdsLike) -> Selection
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt

#: a file or folder name: a ``str`` or a ``pathlib.Path`` (anything ``os.fspath`` takes that gives text)
PathLike = Union[str, "os.PathLike[str]"]
#: node or edge ids as modelkit returns them: a 1-D int64 array
IdArray = npt.NDArray[np.int64]
#: anything numpy turns into an array (a list, a tuple, an array, a scalar)
ArrayLike = npt.ArrayLike
#: node ids as a caller gives them: an int64 array or any sequence of ints
NodeIdsLike = Union[IdArray, "Sequence[int]"]
#: ids as a caller may give them: an int, a list or range of ints, an int array, or a
#: ``modelkit.sonata.Selection`` (it has ``__array__``); readers take ``None`` for "all" where they say so
IdsLike = npt.ArrayLike
#: a node-set reference as written in a config: a name in the node-sets file (or a population name), an inline
#: rule mapping (``{"population": "v1", "ei": "e"}``), an id, or a list of ids, names or mappings
NodeSetRef = Union[str, int, Mapping[str, Any], Sequence[Any]]
#: a parsed JSON object (a config, a node-sets file, a summary): text keys, JSON values
JsonDict = dict[str, Any]
#: a ``numpy.dtype`` or anything that names one (``np.float32``, ``"f4"``)
DTypeLike = npt.DTypeLike
