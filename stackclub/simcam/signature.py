"""The fixed instrument signature of each SimCam detector: what calibrations measure and ISR removes.

`DetectorSignature` holds, in assembled coordinates, a detector's residual bias structure, hot
pixels, bad columns, dark current, flat field (vignetting x pixel response x bad columns), fringe
pattern and defects. It depends only on (seed, detector, geometry), so the science frames
(`stackclub.simcam.sky`) and the calibrations (`stackclub.simcam.calibs`) agree. Pure numpy.
"""

from __future__ import annotations

__all__ = ("DetectorSignature",)

import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .camera import DEFAULT_GEOMETRY, SIMCAM, DetectorGeometry
from .seeds import seeded_rng

if TYPE_CHECKING:
    import astropy.table


# --- detector signature -------------------------------------------------------------------------


@dataclasses.dataclass
class DetectorSignature:
    """The fixed instrument signature of one detector, in assembled coordinates.

    Depends only on (seed, detector, geometry). All arrays are float32 of shape
    (height, width) unless noted.

    Examples
    --------
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY
    >>> sig = DetectorSignature(seed=1, detector_id=0, geometry=SMALL_GEOMETRY)
    >>> sig.flat.shape, round(float(sig.flat.mean()), 6)
    ((256, 256), 1.0)
    """

    seed: int
    detector_id: int
    geometry: DetectorGeometry = DEFAULT_GEOMETRY

    def _rng(self, part: int) -> np.random.Generator:
        return seeded_rng(self.seed, "signature", self.detector_id, part)

    @cached_property
    def bias_structure(self) -> np.ndarray:
        """Residual 2-d bias structure in electrons (what remains after overscan subtraction)."""
        g = self.geometry
        rng = self._rng(1)
        y = np.linspace(0, 1, g.height, dtype=np.float32)[:, None]
        x = np.linspace(0, 1, g.width, dtype=np.float32)[None, :]
        ramp = 6.0 * np.exp(-y / 0.05) + 2.0 * np.sin(2 * np.pi * 3 * x)  # start-of-readout glow, ripple
        noise = rng.standard_normal((g.height, g.width), dtype=np.float32)
        noise += ramp
        return noise

    @cached_property
    def hot_pixels(self) -> np.ndarray:
        """(y, x) of hot pixels, shape (N, 2)."""
        g = self.geometry
        rng = self._rng(2)
        n = max(3, g.width * g.height // 200_000)
        return np.column_stack([rng.integers(0, g.height, n), rng.integers(0, g.width, n)])

    @cached_property
    def bad_columns(self) -> list[tuple[int, int, int]]:
        """(x, y0, y1) of bad column segments (low response)."""
        g = self.geometry
        rng = self._rng(3)
        cols = []
        for _ in range(2):
            x = int(rng.integers(2, g.width - 2))
            y0 = int(rng.integers(0, g.height // 2))
            cols.append((x, y0, min(g.height, y0 + int(rng.integers(g.height // 4, g.height)))))
        return cols

    @cached_property
    def dark_rate(self) -> np.ndarray:
        """Dark current (electrons per second) per pixel, hot pixels included."""
        g = self.geometry
        rng = self._rng(4)
        rate = rng.standard_normal((g.height, g.width), dtype=np.float32)
        rate *= 0.3 * SIMCAM.dark_current
        rate += SIMCAM.dark_current
        np.clip(rate, 0.0, None, out=rate)
        hy, hx = self.hot_pixels.T
        rate[hy, hx] = rng.uniform(20.0, 200.0, len(hy))
        return rate

    @cached_property
    def flat(self) -> np.ndarray:
        """Relative response, normalized to mean 1: vignetting x pixel response x bad columns."""
        g = self.geometry
        rng = self._rng(5)
        cx, cy = SIMCAM.focal_plane_center(self.detector_id, g)
        xx, yy = _pixel_axes(g)
        norm = (3.0 * g.width * SIMCAM.pixel_size_mm) ** 2
        fx2 = (cx + (xx - (g.width - 1) / 2) * SIMCAM.pixel_size_mm) ** 2 / norm
        fy2 = (cy + (yy - (g.height - 1) / 2) * SIMCAM.pixel_size_mm) ** 2 / norm
        flat = rng.standard_normal((g.height, g.width), dtype=np.float32)
        flat *= 0.01
        flat += 1.0
        flat *= 1.0 - 0.25 * (fx2[None, :] + fy2[:, None])
        for x, y0, y1 in self.bad_columns:
            flat[y0:y1, x] *= 0.1
        flat /= flat.mean(dtype=np.float64)
        return flat

    @cached_property
    def fringe(self) -> np.ndarray:
        """Fringe pattern of unit amplitude (the same interference pattern in z and y)."""
        g = self.geometry
        cx, cy = SIMCAM.focal_plane_center(self.detector_id, g)
        xx, yy = _pixel_axes(g)
        fx = ((cx / SIMCAM.pixel_size_mm + xx) / 40.0)[None, :]
        fy = ((cy / SIMCAM.pixel_size_mm + yy) / 55.0)[:, None]
        pattern = np.sin(fx + 0.6 * np.sin(fy / 3.0)) * np.cos(fy + 0.4 * np.sin(fx / 5.0))
        pattern /= np.abs(pattern).max()
        return pattern

    def defects_table(self) -> astropy.table.Table:
        """Defects in Rubin's column names (x0, y0, x_extent, y_extent), assembled coordinates."""
        from astropy.table import Table

        rows = [(x, y0, 1, y1 - y0) for x, y0, y1 in self.bad_columns]
        rows += [(int(x), int(y), 1, 1) for y, x in self.hot_pixels]
        return Table(rows=rows, names=("x0", "y0", "x_extent", "y_extent"), dtype=(np.int32,) * 4)


# --- helpers ------------------------------------------------------------------------------------


def _pixel_axes(g: DetectorGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates along x and y (float32), for separable expressions."""
    return np.arange(g.width, dtype=np.float32), np.arange(g.height, dtype=np.float32)
