"""Background estimation and subtraction, mirroring ``lsst.meas.algorithms.SubtractBackgroundTask``.

The sky is measured in a grid of ``binSize`` boxes with masked pixels left out
(``astropy.stats.sigma_clip`` over all boxes at once, Rubin's ``MEANCLIP`` by default),
optionally median-filtered (``doFilterSuperPixels``, ``scipy.ndimage.generic_filter``), and
interpolated with an Akima spline: the model is an `lsst.images.fields.SplineField`, which
`lsst.images.BackgroundMap` stores, so the background that is subtracted (``SplineField.render``)
is exactly the one that is saved.
"""

from __future__ import annotations

__all__ = ("SubtractBackgroundConfig", "SubtractBackgroundTask")

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ChoiceField, Config, Field, ListField
from lsst.pipe.base import Struct, Task

from ._masks import mask_planes_set

if TYPE_CHECKING:
    from lsst.images import Box


class SubtractBackgroundConfig(Config):
    """Configuration of `SubtractBackgroundTask` (names and defaults as in ``meas_algorithms``)."""

    binSize = Field[int](
        doc="Side of the boxes in which the sky is measured (pixels).", default=128, check=lambda v: v >= 8
    )
    statisticsProperty = ChoiceField[str](
        doc="Statistic measured in each box.",
        default="MEANCLIP",
        allowed={
            "MEANCLIP": "mean after 3-sigma clipping (3 iterations)",
            "MEDIAN": "median of the unmasked pixels",
            "MEAN": "mean of the unmasked pixels",
        },
    )
    ignoredPixelMask = ListField[str](
        doc="Mask planes whose pixels are left out of the box statistics.",
        default=["BAD", "DETECTION_EDGE", "DETECTED", "NO_DATA", "SATURATED"],
    )
    doFilterSuperPixels = Field[bool](
        doc='Median-filter the grid of box values ("super-pixels") before interpolating.', default=False
    )
    superPixelFilterSize = Field[int](
        doc="Size of the super-pixel median filter.", default=3, check=lambda v: v >= 1
    )
    subsample = Field[int](
        doc="Use every n-th pixel in each direction for the box statistics (Stack Club's; a 128-pixel "
        "box still holds 4096 samples at 2).",
        default=2,
        check=lambda v: v >= 1,
    )


