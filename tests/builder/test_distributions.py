"""modelkit.builder.distributions: laws (KS, moments within standard errors), truncation, seeding, validation."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
from scipy.special import gammainc, ndtr  # scipy.special, not scipy.stats: a much faster import

from modelkit.builder.distributions import (Choice, Constant, Distribution, Exponential, Gamma, Integers, LogNormal,
                                            Normal, Uniform, as_generator)
from modelkit.errors import BuilderError, ModelkitError

N = 20_000
KS_BOUND = 1.63 / math.sqrt(N)  # KS critical value at alpha = 0.01 (fixed seeds: a fixed outcome)
Z = 5.0  # standard errors allowed for moments


def ks(x: np.ndarray, cdf) -> float:
    """Kolmogorov-Smirnov statistic of the sample ``x`` against ``cdf``."""
    x = np.sort(x)
    f, i = cdf(x), np.arange(1, x.size + 1)
    return float(max((i / x.size - f).max(), (f - (i - 1) / x.size).max()))


def phi(z):
    finite = np.nan_to_num(z, posinf=0.0, neginf=0.0)
    return np.where(np.isfinite(z), np.exp(-0.5 * finite * finite) / math.sqrt(2 * math.pi), 0.0)


def truncnorm_law(mu, sd, a=-math.inf, b=math.inf):
    """(support, cdf, mean, var) of Normal(mu, sd) truncated to [a, b] (textbook formulas)."""
    al, be = (a - mu) / sd, (b - mu) / sd
    mass = float(ndtr(be) - ndtr(al))
    zphi = lambda z: float(z * phi(z)) if math.isfinite(z) else 0.0  # noqa: E731
    m = float(phi(al) - phi(be)) / mass
    var = sd**2 * (1 + (zphi(al) - zphi(be)) / mass - m**2)
    return (a, b), lambda x: np.clip((ndtr((x - mu) / sd) - ndtr(al)) / mass, 0, 1), mu + sd * m, var


def lognormal_law(mu, s):
    cdf = lambda x: ndtr((np.log(np.maximum(x, 1e-300)) - mu) / s)  # noqa: E731
    return (0, math.inf), cdf, math.exp(mu + s * s / 2), (math.exp(s * s) - 1) * math.exp(2 * mu + s * s)


CONTINUOUS = [
    (Uniform(-70.0, -60.0), ((-70, -60), lambda x: (x + 70) / 10, -65.0, 100 / 12)),
    (Normal(10.0, 2.0), truncnorm_law(10.0, 2.0)),
    (Normal(10.0, 2.0, low=8.0, high=15.0), truncnorm_law(10.0, 2.0, 8.0, 15.0)),
    (Normal(0.0, 1.0, low=0.5), truncnorm_law(0.0, 1.0, a=0.5)),
    (Normal(0.0, 1.0, high=-1.0), truncnorm_law(0.0, 1.0, b=-1.0)),
    (Normal(0.0, 1.0, low=2.5, high=3.0), truncnorm_law(0.0, 1.0, 2.5, 3.0)),  # acceptance ~0.5 %
    (LogNormal(0.5, 0.4), lognormal_law(0.5, 0.4)),
    (Exponential(5.0), ((0, math.inf), lambda x: 1 - np.exp(-x / 5.0), 5.0, 25.0)),
    (Gamma(2.5, 3.0), ((0, math.inf), lambda x: gammainc(2.5, x / 3.0), 7.5, 22.5)),
    (Gamma(0.5), ((0, math.inf), lambda x: gammainc(0.5, x), 0.5, 0.5)),
]
ALL = [d for d, _ in CONTINUOUS] + [Choice([1.5, 2.5, 7.0], p=[0.2, 0.3, 0.5]), Choice(["e", "i"]),
                                    Integers(-3, 4), Constant(3.0)]


@pytest.mark.parametrize("dist, law", CONTINUOUS, ids=[repr(d) for d, _ in CONTINUOUS])
def test_continuous_laws(dist, law):
    (lo, hi), cdf, mean, var = law
    x = dist.sample(N, rng=17)
    assert x.shape == (N,) and x.dtype == np.float64 == dist.dtype
    assert (x >= lo).all() and (x <= hi).all()
    assert ks(x, cdf) < KS_BOUND
    assert abs(x.mean() - mean) < Z * math.sqrt(var / N)
    m4 = np.mean((x - x.mean()) ** 4)
    assert abs(x.var() - var) < Z * math.sqrt((m4 - x.var() ** 2) / N)  # SE of the sample variance


def test_law_checks_have_power():
    """The checks above reject near misses: Normal(10, 2.1) for Normal(10, 2), Gamma(2.5, 3) for Gamma(2.4, 3)."""
    x = Normal(10.0, 2.1).sample(N, rng=17)
    var = truncnorm_law(10.0, 2.0)[3]
    m4 = np.mean((x - x.mean()) ** 4)
    assert abs(x.var() - var) > Z * math.sqrt((m4 - x.var() ** 2) / N)
    assert ks(Gamma(2.5, 3.0).sample(N, rng=1), lambda v: gammainc(2.4, v / 3.0)) > KS_BOUND


def test_truncated_normal_resamples_not_clips():
    d = Normal(0.0, 1.0, low=-0.5, high=0.5)
    x = d.sample(N, rng=1)
    assert x.min() >= -0.5 and x.max() <= 0.5
    assert not np.isin(x, [-0.5, 0.5]).any()  # clipping would pile ~62 % of the values on the bounds
    clipped = np.clip(np.random.default_rng(1).normal(0.0, 1.0, N), -0.5, 0.5)
    cdf = truncnorm_law(0.0, 1.0, -0.5, 0.5)[1]
    assert ks(x, cdf) < KS_BOUND
    assert ks(clipped, cdf) > 10 * KS_BOUND  # the check above tells resampling from clipping
    assert ks(x, ndtr) > 10 * KS_BOUND
    assert d.acceptance == pytest.approx(2 * ndtr(0.5) - 1)


def test_truncated_normal_hopeless_bounds_refused():
    for kwargs in (dict(low=3.5), dict(high=-3.5), dict(low=10.0, high=11.0)):
        with pytest.raises(BuilderError, match=r"^Normal\(low, high\).*resampling would not end"):
            Normal(0.0, 1.0, **kwargs)
    with pytest.raises(BuilderError, match=r"^Normal\(low, high\)"):
        Normal(5.0, 0.0, low=0.0, high=1.0)
    assert (Normal(0.5, 0.0, low=0.0, high=1.0).sample(10, rng=0) == 0.5).all()
    Normal(0.0, 1.0, low=3.0)  # ~0.13 % acceptance: still allowed
    assert (Normal(0.0, 1.0, low=3.0).sample(100, rng=0) >= 3.0).all()


class CountingGenerator(np.random.Generator):
    """Counts the outermost calls of drawing methods (not numpy's internal ones), to check vectorisation."""

    calls = 0
    _depth = 0

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name not in {"normal", "uniform", "lognormal", "exponential", "gamma", "choice", "integers", "random"}:
            return attr
        cls = type(self)

        def counted(*args, **kwargs):
            cls.calls += cls._depth == 0
            cls._depth += 1
            try:
                return attr(*args, **kwargs)
            finally:
                cls._depth -= 1

        return counted


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_seeding_and_vectorised(dist):
    a = dist.sample(1000, rng=123)
    np.testing.assert_array_equal(a, dist.sample(1000, rng=123))
    np.testing.assert_array_equal(a, dist.sample(1000, rng=np.random.default_rng(123)))
    if not isinstance(dist, Constant):
        assert not np.array_equal(a, dist.sample(1000, rng=124))
        gen = np.random.default_rng(0)
        assert not np.array_equal(dist.sample(1000, gen), dist.sample(1000, gen))  # the Generator advances
    CountingGenerator.calls = 0
    dist.sample(10_000, CountingGenerator(np.random.PCG64(0)))
    if isinstance(dist, Constant):
        assert CountingGenerator.calls == 0
    elif isinstance(dist, Normal) and (dist.low, dist.high) != (None, None):
        assert 1 <= CountingGenerator.calls <= 3  # rejection rounds, not one call per value
    else:
        assert CountingGenerator.calls == 1
    empty = dist.sample(0, rng=0)
    assert empty.shape == (0,) and empty.dtype == dist.dtype


def test_global_state_untouched():
    np.random.seed(3)
    before = np.random.get_state()[1].copy()
    for d in ALL:
        d.sample(100, rng=1)
        d.sample(100)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_choice_frequencies_and_dtypes():
    d = Choice(["pyr", "pv", "sst"], p=[0.6, 0.3, 0.1])
    x = d.sample(N, rng=2)
    assert x.dtype.kind == "U" and d.dtype == x.dtype
    for v, p in zip(["pyr", "pv", "sst"], [0.6, 0.3, 0.1]):
        assert abs((x == v).mean() - p) < Z * math.sqrt(p * (1 - p) / N)
    y = Choice([10, 20, 30, 40]).sample(N, rng=3)
    assert y.dtype == np.int64 and set(np.unique(y)) == {10, 20, 30, 40}
    assert np.abs(np.bincount(y // 10 - 1) / N - 0.25).max() < Z * math.sqrt(0.25 * 0.75 / N)
    assert set(Choice([1, 2], p=[1.0, 0.0]).sample(100, rng=0)) == {1}


def test_integers_range_and_uniformity():
    d = Integers(-3, 4)
    x = d.sample(N, rng=4)
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 3  # high excluded
    freq = np.bincount(x + 3, minlength=7) / N
    assert np.abs(freq - 1 / 7).max() < Z * math.sqrt((1 / 7) * (6 / 7) / N)
    assert (Integers(5, 6).sample(50, rng=0) == 5).all()
    assert Integers(np.int32(0), np.int64(2)).sample(3, rng=0).dtype == np.int64


def test_constant():
    assert Constant(2).sample(3).tolist() == [2, 2, 2] and Constant(2).dtype == np.int64
    assert Constant("biophysical").sample(2).tolist() == ["biophysical"] * 2
    assert Constant(np.float32(1.5)).value == 1.5 and type(Constant(np.float32(1.5)).value) is float
    gen = np.random.default_rng(0)
    state = copy.deepcopy(gen.bit_generator.state)
    Constant(1.0).sample(10, gen)
    assert gen.bit_generator.state == state  # draws nothing


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_repr_eq_hash_pickle_immutable(dist):
    ns = {k: v for k, v in globals().items() if isinstance(v, type) and issubclass(v, Distribution)}
    assert eval(repr(dist), ns) == dist
    assert hash(eval(repr(dist), ns)) == hash(dist)
    back = pickle.loads(pickle.dumps(dist))
    assert back == dist
    np.testing.assert_array_equal(back.sample(50, rng=9), dist.sample(50, rng=9))
    with pytest.raises(AttributeError):
        dist.low = 0.0
    assert dist != Constant(-12345.0) or isinstance(dist, Constant)


def test_repr_is_readable():
    assert repr(Normal(10, 2)) == "Normal(mean=10.0, std=2.0)"
    assert repr(Normal(10, 2, low=0)) == "Normal(mean=10.0, std=2.0, low=0.0)"
    assert repr(Choice(["e", "i"], p=[0.8, 0.2])) == "Choice(values=['e', 'i'], p=[0.8, 0.2])"
    assert repr(Integers(0, 5)) == "Integers(low=0, high=5)"
    assert Normal(1, 2) != Normal(1, 3) and Uniform(0, 1) != Normal(0, 1)


@pytest.mark.parametrize("make, argument", [
    (lambda: Normal(0.0, -1.0), r"Normal\(std\)"),
    (lambda: Normal(math.nan, 1.0), r"Normal\(mean\)"),
    (lambda: Normal(0.0, 1.0, low=1.0, high=1.0), r"Normal\(low, high\)"),
    (lambda: Normal(0.0, 1.0, low=2.0, high=1.0), r"Normal\(low, high\)"),
    (lambda: Normal("a", 1.0), r"Normal\(mean\)"),
    (lambda: Uniform(1.0, 1.0), r"Uniform\(low, high\)"),
    (lambda: Uniform(0.0, math.inf), r"Uniform\(high\)"),
    (lambda: LogNormal(0.0, -0.1), r"LogNormal\(sigma\)"),
    (lambda: Exponential(0.0), r"Exponential\(scale\)"),
    (lambda: Gamma(0.0), r"Gamma\(shape\)"),
    (lambda: Gamma(1.0, -2.0), r"Gamma\(scale\)"),
    (lambda: Choice([]), r"Choice\(values\)"),
    (lambda: Choice([[1, 2], [3, 4]]), r"Choice\(values\)"),
    (lambda: Choice([1, 2], p=[0.5, 0.6]), r"Choice\(p\)"),
    (lambda: Choice([1, 2], p=[1.5, -0.5]), r"Choice\(p\)"),
    (lambda: Choice([1, 2], p=[1.0]), r"Choice\(p\)"),
    (lambda: Choice([1, 2], p=[math.nan, 1.0]), r"Choice\(p\)"),
    (lambda: Choice([1, 2], p=["a", "b"]), r"Choice\(p\)"),
    (lambda: Integers(3, 3), r"Integers\(low, high\)"),
    (lambda: Integers(0.0, 3), r"Integers\(low\)"),
    (lambda: Integers(0, 2.5), r"Integers\(high\)"),
    (lambda: Integers(False, 3), r"Integers\(low\)"),
    (lambda: Integers(0, 2**64), r"Integers\(low, high\)"),
    (lambda: Constant([1, 2]), r"Constant\(value\)"),
    (lambda: Constant(None), r"Constant\(value\)"),
    (lambda: Normal(0, 1).sample(-1), r"n"),
    (lambda: Normal(0, 1).sample(2.0), r"n"),
    (lambda: Normal(0, 1).sample(True), r"n"),
    (lambda: Normal(0, 1).sample(3, rng=np.random.RandomState(0)), r"rng"),
    (lambda: Normal(0, 1).sample(3, rng=-1), r"rng"),
    (lambda: as_generator("x"), r"rng"),
])
def test_invalid_parameters(make, argument):
    with pytest.raises(BuilderError, match=f"^{argument}: expected") as exc:
        make()
    assert isinstance(exc.value, ModelkitError)
