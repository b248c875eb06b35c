"""Tests of stackclub.display: draw each helper with Agg on real lsst.images objects and synthetic
frames, and assert what was drawn (norm limits, legend plane names, markers, panels, boxes).

Each helper's picture is written as a PNG to $STACKCLUB_TEST_OUTPUT (default <repo>/test-output/).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import astropy.units as u
import astropy.wcs
import matplotlib.pyplot as plt
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.stats import sigma_clipped_stats
from astropy.table import Table as AstropyTable
from astropy.visualization import (
    AsinhStretch,
    AsymmetricPercentileInterval,
    HistEqStretch,
    LinearStretch,
    LogStretch,
    MinMaxInterval,
    PercentileInterval,
    ZScaleInterval,
)

import stackclub
from stackclub._exceptions import ArgumentTypeError
from stackclub.display import MASK_PLANE_COLORS, mask_plane_table

images = pytest.importorskip("lsst.images")
cameras = pytest.importorskip("lsst.images.cameras")

OUTPUT = Path(os.environ.get("STACKCLUB_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output"))


# ----------------------------------------------------------------------------------------------
# fixtures and builders


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


def save(fig_or_ax: Any, name: str) -> Path:
    """Write the picture where CI collects it (never committed)."""
    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"display_{name}.png"
    fig.savefig(path, dpi=80)
    assert path.stat().st_size > 1000
    return path


def star_field(
    rng: np.random.Generator, shape: tuple[int, int], n: int = 12, sky: float = 100.0, sigma: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian stars on a noisy sky; returns (image, x, y)."""
    ny, nx = shape
    xs = rng.uniform(8, nx - 8, n)
    ys = rng.uniform(8, ny - 8, n)
    yy, xx = np.mgrid[0:ny, 0:nx]
    image = rng.normal(sky, 3.0, shape)
    for x, y, flux in zip(xs, ys, rng.uniform(500, 5000, n), strict=True):
        image += flux / (2 * np.pi * sigma**2) * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / sigma**2)
    return image.astype(np.float32), xs, ys


def tan_wcs(nx: int, ny: int) -> astropy.wcs.WCS:
    wcs = astropy.wcs.WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [nx / 2.0, ny / 2.0]
    wcs.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    return wcs


def lsst_image(
    rng: np.random.Generator, *, x0: int = 100, y0: int = 200, shape: tuple[int, int] = (60, 80)
) -> Any:
    """An lsst.images.Image with a bbox origin and a SkyProjection from a FITS TAN WCS."""
    from lsst.images import Box, DetectorFrame, Image, SkyProjection

    array, _, _ = star_field(rng, shape)
    bbox = Box.factory[y0 : y0 + shape[0], x0 : x0 + shape[1]]
    frame = DetectorFrame(instrument="TestCam", detector=0, bbox=bbox)
    wcs = tan_wcs(shape[1], shape[0])
    wcs.wcs.crpix = [x0 + shape[1] / 2.0 + 1, y0 + shape[0] / 2.0 + 1]  # FITS (1-based) absolute
    projection = SkyProjection.from_fits_wcs(wcs, frame, pixel_bounds=bbox)
    return Image(array, bbox=bbox, unit=u.nJy, sky_projection=projection)


def rubin_mask_schema() -> Any:
    from lsst.images import MaskSchema, get_legacy_visit_image_mask_planes

    return MaskSchema(list(get_legacy_visit_image_mask_planes().values()))


