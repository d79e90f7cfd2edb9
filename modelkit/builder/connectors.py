"""Connection rules: vectorised (ids and positions in, pairs out) and adapters for bmtk-style callables.

Every rule answers one question for a block of targets: which sources connect
to which targets, with how many synapses.  ``connect(sources, targets, rng)``
returns three equal-length arrays ``(source_index, target_index, nsyns)`` —
positions into ``sources`` and ``targets`` — and never builds a Python object
per pair.  Rules whose ``blockwise`` is False (fixed out-degree, one-to-one,
bmtk's ``one_to_all`` iterator) are evaluated once on all targets.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import TYPE_CHECKING, Any, ClassVar, Union

import numpy as np

from modelkit._typing import ArrayLike
from modelkit.builder._callables import plain_value as _plain_value
from modelkit.builder._callables import positional as _positional
from modelkit.builder._callables import stateless as _stateless
from modelkit.builder.nodes import NodeArrays
from modelkit.errors import BuilderError

if TYPE_CHECKING:
    from modelkit.builder.distributions import Distribution

__all__ = ["ConnectionRule", "FixedProbability", "DistanceProbability", "FixedInDegree", "FixedOutDegree",
           "OneToOne", "AllToAll", "ArrayRule", "PairCallable", "ListRule", "as_rule"]

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]
_EMPTY = np.empty(0, dtype=np.int64)


def _nsyns(spec: Any, k: int, rng: np.random.Generator, where: str) -> np.ndarray:
    """Synapses per connection: an int, or a distribution sampled once per connection."""
    if hasattr(spec, "sample"):
        v = np.asarray(spec.sample(k, rng))
        if v.shape != (k,):
            raise BuilderError(where, f"{k} synapse counts from the distribution", f"shape {v.shape}")
        v = np.rint(v).astype(np.int64)
    else:
        v = np.full(k, int(spec), dtype=np.int64)
    if k and v.min() < 0:
        raise BuilderError(where, "non-negative synapse counts", str(int(v.min())))
    return v


def _check_nsyns_spec(spec: Any, where: str) -> None:
    if hasattr(spec, "sample"):
        return
    if isinstance(spec, bool) or not isinstance(spec, (int, np.integer)) or spec < 0:
        raise BuilderError(where, "a non-negative int or a Distribution of synapse counts", repr(spec))


def _same(sources: NodeArrays, targets: NodeArrays) -> bool:
    return sources.network == targets.network


def _drop_autapses(si: np.ndarray, ti: np.ndarray, sources: NodeArrays, targets: NodeArrays) -> np.ndarray:
    return sources.ids[si] != targets.ids[ti]


class ConnectionRule:
    """Base class of vectorised connection rules.

    Subclasses implement :meth:`connect`; ``blockwise`` says whether the rule may
    be evaluated on a block of targets at a time (with all sources).
    """

    blockwise: ClassVar[bool] = True
    #: bmtk's iterator the rule stands for in an edge-types CSV (informational)
    iterator: str = "one_to_one"

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        """Connections among ``sources`` x ``targets``.

        Parameters
        ----------
        sources : NodeArrays
            Candidate source nodes (columns, positions in µm, ids).
        targets : NodeArrays
            Candidate target nodes of this block.
        rng : numpy.random.Generator
            Seeded generator of this block.

        Returns
        -------
        source_index, target_index, nsyns : ndarray of int64
            Positions into ``sources`` / ``targets`` and synapses per connection.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class FixedProbability(ConnectionRule):
    """Each source-target pair connects independently with probability ``p``.

    Sampled as a Bernoulli process over the pairs (geometric gaps), so the cost
    is proportional to the connections made, not to the pairs.

    Parameters
    ----------
    p : float
        Connection probability, 0..1.
    nsyns : int or Distribution
        Synapses per connection.
    allow_autapses : bool
        Allow a node to connect to itself (same population only).
    """

    def __init__(self, p: float, nsyns: int | Distribution = 1, allow_autapses: bool = False) -> None:
        if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
            raise BuilderError("FixedProbability(p)", "a probability in [0, 1]", repr(p))
        _check_nsyns_spec(nsyns, "FixedProbability(nsyns)")
        self.p = float(p)
        self.nsyns = nsyns
        self.allow_autapses = allow_autapses

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        s, t = len(sources), len(targets)
        total = s * t
        if total == 0 or self.p == 0.0:
            return _EMPTY, _EMPTY, _EMPTY
        if self.p == 1.0:
            flat = np.arange(total, dtype=np.int64)
        else:
            flat = _bernoulli_positions(total, self.p, rng)
        ti, si = np.divmod(flat, s)
        if not self.allow_autapses and _same(sources, targets):
            keep = _drop_autapses(si, ti, sources, targets)
            si, ti = si[keep], ti[keep]
        return si, ti, _nsyns(self.nsyns, len(si), rng, "FixedProbability(nsyns)")


