"""Bring what a task logs, and what a command prints, into the notebook cell that ran it.

Three helpers close the gap the seed notebook ended on ("Try to get the task outputs into
the notebook (and failing)"):

- `capture_logs` — a context manager (and the ``%%capture_logs`` cell magic, loaded with
  ``%load_ext stackclub``) that collects the Python log records of the tasks and the
  middleware, shows them in the cell as they arrive, and keeps them on the returned
  `CapturedLogs` object;
- `run_command` — runs a command such as ``pipetask run ...`` in a subprocess and streams its
  output into the cell line by line;
- `show_task_log` — reads back the ``<label>_log`` dataset (`~lsst.daf.butler.logging.ButlerLogRecords`)
  that ``pipetask run`` stored for one quantum, and shows it the same way.

Records are formatted as ``pipetask`` formats them on a terminal
(``{name} {levelname}: {message}``, `lsst.daf.butler.cli.cliLog.CliLog.pylog_normalFmt`), colour
coded by level in HTML and plain in a terminal.

Which records are captured by default
-------------------------------------
pipe_base names a task's logger after the top-level package of the task's module plus the
task label: ``lsst.isr``, ``stackclub.isr`` (subtask: ``stackclub.isr.overscan``) and
``__main__.myTask`` for a task defined in a notebook.  No fixed list of prefixes can
know them all, so by default `capture_logs` listens on the **root logger** and lowers the
root (and ``lsst``) logger level to the requested one for the duration of the block.  To stop
that from flooding the cell, the namespaces in `QUIET_LOGGERS` (the Butler, resources and
pipeline middleware, lsst.utils timers, and third-party tools such as SQLAlchemy, matplotlib
or parso) keep a floor: middleware records are shown from ``INFO`` up (as ``pipetask`` shows
``lsst.*``), third-party records from ``WARNING`` up, whatever lower level you ask for.  Name
such a logger in ``loggers=`` (``capture_logs("DEBUG", loggers=["lsst.daf.butler"])``) to see
its records below that floor.

Every level and handler changed on entry is restored on exit, also when the block raises.
Other handlers (a ``logging.basicConfig`` stream, pytest's capture) get a filter for the
duration, so lowering a level for the capture never makes *them* print more than before.
Explicit levels that you set on loggers other than the root and ``lsst`` are respected.

In a notebook
-------------
Each record is one HTML output in the cell (escaped, level colour coded, with a plain-text
alternative), in order with what the cell prints, as lsst.rsp's ``IPythonHandler`` does on
the Rubin Science Platform — where that handler is installed, `capture_logs` lets it do the
showing instead of showing records twice.  One output per record, rather than one block
redrawn with ``update_display``, because nbval ignores display updates: a notebook executed
and committed with outputs then checks cleanly.  ``max_shown`` (default 1000) caps how many
records a block shows; all of them are kept on the returned object.
"""

from __future__ import annotations

__all__ = (
    "LOG_FORMAT",
    "QUIET_LOGGERS",
    "CapturedLogs",
    "CommandResult",
    "LogEntry",
    "LogRecords",
    "capture_logs",
    "run_command",
    "show_task_log",
)

import datetime
import logging
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._exceptions import CommandError, MissingStackError, TaskLogNotFoundError
from ._render import Styled, escape

if TYPE_CHECKING:  # pragma: no cover
    from astropy.table import Table as AstropyTable
    from lsst.daf.butler import Butler

_LOG = logging.getLogger(__name__)

#: ``lsst.utils.logging`` levels, named here so they parse even before lsst.utils is imported.
_TRACE = 5
_VERBOSE = 15

#: The format ``pipetask`` uses on a terminal (``CliLog.pylog_normalFmt``).
LOG_FORMAT = "{name} {levelname}: {message}"

#: Logger namespaces that stay at a floor level under the default capture (see the module
#: docstring).  Maps a logger name prefix to the lowest level shown from it unless it is named
#: in ``loggers=``.  Edit it to change the default for a session.
QUIET_LOGGERS: dict[str, int] = {
    # Rubin middleware: INFO and above, as pipetask shows lsst.* by default.
    "lsst.daf": logging.INFO,
    "lsst.resources": logging.INFO,
    "lsst.pipe.base": logging.INFO,
    "lsst.ctrl": logging.INFO,
    "lsst.utils": logging.INFO,
    "lsst.pex": logging.INFO,
    "lsst.images": logging.INFO,
    "timer": logging.INFO,  # lsst.utils.timer's "timer.lsst...." DEBUG timings
    # Third-party tools: warnings and errors only.
    "IPython": logging.WARNING,
    "PIL": logging.WARNING,
    "asyncio": logging.WARNING,
    "botocore": logging.WARNING,
    "comm": logging.WARNING,
    "filelock": logging.WARNING,
    "fsspec": logging.WARNING,
    "h5py": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpx": logging.WARNING,
    "ipykernel": logging.WARNING,
    "jupyter_client": logging.WARNING,
    "matplotlib": logging.WARNING,
    "numba": logging.WARNING,
    "numexpr": logging.WARNING,
    "parso": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "tornado": logging.WARNING,
    "traitlets": logging.WARNING,
    "urllib3": logging.WARNING,
}

