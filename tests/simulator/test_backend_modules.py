"""One way for a backend to extend modelkit: its own input/report tables, checks and abilities.

The generic simulator (``modelkit.simulator.inputs``, ``recording``, ``run``, ``checks``) imports no backend;
each backend declares the modules it adds, and a module that another backend provides is named as such.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from modelkit.errors import ConfigError
from modelkit.simulator import abilities
from modelkit.simulator.registry import BUILTIN, get_backend
from modelkit.sonata.config import InputSpec, ReportSpec

REPO = Path(__file__).resolve().parents[2]
BACKEND_PACKAGES = ("modelkit.simulator.nest", "modelkit.simulator.neuron", "modelkit.simulator.filter",
                    "modelkit.simulator.population")


def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_generic_simulator_imports_no_backend():
    code = ("import sys, json\n"
            "import modelkit.simulator.inputs, modelkit.simulator.recording, modelkit.simulator.run\n"
            "import modelkit.simulator.checks, modelkit.simulator.environment\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({BACKEND_PACKAGES!r}))))")
    assert json.loads(_python(code)) == []


def test_the_import_contract_names_every_generic_simulator_module():
    # a generic module added later is held to "imports no backend" only if the contract lists it
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    listed = next(set(c["source_modules"]) for c in contracts
                  if c["type"] == "forbidden" and set(c["forbidden_modules"]) == set(BACKEND_PACKAGES))
    generic = {f"modelkit.simulator.{p.stem}" for p in (REPO / "modelkit" / "simulator").glob("*.py")
               if p.stem != "__init__"}
    assert generic == listed


def test_importing_filter_leaves_the_generic_input_table_alone():
    code = ("import json\n"
            "from modelkit.simulator.inputs import INPUT_MODULES\n"
            "before = sorted(map(list, INPUT_MODULES))\n"
            "import modelkit.simulator.filter\n"
            "print(json.dumps(before == sorted(map(list, INPUT_MODULES))))")
    assert json.loads(_python(code)) is True


def test_nest_run_with_rate_input_imports_neither_population_nor_neuron(tmp_path):
    pytest.importorskip("nest")
    code = f"""
import sys, json
from modelkit import NetworkBuilder
from modelkit.simulator import simulate
cells = NetworkBuilder("cortex")
cells.add_nodes(N=2, model_type="point_neuron", model_template="nest:iaf_psc_delta")
bg = NetworkBuilder("bg")
bg.add_nodes(N=2, model_type="virtual")
bg.add_edges(source=bg.nodes(), target=cells.nodes(), connection_rule=1, syn_weight=2.0, delay=1.0,
             model_template="static_synapse")
cfg = {{"run": {{"tstop": 50.0, "dt": 0.1}},
       "inputs": {{"drive": {{"input_type": "rates", "module": "constant", "node_set": "bg", "rate": 100.0}}}},
       "output": {{"output_dir": {str(tmp_path / "out")!r}}}}}
res = simulate(cfg, network=[cells, bg], progress=False)
assert res.backend == "nest"
print(json.dumps(sorted({{m.rpartition(".")[0] if m.count(".") > 2 else m for m in sys.modules
                         if m.startswith(("modelkit.simulator.population", "modelkit.simulator.neuron"))}})))
"""
    assert json.loads(_python(code)) == []


def _input(input_type: str, module: str, **params) -> InputSpec:
    return InputSpec(name="x", input_type=input_type, module=module, node_set=None, params=params)


def test_an_input_of_another_backend_is_named_as_such():
    from modelkit.simulator.inputs import input_module
    with pytest.raises(ConfigError, match=r"inputs\.stim\.module.*xstim.*neuron backend; this run uses nest") as e:
        input_module("stim", _input("lfp", "xstim"), "/x/config.json", backend=get_backend("nest"))
    assert e.value.key == "inputs.stim.module" and e.value.path == "/x/config.json"
    with pytest.raises(ConfigError, match=r"movie/grating.*filter backend; this run uses neuron"):
        input_module("m", _input("movie", "grating"), None, backend=get_backend("neuron"))
    # an unknown module lists what this backend knows (its own and the generic ones), not other backends'
    with pytest.raises(ConfigError, match=r"inputs\.p\.module: expected a known input_type/module") as e:
        input_module("p", _input("spikes", "plasma"), None, backend=get_backend("nest"))
    assert "spikes/poisson" in str(e.value) and "xstim" not in str(e.value) and "movie" not in str(e.value)
    # the backend's own table comes first
    assert type(input_module("m", _input("movie", "grating"), None, backend=get_backend("filter"))).__name__ \
        == "MovieInput"


def test_a_report_of_another_backend_is_named_as_such():
    from modelkit.simulator.recording import report_module
    spec = ReportSpec(name="e", module="ecp", cells=None, variable_name=None)
    with pytest.raises(ConfigError, match=r"reports\.e\.module.*neuron backend; this run uses population"):
        report_module("e", spec, None, backend=get_backend("population"))
    assert type(report_module("e", spec, None, backend=get_backend("neuron"))).__name__ == "EcpReport"


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_declared_module_strings_import(name):
    cls = get_backend(name)
    for table in (cls.input_modules, cls.report_modules):
        for key, target in table.items():
            mod, _, attr = target.partition(":")
            assert callable(getattr(importlib.import_module(mod), attr)), (name, key, target)
    # NEST's own checks are declared on its class; a backend that declares none has none
    assert hasattr(cls, "check") == (name == "nest")


#: the abilities each built-in backend has (and, by omission, lacks)
ABILITIES = {
    "nest": {abilities.RecordsWeights, abilities.DefaultClampUnits, abilities.Processes},
    "neuron": {abilities.RecordsSections, abilities.RecordsSynapses, abilities.RecordsClamps,
               abilities.VoltageClamps, abilities.ExtracellularFields, abilities.Processes,
               abilities.AgreesOnErrors},
    "population": {abilities.TakesRates, abilities.Processes},
    "filter": {abilities.TakesStimulus},
}


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_backends_have_their_abilities(name):
    from modelkit.simulator.base import Backend
    engine = get_backend(name)()
    assert isinstance(engine, Backend)  # the optional declarations are no protocol members
    have = {a for a in abilities.ABILITIES if isinstance(engine, a)}
    assert have == ABILITIES[name]
    assert isinstance(get_backend("neuron"), abilities.PreparesEnvironment)
    assert not isinstance(get_backend("nest"), abilities.PreparesEnvironment)
