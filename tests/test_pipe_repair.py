"""RepairTask: Rubin's config paths (psf_repair.cosmicray.*) and its cosmic-ray conditions."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lsst.images")

from stackclub.pipe import RepairTask
from stackclub.pipe.repair import FindCosmicRaysConfig, TooManyCosmicRaysError, findCosmicRays


def _frame(rng, shape=(200, 300)):
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    image = rng.normal(0, 5, shape)
    stars = [(50.3, 60.7), (150.0, 220.2)]
    for sy, sx in stars:
        image += 5e4 * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 1.8**2)) / (2 * np.pi * 1.8**2)
    return image.astype(np.float32), np.full(shape, 25.0, np.float32), stars


def test_cosmic_rays_are_flagged_and_interpolated_stars_are_not():
    rng = np.random.default_rng(1)
    image, variance, stars = _frame(rng)
    hits = [(20, 30), (120, 100), (180, 280)]
    for y, x in hits:
        image[y, x] += 800.0
    image[100, 150:153] += 400.0  # a three-pixel track
    before = image.copy()
    result = RepairTask().run(image, variance, psfSigma=1.8)
    assert result.nCosmicRays == 4
    assert all(result.crMask[y, x] for y, x in hits) and result.crMask[100, 150:153].all()
    assert np.abs(image[result.crMask]).max() < 30  # replaced by the neighbours' median
    for sy, sx in stars:
        assert not result.crMask[int(sy) - 3 : int(sy) + 4, int(sx) - 3 : int(sx) + 4].any()
    assert np.array_equal(image[~result.crMask], before[~result.crMask])


def test_keep_crs_and_min_dn():
    rng = np.random.default_rng(2)
    image, variance, _ = _frame(rng)
    image[40, 200] += 120.0  # 24 sigma, but fewer than min_DN = 150 counts
    image[60, 250] += 600.0
    before = image.copy()
    task = RepairTask()
    kept = task.run(image, variance, psfSigma=1.8, keepCRs=True)
    assert kept.nCosmicRays == 1 and kept.crMask[60, 250] and not kept.crMask[40, 200]
    assert np.array_equal(image, before)  # only masked
    task.config.cosmicray.min_DN = 50.0
    assert task.run(image.copy(), variance, psfSigma=1.8).nCosmicRays == 2


def test_condition_three_compares_with_the_psf():
    # Condition 3: a pixel is a cosmic ray if its neighbours' mean is below cond3_fac2 times the
    # PSF's neighbour/centre ratio (0.88 along rows for a 2-pixel PSF) times the pixel.  A 1-pixel
    # star (ratio 0.61) is not; a 0.6-pixel one (ratio 0.25 < 0.35 * 0.88) is, and so is the
    # 1-pixel star once cond3_fac2 exceeds 0.61 / 0.88.
    y, x = np.mgrid[-6:7, -6:7]
    variance = np.ones(x.shape, np.float32)
    config = FindCosmicRaysConfig()

    def star(sigma):
        return (5000 * np.exp(-(x**2 + y**2) / (2 * sigma**2))).astype(np.float32)

    assert findCosmicRays(star(1.0), variance, psfSigma=2.0, config=config).nCosmicRays == 0
    assert findCosmicRays(star(0.6), variance, psfSigma=2.0, config=config).nCosmicRays == 1
    config.cond3_fac2 = 0.8
    assert findCosmicRays(star(1.0), variance, psfSigma=2.0, config=config).nCosmicRays == 1


def test_config_paths_and_errors():
    task = RepairTask()
    assert task.config.doCosmicRay and task.config.cosmicray.minSigma == 6.0
    assert (task.config.cosmicray.cond3_fac, task.config.cosmicray.cond3_fac2) == (2.0, 0.35)
    rng = np.random.default_rng(3)
    image, variance, _ = _frame(rng)
    image[10:20, 10:20:2] += 1000.0
    task.config.cosmicray.nCrPixelMax = 3
    with pytest.raises(TooManyCosmicRaysError, match="nCrPixelMax=3"):
        task.run(image, variance, psfSigma=1.8)
    task.config.doCosmicRay = False
    assert task.run(image, variance, psfSigma=1.8).nCosmicRays == 0
