"""Bad input never escapes as anything but a ModelkitError.

Hypothesis mutates *copies* of corpus files -- HDF5 structure, dtypes, lengths, links,
out-of-range ids, additions the corpus lacks (@library, dynamics_params, string columns,
positions, explicit ids), raw bytes; JSON configs, manifests and node sets; types and
spike CSVs -- and then modelkit's read path runs on the mutated tree in long-lived
reader processes (``spawn`` context), so that a segfault or a hang in a read fails the
example (with the mutation in the message) instead of killing or stalling the run:

* ``load_config`` of every config, ``modelkit.load`` of the top and circuit configs;
* every node population: ``get()`` (all attributes), ``positions()`` when it has
  positions, ``dynamics_params()``, ``summary()``; every edge population: ``get()``,
  ``summary()`` and the afferent/efferent queries;
* ``NodeSets.from_file(...).materialize(...)`` of every node set on every population,
  and the node-set references of the simulation config's inputs and reports;
* ``read_spikes``, ``CompartmentReport(...)[pop].data()``, ``read_ecp``;
* ``modelkit.validate`` of the mutated file and of the top config (for HDF5 network
  files in one example of four: it re-reads the whole network), which must return a
  list of problems and never raise.

Reads that cannot see the mutated file are skipped: their input is byte-identical to the
corpus, which :func:`test_unmutated_corpus_reads_cleanly` reads in full.

Each read either succeeds (a harmless mutation) or raises a ModelkitError whose message
names the mutated file and a dataset or key (``SonataFormatError.dataset`` /
``ConfigError.key``); only whole-file corruption (random bytes, truncation, garbage) may
leave the location at the file itself.  When a read fails, ``validate`` must report an
error that names the mutated file.

Examples are derandomized (reproducible in CI).  A failure shows the mutation and every
broken read; :class:`Mutation` objects can be replayed with :func:`run_case`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelkit.testing import shared_path

CORPUS = shared_path("sonata", "corpus")
#: seconds one read may take before the example counts as a hang
READ_TIMEOUT = 60.0  # a hang, not a slow read: CI machines are shared and loaded
#: address-space cap of the reader process, so a corrupted size cannot exhaust the machine
READER_MEMORY = 6 << 30


# ============================================================================ scenarios
@dataclass(frozen=True)
class Scenario:
    """A small corpus tree and what its read path touches (paths relative to the corpus)."""

    name: str
    top: str                                  # loaded with modelkit.load
    circuit: str                              # fallback network when the top config is broken
    configs: tuple[str, ...]                  # load_config + validate
    network: tuple[str, ...]                  # nodes/edges h5 and types csv of the configs
    node_sets: tuple[str, ...] = ()
    spikes: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    ecp: tuple[str, ...] = ()
    direct: tuple[str, ...] = ()              # network h5 loaded on their own (no config)

    @property
    def files(self) -> tuple[str, ...]:
        return self.configs + self.network + self.node_sets + self.spikes + self.reports + self.ecp + self.direct


def _in(d: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{d}/{n}" for n in names)


_9 = "sonata/examples/9_cells"
_14 = "bmtk/examples/bio_14cells"
_10 = "sonata/examples/sim_tests/intfire/ten_cells_spikes_nest/input"
_SPK = "sonata/src/pysonata/sonata/tests/reports/spike_trains/spike_files"

SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario(
        "9_cells", top=f"{_9}/config.json", circuit=f"{_9}/circuit_config.json",
        configs=_in(_9, "config.json", "circuit_config.json", "simulation_config.json"),
        network=_in(_9, *[f"network/{n}" for n in (
            "cortex_nodes.h5", "cortex_node_types.csv", "excvirt_nodes.h5", "excvirt_node_types.csv",
            "inhvirt_nodes.h5", "inhvirt_node_types.csv", "excvirt_cortex_edges.h5",
            "excvirt_cortex_edge_types.csv", "inhvirt_cortex_edges.h5", "inhvirt_cortex_edge_types.csv")]),
        node_sets=_in(_9, "node_sets.json"),
        spikes=_in(_9, "inputs/exc_spike_trains.h5", "inputs/inh_spike_trains.h5", "output/spikes.h5"),
        reports=_in(_9, "output/membrane_potential.h5"),
    ),
    Scenario(
        "bio_14cells", top=f"{_14}/config.simulation.json", circuit=f"{_14}/config.circuit.json",
        configs=_in(_14, "config.simulation.json", "config.circuit.json"),
        network=_in(_14, *[f"network/{n}" for n in (
            "v1_nodes.h5", "v1_node_types.csv", "lgn_nodes.h5", "lgn_node_types.csv", "tw_nodes.h5",
            "tw_node_types.csv", "v1_v1_edges.h5", "v1_v1_edge_types.csv", "lgn_v1_edges.h5",
            "lgn_v1_edge_types.csv", "tw_v1_edges.h5", "tw_v1_edge_types.csv")]),
        spikes=_in(_14, "inputs/lgn_spikes.h5", "inputs/tw_spikes.h5")
        + ("bmtk/examples/bio_1cell/output_syns/spikes.csv",),
        reports=("bmtk/examples/bio_1cell/output_syns/membrane_potential.h5",),
    ),
    Scenario(
        "ten_cells", top=f"{_10}/config.json", circuit=f"{_10}/circuit_config.json",
        configs=_in(_10, "config.json", "circuit_config.json", "simulation_config.json"),
        network=_in(_10, *[f"network/{n}" for n in (
            "pre_nodes.h5", "pre_node_types.csv", "post_nodes.h5", "post_node_types.csv", "pre_post_edges.h5",
            "pre_post_edge_types.csv")]),
        node_sets=_in(_10, "node_sets.json"),
        spikes=_in(_10, "external_spike_trains.h5")
        + _in(_SPK, "spikes.old.h5", "spikes.one_pop.csv", "spikes.noheader.nopop.csv"),
        ecp=("sonata/tutorials/nwb_sonata/example_data/ecp.h5",),
        direct=("sonata/examples/edges/edge_index_example.h5",),
    ),
]}


def _files_where(pred: Callable[[Scenario, str], bool]) -> list[tuple[str, str]]:
    return sorted({(s.name, f) for s in SCENARIOS.values() for f in s.files if pred(s, f)})


H5_FILES = _files_where(lambda s, f: f.endswith(".h5"))
CSV_FILES = _files_where(lambda s, f: f.endswith(".csv"))
JSON_FILES = _files_where(lambda s, f: f.endswith(".json"))
CONFIG_FILES = _files_where(lambda s, f: f in s.configs)
NODE_SET_FILES = _files_where(lambda s, f: f in s.node_sets)


def plan_for(scen: Scenario, root: Path, mutated: str | None, validate_top: bool = True) -> list[dict[str, Any]]:
    """What the reader processes do on one tree (absolute paths): the reads, and the validate calls.

    Only reads whose input includes the mutated file run (``focus``): the others see
    byte-identical files, which :func:`test_unmutated_corpus_reads_cleanly` reads in full.
    A config or node-sets file can change everything, so it gets every read.
    """
    def a(rels: Any) -> list[str]:
        return [str(root / r) for r in rels]
    reads: dict[str, Any] = {"configs": [], "top": None, "circuit": None, "node_sets": [], "spikes": [],
                             "reports": [], "ecp": [], "direct": [], "validate": [], "root": str(root),
                             "focus": str(root / mutated) if mutated in scen.network + scen.direct else None}
    validate: list[str] = []
    circuit_side = mutated is None or mutated in scen.configs + scen.network + scen.node_sets
    if circuit_side:
        reads.update(configs=a(scen.configs), top=str(root / scen.top), circuit=str(root / scen.circuit),
                     node_sets=a(scen.node_sets))
        if validate_top or mutated not in scen.network:
            validate.append(scen.top)
    for kind in ("spikes", "reports", "ecp", "direct"):
        files = getattr(scen, kind)
        reads[kind] = a(files) if mutated is None else a([f for f in files if f == mutated])
    if mutated is None:
        validate += [scen.circuit] + [f for f in scen.files if f.endswith((".h5", ".csv"))]
    elif mutated not in validate:
        validate.append(mutated)
    if not circuit_side or len(validate) == 1:  # a short job: one reader does it all
        return [{**reads, "validate": a(validate)}]
    checks = {**reads, "configs": [], "top": None, "circuit": None, "node_sets": [], "spikes": [], "reports": [],
              "ecp": [], "direct": [], "validate": a(validate)}
    return [reads, checks]


# ======================================================================= reader process
def _describe_error(e: BaseException) -> dict[str, Any]:
    return {"type": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__], "message": str(e)[:4000],
            "dataset": getattr(e, "dataset", None), "key": getattr(e, "key", None)}


def _reader_main(conn: Any) -> None:  # runs in the spawned reader process
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_AS, (READER_MEMORY, READER_MEMORY))
    except (ValueError, OSError):
        pass
    import warnings
    warnings.simplefilter("ignore")
    import modelkit  # noqa: F401  (import cost paid once, before "ready")
    conn.send(("ready",))
    while True:
        try:
            plan = conn.recv()
        except EOFError:
            return
        if plan is None:
            return
        if "selftest" in plan:  # lets the harness test itself: a segfault, a hang
            conn.send(("start", f"selftest {plan['selftest']}"))
            if plan["selftest"] == "segfault":
                os.kill(os.getpid(), signal.SIGSEGV)
            import time
            time.sleep(3600)
        _run_plan(plan, conn)
        conn.send(("done",))


def _run_plan(plan: dict[str, Any], conn: Any) -> None:
    import gc

    import modelkit
    from modelkit.errors import ModelkitError
    from modelkit.sonata import CompartmentReport, NodeSets, Problem, SimulationConfig, read_ecp, read_spikes

    root = plan["root"]

    def rel(p: str) -> str:
        return os.path.relpath(p, root)
    opened: list[Any] = []

    def op(name: str, fn: Callable[[], Any], *, validate: bool = False) -> Any:
        conn.send(("start", name))
        value = None
        try:
            value = fn()
            if validate:
                if not isinstance(value, list) or not all(isinstance(p, Problem) for p in value):
                    raise TypeError(f"validate() returned {type(value).__name__}, not a list of Problem")
                res = ("ok", name, [(p.severity, p.path, p.key, str(p)) for p in value])
            else:
                res = ("ok", name, None)
        except ModelkitError as e:
            res = ("mk", name, _describe_error(e))
            if validate:  # validate must return problems, not raise them
                res = ("exc", name, {**_describe_error(e), "traceback": traceback.format_exc()[-6000:]})
        except Exception as e:  # noqa: BLE001 - the point: report what escaped
            res = ("exc", name, {**_describe_error(e), "traceback": traceback.format_exc()[-6000:]})
        conn.send(res)
        return value if res[0] == "ok" else None

    focus = plan["focus"]

    def touches(pop: Any) -> bool:
        """Whether a population reads the mutated file (its h5, its types CSV)."""
        return focus is None or pop.path == focus or getattr(pop.types, "path", None) == focus

    def edge_touches(net: Any, e: Any) -> bool:
        if touches(e):
            return True
        try:  # the afferent/efferent queries take their node ids from the end populations
            return any(touches(net.nodes[x]) for x in (e.source, e.target) if x in net.nodes)
        except Exception:  # noqa: BLE001 - reported by the queries themselves
            return True

    def read_net(tag: str, net: Any) -> None:
        opened.append(net)
        for name, pop in net.nodes.items():
            if touches(pop):
                op(f"{tag}.nodes[{name}].get()", lambda pop=pop: pop.get())
                op(f"{tag}.nodes[{name}].positions()",
                   lambda pop=pop: pop.positions() if pop.has_positions() else None)
                op(f"{tag}.nodes[{name}].dynamics_params()", lambda pop=pop: pop.dynamics_params())
                op(f"{tag}.nodes[{name}].summary()", lambda pop=pop: pop.summary())
        for name, e in net.edges.items():
            if edge_touches(net, e):
                op(f"{tag}.edges[{name}].get()", lambda e=e: e.get())
                op(f"{tag}.edges[{name}].summary()", lambda e=e: e.summary())
                op(f"{tag}.edges[{name}] afferent/efferent", lambda e=e: _edge_queries(net, e))

    for c in plan["configs"]:
        op(f"load_config({rel(c)})", lambda c=c: modelkit.load_config(c))
    net = circ = None
    if plan["top"]:
        net = op(f"load({rel(plan['top'])})", lambda: modelkit.load(plan["top"]))
    if plan["circuit"] and plan["circuit"] != plan["top"]:
        circ = op(f"load({rel(plan['circuit'])})", lambda: modelkit.load(plan["circuit"]))
    base = net if net is not None else circ
    if base is not None:
        read_net("net", base)
        cfg = base.config
        if isinstance(cfg, SimulationConfig):
            refs = [(f"inputs.{k}.node_set", v.node_set) for k, v in cfg.inputs.items() if v.node_set is not None]
            refs += [(f"reports.{k}.cells", v.cells) for k, v in cfg.reports.items() if v.cells is not None]
            for key, ref in refs:
                op(f"resolve_node_set({key})", lambda ref=ref: base.resolve_node_set(ref))
    if circ is not None and circ is not base:
        opened.append(circ)
    for p in plan["node_sets"]:
        ns = op(f"NodeSets.from_file({rel(p)})", lambda p=p: NodeSets.from_file(p))
        if ns is not None and base is not None:
            for name in ns.names[:20]:
                op(f"node_sets[{name!r}].materialize()",
                   lambda name=name, ns=ns: [ns.materialize(name, pop) for pop in base.nodes.values()])
    for p in plan["spikes"]:
        op(f"read_spikes({rel(p)})", lambda p=p: [(len(s), s.to_frame()) for s in read_spikes(p).values()])
    for p in plan["reports"]:
        def read_report(p: str = p) -> None:
            rep = CompartmentReport(p)
            for name in rep.populations:
                r = rep[name]
                r.data()
                r.to_frame(r.node_ids[:2])
        op(f"CompartmentReport({rel(p)})[pop].data()", read_report)
    for p in plan["ecp"]:
        op(f"read_ecp({rel(p)})", lambda p=p: read_ecp(p))
    for p in plan["direct"]:
        d = op(f"load({rel(p)})", lambda p=p: modelkit.load(p))
        if d is not None:
            read_net(f"load({rel(p)})", d)
    for p in plan["validate"]:
        op(f"validate({rel(p)})", lambda p=p: modelkit.validate(p), validate=True)
    for n in opened:
        try:
            n.close()
        except Exception:  # noqa: BLE001
            pass
    gc.collect(0)


def _edge_queries(net: Any, e: Any) -> None:
    def ids_of(popname: Any) -> np.ndarray:
        pop = net.nodes.get(popname) if isinstance(popname, str) else None
        ids = pop.node_ids if pop is not None else np.arange(64)
        # ids past the end of the population (and of any index) simply have no edges
        return np.concatenate([ids, [len(ids) + 3]]).astype(np.int64)
    tids, sids = ids_of(e.target), ids_of(e.source)
    aff = e.afferent_edges(tids)
    eff = e.efferent_edges(sids)
    e.source_ids(aff)
    e.target_ids(eff)
    e.afferent_nodes(tids)
    e.efferent_nodes(sids)
    e.connecting_edges(sids, tids)


class Reader:
    """The long-lived reader process: runs plans, restarted when it dies or hangs."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.proc: Any = None
        self.conn: Any = None
        self.restarts = 0

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update({k: "1" for k in saved})
        try:
            self.proc = self.ctx.Process(target=_reader_main, args=(child,), daemon=True, name="bad-input-reader")
            self.proc.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()
        self.conn = parent
        if not parent.poll(120) or parent.recv() != ("ready",):
            self.stop()
            raise RuntimeError("the reader process did not start")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.is_alive():
                try:
                    self.conn.send(None)
                except (OSError, BrokenPipeError):
                    pass
                self.proc.join(2)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(5)
            self.conn.close()
        self.proc = self.conn = None

    def submit(self, plan: dict[str, Any]) -> None:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(plan)

    def collect(self, timeout: float = READ_TIMEOUT) -> list[tuple]:
        """Results ``(status, op, info)``; status ``ok``, ``mk``, ``exc``, ``crash`` or ``hang``."""
        results: list[tuple] = []
        current = "(before the first read)"
        while True:
            if not self.conn.poll(timeout):
                self.proc.kill()
                self.proc.join(5)
                self.stop()
                self.restarts += 1
                results.append(("hang", current, {"message": f"no answer within {timeout} s"}))
                return results
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                self.proc.join(5)
                code = self.proc.exitcode
                self.stop()
                self.restarts += 1
                sig = ""
                if code is not None and code < 0:
                    sig = f" ({signal.Signals(-code).name})"
                results.append(("crash", current, {"message": f"reader died, exit code {code}{sig}"}))
                return results
            if msg[0] == "start":
                current = msg[1]
            elif msg[0] == "done":
                return results
            else:
                results.append(msg)

    def run(self, plan: dict[str, Any], timeout: float = READ_TIMEOUT) -> list[tuple]:
        self.submit(plan)
        return self.collect(timeout)


