"""prestart_local: the next run_local's process starts ahead (imports done) and runs the job it is handed, with
the same spikes as a fresh process; unused, it ends without running anything."""

from __future__ import annotations

import time

import numpy as np

from modelkit.cluster import discard_prestarted, local, prestart_local, run_local
from modelkit.datasets import balanced_network


def _spikes(run) -> tuple[np.ndarray, np.ndarray]:
    s = run.spikes
    order = np.lexsort((s.node_ids, s.timestamps))
    return s.node_ids[order], s.timestamps[order]


def test_prestarted_child_runs_the_next_job(tmp_path, stream_equals_file):
    cfg = balanced_network(tmp_path / "net", n_exc=80, n_inh=20, n_input=50, tstop=200.0)
    discard_prestarted()
    cold = run_local(cfg, output_dir=tmp_path / "cold", overwrite=True, overrides={"node_types.LIF_exc.tau_m": 12.0})
    assert cold.wait(120) == "done", cold.error
    prestart_local(("nest",))
    ((proc, _),) = local._warm
    prestart_local(("nest",))  # one waits at most
    assert len(local._warm) == 1
    time.sleep(1.0)
    assert proc.poll() is None  # waiting for its job
    warm = run_local(cfg, output_dir=tmp_path / "warm", overwrite=True, overrides={"node_types.LIF_exc.tau_m": 12.0})
    assert warm._ar.proc is proc and local._warm == []
    assert warm.wait(120) == "done", warm.error
    stream_equals_file(warm, warm.result)
    for a, b in zip(_spikes(cold), _spikes(warm)):
        np.testing.assert_array_equal(a, b)


def test_discarded_child_runs_nothing(tmp_path):
    prestart_local(())
    ((proc, job_dir),) = local._warm
    discard_prestarted()
    assert proc.wait(10) == 0 and local._warm == []
    import os
    assert not os.path.exists(job_dir)


def test_dead_prestarted_child_is_replaced(tmp_path):
    cfg = balanced_network(tmp_path / "net", n_exc=40, n_inh=10, n_input=20, tstop=100.0)
    prestart_local(())
    ((proc, _),) = local._warm
    proc.kill()
    proc.wait()
    run = run_local(cfg, output_dir=tmp_path / "out", overwrite=True)  # a fresh child instead
    assert run._ar.proc is not proc
    assert run.wait(120) == "done", run.error


def test_malformed_override_key_is_refused_before_the_run(tmp_path):
    import pytest

    from modelkit.errors import ConfigError
    with pytest.raises(ConfigError, match="node_types"):
        run_local(str(tmp_path / "config.json"), overrides={"tau_m": 10.0})


def test_prestarted_child_ends_with_its_notebook(tmp_path):
    """The notebook (here a Python process) ends: its waiting child sees its stdin close, ends, removes its folder."""
    import os
    import subprocess
    import sys
    code = ("from modelkit.cluster import local, prestart_local; prestart_local(()); "
            "print(local._warm[0][1], flush=True)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    job_dir = out.stdout.strip()
    assert job_dir and out.returncode == 0, out.stderr
    deadline = time.monotonic() + 60
    while os.path.exists(job_dir):
        assert time.monotonic() < deadline, f"{job_dir} still there"
        time.sleep(0.1)
