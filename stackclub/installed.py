"""Which versions of the Rubin packages (and friends) this session is using.

The modern answer to the 2018 notebooks' ``eups list -s | grep lsst_distrib``.  The table's last
line says whether the environment matches ``requirements/lock.txt``, the versions the committed
notebook outputs were made with.
"""

from __future__ import annotations

__all__ = ("versions",)

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ._lock import LOCK_RELPATH, Drift, compare_with_lock, default_lock_path, read_lock
from ._render import Table, escape

#: Distributions shown by `versions`, in this order: the Rubin packages first.
DISTRIBUTIONS: tuple[str, ...] = (
    "stackclub",
    "lsst-pipe-base",
    "lsst-pex-config",
    "lsst-daf-butler",
    "lsst-ctrl-mpexec",
    "lsst-ctrl-bps",
    "lsst-ctrl-bps-parsl",
    "lsst-images",
    "lsst-utils",
    "astropy",
    "numpy",
    "scipy",
    "matplotlib",
)


#: How many drifting packages the one-line lock status names before it says "and N more".
_SHOWN_DRIFTS = 3


@dataclass(repr=False)
class VersionTable(Table):
    """The table `versions` returns: one row per distribution, then one line about the lock.

    Attributes
    ----------
    lock_status
        One short line: ``matches requirements/lock.txt``, ``differs from requirements/lock.txt:
        numpy 2.5.5 (lock 2.5.4) — run make lab``, or why there is no lock to compare with.
    drifts
        Every package (of the lock, for this platform) whose installed version differs.
    """

    lock_status: str | None = None
    drifts: list[Drift] = field(default_factory=list)

    @property
    def matches_lock(self) -> bool | None:
        """`True`/`False` whether the environment matches the lock; `None` when there is no lock."""
        if self.lock_status is None or not self.lock_status.startswith(("matches", "differs")):
            return None
        return not self.drifts

    def to_text(self, *, max_width: int | None = None) -> str:
        """Render as aligned plain text; the lock status is the last line.

        Parameters
        ----------
        max_width
            Widest cell, in characters (`None`: no limit).
        """
        text = super().to_text(max_width=max_width)
        return f"{text}\n{self.lock_status}" if self.lock_status else text

    def to_html(self) -> str:
        """Render as an HTML table; the lock status is a line under it (escaped)."""
        html = super().to_html()
        if not self.lock_status:
            return html
        colour = {True: "#2e7d32", False: "#b00020", None: "inherit"}[self.matches_lock]
        note = f'<p style="margin:0.3em 0 0 0; color:{colour}">{escape(self.lock_status)}</p>'
        head, _, tail = html.rpartition("</div>")
        return f"{head}{note}</div>{tail}"

    def version_of(self, distribution: str) -> str | None:
        """Return the installed version of ``distribution`` as listed, or `None`.

        Parameters
        ----------
        distribution
            A distribution listed in the table.
        """
        for name, version in self.rows:
            if name == distribution:
                return None if version == "not installed" else str(version)
        raise KeyError(f"{distribution!r} is not listed; listed are: {', '.join(r[0] for r in self.rows)}")


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _eups_version(distribution: str) -> str | None:
    """Version of an eups-managed package, read from its ``version.py`` (Rubin Science Platform)."""
    module = distribution.replace("lsst-", "lsst.").replace("-", ".")
    try:
        import importlib

        return str(importlib.import_module(f"{module}.version").__version__)
    except Exception:
        return None


def _lock_status(lock: str | os.PathLike[str] | None) -> tuple[str | None, list[Drift]]:
    if lock is None:
        path = default_lock_path()
        if path is None:
            return f"{LOCK_RELPATH} not available (Stack Club is not run from a checkout)", []
        shown, fix = LOCK_RELPATH, "run make lab"
    else:
        path = Path(lock)
        shown, fix = str(path), f"run pip install -r {path}"
    try:
        pins = read_lock(path)
    except (FileNotFoundError, ValueError) as err:
        return f"cannot compare with the lock: {err}", []
    drifts = compare_with_lock(pins)
    if not drifts:
        return f"matches {shown}", []
    named = ", ".join(d.short() for d in drifts[:_SHOWN_DRIFTS])
    more = f" and {len(drifts) - _SHOWN_DRIFTS} more" if len(drifts) > _SHOWN_DRIFTS else ""
    return f"differs from {shown}: {named}{more} — {fix} (stackclub doctor lists all)", drifts


def versions(*, include_missing: bool = False, lock: str | os.PathLike[str] | None = None) -> VersionTable:
    """Return a table of the installed versions of Stack Club and the packages it teaches.

    Parameters
    ----------
    include_missing
        Also list packages that are not installed (e.g. the ``bps`` extras).
    lock
        The lock file to compare the environment with; default: the checkout's
        ``requirements/lock.txt`` (outside a checkout the last line says it is not available).

    Returns
    -------
    table : `VersionTable`
        Renders as an HTML table in a notebook and as aligned text in a terminal; the
        first row is the Python version, the last line says whether every package the lock
        pins is installed at its pinned version (``table.matches_lock``).

    Examples
    --------
    >>> from stackclub import versions
    >>> v = versions()
    >>> v.version_of("python") == __import__("platform").python_version()
    True
    """
    rows: list[Sequence[Any]] = [["python", platform.python_version()]]
    for dist in DISTRIBUTIONS:
        version = _installed_version(dist)
        if version is None and dist.startswith("lsst-"):
            version = _eups_version(dist)
        if version is None and not include_missing:
            continue
        rows.append([dist, version or "not installed"])
    status, drifts = _lock_status(lock)
    return VersionTable(
        ["package", "version"], rows, title="Versions in use", lock_status=status, drifts=drifts
    )
