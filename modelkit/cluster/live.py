"""Run a SONATA simulation on a cluster engine and watch it live: :func:`run_on_cluster` -> :class:`LiveRun`.

The notebook binds a :class:`~modelkit.cluster.stream.SpikeStream`, submits :func:`_engine_task` to an
engine through ipyparallel and returns at once.  In the engine, :func:`~modelkit.simulator.simulate`
runs in blocks of simulated time with a :class:`~modelkit.cluster.stream.StreamSink`, which pushes each
block's spikes and progress to the notebook and checks for ``stop`` after every block.

On several MPI engines (``engines="all"`` on a cluster from ``start_cluster(n, engines="mpi")``) every
rank runs ``simulate``; the backend gathers spikes to rank 0 and only rank 0 streams (for simulators built
with MPI; NEST from PyPI runs threads on one engine and refuses several ranks with a clear error).

States of a run (:attr:`LiveRun.status`): ``"starting"`` (submitted, engine not yet streaming),
``"running"``, then one of ``"done"``, ``"stopped"`` (:meth:`LiveRun.stop`; the engine leaves the run's
files in ``<output_dir>.stopped``), ``"failed"`` (the simulation raised, the engine died or the stream lost
data; :attr:`LiveRun.error` says which; the files are in ``<output_dir>.failed``).  Spikes received stay
available in every state, and a stopped or failed run's folder holds its log and the spikes and report
frames of its whole blocks as valid SONATA files (``modelkit.analysis.SpikeTable.load`` reads them).  When
the engine (or :func:`~modelkit.cluster.run_local`'s process) dies on this host, the notebook turns the
run's staging folder into ``<output_dir>.failed`` as soon as it sees the death
(:func:`modelkit.simulator.recover_partials`); an engine on another host leaves it to the next run there.

A run is over for the notebook only when what the engine sent has been delivered: a listener slower than
the engine keeps the run ``"running"`` while it drains, for as long as the stream keeps delivering, and the
run then ends ``"done"`` with every spike.  A dead engine is reported at once; what it had sent but the
notebook had not yet delivered is discarded and counted in ``stream.lost`` / ``stream.lost_spikes``, as is
whatever :meth:`LiveRun.stop` leaves undelivered.
"""

from __future__ import annotations

import html
import os
import secrets
import threading
import time
from typing import Any

from modelkit._typing import PathLike
from modelkit._kernelwait import wait_until, wait_until_async
from modelkit.cluster.engines import client_of
from modelkit.cluster.errors import ClusterError, EngineDiedError, RemoteRunError, RunStoppedError, StreamError
from modelkit.cluster.stream import DEFAULT_HWM, DEFAULT_SEND_TIMEOUT, Progress, SpikeStream, StreamSink
from modelkit.runstatus import RunStatus, suppressed

__all__ = ["run_on_cluster", "LiveRun", "pick_engines"]

#: seconds the stream may stay silent (nothing arriving, no listener busy) after the engine's task ended
#: before its end-of-run message is given up on.  Not a grace from the end of the task: a slow client that
#: keeps delivering keeps the wait going, however long the drain takes; once the task ended the engine has
#: flushed its queue, so whatever it sent is already on its way and arrives without pause.
END_QUIET = 2.0
#: the same after the engine died: what is still queued is read out (and counted lost) without delivery
DEAD_QUIET = 0.3
#: seconds the notebook waits for a dead engine's process to be gone before adopting its staging folder
ADOPT_WAIT = 5.0


def _engine_task(config: Any, kwargs: dict, address: str, control: str, run_id: str, hwm: int,
                 send_timeout: float) -> Any:
    """Runs in the engine: ``simulate`` with a :class:`StreamSink` on rank 0."""
    from modelkit.simulator import simulate
    from modelkit.simulator.parallel import world

    if world().rank != 0:
        return simulate(config, **kwargs)
    sink = StreamSink(address, control, run_id, hwm=hwm, send_timeout=send_timeout)
    sink.open()
    try:
        with suppressed():  # the notebook's LiveRun records this run (engines inherit MODELKIT_RUNS_DIR)
            result = simulate(config, sinks=[sink], **kwargs)
        sink.end(result.n_spikes)
        return result
    except BaseException as e:
        sink.fail(e)
        raise
    finally:
        sink.close()


