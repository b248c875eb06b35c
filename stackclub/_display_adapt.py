"""Turn anything a learner holds into one plain model that the display helpers draw.

`as_frame` accepts numpy arrays, astropy ``NDData``/``CCDData``, FITS HDUs, HDU lists and
file paths, the ``lsst.images`` types (``Image``, ``Mask``, ``MaskedImage``, ``VisitImage``),
our raw type (anything with ``.image`` and ``.detector``), and -- duck-typed -- an
``lsst.afw.image`` ``Exposure``/``MaskedImage``/``Image``. Nothing here imports ``lsst``:
objects are recognised by the attributes they have, so this module works without the stack.
"""

from __future__ import annotations

__all__ = (
    "DisplayFrame",
    "as_frame",
    "as_mask_planes",
    "shift_wcs",
)

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._exceptions import ArgumentTypeError

if TYPE_CHECKING:
    import astropy.wcs

_LOG = logging.getLogger(__name__)

_MASK_ARRAY = "a boolean array (True where a pixel is flagged) of the image's shape"
_MASK_HINT = "; to flag pixels by value, compare: mask=array > 1000 or mask=np.isnan(array)"

#: What `as_frame` accepts, for error messages.
ACCEPTED = (
    "a 2-D numpy array, an astropy NDData/CCDData, a FITS HDU, HDUList or file path, "
    "an lsst.images Image, Mask, MaskedImage or VisitImage, a raw with .image and .detector, "
    "or an lsst.afw.image Exposure/MaskedImage/Image"
)


#: ``DATAMODL`` of files that lsst.images wrote (read back with ``read_archive``).
_LSST_IMAGES_SCHEMAS = "https://images.lsst.io/schemas/"


@dataclass
class DisplayFrame:
    """A 2-D pixel array with everything the display helpers need to draw it.

    Attributes
    ----------
    array
        The pixels, indexed ``[y, x]`` (never copied unless the input needed converting).
    x0, y0
        Pixel coordinates of ``array[0, 0]`` (an ``lsst.images`` ``bbox`` origin, else 0).
    wcs
        An `astropy.wcs.WCS` in the *same* pixel coordinates (origin shifted), or `None`.
    planes
        Mask plane name -> callable returning that plane as a boolean array, in schema order.
    plane_docs
        Mask plane name -> its description (from the ``MaskSchema`` where there is one).
    unit
        Pixel unit as text, or `None`.
    label
        A short description used as the default title.
    mask_only
        `True` when the input was a mask alone (the image is then a blank background).
    """

    array: np.ndarray
    x0: int = 0
    y0: int = 0
    wcs: astropy.wcs.WCS | None = None
    planes: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)
    plane_docs: dict[str, str] = field(default_factory=dict)
    unit: str | None = None
    label: str = ""
    mask_only: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the pixel array."""
        return (int(self.array.shape[0]), int(self.array.shape[1]))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(left, right, bottom, top)`` for ``imshow``: pixel centres on integer coordinates."""
        ny, nx = self.shape
        return (self.x0 - 0.5, self.x0 + nx - 0.5, self.y0 - 0.5, self.y0 + ny - 0.5)

    def finite(self) -> np.ndarray | None:
        """Boolean array of finite pixels, or `None` when every pixel is finite."""
        if not np.issubdtype(self.array.dtype, np.floating):
            return None
        ok = np.isfinite(self.array)
        return None if ok.all() else ok

    def plane(self, name: str) -> np.ndarray:
        """Return mask plane ``name`` as a boolean array of the image's shape.

        Parameters
        ----------
        name
            A plane name (`planes` lists them).

        Returns
        -------
        plane : `numpy.ndarray`
            The plane's pixels, `True` where set.
        """
        try:
            getter = self.planes[name]
        except KeyError:
            available = ", ".join(self.planes) or "none"
            raise ValueError(f"no mask plane {name!r}; this image's planes are: {available}") from None
        return np.asarray(getter(), dtype=bool)


