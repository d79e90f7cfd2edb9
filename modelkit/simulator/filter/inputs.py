"""The ``movie`` input module (stimuli of filter cells) and the rate files it writes.

Config entries (bmtk's FilterNet form)::

    "inputs": {"LGN_input": {"input_type": "movie", "module": "grating", "row_size": 120, "col_size": 240,
                             "cpd": 0.04, "temporal_f": 4.0, "contrast": 0.8, "gray_screen_dur": 500.0,
                             "frame_rate": 1000.0}}

Rates go where the ``output`` block names them: ``rates_h5`` / ``rates_file_h5`` /
``rates_file`` (default ``rates.h5``) and ``rates_csv`` / ``rates_file_csv`` (written only
when named).  The h5 layout is bmtk's ``/firing_rates/<population>/{node_id, times,
firing_rates_Hz (times x nodes)}`` and the CSV has bmtk's space-separated columns
``node_id population timestamps firing_rates``: both are bmtk's FilterNet files (SONATA defines
no rates file), read by bmtk users' scripts, so both hold bmtk's numbers in bmtk's units, times
in **seconds** at full precision (the h5 datasets carry a ``units`` attribute).  The SONATA
report of variable ``rate`` (``reports``), like every SONATA file modelkit writes, is in ms.
:func:`compare_rates` compares two rates CSVs on the samples both hold.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pandas as pd

from modelkit._typing import PathLike
from modelkit.errors import ConfigError
from modelkit.simulator.abilities import TakesStimulus
from modelkit.simulator.base import ConfigModule
from modelkit.sonata.config import InputSpec
from modelkit.simulator.filter.stimuli import stimulus_from_config
from modelkit.sonata.h5 import atomic_output

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation

__all__ = ["MovieInput", "write_rates_h5", "write_rates_csv", "read_rates_csv", "compare_rates"]

log = logging.getLogger("modelkit.simulator.filter")


def write_rates_h5(path: PathLike, rates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write ``{population: (times s, node_ids, rates (times, nodes) Hz)}`` in bmtk's layout (atomically).

    ``/firing_rates/<population>/{node_id, times, firing_rates_Hz (times x nodes)}`` with ``times`` in
    seconds as bmtk writes them (a ``units`` attribute on ``times`` and ``firing_rates_Hz`` says so).

    Parameters
    ----------
    path : str or PathLike
        The HDF5 file.
    rates : dict of str to tuple of numpy.ndarray
        ``{population: (times (s), node_ids, rates (times x nodes) Hz)}``.
    """
    with atomic_output(path, overwrite=True) as tmp:
        with h5py.File(tmp, "w") as f:
            grp = f.create_group("firing_rates")
            for pop, (times, ids, r) in rates.items():
                g = grp.create_group(pop)
                g.create_dataset("node_id", data=np.asarray(ids, dtype=np.uint64))
                g.create_dataset("times", data=np.asarray(times, dtype=float)).attrs["units"] = "s"
                g.create_dataset("firing_rates_Hz", data=np.asarray(r, dtype=float), compression="gzip",
                                 compression_opts=1).attrs["units"] = "Hz"


