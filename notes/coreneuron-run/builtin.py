import sys, time, numpy as np
from neuron import h, coreneuron
h.load_file("stdrun.hoc")
use_cn = sys.argv[1] == "1"
pc = h.ParallelContext()
cells = []; syns=[]; ncs=[]
N=20
for i in range(N):
    s = h.Section(name=f"soma{i}"); s.L = s.diam = 20; s.insert("hh")
    d = h.Section(name=f"dend{i}"); d.L=200; d.diam=2; d.nseg=5; d.insert("pas"); d.connect(s(1))
    cells.append((s, d))
    pc.set_gid2node(i, pc.id())
    nc = h.NetCon(s(0.5)._ref_v, None, sec=s); nc.threshold = -15
    pc.cell(i, nc)
# netstim input into cell 0..N-1 via Exp2Syn
ns = h.NetStim(); ns.start=5; ns.interval=10; ns.number=20; ns.noise=0
pc.set_gid2node(1000, 0); pc.cell(1000, h.NetCon(ns, None))
pt = h.Vector([2.0, 7.5, 13.0, 120.0]); pg = h.Vector([1001.0]*4); ps = h.PatternStim(); ps.play(pt, pg)
rng = np.random.default_rng(1)
for i in range(N):
    s, d = cells[i]
    syn = h.Exp2Syn(d(0.5)); syn.tau1=0.5; syn.tau2=3; syns.append(syn)
    for src in (1000, 1001):
        nc = pc.gid_connect(src, syn); nc.weight[0]=0.02; nc.delay=1; ncs.append(nc)
    for j in rng.choice(N, 3, replace=False):
        e = h.ExpSyn(d(0.3)); syns.append(e)
        nc = pc.gid_connect(int(j), e); nc.weight[0]=0.005; nc.delay=2+rng.random(); ncs.append(nc)
spk_t, spk_g = h.Vector(), h.Vector()
pc.spike_record(-1, spk_t, spk_g)
v = h.Vector(); v.record(cells[3][0](0.5)._ref_v, sec=cells[3][0])
h.cvode.cache_efficient(1)
if use_cn:
    coreneuron.enable = True
    coreneuron.verbose = int(sys.argv[2]) if len(sys.argv)>2 else 0
pc.set_maxstep(10)
h.dt = 0.025
h.finitialize(-65)
t0=time.time()
counts=[]
for tb in (50, 100, 150, 200):
    pc.psolve(tb)
    counts.append((h.t, spk_t.size(), v.size()))
print("cn" if use_cn else "nrn", counts, time.time()-t0)
np.save(f"spk{int(use_cn)}.npy", np.array([spk_t.as_numpy(), spk_g.as_numpy()]))
np.save(f"v{int(use_cn)}.npy", v.as_numpy())
