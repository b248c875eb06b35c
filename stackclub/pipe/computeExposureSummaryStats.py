"""Summary statistics of a calibrated exposure, mirroring
``lsst.pipe.tasks.computeExposureSummaryStats.ComputeExposureSummaryStatsTask``; the result is an
`lsst.images.ObservationSummaryStats` (the same field names as Rubin's ``ExposureSummaryStats``).

The definitions follow Rubin's: ``zeroPoint`` is ``2.5 log10`` of the instrumental flux (electrons)
of a zeroth-magnitude source *in this exposure* (``photoCalib.getInstFluxAtZeroMagnitude()``, so
exposure time included); ``psfArea`` is ``sum(psf)**2 / sum(psf**2)`` (``4 pi sigma**2`` for a
Gaussian); ``magLim`` is the 5-sigma point-source limit of ``compute_magnitude_limit`` (sky plus
read noise in ``psfArea`` pixels); ``starEMedian`` the median ellipticity of the PSF stars;
``skyBg`` the median of the background model, in electrons.  Simplifications: ``skyNoise`` is the
background boxes' clipped sigma (Rubin clips the whole masked image) and ``meanVar`` the median
of the variance plane (Rubin: its clipped mean).
"""

from __future__ import annotations

__all__ = ("ComputeExposureSummaryStatsConfig", "ComputeExposureSummaryStatsTask", "computeMagnitudeLimit")

import math
from typing import Any

import numpy as np
from lsst.pex.config import Config, Field
from lsst.pipe.base import Struct, Task

from .photoCal import AB_NJY_ZERO


class ComputeExposureSummaryStatsConfig(Config):
    """Configuration of `ComputeExposureSummaryStatsTask` (names and defaults as in ``pipe_tasks``)."""

    magLimSnr = Field[float](
        doc="Signal-to-noise ratio of the point-source magnitude limit magLim.",
        default=5.0,
        check=lambda v: v > 0,
    )


class ComputeExposureSummaryStatsTask(Task):
    """Fill an `lsst.images.ObservationSummaryStats` from the PSF, WCS, photometry and background.

    Examples
    --------
    >>> task = ComputeExposureSummaryStatsTask()
    >>> task.getName()
    'computeExposureSummaryStats'
    """

    ConfigClass = ComputeExposureSummaryStatsConfig
    _DefaultName = "computeExposureSummaryStats"
    config: ComputeExposureSummaryStatsConfig

    def run(
        self,
        *,
        bbox: Any,
        psfSigma: float,
        wcs: Any,
        exposureTime: float,
        calibration: float,
        skyBg: float,
        skyNoise: float,
        meanVar: float,
        readNoise: float,
        nPsfStar: int,
        astromOffsets: np.ndarray,
        stars: Any | None = None,
    ) -> Struct:
        """Compute the summary.

        Parameters
        ----------
        bbox
            Image bounding box.
        psfSigma
            PSF Gaussian sigma (pixels).
        wcs
            Fitted `astropy.wcs.WCS` (coordinates of ``bbox``).
        exposureTime
            Seconds.
        calibration
            The photometric calibration, nJy per electron (`math.nan` if not fitted).
        skyBg, skyNoise, meanVar, readNoise
            Sky level, sky noise, variance and read noise, in electrons.
        nPsfStar
            Number of stars the PSF was fitted to.
        astromOffsets
            Separations of the astrometric matches (arcsec).
        stars
            Star catalog (``starEMedian`` from its ``calib_psf_used`` stars).

        Returns
        -------
        result
            ``summary`` (`lsst.images.ObservationSummaryStats`).
        """
        from lsst.images import ObservationSummaryStats

        y0, x0 = bbox.y.start, bbox.x.start
        ny, nx = bbox.shape
        ra, dec = wcs.pixel_to_world_values((nx - 1) / 2.0 + x0, (ny - 1) / 2.0 + y0)
        cra, cdec = wcs.pixel_to_world_values(
            np.array([0, nx - 1, nx - 1, 0], float) + x0, np.array([0, 0, ny - 1, ny - 1], float) + y0
        )
        pixelScale = float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix)))) * 3600.0
        zeroPoint = AB_NJY_ZERO - 2.5 * math.log10(calibration) if calibration > 0 else math.nan
        psfArea = 4 * math.pi * psfSigma**2
        starEMedian = math.nan
        if stars is not None and "calib_psf_used" in stars.colnames and np.any(stars["calib_psf_used"]):
            psfStars = stars[np.asarray(stars["calib_psf_used"], bool)]
            ixx, iyy, ixy = (np.asarray(psfStars[c], float) for c in ("ixx", "iyy", "ixy"))
            starEMedian = float(np.median(np.hypot(ixx - iyy, 2 * ixy) / (ixx + iyy)))
        summary = ObservationSummaryStats(
            psfSigma=psfSigma,
            psfArea=psfArea,
            psfIxx=psfSigma**2,
            psfIyy=psfSigma**2,
            psfIxy=0.0,
            ra=float(ra),
            dec=float(dec),
            pixelScale=pixelScale,
            expTime=exposureTime,
            zeroPoint=zeroPoint,
            skyBg=skyBg,
            skyNoise=skyNoise,
            meanVar=meanVar,
            raCorners=(float(cra[0]), float(cra[1]), float(cra[2]), float(cra[3])),
            decCorners=(float(cdec[0]), float(cdec[1]), float(cdec[2]), float(cdec[3])),
            astromOffsetMean=float(np.mean(astromOffsets)) if len(astromOffsets) else math.nan,
            astromOffsetStd=float(np.std(astromOffsets)) if len(astromOffsets) else math.nan,
            nPsfStar=int(nPsfStar),
            starEMedian=starEMedian,
            magLim=computeMagnitudeLimit(psfArea, skyBg, zeroPoint, readNoise, self.config.magLimSnr),
        )
        self.log.info(
            "Summary: PSF sigma %.3f px, zero point %.3f, sky %.1f e-, magLim %.2f",
            psfSigma,
            zeroPoint,
            skyBg,
            summary.magLim,
        )
        return Struct(summary=summary)


def computeMagnitudeLimit(
    psfArea: float, skyBg: float, zeroPoint: float, readNoise: float, snr: float
) -> float:
    """Point-source magnitude at signal-to-noise ``snr`` on a sky of ``skyBg`` electrons (LSE-40).

    ``snr = C / sqrt(C + (skyBg + readNoise**2) psfArea)`` solved for the source counts ``C``,
    as ``lsst.pipe.tasks.computeExposureSummaryStats.compute_magnitude_limit`` (gain 1: electrons).

    Parameters
    ----------
    psfArea
        Effective area of the PSF (pixels).
    skyBg
        Sky level per pixel (electrons).
    zeroPoint
        Magnitude of one electron in this exposure.
    readNoise
        Read noise (electrons).
    snr
        Signal-to-noise ratio of the limit.

    Returns
    -------
    magLim
        The limiting magnitude (NaN without a zero point).

    Examples
    --------
    >>> round(computeMagnitudeLimit(36.0, 1000.0, 31.0, 5.0, 5.0), 2)
    23.53
    """
    if not (math.isfinite(zeroPoint) and psfArea > 0):
        return math.nan
    background = (skyBg + readNoise**2) * psfArea
    source = snr**2 / 2 + math.sqrt(snr**4 / 4 + snr**2 * background)
    return -2.5 * math.log10(source) + zeroPoint
