"""The steps of instrument signature removal, one whole-image function each, named as in ip_isr.

Each function mirrors the function of the same name in ``lsst.ip.isr.isrFunctions`` (ip_isr
w.2026.20), working on `lsst.images.MaskedImage` objects with numpy and scipy instead of afw:
`IsrTask.run` calls them in Rubin's order.  They change the image they are given, in place, as
Rubin's do (``applyGains`` returns a view whose unit says electrons).  ``maskNans`` is
``lsst.ip.isr.isr.maskNans`` (C++ in Rubin); ``defectsToBoolArray`` does what Rubin's
``Defects.maskPixels`` does with a defects table.
"""

from __future__ import annotations

__all__ = (
    "applyGains",
    "biasCorrection",
    "checkFilter",
    "darkCorrection",
    "defectsToBoolArray",
    "flatCorrection",
    "getPhysicalFilter",
    "growMasks",
    "interpolateFromMask",
    "makeThresholdMask",
    "maskNans",
    "updateVariance",
    "widenSaturationTrails",
)

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from ._masks import mask_planes_set, set_mask_plane

if TYPE_CHECKING:
    from astropy.table import Table
    from lsst.images import Mask, MaskedImage
    from lsst.images.cameras import Detector

#: Horizontal neighbours only: runs of pixels along a row (``scipy.ndimage.label`` structure).
_ROW_RUNS = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=bool)
#: Rubin's widening of saturated runs: pixels added on each side, by run width (10 or more: 4).
_EXTRA_GROW = np.array([0, 0, 0, 0, 0, 0, 1, 1, 3, 3, 4])


def makeThresholdMask(
    maskedImage: MaskedImage, threshold: float, growFootprints: int = 1, maskName: str = "SATURATED"
) -> int:
    """Set mask plane ``maskName`` on every pixel at or above ``threshold``.

    With ``threshold`` an amplifier's saturation level and ``maskedImage`` its raw pixels, this
    finds the pixels where the amplifier's output saturated: their value says nothing about the
    light that fell there.  A NaN threshold flags nothing.

    Parameters
    ----------
    maskedImage
        Image to test; only its mask is changed.
    threshold
        Level at or above which a pixel is flagged (same units as the image).
    growFootprints
        Grow the flagged regions by this many pixels (Manhattan distance), as `growMasks` does.
    maskName
        Mask plane to set (Rubin's legacy name for ``SATURATED`` is ``SAT``).

    Returns
    -------
    nFlagged
        Number of pixels at or above the threshold (before growing).

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema
    >>> mi = MaskedImage(Image(np.array([[10.0, 53999.0, 54000.0, 60000.0]])),
    ...                  mask_schema=MaskSchema([MaskPlane("SATURATED", "")]))
    >>> makeThresholdMask(mi, 54000.0, growFootprints=0)
    2
    >>> mi.mask.get("SATURATED").tolist()
    [[False, False, True, True]]
    """
    if np.isnan(threshold):
        return 0
    flagged = maskedImage.image.array >= threshold
    set_mask_plane(maskedImage.mask, maskName, flagged)
    if growFootprints > 0:
        growMasks(maskedImage.mask, radius=growFootprints, maskNameList=[maskName], maskValue=maskName)
    return int(np.count_nonzero(flagged))


