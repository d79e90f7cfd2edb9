"""Cell positions and rotations for ``add_nodes``.

Positions are in µm, returned as float64 arrays of shape ``(N, 3)`` holding
``x, y, z``; ``y`` is the cortical depth axis, as in bmtk.  Angles are in
radians.  Every random function takes ``rng=`` (a :class:`numpy.random.Generator`,
an int seed, or None) and draws from that generator only, with one vectorised
call per coordinate, so the same seed gives the same positions.

The bmtk names (``positions_columinar``, ``positions_rect_prism``,
``positions_ellipsoid``, ``positions_cuboid``, ``positions_list``,
``xiter_random``, ``positions_density_matrix``, ``positions_nrrd``) keep bmtk's signatures and
defaults and, with ``rng=None``, draw from numpy's global state in bmtk's order: after the same
``np.random.seed`` they return bmtk's numbers exactly.  (They are defined in
``modelkit.builder._placement_bmtk`` and ``_placement_density``; ``modelkit.builder.auxi.node_params``
offers them at bmtk's import path.)

Examples
--------
>>> pos = column(100, height=200.0, max_radius=50.0, rng=1)
>>> net.add_nodes(N=100, x=pos[:, 0], y=pos[:, 1], z=pos[:, 2], **random_rotations(100, rng=1))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelkit.builder._placement_bmtk import (cylinder, positions_columinar, positions_columnar, positions_cuboid,
                                             positions_ellipsoid, positions_list, positions_rect_prism,
                                             xiter_random)
from modelkit.builder._placement_density import positions_density_matrix, positions_nrrd
from modelkit.builder._rng import RngLike, as_generator, axis_index, check_count, check_real, vec3
from modelkit.errors import BuilderError

__all__ = ["column", "sphere", "box", "grid", "layers", "random_rotations",
           "positions_columinar", "positions_columnar", "positions_rect_prism", "positions_ellipsoid",
           "positions_cuboid", "positions_list", "xiter_random", "positions_density_matrix", "positions_nrrd"]

Axis = str | int
Vec3 = Sequence[float] | npt.NDArray[Any]


def column(N: int, center: Vec3 = (0.0, 0.0, 0.0), height: float = 100.0, min_radius: float = 0.0,
           max_radius: float = 100.0, axis: Axis = "y", rng: RngLike = None) -> np.ndarray:
    """Points uniform (in volume) in a cylinder or cylindrical shell.

    Parameters
    ----------
    N : int
        Number of points.
    center : 3 floats, default (0, 0, 0)
        Centre of the cylinder (µm); the points span ``center[axis] ± height / 2``.
    height : float, default 100
        Length along ``axis`` (µm, >= 0).
    min_radius, max_radius : float, default 0 and 100
        Inner and outer radius across ``axis`` (µm, ``0 <= min_radius <= max_radius``);
        the radius is distributed as ``sqrt`` so the density is uniform.
    axis : {"x", "y", "z"} or {0, 1, 2}, default "y"
        Axis of the cylinder.
    rng : Generator, int or None
        Source of randomness: this generator only, or a seed for a new one.

    Returns
    -------
    numpy.ndarray
        ``(N, 3)`` float64 positions (µm).

    Raises
    ------
    BuilderError
        A negative ``N`` / ``height``, ``min_radius > max_radius``, an unknown axis.

    Examples
    --------
    >>> column(3, center=(0, -400, 0), height=800.0, max_radius=200.0, rng=0).shape
    (3, 3)
    """
    n = check_count(N)
    c = vec3(center, "center")
    h = _nonneg(height, "height")
    r0, r1 = _nonneg(min_radius, "min_radius"), _nonneg(max_radius, "max_radius")
    if r0 > r1:
        raise BuilderError("min_radius", f"a radius <= max_radius ({r1})", repr(r0))
    return cylinder(as_generator(rng), n, c, h, r0, r1, axis_index(axis))


def sphere(N: int, center: Vec3 = (0.0, 0.0, 0.0), radius: float = 100.0, min_radius: float = 0.0,
           rng: RngLike = None) -> np.ndarray:
    """Points uniform (in volume) in a ball or spherical shell.

    Parameters
    ----------
    center : 3 floats, default (0, 0, 0)
        Centre (µm).
    radius : float, default 100
        Outer radius (µm).
    min_radius : float, default 0
        Inner radius (µm, ``0 <= min_radius <= radius``); the radius is distributed as
        a cube root so the density is uniform, the direction is isotropic.
    N, rng
        As in :func:`column`.

    Raises
    ------
    BuilderError
        A negative ``N`` or radius, or ``min_radius > radius``.

    Examples
    --------
    >>> bool((np.linalg.norm(sphere(50, radius=10.0, rng=0), axis=1) <= 10.0).all())
    True
    """
    n = check_count(N)
    c = vec3(center, "center")
    r0, r1 = _nonneg(min_radius, "min_radius"), _nonneg(radius, "radius")
    if r0 > r1:
        raise BuilderError("min_radius", f"a radius <= radius ({r1})", repr(r0))
    u = as_generator(rng).random((3, n))
    r = np.cbrt(r0**3 + (r1**3 - r0**3) * u[0])
    cos_t = 2.0 * u[1] - 1.0
    sin_t = np.sqrt(1.0 - cos_t * cos_t)
    phi = 2.0 * math.pi * u[2]
    return c + r[:, None] * np.column_stack((sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t))


def box(N: int, low: Vec3 = (0.0, 0.0, 0.0), high: Vec3 = (100.0, 100.0, 100.0), rng: RngLike = None) -> np.ndarray:
    """Points uniform in the axis-aligned box ``[low, high)``.

    Parameters
    ----------
    low, high : 3 floats
        Opposite corners (µm), ``low <= high`` on every axis (equal gives a flat box).
    N, rng
        As in :func:`column`.

    Raises
    ------
    BuilderError
        A negative ``N`` or ``low > high`` on some axis.

    Examples
    --------
    >>> box(2, low=(0, -100, 0), high=(50, 0, 50), rng=0).shape
    (2, 3)
    """
    n = check_count(N)
    lo, hi = vec3(low, "low"), vec3(high, "high")
    if (lo > hi).any():
        raise BuilderError("low", f"corners with low <= high on every axis (high={hi.tolist()})", repr(lo.tolist()))
    return lo + (hi - lo) * as_generator(rng).random((n, 3))


def grid(shape: int | Sequence[int], spacing: float | Vec3 = (10.0, 10.0, 10.0),
         origin: Vec3 = (0.0, 0.0, 0.0)) -> np.ndarray:
    """A regular lattice of points (deterministic).

    Parameters
    ----------
    shape : int or 3 ints
        Points along x, y, z; or a count N, which takes the smallest near-cubic
        lattice (sides ``k`` or ``k + 1``, larger sides first) with at least N
        points and keeps its first N points.
    spacing : float or 3 floats, default (10, 10, 10)
        Distance between neighbours along each axis (µm, > 0).
    origin : 3 floats, default (0, 0, 0)
        Position of the first point (µm); the lattice extends towards +x, +y, +z.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` float64 positions (µm) in C order (x slowest, z fastest).

    Raises
    ------
    BuilderError
        A negative count, a shape that is not 3 integers, a non-positive spacing.

    Examples
    --------
    >>> grid((2, 1, 2), spacing=5.0).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 5.0], [5.0, 0.0, 0.0], [5.0, 0.0, 5.0]]
    >>> grid(10).shape  # the first 10 points of a 3 x 2 x 2 lattice
    (10, 3)
    """
    dims: tuple[int, ...]
    if isinstance(shape, (int, np.integer)):
        n = check_count(shape, "shape")
        k = round(n ** (1.0 / 3.0))
        while k**3 > n:
            k -= 1
        while (k + 1) ** 3 <= n:
            k += 1
        dims = next(d for d in ((k, k, k), (k + 1, k, k), (k + 1, k + 1, k), (k + 1, k + 1, k + 1))
                    if d[0] * d[1] * d[2] >= n)
    else:
        try:
            dims = tuple(check_count(s, "shape") for s in shape)
        except TypeError:
            raise BuilderError("shape", "an int or 3 ints", repr(shape)) from None
        if len(dims) != 3:
            raise BuilderError("shape", "an int or 3 ints", repr(shape))
        n = dims[0] * dims[1] * dims[2]
    step = vec3(spacing, "spacing", scalar_ok=True)
    if (step <= 0).any():
        raise BuilderError("spacing", "distances > 0", repr(step.tolist()))
    idx = np.indices(dims).reshape(3, -1).T[:n]
    return vec3(origin, "origin") + idx * step


def layers(counts: Sequence[int], bounds: Sequence[tuple[float, float]], radius: float | Sequence[float] = 100.0,
           center: Vec3 = (0.0, 0.0, 0.0), axis: Axis = "y", rng: RngLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Points in stacked layers of one column (uniform in each layer's volume).

    Parameters
    ----------
    counts : sequence of int
        Number of points per layer.
    bounds : sequence of (lo, hi)
        Depth range of each layer along ``axis`` (µm, ``lo < hi``), measured from
        ``center[axis]``; layers may be given in any order and may touch.
    radius : float or sequence of float, default 100
        Column radius (µm, >= 0), one for all layers or one per layer.
    center : 3 floats, default (0, 0, 0)
        Centre of the column across ``axis``, and the origin of the depths (µm).
    axis : {"x", "y", "z"} or {0, 1, 2}, default "y"
        Depth axis.
    rng : Generator, int or None
        As in :func:`column`.

    Returns
    -------
    positions : numpy.ndarray
        ``(sum(counts), 3)`` float64 positions (µm), layer 0 first.
    layer_index : numpy.ndarray
        ``(sum(counts),)`` int64 layer of each point.

    Raises
    ------
    BuilderError
        Lengths of ``counts`` / ``bounds`` / ``radius`` differ, a count or radius is
        negative, a layer has ``lo >= hi``.

    Examples
    --------
    >>> pos, layer = layers([20, 30], [(-100.0, 0.0), (-300.0, -100.0)], radius=50.0, rng=0)
    >>> pos.shape, np.bincount(layer).tolist()
    ((50, 3), [20, 30])
    """
    cnt = np.array([check_count(c, "counts") for c in counts], dtype=np.int64)
    b = np.asarray(bounds, dtype=np.float64)
    if b.shape != (cnt.size, 2) or not np.isfinite(b).all():
        raise BuilderError("bounds", f"one finite (lo, hi) pair per layer ({cnt.size})", repr(bounds))
    if (b[:, 0] >= b[:, 1]).any():
        raise BuilderError("bounds", "lo < hi for every layer", repr(b.tolist()))
    rad = np.asarray(radius, dtype=np.float64)
    if rad.ndim > 1 or (rad.ndim == 1 and rad.size != cnt.size):
        raise BuilderError("radius", f"one radius or one per layer ({cnt.size})", repr(radius))
    rad = np.broadcast_to(rad, cnt.shape)
    if not np.isfinite(rad).all() or (rad < 0).any():
        raise BuilderError("radius", "finite radii >= 0", repr(rad.tolist()))
    ax = axis_index(axis)
    layer = np.repeat(np.arange(cnt.size, dtype=np.int64), cnt)
    c = np.broadcast_to(vec3(center, "center"), (layer.size, 3)).copy()
    c[:, ax] += b[layer].mean(axis=1)
    pos = cylinder(as_generator(rng), layer.size, c, np.diff(b, axis=1)[layer, 0], 0.0, rad[layer], ax)
    return pos, layer


def random_rotations(N: int, axes: str | Sequence[Axis] = ("y",), rng: RngLike = None) -> dict[str, np.ndarray]:
    """Random rotation angles, uniform in ``[0, 2π)`` radians, for ``add_nodes(**...)``.

    Parameters
    ----------
    N : int
        Number of nodes.
    axes : str or sequence, default ("y",)
        Axes to rotate about: names (``"x"``, ``"y"``, ``"z"``, or a string such as
        ``"xz"``) or indices.  The draws do not depend on the order given.
    rng : Generator, int or None
        As in :func:`column`.

    Returns
    -------
    dict
        ``{"rotation_angle_<a>axis": (N,) float64 array}`` for each named axis only.

    Raises
    ------
    BuilderError
        A negative ``N``, an unknown or repeated axis.

    Examples
    --------
    >>> sorted(random_rotations(4, axes="xz", rng=0))
    ['rotation_angle_xaxis', 'rotation_angle_zaxis']
    """
    n = check_count(N)
    idx = [axis_index(a) for a in (list(axes) if isinstance(axes, str) else axes)]
    if len(set(idx)) != len(idx):
        raise BuilderError("axes", "distinct axes", repr(axes))
    idx.sort()
    angles = 2.0 * math.pi * as_generator(rng).random((len(idx), n))
    return {f"rotation_angle_{'xyz'[a]}axis": angles[j] for j, a in enumerate(idx)}


def _nonneg(value: Any, name: str) -> float:
    return check_real(name, value, lo=0.0)