class Readers:
    """Two reader processes, so that the reads and the validate calls of an example run side by side."""

    def __init__(self, n: int = 2) -> None:
        self.all = [Reader() for _ in range(n)]

    def run(self, plans: list[dict[str, Any]]) -> list[tuple]:
        used = []
        for r, plan in zip(self.all, plans):
            r.submit(plan)
            used.append(r)
        return [res for r in used for res in r.collect()]

    def stop(self) -> None:
        for r in self.all:
            r.stop()


@pytest.fixture(scope="module")
def reader():
    r = Readers()
    yield r
    r.stop()


# ======================================================================= trees on disk
class Trees:
    """One tree per scenario, made of hard links to a private read-only template (never the corpus
    itself); the mutated file is swapped for a real copy during an example, then linked back."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.template = base / "template"
        for rel in sorted({f for s in SCENARIOS.values() for f in s.files}):
            dst = self.template / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CORPUS / rel, dst)
            os.chmod(dst, 0o444)
        for scen in SCENARIOS.values():
            for rel in scen.files:
                self._link(scen, rel)

    def root(self, scen: Scenario) -> Path:
        return self.base / scen.name

    def _link(self, scen: Scenario, rel: str) -> None:
        src, dst = self.template / rel, self.root(scen) / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        try:
            os.link(src, dst)
        except OSError:  # no hard links here: a copy does as well
            shutil.copyfile(src, dst)

    @contextlib.contextmanager
    def tree(self, scen: Scenario, mutated: str | None) -> Iterator[Path]:
        """The scenario's tree with ``mutated`` as a writable copy, restored afterwards."""
        root = self.root(scen)
        if mutated is None:
            yield root
            return
        dst = root / mutated
        dst.unlink()
        shutil.copyfile(self.template / mutated, dst)
        os.chmod(dst, 0o644)
        try:
            yield root
        finally:
            self._link(scen, mutated)


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    return Trees(tmp_path_factory.mktemp("bad_input"))


