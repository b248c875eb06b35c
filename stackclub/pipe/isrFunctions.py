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


def defectsToBoolArray(defects: Table, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
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
    missing = {"x0", "y0", "x_extent", "y_extent"} - set(defects.colnames)
    if missing:
        raise ValueError(
            f"Defects table lacks column(s) {sorted(missing)}; it has {defects.colnames}. "
            "Rubin's defects tables use x0, y0, x_extent, y_extent."
        )
    bad = np.zeros(shape, dtype=bool)
    oy, ox = origin
    for x0, y0, dx, dy in zip(
        defects["x0"], defects["y0"], defects["x_extent"], defects["y_extent"], strict=True
    ):
        ys = slice(max(int(y0) - oy, 0), max(int(y0) + int(dy) - oy, 0))
        xs = slice(max(int(x0) - ox, 0), max(int(x0) + int(dx) - ox, 0))
        bad[ys, xs] = True
    return bad


def interpolateFromMask(imageArray: np.ndarray, badArray: np.ndarray) -> int:
    """Replace flagged pixels, in place, by linear interpolation along their row.

    Like Rubin's legacy interpolation (``useLegacyInterp``), which bridges bad
    columns horizontally.  Vectorized: the nearest good pixel on each side is
    found with cumulative maxima over the rows that contain bad pixels only.
    A run touching the row edge takes the one good neighbour it has; a row with
    no good pixel is left unchanged.

    Parameters
    ----------
    imageArray
        Image (floating point), modified in place.
    badArray
        Boolean array, `True` where a pixel must be replaced.

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
    """
    if badArray.shape != imageArray.shape:
        raise ValueError(f"badArray shape {badArray.shape} differs from imageArray shape {imageArray.shape}.")
    rows = np.flatnonzero(badArray.any(axis=1))
    if rows.size == 0:
        return 0
    sub = imageArray[rows]
    bad = badArray[rows]
    nx = sub.shape[1]
    cols = np.arange(nx)
    good_idx = np.where(bad, -1, cols[np.newaxis, :])
    left = np.maximum.accumulate(good_idx, axis=1)
    right_rev = np.where(bad[:, ::-1], -1, cols[np.newaxis, :])
    right = nx - 1 - np.maximum.accumulate(right_rev, axis=1)[:, ::-1]
    right = np.where(right >= nx, -1, right)  # no good pixel to the right
    has_left = left >= 0
    has_right = right >= 0
    r_idx = np.arange(sub.shape[0])[:, np.newaxis]
    vleft = sub[r_idx, np.clip(left, 0, nx - 1)]
    vright = sub[r_idx, np.clip(right, 0, nx - 1)]
    span = np.maximum(np.where(has_left & has_right, right - left, 1), 1).astype(np.float64)
    w = np.where(has_left & has_right, (cols[np.newaxis, :] - left) / span, 0.0)
    value = np.where(
        has_left & has_right,
        vleft * (1 - w) + vright * w,
        np.where(has_left, vleft, vright),
    )
    replace = bad & (has_left | has_right)
    sub[replace] = value[replace]
    imageArray[rows] = sub
    return int(replace.sum())
