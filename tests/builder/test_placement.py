"""modelkit.builder.placement: shapes, uniformity (KS against analytic CDFs), seeding, bmtk compatibility."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest

from modelkit.builder.placement import (box, column, grid, layers, positions_columinar, positions_columnar,
                                        positions_cuboid, positions_ellipsoid, positions_list, positions_rect_prism,
                                        random_rotations, sphere, xiter_random)
from modelkit.errors import BuilderError, ModelkitError

N = 20_000
KS_BOUND = 1.63 / math.sqrt(N)  # KS critical value at alpha = 0.01; seeds are fixed, so the outcome is too


def ks(x: np.ndarray, cdf) -> float:
    """Kolmogorov-Smirnov statistic of the sample ``x`` against ``cdf``."""
    x = np.sort(x)
    f, i = cdf(x), np.arange(1, x.size + 1)
    return float(max((i / x.size - f).max(), (f - (i - 1) / x.size).max()))


def uniform_cdf(lo: float, hi: float):
    return lambda v: np.clip((v - lo) / (hi - lo), 0.0, 1.0)


@pytest.fixture
def global_seed():
    """Seed numpy's global state and put it back afterwards."""
    state = np.random.get_state()
    yield lambda s: np.random.seed(s)
    np.random.set_state(state)


# ---------------------------------------------------------------- column


@pytest.mark.parametrize("axis, ax", [("y", 1), ("x", 0), ("Z", 2), (1, 1)])
def test_column_inside_and_uniform_in_volume(axis, ax):
    c = np.array([10.0, -400.0, 3.0])
    h, r0, r1 = 300.0, 20.0, 150.0
    pos = column(N, center=c, height=h, min_radius=r0, max_radius=r1, axis=axis, rng=11)
    assert pos.shape == (N, 3) and pos.dtype == np.float64
    d = pos - c
    across = [i for i in range(3) if i != ax]
    r = np.hypot(d[:, across[0]], d[:, across[1]])
    along = d[:, ax]
    assert r.min() >= r0 - 1e-9 and r.max() <= r1 + 1e-9
    assert np.abs(along).max() <= h / 2
    # radius: uniform in area of the annulus, F(r) = (r^2 - r0^2) / (r1^2 - r0^2)
    assert ks(r, lambda v: np.clip((v**2 - r0**2) / (r1**2 - r0**2), 0, 1)) < KS_BOUND
    assert ks(along, uniform_cdf(-h / 2, h / 2)) < KS_BOUND
    assert ks(np.arctan2(d[:, across[1]], d[:, across[0]]), uniform_cdf(-math.pi, math.pi)) < KS_BOUND


def test_column_ks_check_has_power():
    """The KS bound rejects a radius uniform in r (the classic bug), so the test above cannot pass by accident."""
    pos = column(N, max_radius=100.0, rng=3)
    r = np.hypot(pos[:, 0], pos[:, 2])
    assert ks(r, lambda v: np.clip(v / 100.0, 0, 1)) > 5 * KS_BOUND
    assert ks(r, lambda v: np.clip((v / 100.0) ** 2, 0, 1)) < KS_BOUND


def test_column_zero_radius_and_height():
    pos = column(50, center=(1, 2, 3), height=0.0, max_radius=0.0, rng=0)
    np.testing.assert_array_equal(pos, np.tile([1.0, 2.0, 3.0], (50, 1)))
    assert column(0, rng=0).shape == (0, 3)


# ---------------------------------------------------------------- sphere, box


@pytest.mark.parametrize("r0", [0.0, 60.0])
def test_sphere_inside_and_uniform_in_volume(r0):
    c, r1 = np.array([5.0, -7.0, 100.0]), 80.0
    pos = sphere(N, center=c, radius=r1, min_radius=r0, rng=5)
    d = pos - c
    r = np.linalg.norm(d, axis=1)
    assert r.min() >= r0 - 1e-9 and r.max() <= r1 + 1e-9
    assert ks(r, lambda v: np.clip((v**3 - r0**3) / (r1**3 - r0**3), 0, 1)) < KS_BOUND
    # isotropy: each direction cosine is uniform on [-1, 1] (Archimedes)
    for i in range(3):
        assert ks(d[:, i] / r, uniform_cdf(-1.0, 1.0)) < KS_BOUND
    # and a wrong radial law is rejected
    assert ks(r, lambda v: np.clip((v - r0) / (r1 - r0), 0, 1)) > 5 * KS_BOUND