# ============================================================================ mutations
@dataclass(frozen=True)
class Mutation:
    """One change to one file of a scenario; ``whole_file`` marks corruption with no finer location."""

    scenario: str
    file: str
    action: str
    args: tuple = ()
    whole_file: bool = False
    validate_top: bool = True   # validate the top config too (it re-reads the whole network)
    apply_fn: Callable[[Path, Mutation], None] = field(default=None, repr=False, compare=False)  # type: ignore

    def __repr__(self) -> str:
        args = ", ".join(_short(a) for a in self.args)
        also = "" if self.validate_top else " (top config not validated)"
        return f"<{self.action}({args}) on {self.scenario}:{self.file}{also}>"

    def apply(self, root: Path) -> None:
        self.apply_fn(root / self.file, self)


def _short(a: Any) -> str:
    s = repr(a)
    return s if len(s) <= 120 else s[:117] + "..."


# ------------------------------------------------------------------ HDF5 inventory
@dataclass(frozen=True)
class H5Obj:
    path: str
    kind: str            # dataset / group
    dtype: str | None    # numpy dtype kind
    shape: tuple | None
    attrs: tuple[str, ...]


@functools.cache
def h5_inventory(rel: str) -> tuple[H5Obj, ...]:
    out: list[H5Obj] = []
    with h5py.File(CORPUS / rel, "r") as f:
        out.append(H5Obj("/", "group", None, None, tuple(f.attrs)))

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                out.append(H5Obj("/" + name, "dataset", obj.dtype.kind, obj.shape, tuple(obj.attrs)))
            else:
                out.append(H5Obj("/" + name, "group", None, None, tuple(obj.attrs)))
        f.visititems(visit)
    return tuple(out)


def _replace_dataset(f: h5py.File, name: str, data: Any, dtype: Any = None) -> None:
    ds = f[name]
    ds_shape = ds.shape
    attrs = {k: ds.attrs[k] for k in ds.attrs}
    attr_types = {k: ds.attrs.get_id(k).dtype for k in ds.attrs}
    del f[name]
    if data is None:  # a dtype with no sensible conversion (references): an empty-valued dataset of that type
        new = f.create_dataset(name, shape=ds_shape, dtype=dtype)
    elif isinstance(dtype, np.dtype) and dtype.subdtype is not None:  # an array dtype: one array per element
        new = f.create_dataset(name, shape=np.shape(data)[:-1], dtype=dtype)
        new[...] = data
    else:
        new = f.create_dataset(name, data=data, dtype=dtype)
    for k, v in attrs.items():
        new.attrs.create(k, v, dtype=attr_types[k])


def _as_str(a: np.ndarray) -> np.ndarray:
    return np.array([str(x) for x in a.ravel().tolist()], dtype=object).reshape(a.shape)


_RETYPE: dict[str, Callable[[np.ndarray], tuple[Any, Any]]] = {
    "float64": lambda a: (a.astype(np.float64), None),
    "float64+0.5": lambda a: (a.astype(np.float64) + 0.5, None),
    "float32": lambda a: (a.astype(np.float32), None),
    "int8 (wraps)": lambda a: (a.astype(np.int64).astype(np.int8) if a.dtype.kind != "f"
                               else np.nan_to_num(a).astype(np.int8), None),
    "int64": lambda a: (np.nan_to_num(a).astype(np.int64), None),
    "bool": lambda a: (a.astype(bool), None),
    "complex128": lambda a: (a.astype(np.complex128), None),
    "fixed bytes": lambda a: (_as_str(a).astype("S"), None),
    "utf-8 strings": lambda a: (_as_str(a), h5py.string_dtype("utf-8")),
    "compound": lambda a: (np.array([(x,) for x in a.ravel().tolist()], dtype=[("v", a.dtype)]).reshape(a.shape),
                           None),
    "enum": lambda a: (np.nan_to_num(a).astype(np.int64).astype(np.int8) % 2,
                       h5py.enum_dtype({"a": 0, "b": 1}, basetype="i1")),
    "array(2)": lambda a: (np.repeat(a[..., None], 2, axis=-1).astype(np.float64), np.dtype((np.float64, (2,)))),
    "opaque": lambda a: (np.frombuffer(np.ascontiguousarray(a).tobytes(), dtype=f"V{a.dtype.itemsize}")
                         .reshape(a.shape), None),
    "big-endian": lambda a: (a.astype(a.dtype.newbyteorder(">")), None),
    "float16": lambda a: (a.astype(np.float16), None),
    "ragged ints": lambda a: (np.array([np.arange(i % 3) for i in range(a.size)] + [None], dtype=object)[:-1]
                              .reshape(a.shape), h5py.vlen_dtype(np.int64)),
    "object references": lambda a: (None, h5py.ref_dtype),
}

