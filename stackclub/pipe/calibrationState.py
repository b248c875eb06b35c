"""What Rubin's ``lsst.afw.image.Exposure`` carries through calibrateImage, on lsst.images types.

Rubin's `CalibrateImageTask` works on one afw ``Exposure`` that holds the pixels and, step by
step, the PSF, the WCS, the aperture corrections and the photometric calibration.  lsst.images
has no such mutable container: `CalibrationState` is ours.  It is made from the post-ISR
`lsst.images.MaskedImage` (`CalibrationState.from_post_isr`, where Rubin's ``snap_combine``
step runs), carries what the steps fit, and becomes the task's outputs at the end, an
`lsst.images.VisitImage` and its `lsst.images.BackgroundMap` (`CalibrationState.to_visit_image`).
"""

from __future__ import annotations

__all__ = ("CalibrationState",)

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._masks import mask_planes_set

if TYPE_CHECKING:
    from astro_metadata_translator import ObservationInfo
    from astropy.wcs import WCS
    from lsst.images import BackgroundMap, Box, Mask, MaskedImage, ObservationSummaryStats, VisitImage
    from lsst.images.cameras import Detector
    from lsst.images.fields import SplineField
    from lsst.images.psfs import GaussianPointSpreadFunction


@dataclasses.dataclass
class CalibrationState:
    """What Rubin's ``lsst.afw.image.Exposure`` carries through calibrateImage: pixels and calibrations.

    Attributes
    ----------
    image, variance
        float32 pixel arrays (the image is background-subtracted as the steps go).
    error
        The per-pixel noise, ``sqrt(variance)`` (photutils' ``error``), taken once: the
        aperture fluxes of every measurement step read it.
    mask
        The `lsst.images.Mask` (planes set as the steps go).
    bbox
        The image's `lsst.images.Box`.
    detector, obs_info, band
        Where and how the exposure was taken.
    psf
        The PSF model, once installed or fitted.
    wcs
        The `astropy.wcs.WCS`, once fitted.
    ap_corr_map
        Aperture corrections (``{name}_instFlux`` -> correction), once measured.
    calibration
        Photometric calibration (nJy per electron), once fitted.
    backgrounds
        Background models subtracted so far, ``(name, SplineField)``.
    background_image
        Their sum, rendered (Rubin's ``background.getImage()``).
    sky_noise
        The background-subtracted sky's clipped standard deviation (electrons).
    psf_shape_sigma
        The PSF stars' adaptive-moment size (Rubin measures the PSF model's moments).
    """

    image: np.ndarray
    variance: np.ndarray
    error: np.ndarray
    mask: Mask
    bbox: Box
    detector: Detector
    obs_info: ObservationInfo
    band: str
    psf: GaussianPointSpreadFunction | None = None
    wcs: WCS | None = None
    ap_corr_map: dict[str, float] = dataclasses.field(default_factory=dict)
    calibration: float = math.nan
    backgrounds: list[tuple[str, SplineField]] = dataclasses.field(default_factory=list)
    background_image: np.ndarray | None = None
    psf_shape_sigma: float | None = None
    sky_noise: float = math.nan

    def plane(self, *names: str) -> np.ndarray:
        """Return where any of the mask planes ``names`` is set (boolean image).

        Parameters
        ----------
        *names
            Mask plane names.

        Returns
        -------
        flagged
            Boolean array of the image's shape.
        """
        return mask_planes_set(self.mask, names)

    @property
    def psfSigma(self) -> float:
        """The PSF model's Gaussian sigma (pixels)."""
        assert self.psf is not None, "No PSF installed yet."
        return float(self.psf.sigma)

    @classmethod
    def from_post_isr(
        cls,
        exposures: MaskedImage | Sequence[MaskedImage],
        detector: Detector,
        obs_info: ObservationInfo,
        band: str | None = None,
    ) -> CalibrationState:
        """Make the working copy of a post-ISR exposure (Rubin's ``snap_combine`` step, for one snap).

        Parameters
        ----------
        exposures
            The post-ISR image, or a list of one (SimCam takes one exposure per visit).
        detector
            Its detector.
        obs_info
            Its observation info.
        band
            Band name; from ``obs_info.physical_filter`` (``SimCam-R`` -> ``r``) if `None`.

        Returns
        -------
        state
            Float32 copies of the pixels and the noise, a copy of the mask, no calibration yet.

        Raises
        ------
        ValueError
            If a list of more than one exposure is given.
        """
        if isinstance(exposures, Sequence):  # a list of snaps (an lsst.images MaskedImage is not one)
            if len(exposures) != 1:
                raise ValueError(
                    f"Expected one exposure per visit (no snaps in SimCam); got {len(exposures)}."
                )
            exposures = exposures[0]
        if band is None:
            band = str(obs_info.physical_filter).split("-")[-1].lower()
        variance = exposures.variance.array.astype(np.float32, copy=True)
        error = np.maximum(variance, 0)
        np.sqrt(error, out=error)  # in place: one full-frame array
        return cls(
            image=exposures.image.array.astype(np.float32, copy=True),
            variance=variance,
            error=error,
            mask=exposures.mask.copy(),
            bbox=exposures.bbox,
            detector=detector,
            obs_info=obs_info,
            band=band,
        )

    def to_visit_image(
        self, summary: ObservationSummaryStats, *, calibrated: bool
    ) -> tuple[VisitImage, BackgroundMap]:
        """Build the `lsst.images.VisitImage` and `lsst.images.BackgroundMap` outputs.

        Parameters
        ----------
        summary
            The summary statistics to attach.
        calibrated
            Whether the pixels have been calibrated to nJy (``do_calibrate_pixels``); otherwise
            they are in electrons.

        Returns
        -------
        visit_image, backgrounds
            The exposure with its PSF, WCS, aperture corrections, photometric scaling, summary
            statistics and backgrounds; and the backgrounds alone.
        """
        import astropy.units as u
        from lsst.images import BackgroundMap, Image, SkyProjection, VisitImage
        from lsst.images.fields import ChebyshevField

        unit = u.nJy if calibrated else u.electron
        backgrounds = BackgroundMap()
        for name, field in self.backgrounds:
            backgrounds.add(
                name,
                field if field.unit is not None else field * unit,
                "Akima spline over the sigma-clipped box means, sources masked; subtracted.",
                is_subtracted=True,
            )
        bbox = self.bbox
        assert self.psf is not None, "The PSF is fitted before the visit image is made."
        apCorrUnit = u.dimensionless_unscaled
        apertureCorrections: dict[str, Any] = {
            key: ChebyshevField(bbox, np.array([[value]]), unit=apCorrUnit)
            for key, value in self.ap_corr_map.items()
        }
        visitImage = VisitImage(
            Image(self.image, bbox=bbox, unit=unit),
            mask=self.mask,
            variance=Image(self.variance, bbox=bbox, unit=unit**2),
            sky_projection=SkyProjection.from_fits_wcs(self.wcs, self.detector.frame, pixel_bounds=bbox),
            obs_info=self.obs_info,
            psf=self.psf,
            detector=self.detector,
            band=self.band,
            summary_stats=summary,
            photometric_scaling=ChebyshevField(bbox, np.array([[self.calibration]]), unit=u.nJy / u.electron),
            aperture_corrections=apertureCorrections,
            backgrounds=backgrounds,
            metadata={
                "CALIBRATED": bool(calibrated),
                "FLUXSCALE": float(self.calibration if calibrated else 1.0),
            },
        )
        return visitImage, backgrounds
