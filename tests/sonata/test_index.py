"""Edge indices: build_index against a brute-force reference, the written files against libsonata,
and afferent/efferent queries (one node, many nodes, in-memory and per-query ranges) against brute force."""

from __future__ import annotations

import h5py
import libsonata
import numpy as np
import pytest

from modelkit.errors import SonataFormatError
from modelkit.sonata import EdgePopulation, EdgePopulationData, Selection, write_edges
from modelkit.sonata.index import IndexRuns, _sorted_runs, build_index, index_runs, stable_argsort_ids

POP = "a_to_b"


# ----------------------------------------------------------------- reference
def reference_index(ids: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The spec index by a plain loop: per node, the maximal runs of consecutive edges, in edge order."""
    n2r, r2e = [], []
    edges_of = {n: [] for n in range(n_nodes)}
    for k, v in enumerate(ids.tolist()):
        edges_of[v].append(k)
    for n in range(n_nodes):
        first = len(r2e)
        for k in edges_of[n]:
            if r2e and r2e[-1][1] == k and len(r2e) > first:
                r2e[-1][1] = k + 1
            else:
                r2e.append([k, k + 1])
        n2r.append([first, len(r2e)])
    return np.array(n2r, dtype=np.uint64).reshape(-1, 2), np.array(r2e, dtype=np.uint64).reshape(-1, 2)


def random_ids(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    n = int(rng.integers(1, 15))
    e = int(rng.integers(0, 80))
    ids = rng.integers(0, n, e)
    kind = rng.integers(0, 4)
    if kind == 1:
        ids = np.sort(ids)
    elif kind == 2:  # long runs of one node
        ids = np.repeat(ids, rng.integers(1, 5, e))
    elif kind == 3:  # sorted descending: every node one run, runs out of order
        ids = np.sort(ids)[::-1].copy()
    n_nodes = n + int(rng.integers(0, 3))  # nodes without edges at the end too
    return ids.astype(rng.choice([np.int64, np.uint64, np.int32, np.uint16])), n_nodes


def test_build_index_matches_reference_on_random_inputs():
    rng = np.random.default_rng(12)
    for _ in range(1500):
        ids, n_nodes = random_ids(rng)
        n2r, r2e = build_index(ids, n_nodes)
        ref_n2r, ref_r2e = reference_index(ids.astype(np.int64), n_nodes)
        assert n2r.dtype == r2e.dtype == np.uint64
        assert n2r.shape == (n_nodes, 2) and r2e.shape[1] == 2
        np.testing.assert_array_equal(n2r, ref_n2r, err_msg=f"{ids}")
        np.testing.assert_array_equal(r2e, ref_r2e, err_msg=f"{ids}")
        if len(ids):  # default n_nodes: max id + 1
            n2r_default, r2e_default = build_index(ids)
            np.testing.assert_array_equal(n2r_default, ref_n2r[: int(ids.max()) + 1])
            np.testing.assert_array_equal(r2e_default, ref_r2e)


@pytest.mark.parametrize("sort", [False, True])
def test_build_index_large_random(sort):
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 1000, 200_000)
    if sort:
        ids = np.sort(ids)
    n2r, r2e = build_index(ids, 1003)
    # every node's ranges cover exactly its edges, in increasing order, as maximal runs
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(1004))
    for n in range(1003):
        rows = r2e[n2r[n, 0]:n2r[n, 1]].astype(np.int64)
        got = np.concatenate([np.arange(a, b) for a, b in rows]) if len(rows) else np.empty(0, np.int64)
        np.testing.assert_array_equal(got, order[bounds[n]:bounds[n + 1]])
        assert (rows[1:, 0] > rows[:-1, 1]).all()  # disjoint and not adjacent: maximal runs
    assert n2r[-1, 1] == len(r2e) and (n2r[1:, 0] == n2r[:-1, 1]).all()


def test_build_index_empty_and_errors():
    n2r, r2e = build_index(np.empty(0, np.int64), 4)
    assert n2r.shape == (4, 2) and not n2r.any() and r2e.shape == (0, 2)
    n2r, r2e = build_index(np.empty(0, np.int64))
    assert n2r.shape == (0, 2) and r2e.shape == (0, 2)
    n2r, r2e = build_index(np.array([2]), 3)
    assert n2r.tolist() == [[0, 0], [0, 0], [0, 1]] and r2e.tolist() == [[0, 1]]
    with pytest.raises(ValueError, match=">= number of nodes"):
        build_index(np.array([0, 5, 1]), 5)
    with pytest.raises(ValueError, match="negative"):
        build_index(np.array([0, -1, 1]), 5)
    with pytest.raises(ValueError, match="negative"):
        build_index(np.array([0, -1, 1], dtype=np.int16), 5)
    with pytest.raises(ValueError, match="integers"):
        build_index(np.array([0.5, 1.0]), 5)


def test_sorted_runs_fallback_equals_packed_keys():
    """When node, start and length do not fit one 64-bit key, a stable argsort gives the same rows."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        e = int(rng.integers(2, 300))
        ids = rng.integers(0, 40, e).astype(np.uint64)
        starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1]))).astype(np.uint64)
        run_node = ids[starts]
        packed = _sorted_runs(run_node.copy(), starts.copy(), e, int(ids.max())).array()
        fallback = _sorted_runs(run_node.copy(), starts.copy(), e, int(ids.max()), key_bits=8).array()
        np.testing.assert_array_equal(packed, fallback)
        np.testing.assert_array_equal(packed, reference_index(ids.astype(np.int64), 40)[1])