_VALUES = ("max+1+k", "len+k", "2**31+k", "2**62", "2**64-1", "-1-k", "nan", "inf", "-inf", "1e300", "0", "0.5")


def _resolve_value(spec: str, k: int, a: np.ndarray) -> Any:
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    mx = float(finite.max()) if finite.size else 0.0
    return {"max+1+k": mx + 1 + k if a.dtype.kind == "f" else int(mx) + 1 + k, "len+k": len(a) + k,
            "2**31+k": 2**31 + k, "2**62": 2**62, "2**64-1": 2**64 - 1, "-1-k": -1 - k, "nan": np.nan,
            "inf": np.inf, "-inf": -np.inf, "1e300": 1e300, "0": 0, "0.5": 0.5}[spec]


def _hold(a: np.ndarray, v: Any) -> np.ndarray:
    """``a`` converted to a dtype that can hold ``v`` (signed for negatives, float for NaN...)."""
    if isinstance(v, float):
        return a.astype(np.float64) if a.dtype.kind != "f" else a
    if a.dtype.kind == "f":
        return a if abs(v) < 2**53 else a.astype(np.float64)
    if v < 0:
        return a.astype(np.int64) if a.dtype.kind == "u" or np.iinfo(a.dtype).min > v else a
    if v > np.iinfo(a.dtype).max:
        return a.astype(np.uint64) if v >= 2**63 else a.astype(np.int64)
    return a


def apply_h5(path: Path, m: Mutation) -> None:
    action, args = m.action, m.args
    with h5py.File(path, "r+") as f:
        if action == "drop":
            del f[args[0]]
        elif action == "rename":
            src, new = args
            f.move(src, src.rsplit("/", 1)[0] + "/" + new if src.rsplit("/", 1)[0] else "/" + new)
        elif action == "retype":
            name, target = args
            a = f[name][()]
            data, dt = _RETYPE[target](np.asarray(a))
            _replace_dataset(f, name, data, dt)
        elif action == "truncate":
            name, keep = args
            _replace_dataset(f, name, f[name][()][:keep])
        elif action == "extend":
            name, extra, fill = args
            a = f[name][()]
            if fill == "huge, unallocated":  # a chunked dataset declaring 2**33 rows, holding only the first
                del f[name]
                big = f.create_dataset(name, shape=(2**33,) + a.shape[1:], dtype=a.dtype, chunks=True)
                big[:len(a)] = a
            else:
                tail = np.repeat(a[-1:], extra, axis=0) if fill == "repeat last" else \
                    np.full((extra,) + a.shape[1:], 7 if fill == "sevens" else 0, dtype=a.dtype)
                _replace_dataset(f, name, np.concatenate([a, tail]))
        elif action == "set_value":
            name, frac, col, spec, k = args
            a = np.asarray(f[name][()])
            v = _resolve_value(spec, k, a)
            a = _hold(a, v).copy()
            i = min(int(frac * len(a)), len(a) - 1)
            if a.ndim == 2:
                a[i, col % a.shape[1]] = v
            else:
                a[i] = v
            _replace_dataset(f, name, a)
        elif action == "swap_range_ends":
            name, frac = args
            a = np.asarray(f[name][()]).copy()
            i = min(int(frac * len(a)), len(a) - 1)
            a[i, 0], a[i, 1] = a[i, 1] + 1, a[i, 0]
            _replace_dataset(f, name, a)
        elif action == "reshape":
            name, how = args
            a = f[name][()]
            new = {"(n, 1)": lambda: a.reshape(len(a), -1)[:, :1] if a.ndim > 1 else a[:, None],
                   "(1, n)": lambda: a.reshape(1, -1), "scalar": lambda: a.ravel()[0],
                   "flat": lambda: a.ravel(), "transposed": lambda: np.atleast_2d(a).T,
                   "3 columns": lambda: np.concatenate([np.atleast_2d(a.T).T.reshape(len(a), -1),
                                                        np.zeros((len(a), 1), a.dtype)], axis=1)}[how]()
            _replace_dataset(f, name, new)
        elif action == "dataset_to_group":
            del f[args[0]]
            f.create_group(args[0])
        elif action == "group_to_dataset":
            del f[args[0]]
            f.create_dataset(args[0], data=np.arange(3))
        elif action == "link":
            name, how = args
            del f[name]
            parent = name.rsplit("/", 1)[0] or "/"
            sibling = next((k for k in f[parent] if k != name.rsplit("/", 1)[1]), None)
            f[name] = {"dangling soft link": lambda: h5py.SoftLink("/no/such/object"),
                       "soft link to a sibling": lambda: h5py.SoftLink(f"{parent.rstrip('/')}/{sibling}")
                       if sibling else h5py.SoftLink(parent),
                       "soft link to its parent": lambda: h5py.SoftLink(parent),
                       "external link, missing file": lambda: h5py.ExternalLink("no_such_file.h5", "/x"),
                       "external link to itself": lambda: h5py.ExternalLink(path.name, name)}[how]()
        elif action == "drop_attr":
            del f[args[0]].attrs[args[1]]
        elif action == "rename_attr":
            obj, name, new = args
            v, dt = f[obj].attrs[name], f[obj].attrs.get_id(name).dtype
            del f[obj].attrs[name]
            f[obj].attrs.create(new, v, dtype=dt)
        elif action == "set_attr":
            obj, name, spec = args
            attrs = f[obj].attrs
            if name in attrs:
                del attrs[name]
            value, dt = _ATTR_VALUES[spec]
            attrs.create(name, value, dtype=dt)
        elif action == "add":
            _add(f, *args)
        else:  # pragma: no cover
            raise AssertionError(action)


def _group_rows(f: h5py.File, grp: str) -> int:
    """Rows of a numbered group: its columns' length, else the elements whose group id names it."""
    g = f[grp]
    for k in g:
        if isinstance(g[k], h5py.Dataset) and g[k].ndim >= 1:
            return g[k].shape[0]
    pop, gid = grp.rsplit("/", 1)
    prefix = "node" if grp.startswith("/nodes/") else "edge"
    return int((f[f"{pop}/{prefix}_group_id"][()] == int(gid)).sum())


