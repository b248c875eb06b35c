"""Single-frame calibration: ``post_isr_image`` -> ``preliminary_visit_image`` and star catalogs.

Mirrors ``lsst.pipe.tasks.calibrateImage.CalibrateImageTask`` (which replaced characterizeImage +
calibrate): the same subtask names (``psf_subtract_background``, ``psf_detection``,
``psf_source_measurement``, ``psf_measure_psf``, ``psf_repair``, ``star_background``,
``star_detection``, ``star_deblend``, ``star_measurement``, ``astrometry``, ``photometry``,
``compute_summary_stats``), the same order of steps and the same output dataset names.
"""

from __future__ import annotations

__all__ = ("CalibrateImageConfig", "CalibrateImageConnections", "CalibrateImageTask")

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ConfigurableField, Field
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT

from ._masks import set_mask_plane
from .astrometry import AstrometryTask, makeInitialWcs
from .computeExposureSummaryStats import ComputeExposureSummaryStatsTask
from .deblend import SourceDeblendTask
from .detection import SourceDetectionTask
from .measurement import SingleFrameMeasurementTask
from .measurePsf import MeasurePsfTask
from .photoCal import AB_NJY_ZERO, PhotoCalTask
from .repair import RepairTask
from .subtractBackground import SubtractBackgroundTask

if TYPE_CHECKING:
    from lsst.images import MaskedImage
    from lsst.pipe.base import InputQuantizedConnection, OutputQuantizedConnection, QuantumContext


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
    """Configuration of `CalibrateImageTask` (field names as in ``pipe_tasks``)."""

    psf_fwhm_guess = Field[float](
        doc="FWHM (pixels) of the Gaussian PSF assumed for the first detection, as "
        "install_simple_psf.fwhm in Rubin's task.",
        default=4.0,
        check=lambda v: v > 0,
    )
    psf_subtract_background = ConfigurableField(target=SubtractBackgroundTask, doc="First background pass.")
    psf_detection = ConfigurableField(target=SourceDetectionTask, doc="Detect bright sources for the PSF.")
    psf_source_measurement = ConfigurableField(
        target=SingleFrameMeasurementTask, doc="Measure PSF candidates."
    )
    psf_measure_psf = ConfigurableField(target=MeasurePsfTask, doc="Select PSF stars and fit the PSF.")
    psf_repair = ConfigurableField(target=RepairTask, doc="Find and repair cosmic rays with the fitted PSF.")
    star_background = ConfigurableField(
        target=SubtractBackgroundTask, doc="Re-measure the background with the detected sources masked."
    )
    star_detection = ConfigurableField(target=SourceDetectionTask, doc="Detect all stars.")
    star_deblend = ConfigurableField(
        target=SourceDeblendTask, doc="Split blended sources into their components."
    )
    star_measurement = ConfigurableField(target=SingleFrameMeasurementTask, doc="Measure all stars.")
    astrometry = ConfigurableField(
        target=AstrometryTask, doc="Match to the reference catalog and fit the WCS."
    )
    photometry = ConfigurableField(target=PhotoCalTask, doc="Fit the photometric zero point.")
    compute_summary_stats = ConfigurableField(
        target=ComputeExposureSummaryStatsTask, doc="Summary statistics."
    )
    do_calibrate_pixels = Field[bool](
        doc="Scale the image (and variance, background) to nJy with the photometric calibration, as "
        "Rubin's preliminary_visit_image is; otherwise it stays in electrons.",
        default=True,
    )

    def setDefaults(self) -> None:
        super().setDefaults()
        self.psf_detection.thresholdValue = 50.0
        # PSF candidates need peaks, not grown footprints (the star stage sets DETECTED).
        self.psf_detection.nSigmaToGrow = 0.0
        self.star_detection.thresholdValue = 5.0


