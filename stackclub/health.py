"""``stackclub doctor``: is this set-up the one the notebooks were made with, and ready to run them.

One finding per check, each with what to do: the Python version, the installed versions against
``requirements/lock.txt``, the demo Butler repository, JupyterLab and a Python kernel.
"""

from __future__ import annotations

__all__ = ("DoctorReport", "Finding", "doctor")

import importlib.util
import logging
import os
import platform
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ._lock import LOCK_RELPATH, compare_with_lock, default_lock_path, read_lock
from ._render import Styled, Table

_LOG = logging.getLogger(__name__)

#: The oldest Python the Rubin middleware (and so Stack Club) runs on.
MIN_PYTHON: tuple[int, int] = (3, 12)

#: The chained collection every notebook reads from.
DEFAULTS_COLLECTION = "SimCam/defaults"


@dataclass(frozen=True)
class Finding:
    """The result of one check.

    Attributes
    ----------
    check
        What was checked: ``"python"``, ``"lock"``, ``"demo repository"``, ``"jupyterlab"``, ``"kernel"``.
    ok
        `True` when nothing needs doing.
    message
        What was found.
    action
        What to do about it (`None` when nothing needs doing).
    """

    check: str
    ok: bool
    message: str
    action: str | None = None

    def __str__(self) -> str:
        text = f"{'ok     ' if self.ok else 'PROBLEM'} {self.check}: {self.message}"
        return f"{text}: {self.action}" if self.action else text


@dataclass
class DoctorReport:
    """What `doctor` found: one `Finding` per line, problems first within each check.

    Renders as one line per finding in a terminal (`str`) and as a table in a notebook.
    """

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """`True` when no finding is a problem."""
        return all(f.ok for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        """The findings that need doing something."""
        return [f for f in self.findings if not f.ok]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __repr__(self) -> str:
        return f"<DoctorReport: {len(self.findings)} findings, {len(self.problems)} problems>"

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self.findings)

    def to_table(self) -> Table:
        """Return the findings as a `stackclub._render.Table` (status, check, finding, what to do)."""
        rows: list[Sequence[Any]] = [
            [
                Styled("ok", "color: #2e7d32")
                if f.ok
                else Styled("PROBLEM", "color: #b00020; font-weight: bold"),
                f.check,
                f.message,
                f.action or "",
            ]
            for f in self.findings
        ]
        title = "stackclub doctor: " + ("all good" if self.ok else f"{len(self.problems)} problem(s)")
        return Table(["", "check", "finding", "what to do"], rows, title=title)

    def _repr_html_(self) -> str:
        return self.to_table().to_html()


def _check_python(minimum: tuple[int, int] = MIN_PYTHON) -> Finding:
    version = platform.python_version()
    need = ".".join(map(str, minimum))
    if sys.version_info[:2] >= minimum:
        return Finding("python", True, f"{version} at {sys.executable} (Stack Club needs >= {need})")
    return Finding(
        "python",
        False,
        f"{version} at {sys.executable} is too old (Stack Club and the Rubin middleware need >= {need})",
        f"run `make clean && make lab PYTHON=/path/to/python{need}`",
    )


def _check_lock(lock: str | os.PathLike[str] | None) -> list[Finding]:
    if lock is None:
        path = default_lock_path()
        if path is None:
            return [
                Finding(
                    "lock",
                    True,
                    f"not available ({LOCK_RELPATH} is in a Stack Club checkout, and stackclub is not "
                    "run from one): check skipped",
                )
            ]
        fix = "run `make lab` (or pip install -r requirements/lock.txt)"
        shown = LOCK_RELPATH
    else:
        path = Path(lock)
        fix = f"run `pip install -r {path}`"
        shown = str(path)
    try:
        pins = read_lock(path)
    except (FileNotFoundError, ValueError) as err:
        return [Finding("lock", False, str(err), "pass an existing lock with --lock PATH")]
    drifts = compare_with_lock(pins)
    if not drifts:
        return [Finding("lock", True, f"every package pinned in {shown} is installed at its pinned version")]
    return [Finding("lock", False, str(d), fix) for d in drifts]


