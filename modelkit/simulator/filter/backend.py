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
from modelkit.simulator.filter.model import linear_responses, rates_to_spikes, rectify, sample_linear
from modelkit.simulator.filter.stimuli import STIMULUS_MODULES, Stimulus, StimulusError
from modelkit.sonata import Network, Selection, SimulationConfig

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
    #: the ``movie`` inputs (a stimulus for the filter cells; loaded on use)
    input_modules: ClassVar[dict[tuple[str, str], str]] = {
        ("movie", m): "modelkit.simulator.filter.inputs:MovieInput" for m in STIMULUS_MODULES}
    report_modules: ClassVar[dict[str, str]] = {}

    @classmethod
    def is_available(cls) -> bool:
        return True

    def __init__(self) -> None:
        self.units: dict[str, LGNUnits] = {}
        self.stimulus: Stimulus | None = None
        self.stimulus_where = "inputs"
        self.rates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # pop -> (times ms, ids, (T, n) Hz)
        self.rate_times_s: dict[str, np.ndarray] = {}  # pop -> the same times in s, bmtk's floats (for its files)
        self.evaluation_options: dict = {}
        self.bmtk_compat = False
        self.t = 0.0
        self._options: RunOptions | None = None
        self._config: Any = None
        self._spikes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._cursor: dict[str, int] = {}
        self._evaluated = False

    # ------------------------------------------------------------------ build
    def build(self, network: Network, populations: dict[str, Selection], options: RunOptions,
              config: SimulationConfig) -> None:
        """Build the filter units of every cell of ``populations`` ({name: Selection}).

        Parameters
        ----------
        network : Network
            The loaded circuit (node properties: spatial and temporal filter parameters, positions).
        populations : dict of str to Selection
            The node ids to build, by population.
        options : RunOptions
            Run settings (``tstart``, ``tstop``, ``dt`` in ms, seed).
        config : SimulationConfig
            The run's config (``components.filter_models_dir``).
        """
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

    def set_stimulus(self, stimulus: Stimulus, where: str = "inputs", evaluation_options: dict | None = None,
                     bmtk_compat: bool = False) -> None:
        """Show ``stimulus`` to every cell (one stimulus per run).

        Parameters
        ----------
        stimulus : Stimulus
        where : str
            The config key of the input (named in errors).
        evaluation_options : dict, optional
            bmtk's ``evaluation_options`` of the input: ``separable`` (rates at every frame, frame ``k`` at
            ``k / frame_rate`` s), otherwise bmtk's sampled evaluation: ``t_min``, ``t_max`` (s; default the
            movie's first and last frame), ``downsample`` (every n-th sample); a sample between two frames
            interpolates their linear responses, one outside the movie has none (the cell's spontaneous rate).
        bmtk_compat : bool
            Keep what bmtk writes after ``tstop`` (see :meth:`_evaluate`).

        Raises
        ------
        StimulusError
            A second stimulus, or evaluation options bmtk does not know.
        """
        if self.stimulus is not None:
            raise StimulusError(getattr(self._config, "path", None), where,
                                f"one movie input per run (already have {self.stimulus_where})", "a second one")
        opts = dict(evaluation_options or {})
        unknown = sorted(set(opts) - {"separable", "downsample", "t_min", "t_max", "threshold"})
        if unknown:
            raise StimulusError(getattr(self._config, "path", None), f"{where}.evaluation_options",
                                "bmtk's evaluation options (separable, downsample, t_min, t_max)", str(unknown))
        self.stimulus = stimulus
        self.stimulus_where = where
        self.evaluation_options = opts
        self.bmtk_compat = bool(bmtk_compat)

    # ------------------------------------------------------------------ run
    def _sample_times(self, stim: Stimulus) -> np.ndarray | None:
        """bmtk's sample times (s) for the stimulus, or None for "every frame" (its separable evaluation).

        bmtk's ``KernelCursor.evaluate``: ``t_min + arange((t_max - t_min) * frame_rate + 1) / frame_rate``
        (float for float: the count can exceed the movie by one, that sample then has no stimulus).
        """
        o = self.evaluation_options
        where = f"{self.stimulus_where}.evaluation_options"
        path = getattr(self._config, "path", None)
        if o.get("separable"):
            if int(o.get("downsample", 1)) != 1 or "t_min" in o or "t_max" in o:
                raise StimulusError(path, where, "no downsample, t_min or t_max with separable: true (bmtk "
                                    "refuses them)", str({k: o[k] for k in o if k != "separable"}))
            return None
        fr = stim.frame_rate
        last = (stim.n_frames - 1) * (1.0 / fr)
        try:
            t_min = float(o.get("t_min", 0.0))
            t_max = float(o.get("t_max", last))
            down = int(o.get("downsample", 1))
        except (TypeError, ValueError) as e:
            raise StimulusError(path, where, "numbers: t_min, t_max (s), downsample", str(e)) from e
        if down < 1 or not t_max >= t_min:
            raise StimulusError(path, where, "t_min <= t_max (s) and downsample >= 1",
                                f"t_min {t_min}, t_max {t_max}, downsample {down}")
        return (t_min + np.arange((t_max - t_min) * fr + 1) * (1.0 / fr))[::down]

    def _evaluate(self) -> None:
        """Rates of every cell for the stimulus, then the spikes.

        Samples are bmtk's (see :meth:`set_stimulus`), in seconds as bmtk writes them.  bmtk writes a rate
        sample after ``tstop`` where its generated movie has a frame more than the run holds (a grating
        or flash whose ``tstop`` or gray screen is not a whole number of frames: ``tstop`` 2000 ms with a
        0.5 ms gray screen gives frames to 2001 ms), and evaluates a movie file to its end whatever
        ``tstop``: modelkit keeps the samples at ``t <= tstop`` (logged), unless the input sets
        ``bmtk_compat: true`` or names its own window (``evaluation_options.t_max``).  A stimulus shorter
        than the run ends the rates and spikes where it ends (as bmtk; a warning says so).
        """
        assert self._options is not None
        opts = self._options
        path = getattr(self._config, "path", None)
        stim = self.stimulus
        if stim is None:
            raise ConfigError(path, "inputs", "an input with input_type 'movie' (a movie, grating, "
                              "full_field_flash or looming) for the filter cells", "none")
        fr = stim.frame_rate
        samples = self._sample_times(stim)
        t_s = np.arange(stim.n_frames) / fr if samples is None else samples  # bmtk's floats (seconds)
        t_ms = t_s * 1000.0
        keep_all = self.bmtk_compat or "t_max" in self.evaluation_options
        keep = np.ones(len(t_s), bool) if keep_all else t_ms <= opts.tstop + 1e-9
        if not keep.all():
            log.info("filter: %d rate sample(s) after tstop %g ms not kept (bmtk writes them, up to %g ms: "
                     "set bmtk_compat: true on %s to keep them)", int((~keep).sum()), opts.tstop, t_ms[-1],
                     self.stimulus_where)
        t_s, t_ms = t_s[keep], t_ms[keep]
        if not len(t_s):
            raise StimulusError(path, f"{self.stimulus_where}.evaluation_options",
                                f"rate samples at or before tstop ({opts.tstop:g} ms)", "none")
        step = 1000.0 / fr
        if t_ms[-1] + step < opts.tstop - 1e-9:
            log.warning("filter: the stimulus %s ends at %g ms, before tstop %g ms: rates and spikes end there "
                        "(as bmtk's)", self.stimulus_where, t_ms[-1] + step, opts.tstop)
        # bmtk's default samples are the frames themselves: no interpolation pass needed
        on_frames = samples is not None and len(t_s) <= stim.n_frames and bool(
            np.array_equal(t_s, np.arange(len(t_s)) * (1.0 / fr)) or np.array_equal(t_s, np.arange(len(t_s)) / fr))
        # frames the kept samples need (the filters are causal: later frames change nothing before them)
        need = min(stim.n_frames, int(np.ceil(t_s[-1] * fr - 1e-9)) + 1) if samples is not None else len(t_s)
        for k, (name, units) in enumerate(self.units.items()):
            where = f"{path}: population {name}"
            lin = linear_responses(units, stim, max(1, need), where)
            if samples is not None and not on_frames:
                lin = sample_linear(lin, fr, stim.n_frames, t_s)
            rates = rectify(units, lin[:len(t_s)], self._bmtk_scale_after(units, stim, samples is not None, name))
            self.rates[name] = (t_ms, units.node_ids, rates)
            self.rate_times_s[name] = t_s
            rng = np.random.default_rng([int(opts.seed), k])
            stop = t_ms[-1] if self.bmtk_compat else opts.tstop
            self._spikes[name] = rates_to_spikes(rates, t_ms, units.node_ids, rng, opts.tstart, stop,
                                                 f"population {name} rates")
            self._cursor[name] = 0
        self._evaluated = True

    def _bmtk_scale_after(self, units: LGNUnits, stim: Stimulus, sampled: bool, name: str) -> np.ndarray | None:
        """bmtk's sampled (non-separable) evaluation scales a one-unit cell's rate by ``1000 / frame_rate``
        after its nonlinearity (``LNUnitCursor`` applies the transfer function inside ``KernelCursor``'s
        sampling), so below 1000 frames/s its spontaneous rate is multiplied too (a 1 Hz cell at 24 frames/s
        rests at 42 Hz): plainly wrong, so modelkit scales before the nonlinearity, as bmtk does for cells of
        two units and in its separable evaluation; ``bmtk_compat: true`` gives bmtk's numbers."""
        one = np.bincount(units.cell, minlength=units.n_cells)[units.cell] == 1
        if not sampled or stim.frame_rate == 1000.0 or not one.any():
            return None
        if not self.bmtk_compat:
            log.warning("filter: %s: %d one-unit cells evaluated at %g frames/s: bmtk would scale their rates "
                        "by 1000/frame_rate after the nonlinearity (their spontaneous rate too); modelkit scales "
                        "the linear response (set bmtk_compat: true on %s for bmtk's numbers)", name,
                        int(np.unique(units.cell[one]).size), stim.frame_rate, self.stimulus_where)
            return None
        return np.where(one, stim.frame_dt, 1.0)

    def run_until(self, t: float) -> None:
        """Advance to ``t`` (ms); the first call evaluates the rates and draws the spikes of the whole run.

        Parameters
        ----------
        t : float
            Simulated time to reach (ms).
        """
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
        """Refused: filter cells are driven by a stimulus.

        Parameters
        ----------
        population, node_ids, trains
            As :meth:`Backend.add_spike_trains <modelkit.simulator.base.Backend.add_spike_trains>` takes them;
            the error names ``population``.

        Raises
        ------
        ConfigError
            Always; simulate() names the config and the input (``inputs.<name>``) that asked.
        """
        raise ConfigError(None, None, "movie inputs for filter cells (they take no spike trains)",
                          f"spikes for {population}")

    def add_current_clamp(self, population: str, node_ids: np.ndarray, times: np.ndarray,
                          amplitudes: np.ndarray, kind: str = "ic") -> None:
        """Refused: filter cells have no membrane.

        Parameters
        ----------
        population, node_ids, times, amplitudes, kind
            As :meth:`Backend.add_current_clamp <modelkit.simulator.base.Backend.add_current_clamp>` takes them;
            the error names ``population``.

        Raises
        ------
        ConfigError
            Always, as :meth:`add_spike_trains`.
        """
        raise ConfigError(None, None, "movie inputs for filter cells (they have no membrane to clamp)",
                          f"a clamp on {population}")

    def record_variables(self, population: str, node_ids: np.ndarray, variables: Sequence[str], dt: float,
                         start: float, stop: float) -> _RateRecorder:
        """Record the cells' ``rate`` (Hz) every ``dt`` ms in ``[start, stop)``.

        Parameters
        ----------
        population, node_ids : str, numpy.ndarray of int
            The cells' population and node ids.
        variables : sequence of str
            ``rate`` (Hz) only.
        dt, start, stop : float
            Sampling interval and window (ms).
        """
        bad = [v for v in variables if v not in _RATE_VARIABLES]
        if bad:
            raise ConfigError(getattr(self._config, "path", None), "reports.variable_name",
                              f"a variable of filter cells ({', '.join(_RATE_VARIABLES)})", str(bad))
        return _RateRecorder(self, population, node_ids, variables, dt, start, stop)

    def close(self) -> None:
        """Drop the drawn spikes (the rates stay readable in :attr:`rates`)."""
        self._spikes.clear()
