"""Fringe correction: measure how strongly a fringe pattern shows in an image and subtract it.

Mirrors ``lsst.ip.isr.fringe.FringeTask`` (ip_isr w.2026.20): config ``filters``, ``num``,
``small``, ``large``, ``iterations``, ``clip``, ``stats``, ``pedestal``; methods ``loadFringes``,
``run(exposure, fringes, seed)``, ``checkFilter``, ``removePedestal``, ``generatePositions``,
``measureExposure``, ``solve`` and ``subtract``.  As Rubin's, it measures the science image and
each fringe frame in small boxes at ``num`` random positions and solves for the amplitudes by
clipped least squares.  One difference, for speed: Rubin removes the local background by
subtracting the median of a ``(2 * large)``-pixel box around each position (30 000 medians of
3 600 pixels: seconds in numpy); here `solve` fits a constant background alongside the
amplitudes, which does the same for SimCam's smooth sky.
"""

from __future__ import annotations

__all__ = ("FringeConfig", "FringeStatisticsConfig", "FringeTask")

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from lsst.pex.config import ChoiceField, Config, ConfigField, Field, ListField
from lsst.pipe.base import Struct, Task
from numpy.lib.stride_tricks import sliding_window_view

from . import isrFunctions
from ._masks import mask_planes_set

if TYPE_CHECKING:
    from lsst.images import MaskedImage


class FringeStatisticsConfig(Config):
    """Options for measuring fringes on an exposure."""

    badMaskPlanes = ListField[str](
        doc="Ignore pixels with these masks (Rubin's legacy name: SAT).", default=["SATURATED"]
    )
    stat = ChoiceField[str](
        doc="Statistic to use (Rubin's is an afw.math statistic code, MEDIAN by default).",
        default="MEDIAN",
        allowed={"MEDIAN": "Median of the box.", "MEAN": "Mean of the box."},
    )
    clip = Field[float](doc="Sigma clip threshold.", default=3.0)
    iterations = Field[int](doc="Number of fitting iterations.", default=3)
    rngSeedOffset = Field[int](
        doc="Offset to the random number generator seed (full seed includes exposure ID).", default=0
    )


class FringeConfig(Config):
    """Fringe subtraction options: names and defaults as in ip_isr."""

    filters = ListField[str](doc="Only fringe-subtract these (physical) filters.", default=[])
    num = Field[int](doc="Number of fringe measurements.", default=30000)
    small = Field[int](doc="Half-size of small (fringe) measurements (pixels).", default=3)
    large = Field[int](
        doc="Half-size of large (background) measurements (pixels); here the margin kept from the "
        "edges (the background is fitted as a constant, see the module docstring).",
        default=30,
    )
    iterations = Field[int](doc="Number of fitting iterations.", default=20)
    clip = Field[float](doc="Sigma clip threshold.", default=3.0)
    stats: ConfigField[FringeStatisticsConfig] = ConfigField(
        dtype=FringeStatisticsConfig, doc="Statistics for measuring fringes."
    )
    pedestal = Field[bool](doc="Remove fringe pedestal?", default=False)


