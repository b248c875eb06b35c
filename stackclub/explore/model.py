"""The explorer's model: config changes -> one in-memory ``task.run(...)`` -> an `ExplorerFrame`.

No widgets here: a frame holds the result, the pixels to draw, the config difference from the
task's defaults and the run's log, and renders as text, HTML and a PNG by itself.
"""

from __future__ import annotations

__all__ = ("ExplorerFrame", "TaskRunModel")

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .._exceptions import ExploreError
from .._render import Table, escape
from .controls import config_copy, config_has, config_set
from .inputs import FetchedInputs, input_connection_names

if TYPE_CHECKING:
    from lsst.pex.config import Config
    from lsst.pipe.base import Task
    from matplotlib.axes import Axes

    from ..config_docs import ConfigDiff
    from ..logs import LogRecords


# --------------------------------------------------------------------------------------------------
# One run: a frame
# --------------------------------------------------------------------------------------------------


def _pixels_of(value: Any) -> np.ndarray | None:
    """Return the 2-D pixel array of an image-like value (``.image.array``, ``.array`` or an array)."""
    for candidate in (
        getattr(getattr(value, "image", None), "array", None),
        getattr(value, "array", None),
        value,
    ):
        if isinstance(candidate, np.ndarray) and candidate.ndim == 2 and candidate.size:
            return candidate
    return None


def _error_text(err: BaseException) -> str:
    """Return ``"ErrorType: message"``, without pex_config's pointer to its own source files."""
    message = str(err).split("\nFor more information see the Field definition", 1)[0]
    return f"{type(err).__name__}: {message}"


def _describe(value: Any) -> str:
    pixels = _pixels_of(value)
    if pixels is not None:
        return f"{type(value).__name__}, {pixels.shape[0]} × {pixels.shape[1]} pixels"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if hasattr(value, "colnames") and hasattr(value, "__len__"):
        return f"{type(value).__name__}, {len(value)} rows"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


