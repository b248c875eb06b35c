"""The teaching pipeline: ``isr`` -> ``calibrateImage`` as real PipelineTasks on lsst.images types.

Names mirror Rubin's (``lsst.ip.isr.IsrTaskLSST``, ``lsst.pipe.tasks.calibrateImage``), so what
you learn here carries over to the real Science Pipelines.  Pipelines live in
``stackclub/pipe/pipelines`` (`PIPELINES_DIR`).
"""

from __future__ import annotations

__all__ = (
    "PIPELINES_DIR",
    "FringeTask",
    "IsrTask",
    "IsrTaskConfig",
    "OverscanCorrectionTask",
)

from pathlib import Path

from .fringe import FringeTask
from .isr import IsrTask, IsrTaskConfig
from .overscan import OverscanCorrectionTask

#: Folder holding ``ProcessCcd.yaml`` and ``Isr.yaml``.
PIPELINES_DIR = Path(__file__).parent / "pipelines"
