# usage: python seclamp_rs_play.py step|cont CORE(0/1) DELAY DURATION  -> {step,cont}{core}.npy (v, i, rs per step)
# a SEClamp free (rs 1e20) before DELAY and after DELAY+DURATION: rs played as a step Vector (NEURON only) or
# as a continuous Vector with repeated switch times (NEURON and CoreNEURON)
import sys, numpy as np
from neuron import h, coreneuron
h.load_file("stdrun.hoc")
mode, core = sys.argv[1], sys.argv[2] == "1"
pc = h.ParallelContext()
soma = h.Section(name="soma"); soma.L = soma.diam = 20; soma.insert("hh")
pc.set_gid2node(0, 0); nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma); pc.cell(0, nc)
c = h.SEClamp(soma(0.5)); d, w, a, rs_on = float(sys.argv[3]), float(sys.argv[4]), -20.0, 1.0
c.dur1, c.dur2, c.dur3 = d, w, 0.0; c.amp1, c.amp2, c.amp3 = 0.0, a, 0.0
if mode == "step":
    tv, rv = h.Vector([0.0, d, d + w]), h.Vector([1e20, rs_on, 1e20]); rv.play(c, c._ref_rs, tv, 0)
else:
    tv, rv = h.Vector([0.0, d, d, d + w, d + w, 1e9]), h.Vector([1e20, 1e20, rs_on, rs_on, 1e20, 1e20]); rv.play(c, c._ref_rs, tv, 1)
v, i, rsr = h.Vector(), h.Vector(), h.Vector()
v.record(soma(0.5)._ref_v); i.record(c._ref_i); rsr.record(c._ref_rs)
h.dt = 0.025; h.cvode.cache_efficient(1)
if core: coreneuron.enable = True; coreneuron.verbose = 0
pc.set_maxstep(10); h.finitialize(-65); pc.psolve(20); pc.psolve(45)
np.save(f"{mode}{int(core)}.npy", np.array([v.as_numpy(), i.as_numpy(), rsr.as_numpy()]))
print(mode, core, len(v))
