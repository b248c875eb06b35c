"""``stackclub versions``."""

from __future__ import annotations

__all__ = ("versions",)

import click


@click.command("versions")
@click.option("--all", "include_missing", is_flag=True, help="Also list packages that are not installed.")
def versions(include_missing: bool) -> None:
    """Print the installed versions of Stack Club and the Rubin packages it uses."""
    from ..installed import versions as _versions

    click.echo(_versions(include_missing=include_missing).to_text())
