"""Run bmtk's PointNet on a simulation config in a process of its own (NEST's kernel is global, so bmtk and
modelkit never share a process).  Used by the NEST tests to compare spikes with bmtk.

    python bmtk_pointnet_child.py CONFIG OUTPUT_DIR

The config is copied beside itself with ``output.output_dir`` set to ``OUTPUT_DIR`` (bmtk reads the output
folder from the file only).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as f:
        d = json.load(f)
    d.setdefault("output", {})["output_dir"] = out
    tmp = os.path.join(os.path.dirname(os.path.abspath(src)), "_bmtk_" + os.path.basename(src))
    with open(tmp, "w") as f:
        json.dump(d, f)
    from bmtk.simulator import pointnet
    conf = pointnet.Config.from_json(tmp)
    conf.build_env()
    net = pointnet.PointNetwork.from_config(conf)
    sim = pointnet.PointSimulator.from_config(conf, net)
    sim.run()


if __name__ == "__main__":
    main()