def _check_2d(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    elif array.dtype.kind not in "iuf":
        raise TypeError(
            f"{what} has pixels of type {array.dtype}; expected integer or floating-point numbers"
        )
    if array.ndim != 2:
        hint = " (for a cube or an RGB image, pass one plane, e.g. cube[0])" if array.ndim > 2 else ""
        raise ValueError(f"{what} must be 2-D, but it has shape {array.shape}{hint}")
    if array.size == 0:
        raise ValueError(f"{what} is empty (shape {array.shape}): there is nothing to show")
    return array


def shift_wcs(wcs: astropy.wcs.WCS, x0: float, y0: float) -> astropy.wcs.WCS:
    """Return a copy of ``wcs`` whose pixel coordinates start at ``(x0, y0)`` instead of 0.

    astropy WCS objects use array coordinates (first pixel at 0); ``lsst.images`` types
    use the ``bbox`` origin. Shifting ``CRPIX`` (and the SIP reference) moves the WCS into
    the image's own coordinates, so sky axes, source positions and boxes all agree.

    Parameters
    ----------
    wcs
        A WCS in array coordinates.
    x0, y0
        The image's pixel coordinates of ``array[0, 0]``.

    Returns
    -------
    shifted : `astropy.wcs.WCS`
        ``wcs`` itself when there is no shift, else a shifted copy.
    """
    if x0 == 0 and y0 == 0:
        return wcs
    from astropy.wcs import Sip

    out = wcs.deepcopy()
    out.wcs.crpix = out.wcs.crpix + np.array([x0, y0], dtype=float)
    if out.sip is not None:
        out.sip = Sip(out.sip.a, out.sip.b, out.sip.ap, out.sip.bp, out.wcs.crpix)
    out.wcs.set()
    # the array shape no longer starts at 0: forget it, or WCSAxes lays out ticks for the old box
    out.pixel_shape = None
    out.pixel_bounds = None
    return out


def _celestial(wcs: Any) -> astropy.wcs.WCS | None:
    """Return a celestial 2-D `astropy.wcs.WCS` from ``wcs``, or `None`."""
    import astropy.wcs

    if wcs is None:
        return None
    if isinstance(wcs, astropy.wcs.WCS):
        return wcs.celestial if wcs.has_celestial and wcs.celestial.naxis == 2 else None
    return None


def _wcs_from_header(header: Any) -> astropy.wcs.WCS | None:
    import warnings

    import astropy.wcs

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _celestial(astropy.wcs.WCS(header))
    except Exception as err:  # a broken header should not stop the picture
        _LOG.debug("no usable WCS in the FITS header: %s", err)
        return None


def _bit_getter(array: np.ndarray, bit: int) -> Callable[[], np.ndarray]:
    return lambda: (array & (1 << bit)) != 0


def _const_getter(value: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: value


def as_mask_planes(
    mask: Any, shape: tuple[int, int], *, function: str = "show_image"
) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, str]]:
    """Read mask planes (name -> boolean getter) and their docs from any supported mask.

    Parameters
    ----------
    mask
        An ``lsst.images.Mask`` (planes and docs from its ``MaskSchema``), an
        ``lsst.afw.image.Mask`` (duck-typed), a mapping of plane name to boolean array, or
        one boolean array (shown as plane ``"MASK"``).
    shape
        The image's ``(ny, nx)``; a mask of any other shape is an error.
    function
        The helper that was called, for error messages.

    Returns
    -------
    planes : `dict` [`str`, `~collections.abc.Callable`]
        Plane name -> a function returning the plane as a boolean array, in schema order.
    docs : `dict` [`str`, `str`]
        Plane name -> its description.

    Raises
    ------
    stackclub._exceptions.ArgumentTypeError
        ``mask`` (or a plane of a dict) is not a boolean or integer array.
    ValueError
        A mask of another shape than the image.
    """
    planes: dict[str, Callable[[], np.ndarray]] = {}
    docs: dict[str, str] = {}
    if hasattr(mask, "schema") and hasattr(mask, "get") and hasattr(mask, "bbox"):  # lsst.images.Mask
        mshape = tuple(int(n) for n in mask.bbox.shape)
        _check_mask_shape(mshape, shape)
        for plane in mask.schema:
            if plane is None:
                continue
            planes[plane.name] = (lambda m, n: lambda: m.get(n))(mask, plane.name)
            docs[plane.name] = plane.description
    elif hasattr(mask, "getMaskPlaneDict") and hasattr(mask, "getArray"):  # lsst.afw.image.Mask
        array = np.asarray(mask.getArray())
        _check_mask_shape(array.shape, shape)
        for name, bit in sorted(mask.getMaskPlaneDict().items(), key=lambda kv: kv[1]):
            planes[name] = _bit_getter(array, int(bit))
            docs[name] = ""
    elif isinstance(mask, Mapping):
        for name, value in mask.items():
            value = np.asarray(value)
            if value.dtype.kind not in "bui":
                raise ArgumentTypeError(function, f"mask[{name!r}]", value, _MASK_ARRAY + _MASK_HINT)
            _check_mask_shape(value.shape, shape, f"mask plane {name!r}")
            planes[str(name)] = _const_getter(value.astype(bool, copy=False))
            docs[str(name)] = ""
    else:
        value = np.asarray(mask) if isinstance(mask, np.ndarray | list | tuple) else None
        if value is None or value.dtype.kind not in "bui":
            raise ArgumentTypeError(
                function,
                "mask",
                mask,
                f"an lsst.images Mask, a dict of plane name -> boolean array, or {_MASK_ARRAY}" + _MASK_HINT,
            )
        _check_mask_shape(value.shape, shape)
        planes["MASK"] = _const_getter(value.astype(bool, copy=False))
        docs["MASK"] = "pixels flagged by the mask you passed"
    return planes, docs


