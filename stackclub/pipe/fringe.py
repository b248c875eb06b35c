"""Fringe correction: fit the amplitude of a fringe pattern in an image and subtract it.

Mirrors ``lsst.ip.isr.fringe.FringeTask`` (config ``filters``, ``num``, ``iterations``,
``clip``, ``pedestal``): Rubin measures the image and the fringe frame in many small boxes
and solves for the amplitude with clipped least squares; we do the same on a random
sample of pixels, which is equivalent for a smooth fringe and much simpler to read.
"""

from __future__ import annotations

__all__ = ("FringeConfig", "FringeTask")

import numpy as np
from lsst.pex.config import Config, Field, ListField
from lsst.pipe.base import Struct, Task

_BLOCK_ROWS = 64


class FringeConfig(Config):
    """Configuration for `FringeTask`."""

    filters = ListField[str](
        doc="Only fringe-subtract these physical filters (empty: every filter that has a fringe frame).",
        default=[],
    )
    num = Field[int](
        doc="Number of pixels sampled to measure the fringe amplitude.",
        default=30000,
        check=lambda v: v >= 10,
    )
    iterations = Field[int](doc="Number of clipped fitting iterations.", default=5, check=lambda v: v >= 1)
    clip = Field[float](
        doc="Sigma-clip threshold applied in each iteration.", default=3.0, check=lambda v: v > 0
    )
    pedestal = Field[bool](
        doc="Remove the fringe frame's own median (its pedestal) before fitting, so the subtraction "
        "leaves the image's mean level unchanged.",
        default=False,
    )
    seed = Field[int](doc="Seed of the random pixel sample (results are reproducible).", default=1)


class FringeTask(Task):
    """Fit ``image = amplitude * fringe + background`` and subtract ``amplitude * fringe``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y, x = np.mgrid[0:100, 0:100]
    >>> fringe = np.sin(x / 5.0)
    >>> image = 100 + 7.0 * fringe + rng.normal(0, 1, fringe.shape)
    >>> result = FringeTask().run(image, fringe)
    >>> round(result.amplitude, 1)
    7.0
    """

    ConfigClass = FringeConfig
    _DefaultName = "fringe"
    config: FringeConfig

    def checkFilter(self, physicalFilter: str | None) -> bool:
        """Return whether fringes should be removed for this physical filter."""
        return not self.config.filters or physicalFilter in self.config.filters

    def run(
        self, imageArray: np.ndarray, fringeArray: np.ndarray, badArray: np.ndarray | None = None
    ) -> Struct:
        """Measure the fringe amplitude and subtract the scaled pattern, in place.

        Parameters
        ----------
        imageArray
            Flat-fielded image (modified in place).
        fringeArray
            Fringe pattern, same shape (normalized: unit amplitude).
        badArray
            Optional boolean array of pixels to leave out of the fit.

        Returns
        -------
        result
            ``amplitude`` (image units per unit fringe), ``pedestal`` (the fringe frame's
            median removed first, 0 unless ``pedestal`` is on), ``nUsed``.
        """
        if fringeArray.shape != imageArray.shape:
            raise ValueError(
                f"Fringe frame shape {fringeArray.shape} differs from the image shape {imageArray.shape}."
            )
        rng = np.random.default_rng(self.config.seed)
        n = min(self.config.num, imageArray.size)
        idx = rng.choice(imageArray.size, size=n, replace=False)
        img = imageArray.ravel()[idx].astype(np.float64)
        fr = fringeArray.ravel()[idx].astype(np.float64)
        keep = np.isfinite(img) & np.isfinite(fr)
        if badArray is not None:
            keep &= ~badArray.ravel()[idx]
        pedestal = float(np.nanmedian(fr)) if self.config.pedestal else 0.0
        fr -= pedestal
        amplitude = 0.0
        for _ in range(self.config.iterations):
            design = np.column_stack([fr[keep], np.ones(keep.sum())])
            (amplitude, offset), *_ = np.linalg.lstsq(design, img[keep], rcond=None)
            resid = img - amplitude * fr - offset
            sigma = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep])))
            new_keep = keep & (np.abs(resid) <= self.config.clip * sigma)
            if new_keep.sum() == keep.sum() or new_keep.sum() < 3:
                break
            keep = new_keep
        # Subtracted a block of rows at a time: the same arithmetic without three frame-sized
        # temporaries (one of them float64), which cost more than the arithmetic itself.
        for start in range(0, imageArray.shape[0], _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            imageArray[rows] -= (amplitude * (fringeArray[rows] - pedestal)).astype(imageArray.dtype)
        self.log.info("Fringe amplitude %.4g from %d pixels", amplitude, int(keep.sum()))
        return Struct(amplitude=float(amplitude), pedestal=pedestal, nUsed=int(keep.sum()))
