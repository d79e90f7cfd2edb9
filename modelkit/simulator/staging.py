"""Where a run may write, and how its output folder appears: staged, published whole, ``.stopped`` or ``.failed``.

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
* **A run that ends early keeps what it recorded.**  Stopped on request (``LiveRun.stop``, Ctrl-C) or by
  a signal, its staging folder becomes ``<output>.stopped``; failed (an error), ``<output>.failed``.  Either
  holds the log, the spikes of the whole blocks run so far and the report frames written so far, as valid
  SONATA files with the stop time (ms) recorded (``/spikes@stop_time``, ``/report@stop_time``, and the
  log); a newer one replaces an older one of the same name, and the output folder is never touched.
* **Signals end a run as a stop.**  While a run goes on (main thread only), SIGTERM and SIGHUP (what
  ``timeout``, Slurm and a closed terminal send) raise :class:`RunTerminated`, a ``SystemExit`` with status
  128 + signal, so the staging folder becomes ``<output>.stopped``; SIGINT keeps raising
  ``KeyboardInterrupt``, which does the same.  A signal handler the application installed (or SIG_IGN) is
  left in charge.  While the output folder is being swapped in or the partial files are written, signals
  wait until it is done.  The previous handlers are restored when the run ends.
* **Leftovers of dead runs are adopted.**  A staging folder whose process is gone (SIGKILL, power loss)
  becomes ``<output>.failed`` at the next run to the same output (or as soon as a ``LiveRun`` sees its
  process die): its spikes journal becomes the spikes file and its report files are cut to the frames
  flushed (:func:`salvage`); one of another host is left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelkit.errors import ConfigError, SonataFormatError
from modelkit.simulator.journal import JOURNAL_NAME, read_journal
from modelkit.sonata.config import REPORT_OUTPUT_KEYS, EdgesEntry, NodesEntry, SimulationConfig
from modelkit.sonata.fileset import owner_alive, owner_tag, parse_owner
from modelkit.sonata.reports import recover_report
from modelkit.sonata.spikes import write_spikes, write_spikes_csv

if TYPE_CHECKING:
    from modelkit.sonata import Network

__all__ = ["OUTPUT_EXTRA_KEYS", "RunTerminated", "output_paths", "check_output_paths", "check_inputs_outside",
           "staging_name", "recover_partials", "salvage", "fail", "swap_in", "run_signals"]

log = logging.getLogger("modelkit.simulator")

PARTIAL = ".partial-"
OLD = ".old-"
#: output keys of ``output`` that a backend reads relative to ``output_dir`` (the filter backend's rates)
OUTPUT_EXTRA_KEYS = ("rates_h5", "rates_file_h5", "rates_file", "rates_csv", "rates_file_csv")


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
    """``(key, absolute path)`` of every file or folder the config tells a run to write.

    Parameters
    ----------
    cfg : SimulationConfig
        The run's config (``output.output_dir`` and the keys naming outputs).
    """
    out = cfg.output.output_dir
    o = cfg.output
    found = [(f"output.{k}", v) for k, v in (("log_file", o.log_file), ("spikes_file", o.spikes_file),
                                             ("spikes_file_csv", o.spikes_file_csv)) if v]
    for k in OUTPUT_EXTRA_KEYS:
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

    Parameters
    ----------
    cfg : SimulationConfig
        The run's config (``output.output_dir`` and the keys naming outputs).

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
    """The error for a write to ``path`` outside ``output_dir``, naming the key that names it if one does.

    Parameters
    ----------
    cfg : SimulationConfig
        The run's config (``output.output_dir`` and the keys naming outputs).
    path : str
        Where the run was about to write.
    """
    p = os.path.abspath(path)
    key = next((k for k, v in output_paths(cfg) if v == p), "output.output_dir")
    return _refuse_outside(cfg, key, p)


def _model_inputs(cfg: SimulationConfig, network: Network | None) -> list[str]:
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


def check_inputs_outside(cfg: SimulationConfig, network: Network | None = None) -> None:
    """Refuse an ``output_dir`` that is, or holds, one of the model's inputs (publishing would delete it).

    Parameters
    ----------
    cfg : SimulationConfig
        The run's config (its files, components and inputs).
    network : Network, optional
        The loaded network, whose files count too.

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
    """A new staging folder's path for the output folder ``out``.

    Parameters
    ----------
    out : str
        The output folder (absolute).
    """
    return os.path.join(os.path.dirname(out), f".{os.path.basename(out)}{PARTIAL}{owner_tag()}")


def recover_partials(out: str) -> list[str]:
    """Adopt the staging folders of dead runs to ``out`` as ``<out>.failed``; drop dead swaps' old folders.

    Each adopted folder is first made readable (:func:`salvage`): the spikes of its whole blocks in its
    spikes file, its reports cut to the frames flushed.  Folders of live processes and of other hosts are
    left alone.

    Parameters
    ----------
    out : str
        The output folder (``output.output_dir``).

    Returns
    -------
    list of str
        The ``<out>.failed`` folders made (one at most unless several dead runs are found).
    """
    parent, base = os.path.split(os.path.abspath(out))
    out = os.path.join(parent, base)
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    made = []
    for n in sorted(names):
        p = os.path.join(parent, n)
        if parse_owner(n) is None or owner_alive(n):
            continue
        if n.startswith(f".{base}{PARTIAL}"):
            try:
                salvage(p)
            except Exception as e:  # noqa: BLE001 - a damaged leftover must not stop the next run
                log.warning("%s: the files of a dead run could not all be recovered: %s: %s", p,
                            type(e).__name__, e)
            with contextlib.suppress(OSError):
                made.append(fail(p, out))
        elif n.startswith(f".{base}{OLD}"):
            shutil.rmtree(p, ignore_errors=True)
    return made


