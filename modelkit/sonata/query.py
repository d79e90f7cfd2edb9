"""Property rules of node sets and queries, evaluated as vectorised masks.

A rule maps an attribute name to a value (equality), a list (any of), or one
operator ``{"$gt"|"$lt"|"$gte"|"$lte": number}`` / ``{"$regex": pattern}``.
``$regex`` is an unanchored search, as libsonata does, run by RE2 (linear time in
the text: a pattern such as ``(a+)+$`` cannot backtrack for ever) and at most
:data:`MAX_PATTERN` characters long.  Back-references and look-arounds, which
need backtracking, are refused.  An attribute absent from a population matches
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import re2

__all__ = ["OPERATORS", "MAX_PATTERN", "rule_mask", "check_rule_value", "compile_regex"]

OPERATORS = ("$gt", "$lt", "$gte", "$lte", "$regex")
#: longest ``$regex`` pattern accepted, in characters
MAX_PATTERN = 1000
#: RE2's memory budget for one compiled pattern (bytes): a pattern whose automaton needs more is refused
_RE2_MAX_MEM = 32 << 20
_CMP: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "$gt": np.greater, "$lt": np.less, "$gte": np.greater_equal, "$lte": np.less_equal,
}


def check_rule_value(value: object) -> str | None:
    """Return an error description if ``value`` is not a valid rule value, else None.

    Parameters
    ----------
    value : object
        A rule value from a node-set definition or ``select(**rules)``.
    """
    if value is None:
        return "a number, string, boolean, list of them, or one $-operator (null is not allowed)"
    if isinstance(value, Mapping):
        if len(value) != 1:
            return f"exactly one operator of {OPERATORS}"
        (op, arg), = value.items()
        if op not in OPERATORS:
            return f"an operator among {OPERATORS}"
        if op == "$regex":
            if not isinstance(arg, str):
                return "a string pattern for $regex"
            try:
                compile_regex(arg)
            except ValueError as e:
                return str(e)
        elif isinstance(arg, bool) or not isinstance(arg, (int, float)):
            return f"a number for {op}"
        elif isinstance(arg, int) and not -1e308 < arg < 1e308:
            return f"a number for {op} within the float range"
        return None
    if isinstance(value, list):
        for v in value:
            if isinstance(v, (list, dict)) or v is None:
                return "a list of numbers, strings or booleans"
        return None
    if not isinstance(value, (int, float, str, bool)):
        return "a number, string or boolean"
    return None


def compile_regex(pattern: str) -> Any:
    """Compile a user ``$regex`` with RE2, whose matching time is linear in the text.

    Parameters
    ----------
    pattern : str
        At most :data:`MAX_PATTERN` characters, RE2 syntax (Python's ``re`` without
        back-references and look-arounds).

    Returns
    -------
    re2 pattern object
        With ``.search(text)``.

    Raises
    ------
    ValueError
        Too long, invalid, or needing a backtracking engine; the message says which
        (callers turn it into a NodeSetError / SelectionError naming the file and key).
    """
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"a $regex pattern of at most {MAX_PATTERN} characters (found {len(pattern)})")
    opts = re2.Options()
    opts.log_errors = False  # RE2 would print every rejected pattern on stderr
    opts.max_mem = _RE2_MAX_MEM
    try:
        return re2.compile(pattern, opts)
    except re2.error as e:
        msg = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ValueError(f"a valid regular expression without back-references or look-arounds "
                         f"(RE2 syntax: {msg})") from e


def _numeric_view(col: np.ndarray) -> np.ndarray:
    """Float view of a column; strings that are not numbers become NaN."""
    if col.dtype.kind in "biuf":
        return col.astype(np.float64, copy=False)
    return pd.to_numeric(pd.Series(col, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def _eq(col: np.ndarray, v: Any) -> np.ndarray:
    if isinstance(v, bool):
        v = int(v)
    if col.dtype.kind in "biuf":
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                return np.zeros(len(col), dtype=bool)
        return col == v
    # object column: strings (and None)
    if isinstance(v, str):
        return np.asarray(col == v, dtype=bool)
    return _numeric_view(col) == v


def rule_mask(col: np.ndarray, value: object) -> np.ndarray:
    """Boolean mask of the elements of ``col`` that satisfy one rule value.

    Parameters
    ----------
    col : ndarray
        One attribute, one value per node.
    value : object
        A value, a list of values, or an operator dict (``{"$gt": 3}``).
    """
    if isinstance(value, Mapping):
        (op, arg), = value.items()
        if op == "$regex":
            if col.dtype.kind != "O":
                return np.zeros(len(col), dtype=bool)
            s = pd.Series(col, dtype=object)
            isstr = s.map(lambda x: isinstance(x, str)).to_numpy(dtype=bool)
            out = np.zeros(len(col), dtype=bool)
            if isstr.any():
                search = compile_regex(arg).search
                out[isstr] = [search(v) is not None for v in col[isstr]]
            return out
        num = _numeric_view(col)
        with np.errstate(invalid="ignore"):
            return _CMP[op](num, float(arg)) & ~np.isnan(num)
    if isinstance(value, list):
        mask = np.zeros(len(col), dtype=bool)
        for v in value:
            mask |= _eq(col, v)
        return mask
    return _eq(col, value)
