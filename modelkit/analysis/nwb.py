"""Write spike trains and membrane traces as NWB 2 files (pynwb), and read the traces back (h5py).

Layout written:

* spikes — the NWB ``/units`` table: one unit per (population, node) that fires, ragged
  ``spike_times`` in **seconds** (as NWB requires), and the columns ``population`` and ``node_id``
  naming the SONATA node; :func:`modelkit.sonata.nwb.read_nwb_spikes` (and so ``read_spikes``,
  ``SpikeTable.read``) read it back in ms.
* traces — one ``pynwb.base.TimeSeries`` per :class:`~modelkit.analysis.Traces` in the processing
  module ``modelkit`` (``data`` shape (frames, columns), ``starting_time`` and ``rate`` in s and Hz;
  mV stored as ``unit="volts"`` with ``conversion=1e-3``, nA as ``amperes`` with ``1e-9``), plus a
  table ``<name>_columns`` with the ``node_id``, ``element_id`` and ``population`` of each column.
  :func:`read_nwb_traces` reads them back in mV / nA and ms.

Files are written under a temporary name and renamed into place; an existing file is replaced only
with ``overwrite=True``.

Examples
--------
>>> write_nwb("run.nwb", spikes=SpikeTable.from_config("config.json"),          # doctest: +SKIP
...           traces=read_traces("output/membrane_potential.h5"))
>>> read_nwb_traces("run.nwb")["V_m_cortex"].to_frame()                         # doctest: +SKIP
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from typing import Any

import h5py
import numpy as np

from modelkit._typing import PathLike
from modelkit.analysis.errors import AnalysisError
from modelkit.analysis.spikes import SpikeTable
from modelkit.analysis.traces import Traces
from modelkit.errors import SonataFormatError
from modelkit.sonata.h5 import open_h5
# the core NWB reader reads a dataset only once its declared size is known to be stored: the same check here
from modelkit.sonata.nwb import _data


__all__ = ["write_nwb", "read_nwb_traces"]

MODULE = "modelkit"
_TO_SI = {"mv": ("volts", 1e-3), "v": ("volts", 1.0), "volts": ("volts", 1.0), "na": ("amperes", 1e-9),
          "pa": ("amperes", 1e-12), "a": ("amperes", 1.0), "amperes": ("amperes", 1.0)}
_FROM_SI = {"volts": ("mV", 1e3), "amperes": ("nA", 1e9)}


def _traces_list(traces: Any) -> list[tuple[str, Traces]]:
    if traces is None:
        return []
    if isinstance(traces, Traces):
        traces = [traces]
    items = traces.items() if isinstance(traces, dict) else [(None, t) for t in traces]
    out = []
    for name, t in items:
        if not isinstance(t, Traces):
            raise AnalysisError(None, "traces", "Traces objects (modelkit.analysis.read_traces)", type(t).__name__)
        out.append((name or f"{t.variable or 'traces'}_{t.population}", t))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise AnalysisError(None, "traces", "distinct names (pass a dict name -> Traces)", str(names))
    return out


def write_nwb(path: PathLike, *, spikes: Any = None, traces: Any = None, overwrite: bool = False,
              session_description: str = "modelkit simulation", identifier: str | None = None,
              session_start_time: datetime | None = None) -> str:
    """Write spike trains and/or traces to an NWB 2 file.

    Parameters
    ----------
    path : str or PathLike
        The ``.nwb`` file.
    spikes : SpikeTable or anything ``SpikeTable.load`` takes, optional
        Spike times (ms in, s in the file).
    traces : Traces, list of Traces or dict of name -> Traces, optional
        Sampled variables; named ``<variable>_<population>`` unless a dict names them.
    overwrite : bool
        Replace an existing file.
    session_description, identifier : str
        NWB session metadata (identifier: a new UUID by default).
    session_start_time : datetime, optional
        Default: now (UTC).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    AnalysisError
        Nothing to write, traces not evenly sampled, or clashing names.
    """
    from hdmf.common import DynamicTable, ElementIdentifiers, VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.misc import Units

    from modelkit.sonata.h5 import atomic_output

    p = os.fspath(path)
    tlist = _traces_list(traces)
    if spikes is None and not tlist:
        raise AnalysisError(p, "spikes/traces", "spikes or traces to write", "neither")
    nwb = NWBFile(session_description=session_description, identifier=identifier or str(uuid.uuid4()),
                  session_start_time=session_start_time or datetime.now(timezone.utc))
    if spikes is not None:
        st = spikes if isinstance(spikes, SpikeTable) else SpikeTable.load(spikes)
        codes = st.population_codes()
        order = np.lexsort((st.timestamps, st.node_ids, codes))
        c, ids = codes[order], st.node_ids[order]
        new = np.ones(len(order), dtype=bool)
        new[1:] = (c[1:] != c[:-1]) | (ids[1:] != ids[:-1])
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(order)).astype(np.int64)
        spike_times = VectorData(name="spike_times", data=st.timestamps[order] / 1000.0,
                                 description="spike times (s)")
        cols = [spike_times, VectorIndex(name="spike_times_index", data=ends, target=spike_times),
                VectorData(name="population", data=np.asarray(st.populations, dtype=object)[c[starts]],
                           description="SONATA node population"),
                VectorData(name="node_id", data=ids[starts], description="SONATA node id")]
        nwb.units = Units(name="units", id=ElementIdentifiers(name="id", data=np.arange(len(starts))),
                          columns=cols, description="spike trains of SONATA nodes (modelkit)")
    if tlist:
        mod = nwb.create_processing_module(MODULE, "sampled variables of SONATA nodes (modelkit)")
        for name, t in tlist:
            if len(t.times) > 1 and not np.allclose(np.diff(t.times), t.dt, rtol=1e-6, atol=1e-9):
                raise AnalysisError(t.source, name, "evenly sampled traces", "uneven frame times")
            unit, conv = _TO_SI.get((t.units or "").lower(), (t.units or "unknown", 1.0))
            rate = 1000.0 / t.dt if len(t.times) > 1 else 1.0
            mod.add(TimeSeries(name=name, data=np.asarray(t.values), unit=unit, conversion=conv,
                               starting_time=float(t.times[0]) / 1000.0 if len(t.times) else 0.0, rate=rate,
                               description=f"{t.variable or 'value'} of population {t.population} "
                                           f"({t.units or 'no units'}); columns in {name}_columns",
                               comments=f"source: {t.source or 'memory'}"))
            n = len(t.node_ids)
            mod.add(DynamicTable(name=f"{name}_columns", description=f"the node and element of each column of {name}",
                                 id=ElementIdentifiers(name="id", data=np.arange(n)),
                                 columns=[VectorData(name="node_id", data=np.asarray(t.node_ids, np.int64),
                                                     description="SONATA node id"),
                                          VectorData(name="element_id", data=np.asarray(t.element_ids, np.int64),
                                                     description="compartment / element id"),
                                          VectorData(name="population", data=np.array([t.population] * n, dtype=object),
                                                     description="SONATA node population")]))
    with atomic_output(p, overwrite=overwrite, suffix=".tmp.nwb") as tmp, NWBHDF5IO(tmp, "w") as io:
        io.write(nwb)
    return p


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def read_nwb_traces(path: PathLike, name: str | None = None) -> dict[str, Traces]:
    """Traces written by :func:`write_nwb` (or any NWB ``TimeSeries`` with a ``<name>_columns`` table).

    Parameters
    ----------
    path : str or PathLike
    name : str, optional
        Read only this series.

    Returns
    -------
    dict
        Series name -> Traces (times in ms; volts as mV, amperes as nA).

    Raises
    ------
    AnalysisError
        Not a readable NWB file, no such series, or a series without its columns table.
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise AnalysisError(p, None, "an existing NWB file", "no such file")
    try:
        f = open_h5(p, "HDF5-based NWB file")
    except SonataFormatError as e:
        raise AnalysisError(p, e.dataset, e.expected, e.found) from e
    out: dict[str, Traces] = {}
    with f:
        grp = f.get(f"processing/{MODULE}")
        names = sorted(k for k in grp.keys() if isinstance(grp[k], h5py.Group) and "data" in grp[k]) \
            if isinstance(grp, h5py.Group) else []
        if name is not None:
            if name not in names:
                raise AnalysisError(p, f"/processing/{MODULE}/{name}", "a TimeSeries of that name",
                                    f"series {names}")
            names = [name]
        for nm in names:
            ts = grp[nm]
            key = f"/processing/{MODULE}/{nm}_columns"
            if f"{nm}_columns" not in grp:
                raise AnalysisError(p, key, f"the columns table of {nm} (node_id, element_id, population)", "none")
            cols = grp[f"{nm}_columns"]
            data = np.asarray(_data(p, ts["data"]), dtype=np.float64)
            if data.ndim == 1:
                data = data[:, None]
            unit = _s(ts["data"].attrs.get("unit", ""))
            conv = float(ts["data"].attrs.get("conversion", 1.0))
            units, scale = _FROM_SI.get(unit, (unit or None, 1.0))
            if "timestamps" in ts:
                times = np.asarray(_data(p, ts["timestamps"]), dtype=np.float64) * 1000.0
            else:
                st = ts["starting_time"]
                times = (float(st[()]) + np.arange(len(data)) / float(st.attrs["rate"])) * 1000.0
            node_ids = np.asarray(_data(p, cols["node_id"]), dtype=np.int64)
            if len(node_ids) != data.shape[1]:
                raise AnalysisError(p, f"{key}/node_id", f"{data.shape[1]} entries (one per data column)",
                                    str(len(node_ids)))
            el = np.asarray(_data(p, cols["element_id"]), dtype=np.int64) if "element_id" in cols else \
                np.zeros(len(node_ids), np.int64)
            pops = [_s(x) for x in _data(p, cols["population"])] if "population" in cols else [nm]
            variable = nm[: -len(pops[0]) - 1] if pops and nm.endswith("_" + pops[0]) else nm
            out[nm] = Traces(times, data * (conv * scale), node_ids, el, pops[0] if pops else nm, units, variable, p)
    return out
