"""Aperture corrections keep photometry right when a Gaussian PSF model misses the wings (issue 18 c)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lsst.images")

from astropy.table import Table
from lsst.images import Box

from stackclub.pipe import (
    ApplyApCorrTask,
    MeasureApCorrTask,
    MeasurePsfTask,
    SingleFrameMeasurementTask,
    SourceDetectionTask,
)
from stackclub.pipe.measureApCorr import MeasureApCorrError
from stackclub.simcam.sky import _render_sources


@pytest.fixture(scope="module")
def moffat_field():
    rng = np.random.default_rng(7)
    shape, sigma = (400, 400), 1.5
    gx, gy = np.meshgrid(np.linspace(30, 370, 7), np.linspace(30, 370, 7))
    x = gx.ravel() + rng.uniform(-2, 2, gx.size)
    y = gy.ravel() + rng.uniform(-2, 2, gx.size)
    flux = rng.uniform(2e4, 2e5, x.size)
    image = _render_sources(
        shape, x, y, flux, np.full(x.size, sigma), np.full(x.size, sigma), np.zeros(x.size), "moffat"
    )
    image += rng.normal(0, 3.0, shape)
    return image.astype(np.float32), np.full(shape, 9.0, np.float32), Table({"x": x, "y": y, "flux": flux})


def test_aperture_correction_puts_psf_fluxes_on_the_total(moffat_field):
    image, variance, truth = moffat_field
    det = SourceDetectionTask().run(image, variance, psfSigma=1.5)
    measure = SingleFrameMeasurementTask()
    measure.config.apertureRadii = [12.0, 17.0]
    first = measure.run(image, variance, det.sources, psfSigma=1.5).catalog
    psf = MeasurePsfTask().run(first, bbox=Box.from_shape(image.shape))
    catalog = measure.run(image, variance, det.sources, psfSigma=psf.psfSigma).catalog
    catalog["calib_psf_used"] = psf.catalog["calib_psf_used"]
    d = np.hypot(catalog["x"][:, None] - truth["x"][None, :], catalog["y"][:, None] - truth["y"][None, :])
    true_flux = np.asarray(truth["flux"])[np.argmin(d, axis=1)]
    # A Gaussian PSF model misses the Moffat's wings: PSF fluxes come out several per cent low.
    before = np.median(catalog["psfFlux_instFlux"] / true_flux)
    assert before < 0.97
    task = MeasureApCorrTask()
    task.config.refFluxName = "apFlux_17_0"
    ap_corr = task.run(catalog, namesToCorrect=["psfFlux", "compFlux_12"]).apCorrMap
    assert ap_corr["psfFlux_instFlux"] == pytest.approx(1 / before, rel=0.01)
    ApplyApCorrTask().run(catalog, ap_corr)
    assert np.median(catalog["psfFlux_instFlux"] / true_flux) == pytest.approx(1.0, abs=0.003)
    assert np.median(catalog["compFlux_12_instFlux"] / true_flux) == pytest.approx(1.0, abs=0.003)
    assert (catalog["psfFlux_apCorr"] == ap_corr["psfFlux_instFlux"]).all()


def test_too_few_stars_is_an_error():
    catalog = Table(
        {
            "calib_psf_used": [True, False],
            "apFlux_12_0_instFlux": [1.0, 1.0],
            "apFlux_12_0_instFluxErr": [0.1, 0.1],
            "psfFlux_instFlux": [1.0, 1.0],
            "psfFlux_instFluxErr": [0.1, 0.1],
        }
    )
    with pytest.raises(MeasureApCorrError, match="Only 1 stars"):
        MeasureApCorrTask().run(catalog, namesToCorrect=["psfFlux"])