def test_sorted_runs_in_small_blocks():
    """The blockwise passes (lengths, key packing) agree with one block, for every block split."""
    rng = np.random.default_rng(8)
    ids = np.repeat(rng.integers(0, 30, 200), rng.integers(1, 6, 200)).astype(np.uint64)
    e = len(ids)
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1]))).astype(np.uint64)
    ref = reference_index(ids.astype(np.int64), 30)[1]
    for block in (1, 2, 7, len(starts) - 1, len(starts), 10**6):
        got = _sorted_runs(ids[starts], starts.copy(), e, 29, block=block).array()
        np.testing.assert_array_equal(got, ref, err_msg=f"block {block}")


@pytest.mark.parametrize("kind", ["sorted", "unsorted", "table", "empty"])
def test_index_runs_blocks_and_write_to(kind, tmp_path):
    """IndexRuns decodes any block, and write_to fills a dataset block by block, for each representation."""
    rng = np.random.default_rng(10)
    ids = rng.integers(0, 25, 500)
    if kind == "sorted":
        ids = np.sort(ids)
    if kind == "empty":
        ids = ids[:0]
    ref_n2r, ref_r2e = reference_index(ids, 25)
    if kind == "table":  # the rare fallback: node, start and length do not fit a 64-bit key
        starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1]))).astype(np.uint64)
        n2r, runs = ref_n2r, _sorted_runs(ids[starts].astype(np.uint64), starts, len(ids), 24, key_bits=4)
    else:
        n2r, runs = index_runs(ids, 25)
    assert isinstance(runs, IndexRuns) and runs.n_rows == len(ref_r2e)
    np.testing.assert_array_equal(n2r, ref_n2r)
    np.testing.assert_array_equal(runs.array(), ref_r2e)
    for lo, hi in ((0, 1), (3, 17), (0, runs.n_rows), (runs.n_rows - 1, runs.n_rows), (5, 5)):
        if 0 <= lo <= hi <= runs.n_rows:
            np.testing.assert_array_equal(runs.rows(lo, hi), ref_r2e[lo:hi])
    for block in (1, 3, 1000):
        with h5py.File(tmp_path / f"r{block}.h5", "w") as f:
            ds = f.create_dataset("r", shape=(runs.n_rows, 2), dtype=np.uint64)
            runs.write_to(ds, block=block)
            np.testing.assert_array_equal(ds[()], ref_r2e)


def test_stable_argsort_ids():
    rng = np.random.default_rng(7)
    cases = [np.empty(0, np.int64), np.array([3]), np.array([-2, 5, -2, 0]), np.array([2**62, 1, 2**62, 0]),
             rng.integers(0, 5, 1000), rng.integers(0, 2**40, 1000), rng.integers(0, 70000, 5000).astype(np.uint32)]
    for ids in cases:
        got = stable_argsort_ids(ids)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, np.argsort(ids, kind="stable"))


