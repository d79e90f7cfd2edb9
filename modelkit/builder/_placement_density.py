"""Positions from a voxel density matrix or an NRRD atlas volume (bmtk's ``positions_density_matrix``,
``positions_nrrd``).

The number of cells is bmtk's: ``floor``-free ``int(max density × voxel volume × non-zero voxels)`` points
are drawn uniformly in the non-zero voxels (a random voxel, then a uniform point inside it), then, when
the densities are not all equal, each point is kept with probability ``density(voxel) / max density``.
With ``dmin=0`` and ``rng=None`` the draws are bmtk's, from numpy's global state in bmtk's order, so after
the same ``np.random.seed`` the positions are bmtk's (bmtk finds a point's voxel again by inverting
``position_scale`` and flooring, which can land on a neighbour at a voxel face; modelkit keeps the voxel
the point was drawn in).  With ``dmin > 0`` points closer than ``dmin`` to an earlier one are rejected and
redrawn (modelkit's own progressive sampler: the same distribution, other numbers than bmtk's).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from modelkit.builder._rng import check_real, legacy_source
from modelkit.errors import BuilderError

__all__ = ["positions_density_matrix", "positions_nrrd"]

log = logging.getLogger("modelkit.builder")

#: voxel index -> µm when no scale is given
_IDENTITY = np.eye(3)
_IDENTITY.setflags(write=False)
#: bmtk's limit on the density for a minimum distance: random close packing fills ~63% of the volume
_PACKING = 0.63
#: rounds of redrawing the missing points before giving up (the density is then too close to the limit)
_MAX_ROUNDS = 200


def _matrix(mat: Any) -> np.ndarray:
    try:
        m = np.asarray(mat, dtype=float)
    except (TypeError, ValueError):
        raise BuilderError("mat", "a 3-d array of densities (cells/mm^3)", type(mat).__name__) from None
    if m.ndim != 3 or not np.isfinite(m).all() or (m < 0).any():
        raise BuilderError("mat", "a 3-d array of finite densities >= 0 (cells/mm^3)",
                           f"shape {m.shape}" if m.ndim != 3 else "negative or non-finite values")
    if not m.any():
        raise BuilderError("mat", "at least one voxel with a density > 0", "all zeros")
    return m


def _scale(position_scale: Any) -> np.ndarray:
    a = np.asarray(position_scale, dtype=float)
    if a.shape != (3, 3) or not np.isfinite(a).all() or abs(np.linalg.det(a)) == 0:
        raise BuilderError("position_scale", "an invertible (3, 3) matrix (µm per voxel step)",
                           f"shape {a.shape}" if a.shape != (3, 3) else "a singular matrix")
    return a


def positions_density_matrix(mat: npt.ArrayLike, position_scale: npt.ArrayLike = _IDENTITY,
                             origin: npt.ArrayLike = (0.0, 0.0, 0.0), plot: bool = False,
                             CCF_orientation: bool = False, dmin: float = 0.0, method: str = "prog",
                             existing_positions: npt.ArrayLike | None = None, verbose: bool = False, *,
                             rng: Any = None) -> np.ndarray:
    """Random positions following a 3-d array of densities (bmtk's name, signature and cell count).

    Parameters
    ----------
    mat : array, shape (nx, ny, nz)
        Density of each voxel, cells/mm^3 (0: no cells).
    position_scale : (3, 3) array, default identity
        Voxel index → position: ``p = position_scale @ index`` (µm).
    origin : 3 floats, default (0, 0, 0)
        Added to every position (µm).
    plot, CCF_orientation : bool
        Ignored (nothing is drawn; a warning when ``plot`` is True).
    dmin : float, default 0
        Minimum distance between cells (µm); also from ``existing_positions``.
    method : {"prog"}
        bmtk's progressive sampling ("lattice" is not offered: a BuilderError says so).
    existing_positions : (M, 3) array, optional
        Cells placed before, which new cells keep ``dmin`` away from (µm).
    verbose : bool
        Log progress at INFO.
    rng : Generator, RandomState, int or None
        None: numpy's global state, reproducing bmtk's draws when ``dmin`` is 0.

    Returns
    -------
    numpy.ndarray
        ``(N, 3)`` float64 positions (µm), N drawn as the module docstring says.

    Raises
    ------
    BuilderError
        A matrix that is not 3-d with densities >= 0, a singular ``position_scale``, ``dmin < 0``, a density
        above what ``dmin`` allows, or ``method`` other than "prog".

    Examples
    --------
    >>> mat = np.zeros((10, 10, 10)); mat[2:8, 2:8, 2:8] = 4000.0     # cells/mm^3
    >>> pos = positions_density_matrix(mat, position_scale=np.eye(3) * 25.0, rng=0)   # 25 µm voxels
    >>> pos.shape
    (13, 3)
    """
    from modelkit.builder._placement_bmtk import _no_plot
    _no_plot(plot, "positions_density_matrix")
    if method != "prog":
        raise BuilderError("method", "'prog' (progressive sampling; bmtk's 'lattice' jittering is not offered)",
                           repr(method))
    m, a = _matrix(mat), _scale(position_scale)
    o = np.asarray(origin, dtype=float).reshape(-1)
    if o.shape != (3,):
        raise BuilderError("origin", "3 coordinates (µm)", f"shape {o.shape}")
    dmin = check_real("dmin", dmin)
    if dmin < 0:
        raise BuilderError("dmin", "a minimum distance >= 0 (µm)", repr(dmin))
    prior = np.empty((0, 3)) if existing_positions is None else np.asarray(existing_positions, float).reshape(-1, 3)
    src = legacy_source(rng)
    nz = np.nonzero(m)
    max_dens = float(m.max())
    vol_voxel = abs(float(np.linalg.det(a))) / 1000.0 ** 3  # mm^3
    n_total = int(max_dens * vol_voxel * nz[0].size)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        frac = src.uniform(size=(3, n))  # bmtk's order: offsets inside the voxel, then the voxel
        vox = src.choice(nz[0].size, n)
        idx = np.vstack([nz[k][vox].astype(float) + frac[k] for k in range(3)])
        return (a @ idx).T, vox

    if dmin == 0:
        pos, vox = draw(n_total)
    else:
        pos, vox = _progressive(draw, n_total, dmin, max_dens, vol_voxel * nz[0].size, prior, verbose)
    if np.unique(m[nz]).size > 1:  # thin to the voxel's share of the maximum density
        keep = src.uniform(size=pos.shape[0]) < m[nz][vox] / max_dens
        pos = pos[keep]
    return pos + o


def _progressive(draw: Any, n_total: int, dmin: float, max_dens: float, volume: float, prior: np.ndarray,
                 verbose: bool) -> tuple[np.ndarray, np.ndarray]:
    """Draw batches and keep the points at least ``dmin`` from every kept (and prior) point, until ``n_total``."""
    from scipy.spatial import cKDTree
    v_sphere = 4.0 / 3.0 * np.pi * (dmin / 1000.0 / 2.0) ** 3  # mm^3
    limit = _PACKING / v_sphere
    if max_dens > limit:
        raise BuilderError("dmin", f"a density at most {limit:.1f} cells/mm^3 for dmin={dmin} µm "
                           "(random close packing): reduce the density or dmin", f"{max_dens:.1f} cells/mm^3")
    kept_pos: list[np.ndarray] = []
    kept_vox: list[np.ndarray] = []
    have = 0
    for _ in range(_MAX_ROUNDS):
        if have >= n_total:
            break
        cand, vox = draw(n_total - have)
        placed = np.vstack([prior, *kept_pos]) if (prior.size or kept_pos) else np.empty((0, 3))
        if placed.shape[0]:
            d, _i = cKDTree(placed).query(cand, k=1)
            ok = d >= dmin
            cand, vox = cand[ok], vox[ok]
        # among the new points, keep a point only if no earlier new point is too close (greedy, in draw order)
        pairs = cKDTree(cand).query_pairs(dmin, output_type="ndarray") if cand.shape[0] > 1 else np.empty((0, 2))
        ok = np.ones(cand.shape[0], bool)
        if len(pairs):
            later = np.sort(pairs, axis=1)
            for i, j in later[np.argsort(later[:, 0], kind="stable")].tolist():
                if ok[i]:
                    ok[j] = False
        kept_pos.append(cand[ok])
        kept_vox.append(vox[ok])
        have += int(ok.sum())
        if verbose:
            log.info("positions_density_matrix: %d/%d cells placed", min(have, n_total), n_total)
    else:
        raise BuilderError("dmin", f"{n_total} cells at least {dmin} µm apart in {volume:.4g} mm^3",
                           f"{have} placed after {_MAX_ROUNDS} rounds (the density is near the packing limit)")
    return np.vstack(kept_pos)[:n_total], np.concatenate(kept_vox)[:n_total]


def positions_nrrd(nrrd_filename: Any, max_dens_per_mm3: float, split_bilateral: str | None = None,
                   dmin: float = 0.0, CCF_orientation: bool = True, plot: bool = False, method: str = "prog",
                   existing_positions: npt.ArrayLike | None = None, verbose: bool = False, *,
                   rng: Any = None) -> np.ndarray:
    """Random positions following an NRRD volume (an atlas annotation or density), as bmtk's ``positions_nrrd``.

    The volume is scaled so that its largest value is ``max_dens_per_mm3``; a 0/1 mask gives a uniform
    density inside the structure.  The NRRD header's ``space directions`` (µm per voxel step) and
    ``space origin`` (µm) place the voxels.  Reading needs ``pynrrd`` (``pip install pynrrd``).

    Parameters
    ----------
    nrrd_filename : str or PathLike
        The ``.nrrd`` file.
    max_dens_per_mm3 : float
        Density at the volume's maximum (cells/mm^3).
    split_bilateral : {"x", "y", "z"} or None
        Keep the first half of the volume along that axis (one hemisphere).
    dmin, CCF_orientation, plot, method, existing_positions, verbose, rng
        As :func:`positions_density_matrix`, which places the cells and whose positions this returns.

    Raises
    ------
    BuilderError
        pynrrd missing, a file it cannot read (naming the file), a header without ``space directions``, a
        bad ``split_bilateral``, and the errors of :func:`positions_density_matrix`.
    """
    try:
        import nrrd
    except ImportError as e:
        raise BuilderError("positions_nrrd", "the pynrrd package to read NRRD files (pip install pynrrd)",
                           "it is not installed") from e
    path = os.fspath(nrrd_filename)
    try:
        data, header = nrrd.read(path)
    except (OSError, nrrd.NRRDError) as e:
        raise BuilderError(f"positions_nrrd({path})", "a readable NRRD file", str(e)) from e
    if "space directions" not in header:
        raise BuilderError(f"positions_nrrd({path})", "a header with 'space directions' (µm per voxel step)",
                           f"keys {sorted(header)}")
    scale = np.asarray(header["space directions"], dtype=float)
    origin = np.asarray(header.get("space origin", np.zeros(3)), dtype=float)
    vol = np.asarray(data, dtype=float)
    top = float(vol.max()) if vol.size else 0.0
    if top <= 0:
        raise BuilderError(f"positions_nrrd({path})", "a volume with a value > 0", "no positive voxel")
    vol = vol / top * check_real("max_dens_per_mm3", max_dens_per_mm3)
    if split_bilateral is not None:
        axes = {"x": 0, "y": 1, "z": 2}
        if split_bilateral not in axes:
            raise BuilderError("split_bilateral", "'x', 'y', 'z' or None", repr(split_bilateral))
        k = axes[split_bilateral]
        vol = np.take(vol, np.arange(vol.shape[k] // 2), axis=k)
    return positions_density_matrix(vol, position_scale=scale, origin=origin, plot=plot,
                                    CCF_orientation=CCF_orientation, dmin=dmin, method=method,
                                    existing_positions=existing_positions, verbose=verbose, rng=rng)