def growMasks(
    mask: Mask, radius: int = 0, maskNameList: Sequence[str] = ("BAD",), maskValue: str = "BAD"
) -> None:
    """Set plane ``maskValue`` within ``radius`` pixels (Manhattan distance) of the ``maskNameList`` planes.

    Grown masks cover the wings of what was flagged: the charge that spilled next to a saturated
    pixel, for example.  Rubin grows with a Manhattan stencil; so does ``scipy.ndimage``'s
    cross-shaped structuring element applied ``radius`` times.

    Parameters
    ----------
    mask
        Mask to change in place.
    radius
        How far to grow (0: nothing).
    maskNameList
        Planes whose pixels are grown.
    maskValue
        Plane set on the grown pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Box, Mask, MaskPlane, MaskSchema
    >>> mask = Mask(schema=MaskSchema([MaskPlane("BAD", "")]), bbox=Box.from_shape((3, 3)))
    >>> mask.set("BAD", np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=bool))
    >>> growMasks(mask, radius=1)
    >>> mask.get("BAD").astype(int).tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    """
    flagged = mask_planes_set(mask, maskNameList)
    rows, columns = np.flatnonzero(flagged.any(axis=1)), np.flatnonzero(flagged.any(axis=0))
    if radius <= 0 or rows.size == 0:
        return
    # Only the box around the flagged pixels (and ``radius`` beyond) can change: dilate that.
    box = (
        slice(max(rows[0] - radius, 0), rows[-1] + radius + 1),
        slice(max(columns[0] - radius, 0), columns[-1] + radius + 1),
    )
    cross = ndimage.generate_binary_structure(2, 1)
    flagged[box] = ndimage.binary_dilation(flagged[box], structure=cross, iterations=radius)
    set_mask_plane(mask, maskValue, flagged)


def widenSaturationTrails(mask: Mask, maskName: str = "SATURATED") -> None:
    """Widen each row of a saturated region by an amount that grows with its width.

    A wide saturated core spills charge sideways as well as along the column, and the pixels
    next to it are not to be trusted; Rubin widens each horizontal run of saturated pixels by
    0 pixels (runs of 1-5), 1 (6-7), 3 (8-9) or 4 (10 and wider) on each side.

    Parameters
    ----------
    mask
        Mask to change in place.
    maskName
        The saturated plane (Rubin's legacy name: ``SAT``).

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Box, Mask, MaskPlane, MaskSchema
    >>> mask = Mask(schema=MaskSchema([MaskPlane("SATURATED", "")]), bbox=Box.from_shape((1, 12)))
    >>> mask.set("SATURATED", np.array([[0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]], dtype=bool))
    >>> widenSaturationTrails(mask)  # a run of 6 grows by 1 on each side
    >>> mask.get("SATURATED").astype(int).tolist()
    [[0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]]
    """
    saturated = mask.get(maskName)
    rows = np.flatnonzero(saturated.any(axis=1))  # only rows with saturated pixels can change
    runs, _ = ndimage.label(saturated[rows], structure=_ROW_RUNS)
    width = np.bincount(runs.ravel())[runs]  # each pixel: the width of its run (0: not saturated)
    extra = _EXTRA_GROW[np.minimum(width, len(_EXTRA_GROW) - 1)]
    extra[runs == 0] = 0
    widened = saturated[rows]
    for grow in np.unique(extra[extra > 0]):
        row = np.ones((1, 2 * int(grow) + 1), dtype=bool)
        widened |= ndimage.binary_dilation(extra == grow, structure=row)
    saturated[rows] = widened
    set_mask_plane(mask, maskName, saturated)


def biasCorrection(maskedImage: MaskedImage, biasMaskedImage: MaskedImage) -> None:
    """Subtract the bias frame: the readout's own pattern that the overscan level does not remove.

    Parameters
    ----------
    maskedImage
        Overscan-corrected, assembled image (ADU); changed in place.
    biasMaskedImage
        Combined bias (ADU), same bounding box.

    Raises
    ------
    ValueError
        If the two bounding boxes differ.

    Notes
    -----
    Rubin subtracts the whole ``MaskedImage`` (image, variance and mask); the variance is
    replaced by `updateVariance` right after, and the defects reach the mask through
    ``IsrTask.maskDefect``, so only the image is subtracted here.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema
    >>> schema = MaskSchema([MaskPlane("BAD", "")])
    >>> mi = MaskedImage(Image(np.array([[100.0, 102.0]])), mask_schema=schema)
    >>> biasCorrection(mi, MaskedImage(Image(np.array([[1.5, -0.5]])), mask_schema=schema))
    >>> mi.image.array.tolist()
    [[98.5, 102.5]]
    """
    _checkBBox(maskedImage, biasMaskedImage, "bias")
    maskedImage.image.array -= biasMaskedImage.image.array


