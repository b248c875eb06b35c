"""PSF determination, mirroring ``lsst.meas.algorithms.MeasurePsfTask``.

Select bright, isolated, unsaturated, star-like sources (``starSelector``-style cuts on S/N,
flags and size), and fit the PSF: here a circular Gaussian, written as
`lsst.images.psfs.GaussianPointSpreadFunction` (one of the PSF types a VisitImage can store).
Rubin fits PSFEx or Piff models, which follow the stars' real profile; a Gaussian cannot match
both the width and the wings of a non-Gaussian PSF.  With ``doFitFwhm`` (and the image given) its
sigma makes its FWHM the stars' median half-maximum width (`measureFwhm`); otherwise, and in
``psfShapeSigma`` always, it is the sigma-clipped median of the stars' adaptive-moment sizes.  The
two agree for a Gaussian PSF; for a Moffat (beta 3.5) the moments are 11 per cent wider.
"""

from __future__ import annotations

__all__ = ("MeasurePsfConfig", "MeasurePsfTask", "PsfFitError", "measureFwhm")

import math
from typing import Any

import numpy as np
from lsst.pex.config import Config, Field
from lsst.pipe.base import AlgorithmError, Struct, Task

from .._exceptions import PipelineError


class PsfFitError(PipelineError, AlgorithmError):
    """Too few PSF stars to measure the PSF.

    Parameters
    ----------
    nStars
        Stars that passed the cuts.
    nNeeded
        The configured minimum (``minStars``).
    """

    def __init__(self, nStars: int, nNeeded: int) -> None:
        self.nStars = nStars
        self.nNeeded = nNeeded
        super().__init__(
            f"Only {nStars} PSF candidate stars passed the cuts; at least {nNeeded} are needed. "
            "Lower psf_measure_psf.minSnr or check the image."
        )

    @property
    def metadata(self) -> dict:
        return {"nStars": self.nStars, "nNeeded": self.nNeeded}


def measureFwhm(stamp: np.ndarray, dx: float, dy: float) -> float:
    """Measure a star's full width at half maximum from its pixels.

    ``ln I`` is fitted as a quadratic in ``r**2`` (the pixels above a quarter of the peak, weighted
    by their value: a Gaussian's is a straight line, a Moffat's is bent), and the FWHM is where the
    fit falls by ``ln 2``.  Hand-written: ``photutils``' ``fwhm`` (``SourceCatalog.fwhm``) comes from
    the second moments, which a Moffat's wings widen; ``astropy.modeling`` fits a profile per star
    with a non-linear optimizer, a hundred times slower.

    Parameters
    ----------
    stamp
        Background-subtracted square stamp centred (to a pixel) on the star.
    dx, dy
        The star's centroid offset from the stamp's centre pixel.

    Returns
    -------
    fwhm
        Pixels (NaN if the profile does not fall to half its peak).

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[-10:11, -10:11]
    >>> round(measureFwhm(np.exp(-(x**2 + y**2) / (2 * 2.0**2)), 0.0, 0.0) / 2.0, 3)
    2.355
    """
    half = stamp.shape[0] // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    r2 = (x - dx) ** 2 + (y - dy) ** 2
    core = stamp > 0.25 * stamp.max()
    if core.sum() < 6:
        return math.nan
    c, b, a = np.polyfit(r2[core], np.log(stamp[core]), 2, w=stamp[core])
    roots = np.roots([c, b, math.log(2)])
    radii2 = roots[np.isreal(roots) & (roots.real > 0)].real
    return float(2 * math.sqrt(radii2.min())) if radii2.size else math.nan


class MeasurePsfConfig(Config):
    """Configuration for `MeasurePsfTask`."""

    doFitFwhm = Field[bool](
        doc="Give the Gaussian model the stars' FWHM (otherwise their second moments); needs the image.",
        default=True,
    )

    minSnr = Field[float](doc="Minimum PSF-flux S/N of a PSF star.", default=50.0, check=lambda v: v > 0)
    minIsolation = Field[float](
        doc="Minimum distance (pixels) to the nearest other detection.", default=15.0, check=lambda v: v >= 0
    )
    nSigmaClip = Field[float](
        doc="Clip stars whose size is this many robust sigma from the median "
        "(galaxies are larger, blends are elongated).",
        default=2.5,
        check=lambda v: v > 0,
    )
    maxEllipticity = Field[float](
        doc="Reject candidates more elongated than this (|e|).", default=0.2, check=lambda v: 0 < v <= 1
    )
    minStars = Field[int](doc="Minimum number of PSF stars.", default=5, check=lambda v: v >= 1)
    reserveFraction = Field[float](
        doc="Fraction of PSF stars kept out of the fit (for validation).",
        default=0.1,
        check=lambda v: 0 <= v < 1,
    )
    stampSize = Field[int](
        doc="Side of the PSF model's image stamps (odd; 0: 8 sigma + 1).",
        default=0,
        check=lambda v: v == 0 or (v > 0 and v % 2 == 1),
    )


