"""Photometric calibration, mirroring ``lsst.pipe.tasks.photoCal.PhotoCalTask``.

The zero point is the sigma-clipped median (``useMedian``, as Rubin's) of the reference minus
instrumental magnitudes of the matched, unsaturated, bright stars (``astropy.stats.sigma_clip``),
measured on the calibration flux (``fluxField``; Rubin's ``slot_CalibFlux``, a flux normalized to
a large aperture).  The result is a calibration (nJy per electron, as a Rubin ``PhotoCalib``'s
mean) and Rubin's zero point ``zp``, the AB magnitude of one electron *in this exposure* (so
``2.5 log10(photoCalib.getInstFluxAtZeroMagnitude())``, exposure time included).
"""

from __future__ import annotations

__all__ = ("PhotoCalConfig", "PhotoCalTask")

import math
from typing import Any

import numpy as np
from lsst.pex.config import Config, Field
from lsst.pipe.base import AlgorithmError, Struct, Task

from .._exceptions import PipelineError

AB_NJY_ZERO = 31.4
"""AB magnitude of 1 nJy."""


class PhotoCalError(PipelineError, AlgorithmError):
    """Too few calibration stars.

    Parameters
    ----------
    nStars
        Usable matched stars.
    nNeeded
        The configured minimum (``minStars``).
    """

    def __init__(self, nStars: int, nNeeded: int) -> None:
        self.nStars = nStars
        self.nNeeded = nNeeded
        super().__init__(f"Only {nStars} matched stars are usable for the zero point; {nNeeded} are needed.")

    @property
    def metadata(self) -> dict:
        return {"nStars": self.nStars, "nNeeded": self.nNeeded}


class PhotoCalConfig(Config):
    """Configuration for `PhotoCalTask`."""

    fluxField = Field[str](
        doc="Instrumental flux column used for calibration (Rubin's slot_CalibFlux_instFlux).",
        default="calibFlux_instFlux",
    )
    minSnr = Field[float](doc="Minimum S/N of a calibration star.", default=20.0, check=lambda v: v > 0)
    sigmaMax = Field[float](
        doc="Maximum sigma (mag) to use when clipping: the clipping never loosens beyond nSigma times this.",
        default=0.25,
        check=lambda v: v > 0,
    )
    nSigma = Field[float](doc="Clip at nSigma.", default=3.0, check=lambda v: v > 0)
    useMedian = Field[bool](
        doc="Use the median instead of the inverse-variance weighted mean to compute the zero point "
        "(the weights include the reference catalog's flux errors, where it has them).",
        default=True,
    )
    nIter = Field[int](doc="Number of clipping iterations.", default=20, check=lambda v: v >= 1)
    magErrFloor = Field[float](
        doc="Magnitude error added in quadrature to each star's measurement error before weighting "
        "(Rubin's photoCal.magErrFloor, default 0 there too); matters only without useMedian.",
        default=0.0,
        check=lambda v: v >= 0,
    )
    minStars = Field[int](doc="Minimum number of calibration stars.", default=3, check=lambda v: v >= 1)
    applyColorTerms = Field[bool](doc="Apply colour terms (SimCam's filters need none).", default=False)


class PhotoCalTask(Task):
    """Fit the photometric zero point from matched stars.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> stars = Table({"calibFlux_instFlux": [1000.0, 2000.0, 4000.0],
    ...                "calibFlux_instFluxErr": [10.0, 10.0, 10.0],
    ...                "flag_saturated": [False] * 3})
    >>> ref = Table({"r_flux": [5000.0, 10000.0, 20000.0]})
    >>> result = PhotoCalTask().run(stars, ref, [0, 1, 2], [0, 1, 2], band="r")
    >>> round(result.calibration, 3), round(result.zp, 3)
    (5.0, 29.653)
    """

    ConfigClass = PhotoCalConfig
    _DefaultName = "photoCal"
    config: PhotoCalConfig

    def run(self, stars: Any, refCat: Any, starIndex: Any, refIndex: Any, *, band: str) -> Struct:
        """Compute the zero point from matched pairs.

        Parameters
        ----------
        stars
            Star catalog (instrumental fluxes in electrons).
        refCat
            Reference catalog with ``{band}_flux`` in nJy.
        starIndex, refIndex
            Matched rows of ``stars`` and ``refCat``.
        band
            Band of the exposure.

        Returns
        -------
        result
            ``calibration`` (nJy per electron), ``calibrationErr``, ``zp`` (AB magnitude of one
            electron in this exposure), ``sigma`` (scatter of the stars' zero points, mag), ``ngood``
            and ``used`` (boolean over the matches).
        """
        from astropy.stats import mad_std, sigma_clip

        cfg = self.config
        col = f"{band}_flux"
        if col not in refCat.colnames:
            raise KeyError(f"The reference catalog has no {col!r} column; it has {refCat.colnames}.")
        starIndex = np.asarray(starIndex, dtype=int)
        refIndex = np.asarray(refIndex, dtype=int)
        inst = np.asarray(stars[cfg.fluxField], float)[starIndex]
        instErr = np.asarray(stars[cfg.fluxField + "Err"], float)[starIndex]
        ref = np.asarray(refCat[col], float)[refIndex]
        sat = np.asarray(stars["flag_saturated"], bool)[starIndex]
        good = (inst > 0) & (ref > 0) & ~sat & (inst / np.where(instErr > 0, instErr, np.inf) >= cfg.minSnr)
        if good.sum() < cfg.minStars:
            raise PhotoCalError(int(good.sum()), cfg.minStars)
        dmag = -2.5 * np.log10(ref[good]) + 2.5 * np.log10(inst[good])  # = -2.5 log10(calibration)
        dmagErr = np.hypot(2.5 / math.log(10) * instErr[good] / inst[good], cfg.magErrFloor)
        if f"{col}Err" in refCat.colnames:
            # The reference magnitudes' errors too (Rubin ignores them in the fit, DM-2308).
            refErr = np.asarray(refCat[f"{col}Err"], float)[refIndex][good]
            dmagErr = np.hypot(dmagErr, 2.5 / math.log(10) * refErr / ref[good])
        clipped = sigma_clip(
            dmag,
            sigma=cfg.nSigma,
            maxiters=cfg.nIter,
            cenfunc="median",
            stdfunc=lambda x, axis=None: np.minimum(mad_std(x, axis=axis, ignore_nan=True), cfg.sigmaMax),
        )
        keep = ~np.asarray(clipped.mask)
        if cfg.useMedian:
            mean = float(np.median(dmag[keep]))
        else:
            w = 1.0 / np.maximum(dmagErr[keep], 1e-4) ** 2
            mean = float(np.sum(w * dmag[keep]) / np.sum(w))
        # Scatter-based error (the formal one ignores reference-catalog errors).
        err = float(np.std(dmag[keep]) / math.sqrt(max(keep.sum() - 1, 1)))
        calibration = 10 ** (-0.4 * mean)
        zp = AB_NJY_ZERO - 2.5 * math.log10(calibration)
        used = np.zeros(len(starIndex), dtype=bool)
        used[np.flatnonzero(good)[keep]] = True
        self.log.info(
            "Zero point %.4f mag from %d stars, scatter %.4f mag",
            zp,
            int(keep.sum()),
            float(np.std(dmag[keep])),
        )
        return Struct(
            calibration=calibration,
            calibrationErr=calibration * err * math.log(10) / 2.5,
            zp=zp,
            sigma=float(np.std(dmag[keep])),
            ngood=int(keep.sum()),
            used=used,
        )
