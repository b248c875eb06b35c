"""Instrument signature removal (ISR): ``raw`` -> ``postISRCCD`` (``post_isr_image`` in our pipelines).

Mirrors ``lsst.ip.isr.IsrTask`` (ip_isr w.2026.20), the legacy ISR task that drp_pipe's HSC
pipeline runs (``pipelines/_ingredients/HSC/DRP.yaml``: ``isr: class: lsst.ip.isr.IsrTask``;
LSSTCam's runs ``IsrTaskLSST`` instead).  `IsrTask.run` is Rubin's list of
``if self.config.doX:`` steps, in Rubin's order, each calling a method of the task, a subtask
(``overscan``, ``assembleCcd``, ``fringe``) or one whole-image function of
`stackclub.pipe.isrFunctions`.  Config fields, defaults, connection and dataset names are
Rubin's (mask planes have lsst.images' names: ``SATURATED`` for Rubin's ``SAT``);
`IsrTaskConfig.setDefaults` holds SimCam's camera-specific settings, as obs_subaru's
``config/isr.py`` holds HSC's.  The image stays in ADU, as the raw and the calibrations are,
until ``doApplyGains`` turns it into electrons after the flat field.
"""

from __future__ import annotations

__all__ = ("IsrTask", "IsrTaskConfig", "IsrTaskConnections")

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ChoiceField, ConfigurableField, Field, FieldValidationError, ListField
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT
from lsst.utils.timer import timeMethod

from .._exceptions import IsrCalibrationMissingError
from . import isrFunctions
from ._masks import MASK_PLANE_NAMES, make_mask_schema, mask_planes_set, set_mask_plane
from .assembleCcdTask import AssembleCcdConfig, AssembleCcdTask
from .fringe import FringeConfig, FringeTask
from .overscan import OverscanCorrectionTask, OverscanCorrectionTaskConfig

if TYPE_CHECKING:
    from astropy.table import Table
    from lsst.images import MaskedImage
    from lsst.images.cameras import Amplifier
    from lsst.images.serialization import MetadataValue
    from lsst.pipe.base import InputQuantizedConnection, OutputQuantizedConnection, QuantumContext

    from ..simcam.raw import RawExposure


class IsrTaskConnections(
    PipelineTaskConnections,
    dimensions=("instrument", "exposure", "detector"),
):
    """Butler connections of `IsrTask`: names as Rubin's; disabled calibrations are removed.

    Parameters
    ----------
    config
        The task's config (its ``do*`` switches decide which calibrations are inputs).
    """

    ccdExposure = cT.Input(
        name="raw",
        doc="Input exposure to process.",
        storageClass="RawExposure",
        dimensions=("instrument", "exposure", "detector"),
    )
    bias = cT.PrerequisiteInput(
        name="bias",
        doc="Input bias calibration.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    dark = cT.PrerequisiteInput(
        name="dark",
        doc="Input dark calibration.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    flat = cT.PrerequisiteInput(
        name="flat",
        doc="Input flat calibration.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "physical_filter", "detector"),
        isCalibration=True,
    )
    fringes = cT.PrerequisiteInput(
        name="fringe",
        doc="Input fringe calibration.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "physical_filter", "detector"),
        isCalibration=True,
        minimum=0,  # only needed for some bands, even when enabled
    )
    defects = cT.PrerequisiteInput(
        name="defects",
        doc="Input defect tables.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    outputExposure = cT.Output(
        name="postISRCCD",
        doc="Output ISR processed exposure.",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "exposure", "detector"),
    )

    def __init__(self, *, config: IsrTaskConfig | None = None) -> None:
        super().__init__(config=config)
        assert config is not None
        if config.doBias is not True:
            self.prerequisiteInputs.remove("bias")
        if config.doDefect is not True:
            self.prerequisiteInputs.remove("defects")
        if config.doDark is not True:
            self.prerequisiteInputs.remove("dark")
        if config.doFlat is not True:
            self.prerequisiteInputs.remove("flat")
        if config.doFringe is not True:
            self.prerequisiteInputs.remove("fringes")