def _add(f: h5py.File, where: str, what: str, variant: str) -> None:
    """Add what the corpus never has (SPEC_NOTES 10.13): @library enums, dynamics_params, string
    columns, positions, explicit ids -- well-formed or broken as ``variant`` says."""
    if what == "ids":  # ``where`` is a population
        prefix = "node" if where.startswith("/nodes/") else "edge"
        name = f"{where}/{prefix}_id"
        n = f[f"{where}/{prefix}_group_id"].shape[0]
        ids = {"shuffled": lambda: np.random.default_rng(0).permutation(n) + 100,
               "repeated": lambda: np.zeros(n, np.uint64), "negative": lambda: -np.arange(n, dtype=np.int64) - 1,
               "one short": lambda: np.arange(max(n - 1, 0), dtype=np.uint64),
               "floats": lambda: np.arange(n) + 0.5}[variant]()
        if name in f:
            del f[name]
        f.create_dataset(name, data=ids)
        return
    n = _group_rows(f, where)
    if what == "library":
        lib = np.array(["L23_PC", "L4_SS", "L5_TTPC"], dtype=object)
        codes = np.arange(n) % len(lib)
        col, libdata, libtype = codes.astype(np.uint32), lib, h5py.string_dtype()
        if variant == "code past the library":
            col = (codes + len(lib)).astype(np.uint32)
        elif variant == "negative code":
            col = codes.astype(np.int64) - 1
        elif variant == "float codes":
            col = codes + 0.5
        elif variant == "library of numbers":
            libdata, libtype = np.arange(3), None
        elif variant == "2-D library":
            libdata = np.array([["a", "b"]] * 3, dtype=object)
        elif variant == "empty library":
            libdata = np.array([], dtype=object)
        f.create_dataset(f"{where}/mtype", data=col)
        f.create_dataset(f"{where}/@library/mtype", data=libdata, dtype=libtype)
    elif what == "dynamics_params":
        data = {"valid": lambda: np.linspace(1, 2, n), "one short": lambda: np.ones(max(n - 1, 0)),
                "2-D": lambda: np.ones((n, 2)), "strings": lambda: np.array(["a"] * n, dtype=object),
                "compound": lambda: np.zeros(n, dtype=[("a", "f8")])}
        if variant == "a dataset, not a group":
            f.create_dataset(f"{where}/dynamics_params", data=np.ones(n))
        else:
            d = data[variant]()
            f.create_dataset(f"{where}/dynamics_params/tau_syn", data=d,
                             dtype=h5py.string_dtype() if d.dtype == object else None)
    elif what == "string column":
        if variant == "utf-8":
            f.create_dataset(f"{where}/label", data=np.array([f"n{i}" for i in range(n)], dtype=object),
                             dtype=h5py.string_dtype())
        elif variant == "invalid utf-8":
            f.create_dataset(f"{where}/label", data=np.array([b"\xff\xfe"] * n, dtype=object),
                             dtype=h5py.string_dtype("utf-8"))
        else:  # fixed-length bytes
            f.create_dataset(f"{where}/label", data=np.array([b"ab"] * n, dtype="S2"))
    elif what == "positions":
        shape = {"(n, 3)": (n, 3), "(n, 2)": (n, 2), "(n, 4)": (n, 4), "(n + 1, 3)": (n + 1, 3),
                 "(n, 3) strings": (n, 3)}[variant]
        data = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
        if variant.endswith("strings"):
            f.create_dataset(f"{where}/positions", data=np.char.add(b"x", data.astype("S8")))
        else:
            f.create_dataset(f"{where}/positions", data=data)
    else:  # pragma: no cover
        raise AssertionError(what)


_ADDITIONS = {
    "library": ["valid", "code past the library", "negative code", "float codes", "library of numbers",
                "2-D library", "empty library"],
    "dynamics_params": ["valid", "one short", "2-D", "strings", "compound", "a dataset, not a group"],
    "string column": ["utf-8", "invalid utf-8", "fixed bytes"],
    "positions": ["(n, 3)", "(n, 2)", "(n, 4)", "(n + 1, 3)", "(n, 3) strings"],
    "ids": ["shuffled", "repeated", "negative", "one short", "floats"],
}


_ATTR_VALUES: dict[str, tuple[Any, Any]] = {
    "int 42": (42, None), "int -1": (-1, np.int64), "float 1.5": (1.5, None), "nan": (np.nan, None),
    "bytes": (np.bytes_(b"v1"), None), "invalid utf-8 bytes": (np.bytes_(b"\xff\xfe\x00x"), None),
    "unknown string": ("no_such_thing", h5py.string_dtype()), "empty string": ("", h5py.string_dtype()),
    "string array": (np.array(["a", "b"], dtype=object), h5py.string_dtype()),
    "int array": (np.arange(3), None), "empty array": (np.zeros(0), None),
    "enum by_time": (np.int8(2), h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="i1")),
    "enum out of range": (np.int8(7), h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2, "x": 7}, basetype="i1")),
    "compound": (np.array((1, 2.0), dtype=[("a", "i4"), ("b", "f8")]), None),
    "'ms'": ("ms", h5py.string_dtype()), "'s'": ("s", h5py.string_dtype()),
}
_ATTR_NAMES = ("node_population", "sorting", "units", "variable", "magic", "version", "sorted")


def _renamed(name: str, how: str) -> str:
    return {"typo": name + "_x", "chopped": name[:-1] or "x", "upper": name.upper() if name.upper() != name
            else name + "X", "plural": name[:-1] if name.endswith("s") else name + "s",
            "digit": "7" if name.isdigit() else name + "7"}[how]


#: HDF5 examples also validate the top config in one case of four: it re-reads the whole network
#: (every example validates the mutated file itself)
_ONE_IN_FOUR = st.integers(0, 3).map(lambda k: k == 0)


@st.composite
def h5_structure_mutations(draw: Any, files: list[tuple[str, str]] = H5_FILES) -> Mutation:
    """Drop/rename objects and attributes, change dtypes, truncate/extend/reshape datasets, links."""
    scen, rel = draw(st.sampled_from(files))
    inv = h5_inventory(rel)
    datasets = [o for o in inv if o.kind == "dataset"]
    nonempty = [o for o in datasets if o.shape and o.shape[0] > 0]
    objects = [o for o in inv if o.path != "/"]
    attrs = [(o.path, a) for o in inv for a in o.attrs]
    pops = [o.path for o in inv if re.fullmatch(r"/(nodes|edges)/[^/]+", o.path) and o.kind == "group"]
    groups = [o.path for o in inv if re.fullmatch(r"/(nodes|edges)/[^/]+/\d+", o.path) and o.kind == "group"]
    actions = ["drop", "rename", "retype", "truncate", "extend", "set_value", "reshape", "dataset_to_group",
               "group_to_dataset", "link", "set_attr"] + (["drop_attr", "rename_attr"] if attrs else []) \
        + (["add", "add"] if groups else [])
    action = draw(st.sampled_from(actions))
    if action in ("drop", "rename"):
        o = draw(st.sampled_from(objects))
        if action == "drop":
            args: tuple = (o.path,)
        else:
            parent, old = o.path.rsplit("/", 1)
            new = _renamed(old, draw(st.sampled_from(["typo", "chopped", "upper", "plural", "digit"])))
            while f"{parent}/{new}" in {x.path for x in inv}:  # e.g. node_id_to_ranges -> node_id_to_range
                new += "_x"
            args = (o.path, new)
    elif action == "retype":
        o = draw(st.sampled_from(nonempty))
        args = (o.path, draw(st.sampled_from(sorted(_RETYPE))))
    elif action == "truncate":
        o = draw(st.sampled_from(nonempty))
        args = (o.path, draw(st.integers(0, o.shape[0] - 1)))
    elif action == "extend":
        o = draw(st.sampled_from(nonempty))
        args = (o.path, draw(st.integers(1, 4)),
                draw(st.sampled_from(["repeat last", "zeros", "sevens", "huge, unallocated"])))
    elif action == "set_value":
        o = draw(st.sampled_from(nonempty))
        args = (o.path, draw(st.floats(0, 1)), draw(st.integers(0, 1)), draw(st.sampled_from(_VALUES)),
                draw(st.integers(0, 3)))
    elif action == "reshape":
        o = draw(st.sampled_from(nonempty))
        hows = ["(n, 1)", "(1, n)", "scalar"] if len(o.shape) == 1 else ["flat", "transposed", "3 columns"]
        args = (o.path, draw(st.sampled_from(hows)))
    elif action == "dataset_to_group":
        args = (draw(st.sampled_from(datasets)).path,)
    elif action == "group_to_dataset":
        args = (draw(st.sampled_from([o for o in objects if o.kind == "group"])).path,)
    elif action == "link":
        args = (draw(st.sampled_from(objects)).path, draw(st.sampled_from(
            ["dangling soft link", "soft link to a sibling", "soft link to its parent", "external link, missing file",
             "external link to itself"])))
    elif action == "add":
        what = draw(st.sampled_from(sorted(_ADDITIONS)))
        where = draw(st.sampled_from(pops if what == "ids" else groups))
        if what == "positions" and where.startswith("/edges/"):
            what = "string column"
        args = (where, what, draw(st.sampled_from(_ADDITIONS[what])))
    elif action == "drop_attr":
        args = draw(st.sampled_from(attrs))
    elif action == "rename_attr":
        obj, a = draw(st.sampled_from(attrs))
        new = _renamed(a, draw(st.sampled_from(["typo", "chopped", "upper"])))
        while (obj, new) in attrs:
            new += "_x"
        args = (obj, a, new)
    else:  # set_attr: on an existing attribute or one of the SONATA names
        obj = draw(st.sampled_from([o.path for o in inv]))
        name = draw(st.sampled_from(sorted(set(_ATTR_NAMES) | {a for p, a in attrs if p == obj})))
        args = (obj, name, draw(st.sampled_from(sorted(_ATTR_VALUES))))
    return Mutation(scen, rel, action, args, validate_top=draw(_ONE_IN_FOUR), apply_fn=apply_h5)


