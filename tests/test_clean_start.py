"""start_clean on a real SimCam repository: what it removes, what it never touches, how it refuses."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lsst.daf.butler")

from lsst.daf.butler import Butler, CollectionType, DatasetType

from stackclub import start_clean
from stackclub._exceptions import CleanStartError, NotADemoRepoError, StackClubError
from stackclub.clean_start import CleanStart

INPUTS = "SimCam/defaults"


@pytest.fixture
def repo(small_repo: str, tmp_path: Path) -> str:
    """A copy of the session's small repository, which this module's tests may change freely."""
    copy = tmp_path / "repo"
    shutil.copytree(small_repo, copy)
    return str(copy)


def _collections(path: str) -> dict[str, str]:
    with Butler.from_config(path) as butler:
        return {i.name: i.type.name for i in butler.collections.query_info("*", include_chains=True)}


def _input_counts(path: str) -> dict[str, int]:
    with Butler.from_config(path) as butler:
        return {
            name: len(butler.query_datasets(name, collections=INPUTS, find_first=False, explain=False))
            for name in ("raw", "bias", "dark", "flat", "defects", "simcam_truth")
        }


def _put_output(butler: Butler, run: str, value: int) -> Any:
    """A small dataset in a RUN of our own, as a task's output would be."""
    dataset_type = DatasetType(
        "clean_start_test", ("instrument", "detector"), "StructuredDataDict", universe=butler.dimensions
    )
    butler.registry.registerDatasetType(dataset_type)
    butler.collections.register(run)
    return butler.put({"value": value}, dataset_type, {"instrument": "SimCam", "detector": 4}, run=run)


def _make_outputs(path: str, output: str) -> list[str]:
    """What a pipetask run with -o OUTPUT leaves, plus an orphan RUN of an interrupted run."""
    uris = []
    with Butler.from_config(path, writeable=True) as butler:
        for run, value in ((f"{output}/run", 1), (f"{output}/20260101T000000Z", 2)):
            ref = _put_output(butler, run, value)
            uris.append(butler.getURI(ref).ospath)
        butler.collections.register(output, CollectionType.CHAINED)
        butler.collections.redefine_chain(output, [f"{output}/run", INPUTS])
    return uris


def test_removes_the_chain_and_its_runs_with_their_files(repo: str) -> None:
    before_inputs = _input_counts(repo)
    uris = _make_outputs(repo, "u/test/nb")
    _make_outputs(repo, "u/test/nb_other")  # shares a prefix, not a path component: kept
    assert all(Path(u).exists() for u in uris)

    report = start_clean(repo, "u/test/nb")

    assert isinstance(report, CleanStart)
    assert report.names == ["u/test/nb", "u/test/nb/20260101T000000Z", "u/test/nb/run"]
    assert [r.type for r in report.removed] == ["CHAINED", "RUN", "RUN"]
    assert [r.datasets for r in report.removed] == [0, 1, 1]
    assert report.n_datasets == 2 and len(report) == 3 and not report.dry_run
    after = _collections(repo)
    assert not any(name == "u/test/nb" or name.startswith("u/test/nb/") for name in after)
    assert {"u/test/nb_other", "u/test/nb_other/run", "u/test/nb_other/20260101T000000Z"} <= set(after)
    for name in ("SimCam/defaults", "SimCam/raw/all", "SimCam/calib", "refcats", "SimCam/truth"):
        assert name in after
    assert _input_counts(repo) == before_inputs
    assert not any(Path(u).exists() for u in uris)  # removeRuns deleted the files


def test_a_second_call_finds_nothing(repo: str) -> None:
    _make_outputs(repo, "u/test/nb")
    start_clean(repo, "u/test/nb")
    again = start_clean(repo, "u/test/nb")
    assert len(again) == 0 and again.names == []
    assert str(again) == "Nothing to remove for u/test/nb: a clean start already."
    assert repr(again) == "<CleanStart: removed 0 collections, 0 datasets>"


def test_several_outputs_and_a_plain_run(repo: str) -> None:
    """As notebook 03: a scratch RUN of its own plus a pipeline's output chain, in one call."""
    with Butler.from_config(repo, writeable=True) as butler:
        _put_output(butler, "u/test/03/scratch", 3)
    _make_outputs(repo, "u/test/03/isr")
    report = start_clean(repo, "u/test/03/scratch", "u/test/03/isr", "u/test/03/scratch")
    assert report.outputs == ("u/test/03/scratch", "u/test/03/isr")  # duplicates dropped
    assert report.names == [
        "u/test/03/isr",
        "u/test/03/isr/20260101T000000Z",
        "u/test/03/isr/run",
        "u/test/03/scratch",
    ]
    assert not any(name.startswith("u/test/03") for name in _collections(repo))


def test_dry_run_lists_and_keeps(repo: str) -> None:
    _make_outputs(repo, "u/test/nb")
    before = _collections(repo)
    report = start_clean(repo, "u/test/nb", dry_run=True)
    assert report.dry_run and len(report) == 3
    assert report.summary.startswith("Would remove 3 collections (1 CHAINED, 2 RUN) holding 2 datasets")
    assert _collections(repo) == before