class SubtractBackgroundTask(Task):
    """Fit a smooth sky to an image and subtract it.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Box
    >>> image = np.full((256, 256), 100.0, dtype=np.float32)
    >>> result = SubtractBackgroundTask().run(image, bbox=Box.from_shape(image.shape))
    >>> float(np.abs(image).max()) < 1e-3, round(result.skyLevel, 1)
    (True, 100.0)
    """

    ConfigClass = SubtractBackgroundConfig
    _DefaultName = "subtractBackground"
    config: SubtractBackgroundConfig

    def measureMesh(self, imageArray: np.ndarray, ignore: np.ndarray | None = None) -> Struct:
        """Measure the sky statistic in each box.

        Parameters
        ----------
        imageArray
            The image.
        ignore
            Boolean array of pixels to leave out, or `None`.

        Returns
        -------
        result
            ``mesh`` (ny_box, nx_box) with NaN where a box had no usable pixel, ``yCenters``,
            ``xCenters`` (array coordinates of the box centres) and ``noise`` (median of the boxes'
            clipped standard deviations).
        """
        from astropy.stats import sigma_clip
        from astropy.utils.exceptions import AstropyUserWarning
        from scipy import ndimage

        ny, nx = imageArray.shape
        b = min(self.config.binSize, ny, nx)
        nby, nbx = max(ny // b, 1), max(nx // b, 1)
        # The boxes tile the frame; the few rows and columns beyond the last whole box join it in
        # the spline (its centre) but not in the statistic.
        step = self.config.subsample
        by, bx = (ny // nby) // step, (nx // nbx) // step
        data = imageArray[::step, ::step][: nby * by, : nbx * bx].astype(np.float32, copy=True)
        if ignore is not None:
            data[ignore[::step, ::step][: nby * by, : nbx * bx]] = np.nan
        boxes = data.reshape(nby, by, nbx, bx).transpose(0, 2, 1, 3).reshape(nby, nbx, by * bx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # boxes with no usable pixel give NaN
            # The NaNs are the ignored pixels, put there above: sigma_clip's note about them is no news.
            warnings.filterwarnings("ignore", "Input data contains invalid values", AstropyUserWarning)
            clipped = sigma_clip(boxes, sigma=3.0, maxiters=3, axis=-1, masked=False)
            std = np.nanstd(clipped, axis=-1)
            statistic = self.config.statisticsProperty
            if statistic == "MEANCLIP":
                mesh = np.nanmean(clipped, axis=-1)
            elif statistic == "MEDIAN":
                mesh = np.nanmedian(boxes, axis=-1)
            else:
                mesh = np.nanmean(boxes, axis=-1)
            if self.config.doFilterSuperPixels and np.isfinite(mesh).any():
                mesh = ndimage.generic_filter(
                    mesh, np.nanmedian, size=self.config.superPixelFilterSize, mode="nearest"
                )
        edges_y = np.linspace(0, ny, nby + 1)
        edges_x = np.linspace(0, nx, nbx + 1)
        noise = float(np.nanmedian(std)) if np.isfinite(std).any() else math.nan
        return Struct(
            mesh=np.asarray(mesh, dtype=np.float64),
            yCenters=0.5 * (edges_y[:-1] + edges_y[1:]) - 0.5,
            xCenters=0.5 * (edges_x[:-1] + edges_x[1:]) - 0.5,
            noise=noise,
        )

    def run(
        self,
        imageArray: np.ndarray,
        *,
        bbox: Box,
        mask: Any | None = None,
        ignore: np.ndarray | None = None,
    ) -> Struct:
        """Measure the background, subtract it from ``imageArray`` in place and return the model.

        Parameters
        ----------
        imageArray
            The image (modified in place).
        bbox
            The image's bounding box (the model's bounds).
        mask
            An `lsst.images.Mask`: pixels with any of ``ignoredPixelMask`` set are left out.
        ignore
            Further pixels to leave out (boolean array).

        Returns
        -------
        result
            ``background`` (`lsst.images.fields.SplineField`), ``backgroundImage`` (array
            subtracted), ``skyLevel`` (median of the box values), ``skyNoise`` (clipped sigma).
        """
        from lsst.images.fields import SplineField

        if mask is not None:
            planes = [p for p in self.config.ignoredPixelMask if p in mask.schema.names]
            if planes:
                masked = mask_planes_set(mask, planes)
                ignore = masked if ignore is None else masked | ignore
        meshResult = self.measureMesh(imageArray, ignore)
        mesh = meshResult.mesh
        if not np.isfinite(mesh).any():
            raise ValueError("Every background box is masked; cannot measure the sky.")
        mesh = np.where(np.isfinite(mesh), mesh, np.nanmedian(mesh))
        y = meshResult.yCenters + bbox.y.start
        x = meshResult.xCenters + bbox.x.start
        if len(y) < 2 or len(x) < 2:
            # Too few boxes for a spline: a flat sky.
            y = np.array([bbox.y.start, bbox.y.stop - 1.0]) if len(y) < 2 else y
            x = np.array([bbox.x.start, bbox.x.stop - 1.0]) if len(x) < 2 else x
            mesh = np.full((len(y), len(x)), mesh.mean())
        field = SplineField(bbox, mesh, y=y, x=x)
        model = field.render(bbox, dtype=np.float32).array
        imageArray -= model.astype(imageArray.dtype, copy=False)
        skyLevel = float(np.median(mesh))
        self.log.info(
            "Background: sky %.2f, noise %.2f, %d x %d boxes", skyLevel, meshResult.noise, *mesh.shape
        )
        return Struct(background=field, backgroundImage=model, skyLevel=skyLevel, skyNoise=meshResult.noise)
