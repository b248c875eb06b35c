"""Calibration products for SimCam: bias, dark, flat, fringe, defects (pure numpy, no Butler).

Each product is the detector's true signature (`stackclub.simcam.signature.DetectorSignature`) plus the
noise of averaging a finite number of calibration exposures, in ASSEMBLED (trimmed) detector
coordinates and in the units Rubin's legacy ``lsst.ip.isr.IsrTask`` expects: ADU, as the raw is
(``IsrTask.compareUnits`` warns about calibrations in electrons, which are ``IsrTaskLSST``'s):

- ``bias``: ADU (what is left after overscan subtraction);
- ``dark``: ADU per second of dark time (metadata ``DARKTIME = 1.0``, the dark time it is
  normalized to; ISR scales it by the exposure's dark time over this);
- ``flat``: relative response, mean 1 (per physical filter); unlike a real HSC flat, it does not
  carry the amplifiers' gains, so ISR applies them after flat-fielding (``doApplyGains``);
- ``fringe``: the fringe pattern, unit amplitude (z and y only);
- ``defects``: table with Rubin's columns ``x0, y0, x_extent, y_extent``.
"""

from __future__ import annotations

__all__ = (
    "calib_mask_schema",
    "simulate_calibs",
)

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._exceptions import SimCamValueError
from .camera import DEFAULT_GEOMETRY, SIMCAM, DetectorGeometry, make_detector
from .seeds import seeded_rng
from .signature import DetectorSignature
from .visits import FRINGE_FRACTION

if TYPE_CHECKING:
    from lsst.images import MaskedImage, MaskSchema


def calib_mask_schema() -> MaskSchema:
    """Return the mask planes of SimCam's calibration images: ``BAD``, ``SATURATED``, ``NO_DATA``."""
    from lsst.images import MaskPlane, MaskSchema

    return MaskSchema(
        [
            MaskPlane("BAD", "Bad pixel in the instrument (a defect)."),
            MaskPlane("SATURATED", "Pixel was saturated or affected by saturation in a neighboring pixel."),
            MaskPlane("NO_DATA", "No data was available for this pixel."),
        ]
    )


def _masked(
    array: np.ndarray,
    variance: np.ndarray | float,
    defects_mask: np.ndarray,
    unit: str,
    metadata: dict[str, Any] | None = None,
) -> MaskedImage:
    import astropy.units as u
    from lsst.images import Image, MaskedImage

    bbox = _bbox_of(array)
    image = Image(array.astype(np.float32, copy=False), bbox=bbox, unit=u.Unit(unit))
    var = variance if np.ndim(variance) == 2 else np.full(array.shape, variance, dtype=np.float32)
    variance_image = Image(np.asarray(var, dtype=np.float32), bbox=bbox, unit=u.Unit(unit) ** 2)
    masked = MaskedImage(image, variance=variance_image, mask_schema=calib_mask_schema(), metadata=metadata)
    masked.mask.set("BAD", defects_mask)
    return masked


def _bbox_of(array: np.ndarray) -> Any:
    from lsst.images import Box

    return Box.factory[0 : array.shape[0], 0 : array.shape[1]]