def updateVariance(maskedImage: MaskedImage, gain: float, readNoise: float, replace: bool = True) -> None:
    """Set the variance plane from the image: photon (Poisson) noise plus read noise.

    In ADU, a pixel with ``image`` ADU counted ``image * gain`` electrons, whose Poisson
    variance is ``image * gain`` electrons squared, i.e. ``image / gain`` ADU squared; the read
    noise (electrons) adds ``(readNoise / gain)**2``.  As Rubin's, negative pixels give a
    smaller (possibly negative) variance: ``IsrTask.maskNegativeVariance`` flags those.

    Parameters
    ----------
    maskedImage
        Image in ADU (bias-subtracted), usually one amplifier's view; its variance is changed.
    gain
        Gain in electrons per ADU.
    readNoise
        Read noise in electrons.
    replace
        Replace the variance (`True`) or add to it.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema
    >>> mi = MaskedImage(Image(np.array([[0.0, 100.0]])), mask_schema=MaskSchema([MaskPlane("BAD", "")]))
    >>> updateVariance(mi, gain=2.0, readNoise=4.0)
    >>> mi.variance.array.tolist()
    [[4.0, 54.0]]
    """
    variance = maskedImage.variance.array
    if replace:
        variance[...] = maskedImage.image.array
    else:
        variance += maskedImage.image.array
    variance /= np.float32(gain)
    variance += np.float32((readNoise / gain) ** 2)


def maskNans(maskedImage: MaskedImage, maskName: str = "BAD") -> int:
    """Flag the pixels whose image or variance is not a finite number.

    A NaN or infinity (from a bad calibration pixel, say) would poison every sum it enters;
    flagged, it is interpolated over at the end of ISR.

    Parameters
    ----------
    maskedImage
        Image to test; only its mask is changed.
    maskName
        Plane to set (Rubin's is ``UNMASKEDNAN``; ``post_isr_image`` has one byte of mask
        planes, so here non-finite pixels are ``BAD``, which ISR interpolates as well).

    Returns
    -------
    nNans
        Number of non-finite pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema
    >>> schema = MaskSchema([MaskPlane("BAD", "")])
    >>> mi = MaskedImage(Image(np.array([[1.0, np.nan, np.inf]])), mask_schema=schema)
    >>> maskNans(mi)
    2
    """
    bad = ~(np.isfinite(maskedImage.image.array) & np.isfinite(maskedImage.variance.array))
    set_mask_plane(maskedImage.mask, maskName, bad)
    return int(np.count_nonzero(bad))


def darkCorrection(
    maskedImage: MaskedImage, darkMaskedImage: MaskedImage, expScale: float, darkScale: float
) -> None:
    """Subtract the dark current: the charge thermal excitation adds while the CCD integrates.

    Dark current accumulates from the moment the CCD is cleared until it is read, the *dark
    time*, which is longer than the exposure time.  The dark frame is scaled by the exposure's
    dark time over the dark's own: ``image -= dark * expScale / darkScale`` (and its variance
    adds ``(expScale / darkScale)**2`` times the dark's).

    Parameters
    ----------
    maskedImage
        Image to correct, in place.
    darkMaskedImage
        Combined dark, same bounding box and units as ``maskedImage`` per ``darkScale`` seconds.
    expScale
        Dark time of the exposure (seconds).
    darkScale
        Dark time the dark frame is normalized to (seconds; 1 for a dark per second).

    Raises
    ------
    ValueError
        If the two bounding boxes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema
    >>> schema = MaskSchema([MaskPlane("BAD", "")])
    >>> mi = MaskedImage(Image(np.array([[100.0, 200.0]])), mask_schema=schema)
    >>> darkCorrection(mi, MaskedImage(Image(np.array([[0.5, 2.0]])), mask_schema=schema), 32.0, 1.0)
    >>> mi.image.array.tolist()
    [[84.0, 136.0]]
    """
    _checkBBox(maskedImage, darkMaskedImage, "dark")
    scale = np.float32(expScale / darkScale)
    maskedImage.image.array -= darkMaskedImage.image.array * scale
    maskedImage.variance.array += darkMaskedImage.variance.array * (scale * scale)


