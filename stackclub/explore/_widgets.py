"""The live panel of `stackclub.explore.view.TaskExplorer`: ipywidgets controls, picture and details.

Only the view lives here: every change goes through ``TaskExplorer.set`` (the model runs the
task), and `refresh` copies the new frame's picture and HTML into the widgets.
"""

from __future__ import annotations

__all__ = ("build", "refresh")

from typing import TYPE_CHECKING, Any

from .._exceptions import MissingStackError
from .._render import escape

if TYPE_CHECKING:
    from .controls import Control
    from .view import TaskExplorer


def _ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError as err:
        raise MissingStackError("ipywidgets", "The live task explorer panel") from err
    return ipywidgets


def _control_widget(widgets: Any, control: Control) -> Any:
    style = {"description_width": "initial"}
    if control.kind == "switch":
        widget = widgets.Checkbox(
            value=bool(control.value),
            description=control.path,
            indent=False,
            tooltip=control.doc or control.path,
            style=style,
            layout=widgets.Layout(width="auto"),
        )
        widget.add_class("stackclub-explorer-switch")
        return widget
    cls = widgets.IntSlider if control.integer else widgets.FloatSlider
    options: dict[str, Any] = {} if control.integer else {"readout_format": ".3g"}
    widget = cls(
        value=control.value,
        min=control.minimum,
        max=control.maximum,
        step=control.step,
        description=control.path,
        continuous_update=False,
        tooltip=control.doc or control.path,
        style=style,
        layout=widgets.Layout(width="95%"),
        **options,
    )
    widget.add_class("stackclub-explorer-slider")
    return widget


def _status(explorer: TaskExplorer, text: str | None = None) -> str:
    frame = explorer.frame
    if text is None:
        text = f"failed: {frame.error.split(':')[0]}" if frame.error else "done"
    return f'<span class="stackclub-explorer-status">{escape(text)}</span>'


def build(explorer: TaskExplorer) -> Any:
    """Build the panel: controls beside the picture, the frame's details below.

    Parameters
    ----------
    explorer
        The explorer whose controls and frames the panel shows.

    Returns
    -------
    panel
        An ``ipywidgets.VBox``.

    Raises
    ------
    stackclub._exceptions.MissingStackError
        ipywidgets is not installed.
    """
    widgets = _ipywidgets()
    png, html = explorer.rendered()
    controls = {c.path: _control_widget(widgets, c) for c in explorer.controls}
    image = widgets.Image(value=png, format="png", layout=widgets.Layout(max_width="560px"))
    image.add_class("stackclub-explorer-image")
    details = widgets.HTML(value=html)
    details.add_class("stackclub-explorer-details")
    status = widgets.HTML(value=_status(explorer))
    model = explorer.model
    title = widgets.HTML(
        value=f"<b>Task explorer: {escape(model.task_class.__name__)} on {escape(model.data_id)}</b>"
    )
    left = widgets.VBox(
        [
            widgets.HTML("<i>Switch a step, move the slider: the task runs again.</i>"),
            *controls.values(),
            status,
        ],
        layout=widgets.Layout(min_width="280px", max_width="420px"),
    )
    panel = widgets.VBox([title, widgets.HBox([left, image]), details])
    panel.add_class("stackclub-explorer")
    panel._stackclub = {"controls": controls, "image": image, "details": details, "status": status}

    def on_change(change: dict[str, Any], path: str) -> None:
        if explorer.values.get(path) == change["new"]:
            return  # refresh() mirroring a change made in code: it has run already
        for widget in controls.values():
            widget.disabled = True
        status.value = _status(explorer, "running…")
        try:
            explorer.set({path: change["new"]})
        finally:
            for widget in controls.values():
                widget.disabled = False

    for path, widget in controls.items():
        widget.observe(lambda change, path=path: on_change(change, path), names="value")
    return panel


def refresh(explorer: TaskExplorer) -> None:
    """Show the explorer's current frame in its panel (and the controls' values).

    Parameters
    ----------
    explorer
        An explorer whose panel was built.
    """
    panel = explorer._widget
    parts = panel._stackclub
    png, html = explorer.rendered()
    parts["image"].value = png
    parts["details"].value = html
    parts["status"].value = _status(explorer)
    for path, widget in parts["controls"].items():
        if widget.value != explorer.values[path]:
            widget.value = explorer.values[path]  # set() from code: the observer sees no change to run
