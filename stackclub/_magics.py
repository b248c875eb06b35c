"""IPython magics of Stack Club, registered by ``%load_ext stackclub``.

``%%capture_logs`` runs a cell inside `stackclub.capture_logs`::

    %%capture_logs DEBUG --loggers lsst.isr,__main__ -o logs
    task.run(exposure)

shows what the task logged, in the cell, as it arrives; ``-o logs`` keeps the
`~stackclub.logs.CapturedLogs` in the variable ``logs`` for later cells.
"""

from __future__ import annotations

__all__ = (
    "capture_logs_magic",
    "load_ipython_extension",
)

from typing import TYPE_CHECKING

from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


@magic_arguments()
@argument(
    "level",
    nargs="?",
    default="INFO",
    help="Lowest level to capture: TRACE, DEBUG, VERBOSE, INFO (default), WARNING, ERROR or a number.",
)
@argument(
    "--loggers",
    "-l",
    default=None,
    help="Comma-separated logger names to capture (with their children); default: every logger.",
)
@argument("--no-show", action="store_true", help="Do not show records in the cell; only keep them.")
@argument(
    "--max-shown",
    type=int,
    default=1000,
    metavar="N",
    help="Show at most N records (default 1000; the rest are kept). 0 shows none.",
)
@argument(
    "--output",
    "-o",
    default=None,
    metavar="NAME",
    help="Store the captured records (a CapturedLogs) in this variable.",
)
def capture_logs_magic(line: str, cell: str, *, shell: InteractiveShell | None = None) -> None:
    """%%capture_logs [LEVEL] [--loggers a,b] [--no-show] [--max-shown N] [-o NAME]: capture the cell's logs.

    The records appear in the cell as they arrive (see `stackclub.capture_logs`).  An error
    in the cell is shown as usual; the capture still ends cleanly and restores the loggers.

    Parameters
    ----------
    line
        The magic's arguments.
    cell
        The cell's code.
    shell
        The IPython shell (the current one when `None`).
    """
    from IPython import get_ipython

    from .logs import capture_logs

    shell = shell if shell is not None else get_ipython()
    args = parse_argstring(capture_logs_magic, line)
    loggers = None
    if args.loggers is not None:
        loggers = [n.strip() for n in args.loggers.split(",") if n.strip()]
    if args.output is not None and not args.output.isidentifier():
        raise ValueError(f"-o needs a Python variable name, got {args.output!r}")
    capture = capture_logs(args.level, loggers, show=not args.no_show, max_shown=args.max_shown)
    with capture:
        shell.run_cell(cell)
    if args.output is not None:
        shell.user_ns[args.output] = capture


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register ``%%capture_logs`` with IPython (called by ``%load_ext stackclub``).

    Parameters
    ----------
    ipython
        The running IPython shell.
    """

    def _capture_logs(line: str, cell: str) -> None:
        capture_logs_magic(line, cell, shell=ipython)

    _capture_logs.__doc__ = capture_logs_magic.__doc__
    # IPython's own annotation of register_magic_function (through a decorator) confuses mypy.
    ipython.register_magic_function(  # type: ignore[call-arg]
        _capture_logs,  # type: ignore[arg-type]
        magic_kind="cell",
        magic_name="capture_logs",
    )
