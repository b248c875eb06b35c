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

    thresholdValue = Field[float](doc="Detection threshold in units of the smoothed image's noise.",
                                  default=5.0, check=lambda v: v > 0)
    minPixels = Field[int](doc="Minimum number of pixels above threshold in a footprint.", default=3,
                           check=lambda v: v >= 1)
    nSigmaToGrow = Field[float](doc="Grow footprints by this many PSF sigmas (0: no growing).", default=2.0,
                                check=lambda v: v >= 0)
    doSmooth = Field[bool](doc="Smooth with the PSF before thresholding.", default=True)
    maxFootprintArea = Field[int](doc="Footprints larger than this many pixels are flagged as too big.",
                                  default=20000, check=lambda v: v > 0)


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

    def run(self, imageArray: np.ndarray, varianceArray: np.ndarray, *, psfSigma: float,
            badArray: np.ndarray | None = None) -> Struct:
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
            noise = math.sqrt(float(np.median(varianceArray)) / (4 * math.pi * psfSigma**2))
        else:
            smoothed = image
            noise = math.sqrt(float(np.median(varianceArray)))
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
        if n:
            counts = np.bincount(labels.ravel(), minlength=n + 1)
            small = counts < cfg.minPixels
            small[0] = False
            if small.any():
                labels[small[labels]] = 0
                labels, n = ndimage.label(labels > 0)
        detected = labels > 0
        grow = int(round(cfg.nSigmaToGrow * psfSigma))
        if grow and n:
            # Square growing with two 1-d maximum filters: separable, so ~10x faster than
            # binary_dilation with `grow` iterations on a full frame.
            d8 = detected.view(np.uint8)
            d8 = ndimage.maximum_filter1d(d8, 2 * grow + 1, axis=0)
            detected = ndimage.maximum_filter1d(d8, 2 * grow + 1, axis=1).astype(bool)
        sources = Table(
            names=("id", "x", "y", "peakSignificance", "npix", "footprint_x0", "footprint_y0",
                   "footprint_x1", "footprint_y1", "footprint_too_big"),
            dtype=(np.int64, np.int64, np.int64, np.float64, np.int64, np.int64, np.int64, np.int64,
                   np.int64, bool),
        )
        if n:
            index = np.arange(1, n + 1)
            peaks = self._peaks(smoothed, labels, n)
            npix = np.bincount(labels.ravel(), minlength=n + 1)[1:]
            slices = ndimage.find_objects(labels)
            bbox = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices], dtype=np.int64)
            sources = Table(
                {
                    "id": index.astype(np.int64),
                    "x": peaks[:, 1],
                    "y": peaks[:, 0],
                    "peakSignificance": smoothed[peaks[:, 0], peaks[:, 1]] / noise,
                    "npix": npix,
                    "footprint_x0": bbox[:, 0],
                    "footprint_y0": bbox[:, 1],
                    "footprint_x1": bbox[:, 2],
                    "footprint_y1": bbox[:, 3],
                    "footprint_too_big": npix > cfg.maxFootprintArea,
                }
            )
        self.log.info("Detected %d sources above %.1f sigma", len(sources), cfg.thresholdValue)
        return Struct(sources=sources, detected=detected, edge=edge, labels=labels, noise=noise)

    @staticmethod
    def _peaks(smoothed: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
        """(y, x) of the highest smoothed pixel of each label 1..n, looking at labelled pixels only.

        ``scipy.ndimage.maximum_position`` does this too but sorts the whole label image (seconds
        on a full frame); footprints cover a few per cent of the pixels.
        """
        idx = np.flatnonzero(labels)
        lab = labels.ravel()[idx]
        val = smoothed.ravel()[idx]
        order = np.lexsort((-val, lab))
        first = order[np.searchsorted(lab[order], np.arange(1, n + 1))]
        ys, xs = np.unravel_index(idx[first], labels.shape)
        return np.column_stack([ys, xs]).astype(np.int64)
