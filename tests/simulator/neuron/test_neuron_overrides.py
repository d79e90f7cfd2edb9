"""simulate(overrides=...) in NEURON: an edge type's syn_weight (µS) and delay reach the synapses' NetCons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkit.datasets import bio_network
from modelkit.simulator import simulate, tunable_parameters
from modelkit.sonata import CompartmentReport


@pytest.fixture(scope="module")
def bio(tmp_path_factory: pytest.TempPathFactory) -> str:
    return bio_network(tmp_path_factory.mktemp("ovr") / "net", n_exc=3, n_inh=1, n_input=10, tstop=60.0)


def _run(cfg: str, out: Path, **kw):
    res = simulate(cfg, output_dir=out, progress=False, overwrite=True, **kw)
    return res, CompartmentReport(res.reports["membrane_potential"])["bio"].data()


def test_input_weight_and_delay_reach_neuron(bio: str, tmp_path: Path) -> None:
    table = tunable_parameters(bio)
    key = next(k for k in table.key if k.endswith(".syn_weight") and "input" in k)
    w = float(table.set_index("key").loc[key, "value"])
    base_res, base = _run(bio, tmp_path / "base")
    same_res, same = _run(bio, tmp_path / "same", overrides={key: w})  # the file's value: nothing changes
    assert np.array_equal(same, base)
    strong_res, strong = _run(bio, tmp_path / "strong", overrides={key: 4 * w})
    assert not np.array_equal(strong, base)
    assert strong.max() > base.max() and sum(strong_res.n_spikes.values()) >= sum(base_res.n_spikes.values())
    late_res, late = _run(bio, tmp_path / "late", overrides={key.replace("syn_weight", "delay"): 10.0})
    assert not np.array_equal(late, base)


def test_every_listed_cell_parameter_reaches_neuron(bio: str, tmp_path: Path) -> None:
    """Each node-type parameter tunable_parameters lists (genome and passive values of the Allen-style file)
    is one NEURON's backend takes: the file's value changes nothing, another one changes the traces."""
    table = tunable_parameters(bio)
    cells = table[table.key.str.startswith("node_types.BallStickE.")].set_index("parameter")
    assert {"gnabar_hh", "gkbar_hh", "e_pas", "cm", "Ra"} <= set(cells.index)
    assert cells.loc["cm", "unit"] == "µF/cm²" and cells.loc["e_pas", "unit"] == "mV"
    _, base = _run(bio, tmp_path / "base")
    for name in ("gkbar_hh", "Ra", "e_pas"):
        key, value = cells.loc[name, "key"], float(cells.loc[name, "value"])
        _, v = _run(bio, tmp_path / name, overrides={key: value * 1.5})
        assert not np.array_equal(v, base), name
