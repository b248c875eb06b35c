"""Tests of stackclub.simcam: the camera description, raws, simulators and the demo repository."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stackclub._exceptions import BadDetectorError, SimCamValueError
from stackclub.simcam import camera
from stackclub.simcam.camera import (
    DEFAULT_GEOMETRY,
    HSC_GEOMETRY,
    SIMCAM,
    SMALL_GEOMETRY,
    DetectorGeometry,
    amp_boxes,
    make_detector,
)
from stackclub.simcam.raw import RawExposure, make_obs_info

# --- camera ------------------------------------------------------------------------------------


def test_geometry_presets() -> None:
    assert (DEFAULT_GEOMETRY.width, DEFAULT_GEOMETRY.height) == (2048, 2048)
    assert (HSC_GEOMETRY.width, HSC_GEOMETRY.height) == (2048, 4176)
    assert (SMALL_GEOMETRY.width, SMALL_GEOMETRY.height) == (256, 256)
    assert camera.GEOMETRIES["hsc"] is HSC_GEOMETRY
    with pytest.raises(ValueError, match="prescan must be a positive integer"):
        DetectorGeometry(amp_width=8, amp_height=8, prescan=0, serial_overscan=2, parallel_overscan=2)


def test_detector_amplifiers_tile_raw_and_assembled_frames() -> None:
    det = make_detector(3, geometry=SMALL_GEOMETRY)
    assert det.id == 3 and det.name == "1_0" and det.instrument == "SimCam"
    boxes = amp_boxes(det)
    assert [b.name for b in boxes] == list(SIMCAM.amp_names)
    raw_cover = np.zeros((SMALL_GEOMETRY.raw_height, SMALL_GEOMETRY.raw_width), dtype=int)
    assembled_cover = np.zeros((SMALL_GEOMETRY.height, SMALL_GEOMETRY.width), dtype=int)
    for b in boxes:
        raw_cover[b.raw.y.start : b.raw.y.stop, b.raw.x.start : b.raw.x.stop] += 1
        assembled_cover[b.assembled.y.start : b.assembled.y.stop, b.assembled.x.start : b.assembled.x.stop] += 1
        # data, pre-scan and overscans are disjoint and inside the amplifier's raw segment
        regions = [b.data, b.prescan, b.serial_overscan, b.parallel_overscan]
        seg = np.zeros_like(raw_cover)
        for r in regions:
            assert b.raw.contains(r)
            seg[r.y.start : r.y.stop, r.x.start : r.x.stop] += 1
        assert seg.max() == 1
        assert b.data.shape == b.assembled.shape
        assert b.gain == SIMCAM.gain[b.index] and b.bias_level == SIMCAM.bias_level[b.index]
    assert raw_cover.min() == raw_cover.max() == 1
    assert assembled_cover.min() == assembled_cover.max() == 1
    # odd amplifiers read out from the right: their pre-scan sits right of the data
    assert boxes[0].prescan.x.stop == boxes[0].data.x.start
    assert boxes[1].prescan.x.start == boxes[1].data.x.stop
    assert [b.flip_x for b in boxes] == [False, True, False, True]


def test_detector_focal_plane_and_field_angle() -> None:
    g = DEFAULT_GEOMETRY
    center = make_detector(4, geometry=g)
    corner = make_detector(0, geometry=g)
    fp = center.to_focal_plane.apply_forward(x=np.array([(g.width - 1) / 2]), y=np.array([(g.height - 1) / 2]))
    assert fp.x[0] == pytest.approx(0.0, abs=1e-9) and fp.y[0] == pytest.approx(0.0, abs=1e-9)
    fp0 = corner.to_focal_plane.apply_forward(x=np.array([(g.width - 1) / 2]), y=np.array([(g.height - 1) / 2]))
    pitch = g.width * SIMCAM.pixel_size_mm + SIMCAM.gap_mm
    assert fp0.x[0] == pytest.approx(-pitch) and fp0.y[0] == pytest.approx(-pitch)
    fa = center.to_field_angle.apply_forward(x=np.array([(g.width - 1) / 2 + 100]), y=np.array([(g.height - 1) / 2]))
    assert np.degrees(fa.x[0]) * 3600 == pytest.approx(100 * SIMCAM.pixel_scale_arcsec)


@pytest.mark.parametrize("bad", [-1, 9, 2.0, "1", True])
def test_bad_detector(bad: object) -> None:
    with pytest.raises(BadDetectorError, match="SimCam has no detector"):
        make_detector(bad)  # type: ignore[arg-type]


def test_zero_points() -> None:
    assert camera.flux_from_inst_flux(30.0, 30.0, "r") == pytest.approx(10 ** (0.4 * (31.4 - 28.7)))
    assert set(SIMCAM.zero_points) == set(SIMCAM.bands) == {"g", "r", "i", "z", "y"}
    assert SIMCAM.physical_filters["z"] == "SimCam-Z"


# --- raw ---------------------------------------------------------------------------------------


def _random_raw(detector_id: int = 1, seed: int = 1) -> RawExposure:
    from lsst.images import Image

    bbox = camera.raw_bbox(SMALL_GEOMETRY)
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 65536, size=bbox.shape, dtype=np.uint16)
    info = make_obs_info(
        exposure_id=2026031500007,
        detector_id=detector_id,
        physical_filter="SimCam-R",
        exposure_time=30.0,
        datetime_begin="2026-03-16T03:00:00",
        ra=150.0,
        dec=2.0,
        geometry=SMALL_GEOMETRY,
    )
    return RawExposure(Image(array, bbox=bbox), make_detector(detector_id, geometry=SMALL_GEOMETRY), info,
                       {"OBSERVER": "a <tester> & co"})


@pytest.mark.parametrize("compress", [True, False])
def test_raw_fits_round_trip_is_bit_exact(tmp_path: Path, compress: bool) -> None:
    from astropy.io import fits

    raw = _random_raw()
    path = tmp_path / "raw.fits"
    raw.write_fits(path, compress=compress)
    back = RawExposure.read_fits(path)
    np.testing.assert_array_equal(back.image.array, raw.image.array)
    assert back.image.bbox == raw.image.bbox and back.image.array.dtype == np.uint16
    assert back.detector == raw.detector
    assert back.obs_info == raw.obs_info
    assert back.metadata["OBSERVER"] == "a <tester> & co"
    # camera-style file: one HDU per amplifier, odd amplifiers stored in readout order (flipped)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul[1:]] == list(SIMCAM.amp_names)
        assert hdul[0].header["EXPTIME"] == 30.0 and hdul[0].header["FILTER"] == "SimCam-R"
        assert hdul["C00"].header["DATASEC"] == "[5:68,1:256]"
        assert hdul["C00"].header["BIASSEC"] == "[69:84,1:256]"
        assert hdul["C01"].header["GAIN"] == SIMCAM.gain[1]
        c01 = raw.amplifier_image("C01").array
        np.testing.assert_array_equal(hdul["C01"].data, c01[:, ::-1])


def test_raw_read_one_amplifier_and_bbox(tmp_path: Path) -> None:
    from lsst.images import Box

    raw = _random_raw()
    path = tmp_path / "raw.fits"
    raw.write_fits(path)
    amp = RawExposure.read_fits(path, amplifier="C02")
    seg = raw.amplifier(2).assembled_raw_geometry.bbox
    assert amp.image.bbox == seg
    np.testing.assert_array_equal(amp.image.array, raw.image[seg].array)
    box = Box.factory[10:40, 60:120]  # straddles amplifiers 0 and 1
    cut = RawExposure.read_fits(path, bbox=box)
    np.testing.assert_array_equal(cut.image.array, raw.image[box].array)
    with pytest.raises(SimCamValueError, match="has no amplifier 'C09'"):
        RawExposure.read_fits(path, amplifier="C09")
    with pytest.raises(SimCamValueError, match="does not overlap"):
        RawExposure.read_fits(path, amplifier=0, bbox=Box.factory[0:5, 300:310])


def test_raw_rejects_non_uint16_and_partial_write(tmp_path: Path) -> None:
    from lsst.images import Image

    raw = _random_raw()
    with pytest.raises(SimCamValueError, match="uint16"):
        RawExposure(Image(raw.image.array.astype(np.float32), bbox=raw.image.bbox), raw.detector, raw.obs_info)
    part = RawExposure(raw.amplifier_image(0), raw.detector, raw.obs_info)
    with pytest.raises(SimCamValueError, match="Only a whole raw frame"):
        part.write_fits(tmp_path / "part.fits")
    html = raw._repr_html_()
    assert "SimCam-R" in html and "<table" in html
    assert "SC_20260315_000007" in str(raw)


def test_raw_formatter_through_a_butler(tmp_path: Path) -> None:
    from lsst.daf.butler import Butler, Config, DatasetRef, DatasetType, FileDataset
    from lsst.images import Box

    from stackclub.simcam.formatters import SEED_CONFIG, RawFormatter

    root = tmp_path / "repo"
    Butler.makeRepo(str(root), config=Config(SEED_CONFIG))
    butler = Butler.from_config(str(root), writeable=True, run="raws")
    butler.registry.insertDimensionData("instrument", {"name": "SimCam", "detector_max": 9})
    butler.registry.insertDimensionData("detector", {"instrument": "SimCam", "id": 1, "full_name": "0_1"})
    dt = DatasetType("raw_test", ["instrument", "detector"], "RawExposure", universe=butler.dimensions)
    butler.registry.registerDatasetType(dt)
    raw = _random_raw()
    path = tmp_path / "staging" / "raw.fits"
    path.parent.mkdir()
    raw.write_fits(path)
    ref = DatasetRef(dt, {"instrument": "SimCam", "detector": 1}, run="raws", conform=True)
    butler.ingest(FileDataset(str(path), [ref], formatter=RawFormatter), transfer="move")
    assert not path.exists()
    back = butler.get(ref)
    np.testing.assert_array_equal(back.image.array, raw.image.array)
    amp = butler.get(ref, parameters={"amplifier": "C03"})
    assert amp.image.bbox == raw.amplifier(3).assembled_raw_geometry.bbox
    box = Box.factory[0:8, 0:8]
    np.testing.assert_array_equal(butler.get(ref, parameters={"bbox": box}).image.array, raw.image[box].array)
    assert butler.get(ref.makeComponentRef("obs_info")).physical_filter == "SimCam-R"
    assert butler.get(ref.makeComponentRef("detector")).id == 1


# --- sky, frames and calibrations ---------------------------------------------------------------


def _simple_isr(raw: RawExposure, calibs: dict, exptime: float) -> np.ndarray:
    """Overscan, gain, assembly, bias, dark, flat: the minimum to compare frames with the truth."""
    g = raw.geometry
    out = np.zeros((g.height, g.width))
    for b in amp_boxes(raw.detector):
        over = np.median(raw.image[b.serial_overscan].array)
        data = (raw.image[b.data].array.astype(float) - over) * b.gain
        out[b.assembled.y.start : b.assembled.y.stop, b.assembled.x.start : b.assembled.x.stop] = data
    out -= calibs["bias"].image.array
    out -= calibs["dark"].image.array * exptime
    return out / calibs["flat"][raw.obs_info.physical_filter].image.array


def test_bright_truth_star_is_recovered_from_the_raw() -> None:
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.sky import make_truth_catalog, make_visits, seeded_rng, simulate_exposure

    g = SMALL_GEOMETRY
    visit = make_visits(seeded_rng(5, "visits"), 1, ("r",))[0]
    catalog = make_truth_catalog(seeded_rng(5, "catalog"), center=(visit.ra, visit.dec), radius_deg=0.08,
                                 n_stars=4000, n_galaxies=0)
    raw, truth = simulate_exposure(g, detector_id=4, visit=visit, catalog=catalog, seed=5)
    assert raw.obs_info.exposure_id == visit.exposure_id and truth.meta["band"] == "r"
    assert {"id", "ra", "dec", "x", "y", "flux", "instFlux", "is_star", "is_saturated"} <= set(truth.colnames)
    np.testing.assert_allclose(
        truth["flux"], truth["instFlux"] / visit.exptime * 10 ** (0.4 * (31.4 - SIMCAM.zero_points["r"]))
    )
    image = _simple_isr(raw, simulate_calibs(g, detector_id=4, bands=("r",), seed=5), visit.exptime)
    sky = np.median(image)
    assert sky == pytest.approx(truth.meta["sky_level"], rel=0.1)
    # bright, unsaturated, isolated, away from edges
    x, y = np.asarray(truth["x"]), np.asarray(truth["y"])
    ok = (~truth["is_saturated"]) & (x > 20) & (x < g.width - 20) & (y > 20) & (y < g.height - 20)
    ok &= truth["instFlux"] > 2e4
    for i in np.nonzero(ok)[0]:
        d = np.hypot(x - x[i], y - y[i])
        if np.sum((d < 15) & (truth["instFlux"] > 0.01 * truth["instFlux"][i])) == 1:
            break
    else:
        pytest.fail("no bright isolated star on the detector")
    yy, xx = np.mgrid[0 : g.height, 0 : g.width]
    r = np.hypot(xx - x[i], yy - y[i])
    ap = r < 5 * truth.meta["psf_sigma_pixels"]
    flux = float((image[ap] - sky).sum())
    noise = np.sqrt(flux + ap.sum() * (sky + 25))
    assert flux == pytest.approx(truth["instFlux"][i], abs=5 * noise + 0.01 * flux)
    w = np.clip(image - sky, 0, None) * ap
    cx, cy = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
    assert cx == pytest.approx(x[i], abs=0.15) and cy == pytest.approx(y[i], abs=0.15)


def test_simulation_is_deterministic_and_has_the_instrument_signature() -> None:
    from stackclub.simcam.sky import DetectorSignature, simulate_exposure

    a, ta = simulate_exposure(SMALL_GEOMETRY, detector_id=2, seed=11)
    b, tb = simulate_exposure(SMALL_GEOMETRY, detector_id=2, seed=11)
    c, _ = simulate_exposure(SMALL_GEOMETRY, detector_id=2, seed=12)
    np.testing.assert_array_equal(a.image.array, b.image.array)
    assert list(ta["id"]) == list(tb["id"])
    assert not np.array_equal(a.image.array, c.image.array)
    sig = DetectorSignature(11, 2, SMALL_GEOMETRY)
    # overscans hold the bias level (plus drift), data the bias level + signal
    for box in amp_boxes(a.detector):
        over = np.median(a.image[box.serial_overscan].array)
        assert over == pytest.approx(box.bias_level, abs=25)
        assert np.median(a.image[box.data].array) > over
    # hot pixels are hot
    hy, hx = sig.hot_pixels.T
    assert sig.dark_rate[hy, hx].min() >= 20.0
    assert len(sig.defects_table()) == len(sig.hot_pixels) + 2


def test_calibrations_units_and_shapes() -> None:
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.sky import DetectorSignature

    c = simulate_calibs(SMALL_GEOMETRY, detector_id=0, bands=("g", "y"), seed=3)
    sig = DetectorSignature(3, 0, SMALL_GEOMETRY)
    assert c["bias"].image.bbox == camera.assembled_bbox(SMALL_GEOMETRY)
    assert str(c["bias"].image.unit) == "electron" and str(c["dark"].image.unit) == "electron / s"
    assert sorted(c["flat"]) == ["SimCam-G", "SimCam-Y"] and list(c["fringe"]) == ["SimCam-Y"]
    assert c["flat"]["SimCam-G"].image.array.mean() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(c["flat"]["SimCam-G"].image.array, sig.flat, atol=0.02)
    np.testing.assert_allclose(c["bias"].image.array, sig.bias_structure, atol=5)
    assert list(c["defects"].colnames) == ["x0", "y0", "x_extent", "y_extent"]
    assert c["bias"].mask.get("BAD").sum() == sum(r["x_extent"] * r["y_extent"] for r in c["defects"])
    with pytest.raises(SimCamValueError, match="Unknown band"):
        simulate_calibs(SMALL_GEOMETRY, bands=("q",))
    with pytest.raises(BadDetectorError):
        simulate_calibs(SMALL_GEOMETRY, detector_id=42)
