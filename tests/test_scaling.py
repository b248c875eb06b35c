"""Scaling up: quantum graphs, pipetask and bps (Parsl) runs, failures and resumes, a PostgreSQL registry.

Everything real: small SimCam repositories built in ``tmp_path``, the real ``pipetask`` and ``bps``
commands (as subprocesses, in temporary working folders: Parsl writes ./runinfo, bps ./submit), and
a PostgreSQL server started by the test on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lsst.daf.butler", reason="the scaling tests need the Rubin middleware")

from stackclub._exceptions import QuantumGraphError, RegistryError
from stackclub.qgraph import (
    bps_config_path,
    qgraph_status,
    show_qgraph,
    summarize_qgraph,
)
from stackclub.simcam._postgres import find_postgres_bin, local_postgres_server, registry_config

PIPELINE = "resource://stackclub.pipe/pipelines/ProcessCcd.yaml"
OUTPUTS = (
    "post_isr_image",
    "preliminary_visit_image",
    "preliminary_visit_image_background",
    "single_visit_psf_star",
    "single_visit_star_unstandardized",
)
# 1 visit x detectors 0 and 1: 4 quanta (isr and calibrateImage per detector).
SETTINGS = {"visits": 1, "detectors": 2, "bands": ("r",), "geometry": "small", "seed": 11}
BAD_DETECTOR = 1


def _env() -> dict[str, str]:
    """The environment of the subprocesses: this venv's pipetask/bps/butler first on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # bps puts its submit folder in ${PWD}/submit: PWD must follow cwd (subprocess does not set it).
    env = {**_env(), "PWD": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _build(path: Path, registry: str | None = None) -> str:
    from stackclub.simcam.repo import build_demo_repo

    build_demo_repo(path, progress=False, registry=registry, **SETTINGS)
    return str(path)


def _break_raw(repo: str) -> tuple[Path, bytes]:
    """Overwrite detector BAD_DETECTOR's raw file with garbage; return its path and good bytes."""
    from lsst.daf.butler import Butler

    butler = Butler.from_config(repo)
    where = f"instrument = 'SimCam' AND detector = {BAD_DETECTOR}"
    (ref,) = butler.query_datasets("raw", collections="SimCam/raw/all", where=where)
    path = Path(butler.getURI(ref).ospath)
    good = path.read_bytes()
    path.write_bytes(b"not a FITS file\n")
    return path, good


def _outputs(repo: str, run: str) -> dict[str, list[int]]:
    """Detector ids of each output dataset in ``run`` (every dataset, not only the first found)."""
    from lsst.daf.butler import Butler

    butler = Butler.from_config(repo)
    return {
        name: sorted(
            ref.dataId["detector"] for ref in butler.query_datasets(name, collections=run, find_first=False)
        )
        for name in OUTPUTS
    }


def _check_failed_then_complete(first: object, second: object) -> None:
    assert first.tasks == [
        {"label": "isr", "expected": 2, "succeeded": 1, "failed": 1, "blocked": 0},
        {"label": "calibrateImage", "expected": 2, "succeeded": 1, "failed": 0, "blocked": 1},
    ]
    assert not first.complete
    (failure,) = first.failures
    assert failure["label"] == "isr"
    assert f"detector={BAD_DETECTOR}" in failure["data_id"]
    assert any("FileIntegrityError" in e or "Integrity failure" in e for e in failure["errors"]), failure
    assert failure["log"], "the failed quantum's log lines are reported"
    assert "FAILED" in str(first) and "Failed quanta" in first._repr_html_()
    assert second.complete and not second.failures


# --- the submit files ---------------------------------------------------------------------------


def test_bps_submit_file_and_sites_load_with_ctrl_bps_classes() -> None:
    pytest.importorskip("lsst.ctrl.bps.parsl", reason="the bps extra is not installed")
    from lsst.ctrl.bps import BpsConfig
    from lsst.ctrl.bps.parsl.site import SiteConfig
    from parsl.providers import LocalProvider, SlurmProvider

    config = BpsConfig(str(bps_config_path()))
    assert config["wmsServiceClass"] == "lsst.ctrl.bps.parsl.ParslService"
    assert config["computeSite"] == "local"
    assert config["pipelineYaml"] == PIPELINE
    assert "--log-level stackclub=INFO" in config["runPreCmdOpts"]
    assert config[".finalJob.requestCpus"] == 2
    config["uniqProcName"] = "u_test_ProcessCcd"  # set by `bps submit`; Slurm job names use it
    providers = {}
    for site in ("local", "slurm"):
        config["computeSite"] = site
        (executor,) = SiteConfig.from_config(config).get_executors()
        providers[site] = executor.provider
    assert isinstance(providers["local"], LocalProvider)
    assert isinstance(providers["slurm"], SlurmProvider)
    assert providers["slurm"].walltime == "02:00:00"
    assert providers["slurm"].nodes_per_block == 1


def test_bps_config_path_bad_name() -> None:
    assert bps_config_path("sites/local.yaml").name == "local.yaml"
    with pytest.raises(QuantumGraphError, match=r"No bps file 'htcondor'.*sites/slurm"):
        bps_config_path("htcondor")


# --- helpers' bad inputs ------------------------------------------------------------------------


def test_qgraph_helpers_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(QuantumGraphError, match="No quantum graph file at .*--save-qgraph"):
        show_qgraph(tmp_path / "missing.qg")
    (tmp_path / "junk.qg").write_text("junk")
    with pytest.raises(QuantumGraphError, match="is not a readable quantum graph"):
        summarize_qgraph(tmp_path / "junk.qg")
    with pytest.raises(QuantumGraphError, match="Expected a QuantumGraph or the path of a .qg file, got int"):
        qgraph_status(tmp_path, 3)  # type: ignore[arg-type]


def test_registry_url_must_be_postgresql(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from stackclub.cli._main import main
    from stackclub.simcam.repo import build_demo_repo

    assert registry_config(None) == {}
    assert registry_config("postgresql://u@h:1/db") == {"registry": {"db": "postgresql+psycopg://u@h:1/db"}}
    with pytest.raises(RegistryError, match=r"Unsupported registry URL 'sqlite:///x.db'.*postgresql://"):
        build_demo_repo(tmp_path / "repo", registry="sqlite:///x.db", progress=False)
    assert not (tmp_path / "repo").exists(), "a bad URL is refused before anything is created"
    result = CliRunner().invoke(main, ["demo-repo", str(tmp_path / "repo"), "--registry", "mysql://h/db"])
    assert result.exit_code != 0
    assert "Unsupported registry URL 'mysql://h/db'" in result.output


# --- pipetask: a quantum fails, the rest run; a resume completes the graph ------------------------


def test_pipetask_failure_reported_then_resume_completes(tmp_path: Path) -> None:
    repo = _build(tmp_path / "repo")
    bad, good = _break_raw(repo)
    base = ["pipetask", "--log-level", "stackclub=INFO", "run", "-b", repo, "-i", "SimCam/defaults"]
    base += ["-o", "u/test/scaling", "-p", PIPELINE, "-j", "1"]
    first = _run([*base, "--register-dataset-types", "--save-qgraph", "first.qg"], tmp_path)
    assert first.returncode == 1, first.stderr[-3000:]
    assert "One or more tasks failed during execution" in first.stderr

    # The graph as built: 4 quanta, isr -> calibrateImage per detector.
    table = summarize_qgraph(tmp_path / "first.qg")
    assert [row[0] for row in table.rows] == ["isr", "calibrateImage"]
    assert [row[3] for row in table.rows] == [2, 2]
    assert table.title.startswith("Quantum graph: 4 quanta of 2 tasks, output run u/test/scaling/")
    ax = show_qgraph(tmp_path / "first.qg")
    (dots,) = [c for c in ax.collections if c.get_gid() == "quanta"]
    (edges,) = [c for c in ax.collections if c.get_gid() == "dependencies"]
    assert len(dots.get_offsets()) == 4 and len(edges.get_segments()) == 2
    ax = show_qgraph(tmp_path / "first.qg", max_quanta=3)
    assert sorted(p.get_width() for p in ax.patches if p.get_gid() == "counts") == [2, 2]
    with pytest.raises(ValueError, match="max_quanta must be a non-negative integer"):
        show_qgraph(tmp_path / "first.qg", max_quanta=-1)

    failed = qgraph_status(repo, tmp_path / "first.qg")
    run = failed.run
    assert _outputs(repo, run)["post_isr_image"] == [1 - BAD_DETECTOR]

    bad.write_bytes(good)  # fix the input, then complete the same run
    again = ["--extend-run", "--skip-existing", "--clobber-outputs", "--save-qgraph", "2.qg"]
    resume = _run([*base, *again], tmp_path)
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert "QuantumGraph contains 2 quanta for 2 tasks" in resume.stderr + resume.stdout
    _check_failed_then_complete(failed, qgraph_status(repo, tmp_path / "2.qg"))
    assert _outputs(repo, run) == {name: [0, 1] for name in OUTPUTS}, "every output once, none duplicated"


# --- bps + Parsl on this machine, with a PostgreSQL registry where a server can start ---------------


@pytest.fixture
def registry_url() -> object:
    """A URL of an empty database on a throw-away PostgreSQL server (skips when none is installed)."""
    if find_postgres_bin() is None:
        pytest.skip("no PostgreSQL server programs (initdb, pg_ctl) here: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="a PostgreSQL registry needs psycopg (the bps extra)")
    with local_postgres_server() as url:
        yield url


def test_bps_parsl_on_postgresql_registry_failure_then_resume(tmp_path: Path, registry_url: str) -> None:
    pytest.importorskip("lsst.ctrl.bps.parsl", reason="the bps extra is not installed")
    from lsst.daf.butler import Butler

    repo = _build(tmp_path / "repo", registry=registry_url)
    butler = Butler.from_config(repo)
    assert butler._config["registry", "db"].startswith("postgresql+psycopg://")
    bad, good = _break_raw(repo)
    run = "u/test/bps/attempt"
    submit = ["bps", "submit", str(bps_config_path()), "-b", repo, "-o", "u/test/bps", "--output-run", run]
    first = _run(submit, tmp_path)
    assert "tasks_failed_count': 1" in first.stderr + first.stdout, (first.stdout + first.stderr)[-3000:]
    (graph1,) = (tmp_path / "submit").rglob("u_test_bps_attempt.qg")
    failed = qgraph_status(repo, graph1)
    assert _outputs(repo, run)["post_isr_image"] == [1 - BAD_DETECTOR]

    bad.write_bytes(good)
    shutil.move(tmp_path / "submit", tmp_path / "submit-1")
    extra = "--extend-run --skip-existing --clobber-outputs"
    resume = _run([*submit, "--extra-qgraph-options", extra], tmp_path)
    assert "tasks_failed_count': 0" in resume.stderr + resume.stdout, (resume.stdout + resume.stderr)[-3000:]
    (graph2,) = (tmp_path / "submit").rglob("u_test_bps_attempt.qg")
    assert summarize_qgraph(graph2).rows[0][3] == 1, "only the missing quanta are re-run"
    _check_failed_then_complete(failed, qgraph_status(repo, graph2))
    assert _outputs(repo, run) == {name: [0, 1] for name in OUTPUTS}, "every output once, none duplicated"
    chain = Butler.from_config(repo).registry.getCollectionChain("u/test/bps")
    assert chain[0] == run
