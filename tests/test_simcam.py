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
    fp = center.to_focal_plane.apply_forward(x=np.array([g.width / 2]), y=np.array([g.height / 2]))
    assert fp.x[0] == pytest.approx(0.0, abs=1e-9) and fp.y[0] == pytest.approx(0.0, abs=1e-9)
    fp0 = corner.to_focal_plane.apply_forward(x=np.array([g.width / 2]), y=np.array([g.height / 2]))
    pitch = g.width * SIMCAM.pixel_size_mm + SIMCAM.gap_mm
    assert fp0.x[0] == pytest.approx(-pitch) and fp0.y[0] == pytest.approx(-pitch)
    fa = center.to_field_angle.apply_forward(x=np.array([g.width / 2 + 100]), y=np.array([g.height / 2]))
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
