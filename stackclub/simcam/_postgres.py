"""A PostgreSQL registry for the demo repository (``stackclub demo-repo PATH --registry URL``).

daf_butler stores a repository's registry in PostgreSQL when the seed config says
``registry: {db: postgresql://USER@HOST:PORT/DBNAME}``; the datastore (the files) stays in the
repository folder. It needs the ``psycopg`` driver (the ``bps`` extra) and the ``btree_gist``
extension in the database, which `prepare_registry` creates.

`local_postgres_server` starts a throw-away server on the loopback interface (tests, benchmarks,
trying it out); on a cluster, ask your administrators for a database instead.
"""

from __future__ import annotations

__all__ = (
    "RegistryError",
    "find_postgres_bin",
    "local_postgres_server",
    "prepare_registry",
    "registry_config",
)

import contextlib
import getpass
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._exceptions import RegistryError

_SCHEMES = ("postgresql://", "postgresql+psycopg://")


def registry_config(url: str | None) -> dict[str, Any]:
    """Return the seed-config fragment that puts a repository's registry at ``url``.

    Parameters
    ----------
    url
        ``postgresql://USER@HOST:PORT/DBNAME`` (``postgresql+psycopg://`` also accepted), or `None`
        for daf_butler's default (SQLite inside the repository).

    Returns
    -------
    config
        ``{"registry": {"db": URL}}`` or ``{}``.

    Raises
    ------
    RegistryError
        ``url`` is not a PostgreSQL URL.

    Examples
    --------
    >>> registry_config("postgresql://postgres@127.0.0.1:5432/butler")
    {'registry': {'db': 'postgresql+psycopg://postgres@127.0.0.1:5432/butler'}}
    >>> registry_config(None)
    {}
    """
    if url is None:
        return {}
    if not isinstance(url, str) or not url.startswith(_SCHEMES):
        raise RegistryError(
            f"Unsupported registry URL {url!r}: give postgresql://USER@HOST:PORT/DBNAME "
            "(SQLite, the default, needs no --registry)."
        )
    # SQLAlchemy's plain postgresql:// means psycopg2; daf_butler here needs psycopg (3).
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return {"registry": {"db": url}}


def prepare_registry(url: str) -> None:
    """Check that ``url`` reaches a PostgreSQL database and create ``btree_gist`` in it.

    Parameters
    ----------
    url
        ``postgresql://USER@HOST:PORT/DBNAME``.

    Raises
    ------
    RegistryError
        The driver is missing, the server cannot be reached or the extension cannot be created.

    Examples
    --------
    >>> prepare_registry("postgresql://postgres@127.0.0.1:5432/butler")  # doctest: +SKIP
    """
    db = registry_config(url)["registry"]["db"]
    try:
        import psycopg  # noqa: F401
        import sqlalchemy
    except ImportError as err:
        raise RegistryError(
            f"A PostgreSQL registry needs the psycopg driver ({err}): pip install -e '.[bps]'."
        ) from None
    engine = sqlalchemy.create_engine(db)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise RegistryError(
            f"Cannot use the registry database {url}: {str(err).splitlines()[0]}. Check that the server "
            "runs, the database exists and the user may create the btree_gist extension."
        ) from None
    finally:
        engine.dispose()


def find_postgres_bin() -> Path | None:
    """Return the folder of PostgreSQL's server programs (``initdb``, ``pg_ctl``), or `None`.

    Examples
    --------
    >>> find_postgres_bin()  # doctest: +SKIP
    PosixPath('/usr/lib/postgresql/15/bin')
    """
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(folder, "pg_ctl"), os.X_OK):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_postgres_server(dbname: str = "butler") -> Iterator[str]:
    """Start a throw-away PostgreSQL server on 127.0.0.1 and yield a URL of an empty database.

    The server runs as the ``postgres`` user when this process is root (``initdb`` refuses root),
    from a temporary data folder that is removed on exit.

    Parameters
    ----------
    dbname
        Name of the database to create.

    Yields
    ------
    url
        ``postgresql://USER@127.0.0.1:PORT/DBNAME``.

    Raises
    ------
    RegistryError
        No server programs are installed, or the server did not start.

    Examples
    --------
    >>> with local_postgres_server() as url:  # doctest: +SKIP
    ...     build_demo_repo("/tmp/pgrepo", registry=url)
    """
    bindir = find_postgres_bin()
    if bindir is None:
        raise RegistryError("No PostgreSQL server programs (initdb, pg_ctl): apt-get install postgresql.")
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else getpass.getuser()
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="stackclub-pg-"))
    data = tmp / "data"
    data.mkdir()
    if as_root:
        shutil.chown(tmp, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)

    started = False
    try:
        steps = [
            (str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync"),
            (
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(tmp / "server.log"),
                "-w",
                "-o",
                f"-h 127.0.0.1 -p {port} -k {data} -F",
                "start",
            ),
        ]
        for step in steps:
            proc = run(*step)
            if proc.returncode != 0:
                log = (tmp / "server.log").read_text() if (tmp / "server.log").exists() else ""
                raise RegistryError(
                    f"Cannot start PostgreSQL ({Path(step[0]).name} exit {proc.returncode}): "
                    f"{(proc.stderr or proc.stdout).strip()[-500:]} {log[-500:]}"
                )
        started = True
        proc = run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, dbname)
        if proc.returncode != 0:
            raise RegistryError(f"createdb failed: {proc.stderr.strip()}")
        url = f"postgresql://{user}@127.0.0.1:{port}/{dbname}"
        prepare_registry(url)
        yield url
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
            time.sleep(0.1)
        shutil.rmtree(tmp, ignore_errors=True)
