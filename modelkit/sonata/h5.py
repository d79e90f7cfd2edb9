"""HDF5 primitives: opening with clear errors, range reads, string rules, atomic writes.

Everything that touches h5py directly and is shared by nodes, edges, spikes and
reports lives here, so that every low-level failure is translated into a
:class:`~modelkit.errors.SonataFormatError` that names the file and dataset.

Parameters shared by the functions below:

path : str or PathLike
    The file, named in messages (it is not opened again).
parent : h5py.Group
    The group to look in; ``name`` is a link name in it.
ds : h5py.Dataset
    The dataset to read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import ModelkitError, OutputExistsError, SonataFormatError
from modelkit.options import OPTIONS
from modelkit.sonata.textfile import file_kind

__all__ = [
    "open_h5",
    "guard",
    "has",
    "require_group",
    "require_dataset",
    "check_storage",
    "read_ranges",
    "read_indices",
    "read_array",
    "as_ids",
    "atomic_output",
    "write_root_attrs",
    "SORTING_ENUM",
    "STR_DTYPE",
]

MAGIC = 0x0A7A
VERSION = np.array([0, 1], dtype=np.uint32)
#: SONATA spike ``sorting`` attribute: an HDF5 enum on int8 (as libsonata requires)
SORTING_ENUM = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="i1")
STR_DTYPE = h5py.string_dtype("utf-8")

# h5py and the HDF5 library raise a zoo of exception types on malformed files.
_LOW_LEVEL = (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError,
              AttributeError, OverflowError, MemoryError, UnicodeDecodeError, SystemError)


def open_h5(path: PathLike, kind: str = "SONATA HDF5 file") -> h5py.File:
    """Open an HDF5 file read-only.

    Parameters
    ----------
    path : str or PathLike
        The HDF5 file.
    kind : str, optional
        What the file should be, for messages.

    Raises
    ------
    SonataFormatError
        The file is missing, not a regular file (a FIFO would block the open, a device
        never end), unreadable or not HDF5.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise SonataFormatError(p, None, f"an existing {kind}", "no such file")
    if os.path.isdir(p):
        raise SonataFormatError(p, None, f"a {kind}", "a directory")
    try:
        mode = os.stat(p).st_mode
    except OSError as e:
        raise SonataFormatError(p, None, f"a readable {kind}", f"{type(e).__name__}: {e}") from e
    if not stat.S_ISREG(mode):
        raise SonataFormatError(p, None, f"a {kind} that is a regular file", file_kind(mode))
    from modelkit.sonata.h5links import check_external_targets
    check_external_targets(p)  # HDF5 would follow a link to a FIFO or device into a read that never ends
    try:
        return h5py.File(p, "r")
    except _LOW_LEVEL as e:
        raise SonataFormatError(p, None, f"a readable {kind}", f"{type(e).__name__}: {e}") from e


@contextlib.contextmanager
def guard(path: PathLike, dataset: str | None, expected: str = "a readable dataset") -> Iterator[None]:
    """Translate any low-level h5py/numpy failure inside the block into SonataFormatError.

    Parameters
    ----------
    path : str or PathLike
        The file, for messages.
    dataset : str, optional
        Dataset read in the block, for messages.
    expected : str, optional
        What the dataset should be, for messages.
    """
    try:
        yield
    except ModelkitError:
        raise
    except _LOW_LEVEL as e:
        raise SonataFormatError(path, dataset, expected, f"{type(e).__name__}: {e}") from e


def has(parent: h5py.Group, name: str, path: PathLike) -> bool:
    """``name in parent``, a corrupt link table reported as SonataFormatError (h5py raises RuntimeError).

    Parameters
    ----------
    parent, name, path
        See the module docstring.
    """
    with guard(path, _join(parent.name, name), "a readable link table"):
        return name in parent


def require_group(parent: h5py.Group, name: str, path: PathLike, what: str = "a group") -> h5py.Group:
    """Return ``parent[name]`` and check that it is a group.

    Parameters
    ----------
    parent, name, path
        See the module docstring.
    what : str, optional
        What the group should be, for messages.
    """
    full = _join(parent.name, name)
    with guard(path, full, what):
        return _get(parent, name, h5py.Group, path, full, what)


