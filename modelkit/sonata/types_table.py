"""node_types.csv / edge_types.csv: quote-aware reading into typed columns, and writing.

The dialect is the one bmtk reads (``pandas.read_csv(path, sep=' ', na_values='NONE')``): the first line
is the header; fields are separated by ONE space, so two spaces in a row hold an empty field ("not set
for this type", as are ``NULL``, ``NONE`` and pandas' other missing-value words, :data:`NULL_TOKENS`);
a field with spaces is wrapped in double quotes (a literal quote is doubled); lines end in LF, CRLF or CR.
A row with fewer fields than the header has the rest unset, as in pandas.

Where pandas is plainly wrong, modelkit differs (and says so here): spaces at the end of a line (a
trailing separator) are dropped, where pandas makes an ``Unnamed: N`` column of NaN or, when only the
rows have them, silently shifts every column by one (the first becomes the index); a quoted value is
always the text itself (``"NULL"``, ``""``), which is how modelkit writes strings that would otherwise
read as unset; a line of only spaces is skipped.  More fields than the header, an unterminated quote
and a quote followed by text are errors naming the file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.errors import SonataFormatError
from modelkit.sonata.h5 import atomic_output
from modelkit.sonata.textfile import MAX_CSV_BYTES, read_text

__all__ = ["TypesTable", "read_types_csv", "write_types_csv", "NULL_TOKENS", "tokenize_line", "split_types_line"]

#: unquoted values that mean "not set": pandas' default missing-value words plus bmtk's ``NONE``
NULL_TOKENS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                         "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "NONE"})
_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\S+)')
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
_LINES = re.compile(r"\r\n|\r|\n")
_INT = re.compile(r"[+-]?\d+\Z")
_BOOLS = {"true": True, "false": False}  # pandas' true/false values, any case: quoted when written


def tokenize_line(line: str) -> list[str]:
    """Split one CSV line on runs of whitespace, honouring double quotes.

    Parameters
    ----------
    line : str
        One line of a types CSV.
    """
    out: list[str] = []
    pos = 0
    line = line.rstrip("\r\n")
    while True:
        while pos < len(line) and line[pos].isspace():
            pos += 1
        if pos >= len(line):
            return out
        m = _TOKEN.match(line, pos)
        if m is None or (line[pos] == '"' and m.group(1) is None):  # an opening quote never closed
            raise ValueError(f"unterminated quote at column {pos + 1}")
        out.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2))
        pos = m.end()


def split_types_line(line: str) -> list[tuple[str, bool]]:
    """Split one types-CSV line on single spaces, as pandas' ``sep=' '`` does, honouring double quotes.

    Parameters
    ----------
    line : str
        One line of a types CSV.

    Returns
    -------
    list of (str, bool)
        Each field's text and whether it was quoted (a quoted field is never "not set").

    Raises
    ------
    ValueError
        An unterminated quote, or a closing quote followed by something other than a space.

    Examples
    --------
    >>> split_types_line('100 a.json  "x y" e  ')
    [('100', False), ('a.json', False), ('', False), ('x y', True), ('e', False)]
    """
    line = line.rstrip(" ")  # a trailing separator: see the module docstring
    out: list[tuple[str, bool]] = []
    pos = 0
    while True:
        if line.startswith('"', pos):
            m = _QUOTED.match(line, pos)
            if m is None:
                raise ValueError(f"unterminated quote at column {pos + 1}")
            out.append((m.group(1).replace('""', '"'), True))
            pos = m.end()
            if pos < len(line) and line[pos] != " ":
                raise ValueError(f"a space after the closing quote at column {pos}, found {line[pos]!r}")
        else:
            end = line.find(" ", pos)
            end = len(line) if end < 0 else end
            out.append((line[pos:end], False))
            pos = end
        if pos >= len(line):
            return out
        pos += 1  # the one separator


def _typed(tokens: list[str], quoted: list[bool] | None = None) -> np.ndarray:
    """Typed column from raw tokens, inferred as pandas does: int64, float64 (NaN for unset) or object (None
    for unset).  A quoted token is text, never unset.  ``True``/``False`` stay text (pandas makes them bools;
    modelkit's builder and backends read these columns as text today)."""
    q = quoted if quoted is not None else [False] * len(tokens)
    nulls = [t in NULL_TOKENS and not qq for t, qq in zip(tokens, q)]
    vals = [t for t, n in zip(tokens, nulls) if not n]
    if vals and all(_INT.match(t) for t in vals):
        ints = [int(t) for t in vals]
        if not any(nulls) and all(-(2**63) <= i < 2**63 for i in ints):
            return np.array(ints, dtype=np.int64)
        if all(abs(i) < 2**53 for i in ints):
            out = np.full(len(tokens), np.nan)
            out[~np.array(nulls)] = ints
            return out
    if vals and not any("_" in t for t in vals):  # Python reads "1_0" as 10, pandas as text
        try:
            fl = [float(t) for t in vals]
        except ValueError:
            pass
        else:
            out = np.full(len(tokens), np.nan)
            out[~np.array(nulls)] = fl
            return out
    if not vals:  # entirely NULL: no values, keep as object Nones
        return np.array([None] * len(tokens), dtype=object)
    return np.array([None if n else t for t, n in zip(tokens, nulls)], dtype=object)


class TypesTable:
    """A node- or edge-types table with typed columns.

    Parameters
    ----------
    path : str or None
        The CSV file it came from (used in error messages).
    id_column : str
        ``node_type_id`` or ``edge_type_id``.
    ids : array of int
        Type ids in file order (unique).
    columns : dict of str to ndarray
        Typed columns (excluding the id column), in file order.
    """

    def __init__(self, path: str | None, id_column: str, ids: np.ndarray,
                 columns: Mapping[str, np.ndarray]) -> None:
        self.path = path
        self.id_column = id_column
        self.ids = np.asarray(ids, dtype=np.int64)
        self.columns = dict(columns)
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]

    @property
    def names(self) -> list[str]:
        """Column names other than the id column."""
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, type_ids: np.ndarray, *, dataset: str | None = None,
               data_path: str | None = None) -> np.ndarray:
        """Row numbers of ``type_ids`` in this table.

        Parameters
        ----------
        type_ids : ndarray
            Type id of each element.
        dataset : str, optional
            Dataset the ids come from, for messages.
        data_path : str, optional
            HDF5 file the ids come from, for messages.

        Raises
        ------
        SonataFormatError
            A type id is absent from the table (naming the HDF5 file/dataset when given).
        """
        t = np.asarray(type_ids, dtype=np.int64)
        if len(self._sorted) == 0:
            if t.size:
                raise SonataFormatError(data_path or self.path, dataset,
                                        f"{self.id_column}s listed in {self.path}", f"id {t[0]}")
            return np.empty(0, dtype=np.int64)
        k = np.searchsorted(self._sorted, t)
        k = np.minimum(k, len(self._sorted) - 1)
        bad = self._sorted[k] != t
        if bad.any():
            missing = np.unique(t[bad])[:5].tolist()
            raise SonataFormatError(data_path or self.path, dataset,
                                    f"{self.id_column}s listed in {self.path}",
                                    f"ids {missing} not in the types table")
        return self._order[k]

    def missing(self, type_ids: np.ndarray) -> np.ndarray:
        """The distinct ids of ``type_ids`` that this table lacks.

        Parameters
        ----------
        type_ids : ndarray
            Type ids.
        """
        u = np.unique(np.asarray(type_ids, dtype=np.int64))
        return u[~np.isin(u, self.ids)]

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame indexed by type id (file order)."""
        df = pd.DataFrame({k: v for k, v in self.columns.items()},
                          index=pd.Index(self.ids, name=self.id_column))
        return df

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TypesTable):
            return NotImplemented
        if self.id_column != other.id_column or not np.array_equal(self.ids, other.ids):
            return False
        if list(self.columns) != list(other.columns):
            return False
        for k, a in self.columns.items():
            b = other.columns[k]
            if a.dtype.kind == "f" and b.dtype.kind == "f":
                if not np.array_equal(a, b, equal_nan=True):
                    return False
            elif not np.array_equal(a.astype(object), b.astype(object)):
                return False
        return True

    def __repr__(self) -> str:
        return f"TypesTable({self.id_column}, {len(self)} rows, columns={self.names})"


def read_types_csv(path: PathLike, id_column: str) -> TypesTable:
    """Read a SONATA types CSV.

    Parameters
    ----------
    path : str or PathLike
        The CSV file.
    id_column : str
        ``node_type_id`` or ``edge_type_id``.

    Raises
    ------
    SonataFormatError
        Missing file, missing id column, ragged rows, non-integer or duplicate ids.
    """
    p = os.fspath(path)
    text = read_text(p, "types CSV file", MAX_CSV_BYTES, SonataFormatError)
    if "\x00" in text:
        raise SonataFormatError(p, None, "a text CSV file", "NUL bytes (binary content)")
    rows: list[list[tuple[str, bool]]] = []
    line_no: list[int] = []
    for n, line in enumerate(_LINES.split(text), start=1):
        if not line.strip(" "):  # empty, or only spaces
            continue
        try:
            rows.append(split_types_line(line))
        except ValueError as e:
            raise SonataFormatError(p, f"line {n}", "a well-formed CSV line (fields separated by one space)",
                                    str(e)) from e
        line_no.append(n)
    if not rows:
        raise SonataFormatError(p, "header", f"a header line with column {id_column!r}", "an empty file")
    # an empty column name is pandas' "Unnamed: i"
    header = [t if t or q else f"Unnamed: {i}" for i, (t, q) in enumerate(rows[0])]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise SonataFormatError(p, "header", "unique column names", f"duplicates {dup}")
    if id_column not in header:
        raise SonataFormatError(p, "header", f"a column {id_column!r}", f"columns {header}")
    body = rows[1:]
    unset = ("", False)
    for k, (r, n) in enumerate(zip(body, line_no[1:])):
        if len(r) > len(header):
            raise SonataFormatError(p, f"line {n}", f"at most {len(header)} fields as in the header "
                                    "(fields are separated by one space; two in a row hold an empty field)",
                                    f"{len(r)} fields")
        if len(r) < len(header):  # pandas: the missing fields at the end are unset
            body[k] = r + [unset] * (len(header) - len(r))
    cols = {h: [r[i][0] for r in body] for i, h in enumerate(header)}
    quoted = {h: [r[i][1] for r in body] for i, h in enumerate(header)}
    raw_ids = cols.pop(id_column)
    bad = [t for t in raw_ids if not _INT.match(t) or not -(2**63) <= int(t) < 2**63]
    if bad:
        raise SonataFormatError(p, id_column, "integer type ids (64-bit)", f"{bad[0]!r}")
    ids = np.array([int(t) for t in raw_ids], dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        u, c = np.unique(ids, return_counts=True)
        raise SonataFormatError(p, id_column, "unique type ids", f"repeated ids {u[c > 1][:5].tolist()}")
    return TypesTable(p, id_column, ids, {k: _typed(v, quoted[k]) for k, v in cols.items()})


def _fmt(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "NULL"
        return repr(float(v))
    s = str(v)
    if s == "" or any(c.isspace() for c in s) or '"' in s or s in NULL_TOKENS or s.lower() in _BOOLS:
        return '"' + s.replace('"', '""') + '"'
    return s


def write_types_csv(path: PathLike, table: TypesTable, *, overwrite: bool = False) -> None:
    """Write a types table as a SONATA CSV (space separated, quoted where needed), atomically.

    Parameters
    ----------
    path : str or PathLike
        The CSV to write.
    table : TypesTable
        The types.
    overwrite : bool, optional
        Replace an existing file (else refuse it).

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is false.
    """
    header = [table.id_column] + table.names
    lines = [" ".join(header)]
    cols = [table.ids.tolist()] + [np.asarray(table.columns[k]).tolist() for k in table.names]
    for row in zip(*cols):
        lines.append(" ".join(_fmt(v) for v in row))
    with atomic_output(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
