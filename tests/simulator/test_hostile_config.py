"""Hostile simulation configs (issue 15, classes 2 and 6): every bad value is a ModelkitError naming the config
file and key, or a ModelkitWarning naming what was dropped -- never a raw traceback or a silent drop -- and
``modelkit.validate`` finds what ``simulate`` rejects."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import modelkit
from modelkit.errors import SonataFormatError, ConfigError, ModelkitError, ModelkitWarning, UnknownModelError

pytest.importorskip("nest")

from modelkit.simulator import PoissonSpikeGenerator, simulate  # noqa: E402

INF, NAN = float("inf"), float("nan")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A 10-cell NEST network with 5 virtual inputs, 10 ms of model time (built once per module)."""
    from modelkit.datasets import balanced_network
    return os.path.dirname(balanced_network(tmp_path_factory.mktemp("hostile") / "net", n_exc=8, n_inh=2,
                                            n_input=5, tstop=10.0))


def _config(model, tmp_path, edit, name="config.hostile.json"):
    """A copy of the model's simulation config, edited by ``edit(d)``, written beside it (relative paths hold)."""
    d = json.loads(open(os.path.join(model, "config.simulation.json")).read())
    d["output"]["output_dir"] = str(tmp_path / "out")
    edit(d)
    path = os.path.join(model, f"{tmp_path.name}-{name}")
    with open(path, "w") as f:
        f.write(json.dumps(d))  # json writes inf/nan as Infinity/NaN, as a careless hand would
    return path


def _copy_model(model, tmp_path):
    d = tmp_path / "net"
    shutil.copytree(model, d, ignore=shutil.ignore_patterns("output*", "*hostile*"))
    return str(d)


def _run(path, **kw):
    return simulate(path, progress=False, **kw)


def _errors(path):
    return [p for p in modelkit.validate(path) if p.severity == "error"]


def _run_key(k, v):
    return lambda d: d["run"].update({k: v})


def _poisson(**kw):
    def edit(d):
        d["inputs"] = {"pg": {"input_type": "spikes", "module": "poisson", "node_set": "input", "rate": 10.0, **kw}}
        d["inputs"]["pg"] = {k: v for k, v in d["inputs"]["pg"].items() if v is not None}
    return edit


def _clamp(**kw):
    def edit(d):
        d["inputs"]["clamp"] = {"input_type": "current_clamp", "module": "IClamp", "node_set": "cortex",
                                "amp": 0.1, "delay": 1.0, "duration": 5.0, **kw}
    return edit


def _report(**kw):
    return lambda d: d["reports"]["membrane_potential"].update(kw)