def small_detector(*, unassembled: bool) -> Any:
    """A two-amplifier Detector (50 x 40 imaging pixels per amp; prescan 2, overscans 6 and 4).

    ``CameraFrameSet``'s constructor is private (it wraps a Starlink AST FrameSet with frames
    FOCAL_PLANE, FIELD_ANGLE and DETECTOR_<id>); this is the one place in these tests that
    reaches into it, as stackclub.simcam does for the real camera.
    """
    from lsst.images import Box
    from lsst.images._transforms import _ast
    from lsst.images.cameras import (
        Amplifier,
        AmplifierRawGeometry,
        CameraFrameSet,
        Detector,
        DetectorAttributes,
        DetectorType,
        Orientation,
        ReadoutCorner,
    )

    focal_plane = _ast.Frame(2, "Ident=FOCAL_PLANE,Domain=FOCAL_PLANE,Unit(1)=mm,Unit(2)=mm")
    frame_set = _ast.FrameSet(focal_plane)
    field_angle = _ast.Frame(2, "Ident=FIELD_ANGLE,Domain=FIELD_ANGLE,Unit(1)=rad,Unit(2)=rad")
    frame_set.addFrame(1, _ast.ZoomMap(2, 1e-4), field_angle)
    pixels = _ast.Frame(
        2,
        "Ident=DETECTOR_7,Domain=DETECTOR_7,Unit(1)=pixel,Unit(2)=pixel,"
        "Bottom(1)=0,Top(1)=100,Bottom(2)=0,Top(2)=40",
    )
    frame_set.addFrame(1, _ast.ZoomMap(2, 0.015).inverted(), pixels)
    frames = CameraFrameSet("TestCam", frame_set)
    amps = []
    for i, name in enumerate(["C00", "C01"]):
        raw_x0 = 0 if unassembled else i * 58  # 2 prescan + 50 data + 6 overscan per amp
        raw = AmplifierRawGeometry(
            bbox=Box.factory[0:44, raw_x0 : raw_x0 + 58],
            data_bbox=Box.factory[0:40, raw_x0 + 2 : raw_x0 + 52],
            prescan_bbox=Box.factory[0:40, raw_x0 : raw_x0 + 2],
            serial_overscan_bbox=Box.factory[0:40, raw_x0 + 52 : raw_x0 + 58],
            parallel_overscan_bbox=Box.factory[40:44, raw_x0 + 2 : raw_x0 + 52],
            readout_corner=ReadoutCorner.LL,
        )
        amps.append(
            Amplifier(
                name=name,
                bbox=Box.factory[0:40, i * 50 : i * 50 + 50],
                readout_corner=ReadoutCorner.LL,
                **({"unassembled_raw_geometry": raw} if unassembled else {"assembled_raw_geometry": raw}),
            )
        )
    attributes = DetectorAttributes(
        name="S07",
        id=7,
        type=DetectorType.SCIENCE,
        serial="test-0007",
        bbox=Box.factory[0:40, 0:100],
        orientation=Orientation(focal_plane_x=0.0, focal_plane_y=0.0, focal_plane_z=0.0),
        pixel_size=0.015,
        physical_type="CCD",
    )
    return Detector(attributes, amps, frames)


# ----------------------------------------------------------------------------------------------
# show_image: stretches and limits against astropy's own intervals


def test_zscale_limits_are_astropys(rng: np.random.Generator) -> None:
    frame, _, _ = star_field(rng, (120, 90))
    ax = stackclub.show_image(frame)
    norm = ax.images[0].norm
    assert (norm.vmin, norm.vmax) == pytest.approx(ZScaleInterval().get_limits(frame))
    assert isinstance(norm.stretch, LinearStretch)
    assert ax.get_xlim() == (-0.5, 89.5) and ax.get_ylim() == (-0.5, 119.5)
    save(ax, "show_image_zscale")


@pytest.mark.parametrize(
    ("stretch", "kind"),
    [("linear", LinearStretch), ("asinh", AsinhStretch), ("log", LogStretch), ("histeq", HistEqStretch)],
)
def test_each_stretch_uses_min_max_or_percentile(rng: np.random.Generator, stretch: str, kind: type) -> None:
    frame, _, _ = star_field(rng, (64, 64))
    norm = stackclub.show_image(frame, stretch=stretch).images[0].norm
    assert isinstance(norm.stretch, kind)
    assert (norm.vmin, norm.vmax) == pytest.approx(MinMaxInterval().get_limits(frame))
    ax = stackclub.show_image(frame, stretch=stretch, percentile=99.0)
    norm = ax.images[0].norm
    assert (norm.vmin, norm.vmax) == pytest.approx(PercentileInterval(99.0).get_limits(frame))
    save(ax, f"show_image_{stretch}")


def test_asymmetric_percentile(rng: np.random.Generator) -> None:
    frame, _, _ = star_field(rng, (50, 50))
    norm = stackclub.show_image(frame, stretch="asinh", percentile=(5, 99.9)).images[0].norm
    assert (norm.vmin, norm.vmax) == pytest.approx(AsymmetricPercentileInterval(5, 99.9).get_limits(frame))


# ----------------------------------------------------------------------------------------------
# lsst.images types


def test_lsst_image_bbox_origin_and_sky_axes(rng: np.random.Generator) -> None:
    from lsst.images import XY

    image = lsst_image(rng, x0=100, y0=200)
    ax = stackclub.show_image(image, title="<Image & co>")
    assert ax.images[0].get_extent() == [99.5, 179.5, 199.5, 259.5]
    assert hasattr(ax, "coords")  # WCSAxes
    # the axes' WCS is in the image's own (bbox) coordinates: it agrees with the SkyProjection
    sky_axes = ax.wcs.pixel_to_world(130.0, 215.0)
    sky_lsst = image.sky_projection.pixel_to_sky(XY(130.0, 215.0))
    assert sky_axes.separation(sky_lsst).to_value(u.mas) < 1.0
    assert ax.get_title() == "<Image & co>"
    # the colour bar is labelled with the unit
    assert any(a.get_ylabel() == "nJy" for a in ax.figure.axes)
    save(ax, "show_image_lsst_image_wcs")
    # wcs=False draws pixel axes with the same extent
    ax = stackclub.show_image(image, wcs=False)
    assert not hasattr(ax, "coords") and ax.get_xlabel() == "x [pixel]"


