"""Overscan correction: measure each amplifier's bias level in its overscan and subtract it.

Mirrors ``lsst.ip.isr.overscan.OverscanCorrectionTask`` (ip_isr w.2026.20): the same config
fields (``fitType``, ``order``, ``numSigmaClip``, ``maskPlanes``, ``maxDeviation``,
``doParallelOverscan``, ``leadingColumnsToSkip`` ...), the same methods (``run`` ->
``correctOverscan`` -> ``fitOverscan`` -> ``measureConstantOverscan`` or
``measureVectorOverscan``) and the same result fields, on an `lsst.images.MaskedImage` of the
raw frame with numpy, ``numpy.polynomial``, ``scipy.interpolate`` and ``astropy.stats`` in place
of afw's statistics.
"""

from __future__ import annotations

__all__ = ("OverscanCorrectionTask", "OverscanCorrectionTaskConfig")

from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ChoiceField, Config, Field, ListField
from lsst.pipe.base import Struct, Task

from ._masks import mask_planes_set, set_mask_plane

if TYPE_CHECKING:
    from lsst.images import Box, MaskedImage
    from lsst.images.cameras import Amplifier

_CONSTANT = ("MEAN", "MEANCLIP", "MEDIAN")
_PER_ROW = ("MEDIAN_PER_ROW", "MEAN_PER_ROW")
_POLYNOMIALS = {
    "POLY": (np.polynomial.polynomial.polyfit, np.polynomial.polynomial.polyval),
    "CHEB": (np.polynomial.chebyshev.chebfit, np.polynomial.chebyshev.chebval),
    "LEG": (np.polynomial.legendre.legfit, np.polynomial.legendre.legval),
}


class OverscanCorrectionTaskConfig(Config):
    """Configuration of `OverscanCorrectionTask`: names and defaults as in ip_isr."""

    fitType = ChoiceField[str](
        doc="The method for fitting the overscan bias level.",
        default="MEDIAN",
        allowed={
            "POLY": "Fit ordinary polynomial to the longest axis of the overscan region",
            "CHEB": "Fit Chebyshev polynomial to the longest axis of the overscan region",
            "LEG": "Fit Legendre polynomial to the longest axis of the overscan region",
            "NATURAL_SPLINE": "Fit natural spline to the longest axis of the overscan region",
            "CUBIC_SPLINE": "Fit cubic spline to the longest axis of the overscan region",
            "AKIMA_SPLINE": "Fit Akima spline to the longest axis of the overscan region",
            "MEAN": "Correct using the mean of the overscan region",
            "MEANCLIP": "Correct using a clipped mean of the overscan region",
            "MEDIAN": "Correct using the median of the overscan region",
            "MEDIAN_PER_ROW": "Correct using the median per row of the overscan region",
            "MEAN_PER_ROW": "Correct using the mean per row of the overscan region",
        },
    )
    order = Field[int](
        doc="Order of polynomial to fit if overscan fit type is a polynomial, "
        "or number of spline knots if overscan fit type is a spline.",
        default=1,
    )
    numSigmaClip = Field[float](
        doc="Rejection threshold (sigma) for collapsing overscan before fit.", default=3.0
    )
    maskPlanes = ListField[str](
        doc="Mask planes to reject when measuring overscan (Rubin's legacy names: BAD, SAT).",
        default=["BAD", "SATURATED"],
    )
    maxDeviation = Field[float](
        doc="Maximum deviation from median (in ADU) to mask in overscan correction; will be applied "
        "to the absolute deviation if doAbsoluteMaxDeviation=True.",
        default=1000.0,
        check=lambda x: x > 0,
    )
    doAbsoluteMaxDeviation = Field[bool](
        doc="Apply the maxDeviation to the absolute value of the deviation? If False, this will be a "
        "one-sided cut for positive-only deviations.",
        default=True,
    )
    doParallelOverscan = Field[bool](
        doc="Correct using parallel overscan after serial overscan correction?", default=False
    )
    leadingColumnsToSkip = Field[int](
        doc="Number of leading columns to skip in serial overscan correction.", default=0
    )
    trailingColumnsToSkip = Field[int](
        doc="Number of trailing columns to skip in serial overscan correction.", default=0
    )
    leadingRowsToSkip = Field[int](
        doc="Number of leading rows to skip in parallel overscan correction.", default=0
    )
    trailingRowsToSkip = Field[int](
        doc="Number of trailing rows to skip in parallel overscan correction.", default=0
    )