def test_takes_a_writeable_butler_and_leaves_it_open(repo: str) -> None:
    _make_outputs(repo, "u/test/nb")
    with Butler.from_config(repo, writeable=True) as butler:
        report = start_clean(butler, "u/test/nb")
        assert len(report) == 3
        assert butler.collections.query("u/test/*") == []  # still usable


def test_renders_as_an_escaped_table_and_text(repo: str) -> None:
    _make_outputs(repo, "u/test/a&b")
    report = start_clean(repo, "u/test/a&b")
    html = report._repr_html_()
    assert "<table>" in html and "u/test/a&amp;b/run" in html and "u/test/a&b/run" not in html
    text = str(report)
    assert text.splitlines()[0] == (
        "Removed 3 collections (1 CHAINED, 2 RUN) holding 2 datasets, for u/test/a&b."
    )
    assert "u/test/a&b/run" in text and "RUN" in text


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("SimCam/defaults", "only user collections"),
        ("SimCam/raw/all", "only user collections"),
        ("refcats", "only user collections"),
        ("u/stackclub", "only user collections"),
        ("u//x", "only user collections"),
        ("u/stackclub/", "only user collections"),
        ("u/stackclub/*", "glob characters"),
        ("u/stackclub/0[2]", "glob characters"),
        ("", "cannot be empty"),
        (" u/a/b", "cannot be empty or start or end with spaces"),
        (3, "is a str, not int"),
    ],
)
def test_refuses_names_it_must_not_clean(repo: str, name: Any, message: str) -> None:
    _make_outputs(repo, "u/stackclub/02")
    before = _collections(repo)
    with pytest.raises(CleanStartError, match=message) as info:
        start_clean(repo, "u/stackclub/02", name)  # the good name is not removed either
    assert isinstance(info.value, StackClubError) and isinstance(info.value, ValueError)
    assert "u/<user>/<something>" in str(info.value)  # says what to pass instead
    assert _collections(repo) == before


def test_refuses_without_outputs_or_with_bad_arguments(repo: str) -> None:
    with pytest.raises(CleanStartError, match="no output collection was given"):
        start_clean(repo)
    with pytest.raises(CleanStartError, match="dry_run is True or False"):
        start_clean(repo, "u/a/b", dry_run="yes")  # type: ignore[arg-type]
    with pytest.raises(CleanStartError, match="path or a Butler, not int"):
        start_clean(42, "u/a/b")  # type: ignore[arg-type]
    with Butler.from_config(repo) as read_only, pytest.raises(CleanStartError, match="read-only"):
        start_clean(read_only, "u/a/b")


def test_refuses_a_run_that_another_chain_holds(repo: str) -> None:
    _make_outputs(repo, "u/test/nb")
    with Butler.from_config(repo, writeable=True) as butler:
        butler.collections.register("u/someone/keep", CollectionType.CHAINED)
        butler.collections.redefine_chain("u/someone/keep", ["u/test/nb/run"])
    before = _collections(repo)
    with pytest.raises(CleanStartError, match="also in the chain 'u/someone/keep'") as info:
        start_clean(repo, "u/test/nb")
    assert "remove_from_chain('u/someone/keep', 'u/test/nb/run')" in str(info.value)
    assert _collections(repo) == before


def test_refuses_a_run_whose_datasets_are_tagged_elsewhere(repo: str) -> None:
    _make_outputs(repo, "u/test/nb")
    with Butler.from_config(repo, writeable=True) as butler:
        refs = butler.query_datasets("clean_start_test", collections="u/test/nb/run")
        butler.collections.register("u/someone/tagged", CollectionType.TAGGED)
        butler.registry.associate("u/someone/tagged", refs)
    with pytest.raises(CleanStartError, match="also in the TAGGED collection 'u/someone/tagged'"):
        start_clean(repo, "u/test/nb")
    assert "u/test/nb/run" in _collections(repo)


def test_refuses_a_repository_that_is_not_a_demo_repository(tmp_path: Path) -> None:
    other = tmp_path / "other"
    Butler.makeRepo(str(other))
    with pytest.raises(NotADemoRepoError, match="not a Stack Club demo repository") as info:
        start_clean(other, "u/a/b")
    assert "butler remove-runs" in str(info.value)
    assert str(other) not in str(info.value)  # the message names no machine path


def test_cleans_what_a_real_pipeline_run_wrote(repo: str) -> None:
    """The notebooks' case: SimplePipelineExecutor writes a chain and a RUN; a re-run needs them gone."""
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    from stackclub.pipe import pipeline_path

    output = "u/test/isr"

    def run_isr() -> int:
        butler = SimplePipelineExecutor.prep_butler(
            repo, inputs=[INPUTS], output=output, output_run=f"{output}/run"
        )
        executor = SimplePipelineExecutor.from_pipeline_filename(
            str(pipeline_path("Isr")), butler=butler, where="exposure = 2026031500001 AND detector = 4"
        )
        return len(executor.run(register_dataset_types=True))

    assert run_isr() == 1
    report = start_clean(repo, output)
    assert report.names == [output, f"{output}/run"]
    assert report.removed[1].datasets >= 4  # post_isr_image, isr_config, isr_metadata, isr_log, packages...
    assert run_isr() == 1  # the clean start lets it run again