class IsrTaskConfig(PipelineTaskConfig, pipelineConnections=IsrTaskConnections):
    """Configuration of `IsrTask`: Rubin's ``IsrTaskConfig`` fields it implements, in the order they act."""

    # Calibration checking.
    doRaiseOnCalibMismatch = Field[bool](
        doc="Should IsrTask halt if exposure and calibration header values do not match? "
        "(Here: if a calibration's unit is not the ADU the raw is in.)",
        default=False,
    )
    # Saturated pixel handling.
    doSaturation = Field[bool](
        doc="Mask saturated pixels? NB: this is totally independent of the interpolation option - this "
        "is ONLY setting the bits in the mask. To have them interpolated make sure "
        "doSaturationInterpolation=True",
        default=True,
    )
    saturatedMaskName = Field[str](
        doc="Name of mask plane to use in saturation detection and interpolation (Rubin's: SAT, "
        "which lsst.images calls SATURATED).",
        default="SATURATED",
    )
    saturation = Field[float](
        doc="The saturation level (raw ADU) to use instead of each amplifier's (ignored if NaN).",
        default=float("nan"),
    )
    growSaturationFootprintSize = Field[int](
        doc="Number of pixels by which to grow the saturation footprints", default=1
    )
    # Suspect pixel handling.
    doSuspect = Field[bool](doc="Mask suspect pixels?", default=False)
    suspectMaskName = Field[str](doc="Name of mask plane to use for suspect pixels", default="SUSPECT")
    # Overscan subtraction.
    doOverscan = Field[bool](doc="Do overscan subtraction?", default=True)
    overscan: ConfigurableField[OverscanCorrectionTaskConfig] = ConfigurableField(
        target=OverscanCorrectionTask, doc="Overscan subtraction task for image segments."
    )
    # Amplifier to CCD assembly.
    doAssembleCcd = Field[bool](
        doc="Assemble amp-level exposures into a ccd-level exposure? (SimCam's calibrations and "
        "output are assembled: it must stay True.)",
        default=True,
    )
    assembleCcd: ConfigurableField[AssembleCcdConfig] = ConfigurableField(
        target=AssembleCcdTask, doc="CCD assembly task"
    )
    # Bias subtraction.
    doBias = Field[bool](doc="Apply bias frame correction?", default=True)
    # Variance construction.
    doVariance = Field[bool](doc="Calculate variance?", default=True)
    maskNegativeVariance = Field[bool](
        doc="Mask pixels that claim a negative variance?  This likely indicates a failure in the "
        "measurement of the overscan at an edge due to the data falling off faster than the overscan "
        "model can account for it.",
        default=True,
    )
    negativeVarianceMaskName = Field[str](
        doc="Mask plane to use to mark pixels with negative variance, if `maskNegativeVariance` is True.",
        default="BAD",
    )
    # Masking options.
    doDefect = Field[bool](doc="Apply correction for CCD defects, e.g. hot pixels?", default=True)
    doNanMasking = Field[bool](doc="Mask non-finite (NAN, inf) pixels?", default=True)
    doWidenSaturationTrails = Field[bool](doc="Widen bleed trails based on their width?", default=True)
    # Dark subtraction.
    doDark = Field[bool](doc="Apply dark frame correction?", default=True)
    # Flat correction.
    doFlat = Field[bool](doc="Apply flat field correction?", default=True)
    flatScalingType = ChoiceField[str](
        doc="The method for scaling the flat on the fly.",
        default="USER",
        allowed={
            "USER": "Scale by flatUserScale",
            "MEAN": "Scale by the inverse of the mean",
            "MEDIAN": "Scale by the inverse of the median",
        },
    )
    flatUserScale = Field[float](
        doc="If flatScalingType is 'USER' then scale flat by this amount; ignored otherwise", default=1.0
    )
    # Amplifier gains.
    doApplyGains = Field[bool](
        doc="Correct the amplifiers for their gains (Rubin: instead of applying flat correction, as "
        "HSC's flats carry the gains; SimCam's flats do not, so here after it: the output is then "
        "in electrons).",
        default=False,
    )
    normalizeGains = Field[bool](
        doc="Normalize all the amplifiers in each CCD to have the same median value.", default=False
    )
    # Fringe correction.
    doFringe = Field[bool](doc="Apply fringe correction?", default=True)
    fringe: ConfigurableField[FringeConfig] = ConfigurableField(
        target=FringeTask, doc="Fringe subtraction task"
    )
    fringeAfterFlat = Field[bool](doc="Do fringe subtraction after flat-fielding?", default=True)
    # Interpolation options.
    doInterpolate = Field[bool](doc="Interpolate masked pixels?", default=True)
    doSaturationInterpolation = Field[bool](
        doc="Perform interpolation over pixels masked as saturated? NB: This is independent of "
        "doSaturation; if that is False this plane will likely be blank, resulting in a no-op here.",
        default=True,
    )
    maskListToInterpolate = ListField[str](
        doc="List of mask planes that should be interpolated (Rubin's: SAT, BAD).",
        default=["SATURATED", "BAD"],
    )

    def setDefaults(self) -> None:
        super().setDefaults()
        # SimCam's camera-specific settings, as obs_subaru's config/isr.py sets HSC's:
        self.doSuspect = True  # HSC: True
        self.fringe.filters = ["SimCam-Z", "SimCam-Y"]  # HSC: HSC-Y and narrow bands
        self.doApplyGains = True  # HSC: False (its flats carry the gains; SimCam's do not)

    def validate(self) -> None:
        super().validate()
        if self.doSaturationInterpolation and self.saturatedMaskName not in self.maskListToInterpolate:
            self.maskListToInterpolate.append(self.saturatedMaskName)
        if not self.doSaturationInterpolation and self.saturatedMaskName in self.maskListToInterpolate:
            self.maskListToInterpolate.remove(self.saturatedMaskName)
        if not self.doAssembleCcd:
            raise FieldValidationError(
                IsrTaskConfig.doAssembleCcd,
                self,
                "the calibrations and the output are in assembled coordinates; keep doAssembleCcd=True",
            )
        fields = {
            IsrTaskConfig.saturatedMaskName: [self.saturatedMaskName],
            IsrTaskConfig.suspectMaskName: [self.suspectMaskName],
            IsrTaskConfig.negativeVarianceMaskName: [self.negativeVarianceMaskName],
            IsrTaskConfig.maskListToInterpolate: list(self.maskListToInterpolate),
        }
        for field, names in fields.items():
            for name in names:
                if name not in MASK_PLANE_NAMES:
                    known = ", ".join(MASK_PLANE_NAMES)
                    raise FieldValidationError(
                        field, self, f"unknown mask plane {name!r}; known planes: {known}"
                    )


