"""`RawExposure`: SimCam's raw (unassembled, un-trimmed) exposure and its camera-style FITS file.

lsst-images has no raw type, so this is the one small type Stack Club adds: a uint16
`lsst.images.Image` holding the full raw frame (all four amplifiers side by side, with their
pre-scans and overscans), the `lsst.images.cameras.Detector` it came from and an
`astro_metadata_translator.ObservationInfo` describing the observation.

On disk a raw is what a camera writes: one multi-extension FITS file per detector, an empty primary
HDU with the observation's header (``DATE-OBS``, ``EXPTIME``, ``FILTER``, ``RA``/``DEC`` ...) and
one HDU per amplifier, in *readout order* (odd amplifiers, which read out from the right, are
flipped in x), with ``DATASEC``/``BIASSEC``/``PRESEC``/``DETSEC``, ``GAIN`` and ``RDNOISE`` cards.
The Butler reads these files through `stackclub.simcam.formatters.RawFormatter`.
"""

from __future__ import annotations

__all__ = (
    "RawExposure",
    "fits_section",
    "make_obs_info",
)

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._exceptions import SimCamValueError
from .._render import Table
from .camera import SIMCAM, DetectorGeometry, make_detector

if TYPE_CHECKING:
    import astropy.io.fits
    from astro_metadata_translator import ObservationInfo
    from lsst.images import Box, Image
    from lsst.images.cameras import Amplifier, Detector

