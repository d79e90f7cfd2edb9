"""Raster and trace previews of spikes and report files: decimated JSON arrays, or a PNG from modelkit.plotting."""

from __future__ import annotations

import io
import math
import os
import threading
from typing import Any

import numpy as np

__all__ = ["preview_source", "preview_data", "preview_png"]

#: matplotlib's figure machinery is not thread-safe; handlers draw in executor threads
_DRAW_LOCK = threading.Lock()


def preview_source(path: str, kind: str | None) -> tuple[str, str] | None:
    """The ``(file, "raster" | "traces")`` to preview for a described file, or None.

    A simulation config previews its output spikes when the run's output exists.

    Parameters
    ----------
    path : str
        A described file (config, spikes or report).
    kind : str or None
        What ``describe`` found it to be (``spikes``, ``report``, ``simulation_config``...); None previews
        nothing.
    """
    if kind == "spikes":
        return path, "raster"
    if kind == "report":
        return path, "traces"
    if kind == "simulation_config":
        from modelkit.sonata import SimulationConfig, load_config
        cfg = load_config(path)
        if isinstance(cfg, SimulationConfig) and cfg.output.spikes_file and os.path.isfile(cfg.output.spikes_file):
            return cfg.output.spikes_file, "raster"
    return None


#: upper bounds of the preview limits a request may ask for (a JSON preview of 10**9 points would
#: take minutes and GB to build and send)
MAX_POINTS = 1_000_000
MAX_TRACES = 1_000
MAX_FRAMES = 100_000
MAX_DPI = 600


def _bounded(name: str, value: Any, hi: int) -> int:
    """``value`` as an int in [1, hi], else ValueError (the server answers 400 with the message)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= hi:
        raise ValueError(f"{name} must be an integer in [1, {hi:,}], not {value!r}")
    return int(value)


def _stride(n: int, limit: int) -> int:
    return max(1, math.ceil(n / max(1, limit)))


def _floats(a: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else v for v in np.asarray(a, dtype=np.float64).tolist()]


def preview_data(path: str, what: str, *, max_points: int = 20_000, max_traces: int = 10,
                 max_frames: int = 2_000) -> dict[str, Any]:
    """A preview as JSON-ready arrays.

    Parameters
    ----------
    path : str
        A SONATA spikes file (``what="raster"``) or compartment report (``what="traces"``).
    max_points : int
        Spikes shown at most over all populations (every k-th spike beyond that).
    max_traces : int
        Report nodes shown (the first ones; first element of each).
    max_frames : int
        Frames per trace at most (every k-th frame beyond that).

    Returns
    -------
    dict
        Raster: ``{"type": "raster", "populations": [{"name", "count", "shown", "node_ids", "timestamps"}],
        "t_min", "t_max"}`` (times in ms).  Traces: ``{"type": "traces", "population", "variable", "units",
        "n_nodes", "time", "traces": [{"node_id", "element_id", "values"}]}``.

    Raises
    ------
    ValueError
        ``max_points`` outside [1, MAX_POINTS], ``max_traces`` outside [1, MAX_TRACES],
        ``max_frames`` outside [1, MAX_FRAMES], or an unknown ``what``.
    """
    max_points = _bounded("max_points", max_points, MAX_POINTS)
    max_traces = _bounded("max_traces", max_traces, MAX_TRACES)
    max_frames = _bounded("max_frames", max_frames, MAX_FRAMES)
    if what == "raster":
        from modelkit.sonata import read_spikes
        pops = read_spikes(path)
        total = sum(len(v) for v in pops.values())
        k = _stride(total, max_points)
        out = []
        t_min, t_max = math.inf, -math.inf
        for name, sp in pops.items():
            ts = np.asarray(sp.timestamps, dtype=np.float64)
            if len(ts):
                t_min, t_max = min(t_min, float(ts.min())), max(t_max, float(ts.max()))
            out.append({"name": str(name), "count": int(len(ts)), "shown": int(len(ts[::k])),
                        "node_ids": np.asarray(sp.node_ids)[::k].astype(np.int64).tolist(),
                        "timestamps": _floats(ts[::k])})
        return {"type": "raster", "populations": out, "t_min": t_min if out and math.isfinite(t_min) else None,
                "t_max": t_max if out and math.isfinite(t_max) else None}
    if what == "traces":
        from modelkit.sonata import CompartmentReport
        rep = CompartmentReport(path)
        first = next(iter(rep))
        ptr = np.asarray(first.index_pointers, dtype=np.int64)
        has = np.flatnonzero(ptr[1:] > ptr[:-1])[:max_traces]  # reported nodes with at least one element
        nodes = np.asarray(first.node_ids)[has]
        cols = ptr[has]  # first element of each
        k = _stride(first.n_frames, max_frames)
        lens = ptr[has + 1] - ptr[has]
        offs = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64)
        data = first.data(node_ids=nodes, stride=k)[:, offs] if len(nodes) else np.empty((0, 0))
        return {"type": "traces", "population": first.population, "variable": first.variable,
                "units": first.units, "n_nodes": int(len(first.node_ids)),
                "time": _floats(first.times[::k]),
                "traces": [{"node_id": int(n), "element_id": int(first.element_ids[c]), "values": _floats(data[:, i])}
                           for i, (n, c) in enumerate(zip(nodes.tolist(), cols.tolist()))]}
    raise ValueError(f"unknown preview {what!r}")


def preview_png(path: str, what: str, *, max_traces: int = 10, dpi: int = 100) -> bytes:
    """The preview drawn by :func:`modelkit.plotting.plot_raster` / :func:`~modelkit.plotting.plot_traces`.

    Parameters
    ----------
    path : str
        A spikes or report file.
    what : str
        ``raster`` or ``traces``.
    max_traces : int, optional
        Most traces drawn.
    dpi : int, optional
        Resolution of the PNG.
    """
    max_traces = _bounded("max_traces", max_traces, MAX_TRACES)
    dpi = _bounded("dpi", dpi, MAX_DPI)
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from modelkit.plotting import plot_raster, plot_traces
    with _DRAW_LOCK:
        fig = Figure(figsize=(7, 3.5), dpi=dpi)
        ax = fig.add_subplot()
        if what == "raster":
            plot_raster(path, ax=ax)
        else:
            from modelkit.sonata import CompartmentReport
            first = next(iter(CompartmentReport(path)))
            plot_traces(path, population=first.population, node_ids=first.node_ids[:max_traces], ax=ax)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png")
        return buf.getvalue()