@dataclass
class ExplorerFrame:
    """One run of the task: its config changes, result, picture and log.

    Attributes
    ----------
    task_name
        The task class name.
    data_id
        What it ran on, as text.
    changes
        Dotted path -> value, for the fields this frame changed from the explorer's start.
    config
        The config it ran with.
    diff
        Its difference from the task's default config (`stackclub.diff_configs`).
    logs
        The log records of the run (`stackclub.capture_logs`).
    result
        What ``run`` returned (a ``Struct``), or `None` if it raised.
    error
        ``"ErrorType: message"`` if the run (or the config) failed, else `None`.
    shown
        The result field drawn, e.g. ``"outputExposure"``.
    pixels
        The pixels drawn: the image, or its residual against the reference.
    residual
        Whether ``pixels`` is a residual (image minus reference).
    outputs
        ``(field, description)`` for every field of the result.
    unit
        The unit of the image drawn (e.g. ``"electron"``), if it has one: the colour bar's label.
    """

    task_name: str
    data_id: str
    changes: dict[str, Any]
    config: Config
    diff: ConfigDiff
    logs: LogRecords
    result: Any = None
    error: str | None = None
    shown: str | None = None
    pixels: np.ndarray | None = field(default=None, repr=False)
    residual: bool = False
    outputs: list[tuple[str, str]] = field(default_factory=list)
    unit: str | None = None

    @property
    def title(self) -> str:
        """One line: task, data ID and changes."""
        changed = ", ".join(f"{k}={v!r}" for k, v in self.changes.items()) or "as configured"
        return f"{self.task_name} on {self.data_id}: {changed}"

    def picture_title(self) -> str:
        """Return the title drawn over the picture."""
        what = f"{self.shown} − reference" if self.residual else (self.shown or "no image")
        changed = ", ".join(f"{k}={v}" for k, v in self.changes.items()) or "as configured"
        return f"{self.task_name}: {what}\n{changed}"

    def outputs_table(self) -> Table:
        """Return the fields of the result as a table."""
        return Table(["result field", "value"], [list(o) for o in self.outputs], title="What run() returned")

    def __str__(self) -> str:
        parts = [self.title]
        if self.error:
            parts.append(f"run() failed: {self.error}")
        if self.outputs:
            parts.append(self.outputs_table().to_text())
        parts.append(str(self.diff) if len(self.diff) else "Config: the task's defaults.")
        parts.append(self.logs.text or "(no log records)")
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        parts = ['<div class="stackclub-explorer-frame">', f"<p><b>{escape(self.title)}</b></p>"]
        if self.error:
            parts.append(
                '<pre class="stackclub-explorer-error" style="white-space: pre-wrap; '
                f'color: var(--jp-error-color1, #b71c1c)">run() failed: {escape(self.error)}</pre>'
            )
        if self.outputs:
            parts.append(self.outputs_table().to_html())
        parts.append(self.diff._repr_html_() if len(self.diff) else "<p>Config: the task's defaults.</p>")
        parts.append(self.logs._repr_html_() if len(self.logs) else "<p>(no log records)</p>")
        parts.append("</div>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        state = f"failed: {self.error.split(':')[0]}" if self.error else f"{len(self.outputs)} outputs"
        return f"<ExplorerFrame {self.title} ({state})>"

    def plot(
        self,
        ax: Axes | None = None,
        *,
        limits: tuple[float, float] | None = None,
        caption: str | None = None,
    ) -> Axes:
        """Draw the frame's picture with `stackclub.show_image`.

        Parameters
        ----------
        ax
            Axes to draw on; by default a new figure.
        limits
            Colour limits to use instead of the picture's own (so frames compare by eye).
        caption
            A line written under the picture.

        Returns
        -------
        ax
            The axes drawn on.
        """
        from ..display import show_image

        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6.4, 5.6))
        if self.pixels is None:
            reason = f"run() failed:\n{self.error}" if self.error else "the result holds no image"
            ax.text(0.5, 0.5, reason[:300], ha="center", va="center", wrap=True, transform=ax.transAxes)
            ax.set_axis_off()
            ax.set_title(self.picture_title(), fontsize=9)
        elif self.residual:
            show_image(self.pixels, ax=ax, stretch="linear", percentile=(0.5, 99.5), cmap="RdBu_r")
            ax.set_title(self.picture_title(), fontsize=9)
        else:
            show_image(self.pixels, ax=ax)
            ax.set_title(self.picture_title(), fontsize=9)
        if limits is not None and ax.images:
            ax.images[0].set_clim(*limits)
        colorbar = ax.images[0].colorbar if ax.images else None
        if self.unit and colorbar is not None:
            colorbar.set_label(f"residual [{self.unit}]" if self.residual else self.unit)
        if caption:
            ax.figure.text(0.5, 0.01, caption, ha="center", va="bottom", fontsize=8, style="italic")
        return ax

    def png(
        self, *, dpi: int = 100, limits: tuple[float, float] | None = None, caption: str | None = None
    ) -> bytes:
        """Return the frame's picture as PNG bytes (drawn off-screen: nothing is displayed).

        Parameters
        ----------
        dpi
            Resolution of the picture.
        limits, caption
            As in `plot`.

        Returns
        -------
        data
            The PNG file's bytes.
        """
        return self._render(dpi=dpi, limits=limits, caption=caption)[0]

    def _render(
        self, *, dpi: int = 100, limits: tuple[float, float] | None = None, caption: str | None = None
    ) -> tuple[bytes, tuple[float, float] | None]:
        """Return the PNG bytes and the colour limits used."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 5.6), dpi=dpi)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        self.plot(ax, limits=limits, caption=caption)
        figure.subplots_adjust(bottom=0.1 if caption else 0.06, top=0.9)
        used = None
        if ax.images:
            norm = ax.images[0].norm
            used = (float(cast(float, norm.vmin)), float(cast(float, norm.vmax)))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
        return buffer.getvalue(), used


# --------------------------------------------------------------------------------------------------
# The model: config changes -> run -> frame
# --------------------------------------------------------------------------------------------------


class TaskRunModel:
    """A task, its inputs fetched once, and a starting config: ``run(changes)`` gives a frame.

    Parameters
    ----------
    task_class
        The task class.
    inputs
        The arguments of ``run``: fetched (`stackclub._explore_inputs.FetchedInputs`) or a
        mapping of keyword arguments.
    config
        The starting config (default: the task's defaults).
    fetch
        Called with a config whose inputs differ from those fetched (e.g. a switch turned on
        that needs a calibration): returns its inputs.  `None`: such a change fails in its frame.
    show
        The result field to draw (default: the first output that is an image).
    reference
        An image or array the drawn image is compared with (the picture is the residual).
    """

    def __init__(
        self,
        task_class: type[Task],
        inputs: FetchedInputs | Mapping[str, Any],
        *,
        config: Config | None = None,
        fetch: Callable[[Config], FetchedInputs] | None = None,
        show: str | None = None,
        reference: Any = None,
    ) -> None:
        self.task_class = task_class
        self.start_config = config_copy(config) if config is not None else task_class.ConfigClass()
        if not isinstance(inputs, FetchedInputs):
            inputs = FetchedInputs((), dict(inputs), frozenset(), "the given inputs")
        self._fetched = [inputs]
        self._fetch = fetch
        self.data_id = inputs.data_id
        self.show = show
        self.reference = None if reference is None else _pixels_of(reference)
        if reference is not None and self.reference is None:
            raise ExploreError(
                f"reference= is a {type(reference).__name__}, not an image",
                "Pass a 2-D numpy array or an image (anything with .array or .image.array)",
            )

    def config_for(self, changes: Mapping[str, Any] | None = None) -> Config:
        """Return a copy of the starting config with ``changes`` (dotted path -> value) applied.

        Parameters
        ----------
        changes
            Field path -> new value.

        Returns
        -------
        config
            A new config; the starting one is not changed.

        Raises
        ------
        stackclub._exceptions.ExploreError
            A path that is not a field of the config.
        """
        changes = dict(changes or {})
        self._check_paths(changes)
        config = config_copy(self.start_config)
        for path, value in changes.items():
            config_set(config, path, value)
        return config

    def _check_paths(self, changes: Mapping[str, Any]) -> None:
        for path in changes:
            if not config_has(self.start_config, path):
                raise ExploreError(
                    f"{path!r} is not a field of {type(self.start_config).__name__}",
                    "Use a dotted path as in a config override file, e.g. 'doBias' or "
                    "'star_detection.thresholdValue'",
                )

    def _inputs_for(self, config: Config) -> tuple[tuple[Any, ...], dict[str, Any]]:
        needed = input_connection_names(config)
        fetched = next((f for f in self._fetched if needed <= f.connections or not f.connections), None)
        if fetched is None:
            if self._fetch is None:
                missing = sorted(needed - self._fetched[0].connections)
                raise ExploreError(
                    f"This config needs inputs that were not fetched: {missing}",
                    "Explore from a data ID (explore_task(task, data_id)) so they can be fetched",
                )
            fetched = self._fetch(config)
            self._fetched.append(fetched)
        kwargs = {k: v for k, v in fetched.kwargs.items() if k not in fetched.connections or k in needed}
        return fetched.args, kwargs

    def _shown_field(self, result: Any) -> str | None:
        values = result.getDict() if hasattr(result, "getDict") else {}
        if self.show is not None:
            if self.show not in values:
                raise ExploreError(
                    f"show={self.show!r} is not a field of what run() returned",
                    f"Its fields are: {', '.join(values) or 'none'}",
                )
            return self.show
        connections = getattr(getattr(self.start_config, "connections", None), "ConnectionsClass", None)
        order = list(connections.allConnections) if connections is not None else []
        for name in order + [n for n in values if n not in order]:
            if name in values and _pixels_of(values[name]) is not None:
                return name
        return None

    def run(self, changes: Mapping[str, Any] | None = None) -> ExplorerFrame:
        """Run the task once with ``changes`` to the starting config, in memory.

        Parameters
        ----------
        changes
            Field path -> value, e.g. ``{"doBias": False}``.

        Returns
        -------
        frame
            The result, picture, config difference and log.  A run that raises gives a frame
            with ``error`` set (the exception is not raised).

        Raises
        ------
        stackclub._exceptions.ExploreError
            A path in ``changes`` that is not a field of the config, or a ``show=`` field the
            result does not have.
        """
        from ..config_docs import diff_configs
        from ..logs import LogRecords, capture_logs

        changes = dict(changes or {})
        self._check_paths(changes)
        config = config_copy(self.start_config)
        error: str | None = None
        result = None
        logs: LogRecords = LogRecords()
        try:
            for path, value in changes.items():
                config_set(config, path, value)  # pex_config checks the type and the value
            config.validate()
            args, kwargs = self._inputs_for(config)
            with capture_logs("INFO", show=False) as logs:
                task: Any = self.task_class(config=config)
                result = task.run(*args, **kwargs)
        except Exception as err:
            # A failing run is something to look at in the frame, not a crash of the panel.
            error = _error_text(err)
        diff = diff_configs(self.task_class.ConfigClass(), config, labels=("default", "this run"))
        frame = ExplorerFrame(
            task_name=self.task_class.__name__,
            data_id=self.data_id,
            changes=changes,
            config=config,
            diff=diff,
            logs=logs,
            result=result,
            error=error,
        )
        if result is not None:
            values = result.getDict() if hasattr(result, "getDict") else {"result": result}
            frame.outputs = [(name, _describe(value)) for name, value in values.items()]
            frame.shown = self._shown_field(result)
            if frame.shown is not None:
                pixels = _pixels_of(values[frame.shown])
                assert pixels is not None
                unit = getattr(values[frame.shown], "unit", None)
                frame.unit = str(unit) if unit is not None and str(unit) else None
                if self.reference is not None:
                    if self.reference.shape != pixels.shape:
                        frame.error = (
                            f"ExploreError: the reference is {self.reference.shape[0]} × "
                            f"{self.reference.shape[1]} pixels, {frame.shown} is {pixels.shape[0]} × "
                            f"{pixels.shape[1]}"
                        )
                    else:
                        frame.pixels = pixels.astype(np.float64) - self.reference
                        frame.residual = True
                else:
                    frame.pixels = pixels
        return frame