def test_box_inside_and_uniform():
    lo, hi = np.array([-50.0, -800.0, 0.0]), np.array([50.0, 0.0, 10.0])
    pos = box(N, low=lo, high=hi, rng=2)
    assert (pos >= lo).all() and (pos < hi).all()
    for i in range(3):
        assert ks(pos[:, i], uniform_cdf(lo[i], hi[i])) < KS_BOUND
    flat = box(10, low=(0, 5, 0), high=(1, 5, 1), rng=2)
    assert (flat[:, 1] == 5.0).all()


# ---------------------------------------------------------------- grid, layers, rotations


def test_grid_shape_spacing_origin():
    g = grid((2, 3, 4), spacing=(1.0, 10.0, 100.0), origin=(5, 6, 7))
    assert g.shape == (24, 3)
    assert g[0].tolist() == [5.0, 6.0, 7.0] and g[1].tolist() == [5.0, 6.0, 107.0]
    assert sorted(set(g[:, 1])) == [6.0, 16.0, 26.0]
    assert len({tuple(p) for p in g}) == 24
    assert grid((2, 2, 2), spacing=3.0).max(axis=0).tolist() == [3.0, 3.0, 3.0]


@pytest.mark.parametrize("n, dims", [(0, (0, 0, 0)), (1, (1, 1, 1)), (8, (2, 2, 2)), (9, (3, 2, 2)),
                                     (13, (3, 3, 2)), (19, (3, 3, 3)), (27, (3, 3, 3)), (28, (4, 3, 3)),
                                     (1000, (10, 10, 10)), (1001, (11, 10, 10))])
def test_grid_count_is_smallest_near_cubic(n, dims):
    g = grid(n, spacing=1.0)
    assert g.shape == (n, 3)
    np.testing.assert_array_equal(g, grid(dims, spacing=1.0)[:n])
    if n:
        assert (g.max(axis=0) + 1 <= np.array(dims)).all()


def test_layers_counts_bounds_radius():
    counts = [300, 0, 500, 200]
    bounds = [(-100.0, 0.0), (-150.0, -100.0), (-400.0, -150.0), (-900.0, -400.0)]
    radius = [50.0, 60.0, 70.0, 80.0]
    center = np.array([10.0, 1000.0, -20.0])
    pos, layer = layers(counts, bounds, radius=radius, center=center, rng=4)
    assert pos.shape == (1000, 3) and layer.dtype == np.int64
    assert np.bincount(layer, minlength=4).tolist() == counts
    assert (np.diff(layer) >= 0).all()
    b, rad = np.array(bounds)[layer], np.array(radius)[layer]
    depth = pos[:, 1] - center[1]
    assert (depth >= b[:, 0]).all() and (depth <= b[:, 1]).all()
    assert (np.hypot(pos[:, 0] - center[0], pos[:, 2] - center[2]) <= rad + 1e-9).all()
    big, lay = layers([N], [(-300.0, -100.0)], radius=40.0, rng=9)
    assert ks(big[:, 1], uniform_cdf(-300.0, -100.0)) < KS_BOUND
    assert ks(np.hypot(big[:, 0], big[:, 2]), lambda v: np.clip((v / 40.0) ** 2, 0, 1)) < KS_BOUND


def test_layers_other_axis():
    pos, _ = layers([100], [(0.0, 10.0)], radius=1.0, axis="z", rng=0)
    assert (pos[:, 2] >= 0).all() and (pos[:, 2] <= 10).all() and (np.hypot(pos[:, 0], pos[:, 1]) <= 1).all()


