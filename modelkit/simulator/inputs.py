"""Input modules, looked up by the config's ``(input_type, module)``.

Every input becomes one of two primitives of the backend: spike trains of
(virtual) nodes, or a piecewise-constant current into built cells.  Units
follow SONATA/NEURON everywhere: times in ms, currents in nA (a backend
converts, e.g. NEST takes pA).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkit.errors import ConfigError, ModelkitError, ModelkitWarning, SonataFormatError
from modelkit._typing import PathLike
from modelkit.simulator.abilities import DefaultClampUnits
from modelkit.simulator.base import ConfigModule, SimulatorModule
from modelkit.sonata.config import InputSpec
from modelkit.simulator.poisson import PoissonSpikeGenerator
from modelkit.sonata import read_spikes
from modelkit.sonata.spikes import SpikePopulation
from modelkit.sonata.nwb import read_nwb_sweep
from modelkit.sonata.nwb import read_nwb_spikes
from modelkit.sonata.simcheck import dropped_spikes_message, spikes_outside

if TYPE_CHECKING:
    from modelkit.simulator.run import Simulation
    from modelkit.sonata import SimulationConfig
    from modelkit.simulator.base import Backend

__all__ = ["INPUT_MODULES", "input_module", "SpikeFileInput", "CurrentClampInput", "PoissonInput", "step_current",
           "MAX_POISSON_SPIKES", "poisson_spike_count", "check_poisson_count"]

log = logging.getLogger("modelkit.simulator")

#: most spikes one Poisson input of a config may draw (expected count over all its nodes).  A few bytes of
#: config must not ask for GBs: 2e7 spikes take ~0.5 GB while drawn and sorted; a larger input belongs in a
#: spike file (``PoissonSpikeGenerator(...).to_sonata``), whose size the user sees
MAX_POISSON_SPIKES = 20_000_000


def poisson_spike_count(params: Mapping[str, Any], n_nodes: int, tstart: float, tstop: float) -> float:
    """Expected number of spikes a Poisson input draws (before thinning an inhomogeneous rate).

    Parameters
    ----------
    params : mapping
        The input's config entry: ``rate`` (Hz), or ``rates`` (Hz) with ``times`` (ms); ``start_time`` and
        ``stop_time`` (ms).
    n_nodes : int
        Virtual nodes driven.
    tstart, tstop : float
        The run's window (ms), the default of ``start_time`` / ``stop_time``.

    Returns
    -------
    float
        0 where the values cannot be read (their own checks name them).
    """
    try:
        start = float(params.get("start_time", tstart))
        stop = float(params.get("stop_time", tstop))
        if "rates" in params:
            rates = np.asarray(params["rates"], dtype=float)
            times = np.asarray(params.get("times", (start, stop)), dtype=float)
            rmax, span = float(rates.max()), float(times.max() - times.min())
        else:
            rmax, span = float(params["rate"]), stop - start
    except (KeyError, TypeError, ValueError):
        return 0.0
    n = rmax * max(span, 0.0) / 1000.0 * n_nodes
    if np.isnan(n):
        return 0.0  # a NaN rate or time: the value checks name it
    return n if np.isfinite(n) else float("inf")


def check_poisson_count(params: Mapping[str, Any], n_nodes: int, tstart: float, tstop: float, path: str | None,
                        key: str) -> ConfigError | None:
    """The error for a Poisson input expected to draw more than :data:`MAX_POISSON_SPIKES`, else None.

    Parameters
    ----------
    params : mapping
        The input's config entry (``rate`` or ``rates`` with ``times``, ``start_time``, ``stop_time``).
    n_nodes : int
        Virtual nodes driven.
    tstart, tstop : float
        The run's window (ms).
    path : str or None
        The simulation config, for the message.
    key : str
        ``inputs.<name>``.
    """
    n = poisson_spike_count(params, n_nodes, tstart, tstop)
    if n <= MAX_POISSON_SPIKES:
        return None
    which = "rates" if "rates" in params else "rate"
    return ConfigError(path, f"{key}.{which}", f"at most {MAX_POISSON_SPIKES:,} input spikes expected (rate x "
                       f"duration x nodes); write a larger input to a spike file",
                       f"{n:,.0f} expected from {n_nodes} nodes")


def _trains(node_ids: np.ndarray, times: np.ndarray) -> dict[int, np.ndarray]:
    """{node_id: sorted spike times} without a Python loop over spikes."""
    if len(node_ids) == 0:
        return {}
    order = np.lexsort((times, node_ids))
    ids, ts = node_ids[order], times[order]
    cut = np.flatnonzero(np.diff(ids)) + 1
    starts = np.concatenate(([0], cut))
    return {int(ids[a]): t for a, t in zip(starts, np.split(ts, cut))}


class SpikeFileInput(ConfigModule[InputSpec]):
    """Spike trains from a SONATA h5, bmtk CSV or NWB file, onto the virtual nodes of ``node_set``."""

    def _read(self, sim: Simulation) -> dict:
        paths = list(self.spec.input_files)
        key = f"inputs.{self.name}.input_file"
        if not paths:
            raise ConfigError(sim.config.path, key, "a spike file (input_file)", "none")
        out: dict = {}
        for path in paths:  # a list of files (bmtk reads several NWB files): their spikes join per population
            if not isinstance(path, str) or not path:
                raise ConfigError(sim.config.path, key, "a spike file path, or a list of them", repr(path)[:80])
            if not os.path.isabs(path):
                path = os.path.normpath(os.path.join(sim.config.base_dir, path))
            if not os.path.exists(path):
                raise ConfigError(sim.config.path, key, "an existing spike file", path)
            if self.spec.module == "nwb" or self.spec.input_type == "nwb" or path.endswith(".nwb"):
                data = read_nwb_spikes(path, self.spec.params.get("trial"))
            else:
                data = read_spikes(path)
            for pop, sp in data.items():
                if pop in out:
                    sp = SpikePopulation(pop, np.concatenate([out[pop].node_ids, sp.node_ids]),
                                         np.concatenate([out[pop].timestamps, sp.timestamps]))
                out[pop] = sp
        return out

    def initialize(self, sim: Simulation) -> None:
        try:
            data = self._read(sim)
        except SonataFormatError as e:  # the config that names the file, and the file's own problem
            raise ConfigError(sim.config.path, f"inputs.{self.name}.input_file", "a readable spike file",
                              str(e)) from e
        targets = sim.resolve(self.spec.node_set, f"inputs.{self.name}.node_set")
        driven = {pop: sel & sim.sources[pop] for pop, sel in targets.items() if pop in sim.sources}
        if not any(len(s) for s in driven.values()) and any(len(s) for s in targets.values()):
            # the whole input would drive nothing: its spikes would be lost without a word (a node set of
            # simulated cells, or a backend such as the filter one that simulates its virtual nodes)
            found = ", ".join(f"{len(s)} simulated cells of {pop}" for pop, s in targets.items() if len(s))
            raise ConfigError(sim.config.path, f"inputs.{self.name}.node_set",
                              f"virtual nodes to drive (spike trains go onto virtual nodes; the {sim.backend.name} "
                              f"backend simulates these nodes)", found)
        for pop, sel in targets.items():
            src = sim.sources.get(pop)
            if src is None or not len(src & sel):
                log.warning("input %s: population %s has no virtual nodes in the node set; ignored", self.name, pop)
                continue
            sel = sel & src
            sp = data.get(pop)
            if sp is None and None in data and len(targets) == 1:
                sp = data[None]  # legacy layout: the population comes from the node set
            if sp is None:
                log.warning("input %s: no spikes for population %s in %s", self.name, pop,
                            ", ".join(self.spec.input_files))
                continue
            ids = sel.flat
            n_out, k_out = spikes_outside(sp.node_ids, sim.network.nodes[pop])
            if n_out:  # bmtk drops them without a word; the run goes on, but says so
                warnings.warn(f"{sim.config.path}: inputs.{self.name}.input_file: "
                              + dropped_spikes_message(n_out, k_out, pop, ", ".join(self.spec.input_files)),
                              ModelkitWarning, stacklevel=2)
            keep = np.isin(sp.node_ids, ids)
            if not keep.all():
                log.info("input %s: %d spikes of nodes outside the node set ignored", self.name, int((~keep).sum()))
            trains = _trains(sp.node_ids[keep], sp.timestamps[keep])
            sim.backend.add_spike_trains(pop, ids, trains)
            log.info("input %s: %d spikes onto %d nodes of %s", self.name, int(keep.sum()), len(trains), pop)


def step_current(amps: object, delays: object, durations: object, where: str,
                 path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pulses (nA from ``delay`` for ``duration`` ms each; overlapping pulses add) as change times and levels.

    Parameters
    ----------
    amps, delays, durations : float or list of float
        Pulse amplitudes (nA), onsets and durations (ms), scalars or equal-length lists.
    where : str
        The config key of the input (``inputs.<name>``).
    path : str, optional
        The simulation config, for messages.

    Raises
    ------
    ConfigError
        Naming ``path`` and ``where.amp`` / ``.delay`` / ``.duration``: values that are not finite numbers,
        negative delays or durations, lists of unequal length.
    """
    arrays = []
    for k, x in (("amp", amps), ("delay", delays), ("duration", durations)):
        try:
            v = np.atleast_1d(np.asarray(x, dtype=float))
        except (TypeError, ValueError) as e:
            raise ConfigError(path, f"{where}.{k}", "a number or a list of numbers", repr(x)[:80]) from e
        if v.ndim != 1 or not np.isfinite(v).all() or (k != "amp" and (v < 0).any()):
            raise ConfigError(path, f"{where}.{k}", "finite numbers" + ("" if k == "amp" else " >= 0 (ms)"),
                              repr(x)[:80])
        arrays.append(v)
    a, d, w = arrays
    if not (len(a) == len(d) == len(w)):
        raise ConfigError(path, where, "amp, delay and duration of equal length", f"{len(a)}, {len(d)}, {len(w)}")
    t = np.concatenate([d, d + w])
    da = np.concatenate([a, -a])
    order = np.argsort(t, kind="stable")
    t, da = t[order], da[order]
    times, idx = np.unique(t, return_index=True)
    level = np.cumsum(da)[np.concatenate((idx[1:] - 1, [len(t) - 1]))]
    level[np.abs(level) < 1e-12] = 0.0
    return times, level


