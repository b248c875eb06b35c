"""The Butler side of SimCam's raws: `RawFormatter` and the repository configuration.

`RawFormatter` is a daf_butler ``FormatterV2`` that reads a camera-style raw FITS file (one HDU per
amplifier) into a `~stackclub.simcam.raw.RawExposure`; it is what ``butler.ingest`` records for each
raw file, as an obs package's raw formatter is. Read parameters: ``amplifier`` (name or index: read
that amplifier's HDU only) and ``bbox`` (an `lsst.images.Box` in raw-frame coordinates); derived
components ``image``, ``detector`` and ``obs_info``.

`SEED_CONFIG` is the piece of repository configuration that teaches a repository about the
``RawExposure`` storage class and the standalone lsst-images datasets; the demo repository builder
passes it to ``Butler.makeRepo`` (the Python form of ``butler create --seed-config``).
"""

from __future__ import annotations

__all__ = (
    "SEED_CONFIG",
    "RawFormatter",
)

from typing import Any, ClassVar

from lsst.daf.butler import FormatterV2
from lsst.resources import ResourcePath

from .raw import RawExposure

_GENERIC = "lsst.images.formatters.GenericFormatter"

#: Repository configuration added at ``butler create`` time (seed config).
SEED_CONFIG: dict[str, Any] = {
    "storageClasses": {
        "RawExposure": {
            "pytype": "stackclub.simcam.raw.RawExposure",
            "parameters": ["amplifier", "bbox"],
            "derivedComponents": {
                "image": "ImageV2",
                "detector": "DetectorV2",
                "obs_info": "ObservationInfo",
            },
        },
    },
    "datastore": {
        "formatters": {
            "RawExposure": "stackclub.simcam.formatters.RawFormatter",
            # Standalone lsst-images objects need a formatter line (daf_butler ships none).
            "DetectorV2": {"formatter": _GENERIC, "parameters": {"format": "json"}},
            "PointSpreadFunction": {"formatter": _GENERIC, "parameters": {"format": "json"}},
            "BackgroundMap": {"formatter": _GENERIC, "parameters": {"format": "json"}},
        },
    },
}


class RawFormatter(FormatterV2):
    """Read and write SimCam raw files (multi-extension FITS, one HDU per amplifier).

    Examples
    --------
    Ingest a raw file written by `RawExposure.write_fits`, then read one amplifier::

        from lsst.daf.butler import DatasetRef, FileDataset
        ref = DatasetRef(raw_type, data_id, run="SimCam/raw/all")
        butler.ingest(FileDataset(path, [ref], formatter=RawFormatter), transfer="move")
        amp = butler.get(ref, parameters={"amplifier": "C01"})
    """

    default_extension: ClassVar[str] = ".fits"
    supported_extensions: ClassVar[frozenset[str]] = frozenset({".fits", ".fits.fz"})
    supported_write_parameters: ClassVar[frozenset[str]] = frozenset({"compress"})
    can_read_from_local_file: ClassVar[bool] = True

    def read_from_local_file(self, path: str, component: str | None = None, expected_size: int = -1) -> Any:
        """Read the raw (or the part and component asked for) from a local file.

        Parameters
        ----------
        path
            The local file.
        component
            The component asked for, or `None` for the whole raw.
        expected_size
            The size the datastore expects (unused).
        """
        parameters = dict(self.file_descriptor.parameters or {})
        raw = RawExposure.read_fits(
            path, amplifier=parameters.pop("amplifier", None), bbox=parameters.pop("bbox", None)
        )
        if component is None:
            return raw
        return getattr(raw, component)

    def write_local_file(self, in_memory_dataset: Any, uri: ResourcePath) -> None:
        """Write a `RawExposure` as a camera-style FITS file (``butler.put`` of a raw).

        Parameters
        ----------
        in_memory_dataset
            The `RawExposure`.
        uri
            Where to write it.
        """
        in_memory_dataset.write_fits(uri.ospath, compress=bool(self.write_parameters.get("compress", True)))