# (edit of the simulation config, the key the error must name)
BAD_VALUES = [
    (_run_key("tstop", INF), "run.tstop"),
    (_run_key("tstop", 1e300), "run.tstop"),
    (_run_key("tstop", NAN), "run.tstop"),
    (_run_key("dt", NAN), "run.dt"),
    (_run_key("dt", 20.0), "run.dt"),  # dt > tstop
    (_run_key("tstart", NAN), "run.tstart"),
    (_report(start_time=8.0, end_time=2.0), "reports.membrane_potential"),
    (_report(start_time=NAN), "reports.membrane_potential.start_time"),
    (_report(end_time=INF), "reports.membrane_potential.end_time"),
    (_report(end_time=50.0), "reports.membrane_potential.end_time"),  # past tstop (10 ms)
    # NEST has no such recordable: run refused it when the multimeter was made, validate passed it (long fuzz)
    (_report(variable_name="no_such_var"), "reports.membrane_potential.variable_name"),
    (_report(variable_name=["V_m", "g_nope"]), "reports.membrane_potential.variable_name"),
    (_poisson(random_seed="x"), "inputs.pg.random_seed"),
    (_poisson(random_seed=-1), "inputs.pg.random_seed"),
    (_poisson(rate=-5.0), "inputs.pg.rate"),
    (_poisson(rate="fast"), "inputs.pg.rate"),
    (_poisson(rate=NAN), "inputs.pg.rate"),
    (_poisson(rate=None, rates=[1.0, 2.0, 3.0], times=[0.0, 5.0]), "inputs.pg.times"),
    (_poisson(rate=None, rates=[1.0, -2.0], times=[0.0, 5.0]), "inputs.pg.rates"),
    (_poisson(rate=None, rates=[1.0, 2.0], times=[0.0, NAN]), "inputs.pg.times"),
    (_poisson(start_time=8.0, stop_time=2.0), "inputs.pg"),
    (_poisson(stop_time=INF), "inputs.pg.stop_time"),
    (_poisson(rate=None, rates=[1.0, 2.0], times=-0.0), "inputs.pg.times"),  # long fuzz: validate passed it
    (_poisson(rate=None, rates=[1.0, 2.0], times=5.0), "inputs.pg.times"),
    (_poisson(rate=[5.0, 6.0]), "inputs.pg.rate"),  # a constant rate is one number
    (_poisson(rate=None, rates=-1), "inputs.pg.rates"),  # a profile is a list (long fuzz: validate passed it)
    (_poisson(rate=None, rates=5.0), "inputs.pg.rates"),
    (lambda d: _poisson()(d) or d["inputs"]["pg"].update(rate=None), "inputs.pg.rate"),  # explicit null
    (lambda d: _poisson(rate=None)(d) or d["inputs"]["pg"].update(rates=None), "inputs.pg.rates"),
    (_poisson(rate=None, rates=[1.0, 2.0], times=INF), "inputs.pg.times"),
    # a few bytes of config asking for 2e8 spikes (5 nodes, 10 ms): 3.4 GiB, then MemoryError (long fuzz)
    (_poisson(rate=4305536952), "inputs.pg.rate"),
    (_poisson(rate=None, rates=[0.0, 1e12], times=[0.0, 10.0]), "inputs.pg.rates"),
    (_clamp(delay=-1.0), "inputs.clamp.delay"),
    (_clamp(duration=-1.0), "inputs.clamp.duration"),
    (_clamp(amp=NAN), "inputs.clamp.amp"),
    (_clamp(amp="big"), "inputs.clamp.amp"),
    (_clamp(delay=INF), "inputs.clamp.delay"),
    (_clamp(amp=[0.1, 0.2], delay=[1.0], duration=[1.0, 2.0]), "inputs.clamp"),
]


@pytest.mark.parametrize("edit,key", BAD_VALUES, ids=[k + f"-{i}" for i, (_, k) in enumerate(BAD_VALUES)])
def test_bad_simulation_value_is_a_config_error_run_and_validate_agree(model, tmp_path, edit, key):
    path = _config(model, tmp_path, edit)
    with pytest.raises(ConfigError) as ei:
        _run(path)
    assert ei.value.path == path and ei.value.key.startswith(key), str(ei.value)
    assert not (tmp_path / "out").exists()
    errs = _errors(path)
    assert any(p.path == path and (p.key or "").startswith(key) for p in errs), errs


# ------------------------------------------------------------------------ references to nodes
@pytest.mark.parametrize("cells", [
    {"population": "cortex", "node_id": [0, 500]},
    [0, 500],
    [-1, 0],
    "no_such_node_set",
    {"population": "no_such_population"},
])
def test_report_cells_that_do_not_exist_are_errors(model, tmp_path, cells):
    path = _config(model, tmp_path, _report(cells=cells))
    with pytest.raises(ConfigError) as ei:
        _run(path)
    assert ei.value.path == path and ei.value.key == "reports.membrane_potential.cells", str(ei.value)
    assert any(p.key == "reports.membrane_potential.cells" for p in _errors(path))


def test_input_node_ids_that_do_not_exist_are_errors(model, tmp_path):
    path = _config(model, tmp_path, _poisson(node_set={"population": "input", "node_id": [1, 77]}))
    with pytest.raises(ConfigError) as ei:
        _run(path)
    assert ei.value.key == "inputs.pg.node_set" and "77" in str(ei.value)
    assert any(p.key == "inputs.pg.node_set" for p in _errors(path))


