"""The ``modelkit`` command line: ``info``, ``validate``, ``run``, ``plot``, ``demo`` and ``hpc hub-config``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from modelkit.errors import ConfigError, ModelkitError

__all__ = ["main", "info", "plot"]


def info(path: str) -> dict[str, Any]:
    """What ``modelkit info PATH --json`` prints: populations, counts, types and problems.

    Parameters
    ----------
    path : str
        A config, a folder of SONATA files, or a nodes, edges, spikes or report file.

    Returns
    -------
    dict
        ``{"path", "kind", "nodes": {pop: {"count", "node_types", ...}},
        "edges": {pop: {"count", "source", "target", ...}}, "problems": [...]}``;
        spikes and report files give ``spikes`` / ``report`` instead of nodes/edges.
    """
    from modelkit.sonata.describe import describe
    return describe(path)


def _print_info(d: dict[str, Any]) -> None:
    print(f"{d['path']}  ({d.get('kind')})")
    if "run" in d:
        r = d["run"]
        print(f"run: {r['tstart']} .. {r['tstop']} ms, dt {r['dt']} ms; output_dir {d.get('output_dir')}")
        for k, v in d.get("inputs", {}).items():
            print(f"  input  {k}: {v['input_type']} ({v['module']})")
        for k, v in d.get("reports", {}).items():
            print(f"  report {k}: {v['variable_name']} ({v['module']})")
    if d["nodes"]:
        print("node populations:")
        w = max(len(k) for k in d["nodes"])
        for k, v in d["nodes"].items():
            types = ", ".join(f"{t}: {n}" for t, n in v["node_types"].items())
            models = ", ".join(f"{t}: {n}" for t, n in v.get("model_types", {}).items())
            print(f"  {k:<{w}}  {v['count']:>10,} nodes   node types {{{types}}}" + (f"   model types {{{models}}}"
                                                                                    if models else ""))
    if d["edges"]:
        print("edge populations:")
        w = max(len(k) for k in d["edges"])
        for k, v in d["edges"].items():
            print(f"  {k:<{w}}  {v['count']:>10,} edges   {v['source']} -> {v['target']}   "
                  f"{len(v.get('edge_types', {}))} edge types")
    for kind, pops in (d.get("unreadable") or {}).items():  # the file's other populations are listed above
        for k, msg in pops.items():
            print(f"unreadable {kind[:-1]} population {k}: {msg}")
    if d.get("node_sets"):
        print("node sets: " + ", ".join(d["node_sets"]))
    for key in ("spikes", "report"):
        for k, v in d.get(key, {}).items():
            print(f"{key} {k}: " + ", ".join(f"{a}={b}" for a, b in v.items()))
    _print_problems(d["problems"])


def _print_problems(problems: list[dict]) -> None:
    errors = [p for p in problems if p["severity"] == "error"]
    warnings = [p for p in problems if p["severity"] != "error"]
    print(f"problems: {len(errors)} error(s), {len(warnings)} warning(s)")
    for p in errors + warnings:
        s = f"  {p['severity']}: {p['path']}"
        if p["key"]:
            s += f": {p['key']}"
        s += f": expected {p['expected']}"
        if p["found"] is not None:
            s += f", found {p['found']}"
        print(s)


def demo(path: str | None, output: str, overwrite: bool = False) -> int:
    """The README's first command.

    Without ``path``: build the example network with the builder (SONATA files), simulate it
    in NEST, write spikes, a membrane report and a raster PNG, and print a summary.  With
    ``path``: summarise that network and round-trip it through modelkit's writers.

    Parameters
    ----------
    path : str, optional
        A network (config or folder) to summarise; the built-in example when None.
    output : str
        Folder for the files written.
    overwrite : bool, optional
        Replace an earlier demo's files.
    """
    import shutil
    import time

    from modelkit.sonata import Network
    if path is not None:
        t0 = time.perf_counter()
        d = info(path)
        _print_info(d)
        net = Network.load(path)
        out = os.path.abspath(os.path.join(output, "network"))
        cfg = net.save(out, overwrite=True)
        again = Network.load(cfg)
        same = again.summary()
        for kind in ("nodes", "edges"):
            for k, v in d[kind].items():
                if same[kind][k]["count"] != v["count"]:
                    print(f"demo: {kind} {k}: {same[kind][k]['count']} after saving, {v['count']} before",
                          file=sys.stderr)
                    return 1
        n_nodes = sum(v["count"] for v in d["nodes"].values())
        n_edges = sum(v["count"] for v in d["edges"].values())
        print(f"saved a copy ({n_nodes:,} nodes, {n_edges:,} edges) to {out} and read it back "
              f"in {time.perf_counter() - t0:.2f} s")
        return 0

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from modelkit.datasets import balanced_network
    from modelkit.errors import OutputExistsError
    from modelkit.plotting import plot_raster
    from modelkit.simulator import simulate
    out = os.path.abspath(output)
    if os.path.exists(out):
        if not overwrite:
            raise OutputExistsError(f"{out}: exists; pass --overwrite to replace it")
        shutil.rmtree(out)
    t0 = time.perf_counter()
    cfg_path = balanced_network(out)
    t_build = time.perf_counter() - t0
    print(f"built the example network with modelkit.builder in {t_build:.2f} s -> {out}/network")
    _print_info(info(cfg_path))
    res = simulate(cfg_path, progress=sys.stderr.isatty())
    print(f"\nsimulated {res.tstop:g} ms in {res.backend.upper()} in {res.timings['total']:.2f} s "
          f"(setup {res.timings['build']:.2f} s, run {res.timings['run']:.2f} s)")
    rates = res.rates()
    for pop, n in res.n_cells.items():
        print(f"  {pop}: {n:,} cells, {res.n_spikes.get(pop, 0):,} spikes, mean rate {rates[pop]:.2f} Hz")
    ax = plot_raster(res, config_file=cfg_path, group_by="pop_name",
                     title=f"example network: {sum(res.n_spikes.values()):,} spikes")
    png = os.path.join(res.output_dir, "raster.png")
    tmp = png + ".tmp.png"
    ax.figure.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, png)
    plt.close(ax.figure)
    print("\noutputs:")
    for label, p in [("spikes", res.spikes_file), ("spikes (csv)", res.spikes_csv), *res.reports.items(),
                     ("raster", png), ("log", res.log_file)]:
        if p:
            print(f"  {label:<18} {os.path.relpath(p)}")
    print(f"\nre-run it: modelkit run {os.path.relpath(cfg_path)} --overwrite")
    return 0


PLOTS = ("raster", "rates", "traces", "connectivity", "degrees")


def plot(what: str, source: str, output: str, *, group_by: str | None = None, nodes: list[int] | None = None,
         population: str | None = None, time_range: tuple[float, float] | None = None, kind: str = "bar",
         bin_ms: float = 10.0, report: str | None = None, network: str | None = None, weight: str | None = None,
         title: str | None = None, dpi: int = 150, overwrite: bool = False) -> str:
    """What ``modelkit plot WHAT SOURCE -o OUTPUT`` does: draw one figure and write it atomically.

    Parameters
    ----------
    what : {'raster', 'rates', 'traces', 'connectivity', 'degrees'}
    source : str
        A simulation config (``.json``: its output spikes or report, and its circuit), or a
        spikes file (raster, rates), a report file (traces), a network config, folder or
        nodes/edges file (connectivity, degrees).
    output : str
        The figure: ``.png``, ``.pdf``, ``.svg`` (matplotlib) or ``.html`` (interactive plotly).
        Written under a temporary name in the same folder, then renamed.
    group_by, nodes, population, time_range, kind, bin_ms, report, network, weight, title
        Passed to the plotting function (``time_range`` in ms).
    dpi : int
        Resolution of raster image formats, in [1, 1200] dots per inch.
    overwrite : bool
        Replace an existing ``output``.

    Returns
    -------
    str
        The absolute path written.

    Raises
    ------
    OutputExistsError
        ``output`` exists and ``overwrite`` is False (nothing is computed).
    ConfigError
        An unknown figure or output format.
    ModelkitError
        Whatever the plotting function raises (bad input, naming the file and key).
    """
    import uuid

    from modelkit.errors import ConfigError, OutputExistsError
    out = os.path.abspath(output)
    ext = os.path.splitext(out)[1].lower()
    if what not in PLOTS:
        raise ConfigError(None, "plot", f"one of {', '.join(PLOTS)}", repr(what))
    if ext not in (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".html"):
        raise ConfigError(out, "-o", "an output ending in .png, .pdf, .svg, .jpg or .html", repr(ext or output))
    _check_plot_options(dpi=dpi, bin_ms=bin_ms, time_range=time_range, nodes=nodes)
    if os.path.exists(out) and not overwrite:
        raise OutputExistsError(f"{out}: exists; pass --overwrite to replace it")
    is_config = source.endswith(".json")
    cfg = source if is_config else None
    data = None if is_config else source
    interactive = ext == ".html"
    if not interactive:
        import matplotlib
        matplotlib.use("Agg")
    if interactive:
        from modelkit.plotting import plotly as mkp
        fns: dict[str, Any] = {"raster": mkp.raster, "rates": mkp.rates, "traces": mkp.traces,
                               "connectivity": mkp.connectivity_matrix, "degrees": mkp.degree_distribution}
    else:
        import modelkit.plotting as mpl
        fns = {"raster": mpl.plot_raster, "rates": mpl.plot_rates, "traces": mpl.plot_traces,
               "connectivity": mpl.plot_connectivity_matrix, "degrees": mpl.plot_degree_distribution}
    kw: dict[str, Any] = {"title": title}
    if what == "raster":
        kw.update(spikes=data, config_file=cfg, network=network, group_by=group_by or "population",
                  population=population, node_ids=nodes, time_range=time_range)
    elif what == "rates":
        kw.update(spikes=data, config_file=cfg, network=network, group_by=group_by or "population", kind=kind,
                  time_range=time_range, bin_ms=bin_ms)
    elif what == "traces":
        kw.update(report=data, config_file=cfg, report_name=report, population=population, node_ids=nodes,
                  time_range=time_range)
    elif what == "connectivity":
        kw.update(network=network or data, config_file=cfg, group_by=group_by or "pop_name", weight=weight)
    else:
        kw.update(network=network or data, config_file=cfg, population=population)
    fig = fns[what](**kw)
    folder = os.path.dirname(out)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(out)}.{uuid.uuid4().hex[:12]}.tmp{ext}")  # same filesystem
    try:
        if interactive:
            fig.write_html(tmp, include_plotlyjs=True, full_html=True)
        else:
            figure = fig.figure
            figure.savefig(tmp, dpi=dpi, format=ext[1:])
            import matplotlib.pyplot as plt
            plt.close(figure)
        if os.path.exists(out) and not overwrite:  # appeared while drawing
            raise OutputExistsError(f"{out}: exists; pass --overwrite to replace it")
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


def _check_plot_options(*, dpi: Any, bin_ms: Any, time_range: Any, nodes: Any) -> None:
    """Refuse numeric plot options out of range before anything is read or drawn.

    Raises
    ------
    ConfigError
        Naming the option: ``--dpi`` outside [1, MAX_DPI], ``--bin-ms`` not positive and finite
        (the bin count over the window is bounded by the PSTH itself), ``--time`` not finite
        with start < stop, a negative ``--nodes`` id.
    """
    from modelkit.errors import ConfigError
    from modelkit.analysis.checks import check_number, check_time_range
    from modelkit.plotting._axes import MAX_DPI
    check_number(dpi, "--dpi", 1, MAX_DPI, integer=True)
    check_number(bin_ms, "--bin-ms", 0.0, 1e12, lo_open=True)
    check_time_range(time_range, "--time")
    for n in nodes or ():
        if not 0 <= n < 2**63:
            raise ConfigError(None, "--nodes", "node ids in [0, 2**63)", repr(n))


def _number(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(None, key, "a number", text) from None


def _add_hpc(sub: Any) -> None:
    hpc = sub.add_parser("hpc", help="deploy on an HPC cluster (JupyterHub on Slurm)")
    hsub = hpc.add_subparsers(dest="hpc_command", required=True)
    h = hsub.add_parser("hub-config", help="write a jupyterhub_config.py that starts JupyterLab as a Slurm job",
                        description="Write a jupyterhub_config.py for batchspawner.SlurmSpawner: each user's "
                        "JupyterLab (with modelkit's lab extension) runs as a Slurm job. See docs/hpc.md.")
    h.add_argument("-o", "--output", default="jupyterhub_config.py", help="the file (default: %(default)s)")
    h.add_argument("--overwrite", action="store_true", help="replace an existing file")
    h.add_argument("--python", help="the Python of the venv JupyterLab runs in on the nodes (default: this one)")
    h.add_argument("--venv", help="that venv's folder instead (its bin/python)")
    h.add_argument("--partition", help="Slurm partition of the JupyterLab jobs")
    h.add_argument("--time", help="their time limit (e.g. 8:00:00)")
    h.add_argument("--account", help="Slurm account charged")
    h.add_argument("--mem", help="memory per job (e.g. 16G)")
    h.add_argument("--cpus", type=int, help="CPUs per JupyterLab job")
    h.add_argument("--ip", default="127.0.0.1", help="where the proxy listens for browsers (default: %(default)s)")
    h.add_argument("--port", type=int, default=8000, help="its port (default: %(default)s)")
    h.add_argument("--hub-ip", default="0.0.0.0", help="where the hub API listens; the nodes must reach it "
                   "(default: %(default)s)")
    h.add_argument("--hub-port", type=int, default=8081, help="the hub API's port (default: %(default)s)")
    h.add_argument("--server-ip", help="JupyterLab's --ServerApp.ip on the node (default: every interface)")
    h.add_argument("--authenticator", default="pam", help="pam (default), dummy (tests only), shared-password, "
                   "null, or a class path")
    h.add_argument("--user", dest="users", action="append", default=[], metavar="NAME", help="an allowed user")
    h.add_argument("--allow-all", action="store_true", help="every user the authenticator accepts may log in")
    h.add_argument("--admin", dest="admins", action="append", default=[], metavar="NAME", help="an admin user")
    h.add_argument("--user-dir", default="{homedir}", help="each user's working folder on the nodes; "
                   "{username} and {homedir} are replaced (default: %(default)s)")
    h.add_argument("--exec-prefix", default="sudo -E -u {username}",
                   help="how the hub runs sbatch as the user (default: '%(default)s'; "
                   "'runuser -u {username} --' without sudo)")
    h.add_argument("--prologue", action="append", default=[], metavar="LINE",
                   help="a shell line run in the job before JupyterLab (module load ...)")
    h.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment variable of JupyterLab and its kernels")
    h.add_argument("--keep-env", action="append", default=[], metavar="NAME",
                   help="a hub environment variable passed on to the job (SLURM_CONF is)")
    h.add_argument("--proxy-command", help="path of configurable-http-proxy if not on PATH")
    h.add_argument("--allow-root", action="store_true", help="let JupyterLab run as root")
    h.add_argument("--start-timeout", type=float, default=300.0,
                   help="seconds to wait for the job and JupyterLab, pending time included (default: %(default)s)")
    h.add_argument("--no-check", action="store_true",
                   help="do not check that the venv has jupyterhub, batchspawner and the lab extension")


def _pairs(items: Sequence[str], sep: str, option: str, expected: str) -> dict[str, str]:
    """The ``KEY<sep>VALUE`` items of a repeated option as a dict (a later KEY wins); an item without ``sep``
    is a ConfigError naming ``option`` and the ``expected`` form."""
    out: dict[str, str] = {}
    for item in items:
        key, found, value = item.partition(sep)
        if not found:
            raise ConfigError(None, option, expected, item)
        out[key] = value
    return out


def _hpc(args: argparse.Namespace) -> int:
    if args.venv and args.python:
        raise ConfigError(None, "--venv", "either --venv or --python, not both", args.venv)
    python = os.path.join(os.path.abspath(args.venv), "bin", "python") if args.venv else args.python
    env = _pairs(args.env, "=", "--env", "NAME=VALUE")
    try:
        out = _write_hub_config(args, python, env)
    except ConfigError as e:
        if args.venv and e.key == "--python":  # name the option the user gave
            raise ConfigError(None, "--venv", e.expected, args.venv) from None
        raise
    print(f"wrote {out}\nstart the hub with: jupyterhub -f {os.path.relpath(out)}")
    return 0


def _write_hub_config(args: argparse.Namespace, python: str | None, env: dict[str, str]) -> str:
    from modelkit.cluster.hub import write_hub_config
    out = write_hub_config(args.output, overwrite=args.overwrite, python=python, partition=args.partition,
                           time=args.time, account=args.account, memory=args.mem, cpus=args.cpus, ip=args.ip,
                           port=args.port, hub_ip=args.hub_ip, hub_port=args.hub_port, server_ip=args.server_ip,
                           authenticator=args.authenticator, users=args.users, admins=args.admins,
                           allow_all=args.allow_all, user_dir=args.user_dir, exec_prefix=args.exec_prefix,
                           prologue=args.prologue, env=env,
                           keep_env=args.keep_env, proxy_command=args.proxy_command, allow_root=args.allow_root,
                           start_timeout=args.start_timeout, check=not args.no_check)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``modelkit`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments; ``sys.argv[1:]`` when None.
    """
    ap = argparse.ArgumentParser(prog="modelkit", description="Build, simulate and analyze SONATA network models.")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("info", help="populations, counts, types and problems of a config, folder or file")
    a.add_argument("path")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    v = sub.add_parser("validate", help="list every problem; exit status 1 when there are errors")
    v.add_argument("path")
    v.add_argument("--json", action="store_true", help="print the problems as JSON")
    v.add_argument("--strict", action="store_true", help="warnings count as errors")
    r = sub.add_parser("run", help="run a SONATA simulation config")
    r.add_argument("config")
    r.add_argument("--output", help="output folder (default: the config's output_dir)")
    r.add_argument("--threads", type=int, help="simulator threads")
    r.add_argument("--seed", type=int, help="random seed")
    r.add_argument("--backend", help="force a backend (e.g. nest)")
    r.add_argument("--tstop", type=float, help="run until this time (ms) instead of the config's run.tstop")
    r.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    r.add_argument("--coreneuron", action="store_true", default=None,
                   help="NEURON builds the model, CoreNEURON integrates it (run.coreneuron)")
    r.add_argument("--gpu", action="store_true", default=None,
                   help="CoreNEURON integrates on a GPU (run.coreneuron_gpu; needs NEURON built with GPU support)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--clamp-units", choices=("nA", "pA"), help="unit of current-clamp amplitudes of inputs "
                   "without amp_units (default: the backend's, pA in NEST as bmtk, nA in NEURON)")
    ini = sub.add_parser("init", help="make a runnable simulation folder for a network (bmtk's create_environment)",
                         description="Write SIM_DIR/config.json for the SONATA network in NETWORK_DIR, copy the "
                         "component files its node and edge types name (and the NEURON mechanisms, compiled) into "
                         "SIM_DIR/components, so that `modelkit run SIM_DIR/config.json` runs.")
    ini.add_argument("network_dir")
    ini.add_argument("sim_dir")
    ini.add_argument("--components", nargs="+", default=[], metavar="DIR",
                     help="folders holding the component files (default: *components next to the network)")
    ini.add_argument("--tstop", type=float, default=1000.0, help="run length (ms)")
    ini.add_argument("--dt", type=float, help="time step (ms; default: bmtk's for the backend)")
    ini.add_argument("--iclamp", metavar="AMP,DELAY,DURATION", help="soma current clamp (nA, ms, ms)")
    ini.add_argument("--spikes-inputs", metavar="POP:FILE", nargs="+", default=[],
                     help="spike trains for virtual populations")
    ini.add_argument("--report-vars", metavar="VAR", nargs="+", default=[], help="soma variables to record (v, cai)")
    ini.add_argument("--report-nodes", help="node set or population recorded (default: every simulated one)")
    ini.add_argument("--no-compile", action="store_true", help="do not compile the NEURON mechanisms now")
    ini.add_argument("--overwrite", action="store_true", help="replace an existing config.json and components/")
    pl = sub.add_parser("plot", help="draw a raster, rates, traces, connectivity matrix or degree histogram",
                        description="Draw one figure from a simulation config or a spikes/report/network file "
                        "and write it (.png, .pdf, .svg; .html for an interactive plotly figure).")
    pl.add_argument("what", choices=PLOTS)
    pl.add_argument("source", metavar="CONFIG_OR_FILE",
                    help="a simulation config, or a spikes / report / network file")
    pl.add_argument("-o", "--output", required=True, help="figure file (.png, .pdf, .svg or .html)")
    pl.add_argument("--group-by", metavar="COL", help="population (default) or a node property, e.g. pop_name")
    pl.add_argument("--nodes", type=int, nargs="+", metavar="ID", help="node ids to draw (raster, traces)")
    pl.add_argument("--population", help="node population (raster, traces, degrees)")
    pl.add_argument("--time", type=float, nargs=2, metavar=("START", "STOP"), help="time window (ms)")
    pl.add_argument("--kind", choices=("bar", "hist", "time"), default="bar", help="rates: bars per group, "
                    "histogram of node rates, or rates over time")
    pl.add_argument("--bin-ms", type=float, default=10.0, help="rates --kind time: bin width (ms)")
    pl.add_argument("--report", help="traces: the config's report name, when it has several")
    pl.add_argument("--network", help="circuit config, folder or nodes file for node properties (with a "
                    "spikes file)")
    pl.add_argument("--weight", help="connectivity: sum this edge property instead of counting edges")
    pl.add_argument("--title")
    pl.add_argument("--dpi", type=int, default=150)
    pl.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    dm = sub.add_parser("demo", help="build, simulate and plot the example network (or round-trip PATH's network)")
    dm.add_argument("path", nargs="?", help="an existing network to summarise and round-trip instead")
    dm.add_argument("--output", default="demo_output")
    dm.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    _add_hpc(sub)
    args = ap.parse_args(argv)
    try:
        if args.command == "info":
            d = info(args.path)
            if args.json:
                json.dump(d, sys.stdout, indent=1, default=str)
                print()
            else:
                _print_info(d)
            return 0
        if args.command == "validate":
            from modelkit import validate  # the files' checks and what `run` would refuse
            probs = [p.to_dict() for p in validate(args.path)]
            if args.json:
                json.dump(probs, sys.stdout, indent=1)
                print()
            else:
                _print_problems(probs)
            bad = [p for p in probs if p["severity"] == "error" or args.strict]
            return 1 if bad else 0
        if args.command == "run":
            from modelkit.options import set_options
            from modelkit.simulator import simulate
            with set_options(**({"clamp_units": args.clamp_units} if args.clamp_units else {})):
                res = simulate(args.config, output_dir=args.output, threads=args.threads, seed=args.seed,
                               backend=args.backend, overwrite=True if args.overwrite else None,
                               progress=not args.quiet, tstop=args.tstop, coreneuron=args.coreneuron,
                               coreneuron_gpu=args.gpu)
            from modelkit.simulator.parallel import world
            if world().rank != 0:  # under mpiexec rank 0 speaks for the run
                return 0
            how = " (CoreNEURON)" if res.coreneuron else ""
            print(f"{res.backend}{how}: {res.tstop:g} ms simulated in {res.timings['total']:.2f} s "
                  f"(build {res.timings['build']:.2f} s) -> {res.output_dir}")
            for pop, n in res.n_cells.items():
                print(f"  {pop}: {n} cells, {res.n_spikes.get(pop, 0)} spikes, {res.rates()[pop]:.2f} Hz")
            return 0
        if args.command == "init":
            from modelkit.simulator.environment import create_environment
            clamp = None
            if args.iclamp:
                parts = args.iclamp.split(",")
                if len(parts) != 3:
                    raise ConfigError(None, "--iclamp", "AMP,DELAY,DURATION (nA, ms, ms)", args.iclamp)
                amp, delay, dur = (_number("--iclamp", x) for x in parts)
                clamp = (amp, delay, dur)
            spikes: dict[str, str | os.PathLike[Any]] = dict(_pairs(args.spikes_inputs, ":", "--spikes-inputs",
                                                                   "POP:FILE"))
            path = create_environment(args.network_dir, args.sim_dir, components=args.components, tstop=args.tstop,
                                      dt=args.dt, iclamp=clamp, spikes_inputs=spikes, report_vars=args.report_vars,
                                      report_nodes=args.report_nodes, compile_mechanisms=not args.no_compile,
                                      overwrite=args.overwrite)
            print(f"wrote {path}\nrun it with: modelkit run {os.path.relpath(path)}")
            return 0
        if args.command == "plot":
            out = plot(args.what, args.source, args.output, group_by=args.group_by, nodes=args.nodes,
                       population=args.population, time_range=tuple(args.time) if args.time else None,
                       kind=args.kind, bin_ms=args.bin_ms, report=args.report, network=args.network,
                       weight=args.weight, title=args.title, dpi=args.dpi, overwrite=args.overwrite)
            print(f"wrote {out}")
            return 0
        if args.command == "demo":
            return demo(args.path, args.output, args.overwrite)
        if args.command == "hpc":
            return _hpc(args)
    except ModelkitError as e:
        print(f"modelkit: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
