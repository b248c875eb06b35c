"""The teaching pipeline: ``isr`` -> ``calibrateImage`` as real PipelineTasks on lsst.images types.

Names mirror Rubin's (``lsst.ip.isr.IsrTask``, the legacy ISR task drp_pipe's HSC pipeline
runs, and ``lsst.pipe.tasks.calibrateImage``), so what you learn here carries over to the real
Science Pipelines.  Pipelines live in
``stackclub/pipe/pipelines`` (`PIPELINES_DIR`): ``ProcessCcd.yaml`` (isr + calibrateImage) and
``Isr.yaml`` (isr only).
"""

from __future__ import annotations

__all__ = (
    "PIPELINES_DIR",
    "ApplyApCorrTask",
    "AstrometryTask",
    "CalibrateImageConfig",
    "CalibrateImageTask",
    "ComputeExposureSummaryStatsTask",
    "FringeTask",
    "InstallGaussianPsfTask",
    "IsrTask",
    "IsrTaskConfig",
    "MeasureApCorrTask",
    "MeasurePsfTask",
    "OverscanCorrectionTask",
    "PhotoCalTask",
    "RepairTask",
    "ScienceSourceSelectorTask",
    "SingleFrameMeasurementTask",
    "SourceDeblendTask",
    "SourceDetectionTask",
    "SubtractBackgroundTask",
    "pipeline_path",
)

from pathlib import Path

from .astrometry import AstrometryTask
from .calibrateImage import CalibrateImageConfig, CalibrateImageTask
from .computeExposureSummaryStats import ComputeExposureSummaryStatsTask
from .deblend import SourceDeblendTask
from .detection import SourceDetectionTask
from .fringe import FringeTask
from .installGaussianPsf import InstallGaussianPsfTask
from .isr import IsrTask, IsrTaskConfig
from .measureApCorr import ApplyApCorrTask, MeasureApCorrTask
from .measurement import SingleFrameMeasurementTask
from .measurePsf import MeasurePsfTask
from .overscan import OverscanCorrectionTask
from .photoCal import PhotoCalTask
from .repair import RepairTask
from .sourceSelector import ScienceSourceSelectorTask
from .subtractBackground import SubtractBackgroundTask

#: Folder holding ``ProcessCcd.yaml`` and ``Isr.yaml``.
PIPELINES_DIR = Path(__file__).parent / "pipelines"


def pipeline_path(name: str = "ProcessCcd") -> Path:
    """Return the path of one of the teaching pipelines.

    Parameters
    ----------
    name
        ``"ProcessCcd"`` (isr + calibrateImage) or ``"Isr"`` (isr only); ``.yaml`` optional.

    Returns
    -------
    path
        Absolute path of the YAML file, for ``pipetask -p`` or ``SimplePipelineExecutor``.

    Examples
    --------
    >>> pipeline_path("Isr").name
    'Isr.yaml'
    """
    stem = name.removesuffix(".yaml")
    path = PIPELINES_DIR / f"{stem}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PIPELINES_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"No teaching pipeline {name!r}; the pipelines are {known}.")
    return path
