"""Calibration inputs: centroids of stars cut by the detector's edge, deblended parents left out
of the astrometric match (their children are matched instead), and photoCal's magErrFloor."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("lsst.images")

from astropy.table import Table
from astropy.wcs import WCS
from lsst.images import Box

from stackclub.pipe import AstrometryTask, SingleFrameMeasurementTask
from stackclub.pipe.measurement import psfFitCentroid


def test_centroid_of_a_star_cut_by_the_edge_is_unbiased():
    sigma = 1.6
    yy, xx = np.mgrid[0:60, 0:60]
    truth = [(30.3, -0.2), (0.4, 31.7), (30.6, 30.2)]  # half off the bottom, half off the left, inside
    image = np.zeros((60, 60))
    for x, y in truth:
        image += 50000 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) / (2 * math.pi * sigma**2)
    image += np.random.default_rng(5).normal(0, 2.0, image.shape)
    # Integer peaks where detection puts them (it keeps 3 sigma from the edge).
    sources = Table({"id": [1, 2, 3], "x": [30, 5, 31], "y": [5, 32, 30]})
    cat = SingleFrameMeasurementTask().run(image, np.full_like(image, 4.0), sources, psfSigma=sigma).catalog
    assert list(cat["flag_edge"]) == [True, True, False]
    for (x, y), row in zip(truth, cat, strict=True):
        assert row["x"] == pytest.approx(x, abs=0.03)
        assert row["y"] == pytest.approx(y, abs=0.03)
    # The PSF flux counts the star's missing half too.
    assert cat["psfFlux_instFlux"][0] == pytest.approx(50000, rel=0.02)


def test_psf_fit_centroid_leaves_a_flat_stamp_alone():
    stamps = np.zeros((1, 9, 9))
    fit = psfFitCentroid(stamps, np.ones_like(stamps, bool), 1.5, np.array([0.5]), np.array([-0.5]))
    assert (fit.dx[0], fit.dy[0], fit.flux[0]) == (0.5, -0.5, 0.0)


def test_astrometry_ignores_deblended_parents():
    rng = np.random.default_rng(7)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [250.0, 250.0]
    wcs.wcs.cd = [[-5.5e-5, 0.0], [0.0, 5.5e-5]]
    n = 60
    x, y = rng.uniform(0, 500, n), rng.uniform(0, 500, n)
    ra, dec = wcs.all_pix2world(x, y, 0)
    ref = Table({"coord_ra": ra, "coord_dec": dec, "r_flux": rng.uniform(1e4, 1e6, n)})
    # Each of the first 10 references is also "detected" as a parent 1 px off, listed first.
    px, py = x[:10] + 1.0, y[:10]
    stars = Table(
        {
            "x": np.concatenate([px, x + rng.normal(0, 0.02, n)]),
            "y": np.concatenate([py, y + rng.normal(0, 0.02, n)]),
            "psfFlux_instFlux": np.concatenate([2 * np.asarray(ref["r_flux"][:10]), ref["r_flux"]]),
            "deblend_nChild": np.concatenate([np.full(10, 2), np.zeros(n, int)]),
        }
    )
    stars["psfFlux_instFluxErr"] = stars["psfFlux_instFlux"] / 100.0  # S/N 100
    result = AstrometryTask().run(stars, ref, initialWcs=wcs, bbox=Box.from_shape((500, 500)))
    assert len(result.matches) == n
    assert np.all(np.asarray(result.matches["star_index"]) >= 10)
    assert result.scatter < 0.01


def test_astrometry_matches_only_what_its_source_selector_keeps():
    """As Rubin's RefMatchConfig.setDefaults: sourceSelector["science"] keeps PSF-flux S/N > 40."""
    config = AstrometryTask.ConfigClass()
    selector = config.sourceSelector["science"]
    assert selector.doSignalToNoise and selector.signalToNoise.minimum == 40.0
    assert selector.signalToNoise.fluxField == "psfFlux_instFlux"
    rng = np.random.default_rng(8)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [250.0, 250.0]
    wcs.wcs.cd = [[-5.5e-5, 0.0], [0.0, 5.5e-5]]
    n = 60
    x, y = rng.uniform(0, 500, n), rng.uniform(0, 500, n)
    ra, dec = wcs.all_pix2world(x, y, 0)
    ref = Table({"coord_ra": ra, "coord_dec": dec, "r_flux": rng.uniform(1e4, 1e6, n)})
    snr = np.where(np.arange(n) < 10, 30.0, 100.0)  # the first ten are too faint to match
    stars = Table(
        {
            "x": x + rng.normal(0, 0.02, n),
            "y": y + rng.normal(0, 0.02, n),
            "psfFlux_instFlux": np.asarray(ref["r_flux"]),
            "psfFlux_instFluxErr": np.asarray(ref["r_flux"]) / snr,
        }
    )
    result = AstrometryTask(config=config).run(stars, ref, initialWcs=wcs, bbox=Box.from_shape((500, 500)))
    assert sorted(result.matches["star_index"]) == list(range(10, n))
    selector.signalToNoise.minimum = 20.0
    result = AstrometryTask(config=config).run(stars, ref, initialWcs=wcs, bbox=Box.from_shape((500, 500)))
    assert len(result.matches) == n


def test_photocal_mag_err_floor_spreads_the_weight():
    from stackclub.pipe import PhotoCalTask

    # One very bright star whose reference flux is 5% off, and 20 fainter ones that are right.
    inst = np.array([1e6] + [1e4] * 20)
    ref = 5.0 * inst * (1 + np.random.default_rng(3).normal(0, 0.01, 21))
    ref[0] = 5.0 * inst[0] * 1.05
    stars = Table(
        {"calibFlux_instFlux": inst, "calibFlux_instFluxErr": np.sqrt(inst), "flag_saturated": [False] * 21}
    )
    ref_cat = Table({"r_flux": ref})
    idx = np.arange(21)
    config = PhotoCalTask.ConfigClass()
    config.nSigma = 100.0  # keep the bright star, to see its weight
    config.useMedian = False  # the weighted mean (calibrateImage's choice)
    plain = PhotoCalTask(config=config).run(stars, ref_cat, idx, idx, band="r")
    config.magErrFloor = 0.01
    floored = PhotoCalTask(config=config).run(stars, ref_cat, idx, idx, band="r")
    # Weighted by measurement errors only, the bright star pulls the calibration ~4% off;
    # with the floor it has a tenth of the weight.
    assert abs(plain.calibration / 5.0 - 1) > 0.03
    assert abs(floored.calibration / 5.0 - 1) < 0.01
