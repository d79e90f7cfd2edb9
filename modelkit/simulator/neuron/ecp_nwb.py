"""The ECP report as an NWB 2 file (``file_name_nwb``, bmtk's option), written through pynwb.

Layout: the electrodes table (``x``, ``y``, ``z`` in µm, as the positions file gives them, and
``channel_id``) and one ``ElectricalSeries`` named ``ElectricalSeries`` in ``/acquisition``, as bmtk
names it: ``data`` (frames, channels) in mV, stored with ``conversion`` 1e-3 so NWB readers get
volts, ``starting_time`` (s) at the first frame and ``rate`` in Hz.  bmtk's converter writes the number
of steps as the rate and ms as seconds; readers of its files must correct for that, readers of these
need not.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
import numpy as np

from modelkit._typing import PathLike
from modelkit.sonata.h5 import atomic_output

__all__ = ["write_ecp_nwb"]


def write_ecp_nwb(path: PathLike, channel_ids: np.ndarray, positions: np.ndarray, time: tuple[float, float, float],
                  data: np.ndarray, *, overwrite: bool = False, description: str = "modelkit simulation") -> str:
    """Write extracellular potentials to an NWB 2 file.

    Parameters
    ----------
    path : PathLike
        The NWB file.
    channel_ids : array of int
        One id per electrode.
    positions : array, shape (channels, 3)
        Electrode positions (µm).
    time : (start, stop, dt)
        ms: the first frame is at ``start``, frames every ``dt``.
    data : array, shape (frames, channels)
        Potentials (mV).
    overwrite : bool
        Replace an existing file (else an error).
    description : str
        The NWB ``session_description``.

    Returns
    -------
    str
        The path written (under a temporary name, then renamed into place).
    """
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import ElectricalSeries

    p = os.fspath(path)
    nwb = NWBFile(session_description=description, identifier=str(uuid.uuid4()),
                  session_start_time=datetime.now(timezone.utc))
    device = nwb.create_device(name="ecp electrode matrix", description="simulated extracellular electrodes")
    group = nwb.create_electrode_group(name="array 1", description="electrodes of the ECP report", location="model",
                                       device=device)
    nwb.add_electrode_column(name="channel_id", description="channel id of the ECP report")
    for ch, (x, y, z) in zip(np.asarray(channel_ids).tolist(), np.asarray(positions, dtype=float).tolist()):
        nwb.add_electrode(group=group, location="model", x=x, y=y, z=z, channel_id=int(ch))
    region = nwb.create_electrode_table_region(region=list(range(len(channel_ids))), description="all electrodes")
    start, _, dt = time
    nwb.add_acquisition(ElectricalSeries(
        name="ElectricalSeries", data=np.asarray(data, dtype=np.float64), electrodes=region, conversion=1e-3,
        starting_time=float(start) / 1000.0, rate=1000.0 / float(dt),
        description="extracellular potential (mV; conversion to volts 1e-3), line-source approximation; "
                    "electrode x, y, z in µm"))
    with atomic_output(p, overwrite=overwrite, suffix=".tmp.nwb") as tmp, NWBHDF5IO(tmp, "w") as io:
        io.write(nwb)
    return p
