"""SimCam's camera: THE one description of the simulated camera's detectors and amplifiers.

The simulator, the instrument, the ISR and the display helpers all read the geometry and the
electronics from here, so a learner who changes a number sees every part follow.

The layout is modelled on a Hyper Suprime-Cam CCD: each detector has four amplifiers side by side
along x; every amplifier has a serial pre-scan, its imaging section, a serial overscan (extra columns
read after each row) and a parallel overscan (extra rows read after the last imaging row). Even
amplifiers read out from their lower-left corner, odd ones from the lower-right, so in the full raw
frame the pre-scan of an odd amplifier sits on its right and its serial overscan on its left.

Two raw layouts are described for each amplifier, as Rubin does:

- ``assembled_raw_geometry``: where the amplifier sits in the *full raw frame* (all amplifiers side
  by side, un-trimmed) — the frame `RawExposure.image` holds and ISR works on.
- ``unassembled_raw_geometry``: the amplifier alone, in *readout order*, as it is stored in its own
  HDU of the raw FITS file (so odd amplifiers are flipped in x on disk).

Sizes: the default geometry, `DEFAULT_GEOMETRY`, has 2048 x 2048 imaging pixels per detector (four
512 x 2048 amplifiers): half an HSC CCD, so the default demo repository builds in well under a minute
and every notebook stays fast. `HSC_GEOMETRY` (2048 x 4176) is the real HSC size and `SMALL_GEOMETRY`
(256 x 256) is for tests.
"""

from __future__ import annotations

__all__ = (
    "DEFAULT_GEOMETRY",
    "GEOMETRIES",
    "HSC_GEOMETRY",
    "SIMCAM",
    "SMALL_GEOMETRY",
    "AmpBoxes",
    "CameraDescription",
    "DetectorGeometry",
    "amp_boxes",
    "assembled_bbox",
    "flux_from_inst_flux",
    "make_detector",
    "raw_bbox",
)

import dataclasses
import math
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING

from .._exceptions import BadDetectorError

if TYPE_CHECKING:
    from lsst.images import Box
    from lsst.images.cameras import Amplifier, AmplifierRawGeometry, CameraFrameSet, Detector


@dataclasses.dataclass(frozen=True)
class DetectorGeometry:
    """Pixel layout of one detector (all amplifiers alike).

    Attributes
    ----------
    amp_width
        Imaging columns per amplifier.
    amp_height
        Imaging rows per amplifier (= rows of the detector).
    prescan
        Serial pre-scan columns per amplifier (read before the imaging columns of each row).
    serial_overscan
        Serial overscan columns per amplifier (read after the imaging columns of each row).
    parallel_overscan
        Parallel overscan rows per amplifier (read after the last imaging row).
    n_amps
        Amplifiers per detector, side by side along x.
    name
        Short name of the preset.

    Examples
    --------
    >>> g = DetectorGeometry(amp_width=64, amp_height=256, prescan=4, serial_overscan=16,
    ...                      parallel_overscan=8)
    >>> g.width, g.height, g.raw_width, g.raw_height
    (256, 256, 336, 264)
    """

    amp_width: int
    amp_height: int
    prescan: int
    serial_overscan: int
    parallel_overscan: int
    n_amps: int = 4
    name: str = "custom"

    def __post_init__(self) -> None:
        for field in ("amp_width", "amp_height", "prescan", "serial_overscan", "parallel_overscan", "n_amps"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"DetectorGeometry.{field} must be a positive integer, got {value!r}.")

    @property
    def width(self) -> int:
        """Imaging columns of the assembled (trimmed) detector."""
        return self.amp_width * self.n_amps

    @property
    def height(self) -> int:
        """Imaging rows of the assembled (trimmed) detector."""
        return self.amp_height

    @property
    def amp_raw_width(self) -> int:
        """Columns of one amplifier's raw segment: pre-scan + imaging + serial overscan."""
        return self.prescan + self.amp_width + self.serial_overscan

    @property
    def amp_raw_height(self) -> int:
        """Rows of one amplifier's raw segment: imaging + parallel overscan."""
        return self.amp_height + self.parallel_overscan

    @property
    def raw_width(self) -> int:
        """Columns of the full raw frame (all amplifiers side by side, un-trimmed)."""
        return self.amp_raw_width * self.n_amps

    @property
    def raw_height(self) -> int:
        """Rows of the full raw frame."""
        return self.amp_raw_height


