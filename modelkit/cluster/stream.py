"""A lossless spike stream from an engine to the notebook: ZMQ PUSH -> PULL with sequence numbers.

Why not ipyparallel's ``publish_data``: it keeps only the latest value per engine, so blocks published
faster than the client polls are silently replaced.  Here every block is a message of its own:

* the client (:class:`SpikeStream`) binds a PULL socket (and a PUB socket for control messages) on
  loopback, or on the interface it is told to, and drains it in a background thread into a growing,
  thread-safe store;
* the engine (:class:`StreamSink`, a :class:`~modelkit.simulator.ReportSink`) connects a PUSH socket and
  sends each block's spikes as a multipart message ``[header JSON, node_ids bytes, times bytes]``; the
  numpy buffers go to ZMQ without a copy (``copy=False``);
* every message carries a sequence number (0, 1, 2, ...); the client counts gaps (lost messages) and
  repeats (duplicates) and compares the end-of-run message's totals with what arrived;
* backpressure: the PUSH socket holds at most ``hwm`` messages; a send blocks up to ``send_timeout``
  seconds when that queue is full, so a fast engine slows to the client's pace, and a client that stopped
  draining makes the run fail with :class:`~modelkit.cluster.errors.StreamError` instead of losing data;
* control: the client publishes ``stop`` (repeated until the engine answers), the sink polls for it at
  the end of every block and raises :class:`~modelkit.cluster.errors.RunStoppedError`, which aborts
  :func:`~modelkit.simulator.simulate` within one block;
* nothing is dropped silently: a message is *delivered* when it is stored and every listener has seen it;
  one that is not (a gap in the sequence, or discarded because the client stopped, closed or gave up on a
  dead engine) counts in :attr:`SpikeStream.lost` (its spikes in :attr:`SpikeStream.lost_spikes`), and the
  end-of-run (or error) message's totals are reconciled with what was delivered, so ``lost == 0`` only
  when they agree exactly;
* the client also publishes ``ack:N`` (the next sequence number it expects) as it delivers, and the sink's
  :meth:`~StreamSink.close` waits until the client has taken every message, for as long as the client keeps
  moving (no fixed grace: a slow notebook gets everything, a stalled one is given ``send_timeout``).

Message kinds: ``hello`` (sink connected), ``spikes`` (one population of one block), ``frames`` (one
block of a report's sampled values: traces or population rates), ``progress`` (end of
a block: ``t`` and ``tstop`` in ms, the engine's wall clock ``sent``), ``end`` (``n_messages``,
``n_spikes`` per population) and ``error`` (``ename``, ``evalue``, ``stopped``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import zmq

from modelkit.cluster.errors import RunStoppedError, StreamError

__all__ = ["StreamSink", "SpikeStream", "Progress", "PROTOCOL_VERSION"]

PROTOCOL_VERSION = 1

#: default bound on queued messages per socket (engine side and client side)
DEFAULT_HWM = 64
#: default longest wait of a blocked send before the engine gives up (s)
DEFAULT_SEND_TIMEOUT = 60.0


def _header(**fields: Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


class StreamSink:
    """Engine end of the stream: a :class:`~modelkit.simulator.ReportSink` that pushes every block to the client.

    Parameters
    ----------
    address : str
        The client's PULL endpoint (``tcp://127.0.0.1:PORT``), from :attr:`SpikeStream.address`.
    control : str or None
        The client's PUB endpoint for ``stop``, from :attr:`SpikeStream.control_address`.
    run_id : str
        Tag of every message (the client ignores other runs' messages).
    hwm : int
        Messages queued at most before a send blocks.
    send_timeout : float
        Seconds a send may block before the run fails with :class:`StreamError`.

    Examples
    --------
    >>> with StreamSink(stream.address, stream.control_address, stream.run_id) as sink:  # doctest: +SKIP
    ...     result = simulate(config, sinks=[sink])
    ...     sink.end(result.n_spikes)
    """

    def __init__(self, address: str, control: str | None = None, run_id: str = "", *, hwm: int = DEFAULT_HWM,
                 send_timeout: float = DEFAULT_SEND_TIMEOUT) -> None:
        self.address = address
        self.control = control
        self.run_id = run_id
        self.hwm = hwm
        self.send_timeout = send_timeout
        self.seq = 0
        self.n_spikes: dict[str, int] = {}
        self._ctx: zmq.Context | None = None
        self._push: zmq.Socket | None = None
        self._sub: zmq.Socket | None = None
        self.acked = 0  # messages the client has taken, from its ``ack:N``

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> "StreamSink":
        """Connect to the client and send ``hello``.

        Returns
        -------
        StreamSink
            ``self``.
        """
        self._ctx = zmq.Context()
        push = self._ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, self.hwm)
        push.setsockopt(zmq.SNDTIMEO, int(self.send_timeout * 1000))
        push.setsockopt(zmq.LINGER, int(self.send_timeout * 1000))
        push.connect(self.address)
        self._push = push
        if self.control:
            sub = self._ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, self.run_id.encode())
            sub.setsockopt(zmq.LINGER, 0)
            sub.connect(self.control)
            self._sub = sub
        self._send([_header(v=PROTOCOL_VERSION, run=self.run_id, seq=self.seq, kind="hello", sent=time.time())])
        return self

    def close(self) -> None:
        """Wait until the client has taken every message, then release the sockets.

        The wait lasts as long as the client's acknowledgements keep advancing (a slow notebook gets the whole
        run); it ends once they have not advanced for ``send_timeout`` s (a client gone or stalled), and what is
        still queued then is flushed for at most ``send_timeout`` more.
        """
        if self._push is not None and self._sub is not None:
            self._wait_acked()
        for s in (self._push, self._sub):
            if s is not None:
                s.close()
        if self._ctx is not None:
            self._ctx.term()  # waits for the PUSH queue to drain (LINGER = send_timeout)
        self._ctx = self._push = self._sub = None

    def __enter__(self) -> "StreamSink":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sending
    def _send(self, frames: list[Any]) -> None:
        if self._push is None:
            raise StreamError(f"stream to {self.address}: the sink is not open (call open() or use it in `with`)")
        try:
            self._push.send_multipart(frames, copy=False)
        except zmq.Again as e:
            raise StreamError(f"stream to {self.address}: the client did not take a message for "
                              f"{self.send_timeout:g} s ({self.hwm} messages queued); the run stops rather than "
                              f"drop spikes (is the notebook still draining the stream?)") from e
        self.seq += 1

    def spikes(self, population: str, node_ids: np.ndarray, times: np.ndarray) -> None:
        """Send one population's spikes of the block just simulated (``times`` in ms).

        Parameters
        ----------
        population : str
            Node population name.
        node_ids : ndarray
            Node id of each spike.
        times : ndarray
            Spike times, ms.

        Raises
        ------
        StreamError
            The client did not drain the stream within ``send_timeout``.
        """
        ids = np.ascontiguousarray(node_ids)
        ts = np.ascontiguousarray(times)
        if ids.shape != ts.shape or ids.ndim != 1:
            raise StreamError(f"stream sink: population {population!r}: expected 1-D node_ids and times of equal "
                              f"length, found shapes {ids.shape} and {ts.shape}")
        hdr = _header(v=PROTOCOL_VERSION, run=self.run_id, seq=self.seq, kind="spikes", pop=str(population),
                      n=int(ids.size), ids=ids.dtype.str, t=ts.dtype.str, sent=time.time())
        self._send([hdr, ids, ts])
        self.n_spikes[str(population)] = self.n_spikes.get(str(population), 0) + int(ids.size)

    def frames(self, report: str, population: str, variable: str, node_ids: np.ndarray, times: np.ndarray,
               values: np.ndarray) -> None:
        """Send one block of a report's sampled values (membrane traces, population rates).

        ``values`` has one row per time (ms) and one column per node of ``node_ids``.

        Parameters
        ----------
        report : str
            Report name.
        population : str
            Node population name.
        variable : str
            Recorded variable (``v``, ``rate``...).
        node_ids : ndarray
            Node of each column.
        times : ndarray
            Time of each row, ms.
        values : ndarray
            (times, nodes) values in the report's units (mV, Hz).

        Raises
        ------
        StreamError
            Shapes that do not agree, or a client that did not drain the stream within ``send_timeout``.
        """
        ids = np.ascontiguousarray(node_ids)
        ts = np.ascontiguousarray(times, dtype=np.float64)
        vals = np.ascontiguousarray(values)
        if vals.shape != (ts.size, ids.size):
            raise StreamError(f"stream sink: report {report!r} population {population!r}: expected values of "
                              f"shape {(ts.size, ids.size)} (times x nodes), found {vals.shape}")
        hdr = _header(v=PROTOCOL_VERSION, run=self.run_id, seq=self.seq, kind="frames", report=str(report),
                      pop=str(population), var=str(variable), ids=ids.dtype.str, t=ts.dtype.str,
                      vals=vals.dtype.str, shape=list(vals.shape), sent=time.time())
        self._send([hdr, ids, ts, vals])

    def progress(self, t: float, tstop: float) -> None:
        """Send the end of a block (``t`` of ``tstop`` ms) and stop the run if the client asked to.

        Parameters
        ----------
        t, tstop : float
            Model time reached, and the time the run ends at (ms).

        Raises
        ------
        RunStoppedError
            The client sent ``stop``; :func:`~modelkit.simulator.simulate` then aborts after this block.
        StreamError
            The client did not drain the stream within ``send_timeout``.
        """
        self._send([_header(v=PROTOCOL_VERSION, run=self.run_id, seq=self.seq, kind="progress", t=float(t),
                            tstop=float(tstop), sent=time.time())])
        if self.stop_requested():
            raise RunStoppedError(f"run {self.run_id}: stopped on request at t = {t:g} ms of {tstop:g} ms")

    def stop_requested(self) -> bool:
        """Whether the client has published ``stop`` for this run (non-blocking)."""
        return self._read_control(0.0)

    def _read_control(self, wait: float) -> bool:
        """Read the control messages there (waiting up to ``wait`` s for the first): whether one was ``stop``;
        ``ack:N`` raises :attr:`acked`."""
        if self._sub is None:
            return False
        stop = False
        timeout = int(wait * 1000)
        while self._sub.poll(timeout):
            timeout = 0
            topic, body = self._sub.recv_multipart()
            if body == b"stop":
                stop = True
            elif body.startswith(b"ack:"):
                try:
                    self.acked = max(self.acked, int(body[4:]))
                except ValueError:
                    pass
        return stop

    def _wait_acked(self) -> None:
        last, moved = self.acked, time.monotonic()
        while self.acked < self.seq and time.monotonic() - moved < self.send_timeout:
            self._read_control(0.1)
            if self.acked > last:
                last, moved = self.acked, time.monotonic()

    def end(self, n_spikes: Mapping[str, int] | None = None) -> None:
        """Send the end-of-run message with the totals the client checks against.

        Parameters
        ----------
        n_spikes : mapping, optional
            Spikes per population the run recorded (default: those this sink sent).
        """
        counts = dict(self.n_spikes if n_spikes is None else n_spikes)
        self._send([_header(v=PROTOCOL_VERSION, run=self.run_id, seq=self.seq, kind="end", n_messages=self.seq,
                            n_spikes={str(k): int(v) for k, v in counts.items()}, sent=time.time())])

    def fail(self, error: BaseException) -> None:
        """Tell the client the run failed (or was stopped) and why; never raises.

        Parameters
        ----------
        error : BaseException
            Why the run ended.
        """
        try:
            self._send([_header(v=PROTOCOL_VERSION, run=self.run_id, seq=self.seq, kind="error",
                                ename=type(error).__name__, evalue=str(error), n_messages=self.seq,
                                n_spikes=self.n_spikes, stopped=isinstance(error, RunStoppedError),
                                sent=time.time())])
        except Exception:  # the client may be gone; the task's exception still reaches it through ipyparallel
            pass


@dataclass(frozen=True)
class Progress:
    """Where a run stands.

    Attributes
    ----------
    t : float
        Simulated time reached (ms).
    tstop : float
        End of the run (ms); 0 before the first block.
    wall : float
        Seconds since the engine started the run.
    eta : float or None
        Estimated seconds until the end (None before two blocks have been timed).
    n_spikes : int
        Spikes received so far.
    """

    t: float
    tstop: float
    wall: float
    eta: float | None
    n_spikes: int

    @property
    def fraction(self) -> float:
        """Share of the simulated time done (0..1)."""
        return min(1.0, self.t / self.tstop) if self.tstop > 0 else 0.0

    def __str__(self) -> str:
        eta = f", ETA {self.eta:.1f} s" if self.eta is not None else ""
        return f"{self.t:g} / {self.tstop:g} ms ({100 * self.fraction:.0f} %), {self.wall:.1f} s{eta}, " \
               f"{self.n_spikes} spikes"


class SpikeStream:
    """Client end of the stream: binds the sockets and drains them in a background thread.

    Parameters
    ----------
    ip : str
        Interface to bind (default loopback; ``"0.0.0.0"`` for engines on other hosts, with ``host``).
    host : str, optional
        Name or address engines use to reach ``ip`` (default: ``ip``).
    run_id : str
        Messages of other runs are ignored.
    hwm : int
        Messages queued at most on the receiving side.

    Attributes
    ----------
    lost : int
        Messages the engine sent that were not delivered: gaps in the sequence numbers, messages discarded
        after :meth:`discard` / :meth:`close` / a stop request, and (once the end-of-run message arrived) any
        shortfall against its totals.  0 only when everything the engine sent was delivered.
    duplicates : int
        Messages repeated according to the sequence numbers (0 in a healthy stream).
    latencies : list of float
        Seconds from the end of each block on the engine to its arrival here.
    """

    def __init__(self, ip: str = "127.0.0.1", *, host: str | None = None, run_id: str = "",
                 hwm: int = DEFAULT_HWM) -> None:
        self.ip = ip
        self.host = host or ip
        self.run_id = run_id
        self.hwm = hwm
        self.lost = 0
        self.duplicates = 0
        self._discarded_spikes = 0
        self._discarded_messages = 0
        self._discarding = threading.Event()
        self._busy = False  # the drain thread is inside a handler (listeners may be slow)
        self._last_activity = time.monotonic()
        self.n_messages = 0
        self.latencies: list[float] = []
        self.hello: dict | None = None
        self.last: dict | None = None  # the end or error message
        self.finished = threading.Event()
        self._expected = 0
        self._lock = threading.Lock()
        self._deliver = threading.Lock()
        self._ids: dict[str, list[np.ndarray]] = {}
        self._ts: dict[str, list[np.ndarray]] = {}
        self._counts: dict[str, int] = {}
        self._progress: tuple[float, float, float] = (0.0, 0.0, 0.0)  # t, tstop, arrival
        self._first_block: tuple[float, float] | None = None  # (t, arrival) of the first block
        self._t_hello = time.time()
        self._listeners: list[Callable[[str, np.ndarray, np.ndarray], None]] = []
        #: (report, population, variable) -> [node_ids, [times...], [values...]]
        self._frames: dict[tuple[str, str, str], list[Any]] = {}
        self._frame_listeners: list[Callable[..., None]] = []
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.address = ""
        self.control_address = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 10.0) -> "SpikeStream":
        """Bind the sockets and start draining.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for the sockets.

        Returns
        -------
        SpikeStream
            ``self``, with :attr:`address` and :attr:`control_address` set.

        Raises
        ------
        StreamError
            The sockets could not be bound (the message names the interface).
        """
        self._thread = threading.Thread(target=self._loop, name=f"modelkit-stream-{self.run_id}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise StreamError(f"stream: could not bind a PULL socket on {self.ip}: {self._error}") from self._error
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop draining and release the sockets (what was delivered stays available).

        Messages still queued are read out without being stored or delivered and count in :attr:`lost`.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for the draining thread.
        """
        self._discarding.set()
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def request_stop(self) -> None:
        """Ask the engine to stop after its current block (``stop`` is re-sent until it answers).

        From now on spikes and frames are no longer delivered (see :meth:`discard`), so a slow listener does
        not hold the stop back; the engine's final message still arrives and settles :attr:`lost`.
        """
        self._discarding.set()
        self._stop.set()

    def discard(self) -> None:
        """Stop delivering: spikes and frames read from now on are dropped and counted in :attr:`lost`.

        Progress, end-of-run and error messages are still read, so the engine's totals still arrive.
        """
        self._discarding.set()

    @property
    def discarding(self) -> bool:
        """Whether spikes and frames are being discarded (after :meth:`discard`, a stop request or close)."""
        return self._discarding.is_set()

    def idle_for(self) -> float:
        """Seconds since the drain thread last received or finished handling a message (0 while it is
        delivering one: a slow listener keeps the stream alive)."""
        if self._busy:
            return 0.0
        return max(0.0, time.monotonic() - self._last_activity)

    @property
    def lost_spikes(self) -> int:
        """Spikes the engine sent that were not delivered (exact once its end-of-run message arrived)."""
        with self._lock:
            got = sum(self._counts.values())
        sent = None if self.last is None else sum(int(v) for v in self.last.get("n_spikes", {}).values())
        return max(self._discarded_spikes, 0 if sent is None else sent - got)

    def add_listener(self, callback: Callable[[str, np.ndarray, np.ndarray], None], *, replay: bool = False) -> None:
        """Call ``callback(population, node_ids, times)`` from the stream thread for every block that arrives.

        Listeners must be quick (a live plot batches them); an exception in one is logged and ignored.

        Parameters
        ----------
        callback : callable
        replay : bool
            First call ``callback`` with the spikes that already arrived (one call per population), so a view
            attached mid-run sees every spike exactly once: no block is both replayed and delivered, none is missed.
        """
        with self._deliver:
            if replay:
                for pop, (ids, ts) in self.arrays().items():
                    callback(pop, ids, ts)
            self._listeners.append(callback)

    def add_frames_listener(self, callback: Callable[..., None], *, replay: bool = False) -> None:
        """Call ``callback(report, population, variable, node_ids, times, values)`` for every block of report
        frames that arrives (traces: ``values`` is times x nodes; population rates in Hz).

        ``replay``: first call it with the frames that already arrived (one call per report, population and
        variable), so a view attached mid-run sees every frame exactly once (as :meth:`add_listener`).

        Parameters
        ----------
        callback : callable
            ``callback(report, population, variable, node_ids, times, values)``.
        replay : bool, optional
            First call it with the frames already received.
        """
        with self._deliver:
            if replay:
                for (report, pop, var), (ids, ts, vals) in self.traces().items():
                    callback(report, pop, var, ids, ts, vals)
            self._frame_listeners.append(callback)

    # ------------------------------------------------------------------ the drain thread
    def _loop(self) -> None:
        ctx: zmq.Context = zmq.Context.instance()
        try:
            pull = ctx.socket(zmq.PULL)
            pull.setsockopt(zmq.RCVHWM, self.hwm)
            pull.setsockopt(zmq.LINGER, 0)
            port = pull.bind_to_random_port(f"tcp://{self.ip}")
            pub = ctx.socket(zmq.PUB)
            pub.setsockopt(zmq.LINGER, 200)  # the last ack still goes out on close; a PUB never blocks
            cport = pub.bind_to_random_port(f"tcp://{self.ip}")
        except zmq.ZMQError as e:
            self._error = e
            self._ready.set()
            return
        self.address = f"tcp://{self.host}:{port}"
        self.control_address = f"tcp://{self.host}:{cport}"
        self._ready.set()
        last_stop = last_ack = 0.0
        try:
            while not self._closing.is_set():
                if pull.poll(50):
                    for _ in range(1000):  # drain what is there, then look at the control side
                        if self._closing.is_set():
                            break
                        try:
                            frames = pull.recv_multipart(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._receive(frames)
                        last_ack = self._send_ack(pub, last_ack)
                if self._stop.is_set() and not self.finished.is_set() and time.monotonic() - last_stop > 0.2:
                    pub.send_multipart([self.run_id.encode(), b"stop"])
                    last_stop = time.monotonic()
                last_ack = self._send_ack(pub, last_ack)
            # closing: what is still queued here is read out and counted, never dropped silently
            while True:
                try:
                    frames = pull.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._receive(frames)
            # what was read is acknowledged (delivered or counted lost), so the sink need not wait for us
            self._send_ack(pub, 0.0)
        finally:
            pull.close()
            pub.close()

    def _receive(self, frames: list[Any]) -> None:
        self._busy = True
        try:
            self._handle(frames, time.time())
        finally:
            self._last_activity = time.monotonic()
            self._busy = False

    def _send_ack(self, pub: zmq.Socket, last_ack: float) -> float:
        # tells the sink how far delivery got, so that its close() waits for a slow client but not a gone one
        if self._expected and time.monotonic() - last_ack > 0.1:
            pub.send_multipart([self.run_id.encode(), f"ack:{self._expected}".encode()])
            return time.monotonic()
        return last_ack

    def _handle(self, frames: list[Any], arrival: float) -> None:
        try:
            hdr = json.loads(bytes(frames[0].buffer))
        except (ValueError, UnicodeDecodeError):
            return  # not ours
        if hdr.get("run") != self.run_id or hdr.get("v") != PROTOCOL_VERSION:
            return
        seq = int(hdr["seq"])
        if seq < self._expected:
            self.duplicates += 1
            return
        if seq > self._expected:
            self.lost += seq - self._expected
        self._expected = seq + 1
        self.n_messages += 1
        kind = hdr["kind"]
        if kind in ("spikes", "frames") and self._discarding.is_set():
            self.lost += 1
            self._discarded_messages += 1
            if kind == "spikes":
                self._discarded_spikes += int(hdr.get("n", 0))
            return
        if kind == "spikes":
            ids = np.frombuffer(frames[1].buffer, dtype=np.dtype(hdr["ids"]))
            ts = np.frombuffer(frames[2].buffer, dtype=np.dtype(hdr["t"]))
            pop = hdr["pop"]
            with self._deliver:  # storing and delivering one block is atomic for add_listener(replay=True)
                with self._lock:
                    self._ids.setdefault(pop, []).append(ids)
                    self._ts.setdefault(pop, []).append(ts)
                    self._counts[pop] = self._counts.get(pop, 0) + len(ids)
                for cb in self._listeners:
                    try:
                        cb(pop, ids, ts)
                    except Exception:  # a broken view must not break the stream
                        import logging
                        logging.getLogger("modelkit.cluster").exception("stream listener failed")
        elif kind == "frames":
            ids = np.frombuffer(frames[1].buffer, dtype=np.dtype(hdr["ids"]))
            ts = np.frombuffer(frames[2].buffer, dtype=np.dtype(hdr["t"]))
            vals = np.frombuffer(frames[3].buffer, dtype=np.dtype(hdr["vals"])).reshape(hdr["shape"])
            key = (hdr["report"], hdr["pop"], hdr["var"])
            with self._deliver:
                with self._lock:
                    entry = self._frames.setdefault(key, [ids, [], []])
                    entry[1].append(ts)
                    entry[2].append(vals)
                for fcb in self._frame_listeners:
                    try:
                        fcb(*key, ids, ts, vals)
                    except Exception:  # a broken view must not break the stream
                        import logging
                        logging.getLogger("modelkit.cluster").exception("stream frames listener failed")
        elif kind == "progress":
            with self._lock:
                self._progress = (float(hdr["t"]), float(hdr["tstop"]), arrival)
                if self._first_block is None:
                    self._first_block = (float(hdr["t"]), arrival)
                self.latencies.append(arrival - float(hdr["sent"]))
        elif kind == "hello":
            self.hello = hdr
            self._t_hello = float(hdr["sent"])
        elif kind in ("end", "error"):
            self._settle(hdr)
            self.last = hdr
            self.finished.set()

    def _settle(self, last: dict) -> None:
        """Reconcile :attr:`lost` with the engine's final totals: ``lost == 0`` only when they agree."""
        sent_messages = int(last.get("n_messages", self._expected - 1))
        delivered = self.n_messages - 1 - self._discarded_messages  # messages before this one, delivered
        self.lost = max(self.lost, sent_messages - delivered)
        sent = {k: int(v) for k, v in last.get("n_spikes", {}).items() if v}
        with self._lock:
            got = {k: v for k, v in self._counts.items() if v}
        if sent != got and self.lost == 0:  # spikes missing without a missing message: still not delivered
            self.lost = 1

    # ------------------------------------------------------------------ what arrived
    @property
    def counts(self) -> dict[str, int]:
        """Spikes received per population."""
        with self._lock:
            return dict(self._counts)

    def arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Spikes received, ``{population: (node_ids, times_ms)}`` in arrival order (copies)."""
        with self._lock:
            parts = {p: (list(self._ids[p]), list(self._ts[p])) for p in self._ids}
        return {p: (np.concatenate(i), np.concatenate(t)) for p, (i, t) in parts.items()}

    def traces(self) -> dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Report frames received: ``{(report, population, variable): (node_ids, times_ms, values)}``,
        ``values`` with one row per time and one column per node (copies)."""
        with self._lock:
            parts = {k: (v[0], list(v[1]), list(v[2])) for k, v in self._frames.items()}
        return {k: (ids, np.concatenate(ts), np.concatenate(vs)) for k, (ids, ts, vs) in parts.items()}

    def spike_table(self, **kw: Any) -> Any:
        """Spikes received as a :class:`~modelkit.analysis.SpikeTable` (``**kw`` as in ``from_parts``).

        Parameters
        ----------
        **kw
            Keywords of ``SpikeTable.from_parts``.
        """
        from modelkit.analysis import SpikeTable
        return SpikeTable.from_parts(self.arrays(), **kw)

    def progress(self) -> Progress:
        """Simulated time reached, wall time and ETA (see :class:`Progress`)."""
        with self._lock:
            t, tstop, arrival = self._progress
            first = self._first_block
            n = sum(self._counts.values())
        now = time.time() if not self.finished.is_set() else arrival or time.time()
        wall = max(0.0, now - self._t_hello)
        eta = None
        if first is not None and t > first[0] and arrival > first[1]:
            eta = max(0.0, (arrival - first[1]) / (t - first[0]) * (tstop - t) - (now - arrival))
        if self.finished.is_set():
            eta = 0.0
        return Progress(t=t, tstop=tstop, wall=wall, eta=eta, n_spikes=n)

    def check(self) -> None:
        """Raise if the stream lost or repeated messages, or its totals differ from the engine's.

        Raises
        ------
        StreamError
            Names the counts that differ.
        """
        problems = []
        if self.lost:
            problems.append(f"{self.lost} message(s) lost")
        if self.duplicates:
            problems.append(f"{self.duplicates} duplicate message(s)")
        if self.last is not None:
            sent = {k: v for k, v in self.last.get("n_spikes", {}).items() if v}
            got = {k: v for k, v in self.counts.items() if v}
            if sent != got:
                problems.append(f"spikes sent {sent} but received {got}")
        if problems:
            raise StreamError(f"stream {self.run_id} at {self.address}: " + "; ".join(problems))
