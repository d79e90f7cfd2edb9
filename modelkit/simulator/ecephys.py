"""``ecephys_probe`` spike input: units recorded in Neuropixels/ecephys session NWB files, played by virtual nodes.

bmtk's ``ECEphysUnitsModule`` (``bmtk/simulator/core/modules/ecephys_module.py``), read with h5py:

* ``input_file``: one session NWB file or a list of them; their ``units`` tables (joined with the
  electrodes table on ``peak_channel_id``, which brings ``location``) are pooled;
* ``units``: column filters ``{column: value | [values] | {"operation": "<", "value": x, "column": c}}``
  (``mapping: sample*``), or the path of a space-separated units map with columns ``node_ids`` and
  ``unit_ids`` (optional ``start_times``/``stop_times`` in ms per unit) for ``mapping: units_map``;
* ``mapping``: ``sample`` (each node gets a distinct unit drawn at random), ``sample_with_replacement``,
  ``units_map`` (the file's pairs);
* ``interval``: ``[start, stop]`` in ms of the recording, one such window per file, or
  ``{"interval_name": table, "interval_index": k, column: value, ...}``: the ``k``-th row (default: the
  span of all rows) of ``/intervals/<table>`` (or ``<table>_presentations``) that passes the filters;
  no interval plays the whole recording. Spikes in ``[start, stop]`` are played from
  ``simulation_onset`` (ms; bmtk 1.2 names it ``interval_offset``; the examples' ``simulation_offset``
  is read the same way);
* ``missing_ids``: ``fail`` (default), ``warn`` or ``ignore``: nodes without a unit.

Where bmtk is plainly wrong this module does the right thing: one ``[start, stop]`` applies to every file
of a list (bmtk 1.2 applies it to the first file only and plays the others unfiltered), units of different
files keep apart when their ids coincide, ``missing_ids: ignore`` ignores (bmtk raises a ``KeyError``), and
the older ``stimulus_name``/``stimulus_index`` keys of ``bio_neuropixels`` are read as
``interval_name``/``interval_index``. Sampling is seeded (``random_seed``, else the run's seed); bmtk
draws from numpy's global generator, so a sampled map is not bmtk's.
"""

from __future__ import annotations

import logging
import operator
import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelkit.errors import ConfigError, ModelkitWarning, SonataFormatError
from modelkit.simulator.base import ConfigModule
from modelkit.sonata.config import InputSpec

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation
    from modelkit.sonata import SimulationConfig

__all__ = ["EcephysProbeInput", "filter_table"]

log = logging.getLogger("modelkit.simulator")

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
        "=": operator.eq, "!=": operator.ne}
_MAPPINGS = ("sample", "sample_without_replacement", "sample_with_replacement", "units_map")


def filter_table(df: pd.DataFrame, filters: dict, path: str | None, key: str, what: str) -> pd.DataFrame:
    """Rows of ``df`` passing bmtk's column filters (a value: equal; a list: one of; a dict: ``operation``
    with ``value`` on ``column``, default the key).

    Parameters
    ----------
    df : pandas.DataFrame
        The table (units, or a stimulus/intervals table).
    filters : dict
        ``{column: value, list of values, or {"operation": "<", "value": v, "column": c}}``.
    path : str or None
        The config, named in errors.
    key : str
        The config key of the filters, named in errors.
    what : str
        The table, named in errors.

    Raises
    ------
    ConfigError
        A column the table lacks (naming ``key.<column>`` and the columns there are), an unknown operation.
    """
    mask = np.ones(len(df), dtype=bool)
    for col, want in (filters or {}).items():
        c = want.get("column", col) if isinstance(want, dict) else col
        if c not in df.columns:
            raise ConfigError(path, f"{key}.{col}", f"a column of the {what} ({', '.join(map(str, df.columns))})", c)
        v = df[c].to_numpy()
        if isinstance(want, dict):
            op = _OPS.get(str(want.get("operation")))
            if op is None or "value" not in want:
                raise ConfigError(path, f"{key}.{col}", f"operation ({', '.join(_OPS)}) and value",
                                  repr(want)[:80])
            mask &= np.asarray(op(v, want["value"]), dtype=bool)
        elif isinstance(want, (list, tuple, np.ndarray)):
            mask &= np.isin(v, np.asarray(want))
        else:
            mask &= np.asarray(v == want, dtype=bool)
    return df[mask]


