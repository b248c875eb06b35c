"""Pure numpy building blocks of ISR, named after ``lsst.ip.isr.isrFunctions``.

Each works on plain arrays so it can be taught and tested on its own; `IsrTask`
strings them together.  They are hand-written because neither ccdproc nor
astropy offers them in this form: ccdproc has no defect-table masking or
mask-aware interpolation, and its variance helper works per image, not per
amplifier.
"""

from __future__ import annotations

__all__ = (
    "defectsToBoolArray",
    "defectsToIndices",
    "interpolateFromMask",
    "makeThresholdMask",
    "updateVariance",
)

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table


def makeThresholdMask(array: np.ndarray, threshold: float) -> np.ndarray:
    """Return a boolean array that is `True` where ``array >= threshold``.

    Parameters
    ----------
    array
        Pixel values (any dtype).
    threshold
        Level at or above which a pixel is flagged (e.g. the saturation level in ADU);
        a non-finite threshold flags nothing.

    Returns
    -------
    flagged
        Boolean array of ``array``'s shape.

    Examples
    --------
    >>> import numpy as np
    >>> makeThresholdMask(np.array([1, 5, 9]), 5).tolist()
    [False, True, True]
    """
    if not np.isfinite(threshold):
        return np.zeros(array.shape, dtype=bool)
    return array >= threshold


def updateVariance(imageArray: np.ndarray, readNoise: float, out: np.ndarray | None = None) -> np.ndarray:
    """Variance of each pixel of an image in electrons: Poisson term plus read noise squared.

    Parameters
    ----------
    imageArray
        Image in electrons (overscan, and usually bias, subtracted).
    readNoise
        Read noise in electrons.
    out
        Optional output array (written in place and returned).

    Returns
    -------
    variance
        ``max(image, 0) + readNoise**2`` in electrons squared.

    Examples
    --------
    >>> import numpy as np
    >>> updateVariance(np.array([-3.0, 0.0, 100.0]), 5.0).tolist()
    [25.0, 25.0, 125.0]
    """
    if readNoise < 0:
        raise ValueError(f"readNoise must be non-negative; got {readNoise}.")
    out = np.maximum(imageArray, 0, out=out)
    out += np.asarray(readNoise * readNoise, dtype=out.dtype)
    return out


