"""``stackclub where-is`` and ``stackclub uses-of``."""

from __future__ import annotations

__all__ = (
    "uses_of",
    "where_is",
)

from typing import cast

import click


@click.command("where-is")
@click.argument("name")
@click.option(
    "--in-the",
    "in_the",
    type=click.Choice(["source", "repo", "docs", "file"]),
    default="source",
    show_default=True,
    help="source: the file at the installed version's tag, with line anchors; repo: the repository at "
    "that tag; docs: the API page; file: the installed file (works offline).",
)
def where_is(name: str, in_the: str) -> None:
    """Print where the code of NAME is, pinned to the installed version.

    NAME is a dotted Python name: a module, class, function, method or config field, e.g.
    lsst.pipe.base.PipelineTask.runQuantum.
    """
    from .._exceptions import StackClubError
    from ..source import where_is as _where_is
    from ..source.links import Target

    try:
        link = _where_is(name, in_the=cast(Target, in_the))
    except StackClubError as err:
        raise click.ClickException(str(err)) from None
    click.echo(str(link))


@click.command("uses-of")
@click.argument("cls")
@click.argument("field")
def uses_of(cls: str, field: str) -> None:
    """Print where config field FIELD is used in the source of task or config class CLS (and its bases).

    CLS is a dotted name, e.g. lsst.pipe.base.PipelineTask; FIELD a config field name, e.g. doFringe.
    """
    from .._exceptions import StackClubError
    from ..source import uses_of as _uses_of

    try:
        uses = _uses_of(cls, field)
    except StackClubError as err:
        raise click.ClickException(str(err)) from None
    click.echo(str(uses))
