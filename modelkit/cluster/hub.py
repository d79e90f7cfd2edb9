"""A ``jupyterhub_config.py`` for JupyterHub + ``batchspawner.SlurmSpawner``: JupyterLab as a Slurm job.

:func:`hub_config` returns the text and :func:`write_hub_config` writes it atomically; ``modelkit hpc
hub-config`` is the command line.  The file handles the pitfalls met on a real Slurm (``docs/hpc.md``,
troubleshooting):

* JupyterHub 6 passes almost no environment to the spawner: ``Spawner.env_keep`` carries ``SLURM_CONF``
  (and ``PATH``, ``PYTHONPATH``, ``VIRTUAL_ENV``...), or ``sbatch`` on the hub finds no cluster;
* batchspawner's server binds ``0.0.0.0`` unless ``--ServerApp.ip`` is given;
* ``req_homedir`` cannot be set from a config file: the batch script names the per-user folder itself
  (``--chdir``, ``--output``), and a pre-spawn hook makes its log folder, owned by the user, because Slurm
  does not create the folder of ``--output``;
* the single-user server is the venv's ``jupyterhub-singleuser`` with modelkit's server extension enabled
  (its lab extension ships in the same venv; :func:`hub_config` checks that it is there).
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from modelkit.errors import ConfigError, OutputExistsError

__all__ = ["hub_config", "write_hub_config", "AUTHENTICATORS"]

#: authenticator classes by the short names JupyterHub knows (``jupyterhub.authenticators`` entry points)
AUTHENTICATORS = ("pam", "dummy", "shared-password", "null")

#: JupyterHub's default ``Spawner.env_keep``, plus Slurm's configuration
ENV_KEEP = ("PATH", "PYTHONPATH", "CONDA_ROOT", "CONDA_DEFAULT_ENV", "VIRTUAL_ENV", "LANG", "LC_ALL",
            "JUPYTERHUB_SINGLEUSER_APP", "SLURM_CONF")

#: the folder under the per-user folder where Slurm writes each JupyterLab job's output
LOG_FOLDER = ".jupyterhub-slurm"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SBATCH_VALUE = re.compile(r"^[\w.:@+-]*$")

BATCH_SCRIPT = """#!/bin/bash
#SBATCH --job-name=jupyterlab-{{username}}
#SBATCH --chdir=@USERDIR@
#SBATCH --output=@USERDIR@/@LOGS@/jupyterlab-%j.log
#SBATCH --export={{keepvars}}
{% if partition %}#SBATCH --partition={{partition}}
{% endif %}{% if runtime %}#SBATCH --time={{runtime}}
{% endif %}{% if account %}#SBATCH --account={{account}}
{% endif %}{% if memory %}#SBATCH --mem={{memory}}
{% endif %}{% if nprocs %}#SBATCH --cpus-per-task={{nprocs}}
{% endif %}{% if options %}#SBATCH {{options}}
{% endif %}
set -euo pipefail
trap 'echo SIGTERM received' TERM
{{prologue}}
{% if srun %}{{srun}} {% endif %}{{cmd}}
echo "jupyterhub-singleuser ended gracefully"
{{epilogue}}
"""


def _user_dir_template(user_dir: str) -> str:
    """``{username}`` / ``{homedir}`` in ``user_dir`` as batchspawner's Jinja placeholders."""
    names = _PLACEHOLDER.findall(user_dir)
    bad = [n for n in names if n not in ("username", "homedir")]
    if bad or user_dir.count("{") != len(names) or user_dir.count("}") != len(names):
        raise ConfigError(None, "--user-dir", "an absolute path whose only placeholders are {username} and "
                          "{homedir}", repr(user_dir))
    if not (user_dir.startswith("/") or user_dir.startswith("{homedir}")):
        raise ConfigError(None, "--user-dir", "an absolute path (or one under {homedir})", repr(user_dir))
    if any(ch in user_dir for ch in " \n'\"%$\\"):
        raise ConfigError(None, "--user-dir", "a path without spaces, quotes, '%', '$' or backslashes",
                          repr(user_dir))
    return _PLACEHOLDER.sub(lambda m: "{{" + m.group(1) + "}}", user_dir)