def _check_mask_shape(mshape: tuple[int, ...], shape: tuple[int, int], what: str = "mask") -> None:
    if tuple(mshape)[:2] != tuple(shape) or len(mshape) < 2:
        raise ValueError(
            f"{what} has shape {tuple(mshape)} but the image has shape {tuple(shape)}; "
            "pass the mask that belongs to this image (or a cut-out of the same box)"
        )


def _from_lsst_image(obj: Any, label: str) -> DisplayFrame:
    """``lsst.images.Image`` (or anything with ``.array`` + ``.bbox``)."""
    array = _check_2d(np.asarray(obj.array), label)
    start = obj.bbox.start  # YX
    y0, x0 = int(start[0]), int(start[1])
    wcs = None
    if getattr(obj, "sky_projection", None) is not None:
        try:
            wcs = shift_wcs(obj.fits_wcs, x0, y0) if obj.fits_wcs is not None else None
        except Exception as err:  # not FITS-representable: draw pixel axes
            _LOG.info("%s has a sky projection with no FITS approximation (%s): pixel axes only", label, err)
    unit = getattr(obj, "unit", None)
    return DisplayFrame(array, x0=x0, y0=y0, wcs=wcs, unit=None if unit is None else str(unit), label=label)


def _from_afw(obj: Any) -> DisplayFrame:
    """Duck-typed ``lsst.afw.image`` Exposure / MaskedImage / Image."""
    wcs = None
    if hasattr(obj, "getMaskedImage"):
        afw_wcs = obj.getWcs() if hasattr(obj, "getWcs") else None
        if afw_wcs is not None:
            try:
                from astropy.io import fits

                metadata = afw_wcs.getFitsMetadata()
                wcs = _wcs_from_header(fits.Header(list(metadata.toDict().items())))
            except Exception as err:
                _LOG.info("could not turn the afw SkyWcs into an astropy WCS (%s): pixel axes only", err)
        label = type(obj).__name__
        obj = obj.getMaskedImage()
    else:
        label = type(obj).__name__
    image = obj.getImage() if hasattr(obj, "getImage") else obj
    array = _check_2d(np.asarray(image.getArray()), label)
    xy0 = image.getXY0()
    x0, y0 = int(xy0.getX()), int(xy0.getY())
    frame = DisplayFrame(array, x0=x0, y0=y0, label=label)
    if wcs is not None:
        frame.wcs = shift_wcs(wcs, x0, y0)
    if hasattr(obj, "getMask"):
        frame.planes, frame.plane_docs = as_mask_planes(obj.getMask(), frame.shape)
    return frame


def _from_fits(hdus: Any, label: str) -> DisplayFrame:
    from astropy.io import fits

    candidates = [hdus] if not isinstance(hdus, fits.HDUList) else list(hdus)
    for hdu in candidates:
        data = getattr(hdu, "data", None)
        if data is not None and getattr(data, "ndim", 0) >= 2:
            frame = DisplayFrame(_check_2d(np.asarray(data), label), label=label)
            frame.wcs = _wcs_from_header(hdu.header)
            unit = hdu.header.get("BUNIT")
            frame.unit = str(unit) if unit else None
            return frame
    raise ValueError(f"{label} has no image HDU (no HDU with 2-D data)")


def as_frame(obj: Any, *, mask: Any = None, function: str = "show_image") -> DisplayFrame:
    """Return a `DisplayFrame` for any supported image; ``mask`` replaces its own mask planes.

    Parameters
    ----------
    obj
        Any image the display helpers accept (see ``ACCEPTED``).
    mask
        A mask to use instead of the image's own (see `as_mask_planes`), or `None`.
    function
        The helper that was called, for error messages.

    Returns
    -------
    frame : `DisplayFrame`
        The pixels, origin, WCS and mask planes.

    Raises
    ------
    TypeError
        ``obj`` is of a type the display helpers do not understand.
    ValueError
        The pixels are not a non-empty 2-D array, or ``mask`` does not match their shape.
    """
    frame = _as_frame(obj)
    if mask is not None:
        frame.planes, frame.plane_docs = as_mask_planes(mask, frame.shape, function=function)
    return frame