class EcephysProbeInput(ConfigModule[InputSpec]):
    """Spike trains of ecephys/Neuropixels units onto the virtual nodes of ``node_set`` (see the module
    docstring for the keys; times in ms)."""

    # ------------------------------------------------------------ config
    def _key(self, k: str) -> str:
        return f"inputs.{self.name}.{k}"

    def _abspath(self, sim: Simulation, p: str) -> str:
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(sim.config.base_dir, p))

    def _files(self, sim: Simulation) -> list[str]:
        raw: Any = self.spec.params.get("input_file")  # a JSON value, checked below
        files = raw if isinstance(raw, (list, tuple)) else [raw]
        if not raw or not all(isinstance(f, str) and f for f in files):
            raise ConfigError(sim.config.path, self._key("input_file"),
                              "an ecephys session NWB file, or a list of them", repr(raw)[:80])
        out = [self._abspath(sim, f) for f in files]
        for f in out:
            if not os.path.isfile(f):
                raise ConfigError(sim.config.path, self._key("input_file"),
                                  "an existing ecephys session NWB file (units with spike_times)", f)
        return out

    def file_problems(self, cfg: SimulationConfig) -> list[ConfigError]:
        """Absent session files (and units map), found before the run builds anything.

        Parameters
        ----------
        cfg : SimulationConfig
            The run's config (``base_dir`` for relative paths).
        """
        raw = self.spec.params.get("input_file")
        files = raw if isinstance(raw, (list, tuple)) else [raw]
        out = []
        for f in files:
            if isinstance(f, str) and f:
                full = f if os.path.isabs(f) else os.path.normpath(os.path.join(cfg.base_dir, f))
                if not os.path.isfile(full):
                    out.append(ConfigError(cfg.path, self._key("input_file"),
                                           "an existing ecephys session NWB file (units with spike_times)", full))
        m = self.spec.params.get("units")
        if str(self.spec.params.get("mapping", "")).lower() == "units_map" and isinstance(m, str):
            full = m if os.path.isabs(m) else os.path.normpath(os.path.join(cfg.base_dir, m))
            if not os.path.isfile(full):
                out.append(ConfigError(cfg.path, self._key("units"), "an existing units-map file (node_ids unit_ids)",
                                       full))
        return out

    def _windows(self, sim: Simulation, files: list[str]) -> list[tuple[float, float] | None]:
        """One [start, stop] (s) per file, or None (no window)."""
        iv = self.spec.params.get("interval")
        if iv is None:
            return [None] * len(files)
        key = self._key("interval")
        if isinstance(iv, dict) or (isinstance(iv, (list, tuple)) and len(iv) == 2
                                    and all(isinstance(x, (int, float)) for x in iv)):
            items = [iv] * len(files)
        elif isinstance(iv, (list, tuple)) and len(iv) == len(files):
            items = list(iv)
        else:
            raise ConfigError(sim.config.path, key, f"[start, stop] (ms), a stimulus-table filter, or one of "
                              f"them per input file ({len(files)})", repr(iv)[:80])
        return [self._window(sim, it, f, key) for it, f in zip(items, files)]

    def _window(self, sim: Simulation, it: Any, f: str, key: str) -> tuple[float, float]:
        from modelkit.sonata.nwb_tables import nwb_interval_names, read_nwb_intervals
        if not isinstance(it, dict):
            try:
                a, b = (float(x) for x in it)
            except (TypeError, ValueError) as e:
                raise ConfigError(sim.config.path, key, "[start, stop] (ms)", repr(it)[:80]) from e
            return a / 1000.0, b / 1000.0  # bmtk takes a stop before the start as it is: no spikes
        filt = dict(it)
        stim = filt.pop("interval_name", None)
        stim = filt.pop("stimulus_name", stim)  # the older key of bio_neuropixels
        idx = filt.pop("interval_index", filt.pop("stimulus_index", "all"))
        if not isinstance(stim, str):
            raise ConfigError(sim.config.path, f"{key}.interval_name", "the name of a stimulus/intervals table",
                              repr(stim)[:80])
        names = nwb_interval_names(f)
        table = stim if stim in names else f"{stim}_presentations"
        if table not in names:
            raise ConfigError(sim.config.path, f"{key}.interval_name", f"an intervals table of {f} ({names})", stim)
        df = filter_table(read_nwb_intervals(f, table), filt, sim.config.path, key, f"intervals table {table}")
        if not len(df):
            return 0.0, np.inf  # bmtk: no matching presentation plays the whole recording
        if idx == "all":
            return float(df["start_time"].min()), float(df["stop_time"].max())
        if isinstance(idx, bool) or not isinstance(idx, int) or not -len(df) <= idx < len(df):
            raise ConfigError(sim.config.path, f"{key}.interval_index",
                              f"'all' or a row index below {len(df)} (the matching rows)", repr(idx))
        row = df.iloc[idx]
        return float(row["start_time"]), float(row["stop_time"])

    # ------------------------------------------------------------ run
    def initialize(self, sim: Simulation) -> None:
        from modelkit.sonata.nwb_tables import read_ecephys_units
        p = self.spec.params
        path = sim.config.path
        mapping = str(p.get("mapping", "")).lower()
        if mapping not in _MAPPINGS:
            raise ConfigError(path, self._key("mapping"), f"one of {', '.join(_MAPPINGS)}", repr(p.get("mapping")))
        missing = p.get("missing_ids", "fail")
        if missing not in ("fail", "warn", "ignore"):
            raise ConfigError(path, self._key("missing_ids"), "fail, warn or ignore", repr(missing))
        files = self._files(sim)
        windows = self._windows(sim, files)
        onset = float(p.get("simulation_onset", p.get("interval_offset", p.get("simulation_offset", 0.0))))
        tables = []
        for k, f in enumerate(files):
            try:
                t = read_ecephys_units(f)
            except SonataFormatError as e:
                raise ConfigError(path, self._key("input_file"), "a readable ecephys session NWB file", str(e)) from e
            t = t.assign(_file=k)
            tables.append(t)
        units = pd.concat(tables) if len(tables) > 1 else tables[0]
        targets = sim.resolve(self.spec.node_set, self._key("node_set"))
        nodes = []
        for pop, sel in targets.items():
            src = sim.sources.get(pop)
            if src is None or not len(src & sel):
                log.warning("input %s: population %s has no virtual nodes in the node set; ignored", self.name, pop)
                continue
            nodes.append((pop, (sel & src).flat))
        if mapping == "units_map":
            rows, lu = self._units_map(sim, units, nodes, missing)
        else:
            rows, lu = self._sample(sim, units, nodes, missing, mapping == "sample_with_replacement"), None
        spikes = units["spike_times"].to_numpy()
        files_of = units["_file"].to_numpy()
        uid = units.index.to_numpy()
        total = 0
        for (pop, ids), r in zip(nodes, rows):
            trains: dict[int, np.ndarray] = {}
            for nid, row in zip(ids.tolist(), r.tolist()):
                if row < 0:
                    continue
                st = np.asarray(spikes[row], dtype=float)
                win = lu.get(int(uid[row])) if lu else None
                win = win if win is not None else windows[files_of[row]]
                if win is not None:
                    st = st[(win[0] <= st) & (st <= win[1])] - win[0]
                trains[nid] = np.sort(st + onset / 1000.0) * 1000.0
                total += len(st)
            sim.backend.add_spike_trains(pop, ids, trains)
        log.info("input %s: %d spikes of %d units (%s) from %s onto %d nodes", self.name, total, len(units),
                 mapping, ", ".join(os.path.basename(f) for f in files), sum(len(i) for _, i in nodes))

    def _sample(self, sim: Simulation, units: pd.DataFrame, nodes: list, missing: str, replace: bool) -> list:
        """Row of ``units`` per node (-1: none), drawn at random."""
        filters = self.spec.params.get("units") or {}
        if not isinstance(filters, dict):
            raise ConfigError(sim.config.path, self._key("units"), "column filters of the units table (a dict) "
                              "with mapping sample*; a units-map file goes with mapping: units_map", repr(filters)[:80])
        keep = filter_table(units.reset_index(drop=True), filters, sim.config.path, self._key("units"),
                            "units and electrodes tables").index.to_numpy()  # rows of ``units``
        n = sum(len(i) for _, i in nodes)
        if not replace and n > len(keep):
            msg = f"{len(keep)} units pass the filters for {n} nodes (mapping sample draws each unit once)"
            if missing == "fail":
                raise ConfigError(sim.config.path, self._key("units"), f"at least {n} units", msg)
            if missing == "warn":
                warnings.warn(f"{sim.config.path}: {self._key('units')}: {msg}; the rest get no spikes",
                              ModelkitWarning, stacklevel=2)
        seed = int(self.spec.params.get("random_seed", sim.options.seed))
        rng = np.random.default_rng([seed, *map(ord, self.name)])
        m = n if replace else min(n, len(keep))
        drawn = rng.choice(keep, size=m, replace=replace) if len(keep) else np.empty(0, np.int64)
        rows = np.concatenate([drawn, np.full(n - m, -1, np.int64)])  # bmtk: the first nodes get units
        return np.split(rows, np.cumsum([len(i) for _, i in nodes])[:-1])

    def _units_map(self, sim: Simulation, units: pd.DataFrame, nodes: list, missing: str) -> tuple[list, dict]:
        """Rows of ``units`` per node from the units-map file, and per-unit windows (s) it gives."""
        raw = self.spec.params.get("units")
        key = self._key("units")
        if not isinstance(raw, str):
            raise ConfigError(sim.config.path, key, "the path of a units map (columns node_ids unit_ids)",
                              repr(raw)[:80])
        f = self._abspath(sim, raw)
        if not os.path.isfile(f):
            raise ConfigError(sim.config.path, key, "an existing units-map file (node_ids unit_ids)", f)
        try:
            df = pd.read_csv(f, sep=r"\s+|,", engine="python")
            node_ids = df["node_ids"].to_numpy(np.int64)
            unit_ids = df["unit_ids"].to_numpy(np.int64)
        except (KeyError, ValueError) as e:
            raise ConfigError(f, "node_ids/unit_ids", "a space-separated units map with columns node_ids, "
                              "unit_ids (and optional start_times, stop_times in ms)", str(e)) from e
        lu = {}
        if "start_times" in df and "stop_times" in df:
            lu = {int(u): (float(a) / 1000.0, float(b) / 1000.0)
                  for u, a, b in zip(unit_ids, df["start_times"], df["stop_times"])}
        row_of = pd.Series(np.arange(len(units)), index=units.index.to_numpy())
        row_of = row_of[~row_of.index.duplicated()]
        absent = unit_ids[~np.isin(unit_ids, row_of.index.to_numpy())]
        if len(absent):
            raise ConfigError(f, "unit_ids", f"units of {self._key('input_file')}", f"unit ids {absent[:5].tolist()}"
                              f"{' ...' if len(absent) > 5 else ''} not in its units table")
        unit_of = dict(zip(node_ids.tolist(), row_of.loc[unit_ids].to_numpy().tolist()))
        out = []
        for pop, ids in nodes:
            r = np.array([unit_of.get(i, -1) for i in ids.tolist()], dtype=np.int64)
            lost = ids[r < 0]
            if len(lost):
                msg = f"nodes {lost[:5].tolist()}{' ...' if len(lost) > 5 else ''} of {pop} have no unit in {f}"
                if missing == "fail":
                    raise ConfigError(sim.config.path, self._key("missing_ids"), "a unit for every node (fail)", msg)
                if missing == "warn":
                    warnings.warn(f"{sim.config.path}: {self._key('missing_ids')}: {msg}", ModelkitWarning,
                                  stacklevel=2)
            out.append(r)
        return out, lu
