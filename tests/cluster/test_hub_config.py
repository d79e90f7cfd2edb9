"""``modelkit hpc hub-config``: the jupyterhub_config.py it writes, as JupyterHub and batchspawner read it.

The whole path (a hub on a real Slurm, JupyterLab as a job, a live run) is tests/browser/test_hub_slurm.py;
here the file itself: JupyterHub loads it, batchspawner renders its batch script, its pre-spawn hook makes
the user's folder, options out of their form are refused naming them, and it is never half-written.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelkit.cli import main
from modelkit.cluster.hub import LOG_FOLDER, hub_config, write_hub_config
from modelkit.errors import ConfigError, OutputExistsError

pytest.importorskip("traitlets")


def _load(path: Path):
    """The config as JupyterHub's loader (traitlets) reads it."""
    from traitlets.config.loader import PyFileConfigLoader
    return PyFileConfigLoader(path.name, str(path.parent)).load_config()


def test_config_loads_and_handles_the_slurm_pitfalls(tmp_path: Path) -> None:
    out = write_hub_config(tmp_path / "jupyterhub_config.py", partition="debug", time="2:00:00", account="proj1",
                           memory="8G", cpus=2, server_ip="127.0.0.1", authenticator="dummy", users=["alice"],
                           user_dir="/scratch/{username}", exec_prefix="runuser -u {username} --",
                           prologue=["module load mpich"], env={"MODELKIT_X": "1"}, keep_env=["MY_VAR"],
                           proxy_command="/opt/chp/bin/configurable-http-proxy", allow_root=True)
    c = _load(out)
    assert c.JupyterHub.spawner_class == "batchspawner.SlurmSpawner"
    assert c.JupyterHub.authenticator_class == "dummy" and c.Authenticator.allowed_users == {"alice"}
    assert c.ConfigurableHTTPProxy.command == ["/opt/chp/bin/configurable-http-proxy"]
    bindir = os.path.dirname(sys.executable)
    assert c.Spawner.cmd == [os.path.join(bindir, "jupyterhub-singleuser")]
    assert c.SlurmSpawner.batchspawner_singleuser_cmd == os.path.join(bindir, "batchspawner-singleuser")
    assert "--ServerApp.jpserver_extensions=modelkit.labserver=True" in c.Spawner.args
    assert "--ServerApp.ip=127.0.0.1" in c.Spawner.args and "--allow-root" in c.Spawner.args
    assert {"SLURM_CONF", "PATH", "MY_VAR"} <= set(c.Spawner.env_keep)
    assert c.Spawner.environment == {"MODELKIT_X": "1"}
    assert c.SlurmSpawner.exec_prefix == "runuser -u {username} --"
    assert c.Spawner.default_url == "/lab"

    # batchspawner renders the script as it would submit it
    from batchspawner.batchspawner import format_template
    script = format_template(c.SlurmSpawner.batch_script, username="alice", homedir="/home/alice",
                             keepvars="PATH,SLURM_CONF", partition=c.SlurmSpawner.req_partition,
                             runtime=c.SlurmSpawner.req_runtime, account=c.SlurmSpawner.req_account,
                             memory=c.SlurmSpawner.req_memory, nprocs=c.SlurmSpawner.req_nprocs, options="",
                             prologue=c.SlurmSpawner.req_prologue, epilogue="", srun="srun",
                             cmd="batchspawner-singleuser jupyterhub-singleuser")
    for line in ("#SBATCH --chdir=/scratch/alice", f"#SBATCH --output=/scratch/alice/{LOG_FOLDER}/jupyterlab-%j.log",
                 "#SBATCH --export=PATH,SLURM_CONF", "#SBATCH --partition=debug", "#SBATCH --time=2:00:00",
                 "#SBATCH --account=proj1", "#SBATCH --mem=8G", "#SBATCH --cpus-per-task=2", "module load mpich",
                 "srun batchspawner-singleuser jupyterhub-singleuser"):
        assert line in script.splitlines(), (line, script)