_NAME_STYLE = "color: var(--jp-ui-font-color2, #616161)"
_LEVEL_STYLES = (  # (lowest levelno, css) from the most severe down
    (logging.CRITICAL, "color: var(--jp-error-color0, #b71c1c); font-weight: bold"),
    (logging.ERROR, "color: var(--jp-error-color1, #d32f2f); font-weight: bold"),
    (logging.WARNING, "color: var(--jp-warn-color0, #b35c00); font-weight: bold"),
    (logging.INFO, "color: var(--jp-info-color0, #01579b)"),
    (_VERBOSE, "color: var(--jp-info-color1, #0288d1)"),
    (logging.DEBUG, "color: var(--jp-success-color0, #2e7d32)"),
    (0, "color: var(--jp-ui-font-color3, #9e9e9e)"),
)
_PRE_STYLE = (
    "margin: 0.2em 0; padding-left: 0.5em; border-left: 3px solid var(--jp-border-color1, #bdbdbd); "
    "white-space: pre-wrap; font-family: var(--jp-code-font-family, monospace); "
    "font-size: var(--jp-code-font-size, 13px); line-height: var(--jp-code-line-height, 1.3)"
)


# ----------------------------------------------------------------------------------------------
# The record model and its renderings


@dataclass(frozen=True)
class LogEntry:
    """One log record, as captured from `logging` or read back from a Butler.

    Attributes
    ----------
    name
        Logger name, e.g. ``"lsst.isr.fringe"``.
    levelno
        Numeric level (``lsst.utils.logging`` adds ``VERBOSE`` = 15 and ``TRACE`` = 5).
    levelname
        Level name, e.g. ``"INFO"``.
    message
        The formatted message (arguments merged in).
    time
        When it was logged (UTC).
    exc_text
        The formatted traceback when the record carried exception information, else `None`.
    filename, lineno
        Where it was logged.

    Examples
    --------
    >>> import logging
    >>> record = logging.LogRecord("lsst.isr", logging.INFO, "isr.py", 12, "%d amps", (4,), None)
    >>> LogEntry.from_record(record).format()
    'lsst.isr INFO: 4 amps'
    """

    name: str
    levelno: int
    levelname: str
    message: str
    time: datetime.datetime
    exc_text: str | None = None
    filename: str = ""
    lineno: int = 0

    @classmethod
    def from_record(cls, record: logging.LogRecord) -> LogEntry:
        """Make an entry from a `logging.LogRecord` (never raises on a bad message)."""
        try:
            message = record.getMessage()
        except Exception as err:  # a format/argument mismatch in someone's log call
            message = f"{record.msg!r} % {record.args!r} (could not format: {err})"
        exc_text = None
        if record.exc_info and record.exc_info[0] is not None:
            exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        elif record.exc_text:
            exc_text = record.exc_text
        return cls(
            name=record.name,
            levelno=record.levelno,
            levelname=record.levelname,
            message=message,
            time=datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC),
            exc_text=exc_text,
            filename=record.filename,
            lineno=record.lineno or 0,
        )

    @classmethod
    def from_butler(cls, record: Any) -> LogEntry:
        """Make an entry from an `lsst.daf.butler.logging.ButlerLogRecord`."""
        when = record.asctime
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return cls(
            name=record.name,
            levelno=record.levelno,
            levelname=record.levelname,
            message=record.message,
            time=when,
            exc_text=(record.exc_info.rstrip("\n") or None) if record.exc_info else None,
            filename=record.filename,
            lineno=record.lineno,
        )

    def format(self) -> str:
        """The record as ``pipetask`` prints it: ``{name} {levelname}: {message}`` (+ traceback)."""
        line = LOG_FORMAT.format(name=self.name, levelname=self.levelname, message=self.message)
        return f"{line}\n{self.exc_text}" if self.exc_text else line

    def to_html(self) -> str:
        """The record as one escaped HTML line, logger name and level colour coded."""
        name = Styled(self.name, _NAME_STYLE).to_html()
        level = Styled(self.levelname, _level_style(self.levelno)).to_html()
        line = f"{name} {level}: {escape(self.message)}"
        return f"{line}\n{escape(self.exc_text)}" if self.exc_text else line


def _level_style(levelno: int) -> str:
    for lowest, style in _LEVEL_STYLES:
        if levelno >= lowest:
            return style
    return _LEVEL_STYLES[-1][1]


