"""Types CSVs as bmtk reads them (``pandas.read_csv(path, sep=' ', na_values='NONE')``): empty fields,
CRLF, pandas' missing-value words; ragged files still fail with the file and line."""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import pytest

from modelkit.errors import SonataFormatError
from modelkit.sonata import Network
from modelkit.sonata.types_table import TypesTable, read_types_csv, write_types_csv
from modelkit.testing import shared_path


def bmtk_read(text_or_path):
    """What bmtk's ``utils.sonata.utils.load_csv`` gives."""
    src = io.StringIO(text_or_path) if "\n" in str(text_or_path) or "\r" in str(text_or_path) else text_or_path
    return pd.read_csv(src, sep=" ", na_values="NONE")


def unset(v):
    return v is None or (isinstance(v, float) and v != v)


def assert_like_pandas(table: TypesTable, want: pd.DataFrame) -> None:
    got = table.to_frame().reset_index()
    assert list(got.columns) == list(want.columns)
    for c in want.columns:
        a, b = want[c].tolist(), got[c].tolist()
        assert all((unset(x) and unset(y)) or x == y for x, y in zip(a, b)), (c, a, b)
        if not all(unset(x) for x in a):  # a column with no value at all is object None here, float NaN there
            assert want[c].dtype.kind == got[c].dtype.kind or {want[c].dtype.kind, got[c].dtype.kind} <= {"O"}, c


def read_text(tmp_path, text, id_column="node_type_id"):
    p = tmp_path / "x_node_types.csv"
    p.write_bytes(text.encode())
    return read_types_csv(p, id_column)


def types_csvs():
    out = []
    for root in (shared_path("bmtk-examples"), shared_path("sonata", "corpus")):
        assert root.is_dir(), f"{root} is missing"
        out += sorted(root.rglob("*_types.csv"))
    return out


def test_filter_looming_types_with_empty_fields(bmtk_examples_dir):
    """Two spaces in a row are an empty field (NaN in bmtk), as in filter_looming's lgn_node_types.csv."""
    p = bmtk_examples_dir / "filter_looming" / "network" / "lgn_node_types.csv"
    t = read_types_csv(p, "node_type_id")
    assert_like_pandas(t, bmtk_read(p))
    df = t.to_frame()
    assert unset(df.loc[100, "non_dom_params"]) and np.isnan(df.loc[100, "sf_sep"])
    assert df.loc[101, "sf_sep"] == 6.0 and df.loc[100, "model_template"] == "lgnmodel:tOFF_TF15"
    net = Network.load(bmtk_examples_dir / "filter_looming" / "config.simulation.json")
    assert sum(len(p) for p in net.nodes.values()) > 0


def test_every_types_csv_of_the_examples_and_corpus_reads_as_pandas_does():
    files = types_csvs()
    assert len(files) > 50
    for p in files:
        idc = "edge_type_id" if p.name.endswith("edge_types.csv") else "node_type_id"
        assert_like_pandas(read_types_csv(p, idc), bmtk_read(str(p)))


@pytest.mark.parametrize("name, text", [
    ("empty field", "node_type_id a b c\n100 x  1.5\n101 y z 2\n"),
    ("CRLF", "node_type_id a b\r\n100 x 1\r\n101  2\r\n"),
    ("CR only", "node_type_id a b\r100 x 1\r101 y 2\r"),
    ("fewer fields", "node_type_id a b\n100 x\n101 y 2\n"),
    ("missing-value words", "node_type_id a b c d\n100 NA None nan 1\n101 null N/A NONE 2\n"),
    ("leading empty column name", "node_type_id  b\n100 1 2\n"),
    ("empty line", "node_type_id a\n100 1\n\n101 2\n"),
    ("quoted field with spaces", 'node_type_id a b\n100 "x y" 1\n101 "say ""hi""" 2\n'),
])
def test_dialect_matches_pandas(tmp_path, name, text):
    assert_like_pandas(read_text(tmp_path, text), bmtk_read(text))


def test_trailing_separator_is_dropped_where_pandas_shifts_columns(tmp_path):
    """pandas makes the first column the index when the rows (not the header) end in a space, shifting every
    value one column left; modelkit reads what the file says (a documented difference)."""
    text = "node_type_id a b\n100 x 1 \n101 y 2 \n"
    assert bmtk_read(text).index.tolist() == [100, 101]  # pandas' shift
    df = read_text(tmp_path, text).to_frame()
    assert df.index.tolist() == [100, 101] and df["a"].tolist() == ["x", "y"] and df["b"].tolist() == [1, 2]
    both = read_text(tmp_path, "node_type_id a b \n100 x 1 \n").to_frame()
    assert list(both.columns) == ["a", "b"]  # pandas adds an all-NaN "Unnamed: 3"


def test_quoted_text_is_never_unset(tmp_path):
    df = read_text(tmp_path, 'node_type_id a b\n100 "NULL" ""\n101 x y\n').to_frame()
    assert df.loc[100, "a"] == "NULL" and df.loc[100, "b"] == ""


def test_strings_that_would_read_as_unset_or_bool_survive_a_round_trip(tmp_path):
    t = TypesTable(None, "node_type_id", np.array([1, 2, 3]),
                   {"a": np.array(["NA", "True", "x"], dtype=object), "b": np.array([1.5, np.nan, 2.0])})
    write_types_csv(tmp_path / "t.csv", t)
    assert read_types_csv(tmp_path / "t.csv", "node_type_id") == t


@pytest.mark.parametrize("text, line, expected", [
    ("node_type_id a b\n100 x 1\n101 y 2 3\n", "line 3", "at most 3 fields"),
    ("node_type_id a b\n100 x  1\n", "line 2", "at most 3 fields"),         # an empty field too many
    ('node_type_id a b\n100 "x 1\n', "line 2", "well-formed"),
    ('node_type_id a b\n100 "x"y 1\n', "line 2", "well-formed"),
])
def test_ragged_rows_still_fail_naming_file_and_line(tmp_path, text, line, expected):
    with pytest.raises(SonataFormatError) as e:
        read_text(tmp_path, text)
    assert e.value.dataset == line and expected in e.value.expected
    assert os.path.basename(str(e.value.path)) == "x_node_types.csv"


def test_empty_id_field_names_the_id_column(tmp_path):
    with pytest.raises(SonataFormatError) as e:
        read_text(tmp_path, "node_type_id a\n 1\n")
    assert e.value.dataset == "node_type_id"
