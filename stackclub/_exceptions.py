"""Exceptions raised by Stack Club helpers.

Every message says what was wrong and what to do instead.
"""

from __future__ import annotations

__all__ = (
    "MissingStackError",
    "StackClubError",
)


class StackClubError(Exception):
    """Base class of every error a Stack Club helper raises on purpose."""


class MissingStackError(StackClubError, ImportError):
    """A helper needs a Rubin package (``lsst.*``) that is not installed.

    Parameters
    ----------
    module
        The module that failed to import, e.g. ``"lsst.daf.butler"``.
    needed_for
        What the user was trying to do.
    """

    def __init__(self, module: str, needed_for: str) -> None:
        self.module = module
        self.needed_for = needed_for
        super().__init__(
            f"{needed_for} needs {module!r}, which is not installed. Install the Rubin packages with "
            "`pip install -e '.[stack]'` (or `make lab`), or set up lsst_distrib on a Rubin Science Platform."
        )
