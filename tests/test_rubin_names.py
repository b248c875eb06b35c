"""The honesty test: our teaching tasks use Rubin's names, or say why not.

For `stackclub.pipe.IsrTask` and `stackclub.pipe.CalibrateImageTask`, every config field path
(walked on the real config objects, subtasks recursively), every connection (dataset type name,
storage class, dimensions), every ``_DefaultName`` and every ``run()`` argument must match the
Rubin task it mirrors -- as recorded from the real source at a tag in
``tests/data/rubin_reference.yaml`` -- or be listed, with a reason, in the "what transfers"
table ``docs/transfers.yaml`` (which the docs page renders).  Defaults of fields present on both
sides must equal Rubin's task default (field default, then setDefaults) unless listed too.  What
the table lists as not implemented must be a config path of Rubin's task that ours lacks, and
every subtask of ours must be described.

The comparison itself lives in ``tools/transfers.py`` so that the docs page shows exactly what
this test checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import transfers  # noqa: E402 - tools/ is not a package

TASKS = ("isr", "calibrateImage")
GROUPS = {
    "config": "config field paths",
    "default": "defaults of fields present on both sides",
    "connection": "connections (dataset type name, storage class, dimensions)",
    "default_name": "_DefaultName of the task and its subtasks",
    "run": "run() arguments",
    "table": "table entries that no longer match a difference",
}


@pytest.fixture(scope="module")
def rows() -> dict[str, list[transfers.Row]]:
    pytest.importorskip("lsst.pipe.base")
    return {label: transfers.compare(label) for label in TASKS}


def _report(problems: list[transfers.Row], label: str, group: str) -> str:
    by_status: dict[str, list[str]] = defaultdict(list)
    for row in problems:
        by_status[row.status].append(f"  - {row.message}")
    lines = [f"{label}: {len(problems)} problem(s) with {GROUPS[group]}:"]
    for status in ("unlisted", "stale"):
        lines += by_status.get(status, [])
    return "\n".join(lines)


@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("label", TASKS)
def test_names_transfer(rows: dict[str, list[transfers.Row]], label: str, group: str) -> None:
    problems = [r for r in rows[label] if r.group == group and r.status in ("unlisted", "stale")]
    if problems:
        pytest.fail(_report(problems, label, group), pytrace=False)


def test_table_is_well_formed() -> None:
    table = transfers.load_table()
    reference = transfers.load_reference()
    assert set(table["tasks"]) >= set(TASKS), f"{transfers.TABLE_NAME} must have an entry for each of {TASKS}"
    for label, entry in table["tasks"].items():
        assert entry["rubin"] in reference["tasks"], (
            f"{transfers.TABLE_NAME}: tasks.{label}.rubin is {entry['rubin']!r}; the reference has "
            f"{sorted(reference['tasks'])}"
        )
        unknown = set(entry) - {
            "ours",
            "rubin",
            "summary",
            "subtasks",
            "not_implemented",
            *transfers.SECTIONS,
        }
        assert not unknown, f"{transfers.TABLE_NAME}: tasks.{label} has unknown keys {sorted(unknown)}"
        for section in (*transfers.SECTIONS, "not_implemented", "subtasks"):
            for key, value in (entry.get(section) or {}).items():
                reason = value.get("reason") if isinstance(value, dict) else value
                assert isinstance(reason, str) and reason.strip(), (
                    f"{transfers.TABLE_NAME}: tasks.{label}.{section}.{key} needs a reason "
                    "(a sentence saying why)"
                )


@pytest.mark.parametrize("label", TASKS)
def test_every_subtask_is_described(label: str) -> None:
    """The page says, for each subtask of ours, what it keeps of Rubin's and what it simplifies."""
    pytest.importorskip("lsst.pipe.base")
    entry = transfers.load_table()["tasks"][label]
    ours = [path for path, _ in transfers.our_subtasks(transfers._import(entry["ours"]).ConfigClass())]
    notes = entry.get("subtasks") or {}
    missing = [path for path in ours if path not in notes]
    unknown = [path for path in notes if path not in ours]
    assert not missing, f"{transfers.TABLE_NAME}: tasks.{label}.subtasks has no note for {missing}"
    assert not unknown, (
        f"{transfers.TABLE_NAME}: tasks.{label}.subtasks describes no subtask of ours: {unknown}"
    )


def test_reference_records_where_it_came_from() -> None:
    reference = transfers.load_reference()
    header = transfers.REFERENCE.read_text().split("\nsources:", 1)[0]
    assert "tools/rubin_reference.py" in header
    for repo in ("ip_isr", "pipe_tasks", "meas_algorithms", "drp_pipe"):
        tag = reference["sources"][repo]["tag"]
        assert tag in header, f"the header of {transfers.REFERENCE.name} must name {repo}'s tag {tag}"
    for label in ("isr", "calibrateImage"):
        task = reference["tasks"][label]
        assert task["url"].startswith(f"https://github.com/lsst/{task['repo']}/blob/{task['tag']}/")


def test_reference_is_current() -> None:
    """The committed reference is what the generator writes from the mirrors (when they are here)."""
    mirrors = Path(os.environ.get("RUBIN_MIRRORS", "/work/.mirror"))
    if not (mirrors / "lsst+ip_isr" / "repo").is_dir():
        pytest.skip(f"no Rubin mirrors in {mirrors} (set RUBIN_MIRRORS)")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "rubin_reference.py"), "--check", "--mirrors", str(mirrors)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (
        proc.stderr + "\nRegenerate: python tools/rubin_reference.py (see its --help)"
    )


def test_suggest_finds_the_moved_field() -> None:
    rubin = ["psf_repair.cosmicray.minSigma", "psf_repair.cosmicray.cond3_fac", "install_simple_psf.fwhm"]
    assert transfers.suggest("psf_repair.minSigma", rubin) == ["psf_repair.cosmicray.minSigma"]
    assert transfers.suggest("psf_repair.cond3Fac", rubin) == ["psf_repair.cosmicray.cond3_fac"]
