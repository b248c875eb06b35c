"""A seeded sky and the raw frames SimCam would record of it (pure numpy: no Butler here).

The chain, for one visit and one detector, in the order light and charge meet them:

1. a truth catalog of stars and galaxies (`make_truth_catalog`), with magnitudes in g r i z y;
2. a per-visit *true* pointing (the telescope's commanded pointing plus a pointing error the
   pipeline must solve for), seeing, sky level and, in z and y, a fringe amplitude (`make_visits`);
3. a per-detector TAN-SIP WCS built from the camera geometry and the true pointing (`true_wcs`);
4. electrons: (sky with a gradient + sources through a Gaussian or Moffat PSF + fringes) x the
   flat field (vignetting x pixel response x bad columns), Poisson noise, dark current with hot
   pixels (collected over the *dark time*, a little longer than the exposure), cosmic rays, and
   charge beyond the full well bled along columns;
5. ADU per amplifier: electrons / gain + bias level + bias structure + a per-exposure bias drift
   (which the overscan measures) + read noise, saturating at the amplifier's saturation level
   (raw ADU, bias included, as ISR tests it), in a uint16 raw frame with pre-scans and overscans.

Everything random comes from a `numpy.random.Generator` you pass in; the instrument signature of each
detector (bias structure, dark map, flat, fringe pattern, defects) comes from `DetectorSignature`,
which depends only on (seed, detector), so calibrations and science frames agree.
"""

from __future__ import annotations

__all__ = (
    "DetectorSignature",
    "Visit",
    "calibrated_truth",
    "make_truth_catalog",
    "make_visits",
    "seeded_rng",
    "simulate_exposure",
    "true_wcs",
)

import dataclasses
import math
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import erf

from .._exceptions import SimCamValueError
from .camera import DEFAULT_GEOMETRY, SIMCAM, DetectorGeometry, amp_boxes, make_detector
from .raw import RawExposure, make_obs_info

if TYPE_CHECKING:
    import astropy.table
    import astropy.wcs

#: Centre of the simulated field (deg, ICRS): near COSMOS, a field HSC knows well.
FIELD_CENTER = (150.1, 2.2)
#: Sky brightness (electrons per second per pixel) per band, and fringe amplitude (fraction of sky).
SKY_RATE = {"g": 6.0, "r": 12.0, "i": 20.0, "z": 25.0, "y": 30.0}
FRINGE_FRACTION = {"z": 0.03, "y": 0.05}
#: Cosmic rays per square centimetre per second.
COSMIC_RAY_RATE = 0.02
#: Radial distortion coefficient of the optics (per pixel squared), in the SIP polynomials.
DISTORTION_K = 2.0e-11
_KIND = {"catalog": 1, "visits": 2, "signature": 3, "exposure": 4, "calib": 5, "refcat": 6}


def seeded_rng(seed: int, kind: str, *keys: int) -> np.random.Generator:
    """Return a generator that depends only on (seed, kind, keys): order-independent, reproducible.

    Parameters
    ----------
    seed
        The build's seed.
    kind
        What the numbers are for: ``"catalog"``, ``"visits"``, ``"signature"``, ``"exposure"``,
        ``"calib"`` or ``"refcat"``.
    *keys
        Further integers (exposure id, detector ...).

    Returns
    -------
    rng
        A `numpy.random.Generator`.

    Examples
    --------
    >>> float(seeded_rng(1, "exposure", 7, 2).random()) == float(seeded_rng(1, "exposure", 7, 2).random())
    True
    """
    return np.random.default_rng([int(seed), _KIND[kind], *(int(k) for k in keys)])


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


# --- detector signature -------------------------------------------------------------------------


