"""In-memory CoreNEURON for the NEURON backend: what it cannot run, and handing it the integration.

NEURON builds the model as always; with ``run.coreneuron`` (``simulate(coreneuron=True)``) CoreNEURON then
integrates it in memory, block by block (``pc.psolve``).  What the ``neuron`` 9.0.2 wheel does and does not do
under CoreNEURON is recorded in ``notes/coreneuron-run.md``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from modelkit.errors import ConfigError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.simulator.neuron.coreneuron_build import LeftOut, coreneuron_left_out, coreneuron_library
from modelkit.simulator.neuron.mechanisms import MechanismSource, import_neuron
from modelkit.sonata import Selection

__all__ = ["CORENEURON_CAN", "WITHOUT_CORENEURON", "STAND_INS", "coreneuron_refusal", "check_coreneuron",
           "refuse_without_library", "left_out_in_use", "refuse_left_out_in_use", "stand_in",
           "short_delays_refused", "steps_as_continuous", "enable_coreneuron", "coreneuron_threads",
           "disable_coreneuron", "gpu_refusal", "neuron_gpu_build"]

log = logging.getLogger("modelkit.simulator.neuron")

#: what in-memory CoreNEURON runs (the ``expected`` of its refusals)
CORENEURON_CAN = ("what in-memory CoreNEURON integrates: biophysical cells with NEURON's built-in mechanisms or "
                   "ones compiled for CoreNEURON, spike inputs, current clamps, spikes and variable reports")
WITHOUT_CORENEURON = "run it with NEURON alone: drop run.coreneuron (or pass simulate(coreneuron=False))"


#: NEURON's artificial cells a CoreNEURON run builds as modelkit's own mechanism of the same dynamics (in every
#: CoreNEURON library modelkit builds: :data:`~modelkit.simulator.neuron.coreneuron_build.OWN_MODS_DIR`).
#: CoreNEURON has no IntFire1, and NEURON 9.0 crashes returning to NEURON a self-event with a weight pending on
#: an ARTIFICIAL_CELL (``core2nrn_SelfEvent_event``), which is how IntFire1 ends its refractory period;
#: ``mkIntFire1`` sends itself nothing and gives IntFire1's spikes (its file says how).
STAND_INS = {"IntFire1": "mkIntFire1"}


def coreneuron_refusal(config: Any, network: Any, populations: dict[str, Selection]) -> tuple[str, str] | None:
    """(key, what and why) of the first thing in the config in-memory CoreNEURON cannot run, or None.

    Found with the ``neuron`` 9.0.2 wheel (``notes/coreneuron-run.md``): ``extracellular`` raises "CoreNEURON
    cannot simulate a model that contains the extracellular mechanism", and xstim/COMSOL schedule their values
    with Python ``cvode.event`` callbacks, which CoreNEURON skips without a word; NEURON's artificial cells
    (IntFire1/2/4) are not in CoreNEURON's library and abort the process (IntFire1 has a stand-in,
    :data:`STAND_INS`); ``VecStim`` (syn_activity) is not
    built in and bmtk's ``vecevent.mod`` does not compile for CoreNEURON."""
    for name, sel in populations.items():
        pop = network.nodes[name]
        if not len(sel) or "model_type" not in pop.attribute_names:
            continue
        types = pop.column("model_type", sel.flat).astype(str)
        other = types != "biophysical"
        if other.any():
            templates = pop.column_or("model_template", sel.flat[other], "").astype(str)
            bad = sorted(set(np.char.strip(templates).tolist()) - {f"nrn:{n}" for n in STAND_INS})
            if bad:
                return (f"/nodes/{name}: model_template",
                        f"{bad[0] or 'no model_template'} for {types[other][0]} cells (of NEURON's artificial cells, "
                        f"CoreNEURON runs {', '.join(f'nrn:{n}' for n in STAND_INS)} only: the others are not in "
                        f"its library and abort it); {WITHOUT_CORENEURON}")
        if "model_processing" in pop.attribute_names and any(
                "extracellular" in str(p) for p in set(pop.column("model_processing", sel.flat).tolist())):
            return (f"/nodes/{name}: model_processing",
                    f"extracellular (CoreNEURON cannot simulate the extracellular mechanism); {WITHOUT_CORENEURON}")
    for name, i in (getattr(config, "inputs", None) or {}).items():
        if not i.enabled:
            continue
        if i.module in ("xstim", "comsol"):
            return (f"inputs.{name}.module", f"{i.module} (the extracellular mechanism, which CoreNEURON cannot "
                                             "simulate, with values set by Python events it skips); "
                                             + WITHOUT_CORENEURON)
        if i.module == "syn_activity":
            return (f"inputs.{name}.module", f"syn_activity (VecStim: not in CoreNEURON, and bmtk's vecevent.mod "
                                             f"does not compile for it); {WITHOUT_CORENEURON}")
    return None


