import sys, numpy as np
from neuron import h, coreneuron
h.load_file("stdrun.hoc")
feat, use_cn = sys.argv[1], sys.argv[2] == "1"
pc = h.ParallelContext()
s = h.Section(name="soma"); s.L = s.diam = 20; s.insert("hh")
d = h.Section(name="dend"); d.L = 200; d.diam = 2; d.nseg = 5; d.insert("pas"); d.connect(s(1))
pc.set_gid2node(0, 0); nc = h.NetCon(s(0.5)._ref_v, None, sec=s); nc.threshold = -15; pc.cell(0, nc)
ic = h.IClamp(s(0.5)); ic.delay = 5; ic.dur = 1e9; ic.amp = 0.0
keep = []
rec = h.Vector()
if feat == "play":
    tv = h.Vector([0, 10, 30, 50]); av = h.Vector([0, 0.3, 0.0, 0.5]); exec(sys.argv[3]); keep += [tv, av]
    rec.record(s(0.5)._ref_v, sec=s)
else:
    ic.amp = 0.3
if feat == "imem":
    h.cvode.use_fast_imem(1); rec.record(d(0.5)._ref_i_membrane_, sec=d)
if feat == "extracellular":
    for sec in (s, d): sec.insert("extracellular")
    rec.record(s(0.5)._ref_v, sec=s)
if feat == "intfire":
    c = h.IntFire1(); c.tau = 10; pc.set_gid2node(1, 0); pc.cell(1, h.NetCon(c, None))
    n2 = pc.gid_connect(0, c); n2.weight[0] = 2; n2.delay = 1; keep += [c, n2]
    rec.record(s(0.5)._ref_v, sec=s)
if feat == "noevent": rec.record(s(0.5)._ref_v, sec=s)
if feat == "event":
    def cb(): ic.amp = 0.5
    fih = h.FInitializeHandler(1, lambda: h.cvode.event(20, cb)); keep.append(fih); rec.record(s(0.5)._ref_v, sec=s)
if feat == "syni":
    syn = h.Exp2Syn(d(0.5)); ns = h.NetStim(); ns.start = 2; ns.interval = 5; ns.number = 10; ns.noise = 0
    n3 = h.NetCon(ns, syn); n3.weight[0] = 0.01; n3.delay = 1; keep += [syn, ns, n3]
    rec.record(syn, syn._ref_i, sec=d)
if feat == "recdt":
    rec.record(s(0.5)._ref_v, 0.1, sec=s)
spk_t, spk_g = h.Vector(), h.Vector(); pc.spike_record(-1, spk_t, spk_g)
h.cvode.cache_efficient(1)
coreneuron.enable = use_cn
pc.set_maxstep(10); h.dt = 0.025
h.finitialize(-65)
for tb in (30, 60): pc.psolve(tb)
np.save(f"f_{feat}_{int(use_cn)}.npy", rec.as_numpy()); np.save(f"fs_{feat}_{int(use_cn)}.npy", np.array([spk_t.as_numpy(), spk_g.as_numpy()]))
print("OK", rec.size(), spk_t.size())
