"""JupyterHub on a real Slurm: log in, JupyterLab starts as a Slurm job, a live run on Slurm engines.

The path a user on a cluster takes, end to end: ``modelkit hpc hub-config`` writes the hub's config
(``batchspawner.SlurmSpawner``, the dummy authenticator, hub and proxy on 127.0.0.1); the browser logs in;
batchspawner submits JupyterLab as a Slurm job (the session's ``slurm`` fixture); modelkit's lab extension is
there (the tutorials launcher card, the Run monitor); a notebook cell starts Slurm engines
(``start_cluster(engines="slurm")``) and streams a run into a ``LiveRaster``; the server is stopped from the
hub's home page and its job leaves ``squeue``.  Every file (the hub's database and logs, the user's folder,
the Jupyter and IPython folders) is under the test's folder; the hub and the proxy are stopped by pid.
Screenshots: ``test-artifacts/browser/hub_*.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _hub import Hub, find_proxy, pid_alive
from _jupyter_lab import DEFAULT_SETTINGS, free_port, write_notebook

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install 'modelkit[test]'")
pytest.importorskip("batchspawner", reason="batchspawner is not installed: pip install 'modelkit[test]'")
pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

from modelkit.cli import main as modelkit_main  # noqa: E402

pytestmark = pytest.mark.slurm

USER = "root"  # root works with --allow-root (PLATFORM.md §6); runuser needs no sudo

CELLS = [
    """import os
from modelkit.cluster import run_on_cluster, start_cluster, stop_cluster
from modelkit.datasets import balanced_network
from modelkit.widgets import LiveRaster

rc = start_cluster(1, engines="slurm", profile_dir=os.path.abspath("ipp-profile"))
cfg = balanced_network("net", n_exc=160, n_inh=40, tstop=1_000_000.0)
raster = LiveRaster(max_rate=4, window=200.0)
run = run_on_cluster(cfg, cluster=rc, output_dir=os.path.abspath("out"), overwrite=True)
raster.attach(run)
raster""",
    """run.stop()
