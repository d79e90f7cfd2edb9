"""Mechanisms compiled for CoreNEURON (issue 18, item 2): Allen's NaV.mod compiles and gives NEURON's currents.

nmodl 9.0.2 pastes its Crout solver's text twice into NaV's C++ (a Newton-solved KINETIC block and a
LINEAR block), and keeps a ``v`` slot NEURON's non-vectorized NaV lacks; :mod:`nmodl_patch` repairs both
(see its text).  The runs go in a child process: NEURON loads one library per mechanism name per process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import bmtk  # conftest skips this folder without it
import pytest

from modelkit.errors import ConfigError
from modelkit.simulator.neuron import nmodl_patch
from modelkit.simulator.neuron.mechanisms import compile_mechanisms, coreneuron_left_out, coreneuron_library, tool_env


MODFILES = Path(bmtk.__file__).parent / "utils" / "scripts" / "bionet" / "mechanisms" / "modfiles"
#: the smallest mechanism with the defect: a KINETIC block solved by Newton's method and a LINEAR block of
#: 4 unknowns, in a mechanism of 5 state values (the reproduction in notes/coreneuron-mechanisms.md)
KINLIN = """\
NEURON { SUFFIX kinlin }
STATE { a b c d e }
BREAKPOINT { SOLVE kin METHOD sparse }
INITIAL { SOLVE lin }
KINETIC kin {
    ~ a <-> b (1, 1)
}
LINEAR lin {
    ~ a = 1
    ~ b = 2
    ~ c = 3
    ~ d = 4
}
"""


def test_nmodl_pastes_the_crout_solver_twice_and_the_guard_keeps_one(tmp_path):
    (tmp_path / "kinlin.mod").write_text(KINLIN)
    # the wheel's nmodl launcher (it sets up the environment the real binary needs)
    nmodl = os.path.join(os.path.dirname(sys.executable), "nmodl")
    subprocess.run([nmodl, "kinlin.mod", "-o", "out"], cwd=tmp_path, check=True, capture_output=True, env=tool_env())
    cpp = (tmp_path / "out" / "kinlin.cpp").read_text()
    assert nmodl_patch.crout_copies(cpp) == 2  # the defect; if nmodl is fixed, this says so
    fixed = nmodl_patch.guard_crout_copies(cpp)
    assert fixed.count(f"#ifndef {nmodl_patch.CROUT_GUARD}") == 2
    # only guard lines added: the text the compiler keeps is nmodl's
    assert [x for x in fixed.splitlines() if nmodl_patch.CROUT_GUARD not in x] == cpp.splitlines()
    assert nmodl_patch.guard_crout_copies(fixed) == fixed


_COMPARE = textwrap.dedent("""\
    import json, os, sys
    lib, core = sys.argv[1], sys.argv[2]
    os.environ["CORENEURONLIB"] = core
    from neuron import h, coreneuron
    import numpy as np
    assert h.nrn_load_dll(lib)
    h.load_file("stdrun.hoc")
    pc = h.ParallelContext(); h.cvode.cache_efficient(1)
    h.celsius = 34; h.dt = 0.025; pc.set_maxstep(10)
    s = h.Section(name="soma"); s.L = s.diam = 20; s.nseg = 1
    s.insert("pas"); s.g_pas = 1e-4; s.e_pas = -70
    s.insert("NaV"); s.gbar_NaV = 0.05
    s.insert("hh"); s.gnabar_hh = 0; s.gl_hh = 0; s.gkbar_hh = 0.036   # a K current to repolarise
    s.ena = 53; s.ek = -107
    pc.set_gid2node(0, pc.id()); nc = h.NetCon(s(0.5)._ref_v, None, sec=s); nc.threshold = -20; pc.cell(0, nc)
    def run(core, tstop):
        v = h.Vector().record(s(0.5)._ref_v); ina = h.Vector().record(s(0.5)._ref_ina)
        st, sid = h.Vector(), h.Vector(); pc.spike_record(-1, st, sid)
        coreneuron.enable = core; h.finitialize(-70); pc.psolve(tstop); coreneuron.enable = False
        return np.array(v), np.array(ina), np.array(st)
    ic = h.IClamp(s(0.5)); ic.delay = 5; ic.dur = 100; ic.amp = 0.5
    (vn, inn, sn), (vc, inc, sc) = run(False, 120.0), run(True, 120.0)
    out = dict(dv=float(abs(vn - vc).max()), dina=float(abs(inn - inc).max()), n=len(sn),
               same_spikes=bool(len(sn) == len(sc) and (sn == sc).all()), ina_min=float(inn.min()))
    ic.amp = 0
    se = h.SEClamp(s(0.5)); se.rs = 1e-3; se.dur1 = 5; se.amp1 = -70; se.dur2 = 20; se.amp2 = -10
    se.dur3 = 20; se.amp3 = -70
    (vn, inn, _), (vc, inc, _) = run(False, 45.0), run(True, 45.0)
    out.update(vclamp_dina=float(abs(inn - inc).max()), vclamp_peak=float(inn.min()))
    print("RESULT " + json.dumps(out))
    """)


def test_allen_nav_compiles_for_coreneuron_and_gives_neurons_currents(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELKIT_CACHE_DIR", str(tmp_path / "cache"))
    mech = tmp_path / "mechanisms"
    mech.mkdir()
    shutil.copy(MODFILES / "NaV.mod", mech)
    lib = compile_mechanisms(str(mech), coreneuron=True)
    core = coreneuron_library(lib)
    assert core is not None and os.path.basename(core).startswith("libcorenrnmech")
    assert compile_mechanisms(str(mech), coreneuron=True) == lib  # cached by content
    env = {**os.environ, "NEURON_MODULE_OPTIONS": "-nogui"}
    proc = subprocess.run([sys.executable, "-c", _COMPARE, lib, core], capture_output=True, text=True,
                          timeout=600, env=env)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line is not None, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(line[7:])
    assert r["ina_min"] < -0.5 and r["n"] > 10  # NaV carries the spikes
    assert r["same_spikes"]
    assert r["dv"] < 1e-6  # mV; measured 5e-10
    assert r["dina"] < 1e-9 and r["vclamp_dina"] < 1e-9  # mA/cm2; measured 1.5e-11 and 4e-14
    assert r["vclamp_peak"] < -0.5


def test_a_mod_file_no_build_compiles_is_a_config_error_with_the_compiler_output(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELKIT_CACHE_DIR", str(tmp_path / "cache"))
    mech = tmp_path / "mechanisms"
    mech.mkdir()
    (mech / "broken.mod").write_text("NEURON { SUFFIX broken }\nBREAKPOINT { x = }\n")
    with pytest.raises(ConfigError, match="nrnivmodl exit status") as e:
        compile_mechanisms(str(mech), coreneuron=True)
    assert "broken.mod" in str(e.value)
    assert not any(p.name.startswith(".build-") for p in (tmp_path / "cache" / "nrnmech").iterdir())


def test_a_folder_where_no_file_compiles_for_coreneuron_loads_for_neuron(tmp_path, monkeypatch):
    """bmtk's own vecevent.mod (VecStim) alone: its VERBATIM calls ifarg/vector_arg, which CoreNEURON lacks.
    NEURON's build is made; no CoreNEURON library (nothing cached), and the reason is kept in this process."""
    vec = Path(MODFILES) / "vecevent.mod"
    if not vec.exists():
        pytest.skip("bmtk ships no vecevent.mod here")
    monkeypatch.setenv("MODELKIT_CACHE_DIR", str(tmp_path / "cache"))
    mech = tmp_path / "mechanisms"
    mech.mkdir()
    shutil.copy(vec, mech)
    lib = compile_mechanisms(str(mech), coreneuron=True)
    assert os.path.basename(lib) == "libnrnmech.so" and coreneuron_library(lib) is None
    left = coreneuron_left_out(lib)
    assert list(left) == ["VecStim"] and left["VecStim"].file == "vecevent.mod"
    assert re.search(r"ifarg.{1,3} was not declared", left["VecStim"].reason)  # g++ quotes by locale
    assert not any("-coreneuron-" in p.name for p in (tmp_path / "cache" / "nrnmech").iterdir())


def test_builds_after_import_neuron_nmodl(tmp_path, monkeypatch):
    """``import neuron.nmodl`` (neuron 9.0.2) sets ``NMODLHOME`` to ``<neuron>/.data/share/nrn``, where nmodl
    finds no ``nrnunits.lib``, and the wheel's launchers keep a ``NMODLHOME`` that is set: CI's whole suite met
    it (every CoreNEURON build after some test had imported it failed).  The builds set it aside."""
    import neuron
    monkeypatch.setenv("NMODLHOME", os.path.join(os.path.dirname(neuron.__file__), ".data", "share", "nrn"))
    monkeypatch.setenv("MODELKIT_CACHE_DIR", str(tmp_path / "cache"))
    mech = tmp_path / "mech"
    mech.mkdir()
    (mech / "kinlin.mod").write_text(KINLIN)
    lib = compile_mechanisms(str(mech), coreneuron=True)
    assert coreneuron_library(lib) is not None and coreneuron_left_out(lib) == {}
