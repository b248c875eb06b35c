"""SimCam's reference catalog: the stars of the truth catalog as a survey measured them, in htm7 shards.

Rubin's calibrateImage fits astrometry and photometry against a reference catalog (Gaia, PS1 ...)
stored in the Butler as one dataset per HTM pixel. `make_refcat` makes ours from the truth: the
stars brighter than r = 23 with small position and flux errors drawn from their own random stream
(``seeded_rng(seed, "refcat")``), with Rubin's column names (``coord_ra``, ``{band}_flux`` ...),
sharded by HTM level `REFCAT_LEVEL`. `stackclub.simcam.repo.build_demo_repo` puts the shards
into the ``refcats`` collection.
"""

from __future__ import annotations

__all__ = (
    "REFCAT_LEVEL",
    "make_refcat",
)

from typing import TYPE_CHECKING

import numpy as np

from .camera import SIMCAM
from .seeds import seeded_rng

if TYPE_CHECKING:
    import astropy.table

#: HTM level of the reference catalog's shards (the ``htm7`` dimension), as Rubin's refcats.
REFCAT_LEVEL = 7


def make_refcat(catalog: astropy.table.Table, seed: int) -> dict[int, astropy.table.Table]:
    """Make the reference catalog (stars, r < 23) with noisy positions and fluxes, in htm7 shards.

    Parameters
    ----------
    catalog
        The truth catalog (`~stackclub.simcam.truth.make_truth_catalog`).
    seed
        The build's seed: the errors come from ``seeded_rng(seed, "refcat")``.

    Returns
    -------
    shards
        One table per htm7 pixel index holding stars, with columns ``id, coord_ra, coord_dec,
        coord_raErr, coord_decErr`` (deg) and ``{band}_flux, {band}_fluxErr`` (nJy) for g r i z y.

    Examples
    --------
    >>> from stackclub.simcam import make_truth_catalog, seeded_rng
    >>> catalog = make_truth_catalog(seeded_rng(1, "catalog"), radius_deg=0.05, n_stars=200, n_galaxies=50)
    >>> shards = make_refcat(catalog, seed=1)
    >>> sorted(shards), sum(len(shard) for shard in shards.values())
    ([231858, 231869], 97)
    """
    from astropy.table import Table
    from lsst.daf.butler import DimensionUniverse
    from lsst.sphgeom import LonLat, UnitVector3d

    rng = seeded_rng(seed, "refcat")
    stars = catalog[catalog["is_star"] & (catalog["r_mag"] < 23.0)]
    n = len(stars)
    pos_err_deg = 0.01 / 3600.0
    cos_dec = np.cos(np.radians(np.asarray(stars["dec"])))
    table = Table()
    table["id"] = np.asarray(stars["id"], dtype=np.int64)
    table["coord_ra"] = np.asarray(stars["ra"]) + rng.normal(0, pos_err_deg, n) / cos_dec
    table["coord_dec"] = np.asarray(stars["dec"]) + rng.normal(0, pos_err_deg, n)
    table["coord_raErr"] = np.full(n, pos_err_deg)
    table["coord_decErr"] = np.full(n, pos_err_deg)
    for band in SIMCAM.bands:
        flux = np.asarray(stars[f"{band}_flux"], dtype=float)
        err = 0.01 * flux + 50.0
        table[f"{band}_flux"] = flux + rng.normal(0, 1, n) * err
        table[f"{band}_fluxErr"] = err
        table[f"{band}_flux"].unit = table[f"{band}_fluxErr"].unit = "nJy"
    for col in ("coord_ra", "coord_dec", "coord_raErr", "coord_decErr"):
        table[col].unit = "deg"
    pixelization = DimensionUniverse().skypix_dimensions[f"htm{REFCAT_LEVEL}"].pixelization
    index = np.array(
        [
            pixelization.index(UnitVector3d(LonLat.fromDegrees(float(a), float(d))))
            for a, d in zip(table["coord_ra"], table["coord_dec"], strict=True)
        ],
        dtype=np.int64,
    )
    return {int(pix): table[index == pix] for pix in np.unique(index)}