def _bernoulli_positions(total: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions in ``range(total)`` where independent Bernoulli(p) trials succeed."""
    expected = total * p
    chunk = int(expected + 6 * np.sqrt(expected * (1 - p)) + 16)
    parts = []
    last = -1
    while True:
        pos = rng.geometric(p, size=chunk).astype(np.int64, copy=False)
        np.cumsum(pos, out=pos)
        pos += last
        if pos[-1] >= total:
            parts.append(pos[:np.searchsorted(pos, total)])  # sorted: the first positions past the end
            break
        parts.append(pos)
        last = int(pos[-1])
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


class DistanceProbability(ConnectionRule):
    """Connection probability falling with soma distance; pairs beyond ``cutoff`` never connect.

    ``p(d) = p_max * exp(-d**2 / (2 sigma**2))`` (``kind="gaussian"``) or
    ``p_max * exp(-d / length)`` (``kind="exponential"``).  Candidate pairs come from
    scipy's cKDTree within the cutoff, block by block; all pairs are never enumerated.

    Parameters
    ----------
    p_max : float
        Probability at distance 0.
    sigma : float, optional
        Gaussian width (µm).
    length : float, optional
        Exponential length constant (µm).
    kind : {"gaussian", "exponential"}
    cutoff : float, optional
        Maximum distance (µm); default 3 sigma or 5 length.
    nsyns : int or Distribution
    allow_autapses : bool
    """

    def __init__(self, p_max: float = 1.0, sigma: float | None = None, length: float | None = None,
                 kind: str = "gaussian", cutoff: float | None = None, nsyns: int | Distribution = 1,
                 allow_autapses: bool = False) -> None:
        if kind not in ("gaussian", "exponential"):
            raise BuilderError("DistanceProbability(kind)", "'gaussian' or 'exponential'", repr(kind))
        scale = sigma if kind == "gaussian" else length
        name = "sigma" if kind == "gaussian" else "length"
        if scale is None or not scale > 0:
            raise BuilderError(f"DistanceProbability({name})", "a positive distance in µm", repr(scale))
        if not 0.0 <= p_max <= 1.0:
            raise BuilderError("DistanceProbability(p_max)", "a probability in [0, 1]", repr(p_max))
        _check_nsyns_spec(nsyns, "DistanceProbability(nsyns)")
        self.p_max = float(p_max)
        self.kind = kind
        self.scale = float(scale)
        self.cutoff = float(cutoff) if cutoff is not None else (3.0 if kind == "gaussian" else 5.0) * self.scale
        if not self.cutoff > 0:
            raise BuilderError("DistanceProbability(cutoff)", "a positive distance in µm", repr(cutoff))
        self.nsyns = nsyns
        self.allow_autapses = allow_autapses

    def probability(self, d: np.ndarray) -> np.ndarray:
        """Connection probability at distances ``d`` (µm).

        Parameters
        ----------
        d : ndarray
            Distances, µm.
        """
        d = np.asarray(d, dtype=np.float64)
        if d.ndim == 0:
            return self.probability(d.reshape(1)).reshape(())
        p = d / self.scale
        if self.kind == "gaussian":
            p *= p
            p *= -0.5
        else:
            np.negative(p, out=p)
        np.exp(p, out=p)
        p *= self.p_max
        p[d > self.cutoff] = 0.0
        return p

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        from scipy.spatial import cKDTree
        if len(sources) == 0 or len(targets) == 0:
            return _EMPTY, _EMPTY, _EMPTY
        sp, tp = sources.positions, targets.positions
        if sp is None or tp is None:
            raise BuilderError("DistanceProbability", "nodes with positions (positions or x/y/z)",
                               f"none in {sources.network if sp is None else targets.network}")
        tree = getattr(sources, "_kdtree", None)
        if tree is None:  # one tree per source pool, reused for every block of targets
            tree = cKDTree(sp)
            sources._kdtree = tree  # type: ignore[attr-defined]
        cand = cKDTree(tp).sparse_distance_matrix(tree, self.cutoff, output_type="ndarray")
        if len(cand) == 0:
            return _EMPTY, _EMPTY, _EMPTY
        # Each candidate pair is kept with probability p(d), against a uniform number hashed from
        # (block seed, target, source): the draws do not depend on the order in which the tree
        # lists the pairs, so only the kept pairs are sorted (by target, then source).
        s = len(sources)
        seed = int(rng.integers(0, 2**63))
        wide = len(targets) * s >= 2**32
        kt = np.uint64 if wide else np.uint32
        key = cand["i"].astype(kt)
        key *= kt(s)
        np.add(key, cand["j"], out=key, casting="unsafe")  # the pair's key: target * n_sources + source
        keep = _hash_uniform(key, seed)
        keep = np.less(keep, self._p_within(cand["v"]))
        del cand
        key = key[keep]
        del keep
        key.sort()
        ti_k, si_k = np.divmod(key, kt(s))
        si, ti = si_k.astype(np.int64), ti_k.astype(np.int64)
        del key, ti_k, si_k
        if not self.allow_autapses and _same(sources, targets):
            keep = _drop_autapses(si, ti, sources, targets)
            si, ti = si[keep], ti[keep]
        return si, ti, _nsyns(self.nsyns, len(si), rng, "DistanceProbability(nsyns)")

    def _p_within(self, d: np.ndarray) -> np.ndarray:
        """:meth:`probability` of distances known to be within the cutoff (a new float64 array)."""
        p = np.multiply(d, 1.0 / self.scale)
        if self.kind == "gaussian":
            np.multiply(p, p, out=p)
            p *= -0.5
        else:
            np.negative(p, out=p)
        np.exp(p, out=p)
        if self.p_max != 1.0:
            p *= self.p_max
        return p


def _hash_uniform(key: np.ndarray, seed: int) -> np.ndarray:
    """Uniform numbers in [0, 1), one per key (uint32 or uint64), from ``seed``.

    The key goes through an affine map drawn from the seed (an odd multiplier, an
    offset), then a finaliser that mixes every bit into every bit: murmur3's fmix32
    for 32-bit keys (32-bit uniforms), splitmix64's for 64-bit ones (53 bits).
    """
    ss = np.random.SeedSequence(seed).generate_state(4, np.uint64)
    if key.dtype == np.uint32:
        h = key * np.uint32((int(ss[0]) | 1) & 0xFFFFFFFF)
        h += np.uint32(int(ss[1]) & 0xFFFFFFFF)
        _fmix(h, (16, 13, 16), (0x85EBCA6B, 0xC2B2AE35))
        return np.multiply(h, 2.0 ** -32)
    x = key * np.uint64(int(ss[0]) | 1)
    x += np.uint64(ss[1])
    _fmix(x, (30, 27, 31), (0xBF58476D1CE4E5B9, 0x94D049BB133111EB))
    x >>= np.uint64(11)
    return np.multiply(x, 2.0 ** -53)


def _fmix(h: np.ndarray, shifts: tuple[int, int, int], multipliers: tuple[int, int]) -> None:
    """Mix ``h`` in place: xor-shift, multiply, xor-shift, multiply, xor-shift (murmur3's fmix32 and
    splitmix64's finaliser are this with their own shifts and multipliers; arithmetic wraps in h's dtype)."""
    u = h.dtype.type
    t = h >> u(shifts[0])
    h ^= t
    for shift, mult in zip(shifts[1:], multipliers):
        h *= u(mult)
        np.right_shift(h, u(shift), out=t)
        h ^= t


class _FixedDegree(ConnectionRule):
    """``k`` connections per target (:class:`FixedInDegree`) or per source (:class:`FixedOutDegree`)."""

    #: the public class's name, in error messages
    _name: ClassVar[str]
    #: True: ``k`` per target; False: ``k`` per source
    _by_target: ClassVar[bool]

    def __init__(self, k: int, nsyns: int | Distribution = 1, allow_autapses: bool = False,
                 multapses: bool = False) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise BuilderError(f"{self._name}(k)", "a non-negative int", repr(k))
        _check_nsyns_spec(nsyns, f"{self._name}(nsyns)")
        self.k = int(k)
        self.nsyns = nsyns
        self.allow_autapses = allow_autapses
        self.multapses = multapses

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        return _fixed_degree(self, sources, targets, rng, self._name, by_target=self._by_target)


class FixedInDegree(_FixedDegree):
    """Every target receives ``k`` connections from distinct sources chosen uniformly.

    Parameters
    ----------
    k : int
        In-degree.
    nsyns : int or Distribution
    allow_autapses : bool
    multapses : bool
        Draw sources with replacement; repeated sources add synapses to one connection.
    """

    _name = "FixedInDegree"
    _by_target = True


class FixedOutDegree(_FixedDegree):
    """Every source makes ``k`` connections onto distinct targets chosen uniformly (see FixedInDegree)."""

    blockwise = False
    _name = "FixedOutDegree"
    _by_target = False


def _fixed_degree(rule: Any, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator, name: str,
                  by_target: bool) -> Pairs:
    fixed, other = (targets, sources) if by_target else (sources, targets)
    n_other = len(other)
    same = (not rule.allow_autapses) and _same(sources, targets)
    k = rule.k
    if len(fixed) == 0 or k == 0 or n_other == 0:  # an empty selection: no edges (a warning is logged)
        return _EMPTY, _EMPTY, _EMPTY
    # position of each fixed node among the others (for excluding autapses); n_other when not among them
    self_pos = None
    inside = np.zeros(len(fixed), dtype=bool)
    if same:
        order = np.argsort(other.ids, kind="stable")
        hit = np.searchsorted(other.ids, fixed.ids, sorter=order)
        hit = np.minimum(hit, n_other - 1)
        self_pos = np.where(other.ids[order[hit]] == fixed.ids, order[hit], n_other)
        inside = self_pos < n_other
    pool = n_other - 1 if inside.any() else n_other  # candidates of the worst-off fixed node
    if k > pool and (not rule.multapses or pool == 0):
        raise BuilderError(f"{name}(k)", f"at most {pool} (the candidate nodes)", str(k))
    picks = np.empty((len(fixed), k), dtype=np.int64)
    for i in range(len(fixed)):
        c = rng.choice(n_other - int(inside[i]), k, replace=rule.multapses)
        if self_pos is not None:
            c = c + (c >= self_pos[i])  # skip the node itself
        picks[i] = np.sort(c)
    fixed_idx = np.repeat(np.arange(len(fixed), dtype=np.int64), k)
    other_idx = picks.ravel()
    if rule.multapses:  # merge repeats into synapse counts
        key = fixed_idx * (n_other + 1) + other_idx
        u, counts = np.unique(key, return_counts=True)
        fixed_idx, other_idx = np.divmod(u, n_other + 1)
        mult = counts
    else:
        mult = np.ones(len(other_idx), dtype=np.int64)
    ns = _nsyns(rule.nsyns, len(other_idx), rng, f"{name}(nsyns)") * mult
    if by_target:
        return other_idx, fixed_idx, ns
    return fixed_idx, other_idx, ns


class OneToOne(ConnectionRule):
    """The i-th source connects to the i-th target (pools of equal size, in node-id order)."""

    blockwise = False

    def __init__(self, nsyns: int | Distribution = 1) -> None:
        _check_nsyns_spec(nsyns, "OneToOne(nsyns)")
        self.nsyns = nsyns

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        if len(sources) != len(targets):
            raise BuilderError("OneToOne", "source and target selections of equal size",
                               f"{len(sources)} sources, {len(targets)} targets")
        i = np.arange(len(sources), dtype=np.int64)
        return i, i.copy(), _nsyns(self.nsyns, len(i), rng, "OneToOne(nsyns)")


class AllToAll(ConnectionRule):
    """Every source connects to every target.

    Parameters
    ----------
    nsyns : int or Distribution
    allow_autapses : bool
    """

    def __init__(self, nsyns: int | Distribution = 1, allow_autapses: bool = False) -> None:
        _check_nsyns_spec(nsyns, "AllToAll(nsyns)")
        self.nsyns = nsyns
        self.allow_autapses = allow_autapses

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        s, t = len(sources), len(targets)
        ti, si = np.divmod(np.arange(s * t, dtype=np.int64), s)
        if not self.allow_autapses and _same(sources, targets):
            keep = _drop_autapses(si, ti, sources, targets)
            si, ti = si[keep], ti[keep]
        return si, ti, _nsyns(self.nsyns, len(si), rng, "AllToAll(nsyns)")


class ArrayRule(ConnectionRule):
    """A user rule on arrays: ``func(source_ids, target_ids, positions, rng, **params)``.

    ``positions`` is ``(source_positions, target_positions)`` ((n, 3) arrays in µm, or
    None).  The function returns either a (len(sources), len(targets)) matrix of
    synapse counts (bool or int) or a tuple ``(source_ids, target_ids[, nsyns])`` of
    node ids.  It is called once per block of targets (``blockwise=False`` to get
    all targets at once).

    Examples
    --------
    >>> def nearest(src, tgt, positions, rng, k=3):               # doctest: +SKIP
    ...     sp, tp = positions
    ...     d = np.linalg.norm(sp[:, None] - tp[None], axis=2)
    ...     return d <= np.sort(d, axis=0)[k - 1]
    >>> net.add_edges(source={...}, target={...}, connection_rule=ArrayRule(nearest, k=3))  # doctest: +SKIP
    """

    def __init__(self, func: Callable[..., Any], blockwise: bool = True, **params: Any) -> None:
        if not callable(func):
            raise BuilderError("ArrayRule(func)", "a callable", type(func).__name__)
        self.func = func
        self.params = params
        self._blockwise = blockwise

    @property  # type: ignore[override]
    def blockwise(self) -> bool:  # type: ignore[override]
        return self._blockwise

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        name = getattr(self.func, "__name__", "ArrayRule")
        out = self.func(sources.ids, targets.ids, (sources.positions, targets.positions), rng, **self.params)
        if isinstance(out, tuple):
            if len(out) not in (2, 3):
                raise BuilderError(f"connection_rule {name}", "(source_ids, target_ids[, nsyns])",
                                   f"a tuple of {len(out)}")
            s_ids, t_ids = (np.asarray(x).ravel() for x in out[:2])
            if s_ids.shape != t_ids.shape:
                raise BuilderError(f"connection_rule {name}", "source and target id arrays of equal length",
                                   f"{s_ids.shape} and {t_ids.shape}")
            ns = np.asarray(out[2]).ravel() if len(out) == 3 else np.ones(len(s_ids), np.int64)
            if ns.shape != s_ids.shape:
                raise BuilderError(f"connection_rule {name}", f"{len(s_ids)} synapse counts", str(ns.shape))
            si = _index_in(sources.ids, s_ids, f"connection_rule {name} (source ids)")
            ti = _index_in(targets.ids, t_ids, f"connection_rule {name} (target ids)")
        else:
            m = np.asarray(out)
            if m.shape != (len(sources), len(targets)):
                raise BuilderError(f"connection_rule {name}",
                                   f"a ({len(sources)}, {len(targets)}) matrix (sources x targets)",
                                   f"shape {m.shape}")
            if m.dtype.kind not in "biu" and not (m.dtype.kind == "f" and np.all(m == np.rint(m))):
                raise BuilderError(f"connection_rule {name}", "integer or boolean synapse counts", str(m.dtype))
            ti, si = np.nonzero(m.T)
            ns = m[si, ti]
        ns = np.asarray(ns)
        if ns.size and (ns.dtype.kind not in "biuf" or ns.min() < 0):
            raise BuilderError(f"connection_rule {name}", "non-negative synapse counts",
                               str(ns.min()) if ns.dtype.kind in "iuf" else str(ns.dtype))
        ns = ns.astype(np.int64)
        keep = ns > 0
        return si[keep].astype(np.int64), ti[keep].astype(np.int64), ns[keep]


def _index_in(ids: np.ndarray, wanted: np.ndarray, where: str) -> np.ndarray:
    if wanted.size and wanted.dtype.kind not in "iu":
        raise BuilderError(where, "integer node ids", str(wanted.dtype))
    order = np.argsort(ids, kind="stable")
    k = np.minimum(np.searchsorted(ids, wanted, sorter=order), max(len(ids) - 1, 0))
    if len(ids) == 0 or not np.array_equal(ids[order[k]], wanted):
        raise BuilderError(where, "ids of the nodes offered to the rule", "ids outside the selection")
    return order[k]


class PairCallable(ConnectionRule):
    """bmtk's per-pair callables, unchanged: ``func(source, target, **params) -> nsyns`` (``one_to_one``),
    ``func(source, [targets], ...) -> [nsyns]`` (``one_to_all``), ``func([sources], target, ...)``
    (``all_to_one``).  Nodes are dict-like views; ``None``/0 means no connection.

    This is the compatibility path: one Python call per pair (or per node for the
    bulk iterators), evaluated block by block so memory stays bounded.  The calls
    are made from C (``map``), with ``params`` passed by position when the
    function's signature binds them to the same parameters (no keyword dict per
    call); the function sees exactly what bmtk passes.

    When the builder has a seed, numpy's and Python's global generators are seeded
    per block, so blocks are independent: :mod:`modelkit.builder.generate` may then
    evaluate them on forked worker processes (``MODELKIT_BUILD_WORKERS``; 1 turns it
    off), with files identical to a serial build.  It does so only for functions
    that :attr:`parallel_safe` finds free of state of their own (see there).
    """

    def __init__(self, func: Callable[..., Any], params: dict | None, iterator: str) -> None:
        self.func = func
        self.params = dict(params or {})
        self.iterator = iterator
        self._call: tuple | None = None

    @property  # type: ignore[override]
    def blockwise(self) -> bool:  # type: ignore[override]
        return self.iterator != "one_to_all"

    def _caller(self) -> tuple[Callable[..., Any], tuple]:
        """``(g, extra)`` with ``g(a, b, *extra)`` equivalent to ``func(a, b, **params)``."""
        if self._call is None:
            self._call = _positional(self.func, self.params)
        return self._call

    @property
    def parallel_safe(self) -> bool:
        """Whether blocks may run on other processes with the same results as in this one.

        True for a plain Python function whose only state is the global random
        generators (reseeded per block): it assigns no global or nonlocal name, and
        every global it reads, every closure value and every parameter is a module,
        a class, a function (checked the same way), a number, a string, None, a tuple,
        a numpy array, or a method of numpy's or Python's global generator.  A
        generator object of its own, a list/dict/set (a possible accumulator) or any
        other object make it False: such functions run in this process, in block order.
        """
        return _stateless(self.func, 0) and all(_plain_value(v, 0) for v in self.params.values())

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        sv = sources.table.views()
        tv = targets.table.views()
        srcs = [sv[r] for r in sources.rows.tolist()]
        tgts = [tv[r] for r in targets.rows.tolist()]
        f, params = self.func, self.params
        name = getattr(f, "__name__", "connection_rule")
        s = len(srcs)
        where = f"connection_rule {name}"
        if self.iterator == "one_to_one":
            g, extra = self._caller()
            reps = [repeat(x) for x in extra]  # endless: reused for every target
            counts = _CountRows(where)
            add = counts.add
            for b in tgts:  # bmtk's order within the block: targets outer, sources inner
                add(list(map(g, srcs, repeat(b), *reps)))
            return counts.pairs(s, target_major=True)
        # all_to_one: one call per target with every source; one_to_all: one per source with every target
        all_to_one = self.iterator == "all_to_one"
        rows, others = (tgts, srcs) if all_to_one else (srcs, tgts)
        label = "all_to_one" if all_to_one else "one_to_all"
        n = len(others)
        counts = _CountRows(where)
        for x in rows:
            v = f(others, x, **params) if all_to_one else f(x, others, **params)
            if v is None or len(v) != n:
                raise BuilderError(f"{where} ({label})", f"a list of {n} synapse counts",
                                   "None" if v is None else f"{len(v)} values")
            counts.add(v if type(v) is list else list(v))
        return counts.pairs(n, target_major=all_to_one)


class _CountRows:
    """A rule's synapse counts, row after row (one row per target, or per source for ``one_to_all``).

    A row of Python ints in 0..255 (what per-pair rules return nearly always) is packed by
    ``bytes(row)``, one byte per pair in C; any other row (None, floats, numpy values, larger
    or negative counts) goes through :func:`_counts`, with its checks and messages.  Rows are
    checked as they come, so a bad value stops the block at its row.
    """

    __slots__ = ("where", "_small", "_parts")

    def __init__(self, where: str) -> None:
        self.where = where
        self._small = bytearray()  # consecutive byte rows not yet in _parts
        self._parts: list[np.ndarray] = []

    def add(self, row: list) -> None:
        """One row of return values (a list: ``bytes`` of an array would read its memory instead)."""
        try:
            self._small += bytes(row)
        except (TypeError, ValueError):  # None, floats, counts outside 0..255, values without __index__
            self._flush()
            self._parts.append(_counts(row, self.where))

    def _flush(self) -> None:
        if self._small:
            self._parts.append(np.frombuffer(bytes(self._small), dtype=np.uint8))
            self._small = bytearray()

    def values(self) -> np.ndarray:
        """Every count, rows one after the other (uint8 when every row was packed, else int64)."""
        if not self._parts:
            return np.frombuffer(self._small, dtype=np.uint8)
        self._flush()
        if len(self._parts) == 1:
            return self._parts[0]
        return np.concatenate([p.astype(np.int64, copy=False) for p in self._parts])

    def pairs(self, row_len: int, target_major: bool) -> Pairs:
        """``(source_index, target_index, nsyns)`` of the non-zero counts; rows hold ``row_len`` values."""
        ns = self.values()
        flat = np.flatnonzero(ns)
        major, minor = np.divmod(flat, row_len) if row_len else (flat, flat)
        si, ti = (minor, major) if target_major else (major, minor)
        return si, ti, ns[flat].astype(np.int64)


def _counts(vals: list, where: str) -> np.ndarray:
    """Synapse counts from a rule's return values (None means 0)."""
    try:
        a = np.array(vals)
        if a.dtype == object:  # None among the values (or values numpy cannot type)
            a = np.array([0 if v is None else v for v in vals])
    except (TypeError, ValueError) as e:
        raise BuilderError(where, "an int (or None) per pair", f"{type(e).__name__}: {e}") from e
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.ndim != 1 or a.dtype.kind not in "biuf":
        raise BuilderError(where, "an int (or None) per pair", f"values of type {a.dtype}")
    if a.dtype.kind == "f" and not np.all(a == np.rint(a)):
        raise BuilderError(where, "integer synapse counts", "fractional values")
    a = a.astype(np.int64, copy=False)
    if a.min() < 0:
        raise BuilderError(where, "non-negative synapse counts", str(int(a.min())))
    return a


