"""Overscan correction: measure the bias level in each amplifier's overscan and subtract it.

Mirrors ``lsst.ip.isr.overscan.OverscanCorrectionTask`` (config names ``fitType``, ``order``,
``numSigmaClip``, ``doParallelOverscan``, ``leadingColumnsToSkip`` ...), working on numpy
arrays cut from the raw frame with the amplifier's `lsst.images.cameras.AmplifierRawGeometry`.
"""

from __future__ import annotations

__all__ = ("OverscanCorrectionTask", "OverscanCorrectionTaskConfig")

from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ChoiceField, Config, Field
from lsst.pipe.base import Struct, Task

if TYPE_CHECKING:
    from lsst.images import Box
    from lsst.images.cameras import AmplifierRawGeometry


class OverscanCorrectionTaskConfig(Config):
    """Configuration for `OverscanCorrectionTask` (names as in ``ip_isr``)."""

    fitType = ChoiceField[str](
        doc="The method for fitting the overscan bias level.",
        default="MEDIAN",
        allowed={
            "MEDIAN": "Correct using the (clipped) median of the whole overscan region.",
            "MEAN": "Correct using the (clipped) mean of the whole overscan region.",
            "MEDIAN_PER_ROW": "Correct using the median of each overscan row (column for parallel).",
            "POLY": "Fit an ordinary polynomial of degree `order` along the long axis of the overscan.",
        },
    )
    order = Field[int](
        doc="Degree of the polynomial fitted when fitType is POLY.",
        default=1,
        check=lambda v: 0 <= v <= 10,
    )
    numSigmaClip = Field[float](
        doc="Rejection threshold (robust sigma, from the MAD) applied to overscan pixels before collapsing.",
        default=3.0,
        check=lambda v: v > 0,
    )
    doParallelOverscan = Field[bool](
        doc="Also correct column-wise with the parallel overscan, after the serial correction.",
        default=True,
    )
    leadingColumnsToSkip = Field[int](
        doc="Number of leading serial-overscan columns to ignore (charge trailing into the overscan).",
        default=0,
        check=lambda v: v >= 0,
    )
    trailingColumnsToSkip = Field[int](
        doc="Number of trailing serial-overscan columns to ignore.",
        default=0,
        check=lambda v: v >= 0,
    )
    leadingRowsToSkip = Field[int](
        doc="Number of leading parallel-overscan rows to ignore.",
        default=0,
        check=lambda v: v >= 0,
    )
    trailingRowsToSkip = Field[int](
        doc="Number of trailing parallel-overscan rows to ignore.",
        default=0,
        check=lambda v: v >= 0,
    )


def _slices(box: Box, within: Box) -> tuple[slice, slice]:
    ys, xs = box.slice_within(within)
    return ys, xs


