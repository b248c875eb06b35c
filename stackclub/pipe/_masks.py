"""The mask planes the teaching pipeline sets, with the names ``lsst.images`` gives Rubin's planes."""

from __future__ import annotations

__all__ = ("MASK_PLANE_NAMES", "make_mask_schema", "mask_planes_set", "set_mask_plane")

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lsst.images import Mask, MaskSchema

#: Planes in the order they take bits.  Eight planes fit in one byte per pixel.
#: ``lsst.images.get_legacy_visit_image_mask_planes()`` maps Rubin's legacy names
#: (``SAT``, ``INTRP``, ``CR``, ``EDGE``) to these.
MASK_PLANE_NAMES: tuple[str, ...] = (
    "BAD",
    "SATURATED",
    "SUSPECT",
    "INTERPOLATED",
    "COSMIC_RAY",
    "DETECTED",
    "DETECTION_EDGE",
    "NO_DATA",
)


def make_mask_schema() -> MaskSchema:
    """Return the `lsst.images.MaskSchema` shared by ``post_isr_image`` and ``preliminary_visit_image``.

    Returns
    -------
    schema
        Rubin's visit-image planes (descriptions from lsst.images), one byte per pixel.

    Examples
    --------
    >>> schema = make_mask_schema()
    >>> "SATURATED" in schema
    True
    """
    from lsst.images import MaskPlane, MaskSchema, get_legacy_visit_image_mask_planes

    by_name = {p.name: p for p in get_legacy_visit_image_mask_planes().values()}
    return MaskSchema([by_name.get(n, MaskPlane(n, n)) for n in MASK_PLANE_NAMES])


def set_mask_plane(mask: Any, plane: str, boolean: np.ndarray) -> None:
    """Set ``plane`` where ``boolean`` is `True` on an `lsst.images.Mask`, in place.

    Same result as ``mask.set(plane, boolean)``, which indexes with the boolean array; a
    ``bitwise_or`` with ``where=`` is several times faster on a full frame.  ``boolean`` may
    instead be an integer array of flat pixel indices: then only those pixels are visited.

    Parameters
    ----------
    mask
        An `lsst.images.Mask`, changed in place.
    plane
        The plane to set.
    boolean
        Boolean image of the mask's shape, or flat pixel indices.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Box, Mask
    >>> m = Mask(schema=make_mask_schema(), bbox=Box.from_shape((2, 3)))
    >>> set_mask_plane(m, "BAD", np.array([[True, False, False], [False, False, True]]))
    >>> int(m.get("BAD").sum())
    2
    >>> set_mask_plane(m, "SATURATED", np.array([0, 1]))  # flat indices
    >>> m.get("SATURATED").astype(int).tolist()
    [[1, 1, 0], [0, 0, 0]]
    """
    bit = mask.schema.bit(plane)
    view = mask.array[..., bit.index]
    if boolean.dtype == bool:
        np.bitwise_or(view, bit.mask, out=view, where=boolean)
    else:
        ys, xs = np.divmod(boolean, view.shape[1])
        view[ys, xs] |= bit.mask


def mask_planes_set(mask: Mask, planes: Iterable[str]) -> np.ndarray:
    """Return a boolean image, `True` where any of ``planes`` is set (afw's ``mask & getPlaneBitMask``).

    Parameters
    ----------
    mask
        An `lsst.images.Mask`.
    planes
        Plane names.

    Returns
    -------
    flagged
        Boolean array of the mask's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Box, Mask
    >>> m = Mask(schema=make_mask_schema(), bbox=Box.from_shape((1, 3)))
    >>> m.set("BAD", np.array([[True, False, False]]))
    >>> m.set("SATURATED", np.array([[False, False, True]]))
    >>> mask_planes_set(m, ["BAD", "SATURATED"]).tolist()
    [[True, False, True]]
    """
    bits = np.asarray(mask.schema.bitmask(*planes), dtype=mask.array.dtype)
    return np.bitwise_and(mask.array, bits).any(axis=-1)
