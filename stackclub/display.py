"""Image display helpers: look at every step of the processing.

The real stack shows images with ``lsst.afw.display``; these helpers are the matplotlib +
`astropy.visualization` equivalent, and work on any image a learner holds: a numpy array,
an astropy ``CCDData``/``NDData``, a FITS HDU or file, the ``lsst.images`` types our
pipeline produces (``Image``, ``Mask``, ``MaskedImage``, ``VisitImage``), our raw type, or
(duck-typed) an ``lsst.afw.image`` ``Exposure`` when the full stack is there.

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

from ._display_adapt import DisplayFrame, as_frame, shift_wcs
from ._display_norm import STRETCHES, check_stretch, finite_values, make_norm
from ._render import Styled, Table

if TYPE_CHECKING:
    import astropy.wcs
    from astropy.visualization import ImageNormalize
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_LOG = logging.getLogger(__name__)

#: Default overlay colour of well-known mask planes (as ``lsst.afw.display`` colours them);
#: other planes take colours from matplotlib's ``tab10`` cycle in schema order.
MASK_PLANE_COLORS: dict[str, str] = {
    "BAD": "red",
    "CR": "magenta",
    "COSMIC_RAY": "magenta",
    "EDGE": "yellow",
    "DETECTION_EDGE": "yellow",
    "INTERPOLATED": "lime",
    "INTRP": "lime",
    "SATURATED": "green",
    "SAT": "green",
    "DETECTED": "blue",
    "DETECTED_NEGATIVE": "cyan",
    "SUSPECT": "gold",
    "NO_DATA": "orange",
    "CLIPPED": "chocolate",
    "CROSSTALK": "deeppink",
    "UNMASKEDNAN": "darkorange",
    "VIGNETTED": "slateblue",
}

#: Colour of NaN/inf pixels (the colour of ``NO_DATA``: there is no datum there).
_BAD_PIXEL_COLOR = "orange"

#: Amplifier regions drawn by `show_amplifiers`: attribute of ``AmplifierRawGeometry`` -> colour.
_AMP_REGIONS: dict[str, tuple[str, str]] = {
    "data": ("data_bbox", "tab:green"),
    "prescan": ("prescan_bbox", "tab:purple"),
    "serial_overscan": ("serial_overscan_bbox", "tab:orange"),
    "parallel_overscan": ("parallel_overscan_bbox", "tab:cyan"),
}

_SIGMA_TO_FWHM = 2.0 * math.sqrt(2.0 * math.log(2.0))


# --------------------------------------------------------------------------------------------
# shared drawing pieces


def _plane_colors(names: Sequence[str], overrides: Mapping[str, str] | None) -> dict[str, str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cycle = [to_hex(c) for c in colormaps["tab10"](np.arange(10))]
    colors: dict[str, str] = {}
    spare = 0
    for name in names:
        if overrides and name in overrides:
            colors[name] = overrides[name]
        elif name in MASK_PLANE_COLORS:
            colors[name] = MASK_PLANE_COLORS[name]
        else:
            colors[name] = cycle[spare % len(cycle)]
            spare += 1
    return colors


def _resolve_wcs(frame: DisplayFrame, wcs: Any) -> astropy.wcs.WCS | None:
    """``wcs=None`` -> the image's own; ``False`` -> none; an astropy WCS -> that one (array coords)."""
    if wcs is None:
        return frame.wcs
    if wcs is False:
        return None
    import astropy.wcs

    if isinstance(wcs, astropy.wcs.WCS):
        if not (wcs.has_celestial and wcs.celestial.naxis == 2):
            raise ValueError("wcs must describe two celestial axes (RA/Dec); this one does not")
        return shift_wcs(wcs.celestial, frame.x0, frame.y0)
    raise TypeError(f"wcs must be None, False or an astropy.wcs.WCS; got {type(wcs).__name__}")


#: Margins around image panels, in inches: left (pixel axes), left (sky axes), right, bottom, top.
_MARGINS = {"left": 0.75, "left_sky": 1.05, "right": 0.2, "bottom": 0.6, "top": 0.45, "colorbar": 1.0}


def _figsize(
    shape: tuple[int, int], ncols: int = 1, nrows: int = 1, panel: float = 5.0
) -> tuple[float, float]:
    ny, nx = shape
    aspect = min(max(ny / nx, 0.25), 4.0)
    width, height = (panel, panel * aspect) if aspect <= 1 else (panel / aspect, panel)
    m = _MARGINS
    return (
        ncols * (width + m["left_sky"]) + m["right"] + m["colorbar"],
        nrows * (height + m["bottom"]) + m["top"],
    )


