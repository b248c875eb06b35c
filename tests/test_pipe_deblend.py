"""Tests of the deblender (`SourceDeblendTask`) and of measuring its children, on synthetic blends
with known fluxes and positions, and of its place in `CalibrateImageTask`."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("lsst.images")

from astropy.table import Table
from lsst.pex.config import FieldValidationError

from stackclub.pipe import (
    CalibrateImageTask,
    SingleFrameMeasurementTask,
    SourceDeblendTask,
    SourceDetectionTask,
)
from stackclub.pipe.deblend import HeavyFootprint

SIGMA = 1.6
NOISE = 5.0


def _image(stars, *, shape=(80, 100), seed=1):
    """Gaussian stars (x, y, flux) plus white noise of sigma NOISE, background subtracted."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    image = np.zeros(shape)
    for x, y, f in stars:
        image += f * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * SIGMA**2)) / (2 * math.pi * SIGMA**2)
    image += rng.normal(0, NOISE, shape)
    return image.astype(np.float32), np.full(shape, NOISE**2, dtype=np.float32)


def _detect_deblend_measure(image, variance):
    det = SourceDetectionTask().run(image, variance, psfSigma=SIGMA)
    deb = SourceDeblendTask().run(
        image, det.sources, det.peaks, det.labels, psfSigma=SIGMA, smoothed=det.smoothed, noise=det.noise
    )
    cat = (
        SingleFrameMeasurementTask()
        .run(image, variance, deb.sources, psfSigma=SIGMA, heavyFootprints=deb.heavyFootprints)
        .catalog
    )
    for col in ("parent", "deblend_nChild"):
        cat[col] = deb.sources[col]
    return det, deb, cat


def test_blended_pair_gives_two_children_with_true_fluxes_and_centroids():
    truth = [(45.3, 40.6, 60000.0), (52.1, 42.2, 20000.0)]  # 7 px apart, flux ratio 3
    image, variance = _image(truth)
    det, deb, cat = _detect_deblend_measure(image, variance)
    assert len(det.sources) == 1  # detection alone sees one source
    assert deb.nBlends == 1
    parent = cat[cat["parent"] == 0]
    children = cat[cat["parent"] > 0]
    assert list(parent["deblend_nChild"]) == [2]
    assert list(children["parent"]) == [parent["id"][0]] * 2
    assert set(children["id"]) == set(deb.heavyFootprints)
    for x, y, f in truth:
        k = int(np.argmin(np.hypot(children["x"] - x, children["y"] - y)))
        assert children["x"][k] == pytest.approx(x, abs=0.1)
        assert children["y"][k] == pytest.approx(y, abs=0.1)
        assert children["psfFlux_instFlux"][k] == pytest.approx(f, rel=0.03)
        assert children["apFlux_12_0_instFlux"][k] == pytest.approx(f, rel=0.05)
    # The children share the parent's flux: their heavy footprints add up to the parent's pixels.
    total = sum(float(hf.image.sum()) for hf in deb.heavyFootprints.values())
    hf = next(iter(deb.heavyFootprints.values()))
    assert total == pytest.approx(
        float(
            image[hf.y0 : hf.y0 + hf.image.shape[0], hf.x0 : hf.x0 + hf.image.shape[1]][hf.footprint].sum()
        ),
        rel=1e-6,
    )


def test_single_source_is_not_split():
    image, variance = _image([(50.2, 40.7, 80000.0)], seed=2)
    det, deb, cat = _detect_deblend_measure(image, variance)
    assert deb.nBlends == 0 and deb.heavyFootprints == {}
    assert len(cat) == 1
    assert (cat["parent"][0], cat["deblend_nChild"][0]) == (0, 0)
    assert cat["x"][0] == pytest.approx(50.2, abs=0.05)


def test_separate_sources_are_not_deblended_and_faint_wiggles_are_not_peaks():
    # Two stars far apart (separate footprints) and one bright star whose noisy wing must not split.
    image, variance = _image([(20.0, 20.0, 30000.0), (75.0, 55.0, 30000.0), (40.0, 60.0, 2e6)], seed=3)
    _, deb, _ = _detect_deblend_measure(image, variance)
    assert deb.nBlends == 0
    assert np.all(deb.sources["parent"] == 0)


