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
        assembled_cover[
            b.assembled.y.start : b.assembled.y.stop, b.assembled.x.start : b.assembled.x.stop
        ] += 1
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
    fp = center.to_focal_plane.apply_forward(
        x=np.array([(g.width - 1) / 2]), y=np.array([(g.height - 1) / 2])
    )
    assert fp.x[0] == pytest.approx(0.0, abs=1e-9) and fp.y[0] == pytest.approx(0.0, abs=1e-9)
    fp0 = corner.to_focal_plane.apply_forward(
        x=np.array([(g.width - 1) / 2]), y=np.array([(g.height - 1) / 2])
    )
    pitch = g.width * SIMCAM.pixel_size_mm + SIMCAM.gap_mm
    assert fp0.x[0] == pytest.approx(-pitch) and fp0.y[0] == pytest.approx(-pitch)
    fa = center.to_field_angle.apply_forward(
        x=np.array([(g.width - 1) / 2 + 100]), y=np.array([(g.height - 1) / 2])
    )
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
    return RawExposure(
        Image(array, bbox=bbox),
        make_detector(detector_id, geometry=SMALL_GEOMETRY),
        info,
        {"OBSERVER": "a <tester> & co"},
    )


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
        RawExposure(
            Image(raw.image.array.astype(np.float32), bbox=raw.image.bbox), raw.detector, raw.obs_info
        )
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


def _simple_isr(raw: RawExposure, calibs: dict) -> np.ndarray:
    """Overscan, assembly, bias, dark, flat, gain: the minimum to compare frames with the truth.

    The calibrations are in ADU (the dark per second of dark time), as Rubin's legacy IsrTask has them.
    """
    g = raw.geometry
    out, gain = np.zeros((g.height, g.width)), np.zeros((g.height, g.width))
    for b in amp_boxes(raw.detector):
        over = np.median(raw.image[b.serial_overscan].array)
        ys, xs = b.assembled.slice_within(raw.detector.bbox)
        out[ys, xs] = raw.image[b.data].array.astype(float) - over
        gain[ys, xs] = b.gain
    out -= calibs["bias"].image.array
    out -= calibs["dark"].image.array * raw.obs_info.dark_time.to_value("s")
    return out / calibs["flat"][raw.obs_info.physical_filter].image.array * gain


def test_bright_truth_star_is_recovered_from_the_raw() -> None:
    from stackclub.simcam import make_truth_catalog, make_visits, seeded_rng, simulate_exposure
    from stackclub.simcam.calibs import simulate_calibs

    g = SMALL_GEOMETRY
    visit = make_visits(seeded_rng(5, "visits"), 1, ("r",))[0]
    catalog = make_truth_catalog(
        seeded_rng(5, "catalog"), center=(visit.ra, visit.dec), radius_deg=0.08, n_stars=4000, n_galaxies=0
    )
    raw, truth = simulate_exposure(g, detector_id=4, visit=visit, catalog=catalog, seed=5)
    assert raw.obs_info.exposure_id == visit.exposure_id and truth.meta["band"] == "r"
    assert {"id", "ra", "dec", "x", "y", "flux", "instFlux", "is_star", "is_saturated"} <= set(truth.colnames)
    np.testing.assert_allclose(
        truth["flux"], truth["instFlux"] / visit.exptime * 10 ** (0.4 * (31.4 - SIMCAM.zero_points["r"]))
    )
    image = _simple_isr(raw, simulate_calibs(g, detector_id=4, bands=("r",), seed=5))
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
    from stackclub.simcam import DetectorSignature, simulate_exposure

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