# ------------------------------------------------------- files and queries
def make_edges(rng: np.random.Generator, e: int, n_src: int, n_tgt: int, sort_target: bool = True):
    tgt = rng.integers(0, n_tgt, e)
    if sort_target:
        tgt = np.sort(tgt)
    src = rng.integers(0, n_src, e)
    return src, tgt


def write(path, src, tgt, n_src, n_tgt, index=True):
    data = EdgePopulationData.from_columns(POP, "a", "b", src, tgt, np.full(len(src), 7),
                                           {"syn_weight": np.linspace(0, 1, len(src))},
                                           source_node_count=n_src, target_node_count=n_tgt)
    write_edges(path, [data], index=index)


def brute(ids: np.ndarray, nodes) -> np.ndarray:
    return np.flatnonzero(np.isin(ids, np.asarray(nodes, dtype=np.int64)))


# edges >= 1 << 16 build the source index on the writer's worker thread; the others inline.
# (e, n_src, n_tgt, sorted targets): the 2nd has a range_to_edge_id too big to keep in memory
# (read per query), the 3rd unsorted targets (both indices need a sort).
CASES = [(3000, 40, 30, True), (100_000, 120, 90, True), (70_000, 300, 200, False), (0, 5, 4, True)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"e{c[0]}_{'sorted' if c[3] else 'unsorted'}")
def written(request, tmp_path_factory):
    e, n_src, n_tgt, sort_target = request.param
    rng = np.random.default_rng(e)
    src, tgt = make_edges(rng, e, n_src, n_tgt, sort_target)
    path = tmp_path_factory.mktemp("idx") / "edges.h5"
    write(path, src, tgt, n_src, n_tgt)
    return path, src, tgt, n_src, n_tgt


def test_written_index_is_what_libsonata_writes(written, tmp_path):
    """modelkit's index datasets equal libsonata.write_indices' on the same edges, byte for byte."""
    path, src, tgt, n_src, n_tgt = written
    other = tmp_path / "ls.h5"
    write(other, src, tgt, n_src, n_tgt, index=False)
    libsonata.EdgePopulation.write_indices(str(other), POP, n_src, n_tgt)
    with h5py.File(path, "r") as a, h5py.File(other, "r") as b:
        for nm in ("source_node_id", "target_node_id"):
            assert a[f"edges/{POP}/{nm}"].dtype == np.uint64
            assert a[f"edges/{POP}/{nm}"].attrs["node_population"] in ("a", "b")
        for direction in ("source_to_target", "target_to_source"):
            for name in ("node_id_to_ranges", "range_to_edge_id"):
                x, y = a[f"edges/{POP}/indices/{direction}/{name}"], b[f"edges/{POP}/indices/{direction}/{name}"]
                assert x.dtype == np.uint64 and x.shape[1] == 2, (direction, name)
                if y.size == 0:  # libsonata writes an empty range_to_edge_id with shape (0, 1)
                    assert x.shape == (0, 2)
                    continue
                assert x.shape == y.shape, (direction, name)
                np.testing.assert_array_equal(x[()], y[()])


def test_queries_equal_brute_force_and_libsonata(written):
    path, src, tgt, n_src, n_tgt = written
    pop = EdgePopulation(path, POP)
    ls = libsonata.EdgeStorage(str(path)).open_population(POP)
    for n in range(max(n_src, n_tgt) + 2):  # every node, and ids past the populations
        aff, eff = pop.afferent_edges(n), pop.efferent_edges(n)
        assert isinstance(aff, Selection)
        np.testing.assert_array_equal(aff.flat, brute(tgt, [n]))
        np.testing.assert_array_equal(eff.flat, brute(src, [n]))
        if n < n_tgt:
            assert aff.ranges.tolist() == [list(r) for r in ls.afferent_edges(n).ranges]
            np.testing.assert_array_equal(pop.afferent_nodes(n, unique=False), src[brute(tgt, [n])])
        if n < n_src:
            assert eff.ranges.tolist() == [list(r) for r in ls.efferent_edges(n).ranges]
            np.testing.assert_array_equal(pop.efferent_nodes(n), np.unique(tgt[brute(src, [n])]))
    rng = np.random.default_rng(1)
    for _ in range(30):
        nodes = rng.integers(0, max(n_src, n_tgt) + 3, int(rng.integers(0, 12)))
        np.testing.assert_array_equal(pop.afferent_edges(nodes).flat, brute(tgt, nodes))
        np.testing.assert_array_equal(pop.efferent_edges(nodes.tolist()).flat, brute(src, nodes))
        np.testing.assert_array_equal(pop.afferent_edges(Selection.from_values(nodes)).flat, brute(tgt, nodes))
    assert pop.afferent_edges(np.int64(1)) == pop.afferent_edges([1])
    pop.close()  # handles are reopened after a close
    np.testing.assert_array_equal(pop.afferent_nodes(1, unique=False), src[brute(tgt, [1])])


