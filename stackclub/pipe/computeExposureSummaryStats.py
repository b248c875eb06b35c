"""Summary statistics of a calibrated exposure, mirroring
``lsst.pipe.tasks.computeExposureSummaryStats.ComputeExposureSummaryStatsTask``; the result is an
`lsst.images.ObservationSummaryStats` (the same field names as Rubin's ``ExposureSummaryStats``).
"""

from __future__ import annotations

__all__ = ("ComputeExposureSummaryStatsConfig", "ComputeExposureSummaryStatsTask")

import math
from typing import Any

import numpy as np
from lsst.pex.config import Config
from lsst.pipe.base import Struct, Task


class ComputeExposureSummaryStatsConfig(Config):
    """Configuration for `ComputeExposureSummaryStatsTask` (nothing to configure yet)."""


class ComputeExposureSummaryStatsTask(Task):
    """Fill an `lsst.images.ObservationSummaryStats` from the PSF, WCS, photometry and background.

    Examples
    --------
    >>> task = ComputeExposureSummaryStatsTask()
    >>> task.getName()
    'computeSummaryStats'
    """

    ConfigClass = ComputeExposureSummaryStatsConfig
    _DefaultName = "computeSummaryStats"

    def run(
        self,
        *,
        bbox: Any,
        psfSigma: float,
        wcs: Any,
        exposureTime: float,
        zeroPoint: float,
        skyBg: float,
        skyNoise: float,
        meanVar: float,
        nPsfStar: int,
        astromScatter: float,
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
        exposureTime, zeroPoint, skyBg, skyNoise, meanVar, nPsfStar
            As named (zero point: AB magnitude of 1 electron per second; sky in electrons).
        astromScatter
            RMS of the astrometric match separations (arcsec).
        astromOffsets
            Match separations (arcsec).
        stars
            Optional star catalog (for ``starEMedian``).

        Returns
        -------
        result
            ``summary`` (`lsst.images.ObservationSummaryStats`).
        """
        from lsst.images import ObservationSummaryStats

        y0, x0 = bbox.y.start, bbox.x.start
        ny, nx = bbox.shape
        cx, cy = (nx - 1) / 2.0, (ny - 1) / 2.0
        ra, dec = wcs.pixel_to_world_values(cx + x0, cy + y0)
        corners_x = np.array([0, nx - 1, nx - 1, 0], float) + x0
        corners_y = np.array([0, 0, ny - 1, ny - 1], float) + y0
        cra, cdec = wcs.pixel_to_world_values(corners_x, corners_y)
        pixelScale = float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix)))) * 3600.0
        starEMedian = math.nan
        if stars is not None and len(stars):
            ixx, iyy, ixy = (np.asarray(stars[c], float) for c in ("ixx", "iyy", "ixy"))
            with np.errstate(invalid="ignore", divide="ignore"):
                starEMedian = float(np.nanmedian(np.hypot(ixx - iyy, 2 * ixy) / (ixx + iyy)))
        # A 5-sigma point-source limit: noise in an optimal PSF aperture of area 4 pi sigma^2.
        magLim = math.nan
        if skyNoise > 0 and math.isfinite(zeroPoint):
            noise = skyNoise * math.sqrt(4 * math.pi) * psfSigma
            magLim = zeroPoint - 2.5 * math.log10(5 * noise / exposureTime)
        summary = ObservationSummaryStats(
            psfSigma=psfSigma,
            psfArea=4 * math.pi * psfSigma**2,
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
            raCorners=tuple(float(v) for v in cra),
            decCorners=tuple(float(v) for v in cdec),
            astromOffsetMean=float(np.mean(astromOffsets)) if len(astromOffsets) else math.nan,
            astromOffsetStd=float(np.std(astromOffsets)) if len(astromOffsets) else math.nan,
            nPsfStar=int(nPsfStar),
            starEMedian=starEMedian,
            magLim=magLim,
        )
        self.log.info(
            'Summary: PSF sigma %.3f px, zero point %.3f, sky %.1f e-, astrometric scatter %.3f"',
            psfSigma,
            zeroPoint,
            skyBg,
            astromScatter,
        )
        return Struct(summary=summary)