def flatCorrection(
    maskedImage: MaskedImage, flatMaskedImage: MaskedImage, scalingType: str = "USER", userScale: float = 1.0
) -> None:
    """Divide by the flat field: each pixel's response to the same light, relative to the others.

    Vignetting, dust and pixel-to-pixel sensitivity make equal light give unequal counts;
    dividing by the flat (normalized by ``userScale``, or by its own mean or median) evens
    them out.  The variance follows: ``(var + image**2 * flatVar / flat**2) / flat**2``.

    Parameters
    ----------
    maskedImage
        Image to correct, in place.
    flatMaskedImage
        Combined flat, same bounding box.
    scalingType
        ``"USER"`` (divide the flat by ``userScale``), ``"MEAN"`` or ``"MEDIAN"`` (by its own).
    userScale
        Scale for ``"USER"``.

    Raises
    ------
    ValueError
        If the bounding boxes differ or ``scalingType`` is not one of the three.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema
    >>> schema = MaskSchema([MaskPlane("BAD", "")])
    >>> mi = MaskedImage(Image(np.array([[90.0, 110.0]])), mask_schema=schema)
    >>> flatCorrection(mi, MaskedImage(Image(np.array([[0.9, 1.1]])), mask_schema=schema))
    >>> np.round(mi.image.array, 3).tolist()
    [[100.0, 100.0]]
    """
    _checkBBox(maskedImage, flatMaskedImage, "flat")
    flatArray = flatMaskedImage.image.array
    scales = {
        "USER": lambda: userScale,
        "MEAN": lambda: np.mean(flatArray),
        "MEDIAN": lambda: np.median(flatArray),
    }
    if scalingType not in scales:
        raise ValueError(f"flatCorrection: scalingType {scalingType!r} is not one of {sorted(scales)}.")
    scale = scales[scalingType]()
    flat = flatArray if scale == 1.0 else flatArray / np.float32(scale)
    image, variance = maskedImage.image.array, maskedImage.variance.array
    image /= flat
    # Now image = original / flat: its relative error adds the flat's relative error.
    flatTerm = np.square(image)
    flatTerm *= flatMaskedImage.variance.array
    variance += flatTerm
    variance /= flat
    variance /= flat


