"""bmtk's ``bmtk.builder.auxi.node_params`` names, implemented in :mod:`modelkit.builder.placement`.

A build script that imports ``from bmtk.builder.auxi.node_params import positions_columinar, xiter_random``
runs with ``modelkit.builder.auxi.node_params`` instead: same signatures, defaults and, with numpy's global
random state (bmtk's), the same numbers after the same ``np.random.seed``.
"""

from modelkit.builder._placement_bmtk import (positions_columinar, positions_columnar, positions_cuboid,
                                             positions_ellipsoid, positions_list, positions_rect_prism,
                                             xiter_random)
from modelkit.builder._placement_density import positions_density_matrix, positions_nrrd

__all__ = ["positions_columinar", "positions_columnar", "positions_cuboid", "positions_ellipsoid",
           "positions_list", "positions_rect_prism", "xiter_random", "positions_density_matrix", "positions_nrrd"]
