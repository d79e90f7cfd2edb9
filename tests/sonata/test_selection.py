import numpy as np
import pytest

from modelkit.sonata import Selection


def test_from_values_sorts_dedups_and_merges():
    s = Selection.from_values([5, 1, 2, 3, 3, 9, 10])
    assert s.ranges.tolist() == [[1, 4], [5, 6], [9, 11]]
    assert s.flat.tolist() == [1, 2, 3, 5, 9, 10]
    assert len(s) == 6 and 9 in s and 4 not in s


def test_overlapping_ranges_are_merged():
    s = Selection([(5, 8), (0, 2), (1, 6), (10, 10)])
    assert s.ranges.tolist() == [[0, 8]]


def test_set_operations():
    a = Selection.from_values([1, 2, 3, 7])
    b = Selection.from_values([3, 4, 7])
    assert (a | b).flat.tolist() == [1, 2, 3, 4, 7]
    assert (a & b).flat.tolist() == [3, 7]
    assert (a - b).flat.tolist() == [1, 2]


def test_empty_and_invalid():
    assert len(Selection()) == 0 and not Selection()
    assert Selection.from_values([]).flat.size == 0
    with pytest.raises(ValueError):
        Selection.from_values([-1])
    with pytest.raises(TypeError):
        Selection.from_values([0.5])


def test_pickle_roundtrip():
    import pickle
    s = Selection.from_values(np.arange(0, 100, 3))
    assert pickle.loads(pickle.dumps(s)) == s
