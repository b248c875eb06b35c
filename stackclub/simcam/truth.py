"""The truth of the simulated sky: a catalog of stars and galaxies, and what falls on each detector.

`make_truth_catalog` draws the field's sources (positions, magnitudes and fluxes in g r i z y,
galaxy shapes) in a disc that `field_radius` makes large enough for the whole mosaic and its
dithers; `calibrated_truth` projects it through a visit's true WCS onto one detector, with the
electrons each source gives in that exposure. Pure numpy and astropy: no Butler here.
"""

from __future__ import annotations

__all__ = (
    "calibrated_truth",
    "field_radius",
    "make_truth_catalog",
)

import math
from typing import TYPE_CHECKING

import numpy as np

from .._exceptions import SimCamValueError
from .camera import DEFAULT_GEOMETRY, SIMCAM, DetectorGeometry
from .visits import FIELD_CENTER, Visit, true_wcs

if TYPE_CHECKING:
    import astropy.table


# --- truth catalog ------------------------------------------------------------------------------


def make_truth_catalog(
    rng: np.random.Generator,
    *,
    center: tuple[float, float] = FIELD_CENTER,
    radius_deg: float = 0.3,
    n_stars: int = 4000,
    n_galaxies: int = 1500,
    bright_mag: float = 14.5,
    faint_mag: float = 24.0,
) -> astropy.table.Table:
    """Draw a catalog of stars and galaxies in a disc on the sky.

    Parameters
    ----------
    rng
        Random generator.
    center
        Disc centre (RA, Dec) in degrees.
    radius_deg
        Disc radius (degrees).
    n_stars, n_galaxies
        Source counts.
    bright_mag, faint_mag
        The r-band magnitude range; stars follow N(<m) proportional to 10**(0.3 m).

    Returns
    -------
    catalog
        Columns ``id, ra, dec, is_star, {band}_mag, {band}_flux`` (nJy) for g r i z y, and for
        galaxies ``sigma_arcsec, ellipticity, position_angle`` (an elliptical Gaussian profile).

    Examples
    --------
    >>> cat = make_truth_catalog(np.random.default_rng(0), n_stars=10, n_galaxies=5)
    >>> len(cat), int(cat["is_star"].sum()), sorted(cat.colnames)[:3]
    (15, 10, ['dec', 'ellipticity', 'g_flux'])
    """
    from astropy.table import Table

    if n_stars < 0 or n_galaxies < 0:
        raise SimCamValueError(f"Source counts must be >= 0, got n_stars={n_stars}, n_galaxies={n_galaxies}.")
    n = n_stars + n_galaxies
    ra0, dec0 = center
    r = radius_deg * np.sqrt(rng.random(n))
    theta = rng.random(n) * 2 * np.pi
    dec = dec0 + r * np.sin(theta)
    ra = ra0 + r * np.cos(theta) / np.cos(np.radians(dec0))
    # r magnitudes: stars with the Euclidean-ish slope, galaxies fainter on average.
    a, b = 10 ** (0.3 * bright_mag), 10 ** (0.3 * faint_mag)
    r_mag_star = np.log10(a + (b - a) * rng.random(n_stars)) / 0.3
    r_mag_gal = rng.uniform(max(bright_mag + 3.5, 18.0), faint_mag, n_galaxies)
    r_mag = np.concatenate([r_mag_star, r_mag_gal])
    color = np.concatenate([rng.uniform(0.2, 1.4, n_stars), rng.uniform(0.3, 1.0, n_galaxies)])  # g - r
    offsets = {"g": color, "r": 0.0 * color, "i": -0.4 * color, "z": -0.6 * color, "y": -0.7 * color}
    table = Table()
    table["id"] = np.arange(1, n + 1, dtype=np.int64)
    table["ra"] = ra
    table["dec"] = dec
    table["is_star"] = np.arange(n) < n_stars
    for band in SIMCAM.bands:
        mag = r_mag + offsets[band]
        table[f"{band}_mag"] = mag
        table[f"{band}_flux"] = 10 ** (-0.4 * (mag - 31.4))
    table["sigma_arcsec"] = np.where(table["is_star"], 0.0, rng.uniform(0.25, 1.0, n))
    table["ellipticity"] = np.where(table["is_star"], 0.0, rng.uniform(0.0, 0.6, n))
    table["position_angle"] = np.where(table["is_star"], 0.0, rng.uniform(0.0, np.pi, n))
    for name, unit in (("ra", "deg"), ("dec", "deg"), ("sigma_arcsec", "arcsec"), ("position_angle", "rad")):
        table[name].unit = unit
    for band in SIMCAM.bands:
        table[f"{band}_flux"].unit = "nJy"
        table[f"{band}_mag"].unit = "mag"
    table.meta["center_ra"], table.meta["center_dec"], table.meta["radius_deg"] = ra0, dec0, radius_deg
    return table


