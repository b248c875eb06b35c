"""Install a simple Gaussian PSF, mirroring ``lsst.meas.algorithms.InstallGaussianPsfTask``.

CalibrateImageTask needs *some* PSF before it has measured one: detection smooths with it and the
cosmic-ray repair compares sharpness against it.  This task makes that first guess, a round
Gaussian of ``fwhm`` pixels, as an `lsst.images.psfs.GaussianPointSpreadFunction`.
"""

from __future__ import annotations

__all__ = ("FWHM_PER_SIGMA", "InstallGaussianPsfConfig", "InstallGaussianPsfTask")

import math
from typing import TYPE_CHECKING

from lsst.pex.config import Config, Field, RangeField
from lsst.pipe.base import Struct, Task

if TYPE_CHECKING:
    from lsst.images import Box
    from lsst.images.psfs import GaussianPointSpreadFunction

#: FWHM of a Gaussian in units of its sigma, ``2 sqrt(2 ln 2)`` (``lsst.afw.geom.SigmaToFwhm``).
FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))


class InstallGaussianPsfConfig(Config):
    """Configuration of `InstallGaussianPsfTask` (names and defaults as in ``meas_algorithms``)."""

    fwhm = Field[float](
        doc="Estimated FWHM of the simple Gaussian PSF model, in pixels.  Ignored if a PSF is passed.",
        default=1.5 * FWHM_PER_SIGMA,
        check=lambda v: v > 0,
    )
    width = RangeField(
        dtype=int,
        doc="Width and height of the PSF model's image, in pixels.  Must be odd.",
        default=11,
        min=1,
    )

    def validate(self) -> None:
        super().validate()
        if self.width % 2 == 0:
            raise ValueError(f"width={self.width} must be odd.")


class InstallGaussianPsfTask(Task):
    """Make a round Gaussian PSF of ``config.fwhm`` pixels (or of an existing PSF's sigma).

    Examples
    --------
    >>> from lsst.images import Box
    >>> task = InstallGaussianPsfTask()
    >>> task.config.fwhm = 4.0
    >>> round(task.run(bbox=Box.from_shape((100, 100))).psf.sigma, 4)
    1.6986
    """

    ConfigClass = InstallGaussianPsfConfig
    _DefaultName = "installSimplePsfModel"
    config: InstallGaussianPsfConfig

    def run(self, *, bbox: Box, psf: GaussianPointSpreadFunction | None = None) -> Struct:
        """Return a Gaussian PSF for an image of ``bbox``.

        Parameters
        ----------
        bbox
            The image's bounding box (the model's bounds).
        psf
            An existing PSF: if given, the new model has its sigma (Rubin's task does the same when
            the exposure already has a PSF).

        Returns
        -------
        result
            ``psf`` (`lsst.images.psfs.GaussianPointSpreadFunction`).
        """
        from lsst.images.psfs import GaussianPointSpreadFunction

        sigma = psf.sigma if psf is not None else self.config.fwhm / FWHM_PER_SIGMA
        return Struct(psf=GaussianPointSpreadFunction(sigma, bounds=bbox, stamp_size=self.config.width))
