"""Run a command-line tool (``pipetask``, ``butler``, ``bps``, ``stackclub``) from a notebook cell.

`run_command` runs the command in a subprocess and streams what it prints into the cell as it
comes, line by line, so a long ``pipetask run`` shows its progress; it returns a
`CommandResult` with the exit code and the whole output.  A ``!pipetask ...`` shell cell does
the streaming too, but finds the tools only when the virtual environment is on ``PATH`` (it
is not when JupyterLab was started as ``.venv/bin/jupyter lab``, from VS Code or on Binder),
does not stop on failure and leaves the output unreachable from Python.

Wherever the kernel was started, the command sees the kernel's environment first on ``PATH``:
the directory of the running Python and its environment's scripts directory.  So ``bps
submit`` finds ``pipetask`` (which bps runs itself), and ``stackclub``, ``butler`` and
``pipetask`` are the ones installed beside the ``lsst`` packages the notebook imports.

The command runs in a process group of its own: on a timeout or a kernel interrupt the whole
group is killed, the workers a ``pipetask -j 2`` started included.
"""

from __future__ import annotations

__all__ = (
    "CommandResult",
    "run_command",
)

import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._exceptions import ArgumentTypeError, CommandError
from ._render import escape
from .log_records import check_max_shown, harmless_line

#: Seconds a command's process group has to exit after SIGTERM before it is sent SIGKILL.
_GRACE = 3.0

_COMMAND_EXPECTED = (
    "a command line such as 'pipetask --help', or a list of arguments such as ['pipetask', '--help']"
)


@dataclass(frozen=True)
class CommandResult:
    """What `run_command` ran and what it printed.

    Attributes
    ----------
    args
        The command as run, one argument per element.
    returncode
        The exit code.
    output
        Everything it printed (standard output and error, merged in order).
    output_file
        A file holding the whole output, written when more lines came than the cell showed
        (``max_shown``); else `None`.
    """

    args: tuple[str, ...]
    returncode: int
    output: str
    output_file: Path | None = None

    @property
    def command(self) -> str:
        """The command as one shell-quoted string."""
        return shlex.join(self.args)

    @property
    def lines(self) -> list[str]:
        """The output, one element per line."""
        return self.output.splitlines()

    def __str__(self) -> str:
        return self.output

    def __repr__(self) -> str:
        return (
            f"<CommandResult: {self.command!r} exited {self.returncode}, {len(self.lines)} lines of output>"
        )

    def _repr_html_(self) -> str:
        # A summary only: the output itself was already streamed into the cell.
        return (
            f"<code>{escape(self.command)}</code> exited with code <b>{self.returncode}</b> "
            f"({len(self.lines)} lines of output; <code>.output</code> holds them)"
        )


# ----------------------------------------------------------------------------------------------
# The child's environment


def environment_bin_dirs() -> list[str]:
    """Return the directories of the running Python's environment that hold its console scripts.

    The directory of `sys.executable` as it was started (not resolved: a virtual environment's
    ``python`` is a symbolic link to the base interpreter, whose directory holds none of the
    environment's tools) and the environment's scripts directory
    (``sysconfig.get_path("scripts")``, ``bin`` or ``Scripts`` under `sys.prefix`).

    Returns
    -------
    dirs : `list` [`str`]
        Existing directories, without repeats, in that order.

    Examples
    --------
    >>> import os, sys
    >>> os.path.dirname(os.path.abspath(sys.executable)) in environment_bin_dirs()
    True
    """
    candidates = []
    if sys.executable:
        candidates.append(os.path.dirname(os.path.abspath(sys.executable)))
    try:
        candidates.append(sysconfig.get_path("scripts"))
    except KeyError:  # pragma: no cover - an unusual install scheme
        pass
    found: list[str] = []
    for directory in candidates:
        if directory and os.path.isdir(directory) and directory not in found:
            found.append(directory)
    return found


def child_path(path: str | None = None) -> str:
    """Return ``PATH`` for a child process: the kernel's environment first, then ``path``.

    Parameters
    ----------
    path
        The ``PATH`` to extend; the current one when `None`.

    Returns
    -------
    path : `str`
        `environment_bin_dirs` followed by the entries of ``path`` that are not among them.

    Examples
    --------
    >>> first = child_path("/usr/bin").split(os.pathsep)[0]
    >>> first == environment_bin_dirs()[0]
    True
    """
    own = environment_bin_dirs()
    rest = (os.environ.get("PATH", "") if path is None else path).split(os.pathsep)
    return os.pathsep.join(own + [p for p in rest if p and p not in own])


# ----------------------------------------------------------------------------------------------
# Checking the arguments