def test_dark_current_accumulates_over_the_dark_time() -> None:
    """The raw's dark time (exposure time + overhead) goes in its header, and hot pixels hold rate x it."""
    import dataclasses

    from stackclub.simcam import (
        DetectorSignature,
        make_truth_catalog,
        make_visits,
        seeded_rng,
        simulate_exposure,
    )

    visit = make_visits(seeded_rng(4, "visits"), 1, ("r",))[0]
    assert visit.dark_time == visit.exptime + SIMCAM.dark_overhead
    long_dark = dataclasses.replace(visit, dark_time=300.0)  # ten times the exposure time
    empty = make_truth_catalog(seeded_rng(4, "catalog"), n_stars=0, n_galaxies=0)
    raw, truth = simulate_exposure(SMALL_GEOMETRY, detector_id=3, visit=long_dark, catalog=empty, seed=4)
    assert raw.obs_info.dark_time.to_value("s") == 300.0 and truth.meta["dark_time"] == 300.0
    sig = DetectorSignature(4, 3, SMALL_GEOMETRY)
    hy, hx = sig.hot_pixels.T
    electrons = np.zeros(sig.flat.shape)
    for b in amp_boxes(raw.detector):
        ys, xs = b.assembled.slice_within(raw.detector.bbox)
        electrons[ys, xs] = (raw.image[b.data].array - np.median(raw.image[b.serial_overscan].array)) * b.gain
    excess = electrons[hy, hx] - np.median(electrons)
    expected = sig.dark_rate[hy, hx] * 300.0
    assert np.all(np.abs(excess - expected) < 5 * np.sqrt(expected) + 50)


def test_readout_saturates_at_the_amplifier_level_bias_included() -> None:
    """One convention for the camera, the simulator and ISR: raw ADU (bias included) >= saturation."""
    from stackclub.simcam.sky import _bleed, _to_adu

    det = make_detector(0, geometry=SMALL_GEOMETRY)
    for amp in det.amplifiers:
        assert amp.nominal_calibrations.saturation == SIMCAM.saturation
    # A full pixel reads saturated on every amplifier: the full well is above what reads as saturation.
    for b in amp_boxes(det):
        assert SIMCAM.full_well > (b.saturation - b.bias_level + 25) * b.gain  # drift: 5 sigma
    electrons = np.full((SMALL_GEOMETRY.height, SMALL_GEOMETRY.width), 100.0, dtype=np.float32)
    electrons[10, 5] = 1e7  # bleeds up and down column 5
    full = _bleed(electrons, np.float32(SIMCAM.full_well))
    assert full[:, 5].sum() > 50 and electrons[:, 5].max() == SIMCAM.full_well
    raw, saturated = _to_adu(electrons, amp_boxes(det), SMALL_GEOMETRY, np.random.default_rng(0))
    b = amp_boxes(det)[0]
    column = raw[b.data.y.start : b.data.y.stop, b.data.x.start + 5]
    np.testing.assert_array_equal(column == SIMCAM.saturation, saturated[:, 5])
    assert saturated[:, 5].sum() == full[:, 5].sum() and raw.max() == SIMCAM.saturation


def test_calibrations_units_and_shapes() -> None:
    from stackclub.simcam import DetectorSignature
    from stackclub.simcam.calibs import simulate_calibs

    c = simulate_calibs(SMALL_GEOMETRY, detector_id=0, bands=("g", "y"), seed=3)
    sig = DetectorSignature(3, 0, SMALL_GEOMETRY)
    assert c["bias"].image.bbox == camera.assembled_bbox(SMALL_GEOMETRY)
    assert str(c["bias"].image.unit) == "adu" and str(c["dark"].image.unit) == "adu / s"
    assert c["dark"].metadata["DARKTIME"] == 1.0  # a dark per second of dark time
    assert sorted(c["flat"]) == ["SimCam-G", "SimCam-Y"] and list(c["fringe"]) == ["SimCam-Y"]
    assert c["flat"]["SimCam-G"].image.array.mean() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(c["flat"]["SimCam-G"].image.array, sig.flat, atol=0.02)
    gain = np.zeros(sig.flat.shape)
    for b in amp_boxes(SMALL_GEOMETRY):
        gain[b.assembled.slice_within(camera.assembled_bbox(SMALL_GEOMETRY))] = b.gain
    np.testing.assert_allclose(c["bias"].image.array, sig.bias_structure / gain, atol=2)
    np.testing.assert_allclose(c["dark"].image.array, sig.dark_rate / gain, atol=0.05)
    assert list(c["defects"].colnames) == ["x0", "y0", "x_extent", "y_extent"]
    assert c["bias"].mask.get("BAD").sum() == sum(r["x_extent"] * r["y_extent"] for r in c["defects"])
    with pytest.raises(SimCamValueError, match="Unknown band"):
        simulate_calibs(SMALL_GEOMETRY, bands=("q",))
    with pytest.raises(BadDetectorError):
        simulate_calibs(SMALL_GEOMETRY, detector_id=42)


# --- the demo repository ------------------------------------------------------------------------


