"""Selection: a sorted set of ids stored as half-open ranges."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from modelkit._typing import ArrayLike, DTypeLike

__all__ = ["Selection"]


def _ranges_from_sorted_unique(v: np.ndarray) -> np.ndarray:
    if v.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    brk = np.flatnonzero(np.diff(v) != 1) + 1
    starts = v[np.concatenate(([0], brk))]
    stops = v[np.concatenate((brk - 1, [v.size - 1]))] + 1
    return np.stack([starts, stops], axis=1).astype(np.int64, copy=False)


class Selection:
    """A sorted, duplicate-free set of non-negative ids held as ``[start, stop)`` ranges.

    Node and edge queries return a Selection; it is cheap for contiguous blocks
    (``Selection.from_ranges([(0, 10**8)])`` holds two numbers).

    Parameters
    ----------
    ranges : array_like of shape (n, 2)
        Half-open ``[start, stop)`` ranges; they are sorted and merged.

    Examples
    --------
    >>> s = Selection.from_values([5, 1, 2, 3, 3])
    >>> s.ranges.tolist()
    [[1, 4], [5, 6]]
    >>> s.flat.tolist()
    [1, 2, 3, 5]
    >>> len(s)
    4
    """

    __slots__ = ("_ranges",)

    def __init__(self, ranges: ArrayLike = ()) -> None:
        r = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
        self._ranges = _normalize(r)

    @classmethod
    def from_values(cls, values: Iterable[int] | np.ndarray) -> "Selection":
        """Selection of the given ids (any order, repeats allowed).

        Parameters
        ----------
        values : iterable of int
            Ids, any order, repeats allowed.
        """
        v = np.asarray(values if not isinstance(values, range) else np.arange(values.start, values.stop,
                                                                                values.step))
        if v.size and v.dtype.kind not in "iu":
            if v.dtype.kind == "f" and np.all(v == np.round(v)):
                v = v.astype(np.int64)
            else:
                raise TypeError(f"ids must be integers, got dtype {v.dtype}")
        v = np.unique(v.astype(np.int64, copy=False).ravel())
        if v.size and v[0] < 0:
            raise ValueError(f"ids must be non-negative, got {v[0]}")
        s = cls.__new__(cls)
        s._ranges = _ranges_from_sorted_unique(v)
        return s

    @classmethod
    def _from_rows(cls, r: np.ndarray) -> "Selection":
        """From an ``(n, 2)`` int64 array (copied): one range takes a fast path, more are normalised."""
        s = cls.__new__(cls)
        if len(r) == 1:
            a, b = r[0].tolist()
            if a < 0:
                raise ValueError("ids must be non-negative")
            if b < a:
                raise ValueError("range stop before start")
            s._ranges = np.array(r, dtype=np.int64) if b > a else np.empty((0, 2), dtype=np.int64)
        elif len(r) and r[0, 0] >= 0 and (r[:, 1] > r[:, 0]).all() and (r[1:, 0] > r[:-1, 1]).all():
            s._ranges = np.array(r, dtype=np.int64)  # already sorted, disjoint, not adjacent (an index's rows)
        else:
            r = _normalize(np.asarray(r, dtype=np.int64).reshape(-1, 2))
            s._ranges = r.copy() if r.base is not None else r
        return s

    @classmethod
    def from_ranges(cls, ranges: ArrayLike) -> "Selection":
        """Selection of the union of ``[start, stop)`` ranges.

        Parameters
        ----------
        ranges : array-like
            ``[start, stop)`` pairs, shape (n, 2); overlapping or unsorted ones are merged.
        """
        return cls(ranges)

    @classmethod
    def all(cls, n: int) -> "Selection":
        """Selection of ``0 .. n-1``.

        Parameters
        ----------
        n : int
            Population size.
        """
        return cls([(0, n)] if n > 0 else [])

    @property
    def ranges(self) -> np.ndarray:
        """The ranges as an ``(n, 2)`` int64 array (read-only view)."""
        r = self._ranges.view()
        r.flags.writeable = False
        return r

    @property
    def flat(self) -> np.ndarray:
        """All ids as a sorted int64 array."""
        r = self._ranges
        if len(r) == 0:
            return np.empty(0, dtype=np.int64)
        if len(r) == 1:
            return np.arange(r[0, 0], r[0, 1], dtype=np.int64)
        lens = r[:, 1] - r[:, 0]
        offs = np.repeat(r[:, 0] - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
        return offs + np.arange(lens.sum(), dtype=np.int64)

    def __array__(self, dtype: DTypeLike | None = None, copy: Any = None) -> np.ndarray:
        a = self.flat
        return a if dtype is None else a.astype(dtype)

    def __len__(self) -> int:
        return int((self._ranges[:, 1] - self._ranges[:, 0]).sum())

    @property
    def size(self) -> int:
        """Number of ids."""
        return len(self)

    def __bool__(self) -> bool:
        return len(self._ranges) > 0

    def __iter__(self):
        return iter(self.flat.tolist())

    def __contains__(self, i: object) -> bool:
        if not isinstance(i, (int, np.integer)):
            return False
        k = np.searchsorted(self._ranges[:, 0], int(i), side="right") - 1
        return bool(k >= 0 and i < self._ranges[k, 1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selection):
            return NotImplemented
        return np.array_equal(self._ranges, other._ranges)

    def __hash__(self) -> int:
        return hash(self._ranges.tobytes())

    def __or__(self, other: "Selection") -> "Selection":
        return Selection(np.concatenate([self._ranges, other._ranges]))

    def __and__(self, other: "Selection") -> "Selection":
        return Selection.from_values(np.intersect1d(self.flat, other.flat, assume_unique=True))

    def __sub__(self, other: "Selection") -> "Selection":
        return Selection.from_values(np.setdiff1d(self.flat, other.flat, assume_unique=True))

    def __repr__(self) -> str:
        r = self._ranges
        shown = ", ".join(f"[{a}, {b})" for a, b in r[:4].tolist())
        more = f", ... ({len(r)} ranges)" if len(r) > 4 else ""
        return f"Selection({len(self)} ids: {shown}{more})"

    def __getstate__(self):
        return self._ranges

    def __setstate__(self, state):
        self._ranges = state


def _normalize(r: np.ndarray) -> np.ndarray:
    if len(r) == 0:
        return np.empty((0, 2), dtype=np.int64)
    if (r[:, 0] < 0).any():
        raise ValueError("ids must be non-negative")
    if (r[:, 1] < r[:, 0]).any():
        raise ValueError("range stop before start")
    r = r[r[:, 1] > r[:, 0]]
    if len(r) == 0:
        return np.empty((0, 2), dtype=np.int64)
    sorted_ok = len(r) == 1 or bool(np.all(r[1:, 0] > r[:-1, 1]))
    if sorted_ok:
        return np.ascontiguousarray(r)
    r = r[np.argsort(r[:, 0], kind="stable")]
    ends = np.maximum.accumulate(r[:, 1])
    # a new block starts where the range begins after everything before it has ended
    new = np.concatenate(([True], r[1:, 0] > ends[:-1]))
    first = np.flatnonzero(new)
    last = np.concatenate((first[1:] - 1, [len(r) - 1]))
    return np.stack([r[first, 0], ends[last]], axis=1)