def test_masked_image_planes_and_docs(rng: np.random.Generator) -> None:
    from lsst.images import MaskedImage

    image = lsst_image(rng, x0=10, y0=20, shape=(40, 50))
    masked = MaskedImage(image, mask_schema=rubin_mask_schema())
    ny, nx = 40, 50
    planes = {
        "SATURATED": np.zeros((ny, nx), bool),
        "COSMIC_RAY": np.zeros((ny, nx), bool),
        "DETECTED": np.zeros((ny, nx), bool),
    }
    planes["SATURATED"][5:8, 5:8] = True
    planes["COSMIC_RAY"][30, 10:20] = True
    planes["DETECTED"][20:30, 20:35] = True
    for name, value in planes.items():
        masked.mask.set(name, value)
    ax = stackclub.show_image(masked)
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    schema_order = [p.name for p in masked.mask.schema if p is not None and p.name in planes]
    assert names == schema_order
    overlay = ax.images[1]
    assert overlay.get_gid() == "mask_planes"
    assert overlay.get_array().shape == (ny, nx)
    assert overlay.to_rgba(overlay.get_array()[6, 6]) == matplotlib.colors.to_rgba("green", 0.4)
    assert overlay.to_rgba(overlay.get_array()[0, 0])[3] == 0  # unmasked pixels are transparent
    save(ax, "show_image_masked_image")
    # choose planes; an unknown one is a clear error
    ax = stackclub.show_image(masked, mask_planes=["DETECTED", "BAD"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["DETECTED", "BAD"]
    with pytest.raises(ValueError, match=r"no mask plane 'NOPE'.*SATURATED"):
        stackclub.show_image(masked, mask_planes=["NOPE"])
    assert stackclub.show_image(masked, mask_planes=()).get_legend() is None
    # the table lists every plane with the schema's description
    table = mask_plane_table(masked)
    rows = {row[0]: row for row in table.rows}
    assert rows["SATURATED"][2] == 9
    assert rows["COSMIC_RAY"][3] == masked.mask.schema.descriptions["COSMIC_RAY"]
    assert "SATURATED" in str(table) and "<td" in table._repr_html_()


def test_mask_alone_and_escaped_table() -> None:
    from lsst.images import Box, Mask, MaskPlane, MaskSchema

    schema = MaskSchema([MaskPlane("BAD", "bad <columns> & rows"), MaskPlane("EDGE", "near the edge")])
    mask = Mask(schema=schema, bbox=Box.factory[0:30, 0:40])
    bad = np.zeros((30, 40), bool)
    bad[:, 3] = True
    mask.set("BAD", bad)
    ax = stackclub.show_image(mask)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["BAD"]
    assert len(ax.figure.axes) == 1  # no colour bar for a mask alone
    html = mask_plane_table(mask)._repr_html_()
    assert "bad &lt;columns&gt; &amp; rows" in html and "<columns>" not in html
    save(ax, "show_image_mask")


def test_visit_image_psf_and_sky(rng: np.random.Generator) -> None:
    from lsst.images import Box, SkyProjection, VisitImage
    from lsst.images.psfs import GaussianPointSpreadFunction

    from stackclub.simcam.camera import SMALL_GEOMETRY, make_detector
    from stackclub.simcam.raw import make_obs_info

    detector = make_detector(0, geometry=SMALL_GEOMETRY)
    bbox = detector.bbox
    array, _, _ = star_field(rng, tuple(bbox.shape))
    wcs = tan_wcs(bbox.x.size, bbox.y.size)
    projection = SkyProjection.from_fits_wcs(wcs, detector.frame, pixel_bounds=bbox)
    sigma = 1.7
    visit = VisitImage(
        images.Image(array, bbox=bbox, unit=u.nJy),
        mask_schema=rubin_mask_schema(),
        sky_projection=projection,
        psf=GaussianPointSpreadFunction(sigma, bounds=bbox, stamp_size=25),
        detector=detector,
        obs_info=make_obs_info(
            exposure_id=2026031500001,
            detector_id=0,
            physical_filter="SimCam-R",
            exposure_time=30.0,
            datetime_begin="2026-03-16T03:00:00",
            ra=150.0,
            dec=2.0,
        ),
        band="r",
    )
    saturated = np.zeros(tuple(bbox.shape), bool)
    saturated[100:104, 50:60] = True
    visit.mask.set("SATURATED", saturated)
    ax = stackclub.show_image(visit)
    assert hasattr(ax, "coords")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SATURATED"]
    assert ax.get_title() == "VisitImage"
    save(ax, "show_image_visit_image")
    ax = stackclub.show_psf(visit)
    circle = next(p for p in ax.patches if p.get_gid() == "fwhm")
    assert circle.width == pytest.approx(2.0 * math.sqrt(2.0 * math.log(2.0)) * sigma, rel=1e-3)
    assert circle.center == pytest.approx((0.0, 0.0), abs=1e-9)
    assert "0.80″" in ax.get_title()  # 1.7 * 2.3548 px * 0.2 arcsec/px
    save(ax, "show_psf_visit_image")
    # a PSF model alone, evaluated where asked
    ax = stackclub.show_psf(visit.psf, x=10, y=20)
    assert "(x=10, y=20)" in ax.get_title()
    assert ax.images[0].get_extent() == [-12.5, 12.5, -12.5, 12.5]
    ax = stackclub.show_histogram(visit, exclude_planes=["SATURATED"])
    stairs = next(p for p in ax.patches if p.get_gid() == "histogram")
    assert stairs.get_data().values.sum() <= bbox.x.size * bbox.y.size - 40
    assert Box is not None


# ----------------------------------------------------------------------------------------------
# astropy and FITS inputs


def test_ccddata_mask_and_wcs(rng: np.random.Generator) -> None:
    array, _, _ = star_field(rng, (40, 60))
    flagged = np.zeros(array.shape, bool)
    flagged[10:12, :] = True
    ccd = CCDData(array, unit="adu", mask=flagged, wcs=tan_wcs(60, 40))
    ax = stackclub.show_image(ccd)
    assert hasattr(ax, "coords")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MASKED"]
    assert ax.images[0].norm.vmin == pytest.approx(ZScaleInterval().get_limits(array)[0])
    save(ax, "show_image_ccddata")


def test_fits_hdu_hdulist_and_path(rng: np.random.Generator, tmp_path: Path) -> None:
    array, _, _ = star_field(rng, (30, 45))
    header = tan_wcs(45, 30).to_header()
    header["BUNIT"] = "adu"
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(array, header=header, name="SCI")])
    path = tmp_path / "frame.fits"
    hdus.writeto(path)
    for source in (hdus[1], hdus, path, str(path)):
        ax = stackclub.show_image(source)
        assert hasattr(ax, "coords"), source
        assert ax.images[0].norm.vmax == pytest.approx(ZScaleInterval().get_limits(array)[1])
    assert ax.get_title() == "frame.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match="no image HDU"):
        stackclub.show_image(tmp_path / "empty.fits")


