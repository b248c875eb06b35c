"""Explore a task live: flip its ``do*`` switches, move a threshold, and watch what ``run`` gives.

`explore_task` fetches a task's inputs for one data ID from the demo repository *once* (the way
``pipetask`` would, but writing nothing), then re-runs ``task.run(...)`` in memory on every change
and shows the output image (or its residual against a reference, e.g. the simulator's truth), the
config fields changed from the task's defaults (`stackclub.diff_configs`) and the log of that run
(`stackclub.capture_logs`).

The parts, from pure to interactive:

- `stackclub.explore.controls`: the controls, discovered from the config (`find_switches`,
  `slider_control`);
- `stackclub.explore.inputs`: the inputs of ``run`` for a data ID, through the task's own
  ``runQuantum`` (nothing is written);
- `stackclub.explore.model`: `TaskRunModel`, config changes -> one run -> an `ExplorerFrame`
  (result, pixels, config difference, log).  No widgets: unit-testable, usable in a terminal;
- `stackclub.explore.view`: `TaskExplorer`, the controls over a model and its panel (ipywidgets in
  JupyterLab; a static picture and a one-line message elsewhere), and `explore_task`.
"""

from __future__ import annotations

__all__ = (
    "DEFAULT_SLIDER",
    "Control",
    "ExplorerFrame",
    "TaskExplorer",
    "TaskRunModel",
    "explore_task",
    "find_switches",
    "slider_control",
)

from .controls import DEFAULT_SLIDER, Control, find_switches, slider_control
from .model import ExplorerFrame, TaskRunModel
from .view import TaskExplorer, explore_task
