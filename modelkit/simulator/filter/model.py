"""Linear-nonlinear evaluation of filter cells on a stimulus, and Poisson spikes from the rates.

The spatiotemporal filters are separable, so a population is evaluated in two
batched steps: every frame is projected onto every unit's spatial Gaussian (one
BLAS matrix product per block of frames, the separable Gaussians applied as two
1-D profiles), then every unit's projection is convolved in time with its
temporal filter (one FFT per block of units).  No loop runs per cell or per frame.
The linear response of a unit at frame ``n`` is, as in bmtk,

    L[n] = (1000 / frame_rate) * amplitude * sum_{i >= 0} k(i / frame_rate) * S[n - i]

(frames before the movie count as 0), and a cell's rate (Hz) is ``sum_u max(0, L_u + offset_u)``.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from modelkit.errors import ConfigError
from modelkit.simulator.filter.kernels import gaussian_2d, gaussian_profiles, sample_kernels
from modelkit.simulator.filter.lgn import LGNUnits
from modelkit.simulator.filter.stimuli import Stimulus

__all__ = ["spatial_responses", "temporal_filter", "linear_responses", "rectify", "sample_linear", "evaluate",
           "rates_to_spikes", "RateError"]

_BLOCK_BYTES = 64 << 20  # working memory of one block (bytes)


class RateError(ConfigError):
    """Firing rates that cannot drive a Poisson process (negative, not finite, misshapen)."""


def _separable(units: LGNUnits) -> np.ndarray:
    rot = np.mod(units.rotation, 180.0)
    return (rot == 0.0) | (units.sigma_x == units.sigma_y)


def spatial_responses(units: LGNUnits, stim: Stimulus, n_frames: int | None = None, where: str = "filter"
                      ) -> np.ndarray:
    """Every frame projected onto every unit's normalised spatial Gaussian.

    Parameters
    ----------
    units, stim, n_frames, where
        See :func:`evaluate`.

    Returns
    -------
    array (n_frames, n_units)
        ``S[t, u] = sum_{r, c} frames[t, r, c] * K_u[r, c]`` with ``sum K_u = 1`` over the screen.

    Raises
    ------
    ConfigError
        A receptive field entirely off the screen.
    """
    frames = stim.frames[: stim.n_frames if n_frames is None else n_frames]
    t, nr, nc = frames.shape
    dtype = np.float64  # float32 frames (a looming disk) are read block by block into float64: bmtk's sums
    out = np.empty((t, units.n_units), dtype=np.float64)
    sep = _separable(units)
    idx = np.flatnonzero(sep)
    if len(idx):
        pr = gaussian_profiles(units.y[idx], units.sigma_y[idx], stim.rows)
        pc = gaussian_profiles(units.x[idx], units.sigma_x[idx], stim.cols)
        norm = pr.sum(axis=1) * pc.sum(axis=1)
        _check_norm(norm, units, idx, where)
        pr = (pr / norm[:, None]).T.astype(dtype)  # (rows, units)
        pc_t = np.ascontiguousarray(pc.T.astype(dtype))  # (cols, units)
        step = max(1, _BLOCK_BYTES // max(1, nr * len(idx) * 8))
        for a in range(0, t, step):
            b = min(t, a + step)
            x = (frames[a:b].astype(dtype, copy=False).reshape((b - a) * nr, nc) @ pc_t).reshape(b - a, nr, len(idx))
            x *= pr[None]
            out[a:b, idx] = x.sum(axis=1)
    idx = np.flatnonzero(~sep)
    if len(idx):
        flat = frames.reshape(t, nr * nc)
        step = max(1, _BLOCK_BYTES // max(1, nr * nc * 8))
        for a in range(0, len(idx), step):
            sub = idx[a:a + step]
            k = gaussian_2d(units.x[sub], units.y[sub], units.sigma_x[sub], units.sigma_y[sub], units.rotation[sub],
                            stim.rows, stim.cols)
            norm = k.sum(axis=1)
            _check_norm(norm, units, sub, where)
            kk = (k / norm[:, None]).T.astype(dtype)
            for c in range(0, t, step):  # frames in bounded float64 copies
                out[c:c + step, sub] = flat[c:c + step].astype(dtype, copy=False) @ kk
    return out


def _check_norm(norm: np.ndarray, units: LGNUnits, idx: np.ndarray, where: str) -> None:
    bad = ~(norm > 0)
    if bad.any():
        i = idx[np.argmax(bad)]
        raise ConfigError(None, f"{where}: node {int(units.node_ids[units.cell[i]])} x/y",
                          "a receptive field that overlaps the stimulus screen",
                          f"centre ({units.x[i]:g}, {units.y[i]:g}) degrees")


def temporal_filter(signal: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Causal convolution of each column of ``signal`` (frames, units) with its kernel row (units, lags).

    Parameters
    ----------
    signal : numpy.ndarray, shape (frames, units)
        Spatial responses per frame.
    kernels : numpy.ndarray, shape (units, lags)
        Temporal kernels sampled at the frame interval.
    """
    t, n = signal.shape
    k = kernels.shape[1]
    if t == 0 or n == 0:
        return np.zeros((t, n))
    nfft = sfft.next_fast_len(t + k - 1, real=True)
    out = np.empty((t, n))
    step = max(1, _BLOCK_BYTES // (nfft * 16))
    for a in range(0, n, step):
        b = min(n, a + step)
        f = sfft.rfft(signal[:, a:b], nfft, axis=0) * sfft.rfft(kernels[a:b].T, nfft, axis=0)
        out[:, a:b] = sfft.irfft(f, nfft, axis=0)[:t]
    return out


def evaluate(units: LGNUnits, stim: Stimulus, n_frames: int | None = None, where: str = "filter",
             return_linear: bool = False) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Firing rates of the cells of ``units`` watching ``stim``.

    Parameters
    ----------
    units, stim : LGNUnits, Stimulus
        The cells' filters, and the stimulus they watch.
    n_frames : int, optional
        Evaluate the first ``n_frames`` frames only.
    where : str
        The config key, named in errors.
    return_linear : bool
        Also return the units' linear responses (Hz, before offset and rectification).

    Returns
    -------
    times : array (n_frames,)
        Frame onsets (ms).
    rates : array (n_frames, n_cells)
        Hz, the cells in ``units.node_ids`` order.
    linear : array (n_frames, n_units)
        Only with ``return_linear``.
    """
    lin = linear_responses(units, stim, n_frames, where)
    rates = rectify(units, lin)
    times = np.arange(lin.shape[0]) * stim.frame_dt
    if return_linear:
        return times, rates, lin
    return times, rates


def linear_responses(units: LGNUnits, stim: Stimulus, n_frames: int | None = None, where: str = "filter"
                     ) -> np.ndarray:
    """Every unit's linear response (Hz, before offset and rectification) at every frame, shape (frames, units).

    Parameters
    ----------
    units : LGNUnits
        The filter units (spatial and temporal filters, amplitudes).
    stim : Stimulus
        The movie (frames, ``frame_rate`` Hz).
    n_frames : int, optional
        Frames to evaluate (default: all).
    where : str
        The config key, named in errors.
    """
    s = spatial_responses(units, stim, n_frames, where)
    kern = sample_kernels(units.temporal_kernels_ms(), stim.frame_rate, s.shape[0])
    lin = temporal_filter(s, kern)
    lin *= stim.frame_dt * units.amplitude[None, :]
    return lin


def rectify(units: LGNUnits, lin: np.ndarray, scale_after: np.ndarray | None = None) -> np.ndarray:
    """Cells' rates (Hz, (samples, cells)) from their units' linear responses: ``sum_u max(0, L_u + offset_u)``.

    ``scale_after`` (per unit, optional) reproduces bmtk's sampled evaluation of one-unit cells, which scales by
    ``1000 / frame_rate`` after the nonlinearity: ``max(0, L_u / s + offset_u) * s``.

    Parameters
    ----------
    units : LGNUnits
        The filter units (``offset`` Hz, ``cell`` of each unit, units of a cell adjacent).
    lin : numpy.ndarray, shape (samples, units)
        Linear responses (Hz).
    scale_after : numpy.ndarray, optional
        Per unit, see above.
    """
    if scale_after is None:
        per_unit = np.maximum(lin + units.offset[None, :], 0.0)
    else:
        per_unit = np.maximum(lin / scale_after[None, :] + units.offset[None, :], 0.0) * scale_after[None, :]
    starts = np.flatnonzero(np.r_[True, np.diff(units.cell) != 0])
    return np.add.reduceat(per_unit, starts, axis=1) if units.n_units else np.zeros((lin.shape[0], 0))


def sample_linear(lin: np.ndarray, frame_rate: float, n_movie_frames: int, times_s: np.ndarray) -> np.ndarray:
    """Linear responses at arbitrary times, as bmtk's ``KernelCursor``: linear interpolation between the two
    frames around ``t`` (the frame itself within 1e-12 s), 0 before the movie's first or after its last frame.

    Parameters
    ----------
    lin : array (frames, units)
        Responses at frames ``0 .. len(lin) - 1`` (the movie's first frames; later ones are not needed).
    frame_rate : float
        Hz.
    n_movie_frames : int
        Frames of the whole movie (``t`` past its last frame gives 0).
    times_s : array
        Sample times (seconds, bmtk's unit).
    """
    t = np.asarray(times_s, dtype=float)
    out = np.zeros((len(t), lin.shape[1]))
    last = (n_movie_frames - 1) * (1.0 / frame_rate)
    inside = (t >= 0.0) & (t <= last)
    ti = t[inside] * frame_rate
    lo, hi = np.floor(ti).astype(np.int64), np.ceil(ti).astype(np.int64)
    if len(ti) and hi.max() >= len(lin):
        raise ValueError(f"responses of {len(lin)} frames cannot be sampled at frame {int(hi.max())}")
    tl, tr = lo / frame_rate, hi / frame_rate
    tin = t[inside]
    at_l = np.abs(tl - tin) < 1e-12
    at_r = ~at_l & (np.abs(tr - tin) < 1e-12)
    mid = ~(at_l | at_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        wa = np.where(mid, 1 - (tin - tl) / (tr - tl), 1.0)
        wb = np.where(mid, 1 - (tr - tin) / (tr - tl), 0.0)
    val = np.where(at_r[:, None], lin[hi], lin[lo] * wa[:, None] + np.where(mid[:, None], lin[hi] * wb[:, None], 0.0))
    out[inside] = val
    return out


def rates_to_spikes(rates: np.ndarray, times: np.ndarray, node_ids: np.ndarray, rng: np.random.Generator,
                    tstart: float | None = None, tstop: float | None = None, where: str = "rates"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Inhomogeneous Poisson spike trains from piecewise-constant rates.

    Parameters
    ----------
    rates : array (n_times, n_cells)
        Hz; ``rates[k]`` holds during ``[times[k], times[k + 1])`` (the last one for the mean step).
    times : array (n_times,)
        Increasing times (ms).
    node_ids : array (n_cells,)
    rng : numpy Generator
        Same generator state, same spikes.
    tstart, tstop : float, optional
        Keep spikes in ``[tstart, tstop)`` ms (default: the span of ``times``).
    where : str
        Named in errors.

    Returns
    -------
    node_ids, times : arrays
        One entry per spike, sorted by time (ms).

    Raises
    ------
    RateError
        Negative or non-finite rates, times not increasing, shapes that do not match.
    """
    r = np.asarray(rates, dtype=float)
    t = np.asarray(times, dtype=float)
    ids = np.asarray(node_ids, dtype=np.int64)
    if r.ndim != 2 or r.shape != (len(t), len(ids)):
        raise RateError(None, where, f"rates of shape (times, cells) = ({len(t)}, {len(ids)})", f"shape {r.shape}")
    if len(t) == 0 or len(ids) == 0:
        return np.empty(0, np.int64), np.empty(0)
    if not np.isfinite(r).all() or (r < 0).any():
        bad = ~np.isfinite(r) | (r < 0)
        k, c = np.unravel_index(np.argmax(bad), r.shape)
        raise RateError(None, where, "finite firing rates >= 0 Hz",
                        f"{r[k, c]} Hz for node {int(ids[c])} at {t[k]:g} ms")
    dt = np.diff(t)
    if (dt <= 0).any() or not np.isfinite(t).all():
        raise RateError(None, f"{where}.times", "strictly increasing, finite times (ms)", "otherwise")
    step = float(np.median(dt)) if len(dt) else 1.0
    lo = t
    hi = np.r_[t[1:], t[-1] + step]
    a = t[0] if tstart is None else float(tstart)
    b = hi[-1] if tstop is None else float(tstop)
    lo_c = np.clip(lo, a, b)
    hi_c = np.clip(hi, a, b)
    width = hi_c - lo_c
    keep = np.flatnonzero(width > 0)
    out_ids, out_t = [], []
    block = max(1, (8 << 20) // max(1, len(ids)))
    for s in range(0, len(keep), block):
        rows = keep[s:s + block]
        counts = rng.poisson(r[rows] * (width[rows, None] / 1000.0))
        fr, fc = np.nonzero(counts)
        n = counts[fr, fc]
        row = np.repeat(rows[fr], n)
        out_ids.append(np.repeat(ids[fc], n))
        out_t.append(lo_c[row] + rng.random(len(row)) * width[row])
    sid = np.concatenate(out_ids) if out_ids else np.empty(0, np.int64)
    st = np.concatenate(out_t) if out_t else np.empty(0)
    o = np.lexsort((sid, st))
    return sid[o], st[o]
