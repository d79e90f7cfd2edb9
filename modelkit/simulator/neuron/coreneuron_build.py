"""The CoreNEURON build of a mechanism folder: every ``.mod`` file nmodl compiles, the others left out and recorded.

Every bmtk biophysical example ships bmtk's ``vecevent.mod`` (``VecStim``), whose VERBATIM calls NEURON's
``ifarg``/``vector_arg``, which CoreNEURON does not have ("'ifarg' was not declared in this scope"): built
whole, the folder would not run under CoreNEURON at all.  NEURON loads the whole library (``nrnivmodl``,
:func:`~modelkit.simulator.neuron.mechanisms.compile_mechanisms`), and in-memory CoreNEURON gets, through
``$CORENEURONLIB``, a library of the files that compile for it: a model that instantiates none of the others
gives NEURON's spikes (``notes/coreneuron-run/vecstim_subset.py``: identical spikes, 2.4e-11 mV), and one
that does is refused before CoreNEURON runs (:func:`~modelkit.simulator.neuron.coreneuron.left_out_in_use`),
where CoreNEURON would abort the process ("VecStim mechanism does not exist").

The build: ``nrnivmodl-core`` (the CoreNEURON half of ``nrnivmodl -coreneuron``; NEURON's library is the
plain build's, made by the same commands: ``-coreneuron`` changes only how ``special`` is linked) on all
files at once, with ``make -k`` so that every file that fails says so in one pass; the make lines name the
failing files (``x86_64/corenrn/build/F.o`` or ``.../mod2c/F.cpp``), and they are removed and the rest
linked again (only the link runs again: the other objects are made).  The wrapper around nmodl
(:mod:`~modelkit.simulator.neuron.nmodl_patch`) prefixes nmodl's lines with the file's name when it fails.
Which files were left out, which mechanisms they declare and the compiler's words about them go in
``coreneuron_left_out.json`` beside the library, in the cache folder
``<cache>/nrnmech/<key of the files>-coreneuron-<key of the build step>/``.

A failure that names no mod file (the link, a killed compiler, a full disk) is a ConfigError and nothing is
cached.  When no file compiles for CoreNEURON, nothing is cached either (more often a broken compiler than
the files): the record stays in this process, :func:`coreneuron_library` is None and a CoreNEURON run says
why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
from typing import NamedTuple

import re2

from modelkit.errors import BackendUnavailableError, ConfigError
from modelkit.simulator.neuron.mechanisms import (
    _NRNIVMODL_TIMEOUT_S,
    MechanismSource,
    _content_hash,
    _nrnivmodl,
    cache_dir,
    find_mechanisms,
    mechanism_names,
    no_display_options,
    tool_env,
)

__all__ = ["LeftOut", "LEFT_OUT_JSON", "CORENEURON_LIBRARY", "OWN_MODS_DIR", "build_coreneuron", "coreneuron_folder",
           "coreneuron_library", "coreneuron_left_out", "with_own_mods"]

log = logging.getLogger("modelkit.simulator.neuron")

#: the CoreNEURON library ``nrnivmodl-core`` makes in ``x86_64/``
CORENEURON_LIBRARY = "libcorenrnmech.so"
_CORE_LIBS = (CORENEURON_LIBRARY, "libcorenrnmech.dylib")
#: the record of the files left out, in the CoreNEURON build's cache folder
LEFT_OUT_JSON = "coreneuron_left_out.json"
#: what ``nrnivmodl-core`` prints last when the library is made
_BUILT = "MOD files built successfully for CoreNEURON"
# make -k's line for each target that failed: an object (g++ refused nmodl's C++) or a .cpp (nmodl refused)
# "make[2]: ***" when the build runs under another make (MAKELEVEL), "make: ***" otherwise
_FAILED_RE = re2.compile(
    r"(?m)^make(?:\[\d+\])?: \*\*\* \[[^\n]*?corenrn/(?:build|mod2c)/([^/\]\n]+)\.(?:o|cpp)\] Error")
#: words of failures that are the machine's, not the mod file's: never recorded as a file left out
_TRANSIENT = ("Killed signal", "internal compiler error", "No space left on device", "Cannot allocate memory",
              "virtual memory exhausted", "command not found")
#: version of what this module does to build and record (part of the cache key): raise it when a change of
#: the build or of :data:`LEFT_OUT_JSON`'s content must not reuse builds made before
BUILD_STEP = 1
#: lines of compiler output kept per file left out
_REASON_LINES = 40
#: records of folders none of whose files compiled for CoreNEURON (not cached on disk): key -> record
_ALL_FAILED: dict[str, dict] = {}


class LeftOut(NamedTuple):
    """A mechanism left out of a CoreNEURON build.

    Attributes
    ----------
    file : str
        The ``.mod`` file that declares it (name only).
    reason : str
        What the build said about that file (nmodl's or the compiler's lines).
    """

    file: str
    reason: str


#: modelkit's own mechanisms, in every CoreNEURON library modelkit builds: ``mkIntFire1`` (NEURON's IntFire1 for
#: runs CoreNEURON integrates; its file says why)
OWN_MODS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "modfiles")


def with_own_mods(paths: list[str]) -> list[str]:
    """``paths`` and modelkit's own ``.mod`` files (:data:`OWN_MODS_DIR`) whose names are not among them."""
    taken = {os.path.basename(p) for p in paths}
    own = sorted(os.path.join(OWN_MODS_DIR, f) for f in os.listdir(OWN_MODS_DIR) if f.endswith(".mod"))
    return list(paths) + [p for p in own if os.path.basename(p) not in taken]


