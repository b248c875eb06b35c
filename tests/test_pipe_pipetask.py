"""End-to-end tests of the teaching pipeline on a real Butler repository: the real ``pipetask``
command (build, run, kill and resume) and ``SimplePipelineExecutor`` in process."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lsst.ctrl.mpexec")

from stackclub.pipe import pipeline_path
from stackclub.simcam.camera import SIMCAM

PIPETASK = str(Path(sys.executable).with_name("pipetask"))
OUTPUTS = (
    "post_isr_image",
    "preliminary_visit_image",
    "preliminary_visit_image_background",
    "single_visit_psf_star",
    "single_visit_star_unstandardized",
)


def _pipetask(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PIPETASK, *args], capture_output=True, text=True, timeout=timeout)


def _counts(repo: str, collection: str) -> dict[str, list]:
    from lsst.daf.butler import Butler

    with Butler.from_config(repo) as butler:
        return {
            name: sorted(
                (str(dict(ref.dataId.required)), ref.id)
                for ref in butler.query_datasets(
                    name, collections=collection, find_first=False, explain=False
                )
            )
            for name in OUTPUTS
        }


def test_pipetask_build_shows_a_config_field():
    result = _pipetask("build", "-p", str(pipeline_path()), "--show", "config=isr::doFringe")
    assert result.returncode == 0, result.stderr
    assert "doFringe=True" in result.stdout.replace(" ", "")


def test_pipetask_run_killed_then_resumed(small_repo):
    """Kill a real ``pipetask run`` after one quantum, resume it; check nothing is lost or doubled."""
    output = "u/test/killed"
    args = [
        "--log-level",
        "stackclub=INFO",
        "run",
        "-b",
        small_repo,
        "-i",
        "SimCam/defaults",
        "-o",
        output,
        "-p",
        str(pipeline_path()),
        "--register-dataset-types",
        "-j",
        "1",
    ]
    proc = subprocess.Popen(
        [PIPETASK, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    killed = False
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Executed 1 quanta successfully" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait(timeout=300)
    assert killed, "pipetask finished before it could be killed"
    before = _counts(small_repo, output)
    done_before = {(name, str(d)): i for name, rows in before.items() for d, i in rows}
    assert 1 <= len(done_before) < 2 * len(OUTPUTS)
    resumed = _pipetask(*args[:-3], "--extend-run", "--skip-existing", "--clobber-outputs", "-j", "1")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = _counts(small_repo, output)
    for name in OUTPUTS:
        # Two visits (r and z) x one detector, each exactly once.
        assert len(after[name]) == 2, (name, after[name])
        assert len({str(d) for d, _ in after[name]}) == 2
    done_after = {(name, str(d)): i for name, rows in after.items() for d, i in rows}
    for key, dataset_id in done_before.items():
        assert done_after[key] == dataset_id, f"{key} was redone"  # nothing lost, nothing rewritten

    # The outputs, read back through the Butler, against the simulator's truth.
    from lsst.daf.butler import Butler

    with Butler.from_config(small_repo, collections=[output, "SimCam/defaults"]) as butler:
        for ref in butler.query_datasets("preliminary_visit_image"):
            # ArrowAstropy reads strip the table meta unless asked not to; the per-visit truth lives there.
            truth = butler.get("simcam_truth", ref.dataId, parameters={"strip_astropy_meta_yaml": False})
            stats = butler.get(ref.makeComponentRef("summary_stats"))
            psf = butler.get(ref.makeComponentRef("psf"))
            assert truth.meta["zero_point"] == SIMCAM.zero_points[ref.dataId["band"]]
            # Rubin's zeroPoint: the magnitude of one electron in this exposure (exposure time included).
            zp_exposure = truth.meta["zero_point"] + 2.5 * math.log10(stats.expTime)
            assert stats.zeroPoint == pytest.approx(zp_exposure, abs=0.03)
            true_sigma = math.hypot(truth.meta["psf_sigma_pixels"], math.sqrt(1 / 12))  # pixelized seeing
            assert psf.sigma == pytest.approx(true_sigma, rel=0.06)
            stars = butler.get("single_visit_star_unstandardized", ref.dataId)
            assert len(stars) > 10 and "coord_ra" in stars.colnames
            background = butler.get("preliminary_visit_image_background", ref.dataId)
            assert background.subtracted is not None
            log = butler.get("calibrateImage_log", ref.dataId)
            assert any(record.name.startswith("stackclub.calibrateImage") for record in log)


def test_missing_calibration_stops_the_graph_naming_it(small_repo):
    result = _pipetask(
        "run",
        "-b",
        small_repo,
        "-i",
        "SimCam/raw/all,refcats",
        "-o",
        "u/test/nocalib",
        "-p",
        f"{pipeline_path('Isr')}",
        "--register-dataset-types",
    )
    assert result.returncode != 0
    text = result.stdout + result.stderr
    # The middleware names the connection, the dataset type and the quantum's data ID.
    assert "Not enough datasets (0) found for non-optional connection isr." in text
    assert any(f"isr.{name} ({name})" in text for name in ("bias", "dark", "flat", "defects"))
    assert "detector: 4" in text and "exposure: 202603150000" in text


def test_simple_pipeline_executor_in_process(small_repo):
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    butler = SimplePipelineExecutor.prep_butler(small_repo, inputs=["SimCam/defaults"], output="u/test/spe")
    executor = SimplePipelineExecutor.from_pipeline_filename(
        str(pipeline_path("Isr")), butler=butler, where="band = 'r'"
    )
    quanta = executor.run(register_dataset_types=True)
    assert len(quanta) == 1
    (ref,) = butler.query_datasets("post_isr_image", collections="u/test/spe")
    post = butler.get(ref)
    assert post.bbox.shape == (256, 256)
    assert str(post.unit) == "electron"
    assert "INTERPOLATED" in post.mask.schema.names


def test_isr_quantum_loads_the_fringe_frame_for_z(small_repo):
    """runQuantum packs the z-band fringe frame with FringeTask.loadFringes: the fringes come out."""
    import numpy as np
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    from stackclub.pipe import IsrTask

    butler = SimplePipelineExecutor.prep_butler(
        small_repo, inputs=["SimCam/defaults"], output="u/test/fringe"
    )
    executor = SimplePipelineExecutor.from_pipeline_filename(
        str(pipeline_path("Isr")), butler=butler, where="band = 'z'"
    )
    assert len(executor.run(register_dataset_types=True)) == 1
    (ref,) = butler.query_datasets("post_isr_image", collections="u/test/fringe")
    post = butler.get(ref)
    data_id = ref.dataId
    raw = butler.get("raw", data_id, collections="SimCam/defaults")
    calibs = {
        n: butler.get(n, data_id, collections="SimCam/defaults") for n in ("bias", "dark", "flat", "defects")
    }
    fringe = butler.get("fringe", data_id, collections="SimCam/defaults")
    # The quantum did what run() does with the fringe frame seeded by the exposure id ...
    task = IsrTask()
    direct = task.run(raw, fringes=task.fringe.loadFringes(fringe, expId=data_id["exposure"]), **calibs)
    np.testing.assert_array_equal(post.image.array, direct.outputExposure.image.array)
    # ... which removes the injected fringe amplitude (the pattern's least-squares amplitude drops).
    config = IsrTask.ConfigClass()
    config.doFringe = False
    without = IsrTask(config=config).run(raw, **calibs).outputExposure

    def amplitude(image):
        good = image.mask.array[..., 0] == 0
        pixels, pattern = image.image.array[good], fringe.image.array[good]
        return float(np.sum((pixels - np.median(pixels)) * pattern) / np.sum(pattern**2))

    truth = butler.get(
        "simcam_truth",
        instrument="SimCam",
        visit=data_id["exposure"],
        detector=4,
        collections="SimCam/defaults",
        parameters={"strip_astropy_meta_yaml": False},
    )
    injected = truth.meta["fringe_amplitude"] * truth.meta["sky_level"]
    assert amplitude(without) - amplitude(post) == pytest.approx(injected, rel=0.15)
