"""Single-frame source measurement, mirroring ``lsst.meas.base.SingleFrameMeasurementTask``.

Plugins, each a vectorized pass over postage stamps of all sources at once:

- centroid and shape: Gaussian-weighted adaptive moments (the algorithm of ``ext_shapeHSM`` /
  ``base_SdssShape``: iterate the weight to twice the measured moments until it matches the
  source).  Hand-written because photutils' ``SourceCatalog`` gives unweighted moments, which
  noise makes unusable for faint stars.
- PSF flux: linear least-squares amplitude of the PSF model at the centroid (``base_PsfFlux``).
- star/galaxy separation: ``sizeExtendedness_value`` from the moments' trace against the PSF's
  (``base_ClassificationSizeExtendedness``).
- aperture fluxes: ``photutils.aperture.aperture_photometry`` in circles of ``apertureRadii``
  pixels (``base_CircularApertureFlux_12_0`` ...: column ``apFlux_12_0_instFlux``).
- pixel flags: saturated or cosmic-ray pixels in the source's centre (``base_PixelFlags``).
"""

from __future__ import annotations

__all__ = (
    "SingleFrameMeasurementConfig",
    "SingleFrameMeasurementTask",
    "adaptiveMoments",
    "apertureFluxName",
    "extractStamps",
    "psfFitCentroid",
    "sizeExtendedness",
)

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import Config, Field, ListField
from lsst.pipe.base import Struct, Task

if TYPE_CHECKING:
    from .deblend import HeavyFootprint


def apertureFluxName(radius: float) -> str:
    """Return the column prefix of a circular-aperture flux (Rubin's ``base_CircularApertureFlux_12_0``).

    Parameters
    ----------
    radius
        The aperture radius in pixels.

    Returns
    -------
    name
        ``apFlux_<integer part>_<tenths>``.

    Examples
    --------
    >>> apertureFluxName(12.0), apertureFluxName(4.5)
    ('apFlux_12_0', 'apFlux_4_5')
    """
    return f"apFlux_{int(radius)}_{int(round((radius - int(radius)) * 10))}"


def sizeExtendedness(trace: np.ndarray, psfTrace: float) -> np.ndarray:
    """Return ``base_ClassificationSizeExtendedness``: 0 for a star, near 1 for a galaxy.

    ``1 - exp(-chi**2 / 2)`` with ``chi = (trace - psfTrace) / sqrt(psfTrace)``, comparing a
    source's moments trace (``ixx + iyy``) with the PSF's.

    Parameters
    ----------
    trace
        The sources' ``ixx + iyy`` (pixels squared).
    psfTrace
        The PSF's.

    Returns
    -------
    value
        One value per source.

    Examples
    --------
    >>> import numpy as np
    >>> sizeExtendedness(np.array([8.0, 16.0]), 8.0).round(3).tolist()
    [0.0, 0.982]
    """
    return 1 - np.exp(-0.5 * ((trace - psfTrace) / math.sqrt(psfTrace)) ** 2)


def extractStamps(
    array: np.ndarray, x: np.ndarray, y: np.ndarray, half: int, fill: float = 0.0
) -> np.ndarray:
    """Cut ``(2*half+1)``-pixel square stamps centred on integer pixels ``(y, x)``, as one array.

    Parameters
    ----------
    array
        The image.
    x, y
        Integer centres (array coordinates).
    half
        Half-size of the stamps.
    fill
        Value of pixels that fall outside the image.

    Returns
    -------
    stamps
        Array of shape ``(len(x), 2*half+1, 2*half+1)``.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(25.0).reshape(5, 5)
    >>> extractStamps(a, np.array([0]), np.array([2]), 1)[0].tolist()
    [[0.0, 5.0, 6.0], [0.0, 10.0, 11.0], [0.0, 15.0, 16.0]]
    """
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    ny, nx = array.shape
    d = np.arange(-half, half + 1)
    yy = y[:, None, None] + d[None, :, None]
    xx = x[:, None, None] + d[None, None, :]
    stamps = array[np.clip(yy, 0, ny - 1), np.clip(xx, 0, nx - 1)]
    outside = (yy < 0) | (yy >= ny) | (xx < 0) | (xx >= nx)
    if outside.any():
        stamps = np.where(outside, np.asarray(fill, dtype=stamps.dtype), stamps)
    return stamps