def _check_venv(python: str) -> tuple[str, str]:
    """The venv's ``jupyterhub-singleuser`` and ``batchspawner-singleuser``; each must be there, with the
    modelkit lab extension in the same prefix."""
    py = Path(python)
    if not py.is_absolute():
        raise ConfigError(None, "--python", "the absolute path of the Python of the environment JupyterLab runs "
                          "in (e.g. /opt/modelkit/venv/bin/python)", python)
    bindir = py.parent
    prefix = bindir.parent
    need = {"jupyterhub-singleuser": bindir / "jupyterhub-singleuser",
            "batchspawner-singleuser": bindir / "batchspawner-singleuser",
            "the modelkit lab extension": prefix / "share/jupyter/labextensions/modelkit-jupyterlab/package.json"}
    missing = [f"{what} ({p})" for what, p in need.items() if not p.exists()]
    if not py.exists():
        missing.insert(0, f"python ({py})")
    if missing:
        raise ConfigError(None, "--python", "an environment with modelkit, jupyterhub and batchspawner installed "
                          "(pip install 'modelkit[hub]'); missing: " + ", ".join(missing), python)
    return str(need["jupyterhub-singleuser"]), str(need["batchspawner-singleuser"])


def _sbatch_value(key: str, value: str | None) -> str:
    if value is None:
        return ""
    if not value or not _SBATCH_VALUE.match(value):
        raise ConfigError(None, key, "a Slurm name or time (letters, digits, '.', ':', '-', '_', '@', '+')",
                          repr(value))
    return value