def _html_block(entries: Sequence[LogEntry], *, title: str | None = None) -> str:
    parts = ['<div class="stackclub-logs">']
    if title:
        parts.append(f"<div><b>{escape(title)}</b></div>")
    lines = [e.to_html() for e in entries]
    if not lines:
        lines = ["<i>(no log records)</i>"]
    parts.append(f'<pre style="{escape(_PRE_STYLE)}">' + "\n".join(lines) + "</pre>")
    parts.append("</div>")
    return "".join(parts)


def _text_block(entries: Sequence[LogEntry], *, title: str | None = None) -> str:
    lines = [e.format() for e in entries]
    if title:
        lines.insert(0, title)
    return "\n".join(lines)


class LogRecords:
    """A sequence of `LogEntry` that renders like ``pipetask``'s log (HTML in notebooks, text elsewhere).

    `capture_logs` returns the subclass `CapturedLogs`; `show_task_log` returns one of these.

    Parameters
    ----------
    entries
        The records, oldest first.
    title
        Optional heading shown above the records.

    Examples
    --------
    >>> import datetime
    >>> when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    >>> logs = LogRecords([LogEntry("lsst.isr", 30, "WARNING", "<5 good amps>", when)])
    >>> print(logs)
    lsst.isr WARNING: <5 good amps>
    >>> "&lt;5 good amps&gt;" in logs._repr_html_()
    True
    """

    def __init__(self, entries: Iterable[LogEntry] = (), *, title: str | None = None) -> None:
        self._entries: list[LogEntry] = list(entries)
        self.title = title

    @property
    def records(self) -> list[LogEntry]:
        """The records, oldest first (a copy)."""
        return list(self._entries)

    @property
    def text(self) -> str:
        """All records, one ``{name} {levelname}: {message}`` line each."""
        return "\n".join(e.format() for e in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(list(self._entries))

    def __getitem__(self, index: int) -> LogEntry:
        return self._entries[index]

    def select(self, level: int | str = 0, logger: str | None = None) -> LogRecords:
        """Return the records at ``level`` or above, optionally only from ``logger`` and its children.

        Examples
        --------
        >>> import datetime
        >>> t = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        >>> logs = LogRecords([LogEntry("a", 20, "INFO", "x", t), LogEntry("a.b", 30, "WARNING", "y", t)])
        >>> [e.message for e in logs.select("WARNING")]
        ['y']
        >>> [e.message for e in logs.select(logger="a.b")]
        ['y']
        """
        levelno = _parse_level(level)
        return LogRecords(
            (
                e
                for e in self._entries
                if e.levelno >= levelno and (logger is None or _is_under(e.name, logger))
            ),
            title=self.title,
        )

    def to_table(self) -> AstropyTable:
        """Return the records as an `astropy.table.Table` (columns time, level, levelno, name, message).

        Examples
        --------
        >>> import datetime
        >>> t = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        >>> LogRecords([LogEntry("lsst.isr", 20, "INFO", "hi", t)]).to_table()["name", "message"].pformat()
        ['  name   message', '-------- -------', 'lsst.isr      hi']
        """
        from astropy.table import Column, Table
        from astropy.time import Time

        entries = list(self._entries)
        times = Time(
            [e.time.astimezone(datetime.UTC).replace(tzinfo=None) for e in entries],
            format="datetime",
            scale="utc",
        )
        return Table(
            [
                times,
                Column([e.levelname for e in entries], dtype=str),
                Column([e.levelno for e in entries], dtype=int),
                Column([e.name for e in entries], dtype=str),
                Column([e.message for e in entries], dtype=str),
            ],
            names=["time", "level", "levelno", "name", "message"],
        )

    def __str__(self) -> str:
        return _text_block(self._entries, title=self.title)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for e in self._entries:
            counts[e.levelname] = counts.get(e.levelname, 0) + 1
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        n = len(self._entries)
        noun = "record" if n == 1 else "records"
        return f"<{type(self).__name__}: {n} {noun}{': ' + summary if summary else ''}>"

    def _repr_html_(self) -> str:
        return _html_block(self._entries, title=self.title)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": str(self), "text/html": self._repr_html_()}


# ----------------------------------------------------------------------------------------------
# Levels and logger names


def _parse_level(level: int | str) -> int:
    """Turn ``"INFO"``, ``"verbose"``, ``"TRACE"``, ``20`` into a level number."""
    if isinstance(level, bool):
        raise TypeError(f"level must be a level name or number, not {level!r}")
    if isinstance(level, int):
        if level < 0:
            raise ValueError(f"level must be >= 0, got {level}")
        return level
    if isinstance(level, str):
        names = dict(logging.getLevelNamesMapping())
        names.setdefault("TRACE", _TRACE)
        names.setdefault("VERBOSE", _VERBOSE)
        key = level.strip().upper()
        if key in names:
            return names[key]
        if key.isdigit():
            return int(key)
        valid = ", ".join(sorted(names, key=lambda n: names[n]))
        raise ValueError(f"unknown log level {level!r}; use one of {valid} or a number")
    raise TypeError(f"level must be a level name or number, not {type(level).__name__}")


def _is_under(name: str, parent: str) -> bool:
    """Whether logger ``name`` is ``parent`` or one of its descendants (``""`` is the root)."""
    return parent in ("", "root") or name == parent or name.startswith(parent + ".")


def _existing_logger(name: str) -> logging.Logger | None:
    if name in ("", "root"):
        return logging.getLogger()
    found = logging.Logger.manager.loggerDict.get(name)
    return found if isinstance(found, logging.Logger) else None


def _all_loggers() -> list[logging.Logger]:
    found = [v for v in list(logging.Logger.manager.loggerDict.values()) if isinstance(v, logging.Logger)]
    return [logging.getLogger(), *found]


def _is_notebook_handler(handler: logging.Handler) -> bool:
    """A handler that already writes records into the notebook (lsst.rsp's ``IPythonHandler``)."""
    return type(handler).__name__ == "IPythonHandler"


def _in_kernel() -> bool:
    """Whether we run in a Jupyter kernel (where display() reaches a notebook cell)."""
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return False
    try:
        shell = ipython_mod.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


# ----------------------------------------------------------------------------------------------
# capture_logs

_ACTIVE: list[CapturedLogs] = []  # entered captures, outermost first
_ACTIVE_LOCK = threading.RLock()
_DISPLAYING = threading.local()  # re-entrancy guard: display() may itself log


class _CaptureHandler(logging.Handler):
    """The handler a `CapturedLogs` puts on the root (or named) loggers while it is active."""

    def __init__(self, owner: CapturedLogs) -> None:
        super().__init__(level=logging.NOTSET)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.owner._receive(record)
        except Exception:  # pragma: no cover - logging must never raise into the caller
            self.handleError(record)


class _HideNewlyEnabled(logging.Filter):
    """Put on other handlers: pass only what they would have received before the capture began.

    For a notebook handler (lsst.rsp's ``IPythonHandler``) it also passes what the capture
    accepts, because that handler *is* how the records reach the cell there.
    """

    def __init__(self, owner: CapturedLogs, *, also_accepted: bool) -> None:
        super().__init__()
        self.owner = owner
        self.also_accepted = also_accepted

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.owner._original_effective_level(record.name):
            return True
        return self.also_accepted and self.owner._accepts(record)


class CapturedLogs(LogRecords):
    """Log records captured by `capture_logs`; also the context manager that captures them.

    Use it through `capture_logs` (or the ``%%capture_logs`` cell magic).  While the block
    runs, records appear in the cell as they arrive (``show=True``); afterwards this object
    keeps them: `records`, `text`, `to_table`, `select`.

    Parameters
    ----------
    level
        Lowest level captured: a name (``"TRACE"``, ``"DEBUG"``, ``"VERBOSE"``, ``"INFO"``, …)
        or a number.
    loggers
        Logger names to capture (each with its descendants); `None` captures every logger.
    show
        Show records as they arrive: in a notebook as colour-coded HTML in the cell (one
        output per record), in a terminal as lines on standard error.
    max_shown
        Show at most this many records (`None`: no limit); the rest are kept, and one line
        at the end of the block says how many were not shown.
    """

    def __init__(
        self,
        level: int | str = "INFO",
        loggers: Iterable[str] | str | None = None,
        *,
        show: bool = True,
        max_shown: int | None = 1000,
    ) -> None:
        super().__init__()
        self.level = _parse_level(level)
        if max_shown is not None and (isinstance(max_shown, bool) or not isinstance(max_shown, int)):
            raise TypeError(f"max_shown must be an int or None, not {type(max_shown).__name__}")
        if max_shown is not None and max_shown < 0:
            raise ValueError(f"max_shown must be >= 0 (or None for no limit), got {max_shown}")
        self.max_shown = max_shown
        if isinstance(loggers, str):
            loggers = [loggers]
        if loggers is not None:
            names = tuple(dict.fromkeys("" if n == "root" else str(n) for n in loggers))
            if not names:
                raise ValueError("loggers=[] would capture nothing; pass None to capture every logger")
            for n in names:
                if n != n.strip() or n.startswith(".") or n.endswith(".") or ".." in n:
                    raise ValueError(f"{n!r} is not a logger name (use dotted names like 'lsst.isr')")
        self.loggers: tuple[str, ...] | None = None if loggers is None else names
        self.show = show
        self._lock = threading.RLock()
        self._active = False
        self._used = False
        # Set on entry:
        self._handler: _CaptureHandler | None = None
        self._saved_levels: dict[str, int] = {}
        self._filtered: list[tuple[logging.Handler, logging.Filter]] = []
        self._live = False
        self._kernel = False
        self._owner_thread: int | None = None
        self._pending: list[LogEntry] = []  # accepted, to be shown, not shown yet
        self._n_shown = 0  # records this capture showed (or queued to show)
        self._n_not_shown = 0  # records it kept without showing, past max_shown
        self._thresholds: dict[str, int | None] = {}

    # -- what is accepted ------------------------------------------------------------------

    def _covering_name(self, name: str) -> str | None:
        """The most specific requested logger that covers ``name`` (``""`` = all), or None."""
        if self.loggers is None:
            return ""
        best: str | None = None
        for n in self.loggers:
            if _is_under(name, n) and (best is None or len(n) > len(best)):
                best = n
        return best

    def _floor(self, name: str, covering: str) -> int:
        """The QUIET_LOGGERS floor that applies to ``name`` (0 when none)."""
        best = ""
        for prefix in QUIET_LOGGERS:
            if _is_under(name, prefix) and len(prefix) > len(best):
                best = prefix
        # A quiet namespace is quiet only when it was not asked for by name: its prefix must
        # lie strictly below the requested logger that covers it.
        if best and (covering == "" or (best != covering and best.startswith(covering + "."))):
            return QUIET_LOGGERS[best]
        return 0

    def _threshold(self, name: str) -> int | None:
        """Lowest level accepted from logger ``name``, or None when it is not captured (cached)."""
        try:
            return self._thresholds[name]
        except KeyError:
            pass
        covering = self._covering_name(name)
        threshold = None if covering is None else max(self.level, self._floor(name, covering))
        if len(self._thresholds) < 10_000:
            self._thresholds[name] = threshold
        return threshold

    def _accepts(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return False
        threshold = self._threshold(record.name)
        return threshold is not None and record.levelno >= threshold

    def _original_effective_level(self, name: str) -> int:
        """The effective level ``name`` had before this capture changed any level."""
        current = name
        while True:
            if current in self._saved_levels:
                level = self._saved_levels[current]
            else:
                logger = _existing_logger(current)
                level = logger.level if logger is not None else 0
            if level or current == "":
                return level
            current = current.rpartition(".")[0]

    # -- entering and leaving --------------------------------------------------------------

    def _set_level(self, name: str, level: int) -> None:
        logger = logging.getLogger(name or None)
        if name not in self._saved_levels:
            self._saved_levels[name] = logger.level
        logger.setLevel(level)

    def __enter__(self) -> CapturedLogs:
        if self._used:
            raise RuntimeError("a CapturedLogs can be entered only once; call capture_logs() again")
        self._used = True
        root = logging.getLogger()
        notebook_handler = any(_is_notebook_handler(h) for h in root.handlers)
        self._kernel = _in_kernel()
        self._live = self.show and not notebook_handler
        self._owner_thread = threading.get_ident()
        try:
            # 1. Let the wanted records through the loggers' own level checks.
            if self.loggers is None:
                if root.level > self.level:
                    self._set_level("", self.level)
                lsst_logger = _existing_logger("lsst")
                if lsst_logger is not None and lsst_logger.level > self.level:
                    self._set_level("lsst", self.level)
                requested: tuple[str, ...] = ("",)
            else:
                requested = self.loggers
                for name in requested:
                    if logging.getLogger(name or None).getEffectiveLevel() > self.level:
                        self._set_level(name, self.level)
            # 2. ...but keep the quiet namespaces at their floor (only those left at NOTSET,
            #    i.e. not set on purpose by the user): they then do not even make records.
            for prefix, floor in QUIET_LOGGERS.items():
                if prefix not in logging.Logger.manager.loggerDict:
                    continue  # nothing logs there yet (if something starts to, the filter holds it)
                covering = self._covering_name(prefix)
                if covering is None or self._floor(prefix, covering) == 0:
                    continue
                logger = logging.getLogger(prefix)
                if logger.level != logging.NOTSET:
                    continue
                target = min(self._original_effective_level(prefix), max(self.level, floor))
                if logger.getEffectiveLevel() < target:
                    self._set_level(prefix, target)
            # 3. Other handlers must not print more than before (the notebook one excepted).
            with _ACTIVE_LOCK:
                for logger in _all_loggers():
                    for handler in list(logger.handlers):
                        if isinstance(handler, _CaptureHandler):
                            continue
                        flt = _HideNewlyEnabled(self, also_accepted=_is_notebook_handler(handler))
                        handler.addFilter(flt)
                        self._filtered.append((handler, flt))
                # 4. Listen.
                self._handler = _CaptureHandler(self)
                root.addHandler(self._handler)
                _ACTIVE.append(self)
                self._active = True
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._restore()
        if self._live:
            self._show_pending()
            if self._n_not_shown:
                self._show_note(
                    f"… {self._n_not_shown} more records not shown (max_shown={self.max_shown}); "
                    f"all {len(self._entries)} are kept: .records, .text, .to_table()"
                )

    def _restore(self) -> None:
        with _ACTIVE_LOCK:
            self._active = False
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            if self._handler is not None:
                logging.getLogger().removeHandler(self._handler)
                self._handler = None
            for handler, flt in reversed(self._filtered):
                handler.removeFilter(flt)
            self._filtered.clear()
            for name, level in reversed(list(self._saved_levels.items())):
                logging.getLogger(name or None).setLevel(level)
            self._saved_levels.clear()

    # -- receiving and showing --------------------------------------------------------------

    def _receive(self, record: logging.LogRecord) -> None:
        if not self._active or not self._accepts(record):
            return
        entry = LogEntry.from_record(record)
        with self._lock:
            self._entries.append(entry)
        if not self._live or getattr(_DISPLAYING, "on", False):
            return
        if self._displayer_for(record) is not self:
            return  # an inner capture shows it; this one only keeps it
        with self._lock:
            if self.max_shown is not None and self._n_shown >= self.max_shown:
                self._n_not_shown += 1
                return
            self._n_shown += 1
            self._pending.append(entry)
        if not self._kernel or threading.get_ident() == self._owner_thread:
            self._show_pending()
        # In a kernel, records from other threads are shown with the next record from the
        # thread that entered the block, or when it ends: output sent from another thread can
        # land in the wrong cell.

    def _displayer_for(self, record: logging.LogRecord) -> CapturedLogs | None:
        with _ACTIVE_LOCK:
            for cap in reversed(_ACTIVE):
                if cap._live and cap._accepts(record):
                    return cap
        return None

    def _show_pending(self) -> None:
        """Show the records not shown yet: one HTML output each in a notebook, lines on stderr elsewhere.

        One output per record (as lsst.rsp's ``IPythonHandler`` does) rather than one block
        redrawn with ``update_display``: it keeps the order of records and ``print`` output,
        and nbval, which ignores display updates, sees in a fresh run what a stored notebook shows.
        """
        with self._lock:
            entries, self._pending = self._pending, []
        if not entries:
            return
        _DISPLAYING.on = True
        try:
            if self._kernel:
                from IPython.display import display

                for entry in entries:
                    display({"text/plain": entry.format(), "text/html": _html_block([entry])}, raw=True)
            else:
                sys.stderr.write("".join(entry.format() + "\n" for entry in entries))
                sys.stderr.flush()
        finally:
            _DISPLAYING.on = False

    def _show_note(self, note: str) -> None:
        if self._kernel:
            from IPython.display import display

            pre = f'<pre style="{escape(_PRE_STYLE)}"><i>{escape(note)}</i></pre>'
            html = f'<div class="stackclub-logs">{pre}</div>'
            display({"text/plain": note, "text/html": html}, raw=True)
        else:
            sys.stderr.write(note + "\n")
            sys.stderr.flush()

    def __repr__(self) -> str:
        base = super().__repr__()[:-1]
        state = "capturing" if self._active else "captured"
        where = "all loggers" if self.loggers is None else ", ".join(n or "root" for n in self.loggers)
        return f"{base} ({state} {logging.getLevelName(self.level)}+ from {where})>"


def capture_logs(
    level: int | str = "INFO",
    loggers: Iterable[str] | str | None = None,
    *,
    show: bool = True,
    max_shown: int | None = 1000,
) -> CapturedLogs:
    """Capture log records into the notebook cell (a context manager).

    Parameters
    ----------
    level
        Lowest level to capture: ``"TRACE"``, ``"DEBUG"``, ``"VERBOSE"``, ``"INFO"`` (default),
        ``"WARNING"``, ``"ERROR"``, ``"CRITICAL"`` or a number.
    loggers
        Capture only these loggers and their descendants, e.g. ``["lsst.isr", "__main__"]``.
        `None` (default) captures every logger: task loggers are named after the top-level
        package of the task's module (``lsst.isr``, ``stackclub.isr``, ``__main__.myTask``),
        so nothing narrower catches them all.  Under the default, the namespaces in
        `QUIET_LOGGERS` stay at their floor (middleware ``INFO``, third-party ``WARNING``);
        naming one here lifts its floor.
    show
        Show each record as it arrives: in a notebook as a colour-coded HTML line in the
        cell (one output per record, in order with what the cell prints); in a terminal as
        a plain ``{name} {levelname}: {message}`` line on standard error.  Either way the
        returned object keeps them.
    max_shown
        Show at most this many records while the block runs (`None`: no limit), so a
        ``"DEBUG"`` capture cannot swamp a notebook with outputs; the rest are kept on the
        returned object, and one line at the end says how many were not shown.

    Returns
    -------
    logs : `CapturedLogs`
        Enter it with ``with``; after the block, ``logs.records``, ``logs.text`` and
        ``logs.to_table()`` hold what was logged.

    Raises
    ------
    ValueError
        If ``level`` is not a level name or number, or ``loggers`` is empty or malformed.

    Notes
    -----
    On entry the root logger (and the ``lsst`` logger, which ``pipetask`` sets to ``INFO``) are
    lowered to ``level`` if they are higher, or with ``loggers=`` the named loggers are; every
    change is undone on exit, also when the block raises.  Captures nest: each keeps what it
    accepts, and a record is shown once, by the innermost showing capture that accepts it.
    Where lsst.rsp's ``IPythonHandler`` is on the root logger (the Rubin Science Platform
    installs it), that handler already writes records into the cell, so nothing is shown a
    second time; the records are still kept.  Records from other threads are shown with the
    next record or when the block ends.

    The capture listens on the root logger, so it misses records of a logger whose
    ``propagate`` is False.  Leave nested blocks in the reverse order of entering them (as
    ``with`` does).  A handler *added inside* the block sees the lowered levels too: running a
    pipeline with ``SimplePipelineExecutor`` inside ``capture_logs()`` therefore also stores the
    tasks' INFO records in their ``<label>_log`` datasets (see `show_task_log`).

    Examples
    --------
    >>> import logging
    >>> from stackclub import capture_logs
    >>> with capture_logs("INFO", show=False) as logs:
    ...     logging.getLogger("__main__.myTask").info("Processing %d amplifiers", 4)
    ...     logging.getLogger("__main__.myTask.fringe").debug("not captured at INFO")
    >>> print(logs.text)
    __main__.myTask INFO: Processing 4 amplifiers
    >>> [(e.levelname, e.name) for e in logs.records]
    [('INFO', '__main__.myTask')]
    """
    return CapturedLogs(level, loggers, show=show, max_shown=max_shown)


# ----------------------------------------------------------------------------------------------
# run_command


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
    """

    args: tuple[str, ...]
    returncode: int
    output: str

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


def _resolve_program(program: str) -> str:
    """Find ``program`` on PATH, else beside the running Python (a venv not on PATH)."""
    if os.sep in program or (os.altsep and os.altsep in program):
        return program
    found = shutil.which(program)
    if found:
        return found
    beside = Path(sys.executable).parent / program
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return program


def run_command(
    command: str | Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    show: bool = True,
    check: bool = True,
    timeout: float | None = None,
    tail: int = 20,
) -> CommandResult:
    """Run a command, streaming its output into the cell line by line, and return what it printed.

    Parameters
    ----------
    command
        The command, as one string split like a shell would (no shell features: pipes,
        ``*``, ``$VAR`` are not expanded) or as a sequence of arguments.  A bare program name
        not found on ``PATH`` is looked for beside the running Python, so ``pipetask`` works in
        a kernel whose virtual environment is not activated.
    cwd
        Working directory.
    env
        Extra environment variables, added to the current environment.
    show
        Print each line to standard output as soon as the command prints it (in a notebook it
        appears in the cell while the command runs).  ``PYTHONUNBUFFERED=1`` is set so Python
        programs such as ``pipetask`` do not hold their output back.
    check
        Raise `~stackclub._exceptions.CommandError` when the exit code is not 0.
    timeout
        Seconds after which the command is killed and `~stackclub._exceptions.CommandError` raised.
    tail
        How many of the last output lines the error message quotes.

    Returns
    -------
    result : `CommandResult`
        ``returncode`` and ``output`` (standard output and error merged, in order).

    Raises
    ------
    CommandError
        If the program is not found, times out, or (with ``check=True``) exits with a non-zero
        code; the message quotes the last ``tail`` lines of output.

    Examples
    --------
    >>> import sys
    >>> from stackclub import run_command
    >>> result = run_command([sys.executable, "-c", "print('hello')"], show=False)
    >>> result.returncode, result.output
    (0, 'hello\\n')
    """
    if isinstance(command, str):
        args = shlex.split(command)
    else:
        args = [os.fspath(a) for a in command]
    if not args:
        raise ValueError("run_command needs a command to run, got an empty one")
    display_args = tuple(args)
    args[0] = _resolve_program(args[0])
    child_env = dict(os.environ)
    child_env["PYTHONUNBUFFERED"] = "1"
    if env:
        child_env.update({str(k): str(v) for k, v in env.items()})

    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
    except FileNotFoundError:
        raise CommandError(
            shlex.join(display_args),
            None,
            "",
            reason=f"{display_args[0]!r} was not found on PATH nor in {Path(sys.executable).parent}",
        ) from None
    except PermissionError as err:
        raise CommandError(shlex.join(display_args), None, "", reason=f"it cannot be run: {err}") from None

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
    deadline = None if timeout is None else time.monotonic() + timeout
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
            if show:
                sys.stdout.write(line)
                sys.stdout.flush()
    except BaseException:  # KeyboardInterrupt (kernel interrupt) included: do not leave it running
        proc.kill()
        proc.wait()
        raise
    if timed_out:
        proc.kill()
    returncode = proc.wait()
    reader.join(timeout=5)
    output = "".join(chunks)
    if timed_out:
        raise CommandError(
            shlex.join(display_args), returncode, output, tail=tail, reason=f"it timed out after {timeout} s"
        )
    if check and returncode != 0:
        raise CommandError(shlex.join(display_args), returncode, output, tail=tail)
    return CommandResult(display_args, returncode, output)


# ----------------------------------------------------------------------------------------------
# show_task_log


def show_task_log(
    butler: Butler,
    label: str,
    data_id: Mapping[str, Any] | Any | None = None,
    *,
    collections: str | Sequence[str] | None = None,
    level: int | str = 0,
) -> LogRecords:
    """Show what a task logged in a pipeline run, read back from the Butler.

    ``pipetask run`` (and `~lsst.pipe.base.simple_pipeline_executor.SimplePipelineExecutor`)
    store each quantum's log records as the dataset ``<label>_log``
    (`~lsst.daf.butler.logging.ButlerLogRecords`).  This reads one and renders it like
    `capture_logs` does, so you can see what a batch run said without re-running it.

    Parameters
    ----------
    butler
        The Butler to read from.
    label
        The task label in the pipeline, e.g. ``"isr"``.
    data_id
        The quantum's data ID, e.g. ``{"instrument": "SimCam", "exposure": 1, "detector": 0}``;
        `None` or ``{}`` for a task without dimensions.
    collections
        Collections to search; the Butler's default collections when `None`.
    level
        Show only records at this level or above.

    Returns
    -------
    log : `LogRecords`
        The records, titled with the dataset and data ID.

    Raises
    ------
    TaskLogNotFoundError
        If the repository has no ``<label>_log`` dataset type (the message lists the labels
        that have one) or no such dataset for this data ID in these collections.

    Notes
    -----
    The stored log holds only what the run's log level let through: ``pipetask``'s
    ``--log-level`` applies to ``lsst.*`` only, so a task in another package (``stackclub.isr``)
    needs ``--log-level stackclub=INFO`` for its INFO records to be stored.

    Examples
    --------
    >>> from stackclub import show_task_log
    >>> show_task_log(butler, "isr", {"instrument": "SimCam", "exposure": 1, "detector": 0})  # doctest: +SKIP
    """
    try:
        from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError
    except ImportError as err:  # pragma: no cover - exercised only without the stack
        raise MissingStackError("lsst.daf.butler", "show_task_log") from err

    dataset_type = f"{label}_log"
    data_id = {} if data_id is None else data_id
    if collections is None:
        searched = list(butler.collections.defaults)
    elif isinstance(collections, str):
        searched = [collections]
    else:
        searched = list(collections)
    try:
        ref = butler.find_dataset(dataset_type, data_id, collections=collections)
    except MissingDatasetTypeError:
        known = sorted(
            dt.name.removesuffix("_log")
            for dt in butler.registry.queryDatasetTypes("*_log")
            if dt.storageClass_name == "ButlerLogRecords"
        )
        raise TaskLogNotFoundError(
            label,
            data_id,
            f"this repository has no dataset type {dataset_type!r}; task labels with a stored log: "
            f"{', '.join(known) if known else 'none (no pipeline has run here yet)'}",
        ) from None
    except MissingCollectionError as err:
        raise TaskLogNotFoundError(
            label,
            data_id,
            f"{err} (searched {searched!r}); `butler query-collections REPO` lists the collections",
        ) from None
    if ref is None:
        shown_id = dict(getattr(data_id, "mapping", data_id))
        raise TaskLogNotFoundError(
            label,
            data_id,
            f"no {dataset_type!r} dataset for data ID {shown_id!r} in collections {searched!r}; "
            "pass collections= (the run's output collection) and check the data ID",
        )
    stored = butler.get(ref)
    minimum = _parse_level(level)
    entries = [LogEntry.from_butler(r) for r in stored if r.levelno >= minimum]
    where = f" {ref.dataId}" if ref.dataId.mapping else ""
    return LogRecords(entries, title=f"{dataset_type}{where}")