def test_too_many_peaks_skips_the_footprint():
    truth = [(30.0 + 6.5 * i, 40.0, 30000.0) for i in range(4)]
    image, variance = _image(truth, seed=4)
    det = SourceDetectionTask().run(image, variance, psfSigma=SIGMA)
    task = SourceDeblendTask(config=_config(maxNumberOfPeaks=3))
    deb = task.run(
        image, det.sources, det.peaks, det.labels, psfSigma=SIGMA, smoothed=det.smoothed, noise=det.noise
    )
    assert deb.nBlends == 0
    assert list(deb.sources["deblend_skipped"]) == [True]
    assert list(deb.sources["deblend_nPeaks"]) == [4]
    deb = SourceDeblendTask().run(
        image, det.sources, det.peaks, det.labels, psfSigma=SIGMA, smoothed=det.smoothed, noise=det.noise
    )
    assert deb.nBlends == 1 and len(deb.heavyFootprints) == 4


def _config(**kwargs):
    config = SourceDeblendTask.ConfigClass()
    for k, v in kwargs.items():
        setattr(config, k, v)
    return config


def test_config_validation_and_bad_input():
    with pytest.raises(FieldValidationError, match="minPeakSignificance"):
        _config(minPeakSignificance=0.0)
    with pytest.raises(FieldValidationError, match="maxNumberOfPeaks"):
        _config(maxNumberOfPeaks=-1)
    with pytest.raises(FieldValidationError, match="minPeakProminence"):
        _config(minPeakProminence=-1.0)
    image = np.zeros((10, 10))
    peaks = Table({"parent": np.zeros(0, int), "x": np.zeros(0, int), "y": np.zeros(0, int)})
    one = Table({"id": [1], "x": [5], "y": [5], "nPeaks": [1]})
    with pytest.raises(ValueError, match="psfSigma and noise must be positive"):
        SourceDeblendTask().run(
            image, one, peaks, np.zeros((10, 10), int), psfSigma=1.0, smoothed=image, noise=0.0
        )
    none = Table(
        {"id": np.zeros(0, int), "x": np.zeros(0, int), "y": np.zeros(0, int), "nPeaks": np.zeros(0, int)}
    )
    empty = SourceDeblendTask().run(
        image, none, peaks, np.zeros((10, 10), int), psfSigma=1.0, smoothed=image, noise=1.0
    )
    assert len(empty.sources) == 0 and "deblend_nChild" in empty.sources.colnames


def test_heavy_footprint_insert_clips_to_the_stamp():
    hf = HeavyFootprint(x0=8, y0=8, image=np.full((4, 4), 2.0), footprint=np.ones((4, 4), bool))
    stamp = np.zeros((10, 10))
    hf.insert(stamp, 0, 0)
    assert stamp.sum() == pytest.approx(2.0 * 4)  # only the 2 x 2 overlap
    hf.insert(stamp, 100, 100)  # no overlap: nothing happens
    assert stamp.sum() == pytest.approx(8.0)


def test_calibrate_image_has_star_deblend():
    task = CalibrateImageTask()
    assert isinstance(task.star_deblend, SourceDeblendTask)
    names = [name for name in task.getTaskDict() if name.count(".") == 1]  # direct subtasks
    assert names.index("calibrateImage.star_deblend") == names.index("calibrateImage.star_detection") + 1


def test_a_cosmic_ray_next_to_a_star_makes_no_child():
    image, variance = _image([(45.0, 40.0, 60000.0)], seed=5)
    image[40, 54] += 3000.0  # one sharp pixel 9 px away, in the star's footprint
    det = SourceDetectionTask().run(image, variance, psfSigma=SIGMA)
    assert len(det.sources) == 1
    deb = SourceDeblendTask().run(
        image, det.sources, det.peaks, det.labels, psfSigma=SIGMA, smoothed=det.smoothed, noise=det.noise
    )
    assert deb.nBlends == 0
    # Without the sharpness cut the hot pixel would have been split off as a "star".
    loose = SourceDeblendTask(config=_config(maxPeakSharpness=100.0))
    assert (
        loose.run(
            image, det.sources, det.peaks, det.labels, psfSigma=SIGMA, smoothed=det.smoothed, noise=det.noise
        ).nBlends
        == 1
    )
