"""Building the SimCam demo repository: target < 60 s for the default (3 visits x 4 detectors, r + z).

Measured in one run, in temporary folders:

- the default build (``build_demo_repo``), its size on disk and a second, no-op run (idempotence);
- where the time goes: simulating one raw frame, writing it as a camera-style FITS file, and
  ``butler.put`` of one 2048 x 2048 calibration masked image with the builder's RICE_1
  quantized ("lossy") compression against the datastore's default lossless GZIP_2;
- peer: ``astropy.io.fits`` write + read of the same raw pixels as one plain HDU (the cheapest
  way to store a frame), and the lsst-images FITS writer with no compression at all.

Run: ``.venv/bin/python benchmarks/demo_repo_build.py`` (``--quick``: 1 visit x 1 detector,
small geometry, for a smoke test).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _timing import best  # benchmarks/_timing.py (this script's folder is on sys.path)


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny repository (smoke test)")
    args = parser.parse_args()
    settings: dict[str, Any] = (
        {"visits": 1, "detectors": 1, "geometry": "small"} if args.quick else {"visits": 3, "detectors": 4}
    )

    from astropy.io import fits
    from lsst.daf.butler import Butler
    from lsst.images.fits import FitsCompressionOptions, write

    from stackclub.simcam import DetectorSignature, simulate_exposure
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.camera import GEOMETRIES
    from stackclub.simcam.repo import _fast_recipe, build_demo_repo

    geometry = GEOMETRIES[settings.get("geometry", "default")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        t0 = time.perf_counter()
        report = build_demo_repo(root, progress=False, **settings)
        t_build = time.perf_counter() - t0
        size = _du(root)
        t_again = best(lambda: build_demo_repo(root, progress=False, **settings), repeat=1)

        sig = DetectorSignature(1, 0, geometry)
        simulate_exposure(geometry, detector_id=0, seed=1, signature=sig)  # warm-up (imports, caches)
        t_sim = best(lambda: simulate_exposure(geometry, detector_id=0, seed=1, signature=sig))
        raw, _ = simulate_exposure(geometry, detector_id=0, seed=1, signature=sig)
        raw_path = Path(tmp) / "raw.fits"
        t_raw_write = best(lambda: raw.write_fits(raw_path))
        plain = Path(tmp) / "plain.fits"

        def astropy_peer() -> None:
            fits.writeto(plain, raw.image.array, overwrite=True)
            fits.getdata(plain)

        t_peer = best(astropy_peer)

        flat = simulate_calibs(geometry, detector_id=0, bands=("r",), seed=1, signature=sig)["flat"][
            "SimCam-R"
        ]
        from lsst.daf.butler import DatasetType

        butler = Butler.from_config(str(root), writeable=True)
        # A dataset type the repository config does not map to the fast recipe: the datastore default.
        butler.registry.registerDatasetType(
            DatasetType("bench_flat", ("instrument", "detector"), "MaskedImageV2", universe=butler.dimensions)
        )
        counter = iter(range(1000))

        def put_lossless() -> None:
            run = f"bench/{next(counter)}"
            butler.registry.registerRun(run)
            butler.put(flat, "bench_flat", instrument="SimCam", detector=0, run=run)

        t_put = best(put_lossless, repeat=2)
        butler.close()
        fast = {k: FitsCompressionOptions.model_validate(v) for k, v in _fast_recipe(geometry).items()}
        row_tiles = {k: v.model_copy(update={"tile_shape": None}) for k, v in fast.items()}
        recipes = {
            "lossless GZIP_2": None,
            "lossy RICE_1 /16, row tiles": row_tiles,
            "lossy, 64-row tiles (ours)": fast,
            "no compression": {k: None for k in ("image", "mask", "variance")},
        }
        writes: dict[str, tuple[float, int]] = {}
        for name, options in recipes.items():
            out = Path(tmp) / "calib.fits"

            def run(options: Any = options, out: Path = out) -> None:
                if out.exists():
                    os.remove(out)
                write(flat, out, compression_options=options, compression_seed=7)

            writes[name] = (best(run, repeat=2), out.stat().st_size)

    label = (
        "quick (1 visit x 1 detector, 256x256)"
        if args.quick
        else "default (3 visits x 4 detectors, 2048x2048)"
    )
    print(f"demo repository, {label}:")
    print(f"  build                          {t_build:7.1f} s   ({report.n_added} datasets; target < 60 s)")
    print(f"  size on disk                   {size / 2**20:7.1f} MiB")
    print(f"  second run (adds nothing)      {t_again:7.2f} s   = {t_again / t_build:.3f} x the build")
    print(f"one {geometry.width}x{geometry.height} detector (best of 3):")
    print(f"  simulate_exposure              {t_sim:7.3f} s")
    print(f"  RawExposure.write_fits (RICE)  {t_raw_write:7.3f} s   = {t_raw_write / t_peer:.1f} x peer")
    print(f"  peer: astropy write+read, 1 HDU{t_peer:7.3f} s")
    print(f"one {geometry.width}x{geometry.height} calibration masked image (lsst-images FITS writer):")
    base = writes["lossless GZIP_2"][0]
    for name, (t, nbytes) in writes.items():
        print(f"  {name:<28} {t:7.3f} s   {nbytes / 2**20:6.1f} MiB   = {t / base:.2f} x lossless")
    print(f"  butler.put, datastore default  {t_put:7.3f} s   (lossless GZIP_2, what the builder avoids)")


if __name__ == "__main__":
    main()