def test_random_rotations():
    rot = random_rotations(N, rng=8)
    assert list(rot) == ["rotation_angle_yaxis"]
    a = rot["rotation_angle_yaxis"]
    assert a.shape == (N,) and (a >= 0).all() and (a < 2 * math.pi).all()
    assert ks(a, uniform_cdf(0.0, 2 * math.pi)) < KS_BOUND
    xz = random_rotations(10, axes="zx", rng=1)
    assert sorted(xz) == ["rotation_angle_xaxis", "rotation_angle_zaxis"]
    xz2 = random_rotations(10, axes=("x", "z"), rng=1)
    for k in xz:
        np.testing.assert_array_equal(xz[k], xz2[k])
    assert not np.array_equal(xz["rotation_angle_xaxis"], xz["rotation_angle_zaxis"])


# ---------------------------------------------------------------- seeding


SEEDED = [
    lambda rng: column(100, rng=rng),
    lambda rng: sphere(100, rng=rng),
    lambda rng: box(100, rng=rng),
    lambda rng: layers([50, 50], [(0, 1), (1, 2)], rng=rng)[0],
    lambda rng: random_rotations(100, axes="xyz", rng=rng)["rotation_angle_zaxis"],
    lambda rng: positions_columinar(100, rng=rng),
    lambda rng: positions_rect_prism(100, rng=rng),
    lambda rng: positions_ellipsoid(100, rng=rng),
    lambda rng: positions_cuboid(100, rng=rng),
    lambda rng: xiter_random(100, rng=rng),
]


@pytest.mark.parametrize("f", SEEDED)
def test_same_seed_same_output_and_only_rng_is_used(f, global_seed):
    global_seed(0)
    before = np.random.get_state()[1].copy()
    a = f(123)
    np.testing.assert_array_equal(a, f(123))
    np.testing.assert_array_equal(a, f(np.random.default_rng(123)))
    assert not np.array_equal(a, f(124))
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # the global state was not touched
    gen = np.random.default_rng(5)
    assert not np.array_equal(f(gen), f(gen))  # a Generator passed in is advanced


def test_bad_arguments_raise_builder_error():
    bad = [
        (lambda: column(-1), "N"), (lambda: column(2.0), "N"), (lambda: column(True), "N"),
        (lambda: column(5, min_radius=10.0, max_radius=5.0), "min_radius"),
        (lambda: column(5, height=-1.0), "height"), (lambda: column(5, axis="w"), "axis"),
        (lambda: column(5, axis=3), "axis"), (lambda: column(5, center=(0, 0)), "center"),
        (lambda: column(5, center=(0, np.nan, 0)), "center"),
        (lambda: sphere(5, radius=1.0, min_radius=2.0), "min_radius"), (lambda: sphere(5, radius=-1), "radius"),
        (lambda: box(5, low=(0, 0, 1), high=(1, 1, 0)), "low"),
        (lambda: grid((2, 2)), "shape"), (lambda: grid((2, -1, 2)), "shape"), (lambda: grid(-3), "shape"),
        (lambda: grid(4, spacing=0.0), "spacing"),
        (lambda: layers([1, 2], [(0, 1)]), "bounds"), (lambda: layers([1], [(1, 0)]), "bounds"),
        (lambda: layers([1, 2], [(0, 1), (1, 2)], radius=[1, 2, 3]), "radius"),
        (lambda: layers([-1], [(0, 1)]), "counts"),
        (lambda: random_rotations(3, axes="yy"), "axes"), (lambda: random_rotations(3, axes="q"), "axis"),
        (lambda: column(3, rng=np.random.RandomState(0)), "rng"), (lambda: column(3, rng="seed"), "rng"),
        (lambda: positions_cuboid(N=10**6), "N"), (lambda: positions_cuboid(min_dist=0), "min_dist"),
        (lambda: positions_ellipsoid(height=0), "height"), (lambda: positions_list([1, 2, 3]), "positions"),
        (lambda: positions_list([[1, 2]]), "positions"), (lambda: xiter_random(-2), "N"),
    ]
    for f, arg in bad:
        with pytest.raises(BuilderError, match=f"^{arg}") as exc:
            f()
        assert isinstance(exc.value, ModelkitError)
        pickle.loads(pickle.dumps(exc.value))


# ---------------------------------------------------------------- bmtk compatibility


@pytest.fixture(scope="module")
def bmtk_params():
    return pytest.importorskip("bmtk.builder.auxi.node_params")


