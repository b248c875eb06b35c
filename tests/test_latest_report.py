"""make test-latest's report: versions that moved against the lock, and each failing test or notebook cell.

The junit XML comes from a real pytest + nbval run (in a subprocess) over a small notebook whose
committed outputs disagree with a fresh run, next to unit tests that fail.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from stackclub._lock import Pin, installed_versions

# tools/latest_report.py is a maintainer's script (make test-latest), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from latest_report import _nbval_difference, main, parse_junit, version_moves


def _notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("## 1. Printing"))
    stream = nbformat.v4.new_code_cell("print('a\\nb\\nc')", execution_count=1)
    stream.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\nB\nc\n")]
    nb.cells.append(stream)
    nb.cells.append(nbformat.v4.new_markdown_cell("## 2. Failing"))
    error = nbformat.v4.new_code_cell("1/0", execution_count=2)
    result = nbformat.v4.new_code_cell("{'k': 1}", execution_count=3)
    result.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "{'k': 2}"}, execution_count=3)
    ]
    fine = nbformat.v4.new_code_cell("print('ok')", execution_count=4)
    fine.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    nb.cells += [error, result, fine]
    nbformat.write(nb, str(path))


def _lock_like_here(path: Path, **changes: str | None) -> Path:
    """A lock pinning what is installed here, with some versions changed (None: left out)."""
    pins = {**installed_versions(), **changes}
    pins.pop("stackclub", None)
    path.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items()) if version))
    return path


@pytest.fixture(scope="module")
def junit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run pytest + nbval once over a notebook and a test module that both fail; return the junit XML."""
    root = tmp_path_factory.mktemp("latest")
    (root / "notebooks").mkdir()
    _notebook(root / "notebooks" / "01_Demo.ipynb")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text(
        "import pytest\n"
        "def test_ok():\n    assert 1 == 1\n"
        "def test_list():\n    assert [1, 2] == [1, 3]\n"
        "def test_raises():\n    raise ValueError('boom <x> | y')\n"
        "@pytest.fixture\ndef broken():\n    raise RuntimeError('fixture broke')\n"
        "def test_error(broken):\n    pass\n"
    )
    (root / "pytest.ini").write_text("[pytest]\n")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--color=no",
        "--nbval",
        "--nbval-current-env",
    ]
    cmd += ["--junitxml=junit.xml", "-q", "notebooks", "tests"]
    run = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    return root / "junit.xml"


def test_parse_junit_names_each_failure(junit: Path) -> None:
    counts, failures = parse_junit(junit, root=junit.parent)
    assert counts == {"tests": 8, "failures": 5, "errors": 1, "skipped": 0, "passed": 2}
    rows = [(f.test_id, f.kind, f.exception, f.first_difference) for f in failures]
    assert rows == [
        ("notebooks/01_Demo.ipynb::Cell 0", "failure", "outputs differ (stdout)", "committed: B | now: b"),
        ("notebooks/01_Demo.ipynb::Cell 1", "failure", "ZeroDivisionError: division by zero", None),
        (
            "notebooks/01_Demo.ipynb::Cell 2",
            "failure",
            "outputs differ (text/plain)",
            "committed: {'k': 2} | now: {'k': 1}",
        ),
        (
            "tests/test_x.py::test_list",
            "failure",
            "AssertionError: assert [1, 2] == [1, 3]",
            "At index 1 diff: 2 != 3",
        ),
        ("tests/test_x.py::test_raises", "failure", "ValueError: boom <x> | y", None),
        ("tests/test_x.py::test_error", "error", "RuntimeError: fixture broke (in setup)", None),
    ]
    assert [f.cell for f in failures[:3]] == [0, 1, 2]


def test_report_and_exit_status(junit: Path, tmp_path: Path) -> None:
    lock = _lock_like_here(tmp_path / "lock.txt", click="0.0.1", **{"lsst-gone": "1.0", "numpy": None})
    out = tmp_path / "reports" / "latest.md"
    args = ["--lock", str(lock), "--junit", str(junit), "--output", str(out), "--root", str(junit.parent)]
    assert main([*args, "--pytest-exit", "1"]) == 1
    text = out.read_text()
    assert "**SOMETHING BROKE**" in text
    assert f"| click | 0.0.1 | {metadata.version('click')} |" in text
    assert "| lsst-gone | 1.0 | (not installed) |" in text
    assert f"| numpy | (not in the lock) | {metadata.version('numpy')} |" in text
    assert "- versions: 1 moved, 1 new (not in the lock), 1 no longer installed" in text
    assert "- Rubin packages (lsst-*): lsst-gone 1.0 -> (not installed)" in text
    assert (
        "- tests: 8 run, 2 passed, 5 failed, 1 errors, 0 skipped (3 failing tests, 3 failing notebook cells"
        in text
    )
    # the cell's place in the committed notebook, and pipes escaped for the Markdown table
    assert (
        "| `` notebooks/01_Demo.ipynb cell 0 (In [1], § 1. Printing) `` | `` outputs differ (stdout) `` |"
        in text
    )
    assert "`` committed: B \\| now: b ``" in text
    assert (
        "| `` notebooks/01_Demo.ipynb cell 1 (In [2], § 2. Failing) `` "
        "| `` ZeroDivisionError: division by zero `` | — |" in text
    )
    assert "`` ValueError: boom <x> \\| y ``" in text
    assert "| `` tests/test_x.py::test_error (error) `` |" in text