class ListRule(ConnectionRule):
    """bmtk's list-valued ``connection_rule``: synapse counts in bmtk's pair order for the iterator."""

    blockwise = False

    def __init__(self, values: ArrayLike, iterator: str) -> None:
        self.values = np.asarray(values)
        self.iterator = iterator

    def connect(self, sources: NodeArrays, targets: NodeArrays, rng: np.random.Generator) -> Pairs:
        s, t = len(sources), len(targets)
        want = {"one_to_one": s * t, "one_to_all": t, "all_to_one": s}[self.iterator]
        v = _counts(list(self.values.ravel()), "connection_rule (list)")
        if len(v) != want:
            raise BuilderError("connection_rule (list)", f"{want} values for iterator {self.iterator!r}",
                               f"{len(v)} values")
        if self.iterator == "one_to_one":  # source-major, as itertools.product(sources, targets)
            m = v.reshape(s, t)
        elif self.iterator == "one_to_all":  # the same counts for every source
            m = np.broadcast_to(v, (s, t))
        else:
            m = np.broadcast_to(v[:, None], (s, t))
        si, ti = np.nonzero(m)
        o = np.lexsort((si, ti))
        return si[o].astype(np.int64), ti[o].astype(np.int64), m[si[o], ti[o]].astype(np.int64)


