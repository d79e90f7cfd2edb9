"""NEURON itself and its mechanisms: import, compile ``.mod`` files with ``nrnivmodl``, cache, load.

The ``.mod`` files of ``components.mechanisms_dir`` are compiled once per content: the
library lands in ``<cache>/nrnmech/<hash>/`` (``<cache>`` is ``$MODELKIT_CACHE_DIR`` or
``~/.cache/modelkit``), where the hash covers the files' names and bytes, the NEURON
version and the platform.  A second run with the same files only loads the library.
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
from typing import Any

import re2

from modelkit.errors import BackendUnavailableError, ConfigError
from modelkit.sonata.textfile import check_regular_file

__all__ = ["import_neuron", "mod_files", "mechanism_names", "known_mechanisms", "compile_mechanisms",
           "load_mechanisms", "cache_dir", "cache_root"]

log = logging.getLogger("modelkit.simulator.neuron")

#: libraries loaded into this process: content hash -> path
_LOADED: dict[str, str] = {}
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


def import_neuron() -> Any:
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
    """Mechanism names (``SUFFIX``, ``POINT_PROCESS``, ``ARTIFICIAL_CELL``) declared by mod files -> the file."""
    out: dict[str, str] = {}
    for p in paths:
        with open(p, "rb") as f:  # mod_files checked it is a regular file of bounded size
            # NMODL is ASCII; a Latin-1 byte in a comment must not stop the read
            text = _COMMENT_RE.sub("", f.read(MAX_MOD_BYTES + 1).decode("utf-8", "replace"))
        for block in _NEURON_BLOCK_RE.findall(text):
            for _, name in _NAME_RE.findall(block):
                out[name] = p
    return out


def known_mechanisms(h: Any) -> set[str]:
    """Names of every density mechanism and point process NEURON knows in this process."""
    out: set[str] = set()
    s = h.ref("")
    for kind in (0, 1):
        mt = h.MechanismType(kind)
        for i in range(int(mt.count())):
            mt.select(i)
            mt.selected(s)
            out.add(str(s[0]))
    return out


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


def compile_mechanisms(directory: str) -> str:
    """Compile the ``.mod`` files of ``directory`` (or find them compiled in the cache).

    Parameters
    ----------
    directory : str
        A folder of ``.mod`` files (``components.mechanisms_dir``).

    Returns
    -------
    str
        Path of the shared library (``libnrnmech.so``).

    Raises
    ------
    ConfigError
        No folder, or ``nrnivmodl`` failed (the message carries the compiler's output).
    """
    paths = mod_files(directory)
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
                              timeout=_NRNIVMODL_TIMEOUT_S)
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


def load_mechanisms(h: Any, directory: str) -> list[str]:
    """Compile (or take from the cache) and load the mechanisms of ``directory`` into this process.

    Mechanisms NEURON already knows (loaded before, by modelkit or anyone else) are not
    loaded again.

    Returns
    -------
    list of str
        The mechanism names the folder declares.

    Raises
    ------
    ConfigError
        Compilation failed, or some of the folder's mechanisms are loaded already and others
        not (NEURON cannot load a second library that redefines a mechanism: run in a new process).
    """
    paths = mod_files(directory)
    names = mechanism_names(paths)
    if not paths:
        return []
    key = _content_hash(paths)
    if key in _LOADED:
        return sorted(names)
    have = known_mechanisms(h) | {n for n in names if hasattr(h, n)}
    clash = sorted(n for n in names if n in have)
    if clash and len(clash) == len(names):
        log.info("mechanisms of %s are loaded already", directory)
        _LOADED[key] = "(already loaded)"
        return sorted(names)
    if clash:
        raise ConfigError(directory, "components.mechanisms_dir",
                          "mechanisms not loaded in this process yet "
                          "(NEURON cannot redefine one; run in a new process)",
                          f"already loaded: {clash} (from {[os.path.basename(names[n]) for n in clash]})")
    lib = compile_mechanisms(directory)
    if not h.nrn_load_dll(lib):
        raise ConfigError(lib, None, "a mechanism library NEURON loads", "nrn_load_dll failed")
    _LOADED[key] = lib
    return sorted(names)
