"""Shared pytest fixtures: a small SimCam demo repository built once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path (str) of a small SimCam repository: 2 visits (r, z) x detector 4, 256 x 256 pixels.

    Built once per session (a few seconds) with `stackclub.simcam.testing.SMALL_REPO_SETTINGS`.
    Collections as in the demo repository: ``SimCam/raw/all``, ``SimCam/calib``, ``refcats``,
    ``SimCam/truth`` and the chain ``SimCam/defaults``. Tests may add their own output
    collections but must not remove anything.
    """
    pytest.importorskip("lsst.daf.butler", reason="the small repository needs the Rubin middleware")
    from stackclub.simcam.testing import build_small_repo

    return build_small_repo(tmp_path_factory.mktemp("simcam") / "small_repo")
