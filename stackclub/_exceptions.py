"""Exceptions raised by Stack Club helpers.

Every message says what was wrong and what to do instead.
"""

from __future__ import annotations

__all__ = (
    "BadDetectorError",
    "DemoRepoError",
    "MissingStackError",
    "NotADemoRepoError",
    "RepoNotWritableError",
    "SimCamError",
    "SimCamValueError",
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


# --- stackclub.simcam (issue 7: the simulated camera and the demo repository) -------------------


class SimCamError(StackClubError):
    """Base class of the errors raised by `stackclub.simcam`."""


class BadDetectorError(SimCamError, ValueError):
    """A detector id, or a detector count, that SimCam does not have.

    Parameters
    ----------
    detector
        What was asked for.
    n_detectors
        How many detectors SimCam has (ids ``0 .. n_detectors - 1``).
    """

    def __init__(self, detector: object, n_detectors: int) -> None:
        self.detector = detector
        self.n_detectors = n_detectors
        super().__init__(
            f"SimCam has no detector {detector!r}: its detectors are the integers 0 to {n_detectors - 1}. "
            f"Pass ids from that range (or a count from 1 to {n_detectors})."
        )


class SimCamValueError(SimCamError, ValueError):
    """A bad argument to a SimCam simulator or builder (e.g. a negative visit count)."""


class DemoRepoError(SimCamError):
    """The demo repository cannot be built or used at the given path.

    Parameters
    ----------
    path
        The repository path.
    problem
        What is wrong.
    advice
        What to do instead.
    """

    def __init__(self, path: object, problem: str, advice: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.advice = advice
        super().__init__(f"{problem} ({self.path!r}). {advice}")


class NotADemoRepoError(DemoRepoError):
    """The path exists but is not a Butler repository (and is not an empty folder)."""


class RepoNotWritableError(DemoRepoError, PermissionError):
    """The repository (or its parent folder) cannot be written."""
