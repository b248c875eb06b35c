"""stackclub.versions(): the version table and its one line about requirements/lock.txt."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from click.testing import CliRunner

from stackclub.cli import main
from stackclub.installed import versions

CLICK = metadata.version("click")


def _lock(directory: Path, lines: list[str]) -> Path:
    path = directory / "lock.txt"
    path.write_text("".join(f"{line} \\\n    --hash=sha256:{'0' * 64}\n" for line in lines))
    return path


def test_matching_lock_is_one_green_line(tmp_path: Path) -> None:
    lock = _lock(tmp_path, [f"click=={CLICK}", "appnope==1.0.0 ; sys_platform == 'never'"])
    table = versions(lock=lock)
    assert table.lock_status == f"matches {lock}"
    assert table.matches_lock is True and table.drifts == []
    text = str(table).splitlines()
    assert text[-1] == f"matches {lock}"
    assert len(text) == len(table.rows) + 4  # title, header, rule, rows, lock line
    html = table._repr_html_()
    assert f'<p style="margin:0.3em 0 0 0; color:#2e7d32">matches {lock}</p></div>' in html
    assert repr(table) == f"<VersionTable: {len(table.rows)} rows × 2 columns>"


def test_differing_lock_names_the_first_three_and_counts_the_rest(tmp_path: Path) -> None:
    odd = tmp_path / "a<b&c"
    odd.mkdir()
    lock = _lock(
        odd, ["aaa-missing==1.0", "click==0.0.1", "numpy==0.0.1", "zzz-missing==2.0", "zzz-other==3"]
    )
    table = versions(lock=lock)
    assert table.matches_lock is False
    assert [d.name for d in table.drifts] == ["aaa-missing", "click", "numpy", "zzz-missing", "zzz-other"]
    expected = (
        f"differs from {lock}: aaa-missing missing (lock 1.0), click {CLICK} (lock 0.0.1), "
        f"numpy {metadata.version('numpy')} (lock 0.0.1) and 2 more — run pip install -r {lock} "
        "(stackclub doctor lists all)"
    )
    assert table.lock_status == expected
    assert str(table).splitlines()[-1] == expected
    html = table._repr_html_()
    assert "a&lt;b&amp;c" in html and "a<b&c" not in html
    assert "color:#b00020" in html


def test_missing_lock_says_so(tmp_path: Path) -> None:
    table = versions(lock=tmp_path / "nope.txt")
    assert table.matches_lock is None
    assert (
        table.lock_status == f"cannot compare with the lock: no lock file at {str(tmp_path / 'nope.txt')!r}"
    )


def test_checkout_lock_by_default() -> None:
    table = versions()
    # Matching depends on the environment (make test-latest runs the newest versions); the line
    # names the checkout's lock either way.
    assert table.lock_status is not None
    assert table.lock_status.startswith(
        ("matches requirements/lock.txt", "differs from requirements/lock.txt: ")
    )
    assert table.matches_lock is (not table.drifts)


def test_cli_prints_the_lock_line() -> None:
    result = CliRunner().invoke(main, ["versions"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == versions().lock_status
