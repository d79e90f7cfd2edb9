"""The helpers the backends and the builder share instead of writing them twice (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.errors import ConfigError
from modelkit.simulator.paramfiles import finite_float, params_value
from modelkit.sonata import Selection
from modelkit.sonata.nodes import (NodePopulation, NodePopulationData, euler_matrix, rotation_matrices,
                                   rotation_matrix, write_nodes)
from modelkit.sonata.swc import import3d_template


def test_column_or_gives_the_column_or_the_default(tmp_path) -> None:
    path = tmp_path / "n.h5"
    write_nodes(path, [NodePopulationData.from_columns("v1", [0, 0, 1], {"morphology": np.array(["a", "b", "c"])})])
    pop = NodePopulation(path, "v1")
    assert pop.column_or("morphology", [2, 0]).tolist() == ["c", "a"]
    absent = pop.column_or("dynamics_params", np.array([2, 0]))
    assert absent.dtype == object and absent.tolist() == [None, None]
    assert pop.column_or("dynamics_params", Selection([(0, 3)]), default="x").tolist() == ["x"] * 3
    assert len(pop.column_or("dynamics_params")) == 3


def test_params_value() -> None:
    assert params_value(None, "w") == {} and params_value(float("nan"), "w") == {}
    d = {"a": 1}
    assert params_value(d, "w") == d and params_value(d, "w") is not d
    assert params_value('{"a": 1}', "w") == {"a": 1}
    assert params_value("{'a': 1}", "w") == {"a": 1}  # a Python dict literal, as bmtk's builder writes it
    assert params_value("  exc.json ", "w") == "exc.json"
    with pytest.raises(ConfigError, match="a JSON file name or an inline JSON object"):
        params_value("{a: 1", "node_type_id 3")
    with pytest.raises(ConfigError, match="an object of parameters"):
        params_value("{1, 2}", "node_type_id 3")


def test_finite_float() -> None:
    assert finite_float("2.5", "w") == 2.5
    with pytest.raises(ConfigError, match="a number"):
        finite_float("x", "w")
    with pytest.raises(ConfigError, match="a finite number"):
        finite_float(float("inf"), "w")


def test_euler_matrix_composes_axis_rotations() -> None:
    angles = (0.3, -1.1, 2.0)
    expected = rotation_matrix([1, 0, 0], 0.3) @ rotation_matrix([0, 1, 0], -1.1) @ rotation_matrix([0, 0, 1], 2.0)
    np.testing.assert_allclose(euler_matrix(angles), expected, atol=1e-15)
    # the same rotation as the columnar form the node reader uses
    np.testing.assert_allclose(euler_matrix(angles), rotation_matrices(np.array([angles]))[0], atol=1e-12)


def test_import3d_template_keeps_the_reader_only_when_asked() -> None:
    kept, dropped = import3d_template("A", keep_reader=True), import3d_template("B")
    assert "public soma, dend, apic, axon, all, somatic, basal, apical, axonal, nl\n" in kept
    assert "localobj nl, i3d" in dropped and ", nl\n" not in dropped.split("create")[0]
    assert kept.strip().startswith("begintemplate A") and dropped.strip().endswith("endtemplate B")
