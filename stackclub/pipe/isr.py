"""Instrument signature removal (ISR): ``raw`` -> ``post_isr_image``.

Mirrors ``lsst.ip.isr.IsrTaskLSST``: the same ``do*`` switches, the same order of steps
(overscan, gains, assembly, saturation/suspect masking, variance, bias, dark, flat, fringe,
defects, interpolation), the overscan and fringe steps as subtasks, calibrations found
through the calibration collection as prerequisite inputs, and the output written as an
`lsst.images.MaskedImage` (storage class ``MaskedImageV2``) in electrons.

How ``IsrTask.run`` is organized, for speed (``benchmarks/speed.py``): the overscan levels are
measured on the overscan regions alone (`OverscanCorrectionTask.measureOverscan`); then one pass
over the detector, in blocks of whole rows, applies overscan, gain, bias, variance, dark and flat
while the block is in the CPU cache (`_correctBlock` spells out the formulas), on two threads.
Saturated, suspect and bad pixels are kept as lists of pixel indices, so the saturation growth,
the mask planes and the interpolation visit only those pixels.  ``tests/test_pipe_isr.py`` pins
the result to a whole-frame, one-step-at-a-time textbook version.
"""

from __future__ import annotations

__all__ = ("IsrTask", "IsrTaskConfig", "IsrTaskConnections")

import dataclasses
import itertools
import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ConfigurableField, Field, FieldValidationError, ListField
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from .._exceptions import IsrCalibrationMissingError
from ._masks import make_mask_schema, set_mask_plane
from .fringe import FringeTask
from .isrFunctions import defectsToIndices, interpolateFromMask, makeThresholdMask
from .overscan import OverscanCorrectionTask

if TYPE_CHECKING:
    from astropy.table import Table
    from lsst.images import MaskedImage
    from lsst.pipe.base import InputQuantizedConnection, OutputQuantizedConnection, QuantumContext

#: Rows per block of the pixel pass.  A block of the output, variance, bias, dark, flat and the
#: per-amplifier constants (about 10 float32 arrays of 32 x 2048 pixels, 2.6 MB) stays in the
#: CPU cache while every step runs over it; measured on the HSC frame, 16 to 64 rows are as fast.
_BLOCK_ROWS = 32
#: Threads of the pixel pass (numpy releases the GIL inside each operation), and blocks per task.
_N_THREADS = 2
_BLOCKS_PER_CHUNK = 8
#: Keys of the pixels flagged by the pixel pass (plane names are configurable, these are not).
_SATURATED, _SUSPECT = "saturated", "suspect"
_NO_PIXELS = np.zeros(0, dtype=np.intp)


def _rowBlocks(rows: slice, blockRows: int) -> Iterator[slice]:
    for start in range(rows.start, rows.stop, blockRows):
        yield slice(start, min(start + blockRows, rows.stop))


def _indices(flagged: dict[str, list[np.ndarray]], key: str) -> np.ndarray:
    """Sorted, unique flat pixel indices collected under ``key``."""
    found = flagged.get(key)
    return np.unique(np.concatenate(found)) if found else _NO_PIXELS


