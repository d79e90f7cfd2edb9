"""Waiting in a notebook cell without deafening the kernel: button clicks still arrive while a cell waits.

A Jupyter kernel handles the messages of its shell channel (a widget's click is a ``comm_msg`` there) on
the event loop of its main thread, one message at a time: while a cell blocks (``RunPanel.wait()``,
``LiveRun.wait()``), nothing is read, so a Stop button pressed meanwhile does nothing until the cell ends.

:func:`wait_until` waits in short steps and, between them, reads the messages that reached the kernel's
main thread itself (the approach of the jupyter-ui-poll package, written here for ipykernel 7's design):

* In ipykernel 7 a *shell channel thread* owns the shell socket and forwards each message to the main
  thread through an in-process ZMQ ``PAIR`` socket (``SubshellManager._shell_channel_to_main``), read there
  by a ``ZMQStream`` on the (anyio/asyncio) event loop.  The waiting cell reads that socket directly.
* ``comm_open`` / ``comm_msg`` / ``comm_close`` are handled at once, exactly as ipykernel 7 handles a comm
  message that arrives while an *async* cell holds the shell lock (``Kernel.shell_main``): a concurrent
  ``dispatch_shell`` (no busy/idle status), in a copy of the context, with the cell's parent header put back
  afterwards so the cell's output stays under its own cell.
* Every other message (a queued ``execute_request`` above all) is held and, when the wait ends, handed to
  the kernel's own receive callback in arrival order: each then waits for the running cell's shell lock
  (FIFO), so the cells run one after the other afterwards, never nested inside the waiting one.

Outside a kernel, in another thread than the kernel's main one, or with a kernel laid out differently
(ipykernel < 7), waiting is a plain blocking wait; :func:`wait_until_async` (``await`` in a cell) lets
clicks through there too where ipykernel dispatches comm messages during async cells (7.x does).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["wait_until", "wait_until_async", "kernel_poller"]

log = logging.getLogger(__name__)

#: seconds between two reads of the kernel's messages while a cell waits (a click is handled this fast)
STEP = 0.05
_COMM = {"comm_open", "comm_msg", "comm_close"}


class _ShellPoller:
    """Reads the messages forwarded to a kernel's main thread while a cell blocks it (see the module doc)."""

    def __init__(self, kernel: Any, pair: Any) -> None:
        self.kernel = kernel
        self.socket = pair.to_socket
        self.stream = pair.to_stream
        self.held: list[Any] = []

    def poll(self) -> int:
        """Handle the comm messages waiting now and hold the others; how many messages were read."""
        import zmq
        n = 0
        # drained to empty every time: the stream's edge-triggered descriptor fires again for the next one
        while self.socket.poll(0, zmq.POLLIN):
            try:
                msg = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            n += 1
            if self._msg_type(msg) in _COMM:
                self._dispatch(msg)
            else:
                self.held.append(msg)
        return n

    def _msg_type(self, msg: list[Any]) -> str | None:
        session = self.kernel.session
        try:
            _, frames = session.feed_identities(msg, copy=False)
            return session.deserialize(frames, content=False, copy=False)["header"].get("msg_type")
        except Exception:  # not ours to judge: the kernel's own reader logs invalid messages
            return None

    def _dispatch(self, msg: list[Any]) -> None:
        kernel = self.kernel
        parent = kernel.get_parent("shell")
        ident = kernel._get_shell_context_var(kernel._shell_parent_ident)
        coro = kernel.dispatch_shell(msg, subshell_id=None, concurrent=True)
        try:
            # a comm handler is synchronous in ipykernel 7: the coroutine ends at its first step
            contextvars.copy_context().run(coro.send, None)
        except StopIteration:
            pass
        except Exception:
            log.exception("handling a widget message while waiting failed")
        else:  # it awaited something: it cannot go on while the loop is blocked; never leave it half run
            coro.close()
            log.warning("a widget message needed the event loop while a cell waited; it was dropped")
        finally:
            kernel.set_parent(ident, parent, channel="shell")

    def close(self) -> None:
        """Give the held messages back to the kernel, in arrival order, behind the running cell."""
        held, self.held = self.held, []
        if not held:
            return
        callback = getattr(self.stream, "_recv_callback", None)
        loop = self.kernel.io_loop
        for msg in held:
            if callback is not None:
                loop.add_callback(_run, callback, msg)
            else:  # the stream's callback moved: the kernel's own handler, as it registers it
                loop.add_callback(_run, self.kernel.shell_main, None, msg)


async def _run(fn: Callable[..., Any], *args: Any) -> None:
    r = fn(*args)
    if asyncio.iscoroutine(r) or isinstance(r, asyncio.Future):
        await r


def kernel_poller() -> _ShellPoller | None:
    """A poller of the running kernel's main-thread messages, or None (no kernel, another thread, other layout)."""
    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return None
    try:
        from IPython import get_ipython
        kernel: Any = getattr(get_ipython(), "kernel", None)
        pair = kernel.shell_channel_thread.manager._shell_channel_to_main
        if pair.to_socket is None or pair.to_stream is None or kernel.session is None:
            return None
        for name in ("dispatch_shell", "get_parent", "set_parent", "_shell_parent_ident", "io_loop"):
            getattr(kernel, name)  # the parts used: another layout waits the plain way
    except Exception:  # not in an ipykernel 7 kernel: wait the plain way
        return None
    return _ShellPoller(kernel, pair)


def wait_until(wait_step: Callable[[float | None], bool], timeout: float | None = None, *,
               step: float = STEP) -> bool:
    """Wait until ``wait_step`` says the wait is over, or ``timeout`` seconds passed; widget clicks go on.

    Parameters
    ----------
    wait_step : callable
        ``wait_step(seconds) -> bool``: blocks at most ``seconds`` (None: without limit), True once over
        (an ``Event.wait`` or a ``Thread.join`` followed by ``not is_alive()``).
    timeout : float, optional
        Longest wait (s); default no limit.
    step : float
        Seconds between two reads of the kernel's messages (s).

    Returns
    -------
    bool
        Whether it is over (False: the timeout passed first).
    """
    poller = kernel_poller()
    if poller is None:
        return wait_step(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return wait_step(0)
            if wait_step(step if left is None else min(step, left)):
                poller.poll()  # what was clicked up to the end still counts
                return True
            poller.poll()
    finally:
        poller.close()


async def wait_until_async(is_over: Callable[[], bool], timeout: float | None = None, *,
                           step: float = STEP) -> bool:
    """:func:`wait_until` for ``await`` in a cell: the event loop runs while waiting (``is_over()``: done).

    Returns
    -------
    bool
        Whether it is over (False: the timeout passed first).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while not is_over():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True