BMTK_CASES = [
    ("positions_columinar", {}),
    ("positions_columinar", dict(N=2000, center=[1.5, -20.0, 3.0], height=200.0, min_radius=10.0, max_radius=80.0)),
    ("positions_columinar", dict(N=100, center=[1, 2, 3], height=7, min_radius=2, max_radius=9)),
    ("positions_columnar", dict(N=10)),
    ("positions_rect_prism", {}),
    ("positions_rect_prism", dict(N=2000, center=[1.5, -20.0, 3.0], height=200.0, x_length=30, z_length=70.5)),
    ("positions_ellipsoid", dict(N=2000, center=[1.5, -20.0, 3.0], height=200.0, x_length=30, z_length=70.5)),
    ("positions_cuboid", {}),
    ("positions_cuboid", dict(N=50, height=100, xside_length=120, yside_length=80, min_dist=20)),
    ("positions_cuboid", dict(N=10, center=[5.0, 3.0, 1.0], height=50.0, xside_length=60.0, yside_length=40.0,
                              min_dist=7.5)),
    ("xiter_random", {}),
    ("xiter_random", dict(N=1000, min_x=0.0, max_x=2 * np.pi)),
]


@pytest.mark.parametrize("name, kwargs", BMTK_CASES)
@pytest.mark.parametrize("seed", [0, 2024])
def test_bmtk_names_reproduce_bmtk_exactly(name, kwargs, seed, global_seed, bmtk_params):
    import modelkit.builder.placement as mine

    global_seed(seed)
    expected = getattr(bmtk_params, name)(**kwargs)
    after_bmtk = np.random.get_state()[1].copy()
    global_seed(seed)
    got = getattr(mine, name)(**kwargs)
    assert got.dtype == np.float64 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.random.get_state()[1], after_bmtk)  # same draws consumed: later calls agree too


def test_bmtk_column_equals_column_with_same_stream():
    """``column(axis="y")`` is bmtk's algorithm: fed the same stream it gives the same points."""
    kw = dict(center=[1.0, 2.0, 3.0], height=50.0, min_radius=5.0, max_radius=20.0)
    np.testing.assert_array_equal(positions_columinar(500, rng=9, **kw), column(500, rng=9, **kw))
    assert positions_columnar is positions_columinar


def test_bmtk_ellipsoid_always_returns_n_points(global_seed, bmtk_params):
    """Same points as bmtk where bmtk finds N in its 3N draws; N points (bmtk: fewer or IndexError) otherwise."""
    kw = dict(N=2, center=[0, 0, 0], height=2.0, x_length=2.0, z_length=2.0)
    short = 0
    for seed in range(30):
        global_seed(seed)
        pos = positions_ellipsoid(**kw)
        assert pos.shape == (2, 3) and (np.linalg.norm(pos, axis=1) < 1.0).all()
        global_seed(seed)
        try:
            expected = bmtk_params.positions_ellipsoid(**kw)
            ok = expected.shape == (2, 3)
        except IndexError:
            ok = False
        if ok:
            np.testing.assert_array_equal(pos, expected)
        else:
            short += 1
            global_seed(seed)  # the points bmtk did find come first
            prism = bmtk_params.positions_rect_prism(6, [0, 0, 0], 2.0, 2.0, 2.0)
            found = prism[prism[:, 0] ** 2 + prism[:, 1] ** 2 + prism[:, 2] ** 2 < 1.0]
            np.testing.assert_array_equal(pos[: len(found)], found)
    assert short > 0  # the refill branch was exercised


def test_bmtk_plot_is_ignored_with_warning():
    with pytest.warns(UserWarning, match="plot"):
        pos = positions_columinar(N=5, plot=True, rng=0)
    assert pos.shape == (5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        positions_rect_prism(N=5, rng=0)


def test_positions_list(bmtk_params):
    np.testing.assert_array_equal(positions_list(), bmtk_params.positions_list())
    arr = np.array([[1, 2, 3, 99], [4, 5, 6, 99]])
    got = positions_list(arr)
    assert got.dtype == np.float64 and got.tolist() == [[1, 2, 3], [4, 5, 6]]
    got[0, 0] = -1
    assert arr[0, 0] == 1  # a copy
    assert positions_list([(0, 0, 0)]).shape == (1, 3)
