"""Source detection, mirroring ``lsst.meas.algorithms.SourceDetectionTask``.

Smooth the image with the PSF (a Gaussian of the PSF's sigma), keep pixels whose smoothed
signal-to-noise exceeds ``thresholdValue``, grow the footprints by ``nSigmaToGrow`` PSF sigmas,
label connected footprints (``scipy.ndimage.label``) and take each footprint's highest smoothed
pixel as its peak.  There is no deblender: one peak per footprint.
"""

from __future__ import annotations

__all__ = ("SourceDetectionConfig", "SourceDetectionTask")

import math

import numpy as np
from lsst.pex.config import Config, Field
from lsst.pipe.base import Struct, Task


class SourceDetectionConfig(Config):
    """Configuration for `SourceDetectionTask` (names as in ``meas_algorithms``)."""

    thresholdValue = Field[float](
        doc="Detection threshold in units of the smoothed image's noise.", default=5.0, check=lambda v: v > 0
    )
    minPixels = Field[int](
        doc="Minimum number of pixels above threshold in a footprint.", default=3, check=lambda v: v >= 1
    )
    nSigmaToGrow = Field[float](
        doc="Grow footprints by this many PSF sigmas (0: no growing).", default=2.0, check=lambda v: v >= 0
    )
    doSmooth = Field[bool](doc="Smooth with the PSF before thresholding.", default=True)
    maxFootprintArea = Field[int](
        doc="Footprints larger than this many pixels are flagged as too big.",
        default=20000,
        check=lambda v: v > 0,
    )


class SourceDetectionTask(Task):
    """Find footprints and peaks above a signal-to-noise threshold.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[0:64, 0:64]
    >>> image = 500 * np.exp(-((x - 20) ** 2 + (y - 40) ** 2) / 8.0)
    >>> result = SourceDetectionTask().run(image, np.ones_like(image), psfSigma=2.0)
    >>> len(result.sources), int(result.sources["y"][0]), int(result.sources["x"][0])
    (1, 40, 20)
    """

    ConfigClass = SourceDetectionConfig
    _DefaultName = "detection"
    config: SourceDetectionConfig

    def run(
        self,
        imageArray: np.ndarray,
        varianceArray: np.ndarray,
        *,
        psfSigma: float,
        badArray: np.ndarray | None = None,
    ) -> Struct:
        """Detect sources on a background-subtracted image.

        Parameters
        ----------
        imageArray
            Background-subtracted image.
        varianceArray
            Its variance.
        psfSigma
            PSF Gaussian sigma (pixels), the smoothing kernel.
        badArray
            Pixels that cannot host a peak (e.g. BAD, NO_DATA).

        Returns
        -------
        result
            ``sources`` (`astropy.table.Table`: id, x, y integer peak, peakSignificance,
            npix, footprint bbox columns), ``detected`` (boolean footprint mask), ``edge``
            (boolean: too close to the edge for the smoothing kernel), ``labels``, ``noise``.
        """
        from astropy.table import Table
        from scipy import ndimage

        if psfSigma <= 0:
            raise ValueError(f"psfSigma must be positive; got {psfSigma}.")
        cfg = self.config
        image = np.asarray(imageArray, dtype=np.float32)
        if cfg.doSmooth:
            smoothed = ndimage.gaussian_filter(image, psfSigma, mode="constant", truncate=3.0)
            # A normalized Gaussian kernel reduces white noise variance by sum(k**2) = 1 / (4 pi sigma^2).
            noise = math.sqrt(float(np.median(varianceArray[::4, ::4])) / (4 * math.pi * psfSigma**2))
        else:
            smoothed = image
            noise = math.sqrt(float(np.median(varianceArray[::4, ::4])))
        edgeWidth = int(math.ceil(3 * psfSigma)) if cfg.doSmooth else 0
        edge = np.zeros(image.shape, dtype=bool)
        if edgeWidth:
            edge[:edgeWidth] = edge[-edgeWidth:] = True
            edge[:, :edgeWidth] = edge[:, -edgeWidth:] = True
        above = smoothed > cfg.thresholdValue * noise
        above &= ~edge
        if badArray is not None:
            above &= ~badArray
        labels, n = ndimage.label(above)
        # Per-footprint properties from the labelled pixels only (a few per cent of the frame),
        # sorted by label: size, bounding box and the highest smoothed pixel (the peak).
        idx = np.flatnonzero(labels)
        lab = labels.ravel()[idx]
        val = smoothed.ravel()[idx]
        order = np.lexsort((-val, lab))
        idx, lab = idx[order], lab[order]
        starts = np.searchsorted(lab, np.arange(1, n + 1))
        npix = np.diff(np.append(starts, lab.size))
        keep = npix >= cfg.minPixels
        if not keep.all():
            # Too-small footprints are dropped from the detection mask as well.
            small = np.zeros(n + 1, dtype=bool)
            small[1:] = ~keep
            labels[small[labels]] = 0
        detected = labels > 0
        grow = int(round(cfg.nSigmaToGrow * psfSigma))
        if grow and keep.any():
            # Square growing with two 1-d maximum filters: separable, so ~10x faster than
            # binary_dilation with `grow` iterations on a full frame.
            d8 = detected.view(np.uint8)
            d8 = ndimage.maximum_filter1d(d8, 2 * grow + 1, axis=0)
            detected = ndimage.maximum_filter1d(d8, 2 * grow + 1, axis=1).astype(bool)
        ys, xs = np.unravel_index(idx, labels.shape)
        if n:
            py, px = ys[starts], xs[starts]
            x0, x1 = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts) + 1
            y0, y1 = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts) + 1
        else:
            py = px = x0 = x1 = y0 = y1 = np.zeros(0, dtype=np.int64)
        sel = np.flatnonzero(keep)
        sources = Table(
            {
                "id": np.arange(1, sel.size + 1, dtype=np.int64),
                "x": px[sel].astype(np.int64),
                "y": py[sel].astype(np.int64),
                "peakSignificance": (smoothed[py[sel], px[sel]] / noise).astype(np.float64),
                "npix": npix[sel].astype(np.int64),
                "footprint_x0": x0[sel].astype(np.int64),
                "footprint_y0": y0[sel].astype(np.int64),
                "footprint_x1": x1[sel].astype(np.int64),
                "footprint_y1": y1[sel].astype(np.int64),
                "footprint_too_big": npix[sel] > cfg.maxFootprintArea,
            }
        )
        self.log.info("Detected %d sources above %.1f sigma", len(sources), cfg.thresholdValue)
        return Struct(sources=sources, detected=detected, edge=edge, labels=labels, noise=noise)
