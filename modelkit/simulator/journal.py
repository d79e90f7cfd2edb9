"""An append-only journal of a run's spikes in its staging folder, so that a killed run keeps them.

A run holds its spikes in memory and writes the spikes file when it ends; a SIGKILL (an out-of-memory
kill, Slurm's kill after its SIGTERM grace, a dead engine) leaves no chance to write it.  So rank 0 also
appends each block's spikes here as one record and flushes it to the operating system (a killed process
loses nothing the kernel has; no fsync per block, so a power loss may lose the last blocks).  The next run
to the same output (or the notebook that sees the run's process die) turns the journal into the spikes
file of ``<output>.failed`` (:func:`modelkit.simulator.staging.salvage`).

Layout (little endian)::

    header  b"MKSJ" u32 version u32 n  n bytes of JSON (populations, tstart, spikes files, sort, log)  u32 crc32
    block   b"MKSB" u64 payload bytes  f64 t_complete  u32 crc32(t_complete + payload)  payload
    payload per population with spikes: u32 index  u64 n  n x int64 node ids  n x float64 times (ms)

A block is whole or ignored: a record cut short by the kill, or whose checksum does not match, ends the
journal.  ``t_complete`` is the block's end (ms): the blocks so far hold every spike up to it.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["JOURNAL_NAME", "SpikeJournal", "JournalContents", "read_journal"]

#: the journal's name in the staging folder (hidden: it is not one of the run's outputs)
JOURNAL_NAME = ".spikes.journal"
_HEAD = b"MKSJ"
_BLOCK = b"MKSB"
_VERSION = 1
_BLOCK_HEAD = struct.Struct("<4sQdI")
_POP_HEAD = struct.Struct("<IQ")


class SpikeJournal:
    """The writing end: one record per block, flushed (see the module docstring).

    Parameters
    ----------
    path : str
        The journal file (created; replaced if it exists).
    header : dict
        JSON-able description: ``populations`` (list of names), ``tstart`` (ms), ``spikes_file`` and
        ``spikes_file_csv`` (paths relative to the staging folder, or None), ``sort``, ``log_file``.
    """

    def __init__(self, path: str, header: dict[str, Any]) -> None:
        self.path = path
        self.index = {p: k for k, p in enumerate(header["populations"])}
        body = json.dumps(header).encode()
        # the header is written aside and renamed in: whoever sees the journal (a reader, the next run
        # adopting a killed run's folder) sees it whole, never an empty file that is "not a journal"
        tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.new")
        with open(tmp, "wb") as f:
            f.write(_HEAD + struct.pack("<II", _VERSION, len(body)) + body + struct.pack("<I", zlib.crc32(body)))
        os.replace(tmp, path)
        self._f: Any = open(path, "ab")

    def append(self, t_complete: float, spikes: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Write one block's spikes (``{population: (node_ids, times_ms)}``) as one record.

        Parameters
        ----------
        t_complete : float
            Simulated time the run has completed (ms).
        spikes : dict of str to (numpy.ndarray, numpy.ndarray)
            ``{population: (node ids, times in ms)}`` of the block; populations of the header only.
        """
        if self._f is None:
            return
        parts: list[bytes] = []
        for pop, (ids, times) in spikes.items():
            if not len(ids):
                continue
            parts.append(_POP_HEAD.pack(self.index[pop], len(ids)))
            parts.append(np.ascontiguousarray(ids, dtype="<i8").tobytes())
            parts.append(np.ascontiguousarray(times, dtype="<f8").tobytes())
        payload = b"".join(parts)
        t = struct.pack("<d", t_complete)
        # one write: a record is either in the kernel's page cache whole or cut at its end
        self._f.write(_BLOCK_HEAD.pack(_BLOCK, len(payload), t_complete, zlib.crc32(payload, zlib.crc32(t)))
                      + payload)
        self._f.flush()

    def close(self, remove: bool = False) -> None:
        """Close the file; ``remove`` it as well (the run wrote its spikes file).

        Parameters
        ----------
        remove : bool
            Delete the journal too.
        """
        if self._f is not None:
            self._f.close()
            self._f = None
        if remove:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


@dataclass
class JournalContents:
    """What a journal holds up to its last whole block.

    Attributes
    ----------
    header : dict
    spikes : dict
        ``{population: (node_ids int64, times float64 ms)}`` of the whole blocks, every population of the
        header (empty arrays where none fired).
    t_complete : float or None
        The last whole block's ``t_complete`` (ms); None when no block was written.
    n_blocks : int
    torn : bool
        Whether bytes after the last whole block were ignored (a record cut short or damaged).
    """

    header: dict[str, Any]
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    t_complete: float | None = None
    n_blocks: int = 0
    torn: bool = False


def read_journal(path: str) -> JournalContents:
    """Read a journal written by :class:`SpikeJournal`.

    Parameters
    ----------
    path : str
        The journal file.

    Raises
    ------
    ValueError
        The header itself is missing or damaged (nothing can be read).
    OSError
        The file cannot be read.
    """
    with open(path, "rb") as f:
        buf = memoryview(f.read())
    if len(buf) < 12 or bytes(buf[:4]) != _HEAD:
        raise ValueError(f"{path}: not a modelkit spikes journal")
    version, n = struct.unpack_from("<II", buf, 4)
    end = 12 + n
    if version != _VERSION or len(buf) < end + 4:
        raise ValueError(f"{path}: journal version {version} or a header cut short")
    body = bytes(buf[12:end])
    if struct.unpack_from("<I", buf, end)[0] != zlib.crc32(body):
        raise ValueError(f"{path}: damaged journal header")
    header = json.loads(body)
    pops = list(header["populations"])
    ids: dict[int, list[np.ndarray]] = {k: [] for k in range(len(pops))}
    times: dict[int, list[np.ndarray]] = {k: [] for k in range(len(pops))}
    out = JournalContents(header)
    pos = end + 4
    while pos < len(buf):
        if len(buf) - pos < _BLOCK_HEAD.size:
            out.torn = True
            break
        magic, size, t, crc = _BLOCK_HEAD.unpack_from(buf, pos)
        start = pos + _BLOCK_HEAD.size
        payload = buf[start:start + size]
        if magic != _BLOCK or len(payload) != size or zlib.crc32(payload, zlib.crc32(struct.pack("<d", t))) != crc:
            out.torn = True
            break
        block = _parse_payload(payload, len(pops))
        if block is None:
            out.torn = True
            break
        for k, (i, ts) in block.items():
            ids[k].append(i)
            times[k].append(ts)
        out.t_complete = float(t)
        out.n_blocks += 1
        pos = start + size
    out.spikes = {p: (np.concatenate(ids[k]) if ids[k] else np.empty(0, np.int64),
                      np.concatenate(times[k]) if times[k] else np.empty(0, np.float64))
                  for k, p in enumerate(pops)}
    return out


def _parse_payload(payload: memoryview, n_pops: int) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    pos = 0
    while pos < len(payload):
        if len(payload) - pos < _POP_HEAD.size:
            return None
        k, n = _POP_HEAD.unpack_from(payload, pos)
        pos += _POP_HEAD.size
        if k >= n_pops or len(payload) - pos < 16 * n:
            return None
        i = np.frombuffer(payload, dtype="<i8", count=n, offset=pos).astype(np.int64)
        t = np.frombuffer(payload, dtype="<f8", count=n, offset=pos + 8 * n).astype(np.float64)
        pos += 16 * n
        out[k] = (i, t)
    return out
