"""HDF5 compression of saved network files, on request (bmtk's ``save(compression=...)``).

modelkit writes uncompressed files by default (faster to write and to read); bmtk
compresses with gzip unless told ``'none'``.  A bmtk script that asks for a compression
gets it: the built file is copied dataset by dataset with the filter applied.
"""

from __future__ import annotations

import os
from typing import Any, Union

import h5py

from modelkit._typing import PathLike
from modelkit.errors import BuilderError

__all__ = ["normalize_compression", "copy_compressed", "CompressionLike"]

#: bmtk's ``compression`` argument: None or ``"none"`` (none), ``"gzip"``, ``"lzf"``, or a gzip level 0-9
CompressionLike = Union[str, int, None]

#: bytes of a dataset copied at a time
_BLOCK_BYTES = 1 << 24


def normalize_compression(compression: CompressionLike, argument: str = "compression") -> tuple[str | None, int | None]:
    """bmtk's compression argument as h5py's ``(compression, compression_opts)``.

    Parameters
    ----------
    compression : None, "none", "gzip", "lzf" or int
        An int 0-9 is a gzip level (as in h5py and bmtk).

    Returns
    -------
    (str or None, int or None)
        ``(None, None)`` for no compression.

    Raises
    ------
    BuilderError
        Any other value.
    """
    if compression is None or (isinstance(compression, str) and compression.lower() == "none"):
        return None, None
    if isinstance(compression, bool):
        raise BuilderError(argument, "'gzip', 'lzf', 'none', None or a gzip level 0-9", repr(compression))
    if isinstance(compression, int):
        if not 0 <= compression <= 9:
            raise BuilderError(argument, "a gzip level 0-9", repr(compression))
        return "gzip", int(compression)
    if isinstance(compression, str) and compression.lower() in ("gzip", "lzf"):
        return compression.lower(), None
    raise BuilderError(argument, "'gzip', 'lzf', 'none', None or a gzip level 0-9", repr(compression))


def _copy_attrs(src: Any, dst: Any) -> None:
    for k in src.attrs:
        dst.attrs.create(k, src.attrs[k], dtype=src.attrs.get_id(k).dtype)


def _copy_group(src: h5py.Group, dst: h5py.Group, compression: str, opts: int | None) -> None:
    _copy_attrs(src, dst)
    for name in src:
        link = src.get(name, getlink=True)
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            dst[name] = link
            continue
        obj = src[name]
        if isinstance(obj, h5py.Group):
            _copy_group(obj, dst.create_group(name), compression, opts)
            continue
        if obj.shape == () or obj.size == 0:  # a filter needs chunks, which scalars and empty sets cannot have
            ds = dst.create_dataset(name, data=obj[()], dtype=obj.dtype)
        else:
            ds = dst.create_dataset(name, shape=obj.shape, dtype=obj.dtype, compression=compression,
                                    compression_opts=opts)
            # block by block: an edge column of 10^8 rows is not read whole into memory
            row = max(1, obj.dtype.itemsize * (obj.size // obj.shape[0]))
            step = max(1, _BLOCK_BYTES // row)
            for i in range(0, obj.shape[0], step):
                ds[i:i + step] = obj[i:i + step]
        _copy_attrs(obj, ds)


def copy_compressed(src: PathLike, dst: PathLike, compression: CompressionLike) -> None:
    """Write ``dst`` as a copy of the HDF5 file ``src`` with every non-empty dataset compressed.

    Parameters
    ----------
    src : str or PathLike
        The HDF5 file to copy.
    dst : str or PathLike
        The copy to write.
    compression : str or int
        ``"gzip"``, ``"lzf"``, a gzip level 0-9, or None / ``"none"`` (uncompressed, the default).

    Raises
    ------
    BuilderError
        A compression bmtk does not accept.
    """
    comp, opts = normalize_compression(compression)
    if comp is None:
        raise BuilderError("compression", "a compression to apply", repr(compression))
    with h5py.File(os.fspath(src), "r") as fin, h5py.File(os.fspath(dst), "w") as fout:
        _copy_group(fin, fout, comp, opts)