def test_nothing_broke(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest"><testcase classname="tests.test_a" name="test_a" time="0.1"/>'
        '<testcase classname="tests.test_a" name="test_b"><skipped message="no"/></testcase>'
        "</testsuite></testsuites>"
    )
    lock = _lock_like_here(tmp_path / "lock.txt")
    out = tmp_path / "latest.md"
    assert main(["--lock", str(lock), "--junit", str(junit), "--output", str(out), "--pytest-exit", "0"]) == 0
    text = out.read_text()
    assert "**nothing broke**" in text
    assert "- Rubin packages (lsst-*): nothing moved" in text
    assert "- tests: 2 run, 1 passed, 0 failed, 0 errors, 1 skipped" in text
    assert "Nothing: every test and every notebook cell passed." in text


def test_missing_junit_or_bad_exit_is_broken(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(f"click=={metadata.version('click')}\n")
    out = tmp_path / "latest.md"
    args = ["--lock", str(lock), "--junit", str(tmp_path / "none.xml"), "--output", str(out)]
    assert main([*args, "--pytest-exit", "0"]) == 1
    assert "no junit XML was written (pytest did not finish)" in out.read_text()


def test_collection_error(tmp_path: Path) -> None:
    """A test module that no longer imports (pytest's junit names it by its dotted module path)."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_c.py").write_text("import not_a_module_xyz\n")
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest"><testcase classname="" name="tests.test_c" time="0.0">'
        "<error message=\"collection failure\">ImportError while importing test module 'tests/test_c.py'.\n"
        "tests/test_c.py:1: in &lt;module&gt;\n    import not_a_module_xyz\n"
        "E   ModuleNotFoundError: No module named 'not_a_module_xyz'</error>"
        "</testcase></testsuite></testsuites>"
    )
    counts, (failure,) = parse_junit(junit, root=tmp_path)
    assert counts["errors"] == 1
    assert failure.test_id == "tests/test_c.py"
    assert (
        failure.exception == "ModuleNotFoundError: No module named 'not_a_module_xyz' (collecting the module)"
    )


def test_version_moves() -> None:
    pins = {"numpy": Pin("numpy", "2.5.4"), "appnope": Pin("appnope", "1.0", "sys_platform == 'never'")}
    moves = version_moves(pins, {"numpy": "2.6.0", "new-pkg": "1.0", "stackclub": "0.1.0"})
    assert [str(m) for m in moves] == ["new-pkg (not in the lock) -> 1.0", "numpy 2.5.4 -> 2.6.0"]


def test_first_difference_formats() -> None:
    """nbval's two ways of reporting a difference, as seen in a real make test-latest run."""
    inserted = (
        " mismatch 'stdout'\n\n assert reference_output == test_output failed:\n\n"
        "    doFringe:\n  - maskNaNs=cfg.doNanMasking and not doFringe,\n    if doFringe:\n"
        "  - fringe.run(badArray=satArray)\n  ?                     -----\n  + fringe.run(badArray=sat)\n"
    )
    assert (
        _nbval_difference(inserted)
        == "committed: (no such line) | now: maskNaNs=cfg.doNanMasking and not doFringe,"
    )
    changed_html = (
        "  - <tr><td>1</td><td>988.6484319164572</td></tr>\n  ?  ^\n"
        "  + <tr><td>1</td><td>988.6484318067512</td></tr>\n  ?  ^\n"
    )
    assert _nbval_difference(changed_html) == "committed: 1 988.6484318067512 | now: 1 988.6484319164572"
    more_outputs = (
        'dissimilar number of outputs for key "text/html"<<<<<<<<<<<< Reference outputs from ipynb file:\n'
        "<pre><span>isr</span> INFO: done</pre>\n<pre><span>meas</span> INFO: Measured 209 sources</pre>\n"
        "============ disagrees with newly computed (test) output:\n"
        "<pre><span>isr</span> INFO: done</pre>\n<pre><span>deblend</span> INFO: Deblended 3 parents</pre>\n"
        "<pre><span>meas</span> INFO: Measured 209 sources</pre>\n>>>>>>>>>>>>"
    )
    assert _nbval_difference(more_outputs) == (
        "committed: meas INFO: Measured 209 sources | now: deblend INFO: Deblended 3 parents"
    )
