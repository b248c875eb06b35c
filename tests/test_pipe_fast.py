"""The fast paths of calibrateImage's subtasks give the answers of the plain whole-frame code.

Each hand-written routine (blocked, threaded) is compared with the library call or the plain
numpy expression it replaces, on frames whose sizes do not divide evenly into blocks, with one
thread and with several, so that speed work can never change a result unnoticed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

pytest.importorskip("lsst.images")

from lsst.images import Box
from lsst.images.fields import SplineField
from scipy import ndimage

from stackclub.pipe import RepairTask, SubtractBackgroundTask
from stackclub.pipe._parallel import for_each_row_block, num_threads
from stackclub.pipe.detection import gaussianKernel1d, growSquare, smoothWithGaussian
from stackclub.pipe.repair import countConnected, findCosmicRays
from stackclub.pipe.subtractBackground import _nanMedianFilter, renderSpline


@pytest.fixture(params=["1", "2", "3"], ids=lambda n: f"{n}-threads")
def threads(request, monkeypatch):
    monkeypatch.setenv("STACKCLUB_NUM_THREADS", request.param)
    return int(request.param)


# --- stackclub.pipe._parallel


def test_num_threads_from_environment(monkeypatch):
    monkeypatch.setenv("STACKCLUB_NUM_THREADS", "3")
    assert num_threads() == 3
    monkeypatch.delenv("STACKCLUB_NUM_THREADS")
    assert 1 <= num_threads() <= 4
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv("STACKCLUB_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="STACKCLUB_NUM_THREADS must be a whole number >= 1"):
            num_threads()


@pytest.mark.parametrize("block_rows", [None, 1, 7, 64, 1000])
def test_row_blocks_cover_every_row_once_with_their_halo(threads, block_rows):
    n_rows, halo = 517, 3
    seen = np.zeros(n_rows, dtype=int)
    pads = []

    def visit(rows, padded):
        seen[rows] += 1
        pads.append((rows, padded))

    for_each_row_block(visit, n_rows, halo=halo, block_rows=block_rows, min_rows=1)
    assert (seen == 1).all()
    for rows, padded in pads:
        assert padded.start == max(rows.start - halo, 0)
        assert padded.stop == min(rows.stop + halo, n_rows)


def test_row_block_errors_reach_the_caller(threads):
    def fail(rows, padded):
        if rows.start > 0:
            raise RuntimeError(f"block at row {rows.start} failed")

    with pytest.raises(RuntimeError, match="block at row"):
        for_each_row_block(fail, 600, block_rows=100, min_rows=1)
    with pytest.raises(ValueError, match="halo must be >= 0"):
        for_each_row_block(fail, 10, halo=-1)
    with pytest.raises(ValueError, match="block_rows must be >= 1"):
        for_each_row_block(fail, 10, block_rows=0)


# --- detection


@pytest.mark.parametrize("sigma", [0.5, 1.35, 2.7])
@pytest.mark.parametrize("shape", [(1037, 211), (5, 9), (300, 300)])
def test_smoothing_equals_scipy_gaussian_filter(threads, sigma, shape):
    image = np.random.default_rng(1).normal(100, 10, shape).astype(np.float32)
    expected = ndimage.gaussian_filter(image, sigma, mode="constant", truncate=3.0)
    got = smoothWithGaussian(image, sigma, blockRows=64)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_smoothing_kernel_and_bad_sigma():
    kernel = gaussianKernel1d(2.0)
    assert kernel.size == 2 * int(3.0 * 2.0 + 0.5) + 1
    assert math.isclose(kernel.sum(), 1.0) and kernel.argmax() == kernel.size // 2
    with pytest.raises(ValueError, match="sigma must be positive"):
        smoothWithGaussian(np.zeros((4, 4), np.float32), 0.0)


@pytest.mark.parametrize("grow", [0, 1, 4])
def test_grow_square_equals_binary_dilation(grow):
    mask = np.random.default_rng(2).random((203, 157)) > 0.995
    mask[0, 0] = mask[-1, -1] = True  # growing at the frame edges
    expected = ndimage.binary_dilation(mask, structure=np.ones((2 * grow + 1,) * 2, bool)) if grow else mask
    assert np.array_equal(growSquare(mask, grow), expected)
    with pytest.raises(ValueError, match="grow must be >= 0"):
        growSquare(mask, -1)


# --- repair


def _plain_cosmic_ray_test(img, var, psf_sigma, min_sigma=6.0, cond3_fac=2.5):
    """The whole-frame expression findCosmicRays replaces."""
    p = np.pad(img, 1, mode="edge")
    neigh = 0.25 * (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:])
    sigma = np.sqrt(np.maximum(var, 1e-12))
    ratio = math.exp(1.0 / (2.0 * psf_sigma**2))
    sharp = img > cond3_fac * ratio * np.maximum(neigh, 0) + min_sigma * sigma
    return ((img - neigh) > min_sigma * sigma) & sharp


def test_find_cosmic_rays_equals_the_whole_frame_expression(threads):
    rng = np.random.default_rng(3)
    img = rng.normal(0, 5, (701, 333)).astype(np.float32)
    ys, xs = rng.integers(0, 701, 200), rng.integers(0, 333, 200)
    img[ys, xs] += rng.uniform(50, 2000, 200).astype(np.float32)
    img[0, :3] = img[-1, -3:] = 3000.0  # hits on the frame's edges
    var = np.full(img.shape, 25.0, np.float32)
    got = findCosmicRays(img, var, psfSigma=1.5, minSigma=6.0, cond3Fac=2.5)
    assert np.array_equal(got, _plain_cosmic_ray_test(img, var, 1.5))
    assert got.sum() > 100


def test_count_connected_equals_ndimage_label():
    rng = np.random.default_rng(4)
    for density in (0.001, 0.02, 0.3):
        mask = rng.random((120, 97)) < density
        mask[:, -1] |= rng.random(120) < 0.5  # runs at the right edge must not wrap onto the next row
        ys, xs = np.nonzero(mask)
        assert countConnected(ys, xs) == ndimage.label(mask)[1]
    assert countConnected(np.array([], int), np.array([], int)) == 0


def test_repair_is_the_same_with_one_thread_or_several(monkeypatch):
    rng = np.random.default_rng(5)
    base = rng.normal(0, 5, (900, 300)).astype(np.float32)
    base[rng.integers(0, 900, 80), rng.integers(0, 300, 80)] += 800.0
    results = []
    for n in ("1", "2"):
        monkeypatch.setenv("STACKCLUB_NUM_THREADS", n)
        image = base.copy()
        result = RepairTask().run(image, np.full(base.shape, 25.0, np.float32), psfSigma=1.5)
        results.append((image, result))
    (im1, r1), (im2, r2) = results
    assert r1.nCosmicRays == r2.nCosmicRays >= 70
    assert np.array_equal(r1.crMask, r2.crMask) and np.array_equal(im1, im2)
    assert np.abs(im1[r1.crMask]).max() < 50  # replaced by their neighbours' median


# --- background


@pytest.mark.parametrize(
    ("shape", "mesh_shape"), [((1000, 512), (8, 4)), ((300, 200), (2, 2)), ((257, 129), (3, 5))]
)
def test_render_spline_equals_spline_field_render(threads, shape, mesh_shape):
    rng = np.random.default_rng(6)
    bbox = Box.factory[17 : 17 + shape[0], -5 : -5 + shape[1]]
    y = np.linspace(bbox.y.start + 40, bbox.y.stop - 40, mesh_shape[0])
    x = np.linspace(bbox.x.start + 20, bbox.x.stop - 20, mesh_shape[1])
    mesh = rng.normal(1000, 5, mesh_shape)
    expected = SplineField(bbox, mesh, y=y, x=x).render(bbox, dtype=np.float64).array
    got = renderSpline(mesh, y=y, x=x, bbox=bbox, blockRows=100)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-7, atol=0)
    with pytest.raises(ValueError, match="must be"):
        renderSpline(mesh[:1], y=y[:1], x=x, bbox=bbox)


def test_background_subtracted_is_the_saved_field():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:600, 0:400]
    image = (300 + 0.05 * xx + 0.1 * yy + rng.normal(0, 3, yy.shape)).astype(np.float32)
    original = image.copy()
    bbox = Box.from_shape(image.shape)
    result = SubtractBackgroundTask().run(image, bbox=bbox)
    rendered = result.background.render(bbox, dtype=np.float64).array
    np.testing.assert_allclose(original - image, rendered, rtol=1e-6, atol=1e-3)


def test_nan_median_filter_equals_generic_filter():
    rng = np.random.default_rng(8)
    mesh = rng.normal(size=(9, 7))
    mesh[rng.random(mesh.shape) < 0.2] = np.nan
    mesh[0, :] = np.nan  # windows with few finite values
    for size in (2, 3, 5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # All-NaN windows
            expected = ndimage.generic_filter(mesh, np.nanmedian, size=size, mode="nearest")
        np.testing.assert_allclose(_nanMedianFilter(mesh, size), expected, equal_nan=True)
