"""NEURON threads (``pc.nthread``) for a run: how many, and what a refusal of threads means.

Cells are spread over the threads and the results stay those of one thread (recordings sample every step
then, see :class:`~modelkit.simulator.neuron.recorders.Sampling`); CoreNEURON takes each NEURON thread's cells
as one of its own threads (:func:`~modelkit.simulator.neuron.coreneuron.coreneuron_threads`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.base import RunOptions
from modelkit.sonata import Selection

__all__ = ["set_threads", "threads_refused", "thread_blocker"]

log = logging.getLogger("modelkit.simulator.neuron")

_KEY = "run.n_thread (or simulate(threads=...))"


def set_threads(pc: Any, options: RunOptions, path: str | None, config: Any, network: Any,
                populations: dict[str, Selection]) -> None:
    """Set NEURON's threads before any cell is made (``options.threads``, or one when the run needs one).

    Some runs need one thread: ECP reports and xstim inputs (NEURON cannot record ``i_membrane_`` in threads,
    "unable to associate a PlayRecord item with a thread", and its ``extracellular`` allows one thread
    only), and networks with artificial cells (their variables are recorded only at fixed intervals, which
    threads corrupt).

    Parameters
    ----------
    pc : HocObject
        NEURON's ``ParallelContext``.
    options : RunOptions
        ``threads`` and whether they were asked for (``threads_requested``).
    path : str or None
        The simulation config (for messages).
    config, network, populations
        The run's config, network and simulated nodes (what may need one thread).

    Raises
    ------
    ConfigError
        Threads were asked for and the run needs one, or NEURON refuses them (:func:`threads_refused`).
    """
    n = int(options.threads)
    blocker = thread_blocker(config, network, populations) if n > 1 else None
    if blocker is not None:
        if options.threads_requested:
            raise ConfigError(path, _KEY, "one thread with extracellular fields (ECP reports, xstim inputs) or "
                              "artificial cells", f"{n} threads and {blocker}")
        log.warning("NEURON runs 1 thread, not %d: %s needs one", n, blocker)
        n = 1
    if n == int(pc.nthread()):
        return
    try:
        pc.nthread(n, 1)
    except RuntimeError as e:
        threads_refused(pc, options, path, e)


def threads_refused(pc: Any, options: RunOptions, path: str | None, error: RuntimeError) -> None:
    """Go back to one thread after NEURON refused threads.

    NEURON refuses threads when a mechanism in use is not thread safe (it assigns GLOBAL variables, as the Allen
    models' ``NaV.mod`` does; found at ``finitialize``): an explicit request stops with NEURON's reason,
    modelkit's own default goes on in one thread.

    Raises
    ------
    ConfigError
        Threads were asked for (``options.threads_requested``).
    """
    n = int(pc.nthread())
    pc.nthread(1)
    reason = str(error).split("hoc_execerror: ")[-1].strip()
    if options.threads_requested:
        raise ConfigError(path, _KEY, "mechanisms NEURON can run in threads (THREADSAFE, no GLOBAL assigned)",
                          f"{reason} ({n} threads asked)") from error
    log.warning("NEURON runs 1 thread, not %d: %s", n, reason)


def thread_blocker(config: Any, network: Any, populations: dict[str, Selection]) -> str | None:
    """What makes a run need one NEURON thread (an ECP report, an xstim input, artificial cells), or None."""
    for name, sel in populations.items():
        pop = network.nodes[name]
        if len(sel) and "model_type" in pop.attribute_names:
            kinds = set(np.unique(pop.column("model_type", sel.flat).astype(str)).tolist())
            if kinds - {"biophysical"}:
                return f"the artificial cells of population {name}"
            if "model_processing" in pop.attribute_names:
                procs = pop.column("model_processing", sel.flat)
                if any("extracellular" in str(p) for p in set(procs.tolist())):
                    return f"model_processing extracellular in population {name}"
    for name, r in (getattr(config, "reports", None) or {}).items():
        if r.enabled and r.module in ("extracellular", "ecp"):
            return f"reports.{name} (module {r.module})"
    for name, i in (getattr(config, "inputs", None) or {}).items():
        if i.enabled and i.module == "xstim":
            return f"inputs.{name} (module xstim)"
    return None
