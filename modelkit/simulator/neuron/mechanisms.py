"""NEURON itself and its mechanisms: import, compile ``.mod`` files with ``nrnivmodl``, cache, load.

Where the mechanisms of ``components.mechanisms_dir`` are found (bmtk's layouts, see :func:`find_mechanisms`):

1. ``.mod`` files directly in the folder, or else in its ``modfiles/`` subfolder (where every bmtk example
   keeps them; ``mod/`` is accepted too).  They are compiled once per content: the library lands in
   ``<cache>/nrnmech/<hash>/`` (``<cache>`` is ``$MODELKIT_CACHE_DIR`` or ``~/.cache/modelkit``), where the
   hash covers the files' names and bytes, the NEURON version and the platform; a second run with the same
   files only loads the library.  Nothing is written into the user's folder (bmtk's are often read-only).
   A compiled folder beside the sources (``x86_64/`` from ``nrnivmodl modfiles``) is then *not* loaded:
   the sources are the truth, and a build made before they changed, by another NEURON version or for
   another machine cannot be loaded by mistake.
2. No ``.mod`` files, but a folder compiled for this machine (``<mechanisms_dir>/<arch>/libnrnmech.so``,
   what bmtk loads with ``neuron.load_mechanisms``): that library is loaded -- after a trial load in a
   child process, because a library built by another NEURON version can abort the process that loads it.
   One that fails the trial is not loaded; the run goes on (as bmtk's does), and a mechanism that is then
   missing raises an error that says where modelkit looked and what it found (:meth:`MechanismSource.describe`).
   Folders compiled for another machine (``arm64/`` on x86-64) are never loaded, only named in that error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import re2

from modelkit.errors import BackendUnavailableError, ConfigError
from modelkit.simulator.neuron._hoc import HocObject
from modelkit.sonata.textfile import check_regular_file

__all__ = ["import_neuron", "mod_files", "mechanism_names", "known_mechanisms", "compile_mechanisms",
           "coreneuron_library", "coreneuron_left_out", "load_mechanisms", "cache_dir", "cache_root",
           "find_mechanisms", "MechanismSource", "SOURCE_SUBDIRS"]

log = logging.getLogger("modelkit.simulator.neuron")

#: libraries loaded into this process: content hash -> path
_LOADED: dict[str, str] = {}
#: mechanism name -> digest of the .mod file modelkit loaded it from (in this process)
_SOURCES: dict[str, str] = {}
_NRNIVMODL_TIMEOUT_S = 1800
#: largest .mod file read (bytes); real ones are a few KB to a few hundred KB
MAX_MOD_BYTES = 16 << 20
# RE2 (linear time): with Python's backtracking ``re``, ``COMMENT.*?ENDCOMMENT`` over a file of many
# COMMENTs and no ENDCOMMENT is quadratic -- a 400 KB .mod file held a run for minutes
_NAME_RE = re2.compile(r"(?m)^\s*(SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)")
_NEURON_BLOCK_RE = re2.compile(r"(?s)NEURON\s*\{(.*?)\}")
_COMMENT_RE = re2.compile(r"(?s)COMMENT.*?ENDCOMMENT|:[^\n]*")


def no_display_options() -> None:
    """Before ``import neuron`` on a machine without a display: start NEURON with ``-nogui``.

    Without an X display NEURON's library writes "Warning: no DISPLAY environment variable. --No
    graphics will be displayed." to the process's stderr when it is first imported: a red box in a
    notebook cell, though modelkit never uses NEURON's graphics.  ``NEURON_MODULE_OPTIONS`` is read
    once, at that first import; options the user set there are kept.
    """
    if os.environ.get("DISPLAY"):
        return
    opts = os.environ.get("NEURON_MODULE_OPTIONS", "")
    if "-nogui" not in opts.split():
        os.environ["NEURON_MODULE_OPTIONS"] = f"{opts} -nogui".strip()


def import_neuron() -> HocObject:
    """NEURON's ``h`` with the standard run system loaded (Import3d is loaded when a morphology is first read).

    Raises
    ------
    BackendUnavailableError
        NEURON is not installed (``pip install neuron``).
    """
    from modelkit.simulator.neuron.distribute import prepare_mpi, start_mpi
    prepare_mpi()  # under an MPI launcher NEURON must find the MPI library before it is imported
    no_display_options()
    try:
        from neuron import h
    except ImportError as e:  # pragma: no cover - neuron is a dependency
        raise BackendUnavailableError(f"NEURON cannot be imported ({e}); pip install neuron") from e
    start_mpi(h)
    h.load_file("stdrun.hoc")
    return h


def cache_root() -> str:
    """modelkit's cache folder: ``$MODELKIT_CACHE_DIR``, or ``~/.cache/modelkit``."""
    return os.environ.get("MODELKIT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "modelkit")


def cache_dir() -> str:
    """Where compiled mechanism libraries are kept.

    ``$MODELKIT_CACHE_DIR/nrnmech``, or ``~/.cache/modelkit/nrnmech``.
    """
    return os.path.join(cache_root(), "nrnmech")


def mod_files(directory: str) -> list[str]:
    """The ``.mod`` files of a folder, sorted by name (absolute paths).

    Parameters
    ----------
    directory : str
        ``components.mechanisms_dir`` (or its ``modfiles/`` subfolder).

    Raises
    ------
    ConfigError
        The folder does not exist, or a ``.mod`` entry is not a regular file of at most
        :data:`MAX_MOD_BYTES` (a FIFO would block the read of its names for ever).
    """
    if not os.path.isdir(directory):
        raise ConfigError(directory, "components.mechanisms_dir", "an existing folder of .mod files", "no such folder")
    paths = sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".mod"))
    for p in paths:
        check_regular_file(p, "mechanism (.mod) file", MAX_MOD_BYTES)
    return paths


