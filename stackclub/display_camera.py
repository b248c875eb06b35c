"""Draw a raw frame's amplifiers: data, prescan and overscan regions (`show_amplifiers`).

The regions come from the detector's ``AmplifierRawGeometry`` (``lsst.images.cameras``), so
the boxes are the ones the ISR overscan and assembly steps use.
"""

from __future__ import annotations

__all__ = ("show_amplifiers",)

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._display_adapt import as_frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Amplifier regions drawn by `show_amplifiers`: attribute of ``AmplifierRawGeometry`` -> colour.
_AMP_REGIONS: dict[str, tuple[str, str]] = {
    "data": ("data_bbox", "tab:green"),
    "prescan": ("prescan_bbox", "tab:purple"),
    "serial_overscan": ("serial_overscan_bbox", "tab:orange"),
    "parallel_overscan": ("parallel_overscan_bbox", "tab:cyan"),
}


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
    from .display import show_image  # display re-exports this module's helper: import on use

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
