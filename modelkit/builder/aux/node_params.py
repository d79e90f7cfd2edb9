"""``bmtk.builder.aux.node_params``: the same names as :mod:`modelkit.builder.auxi.node_params`."""

from modelkit.builder.auxi.node_params import (positions_columinar, positions_columnar, positions_cuboid,
                                               positions_density_matrix, positions_ellipsoid, positions_list,
                                               positions_nrrd, positions_rect_prism, xiter_random)

__all__ = ["positions_columinar", "positions_columnar", "positions_cuboid", "positions_ellipsoid",
           "positions_list", "positions_rect_prism", "xiter_random", "positions_density_matrix", "positions_nrrd"]