def pick_engines(client: Any, engines: Any = None) -> list[int]:
    """Engine ids for a run: the given ones, all (``"all"``), or the first idle engine (None).

    Parameters
    ----------
    client : ipyparallel.Client
        The cluster's client.
    engines : int, list of int, "all" or None
        Engine ids; the first idle engine when None.

    Raises
    ------
    ClusterError
        No engines registered, or an id the cluster does not have.
    """
    ids = list(client.ids)
    if not ids:
        raise ClusterError("the cluster has no registered engines (start_cluster(n) or wait_for_engines)")
    if engines is None:
        status = client.queue_status()
        idle = [i for i in ids if not status.get(i, {}).get("queue") and not status.get(i, {}).get("tasks")]
        return [idle[0] if idle else ids[0]]
    if isinstance(engines, str) and engines == "all":
        return ids
    chosen = [int(engines)] if isinstance(engines, int) else [int(i) for i in engines]
    missing = sorted(set(chosen) - set(ids))
    if missing:
        raise ClusterError(f"engines {missing} are not registered (the cluster has {ids})")
    return chosen


def _translate(err: BaseException) -> BaseException:
    """An ipyparallel error from the task as a modelkit error."""
    items: list[tuple[Any, Any, Any]] = []
    e: Any = err
    if hasattr(e, "elist"):  # CompositeError: one entry per engine
        items = [(x[0], x[1], x[2]) for x in e.elist]
    elif hasattr(e, "ename"):
        items = [(e.ename, e.evalue, getattr(e, "traceback", "") or "")]
    for ename, evalue, _tb in items:
        if ename == "EngineError":
            local = "simulation process" in str(evalue)  # run_local's child, not an ipyparallel engine
            what, again = ("the simulation process", "run again") if local else \
                ("the engine", "start a new cluster to run again")
            return EngineDiedError(f"{what} died while running the simulation ({evalue}); the spikes received "
                                   f"so far are kept in LiveRun.spikes; {again}")
    for ename, evalue, _tb in items:
        if ename == "RunStoppedError":
            return RunStoppedError(str(evalue))
    if items:
        ename, evalue, tb = items[0]
        return RemoteRunError(str(ename), str(evalue), str(tb))
    return RemoteRunError(type(err).__name__, str(err))


def network_given(network: Any) -> Any:
    """The :class:`~modelkit.sonata.Network` a run was given, or None (a builder or a list is not built here)."""
    from modelkit.sonata import Network
    return network if isinstance(network, Network) else None


