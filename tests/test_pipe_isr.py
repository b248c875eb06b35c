"""Tests of the teaching ISR (stackclub.pipe.isr, isrFunctions and subtasks) against known answers.

Synthetic raws with a known truth (`_raw`), and the simulator's own raws and truth, checked for
behaviour and values: each step's formula, Rubin's step order, the saturation convention shared
by camera, simulator and ISR, and the dark scaled by the dark time.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("lsst.images")

import astropy.units as u
from astropy.table import Table
from lsst.images import Box, Image, Mask, MaskedImage
from lsst.pex.config import FieldValidationError

from stackclub._exceptions import IsrCalibrationMissingError
from stackclub.pipe import FringeTask, IsrTask, OverscanCorrectionTask, isrFunctions
from stackclub.pipe._masks import make_mask_schema
from stackclub.simcam.camera import SIMCAM, SMALL_GEOMETRY, amp_boxes, make_detector, raw_bbox
from stackclub.simcam.raw import RawExposure, make_obs_info

EXPTIME = 30.0
DARKTIME = 32.0


def _raw(
    rng,
    *,
    sky=400.0,
    bias_adu=None,
    dark_rate=None,
    flat=None,
    row_slope=0.0,
    stars=(),
    noise=True,
    dark_time=DARKTIME,
    physical_filter="SimCam-R",
):
    """A synthetic SimCam raw (small geometry) with known sky (electrons) and calibration effects.

    ``stars`` are ``(y, x, peak electrons)`` (Gaussian, sigma 2); ``dark_rate`` (electrons per
    second) accumulates over ``dark_time``; ``bias_adu`` is the bias structure (ADU).  Each
    amplifier saturates at its saturation level, bias included, as SimCam's readout does.
    """
    det = make_detector(0, geometry=SMALL_GEOMETRY)
    rb = raw_bbox(SMALL_GEOMETRY)
    ny, nx = det.bbox.shape
    signal = np.full((ny, nx), sky, dtype=np.float64)
    y, x = np.mgrid[0:ny, 0:nx]
    for sy, sx, peak in stars:
        signal += peak * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 2.0**2))
    if flat is not None:
        signal = signal * flat
    if dark_rate is not None:
        signal = signal + dark_rate * dark_time
    electrons = rng.poisson(signal).astype(np.float64) if noise else signal.copy()
    raw = np.zeros(rb.shape)
    for b in amp_boxes(det):
        ys, xs = b.raw.slice_within(rb)
        rows = np.arange(rb.shape[0])[:, None] * row_slope
        read = rng.normal(0, b.read_noise / b.gain, raw[ys, xs].shape) if noise else 0.0
        raw[ys, xs] = b.bias_level + rows + read
        dys, dxs = b.data.slice_within(rb)
        ays, axs = b.assembled.slice_within(det.bbox)
        raw[dys, dxs] += electrons[ays, axs] / b.gain
        if bias_adu is not None:
            raw[dys, dxs] += bias_adu[ays, axs]
        raw[ys, xs] = np.minimum(np.round(raw[ys, xs]), b.saturation)
    obs = make_obs_info(
        exposure_id=2026031500042,
        detector_id=0,
        physical_filter=physical_filter,
        exposure_time=EXPTIME,
        dark_time=dark_time,
        datetime_begin="2026-03-16T03:00:00",
        ra=150.0,
        dec=2.0,
        geometry=SMALL_GEOMETRY,
    )
    return RawExposure(Image(raw.astype(np.uint16), bbox=rb), det, obs)


def _calib(array, unit=None, metadata=None):
    return MaskedImage(
        Image(np.asarray(array, dtype=np.float32), bbox=Box.from_shape(array.shape), unit=unit),
        mask_schema=make_mask_schema(),
        metadata=metadata,
    )


def _gain_map():
    det = make_detector(0, geometry=SMALL_GEOMETRY)
    gain = np.empty(det.bbox.shape)
    for b in amp_boxes(det):
        gain[b.assembled.slice_within(det.bbox)] = b.gain
    return gain


def _config(**kwargs):
    config = IsrTask.ConfigClass()
    for name in ("doBias", "doDark", "doFlat", "doFringe", "doDefect"):
        setattr(config, name, False)
    for name, value in kwargs.items():
        setattr(config, name, value)
    return config


def _masked(array, planes=("BAD", "SATURATED", "INTERPOLATED")):
    from lsst.images import MaskPlane, MaskSchema

    schema = MaskSchema([MaskPlane(name, "") for name in planes])
    return MaskedImage(Image(np.asarray(array, dtype=np.float32)), mask_schema=schema)


# --- overscan -----------------------------------------------------------------------------------


def _overscan_image(array):
    return MaskedImage(Image(np.asarray(array, dtype=np.float32)), mask_schema=make_mask_schema())


@pytest.mark.parametrize(
    "fit_type",
    [
        "MEDIAN",
        "MEAN",
        "MEANCLIP",
        "MEDIAN_PER_ROW",
        "MEAN_PER_ROW",
        "POLY",
        "CHEB",
        "LEG",
        "NATURAL_SPLINE",
        "CUBIC_SPLINE",
        "AKIMA_SPLINE",
    ],
)
def test_overscan_fit_types_recover_a_constant_level(fit_type):
    rng = np.random.default_rng(3)
    task = OverscanCorrectionTask()
    task.config.fitType = fit_type
    task.config.order = 3
    overscan = _overscan_image(1234.0 + rng.normal(0, 2.0, (400, 32)))
    fit = task.fitOverscan(overscan)
    value = np.atleast_1d(fit.overscanValue)
    assert value.shape == ((1,) if fit_type in ("MEDIAN", "MEAN", "MEANCLIP") else (400,))
    tol = 2.0 if fit_type.endswith("PER_ROW") else 0.15  # per row: 32 pixels of sigma 2 each
    assert np.all(np.abs(value - 1234.0) < tol)
    assert fit.overscanMedian == pytest.approx(1234.0, abs=0.2)


def test_overscan_masked_and_wild_pixels_are_left_out():
    task = OverscanCorrectionTask()
    overscan = _overscan_image(np.full((50, 8), 1000.0))
    overscan.image.array[3, 2] = 60000.0  # a cosmic ray: over maxDeviation, so BAD
    overscan.image.array[7, :] = 1500.0
    overscan.mask.set("SATURATED", np.isin(np.arange(50), [7])[:, None] & np.ones((1, 8), dtype=bool))
    task.config.fitType = "MEAN"
    assert task.fitOverscan(overscan).overscanValue == pytest.approx(1000.0 + 59000.0 / 392)
    # correctOverscan flags the wild pixel first (what run() calls); then MEAN ignores it.
    det = make_detector(0, geometry=SMALL_GEOMETRY)
    amp = det.amplifiers[0]
    frame = _overscan_image(np.full(raw_bbox(SMALL_GEOMETRY).shape, 1000.0))
    frame.image.array[5, amp.assembled_raw_geometry.serial_overscan_bbox.x.start] = 60000.0
    result = task.run(frame, amp)
    assert result.overscanMean == 1000.0 and result.residualMedian == 0.0
    assert frame[amp.assembled_raw_geometry.serial_overscan_bbox].mask.get("BAD").sum() == 1


def test_overscan_vector_fits_follow_a_gradient_along_rows_or_columns():
    y = np.arange(300, dtype=float)[:, None]
    overscan = _overscan_image(1000.0 + 0.5 * y + np.zeros((300, 20)))
    for fit_type in ("MEDIAN_PER_ROW", "MEAN_PER_ROW", "POLY", "CHEB", "LEG"):
        task = OverscanCorrectionTask()
        task.config.fitType = fit_type
        value = task.fitOverscan(overscan).overscanValue
        np.testing.assert_allclose(value, 1000.0 + 0.5 * y[:, 0], atol=1e-3, err_msg=fit_type)
    task = OverscanCorrectionTask()
    task.config.fitType = "MEDIAN_PER_ROW"
    transposed = _overscan_image(overscan.image.array.T)
    np.testing.assert_allclose(
        task.fitOverscan(transposed, isTransposed=True).overscanValue, 1000.0 + 0.5 * y[:, 0]
    )


def test_overscan_run_removes_level_per_amp_and_reports_statistics():
    rng = np.random.default_rng(4)
    ccd = _raw(rng, sky=0.0, row_slope=0.2, noise=False)
    task = OverscanCorrectionTask()
    task.config.fitType = "POLY"
    task.config.doParallelOverscan = True
    frame = IsrTask().convertIntToFloat(ccd)
    for b, amp in zip(amp_boxes(ccd.detector), ccd.detector.amplifiers, strict=True):
        result = task.run(frame, amp)
        assert abs(float(np.mean(frame[b.data].image.array))) < 0.6  # rounding to integer ADU only
        assert len(result.overscanMean) == 2 and result.parallelOverscanFit is not None
        # The serial fit covers the parallel overscan rows too: rows 0 .. 263 of the raw.
        rows = raw_bbox(SMALL_GEOMETRY).y.stop
        assert result.overscanMean[0] == pytest.approx(b.bias_level + 0.2 * (rows - 1) / 2, abs=0.01)


def test_overscan_trim_and_bad_config():
    # "Leading" overscan columns are those next to the data: on the left of amplifier 0's
    # serial overscan, on the right of amplifier 1's (it reads out the other way).
    left, right = make_detector(0, geometry=SMALL_GEOMETRY).amplifiers[:2]
    for amp, (start, stop) in ((left, (2, -1)), (right, (1, -2))):
        box = amp.assembled_raw_geometry.serial_overscan_bbox
        trimmed = OverscanCorrectionTask.trimOverscan(amp, box, skipLeading=2, skipTrailing=1)
        assert (trimmed.x.start, trimmed.x.stop) == (box.x.start + start, box.x.stop + stop)
        assert trimmed.y == box.y
    assert (
        right.assembled_raw_geometry.data_bbox.x.start
        >= right.assembled_raw_geometry.serial_overscan_bbox.x.stop
    )
    config = OverscanCorrectionTask.ConfigClass()
    with pytest.raises(FieldValidationError, match="fitType"):
        config.fitType = "SPLINE_OF_DREAMS"


# --- isrFunctions ---------------------------------------------------------------------------------


def test_threshold_mask_flags_at_and_above_the_level_and_grows_manhattan():
    image = _masked([[53999.0, 54000.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert isrFunctions.makeThresholdMask(image, 54000.0, growFootprints=0) == 1
    assert image.mask.get("SATURATED").astype(int).tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    isrFunctions.growMasks(image.mask, radius=1, maskNameList=["SATURATED"], maskValue="SATURATED")
    assert image.mask.get("SATURATED").astype(int).tolist() == [[1, 1, 1], [0, 1, 0], [0, 0, 0]]
    assert isrFunctions.makeThresholdMask(image, float("nan")) == 0


@pytest.mark.parametrize(("width", "extra"), [(5, 0), (6, 1), (7, 1), (8, 3), (9, 3), (10, 4), (14, 4)])
def test_widen_saturation_trails_by_run_width(width, extra):
    mask = Mask(schema=make_mask_schema(), bbox=Box.from_shape((2, 40)))
    run = np.zeros((2, 40), dtype=bool)
    run[1, 12 : 12 + width] = True
    mask.set("SATURATED", run)
    isrFunctions.widenSaturationTrails(mask)
    expected = np.zeros((2, 40), dtype=bool)
    expected[1, 12 - extra : 12 + width + extra] = True
    np.testing.assert_array_equal(mask.get("SATURATED"), expected)


def test_bias_variance_dark_flat_formulas():
    image = _masked([[100.0, 250.0]])
    isrFunctions.biasCorrection(image, _masked([[4.0, -2.0]]))
    assert image.image.array.tolist() == [[96.0, 252.0]]
    isrFunctions.updateVariance(image, gain=2.0, readNoise=3.0)  # image / gain + (readNoise / gain)**2
    np.testing.assert_allclose(image.variance.array, [[48.0 + 2.25, 126.0 + 2.25]])
    dark = _masked([[0.5, 1.0]])
    dark.variance.array[:] = 0.01
    isrFunctions.darkCorrection(image, dark, expScale=64.0, darkScale=2.0)  # scaled by 64 / 2
    np.testing.assert_allclose(image.image.array, [[80.0, 220.0]])
    np.testing.assert_allclose(image.variance.array, [[50.25 + 10.24, 128.25 + 10.24]])
    flat = _masked([[0.8, 1.1]])
    flat.variance.array[:] = 0.0
    isrFunctions.flatCorrection(image, flat, scalingType="USER", userScale=1.0)
    np.testing.assert_allclose(image.image.array, [[100.0, 200.0]])
    np.testing.assert_allclose(image.variance.array, [[60.49 / 0.64, 138.49 / 1.21]], rtol=1e-6)
    image = _masked([[10.0, 10.0]])
    isrFunctions.flatCorrection(image, _masked([[2.0, 4.0]]), scalingType="MEAN")  # flat / 3
    np.testing.assert_allclose(image.image.array, [[15.0, 7.5]])
    with pytest.raises(ValueError, match="scalingType"):
        isrFunctions.flatCorrection(image, _masked([[2.0, 4.0]]), scalingType="MODE")
    with pytest.raises(ValueError, match="another detector geometry"):
        isrFunctions.biasCorrection(image, _masked([[1.0]]))


def test_interpolate_from_mask_bridges_rows_and_flags_interpolated():
    image = _masked([[1.0, 50.0, 50.0, 7.0, 8.0], [2.0, 2.0, 2.0, 2.0, 99.0], [5.0, 5.0, 5.0, 5.0, 5.0]])
    image.mask.set("BAD", np.array([[0, 1, 1, 0, 0], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1]], dtype=bool))
    assert isrFunctions.interpolateFromMask(image, maskNameList=["BAD"]) == 3 + 5
    np.testing.assert_allclose(image.image.array[:2], [[1.0, 3.0, 5.0, 7.0, 8.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    assert np.all(image.image.array[2] == np.median([1.0, 7.0, 8.0, 2.0, 2.0, 2.0, 2.0]))  # no good pixel
    assert image.mask.get("INTERPOLATED").sum() == 8
    # SATURATED is grown by growSaturatedFootprints before interpolating.
    image = _masked(np.arange(25.0).reshape(5, 5))
    image.mask.set("SATURATED", np.pad(np.ones((1, 1), dtype=bool), 2))
    assert isrFunctions.interpolateFromMask(image, growSaturatedFootprints=1) == 5


def test_mask_nans_defects_and_gains():
    image = _masked([[1.0, np.nan], [np.inf, 4.0]])
    assert isrFunctions.maskNans(image) == 2 and image.mask.get("BAD").tolist() == [
        [False, True],
        [True, False],
    ]
    table = Table({"x0": [2, 9], "y0": [1, 9], "x_extent": [1, 5], "y_extent": [3, 5]})
    assert int(isrFunctions.defectsToBoolArray(table, (10, 10)).sum()) == 3 + 1  # the second box is clipped
    assert (
        int(isrFunctions.defectsToBoolArray(table, (10, 10), origin=(1, 2)).sum()) == 3 + 2 * 3
    )  # (y0, x0) = (1, 2)
    with pytest.raises(ValueError, match="x_extent"):
        isrFunctions.defectsToBoolArray(Table({"x0": [1]}), (4, 4))
    det = make_detector(0, geometry=SMALL_GEOMETRY)
    image = MaskedImage(Image(10.0, bbox=det.bbox, unit=u.adu), mask_schema=make_mask_schema())
    out = isrFunctions.applyGains(image, det)
    assert out.unit == u.electron and out.variance.unit == u.electron**2
    np.testing.assert_allclose(out.image.array, 10.0 * _gain_map(), rtol=1e-6)
    np.testing.assert_allclose(out.variance.array, _gain_map() ** 2, rtol=1e-6)
    image = MaskedImage(Image(10.0, bbox=det.bbox, unit=u.adu), mask_schema=make_mask_schema())
    normalized = isrFunctions.applyGains(image, det, normalizeGains=True)
    assert np.ptp(normalized.image.array) < 1e-4


# --- fringe ---------------------------------------------------------------------------------------


def _fringe_frames(rng, amplitude, shape=(300, 300)):
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    pattern = (np.sin(x / 25.0) * np.cos(y / 31.0)).astype(np.float32)
    sky = 300.0 + 0.02 * x + amplitude * pattern + rng.normal(0, 2.0, shape)
    science = MaskedImage(
        Image(sky.astype(np.float32)), mask_schema=make_mask_schema(), metadata={"FILTER": "SimCam-Z"}
    )
    return science, MaskedImage(Image(pattern), mask_schema=make_mask_schema())


def test_fringe_amplitude_and_subtraction():
    rng = np.random.default_rng(5)
    science, fringe = _fringe_frames(rng, 12.5)
    task = FringeTask()
    task.config.filters = ["SimCam-Z", "SimCam-Y"]
    result = task.run(science, fringe, seed=3)
    assert result.solution[0] == pytest.approx(12.5, abs=0.1)
    assert result.rms > 0
    residual = science.image.array - 300.0 - 0.02 * np.arange(300)[None, :]
    assert np.std(residual) < 2.1
    # Two fringe frames: one amplitude each.
    science, fringe = _fringe_frames(rng, 4.0)
    half = MaskedImage(Image(fringe.image.array / 2), mask_schema=make_mask_schema())
    other = MaskedImage(Image(np.roll(fringe.image.array, 40, axis=1)), mask_schema=make_mask_schema())
    science.image.array += 3.0 * other.image.array
    solution = task.run(science, [half, other], seed=3).solution
    np.testing.assert_allclose(solution, [8.0, 3.0], atol=0.1)


def test_fringe_filters_seed_and_saturated_boxes():
    task = FringeTask()
    assert not task.checkFilter(_raw(np.random.default_rng(0), physical_filter="SimCam-Z"))  # filters=[]
    task.config.filters = ["SimCam-Z"]
    assert task.checkFilter(_raw(np.random.default_rng(0), physical_filter="SimCam-Z"))
    science, fringe = _fringe_frames(np.random.default_rng(6), 5.0)
    science.metadata["FILTER"] = "SimCam-R"
    assert task.run(science, fringe) is None  # not a fringing filter: nothing done
    assert task.loadFringes(fringe, expId=7).seed == 7
    task.config.stats.rngSeedOffset = 2**32 - 1
    assert task.loadFringes(fringe, expId=7).seed == 6
    science.mask.set("SATURATED", np.ones(science.bbox.shape, dtype=bool))
    positions = task.generatePositions(science, np.random.default_rng(0))
    assert np.all(np.isnan(task.measureExposure(science, positions)))
    assert positions.min() >= task.config.large and positions[:, 0].max() < 300 - task.config.large


# --- IsrTask: step order, switches and errors -------------------------------------------------------


def test_isr_steps_run_in_rubins_order(caplog):
    rng = np.random.default_rng(9)
    shape = SMALL_GEOMETRY.height, SMALL_GEOMETRY.width
    ccd = _raw(rng, physical_filter="SimCam-Z")
    fringe = _calib(np.zeros(shape))
    calibs = {
        "bias": _calib(np.zeros(shape), u.adu),
        "dark": _calib(np.zeros(shape), u.adu / u.s, {"DARKTIME": 1.0}),
        "flat": _calib(np.ones(shape)),
        "defects": Table({"x0": [3], "y0": [0], "x_extent": [1], "y_extent": [10]}),
        "fringes": IsrTask().fringe.loadFringes(fringe, expId=1),
    }
    with caplog.at_level(logging.INFO, logger="stackclub.isr"):
        IsrTask().run(ccd, **calibs)
    steps = [r.getMessage() for r in caplog.records if r.name == "stackclub.isr"]
    assert steps == [
        "Converting exposure to floating point values.",
        "Assembling CCD from amplifiers.",
        "Applying bias correction.",
        "Masking defects.",
        "Masking non-finite (NAN, inf) value pixels.",
        "Widening saturation trails.",
        "Applying dark correction.",
        "Applying flat correction.",
        "Applying gain correction.",
        "Applying fringe correction after flat.",
        "Interpolating masked pixels.",
    ]


def test_uses_of_do_fringe_lands_on_the_fringe_correction():
    import inspect

    from stackclub import uses_of
    from stackclub.pipe import isr

    lines, start = inspect.getsourcelines(isr)
    applying = []
    for use in uses_of(IsrTask, "doFringe"):
        following = "".join(lines[use.line : use.line + 3])
        if "self.fringe.run(" in following:
            applying.append(use.code)
    assert applying == [
        "if self.config.doFringe and not self.config.fringeAfterFlat:",
        "if self.config.doFringe and self.config.fringeAfterFlat:",
    ]


def test_isr_missing_calibration_names_dataset_and_data_id():
    ccd = _raw(np.random.default_rng(8))
    with pytest.raises(
        IsrCalibrationMissingError, match=r"'bias'.*exposure: 2026031500042.*isr:doBias=False"
    ):
        IsrTask(config=_config(doBias=True)).run(ccd)
    with pytest.raises(IsrCalibrationMissingError, match=r"'defects'.*isr:doDefect=False"):
        IsrTask(config=_config(doDefect=True)).run(ccd)
    z = _raw(np.random.default_rng(8), physical_filter="SimCam-Z")
    with pytest.raises(IsrCalibrationMissingError, match=r"'fringe'.*isr:doFringe=False"):
        IsrTask(config=_config(doFringe=True)).run(z)
    IsrTask(config=_config(doFringe=True)).run(ccd)  # SimCam-R does not fringe: nothing needed
    with pytest.raises(ValueError, match="another detector geometry"):
        IsrTask(config=_config(doBias=True)).run(ccd, bias=_calib(np.zeros((10, 10)), u.adu))
    with pytest.raises(TypeError, match="loadFringes"):
        IsrTask(config=_config(doFringe=True)).run(z, fringes=_calib(np.zeros((10, 10))))


def test_isr_warns_about_calibrations_in_electrons(caplog):
    ccd = _raw(np.random.default_rng(8))
    bias = _calib(np.zeros((SMALL_GEOMETRY.height, SMALL_GEOMETRY.width)), u.electron)
    with caplog.at_level(logging.WARNING, logger="stackclub.isr"):
        IsrTask(config=_config(doBias=True)).run(ccd, bias=bias)
    assert "Unit mismatch: isr has adu units but bias has electron units" in caplog.text
    with pytest.raises(RuntimeError, match="Unit mismatch"):
        IsrTask(config=_config(doBias=True, doRaiseOnCalibMismatch=True)).run(ccd, bias=bias)


def test_isr_config_defaults_validation_and_connections():
    config = IsrTask.ConfigClass()
    # Rubin's defaults on the fields, SimCam's settings in setDefaults (as obs_subaru's config).
    assert IsrTask.ConfigClass.doSuspect.default is False and config.doSuspect is True
    assert IsrTask.ConfigClass.doApplyGains.default is False and config.doApplyGains is True
    assert list(config.fringe.filters) == ["SimCam-Z", "SimCam-Y"]
    assert config.overscan.fitType == "MEDIAN" and config.overscan.doParallelOverscan is False
    config = _config(maskListToInterpolate=["BAD"])
    config.validate()
    assert list(config.maskListToInterpolate) == ["BAD", "SATURATED"]
    config = _config(doSaturationInterpolation=False)
    config.validate()
    assert list(config.maskListToInterpolate) == ["BAD"]
    with pytest.raises(FieldValidationError, match="maskListToInterpolate"):
        _config(maskListToInterpolate=["SAT"]).validate()
    with pytest.raises(FieldValidationError, match="doAssembleCcd"):
        _config(doAssembleCcd=False).validate()
    config = IsrTask.ConfigClass()
    config.doFringe = False
    connections = config.ConnectionsClass(config=config)
    assert "fringes" not in connections.prerequisiteInputs
    assert {"bias", "dark", "flat", "defects"} <= set(connections.prerequisiteInputs)
    assert connections.outputExposure.name == "postISRCCD"  # Rubin's IsrTask default


# --- IsrTask: values ------------------------------------------------------------------------------


def test_isr_noise_and_variance_match_expectation():
    rng = np.random.default_rng(6)
    sky = 400.0
    ccd = _raw(rng, sky=sky)
    result = IsrTask(config=_config()).run(ccd)
    out = result.outputExposure
    assert out is result.exposure
    assert out.unit == u.electron and out.bbox == ccd.detector.bbox
    assert out.metadata["LSST ISR UNITS"] == "electron" and out.metadata["DARKTIME"] == DARKTIME
    assert out.metadata["LSST ISR OVERSCAN SERIAL MEDIAN C01"] == pytest.approx(SIMCAM.bias_level[1], abs=1)
    rn2 = np.mean(np.array(SIMCAM.read_noise) ** 2)
    expected = np.sqrt(sky + rn2 + np.mean(np.array(SIMCAM.gain) ** 2) / 12)  # + ADU rounding
    assert np.mean(out.image.array) == pytest.approx(sky, abs=1.0)
    assert np.std(out.image.array) / expected == pytest.approx(1.0, abs=0.03)
    assert np.median(out.variance.array) == pytest.approx(sky + rn2, rel=0.05)


def test_isr_applies_bias_dark_flat_and_masks_defects():
    rng = np.random.default_rng(7)
    shape = SMALL_GEOMETRY.height, SMALL_GEOMETRY.width
    gain = _gain_map()
    bias = rng.normal(0, 3.0, shape) / gain  # ADU
    dark_rate = np.full(shape, 0.5)  # electrons per second
    flat = 1.0 + 0.1 * np.linspace(-1, 1, shape[1])[None, :] * np.ones(shape)
    defects = Table({"x0": [100], "y0": [0], "x_extent": [1], "y_extent": [256]})
    ccd = _raw(rng, sky=1000.0, bias_adu=bias, dark_rate=dark_rate, flat=flat)
    config = _config(doBias=True, doDark=True, doFlat=True, doDefect=True)
    out = (
        IsrTask(config=config)
        .run(
            ccd,
            bias=_calib(bias, u.adu),
            dark=_calib(dark_rate / gain, u.adu / u.s, {"DARKTIME": 1.0}),
            flat=_calib(flat),
            defects=defects,
        )
        .outputExposure
    )
    assert np.median(out.image.array) == pytest.approx(1000.0, rel=0.005)
    assert out.mask.get("BAD")[:, 100].all() and out.mask.get("INTERPOLATED")[:, 100].all()
    assert out.mask.get("BAD").sum() == 256
    assert np.median(out.image.array[:, 100]) == pytest.approx(1000.0, rel=0.01)


def test_dark_is_scaled_by_the_dark_time_not_the_exposure_time():
    """A dark time (90 s) three times the exposure time: only the dark-time scaling removes it."""
    rng = np.random.default_rng(10)
    shape = SMALL_GEOMETRY.height, SMALL_GEOMETRY.width
    dark_rate = np.full(shape, 2.0)  # electrons per second: 180 e in the dark time, 60 in the exposure
    ccd = _raw(rng, sky=500.0, dark_rate=dark_rate, dark_time=90.0)
    assert ccd.obs_info.dark_time.to_value("s") == 90.0
    dark = _calib(dark_rate / _gain_map(), u.adu / u.s, {"DARKTIME": 1.0})
    out = IsrTask(config=_config(doDark=True)).run(ccd, dark=dark).outputExposure
    assert np.median(out.image.array) == pytest.approx(500.0, abs=2.0)
    # A dark normalized to 10 s of dark time is scaled by 90 / 10.
    dark10 = _calib(10 * dark_rate / _gain_map(), u.adu / u.s, {"DARKTIME": 10.0})
    out = IsrTask(config=_config(doDark=True)).run(ccd, dark=dark10).outputExposure
    assert np.median(out.image.array) == pytest.approx(500.0, abs=2.0)


# --- saturation: one convention for camera, simulator and ISR ------------------------------------


def test_saturation_is_flagged_at_the_raw_level_bias_included():
    """A raw pixel one ADU below the amplifier's saturation level is not SATURATED; one at it is."""
    ccd = _raw(np.random.default_rng(11), noise=False, sky=100.0)
    b = amp_boxes(ccd.detector)[2]
    level = int(b.saturation)
    y0, x0 = b.data.y.start + 50, b.data.x.start + 20
    ccd.image.array[y0, x0] = level - 1
    ccd.image.array[y0 + 100, x0] = level
    config = _config(growSaturationFootprintSize=0, doWidenSaturationTrails=False, doSuspect=False)
    out = IsrTask(config=config).run(ccd).outputExposure
    sat = out.mask.get("SATURATED")
    ay, ax = y0 - b.data.y.start + b.assembled.y.start, x0 - b.data.x.start + b.assembled.x.start
    assert not sat[ay, ax] and sat[ay + 100, ax] and sat.sum() == 1
    assert out.mask.get("INTERPOLATED").sum() == 1