def test_queries_without_a_file_index(tmp_path):
    rng = np.random.default_rng(4)
    src, tgt = make_edges(rng, 5000, 60, 50, sort_target=False)
    path = tmp_path / "noindex.h5"
    write(path, src, tgt, 60, 50, index=False)
    pop = EdgePopulation(path, POP)
    assert not pop.has_index
    for n in range(62):
        np.testing.assert_array_equal(pop.afferent_edges(n).flat, brute(tgt, [n]))
        np.testing.assert_array_equal(pop.efferent_edges(n).flat, brute(src, [n]))
    np.testing.assert_array_equal(pop.afferent_edges([3, 9, 3, 70]).flat, brute(tgt, [3, 9]))


@pytest.mark.parametrize("e,n", [(2000, 30), (100_000, 40)])  # range_to_edge_id in memory / read per query
def test_corrupt_edge_range_is_a_format_error(tmp_path, e, n):
    rng = np.random.default_rng(9)
    src, tgt = make_edges(rng, e, n, n)
    path = tmp_path / "bad.h5"
    write(path, src, tgt, n, n)
    with h5py.File(path, "r+") as f:
        for direction in ("target_to_source", "source_to_target"):
            r2e = f[f"edges/{POP}/indices/{direction}/range_to_edge_id"]
            n2r = f[f"edges/{POP}/indices/{direction}/node_id_to_ranges"][()]
            row = int(n2r[3, 0])
            r2e[row] = [5, e + 10]
    pop = EdgePopulation(path, POP)
    for query in (pop.afferent_edges, pop.efferent_edges):
        with pytest.raises(SonataFormatError, match="range_to_edge_id"):
            query(3)
        with pytest.raises(SonataFormatError, match="range_to_edge_id"):
            query([2, 3])


def test_writer_checks_node_counts(tmp_path):
    src = np.arange(100_000) % 50
    tgt = np.sort(src)
    data = EdgePopulationData.from_columns(POP, "a", "b", src, tgt, np.zeros(len(src), int),
                                           source_node_count=40, target_node_count=50)
    with pytest.raises(SonataFormatError, match="source_to_target"):
        write_edges(tmp_path / "x.h5", [data])
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_writer_accepts_narrow_int_ids(tmp_path):
    rng = np.random.default_rng(2)
    src, tgt = make_edges(rng, 80_000, 100, 100)
    write(tmp_path / "a.h5", src.astype(np.int32), tgt.astype(np.uint16), 100, 100)
    write(tmp_path / "b.h5", src, tgt, 100, 100)
    with h5py.File(tmp_path / "a.h5", "r") as a, h5py.File(tmp_path / "b.h5", "r") as b:
        for name in ("source_node_id", "target_node_id", "indices/source_to_target/range_to_edge_id",
                     "indices/target_to_source/node_id_to_ranges"):
            assert a[f"edges/{POP}/{name}"].dtype == np.uint64
            np.testing.assert_array_equal(a[f"edges/{POP}/{name}"][()], b[f"edges/{POP}/{name}"][()])


