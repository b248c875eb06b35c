"""Draw what measurement found on an image: catalogue sources (`show_sources`) and the PSF (`show_psf`).

`show_sources` marks a catalogue's positions over an image, as circles or as ellipses from
its second moments; `show_psf` draws a PSF model's kernel image with its FWHM.  Both work on
the ``lsst.images`` types our pipeline writes and on plain arrays and astropy tables, and
draw the image itself through `stackclub.display.show_image`.
"""

from __future__ import annotations

__all__ = (
    "show_psf",
    "show_sources",
)

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._display_adapt import as_frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_LOG = logging.getLogger(__name__)

_SIGMA_TO_FWHM = 2.0 * math.sqrt(2.0 * math.log(2.0))


def show_sources(
    image: Any,
    catalog: Any,
    *,
    x: str = "x",
    y: str = "y",
    shape: str | Sequence[str] | None = "auto",
    radius: float = 6.0,
    nsigma: float = 2.0,
    color: str = "lime",
    label: str = "sources",
    ax: Axes | None = None,
    **image_kwargs: Any,
) -> Axes:
    """Mark catalogue sources over an image: circles, or ellipses from second moments.

    Parameters
    ----------
    image
        Anything `show_image` accepts, or `None` to mark sources on ``ax`` as it is.
    catalog
        An astropy ``Table``, a pandas ``DataFrame``, a numpy structured array or a dict of
        columns. Positions are in the image's pixel coordinates (``bbox`` origin included).
    x, y
        Names of the position columns (Rubin catalogues: ``"slot_Centroid_x"``; photutils:
        ``"xcentroid"``).
    shape
        Names of the ``(xx, yy, xy)`` second-moment columns to draw ellipses; ``"auto"`` looks
        for ``xx/yy/xy``, ``ixx/iyy/ixy``, ``slot_Shape_*``, ``base_SdssShape_*`` and
        photutils' ``covar_sigx2/covar_sigy2/covar_sigxy``; `None` draws circles.
    radius
        Circle radius in pixels (also used for rows whose moments are not finite).
    nsigma
        Ellipse semi-axes in units of the moments' sigma.
    color
        Marker colour.
    label
        Legend label; the number of sources drawn is appended.
    ax
        Axes to draw on (required when ``image`` is `None`).
    **image_kwargs
        Passed to `show_image` (``stretch``, ``percentile``, ``mask_planes``, ...).

    Returns
    -------
    ax
        The axes; the markers are one ``EllipseCollection`` with ``gid="sources"``, one
        marker per source with finite position.

    Raises
    ------
    ValueError
        A named column is missing (the message lists the columns there are), or neither an
        image nor ``ax`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stackclub import show_sources
    >>> sky = np.random.default_rng(2).normal(0.0, 1.0, (50, 50))
    >>> ax = show_sources(sky, {"x": [10.0, 30.0], "y": [12.0, 40.0]})
    >>> len(ax.collections[0].get_offsets())
    2
    """
    from matplotlib.collections import EllipseCollection
    from matplotlib.lines import Line2D

    from .display import show_image  # display re-exports this module's helpers: import on use

    if image is not None:
        ax = show_image(image, ax=ax, **image_kwargs)
    elif ax is None:
        raise ValueError("show_sources needs an image, or ax= with an image already drawn on it")
    xs = _column(catalog, x)
    ys = _column(catalog, y)
    if xs.shape != ys.shape:
        raise ValueError(f"columns {x!r} and {y!r} have different lengths ({xs.size} and {ys.size})")
    widths = np.full(xs.shape, 2.0 * radius)
    heights = widths.copy()
    angles = np.zeros(xs.shape)
    moment_names = _find_shape_columns(catalog, shape)
    if moment_names is not None:
        ixx, iyy, ixy = (_column(catalog, name) for name in moment_names)
        a, b, theta = _moments_to_ellipse(ixx, iyy, ixy)
        ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(theta)
        widths[ok] = 2.0 * nsigma * np.maximum(a[ok], 0.5)
        heights[ok] = 2.0 * nsigma * np.maximum(b[ok], 0.5)
        angles[ok] = theta[ok]
    keep = np.isfinite(xs) & np.isfinite(ys)
    if not keep.all():
        _LOG.info("%d sources have no finite position and are not drawn", int((~keep).sum()))
    offsets = np.column_stack([xs[keep], ys[keep]])
    markers = EllipseCollection(
        widths[keep],
        heights[keep],
        angles[keep],
        units="xy",
        offsets=offsets,
        offset_transform=ax.transData,
        facecolors="none",
        edgecolors=color,
        linewidths=1.0,
    )
    markers.set_gid("sources")
    ax.add_collection(markers, autolim=False)
    legend = ax.get_legend()
    handles = list(legend.legend_handles) if legend is not None else []
    handles.append(
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markerfacecolor="none",
            markeredgecolor=color,
            label=f"{label} ({len(offsets)})",
        )
    )
    ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.8)
    return ax