def defectsToBoolArray(
    defects: Table, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Turn a Rubin-style defects table into a boolean pixel mask.

    Parameters
    ----------
    defects
        Table with Rubin's columns ``x0, y0, x_extent, y_extent`` (assembled pixel coordinates).
    shape
        ``(ny, nx)`` of the image.
    origin
        ``(y0, x0)`` of the image's bounding box.

    Returns
    -------
    bad
        `True` inside every defect box (clipped to the image).

    Examples
    --------
    >>> from astropy.table import Table
    >>> t = Table({"x0": [1], "y0": [0], "x_extent": [2], "y_extent": [3]})
    >>> int(defectsToBoolArray(t, (4, 4)).sum())
    6
    """
    bad = np.zeros(shape, dtype=bool)
    for ys, xs in _defectSlices(defects, origin):
        bad[ys, xs] = True
    return bad


def defectsToIndices(defects: Table, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Flat indices of the pixels inside the defect boxes: `defectsToBoolArray` without the full frame.

    Hand-written for speed: a few thousand defect pixels are listed directly, where a boolean
    frame would cost a pass over every pixel to build and another to search.

    Parameters
    ----------
    defects
        Table with Rubin's columns ``x0, y0, x_extent, y_extent`` (assembled pixel coordinates).
    shape
        ``(ny, nx)`` of the image.
    origin
        ``(y0, x0)`` of the image's bounding box.

    Returns
    -------
    indices
        Sorted, unique indices into the flattened image (``np.ravel_multi_index`` of the
        pixels `defectsToBoolArray` sets).

    Examples
    --------
    >>> from astropy.table import Table
    >>> t = Table({"x0": [1], "y0": [0], "x_extent": [2], "y_extent": [3]})
    >>> defectsToIndices(t, (4, 4)).tolist()
    [1, 2, 5, 6, 9, 10]
    """
    ny, nx = shape
    boxes = []
    for ys, xs in _defectSlices(defects, origin):
        rows = np.arange(ys.start, min(ys.stop, ny))
        cols = np.arange(xs.start, min(xs.stop, nx))
        boxes.append((rows[:, np.newaxis] * nx + cols[np.newaxis, :]).ravel())
    return np.unique(np.concatenate(boxes)) if boxes else np.zeros(0, dtype=np.intp)


def _defectSlices(defects: Table, origin: tuple[int, int]) -> list[tuple[slice, slice]]:
    """Each defect box as (row, column) slices of the image (starting at 0, clipped below)."""
    missing = {"x0", "y0", "x_extent", "y_extent"} - set(defects.colnames)
    if missing:
        raise ValueError(
            f"Defects table lacks column(s) {sorted(missing)}; it has {defects.colnames}. "
            "Rubin's defects tables use x0, y0, x_extent, y_extent."
        )
    oy, ox = origin
    return [
        (
            slice(max(int(y0) - oy, 0), max(int(y0) + int(dy) - oy, 0)),
            slice(max(int(x0) - ox, 0), max(int(x0) + int(dx) - ox, 0)),
        )
        for x0, y0, dx, dy in zip(
            defects["x0"], defects["y0"], defects["x_extent"], defects["y_extent"], strict=True
        )
    ]


def interpolateFromMask(imageArray: np.ndarray, badArray: np.ndarray) -> int:
    """Replace flagged pixels, in place, by linear interpolation along their row.

    Like Rubin's legacy interpolation (``useLegacyInterp``), which bridges bad
    columns horizontally.  Vectorized over runs of bad pixels: each run is
    bridged linearly between the good pixels on either side; a run touching
    the row edge takes the one good neighbour it has; a row with no good pixel
    is left unchanged.  The cost grows with the number of bad pixels, not the
    image size, when they are given as indices.

    Parameters
    ----------
    imageArray
        Image (floating point, C-contiguous rows), modified in place.
    badArray
        Boolean array of the image's shape, `True` where a pixel must be
        replaced; or the sorted, unique flat indices of those pixels (what
        `defectsToIndices` returns), which spares a search of the whole frame.

    Returns
    -------
    nInterpolated
        Number of pixels replaced.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[1.0, 9.0, 9.0, 4.0]])
    >>> interpolateFromMask(image, np.array([[False, True, True, False]]))
    2
    >>> image.tolist()
    [[1.0, 2.0, 3.0, 4.0]]
    >>> interpolateFromMask(image, np.array([0]))  # the first pixel takes its right neighbour
    1
    >>> image.tolist()
    [[2.0, 2.0, 3.0, 4.0]]
    """
    if badArray.dtype == bool:
        if badArray.shape != imageArray.shape:
            raise ValueError(
                f"badArray shape {badArray.shape} differs from imageArray shape {imageArray.shape}."
            )
        indices = np.flatnonzero(badArray)
    else:
        indices = np.asarray(badArray, dtype=np.intp)
    if indices.size == 0:
        return 0
    ny, nx = imageArray.shape
    row, col = np.divmod(indices, nx)
    # Runs of consecutive bad pixels within one row: a new run starts where the index jumps
    # or a new row begins.
    starts = np.flatnonzero((np.diff(indices, prepend=-2) != 1) | (col == 0))
    stops = np.append(starts[1:], indices.size)  # exclusive, in the list of bad pixels
    row, c0 = row[starts], col[starts]
    c1 = col[stops - 1] + 1  # exclusive
    left, right = c0 - 1, c1
    has_left, has_right = left >= 0, right < nx
    usable = has_left | has_right
    row, c0, c1, left, right = row[usable], c0[usable], c1[usable], left[usable], right[usable]
    has_left, has_right = has_left[usable], has_right[usable]
    vl = np.where(has_left, imageArray[row, np.clip(left, 0, nx - 1)], 0.0)
    vr = np.where(has_right, imageArray[row, np.clip(right, 0, nx - 1)], 0.0)
    vl = np.where(has_left, vl, vr)
    vr = np.where(has_right, vr, vl)
    lengths = c1 - c0
    total = int(lengths.sum())
    run = np.repeat(np.arange(lengths.size), lengths)
    offset = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = c0[run] + offset
    w = (cols - left[run]) / (right[run] - left[run]).astype(np.float64)
    imageArray[row[run], cols] = vl[run] * (1 - w) + vr[run] * w
    return total
