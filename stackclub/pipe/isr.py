"""Instrument signature removal (ISR): ``raw`` -> ``post_isr_image``.

Mirrors ``lsst.ip.isr.IsrTaskLSST``: the same ``do*`` switches, the same order of steps
(overscan, gains, assembly, saturation/suspect masking, variance, bias, dark, flat, fringe,
defects, interpolation), the overscan and fringe steps as subtasks, calibrations found
through the calibration collection as prerequisite inputs, and the output written as an
`lsst.images.MaskedImage` (storage class ``MaskedImageV2``) in electrons.
"""

from __future__ import annotations

__all__ = ("IsrTask", "IsrTaskConfig", "IsrTaskConnections")

import dataclasses
import math
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
from .isrFunctions import defectsToIndices, interpolateFromMask, makeThresholdMask, updateVariance
from .overscan import OverscanCorrectionTask

if TYPE_CHECKING:
    from astropy.table import Table
    from lsst.images import MaskedImage
    from lsst.pipe.base import InputQuantizedConnection, OutputQuantizedConnection, QuantumContext

#: Rows per block of the pixel pass: with 512-column amplifiers, the block's float32 output,
#: variance, bias, dark and flat (5 x 64 x 512 x 4 bytes = 640 kB) stay in a 1 MB L2 cache.
_BLOCK_ROWS = 64
#: Threads of the pixel pass (numpy releases the GIL inside each operation).
_N_THREADS = 2
#: Keys of the pixels flagged by the pixel pass (plane names are configurable, these are not).
_SATURATED, _SUSPECT = "saturated", "suspect"
_NO_PIXELS = np.zeros(0, dtype=np.intp)


def _rowBlocks(nRows: int, blockRows: int) -> Iterator[slice]:
    for start in range(0, nRows, blockRows):
        yield slice(start, min(start + blockRows, nRows))


def _indices(flagged: dict[str, list[np.ndarray]], key: str) -> np.ndarray:
    """Sorted, unique flat pixel indices collected under ``key``."""
    found = flagged.get(key)
    return np.unique(np.concatenate(found)) if found else _NO_PIXELS


