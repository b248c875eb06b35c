"""Background estimation and subtraction, mirroring ``lsst.meas.algorithms.SubtractBackgroundTask``.

The sky is measured in a grid of boxes (``binSize``) with detected and bad pixels left out, the
box values are median-filtered, and the grid is interpolated with an Akima spline: the result is
an `lsst.images.fields.SplineField`, the model `lsst.images.BackgroundMap` stores, so the
background that is subtracted is exactly the one that is saved.

The box statistics are computed on a reshaped array (one sigma-clipped median per box in a
single vectorized pass) rather than with ``photutils.background.Background2D``: both give the
same mesh, but ours is about three times faster on a full 2048 x 4176 frame (the issue's speed
goal), and we need the mesh itself, not photutils' interpolated image.
"""

from __future__ import annotations

__all__ = ("SubtractBackgroundConfig", "SubtractBackgroundTask", "renderSpline")

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
from lsst.pex.config import ChoiceField, Config, Field, ListField
from lsst.pipe.base import Struct, Task

from ._parallel import for_each_row_block

if TYPE_CHECKING:
    from lsst.images import Box


def _nanMedianFilter(mesh: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.generic_filter(mesh, np.nanmedian, size, mode="nearest")``, vectorized.

    The ``size**2`` shifted copies of the (edge-padded) mesh are stacked and reduced at once,
    instead of one Python call of ``np.nanmedian`` per mesh cell.
    """
    lo = size // 2  # scipy's window centre
    hi = size - 1 - lo
    padded = np.pad(mesh, ((lo, hi), (lo, hi)), mode="edge")
    ny, nx = mesh.shape
    stack = np.stack([padded[dy : dy + ny, dx : dx + nx] for dy in range(size) for dx in range(size)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a window with no finite value stays NaN
        return np.nanmedian(stack, axis=0)


def renderSpline(
    mesh: np.ndarray, *, y: np.ndarray, x: np.ndarray, bbox: Box, blockRows: int = 256
) -> np.ndarray:
    """Evaluate the Akima spline through ``mesh`` at every pixel of ``bbox``, as float32.

    The same numbers as ``lsst.images.fields.SplineField(bbox, mesh, y=y, x=x).render(bbox)``
    (Akima splines along y through each mesh column, then along x through those, extrapolated
    beyond the outermost centres) to float32 rounding.  It is written out because
    ``render`` evaluates the x splines with one SciPy call over the whole frame and then
    transposes it, ~0.2 s for a full HSC frame; here the spline's cubic pieces are evaluated
    piece by piece in blocks of rows, on parallel threads (`stackclub.pipe._parallel`).
    The `SplineField` itself is what the task returns and what the Butler stores.

    Parameters
    ----------
    mesh
        Finite values at the box centres, shape ``(len(y), len(x))``, at least 2 x 2.
    y, x
        The box centres (pixel coordinates of ``bbox``'s frame), increasing.
    bbox
        The pixels to evaluate.
    blockRows
        Rows per block.

    Returns
    -------
    image
        float32 array of ``bbox``'s shape.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Box
    >>> from lsst.images.fields import SplineField
    >>> bbox = Box.from_shape((50, 40))
    >>> mesh = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 4.0], [2.0, 2.0, 1.0]])
    >>> y, x = np.array([8.0, 25.0, 42.0]), np.array([6.0, 20.0, 34.0])
    >>> ours = renderSpline(mesh, y=y, x=x, bbox=bbox)
    >>> theirs = SplineField(bbox, mesh, y=y, x=x).render(bbox).array
    >>> bool(np.allclose(ours, theirs, rtol=1e-6))
    True
    """
    from scipy.interpolate import Akima1DInterpolator

    if mesh.shape != (len(y), len(x)) or min(mesh.shape) < 2:
        raise ValueError(
            f"mesh shape {mesh.shape} must be (len(y), len(x)) = ({len(y)}, {len(x)}), each >= 2."
        )
    rows = np.arange(bbox.y.start, bbox.y.stop, dtype=np.float64)
    cols = np.arange(bbox.x.start, bbox.x.stop, dtype=np.float64)
    # Along y, one spline per mesh column: (ny_pixels, nx_boxes).
    along_y = Akima1DInterpolator(y, mesh, axis=0, extrapolate=True)(rows)
    # Along x: the cubic pieces of one spline per pixel row; c has shape (4, nx_boxes - 1, ny_pixels).
    c = Akima1DInterpolator(x, along_y, axis=1, extrapolate=True).c
    coeffs = np.ascontiguousarray(c.transpose(0, 2, 1), dtype=np.float32)  # (4, ny_pixels, n_pieces)
    # Each pixel column takes the cubic piece that starts at the box centre at or left of it
    # (the first and last pieces extend beyond the outermost centres).
    piece = np.clip(np.searchsorted(x, cols, side="right") - 1, 0, len(x) - 2)
    starts = np.searchsorted(piece, np.arange(len(x) - 1))
    stops = np.append(starts[1:], cols.size)
    dx = (cols - x[piece]).astype(np.float32)
    out = np.empty((rows.size, cols.size), dtype=np.float32)

    def block(rows_: slice, padded: slice) -> None:
        for k, (a, b) in enumerate(zip(starts, stops, strict=True)):
            if b > a:
                c3, c2, c1, c0 = (coeffs[i, rows_, k, np.newaxis] for i in range(4))
                t = dx[a:b]
                out[rows_, a:b] = ((c3 * t + c2) * t + c1) * t + c0

    for_each_row_block(block, rows.size, block_rows=blockRows)
    return out


class SubtractBackgroundConfig(Config):
    """Configuration for `SubtractBackgroundTask` (names as in ``meas_algorithms``)."""

    binSize = Field[int](
        doc="Side of the boxes in which the sky is measured (pixels).", default=128, check=lambda v: v >= 8
    )
    statisticsProperty = ChoiceField[str](
        doc="Statistic measured in each box.",
        default="MEDIAN",
        allowed={"MEDIAN": "median of the unmasked pixels", "MEAN": "mean of the unmasked pixels"},
    )
    numSigmaClip = Field[float](
        doc="Clip pixels beyond this many robust sigma before the statistic.",
        default=3.0,
        check=lambda v: v > 0,
    )
    ignoredPixelMask = ListField[str](
        doc="Mask planes whose pixels are left out of the box statistics.",
        default=["BAD", "SATURATED", "DETECTED", "NO_DATA"],
    )
    subsample = Field[int](
        doc="Use every n-th pixel in each direction for the box statistics.",
        default=2,
        check=lambda v: v >= 1,
    )
    filterSize = Field[int](
        doc="Median-filter the box grid with this size (1: off).", default=3, check=lambda v: v >= 1
    )


class SubtractBackgroundTask(Task):
    """Fit a smooth sky to an image and subtract it.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Box
    >>> image = np.full((256, 256), 100.0, dtype=np.float32)
    >>> result = SubtractBackgroundTask().run(image, bbox=Box.from_shape(image.shape))
    >>> float(np.abs(image).max()) < 1e-3, round(result.skyLevel, 1)
    (True, 100.0)
    """

    ConfigClass = SubtractBackgroundConfig
    _DefaultName = "background"
    config: SubtractBackgroundConfig

    def measureMesh(self, imageArray: np.ndarray, ignore: np.ndarray | None = None) -> Struct:
        """Measure the sky statistic in each box.

        Parameters
        ----------
        imageArray
            The image.
        ignore
            Boolean array of pixels to leave out, or `None`.

        Returns
        -------
        result
            ``mesh`` (ny_box, nx_box) with NaN where a box had too few pixels, ``yCenters``,
            ``xCenters`` (array coordinates of the box centres) and ``noise`` (median robust sigma).
        """
        ny, nx = imageArray.shape
        b = min(self.config.binSize, ny, nx)
        nby, nbx = max(ny // b, 1), max(nx // b, 1)
        # Boxes tile the image; the remainder rows/columns join the last box.
        ybounds = np.linspace(0, ny, nby + 1).astype(int)
        xbounds = np.linspace(0, nx, nbx + 1).astype(int)
        # Every ``step``-th pixel in each direction is plenty for a box statistic (a 128-pixel box
        # still has 4096 samples) and makes the pass four times cheaper.
        step = self.config.subsample
        data = imageArray[::step, ::step].astype(np.float32, copy=True)
        if ignore is not None:
            data[ignore[::step, ::step]] = np.nan
        # Every box takes the same number of (subsampled) rows and columns from the start of its
        # range, so all boxes stack into one (nby, nbx, n) array for a single vectorized pass;
        # the few remainder rows/columns of a box are left out of its statistic.
        sy, sx = data.shape
        ystarts = -(-ybounds[:-1] // step)
        xstarts = -(-xbounds[:-1] // step)
        by = int(min(np.min(-(-ybounds[1:] // step) - ystarts), sy))
        bx = int(min(np.min(-(-xbounds[1:] // step) - xstarts), sx))
        rows = data[(ystarts[:, None] + np.arange(by)[None, :]).ravel()]  # (nby*by, sx)
        cells = rows[:, (xstarts[:, None] + np.arange(bx)[None, :]).ravel()]  # (nby*by, nbx*bx)
        blocks = cells.reshape(nby, by, nbx, bx).transpose(0, 2, 1, 3).reshape(nby, nbx, by * bx)
        mesh, noise = self._clippedStatistic(blocks)
        ycen = 0.5 * (ybounds[:-1] + ybounds[1:]) - 0.5
        xcen = 0.5 * (xbounds[:-1] + xbounds[1:]) - 0.5
        if self.config.filterSize > 1 and np.isfinite(mesh).any():
            mesh = _nanMedianFilter(mesh, self.config.filterSize)
        noise_value = float(np.nanmedian(noise)) if np.isfinite(noise).any() else math.nan
        return Struct(mesh=mesh, yCenters=ycen, xCenters=xcen, noise=noise_value)

    def _clippedStatistic(self, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Clipped median (or mean) and robust sigma along the last axis; NaN marks ignored pixels.

        Vectorized with one sort: quantiles and the clipped median are read from the sorted
        values by index, which is several times faster than ``np.nanpercentile``.
        """
        s = np.sort(blocks, axis=-1)  # NaNs sort to the end
        n = np.isfinite(s).sum(axis=-1)
        good = n > 0
        last = np.maximum(n - 1, 0)

        def quantile(p: float) -> np.ndarray:
            idx = np.floor(p * last).astype(int)[..., None]
            return np.take_along_axis(s, idx, axis=-1)[..., 0]

        q25, med, q75 = quantile(0.25), quantile(0.5), quantile(0.75)
        sigma = (q75 - q25) / 1.349
        k = self.config.numSigmaClip
        lo = (med - k * sigma)[..., None]
        hi = (med + k * sigma)[..., None]
        i_lo = (s < lo).sum(axis=-1)
        i_hi = (s <= hi).sum(axis=-1)
        if self.config.statisticsProperty == "MEDIAN":
            mid = np.clip((i_lo + i_hi - 1) // 2, 0, s.shape[-1] - 1)
            value = np.take_along_axis(s, mid[..., None], axis=-1)[..., 0]
        else:
            inside = (s >= lo) & (s <= hi)
            value = np.where(inside, s, 0).sum(axis=-1) / np.maximum(inside.sum(axis=-1), 1)
        value = np.where(good & (i_hi > i_lo), value, np.nan)
        sigma = np.where(good, sigma, np.nan)
        return value, sigma

    def run(self, imageArray: np.ndarray, *, bbox: Box, ignore: np.ndarray | None = None) -> Struct:
        """Measure the background, subtract it from ``imageArray`` in place and return the model.

        Parameters
        ----------
        imageArray
            The image (modified in place).
        bbox
            The image's bounding box (the model's bounds).
        ignore
            Boolean array of pixels to leave out of the measurement.

        Returns
        -------
        result
            ``background`` (`lsst.images.fields.SplineField`), ``backgroundImage`` (array
            subtracted), ``skyLevel`` (median of the model), ``skyNoise`` (robust sigma).
        """
        from lsst.images.fields import SplineField

        mesh_result = self.measureMesh(imageArray, ignore)
        mesh = mesh_result.mesh
        if not np.isfinite(mesh).any():
            raise ValueError("Every background box is masked; cannot measure the sky.")
        mesh = np.where(np.isfinite(mesh), mesh, np.nanmedian(mesh))
        y = mesh_result.yCenters + bbox.y.start
        x = mesh_result.xCenters + bbox.x.start
        if len(y) < 2 or len(x) < 2:
            # Too few boxes for a spline: a flat sky.
            y = np.array([bbox.y.start, bbox.y.stop - 1.0]) if len(y) < 2 else y
            x = np.array([bbox.x.start, bbox.x.stop - 1.0]) if len(x) < 2 else x
            mesh = np.broadcast_to(mesh.mean(), (len(y), len(x))).copy()
        field = SplineField(bbox, mesh.astype(np.float64), y=np.asarray(y, float), x=np.asarray(x, float))
        model = renderSpline(mesh, y=np.asarray(y, float), x=np.asarray(x, float), bbox=bbox)
        imageArray -= model.astype(imageArray.dtype, copy=False)
        skyLevel = float(np.median(mesh))
        self.log.info(
            "Background: sky %.2f, noise %.2f, %d x %d boxes", skyLevel, mesh_result.noise, *mesh.shape
        )
        return Struct(background=field, backgroundImage=model, skyLevel=skyLevel, skyNoise=mesh_result.noise)
