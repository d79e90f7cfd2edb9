"""Filter kernels of the Allen LGN model: temporal raised-cosine bumps and spatial Gaussians.

Every function works on arrays of filters at once (one row per filter unit) and
reproduces the numbers of bmtk's FilterNet (``lgnmodel.temporalfilter`` /
``spatialfilter``), which define the published model:

* the temporal filter is a weighted sum of two raised-cosine bumps in log time
  (``b = 0.3 ms``, bump width fixed by ``ylim = (100, 200)``), each bump
  L2-normalised over lags 1..600 ms and shifted by an integer delay (ms); it is
  sampled on a 1 ms grid and linearly interpolated to a movie's frame lags;
* the spatial filter is a Gaussian (``sigma`` in degrees, per axis) sampled on the
  movie's pixel grid as bmtk builds it (a discrete Gaussian smoothing of a centred
  delta, moved to the cell's position by bilinear interpolation), truncated at the
  screen edges and normalised to sum 1 over the screen.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from modelkit.errors import ConfigError

__all__ = ["NKT", "bump_basis", "check_temporal", "temporal_kernels", "sample_kernels", "time_to_cross",
           "gaussian_profiles", "gaussian_2d"]

#: ms of the bump basis (bmtk's ``nkt``)
NKT = 600
_B = 0.3  # ms, offset of the log-time axis
_EPS = 1e-20
_DB = float(np.log(200.0 + _B + _EPS) - np.log(100.0 + _B + _EPS))  # bump half-width in log time (ncos = 2)


def bump_basis(kpeaks: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Raised-cosine bumps in log time.

    Parameters
    ----------
    kpeaks : array (n,)
        Peak positions (ms).
    t : array (m,)
        Times (ms).

    Returns
    -------
    array (n, m)
        ``(cos(clip((log(t + b) - log(kpeak)) * pi / (2 db), -pi, pi)) + 1) / 2``.
    """
    kp = np.asarray(kpeaks, dtype=float)[:, None]
    arg = (np.log(np.asarray(t, dtype=float)[None, :] + _B + _EPS) - np.log(kp + _EPS)) * np.pi / _DB / 2.0
    return (np.cos(np.clip(arg, -np.pi, np.pi)) + 1.0) / 2.0


def check_temporal(weights: np.ndarray, kpeaks: np.ndarray, delays: np.ndarray, where: str) -> None:
    """Raise ConfigError unless every row is a valid biphasic filter (arrays (n, 2); ms for kpeaks and delays).

    Parameters
    ----------
    weights : numpy.ndarray, shape (n, 2)
        Weights of the two bumps (the first positive).
    kpeaks : numpy.ndarray, shape (n, 2)
        Peak times of the two bumps (ms), ``0 < kpeaks[0] < kpeaks[1]``.
    delays : numpy.ndarray, shape (n, 2)
        Delays of the two bumps (ms).
    where : str
        The node properties' key, named in errors.
    """
    for name, a in (("weights", weights), ("kpeaks", kpeaks), ("delays", delays)):
        if a.ndim != 2 or a.shape[1] != 2 or not np.isfinite(a).all():
            raise ConfigError(None, f"{where}.{name}", "two finite numbers per filter (a biphasic filter)",
                              f"array of shape {a.shape}")
    bad = ~(kpeaks[:, 0] < kpeaks[:, 1]) | ~(kpeaks[:, 0] > 0)
    if bad.any():
        raise ConfigError(None, f"{where}.kpeaks", "0 < kpeaks[0] < kpeaks[1] (ms; the first bump is the sharper)",
                          str(kpeaks[np.argmax(bad)].tolist()))
    if (weights[:, 0] <= 0).any():
        raise ConfigError(None, f"{where}.weights", "a positive first weight", str(weights[np.argmax(
            weights[:, 0] <= 0)].tolist()))
    d = delays.astype(int)
    bad = (d[:, 0] < 0) | (d[:, 0] > d[:, 1]) | (d[:, 1] - d[:, 0] >= NKT)
    if bad.any():
        raise ConfigError(None, f"{where}.delays", f"0 <= delays[0] <= delays[1] < delays[0] + {NKT} (ms)",
                          str(delays[np.argmax(bad)].tolist()))