class OverscanCorrectionTask(Task):
    """Measure and subtract an amplifier's overscan level: its bias, exposure by exposure.

    The serial overscan (pixels read past the end of each row, which saw no light) gives the
    amplifier's bias level now, drift included; it is fitted (a constant, a value per row, or
    a polynomial or spline along the rows) and subtracted from the amplifier's pixels.  With
    ``doParallelOverscan``, the parallel overscan (rows read past the last row) is then fitted
    along the columns and subtracted too.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage
    >>> from stackclub.pipe._masks import make_mask_schema
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY, make_detector, raw_bbox
    >>> amp = make_detector(0, geometry=SMALL_GEOMETRY).amplifiers[0]
    >>> raw = MaskedImage(Image(1000.0, bbox=raw_bbox(SMALL_GEOMETRY)), mask_schema=make_mask_schema())
    >>> result = OverscanCorrectionTask().run(raw, amp)
    >>> result.overscanMean, float(raw[amp.assembled_raw_geometry.data_bbox].image.array.max())
    (1000.0, 0.0)
    """

    ConfigClass = OverscanCorrectionTaskConfig
    _DefaultName = "overscan"
    config: OverscanCorrectionTaskConfig

    def run(self, exposure: MaskedImage, amp: Amplifier, isTransposed: bool = False) -> Struct:
        """Measure and remove the serial (and parallel) overscan from one amplifier, in place.

        Parameters
        ----------
        exposure
            The raw frame, floating point (``IsrTask.convertIntToFloat``), raw coordinates.
        amp
            The amplifier (its ``assembled_raw_geometry`` locates data and overscans).
        isTransposed
            Whether the amplifier's serial direction runs along the image's columns.

        Returns
        -------
        overscanResults
            ``imageFit`` and ``overscanFit`` (what was subtracted from the imaging and overscan
            pixels), ``overscanImage`` (the corrected overscan), ``parallelOverscanFit`` and
            ``parallelOverscanImage`` (`None` without ``doParallelOverscan``), ``overscanMean``,
            ``overscanMedian``, ``overscanSigma`` (of the fit), ``residualMean``,
            ``residualMedian``, ``residualSigma`` (of the corrected overscan); each a
            ``(serial, parallel)`` tuple with ``doParallelOverscan``.
        """
        geometry = amp.assembled_raw_geometry
        assert geometry is not None
        serialOverscanBBox = geometry.serial_overscan_bbox
        imageBBox = geometry.data_bbox
        if self.config.doParallelOverscan:
            # The serial correction then covers the parallel overscan rows too.
            imageBBox = _union(imageBBox, geometry.parallel_overscan_bbox)
            serialOverscanBBox = _rows(serialOverscanBBox, imageBBox)
        serial = self.correctOverscan(
            exposure,
            amp,
            imageBBox,
            serialOverscanBBox,
            isTransposed=isTransposed,
            leadingToSkip=self.config.leadingColumnsToSkip,
            trailingToSkip=self.config.trailingColumnsToSkip,
        )
        names = ("overscanMean", "overscanMedian", "overscanSigma", "residualMean", "residualMedian")
        stats: dict[str, Any] = {name: getattr(serial, name) for name in (*names, "residualSigma")}
        parallel = None
        if self.config.doParallelOverscan:
            parallel = self.correctOverscan(
                exposure,
                amp,
                geometry.data_bbox,
                geometry.parallel_overscan_bbox,
                isTransposed=not isTransposed,
                leadingToSkip=self.config.leadingRowsToSkip,
                trailingToSkip=self.config.trailingRowsToSkip,
            )
            stats = {name: (value, getattr(parallel, name)) for name, value in stats.items()}
        return Struct(
            imageFit=serial.ampOverscanModel,
            overscanFit=serial.overscanOverscanModel,
            overscanImage=serial.overscanImage,
            parallelOverscanFit=parallel.overscanOverscanModel if parallel else None,
            parallelOverscanImage=parallel.overscanImage if parallel else None,
            **stats,
        )

    def correctOverscan(
        self,
        exposure: MaskedImage,
        amp: Amplifier,
        imageBBox: Box,
        overscanBBox: Box,
        isTransposed: bool = True,
        leadingToSkip: int = 0,
        trailingToSkip: int = 0,
    ) -> Struct:
        """Trim the overscan, fit it, subtract the fit from image and overscan, measure the residual.

        Parameters
        ----------
        exposure
            The raw frame (changed in place).
        amp
            The amplifier.
        imageBBox
            Pixels the fit is subtracted from.
        overscanBBox
            The overscan region.
        isTransposed
            `False`: one value per row (serial overscan); `True`: one per column (parallel).
        leadingToSkip, trailingToSkip
            Overscan columns (rows, when transposed) next to (away from) the data to leave out.

        Returns
        -------
        results
            ``ampOverscanModel``, ``overscanOverscanModel``, ``overscanImage``,
            ``overscanValue``, ``overscanMean``, ``overscanMedian``, ``overscanSigma``,
            ``residualMean``, ``residualMedian``, ``residualSigma``.
        """
        from astropy.stats import sigma_clipped_stats

        overscanImage = exposure[
            self.trimOverscan(amp, overscanBBox, leadingToSkip, trailingToSkip, isTransposed)
        ]
        # Wild pixels (a bleed trail or cosmic ray into the overscan) are flagged BAD and left out.
        delta = overscanImage.image.array - np.median(overscanImage.image.array)
        wild = (np.abs(delta) if self.config.doAbsoluteMaxDeviation else delta) > self.config.maxDeviation
        set_mask_plane(overscanImage.mask, "BAD", wild)
        fit = self.fitOverscan(overscanImage, isTransposed=isTransposed)
        ampImage = exposure[imageBBox].image.array
        ampOverscanModel = self.broadcastFitToImage(fit.overscanValue, ampImage, transpose=isTransposed)
        ampImage -= ampOverscanModel
        overscan = exposure[overscanBBox].image.array
        overscanOverscanModel = self.broadcastFitToImage(fit.overscanValue, overscan, transpose=isTransposed)
        overscan -= overscanOverscanModel
        residual = exposure[overscanBBox].image.array
        clip = self.config.numSigmaClip
        _, _, residualSigma = sigma_clipped_stats(residual.ravel(), sigma=clip, maxiters=3)
        return Struct(
            ampOverscanModel=ampOverscanModel,
            overscanOverscanModel=overscanOverscanModel,
            overscanImage=exposure[overscanBBox],
            overscanValue=fit.overscanValue,
            overscanMean=fit.overscanMean,
            overscanMedian=fit.overscanMedian,
            overscanSigma=fit.overscanSigma,
            residualMean=float(np.mean(residual)),
            residualMedian=float(np.median(residual)),
            residualSigma=float(residualSigma),
        )

    @staticmethod
    def broadcastFitToImage(overscanValue: Any, imageArray: np.ndarray, transpose: bool = False) -> Any:
        """Spread a fit (a number, or one value per row or column) over an image's shape.

        Parameters
        ----------
        overscanValue
            A scalar, or a 1-d array with one value per row (``transpose=False``) or column.
        imageArray
            The array the fit will be subtracted from.
        transpose
            The fit runs along columns.

        Returns
        -------
        overscanModel
            The scalar, or an array that broadcasts against ``imageArray``.

        Raises
        ------
        ValueError
            If the vector matches neither dimension.

        Examples
        --------
        >>> import numpy as np
        >>> OverscanCorrectionTask.broadcastFitToImage(np.array([1.0, 2.0]), np.zeros((2, 3))).shape
        (2, 1)
        """
        if np.ndim(overscanValue) == 0:
            return overscanValue
        value = np.asarray(overscanValue, dtype=imageArray.dtype)
        if not transpose and value.shape[0] == imageArray.shape[0]:
            return value[:, np.newaxis]
        if transpose and value.shape[0] == imageArray.shape[1]:
            return value[np.newaxis, :]
        raise ValueError(f"Could not broadcast an overscan fit of shape {value.shape} to {imageArray.shape}.")

    @staticmethod
    def trimOverscan(
        amp: Amplifier, bbox: Box, skipLeading: int, skipTrailing: int, transpose: bool = False
    ) -> Box:
        """Return the overscan box less the columns (rows) to skip next to and away from the data.

        Parameters
        ----------
        amp
            The amplifier (where its data is decides which side is "leading").
        bbox
            The overscan box.
        skipLeading, skipTrailing
            Columns (rows, when ``transpose``) to drop on the data side and the far side.
        transpose
            Trim rows (parallel overscan) instead of columns.

        Returns
        -------
        trimmed
            The smaller box.
        """
        from lsst.images import Box

        geometry = amp.assembled_raw_geometry
        assert geometry is not None
        interval, data = (bbox.y, geometry.data_bbox.y) if transpose else (bbox.x, geometry.data_bbox.x)
        first, last = (
            (skipLeading, skipTrailing) if data.start < interval.start else (skipTrailing, skipLeading)
        )
        start, stop = interval.start + first, interval.stop - last
        if transpose:
            return Box.factory[start:stop, bbox.x.start : bbox.x.stop]
        return Box.factory[bbox.y.start : bbox.y.stop, start:stop]

    def fitOverscan(self, overscanImage: MaskedImage, isTransposed: bool = False) -> Struct:
        """Fit the overscan: a constant, or a vector along the overscan's long axis.

        Parameters
        ----------
        overscanImage
            The overscan pixels (its ``maskPlanes`` pixels are left out).
        isTransposed
            `True` for a parallel overscan: the vector runs along the columns.

        Returns
        -------
        results
            ``overscanValue`` (a float, or one value per row or column), and its
            ``overscanMean``, ``overscanMedian``, ``overscanSigma`` (0 for a constant).
        """
        if self.config.fitType in _CONSTANT:
            value = self.measureConstantOverscan(overscanImage).overscanValue
            return Struct(overscanValue=value, overscanMean=value, overscanMedian=value, overscanSigma=0.0)
        from astropy.stats import sigma_clipped_stats

        value = self.measureVectorOverscan(overscanImage, isTransposed).overscanValue
        _, _, sigma = sigma_clipped_stats(value, sigma=self.config.numSigmaClip, maxiters=3)
        return Struct(
            overscanValue=value,
            overscanMean=float(np.mean(value)),
            overscanMedian=float(np.median(value)),
            overscanSigma=float(sigma),
        )

    def measureConstantOverscan(self, image: MaskedImage) -> Struct:
        """Measure one level for the whole overscan: its mean, 3-sigma-clipped mean or median.

        Parameters
        ----------
        image
            The overscan pixels.

        Returns
        -------
        results
            ``overscanValue`` (`float`) and ``isTransposed`` (`False`).

        Examples
        --------
        >>> import numpy as np
        >>> from lsst.images import Image, MaskedImage
        >>> from stackclub.pipe._masks import make_mask_schema
        >>> overscan = MaskedImage(Image(np.array([[1000.0, 1002.0, 1001.0, 9000.0]])),
        ...                        mask_schema=make_mask_schema())
        >>> OverscanCorrectionTask().measureConstantOverscan(overscan).overscanValue
        1001.5
        """
        from astropy.stats import sigma_clipped_stats

        pixels = self._getImageArray(image).compressed()
        fitType = self.config.fitType
        if fitType == "MEANCLIP":
            value, _, _ = sigma_clipped_stats(pixels, sigma=self.config.numSigmaClip, maxiters=3)
        else:
            value = np.mean(pixels) if fitType == "MEAN" else np.median(pixels)
        return Struct(overscanValue=float(value), isTransposed=False)

    def measureVectorOverscan(self, image: MaskedImage, isTransposed: bool = False) -> Struct:
        """Measure the overscan level along its long axis: per row, or a polynomial or spline fit.

        Outliers in each row (cosmic rays, bleed) are first rejected beyond ``numSigmaClip``
        robust sigma (from the quartiles, as ip_isr's ``maskOutliers``); the rows are then
        collapsed with their median or mean (``*_PER_ROW``), or with their mean and fitted with
        a polynomial of degree ``order`` (``POLY``, ``CHEB``, ``LEG``: `numpy.polynomial`) or a
        spline through ``order`` bins (`scipy.interpolate`) along ``2 * index / n - 1``.

        Parameters
        ----------
        image
            The overscan pixels.
        isTransposed
            `True` for a parallel overscan: one value per column.

        Returns
        -------
        results
            ``overscanValue`` (one value per row or column) and ``isTransposed``.

        Examples
        --------
        >>> import numpy as np
        >>> from lsst.images import Image, MaskedImage
        >>> from stackclub.pipe._masks import make_mask_schema
        >>> rows = np.arange(6.0)[:, np.newaxis]
        >>> pixels = 1000.0 + 2.0 * rows + np.zeros((6, 4))
        >>> overscan = MaskedImage(Image(pixels), mask_schema=make_mask_schema())
        >>> task = OverscanCorrectionTask()
        >>> task.config.fitType = "POLY"
        >>> task.measureVectorOverscan(overscan).overscanValue.round(6).tolist()
        [1000.0, 1002.0, 1004.0, 1006.0, 1008.0, 1010.0]
        """
        calcImage = self._getImageArray(image)
        if isTransposed:
            calcImage = calcImage.T
        lower, median, upper = np.nanpercentile(calcImage.filled(np.nan), [25.0, 50.0, 75.0], axis=1)
        robustSigma = 0.74 * (upper - lower)
        outlier = (
            np.abs(calcImage - median[:, np.newaxis]) > self.config.numSigmaClip * robustSigma[:, np.newaxis]
        )
        masked = np.ma.masked_where(np.ma.getdata(outlier), calcImage)
        fitType = self.config.fitType
        collapsed = np.ma.median(masked, axis=1) if fitType == "MEDIAN_PER_ROW" else masked.mean(axis=1)
        # A row with no good pixel takes the median of the others.
        collapsed = collapsed.filled(np.ma.median(collapsed))
        if fitType in _PER_ROW:
            return Struct(overscanValue=np.asarray(collapsed), isTransposed=isTransposed)
        indices = 2.0 * np.arange(collapsed.size) / collapsed.size - 1.0
        if fitType in _POLYNOMIALS:
            fitter, evaluator = _POLYNOMIALS[fitType]
            value = evaluator(indices, fitter(indices, collapsed, self.config.order))
        else:
            value = self._splineFit(indices, collapsed, self.config.order)
        return Struct(overscanValue=np.asarray(value), isTransposed=isTransposed)

    def _splineFit(self, indices: np.ndarray, collapsed: np.ndarray, numBins: int) -> np.ndarray:
        """Fit a spline through the means of ``numBins`` bins; evaluate it at ``indices``."""
        from scipy.interpolate import Akima1DInterpolator, CubicSpline

        centers = np.array([chunk.mean() for chunk in np.array_split(indices, numBins)])
        values = np.array([chunk.mean() for chunk in np.array_split(collapsed, numBins)])
        if self.config.fitType == "AKIMA_SPLINE":
            spline: Any = Akima1DInterpolator(centers, values, extrapolate=True)
        else:
            spline = CubicSpline(
                centers,
                values,
                bc_type="natural" if self.config.fitType == "NATURAL_SPLINE" else "not-a-knot",
            )
        return spline(indices)

    def _getImageArray(self, image: MaskedImage) -> np.ma.MaskedArray:
        """Return the pixels as a masked array, the ``maskPlanes`` pixels masked."""
        return np.ma.masked_array(image.image.array, mask=mask_planes_set(image.mask, self.config.maskPlanes))


def _union(a: Box, b: Box) -> Box:
    from lsst.images import Box

    return Box.factory[
        min(a.y.start, b.y.start) : max(a.y.stop, b.y.stop),
        min(a.x.start, b.x.start) : max(a.x.stop, b.x.stop),
    ]


def _rows(box: Box, like: Box) -> Box:
    """``box``'s columns over ``like``'s rows."""
    from lsst.images import Box

    return Box.factory[like.y.start : like.y.stop, box.x.start : box.x.stop]
