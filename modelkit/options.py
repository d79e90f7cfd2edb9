"""Runtime knobs: ``set_options()`` / ``get_options()``.  Leaf module.

Examples
--------
>>> import modelkit
>>> with modelkit.set_options(hyperslab_bytes=1 << 24):
...     pass
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["set_options", "get_options", "OPTIONS"]

OPTIONS: dict[str, Any] = {
    # largest read done in one HDF5 call when streaming big edge sets (bytes)
    "hyperslab_bytes": 64 << 20,
    # show tqdm progress bars in long operations
    "progress": True,
    # ranges closer than this many rows are read in one hyperslab
    "coalesce_gap": 4096,
    # population-level arrays (type/group ids) are cached for populations up to this size
    "cache_rows": 5_000_000,
    # unit of current-clamp amplitudes (amp, CSV amps, NWB sweeps) where an input does not name one with
    # ``amp_units``: None = each backend's reading (NEST: pA, as bmtk hands amp to NEST unchanged; NEURON: nA)
    "clamp_units": None,
}


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


_VALIDATORS: dict[str, Callable[[Any], bool]] = {
    "hyperslab_bytes": _positive_int,
    "progress": lambda v: isinstance(v, bool),
    "coalesce_gap": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "cache_rows": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "clamp_units": lambda v: v is None or v in ("nA", "pA"),
}


class set_options:
    """Set modelkit options globally, or for a ``with`` block.

    Parameters
    ----------
    hyperslab_bytes : int
        Largest single HDF5 read when streaming (bytes). Default 64 MiB.
    progress : bool
        Show progress bars. Default True.
    coalesce_gap : int
        Row ranges closer than this are read in one hyperslab. Default 4096.
    cache_rows : int
        Population-level arrays are kept in memory for populations up to this many
        elements. Default 5,000,000.
    clamp_units : {None, "nA", "pA"}
        Unit of current-clamp amplitudes for inputs that do not say (``amp_units``). Default None: each
        backend's reading, pA in NEST (bmtk passes ``amp`` to NEST unchanged, so PointNet configs are
        tuned in pA) and nA in NEURON (SONATA's unit). ``"nA"`` reads every clamp as SONATA says.

    Raises
    ------
    ValueError
        Unknown option name or invalid value.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.old: dict[str, Any] = {}
        for k, v in kwargs.items():
            if k not in OPTIONS:
                raise ValueError(f"unknown option {k!r}; known: {sorted(OPTIONS)}")
            if not _VALIDATORS[k](v):
                raise ValueError(f"invalid value {v!r} for option {k!r}")
            self.old[k] = OPTIONS[k]
        OPTIONS.update(kwargs)

    def __enter__(self) -> "set_options":
        return self

    def __exit__(self, *exc: object) -> None:
        OPTIONS.update(self.old)


def get_options() -> dict[str, Any]:
    """Return a copy of the current options."""
    return dict(OPTIONS)