class OverscanCorrectionTask(Task):
    """Measure and subtract the overscan level of one amplifier, in place, in ADU.

    The serial overscan (extra pixels read after each row) is collapsed along
    its short axis into one value per row, or one number; the parallel
    overscan (extra rows) into one value per column.  Outlier pixels beyond
    ``numSigmaClip`` robust sigma of the median are rejected first, as
    ``ip_isr`` does, so cosmic rays in the overscan do not bias the level.

    `measureOverscan` measures the levels; `run` measures and subtracts them
    in place.  `IsrTask` calls `measureOverscan` and folds the subtraction
    into its single pass over the pixels, so a retargeted subclass changes
    the levels by overriding `fitOverscan` or `measureOverscan`.

    Examples
    --------
    >>> import numpy as np
    >>> task = OverscanCorrectionTask()
    >>> overscan = np.full((4, 3), 1000.0, dtype=np.float32)
    >>> float(task.fitOverscan(overscan).overscanValue)
    1000.0
    """

    ConfigClass = OverscanCorrectionTaskConfig
    _DefaultName = "overscan"
    config: OverscanCorrectionTaskConfig

    def fitOverscan(self, overscanArray: np.ndarray, isTransposed: bool = False) -> Struct:
        """Fit the bias level of one overscan region.

        Parameters
        ----------
        overscanArray
            The overscan pixels (rows x columns).  Unsigned-integer pixels (the raw
            ADU) take a faster, exactly equivalent path for MEDIAN and MEAN: see `_countStats`.
        isTransposed
            `False` for a serial overscan (one level per row); `True` for a
            parallel overscan (one level per column).

        Returns
        -------
        result
            ``overscanValue``: a float (MEDIAN, MEAN) or a 1-d array along the
            long axis (MEDIAN_PER_ROW, POLY); ``overscanSigma``: the robust
            noise of the overscan pixels (ADU); ``nRejected``: clipped pixels.
        """
        data = overscanArray.T if isTransposed else overscanArray
        if data.size == 0:
            raise ValueError(
                f"Empty overscan region (shape {overscanArray.shape}); check the amplifier geometry."
            )
        fitType = self.config.fitType
        if fitType in ("MEDIAN", "MEAN") and np.issubdtype(data.dtype, np.unsignedinteger):
            stats = _countStats(data, self.config.numSigmaClip)
            value: Any = stats.clippedMedian if fitType == "MEDIAN" else stats.clippedMean
            return Struct(
                overscanValue=value, overscanSigma=stats.sigma, nRejected=stats.nRejected, polyCoeffs=None
            )
        data = np.asarray(data, dtype=np.float64)
        med = np.median(data)
        sigma = 1.4826 * np.median(np.abs(data - med))
        if sigma > 0:
            bad = np.abs(data - med) > self.config.numSigmaClip * sigma
        else:
            bad = np.zeros(data.shape, dtype=bool)
        nRejected = int(bad.sum())
        clipped = np.where(bad, np.nan, data) if nRejected else data
        coeffs = None
        if fitType == "MEDIAN":
            value = float(np.nanmedian(clipped) if nRejected else med)
        elif fitType == "MEAN":
            value = float(np.nanmean(clipped))
        else:
            per_row = np.nanmedian(clipped, axis=1) if nRejected else np.median(clipped, axis=1)
            # A row where every pixel was clipped: fall back to the global median.
            per_row = np.where(np.isfinite(per_row), per_row, med)
            if fitType == "MEDIAN_PER_ROW":
                value = per_row
            else:  # POLY
                index = np.arange(per_row.size, dtype=np.float64)
                coeffs = np.polynomial.polynomial.polyfit(index, per_row, self.config.order)
                value = np.polynomial.polynomial.polyval(index, coeffs)
        return Struct(overscanValue=value, overscanSigma=float(sigma), nRejected=nRejected, polyCoeffs=coeffs)

    def measureOverscan(
        self, rawArray: np.ndarray, ampGeometry: AmplifierRawGeometry, rawBBox: Box
    ) -> Struct:
        """Measure the overscan levels of one amplifier without touching its imaging pixels.

        `run` subtracts these levels at once; `IsrTask` instead folds them into its single
        pass over each amplifier's pixels (with the gain, bias, dark and flat), so that the
        big imaging section is read and written once, not once per correction.

        Parameters
        ----------
        rawArray
            The whole raw frame (the raw ``uint16`` ADU, or floating point); not modified.
        ampGeometry
            Where the amplifier's data, serial and parallel overscan are in the raw frame.
        rawBBox
            Bounding box of ``rawArray`` (raw coordinates).

        Returns
        -------
        result
            As `run`, plus ``rowLevels`` (`numpy.float32`, one serial level per row of the
            amplifier's raw bounding box) and ``columnLevels`` (`numpy.float32`, one parallel
            level per imaging column, or `None` when ``doParallelOverscan`` is off).  The
            corrected pixel at raw ``(y, x)`` of the imaging section is
            ``(raw - rowLevels[y - y0]) - columnLevels[x - data_x0]``, in float32.

        Examples
        --------
        >>> import numpy as np
        >>> from stackclub.simcam.camera import SMALL_GEOMETRY, make_detector, raw_bbox
        >>> amp = make_detector(0, geometry=SMALL_GEOMETRY).amplifiers[0]
        >>> raw = np.full(raw_bbox(SMALL_GEOMETRY).shape, 1000, dtype=np.uint16)
        >>> levels = OverscanCorrectionTask().measureOverscan(
        ...     raw, amp.assembled_raw_geometry, raw_bbox(SMALL_GEOMETRY))
        >>> float(levels.rowLevels[0]), float(levels.columnLevels[0]), levels.residualSigma
        (1000.0, 0.0, 0.0)
        """
        cfg = self.config
        amp_ys, _ = _slices(ampGeometry.bbox, rawBBox)
        os_ys, os_xs = _slices(ampGeometry.serial_overscan_bbox, rawBBox)
        os_xs = slice(os_xs.start + cfg.leadingColumnsToSkip, os_xs.stop - cfg.trailingColumnsToSkip)
        serialArray = rawArray[os_ys, os_xs]
        serial = self.fitOverscan(serialArray, isTransposed=False)
        value = serial.overscanValue
        nRows = amp_ys.stop - amp_ys.start
        if np.ndim(value) == 0:
            rowLevels = np.full(nRows, value, dtype=np.float32)
            # A constant shift leaves the robust sigma unchanged: no need to correct and re-measure.
            residualSigma = serial.overscanSigma
        else:
            # One level per overscan row, applied to the same rows of the whole amplifier.  Rows the
            # serial overscan does not cover (the parallel overscan rows, in SimCam) take the
            # polynomial's extrapolation (POLY) or the nearest row's level (MEDIAN_PER_ROW).
            rows = np.arange(amp_ys.start, amp_ys.stop) - os_ys.start
            if serial.polyCoeffs is not None:
                full = np.polynomial.polynomial.polyval(rows.astype(np.float64), serial.polyCoeffs)
            else:
                full = np.interp(rows, np.arange(len(value)), value)
            rowLevels = full.astype(np.float32)
            corrected = np.subtract(
                serialArray,
                rowLevels[os_ys.start - amp_ys.start : os_ys.stop - amp_ys.start, np.newaxis],
                dtype=np.float32,
            )
            residualSigma = float(1.4826 * np.median(np.abs(corrected - np.median(corrected))))
        parallel = None
        columnLevels = None
        if cfg.doParallelOverscan:
            po_ys, _ = _slices(ampGeometry.parallel_overscan_bbox, rawBBox)
            po_ys = slice(po_ys.start + cfg.leadingRowsToSkip, po_ys.stop - cfg.trailingRowsToSkip)
            _, data_xs = _slices(ampGeometry.data_bbox, rawBBox)
            # The parallel overscan is measured after the serial correction, as ip_isr does.
            rawParallel = rawArray[po_ys, data_xs]
            if np.ndim(value) == 0 and cfg.fitType in ("MEDIAN", "MEAN"):
                # A constant serial level shifts the parallel pixels, their median and their mean
                # alike (and leaves their sigma): fit the raw pixels (integer ADU: `_countStats`),
                # then shift the level.
                parallel = self.fitOverscan(rawParallel, isTransposed=True)
                parallel.overscanValue -= float(rowLevels[0])
            else:
                parallelArray = np.subtract(
                    rawParallel,
                    rowLevels[po_ys.start - amp_ys.start : po_ys.stop - amp_ys.start, np.newaxis],
                    dtype=np.float32,
                )
                parallel = self.fitOverscan(parallelArray, isTransposed=True)
            pvalue = parallel.overscanValue
            columnLevels = np.empty(data_xs.stop - data_xs.start, dtype=np.float32)
            columnLevels[:] = pvalue
        self.log.debug(
            "Overscan %s: serial level %s, residual sigma %.3f ADU",
            cfg.fitType,
            f"{float(np.mean(value)):.2f}",
            residualSigma,
        )
        return Struct(
            serialOverscan=serial,
            parallelOverscan=parallel,
            residualSigma=residualSigma,
            rowLevels=rowLevels,
            columnLevels=columnLevels,
        )

    def run(self, rawArray: np.ndarray, ampGeometry: AmplifierRawGeometry, rawBBox: Box) -> Struct:
        """Subtract the overscan level from one amplifier of a raw frame, in place.

        Parameters
        ----------
        rawArray
            The whole raw frame as a floating-point array (modified in place:
            the amplifier's data and overscan pixels are corrected).
        ampGeometry
            Where the amplifier's data, serial and parallel overscan are in the raw frame.
        rawBBox
            Bounding box of ``rawArray`` (raw coordinates).

        Returns
        -------
        result
            ``serialOverscan`` and ``parallelOverscan`` (fit results from
            `fitOverscan`, the latter `None` when ``doParallelOverscan`` is off),
            ``residualSigma``: robust sigma of the corrected serial overscan (ADU);
            ``rowLevels`` and ``columnLevels`` as in `measureOverscan`.
        """
        if not np.issubdtype(rawArray.dtype, np.floating):
            raise TypeError(
                f"rawArray must be floating point to be corrected in place; got {rawArray.dtype}."
            )
        result = self.measureOverscan(rawArray, ampGeometry, rawBBox)
        amp_ys, amp_xs = _slices(ampGeometry.bbox, rawBBox)
        rawArray[amp_ys, amp_xs] -= result.rowLevels.astype(rawArray.dtype)[:, np.newaxis]
        if result.columnLevels is not None:
            _, data_xs = _slices(ampGeometry.data_bbox, rawBBox)
            rawArray[amp_ys, data_xs] -= result.columnLevels.astype(rawArray.dtype)[np.newaxis, :]
        return result


