"""Instrument signature removal (ISR): ``raw`` -> ``post_isr_image``.

Mirrors ``lsst.ip.isr.IsrTaskLSST``: the same ``do*`` switches, the same order of steps
(overscan, gains, assembly, saturation/suspect masking, variance, bias, dark, flat, fringe,
defects, interpolation), the overscan and fringe steps as subtasks, calibrations found
through the calibration collection as prerequisite inputs, and the output written as an
`lsst.images.MaskedImage` (storage class ``MaskedImageV2``) in electrons.
"""

from __future__ import annotations

__all__ = ("IsrTask", "IsrTaskConfig", "IsrTaskConnections")

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ConfigurableField, Field, FieldValidationError, ListField
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from .._exceptions import IsrCalibrationMissingError
from ._masks import make_mask_schema, set_mask_plane
from .fringe import FringeTask
from .isrFunctions import defectsToBoolArray, interpolateFromMask, makeThresholdMask, updateVariance
from .overscan import OverscanCorrectionTask

if TYPE_CHECKING:
    from astropy.table import Table
    from lsst.images import MaskedImage
    from lsst.pipe.base import InputQuantizedConnection, OutputQuantizedConnection, QuantumContext


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
        raw = raw_image.array.astype(np.float32)
        out_bbox = detector.bbox
        out = np.empty(out_bbox.shape, dtype=np.float32)
        variance = np.empty(out_bbox.shape, dtype=np.float32) if cfg.doVariance else None
        sat = np.zeros(out_bbox.shape, dtype=bool)
        suspect = np.zeros(out_bbox.shape, dtype=bool)
        overscans: list[Struct | None] = []

        for amp in detector.amplifiers:
            geom = amp.assembled_raw_geometry
            calibs = amp.nominal_calibrations
            if geom is None or calibs is None:
                raise ValueError(f"Amplifier {amp.name!r} lacks raw geometry or nominal calibrations.")
            d_ys, d_xs = geom.data_bbox.slice_within(raw_bbox)
            a_ys, a_xs = amp.bbox.slice_within(out_bbox)
            flip_y = slice(None, None, -1) if geom.flip_y else slice(None)
            flip_x = slice(None, None, -1) if geom.flip_x else slice(None)
            # Saturation and suspect levels are in ADU: test the raw pixels before any correction.
            satLevel = calibs.saturation if math.isnan(cfg.saturation) else cfg.saturation
            if cfg.doSaturation:
                sat[a_ys, a_xs] = makeThresholdMask(raw[d_ys, d_xs], satLevel)[flip_y, flip_x]
            if cfg.doSuspect:
                suspect[a_ys, a_xs] = makeThresholdMask(raw[d_ys, d_xs], calibs.suspect_level)[flip_y, flip_x]
            overscans.append(self.overscan.run(raw, geom, raw_bbox) if cfg.doOverscan else None)
            gain = calibs.gain if cfg.doApplyGains else 1.0
            # Assembly: copy the imaging section to its place in the detector, flipped to readout order.
            np.multiply(raw[d_ys, d_xs][flip_y, flip_x], np.float32(gain), out=out[a_ys, a_xs])

        if cfg.doBias:
            self._checkShape("bias", bias, out_bbox)
            out -= bias.image.array
        if variance is not None:
            # After the bias (not Poisson) and before the dark (Poisson: its electrons count).
            for amp in detector.amplifiers:
                a_ys, a_xs = amp.bbox.slice_within(out_bbox)
                rn, g = amp.nominal_calibrations.read_noise, amp.nominal_calibrations.gain
                if cfg.doApplyGains:
                    updateVariance(out[a_ys, a_xs], rn, out=variance[a_ys, a_xs])
                else:  # ADU: Poisson term is signal/gain, read noise is read_noise/gain.
                    updateVariance(out[a_ys, a_xs] / np.float32(g), rn / g, out=variance[a_ys, a_xs])
        exptime = self._exposureTime(obs_info)
        if cfg.doDark:
            self._checkShape("dark", dark, out_bbox)
            scratch = np.multiply(dark.image.array, np.float32(exptime), dtype=np.float32)
            out -= scratch
        if cfg.doFlat:
            self._checkShape("flat", flat, out_bbox)
            flat_array = flat.image.array
            bad_flat = ~(flat_array > 0)
            if bad_flat.any():
                flat_array = np.where(bad_flat, np.float32(1), flat_array)
            out /= flat_array
            if variance is not None:
                variance /= flat_array
                variance /= flat_array
        else:
            bad_flat = None
        fringeAmplitude = None
        if doFringe:
            self._checkShape("fringe", fringes, out_bbox)
            fringeAmplitude = self.fringe.run(out, fringes.image.array, badArray=sat).amplitude

        mask = Mask(schema=make_mask_schema(), bbox=out_bbox)
        if cfg.doSaturation:
            if cfg.growSaturationFootprintSize > 0 and sat.any():
                # Square growth by offsetting the (few) saturated pixels: cost scales with their number.
                g = cfg.growSaturationFootprintSize
                ys, xs = np.nonzero(sat)
                ny, nx = sat.shape
                for dy in range(-g, g + 1):
                    for dx in range(-g, g + 1):
                        sat[np.clip(ys + dy, 0, ny - 1), np.clip(xs + dx, 0, nx - 1)] = True
            set_mask_plane(mask, cfg.saturatedMaskName, sat)
        if cfg.doSuspect:
            set_mask_plane(mask, cfg.suspectMaskName, suspect)
        bad = np.zeros(out_bbox.shape, dtype=bool)
        if cfg.doDefect:
            bad |= defectsToBoolArray(defects, out_bbox.shape, (out_bbox.y.start, out_bbox.x.start))
        if bad_flat is not None:
            bad |= bad_flat
        if cfg.doNanMasking:
            nonfinite = ~np.isfinite(out)
            if nonfinite.any():
                bad |= nonfinite
                out[nonfinite] = 0.0
        if bad.any():
            set_mask_plane(mask, "BAD", bad)
        nInterp = 0
        if cfg.doInterpolate:
            # The planes ISR just set are at hand as boolean arrays; others are unpacked from the mask.
            known = {cfg.saturatedMaskName: sat if cfg.doSaturation else None, "BAD": bad}
            to_interp = np.zeros(out_bbox.shape, dtype=bool)
            for name in cfg.maskListToInterpolate:
                plane = known.get(name)
                to_interp |= plane if plane is not None else mask.get(name)
            if to_interp.any():
                nInterp = interpolateFromMask(out, to_interp)
                set_mask_plane(mask, "INTERPOLATED", to_interp)
        self.log.info(
            "ISR done on detector %s: %d saturated, %d bad, %d interpolated pixels",
            detector.id,
            int(sat.sum()),
            int(bad.sum()),
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