#: a temporary file of ``modelkit.sonata.h5.atomic_output``: ``.<name>.<pid>.<16 hex>.tmp``
_TMP = re.compile(r"^\.(?P<name>.+)\.\d+\.[0-9a-f]{16}\.tmp$")


def salvage(folder: str) -> list[str]:
    """Make the files of a killed run's staging folder valid SONATA files, in place.

    The spikes journal (:mod:`modelkit.simulator.journal`) becomes the spikes file (and CSV) the run
    would have written, with the spikes up to the last whole block's end and that time as
    ``/spikes@stop_time``; each report file still being written is cut to the frames of its last flush
    and given its name, or removed when it cannot be opened; other temporary files (writes cut short) are
    removed.  What was done is appended to the run's log.

    Parameters
    ----------
    folder : str
        A staging folder whose process is dead.

    Returns
    -------
    list of str
        The notes written to the log.
    """
    notes: list[str] = []
    journal = os.path.join(folder, JOURNAL_NAME)
    stop: float | None = None
    log_file = None
    written: set[str] = set()
    if os.path.exists(journal):
        try:
            j = read_journal(journal)
        except (OSError, ValueError) as e:
            notes.append(f"the spikes journal could not be read ({e}); no spikes file")
        else:
            h = j.header
            log_file = h.get("log_file")
            stop = j.t_complete if j.t_complete is not None else float(h["tstart"])
            data = j.spikes
            n = sum(len(ids) for ids, _ in data.values())
            for key, writer in (("spikes_file", write_spikes), ("spikes_file_csv", write_spikes_csv)):
                rel = h.get(key)
                if not rel:
                    continue
                path = _inside_folder(folder, rel)
                written.add(path)
                if writer is write_spikes:
                    write_spikes(path, data, sort=h.get("sort", "by_time"), overwrite=True, stop_time=stop)
                else:
                    write_spikes_csv(path, data, sort=h.get("sort", "by_time"), overwrite=True)
            notes.append(f"the run's process died; kept the {n} spikes of {j.n_blocks} whole blocks, up to "
                         f"t = {stop:g} ms" + (" (a block cut short by the kill was dropped)" if j.torn else ""))
        os.unlink(journal)
    for root, _dirs, files in os.walk(folder):
        for name in files:
            m = _TMP.match(name)
            if m is None:
                continue
            tmp = os.path.join(root, name)
            final = os.path.join(root, m.group("name"))
            if final in written or not _is_report(tmp):
                with contextlib.suppress(OSError):
                    os.unlink(tmp)  # an atomic write cut short: never a file of its own
                continue
            try:
                kept = recover_report(tmp, final, stop)
                notes.append(f"report {os.path.relpath(final, folder)}: kept {kept} frames")
            except SonataFormatError as e:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                notes.append(f"report {os.path.relpath(final, folder)} dropped: it could not be opened after "
                             f"the kill ({e})")
    for note in notes:
        log.warning("%s: %s", folder, note)
    if notes:
        path = _inside_folder(folder, log_file) if log_file else os.path.join(folder, "recovered.log")
        with contextlib.suppress(OSError), open(path, "a") as f:
            f.writelines(f"[recovered by modelkit pid {os.getpid()}] {note}\n" for note in notes)
    return notes


def _inside_folder(folder: str, rel: str) -> str:
    """``folder/rel``, refusing a path that leaves the folder (a journal header is data, not trusted)."""
    p = os.path.normpath(os.path.join(folder, rel))
    if not _inside(p, os.path.normpath(folder)) or p == os.path.normpath(folder):
        raise ValueError(f"{rel!r} is not a path inside {folder}")
    return p


def _is_report(path: str) -> bool:
    """Whether a temporary file looks like a report being written (an HDF5 file; h5py may not open it)."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n" and _has_report(path)
    except OSError:
        return False


def _has_report(path: str) -> bool:
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return "report" in f
    except Exception:  # noqa: BLE001 - a torn HDF5 file: treat as a report so that its loss is noted
        return True


def fail(staging: str, out: str, stopped: bool = False) -> str:
    """Move a staging folder to ``<out>.stopped`` (``stopped``) or ``<out>.failed``; return that path.

    A newer folder of the same name replaces the older one (the output folder itself is never touched).

    Parameters
    ----------
    staging : str
        The run's staging folder.
    out : str
        The output folder.
    stopped : bool
        The run was stopped (not failed).
    """
    failed = f"{out}.stopped" if stopped else f"{out}.failed"
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

    Parameters
    ----------
    staging : str
        The finished staging folder.
    out : str
        The output folder it becomes.
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
        self.received: int | None = None
        self.critical = False
        self.ending = False  # set by the failure path: later signals wait for it to finish

    @staticmethod
    def _error(signum: int) -> BaseException:
        return KeyboardInterrupt() if signum == signal.SIGINT else RunTerminated(signum)

    def handle(self, signum: int, frame: Any) -> None:
        if self.ending:
            return  # already ending: let the failure path finish
        if self.critical:
            self.deferred = signum  # the output folder is being swapped: finish that first
            return
        self.received = signum
        raise self._error(signum)

    def check(self) -> None:
        """Raise a signal's error again if its raise was lost.

        A handler runs wherever the main thread is; there, inside a weakref callback or a ``__del__``,
        Python prints what it raises and goes on ("Exception ignored in ..."), so a SIGTERM that landed
        there would be lost and the run would go on. Called after every block.
        """
        if self.received is not None and not self.ending:
            raise self._error(self.received)

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
