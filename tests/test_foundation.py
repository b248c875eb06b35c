"""The foundation: packaging, the Makefile's Python detection, the CLI, the environment files."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import stackclub
from stackclub.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    """Normalized distribution name of a requirement string (PEP 503)."""
    name = re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_packages(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in extras:
        names |= {_name(r) for r in project["optional-dependencies"][extra]}
    return names


def _conda_packages(path: Path) -> set[str]:
    """Package names in a conda environment file (conda and pip sections), without python/pip."""
    names = set()
    for line in path.read_text().split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if m and not line.strip().endswith(":"):
            names.add(_name(m.group(1)))
    return names - {"python", "pip"}


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_environment_files_match_pyproject(path: str) -> None:
    expected = _pyproject_packages("stack", "test", "lab", "bps")
    assert _conda_packages(ROOT / path) == expected


def test_binder_and_environment_yml_identical_below_header() -> None:
    body = [(ROOT / p).read_text().split("name: stackclub", 1)[1] for p in ("environment.yml", "binder/environment.yml")]
    assert body[0] == body[1]


def test_rubin_packages_are_only_in_the_stack_extra() -> None:
    core = _pyproject_packages()
    assert not {n for n in core if n.startswith("lsst-")}, "lsst-* must stay out of the core dependencies"
    assert {"lsst-pipe-base", "lsst-daf-butler", "lsst-images", "lsst-pex-config", "lsst-ctrl-mpexec"} <= (
        _pyproject_packages("stack")
    )


def test_version_and_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"stackclub, version {stackclub.__version__}"
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Usage: stackclub" in result.output
    assert "versions" in result.output


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "stackclub"
    out = subprocess.run([str(exe), "-h"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("Usage: stackclub")


def test_import_is_light() -> None:
    """Importing stackclub must not import the Rubin stack (it may be missing on a user's machine)."""
    code = "import sys, stackclub; print(sorted(m for m in sys.modules if m.startswith('lsst')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_name_resolves() -> None:
    for name in stackclub.__all__:
        assert getattr(stackclub, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        stackclub.nope  # noqa: B018


def test_versions_table() -> None:
    from importlib import metadata

    table = stackclub.versions()
    assert table.version_of("lsst-pipe-base") == metadata.version("lsst-pipe-base")
    assert table.rows[0][0] == "python"
    html = table._repr_html_()
    assert "<th" in html and "lsst-pipe-base" in html
    with pytest.raises(KeyError, match="'nope' is not listed"):
        table.version_of("nope")
    from stackclub.versions import DISTRIBUTIONS

    assert len(stackclub.versions(include_missing=True)) == len(DISTRIBUTIONS) + 1


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60)


def test_make_refuses_old_python() -> None:
    old = next((p for p in ("/usr/bin/python3.11", "/usr/bin/python3") if Path(p).exists()), None)
    result = _make("test", f"PYTHON={old or '/nonexistent/python'}")
    assert result.returncode != 0
    assert "Stack Club needs Python >= 3.12" in result.stderr
    assert "PYTHON=/path/to/python3.12" in result.stderr


def test_find_python_finds_312_or_newer() -> None:
    out = subprocess.run([str(ROOT / ".ci" / "find-python")], capture_output=True, text=True)
    assert out.returncode == 0
    version = subprocess.run(
        [out.stdout.strip(), "-c", "import sys; print(sys.version_info >= (3, 12))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert version == "True"


def test_ci_runs_make_test() -> None:
    assert re.search(r"^make test\b", (ROOT / ".ci" / "run").read_text(), re.M)