class _AfwLike:
    """A stand-in with lsst.afw.image's camelCase accessors (afw is not on PyPI)."""

    class _Point:
        def __init__(self, x: int, y: int) -> None:
            self._x, self._y = x, y

        def getX(self) -> int:  # noqa: N802 - afw's name
            return self._x

        def getY(self) -> int:  # noqa: N802 - afw's name
            return self._y

    class _Plane:
        def __init__(self, array: np.ndarray, xy0: Any, planes: dict[str, int] | None = None) -> None:
            self._array, self._xy0, self._planes = array, xy0, planes

        def getArray(self) -> np.ndarray:  # noqa: N802 - afw's name
            return self._array

        def getXY0(self) -> Any:  # noqa: N802 - afw's name
            return self._xy0

        def getMaskPlaneDict(self) -> dict[str, int]:  # noqa: N802 - afw's name
            return dict(self._planes or {})

    def __init__(self, image: np.ndarray, mask: np.ndarray) -> None:
        xy0 = self._Point(5, 7)
        self._image = self._Plane(image, xy0)
        self._mask = self._Plane(mask, xy0, {"BAD": 0, "SAT": 1, "CR": 3})

    def getImage(self) -> Any:  # noqa: N802 - afw's name
        return self._image

    def getMask(self) -> Any:  # noqa: N802 - afw's name
        return self._mask


def test_afw_style_masked_image(rng: np.random.Generator) -> None:
    array, _, _ = star_field(rng, (20, 30))
    bits = np.zeros(array.shape, np.int32)
    bits[3, 4] = 1 << 3  # CR
    bits[5, 5] = 1 << 1  # SAT
    ax = stackclub.show_image(_AfwLike(array, bits))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SAT", "CR"]
    assert ax.images[0].get_extent() == [4.5, 34.5, 6.5, 26.5]


# ----------------------------------------------------------------------------------------------
# bad input


