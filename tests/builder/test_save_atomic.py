"""NetworkBuilder.save() and Network.save() are all-or-nothing: a kill at any point leaves the whole old
network or the whole new one (after the next load), never new nodes beside old edges; a killed save or
build leaves nothing in TMPDIR; other files of the output folder are never touched."""

from __future__ import annotations

import os
import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelkit.builder import FixedProbability, NetworkBuilder
from modelkit.sonata import Network, validate


def make(seed: int, n: int) -> NetworkBuilder:
    """A small network; ``seed`` and ``n`` make old and new differ in nodes, edges and values."""
    net = NetworkBuilder("net", seed=seed)
    net.add_nodes(N=n, ei="e", tau_m=np.linspace(10.0, 20.0, n) + seed, model_type="point_neuron",
                  model_template="nest:iaf_psc_alpha")
    net.add_nodes(N=n // 4, ei="i", tau_m=np.full(n // 4, 5.0 + seed), model_type="point_neuron",
                  model_template="nest:iaf_psc_alpha")
    net.add_edges(source={"ei": "e"}, target={"ei": "i"}, connection_rule=FixedProbability(0.3),
                  syn_weight=1.0 + seed, delay=1.5, dynamics_params="e2i.json", model_template="static_synapse")
    net.add_edges(source={"ei": "i"}, target={"ei": "e"}, connection_rule=FixedProbability(0.3),
                  syn_weight=-2.0 - seed, delay=1.5, dynamics_params="i2e.json", model_template="static_synapse")
    return net


def signature(folder: Path) -> tuple:
    """Node count, edge counts per population, and values of every file, read through modelkit."""
    net = Network.load(folder)
    try:
        nodes = net.nodes["net"]
        sig: list[Any] = [nodes.size, round(float(np.sum(nodes.column("tau_m"))), 6)]
        for name in sorted(net.edges):
            e = net.edges[name]
            df = e.get(["syn_weight", "source_node_id"])
            sig += [name, e.size, round(float(df["syn_weight"].sum()), 6), int(df["source_node_id"].sum())]
        return tuple(sig)
    finally:
        net.close()


def errors(folder: Path) -> list:
    return [p for p in validate(folder) if p.severity == "error"]


def leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if ".saving-" in n or n.endswith(".tmp"))


