"""Test helpers for code that needs SimCam data (like ``lsst.images.tests``): the small repository.

The ``small_repo`` pytest fixture (``tests/conftest.py``) builds `SMALL_REPO_SETTINGS` once per
test session; tests that check what is in it read the same settings from here.
"""

from __future__ import annotations

__all__ = (
    "SMALL_REPO_SETTINGS",
    "build_small_repo",
)

import os
from types import MappingProxyType
from typing import Any

#: How the tests' small repository is built: 2 visits (r, then z, so fringe correction has
#: work to do) x detector 4 (the centre of the mosaic), 256 x 256 imaging pixels, seed 7.
SMALL_REPO_SETTINGS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "visits": 2,
        "detectors": (4,),
        "bands": ("r", "z"),
        "geometry": "small",
        "seed": 7,
    }
)


def build_small_repo(path: str | os.PathLike[str]) -> str:
    """Build (or complete) the small test repository at ``path`` and return its path as a string.

    Parameters
    ----------
    path
        The repository folder.

    Examples
    --------
    >>> build_small_repo(tmp_path / "small_repo")  # doctest: +SKIP
    '/tmp/.../small_repo'
    """
    from .repo import build_demo_repo

    build_demo_repo(path, progress=False, **SMALL_REPO_SETTINGS)
    return os.fspath(path)
