"""Issue 15, class 1: hostile inputs that used to hang or grow without bound.

Each case runs the real ``modelkit`` command in a subprocess under a 4 GiB address-space
limit and a time limit, and must end in a one-line ``modelkit:`` error (or a problem
report), never a traceback, a hang or an out-of-memory kill.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from modelkit.errors import ConfigError, NodeSetError, SelectionError, SonataFormatError

LIMIT_S = 30
AS_BYTES = 4 << 30


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_BYTES, AS_BYTES))


def modelkit(*args: object, timeout: float = LIMIT_S) -> subprocess.CompletedProcess:
    """Run the CLI bounded in time and memory; a hang fails the test (TimeoutExpired)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run([sys.executable, "-m", "modelkit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_limit, env=env)


def assert_clean_error(r: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 1 or 2 with the words in the message, or (``info``) exit 0 listing at least one error."""
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    listed = r.returncode == 0 and re.search(r"problems: [1-9]\d* error", r.stdout)
    assert r.returncode in (1, 2) or listed, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    text = r.stdout + r.stderr
    for w in words:
        assert w in text, (w, text[-2000:])


def _root_attrs(f: h5py.File) -> None:
    f.attrs["version"] = np.array([0, 1], np.uint32)
    f.attrs["magic"] = np.uint32(0x0A7A)


def make_network(d: Path, *, n: int = 3, node_sets: object = None, huge_type_ids: bool = False) -> Path:
    """A one-population point network; optionally a node_type_id declaring 10**12 rows, none written."""
    d.mkdir(parents=True, exist_ok=True)
    with h5py.File(d / "nodes.h5", "w") as f:
        _root_attrs(f)
        g = f.create_group("nodes/pop")
        if huge_type_ids:
            big = 10**12
            for k in ("node_type_id", "node_group_id", "node_group_index"):
                g.create_dataset(k, shape=(big,), dtype="i8", chunks=(1024,))
        else:
            g["node_type_id"] = np.ones(n, np.int64)
            g["node_group_id"] = np.zeros(n, np.int64)
            g["node_group_index"] = np.arange(n)
            g.create_dataset("0/model_name", data=["a" * 40 + "b"] * n, dtype=h5py.string_dtype())
    (d / "node_types.csv").write_text("node_type_id model_type\n1 point_neuron\n")
    cfg: dict = {"networks": {"nodes": [{"nodes_file": "nodes.h5", "node_types_file": "node_types.csv"}]}}
    if node_sets is not None:
        (d / "node_sets.json").write_text(json.dumps(node_sets))
        cfg["node_sets_file"] = "node_sets.json"
    (d / "circuit_config.json").write_text(json.dumps(cfg))
    return d / "circuit_config.json"


def make_sim(d: Path, circuit: Path, node_set: str = "x") -> Path:
    cfg = {"network": str(circuit), "run": {"tstop": 10.0, "dt": 0.1},
           "output": {"output_dir": str(d / "out")},
           "reports": {"v": {"module": "membrane_report", "cells": node_set, "variable_name": "V_m"}}}
    p = d / "simulation_config.json"
    p.write_text(json.dumps(cfg))
    return p


# ------------------------------------------------------------------ 1. regexes
EVIL = {"x": {"model_name": {"$regex": "(a+)+$"}}}


@pytest.mark.parametrize("command", ["info", "validate"])
def test_catastrophic_regex_does_not_hang_cli(tmp_path, command):
    cfg = make_network(tmp_path, node_sets=EVIL)
    t = time.perf_counter()
    r = modelkit(command, cfg)
    assert time.perf_counter() - t < LIMIT_S
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode in (0, 1, 2)


def test_catastrophic_regex_matches_in_linear_time(tmp_path):
    from modelkit.sonata import Network, NodeSets
    cfg = make_network(tmp_path, n=2000, node_sets=EVIL)
    pop = Network.load(cfg).nodes["pop"]
    out: list = []
    th = threading.Thread(target=lambda: out.append(NodeSets(EVIL).materialize("x", pop)), daemon=True)
    th.start()
    th.join(10)
    assert not th.is_alive(), "(a+)+$ backtracked for more than 10 s"
    assert len(out[0]) == 0  # the values end in 'b': no match
    sel = NodeSets({"y": {"model_name": {"$regex": "a+b$"}}}).materialize("y", pop)
    assert len(sel) == 2000


@pytest.mark.parametrize("pattern, word", [
    ("(a)\\1", "back-references"),          # needs backtracking
    ("(?=a)a", "look-arounds"),
    ("a" * 1001, "at most 1000 characters"),
    ("(", "regular expression"),
])
def test_unsafe_or_long_regex_is_a_node_set_error(tmp_path, pattern, word):
    from modelkit.sonata import NodeSets
    p = tmp_path / "node_sets.json"
    p.write_text(json.dumps({"bad": {"model_name": {"$regex": pattern}}}))
    with pytest.raises(NodeSetError) as ei:
        NodeSets.from_file(p)
    msg = str(ei.value)
    assert str(p) in msg and "bad.model_name" in msg and word in msg


def test_unsafe_regex_in_a_query_is_a_selection_error(tmp_path):
    from modelkit.sonata import Network
    pop = Network.load(make_network(tmp_path)).nodes["pop"]
    with pytest.raises(SelectionError):
        pop.select(model_name={"$regex": "(a)\\1"})


# ----------------------------------------------- 2. declared size vs storage
def test_sparse_huge_node_type_id_is_refused_by_info_and_validate(tmp_path):
    cfg = make_network(tmp_path, huge_type_ids=True)
    assert (tmp_path / "nodes.h5").stat().st_size < 1 << 20
    r = modelkit("info", cfg)  # info lists problems and exits 0
    assert_clean_error(r, "nodes.h5", "/nodes/pop/", "declared", "0 chunks written")
    r = modelkit("validate", cfg)
    assert_clean_error(r, "nodes.h5", "0 chunks written")


def _sparse_spikes(p: Path, n: int = 10**11, layout: str = "chunked") -> Path:
    with h5py.File(p, "w") as f:
        _root_attrs(f)
        g = f.create_group("spikes/pop")
        kw = {"chunks": (4096,)} if layout == "chunked" else {}
        g.create_dataset("timestamps", shape=(n,), dtype="f8", **kw)
        g.create_dataset("node_ids", shape=(n,), dtype="u8", **kw)
    return p


@pytest.mark.parametrize("layout", ["chunked", "contiguous"])
def test_sparse_huge_spikes_refused_by_plot_raster(tmp_path, layout):
    sp = _sparse_spikes(tmp_path / "spikes.h5", n=10**11 if layout == "chunked" else 10**9, layout=layout)
    r = modelkit("plot", "raster", sp, "-o", tmp_path / "r.png")
    assert_clean_error(r, "modelkit:", "spikes.h5", "/spikes/pop/timestamps", "declared")
    assert not (tmp_path / "r.png").exists()


def test_sparse_huge_report_refused_by_validate(tmp_path):
    p = tmp_path / "report.h5"
    with h5py.File(p, "w") as f:
        _root_attrs(f)
        m = f.create_group("report/pop/mapping")
        m["node_ids"] = np.array([0], np.uint64)
        m["index_pointers"] = np.array([0, 1], np.uint64)
        m["element_ids"] = np.array([0], np.uint32)
        m["time"] = np.array([0.0, 1e12, 0.1])
        f["report/pop"].create_dataset("data", shape=(10**13, 1), dtype="f4", chunks=(65536, 1))
    r = modelkit("validate", p)
    assert_clean_error(r, "report.h5", "/report/pop/data")


def test_sparse_huge_spikes_refused_by_preview(tmp_path):
    from modelkit.labserver.preview import preview_data
    sp = _sparse_spikes(tmp_path / "spikes.h5")
    with pytest.raises(SonataFormatError) as ei:
        preview_data(str(sp), "raster")
    assert ei.value.dataset == "/spikes/pop/timestamps"


def test_moderate_unwritten_dataset_is_refused(tmp_path):
    """Not only 10**12 rows: a few-MB file can hold thousands of unwritten 1 MB columns."""
    from modelkit.sonata import read_spikes
    p = tmp_path / "spikes.h5"
    with h5py.File(p, "w") as f:
        g = f.create_group("spikes/pop")
        g.create_dataset("timestamps", shape=(100_000,), dtype="f8", chunks=(1000,))
        g.create_dataset("node_ids", shape=(100_000,), dtype="u8", chunks=(1000,))
    with pytest.raises(SonataFormatError, match="0 chunks written"):
        read_spikes(p)


def test_partly_written_chunked_dataset_is_refused(tmp_path):
    from modelkit.sonata import read_spikes
    p = tmp_path / "spikes.h5"
    with h5py.File(p, "w") as f:
        g = f.create_group("spikes/pop")
        ts = g.create_dataset("timestamps", shape=(10**7,), dtype="f8", chunks=(1000,))
        ids = g.create_dataset("node_ids", shape=(10**7,), dtype="u8", chunks=(1000,))
        ts[:5000] = 1.0
        ids[:5000] = 1
    with pytest.raises(SonataFormatError, match="5 chunks written"):
        read_spikes(p)


def test_compressed_datasets_smaller_than_declared_are_read(tmp_path):
    """Compression makes legitimate chunks smaller than declared: chunks are counted, not bytes."""
    from modelkit.sonata import read_spikes
    p = tmp_path / "spikes.h5"
    n = 5_000_000
    with h5py.File(p, "w") as f:
        g = f.create_group("spikes/pop")
        g.create_dataset("timestamps", data=np.zeros(n), chunks=(1 << 16,), compression="gzip")
        g.create_dataset("node_ids", data=np.zeros(n, np.uint64), chunks=(1 << 16,), compression="gzip")
    assert p.stat().st_size < n  # far below the 80 MB declared
    assert len(read_spikes(p)["pop"]) == n


# --------------------------------------------------------------- 3. manifest
def test_doubling_manifest_is_a_config_error(tmp_path):
    n = 40
    man = {f"$V{i}": f"$V{i + 1}$V{i + 1}" for i in range(n)}
    man[f"$V{n}"] = "x"
    circuit = make_network(tmp_path / "net")
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"manifest": man, "network": str(circuit), "run": {"tstop": 1.0, "dt": 0.1},
                             "output": {"output_dir": "$V0"}}))
    from modelkit.sonata import load_config
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert str(p) in str(ei.value) and "manifest.$V" in str(ei.value)
    r = modelkit("info", p)
    assert_clean_error(r, str(p), "manifest")


def test_doubling_substitution_in_a_value_is_bounded(tmp_path):
    """Each variable stays small, but one value names it many times."""
    circuit = make_network(tmp_path / "net")
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"manifest": {"$A": "a" * 60_000}, "network": str(circuit),
                             "run": {"tstop": 1.0, "dt": 0.1}, "output": {"output_dir": "$A" * 20_000}}))
    from modelkit.sonata import load_config
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert "output.output_dir" in str(ei.value)


# --------------------------------------------------------- 4. what is read
def test_fifo_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    r = modelkit("info", fifo, timeout=LIMIT_S)
    assert_clean_error(r, str(fifo), "regular file")
    r = modelkit("run", fifo)
    assert_clean_error(r, "modelkit:", str(fifo), "regular file")


@pytest.mark.parametrize("command", ["info", "validate"])
@pytest.mark.parametrize("name", ["config.json", "nodes.h5"])
def test_dev_zero_config_is_refused(tmp_path, command, name):
    p = tmp_path / name
    p.symlink_to("/dev/zero")
    r = modelkit(command, p)
    assert_clean_error(r, name, "regular file", "character device")


def test_fifo_h5_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "nodes.h5"
    os.mkfifo(fifo)
    r = modelkit("validate", fifo)
    assert_clean_error(r, "nodes.h5", "regular file", "FIFO")


def test_node_sets_file_that_is_a_fifo_or_dev_zero(tmp_path):
    from modelkit.sonata import NodeSets
    with pytest.raises(ConfigError, match="regular file"):
        NodeSets.from_file("/dev/zero")
    fifo = tmp_path / "ns.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="regular file"):
        NodeSets.from_file(fifo)


def test_huge_config_file_is_refused(tmp_path):
    from modelkit.sonata.config import MAX_JSON_BYTES, read_json
    p = tmp_path / "big.json"
    with open(p, "wb") as f:  # sparse: costs no disk
        f.truncate(MAX_JSON_BYTES + 1)
    with pytest.raises(ConfigError, match="at most"):
        read_json(p)


def test_types_csv_that_is_dev_zero(tmp_path):
    cfg = make_network(tmp_path)
    raw = json.loads(cfg.read_text())
    os.mkfifo(tmp_path / "fifo_types.csv")
    raw["networks"]["nodes"][0]["node_types_file"] = "fifo_types.csv"
    cfg.write_text(json.dumps(raw))
    r = modelkit("info", cfg)
    assert_clean_error(r, "fifo_types.csv")
    from modelkit.sonata.types_table import read_types_csv
    with pytest.raises(SonataFormatError, match="FIFO"):
        read_types_csv(tmp_path / "fifo_types.csv", "node_type_id")


def _in_subprocess(code: str) -> subprocess.CompletedProcess:
    """Run python ``code`` bounded in time and memory (a blocking open fails the test by timeout)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LIMIT_S,
                          preexec_fn=_limit, env=env)


def test_validate_csv_that_is_a_fifo(tmp_path):
    fifo = tmp_path / "types.csv"
    os.mkfifo(fifo)
    r = modelkit("validate", fifo)
    assert_clean_error(r, "types.csv", "FIFO")


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_other_text_inputs_are_bounded(tmp_path, target):
    """Spikes CSV, dynamics_params JSON, waveform JSON/CSV, rates CSV are read like configs: regular files only."""
    if target == "fifo":
        src = tmp_path / "fifo"
        os.mkfifo(src)
    else:
        src = Path(target)
    for name in ("spikes.csv", "params.json", "wave.json", "wave.csv", "rates.csv"):
        (tmp_path / name).symlink_to(src)
    code = f"""
from modelkit.errors import ModelkitError
from modelkit.sonata.spikes import read_spikes
from modelkit.simulator.paramfiles import read_params_json
from modelkit.simulator.neuron.electrode_modules import waveform_values
from modelkit.simulator.population.modules import read_rates
import numpy as np
calls = ((read_spikes, ({str(tmp_path / 'spikes.csv')!r},)),
         (read_params_json, ({str(tmp_path / 'params.json')!r},)),
         (waveform_values, ({str(tmp_path / 'wave.json')!r}, np.arange(3.0))),
         (waveform_values, ({str(tmp_path / 'wave.csv')!r}, np.arange(3.0))),
         (read_rates, ({str(tmp_path / 'rates.csv')!r},)))
for f, args in calls:
    try:
        f(*args)
    except ModelkitError as e:
        print("OK", type(e).__name__, e)
"""
    r = _in_subprocess(code)
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.stdout.count("OK") == 5, r.stdout
    assert "regular file" in r.stdout


@pytest.mark.parametrize("layout", ["units", "legacy"])
def test_sparse_huge_nwb_spikes_are_refused(tmp_path, layout):
    """NWB spike files are read through the same declared-size check as SONATA files."""
    p = tmp_path / "spikes.nwb"
    with h5py.File(p, "w") as f:
        if layout == "units":
            f.create_dataset("units/spike_times", shape=(10**12,), dtype="f8", chunks=(4096,))
        else:
            f.create_dataset("processing/trial_0/spike_train/0/data", shape=(10**12,), dtype="f8", chunks=(4096,))
    r = _in_subprocess(f"""
from modelkit.errors import SonataFormatError
from modelkit.sonata.nwb import read_nwb_spikes
try:
    read_nwb_spikes({str(p)!r})
except SonataFormatError as e:
    print("OK", e)
""")
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.stdout.startswith("OK") and "spikes.nwb" in r.stdout, r.stdout
