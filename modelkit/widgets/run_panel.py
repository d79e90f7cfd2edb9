"""RunPanel: run and stop a simulation from a notebook, locally or on a cluster, and watch it.

With parameter controls (:class:`~modelkit.widgets.param_controls.ParamControls`), Run passes the sliders
moved as ``overrides`` (in memory, nothing written but the run's output); the panel shows the code each run
is, and a table of the runs' rates per population; views with ``keep`` keep the earlier runs as overlays.

The panel only calls the public API a script would: :func:`modelkit.cluster.run_local` (a child
process of the kernel, so the kernel never holds simulator state) or
:func:`modelkit.cluster.run_on_cluster`, then ``LiveRun.stop()`` / ``.progress`` / ``.status``; after an
engine died, :func:`~modelkit.cluster.stop_cluster` and :func:`~modelkit.cluster.start_cluster` restart the
cluster. A background thread refreshes the progress bar, elapsed time and ETA a few times a second.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from modelkit._kernelwait import wait_until, wait_until_async
from modelkit._typing import PathLike
from modelkit.cluster import (EngineDiedError, LiveRun, prestart_local, run_local, run_on_cluster, start_cluster,
                              stop_cluster)
from modelkit.widgets._deps import require
from modelkit.widgets.param_controls import ParamControls, rates_table, run_code

if TYPE_CHECKING:
    import ipyparallel

    from modelkit.sonata import SimulationConfig

ipw = require("ipywidgets")
traitlets = require("traitlets")

__all__ = ["RunPanel", "View"]


class View(Protocol):
    """A live view the panel attaches its runs to (:class:`~modelkit.widgets.LiveRaster`, ...)."""

    def attach(self, source: LiveRun) -> None:
        """Follow a run from now on.

        Parameters
        ----------
        source : LiveRun
            The run the panel started.
        """
        ...

_COLORS = {"idle": "#555", "starting": "#555", "running": "#1f77b4", "stopping": "#ff7f0e", "done": "#2ca02c",
           "stopped": "#ff7f0e", "failed": "#d62728", "restarting": "#555"}


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    s = max(0.0, float(s))
    return f"{int(s // 60)}:{s % 60:04.1f}" if s >= 60 else f"{s:.1f} s"


class RunPanel(ipw.VBox):
    """Run / Stop buttons, progress bar, status, elapsed time, ETA and errors of one simulation.

    Parameters
    ----------
    config : str, PathLike, SimulationConfig or dict
        The simulation config, as for :func:`~modelkit.simulator.simulate`.
    cluster : ipyparallel.Client, optional
        Run on this cluster (:func:`~modelkit.cluster.run_on_cluster`); default: a child process
        (:func:`~modelkit.cluster.run_local`).
    views : sequence of View
        Live views (:class:`~modelkit.widgets.LiveRaster`, :class:`~modelkit.widgets.LiveRates`, anything
        with ``attach(run)``) attached to every run the panel starts.
    restart : callable, optional
        ``restart() -> Client`` for "Restart cluster" (default: ``start_cluster(n)`` with the number of
        engines ``cluster`` had and ``cluster_kwargs``).
    cluster_kwargs : dict of str, optional
        Keyword arguments of :func:`~modelkit.cluster.start_cluster` for the default restart.
    poll_s : float
        Refresh period of progress, elapsed and ETA (s).
    parameters : bool or sequence of str
        Sliders for the network's parameters (:func:`~modelkit.simulator.tunable_parameters`): all (True),
        these override keys, or none (False). Run passes those moved as ``overrides``.
    rates_by : str
        How the table of the runs' rates groups cells: ``"population"`` (node populations, from the run's
        result) or a node property such as ``"pop_name"`` or ``"ei"`` (mean rate of the group's cells, Hz;
        it needs the network: the config's, or ``network=``).
    code_names : dict of str to str, optional
        The Python names the shown code gives the config (``"config"``) and the keywords whose values have no
        literal form (``"network"``), where the code that made them used other names: BuilderPanel's Simulate
        passes ``{"config": "sim_config", "network": "sim_network"}``, so that the code runs as pasted after
        the builder's. Default: ``config`` and each keyword's own name.
    **run_kwargs
        Passed to ``run_on_cluster`` / ``run_local`` (``network``, ``output_dir``, ``overwrite``, ``threads``, ...).

    Attributes
    ----------
    run : LiveRun or None
        The latest run (its spikes stay available after a failure: ``panel.run.spikes``).
    controls : ParamControls or None
        The parameter sliders.
    runs : list of dict
        Every run started: ``label`` (what changed), ``overrides``, ``code`` (the equivalent Python),
        ``rates`` (Hz per population once done), ``status`` and ``run``.
    code : str
        The code of the latest run, as shown.

    Examples
    --------
    >>> raster = LiveRaster()                                                    # doctest: +SKIP
    >>> RunPanel("config.simulation.json", cluster=rc, views=[raster]), raster    # doctest: +SKIP
    >>> raster, rates = LiveRaster(keep=2), LiveRates(keep=2)                     # doctest: +SKIP
    >>> RunPanel(cfg, views=[raster, rates], overwrite=True), raster, rates      # doctest: +SKIP
    """

    status = traitlets.Unicode("idle", help="idle, starting, running, stopping, done, stopped, failed, "
                                             "restarting").tag(sync=True)
    error = traitlets.Unicode("", help="why the last run failed or stopped ('' if it did not)").tag(sync=True)

    def __init__(self, config: PathLike | SimulationConfig | dict[str, Any], *,
                 cluster: ipyparallel.Client | None = None, views: Sequence[View] = (),
                 restart: Callable[[], ipyparallel.Client] | None = None,
                 cluster_kwargs: dict[str, Any] | None = None, poll_s: float = 0.25,
                 parameters: bool | Sequence[str] = True, rates_by: str = "population",
                 code_names: dict[str, str] | None = None,
                 **run_kwargs: Any) -> None:
        self.run_button = ipw.Button(description="Run", icon="play", button_style="success",
                                     tooltip="start the simulation")
        self.stop_button = ipw.Button(description="Stop", icon="stop", button_style="warning", disabled=True,
                                      tooltip="stop after the block being simulated")
        self.restart_button = ipw.Button(description="Restart cluster", icon="refresh", button_style="danger",
                                         tooltip="stop the cluster and start a new one",
                                         layout=ipw.Layout(display="none"))
        self.progress_bar = ipw.FloatProgress(value=0.0, min=0.0, max=1.0, layout=ipw.Layout(width="40%"))
        self.status_label = ipw.HTML()
        self.status_label.add_class("mk-run-status")
        self.time_label = ipw.HTML()
        self.time_label.add_class("mk-run-time")
        self.error_box = ipw.HTML(layout=ipw.Layout(display="none"))
        self.error_box.add_class("mk-run-error")
        self.controls, note = self._controls(config, parameters, run_kwargs.get("network"))
        self.compare = ipw.HTML()
        self.compare.add_class("mk-run-compare")
        self.code_box = ipw.HTML()
        self.code_box.add_class("mk-run-code")
        extra = [self.controls] if self.controls is not None else [ipw.HTML(note)] if note else []
        super().__init__(children=[
            *extra, ipw.HBox([self.run_button, self.stop_button, self.restart_button]),
            ipw.HBox([self.progress_bar, self.status_label]), self.time_label, self.error_box, self.compare,
            self.code_box])
        self.add_class("mk-run-panel")
        self.config = config
        self.cluster = cluster
        self.views = list(views)
        self.run_kwargs = run_kwargs
        self.code_names = dict(code_names or {})
        self.rates_by = rates_by
        self.run: LiveRun | None = None
        self.runs: list[dict[str, Any]] = []
        self.code = ""
        self.poll_s = float(poll_s)
        self._n_engines = len(cluster.ids) if cluster is not None and hasattr(cluster, "ids") else 1
        self._restart = restart or (lambda: start_cluster(self._n_engines, **(cluster_kwargs or {})))
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._broken = False  # an engine died: the cluster needs a restart
        self._preload = self._simulator_modules(config)
        self._prestart()
        self.run_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        self.restart_button.on_click(lambda _b: self.restart_cluster())
        self._show()

    @staticmethod
    def _controls(config: Any, parameters: bool | Sequence[str], network: Any) -> tuple[ParamControls | None, str]:
        """The sliders, or None and why there are none (a note; '' when none were asked for)."""
        if parameters is False:
            return None, ""
        from modelkit.sonata import Network
        try:
            if hasattr(network, "build") and hasattr(network, "add_nodes"):  # a NetworkBuilder: its in-memory build
                network = network.build()
            return ParamControls(config, network=network if isinstance(network, Network) else None,
                                 parameters=None if parameters is True else list(parameters)), ""
        except Exception as e:  # the panel still runs the config as it is
            return None, (f"<span style='color:#888'>no parameter controls: {html.escape(type(e).__name__)}: "
                          f"{html.escape(str(e))}</span>")

    @staticmethod
    def _simulator_modules(config: Any) -> tuple[str, ...]:
        """The simulator a local run of ``config`` imports (its ``target_simulator``), to import ahead."""
        try:
            from modelkit.sonata import SimulationConfig, load_config
            cfg = config if isinstance(config, SimulationConfig) else load_config(config) \
                if isinstance(config, (str, os.PathLike)) else None
            target = str(getattr(cfg, "target_simulator", "") or "").lower()
        except Exception:  # the run itself says what is wrong with the config
            return ()
        return {"nest": ("nest",), "neuron": ("neuron",)}.get(target, ())

    def _prestart(self) -> None:
        """The next local run's process, started now (imports done while nobody waits: Run starts at once)."""
        if self.cluster is None:
            prestart_local(self._preload)

    # ------------------------------------------------------------------ actions (the buttons call these)
    def start(self) -> LiveRun | None:
        """Start a run (what "Run" does); returns it, or None when it could not start (see :attr:`error`).

        The sliders moved are passed as ``overrides`` (with any given in ``run_kwargs``, the sliders winning).
        """
        with self._lock:
            if self.run is not None and not self.run.done:
                return self.run
            self.error = ""
            self.status = "starting"
            self._show()
            kwargs = dict(self.run_kwargs)
            moved = self.controls.overrides if self.controls is not None else {}
            overrides = {**(kwargs.pop("overrides", None) or {}), **moved}
            label = self.controls.describe(overrides) if self.controls is not None else \
                (", ".join(f"{k} = {v}" for k, v in overrides.items()) or "as configured")
            self.code = run_code(self.config, cluster=self.cluster is not None, run_kwargs=kwargs,
                                 overrides=overrides, names=self.code_names)
            self.code_box.value = (f"<details open><summary style='font-size:12px;color:#555'>the code of this run"
                                   f"</summary><pre style='font-size:11px;white-space:pre-wrap'>"
                                   f"{html.escape(self.code)}</pre></details>")
            if overrides:
                kwargs["overrides"] = overrides
            try:
                if self.cluster is None:
                    run = run_local(self.config, **kwargs)
                else:
                    run = run_on_cluster(self.config, cluster=self.cluster, **kwargs)
            except Exception as e:  # shown in the panel: a notebook user reads it there
                self.status = "failed"
                self.error = f"{type(e).__name__}: {e}"
                self._show()
                return None
            self.run = run
            self.runs.append({"label": label, "overrides": overrides, "code": self.code, "rates": None,
                              "status": "running", "run": run})
            self.compare.value = rates_table(self.runs) if len(self.runs) > 1 or overrides else ""
            for view in self.views:
                if hasattr(view, "run_label"):  # the legend of its overlay once it is an earlier run
                    view.run_label = f"run {len(self.runs)}: {label}"
                view.attach(run)
            self._watcher = threading.Thread(target=self._watch, args=(run,), name="modelkit-run-panel",
                                             daemon=True)
            self._watcher.start()
            return run

    def stop(self) -> None:
        """Ask the run to stop after its current block (what "Stop" does); returns at once."""
        run = self.run
        if run is not None and not run.done:
            self.status = "stopping"
            self._show()
            run.stop(wait=False)

    def restart_cluster(self) -> None:
        """Stop the (broken) cluster and start a new one in the background (what "Restart cluster" does)."""
        if self.status == "restarting":
            return
        self.status = "restarting"
        self._show()

        def work() -> None:
            try:
                if self.cluster is not None:
                    stop_cluster(self.cluster)
                self.cluster = self._restart()
                self._broken = False
                self.status = "idle"
                self.error = ""
            except Exception as e:
                self.status = "failed"
                self.error = f"restarting the cluster failed: {type(e).__name__}: {e}"
            self._show()

        threading.Thread(target=work, name="modelkit-run-panel-restart", daemon=True).start()

    def wait(self, timeout: float | None = None) -> str:
        """Block until the panel's run is over and shown (or ``timeout`` s passed); returns :attr:`status`.

        In a notebook the panel's buttons keep working while a cell waits here: between short steps the
        wait handles the clicks that reached the kernel (Stop takes effect at the end of the block being
        simulated), and cells queued meanwhile run after this one, in order (see :mod:`modelkit._kernelwait`).
        Outside a kernel it is a plain blocking wait.

        Parameters
        ----------
        timeout : float, optional
            Longest wait (s); default no limit.

        Returns
        -------
        str
            :attr:`status`: ``"done"``, ``"stopped"`` or ``"failed"``, or still ``"running"`` after a timeout.

        Examples
        --------
        >>> panel.start()          # or press Run                                   # doctest: +SKIP
        >>> panel.wait()           # Stop, pressed meanwhile, ends the run: 'stopped'  # doctest: +SKIP
        """
        wait_until(self._watcher_over, timeout)
        return self.status

    async def wait_async(self, timeout: float | None = None) -> str:
        """:meth:`wait` for ``await panel.wait_async()`` in a cell: the kernel's event loop runs meanwhile.

        Parameters
        ----------
        timeout : float, optional
            As in :meth:`wait`: the longest wait (s), default none.

        Returns
        -------
        str
            :attr:`status`, as :meth:`wait`.
        """
        await wait_until_async(lambda: self._watcher_over(0), timeout)
        return self.status

    def _watcher_over(self, seconds: float | None) -> bool:
        w = self._watcher
        if w is None:
            return True
        w.join(seconds)
        # a run started while waiting (Run pressed again) is waited for too
        return not w.is_alive() and w is self._watcher

    # ------------------------------------------------------------------ display
    def _watch(self, run: LiveRun) -> None:
        while not run.done:
            if self.status != "stopping":
                self.status = run.status
            self._show()
            run.wait(self.poll_s)
        err = run.error
        self._broken = self.cluster is not None and isinstance(err, EngineDiedError)
        for entry in self.runs:
            if entry["run"] is run:
                entry["status"] = run.status
                if err is None:
                    try:
                        entry["rates"] = self._rates(run)
                    except Exception:  # noqa: BLE001 - a result without rates leaves its row empty
                        pass
        if len(self.runs) > 1 or self.runs[-1]["overrides"]:
            self.compare.value = rates_table(self.runs)
        self._prestart()  # after the run: its start-up would have taken CPU from the run
        self.status = run.status
        self.error = "" if err is None else f"{type(err).__name__}: {err}"
        self._show()

    def _rates(self, run: LiveRun) -> dict[str, float]:
        """Mean rate (Hz) per group of :attr:`rates_by` of a finished run."""
        if self.rates_by == "population":
            return run.result.rates()
        spikes = run.spikes
        if spikes.network is None:  # a config's run: its network, from the config
            from modelkit.analysis import SpikeTable
            spikes = SpikeTable.load(run.result.spikes_file, config_file=self.config) \
                if isinstance(self.config, (str, os.PathLike)) else spikes
        return {str(k): float(v) for k, v in spikes.rates(by=self.rates_by)["rate"].items()}

    def _show(self) -> None:
        run = self.run
        status = self.status
        busy = status in ("starting", "running", "stopping", "restarting")
        died = self._broken or (self.cluster is not None and "restarting the cluster failed" in self.error)
        with self.hold_sync():
            self.run_button.disabled = busy
            self.stop_button.disabled = status not in ("starting", "running")
            self.restart_button.layout.display = "" if died or status == "restarting" else "none"
            self.restart_button.disabled = status == "restarting"
            color = _COLORS.get(status, "#555")
            if run is not None:
                p = run.progress
                self.progress_bar.value = p.fraction
                self.progress_bar.bar_style = {"done": "success", "failed": "danger", "stopped": "warning"}.get(
                    status, "")
                kept = f", {p.n_spikes} spikes received" + (" (kept)" if status in ("failed", "stopped") else "")
                self.status_label.value = (f"<b class='mk-status' data-status='{status}' style='color:{color}'>"
                                           f"{status}</b> {p.t:g} / {p.tstop:g} ms{kept}")
                eta = "-" if status != "running" else _fmt_s(p.eta)
                self.time_label.value = f"elapsed {_fmt_s(p.wall)} &middot; ETA {eta}"
            else:
                self.status_label.value = f"<b class='mk-status' data-status='{status}' style='color:{color}'>" \
                                          f"{status}</b>"
                self.time_label.value = ""
            if self.error:
                hint = " Press <b>Restart cluster</b> to start a new one; the spikes received are kept in " \
                       "<code>panel.run.spikes</code>." if died else ""
                tone = "#a60" if status == "stopped" else "#b00"  # a stop is asked for, not an error
                self.error_box.value = (f"<div style='color:{tone};white-space:pre-wrap'>"
                                        f"{html.escape(self.error)}</div>{hint}")
                self.error_box.layout.display = ""
            else:
                self.error_box.value = ""
                self.error_box.layout.display = "none"

    def __repr__(self) -> str:
        return f"<RunPanel {self.status}{': ' + self.error if self.error else ''}>"
