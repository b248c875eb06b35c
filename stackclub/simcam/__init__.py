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
    "BuildReport",
    "DetectorGeometry",
    "DetectorSignature",
    "RawExposure",
    "RawFormatter",
    "SimCam",
    "Visit",
    "amp_boxes",
    "assembled_bbox",
    "build_demo_repo",
    "default_demo_repo_path",
    "demo_repo",
    "make_detector",
    "make_obs_info",
    "make_truth_catalog",
    "make_visits",
    "raw_bbox",
    "seeded_rng",
    "simulate_calibs",
    "simulate_exposure",
    "true_wcs",
)

_LAZY: dict[str, str] = {
    "BuildReport": "stackclub.simcam.repo",
    "DEFAULT_GEOMETRY": "stackclub.simcam.camera",
    "DetectorGeometry": "stackclub.simcam.camera",
    "DetectorSignature": "stackclub.simcam.sky",
    "HSC_GEOMETRY": "stackclub.simcam.camera",
    "RawExposure": "stackclub.simcam.raw",
    "RawFormatter": "stackclub.simcam.formatters",
    "SIMCAM": "stackclub.simcam.camera",
    "SMALL_GEOMETRY": "stackclub.simcam.camera",
    "SimCam": "stackclub.simcam.instrument",
    "Visit": "stackclub.simcam.sky",
    "amp_boxes": "stackclub.simcam.camera",
    "assembled_bbox": "stackclub.simcam.camera",
    "build_demo_repo": "stackclub.simcam.repo",
    "default_demo_repo_path": "stackclub.simcam.repo",
    "demo_repo": "stackclub.simcam.repo",
    "make_detector": "stackclub.simcam.camera",
    "make_obs_info": "stackclub.simcam.raw",
    "make_truth_catalog": "stackclub.simcam.sky",
    "make_visits": "stackclub.simcam.sky",
    "raw_bbox": "stackclub.simcam.camera",
    "seeded_rng": "stackclub.simcam.sky",
    "simulate_calibs": "stackclub.simcam.calibs",
    "simulate_exposure": "stackclub.simcam.sky",
    "true_wcs": "stackclub.simcam.sky",
}

if TYPE_CHECKING:  # pragma: no cover
    from .calibs import simulate_calibs
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
    from .formatters import RawFormatter
    from .instrument import SimCam
    from .raw import RawExposure, make_obs_info
    from .repo import BuildReport, build_demo_repo, default_demo_repo_path, demo_repo
    from .sky import (
        DetectorSignature,
        Visit,
        make_truth_catalog,
        make_visits,
        seeded_rng,
        simulate_exposure,
        true_wcs,
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
