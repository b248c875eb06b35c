"""Unit tests of calibrateImage's subtasks on synthetic data with known answers, and of
CalibrateImageTask.run on an in-memory simulated SimCam exposure (checked against its truth)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

pytest.importorskip("lsst.images")

from astropy.table import Table
from astropy.wcs import WCS
from lsst.images import Box
from lsst.pex.config import FieldValidationError

from stackclub.pipe import (
    AstrometryTask,
    CalibrateImageTask,
    IsrTask,
    MeasurePsfTask,
    PhotoCalTask,
    RepairTask,
    SingleFrameMeasurementTask,
    SourceDetectionTask,
    SubtractBackgroundTask,
)
from stackclub.pipe.astrometry import AstrometryError, fitTanSipWcs
from stackclub.pipe.measurement import adaptiveMoments
from stackclub.pipe.measurePsf import PsfFitError
from stackclub.pipe.photoCal import PhotoCalError


def _star_field(rng, *, n=40, shape=(300, 300), sigma=2.0, sky=200.0, noise=5.0):
    """Background + n Gaussian stars of known flux/position + white noise."""
    ny, nx = shape
    # On a jittered grid, so that no two stars blend (each subtask is tested on isolated stars).
    side = math.ceil(math.sqrt(n))
    gx, gy = np.meshgrid(np.linspace(25, nx - 25, side), np.linspace(25, ny - 25, side))
    x = gx.ravel()[:n] + rng.uniform(-3, 3, n)
    y = gy.ravel()[:n] + rng.uniform(-3, 3, n)
    flux = rng.uniform(2e4, 2e5, n)
    yy, xx = np.mgrid[0:ny, 0:nx]
    image = np.full(shape, sky)
    for xi, yi, fi in zip(x, y, flux, strict=True):
        sl = (slice(int(yi) - 15, int(yi) + 16), slice(int(xi) - 15, int(xi) + 16))
        image[sl] += (
            fi
            * np.exp(-((xx[sl] - xi) ** 2 + (yy[sl] - yi) ** 2) / (2 * sigma**2))
            / (2 * math.pi * sigma**2)
        )
    image += rng.normal(0, noise, shape)
    return image.astype(np.float32), Table({"x": x, "y": y, "flux": flux})


def test_background_recovers_a_gradient():
    rng = np.random.default_rng(10)
    shape = (512, 384)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    sky = 100.0 + 0.05 * xx + 0.02 * yy
    image = (sky + rng.normal(0, 3.0, shape)).astype(np.float32)
    task = SubtractBackgroundTask()
    task.config.binSize = 64
    result = task.run(image, bbox=Box.from_shape(shape))
    assert np.abs(result.backgroundImage - sky)[32:-32, 32:-32].max() < 0.5
    assert result.skyNoise == pytest.approx(3.0, rel=0.1)
    assert abs(float(np.mean(image))) < 0.2
    with pytest.raises(ValueError, match="Every background box is masked"):
        task.run(image, bbox=Box.from_shape(shape), ignore=np.ones(shape, bool))


def test_background_with_ignored_pixels_warns_nothing():
    # Ignored pixels are NaN in the boxes by design: astropy's "Input data contains invalid
    # values" warning would only reach the notebooks' logs (twice per calibrateImage run).
    rng = np.random.default_rng(12)
    shape = (256, 256)
    image = (100.0 + rng.normal(0, 3.0, shape)).astype(np.float32)
    ignore = np.zeros(shape, bool)
    ignore[100:140, 50:90] = True
    task = SubtractBackgroundTask()
    task.config.binSize = 64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = task.run(image, bbox=Box.from_shape(shape), ignore=ignore)
    assert result.skyLevel == pytest.approx(100.0, abs=0.5)


def test_detection_and_measurement_known_stars():
    rng = np.random.default_rng(11)
    image, truth = _star_field(rng)
    image -= 200.0
    var = np.full(image.shape, 25.0, dtype=np.float32)
    det = SourceDetectionTask().run(image, var, psfSigma=2.0)
    assert len(det.sources) == len(truth)
    cat = SingleFrameMeasurementTask().run(image, var, det.sources, psfSigma=2.0).catalog
    # Match each truth star to its measurement.
    d = np.hypot(cat["x"][:, None] - truth["x"][None, :], cat["y"][:, None] - truth["y"][None, :])
    j = np.argmin(d, axis=1)
    assert np.max(d[np.arange(len(cat)), j]) < 0.05
    np.testing.assert_allclose(cat["psfFlux_instFlux"], truth["flux"][j], rtol=0.01)
    np.testing.assert_allclose(cat["apFlux_12_0_instFlux"], truth["flux"][j], rtol=0.02)
    np.testing.assert_allclose(cat["ixx"], 4.0, rtol=0.05)
    with pytest.raises(ValueError, match="psfSigma"):
        SourceDetectionTask().run(image, var, psfSigma=0.0)


def test_measurement_takes_the_noise_from_the_caller():
    # CalibrateImageTask takes sqrt(variance) once for its three measurements: the catalog is
    # the one measurement.run makes from the variance itself.
    rng = np.random.default_rng(11)
    image, _ = _star_field(rng, n=9, shape=(120, 120))
    image -= 200.0
    var = rng.uniform(20.0, 30.0, image.shape).astype(np.float32)
    task = SingleFrameMeasurementTask()
    sources = SourceDetectionTask().run(image, var, psfSigma=2.0).sources
    own = task.run(image, var, sources, psfSigma=2.0).catalog
    given = task.run(image, var, sources, psfSigma=2.0, errorArray=np.sqrt(var)).catalog
    assert len(own) == 9
    assert own.colnames == given.colnames
    for name in own.colnames:
        np.testing.assert_array_equal(own[name], given[name], err_msg=name)
    # The error reaches the aperture fluxes' errors only.
    halved = task.run(image, var, sources, psfSigma=2.0, errorArray=0.5 * np.sqrt(var)).catalog
    np.testing.assert_allclose(halved["apFlux_12_0_instFluxErr"], 0.5 * own["apFlux_12_0_instFluxErr"])
    np.testing.assert_array_equal(halved["psfFlux_instFluxErr"], own["psfFlux_instFluxErr"])


def test_adaptive_moments_of_an_elliptical_gaussian():
    y, x = np.mgrid[-15:16, -15:16]
    sxx, syy, sxy = 6.0, 3.0, 1.0
    inv = np.linalg.inv([[sxx, sxy], [sxy, syy]])
    stamp = np.exp(-0.5 * (inv[0, 0] * x * x + 2 * inv[0, 1] * x * y + inv[1, 1] * y * y))
    m = adaptiveMoments(stamp[None], 2.0)
    assert (m.ixx[0], m.iyy[0], m.ixy[0]) == pytest.approx((sxx, syy, sxy), abs=1e-2)


def test_measure_psf_rejects_galaxies_and_needs_stars():
    rng = np.random.default_rng(12)
    n = 60
    size = np.where(np.arange(n) < 45, 2.0, 4.0) + rng.normal(0, 0.02, n)  # 15 galaxies
    cat = Table(
        {
            "x": rng.uniform(0, 1000, n),
            "y": rng.uniform(0, 1000, n),
            "ixx": size**2,
            "iyy": size**2,
            "ixy": np.zeros(n),
            "snr": np.full(n, 300.0),
            "flag_shape": np.zeros(n, bool),
            "flag_saturated": np.zeros(n, bool),
            "flag_edge": np.zeros(n, bool),
        }
    )
    task = MeasurePsfTask()
    task.config.minIsolation = 0
    result = task.run(cat, bbox=Box.from_shape((1000, 1000)))
    assert result.psf.sigma == pytest.approx(2.0, abs=0.02)
    assert not result.catalog["calib_psf_used"][45:].any()
    with pytest.raises(PsfFitError, match="at least 5"):
        task.run(cat[:3], bbox=Box.from_shape((1000, 1000)))


def test_repair_finds_cosmic_rays_not_stars():
    rng = np.random.default_rng(13)
    image, truth = _star_field(rng, n=10)
    image -= 200.0
    crs = [(50, 60), (120, 200), (250, 33)]
    for y, x in crs:
        image[y, x] += 3000.0
    star_peaks = image[np.round(truth["y"]).astype(int), np.round(truth["x"]).astype(int)].copy()
    result = RepairTask().run(image, np.full(image.shape, 25.0), psfSigma=2.0)
    assert result.nCosmicRays == len(crs)
    assert all(result.crMask[y, x] for y, x in crs)
    assert abs(image[50, 60]) < 30
    np.testing.assert_allclose(
        image[np.round(truth["y"]).astype(int), np.round(truth["x"]).astype(int)], star_peaks
    )


def test_fit_tan_sip_recovers_distortion():
    true = WCS(naxis=2)
    true.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    true.wcs.crval = [150.0, 2.0]
    true.wcs.crpix = [1024.0, 1024.0]
    true.wcs.cd = [[-5.5e-5, 0.0], [0.0, 5.5e-5]]
    from astropy.wcs import Sip

    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[3, 0] = a[1, 2] = b[2, 1] = b[0, 3] = 2e-10
    true.sip = Sip(a, b, None, None, true.wcs.crpix)
    x, y = (v.ravel() for v in np.meshgrid(np.linspace(0, 2047, 15), np.linspace(0, 2047, 15)))
    ra, dec = true.all_pix2world(x, y, 0)
    fit = fitTanSipWcs(x, y, ra, dec, crpix=(1023.5, 1023.5), crval=(150.01, 2.01), sipOrder=3)
    r2, d2 = fit.all_pix2world(x, y, 0)
    assert np.max(np.hypot((r2 - ra) * math.cos(math.radians(2)), d2 - dec)) * 3600 < 1e-4


def test_astrometry_finds_offset_and_fails_cleanly():
    rng = np.random.default_rng(14)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [250.0, 250.0]
    wcs.wcs.cd = [[-5.5e-5, 0.0], [0.0, 5.5e-5]]
    n = 80
    x, y = rng.uniform(0, 500, n), rng.uniform(0, 500, n)
    ra, dec = wcs.all_pix2world(x, y, 0)
    ref = Table({"coord_ra": ra, "coord_dec": dec, "r_flux": rng.uniform(1e4, 1e6, n)})
    stars = Table(
        {
            "x": x + rng.normal(0, 0.02, n),
            "y": y + rng.normal(0, 0.02, n),
            "psfFlux_instFlux": np.asarray(ref["r_flux"]),
            "psfFlux_instFluxErr": np.asarray(ref["r_flux"]) / 100.0,  # S/N 100
        }
    )
    initial = wcs.deepcopy()
    initial.wcs.crpix = [250.0 + 17.0, 250.0 - 9.0]  # pointing off by (17, -9) pixels
    task = AstrometryTask()
    result = task.run(stars, ref, initialWcs=initial, bbox=Box.from_shape((500, 500)))
    assert result.offset == pytest.approx((-17.0, 9.0), abs=1.0)
    assert len(result.matches) == n
    assert result.scatter < 0.01
    with pytest.raises(AstrometryError, match="maxOffset"):
        task.run(stars[:4], ref, initialWcs=initial, bbox=Box.from_shape((500, 500)))


def test_photocal_zero_point_and_errors():
    rng = np.random.default_rng(15)
    n = 50
    ref_flux = rng.uniform(1e4, 1e6, n)
    cal = 0.8
    inst = ref_flux / cal * (1 + rng.normal(0, 0.002, n))
    inst[0] *= 3  # an outlier is clipped
    stars = Table(
        {"calibFlux_instFlux": inst, "calibFlux_instFluxErr": inst / 500, "flag_saturated": np.zeros(n, bool)}
    )
    ref = Table({"r_flux": ref_flux})
    result = PhotoCalTask().run(stars, ref, np.arange(n), np.arange(n), band="r")
    assert result.calibration == pytest.approx(cal, rel=1e-3)
    # Rubin's zp: the AB magnitude of one electron in this exposure (exposure time included).
    assert result.zp == pytest.approx(31.4 - 2.5 * math.log10(cal), abs=1e-3)
    assert not result.used[0]
    with pytest.raises(KeyError, match="'g_flux'"):
        PhotoCalTask().run(stars, ref, np.arange(n), np.arange(n), band="g")
    with pytest.raises(PhotoCalError, match="usable"):
        PhotoCalTask().run(stars, ref, [1, 2], [1, 2], band="r")


def test_config_validation_names_the_field():
    config = CalibrateImageTask.ConfigClass()
    with pytest.raises(FieldValidationError, match="fwhm"):
        config.install_simple_psf.fwhm = -1.0
    config = CalibrateImageTask.ConfigClass()
    with pytest.raises(FieldValidationError, match="sipOrder"):
        config.astrometry.sipOrder = 9
    config.astrometry.matchRadius = 0.5
    config.validate()


def test_config_paths_and_defaults_are_rubins():
    config = CalibrateImageTask.ConfigClass()
    assert config.install_simple_psf.fwhm == 4.0
    assert (config.psf_repair.cosmicray.minSigma, config.psf_repair.cosmicray.cond3_fac) == (6.0, 2.0)
    assert config.psf_repair.doCosmicRay
    assert (config.psf_detection.thresholdValue, config.psf_detection.includeThresholdMultiplier) == (
        10.0,
        5.0,
    )
    assert (config.star_detection.thresholdValue, config.star_detection.includeThresholdMultiplier) == (
        5.0,
        2.0,
    )
    selector = config.star_selector["science"]
    assert selector.doFlags and selector.doUnresolved and selector.doSignalToNoise
    assert selector.signalToNoise.minimum == 10.0
    assert config.measure_aperture_correction.sourceSelector["science"].flags.good == ["calib_psf_used"]


def test_algorithm_errors_are_stack_club_pipeline_errors():
    from lsst.pipe.base import AlgorithmError

    from stackclub._exceptions import PipelineError

    for error in (PsfFitError(2, 5), AstrometryError(2, 8), PhotoCalError(1, 3)):
        assert isinstance(error, PipelineError) and isinstance(error, AlgorithmError)


@pytest.fixture(scope="module")
def simulated():
    sim = pytest.importorskip("stackclub.simcam.sky")
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.camera import SMALL_GEOMETRY

    raw, truth = sim.simulate_exposure(SMALL_GEOMETRY, detector_id=4, seed=5)
    calibs = simulate_calibs(SMALL_GEOMETRY, detector_id=4, bands=("r",), seed=5)
    return raw, truth, calibs


def test_isr_then_calibrate_in_memory_against_truth(simulated):
    raw, truth, calibs = simulated
    isr = IsrTask()
    post = isr.run(
        raw,
        bias=calibs["bias"],
        dark=calibs["dark"],
        flat=calibs["flat"]["SimCam-R"],
        defects=calibs["defects"],
    ).outputExposure
    assert post.bbox == raw.detector.bbox
    # The refcat: the truth itself, with refcat column names.
    ref = Table({"coord_ra": truth["ra"], "coord_dec": truth["dec"], "r_flux": truth["flux"]})
    result = CalibrateImageTask().run(
        exposures=post, detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=[ref]
    )
    meta = truth.meta
    visit_image = result.exposure
    assert visit_image.band == "r"
    assert str(visit_image.unit) == "nJy"
    true_sigma = meta["psf_sigma_pixels"]
    # The model describes the pixelated PSF: seeing convolved with the 1-pixel box (variance + 1/12).
    assert visit_image.psf.sigma == pytest.approx(math.sqrt(true_sigma**2 + 1 / 12), rel=0.05)
    stats = visit_image.summary_stats
    assert stats.astromOffsetMean < 0.1
    # Rubin's zeroPoint: 2.5 log10(instFluxAtZeroMagnitude), per exposure (exposure time included).
    exptime = raw.obs_info.exposure_time.to_value("s")
    assert stats.zeroPoint == pytest.approx(31.4 - 2.5 * math.log10(result.applied_photo_calib))
    # 0.03 mag: on this 256 x 256 frame the aperture correction rests on a handful of PSF stars.
    assert stats.zeroPoint == pytest.approx(meta["zero_point"] + 2.5 * math.log10(exptime), abs=0.03)
    assert stats.nPsfStar > 3
    assert visit_image.backgrounds.subtracted is not None
    for column in ("coord_ra", "coord_dec", "psfFlux", "psfFluxErr", "x", "y", "ixx", "visit", "detector"):
        assert column in result.stars.colnames
    # Every bright, unsaturated true star away from the edges is found.
    tx, ty = np.asarray(truth["x"]), np.asarray(truth["y"])
    bright = (
        (np.asarray(truth["instFlux"]) > 1e4)
        & ~np.asarray(truth["is_saturated"])
        & np.asarray(truth["is_star"])
    )
    bright &= (tx > 10) & (tx < 245) & (ty > 10) & (ty < 245)
    # ... and not blended with a brighter source (a deblended child's centroid is less exact).
    flux = np.asarray(truth["instFlux"])
    dist = np.hypot(tx[:, None] - tx[None, :], ty[:, None] - ty[None, :])
    bright &= ~((dist < 20) & (flux[None, :] > flux[:, None])).any(axis=1)
    assert bright.sum() >= 3
    tx, ty = np.asarray(truth["x"])[bright], np.asarray(truth["y"])[bright]
    d = np.hypot(np.asarray(result.stars["x"])[:, None] - tx, np.asarray(result.stars["y"])[:, None] - ty)
    assert np.all(d.min(axis=0) < 1.0)


def test_calibrate_without_pixel_calibration_keeps_electrons(simulated):
    raw, truth, calibs = simulated
    post = (
        IsrTask()
        .run(
            raw,
            bias=calibs["bias"],
            dark=calibs["dark"],
            flat=calibs["flat"]["SimCam-R"],
            defects=calibs["defects"],
        )
        .outputExposure
    )
    ref = Table({"coord_ra": truth["ra"], "coord_dec": truth["dec"], "r_flux": truth["flux"]})
    config = CalibrateImageTask.ConfigClass()
    config.do_calibrate_pixels = False
    result = CalibrateImageTask(config=config).run(
        exposures=post, detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=ref
    )
    assert str(result.exposure.unit) == "electron"
    assert str(result.background["star_background"].field.unit) == "electron"
    assert result.exposure.photometric_scaling is not None  # the calibration is still attached
    assert not np.shares_memory(result.exposure.variance.array, post.variance.array)
    with pytest.raises(ValueError, match="one exposure per visit"):
        CalibrateImageTask().run(
            exposures=[post, post], detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=ref
        )


RUBIN_ORDER = [
    "_compute_psf",
    "_measure_aperture_correction",
    "_fit_astrometry",
    "_remeasure_star_background",
    "_find_stars",
    "_match_psf_stars",
    "_fit_photometry",
    "_summarize",
    "_apply_photometry",
]


def test_run_calls_rubins_steps_in_rubins_order(simulated):
    raw, truth, calibs = simulated
    post = (
        IsrTask()
        .run(
            raw,
            bias=calibs["bias"],
            dark=calibs["dark"],
            flat=calibs["flat"]["SimCam-R"],
            defects=calibs["defects"],
        )
        .outputExposure
    )
    ref = Table({"coord_ra": truth["ra"], "coord_dec": truth["dec"], "r_flux": truth["flux"]})
    calls: list[str] = []

    class Recording(CalibrateImageTask):
        pass

    for name in RUBIN_ORDER:

        def wrapper(self, *args, _name=name, **kwargs):
            calls.append(_name)
            return getattr(CalibrateImageTask, _name)(self, *args, **kwargs)

        setattr(Recording, name, wrapper)
    result = Recording().run(
        exposures=post, detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=ref
    )
    assert calls == RUBIN_ORDER
    # The star catalog went through star_selector: unresolved, S/N >= 10, no flagged source.
    stars = result.stars
    assert (np.asarray(stars["sizeExtendedness_value"]) < 0.1).all()
    assert (np.asarray(stars["calibFlux_instFlux"]) / np.asarray(stars["calibFlux_instFluxErr"]) > 10).all()
    assert not np.asarray(stars["flag_saturated"]).any() and not np.asarray(stars["flag_edge"]).any()
    # The PSF stars stay in their own catalog, with their flags carried over to the stars.
    assert result.psf_stars["calib_psf_used"].any() and stars["calib_psf_used"].any()
    assert set(result.psf_stars["id"]) != set(stars["id"]) or len(stars) != len(result.psf_stars)


def test_photometry_is_right_on_a_moffat_psf():
    """A Gaussian PSF model misses a Moffat's wings; aperture corrections put the fluxes back.

    On a full 2048 x 2048 detector: the small test frame has too few PSF stars and sky boxes for
    a 17-pixel aperture correction.
    """
    from stackclub.simcam import make_visits, seeded_rng, simulate_exposure
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.camera import DEFAULT_GEOMETRY

    visit = make_visits(seeded_rng(5, "visits"), 1, ("r",), psf_profile="moffat")[0]
    raw, truth = simulate_exposure(DEFAULT_GEOMETRY, detector_id=4, visit=visit, seed=5)
    calibs = simulate_calibs(DEFAULT_GEOMETRY, detector_id=4, bands=("r",), seed=5)
    post = (
        IsrTask()
        .run(
            raw,
            bias=calibs["bias"],
            dark=calibs["dark"],
            flat=calibs["flat"]["SimCam-R"],
            defects=calibs["defects"],
        )
        .outputExposure
    )
    ref = Table({"coord_ra": truth["ra"], "coord_dec": truth["dec"], "r_flux": truth["flux"]})
    result = CalibrateImageTask().run(
        exposures=post, detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=ref
    )
    exptime = raw.obs_info.exposure_time.to_value("s")
    stats = result.exposure.summary_stats
    assert stats.zeroPoint == pytest.approx(visit.zero_point + 2.5 * math.log10(exptime), abs=0.02)
    # The model's FWHM is the seeing's (the moments of a Moffat are 11 % wider).
    fwhm = 2 * math.sqrt(2 * math.log(2)) * math.sqrt(result.exposure.psf.sigma**2 - 1 / 12)
    assert fwhm * 0.2 == pytest.approx(visit.seeing_fwhm_arcsec, rel=0.03)
    stars = result.stars[np.asarray(result.stars["calib_photometry_used"])]
    assert (np.asarray(stars["psfFlux_apCorr"]) > 1.1).all()  # the Gaussian model misses > 10 %
    d = np.hypot(
        np.asarray(stars["x"])[:, None] - truth["x"][None, :],
        np.asarray(stars["y"])[:, None] - truth["y"][None, :],
    )
    true_flux = np.asarray(truth["flux"])[np.argmin(d, axis=1)]
    assert np.median(np.asarray(stars["psfFlux"]) / true_flux) == pytest.approx(1.0, abs=0.02)
    # Calibrated pixels: the image's sum over a bright star matches its true flux in nJy.
    image = result.exposure.image.array
    brightest = np.argmax(true_flux)
    x, y = int(round(stars["x"][brightest])), int(round(stars["y"][brightest]))
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    inside = np.hypot(xx - x, yy - y) <= 17
    assert image[inside].sum() == pytest.approx(true_flux[brightest], rel=0.03)