class IsrTask(PipelineTask):
    """Apply common instrument signature correction algorithms to a raw frame.

    ``run`` takes the raw (a `stackclub.simcam.RawExposure`: uint16 ADU, all amplifiers with
    their pre-scans and overscans) and the calibrations, and returns the corrected, assembled
    `lsst.images.MaskedImage` with its mask and variance.  It does no I/O; `runQuantum` gets,
    runs and puts.

    Parameters
    ----------
    **kwargs
        As for `lsst.pipe.base.PipelineTask` (``config``, ``name``, ``parentTask`` ...).

    Examples
    --------
    >>> from stackclub.pipe import IsrTask
    >>> task = IsrTask()
    >>> task.getFullName(), task.overscan.getFullName(), task.fringe.getFullName()
    ('isr', 'isr.overscan', 'isr.fringe')
    """

    ConfigClass = IsrTaskConfig
    _DefaultName = "isr"
    config: IsrTaskConfig
    assembleCcd: AssembleCcdTask
    fringe: FringeTask
    overscan: OverscanCorrectionTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.makeSubtask("assembleCcd")
        self.makeSubtask("fringe")
        self.makeSubtask("overscan")

    def runQuantum(
        self,
        butlerQC: QuantumContext,
        inputRefs: InputQuantizedConnection,
        outputRefs: OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        if self.config.doFringe is True and self.fringe.checkFilter(inputs["ccdExposure"]):
            expId = inputs["ccdExposure"].obs_info.exposure_id
            inputs["fringes"] = self.fringe.loadFringes(inputs.get("fringes"), expId=expId)
        else:
            inputs["fringes"] = Struct(fringes=None)
        outputs = self.run(**inputs)
        butlerQC.put(outputs, outputRefs)

    @timeMethod
    def run(
        self,
        ccdExposure: RawExposure,
        *,
        bias: MaskedImage | None = None,
        dark: MaskedImage | None = None,
        flat: MaskedImage | None = None,
        defects: Table | None = None,
        fringes: Struct | None = None,
    ) -> Struct:
        """Perform instrument signature removal on an exposure.

        Parameters
        ----------
        ccdExposure
            The raw exposure (`stackclub.simcam.RawExposure`).
        bias
            Bias calibration frame (`lsst.images.MaskedImage`, ADU, assembled coordinates), or
            `None`; the calibrations are required when their ``do*`` switch is on.
        dark
            Dark calibration frame (`lsst.images.MaskedImage`, ADU per the ``DARKTIME`` seconds
            of its metadata), or `None`.
        flat
            Flat calibration frame (`lsst.images.MaskedImage`, relative response), or `None`.
        defects
            Defects table (`astropy.table.Table`: ``x0, y0, x_extent, y_extent``, assembled
            coordinates), or `None`.
        fringes
            ``Struct(fringes=..., seed=...)`` as `FringeTask.loadFringes` makes it (default:
            no fringe frame).

        Returns
        -------
        result
            ``exposure`` and its alias ``outputExposure``: the corrected
            `lsst.images.MaskedImage` (electrons with ``doApplyGains``, else ADU).

        Raises
        ------
        IsrCalibrationMissingError
            If a calibration whose ``do*`` switch is on was not given.
        """
        fringes = Struct(fringes=None) if fringes is None else fringes
        detector = ccdExposure.detector
        self.validateInputs(ccdExposure, bias=bias, dark=dark, flat=flat, defects=defects, fringes=fringes)

        self.log.info("Converting exposure to floating point values.")
        ccdExposure = self.convertIntToFloat(ccdExposure)

        # Amplifier level processing.
        for amp in detector.amplifiers:
            # Check for fully masked bad amplifiers, and mask SUSPECT and SATURATED raw pixels.
            badAmp = self.maskAmplifier(ccdExposure, amp, defects)
            if self.config.doOverscan and not badAmp:
                self.overscanCorrection(ccdExposure, amp)
                self.log.debug("Corrected overscan for amplifier %s.", amp.name)

        if self.config.doAssembleCcd:
            self.log.info("Assembling CCD from amplifiers.")
            ccdExposure = self.assembleCcd.assembleCcd(ccdExposure, detector)

        if self.config.doBias:
            self.log.info("Applying bias correction.")
            isrFunctions.biasCorrection(ccdExposure, bias)

        if self.config.doVariance:
            for amp in detector.amplifiers:
                self.log.debug("Constructing variance map for amplifer %s.", amp.name)
                self.updateVariance(ccdExposure[amp.bbox], amp)
            if self.config.maskNegativeVariance:
                self.maskNegativeVariance(ccdExposure)

        if self.config.doDefect:
            self.log.info("Masking defects.")
            self.maskDefect(ccdExposure, defects)

        if self.config.doNanMasking:
            self.log.info("Masking non-finite (NAN, inf) value pixels.")
            self.maskNan(ccdExposure)

        if self.config.doWidenSaturationTrails:
            self.log.info("Widening saturation trails.")
            isrFunctions.widenSaturationTrails(ccdExposure.mask, self.config.saturatedMaskName)

        if self.config.doDark:
            self.log.info("Applying dark correction.")
            self.darkCorrection(ccdExposure, dark)

        if self.config.doFringe and not self.config.fringeAfterFlat:
            self.log.info("Applying fringe correction before flat.")
            self.fringe.run(ccdExposure, **fringes.getDict())

        if self.config.doFlat:
            self.log.info("Applying flat correction.")
            self.flatCorrection(ccdExposure, flat)

        if self.config.doApplyGains:
            self.log.info("Applying gain correction.")
            ccdExposure = isrFunctions.applyGains(ccdExposure, detector, self.config.normalizeGains)
            ccdExposure.metadata["LSST ISR UNITS"] = "electron"

        if self.config.doFringe and self.config.fringeAfterFlat:
            self.log.info("Applying fringe correction after flat.")
            self.fringe.run(ccdExposure, **fringes.getDict())

        if self.config.doInterpolate:
            self.log.info("Interpolating masked pixels.")
            isrFunctions.interpolateFromMask(
                ccdExposure,
                growSaturatedFootprints=self.config.growSaturationFootprintSize,
                maskNameList=list(self.config.maskListToInterpolate),
            )

        return Struct(exposure=ccdExposure, outputExposure=ccdExposure)

    def validateInputs(
        self,
        ccdExposure: Any,
        *,
        bias: MaskedImage | None,
        dark: MaskedImage | None,
        flat: MaskedImage | None,
        defects: Table | None,
        fringes: Struct,
    ) -> None:
        """Check that every calibration a ``do*`` switch asks for was given, in ADU.

        Parameters
        ----------
        ccdExposure
            The raw exposure (for its filter and the data ID in messages).
        bias, dark, flat, defects
            The calibrations given to `run`.
        fringes
            The fringe `~lsst.pipe.base.Struct` given to `run`.

        Raises
        ------
        IsrCalibrationMissingError
            If a calibration is missing.
        TypeError
            If ``fringes`` is not a `~lsst.pipe.base.Struct`.
        """
        if not isinstance(fringes, Struct):
            raise TypeError(
                f"fringes must be a Struct(fringes=..., seed=...), as FringeTask.loadFringes makes it; "
                f"got {type(fringes).__name__}: pass fringes=task.fringe.loadFringes(fringe)."
            )
        doFringe = self.config.doFringe and self.fringe.checkFilter(ccdExposure)
        needed = [
            ("bias", "doBias", self.config.doBias, bias, "instrument, detector"),
            ("dark", "doDark", self.config.doDark, dark, "instrument, detector"),
            ("flat", "doFlat", self.config.doFlat, flat, "instrument, physical_filter, detector"),
            ("defects", "doDefect", self.config.doDefect, defects, "instrument, detector"),
            ("fringe", "doFringe", doFringe, fringes.fringes, "instrument, physical_filter, detector"),
        ]
        for name, switch, wanted, calib, dimensions in needed:
            if wanted and calib is None:
                dataId = self._describeDataId(ccdExposure)
                raise IsrCalibrationMissingError(name, dataId, switch, dimensions)
        for name, calib, unit in (("bias", bias, "adu"), ("dark", dark, "adu / s")):
            if calib is not None:
                self.compareUnits(calib, name, unit)

    def compareUnits(self, calib: MaskedImage, calibName: str, expected: str) -> None:
        """Warn (or raise, with ``doRaiseOnCalibMismatch``) if a calibration is not in ADU.

        Rubin's legacy ``IsrTask`` works in ADU; calibrations in electrons are ``IsrTaskLSST``'s.

        Parameters
        ----------
        calib
            The calibration.
        calibName
            Its name, for the message.
        expected
            The unit it must have (``"adu"``, ``"adu / s"``).

        Raises
        ------
        RuntimeError
            On a mismatch, if ``doRaiseOnCalibMismatch``.
        """
        if calib.unit is None or str(calib.unit) == expected:
            return
        message = "Unit mismatch: isr has %s units but %s has %s units"
        if self.config.doRaiseOnCalibMismatch:
            raise RuntimeError(message % (expected, calibName, calib.unit))
        self.log.warning(message, expected, calibName, calib.unit)

    def convertIntToFloat(self, exposure: Any) -> MaskedImage:
        """Turn the uint16 raw into a float32 `lsst.images.MaskedImage` (variance 1, empty mask).

        The raw's header values ISR needs travel in the image's metadata, as in Rubin's
        exposure: ``EXPTIME``, ``DARKTIME`` (seconds), ``FILTER``, ``DETECTOR`` and ``LSST ISR
        UNITS``.

        Parameters
        ----------
        exposure
            The raw (`stackclub.simcam.RawExposure`).

        Returns
        -------
        newexposure
            The raw frame in floating point, raw coordinates, unit ADU.
        """
        import astropy.units as u
        from lsst.images import Image, MaskedImage

        obs_info = exposure.obs_info
        metadata: dict[str, MetadataValue] = {
            "DETECTOR": int(exposure.detector.id),
            "EXPTIME": _seconds(obs_info.exposure_time),
            "DARKTIME": _seconds(obs_info.dark_time),
            "FILTER": str(obs_info.physical_filter or ""),
            "LSST ISR UNITS": "adu",
        }
        image = Image(exposure.image.array.astype(np.float32), bbox=exposure.image.bbox, unit=u.adu)
        return MaskedImage(image, mask_schema=make_mask_schema(), metadata=metadata)

    def maskAmplifier(self, ccdExposure: MaskedImage, amp: Amplifier, defects: Table | None) -> bool:
        """Identify a bad amplifier, and mask saturated and suspect raw pixels.

        The raw pixels (bias level included) are compared with the amplifier's saturation
        level (``saturation`` if set) and suspect level: the convention of the levels in the
        camera description.  An amplifier entirely covered by one defect, or entirely
        saturated or suspect, is masked ``BAD``.

        Parameters
        ----------
        ccdExposure
            The raw frame (float, raw coordinates); its mask is changed.
        amp
            The amplifier.
        defects
            Defects table (assembled coordinates), or `None`.

        Returns
        -------
        badAmp
            `True` if the whole amplifier is unusable.
        """
        geometry, calibs = amp.assembled_raw_geometry, amp.nominal_calibrations
        assert geometry is not None and calibs is not None
        if defects is not None and _coversBox(defects, amp.bbox):
            set_mask_plane(ccdExposure[geometry.bbox].mask, "BAD", np.ones(geometry.bbox.shape, dtype=bool))
            return True
        limits = {}
        if self.config.doSaturation:
            saturation = self.config.saturation
            limits[self.config.saturatedMaskName] = (
                saturation if math.isfinite(saturation) else calibs.saturation
            )
        if self.config.doSuspect:
            limits[self.config.suspectMaskName] = calibs.suspect_level
        for maskName, maskThreshold in limits.items():
            isrFunctions.makeThresholdMask(
                ccdExposure[geometry.bbox], maskThreshold, growFootprints=0, maskName=maskName
            )
        dataMask = ccdExposure[geometry.data_bbox].mask
        badAmp = bool(mask_planes_set(dataMask, list(limits)).all()) if limits else False
        if badAmp:
            set_mask_plane(dataMask, "BAD", np.ones(geometry.data_bbox.shape, dtype=bool))
        return badAmp

    def overscanCorrection(self, ccdExposure: MaskedImage, amp: Amplifier) -> Struct | None:
        """Apply overscan correction in place, and record its statistics in the metadata.

        Parameters
        ----------
        ccdExposure
            The raw frame (float, raw coordinates).
        amp
            The amplifier.

        Returns
        -------
        overscanResults
            The overscan subtask's result (`OverscanCorrectionTask.run`), or `None` if the
            amplifier has no serial overscan.
        """
        geometry = amp.assembled_raw_geometry
        assert geometry is not None
        if geometry.serial_overscan_bbox.area == 0:
            self.log.info("ISR_OSCAN: No overscan region.  Not performing overscan correction.")
            return None
        overscanResults = self.overscan.run(ccdExposure, amp)
        metadata, keyBase = ccdExposure.metadata, "LSST ISR OVERSCAN"
        names = {"MEAN": "overscanMean", "MEDIAN": "overscanMedian", "STDEV": "overscanSigma"}
        names |= {f"RESIDUAL {k}": v.replace("overscan", "residual") for k, v in names.items()}
        for statistic, field in names.items():
            value = getattr(overscanResults, field)
            serial, parallel = value if isinstance(value, tuple) else (value, None)
            head, _, tail = statistic.rpartition(" ")
            metadata[" ".join(filter(None, (keyBase, head, "SERIAL", tail, amp.name)))] = float(serial)
            if parallel is not None:
                metadata[" ".join(filter(None, (keyBase, head, "PARALLEL", tail, amp.name)))] = float(
                    parallel
                )
        return overscanResults

    def updateVariance(self, ampExposure: MaskedImage, amp: Amplifier) -> None:
        """Set the variance plane of one amplifier from its gain and read noise.

        Parameters
        ----------
        ampExposure
            The amplifier's view of the assembled image (ADU).
        amp
            The amplifier (its nominal gain and read noise).
        """
        calibs = amp.nominal_calibrations
        assert calibs is not None
        isrFunctions.updateVariance(ampExposure, gain=calibs.gain, readNoise=calibs.read_noise)

    def maskNegativeVariance(self, exposure: MaskedImage) -> None:
        """Mask pixels whose variance is zero or negative (``negativeVarianceMaskName``).

        Parameters
        ----------
        exposure
            The image; its mask is changed.
        """
        set_mask_plane(exposure.mask, self.config.negativeVarianceMaskName, exposure.variance.array <= 0.0)

    def maskDefect(self, exposure: MaskedImage, defectBaseList: Table) -> None:
        """Mask the defects (known bad pixels and columns) as ``BAD``.

        Parameters
        ----------
        exposure
            The assembled image; its mask is changed.
        defectBaseList
            Defects table (``x0, y0, x_extent, y_extent``).
        """
        bbox = exposure.bbox
        bad = isrFunctions.defectsToBoolArray(defectBaseList, bbox.shape, (bbox.y.start, bbox.x.start))
        set_mask_plane(exposure.mask, "BAD", bad)

    def maskNan(self, exposure: MaskedImage) -> None:
        """Mask non-finite pixels (``BAD`` here; Rubin's plane is ``UNMASKEDNAN``).

        Parameters
        ----------
        exposure
            The image; its mask is changed.
        """
        numNans = isrFunctions.maskNans(exposure, "BAD")
        self.metadata["NUMNANS"] = numNans
        if numNans > 0:
            self.log.warning("There were %d unmasked NaNs.", numNans)

    def darkCorrection(self, exposure: MaskedImage, darkExposure: MaskedImage) -> None:
        """Apply dark correction in place, scaled by the exposure's dark time over the dark's.

        Parameters
        ----------
        exposure
            The image (its ``DARKTIME`` metadata, seconds).
        darkExposure
            The dark (its ``DARKTIME`` metadata: the dark time it is normalized to).

        Raises
        ------
        RuntimeError
            If the exposure has no dark time.
        """
        expScale = _seconds(exposure.metadata.get("DARKTIME"))
        if math.isnan(expScale):
            raise RuntimeError("Exposure darktime is NaN.")
        darkScale = _seconds(darkExposure.metadata.get("DARKTIME"))
        if math.isnan(darkScale):
            self.log.warning("The dark has no DARKTIME in its metadata. Using darkScale = 1.0.")
            darkScale = 1.0
        isrFunctions.darkCorrection(exposure, darkExposure, expScale=expScale, darkScale=darkScale)

    def flatCorrection(self, exposure: MaskedImage, flatExposure: MaskedImage) -> None:
        """Apply flat correction in place.

        Parameters
        ----------
        exposure
            The image.
        flatExposure
            The flat.
        """
        isrFunctions.flatCorrection(
            exposure,
            flatExposure,
            scalingType=self.config.flatScalingType,
            userScale=self.config.flatUserScale,
        )

    @staticmethod
    def _describeDataId(ccdExposure: Any) -> str:
        obs = getattr(ccdExposure, "obs_info", None)
        exposure = getattr(obs, "exposure_id", None) or getattr(obs, "observation_id", None)
        detector = getattr(getattr(ccdExposure, "detector", None), "id", None)
        instrument = getattr(obs, "instrument", None)
        return f"{{instrument: {instrument!r}, exposure: {exposure}, detector: {detector}}}"


def _seconds(value: Any) -> float:
    """Seconds as a float, from an astropy Quantity or a number (NaN for `None`)."""
    if value is None:
        return math.nan
    return float(value.to_value("s") if hasattr(value, "to_value") else value)


def _coversBox(defects: Table, box: Any) -> bool:
    """Whether one defect box covers all of ``box`` (assembled coordinates)."""
    x0, y0 = np.asarray(defects["x0"]), np.asarray(defects["y0"])
    x1, y1 = x0 + np.asarray(defects["x_extent"]), y0 + np.asarray(defects["y_extent"])
    return bool(np.any((x0 <= box.x.start) & (x1 >= box.x.stop) & (y0 <= box.y.start) & (y1 >= box.y.stop)))