def _first_lines(reason: str, n: int = 2) -> str:
    """The compiler's first error lines (what a message shows of a :class:`LeftOut` reason)."""
    lines = [x.strip() for x in reason.splitlines() if x.strip()]
    errors = [x for x in lines if "error" in x.lower() and not x.startswith("make:")]
    return " / ".join((errors or lines)[:n])


def stand_in(h: HocObject, name: str, mechanisms: MechanismSource | None, path: Any) -> tuple[str, MechanismSource]:
    """The mechanism that stands for NEURON's artificial cell ``name`` in a CoreNEURON run, loaded into NEURON.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    name : str
        A key of :data:`STAND_INS`.
    mechanisms : MechanismSource or None
        What ``components.mechanisms_dir`` loaded (its CoreNEURON library holds the stand-ins when modelkit
        compiled it from ``.mod`` files).
    path : str or None
        The simulation config (for the message).

    Returns
    -------
    (str, MechanismSource)
        The stand-in's name, and where modelkit's own mechanisms were loaded from (the CoreNEURON library to
        use when there is no ``mechanisms_dir``).

    Raises
    ------
    ConfigError
        ``mechanisms_dir`` is a folder compiled elsewhere, whose CoreNEURON library lacks the stand-in.
    """
    from modelkit.simulator.neuron.coreneuron_build import OWN_MODS_DIR
    from modelkit.simulator.neuron.mechanisms import load_mechanisms
    if mechanisms is not None and mechanisms.loaded and not mechanisms.mod_paths:
        raise ConfigError(path, "components.mechanisms_dir", CORENEURON_CAN,
                          f"nrn:{name} cells with mechanisms compiled outside modelkit ({mechanisms.compiled}): "
                          f"CoreNEURON has no {name}, and modelkit adds its stand-in ({STAND_INS[name]}) only to the "
                          "CoreNEURON libraries it compiles from .mod files (point mechanisms_dir at the .mod "
                          f"files); {WITHOUT_CORENEURON}")
    return STAND_INS[name], load_mechanisms(h, OWN_MODS_DIR, coreneuron=mechanisms is None)


