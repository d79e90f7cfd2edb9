import os, sys
from neuron import h, coreneuron
h.nrn_load_dll("/tmp/vx/full/x86_64/libnrnmech.so")  # NEURON: CaDynamics + VecStim
os.environ["CORENEURONLIB"] = "/tmp/vx/core/x86_64/libcorenrnmech.so"  # CoreNEURON: CaDynamics only
h.load_file("stdrun.hoc")
pc = h.ParallelContext()
cells = []
for i in range(3):
    s = h.Section(name=f"s{i}"); s.L = s.diam = 20; s.insert("hh"); s.insert("CaDynamics")
    pc.set_gid2node(i, 0); nc = h.NetCon(s(0.5)._ref_v, None, sec=s); pc.cell(i, nc); cells.append(s)
ic = h.IClamp(cells[0](0.5)); ic.delay = 5; ic.dur = 50; ic.amp = 0.5
use_vecstim = len(sys.argv) > 1
if use_vecstim:
    vs = h.VecStim(); tv = h.Vector([10, 20]); vs.play(tv)
tv_, idv = h.Vector(), h.Vector(); pc.spike_record(-1, tv_, idv)
v = h.Vector().record(cells[0](0.5)._ref_v)
h.cvode.cache_efficient(1); pc.set_maxstep(10); h.dt = 0.025
def run(core):
    coreneuron.enable = core; coreneuron.verbose = 0
    h.finitialize(-65); pc.psolve(60)
    return list(tv_), v.to_python()
a = run(False); sa, va = list(a[0]), list(a[1])
b = run(True)
print("spikes", len(sa), len(b[0]), sa == b[0], "maxdv", max(abs(x - y) for x, y in zip(va, b[1])))
