"""bmtk-style connection callables: binding their parameters by position, and telling whether one keeps state.

:class:`~modelkit.builder.connectors.PairCallable` calls a user's ``f(source, target, **params)`` once per pair;
:func:`positional` binds ``params`` so that no keyword dict is built per call, and :func:`stateless` decides
whether the calls may run on worker processes (a function that keeps state between calls must run in order, in
one process, to give bmtk's numbers).
"""

from __future__ import annotations

import dis
import inspect
import types
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

__all__ = ["positional", "stateless", "plain_value"]

_SENTINEL_A, _SENTINEL_B = object(), object()


def positional(f: Callable[..., Any], params: dict) -> tuple[Callable[..., Any], tuple]:
    """``(g, extra)`` such that ``g(a, b, *extra)`` binds every argument as ``f(a, b, **params)`` does.

    The values go by position when the signature takes each of them, in order, right
    after the two nodes (plain positional-or-keyword parameters); otherwise ``g`` is
    ``partial(f, **params)`` (keywords still, merged in C).
    """
    if not params:
        return f, ()
    try:
        ba = inspect.signature(f).bind(_SENTINEL_A, _SENTINEL_B, **params)
    except (TypeError, ValueError):
        return partial(f, **params), ()
    if not ba.kwargs and len(ba.args) == 2 + len(params) and ba.args[0] is _SENTINEL_A \
            and ba.args[1] is _SENTINEL_B:
        return f, tuple(ba.args[2:])
    return partial(f, **params), ()


_SAFE_SCALARS = (int, float, complex, str, bytes, bool, type(None), np.generic, range, slice)
_STORE_OPS = frozenset({"STORE_GLOBAL", "DELETE_GLOBAL"})


def _global_rng_method(v: Any) -> bool:
    """A method of numpy's global RandomState or of Python's hidden global ``random.Random``."""
    import random as _random
    owner = getattr(v, "__self__", None)
    return owner is not None and (owner is np.random.mtrand._rand or owner is getattr(_random, "_inst", None))


def plain_value(v: Any, depth: int) -> bool:
    """Whether a value a function reads (a global, a closure cell, a default) holds no state of its own."""
    if isinstance(v, _SAFE_SCALARS) or isinstance(v, types.ModuleType) or isinstance(v, type):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype != object
    if isinstance(v, (tuple, frozenset)):
        return depth < 3 and all(plain_value(x, depth + 1) for x in v)
    if isinstance(v, types.FunctionType):
        return stateless(v, depth + 1)
    if isinstance(v, types.BuiltinFunctionType):
        owner = getattr(v, "__self__", None)
        return owner is None or isinstance(owner, types.ModuleType) or _global_rng_method(v)
    if isinstance(v, np.ufunc):
        return True
    return False


def stateless(f: Any, depth: int) -> bool:
    """Whether a Python function keeps no state between calls apart from the global generators."""
    if depth > 3 or not isinstance(f, types.FunctionType):
        return False
    codes = [f.__code__]
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        for ins in dis.get_instructions(code):
            if ins.opname in _STORE_OPS or (ins.opname in ("STORE_DEREF", "DELETE_DEREF")
                                            and ins.argval in code.co_freevars):
                return False
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    g = f.__globals__
    for nm in names:  # globals read (co_names also holds attribute names: those absent here are skipped)
        if nm in g and not plain_value(g[nm], depth):
            return False
    for cell in f.__closure__ or ():
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if not plain_value(v, depth):
            return False
    return all(plain_value(v, depth) for v in (f.__defaults__ or ())) and \
        all(plain_value(v, depth) for v in (f.__kwdefaults__ or {}).values())
