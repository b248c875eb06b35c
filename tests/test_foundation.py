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


LOCK = "requirements/lock.txt"


def _extras() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def _make_dry_run(target: str, tmp_path: Path) -> str:
    """The commands `make TARGET` would run for a fresh virtual environment (make -n)."""
    found = subprocess.run([str(ROOT / ".ci" / "find-python")], capture_output=True, text=True)
    python = found.stdout.strip() or sys.executable
    result = subprocess.run(
        ["make", "-C", str(ROOT), "-n", target, f"VENV={tmp_path / 'venv'}", f"PYTHON={python}"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("target", ["test", "lab", "docs", "test-browser", "notebooks", "bench", "demo-repo"])
def test_make_targets_install_from_the_lock(target: str, tmp_path: Path) -> None:
    commands = _make_dry_run(target, tmp_path)
    installs = [ln.strip() for ln in commands.splitlines() if "pip install" in ln and "upgrade pip" not in ln]
    # (make -n shows the install once per recursive make that needs it: compare the distinct commands)
    assert sorted(set(installs)) == [
        f"{tmp_path / 'venv'}/bin/python -m pip install --quiet --no-deps -e .",
        f"{tmp_path / 'venv'}/bin/python -m pip install --quiet -r {LOCK}",
    ], commands


def test_makefile_lock_is_the_one_binder_and_conda_use() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^LOCK \?= {re.escape(LOCK)}$", makefile, re.M)
    # the install stamp is re-made when the lock (or pyproject.toml) changes
    assert re.search(r"^\$\(VENV\)/\.installed-lock: pyproject\.toml \$\(LOCK\)", makefile, re.M)
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert f"pip install --no-cache-dir -r {LOCK}" in post_build
    assert "pip install --no-deps -e ." in post_build
    assert _conda_dependencies(ROOT / "binder" / "environment.yml") == ["python=3.12", "pip"]
    assert _conda_dependencies(ROOT / "environment.yml") == ["python=3.12", "pip", "pip:", f"-r {LOCK}"]


def _conda_dependencies(path: Path) -> list[str]:
    """The entries under ``dependencies:`` of a conda environment file (comments dropped)."""
    body = path.read_text().split("dependencies:", 1)[1]
    return [m.group(1).strip() for m in re.finditer(r"^\s*-\s+([^#\n]+)", body, re.M)]


def test_makefile_extras_are_every_extra() -> None:
    """test-latest installs every extra (unpinned): the same set the lock pins."""
    m = re.search(r"^EXTRAS_ALL := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert m and set(m.group(1).split(",")) == _extras()


def test_lock_pins_every_dependency_of_pyproject() -> None:
    from packaging.requirements import Requirement

    from stackclub._lock import read_lock

    pins = read_lock(ROOT / LOCK)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    for text in requirements:
        req = Requirement(text)
        pin = pins.get(_name(req.name))
        assert pin is not None, f"{req.name} (pyproject.toml) has no pinned line in {LOCK}: run `make lock`"
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"{LOCK} pins {req.name}=={pin.version}, but pyproject.toml asks for {req}: run `make lock`"
        )


def test_lock_has_hashes_and_says_how_it_was_made() -> None:
    text = (ROOT / LOCK).read_text()
    assert "#    make lock" in text.splitlines()[1]
    entries = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M)[1:]
    assert entries and all("--hash=sha256:" in e for e in entries)


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
    """Every name of the stubs (``__init__.pyi``, read by lazy_loader) resolves, in a fresh process."""
    code = (
        "import stackclub, stackclub.simcam\n"
        "for package in (stackclub, stackclub.simcam):\n"
        "    assert list(package.__all__) == sorted(package.__all__)\n"
        "    for name in package.__all__:\n"
        "        assert getattr(package, name) is not None, name\n"
        "print(len(stackclub.__all__), len(stackclub.simcam.__all__))"
    )
    import stackclub.simcam

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(len(stackclub.__all__)), str(len(stackclub.simcam.__all__))]
    assert {"where_is", "uses_of", "show_connections", "versions"} <= set(stackclub.__all__)
    with pytest.raises(AttributeError, match="No stackclub attribute nope"):
        stackclub.nope  # noqa: B018


def test_stubs_list_what_the_package_exports() -> None:
    """The stubs are the one registry of public names: one ``from .module import name as name`` each."""
    import ast

    for package in ("stackclub", "stackclub.simcam"):
        module = __import__(package, fromlist=["__all__"])
        stub = Path(module.__file__).with_suffix(".pyi")
        imported = [
            alias.name
            for node in ast.parse(stub.read_text()).body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.asname == alias.name
        ]
        assert sorted(imported) == list(module.__all__), package


def test_versions_table() -> None:
    from importlib import metadata

    table = stackclub.versions()
    assert table.version_of("lsst-pipe-base") == metadata.version("lsst-pipe-base")
    assert table.rows[0][0] == "python"
    html = table._repr_html_()
    assert "<th" in html and "lsst-pipe-base" in html
    with pytest.raises(KeyError, match="'nope' is not listed"):
        table.version_of("nope")
    from stackclub.installed import DISTRIBUTIONS

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
