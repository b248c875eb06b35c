"""Aperture corrections, mirroring ``lsst.meas.algorithms.measureApCorr.MeasureApCorrTask`` and
``lsst.meas.base.ApplyApCorrTask``.

A PSF flux is the amplitude of the PSF *model*: if the model is narrower than the real stars (a
Gaussian model of a Moffat PSF misses its wings), every PSF flux misses the same fraction of the
light.  The aperture correction of a flux is the ratio of a large *reference* aperture's flux to
it, measured on the PSF stars; applying it puts every flux on the reference aperture's scale,
which the photometric calibration then ties to the reference catalog.
"""

from __future__ import annotations

__all__ = (
    "ApplyApCorrConfig",
    "ApplyApCorrTask",
    "MeasureApCorrConfig",
    "MeasureApCorrError",
    "MeasureApCorrTask",
)

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lsst.pex.config import Config, Field, RangeField
from lsst.pipe.base import AlgorithmError, Struct, Task

from .._exceptions import PipelineError
from .sourceSelector import ScienceSourceSelectorTask, sourceSelectorRegistry


class MeasureApCorrError(PipelineError, AlgorithmError):
    """Too few stars to measure an aperture correction.

    Parameters
    ----------
    name
        The flux that could not be corrected.
    nStars
        Usable stars.
    nNeeded
        The minimum (``minDegreesOfFreedom`` + 1).
    """

    def __init__(self, name: str, nStars: int, nNeeded: int) -> None:
        self.name = name
        self.nStars = nStars
        self.nNeeded = nNeeded
        super().__init__(
            f"Only {nStars} stars are usable for the aperture correction of {name!r}; {nNeeded} are "
            "needed.  Lower measure_aperture_correction.minDegreesOfFreedom or check the PSF stars."
        )

    @property
    def metadata(self) -> dict:
        return {"name": self.name, "nStars": self.nStars, "nNeeded": self.nNeeded}


class MeasureApCorrConfig(Config):
    """Configuration of `MeasureApCorrTask` (names as in ``meas_algorithms``)."""

    refFluxName = Field[str](
        doc="Flux (column prefix) the corrections correct to: the large aperture.", default="apFlux_12_0"
    )
    sourceSelector = sourceSelectorRegistry.makeField(
        doc="Selector of the stars the corrections are measured on.", default="science"
    )
    minDegreesOfFreedom = RangeField(
        dtype=int,
        doc="Minimum number of degrees of freedom (stars minus parameters) of a correction.",
        default=1,
        min=1,
    )
    numIter = RangeField(dtype=int, doc="Number of sigma-clipping iterations.", default=4, min=1)
    numSigmaClip = RangeField(
        dtype=float,
        doc="Clip stars whose ratio is more than this many robust (MAD) sigmas from the correction.",
        default=4.0,
        min=1,
    )

    def setDefaults(self) -> None:
        super().setDefaults()
        selector = self.sourceSelector["science"]
        selector.doFlags = True
        selector.flags.good = ["calib_psf_used"]
        selector.flags.bad = []