ITERATORS = ("one_to_one", "one_to_all", "all_to_one")


#: what ``add_edges(connection_rule=...)`` takes: synapses per pair (int), bmtk's per-pair callable, a list of
#: counts in bmtk's pair order, a vectorised :class:`ConnectionRule`, or None (no edges)
RuleLike = Union[int, Callable[..., Any], ArrayLike, ConnectionRule, None]


def as_rule(connection_rule: RuleLike, connection_params: dict | None, iterator: str) -> ConnectionRule:
    """The rule object behind ``add_edges(connection_rule=..., connection_params=..., iterator=...)``.

    Parameters
    ----------
    connection_rule : int, callable, list or ConnectionRule
        The ``add_edges`` argument.
    connection_params : dict, optional
        Keyword arguments of a callable rule.
    iterator : str
        ``one_to_one``, ``one_to_all`` or ``all_to_one``.

    Raises
    ------
    BuilderError
        An unknown iterator, a negative count, a rule of an unsupported type.
    """
    if iterator not in ITERATORS:
        raise BuilderError("iterator", f"one of {ITERATORS}", repr(iterator))
    if isinstance(connection_rule, ConnectionRule):
        if connection_params:
            raise BuilderError("connection_params", "no parameters for a rule object (pass them to the rule)",
                               repr(connection_params))
        return connection_rule
    if connection_rule is None:
        return AllToAll(nsyns=0)
    if isinstance(connection_rule, (bool, np.bool_)):
        return AllToAll(nsyns=int(connection_rule), allow_autapses=True)
    if isinstance(connection_rule, (float, np.floating)):
        # bmtk scripts write counts as floats (``nsyns=1e4``); bmtk stores them as integers
        if not (np.isfinite(connection_rule) and float(connection_rule).is_integer()):
            raise BuilderError("connection_rule", "a whole number of synapses per pair", repr(connection_rule))
        connection_rule = int(connection_rule)
    if isinstance(connection_rule, (int, np.integer)):
        if connection_rule < 0:
            raise BuilderError("connection_rule", "a non-negative number of synapses per pair", str(connection_rule))
        return AllToAll(nsyns=int(connection_rule), allow_autapses=True)  # bmtk: every pair, self-pairs too
    if isinstance(connection_rule, (list, np.ndarray)):
        return ListRule(connection_rule, iterator)
    if callable(connection_rule):
        return PairCallable(connection_rule, connection_params, iterator)
    raise BuilderError("connection_rule", "an int, a per-pair callable, a list, or a modelkit rule",
                       type(connection_rule).__name__)