def test_nan_and_inf_are_masked_not_a_crash(rng: np.random.Generator) -> None:
    frame, _, _ = star_field(rng, (50, 50))
    frame[10, :] = np.nan
    frame[20, 3] = np.inf
    frame[21, 4] = -np.inf
    ax = stackclub.show_image(frame)
    norm = ax.images[0].norm
    assert np.isfinite([norm.vmin, norm.vmax]).all()
    assert (norm.vmin, norm.vmax) == pytest.approx(ZScaleInterval().get_limits(frame[np.isfinite(frame)]))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["NaN/inf (52 px)"]
    save(ax, "show_image_nan_inf")
    ax = stackclub.show_histogram(frame)
    mean = next(line for line in ax.lines if line.get_gid() == "mean").get_xdata()[0]
    assert mean == pytest.approx(sigma_clipped_stats(frame[np.isfinite(frame)])[0])
    assert any("52 NaN/inf" in t.get_text() for t in ax.get_legend().get_texts())
    # all NaN: still a picture, but no histogram
    ax = stackclub.show_image(np.full((5, 5), np.nan))
    assert (ax.images[0].norm.vmin, ax.images[0].norm.vmax) == (0.0, 1.0)
    with pytest.raises(ValueError, match="no finite"):
        stackclub.show_histogram(np.full((5, 5), np.nan))