class LiveRun:
    """A simulation running on cluster engines, watched from the notebook.

    Made by :func:`run_on_cluster`; everything here is safe to call while the run goes on.

    Attributes
    ----------
    run_id : str
    engine_ids : list of int
        The engines running it.
    output_dir : str or None
        Where the engine publishes the run's files (``<output_dir>.stopped`` / ``<output_dir>.failed`` if
        it stopped or failed, with what it recorded up to then).
    stream : SpikeStream
        The client end of the spike stream (``lost``, ``duplicates``, ``latencies``, listeners).
    network : Network or None
        The network the run was given (``network=``, a :class:`~modelkit.sonata.Network`), which :attr:`spikes`
        carries, so that ``run.spikes.rates(by="pop_name")`` groups by node properties; None otherwise.
    """

    def __init__(self, stream: SpikeStream, async_result: Any, *, engine_ids: list[int],
                 output_dir: str | None, run_id: str, network: Any = None) -> None:
        self.stream = stream
        self.network = network
        self.run_id = run_id
        self.engine_ids = engine_ids
        self.output_dir = output_dir
        self._ar = async_result
        self._status = "starting"
        self._error: BaseException | None = None
        self._result: Any = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._status_file: RunStatus | None = None

    def _start_watch(self) -> None:
        self._thread = threading.Thread(target=self._watch, name=f"modelkit-run-{self.run_id}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        try:
            while not self._ar.wait(0.1):
                if self._status == "starting" and self.stream.hello is not None:
                    self._status = "running"
                self._record()
                if self._status_file is not None and not self.stream.discarding \
                        and self._status_file.stop_requested():  # Stop in the Run monitor
                    self.stream.request_stop()
            try:
                self._result = self._ar.get()
                if isinstance(self._result, list):  # several engines (MPI ranks): rank 0 is the first
                    self._result = self._result[0]
                failed = None
            except Exception as e:
                failed = _translate(e)
                stopped = f"{self.output_dir}.stopped"
                if isinstance(failed, RunStoppedError) and self.output_dir and os.path.isdir(stopped):
                    failed = RunStoppedError(f"{failed}; the run's files up to the stop are in {stopped}")
            failed = self._drain(failed)
            if isinstance(failed, EngineDiedError):
                failed = self._adopt(failed)
            if failed is not None:
                self._error = failed
                self._status = "stopped" if isinstance(failed, RunStoppedError) else "failed"
            else:
                self._status = "done"
        except BaseException as e:  # never let the notebook's thread die silently
            self._error = ClusterError(f"run {self.run_id}: watching the run failed: {type(e).__name__}: {e}")
            self._status = "failed"
        finally:
            self.stream.close()
            if self._status_file is not None:
                self._record()
                self._status_file.finish(self._status, None if self._error is None else str(self._error))
            self._done.set()

    def _drain(self, failed: BaseException | None) -> BaseException | None:
        """Wait for what the engine sent, after its task ended; the error the run ends with (None: done).

        The wait lasts while the stream is alive (messages arriving or a listener busy), so a slow client
        gets every message and then the end-of-run one; a dead engine sends nothing more, so what is queued
        is read out at once, counted in ``stream.lost`` and the death is reported without delay.
        """
        stream = self.stream
        dead = isinstance(failed, EngineDiedError)
        if dead:
            stream.discard()
        quiet = DEAD_QUIET if dead else END_QUIET
        while not stream.finished.wait(0.05):
            if stream.idle_for() > quiet:
                break
        if dead:
            return failed
        stopped_here = stream.discarding and not isinstance(failed, RunStoppedError)
        if failed is None:
            try:
                if not stream.finished.is_set():
                    self._settle_from_result()
                    raise StreamError(f"stream {self.run_id}: the engine finished the run but its end-of-run "
                                      f"message did not arrive (the stream was silent for {quiet:g} s); "
                                      f"{stream.lost} message(s), {stream.lost_spikes} spike(s) not delivered")
                stream.check()
            except StreamError as e:
                if not stopped_here:
                    return e
                return RunStoppedError(f"run {self.run_id}: stopped on request while the notebook was still "
                                       f"receiving; the engine had finished the run (its files are in "
                                       f"{self.output_dir}) but {stream.lost} message(s) with "
                                       f"{stream.lost_spikes} spike(s) were not delivered ({e})")
        return failed

    def _adopt(self, died: EngineDiedError) -> EngineDiedError:
        """The engine died: make its staging folder ``<output_dir>.failed`` now, so the user sees it at once.

        Only a folder whose process is gone on this host is adopted (an engine on another host is left
        to the next run there); the process may take a moment to be gone after the notebook sees it die.
        """
        if self.output_dir is None:
            return died
        from modelkit.simulator import recover_partials
        made: list[str] = []
        deadline = time.monotonic() + ADOPT_WAIT
        while True:
            try:
                made = recover_partials(self.output_dir)
            except Exception as e:  # noqa: BLE001 - the death is the error to report
                return EngineDiedError(f"{died}; its partial files could not be recovered ({type(e).__name__}: {e})")
            if made or not self._partials() or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if not made:
            return died
        return EngineDiedError(f"{died}; the run's files up to its last whole block are in {made[-1]}")

    def _partials(self) -> list[str]:
        """Staging folders of runs of this host to this output that are still there."""
        from modelkit.sonata.fileset import host_tag, parse_owner
        assert self.output_dir is not None
        parent, base = os.path.split(self.output_dir)
        try:
            names = os.listdir(parent)
        except OSError:
            return []
        return [n for n in names if n.startswith(f".{base}.partial-") and (parse_owner(n) or (0, ""))[1] == host_tag()]

    def _settle_from_result(self) -> None:
        """Without the end-of-run message, compare what arrived with the engine's result (``n_spikes``)."""
        sent = getattr(self._result, "n_spikes", None)
        if not isinstance(sent, dict):
            self.stream.lost = max(self.stream.lost, 1)  # the end-of-run message itself was not delivered
            return
        got = self.stream.counts
        missing = sum(max(0, int(v) - got.get(k, 0)) for k, v in sent.items())
        self.stream._discarded_spikes = max(self.stream._discarded_spikes, missing)
        self.stream.lost = max(self.stream.lost, 1)  # at least the end-of-run message

    def _record(self) -> None:
        if self._status_file is not None:
            p = self.stream.progress()
            self._status_file.update(t=p.t, tstop=p.tstop, n_spikes=p.n_spikes, status=self._status)

    # ------------------------------------------------------------------ control
    @property
    def status(self) -> str:
        """``"starting"``, ``"running"``, ``"done"``, ``"stopped"`` or ``"failed"``."""
        if self._status == "starting" and self.stream.hello is not None:
            self._status = "running"
        return self._status

    @property
    def done(self) -> bool:
        """Whether the run is over (in any final state)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run is over or ``timeout`` seconds passed.

        Parameters
        ----------
        timeout : float, optional
            Seconds (default: no limit).

        Returns
        -------
        str
            :attr:`status` (still ``"running"`` after a timeout).

        Notes
        -----
        In a notebook, widget clicks (a :class:`~modelkit.widgets.RunPanel`'s Stop) keep working while a cell
        waits here, and cells queued meanwhile run afterwards in order; ``await run.wait_async()`` is the
        same for an async cell.  Outside a kernel it is a plain blocking wait.
        """
        wait_until(self._done.wait, timeout)
        return self.status

    async def wait_async(self, timeout: float | None = None) -> str:
        """:meth:`wait` for ``await run.wait_async()`` in a cell: the kernel's event loop runs meanwhile.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; no limit when None.

        Returns
        -------
        str
            :attr:`status` (still ``"running"`` after a timeout).
        """
        await wait_until_async(self._done.is_set, timeout)
        return self.status

    def stop(self, *, wait: bool = True, timeout: float | None = 60.0) -> str:
        """Ask the engine to stop after the block it is simulating.

        The engine aborts :func:`~modelkit.simulator.simulate`, which moves the run's staging folder to
        ``<output_dir>.stopped``: its log, the spikes of the blocks run (``/spikes@stop_time`` says up to
        when, ms) and the report frames written, as valid SONATA files; spikes received stay in
        :attr:`spikes`.

        Parameters
        ----------
        wait : bool
            Wait for the engine to confirm.
        timeout : float, optional
            Longest wait (s).

        Spikes and frames not yet delivered are discarded from now on (a slow listener does not hold the stop
        back) and counted in ``stream.lost``; if the engine had already finished and the notebook was still
        draining, the run ends ``"stopped"`` too (the engine's files in ``output_dir`` are whole).

        Returns
        -------
        str
            :attr:`status`: ``"stopped"`` once confirmed (``"done"``/``"failed"`` if it ended first).
        """
        if not self.done:
            self.stream.request_stop()
        return self.wait(timeout) if wait else self.status

    # ------------------------------------------------------------------ results
    @property
    def error(self) -> BaseException | None:
        """Why the run stopped or failed (a :class:`~modelkit.cluster.errors.ClusterError`), else None."""
        return self._error

    @property
    def progress(self) -> Progress:
        """Simulated ms of tstop, wall time and ETA (see :class:`~modelkit.cluster.stream.Progress`)."""
        return self.stream.progress()

    @property
    def spikes(self) -> Any:
        """Spikes received so far, as a :class:`~modelkit.analysis.SpikeTable` (a snapshot)."""
        return self.stream.spike_table(source=f"live run {self.run_id}", network=self.network)

    @property
    def traces(self) -> dict[tuple[str, str, str], tuple[Any, Any, Any]]:
        """Report frames received so far (membrane traces, population rates), a snapshot:
        ``{(report, population, variable): (node_ids, times_ms, values)}``, values times x nodes."""
        return self.stream.traces()

    @property
    def result(self) -> Any:
        """The :class:`~modelkit.simulator.RunResult` of a finished run.

        Raises
        ------
        ClusterError
            The run is still going (``wait()`` first), or the error it stopped or failed with
            (:class:`RunStoppedError`, :class:`EngineDiedError`, :class:`RemoteRunError`, :class:`StreamError`).
        """
        if not self.done:
            raise ClusterError(f"run {self.run_id} is {self.status}; call wait() (or stop()) first")
        if self._error is not None:
            raise self._error
        return self._result

    def __repr__(self) -> str:
        return f"<LiveRun {self.run_id} on engines {self.engine_ids}: {self.status}, {self.progress}>"

    def _repr_html_(self) -> str:
        p = self.progress
        err = f"<div style='color:#b00'>{html.escape(str(self._error))}</div>" if self._error else ""
        return (f"<div><b>Live run</b> <code>{html.escape(self.run_id)}</code> on engines {self.engine_ids}: "
                f"<b>{html.escape(self.status)}</b></div><progress max='1' value='{p.fraction:.3f}'></progress> "
                f"{html.escape(str(p))}{err}")


def simulate_arguments(config: Any, network: Any, threads: int | None, output_dir: PathLike | None,
                       simulate_kwargs: dict) -> tuple[Any, str | None, dict]:
    """``(config, output_dir, kwargs)`` for a ``simulate`` in another process: paths made absolute (the
    other process may have another working directory), the progress bar off.

    Parameters
    ----------
    config : str, PathLike, SimulationConfig or dict
        The simulation config (a dict is read here, its relative paths against this working directory).
    network : Network, str or None
        A network that replaces the config's.
    threads : int, optional
        Threads of the run.
    output_dir : str or PathLike, optional
        Output folder that replaces the config's.
    simulate_kwargs : dict
        Other keywords of ``simulate``.
    """
    if isinstance(config, (str, os.PathLike)):
        config = os.path.abspath(os.fspath(config))
    elif isinstance(config, dict):  # its relative paths are this folder's, as simulate reads them here
        from modelkit.errors import ModelkitError
        from modelkit.sonata import SimulationConfig
        try:
            config = SimulationConfig.from_dict(config, os.getcwd(), None)
        except ModelkitError:  # the run says what is wrong with it, as it does for a file
            pass
    out = os.path.abspath(os.fspath(output_dir)) if output_dir is not None else None
    kwargs = dict(simulate_kwargs, progress=False)
    if kwargs.get("overrides"):  # a malformed key is refused here, not after the other process started
        from modelkit.simulator.overrides import check_override_keys
        kwargs["overrides"] = check_override_keys(kwargs["overrides"])
    for k, v in (("network", network), ("threads", threads), ("output_dir", out)):
        if v is not None:
            kwargs[k] = v
    return config, out, kwargs


def run_on_cluster(config: Any, *, cluster: Any, network: Any = None, engines: Any = None,
                   threads: int | None = None, output_dir: PathLike | None = None, stream_ip: str = "127.0.0.1",
                   stream_host: str | None = None, hwm: int = DEFAULT_HWM,
                   send_timeout: float = DEFAULT_SEND_TIMEOUT, **simulate_kwargs: Any) -> LiveRun:
    """Start :func:`~modelkit.simulator.simulate` on cluster engines and return at once.

    Parameters
    ----------
    config : str, PathLike, SimulationConfig or dict
        The simulation config, as for ``simulate`` (a relative path is made absolute here; it must be
        readable by the engines).
    cluster : ipyparallel.Client, view or Cluster
        From :func:`~modelkit.cluster.start_cluster` or :func:`~modelkit.cluster.attach`.
    network : Network or NetworkBuilder, optional
        Simulate this network instead of the config's circuit (pickled to the engine).
    engines : int, list of int or "all", optional
        Engines to run on; default the first idle one. ``"all"`` for MPI engines (rank 0 streams).
    threads : int, optional
        Simulator threads in the engine (NEST ``local_num_threads``).
    output_dir : str or PathLike, optional
        Where the engine writes the run's files (default the config's ``output.output_dir``).
    stream_ip : str
        Interface the notebook's stream sockets bind (loopback; ``"0.0.0.0"`` for remote engines).
    stream_host : str, optional
        Host name the engines connect to (default ``stream_ip``; set it with ``"0.0.0.0"``).
    hwm : int
        Messages in flight at most before the engine waits for the notebook.
    send_timeout : float
        Seconds the engine waits for a notebook that stopped draining before failing the run (s).
    **simulate_kwargs
        ``seed``, ``overwrite``, ``backend``, ... passed on to ``simulate`` (``progress`` is off).

    Returns
    -------
    LiveRun

    Raises
    ------
    ClusterError
        No engines, unknown engine ids, or the stream sockets could not be bound.

    Examples
    --------
    >>> rc = start_cluster(1)                                                # doctest: +SKIP
    >>> run = run_on_cluster("config.simulation.json", cluster=rc)           # doctest: +SKIP
    >>> run.progress                                                         # doctest: +SKIP
    >>> run.stop()                                                           # doctest: +SKIP
    'stopped'
    >>> run.spikes.rates(by="population")                                    # doctest: +SKIP
    """
    client = client_of(cluster)
    ids = pick_engines(client, engines)
    config, out, kwargs = simulate_arguments(config, network, threads, output_dir, simulate_kwargs)
    run_id = secrets.token_hex(6)
    stream = SpikeStream(stream_ip, host=stream_host, run_id=run_id, hwm=hwm).start()
    try:
        view = client[ids]
        ar = view.apply_async(_engine_task, config, kwargs, stream.address, stream.control_address, run_id,
                              hwm, send_timeout)
    except Exception as e:
        stream.close()
        raise ClusterError(f"run_on_cluster: could not submit the run to engines {ids}: {e}") from e
    run = LiveRun(stream, ar, engine_ids=ids, output_dir=out, run_id=run_id, network=network_given(network))
    run._status_file = RunStatus.start(kind="cluster", config=config if isinstance(config, str) else None,
                                       output_dir=out, engines=ids, run_id=run_id)
    run._start_watch()
    return run
