"""SimCam's Moffat PSF has the FWHM its truth says (issue 18, science fix b)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stackclub.simcam.sky import _render_sources


def _fwhm_along_x(image: np.ndarray, yc: int, xc: float) -> float:
    """Full width at half maximum of the row through the peak, by linear interpolation."""
    row = image[yc]
    half = row.max() / 2
    above = np.flatnonzero(row >= half)
    lo, hi = above[0], above[-1]
    left = lo - 1 + (half - row[lo - 1]) / (row[lo] - row[lo - 1])
    right = hi + (row[hi] - half) / (row[hi] - row[hi + 1])
    return float(right - left)


@pytest.mark.parametrize("profile", ["gaussian", "moffat"])
def test_rendered_psf_fwhm_is_the_seeing_truth(profile: str) -> None:
    sigma = 5.0  # pixels: wide enough that pixelization changes the FWHM by < 0.1 %
    shape = (201, 201)
    image = _render_sources(
        shape,
        np.array([100.0]),
        np.array([100.0]),
        np.array([1e6]),
        np.array([sigma]),
        np.array([sigma]),
        np.array([0.0]),
        profile,
    )
    fwhm = _fwhm_along_x(image, 100, 100.0)
    assert fwhm == pytest.approx(2 * math.sqrt(2 * math.log(2)) * sigma, rel=0.005)
    # All the light is rendered (the Moffat's wings reach further than a Gaussian's).
    assert image.sum() == pytest.approx(1e6, rel=2e-3)
