"""Spike rasters binned to a pixel grid: counts per (group, pixel row, time bin), and their colours.

Above a few tens of thousands of spikes a raster drawn as points stops being readable (points overlap;
the screen has ~10^5-10^6 pixels) and stops being cheap (every point is sent and drawn). Binning to the
plot's pixel grid, as datashader does, shows the whole run at a cost set by the pixels, not the spikes.

The bins follow :func:`numpy.histogram2d`: ``nx`` equal time bins over ``t_range`` and ``ny`` equal row
bins over ``row_range``, each half-open except that the last one includes its right edge; spikes outside
the ranges are not counted. So a reference binning of a spikes file is
``np.histogram2d(rows, times, bins=(ny, nx), range=(row_range, t_range))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["raster_counts", "density_rgb"]


def _bin_index(values: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """Bin of each value in ``n`` equal bins of ``[lo, hi]`` (the edges of ``np.histogram``), -1 outside."""
    edges = np.linspace(lo, hi, n + 1)
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == hi] = n - 1  # the last bin is closed, as numpy's
    idx[(values < lo) | (values > hi) | ~np.isfinite(values)] = -1
    return idx


def raster_counts(times: np.ndarray, rows: np.ndarray, groups: np.ndarray | None = None, *, n_groups: int = 1,
                  t_range: tuple[float, float], row_range: tuple[float, float], shape: tuple[int, int],
                  out: np.ndarray | None = None) -> np.ndarray:
    """Spikes per group, pixel row and time bin.

    Parameters
    ----------
    times : array of float
        Spike times (ms).
    rows : array of float
        Raster row of each spike (stacked node id).
    groups : array of int, optional
        Group (colour) of each spike, ``0 .. n_groups-1``; default all 0. Negative: not counted.
    n_groups : int
        Number of groups.
    t_range : (float, float)
        Time covered by the columns (ms).
    row_range : (float, float)
        Rows covered by the pixel rows (``(-0.5, n_rows - 0.5)`` centres each node on its row).
    shape : (int, int)
        ``(ny, nx)``: pixel rows and time bins.
    out : ndarray, optional
        Counts to add to (``(n_groups, ny, nx)``, int64), for binning a run block by block.

    Returns
    -------
    ndarray of int64, shape (n_groups, ny, nx)
        ``counts[g, j, i]``: spikes of group ``g`` in row bin ``j`` (0 = the lowest rows) and time bin ``i``.
    """
    ny, nx = int(shape[0]), int(shape[1])
    if ny < 1 or nx < 1 or n_groups < 1:
        raise ValueError(f"raster_counts: shape and n_groups must be positive, got {shape} and {n_groups}")
    if not (t_range[1] > t_range[0] and row_range[1] > row_range[0]):
        raise ValueError(f"raster_counts: empty range t={t_range}, rows={row_range}")
    size = n_groups * ny * nx
    if out is None:
        out = np.zeros((n_groups, ny, nx), np.int64)
    times = np.asarray(times, np.float64)
    if not len(times):
        return out
    ix = _bin_index(times, float(t_range[0]), float(t_range[1]), nx)
    iy = _bin_index(np.asarray(rows, np.float64), float(row_range[0]), float(row_range[1]), ny)
    g = np.zeros(len(times), np.int64) if groups is None else np.asarray(groups, np.int64)
    ok = (ix >= 0) & (iy >= 0) & (g >= 0) & (g < n_groups)
    flat = (g[ok] * ny + iy[ok]) * nx + ix[ok]
    out.reshape(-1)[:] += np.bincount(flat, minlength=size)
    return out


def density_rgb(counts: np.ndarray, colors: Sequence[tuple[int, int, int]],
                background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """An RGB image of binned spikes: each pixel takes the colour of its group with most spikes, shaded from
    the background by the log of its spike count (relative to the fullest pixel).

    Parameters
    ----------
    counts : ndarray, shape (n_groups, ny, nx)
        From :func:`raster_counts`.
    colors : sequence of (r, g, b)
        One colour per group (0-255), reused cyclically.
    background : (r, g, b)
        Colour of pixels without spikes.

    Returns
    -------
    ndarray of uint8, shape (ny, nx, 3)
        Image rows top to bottom: row 0 holds the highest raster rows (as a screen shows them).
    """
    n_groups, ny, nx = counts.shape
    total = counts.sum(axis=0)
    top = counts.argmax(axis=0)
    pal = np.array([colors[k % len(colors)] for k in range(n_groups)], np.float64)
    peak = float(total.max()) if total.size else 0.0
    # a single spike stays clearly visible: 35% of the way to full colour, the fullest pixel 100%
    alpha = np.where(total > 0, 0.35 + 0.65 * np.log1p(total) / np.log1p(max(peak, 1.0)), 0.0)[..., None]
    rgb = np.asarray(background, np.float64) * (1.0 - alpha) + pal[top] * alpha
    return np.ascontiguousarray(np.rint(rgb[::-1]).astype(np.uint8))