def temporal_kernels(weights: np.ndarray, kpeaks: np.ndarray, delays: np.ndarray,
                     where: str = "temporal filter") -> np.ndarray:
    """Biphasic temporal filters on a 1 ms lag grid.

    Parameters
    ----------
    weights : array (n, 2)
        Weights of the two bumps (the first positive).
    kpeaks : array (n, 2)
        Peak times of the bumps before delays (ms), ``kpeaks[:, 0] < kpeaks[:, 1]``.
    delays : array (n, 2)
        Delays of the bumps (ms; truncated to integers, as bmtk does), ``delays[:, 0] <= delays[:, 1]``.
    where : str
        Named in errors.

    Returns
    -------
    array (n, L)
        ``k[i, j]`` = filter ``i`` at lag ``j`` ms (``j = 0 .. L - 1``, ``L = 600 + max(delays[:, 0])``),
        zero past each filter's own support.

    Raises
    ------
    ConfigError
        Parameters outside the model's domain.
    """
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    kp = np.atleast_2d(np.asarray(kpeaks, dtype=float))
    dl = np.atleast_2d(np.asarray(delays, dtype=float))
    check_temporal(w, kp, dl, where)
    d = dl.astype(int)
    n = len(w)
    t = np.arange(1, NKT + 1, dtype=float)
    b0 = bump_basis(kp[:, 0], t)
    b1 = bump_basis(kp[:, 1], t)
    b0 /= np.sqrt((b0 ** 2).sum(axis=1, keepdims=True))
    keep1 = t[None, :] <= (NKT - (d[:, 1] - d[:, 0]))[:, None]  # bmtk drops the longest lags of the later bump
    b1 = np.where(keep1, b1, 0.0)
    b1 /= np.sqrt((b1 ** 2).sum(axis=1, keepdims=True))
    length = NKT + int(d[:, 0].max()) if n else NKT
    out = np.zeros((n, length))
    rows = np.arange(n)[:, None]
    j = np.arange(NKT)[None, :]
    # lag i holds bump(t = i - delay + 1): bump sample t (1..600) lands at lag t - 1 + delay
    out[rows, j + d[:, 0:1]] += w[:, 0:1] * b0
    np.add.at(out, (np.broadcast_to(rows, b1.shape), np.minimum(j + d[:, 1:2], length - 1)),
              np.where(j + d[:, 1:2] < NKT + d[:, 0:1], w[:, 1:2] * b1, 0.0))
    return out


def sample_kernels(kernels_ms: np.ndarray, frame_rate: float, n_frames: int) -> np.ndarray:
    """Kernels on a 1 ms grid, linearly interpolated at the lags of movie frames.

    Parameters
    ----------
    kernels_ms : array (n, L)
        From :func:`temporal_kernels`.
    frame_rate : float
        Hz.
    n_frames : int
        At most this many lags (the movie's length).

    Returns
    -------
    array (n, K)
        ``K`` frame lags ``0, 1000/frame_rate, ...`` ms covering the kernels' support.
    """
    length = kernels_ms.shape[1]
    step = 1000.0 / frame_rate
    k = min(int(np.floor((length - 1) / step + 1e-9)) + 1, int(n_frames))
    lags = np.arange(k) * step
    lo = np.floor(lags).astype(int)
    frac = lags - lo
    hi = np.minimum(lo + 1, length - 1)
    return kernels_ms[:, lo] * (1.0 - frac) + kernels_ms[:, hi] * frac


def time_to_cross(kernels_ms: np.ndarray) -> np.ndarray:
    """Lag (ms) where each filter first crosses zero from above between its maximum and its minimum
    (bmtk's ``get_tcross_from_temporal_kernel`` on lags 0..599 ms).

    Parameters
    ----------
    kernels_ms : numpy.ndarray, shape (n, lags)
        Temporal kernels sampled every 1 ms.

    Raises
    ------
    ConfigError
        A kernel that does not cross zero between its peak and trough.
    """
    k = kernels_ms[:, :NKT]
    out = np.empty(len(k), dtype=int)
    for i, row in enumerate(k):  # once per filter type at build time, not per frame
        a, b = int(np.argmax(row)), int(np.argmin(row))
        seg = row[a:b]
        cross = np.flatnonzero((seg[:-1] >= 0.0) & (seg[1:] < 0.0))
        if not len(cross):
            raise ConfigError(None, "temporal filter", "a biphasic filter that crosses zero between its peak and "
                              "trough", f"none for filter {i}")
        out[i] = a + cross[0] + 1
    return out


