"""JupyterHub on a real Slurm: log in, JupyterLab starts as a Slurm job, a live run on Slurm engines.

The path a user on a cluster takes, end to end: ``modelkit hpc hub-config`` writes the hub's config
(``batchspawner.SlurmSpawner``, the dummy authenticator, hub and proxy on 127.0.0.1); the browser logs in;
batchspawner submits JupyterLab as a Slurm job (the session's ``slurm`` fixture); modelkit's lab extension is
there (the tutorials launcher card, the Run monitor); the launcher card copies the tutorials into the
user's folder, and the shipped tutorial 09 runs with Run > Run All Cells: its engines are a Slurm job
(``slurm_available()`` is true in the hub), its ``LiveRaster`` receives the spikes while the run goes, and
no cell shows an error; a notebook cell then starts Slurm engines (``start_cluster(engines="slurm")``) and
streams a run into a ``LiveRaster`` that is stopped mid-run; the server is stopped from the hub's home page
and its job leaves ``squeue``.  Every file (the hub's database and logs, the user's folder,
the Jupyter and IPython folders) is under the test's folder; the hub and the proxy are stopped by pid.
Screenshots: ``test-artifacts/browser/hub_*.png``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from _hub import Hub, find_proxy, pid_alive
from _jupyter_lab import DEFAULT_SETTINGS, free_port, wait_kernel_idle, write_notebook

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install 'modelkit[test]'")
pytest.importorskip("batchspawner", reason="batchspawner is not installed: pip install 'modelkit[test]'")
pytest.importorskip("playwright", reason="playwright is not installed: pip install 'modelkit[test]'")
from playwright.sync_api import expect  # noqa: E402

from modelkit.cli import main as modelkit_main  # noqa: E402

pytestmark = pytest.mark.slurm

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TUTORIAL = "09_hpc_mpi_engines.ipynb"
#: the notebook's cells, by index: the one that starts the engines, the run with its raster, the counts
#: (file, stream, raster), and the last one (stop_cluster)
ENGINES_CELL, RUN_CELL, COUNTS_CELL, LAST_CELL = 3, 4, 7, 8

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


#: samples, in the page every 50 ms, the current notebook's raster count and whether the run's cell is still
#: executing (its prompt "[*]"): both read at the same instant
SAMPLER = """([runCell]) => {
  const nb = window.jupyterapp.shell.currentWidget;
  const seen = window.__mkSeen = {busy: [], after: 0};
  window.__mkTimer = setInterval(() => {
    const count = nb.node.querySelector('.mk-live-raster .mk-count');
    const received = count ? Number(count.dataset.received || 0) : 0;
    const prompt = nb.content.widgets[runCell].node.querySelector('.jp-InputPrompt').textContent;
    if (prompt.includes('*')) { if (received > 0) seen.busy.push(received); } else { seen.after = received; }
  }, 50);
}"""


def _cell(page, index: int, what: str) -> str:
    """The current notebook's cell ``index``: its prompt (``what="prompt"``) or its outputs' text."""
    sel = ".jp-InputPrompt" if what == "prompt" else ".jp-OutputArea"
    return page.evaluate("([i, sel]) => { const n = window.jupyterapp.shell.currentWidget.content.widgets[i].node"
                         ".querySelector(sel); return n ? n.innerText : ''; }", [index, sel])


def _tutorial_received(page) -> int:
    return page.evaluate("() => Number(window.jupyterapp.shell.currentWidget.node.querySelector("
                         "'.mk-live-raster .mk-count')?.dataset.received || 0)")


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

        # the shipped tutorial 09, as a user gets it: the launcher card copies the tutorials into the user's
        # folder (and opens the first); 09 opens from there and runs with Run > Run All Cells
        tutorials = users / USER / "modelkit-tutorials"
        page.locator(".jp-LauncherCard:visible").filter(has_text="modelkit tutorials").click()
        _wait(lambda: (tutorials / TUTORIAL).is_file(), 60, "the tutorials copied into the user's folder")
        first = sorted(NOTEBOOKS.glob("*.ipynb"))[0].name  # the card opens it: wait, or it may open over 09
        expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(first.removesuffix(".ipynb"),
                                                                               timeout=60_000)
        assert (tutorials / TUTORIAL).read_bytes() == (NOTEBOOKS / TUTORIAL).read_bytes()
        shipped = {p.name for p in tutorials.iterdir()}
        page.evaluate(f"() => {{ window.jupyterapp.commands.execute('docmanager:open', "
                      f"{{path: 'modelkit-tutorials/{TUTORIAL}'}}); }}")
        expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(TUTORIAL.removesuffix(".ipynb"),
                                                                               timeout=60_000)
        wait_kernel_idle(page, 120_000)
        page.evaluate(SAMPLER, [RUN_CELL])
        page.locator(".lm-MenuBar-item").filter(has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-item:visible").filter(has_text=re.compile(r"^Run All Cells")).click()
        engines_job, during, shot = "", [], False
        deadline = time.monotonic() + 420
        while not re.search(r"\[\d+\]", _cell(page, LAST_CELL, "prompt")):
            assert time.monotonic() < deadline, "timed out waiting for tutorial 09 to run to its end"
            received, jobs = _tutorial_received(page), [j for j in slurm.jobs() if j not in lab_job]
            engines_job = engines_job or (jobs[0] if jobs else "")
            if received > 0 and engines_job in jobs:  # spikes in the raster while the engines' job runs
                during.append(received)
                if not shot and "*" in _cell(page, RUN_CELL, "prompt"):
                    page.locator(".mk-live-raster").evaluate("el => el.scrollIntoView({block: 'center'})")
                    page.screenshot(path=str(artifacts / "hub_3_tutorial_live.png"))
                    shot = True
            time.sleep(0.3)
        page.evaluate("clearInterval(window.__mkTimer)")
        seen = page.evaluate("window.__mkSeen")
        page.locator(".mk-live-raster").evaluate("el => el.scrollIntoView({block: 'center'})")
        page.screenshot(path=str(artifacts / "hub_4_tutorial_done.png"))
        # the engines were the tasks of a Slurm job other than JupyterLab's: each shows that job
        assert engines_job, "no engines' job appeared in squeue while tutorial 09 ran"
        assert _cell(page, ENGINES_CELL, "output").count(f"'{engines_job}'") == 2
        # the raster received spikes while the run cell was executing, more than once (it streamed), and
        # the engines' job was in squeue meanwhile
        assert seen["busy"] and len(set(seen["busy"])) >= 2, seen
        assert during, "the raster received no spikes while the engines' job was in squeue"
        # the spikes in the file, in the stream and in the raster are the same
        counts = re.search(r"\((\d+), (\d+), (\d+)\)", _cell(page, COUNTS_CELL, "output"))
        assert counts and len(set(counts.groups())) == 1 and int(counts[1]) > 0, _cell(page, COUNTS_CELL, "output")
        assert seen["after"] == int(counts[1])
        # no cell shows an error or stderr, and stop_cluster took the engines' job out of the queue
        assert page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output"
                            "[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        _wait(lambda: engines_job not in slurm.jobs(), 60, "the engines' job to leave squeue")
        # saved, the notebook holds no error output either; it wrote only into work/09 (the Slurm job's
        # script and output in the engines' run folder there)
        page.evaluate("async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")
        _wait(lambda: (tutorials / TUTORIAL).read_bytes() != (NOTEBOOKS / TUTORIAL).read_bytes(), 60,
              "the notebook to be saved")
        ran = json.loads((tutorials / TUTORIAL).read_text())
        outputs = [o for c in ran["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert outputs and [o for o in outputs if o["output_type"] == "error" or o.get("name") == "stderr"] == []
        assert {p.name for p in tutorials.iterdir()} - shipped <= {"work", ".ipynb_checkpoints"}
        assert [p.name for p in (tutorials / "work").iterdir()] == ["09"]
        assert list(tutorials.glob(f"work/09/profile_slurm_engines/modelkit-slurm/*/slurm-{engines_job}.out"))

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
        page.screenshot(path=str(artifacts / "hub_5_live_raster.png"))
        # the Run monitor lists this run as running (tutorial 09's run, done, is listed too)
        running = page.locator("#modelkit-run-monitor li.jp-mk-run[data-status='running']")
        expect(running).to_have_count(1, timeout=60_000)

        # cell 2 stops the run and the engines; only JupyterLab's job is left
        page.keyboard.press("Shift+Enter")
        out = page.locator(".jp-NotebookPanel .jp-Cell").nth(1)
        expect(out).to_contain_text("cluster stopped", timeout=120_000)
        expect(out).to_contain_text(f"{lab_job[0]} True")  # the kernel runs inside JupyterLab's job
        _wait(lambda: slurm.jobs() == lab_job, 60, "the engines' job to leave squeue")
        page.screenshot(path=str(artifacts / "hub_6_stopped.png"))

        # stop the server from the hub's home page: its job leaves the queue
        page.goto(f"{hub.url}/hub/home")
        page.locator("#stop").click()
        _wait(lambda: slurm.job_state(lab_job[0]) == "", 120, "JupyterLab's job to leave squeue")
        expect(page.locator("#start")).to_be_visible(timeout=60_000)
        page.screenshot(path=str(artifacts / "hub_7_server_stopped.png"))
        logs = list((users / USER / ".jupyterhub-slurm").glob("jupyterlab-*.log"))
        assert [p.name for p in logs] == [f"jupyterlab-{lab_job[0]}.log"]
        assert not list((users / USER).glob("slurm-*.out")) and not list((users / USER).glob("*.sbatch"))
    except BaseException:
        print(hub.log[-6000:])
        page.screenshot(path=str(artifacts / "hub_failed.png"))
        raise
    finally:
        hub.stop()
        for job in lab_job:
            if slurm.job_state(job):
                slurm.run(["scancel", job], check=False)
    assert hub.proc.poll() is not None
    assert hub.proxy_pid is None or not pid_alive(hub.proxy_pid)
