"""The visits of the simulated survey, their true conditions, and each detector's true WCS (no Butler).

`make_visits` plans the exposures: for each, where the telescope was told to point and where it
pointed (a pointing error the pipeline must solve for), the seeing, the sky level and, in z and y,
a fringe amplitude. `true_wcs` turns a visit's true pointing and the camera geometry into each
detector's TAN-SIP WCS, with the optics' radial distortion in its SIP polynomials.
"""

from __future__ import annotations

__all__ = (
    "Visit",
    "make_visits",
    "true_wcs",
)

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._exceptions import SimCamValueError
from .camera import DEFAULT_GEOMETRY, SIMCAM, DetectorGeometry

if TYPE_CHECKING:
    import astropy.wcs

#: Centre of the simulated field (deg, ICRS): near COSMOS, a field HSC knows well.
FIELD_CENTER = (150.1, 2.2)
#: Sky brightness (electrons per second per pixel) per band, and fringe amplitude (fraction of sky).
SKY_RATE = {"g": 6.0, "r": 12.0, "i": 20.0, "z": 25.0, "y": 30.0}
FRINGE_FRACTION = {"z": 0.03, "y": 0.05}
#: Radial distortion coefficient of the optics (per pixel squared), in the SIP polynomials.
DISTORTION_K = 2.0e-11


# --- visits -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Visit:
    """One exposure (= one visit) of the simulated survey, with its true conditions.

    ``ra``/``dec`` are where the telescope was told to point (they go in the raw header);
    ``true_ra``/``true_dec``/``true_rotation_deg`` are where it pointed (they make the true WCS).
    ``dark_time`` is how long the CCD collected dark current (seconds; the raw's ``DARKTIME``);
    NaN (the default) means ``exptime + SIMCAM.dark_overhead``.
    """

    exposure_id: int
    band: str
    exptime: float
    datetime_begin: str
    ra: float
    dec: float
    true_ra: float
    true_dec: float
    true_rotation_deg: float
    seeing_fwhm_arcsec: float
    sky_rate: float
    fringe_amplitude: float
    airmass: float = 1.1
    psf_profile: str = "gaussian"
    dark_time: float = math.nan

    def __post_init__(self) -> None:
        if math.isnan(self.dark_time):
            object.__setattr__(self, "dark_time", self.exptime + SIMCAM.dark_overhead)

    @property
    def physical_filter(self) -> str:
        """Physical filter name, e.g. ``"SimCam-R"``."""
        return SIMCAM.physical_filters[self.band]

    @property
    def day_obs(self) -> int:
        """Observing day, YYYYMMDD."""
        return self.exposure_id // 100000

    @property
    def seq_num(self) -> int:
        """Sequence number within the day."""
        return self.exposure_id % 100000

    @property
    def seeing_sigma_pixels(self) -> float:
        """PSF Gaussian sigma in pixels."""
        return self.seeing_fwhm_arcsec / SIMCAM.pixel_scale_arcsec / (2 * math.sqrt(2 * math.log(2)))

    @property
    def zero_point(self) -> float:
        """AB magnitude giving 1 electron per second."""
        return SIMCAM.zero_points[self.band]


