"""bmtk's position helpers (``bmtk.builder.auxi.node_params``) with their signatures and defaults.

With ``rng=None`` each function draws from numpy's global random state, with the
same calls in the same order and the same arithmetic as bmtk, so after the same
``np.random.seed`` the results are identical to bmtk's.  Pass ``rng=`` (a
Generator, a seed or a legacy RandomState) to use another source.  ``plot=True``
is ignored with a warning (nothing is drawn).  Re-exported by
:mod:`modelkit.builder.placement`.

Parameters shared by the functions below:

N : int, default 1
    Number of points.
plot : bool, default False
    Ignored (with a warning when True).
rng : Generator, RandomState, int or None
    None: numpy's global state, reproducing bmtk exactly.

Each ``positions_*`` function returns an ``(N, 3)`` float64 array of positions
(µm) and raises :class:`~modelkit.errors.BuilderError` for a negative ``N`` or a
non-finite argument.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelkit.builder._rng import check_count, check_real, legacy_source, vec3
from modelkit.errors import BuilderError

__all__ = ["positions_columinar", "positions_columnar", "positions_rect_prism", "positions_ellipsoid",
           "positions_cuboid", "positions_list", "xiter_random"]

Vec3 = Sequence[float] | npt.NDArray[Any]


def cylinder(src: Any, n: int, center: np.ndarray, height: Any, rmin: Any, rmax: Any, axis: int) -> np.ndarray:
    """``n`` points uniform in a cylindrical shell: bmtk's ``positions_columinar`` generalised to any axis.

    Draws ``src.random(n)`` three times (angle, radius, height) in bmtk's order and
    with bmtk's arithmetic, so the y-axis case reproduces bmtk bit for bit.
    ``center`` is (3,) or (n, 3); ``height``, ``rmin``, ``rmax`` scalars or (n,).
    """
    phi = 2.0 * math.pi * src.random(n)
    r = np.sqrt((rmin**2 - rmax**2) * src.random(n) + rmax**2)
    a, b = (i for i in range(3) if i != axis)
    out = np.empty((n, 3))
    out[:, a] = center[..., a] + r * np.cos(phi)
    out[:, b] = center[..., b] + r * np.sin(phi)
    out[:, axis] = center[..., axis] + height * (src.random(n) - 0.5)
    return out


def _no_plot(plot: bool, func: str) -> None:
    if plot:
        warnings.warn(f"{func}(plot=True): modelkit does not plot here; the argument is ignored "
                      "(plot the returned positions yourself)", UserWarning, stacklevel=3)


def positions_columinar(N: int = 1, center: Vec3 = (0.0, 50.0, 0.0), height: float = 100.0, min_radius: float = 0.0,
                        max_radius: float = 1.0, plot: bool = False, *, rng: Any = None) -> np.ndarray:
    """Points uniform in a y-axis cylinder or cylindrical ring (bmtk's name and defaults).

    Parameters
    ----------
    center : 3 floats, default (0, 50, 0)
        Centre (µm); y spans ``center[1] ± height / 2``.
    height : float, default 100
        Length along y (µm).
    min_radius, max_radius : float, default 0 and 1
        Radii in the x-z plane (µm).
    N, plot, rng
        See the module docstring.

    Examples
    --------
    >>> np.random.seed(0); positions_columinar(N=2, max_radius=10.0).shape
    (2, 3)
    """
    _no_plot(plot, "positions_columinar")
    return cylinder(legacy_source(rng), check_count(N), vec3(center, "center"), check_real("height", height),
                    check_real("min_radius", min_radius), check_real("max_radius", max_radius), 1)


positions_columnar = positions_columinar


def _prism(src: Any, n: int, c: np.ndarray, height: float, x_length: float, z_length: float) -> np.ndarray:
    x = c[0] + x_length * (src.random(n) - 0.5)
    z = c[2] + z_length * (src.random(n) - 0.5)
    y = c[1] + height * (src.random(n) - 0.5)
    return np.column_stack((x, y, z))


def positions_rect_prism(N: int = 1, center: Vec3 = (0.0, 50.0, 0.0), height: float = 20.0, x_length: float = 100.0,
                         z_length: float = 100.0, plot: bool = False, *, rng: Any = None) -> np.ndarray:
    """Points uniform in a rectangular prism centred on ``center`` (bmtk's name and defaults).

    Parameters
    ----------
    center : 3 floats, default (0, 50, 0)
        Centre of the prism (µm).
    height, x_length, z_length : float, default 20, 100, 100
        Side lengths along y, x, z (µm).
    N, plot, rng
        See the module docstring.

    Examples
    --------
    >>> positions_rect_prism(N=3, rng=0).shape
    (3, 3)
    """
    _no_plot(plot, "positions_rect_prism")
    return _prism(legacy_source(rng), check_count(N), vec3(center, "center"), check_real("height", height),
                  check_real("x_length", x_length), check_real("z_length", z_length))


def positions_ellipsoid(N: int = 1, center: Vec3 = (0.0, 50.0, 0.0), height: float = 50.0, x_length: float = 100.0,
                        z_length: float = 200.0, plot: bool = False, *, rng: Any = None) -> np.ndarray:
    """Points uniform in an axis-aligned ellipsoid (bmtk's name and defaults).

    Like bmtk, draws ``3 N`` points in the bounding prism and keeps the first ``N``
    inside; where bmtk would then return fewer than ``N`` points (rare), this draws
    again until there are ``N``.

    Parameters
    ----------
    center : 3 floats, default (0, 50, 0)
        Centre (µm).
    height, x_length, z_length : float, default 50, 100, 200
        Diameters along y, x, z (µm, > 0).
    N, plot, rng
        See the module docstring.

    Raises
    ------
    BuilderError
        A negative ``N`` or a diameter <= 0.

    Examples
    --------
    >>> positions_ellipsoid(N=4, rng=0).shape
    (4, 3)
    """
    _no_plot(plot, "positions_ellipsoid")
    n, c, src = check_count(N), vec3(center, "center"), legacy_source(rng)
    dims = {"height": check_real("height", height), "x_length": check_real("x_length", x_length),
            "z_length": check_real("z_length", z_length)}
    for name, d in dims.items():
        if d <= 0:
            raise BuilderError(name, "a diameter > 0", repr(d))
    h, xl, zl = dims.values()
    parts: list[np.ndarray] = []
    have = 0
    while have < n or not parts:
        p = _prism(src, 3 * (n - have), c, h, xl, zl)
        val = ((p[:, 0] - c[0]) ** 2 / (xl / 2) ** 2) + ((p[:, 1] - c[1]) ** 2 / (h / 2) ** 2) \
            + ((p[:, 2] - c[2]) ** 2 / (zl / 2) ** 2)
        parts.append(p[val < 1][: n - have])
        have += parts[-1].shape[0]
    return np.concatenate(parts)


def positions_cuboid(N: int = 1, center: Vec3 = (0.0, 0.0, 0.0), height: float = 100.0, xside_length: float = 100.0,
                     yside_length: float = 100.0, min_dist: float = 20.0, plot: bool = False, *,
                     rng: Any = None) -> np.ndarray:
    """N distinct points of a cubic lattice with step ``min_dist`` (bmtk's name, defaults and quirks).

    As in bmtk, ``center`` is the *lowest corner* and the side lengths are *upper
    bounds*: x runs over ``arange(center[0], xside_length + min_dist, min_dist)``,
    y up to ``yside_length`` and z up to ``height``; the N points are picked without
    replacement.

    Parameters
    ----------
    N : int, default 1
        Number of points (at most the lattice size).
    center : 3 floats, default (0, 0, 0)
        First lattice point (µm).
    height, xside_length, yside_length : float, default 100
        Upper ends of z, x, y (µm).
    min_dist : float, default 20
        Lattice step (µm, > 0).
    plot, rng
        See the module docstring.

    Raises
    ------
    BuilderError
        ``min_dist <= 0`` or ``N`` larger than the lattice.

    Examples
    --------
    >>> positions_cuboid(N=5, rng=0).shape
    (5, 3)
    """
    _no_plot(plot, "positions_cuboid")
    n, c, step = check_count(N), vec3(center, "center"), check_real("min_dist", min_dist)
    if step <= 0:
        raise BuilderError("min_dist", "a lattice step > 0", repr(step))
    axes = [np.arange(c[i], check_real(name, top) + step, step)
            for i, (top, name) in enumerate(((xside_length, "xside_length"), (yside_length, "yside_length"),
                                            (height, "height")))]
    xx, yy, zz = np.meshgrid(*axes)
    lattice = np.column_stack((xx.ravel(), yy.ravel(), zz.ravel()))
    if n > lattice.shape[0]:
        raise BuilderError("N", f"at most {lattice.shape[0]} points (the lattice size)", repr(n))
    inds = legacy_source(rng).choice(np.arange(lattice.shape[0]), n, replace=False)
    return lattice[inds]


def positions_list(positions: npt.ArrayLike = ((0, 0, 0), (0, 0, 1))) -> np.ndarray:
    """Externally supplied positions as an ``(N, 3)`` float64 array (bmtk's name and default).

    Parameters
    ----------
    positions : array-like, shape (N, >= 3)
        Rows of x, y, z (µm); extra columns are dropped, as in bmtk.

    Returns
    -------
    numpy.ndarray
        ``(N, 3)`` float64 copy.

    Raises
    ------
    BuilderError
        Not a 2-D array of at least 3 finite numeric columns.

    Examples
    --------
    >>> positions_list([[0, 0, 0], [1, 2, 3]]).dtype
    dtype('float64')
    """
    try:
        arr = np.array(positions, dtype=np.float64)
    except (TypeError, ValueError):
        raise BuilderError("positions", "an (N, 3) array of numbers", repr(positions)) from None
    if arr.ndim != 2 or arr.shape[1] < 3 or not np.isfinite(arr[:, :3]).all():
        raise BuilderError("positions", "an (N, 3) array of finite numbers", f"shape {arr.shape}")
    return np.ascontiguousarray(arr[:, :3])


def xiter_random(N: int = 1, min_x: float = 0.0, max_x: float = 1.0, *, rng: Any = None) -> np.ndarray:
    """``N`` values uniform on ``[min_x, max_x)`` (bmtk's name and defaults).

    Parameters
    ----------
    N : int, default 1
        Number of values.
    min_x, max_x : float, default 0 and 1
        Bounds (e.g. ``0`` and ``2 * np.pi`` for a rotation angle in radians).
    rng : Generator, RandomState, int or None
        None: numpy's global state, reproducing bmtk exactly.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64 values.

    Examples
    --------
    >>> xiter_random(N=3, max_x=2 * np.pi, rng=0).shape
    (3,)
    """
    low, high = check_real("min_x", min_x), check_real("max_x", max_x)
    return legacy_source(rng).uniform(low=low, high=high, size=(check_count(N),))
