"""``stackclub doctor``."""

from __future__ import annotations

__all__ = ("doctor",)

import click


@click.command("doctor")
@click.option(
    "--lock",
    type=click.Path(dir_okay=False),
    default=None,
    help="Compare the installed versions with this lock file "
    "(default: requirements/lock.txt of the Stack Club checkout; skipped outside a checkout).",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False),
    default=None,
    help="Check this demo repository (default: the one the notebooks use).",
)
def doctor(lock: str | None, repo: str | None) -> None:
    """Check this set-up: Python version, versions against the lock, demo repository, JupyterLab, kernel.

    Prints one line per finding; each problem says what to do. Exit status 1 if there is any problem.
    """
    from ..health import doctor as _doctor

    report = _doctor(lock=lock, repo=repo)
    click.echo(str(report))
    if not report.ok:
        raise SystemExit(1)