def test_constant_image_gets_a_sensible_picture() -> None:
    for stretch in ("zscale", "linear", "log", "histeq"):
        ax = stackclub.show_image(np.full((10, 12), 7.0), stretch=stretch)
        assert (ax.images[0].norm.vmin, ax.images[0].norm.vmax) == (6.5, 7.5)
    ax = stackclub.show_histogram(np.full((10, 12), 7.0))
    assert ax.get_xlim() == (6.5, 7.5)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(10), r"must be 2-D, but it has shape \(10,\)"),
        (np.zeros((3, 10, 10)), r"must be 2-D.*cube\[0\]"),
        (np.zeros((0, 5)), r"empty \(shape \(0, 5\)\)"),
        (np.zeros((4, 4), complex), "complex"),
        ({"a": 1}, "cannot show a builtins.dict"),
        (None, "nothing to show"),
    ],
)
def test_bad_images_are_clear_errors(bad: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        stackclub.show_image(bad)


def test_bad_options_are_clear_errors(rng: np.random.Generator) -> None:
    frame = rng.normal(size=(20, 30))
    with pytest.raises(ValueError, match=r"mask has shape \(20, 20\) but the image has shape \(20, 30\)"):
        stackclub.show_image(frame, mask=np.zeros((20, 20), bool))
    with pytest.raises(ValueError, match=r"mask plane 'CR' has shape"):
        stackclub.show_image(frame, mask={"CR": np.zeros((2, 2), bool)})
    with pytest.raises(ValueError, match=r"unknown stretch 'sqrt'; choose one of 'zscale'"):
        stackclub.show_image(frame, stretch="sqrt")
    with pytest.raises(ValueError, match="zscale' chooses its own limits"):
        stackclub.show_image(frame, percentile=99)
    with pytest.raises(ValueError, match="percentile must be"):
        stackclub.show_image(frame, stretch="linear", percentile=150)
    with pytest.raises(ValueError, match="has no mask"):
        stackclub.show_image(frame, mask_planes=["BAD"])
    with pytest.raises(TypeError, match="wcs must be"):
        stackclub.show_image(frame, wcs="RA---TAN")

    # a mask passed alongside: a boolean array becomes plane MASK, a dict names its planes
    hot = np.zeros((20, 30), bool)
    hot[2, 3] = True
    ax = stackclub.show_image(frame, mask={"HOT": hot, "COLD": ~hot}, mask_colors={"HOT": "red"})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["HOT", "COLD"]
    assert MASK_PLANE_COLORS["SATURATED"] == "green"


def test_a_float_mask_says_which_argument_and_what_to_pass(rng: np.random.Generator) -> None:
    frame = rng.normal(size=(20, 30))
    with pytest.raises(
        ArgumentTypeError,
        match=r"show_image\(\): mask must be an lsst.images Mask, a dict of plane name -> boolean array, "
        r"or a boolean array \(True where a pixel is flagged\) of the image's shape; to flag pixels by "
        r"value, compare: mask=array > 1000 or mask=np.isnan\(array\); got a float64 array of shape "
        r"\(20, 30\)\.",
    ):
        stackclub.show_image(frame, mask=frame)
    with pytest.raises(ArgumentTypeError, match=r"show_image\(\): mask\['CR'\] must be a boolean array"):
        stackclub.show_image(frame, mask={"CR": frame})
    with pytest.raises(ArgumentTypeError, match=r"mask_plane_table\(\): mask must be .*; got str 'BAD'"):
        mask_plane_table(frame, mask="BAD")
    assert issubclass(ArgumentTypeError, TypeError)  # what the old errors were: except clauses still work


# ----------------------------------------------------------------------------------------------
# show_sources


def test_sources_circles_and_moment_ellipses(rng: np.random.Generator) -> None:
    frame, xs, ys = star_field(rng, (80, 100), n=15)
    catalog = AstropyTable({"x": xs, "y": ys})
    ax = stackclub.show_sources(frame, catalog)
    markers = next(c for c in ax.collections if c.get_gid() == "sources")
    assert len(markers.get_offsets()) == 15
    assert np.allclose(markers.get_offsets(), np.column_stack([xs, ys]))
    assert ax.get_legend().get_texts()[-1].get_text() == "sources (15)"
    save(ax, "show_sources_circles")
    # moments -> ellipses: xx=9, yy=1, xy=0 is a 3:1 ellipse along x; NaN rows are not drawn
    catalog["ixx"] = np.full(15, 9.0)
    catalog["iyy"] = np.full(15, 1.0)
    catalog["ixy"] = np.zeros(15)
    catalog["x"][0] = np.nan
    ax = stackclub.show_sources(frame, catalog, nsigma=2.0, stretch="asinh", percentile=99.5)
    markers = next(c for c in ax.collections if c.get_gid() == "sources")
    assert len(markers.get_offsets()) == 14
    assert markers._widths[0] * 2 == pytest.approx(12.0)  # matplotlib keeps half-widths
    assert markers._heights[0] * 2 == pytest.approx(4.0)
    save(ax, "show_sources_ellipses")
    # on an existing axes, over a masked image's legend
    ax = stackclub.show_image(frame, mask={"BAD": frame > 1e9})
    stackclub.show_sources(None, {"x": [1.0, 2.0], "y": [3.0, 4.0]}, ax=ax, color="red", label="<mine>")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["<mine> (2)"]


def test_sources_bad_input(rng: np.random.Generator) -> None:
    frame = rng.normal(size=(10, 10))
    with pytest.raises(ValueError, match=r"no column 'xcentroid'; its columns are: x, y"):
        stackclub.show_sources(frame, AstropyTable({"x": [1.0], "y": [2.0]}), x="xcentroid")
    with pytest.raises(ValueError, match="needs an image, or ax="):
        stackclub.show_sources(None, {"x": [1.0], "y": [1.0]})
    with pytest.raises(ValueError, match="different lengths"):
        stackclub.show_sources(frame, {"x": [1.0, 2.0], "y": [1.0]})


# ----------------------------------------------------------------------------------------------
# compare


def test_compare_shares_one_stretch(rng: np.random.Generator) -> None:
    raw, _, _ = star_field(rng, (60, 40), sky=1000.0)
    calibrated = raw - 1000.0
    flat = np.ones_like(raw)
    fig = stackclub.compare([raw, calibrated, flat], ["raw", "post-ISR", "flat"])
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3
    assert [ax.get_title() for ax in panels] == ["raw", "post-ISR", "flat"]
    limits = ZScaleInterval().get_limits(
        np.concatenate([a.ravel().astype(np.float64) for a in (raw, calibrated, flat)])
    )
    for ax in panels:
        assert (ax.images[0].norm.vmin, ax.images[0].norm.vmax) == pytest.approx(limits)
    assert len(fig.axes) == 4  # three panels + one shared colour bar
    save(fig, "compare_shared")
    fig = stackclub.compare({"raw": raw, "post-ISR": calibrated}, share_stretch=False, ncols=1)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["raw", "post-ISR"]
    assert panels[0].images[0].norm.vmin == pytest.approx(ZScaleInterval().get_limits(raw)[0])
    assert panels[1].images[0].norm.vmin == pytest.approx(ZScaleInterval().get_limits(calibrated)[0])
    assert len(fig.axes) == 4  # two panels, two colour bars
    save(fig, "compare_separate")
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        stackclub.compare([raw, raw], ["only one"])
    with pytest.raises(ValueError, match="at least one image"):
        stackclub.compare([])


# ----------------------------------------------------------------------------------------------
# show_amplifiers


def _boxes(ax: Any) -> dict[str, tuple[float, float, float, float]]:
    return {
        p.get_gid(): (p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in ax.patches if p.get_gid()
    }


def test_amplifiers_on_an_assembled_raw(rng: np.random.Generator) -> None:
    from lsst.images import Image

    detector = small_detector(unassembled=False)
    raw_array = rng.normal(1000.0, 5.0, (44, 116)).astype(np.float32)
    ax = stackclub.show_amplifiers(Image(raw_array), detector)
    boxes = _boxes(ax)
    assert set(boxes) == {
        f"{amp}:{region}"
        for amp in ("C00", "C01")
        for region in ("data", "prescan", "serial_overscan", "parallel_overscan")
    }
    assert boxes["C01:serial_overscan"] == (109.5, -0.5, 6, 40)
    assert boxes["C00:parallel_overscan"] == (1.5, 39.5, 50, 4)
    assert ax.get_title() == "S07: 2 amplifiers"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "data",
        "prescan",
        "serial overscan",
        "parallel overscan",
    ]
    save(ax, "show_amplifiers_small")
    with pytest.raises(ValueError, match="needs a detector"):
        stackclub.show_amplifiers(Image(raw_array))
    with pytest.raises(ValueError, match="unknown region"):
        stackclub.show_amplifiers(Image(raw_array), detector, regions=["overscan"])
    with pytest.raises(ValueError, match="has no unassembled raw geometry"):
        stackclub.show_amplifiers(Image(raw_array), detector, geometry="unassembled")


def test_amplifiers_unassembled_segment(rng: np.random.Generator) -> None:
    detector = small_detector(unassembled=True)
    segment = rng.normal(1000.0, 5.0, (44, 58))
    ax = stackclub.show_amplifiers(segment, detector, regions=["data"])
    assert set(_boxes(ax)) == {"C00:data", "C01:data"}  # both amps' segments share these coordinates


def test_amplifiers_on_a_simcam_raw(rng: np.random.Generator) -> None:
    from lsst.images import Image

    from stackclub.simcam.camera import SMALL_GEOMETRY, make_detector, raw_bbox
    from stackclub.simcam.raw import RawExposure, make_obs_info

    bbox = raw_bbox(SMALL_GEOMETRY)
    array = rng.normal(1500.0, 5.0, tuple(bbox.shape)).clip(0, 65535).astype(np.uint16)
    raw = RawExposure(
        Image(array, bbox=bbox),
        make_detector(0, geometry=SMALL_GEOMETRY),
        make_obs_info(
            exposure_id=2026031500001,
            detector_id=0,
            physical_filter="SimCam-R",
            exposure_time=30.0,
            datetime_begin="2026-03-16T03:00:00",
            ra=150.0,
            dec=2.0,
        ),
    )
    ax = stackclub.show_amplifiers(raw)
    boxes = _boxes(ax)
    for amp in raw.detector.amplifiers:
        data = amp.assembled_raw_geometry.data_bbox
        assert boxes[f"{amp.name}:data"] == (data.x.start - 0.5, data.y.start - 0.5, data.x.size, data.y.size)
    assert len(boxes) == 4 * SMALL_GEOMETRY.n_amps
    save(ax, "show_amplifiers_simcam")
    # a cut-out of one amplifier shows that amplifier's regions only
    first = raw.amplifier_names[0]
    ax = stackclub.show_amplifiers(raw.amplifier_image(first), raw.detector)
    assert {gid.split(":")[0] for gid in _boxes(ax)} == {first}


# ----------------------------------------------------------------------------------------------
# show_psf and show_histogram


def test_psf_from_a_kernel_image_and_bad_input() -> None:
    r = np.arange(-12, 13)
    sigma = 2.5
    kernel = np.exp(-0.5 * (r[:, None] ** 2 + r[None, :] ** 2) / sigma**2)
    ax = stackclub.show_psf(kernel, stretch="log")
    circle = next(p for p in ax.patches if p.get_gid() == "fwhm")
    assert circle.width == pytest.approx(2.3548 * sigma, rel=1e-3)
    assert circle.center == pytest.approx((12.0, 12.0))
    save(ax, "show_psf_kernel")
    with pytest.raises(ValueError, match="a kernel image has no position"):
        stackclub.show_psf(kernel, x=3)
    with pytest.raises(ValueError, match="no positive flux"):
        stackclub.show_psf(np.zeros((5, 5)))


def test_histogram_marks_clipped_stats(rng: np.random.Generator) -> None:
    frame, _, _ = star_field(rng, (100, 100))
    ax = stackclub.show_histogram(frame, bins=50)
    mean, median, std = sigma_clipped_stats(frame)
    lines = {line.get_gid(): line.get_xdata()[0] for line in ax.lines if line.get_gid()}
    assert lines["mean"] == pytest.approx(mean)
    assert lines["median"] == pytest.approx(median)
    assert lines["mean+std"] - lines["mean"] == pytest.approx(std)
    stairs = next(p for p in ax.patches if p.get_gid() == "histogram")
    assert len(stairs.get_data().values) == 50
    assert ax.get_yscale() == "log"
    save(ax, "show_histogram")
    with pytest.raises(ValueError, match="low < high"):
        stackclub.show_histogram(frame, range=(5, 1))
    with pytest.raises(ValueError, match="bins must be"):
        stackclub.show_histogram(frame, bins=0)


# ----------------------------------------------------------------------------------------------
# a real processing step: simcam raw -> our IsrTask -> post-ISR, looked at with every helper


def test_real_raw_through_isr() -> None:
    from stackclub.pipe.isr import IsrTask, IsrTaskConfig
    from stackclub.simcam.camera import SMALL_GEOMETRY
    from stackclub.simcam.sky import simulate_exposure

    raw, truth = simulate_exposure(SMALL_GEOMETRY, seed=3)
    config = IsrTaskConfig()
    for name in ("doBias", "doDark", "doFlat", "doFringe", "doDefect"):  # no calibration frames here
        setattr(config, name, False)
    post_isr = IsrTask(config=config).run(raw).outputExposure

    ax = stackclub.show_amplifiers(raw)
    assert len(_boxes(ax)) == 4 * SMALL_GEOMETRY.n_amps
    fig = stackclub.compare([raw, post_isr], ["raw (ADU)", "post-ISR (electrons)"], share_stretch=False)
    assert len([a for a in fig.axes if a.images]) == 2
    save(fig, "compare_raw_post_isr")
    ax = stackclub.show_sources(post_isr, truth, mask_planes=["SATURATED"])
    markers = next(c for c in ax.collections if c.get_gid() == "sources")
    assert len(markers.get_offsets()) == len(truth) > 0
    assert ax.get_legend().get_texts()[0].get_text() == "SATURATED"
    save(ax, "show_sources_post_isr_truth")
    ax = stackclub.show_histogram(post_isr, exclude_planes=["SATURATED"])
    mean = next(line for line in ax.lines if line.get_gid() == "mean").get_xdata()[0]
    keep = ~post_isr.mask.get("SATURATED") & np.isfinite(post_isr.image.array)
    assert mean == pytest.approx(sigma_clipped_stats(post_isr.image.array[keep])[0])
    save(ax, "show_histogram_post_isr")


def test_sources_from_pandas_and_structured_arrays(rng: np.random.Generator) -> None:
    pandas = pytest.importorskip("pandas")
    frame, xs, ys = star_field(rng, (40, 40), n=5)
    table = pandas.DataFrame({"xcentroid": xs, "ycentroid": ys})
    ax = stackclub.show_sources(frame, table, x="xcentroid", y="ycentroid")
    assert len(next(c for c in ax.collections if c.get_gid() == "sources").get_offsets()) == 5
    records = np.zeros(
        3,
        dtype=[
            ("x", float),
            ("y", float),
            ("base_SdssShape_xx", float),
            ("base_SdssShape_yy", float),
            ("base_SdssShape_xy", float),
        ],
    )
    records["x"], records["y"] = [5, 10, 15], [5, 10, 15]
    records["base_SdssShape_xx"], records["base_SdssShape_yy"], records["base_SdssShape_xy"] = 4.0, 4.0, 2.0
    ax = stackclub.show_sources(frame, records, nsigma=1.0)
    markers = next(c for c in ax.collections if c.get_gid() == "sources")
    # xx = yy = 4, xy = 2: principal variances 6 and 2, major axis at 45 degrees
    assert markers._widths[0] == pytest.approx(math.sqrt(6.0))
    assert markers._heights[0] == pytest.approx(math.sqrt(2.0))
    assert markers._angles[0] == pytest.approx(math.radians(45.0))
    with pytest.raises(ValueError, match=r"its columns are: xcentroid, ycentroid"):
        stackclub.show_sources(frame, table)


def test_drawing_is_deterministic(rng: np.random.Generator) -> None:
    import io

    frame, xs, ys = star_field(rng, (64, 48))
    hot = frame > 400

    def png() -> bytes:
        ax = stackclub.show_sources(frame, {"x": xs, "y": ys}, mask={"BAD": hot}, stretch="histeq")
        buffer = io.BytesIO()
        ax.figure.savefig(buffer, format="png", metadata={"Software": None})
        plt.close(ax.figure)
        return buffer.getvalue()

    assert png() == png()


def test_compare_with_sky_axes_and_drawing_into_own_axes(rng: np.random.Generator) -> None:
    first, second = lsst_image(rng), lsst_image(rng)
    fig = stackclub.compare([first, second], wcs=None, ncols=2)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2 and all(hasattr(ax, "coords") for ax in panels)
    assert [ax.get_title() for ax in panels] == ["Image", "Image"]
    save(fig, "compare_sky")
    # a learner's own grid: each helper draws where it is told
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(12, 4))
    assert stackclub.show_image(first, ax=left) is left  # pixel axes: left is not a WCSAxes
    assert stackclub.show_histogram(first, ax=middle) is middle
    assert stackclub.show_psf(np.outer(np.hanning(9), np.hanning(9)), ax=right) is right
    assert left.get_xlabel() == "x [pixel]"
    assert len(fig.axes) == 5  # three panels and the colour bars of the image and the PSF


def test_a_file_lsst_images_wrote_is_read_back_whole(rng: np.random.Generator, tmp_path: Path) -> None:
    from lsst.images import MaskedImage

    masked = MaskedImage(lsst_image(rng, x0=30, y0=40), mask_schema=rubin_mask_schema())
    flagged = np.zeros((60, 80), bool)
    flagged[10:20, 10:20] = True
    masked.mask.set("BAD", flagged)
    path = tmp_path / "masked.fits"
    masked.write(str(path))
    ax = stackclub.show_image(path)
    assert ax.images[0].get_extent() == [29.5, 109.5, 39.5, 99.5]
    assert hasattr(ax, "coords")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["BAD"]
    assert ax.get_title() == "masked.fits"


@pytest.mark.parametrize("module", ["display", "display_sources", "display_camera"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"stackclub.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 1