def _as_frame(obj: Any) -> DisplayFrame:
    if obj is None:
        raise TypeError(f"nothing to show: got None; pass {ACCEPTED}")
    if isinstance(obj, DisplayFrame):
        return obj
    if isinstance(obj, str | os.PathLike):
        from astropy.io import fits

        path = os.fspath(obj)
        with fits.open(path, memmap=False) as hdus:
            model = str(hdus[0].header.get("DATAMODL", ""))
            if not model.startswith(_LSST_IMAGES_SCHEMAS):
                return _from_fits(hdus, os.path.basename(path))
        # written by lsst.images: read it back as what it is (mask planes, bbox origin, sky projection)
        from lsst.images.serialization import read_archive

        frame = _as_frame(read_archive(path))
        frame.label = os.path.basename(path)
        return frame
    module = type(obj).__module__ or ""
    if module.startswith("astropy.io.fits"):
        return _from_fits(obj, type(obj).__name__)
    if isinstance(obj, np.ma.MaskedArray):
        array = _check_2d(np.asarray(obj.filled(np.nan), dtype=float), "the masked array")
        return DisplayFrame(array, label="masked array")
    if isinstance(obj, np.ndarray):
        return DisplayFrame(
            _check_2d(obj, "the array"),
            label=f"array {obj.shape[0]}×{obj.shape[1]}" if obj.ndim == 2 else "array",
        )
    # astropy NDData / CCDData: data + optional mask, wcs, unit
    try:
        from astropy.nddata import NDData
    except ImportError:  # pragma: no cover - astropy is a core dependency
        NDData = ()  # noqa: N806
    if isinstance(obj, NDData):
        label = type(obj).__name__
        frame = DisplayFrame(_check_2d(np.asarray(obj.data), label), label=label)
        frame.wcs = _celestial(obj.wcs)
        frame.unit = None if obj.unit is None else str(obj.unit)
        if obj.mask is not None and np.any(obj.mask):
            planes, _ = as_mask_planes(np.asarray(obj.mask, dtype=bool), frame.shape)
            frame.planes = {"MASKED": planes["MASK"]}
            frame.plane_docs = {"MASKED": f"{label}.mask"}
        return frame
    # lsst.afw.image (duck-typed: camelCase accessors)
    if (
        hasattr(obj, "getMaskedImage")
        or (hasattr(obj, "getImage") and hasattr(obj, "getMask"))
        or (hasattr(obj, "getArray") and hasattr(obj, "getXY0"))
    ):
        return _from_afw(obj)
    label = type(obj).__name__
    # lsst.images MaskedImage / VisitImage (.image + .mask), or our raw (.image + .detector)
    inner = getattr(obj, "image", None)
    if inner is not None and not callable(inner):
        frame = _as_frame(inner)
        frame.label = label
        own_mask = getattr(obj, "mask", None)
        if own_mask is not None and not callable(own_mask):
            frame.planes, frame.plane_docs = as_mask_planes(own_mask, frame.shape)
        return frame
    # lsst.images Mask alone: a blank background under the planes
    if hasattr(obj, "schema") and hasattr(obj, "get") and hasattr(obj, "bbox"):
        shape = tuple(int(n) for n in obj.bbox.shape)
        start = obj.bbox.start
        frame = DisplayFrame(
            np.zeros(shape, dtype=np.float32), x0=int(start[1]), y0=int(start[0]), label=label, mask_only=True
        )
        if frame.array.size == 0:
            raise ValueError(f"the {label} is empty (shape {shape}): there is nothing to show")
        frame.planes, frame.plane_docs = as_mask_planes(obj, frame.shape)
        return frame
    # lsst.images Image (or anything with .array and .bbox)
    if hasattr(obj, "array") and hasattr(obj, "bbox"):
        return _from_lsst_image(obj, label)
    if isinstance(obj, list | tuple):
        array = np.asarray(obj)
        if array.dtype.kind in "biuf":
            return DisplayFrame(_check_2d(array, "the nested list"), label="array")
    raise TypeError(f"cannot show a {type(obj).__module__}.{label}; pass {ACCEPTED}")