def _step_key() -> str:
    """Digest of the build step: the nmodl patch's code (it makes the C++), modelkit's own mod files (they go in
    every CoreNEURON library) and :data:`BUILD_STEP`."""
    from modelkit.simulator.neuron import nmodl_patch
    d = hashlib.sha256(f"{BUILD_STEP}\0".encode())
    for path in [nmodl_patch.__file__, *with_own_mods([])]:
        with open(path, "rb") as f:
            d.update(os.path.basename(path).encode() + b"\0" + hashlib.sha256(f.read()).digest())
    return d.hexdigest()[:12]


def coreneuron_folder(paths: list[str]) -> str:
    """The cache folder of the CoreNEURON build of these ``.mod`` files (it may not exist yet).

    Parameters
    ----------
    paths : list of str
        The ``.mod`` files of one folder (:func:`~modelkit.simulator.neuron.mechanisms.mod_files`).
    """
    return os.path.join(cache_dir(), f"{_content_hash(paths)}-coreneuron-{_step_key()}")


def _nmodl_bin_dir() -> str:
    """The folder of the ``neuron`` wheel's real ``nmodl`` and ``nocmodl`` (``neuron/.data/bin``)."""
    no_display_options()
    import neuron
    folder = os.path.join(os.path.dirname(neuron.__file__), ".data", "bin")
    if not (os.path.isfile(os.path.join(folder, "nmodl")) and os.path.isfile(os.path.join(folder, "nocmodl"))):
        raise BackendUnavailableError(f"nmodl and nocmodl (they come with `pip install neuron`) are not in {folder}; "
                                      "they are needed to compile .mod files for CoreNEURON")
    return folder


def _nrnivmodl_core() -> str:
    return os.path.join(os.path.dirname(_nrnivmodl()), "nrnivmodl-core")


def _reason(output: str, base: str) -> str:
    """The lines of a build's output about one file: those naming it, and the indented ones after them (g++'s
    source excerpts and notes)."""
    marks = (f"{base}.cpp", f"{base}.mod", f"/{base}.o]")
    keep: list[str] = []
    mine = False
    for line in output.splitlines():
        if any(m in line for m in marks):
            mine = True
        elif not line.startswith((" ", "\t")):
            mine = False
        if mine and not line.startswith("[NMODL] [warning]") and "patched for CoreNEURON" not in line:
            keep.append(line)
    return "\n".join(keep[:_REASON_LINES]) or "the build failed on it (no message names it)"


def _build_error(directory: str, what: str, output: str) -> ConfigError:
    return ConfigError(directory, "components.mechanisms_dir", "mod files nrnivmodl-core compiles for CoreNEURON",
                       f"{what}; its output:\n{output.strip()[-6000:]}")


