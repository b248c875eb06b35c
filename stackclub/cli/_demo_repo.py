"""``stackclub demo-repo``: build (or complete) a SimCam demo Butler repository."""

from __future__ import annotations

__all__ = ("demo_repo",)

import click


def _detectors(value: str) -> int | list[int]:
    """``4`` -> a count; ``0,1,4`` -> those detector ids."""
    try:
        if "," in value:
            return [int(v) for v in value.split(",") if v.strip()]
        return int(value)
    except ValueError:
        raise click.BadParameter(f"expected a count such as 4 or ids such as 0,1,4; got {value!r}") from None


@click.command("demo-repo")
@click.argument("path", required=False, type=click.Path(path_type=str))
@click.option("--visits", "-n", type=int, default=3, show_default=True, help="Number of visits (exposures).")
@click.option(
    "--detectors",
    "-d",
    default="4",
    show_default=True,
    help="Detector count (1-9), or comma-separated detector ids (0-8; one id: '4,').",
)
@click.option("--seed", "-s", type=int, default=None, help="Seed of everything random (default 2026).")
@click.option("--bands", "-b", default="r,z", show_default=True, help="Comma-separated bands of the visits.")
@click.option(
    "--geometry",
    "-g",
    type=click.Choice(["small", "default", "hsc"]),
    default="default",
    show_default=True,
    help="Detector size: 256x256, 2048x2048 or HSC's 2048x4176 pixels.",
)
@click.option(
    "--compression",
    type=click.Choice(["lossy", "lossless"]),
    default="lossy",
    show_default=True,
    help="FITS compression of the calibration images (new repositories only).",
)
@click.option(
    "--registry",
    default=None,
    metavar="URL",
    help="New repositories: put the registry in this PostgreSQL database "
    "(postgresql://USER@HOST:PORT/DBNAME) instead of SQLite; needs the bps extra (psycopg).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def demo_repo(
    path: str | None,
    visits: int,
    detectors: str,
    seed: int | None,
    bands: str,
    geometry: str,
    compression: str,
    registry: str | None,
    quiet: bool,
) -> None:
    """Build (or complete) the SimCam demo repository at PATH.

    Without PATH: the default repository the notebooks use ($STACKCLUB_DEMO_REPO, else
    ./demo_repo in a Stack Club checkout, else ~/.stackclub/demo_repo). Running it again adds
    nothing; re-running an interrupted build completes it.

    Example: stackclub demo-repo /tmp/repo --visits 1 --detectors 1 --geometry small
    """
    from .._exceptions import StackClubError
    from ..simcam.repo import DEFAULT_SEED, build_demo_repo, default_demo_repo_path

    target = path if path is not None else str(default_demo_repo_path())
    try:
        report = build_demo_repo(
            target,
            visits=visits,
            detectors=_detectors(detectors),
            seed=DEFAULT_SEED if seed is None else seed,
            bands=tuple(b.strip() for b in bands.split(",") if b.strip()),
            geometry=geometry,
            compression=compression,
            progress=not quiet,
            registry=registry,
        )
    except StackClubError as err:
        raise click.ClickException(str(err)) from None
    click.echo(str(report))