def hub_config(*, python: str | None = None, partition: str | None = None, time: str | None = None,
               account: str | None = None, memory: str | None = None, cpus: int | None = None,
               ip: str = "127.0.0.1", port: int = 8000, hub_ip: str = "0.0.0.0", hub_port: int = 8081,
               server_ip: str | None = None, authenticator: str = "pam", users: Sequence[str] = (),
               admins: Sequence[str] = (), allow_all: bool = False,
               user_dir: str = "{homedir}", exec_prefix: str = "sudo -E -u {username}",
               prologue: Sequence[str] = (), env: Mapping[str, str] | None = None, keep_env: Sequence[str] = (),
               proxy_command: str | None = None, allow_root: bool = False, start_timeout: float = 300.0,
               check: bool = True) -> str:
    """The text of a ``jupyterhub_config.py`` that spawns JupyterLab as a Slurm job (``SlurmSpawner``).

    Parameters
    ----------
    python : str, optional
        Absolute path of the Python of the environment JupyterLab runs in on the compute nodes (a venv with
        modelkit, jupyterhub and batchspawner); its ``bin/`` holds ``jupyterhub-singleuser`` and
        ``batchspawner-singleuser``.  Default: this Python.
    partition, time, account, memory : str, optional
        The job's ``--partition``, ``--time`` (e.g. ``8:00:00``), ``--account`` and ``--mem`` (e.g. ``16G``).
    cpus : int, optional
        ``--cpus-per-task`` of the JupyterLab job.
    ip, port : str, int
        Where the hub's proxy listens for browsers.
    hub_ip : str
        Where the hub's API listens: the single-user servers on the compute nodes call it back, so it must be
        reachable from them (``0.0.0.0``: every interface; ``127.0.0.1`` on a single machine).
    hub_port : int
        The hub API's port.
    server_ip : str, optional
        ``--ServerApp.ip`` of JupyterLab on the node (default: every interface, so that the hub reaches it).
    authenticator : str
        ``pam`` (system accounts), ``dummy`` (any password: tests only), ``shared-password`` or ``null``, or a
        class path (``oauthenticator.GitHubOAuthenticator``).
    users, admins : sequence of str
        ``Authenticator.allowed_users`` and ``admin_users``.
    allow_all : bool
        Let every user the authenticator accepts in (``Authenticator.allow_all``; e.g. every system account with
        ``pam``).  Without it or ``users``, nobody may log in.
    user_dir : str
        Each user's folder on the nodes: JupyterLab's working folder, and ``.jupyterhub-slurm/`` in it holds
        the jobs' output.  ``{username}`` and ``{homedir}`` are replaced per user (default: the home folder).
    exec_prefix : str
        How the hub runs ``sbatch`` / ``squeue`` / ``scancel`` as the user (``runuser -u {username} --``
        where there is no sudo).
    prologue : sequence of str
        Shell lines run in the job before JupyterLab (``module load ...``).
    env : mapping, optional
        Extra environment variables of the single-user server (and its kernels).
    keep_env : sequence of str
        Names of the hub's environment variables passed on to the job, besides :data:`ENV_KEEP`.
    proxy_command : str, optional
        Path of ``configurable-http-proxy`` when it is not on the hub's ``PATH``.
    allow_root : bool
        Let JupyterLab run as root (``--allow-root``).
    start_timeout : float
        Seconds the hub waits for the job to start and JupyterLab to answer (pending time included).
    check : bool
        Check that ``python``'s environment has the programs and the lab extension (skip when generating
        the file away from the nodes' file system).

    Returns
    -------
    str
        Python source for JupyterHub (``jupyterhub -f jupyterhub_config.py``).

    Raises
    ------
    ConfigError
        An option out of its form, naming it; with ``check``, what the environment lacks.
    """
    python = python or sys.executable
    if check:
        singleuser, batch_singleuser = _check_venv(python)
    else:
        bindir = os.path.dirname(python)
        singleuser = os.path.join(bindir, "jupyterhub-singleuser")
        batch_singleuser = os.path.join(bindir, "batchspawner-singleuser")
    opts = {"--partition": partition, "--time": time, "--account": account, "--mem": memory}
    partition, time, account, memory = (_sbatch_value(k, v) for k, v in opts.items())
    if cpus is not None and (not isinstance(cpus, int) or cpus < 1):
        raise ConfigError(None, "--cpus", "a positive number of CPUs", repr(cpus))
    for key, p in (("--port", port), ("--hub-port", hub_port)):
        if not isinstance(p, int) or not 0 < p < 65536:
            raise ConfigError(None, key, "a TCP port in 1..65535", repr(p))
    if authenticator not in AUTHENTICATORS and not re.match(r"^[\w.]+\.\w+$", authenticator):
        raise ConfigError(None, "--authenticator", f"one of {', '.join(AUTHENTICATORS)} or a class path",
                          repr(authenticator))
    if "{username}" not in exec_prefix and exec_prefix.strip():
        raise ConfigError(None, "--exec-prefix", "a command prefix naming {username} (sudo -E -u {username})",
                          repr(exec_prefix))
    for name in keep_env:
        if not re.match(r"^[A-Za-z_]\w*$", name):
            raise ConfigError(None, "--keep-env", "an environment variable name", repr(name))
    environment = dict(env or {})
    for k in environment:
        if not re.match(r"^[A-Za-z_]\w*$", k):
            raise ConfigError(None, "--env", "NAME=VALUE with a variable name", repr(k))
    if not start_timeout > 0:
        raise ConfigError(None, "--start-timeout", "a positive number of seconds", repr(start_timeout))
    folder = _user_dir_template(user_dir)
    script = BATCH_SCRIPT.replace("@USERDIR@", folder).replace("@LOGS@", LOG_FOLDER)
    args = ["--ServerApp.jpserver_extensions=modelkit.labserver=True"]
    if server_ip:
        args.append(f"--ServerApp.ip={server_ip}")
    if allow_root:
        args.append("--allow-root")
    keep = list(dict.fromkeys([*ENV_KEEP, *keep_env]))
    from modelkit import __version__

    lines = [
        f"# jupyterhub_config.py written by `modelkit hpc hub-config` (modelkit {__version__}).",
        "# JupyterHub spawns each user's JupyterLab as a Slurm job (batchspawner.SlurmSpawner); see docs/hpc.md.",
        "# Start it with: jupyterhub -f jupyterhub_config.py",
        "import os",
        "import pwd",
        "",
        "c = get_config()  # noqa: F821 (JupyterHub defines it)",
        "",
        "# the proxy, where browsers connect",
        f"c.JupyterHub.ip = {ip!r}",
        f"c.JupyterHub.port = {port!r}",
        "# the hub's API: JupyterLab on a compute node calls it back",
        f"c.JupyterHub.hub_ip = {hub_ip!r}",
        f"c.JupyterHub.hub_port = {hub_port!r}",
    ]
    if proxy_command:
        lines.append(f"c.ConfigurableHTTPProxy.command = [{proxy_command!r}]")
    lines += [
        "",
        f"c.JupyterHub.authenticator_class = {authenticator!r}",
    ]
    if users:
        lines.append(f"c.Authenticator.allowed_users = {set(users)!r}")
    if allow_all:
        lines.append("c.Authenticator.allow_all = True")
    if admins:
        lines.append(f"c.Authenticator.admin_users = {set(admins)!r}")
    lines += [
        "",
        "c.JupyterHub.spawner_class = 'batchspawner.SlurmSpawner'",
        "# the venv of modelkit, jupyterhub and batchspawner on the nodes (its lab extension ships with it)",
        f"c.Spawner.cmd = [{singleuser!r}]",
        f"c.SlurmSpawner.batchspawner_singleuser_cmd = {batch_singleuser!r}",
        "# modelkit's server extension on (the Run monitor and the SONATA viewer need it); --ServerApp.ip, or",
        "# batchspawner's server binds 0.0.0.0",
        f"c.Spawner.args = {args!r}",
        "c.Spawner.default_url = '/lab'",
        f"c.Spawner.start_timeout = {float(start_timeout)!r}",
        "c.Spawner.http_timeout = 120",
        "# JupyterHub passes almost no environment: without SLURM_CONF, sbatch would find no cluster",
        f"c.Spawner.env_keep = {keep!r}",
    ]
    if environment:
        lines.append(f"c.Spawner.environment = {environment!r}")
    lines += [
        "# how the hub runs sbatch, squeue and scancel as the user",
        f"c.SlurmSpawner.exec_prefix = {exec_prefix!r}",
        f"c.SlurmSpawner.req_partition = {partition!r}",
        f"c.SlurmSpawner.req_runtime = {time!r}",
        f"c.SlurmSpawner.req_account = {account!r}",
        f"c.SlurmSpawner.req_memory = {memory!r}",
        f"c.SlurmSpawner.req_nprocs = {str(cpus or '')!r}",
        f"c.SlurmSpawner.req_prologue = {chr(10).join(prologue)!r}",
        "# --chdir and --output in the per-user folder (req_homedir cannot be set from a config file)",
        "c.SlurmSpawner.batch_script = '''" + script + "'''",
        "",
        f"USER_DIR = {user_dir!r}",
        f"LOG_FOLDER = {LOG_FOLDER!r}",
        "",
        "",
        "def make_user_dir(spawner):",
        '    """Slurm does not create the folder of --output: make it, owned by the user."""',
        "    pw = pwd.getpwnam(spawner.user.name)",
        "    folder = USER_DIR.format(username=spawner.user.name, homedir=pw.pw_dir)",
        "    for d in (folder, os.path.join(folder, LOG_FOLDER)):",
        "        if not os.path.isdir(d):",
        "            os.makedirs(d)",
        "            if os.geteuid() == 0:",
        "                os.chown(d, pw.pw_uid, pw.pw_gid)",
        "",
        "",
        "c.Spawner.pre_spawn_hook = make_user_dir",
        "",
    ]
    return "\n".join(lines)


def write_hub_config(path: str | os.PathLike, *, overwrite: bool = False, **options) -> Path:
    """Write :func:`hub_config`'s text to ``path`` atomically (a temporary file in the same folder, renamed).

    Parameters
    ----------
    path : str or PathLike
        The ``jupyterhub_config.py`` to write.
    overwrite : bool
        Replace an existing file.
    **options
        Passed to :func:`hub_config`.

    Returns
    -------
    Path
        The absolute path written.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False (nothing is written).
    ConfigError
        From :func:`hub_config`.
    """
    out = Path(path).absolute()
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out}: exists; pass --overwrite to replace it")
    text = hub_config(**options)
    compile(text, str(out), "exec")  # a bug here must not leave a hub that cannot start
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        if out.exists() and not overwrite:  # appeared meanwhile
            raise OutputExistsError(f"{out}: exists; pass --overwrite to replace it")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
