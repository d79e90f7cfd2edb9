"""Start, attach to and stop ipyparallel clusters from a notebook; write a Slurm profile for HPC.

Simulators only ever run in the engines: the notebook kernel never imports NEST or NEURON, so re-running
a cell always starts a clean simulation and a crashed simulator takes down an engine, not the notebook.

Four ways to get engines:

* :func:`start_cluster` ``(n, engines="local")`` — engines as local processes, the controller bound to
  loopback (``ip="127.0.0.1"``) unless told otherwise;
* :func:`start_cluster` ``(n, engines="mpi")`` — ``n`` engines launched by ``mpiexec`` (the one from the
  ``mpich`` wheel, next to the running Python) as the ranks of one ``MPI.COMM_WORLD``, for backends that
  split a network over MPI ranks;
* :func:`start_cluster` ``(n, engines="slurm", mpi=..., partition=..., time=...)`` — the engines as one
  Slurm job (:mod:`modelkit.cluster.slurm`; JupyterHub on an HPC system: the notebook and the controller on
  the login/Hub node, the engines on compute nodes), cancelled however the notebook ends;
* :func:`write_slurm_profile` then ``start_cluster(profile_dir=...)`` — the same Slurm engines from an
  ipyparallel profile that ``ipcluster`` and other notebooks share.

:func:`attach` connects to a cluster started elsewhere (``ipcluster start``, another notebook), and
:func:`stop_cluster` stops engines and controller and closes the client.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from modelkit.cluster.errors import ClusterError

__all__ = ["start_cluster", "attach", "stop_cluster", "write_slurm_profile", "client_of", "slurm_available"]

#: launcher names accepted by :func:`start_cluster` (ipyparallel's own aliases)
ENGINE_LAUNCHERS = ("local", "mpi", "slurm")

#: where the clusters' own messages go.  In an IPython session ipyparallel otherwise gives each Cluster a
#: logger printing INFO to stdout, so "Starting 1 engines with ...", "Stopping controller" and the whole
#: engine log landed in notebook cells.  This one has no handler of its own: INFO stays quiet unless the
#: user configures logging, and a warning (an engine that failed, with its log) still reaches stderr
#: through Python's last-resort handler.
log = logging.getLogger("modelkit.cluster.ipyparallel")

#: the engine program for local and MPI engines: ipyparallel's engine, exiting 0 when asked to stop
ENGINE_CMD = [sys.executable, "-m", "modelkit.cluster._engine"]


def _ipp() -> Any:
    try:
        import ipyparallel
    except ImportError as e:  # pragma: no cover - a dependency of modelkit
        raise ClusterError("modelkit.cluster needs ipyparallel: pip install 'ipyparallel>=8.8'") from e
    return ipyparallel


def slurm_available(timeout: float = 5.0) -> bool:
    """Whether a Slurm cluster answers here: ``sbatch`` and ``sinfo`` are on ``PATH``, and ``sinfo`` lists a
    partition that is up within ``timeout`` seconds.

    A notebook uses it to pick its engines: ``engines="slurm"`` on a cluster (a login node, a JupyterHub
    server), local or MPI engines elsewhere.  It never raises: no Slurm client, no ``slurm.conf``, or a
    controller that does not answer (``sinfo`` keeps retrying; it is killed at ``timeout``) all give False.

    Parameters
    ----------
    timeout : float
        Longest wait for ``sinfo`` (s).

    Returns
    -------
    bool
        True when jobs can be submitted to at least one partition that is up.
    """
    sinfo = shutil.which("sinfo")
    if sinfo is None or shutil.which("sbatch") is None:
        return False
    try:
        r = subprocess.run([sinfo, "-h", "-o", "%a"], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return r.returncode == 0 and "up" in r.stdout.split()


def _mpiexec() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if not found:
        raise ClusterError("engines='mpi': no mpiexec next to the running Python nor on PATH; "
                           "pip install mpich mpi4py (or load your system's MPI module)")
    return found


def start_cluster(n: int = 1, *, engines: str = "local", ip: str | None = "127.0.0.1",
                  profile_dir: str | os.PathLike | None = None, heartbeat_ms: int = 1000,
                  timeout: float = 120.0, progress: bool = False, mpi: bool = False, partition: str | None = None,
                  time: str | None = None, account: str | None = None, extra_sbatch: Sequence[str] = (),
                  cpus_per_engine: int = 1, setup: str = "", run_dir: str | os.PathLike | None = None,
                  pending_timeout: float | None = None, **cluster_kwargs: Any) -> Any:
    """Start an ipyparallel controller and ``n`` engines, and connect a client.

    Parameters
    ----------
    n : int
        Number of engines (MPI ranks for ``engines="mpi"`` or ``mpi=True``).
    engines : str
        ``"local"`` (processes on this machine), ``"mpi"`` (launched by ``mpiexec`` as one MPI job),
        ``"slurm"`` (one Slurm job of ``n`` tasks, :mod:`modelkit.cluster.slurm`; the controller stays here)
        or any other ipyparallel launcher name/class.
    ip : str or None
        Interface the controller listens on; loopback by default. ``"*"`` for engines on other hosts;
        None to take the profile's setting.
    profile_dir : str or PathLike, optional
        An ipyparallel profile folder (its ``ipcluster_config.py`` is loaded), e.g. from
        :func:`write_slurm_profile`; default ipyparallel's ``profile_default``.
    heartbeat_ms : int
        Controller heartbeat period (ms); an engine missing 5 beats in a row is declared dead.
    timeout : float
        Seconds to wait for all engines to register.
    progress : bool
        Show ipyparallel's progress bar while the engines register (useful when a batch queue is slow);
        off by default, so that the cell shows only what the notebook asked for.
    mpi : bool
        The engines are the ranks of one ``MPI.COMM_WORLD``: ``mpiexec`` for local engines (the same as
        ``engines="mpi"``), ``srun --mpi=pmi2`` inside the Slurm job.
    partition, time, account : str, optional
        Slurm only: ``#SBATCH --partition``, ``--time`` (``HH:MM:SS`` or minutes) and ``--account``;
        Slurm's defaults when None.
    extra_sbatch : sequence of str
        Slurm only: more ``#SBATCH`` options (``["--mem=8G", "--constraint=cpu"]``).
    cpus_per_engine : int
        Slurm only: ``--cpus-per-task``, the threads a simulator may use in each engine.
    setup : str
        Slurm only: shell lines run in the job before ``srun`` (``module load ...``, activating a venv).
    run_dir : str or PathLike, optional
        Slurm only: folder for the batch script, ``slurm-<job>.out`` and the watchdog's log (default
        ``<profile_dir>/modelkit-slurm/<cluster_id>``); nothing is written into the working folder.
    pending_timeout : float, optional
        Slurm only: seconds the job may wait in the queue before it is cancelled with an error naming
        ``squeue``'s reason (default ``timeout``, which also covers the queue wait).
    **cluster_kwargs
        Passed to :class:`ipyparallel.Cluster` (``cluster_id``, ``engine_timeout``, ...).

    Returns
    -------
    ipyparallel.Client
        Connected to all ``n`` engines; ``client.cluster`` is the :class:`ipyparallel.Cluster`.

    Raises
    ------
    ClusterError
        The engines did not all register within ``timeout`` (the cluster is then stopped again),
        or ``mpiexec`` is missing for ``engines="mpi"``.  For Slurm: ``sbatch`` missing, ``sbatch``
        refusing the job (its message: no such partition, account, ...), the job pending past
        ``pending_timeout`` (with ``squeue``'s reason) or ending before its engines registered (with its
        output); the job is then cancelled and the controller stopped.

    Examples
    --------
    >>> from modelkit.cluster import start_cluster, stop_cluster
    >>> rc = start_cluster(2)                     # doctest: +SKIP
    >>> rc.ids                                    # doctest: +SKIP
    [0, 1]
    >>> stop_cluster(rc)                          # doctest: +SKIP

    Two MPI engines as a Slurm job, the controller in the notebook:

    >>> rc = start_cluster(2, engines="slurm", mpi=True, partition="compute", time="01:00:00")  # doctest: +SKIP
    >>> stop_cluster(rc)                          # scancel, and wait until the job left the queue  # doctest: +SKIP
    """
    ipp = _ipp()
    from traitlets.config import Config

    if n < 1:
        raise ClusterError(f"start_cluster: n must be at least 1 engine, got {n}")
    if mpi and engines == "local":
        engines = "mpi"
    slurm_only = dict(partition=partition, time=time, account=account, run_dir=run_dir,
                      pending_timeout=pending_timeout, extra_sbatch=list(extra_sbatch) or None, setup=setup or None,
                      cpus_per_engine=None if cpus_per_engine == 1 else cpus_per_engine)
    if profile_dir is not None:  # its engines may be a Slurm job (write_slurm_profile): the queue may be slow
        slurm_only.pop("pending_timeout")
    if engines != "slurm" and any(v is not None for v in slurm_only.values()):
        given = ", ".join(k for k, v in slurm_only.items() if v is not None)
        raise ClusterError(f"start_cluster: {given} apply to engines='slurm' only, not engines={engines!r}")
    cfg = Config()
    kwargs: dict[str, Any] = dict(n=n, engine_timeout=int(timeout), **cluster_kwargs)
    if engines != "local" or profile_dir is None:
        kwargs["engines"] = engines
    if engines == "mpi":
        cfg.MPILauncher.mpi_cmd = [_mpiexec()]
        # mpiexec ending two ranks that ran NEURON took 4.7 s on 2 busy cores (MPI finalisation), against
        # ipyparallel's 5 s before SIGKILL: a stop after a good run then warned "did not exit" with the log
        cfg.MPIEngineSetLauncher.stop_seconds_until_kill = 30
    if engines in ("local", "mpi", "slurm"):
        cfg.EngineLauncher.engine_cmd = list(ENGINE_CMD)
    kwargs.setdefault("log", log)
    if ip is not None:
        kwargs["controller_ip"] = ip
    if profile_dir is not None:
        kwargs["profile_dir"] = os.fspath(profile_dir)
    kwargs["controller_args"] = [f"--HeartMonitor.period={int(heartbeat_ms)}",
                                 "--HeartMonitor.max_heartmonitor_misses=5", *kwargs.get("controller_args", [])]
    if engines == "slurm":
        from modelkit.cluster.slurm import start_slurm_cluster

        if cpus_per_engine < 1:
            raise ClusterError(f"start_cluster: cpus_per_engine must be >= 1, got {cpus_per_engine}")
        kwargs.pop("engines", None)
        kwargs.pop("n")
        launcher = dict(mpi=bool(mpi), queue=partition or "", account=account or "", timelimit=time or "",
                        extra_sbatch=list(extra_sbatch), cpus_per_engine=int(cpus_per_engine), setup=setup,
                        run_dir=os.fspath(run_dir) if run_dir is not None else "")
        return start_slurm_cluster(dict(config=cfg, **kwargs), n, timeout=timeout, pending_timeout=pending_timeout,
                                   launcher_kwargs=launcher)
    cluster = None
    try:
        cluster = ipp.Cluster(config=cfg, **kwargs)
        # start_and_connect would show a progress bar in every notebook cell: start, connect, wait apart
        cluster.start_cluster_sync(n=n)
        client = cluster.connect_client_sync()
        slurm_sets = _slurm_engine_sets(cluster)
        if slurm_sets:  # a profile from write_slurm_profile: watch the queue while waiting
            from modelkit.cluster.slurm import wait_for_slurm_engines

            wait_for_slurm_engines(client, slurm_sets[0], n, timeout=timeout, pending_timeout=pending_timeout)
        else:
            client.wait_for_engines(n, timeout=timeout, interactive=progress)
    except Exception as e:
        try:
            if cluster is not None:
                cluster.stop_cluster_sync()
        except Exception:
            pass
        if isinstance(e, ClusterError):  # says what went wrong already (Slurm's own words)
            raise
        raise ClusterError(f"start_cluster: {n} {engines} engine(s) did not start within {timeout:g} s "
                           f"({type(e).__name__}: {e}); see the engine logs in the profile's log folder") from e
    return client


def _slurm_engine_sets(cluster: Any) -> list[Any]:
    """The engine sets of ``cluster`` submitted by :class:`modelkit.cluster.slurm.SlurmEngines`."""
    if not any(type(e).__module__ == "modelkit.cluster.slurm" for e in cluster.engines.values()):
        return []
    from modelkit.cluster.slurm import SlurmEngines

    return [e for e in cluster.engines.values() if isinstance(e, SlurmEngines)]


def attach(cluster_id: str = "", *, profile_dir: str | os.PathLike | None = None, n: int = 1,
           timeout: float = 60.0) -> Any:
    """Connect to a running cluster (``ipcluster start``, another notebook) by its profile and id.

    Parameters
    ----------
    cluster_id : str
        The cluster's id ('' for ``ipcluster start`` without ``--cluster-id``).
    profile_dir : str or PathLike, optional
        Its profile folder (default ipyparallel's ``profile_default``).
    n : int
        Wait until at least this many engines are registered.
    timeout : float
        Seconds to wait for them.

    Returns
    -------
    ipyparallel.Client

    Raises
    ------
    ClusterError
        No such cluster (the message lists the profile searched) or too few engines.
    """
    ipp = _ipp()
    kw: dict[str, Any] = {"cluster_id": cluster_id}
    if profile_dir is not None:
        kw["profile_dir"] = os.fspath(profile_dir)
    try:
        cluster = ipp.Cluster.from_file(**kw)
        client = cluster.connect_client_sync()
        client.wait_for_engines(n, timeout=timeout)
    except Exception as e:
        raise ClusterError(f"attach: no running cluster with id {cluster_id!r} and {n} engine(s) in profile "
                           f"{kw.get('profile_dir', 'profile_default')} ({type(e).__name__}: {e})") from e
    return client


def client_of(cluster: Any) -> Any:
    """The :class:`ipyparallel.Client` behind a client, a view or an :class:`ipyparallel.Cluster`.

    Parameters
    ----------
    cluster : ipyparallel.Client, view or Cluster
        What a user has at hand.

    Raises
    ------
    ClusterError
        ``cluster`` is none of these.
    """
    ipp = _ipp()
    if isinstance(cluster, ipp.Client):
        return cluster
    if hasattr(cluster, "client") and isinstance(cluster.client, ipp.Client):  # a view
        return cluster.client
    if isinstance(cluster, ipp.Cluster):
        return cluster.connect_client_sync()
    raise ClusterError(f"expected an ipyparallel Client, view or Cluster (from start_cluster/attach), "
                       f"got {type(cluster).__name__}")


def stop_cluster(cluster: Any, *, timeout: float = 30.0) -> None:
    """Stop the engines and controller of a cluster started by :func:`start_cluster` and close its client.

    A client from :func:`attach` is only closed (the cluster belongs to whoever started it) unless it
    carries its ``cluster``. Dead engines are fine; calling it twice is harmless.

    Parameters
    ----------
    cluster : ipyparallel.Client or ipyparallel.Cluster
    timeout : float
        Seconds to wait for the processes to exit.
    """
    ipp = _ipp()
    c = cluster if isinstance(cluster, ipp.Cluster) else getattr(cluster, "cluster", None)
    if c is not None:
        try:
            c.stop_cluster_sync()
        except Exception:  # already gone
            pass
    if isinstance(cluster, ipp.Client):
        cluster.close()


_SLURM_TEMPLATE = '''\
# ipyparallel profile written by modelkit.cluster.write_slurm_profile: engines as a Slurm job.
#
#   from modelkit.cluster import start_cluster, run_on_cluster
#   rc = start_cluster({n}, profile_dir={profile!r}, ip=None)   # sbatch's the engines, waits for them
#   run = run_on_cluster("config.simulation.json", cluster=rc, stream_ip="0.0.0.0")
#
# The controller runs where the notebook runs (login or JupyterHub node) and listens on every
# interface; the engines are one `srun` job step of {n} tasks (MPI ranks through `srun --mpi=pmi2`
# when mpi is True), {cpus} CPU(s) per task for simulator threads.  The batch script and slurm-<job>.out
# go to <this profile>/modelkit-slurm/<cluster id>/, and the job is cancelled when the notebook's
# kernel stops, exits or is killed (modelkit.cluster.slurm.SlurmEngines).
c = get_config()  # noqa: F821 - defined by the traitlets config loader

c.Cluster.engine_launcher_class = "modelkit.cluster.slurm.SlurmEngines"
c.Cluster.controller_launcher_class = "ipyparallel.cluster.launcher.LocalControllerLauncher"
c.Cluster.n = {n}
c.Cluster.controller_ip = {controller_ip!r}
c.Cluster.controller_location = {location!r}
c.Cluster.engine_timeout = {engine_timeout}

c.SlurmEngines.queue = {partition!r}
c.SlurmEngines.account = {account!r}
c.SlurmEngines.timelimit = {time!r}
c.SlurmEngines.cpus_per_engine = {cpus}
c.SlurmEngines.mpi = {mpi!r}
c.SlurmEngines.extra_sbatch = {extra!r}
c.SlurmEngines.setup = {setup!r}
'''


def write_slurm_profile(profile_dir: str | os.PathLike, *, n: int = 4, partition: str = "", account: str = "",
                        time: str = "01:00:00", cpus_per_engine: int = 1, setup: str = "",
                        controller_ip: str = "*", location: str | None = None, engine_timeout: int = 600,
                        options: str = "", mpi: bool = False) -> str:
    """Write an ipyparallel profile whose engines are submitted to Slurm (:class:`modelkit.cluster.slurm.SlurmEngines`).

    The same engines as ``start_cluster(n, engines="slurm", ...)``, as a profile that ``ipcluster`` and other
    notebooks can use too.

    Parameters
    ----------
    profile_dir : str or PathLike
        Profile folder to create (e.g. ``~/.ipython/profile_slurm``); an existing
        ``ipcluster_config.py`` there is replaced.
    n : int
        Engines (Slurm tasks) started by default.
    partition, account : str
        ``#SBATCH --partition`` / ``--account`` ('' to leave to Slurm's defaults).
    time : str
        Wall-time limit of the engine job (``HH:MM:SS``).
    cpus_per_engine : int
        ``--cpus-per-task``: threads a simulator may use in each engine.
    setup : str
        Shell lines run before ``srun`` (``module load ...``, activating the venv with modelkit).
    controller_ip : str
        Interface the controller listens on; ``"*"`` so compute nodes can reach it.
    location : str, optional
        Host name engines use to reach the controller (default: this host's FQDN).
    engine_timeout : int
        Seconds to wait for the job to start and the engines to register (queues can be slow).
    options : str
        Extra ``#SBATCH`` options, one per line (``--mem=8G``).
    mpi : bool
        The engines are the ranks of one MPI world (``srun --mpi=pmi2``).

    Returns
    -------
    str
        Path of the written ``ipcluster_config.py``.

    Raises
    ------
    ClusterError
        ``n`` or ``cpus_per_engine`` below 1.

    Examples
    --------
    >>> path = write_slurm_profile("~/.ipython/profile_slurm", n=8, partition="compute",
    ...                            cpus_per_engine=4, setup="source ~/venvs/modelkit/bin/activate")  # doctest: +SKIP
    >>> rc = start_cluster(8, profile_dir="~/.ipython/profile_slurm", ip=None)             # doctest: +SKIP
    """
    if n < 1 or cpus_per_engine < 1:
        raise ClusterError(f"write_slurm_profile: n and cpus_per_engine must be >= 1, got {n}, {cpus_per_engine}")
    d = os.path.abspath(os.path.expanduser(os.fspath(profile_dir)))
    os.makedirs(d, exist_ok=True)
    text = _SLURM_TEMPLATE.format(
        n=int(n), profile=d, cpus=int(cpus_per_engine), controller_ip=controller_ip,
        location=location or socket.getfqdn(), engine_timeout=int(engine_timeout), partition=partition,
        account=account, time=time, mpi=bool(mpi), extra=[o.strip() for o in options.splitlines() if o.strip()],
        setup="".join(f"{s}\n" for s in setup.splitlines() if s.strip()))
    path = os.path.join(d, "ipcluster_config.py")
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