def adaptiveMoments(stamps: np.ndarray, sigma0: float, niter: int = 10) -> Struct:
    """Gaussian-weighted adaptive moments of many stamps at once.

    Parameters
    ----------
    stamps
        ``(n, S, S)`` background-subtracted stamps, each centred near its source.
    sigma0
        Starting weight sigma (pixels).
    niter
        Iterations (the weight converges to the source's own second moments).

    Returns
    -------
    result
        ``dx``, ``dy`` (centroid offsets from the stamp centre), ``ixx``, ``iyy``, ``ixy``
        (second moments, pixels squared), ``flag`` (did not converge or non-positive).

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[-12:13, -12:13]
    >>> star = np.exp(-((x - 0.3) ** 2 + y**2) / (2 * 2.5**2))[None]
    >>> m = adaptiveMoments(star, 2.0)
    >>> round(float(m.dx[0]), 3), round(float(m.ixx[0]), 2), round(float(m.iyy[0]), 2)
    (0.3, 6.25, 6.25)
    """
    n, size, _ = stamps.shape
    half = size // 2
    d = np.arange(-half, half + 1, dtype=np.float64)
    X0 = d[None, None, :]
    Y0 = d[None, :, None]
    dx = np.zeros(n)
    dy = np.zeros(n)
    wxx = np.full(n, sigma0**2)
    wyy = np.full(n, sigma0**2)
    wxy = np.zeros(n)
    flag = np.zeros(n, dtype=bool)
    maxvar = (half / 1.5) ** 2
    for _ in range(niter):
        X = X0 - dx[:, None, None]
        Y = Y0 - dy[:, None, None]
        det = wxx * wyy - wxy**2
        det = np.where(det > 0, det, np.nan)
        a, b, c = (wyy / det)[:, None, None], (-wxy / det)[:, None, None], (wxx / det)[:, None, None]
        w = np.exp(-0.5 * ((a * X * X + c * Y * Y) + 2 * b * X * Y))
        iw = stamps * w
        # X varies along columns only and Y along rows only, so the moments are sums of the
        # weighted stamp's column sums and row sums: two full-stamp products instead of six.
        cols = iw.sum(axis=1)  # (n, S): sum over y, a function of x
        rows = iw.sum(axis=2)  # (n, S): sum over x, a function of y
        x1, y1 = X[:, 0, :], Y[:, :, 0]
        s0 = cols.sum(axis=1)
        ok = s0 > 0
        s0 = np.where(ok, s0, np.nan)
        mx = (cols * x1).sum(axis=1) / s0
        my = (rows * y1).sum(axis=1) / s0
        mxx = (cols * x1 * x1).sum(axis=1) / s0
        myy = (rows * y1 * y1).sum(axis=1) / s0
        mxy = ((iw * Y).sum(axis=1) * x1).sum(axis=1) / s0
        dx = np.clip(np.nan_to_num(dx + mx), -half / 2, half / 2)
        dy = np.clip(np.nan_to_num(dy + my), -half / 2, half / 2)
        new_xx, new_yy, new_xy = 2 * mxx, 2 * myy, 2 * mxy
        good = ok & (new_xx > 0.05) & (new_yy > 0.05) & (new_xx * new_yy > new_xy**2)
        good &= (new_xx < maxvar) & (new_yy < maxvar)
        wxx = np.where(good, new_xx, wxx)
        wyy = np.where(good, new_yy, wyy)
        wxy = np.where(good, new_xy, wxy)
        flag = ~good
    return Struct(dx=dx, dy=dy, ixx=wxx, iyy=wyy, ixy=wxy, flag=flag)


