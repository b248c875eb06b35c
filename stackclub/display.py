"""Image display helpers: look at every step of the processing.

The real stack shows images with ``lsst.afw.display``; these helpers are the matplotlib +
`astropy.visualization` equivalent, and work on any image a learner holds: a numpy array,
an astropy ``CCDData``/``NDData``, a FITS HDU or file, the ``lsst.images`` types our
pipeline produces (``Image``, ``Mask``, ``MaskedImage``, ``VisitImage``), our raw type, or
(duck-typed) an ``lsst.afw.image`` ``Exposure`` when the full stack is there.

This module draws one image or several: `show_image`, `compare`, `show_histogram` and
`mask_plane_table`.  What measurement found on an image (`show_sources`, `show_psf`) is drawn
by `stackclub.display_sources`, a raw frame's amplifiers (`show_amplifiers`) by
`stackclub.display_camera`; both are re-exported here.

Every helper returns the matplotlib ``Axes`` (or ``Figure`` for several panels) it drew
on and never calls ``plt.show()``; the drawing is deterministic. Pixel coordinates are the
image's own: an ``lsst.images`` image with ``bbox`` starting at ``(y0, x0)`` is drawn with
its first pixel centred on ``(x0, y0)``, so catalogue positions and amplifier boxes land on
the right pixels. For what an ``lsst.images`` object *is* (its schema, units, provenance),
call its ``describe()``; these helpers draw pixels and do not re-render that report.
"""

from __future__ import annotations

__all__ = (
    "MASK_PLANE_COLORS",
    "STRETCHES",
    "compare",
    "mask_plane_table",
    "show_amplifiers",
    "show_histogram",
    "show_image",
    "show_psf",
    "show_sources",
)

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._display_adapt import as_frame
from ._display_draw import (
    MASK_PLANE_COLORS,
    _colorbar,
    _draw,
    _figsize,
    _fixed_layout,
    _frame_norm,
    _is_wcs_axes,
    _new_axes,
    _plane_colors,
    _resolve_wcs,
)
from ._display_norm import STRETCHES, check_stretch
from ._render import Styled, Table
from .display_camera import show_amplifiers
from .display_sources import show_psf, show_sources

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_LOG = logging.getLogger(__name__)


