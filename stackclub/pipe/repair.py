"""Cosmic-ray repair, mirroring ``lsst.pipe.tasks.repair.RepairTask`` (``doCosmicRay``, ``cosmicray``).

A cosmic ray is sharper than any star: its flux jumps from one pixel to the next by more than the
PSF allows.  ``lsst.meas.algorithms.findCosmicRays`` (C++, ``CR.cc``) flags a pixel when, for at
least one of the four directions through it (horizontal, vertical, two diagonals),

- condition 2: it is ``minSigma`` noise sigmas above the mean of its two neighbours in that
  direction, and
- condition 3: ``cond3_fac2`` times the PSF's neighbour/centre ratio in that direction, times the
  pixel less ``cond3_fac`` of its sigmas, still exceeds the neighbours' mean plus ``cond3_fac``
  of its sigmas (no star is that sharp);

then drops pixels that are bad, saturated or interpolated already (condition 4) and cosmic rays
whose total counts are below ``min_DN`` (condition 1).  `findCosmicRays` here computes the same
conditions on the pixels bright enough to qualify; the flagged pixels are grown by one (a cross),
masked ``COSMIC_RAY`` and, unless ``keepCRs``, replaced by the median of their good neighbours.
"""

from __future__ import annotations

__all__ = ("FindCosmicRaysConfig", "RepairConfig", "RepairTask", "TooManyCosmicRaysError", "findCosmicRays")

import math
import warnings

import numpy as np
from lsst.pex.config import Config, ConfigField, Field
from lsst.pipe.base import AlgorithmError, Struct, Task

from .._exceptions import PipelineError


class TooManyCosmicRaysError(PipelineError, AlgorithmError):
    """More pixels were flagged than ``cosmicray.nCrPixelMax`` (Rubin's ``TooManyCosmicRays``).

    Parameters
    ----------
    nPixels
        The number of pixels flagged.
    nCrPixelMax
        The configured maximum.
    """

    def __init__(self, nPixels: int, nCrPixelMax: int) -> None:
        self.nPixels = nPixels
        self.nCrPixelMax = nCrPixelMax
        super().__init__(
            f"Found {nPixels} cosmic-ray pixels, more than psf_repair.cosmicray.nCrPixelMax={nCrPixelMax}; "
            "is the PSF (install_simple_psf.fwhm) far too broad, or the variance plane wrong?"
        )

    @property
    def metadata(self) -> dict:
        return {"nPixels": self.nPixels, "nCrPixelMax": self.nCrPixelMax}


class FindCosmicRaysConfig(Config):
    """Configuration of `findCosmicRays` (names and defaults as ``meas_algorithms``' FindCosmicRaysConfig)."""

    nCrPixelMax = Field[int](
        doc="Maximum number of contaminated pixels.", default=1000000, check=lambda v: v > 0
    )
    minSigma = Field[float](
        doc="Cosmic-ray pixels must be this many sky sigmas above their neighbours' mean.",
        default=6.0,
        check=lambda v: v > 0,
    )
    min_DN = Field[float](
        doc="A cosmic ray must hold more than this many counts (electrons here) in all.",
        default=150.0,
        check=lambda v: v >= 0,
    )
    cond3_fac = Field[float](
        doc="Noise sigmas allowed for in condition 3 (the sharpness test against the PSF).",
        default=2.0,
        check=lambda v: v >= 0,
    )
    cond3_fac2 = Field[float](
        doc="Fraction of the PSF's neighbour/centre ratio used in condition 3.",
        default=0.35,
        check=lambda v: v > 0,
    )
    keepCRs = Field[bool](doc="Only mask the cosmic rays; do not interpolate over them.", default=False)