def applyGains(maskedImage: MaskedImage, detector: Detector, normalizeGains: bool = False) -> MaskedImage:
    """Multiply each amplifier by its gain, turning ADU into electrons (photo-electrons counted).

    Parameters
    ----------
    maskedImage
        Assembled image in ADU; its pixels are changed in place (variance by gain squared).
    detector
        The detector, for each amplifier's box and gain.
    normalizeGains
        Then scale each amplifier so its median equals the median of the amplifiers' medians.

    Returns
    -------
    electrons
        A view of ``maskedImage`` (same arrays, mask and metadata) whose unit is electrons.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from lsst.images import Image, MaskedImage
    >>> from stackclub.pipe._masks import make_mask_schema
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY, make_detector
    >>> detector = make_detector(0, geometry=SMALL_GEOMETRY)
    >>> mi = MaskedImage(Image(100.0, bbox=detector.bbox, unit=u.adu), mask_schema=make_mask_schema())
    >>> out = applyGains(mi, detector)
    >>> str(out.unit), np.round(out.image.array[0, [0, -1]], 3).tolist()
    ('electron', [310.0, 321.0])
    """
    import astropy.units as u
    from lsst.images import MaskedImage

    medians = []
    for amp in detector.amplifiers:
        assert amp.nominal_calibrations is not None
        gain = np.float32(amp.nominal_calibrations.gain)
        ampImage = maskedImage[amp.bbox]
        ampImage.image.array *= gain
        ampImage.variance.array *= gain * gain
        if normalizeGains:
            medians.append(float(np.median(ampImage.image.array)))
    if normalizeGains:
        target = float(np.median(medians))
        for amp, median in zip(detector.amplifiers, medians, strict=True):
            if median != 0.0:
                ampImage = maskedImage[amp.bbox]
                ampImage.image.array *= np.float32(target / median)
                ampImage.variance.array *= np.float32((target / median) ** 2)
    return MaskedImage(
        maskedImage.image.view(unit=u.electron),
        mask=maskedImage.mask,
        variance=maskedImage.variance.view(unit=u.electron**2),
        metadata=dict(maskedImage.metadata.native),
    )


def interpolateFromMask(
    maskedImage: MaskedImage,
    growSaturatedFootprints: int = 1,
    maskNameList: Sequence[str] = ("SATURATED",),
    fallbackValue: float | None = None,
) -> int:
    """Replace the flagged pixels by interpolation from their good neighbours along the row.

    Saturated, bad and non-finite pixels carry no information about the sky; a smooth
    replacement keeps them from disturbing what follows (background, detection, PSF).  As
    Rubin's legacy interpolation (``useLegacyInterp``), each run of flagged pixels in a row is
    bridged linearly between the good pixels on either side (`numpy.interp`, which holds the end
    value past the last good pixel); ``SATURATED`` regions are first grown by
    ``growSaturatedFootprints`` (`growMasks`); replaced pixels are flagged ``INTERPOLATED``.

    Parameters
    ----------
    maskedImage
        Image to repair in place.
    growSaturatedFootprints
        Grow the ``SATURATED`` plane by this many pixels first (when it is in ``maskNameList``).
    maskNameList
        Planes whose pixels are replaced.
    fallbackValue
        Value for the pixels of a row with no good pixel (default: the median of the image's
        good pixels).

    Returns
    -------
    nInterpolated
        Number of pixels replaced.

    Notes
    -----
    Written with `numpy.interp`, one row at a time over the rows that need it: scipy has no
    masked 1-d interpolation of image rows, and `astropy.convolution.interpolate_replace_nans`
    fills with a 2-d kernel average, not Rubin's linear bridge across a bad column.  Labelling
    the runs with `scipy.ndimage.label` and bridging all of them at once measured no faster.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema
    >>> schema = MaskSchema([MaskPlane(n, "") for n in ("BAD", "SATURATED", "INTERPOLATED")])
    >>> mi = MaskedImage(Image(np.array([[1.0, 9.0, 9.0, 4.0, 5.0]])), mask_schema=schema)
    >>> mi.mask.set("BAD", np.array([[0, 1, 1, 0, 0]], dtype=bool))
    >>> interpolateFromMask(mi, maskNameList=["BAD"])
    2
    >>> mi.image.array.tolist(), mi.mask.get("INTERPOLATED").astype(int).tolist()
    ([[1.0, 2.0, 3.0, 4.0, 5.0]], [[0, 1, 1, 0, 0]])
    """
    mask = maskedImage.mask
    if growSaturatedFootprints > 0 and "SATURATED" in maskNameList:
        growMasks(mask, radius=growSaturatedFootprints, maskNameList=["SATURATED"], maskValue="SATURATED")
    bad = mask_planes_set(mask, maskNameList)
    image = maskedImage.image.array
    columns = np.arange(image.shape[1])
    for y in np.flatnonzero(bad.any(axis=1)):
        good = ~bad[y]
        if good.any():
            image[y, ~good] = np.interp(columns[~good], columns[good], image[y, good])
        else:
            if fallbackValue is None:
                fallbackValue = float(np.median(image[~bad]))
            image[y] = fallbackValue
    set_mask_plane(mask, "INTERPOLATED", bad)
    return int(np.count_nonzero(bad))