def _as_args(command: object) -> list[str]:
    if isinstance(command, str):
        return shlex.split(command)
    if command is None or isinstance(command, bytes | Mapping) or not isinstance(command, Sequence):
        raise ArgumentTypeError("run_command", "command", command, _COMMAND_EXPECTED)
    args = []
    for i, arg in enumerate(command):
        if isinstance(arg, str | os.PathLike):
            args.append(os.fspath(arg))
        elif isinstance(arg, int | float) and not isinstance(arg, bool):
            args.append(str(arg))  # ["pipetask", "run", "-j", 2]
        else:
            raise ArgumentTypeError(
                "run_command", f"command[{i}]", arg, "a string (or a path or number) like the other arguments"
            )
    return [str(a) for a in args]


def _check_cwd(cwd: object, display: str) -> str | None:
    if cwd is None:
        return None
    if not isinstance(cwd, str | os.PathLike):
        raise ArgumentTypeError("run_command", "cwd", cwd, "a directory path (str or pathlib.Path), or None")
    path = os.fspath(cwd)
    if not os.path.exists(path):
        raise CommandError(
            display, None, "", reason=f"its working directory {str(path)!r} does not exist (cwd=)"
        )
    if not os.path.isdir(path):
        raise CommandError(display, None, "", reason=f"cwd={str(path)!r} is a file, not a directory")
    return str(path)


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ArgumentTypeError("run_command", "timeout", timeout, "a number of seconds, or None")
    if timeout <= 0:
        raise ValueError(f"run_command(): timeout must be > 0 seconds (or None), got {timeout}")
    return float(timeout)


def _child_env(env: object) -> dict[str, str]:
    if env is not None and not isinstance(env, Mapping):
        raise ArgumentTypeError(
            "run_command", "env", env, "a dict of extra environment variables, e.g. {'NAME': 'value'}"
        )
    child = dict(os.environ)
    child["PYTHONUNBUFFERED"] = "1"
    child["PATH"] = child_path(child.get("PATH", ""))
    if env:
        child.update({str(k): str(v) for k, v in env.items()})  # an explicit PATH= wins
    return child


# ----------------------------------------------------------------------------------------------
# Starting and stopping the process group


def _start(args: list[str], display: str, cwd: str | None, env: dict[str, str]) -> subprocess.Popen[str]:
    program = args[0]
    if not (os.sep in program or (os.altsep and os.altsep in program)):
        found = shutil.which(program, path=env.get("PATH", ""))
        if found is None:
            dirs = ", ".join(environment_bin_dirs()) or "(none)"
            raise CommandError(display, None, "", reason=f"{program!r} was not found on PATH nor in {dirs}")
        args = [found, *args[1:]]
    group: dict[str, object] = (
        {"start_new_session": True}
        if os.name == "posix"
        else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    )
    try:
        return subprocess.Popen(  # type: ignore[call-overload]
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            **group,
        )
    except FileNotFoundError:
        raise CommandError(display, None, "", reason=f"{args[0]!r} does not exist") from None
    except PermissionError as err:
        raise CommandError(display, None, "", reason=f"it cannot be run: {err}") from None


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    if os.name != "posix":  # pragma: no cover - Windows: no process groups to signal
        proc.kill()
        return
    try:
        os.killpg(proc.pid, sig)  # the group's id is the leader's pid (start_new_session)
    except ProcessLookupError:
        pass  # every process of the group is gone already
    except PermissionError:  # pragma: no cover - a member changed its user id
        proc.kill()


def _stop(proc: subprocess.Popen[str]) -> int:
    """End the command and every process it started (same process group); return its exit code."""
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=_GRACE)
    except subprocess.TimeoutExpired:
        pass
    # Whatever is left of the group (a worker that ignored SIGTERM, or outlived its parent).
    _signal_group(proc, signal.SIGKILL)
    return proc.wait()


def _held_back_note(held: int, max_shown: int | None, output_file: Path, last: list[str]) -> str:
    note = (
        f"… {held} more lines not shown (max_shown={max_shown}); the whole output is in "
        f"{output_file} and on the result's .output"
    )
    if last:
        note += f". Its last {len(last)} lines:\n" + "".join(last)
    return note if note.endswith("\n") else note + "\n"


# ----------------------------------------------------------------------------------------------
# run_command