#: datasets whose values are ids or row numbers into something else
_ID_DATASETS = ("node_group_index", "node_type_id", "node_group_id", "node_id", "source_node_id", "target_node_id",
                "edge_type_id", "edge_group_id", "edge_group_index", "node_id_to_range", "range_to_edge_id",
                "node_ids", "gids", "index_pointer", "element_ids", "channel_id")


@st.composite
def id_mutations(draw: Any) -> Mutation:
    """Out-of-range ids: group index past the group, unknown type ids, dangling edge ends, index ranges
    past the end or inverted, negative values (the dataset made signed)."""
    cands = [(s, rel, o) for s, rel in H5_FILES for o in h5_inventory(rel)
             if o.kind == "dataset" and o.shape and o.shape[0] > 0 and o.path.rsplit("/", 1)[1] in _ID_DATASETS]
    scen, rel, o = draw(st.sampled_from(cands))
    if len(o.shape) == 2 and draw(st.booleans()):
        return Mutation(scen, rel, "swap_range_ends", (o.path, draw(st.floats(0, 1))), validate_top=draw(_ONE_IN_FOUR),
                        apply_fn=apply_h5)
    spec = draw(st.sampled_from(["max+1+k", "len+k", "2**31+k", "2**62", "2**64-1", "-1-k"]))
    args = (o.path, draw(st.floats(0, 1)), draw(st.integers(0, 1)), spec, draw(st.integers(0, 3)))
    return Mutation(scen, rel, "set_value", args, validate_top=draw(_ONE_IN_FOUR), apply_fn=apply_h5)


# ------------------------------------------------------------------ raw bytes
def apply_bytes(path: Path, m: Mutation) -> None:
    data = bytearray(path.read_bytes())
    n = len(data)

    def pos(spec: tuple) -> int:
        where, x = spec
        return min(int(x), n) if where == "head" else min(int(x * n), n)
    if m.action == "overwrite":
        for spec, chunk in m.args:
            p = pos(spec)
            data[p:p + len(chunk)] = chunk
            del data[n:]
    elif m.action == "truncate_file":
        del data[pos(m.args[0]):]
    elif m.action == "insert_bytes":
        p = pos(m.args[0])
        data[p:p] = m.args[1]
    elif m.action == "replace_file":
        data = bytearray(m.args[0])
    else:  # pragma: no cover
        raise AssertionError(m.action)
    path.write_bytes(bytes(data))


_positions = st.one_of(st.tuples(st.just("head"), st.integers(0, 4095)),
                       st.tuples(st.just("frac"), st.floats(0, 1, exclude_max=True)))
_chunks = st.one_of(st.binary(min_size=1, max_size=64),
                    st.builds(lambda b, k: bytes([b]) * k, st.sampled_from([0, 0xFF, 0x01, 0x80]),
                              st.integers(1, 64)))


@st.composite
def byte_mutations(draw: Any, files: list[tuple[str, str]] = H5_FILES) -> Mutation:
    """Random byte runs overwritten at random offsets (biased to the metadata-rich head), truncation."""
    scen, rel = draw(st.sampled_from(files))
    action = draw(st.sampled_from(["overwrite", "overwrite", "overwrite", "truncate_file"]))
    if action == "overwrite":
        args = tuple(draw(st.lists(st.tuples(_positions, _chunks), min_size=1, max_size=4)))
    else:
        args = (draw(_positions),)
    return Mutation(scen, rel, action, args, whole_file=True, validate_top=draw(_ONE_IN_FOUR), apply_fn=apply_bytes)


# ------------------------------------------------------------------ JSON
def _json_paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out += _json_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out += _json_paths(v, prefix + (i,))
    return out


@functools.cache
def json_doc(rel: str) -> Any:
    return json.loads((CORPUS / rel).read_text())


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


_JUNK = (None, True, False, 0, -1, 2**64, 1.5, -1e300, float("nan"), float("inf"), "", "garbage", "$UNDEFINED/x",
         "${NOPE}", "a\x00b", [], [1, "a"], [None], {}, {"k": None}, {"$gt": "x"}, "../../no/such/file.h5", "~")

#: keys the guide makes required (dotted, [i] for every list item, * for every object member)
_REQUIRED = ("run.tstop", "run.dt", "run", "networks", "networks.nodes", "networks.nodes[i].nodes_file",
             "networks.edges[i].edges_file", "inputs.*.input_type", "inputs.*.module", "reports.*.module",
             "network", "simulation")


def _required_paths(doc: Any) -> list[tuple]:
    out = []
    for spec in _REQUIRED:
        paths: list[tuple] = [()]
        for part in spec.replace("[i]", ".[i]").split("."):
            nxt = []
            for p in paths:
                try:
                    cur = _get(doc, p)
                except (KeyError, IndexError, TypeError):
                    continue
                if part == "[i]" and isinstance(cur, list):
                    nxt += [p + (i,) for i in range(len(cur))]
                elif part == "*" and isinstance(cur, dict):
                    nxt += [p + (k,) for k in cur]
                elif isinstance(cur, dict) and part in cur:
                    nxt.append(p + (part,))
            paths = nxt
        out += paths
    return out


def apply_json(path: Path, m: Mutation) -> None:
    if m.action == "text":
        how, x, s = m.args
        text = path.read_bytes()
        p = int(x * len(text))
        new = {"truncate": lambda: text[:p], "delete char": lambda: text[:p] + text[p + 1:],
               "insert": lambda: text[:p] + s + text[p:], "replace file": lambda: s}[how]()
        path.write_bytes(new)
        return
    doc = json.loads(path.read_text())
    if m.action == "delete":
        (p,) = m.args
        parent = _get(doc, p[:-1])
        del parent[p[-1]]
    elif m.action == "replace":
        p, v = m.args
        if p:
            _get(doc, p[:-1])[p[-1]] = v
        else:
            doc = v
    elif m.action == "rename_key":
        p, new = m.args
        parent = _get(doc, p[:-1])
        parent[new] = parent.pop(p[-1])
    elif m.action == "merge":  # update the object at args[0] with args[1]
        p, extra = m.args
        _get(doc, p).update(extra)
    elif m.action == "manifest":
        how, target = m.args
        man = doc.setdefault("manifest", {})
        if how == "cycle $A->$B->$A":
            man.update({"$A": "$B/x", "$B": "$A/y"})
        elif how == "cycle $A->$A":
            man.update({"$A": "${A}/x"})
        elif how == "cycle $A->$B->$C->$A":
            man.update({"$A": "$B", "$B": "${C}/z", "$C": "$A"})
        elif how == "undefined in manifest":
            man.update({"$A": "$NOT_DEFINED/x"})
        elif how == "bad variable name":
            man.update({"$a-b": "x"})
        elif how == "manifest not an object":
            doc["manifest"] = ["$A", "x"]
        if target is not None and how != "manifest not an object":
            parent = _get(doc, target[:-1])
            old = parent[target[-1]]
            var = "$NOT_DEFINED" if how == "undefined in body" else "$A"
            parent[target[-1]] = var + "/" + (old.split("/", 1)[1] if "/" in old else old)
    else:  # pragma: no cover
        raise AssertionError(m.action)
    path.write_text(json.dumps(doc, indent=1))


