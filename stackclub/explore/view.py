"""The explorer: controls over a `TaskRunModel`, its live panel, and `explore_task`, which makes one."""

from __future__ import annotations

__all__ = ("STATIC_CAPTION", "TaskExplorer", "explore_task")

import base64
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._exceptions import ExploreError, MissingStackError, StackClubError
from .controls import DEFAULT_SLIDER, Control, config_copy, config_has, find_switches, slider_control
from .inputs import FetchedInputs, fetch_run_arguments
from .model import ExplorerFrame, TaskRunModel

if TYPE_CHECKING:
    from lsst.daf.butler import Butler
    from lsst.pex.config import Config
    from lsst.pipe.base import Task

#: Written under the static picture where the live panel cannot be shown.
STATIC_CAPTION = "A static picture: the live panel needs JupyterLab (or Notebook 7) with ipywidgets."
_NO_WIDGETS = (
    "ipywidgets is not installed, so there is no live panel: this is the first frame. Install it "
    "(pip install ipywidgets; `make lab` does), or call explorer.run({...}) for any other frame."
)


# --------------------------------------------------------------------------------------------------
# The explorer: controls over a model, and its panel
# --------------------------------------------------------------------------------------------------


class TaskExplorer:
    """Controls over a `TaskRunModel` and the panel that shows them (see `explore_task`).

    Parameters
    ----------
    model
        The model that runs the task.
    switches
        The switch controls.
    slider
        The slider control, if any.
    """

    #: Frames whose picture and text are kept, so flipping a switch back is instant.
    CACHE_SIZE = 32

    def __init__(
        self, model: TaskRunModel, switches: Sequence[Control], slider: Control | None = None
    ) -> None:
        self.model = model
        self.switches = list(switches)
        self.slider = slider
        self.values: dict[str, Any] = {c.path: c.value for c in self.controls}
        self._rendered: OrderedDict[tuple[Any, ...], tuple[bytes, str]] = OrderedDict()
        self._limits: tuple[float, float] | None = None
        self._widget: Any = None
        self._static_png: bytes | None = None
        self.frame = self.run()

    @property
    def controls(self) -> list[Control]:
        """The switches, then the slider."""
        return self.switches + ([self.slider] if self.slider is not None else [])

    def changes(self) -> dict[str, Any]:
        """Return the controls' values that differ from their starting values."""
        return {c.path: self.values[c.path] for c in self.controls if self.values[c.path] != c.value}

    def run(self, changes: Mapping[str, Any] | None = None, /, **fields: Any) -> ExplorerFrame:
        """Run the task with changes to the starting config, without touching the panel.

        Parameters
        ----------
        changes
            Field path -> value (dotted paths: ``{"star_detection.thresholdValue": 10.0}``).
        **fields
            Top-level fields as keywords: ``run(doBias=False)``.

        Returns
        -------
        frame
            The run's `ExplorerFrame`.
        """
        return self.model.run({**(changes or {}), **fields})

    def set(self, changes: Mapping[str, Any] | None = None, /, **fields: Any) -> ExplorerFrame:
        """Change controls (as the panel's checkboxes and slider do), run, and update the panel.

        Parameters
        ----------
        changes
            Control path -> value.
        **fields
            Top-level controls as keywords: ``set(doBias=False)``.

        Returns
        -------
        frame
            The new current frame.

        Raises
        ------
        stackclub._exceptions.ExploreError
            A path that is not one of the controls.
        """
        updates = {**(changes or {}), **fields}
        unknown = sorted(set(updates) - set(self.values))
        if unknown:
            raise ExploreError(
                f"{', '.join(map(repr, unknown))}: not a control of this explorer",
                f"Its controls are: {', '.join(self.values)}; for other fields use run({{...}})",
            )
        self.values.update(updates)
        self.frame = self.model.run(self.changes())
        self._static_png = None
        if self._widget is not None:
            from ._widgets import refresh

            refresh(self)
        return self.frame

    def rendered(self, frame: ExplorerFrame | None = None) -> tuple[bytes, str]:
        """Return ``(png, html)`` of a frame (default: the current one), from a small cache.

        Parameters
        ----------
        frame
            The frame.

        Returns
        -------
        png, html
            The picture (colour limits locked to the first frame's) and the frame's HTML.
        """
        frame = frame or self.frame
        key = tuple(sorted((k, repr(v)) for k, v in frame.changes.items()))
        if key not in self._rendered:
            png, used = frame._render(limits=self._limits)
            if self._limits is None and used is not None:
                self._limits = used  # later frames keep the first frame's stretch: changes show
            self._rendered[key] = (png, frame._repr_html_())
            while len(self._rendered) > self.CACHE_SIZE:
                self._rendered.popitem(last=False)
        self._rendered.move_to_end(key)
        return self._rendered[key]

    @property
    def widget(self) -> Any:
        """The live panel (an ``ipywidgets.VBox``), built on first use.

        Raises
        ------
        stackclub._exceptions.MissingStackError
            ipywidgets is not installed.
        """
        if self._widget is None:
            from ._widgets import build

            self._widget = build(self)
        return self._widget

    @property
    def headline(self) -> str:
        """One deterministic line: task, data ID, controls."""
        names = ", ".join(c.path for c in self.switches) or "none"
        slider = f"slider {self.slider.path}" if self.slider is not None else "no slider"
        return (
            f"Task explorer: {self.model.task_class.__name__} on {self.model.data_id}; "
            f"{len(self.switches)} switches ({names}); {slider}."
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if self._static_png is None:
            self.rendered()  # fixes the colour limits from the first frame
            self._static_png = self.frame.png(limits=self._limits, caption=STATIC_CAPTION)
        png = self._static_png
        try:
            widget = self.widget
        except MissingStackError:
            text = f"{self.headline} {_NO_WIDGETS}"
            return {"text/plain": text, "image/png": base64.b64encode(png).decode("ascii")}
        bundle = dict(widget._repr_mimebundle_())
        bundle["text/plain"] = (
            f"{self.headline} Live in JupyterLab (ipywidgets); a static view shows the first frame."
        )
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle

    def __str__(self) -> str:
        return (
            f"{self.headline}\nWidgets need a Jupyter frontend: here, explorer.run({{'doX': False}}) gives "
            f"any frame, frame.png() or frame.plot() its picture.\n\n{self.frame}"
        )

    def __repr__(self) -> str:
        slider = self.slider.path if self.slider is not None else "none"
        return (
            f"<TaskExplorer: {self.model.task_class.__name__} on {self.model.data_id}, "
            f"{len(self.switches)} switches, slider {slider}>"
        )


# --------------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------------

_DEFAULT = object()


def _resolve_task(task: Any) -> tuple[type[Task], Config | None]:
    from .._config_model import resolve_task

    try:
        task_class, instance, config = resolve_task(task, what="explore_task")
    except StackClubError as err:
        raise ExploreError(str(err), "Pass a task class such as stackclub.pipe.IsrTask") from None
    if not hasattr(task_class, "run"):
        raise ExploreError(f"{task_class.__name__} has no run() method", "Pass a Task class")
    return task_class, (config if instance is not None else None)


def _open(repo: str | os.PathLike[str] | Butler | None) -> Butler:
    try:
        from lsst.daf.butler import Butler
    except ImportError as err:
        raise MissingStackError("lsst.daf.butler", "explore_task from a data ID") from err
    if isinstance(repo, Butler):
        return repo
    if repo is None:
        from ..simcam.repo import demo_repo

        repo = demo_repo(progress=False)
    if not isinstance(repo, str | os.PathLike):
        raise ExploreError(
            f"repo= is a path or a Butler, not {type(repo).__name__}",
            "Pass the path stackclub.demo_repo() returns, or a Butler",
        )
    return Butler.from_config(os.fspath(repo))


def explore_task(
    task: Any,
    data_id: Mapping[str, Any] | None = None,
    *,
    repo: str | os.PathLike[str] | Butler | None = None,
    collections: str | Sequence[str] = "SimCam/defaults",
    inputs: Mapping[str, Any] | None = None,
    config: Config | None = None,
    switches: str | Sequence[str] | None = None,
    slider: Any = _DEFAULT,
    show: str | None = None,
    reference: Any = None,
) -> TaskExplorer:
    """Explore a task live: a switch per ``do*`` field, a threshold slider, and what ``run`` gives.

    The task's inputs for ``data_id`` are fetched from the repository once (through the task's
    own ``runQuantum``, writing nothing); every change of a switch or the slider re-runs
    ``task.run(...)`` in memory and shows the output image (or its residual against
    ``reference``), the config fields changed from the task's defaults and the captured log.

    Parameters
    ----------
    task
        A task class (``stackclub.pipe.IsrTask``), a task instance (its config is the starting
        point) or a dotted class path.
    data_id
        The data ID to run on, e.g. ``{"exposure": 2026031500002, "detector": 0}``; it must name
        one quantum of the task.  Not with ``inputs``.
    repo
        The repository (path or Butler); default: the demo repository (`stackclub.demo_repo`).
    collections
        Input collections to search.
    inputs
        Instead of ``data_id``: the keyword arguments of ``run`` (e.g. an image already in memory).
    config
        The starting config (default: the task's defaults, or the instance's config).
    switches
        `None`: every boolean ``do*`` field (``doBias``, ``psf_repair.doCosmicRay``, ...); else glob
        patterns over dotted paths choosing the boolean fields to show.
    slider
        A numeric field's dotted path, or ``(path, minimum, maximum)``; by default
        `DEFAULT_SLIDER` when the config has it; `None` for no slider.
    show
        The field of ``run``'s result to draw; default: the first output that is an image.
    reference
        An image or array to subtract from the drawn image (e.g. the result of a perfect run on
        the simulator's true calibrations): the picture is then the residual.

    Returns
    -------
    explorer : `TaskExplorer`
        Displays as the live panel in JupyterLab (ipywidgets), as a static first frame with a
        one-line message where widgets cannot run; ``explorer.run({...})`` gives any frame as an
        object, ``explorer.set(...)`` moves the controls.

    Raises
    ------
    stackclub._exceptions.ExploreError
        Both or neither of ``data_id`` and ``inputs``; a data ID that names no quantum (the
        missing input is named) or several; a ``switches``/``slider``/``show`` that does not exist.

    Notes
    -----
    In a notebook run without a frontend (``nbval``, ``jupyter nbconvert --execute``), the cell's
    output holds the widget view (which ``nbval`` does not compare: its model id changes on every
    run), the static first frame as ``image/png`` (not compared either) and the ``text/plain`` line
    (compared: it names the task, data ID and controls only, so it is the same on every run).

    Examples
    --------
    >>> import stackclub
    >>> from stackclub.pipe import IsrTask
    >>> data_id = {"exposure": 2026031500002, "detector": 0}
    >>> explorer = stackclub.explore_task(IsrTask, data_id)  # doctest: +SKIP
    >>> explorer  # doctest: +SKIP
    >>> frame = explorer.run(doFlat=False)  # doctest: +SKIP
    >>> frame.diff  # doctest: +SKIP
    """
    if (data_id is None) == (inputs is None):
        raise ExploreError(
            "explore_task needs either data_id= (to fetch the inputs from the repository) or inputs= "
            "(run()'s arguments, already in memory)",
            "Pass exactly one of them",
        )
    task_class, instance_config = _resolve_task(task)
    start = config if config is not None else instance_config
    start_config = config_copy(start) if start is not None else task_class.ConfigClass()
    names = [collections] if isinstance(collections, str) else list(collections)
    if data_id is not None:
        butler = _open(repo)

        def fetch(cfg: Config) -> FetchedInputs:
            return fetch_run_arguments(task_class, cfg, butler, dict(data_id), names)

        model = TaskRunModel(
            task_class, fetch(start_config), config=start_config, fetch=fetch, show=show, reference=reference
        )
    else:
        assert inputs is not None
        model = TaskRunModel(task_class, inputs, config=start_config, show=show, reference=reference)
    switch_controls = find_switches(start_config, switches)
    if slider is _DEFAULT:
        slider = DEFAULT_SLIDER if config_has(start_config, DEFAULT_SLIDER) else None
    slider_ctl = slider_control(start_config, slider) if slider is not None else None
    return TaskExplorer(model, switch_controls, slider_ctl)