def _butler(path: str):  # type: ignore[no-untyped-def]
    from lsst.daf.butler import Butler

    return Butler.from_config(path)


def test_small_repo_dimension_records(small_repo: str) -> None:
    from stackclub.simcam.testing import SMALL_REPO_SETTINGS

    with _butler(small_repo) as butler:
        (instrument,) = butler.query_dimension_records("instrument")
        assert instrument.name == "SimCam" and instrument.class_name == "stackclub.simcam.instrument.SimCam"
        assert len(butler.query_dimension_records("detector", instrument="SimCam")) == SIMCAM.n_detectors
        filters = {
            r.name: r.band for r in butler.query_dimension_records("physical_filter", instrument="SimCam")
        }
        assert filters == {f"SimCam-{b.upper()}": b for b in "grizy"}
        exposures = butler.query_dimension_records("exposure", instrument="SimCam", order_by="exposure")
        assert [e.id for e in exposures] == [2026031500001, 2026031500002]
        assert [e.physical_filter for e in exposures] == ["SimCam-R", "SimCam-Z"]
        assert exposures[0].exposure_time == 30.0 and exposures[0].has_simulated
        assert exposures[0].dark_time == 30.0 + SIMCAM.dark_overhead
        visits = butler.query_dimension_records("visit", instrument="SimCam")
        assert sorted(v.id for v in visits) == [e.id for e in exposures]
        vdr = butler.query_dimension_records("visit_detector_region", instrument="SimCam")
        assert sorted((r.visit, r.detector) for r in vdr) == [(e.id, 4) for e in exposures]
        assert len(SMALL_REPO_SETTINGS["detectors"]) == 1  # type: ignore[arg-type]


def test_small_repo_collections_and_counts(small_repo: str) -> None:
    from lsst.daf.butler import CollectionType

    with _butler(small_repo) as butler:
        info = butler.collections.get_info("SimCam/defaults")
        assert info.type == CollectionType.CHAINED
        assert list(info.children) == ["SimCam/raw/all", "SimCam/calib", "refcats", "SimCam/truth"]
        assert butler.collections.get_info("SimCam/calib").type == CollectionType.CALIBRATION

        def n(name: str, collection: str) -> int:
            return len(butler.query_datasets(name, collections=collection, explain=False, find_first=False))

        assert n("raw", "SimCam/raw/all") == 2
        assert n("bias", "SimCam/calib") == n("dark", "SimCam/calib") == n("defects", "SimCam/calib") == 1
        assert n("flat", "SimCam/calib") == 2  # r and z
        assert n("fringe", "SimCam/calib") == 1  # z only
        assert n("simcam_truth", "SimCam/truth") == 2
        assert n("simcam_refcat", "refcats") >= 1


def test_small_repo_calibration_validity(small_repo: str) -> None:
    from astropy.time import Time
    from lsst.daf.butler import Timespan

    with _butler(small_repo) as butler:
        # through the exposure's timespan, as a pipeline finds it
        z_visit = butler.registry.expandDataId(instrument="SimCam", exposure=2026031500002, detector=4)
        found = butler.find_dataset("fringe", z_visit, collections="SimCam/calib", timespan=z_visit.timespan)
        assert found is not None and found.dataId["physical_filter"] == "SimCam-Z"
        assert butler.find_dataset("bias", z_visit, collections="SimCam/calib", timespan=z_visit.timespan)
        r_visit = butler.registry.expandDataId(instrument="SimCam", exposure=2026031500001, detector=4)
        # no fringe frame in r
        assert (
            butler.find_dataset("fringe", r_visit, collections="SimCam/calib", timespan=r_visit.timespan)
            is None
        )
        # by explicit timespan: inside and outside the bias validity range
        inside = Timespan(Time("2026-03-10T00:00:00", scale="tai"), Time("2026-03-10T00:01:00", scale="tai"))
        outside = Timespan(Time("2025-01-01T00:00:00", scale="tai"), Time("2025-01-01T00:01:00", scale="tai"))
        data_id = {"instrument": "SimCam", "detector": 4}
        assert butler.find_dataset("bias", data_id, collections="SimCam/calib", timespan=inside) is not None
        assert butler.find_dataset("bias", data_id, collections="SimCam/calib", timespan=outside) is None
        # defects are curated: valid at any time
        assert (
            butler.find_dataset("defects", data_id, collections="SimCam/calib", timespan=outside) is not None
        )
        bias = butler.get("bias", data_id, collections="SimCam/calib", timespan=inside)
        assert bias.image.bbox == camera.assembled_bbox(SMALL_GEOMETRY) and str(bias.image.unit) == "adu"
        dark = butler.get("dark", data_id, collections="SimCam/calib", timespan=inside)
        assert dark.metadata["DARKTIME"] == 1.0  # what ISR scales the exposure's dark time by