@dataclasses.dataclass
class DetectorSignature:
    """The fixed instrument signature of one detector, in assembled coordinates.

    Depends only on (seed, detector, geometry). All arrays are float32 of shape
    (height, width) unless noted.

    Examples
    --------
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY
    >>> sig = DetectorSignature(seed=1, detector_id=0, geometry=SMALL_GEOMETRY)
    >>> sig.flat.shape, round(float(sig.flat.mean()), 6)
    ((256, 256), 1.0)
    """

    seed: int
    detector_id: int
    geometry: DetectorGeometry = DEFAULT_GEOMETRY

    def _rng(self, part: int) -> np.random.Generator:
        return seeded_rng(self.seed, "signature", self.detector_id, part)

    @cached_property
    def bias_structure(self) -> np.ndarray:
        """Residual 2-d bias structure in electrons (what remains after overscan subtraction)."""
        g = self.geometry
        rng = self._rng(1)
        y = np.linspace(0, 1, g.height, dtype=np.float32)[:, None]
        x = np.linspace(0, 1, g.width, dtype=np.float32)[None, :]
        ramp = 6.0 * np.exp(-y / 0.05) + 2.0 * np.sin(2 * np.pi * 3 * x)  # start-of-readout glow, ripple
        noise = rng.standard_normal((g.height, g.width), dtype=np.float32)
        noise += ramp
        return noise

    @cached_property
    def hot_pixels(self) -> np.ndarray:
        """(y, x) of hot pixels, shape (N, 2)."""
        g = self.geometry
        rng = self._rng(2)
        n = max(3, g.width * g.height // 200_000)
        return np.column_stack([rng.integers(0, g.height, n), rng.integers(0, g.width, n)])

    @cached_property
    def bad_columns(self) -> list[tuple[int, int, int]]:
        """(x, y0, y1) of bad column segments (low response)."""
        g = self.geometry
        rng = self._rng(3)
        cols = []
        for _ in range(2):
            x = int(rng.integers(2, g.width - 2))
            y0 = int(rng.integers(0, g.height // 2))
            cols.append((x, y0, min(g.height, y0 + int(rng.integers(g.height // 4, g.height)))))
        return cols

    @cached_property
    def dark_rate(self) -> np.ndarray:
        """Dark current (electrons per second) per pixel, hot pixels included."""
        g = self.geometry
        rng = self._rng(4)
        rate = rng.standard_normal((g.height, g.width), dtype=np.float32)
        rate *= 0.3 * SIMCAM.dark_current
        rate += SIMCAM.dark_current
        np.clip(rate, 0.0, None, out=rate)
        hy, hx = self.hot_pixels.T
        rate[hy, hx] = rng.uniform(20.0, 200.0, len(hy))
        return rate

    @cached_property
    def flat(self) -> np.ndarray:
        """Relative response, normalized to mean 1: vignetting x pixel response x bad columns."""
        g = self.geometry
        rng = self._rng(5)
        cx, cy = SIMCAM.focal_plane_center(self.detector_id, g)
        xx, yy = _pixel_axes(g)
        norm = (3.0 * g.width * SIMCAM.pixel_size_mm) ** 2
        fx2 = (cx + (xx - (g.width - 1) / 2) * SIMCAM.pixel_size_mm) ** 2 / norm
        fy2 = (cy + (yy - (g.height - 1) / 2) * SIMCAM.pixel_size_mm) ** 2 / norm
        flat = rng.standard_normal((g.height, g.width), dtype=np.float32)
        flat *= 0.01
        flat += 1.0
        flat *= 1.0 - 0.25 * (fx2[None, :] + fy2[:, None])
        for x, y0, y1 in self.bad_columns:
            flat[y0:y1, x] *= 0.1
        flat /= flat.mean(dtype=np.float64)
        return flat

    @cached_property
    def fringe(self) -> np.ndarray:
        """Fringe pattern of unit amplitude (the same interference pattern in z and y)."""
        g = self.geometry
        cx, cy = SIMCAM.focal_plane_center(self.detector_id, g)
        xx, yy = _pixel_axes(g)
        fx = ((cx / SIMCAM.pixel_size_mm + xx) / 40.0)[None, :]
        fy = ((cy / SIMCAM.pixel_size_mm + yy) / 55.0)[:, None]
        pattern = np.sin(fx + 0.6 * np.sin(fy / 3.0)) * np.cos(fy + 0.4 * np.sin(fx / 5.0))
        pattern /= np.abs(pattern).max()
        return pattern

    def defects_table(self) -> astropy.table.Table:
        """Defects in Rubin's column names (x0, y0, x_extent, y_extent), assembled coordinates."""
        from astropy.table import Table

        rows = [(x, y0, 1, y1 - y0) for x, y0, y1 in self.bad_columns]
        rows += [(int(x), int(y), 1, 1) for y, x in self.hot_pixels]
        return Table(rows=rows, names=("x0", "y0", "x_extent", "y_extent"), dtype=(np.int32,) * 4)


# --- rendering ----------------------------------------------------------------------------------


def _pixel_axes(g: DetectorGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates along x and y (float32), for separable expressions."""
    return np.arange(g.width, dtype=np.float32), np.arange(g.height, dtype=np.float32)


#: Moffat index of SimCam's ``psf_profile="moffat"`` (Trujillo et al. 2001: beta ~ 4.765 for pure
#: Kolmogorov seeing; ground-based stars are often fit with 2.5-4.5).
MOFFAT_BETA = 3.5


def _moffat(r2: np.ndarray, beta: float = MOFFAT_BETA) -> np.ndarray:
    """Return the normalized Moffat profile at squared radius ``r2`` (in units of the seeing's sigma).

    Its FWHM equals the Gaussian's (``2 sqrt(2 ln 2)`` sigma): half maximum is reached where
    ``r2 / alpha2 = 2**(1/beta) - 1`` and must be at ``r2 = 2 ln 2``, so
    ``alpha2 = 2 ln 2 / (2**(1/beta) - 1)``.  The integral over the plane is 1.

    Examples
    --------
    >>> import math
    >>> half = 2 * math.log(2)  # r2 at the half-maximum radius
    >>> round(float(_moffat(np.array(half)) / _moffat(np.array(0.0))), 6)
    0.5
    """
    alpha2 = 2 * math.log(2) / (2 ** (1 / beta) - 1)
    return (beta - 1) / (math.pi * alpha2) * (1 + r2 / alpha2) ** (-beta)


def _render_sources(
    shape: tuple[int, int],
    x: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    sigma_x: np.ndarray,
    sigma_y: np.ndarray,
    theta: np.ndarray,
    profile: str,
) -> np.ndarray:
    """Add sources (total electrons ``counts``) with elliptical profiles into an image."""
    h, w = shape
    image = np.zeros(shape, dtype=np.float64)
    for xi, yi, ci, sx, sy, th in zip(x, y, counts, sigma_x, sigma_y, theta, strict=True):
        size = max(sx, sy)
        half = int(math.ceil(size * (6.0 if profile == "gaussian" else 16.0) + (3 if ci > 1e6 else 0)))
        x0, x1 = max(0, int(xi) - half), min(w, int(xi) + half + 2)
        y0, y1 = max(0, int(yi) - half), min(h, int(yi) + half + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        if profile == "gaussian" and sx == sy:
            # Exact pixel integrals of a round Gaussian (separable).
            ex = np.arange(x0, x1 + 1) - 0.5 - xi
            ey = np.arange(y0, y1 + 1) - 0.5 - yi
            px = np.diff(0.5 * erf(ex / (math.sqrt(2) * sx)))
            py = np.diff(0.5 * erf(ey / (math.sqrt(2) * sy)))
            image[y0:y1, x0:x1] += ci * np.outer(py, px)
            continue
        # Sub-sampled evaluation (3 x 3 per pixel) of an elliptical profile.
        sub = (np.arange(3) - 1) / 3.0
        xs = (np.arange(x0, x1)[:, None] + sub[None, :]).ravel() - xi
        ys = (np.arange(y0, y1)[:, None] + sub[None, :]).ravel() - yi
        dx, dy = np.meshgrid(xs, ys)
        c, s = math.cos(th), math.sin(th)
        u, v = (c * dx + s * dy) / sx, (-s * dx + c * dy) / sy
        r2 = u * u + v * v
        if profile == "moffat":
            values = _moffat(r2) / (sx * sy)
        else:
            values = np.exp(-0.5 * r2) / (2 * math.pi * sx * sy)
        values = values.reshape(y1 - y0, 3, x1 - x0, 3).sum(axis=(1, 3)) / 9.0
        image[y0:y1, x0:x1] += ci * values
    return image


def _bleed(electrons: np.ndarray, full_well: np.ndarray | np.floating) -> np.ndarray:
    """Move charge above the full well up and down the column (bleed trails), in place.

    Returns the pixels left full (at the full well, to 0.1 %).
    """
    full_well = np.broadcast_to(full_well, electrons.shape)
    over = electrons > full_well
    if not over.any():
        return over
    for x in np.unique(np.nonzero(over)[1]):
        col = electrons[:, x]
        fw = full_well[:, x]
        excess = float(np.clip(col - fw, 0, None).sum())
        sat = np.nonzero(col > fw)[0]
        col[sat] = fw[sat]
        lo, hi = int(sat.min()) - 1, int(sat.max()) + 1
        toggle = True
        while excess > 0 and (lo >= 0 or hi < len(col)):
            index = hi if (toggle and hi < len(col)) or lo < 0 else lo
            room = max(0.0, float(fw[index] - col[index]))
            take = min(room, excess / 2 if (lo >= 0 and hi < len(col)) else excess)
            col[index] += take
            excess -= take
            if index == hi:
                hi += 1
            else:
                lo -= 1
            toggle = not toggle
    return electrons >= full_well * 0.999


def _photon_noise(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson-distributed electrons: exact below 100 e-, its Gaussian limit above (much faster)."""
    out = rng.standard_normal(expected.shape, dtype=np.float32)
    out *= np.sqrt(expected)
    out += expected
    np.round(out, out=out)
    low = expected < 100
    if low.any():
        out[low] = rng.poisson(expected[low])
    np.clip(out, 0, None, out=out)
    return out


def _add_cosmic_rays(electrons: np.ndarray, rng: np.random.Generator, exptime: float) -> int:
    h, w = electrons.shape
    area_cm2 = h * w * (SIMCAM.pixel_size_mm / 10.0) ** 2
    n = int(rng.poisson(COSMIC_RAY_RATE * area_cm2 * max(exptime, 1.0)))
    for _ in range(n):
        length = rng.integers(1, 25)
        angle = rng.uniform(0, np.pi)
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        t = np.linspace(0, length, int(length) * 2 + 1)
        xs = np.clip((x0 + t * np.cos(angle)).astype(int), 0, w - 1)
        ys = np.clip((y0 + t * np.sin(angle)).astype(int), 0, h - 1)
        electrons[ys, xs] += rng.uniform(800.0, 4000.0)
    return n


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


def simulate_exposure(
    geometry: DetectorGeometry = DEFAULT_GEOMETRY,
    rng: np.random.Generator | None = None,
    *,
    detector_id: int = 0,
    visit: Visit | None = None,
    catalog: astropy.table.Table | None = None,
    signature: DetectorSignature | None = None,
    seed: int = 1,
) -> tuple[RawExposure, astropy.table.Table]:
    """Simulate the raw frame of one detector in one visit, and its truth.

    Parameters
    ----------
    geometry
        Detector pixel layout.
    rng
        Random generator for the noise (Poisson, read noise, cosmic rays, bias drift); default
        ``seeded_rng(seed, "exposure", exposure_id, detector_id)``.
    detector_id
        SimCam detector.
    visit
        The visit (`make_visits`); default: the first visit planned from ``seed`` (band r).
    catalog
        The truth catalog (`make_truth_catalog`); default: one drawn from ``seed`` around the visit.
    signature
        The detector's instrument signature; default ``DetectorSignature(seed, detector_id, geometry)``.
    seed
        Seed for the defaults above.

    Returns
    -------
    raw
        The `RawExposure` (uint16 ADU, full raw frame).
    truth
        `calibrated_truth` of the sources on the detector, ``is_saturated`` filled in, and in its
        ``meta``: seeing, the true WCS (FITS header), zero point, sky level, fringe amplitude.

    Examples
    --------
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY
    >>> raw, truth = simulate_exposure(SMALL_GEOMETRY, detector_id=4, seed=3)
    >>> raw.image.array.dtype.name, raw.image.bbox.shape, len(truth) > 0
    ('uint16', YX(y=264, x=336), True)
    """
    det = make_detector(SIMCAM.check_detector(detector_id), geometry=geometry)
    if visit is None:
        visit = make_visits(seeded_rng(seed, "visits"), 1, ("r",))[0]
    if catalog is None:
        catalog = make_truth_catalog(
            seeded_rng(seed, "catalog"), center=(visit.ra, visit.dec), radius_deg=_field_radius(geometry)
        )
    if signature is None:
        signature = DetectorSignature(seed, detector_id, geometry)
    if rng is None:
        rng = seeded_rng(seed, "exposure", visit.exposure_id, detector_id)
    g = geometry
    truth = calibrated_truth(catalog, visit, detector_id, g, margin=30)
    sigma = visit.seeing_sigma_pixels
    gal_sigma = np.asarray(truth["sigma_arcsec"]) / SIMCAM.pixel_scale_arcsec
    e = np.asarray(truth["ellipticity"])
    sx = np.sqrt(sigma**2 + (gal_sigma * np.sqrt(1 + e)) ** 2)
    sy = np.sqrt(sigma**2 + (gal_sigma * np.sqrt(1 - e)) ** 2)
    signal = _render_sources(
        (g.height, g.width),
        np.asarray(truth["x"]),
        np.asarray(truth["y"]),
        np.asarray(truth["instFlux"]),
        sx,
        sy,
        np.asarray(truth["position_angle"]),
        visit.psf_profile,
    )
    # Sky with a gradient across the focal plane (a few per cent over the mosaic).
    cx, cy = SIMCAM.focal_plane_center(detector_id, g)
    xx, yy = _pixel_axes(g)
    span = 3.0 * g.width * SIMCAM.pixel_size_mm
    fx = (cx + (xx - (g.width - 1) / 2) * SIMCAM.pixel_size_mm) / span
    fy = (cy + (yy - (g.height - 1) / 2) * SIMCAM.pixel_size_mm) / span
    sky_level = visit.sky_rate * visit.exptime
    expected = signal.astype(np.float32)
    expected += (sky_level * (1.0 + 0.04 * fx))[None, :] + (sky_level * 0.02 * fy)[:, None]
    if visit.fringe_amplitude:
        expected += np.float32(visit.fringe_amplitude * sky_level) * signature.fringe
    expected *= signature.flat
    # Dark current accumulates over the dark time, which is longer than the exposure.
    expected += signature.dark_rate * np.float32(visit.dark_time)
    electrons = _photon_noise(expected, rng)
    n_cr = _add_cosmic_rays(electrons, rng, visit.exptime)
    _bleed(electrons, np.float32(SIMCAM.full_well))
    electrons += signature.bias_structure
    boxes = amp_boxes(det)
    raw_array, saturated = _to_adu(electrons, boxes, g, rng)
    ix = np.clip(np.round(np.asarray(truth["x"])).astype(int), 0, g.width - 1)
    iy = np.clip(np.round(np.asarray(truth["y"])).astype(int), 0, g.height - 1)
    truth["is_saturated"] = saturated[iy, ix]
    from lsst.images import Image

    from .camera import raw_bbox

    info = make_obs_info(
        exposure_id=visit.exposure_id,
        detector_id=detector_id,
        physical_filter=visit.physical_filter,
        exposure_time=visit.exptime,
        dark_time=visit.dark_time,
        datetime_begin=visit.datetime_begin,
        ra=visit.ra,
        dec=visit.dec,
        airmass=visit.airmass,
        geometry=g,
    )
    raw = RawExposure(Image(raw_array, bbox=raw_bbox(g)), det, info, {"SIMSEED": seed})
    on_detector = (
        (truth["x"] > -0.5)
        & (truth["x"] < g.width - 0.5)
        & (truth["y"] > -0.5)
        & (truth["y"] < g.height - 0.5)
    )
    truth = truth[on_detector]
    truth.remove_columns(["sigma_arcsec", "ellipticity", "position_angle"])
    truth.meta.update(_truth_meta(visit, detector_id, g, n_cr))
    return raw, truth


def _to_adu(
    electrons: np.ndarray, boxes: list[Any], g: DetectorGeometry, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Read out: per amplifier, electrons / gain + bias level + drift + read noise, into the raw frame.

    Each amplifier's output saturates at its saturation level (raw ADU, bias included: the
    convention of ``AmplifierCalibrations.saturation`` and of Rubin's ``IsrTask``), so a
    saturated pixel reads exactly that level.  Returns the uint16 raw frame and, in assembled
    coordinates, which imaging pixels read saturated.
    """
    raw = rng.standard_normal((g.raw_height, g.raw_width), dtype=np.float32)
    saturated = np.zeros(electrons.shape, dtype=bool)
    for b in boxes:
        drift = float(rng.normal(0.0, 5.0))  # per-exposure bias level change: the overscan sees it
        seg = raw[b.raw.y.start : b.raw.y.stop, b.raw.x.start : b.raw.x.stop]
        seg *= np.float32(b.read_noise / b.gain)
        seg += np.float32(b.bias_level + drift)
        a = b.assembled
        data = raw[b.data.y.start : b.data.y.stop, b.data.x.start : b.data.x.stop]
        data += electrons[a.y.start : a.y.stop, a.x.start : a.x.stop] * np.float32(1.0 / b.gain)
        np.round(seg, out=seg)
        np.minimum(seg, np.float32(b.saturation), out=seg)
        saturated[a.y.start : a.y.stop, a.x.start : a.x.stop] = data >= b.saturation
    np.clip(raw, 0, 65535, out=raw)
    return raw.astype(np.uint16), saturated


def _truth_meta(visit: Visit, detector_id: int, g: DetectorGeometry, n_cr: int) -> dict[str, Any]:
    header = true_wcs(visit, detector_id, g).to_header(relax=True)
    return {
        "exposure_id": visit.exposure_id,
        "detector": detector_id,
        "band": visit.band,
        "physical_filter": visit.physical_filter,
        "exptime": visit.exptime,
        "dark_time": visit.dark_time,
        "seeing_fwhm_arcsec": visit.seeing_fwhm_arcsec,
        "psf_sigma_pixels": visit.seeing_sigma_pixels,
        "psf_profile": visit.psf_profile,
        "zero_point": visit.zero_point,
        "sky_level": visit.sky_rate * visit.exptime,
        "sky_rate": visit.sky_rate,
        "fringe_amplitude": visit.fringe_amplitude,
        "true_ra": visit.true_ra,
        "true_dec": visit.true_dec,
        "true_rotation_deg": visit.true_rotation_deg,
        "pointing_ra": visit.ra,
        "pointing_dec": visit.dec,
        "n_cosmic_rays": n_cr,
        "wcs": {key: header[key] for key in header},
    }


def _field_radius(geometry: DetectorGeometry) -> float:
    """Radius (deg) of a disc that covers the whole 3 x 3 mosaic plus dithers."""
    side = (3 * geometry.width * SIMCAM.pixel_scale_arcsec + 3 * 60.0) / 3600.0
    return side / math.sqrt(2) + 0.01
