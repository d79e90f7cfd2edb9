import json, os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.environ["PYTHONPATH"], "benchmarks"))
import bench_neuron as b
b.CELL_TYPES = [(a, e, m, f, 1 / 3) for a, e, m, f, _ in b.CELL_TYPES[:3]]; b.EDGE_TYPES = [t for t in b.EDGE_TYPES if t[:2] == ("e", "e")]
n, tstop = int(sys.argv[1]), float(sys.argv[2])
out = f"/tmp/cn/benche{n}"
if not os.path.exists(os.path.join(out, "done")):
    info = b.build_network(out, "/tmp/cn/mechdir", n, tstop); open(os.path.join(out, "done"), "w").write(json.dumps(info, default=str))
info = json.loads(open(os.path.join(out, "done")).read())
cfg = os.path.join(out, "config.json")
CHILD = """
import sys, json, resource
from modelkit.simulator import simulate
r = simulate(sys.argv[1], output_dir=sys.argv[2], progress=False, overwrite=True, coreneuron=sys.argv[3] == '1')
print(json.dumps({"timings": r.timings, "spikes_file": r.spikes_file, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
res = {}
for rep in range(int(sys.argv[3]) if len(sys.argv) > 3 else 1):
    for core in ("0", "1"):
        p = subprocess.run([sys.executable, "-c", CHILD, cfg, f"{out}/out{core}", core], capture_output=True, text=True)
        if p.returncode: print(p.stderr[-2000:]); sys.exit(1)
        r = json.loads(p.stdout.strip().splitlines()[-1]); res.setdefault(core, []).append(r)
        print(n, "coreneuron" if core == "1" else "neuron", {k: round(v, 3) for k, v in r["timings"].items()}, "rss MiB", round(r["rss_mib"]), flush=True)
import h5py, numpy as np
def spk(f):
    with h5py.File(f) as h:
        return {p: (h[f"spikes/{p}/node_ids"][()], h[f"spikes/{p}/timestamps"][()]) for p in h["spikes"]}
a, c = spk(res["0"][-1]["spikes_file"]), spk(res["1"][-1]["spikes_file"])
print("spikes identical:", all(np.array_equal(a[p][0], c[p][0]) and np.array_equal(a[p][1], c[p][1]) for p in a), {p: len(a[p][0]) for p in a})
