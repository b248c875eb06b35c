"""Single-frame calibration: ``post_isr_image`` -> ``preliminary_visit_image`` and star catalogs.

Mirrors ``lsst.pipe.tasks.calibrateImage.CalibrateImageTask`` (pipe_tasks w.2026.30): the same
subtask names, Rubin's defaults for the fields ours shares (``docs/transfers.md`` lists each
exception and why), and a ``run()`` that calls the same private steps in the same order:

1. ``_compute_psf``: install a simple Gaussian PSF, subtract a first background, mask cosmic rays,
   detect bright (S/N >= 50) sources, measure them and fit the PSF to the best; then repair the
   cosmic rays with the fitted PSF and measure the PSF stars again;
2. ``_measure_aperture_correction`` on those PSF stars;
3. ``_fit_astrometry`` on the PSF stars: match to the reference catalog, fit the WCS;
4. ``_remeasure_star_background`` with the sources masked;
5. ``_find_stars``: detect to S/N >= 5 (peaks >= 10), deblend, measure, apply the aperture
   corrections, select the stars;
6. ``_match_psf_stars``: carry the PSF flags over to the stars;
7. ``_fit_photometry``: the zero point from the stars' calibration fluxes;
8. ``_summarize``: the summary statistics;
9. ``_apply_photometry``: calibrate the pixels to nJy (``do_calibrate_pixels``).

Rubin's task works on an ``lsst.afw.image.Exposure`` that carries its PSF, WCS, aperture
corrections and photometric calibration; ours carries the pixels and the calibrations fitted so
far in a small `CalibrationState` and returns an `lsst.images.VisitImage` at the end.
"""

from __future__ import annotations

__all__ = ("CalibrateImageConfig", "CalibrateImageConnections", "CalibrateImageTask")

from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ConfigurableField, Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT
from lsst.utils.timer import timeMethod

from ._masks import set_mask_plane
from .astrometry import AstrometryTask, makeInitialWcs
from .calibrationState import CalibrationState
from .computeExposureSummaryStats import ComputeExposureSummaryStatsTask
from .deblend import SourceDeblendTask
from .detection import SourceDetectionTask
from .installGaussianPsf import InstallGaussianPsfTask
from .measureApCorr import ApplyApCorrTask, MeasureApCorrTask
from .measurement import SingleFrameMeasurementTask
from .measurePsf import MeasurePsfTask
from .photoCal import AB_NJY_ZERO, PhotoCalTask
from .repair import RepairTask
from .sourceSelector import ScienceSourceSelectorTask, sourceSelectorRegistry
from .subtractBackground import SubtractBackgroundTask

if TYPE_CHECKING:
    from lsst.images import MaskedImage
    from lsst.pipe.base import InputQuantizedConnection, OutputQuantizedConnection, QuantumContext

#: The flux normalized into the calibration flux (Rubin: base_CompensatedTophatFlux_12; ours is the
#: PSF flux, which a neighbour disturbs far less than a 12-pixel aperture when every other source is
#: not replaced by noise, as Rubin's NoiseReplacer does).
_RAW_CALIB_FLUX = "psfFlux"

#: Pixels that cannot be cosmic rays (findCosmicRays' condition 4: BAD, INTRP, SAT, NO_DATA).
_BAD_PLANES = ("BAD", "SATURATED", "INTERPOLATED", "NO_DATA")
#: Pixels detection leaves out (a saturated core is detected: it is the star's peak).
_NO_DETECTION_PLANES = ("BAD", "NO_DATA")