def _fixed_layout(fig: Figure, *, sky: bool, ncols: int = 1, nrows: int = 1) -> None:
    """Leave fixed room (in inches) for labels, title and colour bar.

    Image figures do not use matplotlib's constrained layout: it makes ``savefig`` draw every
    image twice (once to measure, once to render) -- doubling the time on a 2k x 4k frame --
    and it collapses for WCSAxes viewed away from the WCS reference pixel.
    """
    width, height = fig.get_size_inches()
    m = _MARGINS
    left = m["left_sky"] if sky else m["left"]
    fig.subplots_adjust(
        left=left / width,
        right=1.0 - m["right"] / width,
        bottom=m["bottom"] / height,
        top=1.0 - m["top"] / height,
        # gaps between panels, as fractions of a panel's size (matplotlib's convention)
        wspace=(m["left_sky"] + 0.3) / max(width / ncols - m["left_sky"] - 0.3, 0.5),
        hspace=(m["bottom"] + m["top"]) / max(height / nrows - m["bottom"] - m["top"], 0.5),
    )


def _new_axes(frame: DisplayFrame, wcs: astropy.wcs.WCS | None) -> Axes:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=_figsize(frame.shape))
    _fixed_layout(fig, sky=wcs is not None)
    return fig.add_subplot(projection=wcs) if wcs is not None else fig.add_subplot()


def _is_wcs_axes(ax: Axes) -> bool:
    return hasattr(ax, "coords") and hasattr(ax, "wcs")


def _label_axes(ax: Axes, frame: DisplayFrame) -> None:
    if _is_wcs_axes(ax) and getattr(ax, "wcs", None) is not None and ax.wcs.has_celestial:  # type: ignore[attr-defined]
        ax.coords[0].set_axislabel("Right ascension")  # type: ignore[attr-defined]
        ax.coords[0].set_ticks(number=4)  # type: ignore[attr-defined]  # sexagesimal labels are wide
        ax.coords[1].set_axislabel("Declination")  # type: ignore[attr-defined]
    else:
        ax.set_xlabel("x [pixel]")
        ax.set_ylabel("y [pixel]")


def _frame_norm(
    frames: Sequence[DisplayFrame], stretch: str, percentile: float | Sequence[float] | None
) -> ImageNormalize:
    """One norm for the finite, unmasked-by-NaN pixels of ``frames`` taken together."""
    values = [finite_values(f.array, f.finite()) for f in frames if not f.mask_only]
    if not values:
        return make_norm(np.array([0.0, 1.0]), "linear")
    joined = values[0] if len(values) == 1 else np.concatenate(values, dtype=np.result_type(*values))
    return make_norm(joined, stretch, percentile)