def show_image(
    image: Any,
    *,
    stretch: str = "zscale",
    percentile: float | Sequence[float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    colorbar: bool = True,
    mask: Any = None,
    mask_planes: Sequence[str] | None = None,
    wcs: Any = None,
    cmap: str = "gray",
    mask_alpha: float = 0.4,
    mask_colors: Mapping[str, str] | None = None,
) -> Axes:
    """Draw an image with a chosen stretch, its mask planes and (with a WCS) sky axes.

    Parameters
    ----------
    image
        A 2-D numpy array, an astropy ``NDData``/``CCDData``, a FITS HDU, ``HDUList`` or file
        path, an ``lsst.images`` ``Image``, ``Mask``, ``MaskedImage`` or ``VisitImage``, our
        raw type (anything with ``.image`` and ``.detector``), or an ``lsst.afw.image``
        ``Exposure``/``MaskedImage`` (duck-typed). A FITS file that ``lsst.images`` wrote is
        read back with ``lsst.images.serialization.read_archive`` (mask, origin and sky
        projection included); any other FITS file shows its first HDU with 2-D data.
    stretch
        ``"zscale"`` (linear between IRAF's zscale limits, the default), ``"linear"``,
        ``"asinh"``, ``"log"`` or ``"histeq"`` (histogram equalisation). All but
        ``"zscale"`` stretch between the minimum and maximum, or the ``percentile`` limits.
    percentile
        Keep this central percentage of pixels (e.g. ``99.5``) or a ``(lower, upper)`` pair
        of percentiles. Not with ``"zscale"``, which sets its own limits.
    ax
        Axes to draw on; by default a new figure (with sky axes when there is a WCS).
    title
        Title; by default the type of the image (or the file name).
    colorbar
        Whether to add a colour bar (labelled with the pixel unit when known).
    mask
        A mask to overlay *instead of* the image's own: an ``lsst.images.Mask``, a dict of
        plane name -> boolean array, or one boolean array. Must have the image's shape.
    mask_planes
        Names of the planes to overlay; by default every plane with at least one pixel set.
        Pass ``()`` to overlay none.
    wcs
        ``None`` uses the image's own WCS (``SkyProjection``, FITS header, ``NDData.wcs``);
        ``False`` draws pixel axes; an `astropy.wcs.WCS` (array coordinates) is used instead.
        Sky axes need a new figure or an ``ax`` made with ``projection=wcs``.
    cmap
        Matplotlib colour map of the pixels. NaN/inf pixels are drawn orange and counted
        in the legend.
    mask_alpha
        Opacity of the mask overlay.
    mask_colors
        Plane name -> colour, overriding `MASK_PLANE_COLORS`.

    Returns
    -------
    ax
        The axes drawn on: ``ax.images[0]`` is the pixel layer (its ``norm`` holds the limits),
        ``ax.get_legend()`` names the overlaid planes.

    Raises
    ------
    TypeError
        ``image`` is of a type these helpers do not understand.
    ValueError
        The pixels are not a non-empty 2-D array, ``mask`` has another shape, a plane in
        ``mask_planes`` does not exist, or ``stretch``/``percentile`` is not understood.

    Notes
    -----
    The limits are astropy's (`~astropy.visualization.ZScaleInterval`,
    `~astropy.visualization.PercentileInterval`, ...) over the finite pixels, so NaN and inf
    never spoil the stretch. A constant image is drawn with limits ``value ± 0.5``. The
    mask's plane descriptions are listed by `mask_plane_table`; for the whole object, call
    its ``describe()``.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stackclub import show_image
    >>> frame = np.random.default_rng(1).normal(100.0, 5.0, (64, 96))
    >>> ax = show_image(frame, stretch="asinh", percentile=99)
    >>> ax.images[0].norm.vmin < 100 < ax.images[0].norm.vmax
    True
    """
    check_stretch(stretch, percentile)
    frame = as_frame(image, mask=mask)
    sky = _resolve_wcs(frame, wcs)
    if ax is None:
        ax = _new_axes(frame, sky)
    elif sky is not None and not _is_wcs_axes(ax):
        _LOG.info("the image has a WCS but ax is not a WCSAxes: drawing pixel axes")
    norm = _frame_norm(
        [frame], "linear" if frame.mask_only else stretch, None if frame.mask_only else percentile
    )
    artist = _draw(
        frame,
        ax,
        norm,
        cmap=cmap,
        mask_planes=mask_planes,
        mask_alpha=mask_alpha,
        mask_colors=mask_colors,
        title=title,
    )
    if colorbar and not frame.mask_only:
        _colorbar(artist, ax, frame)
    return ax


def mask_plane_table(image: Any, *, mask: Any = None, mask_colors: Mapping[str, str] | None = None) -> Table:
    """List an image's mask planes: overlay colour, pixels set, and the schema's description.

    Parameters
    ----------
    image
        Anything `show_image` accepts that carries a mask (or pass ``mask``).
    mask
        A mask to list instead of the image's own (same forms as in `show_image`).
    mask_colors
        Plane name -> colour, overriding `MASK_PLANE_COLORS`.

    Returns
    -------
    table
        A `~stackclub._render.Table` (escaped HTML in a notebook, aligned text in a terminal).

    Notes
    -----
    This adds what only the display knows -- each plane's overlay colour and how many pixels
    are set -- to the schema's descriptions. For the schema itself (bits, element type), call
    ``mask.schema.describe()``; ``mask.describe(detail=True)`` also counts pixels per plane.

    Examples
    --------
    >>> import numpy as np
    >>> from stackclub.display import mask_plane_table
    >>> hot = np.zeros((4, 4), bool); hot[1, 2] = True
    >>> print(mask_plane_table(np.zeros((4, 4)), mask={"BAD": hot}))
    plane colour pixels set description
    ----- ------ ---------- -----------
    BAD   red    1
    """
    frame = as_frame(image, mask=mask, function="mask_plane_table")
    colors = _plane_colors(list(frame.planes), mask_colors)
    rows: list[Sequence[Any]] = []
    for name in frame.planes:
        color = colors[name]
        rows.append(
            [
                name,
                Styled(color, f"color: {color}"),
                int(np.count_nonzero(frame.plane(name))),
                frame.plane_docs.get(name, ""),
            ]
        )
    return Table(["plane", "colour", "pixels set", "description"], rows, title=None)


def compare(
    images: Sequence[Any] | Mapping[str, Any],
    titles: Sequence[str] | None = None,
    *,
    share_stretch: bool = True,
    stretch: str = "zscale",
    percentile: float | Sequence[float] | None = None,
    ncols: int | None = None,
    colorbar: bool = True,
    mask_planes: Sequence[str] | None = (),
    wcs: Any = False,
    cmap: str = "gray",
    panel_size: float = 4.0,
) -> Figure:
    """Show images side by side -- e.g. raw -> post-ISR -- on one stretch.

    Parameters
    ----------
    images
        Images `show_image` accepts, in panel order; or a dict of title -> image.
    titles
        One title per panel (by default each image's type, or the dict's keys).
    share_stretch
        Draw every panel with the same limits (computed from all panels' finite pixels
        together, concatenated in panel order) and one colour bar; otherwise each panel has
        its own limits and colour bar.
    stretch, percentile
        As in `show_image`.
    ncols
        Panels per row (default: all in one row, up to 3).
    colorbar
        Whether to add colour bars.
    mask_planes
        Planes to overlay on every panel (default none: compare pixels).
    wcs
        ``False`` (default) draws pixel axes, ``None`` each image's own sky axes.
    cmap
        Matplotlib colour map.
    panel_size
        Size of the longer side of each panel, in inches.

    Returns
    -------
    fig
        The figure; its image panels are ``[ax for ax in fig.axes if ax.images]``. Panels of
        equal pixel bounds share their x and y axes, so zooming one zooms all.

    Raises
    ------
    ValueError
        No images, or as many titles as images are not given.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stackclub import compare
    >>> rng = np.random.default_rng(3)
    >>> raw = rng.normal(1000.0, 5.0, (40, 60)); calibrated = raw - 1000.0
    >>> fig = compare([raw, calibrated], ["raw", "bias-subtracted"], share_stretch=False)
    >>> len([ax for ax in fig.axes if ax.images])
    2
    """
    import matplotlib.pyplot as plt

    if isinstance(images, Mapping):
        if titles is None:
            titles = [str(k) for k in images]
        images = list(images.values())
    images = list(images)
    if not images:
        raise ValueError("compare needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles; give one title per image")
    check_stretch(stretch, percentile)
    frames = [as_frame(image) for image in images]
    n = len(frames)
    ncols = min(n, 3) if ncols is None else max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    skies = [_resolve_wcs(frame, wcs) for frame in frames]
    any_sky = any(sky is not None for sky in skies)
    fig = plt.figure(figsize=_figsize(frames[0].shape, ncols, nrows, panel_size))
    _fixed_layout(fig, sky=any_sky, ncols=ncols, nrows=nrows)
    shared = _frame_norm(frames, stretch, percentile) if share_stretch else None
    axes: list[Axes] = []
    artist = None
    for i, (frame, sky) in enumerate(zip(frames, skies, strict=True)):
        share = next((a for a, f in zip(axes, frames, strict=False) if f.extent == frame.extent), None)
        kwargs: dict[str, Any] = {"projection": sky} if sky is not None else {}
        if share is not None and sky is None and not _is_wcs_axes(share):
            kwargs.update(sharex=share, sharey=share)
        ax = fig.add_subplot(nrows, ncols, i + 1, **kwargs)
        norm = shared if shared is not None else _frame_norm([frame], stretch, percentile)
        artist = _draw(
            frame,
            ax,
            norm,
            cmap=cmap,
            mask_planes=mask_planes,
            mask_alpha=0.4,
            mask_colors=None,
            title=None if titles is None else titles[i],
        )
        if colorbar and not share_stretch:
            _colorbar(artist, ax, frame)
        axes.append(ax)
    if colorbar and share_stretch and artist is not None:
        _colorbar(artist, axes, frames[0])
    return fig


def show_histogram(
    image: Any,
    *,
    bins: int = 200,
    range: tuple[float, float] | None = None,
    sigma: float = 3.0,
    exclude_planes: Sequence[str] = (),
    log: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Histogram the pixel values, marking the sigma-clipped mean, median and standard deviation.

    Parameters
    ----------
    image
        Anything `show_image` accepts. NaN/inf pixels are left out (and counted in the legend).
    bins
        Number of bins.
    range
        ``(low, high)`` of the histogram; by default the clipped mean ± 10 clipped sigma,
        cut to the pixels' min and max.
    sigma
        Clipping threshold for `astropy.stats.sigma_clipped_stats`.
    exclude_planes
        Mask planes whose pixels are left out (e.g. ``("SATURATED", "BAD")``).
    log
        Logarithmic count axis.
    ax, title
        As in `show_image`.

    Returns
    -------
    ax
        The axes: the histogram is a ``StepPatch`` (``gid="histogram"``), the lines have
        ``gid`` ``"mean"``, ``"median"``, ``"mean-std"`` and ``"mean+std"``.

    Raises
    ------
    ValueError
        No finite pixel is left to histogram, or ``bins``/``range`` is not usable.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stackclub import show_histogram
    >>> ax = show_histogram(np.random.default_rng(4).normal(10.0, 2.0, (100, 100)))
    >>> round(next(l for l in ax.lines if l.get_gid() == "mean").get_xdata()[0])
    10
    """
    import matplotlib.pyplot as plt
    from astropy.stats import sigma_clipped_stats

    if int(bins) < 1:
        raise ValueError(f"bins must be a positive number; got {bins!r}")
    frame = as_frame(image)
    finite = frame.finite()
    keep = np.ones(frame.shape, dtype=bool) if finite is None else finite.copy()
    for name in exclude_planes:
        keep &= ~frame.plane(name)
    values = frame.array[keep]
    n_bad = 0 if finite is None else int(frame.array.size - np.count_nonzero(finite))
    if values.size == 0:
        raise ValueError("no finite (unexcluded) pixel to histogram")
    mean, median, std = (float(v) for v in sigma_clipped_stats(values, sigma=sigma))
    lo_data, hi_data = float(values.min()), float(values.max())
    if range is None:
        lo, hi = max(lo_data, mean - 10.0 * std), min(hi_data, mean + 10.0 * std)
    else:
        lo, hi = (float(v) for v in range)
        if not hi > lo:
            raise ValueError(f"range must be (low, high) with low < high; got {range!r}")
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=int(bins), range=(lo, hi))
    if ax is None:
        fig = plt.figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
    outside = int(values.size - counts.sum())
    ax.stairs(
        counts,
        edges,
        gid="histogram",
        color="0.25",
        label=f"{values.size} pixels ({outside} outside the range)",
    )
    ax.axvline(mean, color="tab:red", gid="mean", label=f"clipped mean = {mean:.5g}")
    ax.axvline(median, color="tab:blue", linestyle=":", gid="median", label=f"clipped median = {median:.5g}")
    ax.axvline(mean - std, color="tab:red", linestyle="--", gid="mean-std", label=f"± clipped σ = {std:.4g}")
    ax.axvline(mean + std, color="tab:red", linestyle="--", gid="mean+std")
    if n_bad:
        ax.plot([], [], " ", label=f"{n_bad} NaN/inf pixels left out")
    if log:
        ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("pixel value" + (f" [{frame.unit}]" if frame.unit else ""))
    ax.set_ylabel("pixels per bin")
    ax.set_title(frame.label if title is None else title)
    ax.legend(fontsize="small", framealpha=0.8)
    return ax