def _union(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None else np.union1d(a, b)


@dataclasses.dataclass
class _AmpPass:
    """What the pixel pass needs for one amplifier: views, in assembled orientation, and constants."""

    data: np.ndarray  # raw uint16 imaging section
    out: np.ndarray
    variance: np.ndarray | None
    bias: np.ndarray | None
    dark: np.ndarray | None
    flat: np.ndarray | None
    rowLevels: np.ndarray | None  # float32 (rows, 1): serial overscan level of each row
    columnLevels: np.ndarray | None  # float32 (columns,): parallel overscan level of each column
    gain: np.float32 | None  # None: leave the pixels in ADU
    varianceGain: np.float32 | None  # not None: the variance of ADU pixels
    readNoise: float  # in the output's units
    darkScale: np.float32
    saturation: int | None  # lowest flagged raw ADU, or None to flag nothing
    suspect: int | None
    origin: int  # flat index of the amplifier's first pixel in the assembled frame
    rowStride: int  # pixels per row of the assembled frame


def _aduThreshold(level: float) -> int | None:
    """Lowest integer ADU at or above ``level`` (so ``raw >= it`` on uint16), None if not finite."""
    return max(math.ceil(level), 0) if math.isfinite(level) else None


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
            amps.append(
                self._ampPass(amp, raw, raw_bbox, out, out_bbox, variance, bias, dark, flat, exptime, levels)
            )

        # 2. One pass over the pixels, amplifier by amplifier and block of rows by block of rows
        #    (blocks small enough to stay in the CPU cache), on two threads: numpy releases the
        #    GIL inside each operation.  Each block returns the (few) pixels it flagged.
        flagged: dict[str, list[np.ndarray]] = {}
        maskNaNs = cfg.doNanMasking and not doFringe  # with a fringe, NaNs are looked for after it
        with ThreadPoolExecutor(max_workers=_N_THREADS) as pool:
            for found in pool.map(lambda a: self._correctAmp(a, maskNaNs=maskNaNs), amps):
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
        self,
        amp: Any,
        raw: np.ndarray,
        raw_bbox: Any,
        out: np.ndarray,
        out_bbox: Any,
        variance: np.ndarray | None,
        bias: MaskedImage | None,
        dark: MaskedImage | None,
        flat: MaskedImage | None,
        exptime: float,
        levels: Struct | None,
    ) -> _AmpPass:
        """Cut one amplifier's views out of the raw, output and calibration arrays."""
        cfg = self.config
        geom = amp.assembled_raw_geometry
        calibs = amp.nominal_calibrations
        d_ys, d_xs = geom.data_bbox.slice_within(raw_bbox)
        a_ys, a_xs = amp.bbox.slice_within(out_bbox)
        # Assembly: the imaging section is read in readout order (flipped if need be) and written
        # to its place in the detector.
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

        def view(calib: MaskedImage | None, switch: bool) -> np.ndarray | None:
            return calib.image.array[a_ys, a_xs] if switch and calib is not None else None

        return _AmpPass(
            data=raw[d_ys, d_xs][flip_y, flip_x],
            out=out[a_ys, a_xs],
            variance=None if variance is None else variance[a_ys, a_xs],
            bias=view(bias, cfg.doBias),
            dark=view(dark, cfg.doDark),
            flat=view(flat, cfg.doFlat),
            rowLevels=rowLevels,
            columnLevels=columnLevels,
            gain=np.float32(calibs.gain) if cfg.doApplyGains else None,
            varianceGain=None if cfg.doApplyGains else np.float32(calibs.gain),
            readNoise=calibs.read_noise if cfg.doApplyGains else calibs.read_noise / calibs.gain,
            darkScale=np.float32(exptime),
            saturation=_aduThreshold(satLevel) if cfg.doSaturation else None,
            suspect=_aduThreshold(calibs.suspect_level) if cfg.doSuspect else None,
            origin=a_ys.start * out.shape[1] + a_xs.start,
            rowStride=out.shape[1],
        )

    @classmethod
    def _correctAmp(cls, a: _AmpPass, *, maskNaNs: bool) -> list[tuple[str, np.ndarray]]:
        """Run `_correctBlock` over the amplifier, block of rows by block of rows."""
        nRows, nColumns = a.out.shape
        # One scratch block per amplifier: a fresh temporary per block would cost a page fault
        # per 4 kB on every block.
        scratch = np.empty((min(_BLOCK_ROWS, nRows), nColumns), dtype=np.float32)
        found: list[tuple[str, np.ndarray]] = []
        for rows in _rowBlocks(nRows, _BLOCK_ROWS):
            found += cls._correctBlock(a, rows, scratch[: rows.stop - rows.start], maskNaNs=maskNaNs)
        return found

    @staticmethod
    def _correctBlock(
        a: _AmpPass, rows: slice, scratch: np.ndarray, *, maskNaNs: bool
    ) -> list[tuple[str, np.ndarray]]:
        """Correct one block of rows of one amplifier, in float32, touching each pixel once.

        Hand-written as one function, not one whole-frame numpy step per correction, for speed:
        a block stays in the CPU cache while every step runs over it, so the frame goes
        through memory once.  Each step is the textbook formula, in the order ``IsrTaskLSST``
        applies them::

            image    = ((raw - serialLevel) - parallelLevel) * gain - bias
            variance = max(image, 0) + readNoise**2            (before the dark: its electrons count)
            image    = (image - dark * exptime) / flat
            variance = variance / flat / flat

        Returns the flat indices (assembled frame) of the pixels it flagged: saturated and
        suspect raw pixels, bad flat pixels, non-finite results (set to 0).
        """
        found: list[tuple[str, np.ndarray]] = []

        def indices(flags: np.ndarray) -> np.ndarray:
            iy, ix = np.nonzero(flags)
            return a.origin + (rows.start + iy) * a.rowStride + ix

        data = a.data[rows]
        image = a.out[rows]
        # Saturation and suspect levels are in ADU: test the raw pixels before any correction.
        # Most blocks have no pixel near either level, which one max() tells.
        levels = [(key, t) for key, t in ((_SATURATED, a.saturation), (_SUSPECT, a.suspect)) if t is not None]
        if levels and data.max() >= min(t for _, t in levels):
            for key, threshold in levels:
                found.append((key, indices(makeThresholdMask(data, threshold))))
        if a.rowLevels is not None:
            np.subtract(data, a.rowLevels[rows], out=image)
        else:
            np.copyto(image, data)
        if a.columnLevels is not None:
            image -= a.columnLevels
        if a.gain is not None:
            image *= a.gain
        if a.bias is not None:
            image -= a.bias[rows]
        variance = None
        if a.variance is not None:
            variance = a.variance[rows]
            if a.varianceGain is None:
                updateVariance(image, a.readNoise, out=variance)
            else:  # ADU: the Poisson term is signal/gain, the read noise read_noise/gain.
                updateVariance(np.divide(image, a.varianceGain, out=variance), a.readNoise, out=variance)
        if a.dark is not None:
            image -= np.multiply(a.dark[rows], a.darkScale, out=scratch)
        if a.flat is not None:
            flat = a.flat[rows]
            good = flat > 0
            if not good.all():  # a zero, negative or NaN flat pixel: BAD, and divided by 1
                found.append(("BAD", indices(~good)))
                flat = np.where(good, flat, np.float32(1))
            image /= flat
            if variance is not None:
                variance /= flat
                variance /= flat
        if maskNaNs:
            finite = np.isfinite(image)
            if not finite.all():
                image[~finite] = 0.0
                found.append(("BAD", indices(~finite)))
        return found

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