def _union(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None else np.union1d(a, b)


def _aduThreshold(level: float) -> int | None:
    """Lowest integer ADU at or above ``level`` (so ``raw >= it`` on uint16), None if not finite."""
    return max(math.ceil(level), 0) if math.isfinite(level) else None


@dataclasses.dataclass
class _AmpPass:
    """One amplifier in the pixel pass: its raw pixels, its constants and its place in the detector."""

    data: np.ndarray  # raw uint16 imaging section, in assembled orientation (flipped if need be)
    ys: slice  # its rows and columns in the assembled detector
    xs: slice
    rowLevels: np.ndarray | None  # float32 (rows, 1): serial overscan level of each row
    columnLevels: np.ndarray | None  # float32 (columns,): parallel overscan level of each column
    gain: np.float32 | None  # None: leave the pixels in ADU
    varianceGain: np.float32 | None  # not None: the variance of ADU pixels (Poisson term signal/gain)
    readNoise: float  # in the output's units
    saturation: int | None  # lowest flagged raw ADU, or None to flag nothing
    suspect: int | None


@dataclasses.dataclass
class _Band:
    """Rows of the detector covered by the same amplifiers, with their constants spread over the row.

    numpy is several times faster on contiguous arrays of the same shape than on column slices
    or broadcast rows, so the per-amplifier constants are laid out once as blocks of whole rows.
    """

    rows: slice
    amps: list[_AmpPass]
    perRowLevels: bool  # True: the serial levels vary along the rows (MEDIAN_PER_ROW, POLY)
    serialLevels: np.ndarray | None  # (blockRows, nx) float32 when constant along the rows, or None
    gain: np.ndarray | None
    columnLevels: np.ndarray | None
    varianceGain: np.ndarray | None
    readNoise2: np.ndarray
    zeros: np.ndarray  # np.maximum(a, zeros) runs numpy's SIMD loop; np.maximum(a, 0) does not

    @classmethod
    def make(cls, rows: slice, amps: list[_AmpPass], blockRows: int, nx: int) -> _Band:
        def spread(value: Any, neutral: float) -> np.ndarray:
            block = np.full((min(blockRows, rows.stop - rows.start), nx), neutral, dtype=np.float32)
            for a in amps:
                block[:, a.xs] = value(a)
            return block

        def maybe(attr: str, neutral: float) -> np.ndarray | None:
            if all(getattr(a, attr) is None for a in amps):
                return None
            return spread(lambda a: neutral if getattr(a, attr) is None else getattr(a, attr), neutral)

        constant = all(a.rowLevels is None or (a.rowLevels == a.rowLevels[0]).all() for a in amps)
        hasLevels = any(a.rowLevels is not None for a in amps)
        return cls(
            rows=rows,
            amps=amps,
            perRowLevels=hasLevels and not constant,
            serialLevels=spread(lambda a: 0.0 if a.rowLevels is None else a.rowLevels[0, 0], 0.0)
            if hasLevels and constant
            else None,
            gain=maybe("gain", 1.0),
            columnLevels=maybe("columnLevels", 0.0),
            varianceGain=maybe("varianceGain", 1.0),
            # As updateVariance does: the square in double precision, then float32.
            readNoise2=spread(lambda a: np.float32(a.readNoise * a.readNoise), 0.0),
            zeros=spread(lambda a: 0.0, 0.0),
        )


def _bands(amps: list[_AmpPass], nRows: int, blockRows: int, nx: int) -> list[_Band]:
    """Split the detector's rows where the set of amplifiers covering them changes."""
    edges = sorted({0, nRows} | {a.ys.start for a in amps} | {a.ys.stop for a in amps})
    bands = []
    for y0, y1 in itertools.pairwise(edges):
        covering = [a for a in amps if a.ys.start <= y0 and y1 <= a.ys.stop]
        if covering:
            bands.append(_Band.make(slice(y0, y1), covering, blockRows, nx))
    return bands


@dataclasses.dataclass
class _Frame:
    """The whole-detector arrays of the pixel pass (`None` for a step that is off)."""

    out: np.ndarray
    variance: np.ndarray | None
    bias: np.ndarray | None
    dark: np.ndarray | None
    flat: np.ndarray | None
    darkScale: np.float32
    maskNaNs: bool


def _correctBlock(
    frame: _Frame, band: _Band, rows: slice, levels: np.ndarray, darkScratch: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """Correct one block of whole rows of the detector, in float32, touching each pixel once.

    Hand-written as one function, not one whole-frame numpy step per correction, for speed:
    the block stays in the CPU cache while every step runs over it, so the frame goes through
    memory once.  Each step is the textbook formula, in the order ``IsrTaskLSST`` applies them::

        image    = ((raw - serialLevel) - parallelLevel) * gain - bias
        variance = max(image, 0) + readNoise**2        (before the dark: its electrons count)
        image    = (image - dark * exptime) / flat
        variance = variance / flat / flat

    ``levels`` and ``darkScratch`` are scratch arrays of the block's shape.  Returns the flat
    indices of the pixels it flagged: saturated and suspect raw pixels, bad flat pixels and
    non-finite results (set to 0).
    """
    found: list[tuple[str, np.ndarray]] = []
    nx = frame.out.shape[1]

    def indices(flags: np.ndarray, x0: int = 0) -> np.ndarray:
        iy, ix = np.nonzero(flags)
        return (rows.start + iy) * nx + x0 + ix

    n = rows.stop - rows.start
    image = frame.out[rows]
    levels = levels[:n]
    # Assembly: each amplifier's raw pixels (uint16, exact in float32) to their place.
    for a in band.amps:
        ampRows = slice(rows.start - a.ys.start, rows.stop - a.ys.start)
        np.copyto(image[:, a.xs], a.data[ampRows])
        if band.perRowLevels:
            np.copyto(levels[:, a.xs], 0.0 if a.rowLevels is None else a.rowLevels[ampRows])
    # Saturation and suspect levels are in ADU: test the raw pixels before any correction.
    # Most blocks have no pixel near either level, which one max() tells.
    thresholds = [t for a in band.amps for t in (a.saturation, a.suspect) if t is not None]
    if thresholds and image.max() >= min(thresholds):
        for a in band.amps:
            for key, threshold in ((_SATURATED, a.saturation), (_SUSPECT, a.suspect)):
                if threshold is not None:
                    found.append((key, indices(makeThresholdMask(image[:, a.xs], threshold), a.xs.start)))
    if band.serialLevels is not None:
        image -= band.serialLevels[:n]
    elif band.perRowLevels:
        image -= levels
    if band.columnLevels is not None:
        image -= band.columnLevels[:n]
    if band.gain is not None:
        image *= band.gain[:n]
    if frame.bias is not None:
        image -= frame.bias[rows]
    variance = None
    if frame.variance is not None:
        # updateVariance's formula, with each amplifier's read noise.
        variance = frame.variance[rows]
        if band.varianceGain is None:
            np.maximum(image, band.zeros[:n], out=variance)
        else:
            np.maximum(np.divide(image, band.varianceGain[:n], out=variance), band.zeros[:n], out=variance)
        variance += band.readNoise2[:n]
    if frame.dark is not None:
        image -= np.multiply(frame.dark[rows], frame.darkScale, out=darkScratch[:n])
    if frame.flat is not None:
        flat = frame.flat[rows]
        if not flat.min() > 0:  # a zero, negative or NaN flat pixel: BAD, and divided by 1
            good = flat > 0
            found.append(("BAD", indices(~good)))
            flat = np.where(good, flat, np.float32(1))
        image /= flat
        if variance is not None:
            variance /= flat
            variance /= flat
    if frame.maskNaNs:
        finite = np.isfinite(image)
        if not finite.all():
            image[~finite] = 0.0
            found.append(("BAD", indices(~finite)))
    return found


def _correctBlocks(frame: _Frame, blocks: list[tuple[_Band, slice]]) -> list[tuple[str, np.ndarray]]:
    """Run `_correctBlock` over a few blocks with this thread's scratch arrays."""
    shape = (_BLOCK_ROWS, frame.out.shape[1])
    # Scratch allocated once per thread: a fresh temporary per block would page-fault every time.
    if getattr(_scratch, "shape", None) != shape:
        _scratch.shape = shape
        _scratch.levels = np.empty(shape, dtype=np.float32)
        _scratch.dark = np.empty(shape, dtype=np.float32)
    found: list[tuple[str, np.ndarray]] = []
    for band, rows in blocks:
        found += _correctBlock(frame, band, rows, _scratch.levels, _scratch.dark)
    return found


_scratch = threading.local()


class IsrTaskConnections(
    PipelineTaskConnections,
    dimensions=("instrument", "exposure", "detector"),
):
    """Butler connections of `IsrTask`; disabled calibrations are removed in ``__init__``."""

    ccdExposure = cT.Input(
        name="raw",
        doc="The raw exposure: unassembled frame with pre/overscans, detector and observation info.",
        storageClass="RawExposure",
        dimensions=("instrument", "exposure", "detector"),
    )
    bias = cT.PrerequisiteInput(
        name="bias",
        doc="Combined bias frame (electrons, assembled coordinates).",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    dark = cT.PrerequisiteInput(
        name="dark",
        doc="Combined dark frame (electrons per second, assembled coordinates).",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    flat = cT.PrerequisiteInput(
        name="flat",
        doc="Combined flat frame (normalized to mean 1) for the exposure's physical filter.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "physical_filter", "detector"),
        isCalibration=True,
    )
    fringes = cT.PrerequisiteInput(
        name="fringe",
        doc="Fringe pattern (unit amplitude) for the exposure's physical filter.  Optional in the graph "
        "(only some filters fringe); run() insists on it for the filters in fringe.filters.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "physical_filter", "detector"),
        isCalibration=True,
        minimum=0,
    )
    defects = cT.PrerequisiteInput(
        name="defects",
        doc="Table of defect boxes (x0, y0, x_extent, y_extent; assembled coordinates).",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    outputExposure = cT.Output(
        name="post_isr_image",
        doc="The ISR-corrected, assembled exposure in electrons, with mask and variance.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "exposure", "detector"),
    )

    def __init__(self, *, config: IsrTaskConfig | None = None) -> None:
        super().__init__(config=config)
        assert config is not None
        if not config.doBias:
            del self.bias
        if not config.doDark:
            del self.dark
        if not config.doFlat:
            del self.flat
        if not config.doFringe:
            del self.fringes
        if not config.doDefect:
            del self.defects


class IsrTaskConfig(PipelineTaskConfig, pipelineConnections=IsrTaskConnections):
    """Configuration of `IsrTask`; field names as in ``lsst.ip.isr.IsrTaskLSSTConfig``."""

    doOverscan = Field[bool](doc="Measure and subtract the overscan level of each amplifier.", default=True)
    overscan = ConfigurableField(target=OverscanCorrectionTask, doc="Overscan correction subtask.")
    doApplyGains = Field[bool](
        doc="Multiply each amplifier by its gain right after overscan correction, so the rest of ISR "
        "(and every calibration) is in electrons.",
        default=True,
    )
    doAssembleCcd = Field[bool](
        doc="Trim the pre/overscans and assemble the amplifiers into one detector image. Must stay on: "
        "the output and the calibrations are in assembled coordinates.",
        default=True,
    )
    doSaturation = Field[bool](doc="Mask pixels at or above the amplifier's saturation level.", default=True)
    saturatedMaskName = Field[str](doc="Mask plane set on saturated pixels.", default="SATURATED")
    saturation = Field[float](
        doc="Saturation level in ADU; NaN means use each amplifier's nominal level from the detector.",
        default=math.nan,
    )
    growSaturationFootprintSize = Field[int](
        doc="Grow the saturated-pixel mask by this many pixels (bleed trails and their wings).",
        default=1,
        check=lambda v: v >= 0,
    )
    doSuspect = Field[bool](
        doc="Mask pixels at or above the amplifier's suspect (non-linear) level.", default=True
    )
    suspectMaskName = Field[str](doc="Mask plane set on suspect pixels.", default="SUSPECT")
    doVariance = Field[bool](
        doc="Compute the variance plane from the signal (electrons) and each amplifier's read noise.",
        default=True,
    )
    doBias = Field[bool](doc="Subtract the combined bias frame.", default=True)
    doDark = Field[bool](doc="Subtract the dark frame scaled by the exposure time.", default=True)
    doFlat = Field[bool](doc="Divide by the flat field.", default=True)
    doFringe = Field[bool](doc="Fit and subtract the fringe pattern.", default=True)
    fringe = ConfigurableField(target=FringeTask, doc="Fringe subtraction subtask.")
    doDefect = Field[bool](doc="Mask the pixels listed in the defects table as BAD.", default=True)
    doNanMasking = Field[bool](
        doc="Mask non-finite pixels as BAD (and set them to 0 until interpolated).", default=True
    )
    doInterpolate = Field[bool](
        doc="Interpolate over the pixels in the maskListToInterpolate planes.", default=True
    )
    maskListToInterpolate = ListField[str](
        doc="Mask planes whose pixels are interpolated over.",
        default=["SATURATED", "BAD"],
    )

    def setDefaults(self) -> None:
        super().setDefaults()
        # As obs_subaru does for HSC: only the red filters fringe.
        self.fringe.filters = ["SimCam-Z", "SimCam-Y"]

    def validate(self) -> None:
        super().validate()
        if not self.doAssembleCcd:
            raise FieldValidationError(
                IsrTaskConfig.doAssembleCcd,
                self,
                "the calibrations and the output are in assembled coordinates; keep doAssembleCcd=True",
            )
        if (self.doBias or self.doDark or self.doFlat or self.doFringe) and not self.doApplyGains:
            raise FieldValidationError(
                IsrTaskConfig.doApplyGains,
                self,
                "the calibrations are in electrons; doApplyGains must be True when applying them",
            )
        from ._masks import MASK_PLANE_NAMES

        for name in (self.saturatedMaskName, self.suspectMaskName, *self.maskListToInterpolate):
            if name not in MASK_PLANE_NAMES:
                field = (
                    IsrTaskConfig.saturatedMaskName
                    if name == self.saturatedMaskName
                    else IsrTaskConfig.suspectMaskName
                    if name == self.suspectMaskName
                    else IsrTaskConfig.maskListToInterpolate
                )
                raise FieldValidationError(
                    field, self, f"unknown mask plane {name!r}; known planes: {', '.join(MASK_PLANE_NAMES)}"
                )


class IsrTask(PipelineTask):
    """Remove the instrument signature from a SimCam raw exposure.

    ``run`` takes the in-memory raw (a `stackclub.simcam.RawExposure`) and
    calibration frames and returns the assembled `lsst.images.MaskedImage`
    in electrons.  It does no I/O; `runQuantum` only gets, runs and puts.

    Examples
    --------
    >>> from stackclub.pipe import IsrTask
    >>> config = IsrTask.ConfigClass()
    >>> config.doFringe = False
    >>> task = IsrTask(config=config)
    >>> task.getFullName(), task.overscan.getFullName()
    ('isr', 'isr.overscan')
    """

    ConfigClass = IsrTaskConfig
    _DefaultName = "isr"
    config: IsrTaskConfig

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.makeSubtask("overscan")
        self.makeSubtask("fringe")

    def runQuantum(
        self,
        butlerQC: QuantumContext,
        inputRefs: InputQuantizedConnection,
        outputRefs: OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        outputs = self.run(**inputs)
        butlerQC.put(outputs, outputRefs)

    @staticmethod
    def _describeDataId(ccdExposure: Any) -> str:
        obs = getattr(ccdExposure, "obs_info", None)
        exposure = getattr(obs, "exposure_id", None) or getattr(obs, "observation_id", None)
        detector = getattr(getattr(ccdExposure, "detector", None), "id", None)
        instrument = getattr(obs, "instrument", None)
        return f"{{instrument: {instrument!r}, exposure: {exposure}, detector: {detector}}}"

    def _require(self, name: str, value: Any, ccdExposure: Any, dimensions: str) -> None:
        if value is None:
            raise IsrCalibrationMissingError(
                dataset=name,
                data_id=self._describeDataId(ccdExposure),
                switch=self._switch_for[name],
                dimensions=dimensions,
            )

    _switch_for = {
        "bias": "doBias",
        "dark": "doDark",
        "flat": "doFlat",
        "fringe": "doFringe",
        "defects": "doDefect",
    }

    def run(
        self,
        ccdExposure: Any,
        *,
        bias: MaskedImage | None = None,
        dark: MaskedImage | None = None,
        flat: MaskedImage | None = None,
        fringes: MaskedImage | None = None,
        defects: Table | None = None,
    ) -> Struct:
        """Run ISR on one raw exposure.

        Parameters
        ----------
        ccdExposure
            The raw exposure (`stackclub.simcam.RawExposure`: ``.image`` uint16
            full raw frame, ``.detector``, ``.obs_info``).
        bias, dark, flat, fringes
            Calibration frames (`lsst.images.MaskedImage`, assembled
            coordinates, electrons; dark in electrons per second; flat with
            mean 1; fringe of unit amplitude).  Required when their ``do*`` is on.
        defects
            Defects table (``x0, y0, x_extent, y_extent``).  Required when ``doDefect`` is on.

        Returns
        -------
        result
            ``outputExposure`` (`lsst.images.MaskedImage` in electrons),
            ``overscans`` (one overscan result per amplifier, or `None`),
            ``fringeAmplitude`` (`float` or `None`).

        Raises
        ------
        IsrCalibrationMissingError
            If a calibration whose ``do*`` switch is on was not given.
        """
        import astropy.units as u
        from lsst.images import Image, Mask, MaskedImage

        cfg = self.config
        detector = ccdExposure.detector
        obs_info = ccdExposure.obs_info
        if cfg.doBias:
            self._require("bias", bias, ccdExposure, "instrument, detector")
        if cfg.doDark:
            self._require("dark", dark, ccdExposure, "instrument, detector")
        if cfg.doFlat:
            self._require("flat", flat, ccdExposure, "instrument, physical_filter, detector")
        doFringe = cfg.doFringe and self.fringe.checkFilter(getattr(obs_info, "physical_filter", None))
        if doFringe:
            self._require("fringe", fringes, ccdExposure, "instrument, physical_filter, detector")
        if cfg.doDefect:
            self._require("defects", defects, ccdExposure, "instrument, detector")

        raw_image = ccdExposure.image
        raw_bbox = raw_image.bbox
        raw = raw_image.array  # uint16 ADU: read as is, never converted as a whole
        out_bbox = detector.bbox
        out = np.empty(out_bbox.shape, dtype=np.float32)
        variance = np.empty(out_bbox.shape, dtype=np.float32) if cfg.doVariance else None
        exptime = self._exposureTime(obs_info)
        for name, calib in (("bias", bias), ("dark", dark), ("flat", flat)):
            if getattr(cfg, f"do{name.capitalize()}"):
                self._checkShape(name, calib, out_bbox)

        # 1. Overscan levels, measured on the small overscan regions only.
        overscans: list[Struct | None] = []
        amps = []
        for amp in detector.amplifiers:
            geom = amp.assembled_raw_geometry
            if geom is None or amp.nominal_calibrations is None:
                raise ValueError(f"Amplifier {amp.name!r} lacks raw geometry or nominal calibrations.")
            levels = self.overscan.measureOverscan(raw, geom, raw_bbox) if cfg.doOverscan else None
            overscans.append(levels)
            amps.append(self._ampPass(amp, raw, raw_bbox, out_bbox, levels))

        # 2. One pass over the pixels, block of rows by block of rows (blocks small enough to
        #    stay in the CPU cache), on two threads: numpy releases the GIL inside each operation.
        #    Each block returns the (few) pixels it flagged.
        frame = _Frame(
            out=out,
            variance=variance,
            bias=bias.image.array if cfg.doBias else None,
            dark=dark.image.array if cfg.doDark else None,
            flat=flat.image.array if cfg.doFlat else None,
            darkScale=np.float32(exptime),
            maskNaNs=cfg.doNanMasking and not doFringe,  # with a fringe, NaNs are looked for after it
        )
        blocks = [
            (band, rows)
            for band in _bands(amps, out.shape[0], _BLOCK_ROWS, out.shape[1])
            for rows in _rowBlocks(band.rows, _BLOCK_ROWS)
        ]
        # Chunks of a few blocks, handed to whichever thread is free.
        chunks = [blocks[i : i + _BLOCKS_PER_CHUNK] for i in range(0, len(blocks), _BLOCKS_PER_CHUNK)]
        flagged: dict[str, list[np.ndarray]] = {}
        with ThreadPoolExecutor(max_workers=_N_THREADS) as pool:
            for found in pool.map(lambda chunk: _correctBlocks(frame, chunk), chunks):
                for plane, indices in found:
                    flagged.setdefault(plane, []).append(indices)

        fringeAmplitude = None
        if doFringe:
            self._checkShape("fringe", fringes, out_bbox)
            satArray = np.zeros(out_bbox.shape, dtype=bool)
            satArray.ravel()[_indices(flagged, _SATURATED)] = True
            fringeAmplitude = self.fringe.run(out, fringes.image.array, badArray=satArray).amplitude
            if cfg.doNanMasking:
                nonfinite = np.flatnonzero(~np.isfinite(out))
                out.ravel()[nonfinite] = 0.0
                flagged.setdefault("BAD", []).append(nonfinite)

        # 3. The mask: saturated pixels grown by growSaturationFootprintSize, suspect pixels,
        #    defects, bad flat and non-finite pixels as BAD.  Only the flagged pixels are visited.
        ny, nx = out_bbox.shape
        saturated = _indices(flagged, _SATURATED)
        if saturated.size and cfg.growSaturationFootprintSize > 0:
            g = cfg.growSaturationFootprintSize
            ys, xs = np.divmod(saturated, nx)
            grown = [
                np.clip(ys + dy, 0, ny - 1) * nx + np.clip(xs + dx, 0, nx - 1)
                for dy in range(-g, g + 1)
                for dx in range(-g, g + 1)
            ]
            saturated = np.unique(np.concatenate(grown))
        planes: dict[str, np.ndarray] = {}
        if cfg.doSaturation:
            planes[cfg.saturatedMaskName] = saturated
        if cfg.doSuspect:
            planes[cfg.suspectMaskName] = _union(planes.get(cfg.suspectMaskName), _indices(flagged, _SUSPECT))
        bad = _indices(flagged, "BAD")
        if cfg.doDefect:
            bad = np.union1d(
                bad, defectsToIndices(defects, out_bbox.shape, (out_bbox.y.start, out_bbox.x.start))
            )
        planes["BAD"] = _union(planes.get("BAD"), bad)
        mask = Mask(schema=make_mask_schema(), bbox=out_bbox)
        for name, indices in planes.items():
            set_mask_plane(mask, name, indices)
        nInterp = 0
        if cfg.doInterpolate:
            # ISR made this mask: a plane it did not set above is empty.
            to_interp = np.unique(
                np.concatenate([planes.get(name, _NO_PIXELS) for name in cfg.maskListToInterpolate])
            )
            if to_interp.size:
                nInterp = interpolateFromMask(out, to_interp)
                set_mask_plane(mask, "INTERPOLATED", to_interp)
        sat = saturated if cfg.doSaturation else _NO_PIXELS
        self.log.info(
            "ISR done on detector %s: %d saturated, %d bad, %d interpolated pixels",
            detector.id,
            sat.size,
            bad.size,
            nInterp,
        )
        unit = u.electron if cfg.doApplyGains else u.adu
        output = MaskedImage(
            Image(out, bbox=out_bbox, unit=unit),
            mask=mask,
            variance=None if variance is None else Image(variance, bbox=out_bbox, unit=unit**2),
            metadata={
                "DETECTOR": int(detector.id),
                "EXPTIME": float(exptime),
                "FILTER": str(getattr(obs_info, "physical_filter", "") or ""),
            },
        )
        return Struct(outputExposure=output, overscans=overscans, fringeAmplitude=fringeAmplitude)

    def _ampPass(
        self, amp: Any, raw: np.ndarray, raw_bbox: Any, out_bbox: Any, levels: Struct | None
    ) -> _AmpPass:
        """Cut one amplifier's imaging section out of the raw and gather its constants."""
        cfg = self.config
        geom = amp.assembled_raw_geometry
        calibs = amp.nominal_calibrations
        d_ys, d_xs = geom.data_bbox.slice_within(raw_bbox)
        a_ys, a_xs = amp.bbox.slice_within(out_bbox)
        # The imaging section in readout order (flipped if need be), as it goes into the detector.
        flip_y = slice(None, None, -1) if geom.flip_y else slice(None)
        flip_x = slice(None, None, -1) if geom.flip_x else slice(None)
        rowLevels = columnLevels = None
        if levels is not None:
            amp_ys, _ = geom.bbox.slice_within(raw_bbox)
            rowLevels = levels.rowLevels[d_ys.start - amp_ys.start : d_ys.stop - amp_ys.start]
            rowLevels = rowLevels[flip_y, np.newaxis]
            if levels.columnLevels is not None:
                columnLevels = levels.columnLevels[flip_x]
        satLevel = calibs.saturation if math.isnan(cfg.saturation) else cfg.saturation
        return _AmpPass(
            data=raw[d_ys, d_xs][flip_y, flip_x],
            ys=a_ys,
            xs=a_xs,
            rowLevels=rowLevels,
            columnLevels=columnLevels,
            gain=np.float32(calibs.gain) if cfg.doApplyGains else None,
            varianceGain=None if cfg.doApplyGains else np.float32(calibs.gain),
            readNoise=calibs.read_noise if cfg.doApplyGains else calibs.read_noise / calibs.gain,
            saturation=_aduThreshold(satLevel) if cfg.doSaturation else None,
            suspect=_aduThreshold(calibs.suspect_level) if cfg.doSuspect else None,
        )

    @staticmethod
    def _exposureTime(obs_info: Any) -> float:
        exptime = getattr(obs_info, "exposure_time", None)
        if exptime is None:
            raise ValueError("The raw's obs_info has no exposure_time; ISR needs it to scale the dark.")
        return float(getattr(exptime, "value", exptime))

    @staticmethod
    def _checkShape(name: str, calib: Any, bbox: Any) -> None:
        if calib.bbox != bbox:
            raise ValueError(
                f"The {name} calibration covers {calib.bbox}, but the assembled detector is {bbox}; "
                "was it made for another detector geometry?"
            )
