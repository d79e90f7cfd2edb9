"""The filter backend: LGN cells (bmtk's FilterNet models) driven by a movie input, as spikes and rates.

Run by :func:`modelkit.simulator.simulate` when the config's ``target_simulator`` is
``LGNModel``/``FilterNet`` or ``backend="filter"`` is passed: the nodes (bmtk writes
them as ``model_type: virtual``, ``model_template: lgnmodel:<type>``) become filter
cells; one ``input_type: movie`` input gives the stimulus.  On the first step of the
run the rates of every cell are evaluated for the whole stimulus, then Poisson spikes
are drawn (seeded by the run's seed: same seed, same spikes) and handed out block by
block like any simulator's spikes, so the run writes a SONATA spikes file that a NEST
or NEURON network takes as its input.  Rates are written by the movie input (h5 and
csv, see :class:`~modelkit.simulator.filter.inputs.MovieInput`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.base import RunOptions
from modelkit.simulator.filter.lgn import LGNUnits, build_units
from modelkit.simulator.filter.model import evaluate, rates_to_spikes
from modelkit.simulator.filter.stimuli import Stimulus, StimulusError

__all__ = ["FilterBackend"]

log = logging.getLogger("modelkit.simulator.filter")

_RATE_VARIABLES = ("rate", "rates", "firing_rate", "firing_rates_Hz")


class _RateRecorder:
    """Rates of some cells sampled every ``dt`` ms (a report of variable ``rate``, Hz)."""

    def __init__(self, backend: "FilterBackend", population: str, node_ids: np.ndarray, variables: Sequence[str],
                 dt: float, start: float, stop: float) -> None:
        self.backend = backend
        self.population = population
        self.node_ids = np.asarray(node_ids, dtype=np.int64)
        self.variables = tuple(variables)
        self.units = {v: "Hz" for v in variables}
        self.time_window = (start, stop, dt)
        self._next = 0

    def collect(self) -> dict[str, np.ndarray]:
        start, stop, dt = self.time_window
        n_all = int(round((stop - start) / dt))
        upto = min(n_all, int(np.floor((self.backend.t - start) / dt + 1e-9)))
        if upto <= self._next or self.population not in self.backend.rates:
            return {v: np.empty((0, len(self.node_ids))) for v in self.variables}
        times, ids, rates = self.backend.rates[self.population]
        col = np.searchsorted(ids, self.node_ids)
        ts = start + np.arange(self._next, upto) * dt
        row = np.clip(np.searchsorted(times, ts + 1e-9, side="right") - 1, 0, len(times) - 1)
        self._next = upto
        frame = rates[np.ix_(row, col)]
        return {v: frame for v in self.variables}


class FilterBackend:
    """Linear-nonlinear filter cells (the Allen LGN models) in numpy.

    * cells: one or two units each (:mod:`modelkit.simulator.filter.lgn`), built from the node
      columns and the ``dynamics_params`` JSON files of ``components.filter_models_dir``;
    * stimulus: :meth:`set_stimulus` (the ``movie`` input module calls it);
    * spikes: inhomogeneous Poisson trains from the rates, in ``[tstart, tstop)`` ms;
    * reports: ``rate`` (Hz) as a SONATA report through the ``membrane_report`` module.
    """

    name: ClassVar[str] = "filter"
    model_types: ClassVar[frozenset[str]] = frozenset({"virtual", "filter"})
    description: ClassVar[str] = "numpy filter models (LGN cells on movies, bmtk's FilterNet)"

    @classmethod
    def is_available(cls) -> bool:
        return True

    def __init__(self) -> None:
        self.units: dict[str, LGNUnits] = {}
        self.stimulus: Stimulus | None = None
        self.stimulus_where = "inputs"
        self.rates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # pop -> (times ms, ids, (T, n) Hz)
        self.t = 0.0
        self._options: RunOptions | None = None
        self._config: Any = None
        self._spikes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._cursor: dict[str, int] = {}
        self._evaluated = False

    # ------------------------------------------------------------------ build
    def build(self, network: Any, populations: dict[str, Any], options: RunOptions, config: Any) -> None:
        """Build the filter units of every cell of ``populations`` ({name: Selection})."""
        self._options, self._config = options, config
        self.t = options.tstart
        comps = getattr(config, "components", {}) or {}
        models_dir = comps.get("filter_models_dir")
        for k, (name, sel) in enumerate(populations.items()):
            pop = network.nodes[name]
            ids = sel.flat
            df = pop.get(None, ids).reset_index(drop=True)
            rng = np.random.default_rng([int(options.seed), k, 1])
            self.units[name] = build_units(df, ids, models_dir, f"{pop.path}: /nodes/{name}", rng)
            log.info("filter: %d cells (%d units) of %s", len(ids), self.units[name].n_units, name)

    def set_stimulus(self, stimulus: Stimulus, where: str = "inputs") -> None:
        """Show ``stimulus`` to every cell (one stimulus per run).

        Raises
        ------
        StimulusError
            A second stimulus.
        """
        if self.stimulus is not None:
            raise StimulusError(getattr(self._config, "path", None), where,
                                f"one movie input per run (already have {self.stimulus_where})", "a second one")
        self.stimulus = stimulus
        self.stimulus_where = where

    # ------------------------------------------------------------------ run
    def _evaluate(self) -> None:
        assert self._options is not None
        opts = self._options
        path = getattr(self._config, "path", None)
        stim = self.stimulus
        if stim is None:
            raise ConfigError(path, "inputs", "an input with input_type 'movie' (a movie, grating, "
                              "full_field_flash or looming) for the filter cells", "none")
        n = int(np.ceil(opts.tstop / stim.frame_dt - 1e-9))
        if stim.n_frames < n:
            raise StimulusError(path, f"{self.stimulus_where}.frame_rate",
                                f"a stimulus that lasts the run (tstop {opts.tstop:g} ms = {n} frames at "
                                f"{stim.frame_rate:g} Hz)",
                                f"{stim.n_frames} frames = {stim.duration:g} ms")
        n = min(stim.n_frames, int(np.floor(opts.tstop / stim.frame_dt + 1e-9)) + 1)  # frames at t <= tstop
        for k, (name, units) in enumerate(self.units.items()):
            times, rates = evaluate(units, stim, n, f"{path}: population {name}")[:2]
            self.rates[name] = (times, units.node_ids, rates)
            rng = np.random.default_rng([int(opts.seed), k])
            self._spikes[name] = rates_to_spikes(rates, times, units.node_ids, rng, opts.tstart, opts.tstop,
                                                 f"population {name} rates")
            self._cursor[name] = 0
        self._evaluated = True

    def run_until(self, t: float) -> None:
        """Advance to ``t`` (ms); the first call evaluates the rates and draws the spikes of the whole run."""
        if not self._evaluated:
            self._evaluate()
        self.t = float(t)

    def collect_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Spikes since the last call, up to the current time: ``{population: (node_ids, times ms)}``."""
        out = {}
        for name, (ids, times) in self._spikes.items():
            a = self._cursor[name]
            b = int(np.searchsorted(times, self.t, side="left")) if self.t < self._options.tstop else len(times)  # type: ignore[union-attr]
            self._cursor[name] = b
            out[name] = (ids[a:b], times[a:b])
        return out

    # ------------------------------------------------------------------ primitives filter cells lack
    def add_spike_trains(self, population: str, node_ids: np.ndarray, trains: dict[int, np.ndarray]) -> None:
        """Refused: filter cells are driven by a stimulus."""
        raise ConfigError(getattr(self._config, "path", None), "inputs",
                          "movie inputs for filter cells (they take no spike trains)", f"spikes for {population}")

    def add_current_clamp(self, population: str, node_ids: np.ndarray, times: np.ndarray,
                          amplitudes: np.ndarray, kind: str = "ic") -> None:
        """Refused: filter cells have no membrane."""
        raise ConfigError(getattr(self._config, "path", None), "inputs",
                          "movie inputs for filter cells (they have no membrane to clamp)", f"a clamp on {population}")

    def record_variables(self, population: str, node_ids: np.ndarray, variables: Sequence[str], dt: float,
                         start: float, stop: float) -> _RateRecorder:
        """Record the cells' ``rate`` (Hz) every ``dt`` ms in ``[start, stop)``."""
        bad = [v for v in variables if v not in _RATE_VARIABLES]
        if bad:
            raise ConfigError(getattr(self._config, "path", None), "reports.variable_name",
                              f"a variable of filter cells ({', '.join(_RATE_VARIABLES)})", str(bad))
        return _RateRecorder(self, population, node_ids, variables, dt, start, stop)

    def close(self) -> None:
        """Drop the drawn spikes (the rates stay readable in :attr:`rates`)."""
        self._spikes.clear()
