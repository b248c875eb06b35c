"""Tests of stackclub.simcam: the camera description, raws, simulators and the demo repository."""

from __future__ import annotations

import numpy as np
import pytest

from stackclub._exceptions import BadDetectorError
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
