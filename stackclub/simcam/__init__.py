"""SimCam: a simulated HSC-like camera and the demo Butler repository every notebook uses.

Everything is built from Rubin's own types (`lsst.images`, `lsst.daf.butler`, `lsst.pipe.base`);
the truth behind every pixel is kept, so learners and tests can check what the pipeline did.

- `stackclub.simcam.camera`: the one description of the camera (`SIMCAM`, `make_detector`, ...).
- `stackclub.simcam.raw`: `RawExposure`, the raw (unassembled) exposure type, and its FITS files.
- `stackclub.simcam.seeds`: `seeded_rng`, one reproducible random stream per purpose.
- `stackclub.simcam.truth`: the truth catalog of the field, and what falls on each detector.
- `stackclub.simcam.visits`: the visits, their true conditions and each detector's true WCS.
- `stackclub.simcam.signature`: `DetectorSignature`, each detector's fixed instrument signature.
- `stackclub.simcam.sky` / `calibs`: numpy simulators of the raw frames and the calibrations.
- `stackclub.simcam.instrument`: `SimCam`, an `lsst.pipe.base.Instrument`.
- `stackclub.simcam.refcat`: `make_refcat`, the reference catalog (htm7 shards) made from the truth.
- `stackclub.simcam.visit_records`: `define_visits`, the exposure and visit records of a repository.
- `stackclub.simcam.repo`: `build_demo_repo` and `demo_repo`.

Names are imported on first use (``lazy_loader``, from the stub ``__init__.pyi``, one line per
name), so ``import stackclub.simcam`` is quick.
"""

from __future__ import annotations

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
