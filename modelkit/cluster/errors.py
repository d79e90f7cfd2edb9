"""Errors of the cluster layer: each says which run, engine or stream endpoint is at fault and what to do.

They extend :class:`modelkit.errors.ModelkitError` and pickle by their arguments, so an error raised in an
engine arrives whole in the notebook.
"""

from __future__ import annotations

from modelkit import errors
from modelkit.errors import ModelkitError

__all__ = ["ClusterError", "StreamError", "RunStoppedError", "EngineDiedError", "RemoteRunError"]


class ClusterError(ModelkitError):
    """Starting, attaching to or using an ipyparallel cluster failed (the message says how to fix it)."""


class StreamError(ClusterError):
    """The spike stream between an engine and the client lost, duplicated or could not deliver messages.

    Raised in the engine when the client stopped draining for longer than the send timeout (the run is
    aborted instead of dropping data), and recorded by the client when sequence numbers or end-of-run
    counts do not match.
    """


class RunStoppedError(ClusterError, errors.RunStoppedError):
    """A run was stopped on request (:meth:`LiveRun.stop`); its files (spikes and report frames up to the
    stop) are in ``<output_dir>.stopped``."""


class EngineDiedError(ClusterError):
    """The engine running a simulation died (killed, out of memory, segfault); spikes received are kept, and
    on the notebook's host its files (spikes and report frames of the whole blocks) in ``<output_dir>.failed``."""


class RemoteRunError(ClusterError):
    """The simulation raised in the engine; ``ename``, ``evalue`` and ``traceback`` are the engine's.

    Parameters
    ----------
    ename : str
        Exception class name in the engine (``ConfigError``, ``OutputExistsError``, ...).
    evalue : str
        Its message.
    traceback : str
        The engine's formatted traceback ('' when unknown).
    """

    def __init__(self, ename: str, evalue: str, traceback: str = "") -> None:
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback
        super().__init__(f"the simulation failed in the engine: {ename}: {evalue}")

    def __reduce__(self):  # picklable across engines
        return (type(self), (self.ename, self.evalue, self.traceback))