def _get(parent: h5py.Group, name: str, kind: type, path: Any, full: str, expected: str) -> Any:
    """``parent[name]``, refused unless it exists and is a ``kind`` (h5py.Group or h5py.Dataset)."""
    obj = parent.get(name)
    if obj is None:
        raise SonataFormatError(path, full, expected, "nothing")
    if not isinstance(obj, kind):
        raise SonataFormatError(path, full, expected, type(obj).__name__)
    return obj


def require_dataset(parent: h5py.Group, name: str, path: PathLike, *, kind: str = "any",
                    ndim: int | None = 1, length: int | None = None) -> h5py.Dataset:
    """Return ``parent[name]`` checked to be a dataset of the given kind.

    Parameters
    ----------
    parent, name, path
        See the module docstring.
    kind : {'any', 'integer', 'number', 'string', 'column'}
        ``integer`` also accepts integral floats (seen in the wild for edge_group_id);
        ``column`` is any attribute type SONATA stores: numbers, booleans, strings (not
        compound, opaque, array or complex types).
    ndim : int or None
        Required number of dimensions.
    length : int or None
        Required length of the first axis.
    """
    full = _join(parent.name, name)
    expected = _describe(kind, ndim, length)
    with guard(path, full, expected):
        obj = _get(parent, name, h5py.Dataset, path, full, expected)
        dt = obj.dtype
        ok = {
            "any": True,
            "integer": dt.kind in "iuf",
            "number": dt.kind in "iufb",
            "string": dt.kind in "SOU" or h5py.check_string_dtype(dt) is not None,
            "column": dt.kind in "biufSU" or h5py.check_string_dtype(dt) is not None,
        }[kind]
        if not ok:
            raise SonataFormatError(path, full, expected, f"dtype {dt}")
        if ndim is not None and obj.ndim != ndim:
            raise SonataFormatError(path, full, expected, f"shape {obj.shape}")
        if length is not None and obj.shape[0] != length:
            raise SonataFormatError(path, full, expected, f"length {obj.shape[0]}")
    check_storage(obj, path)
    return obj


#: declared sizes up to this many bytes are read whatever the file stores (fill values of a small
#: dataset cost nothing); above it, the declared size must be backed by storage in the file.  Kept
#: at HDF5's compact-layout limit: a few-MB file can hold 10**4 datasets, and 10**4 unwritten ones of
#: this size still read as well under 1 GB
STORAGE_CHECK_BYTES = 1 << 16