def _draw(
    frame: DisplayFrame,
    ax: Axes,
    norm: ImageNormalize,
    *,
    cmap: str,
    mask_planes: Sequence[str] | None,
    mask_alpha: float,
    mask_colors: Mapping[str, str] | None,
    title: str | None,
) -> Any:
    """Draw ``frame`` on ``ax`` with ``norm`` and its mask overlay; return the image artist."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    colormap = colormaps[cmap].with_extremes(bad=_BAD_PIXEL_COLOR)
    finite = frame.finite()
    artist = ax.imshow(
        frame.array,  # matplotlib masks NaN/inf itself (drawn in the colour map's 'bad' colour)
        origin="lower",
        extent=frame.extent,
        norm=norm,
        cmap=colormap,
        interpolation=_interpolation(frame, ax),
        interpolation_stage="data",  # resample first, then stretch: fast on 2k x 4k frames
    )
    handles: list[Any] = []
    if finite is not None:
        n_bad = int(frame.array.size - np.count_nonzero(finite))
        handles.append(Patch(color=_BAD_PIXEL_COLOR, label=f"NaN/inf ({n_bad} px)"))
    handles += _overlay_mask(frame, ax, mask_planes, mask_alpha, mask_colors)
    if handles:
        ax.legend(
            handles=handles,
            loc="upper right",
            fontsize="small",
            framealpha=0.8,
            title="mask planes" if frame.planes and len(handles) > (finite is not None) else None,
        )
    ax.set_xlim(frame.extent[0], frame.extent[1])
    ax.set_ylim(frame.extent[2], frame.extent[3])
    _label_axes(ax, frame)
    ax.set_title(frame.label if title is None else title)
    return artist


def _interpolation(frame: DisplayFrame, ax: Axes) -> str:
    """Sharp pixels when the image is magnified; anti-aliasing when it is shrunk on screen."""
    ny, nx = frame.shape
    screen = ax.get_window_extent()
    return "nearest" if nx <= screen.width and ny <= screen.height else "antialiased"


def _overlay_mask(
    frame: DisplayFrame,
    ax: Axes,
    mask_planes: Sequence[str] | None,
    alpha: float,
    overrides: Mapping[str, str] | None,
) -> list[Any]:
    """Paint the chosen planes (later planes on top) as one layer; return legend handles.

    The layer is an index image (0 = no plane, k = the k-th chosen plane) drawn through a
    colour map whose entry 0 is transparent: matplotlib resamples one small integer array
    instead of compositing a full-resolution RGBA image (3x faster on a 2k x 4k frame).
    """
    from matplotlib.colors import ListedColormap, Normalize, to_rgba
    from matplotlib.patches import Patch

    if not frame.planes:
        if mask_planes:
            raise ValueError(f"mask_planes={list(mask_planes)!r} given, but this image has no mask")
        return []
    if isinstance(mask_planes, str):
        mask_planes = [mask_planes]
    if mask_planes is None:
        chosen = [(name, plane) for name in frame.planes if (plane := frame.plane(name)).any()]
    else:
        chosen = [(name, frame.plane(name)) for name in mask_planes]
    if not chosen:
        return []
    if frame.mask_only:
        alpha = max(alpha, 0.85)
    colors = _plane_colors([name for name, _ in chosen], overrides)
    index = np.zeros(frame.shape, dtype=np.uint8 if len(chosen) < 255 else np.uint16)
    palette = [(0.0, 0.0, 0.0, 0.0)]
    handles = []
    for k, (name, plane) in enumerate(chosen, start=1):
        index[plane] = k
        palette.append(to_rgba(colors[name], alpha))
        handles.append(Patch(facecolor=colors[name], alpha=alpha, edgecolor="none", label=name))
    layer = ax.imshow(
        index,
        origin="lower",
        extent=frame.extent,
        cmap=ListedColormap(palette, name="stackclub_mask_planes"),
        norm=Normalize(vmin=-0.5, vmax=len(chosen) + 0.5),
        interpolation="nearest",
        interpolation_stage="data",
    )
    layer.set_gid("mask_planes")
    return handles


def _colorbar(artist: Any, ax: Axes | Sequence[Axes], frame: DisplayFrame) -> Any:
    from matplotlib.ticker import MaxNLocator

    cbar = artist.figure.colorbar(artist, ax=ax, shrink=0.9)
    # with ImageNormalize the colour bar's axis has a 'function' scale that draws ticks beyond
    # its ends (they overlap the end labels): give it ticks inside the limits only
    vmin, vmax = float(artist.norm.vmin), float(artist.norm.vmax)
    ticks = [t for t in MaxNLocator(nbins=7).tick_values(vmin, vmax) if vmin <= t <= vmax]
    cbar.set_ticks(ticks)
    if frame.unit:
        cbar.set_label(frame.unit)
    return cbar


# --------------------------------------------------------------------------------------------
# public helpers


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
    frame = as_frame(image, mask=mask)
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


def show_amplifiers(
    raw: Any,
    detector: Any = None,
    *,
    geometry: str = "auto",
    regions: Sequence[str] = ("data", "prescan", "serial_overscan", "parallel_overscan"),
    ax: Axes | None = None,
    **image_kwargs: Any,
) -> Axes:
    """Box and label each amplifier's data, prescan and overscan regions on a raw frame.

    Parameters
    ----------
    raw
        The raw frame: our raw type (``.image`` + ``.detector``) or any image `show_image`
        accepts (then pass ``detector``).
    detector
        An ``lsst.images.cameras.Detector``; by default ``raw.detector``.
    geometry
        Which ``AmplifierRawGeometry`` to read: ``"assembled"`` (all amplifiers in one
        untrimmed frame), ``"unassembled"`` (one amplifier per image) or ``"auto"``
        (assembled when the detector has it).
    regions
        Regions to box, from ``"data"``, ``"prescan"``, ``"serial_overscan"``,
        ``"parallel_overscan"``.
    ax
        Axes to draw on.
    **image_kwargs
        Passed to `show_image` (``stretch``, ``percentile``, ``title``, ...).

    Returns
    -------
    ax
        The axes; each box is a ``Rectangle`` whose ``gid`` is ``"<amp>:<region>"``.

    Raises
    ------
    ValueError
        No detector, an unknown region or geometry, or no amplifier region falls on the
        image (the detector does not describe this raw frame). Boxes are clipped to the
        image, so a cut-out of a raw (one amplifier) shows the regions it holds.

    Notes
    -----
    Only the boxes are drawn. For the amplifiers' names, gains, read noise and saturation
    levels, call ``detector.describe()``: lsst-images already renders that report.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stackclub import show_amplifiers
    >>> ax = show_amplifiers(raw)  # doctest: +SKIP
    >>> sorted({p.get_gid().split(":")[1] for p in ax.patches})  # doctest: +SKIP
    ['data', 'parallel_overscan', 'prescan', 'serial_overscan']
    """
    from matplotlib.patches import Patch, Rectangle

    if detector is None:
        detector = getattr(raw, "detector", None)
    if detector is None:
        raise ValueError("show_amplifiers needs a detector: pass detector=..., or a raw with a .detector")
    unknown = [r for r in regions if r not in _AMP_REGIONS]
    if unknown:
        raise ValueError(f"unknown region(s) {unknown!r}; choose from {list(_AMP_REGIONS)!r}")
    if geometry not in ("auto", "assembled", "unassembled"):
        raise ValueError(f"geometry must be 'auto', 'assembled' or 'unassembled'; got {geometry!r}")
    frame = as_frame(raw)
    image_kwargs.setdefault(
        "title", f"{getattr(detector, 'name', 'detector')}: {len(detector.amplifiers)} amplifiers"
    )
    image_kwargs.setdefault("mask_planes", ())
    ax = show_image(frame, ax=ax, **image_kwargs)
    left, right, bottom, top = frame.extent
    drawn = 0
    for amp in detector.amplifiers:
        raw_geometry = _amp_geometry(amp, geometry)
        for region in regions:
            attr, color = _AMP_REGIONS[region]
            box = getattr(raw_geometry, attr)
            if box is None:
                continue
            # clip to the image: a cut-out of a raw (one amplifier, a bbox) shows what it holds
            x_lo, x_hi = max(box.x.start - 0.5, left), min(box.x.stop - 0.5, right)
            y_lo, y_hi = max(box.y.start - 0.5, bottom), min(box.y.stop - 0.5, top)
            if x_hi <= x_lo or y_hi <= y_lo:
                continue
            filled = region != "data"
            ax.add_patch(
                Rectangle(
                    (x_lo, y_lo),
                    x_hi - x_lo,
                    y_hi - y_lo,
                    gid=f"{amp.name}:{region}",
                    facecolor=color if filled else "none",
                    alpha=0.3 if filled else 1.0,
                    edgecolor=color,
                    linewidth=1.2,
                )
            )
            drawn += 1
            if region == "data":
                ax.text(
                    0.5 * (x_lo + x_hi),
                    0.5 * (y_lo + y_hi),
                    amp.name,
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="black",
                    bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"},
                )
    if drawn == 0:
        raise ValueError(
            f"no amplifier region of detector {getattr(detector, 'name', '?')!r} ({geometry} geometry) "
            f"falls on this image (x {left + 0.5:g}..{right - 0.5:g}, y {bottom + 0.5:g}..{top - 0.5:g}); "
            "does this detector describe this raw frame? Try geometry='assembled' or 'unassembled'."
        )
    handles = [
        Patch(
            facecolor="none" if r == "data" else _AMP_REGIONS[r][1],
            edgecolor=_AMP_REGIONS[r][1],
            alpha=1.0 if r == "data" else 0.5,
            label=r.replace("_", " "),
        )
        for r in regions
    ]
    ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.8)
    return ax


def _amp_geometry(amp: Any, geometry: str) -> Any:
    assembled = getattr(amp, "assembled_raw_geometry", None)
    unassembled = getattr(amp, "unassembled_raw_geometry", None)
    chosen = {"assembled": assembled, "unassembled": unassembled}.get(
        geometry, assembled if assembled is not None else unassembled
    )
    if chosen is None:
        raise ValueError(f"amplifier {amp.name!r} has no {geometry} raw geometry")
    return chosen


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


def show_histogram(
    image: Any,
    *,
    bins: int = 200,
    range: tuple[float, float] | None = None,  # noqa: A002 - numpy's name
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