class CalibrateImageTask(PipelineTask):
    """Characterize and calibrate one post-ISR exposure: background, PSF, cosmic rays, stars, WCS, zero point.

    Examples
    --------
    >>> from stackclub.pipe import CalibrateImageTask
    >>> task = CalibrateImageTask()
    >>> [name for name in ("psf_detection", "astrometry", "photometry") if hasattr(task, name)]
    ['psf_detection', 'astrometry', 'photometry']
    """

    ConfigClass = CalibrateImageConfig
    _DefaultName = "calibrateImage"
    config: CalibrateImageConfig

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in (
            "psf_subtract_background",
            "psf_detection",
            "psf_source_measurement",
            "psf_measure_psf",
            "psf_repair",
            "star_background",
            "star_detection",
            "star_deblend",
            "star_measurement",
            "astrometry",
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
        band = butlerQC.quantum.dataId["band"] if "band" in butlerQC.quantum.dataId else None
        outputs = self.run(
            **inputs,
            detector=info.detector,
            obs_info=info.obs_info,
            band=band,
            visit=int(butlerQC.quantum.dataId["visit"]),
        )
        butlerQC.put(outputs, outputRefs)

    @staticmethod
    def _concat(refCat: Any) -> Any:
        from astropy.table import Table, vstack

        if refCat is None:
            return None
        if isinstance(refCat, Table):
            return refCat
        tables = list(refCat)
        if not tables:
            raise ValueError("The reference catalog is empty: no shard overlaps this detector.")
        return tables[0] if len(tables) == 1 else vstack(tables, metadata_conflicts="silent")

    def run(
        self,
        exposures: MaskedImage,
        *,
        detector: Any,
        obs_info: Any,
        astrometry_ref_cat: Any,
        photometry_ref_cat: Any | None = None,
        band: str | None = None,
        visit: int | None = None,
    ) -> Struct:
        """Calibrate one post-ISR exposure.  No I/O.

        Parameters
        ----------
        exposures
            The post-ISR `lsst.images.MaskedImage` (electrons).
        detector
            Its `lsst.images.cameras.Detector`.
        obs_info
            Its `astro_metadata_translator.ObservationInfo` (pointing, filter, exposure time).
        astrometry_ref_cat, photometry_ref_cat
            Reference catalog (a table or a list of shard tables); the photometric one
            defaults to the astrometric one.
        band
            Band name; derived from ``obs_info.physical_filter`` (``SimCam-R`` -> ``r``) if `None`.
        visit
            Visit ID written into the catalogs (defaults to ``obs_info.visit_id``).

        Returns
        -------
        result
            ``exposure`` (`lsst.images.VisitImage`), ``background`` (`lsst.images.BackgroundMap`),
            ``psf_stars`` and ``stars`` (`astropy.table.Table`), plus ``astrometry`` and
            ``photometry`` result structs and ``psfSigma``.  ``stars`` holds deblended parents
            (``deblend_nChild > 0``) and their children (``parent`` = the parent's ``id``) as
            Rubin's catalogs do; select ``deblend_nChild == 0`` for one row per object.
        """
        import astropy.units as u
        from lsst.images import BackgroundMap, Image, SkyProjection, VisitImage
        from lsst.images.fields import ChebyshevField

        if isinstance(exposures, (list, tuple)):
            if len(exposures) != 1:
                raise ValueError(
                    f"Expected one exposure per visit (no snaps in SimCam); got {len(exposures)}."
                )
            exposures = exposures[0]
        astromRef = self._concat(astrometry_ref_cat)
        photoRef = self._concat(photometry_ref_cat) if photometry_ref_cat is not None else astromRef
        if band is None:
            band = str(obs_info.physical_filter).split("-")[-1].lower()
        if visit is None:
            visit = getattr(obs_info, "visit_id", None) or getattr(obs_info, "exposure_id", 0)
        exptime = float(obs_info.exposure_time.to_value(u.s))
        bbox = exposures.bbox
        x0, y0 = bbox.x.start, bbox.y.start
        image = exposures.image.array.astype(np.float32, copy=True)
        variance = exposures.variance.array  # read only until the final scaling, which copies
        mask = exposures.mask.copy()
        bad = mask.get("BAD") | mask.get("NO_DATA")
        sat = mask.get("SATURATED")
        original = image.copy()

        # --- PSF stage: background, bright detections, measurement, PSF, cosmic rays.
        bg1 = self.psf_subtract_background.run(image, bbox=bbox, ignore=bad | sat)
        sigma_guess = self.config.psf_fwhm_guess / (2 * math.sqrt(2 * math.log(2)))
        psfDet = self.psf_detection.run(image, variance, psfSigma=sigma_guess, badArray=bad)
        psfCat = self.psf_source_measurement.run(
            image, variance, psfDet.sources, psfSigma=sigma_guess, saturatedArray=sat, x0=x0, y0=y0
        ).catalog
        psfResult = self.psf_measure_psf.run(psfCat, bbox=bbox)
        psfSigma = psfResult.psfSigma
        repair = self.psf_repair.run(image, variance, psfSigma=psfSigma, badArray=bad | sat)
        original[repair.crMask] = image[repair.crMask] + bg1.backgroundImage[repair.crMask]
        set_mask_plane(mask, "COSMIC_RAY", repair.crMask)

        # --- Star stage: detect everything, re-measure the background without sources, measure.
        starDet = self.star_detection.run(image, variance, psfSigma=psfSigma, badArray=bad)
        image = original
        bg2 = self.star_background.run(image, bbox=bbox, ignore=bad | sat | starDet.detected)
        set_mask_plane(mask, "DETECTED", starDet.detected)
        set_mask_plane(mask, "DETECTION_EDGE", starDet.edge)
        deblend = self.star_deblend.run(
            image, starDet.sources, starDet.labels, psfSigma=psfSigma, noise=starDet.noise, badArray=bad | sat
        )
        sources = deblend.sources
        good = ~np.asarray(sources["footprint_too_big"], bool)
        sources = sources[good]
        stars = self.star_measurement.run(
            image,
            variance,
            sources,
            psfSigma=psfSigma,
            saturatedArray=sat,
            x0=x0,
            y0=y0,
            heavyFootprints=deblend.heavyFootprints,
        ).catalog
        for col in ("parent", "deblend_nChild"):
            stars[col] = sources[col]

        # --- Astrometry and photometry.
        initialWcs = makeInitialWcs(detector, obs_info.tracking_radec, self.config.astrometry.rotation)
        astrom = self.astrometry.run(stars, astromRef, initialWcs=initialWcs, bbox=bbox)
        wcs = astrom.wcs
        ra, dec = wcs.pixel_to_world_values(np.asarray(stars["x"]), np.asarray(stars["y"]))
        stars["coord_ra"] = ra * u.deg
        stars["coord_dec"] = dec * u.deg
        if photoRef is astromRef:
            starIndex, refIndex = astrom.matches["star_index"], astrom.matches["ref_index"]
        else:
            starIndex, refIndex = self._matchSky(stars, photoRef)
        photo = self.photometry.run(stars, photoRef, starIndex, refIndex, band=band, exposureTime=exptime)
        cal = photo.calibration
        for col in [c for c in stars.colnames if c.endswith("_instFlux") or c.endswith("_instFluxErr")]:
            stars[col.replace("_instFlux", "")] = np.asarray(stars[col]) * cal * u.nJy
        with np.errstate(invalid="ignore", divide="ignore"):
            stars["psfMag"] = (-2.5 * np.log10(np.asarray(stars["psfFlux"])) + AB_NJY_ZERO) * u.ABmag
        stars["calib_astrometry_used"] = np.isin(np.arange(len(stars)), astrom.matches["star_index"])
        stars["calib_photometry_used"] = np.zeros(len(stars), dtype=bool)
        stars["calib_photometry_used"][np.asarray(starIndex)[photo.used]] = True
        stars["visit"] = np.full(len(stars), int(visit), dtype=np.int64)
        stars["detector"] = np.full(len(stars), int(detector.id), dtype=np.int64)
        stars.meta.update({"BAND": band, "PSFSIGMA": psfSigma, "ZEROPOINT": photo.zeroPoint})
        psfStars = psfResult.catalog
        psfStars["visit"] = np.full(len(psfStars), int(visit), dtype=np.int64)
        psfStars["detector"] = np.full(len(psfStars), int(detector.id), dtype=np.int64)

        summary = self.compute_summary_stats.run(
            bbox=bbox,
            psfSigma=psfSigma,
            wcs=wcs,
            exposureTime=exptime,
            zeroPoint=photo.zeroPoint,
            skyBg=bg2.skyLevel,
            skyNoise=bg2.skyNoise,
            meanVar=float(np.median(variance[::4, ::4])),
            nPsfStar=int(np.sum(psfStars["calib_psf_used"])),
            astromScatter=astrom.scatter,
            astromOffsets=np.asarray(astrom.matches["separation"]),
            stars=stars,
        ).summary

        # --- Assemble the VisitImage.
        unit = exposures.unit or u.electron
        field = bg2.background
        scale = 1.0
        if self.config.do_calibrate_pixels:
            scale = cal
            image *= np.float32(cal)
            variance = variance * np.float32(cal * cal)
            field = field * cal
            unit = u.nJy
        else:
            variance = variance.copy()
            field = field * unit if field.unit is None else field
        backgrounds = BackgroundMap()
        backgrounds.add(
            "star_background",
            field if field.unit is not None else field * unit,
            "Akima spline over the sigma-clipped box medians, sources masked; subtracted.",
            is_subtracted=True,
        )
        projection = SkyProjection.from_fits_wcs(wcs, detector.frame, pixel_bounds=bbox)
        scaling = ChebyshevField(bbox, np.array([[cal]]), unit=u.nJy / u.electron)
        visitImage = VisitImage(
            Image(image, bbox=bbox, unit=unit),
            mask=mask,
            variance=Image(variance, bbox=bbox, unit=unit**2),
            sky_projection=projection,
            obs_info=obs_info,
            psf=psfResult.psf,
            detector=detector,
            band=band,
            summary_stats=summary,
            photometric_scaling=scaling,
            backgrounds=backgrounds,
            metadata={"CALIBRATED": bool(self.config.do_calibrate_pixels), "FLUXSCALE": float(scale)},
        )
        return Struct(
            exposure=visitImage,
            background=backgrounds,
            psf_stars=psfStars,
            stars=stars,
            astrometry=astrom,
            photometry=photo,
            psfSigma=psfSigma,
        )

    def _matchSky(self, stars: Any, refCat: Any) -> tuple[np.ndarray, np.ndarray]:
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        s = SkyCoord(np.asarray(stars["coord_ra"]) * u.deg, np.asarray(stars["coord_dec"]) * u.deg)
        r = SkyCoord(np.asarray(refCat["coord_ra"]) * u.deg, np.asarray(refCat["coord_dec"]) * u.deg)
        idx, sep, _ = s.match_to_catalog_sky(r)
        ok = sep.arcsec < self.config.astrometry.matchRadius
        ok &= np.asarray(stars["deblend_nChild"]) == 0 if "deblend_nChild" in stars.colnames else True
        return np.flatnonzero(ok), idx[ok]