def check_storage(ds: h5py.Dataset, path: PathLike) -> None:
    """Refuse a dataset whose declared shape is not backed by data stored in the file.

    HDF5 lets a few-KB file declare a dataset of 10**12 rows that was never written:
    its chunks (or its contiguous block) are unallocated and every read returns the
    fill value, so reading it, or looping over its chunks, runs for hours and fills
    memory.  A dataset declaring more than :data:`STORAGE_CHECK_BYTES` must have
    every chunk allocated (chunked; compressed chunks may be smaller than declared,
    so chunks are counted, not bytes), all its bytes allocated (contiguous), and no
    virtual or external storage (data outside this file).

    Parameters
    ----------
    ds : h5py.Dataset
    path : str or PathLike
        The file, for the message.

    Raises
    ------
    SonataFormatError
        Names the file and dataset, the declared size (expected) and what is stored (found).
    """
    name = _text(ds.name)
    with guard(path, name, "a dataset whose declared size is stored in the file"):
        shape = ds.shape
        if shape is None:  # null dataspace: nothing to read
            return
        n = 1
        for s in shape:
            n *= int(s)
        itemsize = int(ds.dtype.itemsize)
        declared = n * itemsize
        if declared <= STORAGE_CHECK_BYTES:
            return
        what = f"{'x'.join(map(str, shape))} elements ({declared:,} bytes declared) stored in the file"
        dcpl = ds.id.get_create_plist()
        layout = dcpl.get_layout()
        if layout == h5py.h5d.VIRTUAL:
            raise SonataFormatError(path, name, what, "a virtual dataset (data in other files)")
        if dcpl.get_external_count() > 0:
            raise SonataFormatError(path, name, what, "external raw storage (data in other files)")
        if layout == h5py.h5d.CHUNKED:
            chunks = ds.chunks
            need = 1
            for s, c in zip(shape, chunks):
                need *= -(-int(s) // int(c))
            have = int(ds.id.get_num_chunks())
            if have < need:
                raise SonataFormatError(path, name, what + f" ({need:,} chunks of {chunks})",
                                        f"{have:,} chunks written, {ds.id.get_storage_size():,} bytes")
            return
        stored = int(ds.id.get_storage_size())
        if stored < declared:
            raise SonataFormatError(path, name, what, f"{stored:,} bytes stored")


def _describe(kind: str, ndim: int | None, length: int | None) -> str:
    words = {"any": "a dataset", "integer": "an integer dataset", "number": "a numeric dataset",
             "string": "a string dataset", "column": "a dataset of numbers or strings"}[kind]
    if ndim == 1:
        words = words.replace("dataset", "1-D dataset")
    elif ndim:
        words = words.replace("dataset", f"{ndim}-D dataset")
    if length is not None:
        words += f" of length {length}"
    return words


def _join(parent: Any, name: Any) -> str:
    return f"{_text(parent).rstrip('/')}/{_text(name)}"


def _text(name: Any) -> str:
    """An HDF5 name as text: h5py hands out bytes for names that are not valid UTF-8."""
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def read_array(ds: h5py.Dataset, path: PathLike, sl: slice | None = None) -> np.ndarray:
    """Read a whole dataset (or a slice) as numpy, decoding strings to ``object`` str arrays.

    The declared size is checked against the stored one first (:func:`check_storage`).

    Parameters
    ----------
    ds, path
        See the module docstring.
    sl : slice, optional
        Rows to read; all when omitted.
    """
    check_storage(ds, path)
    with guard(path, ds.name):
        if h5py.check_string_dtype(ds.dtype) is not None:
            out = ds.asstr()[()] if sl is None else ds.asstr()[sl]
            return np.asarray(out, dtype=object)
        out = ds[()] if sl is None else ds[sl]
        return np.asarray(out)


def as_ids(a: np.ndarray, path: PathLike, dataset: str) -> np.ndarray:
    """Convert an id array read from a file to int64, checking it is integral and non-negative.

    Parameters
    ----------
    a : ndarray
        Ids as read.
    path
        See the module docstring.
    dataset : str
        Dataset path inside the file, for messages.
    """
    a = np.asarray(a)
    if a.dtype == np.int64:
        out = a
    elif a.dtype == np.uint64:
        if a.size and a.max() > np.iinfo(np.int64).max:
            raise SonataFormatError(path, dataset, "ids below 2**63", f"max {a.max()}")
        out = a.view(np.int64)
    elif a.dtype.kind in "iu":
        out = a.astype(np.int64)
    elif a.dtype.kind == "f":
        if a.size and not (np.isfinite(a).all() and (a == np.round(a)).all()):
            raise SonataFormatError(path, dataset, "integral values", "non-integral floats")
        if a.size and float(np.abs(a).max()) >= 2.0**63:
            raise SonataFormatError(path, dataset, "ids below 2**63", f"max {np.abs(a).max()}")
        out = a.astype(np.int64)
    else:
        raise SonataFormatError(path, dataset, "an integer dataset", f"dtype {a.dtype}")
    if out.size and out.min() < 0:
        raise SonataFormatError(path, dataset, "non-negative ids", f"min {out.min()}")
    return out


def read_ranges(ds: h5py.Dataset, ranges: np.ndarray, path: PathLike) -> np.ndarray:
    """Read the rows ``ds[a:b]`` for every ``(a, b)`` in sorted disjoint ``ranges``, concatenated.

    Nearby ranges are coalesced into one hyperslab (gap below ``coalesce_gap``) so that
    many small ranges cost a few HDF5 calls, not one each.

    Parameters
    ----------
    ranges : ndarray
        (n, 2) int array of sorted disjoint ``[start, stop)`` row ranges.
    ds, path
        See the module docstring.
    """
    ranges = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    n = int((ranges[:, 1] - ranges[:, 0]).sum()) if len(ranges) else 0
    string = h5py.check_string_dtype(ds.dtype) is not None
    if n == 0:
        return np.empty((0,) + ds.shape[1:], dtype=object if string else ds.dtype)
    if len(ranges) == 1:
        a, b = ranges[0]
        return read_array(ds, path, slice(int(a), int(b)))
    gap = OPTIONS["coalesce_gap"]
    starts, stops = ranges[:, 0], ranges[:, 1]
    # blocks of ranges whose gaps are small enough to read in one go
    brk = np.flatnonzero(starts[1:] - stops[:-1] > gap) + 1
    block_first = np.concatenate(([0], brk))
    block_last = np.concatenate((brk - 1, [len(ranges) - 1]))
    parts = []
    for f, last in zip(block_first.tolist(), block_last.tolist()):
        lo, hi = int(starts[f]), int(stops[last])
        chunk = read_array(ds, path, slice(lo, hi))
        if f == last:
            parts.append(chunk)
            continue
        sub = ranges[f:last + 1] - lo
        lens = sub[:, 1] - sub[:, 0]
        idx = np.repeat(sub[:, 0] - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(lens.sum())
        parts.append(chunk[idx])
    return np.concatenate(parts)


def read_indices(ds: h5py.Dataset, idx: np.ndarray, path: PathLike) -> np.ndarray:
    """Read ``ds[idx]`` for an arbitrary (unsorted, repeated) integer index array.

    Parameters
    ----------
    idx : ndarray
        Row indices, any order, repeats allowed.
    ds, path
        See the module docstring.
    """
    idx = np.asarray(idx, dtype=np.int64)
    size = ds.shape[0]
    if idx.size == 0:
        return read_ranges(ds, np.empty((0, 2), np.int64), path)
    if idx.min() < 0 or idx.max() >= size:
        raise SonataFormatError(path, ds.name, f"indices within [0, {size})",
                                f"index {int(idx.max()) if idx.max() >= size else int(idx.min())}")
    if idx.size * 4 >= size:
        return read_array(ds, path)[idx]
    uniq, inv = np.unique(idx, return_inverse=True)
    brk = np.flatnonzero(np.diff(uniq) != 1) + 1
    starts = uniq[np.concatenate(([0], brk))]
    stops = uniq[np.concatenate((brk - 1, [len(uniq) - 1]))] + 1
    vals = read_ranges(ds, np.stack([starts, stops], axis=1), path)
    return vals[inv]


def write_root_attrs(f: h5py.File) -> None:
    """Write the SONATA root attributes ``version`` = [0, 1] and ``magic`` = 0x0A7A (uint32).

    Parameters
    ----------
    f : h5py.File
        A file open for writing.
    """
    f.attrs.create("version", VERSION, dtype=np.uint32)
    f.attrs.create("magic", MAGIC, dtype=np.uint32)


@contextlib.contextmanager
def atomic_output(path: PathLike, *, overwrite: bool = False, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a fresh temporary path next to ``path``; on success rename it onto ``path``.

    ``suffix`` ends the temporary name (writers that insist on an extension: pynwb wants ``.nwb``).

    The temporary file is not created here: writers create it.  (Truncating an
    existing empty file instead makes ext4 allocate its blocks synchronously on
    close, about 0.3 s per GB.)  A crash or exception leaves ``path`` untouched
    and removes the temporary file.

    Parameters
    ----------
    path : str or PathLike
        The file to write.
    overwrite : bool, optional
        Replace an existing file (else refuse it).
    suffix : str, optional
        End of the temporary file's name.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    p = os.fspath(path)
    if os.path.exists(p) and not overwrite:
        raise OutputExistsError(f"{p}: exists; refusing to overwrite it (pass overwrite=True)")
    d = os.path.dirname(os.path.abspath(p))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(p)}.{os.getpid()}.{secrets.token_hex(8)}{suffix}")
    try:
        yield tmp
        if os.path.exists(p) and not overwrite:  # appeared while we wrote
            raise OutputExistsError(f"{p}: appeared during the write; refusing to overwrite it")
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