def test_small_repo_raw_round_trips_bit_exactly(small_repo: str) -> None:
    from stackclub.simcam import field_radius, make_visits, seeded_rng, simulate_exposure
    from stackclub.simcam.testing import SMALL_REPO_SETTINGS

    seed = SMALL_REPO_SETTINGS["seed"]
    with _butler(small_repo) as butler:
        data_id = {"instrument": "SimCam", "exposure": 2026031500001, "detector": 4}
        raw = butler.get("raw", data_id, collections="SimCam/defaults")
        assert isinstance(raw, RawExposure) and raw.image.array.dtype == np.uint16
        assert raw.obs_info.exposure_id == 2026031500001 and raw.detector.id == 4
        # ArrowAstropy reads drop the table's meta unless asked not to
        keep_meta = {"strip_astropy_meta_yaml": False}
        truth = butler.get(
            "simcam_truth",
            {"instrument": "SimCam", "visit": 2026031500001, "detector": 4},
            collections="SimCam/defaults",
            parameters=keep_meta,
        )
        catalog = butler.get(
            "simcam_truth_catalog", instrument="SimCam", collections="SimCam/truth", parameters=keep_meta
        )
        amp = butler.get("raw", data_id, collections="SimCam/defaults", parameters={"amplifier": "C01"})
        np.testing.assert_array_equal(amp.image.array, raw.amplifier_image("C01").array)
    # The same seed simulates the same pixels: what the Butler returns is what was simulated.
    visit = make_visits(seeded_rng(seed, "visits"), 2, ("r", "z"))[0]
    expected, expected_truth = simulate_exposure(
        SMALL_GEOMETRY, detector_id=4, visit=visit, catalog=catalog, seed=seed
    )
    np.testing.assert_array_equal(raw.image.array, expected.image.array)
    assert raw.obs_info == expected.obs_info
    assert list(truth["id"]) == list(expected_truth["id"])
    assert truth.meta["seeing_fwhm_arcsec"] == pytest.approx(visit.seeing_fwhm_arcsec)
    assert catalog.meta["radius_deg"] == pytest.approx(field_radius(SMALL_GEOMETRY))


def test_small_repo_truth_agrees_with_frames(small_repo: str) -> None:
    from lsst.images import Box

    with _butler(small_repo) as butler:
        kw = {"instrument": "SimCam", "detector": 4, "collections": "SimCam/defaults"}
        raw = butler.get("raw", exposure=2026031500001, **kw)
        truth = butler.get(
            "simcam_truth", visit=2026031500001, parameters={"strip_astropy_meta_yaml": False}, **kw
        )
        calibs = {
            "bias": butler.get("bias", exposure=2026031500001, **kw),
            "dark": butler.get("dark", exposure=2026031500001, **kw),
            "flat": {"SimCam-R": butler.get("flat", exposure=2026031500001, **kw)},
        }
        # the reference catalog shards found through the detector's region contain the truth stars
        refs = butler.query_datasets(
            "simcam_refcat",
            collections="refcats",
            data_id={"instrument": "SimCam", "visit": 2026031500001, "detector": 4},
        )
        refcat = np.concatenate([np.asarray(butler.get(r)["id"]) for r in refs])
    image = _simple_isr(raw, calibs)
    sky = float(np.median(image))
    assert sky == pytest.approx(truth.meta["sky_level"], rel=0.1)
    bright = truth[(~truth["is_saturated"]) & (truth["instFlux"] > 2e4) & truth["is_star"]]
    assert len(bright) > 0
    assert set(np.asarray(bright["id"])) <= set(refcat)
    # the brightest unsaturated star: flux and centroid within the noise
    s = bright[np.argmax(bright["instFlux"])]
    x, y = float(s["x"]), float(s["y"])
    r = 5 * truth.meta["psf_sigma_pixels"]
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    ap = np.hypot(xx - x, yy - y) < r
    neighbours = np.hypot(truth["x"] - x, truth["y"] - y) < r + 10
    contamination = float(np.sum(truth["instFlux"][neighbours])) - float(s["instFlux"])
    flux = float((image[ap] - sky).sum())
    noise = np.sqrt(flux + ap.sum() * (sky + 25))
    assert flux == pytest.approx(float(s["instFlux"]), abs=5 * noise + 0.02 * flux + contamination)
    assert Box.factory[0:256, 0:256].contains(Box.factory[int(y) : int(y) + 1, int(x) : int(x) + 1])


