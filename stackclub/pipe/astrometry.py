"""Astrometric calibration, mirroring ``lsst.meas.astrom.AstrometryTask``.

1. An initial WCS from the camera model, as Rubin's ``createInitialSkyWcs`` does: detector
   pixels -> field angle through the `lsst.images.cameras.Detector`'s transform, then a gnomonic
   projection about the telescope's pointing (``obs_info.tracking_radec``); fitted as TAN with
   ``astropy.wcs.utils.fit_wcs_from_points``.
2. Matching (the job of Rubin's ``matchPessimisticB``): the pointing is off by up to tens of
   pixels, so the offset between detected stars and projected reference stars is found by voting
   over all pairwise differences of the brightest ones (a 2-d histogram peak), then pairs are
   matched within ``matchRadius`` with a k-d tree (``scipy.spatial.cKDTree``).
3. Fitting: a TAN-SIP WCS with distortion of degree ``sipOrder``, iterated with outlier
   rejection; the result becomes an `lsst.images.SkyProjection`.  The default fitter,
   `fitTanSipWcs`, is linear least squares in the tangent plane (Rubin's ``FitTanSipWcsTask``
   does the same); ``astropy.wcs.utils.fit_wcs_from_points`` (``wcsFitter="astropy"``) gives
   the same answer but takes about a second per SIP fit, as it optimizes non-linearly and
   rebuilds astropy models at every step.
"""

from __future__ import annotations

__all__ = (
    "AstrometryConfig",
    "AstrometryError",
    "AstrometryTask",
    "fitRadialWcs",
    "fitTanSipWcs",
    "makeInitialWcs",
)

import math
from typing import Any

import numpy as np
from lsst.pex.config import ChoiceField, Config, Field
from lsst.pipe.base import AlgorithmError, Struct, Task

from .._exceptions import PipelineError
from .sourceSelector import ScienceSourceSelectorTask, sourceSelectorRegistry


class AstrometryError(PipelineError, AlgorithmError):
    """The astrometric fit failed (too few matches).

    Parameters
    ----------
    nMatches
        Stars matched to the reference catalog.
    nNeeded
        The configured minimum (``minMatches``).
    """

    def __init__(self, nMatches: int, nNeeded: int) -> None:
        self.nMatches = nMatches
        self.nNeeded = nNeeded
        super().__init__(
            f"Only {nMatches} stars matched the reference catalog; {nNeeded} are needed. "
            "Raise astrometry.maxOffset if the pointing is far off, or check the refcat."
        )

    @property
    def metadata(self) -> dict:
        return {"nMatches": self.nMatches, "nNeeded": self.nNeeded}