#: units a current clamp's amplitudes may be read in -> factor to nA
CLAMP_UNITS = {"nA": 1.0, "pA": 1e-3}


class CurrentClampInput(ConfigModule[InputSpec]):
    """Current clamps onto built cells: ``amp``, ``delay`` and ``duration`` (ms) as scalars or equal-length
    lists (module ``IClamp``), a CSV of ``timestamps amps`` steps (``input_type: csv``), or the stimulus of
    one sweep of an Allen Cell Types NWB file (``input_type: nwb`` or ``allen``: ``file``, ``sweep_id``,
    optional ``downsample`` (ms), ``sweep_window`` [start, stop] (ms) and ``delay`` (ms, added to the sweep's
    times); the sweep's amperes are read as nA, as bmtk does).

    The unit of the amplitudes is ``amp_units`` (``"nA"`` or ``"pA"``) where the input names it, else the
    ``clamp_units`` option (:func:`modelkit.set_options`, ``modelkit run --clamp-units``), else the backend's
    reading: nA in NEURON (SONATA's unit) and pA in NEST, because bmtk hands ``amp`` to NEST's
    ``step_current_generator`` unchanged and every PointNet config is tuned so (``point_stdp``'s 380 pA
    pulses). The run log names the unit of each clamp.
    """

    def file_problems(self, cfg: SimulationConfig) -> list[ConfigError]:
        """The clamp's data file (``file``: NWB sweep or CSV) when it is absent, found before the run builds.

        Parameters
        ----------
        cfg : SimulationConfig
            The run's config.
        """
        if self.spec.input_type not in ("nwb", "allen", "csv") and not self.spec.input_file:
            return []
        path = self.spec.input_file
        if path and os.path.isfile(str(path)):
            return []
        what = "an existing NWB file with the sweep" if self.spec.input_type in ("nwb", "allen") \
            else "an existing CSV of timestamps and amps"
        return [ConfigError(cfg.path, f"inputs.{self.name}.file", what, str(path))]

    def schedule(self, sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
        p = self.spec.params
        key = f"inputs.{self.name}"
        if self.spec.input_type in ("nwb", "allen"):
            path = self.spec.input_file
            if not isinstance(path, str) or not os.path.exists(path):
                raise ConfigError(sim.config.path, f"{key}.file", "an existing NWB file with the sweep", str(path))
            if "sweep_id" not in p:
                raise ConfigError(sim.config.path, f"{key}.sweep_id", "the sweep to play (e.g. 55)", "absent")
            times, amps = read_nwb_sweep(path, p["sweep_id"], p.get("downsample"), p.get("sweep_window"))
            return times + float(p.get("delay", 0.0)), amps
        if self.spec.input_type == "csv" or self.spec.input_file:
            path = self.spec.input_file
            if not isinstance(path, str) or not os.path.exists(path):
                raise ConfigError(sim.config.path, f"{key}.file", "an existing CSV of timestamps and amps", str(path))
            import pandas as pd

            from modelkit.sonata.textfile import MAX_CSV_BYTES, check_regular_file
            check_regular_file(path, "CSV of timestamps and amps", MAX_CSV_BYTES)  # a FIFO would block read_csv
            try:
                df = pd.read_csv(path, sep=r"\s+|,", engine="python")
                return (df["timestamps"].to_numpy(float), df["amps"].to_numpy(float))
            except (KeyError, ValueError) as e:
                raise ConfigError(path, "timestamps/amps", "a CSV with columns timestamps and amps (nA)",
                                  str(e)) from e
        missing = [k for k in ("amp", "delay", "duration") if k not in p]
        if missing:
            raise ConfigError(sim.config.path, f"{key}.{missing[0]}", "amp (nA), delay and duration (ms)", "absent")
        times, levels = step_current(p["amp"], p["delay"], p["duration"], key, sim.config.path)
        return times, levels

    def units(self, sim: Simulation) -> tuple[str, str]:
        """The unit the amplitudes are read in, and what chose it (for the log).

        Parameters
        ----------
        sim : Simulation
            The run (its backend's default unit).

        Raises
        ------
        ConfigError
            ``amp_units`` other than ``"nA"`` or ``"pA"``.
        """
        p = self.spec.params
        if "amp_units" in p:
            if p["amp_units"] not in CLAMP_UNITS:
                raise ConfigError(sim.config.path, f"inputs.{self.name}.amp_units", '"nA" or "pA"',
                                  repr(p["amp_units"])[:80])
            return str(p["amp_units"]), f"inputs.{self.name}.amp_units"
        from modelkit.options import OPTIONS
        if OPTIONS["clamp_units"] is not None:
            return str(OPTIONS["clamp_units"]), "the clamp_units option"
        default = sim.backend.default_clamp_units if isinstance(sim.backend, DefaultClampUnits) else "nA"
        why = ("as bmtk, which passes amp to NEST unchanged; amp_units: \"nA\" or --clamp-units nA reads nA"
               if default == "pA" else "SONATA's unit")
        return default, f"{sim.backend.name}'s default, {why}"

    def initialize(self, sim: Simulation) -> None:
        times, amps = self.schedule(sim)
        units, why = self.units(sim)
        log.info("input %s: current clamp amplitudes in %s (%s)", self.name, units, why)
        extra: dict[str, str] = {}
        if units != "nA":
            if isinstance(sim.backend, DefaultClampUnits) and sim.backend.default_clamp_units == units:
                extra = {"units": units}  # the backend takes them as they are (NEST: pA, bit for bit as bmtk)
            else:
                amps = np.asarray(amps, dtype=float) * CLAMP_UNITS[units]
        from_file = self.spec.input_type in ("nwb", "csv", "allen") or bool(self.spec.input_file)
        for pop, sel in sim.resolve(self.spec.node_set, f"inputs.{self.name}.node_set").items():
            built = sim.built.get(pop)
            if built is None or not len(built & sel):
                log.warning("input %s: no built cells of %s in the node set; ignored", self.name, pop)
                continue
            sim.backend.add_current_clamp(pop, (built & sel).flat, times, amps, kind="f_ic" if from_file else "ic",
                                          **extra)


class PoissonInput(ConfigModule[InputSpec]):
    """Poisson spike trains generated for virtual nodes: ``rate`` (Hz) constant, or ``rates`` with ``times`` (ms)
    for an inhomogeneous process; seeded by ``random_seed`` (default: the run's seed)."""

    def initialize(self, sim: Simulation) -> None:
        p = self.spec.params
        seed = int(p.get("random_seed", sim.options.seed))
        key = f"inputs.{self.name}"
        for k, (pop, sel) in enumerate(sim.resolve(self.spec.node_set, f"{key}.node_set").items()):
            src = sim.sources.get(pop)
            if src is None:
                raise ConfigError(sim.config.path, f"{key}.node_set", "virtual nodes to drive", f"none in {pop}")
            ids = (sel & src).flat
            gen = PoissonSpikeGenerator(population=pop, seed=[seed, k])
            start = float(p.get("start_time", sim.options.tstart))
            stop = float(p.get("stop_time", sim.options.tstop))
            if "rates" not in p and "rate" not in p:
                raise ConfigError(sim.config.path, f"{key}.rate", "a rate (Hz) or rates with times (ms)", "absent")
            which = "rates" if "rates" in p else "rate"
            err = check_poisson_count(p, len(ids), sim.options.tstart, sim.options.tstop, sim.config.path, key)
            if err is not None:  # check_run found it already, unless the module was set up by hand
                raise err
            try:  # the config's values were checked when it was read (sonata.simcheck); this names what is left
                if which == "rates":
                    rates = np.asarray(p["rates"], dtype=float)
                    gen.add(ids, rates, times=np.asarray(p.get("times", np.linspace(start, stop, len(rates))),
                                                         dtype=float) / 1000.0)
                else:
                    gen.add(ids, float(p["rate"]), times=(start / 1000.0, stop / 1000.0))
            except (ModelkitError, TypeError, ValueError) as e:
                raise ConfigError(sim.config.path, f"{key}.{which}", "finite rates >= 0 Hz over a window with "
                                  "start < stop (ms)", str(e)) from e
            sp = gen.spikes(pop)
            sim.backend.add_spike_trains(pop, ids, _trains(sp[0], sp[1]))
            if p.get("output_file") and sim.is_root:  # every MPI rank generates the same trains; one writes
                gen.to_sonata(sim.output_path(p["output_file"]))


def _ecephys_input(name: str, spec: InputSpec) -> SimulatorModule:
    # imported on use: the ecephys tables need the NWB readers, which a run without them need not pay for
    from modelkit.simulator.ecephys import EcephysProbeInput
    return EcephysProbeInput(name, spec)


def _rate_input(name: str, spec: InputSpec) -> SimulatorModule:
    from modelkit.simulator.rates import RateInput
    return RateInput(name, spec)


#: (input_type, module) -> module class of the inputs every backend runs (they use only the Backend
#: protocol's primitives); a backend's own inputs are in its ``input_modules``
INPUT_MODULES: dict[tuple[str, str], Callable[[str, InputSpec], SimulatorModule]] = {
    ("spikes", "sonata"): SpikeFileInput,
    ("spikes", "h5"): SpikeFileInput,
    ("spikes", "hdf5"): SpikeFileInput,
    ("spikes", "csv"): SpikeFileInput,
    ("spikes", "nwb"): SpikeFileInput,
    ("csv", "spikes"): SpikeFileInput,
    ("nwb", "spikes"): SpikeFileInput,
    ("current_clamp", "IClamp"): CurrentClampInput,
    ("current_clamp", "iclamp"): CurrentClampInput,
    ("csv", "IClamp"): CurrentClampInput,
    ("nwb", "IClamp"): CurrentClampInput,
    ("allen", "IClamp"): CurrentClampInput,
    ("spikes", "poisson"): PoissonInput,
    ("spikes", "ecephys_probe"): _ecephys_input,
    ("poisson", "poisson"): PoissonInput,
    ("rates", "constant"): _rate_input,
    ("rates", "time_series"): _rate_input,
    ("rates", "pop_rates"): _rate_input,
    ("csv", "pop_rates"): _rate_input,
}


def input_module(name: str, spec: InputSpec, path: PathLike | None = None,
                 backend: type[Backend] | None = None) -> SimulatorModule:
    """The module for the ``inputs`` entry ``name`` (``spec``): the backend's own inputs first, then
    :data:`INPUT_MODULES`; an unknown module, or one of another backend, raises a ConfigError naming
    ``inputs.<name>.module``.

    Parameters
    ----------
    name, spec, path, backend
        As :func:`~modelkit.simulator.registry.module_for` takes them.
    """
    from modelkit.simulator.registry import module_for
    return module_for("inputs", (spec.input_type, spec.module), name, spec, INPUT_MODULES, path, backend)
