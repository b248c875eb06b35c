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
            The overscan pixels (rows x columns).
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
        data = np.asarray(data, dtype=np.float64)
        if data.size == 0:
            raise ValueError(
                f"Empty overscan region (shape {overscanArray.shape}); check the amplifier geometry."
            )
        med = np.median(data)
        sigma = 1.4826 * np.median(np.abs(data - med))
        fitType = self.config.fitType
        if sigma > 0:
            bad = np.abs(data - med) > self.config.numSigmaClip * sigma
        else:
            bad = np.zeros(data.shape, dtype=bool)
        nRejected = int(bad.sum())
        clipped = np.where(bad, np.nan, data) if nRejected else data
        coeffs = None
        if fitType == "MEDIAN":
            value: Any = float(np.nanmedian(clipped) if nRejected else med)
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
            ``residualSigma``: robust sigma of the corrected serial overscan (ADU).
        """
        if not np.issubdtype(rawArray.dtype, np.floating):
            raise TypeError(
                f"rawArray must be floating point to be corrected in place; got {rawArray.dtype}."
            )
        cfg = self.config
        amp_ys, amp_xs = _slices(ampGeometry.bbox, rawBBox)
        os_ys, os_xs = _slices(ampGeometry.serial_overscan_bbox, rawBBox)
        os_xs = slice(os_xs.start + cfg.leadingColumnsToSkip, os_xs.stop - cfg.trailingColumnsToSkip)
        serial = self.fitOverscan(rawArray[os_ys, os_xs], isTransposed=False)
        value = serial.overscanValue
        if np.ndim(value) == 0:
            rawArray[amp_ys, amp_xs] -= np.float32(value)
        else:
            # One level per overscan row, applied to the same rows of the whole amplifier.  Rows the
            # serial overscan does not cover (the parallel overscan rows, in SimCam) take the
            # polynomial's extrapolation (POLY) or the nearest row's level (MEDIAN_PER_ROW).
            rows = np.arange(amp_ys.start, amp_ys.stop) - os_ys.start
            if serial.polyCoeffs is not None:
                full = np.polynomial.polynomial.polyval(rows.astype(np.float64), serial.polyCoeffs)
            else:
                full = np.interp(rows, np.arange(len(value)), value)
            rawArray[amp_ys, amp_xs] -= full.astype(rawArray.dtype)[:, np.newaxis]
        residualSigma = float(
            1.4826 * np.median(np.abs(rawArray[os_ys, os_xs] - np.median(rawArray[os_ys, os_xs])))
        )
        parallel = None
        if cfg.doParallelOverscan:
            po_ys, _ = _slices(ampGeometry.parallel_overscan_bbox, rawBBox)
            po_ys = slice(po_ys.start + cfg.leadingRowsToSkip, po_ys.stop - cfg.trailingRowsToSkip)
            _, data_xs = _slices(ampGeometry.data_bbox, rawBBox)
            parallel = self.fitOverscan(rawArray[po_ys, data_xs], isTransposed=True)
            pvalue = parallel.overscanValue
            if np.ndim(pvalue) == 0:
                rawArray[amp_ys, data_xs] -= np.float32(pvalue)
            else:
                rawArray[amp_ys, data_xs] -= np.asarray(pvalue, dtype=rawArray.dtype)[np.newaxis, :]
        self.log.debug(
            "Overscan %s: serial level %s, residual sigma %.3f ADU",
            cfg.fitType,
            f"{float(np.mean(value)):.2f}",
            residualSigma,
        )
        return Struct(serialOverscan=serial, parallelOverscan=parallel, residualSigma=residualSigma)