_TEXT_INSERTS = (b",", b"{", b"}", b"[", b"]", b'"', b":", b"\\", b"\xff\xfe", b"\x00", b"NaN", b"//c\n")


@st.composite
def json_mutations(draw: Any, files: list[tuple[str, str]] = JSON_FILES) -> Mutation:
    """Syntax errors, garbage, wrong types, deleted/renamed keys, required keys removed."""
    scen, rel = draw(st.sampled_from(files))
    doc = json_doc(rel)
    paths = _json_paths(doc)
    required = _required_paths(doc)
    action = draw(st.sampled_from(["text", "text", "delete", "replace", "replace", "rename_key"]
                                  + (["required", "required"] if required else [])))
    if action == "text":
        how = draw(st.sampled_from(["truncate", "delete char", "insert", "replace file"]))
        if how == "replace file":
            s = draw(st.one_of(st.sampled_from([b"", b"[]", b"1", b"null", b'"str"', b"{", b"[" * 100000,
                                                b'{"a": ' * 50000, b"\xef\xbb\xbf{}", b"\xff\xfe{}"]),
                               st.binary(max_size=64)))
        else:
            s = draw(st.sampled_from(_TEXT_INSERTS)) if how == "insert" else b""
        return Mutation(scen, rel, "text", (how, draw(st.floats(0, 1, exclude_max=True)), s), whole_file=True,
                        apply_fn=apply_json)
    if action == "required":
        return Mutation(scen, rel, "delete", (draw(st.sampled_from(required)),), apply_fn=apply_json)
    if action == "delete":
        return Mutation(scen, rel, "delete", (draw(st.sampled_from(paths)),), apply_fn=apply_json)
    if action == "rename_key":
        keyed = [p for p in paths if isinstance(p[-1], str)]
        p = draw(st.sampled_from(keyed))
        return Mutation(scen, rel, "rename_key", (p, _renamed(p[-1], draw(st.sampled_from(["typo", "upper"])))),
                        apply_fn=apply_json)
    p = draw(st.sampled_from(paths + [()]))
    return Mutation(scen, rel, "replace", (p, draw(st.sampled_from(_JUNK))), apply_fn=apply_json)


def _path_strings(doc: Any) -> list[tuple]:
    return [p for p in _json_paths(doc) if isinstance(_get(doc, p), str) and p[0] != "manifest"
            and ("/" in _get(doc, p) or _get(doc, p).endswith((".h5", ".csv", ".json")))]


@st.composite
def manifest_mutations(draw: Any) -> Mutation:
    """Cyclic ($A -> $B -> $A), self-referencing and undefined manifest variables."""
    scen, rel = draw(st.sampled_from(CONFIG_FILES))
    doc = json_doc(rel)
    how = draw(st.sampled_from(["cycle $A->$B->$A", "cycle $A->$A", "cycle $A->$B->$C->$A", "undefined in manifest",
                                "undefined in body", "bad variable name", "manifest not an object"]))
    targets = _path_strings(doc)
    target = draw(st.sampled_from(targets)) if targets and (how == "undefined in body" or draw(st.booleans())) \
        else None
    if how == "undefined in body" and target is None:
        how = "undefined in manifest"
    return Mutation(scen, rel, "manifest", (how, target), apply_fn=apply_json)


_BAD_RULES = (None, [None], ["a", None], {"$gt": "x"}, {"$foo": 1}, {"$gt": 1, "$lt": 2}, {"$regex": "["},
              {"$regex": 5}, {"$regex": "(?P<"}, {}, [[1]], [{"a": 1}], {"$lte": None}, {"$gt": True},
              {"$gt": 10**400}, 10**30, [2**64, 1])
_BAD_IDS = (-1, 1.5, "a", [True], 10**30, [[1]], 2**63, [2**64], None, {"$gt": 1}, [-5, 3])


@st.composite
def node_set_mutations(draw: Any) -> Mutation:
    """Cycles, unknown names, null values, invalid rules/operators/ids/populations, very long chains."""
    scen, rel = draw(st.sampled_from(NODE_SET_FILES))
    doc = json_doc(rel)
    names = sorted(doc)
    kind = draw(st.sampled_from(["cycle", "self cycle", "unknown name", "bad rule", "bad ids", "bad population",
                                 "bad definition", "chain", "fan-out", "null"]))
    name = draw(st.sampled_from(names))
    if kind == "cycle":
        extra = {"cyc_a": ["cyc_b"], "cyc_b": [name, "cyc_a"]}
    elif kind == "self cycle":
        extra = {name: [name]}
    elif kind == "unknown name":
        extra = {draw(st.sampled_from(["compound", name])): [name, "no_such_set"]}
    elif kind == "bad rule":
        attr = draw(st.sampled_from(sorted({k for v in doc.values() if isinstance(v, dict) for k in v}
                                           | {"model_type", "ei", "x"})))
        extra = {name: {**(doc[name] if isinstance(doc[name], dict) else {}), attr: draw(st.sampled_from(_BAD_RULES))}}
    elif kind == "bad ids":
        extra = {name: {draw(st.sampled_from(["node_id", "node_ids", "gids"])): draw(st.sampled_from(_BAD_IDS))}}
    elif kind == "bad population":
        extra = {name: {"population": draw(st.sampled_from([5, [1], None, "no_such_population", [], {"a": 1}]))}}
    elif kind == "bad definition":
        extra = {name: draw(st.sampled_from([5, "str", True, [5], [[name]], [{"population": 3}], [name, [name]]]))}
    elif kind == "chain":
        n = draw(st.sampled_from([3, 120, 400]))  # 120: past MAX_DEPTH; 400: past Python's recursion limit
        extra = {f"link{i}": [f"link{i + 1}"] for i in range(n)}
        extra[f"link{n}"] = [name]
        extra[name] = ["link0"] if draw(st.booleans()) else doc[name]
    elif kind == "fan-out":  # 2**n paths through n names unless each name is evaluated once
        n = draw(st.sampled_from([4, 40]))
        extra = {f"fan{i}": [f"fan{i + 1}", f"fan{i + 1}"] for i in range(n)}
        extra[f"fan{n}"] = [name]
    else:  # null
        extra = {name: None}
    return Mutation(scen, rel, "merge", ((), extra), apply_fn=apply_json)


