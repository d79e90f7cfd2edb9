import os, sys
from neuron import h, coreneuron
h.load_file("stdrun.hoc")
pc = h.ParallelContext()
core = sys.argv[1] == "1"
cells, ncs, stims = [], [], []
for i in range(5):
    c = h.IntFire1(); c.tau = 5 + i; c.refrac = 2 + i * 0.5
    pc.set_gid2node(i, 0); nc = h.NetCon(c, None); pc.cell(i, nc); cells.append(c)
for i in range(5):
    s = h.NetStim(); s.interval = 3 + i; s.number = 100; s.start = 1; s.noise = 0
    stims.append(s); n = h.NetCon(s, cells[i]); n.weight[0] = 0.6; n.delay = 1; ncs.append(n)
for i in range(4):
    n = pc.gid_connect(i, cells[i + 1]); n.weight[0] = 0.3; n.delay = 2; ncs.append(n)
soma = h.Section(name="soma"); soma.L = soma.diam = 20; soma.insert("hh")
syn = h.ExpSyn(soma(0.5)); pc.set_gid2node(10, 0); nc10 = h.NetCon(soma(0.5)._ref_v, None, sec=soma); nc10.threshold = 0; pc.cell(10, nc10)
n = pc.gid_connect(0, syn); n.weight[0] = 0.05; n.delay = 1; ncs.append(n)
tv, idv = h.Vector(), h.Vector(); pc.spike_record(-1, tv, idv)
h.cvode.cache_efficient(1)
if core:
    os.environ["CORENEURONLIB"] = "/tmp/if1/x86_64/libcorenrnmech.so"
    coreneuron.enable = True; coreneuron.verbose = 0
pc.set_maxstep(10); h.finitialize(-65); pc.psolve(100)
print(len(tv), list(zip(idv.to_python(), tv.to_python()))[:6], hash(tuple(tv.to_python())), hash(tuple(idv.to_python())))