def simulate_calibs(
    geometry: DetectorGeometry = DEFAULT_GEOMETRY,
    rng: np.random.Generator | None = None,
    *,
    detector_id: int = 0,
    bands: Sequence[str] = ("r", "z"),
    seed: int = 1,
    signature: DetectorSignature | None = None,
    n_bias: int = 20,
    n_dark: int = 10,
    dark_exptime: float = 300.0,
    n_flat: int = 10,
    flat_level: float = 20000.0,
) -> dict[str, Any]:
    """Simulate the calibration products of one detector.

    Parameters
    ----------
    geometry
        Detector pixel layout.
    rng
        Random generator for the calibration noise; default ``seeded_rng(seed, "calib", detector_id)``.
    detector_id
        SimCam detector.
    bands
        Bands to make flats for (fringes only for z and y among them).
    seed
        Seed of the detector signature (must be the science frames' seed for them to agree).
    signature
        The detector's signature; default ``DetectorSignature(seed, detector_id, geometry)``.
    n_bias, n_dark, dark_exptime, n_flat, flat_level
        How the combined calibrations were made (this sets their noise).

    Returns
    -------
    calibs
        ``{"bias": MaskedImage, "dark": MaskedImage, "defects": astropy Table,
        "flat": {physical_filter: MaskedImage}, "fringe": {physical_filter: MaskedImage}}``.

    Examples
    --------
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY
    >>> c = simulate_calibs(SMALL_GEOMETRY, detector_id=1, bands=("r", "z"))
    >>> sorted(c), sorted(c["flat"]), sorted(c["fringe"])
    (['bias', 'dark', 'defects', 'flat', 'fringe'], ['SimCam-R', 'SimCam-Z'], ['SimCam-Z'])
    >>> str(c["bias"].image.unit), str(c["dark"].image.unit), c["dark"].metadata["DARKTIME"]
    ('adu', 'adu / s', 1.0)
    """
    SIMCAM.check_detector(detector_id)
    bad = [b for b in bands if b not in SIMCAM.bands]
    if bad:
        raise SimCamValueError(f"Unknown band(s) {bad!r}: SimCam's bands are {SIMCAM.bands}.")
    if signature is None:
        signature = DetectorSignature(seed, detector_id, geometry)
    if rng is None:
        rng = seeded_rng(seed, "calib", detector_id)
    g = geometry
    shape = (g.height, g.width)
    det = make_detector(detector_id, geometry=g)
    # Per-pixel gain (electrons per ADU) and read noise (ADU) of the amplifier reading it out.
    gain = np.empty(shape, dtype=np.float32)
    read_noise = np.empty(shape, dtype=np.float32)
    for amp in det.amplifiers:
        assert amp.nominal_calibrations is not None
        ys, xs = amp.bbox.slice_within(det.bbox)
        gain[ys, xs] = amp.nominal_calibrations.gain
        read_noise[ys, xs] = amp.nominal_calibrations.read_noise / amp.nominal_calibrations.gain
    defects = signature.defects_table()
    defect_mask = np.zeros(shape, dtype=bool)
    for row in defects:
        defect_mask[row["y0"] : row["y0"] + row["y_extent"], row["x0"] : row["x0"] + row["x_extent"]] = True

    def noisy(truth: np.ndarray, variance: np.ndarray | np.floating) -> np.ndarray:
        out = rng.standard_normal(shape, dtype=np.float32)
        out *= np.sqrt(variance)
        out += truth
        return out

    bias_var = read_noise**2 / np.float32(n_bias)
    bias = noisy(signature.bias_structure / gain, bias_var)
    # The dark frames collect dark current over their dark time; the combined dark is per second.
    dark_time = dark_exptime + SIMCAM.dark_overhead
    dark_rate = signature.dark_rate / gain  # ADU per second
    dark_var = dark_rate * np.float32(dark_time) / gain
    dark_var += read_noise**2 * np.float32(1 + 1 / n_bias)
    dark_var /= np.float32(n_dark * dark_time**2)
    dark = noisy(dark_rate, dark_var)
    flats: dict[str, MaskedImage] = {}
    fringes: dict[str, MaskedImage] = {}
    for band in bands:
        flat_var = signature.flat * np.float32(flat_level)
        flat_var += (read_noise * gain) ** 2
        flat_var /= np.float32(n_flat * flat_level**2)
        flat = noisy(signature.flat, flat_var)
        flat /= flat.mean(dtype=np.float64)
        physical_filter = SIMCAM.physical_filters[band]
        flats[physical_filter] = _masked(flat, flat_var, defect_mask, "")
        if band in FRINGE_FRACTION:
            fringe = noisy(signature.fringe, np.float32(0.02**2))
            fringes[physical_filter] = _masked(fringe, 0.02**2, defect_mask, "")
    return {
        "bias": _masked(bias, bias_var, defect_mask, "adu"),
        "dark": _masked(dark, dark_var, defect_mask, "adu / s", {"DARKTIME": 1.0}),
        "defects": defects,
        "flat": flats,
        "fringe": fringes,
    }
