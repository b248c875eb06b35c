"""SimCam: a simulated HSC-like camera and the demo Butler repository every notebook uses.

Everything is built from Rubin's own types (`lsst.images`, `lsst.daf.butler`, `lsst.pipe.base`);
the truth behind every pixel is kept, so learners and tests can check what the pipeline did.

- `stackclub.simcam.camera`: the one description of the camera (`SIMCAM`, `make_detector`, ...).
- `stackclub.simcam.raw`: `RawExposure`, the raw (unassembled) exposure type, and its FITS files.
- `stackclub.simcam.sky` / `calibs`: numpy simulators of the sky, the frames and the calibrations.
- `stackclub.simcam.instrument`: `SimCam`, an `lsst.pipe.base.Instrument`.
- `stackclub.simcam.repo`: `build_demo_repo` and `demo_repo`.

Names are imported on first use, so ``import stackclub.simcam`` is quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = (
    "DEFAULT_GEOMETRY",
    "HSC_GEOMETRY",
    "SIMCAM",
    "SMALL_GEOMETRY",
    "DetectorGeometry",
    "amp_boxes",
    "assembled_bbox",
    "make_detector",
    "raw_bbox",
)

_LAZY: dict[str, str] = {
    "DEFAULT_GEOMETRY": "stackclub.simcam.camera",
    "DetectorGeometry": "stackclub.simcam.camera",
    "HSC_GEOMETRY": "stackclub.simcam.camera",
    "SIMCAM": "stackclub.simcam.camera",
    "SMALL_GEOMETRY": "stackclub.simcam.camera",
    "amp_boxes": "stackclub.simcam.camera",
    "assembled_bbox": "stackclub.simcam.camera",
    "make_detector": "stackclub.simcam.camera",
    "raw_bbox": "stackclub.simcam.camera",
}

if TYPE_CHECKING:  # pragma: no cover
    from .camera import (
        DEFAULT_GEOMETRY,
        HSC_GEOMETRY,
        SIMCAM,
        SMALL_GEOMETRY,
        DetectorGeometry,
        amp_boxes,
        assembled_bbox,
        make_detector,
        raw_bbox,
    )


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'stackclub.simcam' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
