"""Shared pytest fixtures: a small SimCam demo repository built once per test session."""

from __future__ import annotations

import pytest

#: How the session's small repository is built (tests read these to know what to expect).
SMALL_REPO_SETTINGS = {
    "visits": 2,  # one in r, one in z (so fringe correction has work to do)
    "detectors": [4],  # the centre of the 3 x 3 mosaic
    "bands": ("r", "z"),
    "geometry": "small",  # 256 x 256 imaging pixels per detector
    "seed": 7,
}


@pytest.fixture(scope="session")
def small_repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path (str) of a small SimCam repository: 2 visits (r, z) x detector 4, small geometry.

    Collections as in the demo repository: ``SimCam/raw/all``, ``SimCam/calib``, ``refcats``,
    ``SimCam/truth`` and the chain ``SimCam/defaults``. Built once per session (a few seconds);
    tests may add their own output collections but must not remove anything.
    """
    pytest.importorskip("lsst.daf.butler", reason="the small repository needs the Rubin middleware")
    from stackclub.simcam.repo import build_demo_repo

    path = tmp_path_factory.mktemp("simcam") / "small_repo"
    build_demo_repo(path, progress=False, **SMALL_REPO_SETTINGS)  # type: ignore[arg-type]
    return str(path)