def test_jupyterhub_reads_it(tmp_path: Path) -> None:
    """``jupyterhub --show-config``: JupyterHub itself loads the file and resolves the classes it names."""
    pytest.importorskip("jupyterhub")
    pytest.importorskip("batchspawner")
    out = write_hub_config(tmp_path / "jupyterhub_config.py", authenticator="dummy", users=["alice"])
    r = subprocess.run([sys.executable, "-m", "jupyterhub", "-f", str(out), "--show-config"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Using Spawner: batchspawner.batchspawner.SlurmSpawner" in r.stderr
    assert "SLURM_CONF" in r.stdout


def test_pre_spawn_hook_makes_the_users_log_folder(tmp_path: Path) -> None:
    out = write_hub_config(tmp_path / "c.py", user_dir=f"{tmp_path}/users/{{username}}")
    ns: dict = {"get_config": lambda: SimpleNamespace(**{k: SimpleNamespace(**{}) for k in
                                                          ("JupyterHub", "Authenticator", "Spawner", "SlurmSpawner",
                                                           "ConfigurableHTTPProxy")})}
    exec(compile(out.read_text(), str(out), "exec"), ns)
    me = pwd.getpwuid(os.getuid()).pw_name
    ns["c"].Spawner.pre_spawn_hook(SimpleNamespace(user=SimpleNamespace(name=me)))
    assert (tmp_path / "users" / me / LOG_FOLDER).is_dir()
    ns["c"].Spawner.pre_spawn_hook(SimpleNamespace(user=SimpleNamespace(name=me)))  # again: harmless


def test_refuses_to_overwrite_and_writes_atomically(tmp_path: Path, capsys) -> None:
    out = tmp_path / "jupyterhub_config.py"
    assert main(["hpc", "hub-config", "-o", str(out), "--partition", "debug"]) == 0
    first = out.read_text()
    assert "c.SlurmSpawner.req_partition = 'debug'" in first
    assert main(["hpc", "hub-config", "-o", str(out), "--partition", "other"]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == first
    with pytest.raises(OutputExistsError):
        write_hub_config(out)
    assert main(["hpc", "hub-config", "-o", str(out), "--partition", "other", "--overwrite"]) == 0
    assert "c.SlurmSpawner.req_partition = 'other'" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jupyterhub_config.py"]  # no temporary file left


@pytest.mark.parametrize("options, key", [
    ({"partition": "debug; rm -rf /"}, "--partition"),
    ({"time": ""}, "--time"),
    ({"user_dir": "scratch/{username}"}, "--user-dir"),
    ({"user_dir": "/scratch/{user}"}, "--user-dir"),
    ({"user_dir": "/scratch/{username"}, "--user-dir"),
    ({"port": 0}, "--port"),
    ({"hub_port": 70000}, "--hub-port"),
    ({"cpus": 0}, "--cpus"),
    ({"authenticator": "not a class"}, "--authenticator"),
    ({"exec_prefix": "sudo -E"}, "--exec-prefix"),
    ({"env": {"1BAD": "x"}}, "--env"),
    ({"keep_env": ["A B"]}, "--keep-env"),
    ({"python": "relative/python"}, "--python"),
])
def test_bad_options_name_the_option(options: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        hub_config(**options)
    assert e.value.key == key


def test_venv_without_batchspawner_is_refused_naming_what_is_missing(tmp_path: Path, capsys) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / "bin" / "jupyterhub-singleuser").write_text("")
    assert main(["hpc", "hub-config", "-o", str(tmp_path / "c.py"), "--venv", str(venv)]) == 2
    err = capsys.readouterr().err
    assert "--venv" in err
    assert "batchspawner-singleuser" in err and "modelkit lab extension" in err
    assert "jupyterhub-singleuser (" not in err
    assert not (tmp_path / "c.py").exists()
    # --no-check: generating the file away from the nodes' file system
    assert main(["hpc", "hub-config", "-o", str(tmp_path / "c.py"), "--venv", str(venv), "--no-check"]) == 0
    assert f"c.Spawner.cmd = ['{venv}/bin/jupyterhub-singleuser']" in (tmp_path / "c.py").read_text()