class MeasurePsfTask(Task):
    """Choose PSF stars from a measured catalog and fit a Gaussian PSF.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from lsst.images import Box
    >>> n = 20
    >>> cat = Table({"x": np.linspace(10, 490, n), "y": np.linspace(10, 490, n), "ixx": np.full(n, 4.0),
    ...              "iyy": np.full(n, 4.0), "ixy": np.zeros(n), "snr": np.full(n, 200.0),
    ...              "flag_shape": np.zeros(n, bool), "flag_saturated": np.zeros(n, bool),
    ...              "flag_edge": np.zeros(n, bool)})
    >>> result = MeasurePsfTask().run(cat, bbox=Box.from_shape((500, 500)))
    >>> round(result.psf.sigma, 3)
    2.0
    """

    ConfigClass = MeasurePsfConfig
    _DefaultName = "measurePsf"
    config: MeasurePsfConfig

    def run(self, catalog: Any, *, bbox: Any, imageArray: np.ndarray | None = None) -> Struct:
        """Select PSF stars and fit the PSF.

        Parameters
        ----------
        catalog
            Measured sources (columns x, y, ixx, iyy, ixy, snr, flag_*).
        bbox
            The image's bounding box (the PSF model's bounds).
        imageArray
            The background-subtracted image, for ``doFitFwhm`` (Rubin's task gets the exposure).

        Returns
        -------
        result
            ``psf`` (`lsst.images.psfs.GaussianPointSpreadFunction`), ``psfSigma`` (its sigma),
            ``psfShapeSigma`` (the PSF stars' adaptive-moment size, what Rubin's PSF-moment
            measurements see), ``catalog`` (input plus ``calib_psf_candidate``,
            ``calib_psf_used``, ``calib_psf_reserved``).

        Raises
        ------
        PsfFitError
            If fewer than ``minStars`` stars pass the cuts.
        """
        from astropy.stats import sigma_clip
        from lsst.images.psfs import GaussianPointSpreadFunction
        from scipy.spatial import cKDTree

        cfg = self.config
        cat = catalog.copy()
        n = len(cat)
        x = np.asarray(cat["x"], float)
        y = np.asarray(cat["y"], float)
        isolated = np.ones(n, dtype=bool)
        if n > 1 and cfg.minIsolation > 0:
            dist, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)
            isolated = dist[:, 1] >= cfg.minIsolation
        ixx, iyy, ixy = (np.asarray(cat[c], float) for c in ("ixx", "iyy", "ixy"))
        with np.errstate(invalid="ignore", divide="ignore"):
            e = np.hypot(ixx - iyy, 2 * ixy) / (ixx + iyy)
        candidate = (
            (np.asarray(cat["snr"]) >= cfg.minSnr)
            & isolated
            & ~np.asarray(cat["flag_shape"], bool)
            & ~np.asarray(cat["flag_saturated"], bool)
            & ~np.asarray(cat["flag_edge"], bool)
            & (e < cfg.maxEllipticity)
        )
        size = np.sqrt(0.5 * (ixx + iyy))
        used = candidate.copy()
        if candidate.sum() >= cfg.minStars:
            clipped = sigma_clip(size[candidate], sigma=cfg.nSigmaClip, stdfunc="mad_std", maxiters=5)
            used[np.flatnonzero(candidate)[np.asarray(clipped.mask)]] = False
        reserved = np.zeros(n, dtype=bool)
        idx = np.flatnonzero(used)
        nReserve = int(cfg.reserveFraction * idx.size)
        if nReserve:
            # Deterministic: every k-th star by position in the catalog.
            reserved[idx[:: max(idx.size // nReserve, 1)][:nReserve]] = True
            used &= ~reserved
        if used.sum() < cfg.minStars:
            raise PsfFitError(int(used.sum()), cfg.minStars)
        shapeSigma = float(np.median(size[used]))
        sigma = shapeSigma
        if cfg.doFitFwhm and imageArray is not None:
            sigma = self._fwhmSigma(imageArray, x[used] - bbox.x.start, y[used] - bbox.y.start, shapeSigma)
        stamp = cfg.stampSize or 2 * int(math.ceil(4 * sigma)) + 1
        cat["calib_psf_candidate"] = candidate
        cat["calib_psf_used"] = used
        cat["calib_psf_reserved"] = reserved
        self.log.info(
            "PSF sigma %.3f pixels (FWHM %.3f) from %d stars (%d candidates, %d reserved)",
            sigma,
            sigma * 2 * math.sqrt(2 * math.log(2)),
            int(used.sum()),
            int(candidate.sum()),
            int(reserved.sum()),
        )
        return Struct(
            psf=GaussianPointSpreadFunction(sigma, bounds=bbox, stamp_size=stamp),
            psfSigma=sigma,
            psfShapeSigma=shapeSigma,
            catalog=cat,
        )

    @staticmethod
    def _fwhmSigma(imageArray: np.ndarray, x: np.ndarray, y: np.ndarray, shapeSigma: float) -> float:
        """Return the Gaussian sigma of the PSF stars' median FWHM (``shapeSigma`` if none is measurable)."""
        from .measurement import extractStamps

        half = max(int(math.ceil(3 * shapeSigma)), 3)
        xi, yi = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
        stamps = extractStamps(imageArray, xi, yi, half).astype(np.float64)
        fwhm = np.array([measureFwhm(s, dx, dy) for s, dx, dy in zip(stamps, x - xi, y - yi, strict=True)])
        fwhm = fwhm[np.isfinite(fwhm)]
        return float(np.median(fwhm)) / (2 * math.sqrt(2 * math.log(2))) if fwhm.size else shapeSigma
