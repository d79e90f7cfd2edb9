"""Package attributes that import their module on first use (PEP 562), for ``modelkit`` and ``modelkit.widgets``.

A leaf module: it imports nothing from modelkit.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["lazy_attribute"]


def lazy_attribute(package: str, where: Mapping[str, str], namespace: dict[str, Any], name: str) -> Any:
    """A package's ``__getattr__``: import ``where[name]``, keep its ``name`` in ``namespace`` and return it.

    Parameters
    ----------
    package : str
        The package's name, for the AttributeError.
    where : mapping of str to str
        Attribute name -> module that defines it.
    namespace : dict
        The package's ``globals()``: the attribute is stored there, so the next access does not come here.
    name : str
        The attribute asked for.

    Raises
    ------
    AttributeError
        ``name`` is not in ``where``.
    """
    if name in where:
        value = getattr(importlib.import_module(where[name]), name)
        namespace[name] = value
        return value
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
