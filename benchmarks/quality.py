"""Correctness of the teaching pipeline against the simulator's truth, per detector.

For each simulated SimCam exposure (in memory: ``simulate_exposure`` + ``simulate_calibs``, the
reference catalog as the demo repository makes it), runs ``IsrTask`` then ``CalibrateImageTask``
and prints:

- ISR residual RMS / pure-noise expectation (goal <= 1.05): post-ISR pixels minus the fitted sky,
  away from sources and masked pixels, against ``sqrt((sky*flat + dark*t + rn^2) / flat^2)``
  (5-sigma clipped, so faint undetected sources do not count);
- detection completeness at S/N >= 10 (goal >= 98 %) and purity (detections with a truth source
  within 2 px).  The S/N is that of an optimal measurement of each source with its true size: a
  galaxy covers (seeing^2 + its own size^2) / seeing^2 times the sky noise of a star, so a
  galaxy with a point-source S/N of 15 and a 1" profile has an S/N of ~5 and is not counted
  (before 2026-11-25 it was, and such galaxies were most of the z-band misses).  "blended":
  completeness among the S/N >= 10 sources with a brighter source within 10 px, which only the
  deblender (``star_deblend``) can find; "nChild": deblended children in the catalog.  Deblended
  parents (``deblend_nChild > 0``) are left out of these counts: their children stand for them;
- PSF FWHM error: the model's sigma, less the 1/12 px^2 of pixelization, against the true seeing;
- astrometric scatter (goal <= 0.02"): RMS distance between the fitted WCS at the measured
  centroids and the true positions of S/N > 50 stars;
- zero-point error (goal <= 5 mmag).

Run: ``.venv/bin/python benchmarks/quality.py [--geometry default] [--detectors 0 1] [--bands r z]``.
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
    parser.add_argument("--detectors", type=int, nargs="+", default=[4, 0])
    parser.add_argument("--bands", nargs="+", default=["r", "z"])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    from astropy.stats import sigma_clip
    from astropy.table import vstack

    from stackclub.pipe import CalibrateImageTask, IsrTask
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.camera import GEOMETRIES, SIMCAM, amp_boxes
    from stackclub.simcam.repo import _make_refcat  # the demo repository's refcat, without a Butler
    from stackclub.simcam.sky import (
        _field_radius,
        make_truth_catalog,
        make_visits,
        seeded_rng,
        simulate_exposure,
    )

    geom = GEOMETRIES[args.geometry]
    seed = args.seed
    visits = make_visits(seeded_rng(seed, "visits"), len(args.bands), tuple(args.bands))
    catalog = make_truth_catalog(
        seeded_rng(seed, "catalog"), center=(visits[0].ra, visits[0].dec), radius_deg=_field_radius(geom)
    )
    refcat = vstack(list(_make_refcat(catalog, seed).values()))
    header = (
        f"{'visit':>14s} {'band':>4s} {'det':>3s} {'ISR rms/exp':>11s} {'complete':>8s} {'blended':>8s} "
        f"{'nChild':>6s} {'purity':>7s} {'FWHM err':>8s} {'astrom':>7s} {'ZP err':>7s}"
    )
    print(f"Geometry {geom.name} ({geom.height} x {geom.width}), seed {seed}\n")
    print(header)
    print(
        f"{'':14s} {'':4s} {'':3s} {'goal<=1.05':>11s} {'>=98%':>8s} {'':8s} {'':6s} {'':7s} {'%':>8s} "
        f"{'<=0.02"':>7s} {'<=5mmag':>7s}"
    )
    for visit in visits:
        for det in args.detectors:
            raw, truth = simulate_exposure(geom, detector_id=det, visit=visit, catalog=catalog, seed=seed)
            calibs = simulate_calibs(geom, detector_id=det, bands=(visit.band,), seed=seed)
            pf = visit.physical_filter
            isr = IsrTask()
            post = isr.run(
                raw,
                bias=calibs["bias"],
                dark=calibs["dark"],
                flat=calibs["flat"][pf],
                fringes=isr.fringe.loadFringes(calibs.get("fringe", {}).get(pf), expId=visit.exposure_id),
                defects=calibs["defects"],
            ).outputExposure
            result = CalibrateImageTask().run(
                post, detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=[refcat]
            )
            cal = result.photometry.calibration
            exp = result.exposure
            # --- ISR residual against the pure-noise expectation.
            resid = exp.image.array / cal  # electrons, sky subtracted
            sky = post.image.array - resid
            flat = calibs["flat"][pf].image.array
            rn2, gain = np.empty_like(flat), np.empty_like(flat)
            for b in amp_boxes(raw.detector):
                ys, xs = b.assembled.slice_within(raw.detector.bbox)
                rn2[ys, xs] = b.read_noise**2
                gain[ys, xs] = b.gain
            dark = calibs["dark"].image.array * gain * visit.dark_time  # ADU/s of dark time -> electrons
            expected_var = (np.maximum(sky, 0) * flat + dark + rn2) / flat**2
            masked = exp.mask.array[..., 0] != 0  # any plane: DETECTED, BAD, SATURATED, COSMIC_RAY...
            use = ~masked
            clipped = sigma_clip(resid[use], sigma=5, maxiters=3)
            ratio = float(np.std(clipped.compressed()) / math.sqrt(np.mean(expected_var[use][~clipped.mask])))
            # --- Completeness and purity.
            sigma = visit.seeing_sigma_pixels
            f = np.asarray(truth["instFlux"], float)
            # Each source's true size (seeing convolved with the galaxy profile), from the catalog.
            row = np.searchsorted(np.asarray(catalog["id"]), np.asarray(truth["id"]))
            gal = np.asarray(catalog["sigma_arcsec"])[row] / SIMCAM.pixel_scale_arcsec
            e = np.asarray(catalog["ellipticity"])[row]
            area = np.sqrt((sigma**2 + gal**2 * (1 + e)) * (sigma**2 + gal**2 * (1 - e)))
            snr = f / np.sqrt(f + 4 * math.pi * area * (visit.sky_rate * visit.exptime + np.mean(rn2)))
            tx, ty = np.asarray(truth["x"]), np.asarray(truth["y"])
            ok = (
                (snr >= 10)
                & ~np.asarray(truth["is_saturated"])
                & (tx > 5)
                & (tx < geom.width - 6)
                & (ty > 5)
                & (ty < geom.height - 6)
            )
            dist = np.hypot(tx[:, None] - tx[None, :], ty[:, None] - ty[None, :])
            blended = ((dist < 10) & (f[None, :] > f[:, None])).any(axis=1)
            # Deblended parents are their children's sum: count the leaves (Rubin's isPrimary idea).
            stars = result.stars
            if "deblend_nChild" in stars.colnames:
                stars = stars[np.asarray(stars["deblend_nChild"]) == 0]
            sx, sy = np.asarray(stars["x"]), np.asarray(stars["y"])
            from scipy.spatial import cKDTree

            d_truth, _ = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([tx, ty]))
            found = d_truth < 2.0
            completeness = found[ok].mean()
            complete_blend = found[ok & blended].mean() if (ok & blended).any() else float("nan")
            n_child = int(np.sum(np.asarray(stars["parent"]) > 0)) if "parent" in stars.colnames else 0
            d_det, _ = cKDTree(np.column_stack([tx, ty])).query(np.column_stack([sx, sy]))
            purity = (d_det < 2.0).mean()
            # --- PSF.
            fwhm_true = visit.seeing_fwhm_arcsec / SIMCAM.pixel_scale_arcsec
            fwhm = 2 * math.sqrt(2 * math.log(2)) * math.sqrt(max(exp.psf.sigma**2 - 1 / 12, 0))
            # --- Astrometry against the truth.
            wcs = result.astrometry.wcs
            _, j = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([tx, ty]))
            bright = found & (snr > 50) & np.asarray(truth["is_star"]) & ~np.asarray(truth["is_saturated"])
            ra, dec = wcs.pixel_to_world_values(sx[j[bright]], sy[j[bright]])
            dra = (ra - np.asarray(truth["ra"])[bright]) * np.cos(np.radians(dec))
            ddec = dec - np.asarray(truth["dec"])[bright]
            astrom = float(np.sqrt(np.mean(dra**2 + ddec**2))) * 3600
            zp_err = (result.photometry.zeroPoint - visit.zero_point) * 1000
            print(
                f"{visit.exposure_id:14d} {visit.band:>4s} {det:3d} {ratio:11.3f} {completeness:8.1%} "
                f"{complete_blend:8.1%} {n_child:6d} {purity:7.1%} {100 * (fwhm / fwhm_true - 1):8.2f} "
                f"{astrom:7.4f} {zp_err:7.2f}"
            )


if __name__ == "__main__":
    main()
