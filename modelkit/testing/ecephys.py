"""A small synthetic ecephys (Neuropixels-style) session NWB file, for tests of the ``ecephys_probe`` input.

Written through pynwb, so that bmtk's own module (which reads through pynwb) reads the same file.
"""

from __future__ import annotations

import os

import numpy as np

from modelkit._typing import PathLike

__all__ = ["write_ecephys_session"]


def write_ecephys_session(path: PathLike, *, n_units: int = 12, duration_s: float = 20.0, seed: int = 0,
                          locations: tuple[str, ...] = ("LGd", "VISp", "CA1"),
                          first_unit_id: int = 950_000_000) -> dict:
    """Write a session: units with spike times, quality metrics and a peak channel, and a stimulus table.

    Parameters
    ----------
    path : path-like
        The ``.nwb`` file to write.
    n_units : int
        Units; unit ``k`` has id ``first_unit_id + k``, its peak channel on electrode ``k``, located in
        ``locations[k % len(locations)]``, and fires at ``5 + 2 k`` Hz (Poisson) over the session.
    duration_s : float
        Session length (s).
    seed : int
        Seed of the spike times.
    locations : tuple of str
        Brain areas of the electrodes (``location`` column).
    first_unit_id : int
        Id of the first unit.

    Returns
    -------
    dict
        ``unit_ids`` (array), ``spike_times`` ({unit id: array in s}), ``location``, ``isi_violations``,
        ``amplitude_cutoff``, ``presence_ratio`` (arrays per unit), and ``gratings`` (the rows of the
        ``drifting_gratings_presentations`` table: start_time, stop_time in s, orientation, temporal_frequency).
    """
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.epoch import TimeIntervals

    rng = np.random.default_rng(seed)
    nwb = NWBFile(session_description="synthetic ecephys session", identifier=os.path.basename(str(path)),
                  session_start_time=datetime(2020, 1, 1, tzinfo=timezone.utc))
    dev = nwb.create_device(name="probeA")
    grp = nwb.create_electrode_group(name="probeA", description="synthetic probe", location="brain", device=dev)
    loc = [locations[k % len(locations)] for k in range(n_units)]
    for k in range(n_units):
        nwb.add_electrode(id=1000 + k, x=0.0, y=float(k), z=0.0, location=loc[k], group=grp, filtering="none",
                          imp=0.0)
    nwb.add_unit_column(name="peak_channel_id", description="the electrode with the largest spike")
    for c in ("isi_violations", "amplitude_cutoff", "presence_ratio"):
        nwb.add_unit_column(name=c, description=c)
    ids = np.arange(n_units) + first_unit_id
    isi = np.round(rng.uniform(0.0, 1.0, n_units), 3)
    amp = np.round(rng.uniform(0.0, 0.2, n_units), 3)
    pres = np.round(rng.uniform(0.8, 1.0, n_units), 3)
    trains = {}
    for k, u in enumerate(ids.tolist()):
        n = rng.poisson((5.0 + 2.0 * k) * duration_s)
        t = np.sort(np.round(rng.uniform(0.0, duration_s, n), 5))
        trains[u] = t
        nwb.add_unit(id=u, spike_times=t, peak_channel_id=1000 + k, isi_violations=isi[k],
                     amplitude_cutoff=amp[k], presence_ratio=pres[k])
    table = TimeIntervals(name="drifting_gratings_presentations", description="gratings")
    table.add_column(name="orientation", description="deg")
    table.add_column(name="temporal_frequency", description="Hz")
    rows = []
    t0 = 1.0
    for ori in (0.0, 90.0):
        for tf in (2.0, 4.0):
            for _rep in range(2):
                rows.append((t0, t0 + 2.0, ori, tf))
                table.add_interval(start_time=t0, stop_time=t0 + 2.0, orientation=ori, temporal_frequency=tf)
                t0 += 2.5
    nwb.add_time_intervals(table)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return {"unit_ids": ids, "spike_times": trains, "location": np.array(loc), "isi_violations": isi,
            "amplitude_cutoff": amp, "presence_ratio": pres, "gratings": rows}