def test_input_spikes_of_unknown_node_ids_are_a_warning_naming_what_was_dropped(model, tmp_path):
    gen = PoissonSpikeGenerator(population="input", seed=1)
    gen.add([0, 1], 200.0, times=(0.0, 0.01))
    n_good = len(gen.spikes("input")[0])
    gen.add([40, 41, 42], 300.0, times=(0.0, 0.01))  # the population has 5 nodes (0-4)
    n_bad = len(gen.spikes("input")[0]) - n_good
    assert n_bad > 0
    gen.to_sonata(tmp_path / "spikes.h5")
    spikes = str(tmp_path / "spikes.h5")
    path = _config(model, tmp_path, lambda d: d["inputs"]["input_spikes"].update(input_file=spikes))
    with pytest.warns(ModelkitWarning, match=rf"{n_bad} spikes of 3 node ids not in population 'input'"):
        res = _run(path)
    assert res.output_dir == str(tmp_path / "out")
    warns = [p for p in modelkit.validate(path)
             if p.severity == "warning" and p.key == "inputs.input_spikes.input_file"]
    assert warns and "3 node ids" in str(warns[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelkitWarning)
        with pytest.raises(ModelkitWarning):
            _run(_config(model, tmp_path, lambda d: d["inputs"]["input_spikes"].update(
                input_file=str(tmp_path / "spikes.h5")), name="strict.json"), output_dir=tmp_path / "strict")


def test_a_spike_input_onto_simulated_cells_only_is_refused_not_dropped(model, tmp_path):
    # every node of the set is a NEST cell: the spikes would drive nothing (main logged a line and ran on)
    path = _config(model, tmp_path, lambda d: d["inputs"]["input_spikes"].update(node_set={"population": "cortex"}))
    with pytest.raises(ConfigError, match="virtual nodes to drive") as ei:
        _run(path)
    assert ei.value.key == "inputs.input_spikes.node_set" and "simulated cells of cortex" in str(ei.value)


# ------------------------------------------------------------------------ run options and output
@pytest.mark.parametrize("threads", [0, -3, 100_000])
def test_absurd_threads_are_config_errors(model, tmp_path, threads):
    path = _config(model, tmp_path, lambda d: None)
    with pytest.raises(ConfigError) as ei:
        _run(path, threads=threads)
    assert ei.value.key == "threads"
    path = _config(model, tmp_path, _run_key("n_thread", threads), name="nthread.json")
    with pytest.raises(ConfigError) as ei:
        _run(path)
    assert ei.value.key == "run.n_thread"
    assert any(p.key == "run.n_thread" for p in _errors(path))


def test_dt_nest_cannot_represent_is_a_config_error(model, tmp_path):
    path = _config(model, tmp_path, _run_key("dt", 0.00015))
    with pytest.raises(ConfigError) as ei:
        _run(path)
    assert ei.value.key == "run.dt" and ei.value.path == path
    assert any(p.key == "run.dt" for p in _errors(path))


def test_output_dir_that_is_a_file_is_a_config_error(model, tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    for out in ("afile", "afile/sub"):
        path = _config(model, tmp_path, lambda d, out=out: d["output"].update(output_dir=str(tmp_path / out)))
        with pytest.raises(ConfigError) as ei:
            _run(path)
        assert ei.value.key == "output.output_dir" and "afile" in str(ei.value)
        assert any(p.key == "output.output_dir" for p in _errors(path))
    assert (tmp_path / "afile").read_text() == "not a folder"


# ------------------------------------------------------------------------ messages that name the right file
def test_unknown_nest_model_names_the_node_types_file_before_nest_runs(model, tmp_path):
    d = _copy_model(model, tmp_path)
    csv = os.path.join(d, "network", "cortex_node_types.csv")
    open(csv, "w").write(open(os.path.join(model, "network", "cortex_node_types.csv")).read().replace(
        "nest:iaf_psc_delta", "nest:does_not_exist"))
    with pytest.raises(UnknownModelError) as ei:
        _run(os.path.join(d, "config.simulation.json"), output_dir=tmp_path / "out")
    assert "cortex_node_types.csv" in str(ei.value) and "does_not_exist" in str(ei.value)
    probs = _errors(os.path.join(d, "config.simulation.json"))
    assert any("does_not_exist" in str(p) and p.path == csv for p in probs), probs


def test_unknown_model_type_names_the_types_file_and_population(model, tmp_path):
    d = _copy_model(model, tmp_path)
    csv = os.path.join(d, "network", "cortex_node_types.csv")
    open(csv, "w").write(open(os.path.join(model, "network", "cortex_node_types.csv")).read().replace(
        "point_neuron", "weird_neuron"))
    with pytest.raises(UnknownModelError) as ei:
        _run(os.path.join(d, "config.simulation.json"), output_dir=tmp_path / "out")
    assert "cortex_node_types.csv" in str(ei.value) and "'cortex'" in str(ei.value)
    assert "weird_neuron" in str(ei.value)


def test_unknown_report_variable_names_config_and_key(model, tmp_path):
    path = _config(model, tmp_path, _report(variable_name="zzz"))
    with pytest.raises(ConfigError) as ei:
        _run(path)
    assert ei.value.path == path and ei.value.key == "reports.membrane_potential.variable_name"


def test_clamp_errors_name_config_and_key(model, tmp_path):
    path = _config(model, tmp_path, _clamp(amp=[0.1, 0.2], delay=[1.0], duration=[1.0, 2.0]))
    with pytest.raises(ConfigError) as ei:
        _run(path)
    assert ei.value.path == path and ei.value.key.startswith("inputs.clamp")


def test_good_config_still_runs_and_validates(model, tmp_path):
    path = _config(model, tmp_path, _poisson(rate=None, rates=[0.0, 50.0], times=[0.0, 10.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelkitWarning)
        res = _run(path, threads=1)
    assert res.n_cells == {"cortex": 10}
    assert _errors(path) == []


# ------------------------------------------------------------------------ the command line
CLI_CASES = [
    (_run_key("tstop", INF), [], "run.tstop"),
    (_run_key("tstop", 1e300), [], "run.tstop"),
    (_run_key("dt", 0.00015), [], "run.dt"),
    (_poisson(rate="fast"), [], "inputs.pg.rate"),
    (_poisson(stop_time=INF), [], "inputs.pg.stop_time"),
    (_clamp(amp="big"), [], "inputs.clamp.amp"),
    (lambda d: None, ["--threads", "0"], "threads"),
    (lambda d: None, ["--threads", "100000"], "threads"),
]


@pytest.mark.parametrize("edit,args,key", CLI_CASES, ids=[c[2] + f"-{i}" for i, c in enumerate(CLI_CASES)])
def test_cli_run_says_modelkit_file_and_key_without_traceback(model, tmp_path, edit, args, key):
    path = _config(model, tmp_path, edit)
    r = subprocess.run([sys.executable, "-m", "modelkit", "run", path, "--quiet", *args], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    line = next(x for x in r.stderr.splitlines() if x.startswith("modelkit:"))
    assert path in line and key in line, line


def test_cli_output_dir_that_is_a_file(model, tmp_path):
    (tmp_path / "afile").write_text("x")
    path = _config(model, tmp_path, lambda d: d["output"].update(output_dir=str(tmp_path / "afile")))
    r = subprocess.run([sys.executable, "-m", "modelkit", "run", path, "--quiet"], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "output.output_dir" in r.stderr and path in r.stderr


def test_poisson_generator_api_still_takes_start_stop_with_rate_arrays():
    """The generator's own API (bmtk's) keeps (start, stop) with a rate array; only configs must match lengths."""
    gen = PoissonSpikeGenerator(population="p", seed=0)
    gen.add([0], np.array([10.0, 20.0, 30.0]), times=(0.0, 1.0))
    assert len(gen.spikes("p")[0]) > 0
    with pytest.raises(ModelkitError):
        gen.add([0], -1.0)


def test_config_changed_in_code_is_checked_too(model, tmp_path):
    """simulate() re-checks a parsed config, so one edited with dataclasses.replace cannot slip past."""
    from dataclasses import replace

    from modelkit.sonata import load_config
    cfg = load_config(_config(model, tmp_path, lambda d: None))
    with pytest.raises(ConfigError) as ei:
        _run(replace(cfg, run=replace(cfg.run, tstop=INF)))
    assert ei.value.key == "run.tstop"
    with pytest.raises(ConfigError) as ei:
        _run(replace(cfg, run=replace(cfg.run, extra={"n_thread": 10**6})))
    assert ei.value.key == "run.n_thread"


@pytest.mark.parametrize("column, value", [("syn_weight", "0.8"), ("delay", "1.5")])
def test_nan_in_an_edge_types_csv_names_the_csv_not_the_edges_file(model, tmp_path, column, value):
    d = _copy_model(model, tmp_path)
    csv = os.path.join(d, "network", "cortex_cortex_edge_types.csv")
    open(csv, "w").write(open(os.path.join(model, "network", "cortex_cortex_edge_types.csv")).read().replace(
        f" {value} ", " nan "))
    with pytest.raises((ConfigError, SonataFormatError)) as ei:  # the CSV's column, whichever check sees it first
        _run(os.path.join(d, "config.simulation.json"), output_dir=tmp_path / "out")
    where = getattr(ei.value, "key", None) or getattr(ei.value, "dataset", None)
    assert ei.value.path == csv and column in where