class CalibrateImageConnections(
    PipelineTaskConnections,
    dimensions=("instrument", "visit", "detector"),
):
    """Butler connections of `CalibrateImageTask`."""

    exposures = cT.Input(
        name="post_isr_image",
        doc="The ISR-corrected exposure (one snap per visit for SimCam).",
        storageClass="MaskedImageV2",
        dimensions=("instrument", "exposure", "detector"),
    )
    exposure_info = cT.Input(
        name="raw",
        doc="The raw, read only for its detector and observation info (Rubin's gets these from the "
        "camera and the exposure record; post_isr_image, a plain MaskedImage, carries neither).",
        storageClass="RawExposure",
        dimensions=("instrument", "exposure", "detector"),
        deferLoad=True,
    )
    astrometry_ref_cat = cT.PrerequisiteInput(
        name="simcam_refcat",
        doc="Reference catalog shards overlapping the detector, for astrometry.",
        storageClass="ArrowAstropy",
        dimensions=("skypix",),
        multiple=True,
    )
    photometry_ref_cat = cT.PrerequisiteInput(
        name="simcam_refcat",
        doc="Reference catalog shards overlapping the detector, for photometric calibration.",
        storageClass="ArrowAstropy",
        dimensions=("skypix",),
        multiple=True,
    )
    exposure = cT.Output(
        name="preliminary_visit_image",
        doc="Background-subtracted, calibrated exposure with PSF, WCS and summary statistics.",
        storageClass="VisitImage",
        dimensions=("instrument", "visit", "detector"),
    )
    background = cT.Output(
        name="preliminary_visit_image_background",
        doc="The background model subtracted from the exposure.",
        storageClass="BackgroundMap",
        dimensions=("instrument", "visit", "detector"),
    )
    psf_stars = cT.Output(
        name="single_visit_psf_star",
        doc="Bright stars found and measured while fitting the PSF, with calib_psf_* flags.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "visit", "detector"),
    )
    stars = cT.Output(
        name="single_visit_star_unstandardized",
        doc="Stars detected and measured on the calibrated exposure, with sky coordinates and fluxes in nJy.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "visit", "detector"),
    )