def fitRadialWcs(
    x: np.ndarray,
    y: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    *,
    crpix: tuple[float, float],
    crval: tuple[float, float],
    opticalAxis: tuple[float, float],
    shape: tuple[int, int],
    sipOrder: int = 3,
) -> Any:
    """Fit a TAN WCS with one radial distortion coefficient about the optical axis, as TAN-SIP.

    Rubin fits an affine correction to a camera model that already holds the optics' distortion
    (``FitAffineWcsTask``); SimCam's camera model has none, but its optics distort radially about
    the optical axis.  Pixels are undistorted as ``p + k (p - axis) |p - axis|**2``, ``k`` chosen
    (``scipy.optimize.minimize_scalar``) so that a plain TAN fits them best: seven parameters, where
    a full cubic SIP has twenty, so a few dozen stars suffice.  The result is written as the
    TAN-SIP of degree ``sipOrder`` that reproduces it on the detector.

    Parameters
    ----------
    x, y
        0-based pixel positions.
    ra, dec
        Matched sky positions (degrees).
    crpix
        0-based reference pixel.
    crval
        Starting tangent point (degrees).
    opticalAxis
        0-based pixel position of the optical axis (from the camera model; may be off the detector).
    shape
        ``(ny, nx)`` of the detector, where the SIP representation is fitted.
    sipOrder
        Degree of that representation (3 holds a cubic radial distortion exactly).

    Returns
    -------
    wcs
        `astropy.wcs.WCS`.
    """
    from scipy.optimize import minimize_scalar

    ax, ay = opticalAxis
    scale = float(np.max(np.hypot(np.asarray(x) - ax, np.asarray(y) - ay))) or 1.0

    def undistort(px: np.ndarray, py: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = np.asarray(px) - ax, np.asarray(py) - ay
        r2 = (dx * dx + dy * dy) / scale**2
        return px + k * dx * r2, py + k * dy * r2

    def cost(k: float) -> float:
        ux, uy = undistort(x, y, k)
        tan = fitTanSipWcs(ux, uy, ra, dec, crpix=crpix, crval=crval)
        r2, d2 = tan.wcs_pix2world(ux, uy, 0)
        return float(np.sum(((r2 - ra) * np.cos(np.radians(dec))) ** 2 + (d2 - dec) ** 2))

    k = float(minimize_scalar(cost, bounds=(-0.01, 0.01), method="bounded", options={"xatol": 1e-9}).x)
    ux, uy = undistort(x, y, k)
    tan = fitTanSipWcs(ux, uy, ra, dec, crpix=crpix, crval=crval)
    ny, nx = shape
    gx, gy = (g.ravel() for g in np.meshgrid(np.linspace(0, nx - 1, 17), np.linspace(0, ny - 1, 17)))
    gra, gdec = tan.wcs_pix2world(*undistort(gx, gy, k), 0)
    return fitTanSipWcs(gx, gy, gra, gdec, crpix=crpix, crval=tuple(tan.wcs.crval), sipOrder=sipOrder)


def makeInitialWcs(detector: Any, boresight: Any, rotation_deg: float = 0.0) -> Any:
    """Return a TAN `astropy.wcs.WCS` for ``detector`` from the camera model and the pointing.

    Parameters
    ----------
    detector
        `lsst.images.cameras.Detector` (its ``to_field_angle`` transform is used).
    boresight
        `astropy.coordinates.SkyCoord` of the optical axis (the telescope's pointing).
    rotation_deg
        Rotation of the camera on the sky (degrees, east of north).

    Returns
    -------
    wcs
        Approximate WCS in the detector's 0-based pixel coordinates.
    """
    bbox = detector.bbox
    ys = np.linspace(bbox.y.start, bbox.y.stop - 1, 9)
    xs = np.linspace(bbox.x.start, bbox.x.stop - 1, 9)
    X, Y = np.meshgrid(xs, ys)
    fa = detector.to_field_angle.apply_forward(x=X.ravel(), y=Y.ravel())
    rot = math.radians(rotation_deg)
    # Field angle x points to decreasing RA on the sky (east is left when north is up).
    xi = -(np.cos(rot) * fa.x - np.sin(rot) * fa.y)
    eta = np.sin(rot) * fa.x + np.cos(rot) * fa.y
    ra, dec = _tangentPlane((boresight.ra.deg, boresight.dec.deg)).wcs_pix2world(
        np.degrees(xi), np.degrees(eta), 0
    )
    ny, nx = bbox.shape
    return fitTanSipWcs(
        X.ravel() - bbox.x.start,
        Y.ravel() - bbox.y.start,
        ra,
        dec,
        crpix=((nx - 1) / 2.0, (ny - 1) / 2.0),
        crval=(float(ra[40]), float(dec[40])),
    )


def _tangentPlane(crval: tuple[float, float]) -> Any:
    import astropy.wcs

    tangent = astropy.wcs.WCS(naxis=2)
    tangent.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    tangent.wcs.crval = list(crval)
    tangent.wcs.crpix = [1.0, 1.0]  # FITS is 1-based: array position 0 is the tangent point
    tangent.wcs.cdelt = [1.0, 1.0]
    return tangent


def _polyTerms(u: np.ndarray, v: np.ndarray, order: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    powers = [(p, q) for n in range(order + 1) for p in range(n + 1) for q in [n - p]]
    return np.column_stack([u**p * v**q for p, q in powers]), powers


def fitTanSipWcs(
    x: np.ndarray,
    y: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    *,
    crpix: tuple[float, float],
    crval: tuple[float, float],
    sipOrder: int = 0,
) -> Any:
    """Fit a TAN(-SIP) WCS to matched pixel and sky positions by linear least squares.

    The sky positions are projected onto the tangent plane about ``crval`` (degrees), and the
    tangent-plane coordinates are fitted as polynomials in ``u = x - crpix``: the linear terms
    are the CD matrix, the higher ones, multiplied by CD's inverse, the SIP ``A``/``B``
    coefficients.  The constant term moves ``crval``; two passes make it vanish.

    Parameters
    ----------
    x, y
        0-based pixel positions.
    ra, dec
        Matched sky positions (degrees).
    crpix
        0-based reference pixel (e.g. the detector centre).
    crval
        Starting tangent point (degrees).
    sipOrder
        Distortion degree (0: plain TAN).

    Returns
    -------
    wcs
        `astropy.wcs.WCS`.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.wcs import WCS
    >>> true = WCS(naxis=2); true.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    >>> true.wcs.crval = [150.0, 2.0]; true.wcs.crpix = [50.0, 60.0]
    >>> true.wcs.cd = [[-5.5e-5, 1e-7], [1e-7, 5.5e-5]]
    >>> x, y = np.meshgrid(np.arange(0, 200, 20.0), np.arange(0, 200, 20.0))
    >>> ra, dec = true.wcs_pix2world(x.ravel(), y.ravel(), 0)
    >>> fit = fitTanSipWcs(x.ravel(), y.ravel(), ra, dec, crpix=(100.0, 100.0), crval=(150.0, 2.0))
    >>> r2, d2 = fit.wcs_pix2world(x.ravel(), y.ravel(), 0)
    >>> bool(np.max(np.hypot((r2 - ra) * np.cos(np.radians(2.0)), d2 - dec)) * 3600 < 1e-6)
    True
    """
    import astropy.wcs

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    u, v = x - crpix[0], y - crpix[1]
    # Scale pixel offsets to ~1 for a well-conditioned design matrix.
    norm = max(float(np.max(np.abs(np.concatenate([u, v])))), 1.0)
    design, powers = _polyTerms(u / norm, v / norm, max(sipOrder, 1))
    crval = (float(crval[0]), float(crval[1]))
    for _ in range(3):
        xi, eta = _tangentPlane(crval).wcs_world2pix(ra, dec, 0)
        cx, *_ = np.linalg.lstsq(design, xi, rcond=None)
        ce, *_ = np.linalg.lstsq(design, eta, rcond=None)
        # Move the tangent point by the constant term, then refit.
        r0, d0 = _tangentPlane(crval).wcs_pix2world([cx[0]], [ce[0]], 0)
        crval = (float(r0[0]), float(d0[0]))
        if abs(cx[0]) < 1e-10 and abs(ce[0]) < 1e-10:
            break
    lin = {pq: i for i, pq in enumerate(powers)}
    cd = np.array([[cx[lin[(1, 0)]], cx[lin[(0, 1)]]], [ce[lin[(1, 0)]], ce[lin[(0, 1)]]]]) / norm
    w = astropy.wcs.WCS(naxis=2)
    w.wcs.crval = list(crval)
    w.wcs.crpix = [crpix[0] + 1.0, crpix[1] + 1.0]
    w.wcs.cd = cd
    w.wcs.radesys = "ICRS"
    if sipOrder >= 2:
        cdinv = np.linalg.inv(cd)
        a = np.zeros((sipOrder + 1, sipOrder + 1))
        b = np.zeros((sipOrder + 1, sipOrder + 1))
        for (p, q), i in lin.items():
            if p + q >= 2:
                hx, he = cx[i] / norm ** (p + q), ce[i] / norm ** (p + q)
                a[p, q], b[p, q] = cdinv @ np.array([hx, he])
        w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
        w.sip = astropy.wcs.Sip(a, b, None, None, w.wcs.crpix)
    else:
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    return w


class AstrometryConfig(Config):
    """Configuration for `AstrometryTask`."""

    maxOffset = Field[float](
        doc="Largest pointing error searched for (arcsec).", default=60.0, check=lambda v: v > 0
    )
    matchRadius = Field[float](doc="Final matching radius (arcsec).", default=0.5, check=lambda v: v > 0)
    nBrightest = Field[int](
        doc="Number of brightest stars and references used to find the offset.",
        default=300,
        check=lambda v: v >= 5,
    )
    sipOrder = Field[int](
        doc="Degree of the SIP distortion polynomial (0: plain TAN).", default=3, check=lambda v: 0 <= v <= 5
    )
    minMatches = Field[int](doc="Minimum number of matches for a fit.", default=8, check=lambda v: v >= 3)
    rejectSigma = Field[float](
        doc="Reject matches whose residual exceeds this many times the RMS.",
        default=3.0,
        check=lambda v: v > 0,
    )
    sourceSelector = sourceSelectorRegistry.makeField(
        doc="How to select the sources to match (calibrateImage rejects flagged ones).", default="science"
    )
    rotation = Field[float](doc="Camera rotation on the sky (degrees) for the initial WCS.", default=0.0)
    wcsFitter = ChoiceField[str](
        doc="How the WCS is fitted.",
        default="linear",
        allowed={
            "linear": "fitTanSipWcs: linear least squares in the tangent plane (fast)",
            "astropy": "astropy.wcs.utils.fit_wcs_from_points (about 1 s per SIP fit)",
            "radial": "fitRadialWcs: TAN plus one radial distortion coefficient about the optical axis "
            "(needs run's opticalAxis; calibrateImage's choice, as Rubin's affine fit on a camera model)",
        },
    )

    def setDefaults(self) -> None:
        super().setDefaults()
        # As Rubin's RefMatchConfig.setDefaults: match only sources with a PSF-flux S/N above 40.
        selector = self.sourceSelector["science"]
        selector.doSignalToNoise = True
        selector.signalToNoise.minimum = 40.0


class AstrometryTask(Task):
    """Match a star catalog to a reference catalog and fit the WCS.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.Task` (``config``, ``name``, ``parentTask``...).

    Examples
    --------
    >>> task = AstrometryTask()
    >>> task.config.matchRadius
    0.5
    """

    ConfigClass = AstrometryConfig
    _DefaultName = "astrometricSolver"
    config: AstrometryConfig
    sourceSelector: ScienceSourceSelectorTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.makeSubtask("sourceSelector")

    def run(
        self,
        stars: Any,
        refCat: Any,
        *,
        initialWcs: Any,
        bbox: Any,
        opticalAxis: tuple[float, float] | None = None,
    ) -> Struct:
        """Fit the WCS of an image from its stars.

        Parameters
        ----------
        stars
            `astropy.table.Table` with ``x``, ``y`` (pixels), ``psfFlux_instFlux`` and
            ``psfFlux_instFluxErr`` (and the columns ``sourceSelector`` tests); only the rows it
            selects are matched, and not the deblended parents (``deblend_nChild > 0``).
        refCat
            Reference catalog table with ``coord_ra``, ``coord_dec`` (degrees).
        initialWcs
            Starting `astropy.wcs.WCS` (0-based pixels), e.g. from `makeInitialWcs`.
        bbox
            The image's `lsst.images.Box`.
        opticalAxis
            Pixel position (in ``bbox``'s frame) of the optical axis, for ``wcsFitter="radial"``.

        Returns
        -------
        result
            ``wcs`` (`astropy.wcs.WCS`), ``matches`` (table: star index, row in ``refCat``,
            separation in arcsec), ``scatter`` (RMS of the match separations, arcsec), ``offset`` (pixels
            found by the matcher, x and y).

        Raises
        ------
        AstrometryError
            If fewer than ``minMatches`` stars match.
        """
        import astropy.units as u
        from astropy.coordinates import SkyCoord
        from astropy.table import Table
        from astropy.wcs.utils import fit_wcs_from_points
        from scipy.spatial import cKDTree

        cfg = self.config
        x0, y0 = bbox.x.start, bbox.y.start
        sx = np.asarray(stars["x"], float) - x0
        sy = np.asarray(stars["y"], float) - y0
        usable = np.isfinite(sx) & np.isfinite(sy) & self.sourceSelector.run(stars).selected
        if "deblend_nChild" in stars.colnames:
            # A deblended parent is its children's sum: match the children, not the parent too.
            usable &= np.asarray(stars["deblend_nChild"]) == 0
        ref_ra = np.asarray(refCat["coord_ra"], float)
        ref_dec = np.asarray(refCat["coord_dec"], float)
        refSky = SkyCoord(ref_ra * u.deg, ref_dec * u.deg)
        scale = float(np.sqrt(abs(np.linalg.det(initialWcs.pixel_scale_matrix)))) * 3600.0  # arcsec/pixel
        maxOff = cfg.maxOffset / scale
        ny, nx = bbox.shape
        crpix = ((nx - 1) / 2.0, (ny - 1) / 2.0)
        # Only references near the detector: SIP inverses diverge far outside it.
        centre = initialWcs.pixel_to_world(*crpix)
        near_det = refSky.separation(centre).arcsec < (0.5 * math.hypot(nx, ny) * scale + 2 * cfg.maxOffset)
        refCat = refCat[near_det]
        near_idx = np.flatnonzero(near_det)  # rows of the caller's catalog
        ref_ra, ref_dec = ref_ra[near_det], ref_dec[near_det]
        refSky = refSky[near_det]
        rx, ry = initialWcs.world_to_pixel(refSky)
        inside = (rx > -maxOff) & (rx < nx + maxOff) & (ry > -maxOff) & (ry < ny + maxOff)
        # --- offset by voting over pairwise differences of the brightest stars and references.
        flux = np.asarray(stars["psfFlux_instFlux"], float)
        bright = np.flatnonzero(usable)[np.argsort(-flux[usable])][: cfg.nBrightest]
        ref_inside = np.flatnonzero(inside)
        ref_flux_col = next((c for c in refCat.colnames if c.endswith("_flux")), None)
        if ref_flux_col is not None:
            ref_inside = ref_inside[np.argsort(-np.asarray(refCat[ref_flux_col], float)[ref_inside])]
        ref_bright = ref_inside[: 2 * cfg.nBrightest]
        if bright.size < cfg.minMatches or ref_bright.size < cfg.minMatches:
            raise AstrometryError(min(bright.size, ref_bright.size), cfg.minMatches)
        dx = (sx[bright][:, None] - rx[ref_bright][None, :]).ravel()
        dy = (sy[bright][:, None] - ry[ref_bright][None, :]).ravel()
        binw = 2.0
        nb = int(2 * math.ceil(maxOff / binw))
        hist, xe, ye = np.histogram2d(dx, dy, bins=nb, range=[[-maxOff, maxOff], [-maxOff, maxOff]])
        # Smooth by summing 2x2 neighbours so an offset on a bin edge still wins.
        hs = hist[:-1, :-1] + hist[1:, :-1] + hist[:-1, 1:] + hist[1:, 1:]
        i, j = np.unravel_index(np.argmax(hs), hs.shape)
        offx, offy = xe[i + 1], ye[j + 1]
        near = (np.abs(dx - offx) < 2 * binw) & (np.abs(dy - offy) < 2 * binw)
        if near.sum() >= 3:
            offx, offy = float(np.median(dx[near])), float(np.median(dy[near]))
        self.log.debug("Matcher offset (%.2f, %.2f) pixels from %d votes", offx, offy, int(near.sum()))
        # --- iterate: match, fit, tighten the radius.
        wcs = initialWcs
        shift = np.array([offx, offy])
        matches = None
        radii = [max(3.0 * scale, cfg.matchRadius * 4), cfg.matchRadius * 2, cfg.matchRadius]
        for radius_arcsec in radii:
            rx, ry = wcs.world_to_pixel(refSky)
            rpos = np.column_stack([rx + shift[0], ry + shift[1]])
            tree = cKDTree(rpos[inside])
            idx_star = np.flatnonzero(usable)
            dist, j = tree.query(
                np.column_stack([sx[idx_star], sy[idx_star]]), distance_upper_bound=radius_arcsec / scale
            )
            ok = np.isfinite(dist)
            s_idx = idx_star[ok]
            r_idx = np.flatnonzero(inside)[j[ok]]
            # One reference per star: keep the closest star for references matched twice.
            order = np.argsort(dist[ok])
            _, first = np.unique(r_idx[order], return_index=True)
            keep = order[first]
            s_idx, r_idx = s_idx[keep], r_idx[keep]
            if s_idx.size < cfg.minMatches:
                raise AstrometryError(int(s_idx.size), cfg.minMatches)
            # SIP needs (order + 1)(order + 2) / 2 - 3 coefficients per axis, plus the linear six:
            # fitted only with at least twice that many matches (each gives two equations).
            nParams = (cfg.sipOrder + 1) * (cfg.sipOrder + 2) - 6 + 6
            sip = cfg.sipOrder if (cfg.sipOrder and s_idx.size >= nParams) else None
            for _ in range(3):
                if cfg.wcsFitter == "radial" and opticalAxis is not None:
                    wcs = fitRadialWcs(
                        sx[s_idx],
                        sy[s_idx],
                        ref_ra[r_idx],
                        ref_dec[r_idx],
                        crpix=crpix,
                        crval=tuple(wcs.wcs.crval),
                        opticalAxis=(opticalAxis[0] - x0, opticalAxis[1] - y0),
                        shape=(ny, nx),
                        sipOrder=cfg.sipOrder or 3,
                    )
                elif cfg.wcsFitter in ("linear", "radial"):
                    wcs = fitTanSipWcs(
                        sx[s_idx],
                        sy[s_idx],
                        ref_ra[r_idx],
                        ref_dec[r_idx],
                        crpix=crpix,
                        crval=tuple(wcs.wcs.crval),
                        sipOrder=sip or 0,
                    )
                else:
                    wcs = fit_wcs_from_points(
                        (sx[s_idx], sy[s_idx]), refSky[r_idx], projection="TAN", sip_degree=sip
                    )
                sep = wcs.pixel_to_world(sx[s_idx], sy[s_idx]).separation(refSky[r_idx]).arcsec
                rms = float(np.sqrt(np.mean(sep**2)))
                good = sep <= max(cfg.rejectSigma * rms, 1e-3)
                if good.all() or good.sum() < cfg.minMatches:
                    break
                s_idx, r_idx = s_idx[good], r_idx[good]
            sep = wcs.pixel_to_world(sx[s_idx], sy[s_idx]).separation(refSky[r_idx]).arcsec
            shift = np.zeros(2)
            matches = Table({"star_index": s_idx, "ref_index": near_idx[r_idx], "separation": sep * u.arcsec})
        assert matches is not None
        scatter = float(np.sqrt(np.mean(np.asarray(matches["separation"]) ** 2)))
        # Report in the image's own coordinates (bbox origin), as the rest of the pipeline does.
        if x0 or y0:
            wcs.wcs.crpix = wcs.wcs.crpix + np.array([x0, y0])
        self.log.info(
            "Astrometry: %d matches, scatter %.4f arcsec, matcher offset (%.1f, %.1f) pixels",
            len(matches),
            scatter,
            offx,
            offy,
        )
        return Struct(wcs=wcs, matches=matches, scatter=scatter, offset=(offx, offy))
