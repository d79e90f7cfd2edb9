"""bmtk's builder helper modules at bmtk's paths below modelkit.builder, with bmtk's numbers (bmtk 1.2.0)."""

from __future__ import annotations

import importlib
import random

import numpy as np
import pytest

from modelkit.errors import BuilderError

from bmtk.builder.auxi import edge_connectors as bmtk_ec  # noqa: E402
from bmtk.builder.auxi import node_params as bmtk_np  # noqa: E402

from modelkit.builder.auxi import edge_connectors as mk_ec  # noqa: E402
from modelkit.builder.auxi import node_params as mk_np  # noqa: E402


@pytest.mark.parametrize("module, names", [
    ("modelkit.builder.auxi.node_params", ["positions_columinar", "positions_cuboid", "positions_rect_prism",
                                           "positions_ellipsoid", "positions_list", "xiter_random",
                                           "positions_density_matrix", "positions_nrrd"]),
    ("modelkit.builder.aux.node_params", ["positions_columinar", "xiter_random"]),
    ("modelkit.builder.auxi.edge_connectors", ["distance_connector"]),
    ("modelkit.builder.networks", ["NetworkBuilder"]),
    ("modelkit.builder.bionet.swc_reader", ["get_swc", "SWCReader"]),
])
def test_bmtk_paths_offer_bmtks_names(module, names) -> None:
    mod = importlib.import_module(module)
    for n in names:
        assert callable(getattr(mod, n)), f"{module}.{n}"


@pytest.mark.parametrize("call", [
    lambda m: m.positions_columinar(N=50, center=[0, 10.0, 0], max_radius=50.0, height=200.0),
    lambda m: m.positions_rect_prism(N=20, height=30.0),
    lambda m: m.positions_ellipsoid(N=20),
    lambda m: m.positions_cuboid(N=10, min_dist=25.0),
    lambda m: m.xiter_random(N=30, min_x=0.0, max_x=2 * np.pi),
])
def test_node_params_give_bmtks_numbers_after_the_same_seed(call) -> None:
    np.random.seed(7)
    ref = call(bmtk_np)
    np.random.seed(7)
    got = call(mk_np)
    np.testing.assert_array_equal(got, ref)


def _density() -> np.ndarray:
    mat = np.zeros((8, 6, 5))
    mat[1:7, 1:5, 1:4] = 60000.0
    mat[3:5, 2:4, 2] = 180000.0  # a denser core: the thinning step runs
    return mat


@pytest.mark.parametrize("uniform", [True, False])
def test_positions_density_matrix_gives_bmtks_numbers_after_the_same_seed(uniform, capsys) -> None:
    mat = (_density() > 0) * 90000.0 if uniform else _density()
    scale = np.diag([20.0, 25.0, 40.0])
    np.random.seed(3)
    ref = bmtk_np.positions_density_matrix(mat, position_scale=scale, origin=np.array([5.0, -3.0, 100.0]))
    np.random.seed(3)
    got = mk_np.positions_density_matrix(mat, position_scale=scale, origin=np.array([5.0, -3.0, 100.0]))
    assert got.shape == ref.shape and got.shape[0] > 50
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


def test_positions_density_matrix_with_dmin_keeps_the_distance_and_bmtks_count() -> None:
    from scipy.spatial import cKDTree
    mat = np.zeros((10, 10, 10))
    mat[1:9, 1:9, 1:9] = 200000.0
    scale = np.eye(3) * 20.0
    np.random.seed(1)
    ref = bmtk_np.positions_density_matrix(mat, position_scale=scale, dmin=10.0)
    got = mk_np.positions_density_matrix(mat, position_scale=scale, dmin=10.0, rng=1)
    assert got.shape == ref.shape
    assert cKDTree(got).query(got, k=2)[0][:, 1].min() >= 10.0
    lo, hi = 20.0, 180.0  # the non-zero voxels span 20-180 µm on each axis
    assert (got >= lo).all() and (got <= hi).all()
    np.testing.assert_allclose(got.mean(axis=0), ref.mean(axis=0), atol=6.0)
    np.testing.assert_allclose(got.std(axis=0), ref.std(axis=0), rtol=0.08)
    with pytest.raises(BuilderError, match="dmin"):
        mk_np.positions_density_matrix(mat, position_scale=scale, dmin=200.0)


def test_positions_nrrd_gives_bmtks_numbers(tmp_path) -> None:
    nrrd = pytest.importorskip("nrrd")
    vol = (_density() > 0).astype(np.uint8) * 3
    vol[3:5, 2:4, 2] = 6
    path = tmp_path / "structure.nrrd"
    nrrd.write(str(path), vol, {"space directions": np.diag([10.0, 10.0, 10.0]),
                                "space origin": np.array([100.0, 200.0, 300.0]), "space": "left-posterior-superior"})
    for split in (None, "x"):
        np.random.seed(11)
        ref = bmtk_np.positions_nrrd(str(path), max_dens_per_mm3=2.0e5, split_bilateral=split)
        np.random.seed(11)
        got = mk_np.positions_nrrd(path, max_dens_per_mm3=2.0e5, split_bilateral=split)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    with pytest.raises(BuilderError, match="split_bilateral"):
        mk_np.positions_nrrd(path, 1e5, split_bilateral="w")
    with pytest.raises(BuilderError, match="missing.nrrd"):
        mk_np.positions_nrrd(tmp_path / "missing.nrrd", 1e5)


class _Node(dict):
    @property
    def node_id(self) -> int:
        return self["node_id"]


def test_distance_connector_gives_bmtks_draws() -> None:
    rs = np.random.RandomState(0)
    nodes = [_Node(node_id=i, positions=rs.uniform(0, 100, 3)) for i in range(30)]
    args = dict(d_weight_min=0.1, d_weight_max=0.9, d_max=120.0, nsyn_min=1, nsyn_max=4)
    random.seed(5)
    ref = [bmtk_ec.distance_connector(s, t, **args) for s in nodes for t in nodes]
    random.seed(5)
    got = [mk_ec.distance_connector(s, t, **args) for s in nodes for t in nodes]
    assert got == ref and any(g for g in got) and None in got
