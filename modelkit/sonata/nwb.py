"""Read spike trains and current-clamp sweeps from NWB files, with h5py only.

Two layouts are read:

* **NWB 2** (what pynwb writes, and the NWB ecosystem shares): the ``/units``
  table, a ragged ``spike_times`` column (seconds, cut by ``spike_times_index``)
  and the unit ``id``.  A ``node_id`` column, when present, names the SONATA node
  (else the unit id is the node id) and a ``population`` column the population.
* **bmtk's legacy layout** (the Allen Brain Observatory style bmtk reads):
  ``/processing/<trial>/spike_train/<node_id>/data``, times in ms (as bmtk takes them).

Current-clamp sweeps come from the Allen Cell Types NWB 1 files
(``/epochs/Sweep_<n>/stimulus/timeseries``: ``data`` in A at ``starting_time``'s
``rate`` in Hz), as bmtk's ``nwb`` IClamp input reads them.  Returned currents
are nA and times ms, the units of the rest of modelkit.

Writing NWB (through pynwb) belongs to the analysis layer; this core reader keeps
the model core free of it.
"""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy as np

from modelkit._typing import PathLike
from modelkit.errors import SonataFormatError
from modelkit.sonata.spikes import SpikePopulation
from modelkit.sonata.h5 import check_storage


def _data(p: str, ds: Any) -> Any:
    """All of ``ds``, once its declared size is known to be stored in the file (a few-KB NWB
    file may declare 10**12 unwritten values: reading them would take hours and GB)."""
    if isinstance(ds, h5py.Dataset):
        check_storage(ds, p)
    return ds[()]

__all__ = ["read_nwb_spikes", "read_nwb_sweep"]


def _open(p: str, what: str) -> h5py.File:
    from modelkit.sonata.h5 import open_h5
    return open_h5(p, f"HDF5-based {what}")