def _check_repo(repo: str | os.PathLike[str] | None) -> list[Finding]:
    if repo is None:
        from .simcam.repo import default_demo_repo_path

        path = default_demo_repo_path()
        build = "run `stackclub demo-repo` (or `make demo-repo`)"
    else:
        path = Path(repo)
        build = f"run `stackclub demo-repo {path}`"
    if not (path / "butler.yaml").is_file():
        what = (
            "does not exist"
            if not path.exists()
            else "exists but is not a Butler repository (no butler.yaml)"
        )
        return [Finding("demo repository", False, f"{path} {what}", build)]
    try:
        from lsst.daf.butler import Butler, MissingCollectionError
    except ImportError:
        return [
            Finding(
                "demo repository",
                False,
                f"{path} cannot be opened: lsst-daf-butler is not installed",
                "run `make lab` (or pip install -r requirements/lock.txt)",
            )
        ]
    try:
        butler = Butler.from_config(str(path), writeable=False)
    except Exception as err:  # a broken repository can fail in many ways; name the error
        return [
            Finding(
                "demo repository",
                False,
                f"{path} does not open with the Butler ({type(err).__name__}: {err})",
                f"remove it (rm -r {path}) and {build}",
            )
        ]
    try:
        with butler:
            try:
                info = butler.collections.get_info(DEFAULTS_COLLECTION)
            except MissingCollectionError:
                return [
                    Finding(
                        "demo repository",
                        False,
                        f"{path} opens but has no {DEFAULTS_COLLECTION} collection (an interrupted build?)",
                        f"{build} again to complete it",
                    )
                ]
            n_children = len(info.children)
    except Exception as err:  # pragma: no cover - registry trouble after opening
        return [Finding("demo repository", False, f"{path}: {type(err).__name__}: {err}", build)]
    return [
        Finding(
            "demo repository",
            True,
            f"{path} opens with the Butler; {DEFAULTS_COLLECTION} chains {n_children} collections",
        )
    ]


def _check_jupyterlab() -> Finding:
    try:
        version = metadata.version("jupyterlab")
    except metadata.PackageNotFoundError:
        return Finding("jupyterlab", False, "JupyterLab is not installed", "run `make lab`")
    return Finding("jupyterlab", True, f"JupyterLab {version}")


def _check_kernel() -> Finding:
    if importlib.util.find_spec("ipykernel") is None:
        return Finding("kernel", False, "ipykernel is not installed (no Python kernel)", "run `make lab`")
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception as err:  # pragma: no cover - a broken jupyter_client
        return Finding(
            "kernel", False, f"cannot list kernelspecs ({type(err).__name__}: {err})", "run `make lab`"
        )
    python_specs = sorted(name for name in specs if name.startswith("python"))
    if not python_specs:
        return Finding(
            "kernel",
            False,
            "ipykernel is installed but no Python kernelspec is",
            f"run `{sys.executable} -m ipykernel install --sys-prefix`",
        )
    return Finding(
        "kernel", True, f"ipykernel {metadata.version('ipykernel')}, kernelspec(s): {', '.join(python_specs)}"
    )


def doctor(
    *,
    lock: str | os.PathLike[str] | None = None,
    repo: str | os.PathLike[str] | None = None,
) -> DoctorReport:
    """Check that this environment can run the notebooks and matches the versions they were made with.

    Parameters
    ----------
    lock
        The lock file to compare the installed versions with; default: the checkout's
        ``requirements/lock.txt`` (the check is skipped, and says so, when Stack Club is not
        run from a checkout).
    repo
        The demo repository to check; default: the one the notebooks use
        (`stackclub.simcam.repo.default_demo_repo_path`).

    Returns
    -------
    report : `DoctorReport`
        One `Finding` per check (one per drifting package); ``report.ok`` says whether all is
        well. ``str(report)`` is one line per finding, each problem ending with what to do.

    Examples
    --------
    >>> from stackclub import doctor
    >>> report = doctor(repo="/nonexistent/repo")
    >>> report.ok
    False
    >>> print([f for f in report if f.check == "demo repository"][0])
    PROBLEM demo repository: /nonexistent/repo does not exist: run `stackclub demo-repo /nonexistent/repo`
    """
    findings = [_check_python()]
    findings += _check_lock(lock)
    findings += _check_repo(repo)
    findings += [_check_jupyterlab(), _check_kernel()]
    for finding in findings:
        _LOG.debug("%s", finding)
    return DoctorReport(findings)
