"""Stretches and intervals: the one place that turns pixel values into an `ImageNormalize`.

The limits come from astropy's own intervals (`ZScaleInterval`, `PercentileInterval`,
`AsymmetricPercentileInterval`, `MinMaxInterval`) applied to the finite pixels, so a test
can recompute them with astropy and compare.
"""

from __future__ import annotations

__all__ = (
    "STRETCHES",
    "finite_values",
    "make_norm",
)

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from astropy.visualization import BaseInterval, ImageNormalize

_LOG = logging.getLogger(__name__)

#: The stretch names `show_image` accepts.
STRETCHES = ("zscale", "asinh", "linear", "log", "histeq")

#: How many pixels (at most, taken with a fixed stride) define a histogram equalisation.
_HISTEQ_SAMPLES = 200_000


def finite_values(array: np.ndarray, finite: np.ndarray | None = None) -> np.ndarray:
    """Return the finite pixels of ``array`` as a 1-D array (no copy when all are finite).

    Parameters
    ----------
    array
        The pixels.
    finite
        Their finite-pixel mask when already known (`None`: computed here).

    Returns
    -------
    values : `numpy.ndarray`
        The finite pixels, flattened.
    """
    if finite is None and np.issubdtype(array.dtype, np.floating):
        ok = np.isfinite(array)
        finite = None if ok.all() else ok
    return array.ravel() if finite is None else array[finite]


def check_stretch(stretch: str, percentile: float | Sequence[float] | None) -> None:
    """Raise `ValueError` for an unknown stretch or a percentile that cannot be used.

    Parameters
    ----------
    stretch
        One of `STRETCHES`.
    percentile
        A percentage of pixels to keep, a ``(lower, upper)`` pair, or `None`.

    Raises
    ------
    ValueError
        The stretch is unknown, or the percentile unusable (or given with ``"zscale"``).
    """
    if stretch not in STRETCHES:
        raise ValueError(
            f"unknown stretch {stretch!r}; choose one of " + ", ".join(repr(s) for s in STRETCHES)
        )
    if percentile is None:
        return
    if stretch == "zscale":
        raise ValueError(
            "stretch='zscale' chooses its own limits, so percentile= cannot be combined with it; "
            "for percentile limits pick stretch='linear' (or 'asinh', 'log', 'histeq')"
        )
    values = [percentile] if np.isscalar(percentile) else list(percentile)
    if len(values) not in (1, 2) or not all(0 <= float(v) <= 100 for v in values):
        raise ValueError(
            "percentile must be a number in (0, 100] or a (lower, upper) pair of percentiles; "
            f"got {percentile!r}"
        )
    if len(values) == 1 and float(values[0]) == 0:
        raise ValueError("percentile=0 keeps no pixels; use e.g. percentile=99.5")
    if len(values) == 2 and float(values[0]) >= float(values[1]):
        raise ValueError(f"percentile=(lower, upper) needs lower < upper; got {percentile!r}")


def make_interval(stretch: str, percentile: float | Sequence[float] | None) -> BaseInterval:
    """Return the astropy interval that sets the display limits for ``stretch``/``percentile``.

    Parameters
    ----------
    stretch
        One of `STRETCHES`.
    percentile
        As in `check_stretch`.

    Returns
    -------
    interval : `astropy.visualization.BaseInterval`
        The zscale, min-max or (asymmetric) percentile limits.
    """
    from astropy.visualization import (
        AsymmetricPercentileInterval,
        MinMaxInterval,
        PercentileInterval,
        ZScaleInterval,
    )

    check_stretch(stretch, percentile)
    if stretch == "zscale":
        return ZScaleInterval()
    if percentile is None:
        return MinMaxInterval()
    if np.isscalar(percentile):
        return PercentileInterval(float(percentile))
    lower, upper = (float(v) for v in percentile)
    return AsymmetricPercentileInterval(lower, upper)


def make_norm(
    values: np.ndarray, stretch: str = "zscale", percentile: float | Sequence[float] | None = None
) -> ImageNormalize:
    """Build the `~astropy.visualization.ImageNormalize` for finite pixel ``values``.

    Parameters
    ----------
    values
        Finite pixel values (any shape; see `finite_values`).
    stretch
        One of `STRETCHES`. ``"zscale"`` is a linear stretch between IRAF's zscale limits;
        the others stretch between the min/max (or the ``percentile`` limits).
    percentile
        Keep this central percentage of pixels (e.g. 99.5), or a ``(lower, upper)`` pair.

    Returns
    -------
    norm
        The normalisation; a constant image gets limits ``value ± 0.5`` and an image with no
        finite pixel gets ``(0, 1)``, so both still draw.

    Examples
    --------
    >>> import numpy as np
    >>> norm = make_norm(np.arange(101.0), "linear", percentile=(10, 90))
    >>> float(norm.vmin), float(norm.vmax)
    (10.0, 90.0)
    """
    from astropy.visualization import (
        AsinhStretch,
        HistEqStretch,
        ImageNormalize,
        LinearStretch,
        LogStretch,
    )

    interval = make_interval(stretch, percentile)
    if values.size == 0:
        _LOG.warning("the image has no finite pixel: drawing it with limits (0, 1)")
        vmin, vmax = 0.0, 1.0
    else:
        vmin, vmax = (float(v) for v in interval.get_limits(values))
    if not vmax > vmin:
        _LOG.info("all shown pixels equal %g: widening the display limits to ±0.5", vmin)
        vmin, vmax = vmin - 0.5, vmax + 0.5
    if stretch == "asinh":
        stretch_obj = AsinhStretch()
    elif stretch == "log":
        stretch_obj = LogStretch()
    elif stretch == "histeq":
        flat = values.ravel()
        step = max(1, flat.size // _HISTEQ_SAMPLES)
        sample = np.clip((flat[::step].astype(np.float64) - vmin) / (vmax - vmin), 0.0, 1.0)
        # HistEqStretch needs at least two distinct values; a flat image is drawn linearly
        stretch_obj = HistEqStretch(sample) if sample.size > 1 and np.ptp(sample) > 0 else LinearStretch()
    else:
        stretch_obj = LinearStretch()
    return ImageNormalize(vmin=vmin, vmax=vmax, stretch=stretch_obj, clip=True)
