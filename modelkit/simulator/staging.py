"""Where a run may write, and how its output folder appears: staged, published whole, or ``.failed``.

A run writes into ``<parent>/.<output>.partial-<pid>-<host>-<random>`` (next to ``output_dir``, same file
system) and nothing else:

* **Every output path is inside ``output_dir``.**  bmtk writes a spikes/report/log file named by an absolute
  path (or a ``../`` path) outside ``output_dir`` in place, overwriting whatever is there whatever
  ``overwrite_output_dir`` says, and with no way to tell it from a complete one if the run fails.  modelkit
  refuses such a config with a :class:`~modelkit.errors.ConfigError` naming the key, before anything is
  written (mapping it into ``output_dir`` instead would put the file somewhere else than the config says,
  silently).  None of the bmtk examples names an output outside its ``output_dir``.
* **``output_dir`` holds none of the model's inputs.**  Publishing replaces the whole output folder, so an
  ``output_dir`` equal to (or above) the model's folder, network, node sets, components, input spike files
  or the config itself would delete them: refused, ``ConfigError`` on ``output.output_dir``.
* **Signals end a run like a failure.**  While a run goes on (main thread only), SIGTERM and SIGHUP (what
  ``timeout``, Slurm and a closed terminal send) raise :class:`RunTerminated`, a ``SystemExit`` with status
  128 + signal, so the staging folder becomes ``<output>.failed`` with what was written so far; SIGINT keeps
  raising ``KeyboardInterrupt``, which does the same.  A signal handler the application installed (or
  SIG_IGN) is left in charge.  While the output folder is being swapped in, signals wait until it is done.
  The previous handlers are restored when the run ends.
* **Leftovers of dead runs are recovered.**  A staging folder whose process is gone (SIGKILL, power loss)
  becomes ``<output>.failed`` at the next run to the same output; one of another host is left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from typing import Any

from modelkit.errors import ConfigError
from modelkit.sonata.config import REPORT_OUTPUT_KEYS, EdgesEntry, NodesEntry, SimulationConfig
from modelkit.sonata.fileset import owner_alive, owner_tag, parse_owner

__all__ = ["RunTerminated", "output_paths", "check_output_paths", "check_inputs_outside", "staging_name",
           "recover_partials", "swap_in", "run_signals"]

PARTIAL = ".partial-"
OLD = ".old-"
#: output keys of ``output`` that a backend reads relative to ``output_dir`` (the filter backend's rates)
_OUTPUT_EXTRA_KEYS = ("rates_h5", "rates_file_h5", "rates_file", "rates_csv", "rates_file_csv")


class RunTerminated(SystemExit):
    """A run ended by SIGTERM or SIGHUP: exits with status 128 + the signal number when not caught."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"stopped by {signal.Signals(self.signum).name}"


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def output_paths(cfg: SimulationConfig) -> list[tuple[str, str]]:
    """``(key, absolute path)`` of every file or folder the config tells a run to write."""
    out = cfg.output.output_dir
    o = cfg.output
    found = [(f"output.{k}", v) for k, v in (("log_file", o.log_file), ("spikes_file", o.spikes_file),
                                             ("spikes_file_csv", o.spikes_file_csv)) if v]
    for k in _OUTPUT_EXTRA_KEYS:
        v = o.extra.get(k)
        if isinstance(v, str) and v:
            found.append((f"output.{k}", os.path.normpath(os.path.join(out, os.path.expanduser(v)))))
    for name, r in cfg.reports.items():
        if not r.enabled:
            continue
        if r.file_name:
            found.append((f"reports.{name}.file_name", r.file_name))
        for k in REPORT_OUTPUT_KEYS:
            if isinstance(r.params.get(k), str):
                found.append((f"reports.{name}.{k}", r.params[k]))
        csv = r.params.get("csv_file_name")
        if isinstance(csv, str) and csv:
            found.append((f"reports.{name}.csv_file_name", os.path.normpath(os.path.join(out, csv))))
    for name, i in cfg.inputs.items():
        if i.enabled and isinstance(i.params.get("output_file"), str):
            found.append((f"inputs.{name}.output_file", i.params["output_file"]))
    return [(k, os.path.abspath(v)) for k, v in found]


def _refuse_outside(cfg: SimulationConfig, key: str, path: str) -> ConfigError:
    return ConfigError(cfg.path, key, f"a path inside output.output_dir ({cfg.output.output_dir}): a run writes "
                       f"nowhere else, so that it never overwrites files outside its output", path)


def check_output_paths(cfg: SimulationConfig) -> None:
    """Refuse a config naming an output outside ``output_dir`` (see the module docstring).

    Raises
    ------
    ConfigError
        Naming the config and the key (``output.spikes_file``, ``reports.<name>.file_name``, ...).
    """
    out = cfg.output.output_dir
    named = list(output_paths(cfg))
    for key, p in named:
        if not _inside(p, out) or p == out:
            raise _refuse_outside(cfg, key, p)
    for key, p in named:  # a file cannot also be the folder of another output
        for other_key, q in named:
            if q != p and _inside(q, p):
                raise ConfigError(cfg.path, other_key, f"a path that is not inside another output ({key})",
                                  os.path.relpath(q, out))