# Primary-header cards that describe the pixel layout; RawExposure.read_fits rebuilds the
# Detector from them (with make_detector), exactly as an obs package's translator would.
_GEOMETRY_CARDS = {
    "GEOMNAME": ("name", "SimCam detector geometry preset"),
    "NAMPS": ("n_amps", "amplifiers per detector"),
    "AMPW": ("amp_width", "imaging columns per amplifier"),
    "AMPH": ("amp_height", "imaging rows per amplifier"),
    "PRESCAN": ("prescan", "serial pre-scan columns per amplifier"),
    "OVRSCANX": ("serial_overscan", "serial overscan columns per amplifier"),
    "OVRSCANY": ("parallel_overscan", "parallel overscan rows per amplifier"),
}
# Cards written from the ObservationInfo (and read back into one).
_OBS_CARDS = frozenset(
    {
        "TELESCOP",
        "INSTRUME",
        "DETECTOR",
        "DET-ID",
        "DET-SER",
        "EXP-ID",
        "OBSID",
        "DATE-OBS",
        "DATE-END",
        "MJD-OBS",
        "EXPTIME",
        "DARKTIME",
        "FILTER",
        "RA",
        "DEC",
        "RADESYS",
        "OBJECT",
        "IMAGETYP",
        "AIRMASS",
        "DAYOBS",
        "SEQNUM",
        "GROUPID",
        "SIMULATE",
        "OBSREASN",
        "PROGRAM",
    }
)
_STRUCTURAL = frozenset({"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "BZERO", "BSCALE", "CHECKSUM", "DATASUM"})


def fits_section(box: Box) -> str:
    """Return a FITS section string (1-based, inclusive, x first) for an `lsst.images.Box`.

    Parameters
    ----------
    box
        The box (0-based, half-open, y first).

    Returns
    -------
    section
        E.g. ``"[5:68,1:256]"``.

    Examples
    --------
    >>> from lsst.images import Box
    >>> fits_section(Box.factory[0:256, 4:68])
    '[5:68,1:256]'
    """
    return f"[{box.x.start + 1}:{box.x.stop},{box.y.start + 1}:{box.y.stop}]"


def make_obs_info(
    *,
    exposure_id: int,
    detector_id: int,
    physical_filter: str,
    exposure_time: float,
    dark_time: float | None = None,
    datetime_begin: Any,
    ra: float,
    dec: float,
    observation_type: str = "science",
    object_name: str = "SIMFIELD",
    airmass: float = 1.1,
    observation_reason: str = "science",
    science_program: str = "stackclub",
    geometry: DetectorGeometry | None = None,
) -> ObservationInfo:
    """Make the `ObservationInfo` of one SimCam raw.

    Parameters
    ----------
    exposure_id
        Exposure id, Rubin-style ``YYYYMMDD * 100000 + sequence number`` (e.g. 2026031500001).
    detector_id
        SimCam detector id.
    physical_filter
        E.g. ``"SimCam-R"``.
    exposure_time
        Seconds.
    dark_time
        Seconds the CCD collected dark current (the ``DARKTIME`` card); default: ``exposure_time``.
    datetime_begin
        `astropy.time.Time` (or an ISO string, UTC) of the start of the exposure.
    ra, dec
        Telescope pointing (degrees, ICRS): where the telescope *thought* it pointed.
    observation_type
        ``"science"``, ``"bias"``, ``"dark"`` or ``"flat"``.
    object_name, airmass, observation_reason, science_program
        Header values.
    geometry
        The detector geometry (for ``detector_serial``); default: `DEFAULT_GEOMETRY`.

    Returns
    -------
    obs_info
        With ``has_simulated_content=True``.

    Examples
    --------
    >>> info = make_obs_info(exposure_id=2026031500001, detector_id=4, physical_filter="SimCam-R",
    ...                      exposure_time=30.0, datetime_begin="2026-03-16T03:00:00", ra=150.0, dec=2.0)
    >>> info.observation_id, info.detector_name, info.exposure_time
    ('SC_20260315_000001', '1_1', <Quantity 30. s>)
    """
    import astropy.units as u
    from astro_metadata_translator import ObservationInfo
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time, TimeDelta

    begin = Time(datetime_begin, scale="utc")
    day_obs, seq = divmod(int(exposure_id), 100000)
    if not 19000101 <= day_obs <= 29991231 or seq < 0:
        raise SimCamValueError(
            f"exposure_id {exposure_id!r} is not of the form YYYYMMDD * 100000 + sequence number "
            "(e.g. 2026031500001)."
        )
    serial = f"SIM-{(geometry.name if geometry else 'default')}-{detector_id:03d}"
    return ObservationInfo.makeObservationInfo(
        telescope="SimTel",
        instrument=SIMCAM.name,
        # Maunakea, where HSC is: the location only matters for airmass and day_obs.
        location=EarthLocation.from_geodetic(-155.4761 * u.deg, 19.8256 * u.deg, 4139.0 * u.m),
        exposure_id=int(exposure_id),
        visit_id=int(exposure_id),
        physical_filter=physical_filter,
        datetime_begin=begin,
        datetime_end=begin + TimeDelta(exposure_time, format="sec"),
        exposure_time=exposure_time * u.s,
        exposure_time_requested=exposure_time * u.s,
        dark_time=(exposure_time if dark_time is None else dark_time) * u.s,
        boresight_airmass=float(airmass),
        detector_num=int(detector_id),
        detector_name=SIMCAM.detector_name(detector_id),
        detector_unique_name=SIMCAM.detector_name(detector_id),
        detector_serial=serial,
        detector_group=SIMCAM.detector_name(detector_id).split("_")[0],
        detector_exposure_id=int(exposure_id) * 100 + int(detector_id),
        object=object_name,
        tracking_radec=SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"),
        science_program=science_program,
        observation_type=observation_type,
        observation_reason=observation_reason,
        observation_id=f"SC_{day_obs}_{seq:06d}",
        exposure_group=f"SC_{day_obs}_{seq:06d}",
        observing_day=day_obs,
        observation_counter=seq,
        has_simulated_content=True,
        can_see_sky=observation_type == "science",
    )


@dataclasses.dataclass
class RawExposure:
    """A raw exposure of one SimCam detector: the un-trimmed uint16 frame, its detector and metadata.

    Attributes
    ----------
    image
        The full raw frame (``raw_bbox(geometry)``: all amplifiers, pre-scans and overscans), in ADU,
        dtype uint16 — or a part of it (one amplifier, a ``bbox`` cut-out), in the same coordinates.
    detector
        The detector (``make_detector``); its amplifiers' ``assembled_raw_geometry`` give the boxes
        in ``image``'s coordinates.
    obs_info
        The observation (`make_obs_info`).
    metadata
        Further FITS header cards (name -> value) kept with the raw.

    Examples
    --------
    >>> import numpy as np
    >>> from lsst.images import Image
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY, make_detector, raw_bbox
    >>> bbox = raw_bbox(SMALL_GEOMETRY)
    >>> raw = RawExposure(
    ...     Image(np.full(bbox.shape, 1500, dtype=np.uint16), bbox=bbox),
    ...     make_detector(0, geometry=SMALL_GEOMETRY),
    ...     make_obs_info(exposure_id=2026031500001, detector_id=0, physical_filter="SimCam-R",
    ...                   exposure_time=30.0, datetime_begin="2026-03-16T03:00:00", ra=150.0, dec=2.0))
    >>> raw
    <RawExposure SC_20260315_000001 detector 0 (0_0) SimCam-R 30.0 s [y=0:264, x=0:336]>
    """

    image: Image
    detector: Detector
    obs_info: ObservationInfo
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.image.array.dtype != np.uint16:
            raise SimCamValueError(
                f"A RawExposure holds ADU as uint16, like a camera; got an image of dtype "
                f"{self.image.array.dtype}. Convert with np.clip(array, 0, 65535).astype(np.uint16)."
            )

    # -- convenience -----------------------------------------------------------------------------

    @property
    def geometry(self) -> DetectorGeometry:
        """The detector geometry, recovered from the detector's amplifiers."""
        return _geometry_of(self.detector)

    @property
    def amplifier_names(self) -> list[str]:
        """Names of the detector's amplifiers."""
        return [amp.name for amp in self.detector.amplifiers]

    def amplifier(self, name: str | int) -> Amplifier:
        """Return one of the detector's `~lsst.images.cameras.Amplifier` objects by name or index.

        Parameters
        ----------
        name
            Amplifier name (``"C01"``) or index.

        Returns
        -------
        amplifier
            The amplifier.
        """
        return _find_amp(self.detector, name)

    def amplifier_image(self, name: str | int) -> Image:
        """Return one amplifier's raw segment (pre-scan, data, overscans) as a view of ``image``.

        Parameters
        ----------
        name
            Amplifier name (``"C01"``) or index.

        Returns
        -------
        segment
            A view of ``image``.
        """
        amp = self.amplifier(name)
        assert amp.assembled_raw_geometry is not None
        return self.image[amp.assembled_raw_geometry.bbox]

    def __repr__(self) -> str:
        info = self.obs_info
        exptime = info.exposure_time.to_value("s") if info.exposure_time is not None else float("nan")
        return (
            f"<RawExposure {info.observation_id} detector {self.detector.id} ({self.detector.name}) "
            f"{info.physical_filter} {exptime:.1f} s {self.image.bbox}>"
        )

    def _table(self) -> Table:
        info = self.obs_info
        rows: list[Sequence[Any]] = [
            ["observation_id", info.observation_id],
            ["exposure_id", info.exposure_id],
            ["detector", f"{self.detector.id} ({self.detector.name})"],
            ["physical_filter", info.physical_filter],
            ["exposure_time", info.exposure_time],
            ["datetime_begin", info.datetime_begin.isot if info.datetime_begin is not None else None],
            ["tracking_radec", info.tracking_radec.to_string("decimal") if info.tracking_radec else None],
            ["observation_type", info.observation_type],
            ["image", f"{self.image.bbox} {self.image.array.dtype}"],
            ["amplifiers", ", ".join(self.amplifier_names)],
        ]
        return Table(["property", "value"], rows, title="RawExposure")

    def __str__(self) -> str:
        return str(self._table())

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()

    # -- FITS ------------------------------------------------------------------------------------

    def to_hdulist(self, *, compress: bool = True) -> astropy.io.fits.HDUList:
        """Return the camera-style multi-extension FITS file as an `astropy.io.fits.HDUList`.

        Parameters
        ----------
        compress
            Tile-compress each amplifier HDU with RICE_1 (lossless for integers, as many
            observatories store raws); `False` writes plain image HDUs.
        """
        from astropy.io import fits

        full = self.geometry.raw_width, self.geometry.raw_height
        if (self.image.bbox.x.size, self.image.bbox.y.size) != full or self.image.bbox.start != (0, 0):
            raise SimCamValueError(
                f"Only a whole raw frame can be written, got {self.image.bbox}; read the file with "
                "amplifier=/bbox= instead of writing a part."
            )
        primary = fits.PrimaryHDU()
        header = primary.header
        for key, value in self.metadata.items():
            if key not in _STRUCTURAL:
                header[key] = value
        _obs_info_to_header(self.obs_info, header)
        header["DETECTOR"] = (self.detector.name, "detector name")
        header["DET-ID"] = (self.detector.id, "detector id")
        header["DET-SER"] = (self.detector.serial, "detector serial")
        for card, (field, comment) in _GEOMETRY_CARDS.items():
            header[card] = (getattr(self.geometry, field), comment)
        hdus: list[Any] = [primary]
        for amp in self.detector.amplifiers:
            asm = amp.assembled_raw_geometry
            una = amp.unassembled_raw_geometry
            calibs = amp.nominal_calibrations
            assert asm is not None and una is not None and calibs is not None
            pixels = self.image[asm.bbox].array
            if una.flip_x:  # stored in readout order
                pixels = pixels[:, ::-1]
            amp_header = fits.Header()
            amp_header["EXTNAME"] = amp.name
            amp_header["AMPNAME"] = (amp.name, "amplifier name")
            amp_header["DATASEC"] = (fits_section(una.data_bbox), "imaging section in this HDU")
            amp_header["BIASSEC"] = (fits_section(una.serial_overscan_bbox), "serial overscan")
            amp_header["PRESEC"] = (
                (fits_section(una.prescan_bbox), "serial pre-scan") if una.prescan_bbox else ""
            )
            amp_header["PARSEC"] = (fits_section(una.parallel_overscan_bbox), "parallel overscan")
            amp_header["DETSEC"] = (
                fits_section(amp.bbox) if not una.flip_x else _flipped_section(amp.bbox),
                "where DATASEC goes in the assembled detector",
            )
            amp_header["GAIN"] = (calibs.gain, "nominal gain (e-/ADU)")
            amp_header["RDNOISE"] = (calibs.read_noise, "nominal read noise (e-)")
            amp_header["SATURATE"] = (calibs.saturation, "saturation level (ADU)")
            amp_header["BUNIT"] = "adu"
            data = np.ascontiguousarray(pixels, dtype=np.uint16)
            if compress:
                hdus.append(fits.CompImageHDU(data, header=amp_header, compression_type="RICE_1"))
            else:
                hdus.append(fits.ImageHDU(data, header=amp_header))
        return fits.HDUList(hdus)

    def write_fits(self, path: str | os.PathLike[str], *, compress: bool = True) -> None:
        """Write the raw as a camera writes it: one HDU per amplifier (see `to_hdulist`).

        Parameters
        ----------
        path
            File to write (overwritten if it exists).
        compress
            RICE_1 tile compression of the amplifier HDUs (lossless).
        """
        self.to_hdulist(compress=compress).writeto(os.fspath(path), overwrite=True, checksum=True)

    @classmethod
    def read_fits(
        cls,
        path: str | os.PathLike[str],
        *,
        amplifier: str | int | None = None,
        bbox: Box | None = None,
    ) -> RawExposure:
        """Read a raw FITS file written by `write_fits` (or by the demo repository builder).

        Parameters
        ----------
        path
            The file.
        amplifier
            Read only this amplifier (name such as ``"C01"`` or index): the image is that
            amplifier's raw segment, in full-frame coordinates.
        bbox
            Read only this part of the raw frame (full-frame coordinates); only the amplifier HDUs
            that overlap it are read.

        Returns
        -------
        raw
            The raw exposure (or the requested part of it).

        Raises
        ------
        SimCamValueError
            For an unknown amplifier or a ``bbox`` outside the raw frame.
        """
        from astropy.io import fits
        from lsst.images import Box, Image

        with fits.open(os.fspath(path), memmap=False, do_not_scale_image_data=False) as hdul:
            header = hdul[0].header
            geometry = _geometry_from_header(header)
            detector = make_detector(int(header["DET-ID"]), geometry=geometry)
            full = Box.factory[0 : geometry.raw_height, 0 : geometry.raw_width]
            if amplifier is not None:
                amp = _find_amp(detector, amplifier)
                assert amp.assembled_raw_geometry is not None
                target = amp.assembled_raw_geometry.bbox
                if bbox is not None:
                    target = _intersection(target, bbox, full)
            elif bbox is not None:
                target = _intersection(full, bbox, full)
            else:
                target = full
            array = np.zeros(target.shape, dtype=np.uint16)
            for amp in detector.amplifiers:
                asm = amp.assembled_raw_geometry
                una = amp.unassembled_raw_geometry
                assert asm is not None and una is not None
                overlap = _overlap(asm.bbox, target)
                if overlap is None:
                    continue
                pixels = hdul[amp.name].data
                if una.flip_x:
                    pixels = pixels[:, ::-1]
                ys = slice(overlap.y.start - asm.bbox.y.start, overlap.y.stop - asm.bbox.y.start)
                xs = slice(overlap.x.start - asm.bbox.x.start, overlap.x.stop - asm.bbox.x.start)
                array[
                    overlap.y.start - target.y.start : overlap.y.stop - target.y.start,
                    overlap.x.start - target.x.start : overlap.x.stop - target.x.start,
                ] = pixels[ys, xs]
            obs_info = _obs_info_from_header(header, geometry)
            metadata = {
                key: header[key]
                for key in header
                if key
                and key not in _STRUCTURAL
                and key not in _OBS_CARDS
                and key not in _GEOMETRY_CARDS
                and key not in ("DETECTOR", "DET-ID", "DET-SER", "COMMENT", "HISTORY")
            }
        return cls(Image(array, bbox=target), detector, obs_info, metadata)


def _overlap(a: Box, b: Box) -> Box | None:
    from lsst.images import NoOverlapError

    try:
        return a.intersection(b)
    except NoOverlapError:
        return None


def _intersection(a: Box, b: Box, full: Box) -> Box:
    overlap = _overlap(a, b)
    if overlap is None:
        raise SimCamValueError(f"bbox {b} does not overlap the requested raw region {a} (raw frame: {full}).")
    return overlap


def _flipped_section(box: Box) -> str:
    # DETSEC with x1 > x2: the HDU's columns run right-to-left on the detector (IRAF convention).
    return f"[{box.x.stop}:{box.x.start + 1},{box.y.start + 1}:{box.y.stop}]"


def _find_amp(detector: Detector, name: str | int) -> Amplifier:
    amps = detector.amplifiers
    if isinstance(name, int) and not isinstance(name, bool):
        if 0 <= name < len(amps):
            return amps[name]
    else:
        for amp in amps:
            if amp.name == name:
                return amp
    raise SimCamValueError(
        f"Detector {detector.id} has no amplifier {name!r}; it has {[a.name for a in amps]} "
        f"(or indices 0..{len(amps) - 1})."
    )


def _geometry_of(detector: Detector) -> DetectorGeometry:
    amps = detector.amplifiers
    una = amps[0].unassembled_raw_geometry
    assert una is not None and una.prescan_bbox is not None
    return _lookup_geometry(
        n_amps=len(amps),
        amp_width=una.data_bbox.x.size,
        amp_height=una.data_bbox.y.size,
        prescan=una.prescan_bbox.x.size,
        serial_overscan=una.serial_overscan_bbox.x.size,
        parallel_overscan=una.parallel_overscan_bbox.y.size,
        name=detector.serial.split("-")[1] if detector.serial.count("-") >= 2 else "custom",
    )


def _lookup_geometry(**fields: Any) -> DetectorGeometry:
    from .camera import GEOMETRIES

    candidate = DetectorGeometry(**fields)
    preset = GEOMETRIES.get(candidate.name)
    return preset if preset == candidate else candidate


def _geometry_from_header(header: Mapping[str, Any]) -> DetectorGeometry:
    try:
        fields = {field: header[card] for card, (field, _) in _GEOMETRY_CARDS.items()}
    except KeyError as err:
        raise SimCamValueError(
            f"Not a SimCam raw: the primary header has no {err.args[0]!r} card. "
            "SimCam raws are written by RawExposure.write_fits."
        ) from None
    fields = {k: (str(v) if k == "name" else int(v)) for k, v in fields.items()}
    return _lookup_geometry(**fields)


def _obs_info_to_header(info: ObservationInfo, header: astropy.io.fits.Header) -> None:
    missing = [
        name
        for name in (
            "datetime_begin",
            "datetime_end",
            "exposure_time",
            "dark_time",
            "tracking_radec",
            "observation_type",
        )
        if getattr(info, name) is None
    ]
    if missing:
        raise SimCamValueError(f"The raw's ObservationInfo lacks {missing}; make it with make_obs_info.")
    assert info.datetime_begin is not None and info.datetime_end is not None
    assert info.exposure_time is not None and info.dark_time is not None
    assert info.tracking_radec is not None and info.observation_type is not None
    header["TELESCOP"] = info.telescope
    header["INSTRUME"] = info.instrument
    header["EXP-ID"] = (info.exposure_id, "exposure id (YYYYMMDD * 100000 + SEQNUM)")
    header["OBSID"] = info.observation_id
    header["GROUPID"] = info.exposure_group
    header["DAYOBS"] = (info.observing_day, "observing day (YYYYMMDD)")
    header["SEQNUM"] = info.observation_counter
    header["DATE-OBS"] = (info.datetime_begin.utc.isot, "start of exposure (UTC)")
    header["DATE-END"] = (info.datetime_end.utc.isot, "end of exposure (UTC)")
    header["MJD-OBS"] = (info.datetime_begin.utc.mjd, "start of exposure (MJD, UTC)")
    header["EXPTIME"] = (info.exposure_time.to_value("s"), "exposure time (s)")
    header["DARKTIME"] = (info.dark_time.to_value("s"), "dark time (s)")
    header["FILTER"] = (info.physical_filter, "physical filter")
    header["RA"] = (info.tracking_radec.ra.deg, "telescope pointing RA (deg, ICRS)")
    header["DEC"] = (info.tracking_radec.dec.deg, "telescope pointing Dec (deg, ICRS)")
    header["RADESYS"] = "ICRS"
    header["OBJECT"] = info.object
    header["IMAGETYP"] = info.observation_type.upper()
    header["OBSREASN"] = info.observation_reason
    header["PROGRAM"] = info.science_program
    header["AIRMASS"] = info.boresight_airmass
    header["SIMULATE"] = (True, "simulated by stackclub.simcam")


def _obs_info_from_header(header: Mapping[str, Any], geometry: DetectorGeometry) -> ObservationInfo:
    # What an obs package's MetadataTranslator does, for SimCam's few cards.
    return make_obs_info(
        exposure_id=int(header["EXP-ID"]),
        detector_id=int(header["DET-ID"]),
        physical_filter=str(header["FILTER"]),
        exposure_time=float(header["EXPTIME"]),
        dark_time=float(header["DARKTIME"]) if "DARKTIME" in header else None,
        datetime_begin=str(header["DATE-OBS"]),
        ra=float(header["RA"]),
        dec=float(header["DEC"]),
        observation_type=str(header["IMAGETYP"]).lower(),
        object_name=str(header["OBJECT"]),
        airmass=float(header["AIRMASS"]),
        observation_reason=str(header.get("OBSREASN", "science")),
        science_program=str(header.get("PROGRAM", "stackclub")),
        geometry=geometry,
    )