def _column_names(catalog: Any) -> list[str]:
    for attr in ("colnames", "columns"):
        names = getattr(catalog, attr, None)
        if names is not None:
            return [str(n) for n in names]
    dtype_names = getattr(getattr(catalog, "dtype", None), "names", None)
    if dtype_names:
        return list(dtype_names)
    if isinstance(catalog, Mapping):
        return [str(k) for k in catalog]
    return []


def _column(catalog: Any, name: str) -> np.ndarray:
    try:
        column = catalog[name]
    except (KeyError, ValueError, IndexError, TypeError):
        names = _column_names(catalog)
        raise ValueError(
            f"the catalogue has no column {name!r}; its columns are: {', '.join(names) or '(none found)'}"
        ) from None
    column = getattr(column, "value", column)  # astropy Quantity -> plain numbers
    if hasattr(column, "filled"):
        column = column.filled(np.nan)
    return np.asarray(column, dtype=float).ravel()


_SHAPE_CANDIDATES = (
    ("xx", "yy", "xy"),
    ("ixx", "iyy", "ixy"),
    ("slot_Shape_xx", "slot_Shape_yy", "slot_Shape_xy"),
    ("base_SdssShape_xx", "base_SdssShape_yy", "base_SdssShape_xy"),
    ("covar_sigx2", "covar_sigy2", "covar_sigxy"),
)


def _find_shape_columns(catalog: Any, shape: str | Sequence[str] | None) -> tuple[str, str, str] | None:
    if shape is None:
        return None
    if shape == "auto":
        names = set(_column_names(catalog))
        for candidate in _SHAPE_CANDIDATES:
            if set(candidate) <= names:
                return candidate
        return None
    if isinstance(shape, str) or len(shape) != 3:
        raise ValueError(f"shape must be 'auto', None or three column names (xx, yy, xy); got {shape!r}")
    return (str(shape[0]), str(shape[1]), str(shape[2]))


