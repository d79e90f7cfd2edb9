"""Per-node ``dynamics_params`` overrides in NEURON: biophysical cells (a parameter the Allen-style file sets)
and artificial cells (IntFire1), through ``Network.with_dynamics`` as a sweep applies them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelkit.datasets import bio_network
from modelkit.errors import ConfigError
from modelkit.simulator import simulate
from modelkit.sonata import CompartmentReport, Network


@pytest.fixture(scope="module")
def bio(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small ball-and-stick network (NEURON's built-in hh/pas) with a soma v report of nodes 0, 1 and 3."""
    return bio_network(tmp_path_factory.mktemp("dyn") / "net", n_exc=3, n_inh=1, n_input=10, tstop=60.0)


def _v(cfg: str, out: Path, network: Network | None = None) -> tuple[np.ndarray, np.ndarray]:
    res = simulate(cfg, network=network, output_dir=out, progress=False, overwrite=True)
    rep = CompartmentReport(res.reports["membrane_potential"])["bio"]
    return rep.node_ids, rep.data()


def test_biophysical_overrides(bio: str, tmp_path: Path) -> None:
    net = Network.load(bio)
    ids, base = _v(bio, tmp_path / "base")
    # equal to the file's values (gnabar_hh 0.12 in soma and axon; cm 1.0 everywhere): nothing changes
    same = net.with_dynamics("bio", {"gnabar_hh": 0.12, "cm": 1.0})
    assert np.array_equal(_v(bio, tmp_path / "same", same)[1], base)
    # cm doubled on node 0 only: its membrane is slower (its trace changes from the first steps, before any
    # synaptic input could carry the change to other cells)
    slow = net.with_dynamics([0], {"cm": 2.0})
    _, v = _v(bio, tmp_path / "slow", slow)
    col = int(np.flatnonzero(ids == 0)[0])
    assert np.abs(v[:20, col] - base[:20, col]).max() > 1e-3
    others = [c for c in range(len(ids)) if c != col]
    assert np.array_equal(v[:20, others], base[:20, others])
    # the same override stored in the nodes file (dynamics_params/cm, NaN: no override) runs the same
    import h5py
    again = bio_network(tmp_path / "h5net", n_exc=3, n_inh=1, n_input=10, tstop=60.0)
    with h5py.File(Path(again).parent / "network" / "bio_nodes.h5", "r+") as f:
        f.create_dataset("nodes/bio/0/dynamics_params/cm", data=[2.0, np.nan, np.nan, np.nan])
    assert np.array_equal(_v(again, tmp_path / "h5")[1], v)
    # a name the parameter file does not set: an error naming the file and the name
    with pytest.raises(ConfigError, match=r"hh_ballstick\.json.*gbar_NaTs|gbar_NaTs.*hh_ballstick\.json"):
        simulate(bio, network=net.with_dynamics([1], {"gbar_NaTs": 0.1}), output_dir=tmp_path / "bad",
                 progress=False, overwrite=True)


def test_point_process_overrides(tmp_path: Path) -> None:
    """IntFire1 tau (s in the file, as bmtk) per node: a slower membrane sums the same input to more spikes;
    an override equal to the file's value changes nothing."""
    import h5py

    from modelkit.builder import FixedProbability, NetworkBuilder
    from modelkit.simulator import PoissonSpikeGenerator
    models = tmp_path / "point"
    models.mkdir()
    (models / "IntFire1.json").write_text(json.dumps({"tau": 0.005, "refrac": 0.002}))
    cells = NetworkBuilder("cells")
    cells.add_nodes(N=2, model_type="point_process", model_template="nrn:IntFire1", dynamics_params="IntFire1.json")
    drive = NetworkBuilder("drive")
    drive.add_nodes(N=1, model_type="virtual")
    drive.add_edges(target=cells.nodes(), connection_rule=FixedProbability(1.0), syn_weight=0.3, delay=1.0)
    gen = PoissonSpikeGenerator(population="drive", seed=3)
    gen.add([0], 300.0, times=(0.0, 0.2))
    gen.to_sonata(str(tmp_path / "drive.h5"))
    cfg = {"target_simulator": "NEURON", "run": {"tstop": 200.0, "dt": 0.1},
           "components": {"point_neuron_models_dir": str(models)},
           "inputs": {"drive": {"input_type": "spikes", "module": "sonata", "input_file": str(tmp_path / "drive.h5"),
                                "node_set": "drive"}}}
    net = cells.build()

    def counts(network: Network, out: str) -> np.ndarray:
        res = simulate({**cfg, "output": {"output_dir": str(tmp_path / out)}}, network=[network, drive],
                       progress=False)
        with h5py.File(res.spikes_file) as f:
            return np.bincount(f["spikes/cells/node_ids"][()].astype(np.int64), minlength=2)

    base = counts(net, "base")
    assert base[0] == base[1] > 0
    assert np.array_equal(counts(net.with_dynamics("cells", {"tau": 0.005}), "same"), base)
    slow = counts(net.with_dynamics([1], {"tau": 0.02}), "slow")
    assert slow[0] == base[0] and slow[1] > base[1]
    with pytest.raises(ConfigError, match="taum"):  # IntFire2's name, not IntFire1's
        counts(net.with_dynamics([1], {"taum": 0.02}), "bad")