class MeasureApCorrTask(Task):
    """Measure the ratio of the reference aperture flux to other fluxes on the PSF stars.

    Parameters
    ----------
    **kwargs
        Passed to `lsst.pipe.base.Task` (``config``, ``name``, ``parentTask``...).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> n = 20
    >>> cat = Table({"calib_psf_used": np.ones(n, bool),
    ...              "apFlux_12_0_instFlux": np.full(n, 1000.0), "apFlux_12_0_instFluxErr": np.full(n, 10.0),
    ...              "psfFlux_instFlux": np.full(n, 900.0), "psfFlux_instFluxErr": np.full(n, 5.0)})
    >>> result = MeasureApCorrTask().run(cat, namesToCorrect=["psfFlux"])
    >>> round(result.apCorrMap["psfFlux_instFlux"], 4)
    1.1111
    """

    ConfigClass = MeasureApCorrConfig
    _DefaultName = "measureApCorr"
    config: MeasureApCorrConfig
    sourceSelector: ScienceSourceSelectorTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.makeSubtask("sourceSelector")

    def run(self, catalog: Any, *, namesToCorrect: Sequence[str]) -> Struct:
        """Measure one (spatially constant) correction per flux.

        Parameters
        ----------
        catalog
            `astropy.table.Table` of measured PSF candidates.
        namesToCorrect
            Column prefixes of the fluxes to correct (``psfFlux``: ``psfFlux_instFlux``...).

        Returns
        -------
        result
            ``apCorrMap``: dict from ``{name}_instFlux`` to the correction and ``{name}_instFluxErr``
            to its error; ``nStars``: the stars used, per name.

        Raises
        ------
        MeasureApCorrError
            If too few stars are usable for a flux.
        """
        from astropy.stats import sigma_clip

        cfg = self.config
        stars = self.sourceSelector.run(catalog).sourceCat
        ref = np.asarray(stars[f"{cfg.refFluxName}_instFlux"], float)
        refErr = np.asarray(stars[f"{cfg.refFluxName}_instFluxErr"], float)
        apCorrMap: dict[str, float] = {}
        nStars: dict[str, int] = {}
        for name in namesToCorrect:
            flux = np.asarray(stars[f"{name}_instFlux"], float)
            fluxErr = np.asarray(stars[f"{name}_instFluxErr"], float)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = ref / flux
                ratioErr = np.abs(ratio) * np.hypot(refErr / ref, fluxErr / flux)
            good = np.isfinite(ratio) & (ratioErr > 0) & (flux > 0) & (ref > 0)
            if good.sum() < 1 + cfg.minDegreesOfFreedom:
                raise MeasureApCorrError(name, int(good.sum()), 1 + cfg.minDegreesOfFreedom)
            clipped = sigma_clip(ratio[good], sigma=cfg.numSigmaClip, maxiters=cfg.numIter, stdfunc="mad_std")
            keep = ~np.asarray(clipped.mask)
            # A spatially constant correction: the clipped ratios' inverse-variance weighted mean
            # (Rubin fits a Chebyshev field, order 2 by default, by weighted least squares).
            weight = 1 / ratioErr[good][keep] ** 2
            apCorrMap[f"{name}_instFlux"] = float(np.sum(weight * ratio[good][keep]) / np.sum(weight))
            apCorrMap[f"{name}_instFluxErr"] = float(1 / math.sqrt(np.sum(weight)))
            nStars[name] = int(keep.sum())
            self.log.info(
                "Aperture correction of %s to %s: %.4f from %d stars",
                name,
                cfg.refFluxName,
                apCorrMap[f"{name}_instFlux"],
                nStars[name],
            )
        return Struct(apCorrMap=apCorrMap, nStars=nStars)


class ApplyApCorrConfig(Config):
    """Configuration of `ApplyApCorrTask` (nothing to configure: every measured correction is applied)."""


class ApplyApCorrTask(Task):
    """Multiply fluxes (and their errors) by their aperture corrections, recording ``{name}_apCorr``.

    Examples
    --------
    >>> from astropy.table import Table
    >>> cat = Table({"psfFlux_instFlux": [900.0], "psfFlux_instFluxErr": [9.0]})
    >>> ApplyApCorrTask().run(cat, {"psfFlux_instFlux": 1.1, "psfFlux_instFluxErr": 0.01})
    >>> round(float(cat["psfFlux_instFlux"][0]), 3), round(float(cat["psfFlux_apCorr"][0]), 3)
    (990.0, 1.1)
    """

    ConfigClass = ApplyApCorrConfig
    _DefaultName = "applyApCorr"
    config: ApplyApCorrConfig

    def run(self, catalog: Any, apCorrMap: Mapping[str, float]) -> None:
        """Apply the corrections in place.

        Parameters
        ----------
        catalog
            `astropy.table.Table` with ``{name}_instFlux`` columns.
        apCorrMap
            From `MeasureApCorrTask`: ``{name}_instFlux`` -> correction, ``{name}_instFluxErr`` -> error.
        """
        for key, value in apCorrMap.items():
            if not key.endswith("_instFlux") or key not in catalog.colnames:
                continue
            name = key.removesuffix("_instFlux")
            catalog[f"{name}_apCorr"] = np.full(len(catalog), value)
            catalog[f"{name}_apCorrErr"] = np.full(len(catalog), apCorrMap.get(f"{name}_instFluxErr", 0.0))
            catalog[key] = np.asarray(catalog[key], float) * value
            catalog[f"{key}Err"] = np.asarray(catalog[f"{key}Err"], float) * value
        self.log.info("Applied aperture corrections to %d sources", len(catalog))