def field_radius(geometry: DetectorGeometry) -> float:
    """Return the radius (deg) of a disc that covers the whole 3 x 3 mosaic plus dithers.

    The truth catalog of a demo repository (and of `stackclub.simcam.sky.simulate_exposure`'s
    default) is drawn in a disc of this radius, so every detector of every visit is full of sources.

    Parameters
    ----------
    geometry
        The detectors' pixel layout.

    Returns
    -------
    radius
        Disc radius in degrees: half the diagonal of a square 3 arcmin wider than the mosaic
        (room for the dithers), plus 0.01 deg.

    Examples
    --------
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY
    >>> round(field_radius(SMALL_GEOMETRY), 4)
    0.0755
    """
    side = (3 * geometry.width * SIMCAM.pixel_scale_arcsec + 3 * 60.0) / 3600.0
    return side / math.sqrt(2) + 0.01


# --- on one detector in one visit ---------------------------------------------------------------


def calibrated_truth(
    catalog: astropy.table.Table,
    visit: Visit,
    detector_id: int,
    geometry: DetectorGeometry = DEFAULT_GEOMETRY,
    *,
    margin: int = 0,
) -> astropy.table.Table:
    """Return the truth sources on one detector in one visit: pixel positions and expected electrons.

    Parameters
    ----------
    catalog
        The truth catalog (`make_truth_catalog`).
    visit
        The visit.
    detector_id
        SimCam detector id.
    geometry
        The detector's pixel layout.
    margin
        Keep sources up to this many pixels outside the detector too.

    Returns
    -------
    truth
        Columns ``id, ra, dec, x, y, flux, instFlux, is_star, is_saturated`` (``is_saturated``
        filled by `simulate_exposure`); ``flux`` in nJy, ``instFlux`` in electrons in the exposure.
    """
    from astropy.table import Table

    w = true_wcs(visit, detector_id, geometry)
    x, y = w.all_world2pix(np.asarray(catalog["ra"]), np.asarray(catalog["dec"]), 0)
    on = (
        (x > -margin - 0.5)
        & (x < geometry.width + margin - 0.5)
        & (y > -margin - 0.5)
        & (y < geometry.height + margin - 0.5)
    )
    sub = catalog[on]
    flux = np.asarray(sub[f"{visit.band}_flux"], dtype=float)
    truth = Table()
    truth["id"] = sub["id"]
    truth["ra"] = sub["ra"]
    truth["dec"] = sub["dec"]
    truth["x"] = x[on]
    truth["y"] = y[on]
    truth["flux"] = flux
    truth["flux"].unit = "nJy"
    # flux[nJy] = instFlux / exptime * 10**(0.4 * (31.4 - zp))
    truth["instFlux"] = flux * visit.exptime / 10 ** (0.4 * (31.4 - visit.zero_point))
    truth["instFlux"].unit = "electron"
    truth["is_star"] = sub["is_star"]
    truth["is_saturated"] = np.zeros(len(sub), dtype=bool)
    truth["sigma_arcsec"] = sub["sigma_arcsec"]
    truth["ellipticity"] = sub["ellipticity"]
    truth["position_angle"] = sub["position_angle"]
    return truth