#: Test size: 256 x 256 imaging pixels (four 64 x 256 amplifiers).
SMALL_GEOMETRY = DetectorGeometry(
    amp_width=64, amp_height=256, prescan=4, serial_overscan=16, parallel_overscan=8, name="small"
)
#: Default size: 2048 x 2048 imaging pixels (four 512 x 2048 amplifiers), half an HSC CCD.
DEFAULT_GEOMETRY = DetectorGeometry(
    amp_width=512, amp_height=2048, prescan=8, serial_overscan=32, parallel_overscan=32, name="default"
)
#: Full HSC CCD size: 2048 x 4176 imaging pixels (four 512 x 4176 amplifiers).
HSC_GEOMETRY = DetectorGeometry(
    amp_width=512, amp_height=4176, prescan=8, serial_overscan=32, parallel_overscan=48, name="hsc"
)
#: Presets by name (used by the builder's ``geometry=`` and the CLI's ``--geometry``).
GEOMETRIES: Mapping[str, DetectorGeometry] = MappingProxyType(
    {g.name: g for g in (SMALL_GEOMETRY, DEFAULT_GEOMETRY, HSC_GEOMETRY)}
)


@dataclasses.dataclass(frozen=True)
class CameraDescription:
    """Everything about SimCam that is not pixel layout: detectors, electronics, optics, filters.

    Per-amplifier sequences are indexed by amplifier number (0..3, left to right in the raw frame)
    and are the same on every detector.

    Examples
    --------
    >>> SIMCAM.name, SIMCAM.n_detectors, SIMCAM.amp_names
    ('SimCam', 9, ('C00', 'C01', 'C02', 'C03'))
    >>> SIMCAM.gain[0], SIMCAM.read_noise[0], SIMCAM.bias_level[0]
    (3.1, 4.5, 1480.0)
    """

    name: str = "SimCam"
    #: Detectors in the focal plane: a 3 x 3 mosaic, ids 0..8 (row-major from the lower left).
    n_detectors: int = 9
    mosaic_columns: int = 3
    #: Gap between neighbouring detectors in the focal plane (mm).
    gap_mm: float = 1.5
    #: Pixel size (mm): 15 micron, like HSC's CCDs.
    pixel_size_mm: float = 0.015
    #: Plate scale on the sky (arcsec per pixel).
    pixel_scale_arcsec: float = 0.2
    amp_names: tuple[str, ...] = ("C00", "C01", "C02", "C03")
    #: Gain (electrons per ADU) of each amplifier.
    gain: tuple[float, ...] = (3.10, 3.28, 3.05, 3.21)
    #: Read noise (electrons) of each amplifier.
    read_noise: tuple[float, ...] = (4.5, 4.8, 4.3, 4.6)
    #: Bias level (ADU) of each amplifier: the DC offset the overscan measures.
    bias_level: tuple[float, ...] = (1480.0, 1520.0, 1495.0, 1510.0)
    #: Saturation level (ADU) of each amplifier's output, on the *raw* pixel value, bias level
    #: included: a pixel that reads this or more is saturated.  Rubin's convention: ``IsrTask``
    #: compares ``Amplifier.getSaturation()`` with the raw pixels before overscan subtraction.
    #: SimCam's readout clips every pixel at this level (`stackclub.simcam.sky` ``_to_adu``).
    saturation: float = 54000.0
    #: Suspect level (ADU, raw, bias included, like ``saturation``): above it the response is
    #: non-linear.
    suspect_level: float = 50000.0
    #: Full well (electrons): charge beyond it spills up and down the column (bleed trails).  It
    #: is above what reads as ``saturation`` on every amplifier (at most (54000 - 1520) x 3.28 =
    #: 172 000 electrons), so every bled pixel reads saturated.
    full_well: float = 175000.0
    #: Dark current (electrons per second per pixel) of an average pixel.
    dark_current: float = 0.02
    #: Seconds a CCD collects dark current beyond the exposure time (from the clear before the
    #: shutter opens to the end of the readout): the *dark time* is exposure time + this.  ISR
    #: scales the dark by the dark time (``VisitInfo.darkTime`` in Rubin, ``DARKTIME`` in the header).
    dark_overhead: float = 2.0
    #: Bands, each with one physical filter named like HSC's (``HSC-G`` -> ``SimCam-G``).
    bands: tuple[str, ...] = ("g", "r", "i", "z", "y")
    #: Zero points: the AB magnitude that gives 1 electron per second, per band.  Hence
    #: ``flux[nJy] = instFlux / exptime * 10**(0.4 * (31.4 - zero_points[band]))``
    #: (31.4 is the AB magnitude of 1 nJy).
    zero_points: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: MappingProxyType({"g": 28.6, "r": 28.7, "i": 28.5, "z": 27.9, "y": 27.1})
    )
    #: Effective wavelength (nm) and FWHM (nm) of each filter.
    filter_wavelengths: Mapping[str, tuple[float, float]] = dataclasses.field(
        default_factory=lambda: MappingProxyType(
            {
                "g": (480.0, 140.0),
                "r": (620.0, 150.0),
                "i": (770.0, 150.0),
                "z": (890.0, 80.0),
                "y": (1000.0, 80.0),
            }
        )
    )

    @property
    def physical_filters(self) -> Mapping[str, str]:
        """Physical filter name of each band, e.g. ``{"r": "SimCam-R", ...}``."""
        return MappingProxyType({band: f"{self.name}-{band.upper()}" for band in self.bands})

    @property
    def plate_scale_rad_per_mm(self) -> float:
        """Field angle (radians) per focal-plane millimetre."""
        return math.radians(self.pixel_scale_arcsec / 3600.0) / self.pixel_size_mm

    def detector_name(self, detector_id: int) -> str:
        """Name of a detector, ``"<row>_<column>"`` in the mosaic, e.g. ``"1_2"``.

        Parameters
        ----------
        detector_id
            SimCam detector id.

        Returns
        -------
        name
            The detector's name.
        """
        row, column = divmod(self.check_detector(detector_id), self.mosaic_columns)
        return f"{row}_{column}"

    def check_detector(self, detector_id: object) -> int:
        """Return ``detector_id`` if SimCam has that detector, else raise `BadDetectorError`.

        Parameters
        ----------
        detector_id
            Candidate detector id.

        Returns
        -------
        detector_id
            The same id, checked.

        Raises
        ------
        BadDetectorError
            If it is not an integer id of one of SimCam's detectors.
        """
        if isinstance(detector_id, bool) or not isinstance(detector_id, int):
            raise BadDetectorError(detector_id, self.n_detectors)
        if not 0 <= detector_id < self.n_detectors:
            raise BadDetectorError(detector_id, self.n_detectors)
        return detector_id

    def focal_plane_center(self, detector_id: int, geometry: DetectorGeometry) -> tuple[float, float]:
        """Focal-plane position (x, y) in mm of a detector's centre; the mosaic is centred on 0.

        Parameters
        ----------
        detector_id
            SimCam detector id.
        geometry
            The detectors' pixel layout (their size sets the pitch).

        Returns
        -------
        center
            ``(x, y)`` in mm.
        """
        row, column = divmod(self.check_detector(detector_id), self.mosaic_columns)
        n_rows = math.ceil(self.n_detectors / self.mosaic_columns)
        pitch_x = geometry.width * self.pixel_size_mm + self.gap_mm
        pitch_y = geometry.height * self.pixel_size_mm + self.gap_mm
        return (
            (column - (self.mosaic_columns - 1) / 2) * pitch_x,
            (row - (n_rows - 1) / 2) * pitch_y,
        )


