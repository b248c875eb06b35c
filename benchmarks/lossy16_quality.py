"""What ``lossy16`` (Rubin's quantized write recipe) does to the pipeline's figures, per detector-visit.

For each simulated exposure (in memory, as ``benchmarks/quality.py`` makes them) it runs isr and
calibrateImage, then puts the images through a repository configured like the demo one
(``stackclub.simcam.datastore.butler_roundtrip``) and prints, against the in-memory images:

- the quantization noise of ``preliminary_visit_image`` (stored ``lossy16``) as a fraction of the
  image noise (theory: 1/(16 sqrt(12)) = 0.018), and its mean (bias) in the same unit;
- the ISR residual RMS measured on the returned image over the one measured in memory (sky pixels
  away from sources and masks, 5-sigma clipped, as quality.py does);
- ``post_isr_image`` (lossless in the demo repository): whether it comes back bit for bit; and, if it
  were stored ``lossy16`` too, what calibrateImage run on it would change: zero-point (mmag), the
  WCS at the detector's stars (mas), PSF sigma (%) and the number of stars found.

Run: ``.venv/bin/python benchmarks/lossy16_quality.py [--geometry default] [--detectors 4] [--bands r z]``.
"""

from __future__ import annotations

import argparse
import logging
import math
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.getLogger("stackclub").setLevel(logging.WARNING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", default="default", choices=["small", "default", "hsc"])
    parser.add_argument("--detectors", type=int, nargs="+", default=[4])
    parser.add_argument("--bands", nargs="+", default=["r", "z"])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    from astropy.stats import sigma_clip
    from astropy.table import vstack

    from stackclub.pipe import CalibrateImageTask, IsrTask
    from stackclub.simcam import (  # the demo repository's refcat too, without a Butler
        field_radius,
        make_refcat,
        make_truth_catalog,
        make_visits,
        seeded_rng,
        simulate_exposure,
    )
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.camera import GEOMETRIES
    from stackclub.simcam.datastore import butler_roundtrip

    geom = GEOMETRIES[args.geometry]
    seed = args.seed
    visits = make_visits(seeded_rng(seed, "visits"), len(args.bands), tuple(args.bands))
    catalog = make_truth_catalog(
        seeded_rng(seed, "catalog"), center=(visits[0].ra, visits[0].dec), radius_deg=field_radius(geom)
    )
    refcat = vstack(list(make_refcat(catalog, seed).values()))
    print(f"Geometry {geom.name} ({geom.height} x {geom.width}), seed {seed}\n")
    print(
        f"{'visit':>14s} {'band':>4s} {'det':>3s} | {'pvi q/sigma':>11s} {'bias/sigma':>10s} "
        f"{'ISR rms':>8s} | "
        f"{'post exact':>10s} | if post_isr_image were lossy16: {'dZP mmag':>8s} {'dWCS mas':>8s} "
        f"{'dPSF %':>7s} {'stars':>9s}"
    )

    def clipped_rms(values: np.ndarray) -> float:
        return float(np.std(sigma_clip(values, sigma=5, maxiters=3).compressed()))

    for visit in visits:
        for det in args.detectors:
            raw, _truth = simulate_exposure(geom, detector_id=det, visit=visit, catalog=catalog, seed=seed)
            calibs = simulate_calibs(geom, detector_id=det, bands=(visit.band,), seed=seed)
            pf = visit.physical_filter
            post = (
                IsrTask()
                .run(
                    raw,
                    bias=calibs["bias"],
                    dark=calibs["dark"],
                    flat=calibs["flat"][pf],
                    fringes=calibs.get("fringe", {}).get(pf),
                    defects=calibs["defects"],
                )
                .outputExposure
            )
            calibrate = CalibrateImageTask()
            kw = dict(detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=[refcat])
            result = calibrate.run(post, **kw)
            exp = result.exposure
            back = butler_roundtrip(exp, "preliminary_visit_image")
            sigma = np.sqrt(np.median(exp.variance.array))
            diff = back.image.array.astype(float) - exp.image.array
            use = exp.mask.array[..., 0] == 0
            isr_ratio = clipped_rms(back.image.array[use]) / clipped_rms(exp.image.array[use])
            post_back = butler_roundtrip(post, "post_isr_image")
            exact = bool(np.array_equal(post_back.image.array, post.image.array))
            # The alternative: post_isr_image stored lossy16 too, calibrateImage run on what comes back.
            lossy_post = butler_roundtrip(post, "preliminary_visit_image", storage_class="MaskedImageV2")
            alt = calibrate.run(lossy_post, **kw)
            d_zp = (alt.photometry.zeroPoint - result.photometry.zeroPoint) * 1000
            sx, sy = np.asarray(result.stars["x"]), np.asarray(result.stars["y"])
            ra0, dec0 = result.astrometry.wcs.pixel_to_world_values(sx, sy)
            ra1, dec1 = alt.astrometry.wcs.pixel_to_world_values(sx, sy)
            d_wcs = float(np.max(np.hypot((ra1 - ra0) * np.cos(np.radians(dec0)), dec1 - dec0))) * 3.6e6
            d_psf = 100 * (alt.exposure.psf.sigma / exp.psf.sigma - 1)
            print(
                f"{visit.exposure_id:14d} {visit.band:>4s} {det:3d} | {np.std(diff) / sigma:11.4f} "
                f"{np.mean(diff) / sigma:+10.5f} {isr_ratio:8.5f} | {str(exact):>10s} | {'':31s} "
                f"{d_zp:+8.3f} {d_wcs:8.2f} {d_psf:+7.3f} {len(result.stars):4d}/{len(alt.stars):4d}"
            )
    print(f"\nTheory for uniform steps of sigma/16: {1 / (16 * math.sqrt(12)):.4f} sigma.")


if __name__ == "__main__":
    main()