def refuse_without_library(src: MechanismSource | None, path: Any) -> None:
    """Refuse a CoreNEURON run whose mechanisms folder has no CoreNEURON library (CoreNEURON would abort the
    process on the first mechanism it lacks: SIGABRT, no exception).

    Parameters
    ----------
    src : MechanismSource or None
        What :func:`~modelkit.simulator.neuron.mechanisms.load_mechanisms` returned (None: no
        ``components.mechanisms_dir``).
    path : str or None
        The simulation config (for the message).

    Raises
    ------
    ConfigError
        None of the folder's ``.mod`` files compiles for CoreNEURON (with the compiler's first words on one),
        or a compiled folder without ``libcorenrnmech.so``.
    """
    if src is None or not src.loaded or coreneuron_library(src) is not None:
        return
    left = coreneuron_left_out(src)
    if left:
        name, first = next(iter(sorted(left.items())))
        raise ConfigError(path, "components.mechanisms_dir", CORENEURON_CAN,
                          f"none of the {len(src.mod_paths)} .mod files of {src.mod_dir} compiles for CoreNEURON "
                          f"({first.file}: {_first_lines(first.reason)}); {WITHOUT_CORENEURON}")
    raise ConfigError(path, "components.mechanisms_dir", CORENEURON_CAN,
                      f"mechanisms ({', '.join(src.loaded[:5])}, ...) without a CoreNEURON build (libcorenrnmech.so "
                      "from nrnivmodl -coreneuron beside the compiled libnrnmech.so, or .mod files modelkit "
                      f"compiles); {WITHOUT_CORENEURON}")


def left_out_in_use(h: HocObject, left: dict[str, LeftOut]) -> tuple[str, str] | None:
    """(name, where) of the first mechanism of ``left`` this process's model instantiates, or None.

    Point processes and artificial cells are counted by NEURON (``List(name).count()``, no Python loop over
    them); density mechanisms are looked for section by section (``has_membrane``), only when some were left
    out.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``, the model built.
    left : dict
        What :func:`~modelkit.simulator.neuron.coreneuron_build.coreneuron_left_out` returned.
    """
    if not left:
        return None
    mt, s = h.MechanismType(1), h.ref("")
    points = set()
    for i in range(int(mt.count())):
        mt.select(i)
        mt.selected(s)
        points.add(str(s[0]))
    for name in sorted(n for n in left if n in points):
        instances = h.List(name)
        count = int(instances.count())
        if count:
            seg = instances.o(0).get_segment() if hasattr(instances.o(0), "get_segment") else None
            return name, f"{count} instances" + (f", one on {seg.sec.name()}" if seg is not None else "")
    density = sorted(n for n in left if n not in points)
    if density:
        for sec in h.allsec():
            for name in density:
                if sec.has_membrane(name):
                    return name, f"section {sec.name()}"
    return None


def refuse_left_out_in_use(h: HocObject, src: MechanismSource | None, path: Any) -> None:
    """Refuse a CoreNEURON run whose model instantiates a mechanism its CoreNEURON library left out.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``, the model built.
    src : MechanismSource or None
        What :func:`~modelkit.simulator.neuron.mechanisms.load_mechanisms` returned.
    path : str or None
        The simulation config (for the message).

    Raises
    ------
    ConfigError
        Naming the mechanism, where it is, its ``.mod`` file and the compiler's first words on it.
    """
    left = coreneuron_left_out(src) if src is not None and src.mod_paths else {}
    found = left_out_in_use(h, left)
    if found is None:
        return
    name, where = found
    raise ConfigError(path, "components.mechanisms_dir", CORENEURON_CAN,
                      f"mechanism {name} ({where}) of {left[name].file}, which does not compile for CoreNEURON "
                      f"and is not in its library ({_first_lines(left[name].reason)}); {WITHOUT_CORENEURON}")


def neuron_gpu_build(h: HocObject) -> bool:
    """Whether this NEURON's CoreNEURON was built for GPUs (``CORENRN_ENABLE_GPU=ON``).

    NEURON names its build options that differ from their defaults in ``nrnversion(6)``; the wheels from PyPI
    say ``'CORENRN_ENABLE_GPU=OFF'`` there."""
    return "CORENRN_ENABLE_GPU=ON" in str(h.nrnversion(6))


def gpu_refusal(h: HocObject) -> str | None:
    """Why ``run.coreneuron_gpu`` cannot run with this NEURON, or None when it can."""
    if neuron_gpu_build(h):
        return None
    import neuron
    return (f"neuron {neuron.__version__} whose CoreNEURON is built without GPU support (CORENRN_ENABLE_GPU is "
            "not ON in h.nrnversion(6); the neuron wheels from PyPI are CPU-only): use a NEURON built with "
            "-DCORENRN_ENABLE_GPU=ON (and nrnivmodl -coreneuron mechanisms from it), or drop run.coreneuron_gpu "
            "to run CoreNEURON on the CPU")