def _moments_to_ellipse(ixx: np.ndarray, iyy: np.ndarray, ixy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Semi-major/minor sigma and position angle (degrees from +x) of second moments."""
    half_sum = 0.5 * (ixx + iyy)
    root = np.sqrt(0.25 * (ixx - iyy) ** 2 + ixy**2)
    a = np.sqrt(np.clip(half_sum + root, 0.0, None))
    b = np.sqrt(np.clip(half_sum - root, 0.0, None))
    theta = np.degrees(0.5 * np.arctan2(2.0 * ixy, ixx - iyy))
    return a, b, theta


def show_psf(
    psf_or_image: Any,
    *,
    x: float | None = None,
    y: float | None = None,
    stretch: str = "linear",
    percentile: float | Sequence[float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    colorbar: bool = True,
    cmap: str = "viridis",
) -> Axes:
    """Draw the PSF kernel image at a position, with its FWHM as a circle.

    Parameters
    ----------
    psf_or_image
        An ``lsst.images`` ``PointSpreadFunction``, an image with a ``.psf`` (a
        ``VisitImage``), or a kernel image itself (array, ``Image``, ...).
    x, y
        Where to evaluate a PSF model (default: the centre of its bounds, or of the image).
    stretch, percentile, ax, title, colorbar, cmap
        As in `show_image` (default stretch ``"linear"`` between min and max).

    Returns
    -------
    ax
        The axes; the FWHM circle is the patch with ``gid="fwhm"`` (its width is the FWHM in
        pixels), centred on the kernel's centroid.

    Raises
    ------
    ValueError
        ``x``/``y`` given for a plain kernel image, or the kernel has no positive flux.

    Notes
    -----
    The FWHM is ``2 sqrt(2 ln 2)`` times the kernel's second-moment sigma,
    ``sqrt((Ixx + Iyy) / 2)``: exact for a Gaussian, an approximation otherwise. With a WCS
    the title also gives it in arcseconds. For the model's parameters call its
    ``describe()``.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stackclub import show_psf
    >>> r = np.arange(-10, 11)
    >>> kernel = np.exp(-0.5 * (r[:, None] ** 2 + r[None, :] ** 2) / 2.0**2)
    >>> ax = show_psf(kernel)
    >>> round(next(p for p in ax.patches if p.get_gid() == "fwhm").width, 2)
    4.71
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    kernel, where, pixel_scale = _psf_kernel(psf_or_image, x, y)
    frame = as_frame(kernel)
    values = np.where(np.isfinite(frame.array), frame.array, 0.0).astype(np.float64)
    total = values.sum()
    if not total > 0:
        raise ValueError("the PSF image has no positive flux; cannot measure its FWHM")
    yy, xx = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]]
    xx = xx + frame.x0
    yy = yy + frame.y0
    cx = float((values * xx).sum() / total)
    cy = float((values * yy).sum() / total)
    ixx = float((values * (xx - cx) ** 2).sum() / total)
    iyy = float((values * (yy - cy) ** 2).sum() / total)
    fwhm = _SIGMA_TO_FWHM * math.sqrt(max(0.5 * (ixx + iyy), 0.0))
    if ax is None:
        fig = plt.figure(figsize=(5.6, 4.6), layout="constrained")
        ax = fig.add_subplot()
    if title is None:
        text = f"FWHM = {fwhm:.2f} px"
        if pixel_scale is not None:
            text += f" = {fwhm * pixel_scale:.2f}″"
        title = f"PSF at {where}\n{text}" if where else f"PSF kernel\n{text}"
    from .display import show_image

    show_image(
        frame,
        stretch=stretch,
        percentile=percentile,
        ax=ax,
        title=title,
        colorbar=colorbar,
        wcs=False,
        cmap=cmap,
        mask_planes=(),
    )
    ax.add_patch(
        Circle(
            (cx, cy),
            fwhm / 2.0,
            gid="fwhm",
            facecolor="none",
            edgecolor="red",
            linewidth=1.5,
            label=f"FWHM {fwhm:.2f} px",
        )
    )
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8)
    ax.set_xlabel("x offset [pixel]" if where else "x [pixel]")
    ax.set_ylabel("y offset [pixel]" if where else "y [pixel]")
    return ax


def _psf_kernel(obj: Any, x: float | None, y: float | None) -> tuple[Any, str, float | None]:
    """Return (kernel image, 'where' text, pixel scale in arcsec or None)."""
    pixel_scale = None
    psf = None
    default_xy: tuple[float, float] | None = None
    if hasattr(obj, "compute_kernel_image"):
        psf = obj
        bounds = getattr(obj, "bounds", None)
        bbox = getattr(bounds, "bbox", None)
        if bbox is not None:
            default_xy = (float(bbox.x.center), float(bbox.y.center))
    elif getattr(obj, "psf", None) is not None and hasattr(obj.psf, "compute_kernel_image"):
        psf = obj.psf
        bbox = getattr(obj, "bbox", None)
        if bbox is not None:
            default_xy = (float(bbox.x.center), float(bbox.y.center))
        frame = as_frame(obj)
        if frame.wcs is not None:
            from astropy.wcs.utils import proj_plane_pixel_scales

            pixel_scale = float(np.mean(proj_plane_pixel_scales(frame.wcs)) * 3600.0)
    if psf is None:
        if x is not None or y is not None:
            raise ValueError("x and y choose where to evaluate a PSF model; a kernel image has no position")
        return obj, "", None
    if x is None or y is None:
        if default_xy is None:
            raise ValueError("this PSF has no bounds: pass the position, e.g. show_psf(psf, x=1024, y=2088)")
        x = default_xy[0] if x is None else x
        y = default_xy[1] if y is None else y
    kernel = psf.compute_kernel_image(x=float(x), y=float(y))
    return kernel, f"(x={float(x):g}, y={float(y):g})", pixel_scale
