"""Read -> write -> read is lossless, and what modelkit writes opens in libsonata and bmtk with the same content."""

from __future__ import annotations

import os
import warnings

import h5py
import libsonata
import numpy as np
import pandas as pd
import pytest

from modelkit.errors import OutputExistsError, SonataFormatError
from modelkit.sonata import (CompartmentReport, GroupData, Network, NodePopulationData, read_ecp, read_spikes,
                             write_compartment_report, write_ecp, write_nodes, write_spikes)
from modelkit.testing import assert_populations_equal, assert_spikes_equal, shared_path

CORPUS = shared_path("sonata", "corpus")
CIRCUITS = [
    "bmtk/examples/bio_14cells/config.circuit.json",
    "bmtk/examples/point_120cells/config.circuit.json",
    "bmtk/examples/bio_1cell/config.simulation_syns.json",
    "sonata/examples/300_pointneurons/circuit_config.json",
    "sonata/examples/9_cells/circuit_config.json",
    "sonata/examples/sim_tests/intfire/ten_cells_spikes_nest/input/circuit_config.json",
]
SPIKES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.h5")
                if "spikes" in p.name or p.parent.name == "inputs")
REPORTS = [
    "bmtk/examples/bio_1cell/output_iclamp/membrane_potential.h5",
    "sonata/examples/9_cells/output/membrane_potential.h5",
    "sonata/examples/9_cells/output/calcium_concentration.h5",
    "sonata/tutorials/nwb_sonata/example_data/membrane_potential.h5",
]


def _bmtk_file(data, types):
    from bmtk.utils.sonata import File
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return File(data_files=[data], data_type_files=[types])


@pytest.fixture(scope="module", params=CIRCUITS, ids=[c.split("/")[-3] + "/" + c.split("/")[-1] for c in CIRCUITS])
def saved(request, tmp_path_factory):
    src = Network.load(CORPUS / request.param)
    out = tmp_path_factory.mktemp("rt")
    cfg = src.save(out)
    return src, Network.load(cfg), out


def test_round_trip_identical(saved):
    src, dst, _ = saved
    assert list(src.nodes) == list(dst.nodes) and list(src.edges) == list(dst.edges)
    for name in src.nodes:
        assert_populations_equal(src.nodes[name], dst.nodes[name])
        assert src.nodes[name].types == dst.nodes[name].types
        a, b = src.nodes[name], dst.nodes[name]
        if a.has_positions():
            np.testing.assert_array_equal(a.positions(), b.positions())
        np.testing.assert_allclose(a.rotations(), b.rotations())
    for name in src.edges:
        a, b = src.edges[name], dst.edges[name]
        assert_populations_equal(a, b)
        assert (a.source, a.target) == (b.source, b.target)
        nodes = np.arange(int(max(a.target_ids().max(), a.source_ids().max())) + 2)
        for n in nodes:
            assert a.afferent_edges([n]) == b.afferent_edges([n])
            assert a.efferent_edges([n]) == b.efferent_edges([n])


def test_saved_network_validates_clean(saved):
    from modelkit.sonata import validate
    _, dst, out = saved
    problems = validate(out / "circuit_config.json")
    assert problems == [], problems


