# usage: python count_threads.py OUT THREADS CORE(0/1) CONFIG  (OMP_NUM_THREADS=4 to see the team)
import sys, os
from modelkit.simulator import simulate
class S:
    n = set()
    def spikes(self, *a): pass
    def progress(self, t, tstop): S.n.add(len(os.listdir("/proc/self/task")))
simulate(sys.argv[4], output_dir=sys.argv[1], progress=False, threads=int(sys.argv[2]), coreneuron=sys.argv[3]=="1", sinks=[S()])
print(sys.argv[2:], "tasks during run", S.n)
