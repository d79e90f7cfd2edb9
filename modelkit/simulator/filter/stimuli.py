"""Visual stimuli for filter models: movies, drifting/static gratings, full-field flashes, looming disks.

A :class:`Stimulus` is a stack of frames ``(frames, rows, cols)`` with a frame rate
(Hz) and the coordinates (degrees of visual field) of its pixel rows and columns.
Frame ``k`` is shown during ``[k, k + 1) * 1000 / frame_rate`` ms.  All times given
to the constructors are in ms (bmtk's FilterNet reads some of them in seconds: the
config keys are noted where they differ).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from modelkit._typing import ArrayLike, PathLike
from modelkit.errors import ConfigError

__all__ = ["Stimulus", "StimulusError", "movie", "grating", "full_field_flash", "looming", "stimulus_from_config",
           "STIMULUS_MODULES"]


log = logging.getLogger("modelkit.simulator.filter")


class StimulusError(ConfigError):
    """A stimulus (movie array or file, or its parameters) is not what the filter model can use."""


@dataclass(frozen=True)
class Stimulus:
    """Frames shown to filter cells.

    Attributes
    ----------
    frames : array (n_frames, n_rows, n_cols)
        Contrast values (bmtk's convention: in [-1, 1], 0 is mean gray).
    frame_rate : float
        Hz.
    rows, cols : array
        Coordinates of pixel rows and columns (degrees), evenly spaced; cells' ``y`` and ``x``
        are in the same unit.
    kind : str
        ``movie``, ``grating``, ``full_field_flash``, ``looming``.
    """

    frames: np.ndarray
    frame_rate: float
    rows: np.ndarray
    cols: np.ndarray
    kind: str = "movie"

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def frame_dt(self) -> float:
        """ms between frames."""
        return 1000.0 / self.frame_rate

    @property
    def times(self) -> np.ndarray:
        """Onset of every frame (ms)."""
        return np.arange(self.n_frames) * self.frame_dt

    @property
    def duration(self) -> float:
        """ms covered by the frames."""
        return self.n_frames * self.frame_dt


def _check_rate(frame_rate: Any, where: str, source: Any = None) -> float:
    try:
        fr = float(frame_rate)
    except (TypeError, ValueError):
        fr = float("nan")
    if not np.isfinite(fr) or fr <= 0:
        raise StimulusError(source, f"{where}.frame_rate", "a positive, finite frame rate (Hz)", repr(frame_rate))
    return fr


def _grid(values: Any, n: int, where: str, source: Any) -> np.ndarray:
    if values is None:
        return np.arange(n, dtype=float)
    g = np.asarray(values, dtype=float)
    if g.shape != (n,) or (n > 1 and not np.allclose(np.diff(g), g[1] - g[0])) or (n > 1 and g[1] <= g[0]):
        raise StimulusError(source, where, f"{n} increasing, evenly spaced coordinates (degrees)",
                            f"shape {g.shape}")
    return g


def movie(data: ArrayLike | PathLike, frame_rate: float, *, row_range: ArrayLike | None = None,
          col_range: ArrayLike | None = None, normalize: bool | Sequence[float] | None = False,
          expected_shape: tuple[int | None, int | None] | None = None, where: str = "movie") -> Stimulus:
    """A movie from an array or a ``.npy`` / ``.npz`` file.

    Parameters
    ----------
    data : array (frames, rows, cols) or path
        Contrast per pixel and frame.
    frame_rate : float
        Hz (required: a movie without one has no time axis).
    row_range, col_range : sequence of float, optional
        Pixel coordinates (degrees); default 0, 1, 2, ... (one degree per pixel, as bmtk).
    normalize : bool or (min, max)
        Map the movie's contrast range (or the given one) onto [-1, 1], as bmtk's ``normalize``.
    expected_shape : (rows, cols), optional
        Refuse a movie of another frame size (``None`` entries are not checked).
    where : str
        Named in errors (e.g. ``inputs.movie``).

    Raises
    ------
    StimulusError
        Not a 3-D finite numeric array, a frame size other than ``expected_shape``, a missing or
        non-positive frame rate, an unreadable file.
    """
    source = None
    if isinstance(data, (str, os.PathLike)):
        source = os.fspath(data)
        if not os.path.exists(source):
            raise StimulusError(source, f"{where}.data_file", "an existing .npy/.npz movie file", "no such file")
        try:
            loaded = np.load(source, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise StimulusError(source, f"{where}.data_file", "a numpy .npy/.npz array (frames, rows, cols)",
                                f"{type(e).__name__}: {e}") from e
        if isinstance(loaded, np.lib.npyio.NpzFile):
            keys = list(loaded.keys())
            if not keys:
                raise StimulusError(source, f"{where}.data_file", "an .npz file holding the movie array", "no arrays")
            loaded = loaded[keys[0]]
        data = loaded
    fr = _check_rate(frame_rate, where, source)
    a = np.asarray(data)
    if a.ndim != 3 or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or min(a.shape, default=0) < 1:
        raise StimulusError(source, f"{where}.data", "a 3-D array (frames, rows, cols) of numbers",
                            f"shape {a.shape}, dtype {a.dtype}")
    if expected_shape is not None:
        er, ec = expected_shape
        if (er is not None and a.shape[1] != er) or (ec is not None and a.shape[2] != ec):
            raise StimulusError(source, f"{where}.data", f"frames of {er} rows x {ec} cols (row_size x col_size)",
                                f"frames of {a.shape[1]} x {a.shape[2]}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise StimulusError(source, f"{where}.data", "finite contrast values", "NaN or infinite values")
    if normalize is not None and normalize is not False:
        a = _normalize(a, normalize, where, source)
    return Stimulus(a, fr, _grid(row_range, a.shape[1], f"{where}.row_range", source),
                    _grid(col_range, a.shape[2], f"{where}.col_range", source), "movie")


def _normalize(a: np.ndarray, domain: Any, where: str, source: Any) -> np.ndarray:
    if isinstance(domain, (list, tuple, np.ndarray)):
        if len(domain) != 2 or not float(domain[0]) < float(domain[1]):
            raise StimulusError(source, f"{where}.normalize", "[min_contrast, max_contrast] with min < max",
                                repr(domain))
        lo, hi = float(domain[0]), float(domain[1])
        if a.min() < lo or a.max() > hi:
            raise StimulusError(source, f"{where}.normalize", f"movie values within [{lo}, {hi}]",
                                f"[{a.min()}, {a.max()}]")
    else:
        mn, mx = float(a.min()), float(a.max())
        if mn >= 0.0 and mx <= 1.0:
            lo, hi = 0.0, 1.0
        elif mn >= -1.0 and mx <= 1.0:
            return a
        elif mn >= 0 and mx < 256:
            lo, hi = 0.0, 255.0
        else:
            lo, hi = mn, mx
        if lo == hi:
            raise StimulusError(source, f"{where}.normalize", "a contrast range to normalise", "a constant movie")
    return (a - lo) * 2.0 / (hi - lo) - 1.0


def _n_frames(duration: float, frame_rate: float) -> int:
    """Frames at 0, dt, ..., duration (both ends, as bmtk's generated movies)."""
    return int(np.floor(duration * frame_rate / 1000.0 + 1e-9)) + 1


def _bmtk_trange(t_max_s: float, frame_rate: float) -> np.ndarray:
    """bmtk's ``convert_tmin_tmax_framerate_to_trange(0, t_max, frame_rate)`` (seconds), float for float:
    ``arange(t_max * frame_rate + 1) / frame_rate``, one frame more than ``t_max`` holds when
    ``t_max * frame_rate`` is not whole (the last frame then lies after ``t_max``)."""
    return 0.0 + np.arange(t_max_s * frame_rate + 1) * (1.0 / frame_rate)


_MAX_BYTES = 8 << 30  # frames of a generated movie, bytes

#: how generated stimuli place their frames (the ``timing`` key of a movie input)
TIMINGS = ("bmtk", "exact")


def _check_timing(timing: Any, where: str) -> str:
    if timing not in TIMINGS:
        raise StimulusError(None, f"{where}.timing", f"one of {', '.join(TIMINGS)}", repr(timing))
    return str(timing)


def _size(v: Any, key: str, where: str) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or n != v:
        raise StimulusError(None, f"{where}.{key}", "a positive whole number of pixels", repr(v))
    return n


def full_field_flash(row_size: int, col_size: int, t_on: float, t_off: float, duration: float, *,
                     max_intensity: float = 1.0, frame_rate: float = 24.0, timing: str = "bmtk",
                     where: str = "full_field_flash") -> Stimulus:
    """A uniform screen at ``max_intensity`` during ``[t_on, t_off)`` ms and 0 otherwise, for ``duration`` ms.

    bmtk's ``full_field_flash`` (same config keys, t_on/t_off in ms, 24 frames/s unless ``frame_rate`` is
    given, as bmtk's ``FullFieldFlashMovie``).  ``timing='bmtk'``: bmtk's frames, float for float (frame
    times in seconds; one frame past ``duration`` when ``duration * frame_rate / 1000`` is not whole);
    ``'exact'``: frames at ``k * 1000 / frame_rate`` ms up to ``duration``.

    Parameters
    ----------
    row_size, col_size : int
        Screen size (pixels).
    t_on, t_off : float
        The flash's start and end (ms).
    duration : float
        The movie's length (ms).
    max_intensity : float
        Contrast during the flash.
    frame_rate : float
        Frames per second (Hz).
    timing : {"bmtk", "exact"}
        Frame times as bmtk makes them, or exact.
    where : str
        The config key, named in errors.
    """
    fr = _check_rate(frame_rate, where)
    r, c = _size(row_size, "row_size", where), _size(col_size, "col_size", where)
    if not float(t_on) < float(t_off):
        raise StimulusError(None, f"{where}.t_on", "t_on < t_off (ms)", f"{t_on} >= {t_off}")
    if _check_timing(timing, where) == "bmtk":
        t = _bmtk_trange(float(duration) / 1000.0, fr)  # seconds, as bmtk compares them
        on = (float(t_on) / 1000.0 <= t) & (t < float(t_off) / 1000.0)
    else:
        t = np.arange(_n_frames(duration, fr)) * (1000.0 / fr)
        on = (t >= float(t_on)) & (t < float(t_off))
    level = np.where(on, float(max_intensity), 0.0)
    frames = np.broadcast_to(level[:, None, None], (len(t), r, c)).copy()
    return Stimulus(frames, fr, np.arange(r, dtype=float), np.arange(c, dtype=float), "full_field_flash")


def grating(row_size: float, col_size: float, duration: float, *, cpd: float = 0.05, temporal_f: float = 4.0,
            theta: float = 45.0, phase: float = 0.0, contrast: float = 1.0, gray_screen_dur: float = 0.0,
            frame_rate: float = 1000.0, degrees_per_pixel: float | None = None, y_dir: str = "down",
            timing: str = "bmtk", dtype: npt.DTypeLike = np.float64, where: str = "grating") -> Stimulus:
    """A sinusoidal grating, drifting at ``temporal_f`` Hz (0: static), after ``gray_screen_dur`` ms of gray.

    ``contrast * sin(2 pi (cpd * (x cos th + y sin th) - temporal_f * tt) + phase)`` with ``th = -theta``
    for ``y_dir='down'`` (bmtk's ``grating``: the same keys; ``gray_screen_dur`` in ms; the screen is
    ``row_size`` x ``col_size`` degrees sampled every ``1 / (10 cpd)`` degrees unless given).

    ``timing='bmtk'`` (default) makes bmtk's frames: gray frames ``0 .. ceil(gray * rate)`` (ms -> frames),
    then the grating sampled on ``linspace(0, duration - gray, round(rate * (duration - gray)) + 1)``
    without its first sample.  When ``gray_screen_dur`` and ``duration`` are whole numbers of frames this
    is the exact grating (``tt = t - gray``, frames ``t <= gray`` gray, the last frame at ``duration``);
    otherwise bmtk's grating runs slightly slower than ``temporal_f``, starts up to a frame late and ends
    a frame after ``duration`` (all reproduced: bmtk's configs give bmtk's rates).  ``timing='exact'``:
    frames at ``t = k * 1000 / frame_rate`` ms up to ``duration``, gray while ``t <= gray_screen_dur``,
    ``tt = t - gray_screen_dur``.

    Parameters
    ----------
    row_size, col_size : float
        Screen size (degrees).
    duration : float
        The movie's length (ms), gray screen included.
    cpd : float
        Spatial frequency (cycles per degree).
    temporal_f : float
        Drift frequency (Hz); 0: static.
    theta : float
        Orientation (degrees).
    phase : float
        Spatial phase (degrees).
    contrast : float
        Amplitude, in [0, 1].
    gray_screen_dur : float
        Gray screen before the grating (ms).
    frame_rate : float
        Frames per second (Hz).
    degrees_per_pixel : float, optional
        Pixel size (degrees); default ``1 / (10 cpd)``.
    y_dir : {"down", "up"}
        Direction of the row axis.
    timing : {"bmtk", "exact"}
        Frame times as bmtk makes them, or exact.
    dtype : numpy dtype
        Of the frames (float32 halves the memory).
    where : str
        The config key, named in errors.
    """
    fr = _check_rate(frame_rate, where)
    if not 0.0 <= float(contrast) <= 1.0:
        raise StimulusError(None, f"{where}.contrast", "a contrast in [0, 1]", repr(contrast))
    if not float(cpd) > 0:
        raise StimulusError(None, f"{where}.cpd", "a positive spatial frequency (cycles/degree)", repr(cpd))
    if y_dir not in ("up", "down"):
        raise StimulusError(None, f"{where}.y_dir", "'up' or 'down'", repr(y_dir))
    timing = _check_timing(timing, where)
    dpp = float(degrees_per_pixel) if degrees_per_pixel else 1.0 / (float(cpd) * 10.0)
    rows = np.linspace(0, row_size, int(row_size / dpp), endpoint=True)
    cols = np.linspace(0, col_size, int(col_size / dpp), endpoint=True)
    if len(rows) < 1 or len(cols) < 1:
        raise StimulusError(None, f"{where}.row_size", "a screen of at least one pixel", f"{row_size} x {col_size}")
    gray = float(gray_screen_dur)
    if timing == "bmtk":
        # bmtk's GratingMovie.create_movie (seconds) and the gray FullFieldFlashMovie prepended to it
        t_max, g = float(duration) / 1000.0, gray / 1000.0
        n_grating = max(0, int(round(fr * (t_max - g))) + 1)
        tt: np.ndarray = np.linspace(0, t_max - g, n_grating, endpoint=True)
        n_gray = len(_bmtk_trange(g, fr)) if g > 0 else 0
        if n_gray:
            tt = tt[1:]  # bmtk's Movie.__add__ drops the second movie's first frame
        is_gray = np.r_[np.ones(n_gray, bool), np.zeros(len(tt), bool)]
        tt = np.r_[np.zeros(n_gray), tt]
    else:
        t = np.arange(_n_frames(duration, fr)) * (1000.0 / fr)
        tt = (t - gray) / 1000.0
        is_gray = (t <= gray + 1e-9) if gray > 0 else np.zeros(len(t), bool)
    th = np.deg2rad(theta if y_dir == "up" else -theta)
    xy = cols[None, :] * np.cos(th) + rows[:, None] * np.sin(th)  # (rows, cols)
    # sin(a - b) = sin a cos b - cos a sin b: frames from two images, no (frames x pixels) trig
    sp = 2 * np.pi * float(cpd) * xy + np.deg2rad(phase)
    tp = 2 * np.pi * float(temporal_f) * tt
    frames = np.empty((len(tt), len(rows), len(cols)), dtype=dtype)
    np.multiply(np.cos(tp)[:, None, None], np.sin(sp)[None], out=frames)
    frames -= (np.sin(tp)[:, None, None] * np.cos(sp)[None]).astype(dtype, copy=False)
    frames *= float(contrast)
    frames[is_gray] = 0.0
    return Stimulus(frames, fr, rows, cols, "grating")


def looming(row_size: int, col_size: int, *, t_looming: float = 1000.0, gray_screen_dur: float = 500.0,
            frame_rate: float = 1000.0, radius: float = 25.0, expansion_rate: float = 0.75,
            intensity: float = -1.0, timing: str = "bmtk", where: str = "looming") -> Stimulus:
    """A dark disk at the screen centre whose area grows linearly, after ``gray_screen_dur`` ms of gray.

    The disk holds the pixels with ``d^2 <= (n / (1 / expansion_rate)) mod radius^2`` (``d`` in pixels from
    the centre): with ``timing='bmtk'`` ``n`` is the frame index since the looming began (bmtk's
    ``LoomingMovie``: the disk grows by 0.75 per frame at any frame rate), with ``'exact'`` it is the
    time since then in ms (the same at bmtk's 1000 frames/s).  Times here are in ms; bmtk's config keys
    ``t_looming`` and ``gray_screen_dur`` are in seconds (:func:`stimulus_from_config` converts them).
    The movie lasts ``gray_screen_dur + t_looming`` whatever the run's length, as bmtk's.

    Parameters
    ----------
    row_size, col_size : int
        Screen size (pixels).
    t_looming : float
        Length of the looming phase (ms).
    gray_screen_dur : float
        Gray screen before it (ms).
    frame_rate : float
        Frames per second (Hz).
    radius : float
        The disk's largest radius (pixels).
    expansion_rate : float
        Growth of the disk's squared radius per frame (bmtk) or per ms (``exact``), pixels².
    intensity : float
        Contrast inside the disk.
    timing : {"bmtk", "exact"}
        See above.
    where : str
        The config key, named in errors.
    """
    fr = _check_rate(frame_rate, where)
    timing = _check_timing(timing, where)
    r, c = _size(row_size, "row_size", where), _size(col_size, "col_size", where)
    n_gray = int(round(fr * gray_screen_dur / 1000.0))
    n_loom = int(round(fr * t_looming / 1000.0))
    if n_loom < 1:
        raise StimulusError(None, f"{where}.t_looming", "a looming phase of at least one frame (s)",
                            repr(t_looming / 1000.0))
    if (n_gray + n_loom) * r * c * 4 > _MAX_BYTES:  # a duration in ms where bmtk's config wants seconds
        raise StimulusError(None, f"{where}.t_looming", "a looming movie that fits in memory (t_looming and "
                            "gray_screen_dur are in seconds in a config, as bmtk's)",
                            f"{n_gray + n_loom} frames of {r} x {c} pixels "
                            f"({(n_gray + n_loom) / fr:g} s at {fr:g} frames/s)")
    xx, yy = np.mgrid[:r, :c]
    d2 = ((xx - r / 2) ** 2 + (yy - c / 2) ** 2).ravel()
    n = np.arange(n_loom) if timing == "bmtk" else np.arange(n_loom) * (1000.0 / fr)
    size = (n / (1.0 / expansion_rate)) % (radius ** 2)  # bmtk: i / (4. / 3), and 1 / 0.75 == 4. / 3
    # float32: the frames hold 0 and ``intensity`` only, and half the bytes halve the filtering time
    frames = np.zeros((n_gray + n_loom, r, c), dtype=np.float32)
    disk = frames[n_gray:].reshape(n_loom, r * c)
    for a in range(0, n_loom, 256):  # bounded temporaries
        b = min(n_loom, a + 256)
        np.multiply(d2[None, :] <= size[a:b, None], np.float32(intensity), out=disk[a:b])
    return Stimulus(frames, fr, np.linspace(0, r, r, endpoint=True), np.linspace(0, c, c, endpoint=True), "looming")


def _params(p: dict, names: tuple[str, ...]) -> dict:
    return {k: p[k] for k in names if k in p}


def stimulus_from_config(module: str, params: dict, duration: float, where: str,
                         config_path: PathLike | None = None) -> Stimulus:
    """The stimulus of one ``inputs`` entry (``input_type: movie``), made for a run of ``duration`` ms.

    Modules and keys are bmtk's, in bmtk's units: ``movie`` (``data_file`` .npy/.npz or ``data``,
    ``frame_rate`` Hz, optional ``row_size``/``col_size`` to check, ``normalize``, ``row_range``/
    ``col_range``, ``flip_y``), ``grating`` (``graiting``; ``gray_screen_dur`` in ms),
    ``full_field_flash`` (``t_on``/``t_off`` in ms; 24 frames/s unless ``frame_rate`` is given),
    ``looming`` (``t_looming`` and ``gray_screen_dur`` in **seconds**, as bmtk's ``LoomingMovie``).

    Two modelkit keys (bmtk ignores both):

    * ``timing``: ``"bmtk"`` (default) builds generated stimuli frame for frame as bmtk does (see
      :func:`grating`); ``"exact"`` samples them at ``k / frame_rate`` exactly.
    * ``bmtk_compat``: ``true`` reproduces what bmtk does where modelkit deliberately differs: bmtk's
      looming ignores ``gray_screen_dur`` (its code reads a misspelt ``gray_sceen_dur`` and otherwise
      shows 0.5 s of gray); modelkit honours ``gray_screen_dur`` unless this is set.  (The same switch
      keeps the rates bmtk writes after ``tstop``, see :class:`~modelkit.simulator.filter.FilterBackend`.)

    Parameters
    ----------
    module : str
        The input's ``module`` (``movie``, ``grating``, ``full_field_flash``, ``looming``); empty: ``movie``.
    params : dict
        The input's keys, in bmtk's units (see above).
    duration : float
        The run's length (ms).
    where : str
        The config key (``inputs.<name>``), named in errors.
    config_path : PathLike, optional
        The config file, named in errors.

    Raises
    ------
    StimulusError
        An unknown module or bad parameters (the message names the key and what it should be).
    """
    m = (module or "movie").lower()
    timing = params.get("timing", "bmtk")
    compat = bool(params.get("bmtk_compat", False))
    try:
        if m == "movie":
            src = params.get("data_file", params.get("data"))
            if src is None:
                raise StimulusError(config_path, f"{where}.data_file", "a movie: data_file (.npy) or data", "neither")
            if "frame_rate" not in params:
                raise StimulusError(config_path, f"{where}.frame_rate", "the movie's frame rate (Hz)", "absent")
            shape = (params.get("row_size"), params.get("col_size"))
            stim = movie(src, params["frame_rate"], row_range=params.get("row_range"),
                         col_range=params.get("col_range"), normalize=params.get("normalize", False),
                         expected_shape=shape if any(v is not None for v in shape) else None, where=where)
            if params.get("flip_y"):  # bmtk's Movie(flip_y=True): rows upside down
                stim = Stimulus(stim.frames[:, ::-1, :], stim.frame_rate, stim.rows, stim.cols, stim.kind)
            return stim
        if m == "full_field_flash":
            for k in ("row_size", "col_size", "t_on", "t_off"):
                if k not in params:
                    raise StimulusError(config_path, f"{where}.{k}", "row_size, col_size (pixels), t_on, t_off (ms)",
                                        "absent")
            return full_field_flash(params["row_size"], params["col_size"], params["t_on"], params["t_off"],
                                    duration, timing=timing, where=where,
                                    **_params(params, ("max_intensity", "frame_rate")))
        if m in ("grating", "graiting"):
            for k in ("row_size", "col_size"):
                if k not in params:
                    raise StimulusError(config_path, f"{where}.{k}", "the screen size row_size x col_size (degrees)",
                                        "absent")
            return grating(params["row_size"], params["col_size"], duration, timing=timing, where=where,
                           **_params(params, ("cpd", "temporal_f", "theta", "phase", "contrast", "gray_screen_dur",
                                              "frame_rate", "degrees_per_pixel", "y_dir")))
        if m == "looming":
            for k in ("row_size", "col_size"):
                if k not in params:
                    raise StimulusError(config_path, f"{where}.{k}", "row_size, col_size (pixels)", "absent")
            # bmtk's LoomingMovie.create_movie takes seconds; its simulator passes only the misspelt key
            gray_key = "gray_sceen_dur" if compat or "gray_screen_dur" not in params else "gray_screen_dur"
            kw = {k: 1000.0 * float(params[k]) for k in ("t_looming",) if k in params}
            if gray_key in params:
                kw["gray_screen_dur"] = 1000.0 * float(params[gray_key])
            ignored = params.get("gray_screen_dur") if gray_key != "gray_screen_dur" else None
            if ignored is not None and float(ignored) != 0.5:
                log.warning("%s: gray_screen_dur %r ignored (bmtk_compat: bmtk's looming reads 'gray_sceen_dur' "
                            "and shows 0.5 s of gray)", where, params["gray_screen_dur"])
            return looming(params["row_size"], params["col_size"], timing=timing, where=where, **kw, **_params(
                params, ("frame_rate", "radius", "expansion_rate", "intensity")))
    except (TypeError, ValueError) as e:  # a parameter of the wrong type
        raise StimulusError(config_path, where, f"parameters of a {m} stimulus", str(e)) from e
    raise StimulusError(config_path, f"{where}.module", f"a known stimulus ({', '.join(STIMULUS_MODULES)})",
                        repr(module))


#: the ``module`` names of ``input_type: movie`` inputs
STIMULUS_MODULES = ("movie", "grating", "graiting", "full_field_flash", "looming")
