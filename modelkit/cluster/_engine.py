"""The engine process of :func:`modelkit.cluster.start_cluster`: ``python -m modelkit.cluster._engine [ARGS]``.

ipyparallel's own engine (``python -m ipyparallel.engine``), with one difference: an engine that
stops because it was asked to (SIGTERM, which is how ``Cluster.stop_engines`` and ``mpiexec`` end
engines) exits with status 0.  ipyparallel 9 handles SIGTERM by stopping its tornado loop under
``run_sync``, which then raises ``RuntimeError: Event loop stopped before Future completed``, so
every engine stopped on request exited with status 1 -- and the cluster, seeing a failed engine,
logged the engine's whole log with that traceback as a warning into the notebook cell that called
``stop_cluster``.  An engine that fails in any other way still exits non-zero, and its log is still
shown then.
"""

from __future__ import annotations

import sys
from typing import Any

from ipyparallel.engine.app import IPEngine


class StoppableEngine(IPEngine):
    """An :class:`ipyparallel.engine.app.IPEngine` whose requested stop is a clean exit."""

    _stop_requested = False

    def _signal_stop(self, sig: int, frame: Any) -> None:
        self._stop_requested = True
        super()._signal_stop(sig, frame)

    def start(self) -> None:
        try:
            super().start()
        except RuntimeError:
            # the loop was stopped by our own SIGTERM handler: the stop we were asked for
            if not self._stop_requested:
                raise


def main(argv: list[str] | None = None) -> int:
    """Run an engine with ipyparallel's command line; 0 when it ran until asked to stop."""
    StoppableEngine.launch_instance(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
