"""Every dataset of a run's HDF5 outputs, for comparing two runs file by file (shared by the NEURON tests)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def h5_datasets(folder: Path) -> dict[str, np.ndarray]:
    """``"<file>:<dataset path>"`` -> its values, for every ``*.h5`` file directly in ``folder``."""
    out: dict[str, np.ndarray] = {}
    for f in sorted(folder.glob("*.h5")):
        with h5py.File(f) as h:
            h.visititems(lambda k, o, f=f: out.__setitem__(f"{f.name}:{k}", o[()]) if isinstance(o, h5py.Dataset)
                         else None)
    return out