def write_rates_csv(path: PathLike, rates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write bmtk's rates CSV, atomically: space-separated ``node_id population timestamps firing_rates``,
    one row per cell and sample (by population, node id, time), ``timestamps`` in seconds and both numbers
    at full precision, as bmtk's ``RecordRates`` (``rates`` as in :func:`write_rates_h5`).

    Parameters
    ----------
    path : str or PathLike
        The CSV file.
    rates : dict of str to tuple of numpy.ndarray
        As in :func:`write_rates_h5`.
    """
    frames = []
    for pop, (times, ids, r) in rates.items():
        frames.append(pd.DataFrame({"node_id": np.repeat(ids, len(times)), "population": pop,
                                    "timestamps": np.tile(np.asarray(times, dtype=float), len(ids)),
                                    "firing_rates": np.asarray(r, dtype=float).T.ravel()}))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["node_id", "population", "timestamps", "firing_rates"])
    with atomic_output(path, overwrite=True) as tmp:
        df.to_csv(tmp, sep=" ", index=False)  # repr of each float: bmtk's str(np.float64), round-trip exact


def read_rates_csv(path: PathLike) -> pd.DataFrame:
    """A FilterNet rates CSV (bmtk's or modelkit's) as a frame with ``node_id population timestamps
    firing_rates`` and ``t_ms`` (the timestamps in ms, read as seconds: both write seconds).

    Parameters
    ----------
    path : str or PathLike
        The CSV file.
    """
    df = pd.read_csv(path, sep=" ")
    df["t_ms"] = df["timestamps"].to_numpy(float) * 1000.0
    return df


def compare_rates(a: PathLike, b: PathLike) -> tuple[float, int]:
    """Compare two FilterNet rates CSVs on the (node, population, time) samples both have.

    Parameters
    ----------
    a, b : str or PathLike
        Two rates CSVs (``b`` is the reference).

    Returns
    -------
    max_rel : float
        Largest ``|a - b| / max(|b|, 1e-12)`` over the shared samples.
    n_shared : int
        How many samples both files hold.
    """
    da, db = read_rates_csv(a), read_rates_csv(b)
    for d in (da, db):
        d["t_key"] = np.round(d["t_ms"].to_numpy() * 1000.0).astype(np.int64)  # us: robust to float spelling
    m = da.merge(db, on=["node_id", "population", "t_key"], suffixes=("_a", "_b"))
    if not len(m):
        return float("inf"), 0
    x, y = m["firing_rates_a"].to_numpy(float), m["firing_rates_b"].to_numpy(float)
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12))), len(m)


class MovieInput(ConfigModule[InputSpec]):
    """A stimulus for the filter cells (``input_type: movie``; modules movie, grating, full_field_flash, looming)."""

    def initialize(self, sim: Simulation) -> None:
        where = f"inputs.{self.name}"
        if not isinstance(sim.backend, TakesStimulus):
            raise ConfigError(sim.config.path, f"{where}.input_type", "a filter-model run for a movie input "
                              "(target_simulator 'LGNModel' or backend='filter')", f"backend {sim.backend.name!r}")
        params = self.spec.params
        stim = stimulus_from_config(self.spec.module, params, sim.options.tstop, where, sim.config.path)
        sim.backend.set_stimulus(stim, where, params.get("evaluation_options"), bool(params.get("bmtk_compat")))
        log.info("input %s: %s of %d frames %dx%d at %g Hz", self.name, stim.kind, stim.n_frames,
                 stim.frames.shape[1], stim.frames.shape[2], stim.frame_rate)

    def finalize(self, sim: Simulation) -> None:
        if not isinstance(sim.backend, TakesStimulus) or not sim.is_root or not sim.backend.rates:
            return
        out = sim.config.output
        extra = out.extra
        # bmtk's files, in bmtk's unit (s) and floats
        rates = {p: (sim.backend.rate_times_s[p], ids, r) for p, (_, ids, r) in sim.backend.rates.items()}

        def place(v: str) -> str:
            return sim.output_path(v if os.path.isabs(v) else os.path.join(out.output_dir, v))
        h5 = extra.get("rates_h5") or extra.get("rates_file_h5") or extra.get("rates_file") or "rates.h5"
        if str(h5).endswith(".csv"):  # bmtk's rates_file may name a CSV
            h5 = "rates.h5"
        path = place(h5)
        write_rates_h5(path, rates)
        sim.outputs["rates"] = path
        csv = extra.get("rates_csv") or extra.get("rates_file_csv") or (
            extra.get("rates_file") if str(extra.get("rates_file", "")).endswith(".csv") else None)
        if csv:
            path = place(csv)
            write_rates_csv(path, rates)
            sim.outputs["rates_csv"] = path