#: SimCam, the one instance every part of Stack Club reads.
SIMCAM = CameraDescription()


def flux_from_inst_flux(inst_flux: float, exptime: float, band: str) -> float:
    """Convert electrons collected in an exposure to flux in nJy with SimCam's zero point.

    Parameters
    ----------
    inst_flux
        Electrons collected.
    exptime
        Exposure time (seconds).
    band
        SimCam band (its zero point).

    Returns
    -------
    flux
        Flux in nJy.

    Examples
    --------
    >>> round(flux_from_inst_flux(30.0, 30.0, "r"), 3)   # 1 e-/s at the r zero point (28.7)
    12.023
    """
    return inst_flux / exptime * 10 ** (0.4 * (31.4 - SIMCAM.zero_points[band]))


@dataclasses.dataclass(frozen=True)
class AmpBoxes:
    """Where one amplifier's regions are, as `lsst.images.Box` objects (``Box.factory[y0:y1, x0:x1]``).

    Raw boxes are in the full raw frame's coordinates (`RawExposure.image`); ``assembled`` is the
    amplifier's imaging section in the trimmed, assembled detector (``post_isr_image``).
    """

    name: str
    index: int
    raw: Box
    data: Box
    prescan: Box
    serial_overscan: Box
    parallel_overscan: Box
    assembled: Box
    gain: float
    read_noise: float
    bias_level: float
    saturation: float
    #: True when the amplifier reads out from its right side (its pixels are flipped in x on disk).
    flip_x: bool