def test_second_build_adds_nothing(small_repo: str) -> None:
    from stackclub.simcam.repo import build_demo_repo
    from stackclub.simcam.testing import SMALL_REPO_SETTINGS

    report = build_demo_repo(small_repo, progress=False, **SMALL_REPO_SETTINGS)  # type: ignore[arg-type]
    assert report.n_added == 0 and not report.created
    assert "already complete: nothing to do" in report.summary
    assert report.existing["raw"] == 2
    assert "<table" in report._repr_html_()


def test_interrupted_build_recovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stackclub.simcam.repo as repo
    from stackclub.simcam.repo import build_demo_repo

    settings = dict(visits=1, detectors=[0, 1], bands=("r",), geometry="small", seed=3, progress=False)
    # Kill the build in the middle of its raw-ingest step: the second exposure never gets simulated.
    simulated: list[int] = []

    def killed_after_one(*args: object, **kwargs: object) -> object:
        if simulated:
            raise RuntimeError("build interrupted on purpose")
        simulated.append(1)
        return real_simulate_exposure(*args, **kwargs)

    real_simulate_exposure = repo.simulate_exposure
    monkeypatch.setattr(repo, "simulate_exposure", killed_after_one)
    with pytest.raises(RuntimeError, match="interrupted on purpose"):
        build_demo_repo(tmp_path / "repo", **settings)  # type: ignore[arg-type]
    monkeypatch.undo()
    with _butler(str(tmp_path / "repo")) as butler:  # a repository, partly filled
        partial = len(butler.query_datasets("raw", collections="SimCam/raw/all", explain=False))
        assert partial == 1
        assert butler.query_datasets("bias", collections="SimCam/calib", explain=False)
    # what a kill -9 can leave: a raw file being written, a repository being created
    (tmp_path / "repo" / ".staging").mkdir(exist_ok=True)
    (tmp_path / "repo" / ".staging" / "SC_2026031500001_000.fits").write_bytes(b"SIMPLE  =")
    (tmp_path / "_repo_partial_x1y2").mkdir()
    (tmp_path / "_repo_partial_x1y2" / "butler.yaml").write_text("datastore:")
    report = build_demo_repo(tmp_path / "repo", **settings)  # type: ignore[arg-type]
    assert report.n_added > 0 and not report.created
    build_demo_repo(tmp_path / "fresh", **settings)  # type: ignore[arg-type]
    with _butler(str(tmp_path / "repo")) as a, _butler(str(tmp_path / "fresh")) as b:
        for name, collection in [
            ("raw", "SimCam/raw/all"),
            ("bias", "SimCam/calib"),
            ("flat", "SimCam/calib"),
            ("defects", "SimCam/calib"),
            ("simcam_truth", "SimCam/truth"),
            ("simcam_refcat", "refcats"),
        ]:
            ra = a.query_datasets(name, collections=collection, explain=False, find_first=False)
            rb = b.query_datasets(name, collections=collection, explain=False, find_first=False)
            assert sorted(str(r.dataId) for r in ra) == sorted(str(r.dataId) for r in rb), name
        for ref in a.query_datasets("raw", collections="SimCam/raw/all"):
            other = b.find_dataset("raw", ref.dataId, collections="SimCam/raw/all")
            np.testing.assert_array_equal(a.get(ref).image.array, b.get(other).image.array)
    assert not (tmp_path / "repo" / ".staging").exists() and not list(tmp_path.glob("*partial*"))
    assert build_demo_repo(tmp_path / "repo", **settings).n_added == 0  # type: ignore[arg-type]


