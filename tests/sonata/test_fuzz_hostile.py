"""Hostile inputs through every CLI command and every lab endpoint (issue 15, "Must show").

The generators of :mod:`tests.sonata.test_bad_input` mutate the corpus file by file; these
add what a hostile or careless user sends on purpose:

* config-level values (:func:`config_values`): ``run`` (tstop, dt, dL, spike_threshold,
  nsteps_block), ``inputs`` (spike files, node sets, Poisson rates/times, clamp
  amp/delay/duration, time windows), ``reports`` (cells, variable_name, start/end),
  ``output`` (output_dir, spikes_file -- an absolute path outside, a file, a device) and
  node-set values: NaN, Infinity, 1e300, negatives, wrong types, huge lists, inverted windows;
* SWC morphologies of the biophysical ``bio_14cells`` network (:func:`swc_files`): junk
  fields, negative radii, a soma with a parent, unknown parents, cycles, duplicate and huge
  ids, empty and binary files;
* sparse and huge HDF5 declarations (:func:`sparse_h5`): chunked datasets never written that
  declare up to 2**40 rows, resizable ``maxshape``, fill values, in nodes, edges, spikes and
  report files;
* HDF5 links out of the tree (:func:`h5_links`): external links to /dev/zero, a FIFO, a
  missing file, links in links, cycles; soft-link cycles; virtual datasets and external raw
  storage reading outside files, /dev/zero or a FIFO;
* node-set ``$regex`` patterns (:func:`regex_node_sets`): catastrophic backtracking against a
  long string attribute, huge and invalid patterns, non-string patterns.

Each mutated tree goes through a long-lived ``spawn`` process capped at 4 GB of address space
(``RLIMIT_AS``) that calls ``modelkit.cli.main(argv)`` in process for ``info`` and ``validate``
of the top config and of the mutated file, ``plot`` of spikes/report/network files and
``run`` (tiny tstop; every config-level case, a sample of the others), and the functions the
lab server's ``info``, ``preview`` and ``notebook`` handlers call.  Every fuzzed input has 60 s
(a hang) for all of it.  The contract:

* a CLI command exits 0, 1 or 2; exit 2 comes with a ``modelkit:`` message naming the mutated
  file, never a ``Traceback``; argparse errors do not count (no argument is fuzzed);
* when ``info`` or ``run`` of the top config fails, ``validate`` of it exits 1 (it finds what
  ``run`` rejects);
* ``run`` never writes a file outside its output folder (a file planted there is unchanged);
* a lab function either returns or raises what its handler answers with 4xx
  (``PathRefused``, ``ModelkitError``, ``OSError``; ``ValueError`` for preview limits) --
  anything else would be a 500;
* no crash (segfault, OOM kill) and no hang.

Sizes: ``MODELKIT_FUZZ_SCALE`` (default 1; fractions allowed) multiplies every example count;
CI runs the default (2,100 cases), the documented long run is ``MODELKIT_FUZZ_SCALE=10 pytest
tests/sonata/test_fuzz_hostile.py -n 2`` (21,000 cases).  Examples are derandomized and not
shrunk (a case may be a 60 s hang; its repr says what it is).  Cost measured on a shared, loaded
2-core machine, one process (``-n 0``, scale 0.1 = 210 cases in 86 s): about 0.8 s an SWC case,
0.4 s a config case (with ``run``), 0.3 s a link, sparse-HDF5 or regex case -- the default 2,100
cases take about 14 min with ``-n 0`` there, about 7 min with ``-n 2``.  The long run (21,000 cases,
``-n 2``) took 62 min on the same machine: SWC 35 min, sparse HDF5 26, links 20, config 20, regexes 13.
``MODELKIT_FUZZ_COLLECT=FILE`` (survey mode) appends every failing case to FILE as a JSON line
instead of failing, so one run lists all of them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from test_bad_input import (  # tests/sonata is on sys.path (rootdir-less "prepend" imports)
    CORPUS,
    SCENARIOS,
    Mutation,
    Reader,
    Trees,
    names_file,
)

#: address-space cap of the worker process (the issue's 4 GB)
MEMORY = 4 << 30
#: resident memory a worker may reach on these small trees before a case counts as a memory blow-up
PEAK_MEMORY = 2 << 30
#: seconds for everything one fuzzed input does (the issue's 60 s)
TIMEOUT = 60.0
#: survey mode: append failing cases to this file (JSON lines) instead of failing
COLLECT = os.environ.get("MODELKIT_FUZZ_COLLECT")
SCALE = float(os.environ.get("MODELKIT_FUZZ_SCALE", "1") or 1)


def n(count: int) -> int:
    """``count`` examples times ``MODELKIT_FUZZ_SCALE``."""
    return max(1, round(count * SCALE))


_14 = "bmtk/examples/bio_14cells"
_9 = "sonata/examples/9_cells"
_10 = "sonata/examples/sim_tests/intfire/ten_cells_spikes_nest/input"
SWCS = tuple(f"bmtk/examples/bio_components/morphologies/{p.name}"
             for p in sorted((CORPUS / "bmtk/examples/bio_components/morphologies").glob("*.swc")))
#: scenarios whose trees can ``run`` (NEST point networks; the biophysical ones need compiled mechanisms
#: outside the tree), with a tiny tstop
RUNNABLE = ("ten_cells",)
#: extra corpus files a scenario's tree holds (the morphologies its circuit config names)
EXTRA = {"bio_14cells": SWCS,
         "ten_cells": tuple(str(p.relative_to(CORPUS)) for p in sorted(
             (CORPUS / "sonata/examples/sim_tests/shared_components/nest_models").rglob("*.json")))}


# ======================================================================== the worker
def _worker_main(conn: Any) -> None:  # runs in the spawned worker process
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    except (ValueError, OSError):
        pass
    import warnings
    warnings.simplefilter("ignore")
    import matplotlib
    matplotlib.use("Agg")
    import modelkit.cli  # noqa: F401  (import cost paid once, before "ready")
    import modelkit.labserver.handlers  # noqa: F401
    conn.send(("ready",))
    while True:
        try:
            plan = conn.recv()
        except EOFError:
            return
        if plan is None:
            return
        _run_hostile(plan, conn)
        conn.send(("done",))


def _cli(argv: list[str]) -> dict[str, Any]:
    import modelkit.cli
    out, err = io.StringIO(), io.StringIO()
    tb = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc: Any = modelkit.cli.main(argv)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 2
        except BaseException:  # noqa: BLE001 - what a console script would print as a Traceback
            tb = traceback.format_exc()
            rc = 1
    stderr = err.getvalue() + ("Traceback (most recent call last):\n" + tb if tb else "")
    return {"rc": rc, "stderr": stderr[-6000:], "stdout": out.getvalue()[-1000:]}


def _lab(endpoint: str, path: str, root: str) -> dict[str, Any]:
    """What the handler of ``endpoint`` calls, and whether its answer would be a 4xx or a 500."""
    from modelkit.errors import ModelkitError
    from modelkit.labserver.confine import check_h5_confined
    from modelkit.labserver.handlers import PREVIEW_LIMITS, _describe
    from modelkit.labserver.notebook import notebook_cells
    from modelkit.labserver.paths import PathRefused, relative
    from modelkit.labserver.preview import preview_data, preview_png, preview_source
    from modelkit.sonata import SimulationConfig, load_config
    from modelkit.sonata.network import classify_h5
    shown = relative(root, path)
    handled: tuple[type[BaseException], ...] = (PathRefused, ModelkitError, OSError)
    try:
        if endpoint == "info":
            d = _describe(path, root, shown)
            try:
                preview_source(path, d["kind"])
            except (ModelkitError, OSError):
                pass
        elif endpoint.startswith("preview"):
            handled += (ValueError,)
            check_h5_confined(path, root, shown)
            kind = "simulation_config" if path.endswith(".json") else classify_h5(path)
            src = preview_source(path, kind)
            if src is not None:
                check_h5_confined(src[0], root, shown)
                if endpoint == "preview.png":
                    preview_png(src[0], src[1], max_traces=PREVIEW_LIMITS["max_traces"][2])
                else:
                    preview_data(src[0], src[1], **{k: v[2] for k, v in PREVIEW_LIMITS.items()})
        elif endpoint == "notebook":
            check_h5_confined(path, root, shown)
            if path.endswith(".json"):
                cfg = load_config(path)
                kind = "simulation_config" if isinstance(cfg, SimulationConfig) else "circuit_config"
            else:
                kind = classify_h5(path)
            notebook_cells(kind, os.path.basename(path), shown)
        return {"status": "ok"}
    except handled as e:
        return {"status": "4xx", "type": type(e).__name__, "message": str(e)[:500]}
    except BaseException as e:  # noqa: BLE001 - the point: a 500
        return {"status": "500", "type": type(e).__name__, "message": str(e)[:500],
                "traceback": traceback.format_exc()[-6000:]}


def _run_hostile(plan: dict[str, Any], conn: Any) -> None:
    import gc
    for step in plan["steps"]:
        conn.send(("start", step["name"]))
        if step["kind"] == "cli":
            conn.send(("cli", step["name"], _cli(step["argv"])))
        else:
            conn.send(("lab", step["name"], _lab(step["endpoint"], step["path"], plan["root"])))
    gc.collect()
    import resource
    conn.send(("mem", "peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10))


class Worker(Reader):
    """A :class:`Reader` running :func:`_worker_main` (4 GB, CLI and lab steps)."""

    def _start(self) -> None:
        import test_bad_input as tbi
        saved = tbi._reader_main
        tbi._reader_main = _worker_main  # Reader._start spawns tbi._reader_main
        try:
            super()._start()
        finally:
            tbi._reader_main = saved


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()


# ===================================================================== trees on disk
class HostileTrees(Trees):
    """:class:`Trees` plus the morphologies of ``bio_14cells``, and a sandbox outside the trees."""

    def __init__(self, base: Path) -> None:
        super().__init__(base)
        for name, files in EXTRA.items():
            for rel in files:
                dst = self.template / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(CORPUS / rel, dst)
                os.chmod(dst, 0o444)
                self._link(SCENARIOS[name], rel)
        self.outside = base / "outside"
        self.outside.mkdir()
        (self.outside / "data.h5").unlink(missing_ok=True)
        with h5py.File(self.outside / "data.h5", "w") as f:
            f["x"] = np.arange(100, dtype=np.float64)
            f["spikes/pop/node_ids"] = np.zeros(3, np.uint64)
        (self.outside / "linked.h5").unlink(missing_ok=True)
        with h5py.File(self.outside / "linked.h5", "w") as f:  # a link in a link
            f["x"] = h5py.ExternalLink(str(self.outside / "data.h5"), "/x")
        self.fifo = self.outside / "fifo"
        os.mkfifo(self.fifo)
        (self.outside / "planted_spikes.h5").write_bytes(b"planted, must stay")
        (self.outside / "planted_dir").mkdir()
        (self.outside / "planted_dir" / "planted.txt").write_bytes(b"planted, must stay")
        (self.outside / "in_spikes.csv").write_text("timestamps population node_ids\n1.0 pre 0\n2.5 pre 1\n")
        SANDBOX.update(outside=self.outside, fifo=self.fifo)

    @contextlib.contextmanager
    def trees(self, scen_name: str, files: tuple[str, ...]) -> Iterator[Path]:
        with contextlib.ExitStack() as stack:
            root = None
            for f in files:
                root = stack.enter_context(self.tree(SCENARIOS[scen_name], f))
            yield root if root is not None else self.root(SCENARIOS[scen_name])


@pytest.fixture(scope="module")
def htrees(tmp_path_factory):
    return HostileTrees(tmp_path_factory.mktemp("hostile"))


@dataclass(frozen=True, repr=False)
class Hostile(Mutation):
    """A :class:`Mutation` that may change more files (``also``) and whose plan may include ``run``."""

    also: tuple = ()
    run: bool = False
    must_fail: bool = False   # validate of the top config must report an error (exit 1)

    @property
    def digest(self) -> int:
        """A stable number of the case (``hash`` is salted per process; args may hold lists)."""
        return zlib.crc32(repr(self).encode())


#: the sandbox outside the trees, and a FIFO in it (set by :class:`HostileTrees`)
SANDBOX: dict[str, Path] = {}


# ====================================================================== the plan, the checks
_TOP = {"9_cells": f"{_9}/config.json", "bio_14cells": f"{_14}/config.simulation.json",
        "ten_cells": f"{_10}/config.json"}
_PLOT_OF = {"spikes": "raster", "report": "traces"}


def _kind(rel: str) -> str:
    if rel.endswith(".swc"):
        return "swc"
    if "spike" in rel and rel.endswith((".h5", ".csv")):
        return "spikes"
    if "membrane_potential" in rel or "report" in rel:
        return "report"
    if rel.endswith(".json"):
        return "json"
    return "network"


def plan(m: Hostile, root: Path, out: Path) -> dict[str, Any]:
    top = str(root / _TOP[m.scenario])
    target = str(root / m.file)
    steps: list[dict[str, Any]] = [
        {"kind": "cli", "name": "info(top)", "argv": ["info", top]},
        {"kind": "cli", "name": "validate(top)", "argv": ["validate", top, "--json"]},
        {"kind": "lab", "name": "lab.notebook(top)", "endpoint": "notebook", "path": top},
    ]
    kind = _kind(m.file)
    if kind in ("network", "spikes", "report"):
        # info(file) runs validate(file) inside (describe), and lab.info(file) describes it again with the
        # root's checks first: validate(file) on its own in one case of two keeps the cost down
        steps += [{"kind": "cli", "name": "info(file)", "argv": ["info", target, "--json"]},
                  {"kind": "lab", "name": "lab.info(file)", "endpoint": "info", "path": target},
                  {"kind": "lab", "name": "lab.notebook(file)", "endpoint": "notebook", "path": target}]
        if m.digest % 2 == 0:
            steps.append({"kind": "cli", "name": "validate(file)", "argv": ["validate", target]})
    else:  # the lab's describe of the top config is the same work as info(top): only where the change is there
        steps.append({"kind": "lab", "name": "lab.info(top)", "endpoint": "info", "path": top})
    if kind in _PLOT_OF:
        steps += [{"kind": "cli", "name": f"plot {_PLOT_OF[kind]}(file)",
                   "argv": ["plot", _PLOT_OF[kind], target, "-o", str(out / "fig.png"), "--dpi", "40"]},
                  {"kind": "lab", "name": "lab.preview(file)", "endpoint": "preview", "path": target}]
        if m.digest % 4 == 0:
            steps.append({"kind": "lab", "name": "lab.preview.png(file)", "endpoint": "preview.png",
                          "path": target})
    if kind == "network" and m.file.endswith("edges.h5"):
        steps.append({"kind": "cli", "name": "plot connectivity(top)",
                      "argv": ["plot", "connectivity", top, "-o", str(out / "conn.png"), "--dpi", "40",
                               "--group-by", "ei"]})
    if kind == "network" and m.file.endswith("nodes.h5"):
        steps.append({"kind": "cli", "name": "plot degrees(top)",
                      "argv": ["plot", "degrees", top, "-o", str(out / "deg.png"), "--dpi", "40"]})
    if m.run:
        steps.append({"kind": "cli", "name": "run(top)",
                      "argv": ["run", top, "--output", str(out / "run"), "--quiet", "--threads", "1"]})
        steps.append({"kind": "lab", "name": "lab.preview(top)", "endpoint": "preview", "path": top})
    return {"root": str(root), "steps": steps}


def check(results: list[tuple], m: Hostile, root: Path, planted: dict[Path, bytes] | None = None) -> None:
    """Fail with a description of every step that broke the contract (see the module docstring)."""
    targets = [str(root / f) for f in (m.file, *m.also)]
    bad: list[str] = []
    rcs: dict[str, int] = {}
    errs: dict[str, str] = {}
    for status, name, info in results:
        if status in ("crash", "hang"):
            bad.append(f"{status.upper()} in {name}: {info['message']}")
        elif status == "cli":
            rc, err = info["rc"], info["stderr"]
            rcs[name] = rc
            errs[name] = err
            if "Traceback" in err:
                bad.append(f"{name}: Traceback (exit {rc}):\n{err[-3000:]}")
            elif rc not in (0, 1, 2):
                bad.append(f"{name}: exit status {rc}: {err[-500:]}")
            elif rc == 2:
                if not err.startswith("modelkit:") and "\nmodelkit:" not in err:
                    bad.append(f"{name}: exit 2 without a 'modelkit:' message: {err[-500:]}")
                elif not any(names_file(err, t) for t in targets) and not (
                        SANDBOX and str(SANDBOX["outside"]) in err):  # the outside file a value names
                    bad.append(f"{name}: the message names none of {targets}: {err[-500:]}")
        elif status == "mem" and info > PEAK_MEMORY:
            bad.append(f"MEMORY: the worker's peak resident memory reached {info / 2**30:.1f} GiB "
                       f"(files of a few kB; at most {PEAK_MEMORY / 2**30:.1f} GiB expected)")
        elif status == "lab" and info["status"] == "500":
            bad.append(f"{name}: would answer 500: {info['type']}: {info['message']}\n{info.get('traceback', '')}")
    if m.must_fail and rcs.get("validate(top)") == 0 and not bad:
        bad.append("validate(top) exited 0: it found nothing wrong with what is plainly broken")
    failed = [k for k in ("info(top)", "run(top)") if rcs.get(k) == 2]
    if failed and rcs.get("validate(top)") == 0 and not bad:
        bad.append(f"{failed} failed but validate(top) exited 0 (found no error): {errs[failed[0]][-600:]}")
    for p, before in (planted or {}).items():
        now = p.read_bytes() if p.exists() else None
        if now != before:
            bad.append(f"{p}, outside the output folder, was changed")
    if planted:
        outside = SANDBOX["outside"]
        new = [p for p in outside.rglob("*") if p.is_file() and p.name != "fifo" and p not in planted]
        if new:
            bad.append(f"files were written outside the output folder: {new}")
    if bad:
        raise AssertionError(f"mutation {m!r}:\n" + "\n".join(bad))


def run_case(m: Hostile, worker: Worker, htrees: HostileTrees, tmp_path: Path) -> None:
    planted = {f: f.read_bytes() for f in htrees.outside.rglob("*") if f.is_file() and f.name != "fifo"}
    out = tmp_path / f"out{m.digest}"
    out.mkdir()
    try:
        with htrees.trees(m.scenario, (m.file, *m.also)) as root:
            m.apply(root)
            results = worker.run(plan(m, root, out), timeout=TIMEOUT)
            if any(r[0] == "mem" and r[2] > PEAK_MEMORY for r in results):
                worker.stop()  # the peak is a high-water mark: a fresh worker for the next case
    finally:
        shutil.rmtree(out, ignore_errors=True)
    try:
        check(results, m, root, planted)
    except AssertionError as e:
        if not COLLECT:
            raise
        with open(COLLECT, "a") as f:  # survey mode: every failing case, none shrunk
            f.write(json.dumps({"case": repr(m), "error": str(e)[:3000]}) + "\n")


# ================================================================== (a) config-level values
_JUNK: tuple[Any, ...] = (float("nan"), float("inf"), float("-inf"), 1e300, -1e300, -1, -1e-9, 0, 0.0, 2**63, 1e-300,
                          "abc", "", "1.5", None, True, [], {}, [1, 2], {"a": 1}, [float("nan")], [-1.0, -2.0])
_HUGE_LIST = ("huge list",)


def _junk_values() -> st.SearchStrategy:
    return st.one_of(st.sampled_from(_JUNK + _HUGE_LIST),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(min_value=-2**70, max_value=2**70))


#: (scenario, config file, key path, what kind of value)
_RUN_KEYS = [("run", k) for k in ("tstop", "dt", "dL", "spike_threshold", "nsteps_block")]
_CONFIG_TARGETS = {
    "ten_cells": f"{_10}/simulation_config.json",
    "9_cells": f"{_9}/simulation_config.json",
    "bio_14cells": f"{_14}/config.simulation.json",
}
_INPUTS = {
    "poisson": {"input_type": "spikes", "module": "poisson", "node_set": "NS", "rates": [5.0, 10.0],
                "times": [0.0, 5.0], "random_seed": 1},
    "poisson_const": {"input_type": "spikes", "module": "poisson", "node_set": "NS", "rate": 20.0,
                      "start_time": 0.0, "stop_time": 10.0},
    "iclamp": {"input_type": "current_clamp", "module": "IClamp", "node_set": "NS", "amp": [0.1, 0.2],
               "delay": [1.0, 5.0], "duration": [2.0, 2.0]},
    "iclamp1": {"input_type": "current_clamp", "module": "IClamp", "node_set": "NS", "amp": 0.1, "delay": 1.0,
                "duration": 5.0},
    "spikes_csv": {"input_type": "spikes", "module": "csv", "node_set": "NS", "input_file": "SPIKES"},
}
_INPUT_KEYS = ("rates", "times", "amp", "delay", "duration", "rate", "start_time", "stop_time", "node_set",
               "input_file", "random_seed", "module", "input_type")
_REPORT_KEYS = ("cells", "variable_name", "start_time", "end_time", "dt", "sections", "module", "enabled")
_OUTPUT_KEYS = ("output_dir", "spikes_file", "log_file", "spikes_sort_order", "spikes_file_csv",
                "overwrite_output_dir")
#: output values that point outside the model, at devices, at files
_OUTPUT_VALUES = ("OUTSIDE/planted_spikes.h5", "OUTSIDE/planted_dir", "/dev/null", "/dev/zero", "/proc/self/x",
                  "FIFO", "MODEL", "../../..", "spikes.h5/x", "a\x00b", "x" * 5000, "OUTSIDE/new/dir/spikes.h5")


def _first_pop(scen: str, virtual: bool = False) -> str:
    """A population an input or report may name (spike inputs drive virtual nodes)."""
    if virtual:
        return {"ten_cells": "pre", "9_cells": "excvirt", "bio_14cells": "lgn"}[scen]
    return {"ten_cells": "post", "9_cells": "cortex", "bio_14cells": "v1"}[scen]


def apply_config(path: Path, m: Hostile) -> None:
    doc = json.loads(path.read_text())
    section, name, key, value = m.args
    doc.setdefault("run", {})["tstop"] = 20.0  # runs stay tiny (unless tstop is the key)
    outside, fifo = SANDBOX["outside"], SANDBOX["fifo"]
    pop = _first_pop(m.scenario)

    def resolve(v: Any) -> Any:
        if v == "huge list":
            return [0.5] * 200_000
        if isinstance(v, str):
            return (v.replace("OUTSIDE", str(outside)).replace("FIFO", str(fifo))
                    .replace("MODEL", str(path.parent)).replace("SPIKES", str(outside / "in_spikes.csv")))
        return v
    value = resolve(value)
    if section == "run":
        if key == "tstop" and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and 200.0 < value <= 1e12:
            value = 200.0  # a valid long run is work, not hostile input: the 60 s limit is there to find hangs
        doc["run"][key] = value
    elif section == "inputs":
        inp = {k: resolve(v) for k, v in _INPUTS[name].items()}
        inp["node_set"] = {"population": _first_pop(m.scenario, inp["input_type"] == "spikes")}
        if key is not None:
            inp[key] = value
        doc.setdefault("inputs", {})[f"fz_{name}"] = inp
    elif section == "reports":
        rep = dict(next(iter(doc.get("reports", {}).values()), {"variable_name": "v", "module": "membrane_report"}))
        rep["cells"] = {"population": pop}
        rep[key] = value
        doc["reports"] = {"fz_report": rep}
    elif section == "output":
        doc.setdefault("output", {})[key] = value
    elif section == "node_sets":
        doc["node_sets"] = {"fz": {"population": pop, key: value}}
        if doc.get("reports"):
            for r in doc["reports"].values():
                r["cells"] = "fz"
    elif section == "windows":  # an inverted time window
        a, b = value
        doc.setdefault("inputs", {})["fz_win"] = {**_INPUTS["poisson_const"],
                                                  "node_set": {"population": _first_pop(m.scenario, True)},
                                                  "start_time": a, "stop_time": b}
        doc.setdefault("reports", {})
        for r in doc["reports"].values():
            r.update(start_time=a, end_time=b)
    path.write_text(json.dumps(doc, indent=1, allow_nan=True))


@st.composite
def config_values(draw: Any) -> Hostile:
    scen = draw(st.sampled_from(sorted(_CONFIG_TARGETS)))
    section = draw(st.sampled_from(["run", "run", "inputs", "inputs", "inputs", "reports", "output", "node_sets",
                                    "windows"]))
    name = key = None
    if section == "run":
        key = draw(st.sampled_from([k for _, k in _RUN_KEYS]))
        value = draw(_junk_values())
    elif section == "inputs":
        name = draw(st.sampled_from(sorted(_INPUTS)))
        key = draw(st.sampled_from(_INPUT_KEYS + (None,)))
        value = draw(st.one_of(_junk_values(), st.sampled_from(_OUTPUT_VALUES),
                               st.lists(st.sampled_from([-1.0, 0.0, 1.0, float("nan"), 1e300]), max_size=5)))
    elif section == "reports":
        key = draw(st.sampled_from(_REPORT_KEYS))
        value = draw(st.one_of(_junk_values(), st.sampled_from(["V_m", "v", "no_such_var", "cai", "ALL"]),
                               st.lists(st.integers(-3, 2**40), max_size=4)))
    elif section == "output":
        key = draw(st.sampled_from(_OUTPUT_KEYS))
        value = draw(st.one_of(st.sampled_from(_OUTPUT_VALUES), _junk_values()))
    elif section == "node_sets":
        key = draw(st.sampled_from(["node_id", "model_type", "ei", "pop_name", "x"]))
        value = draw(st.one_of(_junk_values(), st.lists(st.integers(-5, 2**62), max_size=5),
                               st.sampled_from([{"$gt": float("nan")}, {"$lt": "a"}, {"$in": [1]}, {"$gte": None}])))
    else:
        value = draw(st.sampled_from([(10.0, 1.0), (-5.0, 5.0), (float("nan"), 5.0), (0.0, float("inf")),
                                      (1e300, 1e301), (5.0, 5.0)]))
    m = Hostile(scen, _CONFIG_TARGETS[scen], "config", (section, name, key, value), apply_fn=apply_config,
               run=scen in RUNNABLE)
    return m


# ========================================================================== (b) SWC files
_SWC_HOW = ("non-numeric x", "non-numeric radius", "negative radius", "zero radius", "nan radius", "inf x",
            "soma with a parent", "unknown parent", "cycle", "self parent", "duplicate id", "huge id",
            "negative id", "empty", "only comments", "binary junk", "too few fields", "too many fields",
            "unknown type", "no soma", "two somas", "truncate", "crlf", "huge line", "NUL bytes",
            "float ids", "parent after child")


#: changes no reader may accept (issue 15: validate must find the morphologies run would reject)
_SWC_BROKEN = frozenset({"non-numeric x", "non-numeric radius", "negative radius", "nan radius", "inf x",
                         "soma with a parent", "unknown parent", "cycle", "self parent", "duplicate id", "empty",
                         "binary junk", "too few fields", "NUL bytes"})


def apply_swc(path: Path, m: Hostile) -> None:
    how, frac, k = m.args
    lines = path.read_text().splitlines()
    body = [i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    i = body[min(int(frac * len(body)), len(body) - 1)]
    soma = body[0]

    def set_field(row: int, col: int, v: str) -> None:
        f = lines[row].split()
        f[col] = v
        lines[row] = " ".join(f)
    if how == "non-numeric x":
        set_field(i, 2, "abc")
    elif how == "non-numeric radius":
        set_field(i, 5, "r")
    elif how == "negative radius":
        set_field(i, 5, f"-{k + 1}")
    elif how == "zero radius":
        set_field(i, 5, "0")
    elif how == "nan radius":
        set_field(i, 5, "nan")
    elif how == "inf x":
        set_field(i, 2, "inf")
    elif how == "soma with a parent":
        set_field(soma, 6, lines[body[-1]].split()[0])
    elif how == "unknown parent":
        set_field(i, 6, str(10**6 + k))
    elif how == "cycle":  # two samples each the other's parent
        j = body.index(i) if body.index(i) + 1 < len(body) else len(body) - 2
        a, b = body[max(j, 1)], body[max(j, 1) + 1]
        set_field(a, 6, lines[b].split()[0])
        set_field(b, 6, lines[a].split()[0])
    elif how == "self parent":
        set_field(i, 6, lines[i].split()[0])
    elif how == "duplicate id":
        j = max(1, body.index(i))  # the id of the sample before (the soma has none before it)
        set_field(body[j], 0, lines[body[j - 1]].split()[0])
    elif how == "huge id":
        set_field(i, 0, str(2**62 + k))
    elif how == "negative id":
        set_field(i, 0, str(-1 - k))
    elif how == "empty":
        lines = []
    elif how == "only comments":
        lines = ["# nothing"] * (k + 1)
    elif how == "binary junk":
        path.write_bytes(bytes(np.random.default_rng(k).integers(0, 256, 4096, dtype=np.uint8)))
        return
    elif how == "too few fields":
        lines[i] = " ".join(lines[i].split()[:4])
    elif how == "too many fields":
        lines[i] += " 1 2 3"
    elif how == "unknown type":
        set_field(i, 1, str(99 + k))
    elif how == "no soma":
        lines = [ln for j, ln in enumerate(lines) if j not in body or ln.split()[1] != "1"]
    elif how == "two somas":
        set_field(i, 1, "1")
    elif how == "truncate":
        path.write_text("\n".join(lines)[: int(frac * len("\n".join(lines)))])
        return
    elif how == "crlf":
        path.write_bytes("\r\n".join(lines).encode())
        return
    elif how == "huge line":
        lines[i] += " " + "9" * 200_000
    elif how == "NUL bytes":
        lines[i] = lines[i].replace(" ", "\x00", 1 + k % 5)  # in a sample line (a comment may hold anything)
    elif how == "float ids":
        set_field(i, 0, lines[i].split()[0] + ".5")
    elif how == "parent after child":
        set_field(i, 6, str(int(float(lines[body[-1]].split()[0])) + 1))
    path.write_text("\n".join(lines) + "\n")


@st.composite
def swc_files(draw: Any) -> Hostile:
    f = draw(st.sampled_from(SWCS))
    how = draw(st.sampled_from(_SWC_HOW))
    args = (how, draw(st.floats(0, 1)), draw(st.integers(0, 3)))
    return Hostile("bio_14cells", f, "swc", args, apply_fn=apply_swc, must_fail=how in _SWC_BROKEN)


# ================================================================= (c) sparse / huge HDF5
_H5_TARGETS = sorted({(s.name, f) for s in SCENARIOS.values() for f in s.files if f.endswith(".h5")
                      and s.name in _TOP and not f.endswith(("ecp.h5", "edge_index_example.h5"))})


def _datasets(rel: str) -> list[str]:
    from test_bad_input import h5_inventory
    return [o.path for o in h5_inventory(rel) if o.kind == "dataset" and o.shape and len(o.shape) >= 1]


def apply_sparse(path: Path, m: Hostile) -> None:
    name, how, rows = m.args
    with h5py.File(path, "r+") as f:
        a = f[name][()]
        attrs = {k: f[name].attrs[k] for k in f[name].attrs}
        del f[name]
        shape = (rows,) + a.shape[1:]
        dt = a.dtype if a.dtype.kind != "O" else h5py.string_dtype()
        if how == "declared, never written":
            ds = f.create_dataset(name, shape=shape, dtype=dt, chunks=True)
        elif how == "declared, first rows written":
            ds = f.create_dataset(name, shape=shape, dtype=dt, chunks=True)
            ds[:len(a)] = a
        elif how == "fill value":
            fill = np.zeros((), dt)
            if dt.kind in "iuf":
                fill = np.array(7 if dt.kind in "iu" else np.nan, dt)
            ds = f.create_dataset(name, shape=shape, dtype=dt, chunks=True,
                                  fillvalue=fill if dt.kind != "O" else None)
        elif how == "resizable, empty":
            ds = f.create_dataset(name, shape=(0,) + a.shape[1:], maxshape=(None,) + a.shape[1:], dtype=dt,
                                  chunks=True)
        elif how == "resizable, grown":
            ds = f.create_dataset(name, data=a, maxshape=(None,) + a.shape[1:], chunks=True)
            ds.resize(rows, axis=0)
        elif how == "tiny chunks":
            ds = f.create_dataset(name, shape=shape, dtype=dt, chunks=(1,) + a.shape[1:])
            ds[:len(a)] = a
        else:  # "2-D, huge second axis"
            ds = f.create_dataset(name, shape=(len(a), rows), dtype=dt if dt.kind != "O" else "f8", chunks=True)
        for k, v in attrs.items():
            ds.attrs[k] = v


@st.composite
def sparse_h5(draw: Any) -> Hostile:
    scen, rel = draw(st.sampled_from(_H5_TARGETS))
    name = draw(st.sampled_from(_datasets(rel)))
    how = draw(st.sampled_from(["declared, never written", "declared, first rows written", "fill value",
                                "resizable, empty", "resizable, grown", "tiny chunks", "2-D, huge second axis"]))
    rows = draw(st.sampled_from([2**20, 2**31, 2**33, 2**36, 2**40, 10**9 + 7]))
    if how == "tiny chunks":
        rows = draw(st.sampled_from([10**5, 10**6]))
    # a network file declaring rows it does not hold is broken (issue 15: a SonataFormatError)
    declared = how in ("declared, never written", "declared, first rows written", "2-D, huge second axis")
    return Hostile(scen, rel, "sparse", (name, how, rows), apply_fn=apply_sparse,
                   must_fail=declared and _kind(rel) == "network",
                   run=scen in RUNNABLE and draw(st.integers(0, 9)) == 0)


# ============================================================ (d) links out of the tree
_LINK_HOW = ("external: /dev/zero", "external: a FIFO", "external: missing file", "external: outside data",
             "external: link in a link", "external: cycle to itself", "external: cycle via a sibling",
             "external: a folder", "soft: cycle", "soft: to itself", "vds: outside file", "vds: /dev/zero",
             "vds: missing file", "external storage: /dev/zero", "external storage: FIFO",
             "external storage: outside file", "external storage: missing file",
             "external storage: huge offset")


def apply_link(path: Path, m: Hostile) -> None:
    name, how = m.args
    outside, fifo = SANDBOX["outside"], SANDBOX["fifo"]
    with h5py.File(path, "r+") as f:
        a = f[name][()]
        del f[name]
        parent = name.rsplit("/", 1)[0] or "/"
        if how == "external: /dev/zero":
            f[name] = h5py.ExternalLink("/dev/zero", "/x")
        elif how == "external: a FIFO":
            f[name] = h5py.ExternalLink(str(fifo), "/x")
        elif how == "external: missing file":
            f[name] = h5py.ExternalLink(str(outside / "missing.h5"), "/x")
        elif how == "external: outside data":
            f[name] = h5py.ExternalLink(str(outside / "data.h5"), "/x")
        elif how == "external: link in a link":
            f[name] = h5py.ExternalLink(str(outside / "linked.h5"), "/x")
        elif how == "external: cycle to itself":
            f[name] = h5py.ExternalLink(path.name, name)
        elif how == "external: cycle via a sibling":
            sib = path.parent / "fz_cycle.h5"
            with h5py.File(sib, "w") as g:
                g["x"] = h5py.ExternalLink(path.name, name)
            f[name] = h5py.ExternalLink(sib.name, "/x")
        elif how == "external: a folder":
            f[name] = h5py.ExternalLink(str(outside), "/x")
        elif how == "soft: cycle":
            f[f"{parent}/fz_b"] = h5py.SoftLink(name)
            f[name] = h5py.SoftLink(f"{parent.rstrip('/')}/fz_b")
        elif how == "soft: to itself":
            f[name] = h5py.SoftLink(name)
        elif how.startswith("vds"):
            src = {"vds: outside file": str(outside / "data.h5"), "vds: /dev/zero": "/dev/zero",
                   "vds: missing file": str(outside / "missing.h5")}[how]
            dt = a.dtype if a.dtype.kind in "iuf" else np.float64
            layout = h5py.VirtualLayout(shape=(len(a),), dtype=dt)
            layout[:] = h5py.VirtualSource(src, "x", shape=(len(a),))
            f.create_virtual_dataset(name, layout, fillvalue=0)
        else:
            dt = a.dtype if a.dtype.kind in "iuf" else np.dtype(np.float64)
            nbytes = len(a) * dt.itemsize * int(np.prod(a.shape[1:]) or 1)
            src = {"external storage: /dev/zero": "/dev/zero", "external storage: FIFO": str(fifo),
                   "external storage: outside file": str(outside / "data.h5"),
                   "external storage: missing file": str(outside / "missing.bin"),
                   "external storage: huge offset": str(outside / "data.h5")}[how]
            offset = 2**50 if how.endswith("huge offset") else 0
            f.create_dataset(name, shape=a.shape, dtype=dt, external=[(src, offset, max(nbytes, 1))])


@st.composite
def h5_links(draw: Any) -> Hostile:
    scen, rel = draw(st.sampled_from(_H5_TARGETS))
    name = draw(st.sampled_from(_datasets(rel)))
    how = draw(st.sampled_from(_LINK_HOW))
    return Hostile(scen, rel, "link", (name, how), apply_fn=apply_link,
                   run=scen in RUNNABLE and draw(st.integers(0, 9)) == 0)


# ============================================================== (e) node-set $regex patterns
_PATTERNS = ("(a+)+$", "(.*a){25}", "(a|a)*b", "((a*)*)*$", "(x+x+)+y", "^(([a-z])+.)+[A-Z]([a-z])+$",
             "(a|aa)+$", "(\\w+\\s?)+$", "a" * 100_000, "(" * 500 + ")" * 500, "(", "[", "*", "+?*", "(?P<",
             "\\", "a{99999999999}", "(?i)" * 1000, "", ".*", "Exc", "[\\x00-\\xff]*" * 50, "(?<=a+)b",
             "\\p{L}", "(?P<n>a)(?P=n)" * 100)
_SUBJECTS = (None, "a" * 40 + "!", "a" * 5000, "x" * 40 + "z", "a" * 30 + " " * 30 + "!")


def apply_regex(path: Path, m: Hostile) -> None:
    pattern, attr, subject = m.args
    root = path.parents[len(Path(m.file).parts) - 1]
    ns = path  # node_sets.json
    doc = json.loads(ns.read_text())
    doc["recorded_cells"] = {"population": "post", attr: {"$regex": pattern}}
    doc["fz_regex"] = {attr: {"$regex": pattern}}
    ns.write_text(json.dumps(doc))
    if subject is not None:  # a long string to backtrack on, in the types CSV
        csv = root / m.also[0]
        lines = csv.read_text().splitlines()
        head = lines[0].split()
        col = head.index(attr) if attr in head else None
        if col is None:
            head.append(attr)
            lines = [" ".join(head)] + [ln + " " + subject for ln in lines[1:]]
        else:
            rows = [ln.split() for ln in lines[1:]]
            for r in rows:
                r[col] = subject
            lines = [" ".join(head)] + [" ".join(r) for r in rows]
        csv.write_text("\n".join(lines) + "\n")


@st.composite
def regex_node_sets(draw: Any) -> Hostile:
    pattern = draw(st.one_of(st.sampled_from(_PATTERNS), st.sampled_from([1, None, ["a"], {"a": 1}, 1.5]),
                             st.text(alphabet="a()*+?|.[]{}\\^$x0-9", max_size=40)))
    attr = draw(st.sampled_from(["pop_name", "ei", "model_type", "fz_label"]))
    subject = draw(st.sampled_from(_SUBJECTS))
    also = (f"{_10}/network/post_node_types.csv",) if subject is not None else ()
    return Hostile("ten_cells", f"{_10}/node_sets.json", "regex", (pattern, attr, subject), also=also,
                   apply_fn=apply_regex, run=draw(st.integers(0, 3)) == 0)


# ============================================================================= tests
def fuzz(count: int) -> Any:
    """Derandomized, no shrinking: a case may cost a 60 s hang, and its repr already says what it is."""
    return settings(max_examples=n(count), deadline=None, derandomize=True, database=None, print_blob=False,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))


def test_harness_flags_tracebacks_and_500s():
    """The checks fail on a Traceback, a bad exit status, an unnamed file, a 500 and a planted file changed."""
    m = Hostile("ten_cells", "a/b.json", "x")
    root = Path("/r")
    cases = [("cli", "info(top)", {"rc": 1, "stderr": "Traceback (most recent call last):\n..."}),
             ("cli", "info(top)", {"rc": 3, "stderr": ""}),
             ("cli", "info(top)", {"rc": 2, "stderr": "modelkit: something in other.json"}),
             ("cli", "info(top)", {"rc": 2, "stderr": "boom"}),
             ("lab", "lab.info(top)", {"status": "500", "type": "KeyError", "message": "x"}),
             ("hang", "run(top)", {"message": "no answer"})]
    for c in cases:
        with pytest.raises(AssertionError):
            check([c], m, root)
    check([("cli", "info(top)", {"rc": 2, "stderr": "modelkit: /r/a/b.json: key 'run.tstop': bad"}),
           ("cli", "validate(top)", {"rc": 1, "stderr": ""})], m, root)
    with pytest.raises(AssertionError, match="validate"):
        check([("cli", "info(top)", {"rc": 2, "stderr": "modelkit: /r/a/b.json: bad"}),
               ("cli", "validate(top)", {"rc": 0, "stderr": ""})], m, root)


@pytest.mark.slow
@fuzz(450)
@given(m=config_values())
def test_config_values(m, worker, htrees, tmp_path_factory):
    run_case(m, worker, htrees, tmp_path_factory.getbasetemp())


@pytest.mark.slow
@fuzz(400)
@given(m=swc_files())
def test_swc_files(m, worker, htrees, tmp_path_factory):
    run_case(m, worker, htrees, tmp_path_factory.getbasetemp())


@pytest.mark.slow
@fuzz(450)
@given(m=sparse_h5())
def test_sparse_huge_hdf5(m, worker, htrees, tmp_path_factory):
    run_case(m, worker, htrees, tmp_path_factory.getbasetemp())


@pytest.mark.slow
@fuzz(450)
@given(m=h5_links())
def test_hdf5_links_out_of_the_tree(m, worker, htrees, tmp_path_factory):
    run_case(m, worker, htrees, tmp_path_factory.getbasetemp())


@pytest.mark.slow
@fuzz(350)
@given(m=regex_node_sets())
def test_regex_node_sets(m, worker, htrees, tmp_path_factory):
    run_case(m, worker, htrees, tmp_path_factory.getbasetemp())