def refuse_outside(cfg: SimulationConfig, path: str) -> ConfigError:
    """The error for a write to ``path`` outside ``output_dir``, naming the key that names it if one does."""
    p = os.path.abspath(path)
    key = next((k for k, v in output_paths(cfg) if v == p), "output.output_dir")
    return _refuse_outside(cfg, key, p)


def _model_inputs(cfg: SimulationConfig, network: Any) -> list[str]:
    """Every file and folder the run reads: configs, network files, node sets, components, input files."""
    found: list[str | None] = [cfg.path, cfg.network, cfg.node_sets_file]
    circuit = cfg.circuit
    if circuit is not None:
        found += [circuit.path, circuit.node_sets_file]
        entries: list[NodesEntry | EdgesEntry] = [*circuit.nodes, *circuit.edges]
        for e in entries:
            found += [e.file, e.types_file]
    found += [v for v in cfg.components.values() if isinstance(v, str)]
    for i in cfg.inputs.values():
        found += [v for k, v in i.params.items() if isinstance(v, str) and k != "output_file" and os.path.isabs(v)]
    if network is not None:
        for pop in (*network.nodes.values(), *network.edges.values()):
            found.append(getattr(pop, "path", None))
            found.append(getattr(getattr(pop, "types", None), "path", None))
        found.append(getattr(network.node_sets, "path", None))
    return [p for p in found if isinstance(p, str) and p]


def check_inputs_outside(cfg: SimulationConfig, network: Any = None) -> None:
    """Refuse an ``output_dir`` that is, or holds, one of the model's inputs (publishing would delete it).

    Raises
    ------
    ConfigError
        On ``output.output_dir`` of the config, naming the input.
    """
    out = os.path.realpath(cfg.output.output_dir)
    for p in _model_inputs(cfg, network):
        if _inside(os.path.realpath(p), out):
            raise ConfigError(cfg.path, "output.output_dir",
                              "a folder holding none of the model's inputs (a run replaces its output folder "
                              "whole)", f"{cfg.output.output_dir}, which holds {p}")


def staging_name(out: str) -> str:
    """A new staging folder's path for the output folder ``out``."""
    return os.path.join(os.path.dirname(out), f".{os.path.basename(out)}{PARTIAL}{owner_tag()}")


def recover_partials(out: str) -> None:
    """Turn the staging folders of dead runs to ``out`` into ``<out>.failed``; drop dead swaps' old folders."""
    parent, base = os.path.split(out)
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for n in sorted(names):
        p = os.path.join(parent, n)
        if parse_owner(n) is None or owner_alive(n):
            continue
        if n.startswith(f".{base}{PARTIAL}"):
            with contextlib.suppress(OSError):
                fail(p, out)
        elif n.startswith(f".{base}{OLD}"):
            shutil.rmtree(p, ignore_errors=True)


def fail(staging: str, out: str) -> str:
    """Move a staging folder to ``<out>.failed`` (replacing an older one); return that path."""
    failed = f"{out}.failed"
    if os.path.exists(failed):
        shutil.rmtree(failed, ignore_errors=True)
    os.replace(staging, failed)
    return failed


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically with Linux's ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), a)


def swap_in(staging: str, out: str) -> None:
    """Publish a finished staging folder as ``out``, replacing an old output folder whole.

    With ``renameat2(RENAME_EXCHANGE)`` readers see the old folder or the new one, never neither; elsewhere
    the old folder is renamed aside first (``.<out>.old-<pid>-...``, removed by the next run if a kill
    leaves it) and ``out`` is missing between the two renames.
    """
    parent, base = os.path.split(out)
    old = os.path.join(parent, f".{base}{OLD}{owner_tag()}")
    if os.path.isdir(out) and not os.path.islink(out) and _exchange(staging, out):
        os.replace(staging, old)
    else:
        if os.path.lexists(out):
            os.replace(out, old)
        os.replace(staging, out)
    if os.path.lexists(old):
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.unlink(old)


class _Signals:
    """State of the handlers of one run (see :func:`run_signals`)."""

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.deferred: int | None = None
        self.critical = False
        self.ending = False

    def handle(self, signum: int, frame: Any) -> None:
        if self.ending:
            return  # already ending: let the failure path finish
        if self.critical:
            self.deferred = signum  # the output folder is being swapped: finish that first
            return
        self.ending = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise RunTerminated(signum)

    @contextlib.contextmanager
    def uninterrupted(self) -> Iterator[None]:
        """Signals arriving inside the block take effect after it."""
        self.critical = True
        try:
            yield
        finally:
            self.critical = False


@contextlib.contextmanager
def run_signals() -> Iterator[_Signals]:
    """SIGTERM / SIGHUP / SIGINT end the run as a failure while the block runs (see the module docstring).

    Installed only in the main thread and only over the default dispositions (SIG_DFL for SIGTERM and
    SIGHUP, Python's ``default_int_handler`` for SIGINT); restored afterwards.  A signal deferred by
    :meth:`_Signals.uninterrupted` is delivered again once the previous handlers are back.
    """
    state = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None), signal.SIGINT):
        if sig is None:
            continue
        prev = signal.getsignal(sig)
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        if prev is default:
            state.previous[sig] = prev
            signal.signal(sig, state.handle)
    try:
        yield state
    finally:
        for sig, prev in state.previous.items():
            signal.signal(sig, prev)
        if state.deferred is not None and state.deferred in state.previous:
            signal.raise_signal(state.deferred)