def test_libsonata_reads_what_modelkit_writes(saved):
    _, dst, _ = saved
    for name, pop in dst.nodes.items():
        st = libsonata.NodeStorage(pop.path)
        assert name in st.population_names
        if len(pop.layout.groups) > 1:
            with pytest.raises(libsonata.SonataError):  # libsonata's documented limit, not ours
                st.open_population(name)
            continue
        lp = st.open_population(name)
        assert lp.size == pop.size
        (gid, info), = pop.layout.groups.items()
        assert set(lp.attribute_names) == set(info.attributes)
        for attr in info.attributes:
            ours = pop.column(attr)
            theirs = np.asarray(lp.get_attribute(attr, lp.select_all()))
            if ours.dtype.kind in "iuf":
                np.testing.assert_array_equal(ours, theirs)
            else:
                assert list(ours) == list(theirs)
    for name, pop in dst.edges.items():
        lp = libsonata.EdgeStorage(pop.path).open_population(name)
        assert (lp.size, lp.source, lp.target) == (pop.size, pop.source, pop.target)
        allsel = lp.select_all()
        np.testing.assert_array_equal(lp.source_nodes(allsel), pop.source_ids())
        np.testing.assert_array_equal(lp.target_nodes(allsel), pop.target_ids())
        for attr in lp.attribute_names:
            np.testing.assert_array_equal(lp.get_attribute(attr, allsel), pop.column(attr))
        for n in range(int(pop.target_ids().max()) + 1):
            np.testing.assert_array_equal(lp.afferent_edges([n]).flatten(), pop.afferent_edges([n]).flat)
        for n in range(int(pop.source_ids().max()) + 1):
            np.testing.assert_array_equal(lp.efferent_edges([n]).flatten(), pop.efferent_edges([n]).flat)


def _same_values(ours: np.ndarray, theirs) -> None:
    theirs = np.asarray(theirs)
    if ours.dtype.kind in "iuf":
        np.testing.assert_allclose(ours.astype(float), pd.to_numeric(pd.Series(theirs), errors="coerce"),
                                   rtol=0, atol=0, equal_nan=True)
    else:
        def norm(vals, null=()):
            return [None if (x is None or (isinstance(x, float) and np.isnan(x)) or x in null) else str(x)
                    for x in vals]
        assert norm(ours) == norm(theirs, ("NULL",))


def test_bmtk_reads_what_modelkit_writes(saved):
    _, dst, out = saved
    for name, pop in dst.nodes.items():
        bf = _bmtk_file(pop.path, str(out / f"{name}_node_types.csv"))
        bdf = bf.nodes[name].to_dataframe().sort_index()
        ours = pop.get()
        assert list(bdf.index) == list(ours.index)
        for col in ours.columns:
            if col in bdf.columns:
                _same_values(ours[col].to_numpy(), bdf[col].to_numpy())
    for name, pop in dst.edges.items():
        bf = _bmtk_file(pop.path, str(out / f"{name}_edge_types.csv"))
        bp = bf.edges[name]
        assert len(bp) == pop.size
        bdf = bp.to_dataframe()
        np.testing.assert_array_equal(np.sort(bdf["source_node_id"].to_numpy().astype(np.int64)),
                                      np.sort(pop.source_ids()))
        for n in range(min(20, int(pop.target_ids().max()) + 1)):
            theirs = sorted(int(e.source_node_id) for e in bp.get_target(n))
            assert theirs == sorted(pop.afferent_nodes([n], unique=False).tolist())


@pytest.mark.parametrize("rel", SPIKES)
def test_spikes_round_trip_libsonata_bmtk(rel, tmp_path):
    src = read_spikes(CORPUS / rel)
    named = {(k if k is not None else "default"): v for k, v in src.items()}
    for sort in ("by_time", "by_id", "none"):
        out = tmp_path / f"{sort}.h5"
        write_spikes(out, named, sort=sort)
        back = read_spikes(out)
        assert set(back) == set(named)
        for k, v in named.items():
            assert_spikes_equal(v, back[k])
            assert back[k].sorting == sort
            ts = back[k].timestamps
            ids = back[k].node_ids
            if sort == "by_time":
                assert np.all(np.diff(ts) >= 0)
            if sort == "by_id":
                assert np.all(np.diff(ids) >= 0)
        reader = libsonata.SpikeReader(str(out))
        assert set(reader.get_population_names()) == set(named)
        for k, v in named.items():
            pairs = np.asarray(reader[k].get(), dtype=np.float64).reshape(-1, 2)
            o = np.lexsort((pairs[:, 1], pairs[:, 0]))
            oo = np.lexsort((v.timestamps, v.node_ids))
            np.testing.assert_array_equal(pairs[o, 0], v.node_ids[oo])
            np.testing.assert_array_equal(pairs[o, 1], v.timestamps[oo])
            assert reader[k].sorting == sort
    from bmtk.utils.reports.spike_trains import SpikeTrains
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = SpikeTrains.load(str(tmp_path / "by_time.h5"))
        df = st.to_dataframe()
    for k, v in named.items():
        sub = df[df["population"] == k]
        assert len(sub) == len(v)
        np.testing.assert_array_equal(np.sort(sub["timestamps"].to_numpy()), np.sort(v.timestamps))