def test_selection_from_rows():
    rows = np.array([[4, 9]], dtype=np.int64)
    s = Selection._from_rows(rows)
    rows[0, 0] = 0  # the selection holds a copy
    assert s.ranges.tolist() == [[4, 9]] and len(s) == 5
    assert len(Selection._from_rows(np.array([[3, 3]], dtype=np.int64))) == 0
    assert Selection._from_rows(np.array([[5, 7], [0, 2], [2, 3]])).ranges.tolist() == [[0, 3], [5, 7]]
    assert Selection._from_rows(np.empty((0, 2), np.int64)) == Selection()
    with pytest.raises(ValueError):
        Selection._from_rows(np.array([[5, 2]]))
    with pytest.raises(ValueError):
        Selection._from_rows(np.array([[-1, 2]]))


def test_index_in_other_integer_dtypes(tmp_path):
    """Hand-written files: int64 / float ranges are read, a negative start is a format error."""
    rng = np.random.default_rng(11)
    src, tgt = make_edges(rng, 100_000, 40, 40)
    path = tmp_path / "dtypes.h5"
    write(path, src, tgt, 40, 40)
    with h5py.File(path, "r+") as f:
        for direction, dt in (("target_to_source", np.int64), ("source_to_target", np.float64)):
            g = f[f"edges/{POP}/indices/{direction}"]
            r2e = g["range_to_edge_id"][()]
            del g["range_to_edge_id"]
            g.create_dataset("range_to_edge_id", data=r2e.astype(dt))
    pop = EdgePopulation(path, POP)
    for n in (0, 7, 39):
        np.testing.assert_array_equal(pop.afferent_edges(n).flat, brute(tgt, [n]))
        np.testing.assert_array_equal(pop.efferent_edges(n).flat, brute(src, [n]))
    np.testing.assert_array_equal(pop.efferent_edges([1, 2]).flat, brute(src, [1, 2]))
    pop.close()
    with h5py.File(path, "r+") as f:
        r2e = f[f"edges/{POP}/indices/target_to_source/range_to_edge_id"]
        row = int(f[f"edges/{POP}/indices/target_to_source/node_id_to_ranges"][5, 0])
        r2e[row] = [-3, 2]
    with pytest.raises(SonataFormatError, match="range_to_edge_id"):
        EdgePopulation(path, POP).afferent_edges(5)


def test_query_argument_forms(written):
    path, src, tgt, n_src, n_tgt = written
    pop = EdgePopulation(path, POP)
    ref = brute(tgt, [2])
    for arg in (2, np.int64(2), np.uint64(2), np.int32(2), [2], np.array([2]), (2, 2), Selection([(2, 3)])):
        np.testing.assert_array_equal(pop.afferent_edges(arg).flat, ref)
    assert not pop.afferent_edges([]) and not pop.afferent_edges(-1) and not pop.afferent_edges(10**12)
    with pytest.raises(TypeError):
        pop.afferent_edges(True)
    with pytest.raises(TypeError):
        pop.efferent_edges([0.5])


def test_selection_from_rows_multi():
    assert Selection._from_rows(np.array([[0, 2], [4, 6], [9, 10]])).ranges.tolist() == [[0, 2], [4, 6], [9, 10]]
    assert Selection._from_rows(np.array([[0, 2], [2, 3]])).ranges.tolist() == [[0, 3]]  # adjacent: merged
    assert Selection._from_rows(np.array([[0, 2], [3, 3], [5, 6]])).ranges.tolist() == [[0, 2], [5, 6]]
    assert Selection._from_rows(np.array([[0, 4], [1, 2]])).ranges.tolist() == [[0, 4]]  # overlapping


def test_write_edges_overwrite_and_no_temp_files(tmp_path):
    from modelkit.errors import OutputExistsError

    rng = np.random.default_rng(13)
    src, tgt = make_edges(rng, 70_000, 50, 50)  # threaded index path
    path = tmp_path / "e.h5"
    write(path, src, tgt, 50, 50)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        write(path, src, tgt, 50, 50)
    assert path.read_bytes() == before
    data = EdgePopulationData.from_columns(POP, "a", "b", src[::-1], tgt, np.zeros(len(src), int))
    write_edges(path, [data], overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.h5"]
    np.testing.assert_array_equal(EdgePopulation(path, POP).source_ids(), src[::-1])
