"""Issue 15, class 1: the cluster layer reads a user's config with the core's bounds."""

from __future__ import annotations

import os
import threading

import pytest

from modelkit.errors import ConfigError


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_sweep_config_that_is_not_a_regular_file_is_refused_before_any_engine(tmp_path, kind):
    # a cluster-layer reader of a user's config, like the core's: a FIFO blocked open() for ever
    from modelkit.cluster import sweep
    cfg = tmp_path / "config.json"
    if kind == "fifo":
        os.mkfifo(cfg)
    else:
        cfg.symlink_to(kind)
    err: list = []

    def target():
        try:
            sweep(cfg, {"seed": [1]}, cluster=object(), output_dir=tmp_path / "out")
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            err.append(e)

    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(10)
    assert not th.is_alive(), "sweep blocked on the config for more than 10 s"
    assert err and isinstance(err[0], ConfigError) and "config.json" in str(err[0]), err