def defectsToBoolArray(
    defects: Table, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Turn a Rubin-style defects table into a boolean image: `True` on each defect.

    Defects are the detector's known bad pixels and columns (hot, dead or trapping charge),
    listed by the calibration pipeline as boxes.

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

    Raises
    ------
    ValueError
        If the table lacks one of the four columns.

    Examples
    --------
    >>> from astropy.table import Table
    >>> t = Table({"x0": [1], "y0": [0], "x_extent": [2], "y_extent": [3]})
    >>> defectsToBoolArray(t, (4, 4)).astype(int).tolist()
    [[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    missing = {"x0", "y0", "x_extent", "y_extent"} - set(defects.colnames)
    if missing:
        raise ValueError(
            f"Defects table lacks column(s) {sorted(missing)}; it has {defects.colnames}. "
            "Rubin's defects tables use x0, y0, x_extent, y_extent."
        )
    oy, ox = origin
    bad = np.zeros(shape, dtype=bool)
    for x0, y0, dx, dy in zip(
        defects["x0"], defects["y0"], defects["x_extent"], defects["y_extent"], strict=True
    ):
        y0, x0 = int(y0) - oy, int(x0) - ox
        bad[max(y0, 0) : max(y0 + int(dy), 0), max(x0, 0) : max(x0 + int(dx), 0)] = True
    return bad


def getPhysicalFilter(exposure: Any, log: logging.Logger | logging.LoggerAdapter[Any] | None = None) -> str:
    """Return the physical filter of an exposure, or ``"Unknown"``.

    Parameters
    ----------
    exposure
        A raw (its ``obs_info.physical_filter``) or an ISR image (its ``FILTER`` metadata).
    log
        Logger for the warning when there is no filter.

    Returns
    -------
    physicalFilter
        E.g. ``"SimCam-Z"``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> getPhysicalFilter(SimpleNamespace(obs_info=SimpleNamespace(physical_filter="SimCam-Z")))
    'SimCam-Z'
    """
    obs_info = getattr(exposure, "obs_info", None)
    physicalFilter = getattr(obs_info, "physical_filter", None)
    if physicalFilter is None:
        physicalFilter = getattr(exposure, "metadata", {}).get("FILTER")
    if not physicalFilter:
        (log or logging.getLogger(__name__)).warning("No physical filter: using 'Unknown'.")
        return "Unknown"
    return str(physicalFilter)


def checkFilter(
    exposure: Any, filterList: Sequence[str], log: logging.Logger | logging.LoggerAdapter[Any] | None = None
) -> bool:
    """Return whether the exposure's physical filter is one of ``filterList``.

    Parameters
    ----------
    exposure
        As for `getPhysicalFilter`.
    filterList
        Physical filter names (an empty list matches nothing).
    log
        Logger for `getPhysicalFilter`.

    Returns
    -------
    result
        `True` if the filter is listed.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> raw = SimpleNamespace(obs_info=SimpleNamespace(physical_filter="SimCam-Z"))
    >>> checkFilter(raw, ["SimCam-Z", "SimCam-Y"]), checkFilter(raw, [])
    (True, False)
    """
    return bool(filterList) and getPhysicalFilter(exposure, log) in filterList


def _checkBBox(maskedImage: MaskedImage, calib: MaskedImage, name: str) -> None:
    if maskedImage.bbox != calib.bbox:
        raise ValueError(
            f"The {name} covers {calib.bbox}, but the assembled image is {maskedImage.bbox}; "
            "was it made for another detector geometry?"
        )