def _strings(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "SO":
        return np.array([x.decode() if isinstance(x, bytes) else str(x) for x in a], dtype=object)
    return a.astype(object)


def read_nwb_spikes(path: PathLike, trial: str | None = None,
                    population: str | None = None) -> dict[str | None, SpikePopulation]:
    """Spike trains of an NWB file.

    Parameters
    ----------
    path : str or PathLike
        The ``.nwb`` file.
    trial : str, optional
        The legacy layout's ``/processing`` group (needed when there are several).
    population : str, optional
        Name the spikes with this population when the file names none.

    Returns
    -------
    dict
        Population (None when neither the file nor ``population`` names one) -> SpikePopulation,
        times in ms, sorted by time.

    Raises
    ------
    SonataFormatError
        Not an NWB file with a ``/units`` table or the legacy spike trains; ragged columns that do not fit.
    """
    p = os.fspath(path)
    with _open(p, "NWB file") as f:
        if "units" in f and "spike_times" in f["units"]:
            return _units_table(p, f["units"], population)
        if "processing" in f:
            return _legacy(p, f["processing"], trial, population)
        raise SonataFormatError(p, "/units", "an NWB units table with spike_times (or bmtk's "
                                "/processing/<trial>/spike_train)", f"top-level groups {sorted(f.keys())}")


def _units_table(p: str, u: h5py.Group, population: str | None) -> dict[str | None, SpikePopulation]:
    times = np.asarray(_data(p, u["spike_times"]), dtype=np.float64) * 1000.0  # NWB stores seconds
    if "spike_times_index" in u:
        ends = np.asarray(_data(p, u["spike_times_index"]), dtype=np.int64)
    else:
        ends = np.array([len(times)], dtype=np.int64)
    if len(ends) and (ends[-1] != len(times) or (np.diff(ends) < 0).any() or ends[0] < 0):
        raise SonataFormatError(p, "/units/spike_times_index", f"non-decreasing ends up to {len(times)}",
                                f"last {int(ends[-1])}")
    n_units = len(ends)
    if "node_id" in u:
        ids = np.asarray(_data(p, u["node_id"]), dtype=np.int64)
    elif "id" in u:
        ids = np.asarray(_data(p, u["id"]), dtype=np.int64)
    else:
        ids = np.arange(n_units, dtype=np.int64)
    if len(ids) != n_units:
        raise SonataFormatError(p, "/units/id", f"{n_units} unit ids (one per spike_times_index entry)",
                                str(len(ids)))
    counts = np.diff(np.concatenate(([0], ends)))
    node_ids = np.repeat(ids, counts)
    pops = _strings(_data(p, u["population"])) if "population" in u else np.full(n_units, population, dtype=object)
    if len(pops) != n_units:
        raise SonataFormatError(p, "/units/population", f"{n_units} values", str(len(pops)))
    per_spike_pop = np.repeat(pops, counts)
    out: dict[str | None, SpikePopulation] = {}
    for name in dict.fromkeys(pops.tolist()):
        m = per_spike_pop == name
        order = np.argsort(times[m], kind="stable")
        out[name] = SpikePopulation(name, node_ids[m][order], times[m][order], "by_time")
    if not out:
        out[population] = SpikePopulation(population, np.empty(0, np.int64), np.empty(0), "by_time")
    return out


def _legacy(p: str, proc: h5py.Group, trial: str | None, population: str | None
            ) -> dict[str | None, SpikePopulation]:
    trials = sorted(proc.keys())
    if trial is None:
        if len(trials) != 1:
            raise SonataFormatError(p, "/processing", "one trial (or a 'trial' parameter naming one)",
                                    f"trials {trials}")
        trial = trials[0]
    if trial not in proc or "spike_train" not in proc[trial]:
        raise SonataFormatError(p, f"/processing/{trial}/spike_train", "a spike_train group", f"trials {trials}")
    grp = proc[trial]["spike_train"]
    ids, ts = [], []
    for key in grp:
        try:
            nid = int(key)
        except ValueError as e:
            raise SonataFormatError(p, f"{grp.name}/{key}", "groups named by node id", key) from e
        t = np.asarray(_data(p, grp[key]["data"]), dtype=np.float64)
        ids.append(np.full(len(t), nid, dtype=np.int64))
        ts.append(t)
    node_ids = np.concatenate(ids) if ids else np.empty(0, np.int64)
    times = np.concatenate(ts) if ts else np.empty(0)
    order = np.argsort(times, kind="stable")
    return {population: SpikePopulation(population, node_ids[order], times[order], "by_time")}


def read_nwb_sweep(path: PathLike, sweep_id: int | str, downsample: float | None = None,
                   window: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The stimulus current of one sweep of an Allen Cell Types NWB file, as steps.

    Parameters
    ----------
    path : str or PathLike
    sweep_id : int or str
        ``55`` or ``"Sweep_55"``.
    downsample : float, optional
        Keep one sample per this many ms (when coarser than the recording).
    window : (float, float), optional
        Keep the samples in [start, stop] ms of the sweep (times stay the sweep's own).

    Returns
    -------
    times : ndarray
        Step times (ms from the start of the sweep).
    amps : ndarray
        Current from each step time on (nA).

    Raises
    ------
    SonataFormatError
        A missing file, sweep, or stimulus series.
    """
    p = os.fspath(path)
    try:
        name = f"Sweep_{int(sweep_id)}"
    except (TypeError, ValueError):
        name = str(sweep_id)
    with _open(p, "Allen Cell Types NWB file") as f:
        key = f"/epochs/{name}/stimulus/timeseries"
        if key not in f or "data" not in f[key]:
            have = sorted(f["epochs"].keys())[:8] if "epochs" in f else []
            raise SonataFormatError(p, key, "the sweep's stimulus time series (data, starting_time rate)",
                                    f"sweeps {have}{' ...' if have else ''}")
        ts = f[key]
        rate = float(ts["starting_time"].attrs["rate"]) if "starting_time" in ts else float("nan")
        if not np.isfinite(rate) or rate <= 0:
            raise SonataFormatError(p, f"{key}/starting_time", "a positive sampling rate (Hz)", str(rate))
        amps = np.asarray(_data(p, ts["data"]), dtype=np.float64) * 1e9  # A -> nA
    dt = 1000.0 / rate
    times = np.arange(len(amps)) * dt
    if downsample is not None and downsample > dt:
        stride = int(round(downsample / dt))
        amps, times = amps[::stride], times[::stride]
    if window is not None:
        lo, hi = float(window[0]), float(window[1])
        if not 0 <= lo < hi:
            raise SonataFormatError(p, key, "a sweep window [start, stop] with 0 <= start < stop (ms)",
                                    f"{window}")
        m = (times >= lo) & (times <= hi)
        amps, times = amps[m], times[m]
    return times, amps