def mechanism_names(paths: list[str]) -> dict[str, str]:
    """Mechanism names (``SUFFIX``, ``POINT_PROCESS``, ``ARTIFICIAL_CELL``) declared by mod files -> the file.

    Parameters
    ----------
    paths : list of str
        ``.mod`` files, checked by :func:`mod_files`.
    """
    out: dict[str, str] = {}
    for p in paths:
        with open(p, "rb") as f:  # mod_files checked it is a regular file of bounded size
            # NMODL is ASCII; a Latin-1 byte in a comment must not stop the read
            text = _COMMENT_RE.sub("", f.read(MAX_MOD_BYTES + 1).decode("utf-8", "replace"))
        for block in _NEURON_BLOCK_RE.findall(text):
            for _, name in _NAME_RE.findall(block):
                out[name] = p
    return out


def known_mechanisms(h: HocObject) -> set[str]:
    """Names of every density mechanism and point process NEURON knows in this process.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    """
    out: set[str] = set()
    s = h.ref("")
    for kind in (0, 1):
        mt = h.MechanismType(kind)
        for i in range(int(mt.count())):
            mt.select(i)
            mt.selected(s)
            out.add(str(s[0]))
    return out


#: what a make that runs this process passes down: the builds run their own make, not a sub-make of it
_OUTER_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for the ``neuron`` wheel's ``nrnivmodl``/``nrnivmodl-core``: this process's, without an
    ``NMODLHOME`` that has no ``share/nmodl/nrnunits.lib`` nor an outer make's variables (and with ``extra``).

    The wheel's launcher sets ``NMODLHOME`` only when it is unset, and ``import neuron.nmodl`` (neuron 9.0.2)
    sets it to ``<neuron>/.data/share/nrn``, where nmodl does not find its units ("Could not find nrnunits.lib"):
    after that import, in this process or a parent, every CoreNEURON build would fail.  Under ``make`` (``make
    test``) the build's make would be a sub-make (its messages say ``make[2]:``) and take the outer make's
    flags (a jobserver whose pipes it does not have).
    """
    env = {k: v for k, v in os.environ.items() if k not in _OUTER_MAKE}
    home = env.get("NMODLHOME")
    if home is not None and not os.path.isfile(os.path.join(home, "share", "nmodl", "nrnunits.lib")):
        del env["NMODLHOME"]
    env.update(extra)
    return env


def _content_hash(paths: list[str]) -> str:
    d = hashlib.sha256()
    no_display_options()
    import neuron
    d.update(f"{neuron.__version__}|{sys.platform}|{platform.machine()}".encode())
    for p in paths:
        d.update(os.path.basename(p).encode() + b"\0")
        with open(p, "rb") as f:
            d.update(hashlib.sha256(f.read()).digest())
    return d.hexdigest()[:24]


def _find_library(folder: str) -> str | None:
    for root, _, files in os.walk(folder):
        for f in files:
            if f in ("libnrnmech.so", "libnrnmech.dylib", "nrnmech.dll"):
                return os.path.join(root, f)
    return None


def _nrnivmodl() -> str:
    exe = os.path.join(os.path.dirname(sys.executable), "nrnivmodl")
    if os.path.exists(exe):
        return exe
    found = shutil.which("nrnivmodl")
    if found is None:
        raise BackendUnavailableError("nrnivmodl (it comes with `pip install neuron`) is not on PATH nor next to "
                                      f"{sys.executable}; it is needed to compile .mod files")
    return found


#: subfolders of ``mechanisms_dir`` searched for ``.mod`` files when it holds none itself (bmtk's layout)
SOURCE_SUBDIRS = ("modfiles", "mod")
#: names of the folders ``nrnivmodl`` makes, by machine (``platform.machine()``)
_ARCH_DIRS = ("x86_64", "arm64", "aarch64", "i686", "powerpc", "umac")
_LIB_NAMES = ("libnrnmech.so", "libnrnmech.dylib", "nrnmech.dll")
_PROBE_TIMEOUT_S = 120
#: trial loads of compiled libraries: (path, mtime, size) -> (names, None) or (None, reason)
_PROBED: dict[tuple, tuple[list[str] | None, str | None]] = {}


@dataclass
class MechanismSource:
    """Where the mechanisms of one ``components.mechanisms_dir`` were looked for, and what was found there.

    Attributes
    ----------
    directory : str
        ``components.mechanisms_dir`` as the config gives it.
    looked : list of str
        Folders searched for ``.mod`` files, in order.
    mod_dir : str or None
        The first of them that holds ``.mod`` files (they are compiled in modelkit's cache).
    mod_paths : list of str
        Its ``.mod`` files.
    compiled : str or None
        A library compiled for this machine in ``<directory>/<arch>/`` (loaded only without ``.mod`` files).
    foreign : list of str
        Folders compiled for other machines (never loaded).
    loaded : list of str
        Mechanism names loaded from this folder (or found loaded already).
    problem : str or None
        Why a compiled library was not loaded (its trial load failed).
    """

    directory: str
    looked: list[str] = field(default_factory=list)
    mod_dir: str | None = None
    mod_paths: list[str] = field(default_factory=list)
    compiled: str | None = None
    foreign: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    problem: str | None = None

    def describe(self) -> str:
        """One sentence for error messages: the paths searched (relative to ``directory``) and what they held."""
        def rel(p: str) -> str:
            r = os.path.relpath(p, self.directory)
            return "it" if r == "." else r + ("/" if os.path.isdir(p) else "")
        parts = [f"modelkit looked in components.mechanisms_dir {self.directory}: for .mod files in "
                 + " and ".join(rel(p) for p in self.looked)]
        if self.mod_dir is not None:
            parts.append(f"(compiled the {len(self.mod_paths)} of {rel(self.mod_dir)})")
        else:
            parts.append("(none)")
            if self.compiled is None:
                parts.append(f"and for a compiled library in {platform.machine() or 'x86_64'}/ (none)")
            elif self.problem is not None:
                parts.append(f"and found {rel(self.compiled)}, not loaded: {self.problem}")
            else:
                parts.append(f"and loaded {rel(self.compiled)}")
        if self.foreign:
            parts.append(f"; compiled for another machine, not loaded: {', '.join(rel(f) for f in self.foreign)}")
        names = ", ".join(self.loaded[:40]) + (", ..." if len(self.loaded) > 40 else "")
        parts.append(f"; mechanisms it provides: {names or 'none'}")
        return " ".join(parts).replace(" ;", ";")


def _library_in(folder: str) -> str | None:
    """The mechanism library ``nrnivmodl`` left in an arch folder (``x86_64/libnrnmech.so``, older NEURONs:
    ``x86_64/.libs/libnrnmech.so``)."""
    for sub in ("", ".libs"):
        for name in _LIB_NAMES:
            p = os.path.join(folder, sub, name)
            if os.path.isfile(p):
                return p
    return None


def find_mechanisms(directory: str) -> MechanismSource:
    """Find the mechanisms of ``components.mechanisms_dir`` where bmtk's users keep them.

    ``.mod`` files directly in ``directory``, else in its first subfolder of :data:`SOURCE_SUBDIRS` that has
    some; a library compiled for this machine in ``directory/<arch>/`` (as ``neuron.load_mechanisms`` finds
    it); folders compiled for other machines.

    Parameters
    ----------
    directory : str
        ``components.mechanisms_dir``.

    Raises
    ------
    ConfigError
        ``directory`` is not a folder, or a ``.mod`` entry is not a regular file of bounded size.
    """
    src = MechanismSource(directory)
    if not os.path.isdir(directory):
        raise ConfigError(directory, "components.mechanisms_dir",
                          "an existing folder of .mod files (or with a modfiles/ subfolder)", "no such folder")
    for folder in (directory, *(os.path.join(directory, d) for d in SOURCE_SUBDIRS)):
        if folder != directory and not os.path.isdir(folder):
            continue
        src.looked.append(folder)
        paths = mod_files(folder)
        if paths:
            src.mod_dir, src.mod_paths = folder, paths
            break
    here = platform.machine() or "x86_64"
    for arch in dict.fromkeys((here, *_ARCH_DIRS)):
        folder = os.path.join(directory, arch)
        if not os.path.isdir(folder):
            continue
        lib = _library_in(folder)
        if arch == here and lib is not None:
            src.compiled = lib
        elif arch != here and (lib is not None or os.path.isfile(os.path.join(folder, "special"))):
            src.foreign.append(folder)
    return src


def _probe_library(lib: str) -> tuple[list[str] | None, str | None]:
    """Load ``lib`` in a child process first: the mechanism names it adds, or why it cannot be loaded.

    A library compiled by another NEURON version can abort the process that loads it (or leave NEURON
    half-initialised), so the trial runs in a child (once per file version in this process).
    """
    st = os.stat(lib)
    key = (lib, st.st_mtime_ns, st.st_size)
    if key in _PROBED:
        return _PROBED[key]
    script = ("import json, sys\n"
              "from neuron import h\n"
              "def names():\n"
              "    out, s = set(), h.ref('')\n"
              "    for kind in (0, 1):\n"
              "        mt = h.MechanismType(kind)\n"
              "        for i in range(int(mt.count())):\n"
              "            mt.select(i); mt.selected(s); out.add(str(s[0]))\n"
              "    return out\n"
              "before = names()\n"
              "ok = h.nrn_load_dll(sys.argv[1])\n"
              "print('MODELKIT-PROBE ' + json.dumps([bool(ok), sorted(names() - before)]))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEURON_INIT_MPI", "OMPI_", "PMI_", "PMIX_"))}
    env["NEURON_MODULE_OPTIONS"] = "-nogui"
    result: tuple[list[str] | None, str | None]
    try:
        proc = subprocess.run([sys.executable, "-c", script, lib], capture_output=True, text=True,
                              timeout=_PROBE_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        result = (None, f"loading it did not finish within {_PROBE_TIMEOUT_S} s")
    else:
        import json
        line = next((x for x in proc.stdout.splitlines() if x.startswith("MODELKIT-PROBE ")), None)
        if proc.returncode == 0 and line is not None and json.loads(line[15:])[0]:
            result = (json.loads(line[15:])[1], None)
        else:
            err = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            reason = err[-1] if err else f"exit status {proc.returncode}"
            result = (None, f"NEURON could not load it ({reason[-200:]}); built by another NEURON version or for "
                            f"another machine? run nrnivmodl again")
    _PROBED[key] = result
    return result


def compile_mechanisms(directory: str, coreneuron: bool = False) -> str:
    """Compile the ``.mod`` files of ``directory`` (or find them compiled in the cache).

    Parameters
    ----------
    directory : str
        ``components.mechanisms_dir``: a folder of ``.mod`` files, or one with a ``modfiles/`` subfolder.
    coreneuron : bool
        Build for CoreNEURON too (:func:`~modelkit.simulator.neuron.coreneuron_build.build_coreneuron`, cached
        under its own key): every file nmodl compiles goes in ``libcorenrnmech.so``
        (:func:`coreneuron_library` of the result), the others are left out and recorded
        (:func:`coreneuron_left_out`).  NEURON's library stays whole and is the same either way.

    Returns
    -------
    str
        Path of NEURON's shared library (``libnrnmech.so``).

    Raises
    ------
    ConfigError
        No folder, or ``nrnivmodl`` failed (the message carries the compiler's output), or the CoreNEURON
        build failed in a way that names no mod file.
    """
    paths = find_mechanisms(directory).mod_paths
    lib = _compile_paths(paths, directory)
    if coreneuron and paths:
        from modelkit.simulator.neuron.coreneuron_build import build_coreneuron
        build_coreneuron(paths, directory)
    return lib


def _compile_paths(paths: list[str], directory: str) -> str:
    """The shared library of these ``.mod`` files, compiled once into the cache (by content)."""
    key = _content_hash(paths)
    final = os.path.join(cache_dir(), key)
    lib = _find_library(final) if os.path.isdir(final) else None
    if lib is not None:
        return lib
    os.makedirs(cache_dir(), exist_ok=True)
    build = os.path.join(cache_dir(), f".build-{key}-{secrets.token_hex(4)}")
    src = os.path.join(build, "mod")
    os.makedirs(src)
    for p in paths:
        shutil.copy2(p, src)
    log.info("compiling %d mechanisms of %s with nrnivmodl (cached as %s)", len(paths), directory, final)
    try:
        proc = subprocess.run([_nrnivmodl(), "mod"], cwd=build, capture_output=True, text=True,
                              timeout=_NRNIVMODL_TIMEOUT_S, env=tool_env())
    except subprocess.TimeoutExpired as e:
        shutil.rmtree(build, ignore_errors=True)
        raise ConfigError(directory, "components.mechanisms_dir", "mod files nrnivmodl compiles",
                          f"no result after {_NRNIVMODL_TIMEOUT_S} s") from e
    lib = _find_library(build)
    if proc.returncode != 0 or lib is None:
        shutil.rmtree(build, ignore_errors=True)
        out = (proc.stdout + "\n" + proc.stderr).strip()
        raise ConfigError(directory, "components.mechanisms_dir", "mod files nrnivmodl compiles",
                          f"nrnivmodl exit status {proc.returncode}; its output:\n{out[-6000:]}")
    try:
        os.replace(build, final)
    except OSError:  # another process published the same library first
        shutil.rmtree(build, ignore_errors=True)
    lib = _find_library(final)
    assert lib is not None
    return lib


def load_mechanisms(h: HocObject, directory: str, coreneuron: bool = False) -> MechanismSource:
    """Load the mechanisms of ``directory`` into this process (see the module's text for where they are found).

    ``.mod`` files are compiled (or taken from the cache); without them, a library compiled for this machine
    in ``directory/<arch>/`` is loaded if a trial load in a child process succeeds (else a warning; the run
    goes on as bmtk's does, and a missing mechanism is reported later with :meth:`MechanismSource.describe`).
    Mechanisms NEURON already knows (loaded before, by modelkit or anyone else) are not loaded again.

    Parameters
    ----------
    h : HocObject
        NEURON's ``h``.
    directory : str
        ``components.mechanisms_dir``.
    coreneuron : bool
        Build ``.mod`` files for CoreNEURON too (:func:`compile_mechanisms`), so that
        :func:`coreneuron_library` finds the CoreNEURON build of what was loaded (NEURON's library is the same
        either way, so a process that loaded it before for NEURON can run them under CoreNEURON).

    Returns
    -------
    MechanismSource
        Where modelkit looked, and the names loaded (``loaded``).

    Raises
    ------
    ConfigError
        Compilation failed, or some of the folder's mechanisms are loaded already and others
        not (NEURON cannot load a second library that redefines a mechanism: run in a new process).
    """
    src = find_mechanisms(directory)
    if src.mod_dir is not None:
        if src.compiled is not None:
            log.info("%s: compiling the .mod files of %s; the compiled folder %s is not loaded (it may be stale)",
                     directory, src.mod_dir, os.path.dirname(src.compiled))
        paths = src.mod_paths
        names = mechanism_names(paths)
        key = _content_hash(paths)
        src.loaded = sorted(names)
        if key not in _LOADED:
            origin = {n: os.path.basename(p) for n, p in names.items()}
            todo = _not_yet_loaded(h, names)
            if todo is not None and len(todo) < len(paths):  # the rest was loaded before from the same sources
                paths = todo
            if paths and _load_once(h, key, {n for n, p in names.items() if p in paths}, origin, src.mod_dir):
                lib = _compile_paths(paths, directory)
                if not h.nrn_load_dll(lib):
                    raise ConfigError(lib, None, "a mechanism library NEURON loads", "nrn_load_dll failed")
                _LOADED[key] = lib
                _SOURCES.update({n: _file_digest(p) for n, p in names.items() if p in paths})
        if coreneuron:  # of the whole folder, whatever this process loaded before
            from modelkit.simulator.neuron.coreneuron_build import build_coreneuron
            build_coreneuron(src.mod_paths, directory)
        return src
    if src.compiled is None:
        log.warning("%s", f"components.mechanisms_dir {directory}: no mechanisms found ({src.describe()})")
        return src
    added, problem = _probe_library(src.compiled)
    if added is None:
        src.problem = problem
        log.warning("%s", f"components.mechanisms_dir {directory}: the compiled library {src.compiled} is not "
                          f"loaded: {problem}")
        return src
    st = os.stat(src.compiled)
    key = f"lib:{src.compiled}:{st.st_mtime_ns}:{st.st_size}"
    src.loaded = sorted(added)
    if key not in _LOADED and _load_once(h, key, set(added), {n: src.compiled for n in added}, directory):
        if not h.nrn_load_dll(src.compiled):  # pragma: no cover - the child loaded it
            raise ConfigError(src.compiled, "components.mechanisms_dir", "a mechanism library NEURON loads",
                              "nrn_load_dll failed")
        log.info("loaded the compiled mechanisms %s (%d mechanisms)", src.compiled, len(added))
        _LOADED[key] = src.compiled
    return src


def coreneuron_library(src: MechanismSource | str) -> str | None:
    """The CoreNEURON library of some mechanisms (``libcorenrnmech.so``), or None when there is none: see
    :func:`modelkit.simulator.neuron.coreneuron_build.coreneuron_library`."""
    from modelkit.simulator.neuron import coreneuron_build
    return coreneuron_build.coreneuron_library(src)


def coreneuron_left_out(src: MechanismSource | str) -> dict:
    """Mechanisms the CoreNEURON build left out, by name: see
    :func:`modelkit.simulator.neuron.coreneuron_build.coreneuron_left_out`."""
    from modelkit.simulator.neuron import coreneuron_build
    return coreneuron_build.coreneuron_left_out(src)


def _file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _not_yet_loaded(h: HocObject, names: dict[str, str]) -> list[str] | None:
    """The ``.mod`` files still to load when every mechanism of the folder that NEURON knows was loaded by
    modelkit from a file with the same content (one example's mechanisms are often a subset of another's: a
    session that ran one can run the other); None when a known one came from elsewhere or differs."""
    have = known_mechanisms(h) | {n for n in names if hasattr(h, n)}
    todo: list[str] = []
    for path in dict.fromkeys(names.values()):
        declared = [n for n, p in names.items() if p == path]
        known = [n for n in declared if n in have]
        if not known:
            todo.append(path)
        elif len(known) < len(declared) or any(_SOURCES.get(n) != _file_digest(path) for n in known):
            return None
    return todo


def _load_once(h: HocObject, key: str, names: set[str], origin: dict[str, str], where: str) -> bool:
    """Whether a library declaring ``names`` must be loaded: False when NEURON knows all of them already.

    Raises
    ------
    ConfigError
        Some are known and others not (NEURON cannot redefine a mechanism: run in a new process).
    """
    have = known_mechanisms(h) | {n for n in names if hasattr(h, n)}
    clash = sorted(n for n in names if n in have)
    if clash and len(clash) == len(names):
        log.info("mechanisms of %s are loaded already", where)
        _LOADED[key] = "(already loaded)"
        return False
    if clash:
        raise ConfigError(where, "components.mechanisms_dir",
                          "mechanisms not loaded in this process yet "
                          "(NEURON cannot redefine one; run in a new process)",
                          f"already loaded: {clash} (from {sorted({origin[n] for n in clash})})")
    return True