def raw_bbox(geometry: DetectorGeometry = DEFAULT_GEOMETRY) -> Box:
    """Bounding box of the full (un-trimmed, all amplifiers) raw frame.

    Parameters
    ----------
    geometry
        The detector's pixel layout.

    Returns
    -------
    bbox
        The raw frame's `lsst.images.Box`.

    Examples
    --------
    >>> raw_bbox(SMALL_GEOMETRY)
    Box(y=Interval(start=0, stop=264), x=Interval(start=0, stop=336))
    """
    from lsst.images import Box

    return Box.factory[0 : geometry.raw_height, 0 : geometry.raw_width]


def assembled_bbox(geometry: DetectorGeometry = DEFAULT_GEOMETRY) -> Box:
    """Bounding box of the trimmed, assembled detector (the imaging pixels only).

    Parameters
    ----------
    geometry
        The detector's pixel layout.

    Returns
    -------
    bbox
        The assembled detector's `lsst.images.Box`.

    Examples
    --------
    >>> assembled_bbox(SMALL_GEOMETRY)
    Box(y=Interval(start=0, stop=256), x=Interval(start=0, stop=256))
    """
    from lsst.images import Box

    return Box.factory[0 : geometry.height, 0 : geometry.width]


def _raw_geometries(
    geometry: DetectorGeometry, index: int
) -> tuple[AmplifierRawGeometry, AmplifierRawGeometry]:
    """Return (assembled_raw_geometry, unassembled_raw_geometry) of amplifier ``index``."""
    from lsst.images import Box
    from lsst.images.cameras import AmplifierRawGeometry, ReadoutCorner

    g = geometry
    reads_right = index % 2 == 1
    h, ph = g.amp_height, g.amp_raw_height
    # Full raw frame: the amplifier's segment starts at x0; its pre-scan is next to its readout corner.
    x0 = index * g.amp_raw_width
    if reads_right:
        over = Box.factory[0:h, x0 : x0 + g.serial_overscan]
        data_x0 = x0 + g.serial_overscan
        pre = Box.factory[0:h, data_x0 + g.amp_width : x0 + g.amp_raw_width]
    else:
        pre = Box.factory[0:h, x0 : x0 + g.prescan]
        data_x0 = x0 + g.prescan
        over = Box.factory[0:h, data_x0 + g.amp_width : x0 + g.amp_raw_width]
    data = Box.factory[0:h, data_x0 : data_x0 + g.amp_width]
    par = Box.factory[h:ph, data_x0 : data_x0 + g.amp_width]
    assembled = AmplifierRawGeometry(
        bbox=Box.factory[0:ph, x0 : x0 + g.amp_raw_width],
        data_bbox=data,
        flip_x=False,
        flip_y=False,
        x_offset=index * g.amp_width - data_x0,
        y_offset=0,
        serial_overscan_bbox=over,
        parallel_overscan_bbox=par,
        prescan_bbox=pre,
        readout_corner=ReadoutCorner.LR if reads_right else ReadoutCorner.LL,
    )
    # One amplifier alone, in readout order (as in its HDU): pre-scan, data, overscan.
    data_u = Box.factory[0:h, g.prescan : g.prescan + g.amp_width]
    unassembled = AmplifierRawGeometry(
        bbox=Box.factory[0:ph, 0 : g.amp_raw_width],
        data_bbox=data_u,
        flip_x=reads_right,
        flip_y=False,
        x_offset=index * g.amp_width - g.prescan,
        y_offset=0,
        serial_overscan_bbox=Box.factory[0:h, g.prescan + g.amp_width : g.amp_raw_width],
        parallel_overscan_bbox=Box.factory[h:ph, g.prescan : g.prescan + g.amp_width],
        prescan_bbox=Box.factory[0:h, 0 : g.prescan],
        readout_corner=ReadoutCorner.LL,
    )
    return assembled, unassembled