def _weightedMedian(values: np.ndarray, counts: np.ndarray) -> float:
    """Median of ``values`` (sorted) each repeated ``counts`` times, as `numpy.median` computes it."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    # 0-based ranks of the middle element(s) in the sorted sample; their mean for an even count.
    lower = values[np.searchsorted(cumulative, (n - 1) // 2, side="right")]
    upper = values[np.searchsorted(cumulative, n // 2, side="right")]
    return (float(lower) + float(upper)) / 2


def _countStats(data: np.ndarray, numSigmaClip: float) -> Struct:
    """Clipped median and mean of unsigned-integer pixels, from their histogram.

    Hand-written because the raw overscan is integer ADU spread over a few hundred distinct
    values: counting them (`numpy.bincount`) and working on the (value, count) pairs gives
    exactly the numbers `numpy.median`, ``nanmedian`` and ``nanmean`` give on the pixels, in
    a fraction of the time (no sorting or partitioning of ~10^5 pixels, twice per amplifier).
    """
    histogram = np.bincount(data.ravel())
    values = np.flatnonzero(histogram)
    counts = histogram[values]
    med = _weightedMedian(values, counts)
    deviation = np.abs(values - med)
    order = np.argsort(deviation, kind="stable")
    sigma = 1.4826 * _weightedMedian(deviation[order], counts[order])
    keep = deviation <= numSigmaClip * sigma if sigma > 0 else np.ones(values.shape, dtype=bool)
    kept_values, kept_counts = values[keep], counts[keep]
    return Struct(
        median=med,
        sigma=float(sigma),
        nRejected=int(counts.sum() - kept_counts.sum()),
        clippedMedian=_weightedMedian(kept_values, kept_counts),
        clippedMean=float(np.dot(kept_values.astype(np.float64), kept_counts) / kept_counts.sum()),
    )