def test_no_unsaturated_star_pixel_is_interpolated():
    """A star peaking just below saturation keeps every pixel; one above it is clipped and repaired."""
    rng = np.random.default_rng(12)
    b = amp_boxes(make_detector(0, geometry=SMALL_GEOMETRY))[1]
    headroom = (b.saturation - b.bias_level - 600) * b.gain  # electrons: 600 ADU (5 sigma) short
    faint, bright = (60, 90, headroom - 300.0), (180, 90, 4 * headroom)  # in amplifier 1 (x 64..127)
    ccd = _raw(rng, sky=300.0, stars=[faint, bright])
    raw_peak = ccd.image.array[b.data.y.start + 60, b.data.x.start + 26]
    # Within the 1500 ADU (the bias level) short of saturation that the old convention flagged.
    assert b.saturation - 1000 < raw_peak < b.saturation
    out = IsrTask(config=_config()).run(ccd).outputExposure
    interpolated = out.mask.get("INTERPOLATED")
    assert not interpolated[40:80, 70:110].any() and not out.mask.get("SATURATED")[40:80, 70:110].any()
    assert interpolated[170:190, 80:100].sum() > 9 and out.mask.get("SATURATED")[180, 90]
    assert out.image.array[60, 90] == pytest.approx(faint[2] + 300.0, rel=0.05)