def _make_amplifiers(geometry: DetectorGeometry) -> list[Amplifier]:
    import numpy as np
    from lsst.images import Box
    from lsst.images.cameras import Amplifier, AmplifierCalibrations, ReadoutCorner

    amps = []
    for index, name in enumerate(SIMCAM.amp_names[: geometry.n_amps]):
        assembled, unassembled = _raw_geometries(geometry, index % len(SIMCAM.amp_names))
        x0 = index * geometry.amp_width
        amps.append(
            Amplifier(
                name=name,
                bbox=Box.factory[0 : geometry.height, x0 : x0 + geometry.amp_width],
                readout_corner=ReadoutCorner.LR if index % 2 else ReadoutCorner.LL,
                assembled_raw_geometry=assembled,
                unassembled_raw_geometry=unassembled,
                nominal_calibrations=AmplifierCalibrations(
                    gain=SIMCAM.gain[index],
                    read_noise=SIMCAM.read_noise[index],
                    saturation=SIMCAM.saturation,
                    suspect_level=SIMCAM.suspect_level,
                    linearity_coefficients=np.zeros(4),
                    linearity_type="None",
                ),
            )
        )
    return amps


@lru_cache(maxsize=8)
def _camera_frame_set(geometry: DetectorGeometry) -> CameraFrameSet:
    """Build SimCam's `lsst.images.cameras.CameraFrameSet` for detectors of ``geometry``.

    Notes
    -----
    This is the ONE place that reaches into lsst-images' private API: ``CameraFrameSet``'s
    constructor is documented as private and takes a Starlink AST ``FrameSet`` (through the
    ``lsst.images._transforms._ast`` bridge over starlink-pyast) with frames whose ``Ident`` is
    ``FOCAL_PLANE`` (mm), ``FIELD_ANGLE`` (radians) and ``DETECTOR_<id>`` (pixels, with
    ``Bottom``/``Top`` giving the detector's pixel bounds), as afw's ``TransformMap.makeFrameSet``
    would produce. When lsst-images offers a public constructor, change only this function.
    """
    from lsst.images._transforms import _ast
    from lsst.images.cameras import CameraFrameSet

    focal_plane = _ast.Frame(2, "Ident=FOCAL_PLANE,Domain=FOCAL_PLANE,Unit(1)=mm,Unit(2)=mm")
    frame_set = _ast.FrameSet(focal_plane)
    field_angle = _ast.Frame(2, "Ident=FIELD_ANGLE,Domain=FIELD_ANGLE,Unit(1)=rad,Unit(2)=rad")
    frame_set.addFrame(1, _ast.ZoomMap(2, SIMCAM.plate_scale_rad_per_mm), field_angle)
    for detector_id in range(SIMCAM.n_detectors):
        cx, cy = SIMCAM.focal_plane_center(detector_id, geometry)
        # pixel -> focal plane: move the detector centre ((n - 1) / 2, as pixel centres are
        # integers) to 0, scale to mm, then shift to the detector's place in the mosaic.
        pixels_to_fp = (
            _ast.ShiftMap([-(geometry.width - 1) / 2.0, -(geometry.height - 1) / 2.0])
            .then(_ast.ZoomMap(2, SIMCAM.pixel_size_mm))
            .then(_ast.ShiftMap([cx, cy]))
        )
        pixel_frame = _ast.Frame(
            2,
            f"Ident=DETECTOR_{detector_id},Domain=DETECTOR_{detector_id},Unit(1)=pixel,Unit(2)=pixel,"
            f"Bottom(1)=0,Top(1)={geometry.width},Bottom(2)=0,Top(2)={geometry.height}",
        )
        frame_set.addFrame(1, pixels_to_fp.inverted(), pixel_frame)
    return CameraFrameSet(SIMCAM.name, frame_set)


