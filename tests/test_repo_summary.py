"""summarize_repo on the tests' small SimCam repository (real registry, real counts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackclub.repo_summary import CollectionRow, DatasetTypeRow, RepoSummary
from stackclub.simcam.testing import SMALL_REPO_SETTINGS

DEMO_COLLECTIONS = ["SimCam/*", "refcats*"]


@pytest.fixture(scope="module")
def summary(small_repo: str) -> RepoSummary:
    from stackclub import summarize_repo

    # Only the demo repository's own collections: other tests may add outputs to the shared repository.
    return summarize_repo(small_repo, collections=DEMO_COLLECTIONS)


def test_collections_and_chains(summary: RepoSummary) -> None:
    kinds = {c.name: c.type for c in summary.collections}
    assert kinds == {
        "SimCam/calib": "CALIBRATION",
        "SimCam/calib/20260301": "RUN",
        "SimCam/calib/curated/19700101T000000Z": "RUN",
        "SimCam/defaults": "CHAINED",
        "SimCam/raw/all": "RUN",
        "SimCam/truth": "RUN",
        "refcats": "CHAINED",
        "refcats/simcam": "RUN",
    }
    assert [c.name for c in summary.collections] == sorted(kinds)
    assert summary.chains == {
        "SimCam/defaults": ("SimCam/raw/all", "SimCam/calib", "refcats", "SimCam/truth"),
        "refcats": ("refcats/simcam",),
    }


def test_dataset_counts(summary: RepoSummary) -> None:
    n_visits = SMALL_REPO_SETTINGS["visits"]
    n_detectors = len(SMALL_REPO_SETTINGS["detectors"])
    raws = n_visits * n_detectors
    assert summary.count("raw") == raws
    assert summary.count("raw", "SimCam/raw/all") == raws
    assert summary.count("raw", "SimCam/truth") == 0
    assert summary.count("simcam_truth") == raws
    assert summary.count("bias") == n_detectors
    assert summary.count("bias", "SimCam/calib") == n_detectors  # certified: an association, not a copy
    assert summary.count("flat") == n_detectors * len(SMALL_REPO_SETTINGS["bands"])
    assert summary.count("fringe") == n_detectors  # z only
    assert summary.count("no_such_type") == 0
    by_name = {d.name: d for d in summary.dataset_types}
    raw = by_name["raw"]
    assert raw.dimensions == ("instrument", "detector", "exposure")
    assert raw.storage_class == "RawExposure" and not raw.is_calibration
    assert by_name["flat"].is_calibration
    # Every dataset is in one RUN: the repository total is the sum over the runs.
    runs = [c for c in summary.collections if c.type == "RUN"]
    assert (
        summary.n_datasets == sum(c.datasets for c in runs) == sum(d.datasets for d in summary.dataset_types)
    )
    calib = next(c for c in summary.collections if c.name == "SimCam/calib")
    assert calib.datasets == sum(summary.count(t, "SimCam/calib") for t in by_name)


def test_dimension_records(summary: RepoSummary) -> None:
    assert summary.dimensions["instrument"] == 1
    assert summary.dimensions["detector"] == 9  # SimCam registers all its detectors
    assert summary.dimensions["exposure"] == SMALL_REPO_SETTINGS["visits"]
    assert summary.dimensions["visit"] == SMALL_REPO_SETTINGS["visits"]
    assert "htm7" not in summary.dimensions and "htm7" not in summary.empty_dimensions  # computed, no records
    assert "tract" in summary.empty_dimensions
    assert all(n > 0 for n in summary.dimensions.values())


def test_renders_text_and_html(summary: RepoSummary, small_repo: str) -> None:
    text = str(summary)
    first = text.splitlines()[0]
    assert first.startswith("Butler repository: 8 collections (1 CALIBRATION, 2 CHAINED, 5 RUN), ")
    assert "SimCam/raw/all → SimCam/calib → refcats → SimCam/truth" in text
    html = summary._repr_html_()
    assert html.count("<table>") == 3 and "<th" in html
    assert "RawExposure" in html and "SimCam/raw/all" in html
    for out in (text, html):  # portable: no machine path, no timing
        assert small_repo not in out and str(Path(small_repo).parent) not in out
        assert " s." not in out and "0x" not in out
    assert repr(summary).startswith("<RepoSummary: 8 collections, 10 dataset types, ")


def test_html_escapes_names_and_docs() -> None:
    s = RepoSummary(
        [
            CollectionRow("u/me/<run>", "RUN", datasets=1, doc="<b>bold</b> & [link](x)"),
            CollectionRow("u/me/chain", "CHAINED", children=("u/me/<run>",)),
        ],
        [DatasetTypeRow("a&b", ("instrument",), "Struct<x>", False, 1, {"u/me/<run>": 1})],
        {"instrument": 1},
    )
    html = s._repr_html_()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; [link](x)" in html
    assert "u/me/&lt;run&gt;" in html and "a&amp;b" in html and "Struct&lt;x&gt;" in html
    assert "<run>" not in html
    assert "<b>bold</b> & [link](x)" in str(s)  # text stays literal


def test_plot_is_a_heat_map_of_the_counts(summary: RepoSummary) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = summary.plot()
    names, columns, counts = summary.count_matrix()
    image = ax.images[0]
    assert image.get_array().shape == (len(names), len(columns))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == names
    assert "SimCam/calib [CALIBRATION]" in [t.get_text() for t in ax.get_xticklabels()]
    shown = sorted(int(t.get_text()) for t in ax.texts)
    assert shown == sorted(n for row in counts for n in row if n)
    plt.close(ax.figure)


def test_a_collection_glob_and_an_open_butler(small_repo: str) -> None:
    from lsst.daf.butler import Butler

    from stackclub import summarize_repo

    with Butler.from_config(small_repo) as butler:
        part = summarize_repo(butler, collections="SimCam/calib*")
        assert butler.collections.query("SimCam/raw/all")  # still open: not closed for us
    assert [c.name for c in part.collections] == [
        "SimCam/calib",
        "SimCam/calib/20260301",
        "SimCam/calib/curated/19700101T000000Z",
    ]
    assert part.count("raw") == 0 and part.count("bias") > 0
    assert [d.name for d in part.dataset_types] == ["bias", "dark", "defects", "flat", "fringe"]
    inputs = summarize_repo(small_repo, collections=DEMO_COLLECTIONS)
    assert len(inputs.collections) == 8 and "simcam_refcat" in [d.name for d in inputs.dataset_types]


def test_a_run_written_later_shows_up(small_repo: str, tmp_path: Path) -> None:
    from lsst.daf.butler import Butler, DatasetType

    from stackclub import summarize_repo

    copy = tmp_path / "repo"
    shutil.copytree(small_repo, copy)
    with Butler.from_config(str(copy), writeable=True) as butler:
        dt = DatasetType("counts", ("instrument",), "StructuredDataDict", universe=butler.dimensions)
        butler.registry.registerDatasetType(dt)
        butler.collections.register("u/me/run", doc="My <scratch> run")
        butler.put({"n": 1}, dt, {"instrument": "SimCam"}, run="u/me/run")
    with Butler.from_config(str(copy), writeable=True) as butler:  # registered, never written
        butler.registry.registerDatasetType(
            DatasetType("unused", ("instrument",), "StructuredDataDict", universe=butler.dimensions)
        )
    s = summarize_repo(copy)
    assert s.count("counts") == 1 and s.count("counts", "u/me/run") == 1
    assert "unused" in [d.name for d in s.dataset_types]  # every registered type, with "*"
    demo_only = summarize_repo(copy, collections=DEMO_COLLECTIONS)
    assert not {"unused", "counts"} & {d.name for d in demo_only.dataset_types}
    assert str(demo_only) == str(summarize_repo(small_repo, collections=DEMO_COLLECTIONS))
    row = next(c for c in s.collections if c.name == "u/me/run")
    assert (row.type, row.datasets, row.doc) == ("RUN", 1, "My <scratch> run")
    assert "My &lt;scratch&gt; run" in s._repr_html_()


def test_refuses_what_is_not_a_repository() -> None:
    from stackclub import summarize_repo
    from stackclub._exceptions import StackClubError

    with pytest.raises(StackClubError, match="repository path or a Butler, not int"):
        summarize_repo(3)  # type: ignore[arg-type]
