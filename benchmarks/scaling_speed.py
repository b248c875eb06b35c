"""Wall time of one quantum graph run four ways, as ratios to ``pipetask run -j 1`` measured in the same run.

The graph: ProcessCcd (isr + calibrateImage) on ``--visits`` x ``--detectors`` of a SimCam repository built
in a temporary folder (default 2 x 2 at 2048 x 2048 pixels = 8 quanta). Each way runs the same graph into
its own output run:

- in one process (``SimplePipelineExecutor``): the work itself, no process start-up — the floor;
- ``pipetask run -j 1``;
- ``pipetask run -j 2`` with each ``--start-method`` (spawn, forkserver, fork);
- ``bps submit`` on the local Parsl site with 2 cores (one ``pipetask run-qbb`` process per quantum, plus the
  ``pipetaskInit`` and the final ``butler aggregate-graph`` jobs).

For each it prints the wall time, the speed-up over ``-j 1`` and the *fixed overhead per quantum*:
``(workers x wall - in-process time) / quanta``, what each quantum costs on top of its work (process start-up,
imports, registry and file I/O of the executor); and, separately, the start-up of one Python that imports the
stack (what every ``-j`` process and every bps job pays first).

Run: ``.venv/bin/python benchmarks/scaling_speed.py`` (several minutes; ``--geometry small``: quicker).
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

warnings.filterwarnings("ignore")
logging.getLogger("stackclub").setLevel(logging.WARNING)
logging.getLogger("lsst").setLevel(logging.WARNING)

PIPELINE = "resource://stackclub.pipe/pipelines/ProcessCcd.yaml"


def _env(cwd: Path) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PWD": str(cwd)}


def timed(args: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=_env(cwd), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"FAILED ({proc.returncode}): {' '.join(args)}\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=2)
    parser.add_argument("--detectors", type=int, default=2)
    parser.add_argument("--geometry", default="default", choices=["small", "default", "hsc"])
    parser.add_argument("--skip-bps", action="store_true", help="leave out the bps + Parsl run")
    opts = parser.parse_args()

    from lsst.ctrl.mpexec import SimplePipelineExecutor

    from stackclub.pipe import pipeline_path
    from stackclub.qgraph import bps_config_path
    from stackclub.simcam.repo import build_demo_repo

    with tempfile.TemporaryDirectory(prefix="stackclub-scaling-") as tmp:
        work = Path(tmp)
        repo = str(work / "repo")
        t0 = time.perf_counter()
        build_demo_repo(
            repo, visits=opts.visits, detectors=opts.detectors, geometry=opts.geometry, bands=("r",),
            progress=False,
        )  # fmt: skip
        n = 2 * opts.visits * opts.detectors
        print(f"repository: {opts.visits} visits x {opts.detectors} detectors ({opts.geometry}), {n} quanta, "
              f"built in {time.perf_counter() - t0:.0f} s; {os.cpu_count()} cores")  # fmt: skip

        base = ["pipetask", "--log-level", "stackclub=WARNING", "run", "-b", repo, "-i", "SimCam/defaults"]
        base += ["-p", PIPELINE]

        t0 = time.perf_counter()
        butler = SimplePipelineExecutor.prep_butler(repo, inputs=["SimCam/defaults"], output="u/bench/inproc")
        executor = SimplePipelineExecutor.from_pipeline_filename(str(pipeline_path()), butler=butler)
        t_graph = time.perf_counter() - t0
        t0 = time.perf_counter()
        executor.run(register_dataset_types=True)  # registers them once for every way below
        inproc = time.perf_counter() - t0
        print(f"in one process: graph {t_graph:.1f} s, run {inproc:.1f} s ({inproc / n:.2f} s per quantum)")

        t0 = time.perf_counter()
        timed(
            [
                sys.executable,
                "-c",
                "import lsst.daf.butler, lsst.pipe.base, lsst.ctrl.mpexec, stackclub.pipe",
            ],
            work,
        )
        startup = time.perf_counter() - t0
        print(f"one Python importing the stack: {startup:.1f} s")

        rows: list[tuple[str, int, float]] = []
        ways = [("pipetask -j 1", 1, ["-j", "1"])]
        ways += [
            (f"pipetask -j 2 ({m})", 2, ["-j", "2", "--start-method", m])
            for m in ("spawn", "forkserver", "fork")
        ]
        for i, (name, workers, extra) in enumerate(ways):
            wall = timed([*base, "-o", f"u/bench/pt{i}", *extra], work)
            rows.append((name, workers, wall))
            print(f"  {name}: {wall:.1f} s", flush=True)
        if not opts.skip_bps:
            bps = ["bps", "submit", str(bps_config_path()), "-b", repo, "-o", "u/bench/bps"]
            wall = timed(bps, work)
            rows.append(("bps + Parsl local (2 cores)", 2, wall))
            print(f"  bps submit: {wall:.1f} s", flush=True)

        ref = rows[0][2]
        print()
        print(f"| way ({n} quanta) | wall (s) | speed-up vs -j 1 | fixed overhead per quantum (s) |")
        print("|---|---|---|---|")
        print(f"| in one process (SimplePipelineExecutor) | {inproc:.1f} | {ref / inproc:.2f}x | 0 (floor) |")
        for name, workers, wall in rows:
            overhead = (workers * wall - inproc) / n
            print(f"| {name} | {wall:.1f} | {ref / wall:.2f}x | {overhead:.1f} |")
        print(
            f"\nPython start-up importing the stack: {startup:.1f} s (paid by every -j process and bps job)."
        )


if __name__ == "__main__":
    main()