def build_coreneuron(paths: list[str], directory: str) -> str | None:
    """Build the ``.mod`` files for CoreNEURON, leaving out those it cannot compile (or find the build cached).

    Parameters
    ----------
    paths : list of str
        The folder's ``.mod`` files (NEURON's build of them all must have succeeded:
        :func:`~modelkit.simulator.neuron.mechanisms.compile_mechanisms`).
    directory : str
        ``components.mechanisms_dir`` (for messages).

    Returns
    -------
    str or None
        The cache folder (``x86_64/libcorenrnmech.so`` and :data:`LEFT_OUT_JSON` in it); None when no file
        compiles for CoreNEURON (:func:`coreneuron_left_out` says why).

    Raises
    ------
    ConfigError
        The build failed in a way that names no mod file (its output in the message); nothing is cached.
    """
    final = coreneuron_folder(paths)
    user = {os.path.basename(p)[:-4] for p in paths}
    paths = with_own_mods(paths)
    key = os.path.basename(final)
    if os.path.isfile(os.path.join(final, LEFT_OUT_JSON)):
        return final
    if key in _ALL_FAILED:
        return None
    from modelkit.simulator.neuron.nmodl_patch import write_wrapper
    os.makedirs(cache_dir(), exist_ok=True)
    build = os.path.join(cache_dir(), f".build-{key}-{secrets.token_hex(4)}")
    src = os.path.join(build, "mod")
    os.makedirs(src)
    try:
        by_base = {}
        for p in paths:
            shutil.copy2(p, src)
            by_base[os.path.basename(p)[:-4]] = p
        # nrnivmodl-core's makefile runs $(NMODL_BINARY) on each .mod and takes it from the environment: the
        # wrapper runs the real nmodl, then the patch; relative, as make runs in the build folder.  -k: every
        # file that fails is found in one pass
        write_wrapper(os.path.join(build, "nmodl-modelkit"), os.path.join(_nmodl_bin_dir(), "nmodl"))
        env = tool_env(NMODL_BINARY="./nmodl-modelkit", MAKEFLAGS="-k")
        log.info("compiling %d mechanisms of %s for CoreNEURON with nrnivmodl-core (cached as %s)", len(paths),
                 directory, final)
        left: dict[str, str] = {}  # base name -> reason
        while True:
            try:
                proc = subprocess.run([_nrnivmodl_core(), "mod"], cwd=build, capture_output=True, text=True,
                                      errors="replace", env=env, timeout=_NRNIVMODL_TIMEOUT_S)
            except subprocess.TimeoutExpired as e:
                raise _build_error(directory, f"no result after {_NRNIVMODL_TIMEOUT_S} s", "") from e
            out = proc.stdout + "\n" + proc.stderr
            # the wheel's nrnivmodl-core launcher exits 1 after a good build (it looks for NEURON's x86_64/special)
            if _BUILT in out and any(os.path.isfile(os.path.join(build, "x86_64", n)) for n in _CORE_LIBS):
                break
            transient = next((t for t in _TRANSIENT if t in out), None)
            failed = [b for b in dict.fromkeys(_FAILED_RE.findall(out)) if b not in left]
            if transient is not None or not failed or any(b not in by_base for b in failed):
                why = f"'{transient}'" if transient else \
                    "a failure that names none of the mod files" if not failed else \
                    f"a failure of {[b for b in failed if b not in by_base][0]}, not one of the mod files"
                raise _build_error(directory, f"nrnivmodl-core exit status {proc.returncode}, {why}", out)
            for b in failed:
                left[b] = _reason(out, b)
                log.info("%s: %s.mod does not compile for CoreNEURON; left out of its library", directory, b)
                mod2c = os.path.join(build, "x86_64", "corenrn", "mod2c")
                for stale in (os.path.join(src, f"{b}.mod"), os.path.join(mod2c, f"{b}.mod"),
                              os.path.join(mod2c, f"{b}.cpp")):
                    if os.path.lexists(stale):
                        os.remove(stale)
            if user <= set(left):  # none of the folder's files: not cached (a broken compiler, most often)
                _ALL_FAILED[key] = _record(left, by_base)
                return None
        record = _record(left, by_base)
        tmp = os.path.join(build, LEFT_OUT_JSON + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, os.path.join(build, LEFT_OUT_JSON))
        try:
            os.replace(build, final)
        except OSError:  # another process published the same build first
            pass
        return final
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _record(left: dict[str, str], by_base: dict[str, str]) -> dict:
    names = mechanism_names(list(by_base.values()))
    own = {b for b, p in by_base.items() if os.path.dirname(p) == OWN_MODS_DIR}
    return {"left_out": {f"{b}.mod": {"mechanisms": sorted(n for n, p in names.items() if p == by_base[b]),
                                      "reason": r} for b, r in sorted(left.items())},
            "compiled": sorted(f"{b}.mod" for b in by_base if b not in left and b not in own),
            "modelkit": sorted(f"{b}.mod" for b in own if b not in left)}