def make_visits(
    rng: np.random.Generator,
    n_visits: int,
    bands: Sequence[str] = ("r", "z"),
    *,
    exptime: float = 30.0,
    day_obs: int = 20260315,
    first_seq: int = 1,
    center: tuple[float, float] = FIELD_CENTER,
    dither_arcsec: float = 30.0,
    pointing_error_arcsec: float = 4.0,
    psf_profile: str = "gaussian",
) -> list[Visit]:
    """Plan ``n_visits`` exposures, cycling through ``bands``, with dithers and pointing errors.

    Parameters
    ----------
    rng
        Random generator (dithers, pointing errors, seeing, sky).
    n_visits
        Number of exposures.
    bands
        Bands, used in turn.
    exptime
        Exposure time (seconds); the dark time is this plus ``SIMCAM.dark_overhead``.
    day_obs
        Observing day (YYYYMMDD) of the first exposure.
    first_seq
        Sequence number of the first exposure.
    center
        Field centre (RA, Dec) in degrees.
    dither_arcsec
        Dither scatter (arcsec).
    pointing_error_arcsec
        Scatter of the true pointing around the commanded one (arcsec).
    psf_profile
        ``"gaussian"`` or ``"moffat"``.

    Returns
    -------
    visits
        One `Visit` per exposure.

    Examples
    --------
    >>> visits = make_visits(np.random.default_rng(0), 3, ("r", "z"))
    >>> [(v.exposure_id, v.band) for v in visits]
    [(2026031500001, 'r'), (2026031500002, 'z'), (2026031500003, 'r')]
    """
    if not isinstance(n_visits, int) or isinstance(n_visits, bool) or n_visits < 0:
        raise SimCamValueError(f"The number of visits must be an integer >= 0, got {n_visits!r}.")
    bad = [b for b in bands if b not in SIMCAM.bands]
    if bad or not bands:
        raise SimCamValueError(f"Unknown band(s) {bad or list(bands)!r}: SimCam's bands are {SIMCAM.bands}.")
    if psf_profile not in ("gaussian", "moffat"):
        raise SimCamValueError(f"psf_profile must be 'gaussian' or 'moffat', got {psf_profile!r}.")
    from astropy.time import Time, TimeDelta

    # Night of day_obs, starting 22:00 Hawaii time (08:00 UTC the next day).
    start = Time(
        f"{str(day_obs)[:4]}-{str(day_obs)[4:6]}-{str(day_obs)[6:]}T08:00:00", scale="utc"
    ) + TimeDelta(1.0, format="jd")
    cos_dec = math.cos(math.radians(center[1]))
    visits = []
    for i in range(n_visits):
        band = bands[i % len(bands)]
        dra, ddec = rng.normal(0.0, dither_arcsec, 2) / 3600.0
        era, edec = rng.normal(0.0, pointing_error_arcsec / math.sqrt(2), 2) / 3600.0
        ra, dec = center[0] + dra / cos_dec, center[1] + ddec
        begin = start + TimeDelta(120.0 * i, format="sec")
        visits.append(
            Visit(
                exposure_id=day_obs * 100000 + first_seq + i,
                band=band,
                exptime=float(exptime),
                datetime_begin=begin.isot[:19],
                ra=ra,
                dec=dec,
                true_ra=ra + era / cos_dec,
                true_dec=dec + edec,
                true_rotation_deg=float(rng.normal(0.0, 0.01)),
                seeing_fwhm_arcsec=float(rng.uniform(0.6, 1.1)),
                sky_rate=SKY_RATE[band] * float(rng.uniform(0.9, 1.2)),
                fringe_amplitude=FRINGE_FRACTION.get(band, 0.0) * float(rng.uniform(0.7, 1.3)),
                airmass=float(rng.uniform(1.05, 1.4)),
                psf_profile=psf_profile,
            )
        )
    return visits


# --- WCS ----------------------------------------------------------------------------------------


def true_wcs(
    visit: Visit, detector_id: int, geometry: DetectorGeometry = DEFAULT_GEOMETRY
) -> astropy.wcs.WCS:
    """Return the TAN-SIP WCS of a detector in a visit: camera geometry + true pointing + distortion.

    Pixel coordinates are those of the assembled detector (0-based in numpy, 1-based in FITS).

    Parameters
    ----------
    visit
        The visit (its true pointing and rotation).
    detector_id
        SimCam detector id.
    geometry
        The detector's pixel layout.

    Returns
    -------
    wcs
        An `astropy.wcs.WCS` with SIP distortion.

    Examples
    --------
    >>> v = make_visits(np.random.default_rng(0), 1)[0]
    >>> w = true_wcs(v, 4)
    >>> ra, dec = w.pixel_to_world_values(1023.5, 1023.5)   # the centre of the central detector
    >>> bool(abs(ra - v.true_ra) < 1e-6 and abs(dec - v.true_dec) < 1e-6)
    True
    """
    import astropy.wcs

    cx, cy = SIMCAM.focal_plane_center(detector_id, geometry)
    # 0-based pixel position of the boresight (the optical axis) on this detector.
    x_axis = (geometry.width - 1) / 2.0 - cx / SIMCAM.pixel_size_mm
    y_axis = (geometry.height - 1) / 2.0 - cy / SIMCAM.pixel_size_mm
    scale = SIMCAM.pixel_scale_arcsec / 3600.0
    rot = math.radians(visit.true_rotation_deg)
    w = astropy.wcs.WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    w.wcs.crval = [visit.true_ra, visit.true_dec]
    w.wcs.crpix = [x_axis + 1.0, y_axis + 1.0]
    # RA increases to the left (east left when north is up), as on the sky.
    w.wcs.cd = np.array(
        [[-scale * math.cos(rot), scale * math.sin(rot)], [scale * math.sin(rot), scale * math.cos(rot)]]
    )
    w.wcs.radesys = "ICRS"
    k = DISTORTION_K
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[3, 0] = a[1, 2] = k  # u (u^2 + v^2)
    b[2, 1] = b[0, 3] = k  # v (u^2 + v^2)
    w.sip = astropy.wcs.Sip(a, b, None, None, w.wcs.crpix)
    w.pixel_shape = (geometry.width, geometry.height)
    return w