# ------------------------------------------------------------------ CSV
def apply_csv(path: Path, m: Mutation) -> None:
    raw = path.read_bytes()
    if m.action == "bytes":
        how, x, s = m.args
        p = int(x * len(raw))
        path.write_bytes({"insert": raw[:p] + s + raw[p:], "replace file": s, "truncate": raw[:p]}[how])
        return
    lines = raw.decode("utf-8").splitlines()
    header = lines[0].split()
    body = lines[1:]
    how = m.action
    i = min(int(m.args[0] * len(body)), len(body) - 1) if body else 0
    if how == "ragged (extra field)":
        body[i] += " extra"
    elif how == "ragged (missing field)":
        body[i] = body[i].rsplit(" ", 1)[0] if " " in body[i].strip() else ""
    elif how == "unterminated quote":
        target = lines if m.args[1] else body
        j = 0 if m.args[1] else i
        target[j] = '"' + target[j] if m.args[1] else body[i].replace(" ", ' "', 1)
    elif how == "rename id column":
        header[m.args[1] % len(header)] = "id"
    elif how == "drop column":
        c = m.args[1] % len(header)
        header.pop(c)
        body = [" ".join(t for k, t in enumerate(_tokens(b)) if k != c) for b in body]
    elif how == "duplicate row":
        body.append(body[i])
    elif how == "duplicate header name":
        header.append(header[m.args[1] % len(header)])
        body = [b + " 0" for b in body]
    elif how == "set field":
        toks = _tokens(body[i])
        toks[m.args[1] % len(toks)] = m.args[2]
        body[i] = " ".join(toks)
    elif how == "header only":
        body = []
    elif how == "blank lines and CRLF":
        body = [b + "\r" for b in body] + ["", "   "]
    else:  # pragma: no cover
        raise AssertionError(how)
    path.write_bytes(("\n".join([" ".join(header)] + body) + "\n").encode("utf-8"))


def _tokens(line: str) -> list[str]:
    from modelkit.sonata.types_table import tokenize_line
    return [('"' + t.replace('"', '""') + '"') if (" " in t or not t) else t for t in tokenize_line(line)]


_FIELD_JUNK = ("abc", "1.5", "-3", "99999999999999999999", "NULL", '""', "nan", "inf", "1e400", "0x10", "-0",
               "\u00e9t\u00e9", '"a b"')


@st.composite
def csv_mutations(draw: Any) -> Mutation:
    """Ragged rows, unterminated quotes, missing id column, duplicate ids/columns, junk fields, binary garbage."""
    scen, rel = draw(st.sampled_from(CSV_FILES))
    how = draw(st.sampled_from(["ragged (extra field)", "ragged (missing field)", "unterminated quote",
                                "rename id column", "drop column", "duplicate row", "duplicate header name",
                                "set field", "set field", "header only", "blank lines and CRLF", "bytes", "bytes"]))
    if how == "bytes":
        kind = draw(st.sampled_from(["insert", "replace file", "truncate"]))
        s = draw(st.one_of(st.binary(min_size=1, max_size=32), st.sampled_from([b"\x00", b"\xff\xfe", b"\x80",
                                                                                 b"", b"\n\n", b'"'])))
        return Mutation(scen, rel, "bytes", (kind, draw(st.floats(0, 1, exclude_max=True)), s), whole_file=True,
                        apply_fn=apply_csv)
    args = (draw(st.floats(0, 1, exclude_max=True)), draw(st.integers(0, 12)), draw(st.sampled_from(_FIELD_JUNK)))
    if how == "unterminated quote":
        args = (args[0], draw(st.booleans()))
    return Mutation(scen, rel, how, args, apply_fn=apply_csv)


# ================================================================================ checks
def _located(info: dict[str, Any]) -> bool:
    mro = info["mro"]
    if "SonataFormatError" in mro:
        return bool(info["dataset"])
    if "ConfigError" in mro:
        return bool(info["key"])
    return False


def names_file(message: str, path: str) -> bool:
    """Whether ``message`` names the file: its path, or its base name as a whole path component."""
    return path in message or re.search(r"(?<![\w.-])" + re.escape(os.path.basename(path)) + r"(?![\w.-])",
                                        message) is not None


#: reads that combine several files (a node-set reference, a node sets file, the populations):
#: validating the mutated file alone cannot be expected to see what they see
_CROSS_FILE = ("resolve_node_set(", "node_sets[")


def check(results: list[tuple], m: Mutation, root: Path, whole_network_validated: bool = True) -> None:
    """Fail with a description of every read that broke the contract."""
    target = str(root / m.file)
    bad: list[str] = []
    raised = []
    validate_errors = 0
    validate_named = 0
    for status, name, info in results:
        if status in ("crash", "hang"):
            bad.append(f"{status.upper()} in {name}: {info['message']}")
        elif status == "exc":
            bad.append(f"{name} raised {info['type']} (not a ModelkitError): {info['message'][:500]}\n"
                       f"{info.get('traceback', '')}")
        elif status == "mk":
            if whole_network_validated or not name.startswith(_CROSS_FILE):
                raised.append(name)
            msg = info["message"]
            if not names_file(msg, target):
                bad.append(f"{name} raised {info['type']} without naming the mutated file {target}: {msg[:500]}")
            elif not (_located(info) or m.whole_file):
                bad.append(f"{name} raised {info['type']} naming no dataset or key: {msg[:500]}")
        elif status == "ok" and name.startswith("validate("):
            for sev, path, _key, text in info:
                if sev == "error":
                    validate_errors += 1
                    validate_named += names_file(text, target)
                if not path:
                    bad.append(f"{name} returned a problem naming no file: {text}")
    if raised and not validate_errors and not bad:
        bad.append(f"reads failed ({raised[:3]}) but validate() reported no error")
    elif raised and not validate_named and not bad:
        bad.append(f"reads failed ({raised[:3]}) but no error of validate() names the mutated file")
    if bad:
        raise AssertionError(f"mutation {m!r}:\n" + "\n".join(bad))


def run_case(m: Mutation, reader: Readers, trees: Trees) -> None:
    scen = SCENARIOS[m.scenario]
    with trees.tree(scen, m.file) as root:
        m.apply(root)
        plans = plan_for(scen, root, m.file, m.validate_top)
        results = reader.run(plans)
    check(results, m, root, any(str(root / scen.top) in p["validate"] for p in plans))


def fuzz(n: int) -> Callable:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ================================================================================= tests
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_unmutated_corpus_reads_cleanly(name, reader, trees):
    """The baseline: on the corpus as it is, every read of the read path succeeds."""
    scen = SCENARIOS[name]
    with trees.tree(scen, None) as root:
        results = reader.run(plan_for(scen, root, None))
    failed = [r for r in results if r[0] != "ok"]
    assert not failed, failed
    assert len(results) > 10


def test_harness_reports_crashes_and_hangs(reader):
    """The reader process turns a segfault and a hang into failures, and comes back afterwards."""
    r = reader.all[0]
    before = r.restarts
    crash = r.run({"selftest": "segfault"})
    assert crash[-1][0] == "crash" and "SIGSEGV" in crash[-1][2]["message"]
    hang = r.run({"selftest": "sleep"}, timeout=1.0)
    assert hang[-1][0] == "hang"
    assert r.restarts == before + 2
    m = Mutation("x", "f", "noop")
    with pytest.raises(AssertionError, match="CRASH"):
        check(crash, m, Path("/"))


@fuzz(650)
@given(m=h5_structure_mutations())
def test_hdf5_structure(m, reader, trees):
    run_case(m, reader, trees)


@fuzz(250)
@given(m=id_mutations())
def test_hdf5_out_of_range_ids(m, reader, trees):
    run_case(m, reader, trees)


@fuzz(400)
@given(m=byte_mutations())
def test_hdf5_corrupt_bytes(m, reader, trees):
    run_case(m, reader, trees)


@fuzz(300)
@given(m=json_mutations())
def test_json_configs(m, reader, trees):
    run_case(m, reader, trees)


@fuzz(120)
@given(m=manifest_mutations())
def test_manifest_variables(m, reader, trees):
    run_case(m, reader, trees)


@fuzz(150)
@given(m=node_set_mutations())
def test_node_sets(m, reader, trees):
    run_case(m, reader, trees)


@fuzz(300)
@given(m=csv_mutations())
def test_csv_tables(m, reader, trees):
    run_case(m, reader, trees)