def _folder_of(source: MechanismSource | str) -> tuple[str | None, str | None]:
    """(CoreNEURON cache folder, library beside a compiled NEURON library) of what a caller names."""
    if isinstance(source, MechanismSource):
        if source.mod_paths:
            return coreneuron_folder(source.mod_paths), None
        return None, source.compiled
    if os.path.isdir(source):
        src = find_mechanisms(source)
        return (coreneuron_folder(src.mod_paths), None) if src.mod_paths else (None, src.compiled)
    # a library: one of modelkit's cache (<cache>/nrnmech/<key>[-coreneuron-<step>]/...), or one beside which
    # nrnivmodl -coreneuron left libcorenrnmech.so
    root, rel = os.path.realpath(cache_dir()), os.path.realpath(source)
    if rel.startswith(root + os.sep):
        key = rel[len(root) + 1:].split(os.sep)[0]
        if "-coreneuron-" in key:
            return os.path.join(cache_dir(), key), None
        return os.path.join(cache_dir(), f"{key}-coreneuron-{_step_key()}"), source
    return None, source


def coreneuron_library(source: MechanismSource | str) -> str | None:
    """The CoreNEURON library of some mechanisms (``libcorenrnmech.so``), or None when there is none.

    In-memory CoreNEURON finds it only through ``$CORENEURONLIB`` (or ``./x86_64/`` of the working
    directory): loading ``libnrnmech.so`` is not enough, and a mechanism CoreNEURON lacks aborts the process.

    Parameters
    ----------
    source : MechanismSource or str
        What :func:`~modelkit.simulator.neuron.mechanisms.load_mechanisms` returned, a mechanisms folder, or a
        NEURON library (what :func:`~modelkit.simulator.neuron.mechanisms.compile_mechanisms` returns, or one
        compiled by ``nrnivmodl -coreneuron`` with ``libcorenrnmech.so`` beside it).
    """
    folder, beside = _folder_of(source)
    for d in ([os.path.join(folder, "x86_64")] if folder else []) + ([os.path.dirname(beside)] if beside else []):
        for name in _CORE_LIBS:
            if os.path.isfile(os.path.join(d, name)):
                return os.path.join(d, name)
    return None


def coreneuron_left_out(source: MechanismSource | str) -> dict[str, LeftOut]:
    """Mechanisms (``SUFFIX``, ``POINT_PROCESS``, ``ARTIFICIAL_CELL`` names) the CoreNEURON build left out.

    Parameters
    ----------
    source : MechanismSource or str
        As for :func:`coreneuron_library`.

    Returns
    -------
    dict
        Name -> :class:`LeftOut` (its ``.mod`` file and the compiler's words); empty when nothing was left
        out, or when no CoreNEURON build of these files was made (``compile_mechanisms(..., coreneuron=True)``
        makes it).
    """
    folder, _ = _folder_of(source)
    if folder is None:
        return {}
    record = _ALL_FAILED.get(os.path.basename(folder))
    if record is None:
        try:
            with open(os.path.join(folder, LEFT_OUT_JSON)) as f:
                record = json.load(f)
        except FileNotFoundError:
            return {}
    return {name: LeftOut(file, entry["reason"]) for file, entry in record["left_out"].items()
            for name in entry["mechanisms"]}