def findCosmicRays(
    imageArray: np.ndarray,
    varianceArray: np.ndarray,
    *,
    psfSigma: float,
    config: FindCosmicRaysConfig,
    badArray: np.ndarray | None = None,
) -> Struct:
    """Flag pixels sharper than the PSF allows (conditions 1-4 of ``findCosmicRays``).

    Only pixels at least ``minSigma / 2`` sigmas above the background are tested: a fainter
    pixel meets condition 2 only beside a 3-sigma hole in the noise, and is then far below
    ``min_DN`` (condition 1).  Their eight neighbours are gathered by index (the frame's edge
    repeats its own pixels), so the tests cost a few milliseconds instead of a dozen passes over
    the whole frame.  Hand-written: ``astroscrappy`` (LA Cosmic, a Laplacian-edge test) was tried;
    it flags differently and takes ~4 s on a full frame, and no library implements Rubin's
    neighbour tests.  The noise of a neighbour pair's mean is the pixel's own sigma over sqrt(2)
    (Rubin reads each neighbour's variance; the sky dominates both).

    Parameters
    ----------
    imageArray, varianceArray
        Background-subtracted image and its variance.
    psfSigma
        The PSF's Gaussian sigma in pixels (sets how sharp a star can be).
    config
        The thresholds.
    badArray
        Pixels that cannot be cosmic rays (bad, saturated, interpolated, no data): condition 4.

    Returns
    -------
    result
        ``ys``, ``xs`` (the flagged pixels, not grown) and ``nCosmicRays`` (their connected groups).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((8, 8), dtype=np.float32)
    >>> image[3, 4] = 500.0
    >>> found = findCosmicRays(image, np.ones_like(image), psfSigma=2.0, config=FindCosmicRaysConfig())
    >>> found.ys.tolist(), found.xs.tolist(), found.nCosmicRays
    ([3], [4], 1)
    """
    from scipy import ndimage

    ny, nx = imageArray.shape
    sigmaImage = np.sqrt(np.maximum(varianceArray, 0))
    above = imageArray > 0.5 * config.minSigma * sigmaImage
    ys, xs = np.unravel_index(np.flatnonzero(above), above.shape)  # as np.nonzero, 10x faster
    value = imageArray[ys, xs].astype(np.float64)
    sigma = sigmaImage[ys, xs].astype(np.float64)

    def neighbour(dy: int, dx: int) -> np.ndarray:
        return imageArray[np.clip(ys + dy, 0, ny - 1), np.clip(xs + dx, 0, nx - 1)].astype(np.float64)

    # A Gaussian PSF's neighbour/centre ratio, along a row or column and diagonally.
    ratio_hv = math.exp(-1.0 / (2 * psfSigma**2))
    ratio_d = math.exp(-1.0 / psfSigma**2)
    c3, c3_2 = config.cond3_fac, config.cond3_fac2
    pairs = (  # the two neighbours' mean in each direction, and the PSF ratio there
        (0.5 * (neighbour(0, -1) + neighbour(0, 1)), ratio_hv),
        (0.5 * (neighbour(-1, 0) + neighbour(1, 0)), ratio_hv),
        (0.5 * (neighbour(-1, -1) + neighbour(1, 1)), ratio_d),
        (0.5 * (neighbour(-1, 1) + neighbour(1, -1)), ratio_d),
    )
    condition2 = np.zeros(ys.size, dtype=bool)
    condition3 = np.zeros(ys.size, dtype=bool)
    for mean, ratio in pairs:
        condition2 |= value >= mean + config.minSigma * sigma
        condition3 |= c3_2 * ratio * (value - c3 * sigma) > mean + c3 * sigma / math.sqrt(2)
    flagged = condition2 & condition3
    if badArray is not None:
        flagged &= ~badArray[ys, xs]
    ys, xs = ys[flagged], xs[flagged]
    if not ys.size:
        return Struct(ys=ys, xs=xs, nCosmicRays=0)
    # Condition 1: each connected cosmic ray holds at least min_DN counts.
    crMask = np.zeros(imageArray.shape, dtype=bool)
    crMask[ys, xs] = True
    labels, n = ndimage.label(crMask, structure=np.ones((3, 3), bool))
    crLabel = labels[ys, xs]
    counts = np.bincount(crLabel, weights=imageArray[ys, xs], minlength=n + 1)
    bright = counts[crLabel] >= config.min_DN
    return Struct(
        ys=ys[bright], xs=xs[bright], nCosmicRays=int(np.count_nonzero(counts[1:] >= config.min_DN))
    )


class RepairConfig(Config):
    """Configuration of `RepairTask` (names and defaults as in ``pipe_tasks``' repair.py)."""

    doCosmicRay = Field[bool](doc="Find and mask out cosmic rays.", default=True)
    cosmicray = ConfigField[FindCosmicRaysConfig](
        dtype=FindCosmicRaysConfig, doc="Options for finding and masking cosmic rays."
    )


