"""Which versions of the Rubin packages (and friends) this session is using.

The modern answer to the 2018 notebooks' ``eups list -s | grep lsst_distrib``.
"""

from __future__ import annotations

__all__ = ("versions",)

import platform
from importlib import metadata

from ._render import Table

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


class VersionTable(Table):
    """The table `versions` returns: one row per distribution."""

    def version_of(self, distribution: str) -> str | None:
        """Return the installed version of ``distribution`` as listed, or `None`."""
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


def versions(*, include_missing: bool = False) -> VersionTable:
    """Return a table of the installed versions of Stack Club and the packages it teaches.

    Parameters
    ----------
    include_missing
        Also list packages that are not installed (e.g. the ``bps`` extras).

    Returns
    -------
    table : `VersionTable`
        Renders as an HTML table in a notebook and as aligned text in a terminal; the
        first row is the Python version.

    Examples
    --------
    >>> from stackclub import versions
    >>> v = versions()
    >>> v.version_of("python") == __import__("platform").python_version()
    True
    """
    rows: list[list[str]] = [["python", platform.python_version()]]
    for dist in DISTRIBUTIONS:
        version = _installed_version(dist)
        if version is None and dist.startswith("lsst-"):
            version = _eups_version(dist)
        if version is None and not include_missing:
            continue
        rows.append([dist, version or "not installed"])
    return VersionTable(["package", "version"], rows, title="Versions in use")
