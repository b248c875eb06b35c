"""`SimCam`, the simulated camera as a real `lsst.pipe.base.Instrument`.

An obs package (``obs_subaru`` for HSC, ``obs_lsst`` for LSSTCam) defines one of these per camera;
it is how a Butler repository learns the instrument's name, detectors and filters::

    butler register-instrument REPO stackclub.simcam.instrument.SimCam

does the same as ``SimCam().register(butler.registry)``.
"""

from __future__ import annotations

__all__ = ("SimCam",)

from typing import TYPE_CHECKING, Any

from lsst.pipe.base import Instrument

from .camera import DEFAULT_GEOMETRY, SIMCAM, DetectorGeometry, make_detector

if TYPE_CHECKING:
    from lsst.daf.butler import DataId, FormatterV2, Registry
    from lsst.images.cameras import Detector

#: Largest exposure/visit id + 1: ids are YYYYMMDD * 100000 + sequence number.
EXPOSURE_MAX = 30000101_00000
#: The one-to-one visit system: each visit is one exposure (Rubin's visit system 0).
VISIT_SYSTEM = (0, "one-to-one")


class SimCam(Instrument):
    """The simulated HSC-like camera of Stack Club (see `stackclub.simcam.camera`).

    Its constructor is `~lsst.pipe.base.Instrument`'s: ``collection_prefix`` is the prefix of the
    instrument's collections (default ``"SimCam"``: ``SimCam/raw/all`` ...).

    Examples
    --------
    >>> SimCam.getName(), SimCam().makeDefaultRawIngestRunName(), SimCam().makeCalibrationCollectionName()
    ('SimCam', 'SimCam/raw/all', 'SimCam/calib')
    """

    @classmethod
    def getName(cls) -> str:
        """Return the instrument's short (dimension) name, ``"SimCam"``."""
        return SIMCAM.name

    def register(self, registry: Registry, *, update: bool = False) -> None:
        """Insert the instrument, its physical filters (with bands) and its detectors into a registry.

        Idempotent: records that exist and agree are left alone.

        Parameters
        ----------
        registry
            The repository's registry (``butler.registry``).
        update
            Update existing records that differ instead of raising
            ``ConflictingDefinitionError``.
        """
        name = self.getName()
        with registry.transaction():
            registry.syncDimensionData(
                "instrument",
                {
                    "name": name,
                    "detector_max": SIMCAM.n_detectors,
                    "visit_max": EXPOSURE_MAX,
                    "exposure_max": EXPOSURE_MAX,
                    "visit_system": VISIT_SYSTEM[0],
                    "class_name": f"{type(self).__module__}.{type(self).__qualname__}",
                },
                update=update,
            )
            for band, physical_filter in SIMCAM.physical_filters.items():
                registry.syncDimensionData(
                    "physical_filter",
                    {"instrument": name, "name": physical_filter, "band": band},
                    update=update,
                )
            for detector_id in range(SIMCAM.n_detectors):
                full_name = SIMCAM.detector_name(detector_id)
                raft, name_in_raft = full_name.split("_")
                registry.syncDimensionData(
                    "detector",
                    {
                        "instrument": name,
                        "id": detector_id,
                        "full_name": full_name,
                        "raft": raft,
                        "name_in_raft": name_in_raft,
                        "purpose": "SCIENCE",
                    },
                    update=update,
                )
            registry.syncDimensionData(
                "visit_system",
                {"instrument": name, "id": VISIT_SYSTEM[0], "name": VISIT_SYSTEM[1]},
                update=update,
            )

    def getRawFormatter(self, dataId: DataId) -> type[FormatterV2]:
        """Return the formatter of raw files: `stackclub.simcam.formatters.RawFormatter`.

        Parameters
        ----------
        dataId
            The raw's data ID (every raw has the same formatter).
        """
        from .formatters import RawFormatter

        return RawFormatter

    def make_detector(self, detector_id: int, geometry: DetectorGeometry = DEFAULT_GEOMETRY) -> Detector:
        """Return one of the camera's detectors (see `stackclub.simcam.camera.make_detector`).

        Parameters
        ----------
        detector_id
            The detector id, 0-8.
        geometry
            The detector's size.
        """
        return make_detector(detector_id, geometry=geometry)

    def __repr__(self) -> str:
        return f"SimCam(collection_prefix={self.collection_prefix!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.collection_prefix,))