def check_coreneuron(config: Any, network: Any, populations: dict[str, Selection], gpu: bool = False) -> None:
    """Refuse, before anything is written, a run CoreNEURON cannot integrate in memory (``run.coreneuron``), or
    on a GPU (``run.coreneuron_gpu``) with a NEURON built without GPU support.

    Raises
    ------
    ConfigError
        What the config asks for that CoreNEURON cannot do, why, and how to run it without CoreNEURON
        (:func:`coreneuron_refusal`, :func:`gpu_refusal`).
    """
    if gpu:
        why = gpu_refusal(import_neuron())
        if why is not None:
            raise ConfigError(getattr(config, "path", None), "run.coreneuron_gpu (or simulate(coreneuron_gpu=...))",
                              "a NEURON built with GPU support", why)
    refusal = coreneuron_refusal(config, network, populations)
    if refusal is not None:
        raise ConfigError(getattr(config, "path", None), refusal[0], CORENEURON_CAN, refusal[1])


def short_delays_refused(path: str | None, edges: str, dt: float) -> ConfigError:
    """The error for delays below one step (ms), which NEURON steps with ``fadvance`` and CoreNEURON cannot."""
    return ConfigError(path, f"/edges/{edges}: delay", CORENEURON_CAN,
                       f"delays below one time step ({dt} ms), which NEURON steps with fadvance and CoreNEURON "
                       f"(psolve only) cannot; {WITHOUT_CORENEURON}")