def test_simulator_saturates_where_isr_flags():
    """SimCam's readout clips at the saturation level; ISR flags exactly those pixels."""
    from stackclub.simcam import make_truth_catalog, make_visits, seeded_rng, simulate_exposure

    visit = make_visits(seeded_rng(5, "visits"), 1, ("r",))[0]
    catalog = make_truth_catalog(
        seeded_rng(5, "catalog"),
        center=(visit.ra, visit.dec),
        radius_deg=0.08,
        n_stars=3000,
        n_galaxies=0,
        bright_mag=12.0,  # bright stars only: several saturate
        faint_mag=18.0,
    )
    raw, truth = simulate_exposure(SMALL_GEOMETRY, detector_id=4, visit=visit, catalog=catalog, seed=5)
    clipped = np.zeros(raw.detector.bbox.shape, dtype=bool)
    for b in amp_boxes(raw.detector):
        data = raw.image[b.data].array
        assert data.max() <= b.saturation
        clipped[b.assembled.slice_within(raw.detector.bbox)] = data >= b.saturation
    assert clipped.any() and truth["is_saturated"].any()
    config = _config(growSaturationFootprintSize=0, doWidenSaturationTrails=False)
    out = IsrTask(config=config).run(raw).outputExposure
    np.testing.assert_array_equal(out.mask.get("SATURATED"), clipped)
    # The saturated truth stars are those whose centre pixel is clipped.
    iy = np.clip(np.round(truth["y"]).astype(int), 0, clipped.shape[0] - 1)
    ix = np.clip(np.round(truth["x"]).astype(int), 0, clipped.shape[1] - 1)
    np.testing.assert_array_equal(np.asarray(truth["is_saturated"]), clipped[iy, ix])


