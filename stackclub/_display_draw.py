"""The drawing pieces the display helpers share: colours, figure layout, norms, masks, colour bars.

`stackclub.display`, `stackclub.display_sources` and `stackclub.display_camera` draw through
these, so every helper lays out, stretches and overlays masks the same way.
"""

from __future__ import annotations

__all__ = ("MASK_PLANE_COLORS",)

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._display_adapt import DisplayFrame, shift_wcs
from ._display_norm import finite_values, make_norm

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