def test_bad_inputs_leave_nothing(tmp_path: Path) -> None:
    from stackclub._exceptions import DemoRepoError, NotADemoRepoError, RepoNotWritableError
    from stackclub.simcam.repo import build_demo_repo

    target = tmp_path / "new"
    with pytest.raises(SimCamValueError, match="visits must be a positive integer, got -1"):
        build_demo_repo(target, visits=-1, progress=False)
    with pytest.raises(BadDetectorError, match="SimCam has no detector 12"):
        build_demo_repo(target, detectors=[0, 12], progress=False)
    with pytest.raises(BadDetectorError, match="SimCam has no detector 10"):
        build_demo_repo(target, detectors=10, progress=False)
    with pytest.raises(SimCamValueError, match="Unknown band"):
        build_demo_repo(target, bands=("r", "u"), progress=False)
    with pytest.raises(SimCamValueError, match="Unknown geometry 'huge'"):
        build_demo_repo(target, geometry="huge", progress=False)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    # an existing folder that is not a repository
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me")
    with pytest.raises(NotADemoRepoError, match="not a Butler repository"):
        build_demo_repo(other, geometry="small", progress=False)
    assert [p.name for p in other.iterdir()] == ["todo.txt"]
    with pytest.raises(NotADemoRepoError, match="is a file"):
        build_demo_repo(other / "todo.txt", geometry="small", progress=False)
    # a path that cannot be written (even by root)
    with pytest.raises(RepoNotWritableError, match="not writable"):
        build_demo_repo("/proc/stackclub-demo-repo", geometry="small", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
    assert issubclass(RepoNotWritableError, DemoRepoError)


def test_existing_repo_with_other_seed_is_refused(small_repo: str) -> None:
    from stackclub._exceptions import DemoRepoError
    from stackclub.simcam.repo import build_demo_repo
    from stackclub.simcam.testing import SMALL_REPO_SETTINGS

    settings = dict(SMALL_REPO_SETTINGS, seed=99)
    with pytest.raises(DemoRepoError, match="seed: repository has 7, asked for 99"):
        build_demo_repo(small_repo, progress=False, **settings)  # type: ignore[arg-type]


def test_repo_made_by_another_version_is_refused(small_repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A repository built before the calibrations moved to ADU (or by a later version) must not be
    # reused silently: the ISR would only warn about units and give wrong values.
    from stackclub._exceptions import DemoRepoError
    from stackclub.simcam import repo
    from stackclub.simcam.testing import SMALL_REPO_SETTINGS

    monkeypatch.setattr(repo, "DATA_MODEL", repo.DATA_MODEL + 1)
    with pytest.raises(DemoRepoError, match=r"another version of Stack Club .*Remove it \(rm -r "):
        repo.build_demo_repo(small_repo, progress=False, **SMALL_REPO_SETTINGS)  # type: ignore[arg-type]


def test_default_demo_repo_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from stackclub.simcam.repo import default_demo_repo_path

    monkeypatch.setenv("STACKCLUB_DEMO_REPO", str(tmp_path / "x"))
    assert default_demo_repo_path() == tmp_path / "x"
    monkeypatch.delenv("STACKCLUB_DEMO_REPO")
    assert default_demo_repo_path() == Path(__file__).resolve().parents[1] / "demo_repo"


# --- command line -------------------------------------------------------------------------------


def test_cli_demo_repo(tmp_path: Path, small_repo: str) -> None:
    from click.testing import CliRunner

    from stackclub.cli import main
    from stackclub.simcam.testing import SMALL_REPO_SETTINGS

    runner = CliRunner()
    # the session's small repository is complete: the command says so and adds nothing
    result = runner.invoke(
        main, ["demo-repo", small_repo, "-n", "2", "-d", "4,", "-s", "7", "-g", "small", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "already complete: nothing to do" in result.output
    assert SMALL_REPO_SETTINGS["seed"] == 7
    # bad input: a clear message, exit code 1, nothing made
    result = runner.invoke(main, ["demo-repo", str(tmp_path / "r"), "--visits", "-2", "-q"])
    assert result.exit_code == 1 and "visits must be a positive integer, got -2" in result.output
    result = runner.invoke(main, ["demo-repo", str(tmp_path / "r"), "--detectors", "0,9", "-q"])
    assert result.exit_code == 1 and "SimCam has no detector 9" in result.output
    result = runner.invoke(main, ["demo-repo", str(tmp_path / "r"), "--detectors", "two", "-q"])
    assert result.exit_code == 2 and "expected a count" in result.output
    assert not (tmp_path / "r").exists()