def test_isr_of_a_simulated_frame_matches_the_truth():
    """Through the real calibrations, a frame of pure sky: its level, and noise as the variance says."""
    from astropy.stats import sigma_clipped_stats

    from stackclub.simcam import make_truth_catalog, make_visits, seeded_rng, simulate_exposure
    from stackclub.simcam.calibs import simulate_calibs

    visit = make_visits(seeded_rng(8, "visits"), 2, ("r", "z"))[1]  # z: fringes too
    empty = make_truth_catalog(seeded_rng(8, "catalog"), n_stars=0, n_galaxies=0)
    raw, truth = simulate_exposure(SMALL_GEOMETRY, detector_id=4, visit=visit, catalog=empty, seed=8)
    calibs = simulate_calibs(SMALL_GEOMETRY, detector_id=4, bands=("z",), seed=8)
    task = IsrTask()
    out = task.run(
        raw,
        bias=calibs["bias"],
        dark=calibs["dark"],
        flat=calibs["flat"]["SimCam-Z"],
        defects=calibs["defects"],
        fringes=task.fringe.loadFringes(calibs["fringe"]["SimCam-Z"], expId=visit.exposure_id),
    ).outputExposure
    assert raw.obs_info.dark_time.to_value("s") == visit.dark_time == visit.exptime + SIMCAM.dark_overhead
    assert np.median(out.image.array) == pytest.approx(truth.meta["sky_level"], rel=0.01)
    # The noise (from neighbour differences: blind to the sky's gradient and the fringes' residual,
    # clipped of cosmic rays) is what the variance plane says.
    image, good = out.image.array, out.mask.array[..., 0] == 0
    pairs = good[:, 1:] & good[:, :-1]
    _, _, noise = sigma_clipped_stats(((image[:, 1:] - image[:, :-1]) / np.sqrt(2))[pairs], sigma=4)
    assert noise / np.sqrt(np.median(out.variance.array[good])) == pytest.approx(1.0, abs=0.02)
