"""Shared type aliases.  Leaf module."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Union

import numpy as np
import numpy.typing as npt

PathLike = Union[str, "os.PathLike[str]"]
IdArray = npt.NDArray[np.int64]
ArrayLike = npt.ArrayLike
#: node ids as a caller gives them: an int64 array or any sequence of ints
NodeIdsLike = Union[IdArray, "Sequence[int]"]
