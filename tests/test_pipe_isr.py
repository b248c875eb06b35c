"""Unit tests of the teaching ISR (stackclub.pipe.isr and subtasks) on synthetic data with known answers."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("lsst.images")

import astropy.units as u
from astro_metadata_translator import ObservationInfo
from astropy.table import Table
from lsst.images import Box, Image, MaskedImage
from lsst.pex.config import FieldValidationError

from stackclub._exceptions import IsrCalibrationMissingError
from stackclub.pipe import FringeTask, IsrTask, OverscanCorrectionTask
from stackclub.pipe._masks import make_mask_schema
from stackclub.pipe.isrFunctions import (
    defectsToBoolArray,
    defectsToIndices,
    interpolateFromMask,
    updateVariance,
)
from stackclub.simcam.camera import SMALL_GEOMETRY, amp_boxes, make_detector, raw_bbox

EXPTIME = 30.0


def _raw(rng, *, sky=400.0, bias_e=None, dark_rate=None, flat=None, row_slope=0.0, star=None, noise=True):
    """A synthetic SimCam raw (small geometry) with known sky (electrons) and optional calibration effects."""
    det = make_detector(0, geometry=SMALL_GEOMETRY)
    rb = raw_bbox(SMALL_GEOMETRY)
    ny, nx = det.bbox.shape
    signal = np.full((ny, nx), sky, dtype=np.float64)
    if star is not None:
        y, x = np.mgrid[0:ny, 0:nx]
        sy, sx, amp = star
        signal += amp * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 2.0**2))
    if flat is not None:
        signal = signal * flat
    if dark_rate is not None:
        signal = signal + dark_rate * EXPTIME
    electrons = rng.poisson(signal).astype(np.float64) if noise else signal.copy()
    if bias_e is not None:
        electrons += bias_e
    raw = np.zeros(rb.shape)
    for b in amp_boxes(det):
        ys, xs = b.raw.slice_within(rb)
        rows = np.arange(rb.shape[0])[:, None] * row_slope
        read = rng.normal(0, b.read_noise / b.gain, raw[ys, xs].shape) if noise else 0.0
        raw[ys, xs] = b.bias_level + rows + read
        dys, dxs = b.data.slice_within(rb)
        ays, axs = b.assembled.slice_within(det.bbox)
        raw[dys, dxs] += electrons[ays, axs] / b.gain
    obs = ObservationInfo(
        exposure_time=EXPTIME * u.s, physical_filter="SimCam-R", instrument="SimCam", exposure_id=42
    )
    raw16 = np.clip(np.round(raw), 0, 65535).astype(np.uint16)
    return SimpleNamespace(image=Image(raw16, bbox=rb), detector=det, obs_info=obs)


def _calib(array):
    return MaskedImage(
        Image(np.asarray(array, dtype=np.float32), bbox=Box.from_shape(array.shape)),
        mask_schema=make_mask_schema(),
    )


def _config(**kwargs):
    config = IsrTask.ConfigClass()
    for name in ("doBias", "doDark", "doFlat", "doFringe", "doDefect"):
        setattr(config, name, False)
    for name, value in kwargs.items():
        setattr(config, name, value)
    return config


# --- overscan -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fit_type", ["MEDIAN", "MEAN", "MEDIAN_PER_ROW", "POLY"])
def test_overscan_constant_level(fit_type):
    rng = np.random.default_rng(3)
    task = OverscanCorrectionTask()
    task.config.fitType = fit_type
    overscan = 1234.0 + rng.normal(0, 2.0, (400, 32))
    overscan[10, 5] = 60000.0  # a cosmic ray in the overscan is clipped away
    value = np.atleast_1d(task.fitOverscan(overscan).overscanValue)
    tol = 0.1 if fit_type in ("MEDIAN", "MEAN", "POLY") else 1.5
    assert np.all(np.abs(value - 1234.0) < tol)


def test_overscan_per_row_and_poly_follow_a_gradient():
    y = np.arange(300, dtype=float)[:, None]
    overscan = 1000.0 + 0.5 * y + np.zeros((300, 20))
    for fit_type in ("MEDIAN_PER_ROW", "POLY"):
        task = OverscanCorrectionTask()
        task.config.fitType = fit_type
        value = task.fitOverscan(overscan).overscanValue
        np.testing.assert_allclose(value, 1000.0 + 0.5 * y[:, 0], atol=1e-6)
    # The parallel overscan is collapsed the other way: one value per column.
    task = OverscanCorrectionTask()
    task.config.fitType = "MEDIAN_PER_ROW"
    np.testing.assert_allclose(
        task.fitOverscan(overscan.T, isTransposed=True).overscanValue, 1000.0 + 0.5 * y[:, 0]
    )


def test_overscan_run_removes_level_per_amp():
    rng = np.random.default_rng(4)
    ccd = _raw(rng, sky=0.0, row_slope=0.2, noise=False)
    raw = ccd.image.array.astype(np.float32)
    task = OverscanCorrectionTask()
    task.config.fitType = "POLY"
    for b, amp in zip(amp_boxes(ccd.detector), ccd.detector.amplifiers, strict=True):
        task.run(raw, amp.assembled_raw_geometry, ccd.image.bbox)
        ys, xs = b.data.slice_within(ccd.image.bbox)
        assert abs(float(np.mean(raw[ys, xs]))) < 0.6  # rounding to integer ADU only


def test_overscan_bad_inputs():
    task = OverscanCorrectionTask()
    with pytest.raises(ValueError, match="Empty overscan"):
        task.fitOverscan(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="floating point"):
        ccd = _raw(np.random.default_rng(0))
        task.run(ccd.image.array, ccd.detector.amplifiers[0].assembled_raw_geometry, ccd.image.bbox)
    config = OverscanCorrectionTask.ConfigClass()
    with pytest.raises(FieldValidationError, match="fitType"):
        config.fitType = "SPLINE_OF_DREAMS"


@pytest.mark.parametrize("fit_type", ["MEDIAN", "MEAN"])
def test_overscan_integer_path_equals_float_path(fit_type):
    """The histogram statistics of integer ADU give exactly what numpy gives on the pixels."""
    rng = np.random.default_rng(12)
    task = OverscanCorrectionTask()
    task.config.fitType = fit_type
    for shape in [(4176, 32), (7, 3), (48, 512)]:
        overscan = np.round(rng.normal(1200, 4.5, shape)).astype(np.uint16)
        overscan.flat[rng.choice(overscan.size, 3, replace=False)] = 60000  # cosmic rays, clipped
        fast, slow = task.fitOverscan(overscan), task.fitOverscan(overscan.astype(np.float64))
        assert fast.overscanValue == slow.overscanValue
        assert fast.overscanSigma == slow.overscanSigma
        assert fast.nRejected == slow.nRejected >= 3
    flat_overscan = np.full((5, 4), 1000, dtype=np.uint16)  # sigma 0: nothing clipped
    assert task.fitOverscan(flat_overscan).overscanValue == 1000.0


def test_defect_indices_and_interpolation_by_indices_match_boolean_forms():
    rng = np.random.default_rng(13)
    table = Table({"x0": [0, 5, 30], "y0": [2, 0, 38], "x_extent": [3, 1, 9], "y_extent": [2, 40, 9]})
    bad = defectsToBoolArray(table, (40, 32))
    indices = defectsToIndices(table, (40, 32))
    np.testing.assert_array_equal(indices, np.flatnonzero(bad))
    image = rng.normal(100, 5, (40, 32))
    by_mask, by_index = image.copy(), image.copy()
    assert interpolateFromMask(by_mask, bad) == interpolateFromMask(by_index, indices) == bad.sum()
    np.testing.assert_array_equal(by_mask, by_index)
    assert interpolateFromMask(by_index, np.zeros(0, dtype=np.intp)) == 0


# --- fringe and isrFunctions --------------------------------------------------------------------


def test_fringe_amplitude_and_subtraction():
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:200, 0:200]
    fringe = np.sin(x / 7.0) * np.cos(y / 11.0)
    image = 300.0 + 12.5 * fringe + rng.normal(0, 2.0, fringe.shape)
    result = FringeTask().run(image, fringe)
    assert result.amplitude == pytest.approx(12.5, abs=0.1)
    assert np.std(image - 300.0) < 2.1
    with pytest.raises(ValueError, match="shape"):
        FringeTask().run(image, fringe[:10])
    task = FringeTask()
    task.config.filters = ["SimCam-Z"]
    assert task.checkFilter("SimCam-Z") and not task.checkFilter("SimCam-R")


def test_isr_functions_known_answers():
    image = np.array([[1.0, 50.0, 50.0, 7.0, 8.0], [2.0, 2.0, 2.0, 2.0, 99.0]])
    bad = np.array([[False, True, True, False, False], [False, False, False, False, True]])
    assert interpolateFromMask(image, bad) == 3
    np.testing.assert_allclose(image, [[1.0, 3.0, 5.0, 7.0, 8.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    assert updateVariance(np.array([-5.0, 16.0]), 3.0).tolist() == [9.0, 25.0]
    with pytest.raises(ValueError, match="readNoise"):
        updateVariance(np.zeros(2), -1.0)
    table = Table({"x0": [2, 9], "y0": [1, 9], "x_extent": [1, 5], "y_extent": [3, 5]})
    mask = defectsToBoolArray(table, (10, 10))
    assert int(mask.sum()) == 3 + 1  # the second box is clipped to the image
    with pytest.raises(ValueError, match="x_extent"):
        defectsToBoolArray(Table({"x0": [1]}), (4, 4))


# --- IsrTask ------------------------------------------------------------------------------------


def test_isr_noise_matches_expectation():
    rng = np.random.default_rng(6)
    sky = 400.0
    ccd = _raw(rng, sky=sky)
    result = IsrTask(config=_config()).run(ccd)
    out = result.outputExposure
    assert out.unit == u.electron
    assert out.bbox == ccd.detector.bbox
    expected = np.sqrt(
        sky + np.mean(np.array([4.5, 4.8, 4.3, 4.6]) ** 2) + np.mean([3.1, 3.28, 3.05, 3.21]) ** 2 / 12
    )
    assert np.mean(out.image.array) == pytest.approx(sky, abs=1.0)
    assert np.std(out.image.array) / expected == pytest.approx(1.0, abs=0.03)
    assert np.median(out.variance.array) == pytest.approx(sky + 4.6**2, rel=0.05)
    assert len(result.overscans) == 4


def test_isr_applies_bias_dark_flat_and_masks():
    rng = np.random.default_rng(7)
    shape = SMALL_GEOMETRY.height, SMALL_GEOMETRY.width
    bias = rng.normal(0, 3.0, shape)
    dark = np.full(shape, 0.5)
    flat = 1.0 + 0.1 * np.linspace(-1, 1, shape[1])[None, :] * np.ones(shape)
    defects = Table({"x0": [100], "y0": [0], "x_extent": [1], "y_extent": [256]})
    ccd = _raw(rng, sky=1000.0, bias_e=bias, dark_rate=dark, flat=flat, star=(60, 200, 400000.0))
    config = _config(doBias=True, doDark=True, doFlat=True, doDefect=True)
    out = (
        IsrTask(config=config)
        .run(ccd, bias=_calib(bias), dark=_calib(dark), flat=_calib(flat), defects=defects)
        .outputExposure
    )
    away = out.image.array[150:, :90]
    assert np.median(away) == pytest.approx(1000.0, rel=0.01)
    sat = out.mask.get("SATURATED")
    assert sat[60, 200] and not sat[200, 40]
    assert out.mask.get("BAD")[:, 100].all() and out.mask.get("INTERPOLATED")[:, 100].all()
    assert np.median(out.image.array[150:, 100]) == pytest.approx(1000.0, rel=0.02)


def test_isr_missing_calibration_names_dataset_and_data_id():
    ccd = _raw(np.random.default_rng(8))
    with pytest.raises(
        IsrCalibrationMissingError, match=r"'bias'.*exposure: 42.*detector: 0.*isr:doBias=False"
    ):
        IsrTask(config=_config(doBias=True)).run(ccd)
    with pytest.raises(ValueError, match="another detector geometry"):
        IsrTask(config=_config(doBias=True)).run(ccd, bias=_calib(np.zeros((10, 10))))


def test_isr_config_validation_and_connections():
    config = _config(doBias=True, doApplyGains=False)
    with pytest.raises(FieldValidationError, match="doApplyGains"):
        config.validate()
    config = _config(maskListToInterpolate=["SAT"])
    with pytest.raises(FieldValidationError, match="maskListToInterpolate"):
        config.validate()
    config = IsrTask.ConfigClass()
    config.doFringe = False
    connections = config.ConnectionsClass(config=config)
    assert "fringes" not in connections.prerequisiteInputs
    assert {"bias", "dark", "flat", "defects"} <= set(connections.prerequisiteInputs)
    assert connections.outputExposure.name == "post_isr_image"


# --- the fast pixel pass against a textbook reference ---------------------------------------------


def _clipped(values, fit_type, nsigma=3.0):
    """Textbook overscan level: median (or mean) after rejecting pixels beyond nsigma robust sigma."""
    values = values.astype(np.float64).ravel()
    med = np.median(values)
    sigma = 1.4826 * np.median(np.abs(values - med))
    kept = values[np.abs(values - med) <= nsigma * sigma] if sigma > 0 else values
    return np.median(kept) if fit_type == "MEDIAN" else np.mean(kept)


def _reference_isr(ccd, bias, dark, flat, defects, fit_type, grow):
    """Whole-frame, one-step-at-a-time ISR with the textbook formulas (what IsrTask must equal)."""
    det, rb = ccd.detector, ccd.image.bbox
    raw = ccd.image.array.astype(np.float32)
    shape = det.bbox.shape
    image = np.zeros(shape, dtype=np.float32)
    read_noise2 = np.zeros(shape, dtype=np.float32)
    saturated = np.zeros(shape, dtype=bool)
    suspect = np.zeros(shape, dtype=bool)
    for amp in det.amplifiers:
        geom, calibs = amp.assembled_raw_geometry, amp.nominal_calibrations
        seg_ys, seg_xs = geom.bbox.slice_within(rb)
        d_ys, d_xs = geom.data_bbox.slice_within(rb)
        os_ys, os_xs = geom.serial_overscan_bbox.slice_within(rb)
        po_ys, _ = geom.parallel_overscan_bbox.slice_within(rb)
        a_ys, a_xs = amp.bbox.slice_within(det.bbox)
        segment = raw.copy()
        segment[seg_ys, seg_xs] -= np.float32(_clipped(raw[os_ys, os_xs], fit_type))
        segment[seg_ys, d_xs] -= np.float32(_clipped(segment[po_ys, d_xs], fit_type))
        image[a_ys, a_xs] = segment[d_ys, d_xs] * np.float32(calibs.gain)
        read_noise2[a_ys, a_xs] = np.float32(calibs.read_noise**2)
        saturated[a_ys, a_xs] = raw[d_ys, d_xs] >= calibs.saturation
        suspect[a_ys, a_xs] = raw[d_ys, d_xs] >= calibs.suspect_level
    image -= bias
    variance = np.maximum(image, 0) + read_noise2
    image -= dark * np.float32(EXPTIME)
    bad_flat = ~(flat > 0)
    flat = np.where(bad_flat, np.float32(1), flat)
    image /= flat
    variance /= flat * flat
    nonfinite = ~np.isfinite(image)
    image[nonfinite] = 0.0
    bad = defectsToBoolArray(defects, shape) | bad_flat | nonfinite
    if grow:
        from scipy.ndimage import binary_dilation

        saturated = binary_dilation(saturated, structure=np.ones((2 * grow + 1, 2 * grow + 1), dtype=bool))
    interpolate = saturated | bad
    cols = np.arange(shape[1])
    for y in np.flatnonzero(interpolate.any(axis=1)):
        good = ~interpolate[y]
        if good.any():  # linear along the row; past the last good pixel, its value
            image[y, ~good] = np.interp(cols[~good], cols[good], image[y, good])
    planes = {"SATURATED": saturated, "SUSPECT": suspect, "BAD": bad, "INTERPOLATED": interpolate}
    return image, variance, planes


@pytest.mark.parametrize(("fit_type", "grow"), [("MEDIAN", 1), ("MEAN", 2)])
def test_isr_equals_textbook_reference(fit_type, grow):
    """The blocked, threaded pixel pass gives the whole-frame textbook answer to float32 rounding."""
    rng = np.random.default_rng(11)
    shape = SMALL_GEOMETRY.height, SMALL_GEOMETRY.width
    bias = rng.normal(0, 3.0, shape).astype(np.float32)
    bias[7, 3] = np.nan  # a non-finite result: BAD, set to 0, interpolated
    dark = np.full(shape, 0.5, dtype=np.float32)
    flat = (1.0 + 0.1 * rng.uniform(-1, 1, shape)).astype(np.float32)
    flat[200, 250] = 0.0  # a bad flat pixel: BAD, divided by 1
    defects = Table({"x0": [100, 0], "y0": [0, 30], "x_extent": [1, 3], "y_extent": [256, 2]})
    ccd = _raw(rng, sky=800.0, bias_e=np.nan_to_num(bias), dark_rate=0.5, star=(60, 200, 400000.0))
    config = _config(doBias=True, doDark=True, doFlat=True, doDefect=True, growSaturationFootprintSize=grow)
    config.overscan.fitType = fit_type
    result = IsrTask(config=config).run(
        ccd, bias=_calib(bias), dark=_calib(dark), flat=_calib(flat), defects=defects
    )
    image, variance, planes = _reference_isr(ccd, bias, dark, flat, defects, fit_type, grow)
    out = result.outputExposure
    assert planes["SATURATED"].sum() > 9 and planes["SUSPECT"].sum() > 0 and planes["BAD"][7, 3]
    for name, expected in planes.items():
        np.testing.assert_array_equal(out.mask.get(name), expected, err_msg=name)
    np.testing.assert_allclose(out.image.array, image, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(out.variance.array, variance, rtol=1e-6, atol=1e-4)
    assert [o.residualSigma for o in result.overscans] == pytest.approx(
        [o.serialOverscan.overscanSigma for o in result.overscans]
    )
