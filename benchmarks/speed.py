"""Speed of the teaching pipeline on one full-size HSC frame (2048 x 4176), against peers timed in one run.

Prints, each the minimum of ``--repeat`` runs:

- ``IsrTask.run`` vs the same chain in ccdproc (subtract_overscan, trim_image, subtract_bias,
  subtract_dark, flat_correct) and vs one numpy read+write pass over the frame, as reported
  ratios (issue 18 dropped their goals: the textbook ISR is whole-frame numpy, one step per line);
- isr + calibrateImage compute per detector (goal <= 2 s; the seed's processCcd took 40.8 s);
- Butler I/O per detector (put + get of the outputs) with three datastore configurations, timed in one
  run: the lossless default, the demo repository's (``lossy16`` for ``preliminary_visit_image``,
  ``stackclub.simcam.datastore``) and ``lossy16`` for ``post_isr_image`` too; with ``--profile-io``, where
  a put and a get of ``preliminary_visit_image`` spend their time (cProfile, grouped by owner);
- per-quantum overhead of ``pipetask run`` (and of SimplePipelineExecutor) over plain ``task.run``
  on a small repository.

Run: ``.venv/bin/python benchmarks/speed.py`` (about 3 minutes; ``--io-only [--profile-io]``: the I/O part).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _timing import best_run  # benchmarks/_timing.py (this script's folder is on sys.path)

warnings.filterwarnings("ignore")
logging.getLogger("stackclub").setLevel(logging.WARNING)


def ccdproc_chain(raw, boxes, bias, dark, flat, dark_time):
    """The peer: overscan (median) + trim per amplifier with ccdproc, then bias, dark, flat, gains.

    In ADU until the gains, as IsrTask (the calibrations are in ADU, the dark per second of dark time).
    """
    import astropy.units as u
    import ccdproc
    from astropy.nddata import CCDData

    rb = raw.image.bbox
    arr = raw.image.array
    out = np.empty((boxes[0].assembled.y.stop, boxes[-1].assembled.x.stop), dtype=np.float32)
    for b in boxes:
        ys, xs = b.raw.slice_within(rb)
        oys, oxs = b.serial_overscan.slice_within(b.raw)
        # The imaging rows (SimCam's serial overscan does not extend into the parallel overscan).
        amp = CCDData(arr[ys, xs][oys].astype(np.float32), unit="adu")
        dys, dxs = b.data.slice_within(b.raw)
        corrected = ccdproc.subtract_overscan(amp, overscan=amp[oys, oxs], median=True, overscan_axis=1)
        trimmed = ccdproc.trim_image(corrected[dys, dxs])
        ays, axs = b.assembled.slice_within(raw.detector.bbox)
        out[ays, axs] = trimmed.data
    ccd = CCDData(out, unit="adu")
    ccd = ccdproc.subtract_bias(ccd, CCDData(bias.image.array, unit="adu"))
    ccd = ccdproc.subtract_dark(
        ccd,
        CCDData(dark.image.array, unit="adu"),
        dark_exposure=1 * u.s,
        data_exposure=dark_time * u.s,
        scale=True,
    )
    ccd = ccdproc.flat_correct(ccd, CCDData(flat.image.array, unit=""))
    for b in boxes:
        ccd.data[b.assembled.slice_within(raw.detector.bbox)] *= b.gain
    return ccd


#: The datastore configurations compared: the default (every image GZIP_2), the demo repository's
#: (stackclub.simcam.datastore: lossy16 for preliminary_visit_image), and lossy16 for post_isr_image too.
IO_CONFIGS = ("lossless default", "demo repository", "post_isr_image lossy16 too")


def _seed_config(which: str, width: int) -> dict:
    from stackclub.simcam.datastore import add_image_output_recipes
    from stackclub.simcam.formatters import SEED_CONFIG

    config = {"datastore": {"formatters": dict(SEED_CONFIG["datastore"]["formatters"])}}
    if which == "lossless default":
        return config
    add_image_output_recipes(config, width)
    if which == "post_isr_image lossy16 too":
        formatters = config["datastore"]["formatters"]
        formatters["post_isr_image"] = dict(formatters["preliminary_visit_image"])
    return config


def _profile_groups(stats) -> dict[str, float]:
    """Exclusive (tottime) seconds of a cProfile run, grouped by who owns the code."""
    groups: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        where = f"{filename}:{name}"
        if any(k in where for k in ("compressed/", "zlib", "gzip", "quantize", "rice", "crc32")):
            group = "astropy tiled compression (zlib, RICE, quantization)"
        elif "lsst/images/_mask.py" in filename:
            group = "lsst.images Mask bit planes <-> FITS int32 (Mask.set/get)"
        elif "lsst/images/" in filename:
            group = "lsst.images other (serialization)"
        elif "astropy/" in filename:
            group = "astropy.io.fits other (headers, tables)"
        elif any(k in filename for k in ("lsst/daf/butler", "lsst/resources", "sqlalchemy", "sqlite")):
            group = "daf_butler + registry + file moves"
        else:
            group = "numpy, pydantic, Python"
        groups[group] = groups.get(group, 0.0) + tottime
    return groups


def butler_io_report(outputs: dict, width: int, repeat: int, *, profile: bool = False) -> None:
    """Print put/get seconds per output and configuration (minimum of ``repeat``), and the ratios."""
    import cProfile
    import pstats

    from lsst.daf.butler import Butler, Config, DatasetType

    times: dict[str, dict[str, tuple[float, float]]] = {c: {} for c in IO_CONFIGS}
    # CPU seconds too: the I/O is CPU-bound (compression), and CPU time hardly moves on a busy machine.
    cpu: dict[str, dict[str, tuple[float, float]]] = {c: {} for c in IO_CONFIGS}
    sizes: dict[str, dict[str, float]] = {c: {} for c in IO_CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        butlers = {}
        for i, which in enumerate(IO_CONFIGS):
            root = f"{tmp}/{i}"
            Butler.makeRepo(root, config=Config(_seed_config(which, width)))
            butler = Butler.from_config(root, writeable=True)
            for name, (_, sc) in outputs.items():
                butler.registry.registerDatasetType(DatasetType(name, (), sc, universe=butler.dimensions))
            butlers[which] = butler
        # Interleaved: each repeat times every configuration once, so load changes hit all alike.
        for r in range(repeat):
            for which, butler in butlers.items():
                run = f"bench{r}"
                butler.registry.registerRun(run)
                for name, (obj, _) in outputs.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    ref = butler.put(obj, name, {}, run=run)
                    t1, c1 = time.perf_counter(), time.process_time()
                    butler.get(ref)
                    t2, c2 = time.perf_counter(), time.process_time()
                    for store, put, get in ((times, t1 - t0, t2 - t1), (cpu, c1 - c0, c2 - c1)):
                        old = store[which].get(name, (float("inf"), float("inf")))
                        store[which][name] = (min(old[0], put), min(old[1], get))
                    sizes[which][name] = os.path.getsize(butler.getURI(ref).ospath) / 2**20
        if profile:
            obj = outputs["preliminary_visit_image"][0]
            for which in (IO_CONFIGS[0], IO_CONFIGS[1]):
                butler = butlers[which]
                butler.registry.registerRun("profile")
                prof = {}
                for step in ("put", "get"):
                    pr = cProfile.Profile()
                    t0 = time.perf_counter()
                    pr.enable()
                    if step == "put":
                        ref = butler.put(obj, "preliminary_visit_image", {}, run="profile")
                    else:
                        butler.get(ref)
                    pr.disable()
                    prof[step] = (time.perf_counter() - t0, _profile_groups(pstats.Stats(pr)))
                print(f"Where one preliminary_visit_image put / get goes ({which}; cProfile, exclusive s):")
                names = sorted(
                    set(prof["put"][1]) | set(prof["get"][1]), key=lambda g: -prof["put"][1].get(g, 0)
                )
                for g in names:
                    print(f"  {g:60s} {prof['put'][1].get(g, 0.0):6.3f} {prof['get'][1].get(g, 0.0):6.3f}")
                print(f"  {'total (profiled wall)':60s} {prof['put'][0]:6.3f} {prof['get'][0]:6.3f}\n")
        for butler in butlers.values():
            butler.close()
    header = "".join(f" | {c[:26]:>26s}" for c in IO_CONFIGS)
    for label, store in (("wall", times), ("CPU", cpu)):
        print(f"Butler put + get per detector, {label} seconds (min of {repeat}), MiB on disk{header}")
        totals = {c: 0.0 for c in IO_CONFIGS}
        for name in outputs:
            cells = ""
            for c in IO_CONFIGS:
                put, get = store[c][name]
                totals[c] += put + get
                cells += f" | {put:5.2f} + {get:5.2f} {sizes[c][name]:6.1f} MiB"
            print(f"  {name:56s}{cells}")
        print(f"  {'total put + get':56s}" + "".join(f" | {totals[c]:13.2f} s {'':9s}" for c in IO_CONFIGS))
        base = totals[IO_CONFIGS[0]]
        for c in IO_CONFIGS[1:]:
            print(f"ratio ({label}) {c} / lossless default = {totals[c] / base:5.2f}   (goal <= 0.5)")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pipetask", action="store_true")
    parser.add_argument(
        "--io-only", action="store_true", help="only the Butler I/O of one detector's outputs"
    )
    parser.add_argument(
        "--profile-io", action="store_true", help="also cProfile one put and one get: where the time goes"
    )
    args = parser.parse_args()

    from astropy.table import Table

    from stackclub.pipe import CalibrateImageTask, IsrTask, pipeline_path
    from stackclub.simcam.calibs import simulate_calibs
    from stackclub.simcam.camera import HSC_GEOMETRY, amp_boxes
    from stackclub.simcam.sky import simulate_exposure

    raw, truth = simulate_exposure(HSC_GEOMETRY, detector_id=4, seed=3)
    calibs = simulate_calibs(HSC_GEOMETRY, detector_id=4, bands=("r",), seed=3)
    kw = dict(
        bias=calibs["bias"], dark=calibs["dark"], flat=calibs["flat"]["SimCam-R"], defects=calibs["defects"]
    )
    dark_time = float(raw.obs_info.dark_time.value)
    ref = Table({"coord_ra": truth["ra"], "coord_dec": truth["dec"], "r_flux": truth["flux"]})
    print(
        f"Frame: {HSC_GEOMETRY.height} x {HSC_GEOMETRY.width} imaging pixels, {len(truth)} sources; "
        f"min of {args.repeat} runs; {os.cpu_count()} cores\n"
    )

    isr = IsrTask()  # fringe is applied only in z and y: this is an r frame
    if args.io_only:
        post = isr.run(raw, **kw).outputExposure
        result = CalibrateImageTask().run(
            post, detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=[ref]
        )
        outputs = {
            "post_isr_image": (post, "MaskedImageV2"),
            "preliminary_visit_image": (result.exposure, "VisitImage"),
            "preliminary_visit_image_background": (result.background, "BackgroundMap"),
            "single_visit_star_unstandardized": (result.stars, "ArrowAstropy"),
            "single_visit_psf_star": (result.psf_stars, "ArrowAstropy"),
        }
        butler_io_report(outputs, HSC_GEOMETRY.width, args.repeat, profile=args.profile_io)
        return
    t_isr, post = best_run(lambda: isr.run(raw, **kw).outputExposure, args.repeat)
    # CPU seconds, less sensitive than wall time to a busy machine.
    cpu_isr, _ = best_run(lambda: isr.run(raw, **kw), args.repeat, clock=time.process_time)
    chain_config = IsrTask.ConfigClass()
    masking = ("doSaturation", "doSuspect", "doVariance", "doDefect", "doInterpolate", "doNanMasking")
    for name in (*masking, "doWidenSaturationTrails"):
        setattr(chain_config, name, False)
    isr_chain = IsrTask(config=chain_config)
    t_isr_chain, _ = best_run(
        lambda: isr_chain.run(raw, **{k: v for k, v in kw.items() if k != "defects"}), args.repeat
    )
    boxes = amp_boxes(raw.detector)
    t_ccdproc, _ = best_run(
        lambda: ccdproc_chain(raw, boxes, kw["bias"], kw["dark"], kw["flat"], dark_time), args.repeat
    )
    frame = raw.image.array.astype(np.float32)
    dst = np.empty_like(frame)
    t_numpy, _ = best_run(lambda: np.multiply(frame, np.float32(1.0), out=dst), args.repeat)
    # Context: IsrTask must return new arrays, and the first write to a new 34 MB array pays the
    # kernel's page faults (zeroed pages), which the preallocated pass above does not.
    t_numpy_new, _ = best_run(lambda: np.multiply(frame, np.float32(1.0)), args.repeat)

    calibrate = CalibrateImageTask()
    t_cal, result = best_run(
        lambda: calibrate.run(
            exposures=post, detector=raw.detector, obs_info=raw.obs_info, astrometry_ref_cat=[ref]
        ),
        args.repeat,
    )

    rows = [
        ("IsrTask.run (all steps: masks, variance, defects, interpolation)", t_isr, ""),
        ("IsrTask.run (all steps), CPU seconds", cpu_isr, ""),
        ("IsrTask.run (the ccdproc chain's steps only)", t_isr_chain, ""),
        ("ccdproc chain (overscan+trim per amp, bias, dark, flat)", t_ccdproc, ""),
        ("numpy: one read+write pass over the raw frame", t_numpy, ""),
        ("numpy: the same pass into a new array (page faults included)", t_numpy_new, ""),
        ("CalibrateImageTask.run", t_cal, ""),
        ("isr + calibrateImage compute per detector", t_isr + t_cal, "goal <= 2 s (seed: 40.8 s)"),
    ]
    print(f"{'what':66s} {'seconds':>8s}")
    for what, t, note in rows:
        print(f"{what:66s} {t:8.3f}  {note}")
    print()
    print(f"ratio IsrTask (all) / ccdproc chain      = {t_isr / t_ccdproc:6.2f}")
    print(f"ratio IsrTask (same steps) / ccdproc     = {t_isr_chain / t_ccdproc:6.2f}")
    print(f"ratio IsrTask (all) / numpy pass         = {t_isr / t_numpy:6.2f}")
    print(f"ratio IsrTask (same steps) / numpy pass  = {t_isr_chain / t_numpy:6.2f}")
    print(f"ratio IsrTask (all) / numpy pass, new array = {t_isr / t_numpy_new:6.2f}")
    print(f"isr + calibrateImage / seed's 40.8 s     = {(t_isr + t_cal) / 40.8:6.3f}\n")

    # --- Butler I/O of the outputs of one detector, three datastore configurations in one run.
    outputs = {
        "post_isr_image": (post, "MaskedImageV2"),
        "preliminary_visit_image": (result.exposure, "VisitImage"),
        "preliminary_visit_image_background": (result.background, "BackgroundMap"),
        "single_visit_star_unstandardized": (result.stars, "ArrowAstropy"),
        "single_visit_psf_star": (result.psf_stars, "ArrowAstropy"),
    }
    butler_io_report(outputs, HSC_GEOMETRY.width, args.repeat, profile=args.profile_io)

    if args.skip_pipetask:
        return
    # --- Per-quantum overhead of pipetask run and SimplePipelineExecutor over plain task.run.
    from lsst.daf.butler import Butler
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    from stackclub.simcam.repo import build_demo_repo

    with tempfile.TemporaryDirectory() as tmp:
        repo = str(Path(tmp) / "repo")
        build_demo_repo(repo, visits=1, detectors=[4], bands=("r",), geometry="small", progress=False, seed=3)
        with Butler.from_config(repo, collections=["SimCam/defaults"]) as butler:
            raw_s = butler.get(
                "raw",
                instrument="SimCam",
                detector=4,
                exposure=butler.query_datasets("raw")[0].dataId["exposure"],
            )
            data_id = butler.query_datasets("raw")[0].dataId
            calib_kw = {n: butler.get(n, data_id) for n in ("bias", "dark", "flat", "defects")}
            refs = [butler.get(r) for r in butler.query_datasets("simcam_refcat")]

        def plain():
            p = IsrTask().run(raw_s, **calib_kw).outputExposure
            CalibrateImageTask().run(
                exposures=p, detector=raw_s.detector, obs_info=raw_s.obs_info, astrometry_ref_cat=refs
            )

        t_plain, _ = best_run(plain, args.repeat)
        pipetask = str(Path(sys.executable).with_name("pipetask"))
        t0 = time.perf_counter()
        subprocess.run(
            [
                pipetask,
                "run",
                "-b",
                repo,
                "-i",
                "SimCam/defaults",
                "-o",
                "u/bench/pt",
                "-p",
                str(pipeline_path()),
                "--register-dataset-types",
                "-j",
                "1",
            ],
            check=True,
            capture_output=True,
        )
        t_pt = time.perf_counter() - t0
        t0 = time.perf_counter()
        spe_butler = SimplePipelineExecutor.prep_butler(
            repo, inputs=["SimCam/defaults"], output="u/bench/spe"
        )
        SimplePipelineExecutor.from_pipeline_filename(str(pipeline_path()), butler=spe_butler).run(
            register_dataset_types=True
        )
        t_spe = time.perf_counter() - t0
        print("Small repository (256 x 256, 1 visit x 1 detector = 2 quanta):")
        print(f"  plain isr.run + calibrateImage.run (in memory)   {t_plain:7.3f} s")
        print(
            f"  pipetask run (new process, graph, I/O)           {t_pt:7.3f} s  -> overhead per quantum "
            f"{(t_pt - t_plain) / 2:6.2f} s"
        )
        print(
            f"  SimplePipelineExecutor (in process, graph, I/O)  {t_spe:7.3f} s  -> overhead per quantum "
            f"{(t_spe - t_plain) / 2:6.2f} s"
        )


if __name__ == "__main__":
    main()
