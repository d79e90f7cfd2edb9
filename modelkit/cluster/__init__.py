"""Simulations on ipyparallel engines, watched live from a notebook.

* :func:`start_cluster` / :func:`attach` / :func:`stop_cluster` — local engines on loopback, MPI engines
  (``engines="mpi"``), Slurm engines (``engines="slurm"``; :func:`slurm_available` says whether a Slurm
  cluster answers here), or a Slurm profile from :func:`write_slurm_profile`.  Simulators run only in the
  engines: the notebook never imports NEST, and a crashed engine never takes the notebook down.
* :func:`run_on_cluster` -> :class:`LiveRun` — ``simulate`` on an engine; spikes stream back losslessly
  (:mod:`modelkit.cluster.stream`) with progress, ``stop()`` within one block, and a clear status when
  the engine dies (spikes received are kept).
* :func:`run_local` -> :class:`LiveRun` — the same, in a child process of the notebook (no cluster);
  :func:`prestart_local` starts that process ahead (imports done), so the next run starts at once.
* :func:`sweep` — variants of one network (parameters, input rates, seeds) across the engines, or as one
  Slurm job array (``backend="slurm-array"``, :mod:`modelkit.cluster.slurm_array`), as a table.
"""

from modelkit.cluster.engines import attach, slurm_available, start_cluster, stop_cluster, write_slurm_profile
from modelkit.cluster.errors import ClusterError, EngineDiedError, RemoteRunError, RunStoppedError, StreamError
from modelkit.cluster.live import LiveRun, run_on_cluster
from modelkit.cluster.local import discard_prestarted, prestart_local, prestarted_ready, run_local
from modelkit.cluster.stream import Progress, SpikeStream, StreamSink
from modelkit.cluster.sweep import sweep, variants

__all__ = [
    "start_cluster", "attach", "stop_cluster", "write_slurm_profile", "slurm_available",
    "run_on_cluster", "run_local", "prestart_local", "prestarted_ready", "discard_prestarted", "LiveRun",
    "Progress", "SpikeStream", "StreamSink", "sweep", "variants",
    "ClusterError", "StreamError", "RunStoppedError", "EngineDiedError", "RemoteRunError",
]
