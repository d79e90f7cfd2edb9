"""What the benchmark scripts share: each program runs in a child process of its own (so peak RSS is its
own ``ru_maxrss`` and no simulator state leaks between runs), a scratch folder, tables and the verdict.

Imported by the ``bench_*.py`` scripts next to it (run as ``python benchmarks/bench_x.py``, so this
folder is on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any


def peak_rss_mib() -> float:
    """This process's peak resident memory (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spawn(script: str, child: str, workdir: str, tag: str, extra: Sequence[str], *, capture: bool = True,
          cwd: str | None = None) -> dict[str, Any]:
    """Run ``script --child CHILD --result <workdir>/<tag>.json EXTRA...`` and return the JSON it writes, with
    ``total`` (wall s, the process included); on failure ``{"error", "wall_s", "log"}`` (the output's tail)."""
    result = os.path.join(workdir, f"{tag}.json")
    if os.path.exists(result):
        os.remove(result)
    cmd = [sys.executable, os.path.abspath(script), "--child", child, "--result", result, *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=capture, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    if r.returncode != 0 or not os.path.exists(result):
        tail = ((r.stdout or "") + (r.stderr or "")).strip().splitlines()[-15:]
        return {"error": f"exit status {r.returncode}", "wall_s": wall, "log": "\n".join(tail)}
    with open(result) as f:
        res = json.load(f)
    res["total"] = wall
    return res


def fmt_row(cols: Sequence[str], widths: Sequence[int]) -> str:
    """First column left-aligned, the others right-aligned."""
    return "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(cols, widths)))


def print_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(head)]
    print(fmt_row(head, widths))
    for r in rows:
        print(fmt_row(r, widths))


@contextlib.contextmanager
def scratch(prefix: str, base: str | None, keep: bool) -> Iterator[str]:
    """A new folder under ``base`` (default: the system's temporary folder), removed afterwards unless ``keep``."""
    root = base or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=prefix, dir=root)
    try:
        yield workdir
    finally:
        if keep:
            print(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def verdict(targets: Sequence[tuple[str, float, bool, str]], *, failed: bool, quick: bool,
            failure: str = "a run failed") -> int:
    """Print each target (label, value, met, unit) and return the exit status: 1 when a run failed or (not
    ``quick``) a target was missed."""
    missed = False
    for label, value, ok, unit in targets:
        missed |= not ok
        print(f"target {label}: {value:.2f}{unit} -> target met: {'yes' if ok else 'NO'}")
    if failed:
        print(f"FAILED: {failure}")
        return 1
    if missed and not quick:
        print("FAILED: a target was missed")
        return 1
    if missed:
        print("(--quick: targets are for information)")
    return 0


def config_with_output(config: str, out: str) -> str:
    """A copy of a simulation config (in ``out``) whose ``output.output_dir`` is ``out``: what bmtk runs, so
    its outputs never land next to the inputs."""
    with open(config) as f:
        cfg = json.load(f)
    cfg["output"]["output_dir"] = out
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def time_initialize(modules: Sequence[Any]) -> list[float]:
    """Wrap each simulator module's ``initialize`` so the seconds they take add up in the returned cell (bmtk
    sets up inputs and reports there, inside ``sim.run()``: setup, not integration)."""
    spent = [0.0]
    for mod in modules:
        def timed(*a: Any, _f: Any = mod.initialize) -> Any:
            t = time.perf_counter()
            try:
                return _f(*a)
            finally:
                spent[0] += time.perf_counter() - t
        mod.initialize = timed
    return spent