def _centered(n: int, sigma_px: float) -> np.ndarray:
    delta = np.zeros(n)
    if n % 2 == 0:
        delta[n // 2 - 1:n // 2 + 1] = 0.5
    else:
        delta[n // 2] = 0.5
    if sigma_px <= 1e-15:
        return delta
    return gaussian_filter1d(delta, sigma_px, mode="nearest", truncate=4.0)


def gaussian_profiles(centers: np.ndarray, sigmas: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """One axis of bmtk's separable spatial Gaussians, for many cells.

    Parameters
    ----------
    centers : array (n,)
        Cell positions along the axis (degrees, the grid's unit).
    sigmas : array (n,)
        Standard deviations (degrees).
    grid : array (m,)
        Pixel coordinates along the axis (degrees), evenly spaced.

    Returns
    -------
    array (n, m)
        Unnormalised profiles: the discrete Gaussian of a centred delta (scipy's
        ``gaussian_filter1d``, ``mode='nearest'``), shifted by linear interpolation so that
        it peaks at ``center``, zero where the shift leaves the grid.
    """
    grid = np.asarray(grid, dtype=float)
    m = len(grid)
    spacing = float(grid[1] - grid[0]) if m > 1 else 1.0
    c = np.asarray(centers, dtype=float)
    s = np.asarray(sigmas, dtype=float) / spacing
    uniq, inv = np.unique(s, return_inverse=True)
    base = np.stack([_centered(m, float(v)) for v in uniq]) if len(uniq) else np.zeros((0, m))
    padded = np.concatenate([np.zeros((len(uniq), 1)), base, np.zeros((len(uniq), 2))], axis=1)
    # output pixel j reads the centred profile at j + u (bilinear, zero outside)
    u = (m - 1) / 2.0 - (c - grid[0]) / spacing
    pos = np.arange(m)[None, :] + u[:, None]
    lo = np.floor(pos)
    f = pos - lo
    lo = np.clip(lo.astype(np.int64), -2, m + 1) + 1  # index into padded
    hi = np.clip(lo + 1, 0, m + 2)
    lo = np.clip(lo, 0, m + 2)
    rows = inv[:, None]
    return padded[rows, lo] * (1.0 - f) + padded[rows, hi] * f


def gaussian_2d(x: np.ndarray, y: np.ndarray, sigma_x: np.ndarray, sigma_y: np.ndarray, rotation: np.ndarray,
                rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Rotated elliptical Gaussians sampled at pixel centres (for filters that are not separable).

    Parameters
    ----------
    x, y : array (n,)
        Centres (degrees): column and row coordinates.
    sigma_x, sigma_y : array (n,)
        Standard deviations along columns and rows before rotation (degrees).
    rotation : array (n,)
        Degrees, with bmtk's (scikit-image's) sign.
    rows, cols : array
        Pixel coordinates (degrees).

    Returns
    -------
    array (n, len(rows) * len(cols))
        Unnormalised, row-major (row, col) as the movie's frames.
    """
    th = np.deg2rad(np.asarray(rotation, dtype=float))[:, None, None]
    dr = np.asarray(rows, dtype=float)[None, :, None] - np.asarray(y, dtype=float)[:, None, None]
    dc = np.asarray(cols, dtype=float)[None, None, :] - np.asarray(x, dtype=float)[:, None, None]
    # scikit-image maps output (x = row axis, y = col axis) to input by the rotation matrix
    xr = np.cos(th) * dr - np.sin(th) * dc
    yc = np.sin(th) * dr + np.cos(th) * dc
    sy = np.asarray(sigma_y, dtype=float)[:, None, None]
    sx = np.asarray(sigma_x, dtype=float)[:, None, None]
    g = np.exp(-0.5 * (xr / sy) ** 2 - 0.5 * (yc / sx) ** 2)
    return g.reshape(len(g), -1)
