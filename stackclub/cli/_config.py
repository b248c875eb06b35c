"""``stackclub config``: show a task's or config class's fields in the terminal."""

from __future__ import annotations

__all__ = ("config",)

import click


@click.command("config")
@click.argument("task_or_config_class", required=False)
@click.option("--changed-only", is_flag=True, help="Show only fields that differ from their defaults.")
@click.option(
    "--fields", "fields", metavar="GLOB", multiple=True, help="Show only fields matching GLOB (e.g. 'do*')."
)
@click.option(
    "-C",
    "--config-file",
    "config_files",
    metavar="FILE",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Apply a config override file first (as `pipetask -C label:FILE` does); repeatable.",
)
@click.option(
    "-p",
    "--pipeline",
    metavar="YAML",
    type=click.Path(exists=True, dir_okay=False),
    help="Show the config this pipeline gives the task (its config: overrides applied).",
)
@click.option("--label", metavar="LABEL", help="The task's label in --pipeline.")
@click.option("--depth", type=click.IntRange(min=0), default=None, help="Levels of nested configs to show.")
@click.option("--tree", is_flag=True, help="Show the subtask tree instead of the fields.")
@click.option(
    "--connections", is_flag=True, help="Show the PipelineTask's connections instead of the fields."
)
@click.option("--width", type=click.IntRange(min=10), default=60, show_default=True, help="Widest cell.")
def config(
    task_or_config_class: str | None,
    changed_only: bool,
    fields: tuple[str, ...],
    config_files: tuple[str, ...],
    pipeline: str | None,
    label: str | None,
    depth: int | None,
    tree: bool,
    connections: bool,
    width: int,
) -> None:
    """Show the configuration of TASK_OR_CONFIG_CLASS, a dotted class path.

    For example ``stackclub config lsst.pipe.base.PipelineTaskConfig``,
    ``stackclub config stackclub.pipe.IsrTask --fields 'do*'`` or
    ``stackclub config -p ProcessCcd.yaml --label isr --changed-only``.
    """
    from .._exceptions import StackClubError
    from ..config_docs import show_config, show_task_tree
    from ..pipeline_docs import show_connections, task_config

    if task_or_config_class is None and pipeline is None:
        raise click.UsageError("Give TASK_OR_CONFIG_CLASS, or --pipeline and --label.")
    if tree and pipeline is not None:
        raise click.UsageError("--tree reads a task class; leave out --pipeline.")
    try:
        if tree:
            text = show_task_tree(task_or_config_class).to_table().to_text(max_width=width)
        elif connections:
            view = show_connections(task_or_config_class, pipeline=pipeline, label=label)
            text = view.to_table().to_text(max_width=width)
        elif pipeline is not None and not config_files:  # "set at" then names the YAML's lines
            shown = show_config(
                task_or_config_class,
                pipeline=pipeline,
                label=label,
                fields=list(fields) or None,
                changed_only=changed_only,
                depth=depth,
            )
            text = shown.to_text(max_width=width)
        else:
            cfg = task_config(task_or_config_class, pipeline=pipeline, label=label, config_files=config_files)
            shown = show_config(cfg, fields=list(fields) or None, changed_only=changed_only, depth=depth)
            text = shown.to_text(max_width=width)
    except StackClubError as err:
        raise click.ClickException(str(err)) from None
    click.echo(text)
