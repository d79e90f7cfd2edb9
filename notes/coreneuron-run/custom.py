import sys, os, numpy as np
from neuron import h, coreneuron
h.load_file("stdrun.hoc")
lib, use_cn = sys.argv[1], sys.argv[2] == "1"
if lib.startswith("dir:"):
    import neuron; print("load_mechanisms", neuron.load_mechanisms(lib[4:]))
elif lib != "-":
    print("load", lib, h.nrn_load_dll(lib))
pc = h.ParallelContext()
cells=[]
for i in range(4):
    s = h.Section(name=f"soma{i}"); s.L = s.diam = 20
    for m in ("pas", "NaTs", "Kv3_1", "Ih", "SK", "CaDynamics", "Ca_HVA", "Im"): s.insert(m)
    for seg in s:
        seg.gbar_NaTs = 0.5; seg.gbar_Kv3_1 = 0.3; seg.e_pas = -70; seg.g_pas=1e-4
    s.ena = 50; s.ek = -85
    ic = h.IClamp(s(0.5)); ic.delay = 10+5*i; ic.dur = 100; ic.amp = 0.2
    cells.append((s, ic))
    pc.set_gid2node(i, 0); nc = h.NetCon(s(0.5)._ref_v, None, sec=s); nc.threshold=-15; pc.cell(i, nc)
spk_t, spk_g = h.Vector(), h.Vector(); pc.spike_record(-1, spk_t, spk_g)
v = h.Vector(); v.record(cells[0][0](0.5)._ref_v, sec=cells[0][0])
if os.environ.get("SETLIB"): os.environ["CORENEURONLIB"] = os.environ["SETLIB"]
h.cvode.cache_efficient(1)
coreneuron.enable = use_cn
pc.set_maxstep(10); h.celsius = 34; h.dt = 0.025
h.finitialize(-70)
for tb in (60, 150): pc.psolve(tb)
print("spikes", spk_t.size(), "v samples", v.size())
np.save(f"c_spk{int(use_cn)}.npy", np.array([spk_t.as_numpy(), spk_g.as_numpy()])); np.save(f"c_v{int(use_cn)}.npy", v.as_numpy())