def run_command(
    command: str | Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    show: bool = True,
    check: bool = True,
    timeout: float | None = None,
    tail: int = 20,
    max_shown: int | None = 1000,
    hide_harmless: bool = True,
) -> CommandResult:
    r"""Run a command, streaming its output into the cell line by line, and return what it printed.

    Parameters
    ----------
    command
        The command, as one string split like a shell would (no shell features: pipes,
        ``*``, ``$VAR`` are not expanded) or as a sequence of arguments.  Programs are looked
        for in the kernel's environment first (`environment_bin_dirs`), then on ``PATH``.
    cwd
        Working directory; it must exist.
    env
        Extra environment variables, added to the current environment.  The command's
        ``PATH`` starts with the kernel's environment (so a tool the command runs itself, as
        ``bps`` runs ``pipetask``, is found too) unless ``env`` sets ``PATH``.
    show
        Print each line to standard output as soon as the command prints it (in a notebook it
        appears in the cell while the command runs).  ``PYTHONUNBUFFERED=1`` is set so Python
        programs such as ``pipetask`` do not hold their output back.
    check
        Raise `~stackclub._exceptions.CommandError` when the exit code is not 0.
    timeout
        Seconds after which the command, and every process it started, is killed and
        `~stackclub._exceptions.CommandError` raised.
    tail
        How many of the last output lines the error message quotes (and the note after a
        long output shows).
    max_shown
        Show at most this many lines in the cell (`None`: all).  When more come, they are
        kept, the whole output is written to a file (`CommandResult.output_file`), and a
        note at the end says how many lines were not shown and where they are, followed by
        the last ``tail`` lines.
    hide_harmless
        Do not show lines carrying the log records of
        `~stackclub.log_records.HARMLESS_RECORDS` (``Unable to import eups``, which every
        pip-installed stack logs); they stay in the result's ``output``.

    Returns
    -------
    result : `CommandResult`
        ``returncode`` and ``output`` (standard output and error merged, in order).

    Raises
    ------
    CommandError
        If the program is not found, ``cwd`` does not exist, the command times out, or (with
        ``check=True``) it exits with a non-zero code; the message quotes the last ``tail``
        lines of output.
    stackclub._exceptions.ArgumentTypeError
        If ``command`` (or another argument) is of the wrong type.

    Examples
    --------
    >>> import sys
    >>> from stackclub import run_command
    >>> result = run_command([sys.executable, "-c", "print('hello')"], show=False)
    >>> result.returncode, result.output
    (0, 'hello\n')
    """
    args = _as_args(command)
    if not args:
        raise ValueError("run_command needs a command to run, got an empty one")
    max_shown = check_max_shown("run_command", max_shown)
    limit = _check_timeout(timeout)
    if isinstance(tail, bool) or not isinstance(tail, int):
        raise ArgumentTypeError("run_command", "tail", tail, "an int (how many last lines to quote)")
    display_args = tuple(args)
    display = shlex.join(display_args)
    workdir = _check_cwd(cwd, display)
    proc = _start(args, display, workdir, _child_env(env))

    # A reader thread fills a queue; this thread prints, so the output lands in the cell that
    # called us (output from other threads can go astray in a kernel).
    lines: queue.Queue[str | None] = queue.Queue()

    def _read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=_read, name="stackclub-run_command", daemon=True)
    reader.start()
    chunks: list[str] = []
    n_shown = held = 0
    deadline = None if limit is None else time.monotonic() + limit
    timed_out = False
    try:
        while True:
            wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                line = lines.get(timeout=wait)
            except queue.Empty:
                timed_out = True
                break
            if line is None:
                break
            chunks.append(line)
            if not show or (hide_harmless and harmless_line(line)):
                continue
            if max_shown is not None and n_shown >= max_shown:
                held += 1
                continue
            n_shown += 1
            sys.stdout.write(line)
            sys.stdout.flush()
    except BaseException:  # KeyboardInterrupt (kernel interrupt) included: do not leave it running
        _stop(proc)
        raise
    returncode = _stop(proc) if timed_out else proc.wait()
    reader.join(timeout=_GRACE)  # the pipe closes once every process of the group is gone
    while True:  # what came between the deadline and the kill
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            chunks.append(line)
    output = "".join(chunks)
    output_file = None
    if held:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", prefix="stackclub-output-", suffix=".log", delete=False
        ) as f:
            f.write(output)
        output_file = Path(f.name)
        last = chunks[-min(tail, held) :] if tail > 0 else []
        shown_tail = [ln if ln.endswith("\n") else ln + "\n" for ln in last]
        sys.stdout.write(_held_back_note(held, max_shown, output_file, shown_tail))
        sys.stdout.flush()
    if timed_out:
        raise CommandError(display, returncode, output, tail=tail, reason=f"it timed out after {timeout} s")
    if check and returncode != 0:
        raise CommandError(display, returncode, output, tail=tail)
    return CommandResult(display_args, returncode, output, output_file)