def psfFitCentroid(
    stamps: np.ndarray,
    valid: np.ndarray,
    psfSigma: float,
    dx0: np.ndarray,
    dy0: np.ndarray,
    niter: int = 8,
) -> Struct:
    """Centroids from a least-squares fit of a circular Gaussian PSF to the valid pixels of stamps.

    Used for stars cut by the detector's edge, whose moments are biased towards the image; the
    fit ignores the missing pixels.  Gauss-Newton on (amplitude, dx, dy), vectorized over stamps.

    Parameters
    ----------
    stamps
        ``(n, S, S)`` background-subtracted stamps.
    valid
        ``(n, S, S)`` booleans: pixels that exist.
    psfSigma
        PSF Gaussian sigma (pixels).
    dx0, dy0
        Starting offsets from the stamp centre.
    niter
        Gauss-Newton iterations.

    Returns
    -------
    result
        ``dx``, ``dy`` (offsets from the stamp centre), ``flux``.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[-12:13, -12:13]
    >>> star = 100 * np.exp(-((x - 0.4) ** 2 + (y + 9.5) ** 2) / (2 * 1.5**2)) / (2 * np.pi * 1.5**2)
    >>> valid = (y >= -10)[None]  # the stamp's first two rows are off the detector
    >>> fit = psfFitCentroid(star[None] * valid, valid, 1.5, np.array([0.0]), np.array([-8.0]))
    >>> round(float(fit.dx[0]), 3), round(float(fit.dy[0]), 3), round(float(fit.flux[0]), 1)
    (0.4, -9.5, 100.0)
    """
    n, size, _ = stamps.shape
    half = size // 2
    d = np.arange(-half, half + 1, dtype=np.float64)
    w = valid.astype(np.float64)
    data = np.where(valid, stamps, 0.0)
    dx = np.asarray(dx0, dtype=np.float64).copy()
    dy = np.asarray(dy0, dtype=np.float64).copy()
    norm = 1.0 / (2 * math.pi * psfSigma**2)
    flux = np.zeros(n)
    for _ in range(niter):
        X = d[None, None, :] - dx[:, None, None]
        Y = d[None, :, None] - dy[:, None, None]
        g = np.exp(-(X * X + Y * Y) / (2 * psfSigma**2)) * norm * w
        gg = (g * g).sum(axis=(1, 2))
        flux = np.where(gg > 0, (data * g).sum(axis=(1, 2)) / np.where(gg > 0, gg, 1.0), 0.0)
        resid = data - flux[:, None, None] * g
        # Derivatives of the model with respect to dx and dy.
        jx = flux[:, None, None] * g * X / psfSigma**2
        jy = flux[:, None, None] * g * Y / psfSigma**2
        a = (jx * jx).sum(axis=(1, 2))
        b = (jx * jy).sum(axis=(1, 2))
        c = (jy * jy).sum(axis=(1, 2))
        rx = (jx * resid).sum(axis=(1, 2))
        ry = (jy * resid).sum(axis=(1, 2))
        det = a * c - b * b
        ok = (flux > 0) & (det > 0)
        safe = np.where(ok, det, 1.0)
        stepx = np.where(ok, (c * rx - b * ry) / safe, 0.0)
        stepy = np.where(ok, (a * ry - b * rx) / safe, 0.0)
        dx = np.clip(dx + np.clip(stepx, -1, 1), -half, half)
        dy = np.clip(dy + np.clip(stepy, -1, 1), -half, half)
    return Struct(dx=dx, dy=dy, flux=flux)


class SingleFrameMeasurementConfig(Config):
    """Configuration for `SingleFrameMeasurementTask`."""

    stampHalfSize = Field[int](
        doc="Half-size of the measurement stamps (pixels).", default=12, check=lambda v: v >= 3
    )
    apertureRadii = ListField[float](
        doc="Radii (pixels) of the circular-aperture fluxes, as base_CircularApertureFlux's radii "
        "(Rubin's default is 3 to 70 pixels; calibrateImage measures 12 only).",
        default=[12.0],
    )
    doApertureFlux = Field[bool](doc="Measure the circular-aperture flux (photutils).", default=True)
    compensatedApertures = ListField[int](
        doc="Radii (pixels) of the compensated top-hat fluxes (base_CompensatedTophatFlux's apertures): "
        "the aperture sum less its area times the mean of a surrounding annulus, so an error in the "
        "subtracted sky cancels.  Empty: none.",
        default=[12],
    )
    inner_scale = Field[float](
        doc="Inner radius of the compensating annulus, in aperture radii.",
        default=1.0,
        check=lambda v: v >= 1,
    )
    outer_scale = Field[float](
        doc="Outer radius of the compensating annulus, in aperture radii.", default=1.7, check=lambda v: v > 1
    )