class RepairTask(Task):
    """Find cosmic rays, mask them and interpolate over them.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((32, 32), dtype=np.float32)
    >>> image[10, 12] = 1000.0
    >>> result = RepairTask().run(image, np.ones_like(image), psfSigma=2.0)
    >>> result.nCosmicRays, float(image[10, 12])
    (1, 0.0)
    """

    ConfigClass = RepairConfig
    _DefaultName = "repair"
    config: RepairConfig

    def run(
        self,
        imageArray: np.ndarray,
        varianceArray: np.ndarray,
        *,
        psfSigma: float,
        badArray: np.ndarray | None = None,
        keepCRs: bool | None = None,
    ) -> Struct:
        """Flag cosmic rays on a background-subtracted image and, unless ``keepCRs``, repair them in place.

        Parameters
        ----------
        imageArray
            Background-subtracted image (modified in place unless ``keepCRs``).
        varianceArray
            Its variance.
        psfSigma
            PSF Gaussian sigma in pixels.
        badArray
            Pixels to leave alone (bad, saturated, no data: bleed trails are not cosmic rays).
        keepCRs
            Only flag; `None` defers to ``cosmicray.keepCRs`` (Rubin's ``run(exposure, keepCRs=)``).

        Returns
        -------
        result
            ``crMask`` (boolean, grown by one pixel), ``nCosmicRays`` (connected groups), ``nPixels``.

        Raises
        ------
        TooManyCosmicRaysError
            If more than ``cosmicray.nCrPixelMax`` pixels are flagged.
        """
        cfg = self.config.cosmicray
        crMask = np.zeros(imageArray.shape, dtype=bool)
        if not self.config.doCosmicRay:
            return Struct(crMask=crMask, nCosmicRays=0, nPixels=0)
        keep = cfg.keepCRs if keepCRs is None else keepCRs
        found = findCosmicRays(imageArray, varianceArray, psfSigma=psfSigma, config=cfg, badArray=badArray)
        if found.ys.size > cfg.nCrPixelMax:
            raise TooManyCosmicRaysError(int(found.ys.size), cfg.nCrPixelMax)
        # Grow by one pixel (a cross) around the few flagged pixels.
        ny, nx = imageArray.shape
        for dy, dx in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
            crMask[np.clip(found.ys + dy, 0, ny - 1), np.clip(found.xs + dx, 0, nx - 1)] = True
        if badArray is not None:
            crMask &= ~badArray
        nPixels = int(np.count_nonzero(crMask))
        if nPixels and not keep:
            self._interpolate(imageArray, crMask)
        self.log.info(
            "Identified and %s %d cosmic rays (%d pixels)",
            "kept" if keep else "interpolated over",
            found.nCosmicRays,
            nPixels,
        )
        return Struct(crMask=crMask, nCosmicRays=found.nCosmicRays, nPixels=nPixels)

    @staticmethod
    def _interpolate(imageArray: np.ndarray, crMask: np.ndarray) -> None:
        """Replace the flagged pixels by the median of the good pixels of their 5 x 5 neighbourhood.

        Rubin interpolates with ``InterpImageTask`` (a PSF-weighted fit, MEANCLIP fallback).  The
        median is taken only at the few flagged pixels (``scipy.ndimage.median_filter`` would
        filter all 8.5 million); ``astropy.convolution.interpolate_replace_nans`` was tried and
        convolves the whole frame, ~1 s.
        """
        ny, nx = crMask.shape
        ys, xs = np.unravel_index(np.flatnonzero(crMask), crMask.shape)  # as np.nonzero, 10x faster
        dy, dx = (d.ravel() for d in np.mgrid[-2:3, -2:3])
        yy = np.clip(ys[None, :] + dy[:, None], 0, ny - 1)
        xx = np.clip(xs[None, :] + dx[:, None], 0, nx - 1)
        stack = np.where(crMask[yy, xx], np.nan, imageArray[yy, xx])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all 25 neighbours flagged
            fill = np.nanmedian(stack, axis=0)
        imageArray[ys, xs] = np.where(np.isfinite(fill), fill, 0.0)