def make_detector(detector_id: int, *, geometry: DetectorGeometry = DEFAULT_GEOMETRY) -> Detector:
    """Return SimCam's detector ``detector_id`` as an `lsst.images.cameras.Detector`.

    Parameters
    ----------
    detector_id
        Detector id, 0 .. ``SIMCAM.n_detectors - 1``.
    geometry
        Pixel layout (`DEFAULT_GEOMETRY`, `SMALL_GEOMETRY`, `HSC_GEOMETRY` or your own).

    Returns
    -------
    detector
        With four `~lsst.images.cameras.Amplifier` objects (raw geometry in both layouts and nominal
        calibrations) and SimCam's camera frames (pixels -> focal plane -> field angle).

    Raises
    ------
    BadDetectorError
        If SimCam has no such detector.

    Examples
    --------
    >>> det = make_detector(4, geometry=SMALL_GEOMETRY)
    >>> det.name, det.bbox.shape, [a.name for a in det.amplifiers]
    ('1_1', YX(y=256, x=256), ['C00', 'C01', 'C02', 'C03'])
    """
    from lsst.images import Box
    from lsst.images.cameras import Detector, DetectorAttributes, DetectorType, Orientation

    SIMCAM.check_detector(detector_id)
    cx, cy = SIMCAM.focal_plane_center(detector_id, geometry)
    attributes = DetectorAttributes(
        name=SIMCAM.detector_name(detector_id),
        id=detector_id,
        type=DetectorType.SCIENCE,
        serial=f"SIM-{geometry.name}-{detector_id:03d}",
        bbox=Box.factory[0 : geometry.height, 0 : geometry.width],
        orientation=Orientation(
            focal_plane_x=cx,
            focal_plane_y=cy,
            focal_plane_z=0.0,
            pixel_reference_x=(geometry.width - 1) / 2.0,
            pixel_reference_y=(geometry.height - 1) / 2.0,
        ),
        pixel_size=SIMCAM.pixel_size_mm,
        physical_type="CCD",
    )
    return Detector(attributes, _make_amplifiers(geometry), _camera_frame_set(geometry))


def amp_boxes(detector_or_geometry: Detector | DetectorGeometry = DEFAULT_GEOMETRY) -> list[AmpBoxes]:
    """Per-amplifier regions of a detector, read from its `~lsst.images.cameras.Amplifier` objects.

    Parameters
    ----------
    detector_or_geometry
        A detector (e.g. ``raw.detector``) or a geometry (then detector 0 of it is used: the layout
        is the same on every detector).

    Returns
    -------
    boxes
        One `AmpBoxes` per amplifier, in amplifier order.

    Examples
    --------
    >>> [(b.name, b.data.x.start, b.assembled.x.start) for b in amp_boxes(SMALL_GEOMETRY)]
    [('C00', 4, 0), ('C01', 100, 64), ('C02', 172, 128), ('C03', 268, 192)]
    """
    if isinstance(detector_or_geometry, DetectorGeometry):
        detector = make_detector(0, geometry=detector_or_geometry)
    else:
        detector = detector_or_geometry
    result = []
    for index, amp in enumerate(detector.amplifiers):
        raw = amp.assembled_raw_geometry
        if raw is None or amp.nominal_calibrations is None:
            raise ValueError(f"Amplifier {amp.name!r} has no raw geometry or nominal calibrations.")
        calibs = amp.nominal_calibrations
        assert raw.prescan_bbox is not None
        result.append(
            AmpBoxes(
                name=amp.name,
                index=index,
                raw=raw.bbox,
                data=raw.data_bbox,
                prescan=raw.prescan_bbox,
                serial_overscan=raw.serial_overscan_bbox,
                parallel_overscan=raw.parallel_overscan_bbox,
                assembled=amp.bbox,
                gain=calibs.gain,
                read_noise=calibs.read_noise,
                bias_level=SIMCAM.bias_level[index],
                saturation=calibs.saturation,
                flip_x=bool(amp.unassembled_raw_geometry and amp.unassembled_raw_geometry.flip_x),
            )
        )
    return result