print(run.wait(timeout=120), os.environ["SLURM_JOB_ID"], len(run.spikes) > 0)
stop_cluster(rc)
print("cluster stopped")""",
]


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _received(page) -> int:
    return int(page.locator(".mk-live-raster .mk-count").get_attribute("data-received") or 0)


def _jobs_named(slurm, name: str) -> list[str]:
    r = slurm.run(["squeue", "-h", "-n", name, "-o", "%i"], check=False)
    return r.stdout.split()


def test_hub_spawns_lab_as_slurm_job_and_runs_live_on_slurm_engines(page, slurm, tmp_path: Path,
                                                                    artifacts: Path) -> None:
    proxy = find_proxy()
    if proxy is None:
        pytest.skip("configurable-http-proxy is missing and npm cannot install it (.ci/run installs it)")
    hub_dir, users = tmp_path / "hub", tmp_path / "users"
    hub_dir.mkdir()
    state = tmp_path / "jupyter"  # the single-user server's Jupyter, IPython and lab settings folders
    settings = state / "settings"
    for plugin, values in DEFAULT_SETTINGS.items():
        f = settings / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    port = free_port()
    env = [f"JUPYTER_CONFIG_DIR={state / 'cfg'}", f"JUPYTER_DATA_DIR={state / 'data'}",
           f"JUPYTER_RUNTIME_DIR={state / 'rt'}", f"IPYTHONDIR={state / 'ipython'}",
           f"JUPYTERLAB_SETTINGS_DIR={settings}", f"JUPYTERLAB_WORKSPACES_DIR={state / 'ws'}",
           f"MPLCONFIGDIR={state / 'mpl'}"]
    config = hub_dir / "jupyterhub_config.py"
    rc = modelkit_main(["hpc", "hub-config", "-o", str(config), "--authenticator", "dummy", "--user", USER,
                        "--ip", "127.0.0.1", "--port", str(port), "--hub-ip", "127.0.0.1",
                        "--hub-port", str(free_port()), "--server-ip", "127.0.0.1", "--partition", "debug",
                        "--time", "30:00", "--user-dir", f"{users}/{{username}}",
                        "--exec-prefix", "runuser -u {username} --", "--allow-root", "--proxy-command", proxy,
                        "--start-timeout", "240", *[a for e in env for a in ("--env", e)]])
    assert rc == 0
    with open(config, "a") as f:  # what an admin adds for a test machine: the proxy's API on a free port,
        # and the app exposed to the test's scripts
        f.write(f"\nc.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{free_port()}'\n"
                "c.Spawner.args += ['--LabApp.expose_app_in_browser=True', '--LabApp.news_url=None',\n"
                "                   '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']\n")
    write_notebook(users / USER / "hub.ipynb", CELLS)

    hub = Hub(config, hub_dir, f"http://127.0.0.1:{port}")
    lab_job: list[str] = []
    try:
        hub.wait_ready()
        assert hub.proxy_pid is not None and pid_alive(hub.proxy_pid)

        # log in; the hub spawns JupyterLab as a Slurm job and sends the browser to it
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(f"{hub.url}/hub/login")
        page.locator("input#username_input").fill(USER)
        page.locator("input#password_input").fill("any")
        page.screenshot(path=str(artifacts / "hub_1_login.png"))
        page.locator("#login_submit").click()
        _wait(lambda: bool(_jobs_named(slurm, f"jupyterlab-{USER}")), 60, "the JupyterLab job in squeue")
        lab_job = _jobs_named(slurm, f"jupyterlab-{USER}")
        page.wait_for_url(f"**/user/{USER}/lab**", timeout=240_000)
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=120_000)
        assert slurm.job_state(lab_job[0]) == "RUNNING"

        # modelkit's lab extension: the tutorials card in the launcher, the Run monitor sidebar
        page.evaluate("async () => { await window.jupyterapp.restored; "
                      "await window.jupyterapp.commands.execute('launcher:create'); }")
        expect(page.locator(".jp-LauncherCard:visible").filter(has_text="modelkit tutorials")).to_be_visible(
            timeout=60_000)
        page.screenshot(path=str(artifacts / "hub_2_lab_launcher.png"))
        page.evaluate("window.jupyterapp.commands.execute('modelkit:show-runs')")
        expect(page.locator("#modelkit-run-monitor")).to_be_visible(timeout=30_000)

        # the notebook: Slurm engines, a live run into a LiveRaster
        page.goto(f"{hub.url}/user/{USER}/lab/tree/hub.ipynb?reset")
        expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=120_000)
        page.evaluate("window.jupyterapp.commands.execute('modelkit:show-runs')")  # a reset workspace: reopen it
        expect(page.locator("#modelkit-run-monitor")).to_be_visible(timeout=30_000)
        page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Enter")
        _wait(lambda: page.locator(".mk-live-raster .mk-count").count() > 0 and _received(page) > 0, 240,
              "the first spikes in the raster")
        first = _received(page)
        _wait(lambda: _received(page) > first, 60, "the raster to grow")
        # the server's and the kernel's files are under the test's folder (the --env folders), not in ~
        assert list((state / "rt").glob("kernel-*.json")) and list((state / "rt").glob("jpserver-*.json"))
        jobs = slurm.jobs()
        assert len(jobs) == 2 and lab_job[0] in jobs  # JupyterLab's job and the engines' job
        raster = page.locator(".mk-live-raster")
        raster.evaluate("el => el.scrollIntoView({block: 'center'})")
        page.screenshot(path=str(artifacts / "hub_3_live_raster.png"))
        monitor = page.locator("#modelkit-run-monitor li.jp-mk-run")
        expect(monitor.first).to_have_attribute("data-status", "running", timeout=60_000)

        # cell 2 stops the run and the engines; only JupyterLab's job is left
        page.keyboard.press("Shift+Enter")
        out = page.locator(".jp-NotebookPanel .jp-Cell").nth(1)
        expect(out).to_contain_text("cluster stopped", timeout=120_000)
        expect(out).to_contain_text(f"{lab_job[0]} True")  # the kernel runs inside JupyterLab's job
        _wait(lambda: slurm.jobs() == lab_job, 60, "the engines' job to leave squeue")
        page.screenshot(path=str(artifacts / "hub_4_stopped.png"))

        # stop the server from the hub's home page: its job leaves the queue
        page.goto(f"{hub.url}/hub/home")
        page.locator("#stop").click()
        _wait(lambda: slurm.job_state(lab_job[0]) == "", 120, "JupyterLab's job to leave squeue")
        expect(page.locator("#start")).to_be_visible(timeout=60_000)
        page.screenshot(path=str(artifacts / "hub_5_server_stopped.png"))
        logs = list((users / USER / ".jupyterhub-slurm").glob("jupyterlab-*.log"))
        assert [p.name for p in logs] == [f"jupyterlab-{lab_job[0]}.log"]
        assert not list((users / USER).glob("slurm-*.out")) and not list((users / USER).glob("*.sbatch"))
    except BaseException:
        print(hub.log[-6000:])
        raise
    finally:
        hub.stop()
        for job in lab_job:
            if slurm.job_state(job):
                slurm.run(["scancel", job], check=False)
    assert hub.proc.poll() is not None
    assert hub.proxy_pid is None or not pid_alive(hub.proxy_pid)
