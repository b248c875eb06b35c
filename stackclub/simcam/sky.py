"""The raw frames SimCam records of its seeded sky: rendering, noise and readout (pure numpy: no Butler).

The chain, for one visit and one detector, in the order light and charge meet them:

1. a truth catalog of stars and galaxies (`~stackclub.simcam.truth.make_truth_catalog`), with
   magnitudes in g r i z y;
2. a per-visit *true* pointing (the telescope's commanded pointing plus a pointing error the
   pipeline must solve for), seeing, sky level and, in z and y, a fringe amplitude
   (`~stackclub.simcam.visits.make_visits`);
3. a per-detector TAN-SIP WCS built from the camera geometry and the true pointing
   (`~stackclub.simcam.visits.true_wcs`);
4. electrons: (sky with a gradient + sources through a Gaussian or Moffat PSF + fringes) x the
   flat field (vignetting x pixel response x bad columns), Poisson noise, dark current with hot
   pixels (collected over the *dark time*, a little longer than the exposure), cosmic rays, and
   charge beyond the full well bled along columns;
5. ADU per amplifier: electrons / gain + bias level + bias structure + a per-exposure bias drift
   (which the overscan measures) + read noise, saturating at the amplifier's saturation level
   (raw ADU, bias included, as ISR tests it), in a uint16 raw frame with pre-scans and overscans.

Steps 4 and 5 are here (`simulate_exposure`). Everything random comes from a
`numpy.random.Generator` you pass in (`~stackclub.simcam.seeds.seeded_rng`); the instrument
signature of each detector (bias structure, dark map, flat, fringe pattern, defects) comes from
`~stackclub.simcam.signature.DetectorSignature`, which depends only on (seed, detector), so
calibrations and science frames agree.
"""

from __future__ import annotations

__all__ = ("simulate_exposure",)

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import erf

from .camera import DEFAULT_GEOMETRY, SIMCAM, DetectorGeometry, amp_boxes, make_detector
from .raw import RawExposure, make_obs_info
from .seeds import seeded_rng
from .signature import DetectorSignature
from .truth import calibrated_truth, field_radius, make_truth_catalog
from .visits import Visit, make_visits, true_wcs

if TYPE_CHECKING:
    import astropy.table

#: Cosmic rays per square centimetre per second.
COSMIC_RAY_RATE = 0.02


# --- rendering ----------------------------------------------------------------------------------


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
            seeded_rng(seed, "catalog"), center=(visit.ra, visit.dec), radius_deg=field_radius(geometry)
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
    xx, yy = np.arange(g.width, dtype=np.float32), np.arange(g.height, dtype=np.float32)
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