class CalibrateImageConfig(PipelineTaskConfig, pipelineConnections=CalibrateImageConnections):
    """Configuration of `CalibrateImageTask` (subtask names and defaults as in ``pipe_tasks``)."""

    install_simple_psf: ConfigurableField = ConfigurableField(
        target=InstallGaussianPsfTask,
        doc="Task to install a simple PSF model to use when detecting bright sources for PSF estimation.",
    )
    psf_repair: ConfigurableField = ConfigurableField(
        target=RepairTask, doc="Task to repair cosmic rays on the exposure before PSF determination."
    )
    psf_subtract_background: ConfigurableField = ConfigurableField(
        target=SubtractBackgroundTask,
        doc="Task to perform initial background subtraction, before first detection pass.",
    )
    psf_detection: ConfigurableField = ConfigurableField(
        target=SourceDetectionTask, doc="Task to detect sources for PSF determination."
    )
    psf_source_measurement: ConfigurableField = ConfigurableField(
        target=SingleFrameMeasurementTask, doc="Task to measure sources to be used for PSF estimation."
    )
    psf_measure_psf: ConfigurableField = ConfigurableField(
        target=MeasurePsfTask, doc="Task to measure the PSF on bright sources."
    )
    measure_aperture_correction: ConfigurableField = ConfigurableField(
        target=MeasureApCorrTask, doc="Task to compute the aperture correction from the bright stars."
    )
    astrometry: ConfigurableField = ConfigurableField(
        target=AstrometryTask, doc="Task to perform astrometric calibration to fit a WCS."
    )
    star_background: ConfigurableField = ConfigurableField(
        target=SubtractBackgroundTask,
        doc="Task to perform final background subtraction, just before photoCal.",
    )
    star_detection: ConfigurableField = ConfigurableField(
        target=SourceDetectionTask, doc="Task to detect stars to return in the output catalog."
    )
    star_deblend: ConfigurableField = ConfigurableField(
        target=SourceDeblendTask, doc="Split blended sources into their components."
    )
    star_measurement: ConfigurableField = ConfigurableField(
        target=SingleFrameMeasurementTask, doc="Task to measure stars to return in the output catalog."
    )
    star_apply_aperture_correction: ConfigurableField = ConfigurableField(
        target=ApplyApCorrTask, doc="Task to apply aperture corrections to the selected stars."
    )
    star_selector = sourceSelectorRegistry.makeField(
        default="science", doc="Task to select reliable stars to use for calibration."
    )
    photometry: ConfigurableField = ConfigurableField(
        target=PhotoCalTask, doc="Task to perform photometric calibration to fit a PhotoCalib."
    )
    compute_summary_stats: ConfigurableField = ConfigurableField(
        target=ComputeExposureSummaryStatsTask,
        doc="Task to compute summary statistics on the calibrated exposure.",
    )
    do_calibrate_pixels = Field[bool](
        doc="If True, apply the photometric calibration to the image pixels and background model, and "
        "attach an identity PhotoCalib to the output image to reflect this.  If False, leave the image "
        "and background uncalibrated.",
        default=True,
    )

    def setDefaults(self) -> None:
        super().setDefaults()
        # A broad first PSF, to thoroughly reject cosmic rays (Rubin's comment).
        self.install_simple_psf.fwhm = 4
        # S/N >= 50 sources for the PSF, footprints down to S/N 10.
        self.psf_detection.thresholdValue = 10.0
        self.psf_detection.includeThresholdMultiplier = 5.0
        # The calibration flux: the PSF flux normalized to a circular aperture (Rubin normalizes the
        # 12-pixel compensated top-hat flux to base_CircularApertureFlux_12_0).  SimCam's pixels are
        # 0.2 arcsec and its seeing reaches 1.1 arcsec, where a Moffat star has 1.7 per cent of its
        # light beyond 12 pixels (the zero point would absorb it) and 0.4 per cent beyond 17.
        self.psf_source_measurement.apertureRadii = [12.0, 17.0]
        self.measure_aperture_correction.refFluxName = "apFlux_17_0"
        # The calibration flux does not use compensated top-hats.
        self.psf_source_measurement.compensatedApertures = []
        self.star_measurement.compensatedApertures = []
        # The PSF stars select the aperture corrections (no extendedness exists yet).
        selector = self.measure_aperture_correction.sourceSelector["science"]
        selector.doUnresolved = False
        selector.flags.good = ["calib_psf_used"]
        selector.flags.bad = []
        # Off, as in Rubin's default (adaptive-threshold) configuration: the stars' background is
        # measured again by _remeasure_star_background.
        self.psf_detection.reEstimateBackground = False
        self.star_detection.reEstimateBackground = False
        # Stars: detection mask to S/N >= 5, peaks to S/N >= 10.
        self.star_detection.thresholdValue = 5.0
        self.star_detection.includeThresholdMultiplier = 2.0
        # The zero point as the inverse-variance weighted mean (Rubin's photometry.useMedian is True):
        # SimCam's reference catalog states its errors (1 per cent + 50 nJy), and the median of
        # ~60 stars, which weighs a 20-sigma star like a 500-sigma one, scatters by ~5 mmag.
        self.photometry.useMedian = False
        # Rubin fits an affine correction to a camera model that holds the optics' distortion
        # (wcsFitter.retarget(FitAffineWcsTask)); SimCam's camera model has none, so ours fits a TAN
        # with the one radial coefficient of its optics: 7 parameters, not a cubic SIP's 20.
        self.astrometry.wcsFitter = "radial"
        # Astrometry on the PSF stage's sources: only unflagged ones (not saturated, not at the edge).
        self.astrometry.sourceSelector["science"].doFlags = True
        # Select stars with reliable measurements and no bad flags.
        star_selector = self.star_selector["science"]
        star_selector.doFlags = True
        star_selector.doUnresolved = True
        star_selector.doSignalToNoise = True
        star_selector.signalToNoise.minimum = 10.0
        star_selector.signalToNoise.fluxField = "calibFlux_instFlux"
        star_selector.signalToNoise.errField = "calibFlux_instFluxErr"