class FringeTask(Task):
    """Remove fringes from a science exposure.

    In the red, thin-film interference in the CCD turns the night sky's emission lines into a
    pattern of fringes whose amplitude follows the sky's, exposure by exposure.  The pattern
    (a fringe frame) is the same; its amplitude is measured at random positions on the science
    image and on the fringe frame(s), solved for, and the scaled pattern subtracted.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image, MaskedImage
    >>> from stackclub.pipe._masks import make_mask_schema
    >>> rng = np.random.default_rng(0)
    >>> y, x = np.mgrid[0:300, 0:300]
    >>> pattern = np.sin(x / 20.0).astype(np.float32)
    >>> fringe = MaskedImage(Image(pattern), mask_schema=make_mask_schema())
    >>> sky = 100 + 7 * pattern + rng.normal(0, 1, pattern.shape).astype(np.float32)
    >>> science = MaskedImage(Image(sky), mask_schema=make_mask_schema(), metadata={"FILTER": "SimCam-Z"})
    >>> task = FringeTask()
    >>> task.config.filters = ["SimCam-Z"]
    >>> round(float(task.run(science, fringe, seed=1).solution[0]), 1)
    7.0
    >>> round(float(np.std(science.image.array)), 1)  # the pattern is gone: the noise is left
    1.0
    """

    ConfigClass = FringeConfig
    _DefaultName = "isrFringe"
    config: FringeConfig

    def loadFringes(self, fringeExp: Any, expId: int | None = None) -> Struct:
        """Pack the fringe frame(s) and a seed for `run`.

        Parameters
        ----------
        fringeExp
            The fringe frame (`lsst.images.MaskedImage`) or a list of them.
        expId
            Exposure id of the science exposure: the random positions depend on it.

        Returns
        -------
        fringeData
            ``fringes`` and ``seed`` (``stats.rngSeedOffset`` + ``expId``, modulo 2**32).

        Examples
        --------
        >>> FringeTask().loadFringes(None, expId=2026031500001).seed
        3101903585
        """
        seed = self.config.stats.rngSeedOffset + (0 if expId is None else int(expId))
        return Struct(fringes=fringeExp, seed=seed % 2**32)

    def run(self, exposure: MaskedImage, fringes: Any, seed: int | None = None) -> Struct | None:
        """Remove fringes from ``exposure``, in place, if its filter is one of ``filters``.

        Parameters
        ----------
        exposure
            Flat-fielded science image (its ``FILTER`` metadata is checked).
        fringes
            Fringe frame (`lsst.images.MaskedImage`), or a list of them.
        seed
            Seed of the random positions (default ``stats.rngSeedOffset``).

        Returns
        -------
        result
            ``solution`` (one amplitude per fringe frame) and ``rms`` (of the fit residual);
            `None` if the filter is not one of ``filters`` (nothing is done).
        """
        if not self.checkFilter(exposure):
            self.log.info("Filter not found in FringeTaskConfig.filters. Skipping fringe correction.")
            return None
        rng = np.random.default_rng(self.config.stats.rngSeedOffset if seed is None else seed)
        frames = list(fringes) if isinstance(fringes, Sequence) else [fringes]
        if self.config.pedestal:
            for fringe in frames:
                self.removePedestal(fringe)
        positions = self.generatePositions(frames[0], rng)
        fluxes = np.column_stack([self.measureExposure(f, positions) for f in frames])
        expFringes = self.measureExposure(exposure, positions)
        solution, rms = self.solve(expFringes, fluxes)
        self.subtract(exposure, frames, solution)
        return Struct(solution=solution, rms=rms)

    def checkFilter(self, exposure: Any) -> bool:
        """Return whether the exposure's physical filter is one of ``filters``.

        Parameters
        ----------
        exposure
            A raw or an ISR image (see `stackclub.pipe.isrFunctions.getPhysicalFilter`).

        Returns
        -------
        needsFringe
            `True` if it should be fringe-subtracted.
        """
        return isrFunctions.checkFilter(exposure, self.config.filters, log=self.log)

    def removePedestal(self, fringe: MaskedImage) -> None:
        """Subtract the fringe frame's own (sigma-clipped) median, in place.

        Parameters
        ----------
        fringe
            The fringe frame.
        """
        from astropy.stats import sigma_clipped_stats

        stats = self.config.stats
        _, pedestal, _ = sigma_clipped_stats(fringe.image.array, sigma=stats.clip, maxiters=stats.iterations)
        self.log.info("Removing fringe pedestal: %f", pedestal)
        fringe.image.array -= np.float32(pedestal)

    def generatePositions(self, exposure: MaskedImage, rng: np.random.Generator) -> np.ndarray:
        """Draw ``num`` random positions, ``large`` pixels or more from the edges.

        Parameters
        ----------
        exposure
            The image (for its shape).
        rng
            Random generator.

        Returns
        -------
        positions
            Array of shape ``(num, 2)``: x and y (array indices).
        """
        height, width = exposure.image.array.shape
        start, num = self.config.large, self.config.num
        return np.column_stack(
            [rng.integers(start, width - start, size=num), rng.integers(start, height - start, size=num)]
        )

    def measureExposure(self, exposure: MaskedImage, positions: np.ndarray) -> np.ndarray:
        """Measure the image's statistic in a ``2 * small`` pixel box at each position.

        Parameters
        ----------
        exposure
            The image to measure.
        positions
            ``(num, 2)`` x and y of the boxes' centres (`generatePositions`).

        Returns
        -------
        fringes
            One value per position; NaN where the box has a ``stats.badMaskPlanes`` pixel.
        """
        half = self.config.small
        size = (2 * half, 2 * half)
        x, y = positions[:, 0] - half, positions[:, 1] - half
        boxes = sliding_window_view(exposure.image.array, size)[y, x].reshape(len(positions), -1)
        statistic = np.median if self.config.stats.stat == "MEDIAN" else np.mean
        values = statistic(boxes, axis=1).astype(np.float64)
        flagged = mask_planes_set(exposure.mask, self.config.stats.badMaskPlanes)
        values[sliding_window_view(flagged, size)[y, x].any(axis=(1, 2))] = np.nan
        return values

    def solve(self, science: np.ndarray, fringes: np.ndarray) -> tuple[np.ndarray, float]:
        """Solve ``science = fringes @ solution + background`` with iterative clipping.

        Parameters
        ----------
        science
            The science image's values at the positions.
        fringes
            ``(num, nFringes)``: each fringe frame's values at the same positions.

        Returns
        -------
        solution
            One amplitude per fringe frame.
        rms
            Robust rms of the residual of the last clipped fit.
        """
        good = np.isfinite(science) & np.all(np.isfinite(fringes), axis=1)
        # Up-front rejection of extreme values (boxes on stars, say), as Rubin's ``select``.
        good &= _select(science, good, self.config.clip)
        for column in fringes.T:
            good &= _select(column, good, self.config.clip)
        design = np.column_stack([fringes, np.ones(len(science))])
        rms = np.nan
        for _ in range(self.config.iterations):
            if not good.any():
                self.log.warning("Unable to solve for fringes: no good positions.")
                return np.zeros(fringes.shape[1]), np.nan
            coefficients, *_ = np.linalg.lstsq(design[good], science[good], rcond=None)
            residual = science - design @ coefficients
            rms = _stdev(residual[good])
            keep = good & (np.abs(residual) <= self.config.clip * rms)
            if keep.sum() == good.sum():
                break
            good = keep
        coefficients, *_ = np.linalg.lstsq(design[good], science[good], rcond=None)
        solution = coefficients[:-1]
        # Rubin's log line, with the numbers at the precision that means something (a learner reads
        # it in a notebook; its last digits would differ between CPUs).
        self.log.info(
            "Fringe solution: %s RMS: %.3f Good: %d/%d",
            np.array2string(solution, precision=3),
            rms,
            good.sum(),
            len(science),
        )
        return solution, float(rms)

    def subtract(self, science: MaskedImage, fringes: list[MaskedImage], solution: np.ndarray) -> None:
        """Subtract each fringe frame times its amplitude (its variance times the amplitude squared adds).

        Parameters
        ----------
        science
            Image to correct, in place.
        fringes
            The fringe frames.
        solution
            One amplitude per frame.

        Raises
        ------
        ValueError
            If there are not as many amplitudes as frames.
        """
        if len(solution) != len(fringes):
            raise ValueError(
                f"Number of fringe frames ({len(fringes)}) != number of scale factors ({len(solution)})."
            )
        for amplitude, fringe in zip(solution, fringes, strict=True):
            if fringe.bbox != science.bbox:
                raise ValueError(f"The fringe frame covers {fringe.bbox}, but the image is {science.bbox}.")
            scale = np.float32(amplitude)
            science.image.array -= fringe.image.array * scale
            science.variance.array += fringe.variance.array * (scale * scale)


def _stdev(values: np.ndarray) -> float:
    """Robust standard deviation: 0.74 times the interquartile range (ip_isr's ``stdev``)."""
    lower, upper = np.percentile(values, (25, 75))
    return float(0.74 * (upper - lower))


def _select(values: np.ndarray, good: np.ndarray, clip: float) -> np.ndarray:
    """Values within ``clip`` robust sigma of the median of the ``good`` ones (ip_isr's ``select``)."""
    if not good.any():
        return good
    lower, median, upper = np.percentile(values[good], (25, 50, 75))
    with np.errstate(invalid="ignore"):
        return np.abs(values - median) < clip * 0.74 * (upper - lower)