@pytest.mark.parametrize("rel", REPORTS)
def test_report_round_trip_libsonata_bmtk(rel, tmp_path):
    from bmtk.utils.reports.compartment import CompartmentReport as BmtkReport
    rep = CompartmentReport(CORPUS / rel)
    for pop in rep:
        kw = dict(element_pos=pop.element_pos, units=pop.units or "mV", variable=pop.variable)
        exact = tmp_path / f"{pop.population}_f64.h5"
        write_compartment_report(exact, pop.population, pop.node_ids, pop.index_pointers, pop.element_ids, pop.time,
                                 pop.data(), dtype=np.float64, **kw)
        back = CompartmentReport(exact)[pop.population]
        np.testing.assert_array_equal(back.data(), pop.data())
        for f in ("node_ids", "index_pointers", "element_ids"):
            np.testing.assert_array_equal(getattr(back, f), getattr(pop, f))
        assert back.time == pop.time
        spec = tmp_path / f"{pop.population}_f32.h5"
        write_compartment_report(spec, pop.population, pop.node_ids, pop.index_pointers, pop.element_ids, pop.time,
                                 pop.data(), **kw)
        lr = libsonata.ElementReportReader(str(spec))[pop.population]
        assert lr.get_node_ids() == sorted(pop.node_ids.tolist())
        assert tuple(lr.times) == pop.time
        frame = lr.get()
        ids = np.asarray(frame.ids)
        np.testing.assert_allclose(np.asarray(frame.data), pop.data(ids[:, 0][np.r_[True, np.diff(ids[:, 0]) != 0]]
                                                                     if len(ids) else None).astype(np.float32),
                                   rtol=1e-6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            br = BmtkReport(str(spec), mode="r")
            np.testing.assert_allclose(np.asarray(br.data(population=pop.population)), pop.data(), rtol=1e-6)
            np.testing.assert_array_equal(br.node_ids(population=pop.population), pop.node_ids)


def test_ecp_round_trip(tmp_path):
    src = read_ecp(CORPUS / "sonata/tutorials/nwb_sonata/example_data/ecp.h5")
    write_ecp(tmp_path / "ecp.h5", src.channel_ids, src.time, src.data, units=src.units or "mV")
    back = read_ecp(tmp_path / "ecp.h5")
    np.testing.assert_array_equal(back.data, src.data)
    np.testing.assert_array_equal(back.channel_ids, src.channel_ids)
    with h5py.File(tmp_path / "ecp.h5") as f:  # the guide's orientation: channels x frames
        assert f["ecp/data"].shape == (len(src.channel_ids), src.data.shape[0])


def _synthetic(n: int = 50) -> NodePopulationData:
    rng = np.random.default_rng(1)
    gid = (np.arange(n) % 2).astype(np.int64)
    gidx = np.zeros(n, np.int64)
    gidx[gid == 0] = np.arange((gid == 0).sum())
    gidx[gid == 1] = np.arange((gid == 1).sum())
    n0, n1 = int((gid == 0).sum()), int((gid == 1).sum())
    g0 = GroupData(columns={"x": rng.normal(size=n0), "label": np.array([f"c{i} é" for i in range(n0)], dtype=object),
                            "flag": rng.random(n0) > 0.5, "mtype": rng.integers(0, 3, n0)},
                   dynamics_params={"tau": rng.random(n0), "kind": np.array(["a"] * n0, dtype=object)},
                   library={"mtype": ["L4_PC", "L5_TTPC", "L23_MC"]})
    g1 = GroupData(columns={"positions": rng.normal(size=(n1, 3))})
    return NodePopulationData("synth", rng.integers(1, 3, n), {0: g0, 1: g1}, gid, gidx)


def test_synthetic_groups_library_dynamics_round_trip(tmp_path):
    write_nodes(tmp_path / "a.h5", [_synthetic()])
    a = Network.load(tmp_path / "a.h5").nodes["synth"]
    assert a.column("mtype", [0, 2]).tolist()[0] in ("L4_PC", "L5_TTPC", "L23_MC")
    assert a.column("label", [0]).tolist() == ["c0 é"]
    assert a.dynamics_attribute_names == ["kind", "tau"]
    assert np.isnan(a.dynamics_params()["tau"].to_numpy()[1])  # group 1 has no override
    pos = a.positions()
    assert np.isnan(pos[0]).all() and np.isfinite(pos[1]).all()
    write_nodes(tmp_path / "b.h5", [a.to_data()])
    b = Network.load(tmp_path / "b.h5").nodes["synth"]
    assert_populations_equal(a, b)
    np.testing.assert_array_equal(a.positions(), b.positions())
    with h5py.File(tmp_path / "b.h5") as f:
        assert f["nodes/synth/0/flag"].dtype == np.int8  # SONATA bool
        assert f["nodes/synth/0/@library/mtype"].dtype.kind == "O"


def test_writers_refuse_to_overwrite_and_leave_no_temp_files(tmp_path):
    path = tmp_path / "n.h5"
    write_nodes(path, [_synthetic()])
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        write_nodes(path, [_synthetic()])
    with pytest.raises(OutputExistsError):
        write_spikes(path, {"x": ([0], [1.0])})
    assert path.read_bytes() == before
    write_nodes(path, [_synthetic()], overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["n.h5"]


def test_failed_write_leaves_nothing(tmp_path):
    bad = NodePopulationData("p", np.zeros(3, np.int64), {0: GroupData({"x": np.array([object()] * 3)})})
    with pytest.raises(SonataFormatError, match="strings or numbers"):
        write_nodes(tmp_path / "bad.h5", [bad])
    assert os.listdir(tmp_path) == []


def test_edge_populations_with_dynamics_params_compare(tmp_path):
    # assert_populations_equal says it takes edge populations; with per-edge dynamics_params it called
    # NodePopulation.dynamics_params(), which edges lack (AttributeError instead of a comparison)
    from modelkit.builder import NetworkBuilder
    net = NetworkBuilder("v1")
    net.add_nodes(N=5, model_type="point_neuron")
    net.add_edges(source={"model_type": "point_neuron"}, target={"model_type": "point_neuron"},
                  connection_rule=1, syn_weight=2.0, dynamics_params="exc.json")
    net.save(tmp_path / "a")
    for name, scale in (("b", 1.5), ("c", 2.5)):
        import shutil
        shutil.copytree(tmp_path / "a", tmp_path / name)
        with h5py.File(tmp_path / name / "v1_v1_edges.h5", "r+") as f:
            grp = f["edges/v1_to_v1/0"]
            grp.create_dataset("dynamics_params/weight_scale", data=np.full(len(f["edges/v1_to_v1/edge_type_id"]),
                                                                           scale))
    b = Network.load(tmp_path / "b").edges["v1_to_v1"]
    c = Network.load(tmp_path / "c").edges["v1_to_v1"]
    assert b.dynamics_attribute_names == ["weight_scale"]
    assert_populations_equal(b, Network.load(tmp_path / "b").edges["v1_to_v1"])
    with pytest.raises(AssertionError, match="weight_scale"):
        assert_populations_equal(b, c)