@pytest.fixture()
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR of this test (and of its forked children): what builds leave there is visible."""
    d = tmp_path / "TMPDIR"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _fork(fn: Any) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            fn()
            code = 0
        finally:
            os._exit(code)
    return pid


def _wait(pid: int) -> int:
    return os.waitpid(pid, 0)[1]


def test_kill_anywhere_during_save_leaves_old_or_new_network(tmp_path: Path, private_tmpdir: Path) -> None:
    """SIGKILL at 50 seeded random times during a save over an existing network."""
    out = tmp_path / "network"
    make(1, 120).save(output_dir=out)
    old = signature(out)
    ref = tmp_path / "ref"
    make(2, 160).save(output_dir=ref)
    new = signature(ref)
    assert old != new and old[0] != new[0]
    # how long a save over the old network takes in a child (the build happens inside the save)
    durations = []
    for _ in range(2):
        t = time.perf_counter()
        assert _wait(_fork(lambda: make(1, 120).save(output_dir=out))) == 0
        durations.append(time.perf_counter() - t)
    span = max(durations)
    rng = random.Random(1234)
    seen = set()
    for i in range(50):
        pid = _fork(lambda: make(2, 160).save(output_dir=out))
        time.sleep(rng.uniform(0.0, span))
        os.kill(pid, signal.SIGKILL)
        _wait(pid)
        got = signature(out)  # the load completes or rolls back an interrupted save
        assert got in (old, new), f"kill {i}: a mix of the old and the new network: {got}"
        seen.add(got == new)
        assert errors(out) == [], f"kill {i}"
        if got == new:  # back to the old network for the next kill
            assert _wait(_fork(lambda: make(1, 120).save(output_dir=out))) == 0
            assert signature(out) == old
    assert seen == {False, True}, "the kills should land both before and after the switch"
    make(2, 160).save(output_dir=out)
    assert signature(out) == new
    assert leftovers(out) == [], "the next save removes what killed saves left"
    assert os.listdir(private_tmpdir) == [], "saves build next to their target, not in TMPDIR"


def _die_after_first_replace_into(folder: Path) -> None:
    """In a forked child: SIGKILL itself right after the first file is moved into ``folder``."""
    real = os.replace

    def replace(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        real(src, dst, *a, **k)
        if os.path.dirname(os.path.abspath(os.fspath(dst))) == str(folder) and str(dst).endswith((".h5", ".csv")):
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace  # type: ignore[assignment]


def test_kill_between_two_files_is_completed_by_the_next_load(tmp_path: Path, private_tmpdir: Path) -> None:
    out = tmp_path / "network"
    make(1, 40).save(output_dir=out)
    old = signature(out)
    make(2, 60).save(output_dir=tmp_path / "ref")
    new = signature(tmp_path / "ref")

    def child() -> None:
        net = make(2, 60)
        _die_after_first_replace_into(out)
        net.save(output_dir=out)
    assert _wait(_fork(child)) != 0
    assert signature(out) in (old, new)
    assert errors(out) == []
    make(1, 40).save(output_dir=out)
    assert signature(out) == old and leftovers(out) == []


def test_network_save_is_all_or_nothing(tmp_path: Path) -> None:
    make(1, 40).save(output_dir=tmp_path / "a")
    make(2, 60).save(output_dir=tmp_path / "b")
    a, b = Network.load(tmp_path / "a"), Network.load(tmp_path / "b")
    out = tmp_path / "copy"
    a.save(out)
    old = signature(out)

    def child() -> None:
        _die_after_first_replace_into(out)
        b.save(out, overwrite=True)
    assert _wait(_fork(child)) != 0
    assert signature(out) in (old, signature(tmp_path / "b"))
    assert errors(out) == []
    assert b.save(out, overwrite=True) and leftovers(out) == []
    assert signature(out) == signature(tmp_path / "b")


def test_save_leaves_other_files_of_the_folder_alone(tmp_path: Path) -> None:
    out = tmp_path / "network"
    (out / "components").mkdir(parents=True)
    (out / "components" / "x.json").write_text("{}")
    (out / "config.json").write_text("{}")
    other = NetworkBuilder("lgn", seed=3)
    other.add_nodes(N=5, model_type="virtual")
    other.save(output_dir=out)
    before = {n: (out / n).stat().st_ino for n in ("lgn_nodes.h5", "lgn_node_types.csv", "config.json")}
    make(1, 40).save(output_dir=out)
    make(2, 60).save(output_dir=out)
    assert {n: (out / n).stat().st_ino for n in before} == before
    assert (out / "components" / "x.json").read_text() == "{}"
    assert Network.load(out / "lgn_nodes.h5").nodes["lgn"].size == 5
    assert leftovers(out) == []


def test_killed_build_leaves_nothing_in_tmpdir_after_the_next_build(tmp_path: Path, private_tmpdir: Path) -> None:
    def child() -> None:
        make(2, 400).build()
        time.sleep(60)  # killed here, its work folder in TMPDIR
    pid = _fork(child)
    deadline = time.monotonic() + 60
    while not os.listdir(private_tmpdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    _wait(pid)
    assert os.listdir(private_tmpdir), "the killed build left its work folder"
    live = make(1, 40)
    live.build()
    assert len(os.listdir(private_tmpdir)) == 1, "the next build removes the work folders of dead processes"
    del live


def test_staging_of_a_live_save_is_kept(tmp_path: Path) -> None:
    """A save in progress in another process is not removed by a save of another network there."""
    out = tmp_path / "network"
    out.mkdir()
    r, w = os.pipe()

    def child() -> None:
        os.close(w)
        import modelkit.sonata.fileset as fs
        real = fs.FileSet.commit

        def slow_commit(self: Any) -> None:
            os.read(r, 1)  # wait for the parent
            real(self)
        fs.FileSet.commit = slow_commit  # type: ignore[method-assign]
        make(2, 60).save(output_dir=out)
    pid = _fork(child)
    os.close(r)
    deadline = time.monotonic() + 60
    while not any(".saving-" in n for n in os.listdir(out)) and time.monotonic() < deadline \
            and os.waitpid(pid, os.WNOHANG) == (0, 0):
        time.sleep(0.05)
    time.sleep(0.3)
    make(1, 40).save(output_dir=tmp_path / "elsewhere")
    other = NetworkBuilder("lgn", seed=3)
    other.add_nodes(N=5, model_type="virtual")
    other.save(output_dir=out)
    assert any(".net.saving-" in n for n in os.listdir(out)), "the live save's staging folder was removed"
    os.write(w, b"x")
    os.close(w)
    assert _wait(pid) == 0
    assert signature(out)[0] == 75 and leftovers(out) == []