def steps_as_continuous(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A step function (``values[i]`` from ``times[i]`` until ``times[i + 1]``, the last held) as the points of
    a continuous ``Vector.play`` with each switch time repeated, for CoreNEURON, which aborts on a Vector played
    as steps (``nrnthread_dat2_vecplay: Assertion '0' failed``) and plays continuous ones.

    NEURON (and CoreNEURON) treat a repeated time as a discontinuity: the values are those of the step play,
    to the last bit in NEURON (a SEClamp's ``rs``, switch times on and off the dt grid; ``notes/coreneuron-mpi.md``).
    Steps of no length are left out, so a switch at t = 0 holds from t = 0 as with the step play.

    Parameters
    ----------
    times : array of float
        Switch times (ms), ascending, from 0 (before its first point a continuous play holds the first value,
        where a step play leaves the variable alone).
    values : array of float
        The value from each switch on.

    Returns
    -------
    (times, values)
        The points to play with ``continuous=1``.
    """
    times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    keep = np.append(times[1:] > times[:-1], True)  # a step that ends where it starts is never in force
    times, values = times[keep], values[keep]
    ends = np.append(times[1:], times[-1])
    t = np.column_stack([times, ends]).ravel()[:-1]  # each step's start and end; the last: its start only
    v = np.repeat(values, 2)[:-1]
    return t, v


def _openmp_threads(n: int) -> int | None:
    """Make ``n`` the size of the OpenMP teams the calling thread starts next; returns the size before, or None
    where no ``libgomp.so.1`` loads (then nothing changes).

    CoreNEURON (``libcorenrnmech*.so``, built with ``-fopenmp`` against the system's ``libgomp.so.1``) runs its
    threads (NEURON's ``pc.nthread``, at least 2, the second empty for one) in an ``omp parallel for`` on a team
    of ``OMP_NUM_THREADS`` (default: every core), so idle members spin at each region's barrier; under MPI every
    rank does.  ``omp_set_num_threads`` sets the team size of the regions the calling thread starts: the one
    that calls ``pc.psolve``.
    """
    import ctypes
    try:
        gomp = ctypes.CDLL("libgomp.so.1")  # the soname CoreNEURON's library needs: the same library once loaded
    except OSError:
        return None
    before = int(gomp.omp_get_max_threads())
    gomp.omp_set_num_threads(ctypes.c_int(max(1, int(n))))
    return before


def coreneuron_threads(saved: dict[str, Any], threads: int) -> None:
    """Make CoreNEURON's OpenMP team NEURON's thread count (``pc.nthread`` once ``finitialize`` has settled it:
    NEURON may fall back to one thread there), for the ``pc.psolve`` calls of the calling thread.

    Parameters
    ----------
    saved : dict
        What :func:`enable_coreneuron` returned (the team size before is kept there for
        :func:`disable_coreneuron`).
    threads : int
        NEURON's threads.
    """
    before = _openmp_threads(threads)
    saved.setdefault("openmp", before)
    log.info("CoreNEURON runs %d thread%s (OpenMP team)%s", threads, "s" if threads > 1 else "",
             "" if before is not None else "; no libgomp.so.1 found: the team is left as OMP_NUM_THREADS says")


def enable_coreneuron(h: HocObject, mechanisms: MechanismSource | None, gpu: bool = False) -> dict[str, Any]:
    """Hand the integration to CoreNEURON (in memory).

    NEURON's data go in CoreNEURON's layout (``cache_efficient``), and ``$CORENEURONLIB`` names the CoreNEURON
    build of the loaded mechanisms, the only way in-memory CoreNEURON finds it.  NEURON's threads
    (``pc.nthread``) and MPI ranks need nothing more: CoreNEURON takes each NEURON thread's cells as one of its
    threads (run with OpenMP: :func:`coreneuron_threads` sizes the team) and exchanges spikes over
    NEURON's MPI (``notes/coreneuron-mpi.md``).

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    mechanisms : MechanismSource or None
        Where ``components.mechanisms_dir``'s mechanisms came from (None: NEURON's built-in mechanisms only).
    gpu : bool
        CoreNEURON integrates on a GPU (``coreneuron.gpu``; NEURON must be built for it, see
        :func:`gpu_refusal`).

    Returns
    -------
    dict
        The settings :func:`disable_coreneuron` restores.
    """
    from neuron import coreneuron
    lib = coreneuron_library(mechanisms) if mechanisms is not None else None
    saved = {"cache_efficient": int(h.cvode.cache_efficient()), "CORENEURONLIB": os.environ.get("CORENEURONLIB"),
             "verbose": coreneuron.verbose, "gpu": coreneuron.gpu}
    if lib is not None:
        os.environ["CORENEURONLIB"] = lib
    h.cvode.cache_efficient(1)
    coreneuron.verbose = 0  # its banner and statistics on stdout at every block
    coreneuron.gpu = bool(gpu)  # its cell permutation follows (1 on a GPU, 0 on CPUs)
    coreneuron.enable = True
    log.info("CoreNEURON integrates (in memory%s%s)", ", on a GPU" if gpu else "", f", mechanisms {lib}" if lib else "")
    return saved


def disable_coreneuron(h: HocObject, saved: dict[str, Any] | None) -> None:
    """Give the integration back to NEURON and restore the settings :func:`enable_coreneuron` changed.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    saved : dict or None
        What :func:`enable_coreneuron` returned (None: CoreNEURON was not enabled, nothing to do).
    """
    if saved is None:
        return
    from neuron import coreneuron
    coreneuron.enable = False
    coreneuron.gpu = saved["gpu"]
    coreneuron.verbose = saved["verbose"]
    if saved.get("openmp") is not None:
        _openmp_threads(saved["openmp"])
    h.cvode.cache_efficient(saved["cache_efficient"])
    if saved["CORENEURONLIB"] is None:
        os.environ.pop("CORENEURONLIB", None)
    else:
        os.environ["CORENEURONLIB"] = saved["CORENEURONLIB"]