class SingleFrameMeasurementTask(Task):
    """Measure centroids, shapes, PSF and aperture fluxes of detected sources.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> y, x = np.mgrid[0:64, 0:64]
    >>> image = 1000 * np.exp(-((x - 30.2) ** 2 + (y - 20) ** 2) / (2 * 2.0**2)) / (2 * np.pi * 4)
    >>> sources = Table({"id": [1], "x": [30], "y": [20]})
    >>> cat = SingleFrameMeasurementTask().run(image, np.ones_like(image), sources, psfSigma=2.0).catalog
    >>> round(float(cat["x"][0]), 2), round(float(cat["psfFlux_instFlux"][0]))
    (30.2, 1000)
    """

    ConfigClass = SingleFrameMeasurementConfig
    _DefaultName = "measurement"
    config: SingleFrameMeasurementConfig

    def run(
        self,
        imageArray: np.ndarray,
        varianceArray: np.ndarray,
        sources: Any,
        *,
        psfSigma: float,
        errorArray: np.ndarray | None = None,
        psfShapeSigma: float | None = None,
        saturatedArray: np.ndarray | None = None,
        crArray: np.ndarray | None = None,
        edgeArray: np.ndarray | None = None,
        detectedArray: np.ndarray | None = None,
        footprintLabels: np.ndarray | None = None,
        x0: int = 0,
        y0: int = 0,
        heavyFootprints: Mapping[int, HeavyFootprint] | None = None,
    ) -> Struct:
        """Measure each source of ``sources`` (columns ``id``, ``x``, ``y``: peak pixel).

        Parameters
        ----------
        imageArray
            Background-subtracted image.
        varianceArray
            Its variance.
        sources
            `astropy.table.Table` of detections (array coordinates).
        psfSigma
            PSF Gaussian sigma (pixels) for the PSF flux.
        errorArray
            The per-pixel noise, ``sqrt(varianceArray)`` (photutils' ``error``), for the aperture
            fluxes' errors, if the caller has it already (`CalibrateImageTask` takes the square root
            once for its three measurements); taken here otherwise.
        psfShapeSigma
            The PSF's adaptive-moment size (pixels), for ``sizeExtendedness_value`` (Rubin's PSF
            moments slot); defaults to ``psfSigma``.
        saturatedArray
            Boolean array of saturated pixels (sets ``flag_saturated``).
        crArray
            Boolean array of cosmic-ray pixels (sets ``flag_cr``).
        edgeArray
            Boolean array of the unusable border (``DETECTION_EDGE``): ``flag_edge`` is set where it
            holds the source's peak pixel (Rubin's ``base_PixelFlags_flag_edge``).  Without it,
            sources whose stamp leaves the image are flagged.
        detectedArray
            Boolean array of detected pixels (``DETECTED``), left out of the compensated fluxes'
            annuli.
        footprintLabels
            Detection's footprint labels (each source's pixels hold its ``id``): the aperture fluxes
            are then measured with every other footprint set to the background, Rubin's
            ``NoiseReplacer`` without the noise (one cut-out per source: for the few PSF stars).
        x0, y0
            Origin of the image's bounding box: added to the output positions.
        heavyFootprints
            Deblended children by ``id`` (`SourceDeblendTask`): a child is measured on a copy of the
            image where its parent's footprint holds the child's pixels only, so its neighbours
            do not bias it (the job of Rubin's ``NoiseReplacer``).

        Returns
        -------
        result
            ``catalog``: `astropy.table.Table` with ``id, x, y, xErr, yErr, ixx, iyy, ixy,
            psfFlux_instFlux, psfFlux_instFluxErr, psfFlux_flag, apFlux_12_0_instFlux,
            apFlux_12_0_instFluxErr, compFlux_12_instFlux, compFlux_12_instFluxErr, snr,
            sizeExtendedness_value, flag_shape, flag_saturated, flag_cr, flag_edge`` (fluxes in image
            units).
        """
        from astropy.table import Table

        half = self.config.stampHalfSize
        shapeSigma = psfSigma if psfShapeSigma is None else psfShapeSigma
        xi = np.asarray(sources["x"], dtype=np.int64)
        yi = np.asarray(sources["y"], dtype=np.int64)
        n = len(xi)
        ny, nx = imageArray.shape
        stamps = extractStamps(imageArray, xi, yi, half).astype(np.float64)
        vstamps = extractStamps(varianceArray, xi, yi, half, fill=np.inf).astype(np.float64)
        ids = np.asarray(sources["id"], dtype=np.int64)
        deblended = np.zeros(n, dtype=bool)
        if heavyFootprints:
            for i in np.flatnonzero(np.isin(ids, list(heavyFootprints))):
                heavyFootprints[int(ids[i])].insert(stamps[i], int(xi[i]) - half, int(yi[i]) - half)
                deblended[i] = True
        mom = adaptiveMoments(stamps, psfSigma)
        edge = (xi < half) | (yi < half) | (xi >= nx - half) | (yi >= ny - half)
        valid = np.isfinite(vstamps)
        if edge.any():
            # Moments of a star cut by the detector's edge are pulled inwards (the missing half
            # weighs zero); fit the PSF to the pixels that exist instead.
            fit = psfFitCentroid(stamps[edge], valid[edge], psfSigma, mom.dx[edge], mom.dy[edge])
            mom.dx[edge], mom.dy[edge] = fit.dx, fit.dy
        xc = xi + mom.dx
        yc = yi + mom.dy
        # PSF flux: least-squares amplitude of the unit-flux PSF at the measured centroid, over
        # the pixels that exist.
        d = np.arange(-half, half + 1, dtype=np.float64)
        X = d[None, None, :] - mom.dx[:, None, None]
        Y = d[None, :, None] - mom.dy[:, None, None]
        psf = np.exp(-(X * X + Y * Y) / (2 * psfSigma**2)) / (2 * math.pi * psfSigma**2)
        psf = np.where(valid, psf, 0.0)
        sum_pp = (psf * psf).sum(axis=(1, 2))
        psfFlux = (stamps * psf).sum(axis=(1, 2)) / sum_pp
        with np.errstate(invalid="ignore"):
            psfFluxErr = np.sqrt((psf * psf * np.where(valid, vstamps, 0)).sum(axis=(1, 2))) / sum_pp
        snr = np.where(psfFluxErr > 0, psfFlux / psfFluxErr, 0.0)
        # Centroid error of a Gaussian source: sigma * sqrt(2) / SNR.
        posErr = np.where(snr > 0, math.sqrt(2) * psfSigma / np.maximum(snr, 1e-3), np.nan)
        catalog = Table(
            {
                "id": np.asarray(sources["id"], dtype=np.int64),
                "x": xc + x0,
                "y": yc + y0,
                "xErr": posErr,
                "yErr": posErr,
                "ixx": mom.ixx,
                "iyy": mom.iyy,
                "ixy": mom.ixy,
                "psfFlux_instFlux": psfFlux,
                "psfFlux_instFluxErr": psfFluxErr,
                "psfFlux_flag": ~np.isfinite(psfFlux) | ~(psfFluxErr > 0),
                "snr": snr,
                # base_ClassificationSizeExtendedness: 1 - exp(-chi^2 / 2), chi the excess of the
                # moments' trace over the PSF's in units of sqrt(T_psf).
                "sizeExtendedness_value": sizeExtendedness(mom.ixx + mom.iyy, 2 * shapeSigma**2),
                "flag_shape": mom.flag,
                "flag_edge": edge if edgeArray is None else np.asarray(edgeArray)[yi, xi],
            }
        )
        for flag, pixels in (("flag_saturated", saturatedArray), ("flag_cr", crArray)):
            # Any flagged pixel in the central 5 x 5 pixels.
            core = extractStamps(pixels, xi, yi, 2, fill=False) if pixels is not None and n else None
            catalog[flag] = core.any(axis=(1, 2)) if core is not None else np.zeros(n, dtype=bool)
        if self.config.doApertureFlux:
            if errorArray is None:
                errorArray = np.sqrt(np.maximum(varianceArray, 0)) if n else varianceArray
            for r in self.config.apertureRadii:
                flux, fluxErr = self._apertureFlux(
                    imageArray, errorArray, xc, yc, r, ids, deblended, heavyFootprints, footprintLabels
                )
                name = apertureFluxName(r)
                catalog[f"{name}_instFlux"] = flux
                catalog[f"{name}_instFluxErr"] = fluxErr
            for r in self.config.compensatedApertures:
                inner = self._apertureFlux(
                    imageArray, errorArray, xc, yc, r, ids, deblended, heavyFootprints, footprintLabels
                )
                flux, fluxErr = self._compensatedFlux(imageArray, errorArray, xc, yc, r, detectedArray, inner)
                catalog[f"compFlux_{r}_instFlux"] = flux
                catalog[f"compFlux_{r}_instFluxErr"] = fluxErr
        self.log.info("Measured %d sources", n)
        return Struct(catalog=catalog)

    @staticmethod
    def _apertureFlux(
        imageArray: np.ndarray,
        errorArray: np.ndarray,
        xc: np.ndarray,
        yc: np.ndarray,
        r: float,
        ids: np.ndarray,
        deblended: np.ndarray,
        heavyFootprints: Mapping[int, HeavyFootprint] | None,
        footprintLabels: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sum circular apertures (``photutils``); a deblended child's on a cut-out of its own pixels.

        With ``footprintLabels``, every source's aperture is summed on a cut-out where the pixels of
        the other footprints are set to the background (0).
        """
        from photutils.aperture import CircularAperture, aperture_photometry

        if not len(xc):
            return np.zeros(0), np.zeros(0)
        phot = aperture_photometry(
            imageArray, CircularAperture(np.column_stack([xc, yc]), r=r), error=errorArray
        )
        flux = np.asarray(phot["aperture_sum"], dtype=np.float64)
        fluxErr = np.asarray(phot["aperture_sum_err"], dtype=np.float64)
        ny, nx = imageArray.shape
        rr = int(math.ceil(r)) + 1
        alone = np.flatnonzero(deblended) if footprintLabels is None else np.arange(len(xc))
        for i in alone:
            cx, cy = int(round(xc[i])), int(round(yc[i]))
            ya, yb, xa, xb = max(cy - rr, 0), min(cy + rr + 1, ny), max(cx - rr, 0), min(cx + rr + 1, nx)
            cut = np.array(imageArray[ya:yb, xa:xb], dtype=np.float64)
            if footprintLabels is not None:
                others = footprintLabels[ya:yb, xa:xb]
                neighbours = (others > 0) & (others != ids[i])
                if not neighbours.any() and not deblended[i]:
                    continue  # nothing to take out: the whole-image sum stands
                cut[neighbours] = 0.0
            if deblended[i]:
                heavyFootprints[int(ids[i])].insert(cut, xa, ya)  # type: ignore[index]
            one = aperture_photometry(
                cut, CircularAperture((xc[i] - xa, yc[i] - ya), r=r), error=errorArray[ya:yb, xa:xb]
            )
            flux[i] = float(one["aperture_sum"][0])
            fluxErr[i] = float(one["aperture_sum_err"][0])
        return flux, fluxErr

    def _compensatedFlux(
        self,
        imageArray: np.ndarray,
        errorArray: np.ndarray,
        xc: np.ndarray,
        yc: np.ndarray,
        r: float,
        detectedArray: np.ndarray | None,
        inner: tuple[np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Aperture sum (``inner``: flux and error) less its area times the annulus mean (``photutils``).

        The annulus mean leaves out detected pixels (Rubin measures with every other source replaced
        by noise, ``NoiseReplacer``), unless they fill nine tenths of it.
        """
        from photutils.aperture import CircularAnnulus, CircularAperture, aperture_photometry

        if not len(xc):
            return np.zeros(0), np.zeros(0)
        positions = np.column_stack([xc, yc])
        aperture = CircularAperture(positions, r=r)
        annulus = CircularAnnulus(
            positions, r_in=self.config.inner_scale * r, r_out=self.config.outer_scale * r
        )
        ring = aperture_photometry(imageArray, annulus, error=errorArray)
        ringSum = np.asarray(ring["aperture_sum"], float)
        ringArea = np.full(len(xc), annulus.area)
        if detectedArray is not None:
            clear = aperture_photometry(imageArray, annulus, mask=detectedArray)
            clearArea = np.asarray(
                aperture_photometry((~detectedArray).astype(np.float32), annulus)["aperture_sum"], float
            )
            enough = clearArea > 0.1 * annulus.area
            ringSum = np.where(enough, np.asarray(clear["aperture_sum"], float), ringSum)
            ringArea = np.where(enough, clearArea, ringArea)
        scale = aperture.area / ringArea
        flux = inner[0] - scale * ringSum
        fluxErr = np.hypot(
            inner[1],
            scale * np.asarray(ring["aperture_sum_err"], float) * np.sqrt(ringArea / annulus.area),
        )
        return flux, fluxErr
