"""SourceDetectionTask: footprints carry their peaks; thresholds and grow as Rubin's."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("lsst.images")

from scipy import ndimage

from stackclub.pipe import SourceDetectionTask
from stackclub.pipe.detection import growFootprints, smoothingRadius

SIGMA = 2.0


def _stars(positions, fluxes, shape=(80, 120)):
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    image = np.zeros(shape)
    for (x0, y0), flux in zip(positions, fluxes, strict=True):
        image += flux * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * SIGMA**2)) / (2 * math.pi * SIGMA**2)
    return image


def test_a_blend_is_one_footprint_with_two_peaks():
    image = _stars([(50, 40), (58, 40)], [4000.0, 2000.0])
    result = SourceDetectionTask().run(image, np.full(image.shape, 0.01), psfSigma=SIGMA)
    assert len(result.sources) == 1
    source = result.sources[0]
    assert (source["x"], source["y"], source["nPeaks"]) == (50, 40, 2)
    peaks = result.peaks
    assert peaks["parent"].tolist() == [source["id"]] * 2
    assert peaks["x"].tolist() == [50, 58]  # brightest first
    assert peaks["significance"][0] > peaks["significance"][1]
    # The footprint's pixels hold the source id; its box covers both stars.
    assert set(np.unique(result.labels)) == {0, source["id"]}
    assert source["footprint_x0"] < 50 and source["footprint_x1"] > 58


def test_include_threshold_multiplier_keeps_only_significant_footprints():
    rng = np.random.default_rng(3)
    image = _stars([(30, 40), (90, 40)], [2000.0, 150.0]) + rng.normal(0, 1, (80, 120))
    variance = np.ones(image.shape)
    task = SourceDetectionTask()
    both = task.run(image, variance, psfSigma=SIGMA)
    assert sorted(both.sources["x"].tolist()) == [30, 90]
    task.config.includeThresholdMultiplier = 10.0  # peaks above 50 sigma only
    bright = task.run(image, variance, psfSigma=SIGMA)
    assert bright.sources["x"].tolist() == [30]
    assert not bright.detected[40, 90]  # the dropped footprint is not DETECTED
    assert (bright.peaks["parent"] == bright.sources["id"][0]).all()


def test_smoothing_kernel_and_edge_as_rubins():
    # nSigmaForKernel = 7: the full width is 7 sigma rounded to an odd number of pixels.
    assert 2 * smoothingRadius(SIGMA) + 1 == 15
    image = _stars([(60, 40)], [1000.0])
    result = SourceDetectionTask().run(image, np.full(image.shape, 0.01), psfSigma=SIGMA)
    r = smoothingRadius(SIGMA)
    assert result.edge[:r].all() and not result.edge[r:-r, r:-r].any()
    expected = ndimage.gaussian_filter(image.astype(np.float32), SIGMA, mode="constant", radius=r)
    np.testing.assert_allclose(result.smoothed, expected, rtol=1e-5, atol=1e-6)


def test_grow_is_manhattan_or_nearly_a_disc():
    mask = np.zeros((21, 21), dtype=bool)
    mask[10, 10] = True
    yy, xx = np.mgrid[-10:11, -10:11]
    manhattan = growFootprints(mask, 5, isotropic=False)
    assert np.array_equal(manhattan, np.abs(xx) + np.abs(yy) <= 5)
    disc = growFootprints(mask, 5)
    radius = np.hypot(xx, yy)
    assert disc[radius <= 4.5].all() and not disc[radius > 5 * 1.1].any()
    with pytest.raises(ValueError, match="psfSigma"):
        SourceDetectionTask().run(np.zeros((9, 9)), np.ones((9, 9)), psfSigma=0.0)


def test_re_estimate_background_masks_the_footprints():
    from lsst.images import Box

    rng = np.random.default_rng(5)
    image = (_stars([(60, 40)], [5e4], shape=(256, 256)) + 3.0 + rng.normal(0, 1, (256, 256))).astype(
        np.float32
    )
    variance = np.ones(image.shape, np.float32)
    task = SourceDetectionTask()
    assert task.config.reEstimateBackground  # Rubin's default
    result = task.run(image, variance, psfSigma=SIGMA, bbox=Box.from_shape(image.shape))
    assert result.background is not None
    # The 3-electron pedestal is gone, and the star's light was not taken for sky.
    assert abs(float(np.median(image[~result.detected]))) < 0.1
    assert image[~result.detected].mean() == pytest.approx(0.0, abs=0.1)
    task.config.reEstimateBackground = False
    again = task.run(image.copy(), variance, psfSigma=SIGMA, bbox=Box.from_shape(image.shape))
    assert again.background is None