class CalibrateImageTask(PipelineTask):
    """Compute the PSF, aperture corrections, astrometric and photometric calibrations and summary
    statistics of one post-ISR exposure, and catalog the stars that calibrated it.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.Task` (``config``, ``name``, ``parentTask``...).

    Examples
    --------
    >>> from stackclub.pipe import CalibrateImageTask
    >>> task = CalibrateImageTask()
    >>> task.config.install_simple_psf.fwhm, task.config.psf_repair.cosmicray.cond3_fac
    (4.0, 2.0)
    >>> task.config.star_detection.thresholdValue * task.config.star_detection.includeThresholdMultiplier
    10.0
    """

    ConfigClass = CalibrateImageConfig
    _DefaultName = "calibrateImage"
    config: CalibrateImageConfig
    install_simple_psf: InstallGaussianPsfTask
    psf_repair: RepairTask
    psf_subtract_background: SubtractBackgroundTask
    psf_detection: SourceDetectionTask
    psf_source_measurement: SingleFrameMeasurementTask
    psf_measure_psf: MeasurePsfTask
    measure_aperture_correction: MeasureApCorrTask
    astrometry: AstrometryTask
    star_background: SubtractBackgroundTask
    star_detection: SourceDetectionTask
    star_deblend: SourceDeblendTask
    star_measurement: SingleFrameMeasurementTask
    star_apply_aperture_correction: ApplyApCorrTask
    star_selector: ScienceSourceSelectorTask
    photometry: PhotoCalTask
    compute_summary_stats: ComputeExposureSummaryStatsTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in (
            "install_simple_psf",
            "psf_repair",
            "psf_subtract_background",
            "psf_detection",
            "psf_source_measurement",
            "psf_measure_psf",
            "measure_aperture_correction",
            "astrometry",
            "star_background",
            "star_detection",
            "star_deblend",
            "star_measurement",
            "star_apply_aperture_correction",
            "star_selector",
            "photometry",
            "compute_summary_stats",
        ):
            self.makeSubtask(name)

    def runQuantum(
        self,
        butlerQC: QuantumContext,
        inputRefs: InputQuantizedConnection,
        outputRefs: OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        handle = inputs.pop("exposure_info")
        try:
            from lsst.images import Box

            info = handle.get(parameters={"bbox": Box.factory[0:1, 0:1]})  # detector + obs_info only
        except Exception:  # a formatter without cut-outs: read it whole
            info = handle.get()
        dataId = butlerQC.quantum.dataId
        assert dataId is not None, "A calibrateImage quantum has a (visit, detector) data ID."
        outputs = self.run(
            **inputs,
            detector=info.detector,
            obs_info=info.obs_info,
            band=str(dataId["band"]) if "band" in dataId else None,
            visit=int(dataId["visit"]),
        )
        butlerQC.put(outputs, outputRefs)

    @timeMethod
    def run(
        self,
        *,
        exposures: MaskedImage | list[MaskedImage],
        detector: Any,
        obs_info: Any,
        astrometry_ref_cat: Any,
        photometry_ref_cat: Any | None = None,
        band: str | None = None,
        visit: int | None = None,
    ) -> Struct:
        """Find stars and measure the PSF, then detect and measure deeper and calibrate.  No I/O.

        Parameters
        ----------
        exposures
            The post-ISR `lsst.images.MaskedImage` in electrons (or a list of one: SimCam takes no snaps).
        detector
            Its `lsst.images.cameras.Detector` (Rubin's exposure carries it).
        obs_info
            Its `astro_metadata_translator.ObservationInfo` (Rubin's exposure carries a VisitInfo).
        astrometry_ref_cat, photometry_ref_cat
            Reference catalog (a table or a list of shard tables); the photometric one defaults to
            the astrometric one.
        band
            Band name; from ``obs_info.physical_filter`` (``SimCam-R`` -> ``r``) if `None`.
        visit
            Visit ID written into the catalogs (defaults to ``obs_info.visit_id``).

        Returns
        -------
        result
            ``exposure`` (`lsst.images.VisitImage`, in nJy if ``do_calibrate_pixels``),
            ``background`` (`lsst.images.BackgroundMap`), ``psf_stars`` (the PSF-stage sources,
            with ``calib_psf_*`` flags) and ``stars`` (the selected stars, with sky coordinates and
            calibrated fluxes; `astropy.table.Table`), ``applied_photo_calib`` (nJy per electron, or
            `None`), ``astrometry_matches`` and ``photometry_matches`` (tables of matched rows).
        """
        exposure = CalibrationState.from_post_isr(exposures, detector, obs_info, band)
        astrometryRefCat = self._concat(astrometry_ref_cat)
        photometryRefCat = self._concat(photometry_ref_cat) if photometry_ref_cat is not None else None
        psf_stars = self._compute_psf(exposure)
        self._measure_aperture_correction(exposure, psf_stars)
        astrometry_matches = self._fit_astrometry(exposure, psf_stars, astrometryRefCat)
        self._remeasure_star_background(exposure)
        stars = self._find_stars(exposure)
        self._match_psf_stars(psf_stars, stars, psfSigma=exposure.psfSigma)
        self._update_coords(exposure, stars)
        stars, photometry_matches = self._fit_photometry(
            exposure, stars, photometryRefCat or astrometryRefCat
        )
        summary = self._summarize(exposure, stars, astrometry_matches)
        if self.config.do_calibrate_pixels:
            self._apply_photometry(exposure)
        visitId = visit if visit is not None else (obs_info.visit_id or obs_info.exposure_id or 0)
        for catalog in (psf_stars, stars):
            catalog["visit"] = np.full(len(catalog), int(visitId), dtype=np.int64)
            catalog["detector"] = np.full(len(catalog), int(detector.id), dtype=np.int64)
        visit_image, background = exposure.to_visit_image(summary, calibrated=self.config.do_calibrate_pixels)
        return Struct(
            exposure=visit_image,
            background=background,
            psf_stars=psf_stars,
            stars=stars,
            applied_photo_calib=exposure.calibration if self.config.do_calibrate_pixels else None,
            astrometry_matches=astrometry_matches,
            photometry_matches=photometry_matches,
        )

    def _compute_psf(self, exposure: CalibrationState) -> Any:
        """Detect bright sources, fit the PSF to the best, and repair cosmic rays with it.

        Returns
        -------
        psf_stars
            The bright sources, measured after the repair, with ``calib_psf_candidate``,
            ``calib_psf_used`` and ``calib_psf_reserved`` flags.
        """
        self.log.info(
            "First pass detection with Gaussian PSF FWHM=%s pixels", self.config.install_simple_psf.fwhm
        )
        exposure.psf = self.install_simple_psf.run(bbox=exposure.bbox).psf
        background = self.psf_subtract_background.run(exposure.image, bbox=exposure.bbox, mask=exposure.mask)
        exposure.backgrounds.append(("psf_subtract_background", background.background))
        exposure.background_image = background.backgroundImage
        bad = exposure.plane(*_BAD_PLANES)
        repair = self.psf_repair.run(
            exposure.image, exposure.variance, psfSigma=exposure.psfSigma, badArray=bad, keepCRs=True
        )
        detections = self.psf_detection.run(
            exposure.image,
            exposure.variance,
            psfSigma=exposure.psfSigma,
            badArray=exposure.plane(*_NO_DETECTION_PLANES),
            bbox=exposure.bbox,
        )
        if detections.background is not None:  # psf_detection.reEstimateBackground
            exposure.backgrounds.append(("psf_detection", detections.background))
            exposure.background_image = exposure.background_image + detections.backgroundImage
        set_mask_plane(exposure.mask, "DETECTION_EDGE", detections.edge)
        sources = self._measure(
            self.psf_source_measurement, exposure, detections.sources, crArray=repair.crMask
        )
        psf_result = self.psf_measure_psf.run(sources, bbox=exposure.bbox, imageArray=exposure.image)
        exposure.psf = psf_result.psf
        exposure.psf_shape_sigma = psf_result.psfShapeSigma
        # Final repair with the fitted PSF, interpolating over the cosmic rays this time.
        repair = self.psf_repair.run(
            exposure.image, exposure.variance, psfSigma=exposure.psfSigma, badArray=bad
        )
        set_mask_plane(exposure.mask, "COSMIC_RAY", repair.crMask)
        set_mask_plane(exposure.mask, "DETECTED", detections.detected)
        # Final measurement with the cosmic rays removed (neighbours out of the apertures), keeping
        # the PSF flags.
        psf_stars = self._measure(
            self.psf_source_measurement,
            exposure,
            detections.sources,
            crArray=repair.crMask,
            footprintLabels=detections.labels,
        )
        for flag in ("calib_psf_candidate", "calib_psf_used", "calib_psf_reserved"):
            psf_stars[flag] = psf_result.catalog[flag]
        return psf_stars

    def _measure_aperture_correction(self, exposure: CalibrationState, bright_sources: Any) -> None:
        """Measure the aperture corrections on the PSF stars and keep them in ``exposure.ap_corr_map``.

        Rubin's ``psf_normalized_calibration_flux`` + ``measure_aperture_correction`` in one: the
        PSF flux, which the calibration flux is made of, is corrected to the reference aperture
        (``measure_aperture_correction.refFluxName``).
        """
        result = self.measure_aperture_correction.run(
            bright_sources, namesToCorrect=sorted({"psfFlux", _RAW_CALIB_FLUX})
        )
        exposure.ap_corr_map = result.apCorrMap

    def _fit_astrometry(self, exposure: CalibrationState, stars: Any, refCat: Any) -> Any:
        """Fit the WCS to the PSF stars and return the reference matches used in the fit."""
        initialWcs = makeInitialWcs(
            exposure.detector, exposure.obs_info.tracking_radec, self.config.astrometry.rotation
        )
        axis = exposure.detector.to_field_angle.apply_inverse(x=0.0, y=0.0)  # the camera model's optical axis
        result = self.astrometry.run(
            stars,
            refCat,
            initialWcs=initialWcs,
            bbox=exposure.bbox,
            opticalAxis=(float(axis.x), float(axis.y)),
        )
        exposure.wcs = result.wcs
        stars["calib_astrometry_used"] = np.isin(np.arange(len(stars)), result.matches["star_index"])
        self._update_coords(exposure, stars)
        return result.matches

    def _remeasure_star_background(self, exposure: CalibrationState) -> None:
        """Restore the first background and measure it again with the PSF stage's sources masked.

        Rubin's iterates a masking detection until a "Goldilocks" fraction of the pixels is
        masked, and fits a pedestal after; ours masks the PSF stage's footprints (every source
        above its 10-sigma pixel threshold, grown).  The calibration flux is compensated (its
        own annulus is its sky), so what fainter sources leave in the sky does not reach the
        zero point.
        """
        exposure.image += exposure.background_image
        background = self.star_background.run(exposure.image, bbox=exposure.bbox, mask=exposure.mask)
        exposure.backgrounds = [("star_background", background.background)]
        exposure.background_image = background.backgroundImage
        exposure.sky_noise = background.skyNoise

    def _find_stars(self, exposure: CalibrationState) -> Any:
        """Detect, deblend and measure stars, apply the aperture corrections and select the stars."""
        detections = self.star_detection.run(
            exposure.image,
            exposure.variance,
            psfSigma=exposure.psfSigma,
            badArray=exposure.plane(*_NO_DETECTION_PLANES),
        )
        set_mask_plane(exposure.mask, "DETECTED", detections.detected)
        set_mask_plane(exposure.mask, "DETECTION_EDGE", detections.edge)
        deblended = self.star_deblend.run(
            exposure.image,
            detections.sources,
            detections.peaks,
            detections.labels,
            psfSigma=exposure.psfSigma,
            smoothed=detections.smoothed,
            noise=detections.noise,
        )
        sources = self._measure(
            self.star_measurement,
            exposure,
            deblended.sources,
            crArray=exposure.plane("COSMIC_RAY"),
            heavyFootprints=deblended.heavyFootprints,
        )
        for column in ("parent", "deblend_nChild", "deblend_nPeaks", "deblend_skipped"):
            sources[column] = deblended.sources[column]
        raw = _RAW_CALIB_FLUX
        sources["calibFlux_instFlux"] = sources[f"{raw}_instFlux"]
        sources["calibFlux_instFluxErr"] = sources[f"{raw}_instFluxErr"]
        ap_corr = {
            k.replace(raw, "calibFlux"): v for k, v in exposure.ap_corr_map.items() if k.startswith(raw)
        }
        self.star_apply_aperture_correction.run(sources, {**exposure.ap_corr_map, **ap_corr})
        return self.star_selector.run(sources).sourceCat

    def _match_psf_stars(self, psf_stars: Any, stars: Any, psfSigma: float | None = None) -> None:
        """Copy the PSF and astrometry flags of the PSF stars to the stars they match (in pixels)."""
        from scipy.spatial import cKDTree

        matchRadius = 3.0 if psfSigma is None else max(3.0, psfSigma)
        flags = ("calib_psf_candidate", "calib_psf_used", "calib_psf_reserved", "calib_astrometry_used")
        for flag in flags:
            stars[flag] = np.zeros(len(stars), dtype=bool)
        stars["psf_id"] = np.zeros(len(stars), dtype=np.int64)
        leaves = np.flatnonzero(np.asarray(stars["deblend_nChild"]) == 0)
        if not len(psf_stars) or not len(leaves):
            return
        tree = cKDTree(np.column_stack([stars["x"], stars["y"]])[leaves])
        distance, nearest = tree.query(
            np.column_stack([psf_stars["x"], psf_stars["y"]]), distance_upper_bound=matchRadius
        )
        matched = np.isfinite(distance)
        rows = leaves[nearest[matched]]
        for flag in flags:
            stars[flag][rows] = np.asarray(psf_stars[flag])[matched]
        stars["psf_id"][rows] = np.asarray(psf_stars["id"])[matched]
        self.log.info(
            "%d psf/astrometry stars out of %d matched %d calib stars",
            int(matched.sum()),
            len(psf_stars),
            len(stars),
        )

    def _fit_photometry(self, exposure: CalibrationState, stars: Any, refCat: Any) -> tuple[Any, Any]:
        """Fit the zero point to the stars; return them with calibrated fluxes, and the matches used."""
        import astropy.units as u
        from astropy.table import Table

        starIndex, refIndex = self._match_sky(stars, refCat)
        result = self.photometry.run(stars, refCat, starIndex, refIndex, band=exposure.band)
        exposure.calibration = result.calibration
        calibrated = stars.copy(copy_data=False)
        for column in [c for c in stars.colnames if c.endswith("_instFlux") or c.endswith("_instFluxErr")]:
            calibrated[column.replace("_instFlux", "")] = (
                np.asarray(stars[column]) * result.calibration * u.nJy
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            calibrated["psfMag"] = (
                -2.5 * np.log10(np.asarray(calibrated["psfFlux"])) + AB_NJY_ZERO
            ) * u.ABmag
        calibrated["calib_photometry_used"] = np.zeros(len(stars), dtype=bool)
        calibrated["calib_photometry_used"][starIndex[result.used]] = True
        calibrated.meta.update({"BAND": exposure.band, "PSFSIGMA": exposure.psfSigma, "ZEROPOINT": result.zp})
        matches = Table({"star_index": starIndex[result.used], "ref_index": refIndex[result.used]})
        return calibrated, matches

    def _summarize(self, exposure: CalibrationState, stars: Any, astrometry_matches: Any) -> Any:
        """Compute the summary statistics (in electrons, before the pixels are calibrated)."""
        import astropy.units as u

        assert exposure.background_image is not None, "The background is measured before the summary."
        assert exposure.wcs is not None, "The WCS is fitted before the summary."
        readNoises = [
            amp.nominal_calibrations.read_noise
            for amp in exposure.detector.amplifiers
            if amp.nominal_calibrations is not None
        ]
        readNoise = float(np.mean(readNoises)) if readNoises else np.nan  # magLim needs it
        exposureTime = exposure.obs_info.exposure_time
        if exposureTime is None:
            raise ValueError(
                "The exposure's ObservationInfo has no exposure_time: the summary's zeroPoint (per "
                "exposure) needs it.  Set it on the raw's obs_info."
            )
        return self.compute_summary_stats.run(
            bbox=exposure.bbox,
            psfSigma=exposure.psfSigma,
            wcs=exposure.wcs,
            exposureTime=float(exposureTime.to_value(u.s)),
            calibration=exposure.calibration,
            skyBg=float(np.median(exposure.background_image[::16, ::16])),
            skyNoise=exposure.sky_noise,
            meanVar=float(np.median(exposure.variance[::4, ::4])),
            readNoise=readNoise,
            nPsfStar=int(np.sum(stars["calib_psf_used"])),
            astromOffsets=np.asarray(astrometry_matches["separation"]),
            stars=stars,
        ).summary

    def _apply_photometry(self, exposure: CalibrationState) -> None:
        """Scale the pixels, the variance, the noise and the background models to nJy."""
        scale = np.float32(exposure.calibration)
        exposure.image *= scale
        exposure.variance *= scale**2
        exposure.error *= scale
        exposure.backgrounds = [(name, field * exposure.calibration) for name, field in exposure.backgrounds]

    # --- Stack Club's helpers: what Rubin's Exposure, Butler loaders and afw tables do for it.

    @staticmethod
    def _concat(refCat: Any) -> Any:
        """One table from the reference catalog shards (Rubin's loader does this)."""
        from astropy.table import Table, vstack

        if isinstance(refCat, Table):
            return refCat
        tables = list(refCat)
        if not tables:
            raise ValueError("The reference catalog is empty: no shard overlaps this detector.")
        return tables[0] if len(tables) == 1 else vstack(tables, metadata_conflicts="silent")

    @staticmethod
    def _measure(
        task: SingleFrameMeasurementTask, exposure: CalibrationState, sources: Any, **kwargs: Any
    ) -> Any:
        """Run a measurement subtask on the exposure's pixels."""
        return task.run(
            exposure.image,
            exposure.variance,
            sources,
            psfSigma=exposure.psfSigma,
            errorArray=exposure.error,
            psfShapeSigma=exposure.psf_shape_sigma,
            saturatedArray=exposure.mask.get("SATURATED"),
            edgeArray=exposure.mask.get("DETECTION_EDGE"),
            detectedArray=exposure.mask.get("DETECTED"),
            x0=exposure.bbox.x.start,
            y0=exposure.bbox.y.start,
            **kwargs,
        ).catalog

    @staticmethod
    def _update_coords(exposure: CalibrationState, catalog: Any) -> None:
        """Sky coordinates from the fitted WCS (Rubin's ``afwTable.updateSourceCoords``)."""
        import astropy.units as u

        assert exposure.wcs is not None, "The WCS is fitted before sky coordinates are computed."
        ra, dec = exposure.wcs.pixel_to_world_values(np.asarray(catalog["x"]), np.asarray(catalog["y"]))
        catalog["coord_ra"] = ra * u.deg
        catalog["coord_dec"] = dec * u.deg

    def _match_sky(self, stars: Any, refCat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Match stars (leaves of the deblend tree) to the reference catalog on the sky."""
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        s = SkyCoord(np.asarray(stars["coord_ra"]) * u.deg, np.asarray(stars["coord_dec"]) * u.deg)
        r = SkyCoord(np.asarray(refCat["coord_ra"]) * u.deg, np.asarray(refCat["coord_dec"]) * u.deg)
        idx, sep, _ = s.match_to_catalog_sky(r)
        ok = (sep.arcsec < self.config.astrometry.matchRadius) & (np.asarray(stars["deblend_nChild"]) == 0)
        return np.flatnonzero(ok), idx[ok]
