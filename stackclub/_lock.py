"""The lock file, ``requirements/lock.txt``: the exact versions the committed notebook outputs were made with.

`read_lock` parses it (the ``name==version ; marker`` lines that ``uv pip compile`` writes) and
`compare_with_lock` compares it with what is installed; `stackclub.health.doctor` and
`stackclub.installed.versions` both build on these two.
"""

from __future__ import annotations

__all__ = (
    "LOCK_RELPATH",
    "Drift",
    "Pin",
    "compare_with_lock",
    "default_lock_path",
    "installed_versions",
    "normalize",
    "read_lock",
)

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

#: Where the lock lives, relative to a Stack Club checkout.
LOCK_RELPATH = "requirements/lock.txt"

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*(?P<version>[^\s;\\]+)"
    r"\s*(?:;\s*(?P<marker>[^\\#]+?))?\s*(?:\\)?\s*$"
)


def normalize(name: str) -> str:
    """Return the normalized form of a distribution name (PEP 503).

    Parameters
    ----------
    name
        A distribution name in any spelling.

    Examples
    --------
    >>> normalize("Jinja2"), normalize("lsst_daf.butler")
    ('jinja2', 'lsst-daf-butler')
    """
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of the lock.

    Attributes
    ----------
    name
        The distribution name as the lock spells it.
    version
        The pinned version.
    marker
        The environment marker (``sys_platform == 'darwin'``) or `None`.
    """

    name: str
    version: str
    marker: str | None = None

    def applies(self) -> bool:
        """Return whether this pin is meant for the running interpreter and platform."""
        if not self.marker:
            return True
        try:
            from packaging.markers import Marker
        except ImportError:  # pragma: no cover - packaging comes with matplotlib and pip
            return True
        return bool(Marker(self.marker).evaluate())


@dataclass(frozen=True)
class Drift:
    """A package whose installed version is not the one the lock pins.

    Attributes
    ----------
    name
        Distribution name, as the lock spells it.
    installed
        The installed version, or `None` when the package is not installed.
    locked
        The version the lock pins.
    """

    name: str
    installed: str | None
    locked: str

    def __str__(self) -> str:
        if self.installed is None:
            return f"{self.name} not installed, lock says {self.locked}"
        return f"{self.name} {self.installed} installed, lock says {self.locked}"

    def short(self) -> str:
        """One compact phrase, e.g. ``numpy 2.5.5 (lock 2.5.4)``."""
        return f"{self.name} {self.installed or 'missing'} (lock {self.locked})"


def read_lock(path: str | os.PathLike[str]) -> dict[str, Pin]:
    r"""Read the pins of a lock file written by ``uv pip compile`` (or ``pip-compile``).

    Parameters
    ----------
    path
        The lock file.

    Returns
    -------
    pins : `dict` [`str`, `Pin`]
        Normalized distribution name -> its pin (the pins for every platform, markers kept).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file pins nothing (it is not a lock file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "lock.txt"
    >>> text = "numpy==2.5.4 \\\n    --hash=sha256:00\n"
    >>> _ = p.write_text(text + "appnope==1.0.0 ; sys_platform == 'darwin'\n")
    >>> pins = read_lock(p)
    >>> pins["numpy"].version, pins["appnope"].marker
    ('2.5.4', "sys_platform == 'darwin'")
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no lock file at {str(path)!r}")
    pins: dict[str, Pin] = {}
    for line in path.read_text().splitlines():
        m = _PIN.match(line)
        if m:
            marker = (m.group("marker") or "").strip() or None
            pins[normalize(m.group("name"))] = Pin(m.group("name"), m.group("version"), marker)
    if not pins:
        raise ValueError(
            f"{str(path)!r} pins no package (expected lines like 'numpy==2.5.4'): is it a lock file?"
        )
    return pins


def default_lock_path() -> Path | None:
    """Return the checkout's ``requirements/lock.txt``, or `None` when Stack Club is not run from a checkout.

    Examples
    --------
    >>> p = default_lock_path()
    >>> p is None or p.name == "lock.txt"
    True
    """
    checkout = Path(__file__).resolve().parents[1]
    lock = checkout / LOCK_RELPATH
    if (checkout / "pyproject.toml").is_file() and lock.is_file():
        return lock
    return None


def installed_versions() -> dict[str, str]:
    """Return normalized distribution name -> installed version, for every distribution on `sys.path`.

    Examples
    --------
    >>> "click" in installed_versions()
    True
    """
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and normalize(name) not in found:  # the first one on sys.path wins, as for imports
            found[normalize(name)] = dist.version
    return found


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover
        return False
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def compare_with_lock(pins: Mapping[str, Pin], installed: Mapping[str, str] | None = None) -> list[Drift]:
    """Return the pins (for this platform) that the installed versions do not match.

    Parameters
    ----------
    pins
        From `read_lock`.
    installed
        Normalized name -> version; default: `installed_versions`.

    Returns
    -------
    drifts : `list` [`Drift`]
        Sorted by name; empty when the environment matches the lock. Packages installed but
        not in the lock (your own tools) are not drift.

    Examples
    --------
    >>> pins = {"numpy": Pin("numpy", "2.5.4"), "appnope": Pin("appnope", "1.0", "sys_platform == 'nope'")}
    >>> [str(d) for d in compare_with_lock(pins, {"numpy": "2.5.5"})]
    ['numpy 2.5.5 installed, lock says 2.5.4']
    """
    have = installed_versions() if installed is None else installed
    drifts = []
    for key, pin in sorted(pins.items()):
        if not pin.applies():
            continue
        version = have.get(key)
        if version is None or not _same_version(version, pin.version):
            drifts.append(Drift(pin.name, version, pin.version))
    return drifts
