"""Source detection, mirroring ``lsst.meas.algorithms.SourceDetectionTask``.

Smooth the image with the PSF (a Gaussian of the PSF's sigma), keep pixels whose smoothed
signal-to-noise exceeds ``thresholdValue``, grow the footprints by ``nSigmaToGrow`` PSF sigmas,
label connected footprints (``scipy.ndimage.label``) and take each footprint's highest smoothed
pixel as its peak: one peak per footprint.  Splitting footprints that hold several sources is
the next subtask's job (`stackclub.pipe.deblend.SourceDeblendTask`, ``star_deblend``).
"""

from __future__ import annotations

__all__ = (
    "SourceDetectionConfig",
    "SourceDetectionTask",
    "gaussianKernel1d",
    "growSquare",
    "smoothWithGaussian",
)

import math

import numpy as np
from lsst.pex.config import Config, Field
from lsst.pipe.base import Struct, Task

from ._parallel import for_each_row_block

#: The smoothing kernel reaches this many sigmas (``scipy.ndimage.gaussian_filter``'s ``truncate``).
SMOOTHING_TRUNCATE = 3.0


def gaussianKernel1d(sigma: float, truncate: float = SMOOTHING_TRUNCATE) -> np.ndarray:
    """Return the normalized 1-d Gaussian kernel ``scipy.ndimage.gaussian_filter`` uses.

    Examples
    --------
    >>> k = gaussianKernel1d(1.0)
    >>> len(k), round(float(k.sum()), 6)
    (7, 1.0)
    """
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def smoothWithGaussian(imageArray: np.ndarray, sigma: float, *, blockRows: int = 64) -> np.ndarray:
    """Convolve an image with a normalized circular Gaussian (zero outside the image).

    The same result as ``scipy.ndimage.gaussian_filter(image, sigma, mode="constant",
    truncate=3)`` to float32 rounding, about three times sooner on one core and six on two.
    It is hand-written because scipy's pass along the y axis reads each column with a stride
    of a whole row, which is slow on a large frame; here the frame is cut into blocks of
    ``blockRows`` rows that fit in the processor's cache, the y pass is a sum of shifted rows
    (numpy, contiguous), the x pass is ``scipy.ndimage.correlate1d`` and the blocks are spread
    over threads (`stackclub.pipe._parallel`).

    Parameters
    ----------
    imageArray
        The image (float32 stays float32).
    sigma
        The Gaussian's sigma in pixels.
    blockRows
        Rows per block.

    Returns
    -------
    smoothed
        A new array of the image's shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((9, 9), dtype=np.float32)
    >>> image[4, 4] = 1.0
    >>> round(float(smoothWithGaussian(image, 1.0).sum()), 3)
    1.0
    """
    from scipy import ndimage

    if sigma <= 0:
        raise ValueError(f"sigma must be positive; got {sigma}.")
    dtype = imageArray.dtype if np.issubdtype(imageArray.dtype, np.floating) else np.float64
    kernel = gaussianKernel1d(sigma).astype(dtype)
    r = kernel.size // 2
    ny, nx = imageArray.shape
    out = np.empty((ny, nx), dtype=dtype)

    def block(rows: slice, padded: slice) -> None:
        m = rows.stop - rows.start
        # The block and r rows either side, zero beyond the frame (mode="constant").
        buffer = np.zeros((m + 2 * r, nx), dtype=dtype)
        start = rows.start - r
        buffer[padded.start - start : padded.stop - start] = imageArray[padded]
        along_y = buffer[r : r + m] * kernel[r]
        for k in range(1, r + 1):
            along_y += kernel[r + k] * (buffer[r - k : r - k + m] + buffer[r + k : r + k + m])
        ndimage.correlate1d(along_y, kernel, axis=1, mode="constant", output=out[rows])

    for_each_row_block(block, ny, halo=r, block_rows=blockRows)
    return out


def growSquare(mask: np.ndarray, grow: int) -> np.ndarray:
    """Grow the `True` regions of a boolean image by ``grow`` pixels in x and y (a square).

    The same as ``scipy.ndimage.binary_dilation`` with a ``(2 grow + 1)`` square, written as the
    OR of shifted copies, first along columns and then along rows: on a full frame that is
    2-3 times faster than two ``maximum_filter1d`` calls and 10 times faster than a dilation.

    Parameters
    ----------
    mask
        Boolean image (not modified).
    grow
        Half-width of the square, in pixels (0 returns a copy).

    Returns
    -------
    grown
        New boolean array.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((5, 5), dtype=bool)
    >>> mask[2, 2] = True
    >>> growSquare(mask, 1).astype(int).sum()
    np.int64(9)
    """
    if grow < 0:
        raise ValueError(f"grow must be >= 0; got {grow}.")
    along_y = mask.copy()
    for k in range(1, grow + 1):
        along_y[k:] |= mask[:-k]
        along_y[:-k] |= mask[k:]
    grown = along_y.copy()
    for k in range(1, grow + 1):
        grown[:, k:] |= along_y[:, :-k]
        grown[:, :-k] |= along_y[:, k:]
    return grown


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
            smoothed = smoothWithGaussian(image, psfSigma)
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
        if edgeWidth:
            above[:edgeWidth] = above[-edgeWidth:] = False
            above[:, :edgeWidth] = above[:, -edgeWidth:] = False
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
        detected = above
        if not keep.all():
            # Too-small footprints are dropped from the detection mask as well (only their own
            # pixels are touched, not the whole frame).
            small = np.zeros(n + 1, dtype=bool)
            small[1:] = ~keep
            dropped = idx[small[lab]]
            labels.ravel()[dropped] = 0
            detected.ravel()[dropped] = False
        grow = int(round(cfg.nSigmaToGrow * psfSigma))
        if grow and keep.any():
            detected = growSquare(detected, grow)
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
